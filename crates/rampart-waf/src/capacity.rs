//! Web ACL capacity units (WCUs): what each rule costs, as AWS prices it. A web ACL may use up to
//! 5,000 WCUs; a rule group's capacity is fixed when it is created.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/aws-waf-capacity-units.html> and
//! each statement's page under
//! <https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statements-list.html>.

use rampart_shapes::generated::wafv2 as shapes;

/// The most WCUs a web ACL may use.
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/limits.html>.
pub const WEB_ACL_MAX: i64 = 5_000;

/// Adds what a text-inspecting statement's field and transformations cost to its base cost:
/// inspecting the JSON body doubles the base, all query arguments add 10, and each transformation
/// other than NONE adds 10.
fn inspecting(base: i64, field: &shapes::FieldToMatch, transformations: &[shapes::TextTransformation]) -> i64 {
    let base = if field.json_body.is_some() { base * 2 } else { base };
    let arguments = if field.all_query_arguments.is_some() { 10 } else { 0 };
    let transforms = transformations.iter().filter(|t| t.r#type != "NONE").count();
    base + arguments + 10 * i64::try_from(transforms).unwrap_or(i64::MAX / 20)
}

/// What a statement costs; `group` gives a referenced rule group's capacity (AWS managed groups
/// included), `None` where it names none.
pub fn statement(s: &shapes::Statement, group: &dyn Fn(&str) -> Option<i64>) -> i64 {
    if let Some(b) = &s.byte_match_statement {
        let base = match b.positional_constraint.as_str() {
            "CONTAINS" | "CONTAINS_WORD" => 10,
            _ => 2,
        };
        return inspecting(base, &b.field_to_match, &b.text_transformations);
    }
    if let Some(r) = &s.regex_match_statement {
        return inspecting(3, &r.field_to_match, &r.text_transformations);
    }
    if let Some(r) = &s.regex_pattern_set_reference_statement {
        return inspecting(25, &r.field_to_match, &r.text_transformations);
    }
    if let Some(q) = &s.sqli_match_statement {
        let base = if q.sensitivity_level.as_deref() == Some("HIGH") { 30 } else { 20 };
        return inspecting(base, &q.field_to_match, &q.text_transformations);
    }
    if let Some(x) = &s.xss_match_statement {
        return inspecting(40, &x.field_to_match, &x.text_transformations);
    }
    if let Some(z) = &s.size_constraint_statement {
        return inspecting(1, &z.field_to_match, &z.text_transformations);
    }
    if let Some(a) = &s.and_statement {
        return a.statements.iter().map(|n| statement(n, group)).sum();
    }
    if let Some(o) = &s.or_statement {
        return o.statements.iter().map(|n| statement(n, group)).sum();
    }
    if let Some(n) = &s.not_statement {
        return statement(&n.statement, group);
    }
    if let Some(r) = &s.rate_based_statement {
        let keys = r.custom_keys.as_ref().map_or(0, Vec::len);
        let scope = r.scope_down_statement.as_deref().map_or(0, |d| statement(d, group));
        return 2 + 30 * i64::try_from(keys).unwrap_or(0) + scope;
    }
    if let Some(r) = &s.rule_group_reference_statement {
        return group(&r.arn).unwrap_or(0);
    }
    if let Some(m) = &s.managed_rule_group_statement {
        let scope = m.scope_down_statement.as_deref().map_or(0, |d| statement(d, group));
        return crate::managed::managed_group(&m.vendor_name, &m.name).map_or(0, |g| g.capacity) + scope;
    }
    // IP set, geo, ASN and label matches.
    1
}

/// What a list of rules costs.
pub fn rules(rules: &[shapes::Rule], group: &dyn Fn(&str) -> Option<i64>) -> i64 {
    rules.iter().map(|r| statement(&r.statement, group)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transform(t: &str) -> shapes::TextTransformation {
        shapes::TextTransformation { priority: 0, r#type: t.to_owned() }
    }

    fn byte_match(constraint: &str, field: shapes::FieldToMatch, t: &[&str]) -> shapes::Statement {
        shapes::Statement {
            byte_match_statement: Some(shapes::ByteMatchStatement {
                search_string: rampart_shapes::Blob(b"admin".to_vec()),
                field_to_match: field,
                text_transformations: t.iter().map(|t| transform(t)).collect(),
                positional_constraint: constraint.to_owned(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn statements_cost_what_aws_charges() {
        let none = |_: &str| None;
        let uri = shapes::FieldToMatch { uri_path: Some(Default::default()), ..Default::default() };
        assert_eq!(statement(&byte_match("EXACTLY", uri.clone(), &["NONE"]), &none), 2);
        assert_eq!(statement(&byte_match("CONTAINS", uri.clone(), &["LOWERCASE", "URL_DECODE"]), &none), 30);
        let args = shapes::FieldToMatch { all_query_arguments: Some(Default::default()), ..Default::default() };
        assert_eq!(statement(&byte_match("STARTS_WITH", args, &["NONE"]), &none), 12);
        let both = shapes::Statement {
            and_statement: Some(shapes::AndStatement {
                statements: vec![byte_match("EXACTLY", uri.clone(), &["NONE"]), byte_match("CONTAINS", uri, &["NONE"])],
            }),
            ..Default::default()
        };
        assert_eq!(statement(&both, &none), 12);
        let group = shapes::Statement {
            rule_group_reference_statement: Some(shapes::RuleGroupReferenceStatement {
                arn: "g".into(),
                excluded_rules: None,
                rule_action_overrides: None,
            }),
            ..Default::default()
        };
        assert_eq!(statement(&group, &|arn: &str| (arn == "g").then_some(250)), 250);
    }
}
