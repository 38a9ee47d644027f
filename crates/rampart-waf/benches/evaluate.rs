//! The engine evaluating a request against a compiled web ACL, measured.
fn main() {}
