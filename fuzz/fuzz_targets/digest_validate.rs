//! Fuzzes the log file integrity validator: any bytes as a digest file (raw, and gzipped so the
//! JSON parser is reached) and as the log file it names, with any signature metadata, must
//! validate or be reported — never panic.

#![no_main]

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use libfuzzer_sys::fuzz_target;
use rampart_cloudtrail::validate::{Files, TrailRef, validate};
use time::OffsetDateTime;

const DIGEST: &str =
    "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/23/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261123T120000Z.json.gz";
const LOG: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/23/111122223333_CloudTrail_us-east-1_20261123T1159Z_x.json.gz";

struct Mem(BTreeMap<String, (Vec<u8>, BTreeMap<String, String>)>);

impl Files for Mem {
    fn get(&self, _bucket: &str, key: &str) -> Result<Option<(Vec<u8>, BTreeMap<String, String>)>, String> {
        Ok(self.0.get(key).cloned())
    }
    fn list(&self, _bucket: &str, prefix: &str) -> Result<Vec<(String, OffsetDateTime)>, String> {
        let at = time::macros::datetime!(2026-11-23 11:59:30 UTC);
        Ok(self.0.keys().filter(|k| k.starts_with(prefix)).map(|k| (k.clone(), at)).collect())
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    // Line 1: the signature; the rest: the digest's content. The log file is the content too.
    let mut parts = data.splitn(2, |b| *b == b'\n');
    let signature = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let body = parts.next().unwrap_or_default();
    let meta = BTreeMap::from([
        ("signature".to_owned(), signature),
        ("signature-algorithm".to_owned(), "SHA256withRSA".to_owned()),
    ]);
    let trail = TrailRef {
        organization: None,
        account: "111122223333".into(),
        region: "us-east-1".into(),
        home_region: "us-east-1".into(),
        name: "t".into(),
        bucket: "b".into(),
        key_prefix: String::new(),
    };
    let keys = HashMap::from([("00".repeat(16), body.to_vec())]);
    let start = time::macros::datetime!(2026-11-23 11:00:00 UTC);
    let end = time::macros::datetime!(2026-11-23 13:00:00 UTC);
    for digest in [body.to_vec(), gzip(body)] {
        let files = Mem(BTreeMap::from([
            (DIGEST.to_owned(), (digest, meta.clone())),
            (LOG.to_owned(), (gzip(body), BTreeMap::new())),
        ]));
        let _ = validate(&files, &keys, &trail, start, end);
    }
});
