//! Attack records: the server reports a resource's traffic while a rate-based rule of its web ACL
//! turns away requests at attack scale ([`report`]); the first report opens an attack (and,
//! where its protection enables application layer automatic response, puts a rate-based
//! mitigation rule in the resource's web ACL), later ones add to it, and a quiet spell without
//! reports ends it ([`sweep`], which takes the mitigation rule out). ListAttacks, DescribeAttack
//! and DescribeAttackStatistics read them.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/ddos-automatic-app-layer-response.html>.

use std::collections::BTreeMap;

use rampart_core::{Ctx, ServiceError, records};
use rampart_shapes::generated::shield as shapes;
use rampart_store::{Db, Tx};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What the server saw of an attack on a resource since its last report.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub resource_arn: String,
    /// Requests turned away by rate-based rules.
    pub requests: u64,
    /// By client address, and by URL path.
    pub sources: BTreeMap<String, u64>,
    pub urls: BTreeMap<String, u64>,
    /// The web ACL rules that turned them away.
    pub rules: Vec<String>,
    /// Connections the proxy refused over its caps, and clients it cut off for sending a body
    /// too slowly (Shield Standard's defences at work).
    pub connections_refused: u64,
    pub slow_bodies: u64,
    /// Requests that arrived while the request rate surged over the resource's baseline
    /// ([`crate::surge`]), and the surge's rate (requests per second).
    pub surge: u64,
    pub surge_rate: u64,
}

/// An attack, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Attack {
    id: String,
    resource_arn: String,
    #[serde(with = "time::serde::rfc3339")]
    start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    end: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    last: OffsetDateTime,
    requests: u64,
    /// The most requests turned away in one report (about a second).
    peak: u64,
    reports: u64,
    sources: BTreeMap<String, u64>,
    urls: BTreeMap<String, u64>,
    mitigations: Vec<String>,
    #[serde(default)]
    connections_refused: u64,
    #[serde(default)]
    slow_bodies: u64,
    /// Requests that arrived during surges, and the highest rate (per second) of one.
    #[serde(default)]
    surge: u64,
    #[serde(default)]
    surge_rate: u64,
    /// The web ACL and rule of an automatic mitigation in place.
    #[serde(default)]
    mitigation_rule: Option<(String, String)>,
}

fn attack_key(account: &str, id: &str) -> Vec<u8> {
    format!("shield/{account}/attack/{id}").into_bytes()
}

fn attacks_prefix(account: &str) -> Vec<u8> {
    format!("shield/{account}/attack/").into_bytes()
}

/// `shieldongoing/<resource-arn>`: the attack under way on a resource, by its key.
fn ongoing_key(resource_arn: &str) -> Vec<u8> {
    format!("shieldongoing/{resource_arn}").into_bytes()
}

const ONGOING: &[u8] = b"shieldongoing/";

/// Whether any attack is under way (so that the sweep has work).
pub fn any_ongoing(db: &Db) -> Result<bool, ServiceError> {
    Ok(!db.scan_prefix(ONGOING, None, 1, false)?.is_empty())
}

/// The account a load balancer ARN belongs to.
fn owner(resource_arn: &str) -> Option<&str> {
    resource_arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// Opens an attack on the report's resource, or adds to the one under way.
pub fn report(tx: &mut Tx<'_>, r: Report, now: OffsetDateTime) -> Result<(), ServiceError> {
    let Some(account) = owner(&r.resource_arn).map(str::to_owned) else { return Ok(()) };
    let ongoing: Option<String> =
        tx.get(&ongoing_key(&r.resource_arn))?.map(|b| String::from_utf8_lossy(&b).into_owned());
    let mut attack = match ongoing
        .as_deref()
        .map(|id| records::read_tx::<Attack>(tx, &attack_key(&account, id)))
        .transpose()?
        .flatten()
    {
        Some(a) => a,
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            tx.put(&ongoing_key(&r.resource_arn), id.as_bytes())?;
            let mut a = Attack {
                id,
                resource_arn: r.resource_arn.clone(),
                start: now,
                end: None,
                last: now,
                requests: 0,
                peak: 0,
                reports: 0,
                sources: BTreeMap::new(),
                urls: BTreeMap::new(),
                mitigations: Vec::new(),
                connections_refused: 0,
                slow_bodies: 0,
                surge: 0,
                surge_rate: 0,
                mitigation_rule: None,
            };
            mitigate(tx, &account, &mut a)?;
            a
        }
    };
    attack.last = now;
    attack.requests += r.requests;
    attack.peak = attack.peak.max(r.requests);
    attack.connections_refused += r.connections_refused;
    attack.slow_bodies += r.slow_bodies;
    attack.surge += r.surge;
    attack.surge_rate = attack.surge_rate.max(r.surge_rate);
    for (defence, n) in [
        ("Shield Standard connection limits", r.connections_refused),
        ("Shield Standard request read timeouts", r.slow_bodies),
    ] {
        if n > 0 && !attack.mitigations.iter().any(|m| m == defence) {
            attack.mitigations.push(defence.to_owned());
        }
    }
    attack.reports += 1;
    for (k, n) in r.sources {
        *attack.sources.entry(k).or_default() += n;
    }
    for (k, n) in r.urls {
        *attack.urls.entry(k).or_default() += n;
    }
    for rule in r.rules {
        let name = format!("AWS WAF rate-based rule {rule}");
        if !attack.mitigations.contains(&name) {
            attack.mitigations.push(name);
        }
    }
    records::write_tx(tx, &attack_key(&account, &attack.id), &attack)
}

/// Where the attacked resource's protection enables application layer automatic response and a
/// web ACL protects it: a rate-based rule, per client address, in that web ACL, blocking or
/// counting as the protection says.
fn mitigate(tx: &mut Tx<'_>, account: &str, attack: &mut Attack) -> Result<(), ServiceError> {
    let rows = tx.scan_prefix(&super::protections::protections_prefix(account), None, usize::MAX >> 1, false)?;
    let Some((protection, _)) = super::protections::of_resource(rows, &attack.resource_arn)? else { return Ok(()) };
    let Some(config) = protection.application_layer_automatic_response_configuration.filter(|c| c.status == "ENABLED")
    else {
        return Ok(());
    };
    let Some(web_acl) =
        rampart_waf::mitigation::associated_web_acl(&rampart_core::records::tx_reader(tx), &attack.resource_arn)?
    else {
        return Ok(());
    };
    let action = if config.action.count.is_some() { "Count" } else { "Block" };
    let id = protection.id.unwrap_or_default();
    let name = format!("ShieldMitigationRule-{}", id.split('-').next().unwrap_or("protection"));
    let json = format!(
        r#"{{"Name":"{name}","Priority":10000000,"Action":{{"{action}":{{}}}},"Statement":{{"RateBasedStatement":{{"Limit":100,"EvaluationWindowSec":60,"AggregateKeyType":"IP"}}}},"VisibilityConfig":{{"SampledRequestsEnabled":true,"CloudWatchMetricsEnabled":true,"MetricName":"{name}"}}}}"#
    );
    let rule: rampart_shapes::generated::wafv2::Rule =
        rampart_wire::json::from_wire(json.as_bytes()).ok_or_else(ServiceError::internal)?;
    rampart_waf::mitigation::insert_rule(tx, &web_acl, rule)?;
    attack.mitigations.push(format!("Shield Advanced automatic application layer mitigation ({action})"));
    attack.mitigation_rule = Some((web_acl, name));
    Ok(())
}

/// Ends the attacks with no report for `quiet_secs` (the server's setting; a minute by default),
/// taking their mitigation rules out.
pub fn sweep(tx: &mut Tx<'_>, now: OffsetDateTime, quiet_secs: i64) -> Result<(), ServiceError> {
    for (k, id) in tx.scan_prefix(ONGOING, None, usize::MAX >> 1, false)? {
        let resource = String::from_utf8_lossy(k.strip_prefix(ONGOING).unwrap_or_default()).into_owned();
        let Some(account) = owner(&resource).map(str::to_owned) else { continue };
        let id = String::from_utf8_lossy(&id).into_owned();
        let Some(mut attack) = records::read_tx::<Attack>(tx, &attack_key(&account, &id))? else {
            tx.delete(&k)?;
            continue;
        };
        if (now - attack.last).whole_seconds() < quiet_secs {
            continue;
        }
        attack.end = Some(attack.last);
        if let Some((web_acl, rule)) = attack.mitigation_rule.take() {
            rampart_waf::mitigation::remove_rule(tx, &web_acl, &rule)?;
        }
        records::write_tx(tx, &attack_key(&account, &id), &attack)?;
        tx.delete(&k)?;
    }
    Ok(())
}

fn all(ctx: &Ctx<'_>) -> Result<Vec<Attack>, ServiceError> {
    let mut attacks: Vec<Attack> = records::scan_records(ctx.db, &attacks_prefix(&ctx.principal.account_id))?;
    attacks.sort_by_key(|a| std::cmp::Reverse(a.start));
    Ok(attacks)
}

fn within(t: Option<OffsetDateTime>, range: Option<&shapes::TimeRange>) -> bool {
    let Some(r) = range else { return true };
    let Some(t) = t else { return r.to_exclusive.is_none() };
    r.from_inclusive.is_none_or(|f| t >= f) && r.to_exclusive.is_none_or(|e| t < e)
}

pub fn list_attacks(
    ctx: &Ctx<'_>,
    input: shapes::ListAttacksRequest,
) -> Result<shapes::ListAttacksResponse, ServiceError> {
    let summaries: Vec<shapes::AttackSummary> = all(ctx)?
        .into_iter()
        .filter(|a| input.resource_arns.as_ref().is_none_or(|r| r.contains(&a.resource_arn)))
        .filter(|a| within(Some(a.start), input.start_time.as_ref()))
        .filter(|a| input.end_time.is_none() || within(a.end, input.end_time.as_ref()))
        .map(|a| shapes::AttackSummary {
            attack_id: Some(a.id),
            resource_arn: Some(a.resource_arn),
            start_time: Some(a.start),
            end_time: a.end,
            attack_vectors: Some(vec![shapes::AttackVectorDescription { vector_type: "REQUEST_FLOOD".to_owned() }]),
        })
        .collect();
    let (page, next_token) = super::page(summaries, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListAttacksResponse { attack_summaries: Some(page), next_token })
}

/// The largest contributors of a count, most first.
fn top(counts: &BTreeMap<String, u64>) -> Vec<shapes::Contributor> {
    let mut sorted: Vec<(&String, &u64)> = counts.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    sorted
        .into_iter()
        .take(5)
        .map(|(k, n)| shapes::Contributor { name: Some(k.clone()), value: Some(i64::try_from(*n).unwrap_or(i64::MAX)) })
        .collect()
}

fn counter(name: &str, a: &Attack) -> shapes::SummarizedCounter {
    counter_of(name, (a.requests, a.peak), a.reports)
}

/// A counter's summary: its sum and largest report over the attack's reports.
fn counter_of(name: &str, (sum, max): (u64, u64), reports: u64) -> shapes::SummarizedCounter {
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let (sum, max, n) = (sum as f64, max as f64, reports.max(1));
    shapes::SummarizedCounter {
        name: Some(name.to_owned()),
        max: Some(max),
        #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        average: Some(sum / n as f64),
        sum: Some(sum),
        n: Some(i32::try_from(n).unwrap_or(i32::MAX)),
        unit: Some("Requests".to_owned()),
    }
}

pub fn describe_attack(
    ctx: &Ctx<'_>,
    input: shapes::DescribeAttackRequest,
) -> Result<shapes::DescribeAttackResponse, ServiceError> {
    // DescribeAttack's only client error: "the specified AttackId does not exist, or the
    // requester does not have the appropriate permissions to access the AttackId"
    // (https://docs.aws.amazon.com/waf/latest/DDOSAPIReference/API_DescribeAttack.html).
    let a: Attack =
        records::read(ctx.db, &attack_key(&ctx.principal.account_id, &input.attack_id))?.ok_or_else(|| {
            ServiceError::new(
                "AccessDeniedException",
                400,
                format!("The attack {} does not exist or you cannot access it.", input.attack_id),
            )
        })?;
    let total = i64::try_from(a.requests).unwrap_or(i64::MAX);
    let property = |identifier: &str, counts: &BTreeMap<String, u64>| shapes::AttackProperty {
        attack_layer: Some("APPLICATION".to_owned()),
        attack_property_identifier: Some(identifier.to_owned()),
        top_contributors: Some(top(counts)),
        unit: Some("REQUESTS".to_owned()),
        total: Some(total),
    };
    let sub_resources = top(&a.urls)
        .into_iter()
        .map(|c| shapes::SubResourceSummary {
            r#type: Some("URL".to_owned()),
            id: c.name,
            attack_vectors: Some(vec![shapes::SummarizedAttackVector {
                vector_type: "REQUEST_FLOOD".to_owned(),
                vector_counters: Some(vec![counter("RequestsBlocked", &a)]),
            }]),
            counters: Some(Vec::new()),
        })
        .collect();
    Ok(shapes::DescribeAttackResponse {
        attack: Some(shapes::AttackDetail {
            attack_id: Some(a.id.clone()),
            resource_arn: Some(a.resource_arn.clone()),
            sub_resources: Some(sub_resources),
            start_time: Some(a.start),
            end_time: a.end,
            attack_counters: Some(
                [
                    (a.requests > 0).then(|| counter("RequestsBlocked", &a)),
                    (a.connections_refused > 0).then(|| {
                        counter_of("ConnectionsRefused", (a.connections_refused, a.connections_refused), a.reports)
                    }),
                    (a.slow_bodies > 0)
                        .then(|| counter_of("SlowRequestsCut", (a.slow_bodies, a.slow_bodies), a.reports)),
                    // A surge: every request that arrived during it, its peak rate per second.
                    (a.surge > 0).then(|| counter_of("Requests", (a.surge, a.surge_rate), a.reports)),
                ]
                .into_iter()
                .flatten()
                .collect(),
            ),
            attack_properties: Some(vec![
                property("SOURCE_IP_ADDRESS", &a.sources),
                property("DESTINATION_URL", &a.urls),
            ]),
            mitigations: Some(
                a.mitigations.iter().map(|m| shapes::Mitigation { mitigation_name: Some(m.clone()) }).collect(),
            ),
        }),
    })
}

/// The past year's attacks: how many, and their peak request rate.
pub fn describe_attack_statistics(
    ctx: &Ctx<'_>,
    _input: shapes::DescribeAttackStatisticsRequest,
) -> Result<shapes::DescribeAttackStatisticsResponse, ServiceError> {
    let from = ctx.now - time::Duration::days(365);
    let attacks: Vec<Attack> = all(ctx)?.into_iter().filter(|a| a.start >= from).collect();
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let peak = attacks.iter().map(|a| a.peak).max().unwrap_or(0) as f64;
    let volume = (!attacks.is_empty()).then_some(shapes::AttackVolume {
        bits_per_second: None,
        packets_per_second: None,
        requests_per_second: Some(shapes::AttackVolumeStatistics { max: peak }),
    });
    Ok(shapes::DescribeAttackStatisticsResponse {
        time_range: shapes::TimeRange { from_inclusive: Some(from), to_exclusive: Some(ctx.now) },
        data_items: vec![shapes::AttackStatisticsDataItem {
            attack_volume: volume,
            attack_count: i64::try_from(attacks.len()).unwrap_or(i64::MAX),
        }],
    })
}
