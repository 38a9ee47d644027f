//! Log file integrity validation, the checking side (`rampart trail validate`): walks a trail's
//! digest chain from the newest digest in the range back past its start, as
//! `aws cloudtrail validate-logs` does, verifying each digest's signature with the trail's public
//! key and each log file's SHA-256, and then looks for log files no digest names. Pure: files
//! come through [`Files`], keys as DER.
//! See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-cli.html>.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use data_encoding::HEXLOWER;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::digest::{DigestFile, SIGNATURE_ALGORITHM, sha256_hex, string_to_sign};

/// Largest uncompressed digest or log file the validator reads.
const MAX_INFLATED: u64 = 256 << 20;

/// An object's bytes and its user metadata (a digest's signature is there).
pub type Object = (Vec<u8>, BTreeMap<String, String>);

/// Where the files are: Rampart's S3, or a copy on disk.
pub trait Files {
    /// An object, `None` when there is no such object.
    fn get(&self, bucket: &str, key: &str) -> Result<Option<Object>, String>;
    /// The keys under a prefix, in any order, each with when it was last written.
    fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, OffsetDateTime)>, String>;
}

/// The trail whose files are checked.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TrailRef {
    /// An organization trail's organization: its files are under `AWSLogs/o-…/ACCOUNT/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// The account whose files are checked (an organization trail has a chain per member).
    pub account: String,
    /// The region whose files are checked (a multi-region trail has a chain per region).
    pub region: String,
    /// The trail's home region, in its digests' names.
    pub home_region: String,
    pub name: String,
    pub bucket: String,
    /// Empty, or the key prefix and one `/`.
    pub key_prefix: String,
}

impl TrailRef {
    /// `[prefix/]AWSLogs/ACCOUNT/`, or `[prefix/]AWSLogs/o-…/ACCOUNT/` for an organization trail:
    /// where `account`'s files of this trail are.
    pub fn account_root_for(&self, account: &str) -> String {
        match &self.organization {
            Some(org) => format!("{}AWSLogs/{org}/{account}/", self.key_prefix),
            None => format!("{}AWSLogs/{account}/", self.key_prefix),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Digest,
    Log,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Valid,
    /// Its content no longer matches its hash or signature, or it cannot be read.
    Modified,
    /// A valid digest names this log file, and it is gone.
    Deleted,
    /// The chain names this digest, and it is gone: its hour's files cannot be checked.
    Missing,
    /// A log file inside the checked digests' period that none of them names.
    Inserted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Modified => "modified",
            Status::Deleted => "deleted",
            Status::Missing => "missing",
            Status::Inserted => "inserted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: Kind,
    pub bucket: String,
    pub key: String,
    pub status: Status,
    /// Why, when not valid.
    pub detail: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// The period the valid digests cover, oldest start to newest end.
    pub covered: Option<(OffsetDateTime, OffsetDateTime)>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.status != Status::Valid)
    }

    fn push(&mut self, kind: Kind, bucket: &str, key: &str, status: Status, detail: impl Into<String>) {
        self.findings.push(Finding {
            kind,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            status,
            detail: detail.into(),
        });
    }
}

fn inflate(gz: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .take(MAX_INFLATED)
        .read_to_end(&mut out)
        .map_err(|e| format!("not a gzip file: {e}"))?;
    Ok(out)
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// The time stamped in a digest key (`…_YYYYMMDDTHHMMSSZ.json.gz`): its period's end.
fn key_time(stamp: &str) -> Option<OffsetDateTime> {
    let num = |r: std::ops::Range<usize>| stamp.get(r).and_then(|s| s.parse::<u8>().ok());
    if stamp.len() != 16 || stamp.as_bytes().get(8) != Some(&b'T') || !stamp.ends_with('Z') {
        return None;
    }
    let year = stamp.get(0..4).and_then(|s| s.parse::<i32>().ok())?;
    let month = time::Month::try_from(num(4..6)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, num(6..8)?).ok()?;
    let t = time::Time::from_hms(num(9..11)?, num(11..13)?, num(13..15)?).ok()?;
    Some(date.with_time(t).assume_utc())
}

/// Checks one digest: where it claims to be, its signature by a known key over CloudTrail's
/// string to sign. Returns it parsed.
fn verify_digest(
    bucket: &str,
    key: &str,
    gz: &[u8],
    meta: &BTreeMap<String, String>,
    keys: &HashMap<String, Vec<u8>>,
) -> Result<(DigestFile, String), String> {
    let inflated = inflate(gz)?;
    let doc: DigestFile = serde_json::from_slice(&inflated).map_err(|e| format!("invalid digest format: {e}"))?;
    if doc.digest_s3_bucket != bucket || doc.digest_s3_object != key {
        return Err("has been moved from its original location".into());
    }
    let (Some(signature), Some(algorithm)) = (meta.get("signature"), meta.get("signature-algorithm")) else {
        return Err("signature verification failed: the object has no signature metadata".into());
    };
    if algorithm != SIGNATURE_ALGORITHM {
        return Err(format!("unsupported signature algorithm {algorithm}"));
    }
    let der = keys
        .get(&doc.digest_public_key_fingerprint)
        .ok_or_else(|| format!("public key not found for fingerprint {}", doc.digest_public_key_fingerprint))?;
    let hash = sha256_hex(&inflated);
    let to_sign = string_to_sign(&doc.digest_end_time, bucket, key, &hash, doc.previous_digest_signature.as_deref());
    let sig = HEXLOWER.decode(signature.as_bytes()).map_err(|_| "signature verification failed".to_owned())?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
        .verify(to_sign.as_bytes(), &sig)
        .map_err(|_| "signature verification failed".to_owned())?;
    Ok((doc, hash))
}

fn check_log(files: &dyn Files, log: &super::digest::LogFileEntry, report: &mut Report) -> Result<(), String> {
    let (b, k) = (&log.s3_bucket, &log.s3_object);
    match files.get(b, k)? {
        None => report.push(Kind::Log, b, k, Status::Deleted, "not found"),
        Some((gz, _)) => match inflate(&gz) {
            Err(e) => report.push(Kind::Log, b, k, Status::Modified, e),
            Ok(content) if sha256_hex(&content) != log.hash_value => {
                report.push(Kind::Log, b, k, Status::Modified, "hash value doesn't match")
            }
            Ok(_) => report.push(Kind::Log, b, k, Status::Valid, ""),
        },
    }
    Ok(())
}

/// Validates the trail's files for `[start, end]`.
pub fn validate(
    files: &dyn Files,
    keys: &HashMap<String, Vec<u8>>,
    trail: &TrailRef,
    start: OffsetDateTime,
    end: OffsetDateTime,
) -> Result<Report, String> {
    let mut report = Report::default();
    let (region, name) = (&trail.region, &trail.name);
    let digest_prefix = format!("{}CloudTrail-Digest/{region}/", trail.account_root_for(&trail.account));
    let marker = format!("_CloudTrail-Digest_{region}_{name}_{}_", trail.home_region);
    // Digests of this trail ending in the range (or within the hour after it, whose period may
    // reach back into it), newest last.
    let mut listed: Vec<(OffsetDateTime, String)> = files
        .list(&trail.bucket, &digest_prefix)?
        .into_iter()
        .filter_map(|(k, _)| {
            let stamp = k.rsplit_once(&marker)?.1.strip_suffix(".json.gz")?;
            Some((key_time(stamp)?, k))
        })
        .filter(|(t, _)| *t >= start && *t <= end + time::Duration::hours(1))
        .collect();
    listed.sort();

    let mut referenced: HashSet<(String, String)> = HashSet::new();
    let mut windows: Vec<(OffsetDateTime, OffsetDateTime)> = Vec::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    // (bucket, key, the hash the next digest recorded for it, its key time)
    let mut next = listed.pop().map(|(t, k)| (trail.bucket.clone(), k, None::<String>, t));
    while let Some((bucket, key, expected_hash, stamp)) = next.take() {
        if !seen.insert((bucket.clone(), key.clone())) {
            break;
        }
        listed.retain(|(_, k)| *k != key);
        let older = |listed: &mut Vec<(OffsetDateTime, String)>| {
            listed.retain(|(t, _)| *t < stamp);
            listed.pop().map(|(t, k)| (trail.bucket.clone(), k, None, t))
        };
        let Some((gz, meta)) = files.get(&bucket, &key)? else {
            report.push(Kind::Digest, &bucket, &key, Status::Missing, "not found");
            next = older(&mut listed);
            continue;
        };
        let (doc, hash) = match verify_digest(&bucket, &key, &gz, &meta, keys) {
            Ok(v) => v,
            Err(e) => {
                report.push(Kind::Digest, &bucket, &key, Status::Modified, e);
                next = older(&mut listed);
                continue;
            }
        };
        if expected_hash.is_some_and(|h| h != hash) {
            report.push(Kind::Digest, &bucket, &key, Status::Modified, "hash value doesn't match the next digest's");
            next = older(&mut listed);
            continue;
        }
        report.push(Kind::Digest, &bucket, &key, Status::Valid, "");
        for log in &doc.log_files {
            referenced.insert((log.s3_bucket.clone(), log.s3_object.clone()));
            check_log(files, log, &mut report)?;
        }
        let (Some(from), Some(to)) = (parse_time(&doc.digest_start_time), parse_time(&doc.digest_end_time)) else {
            continue;
        };
        windows.push((from, to));
        if from <= start {
            break;
        }
        next = match (doc.previous_digest_s3_bucket, doc.previous_digest_s3_object) {
            (Some(b), Some(k)) => {
                let t = k.rsplit_once(&marker).and_then(|(_, s)| key_time(s.strip_suffix(".json.gz")?)).unwrap_or(from);
                Some((b, k, doc.previous_digest_hash_value, t))
            }
            _ => older(&mut listed),
        };
    }
    windows.sort();
    report.covered = windows.first().zip(windows.last()).map(|(a, b)| (a.0, b.1));
    find_inserted(files, trail, &windows, &referenced, start, end, &mut report)?;
    Ok(report)
}

/// Log files written inside the valid digests' periods (and the checked range) that no digest
/// names. A file is judged by when it was written, not by the time its name claims, so a
/// backdated name does not hide it; one written after the newest digest's period waits for the
/// next digest.
fn find_inserted(
    files: &dyn Files,
    trail: &TrailRef,
    windows: &[(OffsetDateTime, OffsetDateTime)],
    referenced: &HashSet<(String, String)>,
    start: OffsetDateTime,
    end: OffsetDateTime,
    report: &mut Report,
) -> Result<(), String> {
    // Merge back-to-back periods; a period is (start, end].
    let mut runs: Vec<(OffsetDateTime, OffsetDateTime)> = Vec::new();
    for &(a, b) in windows {
        match runs.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => runs.push((a, b)),
        }
    }
    if runs.is_empty() {
        return Ok(());
    }
    let root = trail.account_root_for(&trail.account);
    let mut listed = files.list(&trail.bucket, &format!("{root}CloudTrail/{}/", trail.region))?;
    listed.sort();
    for (k, written) in listed {
        if referenced.contains(&(trail.bucket.clone(), k.clone())) || written < start || written > end {
            continue;
        }
        if runs.iter().any(|&(a, b)| written > a && written <= b) {
            report.push(Kind::Log, &trail.bucket, &k, Status::Inserted, "not named by any digest");
        }
    }
    Ok(())
}

/// Rampart's own S3: the objects as the store holds them.
impl Files for rampart_s3::StoredObjects<'_> {
    fn get(&self, bucket: &str, key: &str) -> Result<Option<Object>, String> {
        rampart_s3::StoredObjects::get(self, bucket, key)
    }

    fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, OffsetDateTime)>, String> {
        rampart_s3::StoredObjects::list(self, bucket, prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_key_times_parse_to_the_second() {
        assert_eq!(key_time("20261123T090507Z"), Some(time::macros::datetime!(2026-11-23 09:05:07 UTC)));
        for bad in [
            "",
            "2026",
            "20261323T090507Z",
            "20261123X090507Z",
            "20261123T090507",
            "20261123T250507Z",
            "20261123T0905Z",
        ] {
            assert_eq!(key_time(bad), None, "{bad}");
        }
    }
}
