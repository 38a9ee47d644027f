//! Buckets: create (with S3's defaults for new buckets), list, head, locate, delete.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html>.

use std::collections::BTreeMap;

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::s3 as shapes;
use rampart_store::Tx;

use crate::{
    BucketRecord, PublicAccessBlock, bucket, bucket_key, bucket_tx, canonical_id, object_prefix, protection,
    valid_bucket_name,
};

/// The caller's buckets by name, those under `Prefix` and in `BucketRegion` when asked; with
/// `MaxBuckets`, a page at a time (a `ContinuationToken` names where the next begins).
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html>.
pub fn list_buckets(
    ctx: &Ctx<'_>,
    input: shapes::ListBucketsRequest,
) -> Result<shapes::ListBucketsOutput, ServiceError> {
    let account = &ctx.principal.account_id;
    let after = input
        .continuation_token
        .as_deref()
        .map(|t| {
            data_encoding::BASE64URL_NOPAD
                .decode(t.as_bytes())
                .ok()
                .and_then(|n| String::from_utf8(n).ok())
                .ok_or_else(|| crate::invalid_argument("The continuation token provided is incorrect"))
        })
        .transpose()?;
    let prefix = input.prefix.as_deref().unwrap_or_default();
    let all: Vec<BucketRecord> = records::scan_records(ctx.db, b"s3/bucket/")?;
    let mut mine = all.into_iter().filter(|b| {
        &b.account_id == account
            && b.name.starts_with(prefix)
            && input.bucket_region.as_ref().is_none_or(|r| *r == b.region)
            && after.as_ref().is_none_or(|a| b.name > *a)
    });
    let most = input.max_buckets.and_then(|n| usize::try_from(n).ok()).unwrap_or(usize::MAX);
    let page: Vec<BucketRecord> = mine.by_ref().take(most).collect();
    let continuation_token = match (mine.next(), page.last()) {
        (Some(_), Some(last)) => Some(data_encoding::BASE64URL_NOPAD.encode(last.name.as_bytes())),
        _ => None,
    };
    let buckets = page
        .into_iter()
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
        continuation_token,
        prefix: input.prefix,
    })
}

/// A new bucket has Block Public Access on and ACLs off (BucketOwnerEnforced), as in AWS since
/// April 2023; `x-amz-object-ownership` chooses otherwise, and a canned ACL is accepted where
/// those settings allow it.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/create-bucket-faq.html>.
pub fn create_bucket(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateBucketRequest,
) -> Result<shapes::CreateBucketOutput, ServiceError> {
    if !valid_bucket_name(&input.bucket) {
        return Err(ServiceError::new("InvalidBucketName", 400, "The specified bucket is not valid."));
    }
    if let Some(mut existing) = records::read_tx::<BucketRecord>(tx, &bucket_key(&input.bucket))? {
        // In us-east-1, for legacy compatibility, creating a bucket you own again succeeds and
        // resets its ACL.
        // See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html>.
        let here = input.create_bucket_configuration.as_ref().and_then(|c| c.location_constraint.as_deref());
        if existing.account_id == ctx.principal.account_id
            && existing.region == "us-east-1"
            && here.is_none_or(str::is_empty)
        {
            existing.acl = None;
            existing.grants.clear();
            records::write_tx(tx, &bucket_key(&existing.name), &existing)?;
            return Ok(shapes::CreateBucketOutput {
                location: Some(format!("/{}", existing.name)),
                bucket_arn: Some(format!("arn:aws:s3:::{}", existing.name)),
            });
        }
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
    let ownership = input.object_ownership.clone().unwrap_or_else(|| "BucketOwnerEnforced".to_owned());
    protection::check_ownership(&ownership)?;
    let region = input
        .create_bucket_configuration
        .and_then(|c| c.location_constraint)
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "us-east-1".to_owned());
    let mut b = BucketRecord {
        v: 1,
        name: input.bucket,
        account_id: ctx.principal.account_id.clone(),
        region,
        created: ctx.now,
        policy: None,
        policy_public: false,
        public_access_block: Some(PublicAccessBlock::ALL),
        ownership: Some(ownership),
        acl: None,
        grants: Vec::new(),
        versioning: None,
        mfa_delete: false,
        encryption: None,
        tags: None,
        configs: BTreeMap::new(),
        object_lock: None,
    };
    // A bucket made with Object Lock has versioning on for good.
    if input.object_lock_enabled_for_bucket == Some(true) {
        b.versioning = Some("Enabled".to_owned());
        b.object_lock = Some(crate::lock::LockConfig::default());
    }
    // A new bucket's ACL: S3's own errors for one that ACLs being off (BucketOwnerEnforced) or
    // Block Public Access (on for every new bucket) refuse.
    let asked = crate::acl::asked!(input, write: input.grant_write.as_deref(), body: None);
    let acl = crate::acl::settle(tx, PublicAccessBlock::default(), &b, &asked, false).map_err(|e| {
        if e.code == "AccessControlListNotSupported" {
            ServiceError::new(
                "InvalidBucketAclWithObjectOwnership",
                400,
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
            )
        } else {
            e
        }
    })?;
    if acl.canned.as_deref().is_some_and(protection::is_public_acl) || crate::acl::is_public(&acl.grants) {
        return Err(ServiceError::new(
            "InvalidBucketAclWithBlockPublicAccessError",
            400,
            "Bucket cannot have public ACLs set with BlockPublicAccess enabled",
        ));
    }
    b.acl = acl.canned;
    b.grants = acl.grants;
    records::write_tx(tx, &bucket_key(&b.name), &b)?;
    Ok(shapes::CreateBucketOutput {
        location: Some(format!("/{}", b.name)),
        bucket_arn: Some(format!("arn:aws:s3:::{}", b.name)),
    })
}

pub fn head_bucket(ctx: &Ctx<'_>, input: shapes::HeadBucketRequest) -> Result<shapes::HeadBucketOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    Ok(shapes::HeadBucketOutput { bucket_region: Some(b.region.clone()), ..shapes::HeadBucketOutput::default() })
}

/// Only an empty bucket goes: no object, no version, no delete marker.
pub fn delete_bucket(
    tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::DeleteBucketRequest,
) -> Result<(), ServiceError> {
    let b = bucket_tx(tx, &input.bucket)?;
    if !tx.scan_prefix(&object_prefix(&b.name), None, 1, false)?.is_empty() {
        return Err(ServiceError::new("BucketNotEmpty", 409, "The bucket you tried to delete is not empty"));
    }
    // Uploads in progress go with it, their parts' bytes too.
    crate::multipart::abort_all(tx, &b.name)?;
    tx.delete(&bucket_key(&b.name))?;
    Ok(())
}

/// GetBucketLocation: the bucket's region as a location constraint — none for us-east-1, as S3
/// answers.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLocation.html>.
pub fn get_bucket_location(
    ctx: &Ctx<'_>,
    input: shapes::GetBucketLocationRequest,
) -> Result<shapes::GetBucketLocationOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    Ok(shapes::GetBucketLocationOutput { location_constraint: (b.region != "us-east-1").then(|| b.region.clone()) })
}
