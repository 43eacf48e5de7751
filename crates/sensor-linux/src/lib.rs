//! sensor-linux
