//! Config layering (`load_layered`): the input, cut at NUL bytes, is written as the main
//! file and up to three `conf.d/*.toml` files in a private temporary directory, then
//! loaded, merged and validated as the daemon loads `/etc/picket`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picket::config::Config;
use sensor_core::config::load_layered;
use std::path::PathBuf;
use std::sync::OnceLock;

fn dir() -> &'static (tempfile::TempDir, PathBuf) {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let conf_d = dir.path().join("conf.d");
        std::fs::create_dir(&conf_d).expect("conf.d");
        (dir, conf_d)
    })
}

fuzz_target!(|data: &[u8]| {
    let (dir, conf_d) = dir();
    for entry in std::fs::read_dir(conf_d).expect("read conf.d").flatten() {
        std::fs::remove_file(entry.path()).expect("clean conf.d");
    }
    let main = dir.path().join("picket.toml");
    let mut parts = data.split(|&b| b == 0);
    std::fs::write(&main, parts.next().unwrap_or_default()).expect("write main");
    for (i, part) in parts.take(3).enumerate() {
        std::fs::write(conf_d.join(format!("{i:02}-fuzz.toml")), part).expect("write layer");
    }
    match load_layered::<Config>(&main) {
        Ok(loaded) => {
            let _ = format!("{loaded:?}");
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an error with no problems in it");
            let _ = errors.to_string();
        }
    }
});
