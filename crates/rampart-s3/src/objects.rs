//! Objects and their versions: writing a version (sealed), reading the current one or a named
//! one, delete markers, the listings (current keys, and every version), DeleteObjects, and each
//! object's tags and ACL.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html>.

use std::collections::BTreeMap;

use md5::Digest as _;

use crate::checksums::{Algorithm, FULL_OBJECT, Fields, set_checksums};
use crate::encryption::CustomerKey;
use rampart_core::records::Reader;
use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::Blob;
use rampart_shapes::generated::s3 as shapes;
use rampart_store::{Db, Sealer, StoreError, Tx};
use time::OffsetDateTime;

use crate::{
    BucketRecord, MAX_KEYS, NULL_VERSION, ObjectRecord, bucket, bucket_tx, canonical_id, data_key, invalid_argument,
    no_such_key, object_prefix, version_entry, versions_prefix,
};

/// The longest object key S3 accepts, in UTF-8 bytes.
const MAX_KEY_BYTES: usize = 1024;

pub(crate) fn check_key(key: &str) -> Result<(), ServiceError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(ServiceError::new("KeyTooLongError", 400, "Your key is too long"));
    }
    // The zero byte separates a key from its version in the store's layout; XML cannot carry it.
    if key.contains('\0') {
        return Err(invalid_argument("Object keys may not contain the NUL character"));
    }
    Ok(())
}

/// A fresh version id: 32 URL-safe characters, as S3's look.
fn new_version_id() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 24];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ServiceError::internal())?;
    Ok(data_encoding::BASE64URL_NOPAD.encode(&bytes))
}

/// A version id a request may name: `null`, or one of ours.
fn check_version_id(id: &str) -> Result<(), ServiceError> {
    let ours = id.len() == 32 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if id == NULL_VERSION || ours { Ok(()) } else { Err(invalid_argument("Invalid version id specified")) }
}

/// The MD5 of an upload's body, worked out on the request's task before its transaction (see
/// `rampart_core::TxCtx::prepared`): the ETag of a single PUT, and what its `Content-MD5` is
/// checked against. It names the buffer it was worked out from, and is taken only for that one.
pub struct Md5Of {
    at: usize,
    len: usize,
    digest: [u8; 16],
}

impl Md5Of {
    pub fn new(body: &[u8]) -> Self {
        Md5Of { at: body.as_ptr() as usize, len: body.len(), digest: md5_of(body) }
    }

    /// The MD5 of `body`: lent by `prepared` when worked out from this very buffer, else worked
    /// out here.
    pub(crate) fn of(prepared: Option<&(dyn std::any::Any + Send + Sync)>, body: &[u8]) -> [u8; 16] {
        match prepared.and_then(|p| p.downcast_ref::<Md5Of>()) {
            Some(m) if m.at == body.as_ptr() as usize && m.len == body.len() => m.digest,
            _ => md5_of(body),
        }
    }
}

/// The MD5 of `body`, worked out here (where no request lent one).
pub(crate) fn md5_of(body: &[u8]) -> [u8; 16] {
    md5::Md5::digest(body).into()
}

/// A new version's record for `body`: a version id if the bucket's versioning is on, else the
/// null version.
pub(crate) fn new_record(
    b: &BucketRecord,
    key: &str,
    (body, md5): (&[u8], [u8; 16]),
    content_type: Option<String>,
    metadata: BTreeMap<String, String>,
    checksum: Option<(String, String)>,
    now: OffsetDateTime,
) -> Result<ObjectRecord, ServiceError> {
    check_key(key)?;
    let version_id = if b.versioning.as_deref() == Some("Enabled") { Some(new_version_id()?) } else { None };
    Ok(ObjectRecord {
        v: 1,
        key: key.to_owned(),
        size: body.len() as u64,
        etag: format!("\"{}\"", data_encoding::HEXLOWER.encode(&md5)),
        last_modified: now,
        content_type,
        metadata,
        version_id,
        seq: 0,
        delete_marker: false,
        sealed: true,
        tags: Vec::new(),
        // The writer's checksum, else S3's default for bytes written without one.
        checksum: Some(
            checksum.unwrap_or_else(|| (Algorithm::Crc64Nvme.name().to_owned(), Algorithm::Crc64Nvme.encode(body))),
        ),
        checksum_type: None,
        acl: None,
        grants: Vec::new(),
        sse: None,
        kms: None,
        sse_c: None,
        parts: Vec::new(),
        lock: None,
        own_run: false,
        headers: crate::StoredHeaders::default(),
    })
}

type Entry = (Vec<u8>, ObjectRecord);

fn decode(v: &[u8]) -> Result<ObjectRecord, ServiceError> {
    serde_json::from_slice(v).map_err(|_| ServiceError::internal())
}

/// Every version of a key, newest first, read through `scan` (the store or a transaction).
fn all_versions(
    scan: impl Fn(&[u8], Option<&[u8]>) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError>,
    bucket: &str,
    key: &str,
) -> Result<Vec<Entry>, ServiceError> {
    let prefix = versions_prefix(bucket, key);
    let mut out = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let batch = scan(&prefix, after.as_deref())?;
        let done = batch.len() < MAX_KEYS;
        for (k, v) in batch {
            out.push((k.clone(), decode(&v)?));
            after = Some(k);
        }
        if done {
            return Ok(out);
        }
    }
}

pub(crate) fn versions_tx(tx: &Tx<'_>, bucket: &str, key: &str) -> Result<Vec<Entry>, ServiceError> {
    all_versions(|p, a| tx.scan_prefix(p, a, MAX_KEYS, false), bucket, key)
}

fn versions(db: &Db, bucket: &str, key: &str) -> Result<Vec<Entry>, ServiceError> {
    all_versions(|p, a| db.scan_prefix(p, a, MAX_KEYS, false), bucket, key)
}

/// The newest version of a key (a delete marker, maybe).
fn newest(db: &Db, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, ServiceError> {
    db.scan_prefix(&versions_prefix(bucket, key), None, 1, false)?.first().map(|(_, v)| decode(v)).transpose()
}

/// The current object under a key inside a transaction.
pub(crate) fn current_tx(tx: &Tx<'_>, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, ServiceError> {
    tx.scan_prefix(&versions_prefix(bucket, key), None, 1, false)?
        .first()
        .map(|(_, v)| decode(v))
        .transpose()
        .map(|o| o.filter(|o| !o.delete_marker))
}

/// The current object under a key: its newest version, unless that is a delete marker.
pub(crate) fn current(db: &Db, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, ServiceError> {
    Ok(newest(db, bucket, key)?.filter(|o| !o.delete_marker))
}

/// The version a request names, or the newest when it names none: a delete marker, maybe.
pub(crate) fn version_asked(
    db: &Db,
    bucket: &str,
    key: &str,
    id: Option<&str>,
) -> Result<Option<ObjectRecord>, ServiceError> {
    match id {
        None => newest(db, bucket, key),
        Some(id) => Ok(versions(db, bucket, key)?.into_iter().map(|(_, o)| o).find(|o| o.version_id() == id)),
    }
}

/// The version a request names (the current one when it names none), if there is one; for the
/// access check, which never fails on what the handler will refuse.
pub(crate) fn version_named(
    db: &Db,
    bucket: &str,
    key: &str,
    id: Option<&str>,
) -> Result<Option<ObjectRecord>, ServiceError> {
    Ok(version_asked(db, bucket, key, id)?.filter(|o| id.is_some() || !o.delete_marker))
}

/// Bytes `from..to` of a version, opened (the bucket's region holds its KMS key), read through
/// `get` (the store, or a transaction).
pub(crate) fn read_range(
    get: &Reader<'_>,
    sealer: &Sealer,
    b: &BucketRecord,
    (o, customer): (&ObjectRecord, Option<&CustomerKey>),
    (from, to): (u64, u64),
    now: OffsetDateTime,
) -> Result<Vec<u8>, ServiceError> {
    let sealing = opening(get, sealer, b, (o, customer), now)?;
    let mut out = Vec::with_capacity(usize::try_from(to.saturating_sub(from)).unwrap_or(0));
    read_segments(get, &sealing, (&b.name, o), &o.segments(&b.name), (from, to), &mut out)?;
    Ok(out)
}

/// The sealing a version's bytes open with (the request's SSE-C key must be the one they were
/// written with; a KMS key must still be usable).
fn opening<'a>(
    get: &Reader<'_>,
    sealer: &'a Sealer,
    b: &BucketRecord,
    (o, customer): (&ObjectRecord, Option<&CustomerKey>),
    now: OffsetDateTime,
) -> Result<crate::encryption::Sealing<'a>, ServiceError> {
    let stored = (o.sse.as_deref(), o.kms.as_ref());
    crate::encryption::sealing(get, sealer, &b.region, stored, (o.sse_c.as_ref(), customer), now)
}

/// Reads bytes `from..to` of the run of `segments` that holds version `o`'s bytes into `out`.
fn read_segments(
    get: &Reader<'_>,
    sealing: &crate::encryption::Sealing<'_>,
    (bucket, o): (&str, &ObjectRecord),
    segments: &[(Vec<u8>, u64)],
    (from, to): (u64, u64),
    out: &mut Vec<u8>,
) -> Result<(), ServiceError> {
    let mut at = 0u64;
    for (prefix, size) in segments {
        let (start, end) = (from.max(at), to.min(at + size));
        if start < end {
            match crate::data::read(get, sealing, prefix, (start - at, end - at), out) {
                Ok(()) => {}
                // Deleted since it was found (a version's run is its write's own): read again.
                Err(e) if crate::data::is_gone(&e) && !still_there(get, bucket, o)? => return Err(e),
                Err(e) if e.status >= 500 => {
                    tracing::error!(bucket, key = %o.key, "an object's bytes are missing or do not open");
                    return Err(ServiceError::internal());
                }
                Err(e) => return Err(e),
            }
        }
        at += size;
    }
    Ok(())
}

/// Whether version `o` is still stored (a read that found a chunk of it gone asks).
fn still_there(get: &Reader<'_>, bucket: &str, o: &ObjectRecord) -> Result<bool, ServiceError> {
    Ok(get(&version_entry(bucket, &o.key, o.seq))?.is_some())
}

/// A read of more than this many bytes is answered as it is read (see [`ObjectStream`]) where the
/// caller can send a body later; less is read whole first. S3's transfer managers fetch 8 MiB
/// parts, which stay one buffer each.
pub const STREAM_ABOVE: u64 = 8 << 20;

/// A version's bytes `at..to`, read and opened a chunk at a time as the client takes them, so
/// that a download holds about one chunk in memory whatever its length.
struct ObjectStream {
    bucket: String,
    object: ObjectRecord,
    segments: Vec<(Vec<u8>, u64)>,
    keys: crate::encryption::Keys,
    at: u64,
    to: u64,
}

impl rampart_core::BodyReader for ObjectStream {
    fn remaining(&self) -> u64 {
        self.to.saturating_sub(self.at)
    }

    fn next_piece(&mut self, db: &Db, sealer: &Sealer) -> Option<Result<Vec<u8>, ServiceError>> {
        if self.at >= self.to {
            return None;
        }
        // Up to the end of the chunk `at` is in: each piece opens one chunk.
        let chunk = crate::data::CHUNK as u64;
        let mut start = 0u64;
        let mut end = self.to;
        for (_, size) in &self.segments {
            if self.at < start + size {
                end = end.min(start + size).min(start + ((self.at - start) / chunk + 1) * chunk);
                break;
            }
            start += size;
        }
        let mut out = Vec::with_capacity(usize::try_from(end - self.at).unwrap_or(0));
        let get = uncached(db);
        let read = read_segments(
            &get,
            &self.keys.with(sealer),
            (&self.bucket, &self.object),
            &self.segments,
            (self.at, end),
            &mut out,
        );
        match read {
            Ok(()) if !out.is_empty() => {
                self.at = end;
                Some(Ok(out))
            }
            Ok(()) => {
                self.at = self.to;
                Some(Err(ServiceError::internal()))
            }
            Err(e) => {
                self.at = self.to;
                Some(Err(e))
            }
        }
    }
}

/// A reader of the store that leaves the read cache alone (object chunks would crowd it).
pub(crate) fn uncached(db: &Db) -> impl Fn(&[u8]) -> Result<Option<std::sync::Arc<[u8]>>, ServiceError> + '_ {
    move |k| Ok(db.get(k)?.map(std::sync::Arc::from))
}

/// A version's bytes, opened.
pub(crate) fn read_data(
    db: &Db,
    sealer: &Sealer,
    b: &BucketRecord,
    o: &ObjectRecord,
    now: OffsetDateTime,
) -> Result<Vec<u8>, ServiceError> {
    read_range(&uncached(db), sealer, b, (o, None), (0, o.size), now)
}

/// Removes one version (or marker) and its bytes.
fn remove(tx: &mut Tx<'_>, bucket: &str, (entry, o): &Entry) -> Result<(), ServiceError> {
    tx.delete(entry)?;
    for (prefix, size) in o.segments(bucket).iter().filter(|_| !o.delete_marker) {
        crate::data::delete_past(tx, prefix, 0, *size)?;
    }
    Ok(())
}

/// Writes a version as the key's newest, with its bytes for a single PUT (a completed multipart
/// upload's stay where its parts are); a null version replaces the key's previous null version,
/// as S3 does.
pub(crate) fn write_version(
    tx: &mut Tx<'_>,
    b: &BucketRecord,
    mut rec: ObjectRecord,
    bytes: Option<(&crate::encryption::Sealing<'_>, &[u8])>,
) -> Result<ObjectRecord, ServiceError> {
    let existing = versions_tx(tx, &b.name, &rec.key)?;
    let now = u64::try_from(rec.last_modified.unix_timestamp_nanos()).unwrap_or(0);
    rec.seq = existing.first().map_or(now, |(_, o)| now.max(o.seq.saturating_add(1)));
    if rec.version_id.is_none() {
        for e in existing.iter().filter(|(_, o)| o.version_id.is_none()) {
            remove(tx, &b.name, e)?;
        }
    }
    if let Some((sealing, body)) = bytes {
        rec.own_run = rec.version_id.is_none();
        let Some((run, _)) = rec.segments(&b.name).into_iter().next() else { return Err(ServiceError::internal()) };
        crate::data::write(tx, sealing, &run, body)?;
        rec.sealed = true;
    }
    records::write_tx(tx, &version_entry(&b.name, &rec.key, rec.seq), &rec)?;
    Ok(rec)
}

pub(crate) fn bad_digest(what: &str) -> ServiceError {
    ServiceError::new("BadDigest", 400, format!("The {what} you specified did not match the calculated checksum."))
}

/// The integrity values a client sends with bytes (PutObject, UploadPart).
pub(crate) struct Sent<'a> {
    pub md5: Option<&'a str>,
    /// `x-amz-sdk-checksum-algorithm`: the flexible checksum the client says it sends.
    pub algorithm: Option<&'a str>,
    /// The flexible checksums this server computes, as sent.
    pub values: [(Algorithm, Option<&'a str>); 5],
    /// The flexible checksums this server does not compute, by name, if sent.
    pub others: [(&'static str, bool); 5],
}

macro_rules! sent {
    ($input:expr) => {
        crate::objects::Sent {
            md5: $input.content_md5.as_deref(),
            algorithm: $input.checksum_algorithm.as_deref(),
            values: crate::checksums::sent_values!($input),
            others: [
                ("SHA512", $input.checksum_sha512.is_some()),
                ("MD5", $input.checksum_md5.is_some()),
                ("XXHASH64", $input.checksum_xxhash64.is_some()),
                ("XXHASH3", $input.checksum_xxhash3.is_some()),
                ("XXHASH128", $input.checksum_xxhash128.is_some()),
            ],
        }
    };
}
pub(crate) use sent;

fn invalid_request(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidRequest", 400, message)
}

/// Checks the integrity values a client sent with the bytes: Content-MD5 and one flexible
/// checksum. Returns the flexible checksum sent, checked.
pub(crate) fn check_integrity(
    sent: &Sent<'_>,
    (body, md5): (&[u8], [u8; 16]),
) -> Result<Option<(String, String)>, ServiceError> {
    if let Some(header) = sent.md5 {
        let given = data_encoding::BASE64
            .decode(header.as_bytes())
            .ok()
            .filter(|d| d.len() == 16)
            .ok_or_else(|| ServiceError::new("InvalidDigest", 400, "The Content-MD5 you specified was invalid."))?;
        if given != md5 {
            return Err(ServiceError::new(
                "BadDigest",
                400,
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    if let Some((name, _)) = sent.others.iter().find(|(_, present)| *present) {
        return Err(ServiceError::new(
            "NotImplemented",
            501,
            format!("Rampart does not verify {name} checksums yet; send CRC32, CRC32C, CRC64NVME, SHA1 or SHA256."),
        ));
    }
    let mut given = sent.values.iter().filter_map(|(a, v)| v.map(|v| (*a, v)));
    let one = given.next();
    if given.next().is_some() {
        return Err(invalid_request(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        ));
    }
    let named = match sent.algorithm {
        None => None,
        Some(name) => Some(Algorithm::parse(name).ok_or_else(|| {
            if sent.others.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                ServiceError::new("NotImplemented", 501, format!("Rampart does not compute {name} checksums yet."))
            } else {
                invalid_request("Value for x-amz-sdk-checksum-algorithm header is invalid.")
            }
        })?),
    };
    match (one, named) {
        (Some((algorithm, value)), named) => {
            if named.is_some_and(|n| n != algorithm) {
                return Err(invalid_request(
                    "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.",
                ));
            }
            let actual = algorithm.encode(body);
            if value != actual {
                return Err(bad_digest(algorithm.name()));
            }
            Ok(Some((algorithm.name().to_owned(), actual)))
        }
        (None, Some(_)) => Err(invalid_request(
            "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.",
        )),
        (None, None) => Ok(None),
    }
}

/// Parses `x-amz-tagging` (`k1=v1&k2=v2`, URL-encoded) and checks it as S3 checks object tags.
pub(crate) fn parse_tagging(header: &str) -> Result<Vec<(String, String)>, ServiceError> {
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    let tags: Vec<(String, String)> = header
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect();
    crate::protection::check_tags(&tags, 10)?;
    Ok(tags)
}

/// Checks a canned ACL a write carries against the bucket's ownership and Block Public Access
/// settings, as S3 does; the ACL to keep.
pub(crate) fn check_canned_acl(
    db_pab: crate::PublicAccessBlock,
    b: &BucketRecord,
    acl: Option<&str>,
) -> Result<Option<String>, ServiceError> {
    let Some(acl) = acl else { return Ok(None) };
    if !crate::protection::CANNED_ACLS.contains(&acl) {
        return Err(invalid_argument(&format!("The canned ACL {acl} is not valid")));
    }
    let owner_only = matches!(acl, "private" | "bucket-owner-full-control");
    if !b.acls_enabled() && !owner_only {
        return Err(crate::protection::acls_not_supported());
    }
    if db_pab.block_public_acls && crate::protection::is_public_acl(acl) {
        return Err(ServiceError::access_denied("Access Denied"));
    }
    Ok((!owner_only || b.acls_enabled()).then(|| acl.to_owned()))
}

fn precondition_failed() -> ServiceError {
    ServiceError::new("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold")
}

/// What a write of a new version asks for in its headers (PutObject, CopyObject,
/// CreateMultipartUpload): encryption, Object Lock, a canned ACL or grants, SSE-C.
pub(crate) struct VersionAsks<'a> {
    pub sse: crate::encryption::Asked<'a>,
    pub lock: (Option<&'a str>, Option<OffsetDateTime>, Option<&'a str>),
    pub acl: crate::acl::Asked<'a>,
    /// SSE-C's algorithm, key and key MD5.
    pub customer: (Option<&'a str>, Option<&'a str>, Option<&'a str>),
}

macro_rules! version_asks {
    ($input:expr) => {
        crate::objects::VersionAsks {
            sse: crate::encryption::Asked {
                algorithm: $input.server_side_encryption.as_deref(),
                key_id: $input.ssekms_key_id.as_deref(),
                context: $input.ssekms_encryption_context.as_deref(),
                bucket_key: $input.bucket_key_enabled,
            },
            lock: (
                $input.object_lock_mode.as_deref(),
                $input.object_lock_retain_until_date,
                $input.object_lock_legal_hold_status.as_deref(),
            ),
            acl: crate::acl::asked!($input, write: None, body: None),
            customer: (
                $input.sse_customer_algorithm.as_deref(),
                $input.sse_customer_key.as_deref(),
                $input.sse_customer_key_md5.as_deref(),
            ),
        }
    };
}
pub(crate) use version_asks;

/// What a new version of `key` gets from its headers and its bucket: how it is encrypted, its
/// lock, its ACL.
pub(crate) struct Settled {
    pub plan: crate::encryption::Plan,
    pub lock: Option<crate::lock::VersionLock>,
    pub acl: crate::acl::Kept,
}

pub(crate) fn settle(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    b: &BucketRecord,
    key: &str,
    asks: &VersionAsks<'_>,
) -> Result<Settled, ServiceError> {
    let (c_alg, c_key, c_md5) = asks.customer;
    let customer = crate::encryption::CustomerKey::from_headers(c_alg, c_key, c_md5)?;
    if customer.is_some() && (asks.sse.algorithm.is_some() || asks.sse.key_id.is_some()) {
        return Err(invalid_argument(
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
        ));
    }
    let (mode, until, hold) = asks.lock;
    let lock = crate::lock::for_new_version(b, mode, until, hold, ctx.now)?;
    let pab = crate::protection::effective_pab_tx(tx, b)?;
    let acl = crate::acl::settle(tx, pab, b, &asks.acl, false)?;
    let account_region = (ctx.principal.account_id.as_str(), b.region.as_str());
    let mut plan = match customer {
        Some(k) => crate::encryption::Plan::sse_c(k),
        None => crate::encryption::plan(&records::tx_reader(tx), b, key, &asks.sse, account_region, ctx.now)?,
    };
    plan.make_managed_key(tx, ctx, &b.region)?;
    Ok(Settled { plan, lock, acl })
}

pub fn put_object(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutObjectRequest,
) -> Result<shapes::PutObjectOutput, ServiceError> {
    let b = bucket_tx(tx, &input.bucket)?;
    check_key(&input.key)?;
    let Settled { plan, lock, acl } = settle(tx, ctx, &b, &input.key, &version_asks!(input))?;
    let tags = input.tagging.as_deref().map(parse_tagging).transpose()?.unwrap_or_default();
    write_conditions(tx, &b.name, &input.key, (input.if_match.as_deref(), input.if_none_match.as_deref()))?;
    let body = input.body.as_ref().map_or(&[][..], |b| b.0.as_slice());
    let md5 = Md5Of::of(ctx.prepared, body);
    let checksum = check_integrity(&sent!(input), (body, md5))?;
    let metadata = input.metadata.clone().unwrap_or_default();
    let mut rec = new_record(&b, &input.key, (body, md5), input.content_type.clone(), metadata, checksum, ctx.now)?;
    rec.tags = tags;
    rec.acl = acl.canned;
    rec.grants = acl.grants;
    rec.lock = lock;
    rec.headers = crate::stored_headers!(input);
    let (sealing, kms) = plan.begin(ctx.sealer)?;
    rec.sse = Some(plan.algorithm.clone());
    rec.kms = kms;
    rec.sse_c = plan.customer_check()?;
    let rec = write_version(tx, &b, rec, Some((&sealing, body)))?;
    let (sse, key_id, bucket_key) = sse_headers(&rec);
    let (sse_customer_algorithm, sse_customer_key_md5) = customer_headers(&rec);
    let mut out = shapes::PutObjectOutput {
        e_tag: Some(rec.etag),
        checksum_type: Some(FULL_OBJECT.to_owned()),
        server_side_encryption: sse,
        ssekms_key_id: key_id,
        bucket_key_enabled: bucket_key,
        sse_customer_algorithm,
        sse_customer_key_md5,
        version_id: rec.version_id,
        ..shapes::PutObjectOutput::default()
    };
    set_checksums!(out, Fields::of(rec.checksum.as_ref()));
    Ok(out)
}

/// The encryption headers S3 answers for a version: the algorithm, the KMS key, Bucket Keys
/// (none for SSE-C, which answers [`customer_headers`]).
fn sse_headers(o: &ObjectRecord) -> (Option<String>, Option<String>, Option<bool>) {
    if o.sse_c.is_some() {
        return (None, None, None);
    }
    let sse = o.sse.clone().unwrap_or_else(|| "AES256".to_owned());
    let key = o.kms.as_ref().map(|k| k.key_arn.clone());
    let bucket_key = o.kms.as_ref().filter(|k| k.bucket_key).map(|_| true);
    (Some(sse), key, bucket_key)
}

/// The SSE-C headers S3 answers for a version written with a customer key: `AES256` and the
/// key's MD5.
pub(crate) fn customer_headers(o: &ObjectRecord) -> (Option<String>, Option<String>) {
    match &o.sse_c {
        Some(c) => (Some("AES256".to_owned()), Some(c.md5.clone())),
        None => (None, None),
    }
}

/// A conditional write's preconditions on the key's current object: `If-None-Match` (`*`, or
/// ETags) refuses to overwrite an object it matches; `If-Match` (`*`, or ETags) needs an object
/// it matches, and answers NoSuchKey when there is none.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html>.
pub(crate) fn write_conditions(
    tx: &Tx<'_>,
    bucket: &str,
    key: &str,
    (if_match, if_none_match): (Option<&str>, Option<&str>),
) -> Result<(), ServiceError> {
    if if_match.is_none() && if_none_match.is_none() {
        return Ok(());
    }
    let now = current_tx(tx, bucket, key)?;
    if let (Some(m), Some(o)) = (if_none_match, &now)
        && etag_matches(m, &o.etag)
    {
        return Err(precondition_failed());
    }
    match (if_match, &now) {
        (Some(_), None) => Err(no_such_key()),
        (Some(m), Some(o)) if !etag_matches(m, &o.etag) => Err(precondition_failed()),
        _ => Ok(()),
    }
}

fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|m| m == "*" || m == etag || m.trim_matches('"') == etag.trim_matches('"'))
}

fn no_such_version() -> ServiceError {
    ServiceError::new("NoSuchVersion", 404, "The specified version does not exist.")
}

/// The version a read names (the current one when it names none).
pub(crate) fn version_for_read(
    ctx: &Ctx<'_>,
    bucket: &str,
    key: &str,
    id: Option<&str>,
) -> Result<ObjectRecord, ServiceError> {
    // A delete marker reads as no object (or, named, as a version that cannot be read), with
    // S3's headers saying it is one, so that clients can tell a deleted key from a missing one.
    // See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_ResponseSyntax>.
    let marked = |e: ServiceError, o: &ObjectRecord| {
        e.with_header("x-amz-delete-marker", "true").with_header("x-amz-version-id", o.version_id())
    };
    if let Some(id) = id {
        check_version_id(id)?;
    }
    let found = match crate::access::Prefetched::lent(ctx, bucket, key, id) {
        Some(found) => found.cloned(),
        None => version_asked(ctx.db, bucket, key, id)?,
    };
    match id {
        None => match found {
            Some(o) if o.delete_marker => Err(marked(no_such_key(), &o)),
            Some(o) => Ok(o),
            None => Err(no_such_key()),
        },
        Some(_) => {
            let o = found.ok_or_else(no_such_version)?;
            if o.delete_marker {
                let modified = rampart_wire::restxml::http_date(o.last_modified);
                return Err(marked(crate::method_not_allowed(), &o).with_header("last-modified", modified));
            }
            Ok(o)
        }
    }
}

/// The span a read asks for: a `Range`, or a part of a multipart object by its position
/// (`partNumber`, as S3 numbers the completed object's parts; `1` is the whole of an object
/// uploaded in one piece). `None`: the whole object.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax>.
fn read_span(o: &ObjectRecord, range: Option<&str>, part: Option<i32>) -> Result<Option<(u64, u64)>, ServiceError> {
    let Some(n) = part else { return byte_range(range, o.size) };
    if range.is_some() {
        return Err(invalid_request("Cannot specify both Range header and partNumber query parameter."));
    }
    let n = usize::try_from(n)
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| invalid_argument("Part number must be an integer between 1 and 10000, inclusive"))?;
    let not_there = || ServiceError::new("InvalidPart", 400, "The requested partnumber is not satisfiable");
    if o.parts.is_empty() {
        return if n == 1 { Ok(None) } else { Err(not_there()) };
    }
    let from: u64 = o.parts.iter().take(n - 1).map(|p| p.size).sum();
    let size = o.parts.get(n - 1).ok_or_else(not_there)?.size;
    Ok(Some((from, from + size)))
}

/// `x-amz-mp-parts-count`, answered to a read by part of a multipart object.
fn parts_count(o: &ObjectRecord, part: Option<i32>) -> Option<i32> {
    part.filter(|_| !o.parts.is_empty()).and_then(|_| i32::try_from(o.parts.len()).ok())
}

/// The bytes a `Range` header asks for (`bytes=A-B`, `bytes=A-`, `bytes=-N`), as an end-exclusive
/// span; `None` for the whole object. A range S3 cannot serve (several ranges, another unit,
/// malformed) is ignored and the whole object served, as S3 does; one that starts past the end
/// is InvalidRange.
/// See <https://www.rfc-editor.org/rfc/rfc9110#name-range-requests>.
pub(crate) fn byte_range(header: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ServiceError> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else { return Ok(None) };
    let (a, b) = (a.trim(), b.trim());
    let unsatisfiable = || {
        let mut e = ServiceError::new("InvalidRange", 416, "The requested range is not satisfiable");
        e.details.push(("RangeRequested", format!("bytes={spec}")));
        e.details.push(("ActualObjectSize", size.to_string()));
        e
    };
    let span = match (a.parse::<u64>().ok(), b.parse::<u64>().ok()) {
        (Some(first), _) if a.is_empty() || first >= size => return Err(unsatisfiable()),
        (Some(first), Some(last)) if last >= first => (first, (last + 1).min(size)),
        (Some(_), Some(_)) => return Ok(None),
        (Some(first), None) if b.is_empty() => (first, size),
        (None, Some(n)) if a.is_empty() && n > 0 => (size.saturating_sub(n), size),
        (None, Some(_)) if a.is_empty() && size > 0 => return Err(unsatisfiable()),
        _ => return Ok(None),
    };
    if size == 0 {
        return Err(unsatisfiable());
    }
    Ok(Some(span))
}

/// A read's preconditions, as S3 weighs them: If-Match before If-Unmodified-Since, If-None-Match
/// before If-Modified-Since; a failed match is 412, an unchanged object 304.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html>.
fn check_preconditions(
    o: &ObjectRecord,
    if_match: Option<&str>,
    if_none_match: Option<&str>,
    if_modified_since: Option<OffsetDateTime>,
    if_unmodified_since: Option<OffsetDateTime>,
) -> Result<(), ServiceError> {
    let modified = o.last_modified.replace_nanosecond(0).unwrap_or(o.last_modified);
    match if_match {
        Some(m) if !etag_matches(m, &o.etag) => return Err(precondition_failed()),
        Some(_) => {}
        None if if_unmodified_since.is_some_and(|t| modified > t) => return Err(precondition_failed()),
        None => {}
    }
    // A 304 carries the validators a 200 would have (RFC 9110, 15.4.5).
    let not_modified = || {
        ServiceError::new("NotModified", 304, "Not Modified")
            .with_header("ETag", o.etag.clone())
            .with_header("Last-Modified", rampart_wire::restxml::http_date(o.last_modified))
    };
    match if_none_match {
        Some(m) if etag_matches(m, &o.etag) => Err(not_modified()),
        Some(_) => Ok(()),
        None if if_modified_since.is_some_and(|t| modified <= t) => Err(not_modified()),
        None => Ok(()),
    }
}

/// The checksum fields a read answers: the object's, when asked for and the whole object is read
/// (a range's bytes are not what the checksum covers).
fn checksums_read(o: &ObjectRecord, mode: Option<&str>, ranged: bool, part: Option<i32>) -> (Fields, Option<String>) {
    if mode != Some("ENABLED") || o.checksum.is_none() {
        return (Fields::default(), None);
    }
    // A part of an object with a composite checksum is read with that part's own checksum.
    let part = part.and_then(|n| usize::try_from(n).ok()).and_then(|n| o.parts.get(n.checked_sub(1)?));
    if let (Some((algorithm, _)), Some(p), Some(kind)) = (&o.checksum, part, &o.checksum_type) {
        let own = p.checksum.clone().map(|v| (algorithm.clone(), v));
        return match own {
            Some(sum) => (Fields::of(Some(&sum)), Some(kind.clone())),
            None => (Fields::default(), None),
        };
    }
    if ranged {
        return (Fields::default(), None);
    }
    (Fields::of(o.checksum.as_ref()), Some(o.checksum_type.clone().unwrap_or_else(|| FULL_OBJECT.to_owned())))
}

/// What GetObject and HeadObject answer alike about the version `$o` of bucket `$b` read over
/// `$range` (for `$input`'s checksum mode and part number), as `shapes::$out`, with `$extra` fields.
macro_rules! read_answer {
    ($out:ident, $b:expr, $o:expr, $input:expr, $range:expr, $($extra:tt)*) => {{
        let (o, range) = ($o, $range);
        let (checksums, checksum_type) =
            checksums_read(&o, $input.checksum_mode.as_deref(), range.is_some(), $input.part_number);
        let (sse, key_id, bucket_key) = sse_headers(&o);
        let (sse_customer_algorithm, sse_customer_key_md5) = customer_headers(&o);
        let mut out = shapes::$out {
            sse_customer_algorithm,
            sse_customer_key_md5,
            $($extra)*
            accept_ranges: Some("bytes".to_owned()),
            last_modified: Some(o.last_modified),
            content_length: i64::try_from(range.map_or(o.size, |(a, b)| b - a)).ok(),
            content_range: range.map(|(a, b)| format!("bytes {a}-{}/{}", b - 1, o.size)),
            parts_count: parts_count(&o, $input.part_number),
            e_tag: Some(o.etag.clone()),
            checksum_type,
            content_type: Some(o.content_type.clone().unwrap_or_else(|| "binary/octet-stream".to_owned())),
            server_side_encryption: sse,
            ssekms_key_id: key_id,
            bucket_key_enabled: bucket_key,
            version_id: o.version_id.clone().or_else(|| $b.versioning.is_some().then(|| NULL_VERSION.to_owned())),
            object_lock_mode: o.lock.as_ref().and_then(|l| l.mode.clone()),
            object_lock_retain_until_date: o.lock.as_ref().and_then(|l| l.retain_until),
            object_lock_legal_hold_status: o.lock.as_ref().map(|l| if l.legal_hold { "ON" } else { "OFF" }.to_owned()),
            metadata: (!o.metadata.is_empty()).then_some(o.metadata.clone()),
            cache_control: o.headers.cache_control.clone(),
            content_disposition: o.headers.content_disposition.clone(),
            content_encoding: o.headers.content_encoding.clone(),
            content_language: o.headers.content_language.clone(),
            expires: o.headers.expires.clone(),
            website_redirect_location: o.headers.website_redirect_location.clone(),
            ..Default::default()
        };
        set_checksums!(out, checksums);
        // The response-* query parameters override what the read answers with.
        override_headers!(out, $input);
        out
    }};
}

/// A read's `response-*` query parameters (`$input`) over the headers its answer (`$out`) gives.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html>.
macro_rules! override_headers {
    ($out:ident, $input:expr) => {
        if let Some(v) = &$input.response_cache_control {
            $out.cache_control = Some(v.clone());
        }
        if let Some(v) = &$input.response_content_disposition {
            $out.content_disposition = Some(v.clone());
        }
        if let Some(v) = &$input.response_content_encoding {
            $out.content_encoding = Some(v.clone());
        }
        if let Some(v) = &$input.response_content_language {
            $out.content_language = Some(v.clone());
        }
        if let Some(v) = &$input.response_content_type {
            $out.content_type = Some(v.clone());
        }
        if let Some(v) = $input.response_expires {
            $out.expires = Some(rampart_wire::restxml::http_date(v));
        }
    };
}

/// The SSE-C key a request (`$input`, with the model's three SSE-C members) sends, if any.
macro_rules! customer_key {
    ($input:expr) => {
        CustomerKey::from_headers(
            $input.sse_customer_algorithm.as_deref(),
            $input.sse_customer_key.as_deref(),
            $input.sse_customer_key_md5.as_deref(),
        )
    };
}
pub(crate) use customer_key;

/// The SSE-C key a copy (`$input`) sends for its source, if any.
macro_rules! copy_source_customer_key {
    ($input:expr) => {
        CustomerKey::from_headers(
            $input.copy_source_sse_customer_algorithm.as_deref(),
            $input.copy_source_sse_customer_key.as_deref(),
            $input.copy_source_sse_customer_key_md5.as_deref(),
        )
    };
}
pub(crate) use copy_source_customer_key;

/// The bucket, version and span a GetObject or HeadObject `$input` reads, its preconditions met.
macro_rules! read_target {
    ($ctx:expr, $input:expr) => {
        (|| {
            let b = bucket($ctx.db, &$input.bucket)?;
            let o = version_for_read($ctx, &b.name, &$input.key, $input.version_id.as_deref())?;
            check_preconditions(
                &o,
                $input.if_match.as_deref(),
                $input.if_none_match.as_deref(),
                $input.if_modified_since,
                $input.if_unmodified_since,
            )?;
            let range = read_span(&o, $input.range.as_deref(), $input.part_number)?;
            Ok::<_, ServiceError>((b, o, range))
        })()
    };
}

pub fn get_object(ctx: &Ctx<'_>, input: shapes::GetObjectRequest) -> Result<shapes::GetObjectOutput, ServiceError> {
    match read_object(ctx, &input) {
        // Replaced while it was read: read again what the request names now, once.
        Err(e) if crate::data::is_gone(&e) => read_object(&Ctx { prefetched: None, ..*ctx }, &input),
        answer => answer,
    }
}

/// The `response-*` parameters are for signed requests only.
fn overrides_signed(ctx: &Ctx<'_>, asked: bool) -> Result<(), ServiceError> {
    if asked && ctx.principal.kind == rampart_core::identity::PrincipalKind::Anonymous {
        return Err(ServiceError::new(
            "InvalidRequest",
            400,
            "Request specific response headers cannot be used for anonymous GET requests.",
        ));
    }
    Ok(())
}

/// Whether a read (`$input`) asks for any `response-*` header.
macro_rules! asks_overrides {
    ($input:expr) => {
        $input.response_cache_control.is_some()
            || $input.response_content_disposition.is_some()
            || $input.response_content_encoding.is_some()
            || $input.response_content_language.is_some()
            || $input.response_content_type.is_some()
            || $input.response_expires.is_some()
    };
}

fn read_object(ctx: &Ctx<'_>, input: &shapes::GetObjectRequest) -> Result<shapes::GetObjectOutput, ServiceError> {
    overrides_signed(ctx, asks_overrides!(input))?;
    let (b, o, range) = read_target!(ctx, input)?;
    let key = customer_key!(input)?;
    let (from, to) = range.unwrap_or((0, o.size));
    let body = match ctx.later {
        Some(later) if to - from > STREAM_ABOVE => {
            let keys = opening(&uncached(ctx.db), ctx.sealer, &b, (&o, key.as_ref()), ctx.now)?.keys().clone();
            let segments = o.segments(&b.name);
            let stream = ObjectStream { bucket: b.name.clone(), object: o.clone(), segments, keys, at: from, to };
            *later.lock().map_err(|_| ServiceError::internal())? = Some(Box::new(stream));
            None
        }
        _ => Some(Blob(read_range(&uncached(ctx.db), ctx.sealer, &b, (&o, key.as_ref()), (from, to), ctx.now)?)),
    };
    let tag_count = i32::try_from(o.tags.len()).ok().filter(|n| *n > 0);
    Ok(read_answer!(GetObjectOutput, b, o, input, range, body, tag_count,))
}

pub fn head_object(ctx: &Ctx<'_>, input: shapes::HeadObjectRequest) -> Result<shapes::HeadObjectOutput, ServiceError> {
    overrides_signed(ctx, asks_overrides!(input))?;
    let (b, o, range) = read_target!(ctx, input)?;
    crate::encryption::customer_matches(o.sse_c.as_ref(), customer_key!(input)?.as_ref())?;
    Ok(read_answer!(HeadObjectOutput, b, o, input, range,))
}

/// GetObjectAttributes: what S3 tells of a version without reading its bytes, each attribute
/// only when asked for: its ETag (unquoted), checksum, parts (a page of them, by part number),
/// storage class and size.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectAttributes.html>.
pub fn get_object_attributes(
    ctx: &Ctx<'_>,
    input: shapes::GetObjectAttributesRequest,
) -> Result<shapes::GetObjectAttributesOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    let o = version_for_read(ctx, &b.name, &input.key, input.version_id.as_deref())?;
    crate::encryption::customer_matches(o.sse_c.as_ref(), customer_key!(input)?.as_ref())?;
    let asked = |a: &str| input.object_attributes.iter().any(|x| x == a);
    let checksum = o.checksum.as_ref().filter(|_| asked("Checksum")).map(|c| {
        let mut out = shapes::Checksum {
            checksum_type: Some(o.checksum_type.clone().unwrap_or_else(|| FULL_OBJECT.to_owned())),
            ..shapes::Checksum::default()
        };
        set_checksums!(out, Fields::of(Some(c)));
        out
    });
    let object_parts = (asked("ObjectParts") && !o.parts.is_empty())
        .then(|| object_parts(&o, input.max_parts, input.part_number_marker))
        .transpose()?;
    Ok(shapes::GetObjectAttributesOutput {
        last_modified: Some(o.last_modified),
        version_id: o.version_id.clone().or_else(|| b.versioning.is_some().then(|| NULL_VERSION.to_owned())),
        e_tag: asked("ETag").then(|| o.etag.trim_matches('"').to_owned()),
        checksum,
        object_parts,
        storage_class: asked("StorageClass").then(|| "STANDARD".to_owned()),
        object_size: asked("ObjectSize").then(|| i64::try_from(o.size).unwrap_or(i64::MAX)),
        ..shapes::GetObjectAttributesOutput::default()
    })
}

/// A page of a multipart object's parts, after `marker` (a part number), at most `max` (1,000 by
/// default, as ListParts).
fn object_parts(
    o: &ObjectRecord,
    max: Option<i32>,
    marker: Option<i32>,
) -> Result<shapes::GetObjectAttributesParts, ServiceError> {
    let max = match max {
        Some(n) if n < 0 => return Err(invalid_argument("max-parts must be a non-negative integer")),
        Some(n) => usize::try_from(n).unwrap_or(0).min(1000),
        None => 1000,
    };
    let after = marker.and_then(|m| u32::try_from(m).ok()).unwrap_or(0);
    let rest: Vec<&crate::PartRef> = o.parts.iter().filter(|p| p.number > after).collect();
    let page: Vec<&crate::PartRef> = rest.iter().take(max).copied().collect();
    let truncated = rest.len() > page.len();
    let algorithm = o.checksum.as_ref().map(|(a, _)| a.clone());
    let parts = page
        .iter()
        .map(|p| {
            let mut part = shapes::ObjectPart {
                part_number: i32::try_from(p.number).ok(),
                size: i64::try_from(p.size).ok(),
                ..shapes::ObjectPart::default()
            };
            let sum = algorithm.clone().zip(p.checksum.clone());
            set_checksums!(part, Fields::of(sum.as_ref()));
            part
        })
        .collect();
    Ok(shapes::GetObjectAttributesParts {
        total_parts_count: i32::try_from(o.parts.len()).ok(),
        part_number_marker: Some(i32::try_from(after).unwrap_or(0)),
        next_part_number_marker: page.last().and_then(|p| i32::try_from(p.number).ok()).filter(|_| truncated),
        max_parts: i32::try_from(max).ok(),
        is_truncated: Some(truncated),
        parts: Some(parts),
    })
}

/// What deleting one key (or one version of it) did.
struct Deleted {
    version_id: Option<String>,
    delete_marker: bool,
}

/// Deletes as S3 does: a named version is removed for good; otherwise an unversioned bucket loses
/// the object, a versioned one gains a delete marker (a new version; a null one while versioning
/// is suspended). Deleting what is not there succeeds.
fn delete_one(
    tx: &mut Tx<'_>,
    b: &BucketRecord,
    (key, version_id): (&str, Option<&str>),
    bypass: bool,
    now: OffsetDateTime,
) -> Result<Deleted, ServiceError> {
    check_key(key)?;
    if let Some(id) = version_id {
        check_version_id(id)?;
        let found = versions_tx(tx, &b.name, key)?.into_iter().find(|(_, o)| o.version_id() == id);
        let marker = found.as_ref().is_some_and(|(_, o)| o.delete_marker);
        if let Some(e) = found {
            crate::lock::check_delete(&e.1, bypass, now)?;
            remove(tx, &b.name, &e)?;
        }
        return Ok(Deleted { version_id: Some(id.to_owned()), delete_marker: marker });
    }
    match b.versioning.as_deref() {
        None => {
            for e in versions_tx(tx, &b.name, key)? {
                remove(tx, &b.name, &e)?;
            }
            Ok(Deleted { version_id: None, delete_marker: false })
        }
        Some(state) => {
            let id = if state == "Enabled" { Some(new_version_id()?) } else { None };
            let marker = ObjectRecord {
                v: 1,
                key: key.to_owned(),
                size: 0,
                etag: String::new(),
                last_modified: now,
                content_type: None,
                metadata: BTreeMap::new(),
                version_id: id,
                seq: 0,
                delete_marker: true,
                sealed: false,
                tags: Vec::new(),
                checksum: None,
                checksum_type: None,
                acl: None,
                grants: Vec::new(),
                sse: None,
                kms: None,
                sse_c: None,
                parts: Vec::new(),
                lock: None,
                own_run: false,
                headers: crate::StoredHeaders::default(),
            };
            let marker = write_version(tx, b, marker, None)?;
            Ok(Deleted {
                version_id: Some(marker.version_id.unwrap_or_else(|| NULL_VERSION.to_owned())),
                delete_marker: true,
            })
        }
    }
}

pub fn delete_object(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteObjectRequest,
) -> Result<shapes::DeleteObjectOutput, ServiceError> {
    let b = bucket_tx(tx, &input.bucket)?;
    if let Some(m) = &input.if_match {
        let now = versions_tx(tx, &b.name, &input.key)?.into_iter().next().map(|(_, o)| o).filter(|o| !o.delete_marker);
        match now {
            None => return Err(no_such_key()),
            Some(o) if !etag_matches(m, &o.etag) => return Err(precondition_failed()),
            Some(_) => {}
        }
    }
    if b.mfa_delete && input.version_id.is_some() {
        crate::protection::mfa_delete_allows(&b, ctx, input.mfa.as_deref())?;
    }
    let bypass = input.bypass_governance_retention == Some(true);
    let d = delete_one(tx, &b, (&input.key, input.version_id.as_deref()), bypass, ctx.now)?;
    Ok(shapes::DeleteObjectOutput {
        delete_marker: d.delete_marker.then_some(true),
        version_id: d.version_id,
        ..shapes::DeleteObjectOutput::default()
    })
}

/// Most keys one DeleteObjects request may name.
const MAX_DELETE: usize = 1000;

/// DeleteObjects: each key deleted as DeleteObject would, each refused one (the pipeline decided
/// `s3:DeleteObject` per key) reported as an error beside the others' results.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html>.
pub fn delete_objects(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteObjectsRequest,
) -> Result<shapes::DeleteObjectsOutput, ServiceError> {
    if input.delete.objects.is_empty() || input.delete.objects.len() > MAX_DELETE {
        return Err(crate::malformed_xml());
    }
    let b = bucket_tx(tx, &input.bucket)?;
    let quiet = input.delete.quiet.unwrap_or(false);
    let (mut deleted, mut errors) = (Vec::new(), Vec::new());
    for (i, o) in input.delete.objects.into_iter().enumerate() {
        let error = |code: &str, message: &str| shapes::Error {
            key: Some(o.key.clone()),
            version_id: o.version_id.clone(),
            code: Some(code.to_owned()),
            message: Some(message.to_owned()),
        };
        if ctx.refused.contains(&i) {
            errors.push(error("AccessDenied", "Access Denied"));
            continue;
        }
        if b.mfa_delete
            && o.version_id.is_some()
            && let Err(e) = crate::protection::mfa_delete_allows(&b, ctx, input.mfa.as_deref())
        {
            errors.push(error(&e.code, &e.message));
            continue;
        }
        let bypass = input.bypass_governance_retention == Some(true);
        match delete_one(tx, &b, (&o.key, o.version_id.as_deref()), bypass, ctx.now) {
            Ok(d) if !quiet => deleted.push(shapes::DeletedObject {
                key: Some(o.key),
                version_id: o.version_id.clone(),
                delete_marker: d.delete_marker.then_some(true),
                delete_marker_version_id: if d.delete_marker && o.version_id.is_none() { d.version_id } else { None },
            }),
            Ok(_) => {}
            Err(e) if e.status < 500 => errors.push(error(&e.code, &e.message)),
            Err(e) => return Err(e),
        }
    }
    Ok(shapes::DeleteObjectsOutput {
        deleted: (!deleted.is_empty()).then_some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        ..shapes::DeleteObjectsOutput::default()
    })
}

/// One page of current objects.
pub(crate) struct Page {
    pub objects: Vec<ObjectRecord>,
    pub common: Vec<String>,
    pub truncated: bool,
    /// Where the next page resumes (exclusive): the last key, or a rolled-up prefix plus 0xFF.
    pub last: Option<Vec<u8>>,
}

/// Where a listing resumes after `key` (a key, or a rolled-up prefix plus 0xFF): past every
/// version of it.
fn resume_after(base: &[u8], key: &[u8]) -> Vec<u8> {
    [base, key, &[0, 0xFF]].concat()
}

/// The key an entry under `base` belongs to.
fn entry_key<'k>(base: &[u8], entry: &'k [u8]) -> &'k [u8] {
    let rest = entry.get(base.len()..).unwrap_or_default();
    rest.iter().position(|b| *b == 0).and_then(|i| rest.get(..i)).unwrap_or(rest)
}

/// The common prefix a key rolls up into at `delimiter`, if any.
fn rolled_up(key: &str, prefix: &str, delimiter: Option<&str>) -> Option<String> {
    let d = delimiter?;
    let i = key.get(prefix.len()..)?.find(d)?;
    key.get(..prefix.len() + i + d.len()).map(str::to_owned)
}

/// Lists the current objects after `after` (exclusive) under `prefix`, rolling keys up to the
/// first `delimiter` after the prefix into common prefixes (each counts toward `max_keys`).
pub(crate) fn list_current(
    db: &Db,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    mut after: Option<Vec<u8>>,
    max_keys: usize,
) -> Result<Page, ServiceError> {
    let base = object_prefix(bucket);
    let scan_prefix = [base.as_slice(), prefix.as_bytes()].concat();
    let mut page = Page { objects: Vec::new(), common: Vec::new(), truncated: false, last: None };
    let mut seen: Option<Vec<u8>> = None;
    'scan: loop {
        let from = after.as_ref().map(|a| resume_after(&base, a));
        let batch = db.scan_prefix(&scan_prefix, from.as_deref(), MAX_KEYS, false)?;
        if batch.is_empty() {
            break;
        }
        let last_batch = batch.len() < MAX_KEYS;
        for (k, v) in batch {
            let key_bytes = entry_key(&base, &k).to_vec();
            // A key's newest version comes first; the older ones are history.
            if seen.as_ref() == Some(&key_bytes) {
                continue;
            }
            seen = Some(key_bytes.clone());
            after = Some(key_bytes.clone());
            let o = decode(&v)?;
            if o.delete_marker {
                continue;
            }
            if page.objects.len() + page.common.len() == max_keys {
                // A page of no keys asked for is complete, as S3 answers `max-keys=0`.
                page.truncated = max_keys > 0;
                break 'scan;
            }
            match rolled_up(&o.key, prefix, delimiter) {
                Some(cp) => {
                    // Everything under this common prefix is skipped: 0xFF never occurs in UTF-8.
                    let mut skip = cp.as_bytes().to_vec();
                    skip.push(0xFF);
                    after = Some(skip.clone());
                    page.last = Some(skip);
                    page.common.push(cp);
                    continue 'scan;
                }
                None => {
                    page.last = Some(key_bytes);
                    page.objects.push(o);
                }
            }
        }
        if last_batch {
            break;
        }
    }
    Ok(page)
}

fn max_keys_of(n: Option<i32>) -> Result<usize, ServiceError> {
    match n {
        None => Ok(MAX_KEYS),
        Some(n) if n < 0 => Err(invalid_argument("max-keys cannot be negative")),
        Some(n) => Ok(usize::try_from(n).unwrap_or(MAX_KEYS).min(MAX_KEYS)),
    }
}

fn listed(o: ObjectRecord) -> shapes::Object {
    shapes::Object {
        key: Some(o.key),
        last_modified: Some(o.last_modified),
        e_tag: Some(o.etag),
        checksum_type: o.checksum.as_ref().map(|_| o.checksum_type.clone().unwrap_or_else(|| FULL_OBJECT.to_owned())),
        checksum_algorithm: o.checksum.map(|(a, _)| vec![a]),
        size: i64::try_from(o.size).ok(),
        storage_class: Some("STANDARD".to_owned()),
        ..shapes::Object::default()
    }
}

/// S3's `EncodingType=url`: a listing's keys, prefixes, delimiters and markers come back
/// percent-encoded (everything but unreserved characters and `/`), so that any key can travel in
/// XML; botocore asks for it on every listing and decodes what comes back marked so.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html#AmazonS3-ListObjectsV2-request-header-EncodingType>.
pub(crate) struct UrlEncoding(bool);

impl UrlEncoding {
    pub(crate) fn of(asked: Option<&str>) -> Result<Self, ServiceError> {
        match asked {
            None => Ok(Self(false)),
            Some("url") => Ok(Self(true)),
            Some(_) => Err(invalid_argument("Invalid Encoding Method specified in Request")),
        }
    }

    /// Encodes each of `fields` in place; the value of the output's `EncodingType`.
    pub(crate) fn apply<'a>(&self, fields: impl IntoIterator<Item = &'a mut Option<String>>) -> Option<String> {
        if !self.0 {
            return None;
        }
        for f in fields {
            if let Some(v) = f.as_mut() {
                *v = percent_encoding::utf8_percent_encode(v, crate::KEY_IN_PATH).to_string();
            }
        }
        Some("url".to_owned())
    }
}

fn common_prefixes(common: Vec<String>) -> Option<Vec<shapes::CommonPrefix>> {
    (!common.is_empty()).then(|| common.into_iter().map(|p| shapes::CommonPrefix { prefix: Some(p) }).collect())
}

pub fn list_objects_v2(
    ctx: &Ctx<'_>,
    input: shapes::ListObjectsV2Request,
) -> Result<shapes::ListObjectsV2Output, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    let max_keys = max_keys_of(input.max_keys)?;
    let encoding = UrlEncoding::of(input.encoding_type.as_deref())?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    // Where to resume: a key (exclusive) inside the bucket.
    let after: Option<Vec<u8>> = match &input.continuation_token {
        Some(t) => Some(
            data_encoding::BASE64URL_NOPAD
                .decode(t.as_bytes())
                .map_err(|_| invalid_argument("The continuation token provided is incorrect"))?,
        ),
        None => input.start_after.as_ref().map(|s| s.as_bytes().to_vec()),
    };
    let page = list_current(ctx.db, &b.name, &prefix, delimiter.as_deref(), after, max_keys)?;
    let key_count = page.objects.len() + page.common.len();
    let owner = input.fetch_owner.unwrap_or(false).then(|| owner(&b));
    let contents: Vec<shapes::Object> =
        page.objects.into_iter().map(|o| shapes::Object { owner: owner.clone(), ..listed(o) }).collect();
    let mut out = shapes::ListObjectsV2Output {
        is_truncated: Some(page.truncated),
        contents: (!contents.is_empty()).then_some(contents),
        name: Some(b.name.clone()),
        prefix: Some(prefix),
        delimiter,
        max_keys: i32::try_from(max_keys).ok(),
        common_prefixes: common_prefixes(page.common),
        key_count: i32::try_from(key_count).ok(),
        continuation_token: input.continuation_token,
        next_continuation_token: if page.truncated {
            page.last.map(|l| data_encoding::BASE64URL_NOPAD.encode(&l))
        } else {
            None
        },
        start_after: input.start_after,
        ..shapes::ListObjectsV2Output::default()
    };
    let keys = out.contents.iter_mut().flatten().map(|o| &mut o.key);
    let prefixes = out.common_prefixes.iter_mut().flatten().map(|p| &mut p.prefix);
    let top = [&mut out.prefix, &mut out.delimiter, &mut out.start_after];
    out.encoding_type = encoding.apply(top.into_iter().chain(keys).chain(prefixes));
    Ok(out)
}

fn owner(b: &BucketRecord) -> shapes::Owner {
    shapes::Owner { display_name: None, id: Some(canonical_id(&b.account_id)) }
}

/// ListObjects (version 1): pages by `Marker`, a key to list after. `NextMarker` comes back when a
/// truncated listing has a delimiter (the last key or common prefix); without one, the last key
/// listed is the next marker, as S3 documents.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html>.
pub fn list_objects(
    ctx: &Ctx<'_>,
    input: shapes::ListObjectsRequest,
) -> Result<shapes::ListObjectsOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    let max_keys = max_keys_of(input.max_keys)?;
    let encoding = UrlEncoding::of(input.encoding_type.as_deref())?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let after = input.marker.as_ref().filter(|m| !m.is_empty()).map(|m| {
        let mut a = m.as_bytes().to_vec();
        // A common prefix as marker: resume past everything under it.
        if delimiter.as_ref().is_some_and(|d| m.ends_with(d.as_str())) {
            a.push(0xFF);
        }
        a
    });
    let page = list_current(ctx.db, &b.name, &prefix, delimiter.as_deref(), after, max_keys)?;
    let next_marker = (page.truncated && delimiter.is_some())
        .then(|| {
            let last_key = page.objects.last().map(|o| o.key.clone());
            let last_prefix = page.common.last().cloned();
            last_key.into_iter().chain(last_prefix).max()
        })
        .flatten();
    let owner = owner(&b);
    let contents: Vec<shapes::Object> =
        page.objects.into_iter().map(|o| shapes::Object { owner: Some(owner.clone()), ..listed(o) }).collect();
    let mut out = shapes::ListObjectsOutput {
        is_truncated: Some(page.truncated),
        marker: Some(input.marker.unwrap_or_default()),
        next_marker,
        contents: (!contents.is_empty()).then_some(contents),
        name: Some(b.name.clone()),
        prefix: Some(prefix),
        delimiter,
        max_keys: i32::try_from(max_keys).ok(),
        common_prefixes: common_prefixes(page.common),
        ..shapes::ListObjectsOutput::default()
    };
    let keys = out.contents.iter_mut().flatten().map(|o| &mut o.key);
    let prefixes = out.common_prefixes.iter_mut().flatten().map(|p| &mut p.prefix);
    let top = [&mut out.prefix, &mut out.delimiter, &mut out.marker, &mut out.next_marker];
    out.encoding_type = encoding.apply(top.into_iter().chain(keys).chain(prefixes));
    Ok(out)
}

/// ListObjectVersions: every version and delete marker, by key in UTF-8 binary order and each
/// key's newest first, paged by `KeyMarker` and `VersionIdMarker`.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html>.
pub fn list_object_versions(
    ctx: &Ctx<'_>,
    input: shapes::ListObjectVersionsRequest,
) -> Result<shapes::ListObjectVersionsOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    let max_keys = max_keys_of(input.max_keys)?;
    let encoding = UrlEncoding::of(input.encoding_type.as_deref())?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let base = object_prefix(&b.name);
    let key_marker = input.key_marker.clone().filter(|k| !k.is_empty());
    let version_marker = input.version_id_marker.clone().filter(|v| !v.is_empty());
    if version_marker.is_some() && key_marker.is_none() {
        return Err(invalid_argument("A version-id marker cannot be specified without a key marker."));
    }
    // Resume after the marked version of the key marker, or after the whole key.
    let mut from: Option<Vec<u8>> = match (&key_marker, &version_marker) {
        (Some(k), Some(v)) => {
            check_version_id(v)?;
            let found = versions(ctx.db, &b.name, k)?.into_iter().find(|(_, o)| o.version_id() == v);
            Some(found.map_or_else(|| resume_after(&base, k.as_bytes()), |(entry, _)| entry))
        }
        (Some(k), None) => Some(resume_after(&base, k.as_bytes())),
        _ => None,
    };
    let scan_prefix = [base.as_slice(), prefix.as_bytes()].concat();
    let (mut versions_out, mut markers, mut common) = (Vec::new(), Vec::new(), Vec::<String>::new());
    let mut seen: Option<Vec<u8>> = None;
    let mut truncated = false;
    let mut next: Option<(String, String)> = None;
    let owner = owner(&b);
    'scan: loop {
        let batch = ctx.db.scan_prefix(&scan_prefix, from.as_deref(), MAX_KEYS, false)?;
        if batch.is_empty() {
            break;
        }
        let last_batch = batch.len() < MAX_KEYS;
        for (k, v) in batch {
            from = Some(k.clone());
            let key_bytes = entry_key(&base, &k).to_vec();
            let is_latest = seen.as_ref() != Some(&key_bytes);
            // The newest version of a key listed on an earlier page is not the latest here only
            // when the page resumed inside the key.
            let is_latest = is_latest
                && !(key_marker.as_deref().map(str::as_bytes) == Some(&key_bytes[..]) && version_marker.is_some());
            seen = Some(key_bytes.clone());
            let o = decode(&v)?;
            if versions_out.len() + markers.len() + common.len() == max_keys {
                truncated = max_keys > 0;
                break 'scan;
            }
            if let Some(cp) = rolled_up(&o.key, &prefix, delimiter.as_deref()) {
                let mut skip = cp.as_bytes().to_vec();
                skip.push(0xFF);
                from = Some(resume_after(&base, &skip));
                next = Some((cp.clone(), String::new()));
                common.push(cp);
                continue 'scan;
            }
            next = Some((o.key.clone(), o.version_id().to_owned()));
            if o.delete_marker {
                markers.push(shapes::DeleteMarkerEntry {
                    owner: Some(owner.clone()),
                    key: Some(o.key.clone()),
                    version_id: Some(o.version_id().to_owned()),
                    is_latest: Some(is_latest),
                    last_modified: Some(o.last_modified),
                });
            } else {
                versions_out.push(shapes::ObjectVersion {
                    e_tag: Some(o.etag.clone()),
                    checksum_algorithm: o.checksum.as_ref().map(|(a, _)| vec![a.clone()]),
                    checksum_type: o
                        .checksum
                        .as_ref()
                        .map(|_| o.checksum_type.clone().unwrap_or_else(|| FULL_OBJECT.to_owned())),
                    size: i64::try_from(o.size).ok(),
                    storage_class: Some("STANDARD".to_owned()),
                    key: Some(o.key.clone()),
                    version_id: Some(o.version_id().to_owned()),
                    is_latest: Some(is_latest),
                    last_modified: Some(o.last_modified),
                    owner: Some(owner.clone()),
                    ..shapes::ObjectVersion::default()
                });
            }
        }
        if last_batch {
            break;
        }
    }
    let (next_key, next_version) = match (truncated, next) {
        (true, Some((k, v))) => (Some(k), (!v.is_empty()).then_some(v)),
        _ => (None, None),
    };
    let mut out = shapes::ListObjectVersionsOutput {
        is_truncated: Some(truncated),
        key_marker: Some(input.key_marker.unwrap_or_default()),
        version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
        next_key_marker: next_key,
        next_version_id_marker: next_version,
        versions: (!versions_out.is_empty()).then_some(versions_out),
        delete_markers: (!markers.is_empty()).then_some(markers),
        name: Some(b.name.clone()),
        prefix: Some(prefix),
        delimiter,
        max_keys: i32::try_from(max_keys).ok(),
        common_prefixes: common_prefixes(common),
        ..shapes::ListObjectVersionsOutput::default()
    };
    let keys = out.versions.iter_mut().flatten().map(|v| &mut v.key);
    let marker_keys = out.delete_markers.iter_mut().flatten().map(|m| &mut m.key);
    let prefixes = out.common_prefixes.iter_mut().flatten().map(|p| &mut p.prefix);
    let top = [&mut out.prefix, &mut out.delimiter, &mut out.key_marker, &mut out.next_key_marker];
    out.encoding_type = encoding.apply(top.into_iter().chain(keys).chain(marker_keys).chain(prefixes));
    Ok(out)
}

/// The version an object sub-resource call names, in a transaction, with its entry.
pub(crate) fn version_tx(tx: &Tx<'_>, bucket: &str, key: &str, id: Option<&str>) -> Result<Entry, ServiceError> {
    let all = versions_tx(tx, bucket, key)?;
    let found = match id {
        None => all.into_iter().next().filter(|(_, o)| !o.delete_marker).ok_or_else(no_such_key)?,
        Some(id) => {
            check_version_id(id)?;
            all.into_iter().find(|(_, o)| o.version_id() == id).ok_or_else(no_such_version)?
        }
    };
    if found.1.delete_marker {
        return Err(crate::method_not_allowed());
    }
    Ok(found)
}

/// An object as a malware scan sees it (GuardDuty's Malware Protection for S3).
#[derive(Debug)]
pub struct Scanned {
    pub bucket_owner: String,
    pub region: String,
    pub version_id: Option<String>,
    pub etag: String,
    pub size: u64,
    /// Which write of the key it is (see [`set_object_tag`]).
    pub seq: u64,
    /// Its bytes, opened; `None` when it is larger than the scan takes or sealed with the
    /// customer's own key (SSE-C), which the scanner does not have.
    pub bytes: Option<Vec<u8>>,
}

impl Scanned {
    fn of(b: &BucketRecord, o: &ObjectRecord, bytes: Option<Vec<u8>>) -> Self {
        Scanned {
            bucket_owner: b.account_id.clone(),
            region: b.region.clone(),
            version_id: o.version_id.clone(),
            etag: o.etag.clone(),
            size: o.size,
            seq: o.seq,
            bytes,
        }
    }
}

/// An object (one version; the current one when none is named) read for a malware scan outside
/// any transaction, so that the store's writer does not wait on the read or the scan; `None` when
/// it is not there (or went while it was read). Its bytes are not read past `max`, nor under the
/// customer's own key (SSE-C), which the scanner does not have.
pub fn object_for_scan(
    db: &Db,
    sealer: &Sealer,
    (bucket, key, version): (&str, &str, Option<&str>),
    max: u64,
    now: OffsetDateTime,
) -> Result<Option<Scanned>, ServiceError> {
    let Ok(b) = self::bucket(db, bucket) else { return Ok(None) };
    let Some(o) = version_asked(db, &b.name, key, version)?.filter(|o| !o.delete_marker) else { return Ok(None) };
    let bytes = match o.size <= max && o.sse_c.is_none() {
        true => match read_range(&uncached(db), sealer, &b, (&o, None), (0, o.size), now) {
            Ok(bytes) => Some(bytes),
            Err(e) if crate::data::is_gone(&e) => return Ok(None),
            Err(e) => return Err(e),
        },
        false => None,
    };
    Ok(Some(Scanned::of(&b, &o, bytes)))
}

/// Whether an object version is still the write a scan read (its [`Scanned::seq`]): not
/// deleted, nor a null version written over since.
pub fn still_scanned(
    tx: &Tx<'_>,
    (bucket, key, version): (&str, &str, Option<&str>),
    seq: u64,
) -> Result<bool, ServiceError> {
    match version_tx(tx, bucket, key, version) {
        Ok((_, o)) => Ok(o.seq == seq),
        Err(e) if e.status < 500 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Sets one tag of an object version (GuardDuty's scan result), keeping its others; false when
/// the object already has the most tags S3 allows and not this one, as GuardDuty then cannot tag.
pub fn set_object_tag(
    tx: &mut Tx<'_>,
    (bucket, key, version): (&str, &str, Option<&str>),
    (tag, value): (&str, &str),
) -> Result<bool, ServiceError> {
    let b = bucket_tx(tx, bucket)?;
    let (entry, mut o) = version_tx(tx, &b.name, key, version)?;
    let full = o.tags.len() >= 10;
    match o.tags.iter_mut().find(|(k, _)| k == tag) {
        Some((_, v)) => value.clone_into(v),
        None if full => return Ok(false),
        None => o.tags.push((tag.to_owned(), value.to_owned())),
    }
    records::write_tx(tx, &entry, &o)?;
    Ok(true)
}

fn tag_set(tags: &[(String, String)]) -> Vec<shapes::Tag> {
    tags.iter().map(|(k, v)| shapes::Tag { key: k.clone(), value: v.clone() }).collect()
}

pub fn get_object_tagging(
    ctx: &Ctx<'_>,
    input: shapes::GetObjectTaggingRequest,
) -> Result<shapes::GetObjectTaggingOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    let o = version_for_read(ctx, &b.name, &input.key, input.version_id.as_deref())?;
    Ok(shapes::GetObjectTaggingOutput {
        version_id: o.version_id.clone().or_else(|| b.versioning.is_some().then(|| NULL_VERSION.to_owned())),
        tag_set: tag_set(&o.tags),
    })
}

fn retag(
    tx: &mut Tx<'_>,
    bucket: &str,
    key: &str,
    id: Option<&str>,
    tags: Vec<(String, String)>,
) -> Result<Option<String>, ServiceError> {
    let b = bucket_tx(tx, bucket)?;
    let (entry, mut o) = version_tx(tx, &b.name, key, id)?;
    o.tags = tags;
    records::write_tx(tx, &entry, &o)?;
    Ok(o.version_id.or_else(|| b.versioning.is_some().then(|| NULL_VERSION.to_owned())))
}

pub fn put_object_tagging(
    tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::PutObjectTaggingRequest,
) -> Result<shapes::PutObjectTaggingOutput, ServiceError> {
    let tags: Vec<(String, String)> = input.tagging.tag_set.into_iter().map(|t| (t.key, t.value)).collect();
    crate::protection::check_tags(&tags, 10)?;
    let version_id = retag(tx, &input.bucket, &input.key, input.version_id.as_deref(), tags)?;
    Ok(shapes::PutObjectTaggingOutput { version_id })
}

pub fn delete_object_tagging(
    tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::DeleteObjectTaggingRequest,
) -> Result<shapes::DeleteObjectTaggingOutput, ServiceError> {
    let version_id = retag(tx, &input.bucket, &input.key, input.version_id.as_deref(), Vec::new())?;
    Ok(shapes::DeleteObjectTaggingOutput { version_id })
}

pub fn get_object_acl(
    ctx: &Ctx<'_>,
    input: shapes::GetObjectAclRequest,
) -> Result<shapes::GetObjectAclOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    let o = version_for_read(ctx, &b.name, &input.key, input.version_id.as_deref())?;
    let (owner, grants) = crate::protection::acl_grants(&b, o.acl.as_deref(), &o.grants);
    Ok(shapes::GetObjectAclOutput { owner: Some(owner), grants: Some(grants), ..shapes::GetObjectAclOutput::default() })
}

pub fn put_object_acl(
    tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::PutObjectAclRequest,
) -> Result<shapes::PutObjectAclOutput, ServiceError> {
    let b = bucket_tx(tx, &input.bucket)?;
    let pab = crate::protection::effective_pab_tx(tx, &b)?;
    let asked =
        crate::acl::asked!(input, write: input.grant_write.as_deref(), body: input.access_control_policy.as_ref());
    let acl = crate::acl::settle(tx, pab, &b, &asked, true)?;
    let (entry, mut o) = version_tx(tx, &b.name, &input.key, input.version_id.as_deref())?;
    o.acl = acl.canned;
    o.grants = acl.grants;
    records::write_tx(tx, &entry, &o)?;
    Ok(shapes::PutObjectAclOutput::default())
}

/// Rewrites objects stored before versions existed (one entry per key, bytes in clear) into the
/// versioned layout as null versions, their bytes sealed. Idempotent; run at start-up.
pub async fn upgrade(db: &Db, sealer: std::sync::Arc<Sealer>) -> Result<usize, ServiceError> {
    // Done once per store: a marker spares every later start the scan of every object.
    if db.get(LAYOUT_KEY)?.as_deref() == Some(LAYOUT.as_bytes()) {
        return Ok(0);
    }
    let prefix = b"s3/object/";
    let mut moved = 0;
    let mut after: Option<Vec<u8>> = None;
    loop {
        let batch = db.scan_prefix(prefix, after.as_deref(), MAX_KEYS, false)?;
        let done = batch.len() < MAX_KEYS;
        after = batch.last().map(|(k, _)| k.clone());
        for (entry, value) in batch.into_iter().filter(|(k, _)| !k.contains(&0)) {
            let mut o = decode(&value)?;
            let rest = entry.get(prefix.len()..).unwrap_or_default();
            let Some((bucket, _)) = std::str::from_utf8(rest).ok().and_then(|r| r.split_once('/')) else {
                continue;
            };
            let bucket = bucket.to_owned();
            let sealer = sealer.clone();
            db.transact(move |tx| -> Result<(), ServiceError> {
                let old_data = format!("s3/data/{bucket}/{}", o.key).into_bytes();
                tx.delete(&entry)?;
                let Some(data) = tx.get(&old_data)? else { return Ok(()) };
                let sealing = crate::encryption::Plan::sse_s3().begin(&sealer)?.0;
                crate::data::write(tx, &sealing, &data_key(&bucket, &o.key, None), &data)?;
                tx.delete(&old_data)?;
                (o.version_id, o.sealed, o.seq) = (None, true, 0);
                records::write_tx(tx, &version_entry(&bucket, &o.key, 0), &o)
            })
            .await
            .map_err(|e| match e {
                rampart_store::TxError::Aborted(e) => e,
                rampart_store::TxError::Store(e) => ServiceError::from(e),
            })?;
            moved += 1;
        }
        if done {
            db.transact(|tx| tx.put(LAYOUT_KEY, LAYOUT.as_bytes())).await.map_err(|e| match e {
                rampart_store::TxError::Aborted(e) | rampart_store::TxError::Store(e) => ServiceError::from(e),
            })?;
            return Ok(moved);
        }
    }
}

/// Where the store notes that its objects are in the versioned, chunked layout.
const LAYOUT_KEY: &[u8] = b"s3/layout";
const LAYOUT: &str = "versions-chunks-1";

/// A `x-amz-copy-source`: `BUCKET/KEY` (URL-encoded, a leading `/` allowed), optionally with
/// `?versionId=ID`.
pub(crate) fn parse_copy_source(source: &str) -> Result<(String, String, Option<String>), ServiceError> {
    let bad = || invalid_argument("Invalid copy source object key");
    let (path, query) = source.split_once('?').unwrap_or((source, ""));
    let decoded =
        percent_encoding::percent_decode_str(path.trim_start_matches('/')).decode_utf8().map_err(|_| bad())?;
    let (bucket, key) = decoded.split_once('/').ok_or_else(bad)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(bad());
    }
    let version = match query.split_once('=') {
        Some(("versionId", v)) => Some(v.to_owned()),
        None if query.is_empty() => None,
        _ => return Err(bad()),
    };
    Ok((bucket.to_owned(), key.to_owned(), version))
}

/// A copy's preconditions on its source: as a read's, but an unchanged source fails (412).
pub(crate) fn check_copy_preconditions(
    src: &ObjectRecord,
    (if_match, if_none_match): (Option<&str>, Option<&str>),
    (modified_since, unmodified_since): (Option<OffsetDateTime>, Option<OffsetDateTime>),
) -> Result<(), ServiceError> {
    check_preconditions(src, if_match, if_none_match, modified_since, unmodified_since)
        .map_err(|e| if e.status == 304 { precondition_failed() } else { e })
}

/// The largest object one CopyObject copies (AWS's limit; larger ones copy in parts).
const MAX_COPY: u64 = 5 * 1024 * 1024 * 1024;

/// CopyObject: a new version of the destination with the source's bytes, sealed as the
/// destination's request or bucket asks; its metadata and tags copied or replaced as the
/// directives say.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html>.
pub fn copy_object(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CopyObjectRequest,
) -> Result<shapes::CopyObjectOutput, ServiceError> {
    let src_customer = copy_source_customer_key!(input)?;
    let (src_bucket, src_key, src_version) = parse_copy_source(&input.copy_source)?;
    let sb = bucket_tx(tx, &src_bucket)?;
    let (_, src) = version_tx(tx, &sb.name, &src_key, src_version.as_deref())?;
    check_copy_preconditions(
        &src,
        (input.copy_source_if_match.as_deref(), input.copy_source_if_none_match.as_deref()),
        (input.copy_source_if_modified_since, input.copy_source_if_unmodified_since),
    )?;
    if src.size > MAX_COPY {
        return Err(ServiceError::new(
            "InvalidRequest",
            400,
            "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120",
        ));
    }
    let b = bucket_tx(tx, &input.bucket)?;
    check_key(&input.key)?;
    let replace_metadata = match input.metadata_directive.as_deref() {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(_) => return Err(invalid_argument("Unknown metadata directive.")),
    };
    let replace_tags = match input.tagging_directive.as_deref() {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(_) => return Err(invalid_argument("Unknown tagging directive.")),
    };
    let same = sb.name == b.name && src_key == input.key && src_version.is_none();
    let changes = replace_metadata
        || input.server_side_encryption.is_some()
        || input.ssekms_key_id.is_some()
        || input.sse_customer_algorithm.is_some();
    if same && !changes {
        return Err(ServiceError::new(
            "InvalidRequest",
            400,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let body =
        read_range(&records::tx_reader(tx), ctx.sealer, &sb, (&src, src_customer.as_ref()), (0, src.size), ctx.now)?;
    let Settled { plan, lock, acl } = settle(tx, ctx, &b, &input.key, &version_asks!(input))?;
    let (content_type, metadata) = if replace_metadata {
        (input.content_type.clone(), input.metadata.clone().unwrap_or_default())
    } else {
        (src.content_type.clone(), src.metadata.clone())
    };
    // The copy's bytes get a full-object checksum: of the kind asked for, else of the source's
    // kind, else S3's default.
    let algorithm = match input.checksum_algorithm.as_deref() {
        Some(name) => Algorithm::parse(name).ok_or_else(|| {
            ServiceError::new("NotImplemented", 501, format!("Rampart does not compute {name} checksums yet."))
        })?,
        None => src.checksum.as_ref().and_then(|(a, _)| Algorithm::parse(a)).unwrap_or(Algorithm::Crc64Nvme),
    };
    let checksum = Some((algorithm.name().to_owned(), algorithm.encode(&body)));
    let md5 = md5_of(&body);
    let mut rec = new_record(&b, &input.key, (&body, md5), content_type, metadata, checksum, ctx.now)?;
    rec.tags = if replace_tags {
        input.tagging.as_deref().map(parse_tagging).transpose()?.unwrap_or_default()
    } else {
        src.tags.clone()
    };
    rec.acl = acl.canned;
    rec.grants = acl.grants;
    rec.lock = lock;
    rec.headers = if replace_metadata { crate::stored_headers!(input) } else { src.headers.clone() };
    let (sealing, kms) = plan.begin(ctx.sealer)?;
    rec.sse = Some(plan.algorithm.clone());
    rec.kms = kms;
    rec.sse_c = plan.customer_check()?;
    let rec = write_version(tx, &b, rec, Some((&sealing, &body)))?;
    let (sse, key_id, bucket_key) = sse_headers(&rec);
    let (sse_customer_algorithm, sse_customer_key_md5) = customer_headers(&rec);
    Ok(shapes::CopyObjectOutput {
        sse_customer_algorithm,
        sse_customer_key_md5,
        copy_object_result: Some({
            let mut result = shapes::CopyObjectResult {
                e_tag: Some(rec.etag.clone()),
                last_modified: Some(rec.last_modified),
                checksum_type: Some(FULL_OBJECT.to_owned()),
                ..shapes::CopyObjectResult::default()
            };
            set_checksums!(result, Fields::of(rec.checksum.as_ref()));
            result
        }),
        copy_source_version_id: src
            .version_id
            .clone()
            .or_else(|| sb.versioning.is_some().then(|| NULL_VERSION.to_owned())),
        version_id: rec.version_id,
        server_side_encryption: sse,
        ssekms_key_id: key_id,
        bucket_key_enabled: bucket_key,
        ..shapes::CopyObjectOutput::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_read_as_s3_reads_them() {
        assert_eq!(parse_copy_source("b/a%20b/c").unwrap(), ("b".into(), "a b/c".into(), None));
        assert_eq!(parse_copy_source("/b/k?versionId=v1").unwrap(), ("b".into(), "k".into(), Some("v1".into())));
        for bad in ["b", "/b/", "b/k?x=y", "%ff/k"] {
            assert!(parse_copy_source(bad).is_err(), "{bad}");
        }
    }

    /// A digest worked out before the transaction is taken only for the buffer it came from:
    /// another body of the same length gets its own.
    #[test]
    fn a_prepared_md5_is_taken_only_for_its_own_buffer() {
        let (a, b) = (b"first body".to_vec(), b"other body".to_vec());
        let prepared = Md5Of::new(&a);
        let lent = Some(&prepared as &(dyn std::any::Any + Send + Sync));
        let md5 = |body: &[u8]| -> [u8; 16] { md5::Md5::digest(body).into() };
        assert_eq!(Md5Of::of(lent, &a), md5(&a));
        assert_eq!(Md5Of::of(lent, &b), md5(&b));
        assert_eq!(Md5Of::of(lent, &a[..4]), md5(&a[..4]));
        assert_eq!(Md5Of::of(None, &b), md5(&b));
    }

    #[test]
    fn ranges_read_as_s3_reads_them() {
        let r = |h: &str| byte_range(Some(h), 10).map_err(|e| e.code.into_owned());
        assert_eq!(r("bytes=0-3"), Ok(Some((0, 4))));
        assert_eq!(r("bytes=5-"), Ok(Some((5, 10))));
        assert_eq!(r("bytes=-3"), Ok(Some((7, 10))));
        assert_eq!(r("bytes=8-100"), Ok(Some((8, 10))));
        assert_eq!(r("bytes=-100"), Ok(Some((0, 10))));
        assert_eq!(r("bytes=10-"), Err("InvalidRange".to_owned()));
        // What S3 cannot serve as one range is the whole object.
        for whole in ["bytes=0-1,3-4", "bytes=4-2", "items=0-1", "bytes=a-b", "bytes=-"] {
            assert_eq!(r(whole), Ok(None), "{whole}");
        }
        assert_eq!(byte_range(None, 10).unwrap(), None);
        assert_eq!(byte_range(Some("bytes=0-0"), 0).unwrap_err().code, "InvalidRange");
    }

    #[test]
    fn preconditions_weigh_etags_before_dates() {
        let t = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        let o = ObjectRecord {
            v: 1,
            key: "k".into(),
            size: 1,
            etag: "\"abc\"".into(),
            last_modified: t,
            content_type: None,
            metadata: BTreeMap::new(),
            version_id: None,
            seq: 0,
            delete_marker: false,
            sealed: true,
            tags: Vec::new(),
            checksum: None,
            checksum_type: None,
            acl: None,
            grants: Vec::new(),
            sse: None,
            kms: None,
            sse_c: None,
            parts: Vec::new(),
            lock: None,
            own_run: false,
            headers: crate::StoredHeaders::default(),
        };
        let code = |m: Option<&str>, n: Option<&str>, ms: Option<OffsetDateTime>, us: Option<OffsetDateTime>| {
            check_preconditions(&o, m, n, ms, us).map_err(|e| e.status)
        };
        let (before, after) = (t - time::Duration::hours(1), t + time::Duration::hours(1));
        assert_eq!(code(Some("\"abc\""), None, None, Some(before)), Ok(()));
        assert_eq!(code(Some("\"xyz\""), None, None, None), Err(412));
        assert_eq!(code(None, None, None, Some(before)), Err(412));
        assert_eq!(code(None, Some("\"abc\""), None, None), Err(304));
        assert_eq!(code(None, Some("\"xyz\""), Some(after), None), Ok(()));
        assert_eq!(code(None, None, Some(after), None), Err(304));
        assert_eq!(code(None, None, Some(before), None), Ok(()));
    }
}
