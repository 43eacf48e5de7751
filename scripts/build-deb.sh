#!/usr/bin/env bash
# Builds dist/picket_<version>_<arch>.deb from a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin picket
cargo run --quiet -p packaging --bin picket-package -- deb --binary target/release/picket --out dist
