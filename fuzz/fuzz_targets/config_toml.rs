//! `picket.toml` text through the daemon's loader (`Config::from_toml_str`, sensor-core's
//! `from_toml_str` on the binary's root type): syntax, types, unknown fields and every
//! section's meaning checks (which build the analytics), with each error located.
//! Invariant (a test of the binary's config module): a config that loads serialises to
//! TOML that loads back equal, with the same hash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picket::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_toml_str(text, "fuzz.toml") {
        Ok(config) => {
            let again_text = config.to_toml();
            let again = Config::from_toml_str(&again_text, "<serialized>")
                .unwrap_or_else(|e| panic!("serialised config does not load: {e}\n{again_text}"));
            assert_eq!(again, config, "round trip changed the config\n{again_text}");
            assert_eq!(again.hash(), config.hash());
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an error with no problems in it");
            let _ = errors.to_string();
        }
    }
});
