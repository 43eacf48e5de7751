//! EQL parse and evaluate: the input's first line is a query, the rest an ECS event
//! (when it parses; fixed sample events are always tried too). Evaluation must never
//! panic, and must be deterministic. A `sequence` query is fed the events twice, in
//! order, through one state.
#![no_main]

use analytics::eql::{Sequence, SequenceState};
use analytics::Query;
use libfuzzer_sys::fuzz_target;
use sensor_core::event::Event;

fuzz_target!(|data: &[u8]| {
    let (query, event) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(query) else {
        return;
    };
    let mut events = picket_fuzz::sample_events();
    if let Ok(ev) = Event::from_json_slice(event) {
        events.push(ev);
    }
    if let Ok(seq) = Sequence::compile(text) {
        let mut state = SequenceState::default();
        for ev in events.iter().chain(&events) {
            let step = seq.advance(&mut state, "h", ev);
            if let Some(done) = step.completed {
                assert_eq!(done.len(), seq.len(), "a sequence completes with every step");
            }
        }
        return;
    }
    let Ok(q) = Query::compile(text) else {
        return;
    };
    for ev in &events {
        let first = q.matches(ev);
        assert_eq!(first, q.matches(ev), "same event, two verdicts");
    }
});
