#!/usr/bin/env bash
# Fetches a Debian kernel image package with apt and prints the path of its vmlinuz,
# for scripts/test-kernel.sh. Nothing is installed: the .deb is downloaded and only
# its /boot/vmlinuz-* is unpacked, into PICKET_KERNEL_CACHE (default
# target/kernel-images, or $CARGO_TARGET_DIR/kernel-images).
#
#   scripts/fetch-debian-kernel.sh linux-image-cloud-amd64          # newest 6.1 on Debian 12
#   scripts/fetch-debian-kernel.sh linux-image-6.12.117+deb12-cloud-amd64
#
# A meta-package (linux-image-cloud-amd64) is resolved to the image it depends on, so
# the first form always tests the newest kernel Debian ships for the release.
set -euo pipefail

die() {
  echo "fetch-debian-kernel: $*" >&2
  exit 2
}

package=${1:-}
[[ -n $package ]] || die "usage: scripts/fetch-debian-kernel.sh PACKAGE (e.g. linux-image-cloud-amd64)"

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${PICKET_KERNEL_CACHE:-${CARGO_TARGET_DIR:-$repo/target}/kernel-images}
mkdir -p "$cache"

if ! apt-cache show "$package" >/dev/null 2>&1; then
  apt-get update -qq # a fresh machine may not have the package lists yet
  apt-cache show "$package" >/dev/null 2>&1 ||
    die "apt knows no package $package (Debian 12's kernels are linux-image-6.1.0-*-cloud-amd64)"
fi

# Follow meta-packages (linux-image-cloud-amd64, linux-image-6.12-cloud-amd64) to the
# image they pull in: the package that depends on no other linux-image-*.
image=$package
for _ in 1 2 3 4; do
  next=$(apt-cache depends "$image" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1)
  [[ -n $next ]] || break
  image=$next
done

release=${image#linux-image-}
release=${release%-unsigned}
vmlinuz=$cache/vmlinuz-$release
if [[ ! -s $vmlinuz ]]; then
  tmp=$(mktemp -d "$cache/fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # apt-get download as root warns that _apt cannot write here; that is harmless.
  (cd "$tmp" && apt-get download -qq "$image" 2>&1 | grep -v "couldn't be accessed by user '_apt'" >&2 || true)
  deb=$(ls "$tmp"/*.deb 2>/dev/null | head -n1)
  [[ -n $deb ]] || die "apt-get download $image produced no .deb"
  dpkg-deb --fsys-tarfile "$deb" | tar -t >"$tmp/contents"
  member=$(grep -m1 '^\./boot/vmlinuz-' "$tmp/contents") ||
    die "$image ($(basename "$deb")) holds no /boot/vmlinuz-*: is it a kernel image package?"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "$member"
  mv "$tmp/$member" "$vmlinuz"
fi
echo "$vmlinuz"
