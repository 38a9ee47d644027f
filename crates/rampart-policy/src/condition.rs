//! Condition operators and their evaluation, including `IfExists`, `ForAllValues:`,
//! `ForAnyValue:` and the documented behaviour for absent keys.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>
//! and <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html>.

use ipnet::IpNet;
use time::OffsetDateTime;
use time::format_description::well_known::{Iso8601, Rfc3339};

use crate::context::Context;
use crate::document::{PolicyError, Version};
use crate::pattern::{Pattern, wildcard_match, wildcard_match_masked};
use crate::variables::Template;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

/// A set operator prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Set {
    Single,
    ForAllValues,
    ForAnyValue,
}

const OPERATORS: &[(&str, Operator)] = &[
    ("StringEquals", Operator::StringEquals),
    ("StringNotEquals", Operator::StringNotEquals),
    ("StringEqualsIgnoreCase", Operator::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", Operator::StringNotEqualsIgnoreCase),
    ("StringLike", Operator::StringLike),
    ("StringNotLike", Operator::StringNotLike),
    ("NumericEquals", Operator::NumericEquals),
    ("NumericNotEquals", Operator::NumericNotEquals),
    ("NumericLessThan", Operator::NumericLessThan),
    ("NumericLessThanEquals", Operator::NumericLessThanEquals),
    ("NumericGreaterThan", Operator::NumericGreaterThan),
    ("NumericGreaterThanEquals", Operator::NumericGreaterThanEquals),
    ("DateEquals", Operator::DateEquals),
    ("DateNotEquals", Operator::DateNotEquals),
    ("DateLessThan", Operator::DateLessThan),
    ("DateLessThanEquals", Operator::DateLessThanEquals),
    ("DateGreaterThan", Operator::DateGreaterThan),
    ("DateGreaterThanEquals", Operator::DateGreaterThanEquals),
    ("Bool", Operator::Bool),
    ("BinaryEquals", Operator::BinaryEquals),
    ("IpAddress", Operator::IpAddress),
    ("NotIpAddress", Operator::NotIpAddress),
    ("ArnEquals", Operator::ArnEquals),
    ("ArnLike", Operator::ArnLike),
    ("ArnNotEquals", Operator::ArnNotEquals),
    ("ArnNotLike", Operator::ArnNotLike),
    ("Null", Operator::Null),
];

impl Operator {
    /// Parses `ForAllValues:StringLikeIfExists` and the like.
    pub(crate) fn parse(name: &str) -> Option<(Self, Set, bool)> {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAllValues:") {
            (Set::ForAllValues, r)
        } else if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (Set::ForAnyValue, r)
        } else {
            (Set::Single, name)
        };
        let (rest, if_exists) = match rest.strip_suffix("IfExists") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let op = OPERATORS.iter().find(|(n, _)| *n == rest).map(|(_, o)| *o)?;
        if op == Self::Null && (if_exists || set != Set::Single) {
            return None;
        }
        Some((op, set, if_exists))
    }

    /// Negated operators are true when the key is absent, and their values combine as NOR.
    fn negated(self) -> bool {
        matches!(
            self,
            Self::StringNotEquals
                | Self::StringNotEqualsIgnoreCase
                | Self::StringNotLike
                | Self::NumericNotEquals
                | Self::DateNotEquals
                | Self::NotIpAddress
                | Self::ArnNotEquals
                | Self::ArnNotLike
        )
    }

    fn is_date(self) -> bool {
        matches!(
            self,
            Self::DateEquals
                | Self::DateNotEquals
                | Self::DateLessThan
                | Self::DateLessThanEquals
                | Self::DateGreaterThan
                | Self::DateGreaterThanEquals
        )
    }

    fn takes_variables(self) -> bool {
        matches!(
            self,
            Self::StringEquals
                | Self::StringNotEquals
                | Self::StringEqualsIgnoreCase
                | Self::StringNotEqualsIgnoreCase
                | Self::StringLike
                | Self::StringNotLike
                | Self::ArnEquals
                | Self::ArnLike
                | Self::ArnNotEquals
                | Self::ArnNotLike
        )
    }
}

/// A condition value, pre-parsed for its operator.
#[derive(Debug, Clone)]
struct CondValue {
    text: String,
    template: Option<Template>,
    pattern: Option<Pattern>,
    number: Option<f64>,
    date: Option<OffsetDateTime>,
    net: Option<IpNet>,
}

/// One operator applied to one key with its values.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    op: Operator,
    set: Set,
    if_exists: bool,
    /// The key as written, for reports.
    pub(crate) key: String,
    key_folded: String,
    values: Vec<CondValue>,
}

/// Reads a date as AWS does: ISO 8601 (date, or date and time) or epoch seconds.
pub(crate) fn parse_date(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Iso8601::DEFAULT) {
        return Some(t);
    }
    if let Ok(d) = time::Date::parse(s, &Iso8601::DEFAULT) {
        return Some(d.midnight().assume_utc());
    }
    let n: i64 = s.trim().parse().ok()?;
    OffsetDateTime::from_unix_timestamp(n).ok()
}

fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>().ok().or_else(|| s.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

/// ArnLike: the six colon-separated parts are matched one by one, each with wildcards.
fn arn_like(pattern: &str, literal: Option<&[bool]>, value: &str) -> bool {
    let p: Vec<(usize, &str)> = split_arn(pattern);
    let v: Vec<(usize, &str)> = split_arn(value);
    if p.len() != v.len() {
        return false;
    }
    p.iter().zip(&v).all(|((start, ps), (_, vs))| match literal {
        Some(l) => wildcard_match_masked(
            ps.as_bytes(),
            l.get(*start..start + ps.len()).unwrap_or_default(),
            vs.as_bytes(),
            false,
        ),
        None => wildcard_match(ps.as_bytes(), vs.as_bytes(), false),
    })
}

/// Splits an ARN into at most six parts, keeping each part's byte offset.
fn split_arn(s: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::with_capacity(6);
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if c == ':' && out.len() < 5 {
            out.push((start, s.get(start..i).unwrap_or_default()));
            start = i + 1;
        }
    }
    out.push((start, s.get(start..).unwrap_or_default()));
    out
}

impl Condition {
    pub(crate) fn compile(
        op_name: &str,
        key: &str,
        values: Vec<String>,
        version: Version,
    ) -> Result<Self, PolicyError> {
        let (op, set, if_exists) =
            Operator::parse(op_name).ok_or_else(|| PolicyError { message: "Syntax errors in policy.".to_owned() })?;
        let mut compiled = Vec::with_capacity(values.len());
        for text in values {
            let template = if op.takes_variables() { Template::parse(&text, version) } else { None };
            let date = if op.is_date() {
                Some(
                    parse_date(&text)
                        .ok_or_else(|| PolicyError { message: "The policy failed legacy parsing".to_owned() })?,
                )
            } else {
                None
            };
            compiled.push(CondValue {
                pattern: matches!(op, Operator::StringLike | Operator::StringNotLike)
                    .then(|| Pattern::new(&text, false)),
                number: text.trim().parse().ok(),
                net: matches!(op, Operator::IpAddress | Operator::NotIpAddress).then(|| parse_net(&text)).flatten(),
                date,
                template,
                text,
            });
        }
        Ok(Self { op, set, if_exists, key: key.to_owned(), key_folded: key.to_ascii_lowercase(), values: compiled })
    }

    /// Whether this condition pins its key to fixed values that keep a statement from being
    /// public, as S3 and IAM Access Analyzer judge it: a positive operator, no `IfExists`, every
    /// value free of wildcards and policy variables, on one of the keys that name a bounded set
    /// of callers; for `aws:SourceIp`, networks no wider than /8 (IPv4) or /32 (IPv6).
    /// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status>.
    pub(crate) fn fixes_caller(&self) -> bool {
        const FIXING_KEYS: &[&str] = &[
            "aws:sourcearn",
            "aws:sourcevpc",
            "aws:sourcevpce",
            "aws:sourceowner",
            "aws:sourceaccount",
            "aws:sourceorgid",
            "aws:sourceorgpaths",
            "aws:principalaccount",
            "aws:principalarn",
            "aws:principalorgid",
            "aws:principalorgpaths",
            "aws:userid",
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
        ];
        use Operator as O;
        let positive = matches!(
            self.op,
            O::StringEquals | O::StringEqualsIgnoreCase | O::StringLike | O::ArnEquals | O::ArnLike | O::IpAddress
        );
        if !positive || self.if_exists || self.set == Set::ForAllValues || self.values.is_empty() {
            return false;
        }
        let fixed = |v: &CondValue| v.template.is_none() && !v.text.contains(['*', '?']) && !v.text.contains("${");
        match self.key_folded.as_str() {
            "aws:sourceip" => {
                self.op == O::IpAddress
                    && self.values.iter().all(|v| {
                        v.net.is_some_and(|n| match n {
                            IpNet::V4(n) => n.prefix_len() >= 8,
                            IpNet::V6(n) => n.prefix_len() >= 32,
                        })
                    })
            }
            // A role's sessions (`AROLEID:*`) are a fixed set of callers too.
            "aws:userid" => {
                self.op != O::IpAddress
                    && self
                        .values
                        .iter()
                        .all(|v| fixed(v) || v.text.strip_suffix(":*").is_some_and(|id| !id.contains(['*', '?'])))
            }
            key => self.op != O::IpAddress && FIXING_KEYS.contains(&key) && self.values.iter().all(fixed),
        }
    }

    /// The context keys this condition's values read through policy variables.
    pub(crate) fn variable_keys(&self) -> impl Iterator<Item = &str> {
        self.values.iter().filter_map(|v| v.template.as_ref()).flat_map(Template::keys)
    }

    /// Evaluates the condition; the second value says whether the key was absent from the context.
    pub(crate) fn eval(&self, ctx: &Context) -> (bool, bool) {
        let req = ctx.get_folded(&self.key_folded).filter(|v| !v.is_empty());
        if self.op == Operator::Null {
            let absent = req.is_none();
            return (self.values.iter().any(|v| v.text.eq_ignore_ascii_case("true") == absent), false);
        }
        let Some(req) = req else {
            let result = match self.set {
                Set::ForAllValues => true,
                Set::ForAnyValue => false,
                Set::Single => self.if_exists || self.op.negated(),
            };
            return (result, true);
        };
        let pass = |v: &str| self.matches_any(v, ctx) != self.op.negated();
        let result = match self.set {
            Set::ForAllValues => req.iter().all(|v| pass(v)),
            Set::ForAnyValue => req.iter().any(|v| pass(v)),
            // A negated operator holds only if no request value matches any policy value (NOR).
            Set::Single if self.op.negated() => req.iter().all(|v| pass(v)),
            Set::Single => req.iter().any(|v| pass(v)),
        };
        (result, false)
    }

    /// Whether the request value matches any policy value under the positive form of the operator.
    fn matches_any(&self, req: &str, ctx: &Context) -> bool {
        use Operator as O;
        self.values.iter().any(|pv| {
            let rendered;
            let (text, literal) = match &pv.template {
                Some(t) => match t.render(ctx) {
                    Some(r) => {
                        rendered = r;
                        (rendered.text.as_str(), Some(rendered.literal.as_slice()))
                    }
                    None => return false,
                },
                None => (pv.text.as_str(), None),
            };
            match self.op {
                O::StringEquals | O::StringNotEquals => text == req,
                O::StringEqualsIgnoreCase | O::StringNotEqualsIgnoreCase => {
                    text.eq_ignore_ascii_case(req) || text.to_lowercase() == req.to_lowercase()
                }
                O::StringLike | O::StringNotLike => match (literal, &pv.pattern) {
                    (Some(l), _) => wildcard_match_masked(text.as_bytes(), l, req.as_bytes(), false),
                    (None, Some(p)) => p.matches(req, false),
                    (None, None) => wildcard_match(text.as_bytes(), req.as_bytes(), false),
                },
                O::NumericEquals
                | O::NumericNotEquals
                | O::NumericLessThan
                | O::NumericLessThanEquals
                | O::NumericGreaterThan
                | O::NumericGreaterThanEquals => {
                    let (Some(p), Ok(r)) = (pv.number, req.trim().parse::<f64>()) else { return false };
                    match self.op {
                        O::NumericLessThan => r < p,
                        O::NumericLessThanEquals => r <= p,
                        O::NumericGreaterThan => r > p,
                        O::NumericGreaterThanEquals => r >= p,
                        _ => r == p,
                    }
                }
                O::DateEquals
                | O::DateNotEquals
                | O::DateLessThan
                | O::DateLessThanEquals
                | O::DateGreaterThan
                | O::DateGreaterThanEquals => {
                    let (Some(p), Some(r)) = (pv.date, parse_date(req)) else { return false };
                    match self.op {
                        O::DateLessThan => r < p,
                        O::DateLessThanEquals => r <= p,
                        O::DateGreaterThan => r > p,
                        O::DateGreaterThanEquals => r >= p,
                        _ => r == p,
                    }
                }
                O::Bool => text.eq_ignore_ascii_case(req),
                O::BinaryEquals => text == req,
                O::IpAddress | O::NotIpAddress => {
                    let Ok(ip) = req.trim().parse::<std::net::IpAddr>() else { return false };
                    pv.net.is_some_and(|n| n.contains(&ip))
                }
                O::ArnEquals | O::ArnLike | O::ArnNotEquals | O::ArnNotLike => arn_like(text, literal, req),
                O::Null => false,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(op: &str, key: &str, values: &[&str]) -> Condition {
        Condition::compile(op, key, values.iter().map(|s| (*s).to_owned()).collect(), Version::V2012).unwrap()
    }

    fn ctx(pairs: &[(&str, &[&str])]) -> Context {
        let mut c = Context::new();
        for (k, vs) in pairs {
            c.set_many(k, vs.iter().map(|s| (*s).to_owned()).collect());
        }
        c
    }

    fn check(op: &str, values: &[&str], req: Option<&[&str]>, expect: bool) {
        let c = cond(op, "aws:Key", values);
        let context = match req {
            Some(r) => ctx(&[("aws:key", r)]),
            None => Context::new(),
        };
        assert_eq!(c.eval(&context).0, expect, "{op} {values:?} vs {req:?}");
    }

    #[test]
    fn string_operators() {
        check("StringEquals", &["a", "b"], Some(&["b"]), true);
        check("StringEquals", &["a"], Some(&["A"]), false);
        check("StringEqualsIgnoreCase", &["a"], Some(&["A"]), true);
        check("StringNotEqualsIgnoreCase", &["a"], Some(&["A"]), false);
        check("StringLike", &["arn:*:x"], Some(&["arn:aws:x"]), true);
        check("StringNotLike", &["a*"], Some(&["abc"]), false);
        // Several values under a negated operator combine as NOR.
        check("StringNotEquals", &["a", "b"], Some(&["b"]), false);
        check("StringNotEquals", &["a", "b"], Some(&["c"]), true);
    }

    #[test]
    fn absent_keys_follow_the_documented_rules() {
        check("StringEquals", &["a"], None, false);
        // Negated operators are true when the key is absent.
        for op in [
            "StringNotEquals",
            "StringNotLike",
            "NumericNotEquals",
            "ArnNotLike",
            "NotIpAddress",
            "DateNotEquals",
            "StringNotEqualsIgnoreCase",
            "ArnNotEquals",
        ] {
            let v = if op.starts_with("Date") { "2020-01-01" } else { "1" };
            check(op, &[v], None, true);
        }
        check("StringEqualsIfExists", &["a"], None, true);
        check("StringEqualsIfExists", &["a"], Some(&["b"]), false);
        check("ForAllValues:StringEquals", &["a"], None, true);
        check("ForAllValues:StringEquals", &["a"], Some(&[]), true);
        check("ForAnyValue:StringEquals", &["a"], None, false);
        check("Null", &["true"], None, true);
        check("Null", &["false"], None, false);
        check("Null", &["false"], Some(&["x"]), true);
        // MFA: absent for long-term keys, so `Bool false` never matches but `BoolIfExists` does.
        check("Bool", &["false"], None, false);
        check("BoolIfExists", &["false"], None, true);
        check("Bool", &["true"], Some(&["TRUE"]), true);
    }

    #[test]
    fn set_operators() {
        check("ForAllValues:StringEquals", &["a", "b"], Some(&["a", "b"]), true);
        check("ForAllValues:StringEquals", &["a", "b"], Some(&["a", "c"]), false);
        check("ForAnyValue:StringEquals", &["a"], Some(&["c", "a"]), true);
        check("ForAnyValue:StringEquals", &["a"], Some(&["c", "d"]), false);
        check("ForAllValues:StringNotEquals", &["secret"], Some(&["a", "b"]), true);
        check("ForAllValues:StringNotEquals", &["secret"], Some(&["a", "secret"]), false);
        check("ForAnyValue:StringNotEquals", &["a"], Some(&["a", "b"]), true);
    }

    #[test]
    fn numeric_date_ip_binary_arn() {
        check("NumericLessThan", &["10"], Some(&["9.5"]), true);
        check("NumericGreaterThanEquals", &["10"], Some(&["10"]), true);
        check("NumericEquals", &["10"], Some(&["ten"]), false);
        check("DateGreaterThan", &["2020-01-01T00:00:00Z"], Some(&["2021-06-01T12:00:00Z"]), true);
        check("DateLessThan", &["2020-01-01"], Some(&["1500000000"]), true);
        check("DateEquals", &["1577836800"], Some(&["2020-01-01T00:00:00Z"]), true);
        check("IpAddress", &["203.0.113.0/24"], Some(&["203.0.113.7"]), true);
        check("IpAddress", &["203.0.113.0/24"], Some(&["198.51.100.1"]), false);
        check("IpAddress", &["2001:db8::/32"], Some(&["2001:db8::1"]), true);
        check("NotIpAddress", &["203.0.113.0/24"], Some(&["198.51.100.1"]), true);
        check("IpAddress", &["203.0.113.9"], Some(&["203.0.113.9"]), true);
        check("BinaryEquals", &["QmluYXJ5"], Some(&["QmluYXJ5"]), true);
        check("ArnLike", &["arn:aws:iam::*:role/admin-*"], Some(&["arn:aws:iam::111122223333:role/admin-x"]), true);
        check("ArnLike", &["arn:aws:iam::*:role/admin-*"], Some(&["arn:aws:iam::111122223333:user/admin-x"]), false);
        check("ArnEquals", &["arn:aws:s3:::b/*"], Some(&["arn:aws:s3:::b/k:1"]), true);
        // Segment by segment: a `*` does not reach across colons into another segment.
        check("ArnLike", &["arn:aws:*"], Some(&["arn:aws:s3:::b"]), false);
    }

    #[test]
    fn variables_in_condition_values() {
        let c = cond("StringLike", "s3:prefix", &["home/${aws:username}/*"]);
        let mut context = ctx(&[("s3:prefix", &["home/alice/docs"])]);
        context.set("aws:username", "alice");
        assert!(c.eval(&context).0);
        context.set("aws:username", "bob");
        assert!(!c.eval(&context).0);
        let old =
            Condition::compile("StringEquals", "s3:prefix", vec!["${aws:username}".into()], Version::V2008).unwrap();
        let literal = ctx(&[("s3:prefix", &["${aws:username}"])]);
        assert!(old.eval(&literal).0, "2008-10-17 keeps variables as literal text");
    }

    #[test]
    fn operator_names() {
        assert_eq!(
            Operator::parse("ForAllValues:StringLikeIfExists"),
            Some((Operator::StringLike, Set::ForAllValues, true))
        );
        assert_eq!(Operator::parse("NullIfExists"), None);
        assert_eq!(Operator::parse("StringEqualz"), None);
    }
}
