#!/usr/bin/env bash
# Installs what Picket's build and tests need on a fresh Debian machine. Idempotent:
# packages already present are not fetched again.
set -euo pipefail

packages=(
  clang llvm libbpf-dev bpftool   # eBPF programs: CO-RE C compiled with clang -target bpf
  net-tools iproute2 lsof procps  # the discovery tools the real-collector tests run
  python3-minimal python3-venv perl gcc libc6-dev  # scripts (and the eql reference venv below) and a C sock_diag program reading connection tables (AN0904 by behaviour)
  rsyslog                         # real syslog receiver for the forwarding tests, and a relay in front of Picket's
  snmp                            # net-snmp's snmpwalk/snmpget: AN0907's SNMP queries, run under the live collector
  awscli                          # the real AWS CLI: AN0908's host side, run under the live collector
  rsyslog-openssl openssl         # TLS (ossl netstream driver) for the syslog-over-TLS test; certs made with openssl
  libssl-dev pkg-config           # native-tls (syslog TLS) links the system OpenSSL
  systemd                         # systemd-analyze verify for the unit file
  passwd                          # useradd for the end-to-end test user
  util-linux bsdutils             # setpriv, setsid, script (a pty) for the eBPF collector tests
  libwine                         # real Windows PE files (with and without version resources) for the PE reader tests
  binutils-mingw-w64-x86-64 binutils-mingw-w64-i686 cpp  # windres + ld build PE32+/PE32 test images; windres cross-checks OriginalFilename
  qemu-system-x86 busybox-static  # scripts/test-kernel.sh: the collector's tests in a VM on another kernel
)

# `scripts/setup.sh --bench` adds the tracers scripts/bench-exec-storm.sh compares
# against (neither is started here: the benchmark starts and stops them).
if [[ ${1:-} == --bench ]]; then
  packages+=(auditd bpftrace)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The kernel scripts/test-kernel.sh --debian-6.1 boots: Debian 12's newest 6.1 cloud
# image, downloaded with apt and unpacked into target/kernel-images (not installed).
"$(dirname "$0")/fetch-debian-kernel.sh" linux-image-cloud-amd64 >/dev/null

# Cross targets so CI proves the macOS and Windows crates compile.
targets=(x86_64-pc-windows-gnu aarch64-apple-darwin)
installed=$(rustup target list --installed)
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t"
done
rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt

# Fuzzing (scripts/fuzz.sh): cargo-fuzz needs a nightly toolchain (sanitizers); both are
# installed only if missing.
rustup toolchain list | grep -q '^nightly-' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

# The reference EQL implementation (the `eql` package, pinned) that
# analytics/tests/eql_differential.rs compares Picket's engine with, through
# scripts/eql-reference.py. Debian's python3 (not a pyenv shim) in a venv of its own;
# rebuilt only when the pinned versions are not what it holds.
eql_venv=/opt/picket-test/eql-venv
eql_pins=(eql==1.0.1 lark==1.3.1)
if ! "$eql_venv/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(not (m.version("eql") == "1.0.1" and m.version("lark") == "1.3.1"))' 2>/dev/null; then
  mkdir -p "$(dirname "$eql_venv")"
  /usr/bin/python3 -m venv --clear "$eql_venv"
  "$eql_venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "${eql_pins[@]}"
fi
