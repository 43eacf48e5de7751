//! sensor-macos
