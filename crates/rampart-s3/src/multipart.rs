//! Multipart uploads: an upload is begun with the object's metadata and encryption (an SSE-KMS
//! upload's data key is made then, and every part is sealed with it), parts arrive in any order
//! and may be sent again, and completing assembles the listed parts into a version without
//! moving their bytes: the version keeps where its parts are. Aborting, or completing without a
//! part, deletes that part's bytes.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html>.

use std::collections::BTreeMap;

use md5::Digest as _;
use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::s3 as shapes;
use rampart_shapes::{FromValue, IntoValue, ShapeError, Value};
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::checksums::{self, Algorithm, Fields, set_checksums};
use crate::encryption::{CustomerKey, CustomerKeyCheck, KmsEnvelope};
use crate::objects::{self, sent};
use crate::{BucketRecord, MAX_KEYS, ObjectRecord, PartRef, bucket, bucket_tx, canonical_id, invalid_argument};

/// An upload in progress, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UploadRecord {
    pub v: u32,
    pub key: String,
    pub upload_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub initiated: OffsetDateTime,
    /// Who began it (its ARN) and their account.
    pub initiator: String,
    pub account: String,
    pub content_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub tags: Vec<(String, String)>,
    pub acl: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<crate::acl::Grant>,
    pub sse: String,
    pub kms: Option<KmsEnvelope>,
    /// SSE-C: what recognises the customer's key, which every part must be sent with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_c: Option<CustomerKeyCheck>,
    pub checksum_algorithm: Option<String>,
    /// `FULL_OBJECT` or `COMPOSITE` (`None` on uploads begun before Rampart kept it: the
    /// algorithm's default).
    #[serde(default)]
    pub checksum_type: Option<String>,
    #[serde(default)]
    pub lock: Option<crate::lock::VersionLock>,
    /// The headers the object keeps (see [`crate::StoredHeaders`]).
    #[serde(default, skip_serializing_if = "crate::StoredHeaders::is_empty")]
    pub headers: crate::StoredHeaders,
}

impl UploadRecord {
    /// The encryption headers its calls answer: `x-amz-server-side-encryption` (not for SSE-C),
    /// then SSE-C's algorithm and key MD5.
    fn sse_answer(&self) -> (Option<String>, Option<String>, Option<String>) {
        match &self.sse_c {
            Some(c) => (None, Some("AES256".to_owned()), Some(c.md5.clone())),
            None => (Some(self.sse.clone()), None, None),
        }
    }

    /// The sealing of the upload's parts: its KMS data key opened, or the customer's key the
    /// request sent (which must be the upload's), or Rampart's own.
    fn sealing<'s>(
        &self,
        get: &records::Reader<'_>,
        sealer: &'s rampart_store::Sealer,
        region: &str,
        customer: Option<&CustomerKey>,
        now: OffsetDateTime,
    ) -> Result<crate::encryption::Sealing<'s>, ServiceError> {
        let stored = (Some(self.sse.as_str()), self.kms.as_ref());
        crate::encryption::sealing(get, sealer, region, stored, (self.sse_c.as_ref(), customer), now)
    }

    /// The algorithm the client chose for the upload, if any.
    fn algorithm(&self) -> Option<Algorithm> {
        self.checksum_algorithm.as_deref().and_then(Algorithm::parse)
    }

    /// The algorithm and type of the object's checksum: the client's, else S3's default
    /// (CRC64NVME of the whole object).
    fn object_checksum(&self) -> (Algorithm, &str) {
        match self.algorithm() {
            Some(a) => (a, self.checksum_type.as_deref().unwrap_or_else(|| checksums::default_type(a))),
            None => (Algorithm::Crc64Nvme, checksums::FULL_OBJECT),
        }
    }
}

/// One uploaded part, as stored; its bytes are under [`part_data`].
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PartRecord {
    number: u32,
    etag: String,
    size: u64,
    #[serde(with = "time::serde::rfc3339")]
    last_modified: OffsetDateTime,
    /// The part's checksum, of the upload's kind (`None` on parts stored before Rampart kept one
    /// for every part).
    checksum: Option<(String, String)>,
}

fn uploads_prefix(bucket: &str) -> Vec<u8> {
    format!("s3/upload/{bucket}/").into_bytes()
}

fn upload_key(bucket: &str, key: &str, upload_id: &str) -> Vec<u8> {
    let mut k = uploads_prefix(bucket);
    k.extend_from_slice(key.as_bytes());
    k.push(0);
    k.extend_from_slice(upload_id.as_bytes());
    k
}

fn parts_prefix(upload: &str) -> Vec<u8> {
    format!("s3/part/{upload}/").into_bytes()
}

fn part_key(upload: &str, number: u32) -> Vec<u8> {
    format!("s3/part/{upload}/{number:05}").into_bytes()
}

/// Where a part's bytes are (a run of sealed chunks).
pub(crate) fn part_data(upload: &str, number: u32) -> Vec<u8> {
    format!("s3/partdata/{upload}/{number:05}").into_bytes()
}

/// The smallest part but the last, and the most parts.
const MIN_PART: u64 = 5 * 1024 * 1024;
const MAX_PARTS: u32 = 10_000;

fn no_such_upload() -> ServiceError {
    ServiceError::new(
        "NoSuchUpload",
        404,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
}

/// An upload id: the start time first, so that a key's uploads list in the order they began.
fn new_upload_id(now: OffsetDateTime) -> Result<String, ServiceError> {
    let mut bytes = [0u8; 24];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ServiceError::internal())?;
    let nanos = u64::try_from(now.unix_timestamp_nanos()).unwrap_or(0);
    Ok(format!("{nanos:016x}{}", data_encoding::BASE64URL_NOPAD.encode(&bytes)))
}

fn upload_tx(tx: &Tx<'_>, bucket: &str, key: &str, upload_id: &str) -> Result<UploadRecord, ServiceError> {
    if upload_id.contains('\0') {
        return Err(no_such_upload());
    }
    records::read_tx(tx, &upload_key(bucket, key, upload_id))?.ok_or_else(no_such_upload)
}

/// The upload a request names, read through the store (for the access check): `None` if none.
pub(crate) fn upload(db: &rampart_store::Db, bucket: &str, key: &str, upload_id: &str) -> Option<UploadRecord> {
    records::read(db, &upload_key(bucket, key, upload_id)).ok().flatten()
}

pub fn create_multipart_upload(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateMultipartUploadRequest,
) -> Result<shapes::CreateMultipartUploadOutput, ServiceError> {
    let b = bucket_tx(tx, &input.bucket)?;
    objects::check_key(&input.key)?;
    let objects::Settled { plan, lock, acl } =
        objects::settle(tx, ctx, &b, &input.key, &objects::version_asks!(input))?;
    let tags = input.tagging.as_deref().map(objects::parse_tagging).transpose()?.unwrap_or_default();
    let (algorithm, checksum_type) =
        checksums::check_upload(input.checksum_algorithm.as_deref(), input.checksum_type.as_deref())?;
    let (_, kms) = plan.begin(ctx.sealer)?;
    let upload_id = new_upload_id(ctx.now)?;
    let u = UploadRecord {
        v: 1,
        key: input.key.clone(),
        upload_id: upload_id.clone(),
        initiated: ctx.now,
        initiator: ctx.principal.arn.clone(),
        account: ctx.principal.account_id.clone(),
        headers: crate::stored_headers!(input),
        content_type: input.content_type,
        metadata: input.metadata.unwrap_or_default(),
        tags,
        acl: acl.canned,
        grants: acl.grants,
        sse: plan.algorithm.clone(),
        kms,
        sse_c: plan.customer_check()?,
        checksum_algorithm: algorithm.map(|a| a.name().to_owned()),
        checksum_type: algorithm.map(|_| checksum_type.clone()),
        lock,
    };
    records::write_tx(tx, &upload_key(&b.name, &u.key, &upload_id), &u)?;
    let (server_side_encryption, sse_customer_algorithm, sse_customer_key_md5) = u.sse_answer();
    Ok(shapes::CreateMultipartUploadOutput {
        bucket: Some(b.name),
        key: Some(input.key),
        upload_id: Some(upload_id),
        server_side_encryption,
        sse_customer_algorithm,
        sse_customer_key_md5,
        ssekms_key_id: u.kms.as_ref().map(|k| k.key_arn.clone()),
        bucket_key_enabled: u.kms.as_ref().filter(|k| k.bucket_key).map(|_| true),
        checksum_algorithm: u.checksum_algorithm.clone(),
        checksum_type: u.checksum_type.clone(),
        ..shapes::CreateMultipartUploadOutput::default()
    })
}

fn check_part_number(n: i32) -> Result<u32, ServiceError> {
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_PARTS).contains(n))
        .ok_or_else(|| invalid_argument("Part number must be an integer between 1 and 10000, inclusive"))
}

/// An UploadPart made ready before its transaction: the part's bytes checked, hashed and sealed.
/// MD5, checksums and AES-GCM over a part of megabytes take longer than writing it, and done on
/// the store's one writer they held every other write up (and parts up, one at a time).
pub struct PreparedPart {
    /// The request, its body taken out.
    request: shapes::UploadPartRequest,
    number: u32,
    etag: String,
    size: u64,
    /// The checksum the client sent (checked), and the one the part keeps.
    sent: Option<(String, String)>,
    checksum: (String, String),
    /// The part's chunks, sealed for their store keys under [`part_data`].
    chunks: Vec<Vec<u8>>,
}

impl IntoValue for PreparedPart {
    fn into_value(self) -> Value {
        let pair = |(a, v): (String, String)| Value::List(vec![Value::String(a), Value::String(v)]);
        Value::Struct(vec![
            Some(self.request.into_value()),
            Some(Value::Integer(i64::from(self.number))),
            Some(Value::String(self.etag)),
            Some(Value::Integer(i64::try_from(self.size).unwrap_or(i64::MAX))),
            self.sent.map(pair),
            Some(pair(self.checksum)),
            Some(Value::List(self.chunks.into_iter().map(Value::Blob).collect())),
        ])
    }
}

impl FromValue for PreparedPart {
    fn from_value(v: Value) -> Result<Self, ShapeError> {
        let bad = || ShapeError { expected: "a prepared part" };
        let pair = |v: Option<Value>| -> Result<Option<(String, String)>, ShapeError> {
            let Some(Value::List(l)) = v else { return Ok(None) };
            let mut l = l.into_iter();
            match (l.next(), l.next()) {
                (Some(Value::String(a)), Some(Value::String(v))) => Ok(Some((a, v))),
                _ => Err(bad()),
            }
        };
        let mut f = v.into_struct(7)?.into_iter();
        let request = rampart_shapes::required(f.next())?;
        let number: i32 = rampart_shapes::required(f.next())?;
        let etag = rampart_shapes::required(f.next())?;
        let size: i64 = match f.next() {
            Some(Some(Value::Integer(n))) => n,
            _ => return Err(bad()),
        };
        let sent = pair(f.next().flatten())?;
        let checksum = pair(f.next().flatten())?.ok_or_else(bad)?;
        let chunks = match f.next().flatten() {
            Some(Value::List(l)) => l
                .into_iter()
                .map(|c| if let Value::Blob(b) = c { Ok(b) } else { Err(bad()) })
                .collect::<Result<_, _>>()?,
            _ => return Err(bad()),
        };
        Ok(Self {
            request,
            number: u32::try_from(number).map_err(|_| bad())?,
            etag,
            size: u64::try_from(size).map_err(|_| bad())?,
            sent,
            checksum,
            chunks,
        })
    }
}

/// Checks an UploadPart against its upload as the store has it now, and hashes and seals the
/// part's bytes, outside the store's transaction.
pub fn prepare_upload_part(ctx: &Ctx<'_>, mut input: shapes::UploadPartRequest) -> Result<PreparedPart, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    let number = check_part_number(input.part_number)?;
    let customer = objects::customer_key!(input)?;
    let u = upload_read(ctx, &b.name, &input.key, &input.upload_id)?;
    let body = input.body.take().map(|b| b.0).unwrap_or_default();
    let md5 = objects::md5_of(&body);
    let sent = objects::check_integrity(&sent!(input), (&body, md5))?.map(|c| part_checksum(&u, c)).transpose()?;
    // The part keeps a checksum of the upload's kind; without an algorithm of the client's, that is
    // S3's default, whatever the part was sent with.
    let (algorithm, _) = u.object_checksum();
    let checksum = match &sent {
        Some(c) if c.0 == algorithm.name() => c.clone(),
        _ => (algorithm.name().to_owned(), algorithm.encode(&body)),
    };
    let etag = format!("\"{}\"", data_encoding::HEXLOWER.encode(&md5));
    // An upload's encryption is fixed when it begins, and its id is never reused: what is sealed
    // here is sealed as the write would seal it.
    let sealing = u.sealing(&objects::uncached(ctx.db), ctx.sealer, &b.region, customer.as_ref(), ctx.now)?;
    let chunks = crate::data::seal(&sealing, &part_data(&u.upload_id, number), &body)?;
    Ok(PreparedPart { request: input, number, etag, size: body.len() as u64, sent, checksum, chunks })
}

/// Stores a part [`prepare_upload_part`] made ready, if its upload is still in progress.
pub fn upload_part(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    p: PreparedPart,
) -> Result<shapes::UploadPartOutput, ServiceError> {
    let b = bucket_tx(tx, &p.request.bucket)?;
    let u = upload_tx(tx, &b.name, &p.request.key, &p.request.upload_id)?;
    // A part sent again replaces the one before.
    let data = part_data(&u.upload_id, p.number);
    crate::data::delete(tx, &data)?;
    crate::data::put_sealed(tx, &data, p.chunks)?;
    let fields = Fields::of(Some(p.sent.as_ref().unwrap_or(&p.checksum)));
    let part = PartRecord {
        number: p.number,
        etag: p.etag.clone(),
        size: p.size,
        last_modified: ctx.now,
        checksum: Some(p.checksum),
    };
    records::write_tx(tx, &part_key(&u.upload_id, p.number), &part)?;
    let (server_side_encryption, sse_customer_algorithm, sse_customer_key_md5) = u.sse_answer();
    let mut out = shapes::UploadPartOutput {
        e_tag: Some(p.etag),
        server_side_encryption,
        sse_customer_algorithm,
        sse_customer_key_md5,
        ssekms_key_id: u.kms.as_ref().map(|k| k.key_arn.clone()),
        bucket_key_enabled: u.kms.as_ref().filter(|k| k.bucket_key).map(|_| true),
        ..shapes::UploadPartOutput::default()
    };
    set_checksums!(out, fields);
    Ok(out)
}

/// A part's checksum must be of the kind its upload was begun with.
fn part_checksum(u: &UploadRecord, checksum: (String, String)) -> Result<(String, String), ServiceError> {
    match u.algorithm() {
        Some(a) if a.name() != checksum.0 => Err(ServiceError::new(
            "InvalidRequest",
            400,
            format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                a.name().to_ascii_lowercase(),
                checksum.0.to_ascii_lowercase()
            ),
        )),
        _ => Ok(checksum),
    }
}

/// UploadPartCopy: a part made of (a range of) another object, as UploadPart would store it.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html>.
pub fn upload_part_copy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UploadPartCopyRequest,
) -> Result<shapes::UploadPartCopyOutput, ServiceError> {
    let customer = objects::customer_key!(input)?;
    let src_customer = objects::copy_source_customer_key!(input)?;
    let b = bucket_tx(tx, &input.bucket)?;
    let number = check_part_number(input.part_number)?;
    let u = upload_tx(tx, &b.name, &input.key, &input.upload_id)?;
    let (src_bucket, src_key, src_version) = objects::parse_copy_source(&input.copy_source)?;
    let sb = bucket_tx(tx, &src_bucket)?;
    let (_, src) = objects::version_tx(tx, &sb.name, &src_key, src_version.as_deref())?;
    objects::check_copy_preconditions(
        &src,
        (input.copy_source_if_match.as_deref(), input.copy_source_if_none_match.as_deref()),
        (input.copy_source_if_modified_since, input.copy_source_if_unmodified_since),
    )?;
    // `bytes=FIRST-LAST`, both given and inside the source.
    let (from, to) = match input.copy_source_range.as_deref() {
        None => (0, src.size),
        Some(r) => {
            let bad = || {
                invalid_argument(
                    "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
                )
            };
            let (a, z) = r.strip_prefix("bytes=").and_then(|s| s.split_once('-')).ok_or_else(bad)?;
            let (a, z): (u64, u64) = (a.parse().map_err(|_| bad())?, z.parse().map_err(|_| bad())?);
            if a > z || z >= src.size {
                return Err(ServiceError::new("InvalidRange", 416, "The requested range is not satisfiable"));
            }
            (a, z + 1)
        }
    };
    let get = records::tx_reader(tx);
    let body = objects::read_range(&get, ctx.sealer, &sb, (&src, src_customer.as_ref()), (from, to), ctx.now)?;
    let sealing = u.sealing(&get, ctx.sealer, &b.region, customer.as_ref(), ctx.now)?;
    drop(get);
    let data = part_data(&u.upload_id, number);
    crate::data::delete(tx, &data)?;
    crate::data::write(tx, &sealing, &data, &body)?;
    let etag = format!("\"{}\"", data_encoding::HEXLOWER.encode(md5::Md5::digest(&body).as_slice()));
    let algorithm = u.object_checksum().0;
    let checksum = (algorithm.name().to_owned(), algorithm.encode(&body));
    let mut result =
        shapes::CopyPartResult { e_tag: Some(etag.clone()), last_modified: Some(ctx.now), ..Default::default() };
    set_checksums!(result, Fields::of(Some(&checksum)));
    let part = PartRecord { number, etag, size: body.len() as u64, last_modified: ctx.now, checksum: Some(checksum) };
    records::write_tx(tx, &part_key(&u.upload_id, number), &part)?;
    let (server_side_encryption, sse_customer_algorithm, sse_customer_key_md5) = u.sse_answer();
    Ok(shapes::UploadPartCopyOutput {
        copy_source_version_id: src.version_id.clone(),
        copy_part_result: Some(result),
        server_side_encryption,
        sse_customer_algorithm,
        sse_customer_key_md5,
        ssekms_key_id: u.kms.as_ref().map(|k| k.key_arn.clone()),
        ..shapes::UploadPartCopyOutput::default()
    })
}

/// Every part record of an upload, by number.
fn parts_tx(tx: &Tx<'_>, upload: &str) -> Result<Vec<(Vec<u8>, PartRecord)>, ServiceError> {
    let prefix = parts_prefix(upload);
    let mut out = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let batch = tx.scan_prefix(&prefix, after.as_deref(), MAX_KEYS, false)?;
        let done = batch.len() < MAX_KEYS;
        for (k, v) in batch {
            let p: PartRecord = serde_json::from_slice(&v).map_err(|_| ServiceError::internal())?;
            after = Some(k.clone());
            out.push((k, p));
        }
        if done {
            return Ok(out);
        }
    }
}

/// Forgets an upload; the parts not kept by a completed object lose their bytes.
fn discard(tx: &mut Tx<'_>, bucket: &str, u: &UploadRecord, kept: &[u32]) -> Result<(), ServiceError> {
    for (k, p) in parts_tx(tx, &u.upload_id)? {
        if !kept.contains(&p.number) {
            crate::data::delete(tx, &part_data(&u.upload_id, p.number))?;
        }
        tx.delete(&k)?;
    }
    tx.delete(&upload_key(bucket, &u.key, &u.upload_id))?;
    Ok(())
}

fn invalid_part() -> ServiceError {
    ServiceError::new(
        "InvalidPart",
        400,
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    )
}

pub fn complete_multipart_upload(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    mut input: shapes::CompleteMultipartUploadRequest,
) -> Result<shapes::CompleteMultipartUploadOutput, ServiceError> {
    let b = bucket_tx(tx, &input.bucket)?;
    let listed = input.multipart_upload.take().and_then(|m| m.parts).unwrap_or_default();
    let u = match upload_tx(tx, &b.name, &input.key, &input.upload_id) {
        Ok(u) => u,
        // A retried completion of an upload completed already answers as the first did, as S3
        // does: the object made of the same parts of this upload is still the key's.
        Err(e) => return completed_already(tx, &b, (&input.key, &input.upload_id), &listed)?.ok_or(e),
    };
    if listed.is_empty() {
        return Err(crate::malformed_xml());
    }
    let stored: BTreeMap<u32, PartRecord> =
        parts_tx(tx, &u.upload_id)?.into_iter().map(|(_, p)| (p.number, p)).collect();
    let mut chosen: Vec<&PartRecord> = Vec::with_capacity(listed.len());
    for p in &listed {
        let number = p.part_number.ok_or_else(invalid_part).and_then(check_part_number)?;
        if chosen.last().is_some_and(|last| last.number >= number) {
            return Err(ServiceError::new(
                "InvalidPartOrder",
                400,
                "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
            ));
        }
        let part = stored.get(&number).ok_or_else(invalid_part)?;
        if p.e_tag.as_deref().is_some_and(|e| e.trim_matches('"') != part.etag.trim_matches('"')) {
            return Err(invalid_part());
        }
        check_listed_checksum(&u, p, part)?;
        chosen.push(part);
    }
    if chosen.iter().rev().skip(1).any(|p| p.size < MIN_PART) {
        return Err(ServiceError::new(
            "EntityTooSmall",
            400,
            "Your proposed upload is smaller than the minimum allowed object size.",
        ));
    }
    objects::write_conditions(tx, &b.name, &u.key, (input.if_match.as_deref(), input.if_none_match.as_deref()))?;
    // The ETag of a multipart object: the MD5 of the parts' MD5s, and how many there were.
    let mut digests = md5::Md5::new();
    for p in &chosen {
        let hex = p.etag.trim_matches('"');
        digests.update(data_encoding::HEXLOWER.decode(hex.as_bytes()).map_err(|_| ServiceError::internal())?);
    }
    let etag = format!("\"{}-{}\"", data_encoding::HEXLOWER.encode(&digests.finalize()), chosen.len());
    let size: u64 = chosen.iter().map(|p| p.size).sum();
    if input.mpu_object_size.is_some_and(|n| u64::try_from(n).ok() != Some(size)) {
        return Err(ServiceError::new(
            "InvalidRequest",
            400,
            format!("The provided 'x-amz-mp-object-size' header value does not match the object size: {size}."),
        ));
    }
    let checksum = object_checksum(&u, &chosen, &input)?;
    let composite = checksum.as_ref().is_some_and(|(_, t)| *t == checksums::COMPOSITE);
    let parts: Vec<PartRef> = chosen
        .iter()
        .map(|p| PartRef {
            upload: u.upload_id.clone(),
            number: p.number,
            size: p.size,
            checksum: p.checksum.as_ref().filter(|_| composite).map(|(_, v)| v.clone()),
        })
        .collect();
    let kept: Vec<u32> = parts.iter().map(|p| p.number).collect();
    let mut rec = objects::new_record(
        &b,
        &u.key,
        (&[], objects::md5_of(&[])),
        u.content_type.clone(),
        u.metadata.clone(),
        None,
        ctx.now,
    )?;
    rec.size = parts.iter().map(|p| p.size).sum();
    rec.etag = etag.clone();
    rec.tags = u.tags.clone();
    rec.acl = u.acl.clone();
    rec.grants = u.grants.clone();
    rec.sse = Some(u.sse.clone());
    rec.kms = u.kms.clone();
    rec.sse_c = u.sse_c.clone();
    rec.parts = parts;
    rec.sealed = true;
    rec.lock = u.lock.clone();
    rec.headers = u.headers.clone();
    rec.checksum_type = checksum.as_ref().map(|(_, t)| (*t).to_owned()).filter(|t| t == checksums::COMPOSITE);
    rec.checksum = checksum.as_ref().map(|(c, _)| c.clone());
    discard(tx, &b.name, &u, &kept)?;
    let rec: ObjectRecord = objects::write_version(tx, &b, rec, None)?;
    let mut out = completion(&b.name, &rec);
    out.checksum_type = checksum.as_ref().map(|(_, t)| (*t).to_owned());
    Ok(out)
}

/// What CompleteMultipartUpload answers for the object it made.
fn completion(bucket: &str, rec: &ObjectRecord) -> shapes::CompleteMultipartUploadOutput {
    let mut out = shapes::CompleteMultipartUploadOutput {
        location: Some(format!("/{bucket}/{}", rec.key)),
        bucket: Some(bucket.to_owned()),
        key: Some(rec.key.clone()),
        e_tag: Some(rec.etag.clone()),
        server_side_encryption: rec.sse.clone().filter(|_| rec.sse_c.is_none()),
        ssekms_key_id: rec.kms.as_ref().map(|k| k.key_arn.clone()),
        bucket_key_enabled: rec.kms.as_ref().filter(|k| k.bucket_key).map(|_| true),
        checksum_type: rec
            .checksum
            .as_ref()
            .map(|_| rec.checksum_type.clone().unwrap_or_else(|| checksums::FULL_OBJECT.to_owned())),
        version_id: rec.version_id.clone(),
        ..shapes::CompleteMultipartUploadOutput::default()
    };
    set_checksums!(out, Fields::of(rec.checksum.as_ref()));
    out
}

/// The answer to a completion of an upload that is gone: the first completion's, if a version of
/// the key was made of this upload's parts, the same ones listed again.
fn completed_already(
    tx: &Tx<'_>,
    b: &BucketRecord,
    (key, upload_id): (&str, &str),
    listed: &[shapes::CompletedPart],
) -> Result<Option<shapes::CompleteMultipartUploadOutput>, ServiceError> {
    let numbers: Vec<Option<i64>> = listed.iter().map(|p| p.part_number.map(i64::from)).collect();
    let made = objects::versions_tx(tx, &b.name, key)?.into_iter().map(|(_, o)| o).find(|o| {
        !o.parts.is_empty()
            && o.parts.iter().all(|p| p.upload == upload_id)
            && o.parts.iter().map(|p| Some(i64::from(p.number))).eq(numbers.iter().copied())
    });
    Ok(made.map(|rec| completion(&b.name, &rec)))
}

/// A part listed in CompleteMultipartUpload with a checksum must have that checksum; an upload
/// with a composite checksum needs each part's listed.
fn check_listed_checksum(
    u: &UploadRecord,
    listed: &shapes::CompletedPart,
    part: &PartRecord,
) -> Result<(), ServiceError> {
    let given = checksums::sent_values!(listed);
    for (algorithm, value) in given {
        let Some(value) = value else { continue };
        let stored = part.checksum.as_ref().filter(|(a, _)| a == algorithm.name());
        if stored.is_none_or(|(_, v)| v != value) {
            return Err(invalid_part());
        }
    }
    let (algorithm, kind) = u.object_checksum();
    if u.algorithm().is_some() && kind == checksums::COMPOSITE && given.iter().all(|(_, v)| v.is_none()) {
        return Err(ServiceError::new(
            "InvalidRequest",
            400,
            format!(
                "The upload was created using a {} checksum. The complete request must include the checksum for each part. It was missing for part {} in the request.",
                algorithm.name().to_ascii_lowercase(),
                part.number
            ),
        ));
    }
    Ok(())
}

/// An object's checksum, `(algorithm, base64 value)`, and its type.
type Checksum = ((String, String), &'static str);

/// The completed object's checksum and its type, from its parts' (none if a part was stored
/// without one); a whole-object checksum the client sent with the request must be it.
fn object_checksum(
    u: &UploadRecord,
    parts: &[&PartRecord],
    input: &shapes::CompleteMultipartUploadRequest,
) -> Result<Option<Checksum>, ServiceError> {
    let (algorithm, kind) = u.object_checksum();
    let kind = if kind == checksums::COMPOSITE { checksums::COMPOSITE } else { checksums::FULL_OBJECT };
    let values: Option<Vec<(&str, u64)>> = parts
        .iter()
        .map(|p| p.checksum.as_ref().filter(|(a, _)| a == algorithm.name()).map(|(_, v)| (v.as_str(), p.size)))
        .collect();
    let Some(value) = values.and_then(|v| checksums::of_parts(algorithm, kind, &v)) else { return Ok(None) };
    for (a, v) in checksums::sent_values!(input) {
        let Some(v) = v else { continue };
        // A composite value may be sent with or without its `-N`.
        let matches = a == algorithm && (v == value || value.split('-').next() == Some(v));
        if !matches {
            return Err(objects::bad_digest(a.name()));
        }
    }
    if input.checksum_type.as_deref().is_some_and(|t| t != kind) {
        return Err(ServiceError::new(
            "InvalidRequest",
            400,
            format!(
                "The upload was created using the {kind} checksum mode. The complete request must use the same checksum mode."
            ),
        ));
    }
    Ok(Some(((algorithm.name().to_owned(), value), kind)))
}

pub fn abort_multipart_upload(
    tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::AbortMultipartUploadRequest,
) -> Result<shapes::AbortMultipartUploadOutput, ServiceError> {
    let b = bucket_tx(tx, &input.bucket)?;
    let u = upload_tx(tx, &b.name, &input.key, &input.upload_id)?;
    if input.if_match_initiated_time.is_some_and(|t| t.unix_timestamp() != u.initiated.unix_timestamp()) {
        return Err(ServiceError::new(
            "PreconditionFailed",
            412,
            "At least one of the pre-conditions you specified did not hold",
        ));
    }
    discard(tx, &b.name, &u, &[])?;
    Ok(shapes::AbortMultipartUploadOutput::default())
}

/// Aborts every upload in progress in a bucket (one being deleted).
pub(crate) fn abort_all(tx: &mut Tx<'_>, bucket: &str) -> Result<(), ServiceError> {
    loop {
        let batch = tx.scan_prefix(&uploads_prefix(bucket), None, 100, false)?;
        if batch.is_empty() {
            return Ok(());
        }
        for (_, v) in batch {
            let u: UploadRecord = serde_json::from_slice(&v).map_err(|_| ServiceError::internal())?;
            discard(tx, bucket, &u, &[])?;
        }
    }
}

fn initiator(u: &UploadRecord) -> shapes::Initiator {
    shapes::Initiator { id: Some(u.initiator.clone()), display_name: None }
}

fn owner(b: &BucketRecord) -> shapes::Owner {
    shapes::Owner { display_name: None, id: Some(canonical_id(&b.account_id)) }
}

fn upload_read(ctx: &Ctx<'_>, bucket: &str, key: &str, upload_id: &str) -> Result<UploadRecord, ServiceError> {
    if upload_id.contains('\0') {
        return Err(no_such_upload());
    }
    records::read(ctx.db, &upload_key(bucket, key, upload_id))?.ok_or_else(no_such_upload)
}

pub fn list_parts(ctx: &Ctx<'_>, input: shapes::ListPartsRequest) -> Result<shapes::ListPartsOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    let u = upload_read(ctx, &b.name, &input.key, &input.upload_id)?;
    let max = match input.max_parts {
        Some(n) if n < 0 => return Err(invalid_argument("max-parts cannot be negative")),
        Some(n) => usize::try_from(n).unwrap_or(MAX_KEYS).min(MAX_KEYS),
        None => MAX_KEYS,
    };
    let marker = input.part_number_marker.unwrap_or(0).max(0);
    let after = u32::try_from(marker).ok().filter(|m| *m > 0).map(|m| part_key(&u.upload_id, m));
    let batch = ctx.db.scan_prefix(&parts_prefix(&u.upload_id), after.as_deref(), max + 1, false)?;
    let truncated = batch.len() > max;
    let parts: Vec<PartRecord> = batch
        .into_iter()
        .take(max)
        .map(|(_, v)| serde_json::from_slice(&v).map_err(|_| ServiceError::internal()))
        .collect::<Result<_, _>>()?;
    let next = parts.last().and_then(|p| i32::try_from(p.number).ok());
    Ok(shapes::ListPartsOutput {
        bucket: Some(b.name.clone()),
        key: Some(u.key.clone()),
        upload_id: Some(u.upload_id.clone()),
        part_number_marker: Some(marker),
        next_part_number_marker: if truncated { next } else { None },
        max_parts: i32::try_from(max).ok(),
        is_truncated: Some(truncated),
        parts: Some(
            parts
                .into_iter()
                .map(|p| {
                    let mut part = shapes::Part {
                        part_number: i32::try_from(p.number).ok(),
                        last_modified: Some(p.last_modified),
                        e_tag: Some(p.etag),
                        size: i64::try_from(p.size).ok(),
                        ..shapes::Part::default()
                    };
                    // The parts' checksums are the client's business where it chose an algorithm.
                    if u.algorithm().is_some() {
                        set_checksums!(part, Fields::of(p.checksum.as_ref()));
                    }
                    part
                })
                .collect(),
        ),
        initiator: Some(initiator(&u)),
        owner: Some(owner(&b)),
        storage_class: Some("STANDARD".to_owned()),
        checksum_algorithm: u.checksum_algorithm.clone(),
        checksum_type: u.algorithm().map(|_| u.object_checksum().1.to_owned()),
        ..shapes::ListPartsOutput::default()
    })
}

/// ListMultipartUploads: uploads in progress by key, each key's in the order they began, paged by
/// `KeyMarker` and `UploadIdMarker`, rolled up at `Delimiter`.
pub fn list_multipart_uploads(
    ctx: &Ctx<'_>,
    input: shapes::ListMultipartUploadsRequest,
) -> Result<shapes::ListMultipartUploadsOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    let encoding = objects::UrlEncoding::of(input.encoding_type.as_deref())?;
    let max = match input.max_uploads {
        Some(n) if n < 0 => return Err(invalid_argument("max-uploads cannot be negative")),
        Some(n) => usize::try_from(n).unwrap_or(MAX_KEYS).min(MAX_KEYS),
        None => MAX_KEYS,
    };
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let base = uploads_prefix(&b.name);
    let mut from = match (input.key_marker.as_deref().filter(|k| !k.is_empty()), input.upload_id_marker.as_deref()) {
        (Some(k), Some(id)) if !id.is_empty() => Some(upload_key(&b.name, k, id)),
        (Some(k), _) => Some([base.as_slice(), k.as_bytes(), &[0, 0xFF]].concat()),
        _ => None,
    };
    let scan = [base.as_slice(), prefix.as_bytes()].concat();
    let (mut uploads, mut common) = (Vec::new(), Vec::<String>::new());
    let mut truncated = false;
    let mut next: Option<(String, String)> = None;
    'scan: loop {
        let batch = ctx.db.scan_prefix(&scan, from.as_deref(), MAX_KEYS, false)?;
        if batch.is_empty() {
            break;
        }
        let last_batch = batch.len() < MAX_KEYS;
        for (k, v) in batch {
            from = Some(k);
            let u: UploadRecord = serde_json::from_slice(&v).map_err(|_| ServiceError::internal())?;
            if uploads.len() + common.len() == max {
                truncated = true;
                break 'scan;
            }
            let rolled = delimiter.as_deref().and_then(|d| {
                let i = u.key.get(prefix.len()..)?.find(d)?;
                u.key.get(..prefix.len() + i + d.len()).map(str::to_owned)
            });
            if let Some(cp) = rolled {
                from = Some([base.as_slice(), cp.as_bytes(), &[0xFF]].concat());
                next = Some((cp.clone(), String::new()));
                common.push(cp);
                continue 'scan;
            }
            next = Some((u.key.clone(), u.upload_id.clone()));
            uploads.push(shapes::MultipartUpload {
                upload_id: Some(u.upload_id.clone()),
                key: Some(u.key.clone()),
                initiated: Some(u.initiated),
                storage_class: Some("STANDARD".to_owned()),
                owner: Some(owner(&b)),
                initiator: Some(initiator(&u)),
                checksum_algorithm: u.checksum_algorithm.clone(),
                checksum_type: u.algorithm().map(|_| u.object_checksum().1.to_owned()),
            });
        }
        if last_batch {
            break;
        }
    }
    let (next_key, next_upload) = match (truncated, next) {
        (true, Some((k, id))) => (Some(k), (!id.is_empty()).then_some(id)),
        _ => (None, None),
    };
    let mut out = shapes::ListMultipartUploadsOutput {
        bucket: Some(b.name.clone()),
        key_marker: Some(input.key_marker.unwrap_or_default()),
        upload_id_marker: Some(input.upload_id_marker.unwrap_or_default()),
        next_key_marker: next_key,
        next_upload_id_marker: next_upload,
        prefix: Some(prefix),
        delimiter,
        max_uploads: i32::try_from(max).ok(),
        is_truncated: Some(truncated),
        uploads: (!uploads.is_empty()).then_some(uploads),
        common_prefixes: (!common.is_empty())
            .then(|| common.into_iter().map(|p| shapes::CommonPrefix { prefix: Some(p) }).collect()),
        ..shapes::ListMultipartUploadsOutput::default()
    };
    let keys = out.uploads.iter_mut().flatten().map(|u| &mut u.key);
    let prefixes = out.common_prefixes.iter_mut().flatten().map(|p| &mut p.prefix);
    let top = [&mut out.prefix, &mut out.delimiter, &mut out.key_marker, &mut out.next_key_marker];
    out.encoding_type = encoding.apply(top.into_iter().chain(keys).chain(prefixes));
    Ok(out)
}
