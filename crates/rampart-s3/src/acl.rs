//! ACLs given as grants: `x-amz-grant-*` headers (`id="…"`, `uri="…"`, `emailAddress="…"`) or an
//! `AccessControlPolicy` body, beside the canned ACLs. A grant names an account (by its canonical
//! ID or its root user's email, resolved when the ACL is written) or one of S3's groups, and one
//! permission; where ACLs count, each grant is weighed as the bucket-policy statements its
//! permission maps to. See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html>
//! and, for the mapping, <https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#acl-access-policy-permission-mapping>.

use rampart_core::account::AccountRecord;
use rampart_core::{ServiceError, records};
use rampart_shapes::generated::s3 as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};

use crate::{BucketRecord, PublicAccessBlock, canonical_id};

pub(crate) const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub(crate) const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
pub(crate) const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

const PERMISSIONS: &[&str] = &["FULL_CONTROL", "READ", "READ_ACP", "WRITE", "WRITE_ACP"];

/// One grant as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: Grantee,
    /// `FULL_CONTROL`, `READ`, `READ_ACP`, `WRITE` or `WRITE_ACP`.
    pub permission: String,
}

/// Whom a grant names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Grantee {
    /// An account (S3's canonical user; an email grant is resolved to one).
    Account { account: String },
    /// One of S3's predefined groups, by URI.
    Group { uri: String },
}

/// What a request asks of an ACL: a canned ACL, grants in its headers (by permission), or, for
/// PutBucketAcl and PutObjectAcl, an `AccessControlPolicy` body.
pub(crate) struct Asked<'a> {
    pub canned: Option<&'a str>,
    pub headers: [(&'static str, Option<&'a str>); 5],
    pub body: Option<&'a shapes::AccessControlPolicy>,
}

/// The [`Asked`] of a request with S3's ACL members (`write`: `x-amz-grant-write`, which object
/// writes do not have).
macro_rules! asked {
    ($input:expr, write: $write:expr, body: $body:expr) => {
        crate::acl::Asked {
            canned: $input.acl.as_deref(),
            headers: [
                ("FULL_CONTROL", $input.grant_full_control.as_deref()),
                ("READ", $input.grant_read.as_deref()),
                ("READ_ACP", $input.grant_read_acp.as_deref()),
                ("WRITE", $write),
                ("WRITE_ACP", $input.grant_write_acp.as_deref()),
            ],
            body: $body,
        }
    };
}
pub(crate) use asked;

/// The ACL to keep: a canned ACL's name, or grants (at most one of them).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Kept {
    pub canned: Option<String>,
    pub grants: Vec<Grant>,
}

impl Asked<'_> {
    fn has_headers(&self) -> bool {
        self.headers.iter().any(|(_, v)| v.is_some())
    }

    /// Whether the request asks for any ACL.
    pub fn any(&self) -> bool {
        self.canned.is_some() || self.has_headers() || self.body.is_some()
    }
}

fn invalid_argument(message: &str, name: &str, value: &str) -> ServiceError {
    let mut e = ServiceError::new("InvalidArgument", 400, message);
    e.details.push(("ArgumentName", name.to_owned()));
    e.details.push(("ArgumentValue", value.to_owned()));
    e
}

fn malformed_acl() -> ServiceError {
    ServiceError::new(
        "MalformedACLError",
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// Checks what a request asks against the bucket's ownership and Block Public Access (`pab`),
/// resolving each grantee: the ACL to keep. `required`: the request exists to set an ACL
/// (PutBucketAcl, PutObjectAcl) and must ask for one.
pub(crate) fn settle(
    tx: &Tx<'_>,
    pab: PublicAccessBlock,
    b: &BucketRecord,
    asked: &Asked<'_>,
    required: bool,
) -> Result<Kept, ServiceError> {
    if asked.canned.is_some() && asked.has_headers() {
        return Err(ServiceError::new(
            "InvalidRequest",
            400,
            "Specifying both Canned ACLs and Header Grants is not allowed",
        ));
    }
    if asked.body.is_some() && (asked.canned.is_some() || asked.has_headers()) {
        return Err(ServiceError::new("UnexpectedContent", 400, "This request does not support content"));
    }
    if required && !asked.any() {
        return Err(ServiceError::new("MissingSecurityHeader", 400, "Your request was missing a required header"));
    }
    if let Some(canned) = asked.canned {
        let canned = crate::objects::check_canned_acl(pab, b, Some(canned))?;
        return Ok(Kept { canned, grants: Vec::new() });
    }
    let mut grants = Vec::new();
    for (permission, list) in asked.headers {
        if let Some(list) = list {
            for (kind, value) in header_grantees(list)? {
                grants.push(Grant { grantee: resolve(tx, &kind, &value)?, permission: permission.to_owned() });
            }
        }
    }
    if let Some(policy) = asked.body {
        let owner = canonical_id(&b.account_id);
        if let Some(id) = policy.owner.as_ref().and_then(|o| o.id.as_deref())
            && id != owner
        {
            return Err(ServiceError::access_denied("Access Denied"));
        }
        for g in policy.grants.iter().flatten() {
            let grantee = g.grantee.as_ref().ok_or_else(malformed_acl)?;
            let permission = g.permission.as_deref().ok_or_else(malformed_acl)?;
            let (kind, value) = match grantee.r#type.as_str() {
                "CanonicalUser" => ("id", grantee.id.as_deref()),
                "Group" => ("uri", grantee.uri.as_deref()),
                "AmazonCustomerByEmail" => ("emailAddress", grantee.email_address.as_deref()),
                _ => return Err(malformed_acl()),
            };
            let value = value.ok_or_else(malformed_acl)?;
            if !PERMISSIONS.contains(&permission) {
                return Err(malformed_acl());
            }
            grants.push(Grant { grantee: resolve(tx, kind, value)?, permission: permission.to_owned() });
        }
    }
    if !asked.any() {
        return Ok(Kept::default());
    }
    // Owner-only grants are the private ACL, accepted even where ACLs are off.
    let owner_only = grants
        .iter()
        .all(|g| g.permission == "FULL_CONTROL" && g.grantee == Grantee::Account { account: b.account_id.clone() });
    if !b.acls_enabled() && !owner_only {
        return Err(crate::protection::acls_not_supported());
    }
    if pab.block_public_acls && is_public(&grants) {
        return Err(ServiceError::access_denied("Access Denied"));
    }
    if owner_only && !grants.is_empty() {
        return Ok(Kept::default());
    }
    Ok(Kept { canned: None, grants })
}

/// `id="…", uri="…", emailAddress="…"`: a header's grantees as `(type, value)`.
pub(crate) fn header_grantees(list: &str) -> Result<Vec<(String, String)>, ServiceError> {
    let mut out = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        let (kind, after) = rest
            .split_once('=')
            .ok_or_else(|| invalid_argument("Argument format not recognized", "x-amz-grant", rest))?;
        let after = after.trim_start();
        let (value, tail) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted
                    .find('"')
                    .ok_or_else(|| invalid_argument("Argument format not recognized", "x-amz-grant", rest))?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_once(',').unwrap_or((after, "")),
        };
        out.push((kind.trim().to_owned(), value.trim().to_owned()));
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    Ok(out)
}

/// The grantee a grant's `(type, value)` names: a known account's canonical ID or root email, or
/// one of S3's groups.
fn resolve(tx: &Tx<'_>, kind: &str, value: &str) -> Result<Grantee, ServiceError> {
    match kind.to_ascii_lowercase().as_str() {
        "uri" => {
            if [ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY].contains(&value) {
                Ok(Grantee::Group { uri: value.to_owned() })
            } else {
                Err(invalid_argument("Invalid group uri", "uri", value))
            }
        }
        "id" => {
            let accounts: Vec<AccountRecord> = records::scan_records_tx(tx, b"acct/")?;
            accounts
                .into_iter()
                .find(|a| canonical_id(&a.id) == value)
                .map(|a| Grantee::Account { account: a.id })
                .ok_or_else(|| invalid_argument("Invalid id", "CanonicalUser/ID", value))
        }
        "emailaddress" => {
            let accounts: Vec<AccountRecord> = records::scan_records_tx(tx, b"acct/")?;
            accounts
                .into_iter()
                .find(|a| a.root_email.eq_ignore_ascii_case(value))
                .map(|a| Grantee::Account { account: a.id })
                .ok_or_else(|| {
                    ServiceError::new(
                        "UnresolvableGrantByEmailAddress",
                        400,
                        "The e-mail address you provided does not match any account on record.",
                    )
                })
        }
        _ => Err(invalid_argument("Argument format not recognized", "x-amz-grant", kind)),
    }
}

/// Whether grants give the public (AllUsers or AuthenticatedUsers) anything.
pub(crate) fn is_public(grants: &[Grant]) -> bool {
    grants
        .iter()
        .any(|g| matches!(&g.grantee, Grantee::Group { uri } if uri == ALL_USERS || uri == AUTHENTICATED_USERS))
}

/// Grants as S3 answers them (GetBucketAcl, GetObjectAcl).
pub(crate) fn to_shapes(grants: &[Grant]) -> Vec<shapes::Grant> {
    grants
        .iter()
        .map(|g| shapes::Grant {
            grantee: Some(match &g.grantee {
                Grantee::Account { account } => shapes::Grantee {
                    r#type: "CanonicalUser".to_owned(),
                    id: Some(canonical_id(account)),
                    display_name: None,
                    email_address: None,
                    uri: None,
                },
                Grantee::Group { uri } => shapes::Grantee {
                    r#type: "Group".to_owned(),
                    uri: Some(uri.clone()),
                    display_name: None,
                    email_address: None,
                    id: None,
                },
            }),
            permission: Some(g.permission.clone()),
        })
        .collect()
}

/// The actions a permission grants, as S3 maps them: on the bucket or object itself, and (a
/// bucket's WRITE) on the objects in a bucket.
fn actions(permission: &str, bucket_level: bool) -> (Vec<&'static str>, Vec<&'static str>) {
    let read: &[&str] = if bucket_level {
        &["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"]
    } else {
        &["s3:GetObject", "s3:GetObjectVersion"]
    };
    let read_acp: &[&str] =
        if bucket_level { &["s3:GetBucketAcl"] } else { &["s3:GetObjectAcl", "s3:GetObjectVersionAcl"] };
    let write_acp: &[&str] =
        if bucket_level { &["s3:PutBucketAcl"] } else { &["s3:PutObjectAcl", "s3:PutObjectVersionAcl"] };
    // WRITE applies to a bucket only: writing and deleting the objects in it.
    let write: &[&str] = if bucket_level { &["s3:PutObject", "s3:DeleteObject"] } else { &[] };
    let (own, objects): (Vec<&[&str]>, Vec<&[&str]>) = match permission {
        "READ" => (vec![read], vec![]),
        "READ_ACP" => (vec![read_acp], vec![]),
        "WRITE_ACP" => (vec![write_acp], vec![]),
        "WRITE" => (vec![], vec![write]),
        "FULL_CONTROL" => (vec![read, read_acp, write_acp], vec![write]),
        _ => (vec![], vec![]),
    };
    (own.concat(), objects.concat())
}

/// The bucket-policy statements grants stand for on `resource` (a bucket, or an object).
pub(crate) fn statements(grants: &[Grant], resource: &str, bucket_level: bool) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for g in grants {
        let (principal, condition) = match &g.grantee {
            Grantee::Account { account } => (serde_json::json!({"AWS": format!("arn:aws:iam::{account}:root")}), None),
            Grantee::Group { uri } if uri == ALL_USERS => (serde_json::json!("*"), None),
            Grantee::Group { uri } if uri == AUTHENTICATED_USERS => {
                (serde_json::json!("*"), Some(serde_json::json!({"Null": {"aws:PrincipalAccount": "false"}})))
            }
            // Log delivery writes only where a bucket's logging is served, which it is not here.
            Grantee::Group { .. } => continue,
        };
        let (own, objects) = actions(&g.permission, bucket_level);
        // No Sid: one could clash with the bucket policy's own.
        for (list, res) in [(own, resource.to_owned()), (objects, format!("{resource}/*"))] {
            if list.is_empty() {
                continue;
            }
            let mut s = serde_json::json!({"Effect": "Allow", "Principal": principal, "Action": list, "Resource": res});
            if let (Some(c), Some(map)) = (&condition, s.as_object_mut()) {
                map.insert("Condition".to_owned(), c.clone());
            }
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lists_name_grantees() {
        let got =
            header_grantees(r#"id="abc", uri="http://acs.amazonaws.com/groups/global/AllUsers",emailAddress=x@y.z"#)
                .expect("a list");
        assert_eq!(
            got,
            [("id", "abc"), ("uri", ALL_USERS), ("emailAddress", "x@y.z")].map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert_eq!(header_grantees("nonsense").unwrap_err().code, "InvalidArgument");
        assert_eq!(header_grantees(r#"id="open"#).unwrap_err().code, "InvalidArgument");
    }

    #[test]
    fn permissions_map_to_s3s_actions() {
        let g = |grantee: Grantee, p: &str| Grant { grantee, permission: p.to_owned() };
        let account = Grantee::Account { account: "111122223333".to_owned() };
        let s = statements(&[g(account.clone(), "WRITE")], "arn:aws:s3:::b", true);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0]["Resource"], "arn:aws:s3:::b/*");
        assert_eq!(s[0]["Principal"]["AWS"], "arn:aws:iam::111122223333:root");
        assert_eq!(s[0]["Action"], serde_json::json!(["s3:PutObject", "s3:DeleteObject"]));
        let full = statements(&[g(account, "FULL_CONTROL")], "arn:aws:s3:::b/k", false);
        assert_eq!(full.len(), 1, "no WRITE on an object");
        let readers =
            statements(&[g(Grantee::Group { uri: AUTHENTICATED_USERS.to_owned() }, "READ")], "arn:aws:s3:::b/k", false);
        assert_eq!(readers[0]["Condition"]["Null"]["aws:PrincipalAccount"], "false");
        assert!(is_public(&[g(Grantee::Group { uri: ALL_USERS.to_owned() }, "READ_ACP")]));
        assert!(!is_public(&[g(Grantee::Group { uri: LOG_DELIVERY.to_owned() }, "WRITE")]));
    }
}
