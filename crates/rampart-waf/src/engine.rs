//! The WAF engine: pure, no I/O.
pub mod transform;
