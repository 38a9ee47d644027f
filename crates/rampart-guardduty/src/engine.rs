//! The detector's engine: a consumer of the event log with its own cursor, as the event-history
//! indexer is. A run reads the events after the cursor on a reader ([`plan`]: the detections and
//! what each account's state becomes, pure over what it read), then writes the findings, the
//! states and the cursor's move in one transaction ([`apply`], which does nothing if the cursor
//! moved meanwhile): a restart neither repeats nor skips an event.
//!
//! Only accounts with an enabled detector in an event's Region are looked at; an event of a
//! global service (IAM, STS, Organizations) is looked at by each of the account's detectors.

use std::collections::HashMap;
use std::sync::Arc;

use rampart_core::{ServiceError, records};
use rampart_store::{Db, Tx};
use serde_json::Value as Json;
use time::OffsetDateTime;

use crate::detect::{self, Detection, IpList, Lists, State, Tuning};
use crate::findings::{self, Recorded};
use crate::lists::{self, Kind};
use crate::{Detector, filters};

/// Where the engine has got to in the log: the last position it has read.
const CURSOR: &[u8] = b"meta/guardduty-cursor";
/// Lists waiting to be read from S3: `gdpending/ACCOUNT/REGION/KIND/ID`.
const PENDING: &str = "gdpending/";
/// Events younger than this wait for the next run (events of reads commit a moment late).
pub const LAG: time::Duration = time::Duration::seconds(1);
/// Most events one run reads.
pub const BATCH: usize = 5000;

pub(crate) fn cursor(stored: Option<Vec<u8>>) -> i64 {
    stored.and_then(|c| std::str::from_utf8(&c).ok()?.parse().ok()).unwrap_or(i64::MIN)
}

/// The last log position a pass reads up to: events [`LAG`] old, so that none committed late is
/// passed over.
pub(crate) fn horizon(now: OffsetDateTime) -> i64 {
    rampart_cloudtrail::position(now - LAG).saturating_sub(1)
}

fn state_key(account: &str, region: &str) -> Vec<u8> {
    format!("{}state", crate::prefix(account, region)).into_bytes()
}

/// The enabled detectors of an account, by Region.
fn detectors(db: &Db, account: &str) -> Result<Vec<(String, Detector)>, ServiceError> {
    let p = format!("guardduty/{account}/");
    let mut out = Vec::new();
    // Each Region's detector is `guardduty/ACCOUNT/REGION/detector`: step Region by Region.
    let mut after: Option<Vec<u8>> = None;
    loop {
        let rows = db.scan_prefix(p.as_bytes(), after.as_deref(), 1, false)?;
        let Some((k, _)) = rows.into_iter().next() else { break };
        let rest = k.get(p.len()..).unwrap_or_default();
        let region = String::from_utf8_lossy(rest.split(|b| *b == b'/').next().unwrap_or_default()).into_owned();
        let get = records::cached_reader(db);
        if let Some(d) = crate::detector(&get, account, &region)?.filter(|d| d.enabled) {
            out.push((region.clone(), d));
        }
        // Past every key of this Region.
        after = Some(format!("{p}{region}/\u{10FFFF}").into_bytes());
    }
    Ok(out)
}

fn active(db: &Db, account: &str, region: &str, kind: Kind) -> Result<Vec<IpList>, ServiceError> {
    Ok(lists::all(db, account, region, kind)?
        .into_iter()
        .filter(|l| l.activate && l.status == "ACTIVE")
        .map(|l| IpList {
            name: l.name,
            networks: l.entries.iter().filter_map(|e| e.parse().ok()).collect(),
            since: l.since.map(rampart_cloudtrail::position),
        })
        .collect())
}

/// What one run writes.
#[derive(Debug, Default)]
pub struct Plan {
    from: i64,
    to: Option<i64>,
    pub events: usize,
    /// Each detection with the account and Region of the detector it is for.
    pub detections: Vec<(String, String, Detection)>,
    states: Vec<((String, String), State)>,
}

impl Plan {
    /// Whether the run has anything to write: events read, or passed over unread.
    pub fn moves(&self) -> bool {
        self.to.is_some()
    }
}

/// Whether an event's service is global, its events recorded in us-east-1 for every Region.
fn global(source: &str) -> bool {
    matches!(source, "iam.amazonaws.com" | "sts.amazonaws.com" | "organizations.amazonaws.com" | "signin.amazonaws.com")
}

/// Reads the events after the cursor (up to `now` less [`LAG`]) and plans what they give.
/// While no account has GuardDuty at all, events are passed over unread: the cursor moves to the
/// last of them, so that a detector made later starts from there, as it would have.
pub fn plan(db: &Db, now: OffsetDateTime, (tor, tuning): (Option<Arc<IpList>>, Tuning)) -> Result<Plan, ServiceError> {
    let from = cursor(db.get(CURSOR)?);
    let horizon = horizon(now);
    if db.scan_prefix(b"guardduty/", None, 1, false)?.is_empty() {
        let last = db.log_range(from.saturating_add(1), horizon, 1, true)?;
        let to = last.first().map(|(at, _)| *at);
        return Ok(Plan { from, to, ..Plan::default() });
    }
    let rows = db.log_range(from.saturating_add(1), horizon, BATCH, false)?;
    let mut run = Run::live().with_tor(tor).with_tuning(tuning);
    let mut plan = run.plan(db, &rows)?;
    plan.from = from;
    plan.states = run.states.into_iter().collect();
    Ok(plan)
}

/// What a run of the detections reads once and keeps while it goes: each account's detectors,
/// states and lists.
pub struct Run {
    /// A replay: events before a detector existed are looked at too, states start empty and are
    /// kept in memory only, and findings already counted for an event are not counted again.
    replay: bool,
    detectors: HashMap<String, Vec<(String, Detector)>>,
    states: HashMap<(String, String), State>,
    lists: HashMap<(String, String), Lists>,
    tor: Option<Arc<IpList>>,
    tuning: Tuning,
}

type Text<'a> = Option<std::borrow::Cow<'a, str>>;

/// The fields of an event the detections read, borrowed from its JSON; the rest (request
/// parameters, response elements, resources, TLS details) is skipped unread, as most events need
/// none of it.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct View<'a> {
    #[serde(borrow)]
    recipient_account_id: Text<'a>,
    #[serde(borrow)]
    event_time: Text<'a>,
    #[serde(borrow)]
    event_source: Text<'a>,
    #[serde(borrow)]
    event_name: Text<'a>,
    #[serde(borrow)]
    event_type: Text<'a>,
    #[serde(borrow)]
    aws_region: Text<'a>,
    #[serde(rename = "sourceIPAddress", borrow)]
    source_ip_address: Text<'a>,
    #[serde(borrow)]
    user_agent: Text<'a>,
    #[serde(borrow)]
    error_code: Text<'a>,
    #[serde(borrow, default)]
    user_identity: Option<Identity<'a>>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Identity<'a> {
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    principal_id: Text<'a>,
    #[serde(borrow)]
    arn: Text<'a>,
    #[serde(borrow)]
    account_id: Text<'a>,
    #[serde(borrow)]
    access_key_id: Text<'a>,
    #[serde(borrow)]
    user_name: Text<'a>,
    #[serde(borrow)]
    invoked_by: Text<'a>,
    #[serde(borrow, default)]
    session_context: Option<SessionContext<'a>>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionContext<'a> {
    #[serde(borrow, default)]
    session_issuer: Option<Issuer<'a>>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Issuer<'a> {
    #[serde(borrow)]
    arn: Text<'a>,
    #[serde(borrow)]
    user_name: Text<'a>,
}

/// A text field of an event into the JSON the detections read, when it has one.
fn put(map: &mut serde_json::Map<String, Json>, k: &str, v: &Text<'_>) {
    if let Some(v) = v {
        map.insert(k.to_owned(), Json::String(v.to_string()));
    }
}

impl View<'_> {
    /// The event as the detections read it: the fields read here, with `requestParameters`
    /// and `responseElements` only when a detection needs them (else the event is read whole).
    fn event(&self, bytes: &[u8]) -> Option<Json> {
        let (source, name) =
            (self.event_source.as_deref().unwrap_or_default(), self.event_name.as_deref().unwrap_or_default());
        if detect::reads_body(source, name) {
            return serde_json::from_slice(bytes).ok();
        }
        let mut e = serde_json::Map::new();
        put(&mut e, "recipientAccountId", &self.recipient_account_id);
        put(&mut e, "eventTime", &self.event_time);
        put(&mut e, "eventSource", &self.event_source);
        put(&mut e, "eventName", &self.event_name);
        put(&mut e, "eventType", &self.event_type);
        put(&mut e, "awsRegion", &self.aws_region);
        put(&mut e, "sourceIPAddress", &self.source_ip_address);
        put(&mut e, "userAgent", &self.user_agent);
        put(&mut e, "errorCode", &self.error_code);
        if let Some(id) = &self.user_identity {
            let mut m = serde_json::Map::new();
            put(&mut m, "type", &id.kind);
            put(&mut m, "principalId", &id.principal_id);
            put(&mut m, "arn", &id.arn);
            put(&mut m, "accountId", &id.account_id);
            put(&mut m, "accessKeyId", &id.access_key_id);
            put(&mut m, "userName", &id.user_name);
            put(&mut m, "invokedBy", &id.invoked_by);
            if let Some(issuer) = id.session_context.as_ref().and_then(|c| c.session_issuer.as_ref()) {
                let mut i = serde_json::Map::new();
                put(&mut i, "arn", &issuer.arn);
                put(&mut i, "userName", &issuer.user_name);
                m.insert("sessionContext".to_owned(), serde_json::json!({ "sessionIssuer": i }));
            }
            e.insert("userIdentity".to_owned(), Json::Object(m));
        }
        Some(Json::Object(e))
    }
}

impl Run {
    /// A run of the live engine, from the stored states.
    pub fn live() -> Run {
        Run {
            replay: false,
            detectors: HashMap::new(),
            states: HashMap::new(),
            lists: HashMap::new(),
            tor: None,
            tuning: Tuning::default(),
        }
    }

    /// The run with the Tor exit nodes the server was given.
    pub fn with_tor(self, tor: Option<Arc<IpList>>) -> Run {
        Run { tor, ..self }
    }

    /// A replay over past events (see [`replay`]).
    /// The detections' thresholds (the server's `guardduty_thresholds`).
    pub fn with_tuning(self, tuning: Tuning) -> Run {
        Run { tuning, ..self }
    }

    pub fn replay() -> Run {
        Run { replay: true, ..Run::live() }
    }

    /// Plans over log rows (positions and stored events).
    pub fn plan(&mut self, db: &Db, rows: &[(i64, Vec<u8>)]) -> Result<Plan, ServiceError> {
        let Some(&(last, _)) = rows.last() else { return Ok(Plan::default()) };
        let mut detections: Vec<(String, String, Detection)> = Vec::new();
        let mut merged: HashMap<(String, String, &'static str, String), usize> = HashMap::new();
        for (at, stored) in rows {
            let Some(bytes) = rampart_cloudtrail::stored::unpack(stored) else { continue };
            // Only what the detections read is read, and for accounts with a detector only.
            let Ok(view) = serde_json::from_slice::<View<'_>>(&bytes) else { continue };
            let Some(account) = view.recipient_account_id.as_deref() else { continue };
            if !self.detectors.contains_key(account) {
                self.detectors.insert(account.to_owned(), detectors(db, account)?);
            }
            if self.detectors.get(account).is_none_or(Vec::is_empty) {
                continue;
            }
            let Some(event) = view.event(&bytes) else { continue };
            for (a, r, d) in self.detect(db, account, *at, &event)? {
                // Repeats within a run are one write (a replay keeps each, to count only those
                // after a finding's last event).
                let k = (a, r, d.kind.name, d.key.clone());
                match merged.get(&k).copied().filter(|_| !self.replay).and_then(|i| detections.get_mut(i)) {
                    Some((_, _, earlier)) => Detection::merge(earlier, d),
                    None => {
                        merged.insert(k.clone(), detections.len());
                        detections.push((k.0, k.1, d));
                    }
                }
            }
        }
        Ok(Plan { from: 0, to: Some(last), events: rows.len(), detections, states: Vec::new() })
    }

    fn detect(
        &mut self,
        db: &Db,
        account: &str,
        at: i64,
        event: &Json,
    ) -> Result<Vec<(String, String, Detection)>, ServiceError> {
        let event_region = crate::at(event, &["awsRegion"]).as_str().unwrap_or_default();
        let everywhere = global(crate::at(event, &["eventSource"]).as_str().unwrap_or_default());
        let replay = self.replay;
        // A detector looks at what happens once it exists, not at the history before it (by log
        // position: the event's time to the nanosecond); a replay looks at what it is given.
        let regions: Vec<String> = self
            .detectors
            .get(account)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|(r, d)| {
                (everywhere || r == event_region) && (replay || at >= rampart_cloudtrail::position(d.created))
            })
            .map(|(r, _)| r.clone())
            .collect();
        let mut out = Vec::new();
        for region in regions {
            let k = (account.to_owned(), region.clone());
            if !self.states.contains_key(&k) {
                let st: State = if replay {
                    State::default()
                } else {
                    records::read_with(&records::cached_reader(db), &state_key(account, &region))?.unwrap_or_default()
                };
                self.states.insert(k.clone(), st);
                // A member's activity is weighed against its administrator's lists.
                let owner = crate::members::governing(&records::cached_reader(db), account, &region)?;
                let l = Lists {
                    threats: [
                        active(db, &owner, &region, Kind::Threat)?,
                        active(db, &owner, &region, Kind::ThreatEntity)?,
                    ]
                    .concat(),
                    trusted: [
                        active(db, &owner, &region, Kind::Trusted)?,
                        active(db, &owner, &region, Kind::TrustedEntity)?,
                    ]
                    .concat(),
                    tor: self.tor.clone(),
                    tuning: self.tuning,
                };
                self.lists.insert(k.clone(), l);
            }
            let (Some(st), Some(l)) = (self.states.get_mut(&k), self.lists.get(&k)) else { continue };
            // A replay applies the lists as they are now, whenever they were read.
            let when = if replay { i64::MAX } else { at };
            for d in detect::detect(event, when, st, l) {
                out.push((account.to_owned(), region.clone(), d));
            }
        }
        Ok(out)
    }
}

/// Re-runs the detections over the events logged from `from` to `to` (inclusive), a batch at a
/// time, and records what they find: `rampart guardduty replay`. Each account starts with an
/// empty state; a finding already counted for an event (its last event is as late) is not
/// counted again. Returns how many events were read and how many findings were made or counted.
pub async fn replay(
    db: &Db,
    (from, to): (OffsetDateTime, OffsetDateTime),
    now: OffsetDateTime,
    (tor, tuning): (Option<Arc<IpList>>, Tuning),
) -> Result<(usize, usize), ServiceError> {
    let mut run = Run::replay().with_tor(tor).with_tuning(tuning);
    let mut next = rampart_cloudtrail::position(from);
    let end = rampart_cloudtrail::position(to);
    let (mut events, mut recorded) = (0usize, 0usize);
    loop {
        let rows = db.log_range(next, end, BATCH, false)?;
        let Some(&(last, _)) = rows.last() else { break };
        let plan = run.plan(db, &rows)?;
        events += plan.events;
        let done = db.transact(move |tx| record_all(tx, &plan, now, true)).await.map_err(|e| match e {
            rampart_store::TxError::Aborted(e) => e,
            rampart_store::TxError::Store(e) => e.into(),
        })?;
        recorded += done.len();
        if rows.len() < BATCH {
            break;
        }
        next = last.saturating_add(1);
    }
    Ok((events, recorded))
}

/// Writes a plan, if the cursor is still where it started: the findings (new or counted), the
/// accounts' states and the cursor. Returns what each detection became.
pub fn apply(tx: &mut Tx<'_>, plan: &Plan, now: OffsetDateTime) -> Result<Vec<Recorded>, ServiceError> {
    let Some(to) = plan.to else { return Ok(Vec::new()) };
    if cursor(tx.get(CURSOR)?) != plan.from {
        return Ok(Vec::new());
    }
    let out = record_all(tx, plan, now, false)?;
    for ((account, region), st) in &plan.states {
        records::write_tx(tx, &state_key(account, region), st)?;
    }
    tx.put(CURSOR, to.to_string().as_bytes())?;
    Ok(out)
}

/// Records a plan's detections with their detectors as they are now: a detector disabled or
/// deleted meanwhile records nothing.
fn record_all(tx: &mut Tx<'_>, plan: &Plan, now: OffsetDateTime, replay: bool) -> Result<Vec<Recorded>, ServiceError> {
    record(tx, &plan.detections, now, replay)
}

/// Records detections made outside the event log (the WAF proxies' decisions: [`crate::web`])
/// for the accounts with an enabled detector in the Region.
pub fn record_detections(
    tx: &mut Tx<'_>,
    detections: &[(String, String, Detection)],
    now: OffsetDateTime,
) -> Result<Vec<Recorded>, ServiceError> {
    record(tx, detections, now, false)
}

fn record(
    tx: &mut Tx<'_>,
    detections: &[(String, String, Detection)],
    now: OffsetDateTime,
    replay: bool,
) -> Result<Vec<Recorded>, ServiceError> {
    let mut out = Vec::with_capacity(detections.len());
    let mut rules: HashMap<(String, String), Vec<filters::Filter>> = HashMap::new();
    for (account, region, det) in detections {
        let Some(d) = crate::detector(&records::tx_reader(tx), account, region)?.filter(|d| d.enabled) else {
            continue;
        };
        let k = (account.clone(), region.clone());
        if !rules.contains_key(&k) {
            // A member's findings are suppressed by its administrator's rules.
            let owner = crate::members::governing(&records::tx_reader(tx), account, region)?;
            rules.insert(k.clone(), filters::ranked(tx, &owner, region)?);
        }
        let r = rules.get(&k).map(Vec::as_slice).unwrap_or_default();
        if let Some(done) = findings::record(tx, account, region, &d, det, r, now, replay)? {
            if let Recorded::New { id, .. } = &done
                && det.kind.severity >= HIGH
            {
                service_event(tx, (account, region), &d, det, id, now)?;
            }
            out.push(done);
        }
    }
    Ok(out)
}

/// Adds a second's tallies of the WAF proxies (load balancer, source, what it did) to each
/// source's window in the store at `now` (Unix seconds), and returns the detections they make.
/// The windows are the store's, not a node's: every node of a cluster adds its own proxies'
/// reports to them, and a restart keeps them.
pub fn observe_web(
    tx: &mut Tx<'_>,
    tallies: Vec<(String, std::net::IpAddr, crate::web::Seen)>,
    now: i64,
    tuning: &Tuning,
) -> Result<Vec<(String, String, Detection)>, ServiceError> {
    let mut out = Vec::new();
    for (balancer, source, seen) in tallies {
        let key = crate::web::window_key(&balancer, source);
        let mut window: crate::web::Window = records::read_with(&records::tx_reader(tx), &key)?.unwrap_or_default();
        out.extend(window.observe((&balancer, source), seen, now, tuning));
        records::write_tx(tx, &key, &window)?;
    }
    Ok(out)
}

/// Deletes the windows that are over at `now`, and past [`crate::web::MAX_SOURCES`] the least
/// recently seen; returns how many are kept.
pub fn sweep_web(tx: &mut Tx<'_>, now: i64, tuning: &Tuning) -> Result<usize, ServiceError> {
    let prefix = crate::web::WINDOWS.as_bytes();
    let mut kept: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let batch = tx.scan_prefix(prefix, after.as_deref(), 512, false)?;
        let done = batch.len() < 512;
        for (key, value) in batch {
            match serde_json::from_slice::<crate::web::Window>(&value) {
                Ok(w) if !w.over(now, tuning) => kept.push((w.last, key.clone())),
                _ => {
                    tx.delete(&key)?;
                }
            }
            after = Some(key);
        }
        if done {
            break;
        }
    }
    if kept.len() > crate::web::MAX_SOURCES {
        kept.sort();
        let excess = kept.len() - crate::web::MAX_SOURCES;
        for (_, key) in kept.drain(..excess) {
            tx.delete(&key)?;
        }
    }
    Ok(kept.len())
}

/// Findings this severe or more (GuardDuty's High and Critical) are also events in the trail.
pub const HIGH: f64 = 7.0;

/// A new high-severity finding as GuardDuty's AWS service event in the account's event history
/// (LookupEvents, trails): `GuardDutyFinding` from `guardduty.amazonaws.com`, the finding in its
/// `serviceEventDetails`. The engine reads it back and passes over it (a service event).
fn service_event(
    tx: &mut Tx<'_>,
    place: (&str, &str),
    d: &Detector,
    det: &Detection,
    id: &str,
    now: OffsetDateTime,
) -> Result<(), ServiceError> {
    let json = serde_json::to_vec(&service_event_json(place, d, det, id, now)).map_err(|_| crate::internal())?;
    tx.log_append(rampart_cloudtrail::position(now), &rampart_cloudtrail::stored::pack(&json))?;
    Ok(())
}

fn service_event_json(
    (account, region): (&str, &str),
    d: &Detector,
    det: &Detection,
    id: &str,
    now: OffsetDateTime,
) -> Json {
    let detector = format!("arn:aws:guardduty:{region}:{account}:detector/{}", d.id);
    serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "AWSService", "invokedBy": "guardduty.amazonaws.com"},
        "eventTime": now.replace_nanosecond(0).unwrap_or(now).format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "eventSource": "guardduty.amazonaws.com",
        "eventName": "GuardDutyFinding",
        "awsRegion": region,
        "sourceIPAddress": "guardduty.amazonaws.com",
        "userAgent": "guardduty.amazonaws.com",
        "requestParameters": null,
        "responseElements": null,
        "requestID": uuid::Uuid::new_v4().to_string(),
        "eventID": rampart_cloudtrail::event_id_at(now),
        "readOnly": false,
        "resources": [{"ARN": detector, "accountId": account, "type": "AWS::GuardDuty::Detector"}],
        "eventType": "AwsServiceEvent",
        "managementEvent": true,
        "recipientAccountId": account,
        "serviceEventDetails": {
            "findingId": id,
            "findingArn": format!("{detector}/finding/{id}"),
            "findingType": det.kind.name,
            "severity": det.kind.severity,
            "title": det.title,
        },
        "eventCategory": "Management",
    })
}

/// Marks a list to be read by the next [`load_lists`].
pub(crate) fn mark_pending(tx: &mut Tx<'_>, account: &str, region: &str, l: &lists::List) -> Result<(), ServiceError> {
    let k = format!("{PENDING}{account}/{region}/{}/{}", l.kind.segment(), l.id);
    tx.put(k.as_bytes(), b"1")?;
    Ok(())
}

/// The lists waiting to be read: account, Region, kind and id.
pub fn pending(db: &Db) -> Result<Vec<(String, String, Kind, String)>, ServiceError> {
    let rows = db.scan_prefix(PENDING.as_bytes(), None, 100, false)?;
    Ok(rows
        .iter()
        .filter_map(|(k, _)| {
            let text = std::str::from_utf8(k).ok()?.strip_prefix(PENDING)?;
            let mut p = text.split('/');
            let (a, r, kind, id) = (p.next()?, p.next()?, p.next()?, p.next()?);
            Some((a.to_owned(), r.to_owned(), Kind::of(kind), id.to_owned()))
        })
        .collect())
}

/// What reading a list's object found: its entries, or why it could not be read.
pub type Loaded = Result<Vec<String>, String>;

/// Reads a waiting list's object (straight from the store: the list's own account's bucket).
pub fn read_list(
    db: &Db,
    sealer: &rampart_store::Sealer,
    account: &str,
    region: &str,
    kind: Kind,
    id: &str,
) -> Option<Loaded> {
    let l = lists::read(&records::cached_reader(db), account, region, kind, id).ok()??;
    let Some((bucket, key)) = lists::object_of(&l.location) else { return Some(Err("invalid location".into())) };
    let objects = rampart_s3::StoredObjects { db, sealer };
    Some(match objects.get(&bucket, &key) {
        Ok(Some((data, _))) => Ok(lists::parse(&l.format, &data).iter().map(ToString::to_string).collect()),
        Ok(None) => Err(format!("s3://{bucket}/{key} does not exist")),
        Err(e) => Err(e),
    })
}

/// Stores what [`read_list`] found: the list `ACTIVE` with its entries, or `ERROR`. A list
/// whose bucket is not its account's (or not the expected owner's) is an error too.
pub fn store_list(
    tx: &mut Tx<'_>,
    account: &str,
    region: &str,
    kind: Kind,
    id: &str,
    loaded: Loaded,
) -> Result<(), ServiceError> {
    let pending = format!("{PENDING}{account}/{region}/{}/{id}", kind.segment());
    tx.delete(pending.as_bytes())?;
    let Some(mut l) = lists::read(&records::tx_reader(tx), account, region, kind, id)? else { return Ok(()) };
    if l.status != "ACTIVATING" {
        return Ok(());
    }
    let owner = lists::object_of(&l.location).map(|(b, _)| rampart_s3::bucket_owner_tx(tx, &b)).transpose()?.flatten();
    let expected = l.expected_bucket_owner.clone().unwrap_or_else(|| account.to_owned());
    match loaded {
        Ok(entries) if owner.as_deref() == Some(expected.as_str()) => {
            l.entries = entries;
            l.error = None;
            l.status = "ACTIVE".to_owned();
            l.since = Some(time::OffsetDateTime::now_utc());
        }
        Ok(_) => {
            l.entries.clear();
            l.status = "ERROR".to_owned();
            l.error = Some("The bucket is not owned by the expected bucket owner.".to_owned());
        }
        Err(why) => {
            l.entries.clear();
            l.status = "ERROR".to_owned();
            l.error = Some(why);
        }
    }
    lists::write(tx, account, region, &l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_findings_service_event_is_a_cloudtrail_event() {
        let now = OffsetDateTime::now_utc();
        let d = Detector {
            id: "d1".into(),
            enabled: true,
            frequency: "SIX_HOURS".into(),
            created: now,
            updated: now,
            s3_data_events: true,
            tags: Default::default(),
        };
        let det = crate::detect::Detection {
            kind: &crate::detect::BUCKET_ANONYMOUS_ACCESS,
            key: "b".into(),
            title: "t".into(),
            description: "d".into(),
            at: "2026-12-04T10:00:00Z".into(),
            count: 1,
            last: "2026-12-04T10:00:00Z".into(),
            resource: serde_json::json!({}),
            action: serde_json::json!({}),
            evidence: None,
            detection: None,
            signals: Vec::new(),
            additional: None,
        };
        let json = service_event_json(("111122223333", "us-east-1"), &d, &det, "f1", now);
        let parsed: rampart_cloudtrail::Event = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(parsed.event_type, "AwsServiceEvent");
        assert_eq!(parsed.user_identity.invoked_by.as_deref(), Some("guardduty.amazonaws.com"));
        assert_eq!(json["serviceEventDetails"]["findingType"], "Policy:S3/BucketAnonymousAccessGranted");
        // Its id carries its millisecond, as event history looks events up by id.
        let id = uuid::Uuid::parse_str(&parsed.event_id).unwrap();
        assert_eq!(id.get_version_num(), 7);
    }

    /// The proxies' windows live in the store: reports from two nodes add up in one window, a
    /// window that is over is swept away, and at most `MAX_SOURCES` are kept.
    #[test]
    fn web_windows_are_the_stores_shared_by_every_node_and_bounded() {
        const LB: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop/0123456789abcdef";
        let dir = std::env::temp_dir().join(format!("rampart-gd-web-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::open_sqlite(&dir.join("rampart.db")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let tuning = Tuning { probe_paths: 6, ..Tuning::default() };
        let source: std::net::IpAddr = "203.0.113.7".parse().unwrap();
        let misses = |from: usize| {
            let mut seen = crate::web::Seen::default();
            for i in from..from + 3 {
                seen.path(format!("/missing/{i}").as_bytes());
            }
            vec![(LB.to_owned(), source, seen)]
        };
        let observe =
            |tallies, now| rt.block_on(db.transact(move |tx| observe_web(tx, tallies, now, &tuning))).unwrap();
        // Node A's three misses, then node B's three more: one source, one window, one finding.
        assert!(observe(misses(0), 1_000).is_empty());
        let found = observe(misses(3), 1_001);
        assert_eq!(found.first().map(|(_, _, d)| d.kind.name), Some("Recon:ELB/WebPathEnumeration"));
        let sweep = |now| rt.block_on(db.transact(move |tx| sweep_web(tx, now, &tuning))).unwrap();
        assert_eq!(sweep(1_002), 1);
        assert_eq!(sweep(1_000 + tuning.web_window_secs), 0, "a window that is over is swept");
        let many: Vec<_> = (0..crate::web::MAX_SOURCES + 5)
            .map(|i| {
                let ip = std::net::IpAddr::from(u32::try_from(i).unwrap().to_be_bytes());
                (LB.to_owned(), ip, crate::web::Seen::default())
            })
            .collect();
        observe(many, 5_000);
        assert_eq!(sweep(5_001), crate::web::MAX_SOURCES);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
