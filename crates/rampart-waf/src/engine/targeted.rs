//! Bot Control's targeted level: the tests of its `TGT_` rules, with what they count across
//! requests (per address, per client session, per token), kept in memory by the compiled web
//! ACL as its rate-based rules keep theirs. See [`crate::bots::TARGETED`] for the rules and
//! <https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-bot.html>.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::bots::{SESSION_VOLUME, TARGETED_WINDOW_SECS, TOKEN_ABSENT_REQUESTS, TOKEN_REUSE_ADDRESSES};
use crate::tokens::Presented;

/// Most keys (addresses, sessions, tokens) a test keeps counts for at once.
const MAX_KEYS: usize = 65_536;
/// Buckets of the window: one per minute.
const BUCKETS: usize = 5;
const BUCKET_SECS: u64 = TARGETED_WINDOW_SECS / BUCKETS as u64;

/// A targeted rule's test.
#[derive(Debug)]
pub(crate) enum Test {
    /// Requests without an accepted token, per client address.
    IpTokenAbsent(Counts<IpAddr>),
    /// Requests per client session (its token's id).
    Session(Counts<String>),
    /// A token whose browser reported automation.
    AutomatedBrowser,
    /// A token whose browser reported another user agent, or used by another user agent.
    BrowserInconsistency,
    /// Addresses a token is used from.
    TokenReuseIp(Reuse),
}

impl Test {
    /// The test a targeted rule names (`BOT:targeted/NAME`), with nothing counted yet.
    pub(super) fn named(name: &str) -> Option<Test> {
        Some(match name {
            "ip_token_absent" => Test::IpTokenAbsent(Counts::default()),
            "session" => Test::Session(Counts::default()),
            "automated_browser" => Test::AutomatedBrowser,
            "browser_inconsistency" => Test::BrowserInconsistency,
            "token_reuse_ip" => Test::TokenReuseIp(Reuse::default()),
            _ => return None,
        })
    }

    /// Whether the rule's action applies to a request, counting it where the test counts. A
    /// request whose token was accepted (`accepted`, token management's label) is not
    /// token-absent. Labels the test adds besides the rule's own go to `labels` (under
    /// `namespace`): a session's volume below high.
    pub(super) fn decide(
        &self,
        (ip, now, token, user_agent): (IpAddr, u64, Presented<'_>, Option<&[u8]>),
        accepted: bool,
        namespace: &str,
        labels: &mut Vec<String>,
    ) -> bool {
        let token = match token {
            Presented::Valid(t) => Some(t),
            _ => None,
        };
        match self {
            Test::IpTokenAbsent(counts) => !accepted && counts.add(ip, now) > TOKEN_ABSENT_REQUESTS,
            Test::Session(counts) => {
                let Some(t) = token else { return false };
                let n = counts.add(t.id.clone(), now);
                match SESSION_VOLUME.iter().find(|(at_least, _)| n >= *at_least) {
                    Some((_, "high")) => true,
                    Some((_, level)) => {
                        labels.push(format!("{namespace}targeted:aggregate:volumetric:session:{level}"));
                        false
                    }
                    None => false,
                }
            }
            Test::AutomatedBrowser => token.is_some_and(|t| t.browser.automated),
            Test::BrowserInconsistency => token.is_some_and(|t| {
                let b = &t.browser;
                let now_agent = crate::tokens::agent_digest(user_agent.unwrap_or_default());
                b.inconsistent || (!b.agent.is_empty() && b.agent != now_agent)
            }),
            Test::TokenReuseIp(reuse) => token.is_some_and(|t| reuse.add(&t.id, ip, now) > TOKEN_REUSE_ADDRESSES),
        }
    }
}

/// Requests by minute (since the epoch).
type Minutes = Vec<(u64, u32)>;

/// What a node's test counted, as shared with the cluster's other nodes (see
/// [`crate::shared_rates`]): keys as text, each with its requests by minute, or (token reuse)
/// each token's window start and addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Share {
    Counts(Vec<(String, Minutes)>),
    Reuse(Vec<(String, u64, Vec<IpAddr>)>),
}

impl Test {
    /// Whether the test counted anything since this was last asked.
    pub(crate) fn take_counted(&self) -> bool {
        match self {
            Test::IpTokenAbsent(c) => c.counted.swap(false, Ordering::Relaxed),
            Test::Session(c) => c.counted.swap(false, Ordering::Relaxed),
            Test::TokenReuseIp(r) => r.counted.swap(false, Ordering::Relaxed),
            Test::AutomatedBrowser | Test::BrowserInconsistency => false,
        }
    }

    /// What the test counts at `now` (its `most` busiest keys), for the cluster's other nodes;
    /// `None` for a test that counts nothing across requests.
    pub(crate) fn share(&self, now: u64, most: usize) -> Option<Share> {
        match self {
            Test::IpTokenAbsent(c) => Some(c.share(now, most)),
            Test::Session(c) => Some(c.share(now, most)),
            Test::TokenReuseIp(r) => Some(r.share(now, most)),
            Test::AutomatedBrowser | Test::BrowserInconsistency => None,
        }
    }

    /// Takes in what the other nodes' same test shared.
    pub(crate) fn take(&self, shares: &[&Share], now: u64) {
        match self {
            Test::IpTokenAbsent(c) => c.take(shares),
            Test::Session(c) => c.take(shares),
            Test::TokenReuseIp(r) => r.take(shares, now),
            Test::AutomatedBrowser | Test::BrowserInconsistency => {}
        }
    }
}

/// Requests per key in the window's last minutes: this node's, and the other nodes' as they
/// last shared them.
#[derive(Debug)]
pub(crate) struct Counts<K> {
    seen: Mutex<HashMap<K, Ring>>,
    remote: Mutex<HashMap<K, Vec<(u64, u32)>>>,
    /// Counted anything since the last share.
    counted: AtomicBool,
}

impl<K> Default for Counts<K> {
    fn default() -> Self {
        Counts { seen: Mutex::new(HashMap::new()), remote: Mutex::new(HashMap::new()), counted: AtomicBool::new(false) }
    }
}

/// A key as it is shared, and read back.
pub(crate) trait SharedKey: Sized {
    fn to_text(&self) -> String;
    fn from_text(s: &str) -> Option<Self>;
}

impl SharedKey for IpAddr {
    fn to_text(&self) -> String {
        self.to_string()
    }
    fn from_text(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

impl SharedKey for String {
    fn to_text(&self) -> String {
        self.clone()
    }
    fn from_text(s: &str) -> Option<Self> {
        Some(s.to_owned())
    }
}

#[derive(Debug)]
struct Ring {
    /// The bucket (minute) last counted in.
    last: u64,
    counts: [u32; BUCKETS],
}

impl Ring {
    /// Moves the ring on to `bucket`, emptying the minutes it passed.
    fn advance(&mut self, bucket: u64) {
        let passed = bucket.saturating_sub(self.last).min(BUCKETS as u64);
        for i in 1..=passed {
            if let Some(c) = self.counts.get_mut(((self.last + i) % BUCKETS as u64) as usize) {
                *c = 0;
            }
        }
        self.last = self.last.max(bucket);
    }
}

/// Whether a bucket is within the window ending in bucket `now`.
fn in_window(bucket: u64, now: u64) -> bool {
    bucket <= now && bucket + BUCKETS as u64 > now
}

impl<K: Hash + Eq + Clone + SharedKey> Counts<K> {
    /// Counts a request of `key` at `now`; its requests within the window, this one and the
    /// other nodes' included. With [`MAX_KEYS`] keys live, a new one is counted alone.
    fn add(&self, key: K, now: u64) -> u32 {
        let bucket = now / BUCKET_SECS;
        self.counted.store(true, Ordering::Relaxed);
        let elsewhere = {
            let remote = self.remote.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            remote.get(&key).map_or(0, |b| {
                b.iter().filter(|(at, _)| in_window(*at, bucket)).fold(0u32, |a, (_, n)| a.saturating_add(*n))
            })
        };
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() >= MAX_KEYS && !seen.contains_key(&key) {
            seen.retain(|_, r| r.last + BUCKETS as u64 > bucket);
            if seen.len() >= MAX_KEYS {
                return elsewhere.saturating_add(1);
            }
        }
        let ring = seen.entry(key).or_insert(Ring { last: bucket, counts: [0; BUCKETS] });
        ring.advance(bucket);
        if let Some(c) = ring.counts.get_mut((bucket % BUCKETS as u64) as usize) {
            *c = c.saturating_add(1);
        }
        ring.counts.iter().fold(elsewhere, |a, c| a.saturating_add(*c))
    }

    /// This node's counts at `now` for sharing: its `most` busiest keys within the window.
    fn share(&self, now: u64, most: usize) -> Share {
        let bucket = now / BUCKET_SECS;
        let seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut keys: Vec<(String, Minutes, u32)> = seen
            .iter()
            .filter_map(|(k, ring)| {
                let by_bucket: Minutes = (0..BUCKETS as u64)
                    .filter_map(|back| bucket.checked_sub(back))
                    .filter(|b| *b <= ring.last && ring.last.saturating_sub(*b) < BUCKETS as u64)
                    .filter_map(|b| ring.counts.get((b % BUCKETS as u64) as usize).map(|n| (b, *n)))
                    .filter(|(_, n)| *n > 0)
                    .collect();
                let total = by_bucket.iter().fold(0u32, |a, (_, n)| a.saturating_add(*n));
                (total > 0).then(|| (k.to_text(), by_bucket, total))
            })
            .collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.2));
        keys.truncate(most);
        Share::Counts(keys.into_iter().map(|(k, b, _)| (k, b)).collect())
    }

    /// Takes in the other nodes' counts (summed), replacing what they shared before.
    fn take(&self, shares: &[&Share]) {
        let mut sum: HashMap<K, Vec<(u64, u32)>> = HashMap::new();
        for share in shares {
            let Share::Counts(keys) = share else { continue };
            for (k, buckets) in keys {
                let Some(key) = K::from_text(k) else { continue };
                let into = sum.entry(key).or_default();
                for &(b, n) in buckets {
                    match into.iter_mut().find(|(at, _)| *at == b) {
                        Some((_, c)) => *c = c.saturating_add(n),
                        None => into.push((b, n)),
                    }
                }
            }
        }
        *self.remote.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = sum;
    }
}

/// The addresses each token was used from in its current window (a few more than the
/// threshold at most): on this node, and on the others as they last shared them.
#[derive(Debug, Default)]
pub(crate) struct Reuse {
    seen: Mutex<HashMap<String, (u64, Vec<IpAddr>)>>,
    remote: Mutex<HashMap<String, Vec<IpAddr>>>,
    counted: AtomicBool,
}

impl Reuse {
    /// Notes `token` used from `ip` at `now`; the distinct addresses it was used from in its
    /// window.
    fn add(&self, token: &str, ip: IpAddr, now: u64) -> usize {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() >= MAX_KEYS && !seen.contains_key(token) {
            seen.retain(|_, (start, _)| now.saturating_sub(*start) < TARGETED_WINDOW_SECS);
            if seen.len() >= MAX_KEYS {
                return 1;
            }
        }
        let (start, addresses) = seen.entry(token.to_owned()).or_insert((now, Vec::new()));
        if now.saturating_sub(*start) >= TARGETED_WINDOW_SECS {
            *start = now;
            addresses.clear();
        }
        if !addresses.contains(&ip) && addresses.len() <= TOKEN_REUSE_ADDRESSES {
            addresses.push(ip);
        }
        self.counted.store(true, Ordering::Relaxed);
        let remote = self.remote.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let elsewhere = remote.get(token).map_or(0, |r| r.iter().filter(|a| !addresses.contains(a)).count());
        addresses.len() + elsewhere
    }

    /// This node's tokens at `now` for sharing: the `most` used from the most addresses.
    fn share(&self, now: u64, most: usize) -> Share {
        let seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut tokens: Vec<(String, u64, Vec<IpAddr>)> = seen
            .iter()
            .filter(|(_, (start, _))| now.saturating_sub(*start) < TARGETED_WINDOW_SECS)
            .map(|(t, (start, addresses))| (t.clone(), *start, addresses.clone()))
            .collect();
        tokens.sort_by_key(|t| std::cmp::Reverse(t.2.len()));
        tokens.truncate(most);
        Share::Reuse(tokens)
    }

    /// Takes in the other nodes' tokens (their addresses joined) whose windows are open at `now`.
    fn take(&self, shares: &[&Share], now: u64) {
        let mut sum: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for share in shares {
            let Share::Reuse(tokens) = share else { continue };
            for (token, start, addresses) in tokens {
                if now.saturating_sub(*start) >= TARGETED_WINDOW_SECS {
                    continue;
                }
                let into = sum.entry(token.clone()).or_default();
                for a in addresses {
                    if !into.contains(a) && into.len() <= TOKEN_REUSE_ADDRESSES {
                        into.push(*a);
                    }
                }
            }
        }
        *self.remote.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_per_key_within_the_last_five_minutes() {
        let c = Counts::default();
        let k = |s: &str| s.to_owned();
        assert_eq!(c.add(k("a"), 1_000), 1);
        assert_eq!(c.add(k("a"), 1_059), 2);
        assert_eq!(c.add(k("b"), 1_059), 1);
        assert_eq!(c.add(k("a"), 1_200), 3);
        // Past the window, the first minutes' requests no longer count.
        assert_eq!(c.add(k("a"), 1_000 + TARGETED_WINDOW_SECS + 60), 2);
        assert_eq!(c.add(k("a"), 10_000), 1);
    }

    #[test]
    fn another_nodes_counts_add_to_this_ones_within_the_window() {
        let ip = IpAddr::from([203, 0, 113, 7]);
        let (a, b) = (Counts::default(), Counts::default());
        for t in [1_000, 1_010, 1_070] {
            a.add(ip, t);
        }
        b.add(ip, 1_075);
        let shared = a.share(1_080, 10);
        let Share::Counts(keys) = &shared else { panic!("counts") };
        assert_eq!(keys, &[("203.0.113.7".to_owned(), vec![(17, 1), (16, 2)])]);
        b.take(&[&shared]);
        assert_eq!(b.add(ip, 1_090), 5, "B's two and A's three");
        // What the nodes share next replaces what they shared before.
        b.take(&[]);
        assert_eq!(b.add(ip, 1_091), 3, "B's own three");
        // A's minutes age out of the window as B's own do.
        b.take(&[&shared]);
        assert_eq!(b.add(ip, 1_000 + TARGETED_WINDOW_SECS + 70), 3, "B's last two minutes' and this one");
        // Only the busiest keys are shared.
        a.add(IpAddr::from([203, 0, 113, 8]), 1_080);
        let Share::Counts(keys) = a.share(1_080, 1) else { panic!("counts") };
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].0, "203.0.113.7");
    }

    #[test]
    fn a_tokens_addresses_are_joined_across_nodes() {
        let ip = |i: u8| IpAddr::from([198, 51, 100, i]);
        let (a, b) = (Reuse::default(), Reuse::default());
        a.add("t", ip(1), 100);
        a.add("t", ip(2), 100);
        b.add("t", ip(2), 101);
        b.take(&[&a.share(102, 10)], 102);
        assert_eq!(b.add("t", ip(3), 103), 3, "2 and 3 here, 1 from the other node");
        // A window that closed is not taken in.
        b.take(&[&a.share(102, 10)], 101 + TARGETED_WINDOW_SECS);
        assert_eq!(b.add("t", ip(4), 101 + TARGETED_WINDOW_SECS), 1);
    }

    #[test]
    fn a_token_is_reused_from_distinct_addresses_within_its_window() {
        let r = Reuse::default();
        let ip = |i: u8| IpAddr::from([198, 51, 100, i]);
        for i in 0..5 {
            assert_eq!(r.add("t", ip(i), 100), usize::from(i) + 1);
        }
        assert_eq!(r.add("t", ip(0), 101), 5, "an address seen before adds nothing");
        assert_eq!(r.add("t", ip(9), 102), 6);
        assert_eq!(r.add("t", ip(10), 103), 6, "bounded just past the threshold");
        assert_eq!(r.add("t", ip(9), 100 + TARGETED_WINDOW_SECS), 1, "a new window");
    }
}
