//! Listener rules: conditions on a request (host, path, method, header, query string, source
//! address) and the actions taken when they hold, tried in priority order before the listener's
//! default actions. Each listener's rules live in its record, so the proxy serving it sees a
//! change with the listener itself.
//! See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-rules.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::elbv2 as shapes;
use rampart_store::Tx;

use super::{Kind, Record, StoredRule, error, validation};

/// A load balancer may have 100 rules besides its listeners' default rules.
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html>.
const MAX_RULES: usize = 100;

/// A rule may make five match evaluations (values across its conditions).
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html>.
const MAX_VALUES: usize = 5;

fn rule_not_found() -> ServiceError {
    error("RuleNotFound", "One or more rules not found")
}

/// A rule's ARN: its listener's, as a `listener-rule`, with the rule's id.
fn rule_arn(listener_arn: &str, id: &str) -> String {
    format!("{}/{id}", listener_arn.replacen(":listener/", ":listener-rule/", 1))
}

/// The listener a rule ARN belongs to.
fn listener_arn_of(rule_arn: &str) -> Option<String> {
    let (listener, _) = rule_arn.rsplit_once('/')?;
    Some(listener.replacen(":listener-rule/", ":listener/", 1))
}

/// The default rule's ARN: fixed for the listener (its id drawn from the listener's ARN).
fn default_arn(listener_arn: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, listener_arn.as_bytes());
    let id = data_encoding::HEXLOWER.encode(digest.as_ref().get(..8).unwrap_or_default());
    rule_arn(listener_arn, &id)
}

/// The listener record a rule ARN names, if the caller's.
fn listener_of(get: &records::Reader<'_>, account: &str, arn: &str) -> Result<Record, ServiceError> {
    let located = super::locate(arn).filter(|l| l.kind == Kind::Rule && l.account == account);
    let listener = listener_arn_of(arn).filter(|_| located.is_some()).ok_or_else(rule_not_found)?;
    super::find(get, account, &listener, Kind::Listener)?.ok_or_else(rule_not_found)
}

/// The listener record holding the rule an ARN names (a default rule has no stored entry and
/// takes no tags).
pub(crate) fn rule_record(get: &records::Reader<'_>, account: &str, arn: &str) -> Result<Record, ServiceError> {
    let listener = listener_of(get, account, arn)?;
    if listener.rules.iter().any(|r| r.arn == arn) { Ok(listener) } else { Err(rule_not_found()) }
}

/// The listener's default rule, as DescribeRules shows it.
fn default_rule(listener: &Record) -> Result<shapes::Rule, ServiceError> {
    let body: shapes::Listener = listener.body()?;
    Ok(shapes::Rule {
        rule_arn: Some(default_arn(&listener.arn)),
        priority: Some("default".to_owned()),
        conditions: Some(Vec::new()),
        actions: body.default_actions,
        is_default: Some(true),
        transforms: None,
    })
}

/// Checks a rule's conditions as ELB does, and writes them as it answers them: each kind's
/// values in its own `…Config` (and, for host and path, in `Values` too).
fn check_conditions(conditions: Vec<shapes::RuleCondition>) -> Result<Vec<shapes::RuleCondition>, ServiceError> {
    if conditions.is_empty() {
        return Err(validation("A rule must have at least one condition"));
    }
    let mut total = 0usize;
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(conditions.len());
    for mut c in conditions {
        let field = c.field.clone().ok_or_else(|| validation("A condition field must be specified"))?;
        let regex = [
            c.regex_values.as_ref(),
            c.host_header_config.as_ref().and_then(|h| h.regex_values.as_ref()),
            c.path_pattern_config.as_ref().and_then(|h| h.regex_values.as_ref()),
            c.http_header_config.as_ref().and_then(|h| h.regex_values.as_ref()),
        ];
        if regex.iter().any(Option::is_some) {
            return Err(validation("Regular expression values in rule conditions are not served by Rampart"));
        }
        // Host, method, path and source address at most once; headers and query strings repeat.
        if matches!(field.as_str(), "host-header" | "path-pattern" | "http-request-method" | "source-ip") {
            if seen.contains(&field) {
                return Err(validation(format!("A rule can have only one '{field}' condition")));
            }
            seen.push(field.clone());
        }
        let legacy = c.values.take();
        let pick = |config: Option<Vec<String>>, legacy: Option<Vec<String>>| -> Result<Vec<String>, ServiceError> {
            match (config, legacy) {
                (Some(_), Some(_)) => Err(validation(format!(
                    "A '{field}' condition cannot have both 'Values' and a condition configuration"
                ))),
                (Some(v), None) | (None, Some(v)) if !v.is_empty() => Ok(v),
                _ => Err(validation(format!("A '{field}' condition must have at least one value"))),
            }
        };
        let long = |v: &[String], max: usize| v.iter().any(|v| v.is_empty() || v.chars().count() > max);
        match field.as_str() {
            "host-header" => {
                let v = pick(c.host_header_config.take().and_then(|h| h.values), legacy)?;
                if long(&v, 128) {
                    return Err(validation("A host header value has 1 to 128 characters"));
                }
                total += v.len();
                c.values = Some(v.clone());
                c.host_header_config = Some(shapes::HostHeaderConditionConfig { values: Some(v), regex_values: None });
            }
            "path-pattern" => {
                let v = pick(c.path_pattern_config.take().and_then(|h| h.values), legacy)?;
                if long(&v, 128) {
                    return Err(validation("A path pattern has 1 to 128 characters"));
                }
                total += v.len();
                c.values = Some(v.clone());
                c.path_pattern_config =
                    Some(shapes::PathPatternConditionConfig { values: Some(v), regex_values: None });
            }
            "http-request-method" => {
                let v = pick(c.http_request_method_config.take().and_then(|h| h.values), legacy)?;
                let valid = |m: &String| {
                    (1..=40).contains(&m.len()) && m.bytes().all(|b| b.is_ascii_uppercase() || b == b'_' || b == b'-')
                };
                if !v.iter().all(valid) {
                    return Err(validation(
                        "An HTTP request method is 1 to 40 characters of A-Z, hyphen and underscore",
                    ));
                }
                total += v.len();
                c.http_request_method_config = Some(shapes::HttpRequestMethodConditionConfig { values: Some(v) });
            }
            "source-ip" => {
                let v = pick(c.source_ip_config.take().and_then(|h| h.values), legacy)?;
                if let Some(bad) = v.iter().find(|v| v.parse::<ipnet::IpNet>().is_err()) {
                    return Err(validation(format!("'{bad}' is not a valid CIDR block")));
                }
                total += v.len();
                c.source_ip_config = Some(shapes::SourceIpConditionConfig { values: Some(v) });
            }
            "http-header" => {
                if legacy.is_some() {
                    return Err(validation("An 'http-header' condition takes its values in 'HttpHeaderConfig'"));
                }
                let h = c.http_header_config.take().unwrap_or_default();
                let name = h
                    .http_header_name
                    .filter(|n| (1..=40).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_graphic() && b != b':'));
                let Some(name) = name else { return Err(validation("An HTTP header name has 1 to 40 characters")) };
                let v = h
                    .values
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| validation("An 'http-header' condition must have at least one value"))?;
                if long(&v, 128) {
                    return Err(validation("An HTTP header value has 1 to 128 characters"));
                }
                total += v.len();
                c.http_header_config = Some(shapes::HttpHeaderConditionConfig {
                    http_header_name: Some(name),
                    values: Some(v),
                    regex_values: None,
                });
            }
            "query-string" => {
                if legacy.is_some() {
                    return Err(validation("A 'query-string' condition takes its values in 'QueryStringConfig'"));
                }
                let pairs = c.query_string_config.as_ref().and_then(|q| q.values.clone()).unwrap_or_default();
                if pairs.is_empty() || pairs.iter().any(|p| p.value.as_deref().is_none_or(str::is_empty)) {
                    return Err(validation(
                        "A 'query-string' condition needs at least one key/value pair with a value",
                    ));
                }
                total += pairs.len();
            }
            other => {
                return Err(validation(format!(
                    "Condition field '{other}' must be one of [http-header, http-request-method, host-header, \
                     path-pattern, query-string, source-ip]"
                )));
            }
        }
        out.push(c);
    }
    if total > MAX_VALUES {
        return Err(error(
            "TooManyConditionValues",
            format!("A rule can have at most {MAX_VALUES} condition values; this one has {total}"),
        ));
    }
    Ok(out)
}

/// A rule's priority as a number (`None` for the default rule's `default`).
fn priority_of(rule: &shapes::Rule) -> Option<i32> {
    rule.priority.as_deref()?.parse().ok()
}

fn priority_in_use(priority: i32) -> ServiceError {
    error("PriorityInUse", format!("Priority '{priority}' is currently in use"))
}

/// The rules of a listener as DescribeRules lists them: by priority, the default rule last.
fn listed(listener: &Record) -> Result<Vec<shapes::Rule>, ServiceError> {
    let mut rules = listener.rules.iter().map(StoredRule::body).collect::<Result<Vec<_>, _>>()?;
    rules.sort_by_key(|r| priority_of(r).unwrap_or(i32::MAX));
    rules.push(default_rule(listener)?);
    Ok(rules)
}

/// Every listener of the load balancer `listener` belongs to, for its rule count.
fn rules_on_balancer(tx: &Tx<'_>, listener: &Record) -> Result<usize, ServiceError> {
    let lb = listener.body::<shapes::Listener>()?.load_balancer_arn.unwrap_or_default();
    let prefix = super::listeners_prefix(&lb).ok_or_else(ServiceError::internal)?;
    Ok(super::scan_tx(tx, &prefix)?.iter().map(|l| l.rules.len()).sum())
}

pub fn create_rule(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateRuleInput,
) -> Result<shapes::CreateRuleOutput, ServiceError> {
    let account = &ctx.principal.account_id;
    let mut listener = super::listeners::listener(&records::tx_reader(tx), account, &input.listener_arn)?;
    if input.transforms.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(validation("Rule transforms (host header and URL rewrites) are not served by Rampart"));
    }
    let conditions = check_conditions(input.conditions)?;
    let actions = super::listeners::actions(&records::tx_reader(tx), account, input.actions)?;
    let taken = listener.rules.iter().filter_map(|r| r.body().ok()).any(|r| priority_of(&r) == Some(input.priority));
    if taken {
        return Err(priority_in_use(input.priority));
    }
    if rules_on_balancer(tx, &listener)? >= MAX_RULES {
        return Err(error("TooManyRules", "You've reached the limit on the number of rules per load balancer"));
    }
    let arn = rule_arn(&listener.arn, &super::new_id()?);
    let rule = shapes::Rule {
        rule_arn: Some(arn.clone()),
        priority: Some(input.priority.to_string()),
        conditions: Some(conditions),
        actions: Some(actions),
        is_default: Some(false),
        transforms: None,
    };
    let mut tags = Vec::new();
    super::merge_tags(&mut tags, input.tags.unwrap_or_default())?;
    listener.rules.push(StoredRule { arn, body: rampart_wire::json::to_wire(rule.clone()), tags });
    super::save(tx, &listener)?;
    Ok(shapes::CreateRuleOutput { rules: Some(vec![rule]) })
}

pub fn describe_rules(
    ctx: &Ctx<'_>,
    input: shapes::DescribeRulesInput,
) -> Result<shapes::DescribeRulesOutput, ServiceError> {
    let account = &ctx.principal.account_id;
    let get = records::cached_reader(ctx.db);
    let rules = match (&input.listener_arn, &input.rule_arns) {
        (Some(_), Some(_)) => return Err(validation("Listener ARN and rule ARNs cannot be specified together")),
        (None, None) => return Err(validation("You must specify either listener ARN or rule ARNs")),
        (Some(listener), None) => listed(&super::listeners::listener(&get, account, listener)?)?,
        (None, Some(arns)) => {
            let mut out = Vec::new();
            for arn in arns {
                let listener = listener_of(&get, account, arn)?;
                let found = listed(&listener)?.into_iter().find(|r| r.rule_arn.as_deref() == Some(arn.as_str()));
                out.push(found.ok_or_else(rule_not_found)?);
            }
            out
        }
    };
    let (page, next) = super::page(rules, input.marker.as_deref(), input.page_size)?;
    Ok(shapes::DescribeRulesOutput { rules: Some(page), next_marker: next })
}

pub fn modify_rule(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::ModifyRuleInput,
) -> Result<shapes::ModifyRuleOutput, ServiceError> {
    let account = &ctx.principal.account_id;
    let mut listener = listener_of(&records::tx_reader(tx), account, &input.rule_arn)?;
    if input.transforms.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(validation("Rule transforms (host header and URL rewrites) are not served by Rampart"));
    }
    let actions = match input.actions {
        Some(a) => Some(super::listeners::actions(&records::tx_reader(tx), account, a)?),
        None => None,
    };
    // The default rule is the listener's default actions; it takes no conditions.
    if input.rule_arn == default_arn(&listener.arn) {
        if input.conditions.is_some() {
            return Err(error("OperationNotPermitted", "The default rule cannot have conditions"));
        }
        let mut body: shapes::Listener = listener.body()?;
        if let Some(a) = actions {
            body.default_actions = Some(a);
        }
        listener.set_body(body);
        super::save(tx, &listener)?;
        return Ok(shapes::ModifyRuleOutput { rules: Some(vec![default_rule(&listener)?]) });
    }
    let conditions = input.conditions.map(check_conditions).transpose()?;
    let stored = listener.rules.iter_mut().find(|r| r.arn == input.rule_arn).ok_or_else(rule_not_found)?;
    let mut rule = stored.body()?;
    if let Some(c) = conditions {
        rule.conditions = Some(c);
    }
    if let Some(a) = actions {
        rule.actions = Some(a);
    }
    stored.set_body(rule.clone());
    super::save(tx, &listener)?;
    Ok(shapes::ModifyRuleOutput { rules: Some(vec![rule]) })
}

pub fn delete_rule(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteRuleInput,
) -> Result<shapes::DeleteRuleOutput, ServiceError> {
    let mut listener = listener_of(&records::tx_reader(tx), &ctx.principal.account_id, &input.rule_arn)?;
    if input.rule_arn == default_arn(&listener.arn) {
        return Err(error("OperationNotPermitted", "Default rule cannot be deleted"));
    }
    let before = listener.rules.len();
    listener.rules.retain(|r| r.arn != input.rule_arn);
    if listener.rules.len() == before {
        return Err(rule_not_found());
    }
    super::save(tx, &listener)?;
    Ok(shapes::DeleteRuleOutput {})
}

/// Gives rules new priorities, all at once: a priority may pass from one rule to another in the
/// same request.
pub fn set_rule_priorities(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::SetRulePrioritiesInput,
) -> Result<shapes::SetRulePrioritiesOutput, ServiceError> {
    let account = &ctx.principal.account_id;
    let mut changed: Vec<Record> = Vec::new();
    let mut out = Vec::new();
    for pair in &input.rule_priorities {
        let (Some(arn), Some(priority)) = (pair.rule_arn.as_deref(), pair.priority) else {
            return Err(validation("Each rule priority pair names a rule and a priority"));
        };
        if !(1..=50_000).contains(&priority) {
            return Err(validation(format!("Priority '{priority}' must be between 1 and 50000")));
        }
        let listener_arn = listener_arn_of(arn).ok_or_else(rule_not_found)?;
        let index = match changed.iter().position(|l| l.arn == listener_arn) {
            Some(i) => i,
            None => {
                changed.push(listener_of(&records::tx_reader(tx), account, arn)?);
                changed.len() - 1
            }
        };
        let Some(listener) = changed.get_mut(index) else { return Err(ServiceError::internal()) };
        if arn == default_arn(&listener.arn) {
            return Err(error("OperationNotPermitted", "The default rule's priority cannot be changed"));
        }
        let stored = listener.rules.iter_mut().find(|r| r.arn == arn).ok_or_else(rule_not_found)?;
        let mut rule = stored.body()?;
        rule.priority = Some(priority.to_string());
        stored.set_body(rule.clone());
        out.push(rule);
    }
    for listener in &changed {
        let mut priorities: Vec<String> = listener.rules.iter().filter_map(|r| r.body().ok()?.priority).collect();
        priorities.sort();
        if let Some(w) = priorities.windows(2).find(|w| w.first() == w.get(1)) {
            let p = w.first().and_then(|p| p.parse().ok()).unwrap_or_default();
            return Err(priority_in_use(p));
        }
        super::save(tx, listener)?;
    }
    Ok(shapes::SetRulePrioritiesOutput { rules: Some(out) })
}

/// The rules of a listener record the proxy tries, by priority: each rule's conditions and
/// route. A rule whose conditions or actions Rampart cannot serve is left out.
pub fn rules_of(listener: &Record) -> Vec<(Vec<super::routing::Condition>, super::routing::Route)> {
    let mut rules: Vec<(i32, Vec<super::routing::Condition>, super::routing::Route)> = listener
        .rules
        .iter()
        .filter_map(|r| {
            let rule = r.body().ok()?;
            let priority = priority_of(&rule)?;
            let conditions = super::routing::conditions(&rule)?;
            let route = super::routing::route_of(rule.actions.as_deref().unwrap_or_default())?;
            Some((priority, conditions, route))
        })
        .collect();
    rules.sort_by_key(|(p, _, _)| *p);
    rules.into_iter().map(|(_, c, r)| (c, r)).collect()
}

/// Every target group a listener forwards to, by its default actions or any rule.
pub fn forwarded_groups(listener: &Record) -> Result<Vec<String>, ServiceError> {
    let body: shapes::Listener = listener.body()?;
    let mut out: Vec<String> = super::routing::forwards_to(&body).collect();
    for r in &listener.rules {
        let rule = r.body()?;
        for arn in super::routing::forwards_in(rule.actions.as_deref().unwrap_or_default()) {
            if !out.contains(&arn) {
                out.push(arn);
            }
        }
    }
    Ok(out)
}
