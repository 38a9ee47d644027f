//! What a web ACL lets its owner see: logging configurations (Put/Get/Delete/List), the log
//! records AWS WAF writes for each request (made here, delivered by the server), with redacted
//! fields and logging filters, and sampled requests (GetSampledRequests) over the last three
//! hours, kept per rule metric and minute.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/logging.html> and
//! <https://docs.aws.amazon.com/waf/latest/APIReference/API_GetSampledRequests.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::wafv2 as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::engine::Verdict;
use super::engine::fields::Request;
use super::{Kind, invalid_parameter, nonexistent, wire};

/// `waflog/<web-acl-arn>`: a web ACL's logging configuration, in AWS's wire JSON.
pub fn logging_key(web_acl_arn: &str) -> Vec<u8> {
    format!("waflog/{web_acl_arn}").into_bytes()
}

const LOGGING: &[u8] = b"waflog/";

/// `wafsample/<web-acl-arn>/<metric>/<minute>`: the requests sampled in a minute.
fn sample_key(web_acl_arn: &str, metric: &str, minute: i64) -> Vec<u8> {
    format!("wafsample/{web_acl_arn}/{metric}/{minute:012}").into_bytes()
}

fn samples_prefix(web_acl_arn: &str, metric: &str) -> Vec<u8> {
    format!("wafsample/{web_acl_arn}/{metric}/").into_bytes()
}

/// At most this many requests are kept for a rule metric's minute; the rest are counted.
pub const SAMPLES_PER_MINUTE: usize = 100;

/// Sampled requests are kept for three hours.
const KEPT_SECS: i64 = 3 * 3600;

/// The caller's web ACL an ARN names.
fn web_acl(get: &records::Reader<'_>, account: &str, arn: &str) -> Result<super::Stored, ServiceError> {
    match super::owned(get, account, arn)? {
        (_, Kind::WebAcl, stored) => Ok(stored),
        _ => Err(nonexistent()),
    }
}

/// The bucket a destination ARN names: AWS WAF's S3 destinations are buckets whose names start
/// with `aws-waf-logs-`. Rampart serves no CloudWatch Logs or Firehose to deliver to.
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/logging-s3.html>.
pub fn destination_bucket(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:aws:s3:::").filter(|b| b.starts_with("aws-waf-logs-") && !b.contains('/'))
}

pub fn put_logging_configuration(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutLoggingConfigurationRequest,
) -> Result<shapes::PutLoggingConfigurationResponse, ServiceError> {
    let mut config = input.logging_configuration;
    web_acl(&records::tx_reader(tx), &ctx.principal.account_id, &config.resource_arn)?;
    let [destination] = config.log_destination_configs.as_slice() else {
        return Err(invalid_parameter(
            "LOG_DESTINATION",
            &config.log_destination_configs.join(","),
            "A web ACL logs to exactly one destination.",
        ));
    };
    if destination_bucket(destination).is_none() {
        let reason = if destination.starts_with("arn:aws:logs:") || destination.starts_with("arn:aws:firehose:") {
            "Rampart delivers WAF logs to S3 buckets named aws-waf-logs-*; it serves no CloudWatch Logs or Firehose."
        } else {
            "The destination must be an S3 bucket whose name starts with aws-waf-logs-."
        };
        return Err(invalid_parameter("LOG_DESTINATION", destination, reason));
    }
    // The bucket must be the web ACL's account's: Rampart delivers to no other account's bucket.
    let bucket = destination_bucket(destination).unwrap_or_default();
    if rampart_s3::bucket_owner_tx(tx, bucket)?.as_deref() != Some(ctx.principal.account_id.as_str()) {
        return Err(ServiceError::new(
            "WAFLogDestinationPermissionIssueException",
            400,
            format!(
                "The operation failed because you don't have the permissions that your logging configuration \
                 requires: bucket {bucket} does not exist or is not this account's."
            ),
        ));
    }
    for field in config.redacted_fields.iter().flatten() {
        let allowed = field.single_header.is_some()
            || field.uri_path.is_some()
            || field.query_string.is_some()
            || field.method.is_some();
        let others = field.single_query_argument.is_some()
            || field.all_query_arguments.is_some()
            || field.body.is_some()
            || field.json_body.is_some()
            || field.headers.is_some()
            || field.cookies.is_some()
            || field.header_order.is_some()
            || field.ja3_fingerprint.is_some()
            || field.ja4_fingerprint.is_some()
            || field.uri_fragment.is_some();
        if !allowed || others {
            return Err(invalid_parameter(
                "REDACTED_FIELD",
                "FieldToMatch",
                "Only SingleHeader, UriPath, QueryString and Method can be redacted.",
            ));
        }
    }
    config.log_type.get_or_insert_with(|| "WAF_LOGS".to_owned());
    config.log_scope.get_or_insert_with(|| "CUSTOMER".to_owned());
    config.managed_by_firewall_manager.get_or_insert(false);
    tx.put(&logging_key(&config.resource_arn), wire(config.clone()).as_bytes())?;
    Ok(shapes::PutLoggingConfigurationResponse { logging_configuration: Some(config) })
}

fn stored_logging(get: &records::Reader<'_>, arn: &str) -> Result<Option<shapes::LoggingConfiguration>, ServiceError> {
    Ok(get(&logging_key(arn))?.and_then(|b| rampart_wire::json::from_wire(&b)))
}

pub fn get_logging_configuration(
    ctx: &Ctx<'_>,
    input: shapes::GetLoggingConfigurationRequest,
) -> Result<shapes::GetLoggingConfigurationResponse, ServiceError> {
    let get = records::cached_reader(ctx.db);
    web_acl(&get, &ctx.principal.account_id, &input.resource_arn)?;
    let config = stored_logging(&get, &input.resource_arn)?.ok_or_else(nonexistent)?;
    Ok(shapes::GetLoggingConfigurationResponse { logging_configuration: Some(config) })
}

pub fn delete_logging_configuration(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteLoggingConfigurationRequest,
) -> Result<shapes::DeleteLoggingConfigurationResponse, ServiceError> {
    web_acl(&records::tx_reader(tx), &ctx.principal.account_id, &input.resource_arn)?;
    if !tx.delete(&logging_key(&input.resource_arn))? {
        return Err(nonexistent());
    }
    Ok(shapes::DeleteLoggingConfigurationResponse {})
}

pub fn list_logging_configurations(
    ctx: &Ctx<'_>,
    input: shapes::ListLoggingConfigurationsRequest,
) -> Result<shapes::ListLoggingConfigurationsResponse, ServiceError> {
    let place = super::Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let prefix =
        [LOGGING, format!("arn:aws:wafv2:{}:{}:{}/webacl/", place.region, place.account, place.scope).as_bytes()]
            .concat();
    let mut configs = Vec::new();
    for (_, v) in ctx.db.scan_prefix(&prefix, None, usize::MAX >> 1, false)? {
        if let Some(c) = rampart_wire::json::from_wire::<shapes::LoggingConfiguration>(&v) {
            configs.push(c);
        }
    }
    let (page, next) = super::page(configs, input.next_marker.as_deref(), input.limit)?;
    Ok(shapes::ListLoggingConfigurationsResponse { logging_configurations: Some(page), next_marker: next })
}

/// Requests of one rule metric's minute, as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Minute {
    /// Every request the rule decided in the minute.
    population: u64,
    /// Up to [`SAMPLES_PER_MINUTE`] of them, each a `SampledHTTPRequest` in AWS's wire JSON.
    samples: Vec<String>,
}

/// A request as GetSampledRequests shows it.
pub fn sample(
    request: &Request<'_>,
    verdict: &Verdict,
    (response_code, action): (Option<u16>, &str),
    at: OffsetDateTime,
) -> shapes::SampledHTTPRequest {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let uri = if request.query.is_empty() {
        text(request.path)
    } else {
        format!("{}?{}", text(request.path), text(request.query))
    };
    let inserted = match &verdict.decision {
        super::engine::Decision::Allow { insert_headers } if !insert_headers.is_empty() => Some(
            insert_headers
                .iter()
                .map(|(n, v)| shapes::HTTPHeader { name: Some(n.clone()), value: Some(v.clone()) })
                .collect(),
        ),
        _ => None,
    };
    shapes::SampledHTTPRequest {
        request: shapes::HTTPRequest {
            client_ip: Some(request.client_ip.to_string()),
            country: request.locate.and_then(|l| l.country(request.client_ip)),
            uri: Some(uri),
            method: Some(text(request.method)),
            http_version: Some("HTTP/1.1".to_owned()),
            headers: Some(
                request
                    .headers
                    .iter()
                    .map(|(n, v)| shapes::HTTPHeader { name: Some(text(n)), value: Some(text(v)) })
                    .collect(),
            ),
        },
        weight: 1,
        timestamp: Some(at),
        action: Some(action.to_owned()),
        rule_name_within_rule_group: verdict.terminating.group.as_ref().map(|(_, rule)| rule.clone()),
        request_headers_inserted: inserted,
        response_code_sent: response_code.map(i32::from),
        labels: (!verdict.labels.is_empty())
            .then(|| verdict.labels.iter().map(|l| shapes::Label { name: l.clone() }).collect()),
        captcha_response: token_check(verdict, crate::tokens::Kind::Captcha).map(|c| shapes::CaptchaResponse {
            response_code: c.response_code.map(i32::from),
            solve_timestamp: c.solve_timestamp.and_then(|t| i64::try_from(t).ok()),
            failure_reason: c.failure_reason.map(str::to_owned),
        }),
        challenge_response: token_check(verdict, crate::tokens::Kind::Challenge).map(|c| shapes::ChallengeResponse {
            response_code: c.response_code.map(i32::from),
            solve_timestamp: c.solve_timestamp.and_then(|t| i64::try_from(t).ok()),
            failure_reason: c.failure_reason.map(str::to_owned),
        }),
        overridden_action: None,
    }
}

/// Adds a minute's requests of a rule metric to what is kept: `population` decided, `samples`
/// of them (kept up to [`SAMPLES_PER_MINUTE`]); minutes older than three hours go.
pub fn record_samples(
    tx: &mut Tx<'_>,
    (web_acl_arn, metric, minute): (&str, &str, i64),
    population: u64,
    samples: Vec<shapes::SampledHTTPRequest>,
) -> Result<(), ServiceError> {
    let key = sample_key(web_acl_arn, metric, minute);
    let mut kept: Minute = records::read_tx(tx, &key)?.unwrap_or_default();
    kept.population += population;
    let room = SAMPLES_PER_MINUTE.saturating_sub(kept.samples.len());
    kept.samples.extend(samples.into_iter().take(room).map(wire));
    records::write_tx(tx, &key, &kept)?;
    let oldest = sample_key(web_acl_arn, metric, minute - KEPT_SECS / 60);
    for (k, _) in tx.scan_prefix(&samples_prefix(web_acl_arn, metric), None, usize::MAX >> 1, false)? {
        if k < oldest {
            tx.delete(&k)?;
        }
    }
    Ok(())
}

/// The requests a rule (or the web ACL's default action, by the web ACL's metric name) decided
/// in a time window within the last three hours: up to `MaxItems`, each weighted by how many
/// requests of its minute it stands for.
pub fn get_sampled_requests(
    ctx: &Ctx<'_>,
    input: shapes::GetSampledRequestsRequest,
) -> Result<shapes::GetSampledRequestsResponse, ServiceError> {
    super::Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    web_acl(&records::cached_reader(ctx.db), &ctx.principal.account_id, &input.web_acl_arn)?;
    if !(1..=500).contains(&input.max_items) {
        return Err(invalid_parameter("MAX_ITEMS", &input.max_items.to_string(), "MaxItems must be from 1 to 500."));
    }
    // A start earlier than three hours ago is taken as three hours ago, as AWS takes it.
    let earliest = ctx.now - time::Duration::seconds(KEPT_SECS);
    let start = input.time_window.start_time.max(earliest);
    let end = input.time_window.end_time.min(ctx.now);
    if end < start {
        return Err(invalid_parameter("TIME_WINDOW", "TimeWindow", "The time window's end is before its start."));
    }
    let (first, last) = (start.unix_timestamp().div_euclid(60), end.unix_timestamp().div_euclid(60));
    let prefix = samples_prefix(&input.web_acl_arn, &input.rule_metric_name);
    let from = sample_key(&input.web_acl_arn, &input.rule_metric_name, first);
    let mut population = 0u64;
    let mut found = Vec::new();
    for (k, v) in ctx.db.scan_prefix(&prefix, None, usize::MAX >> 1, false)? {
        let to = sample_key(&input.web_acl_arn, &input.rule_metric_name, last);
        if k < from || k > to {
            continue;
        }
        let minute: Minute = records::decode(&k, &v)?;
        let weight = i64::try_from(minute.population / (minute.samples.len().max(1) as u64)).unwrap_or(i64::MAX).max(1);
        population += minute.population;
        for s in &minute.samples {
            let mut sampled: shapes::SampledHTTPRequest =
                rampart_wire::json::from_wire(s.as_bytes()).ok_or_else(super::corrupt)?;
            if sampled.timestamp.is_some_and(|t| t >= start && t <= end) {
                sampled.weight = weight;
                found.push(sampled);
            }
        }
    }
    // More than asked for: an even spread of them.
    let max = usize::try_from(input.max_items).unwrap_or(500);
    if found.len() > max {
        let step = found.len() as f64 / max as f64;
        found = (0..max).filter_map(|i| found.get((i as f64 * step) as usize).cloned()).collect();
    }
    Ok(shapes::GetSampledRequestsResponse {
        sampled_requests: Some(found),
        population_size: Some(i64::try_from(population).unwrap_or(i64::MAX)),
        time_window: Some(shapes::TimeWindow { start_time: start, end_time: end }),
    })
}

/// Whether a logging configuration's filter keeps a request's record: the first filter whose
/// conditions it meets (all of them, or any) decides; else the default behavior.
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/logging-management-configure.html>.
pub fn kept(config: &shapes::LoggingConfiguration, verdict: &Verdict) -> bool {
    let Some(filter) = &config.logging_filter else { return true };
    let counted = !verdict.counted.is_empty();
    let meets = |c: &shapes::Condition| {
        if let Some(a) = &c.action_condition {
            return a.action == verdict.terminating.action || (a.action == "COUNT" && counted);
        }
        c.label_name_condition.as_ref().is_some_and(|l| verdict.labels.contains(&l.label_name))
    };
    for f in &filter.filters {
        let met =
            if f.requirement == "MEETS_ALL" { f.conditions.iter().all(meets) } else { f.conditions.iter().any(meets) };
        if met {
            return f.behavior == "KEEP";
        }
    }
    filter.default_behavior == "KEEP"
}

/// A request's record in AWS WAF's log format (one JSON object per line), with the configured
/// fields redacted.
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html>.
pub fn log_record(
    config: &shapes::LoggingConfiguration,
    (web_acl_arn, balancer_arn): (&str, &str),
    request: &Request<'_>,
    verdict: &Verdict,
    at: OffsetDateTime,
) -> String {
    use serde_json::json;
    let redacted = config.redacted_fields.iter().flatten();
    let mut redact_uri = false;
    let mut redact_query = false;
    let mut redact_method = false;
    let mut redact_headers: Vec<String> = Vec::new();
    for f in redacted {
        redact_uri |= f.uri_path.is_some();
        redact_query |= f.query_string.is_some();
        redact_method |= f.method.is_some();
        if let Some(h) = &f.single_header {
            redact_headers.push(h.name.to_ascii_lowercase());
        }
    }
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let headers: Vec<serde_json::Value> = request
        .headers
        .iter()
        .map(|(n, v)| {
            let name = text(n);
            let value =
                if redact_headers.contains(&name.to_ascii_lowercase()) { "REDACTED".to_owned() } else { text(v) };
            json!({ "name": name, "value": value })
        })
        .collect();
    let (rule_groups, terminating_type) = match &verdict.terminating.group {
        Some((group, rule)) => (
            vec![json!({
                "ruleGroupId": group,
                "terminatingRule": { "ruleId": rule, "action": verdict.terminating.action, "ruleMatchDetails": null },
                "nonTerminatingMatchingRules": [],
                "excludedRules": null,
                "customerConfig": null,
            })],
            verdict.terminating.rule_type,
        ),
        None => (Vec::new(), verdict.terminating.rule_type),
    };
    let inserted = match &verdict.decision {
        super::engine::Decision::Allow { insert_headers } if !insert_headers.is_empty() => {
            json!(insert_headers.iter().map(|(n, v)| json!({ "name": n, "value": v })).collect::<Vec<_>>())
        }
        _ => serde_json::Value::Null,
    };
    let response_code = match &verdict.decision {
        super::engine::Decision::Block(r) | super::engine::Decision::Interstitial(_, r)
            if r.status != 403 || !r.body.is_empty() =>
        {
            json!(r.status)
        }
        _ => serde_json::Value::Null,
    };
    // An ALB's source id: its account and the tail of its ARN (`app/NAME/ID`).
    let account = web_acl_arn.split(':').nth(4).unwrap_or_default();
    let source =
        balancer_arn.split_once(":loadbalancer/").map(|(_, tail)| format!("{account}-{tail}")).unwrap_or_default();
    let record = json!({
        "timestamp": at.unix_timestamp_nanos() / 1_000_000,
        "formatVersion": 1,
        "webaclId": web_acl_arn,
        "terminatingRuleId": verdict.terminating.rule_id,
        "terminatingRuleType": terminating_type,
        "action": verdict.terminating.action,
        "terminatingRuleMatchDetails": [],
        "httpSourceName": "ALB",
        "httpSourceId": source,
        "ruleGroupList": rule_groups,
        "rateBasedRuleList": [],
        "nonTerminatingMatchingRules": verdict.counted.iter().map(|r| json!({ "ruleId": r, "action": "COUNT", "ruleMatchDetails": [] })).collect::<Vec<_>>(),
        "requestHeadersInserted": inserted,
        "responseCodeSent": response_code,
        "httpRequest": {
            "clientIp": request.client_ip.to_string(),
            "country": request.locate.and_then(|l| l.country(request.client_ip)).unwrap_or_else(|| "-".to_owned()),
            "headers": headers,
            "uri": if redact_uri { "REDACTED".to_owned() } else { text(request.path) },
            "args": if redact_query { "REDACTED".to_owned() } else { text(request.query) },
            "httpVersion": "HTTP/1.1",
            "httpMethod": if redact_method { "REDACTED".to_owned() } else { text(request.method) },
            "requestId": null,
        },
        "labels": verdict.labels.iter().map(|l| json!({ "name": l })).collect::<Vec<_>>(),
    });
    let mut record = record;
    // How a CAPTCHA or Challenge rule found the token, as AWS WAF logs it.
    if let (Some(c), Some(fields)) = (&verdict.token_check, record.as_object_mut()) {
        let name = match c.kind {
            crate::tokens::Kind::Captcha => "captchaResponse",
            crate::tokens::Kind::Challenge => "challengeResponse",
        };
        let mut response = serde_json::Map::new();
        if let Some(code) = c.response_code {
            response.insert("responseCode".into(), json!(code));
        }
        if let Some(at) = c.solve_timestamp {
            response.insert("solveTimestamp".into(), json!(at));
        }
        if let Some(reason) = c.failure_reason {
            response.insert("failureReason".into(), json!(reason));
        }
        fields.insert(name.into(), serde_json::Value::Object(response));
    }
    // The connection's TLS fingerprints, where it had TLS, as AWS WAF logs them.
    // See <https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html>.
    if let (Some(t), Some(fields)) = (request.tls, record.as_object_mut()) {
        fields.insert("ja3Fingerprint".into(), json!(t.ja3));
        fields.insert("ja4Fingerprint".into(), json!(t.ja4));
    }
    record.to_string()
}

/// The key of a delivered log file, as AWS WAF names it in a bucket.
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/logging-s3.html>.
pub fn log_file_key(web_acl_arn: &str, at: OffsetDateTime, hash: &str) -> String {
    let parts: Vec<&str> = web_acl_arn.split(':').collect();
    let (region, account) = (parts.get(3).copied().unwrap_or_default(), parts.get(4).copied().unwrap_or_default());
    let name = web_acl_arn.rsplit('/').nth(1).unwrap_or_default();
    let (y, m, d, h, min) = (at.year(), u8::from(at.month()), at.day(), at.hour(), at.minute());
    let (y, m, d, h, min) = (y, m, d, h, min - min % 5);
    format!(
        "AWSLogs/{account}/WAFLogs/{region}/{name}/{y:04}/{m:02}/{d:02}/{h:02}/{min:02}/{account}_waflogs_{region}_{name}_{y:04}{m:02}{d:02}T{h:02}{min:02}Z_{hash}.log.gz"
    )
}

/// `wafrate/<web-acl-arn>/<rule>`: when each client was last held by a rate-based rule.
fn limited_key(web_acl_arn: &str, rule: &str) -> Vec<u8> {
    format!("wafrate/{web_acl_arn}/{rule}").into_bytes()
}

/// The clients a rate-based rule holds, by address, with when it last held each (Unix seconds).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Limited {
    clients: std::collections::BTreeMap<String, i64>,
}

/// Notes the clients a web ACL's rate-based rule held (the proxies report them); those not
/// held for ten minutes, the longest evaluation window, are forgotten.
pub fn record_limited(
    tx: &mut Tx<'_>,
    (web_acl_arn, rule): (&str, &str),
    clients: Vec<(String, i64)>,
    now: i64,
) -> Result<(), ServiceError> {
    let key = limited_key(web_acl_arn, rule);
    let mut kept: Limited = records::read_tx(tx, &key)?.unwrap_or_default();
    for (client, at) in clients {
        let last = kept.clients.entry(client).or_insert(at);
        *last = (*last).max(at);
    }
    kept.clients.retain(|_, at| now - *at <= 600);
    records::write_tx(tx, &key, &kept)
}

/// How the clients a rate-based rule inside a rule group holds are kept: under the web ACL's
/// rule that references the group, and the group's rule (rule names have no `/`).
pub fn group_rule(rule: &str, group_rule: &str) -> String {
    format!("{rule}/{group_rule}")
}

/// The addresses a rate-based rule of a web ACL (or of a rule group it references, by
/// `RuleGroupRuleName`) holds now: those it held within its evaluation window, by IP version.
/// See <https://docs.aws.amazon.com/waf/latest/APIReference/API_GetRateBasedStatementManagedKeys.html>.
pub fn get_rate_based_statement_managed_keys(
    ctx: &Ctx<'_>,
    input: shapes::GetRateBasedStatementManagedKeysRequest,
) -> Result<shapes::GetRateBasedStatementManagedKeysResponse, ServiceError> {
    let place = super::Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let get = records::cached_reader(ctx.db);
    let stored = super::named(&get, &place, Kind::WebAcl, &input.web_acl_name, &input.web_acl_id)?;
    let acl: shapes::WebACL = stored.body()?;
    let rule = acl.rules.iter().flatten().find(|r| r.name == input.rule_name).ok_or_else(nonexistent)?;
    // A rate-based rule of a rule group the web ACL's rule references, or the rule itself.
    let (rate, held_as) = match &input.rule_group_rule_name {
        Some(inner) => {
            let Some(reference) = &rule.statement.rule_group_reference_statement else {
                return Err(invalid_parameter("RULE", &input.rule_name, "The rule doesn't reference a rule group."));
            };
            let (_, kind, group) = super::owned(&get, &ctx.principal.account_id, &reference.arn)?;
            if kind != Kind::RuleGroup {
                return Err(nonexistent());
            }
            let group: shapes::RuleGroup = group.body()?;
            let found = group.rules.into_iter().flatten().find(|r| r.name == *inner).ok_or_else(nonexistent)?;
            (found.statement.rate_based_statement.map(|r| *r), group_rule(&input.rule_name, inner))
        }
        None => (rule.statement.rate_based_statement.clone().map(|r| *r), input.rule_name.clone()),
    };
    let Some(rate) = rate else {
        return Err(invalid_parameter("RULE", &input.rule_name, "The rule isn't a rate-based rule."));
    };
    if !matches!(rate.aggregate_key_type.as_str(), "IP" | "FORWARDED_IP") {
        return Err(invalid_parameter(
            "RULE",
            &input.rule_name,
            "Managed keys are reported for rate-based rules that aggregate by IP or forwarded IP.",
        ));
    }
    let window = rate.evaluation_window_sec.unwrap_or(300);
    let now = ctx.now.unix_timestamp();
    let held: Limited = records::read_with(&get, &limited_key(&stored.arn, &held_as))?.unwrap_or_default();
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for (client, at) in held.clients {
        if now - at > window {
            continue;
        }
        match client.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(_)) => v4.push(format!("{client}/32")),
            Ok(std::net::IpAddr::V6(_)) => v6.push(format!("{client}/128")),
            Err(_) => {}
        }
    }
    let set = |version: &str, addresses: Vec<String>| shapes::RateBasedStatementManagedKeysIPSet {
        ip_address_version: Some(version.to_owned()),
        addresses: Some(addresses),
    };
    Ok(shapes::GetRateBasedStatementManagedKeysResponse {
        managed_keys_ipv4: Some(set("IPV4", v4)),
        managed_keys_ipv6: Some(set("IPV6", v6)),
    })
}

/// The verdict's token check, if it was of `kind`.
fn token_check(verdict: &super::engine::Verdict, kind: crate::tokens::Kind) -> Option<&crate::tokens::Checked> {
    verdict.token_check.as_ref().filter(|c| c.kind == kind)
}
