//! EQL text through the parser and compiler (`Query::compile`). An error's offset must
//! point into the query (`EqlError::line_col` slices by it).
#![no_main]

use analytics::Query;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Query::compile(text) {
        assert!(e.offset <= text.len(), "offset {} past the end", e.offset);
        let _ = e.line_col(text);
        let _ = e.to_string();
    }
});
