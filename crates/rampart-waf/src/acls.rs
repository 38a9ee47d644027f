//! Web ACLs and rule groups: prioritized rules over statements, checked when written as AWS
//! checks them (one statement type per statement, actions that fit the rule, references that
//! exist, capacity within its limit), and CheckCapacity.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/web-acl.html> and
//! <https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-groups.html>.

use std::collections::{BTreeMap, HashSet};

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::wafv2 as shapes;
use rampart_store::Tx;

use super::{
    Kind, Place, Stored, Summary, all_tx, capacity, change, delete, insert, invalid_parameter, limits_exceeded, named,
    nonexistent, page, wire,
};

const EXACTLY_ONE: &str = "You have used none or multiple values for a field that requires exactly one value.";

fn one(count: usize, field: &str, parameter: &str) -> Result<(), ServiceError> {
    if count == 1 { Ok(()) } else { Err(invalid_parameter(field, parameter, EXACTLY_ONE)) }
}

/// The statement types a statement sets.
fn kinds(s: &shapes::Statement) -> usize {
    [
        s.byte_match_statement.is_some(),
        s.sqli_match_statement.is_some(),
        s.xss_match_statement.is_some(),
        s.size_constraint_statement.is_some(),
        s.geo_match_statement.is_some(),
        s.rule_group_reference_statement.is_some(),
        s.ip_set_reference_statement.is_some(),
        s.regex_pattern_set_reference_statement.is_some(),
        s.rate_based_statement.is_some(),
        s.and_statement.is_some(),
        s.or_statement.is_some(),
        s.not_statement.is_some(),
        s.managed_rule_group_statement.is_some(),
        s.label_match_statement.is_some(),
        s.regex_match_statement.is_some(),
        s.asn_match_statement.is_some(),
    ]
    .into_iter()
    .filter(|b| *b)
    .count()
}

fn check_field(f: &shapes::FieldToMatch) -> Result<(), ServiceError> {
    let set = [
        f.single_header.is_some(),
        f.single_query_argument.is_some(),
        f.all_query_arguments.is_some(),
        f.uri_path.is_some(),
        f.query_string.is_some(),
        f.body.is_some(),
        f.method.is_some(),
        f.json_body.is_some(),
        f.headers.is_some(),
        f.cookies.is_some(),
        f.header_order.is_some(),
        f.ja3_fingerprint.is_some(),
        f.ja4_fingerprint.is_some(),
        f.uri_fragment.is_some(),
    ];
    one(set.into_iter().filter(|b| *b).count(), "FIELD_TO_MATCH", "FieldToMatch")
}

fn check_transformations(t: &[shapes::TextTransformation]) -> Result<(), ServiceError> {
    let mut seen = HashSet::new();
    for x in t {
        if super::engine::transform::Transform::parse(&x.r#type).is_none() {
            return Err(invalid_parameter("TEXT_TRANSFORMATION", &x.r#type, "The text transformation is not valid."));
        }
        if !seen.insert(x.priority) {
            return Err(invalid_parameter(
                "TEXT_TRANSFORMATION",
                &x.priority.to_string(),
                "Text transformations must have unique priorities.",
            ));
        }
    }
    Ok(())
}

/// What a statement may reference, and where it sits.
struct Checker<'a, 'b> {
    get: &'a records::Reader<'b>,
    place: &'a Place,
    /// Inside a rule group (which cannot reference rule groups).
    in_group: bool,
}

impl Checker<'_, '_> {
    fn exists(&self, arn: &str, kind: Kind) -> Result<(), ServiceError> {
        let Some((place, k, name, id)) = super::parse_arn(arn) else { return Err(nonexistent()) };
        if k != kind || place.region != self.place.region || place.scope != self.place.scope {
            return Err(nonexistent());
        }
        named(self.get, &place, kind, &name, &id)?;
        // Another account's rule group, only where its permission policy shares it.
        if place.account != self.place.account
            && !(kind == Kind::RuleGroup && super::sharing::shared_with(self.get, arn, &self.place.account)?)
        {
            return Err(nonexistent());
        }
        Ok(())
    }

    fn statement(&self, s: &shapes::Statement, top: bool) -> Result<(), ServiceError> {
        one(kinds(s), "STATEMENT", "Statement")?;
        let nestable = |field: &str, name: &str| {
            if top { Ok(()) } else { Err(invalid_parameter(field, name, "The statement can't be nested.")) }
        };
        if let Some(b) = &s.byte_match_statement {
            check_field(&b.field_to_match)?;
            check_transformations(&b.text_transformations)?;
            let word = b.search_string.0.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_');
            if b.positional_constraint == "CONTAINS_WORD" && !word {
                return Err(invalid_parameter(
                    "BYTE_MATCH_STATEMENT",
                    "SearchString",
                    "CONTAINS_WORD searches for a word: alphanumeric characters and underscores only.",
                ));
            }
        }
        if let Some(r) = &s.regex_match_statement {
            check_field(&r.field_to_match)?;
            check_transformations(&r.text_transformations)?;
            super::sets::compile_regex(&r.regex_string)
                .map_err(|reason| invalid_parameter("STATEMENT", &r.regex_string, &reason))?;
        }
        if let Some(r) = &s.regex_pattern_set_reference_statement {
            check_field(&r.field_to_match)?;
            check_transformations(&r.text_transformations)?;
            self.exists(&r.arn, Kind::RegexPatternSet)?;
        }
        if let Some(q) = &s.sqli_match_statement {
            check_field(&q.field_to_match)?;
            check_transformations(&q.text_transformations)?;
        }
        if let Some(x) = &s.xss_match_statement {
            check_field(&x.field_to_match)?;
            check_transformations(&x.text_transformations)?;
        }
        if let Some(z) = &s.size_constraint_statement {
            check_field(&z.field_to_match)?;
            check_transformations(&z.text_transformations)?;
        }
        if let Some(i) = &s.ip_set_reference_statement {
            self.exists(&i.arn, Kind::IpSet)?;
        }
        if let Some(a) = &s.and_statement {
            a.statements.iter().try_for_each(|n| self.statement(n, false))?;
        }
        if let Some(o) = &s.or_statement {
            o.statements.iter().try_for_each(|n| self.statement(n, false))?;
        }
        if let Some(n) = &s.not_statement {
            self.statement(&n.statement, false)?;
        }
        if let Some(r) = &s.rate_based_statement {
            nestable("RATE_BASED_STATEMENT", "RateBasedStatement")?;
            check_rate(r)?;
            if let Some(d) = &r.scope_down_statement {
                self.statement(d, false)?;
            }
        }
        if let Some(g) = &s.rule_group_reference_statement {
            nestable("RULE_GROUP_REFERENCE_STATEMENT", "RuleGroupReferenceStatement")?;
            if self.in_group {
                return Err(invalid_parameter(
                    "RULE_GROUP_REFERENCE_STATEMENT",
                    &g.arn,
                    "A rule group can't reference another rule group.",
                ));
            }
            self.exists(&g.arn, Kind::RuleGroup)?;
        }
        if let Some(m) = &s.managed_rule_group_statement {
            nestable("MANAGED_RULE_SET_STATEMENT", "ManagedRuleGroupStatement")?;
            super::managed::check(m)?;
            if let Some(d) = &m.scope_down_statement {
                self.statement(d, false)?;
            }
        }
        Ok(())
    }
}

/// Checks a rate-based statement: AWS's windows, and the keys its aggregation needs.
/// See <https://docs.aws.amazon.com/waf/latest/APIReference/API_RateBasedStatement.html>.
fn check_rate(r: &shapes::RateBasedStatement) -> Result<(), ServiceError> {
    if let Some(w) = r.evaluation_window_sec
        && !super::engine::rate::WINDOWS.contains(&w)
    {
        return Err(invalid_parameter(
            "RATE_BASED_STATEMENT",
            &w.to_string(),
            "The evaluation window must be 60, 120, 300 or 600 seconds.",
        ));
    }
    let keys = r.custom_keys.as_ref().map_or(0, Vec::len);
    match r.aggregate_key_type.as_str() {
        "CUSTOM_KEYS" if !(1..=5).contains(&keys) => {
            Err(invalid_parameter("CUSTOM_KEYS", &keys.to_string(), "CUSTOM_KEYS aggregation takes 1 to 5 keys."))
        }
        "CUSTOM_KEYS" => Ok(()),
        _ if keys > 0 => Err(invalid_parameter(
            "CUSTOM_KEYS",
            &r.aggregate_key_type,
            "Custom keys go with the CUSTOM_KEYS aggregate key type only.",
        )),
        "FORWARDED_IP" if r.forwarded_ip_config.is_none() => Err(invalid_parameter(
            "FORWARDED_IP_CONFIG",
            "ForwardedIPConfig",
            "FORWARDED_IP aggregation needs a forwarded IP configuration.",
        )),
        "CONSTANT" if r.scope_down_statement.is_none() => Err(invalid_parameter(
            "SCOPE_DOWN",
            "ScopeDownStatement",
            "CONSTANT aggregation needs a scope-down statement.",
        )),
        _ => Ok(()),
    }
}

/// Checks a list of rules: unique names and priorities, an action that fits each statement,
/// statements that are well formed and references that exist.
fn check_rules(
    get: &records::Reader<'_>,
    place: &Place,
    rules: &[shapes::Rule],
    in_group: bool,
) -> Result<(), ServiceError> {
    let (mut names, mut priorities) = (HashSet::new(), HashSet::new());
    let checker = Checker { get, place, in_group };
    for rule in rules {
        if !names.insert(rule.name.as_str()) {
            return Err(invalid_parameter("RULE", &rule.name, "Rules must have unique names."));
        }
        if !priorities.insert(rule.priority) {
            return Err(invalid_parameter("RULE", &rule.priority.to_string(), "Rules must have unique priorities."));
        }
        checker.statement(&rule.statement, true)?;
        let group = rule.statement.rule_group_reference_statement.is_some()
            || rule.statement.managed_rule_group_statement.is_some();
        match (&rule.action, &rule.override_action, group) {
            (Some(a), None, false) => {
                let set = [
                    a.allow.is_some(),
                    a.block.is_some(),
                    a.count.is_some(),
                    a.captcha.is_some(),
                    a.challenge.is_some(),
                ];
                one(set.into_iter().filter(|b| *b).count(), "RULE_ACTION", &rule.name)?;
            }
            (None, Some(o), true) => {
                one(usize::from(o.count.is_some()) + usize::from(o.none.is_some()), "OVERRIDE_ACTION", &rule.name)?
            }
            (_, _, true) => {
                return Err(invalid_parameter(
                    "OVERRIDE_ACTION",
                    &rule.name,
                    "A rule that references a rule group takes an OverrideAction, not an Action.",
                ));
            }
            (_, _, false) => {
                return Err(invalid_parameter(
                    "RULE_ACTION",
                    &rule.name,
                    "A rule that doesn't reference a rule group takes an Action, not an OverrideAction.",
                ));
            }
        }
    }
    Ok(())
}

fn check_default(d: &shapes::DefaultAction) -> Result<(), ServiceError> {
    one(usize::from(d.allow.is_some()) + usize::from(d.block.is_some()), "DEFAULT_ACTION", "DefaultAction")
}

/// Custom responses must name bodies the web ACL or rule group defines.
fn check_bodies(
    rules: &[shapes::Rule],
    bodies: Option<&BTreeMap<String, shapes::CustomResponseBody>>,
) -> Result<(), ServiceError> {
    for rule in rules {
        let key = rule
            .action
            .as_ref()
            .and_then(|a| a.block.as_ref())
            .and_then(|b| b.custom_response.as_ref())
            .and_then(|c| c.custom_response_body_key.as_deref());
        if let Some(key) = key
            && !bodies.is_some_and(|b| b.contains_key(key))
        {
            return Err(invalid_parameter("CUSTOM_RESPONSE_BODY", key, "The custom response body key doesn't exist."));
        }
    }
    Ok(())
}

/// The capacities of a place's rule groups, by ARN.
/// The capacity of the rule group an ARN names (the caller's, or one shared with it).
fn capacities<'a>(get: &'a records::Reader<'a>) -> impl Fn(&str) -> Option<i64> + 'a {
    move |arn: &str| {
        let (place, kind, _, id) = super::parse_arn(arn)?;
        let stored = records::read_with::<Stored>(get, &place.key(kind, &id)).ok()??;
        stored.body::<shapes::RuleGroup>().ok().map(|g| g.capacity)
    }
}

fn web_acl_capacity(tx: &Tx<'_>, rules: &[shapes::Rule]) -> Result<i64, ServiceError> {
    let get = records::tx_reader(tx);
    let used = capacity::rules(rules, &capacities(&get));
    if used > capacity::WEB_ACL_MAX {
        return Err(limits_exceeded());
    }
    Ok(used)
}

/// The namespace of the labels a web ACL's or rule group's rules add.
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-label-requirements.html>.
fn label_namespace(place: &Place, kind: Kind, name: &str) -> String {
    format!("awswaf:{}:{}:{name}:", place.account, kind.segment())
}

pub fn create_web_acl(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateWebACLRequest,
) -> Result<shapes::CreateWebACLResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    check_default(&input.default_action)?;
    let rules = input.rules.unwrap_or_default();
    check_rules(&records::tx_reader(tx), &place, &rules, false)?;
    check_bodies(&rules, input.custom_response_bodies.as_ref())?;
    let used = web_acl_capacity(tx, &rules)?;
    let (name, description) = (input.name.clone(), input.description.clone());
    let namespace = label_namespace(&place, Kind::WebAcl, &input.name);
    let stored = insert(tx, &place, Kind::WebAcl, (input.name, input.description, input.tags), |id, arn| {
        wire(shapes::WebACL {
            name,
            id: id.to_owned(),
            arn: arn.to_owned(),
            default_action: input.default_action,
            description,
            rules: Some(rules),
            visibility_config: input.visibility_config,
            data_protection_config: input.data_protection_config,
            capacity: Some(used),
            pre_process_firewall_manager_rule_groups: None,
            post_process_firewall_manager_rule_groups: None,
            managed_by_firewall_manager: Some(false),
            label_namespace: Some(namespace),
            custom_response_bodies: input.custom_response_bodies,
            captcha_config: input.captcha_config,
            challenge_config: input.challenge_config,
            token_domains: input.token_domains,
            association_config: input.association_config,
            retrofitted_by_firewall_manager: Some(false),
            on_source_d_do_s_protection_config: input.on_source_d_do_s_protection_config,
            application_config: input.application_config,
        })
    })?;
    Ok(shapes::CreateWebACLResponse { summary: Some(Summary::of(&stored)) })
}

pub fn get_web_acl(ctx: &Ctx<'_>, input: shapes::GetWebACLRequest) -> Result<shapes::GetWebACLResponse, ServiceError> {
    let named = (input.name.as_deref(), input.scope.as_deref(), input.id.as_deref());
    let stored = requested(ctx, Kind::WebAcl, "WEB_ACL", input.arn.as_deref(), named)?;
    Ok(shapes::GetWebACLResponse {
        web_acl: Some(stored.body()?),
        lock_token: Some(stored.lock_token),
        application_integration_url: None,
    })
}

/// The entity a Get names: by ARN, or by name, scope and id.
fn requested(
    ctx: &Ctx<'_>,
    kind: Kind,
    field: &str,
    arn: Option<&str>,
    (name, scope, id): (Option<&str>, Option<&str>, Option<&str>),
) -> Result<Stored, ServiceError> {
    let get = records::cached_reader(ctx.db);
    match (arn, name, scope, id) {
        (Some(arn), _, _, _) => match super::owned(&get, &ctx.principal.account_id, arn)? {
            (_, k, stored) if k == kind => Ok(stored),
            _ => Err(nonexistent()),
        },
        (None, Some(name), Some(scope), Some(id)) => {
            named(&get, &Place::of(&ctx.principal.account_id, ctx.region, scope)?, kind, name, id)
        }
        _ => Err(invalid_parameter(field, "ARN", "Name, Scope and Id, or an ARN, are required.")),
    }
}

pub fn update_web_acl(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateWebACLRequest,
) -> Result<shapes::UpdateWebACLResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    check_default(&input.default_action)?;
    let rules = input.rules.unwrap_or_default();
    check_rules(&records::tx_reader(tx), &place, &rules, false)?;
    check_bodies(&rules, input.custom_response_bodies.as_ref())?;
    let used = web_acl_capacity(tx, &rules)?;
    let named = (input.name.as_str(), input.id.as_str(), input.lock_token.as_str());
    let description = input.description.clone();
    let next = change(tx, &place, Kind::WebAcl, named, input.description, |body: &mut shapes::WebACL| {
        body.default_action = input.default_action;
        body.description = description;
        body.rules = Some(rules);
        body.visibility_config = input.visibility_config;
        body.data_protection_config = input.data_protection_config;
        body.capacity = Some(used);
        body.custom_response_bodies = input.custom_response_bodies;
        body.captcha_config = input.captcha_config;
        body.challenge_config = input.challenge_config;
        body.token_domains = input.token_domains;
        body.association_config = input.association_config;
        body.on_source_d_do_s_protection_config = input.on_source_d_do_s_protection_config;
        body.application_config = input.application_config;
        Ok(())
    })?;
    Ok(shapes::UpdateWebACLResponse { next_lock_token: Some(next) })
}

/// Deletes a web ACL that protects no resource.
pub fn delete_web_acl(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteWebACLRequest,
) -> Result<shapes::DeleteWebACLResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    delete(tx, &place, Kind::WebAcl, (&input.name, &input.id, &input.lock_token))?;
    Ok(shapes::DeleteWebACLResponse {})
}

pub fn list_web_acls(
    ctx: &Ctx<'_>,
    input: shapes::ListWebACLsRequest,
) -> Result<shapes::ListWebACLsResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let all: Vec<_> = super::all(ctx.db, &place, Kind::WebAcl)?.iter().map(Summary::of).collect();
    let (web_acls, next_marker) = page(all, input.next_marker.as_deref(), input.limit)?;
    Ok(shapes::ListWebACLsResponse { next_marker, web_ac_ls: Some(web_acls) })
}

pub fn create_rule_group(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateRuleGroupRequest,
) -> Result<shapes::CreateRuleGroupResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let rules = input.rules.unwrap_or_default();
    check_rules(&records::tx_reader(tx), &place, &rules, true)?;
    check_bodies(&rules, input.custom_response_bodies.as_ref())?;
    if capacity::rules(&rules, &|_| None) > input.capacity {
        return Err(limits_exceeded());
    }
    let (name, description) = (input.name.clone(), input.description.clone());
    let (namespace, labels) =
        (label_namespace(&place, Kind::RuleGroup, &input.name), available_labels(&place, &input.name, &rules));
    let stored = insert(tx, &place, Kind::RuleGroup, (input.name, input.description, input.tags), |id, arn| {
        wire(shapes::RuleGroup {
            name,
            id: id.to_owned(),
            capacity: input.capacity,
            arn: arn.to_owned(),
            description,
            rules: Some(rules),
            visibility_config: input.visibility_config,
            label_namespace: Some(namespace),
            custom_response_bodies: input.custom_response_bodies,
            available_labels: Some(labels),
            consumed_labels: Some(Vec::new()),
        })
    })?;
    Ok(shapes::CreateRuleGroupResponse { summary: Some(Summary::of(&stored)) })
}

/// The labels a rule group's rules add, fully qualified.
fn available_labels(place: &Place, name: &str, rules: &[shapes::Rule]) -> Vec<shapes::LabelSummary> {
    let namespace = label_namespace(place, Kind::RuleGroup, name);
    rules
        .iter()
        .flat_map(|r| r.rule_labels.iter().flatten())
        .map(|l| shapes::LabelSummary { name: Some(format!("{namespace}{}", l.name)) })
        .collect()
}

pub fn get_rule_group(
    ctx: &Ctx<'_>,
    input: shapes::GetRuleGroupRequest,
) -> Result<shapes::GetRuleGroupResponse, ServiceError> {
    let named = (input.name.as_deref(), input.scope.as_deref(), input.id.as_deref());
    let stored = requested(ctx, Kind::RuleGroup, "RULE_GROUP", input.arn.as_deref(), named)?;
    Ok(shapes::GetRuleGroupResponse { rule_group: Some(stored.body()?), lock_token: Some(stored.lock_token) })
}

pub fn update_rule_group(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateRuleGroupRequest,
) -> Result<shapes::UpdateRuleGroupResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let rules = input.rules.unwrap_or_default();
    check_rules(&records::tx_reader(tx), &place, &rules, true)?;
    check_bodies(&rules, input.custom_response_bodies.as_ref())?;
    let named = (input.name.as_str(), input.id.as_str(), input.lock_token.as_str());
    let description = input.description.clone();
    let next = change(tx, &place, Kind::RuleGroup, named, input.description, |body: &mut shapes::RuleGroup| {
        // The capacity is fixed when the group is created.
        if capacity::rules(&rules, &|_| None) > body.capacity {
            return Err(limits_exceeded());
        }
        body.available_labels = Some(available_labels(&place, &body.name, &rules));
        body.description = description;
        body.rules = Some(rules);
        body.visibility_config = input.visibility_config;
        body.custom_response_bodies = input.custom_response_bodies;
        Ok(())
    })?;
    Ok(shapes::UpdateRuleGroupResponse { next_lock_token: Some(next) })
}

/// Deletes a rule group no web ACL references.
pub fn delete_rule_group(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteRuleGroupRequest,
) -> Result<shapes::DeleteRuleGroupResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    delete(tx, &place, Kind::RuleGroup, (&input.name, &input.id, &input.lock_token))?;
    Ok(shapes::DeleteRuleGroupResponse {})
}

pub fn list_rule_groups(
    ctx: &Ctx<'_>,
    input: shapes::ListRuleGroupsRequest,
) -> Result<shapes::ListRuleGroupsResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let all: Vec<_> = super::all(ctx.db, &place, Kind::RuleGroup)?.iter().map(Summary::of).collect();
    let (rule_groups, next_marker) = page(all, input.next_marker.as_deref(), input.limit)?;
    Ok(shapes::ListRuleGroupsResponse { next_marker, rule_groups: Some(rule_groups) })
}

/// What a set of rules would cost in a web ACL.
pub fn check_capacity(
    ctx: &Ctx<'_>,
    input: shapes::CheckCapacityRequest,
) -> Result<shapes::CheckCapacityResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    check_rules(&records::cached_reader(ctx.db), &place, &input.rules, false)?;
    let get = records::cached_reader(ctx.db);
    Ok(shapes::CheckCapacityResponse { capacity: Some(capacity::rules(&input.rules, &capacities(&get))) })
}

/// Refuses to delete an entity a web ACL or rule group of its place still references.
pub(crate) fn unreferenced(tx: &Tx<'_>, place: &Place, arn: &str) -> Result<(), ServiceError> {
    // Bodies are AWS's wire JSON, where an ARN is a quoted string.
    let quoted = format!("\"{arn}\"");
    for kind in [Kind::WebAcl, Kind::RuleGroup] {
        // A rule group's own body names its own ARN.
        if all_tx(tx, place, kind)?.iter().any(|s| s.arn != arn && s.body.contains(&quoted)) {
            return Err(super::associated());
        }
    }
    Ok(())
}
