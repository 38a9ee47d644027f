//! Fuzzes S3's POST uploads: any body read as a `multipart/form-data` form (the parts found lie
//! inside the body, in order), its fields as headers, its policy checked (the input's first line
//! is the boundary; a policy field, if the form has one, is decoded and weighed). Each gives a
//! form or a 4xx, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_s3::post::Upload;
use rampart_wire::form_data;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (boundary, body) = (String::from_utf8_lossy(&data[..split]), data.get(split + 1..).unwrap_or_default());
    if let Ok(parts) = form_data::parse(body, &boundary) {
        let mut at = 0;
        for p in &parts {
            assert!(at <= p.data.start && p.data.start <= p.data.end && p.data.end <= body.len());
            at = p.data.end;
        }
    }
    let content_type = format!("multipart/form-data; boundary={boundary}");
    match Upload::read(&content_type, body) {
        Ok(upload) => {
            assert!(upload.file.end <= body.len() && !upload.key.is_empty());
            if let Err(e) = upload.headers() {
                assert!((400..500).contains(&e.status), "{} {}", e.status, e.code);
            }
            let now = time::OffsetDateTime::from_unix_timestamp(1_764_000_000).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            if upload.signed()
                && let Err(e) = upload.check_policy("bucket", now)
            {
                assert!((400..500).contains(&e.status), "{} {}", e.status, e.code);
            }
            let _ = upload.answer("bucket", "http://localhost/bucket/k", "\"e\"");
        }
        Err(e) => assert!((400..500).contains(&e.status), "{} {}", e.status, e.code),
    }
});
