//! packaging
