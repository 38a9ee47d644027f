//! Aggregated data events: a trail whose event configuration names aggregation templates also
//! delivers, for each five-minute window, summaries of the data events it logged — how often each
//! API was called and on which resources (`API_ACTIVITY`), how each resource was reached
//! (`RESOURCE_ACCESS`), what each principal did (`USER_ACTIONS`).
//! See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/aggregating-data-events.html>
//! and, for the record, `cloudtrail-event-reference-aggregated-events.html`.
//!
//! What AWS does not document, Rampart chooses and says so: an S3 event's resource is its bucket
//! (as the documented examples count buckets), `USER_ACTIONS` names its dimension
//! `userIdentityArn` (AWS's examples show only the other two templates), a dimension lists its 50
//! largest values, and the files go under `CloudTrail-Aggregated/`, beside `CloudTrail-Insight/`.
//!
//! Counts wait in the store, per trail, window, account, region and source, until a delivery run
//! has read every event of their window; the window then becomes its aggregated events.

use std::collections::BTreeMap;

use rampart_core::ServiceError;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Event;

/// The templates a trail may aggregate on.
pub const TEMPLATES: &[&str] = &["API_ACTIVITY", "RESOURCE_ACCESS", "USER_ACTIONS"];

/// A window's length, in seconds (`PT5M`).
const WINDOW: i64 = 300;

/// Most values one dimension lists.
const TOP: usize = 50;

/// One window's counts for an account, region and source: how many events had each event name,
/// resource and caller.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Counts {
    calls: Vec<(String, String, String, u64)>,
}

/// Counts of events read in one run, not yet merged with the stored ones: by window start,
/// account, region and source, then by (event name, resource, caller).
pub type Pending = BTreeMap<(i64, String, String, String), BTreeMap<(String, String, String), u64>>;

fn prefix(account: &str, trail: &str) -> Vec<u8> {
    format!("cloudtrail/aggregate/{account}/{trail}/").into_bytes()
}

fn key(account: &str, trail: &str, (window, owner, region, source): &(i64, String, String, String)) -> Vec<u8> {
    let mut k = prefix(account, trail);
    k.extend_from_slice(format!("{window:020}/{owner}/{region}/{source}").as_bytes());
    k
}

/// Counts one data event (at log position `at`, nanoseconds) into its window.
pub fn count(pending: &mut Pending, at: i64, ev: &Event) {
    if ev.event_category != "Data" {
        return;
    }
    let seconds = at.div_euclid(1_000_000_000);
    let window = seconds - seconds.rem_euclid(WINDOW);
    let resources = ev.resources.as_deref().unwrap_or_default();
    // An S3 object's event counts for its bucket.
    let resource = resources.first().map_or_else(String::new, |r| match r.kind.as_str() {
        "AWS::S3::Object" => r.arn.split_once('/').map_or(r.arn.as_str(), |(bucket, _)| bucket).to_owned(),
        _ => r.arn.clone(),
    });
    let caller = ev.user_identity.arn.clone().unwrap_or_else(|| ev.user_identity.kind.clone());
    let group = (window, ev.recipient_account_id.clone(), ev.aws_region.clone(), ev.event_source.clone());
    *pending.entry(group).or_default().entry((ev.event_name.clone(), resource, caller)).or_default() += 1;
}

/// Adds a run's counts to those stored.
pub fn store(tx: &mut Tx<'_>, account: &str, trail: &str, pending: Pending) -> Result<(), ServiceError> {
    for (group, counts) in pending {
        let k = key(account, trail, &group);
        let mut all: BTreeMap<(String, String, String), u64> = match tx.get(&k)? {
            Some(v) => serde_json::from_slice::<Counts>(&v)
                .map_err(|_| ServiceError::internal())?
                .calls
                .into_iter()
                .map(|(n, r, c, v)| ((n, r, c), v))
                .collect(),
            None => BTreeMap::new(),
        };
        for (call, n) in counts {
            *all.entry(call).or_default() += n;
        }
        let stored = Counts { calls: all.into_iter().map(|((n, r, c), v)| (n, r, c, v)).collect() };
        tx.put(&k, &serde_json::to_vec(&stored).map_err(|_| ServiceError::internal())?)?;
    }
    Ok(())
}

/// One aggregated event to deliver: its region and its record.
pub struct Aggregated {
    pub region: String,
    pub json: serde_json::Value,
}

/// The windows that end at or before `reached` (a log position every event before which has been
/// read), as aggregated events for `templates`; their counts are then forgotten.
pub fn close(
    tx: &mut Tx<'_>,
    account: &str,
    trail: &str,
    templates: &[String],
    reached: i64,
) -> Result<Vec<Aggregated>, ServiceError> {
    let reached_seconds = reached.div_euclid(1_000_000_000);
    let p = prefix(account, trail);
    let mut out = Vec::new();
    for (k, v) in tx.scan_prefix(&p, None, usize::MAX >> 1, false)? {
        let Some(rest) = k.get(p.len()..).and_then(|r| std::str::from_utf8(r).ok()) else { continue };
        let mut parts = rest.splitn(4, '/');
        let (Some(window), Some(owner), Some(region), Some(source)) =
            (parts.next().and_then(|w| w.parse::<i64>().ok()), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if window + WINDOW > reached_seconds {
            continue;
        }
        let counts: Counts = serde_json::from_slice(&v).map_err(|_| ServiceError::internal())?;
        for template in templates {
            for json in summaries(template, &counts, (owner, region, source), window)? {
                out.push(Aggregated { region: region.to_owned(), json });
            }
        }
        tx.delete(&k)?;
    }
    Ok(out)
}

/// Forgets a trail's waiting counts (its aggregation turned off, or the trail deleted).
pub fn forget(tx: &mut Tx<'_>, account: &str, trail: &str) -> Result<(), ServiceError> {
    for (k, _) in tx.scan_prefix(&prefix(account, trail), None, usize::MAX >> 1, false)? {
        tx.delete(&k)?;
    }
    Ok(())
}

/// A dimension's statistics: its values with their counts, largest first, at most [`TOP`].
fn statistics(by: BTreeMap<&str, u64>) -> serde_json::Value {
    let mut items: Vec<(&str, u64)> = by.into_iter().collect();
    items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    items.truncate(TOP);
    serde_json::Value::Array(
        items.into_iter().map(|(name, value)| serde_json::json!({ "name": name, "value": value })).collect(),
    )
}

/// One template's aggregated events for a window: one per value of its primary dimension, with
/// the break-down of that value's events by its detail dimension.
fn summaries(
    template: &str,
    counts: &Counts,
    (owner, region, source): (&str, &str, &str),
    window: i64,
) -> Result<Vec<serde_json::Value>, ServiceError> {
    // (primary dimension, its value of a call), (detail dimension, its value of a call).
    type Pick = fn(&(String, String, String, u64)) -> &str;
    let (primary, of, detail, detail_of): (&str, Pick, &str, Pick) = match template {
        "API_ACTIVITY" => ("eventName", |c| &c.0, "resourceARN", |c| &c.1),
        "RESOURCE_ACCESS" => ("resourceARN", |c| &c.1, "eventName", |c| &c.0),
        _ => ("userIdentityArn", |c| &c.2, "eventName", |c| &c.0),
    };
    let start = OffsetDateTime::from_unix_timestamp(window).map_err(|_| ServiceError::internal())?;
    let end = start + time::Duration::seconds(WINDOW);
    let mut by_primary: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for call in &counts.calls {
        *by_primary.entry(of(call)).or_default().entry(detail_of(call)).or_default() += call.3;
    }
    let mut out = Vec::new();
    for (value, details) in by_primary {
        let total: u64 = details.values().sum();
        out.push(serde_json::json!({
            "eventVersion": "1.0",
            "accountId": owner,
            "eventId": uuid::Uuid::new_v4().to_string(),
            "eventCategory": "Aggregated",
            "eventType": "AwsAggregatedEvent",
            "awsRegion": region,
            "eventSource": source,
            "timeWindow": { "windowStart": super::rfc3339(start), "windowEnd": super::rfc3339(end), "windowSize": "PT5M" },
            "summary": {
                "primaryDimension": {
                    "dimension": primary,
                    "statistics": [{ "name": value, "value": total }],
                    "aggregationType": "Count",
                },
                "details": [{ "dimension": detail, "statistics": statistics(details), "aggregationType": "Count" }],
            },
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::sample;

    #[tokio::test]
    async fn a_window_closes_only_once_everything_before_its_end_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let db = rampart_store::Db::open_sqlite(&dir.path().join("t.db")).unwrap();
        let second = 1_000_000_000_i64;
        let window = 1_800_000_000 - 1_800_000_000 % WINDOW;
        let mut pending = Pending::new();
        let mut ev = sample("e");
        ev.event_category = "Data".to_owned();
        ev.resources = crate::EventResource::from_arn("arn:aws:s3:::shop/till/1.csv").map(|r| vec![r]);
        for offset in [0, 299] {
            count(&mut pending, (window + offset) * second, &ev);
        }
        count(&mut pending, (window + 300) * second, &ev);
        // A management event is not aggregated.
        let mut management = sample("m");
        management.event_category = "Management".to_owned();
        count(&mut pending, window * second, &management);
        let templates = vec!["RESOURCE_ACCESS".to_owned()];
        let closed = db
            .transact(move |tx| -> Result<_, ServiceError> {
                store(tx, "111122223333", "t", pending)?;
                let early = close(tx, "111122223333", "t", &templates, (window + 300) * second - 1)?;
                let on_time = close(tx, "111122223333", "t", &templates, (window + 300) * second)?;
                let again = close(tx, "111122223333", "t", &templates, (window + 300) * second)?;
                Ok((early.len(), on_time.into_iter().map(|a| a.json).collect::<Vec<_>>(), again.len()))
            })
            .await
            .unwrap();
        assert_eq!(closed.0, 0, "the window is still open a nanosecond before its end");
        assert_eq!(closed.2, 0, "a closed window is delivered once");
        let [summary] = closed.1.as_slice() else { panic!("{:?}", closed.1) };
        assert_eq!(summary["summary"]["primaryDimension"]["statistics"][0]["name"], "arn:aws:s3:::shop");
        assert_eq!(summary["summary"]["primaryDimension"]["statistics"][0]["value"], 2);
        let start = OffsetDateTime::from_unix_timestamp(window).unwrap();
        assert_eq!(summary["timeWindow"]["windowStart"], crate::rfc3339(start));
        db.close();
    }
}
