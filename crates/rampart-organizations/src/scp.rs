//! The service control policies over an account, for the authorizer: compiled once per change of
//! the organization (its generation), then served from memory on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rampart_core::ServiceError;
use rampart_iam::authz::{Organizations, ScpLevels};
use rampart_policy::{Policy, PolicyKind};
use rampart_store::Db;

use super::policies::{SCP, attached, read_policy};
use super::tree::lineage;
use super::{generation, membership};

/// The most accounts whose SCPs are kept compiled; the cache empties itself when full.
const CACHE_LIMIT: usize = 10_000;

/// What one account's SCPs were compiled from: the organization and its generation.
type Compiled = (String, u64, Option<Arc<ScpLevels>>);

/// Serves [`Organizations::scps`] from the store's organization records.
#[derive(Default)]
pub struct ScpSource {
    compiled: Mutex<HashMap<String, Compiled>>,
}

impl ScpSource {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Organizations for ScpSource {
    fn scps(&self, db: &Db, account: &str) -> Result<Option<Arc<ScpLevels>>, ServiceError> {
        let Some((org, m)) = membership(db, account)? else { return Ok(None) };
        // The management account is never restricted by SCPs.
        if org.management_account == account || !org.enabled_types.iter().any(|t| t == SCP) {
            return Ok(None);
        }
        let now = generation(db, &org.id)?;
        if let Ok(cache) = self.compiled.lock()
            && let Some((id, at, levels)) = cache.get(account)
            && *id == org.id
            && *at == now
        {
            return Ok(levels.clone());
        }
        // From the root down: the root, each OU, then the account itself.
        let mut targets = lineage(db, &org.id, &m.parent)?;
        targets.push(account.to_owned());
        let mut levels: ScpLevels = Vec::with_capacity(targets.len());
        for target in targets {
            let mut level = Vec::new();
            for id in attached(db, &org.id, &target)? {
                let Some(p) = read_policy(db, &org.id, &id)?.filter(|p| p.r#type == SCP) else { continue };
                // Content was checked when written; one that no longer parses allows nothing.
                if let Ok(compiled) = Policy::parse(&p.content, PolicyKind::Scp) {
                    level.push((p.name.clone(), Arc::new(compiled)));
                }
            }
            levels.push(level);
        }
        let levels = Some(Arc::new(levels));
        if let Ok(mut cache) = self.compiled.lock() {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(account.to_owned(), (org.id.clone(), now, levels.clone()));
        }
        Ok(levels)
    }
}
