//! Bot Control's targeted level: the tests of its `TGT_` rules, with what they count across
//! requests (per address, per client session, per token), kept in memory by the compiled web
//! ACL as its rate-based rules keep theirs. See [`crate::bots::TARGETED`] for the rules and
//! <https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-bot.html>.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::bots::{SESSION_VOLUME, TARGETED_WINDOW_SECS, TOKEN_ABSENT_REQUESTS, TOKEN_REUSE_ADDRESSES};
use crate::tokens::Presented;

/// Most keys (addresses, sessions, tokens) a test keeps counts for at once.
const MAX_KEYS: usize = 65_536;
/// Buckets of the window: one per minute.
const BUCKETS: usize = 5;
const BUCKET_SECS: u64 = TARGETED_WINDOW_SECS / BUCKETS as u64;

/// A targeted rule's test.
#[derive(Debug)]
pub(super) enum Test {
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

/// Requests per key in the window's last minutes.
#[derive(Debug)]
pub(super) struct Counts<K> {
    seen: Mutex<HashMap<K, Ring>>,
}

impl<K> Default for Counts<K> {
    fn default() -> Self {
        Counts { seen: Mutex::new(HashMap::new()) }
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

impl<K: Hash + Eq> Counts<K> {
    /// Counts a request of `key` at `now`; its requests within the window, this one included.
    /// With [`MAX_KEYS`] keys live, a new one is counted alone.
    fn add(&self, key: K, now: u64) -> u32 {
        let bucket = now / BUCKET_SECS;
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() >= MAX_KEYS && !seen.contains_key(&key) {
            seen.retain(|_, r| r.last + BUCKETS as u64 > bucket);
            if seen.len() >= MAX_KEYS {
                return 1;
            }
        }
        let ring = seen.entry(key).or_insert(Ring { last: bucket, counts: [0; BUCKETS] });
        ring.advance(bucket);
        if let Some(c) = ring.counts.get_mut((bucket % BUCKETS as u64) as usize) {
            *c = c.saturating_add(1);
        }
        ring.counts.iter().fold(0u32, |a, c| a.saturating_add(*c))
    }
}

/// The addresses each token was used from in its current window (a few more than the
/// threshold at most).
#[derive(Debug, Default)]
pub(super) struct Reuse {
    seen: Mutex<HashMap<String, (u64, Vec<IpAddr>)>>,
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
        addresses.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_per_key_within_the_last_five_minutes() {
        let c = Counts::default();
        assert_eq!(c.add("a", 1_000), 1);
        assert_eq!(c.add("a", 1_059), 2);
        assert_eq!(c.add("b", 1_059), 1);
        assert_eq!(c.add("a", 1_200), 3);
        // Past the window, the first minutes' requests no longer count.
        assert_eq!(c.add("a", 1_000 + TARGETED_WINDOW_SECS + 60), 2);
        assert_eq!(c.add("a", 10_000), 1);
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
