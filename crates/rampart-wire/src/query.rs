//! awsQuery: form-encoded input (`Action`, `Version`, `Name.member.N`, `Name.entry.N.key`) and XML
//! output wrapped in `<OperationResponse>` with `ResponseMetadata`.
//! See <https://smithy.io/2.0/aws/protocols/aws-query-protocol.html>.

use std::collections::HashMap;
use std::fmt::Write as _;

use rampart_shapes::{Kind, Operation, Protocol, Service, Shape, Value};

use crate::WireError;
use crate::timestamp::{format_iso8601, parse_iso8601};
use crate::xml::escape;

/// Most items read from one list or map parameter.
pub const MAX_ITEMS: usize = 10_000;

/// The decoded parameters of a query request.
#[derive(Debug, Default, Clone)]
pub struct Params {
    map: HashMap<String, String>,
}

impl Params {
    /// Reads parameters from the query string and the form body; a body value wins.
    pub fn parse(query: &str, body: &[u8]) -> Self {
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            if !k.starts_with("X-Amz-") {
                map.insert(k.into_owned(), v.into_owned());
            }
        }
        for (k, v) in form_urlencoded::parse(body) {
            map.insert(k.into_owned(), v.into_owned());
        }
        Self { map }
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.map.get(k).map(String::as_str)
    }

    pub fn action(&self) -> Option<&str> {
        self.get("Action")
    }

    pub fn version(&self) -> Option<&str> {
        self.get("Version")
    }

    /// Whether any parameter is `prefix` or starts with `prefix.`.
    fn has_prefix(&self, prefix: &str) -> bool {
        self.map.contains_key(prefix)
            || self.map.keys().any(|k| {
                k.len() > prefix.len() && k.starts_with(prefix) && k.as_bytes().get(prefix.len()) == Some(&b'.')
            })
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") }
}

fn bad(name: &str, what: &str, v: &str) -> WireError {
    WireError::malformed(Protocol::Query, format!("Value '{v}' for parameter {name} is not {what}"))
}

/// Decodes an operation's input structure from query parameters, then checks its constraints.
pub fn decode_input(params: &Params, shape: &Shape) -> Result<Value, WireError> {
    let v = decode(params, "", shape)?.unwrap_or_else(|| empty(shape));
    rampart_shapes::validate(&v, shape).map_err(|e| WireError::validation(Protocol::Query, e))?;
    Ok(v)
}

/// A structure with no members set.
pub fn empty(shape: &Shape) -> Value {
    match &shape.kind {
        Kind::Structure(s) => Value::Struct(vec![None; s.members.len()]),
        _ => Value::Struct(Vec::new()),
    }
}

fn decode(params: &Params, prefix: &str, shape: &Shape) -> Result<Option<Value>, WireError> {
    match &shape.kind {
        Kind::Structure(st) => {
            let mut fields = Vec::with_capacity(st.members.len());
            let mut any = false;
            for m in st.members {
                let v = decode(params, &join(prefix, m.wire_name()), m.shape)?;
                any |= v.is_some();
                fields.push(v);
            }
            Ok(any.then_some(Value::Struct(fields)))
        }
        Kind::List(list) => {
            if params.get(prefix) == Some("") {
                return Ok(Some(Value::List(Vec::new())));
            }
            let base =
                if list.flattened { prefix.to_owned() } else { join(prefix, list.member_name.unwrap_or("member")) };
            if !params.has_prefix(&base) {
                return Ok(None);
            }
            let mut items = Vec::new();
            for i in 1..=MAX_ITEMS {
                match decode(params, &format!("{base}.{i}"), list.member)? {
                    Some(v) => items.push(v),
                    None => break,
                }
            }
            Ok(Some(Value::List(items)))
        }
        Kind::Map(map) => {
            let base = if map.flattened { prefix.to_owned() } else { join(prefix, "entry") };
            if !params.has_prefix(&base) {
                return Ok(None);
            }
            let mut entries: Vec<(String, Value)> = Vec::new();
            for i in 1..=MAX_ITEMS {
                let k = params.get(&format!("{base}.{i}.{}", map.key_name.unwrap_or("key")));
                let Some(k) = k else { break };
                let v = decode(params, &format!("{base}.{i}.{}", map.value_name.unwrap_or("value")), map.value)?;
                entries.retain(|(ek, _)| ek != k);
                entries.push((k.to_owned(), v.unwrap_or(Value::String(String::new()))));
            }
            Ok(Some(Value::Map(entries)))
        }
        _ => match params.get(prefix) {
            None => Ok(None),
            Some(raw) => scalar(prefix, raw, shape).map(Some),
        },
    }
}

fn scalar(name: &str, raw: &str, shape: &Shape) -> Result<Value, WireError> {
    Ok(match &shape.kind {
        Kind::String(_) => Value::String(raw.to_owned()),
        Kind::Integer(_) | Kind::Long(_) => {
            Value::Integer(raw.trim().parse().map_err(|_| bad(name, "an integer", raw))?)
        }
        Kind::Float(_) | Kind::Double(_) => Value::Float(raw.trim().parse().map_err(|_| bad(name, "a number", raw))?),
        Kind::Boolean => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad(name, "a boolean", raw)),
        },
        Kind::Timestamp(_) => {
            Value::Timestamp(parse_iso8601(raw).ok_or_else(|| bad(name, "an ISO 8601 timestamp", raw))?)
        }
        Kind::Blob(_) => {
            Value::Blob(data_encoding::BASE64.decode(raw.as_bytes()).map_err(|_| bad(name, "base64", raw))?)
        }
        Kind::Structure(_) | Kind::List(_) | Kind::Map(_) => return Err(bad(name, "a scalar", raw)),
    })
}

/// Encodes a successful response: `<OpResponse xmlns=…><OpResult>…</OpResult><ResponseMetadata>…`.
pub fn encode_response(service: &Service, op: &Operation, output: Option<&Value>, request_id: &str) -> String {
    let mut out = String::with_capacity(512);
    let ns = service.xml_namespace.map(|n| format!(" xmlns=\"{}\"", escape(n))).unwrap_or_default();
    let _ = write!(out, "<{}Response{ns}>", op.name);
    if let (Some(shape), Some(value)) = (op.output, output) {
        let wrapper = op.result_wrapper.unwrap_or("");
        if !wrapper.is_empty() {
            let _ = write!(out, "<{wrapper}>");
        }
        if let (Kind::Structure(st), Value::Struct(fields)) = (&shape.kind, value) {
            write_members(&mut out, st.members, fields);
        }
        if !wrapper.is_empty() {
            let _ = write!(out, "</{wrapper}>");
        }
    }
    let _ = write!(
        out,
        "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{}Response>",
        escape(request_id),
        op.name
    );
    out
}

pub(crate) fn write_members(out: &mut String, members: &[rampart_shapes::Member], fields: &[Option<Value>]) {
    for (m, f) in members.iter().zip(fields) {
        if let Some(v) = f
            && !m.xml_attribute
        {
            write_value(out, m.wire_name(), m.shape, v, m.flattened);
        }
    }
}

/// The XML Schema instance namespace, whose prefix `xsi` the one attribute member in AWS's
/// models has (S3's `Grantee` `xsi:type`).
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

fn write_value(out: &mut String, name: &str, shape: &Shape, v: &Value, member_flattened: bool) {
    match (&shape.kind, v) {
        (Kind::Structure(st), Value::Struct(fields)) => {
            let _ = write!(out, "<{name}");
            for (m, f) in st.members.iter().zip(fields) {
                if let (true, Some(v)) = (m.xml_attribute, f) {
                    let attribute = m.wire_name();
                    if attribute.starts_with("xsi:") {
                        let _ = write!(out, " xmlns:xsi=\"{XSI}\"");
                    }
                    let text = match v {
                        Value::String(s) => escape(s).into_owned(),
                        _ => String::new(),
                    };
                    let _ = write!(out, " {attribute}=\"{text}\"");
                }
            }
            out.push('>');
            write_members(out, st.members, fields);
            let _ = write!(out, "</{name}>");
        }
        (Kind::List(list), Value::List(items)) => {
            if list.flattened || member_flattened {
                let item_name = list.member_name.unwrap_or(name);
                for item in items {
                    write_value(out, item_name, list.member, item, false);
                }
            } else {
                let _ = write!(out, "<{name}>");
                for item in items {
                    write_value(out, list.member_name.unwrap_or("member"), list.member, item, false);
                }
                let _ = write!(out, "</{name}>");
            }
        }
        (Kind::Map(map), Value::Map(entries)) => {
            let flat = map.flattened || member_flattened;
            if !flat {
                let _ = write!(out, "<{name}>");
            }
            for (k, val) in entries {
                let entry = if flat { name } else { "entry" };
                let _ = write!(out, "<{entry}>");
                write_value(out, map.key_name.unwrap_or("key"), map.key, &Value::String(k.clone()), false);
                write_value(out, map.value_name.unwrap_or("value"), map.value, val, false);
                let _ = write!(out, "</{entry}>");
            }
            if !flat {
                let _ = write!(out, "</{name}>");
            }
        }
        (_, scalar) => {
            let text = match scalar {
                Value::String(s) => escape(s).into_owned(),
                Value::Integer(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Timestamp(t) => format_iso8601(*t),
                Value::Blob(b) => data_encoding::BASE64.encode(b),
                _ => String::new(),
            };
            let _ = write!(out, "<{name}>{text}</{name}>");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_shapes::generated::sts;
    use rampart_shapes::{FromValue, IntoValue};

    fn params(s: &str) -> Params {
        Params::parse("", s.as_bytes())
    }

    #[test]
    fn decodes_nested_lists_and_structures() {
        let p = params(
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&RoleSessionName=s1\
             &DurationSeconds=900&Tags.member.1.Key=team&Tags.member.1.Value=blue&Tags.member.2.Key=env&Tags.member.2.Value=prod\
             &TransitiveTagKeys.member.1=team&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess",
        );
        assert_eq!(p.action(), Some("AssumeRole"));
        let v = decode_input(&p, &sts::SH_AssumeRoleRequest).unwrap();
        let req = sts::AssumeRoleRequest::from_value(v).unwrap();
        assert_eq!(req.role_arn, "arn:aws:iam::123456789012:role/r");
        assert_eq!(req.duration_seconds, Some(900));
        let tags = req.tags.unwrap();
        assert_eq!((tags[1].key.as_str(), tags[1].value.as_str()), ("env", "prod"));
        assert_eq!(req.transitive_tag_keys.unwrap(), ["team"]);
        assert_eq!(req.policy_arns.unwrap()[0].arn.as_deref(), Some("arn:aws:iam::aws:policy/ReadOnlyAccess"));
        assert_eq!(req.external_id, None);
    }

    #[test]
    fn missing_and_invalid_members_are_validation_errors() {
        let e = decode_input(&params("Action=AssumeRole&RoleSessionName=a"), &sts::SH_AssumeRoleRequest).unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert_eq!(
            e.message,
            "2 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null; \
             Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"
        );
        let e = decode_input(
            &params("RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&RoleSessionName=ok&DurationSeconds=x"),
            &sts::SH_AssumeRoleRequest,
        )
        .unwrap_err();
        assert_eq!((e.code.as_ref(), e.status), ("MalformedInput", 400));
    }

    #[test]
    fn empty_list_is_an_empty_value() {
        let v = decode(&params("Tags="), "Tags", &sts::SH_tagListType).unwrap();
        assert_eq!(v, Some(Value::List(vec![])));
    }

    #[test]
    fn encodes_result_wrapper_and_request_id() {
        let out = sts::GetCallerIdentityResponse {
            user_id: Some("123456789012".into()),
            account: Some("123456789012".into()),
            arn: Some("arn:aws:iam::123456789012:root".into()),
        };
        let op = sts::SERVICE.operation("GetCallerIdentity").unwrap();
        let xml = encode_response(&sts::SERVICE, op, Some(&out.into_value()), "req-1");
        assert_eq!(
            xml,
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>\
             <UserId>123456789012</UserId><Account>123456789012</Account><Arn>arn:aws:iam::123456789012:root</Arn>\
             </GetCallerIdentityResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        );
    }
}
