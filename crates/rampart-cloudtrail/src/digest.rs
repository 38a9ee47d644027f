//! Log file integrity validation, the writing side: every trail with validation on has its own
//! RSA key (the private half sealed with the master key, the public half listed by
//! ListPublicKeys), and at the end of each digest period a digest file names every log file the
//! trail delivered in it with the SHA-256 of its uncompressed content, chained to the previous
//! digest through its hash and signature, and signed (SHA256withRSA) over CloudTrail's string to
//! sign. The signature travels in the digest object's metadata (`signature`,
//! `signature-algorithm`), as CloudTrail puts it, so `aws cloudtrail validate-logs` checks
//! Rampart's files unchanged.
//! See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-digest-file-structure.html>
//! and <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-custom-validation.html>.

use rampart_core::records;
use std::collections::BTreeMap;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use data_encoding::{BASE64, HEXLOWER};
use md5::Digest as _;
use rampart_shapes::generated::cloudtrail as shapes;
use rampart_store::{Sealer, Tx};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::TrailRecord;
use rampart_core::{Ctx, ServiceError};

/// The only algorithm CloudTrail signs digests with.
pub const SIGNATURE_ALGORITHM: &str = "SHA256withRSA";
const HASH_ALGORITHM: &str = "SHA-256";

fn public_key_key(account: &str, fingerprint: &str) -> Vec<u8> {
    format!("cloudtrail/{account}/pubkey/{fingerprint}").into_bytes()
}

fn public_keys_prefix(account: &str) -> Vec<u8> {
    format!("cloudtrail/{account}/pubkey/").into_bytes()
}

/// Sealing context of a trail's private key: a sealed key moved to another trail does not open.
fn seal_context(t: &TrailRecord) -> Vec<u8> {
    format!("rampart/cloudtrail/digest-key/{}", t.arn()).into_bytes()
}

/// A public key, as stored (and listed by ListPublicKeys).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublicKeyRecord {
    pub v: u32,
    /// Base64 of the DER `RSAPublicKey` (PKCS#1).
    pub der: String,
    pub fingerprint: String,
    pub trail_arn: String,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub valid_to: Option<OffsetDateTime>,
}

/// One log file a digest names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogFileEntry {
    pub s3_bucket: String,
    pub s3_object: String,
    pub hash_value: String,
    pub hash_algorithm: String,
    pub newest_event_time: String,
    pub oldest_event_time: String,
}

/// The digest a trail wrote last, which the next one names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviousDigest {
    pub bucket: String,
    pub key: String,
    /// SHA-256 (hex) of its uncompressed content.
    pub hash: String,
    /// Its signature (hex).
    pub signature: String,
}

/// A trail's log file validation, kept in its record: its key, and one digest chain per region
/// its files are delivered for (a multi-region trail's regions each get their own, as in
/// CloudTrail); an organization trail keeps one per account and region (see [`chain_key`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestState {
    pub fingerprint: String,
    /// The private key (PKCS#8), sealed with the master key, base64.
    pub sealed_key: String,
    pub chains: BTreeMap<String, Chain>,
}

/// One region's digest chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chain {
    /// Where the open digest period began.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    pub previous: Option<PreviousDigest>,
    /// Log files delivered in the open period.
    pub pending: Vec<LogFileEntry>,
}

impl DigestState {
    /// The chains' periods restart at `now` (validation turned back on: the time it was off is
    /// in no digest).
    pub fn restart(&mut self, now: OffsetDateTime) {
        for c in self.chains.values_mut() {
            c.since = now;
            c.pending.clear();
        }
    }

    /// When the last digest was written, in any region.
    pub fn latest(&self) -> Option<OffsetDateTime> {
        self.chains.values().filter(|c| c.previous.is_some()).map(|c| c.since).max()
    }
}

/// A digest file's content, in CloudTrail's field order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestFile {
    pub aws_account_id: String,
    pub digest_start_time: String,
    pub digest_end_time: String,
    #[serde(rename = "digestS3Bucket")]
    pub digest_s3_bucket: String,
    #[serde(rename = "digestS3Object")]
    pub digest_s3_object: String,
    pub digest_public_key_fingerprint: String,
    pub digest_signature_algorithm: String,
    pub newest_event_time: Option<String>,
    pub oldest_event_time: Option<String>,
    #[serde(rename = "previousDigestS3Bucket")]
    pub previous_digest_s3_bucket: Option<String>,
    #[serde(rename = "previousDigestS3Object")]
    pub previous_digest_s3_object: Option<String>,
    pub previous_digest_hash_value: Option<String>,
    pub previous_digest_hash_algorithm: Option<String>,
    pub previous_digest_signature: Option<String>,
    pub log_files: Vec<LogFileEntry>,
}

/// CloudTrail's string to sign: the digest's end time, its `bucket/key`, the SHA-256 (hex) of its
/// uncompressed content and the previous digest's signature (`null` for the first).
pub fn string_to_sign(end_time: &str, bucket: &str, key: &str, content_hash: &str, previous: Option<&str>) -> String {
    format!("{end_time}\n{bucket}/{key}\n{content_hash}\n{}", previous.unwrap_or("null"))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    HEXLOWER.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

/// The public key's fingerprint: MD5 (hex) of its DER, 32 characters as CloudTrail's are.
pub fn fingerprint(der: &[u8]) -> String {
    HEXLOWER.encode(md5::Md5::digest(der).as_slice())
}

/// A delivered file's date in its key: the `YYYY/MM/DD` folders and the `YYYYMMDDTHHmm[SS]Z`
/// stamp (digests carry seconds, log files stop at the minute).
pub(crate) fn key_date(t: OffsetDateTime, seconds: bool) -> (String, String) {
    let (y, m, d) = (t.year(), u8::from(t.month()), t.day());
    let secs = if seconds { format!("{:02}", t.second()) } else { String::new() };
    (format!("{y:04}/{m:02}/{d:02}"), format!("{y:04}{m:02}{d:02}T{:02}{:02}{secs}Z", t.hour(), t.minute()))
}

/// `[prefix/]AWSLogs/ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail-Digest_REGION_TRAIL_HOMEREGION_YYYYMMDDTHHMMSSZ.json.gz`,
/// REGION being the region whose files the digest names and ACCOUNT the account whose files they
/// are; an organization trail's are under `AWSLogs/o-…/ACCOUNT/`, as its log files.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-digest-file-structure.html>.
pub fn digest_key(t: &TrailRecord, account: &str, region: &str, end: OffsetDateTime) -> String {
    let (home, name) = (&t.region, &t.name);
    let (folders, stamp) = key_date(end, true);
    format!(
        "{}CloudTrail-Digest/{region}/{folders}/{account}_CloudTrail-Digest_{region}_{name}_{home}_{stamp}.json.gz",
        t.files(None).account_root_for(account),
    )
}

/// The chain a file of `account`'s events in `region` belongs to: the region's, or for an
/// organization trail the account's in that region (`ACCOUNT/REGION`), each its own chain as
/// each account's digests are.
pub fn chain_key(t: &TrailRecord, account: &str, region: &str) -> String {
    if t.organization.is_some() { format!("{account}/{region}") } else { region.to_owned() }
}

/// The account and region a chain key names.
fn chain_parts<'a>(t: &'a TrailRecord, key: &'a str) -> (&'a str, &'a str) {
    key.split_once('/').unwrap_or((&t.account_id, key))
}

/// A trail's signing key: a new RSA-2048 key, its public half listed from `now`.
/// Generating the key takes tens of milliseconds, once per trail.
fn new_key(
    tx: &mut Tx<'_>,
    sealer: &Sealer,
    t: &TrailRecord,
    now: OffsetDateTime,
) -> Result<DigestState, ServiceError> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| ServiceError::internal())?;
    let pkcs8 = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&pair)
        .map_err(|_| ServiceError::internal())?;
    let der = pair.public_key().as_ref().to_vec();
    let fp = fingerprint(&der);
    let sealed = sealer.seal(pkcs8.as_ref(), &seal_context(t)).map_err(|_| ServiceError::internal())?;
    let rec = PublicKeyRecord {
        v: 1,
        der: BASE64.encode(&der),
        fingerprint: fp.clone(),
        trail_arn: t.arn(),
        valid_from: now,
        valid_to: None,
    };
    records::write_tx(tx, &public_key_key(&t.account_id, &fp), &rec)?;
    Ok(DigestState { fingerprint: fp, sealed_key: BASE64.encode(&sealed), chains: BTreeMap::new() })
}

fn new_chain(now: OffsetDateTime) -> Chain {
    Chain { since: now, previous: None, pending: Vec::new() }
}

/// Notes a delivered log file (with `account`'s events of `region`) for its chain's next digest,
/// the trail's key made if need be.
#[allow(clippy::too_many_arguments, reason = "one call site, in delivery")]
pub(crate) fn note_log_file(
    tx: &mut Tx<'_>,
    sealer: &Sealer,
    t: &mut TrailRecord,
    (account, region): (&str, &str),
    key: &str,
    uncompressed: &[u8],
    times: (String, String),
    now: OffsetDateTime,
) -> Result<(), ServiceError> {
    let mut state = match t.digest.take() {
        Some(s) => s,
        None => new_key(tx, sealer, t, now)?,
    };
    state.chains.entry(chain_key(t, account, region)).or_insert_with(|| new_chain(now)).pending.push(LogFileEntry {
        s3_bucket: t.bucket.clone(),
        s3_object: key.to_owned(),
        hash_value: sha256_hex(uncompressed),
        hash_algorithm: HASH_ALGORITHM.into(),
        oldest_event_time: times.0,
        newest_event_time: times.1,
    });
    t.digest = Some(state);
    Ok(())
}

/// Writes each chain's digest whose period has run (`every` since its last), even when no log
/// file was delivered in it, as CloudTrail does; the trail's own account's home region chain
/// always runs, an organization member's from its first file on. Returns the digests' keys.
pub(crate) fn write_due(
    tx: &mut Tx<'_>,
    sealer: &Sealer,
    t: &mut TrailRecord,
    every: time::Duration,
    now: OffsetDateTime,
) -> Result<Vec<String>, ServiceError> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let mut state = match t.digest.take() {
        Some(s) => s,
        None => new_key(tx, sealer, t, now)?,
    };
    state.chains.entry(chain_key(t, &t.account_id, &t.region)).or_insert_with(|| new_chain(now));
    let mut written = Vec::new();
    let mut key_pair = None;
    for (chain_of, chain) in &mut state.chains {
        // Keys are stamped to the second: a digest a second after the last at the earliest.
        if now - chain.since < every || now <= chain.since {
            continue;
        }
        if key_pair.is_none() {
            let sealed = BASE64.decode(state.sealed_key.as_bytes()).map_err(|_| ServiceError::internal())?;
            let pkcs8 = sealer.open(&sealed, &seal_context(t)).map_err(|_| ServiceError::internal())?;
            key_pair = Some(KeyPair::from_pkcs8(&pkcs8).map_err(|_| ServiceError::internal())?);
        }
        let pair = key_pair.as_ref().ok_or_else(ServiceError::internal)?;
        let at = chain_parts(t, chain_of);
        written.push(write_digest(tx, t, at, chain, (sealer, &state.fingerprint, pair), now)?);
    }
    t.digest = Some(state);
    Ok(written)
}

/// Writes one chain's digest (of `account`'s files of `region`), ending now, and moves the chain
/// on. It is signed with the trail's key, whose public half the trail's account lists.
fn write_digest(
    tx: &mut Tx<'_>,
    t: &TrailRecord,
    (account, region): (&str, &str),
    chain: &mut Chain,
    (sealer, fingerprint, pair): (&Sealer, &str, &KeyPair),
    now: OffsetDateTime,
) -> Result<String, ServiceError> {
    let key = digest_key(t, account, region, now);
    let end = super::rfc3339(now);
    let previous = chain.previous.as_ref();
    let doc = DigestFile {
        aws_account_id: account.to_owned(),
        digest_start_time: super::rfc3339(chain.since),
        digest_end_time: end.clone(),
        digest_s3_bucket: t.bucket.clone(),
        digest_s3_object: key.clone(),
        digest_public_key_fingerprint: fingerprint.to_owned(),
        digest_signature_algorithm: SIGNATURE_ALGORITHM.into(),
        newest_event_time: chain.pending.iter().map(|l| l.newest_event_time.clone()).max(),
        oldest_event_time: chain.pending.iter().map(|l| l.oldest_event_time.clone()).min(),
        previous_digest_s3_bucket: previous.map(|p| p.bucket.clone()),
        previous_digest_s3_object: previous.map(|p| p.key.clone()),
        previous_digest_hash_value: previous.map(|p| p.hash.clone()),
        previous_digest_hash_algorithm: previous.map(|_| HASH_ALGORITHM.to_owned()),
        previous_digest_signature: previous.map(|p| p.signature.clone()),
        log_files: std::mem::take(&mut chain.pending),
    };
    let json = serde_json::to_vec(&doc).map_err(|_| ServiceError::internal())?;
    let hash = sha256_hex(&json);
    let to_sign = string_to_sign(&end, &t.bucket, &key, &hash, previous.map(|p| p.signature.as_str()));
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), to_sign.as_bytes(), &mut signature)
        .map_err(|_| ServiceError::internal())?;
    let signature = HEXLOWER.encode(&signature);
    let metadata = BTreeMap::from([
        ("signature".to_owned(), signature.clone()),
        ("signature-algorithm".to_owned(), SIGNATURE_ALGORITHM.to_owned()),
    ]);
    rampart_s3::deliver_object(
        tx,
        sealer,
        (&t.bucket, &key),
        (&super::trails::gzip(&json)?, "application/x-gzip", metadata),
        None,
        now,
    )?;
    chain.previous = Some(PreviousDigest { bucket: t.bucket.clone(), key: key.clone(), hash, signature });
    chain.since = now;
    Ok(key)
}

/// The account's public keys, for the validator.
pub fn public_keys(db: &rampart_store::Db, account: &str) -> Result<Vec<PublicKeyRecord>, ServiceError> {
    records::scan_records(db, &public_keys_prefix(account))
}

/// What an export directory holds of a trail besides its files, so that they can be validated
/// with no data directory: where its files are, and the public keys its digests were signed
/// with. Integrity then rests on those keys: compare their fingerprints with ListPublicKeys'.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedTrail {
    pub v: u32,
    pub arn: String,
    pub multi_region: bool,
    /// The home region's files; another region's are the same with its region.
    pub files: super::validate::TrailRef,
    pub public_keys: Vec<PublicKeyRecord>,
}

/// Every trail with log file validation, as an export directory keeps it.
pub fn exported_trails(db: &rampart_store::Db) -> Result<Vec<ExportedTrail>, ServiceError> {
    let mut out = Vec::new();
    for t in super::all_trails(db)?.into_iter().filter(|t| t.digest.is_some()) {
        let arn = t.arn();
        let public_keys = public_keys(db, &t.account_id)?.into_iter().filter(|k| k.trail_arn == arn).collect();
        out.push(ExportedTrail { v: 1, multi_region: t.multi_region, files: t.files(None), public_keys, arn });
    }
    Ok(out)
}

/// ListPublicKeys: the keys that signed (or sign) digests in the time range; with no range, the
/// keys in use now. Each key's `Value` is its DER (PKCS#1 `RSAPublicKey`), base64 on the wire
/// like every blob (the AWS CLI keeps blobs as their base64 text, which `validate-logs` decodes).
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_ListPublicKeys.html>.
pub fn list_public_keys(
    ctx: &Ctx<'_>,
    input: shapes::ListPublicKeysRequest,
) -> Result<shapes::ListPublicKeysResponse, ServiceError> {
    let start = input.start_time.unwrap_or(ctx.now);
    let end = input.end_time.unwrap_or(ctx.now);
    if start > end {
        return Err(ServiceError::new(
            "InvalidTimeRangeException",
            400,
            "Invalid time range. The start time must be before the end time.",
        ));
    }
    let list = public_keys(ctx.db, &ctx.principal.account_id)?
        .into_iter()
        .filter(|k| k.valid_from <= end && k.valid_to.is_none_or(|to| to >= start))
        .map(|k| shapes::PublicKey {
            value: BASE64.decode(k.der.as_bytes()).ok().map(rampart_shapes::Blob),
            validity_start_time: Some(k.valid_from),
            validity_end_time: k.valid_to,
            fingerprint: Some(k.fingerprint),
        })
        .collect();
    Ok(shapes::ListPublicKeysResponse { public_key_list: Some(list), next_token: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_string_to_sign_is_cloudtrails() {
        assert_eq!(
            string_to_sign("2026-11-23T12:00:00Z", "b", "AWSLogs/k.json.gz", "ab12", None),
            "2026-11-23T12:00:00Z\nb/AWSLogs/k.json.gz\nab12\nnull"
        );
        assert!(string_to_sign("t", "b", "k", "h", Some("5f")).ends_with("\nh\n5f"));
    }

    #[test]
    fn digest_keys_carry_the_region_the_trail_its_home_and_the_end_to_the_second() {
        let t: TrailRecord = serde_json::from_value(serde_json::json!({
            "v": 1, "account_id": "111122223333", "name": "audit", "region": "us-east-1", "bucket": "b",
            "key_prefix": "p/", "multi_region": false, "global_events": true, "validation": true,
            "logging": true, "selectors": [], "advanced": [], "created": "2026-11-23T00:00:00Z"
        }))
        .unwrap();
        let end = time::macros::datetime!(2026-11-23 09:05:07 UTC);
        assert_eq!(
            digest_key(&t, "111122223333", "eu-west-1", end),
            "p/AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/11/23/111122223333_CloudTrail-Digest_eu-west-1_audit_us-east-1_20261123T090507Z.json.gz"
        );
        assert_eq!(chain_key(&t, "111122223333", "eu-west-1"), "eu-west-1");
        // An organization trail's member: under the organization, a chain of its own.
        let org = TrailRecord { organization: Some("o-abcdefghij".into()), ..t };
        assert_eq!(
            digest_key(&org, "444455556666", "us-east-1", end),
            "p/AWSLogs/o-abcdefghij/444455556666/CloudTrail-Digest/us-east-1/2026/11/23/444455556666_CloudTrail-Digest_us-east-1_audit_us-east-1_20261123T090507Z.json.gz"
        );
        assert_eq!(chain_key(&org, "444455556666", "us-east-1"), "444455556666/us-east-1");
        assert_eq!(chain_parts(&org, "444455556666/us-east-1"), ("444455556666", "us-east-1"));
    }
}
