//! Finding the signature in the `Authorization` header or in a presigned query string.

use time::format_description::well_known::Rfc2822;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::{ALGORITHM, MAX_PRESIGNED_EXPIRY_SECS, Request, SigV4Error};

/// The credential scope `DATE/REGION/SERVICE/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub date: String,
    pub region: String,
    pub service: String,
}

impl Scope {
    pub fn to_scope_string(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

/// The signature claims of a request, before the secret is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub access_key_id: String,
    pub scope: Scope,
    /// Lower-case header names, in the order the client listed them.
    pub signed_headers: Vec<String>,
    pub signature: Vec<u8>,
    /// The request time, from `X-Amz-Date` (or `Date`).
    pub time: OffsetDateTime,
    /// The request time exactly as the client wrote it (it is part of the string to sign).
    pub amz_date: String,
    /// `X-Amz-Security-Token`, for temporary credentials.
    pub security_token: Option<String>,
    /// `X-Amz-Expires` of a presigned URL; `None` for the header form.
    pub presigned_expires: Option<i64>,
    /// The base64 policy of an S3 POST form: what its signature signs, in place of a canonical
    /// request (see [`parse_post`]).
    pub post_policy: Option<String>,
}

fn incomplete(msg: impl Into<String>) -> SigV4Error {
    SigV4Error::IncompleteSignature(msg.into())
}

/// Decodes one `%XX`-encoded query component (SigV4 clients never send `+` for a space).
pub(crate) fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Reads a SigV4 date: ISO 8601 basic (`20150830T123600Z`), or RFC 1123 in a `Date` header.
fn parse_time(s: &str) -> Option<OffsetDateTime> {
    let basic = format_description!("[year][month][day]T[hour][minute][second]Z");
    PrimitiveDateTime::parse(s, basic)
        .map(PrimitiveDateTime::assume_utc)
        .ok()
        .or_else(|| OffsetDateTime::parse(s, &Rfc2822).ok())
}

fn parse_credential(cred: &str) -> Result<(String, Scope), SigV4Error> {
    let parts: Vec<&str> = cred.split('/').collect();
    let [akid, date, region, service, terminator] = parts.as_slice() else {
        return Err(incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{cred}'"
        )));
    };
    if *terminator != "aws4_request" {
        return Err(SigV4Error::SignatureDoesNotMatch(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
        )));
    }
    if akid.is_empty() || date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(incomplete(format!("Credential is malformed: '{cred}'")));
    }
    if region.is_empty() || service.is_empty() {
        return Err(incomplete(format!("Credential is malformed: '{cred}'")));
    }
    Ok((
        (*akid).to_owned(),
        Scope { date: (*date).to_owned(), region: (*region).to_owned(), service: (*service).to_owned() },
    ))
}

fn parse_signature(hex: &str) -> Result<Vec<u8>, SigV4Error> {
    if hex.len() != 64 {
        return Err(SigV4Error::mismatch());
    }
    data_encoding::HEXLOWER_PERMISSIVE.decode(hex.as_bytes()).map_err(|_| SigV4Error::mismatch())
}

fn parse_signed_headers(list: &str) -> Result<Vec<String>, SigV4Error> {
    let headers: Vec<String> = list.split(';').map(str::to_ascii_lowercase).collect();
    if headers.iter().any(String::is_empty) {
        return Err(incomplete(format!("SignedHeaders is malformed: '{list}'")));
    }
    if !headers.iter().any(|h| h == "host" || h == ":authority") {
        return Err(SigV4Error::SignatureDoesNotMatch(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        ));
    }
    Ok(headers)
}

/// Finds and checks the form of a request's signature. Fails with `MissingAuthenticationToken`
/// when the request carries none.
pub fn parse(req: &Request<'_>) -> Result<Auth, SigV4Error> {
    match req.header("authorization") {
        Some(h) => parse_header(req, h),
        None if req.header_values("authorization").next().is_some() => {
            Err(incomplete("Authorization header is not valid UTF-8"))
        }
        None => parse_presigned(req),
    }
}

fn parse_header(req: &Request<'_>, header: &str) -> Result<Auth, SigV4Error> {
    let rest = header.strip_prefix(ALGORITHM).filter(|r| r.starts_with(' ')).ok_or_else(|| {
        incomplete(format!("Unsupported AWS 'algorithm': Authorization header must start with '{ALGORITHM}'"))
    })?;
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| incomplete(format!("Authorization header key-value pair is malformed: '{part}'")))?;
        let slot = match k {
            "Credential" => &mut cred,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut sig,
            _ => return Err(incomplete(format!("Authorization header has an unknown key: '{k}'"))),
        };
        if slot.replace(v).is_some() {
            return Err(incomplete(format!("Authorization header repeats '{k}'")));
        }
    }
    let mut missing = Vec::new();
    for (name, v) in [("Credential", cred), ("Signature", sig), ("SignedHeaders", signed)] {
        if v.is_none() {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    let (Some(cred), Some(signed), Some(sig)) = (cred, signed, sig) else {
        return Err(incomplete(missing.join(" ")));
    };
    let (access_key_id, scope) = parse_credential(cred)?;
    let signed_headers = parse_signed_headers(signed)?;
    let (amz_date, from_date_header) = match req.header("x-amz-date") {
        Some(d) => (d.to_owned(), false),
        None => (
            req.header("date")
                .ok_or_else(|| {
                    incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
                })?
                .to_owned(),
            true,
        ),
    };
    let time = parse_time(&amz_date)
        .ok_or_else(|| incomplete(format!("Date must be in ISO-8601 'basic format'. Got '{amz_date}'.")))?;
    let amz_date = if from_date_header { format_basic(time) } else { amz_date };
    Ok(Auth {
        access_key_id,
        scope,
        signed_headers,
        signature: parse_signature(sig)?,
        time,
        amz_date,
        security_token: req.header("x-amz-security-token").map(str::to_owned),
        presigned_expires: None,
        post_policy: None,
    })
}

pub(crate) fn format_basic(t: OffsetDateTime) -> String {
    let f = format_description!("[year][month][day]T[hour][minute][second]Z");
    t.format(f).unwrap_or_default()
}

fn parse_presigned(req: &Request<'_>) -> Result<Auth, SigV4Error> {
    let mut fields: [Option<String>; 7] = Default::default();
    const NAMES: [&str; 7] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-Security-Token",
    ];
    for pair in req.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode(k);
        if let Some(slot) = NAMES.iter().position(|n| *n == k).and_then(|i| fields.get_mut(i))
            && slot.replace(decode(v)).is_some()
        {
            return Err(incomplete(format!("Query string repeats '{k}'")));
        }
    }
    let [algorithm, cred, signed, sig, date, expires, token] = fields;
    if algorithm.is_none() && cred.is_none() && sig.is_none() {
        return Err(SigV4Error::MissingAuthenticationToken);
    }
    if algorithm.as_deref() != Some(ALGORITHM) {
        return Err(incomplete(format!("X-Amz-Algorithm only supports '{ALGORITHM}'")));
    }
    let mut missing = Vec::new();
    for (name, v) in [
        ("X-Amz-Credential", &cred),
        ("X-Amz-Signature", &sig),
        ("X-Amz-SignedHeaders", &signed),
        ("X-Amz-Date", &date),
    ] {
        if v.is_none() {
            missing.push(format!("AWS query-string parameters must include '{name}'."));
        }
    }
    let (Some(cred), Some(signed), Some(sig), Some(amz_date)) = (cred, signed, sig, date) else {
        return Err(incomplete(missing.join(" ")));
    };
    let (access_key_id, scope) = parse_credential(&cred)?;
    let time = parse_time(&amz_date).filter(|_| amz_date.len() == 16).ok_or_else(|| {
        incomplete(format!("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\", got '{amz_date}'"))
    })?;
    let expires = match expires {
        Some(e) => {
            let secs: i64 =
                e.parse().map_err(|_| incomplete(format!("X-Amz-Expires should be a number, got '{e}'")))?;
            if !(1..=MAX_PRESIGNED_EXPIRY_SECS).contains(&secs) {
                return Err(SigV4Error::ExpiresOutOfRange(format!(
                    "X-Amz-Expires must be between 1 and {MAX_PRESIGNED_EXPIRY_SECS} seconds, got {secs}"
                )));
            }
            secs
        }
        None => return Err(incomplete("AWS query-string parameters must include 'X-Amz-Expires'.")),
    };
    Ok(Auth {
        access_key_id,
        scope,
        signed_headers: parse_signed_headers(&signed)?,
        signature: parse_signature(&sig)?,
        time,
        amz_date,
        security_token: token,
        presigned_expires: Some(expires),
        post_policy: None,
    })
}

/// The signature of an S3 POST form (a browser-based upload): `x-amz-algorithm`,
/// `x-amz-credential`, `x-amz-date` and `x-amz-signature` over the form's `policy`, each found by
/// `field` (the form's field of that name, case-insensitively). The policy's own expiration, not
/// the clock skew, bounds when it may be used; the caller checks it once the signature holds.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTForms.html>.
pub fn parse_post<'f>(field: impl Fn(&str) -> Option<&'f str>) -> Result<Auth, SigV4Error> {
    let policy = field("policy").ok_or(SigV4Error::MissingAuthenticationToken)?;
    let needed =
        |name: &str| field(name).ok_or_else(|| incomplete(format!("Bucket POST must contain a field named '{name}'.")));
    let algorithm = needed("x-amz-algorithm")?;
    if algorithm != ALGORITHM {
        return Err(incomplete(format!("X-Amz-Algorithm only supports '{ALGORITHM}'")));
    }
    let (access_key_id, scope) = parse_credential(needed("x-amz-credential")?)?;
    let amz_date = needed("x-amz-date")?;
    let time = parse_time(amz_date).filter(|_| amz_date.len() == 16).ok_or_else(|| {
        incomplete(format!("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\", got '{amz_date}'"))
    })?;
    Ok(Auth {
        access_key_id,
        scope,
        signed_headers: Vec::new(),
        signature: parse_signature(needed("x-amz-signature")?)?,
        time,
        amz_date: amz_date.to_owned(),
        security_token: field("x-amz-security-token").map(str::to_owned),
        presigned_expires: None,
        post_policy: Some(policy.to_owned()),
    })
}
