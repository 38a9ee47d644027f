//! Where an account stands in its organization, for the authorizer: its organization, its path
//! and the service control policies over it, compiled once per change of the organization (its
//! generation), then served from memory on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rampart_core::ServiceError;
use rampart_core::orgs::{OrgPolicies, PolicyLevels};
use rampart_iam::authz::{OrgView, Organizations, ScpLevels};
use rampart_policy::{Policy, PolicyKind};
use rampart_store::Db;

use super::policies::{RCP, SCP, attached, read_policy};
use super::tree::lineage;
use super::{OrgRecord, generation, membership};

/// The most accounts whose views are kept; the cache empties itself when full.
const CACHE_LIMIT: usize = 10_000;

/// One account's view and the organization generation it was built at.
type Built = (Arc<str>, u64, Arc<OrgView>);

/// Serves [`Organizations::view`] from the store's organization records.
#[derive(Default)]
pub struct ScpSource {
    built: Mutex<HashMap<String, Built>>,
}

impl ScpSource {
    pub fn new() -> Self {
        Self::default()
    }

    fn build(db: &Db, account: &str) -> Result<Option<(String, u64, Arc<OrgView>)>, ServiceError> {
        let Some((org, m)) = membership(db, account)? else { return Ok(None) };
        let at = generation(db, &org.id)?;
        let parents = lineage(db, &org.id, &m.parent)?;
        let path = rampart_core::orgs::path(&org.id, parents.iter().map(String::as_str));
        let compiled = |kind: &str, policy_kind: PolicyKind| -> Result<Option<ScpLevels>, ServiceError> {
            let Some(levels) = documents(db, &org, &parents, account, kind)? else { return Ok(None) };
            // Content was checked when written; one that no longer parses allows nothing.
            let compile =
                |(name, doc): (String, String)| Some((name, Arc::new(Policy::parse(&doc, policy_kind).ok()?)));
            Ok(Some(levels.into_iter().map(|level| level.into_iter().filter_map(compile).collect()).collect()))
        };
        let scps = compiled(SCP, PolicyKind::Scp)?;
        let rcps = compiled(RCP, PolicyKind::Rcp)?;
        let closed = m.closed.is_some();
        Ok(Some((org.id.clone(), at, Arc::new(OrgView { org: (org.id, path), scps, rcps, closed }))))
    }
}

/// The policies of type `kind` over `account` (in `parents`), by level from the root down: the
/// root, each OU, then the account itself. Neither SCPs nor RCPs restrict the management account
/// or its resources; a type that is not enabled restricts nothing.
fn documents(
    db: &Db,
    org: &OrgRecord,
    parents: &[String],
    account: &str,
    kind: &str,
) -> Result<Option<PolicyLevels>, ServiceError> {
    if org.management_account == account || !org.enabled_types.iter().any(|t| t == kind) {
        return Ok(None);
    }
    let mut levels: PolicyLevels = Vec::with_capacity(parents.len() + 1);
    for target in parents.iter().map(String::as_str).chain([account]) {
        let mut level = Vec::new();
        for id in attached(db, &org.id, target)? {
            if let Some(p) = read_policy(db, &org.id, &id)?.filter(|p| p.r#type == kind) {
                level.push((p.name, p.content));
            }
        }
        levels.push(level);
    }
    Ok(Some(levels))
}

impl OrgPolicies for ScpSource {
    fn scps(&self, db: &Db, account: &str) -> Result<Option<PolicyLevels>, ServiceError> {
        let Some((org, m)) = membership(db, account)? else { return Ok(None) };
        let parents = lineage(db, &org.id, &m.parent)?;
        documents(db, &org, &parents, account, SCP)
    }
}

impl Organizations for ScpSource {
    fn view(&self, db: &Db, account: &str) -> Result<Option<Arc<OrgView>>, ServiceError> {
        // Most accounts are in no organization: one cached read says so, without a lock.
        if db.get_cached(&rampart_core::keys::org_member(account))?.is_none() {
            return Ok(None);
        }
        // A view is current while its organization's generation has not moved: every change to
        // the tree, the memberships, the policies and their attachments moves it.
        let cached = self.built.lock().ok().and_then(|c| c.get(account).cloned());
        if let Some((org, at, view)) = cached
            && generation(db, &org)? == at
        {
            return Ok(Some(view));
        }
        let Some((org, at, view)) = Self::build(db, account)? else {
            if let Ok(mut c) = self.built.lock() {
                c.remove(account);
            }
            return Ok(None);
        };
        if let Ok(mut c) = self.built.lock() {
            if c.len() >= CACHE_LIMIT {
                c.clear();
            }
            c.insert(account.to_owned(), (Arc::from(org), at, view.clone()));
        }
        Ok(Some(view))
    }
}
