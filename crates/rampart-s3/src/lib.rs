//! Amazon S3, the part that protects data: buckets and their policies, Block Public Access, object
//! ownership and ACLs, versioning, default encryption, tags and the sub-resources clients read;
//! objects with their versions, every one sealed at rest. Buckets live in one namespace shared by
//! every account, as in AWS; who may act on one is decided by the pipeline from the caller's
//! policies and the bucket's (`access`), not here.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/API/Welcome.html>.

pub mod access;
mod acl;
mod buckets;
mod checksums;
pub mod control;
pub mod cors;
mod data;
mod encryption;
mod lock;
mod multipart;
mod objects;
pub mod post;
mod protection;
pub mod subresources;

use std::collections::BTreeMap;

use rampart_core::{ServiceError, records};
use rampart_store::{Db, Sealer, Tx};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use buckets::{create_bucket, delete_bucket, get_bucket_location, head_bucket, list_buckets};
pub use lock::{
    get_object_legal_hold, get_object_lock_configuration, get_object_retention, put_object_legal_hold,
    put_object_lock_configuration, put_object_retention,
};
pub use multipart::{
    PreparedPart, abort_multipart_upload, complete_multipart_upload, create_multipart_upload, list_multipart_uploads,
    list_parts, prepare_upload_part, upload_part, upload_part_copy,
};
pub use objects::{
    Md5Of, STREAM_ABOVE, Scanned, copy_object, delete_object, delete_object_tagging, delete_objects, get_object,
    get_object_acl, get_object_attributes, get_object_tagging, head_object, list_object_versions, list_objects,
    list_objects_v2, object_for_scan, put_object, put_object_acl, put_object_tagging, set_object_tag, still_scanned,
    upgrade,
};
pub use protection::{
    delete_bucket_encryption, delete_bucket_ownership_controls, delete_bucket_policy, delete_bucket_tagging,
    delete_public_access_block, get_bucket_acl, get_bucket_encryption, get_bucket_ownership_controls,
    get_bucket_policy, get_bucket_policy_status, get_bucket_tagging, get_bucket_versioning, get_public_access_block,
    put_bucket_acl, put_bucket_encryption, put_bucket_ownership_controls, put_bucket_policy, put_bucket_tagging,
    put_bucket_versioning, put_public_access_block,
};

/// The request headers S3 parses itself (ranges, tags, copy sources, encryption contexts), each
/// a value or an S3 error: what the `s3_headers` fuzz target drives.
pub mod headers {
    use rampart_core::ServiceError;

    /// A `Range` header against an object of `size` bytes: an end-exclusive span, or the whole.
    pub fn byte_range(header: &str, size: u64) -> Result<Option<(u64, u64)>, ServiceError> {
        crate::objects::byte_range(Some(header), size)
    }

    /// Whether a CORS rule's pattern (one `*` standing for any run) admits `value`.
    pub fn cors_admits(pattern: &str, value: &str, fold_case: bool) -> bool {
        crate::cors::wildcard(pattern, value, fold_case)
    }

    /// An `x-amz-grant-*` header: its grantees as `(type, value)`.
    pub fn grantees(header: &str) -> Result<Vec<(String, String)>, ServiceError> {
        crate::acl::header_grantees(header)
    }

    /// `x-amz-tagging`, checked as object tags.
    pub fn tagging(header: &str) -> Result<Vec<(String, String)>, ServiceError> {
        crate::objects::parse_tagging(header)
    }

    /// `x-amz-copy-source`: bucket, key and version.
    pub fn copy_source(header: &str) -> Result<(String, String, Option<String>), ServiceError> {
        crate::objects::parse_copy_source(header)
    }

    /// `x-amz-server-side-encryption-context`: base64 of a JSON object of strings.
    pub fn encryption_context(header: &str) -> Result<Vec<(String, String)>, ServiceError> {
        crate::encryption::user_context(Some(header))
    }

    /// SSE-C's three headers (algorithm, key, key MD5): whether they name a key, refused as S3
    /// refuses them otherwise.
    pub fn customer_key(algorithm: &str, key: &str, md5: &str) -> Result<bool, ServiceError> {
        crate::encryption::CustomerKey::from_headers(Some(algorithm), Some(key), Some(md5)).map(|k| k.is_some())
    }
}

/// Most keys one listing page returns.
pub const MAX_KEYS: usize = 1000;

fn bucket_key(name: &str) -> Vec<u8> {
    format!("s3/bucket/{name}").into_bytes()
}

/// Every version of every object of a bucket lives under this prefix, as `KEY 0x00 REV`: the key,
/// a zero byte (which no key may hold), and 16 hex digits that sort a key's newest version first.
fn object_prefix(bucket: &str) -> Vec<u8> {
    format!("s3/object/{bucket}/").into_bytes()
}

/// The prefix of one key's versions.
fn versions_prefix(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = object_prefix(bucket);
    k.extend_from_slice(key.as_bytes());
    k.push(0);
    k
}

/// One version's entry; `seq` orders a key's versions (newest highest).
fn version_entry(bucket: &str, key: &str, seq: u64) -> Vec<u8> {
    let mut k = versions_prefix(bucket, key);
    k.extend_from_slice(format!("{:016x}", u64::MAX - seq).as_bytes());
    k
}

/// Where a single PUT's bytes are (a run of sealed chunks, see `data`); each chunk's store key is
/// also its seal's context, so bytes moved to another object or version do not open.
fn data_key(bucket: &str, key: &str, version: Option<&str>) -> Vec<u8> {
    let mut k = format!("s3/data/{bucket}/{key}").into_bytes();
    k.push(0);
    k.extend_from_slice(version.unwrap_or(NULL_VERSION).as_bytes());
    k
}

/// The version id of an object written while versioning was off or suspended.
pub const NULL_VERSION: &str = "null";

/// The four Block Public Access settings.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html>.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// All four on: what a new bucket gets, as in AWS since April 2023.
    pub const ALL: Self = Self {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    /// Each setting on where either level turns it on (S3 applies the most restrictive).
    fn or(self, other: Option<Self>) -> Self {
        let o = other.unwrap_or_default();
        Self {
            block_public_acls: self.block_public_acls || o.block_public_acls,
            ignore_public_acls: self.ignore_public_acls || o.ignore_public_acls,
            block_public_policy: self.block_public_policy || o.block_public_policy,
            restrict_public_buckets: self.restrict_public_buckets || o.restrict_public_buckets,
        }
    }
}

/// The settings to and from a `PublicAccessBlockConfiguration` of S3's or S3 Control's model
/// (the same four optional flags; an absent one is off).
macro_rules! public_access_block_shape {
    ($shape:path) => {
        impl From<&$shape> for PublicAccessBlock {
            fn from(c: &$shape) -> Self {
                Self {
                    block_public_acls: c.block_public_acls.unwrap_or(false),
                    ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
                    block_public_policy: c.block_public_policy.unwrap_or(false),
                    restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
                }
            }
        }

        impl From<PublicAccessBlock> for $shape {
            fn from(p: PublicAccessBlock) -> Self {
                Self {
                    block_public_acls: Some(p.block_public_acls),
                    ignore_public_acls: Some(p.ignore_public_acls),
                    block_public_policy: Some(p.block_public_policy),
                    restrict_public_buckets: Some(p.restrict_public_buckets),
                }
            }
        }
    };
}
public_access_block_shape!(rampart_shapes::generated::s3::PublicAccessBlockConfiguration);
public_access_block_shape!(rampart_shapes::generated::s3control::PublicAccessBlockConfiguration);

/// An account's own Block Public Access settings (S3 Control's, see [`control`]), over all its
/// buckets.
fn account_public_access_block_key(account: &str) -> Vec<u8> {
    format!("s3/account-public-access-block/{account}").into_bytes()
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
    /// The bucket policy, as written.
    #[serde(default)]
    pub policy: Option<String>,
    /// Whether that policy is public (judged when it was written).
    #[serde(default)]
    pub policy_public: bool,
    /// `None`: never configured (a bucket from before Block Public Access existed here).
    #[serde(default)]
    pub public_access_block: Option<PublicAccessBlock>,
    /// `BucketOwnerEnforced`, `BucketOwnerPreferred` or `ObjectWriter`; `None`: not configured,
    /// which S3 treats as `ObjectWriter`.
    #[serde(default)]
    pub ownership: Option<String>,
    /// The bucket's canned ACL (`private` when none was given).
    #[serde(default)]
    pub acl: Option<String>,
    /// The bucket's ACL given as grants (then no canned ACL).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<acl::Grant>,
    /// `Enabled` or `Suspended`; `None`: never enabled.
    #[serde(default)]
    pub versioning: Option<String>,
    /// MFA Delete: a version is deleted for good, and versioning changed, only by the owner's
    /// root user with its MFA device (see [`protection::mfa_delete_allows`]).
    #[serde(default)]
    pub mfa_delete: bool,
    /// The default encryption, as `(algorithm, KMS key, bucket key)`; `None`: SSE-S3, S3's
    /// default for every bucket.
    #[serde(default)]
    pub encryption: Option<(String, Option<String>, bool)>,
    #[serde(default)]
    pub tags: Option<Vec<(String, String)>>,
    /// Sub-resources stored as clients wrote them (CORS, website, lifecycle…), by name, each
    /// in its awsJson form (see [`subresources`]).
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
    /// Object Lock, once enabled (never disabled), with its default retention.
    #[serde(default)]
    pub object_lock: Option<lock::LockConfig>,
}

impl BucketRecord {
    /// Whether ACLs take part in access (any Object Ownership setting but BucketOwnerEnforced).
    pub fn acls_enabled(&self) -> bool {
        self.ownership.as_deref() != Some("BucketOwnerEnforced")
    }
}

/// One version of an object (or a delete marker), as stored; its bytes are under [`data_key`].
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
    /// `None`: the null version.
    #[serde(default)]
    pub version_id: Option<String>,
    /// Orders the key's versions (see [`version_entry`]).
    #[serde(default)]
    pub seq: u64,
    #[serde(default)]
    pub delete_marker: bool,
    /// The bytes are sealed under Rampart's key (SSE-S3).
    #[serde(default)]
    pub sealed: bool,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// The flexible checksum the bytes keep, as `(algorithm, base64 value)`: the writer's, else
    /// CRC64NVME (none on objects written before Rampart kept one for every object).
    #[serde(default)]
    pub checksum: Option<(String, String)>,
    /// `COMPOSITE` for a multipart object's checksum of its parts' checksums; `None` is
    /// `FULL_OBJECT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    /// The object's canned ACL, where ACLs are enabled.
    #[serde(default)]
    pub acl: Option<String>,
    /// The object's ACL given as grants (then no canned ACL).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<acl::Grant>,
    /// The server-side encryption: `AES256` (also when absent), `aws:kms` or `aws:kms:dsse`.
    #[serde(default)]
    pub sse: Option<String>,
    /// For SSE-KMS: the data key and what it is bound to.
    #[serde(default)]
    pub kms: Option<encryption::KmsEnvelope>,
    /// For SSE-C: what recognises the customer's key (never the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_c: Option<encryption::CustomerKeyCheck>,
    /// A multipart upload's parts, where their bytes stay; empty for a single PUT, whose bytes
    /// are under [`data_key`].
    #[serde(default)]
    pub parts: Vec<PartRef>,
    /// Object Lock's retention and legal hold on this version.
    #[serde(default)]
    pub lock: Option<lock::VersionLock>,
    /// A single PUT's null version keeps its bytes under a run of its own write (its `seq` in the
    /// run's keys), so that a read never meets the chunks of the null version that replaces it;
    /// false for those written before, whose run is the key's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub own_run: bool,
    /// The HTTP headers the object was written with that reads answer with.
    #[serde(default, skip_serializing_if = "StoredHeaders::is_empty")]
    pub headers: StoredHeaders,
}

/// What S3 keeps of an upload's HTTP headers besides `Content-Type` and answers reads with
/// (system-defined metadata): `Cache-Control`, `Content-Disposition`, `Content-Encoding` (but
/// `aws-chunked`, which is only how the upload was sent), `Content-Language`, `Expires`, and
/// `x-amz-website-redirect-location`.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html#SysMetadata>.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHeaders {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website_redirect_location: Option<String>,
}

impl StoredHeaders {
    pub fn is_empty(&self) -> bool {
        *self == StoredHeaders::default()
    }

    /// A `Content-Encoding` as S3 keeps it: without `aws-chunked` (the upload's framing, not the
    /// object's), as sent when it has none.
    pub fn content_encoding(sent: Option<&str>) -> Option<String> {
        let sent = sent?;
        let is_chunked = |t: &str| t.trim().eq_ignore_ascii_case("aws-chunked");
        if !sent.split(',').any(is_chunked) {
            return Some(sent.to_owned()).filter(|s| !s.trim().is_empty());
        }
        let kept: Vec<&str> =
            sent.split(',').filter(|t| !is_chunked(t)).map(str::trim).filter(|t| !t.is_empty()).collect();
        (!kept.is_empty()).then(|| kept.join(", "))
    }
}

/// The headers a write request (`$input`: PutObject, CreateMultipartUpload, CopyObject) asks an
/// object to keep.
macro_rules! stored_headers {
    ($input:expr) => {
        $crate::StoredHeaders {
            cache_control: $input.cache_control.clone(),
            content_disposition: $input.content_disposition.clone(),
            content_encoding: $crate::StoredHeaders::content_encoding($input.content_encoding.as_deref()),
            content_language: $input.content_language.clone(),
            expires: $input.expires.clone(),
            website_redirect_location: $input.website_redirect_location.clone(),
        }
    };
}
pub(crate) use stored_headers;

/// One part of a completed multipart upload, as its object keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRef {
    pub upload: String,
    pub number: u32,
    pub size: u64,
    /// The part's checksum (base64, of the object's algorithm) where the object's is composite:
    /// GetObjectAttributes lists it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

impl ObjectRecord {
    /// Where the version's bytes are: each run's prefix and length, in order.
    fn segments(&self, bucket: &str) -> Vec<(Vec<u8>, u64)> {
        if self.parts.is_empty() {
            let mut run = data_key(bucket, &self.key, self.version_id.as_deref());
            if self.own_run {
                run.extend_from_slice(format!("@{:016x}", self.seq).as_bytes());
            }
            return vec![(run, self.size)];
        }
        self.parts.iter().map(|p| (multipart::part_data(&p.upload, p.number), p.size)).collect()
    }
}

impl ObjectRecord {
    fn version_id(&self) -> &str {
        self.version_id.as_deref().unwrap_or(NULL_VERSION)
    }
}

fn no_such_bucket() -> ServiceError {
    ServiceError::new("NoSuchBucket", 404, "The specified bucket does not exist")
}

fn no_such_key() -> ServiceError {
    ServiceError::new("NoSuchKey", 404, "The specified key does not exist.")
}

fn invalid_argument(message: &str) -> ServiceError {
    ServiceError::new("InvalidArgument", 400, message)
}

fn malformed_xml() -> ServiceError {
    ServiceError::new(
        "MalformedXML",
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// What S3 answers when a bucket-owner-only operation (its policy) comes from another account.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html>.
fn method_not_allowed() -> ServiceError {
    ServiceError::new("MethodNotAllowed", 405, "The specified method is not allowed against this resource.")
}

/// RFC 3986's unreserved characters: all a URL's query value keeps unencoded.
pub(crate) const UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// What an object key keeps unencoded in a URL's path (or a listing's `url` encoding): the
/// unreserved characters and `/`.
pub const KEY_IN_PATH: &percent_encoding::AsciiSet = &UNRESERVED.remove(b'/');

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

/// Bucket records, decoded once per version of their bytes: every S3 request reads its bucket
/// (for the access check and again in its handler).
static BUCKETS: std::sync::LazyLock<records::Decoded<BucketRecord>> = std::sync::LazyLock::new(Default::default);

/// A bucket by name, if it exists, through the read cache.
fn read_bucket(db: &Db, name: &str) -> Result<Option<std::sync::Arc<BucketRecord>>, ServiceError> {
    BUCKETS.read(db, &bucket_key(name))
}

/// The policy of a bucket, as a principal of the bucket's own account meets it (Block Public
/// Access's RestrictPublicBuckets only sets aside outsiders): for services acting as a role of
/// the account, whose requests the bucket policy weighs too.
pub fn bucket_policy(db: &Db, name: &str) -> Result<Option<String>, ServiceError> {
    Ok(read_bucket(db, name)?.and_then(|b| b.policy.clone()))
}

/// A bucket by name. Whether the caller may act on it was decided before the handler ran.
fn bucket(db: &Db, name: &str) -> Result<std::sync::Arc<BucketRecord>, ServiceError> {
    read_bucket(db, name)?.ok_or_else(no_such_bucket)
}

fn bucket_tx(tx: &Tx<'_>, name: &str) -> Result<BucketRecord, ServiceError> {
    records::read_tx(tx, &bucket_key(name))?.ok_or_else(no_such_bucket)
}

/// The account's canonical user id: 64 hex characters, stable for the account.
fn canonical_id(account: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("rampart/s3/owner/{account}").as_bytes());
    data_encoding::HEXLOWER.encode(d.as_ref())
}

/// The account that owns a bucket, if it exists (for services that deliver into buckets).
pub fn bucket_owner_tx(tx: &Tx<'_>, name: &str) -> Result<Option<String>, ServiceError> {
    Ok(records::read_tx::<BucketRecord>(tx, &bucket_key(name))?.map(|b| b.account_id))
}

/// Whether a bucket's policy lets an AWS service (`cloudtrail.amazonaws.com`) make every one of
/// `requests` (an action and its resource) in the request context `context`: S3's answer to the
/// service's own requests. A service has no identity policies, so the bucket policy alone admits
/// it (its denies refuse it); without a policy, nothing does. `None`: no such bucket.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html>.
pub fn service_may(
    tx: &Tx<'_>,
    bucket: &str,
    service: &str,
    requests: &[(&str, String)],
    context: &[(&str, &str)],
) -> Result<Option<bool>, ServiceError> {
    let Some(b) = records::read_tx::<BucketRecord>(tx, &bucket_key(bucket))? else { return Ok(None) };
    let Some(policy) =
        b.policy.and_then(|t| rampart_policy::Policy::parse(&t, rampart_policy::PolicyKind::Resource).ok())
    else {
        return Ok(Some(false));
    };
    let mut ctx = rampart_policy::Context::new();
    for (k, v) in context {
        ctx.set(k, *v);
    }
    Ok(Some(requests.iter().all(|(action, resource)| {
        rampart_policy::service_allowed(&policy, "BucketPolicy", service, (action, resource), ctx.clone())
    })))
}

/// The data key a delivery under SSE-KMS had KMS make: the key and the encryption context, for
/// the service to record its GenerateDataKey call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryKmsUse {
    pub key_arn: String,
    pub context: Vec<(String, String)>,
}

/// Notes a service's use of a KMS key as the key's last use (GetKeyLastUsage), with the request
/// and event ids of the service's KMS event.
pub fn note_kms_use(key_arn: &str, operation: &str, at: OffsetDateTime, ids: (&str, &str)) {
    rampart_kms::used_via_service(key_arn, operation, at, ids);
}

/// Puts an object on behalf of a service (CloudTrail delivering log files), in its transaction:
/// a new version as the bucket's versioning says, sealed as every object is. Under a KMS key,
/// returns the data key's use.
pub fn deliver_object(
    tx: &mut Tx<'_>,
    sealer: &Sealer,
    (bucket, key): (&str, &str),
    (body, content_type, metadata): (&[u8], &str, BTreeMap<String, String>),
    kms: Option<&ServiceKms<'_>>,
    now: OffsetDateTime,
) -> Result<Option<DeliveryKmsUse>, ServiceError> {
    let b = bucket_tx(tx, bucket)?;
    let md5 = objects::md5_of(body);
    let mut rec = objects::new_record(&b, key, (body, md5), Some(content_type.to_owned()), metadata, None, now)?;
    let plan = match kms {
        None => encryption::Plan::sse_s3(),
        Some(k) => {
            let record = rampart_kms::key_for_service(&records::tx_reader(tx), k.account, k.region, k.key_arn, now)?
                .ok_or_else(|| {
                    ServiceError::new("KMS.NotFoundException", 400, format!("Invalid keyId '{}'", k.key_arn))
                })?;
            let mut context = k.context.to_vec();
            context.push(("aws:s3:arn".to_owned(), format!("arn:aws:s3:::{bucket}/{key}")));
            context.sort();
            encryption::Plan {
                algorithm: "aws:kms".to_owned(),
                key: Some(record),
                context,
                bucket_key: false,
                customer: None,
                managed: false,
            }
        }
    };
    let (sealing, envelope) = plan.begin(sealer)?;
    rec.sse = Some(plan.algorithm.clone());
    rec.kms = envelope;
    objects::write_version(tx, &b, rec, Some((&sealing, body)))?;
    Ok(kms.map(|k| DeliveryKmsUse { key_arn: k.key_arn.to_owned(), context: plan.context }))
}

/// A KMS key a service encrypts its deliveries under (SSE-KMS; a trail's `KmsKeyId`), in its
/// caller's account and Region, with the service's own encryption context (`aws:cloudtrail:arn`)
/// beside the object's `aws:s3:arn`.
pub struct ServiceKms<'a> {
    pub key_arn: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    pub context: &'a [(String, String)],
}

/// Why a KMS key cannot encrypt a service's deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKeyProblem {
    /// No such key (by id, ARN or alias) in the account and Region.
    NotFound,
    /// Not a symmetric encryption key, or not enabled.
    Unusable,
    /// Its policy does not let the service make data keys.
    PolicyRefuses,
}

/// The ARN of the KMS key `key_id` names in `account` and `region`, if `service` may encrypt its
/// deliveries under it: a usable symmetric key whose policy lets the service make data keys under
/// `context`, asked with the request keys `request` (`aws:SourceArn`, `aws:SourceAccount`).
pub fn delivery_key(
    tx: &Tx<'_>,
    (account, region): (&str, &str),
    key_id: &str,
    service: &str,
    request: &[(&str, &str)],
    context: &[(String, String)],
    now: OffsetDateTime,
) -> Result<Result<String, DeliveryKeyProblem>, ServiceError> {
    let Some(key) = rampart_kms::key_for_service(&records::tx_reader(tx), account, region, key_id, now)? else {
        return Ok(Err(DeliveryKeyProblem::NotFound));
    };
    if key.spec != "SYMMETRIC_DEFAULT" || key.usage != "ENCRYPT_DECRYPT" || key.state != "Enabled" {
        return Ok(Err(DeliveryKeyProblem::Unusable));
    }
    if !rampart_kms::service_may(&key, service, "kms:GenerateDataKey", request, context) {
        return Ok(Err(DeliveryKeyProblem::PolicyRefuses));
    }
    Ok(Ok(key.arn()))
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
/// own readers (CloudTrail's integrity validator and export), never for a request.
pub struct StoredObjects<'a> {
    pub db: &'a Db,
    pub sealer: &'a Sealer,
}

impl StoredObjects<'_> {
    /// An object's current data and user metadata, `None` when there is no such object.
    pub fn get(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, String> {
        let Some(o) = objects::current(self.db, bucket, key).map_err(|e| e.message)? else {
            return Ok(None);
        };
        let b = crate::bucket(self.db, bucket).map_err(|e| e.message)?;
        let data =
            objects::read_data(self.db, self.sealer, &b, &o, OffsetDateTime::now_utc()).map_err(|e| e.message)?;
        Ok(Some((data, o.metadata)))
    }

    /// The current keys under a prefix, each with when it was last written.
    pub fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, OffsetDateTime)>, String> {
        let mut out = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page =
                objects::list_current(self.db, bucket, prefix, None, after.take(), MAX_KEYS).map_err(|e| e.message)?;
            out.extend(page.objects.iter().map(|o| (o.key.clone(), o.last_modified)));
            if !page.truncated {
                return Ok(out);
            }
            after = page.last;
        }
    }
}

use Target::{All, Bucket, Object};
use rampart_core::actions::{Action, Target, row};

const BUCKET: &[Target] = &[Bucket("Bucket")];
const OBJECT: &[Target] = &[Object("Bucket", "Key")];

/// S3 Control's operations served, and their IAM actions (in S3's `s3:` namespace, on no
/// resource: the account's settings are not a resource type). Deleting the account's settings
/// needs `s3:PutAccountPublicAccessBlock`, as the reference lists.
/// See <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html>.
pub static CONTROL_ACTIONS: &[Action] = &[
    row("DeletePublicAccessBlock", &[All], &[]).named("PutAccountPublicAccessBlock"),
    row("GetPublicAccessBlock", &[All], &[]).named("GetAccountPublicAccessBlock"),
    row("PutPublicAccessBlock", &[All], &[]).named("PutAccountPublicAccessBlock"),
];

/// S3's operations and their IAM actions. The pipeline asks [`access::checks`] for what each
/// request needs (versioned variants, one check per key of DeleteObjects, the bucket's owner and
/// policy); this table names the action each operation is recorded under.
/// See <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html>.
pub static ACTIONS: &[Action] = &[
    row("AbortMultipartUpload", OBJECT, &[]),
    row("CompleteMultipartUpload", OBJECT, &[]).named("PutObject"),
    row("CopyObject", OBJECT, &[]).named("PutObject"),
    row("CreateBucket", BUCKET, &[]),
    row("CreateMultipartUpload", OBJECT, &[]).named("PutObject"),
    row("DeleteBucket", BUCKET, &[]),
    row("DeleteBucketCors", BUCKET, &[]).named("PutBucketCORS"),
    row("DeleteBucketEncryption", BUCKET, &[]).named("PutEncryptionConfiguration"),
    row("DeleteBucketLifecycle", BUCKET, &[]).named("PutLifecycleConfiguration"),
    row("DeleteBucketOwnershipControls", BUCKET, &[]).named("PutBucketOwnershipControls"),
    row("DeleteBucketPolicy", BUCKET, &[]),
    row("DeleteBucketReplication", BUCKET, &[]).named("PutReplicationConfiguration"),
    row("DeleteBucketTagging", BUCKET, &[]).named("PutBucketTagging"),
    row("DeleteBucketWebsite", BUCKET, &[]),
    row("DeleteObject", OBJECT, &[]),
    row("DeleteObjectTagging", OBJECT, &[]),
    row("DeleteObjects", BUCKET, &[]).named("DeleteObject"),
    row("DeletePublicAccessBlock", BUCKET, &[]).named("PutBucketPublicAccessBlock"),
    row("GetBucketAccelerateConfiguration", BUCKET, &[]).named("GetAccelerateConfiguration"),
    row("GetBucketAcl", BUCKET, &[]),
    row("GetBucketCors", BUCKET, &[]).named("GetBucketCORS"),
    row("GetBucketEncryption", BUCKET, &[]).named("GetEncryptionConfiguration"),
    row("GetBucketLifecycleConfiguration", BUCKET, &[]).named("GetLifecycleConfiguration"),
    row("GetBucketLocation", BUCKET, &[]),
    row("GetBucketLogging", BUCKET, &[]),
    row("GetBucketNotificationConfiguration", BUCKET, &[]).named("GetBucketNotification"),
    row("GetBucketOwnershipControls", BUCKET, &[]),
    row("GetBucketPolicy", BUCKET, &[]),
    row("GetBucketPolicyStatus", BUCKET, &[]),
    row("GetBucketReplication", BUCKET, &[]).named("GetReplicationConfiguration"),
    row("GetBucketRequestPayment", BUCKET, &[]),
    row("GetBucketTagging", BUCKET, &[]),
    row("GetBucketVersioning", BUCKET, &[]),
    row("GetBucketWebsite", BUCKET, &[]),
    row("GetObject", OBJECT, &[]),
    row("GetObjectAcl", OBJECT, &[]),
    row("GetObjectAttributes", OBJECT, &[]),
    row("GetObjectLegalHold", OBJECT, &[]),
    row("GetObjectLockConfiguration", BUCKET, &[]).named("GetBucketObjectLockConfiguration"),
    row("GetObjectRetention", OBJECT, &[]),
    row("GetObjectTagging", OBJECT, &[]),
    row("GetPublicAccessBlock", BUCKET, &[]).named("GetBucketPublicAccessBlock"),
    row("HeadBucket", BUCKET, &[]).named("ListBucket"),
    row("HeadObject", OBJECT, &[]).named("GetObject"),
    row("ListBuckets", &[All], &[]).named("ListAllMyBuckets"),
    row("ListMultipartUploads", BUCKET, &[]).named("ListBucketMultipartUploads"),
    row("ListObjectVersions", BUCKET, &["s3:prefix", "s3:delimiter", "s3:max-keys"]).named("ListBucketVersions"),
    row("ListObjects", BUCKET, &["s3:prefix", "s3:delimiter", "s3:max-keys"]).named("ListBucket"),
    row("ListObjectsV2", BUCKET, &["s3:prefix", "s3:delimiter", "s3:max-keys"]).named("ListBucket"),
    row("ListParts", OBJECT, &[]).named("ListMultipartUploadParts"),
    row("PutBucketAccelerateConfiguration", BUCKET, &[]).named("PutAccelerateConfiguration"),
    row("PutBucketAcl", BUCKET, &[]),
    row("PutBucketCors", BUCKET, &[]).named("PutBucketCORS"),
    row("PutBucketEncryption", BUCKET, &[]).named("PutEncryptionConfiguration"),
    row("PutBucketLifecycleConfiguration", BUCKET, &[]).named("PutLifecycleConfiguration"),
    row("PutBucketLogging", BUCKET, &[]),
    row("PutBucketNotificationConfiguration", BUCKET, &[]).named("PutBucketNotification"),
    row("PutBucketOwnershipControls", BUCKET, &[]),
    row("PutBucketPolicy", BUCKET, &[]),
    row("PutBucketReplication", BUCKET, &[]).named("PutReplicationConfiguration"),
    row("PutBucketRequestPayment", BUCKET, &[]),
    row("PutBucketTagging", BUCKET, &[]),
    row("PutBucketVersioning", BUCKET, &[]),
    row("PutBucketWebsite", BUCKET, &[]),
    row("PutObject", OBJECT, &[]),
    row("PutObjectAcl", OBJECT, &[]),
    row("PutObjectLegalHold", OBJECT, &[]),
    row("PutObjectLockConfiguration", BUCKET, &[]).named("PutBucketObjectLockConfiguration"),
    row("PutObjectRetention", OBJECT, &[]),
    row("PutObjectTagging", OBJECT, &[]),
    row("PutPublicAccessBlock", BUCKET, &[]).named("PutBucketPublicAccessBlock"),
    row("UploadPart", OBJECT, &[]).named("PutObject"),
    row("UploadPartCopy", OBJECT, &[]).named("PutObject"),
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

    #[test]
    fn a_keys_versions_sort_newest_first_and_before_longer_keys() {
        let (old, new) = (version_entry("b", "k", 1), version_entry("b", "k", 2));
        assert!(new < old);
        assert!(old < version_entry("b", "k/", 0));
        assert!(old < version_entry("b", "k\u{1}", 0));
        assert!(old.starts_with(&versions_prefix("b", "k")));
    }
}
