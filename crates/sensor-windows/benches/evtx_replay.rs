//! Placeholder, replaced by the EVTX throughput bench.
fn main() {}
