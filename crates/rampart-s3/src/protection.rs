//! What a bucket's owner sets to protect it: the bucket policy (checked as S3 checks it, refused
//! when public under BlockPublicPolicy), Block Public Access, Object Ownership and ACLs, default
//! encryption, versioning, tags, and Object Lock's (absent) configuration.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_policy::{Policy, PolicyKind};
use rampart_shapes::generated::s3 as shapes;
use rampart_store::{Db, Tx};

use crate::{
    BucketRecord, PublicAccessBlock, account_public_access_block_key, bucket, bucket_key, bucket_tx, canonical_id,
    invalid_argument, malformed_xml, method_not_allowed,
};

fn save(tx: &mut Tx<'_>, b: &BucketRecord) -> Result<(), ServiceError> {
    records::write_tx(tx, &bucket_key(&b.name), b)
}

/// The bucket, for an operation only its owner's account may call (its policy): S3 answers
/// MethodNotAllowed to anyone else, even one a policy allows.
fn owners_bucket_tx(tx: &Tx<'_>, ctx: &TxCtx<'_>, name: &str) -> Result<BucketRecord, ServiceError> {
    let b = bucket_tx(tx, name)?;
    if b.account_id == ctx.principal.account_id { Ok(b) } else { Err(method_not_allowed()) }
}

fn owners_bucket(ctx: &Ctx<'_>, name: &str) -> Result<std::sync::Arc<BucketRecord>, ServiceError> {
    let b = bucket(ctx.db, name)?;
    if b.account_id == ctx.principal.account_id { Ok(b) } else { Err(method_not_allowed()) }
}

/// The settings that bind a bucket: its own and its account's, each on where either is.
pub(crate) fn effective_pab(db: &Db, b: &BucketRecord) -> Result<PublicAccessBlock, ServiceError> {
    let account: Option<PublicAccessBlock> = records::read_cached(db, &account_public_access_block_key(&b.account_id))?;
    Ok(b.public_access_block.unwrap_or_default().or(account))
}

pub(crate) fn effective_pab_tx(tx: &Tx<'_>, b: &BucketRecord) -> Result<PublicAccessBlock, ServiceError> {
    let account: Option<PublicAccessBlock> = records::read_tx(tx, &account_public_access_block_key(&b.account_id))?;
    Ok(b.public_access_block.unwrap_or_default().or(account))
}

fn malformed_policy(message: &str) -> ServiceError {
    ServiceError::new("MalformedPolicy", 400, message)
}

/// The largest bucket policy S3 accepts.
const MAX_POLICY_BYTES: usize = 20 * 1024;

/// Checks a bucket policy as S3 does: the IAM policy grammar, a principal in every statement, and
/// resources that are this bucket or objects in it. Returns whether it is public.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html>.
fn check_policy(bucket: &str, text: &str) -> Result<bool, ServiceError> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(malformed_policy("Policies must be no more than 20 KB"));
    }
    let json: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| malformed_policy("Policies must be valid JSON and the first byte must be '{'"))?;
    let statements = match json.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(s @ serde_json::Value::Object(_)) => vec![s.clone()],
        _ => return Err(malformed_policy("Missing required field Statement")),
    };
    let own = format!("arn:aws:s3:::{bucket}");
    for st in &statements {
        if st.get("Principal").is_none() && st.get("NotPrincipal").is_none() {
            return Err(malformed_policy("Missing required field Principal"));
        }
        let resources = match st.get("Resource").or_else(|| st.get("NotResource")) {
            Some(serde_json::Value::String(r)) => vec![r.clone()],
            Some(serde_json::Value::Array(a)) => a.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect(),
            _ => return Err(malformed_policy("Missing required field Resource")),
        };
        for r in resources {
            let in_bucket = r == own || r.strip_prefix(&own).is_some_and(|rest| rest.starts_with('/'));
            if !in_bucket {
                return Err(malformed_policy("Policy has invalid resource"));
            }
        }
    }
    let policy = Policy::parse(text, PolicyKind::Resource).map_err(|e| malformed_policy(&e.message))?;
    Ok(policy.is_public())
}

pub fn put_bucket_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutBucketPolicyRequest,
) -> Result<(), ServiceError> {
    let mut b = owners_bucket_tx(tx, ctx, &input.bucket)?;
    let public = check_policy(&b.name, &input.policy)?;
    if public && effective_pab_tx(tx, &b)?.block_public_policy {
        // See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html>.
        return Err(ServiceError::access_denied(format!(
            "User: {} is not authorized to perform: s3:PutBucketPolicy on resource: \"arn:aws:s3:::{}\" because \
             public policies are blocked by the BlockPublicPolicy block public access setting.",
            ctx.principal.arn, b.name
        )));
    }
    b.policy = Some(input.policy);
    b.policy_public = public;
    save(tx, &b)
}

fn no_such_policy() -> ServiceError {
    ServiceError::new("NoSuchBucketPolicy", 404, "The bucket policy does not exist")
}

pub fn get_bucket_policy(
    ctx: &Ctx<'_>,
    input: shapes::GetBucketPolicyRequest,
) -> Result<shapes::GetBucketPolicyOutput, ServiceError> {
    let b = owners_bucket(ctx, &input.bucket)?;
    Ok(shapes::GetBucketPolicyOutput { policy: Some(b.policy.clone().ok_or_else(no_such_policy)?) })
}

pub fn delete_bucket_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteBucketPolicyRequest,
) -> Result<(), ServiceError> {
    let mut b = owners_bucket_tx(tx, ctx, &input.bucket)?;
    b.policy = None;
    b.policy_public = false;
    save(tx, &b)
}

/// Whether the bucket is public: by its policy, or (ACLs enabled and not ignored) by its ACL.
pub fn get_bucket_policy_status(
    ctx: &Ctx<'_>,
    input: shapes::GetBucketPolicyStatusRequest,
) -> Result<shapes::GetBucketPolicyStatusOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    if b.policy.is_none() {
        return Err(no_such_policy());
    }
    let pab = effective_pab(ctx.db, &b)?;
    let public_acl = b.acl.as_deref().is_some_and(is_public_acl) || crate::acl::is_public(&b.grants);
    let by_acl = b.acls_enabled() && !pab.ignore_public_acls && public_acl;
    Ok(shapes::GetBucketPolicyStatusOutput {
        policy_status: Some(shapes::PolicyStatus { is_public: Some(b.policy_public || by_acl) }),
    })
}

pub fn put_public_access_block(
    tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::PutPublicAccessBlockRequest,
) -> Result<(), ServiceError> {
    let mut b = bucket_tx(tx, &input.bucket)?;
    b.public_access_block = Some(PublicAccessBlock::from(&input.public_access_block_configuration));
    save(tx, &b)
}

pub fn get_public_access_block(
    ctx: &Ctx<'_>,
    input: shapes::GetPublicAccessBlockRequest,
) -> Result<shapes::GetPublicAccessBlockOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    let pab = b.public_access_block.ok_or_else(|| {
        ServiceError::new(
            "NoSuchPublicAccessBlockConfiguration",
            404,
            "The public access block configuration was not found",
        )
    })?;
    Ok(shapes::GetPublicAccessBlockOutput { public_access_block_configuration: Some(pab.into()) })
}

pub fn delete_public_access_block(
    tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::DeletePublicAccessBlockRequest,
) -> Result<(), ServiceError> {
    let mut b = bucket_tx(tx, &input.bucket)?;
    b.public_access_block = None;
    save(tx, &b)
}

/// The Object Ownership settings S3 knows.
const OWNERSHIPS: &[&str] = &["BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"];

pub(crate) fn check_ownership(value: &str) -> Result<(), ServiceError> {
    if OWNERSHIPS.contains(&value) { Ok(()) } else { Err(malformed_xml()) }
}

pub fn put_bucket_ownership_controls(
    tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::PutBucketOwnershipControlsRequest,
) -> Result<(), ServiceError> {
    let mut b = bucket_tx(tx, &input.bucket)?;
    let [rule] = input.ownership_controls.rules.as_slice() else { return Err(malformed_xml()) };
    check_ownership(&rule.object_ownership)?;
    // Turning ACLs off leaves the bucket's ACL as its owner's alone; S3 refuses to while the
    // bucket's ACL grants anyone else.
    let others = b.acl.as_deref().is_some_and(|a| a != "private") || !b.grants.is_empty();
    if rule.object_ownership == "BucketOwnerEnforced" && others {
        return Err(ServiceError::new(
            "InvalidBucketAclWithObjectOwnership",
            400,
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
        ));
    }
    b.ownership = Some(rule.object_ownership.clone());
    save(tx, &b)
}

pub fn get_bucket_ownership_controls(
    ctx: &Ctx<'_>,
    input: shapes::GetBucketOwnershipControlsRequest,
) -> Result<shapes::GetBucketOwnershipControlsOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    let ownership = b.ownership.clone().ok_or_else(|| {
        ServiceError::new("OwnershipControlsNotFoundError", 404, "The bucket ownership controls were not found")
    })?;
    Ok(shapes::GetBucketOwnershipControlsOutput {
        ownership_controls: Some(shapes::OwnershipControls {
            rules: vec![shapes::OwnershipControlsRule { object_ownership: ownership }],
        }),
    })
}

pub fn delete_bucket_ownership_controls(
    tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::DeleteBucketOwnershipControlsRequest,
) -> Result<(), ServiceError> {
    let mut b = bucket_tx(tx, &input.bucket)?;
    b.ownership = None;
    save(tx, &b)
}

/// The canned ACLs S3 accepts.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#canned-acl>.
pub(crate) const CANNED_ACLS: &[&str] = &[
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
];

/// Whether a canned ACL grants the public (AllUsers or AuthenticatedUsers) anything.
pub(crate) fn is_public_acl(acl: &str) -> bool {
    matches!(acl, "public-read" | "public-read-write" | "authenticated-read")
}

pub(crate) fn acls_not_supported() -> ServiceError {
    ServiceError::new("AccessControlListNotSupported", 400, "The bucket does not allow ACLs")
}

use crate::acl::{ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY};

/// The owner and grants of an ACL: a canned ACL's, or those given (`given`, when any).
pub(crate) fn acl_grants(
    b: &BucketRecord,
    acl: Option<&str>,
    given: &[crate::acl::Grant],
) -> (shapes::Owner, Vec<shapes::Grant>) {
    let id = canonical_id(&b.account_id);
    let owner = shapes::Owner { display_name: None, id: Some(id.clone()) };
    if !given.is_empty() && b.acls_enabled() {
        return (owner, crate::acl::to_shapes(given));
    }
    let group = |uri: &str, permission: &str| shapes::Grant {
        grantee: Some(shapes::Grantee {
            r#type: "Group".to_owned(),
            uri: Some(uri.to_owned()),
            display_name: None,
            email_address: None,
            id: None,
        }),
        permission: Some(permission.to_owned()),
    };
    let mut grants = vec![shapes::Grant {
        grantee: Some(shapes::Grantee {
            r#type: "CanonicalUser".to_owned(),
            id: Some(id),
            display_name: None,
            email_address: None,
            uri: None,
        }),
        permission: Some("FULL_CONTROL".to_owned()),
    }];
    match acl.filter(|_| b.acls_enabled()) {
        Some("public-read") => grants.push(group(ALL_USERS, "READ")),
        Some("public-read-write") => grants.extend([group(ALL_USERS, "READ"), group(ALL_USERS, "WRITE")]),
        Some("authenticated-read") => grants.push(group(AUTHENTICATED_USERS, "READ")),
        Some("log-delivery-write") => grants.extend([group(LOG_DELIVERY, "WRITE"), group(LOG_DELIVERY, "READ_ACP")]),
        _ => {}
    }
    (owner, grants)
}

pub fn get_bucket_acl(
    ctx: &Ctx<'_>,
    input: shapes::GetBucketAclRequest,
) -> Result<shapes::GetBucketAclOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    let (owner, grants) = acl_grants(&b, b.acl.as_deref(), &b.grants);
    Ok(shapes::GetBucketAclOutput { owner: Some(owner), grants: Some(grants) })
}

pub fn put_bucket_acl(
    tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::PutBucketAclRequest,
) -> Result<(), ServiceError> {
    let mut b = bucket_tx(tx, &input.bucket)?;
    let pab = effective_pab_tx(tx, &b)?;
    let asked =
        crate::acl::asked!(input, write: input.grant_write.as_deref(), body: input.access_control_policy.as_ref());
    let acl = crate::acl::settle(tx, pab, &b, &asked, true)?;
    b.acl = acl.canned;
    b.grants = acl.grants;
    save(tx, &b)
}

/// The encryption algorithms a bucket's default may name.
const ALGORITHMS: &[&str] = &["AES256", "aws:kms", "aws:kms:dsse"];

pub fn put_bucket_encryption(
    tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::PutBucketEncryptionRequest,
) -> Result<(), ServiceError> {
    let mut b = bucket_tx(tx, &input.bucket)?;
    let [rule] = input.server_side_encryption_configuration.rules.as_slice() else { return Err(malformed_xml()) };
    let Some(default) = &rule.apply_server_side_encryption_by_default else { return Err(malformed_xml()) };
    if !ALGORITHMS.contains(&default.sse_algorithm.as_str()) {
        return Err(malformed_xml());
    }
    if default.sse_algorithm == "AES256" && default.kms_master_key_id.is_some() {
        return Err(invalid_argument(
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
        ));
    }
    b.encryption = Some((
        default.sse_algorithm.clone(),
        default.kms_master_key_id.clone(),
        rule.bucket_key_enabled.unwrap_or(false),
    ));
    save(tx, &b)
}

/// Every bucket has default encryption: SSE-S3 unless its owner chose otherwise.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-bucket-encryption.html>.
pub fn get_bucket_encryption(
    ctx: &Ctx<'_>,
    input: shapes::GetBucketEncryptionRequest,
) -> Result<shapes::GetBucketEncryptionOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    let (algorithm, key, bucket_key) = b.encryption.clone().unwrap_or_else(|| ("AES256".to_owned(), None, false));
    Ok(shapes::GetBucketEncryptionOutput {
        server_side_encryption_configuration: Some(shapes::ServerSideEncryptionConfiguration {
            rules: vec![shapes::ServerSideEncryptionRule {
                apply_server_side_encryption_by_default: Some(shapes::ServerSideEncryptionByDefault {
                    sse_algorithm: algorithm,
                    kms_master_key_id: key,
                }),
                bucket_key_enabled: Some(bucket_key),
                ..shapes::ServerSideEncryptionRule::default()
            }],
        }),
    })
}

/// Back to SSE-S3, the default no bucket is without.
pub fn delete_bucket_encryption(
    tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::DeleteBucketEncryptionRequest,
) -> Result<(), ServiceError> {
    let mut b = bucket_tx(tx, &input.bucket)?;
    b.encryption = None;
    save(tx, &b)
}

/// Versioning, once enabled, can be suspended but never turned off. MFA Delete is turned on or
/// off, and versioning changed while it is on, only by the owner's root user with its MFA code.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/MultiFactorAuthenticationDelete.html>.
pub fn put_bucket_versioning(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutBucketVersioningRequest,
) -> Result<(), ServiceError> {
    let mut b = bucket_tx(tx, &input.bucket)?;
    let c = input.versioning_configuration;
    let mfa_delete = match c.mfa_delete.as_deref() {
        None => b.mfa_delete,
        Some("Enabled") => true,
        Some("Disabled") => false,
        Some(_) => return Err(malformed_xml()),
    };
    // Turning MFA Delete on or off, or changing versioning while it is on, takes the owner's
    // root user and its MFA device.
    if mfa_delete || b.mfa_delete {
        mfa_delete_allows(&b, ctx, input.mfa.as_deref())?;
    }
    b.mfa_delete = mfa_delete;
    if b.object_lock.is_some() && c.status.as_deref() == Some("Suspended") {
        return Err(ServiceError::new(
            "InvalidBucketState",
            409,
            "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
        ));
    }
    match c.status.as_deref() {
        Some(s @ ("Enabled" | "Suspended")) => b.versioning = Some(s.to_owned()),
        None if c.mfa_delete.is_some() => {}
        _ => return Err(malformed_xml()),
    }
    save(tx, &b)
}

/// MFA Delete's rule: on a bucket with it on, only the bucket owner's root user, proving its MFA
/// device in `x-amz-mfa`, deletes a version for good or changes versioning. The pipeline checks
/// a request's `x-amz-mfa` against the caller's own device, and spends its step, before an S3
/// handler runs: a header that reaches here is proven.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/MultiFactorAuthenticationDelete.html>.
pub(crate) fn mfa_delete_allows(b: &BucketRecord, ctx: &TxCtx<'_>, mfa: Option<&str>) -> Result<(), ServiceError> {
    if mfa.is_none() {
        return Err(ServiceError::access_denied("Mfa Authentication must be used for this request"));
    }
    let p = ctx.principal;
    if p.kind != rampart_core::PrincipalKind::Root || p.account_id != b.account_id {
        return Err(ServiceError::access_denied(
            "With MFA Delete, only the bucket owner's root user may delete a version or change versioning",
        ));
    }
    Ok(())
}

pub fn get_bucket_versioning(
    ctx: &Ctx<'_>,
    input: shapes::GetBucketVersioningRequest,
) -> Result<shapes::GetBucketVersioningOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    Ok(shapes::GetBucketVersioningOutput {
        mfa_delete: match (b.mfa_delete, &b.versioning) {
            (true, _) => Some("Enabled".to_owned()),
            (false, Some(_)) => Some("Disabled".to_owned()),
            (false, None) => None,
        },
        status: b.versioning.clone(),
    })
}

fn invalid_tag(message: &str) -> ServiceError {
    ServiceError::new("InvalidTag", 400, message)
}

/// Checks tags as S3 does: at most `max`, keys of 1–128 characters, values up to 256, no key twice.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html>.
pub(crate) fn check_tags(tags: &[(String, String)], max: usize) -> Result<(), ServiceError> {
    if tags.len() > max {
        return Err(invalid_tag(&format!("Object tags cannot be greater than {max}")));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > 128 || k.starts_with("aws:") {
            return Err(invalid_tag("The TagKey you have provided is invalid"));
        }
        if v.chars().count() > 256 {
            return Err(invalid_tag("The TagValue you have provided is invalid"));
        }
        if tags.iter().take(i).any(|(other, _)| other == k) {
            return Err(invalid_tag("Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(())
}

pub fn put_bucket_tagging(
    tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::PutBucketTaggingRequest,
) -> Result<(), ServiceError> {
    let mut b = bucket_tx(tx, &input.bucket)?;
    let tags: Vec<(String, String)> = input.tagging.tag_set.into_iter().map(|t| (t.key, t.value)).collect();
    check_tags(&tags, 50)?;
    b.tags = Some(tags);
    save(tx, &b)
}

pub fn get_bucket_tagging(
    ctx: &Ctx<'_>,
    input: shapes::GetBucketTaggingRequest,
) -> Result<shapes::GetBucketTaggingOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    let tags = b.tags.clone().ok_or_else(|| ServiceError::new("NoSuchTagSet", 404, "The TagSet does not exist"))?;
    Ok(shapes::GetBucketTaggingOutput {
        tag_set: tags.into_iter().map(|(key, value)| shapes::Tag { key, value }).collect(),
    })
}

pub fn delete_bucket_tagging(
    tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::DeleteBucketTaggingRequest,
) -> Result<(), ServiceError> {
    let mut b = bucket_tx(tx, &input.bucket)?;
    b.tags = None;
    save(tx, &b)
}
