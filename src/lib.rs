//! The `picket` binary's library part (the binary's room): what its integration tests
//! need to see, namely the root configuration that names every component's section.
//! The command line itself is `main.rs`.
#![deny(missing_docs)]

pub mod config;
