//! GuardDuty's engine as a server task: a run every quarter second (at once again while a run
//! finds a full batch) reads the lists waiting to be read from S3, exports findings to
//! publishing destinations when `guardduty_export_secs` have passed, then reads the events
//! logged since the last run and records what the detections find; every two seconds it brings
//! GuardDuty's members in step with the organizations (auto-enable, accounts that left). One node of a cluster runs
//! it (the `guardduty` lease).

use std::sync::Arc;

use std::path::PathBuf;

use rampart_guardduty::detect::IpList;
use rampart_guardduty::engine;
use rampart_store::{Db, Sealer};
use tokio::sync::watch;

pub async fn detect(
    db: Db,
    sealer: Arc<Sealer>,
    orgs: Arc<dyn rampart_core::orgs::OrgPolicies>,
    (export_every, tor_file, hash_file, tuning): (
        std::time::Duration,
        Option<PathBuf>,
        Option<PathBuf>,
        rampart_guardduty::detect::Tuning,
    ),
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut exported = std::time::Instant::now();
    let mut enrolled = std::time::Instant::now();
    let mut tor = TorList { file: Watched::new(tor_file), list: None };
    let mut hashes = Watched::new(hash_file);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if !db.lease("guardduty") {
            continue;
        }
        load_lists(&db, &sealer).await;
        refresh_hashes(&mut hashes);
        // Malware Protection for S3: objects written into protected buckets since the last pass.
        let (s, reader, orgs) = (sealer.clone(), db.clone(), orgs.clone());
        let now = time::OffsetDateTime::now_utc();
        let pass = tokio::task::spawn_blocking(move || {
            // What a plan's role may do, weighed by IAM as for a request of its account.
            let role_may = |account: &str, role: &str, checks: (&[(&str, &str)], Option<&str>)| {
                let principal = rampart_core::Principal::root(account, None);
                let ctx = rampart_core::Ctx {
                    orgs: Some(&*orgs),
                    ..rampart_core::Ctx::internal(&principal, (&reader, &s), now, "")
                };
                let service = rampart_guardduty::malware::PLAN_SERVICE;
                rampart_iam::iam::service_role_may(&ctx, role, service, checks)
            };
            rampart_guardduty::malware::scan_pending(&reader, &s, now, &role_may)
        })
        .await;
        let recorded = match pass {
            Ok(Ok(Some(pass))) => {
                db.transact(move |tx| rampart_guardduty::malware::record_pass(tx, pass, now)).await.map(drop).map_err(
                    |e| match e {
                        rampart_store::TxError::Aborted(e) => e,
                        rampart_store::TxError::Store(e) => e.into(),
                    },
                )
            }
            Ok(Ok(None)) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(rampart_core::ServiceError::internal()),
        };
        if let Err(e) = recorded {
            tracing::warn!(error = ?e, "scanning S3 objects for malware failed; it is retried on the next run");
        }
        tor.refresh();
        if enrolled.elapsed() >= AUTO_ENABLE_EVERY {
            enrolled = std::time::Instant::now();
            auto_enable(&db).await;
        }
        if exported.elapsed() >= export_every {
            exported = std::time::Instant::now();
            let s = sealer.clone();
            let now = time::OffsetDateTime::now_utc();
            match db.transact(move |tx| rampart_guardduty::export::export_pending(tx, &s, now)).await {
                // Each key's use by GuardDuty is its last, once the export committed.
                Ok(done) => {
                    for u in &done.kms_uses {
                        rampart_s3::note_kms_use(&u.key_arn, "GenerateDataKey", u.at, (&u.request_id, &u.event_id));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = ?e, "exporting GuardDuty findings failed; it is retried on the next run")
                }
            }
        }
        loop {
            let now = time::OffsetDateTime::now_utc();
            let reader = db.clone();
            let list = tor.list.clone();
            let plan = match tokio::task::spawn_blocking(move || engine::plan(&reader, now, (list, tuning))).await {
                Ok(Ok(plan)) => plan,
                Ok(Err(e)) => {
                    tracing::warn!(error = ?e, "reading events for GuardDuty failed; it is retried on the next run");
                    break;
                }
                Err(_) => break,
            };
            let full = plan.events >= engine::BATCH;
            if !plan.moves() {
                break;
            }
            match db.transact(move |tx| engine::apply(tx, &plan, now)).await {
                Ok(_) if full => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = ?e, "recording GuardDuty findings failed; it is retried on the next run");
                    break;
                }
            }
        }
    }
}

/// How often GuardDuty's memberships are brought in step with the organizations.
const AUTO_ENABLE_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Brings GuardDuty's memberships in step with the organizations (only where an organization
/// has a GuardDuty administrator): auto-enable's new members, and members that left.
async fn auto_enable(db: &Db) {
    let reader = db.clone();
    if !matches!(
        tokio::task::spawn_blocking(move || rampart_guardduty::members::organized(&reader)).await,
        Ok(Ok(true))
    ) {
        return;
    }
    let now = time::OffsetDateTime::now_utc();
    if let Err(e) = db.transact(move |tx| rampart_guardduty::members::reconcile(tx, now)).await {
        tracing::warn!(error = ?e, "bringing GuardDuty's members in step with the organizations failed; it is retried on the next run");
    }
}

/// Reads the trusted IP sets and threat intel sets waiting to be (re)read from their objects.
async fn load_lists(db: &Db, sealer: &Arc<Sealer>) {
    let reader = db.clone();
    let pending = match tokio::task::spawn_blocking(move || engine::pending(&reader)).await {
        Ok(Ok(p)) => p,
        _ => return,
    };
    for (account, region, kind, id) in pending {
        let (reader, sealer) = (db.clone(), sealer.clone());
        let (a, r, i) = (account.clone(), region.clone(), id.clone());
        let loaded = tokio::task::spawn_blocking(move || engine::read_list(&reader, &sealer, &a, &r, kind, &i)).await;
        let loaded = match loaded {
            Ok(Some(l)) => l,
            Ok(None) => Err("the list is gone".to_owned()),
            Err(_) => continue,
        };
        if let Err(e) = db.transact(move |tx| engine::store_list(tx, &account, &region, kind, &id, loaded)).await {
            tracing::warn!(error = ?e, "storing a GuardDuty list failed; it is retried on the next run");
        }
    }
}

/// A file the task reads again when its modification time changes (looked at once a minute).
struct Watched {
    file: Option<PathBuf>,
    read: Option<std::time::SystemTime>,
    checked: Option<std::time::Instant>,
}

impl Watched {
    fn new(file: Option<PathBuf>) -> Watched {
        Watched { file, read: None, checked: None }
    }

    /// The file's bytes when it changed since the last read (or was never read).
    fn changed(&mut self, what: &str) -> Option<(&std::path::Path, Vec<u8>)> {
        let file = self.file.as_deref()?;
        if self.checked.is_some_and(|c| c.elapsed() < std::time::Duration::from_secs(60)) {
            return None;
        }
        self.checked = Some(std::time::Instant::now());
        let modified = std::fs::metadata(file).and_then(|m| m.modified()).ok();
        if modified.is_some() && modified == self.read {
            return None;
        }
        match std::fs::read(file) {
            Ok(data) => {
                self.read = modified;
                Some((file, data))
            }
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "cannot read the {what}");
                None
            }
        }
    }
}

/// The Tor exit list file, and the list read from it.
struct TorList {
    file: Watched,
    list: Option<Arc<IpList>>,
}

impl TorList {
    fn refresh(&mut self) {
        if let Some((file, data)) = self.file.changed("Tor exit list") {
            let list = read_tor(file, &data);
            tracing::info!(file = %file.display(), nodes = list.networks.len(), "read the Tor exit list");
            self.list = Some(Arc::new(list));
        }
    }
}

/// The operator's list of malware hashes, for Malware Protection for S3.
fn refresh_hashes(file: &mut Watched) {
    if let Some((path, data)) = file.changed("malware hash list") {
        let n = rampart_guardduty::malware::set_known_bad(&String::from_utf8_lossy(&data));
        tracing::info!(file = %path.display(), hashes = n, "read the malware hash list");
    }
}

/// A Tor exit list as the detections read it, named after its file.
pub fn read_tor(file: &std::path::Path, data: &[u8]) -> IpList {
    let networks = rampart_guardduty::lists::parse_tor(data);
    let name = file.file_name().map_or_else(|| "TorExitNodes".to_owned(), |n| n.to_string_lossy().into_owned());
    IpList { name, networks, since: None }
}
