//! Detections from what the WAF proxies decided (pure): a source probing a load balancer's paths,
//! a source whose attacks the web ACL keeps blocking, and a flood Shield records as an attack.
//!
//! GuardDuty has no finding types for load balancers (its findings are about accounts, buckets,
//! instances, containers, databases and functions), so these three are Rampart's own, named in
//! GuardDuty's `ThreatPurpose:ResourceTypeAffected/ThreatFamilyName` scheme, with resource type
//! `LoadBalancer` and a `NETWORK_CONNECTION` action naming the source (inbound, blocked or not):
//! - `Recon:ELB/WebPathEnumeration` (5): one source asks a load balancer for [`PROBE_PATHS`]
//!   distinct paths that are not there (the upstream answers 404) or that the web ACL blocks,
//!   within [`WINDOW_SECS`].
//! - `InitialAccess:ELB/BlockedWebAttacks` (5): the web ACL blocks [`BLOCKED_ATTACKS`] requests
//!   of one source within [`WINDOW_SECS`]; the finding names the rules that blocked them.
//! - `Impact:ELB/DenialOfService` (8): Shield records an attack on the load balancer (its
//!   rate-based rules and defences turned away a flood).
//!
//! See <https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-format.html> for the
//! naming scheme.
//!
//! The thresholds are [`crate::detect::Tuning`]'s (these constants by default). Each source's
//! [`Window`] is kept in the store ([`crate::engine::observe_web`]): every node of a cluster adds
//! what its own proxies saw to the same windows, a restart keeps them, and windows that are over
//! are swept away, at most [`MAX_SOURCES`] kept.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::json;

use crate::detect::{Detection, FindingType};

/// The window a source's requests are counted in.
pub const WINDOW_SECS: i64 = 300;
/// Distinct missing or blocked paths that make probing.
pub const PROBE_PATHS: usize = 50;
/// Blocked requests that make repeated attacks.
pub const BLOCKED_ATTACKS: u32 = 20;
/// Most sources watched at once (the least recently seen go first).
pub const MAX_SOURCES: usize = 4096;
/// Most rule names and sample paths kept per source.
const KEPT: usize = 8;
/// Most distinct paths one report tells apart for a source.
const SEEN_PATHS: usize = 256;

pub static WEB_PATH_ENUMERATION: FindingType = FindingType {
    name: "Recon:ELB/WebPathEnumeration",
    severity: 5.0,
    title: "{ip} is probing the paths of load balancer {target}.",
    description: "{ip} asked load balancer {target} for many paths that are not there or that its web ACL blocks, within 5 minutes: it is looking for something to attack.",
    resource_type: "LoadBalancer",
};

pub static BLOCKED_WEB_ATTACKS: FindingType = FindingType {
    name: "InitialAccess:ELB/BlockedWebAttacks",
    severity: 5.0,
    title: "The web ACL of load balancer {target} keeps blocking {ip}.",
    description: "The web ACL of load balancer {target} blocked many requests from {ip} within 5 minutes: it is attacking the application behind it.",
    resource_type: "LoadBalancer",
};

pub static DENIAL_OF_SERVICE: FindingType = FindingType {
    name: "Impact:ELB/DenialOfService",
    severity: 8.0,
    title: "Load balancer {target} is under a denial-of-service attack.",
    description: "Shield recorded an attack on load balancer {target}: its rate-based rules and defences are turning away a flood of requests.",
    resource_type: "LoadBalancer",
};

/// What one source did at one load balancer since the last report: the proxy's tally.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Requests the web ACL blocked.
    pub blocked: u32,
    /// The rules that blocked them (at most a few).
    pub rules: Vec<String>,
    /// Hashes of the distinct paths that were missing (404) or blocked (a few hundred at most).
    pub paths: Vec<u64>,
    /// A few of those paths, as asked.
    pub samples: Vec<String>,
}

impl Seen {
    /// Notes a path that was missing or blocked.
    pub fn path(&mut self, path: &[u8]) {
        let h = hash(path);
        if self.paths.len() < SEEN_PATHS && !self.paths.contains(&h) {
            self.paths.push(h);
            if self.samples.len() < KEPT {
                self.samples.push(String::from_utf8_lossy(path).into_owned());
            }
        }
    }

    /// Notes a blocked request and the rule that blocked it.
    pub fn blocked_by(&mut self, rule: &str) {
        self.blocked = self.blocked.saturating_add(1);
        if self.rules.len() < KEPT && !self.rules.iter().any(|r| r == rule) {
            self.rules.push(rule.to_owned());
        }
    }
}

/// FNV-1a: a path's identity in a window (collisions only undercount).
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// One source's window at one load balancer: what it did since the window began.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Window {
    start: i64,
    /// When it was last seen (Unix seconds).
    pub last: i64,
    blocked: u32,
    paths: BTreeSet<u64>,
    rules: BTreeSet<String>,
    samples: Vec<String>,
    probing: bool,
    attacking: bool,
}

/// The store key of a source's window at a load balancer.
pub(crate) fn window_key(balancer: &str, source: IpAddr) -> Vec<u8> {
    format!("{WINDOWS}{balancer}\0{source}").into_bytes()
}

/// Where the windows are kept.
pub(crate) const WINDOWS: &str = "guardduty-web/";

/// The account and Region a load balancer's ARN names
/// (`arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/…`).
pub fn owner(balancer_arn: &str) -> Option<(String, String)> {
    let mut parts = balancer_arn.splitn(6, ':');
    let (_, _, _, region, account) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some((account.to_owned(), region.to_owned()))
}

fn time_text(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn web_detection(
    kind: &'static FindingType,
    (balancer, source): (&str, Option<IpAddr>),
    (first, last): (i64, i64),
    count: u32,
    evidence: serde_json::Value,
) -> Option<(String, String, Detection)> {
    let (account, region) = owner(balancer)?;
    let name = balancer.rsplit('/').nth(1).unwrap_or(balancer);
    let ip = source.map(|s| s.to_string()).unwrap_or_default();
    let fill = |t: &str| t.replace("{ip}", &ip).replace("{target}", name);
    let remote = match source {
        Some(IpAddr::V4(v4)) => json!({"ipAddressV4": v4.to_string()}),
        Some(IpAddr::V6(v6)) => json!({"ipAddressV6": v6.to_string()}),
        None => json!({}),
    };
    let detection = Detection {
        kind,
        key: format!("{balancer}|{ip}"),
        title: fill(kind.title),
        description: fill(kind.description),
        at: time_text(first),
        count,
        last: time_text(last),
        resource: json!({"resourceType": "LoadBalancer"}),
        action: json!({
            "actionType": "NETWORK_CONNECTION",
            "networkConnectionAction": {
                "connectionDirection": "INBOUND",
                "blocked": kind.name != WEB_PATH_ENUMERATION.name,
                "protocol": "TCP",
                "remoteIpDetails": remote,
            },
        }),
        evidence: None,
        detection: None,
        signals: Vec::new(),
        // What the proxy saw, as the finding's additional information.
        additional: Some(evidence),
    };
    Some((account, region, detection))
}

impl Window {
    /// Whether the window is over at `now` (Unix seconds): the next report starts a new one.
    pub fn over(&self, now: i64, tuning: &crate::detect::Tuning) -> bool {
        now - self.start >= tuning.web_window_secs
    }

    /// Adds a report of what `source` did at `balancer` (`seen`) at `now` and returns the
    /// detections it makes, each with the account and Region of the load balancer. A window
    /// that has fired counts each later report as a repeat of its finding.
    pub fn observe(
        &mut self,
        (balancer, source): (&str, IpAddr),
        seen: Seen,
        now: i64,
        tuning: &crate::detect::Tuning,
    ) -> Vec<(String, String, Detection)> {
        let mut out = Vec::new();
        if self.over(now, tuning) {
            *self = Window { start: now, ..Window::default() };
        }
        let w = self;
        w.last = now;
        w.blocked = w.blocked.saturating_add(seen.blocked);
        for r in seen.rules {
            if w.rules.len() < KEPT {
                w.rules.insert(r);
            }
        }
        for h in &seen.paths {
            if w.paths.len() <= tuning.probe_paths {
                w.paths.insert(*h);
            }
        }
        for s in seen.samples {
            if w.samples.len() < KEPT {
                w.samples.push(s);
            }
        }
        let evidence = |w: &Window| {
            json!({
                "arn": balancer,
                "blockedRequests": w.blocked,
                "rules": w.rules,
                "paths": w.samples,
                "distinctPaths": w.paths.len(),
            })
        };
        let probe_now = w.paths.len() >= tuning.probe_paths && (!w.probing || !seen.paths.is_empty());
        if probe_now {
            w.probing = true;
            out.extend(web_detection(&WEB_PATH_ENUMERATION, (balancer, Some(source)), (w.start, now), 1, evidence(w)));
        }
        let attack_now = w.blocked >= tuning.blocked_attacks && (!w.attacking || seen.blocked > 0);
        if attack_now {
            let count = if w.attacking { seen.blocked } else { w.blocked };
            w.attacking = true;
            out.extend(web_detection(
                &BLOCKED_WEB_ATTACKS,
                (balancer, Some(source)),
                (w.start, now),
                count,
                evidence(w),
            ));
        }
        out
    }
}

/// A flood Shield records as an attack on a load balancer: the top source (by requests) named
/// in the finding.
pub fn attack(
    balancer: &str,
    requests: u64,
    sources: &[(String, u64)],
    now: i64,
) -> Option<(String, String, Detection)> {
    let top = sources.iter().max_by_key(|(_, n)| *n).and_then(|(ip, _)| ip.parse::<IpAddr>().ok());
    let evidence = json!({
        "arn": balancer,
        "requests": requests,
        "topSources": sources.iter().take(KEPT).map(|(ip, n)| json!({"ip": ip, "requests": n})).collect::<Vec<_>>(),
    });
    let mut d = web_detection(&DENIAL_OF_SERVICE, (balancer, top), (now, now), 1, evidence)?;
    // One finding per load balancer, whichever source is on top.
    d.2.key = balancer.to_owned();
    Some(d)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Windows as the store keeps them, in memory.
    #[derive(Default)]
    struct Watch {
        tuning: crate::detect::Tuning,
        windows: HashMap<(String, IpAddr), Window>,
    }

    impl Watch {
        fn new(tuning: crate::detect::Tuning) -> Watch {
            Watch { tuning, windows: HashMap::new() }
        }

        fn observe(&mut self, tallies: Vec<(String, IpAddr, Seen)>, now: i64) -> Vec<(String, String, Detection)> {
            let mut out = Vec::new();
            for (balancer, source, seen) in tallies {
                let w = self.windows.entry((balancer.clone(), source)).or_default();
                out.extend(w.observe((&balancer, source), seen, now, &self.tuning));
            }
            out
        }
    }

    const LB: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop/0123456789abcdef";

    fn misses(range: std::ops::Range<usize>) -> Seen {
        let mut s = Seen::default();
        for i in range {
            s.path(format!("/no-such/{i}").as_bytes());
        }
        s
    }

    fn blocks(n: u32, rule: &str) -> Seen {
        let mut s = Seen::default();
        for _ in 0..n {
            s.blocked_by(rule);
            s.path(b"/search");
        }
        s
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([203, 0, 113, last])
    }

    #[test]
    fn fifty_missing_paths_from_one_source_within_the_window_are_probing() {
        let mut w = Watch::default();
        assert!(w.observe(vec![(LB.to_owned(), ip(1), misses(0..30))], 1_000).is_empty());
        // Another source's misses are its own.
        assert!(w.observe(vec![(LB.to_owned(), ip(2), misses(0..30))], 1_001).is_empty());
        // The same paths again are not new.
        assert!(w.observe(vec![(LB.to_owned(), ip(1), misses(0..30))], 1_002).is_empty());
        let found = w.observe(vec![(LB.to_owned(), ip(1), misses(30..50))], 1_003);
        let [(account, region, d)] = found.as_slice() else { panic!("{found:?}") };
        assert_eq!((account.as_str(), region.as_str()), ("123456789012", "eu-west-1"));
        assert_eq!(d.kind.name, "Recon:ELB/WebPathEnumeration");
        assert_eq!(d.resource["resourceType"], "LoadBalancer");
        assert_eq!(d.action["networkConnectionAction"]["remoteIpDetails"]["ipAddressV4"], "203.0.113.1");
        assert_eq!(d.title, "203.0.113.1 is probing the paths of load balancer shop.");
        // More probing repeats the finding; quiet does not.
        assert_eq!(w.observe(vec![(LB.to_owned(), ip(1), misses(50..51))], 1_004).len(), 1);
        assert!(w.observe(vec![(LB.to_owned(), ip(1), Seen::default())], 1_005).is_empty());
        // A new window starts from nothing.
        assert!(w.observe(vec![(LB.to_owned(), ip(1), misses(0..49))], 1_000 + WINDOW_SECS).is_empty());
    }

    #[test]
    fn twenty_blocked_requests_are_repeated_attacks_counted_on_one_finding() {
        let mut w = Watch::default();
        assert!(w.observe(vec![(LB.to_owned(), ip(1), blocks(19, "sqli"))], 10).is_empty());
        let found = w.observe(vec![(LB.to_owned(), ip(1), blocks(1, "xss"))], 11);
        let [(_, _, d)] = found.as_slice() else { panic!("{found:?}") };
        assert_eq!(d.kind.name, "InitialAccess:ELB/BlockedWebAttacks");
        assert_eq!(d.count, 20);
        let info = d.additional.as_ref().unwrap();
        assert_eq!(info["rules"], serde_json::json!(["sqli", "xss"]));
        assert_eq!(info["blockedRequests"], 20);
        let again = w.observe(vec![(LB.to_owned(), ip(1), blocks(3, "sqli"))], 12);
        assert_eq!(again.first().map(|(_, _, d)| d.count), Some(3));
        assert_eq!(again.first().map(|(_, _, d)| d.key.clone()), found.first().map(|(_, _, d)| d.key.clone()));
    }

    #[test]
    fn a_flood_is_a_denial_of_service_naming_its_top_source() {
        let sources = vec![("198.51.100.1".to_owned(), 3), ("198.51.100.2".to_owned(), 40)];
        let (account, _, d) = attack(LB, 43, &sources, 100).unwrap();
        assert_eq!(account, "123456789012");
        assert_eq!(d.kind.severity, 8.0);
        assert_eq!(d.key, LB);
        assert_eq!(d.action["networkConnectionAction"]["remoteIpDetails"]["ipAddressV4"], "198.51.100.2");
        assert!(attack("not-an-arn", 1, &sources, 100).is_none());
    }

    #[test]
    fn the_web_thresholds_are_tuned() {
        let tuning = crate::detect::Tuning { probe_paths: 3, blocked_attacks: 2, ..Default::default() };
        let mut w = Watch::new(tuning);
        let found = w.observe(vec![(LB.to_owned(), ip(1), misses(0..3))], 1);
        assert_eq!(found.first().map(|(_, _, d)| d.kind.name), Some("Recon:ELB/WebPathEnumeration"));
        let found = w.observe(vec![(LB.to_owned(), ip(2), blocks(2, "sqli"))], 1);
        assert_eq!(found.first().map(|(_, _, d)| d.kind.name), Some("InitialAccess:ELB/BlockedWebAttacks"));
    }
}
