//! The parts of a web request a statement inspects (`FieldToMatch`), with AWS WAF's inspection
//! limits: the first 8 KB of the body (an application load balancer's limit) and of the headers
//! and cookies, and the first 200 headers and cookies, with each field's oversize handling.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-fields-list.html>
//! and <https://docs.aws.amazon.com/waf/latest/developerguide/waf-oversize-request-components.html>.

use std::borrow::Cow;
use std::net::IpAddr;

use rampart_shapes::generated::wafv2 as shapes;

use super::{Unsupported, unsupported};

/// The most body bytes inspected for an application load balancer.
pub const BODY_LIMIT: usize = 8 * 1024;
/// The most header (or cookie) bytes inspected.
pub const HEADERS_LIMIT: usize = 8 * 1024;
/// The most headers (or cookies) inspected.
pub const HEADERS_COUNT: usize = 200;

/// A header's name and value, as they arrived.
pub type Header<'a> = (&'a [u8], &'a [u8]);

/// A web request as the engine sees it: the bytes as they arrived.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub client_ip: IpAddr,
    pub method: &'a [u8],
    /// The path, before any `?`, undecoded.
    pub path: &'a [u8],
    /// Everything after the first `?`, undecoded.
    pub query: &'a [u8],
    /// Header names and values, in the order they arrived.
    pub headers: &'a [Header<'a>],
    /// The body as far as the proxy read it (at least [`BODY_LIMIT`] bytes when there are more),
    /// and the body's whole length.
    pub body: &'a [u8],
    pub body_length: usize,
    /// When it arrived, in seconds since the Unix epoch (rate-based rules count by it).
    pub now: u64,
    /// Its connection's TLS fingerprints (JA3, JA4); `None` over plain HTTP, or where the
    /// ClientHello could not be read.
    pub tls: Option<&'a super::hello::Fingerprints>,
    /// Where addresses are, for geo and ASN matches; `None` where the server has no database.
    pub locate: Option<&'a dyn Locate>,
    /// The `aws-waf-token` it carried, as its signature tells ([`crate::tokens::Keys::open`]).
    pub token: crate::tokens::Presented<'a>,
    /// The IP lists the operator imported for the IP reputation managed rule groups; `None`
    /// where the server has none.
    pub ip_lists: Option<&'a dyn Listed>,
}

/// The IP lists the operator imported, by the name of the managed rule that matches them
/// (`AWSManagedIPReputationList`, `AnonymousIPList`, …): AWS's own lists are its threat
/// intelligence, which Rampart cannot have.
pub trait Listed: Send + Sync + std::fmt::Debug {
    /// Whether the address is on the list of that name.
    fn listed(&self, list: &str, ip: IpAddr) -> bool;
}

/// Where an address is, as a geolocation database says (the server's, MaxMind's format).
pub trait Locate: Send + Sync + std::fmt::Debug {
    /// The country, as its ISO 3166-1 alpha-2 code.
    fn country(&self, ip: IpAddr) -> Option<String>;
    /// The autonomous system number.
    fn asn(&self, ip: IpAddr) -> Option<u32>;
    /// The region (ISO 3166-2 subdivision code, without its country) where the database has it.
    fn region(&self, _ip: IpAddr) -> Option<String> {
        None
    }
}

impl<'a> Request<'a> {
    /// The first header of a name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| *v)
    }
}

/// What to do with content beyond the inspection limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oversize {
    Continue,
    Match,
    NoMatch,
}

impl Oversize {
    fn of(s: Option<&str>) -> Oversize {
        match s {
            Some("MATCH") => Oversize::Match,
            Some("NO_MATCH") => Oversize::NoMatch,
            _ => Oversize::Continue,
        }
    }
}

/// Which keys and values of a map (headers, cookies, JSON) are inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    Key,
    Value,
}

impl Scope {
    fn of(s: &str) -> Scope {
        match s {
            "KEY" => Scope::Key,
            "VALUE" => Scope::Value,
            _ => Scope::All,
        }
    }
}

/// Which entries of a map are inspected.
#[derive(Debug, Clone)]
pub enum Pattern {
    All,
    Included(Vec<String>),
    Excluded(Vec<String>),
}

impl Pattern {
    fn takes(&self, name: &[u8]) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Included(names) => names.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(name)),
            Pattern::Excluded(names) => !names.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(name)),
        }
    }
}

/// What to do where a JSON body does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidJson {
    Match,
    NoMatch,
    AsString,
}

/// A compiled `FieldToMatch`.
#[derive(Debug, Clone)]
pub enum Field {
    SingleHeader(String),
    SingleQueryArgument(String),
    AllQueryArguments,
    UriPath,
    QueryString,
    Method,
    Body(Oversize),
    JsonBody {
        paths: Option<Vec<String>>,
        scope: Scope,
        invalid: InvalidJson,
        oversize: Oversize,
    },
    Headers {
        pattern: Pattern,
        scope: Scope,
        oversize: Oversize,
    },
    Cookies {
        pattern: Pattern,
        scope: Scope,
        oversize: Oversize,
    },
    HeaderOrder(Oversize),
    /// The connection's JA3 or JA4 fingerprint; without one (no TLS), the fallback behaviour
    /// decides.
    Ja3 {
        fallback_match: bool,
    },
    Ja4 {
        fallback_match: bool,
    },
    /// The URI fragment, which clients do not send: the fallback behaviour decides.
    Unavailable {
        fallback_match: bool,
    },
}

fn fallback<'a>(matches: bool) -> Values<'a> {
    if matches { Values::Match } else { Values::NoMatch }
}

/// The values a field gives a request, or a decision its handling makes without inspecting.
pub enum Values<'a> {
    Inspect(Vec<Cow<'a, [u8]>>),
    Match,
    NoMatch,
}

impl Field {
    pub fn compile(f: &shapes::FieldToMatch) -> Result<Field, Unsupported> {
        if let Some(h) = &f.single_header {
            return Ok(Field::SingleHeader(h.name.to_ascii_lowercase()));
        }
        if let Some(q) = &f.single_query_argument {
            return Ok(Field::SingleQueryArgument(q.name.to_ascii_lowercase()));
        }
        if f.all_query_arguments.is_some() {
            return Ok(Field::AllQueryArguments);
        }
        if f.uri_path.is_some() {
            return Ok(Field::UriPath);
        }
        if f.query_string.is_some() {
            return Ok(Field::QueryString);
        }
        if f.method.is_some() {
            return Ok(Field::Method);
        }
        if let Some(b) = &f.body {
            return Ok(Field::Body(Oversize::of(b.oversize_handling.as_deref())));
        }
        if let Some(j) = &f.json_body {
            let invalid = match j.invalid_fallback_behavior.as_deref() {
                Some("MATCH") => InvalidJson::Match,
                Some("EVALUATE_AS_STRING") => InvalidJson::AsString,
                _ => InvalidJson::NoMatch,
            };
            return Ok(Field::JsonBody {
                paths: j.match_pattern.included_paths.clone(),
                scope: Scope::of(&j.match_scope),
                invalid,
                oversize: Oversize::of(j.oversize_handling.as_deref()),
            });
        }
        if let Some(h) = &f.headers {
            let p = &h.match_pattern;
            let pattern = pattern(p.all.is_some(), p.included_headers.as_ref(), p.excluded_headers.as_ref());
            return Ok(Field::Headers {
                pattern,
                scope: Scope::of(&h.match_scope),
                oversize: Oversize::of(Some(&h.oversize_handling)),
            });
        }
        if let Some(c) = &f.cookies {
            let p = &c.match_pattern;
            let pattern = pattern(p.all.is_some(), p.included_cookies.as_ref(), p.excluded_cookies.as_ref());
            return Ok(Field::Cookies {
                pattern,
                scope: Scope::of(&c.match_scope),
                oversize: Oversize::of(Some(&c.oversize_handling)),
            });
        }
        if let Some(o) = &f.header_order {
            return Ok(Field::HeaderOrder(Oversize::of(Some(&o.oversize_handling))));
        }
        if let Some(j) = &f.ja3_fingerprint {
            return Ok(Field::Ja3 { fallback_match: j.fallback_behavior == "MATCH" });
        }
        if let Some(j) = &f.ja4_fingerprint {
            return Ok(Field::Ja4 { fallback_match: j.fallback_behavior == "MATCH" });
        }
        if let Some(u) = &f.uri_fragment {
            return Ok(Field::Unavailable { fallback_match: u.fallback_behavior.as_deref() == Some("MATCH") });
        }
        Err(unsupported("a field to match of no known type"))
    }

    /// What this field gives `request`.
    pub fn values<'a>(&self, request: &Request<'a>) -> Values<'a> {
        let one = |v: &'a [u8]| Values::Inspect(vec![Cow::Borrowed(v)]);
        match self {
            Field::UriPath => one(request.path),
            Field::QueryString => one(request.query),
            Field::Method => one(request.method),
            Field::SingleHeader(name) => match request.header(name) {
                Some(v) => one(v),
                None => Values::NoMatch,
            },
            Field::SingleQueryArgument(name) => {
                let found: Vec<Cow<'a, [u8]>> = query_arguments(request.query)
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name.as_bytes()))
                    .map(|(_, v)| Cow::Borrowed(v))
                    .collect();
                if found.is_empty() { Values::NoMatch } else { Values::Inspect(found) }
            }
            Field::AllQueryArguments => {
                Values::Inspect(query_arguments(request.query).map(|(_, v)| Cow::Borrowed(v)).collect())
            }
            Field::Body(oversize) => match limited(request.body, request.body_length, BODY_LIMIT, *oversize) {
                Ok(body) => one(body),
                Err(v) => v,
            },
            Field::JsonBody { paths, scope, invalid, oversize } => {
                let body = match limited(request.body, request.body_length, BODY_LIMIT, *oversize) {
                    Ok(body) => body,
                    Err(v) => return v,
                };
                json_values(body, paths.as_deref(), *scope, *invalid)
            }
            Field::Headers { pattern, scope, oversize } => {
                let (headers, over) = inspected_headers(request.headers);
                if let Some(decided) = oversized(over, *oversize) {
                    return decided;
                }
                map_values(headers.iter().map(|(k, v)| (*k, *v)), pattern, *scope)
            }
            Field::Cookies { pattern, scope, oversize } => {
                let cookies: Vec<(&'a [u8], &'a [u8])> = request
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(b"cookie"))
                    .flat_map(|(_, v)| v.split(|b| *b == b';'))
                    .map(|c| {
                        let c = c.trim_ascii();
                        match c.iter().position(|b| *b == b'=') {
                            Some(at) => (c.get(..at).unwrap_or_default(), c.get(at + 1..).unwrap_or_default()),
                            None => (c, &b""[..]),
                        }
                    })
                    .filter(|(k, _)| !k.is_empty())
                    .collect();
                let size: usize = cookies.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
                if let Some(decided) = oversized(size > HEADERS_LIMIT || cookies.len() > HEADERS_COUNT, *oversize) {
                    return decided;
                }
                map_values(cookies.into_iter().take(HEADERS_COUNT), pattern, *scope)
            }
            Field::HeaderOrder(oversize) => {
                let (headers, over) = inspected_headers(request.headers);
                if let Some(decided) = oversized(over, *oversize) {
                    return decided;
                }
                let names: Vec<&[u8]> = headers.iter().map(|(k, _)| *k).collect();
                Values::Inspect(vec![Cow::Owned(names.join(&b':'))])
            }
            Field::Ja3 { fallback_match } => match request.tls {
                Some(t) => one(t.ja3.as_bytes()),
                None => fallback(*fallback_match),
            },
            Field::Ja4 { fallback_match } => match request.tls {
                Some(t) => one(t.ja4.as_bytes()),
                None => fallback(*fallback_match),
            },
            Field::Unavailable { fallback_match } => fallback(*fallback_match),
        }
    }
}

fn pattern(all: bool, included: Option<&Vec<String>>, excluded: Option<&Vec<String>>) -> Pattern {
    match (all, included, excluded) {
        (false, Some(names), _) => Pattern::Included(names.clone()),
        (false, None, Some(names)) => Pattern::Excluded(names.clone()),
        _ => Pattern::All,
    }
}

/// What oversize handling decides for content past the inspection limit: MATCH or NO_MATCH
/// without inspecting; `None` to inspect what is within the limit (CONTINUE, or not oversized).
fn oversized<'a>(over: bool, oversize: Oversize) -> Option<Values<'a>> {
    match (over, oversize) {
        (true, Oversize::Match) => Some(Values::Match),
        (true, Oversize::NoMatch) => Some(Values::NoMatch),
        _ => None,
    }
}

/// The body within the limit, or what its oversize handling decides.
fn limited<'a>(body: &'a [u8], length: usize, limit: usize, oversize: Oversize) -> Result<&'a [u8], Values<'a>> {
    match oversized(length > limit, oversize) {
        Some(decided) => Err(decided),
        None => Ok(body.get(..limit.min(body.len())).unwrap_or(body)),
    }
}

/// The headers within the inspection limits, and whether there were more.
fn inspected_headers<'a>(headers: &'a [Header<'a>]) -> (&'a [Header<'a>], bool) {
    let mut size = 0;
    let mut count = 0;
    for (k, v) in headers.iter().take(HEADERS_COUNT) {
        size += k.len() + v.len() + 4;
        if size > HEADERS_LIMIT {
            break;
        }
        count += 1;
    }
    let over = count < headers.len();
    (headers.get(..count).unwrap_or_default(), over)
}

fn map_values<'a>(entries: impl Iterator<Item = (&'a [u8], &'a [u8])>, pattern: &Pattern, scope: Scope) -> Values<'a> {
    let mut out = Vec::new();
    for (k, v) in entries.filter(|(k, _)| pattern.takes(k)) {
        if scope != Scope::Value {
            out.push(Cow::Borrowed(k));
        }
        if scope != Scope::Key {
            out.push(Cow::Borrowed(v));
        }
    }
    Values::Inspect(out)
}

/// `name=value` pairs of a query string, undecoded; a name without `=` has an empty value.
pub fn query_arguments(query: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    query.split(|b| *b == b'&').filter(|p| !p.is_empty()).map(|p| match p.iter().position(|b| *b == b'=') {
        Some(at) => (p.get(..at).unwrap_or_default(), p.get(at + 1..).unwrap_or_default()),
        None => (p, &b""[..]),
    })
}

/// The keys and values of a JSON body's matched elements, as text.
fn json_values<'a>(body: &'a [u8], paths: Option<&[String]>, scope: Scope, invalid: InvalidJson) -> Values<'a> {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body) else {
        return match invalid {
            InvalidJson::Match => Values::Match,
            InvalidJson::NoMatch => Values::NoMatch,
            InvalidJson::AsString => Values::Inspect(vec![Cow::Borrowed(body)]),
        };
    };
    let roots: Vec<&serde_json::Value> = match paths {
        None => vec![&doc],
        Some(paths) => paths.iter().filter_map(|p| doc.pointer(p)).collect(),
    };
    let mut out = Vec::new();
    for root in roots {
        collect(root, scope, &mut out);
    }
    Values::Inspect(out)
}

fn collect<'a>(v: &serde_json::Value, scope: Scope, out: &mut Vec<Cow<'a, [u8]>>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                if scope != Scope::Value {
                    out.push(Cow::Owned(k.as_bytes().to_vec()));
                }
                collect(child, scope, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect(i, scope, out)),
        serde_json::Value::String(s) if scope != Scope::Key => out.push(Cow::Owned(s.as_bytes().to_vec())),
        serde_json::Value::String(_) => {}
        leaf if scope != Scope::Key => out.push(Cow::Owned(leaf.to_string().into_bytes())),
        _ => {}
    }
}
