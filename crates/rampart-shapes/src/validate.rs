//! Model constraints checked on input, reported in AWS's `ValidationError` wording.
//!
//! AWS reports every failed constraint at once: "2 validation errors detected: Value null at
//! 'roleArn' failed to satisfy constraint: Member must not be null; Value 'a' at 'roleSessionName'
//! failed to satisfy constraint: Member must have length greater than or equal to 2". Paths use the
//! member names with a lower-case first letter, list items as `name.N.member` (1-based).
//! See <https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html>.

use crate::schema::{Kind, Range, Shape};
use crate::value::Value;

/// One failed constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationFailure {
    /// The value as AWS quotes it (`'abc'`, `null`, or a list rendered as `[...]`), with sensitive
    /// values never shown.
    pub value: String,
    pub path: String,
    pub constraint: String,
}

impl std::fmt::Display for ValidationFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Value {} at '{}' failed to satisfy constraint: {}", self.value, self.path, self.constraint)
    }
}

/// The whole AWS message for a list of failures, or `None` when there are none.
pub fn message(failures: &[ValidationFailure]) -> Option<String> {
    if failures.is_empty() {
        return None;
    }
    let n = failures.len();
    let list: Vec<String> = failures.iter().map(ToString::to_string).collect();
    Some(format!("{n} validation error{} detected: {}", if n == 1 { "" } else { "s" }, list.join("; ")))
}

/// An input the model's constraints refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// AWS's whole message.
    pub message: String,
    /// The paths of the members that failed (`maxResults`, `tags.1.member.key`), so a service
    /// can answer with its own error where it has one.
    pub paths: Vec<String>,
}

/// Checks a decoded input value against its shape.
pub fn validate(value: &Value, shape: &Shape) -> Result<(), Invalid> {
    let mut failures = Vec::new();
    check(value, shape, &Path::Root, &mut failures);
    match message(&failures) {
        Some(message) => Err(Invalid { message, paths: failures.into_iter().map(|f| f.path).collect() }),
        None => Ok(()),
    }
}

/// Where a value is in the input, rendered only when a constraint fails (most inputs pass, and
/// the check should not build a string per member).
enum Path<'a> {
    Root,
    /// A structure's member, named with a lower-case first letter.
    Member(&'a Path<'a>, &'static str),
    /// A list's item, 1-based: `name.N.member`.
    Item(&'a Path<'a>, usize),
    /// A map's key: `name.key`.
    Key(&'a Path<'a>),
    /// A map's value: `name.KEY.value`.
    Value(&'a Path<'a>, &'a str),
}

impl Path<'_> {
    fn render(&self) -> String {
        let (parent, seg) = match self {
            Path::Root => return String::new(),
            Path::Member(p, name) => {
                let mut chars = name.chars();
                (p, chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default())
            }
            Path::Item(p, i) => (p, format!("{i}.member")),
            Path::Key(p) => (p, "key".to_owned()),
            Path::Value(p, k) => (p, format!("{k}.value")),
        };
        let parent = parent.render();
        if parent.is_empty() { seg } else { format!("{parent}.{seg}") }
    }
}

fn quoted(value: &Value, shape: &Shape) -> String {
    if shape.sensitive {
        return "'***'".to_owned();
    }
    match value {
        Value::String(s) => format!("'{s}'"),
        Value::Integer(i) => format!("'{i}'"),
        Value::Float(f) => format!("'{f}'"),
        Value::Bool(b) => format!("'{b}'"),
        Value::List(items) => format!("'[{} items]'", items.len()),
        Value::Map(items) => format!("'{{{} entries}}'", items.len()),
        _ => "'…'".to_owned(),
    }
}

fn fail(out: &mut Vec<ValidationFailure>, value: String, path: &Path<'_>, constraint: String) {
    out.push(ValidationFailure { value, path: path.render(), constraint });
}

fn check_len(
    len: usize,
    range: Range,
    value: &Value,
    shape: &Shape,
    path: &Path<'_>,
    out: &mut Vec<ValidationFailure>,
) {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    if let Some(min) = range.min
        && len < min
    {
        fail(out, quoted(value, shape), path, format!("Member must have length greater than or equal to {min}"));
    }
    if let Some(max) = range.max
        && len > max
    {
        fail(out, quoted(value, shape), path, format!("Member must have length less than or equal to {max}"));
    }
}

fn check_range(n: f64, range: Range, value: &Value, shape: &Shape, path: &Path<'_>, out: &mut Vec<ValidationFailure>) {
    #[expect(clippy::cast_precision_loss, reason = "model bounds are small")]
    if let Some(min) = range.min
        && n < min as f64
    {
        fail(out, quoted(value, shape), path, format!("Member must have value greater than or equal to {min}"));
    }
    #[expect(clippy::cast_precision_loss, reason = "model bounds are small")]
    if let Some(max) = range.max
        && n > max as f64
    {
        fail(out, quoted(value, shape), path, format!("Member must have value less than or equal to {max}"));
    }
}

fn check(value: &Value, shape: &Shape, path: &Path<'_>, out: &mut Vec<ValidationFailure>) {
    match (&shape.kind, value) {
        (Kind::String(rules), Value::String(s)) => {
            check_len(s.chars().count(), rules.len, value, shape, path, out);
            if !rules.enum_values.is_empty() && !rules.enum_values.contains(&s.as_str()) {
                fail(
                    out,
                    quoted(value, shape),
                    path,
                    format!("Member must satisfy enum value set: [{}]", rules.enum_values.join(", ")),
                );
            }
            if let Some(p) = rules.pattern
                && !p.is_match(s)
            {
                fail(
                    out,
                    quoted(value, shape),
                    path,
                    format!("Member must satisfy regular expression pattern: {}", p.source),
                );
            }
        }
        (Kind::Integer(r) | Kind::Long(r), Value::Integer(i)) => {
            #[expect(clippy::cast_precision_loss, reason = "compared with small bounds")]
            check_range(*i as f64, *r, value, shape, path, out);
        }
        (Kind::Float(r) | Kind::Double(r), Value::Float(f)) => check_range(*f, *r, value, shape, path, out),
        (Kind::Blob(r), Value::Blob(b)) => check_len(b.len(), *r, value, shape, path, out),
        (Kind::List(list), Value::List(items)) => {
            check_len(items.len(), list.len, value, shape, path, out);
            for (i, item) in items.iter().enumerate() {
                check(item, list.member, &Path::Item(path, i + 1), out);
            }
        }
        (Kind::Map(map), Value::Map(entries)) => {
            check_len(entries.len(), map.len, value, shape, path, out);
            for (k, v) in entries {
                let kv = Value::String(k.clone());
                check(&kv, map.key, &Path::Key(path), out);
                check(v, map.value, &Path::Value(path, k), out);
            }
        }
        (Kind::Structure(st), Value::Struct(fields)) => {
            for (member, field) in st.members.iter().zip(fields) {
                let p = Path::Member(path, member.name);
                match field {
                    Some(v) => check(v, member.shape, &p, out),
                    None if member.required => {
                        fail(out, "null".to_owned(), &p, "Member must not be null".to_owned());
                    }
                    None => {}
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Location, Member, Pattern, StringRules, StructShape};

    static NAME: Shape = Shape {
        name: "name",
        kind: Kind::String(StringRules {
            len: Range { min: Some(2), max: Some(4) },
            pattern: Some(&PAT),
            enum_values: &[],
        }),
        sensitive: false,
    };
    static PAT: Pattern = Pattern::new(r"[\w+=,.@-]*");
    static MEMBERS: [Member; 2] = [
        Member {
            name: "RoleArn",
            shape: &NAME,
            location_name: None,
            required: true,
            location: Location::Body,
            flattened: false,
            xml_attribute: false,
            timestamp_format: None,
        },
        Member {
            name: "RoleSessionName",
            shape: &NAME,
            location_name: None,
            required: false,
            location: Location::Body,
            flattened: false,
            xml_attribute: false,
            timestamp_format: None,
        },
    ];
    static REQ: Shape = Shape {
        name: "Req",
        kind: Kind::Structure(StructShape { members: &MEMBERS, error: None, payload: None }),
        sensitive: false,
    };

    fn check_msg(v: Value, expect: &str) {
        let err = validate(&v, &REQ).unwrap_err();
        assert_eq!(err.message, expect);
        // Every failure's member path, in the message's order.
        let named: Vec<&str> = expect.split(" at '").skip(1).filter_map(|s| s.split('\'').next()).collect();
        assert_eq!(err.paths, named);
    }

    #[test]
    fn reports_every_failure_in_aws_wording() {
        check_msg(
            Value::Struct(vec![None, Some(Value::String("a b".into()))]),
            "2 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null; \
             Value 'a b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
        );
        check_msg(
            Value::Struct(vec![Some(Value::String("abcde".into())), None]),
            "1 validation error detected: Value 'abcde' at 'roleArn' failed to satisfy constraint: Member must have length less than or equal to 4",
        );
    }

    #[test]
    fn accepts_valid_input() {
        assert_eq!(validate(&Value::Struct(vec![Some(Value::String("ab".into())), None]), &REQ), Ok(()));
    }
}
