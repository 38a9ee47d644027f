//! Finding criteria, pure: a finding (in rest-json's naming, as the criteria name its fields:
//! `service.action.awsApiCallAction.remoteIpDetails.ipAddressV4`) against a `FindingCriteria`,
//! and the order `SortCriteria` asks for.
//! See <https://docs.aws.amazon.com/guardduty/latest/APIReference/API_Condition.html> and
//! <https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_filter-findings.html>.

use std::cmp::Ordering;

use rampart_shapes::generated::guardduty::{Condition, FindingCriteria};
use serde_json::Value as Json;

/// Fields whose values are times, compared as milliseconds since the epoch.
const TIME_FIELDS: &[&str] = &["createdAt", "updatedAt", "service.eventFirstSeen", "service.eventLastSeen"];

/// The leaf values at a dotted path; arrays on the way are searched through.
pub fn values<'a>(json: &'a Json, path: &str) -> Vec<&'a Json> {
    let mut at = vec![json];
    for seg in path.split('.') {
        let mut next = Vec::new();
        for v in at {
            match v.get(seg) {
                Some(Json::Array(items)) => next.extend(items.iter()),
                Some(Json::Null) | None => {}
                Some(v) => next.push(v),
            }
        }
        at = next;
    }
    at.into_iter()
        .flat_map(|v| match v {
            Json::Array(items) => items.iter().collect::<Vec<_>>(),
            v => vec![v],
        })
        .collect()
}

fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn number(field: &str, v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) if TIME_FIELDS.contains(&field) => {
            let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
            // Milliseconds since the epoch, as the criteria give times.
            Some((t.unix_timestamp_nanos() / 1_000_000) as f64)
        }
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn equal(field: &str, v: &Json, wanted: &str) -> bool {
    if text(v) == wanted {
        return true;
    }
    matches!((number(field, v), wanted.parse::<f64>()), (Some(a), Ok(b)) if a == b)
}

/// A `*` and `?` wildcard match, as `Matches` takes.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some(pi);
                pi += 1;
                mark = ti;
            }
            Some(c) if *c == '?' || Some(c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some(s) => {
                    pi = s + 1;
                    mark += 1;
                    ti = mark;
                }
                None => return false,
            },
        }
    }
    p.get(pi..).is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

/// Whether one field's values meet a condition (every operator it names).
pub fn meets(json: &Json, field: &str, c: &Condition) -> bool {
    let vals = values(json, field);
    let any_eq = |list: &[String]| vals.iter().any(|v| list.iter().any(|w| equal(field, v, w)));
    let nums: Vec<f64> = vals.iter().filter_map(|v| number(field, v)).collect();
    let cmp = |bound: Option<f64>, ok: fn(f64, f64) -> bool| match bound {
        Some(b) => nums.iter().any(|n| ok(*n, b)),
        None => true,
    };
    let glob_any = |list: &[String]| vals.iter().any(|v| list.iter().any(|p| glob(p, &text(v))));
    c.eq.as_deref().is_none_or(any_eq)
        && c.equals.as_deref().is_none_or(any_eq)
        && c.neq.as_deref().is_none_or(|l| !any_eq(l))
        && c.not_equals.as_deref().is_none_or(|l| !any_eq(l))
        && c.matches.as_deref().is_none_or(glob_any)
        && c.not_matches.as_deref().is_none_or(|l| !glob_any(l))
        && cmp(c.gt.map(f64::from).or(c.greater_than.map(|v| v as f64)), |n, b| n > b)
        && cmp(c.gte.map(f64::from).or(c.greater_than_or_equal.map(|v| v as f64)), |n, b| n >= b)
        && cmp(c.lt.map(f64::from).or(c.less_than.map(|v| v as f64)), |n, b| n < b)
        && cmp(c.lte.map(f64::from).or(c.less_than_or_equal.map(|v| v as f64)), |n, b| n <= b)
}

/// Whether a finding meets every condition of the criteria (none: every finding does).
pub fn matches(json: &Json, criteria: Option<&FindingCriteria>) -> bool {
    criteria.and_then(|c| c.criterion.as_ref()).is_none_or(|all| all.iter().all(|(field, c)| meets(json, field, c)))
}

/// Orders two findings by a field (numbers as numbers, else as text; absent first).
pub fn compare(a: &Json, b: &Json, field: &str) -> Ordering {
    let (va, vb) = (values(a, field).first().copied().cloned(), values(b, field).first().copied().cloned());
    match (va, vb) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(m), Some(n)) => m.partial_cmp(&n).unwrap_or(Ordering::Equal),
            _ => text(&x).cmp(&text(&y)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(f: impl FnOnce(&mut Condition)) -> Condition {
        let mut c = Condition {
            eq: None,
            neq: None,
            gt: None,
            gte: None,
            lt: None,
            lte: None,
            equals: None,
            not_equals: None,
            greater_than: None,
            greater_than_or_equal: None,
            less_than: None,
            less_than_or_equal: None,
            matches: None,
            not_matches: None,
        };
        f(&mut c);
        c
    }

    #[test]
    fn conditions_read_nested_fields_and_lists() {
        let f = json!({
            "severity": 8.0, "type": "Policy:IAMUser/RootCredentialUsage",
            "updatedAt": "2026-12-04T10:00:00.000Z",
            "service": {"archived": false, "action": {"awsApiCallAction": {"remoteIpDetails": {"ipAddressV4": "198.51.100.7"}}}},
            "resource": {"s3BucketDetails": [{"name": "a"}, {"name": "b"}]}
        });
        assert!(meets(&f, "severity", &cond(|c| c.gte = Some(7))));
        assert!(!meets(&f, "severity", &cond(|c| c.lt = Some(7))));
        assert!(meets(&f, "severity", &cond(|c| c.eq = Some(vec!["8".into()]))));
        assert!(meets(&f, "service.archived", &cond(|c| c.eq = Some(vec!["false".into()]))));
        assert!(!meets(&f, "service.archived", &cond(|c| c.neq = Some(vec!["false".into()]))));
        assert!(meets(&f, "resource.s3BucketDetails.name", &cond(|c| c.equals = Some(vec!["b".into()]))));
        assert!(meets(
            &f,
            "service.action.awsApiCallAction.remoteIpDetails.ipAddressV4",
            &cond(|c| c.matches = Some(vec!["198.51.100.*".into()]))
        ));
        assert!(meets(&f, "type", &cond(|c| c.not_matches = Some(vec!["Recon:*".into()]))));
        // Times compare as milliseconds since the epoch.
        let ms = 1_796_378_400_000i64; // 2026-12-04T10:00:00Z
        assert!(meets(&f, "updatedAt", &cond(|c| c.greater_than_or_equal = Some(ms))));
        assert!(!meets(&f, "updatedAt", &cond(|c| c.greater_than = Some(ms))));
        // An absent field equals nothing.
        assert!(!meets(&f, "region", &cond(|c| c.eq = Some(vec!["us-east-1".into()]))));
        assert!(meets(&f, "region", &cond(|c| c.neq = Some(vec!["us-east-1".into()]))));
    }

    #[test]
    fn globs() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("*", ""));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a*d", "abc"));
    }
}
