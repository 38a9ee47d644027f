//! POST uploads (browser-based uploads): an HTML form posted to a bucket, its fields standing for
//! PutObject's headers, its file for the body, and — when signed — a POST policy whose conditions
//! every field must meet. Pure: the server reads the form here, authenticates the form's
//! signature, runs the upload as the PutObject it stands for, and answers as [`Upload::answer`]
//! says.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html>,
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTForms.html> and
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html>.

use std::ops::Range;

use rampart_core::ServiceError;
use rampart_wire::form_data::{self, FormError};
use time::OffsetDateTime;

/// A form posted to a bucket: its fields (those before the file; S3 ignores any after it) and
/// where its file's bytes are in the body.
#[derive(Debug, Clone)]
pub struct Upload {
    fields: Vec<(String, String)>,
    /// The file's bytes in the body the form was read from.
    pub file: Range<usize>,
    /// The object's key: the `key` field, `${filename}` replaced by the file's name.
    pub key: String,
}

fn invalid_argument(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidArgument", 400, message)
}

fn malformed() -> ServiceError {
    ServiceError::new(
        "MalformedPOSTRequest",
        400,
        "The body of your POST request is not well-formed multipart/form-data.",
    )
}

fn missing_field(name: &str) -> ServiceError {
    invalid_argument(format!(
        "Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."
    ))
}

fn invalid_policy(message: impl std::fmt::Display) -> ServiceError {
    ServiceError::new("InvalidPolicyDocument", 400, format!("Invalid Policy: {message}"))
}

fn refused(message: impl std::fmt::Display) -> ServiceError {
    ServiceError::access_denied(format!("Invalid according to Policy: {message}"))
}

/// Fields no condition needs to name: the signature over the policy, the policy, the file, and
/// those the form marks to be ignored.
fn exempt(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(lower.as_str(), "policy" | "x-amz-signature" | "file") || lower.starts_with("x-ignore-")
}

impl Upload {
    /// Reads a form of `content_type` from `body`.
    pub fn read(content_type: &str, body: &[u8]) -> Result<Self, ServiceError> {
        let boundary = form_data::boundary(content_type).map_err(|_| malformed())?;
        let parts = form_data::parse(body, &boundary).map_err(|e| match e {
            FormError::NotAForm | FormError::Malformed(_) => malformed(),
        })?;
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut file = None;
        for part in parts {
            if part.name.eq_ignore_ascii_case("file") {
                file = Some((part.data, part.filename.unwrap_or_default()));
                break;
            }
            let value = body
                .get(part.data)
                .and_then(|v| std::str::from_utf8(v).ok())
                .ok_or_else(|| invalid_argument(format!("The form field {} is not UTF-8 text.", part.name)))?;
            if fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(&part.name)) {
                return Err(invalid_argument(format!("The form field {} is given more than once.", part.name)));
            }
            fields.push((part.name, value.to_owned()));
        }
        let (file, filename) =
            file.ok_or_else(|| invalid_argument("POST requires exactly one file upload per request."))?;
        let key_field = fields.iter().find(|(n, _)| n.eq_ignore_ascii_case("key")).map(|(_, v)| v.as_str());
        let key = key_field.ok_or_else(|| missing_field("key"))?.replace("${filename}", &filename);
        if key.is_empty() {
            return Err(invalid_argument("User key must have a length greater than 0."));
        }
        Ok(Self { fields, file, key })
    }

    /// The value of a field, by its name in any case.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the form is signed (carries a policy); an unsigned one is an anonymous request.
    pub fn signed(&self) -> bool {
        self.field("policy").is_some()
    }

    /// The PutObject request headers the form's fields stand for, names in lower case.
    pub fn headers(&self) -> Result<Vec<(String, String)>, ServiceError> {
        let mut out = Vec::new();
        for (name, value) in &self.fields {
            let lower = name.to_ascii_lowercase();
            let header = match lower.as_str() {
                "acl" => "x-amz-acl".to_owned(),
                "tagging" => {
                    out.push(("x-amz-tagging".to_owned(), tagging_query(value)?));
                    continue;
                }
                "content-type" | "cache-control" | "content-disposition" | "content-encoding" | "expires" => lower,
                "x-amz-storage-class" | "x-amz-website-redirect-location" => lower,
                _ if lower.starts_with("x-amz-meta-")
                    || lower.starts_with("x-amz-server-side-encryption")
                    || lower.starts_with("x-amz-checksum-")
                    || lower.starts_with("x-amz-object-lock-") =>
                {
                    lower
                }
                // The signature's fields, the answer's, the key, the bucket, ignored fields.
                _ => continue,
            };
            out.push((header, value.clone()));
        }
        Ok(out)
    }

    /// Checks the form's POST policy at `now`: not expired, each condition met by the form, and
    /// every field (but the exempt) named by a condition. `bucket` is the bucket posted to.
    pub fn check_policy(&self, bucket: &str, now: OffsetDateTime) -> Result<(), ServiceError> {
        let encoded = self.field("policy").ok_or_else(|| missing_field("policy"))?;
        let text = data_encoding::BASE64
            .decode(encoded.trim().as_bytes())
            .map_err(|_| invalid_policy("Invalid 'Base64' encoding."))?;
        let doc: serde_json::Value = serde_json::from_slice(&text).map_err(|_| invalid_policy("Invalid JSON."))?;
        let expiration = doc
            .get("expiration")
            .ok_or_else(|| invalid_policy("Policy missing expiration."))?
            .as_str()
            .ok_or_else(|| invalid_policy("Invalid 'expiration' value."))?;
        let expires = OffsetDateTime::parse(expiration, &time::format_description::well_known::Rfc3339)
            .map_err(|_| invalid_policy(format!("Invalid 'expiration' value: '{expiration}'")))?;
        let conditions = doc
            .get("conditions")
            .ok_or_else(|| invalid_policy("Policy missing conditions."))?
            .as_array()
            .ok_or_else(|| invalid_policy("Invalid 'conditions' value."))?;
        let conditions = conditions.iter().map(Condition::read).collect::<Result<Vec<_>, _>>()?;
        if now > expires {
            return Err(refused("Policy expired."));
        }
        let size = u64::try_from(self.file.len()).unwrap_or(u64::MAX);
        let value = |name: &str| if name.eq_ignore_ascii_case("bucket") { Some(bucket) } else { self.field(name) };
        for c in &conditions {
            c.check(value, size)?;
        }
        let named = |field: &str| conditions.iter().any(|c| c.names(field));
        if let Some((name, _)) = self.fields.iter().find(|(n, _)| !exempt(n) && !named(n)) {
            return Err(refused(format!("Extra input fields: {name}")));
        }
        Ok(())
    }

    /// What S3 answers a stored upload: a redirect when the form asks for one (a valid URL in
    /// `success_action_redirect`, or the older `redirect`), else the status `success_action_status`
    /// asks for (200, 201 with a `PostResponse` document, or 204 by default). `location` is the
    /// new object's URL, `etag` its quoted ETag.
    pub fn answer(&self, bucket: &str, location: &str, etag: &str) -> Answer {
        let redirect = self.field("success_action_redirect").or_else(|| self.field("redirect"));
        if let Some(url) = redirect.filter(|u| u.starts_with("http://") || u.starts_with("https://")) {
            let enc = |s: &str| percent_encoding::utf8_percent_encode(s, crate::UNRESERVED).to_string();
            let sep = if url.contains('?') { '&' } else { '?' };
            let to = format!("{url}{sep}bucket={}&key={}&etag={}", enc(bucket), enc(&self.key), enc(etag));
            return Answer { status: 303, redirect: Some(to), body: Vec::new() };
        }
        match self.field("success_action_status") {
            Some("200") => Answer { status: 200, redirect: None, body: Vec::new() },
            Some("201") => {
                let esc = rampart_wire::xml_escape;
                let body = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                    esc(location),
                    esc(bucket),
                    esc(&self.key),
                    esc(etag)
                );
                Answer { status: 201, redirect: None, body: body.into_bytes() }
            }
            _ => Answer { status: 204, redirect: None, body: Vec::new() },
        }
    }
}

/// What to answer a stored POST upload with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// The `Location` of a 303.
    pub redirect: Option<String>,
    pub body: Vec<u8>,
}

/// One condition of a POST policy.
#[derive(Debug)]
enum Condition {
    /// `{"name": "value"}` or `["eq", "$name", "value"]`.
    Eq(String, String),
    /// `["starts-with", "$name", "prefix"]` (an empty prefix: any value).
    StartsWith(String, String),
    /// `["content-length-range", min, max]`: the file's size.
    Length(u64, u64),
}

impl Condition {
    fn read(v: &serde_json::Value) -> Result<Self, ServiceError> {
        let bad = || invalid_policy(format!("Invalid Condition: {v}"));
        if let Some(map) = v.as_object() {
            let mut pairs = map.iter();
            return match (pairs.next(), pairs.next()) {
                (Some((name, serde_json::Value::String(value))), None) => Ok(Self::Eq(name.clone(), value.clone())),
                _ => Err(bad()),
            };
        }
        let items = v.as_array().ok_or_else(bad)?;
        let op = items.first().and_then(serde_json::Value::as_str).ok_or_else(bad)?;
        if op.eq_ignore_ascii_case("content-length-range") {
            let bound = |i: usize| items.get(i).and_then(serde_json::Value::as_u64).ok_or_else(bad);
            return match items.len() {
                3 => Ok(Self::Length(bound(1)?, bound(2)?)),
                _ => Err(bad()),
            };
        }
        let [_, name, value] = items.as_slice() else { return Err(bad()) };
        let name = name.as_str().and_then(|n| n.strip_prefix('$')).ok_or_else(bad)?.to_owned();
        let value = value.as_str().ok_or_else(bad)?.to_owned();
        if op.eq_ignore_ascii_case("eq") {
            Ok(Self::Eq(name, value))
        } else if op.eq_ignore_ascii_case("starts-with") {
            Ok(Self::StartsWith(name, value))
        } else {
            Err(bad())
        }
    }

    /// Whether the condition names form field `field`.
    fn names(&self, field: &str) -> bool {
        match self {
            Self::Eq(n, _) | Self::StartsWith(n, _) => n.eq_ignore_ascii_case(field),
            Self::Length(..) => false,
        }
    }

    fn check<'a>(&self, value: impl Fn(&str) -> Option<&'a str>, size: u64) -> Result<(), ServiceError> {
        let failed = |op: &str, name: &str, v: &str| {
            let shown = serde_json::json!([op, format!("${name}"), v]).to_string().replace("\",\"", "\", \"");
            refused(format!("Policy Condition failed: {shown}"))
        };
        match self {
            Self::Eq(name, want) => {
                if value(name).unwrap_or_default() != want {
                    return Err(failed("eq", name, want));
                }
            }
            Self::StartsWith(name, prefix) => {
                let got = value(name).unwrap_or_default();
                // A Content-Type may list several types; each must start so.
                let ok = if name.eq_ignore_ascii_case("content-type") {
                    got.split(',').all(|t| t.trim_start().starts_with(prefix.as_str()))
                } else {
                    got.starts_with(prefix.as_str())
                };
                if !ok {
                    return Err(failed("starts-with", name, prefix));
                }
            }
            Self::Length(min, max) => {
                if size < *min {
                    return Err(ServiceError::new(
                        "EntityTooSmall",
                        400,
                        "Your proposed upload is smaller than the minimum allowed size",
                    ));
                }
                if size > *max {
                    return Err(ServiceError::new(
                        "EntityTooLarge",
                        400,
                        "Your proposed upload exceeds the maximum allowed size",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A form's `tagging` field (a `Tagging` XML document, as PutObjectTagging's body) as the
/// `x-amz-tagging` query string PutObject takes.
fn tagging_query(xml: &str) -> Result<String, ServiceError> {
    let op = rampart_shapes::generated::s3::SERVICE.operation("PutObjectTagging").ok_or_else(ServiceError::internal)?;
    let shape = op.input.ok_or_else(ServiceError::internal)?;
    let req = rampart_wire::restxml::HttpRequest {
        labels: &[("Bucket", "b"), ("Key", "k")],
        query: "",
        headers: &[],
        body: xml.as_bytes(),
    };
    let bad = || invalid_argument("The XML you provided in the tagging field was not well-formed.");
    let value = rampart_wire::restxml::decode_input(shape, &req).map_err(|_| bad())?;
    let input =
        <rampart_shapes::generated::s3::PutObjectTaggingRequest as rampart_shapes::FromValue>::from_value(value)
            .map_err(|_| bad())?;
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, crate::UNRESERVED).to_string();
    let pairs: Vec<String> =
        input.tagging.tag_set.iter().map(|t| format!("{}={}", enc(&t.key), enc(&t.value))).collect();
    Ok(pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDARY: &str = "multipart/form-data; boundary=B0";

    fn body(fields: &[(&str, &str)], file: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        for (n, v) in fields {
            b.extend_from_slice(
                format!("--B0\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}\r\n").as_bytes(),
            );
        }
        b.extend_from_slice(b"--B0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cat.png\"\r\n\r\n");
        b.extend_from_slice(file);
        b.extend_from_slice(b"\r\n--B0\r\nContent-Disposition: form-data; name=\"after\"\r\n\r\nignored\r\n--B0--\r\n");
        b
    }

    fn policy(expiration: &str, conditions: serde_json::Value) -> String {
        let doc = serde_json::json!({"expiration": expiration, "conditions": conditions});
        data_encoding::BASE64.encode(doc.to_string().as_bytes())
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_764_000_000).expect("a time")
    }

    #[test]
    fn a_form_is_a_key_headers_and_a_file() {
        let b = body(
            &[
                ("key", "up/${filename}"),
                ("Content-Type", "image/png"),
                ("acl", "private"),
                ("x-amz-meta-who", "me"),
                ("success_action_status", "201"),
                ("tagging", "<Tagging><TagSet><Tag><Key>a b</Key><Value>c&amp;d</Value></Tag></TagSet></Tagging>"),
            ],
            b"PNG\r\n--B",
        );
        let u = Upload::read(BOUNDARY, &b).expect("a form");
        assert_eq!(u.key, "up/cat.png");
        assert_eq!(&b[u.file.clone()], b"PNG\r\n--B");
        assert_eq!(u.field("after"), None, "fields after the file are ignored");
        let headers = u.headers().expect("headers");
        assert_eq!(
            headers,
            [
                ("content-type", "image/png"),
                ("x-amz-acl", "private"),
                ("x-amz-meta-who", "me"),
                ("x-amz-tagging", "a%20b=c%26d"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        let a = u.answer("bkt", "http://h/bkt/up/cat.png", "\"e\"");
        assert_eq!(a.status, 201);
        let xml = String::from_utf8(a.body).expect("text");
        assert!(xml.contains("<Key>up/cat.png</Key><ETag>&quot;e&quot;</ETag>"), "{xml}");
    }

    #[test]
    fn a_form_without_a_key_or_a_file_is_refused() {
        let no_key = Upload::read(BOUNDARY, &body(&[("acl", "private")], b"x")).unwrap_err();
        assert!(no_key.message.contains("field named 'key'"), "{}", no_key.message);
        let no_file = b"--B0\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--B0--\r\n";
        assert_eq!(Upload::read(BOUNDARY, no_file).unwrap_err().code, "InvalidArgument");
        assert_eq!(Upload::read(BOUNDARY, b"junk").unwrap_err().code, "MalformedPOSTRequest");
        let twice = Upload::read(BOUNDARY, &body(&[("key", "a"), ("KEY", "b")], b"x")).unwrap_err();
        assert_eq!(twice.code, "InvalidArgument");
    }

    #[test]
    fn the_policy_bounds_every_field_and_the_size() {
        let conditions = serde_json::json!([
            {"bucket": "bkt"},
            ["starts-with", "$key", "up/"],
            {"acl": "private"},
            ["content-length-range", 1, 10],
            ["starts-with", "$Content-Type", "image/"],
        ]);
        let form = |p: &str, key: &str, file: &[u8], extra: &[(&str, &str)]| {
            let mut fields = vec![("key", key), ("acl", "private"), ("content-type", "image/png"), ("policy", p)];
            fields.extend_from_slice(extra);
            Upload::read(BOUNDARY, &body(&fields, file)).expect("a form")
        };
        let p = policy("2099-01-01T00:00:00.000Z", conditions.clone());
        assert!(form(&p, "up/a", b"data", &[]).check_policy("bkt", now()).is_ok());
        let code = |u: Upload, bucket: &str| {
            let e = u.check_policy(bucket, now()).unwrap_err();
            (e.code.into_owned(), e.message)
        };
        assert_eq!(
            code(form(&p, "down/a", b"data", &[]), "bkt"),
            (
                "AccessDenied".to_owned(),
                "Invalid according to Policy: Policy Condition failed: [\"starts-with\", \"$key\", \"up/\"]".to_owned()
            )
        );
        assert_eq!(code(form(&p, "up/a", b"data", &[]), "other").0, "AccessDenied");
        assert_eq!(code(form(&p, "up/a", b"", &[]), "bkt").0, "EntityTooSmall");
        assert_eq!(code(form(&p, "up/a", b"eleven byte", &[]), "bkt").0, "EntityTooLarge");
        assert_eq!(
            code(form(&p, "up/a", b"data", &[("x-amz-meta-sneaky", "1")]), "bkt").1,
            "Invalid according to Policy: Extra input fields: x-amz-meta-sneaky"
        );
        // Exempt: the signature and fields marked to be ignored.
        let extra = [("x-amz-signature", "00"), ("x-ignore-me", "1")];
        assert!(form(&p, "up/a", b"data", &extra).check_policy("bkt", now()).is_ok());
        let expired = policy("2020-01-01T00:00:00Z", conditions);
        assert_eq!(code(form(&expired, "up/a", b"data", &[]), "bkt").1, "Invalid according to Policy: Policy expired.");
        assert_eq!(code(form("%%%", "up/a", b"data", &[]), "bkt").0, "InvalidPolicyDocument");
        let no_conditions = data_encoding::BASE64.encode(br#"{"expiration": "2099-01-01T00:00:00Z"}"#);
        assert_eq!(
            code(form(&no_conditions, "up/a", b"data", &[]), "bkt").1,
            "Invalid Policy: Policy missing conditions."
        );
        let odd = policy("2099-01-01T00:00:00Z", serde_json::json!([["ends-with", "$key", "a"]]));
        assert_eq!(code(form(&odd, "up/a", b"data", &[]), "bkt").0, "InvalidPolicyDocument");
    }

    #[test]
    fn a_redirect_carries_the_object() {
        let u = Upload::read(
            BOUNDARY,
            &body(&[("key", "a b"), ("success_action_redirect", "https://app.example/done?x=1")], b"x"),
        )
        .expect("a form");
        let a = u.answer("bkt", "unused", "\"e\"");
        assert_eq!(a.status, 303);
        assert_eq!(a.redirect.as_deref(), Some("https://app.example/done?x=1&bucket=bkt&key=a%20b&etag=%22e%22"));
        let plain = Upload::read(BOUNDARY, &body(&[("key", "k"), ("redirect", "not a url")], b"x")).expect("a form");
        assert_eq!(plain.answer("bkt", "l", "e").status, 204);
    }
}
