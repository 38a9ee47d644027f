//! Fuzzes the policy diagnostics `rampart policy validate` prints: any text, of any policy kind,
//! gets diagnostics (each at a line and column inside the text) or none — never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_policy::{PolicyKind, diagnose};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count().max(1);
    for kind in [PolicyKind::Identity, PolicyKind::Trust, PolicyKind::Resource] {
        for d in diagnose(&text, kind) {
            assert!(d.line >= 1 && d.line <= lines + 1 && d.column >= 1);
        }
    }
});
