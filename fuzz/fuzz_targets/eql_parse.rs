//! EQL text through the parser and compiler (`Query::compile`, and `Sequence::compile`
//! for `sequence` queries). An error's offset must point into the query
//! (`EqlError::line_col` slices by it).
#![no_main]

use analytics::eql::Sequence;
use analytics::Query;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let errors = [
        Query::compile(text).err(),
        Sequence::compile(text).err(),
    ];
    for e in errors.into_iter().flatten() {
        assert!(e.offset <= text.len(), "offset {} past the end", e.offset);
        let _ = e.line_col(text);
        let _ = e.to_string();
    }
});
