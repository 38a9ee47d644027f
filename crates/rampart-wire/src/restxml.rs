//! rest-xml (S3): input bound from the URI labels, the query string, headers and the body (an XML
//! document, or the raw bytes of a payload member); output to a status, headers and an XML or raw
//! body.
//! See <https://smithy.io/2.0/aws/protocols/aws-restxml-protocol.html>.

use std::fmt::Write as _;

use quick_xml::events::Event;
use rampart_shapes::{Kind, Location, Member, Operation, Protocol, Shape, Value};

use crate::WireError;
use crate::query::write_members;
use crate::timestamp::{parse_iso8601, parse_rfc822};
use crate::xml::escape;

/// Deepest XML nesting read from a request body.
pub const MAX_DEPTH: usize = 32;
/// Most elements read from a request body.
pub const MAX_ELEMENTS: usize = 10_000;

/// The parts of an HTTP request that rest-xml binds members from.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// URI labels from [`crate::rest::route`], still percent-encoded.
    pub labels: &'a [(&'static str, &'a str)],
    pub query: &'a str,
    pub headers: &'a [(&'a str, &'a [u8])],
    pub body: &'a [u8],
}

/// A rest-xml response, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names as the model spells them (`ETag`, `x-amz-meta-color`).
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

fn malformed(message: impl Into<String>) -> WireError {
    WireError::new("MalformedXML", 400, message)
}

fn invalid_argument(message: impl Into<String>) -> WireError {
    WireError::new("InvalidArgument", 400, message)
}

/// Decodes an operation's input structure, then checks its constraints.
pub fn decode_input(shape: &Shape, req: &HttpRequest<'_>) -> Result<Value, WireError> {
    let Kind::Structure(st) = &shape.kind else { return Ok(Value::Struct(Vec::new())) };
    let mut fields = bind_http(st.members, req)?;
    match st.payload {
        Some(payload) => {
            if let Some(i) = st.member_index(payload)
                && let (Some(m), Some(field)) = (st.members.get(i), fields.get_mut(i))
            {
                *field = match &m.shape.kind {
                    Kind::Blob(_) => Some(Value::Blob(req.body.to_vec())),
                    Kind::String(_) => Some(Value::String(
                        String::from_utf8(req.body.to_vec()).map_err(|_| malformed("The body is not UTF-8."))?,
                    )),
                    _ if req.body.iter().all(u8::is_ascii_whitespace) => None,
                    _ => Some(from_xml(&parse(req.body)?, m.shape)?),
                };
            }
        }
        None => {
            let has_body_members = st.members.iter().any(|m| m.location == Location::Body);
            if has_body_members && !req.body.iter().all(u8::is_ascii_whitespace) {
                let root = parse(req.body)?;
                for (m, field) in st.members.iter().zip(fields.iter_mut()) {
                    if m.location == Location::Body
                        && let Some(child) = root.children.iter().find(|c| c.name == m.wire_name())
                    {
                        *field = Some(from_xml(child, m.shape)?);
                    }
                }
            }
        }
    }
    let v = Value::Struct(fields);
    rampart_shapes::validate(&v, shape).map_err(|e| WireError::validation(Protocol::RestXml, e))?;
    Ok(v)
}

/// The members an HTTP request binds outside its body: URI labels, query parameters and headers
/// (shared by rest-xml and rest-json); body members are left `None`.
pub(crate) fn bind_http(members: &[Member], req: &HttpRequest<'_>) -> Result<Vec<Option<Value>>, WireError> {
    let query: Vec<(String, String)> = form_urlencoded::parse(req.query.as_bytes()).into_owned().collect();
    let mut fields: Vec<Option<Value>> = vec![None; members.len()];
    for (m, field) in members.iter().zip(fields.iter_mut()) {
        *field = match m.location {
            Location::Uri => match req.labels.iter().find(|(l, _)| *l == m.wire_name()) {
                Some((_, raw)) => {
                    let text = percent_encoding::percent_decode_str(raw)
                        .decode_utf8()
                        .map_err(|_| invalid_argument(format!("{} is not valid UTF-8", m.wire_name())))?;
                    Some(scalar(m, &text)?)
                }
                None => None,
            },
            Location::QueryString => {
                let mut values = query.iter().filter(|(k, _)| k == m.wire_name()).map(|(_, v)| v.as_str());
                match &m.shape.kind {
                    Kind::List(list) => {
                        let items: Vec<Value> =
                            values.map(|v| scalar_of(m.wire_name(), list.member, v)).collect::<Result<_, _>>()?;
                        (!items.is_empty()).then_some(Value::List(items))
                    }
                    Kind::Map(_) => None,
                    _ => values.next().map(|v| scalar(m, v)).transpose()?,
                }
            }
            Location::Header => match (header(req.headers, m.wire_name()), &m.shape.kind) {
                // A list header is its items separated by commas (GetObjectAttributes'
                // `x-amz-object-attributes: ETag,Checksum`), over every line of that name.
                (Some(_), Kind::List(list)) => {
                    let lines = req.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(m.wire_name()));
                    let items: Vec<Value> = lines
                        .filter_map(|(_, v)| std::str::from_utf8(v).ok())
                        .flat_map(header_items)
                        .map(|v| scalar_of(m.wire_name(), list.member, &v))
                        .collect::<Result<_, _>>()?;
                    (!items.is_empty()).then_some(Value::List(items))
                }
                (Some(raw), _) => Some(scalar(m, raw)?),
                (None, _) => None,
            },
            Location::Headers => {
                let prefix = m.wire_name().to_ascii_lowercase();
                let entries: Vec<(String, Value)> = req
                    .headers
                    .iter()
                    .filter_map(|(k, v)| {
                        let rest = k.to_ascii_lowercase().strip_prefix(&prefix)?.to_owned();
                        Some((rest, Value::String(String::from_utf8_lossy(v).into_owned())))
                    })
                    .collect();
                (!entries.is_empty()).then_some(Value::Map(entries))
            }
            Location::StatusCode | Location::Body => None,
        };
    }
    Ok(fields)
}

/// A header's value by case-insensitive name, if it is text.
fn header<'a>(headers: &[(&str, &'a [u8])], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// The items of a list header: separated by commas, each trimmed, a double-quoted one unquoted
/// (it may hold commas), as Smithy's HTTP bindings write them.
/// See <https://smithy.io/2.0/spec/http-bindings.html#httpheader-trait>.
fn header_items(raw: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut rest = raw.trim_start();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut item = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => item.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => item.push(c),
                }
            }
            items.push(item);
            rest = quoted.get(end..).unwrap_or_default();
            rest = rest.trim_start().strip_prefix(',').unwrap_or(rest).trim_start();
        } else {
            let (item, after) = rest.split_once(',').unwrap_or((rest, ""));
            if !item.trim().is_empty() {
                items.push(item.trim().to_owned());
            }
            rest = after.trim_start();
        }
    }
    items
}

fn scalar(m: &Member, raw: &str) -> Result<Value, WireError> {
    scalar_of(m.wire_name(), m.shape, raw)
}

fn scalar_of(name: &str, shape: &Shape, raw: &str) -> Result<Value, WireError> {
    let bad = |what: &str| invalid_argument(format!("Value '{raw}' for {name} is not {what}"));
    Ok(match &shape.kind {
        Kind::String(_) => Value::String(raw.to_owned()),
        Kind::Integer(_) | Kind::Long(_) => Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?),
        Kind::Float(_) | Kind::Double(_) => Value::Float(raw.trim().parse().map_err(|_| bad("a number"))?),
        Kind::Boolean => match raw.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad("a boolean")),
        },
        Kind::Timestamp(_) => Value::Timestamp(
            parse_rfc822(raw.trim()).or_else(|| parse_iso8601(raw.trim())).ok_or_else(|| bad("a date"))?,
        ),
        Kind::Blob(_) => Value::Blob(data_encoding::BASE64.decode(raw.as_bytes()).map_err(|_| bad("base64"))?),
        Kind::List(_) | Kind::Map(_) | Kind::Structure(_) => return Err(bad("a scalar")),
    })
}

/// One element of a parsed XML body.
#[derive(Debug, Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
    /// Its attributes but namespace declarations, by local name (`xsi:type` as `type`).
    attributes: Vec<(String, String)>,
}

/// An element's attributes but namespace declarations, by local name.
fn attributes(e: &quick_xml::events::BytesStart<'_>) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for a in e.attributes() {
        let a = a.ok()?;
        if a.key.as_namespace_binding().is_some() {
            continue;
        }
        let name = a.key.local_name().as_ref().to_owned();
        out.push((name, a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok()?.into_owned()));
    }
    Some(out)
}

/// The local part of a qualified name (`type` of `xsi:type`).
fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// Parses a whole XML document into its root element, bounded in depth and size.
fn parse(body: &[u8]) -> Result<Element, WireError> {
    let text = std::str::from_utf8(body).map_err(|_| malformed("The XML you provided was not well-formed."))?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut count = 0usize;
    let ill_formed =
        || malformed("The XML you provided was not well-formed or did not validate against our published schema.");
    loop {
        match reader.read_event().map_err(|_| ill_formed())? {
            Event::Start(e) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(ill_formed());
                }
                let name = e.local_name().as_ref().to_owned();
                let attributes = attributes(&e).ok_or_else(ill_formed)?;
                stack.push(Element { name, attributes, ..Element::default() });
            }
            Event::Empty(e) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(ill_formed());
                }
                let name = e.local_name().as_ref().to_owned();
                let attributes = attributes(&e).ok_or_else(ill_formed)?;
                let el = Element { name, attributes, ..Element::default() };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    match r.resolve_char_ref().map_err(|_| ill_formed())? {
                        Some(c) => top.text.push(c),
                        None => {
                            top.text.push_str(quick_xml::escape::resolve_predefined_entity(&r).ok_or_else(ill_formed)?)
                        }
                    }
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or_else(ill_formed)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Eof => return Err(ill_formed()),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
}

/// Reads an element as a value of `shape`.
fn from_xml(el: &Element, shape: &Shape) -> Result<Value, WireError> {
    Ok(match &shape.kind {
        Kind::Structure(st) => Value::Struct(
            st.members
                .iter()
                .map(|m| match &m.shape.kind {
                    // S3's `<Grantee xsi:type="CanonicalUser">`.
                    _ if m.xml_attribute => el
                        .attributes
                        .iter()
                        .find(|(name, _)| name == local(m.wire_name()))
                        .map(|(_, text)| scalar_of(m.wire_name(), m.shape, text))
                        .transpose(),
                    Kind::List(list) if m.flattened || list.flattened => {
                        let items: Vec<Value> = el
                            .children
                            .iter()
                            .filter(|c| c.name == m.wire_name())
                            .map(|c| from_xml(c, list.member))
                            .collect::<Result<_, _>>()?;
                        Ok((!items.is_empty()).then_some(Value::List(items)))
                    }
                    _ => el.children.iter().find(|c| c.name == m.wire_name()).map(|c| from_xml(c, m.shape)).transpose(),
                })
                .collect::<Result<_, _>>()?,
        ),
        Kind::List(list) => Value::List(
            el.children
                .iter()
                .filter(|c| c.name == list.member_name.unwrap_or("member"))
                .map(|c| from_xml(c, list.member))
                .collect::<Result<_, _>>()?,
        ),
        Kind::Map(map) => {
            let mut entries = Vec::new();
            for entry in el.children.iter().filter(|c| c.name == "entry") {
                let k = entry.children.iter().find(|c| c.name == map.key_name.unwrap_or("key"));
                let v = entry.children.iter().find(|c| c.name == map.value_name.unwrap_or("value"));
                if let (Some(k), Some(v)) = (k, v) {
                    entries.push((k.text.clone(), from_xml(v, map.value)?));
                }
            }
            Value::Map(entries)
        }
        _ => scalar_of(&el.name, shape, &el.text)?,
    })
}

/// RFC 822 as HTTP dates are written: `Wed, 21 Oct 2015 07:28:00 GMT`.
pub fn http_date(t: time::OffsetDateTime) -> String {
    const FMT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.to_offset(time::UtcOffset::UTC).format(FMT).unwrap_or_default()
}

fn header_text(v: &Value) -> Option<String> {
    Some(match v {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Timestamp(t) => http_date(*t),
        Value::Blob(b) => data_encoding::BASE64.encode(b),
        Value::List(items) => items.iter().filter_map(header_text).collect::<Vec<_>>().join(","),
        Value::Map(_) | Value::Struct(_) => return None,
    })
}

/// A header member's text: a timestamp in the format its member or shape names (S3's
/// `x-amz-object-lock-retain-until-date` is ISO 8601), else as [`header_text`] writes it.
fn header_value(m: &Member, v: &Value) -> Option<String> {
    let Value::Timestamp(t) = v else { return header_text(v) };
    let format = m.timestamp_format.or(match m.shape.kind {
        Kind::Timestamp(f) => f,
        _ => None,
    });
    Some(match format {
        Some(rampart_shapes::TimestampFormat::Iso8601) => {
            let t = t.replace_nanosecond(0).unwrap_or(*t);
            t.format(&time::format_description::well_known::Rfc3339).ok()?
        }
        Some(rampart_shapes::TimestampFormat::UnixTimestamp) => t.unix_timestamp().to_string(),
        _ => http_date(*t),
    })
}

/// Puts an output member bound outside the body where it goes: a header (`Content-Type` as the
/// response's content type), a map of prefixed headers, or the status code (shared by rest-xml
/// and rest-json). Body members are left to the caller.
pub(crate) fn put_http_member(resp: &mut HttpResponse, m: &Member, v: &Value) {
    match m.location {
        Location::Header => {
            if let Some(text) = header_value(m, v) {
                if m.wire_name().eq_ignore_ascii_case("Content-Type") {
                    resp.content_type = Some(text);
                } else {
                    resp.headers.push((m.wire_name().to_owned(), text));
                }
            }
        }
        Location::Headers => {
            if let Value::Map(entries) = v {
                for (k, val) in entries {
                    if let Some(text) = header_text(val) {
                        resp.headers.push((format!("{}{k}", m.wire_name()), text));
                    }
                }
            }
        }
        Location::StatusCode => {
            if let Value::Integer(code) = v {
                resp.status = u16::try_from(*code).unwrap_or(resp.status);
            }
        }
        Location::Uri | Location::QueryString | Location::Body => {}
    }
}

/// Encodes an operation's output. `root` names the XML document element of a body that is not a
/// payload member (S3 names them per operation: `ListAllMyBucketsResult`, `ListBucketResult`).
/// Moves a blob payload (an object's bytes) out of an output, to be sent as the body without a
/// copy; [`encode_output`] then encodes the rest.
pub fn take_blob_payload(op: &Operation, output: &mut Value) -> Option<Vec<u8>> {
    let (Some(shape), Value::Struct(fields)) = (op.output, output) else { return None };
    let Kind::Structure(st) = &shape.kind else { return None };
    let field = fields.get_mut(st.payload.and_then(|p| st.member_index(p))?)?;
    match field.take() {
        Some(Value::Blob(bytes)) => Some(bytes),
        other => {
            *field = other;
            None
        }
    }
}

/// The bytes of an input's blob payload (an upload's body), if it has one.
pub fn blob_payload<'v>(op: &Operation, input: &'v Value) -> Option<&'v [u8]> {
    let (Some(shape), Value::Struct(fields)) = (op.input, input) else { return None };
    let Kind::Structure(st) = &shape.kind else { return None };
    match fields.get(st.payload.and_then(|p| st.member_index(p))?)? {
        Some(Value::Blob(bytes)) => Some(bytes),
        _ => None,
    }
}

pub fn encode_output(op: &Operation, output: &Value, root: Option<&str>, namespace: Option<&str>) -> HttpResponse {
    let mut resp = HttpResponse { status: op.response_code, headers: Vec::new(), content_type: None, body: Vec::new() };
    let (Some(shape), Value::Struct(fields)) = (op.output, output) else { return resp };
    let Kind::Structure(st) = &shape.kind else { return resp };
    for (m, f) in st.members.iter().zip(fields) {
        if let Some(v) = f {
            put_http_member(&mut resp, m, v);
        }
    }
    let ns = namespace.map(|n| format!(" xmlns=\"{}\"", escape(n))).unwrap_or_default();
    match st.payload.and_then(|p| st.member_index(p)) {
        Some(i) => match (st.members.get(i), fields.get(i).and_then(Option::as_ref)) {
            (Some(_), Some(Value::Blob(bytes))) => resp.body.clone_from(bytes),
            (Some(_), Some(Value::String(s))) => resp.body = s.clone().into_bytes(),
            (Some(m), Some(v @ Value::Struct(_))) => {
                let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
                if let (Kind::Structure(inner), Value::Struct(inner_fields)) = (&m.shape.kind, v) {
                    let name = m.location_name.unwrap_or(m.shape.name);
                    let _ = write!(out, "<{name}{ns}>");
                    write_members(&mut out, inner.members, inner_fields);
                    let _ = write!(out, "</{name}>");
                }
                resp.body = out.into_bytes();
                resp.content_type.get_or_insert_with(|| "application/xml".to_owned());
            }
            _ => {}
        },
        None => {
            let body: Vec<(&Member, &Option<Value>)> =
                st.members.iter().zip(fields).filter(|(m, f)| m.location == Location::Body && f.is_some()).collect();
            if let (Some(name), [m]) = (root, st.members)
                && m.location == Location::Body
                && m.wire_name() == name
            {
                // An unwrapped output (Smithy's `@s3UnwrappedXmlOutput`: GetBucketLocation): the
                // one member is the document element, written even when empty.
                let text = fields.first().and_then(Option::as_ref).and_then(header_text).unwrap_or_default();
                let element = if text.is_empty() {
                    format!("<{name}{ns}/>")
                } else {
                    format!("<{name}{ns}>{}</{name}>", escape(&text))
                };
                resp.body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{element}").into_bytes();
                resp.content_type = Some("application/xml".to_owned());
            } else if !body.is_empty() || (root.is_some() && st.members.iter().any(|m| m.location == Location::Body)) {
                // A named document element is written even with no member in it, as S3 answers
                // (`<VersioningConfiguration/>` for a bucket never versioned).
                let name = root.unwrap_or(shape.name);
                let mut out = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{name}{ns}>");
                for (m, f) in body {
                    write_members(&mut out, std::slice::from_ref(m), std::slice::from_ref(f));
                }
                let _ = write!(out, "</{name}>");
                resp.body = out.into_bytes();
                resp.content_type = Some("application/xml".to_owned());
            }
        }
    }
    resp
}

/// The document element S3 gives a response body that is not a payload member; the models do not
/// carry it (Smithy's `xmlName` on the output shapes).
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html> and
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html>.
pub fn s3_root_element(operation: &str) -> Option<&'static str> {
    match operation {
        "ListBuckets" => Some("ListAllMyBucketsResult"),
        "ListObjects" | "ListObjectsV2" => Some("ListBucketResult"),
        "ListObjectVersions" => Some("ListVersionsResult"),
        "ListMultipartUploads" => Some("ListMultipartUploadsResult"),
        "ListParts" => Some("ListPartsResult"),
        "CreateMultipartUpload" => Some("InitiateMultipartUploadResult"),
        "CompleteMultipartUpload" => Some("CompleteMultipartUploadResult"),
        "DeleteObjects" => Some("DeleteResult"),
        "GetBucketLocation" => Some("LocationConstraint"),
        "GetBucketVersioning" => Some("VersioningConfiguration"),
        "GetBucketAcl" | "GetObjectAcl" => Some("AccessControlPolicy"),
        "GetObjectAttributes" => Some("GetObjectAttributesResponse"),
        "GetBucketTagging" | "GetObjectTagging" => Some("Tagging"),
        "GetBucketCors" => Some("CORSConfiguration"),
        "GetBucketWebsite" => Some("WebsiteConfiguration"),
        "GetBucketLifecycleConfiguration" => Some("LifecycleConfiguration"),
        "GetBucketLogging" => Some("BucketLoggingStatus"),
        "GetBucketRequestPayment" => Some("RequestPaymentConfiguration"),
        "GetBucketAccelerateConfiguration" => Some("AccelerateConfiguration"),
        "GetBucketNotificationConfiguration" => Some("NotificationConfiguration"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_shapes::generated::s3;
    use rampart_shapes::{FromValue, IntoValue};

    fn req<'a>(
        labels: &'a [(&'static str, &'a str)],
        query: &'a str,
        headers: &'a [(&'a str, &'a [u8])],
        body: &'a [u8],
    ) -> HttpRequest<'a> {
        HttpRequest { labels, query, headers, body }
    }

    #[test]
    fn binds_labels_headers_metadata_and_a_blob_payload() {
        let headers: [(&str, &[u8]); 3] =
            [("Content-Type", b"text/plain"), ("x-amz-meta-Till", b"3"), ("x-amz-checksum-crc32", b"AAAAAA==")];
        let v = decode_input(
            &s3::SH_PutObjectRequest,
            &req(&[("Bucket", "shop"), ("Key", "a%20b/c%2Bd.txt")], "", &headers, b"bytes"),
        )
        .unwrap();
        let r = s3::PutObjectRequest::from_value(v).unwrap();
        assert_eq!((r.bucket.as_str(), r.key.as_str()), ("shop", "a b/c+d.txt"));
        assert_eq!(r.content_type.as_deref(), Some("text/plain"));
        assert_eq!(r.metadata.unwrap().get("till").map(String::as_str), Some("3"));
        assert_eq!(r.checksum_crc32.as_deref(), Some("AAAAAA=="));
        assert_eq!(r.body.unwrap().0, b"bytes");
    }

    #[test]
    fn binds_query_parameters_and_rejects_bad_numbers() {
        let q = "list-type=2&prefix=food%2F&max-keys=2&delimiter=%2F";
        let v = decode_input(&s3::SH_ListObjectsV2Request, &req(&[("Bucket", "b")], q, &[], b"")).unwrap();
        let r = s3::ListObjectsV2Request::from_value(v).unwrap();
        assert_eq!((r.prefix.as_deref(), r.delimiter.as_deref(), r.max_keys), (Some("food/"), Some("/"), Some(2)));
        let e = decode_input(&s3::SH_ListObjectsV2Request, &req(&[("Bucket", "b")], "max-keys=lots", &[], b""))
            .unwrap_err();
        assert_eq!((e.code.as_ref(), e.status), ("InvalidArgument", 400));
    }

    #[test]
    fn reads_an_xml_payload_and_refuses_malformed_or_deep_xml() {
        let body =
            b"<?xml version=\"1.0\"?><CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                     <LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>";
        let v = decode_input(&s3::SH_CreateBucketRequest, &req(&[("Bucket", "b")], "", &[], body)).unwrap();
        let r = s3::CreateBucketRequest::from_value(v).unwrap();
        assert_eq!(r.create_bucket_configuration.and_then(|c| c.location_constraint).as_deref(), Some("eu-west-1"));
        for bad in [&b"<CreateBucketConfiguration>"[..], b"<a></b>", b"\xff\xfe"] {
            let e = decode_input(&s3::SH_CreateBucketRequest, &req(&[("Bucket", "b")], "", &[], bad)).unwrap_err();
            assert_eq!(e.code, "MalformedXML", "{bad:?}");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        let e =
            decode_input(&s3::SH_CreateBucketRequest, &req(&[("Bucket", "b")], "", &[], deep.as_bytes())).unwrap_err();
        assert_eq!(e.code, "MalformedXML");
    }

    #[test]
    fn a_list_header_is_its_comma_separated_items() {
        assert_eq!(header_items("ETag, Checksum,ObjectParts"), ["ETag", "Checksum", "ObjectParts"]);
        assert_eq!(header_items(r#""a,b", c ,"d\"e""#), ["a,b", "c", "d\"e"]);
        assert!(header_items("  ").is_empty());
        let headers: &[(&str, &[u8])] =
            &[("x-amz-object-attributes", b"ETag,Checksum"), ("X-Amz-Object-Attributes", b"ObjectSize")];
        let v = decode_input(
            &s3::SH_GetObjectAttributesRequest,
            &req(&[("Bucket", "b"), ("Key", "k")], "attributes", headers, b""),
        )
        .unwrap();
        let Value::Struct(fields) = v else { panic!("a structure") };
        let Kind::Structure(st) = &s3::SH_GetObjectAttributesRequest.kind else { panic!("a structure") };
        let at = st.member_index("ObjectAttributes").unwrap();
        let names = ["ETag", "Checksum", "ObjectSize"].map(|n| Value::String(n.to_owned())).to_vec();
        assert_eq!(fields[at], Some(Value::List(names)));
    }

    #[test]
    fn a_grantees_type_is_its_xsi_type_attribute_both_ways() {
        // As S3 writes and reads it: <Grantee xmlns:xsi="…" xsi:type="CanonicalUser">.
        let op = s3::SERVICE.operation("GetBucketAcl").unwrap();
        let grant = |id: &str| s3::Grant {
            grantee: Some(s3::Grantee {
                id: Some(id.into()),
                r#type: "CanonicalUser".into(),
                display_name: None,
                email_address: None,
                uri: None,
            }),
            permission: Some("FULL_CONTROL".into()),
        };
        let out = s3::GetBucketAclOutput { grants: Some(vec![grant("abc")]), ..s3::GetBucketAclOutput::default() };
        let r = encode_output(op, &out.into_value(), s3_root_element("GetBucketAcl"), None);
        let body = String::from_utf8(r.body).unwrap();
        assert!(
            body.contains(
                "<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">\
                 <ID>abc</ID></Grantee>"
            ),
            "{body}"
        );
        assert!(!body.contains("<xsi:type>"), "{body}");

        let put = b"<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><AccessControlList><Grant>\
            <Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\">\
            <URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission>\
            </Grant></AccessControlList><Owner><ID>abc</ID></Owner></AccessControlPolicy>";
        let v = decode_input(&s3::SH_PutBucketAclRequest, &req(&[("Bucket", "b")], "", &[], put)).unwrap();
        let r = s3::PutBucketAclRequest::from_value(v).unwrap();
        let grants = r.access_control_policy.and_then(|p| p.grants).unwrap();
        let grantee = grants[0].grantee.as_ref().unwrap();
        assert_eq!(
            (grantee.r#type.as_str(), grantee.uri.as_deref()),
            ("Group", Some("http://acs.amazonaws.com/groups/global/AllUsers"))
        );
    }

    #[test]
    fn get_bucket_location_is_an_unwrapped_document_element_empty_for_us_east_1() {
        let op = s3::SERVICE.operation("GetBucketLocation").unwrap();
        let ns = Some("http://s3.amazonaws.com/doc/2006-03-01/");
        let root = s3_root_element("GetBucketLocation");
        let out = s3::GetBucketLocationOutput { location_constraint: Some("eu-west-1".into()) };
        let body = String::from_utf8(encode_output(op, &out.into_value(), root, ns).body).unwrap();
        assert!(
            body.ends_with(
                "<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">eu-west-1</LocationConstraint>"
            ),
            "{body}"
        );
        let none = s3::GetBucketLocationOutput::default();
        let body = String::from_utf8(encode_output(op, &none.into_value(), root, ns).body).unwrap();
        assert!(body.ends_with("<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>"), "{body}");
    }

    #[test]
    fn encodes_headers_status_and_a_named_xml_root() {
        let get = s3::SERVICE.operation("GetObject").unwrap();
        let out = s3::GetObjectOutput {
            body: Some(rampart_shapes::Blob(b"hi".to_vec())),
            e_tag: Some("\"x\"".into()),
            content_type: Some("text/plain".into()),
            metadata: Some([("till".to_owned(), "3".to_owned())].into()),
            last_modified: Some(time::OffsetDateTime::UNIX_EPOCH),
            ..s3::GetObjectOutput::default()
        };
        let r = encode_output(get, &out.into_value(), None, None);
        assert_eq!((r.status, r.body.as_slice(), r.content_type.as_deref()), (200, &b"hi"[..], Some("text/plain")));
        assert!(r.headers.contains(&("ETag".to_owned(), "\"x\"".to_owned())));
        assert!(r.headers.contains(&("x-amz-meta-till".to_owned(), "3".to_owned())));
        assert!(r.headers.contains(&("Last-Modified".to_owned(), "Thu, 01 Jan 1970 00:00:00 GMT".to_owned())));

        let del = s3::SERVICE.operation("DeleteObject").unwrap();
        assert_eq!(encode_output(del, &s3::DeleteObjectOutput::default().into_value(), None, None).status, 204);

        let list = s3::SERVICE.operation("ListBuckets").unwrap();
        let out = s3::ListBucketsOutput {
            buckets: Some(vec![s3::Bucket { name: Some("a&b".into()), ..s3::Bucket::default() }]),
            ..s3::ListBucketsOutput::default()
        };
        let r = encode_output(
            list,
            &out.into_value(),
            s3_root_element("ListBuckets"),
            Some("http://s3.amazonaws.com/doc/2006-03-01/"),
        );
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Buckets><Bucket><Name>a&amp;b</Name></Bucket></Buckets></ListAllMyBucketsResult>"
        );
    }
}
