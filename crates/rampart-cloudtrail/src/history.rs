//! Event history: the index of management events by lookup attribute, LookupEvents over it,
//! and the retention sweep.
//!
//! The index holds *posting lists*. Each indexer run writes, for every account, lookup attribute
//! and value among the events it reads, one list under
//! `audix/ACCOUNT/ATTRIBUTE/VALUE/POSITION` — the log position (time) of the run's oldest event
//! with that value — whose value is the LEB128 gaps, in nanoseconds, to each newer event's. A run of 500
//! events by one user therefore writes one small row for that user, not 500, which is most of
//! what auditing costs the store's writer. Events are read from the store's log by position, and
//! checked against the attribute. A list with an empty value names only its key's event, and a
//! key may go on with `/ID` (the layout of Rampart's first index, which stays readable). Runs
//! never overlap, so lists of one value, taken newest key first, give events newest first.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::stored::{put_varint, take_varint};
use super::{Event, EventResource, trails, username};

/// The parts of a stored event its index needs, borrowed from the record where they can be; the
/// rest of the record is skipped, not parsed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexView<'a> {
    #[serde(borrow)]
    event_name: Text<'a>,
    #[serde(borrow)]
    event_source: Text<'a>,
    read_only: bool,
    management_event: bool,
    #[serde(borrow)]
    recipient_account_id: Text<'a>,
    #[serde(borrow)]
    user_identity: IdentityView<'a>,
    #[serde(borrow, default)]
    resources: Option<Vec<ResourceView<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityView<'a> {
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
    #[serde(borrow, default)]
    arn: Option<Text<'a>>,
    #[serde(borrow, default)]
    access_key_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    user_name: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct ResourceView<'a> {
    #[serde(borrow, rename = "ARN")]
    arn: Text<'a>,
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
}

/// A JSON string, borrowed from the record unless it has escapes. (`Cow<str>` fields borrow only
/// with `#[serde(borrow)]`, which does not reach into an `Option`.)
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(Visitor(std::marker::PhantomData))
    }
}

impl IndexView<'_> {
    /// The event's lookup attributes; `None` for events outside event history (data events,
    /// events of no account).
    fn attributes(&self) -> Option<Vec<(&'static str, &str)>> {
        if !self.management_event || self.recipient_account_id.0.is_empty() {
            return None;
        }
        let id = &self.user_identity;
        Some(lookup_attributes(
            &self.event_name.0,
            self.read_only,
            &self.event_source.0,
            super::username_of(&id.kind.0, id.arn.as_ref().map(|t| &*t.0), id.user_name.as_ref().map(|t| &*t.0)),
            id.access_key_id.as_ref().map(|t| &*t.0),
            self.resources.iter().flatten().map(|r| (&*r.kind.0, super::resource_name(&r.kind.0, &r.arn.0))),
        ))
    }
}

/// The indexed lookup attributes of a management event, with their values, sorted and without
/// repeats; `resources` are each resource's type and name. EventId needs no index (event ids
/// carry their millisecond), a ResourceName given as an ARN is looked up by the name and checked
/// against the ARN, and a lookup without attribute scans the events.
fn lookup_attributes<'a>(
    event_name: &'a str,
    read_only: bool,
    event_source: &'a str,
    username: Option<&'a str>,
    access_key_id: Option<&'a str>,
    resources: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<(&'static str, &'a str)> {
    let mut out = vec![
        ("EventName", event_name),
        ("ReadOnly", if read_only { "true" } else { "false" }),
        ("EventSource", event_source),
    ];
    out.extend(username.map(|u| ("Username", u)));
    out.extend(access_key_id.map(|k| ("AccessKeyId", k)));
    for (kind, name) in resources {
        out.push(("ResourceType", kind));
        out.push(("ResourceName", name));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether an event has `value` for the lookup attribute `attribute`.
fn has_attribute(ev: &Event, attribute: &str, value: &str) -> bool {
    let id = &ev.user_identity;
    lookup_attributes(
        &ev.event_name,
        ev.read_only,
        &ev.event_source,
        super::username_of(&id.kind, id.arn.as_deref(), id.user_name.as_deref()),
        id.access_key_id.as_deref(),
        ev.resources.iter().flatten().map(|r| (r.kind.as_str(), r.name())),
    )
    .iter()
    .any(|(a, v)| *a == attribute && *v == value)
}

/// Lookup attributes whose values are mostly distinct (a resource per call). Their lists are
/// kept per hash bucket of the value rather than per value, each entry tagged with the value's
/// hash: a run then writes at most [`BUCKETS`] rows for them, not one per value scattered across
/// the index (which was most of what indexing cost). A lookup reads its value's bucket and
/// skips entries of other hashes; events are checked against the value anyway.
const HASHED: &[&str] = &["ResourceName"];
/// Buckets of a hashed attribute's lists.
const BUCKETS: u32 = 64;

/// Where an event is listed for one attribute value: a list prefix, and for a hashed attribute
/// the value's hash, which tags each entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listing {
    prefix: Vec<u8>,
    tag: Option<u32>,
}

impl Listing {
    fn of(account: &str, attribute: &str, value: &str) -> Self {
        if HASHED.contains(&attribute) {
            // INVARIANT: the hash never changes — stored tags and buckets are made with it.
            let hash = value.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
            let prefix = format!("audix/{account}/{attribute}#/{:02x}/", hash % BUCKETS).into_bytes();
            Self { prefix, tag: Some(hash) }
        } else {
            Self { prefix: rampart_core::keys::audit_index_prefix(account, attribute, value), tag: None }
        }
    }
}

/// The lists a lookup of `value` follows, in turn: its own, then, for a hashed attribute, the
/// value's lists from before the attribute was hashed (all older, so the order holds).
fn listings(account: &str, attribute: &str, value: &str) -> Vec<Listing> {
    let own = Listing::of(account, attribute, value);
    let earlier = own
        .tag
        .map(|_| Listing { prefix: rampart_core::keys::audit_index_prefix(account, attribute, value), tag: None });
    std::iter::once(own).chain(earlier).collect()
}

/// Where the event `stored` is listed; `None` for events outside event history (data events,
/// events of no account) and unreadable ones.
#[cfg(test)]
fn index_listings(stored: &[u8]) -> Option<Vec<Listing>> {
    let json = super::stored::unpack(stored)?;
    let ev = serde_json::from_slice::<IndexView<'_>>(&json).ok()?;
    let account = &ev.recipient_account_id.0;
    Some(ev.attributes()?.into_iter().map(|(attribute, value)| Listing::of(account, attribute, value)).collect())
}

/// The posting list of one index prefix for its events' log positions, ascending, with their
/// tags (all or none tagged): key and value. The value is, for each event after the first, the
/// LEB128 gap from the one before; each entry's tag, where there are tags, follows it (the
/// first event's leads the value), as four little-endian bytes.
fn posting_list(prefix: &[u8], entries: &[(i64, Option<u32>)]) -> (Vec<u8>, Vec<u8>) {
    let mut key = prefix.to_vec();
    let mut value = Vec::new();
    if let Some(((first, tag), rest)) = entries.split_first() {
        key.extend_from_slice(format!("{first:020}").as_bytes());
        if let Some(tag) = tag {
            value.extend_from_slice(&tag.to_le_bytes());
        }
        let mut previous = *first;
        for (t, tag) in rest {
            put_varint(&mut value, t.abs_diff(previous));
            if let Some(tag) = tag {
                value.extend_from_slice(&tag.to_le_bytes());
            }
            previous = *t;
        }
    }
    (key, value)
}

/// The log positions a posting list names, ascending and without repeats: its key's `oldest`,
/// then each stored gap added in turn. Malformed bytes end the list.
pub fn decode_postings(oldest: i64, gaps: &[u8]) -> Vec<i64> {
    let mut out = vec![oldest];
    let (mut at, mut rest) = (oldest, gaps);
    while !rest.is_empty() {
        let next = take_varint(&mut rest).and_then(|gap| at.checked_add_unsigned(gap));
        let Some(next) = next else { break };
        if next != at {
            out.push(next);
        }
        at = next;
    }
    out
}

/// The positions and tags a tagged posting list names, ascending. Malformed bytes end the list.
pub fn decode_tagged(oldest: i64, value: &[u8]) -> Vec<(i64, u32)> {
    let mut out = Vec::new();
    let mut rest = value;
    let mut at = oldest;
    let mut first = true;
    loop {
        if !first {
            let Some(next) = take_varint(&mut rest).and_then(|gap| at.checked_add_unsigned(gap)) else { break };
            at = next;
        }
        first = false;
        let Some((tag, after)) = rest.split_first_chunk::<4>() else { break };
        out.push((at, u32::from_le_bytes(*tag)));
        rest = after;
    }
    out
}

/// The log position at the start of a posting list's or run record's key suffix (`POSITION`, or
/// `NANOS/ID` in the first layout).
fn key_position(suffix: &[u8]) -> Option<i64> {
    std::str::from_utf8(suffix.get(..20)?).ok()?.parse().ok()
}

/// Where the indexer has got to in the log: the last position it has indexed.
const INDEX_CURSOR: &[u8] = b"meta/audit-index-cursor";
/// `audixrun/POSITION`: the index keys one run wrote, under its newest event's position, so the
/// sweep can delete them with the events.
const RUNS_PREFIX: &[u8] = b"audixrun/";
/// Events younger than this are left for the next run: events of reads commit in groups a moment
/// after their time, and the cursor must never pass an event that is not in yet.
pub const INDEX_LAG: time::Duration = time::Duration::seconds(1);
/// Most events one run indexes. Each run is a transaction, which ends the store's gathering of
/// queued read events early, so fewer, larger runs let more of those share a commit (and write
/// fewer, longer lists).
pub const INDEX_BATCH: usize = 2000;

/// Indexes the events logged since the last run (older than [`INDEX_LAG`]) in one transaction:
/// [`plan_index`] then [`apply_index`]. Returns how many events were read. (The server plans on
/// a reader, off the store's writer thread, and only applies in a transaction.)
pub fn index_pending(
    tx: &mut rampart_store::Tx<'_>,
    now: time::OffsetDateTime,
) -> Result<usize, rampart_core::ServiceError> {
    let cursor = index_cursor(tx.get(INDEX_CURSOR)?);
    let rows = tx.log_range(cursor.saturating_add(1), index_horizon(now), INDEX_BATCH, false)?;
    let plan = plan_index(cursor, &rows);
    apply_index(tx, &plan)
}

/// What one indexer run writes: the lists, the run's record and the cursor's move.
#[derive(Debug, Default)]
pub struct IndexPlan {
    /// The cursor the plan starts from; applying it elsewhere does nothing.
    from: i64,
    /// The last position indexed; `None` when there was nothing to index.
    to: Option<i64>,
    /// Posting lists and the run record, in key order.
    writes: Vec<(Vec<u8>, Vec<u8>)>,
    events: usize,
}

/// Plans the next run from committed data (`db`'s readers), for [`apply_index`].
pub fn plan_pending(
    db: &rampart_store::Db,
    now: time::OffsetDateTime,
) -> Result<IndexPlan, rampart_core::ServiceError> {
    let cursor = index_cursor(db.get(INDEX_CURSOR)?);
    let rows = db.log_range(cursor.saturating_add(1), index_horizon(now), INDEX_BATCH, false)?;
    Ok(plan_index(cursor, &rows))
}

/// How far event-history indexing is behind: the age of the oldest event not indexed yet
/// (zero when none waits), for health reports.
pub fn index_lag(
    db: &rampart_store::Db,
    now: time::OffsetDateTime,
) -> Result<time::Duration, rampart_core::ServiceError> {
    let cursor = index_cursor(db.get(INDEX_CURSOR)?);
    let waiting = db.log_range(cursor.saturating_add(1), i64::MAX, 1, false)?;
    Ok(waiting.first().map_or(time::Duration::ZERO, |(t, _)| {
        time::Duration::nanoseconds(super::position(now).saturating_sub(*t).max(0))
    }))
}

fn index_cursor(stored: Option<Vec<u8>>) -> i64 {
    stored.and_then(|c| super::cursor_position(&c)).unwrap_or(i64::MIN)
}

/// The newest position a run may index at `now`.
fn index_horizon(now: time::OffsetDateTime) -> i64 {
    super::position(now - INDEX_LAG).saturating_sub(1)
}

/// Plans a run over `rows`, the events after `cursor`: one posting list per account, attribute
/// and value, and the run's record. Pure: reads and writes nothing.
pub fn plan_index(cursor: i64, rows: &[(i64, Vec<u8>)]) -> IndexPlan {
    let Some(&(last, _)) = rows.last() else { return IndexPlan { from: cursor, ..IndexPlan::default() } };
    // Each account, attribute and value with its events' positions (ascending), borrowed from
    // the records: a list's prefix is made once per run, not once per event.
    let records: Vec<(i64, Cow<'_, [u8]>)> =
        rows.iter().filter_map(|(t, stored)| Some((*t, super::stored::unpack(stored)?))).collect();
    let views: Vec<(i64, IndexView<'_>)> =
        records.iter().filter_map(|(t, json)| Some((*t, serde_json::from_slice(json).ok()?))).collect();
    let mut values: HashMap<(&str, &str, &str), Vec<i64>> = HashMap::new();
    for (t, view) in &views {
        for (attribute, value) in view.attributes().unwrap_or_default() {
            values.entry((&view.recipient_account_id.0, attribute, value)).or_default().push(*t);
        }
    }
    // Each list prefix with its entries; a hashed attribute's values share their bucket's list.
    let mut groups: BTreeMap<Vec<u8>, Vec<(i64, Option<u32>)>> = BTreeMap::new();
    for ((account, attribute, value), positions) in values {
        let Listing { prefix, tag } = Listing::of(account, attribute, value);
        groups.entry(prefix).or_default().extend(positions.into_iter().map(|t| (t, tag)));
    }
    for entries in groups.values_mut() {
        entries.sort_unstable();
    }
    let mut writes = Vec::with_capacity(groups.len() + 1);
    let mut run = Vec::new();
    for (prefix, entries) in &groups {
        let (key, gaps) = posting_list(prefix, entries);
        put_varint(&mut run, u64::try_from(key.len()).unwrap_or_default());
        run.extend_from_slice(&key);
        writes.push((key, gaps));
    }
    if !run.is_empty() {
        let mut run_key = RUNS_PREFIX.to_vec();
        run_key.extend_from_slice(format!("{last:020}").as_bytes());
        writes.push((run_key, run));
    }
    IndexPlan { from: cursor, to: Some(last), writes, events: rows.len() }
}

/// Writes a planned run with the cursor's move, if the cursor is still where the plan started;
/// returns how many events it indexed.
pub fn apply_index(tx: &mut rampart_store::Tx<'_>, plan: &IndexPlan) -> Result<usize, rampart_core::ServiceError> {
    let Some(to) = plan.to else { return Ok(0) };
    if index_cursor(tx.get(INDEX_CURSOR)?) != plan.from {
        return Ok(0);
    }
    for (key, value) in &plan.writes {
        tx.put_uncached(key, value)?;
    }
    tx.put(INDEX_CURSOR, to.to_string().as_bytes())?;
    Ok(plan.events)
}

/// The keys a run's record lists. Malformed bytes end the list.
pub fn run_keys(mut record: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(len) = take_varint(&mut record).and_then(|n| usize::try_from(n).ok()) {
        let Some((key, rest)) = record.split_at_checked(len) else { break };
        out.push(key.to_vec());
        record = rest;
    }
    out
}

/// Most events one call of [`move_events_to_log`] moves.
const MOVE_BATCH: usize = 5_000;

/// Moves events stored as `audit/NANOS/ID` keys (before events went to the store's log) into the
/// log at their time; returns how many it moved. The server calls it until none are left, before
/// it serves. Index lists and cursors of that layout stay readable as they are.
pub fn move_events_to_log(tx: &mut rampart_store::Tx<'_>) -> Result<usize, rampart_core::ServiceError> {
    let rows = tx.scan_prefix(rampart_core::keys::AUDIT_PREFIX, None, MOVE_BATCH, false)?;
    for (key, value) in &rows {
        let nanos = key.get(rampart_core::keys::AUDIT_PREFIX.len()..).and_then(key_position).unwrap_or(i64::MIN);
        tx.log_append(nanos, value)?;
        tx.delete(key)?;
    }
    Ok(rows.len())
}

/// How long event history keeps events unless configured otherwise.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/view-cloudtrail-events.html>.
pub const EVENT_HISTORY_DAYS: u32 = 90;

/// Where the server records the configured retention, for LookupEvents to read.
const RETENTION_KEY: &[u8] = b"meta/event-history-days";

/// Records the configured retention (at start-up).
pub fn set_retention(tx: &mut rampart_store::Tx<'_>, days: u32) -> Result<(), rampart_core::ServiceError> {
    tx.put(RETENTION_KEY, days.to_string().as_bytes())?;
    Ok(())
}

/// The retention in force.
pub fn retention(db: &rampart_store::Db) -> Result<u32, rampart_core::ServiceError> {
    let stored = db.get_cached(RETENTION_KEY)?;
    Ok(stored.and_then(|b| std::str::from_utf8(&b).ok()?.parse().ok()).unwrap_or(EVENT_HISTORY_DAYS))
}

/// Most expired events (and index runs) one sweep deletes.
const SWEEP_BATCH: usize = 2_000;

/// Deletes events older than the retention, and the index runs whose events all are; how many
/// events it deleted. Events a logging trail has not delivered yet are kept until it has.
pub fn sweep_expired(
    tx: &mut rampart_store::Tx<'_>,
    now: time::OffsetDateTime,
) -> Result<usize, rampart_core::ServiceError> {
    let days = tx
        .get(RETENTION_KEY)?
        .and_then(|b| std::str::from_utf8(&b).ok()?.parse::<u32>().ok())
        .unwrap_or(EVENT_HISTORY_DAYS);
    // Positions before the cutoff are past the retention.
    let cutoff = super::position(now - time::Duration::days(i64::from(days)));
    // Never an event a logging trail has yet to consider (its cursor is the last one it has).
    let mut through = cutoff.saturating_sub(1);
    for (_, v) in tx.scan_prefix(b"cloudtrail/", None, usize::MAX >> 1, false)? {
        if let Ok(t) = serde_json::from_slice::<trails::TrailRecord>(&v)
            && t.logging
        {
            through = through.min(t.position());
        }
    }
    // A batch at a time, so the writer is never held long.
    let oldest = tx.log_range(i64::MIN, through, SWEEP_BATCH, false)?;
    let deleted = match oldest.last() {
        Some((t, _)) => tx.log_delete_through(*t)?,
        None => 0,
    };
    // Event history never shows an event past the retention, kept for a trail or not.
    for (run_key, record) in tx.scan_prefix(RUNS_PREFIX, None, SWEEP_BATCH, false)? {
        let newest = run_key.get(RUNS_PREFIX.len()..).and_then(key_position).unwrap_or(i64::MIN);
        if newest >= cutoff {
            break;
        }
        for k in run_keys(&record) {
            tx.delete(&k)?;
        }
        tx.delete(&run_key)?;
    }
    Ok(deleted)
}

/// What an event found by a scan must also satisfy.
type EventFilter = Box<dyn Fn(&Event) -> bool>;

/// What a NextToken carries: the log position of the last event returned, bound to the
/// lookup's parameters.
#[derive(Serialize, Deserialize)]
struct Cursor {
    params: String,
    after: String,
}

const TOKEN_CONTEXT: &[u8] = b"rampart/cloudtrail/lookup-token/v2";

fn lookup_error(code: &'static str, message: impl Into<String>) -> rampart_core::ServiceError {
    rampart_core::ServiceError::new(code, 400, message)
}

/// Event history: the account's management events, newest first, optionally those with one
/// lookup attribute's value, within a time range, a page at a time.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html>.
pub fn lookup_events(
    ctx: &rampart_core::Ctx<'_>,
    input: rampart_shapes::generated::cloudtrail::LookupEventsRequest,
) -> Result<rampart_shapes::generated::cloudtrail::LookupEventsResponse, rampart_core::ServiceError> {
    use rampart_shapes::generated::cloudtrail as shapes;
    let attributes = input.lookup_attributes.unwrap_or_default();
    if attributes.len() > 1 {
        return Err(lookup_error(
            "InvalidLookupAttributesException",
            "You cannot specify more than one lookup attribute.",
        ));
    }
    let (attribute, value) = match attributes.first() {
        Some(a) if a.attribute_value.is_empty() => {
            return Err(lookup_error(
                "InvalidLookupAttributesException",
                "The lookup attribute value cannot be empty.",
            ));
        }
        Some(a) => (a.attribute_key.clone(), a.attribute_value.clone()),
        None => ("*".to_owned(), String::new()),
    };
    let max = input.max_results.unwrap_or(50);
    if !(1..=50).contains(&max) {
        return Err(lookup_error("InvalidMaxResultsException", "MaxResults must be between 1 and 50."));
    }
    let oldest = ctx.now - time::Duration::days(i64::from(retention(ctx.db)?));
    let end = input.end_time.unwrap_or(ctx.now);
    let start = input.start_time.unwrap_or(oldest);
    if start > end {
        return Err(lookup_error("InvalidTimeRangeException", "Start time must be before end time."));
    }
    // Management events by default; `insight`: the Insights events of the account's trails.
    let insights = match input.event_category.as_deref() {
        None => false,
        Some("insight") => true,
        Some(other) => {
            return Err(lookup_error("InvalidEventCategoryException", format!("Event category {other} is not valid.")));
        }
    };
    let account = ctx.principal.account_id.clone();
    // Where to scan, and what an event found there must also satisfy.
    let start_nanos = start.max(oldest).unix_timestamp_nanos();
    let mut end_nanos = end.unix_timestamp_nanos();
    let mut floor = start_nanos;
    // The index lists to follow, in turn (none: scan the events), and what an event must satisfy.
    let (index, wanted): (Vec<Listing>, EventFilter) = match attribute.as_str() {
        "*" => (Vec::new(), Box::new(|_: &Event| true)),
        "EventId" => {
            // The id's first 48 bits are its event's millisecond.
            let ms = value
                .get(..8)
                .zip(value.get(9..13))
                .and_then(|(hi, lo)| i128::from_str_radix(&format!("{hi}{lo}"), 16).ok());
            let Some(ms) = ms else {
                return Ok(shapes::LookupEventsResponse { events: Some(Vec::new()), next_token: None });
            };
            end_nanos = end_nanos.min(ms * 1_000_000 + 999_999);
            floor = floor.max(ms * 1_000_000);
            let id = value.clone();
            (Vec::new(), Box::new(move |e: &Event| e.event_id == id))
        }
        "ResourceName" if value.starts_with("arn:") => {
            let Some(r) = EventResource::from_arn(&value) else {
                return Ok(shapes::LookupEventsResponse { events: Some(Vec::new()), next_token: None });
            };
            let arn = value.clone();
            (
                listings(&account, "ResourceName", r.name()),
                Box::new(move |e: &Event| e.resources.iter().flatten().any(|x| x.arn == arn)),
            )
        }
        _ => {
            let (a, v) = (attribute.clone(), value.clone());
            (listings(&account, &attribute, &value), Box::new(move |e: &Event| has_attribute(e, &a, &v)))
        }
    };
    let in_history = move |e: &Event| e.management_event && e.recipient_account_id == account && wanted(e);
    // What the caller asked for (not the defaults, which move with the clock between pages).
    let asked = |t: Option<time::OffsetDateTime>| t.map(|t| t.unix_timestamp_nanos().to_string()).unwrap_or_default();
    let category = if insights { "insight" } else { "" };
    let params = format!("{category}\n{attribute}\n{value}\n{}\n{}", asked(input.start_time), asked(input.end_time));
    // The page holds events at log positions below `bound`.
    let bound: i64 = match &input.next_token {
        Some(token) => {
            let bad = || lookup_error("InvalidNextTokenException", "Invalid NextToken.");
            let sealed = data_encoding::BASE64URL_NOPAD.decode(token.as_bytes()).map_err(|_| bad())?;
            let plain = ctx.sealer.open(&sealed, TOKEN_CONTEXT).map_err(|_| bad())?;
            let cursor: Cursor = serde_json::from_slice(&plain).map_err(|_| bad())?;
            if cursor.params != params {
                return Err(bad());
            }
            cursor.after.parse().map_err(|_| bad())?
        }
        None => i64::try_from(end_nanos.saturating_add(1)).unwrap_or(i64::MAX),
    };
    let limit = usize::try_from(max).unwrap_or(50);
    // One more than a page, to know whether a next page exists.
    let floor = i64::try_from(floor).unwrap_or(i64::MIN);
    // The token of the page after one ending at `last`, when there is more.
    let token = |more: bool, last: Option<i64>| -> Result<Option<String>, rampart_core::ServiceError> {
        if !more {
            return Ok(None);
        }
        let after = last.map(|p| p.to_string()).unwrap_or_default();
        let plain = serde_json::to_vec(&Cursor { params: params.clone(), after })
            .map_err(|_| rampart_core::ServiceError::internal())?;
        let sealed = ctx.sealer.seal(&plain, TOKEN_CONTEXT).map_err(|_| rampart_core::ServiceError::internal())?;
        Ok(Some(data_encoding::BASE64URL_NOPAD.encode(&sealed)))
    };
    if insights {
        let mut hits = insight_events(ctx, (&attribute, &value), floor, bound, limit.saturating_add(1))?;
        let more = hits.len() > limit;
        hits.truncate(limit);
        let next_token = token(more, hits.last().map(|h| h.0))?;
        let events = hits
            .into_iter()
            .map(|(position, json)| {
                let text = |pointer: &str| json.pointer(pointer).and_then(|v| v.as_str()).map(str::to_owned);
                shapes::Event {
                    event_id: text("/eventID"),
                    event_name: text("/insightDetails/eventName"),
                    event_time: time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(position)).ok(),
                    event_source: text("/insightDetails/eventSource"),
                    cloud_trail_event: Some(json.to_string()),
                    ..shapes::Event::default()
                }
            })
            .collect();
        return Ok(shapes::LookupEventsResponse { events: Some(events), next_token });
    }
    let search = Search { db: ctx.db, floor, want: limit.saturating_add(1), keep: &in_history };
    let mut found = Vec::new();
    if index.is_empty() {
        search.by_scan(bound, &mut found)?;
    }
    for listing in &index {
        search.by_index(listing, bound, &mut found)?;
    }
    let more = found.len() > limit;
    found.truncate(limit);
    let next_token = token(more, found.last().map(|f| f.position))?;
    let events = found
        .into_iter()
        .map(|Found { position, event: ev, json }| {
            let event_time = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(position)).ok();
            shapes::Event {
                event_id: Some(ev.event_id.clone()),
                event_name: Some(ev.event_name.clone()),
                read_only: Some(ev.read_only.to_string()),
                access_key_id: ev.user_identity.access_key_id.clone(),
                event_time,
                event_source: Some(ev.event_source.clone()),
                username: username(&ev.user_identity),
                resources: ev.resources.as_ref().map(|rs| {
                    rs.iter()
                        .map(|r| shapes::Resource {
                            resource_type: Some(r.kind.clone()),
                            resource_name: Some(r.name().to_owned()),
                        })
                        .collect()
                }),
                cloud_trail_event: Some(String::from_utf8_lossy(&json).into_owned()),
            }
        })
        .collect();
    Ok(shapes::LookupEventsResponse { events: Some(events), next_token })
}

/// The account's Insights events at positions in `[floor, bound)` with the lookup attribute (none:
/// `*`), newest first, at most `want`: (position, event). EventName, EventSource and EventId are
/// the attributes an Insights event has; any other matches none.
fn insight_events(
    ctx: &rampart_core::Ctx<'_>,
    (attribute, value): (&str, &str),
    floor: i64,
    bound: i64,
    want: usize,
) -> Result<Vec<(i64, serde_json::Value)>, rampart_core::ServiceError> {
    let account = &ctx.principal.account_id;
    let prefix = super::insights::events_prefix(account);
    let mut after = super::insights::event_key(account, bound, "");
    let mut out = Vec::new();
    loop {
        let rows = ctx.db.scan_prefix(&prefix, Some(&after), SCAN_BATCH, true)?;
        let batch = rows.len();
        for (k, v) in rows {
            let Some(position) = super::insights::event_position(prefix.len(), &k) else { continue };
            if position < floor {
                return Ok(out);
            }
            after = k;
            let Ok(json) = serde_json::from_slice::<serde_json::Value>(&v) else { continue };
            let text = |pointer: &str| json.pointer(pointer).and_then(|v| v.as_str());
            let keep = match attribute {
                "*" => true,
                "EventName" => text("/insightDetails/eventName") == Some(value),
                "EventSource" => text("/insightDetails/eventSource") == Some(value),
                "EventId" => text("/eventID") == Some(value),
                _ => false,
            };
            if keep {
                out.push((position, json));
                if out.len() >= want {
                    return Ok(out);
                }
            }
        }
        if batch < SCAN_BATCH {
            return Ok(out);
        }
    }
}

/// An event of history a lookup found: its log position, its record and the record's JSON.
struct Found {
    position: i64,
    event: Event,
    json: Vec<u8>,
}

/// One lookup's search: events at positions not below `floor` that `keep` accepts, newest
/// first, until `want` are found.
struct Search<'a> {
    db: &'a rampart_store::Db,
    floor: i64,
    want: usize,
    keep: &'a dyn Fn(&Event) -> bool,
}

/// Rows one store read takes.
const SCAN_BATCH: usize = 200;

impl Search<'_> {
    /// Adds the event `stored` at `position` to `found` if it is kept.
    fn consider(&self, position: i64, stored: &[u8], found: &mut Vec<Found>) {
        let Some(json) = super::stored::unpack(stored) else { return };
        if let Ok(event) = serde_json::from_slice::<Event>(&json)
            && (self.keep)(&event)
        {
            found.push(Found { position, event, json: json.into_owned() });
        }
    }

    /// Reads the events below `bound` one after another.
    fn by_scan(&self, mut bound: i64, found: &mut Vec<Found>) -> Result<(), rampart_core::ServiceError> {
        loop {
            let rows = self.db.log_range(self.floor, bound.saturating_sub(1), SCAN_BATCH, true)?;
            let full = rows.len() == SCAN_BATCH;
            for (t, stored) in rows {
                bound = t;
                self.consider(t, &stored, found);
                if found.len() >= self.want {
                    return Ok(());
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Follows the posting lists of `listing`, newest first, and reads the events they name
    /// below `bound` (of its tag, if it has one), until `found` has what the search wants.
    fn by_index(
        &self,
        listing: &Listing,
        mut bound: i64,
        found: &mut Vec<Found>,
    ) -> Result<(), rampart_core::ServiceError> {
        if found.len() >= self.want {
            return Ok(());
        }
        let prefix = listing.prefix.as_slice();
        // Lists whose oldest event is below the bound; the newest of them may reach above it.
        let mut after = prefix.to_vec();
        after.extend_from_slice(format!("{bound:020}").as_bytes());
        loop {
            let lists = self.db.scan_prefix(prefix, Some(&after), SCAN_BATCH, true)?;
            let full = lists.len() == SCAN_BATCH;
            for (list_key, gaps) in &lists {
                let Some(oldest) = list_key.get(prefix.len()..).and_then(key_position) else { continue };
                let positions = match listing.tag {
                    None => decode_postings(oldest, gaps),
                    Some(tag) => decode_tagged(oldest, gaps).into_iter().filter(|e| e.1 == tag).map(|e| e.0).collect(),
                };
                let mut below_floor = false;
                let mut todo = Vec::with_capacity(positions.len());
                for t in positions.into_iter().rev() {
                    if t < self.floor {
                        below_floor = true;
                        break;
                    }
                    if t < bound {
                        todo.push(t);
                    }
                }
                // Read as many as are still wanted at a time: neighbours share a pack's reading.
                let mut rest = todo.as_slice();
                while !rest.is_empty() {
                    let n = self.want.saturating_sub(found.len()).clamp(1, SCAN_BATCH).min(rest.len());
                    let (now, later) = rest.split_at(n);
                    for (t, stored) in now.iter().zip(self.db.log_get_many(now)?) {
                        bound = *t;
                        if let Some(stored) = stored {
                            self.consider(*t, &stored, found);
                            if found.len() >= self.want {
                                return Ok(());
                            }
                        }
                    }
                    rest = later;
                }
                if below_floor {
                    return Ok(());
                }
            }
            match lists.last() {
                Some((k, _)) if full => after.clone_from(k),
                _ => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::sample;

    /// A store in a directory that is removed when the returned guard drops.
    pub(super) fn open() -> (tempfile::TempDir, rampart_store::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = rampart_store::Db::open_sqlite(&dir.path().join("t.db")).unwrap();
        (dir, db)
    }

    #[test]
    fn a_stored_event_yields_its_listings() {
        let stored = crate::pack_event(&sample("e")).unwrap();
        let listings = index_listings(&stored).unwrap();
        let keys: Vec<String> = listings.iter().map(|l| String::from_utf8(l.prefix.clone()).unwrap()).collect();
        let attrs: Vec<&str> = keys.iter().map(|k| k.split('/').nth(2).unwrap()).collect();
        assert_eq!(
            attrs,
            ["AccessKeyId", "EventName", "EventSource", "ReadOnly", "ResourceName#", "ResourceType", "Username"],
            "{keys:?}"
        );
        assert!(keys.contains(&"audix/123456789012/Username/root/".to_owned()), "{keys:?}");
        // The resource name `ana` is listed in its hash's bucket, tagged with the hash.
        let by_name = listings.iter().find(|l| l.tag.is_some()).unwrap();
        assert_eq!(by_name, &Listing::of("123456789012", "ResourceName", "ana"));
        assert_ne!(Listing::of("123456789012", "ResourceName", "ann").tag, by_name.tag);
        assert_eq!(listings.iter().filter(|l| l.tag.is_some()).count(), 1, "only ResourceName is hashed");
        let mut data = sample("d");
        data.management_event = false;
        assert!(index_listings(&crate::pack_event(&data).unwrap()).is_none(), "data events are not in history");
    }

    /// Values JSON escapes (a web identity's subject may hold quotes and backslashes) are read
    /// as owned strings, and listed as they are.
    #[test]
    fn values_with_json_escapes_are_listed_as_they_are() {
        let mut ev = sample("w");
        ev.user_identity.kind = "WebIdentityUser".into();
        ev.user_identity.user_name = Some("sub\"with\\escapes".into());
        let listings = index_listings(&crate::pack_event(&ev).unwrap()).unwrap();
        assert!(listings.contains(&Listing::of("123456789012", "Username", "sub\"with\\escapes")), "{listings:?}");
        let plan = plan_index(0, &[(1, crate::pack_event(&ev).unwrap())]);
        let prefix = Listing::of("123456789012", "Username", "sub\"with\\escapes").prefix;
        assert!(plan.writes.iter().any(|(k, _)| k.starts_with(&prefix)));
    }

    #[test]
    fn posting_lists_round_trip() {
        let plain: Vec<(i64, Option<u32>)> =
            [100, 250, 250, 250 + 300_000_000_000, i64::MAX].into_iter().map(|t| (t, None)).collect();
        let (key, gaps) = posting_list(b"p/", &plain);
        assert_eq!(key.as_slice(), b"p/00000000000000000100");
        assert_eq!(
            decode_postings(100, &gaps),
            [100, 250, 250 + 300_000_000_000, i64::MAX],
            "repeats folded, any gap fits"
        );
        assert_eq!(decode_postings(100, b""), [100], "an empty list names its key's event");
        assert_eq!(key_position(b"00000000000000000100/an-id"), Some(100), "the first layout's keys read");
        let tagged = [(100, Some(7)), (250, Some(9)), (250, Some(7)), (i64::MAX, Some(u32::MAX))];
        let (_, value) = posting_list(b"p/", &tagged);
        assert_eq!(decode_tagged(100, &value), [(100, 7), (250, 9), (250, 7), (i64::MAX, u32::MAX)]);
        assert_eq!(decode_tagged(100, &value[..value.len() - 1]), [(100, 7), (250, 9), (250, 7)], "cut short");
        assert!(decode_tagged(100, &[1, 2]).is_empty());
    }

    /// A ResourceName lookup finds its value's events among others of its bucket, and, after
    /// them, events listed before the attribute was hashed.
    #[tokio::test]
    async fn hashed_lookups_skip_other_values_and_reach_lists_from_before() {
        use rampart_shapes::generated::cloudtrail::{LookupAttribute, LookupEventsRequest};
        let (_dir, db) = open();
        let now = time::OffsetDateTime::now_utc();
        let t0 = crate::position(now - time::Duration::hours(1));
        // A user name sharing `ana`'s bucket, and one that does not.
        let account = "123456789012";
        let ana = Listing::of(account, "ResourceName", "ana");
        let mate = (0..10_000).map(|i| format!("u{i}")).find(|n| {
            let l = Listing::of(account, "ResourceName", n);
            l.prefix == ana.prefix && l.tag != ana.tag
        });
        let mate = mate.unwrap();
        let event = |user: &str| {
            let mut ev = sample("x");
            ev.event_id = format!("{user}-event");
            ev.resources = EventResource::from_arn(&format!("arn:aws:iam::{account}:user/{user}")).map(|r| vec![r]);
            crate::pack_event(&ev).unwrap()
        };
        let (old_ana, new_ana, new_mate) = (event("ana"), event("ana"), event(&mate));
        db.transact(move |tx| -> Result<(), rampart_core::ServiceError> {
            // Listed the earlier way: one value-first list naming the event at t0.
            tx.log_append(t0, &old_ana)?;
            tx.put(
                &[
                    rampart_core::keys::audit_index_prefix(account, "ResourceName", "ana"),
                    format!("{t0:020}").into_bytes(),
                ]
                .concat(),
                b"",
            )?;
            tx.put(INDEX_CURSOR, t0.to_string().as_bytes())?;
            tx.log_append(t0 + 10, &new_mate)?;
            tx.log_append(t0 + 20, &new_ana)?;
            assert_eq!(index_pending(tx, now)?, 2);
            Ok(())
        })
        .await
        .unwrap();
        let sealer = rampart_store::Sealer::new(rampart_store::Sealer::generate_key().unwrap().as_ref()).unwrap();
        let p = rampart_core::Principal::root(account, None);
        let ctx = rampart_core::Ctx::internal(&p, (&db, &sealer), now, "us-east-1");
        for value in ["ana".to_owned(), format!("arn:aws:iam::{account}:user/ana")] {
            let request = LookupEventsRequest {
                lookup_attributes: Some(vec![LookupAttribute {
                    attribute_key: "ResourceName".into(),
                    attribute_value: value,
                }]),
                ..LookupEventsRequest::default()
            };
            let found = lookup_events(&ctx, request).unwrap().events.unwrap();
            let times: Vec<_> = found.iter().map(|e| e.event_time.unwrap().unix_timestamp_nanos()).collect();
            assert_eq!(times, [i128::from(t0 + 20), i128::from(t0)], "ana's events only, newest first");
        }
        drop(db);
    }

    /// Pages through an indexed lookup whose events span two indexer runs, two of them at one
    /// nanosecond (the log moves the second to the next), among events the lookup must skip.
    #[tokio::test]
    async fn indexed_pages_follow_posting_lists_across_runs_newest_first() {
        use rampart_shapes::generated::cloudtrail::{LookupAttribute, LookupEventsRequest};
        let (_dir, db) = open();
        let now = time::OffsetDateTime::now_utc();
        let t0 = crate::position(now - time::Duration::hours(1));
        // A run's worth of events but one, then two at one nanosecond (the run ends between
        // them), then more.
        let batch = i64::try_from(INDEX_BATCH).unwrap();
        let mut stored: Vec<(i64, String, bool)> =
            (0..batch - 1).map(|i| (t0 + i * 1000, format!("e{i:05}"), i % 3 == 0)).collect();
        let tie = t0 + (batch - 1) * 1000;
        stored.push((tie, "t-a".into(), true));
        stored.push((tie, "t-b".into(), true));
        stored.extend((0..20).map(|i| (tie + 10 + i * 1000, format!("f{i:02}"), i % 2 == 0)));
        let rows: Vec<(i64, Vec<u8>)> = stored
            .iter()
            .map(|(t, id, create)| {
                let mut ev = sample(id);
                if !create {
                    ev.event_name = "GetUser".into();
                }
                (*t, crate::pack_event(&ev).unwrap())
            })
            .collect();
        let placed = db
            .transact(move |tx| -> Result<Vec<i64>, rampart_core::ServiceError> {
                let mut placed = Vec::new();
                for (t, v) in &rows {
                    placed.push(tx.log_append(*t, v)?);
                }
                assert_eq!(index_pending(tx, now)?, INDEX_BATCH);
                assert_eq!(index_pending(tx, now)?, 21);
                assert_eq!(index_pending(tx, now)?, 0);
                Ok(placed)
            })
            .await
            .unwrap();
        assert_eq!(placed[INDEX_BATCH], tie + 1, "the second event of one nanosecond takes the next");
        let lists = db.scan_prefix(b"audix/123456789012/EventName/CreateUser/", None, 10, false).unwrap();
        assert_eq!(lists.len(), 2, "one posting list per run");
        let mut expected: Vec<(i64, String)> = stored
            .iter()
            .zip(&placed)
            .filter(|((_, _, create), _)| *create)
            .map(|((_, id, _), t)| (*t, id.clone()))
            .collect();
        expected.sort();
        expected.reverse();
        let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();

        let sealer = rampart_store::Sealer::new(rampart_store::Sealer::generate_key().unwrap().as_ref()).unwrap();
        let p = rampart_core::Principal::root("123456789012", None);
        let ctx = rampart_core::Ctx::internal(&p, (&db, &sealer), now, "us-east-1");
        let page = |token: Option<String>| {
            lookup_events(
                &ctx,
                LookupEventsRequest {
                    lookup_attributes: Some(vec![LookupAttribute {
                        attribute_key: "EventName".into(),
                        attribute_value: "CreateUser".into(),
                    }]),
                    max_results: Some(7),
                    next_token: token,
                    ..LookupEventsRequest::default()
                },
            )
            .unwrap()
        };
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let got = page(token.take());
            let events = got.events.unwrap();
            assert!(events.len() <= 7);
            seen.extend(events.into_iter().map(|e| e.event_id.unwrap()));
            match got.next_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, expected, "every CreateUser event once, newest first, across both runs");
        drop(db);
    }

    /// Read-only calls' events stored as the server stores them — queued as plain JSON, packed
    /// by the store's writer, several packs of them — among state-changing calls' rows: indexed,
    /// then paged through by attribute and without one.
    #[tokio::test]
    async fn queued_events_in_packs_are_indexed_and_paged_like_rows() {
        use rampart_shapes::generated::cloudtrail::{LookupAttribute, LookupEventsRequest};
        let (_dir, db) = open();
        let now = time::OffsetDateTime::now_utc();
        let t0 = crate::position(now - time::Duration::hours(1));
        let mut changes = Vec::new();
        for i in 0..300i64 {
            let mut ev = sample(&format!("e{i:03}"));
            if i % 10 == 0 {
                changes.push((t0 + i * 1000, crate::pack_event(&ev).unwrap()));
            } else {
                ev.event_name = "GetUser".into();
                ev.read_only = true;
                db.log_append_later(t0 + i * 1000, crate::record_json(&ev).unwrap()).unwrap();
            }
        }
        db.transact(move |tx| -> Result<(), rampart_core::ServiceError> {
            for (t, v) in &changes {
                tx.log_append(*t, v)?;
            }
            Ok(())
        })
        .await
        .unwrap();
        db.transact(move |tx| index_pending(tx, now)).await.unwrap();
        let all: Vec<String> = (0..300).rev().map(|i| format!("e{i:03}")).collect();

        let sealer = rampart_store::Sealer::new(rampart_store::Sealer::generate_key().unwrap().as_ref()).unwrap();
        let p = rampart_core::Principal::root("123456789012", None);
        let ctx = rampart_core::Ctx::internal(&p, (&db, &sealer), now, "us-east-1");
        let walk = |attribute: Option<(&str, &str)>| {
            let mut seen = Vec::new();
            let mut token = None;
            loop {
                let got = lookup_events(
                    &ctx,
                    LookupEventsRequest {
                        lookup_attributes: attribute
                            .map(|(k, v)| vec![LookupAttribute { attribute_key: k.into(), attribute_value: v.into() }]),
                        max_results: Some(23),
                        next_token: token.take(),
                        ..LookupEventsRequest::default()
                    },
                )
                .unwrap();
                seen.extend(got.events.unwrap().into_iter().map(|e| e.event_id.unwrap()));
                match got.next_token {
                    Some(t) => token = Some(t),
                    None => return seen,
                }
            }
        };
        assert_eq!(walk(None), all, "every event once, newest first");
        assert_eq!(walk(Some(("Username", "root"))), all, "an attribute every event has");
        let reads: Vec<String> = all.iter().filter(|id| !id.ends_with('0')).cloned().collect();
        assert_eq!(walk(Some(("EventName", "GetUser"))), reads, "the packed events alone");
        let writes: Vec<String> = all.iter().filter(|id| id.ends_with('0')).cloned().collect();
        assert_eq!(walk(Some(("ReadOnly", "false"))), writes, "the rows alone");
        drop(db);
    }

    #[tokio::test]
    async fn events_of_the_first_layout_move_to_the_log_and_stay_found() {
        let (_dir, db) = open();
        let now = time::OffsetDateTime::now_utc();
        let at = now - time::Duration::minutes(5);
        let json = serde_json::to_vec(&sample("old-layout")).unwrap();
        let key = format!("audit/{:020}/old-layout", at.unix_timestamp_nanos()).into_bytes();
        db.transact(move |tx| -> Result<(), rampart_core::ServiceError> {
            tx.put(&key, &json)?;
            tx.put(INDEX_CURSOR, format!("audit/{:020}/x", at.unix_timestamp_nanos() - 1).as_bytes())?;
            assert_eq!(move_events_to_log(tx)?, 1);
            assert_eq!(move_events_to_log(tx)?, 0);
            assert!(tx.scan_prefix(rampart_core::keys::AUDIT_PREFIX, None, 10, false)?.is_empty());
            assert_eq!(index_pending(tx, now)?, 1, "an old cursor still says where the indexer got to");
            Ok(())
        })
        .await
        .unwrap();
        let logged = db.log_range(i64::MIN, i64::MAX, 10, false).unwrap();
        assert_eq!(logged.len(), 1);
        assert_eq!(logged[0].0, crate::position(at), "kept at its time");
        let sealer = rampart_store::Sealer::new(rampart_store::Sealer::generate_key().unwrap().as_ref()).unwrap();
        let p = rampart_core::Principal::root("123456789012", None);
        let ctx = rampart_core::Ctx::internal(&p, (&db, &sealer), now, "us-east-1");
        let by_user = rampart_shapes::generated::cloudtrail::LookupEventsRequest {
            lookup_attributes: Some(vec![rampart_shapes::generated::cloudtrail::LookupAttribute {
                attribute_key: "Username".into(),
                attribute_value: "root".into(),
            }]),
            ..Default::default()
        };
        let found = lookup_events(&ctx, by_user).unwrap().events.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].event_id.as_deref(), Some("old-layout"));
        drop(db);
    }

    #[tokio::test]
    async fn a_plan_made_on_a_reader_applies_once() {
        let (_dir, db) = open();
        let now = time::OffsetDateTime::now_utc();
        let at = crate::position(now - time::Duration::minutes(1));
        let ev = crate::pack_event(&sample("e")).unwrap();
        db.transact(move |tx| tx.log_append(at, &ev).map(|_| ())).await.unwrap();
        let plan = plan_pending(&db, now).unwrap();
        let again = plan_pending(&db, now).unwrap();
        assert_eq!(db.transact(move |tx| apply_index(tx, &plan)).await.unwrap(), 1);
        assert_eq!(db.transact(move |tx| apply_index(tx, &again)).await.unwrap(), 0, "the cursor moved since");
        let lists = db.scan_prefix(b"audix/123456789012/EventName/CreateUser/", None, 10, false).unwrap();
        assert_eq!(lists.len(), 1, "written once");
        assert_eq!(plan_pending(&db, now).unwrap().events, 0, "nothing left");
        drop(db);
    }

    #[test]
    fn malformed_postings_and_run_records_end_without_panicking() {
        assert_eq!(decode_postings(5, &[0x80]), [5], "cut short");
        assert_eq!(decode_postings(5, &[0xff; 11]), [5], "longer than a u64");
        assert_eq!(decode_postings(i64::MAX, &[1]), [i64::MAX], "overflow");
        assert_eq!(decode_postings(5, &[1, 0x80]), [5, 6]);
        let mut record = Vec::new();
        for k in [b"audix/a".as_slice(), b"audix/bb"] {
            put_varint(&mut record, k.len() as u64);
            record.extend_from_slice(k);
        }
        assert_eq!(run_keys(&record), [b"audix/a".to_vec(), b"audix/bb".to_vec()]);
        assert_eq!(run_keys(&record[..record.len() - 1]), [b"audix/a".to_vec()], "a cut key is dropped");
        assert!(run_keys(&[0xff; 12]).is_empty());
    }
}

#[cfg(test)]
mod retention_tests {
    use super::*;

    #[tokio::test]
    async fn events_past_the_retention_go_with_their_index_and_newer_ones_stay() {
        let (_dir, db) = super::tests::open();
        let now = time::OffsetDateTime::now_utc();
        let old = now - time::Duration::days(100);
        let recent = now - time::Duration::days(10);
        let pack = |id: &str| crate::pack_event(&crate::tests::sample(id)).unwrap();
        let (o, r) = (pack("old"), pack("recent"));
        db.transact(move |tx| -> Result<(), rampart_core::ServiceError> {
            tx.log_append(crate::position(old), &o)?;
            // The indexer ran between the two events, as a server's would.
            assert_eq!(index_pending(tx, old + time::Duration::seconds(2))?, 1);
            tx.log_append(crate::position(recent), &r)?;
            assert_eq!(index_pending(tx, now)?, 1);
            assert_eq!(sweep_expired(tx, now)?, 1, "only the event older than 90 days");
            let left = tx.log_range(i64::MIN, i64::MAX, 10, false)?;
            assert_eq!(left.len(), 1);
            assert_eq!(left[0].0, crate::position(recent));
            let index = tx.scan_prefix(b"audix/", None, 100, false)?;
            let recent_key = format!("{:020}", crate::position(recent));
            assert!(
                !index.is_empty() && index.iter().all(|(k, _)| k.ends_with(recent_key.as_bytes())),
                "old index entries gone"
            );
            set_retention(tx, 5)?;
            assert_eq!(sweep_expired(tx, now)?, 1, "a shorter retention takes the rest");
            assert!(tx.scan_prefix(b"audix", None, 100, false)?.is_empty(), "no index list or run record is left");
            Ok(())
        })
        .await
        .unwrap();
        drop(db);
    }
}
