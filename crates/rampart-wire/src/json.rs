//! awsJson 1.0/1.1 bodies: members by name, timestamps as epoch seconds, blobs as base64.
//! See <https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html>.

use rampart_shapes::{Kind, Protocol, Shape, TimestampFormat, Value};
use serde_json::{Map, Value as Json};

use crate::WireError;
use crate::timestamp::{format_iso8601, from_epoch, parse_iso8601, parse_rfc822, to_epoch};

/// Deepest nesting accepted in a JSON body.
const MAX_DEPTH: usize = 64;

fn bad(path: &str, what: &str) -> WireError {
    WireError::malformed(Protocol::Json, format!("Value at '{path}' is not {what}"))
}

/// Decodes an operation's input from a JSON body (empty means `{}`), then checks its constraints.
pub fn decode_input(body: &[u8], shape: &Shape) -> Result<Value, WireError> {
    let json: Json = if body.iter().all(u8::is_ascii_whitespace) {
        Json::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| {
            WireError::malformed(Protocol::Json, format!("Could not parse the request body as JSON: {e}"))
        })?
    };
    if !json.is_object() {
        return Err(WireError::malformed(Protocol::Json, "The request body must be a JSON object"));
    }
    let v = decode(&json, shape, "", 0, Names::Model)?;
    rampart_shapes::validate(&v, shape).map_err(|e| WireError::validation(Protocol::Json, e))?;
    Ok(v)
}

/// How a structure's members are named in a JSON body: awsJson uses the model's member names
/// and ignores `jsonName`; rest-json uses `jsonName` (the models' `locationName`).
/// See <https://smithy.io/2.0/spec/protocol-traits.html#jsonname-trait>.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Names {
    Model,
    Json,
}

impl Names {
    fn of(self, m: &rampart_shapes::Member) -> &'static str {
        match self {
            Names::Model => m.name,
            Names::Json => m.wire_name(),
        }
    }
}

pub(crate) fn decode(json: &Json, shape: &Shape, path: &str, depth: usize, names: Names) -> Result<Value, WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::malformed(Protocol::Json, "The request body is nested too deeply"));
    }
    Ok(match (&shape.kind, json) {
        (Kind::Structure(st), Json::Object(obj)) => {
            let mut fields = Vec::with_capacity(st.members.len());
            for m in st.members {
                fields.push(match obj.get(names.of(m)) {
                    None | Some(Json::Null) => None,
                    Some(j) => Some(decode(j, m.shape, names.of(m), depth + 1, names)?),
                });
            }
            Value::Struct(fields)
        }
        (Kind::List(list), Json::Array(items)) => Value::List(
            items
                .iter()
                .filter(|j| !j.is_null())
                .map(|j| decode(j, list.member, path, depth + 1, names))
                .collect::<Result<_, _>>()?,
        ),
        (Kind::Map(map), Json::Object(obj)) => Value::Map(
            obj.iter()
                .filter(|(_, j)| !j.is_null())
                .map(|(k, j)| Ok((k.clone(), decode(j, map.value, path, depth + 1, names)?)))
                .collect::<Result<_, WireError>>()?,
        ),
        (Kind::String(_), Json::String(s)) => Value::String(s.clone()),
        (Kind::Integer(_) | Kind::Long(_), Json::Number(n)) => {
            Value::Integer(n.as_i64().ok_or_else(|| bad(path, "an integer"))?)
        }
        (Kind::Float(_) | Kind::Double(_), Json::Number(n)) => {
            Value::Float(n.as_f64().ok_or_else(|| bad(path, "a number"))?)
        }
        (Kind::Boolean, Json::Bool(b)) => Value::Bool(*b),
        (Kind::Timestamp(_), Json::Number(n)) => {
            Value::Timestamp(n.as_f64().and_then(from_epoch).ok_or_else(|| bad(path, "a timestamp"))?)
        }
        (Kind::Timestamp(_), Json::String(s)) => {
            Value::Timestamp(parse_iso8601(s).or_else(|| parse_rfc822(s)).ok_or_else(|| bad(path, "a timestamp"))?)
        }
        (Kind::Blob(_), Json::String(s)) => {
            Value::Blob(data_encoding::BASE64.decode(s.as_bytes()).map_err(|_| bad(path, "base64"))?)
        }
        (kind, _) => return Err(bad(path, kind_name(kind))),
    })
}

fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::String(_) => "a string",
        Kind::Integer(_) | Kind::Long(_) => "an integer",
        Kind::Float(_) | Kind::Double(_) => "a number",
        Kind::Boolean => "a boolean",
        Kind::Timestamp(_) => "a timestamp",
        Kind::Blob(_) => "a base64 string",
        Kind::List(_) => "a list",
        Kind::Map(_) => "a map",
        Kind::Structure(_) => "an object",
    }
}

/// A stored shape (a record's body kept in AWS's wire JSON) as its generated type; `None` when
/// it no longer decodes.
pub fn from_wire<T: rampart_shapes::FromValue + rampart_shapes::HasShape>(body: &[u8]) -> Option<T> {
    T::from_value(decode_input(body, T::SHAPE).ok()?).ok()
}

/// A generated type in AWS's wire JSON, for storing.
pub fn to_wire<T: rampart_shapes::IntoValue + rampart_shapes::HasShape>(value: T) -> String {
    encode(&value.into_value(), T::SHAPE)
}

/// A stored shape kept in rest-json's naming (members by `jsonName`, as GuardDuty's criteria
/// name a finding's fields) as its generated type; `None` when it no longer decodes.
pub fn from_json_names<T: rampart_shapes::FromValue + rampart_shapes::HasShape>(json: &Json) -> Option<T> {
    T::from_value(decode(json, T::SHAPE, "", 0, Names::Json).ok()?).ok()
}

/// A generated type in rest-json's naming, as a JSON value.
pub fn to_json_names<T: rampart_shapes::IntoValue + rampart_shapes::HasShape>(value: T) -> Json {
    serde_json::from_str(&encode_named(&value.into_value(), T::SHAPE, Names::Json)).unwrap_or(Json::Null)
}

/// Encodes an output value as a JSON body, written straight out (members in the model's order;
/// blobs base64-encoded in place) rather than through a `serde_json::Value`.
pub fn encode(value: &Value, shape: &Shape) -> String {
    encode_named(value, shape, Names::Model)
}

pub(crate) fn encode_named(value: &Value, shape: &Shape, names: Names) -> String {
    let mut out = String::with_capacity(256);
    write_json(&mut out, value, shape, None, names);
    out
}

fn write_json(out: &mut String, value: &Value, shape: &Shape, ts: Option<TimestampFormat>, names: Names) {
    match (&shape.kind, value) {
        (Kind::Structure(st), Value::Struct(fields)) => {
            out.push('{');
            let mut first = true;
            for (m, f) in st.members.iter().zip(fields) {
                if let Some(v) = f {
                    if !std::mem::take(&mut first) {
                        out.push(',');
                    }
                    write_str(out, names.of(m));
                    out.push(':');
                    write_json(out, v, m.shape, m.timestamp_format, names);
                }
            }
            out.push('}');
        }
        (Kind::List(list), Value::List(items)) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, v, list.member, None, names);
            }
            out.push(']');
        }
        (Kind::Map(map), Value::Map(entries)) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_json(out, v, map.value, None, names);
            }
            out.push('}');
        }
        (_, Value::String(s)) => write_str(out, s),
        (_, Value::Blob(b)) => {
            out.push('"');
            data_encoding::BASE64.encode_append(b, out);
            out.push('"');
        }
        _ => out.push_str(&to_json(value, shape, ts).to_string()),
    }
}

/// A JSON string: quotes, backslashes and control characters escaped.
fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    // Every byte to escape is ASCII, so slicing at one never splits a character.
    for (i, b) in s.bytes().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..0x20 => "",
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or_default());
        if escaped.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(escaped);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

fn to_json(value: &Value, shape: &Shape, ts: Option<TimestampFormat>) -> Json {
    match (&shape.kind, value) {
        (Kind::Structure(st), Value::Struct(fields)) => {
            let mut obj = Map::new();
            for (m, f) in st.members.iter().zip(fields) {
                if let Some(v) = f {
                    obj.insert(m.name.to_owned(), to_json(v, m.shape, m.timestamp_format));
                }
            }
            Json::Object(obj)
        }
        (Kind::List(list), Value::List(items)) => {
            Json::Array(items.iter().map(|v| to_json(v, list.member, None)).collect())
        }
        (Kind::Map(map), Value::Map(entries)) => {
            Json::Object(entries.iter().map(|(k, v)| (k.clone(), to_json(v, map.value, None))).collect())
        }
        (Kind::Timestamp(shape_ts), Value::Timestamp(t)) => match ts.or(*shape_ts) {
            Some(TimestampFormat::Iso8601) => Json::String(format_iso8601(*t)),
            _ => serde_json::Number::from_f64(to_epoch(*t)).map_or(Json::Null, Json::Number),
        },
        (_, Value::String(s)) => Json::String(s.clone()),
        (_, Value::Integer(i)) => Json::from(*i),
        (_, Value::Float(f)) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        (_, Value::Bool(b)) => Json::Bool(*b),
        (_, Value::Blob(b)) => Json::String(data_encoding::BASE64.encode(b)),
        _ => Json::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_shapes::generated::sts;
    use rampart_shapes::{FromValue, IntoValue};

    #[test]
    fn encoded_output_is_the_json_of_the_value() {
        let out = sts::GetCallerIdentityResponse {
            user_id: Some("quote \" back \\ nl \n ctl \u{1} é".into()),
            account: Some("123456789012".into()),
            arn: None,
        };
        let text = encode(&out.into_value(), &sts::SH_GetCallerIdentityResponse);
        let parsed: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"UserId": "quote \" back \\ nl \n ctl \u{1} é", "Account": "123456789012"})
        );
        let creds = sts::Credentials {
            access_key_id: "A".into(),
            secret_access_key: "S".into(),
            session_token: "T".into(),
            expiration: time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        };
        let parsed: Json = serde_json::from_str(&encode(&creds.into_value(), &sts::SH_Credentials)).unwrap();
        assert_eq!(parsed["Expiration"], serde_json::json!(1_700_000_000.0));
    }

    #[test]
    fn decodes_members_by_name_and_checks_types() {
        let body = br#"{"RoleArn":"arn:aws:iam::123456789012:role/r","RoleSessionName":"s1","DurationSeconds":900,"Tags":[{"Key":"k","Value":"v"}],"Unknown":1}"#;
        let req = sts::AssumeRoleRequest::from_value(decode_input(body, &sts::SH_AssumeRoleRequest).unwrap()).unwrap();
        assert_eq!(req.duration_seconds, Some(900));
        assert_eq!(req.tags.unwrap()[0].key, "k");
        for (body, code) in [
            (&br#"{"RoleArn":5}"#[..], "SerializationException"),
            (b"[1]", "SerializationException"),
            (b"{", "SerializationException"),
            (b"{}", "ValidationException"),
        ] {
            assert_eq!(
                decode_input(body, &sts::SH_AssumeRoleRequest).unwrap_err().code,
                code,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            decode_input(body.as_bytes(), &sts::SH_AssumeRoleRequest).unwrap_err().code,
            "SerializationException"
        );
    }

    #[test]
    fn encodes_timestamps_as_epoch_seconds() {
        let creds = sts::Credentials {
            access_key_id: "ASIA".into(),
            secret_access_key: "s".into(),
            session_token: "t".into(),
            expiration: time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        };
        let json: Json = serde_json::from_str(&encode(&creds.into_value(), &sts::SH_Credentials)).unwrap();
        assert_eq!(json["Expiration"], serde_json::json!(1_700_000_000.0));
        assert_eq!(json["AccessKeyId"], "ASIA");
    }
}

/// The CloudTrail view of a value: members named with a lower-case first letter (as CloudTrail's
/// `requestParameters` and `responseElements` are), sensitive values replaced by `redacted`, binary
/// members left out (CloudTrail records no ciphertexts, wrapped key material or import tokens).
pub fn audit_json(value: &Value, shape: &Shape, redacted: &str) -> Json {
    if shape.sensitive {
        return Json::String(redacted.to_owned());
    }
    match (&shape.kind, value) {
        (Kind::Structure(st), Value::Struct(fields)) => {
            let mut obj = Map::new();
            for (m, f) in st.members.iter().zip(fields) {
                if let Some(v) = f.as_ref().filter(|v| !matches!(v, Value::Blob(_))) {
                    let mut chars = m.name.chars();
                    let name: String =
                        chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default();
                    // A session token is a credential though the model does not mark it
                    // sensitive: it is hidden as the secret key is.
                    let value = if m.name == "SessionToken" {
                        Json::String(redacted.to_owned())
                    } else {
                        audit_json(v, m.shape, redacted)
                    };
                    obj.insert(name, value);
                }
            }
            Json::Object(obj)
        }
        (Kind::List(list), Value::List(items)) => {
            Json::Array(items.iter().map(|v| audit_json(v, list.member, redacted)).collect())
        }
        (Kind::Map(map), Value::Map(entries)) => {
            Json::Object(entries.iter().map(|(k, v)| (k.clone(), audit_json(v, map.value, redacted))).collect())
        }
        (_, Value::Timestamp(t)) => Json::String(format_iso8601(*t)),
        _ => to_json(value, shape, None),
    }
}

#[cfg(test)]
mod audit_tests {
    use super::*;
    use rampart_shapes::IntoValue;
    use rampart_shapes::generated::sts;

    #[test]
    fn secrets_are_redacted_and_names_lower_camel() {
        let out = sts::AssumeRoleResponse {
            credentials: Some(sts::Credentials {
                access_key_id: "ASIAEXAMPLE".into(),
                secret_access_key: "very-secret".into(),
                session_token: "token".into(),
                expiration: time::OffsetDateTime::from_unix_timestamp(0).unwrap(),
            }),
            assumed_role_user: None,
            packed_policy_size: Some(6),
            source_identity: None,
        };
        let j = audit_json(&out.into_value(), &sts::SH_AssumeRoleResponse, "HIDDEN");
        assert_eq!(j["credentials"]["accessKeyId"], "ASIAEXAMPLE");
        assert_eq!(j["credentials"]["secretAccessKey"], "HIDDEN");
        assert_eq!(j["credentials"]["sessionToken"], "HIDDEN");
        assert_eq!(j["credentials"]["expiration"], "1970-01-01T00:00:00Z");
        assert_eq!(j["packedPolicySize"], 6);
        assert!(!j.to_string().contains("very-secret") && !j.to_string().contains("\"token\""));
    }

    #[test]
    fn binary_members_are_left_out() {
        use rampart_shapes::generated::kms;
        let input = kms::DecryptRequest {
            ciphertext_blob: Some(rampart_shapes::Blob(b"opaque-ciphertext".to_vec())),
            encryption_context: Some([("purpose".to_owned(), "test".to_owned())].into_iter().collect()),
            grant_tokens: None,
            key_id: Some("alias/app".into()),
            encryption_algorithm: None,
            recipient: None,
            dry_run: None,
            dry_run_modifiers: None,
        };
        let j = audit_json(&input.into_value(), &kms::SH_DecryptRequest, "HIDDEN");
        assert_eq!(j["keyId"], "alias/app");
        assert_eq!(j["encryptionContext"]["purpose"], "test");
        assert!(j.get("ciphertextBlob").is_none(), "{j}");
    }
}
