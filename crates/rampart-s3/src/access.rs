//! What an S3 request asks of the authorizer: the IAM action (its versioned variant when a
//! version is named), the bucket or object ARN, S3's condition keys, the bucket's owner, and the
//! resource policy to weigh — the bucket policy, with the statements a public ACL stands for
//! where ACLs count, and none for callers from elsewhere when Block Public Access restricts a
//! public bucket. DeleteObjects asks once per key.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/how-s3-evaluates-access-control.html>.

use rampart_core::{Ctx, ServiceError, records};
use rampart_shapes::generated::s3 as shapes;
use rampart_shapes::{FromValue, Shape, Value};
use rampart_store::Db;

use crate::{BucketRecord, objects, protection};

/// One authorization an S3 request needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    /// `s3:ACTION`.
    pub action: String,
    /// `arn:aws:s3:::BUCKET`, `arn:aws:s3:::BUCKET/KEY`, or `*`.
    pub resource: String,
    pub keys: Vec<(String, Vec<String>)>,
    /// The account owning the bucket (S3 ARNs name none); `None` when there is no such bucket.
    pub owner: Option<String>,
    /// The resource policy to weigh with the caller's own.
    pub policy: Option<String>,
    /// That policy is the root of access (a KMS key's policy, for the key S3 uses on the
    /// caller's behalf).
    pub policy_required: bool,
    /// For a batch's item (DeleteObjects' objects, by index): a refusal is that item's error in
    /// the batch's answer, not the request's.
    pub item: Option<usize>,
}

/// What the pipeline knows of the request beyond its input.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The caller's account (empty for an anonymous request).
    pub account: &'a str,
    /// Signed in the query string (a presigned URL) rather than the Authorization header.
    pub presigned: bool,
    /// A browser's POST upload, signed (if at all) by its form's policy.
    pub post: bool,
    /// No signature at all.
    pub anonymous: bool,
}

/// The operations whose IAM action changes when a version is named.
/// See <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html>.
fn versioned(action: &str) -> Option<&'static str> {
    Some(match action {
        "GetObject" => "GetObjectVersion",
        "DeleteObject" => "DeleteObjectVersion",
        "GetObjectTagging" => "GetObjectVersionTagging",
        "PutObjectTagging" => "PutObjectVersionTagging",
        "DeleteObjectTagging" => "DeleteObjectVersionTagging",
        "GetObjectAcl" => "GetObjectVersionAcl",
        "PutObjectAcl" => "PutObjectVersionAcl",
        "GetObjectAttributes" => "GetObjectVersionAttributes",
        _ => return None,
    })
}

/// Statements a bucket's or object's public canned ACL stands for, where ACLs count: AllUsers
/// (anyone) or AuthenticatedUsers (anyone signed).
fn acl_statements(acl: &str, resource: &str, bucket_level: bool) -> Vec<serde_json::Value> {
    let (who, write) = match acl {
        "public-read" => ("all", false),
        "public-read-write" => ("all", true),
        "authenticated-read" => ("signed", false),
        _ => return Vec::new(),
    };
    let read: &[&str] = if bucket_level {
        &["s3:ListBucket", "s3:ListBucketVersions"]
    } else {
        &["s3:GetObject", "s3:GetObjectVersion"]
    };
    // No Sid: one could clash with the bucket policy's own, and a policy with two alike does not
    // compile.
    let statement = |actions: &[&str], res: String| {
        let mut s = serde_json::json!({"Effect": "Allow", "Principal": "*", "Action": actions, "Resource": res});
        if who == "signed"
            && let Some(map) = s.as_object_mut()
        {
            map.insert("Condition".to_owned(), serde_json::json!({"Null": {"aws:PrincipalAccount": "false"}}));
        }
        s
    };
    let mut out = vec![statement(read, resource.to_owned())];
    if write && bucket_level {
        out.push(statement(&["s3:PutObject", "s3:DeleteObject"], format!("{resource}/*")));
    }
    out
}

/// The bucket policy with `extra` statements added.
fn with_statements(policy: Option<&str>, extra: Vec<serde_json::Value>) -> Option<String> {
    if extra.is_empty() {
        return policy.map(str::to_owned);
    }
    let mut doc: serde_json::Value = match policy.and_then(|p| serde_json::from_str(p).ok()) {
        Some(d) => d,
        None => serde_json::json!({"Version": "2012-10-17", "Statement": []}),
    };
    let statements = match doc.get_mut("Statement") {
        Some(serde_json::Value::Array(a)) => a,
        Some(s) => {
            *s = serde_json::Value::Array(vec![s.take()]);
            s.as_array_mut()?
        }
        None => return policy.map(str::to_owned),
    };
    statements.extend(extra);
    Some(doc.to_string())
}

/// The bucket policy in force for this caller (none for an outsider when Block Public Access
/// restricts a public bucket), and which ACLs count: none where ACLs are off, else grants to
/// accounts and (unless IgnorePublicAcls) the public ones.
fn policy_in_force(
    db: &Db,
    b: Option<&BucketRecord>,
    facts: Facts<'_>,
) -> Result<(Option<String>, Option<AclsCount>), ServiceError> {
    let Some(b) = b else { return Ok((None, None)) };
    let pab = protection::effective_pab(db, b)?;
    let outsider = facts.anonymous || b.account_id != facts.account;
    let restricted = pab.restrict_public_buckets && b.policy_public && outsider;
    let policy = if restricted { None } else { b.policy.clone() };
    let acls = b.acls_enabled().then_some(AclsCount { public: !pab.ignore_public_acls });
    Ok((policy, acls))
}

/// Which of a bucket's ACLs take part in access (ACLs being on): grants to accounts always; the
/// public ones (to AllUsers or AuthenticatedUsers, the canned public ACLs) unless Block Public
/// Access's IgnorePublicAcls.
#[derive(Clone, Copy)]
struct AclsCount {
    public: bool,
}

impl AclsCount {
    /// The statements a canned ACL and grants stand for on `resource`.
    fn statements(
        self,
        canned: Option<&str>,
        grants: &[crate::acl::Grant],
        resource: &str,
        bucket_level: bool,
    ) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        if self.public
            && let Some(acl) = canned
        {
            out.extend(acl_statements(acl, resource, bucket_level));
        }
        let counted: Vec<crate::acl::Grant> =
            grants.iter().filter(|g| self.public || !crate::acl::is_public(std::slice::from_ref(g))).cloned().collect();
        out.extend(crate::acl::statements(&counted, resource, bucket_level));
        out
    }
}

/// What reading a copy's source needs: `s3:GetObject` (or `GetObjectVersion`) on it under its
/// bucket's policy, and `kms:Decrypt` on its key when it is SSE-KMS.
fn copy_source_access(db: &Db, source: &str, facts: Facts<'_>) -> Result<Vec<Access>, ServiceError> {
    let Ok((bucket_name, key, version)) = objects::parse_copy_source(source) else { return Ok(Vec::new()) };
    let b = crate::read_bucket(db, &bucket_name)?;
    let (policy, _) = policy_in_force(db, b.as_deref(), facts)?;
    let mut keys = request_keys(facts);
    let action = match &version {
        Some(v) => {
            keys.push(("s3:versionid".to_owned(), vec![v.clone()]));
            "GetObjectVersion"
        }
        None => "GetObject",
    };
    let mut out = vec![Access {
        action: format!("s3:{action}"),
        resource: format!("arn:aws:s3:::{bucket_name}/{key}"),
        keys,
        owner: b.as_ref().map(|b| b.account_id.clone()),
        policy,
        policy_required: false,
        item: None,
    }];
    if let (Some(b), false) = (&b, facts.anonymous) {
        let get = records::cached_reader(db);
        let now = time::OffsetDateTime::now_utc();
        let env = objects::version_named(db, &b.name, &key, version.as_deref())?.and_then(|o| o.kms);
        if let Some(env) = env
            && let Some(k) = rampart_kms::key_for_service(&get, &b.account_id, &b.region, &env.key_arn, now)?
        {
            let via = format!("s3.{}.amazonaws.com", b.region);
            let a = rampart_kms::access_via(&k, facts.account, "Decrypt", &via, &env.context);
            out.push(Access {
                action: a.action,
                resource: a.resource,
                keys: a.keys,
                owner: Some(k.account.clone()),
                policy: a.key_policy,
                policy_required: true,
                item: None,
            });
        }
    }
    Ok(out)
}

/// The version a read's access check weighed (the newest, or the one named; a delete marker,
/// maybe), lent to its handler through `Ctx::prefetched`: a GET reads its version once, and is
/// served the version it was authorized on.
pub struct Prefetched {
    bucket: String,
    key: String,
    version_id: Option<String>,
    found: Option<crate::ObjectRecord>,
}

impl Prefetched {
    /// What the access check found for this bucket, key and version, if it looked.
    pub(crate) fn lent<'c>(
        ctx: &'c Ctx<'_>,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Option<Option<&'c crate::ObjectRecord>> {
        ctx.prefetched?.downcast_ref::<Self>()?.for_read(bucket, key, version_id)
    }

    /// What was found, when it was looked up for exactly this read.
    fn for_read(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Option<Option<&crate::ObjectRecord>> {
        (self.bucket == bucket && self.key == key && self.version_id.as_deref() == version_id)
            .then_some(self.found.as_ref())
    }
}

/// What the access check of a request found: the authorizations it needs, and what it read that
/// its handler may use.
pub struct Checked {
    pub access: Vec<Access>,
    pub prefetched: Option<Prefetched>,
}

/// The authorizations `operation` needs for `input`.
pub fn checks(
    db: &Db,
    operation: &str,
    input: &Value,
    shape: Option<&'static Shape>,
    facts: Facts<'_>,
) -> Result<Checked, ServiceError> {
    let mut prefetched = None;
    let access = weigh(db, (operation, input, shape), facts, &mut prefetched)?;
    Ok(Checked { access, prefetched })
}

fn weigh(
    db: &Db,
    (operation, input, shape): (&str, &Value, Option<&'static Shape>),
    facts: Facts<'_>,
    lend: &mut Option<Prefetched>,
) -> Result<Vec<Access>, ServiceError> {
    let row = crate::ACTIONS.iter().find(|a| a.operation == operation);
    let base_action = row.and_then(|r| r.action).unwrap_or(operation);
    let member = |name: &str| shape.and_then(|s| input.string_field(s, name));
    let Some(bucket_name) = member("Bucket") else {
        // ListBuckets: no resource-level permission.
        return Ok(vec![Access {
            action: format!("s3:{base_action}"),
            resource: "*".to_owned(),
            keys: request_keys(facts),
            owner: None,
            policy: None,
            policy_required: false,
            item: None,
        }]);
    };
    let b = crate::read_bucket(db, bucket_name)?;
    let owner = b.as_ref().map(|b| b.account_id.clone());
    let bucket_arn = format!("arn:aws:s3:::{bucket_name}");
    let (policy, acls_count) = policy_in_force(db, b.as_deref(), facts)?;
    let mut keys = request_keys(facts);
    if let Some(o) = &owner {
        keys.push(("s3:ResourceAccount".to_owned(), vec![o.clone()]));
    }
    for (key, name) in [("s3:prefix", "Prefix"), ("s3:delimiter", "Delimiter"), ("s3:x-amz-acl", "ACL")] {
        if let Some(v) = member(name) {
            keys.push((key.to_owned(), vec![v.to_owned()]));
        }
    }
    if let Some((_, Value::Integer(n))) = shape.and_then(|s| input.field(s, "MaxKeys")) {
        keys.push(("s3:max-keys".to_owned(), vec![n.to_string()]));
    }
    if let Some(sse) = member("ServerSideEncryption") {
        keys.push(("s3:x-amz-server-side-encryption".to_owned(), vec![sse.to_owned()]));
    }
    if let Some(kms) = member("SSEKMSKeyId") {
        keys.push(("s3:x-amz-server-side-encryption-aws-kms-key-id".to_owned(), vec![kms.to_owned()]));
    }
    if let Some(alg) = member("SSECustomerAlgorithm") {
        keys.push(("s3:x-amz-server-side-encryption-customer-algorithm".to_owned(), vec![alg.to_owned()]));
    }
    for (key, name) in
        [("s3:object-lock-mode", "ObjectLockMode"), ("s3:object-lock-legal-hold", "ObjectLockLegalHoldStatus")]
    {
        if let Some(v) = member(name) {
            keys.push((key.to_owned(), vec![v.to_owned()]));
        }
    }
    let bypass =
        matches!(shape.and_then(|s| input.field(s, "BypassGovernanceRetention")), Some((_, Value::Bool(true))));
    if let Some(t) = member("Tagging").filter(|_| operation == "PutObject") {
        let tags: Vec<(String, String)> = t
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| {
                let d = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
                (d(k), d(v))
            })
            .collect();
        keys.push(("s3:RequestObjectTagKeys".to_owned(), tags.iter().map(|(k, _)| k.clone()).collect()));
        for (k, v) in tags {
            keys.push((format!("s3:RequestObjectTag/{k}"), vec![v]));
        }
    }

    if operation == "DeleteObjects" {
        let typed = shapes::DeleteObjectsRequest::from_value(input.clone()).map_err(|_| ServiceError::internal())?;
        return Ok(typed
            .delete
            .objects
            .iter()
            .enumerate()
            .flat_map(|(i, o)| {
                let mut keys = keys.clone();
                let action = match &o.version_id {
                    Some(v) => {
                        keys.push(("s3:versionid".to_owned(), vec![v.clone()]));
                        "DeleteObjectVersion"
                    }
                    None => "DeleteObject",
                };
                let resource = format!("{bucket_arn}/{}", o.key);
                let on_key = |action: &str, keys: Vec<(String, Vec<String>)>| Access {
                    action: format!("s3:{action}"),
                    resource: resource.clone(),
                    keys,
                    owner: owner.clone(),
                    policy: policy.clone(),
                    policy_required: false,
                    item: Some(i),
                };
                let mut checks = vec![on_key(action, keys.clone())];
                if bypass {
                    checks.push(on_key("BypassGovernanceRetention", keys));
                }
                checks
            })
            .collect());
    }

    let version = member("VersionId");
    let mut action = base_action;
    if let Some(v) = version {
        keys.push(("s3:versionid".to_owned(), vec![v.to_owned()]));
        action = versioned(base_action).unwrap_or(base_action);
    }
    let object_key = member("Key");
    let resource = match object_key {
        Some(k) => format!("{bucket_arn}/{k}"),
        None => bucket_arn.clone(),
    };
    let mut extra = Vec::new();
    if let (Some(b), Some(count)) = (b.as_ref(), acls_count) {
        extra.extend(count.statements(b.acl.as_deref(), &b.grants, &bucket_arn, true));
    }
    // Reading an object weighs its tags (`s3:ExistingObjectTag/…`) and, where ACLs count, its ACL.
    let reads_object =
        matches!(operation, "GetObject" | "HeadObject" | "GetObjectTagging" | "GetObjectAcl" | "PutObjectAcl");
    let read = match (&b, object_key, reads_object) {
        (Some(b), Some(k), true) => {
            let found = objects::version_asked(db, &b.name, k, version)?;
            let read = found.clone().filter(|o| version.is_some() || !o.delete_marker);
            *lend = Some(Prefetched {
                bucket: b.name.clone(),
                key: k.to_owned(),
                version_id: version.map(str::to_owned),
                found,
            });
            read
        }
        _ => None,
    };
    if let Some(o) = &read {
        for (tk, tv) in &o.tags {
            keys.push((format!("s3:ExistingObjectTag/{tk}"), vec![tv.clone()]));
        }
        if let Some(count) = acls_count {
            extra.extend(count.statements(o.acl.as_deref(), &o.grants, &resource, false));
        }
    }
    let mut out = vec![Access {
        action: format!("s3:{action}"),
        resource,
        keys,
        owner,
        policy: with_statements(policy.as_deref(), extra),
        policy_required: false,
        item: None,
    }];
    // Bypassing GOVERNANCE retention is a permission of its own.
    if bypass && matches!(operation, "DeleteObject" | "PutObjectRetention") {
        let first = out.first().cloned();
        out.extend(first.map(|a| Access { action: "s3:BypassGovernanceRetention".to_owned(), ..a }));
    }
    if let (Some(b), false) = (&b, facts.anonymous) {
        out.extend(kms_access(db, b, (operation, object_key, read.as_ref()), &member, facts)?);
    }
    if let Some(source) = member("CopySource").filter(|_| matches!(operation, "CopyObject" | "UploadPartCopy")) {
        out.extend(copy_source_access(db, source, facts)?);
    }
    Ok(out)
}

/// The KMS key S3 would use on the caller's behalf, and what the caller must be allowed on it:
/// `kms:GenerateDataKey` to write an SSE-KMS object, `kms:Decrypt` to read one, each through
/// `s3.REGION.amazonaws.com` under the object's encryption context.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#aws-managed-customer-managed-keys>.
fn kms_access<'v>(
    db: &Db,
    b: &BucketRecord,
    (operation, object_key, read): (&str, Option<&str>, Option<&crate::ObjectRecord>),
    member: &dyn Fn(&str) -> Option<&'v str>,
    facts: Facts<'_>,
) -> Result<Option<Access>, ServiceError> {
    let get = records::cached_reader(db);
    let now = time::OffsetDateTime::now_utc();
    let via = format!("s3.{}.amazonaws.com", b.region);
    let (key, action, context) = match (operation, object_key) {
        ("PutObject" | "CreateMultipartUpload" | "CopyObject", Some(k)) => {
            let asked = crate::encryption::Asked {
                algorithm: member("ServerSideEncryption"),
                key_id: member("SSEKMSKeyId"),
                context: member("SSEKMSEncryptionContext"),
                bucket_key: None,
            };
            // A request the handler will refuse is refused there, with its own error.
            let Ok(plan) = crate::encryption::plan(&get, b, k, &asked, (facts.account, &b.region), now) else {
                return Ok(None);
            };
            let Some(key) = plan.key else { return Ok(None) };
            (key, "GenerateDataKey", plan.context)
        }
        // An SSE-KMS upload's parts are sealed with its data key: each needs it opened.
        ("UploadPart" | "UploadPartCopy" | "CompleteMultipartUpload", Some(k)) => {
            let Some(env) =
                member("UploadId").and_then(|id| crate::multipart::upload(db, &b.name, k, id)).and_then(|u| u.kms)
            else {
                return Ok(None);
            };
            let Some(key) = rampart_kms::key_for_service(&get, &b.account_id, &b.region, &env.key_arn, now)? else {
                return Ok(None);
            };
            (key, "Decrypt", env.context)
        }
        // The version the request reads, as `checks` found it.
        ("GetObject", Some(_)) => {
            let Some(env) = read.and_then(|o| o.kms.clone()) else {
                return Ok(None);
            };
            let Some(key) = rampart_kms::key_for_service(&get, &b.account_id, &b.region, &env.key_arn, now)? else {
                return Ok(None);
            };
            (key, "Decrypt", env.context)
        }
        _ => return Ok(None),
    };
    let a = rampart_kms::access_via(&key, facts.account, action, &via, &context);
    Ok(Some(Access {
        action: a.action,
        resource: a.resource,
        keys: a.keys,
        owner: Some(key.account.clone()),
        policy: a.key_policy,
        policy_required: true,
        item: None,
    }))
}

/// The keys every S3 request supplies: how it was signed.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/bucket-policy-s3-sigv4-conditions.html>.
fn request_keys(facts: Facts<'_>) -> Vec<(String, Vec<String>)> {
    if facts.anonymous {
        return Vec::new();
    }
    let auth = match (facts.post, facts.presigned) {
        (true, _) => "POST",
        (false, true) => "REST-QUERY-STRING",
        (false, false) => "REST-HEADER",
    };
    vec![
        ("s3:authType".to_owned(), vec![auth.to_owned()]),
        ("s3:signatureversion".to_owned(), vec!["AWS4-HMAC-SHA256".to_owned()]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handler is lent only what was read for its own bucket, key and version (a missing
    /// version too), never another's.
    #[test]
    fn a_prefetched_version_is_lent_only_to_the_read_it_was_found_for() {
        let o: crate::ObjectRecord = serde_json::from_value(serde_json::json!({
            "v": 1, "key": "k", "size": 0, "etag": "", "last_modified": "2026-01-01T00:00:00Z",
            "content_type": null, "metadata": {}
        }))
        .expect("a record");
        let p = Prefetched { bucket: "b".into(), key: "k".into(), version_id: None, found: Some(o) };
        assert_eq!(p.for_read("b", "k", None).map(|f| f.map(|o| o.key.as_str())), Some(Some("k")));
        for (bucket, key, version) in [("c", "k", None), ("b", "K", None), ("b", "k", Some("v1")), ("b", "k/", None)] {
            assert!(p.for_read(bucket, key, version).is_none(), "{bucket} {key} {version:?}");
        }
        let missing = Prefetched { bucket: "b".into(), key: "k".into(), version_id: Some("v1".into()), found: None };
        assert_eq!(missing.for_read("b", "k", Some("v1")).map(|f| f.is_none()), Some(true));
        assert!(missing.for_read("b", "k", None).is_none());
    }

    #[test]
    fn acl_statements_join_the_bucket_policy() {
        let policy = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}}"#;
        let merged =
            with_statements(Some(policy), acl_statements("public-read-write", "arn:aws:s3:::b", true)).expect("merged");
        let doc: serde_json::Value = serde_json::from_str(&merged).expect("json");
        let statements = doc["Statement"].as_array().expect("array");
        assert_eq!(statements.len(), 3);
        assert_eq!(statements[0]["Effect"], "Deny");
        assert_eq!(statements[2]["Resource"], "arn:aws:s3:::b/*");
        if let Err(e) = rampart_policy::Policy::parse(&merged, rampart_policy::PolicyKind::Resource) {
            panic!("the merged policy does not compile: {}", e.message);
        }
        assert_eq!(with_statements(Some(policy), Vec::new()).as_deref(), Some(policy));
        assert!(acl_statements("private", "arn:aws:s3:::b", true).is_empty());
    }
}
