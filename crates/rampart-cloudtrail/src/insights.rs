//! CloudTrail Insights: unusual API call and error rates, found in a trail's own events.
//!
//! For each trail with Insights selectors, every delivery run counts, per period (a minute, as in
//! CloudTrail) and per API (region, event source and name), the events the trail logs that each
//! insight type looks at: write management calls for `ApiCallRateInsight`, calls with an error
//! code for `ApiErrorRateInsight` (data events too where the selector names `Data`). When a period
//! is complete its counts are weighed against the API's baseline — its average and spread per
//! period over the baseline window (seven days in CloudTrail) — and an API well above it starts
//! an Insights event; the first period back to normal ends it. Both are delivered as Insights
//! events: into the trail's bucket under `CloudTrail-Insight/`, and to LookupEvents with
//! `EventCategory=insight`.
//!
//! CloudTrail does not publish its model. Rampart's rule, [`unusual`]: a period is unusual when
//! its count is at least [`MIN_COUNT`] and above both three standard deviations over the baseline
//! average and twice that average. Detection starts once 36 hours of a seven-day window (3/14 of
//! it) have passed since Insights were enabled, as CloudTrail says its first Insights events can
//! take up to 36 hours.
//! See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-insights-events-with-cloudtrail.html>
//! and <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-insights-fields-trails.html>.

use std::collections::BTreeMap;

use rampart_core::ServiceError;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Event;

/// The insight types CloudTrail has.
pub const TYPES: [&str; 2] = ["ApiCallRateInsight", "ApiErrorRateInsight"];

/// The fewest calls (or errors) in a period that can be unusual.
pub const MIN_COUNT: u32 = 10;

/// How periods are cut and how long a baseline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InsightsConfig {
    /// Seconds in a period (CloudTrail: 60).
    pub period_secs: i64,
    /// Periods in the baseline window (CloudTrail: seven days of minutes, 10,080).
    pub baseline_periods: i64,
}

impl Default for InsightsConfig {
    fn default() -> Self {
        Self { period_secs: 60, baseline_periods: 10_080 }
    }
}

impl InsightsConfig {
    /// Periods that must have passed since Insights were enabled before anything is unusual.
    pub fn warm_up(&self) -> i64 {
        (self.baseline_periods * 3 / 14).max(1)
    }

    fn period_of(&self, position: i64) -> i64 {
        position.div_euclid(self.period_secs.max(1).saturating_mul(1_000_000_000))
    }

    fn start_of(&self, period: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(period.saturating_mul(self.period_secs))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// One Insights selector of a trail: the type, and the event categories it looks at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InsightSelector {
    pub insight_type: String,
    /// `Management` and/or `Data`.
    pub categories: Vec<String>,
}

/// What a trail's Insights keep between delivery runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InsightsState {
    pub selectors: Vec<InsightSelector>,
    /// When Insights were enabled, as a log position: events before it are not counted.
    pub since: i64,
    /// The last period weighed (none yet: `None`).
    pub done: Option<i64>,
    /// Per API key: the sum and the sum of squares of its counts over the weighed periods still
    /// in the baseline window.
    pub sums: BTreeMap<String, (f64, f64)>,
    /// Insights started and not yet ended, by API key.
    pub open: BTreeMap<String, Open>,
}

/// An Insights event under way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Open {
    pub shared_id: String,
    pub first: i64,
    pub last: i64,
    pub total: u64,
    pub baseline: f64,
    pub baseline_periods: i64,
    pub attributions: Attributions,
}

/// Counts by the attributes CloudTrail attributes an insight to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attributions {
    pub user_identity_arn: BTreeMap<String, u64>,
    pub user_agent: BTreeMap<String, u64>,
    pub error_code: BTreeMap<String, u64>,
}

impl Attributions {
    fn add(&mut self, other: &Attributions) {
        for (mine, theirs) in [
            (&mut self.user_identity_arn, &other.user_identity_arn),
            (&mut self.user_agent, &other.user_agent),
            (&mut self.error_code, &other.error_code),
        ] {
            for (k, n) in theirs {
                *mine.entry(k.clone()).or_default() += n;
            }
        }
    }
}

/// One API's count in one period, with what it is attributed to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub count: u32,
    pub attributions: Attributions,
}

/// The most distinct values one attribute keeps per period.
const MAX_VALUES: usize = 20;

/// `TYPE\tREGION\tSOURCE\tNAME`.
fn api_key(insight_type: &str, region: &str, source: &str, name: &str) -> String {
    format!("{insight_type}\t{region}\t{source}\t{name}")
}

/// The insight types that count `ev`, given the trail's selectors.
fn counted_by<'a>(selectors: &'a [InsightSelector], ev: &Event) -> impl Iterator<Item = &'a str> {
    let category = if ev.management_event { "Management" } else { "Data" };
    let errored = ev.error_code.is_some();
    let write_management = ev.management_event && !ev.read_only;
    selectors
        .iter()
        .filter(move |s| s.categories.iter().any(|c| c == category))
        .filter(move |s| match s.insight_type.as_str() {
            "ApiCallRateInsight" => write_management || !ev.management_event,
            "ApiErrorRateInsight" => errored,
            _ => false,
        })
        .map(|s| s.insight_type.as_str())
}

/// Adds one event at log position `position` to the period tallies of a run.
pub fn count(
    state: &InsightsState,
    config: &InsightsConfig,
    tallies: &mut BTreeMap<i64, BTreeMap<String, Tally>>,
    position: i64,
    ev: &Event,
) {
    if position < state.since {
        return;
    }
    let period = config.period_of(position);
    for t in counted_by(&state.selectors, ev) {
        let tally = tallies
            .entry(period)
            .or_default()
            .entry(api_key(t, &ev.aws_region, &ev.event_source, &ev.event_name))
            .or_default();
        tally.count = tally.count.saturating_add(1);
        let a = &mut tally.attributions;
        let arn = ev.user_identity.arn.clone().unwrap_or_else(|| ev.user_identity.kind.clone());
        let error = ev.error_code.clone().unwrap_or_else(|| "null".to_owned());
        for (map, value) in
            [(&mut a.user_identity_arn, arn), (&mut a.user_agent, ev.user_agent.clone()), (&mut a.error_code, error)]
        {
            if map.len() < MAX_VALUES || map.contains_key(&value) {
                *map.entry(value).or_default() += 1;
            }
        }
    }
}

/// Whether `count` in a period is unusual against a baseline of `mean` and `deviation` per period.
pub fn unusual(count: u32, mean: f64, deviation: f64) -> bool {
    let c = f64::from(count);
    count >= MIN_COUNT && c > mean + 3.0 * deviation && c > 2.0 * mean
}

fn tally_key(account: &str, trail: &str, period: i64) -> Vec<u8> {
    // Zero-padded, so that keys sort by period.
    format!("cloudtrail/{account}/insight-tally/{trail}/{period:020}").into_bytes()
}

fn tally_prefix(account: &str, trail: &str) -> Vec<u8> {
    format!("cloudtrail/{account}/insight-tally/{trail}/").into_bytes()
}

/// `cloudtrail/ACCOUNT/insight-event/POSITION/ID` (`id` empty: the bound before a position's keys).
pub fn event_key(account: &str, position: i64, id: &str) -> Vec<u8> {
    format!("cloudtrail/{account}/insight-event/{position:020}/{id}").into_bytes()
}

/// The prefix of an account's Insights events, for LookupEvents.
pub fn events_prefix(account: &str) -> Vec<u8> {
    format!("cloudtrail/{account}/insight-event/").into_bytes()
}

/// The log position an Insights event key names.
pub fn event_position(prefix_len: usize, key: &[u8]) -> Option<i64> {
    std::str::from_utf8(key.get(prefix_len..prefix_len + 20)?).ok()?.parse().ok()
}

/// Adds a run's tallies to the stored ones.
pub fn store_tallies(
    tx: &mut Tx<'_>,
    account: &str,
    trail: &str,
    tallies: BTreeMap<i64, BTreeMap<String, Tally>>,
) -> Result<(), ServiceError> {
    for (period, apis) in tallies {
        let key = tally_key(account, trail, period);
        let mut stored: BTreeMap<String, Tally> = rampart_core::records::read_tx(tx, &key)?.unwrap_or_default();
        for (api, t) in apis {
            let s = stored.entry(api).or_default();
            s.count = s.count.saturating_add(t.count);
            s.attributions.add(&t.attributions);
        }
        rampart_core::records::write_tx(tx, &key, &stored)?;
    }
    Ok(())
}

/// One Insights event to record: its time, and its JSON.
pub struct InsightEvent {
    pub time: OffsetDateTime,
    pub id: String,
    pub region: String,
    pub json: serde_json::Value,
}

/// Removes from the baseline, and from the store, the weighed periods at or before `upto`.
fn evict(
    tx: &mut Tx<'_>,
    state: &mut InsightsState,
    account: &str,
    trail: &str,
    upto: i64,
) -> Result<(), ServiceError> {
    let prefix = tally_prefix(account, trail);
    loop {
        let rows = tx.scan_prefix(&prefix, None, 64, false)?;
        let mut evicted = 0;
        for (k, v) in &rows {
            let period: i64 = std::str::from_utf8(k.get(prefix.len()..).unwrap_or_default())
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(i64::MAX);
            if period > upto {
                return Ok(());
            }
            let apis: BTreeMap<String, Tally> = rampart_core::records::decode(k, v)?;
            for (api, t) in apis {
                if let Some((sum, squares)) = state.sums.get_mut(&api) {
                    let c = f64::from(t.count);
                    *sum = (*sum - c).max(0.0);
                    *squares = (*squares - c * c).max(0.0);
                    if *sum == 0.0 {
                        state.sums.remove(&api);
                    }
                }
            }
            tx.delete(k)?;
            evicted += 1;
        }
        if evicted < 64 || rows.is_empty() {
            return Ok(());
        }
    }
}

/// Weighs every complete period up to the one before log position `horizon`: starts and ends
/// Insights events, returned in time order. The state moves on; old tallies are removed.
pub fn weigh(
    tx: &mut Tx<'_>,
    state: &mut InsightsState,
    config: &InsightsConfig,
    account: &str,
    trail: &str,
    horizon: i64,
) -> Result<Vec<InsightEvent>, ServiceError> {
    // A period is complete when the horizon has passed its end.
    let last_complete = config.period_of(horizon).saturating_sub(1);
    let first = config.period_of(state.since);
    let done = state.done.unwrap_or(first - 1);
    if last_complete <= done {
        return Ok(Vec::new());
    }
    let prefix = tally_prefix(account, trail);
    // `scan_prefix` starts after its key: the last weighed period's.
    let from = tally_key(account, trail, done);
    let to = tally_key(account, trail, last_complete);
    let rows = tx.scan_prefix(&prefix, Some(&from), usize::MAX >> 1, false)?;
    let mut periods: BTreeMap<i64, BTreeMap<String, Tally>> = BTreeMap::new();
    for (k, v) in rows {
        if k > to {
            break;
        }
        let period = std::str::from_utf8(k.get(prefix.len()..).unwrap_or_default()).ok().and_then(|p| p.parse().ok());
        if let Some(p) = period {
            periods.insert(p, rampart_core::records::decode(&k, &v)?);
        }
    }
    let mut out = Vec::new();
    for (&p, apis) in &periods {
        end_quiet(state, config, account, p, &mut out);
        // The window for period p is the W periods before it.
        let weighed = state.done.unwrap_or(first - 1);
        evict(tx, state, account, trail, (p - config.baseline_periods - 1).min(weighed))?;
        let elapsed = p - first;
        let n = elapsed.min(config.baseline_periods).max(1);
        for (api, tally) in apis {
            let (sum, squares) = state.sums.get(api).copied().unwrap_or_default();
            let mean = sum / n as f64;
            let deviation = (squares / n as f64 - mean * mean).max(0.0).sqrt();
            let is_unusual = elapsed >= config.warm_up() && unusual(tally.count, mean, deviation);
            match state.open.get_mut(api) {
                Some(open) if is_unusual => {
                    open.last = p;
                    open.total += u64::from(tally.count);
                    open.attributions.add(&tally.attributions);
                }
                Some(_) => {
                    if let Some(open) = state.open.remove(api) {
                        out.push(insight_event(config, account, api, &open, Some(p)));
                    }
                }
                None if is_unusual => {
                    let open = Open {
                        shared_id: uuid::Uuid::new_v4().to_string(),
                        first: p,
                        last: p,
                        total: u64::from(tally.count),
                        baseline: mean,
                        baseline_periods: n,
                        attributions: tally.attributions.clone(),
                    };
                    out.push(insight_event(config, account, api, &open, None));
                    state.open.insert(api.clone(), open);
                }
                None => {}
            }
        }
        for (api, tally) in apis {
            let entry = state.sums.entry(api.clone()).or_default();
            let c = f64::from(tally.count);
            entry.0 += c;
            entry.1 += c * c;
        }
        state.done = Some(p);
    }
    end_quiet(state, config, account, last_complete.saturating_add(1), &mut out);
    state.done = Some(last_complete);
    evict(tx, state, account, trail, last_complete - config.baseline_periods)?;
    Ok(out)
}

/// Ends the open insights whose API had no call in a period before `p` (a quiet period is never
/// unusual).
fn end_quiet(state: &mut InsightsState, config: &InsightsConfig, account: &str, p: i64, out: &mut Vec<InsightEvent>) {
    let quiet: Vec<String> =
        state.open.iter().filter(|(_, o)| o.last.saturating_add(1) < p).map(|(k, _)| k.clone()).collect();
    for api in quiet {
        if let Some(open) = state.open.remove(&api) {
            let ended = open.last.saturating_add(1);
            out.push(insight_event(config, account, &api, &open, Some(ended)));
        }
    }
}

/// An Insights event: the start of `open` (`ended: None`) or its end in period `ended`.
fn insight_event(config: &InsightsConfig, account: &str, api: &str, open: &Open, ended: Option<i64>) -> InsightEvent {
    let mut parts = api.splitn(4, '\t');
    let (insight_type, region, source, name) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let periods = open.last - open.first + 1;
    let minutes = |n: i64| (n * config.period_secs).div_euclid(60).max(1);
    let (state, time, average) = match ended {
        None => ("Start", config.start_of(open.first), open.total as f64),
        Some(p) => ("End", config.start_of(p), open.total as f64 / periods as f64),
    };
    let divisor = if ended.is_some() { periods as f64 } else { 1.0 };
    let attribution = |attribute: &str, counts: &BTreeMap<String, u64>| {
        let mut values: Vec<(&String, &u64)> = counts.iter().collect();
        values.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let insight: Vec<serde_json::Value> = values
            .into_iter()
            .take(5)
            .map(|(v, n)| serde_json::json!({ "value": v, "average": *n as f64 / divisor }))
            .collect();
        serde_json::json!({ "attribute": attribute, "insight": insight, "baseline": [] })
    };
    let id = uuid::Uuid::new_v4().to_string();
    let json = serde_json::json!({
        "eventVersion": "1.08",
        "eventTime": super::rfc3339(time),
        "awsRegion": region,
        "eventID": id,
        "eventType": "AwsCloudTrailInsight",
        "recipientAccountId": account,
        "sharedEventID": open.shared_id,
        "insightDetails": {
            "state": state,
            "eventSource": source,
            "eventName": name,
            "insightType": insight_type,
            "insightContext": {
                "statistics": {
                    "baseline": { "average": open.baseline },
                    "insight": { "average": average },
                    "insightDuration": minutes(periods),
                    "baselineDuration": minutes(open.baseline_periods),
                },
                "attributions": [
                    attribution("userIdentityArn", &open.attributions.user_identity_arn),
                    attribution("userAgent", &open.attributions.user_agent),
                    attribution("errorCode", &open.attributions.error_code),
                ],
            },
        },
        "eventCategory": "Insight",
    });
    InsightEvent { time, id, region: region.to_owned(), json }
}

/// Forgets a trail's Insights counts (Insights turned off, or the trail deleted).
pub fn forget(tx: &mut Tx<'_>, account: &str, trail: &str) -> Result<(), ServiceError> {
    let prefix = tally_prefix(account, trail);
    for (k, _) in tx.scan_prefix(&prefix, None, usize::MAX >> 1, false)? {
        tx.delete(&k)?;
    }
    Ok(())
}

/// Records Insights events for LookupEvents (`EventCategory=insight`).
pub fn record(tx: &mut Tx<'_>, account: &str, events: &[InsightEvent]) -> Result<(), ServiceError> {
    for e in events {
        let body = serde_json::to_vec(&e.json).map_err(|_| ServiceError::internal())?;
        tx.put(&event_key(account, super::position(e.time), &e.id), &body)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_well_above_the_baseline_is_unusual_and_noise_is_not() {
        assert!(unusual(50, 1.0, 1.0));
        assert!(!unusual(9, 0.0, 0.0), "too few to matter");
        assert!(!unusual(12, 10.0, 1.0), "within twice the average");
        assert!(!unusual(30, 10.0, 8.0), "within three deviations");
        assert!(unusual(30, 10.0, 5.0));
    }

    /// Periods of one second, a baseline of 7: a steady trickle of 2 a period, then 30 in one
    /// period start an insight, the next ordinary period ends it, and the baseline forgets the
    /// periods that leave its window.
    #[tokio::test]
    async fn a_burst_starts_an_insight_the_next_ordinary_period_ends_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = rampart_store::Db::open_sqlite(&dir.path().join("t.db")).unwrap();
        let config = InsightsConfig { period_secs: 1, baseline_periods: 7 };
        let second = 1_000_000_000_i64;
        let api = api_key("ApiCallRateInsight", "us-east-1", "iam.amazonaws.com", "CreateUser");
        let (found, state) = db
            .transact(move |tx| -> Result<_, ServiceError> {
                let mut state = InsightsState { since: 100 * second, ..InsightsState::default() };
                let mut tallies: BTreeMap<i64, BTreeMap<String, Tally>> = BTreeMap::new();
                for p in 100..120 {
                    let count = if p == 110 { 30 } else { 2 };
                    tallies.entry(p).or_default().insert(api.clone(), Tally { count, ..Tally::default() });
                }
                store_tallies(tx, "111122223333", "t", tallies)?;
                let found = weigh(tx, &mut state, &config, "111122223333", "t", 120 * second)?;
                Ok((found, state))
            })
            .await
            .unwrap();
        let states: Vec<(&str, i64)> = found
            .iter()
            .map(|e| {
                let state = e.json["insightDetails"]["state"].as_str().unwrap_or_default();
                (state, e.time.unix_timestamp())
            })
            .collect();
        assert_eq!(states, [("Start", 110), ("End", 111)]);
        let baseline = found[0].json["insightDetails"]["insightContext"]["statistics"]["baseline"]["average"].as_f64();
        assert_eq!(baseline, Some(2.0), "the 7 periods before the burst");
        assert_eq!(found[0].json["sharedEventID"], found[1].json["sharedEventID"]);
        assert!(state.open.is_empty());
        assert_eq!(state.done, Some(119));
        // The window after period 119 holds periods 113..=119: seven of 2.
        assert_eq!(state.sums.values().next().copied(), Some((14.0, 28.0)));
    }

    #[test]
    fn the_warm_up_is_36_hours_of_a_week() {
        assert_eq!(InsightsConfig::default().warm_up(), 2160);
        assert_eq!(InsightsConfig { period_secs: 1, baseline_periods: 14 }.warm_up(), 3);
    }
}
