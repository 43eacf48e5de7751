//! An Elastic detection rule file (TOML) through `parse_rule`: TOML, the rule's fields
//! and its EQL query, with errors located in the file; a rule that loads is run.
#![no_main]

use analytics::rules::parse_rule;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_rule("fuzz.toml", text) {
        Ok(rule) => {
            for ev in picket_fuzz::sample_events() {
                let _ = rule.matches(&ev);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
