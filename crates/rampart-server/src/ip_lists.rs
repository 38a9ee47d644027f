//! The IP lists the IP reputation managed rule groups match (`AWSManagedRulesAmazonIpReputationList`,
//! `AWSManagedRulesAnonymousIpList`), imported by the operator: a directory (`--waf-ip-lists`)
//! holding a file per list, named after the rule that matches it (`AWSManagedIPReputationList.txt`,
//! `AnonymousIPList.txt`, …), each an address or CIDR block per line as feeds publish them.
//! AWS fills these lists from its own threat intelligence, which Rampart cannot have; without a
//! file a rule matches nothing, and the server says so when it starts. Bot Control verifies a bot
//! by a list named after it (`VerifiedBot_googlebot.txt`: the ranges Google publishes). Every
//! `*.txt` file of the directory is a list, named by its stem; a list is read again when its
//! file changes, so a feed can be refreshed in place.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use rampart_waf::engine::Ranges;
use rampart_waf::managed::IP_LISTS;

/// The lists as last read, and the files' modification times and sizes they were read at.
#[derive(Default)]
struct Loaded {
    lists: HashMap<String, Ranges>,
    stamps: Vec<(String, SystemTime, u64)>,
}

/// The operator's IP lists.
pub struct IpLists {
    dir: Option<PathBuf>,
    loaded: RwLock<Arc<Loaded>>,
}

impl std::fmt::Debug for IpLists {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpLists").field("dir", &self.dir).finish()
    }
}

fn file(dir: &Path, list: &str) -> PathBuf {
    dir.join(format!("{list}.txt"))
}

/// Each list file's name, modification time and size, by name: a change to any is read again
/// (the size catches a rewrite within a coarse clock's tick).
fn stamps(dir: Option<&Path>) -> Vec<(String, SystemTime, u64)> {
    let Some(entries) = dir.and_then(|d| std::fs::read_dir(d).ok()) else { return Vec::new() };
    let mut stamps: Vec<(String, SystemTime, u64)> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().to_str()?.strip_suffix(".txt")?.to_owned();
            let meta = e.metadata().ok().filter(std::fs::Metadata::is_file)?;
            Some((name, meta.modified().ok()?, meta.len()))
        })
        .collect();
    stamps.sort();
    stamps
}

impl IpLists {
    /// Reads the lists of a directory (none without one), saying what each holds. A directory
    /// that cannot be read stops the start.
    pub fn open(dir: Option<&Path>) -> Result<IpLists, crate::StartError> {
        if let Some(d) = dir {
            std::fs::read_dir(d).map_err(|e| crate::StartError::IpLists(format!("{}: {e}", d.display())))?;
        }
        let lists = IpLists { dir: dir.map(Path::to_path_buf), loaded: RwLock::default() };
        lists.refresh(true);
        Ok(lists)
    }

    /// Reads the lists again if a file changed (appeared, went, or was written).
    pub fn refresh(&self, starting: bool) {
        let now = stamps(self.dir.as_deref());
        if !starting && self.loaded.read().unwrap_or_else(std::sync::PoisonError::into_inner).stamps == now {
            return;
        }
        if starting {
            for list in IP_LISTS.iter().filter(|l| !now.iter().any(|(n, _, _)| n == *l)) {
                tracing::info!(list, "no WAF IP list imported (--waf-ip-lists): its managed rule matches nothing");
            }
        }
        let mut loaded = Loaded { lists: HashMap::new(), stamps: now };
        for (list, _, _) in &loaded.stamps {
            let Some(dir) = &self.dir else { continue };
            let path = file(dir, list);
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let (ranges, skipped) = Ranges::parse_list(&text);
                    tracing::info!(list, file = %path.display(), ranges = ranges.len(), skipped, "WAF IP list read");
                    loaded.lists.insert(list.clone(), ranges);
                }
                Err(e) => tracing::warn!(list, file = %path.display(), error = %e, "cannot read a WAF IP list"),
            }
        }
        *self.loaded.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(loaded);
    }

    /// Reads the lists again as their files change, until `shutdown` flips.
    pub async fn watch(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        if self.dir.is_none() {
            return;
        }
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let me = self.clone();
            let _ = tokio::task::spawn_blocking(move || me.refresh(false)).await;
        }
    }
}

impl rampart_waf::engine::fields::Listed for IpLists {
    fn listed(&self, list: &str, ip: IpAddr) -> bool {
        let loaded = self.loaded.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        loaded.lists.get(list).is_some_and(|r| r.contains(ip))
    }
}
