//! Fuzzes the management-policy grammar and the effective-policy merge: any text is refused or
//! accepted, and any accepted documents, stacked in levels, merge into a policy or none — never a
//! panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_organizations::management::{check, effective};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Split into up to three documents, each a level of the tree.
    let docs: Vec<serde_json::Value> =
        text.split('\u{1}').take(3).filter_map(|d| check("TAG_POLICY", d).or_else(|_| check("BACKUP_POLICY", d)).ok()).collect();
    let levels: Vec<Vec<serde_json::Value>> = docs.into_iter().map(|d| vec![d]).collect();
    let _ = effective(&levels);
});
