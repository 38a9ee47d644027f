//! Rate-based rules: requests counted per aggregation instance (an IP, a forwarded IP, one
//! counter for all, or a tuple of custom keys) over a trailing window of 60 to 600 seconds; while
//! an instance is over the limit, its requests match. Counts are kept in 10-second buckets, the
//! granularity AWS checks at, so enforcement starts and stops within about 10 seconds of the
//! window, as AWS's does. The counters live with the compiled web ACL: a change to the web ACL
//! resets them, as it does in AWS.
//!
//! In a cluster each node counts what its own proxies see, and every second shares its counts
//! ([`RateRule::snapshot`]) and takes in the other nodes' ([`RateRule::set_remote`]): an instance
//! is over the limit on the cluster's total, a second or two behind, as AWS's counts are behind by
//! its propagation delays.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html>
//! and <https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-caveats.html>.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use rampart_shapes::generated::wafv2 as shapes;

use super::fields::{Field, Request, Values};
use super::transform::{self, Transform};
use super::{Node, Unsupported, matches, transforms, unsupported};

/// Seconds per counting bucket.
const BUCKET_SECS: u64 = 10;
/// Most aggregation instances a rule tracks; beyond it, instances whose window has passed are
/// dropped, and then new ones are not counted (the counting, not the request, is what is lost).
const MAX_INSTANCES: usize = 100_000;

/// One part of an aggregation key.
#[derive(Debug)]
enum KeyPart {
    Ip,
    ForwardedIp(String),
    Method,
    UriPath(Vec<Transform>),
    QueryString(Vec<Transform>),
    Field(Field, Vec<Transform>),
    LabelNamespace(String),
    /// The connection's JA3 or JA4 fingerprint; without one (no TLS) the key's fallback decides
    /// whether the request matches.
    Ja3 {
        fallback_match: bool,
    },
    Ja4 {
        fallback_match: bool,
    },
    /// The client's autonomous system, by the server's database; without one (or for an address
    /// it does not know) the request is not counted.
    Asn,
}

/// A compiled rate-based statement.
#[derive(Debug)]
pub struct RateRule {
    limit: u64,
    buckets: usize,
    keys: Vec<KeyPart>,
    /// For FORWARDED_IP aggregation: whether a request without a valid forwarded address matches.
    fallback_match: bool,
    scope_down: Option<Node>,
    counters: Mutex<Counters>,
}

/// An instance's requests by bucket number, as nodes share them.
pub type Buckets = Vec<(u64, u32)>;

#[derive(Debug, Default)]
struct Counters {
    /// What this node counted.
    local: HashMap<Vec<u8>, Counter>,
    /// What the other nodes counted, as they last shared it.
    remote: HashMap<Vec<u8>, Buckets>,
    /// Whether anything was counted since the last snapshot.
    counted: bool,
}

/// Requests of `buckets` within the window of `n` buckets ending with bucket `now`.
fn window_total(buckets: &[(u64, u32)], now: u64, n: u64) -> u64 {
    buckets.iter().filter(|(b, _)| *b <= now && now - *b < n).map(|(_, c)| u64::from(*c)).sum()
}

/// Counts of one instance: a ring of buckets and the bucket number it was last counted in.
#[derive(Debug)]
struct Counter {
    last: u64,
    counts: Vec<u32>,
}

impl Counter {
    /// Counts one request in bucket `now` and returns the window's total.
    fn count(&mut self, now: u64) -> u64 {
        let n = self.counts.len() as u64;
        if now.saturating_sub(self.last) >= n {
            self.counts.iter_mut().for_each(|c| *c = 0);
        } else {
            for b in self.last + 1..=now {
                if let Some(c) = self.counts.get_mut((b % n) as usize) {
                    *c = 0;
                }
            }
        }
        self.last = self.last.max(now);
        if let Some(c) = self.counts.get_mut((now % n) as usize) {
            *c = c.saturating_add(1);
        }
        self.counts.iter().map(|c| u64::from(*c)).sum()
    }

    /// The requests of each bucket still in the window ending with bucket `now`, by bucket.
    fn buckets(&self, now: u64) -> Buckets {
        let n = self.counts.len() as u64;
        let first = now.max(self.last).saturating_sub(n) + 1;
        (first..=self.last.min(now))
            .filter_map(|b| {
                let c = *self.counts.get((b % n) as usize)?;
                (c > 0).then_some((b, c))
            })
            .collect()
    }
}

/// The window lengths AWS offers.
pub const WINDOWS: [i64; 4] = [60, 120, 300, 600];

impl RateRule {
    pub(super) fn compile(r: &shapes::RateBasedStatement, scope_down: Option<Node>) -> Result<RateRule, Unsupported> {
        let window = r.evaluation_window_sec.unwrap_or(300);
        if !WINDOWS.contains(&window) {
            return Err(unsupported(format!("an evaluation window of {window} seconds")));
        }
        let forwarded = |c: Option<&shapes::ForwardedIPConfig>| {
            c.map(|f| (f.header_name.to_ascii_lowercase(), f.fallback_behavior == "MATCH"))
                .ok_or_else(|| unsupported("FORWARDED_IP aggregation without a forwarded IP configuration"))
        };
        let mut fallback_match = false;
        let keys = match r.aggregate_key_type.as_str() {
            "IP" => vec![KeyPart::Ip],
            "CONSTANT" => Vec::new(),
            "FORWARDED_IP" => {
                let (header, fallback) = forwarded(r.forwarded_ip_config.as_ref())?;
                fallback_match = fallback;
                vec![KeyPart::ForwardedIp(header)]
            }
            "CUSTOM_KEYS" => {
                let mut keys = Vec::new();
                for k in r.custom_keys.iter().flatten() {
                    keys.push(custom_key(k, r.forwarded_ip_config.as_ref())?);
                }
                keys
            }
            other => return Err(unsupported(format!("aggregate key type {other}"))),
        };
        Ok(RateRule {
            limit: u64::try_from(r.limit).unwrap_or(u64::MAX),
            buckets: usize::try_from(window).unwrap_or(300) / BUCKET_SECS as usize,
            keys,
            fallback_match,
            scope_down,
            counters: Mutex::default(),
        })
    }

    /// Counts `request` (when it is in scope and has every key) and says whether its instance is
    /// over the limit.
    pub(super) fn over<'r>(
        &self,
        request: &Request<'r>,
        labels: &[String],
        memo: &mut [Option<super::Inspected<'r>>],
    ) -> bool {
        if self.scope_down.as_ref().is_some_and(|d| !matches(d, request, labels, memo)) {
            return false;
        }
        let key = match self.key(request, labels) {
            Key::Found(k) => k,
            Key::Missing => return false,
            Key::Fallback => return self.fallback_match,
            Key::Decided(matched) => return matched,
        };
        let bucket = request.now / BUCKET_SECS;
        let mut counters = self.counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Counters { local, remote, counted } = &mut *counters;
        if local.len() >= MAX_INSTANCES && !local.contains_key(&key) {
            let oldest = bucket.saturating_sub(self.buckets as u64);
            local.retain(|_, c| c.last > oldest);
            if local.len() >= MAX_INSTANCES {
                return false;
            }
        }
        // The other nodes' counts of the instance, when there are other nodes.
        let elsewhere = match remote.is_empty() {
            true => 0,
            false => remote.get(&key).map_or(0, |b| window_total(b, bucket, self.buckets as u64)),
        };
        *counted = true;
        let counter = local.entry(key).or_insert_with(|| Counter { last: bucket, counts: vec![0; self.buckets] });
        counter.count(bucket) + elsewhere > self.limit
    }

    /// Whether the rule counted anything since the last call.
    pub fn take_counted(&self) -> bool {
        std::mem::take(&mut self.counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner).counted)
    }

    /// What this node counted, for the other nodes: each instance's requests by bucket within
    /// the window ending at `now` (seconds), the `most` busiest instances.
    pub fn snapshot(&self, now: u64, most: usize) -> Vec<(Vec<u8>, Buckets)> {
        let counters = self.counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = now / BUCKET_SECS;
        let mut all: Vec<(u64, Vec<u8>, Buckets)> = counters
            .local
            .iter()
            .map(|(k, c)| {
                let b = c.buckets(bucket);
                (b.iter().map(|(_, n)| u64::from(*n)).sum(), k.clone(), b)
            })
            .filter(|(total, _, _)| *total > 0)
            .collect();
        all.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        all.truncate(most);
        all.into_iter().map(|(_, k, b)| (k, b)).collect()
    }

    /// Takes in what the other nodes counted, summed by instance and bucket.
    pub fn set_remote(&self, remote: HashMap<Vec<u8>, Buckets>) {
        self.counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remote = remote;
    }

    pub(super) fn assign_slots(&mut self, slots: &mut HashMap<String, usize>) {
        if let Some(d) = &mut self.scope_down {
            d.assign_slots(slots);
        }
    }

    fn key(&self, request: &Request<'_>, labels: &[String]) -> Key {
        let mut key = Vec::new();
        for part in &self.keys {
            let value: Option<Vec<u8>> = match part {
                // An address by its octets: keys are only ever compared.
                KeyPart::Ip => Some(octets(request.client_ip)),
                KeyPart::ForwardedIp(header) => {
                    let first = request.header(header).and_then(|v| v.split(|b| *b == b',').next());
                    match first.and_then(|a| std::str::from_utf8(a).ok()?.trim().parse::<IpAddr>().ok()) {
                        Some(ip) => Some(octets(ip)),
                        None => return Key::Fallback,
                    }
                }
                KeyPart::Method => Some(request.method.to_vec()),
                KeyPart::UriPath(t) => Some(transform::apply_all(t, request.path).into_owned()),
                KeyPart::QueryString(t) => Some(transform::apply_all(t, request.query).into_owned()),
                KeyPart::Field(f, t) => match f.values(request) {
                    Values::Inspect(v) => v.first().map(|v| transform::apply_all(t, v).into_owned()),
                    Values::Match | Values::NoMatch => None,
                },
                KeyPart::LabelNamespace(ns) => {
                    let mut found: Vec<&str> =
                        labels.iter().filter(|l| l.starts_with(ns.as_str())).map(String::as_str).collect();
                    found.sort_unstable();
                    (!found.is_empty()).then(|| found.join(",").into_bytes())
                }
                KeyPart::Ja3 { fallback_match } => match request.tls {
                    Some(t) => Some(t.ja3.as_bytes().to_vec()),
                    None => return Key::Decided(*fallback_match),
                },
                KeyPart::Ja4 { fallback_match } => match request.tls {
                    Some(t) => Some(t.ja4.as_bytes().to_vec()),
                    None => return Key::Decided(*fallback_match),
                },
                KeyPart::Asn => {
                    request.locate.and_then(|l| l.asn(request.client_ip)).map(|a| a.to_string().into_bytes())
                }
            };
            let Some(value) = value else { return Key::Missing };
            key.extend_from_slice(&(value.len() as u64).to_le_bytes());
            key.extend_from_slice(&value);
        }
        Key::Found(key)
    }
}

fn octets(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

enum Key {
    Found(Vec<u8>),
    /// A key is missing: the request is not counted.
    Missing,
    /// The forwarded address is missing or not an address: the fallback decides.
    Fallback,
    /// A fingerprint is missing: its key's fallback says whether the request matches.
    Decided(bool),
}

fn custom_key(
    k: &shapes::RateBasedStatementCustomKey,
    forwarded: Option<&shapes::ForwardedIPConfig>,
) -> Result<KeyPart, Unsupported> {
    if let Some(h) = &k.header {
        let field = Field::SingleHeader(h.name.to_ascii_lowercase());
        return Ok(KeyPart::Field(field, transforms(&h.text_transformations)?));
    }
    if let Some(c) = &k.cookie {
        let field = Field::Cookies {
            pattern: super::fields::Pattern::Included(vec![c.name.clone()]),
            scope: super::fields::Scope::Value,
            oversize: super::fields::Oversize::Continue,
        };
        return Ok(KeyPart::Field(field, transforms(&c.text_transformations)?));
    }
    if let Some(q) = &k.query_argument {
        return Ok(KeyPart::Field(
            Field::SingleQueryArgument(q.name.to_ascii_lowercase()),
            transforms(&q.text_transformations)?,
        ));
    }
    if let Some(q) = &k.query_string {
        return Ok(KeyPart::QueryString(transforms(&q.text_transformations)?));
    }
    if let Some(u) = &k.uri_path {
        return Ok(KeyPart::UriPath(transforms(&u.text_transformations)?));
    }
    if k.http_method.is_some() {
        return Ok(KeyPart::Method);
    }
    if k.ip.is_some() {
        return Ok(KeyPart::Ip);
    }
    if k.forwarded_ip.is_some() {
        let f = forwarded.ok_or_else(|| unsupported("a ForwardedIP key without a forwarded IP configuration"))?;
        return Ok(KeyPart::ForwardedIp(f.header_name.to_ascii_lowercase()));
    }
    if let Some(l) = &k.label_namespace {
        return Ok(KeyPart::LabelNamespace(l.namespace.clone()));
    }
    if let Some(j) = &k.ja3_fingerprint {
        return Ok(KeyPart::Ja3 { fallback_match: j.fallback_behavior == "MATCH" });
    }
    if let Some(j) = &k.ja4_fingerprint {
        return Ok(KeyPart::Ja4 { fallback_match: j.fallback_behavior == "MATCH" });
    }
    if k.asn.is_some() {
        return Ok(KeyPart::Asn);
    }
    Err(unsupported("a custom key of no known type"))
}
