//! Fuzzes the WAF's text transformations: any bytes through any chain of them must transform,
//! never panic, and a decoder never grows its input beyond what its definition allows.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_waf::engine::transform::{Transform, apply_all};

const ALL: [&str; 21] = [
    "NONE",
    "COMPRESS_WHITE_SPACE",
    "HTML_ENTITY_DECODE",
    "LOWERCASE",
    "CMD_LINE",
    "URL_DECODE",
    "BASE64_DECODE",
    "HEX_DECODE",
    "MD5",
    "REPLACE_COMMENTS",
    "ESCAPE_SEQ_DECODE",
    "SQL_HEX_DECODE",
    "CSS_DECODE",
    "JS_DECODE",
    "NORMALIZE_PATH",
    "NORMALIZE_PATH_WIN",
    "REMOVE_NULLS",
    "REPLACE_NULLS",
    "BASE64_DECODE_EXT",
    "URL_DECODE_UNI",
    "UTF8_TO_UNICODE",
];

fuzz_target!(|data: &[u8]| {
    // The first bytes choose a chain of up to four transformations; the rest is the input.
    let (choice, input) = data.split_at(data.len().min(4));
    let chain: Vec<Transform> = choice.iter().filter_map(|c| Transform::parse(ALL[usize::from(*c) % ALL.len()])).collect();
    for t in &chain {
        let out = t.apply(input);
        // Only UTF8_TO_UNICODE (six bytes per two to four) and MD5 (16 bytes) may grow.
        if !matches!(t, Transform::Utf8ToUnicode | Transform::Md5) {
            assert!(out.len() <= input.len(), "{t:?} grew its input");
        }
    }
    let _ = apply_all(&chain, input);
});
