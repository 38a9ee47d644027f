//! What other services read of an account's organization. The records belong to
//! `rampart-organizations`, which builds on IAM; services below it read the few facts they need
//! here, by field, through a [`RecordReader`] (a cached read or one inside a transaction).

use crate::{ServiceError, keys};
use rampart_store::Db;

/// An organization policy by level: from the organization's root down to the account, each
/// level's policies as `(name, document)`.
pub type PolicyLevels = Vec<Vec<(String, String)>>;

/// The organization policies over an account, as documents: what the IAM policy simulator weighs
/// so that it decides as enforcement does. Implemented by `rampart-organizations`; handlers reach
/// it through [`crate::Ctx::orgs`].
pub trait OrgPolicies: Send + Sync {
    /// The SCPs binding `account`'s principals; `None` where none do (outside an organization,
    /// the management account, the SCP policy type not enabled).
    fn scps(&self, db: &Db, account: &str) -> Result<Option<PolicyLevels>, ServiceError>;
}

/// A store read of a JSON record, from the cache or inside a transaction.
pub type RecordReader<'a> = dyn Fn(&[u8]) -> Result<Option<serde_json::Value>, ServiceError> + 'a;

/// An account's organization, as other services see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgFacts {
    pub id: String,
    pub management_account: String,
    /// The organization has all features (not consolidated billing only).
    pub all_features: bool,
    /// The service principals with trusted access (`cloudtrail.amazonaws.com`, …).
    pub trusted: Vec<String>,
}

impl OrgFacts {
    pub fn trusts(&self, principal: &str) -> bool {
        self.trusted.iter().any(|t| t == principal)
    }
}

fn text(v: &serde_json::Value, field: &str) -> Option<String> {
    v.get(field).and_then(|f| f.as_str()).map(str::to_owned)
}

/// The organization `account` belongs to; `None` outside one.
pub fn facts(account: &str, get: &RecordReader<'_>) -> Result<Option<OrgFacts>, ServiceError> {
    let Some(id) = get(&keys::org_member(account))?.and_then(|m| text(&m, "org")) else { return Ok(None) };
    let record = get(&keys::organization(&id))?.unwrap_or_default();
    let services = get(&keys::org_services(&id))?.unwrap_or_default();
    let trusted = services.as_array().into_iter().flatten().filter_map(|s| text(s, "principal")).collect();
    Ok(Some(OrgFacts {
        management_account: text(&record, "management_account").unwrap_or_default(),
        all_features: text(&record, "feature_set").as_deref() == Some("ALL"),
        trusted,
        id,
    }))
}

/// An entity's path as Organizations spells it: `o-…/` then each id from the root down, each
/// followed by `/` (`o-…/r-…/ou-…/`).
pub fn path<'a>(org: &str, ids: impl IntoIterator<Item = &'a str>) -> String {
    let mut p = format!("{org}/");
    for id in ids {
        p.push_str(id);
        p.push('/');
    }
    p
}

/// The organization `account` belongs to and the path of the OU (or root) it is in, as
/// `aws:PrincipalOrgPaths` spells it; `None` outside an organization.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgpaths>.
pub fn org_path(account: &str, get: &RecordReader<'_>) -> Result<Option<(String, String)>, ServiceError> {
    let Some(member) = get(&keys::org_member(account))? else { return Ok(None) };
    let (Some(org), Some(mut at)) = (text(&member, "org"), text(&member, "parent")) else { return Ok(None) };
    let mut ids = vec![at.clone()];
    // A root has no parent; the depth limit bounds the walk.
    for _ in 0..8 {
        let Some(parent) = get(&keys::org_node(&org, &at))?.and_then(|n| text(&n, "parent")) else { break };
        ids.push(parent.clone());
        at = parent;
    }
    let path = path(&org, ids.iter().rev().map(String::as_str));
    Ok(Some((org, path)))
}
