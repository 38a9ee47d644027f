//! Rate-based rules' counts, and Bot Control's targeted-level counts, shared by a cluster's
//! nodes. Each node counts the requests its own proxies see; every second it stores what its
//! rate-based rules and targeted tests counted (a record per web ACL and node, [`publish`]) and
//! takes in what the other nodes stored ([`take_in`]), so that an aggregation instance is over
//! its limit on the cluster's total, and a client over a targeted rule's threshold (token-less
//! requests from an address, a session's volume, a token's addresses) on the cluster's traffic,
//! not on each node's share of it.
//! AWS's counts, too, lag by propagation delays ("usually below 30 seconds"); these lag by a
//! second or two.
//!
//! Nodes share counts only for the same rules: a record carries the digest of the records its
//! web ACL was compiled from, and a node that compiled other ones (a change not yet seen, or not
//! yet seen by the other) ignores it; a change resets the counts, as AWS's do. A node shares its
//! busiest [`MOST_SHARED`] instances per rule; the rest it counts alone.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-caveats.html>.

use std::collections::HashMap;

use rampart_store::{Db, StoreError};
use serde::{Deserialize, Serialize};

use crate::engine::rate::Buckets;
use crate::engine::targeted::Share;
use crate::protection::Compiled;

/// The most aggregation instances of one rule a node shares.
pub const MOST_SHARED: usize = 1000;

/// Records older than this are no node's any more (the longest window is 600 s): dropped.
const STALE_SECS: u64 = 900;

/// What one node's rate-based rules of one web ACL counted.
#[derive(Debug, Serialize, Deserialize)]
struct Shared {
    /// The digest of the records the node compiled the web ACL from.
    version: String,
    /// When, in seconds since the epoch.
    at: u64,
    /// By rule, in [`crate::engine::WebAcl::rate_rules`]' order: each instance's requests by
    /// bucket.
    rules: Vec<Vec<(Vec<u8>, Buckets)>>,
    /// By test, in [`crate::engine::WebAcl::targeted_tests`]' order (`None`: a test that counts
    /// nothing across requests).
    #[serde(default)]
    targeted: Vec<Option<Share>>,
}

/// `wafrates/<web ACL ARN>\0`: the prefix of every node's record for a web ACL.
fn prefix(web_acl_arn: &str) -> Vec<u8> {
    format!("wafrates/{web_acl_arn}\0").into_bytes()
}

/// The records this node stores now (for [`Db::put_later`]: counts lost in a crash are counted
/// again): one for each web ACL whose rate-based rules counted anything since the last call.
pub fn publish(compiled: &Compiled, node: &str, now: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for (arn, version, acl) in compiled.each() {
        let (rules, tests) = (acl.rate_rules(), acl.targeted_tests());
        // Nothing counted since the last record: it still stands (buckets age by number).
        let counted = rules.iter().fold(false, |any, r| r.take_counted() | any);
        if !tests.iter().fold(counted, |any, t| t.take_counted() | any) {
            continue;
        }
        let rules = rules.iter().map(|r| r.snapshot(now, MOST_SHARED)).collect();
        let targeted = tests.iter().map(|t| t.share(now, MOST_SHARED)).collect();
        let shared = Shared { version, at: now, rules, targeted };
        if let Ok(bytes) = serde_json::to_vec(&shared) {
            let mut key = prefix(&arn);
            key.extend_from_slice(node.as_bytes());
            out.push((key, bytes));
        }
    }
    out
}

/// Takes in the other nodes' records for every web ACL compiled here. Returns the keys of
/// records too old to be any node's, for the caller to delete.
pub fn take_in(compiled: &Compiled, db: &Db, node: &str, now: u64) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut stale = Vec::new();
    for (arn, version, acl) in compiled.each() {
        let (rules, tests) = (acl.rate_rules(), acl.targeted_tests());
        if rules.is_empty() && tests.is_empty() {
            continue;
        }
        let prefix = prefix(&arn);
        let mut sums: Vec<HashMap<Vec<u8>, Buckets>> = vec![HashMap::new(); rules.len()];
        let mut shares: Vec<Vec<Share>> = vec![Vec::new(); tests.len()];
        for (key, value) in db.scan_prefix(&prefix, None, usize::MAX >> 1, false)? {
            if key.get(prefix.len()..) == Some(node.as_bytes()) {
                continue;
            }
            let Ok(shared) = serde_json::from_slice::<Shared>(&value) else { continue };
            if now.saturating_sub(shared.at) > STALE_SECS {
                stale.push(key);
                continue;
            }
            if shared.version != version || shared.rules.len() != rules.len() {
                continue;
            }
            for (sum, counted) in sums.iter_mut().zip(shared.rules) {
                for (instance, buckets) in counted {
                    add(sum.entry(instance).or_default(), &buckets);
                }
            }
            if shared.targeted.len() == tests.len() {
                for (into, share) in shares.iter_mut().zip(shared.targeted) {
                    into.extend(share);
                }
            }
        }
        for (rule, sum) in rules.iter().zip(sums) {
            rule.set_remote(sum);
        }
        for (test, shared) in tests.iter().zip(shares) {
            test.take(&shared.iter().collect::<Vec<_>>(), now);
        }
    }
    Ok(stale)
}

/// Adds `more` to `sum`, bucket by bucket.
fn add(sum: &mut Buckets, more: &[(u64, u32)]) {
    for &(bucket, n) in more {
        match sum.iter_mut().find(|(b, _)| *b == bucket) {
            Some((_, c)) => *c = c.saturating_add(n),
            None => sum.push((bucket, n)),
        }
    }
}
