#!/usr/bin/env bash
# Runs the eBPF collector's kernel tests (sensor-linux/tests/kernel.rs) and the
# end-to-end `picket run` test (tests/e2e_linux.rs: a user's `ss -tan` gives an AN0904
# alert) inside a VM booted on KERNEL_IMAGE. It proves that this kernel's verifier
# accepts the programs and that they capture what they should.
#
#   scripts/test-kernel.sh /boot/vmlinuz-6.1.0-57-cloud-amd64
#   scripts/test-kernel.sh --debian-6.1     # Debian 12's newest 6.1 cloud kernel, via apt
#
# The VM is qemu-system-x86_64 with a small initramfs and no disk. The initramfs holds
# busybox-static for /init, the test binaries, the tools they run (sh, ss, netstat,
# lsof, setpriv, useradd...) with their shared libraries, and bpftool for the verifier's
# statistics. Results come back over the serial console. The script exits non-zero
# unless every suite reported success.
# Needs qemu-system-x86 and busybox-static (scripts/setup.sh installs them, and fetches
# the Debian kernel).
#
# Environment:
#   PICKET_VM_ACCEL    tcg (default) or kvm. KVM fails on the reference machine
#                      ("failed to set MSR 0x10a"), so the default is emulation.
#   PICKET_VM_CPUS     2       PICKET_VM_MEMORY  2048 (MiB)
#   PICKET_VM_TIMEOUT  3600    seconds for the whole VM run
#   PICKET_VM_LOG      also keep the console log at this path
#   PICKET_VM_TESTS    a test-name filter for the kernel suite (default: every test)
#   PICKET_VM_SUITES   which of "verifier kernel-tests e2e-tests" to run (default: all)
#   PICKET_VM_OBJECTS  a directory of eBPF objects for the verifier suite instead of
#                      the built default (32 KiB argv) one: the other capacities,
#                      or variants of bpf/picket.bpf.c to compare. (The kernel suite
#                      loads every capacity and holds each program to a budget.)
set -euo pipefail

# Everything runs from main, called on the last line: bash has then parsed the whole
# file before the first command, so editing the script during a long run is harmless.
main() {

die() {
  echo "test-kernel: $*" >&2
  exit 2
}

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

kernel=${1:-}
if [[ $kernel == --debian-6.1 ]]; then
  kernel=$("$repo/scripts/fetch-debian-kernel.sh" linux-image-cloud-amd64)
fi
[[ -n $kernel ]] ||
  die "usage: scripts/test-kernel.sh KERNEL_IMAGE (a bzImage, e.g. /boot/vmlinuz-6.1.0-57-cloud-amd64) | --debian-6.1"
[[ -r $kernel ]] || die "cannot read the kernel image $kernel"

command -v qemu-system-x86_64 >/dev/null ||
  die "qemu-system-x86_64 is not installed (Debian: apt-get install qemu-system-x86; or run scripts/setup.sh)"
busybox=/bin/busybox
[[ -x $busybox ]] || die "$busybox is missing (Debian: apt-get install busybox-static)"
if ldd "$busybox" >/dev/null 2>&1; then
  die "$busybox is dynamically linked; /init needs busybox-static (apt-get install busybox-static)"
fi

accel=${PICKET_VM_ACCEL:-tcg}
cpus=${PICKET_VM_CPUS:-2}
memory=${PICKET_VM_MEMORY:-2048}
timeout_s=${PICKET_VM_TIMEOUT:-3600}
filter=${PICKET_VM_TESTS:-}
suites=${PICKET_VM_SUITES:-verifier kernel-tests e2e-tests}
objects=${PICKET_VM_OBJECTS:-}
for suite in $suites; do
  case $suite in
    verifier | kernel-tests | e2e-tests) ;;
    *) die "unknown suite '$suite' in PICKET_VM_SUITES (known: verifier kernel-tests e2e-tests)" ;;
  esac
done

# The test binaries are the ones `cargo test` runs on the host; cargo prints
# "  Executable tests/kernel.rs (target/debug/deps/kernel-<hash>)" for each.
echo "== building the test binaries"
built() {
  local out
  out=$(cargo test "$@" --no-run 2>&1) || {
    echo "$out" >&2
    die "cargo test $* --no-run failed"
  }
  local path
  path=$(sed -n 's/^ *Executable .*(\(.*\))$/\1/p' <<<"$out" | tail -n1)
  # cargo prints the path relative to the workspace when the target directory is the
  # default one inside it; the VM's /init runs from /, so make it absolute.
  [[ -z $path || $path == /* ]] || path=$repo/$path
  echo "$path"
}
kernel_tests=$(built -p sensor-linux --test kernel)
e2e_tests=$(built -p picket --test e2e_linux)
target_dir=$(cargo metadata --no-deps --format-version 1 | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
picket_bin=$target_dir/debug/picket
for f in "$kernel_tests" "$e2e_tests" "$picket_bin"; do
  [[ -x $f ]] || die "expected a built binary at '$f'"
done

work=$(mktemp -d /tmp/picket-vm.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
root=$work/root
mkdir -p "$root"

# The host's merged-/usr layout (/bin -> usr/bin ...), so that every tool sits at the
# path the tests expect (`sh` is /bin/sh; `ss` is where PATH finds it on the host).
for d in bin sbin lib lib64; do
  if [[ -L /$d ]]; then
    mkdir -p "$root/usr/$d"
    ln -s "$(readlink "/$d")" "$root/$d"
  else
    mkdir -p "$root/$d"
  fi
done
mkdir -p "$root"/{proc,sys,dev,tmp,run,root,etc,var/tmp,bbin}

# Copies a path into the root at the same place: each link of its symlink chain, then
# the file.
copy_path() {
  local p=$1 dir t
  while :; do
    dir=$(readlink -f "$(dirname "$p")")
    p=$dir/$(basename "$p")
    if [[ ! -e $root$p && ! -L $root$p ]]; then
      mkdir -p "$root$dir"
      cp -a "$p" "$root$p"
    fi
    [[ -L $p ]] || break
    t=$(readlink "$p")
    [[ $t == /* ]] || t=$dir/$t
    p=$t
  done
}

# Copies a program and every shared library it loads.
copy_program() {
  local lib
  copy_path "$1"
  while read -r lib; do
    [[ -n $lib ]] && copy_path "$lib"
  done < <(ldd "$1" 2>/dev/null | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]*ld-linux/{print $1}')
}

# A binary of this build at its own path, without debug info (several times smaller).
copy_stripped() {
  mkdir -p "$root$(dirname "$1")"
  strip --strip-debug -o "$root$1" "$1"
  copy_program "$1"
}

tools=(sh dash bash ss netstat lsof setpriv setsid script echo true sleep cat id kill
  useradd userdel env uname bpftool)
for t in "${tools[@]}"; do
  path=$(type -P "$t") || die "$t is not installed: run scripts/setup.sh"
  copy_program "$path"
done
# The connection-table test's interpreters (python3 with the part of its standard library
# a plain script needs at start, perl with none) and its C sock_diag dump, built
# statically here because the VM has no compiler.
# Debian's python3 (setup.sh installs it; the test runs /usr/bin/python3), not another
# one earlier on PATH.
[[ -x /usr/bin/python3 && -x /usr/bin/perl ]] || die "python3 or perl missing: run scripts/setup.sh"
copy_program "$(readlink -f /usr/bin/python3)"
ln -sf "$(basename "$(readlink -f /usr/bin/python3)")" "$root/usr/bin/python3"
pylib=$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
mkdir -p "$root$pylib"
cp "$pylib"/*.py "$root$pylib/"
for d in encodings importlib collections re lib-dynload; do cp -r "$pylib/$d" "$root$pylib/"; done
copy_program /usr/bin/perl
mkdir -p "$root/usr/local/libexec/picket-test"
cc -static -O2 -o "$root/usr/local/libexec/picket-test/sock_diag_dump" tests/data/sock_diag_dump.c ||
  die "cannot build tests/data/sock_diag_dump.c statically (libc6-dev: run scripts/setup.sh)"
copy_stripped "$kernel_tests"
copy_stripped "$e2e_tests"
copy_stripped "$picket_bin"
cp "$busybox" "$root/bbin/busybox"

# A minimal user database: root, and nobody (the kernel tests run ss as 65534); and
# what useradd needs to add the e2e test's user.
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
users:x:100:
nogroup:x:65534:
EOF
printf 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' >"$root/etc/shadow"
printf 'root:*::\nusers:*::\nnogroup:*::\n' >"$root/etc/gshadow"
chmod 640 "$root/etc/shadow" "$root/etc/gshadow"
printf 'passwd: files\ngroup: files\nshadow: files\n' >"$root/etc/nsswitch.conf"
cp /etc/login.defs "$root/etc/login.defs"
cp /etc/os-release "$root/etc/os-release" 2>/dev/null || cp /usr/lib/os-release "$root/etc/os-release"
echo picket-vm >"$root/etc/hostname"
echo 0123456789abcdef0123456789abcdef >"$root/etc/machine-id"

# The eBPF objects for the verifier suite: the default one of the newest sensor-linux
# build (the test binaries embed the same), or PICKET_VM_OBJECTS.
mkdir -p "$root/root/objects"
if [[ -n $objects ]]; then
  cp "$objects"/*.o "$root/root/objects/" || die "no .o files in PICKET_VM_OBJECTS=$objects"
else
  out=$(ls -td "$target_dir"/debug/build/sensor-linux-*/out | head -n1)
  cp "$out"/picket-32768.bpf.o "$root/root/objects/" || die "no eBPF object under $out"
fi

kernel_args=(--test-threads=2 --show-output)
[[ -n $filter ]] && kernel_args+=("$filter")

# /init: mounts what the tests read, runs the suites, reports each, powers off.
cat >"$root/init" <<'EOF'
#!/bbin/busybox sh
bb=/bbin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
$bb mkdir -p /dev/pts /sys/fs/cgroup /sys/fs/bpf
$bb mount -t devpts devpts /dev/pts
$bb mount -t tmpfs tmpfs /tmp
$bb mount -t tmpfs tmpfs /run
$bb mount -t cgroup2 cgroup2 /sys/fs/cgroup
$bb mount -t bpf bpf /sys/fs/bpf
$bb hostname picket-vm
$bb ip link set lo up
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp
export RUST_BACKTRACE=1 LC_ALL=C PICKET_TEST_SOCK_DIAG_DUMP=/usr/local/libexec/picket-test/sock_diag_dump
cd /root
echo "@@picket kernel $($bb uname -r) cpus $($bb nproc) (uptime $($bb cut -d' ' -f1 /proc/uptime) s)"

# Loads every program of every object with bpftool and prints the verifier's own
# statistics for each (instructions processed, states); fails if one is rejected.
verifier() {
  rc=0
  for obj in /root/objects/*.o; do
    $bb rm -rf /sys/fs/bpf/picket
    objname=$($bb basename "$obj")
    if ! bpftool -d prog loadall "$obj" /sys/fs/bpf/picket >/tmp/bpftool.log 2>&1; then
      rc=1
      $bb grep -v "relo #\|found map\|matching candidate\|patched insn" /tmp/bpftool.log | $bb tail -n 80
    fi
    $bb awk -v obj="$objname" '
      /^libbpf: prog .*BEGIN PROG LOAD LOG/ { split($0, q, "\047"); prog = q[2] }
      /^verification time/ { t = $3 }
      /^processed [0-9]+ insns/ { printf "@@picket verifier %s %s: %s (%d ms)\n", obj, prog, $0, t / 1000 }
      /failed to load/ { print "@@picket verifier " obj " REJECTED: " $0 }' /tmp/bpftool.log
  done
  $bb rm -rf /sys/fs/bpf/picket
  return $rc
}

# busybox sh has no local variables: the names here are used nowhere else.
run_suite() {
  suite=$1
  shift
  echo "@@picket begin $suite (uptime $($bb cut -d' ' -f1 /proc/uptime) s)"
  "$@"
  echo "@@picket end $suite $?"
}
EOF
for suite in $suites; do
  case $suite in
    verifier) echo "run_suite verifier verifier" ;;
    kernel-tests) echo "run_suite kernel-tests $kernel_tests ${kernel_args[*]}" ;;
    # The SNMP and AWS CLI tests prove analytics on an exec like any other, with tools
    # (net-snmp, botocore) the initramfs does not carry: they run on the host.
    e2e-tests) echo "run_suite e2e-tests $e2e_tests --test-threads=1 --skip an0907_ --skip an0908_" ;;
  esac
done >>"$root/init"
printf '$bb sync\n$bb poweroff -f\n' >>"$root/init"
chmod 755 "$root/init"

echo "== packing the initramfs"
initrd=$work/initrd.cpio
(cd "$root" && find . | "$busybox" cpio -o -H newc >"$initrd" 2>/dev/null)
echo "initramfs: $(du -m "$initrd" | cut -f1) MiB"

log=${PICKET_VM_LOG:-$work/console.log}
echo "== booting $(basename "$kernel") (accel $accel, $cpus cpus, $memory MiB); its console:"
started=$(date +%s)
set +e
timeout --foreground "$timeout_s" qemu-system-x86_64 \
  -accel "$accel" -cpu max -smp "$cpus" -m "$memory" \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 rdinit=/init panic=-1 quiet" \
  -nographic -no-reboot -nic none </dev/null | tee "$log"
qemu_rc=${PIPESTATUS[0]}
set -e
echo "== the VM ran for $(($(date +%s) - started)) s (qemu exit $qemu_rc)"
[[ $qemu_rc -eq 124 ]] && echo "test-kernel: the VM did not finish within $timeout_s s" >&2

# Console lines end in CR LF; drop the CR before matching.
tr -d '\r' <"$log" >"$work/console.txt"
echo "== results on $(basename "$kernel")"
sed -n 's/^@@picket verifier /verifier: /p' "$work/console.txt"
status=0
for suite in $suites; do
  rc=$(sed -n "s/^@@picket end $suite \([0-9]*\)$/\1/p" "$work/console.txt" | tail -n1)
  if [[ -z $rc ]]; then
    echo "test-kernel: $suite did not report a result" >&2
    status=1
  elif [[ $rc != 0 ]]; then
    echo "test-kernel: $suite failed (exit $rc)" >&2
    status=1
  else
    echo "test-kernel: $suite passed"
  fi
done
[[ $qemu_rc -eq 0 ]] || status=1
exit $status
}

main "$@"
