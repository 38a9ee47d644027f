//! Bot traffic by path, for GetTopPathStatisticsByTraffic: the requests Bot Control labelled a
//! bot's (`…:bot:name:…`, `…:bot:category:…`), counted per web ACL and minute by path, bot and
//! category, kept three hours as sampled requests are.
//! See <https://docs.aws.amazon.com/waf/latest/APIReference/API_GetTopPathStatisticsByTraffic.html>.

use std::collections::{BTreeMap, HashMap};

use rampart_core::{Ctx, ServiceError, records};
use rampart_shapes::generated::wafv2 as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};

use super::{invalid_parameter, nonexistent};

/// Bot Control's label namespace.
const BOT_CONTROL: &str = "awswaf:managed:aws:bot-control:";

/// Bot traffic is kept for three hours, as sampled requests are.
const KEPT_SECS: i64 = 3 * 3600;

/// At most this many (path, bot) pairs are told apart in a web ACL's minute; the rest are not
/// counted.
pub const PAIRS_PER_MINUTE: usize = 5000;

/// A bot's request: its path, and the bot's name and category.
pub type Seen = (String, String, String);

/// A path's requests, and its busiest bots with theirs.
type PathCount = (String, u64, Vec<(String, u64)>);

/// The bot a request's labels name, with its category: `None` for a request Bot Control did not
/// take for a bot that names itself.
pub fn bot_of(labels: &[String]) -> Option<(&str, &str)> {
    let of =
        |what: &str| labels.iter().find_map(|l| l.strip_prefix(BOT_CONTROL).and_then(|rest| rest.strip_prefix(what)));
    Some((of("bot:name:")?, of("bot:category:")?))
}

fn minute_key(web_acl_arn: &str, minute: i64) -> Vec<u8> {
    format!("wafbots/{web_acl_arn}/{minute:012}").into_bytes()
}

fn prefix(web_acl_arn: &str) -> Vec<u8> {
    format!("wafbots/{web_acl_arn}/").into_bytes()
}

/// A web ACL's minute of bot traffic, as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Minute {
    /// (path, bot, category, requests).
    counts: Vec<(String, String, String, u64)>,
}

/// Adds a minute's bot requests to what is kept; minutes older than three hours go.
pub fn record(
    tx: &mut Tx<'_>,
    (web_acl_arn, minute): (&str, i64),
    seen: HashMap<Seen, u64>,
) -> Result<(), ServiceError> {
    let key = minute_key(web_acl_arn, minute);
    let kept: Minute = records::read_tx(tx, &key)?.unwrap_or_default();
    let mut all: BTreeMap<Seen, u64> = kept.counts.into_iter().map(|(p, b, c, n)| ((p, b, c), n)).collect();
    for (pair, n) in seen {
        if all.len() < PAIRS_PER_MINUTE || all.contains_key(&pair) {
            *all.entry(pair).or_default() += n;
        }
    }
    let counts = all.into_iter().map(|((p, b, c), n)| (p, b, c, n)).collect();
    records::write_tx(tx, &key, &Minute { counts })?;
    let oldest = minute_key(web_acl_arn, minute - KEPT_SECS / 60);
    for (k, _) in tx.scan_prefix(&prefix(web_acl_arn), None, usize::MAX >> 1, false)? {
        if k < oldest {
            tx.delete(&k)?;
        }
    }
    Ok(())
}

/// The path a request counts under: its first segment (`/api/` for `/api/v1/users`) unless a
/// prefix is asked for, then the whole path.
fn grouped(path: &str, prefix: Option<&str>) -> Option<String> {
    match prefix {
        Some(p) => path.starts_with(p).then(|| path.to_owned()),
        None => {
            let rest = path.strip_prefix('/').unwrap_or(path);
            Some(match rest.split_once('/') {
                Some((first, _)) => format!("/{first}/"),
                None => format!("/{rest}"),
            })
        }
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

/// The URI paths bots reached most in a time window within the last three hours, each with its
/// busiest bots; filtered by bot category or name when asked (Rampart knows no bot's
/// organization, so that filter finds none); without a filter, the paths of each category too.
pub fn get_top_path_statistics_by_traffic(
    ctx: &Ctx<'_>,
    input: shapes::GetTopPathStatisticsByTrafficRequest,
) -> Result<shapes::GetTopPathStatisticsByTrafficResponse, ServiceError> {
    super::Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let (_, kind, stored) =
        super::owned(&records::cached_reader(ctx.db), &ctx.principal.account_id, &input.web_acl_arn)?;
    if kind != super::Kind::WebAcl {
        return Err(nonexistent());
    }
    let (start, end) = (input.time_window.start_time, input.time_window.end_time);
    if end < start {
        return Err(invalid_parameter("TIME_WINDOW", "TimeWindow", "The time window's end is before its start."));
    }
    let earliest = (ctx.now - time::Duration::seconds(KEPT_SECS)).unix_timestamp() / 60;
    let (from, to) = ((start.unix_timestamp() / 60).max(earliest), end.unix_timestamp() / 60);
    let offset = match input.next_marker.as_deref() {
        Some(m) => m.parse::<usize>().map_err(|_| invalid_parameter("NEXT_MARKER", m, "The marker is not valid."))?,
        None => 0,
    };
    let wanted = |name: &str, category: &str| {
        input.bot_name.as_deref().is_none_or(|n| n.eq_ignore_ascii_case(name))
            && input.bot_category.as_deref().is_none_or(|c| c.eq_ignore_ascii_case(category))
            && input.bot_organization.is_none()
    };
    // By path, by bot; and, without a filter, by category and path.
    let mut by_path: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut by_category: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut total = 0u64;
    let last = minute_key(&stored.arn, to);
    let after = minute_key(&stored.arn, from - 1);
    for (k, v) in ctx.db.scan_prefix(&prefix(&stored.arn), Some(&after), usize::MAX >> 1, false)? {
        if k > last {
            break;
        }
        let minute: Minute = records::decode(&k, &v)?;
        for (path, bot, category, n) in minute.counts {
            let Some(path) = grouped(&path, input.uri_path_prefix.as_deref()) else { continue };
            if !wanted(&bot, &category) {
                continue;
            }
            total += n;
            *by_path.entry(path.clone()).or_default().entry(bot).or_default() += n;
            *by_category.entry((category, path)).or_default() += n;
        }
    }
    let filtered = input.bot_name.is_some() || input.bot_category.is_some() || input.bot_organization.is_some();
    let source = filtered.then(|| shapes::FilterSource {
        bot_category: input.bot_category.clone(),
        bot_organization: input.bot_organization.clone(),
        bot_name: input.bot_name.clone(),
    });
    let bots_per_path = usize::try_from(input.number_of_top_traffic_bots_per_path).unwrap_or(1);
    let mut paths: Vec<PathCount> = by_path
        .into_iter()
        .map(|(path, bots)| {
            let count = bots.values().sum();
            let mut bots: Vec<(String, u64)> = bots.into_iter().collect();
            bots.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            bots.truncate(bots_per_path);
            (path, count, bots)
        })
        .collect();
    paths.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let limit = usize::try_from(input.limit).unwrap_or(1);
    let more = paths.len() > offset.saturating_add(limit);
    let path_statistics = paths
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(path, count, bots)| shapes::PathStatistics {
            source: source.clone(),
            path,
            request_count: i64::try_from(count).unwrap_or(i64::MAX),
            percentage: percent(count, total),
            top_bots: Some(
                bots.into_iter()
                    .map(|(bot_name, n)| shapes::BotStatistics {
                        bot_name,
                        request_count: i64::try_from(n).unwrap_or(i64::MAX),
                        percentage: percent(n, count),
                    })
                    .collect(),
            ),
        })
        .collect();
    let top_categories = (!filtered).then(|| {
        let mut entries: Vec<((String, String), u64)> = by_category.into_iter().collect();
        entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        entries
            .into_iter()
            .take(limit)
            .map(|((category, path), n)| shapes::PathStatistics {
                source: Some(shapes::FilterSource { bot_category: Some(category), ..shapes::FilterSource::default() }),
                path,
                request_count: i64::try_from(n).unwrap_or(i64::MAX),
                percentage: percent(n, total),
                top_bots: None,
            })
            .collect()
    });
    Ok(shapes::GetTopPathStatisticsByTrafficResponse {
        path_statistics,
        total_request_count: i64::try_from(total).unwrap_or(i64::MAX),
        next_marker: more.then(|| (offset + limit).to_string()),
        top_categories,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_a_bots_when_bot_control_named_it_and_counts_under_its_first_segment() {
        let labels = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let named = labels(&[
            "awswaf:managed:aws:bot-control:bot:category:http_library",
            "awswaf:managed:aws:bot-control:bot:name:curl",
        ]);
        assert_eq!(bot_of(&named), Some(("curl", "http_library")));
        assert_eq!(bot_of(&labels(&["awswaf:managed:aws:bot-control:signal:non_browser_user_agent"])), None);
        assert_eq!(grouped("/api/v1/users", None).as_deref(), Some("/api/"));
        assert_eq!(grouped("/index.html", None).as_deref(), Some("/index.html"));
        assert_eq!(grouped("/", None).as_deref(), Some("/"));
        assert_eq!(grouped("/api/v1/users", Some("/api")).as_deref(), Some("/api/v1/users"));
        assert_eq!(grouped("/shop", Some("/api")), None);
    }
}
