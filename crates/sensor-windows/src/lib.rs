//! sensor-windows
