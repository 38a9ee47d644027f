//! rest-json (GuardDuty): input bound from the URI labels, the query string, headers and a JSON
//! body whose members go by their `jsonName`; output to a status, headers and a JSON body.
//! See <https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html>.

use rampart_shapes::{Kind, Location, Operation, Protocol, Shape, Value};
use serde_json::{Map, Value as Json};

use crate::WireError;
use crate::json::{Names, decode, encode_named};
use crate::restxml::{HttpRequest, HttpResponse, bind_http, put_http_member};

fn malformed(message: impl Into<String>) -> WireError {
    WireError::malformed(Protocol::RestJson, message)
}

fn parse_body(body: &[u8]) -> Result<Json, WireError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Json::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(|e| malformed(format!("Could not parse the request body as JSON: {e}")))
}

/// Decodes an operation's input structure, then checks its constraints.
pub fn decode_input(shape: &Shape, req: &HttpRequest<'_>) -> Result<Value, WireError> {
    let Kind::Structure(st) = &shape.kind else { return Ok(Value::Struct(Vec::new())) };
    // A label, parameter or header that does not parse is the request's fault, as a body is.
    let mut fields = bind_http(st.members, req).map_err(|e| malformed(e.message))?;
    match st.payload.and_then(|p| st.member_index(p)) {
        Some(i) => {
            if let (Some(m), Some(field)) = (st.members.get(i), fields.get_mut(i)) {
                *field = match &m.shape.kind {
                    Kind::Blob(_) => Some(Value::Blob(req.body.to_vec())),
                    Kind::String(_) => Some(Value::String(
                        String::from_utf8(req.body.to_vec()).map_err(|_| malformed("The body is not UTF-8."))?,
                    )),
                    _ if req.body.iter().all(u8::is_ascii_whitespace) => None,
                    _ => Some(decode(&parse_body(req.body)?, m.shape, m.wire_name(), 0, Names::Json)?),
                };
            }
        }
        None if st.members.iter().any(|m| m.location == Location::Body) => {
            let json = parse_body(req.body)?;
            let Json::Object(obj) = &json else { return Err(malformed("The request body must be a JSON object")) };
            for (m, field) in st.members.iter().zip(fields.iter_mut()) {
                if m.location == Location::Body
                    && let Some(j) = obj.get(m.wire_name()).filter(|j| !j.is_null())
                {
                    *field = Some(decode(j, m.shape, m.wire_name(), 1, Names::Json)?);
                }
            }
        }
        None => {}
    }
    let v = Value::Struct(fields);
    rampart_shapes::validate(&v, shape).map_err(|e| WireError::validation(Protocol::RestJson, e))?;
    Ok(v)
}

/// Encodes an operation's output: the status (the model's `responseCode`, or a status-code
/// member), header members, and a JSON body of the body members (always an object, `{}` when
/// empty) or of the payload member.
pub fn encode_output(op: &Operation, output: &Value) -> HttpResponse {
    let mut resp = HttpResponse {
        status: op.response_code,
        headers: Vec::new(),
        content_type: Some("application/json".to_owned()),
        body: b"{}".to_vec(),
    };
    let (Some(shape), Value::Struct(fields)) = (op.output, output) else { return resp };
    let Kind::Structure(st) = &shape.kind else { return resp };
    let mut body = Vec::with_capacity(fields.len());
    for (m, f) in st.members.iter().zip(fields) {
        match (m.location, f) {
            (Location::Body, f) => body.push(f.clone()),
            (_, f) => {
                body.push(None);
                if let Some(v) = f {
                    put_http_member(&mut resp, m, v);
                }
            }
        }
    }
    match st.payload.and_then(|p| st.member_index(p)) {
        Some(i) => match (st.members.get(i), fields.get(i).and_then(Option::as_ref)) {
            (Some(_), Some(Value::Blob(bytes))) => {
                resp.body.clone_from(bytes);
                resp.content_type = Some("application/octet-stream".to_owned());
            }
            (Some(_), Some(Value::String(s))) => {
                resp.body = s.clone().into_bytes();
                resp.content_type = Some("text/plain".to_owned());
            }
            (Some(m), Some(v)) => resp.body = encode_named(v, m.shape, Names::Json).into_bytes(),
            _ => {}
        },
        None => resp.body = encode_named(&Value::Struct(body), shape, Names::Json).into_bytes(),
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_shapes::Value;

    fn op(name: &str) -> &'static Operation {
        rampart_shapes::services()
            .iter()
            .flat_map(|s| s.operations.iter())
            .find(|o| o.name == name && o.request_uri.starts_with("/detector"))
            .unwrap()
    }

    #[test]
    fn binds_labels_and_json_names() {
        let op = op("CreateFilter");
        let body =
            br#"{"name":"quiet","action":"ARCHIVE","rank":2,"findingCriteria":{"criterion":{"severity":{"gte":4}}}}"#;
        let labels = [("DetectorId", "12abc34d567e8fa901bc2d34e56789f0")];
        let req = HttpRequest { labels: &labels, query: "", headers: &[], body };
        let Value::Struct(fields) = decode_input(op.input.unwrap(), &req).unwrap() else { panic!() };
        let text: Vec<String> = fields.iter().flatten().map(|v| format!("{v:?}")).collect();
        assert!(text.iter().any(|t| t.contains("12abc34d567e8fa901bc2d34e56789f0")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("quiet")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("ARCHIVE")), "{text:?}");
        // A member under its model name is not its jsonName: the required Name is then missing.
        let body = br#"{"Name":"quiet","FindingCriteria":{}}"#;
        let req = HttpRequest { labels: &labels, query: "", headers: &[], body };
        assert_eq!(decode_input(op.input.unwrap(), &req).unwrap_err().code, "ValidationException");
        for body in [&b"[1]"[..], b"{", br#"{"name":5}"#] {
            let req = HttpRequest { labels: &labels, query: "", headers: &[], body };
            assert_eq!(decode_input(op.input.unwrap(), &req).unwrap_err().code, "SerializationException");
        }
    }

    #[test]
    fn binds_query_parameters() {
        let op = op("ListFilters");
        let labels = [("DetectorId", "d")];
        let req = HttpRequest { labels: &labels, query: "maxResults=x", headers: &[], body: b"" };
        assert_eq!(decode_input(op.input.unwrap(), &req).unwrap_err().code, "SerializationException");
        let req = HttpRequest { labels: &labels, query: "maxResults=7&nextToken=t", headers: &[], body: b"" };
        let v = decode_input(op.input.unwrap(), &req).unwrap();
        assert!(format!("{v:?}").contains("Integer(7)"), "{v:?}");
    }

    #[test]
    fn encodes_body_members_by_json_name() {
        let op = op("CreateDetector");
        let Some(Kind::Structure(st)) = op.output.map(|s| &s.kind) else { panic!() };
        let mut fields = vec![None; st.members.len()];
        let i = st.members.iter().position(|m| m.name == "DetectorId").unwrap();
        fields[i] = Some(Value::String("d1".into()));
        let r = encode_output(op, &Value::Struct(fields));
        assert_eq!(r.status, 200);
        assert_eq!(serde_json::from_slice::<Json>(&r.body).unwrap(), serde_json::json!({"detectorId": "d1"}));
        let tag = rampart_shapes::services()
            .iter()
            .flat_map(|s| s.operations.iter())
            .find(|o| o.name == "TagResource" && o.request_uri == "/tags/{ResourceArn}")
            .unwrap();
        assert_eq!(encode_output(tag, &Value::Struct(Vec::new())).status, 204);
    }
}
