//! Amazon S3, a subset: buckets and objects as the data the rest of Rampart protects. Buckets live
//! in one namespace shared by every account, as in AWS; a bucket is its owner's alone until bucket
//! policies land. Object data is stored beside its metadata, so listings never read it.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/API/Welcome.html>.

use rampart_core::records;
use std::collections::BTreeMap;

use md5::Digest as _;
use rampart_shapes::Blob;
use rampart_shapes::generated::s3 as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use rampart_core::{Ctx, ServiceError, TxCtx};

/// Most keys one ListObjectsV2 page returns.
pub const MAX_KEYS: usize = 1000;

fn bucket_key(name: &str) -> Vec<u8> {
    format!("s3/bucket/{name}").into_bytes()
}

fn object_prefix(bucket: &str) -> Vec<u8> {
    format!("s3/object/{bucket}/").into_bytes()
}

fn object_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = object_prefix(bucket);
    k.extend_from_slice(key.as_bytes());
    k
}

fn data_key(bucket: &str, key: &str) -> Vec<u8> {
    format!("s3/data/{bucket}/{key}").into_bytes()
}

/// A bucket, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketRecord {
    pub v: u32,
    pub name: String,
    pub account_id: String,
    pub region: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// An object's metadata, as stored; its bytes are under [`data_key`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub v: u32,
    pub key: String,
    pub size: u64,
    /// The quoted hex MD5 of the bytes, as S3 gives for a single-part upload.
    pub etag: String,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified: OffsetDateTime,
    pub content_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

fn no_such_bucket() -> ServiceError {
    ServiceError::new("NoSuchBucket", 404, "The specified bucket does not exist")
}

fn no_such_key() -> ServiceError {
    ServiceError::new("NoSuchKey", 404, "The specified key does not exist.")
}

fn access_denied() -> ServiceError {
    ServiceError::access_denied("Access Denied")
}

/// Bucket naming rules for general purpose buckets.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>.
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    let ok_chars = b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-');
    let ends_ok = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ip_like = name.split('.').count() == 4 && name.split('.').all(|p| !p.is_empty() && p.parse::<u8>().is_ok());
    (3..=63).contains(&b.len())
        && ok_chars
        && ends_ok(b.first())
        && ends_ok(b.last())
        && !name.contains("..")
        && !ip_like
        && !name.starts_with("xn--")
        && !name.starts_with("sthree-")
        && !name.ends_with("-s3alias")
        && !name.ends_with("--ol-s3")
}

/// The bucket, if the caller's account owns it; another account's bucket is AccessDenied.
fn owned_bucket(ctx: &Ctx<'_>, name: &str) -> Result<BucketRecord, ServiceError> {
    let b: BucketRecord = records::read_cached(ctx.db, &bucket_key(name))?.ok_or_else(no_such_bucket)?;
    if b.account_id == ctx.principal.account_id { Ok(b) } else { Err(access_denied()) }
}

/// Writes an object's record and bytes; its ETag.
fn store_object(
    tx: &mut Tx<'_>,
    bucket: &str,
    key: &str,
    body: &[u8],
    content_type: Option<String>,
    metadata: BTreeMap<String, String>,
    now: OffsetDateTime,
) -> Result<String, ServiceError> {
    let etag = format!("\"{}\"", data_encoding::HEXLOWER.encode(md5::Md5::digest(body).as_slice()));
    let rec = ObjectRecord {
        v: 1,
        key: key.to_owned(),
        size: body.len() as u64,
        etag: etag.clone(),
        last_modified: now,
        content_type,
        metadata,
    };
    records::write_tx(tx, &object_key(bucket, key), &rec)?;
    tx.put(&data_key(bucket, key), body)?;
    Ok(etag)
}

/// The account that owns a bucket, if it exists (for services that deliver into buckets).
pub fn bucket_owner_tx(tx: &Tx<'_>, name: &str) -> Result<Option<String>, ServiceError> {
    Ok(records::read_tx::<BucketRecord>(tx, &bucket_key(name))?.map(|b| b.account_id))
}

/// Puts an object on behalf of a service (CloudTrail delivering log files), in its transaction.
pub fn deliver_object(
    tx: &mut Tx<'_>,
    bucket: &str,
    key: &str,
    body: &[u8],
    content_type: &str,
    metadata: BTreeMap<String, String>,
    now: OffsetDateTime,
) -> Result<(), ServiceError> {
    store_object(tx, bucket, key, body, Some(content_type.to_owned()), metadata, now).map(|_| ())
}

/// S3 names its request parameters as CloudTrail records them, not as the SDK's members:
/// `bucketName` for the bucket, and the `Host` the request was sent to.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-understanding-s3-entries.html>.
pub fn audit_parameters(mut params: serde_json::Value, host: Option<&str>) -> serde_json::Value {
    if let Some(map) = params.as_object_mut() {
        if let Some(bucket) = map.remove("bucket") {
            map.insert("bucketName".into(), bucket);
        }
        if let Some(h) = host {
            map.insert("Host".into(), h.into());
        }
    }
    params
}

/// An object's data and its user metadata.
pub type StoredObject = (Vec<u8>, BTreeMap<String, String>);

/// Objects read straight from the store, any account's, with no permission check: for Rampart's
/// own readers (CloudTrail's integrity validator), never for a request.
pub struct StoredObjects<'a>(pub &'a rampart_store::Db);

impl StoredObjects<'_> {
    /// An object's data and user metadata, `None` when there is no such object.
    pub fn get(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, String> {
        let Some(o) = records::read::<ObjectRecord>(self.0, &object_key(bucket, key)).map_err(|e| e.message)? else {
            return Ok(None);
        };
        let data = self.0.get(&data_key(bucket, key)).map_err(|e| e.to_string())?.unwrap_or_default();
        Ok(Some((data, o.metadata)))
    }

    /// The keys under a prefix, each with when it was last written.
    pub fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, OffsetDateTime)>, String> {
        let base = object_prefix(bucket);
        let scan = [base.as_slice(), prefix.as_bytes()].concat();
        let mut keys = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let batch = self.0.scan_prefix(&scan, after.as_deref(), 1000, false).map_err(|e| e.to_string())?;
            let done = batch.len() < 1000;
            for (k, v) in batch {
                let o: ObjectRecord = serde_json::from_slice(&v).map_err(|e| e.to_string())?;
                keys.push((
                    String::from_utf8_lossy(k.get(base.len()..).unwrap_or_default()).into_owned(),
                    o.last_modified,
                ));
                after = Some(k);
            }
            if done {
                return Ok(keys);
            }
        }
    }
}

fn owned_bucket_tx(tx: &Tx<'_>, ctx: &TxCtx<'_>, name: &str) -> Result<BucketRecord, ServiceError> {
    let b: BucketRecord = records::read_tx(tx, &bucket_key(name))?.ok_or_else(no_such_bucket)?;
    if b.account_id == ctx.principal.account_id { Ok(b) } else { Err(access_denied()) }
}

/// The account's canonical user id: 64 hex characters, stable for the account.
fn canonical_id(account: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("rampart/s3/owner/{account}").as_bytes());
    data_encoding::HEXLOWER.encode(d.as_ref())
}

pub fn list_buckets(
    ctx: &Ctx<'_>,
    _input: shapes::ListBucketsRequest,
) -> Result<shapes::ListBucketsOutput, ServiceError> {
    let account = &ctx.principal.account_id;
    let all: Vec<BucketRecord> = records::scan_records(ctx.db, b"s3/bucket/")?;
    let buckets = all
        .into_iter()
        .filter(|b| &b.account_id == account)
        .map(|b| shapes::Bucket {
            name: Some(b.name),
            creation_date: Some(b.created),
            bucket_region: Some(b.region),
            ..shapes::Bucket::default()
        })
        .collect();
    Ok(shapes::ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(shapes::Owner { display_name: None, id: Some(canonical_id(account)) }),
        ..shapes::ListBucketsOutput::default()
    })
}

pub fn create_bucket(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateBucketRequest,
) -> Result<shapes::CreateBucketOutput, ServiceError> {
    if !valid_bucket_name(&input.bucket) {
        return Err(ServiceError::new("InvalidBucketName", 400, "The specified bucket is not valid."));
    }
    if let Some(existing) = records::read_tx::<BucketRecord>(tx, &bucket_key(&input.bucket))? {
        return Err(if existing.account_id == ctx.principal.account_id {
            ServiceError::new(
                "BucketAlreadyOwnedByYou",
                409,
                "Your previous request to create the named bucket succeeded and you already own it.",
            )
        } else {
            ServiceError::new(
                "BucketAlreadyExists",
                409,
                "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
            )
        });
    }
    let region = input
        .create_bucket_configuration
        .and_then(|c| c.location_constraint)
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "us-east-1".to_owned());
    let b = BucketRecord {
        v: 1,
        name: input.bucket,
        account_id: ctx.principal.account_id.clone(),
        region,
        created: ctx.now,
    };
    records::write_tx(tx, &bucket_key(&b.name), &b)?;
    Ok(shapes::CreateBucketOutput {
        location: Some(format!("/{}", b.name)),
        bucket_arn: Some(format!("arn:aws:s3:::{}", b.name)),
    })
}

pub fn head_bucket(ctx: &Ctx<'_>, input: shapes::HeadBucketRequest) -> Result<shapes::HeadBucketOutput, ServiceError> {
    let b = owned_bucket(ctx, &input.bucket)?;
    Ok(shapes::HeadBucketOutput { bucket_region: Some(b.region), ..shapes::HeadBucketOutput::default() })
}

pub fn delete_bucket(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::DeleteBucketRequest) -> Result<(), ServiceError> {
    let b = owned_bucket_tx(tx, ctx, &input.bucket)?;
    if !tx.scan_prefix(&object_prefix(&b.name), None, 1, false)?.is_empty() {
        return Err(ServiceError::new("BucketNotEmpty", 409, "The bucket you tried to delete is not empty"));
    }
    tx.delete(&bucket_key(&b.name))?;
    Ok(())
}

fn bad_digest(what: &str) -> ServiceError {
    ServiceError::new("BadDigest", 400, format!("The {what} you specified did not match the calculated checksum."))
}

/// Checks the integrity values a client sent with the bytes: Content-MD5 and the flexible
/// checksums this server can compute.
fn check_integrity(input: &shapes::PutObjectRequest, body: &[u8]) -> Result<(), ServiceError> {
    if let Some(md5) = &input.content_md5 {
        let given = data_encoding::BASE64
            .decode(md5.as_bytes())
            .ok()
            .filter(|d| d.len() == 16)
            .ok_or_else(|| ServiceError::new("InvalidDigest", 400, "The Content-MD5 you specified was invalid."))?;
        if given != md5::Md5::digest(body).as_slice() {
            return Err(ServiceError::new(
                "BadDigest",
                400,
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    if let Some(crc) = &input.checksum_crc32
        && *crc != data_encoding::BASE64.encode(&crc32fast::hash(body).to_be_bytes())
    {
        return Err(bad_digest("CRC32"));
    }
    if let Some(sha) = &input.checksum_sha256
        && *sha != data_encoding::BASE64.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body).as_ref())
    {
        return Err(bad_digest("SHA256"));
    }
    if let Some(sha) = &input.checksum_sha1
        && *sha
            != data_encoding::BASE64
                .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, body).as_ref())
    {
        return Err(bad_digest("SHA1"));
    }
    for (name, given) in [
        ("CRC32C", &input.checksum_crc32_c),
        ("CRC64NVME", &input.checksum_crc64_nvme),
        ("SHA512", &input.checksum_sha512),
        ("MD5", &input.checksum_md5),
        ("XXHASH64", &input.checksum_xxhash64),
        ("XXHASH3", &input.checksum_xxhash3),
        ("XXHASH128", &input.checksum_xxhash128),
    ] {
        if given.is_some() {
            return Err(ServiceError::new(
                "NotImplemented",
                501,
                format!("Rampart does not verify {name} checksums yet; send CRC32, SHA1 or SHA256."),
            ));
        }
    }
    Ok(())
}

pub fn put_object(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutObjectRequest,
) -> Result<shapes::PutObjectOutput, ServiceError> {
    let b = owned_bucket_tx(tx, ctx, &input.bucket)?;
    let body = input.body.as_ref().map_or(&[][..], |b| b.0.as_slice());
    check_integrity(&input, body)?;
    let metadata = input.metadata.clone().unwrap_or_default();
    let etag = store_object(tx, &b.name, &input.key, body, input.content_type.clone(), metadata, ctx.now)?;
    Ok(shapes::PutObjectOutput {
        e_tag: Some(etag),
        checksum_crc32: input.checksum_crc32,
        checksum_sha1: input.checksum_sha1,
        checksum_sha256: input.checksum_sha256,
        ..shapes::PutObjectOutput::default()
    })
}

fn object(ctx: &Ctx<'_>, bucket: &str, key: &str) -> Result<(BucketRecord, ObjectRecord), ServiceError> {
    let b = owned_bucket(ctx, bucket)?;
    let o: ObjectRecord = records::read(ctx.db, &object_key(&b.name, key))?.ok_or_else(no_such_key)?;
    Ok((b, o))
}

fn no_ranges(range: Option<&String>) -> Result<(), ServiceError> {
    match range {
        Some(_) => Err(ServiceError::new("NotImplemented", 501, "Rampart does not serve byte ranges yet.")),
        None => Ok(()),
    }
}

pub fn get_object(ctx: &Ctx<'_>, input: shapes::GetObjectRequest) -> Result<shapes::GetObjectOutput, ServiceError> {
    no_ranges(input.range.as_ref())?;
    let (b, o) = object(ctx, &input.bucket, &input.key)?;
    let data = ctx.db.get(&data_key(&b.name, &o.key))?.ok_or_else(ServiceError::internal)?;
    Ok(shapes::GetObjectOutput {
        body: Some(Blob(data)),
        accept_ranges: Some("bytes".to_owned()),
        last_modified: Some(o.last_modified),
        content_length: i64::try_from(o.size).ok(),
        e_tag: Some(o.etag),
        content_type: Some(o.content_type.unwrap_or_else(|| "binary/octet-stream".to_owned())),
        metadata: (!o.metadata.is_empty()).then_some(o.metadata),
        ..shapes::GetObjectOutput::default()
    })
}

pub fn head_object(ctx: &Ctx<'_>, input: shapes::HeadObjectRequest) -> Result<shapes::HeadObjectOutput, ServiceError> {
    no_ranges(input.range.as_ref())?;
    let (_, o) = object(ctx, &input.bucket, &input.key)?;
    Ok(shapes::HeadObjectOutput {
        accept_ranges: Some("bytes".to_owned()),
        last_modified: Some(o.last_modified),
        content_length: i64::try_from(o.size).ok(),
        e_tag: Some(o.etag),
        content_type: Some(o.content_type.unwrap_or_else(|| "binary/octet-stream".to_owned())),
        metadata: (!o.metadata.is_empty()).then_some(o.metadata),
        ..shapes::HeadObjectOutput::default()
    })
}

/// Deleting a key that is not there succeeds, as in S3 (204 either way).
pub fn delete_object(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteObjectRequest,
) -> Result<shapes::DeleteObjectOutput, ServiceError> {
    let b = owned_bucket_tx(tx, ctx, &input.bucket)?;
    tx.delete(&object_key(&b.name, &input.key))?;
    tx.delete(&data_key(&b.name, &input.key))?;
    Ok(shapes::DeleteObjectOutput::default())
}

fn invalid_argument(message: &str) -> ServiceError {
    ServiceError::new("InvalidArgument", 400, message)
}

/// ListObjectsV2: keys in UTF-8 binary order after `StartAfter` or the continuation token, rolled
/// up at `Delimiter` into common prefixes (each counts toward `MaxKeys`).
/// One page of a bucket listing, shared by ListObjects and ListObjectsV2.
struct Page {
    contents: Vec<shapes::Object>,
    common: Vec<String>,
    truncated: bool,
    /// Where the next page resumes (exclusive): the last key, or a rolled-up prefix plus 0xFF.
    last: Option<Vec<u8>>,
}

fn max_keys_of(n: Option<i32>) -> Result<usize, ServiceError> {
    match n {
        None => Ok(MAX_KEYS),
        Some(n) if n < 0 => Err(invalid_argument("max-keys cannot be negative")),
        Some(n) => Ok(usize::try_from(n).unwrap_or(MAX_KEYS).min(MAX_KEYS)),
    }
}

/// Lists the keys after `after` (exclusive) under `prefix`, rolling keys up to the first
/// `delimiter` after the prefix into common prefixes.
fn list_page(
    ctx: &Ctx<'_>,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    mut after: Option<Vec<u8>>,
    max_keys: usize,
) -> Result<Page, ServiceError> {
    let base = object_prefix(bucket);
    let scan_prefix = [base.as_slice(), prefix.as_bytes()].concat();
    let mut page = Page { contents: Vec::new(), common: Vec::new(), truncated: false, last: None };
    'scan: loop {
        let from = after.as_ref().map(|a| [base.as_slice(), a.as_slice()].concat());
        let batch = ctx.db.scan_prefix(&scan_prefix, from.as_deref(), 1000, false)?;
        if batch.is_empty() {
            break;
        }
        let last_batch = batch.len() < 1000;
        for (k, v) in batch {
            let key_bytes = k.get(base.len()..).unwrap_or_default().to_vec();
            after = Some(key_bytes.clone());
            let key = String::from_utf8_lossy(&key_bytes).into_owned();
            let rolled = delimiter.and_then(|d| {
                let i = key.get(prefix.len()..)?.find(d)?;
                key.get(..prefix.len() + i + d.len()).map(str::to_owned)
            });
            if page.contents.len() + page.common.len() == max_keys {
                page.truncated = true;
                break 'scan;
            }
            match rolled {
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
                    let o: ObjectRecord = serde_json::from_slice(&v).map_err(|_| ServiceError::internal())?;
                    page.last = Some(key_bytes);
                    page.contents.push(shapes::Object {
                        key: Some(o.key),
                        last_modified: Some(o.last_modified),
                        e_tag: Some(o.etag),
                        size: i64::try_from(o.size).ok(),
                        storage_class: Some("STANDARD".to_owned()),
                        ..shapes::Object::default()
                    });
                }
            }
        }
        if last_batch {
            break;
        }
    }
    Ok(page)
}

fn common_prefixes(common: Vec<String>) -> Option<Vec<shapes::CommonPrefix>> {
    (!common.is_empty()).then(|| common.into_iter().map(|p| shapes::CommonPrefix { prefix: Some(p) }).collect())
}

pub fn list_objects_v2(
    ctx: &Ctx<'_>,
    input: shapes::ListObjectsV2Request,
) -> Result<shapes::ListObjectsV2Output, ServiceError> {
    let b = owned_bucket(ctx, &input.bucket)?;
    let max_keys = max_keys_of(input.max_keys)?;
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
    let page = list_page(ctx, &b.name, &prefix, delimiter.as_deref(), after, max_keys)?;
    let key_count = page.contents.len() + page.common.len();
    Ok(shapes::ListObjectsV2Output {
        is_truncated: Some(page.truncated),
        contents: (!page.contents.is_empty()).then_some(page.contents),
        name: Some(b.name),
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
    })
}

/// ListObjects (version 1): pages by `Marker`, a key to list after. `NextMarker` comes back when a
/// truncated listing has a delimiter (the last key or common prefix); without one, the last key
/// listed is the next marker, as S3 documents.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html>.
pub fn list_objects(
    ctx: &Ctx<'_>,
    input: shapes::ListObjectsRequest,
) -> Result<shapes::ListObjectsOutput, ServiceError> {
    let b = owned_bucket(ctx, &input.bucket)?;
    let max_keys = max_keys_of(input.max_keys)?;
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
    let page = list_page(ctx, &b.name, &prefix, delimiter.as_deref(), after, max_keys)?;
    let next_marker = (page.truncated && delimiter.is_some())
        .then(|| {
            let last_key = page.contents.last().and_then(|o| o.key.clone());
            let last_prefix = page.common.last().cloned();
            last_key.into_iter().chain(last_prefix).max()
        })
        .flatten();
    Ok(shapes::ListObjectsOutput {
        is_truncated: Some(page.truncated),
        marker: Some(input.marker.unwrap_or_default()),
        next_marker,
        contents: (!page.contents.is_empty()).then_some(page.contents),
        name: Some(b.name),
        prefix: Some(prefix),
        delimiter,
        max_keys: i32::try_from(max_keys).ok(),
        common_prefixes: common_prefixes(page.common),
        ..shapes::ListObjectsOutput::default()
    })
}

/// GetBucketLocation: the bucket's region as a location constraint — none for us-east-1, as S3
/// answers.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLocation.html>.
pub fn get_bucket_location(
    ctx: &Ctx<'_>,
    input: shapes::GetBucketLocationRequest,
) -> Result<shapes::GetBucketLocationOutput, ServiceError> {
    let b = owned_bucket(ctx, &input.bucket)?;
    Ok(shapes::GetBucketLocationOutput { location_constraint: (b.region != "us-east-1").then_some(b.region) })
}

use Target::{All, Bucket, Object};
use rampart_core::actions::{Action, Target, row};

const BUCKET: &[Target] = &[Bucket("Bucket")];
const OBJECT: &[Target] = &[Object("Bucket", "Key")];

/// The S3 subset's operations. HeadBucket, ListObjects and ListObjectsV2 are `s3:ListBucket`; GetObject and
/// HeadObject are `s3:GetObject`.
/// See <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html>.
pub static ACTIONS: &[Action] = &[
    row("CreateBucket", BUCKET, &[]),
    row("DeleteBucket", BUCKET, &[]),
    row("DeleteObject", OBJECT, &[]),
    row("GetBucketLocation", BUCKET, &[]),
    row("GetObject", OBJECT, &[]),
    row("HeadBucket", BUCKET, &[]).named("ListBucket"),
    row("HeadObject", OBJECT, &[]).named("GetObject"),
    row("ListBuckets", &[All], &[]).named("ListAllMyBuckets"),
    row("ListObjects", BUCKET, &["s3:prefix", "s3:delimiter", "s3:max-keys"]).named("ListBucket"),
    row("ListObjectsV2", BUCKET, &["s3:prefix", "s3:delimiter", "s3:max-keys"]).named("ListBucket"),
    row("PutObject", OBJECT, &[]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "my-bucket.example", "a1b2", "coffee-shop-receipts"] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in ["ab", "Upper", "-start", "end-", "a..b", "192.168.5.4", "xn--abc", "a_b", &"a".repeat(64)] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }
}
