//! Compiles the eBPF programs in `bpf/` with clang (`-target bpf`, CO-RE), once per
//! argv capacity the loader can choose from, into `$OUT_DIR/picket-<cap>.bpf.o`.
//!
//! Only when building for Linux: the macOS and Windows builds of this crate carry no
//! eBPF. Needs clang (any version with BPF CO-RE, 10+) and libbpf's headers
//! (`bpf/bpf_helpers.h`): `scripts/setup.sh` installs both. `CLANG` overrides the
//! compiler, `LLVM_STRIP` the stripper (stripping is optional: it only drops DWARF).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// argv capacities (bytes) compiled; keep in sync with `ARGS_CAPS` in src/loader.rs.
const ARGS_CAPS: [u32; 3] = [32 * 1024, 256 * 1024, 1024 * 1024];

fn main() {
    println!("cargo:rerun-if-changed=bpf");
    for f in ["picket.bpf.c", "events.h", "kernel_types.h"] {
        println!("cargo:rerun-if-changed=bpf/{f}");
    }
    println!("cargo:rerun-if-env-changed=CLANG");
    println!("cargo:rerun-if-env-changed=LLVM_STRIP");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let src = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("bpf");
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".into());
    let endian = match env::var("CARGO_CFG_TARGET_ENDIAN").as_deref() {
        Ok("big") => "bpfeb",
        _ => "bpfel",
    };
    for cap in ARGS_CAPS {
        let obj = out.join(format!("picket-{cap}.bpf.o"));
        let status = Command::new(&clang)
            .args(["-target", endian, "-O2", "-g", "-Wall", "-Werror"])
            .arg(format!("-DARGS_CAP={cap}"))
            .arg("-I")
            .arg(&src)
            .arg("-c")
            .arg(src.join("picket.bpf.c"))
            .arg("-o")
            .arg(&obj)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => panic!(
                "\n\nsensor-linux: compiling bpf/picket.bpf.c with `{clang}` failed ({s}).\n\
                 It needs clang with the BPF target and libbpf's headers (bpf/bpf_helpers.h):\n\
                 run scripts/setup.sh (Debian: apt-get install clang libbpf-dev).\n\n"
            ),
            Err(e) => panic!(
                "\n\nsensor-linux: cannot run `{clang}` ({e}).\n\
                 Building for Linux compiles the eBPF programs, which needs clang and libbpf's\n\
                 headers: run scripts/setup.sh (Debian: apt-get install clang llvm libbpf-dev),\n\
                 or point CLANG at a clang binary.\n\n"
            ),
        }
        strip(&obj);
    }
}

/// Drops DWARF but keeps .BTF/.BTF.ext (which CO-RE needs): ~60 KB → ~20 KB per object.
fn strip(obj: &Path) {
    let candidates = match env::var("LLVM_STRIP") {
        Ok(s) => vec![s],
        Err(_) => vec!["llvm-strip".into(), "llvm-strip-14".into()],
    };
    for tool in candidates {
        if let Ok(s) = Command::new(&tool).arg("--strip-debug").arg(obj).status() {
            if s.success() {
                return;
            }
        }
    }
    println!("cargo:warning=llvm-strip not found; the eBPF objects keep their DWARF (larger binary, same behaviour)");
}
