//! Elastic Load Balancing (ELBv2): application load balancers, target groups and listeners,
//! configured through the `elasticloadbalancing` API, whose listeners Rampart serves as reverse
//! proxies to the registered targets (the server's `balancers` module runs them; WAF's web ACLs
//! protect them).
//!
//! Each resource is one record holding its model shape (`LoadBalancer`, `TargetGroup`,
//! `Listener`) in AWS's wire JSON, so that a Describe answers what was written, beside its
//! attributes, tags and (for a target group) its registered targets. [`routing`] is the pure part
//! the proxies use: a listener's route, a target group's health check, a redirect's location.
//! See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/introduction.html>.

use std::collections::BTreeMap;

use rampart_core::{ServiceError, records};
use rampart_shapes::generated::elbv2 as shapes;
use rampart_shapes::{FromValue, HasShape, IntoValue};
use rampart_store::Tx;
use serde::{Deserialize, Serialize};

mod attributes;
mod balancers;
mod groups;
pub mod health;
mod listeners;
pub mod routing;
mod rules;
mod tags;

pub use balancers::*;
pub use groups::*;
pub use listeners::*;
pub use rules::*;
pub use tags::*;

/// The kinds of ELB resource, as their ARNs name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    LoadBalancer,
    TargetGroup,
    Listener,
    /// A listener rule, kept inside its listener's record.
    Rule,
}

/// Where a resource is and its store key, from its ARN:
/// `loadbalancer/app/NAME/ID`, `targetgroup/NAME/ID`, `listener/app/LB/LBID/ID`, and
/// `listener-rule/app/LB/LBID/LISTENERID/ID`, whose key is its listener's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub kind: Kind,
    pub account: String,
    pub region: String,
    pub key: Vec<u8>,
}

/// An ELB ARN taken apart; `None` for anything else.
pub fn locate(arn: &str) -> Option<Located> {
    let rest = arn.strip_prefix("arn:aws:elasticloadbalancing:")?;
    let mut parts = rest.splitn(3, ':');
    let (region, account, path) = (parts.next()?, parts.next()?, parts.next()?);
    if region.is_empty() || account.is_empty() {
        return None;
    }
    let segments: Vec<&str> = path.split('/').collect();
    let (kind, name) = match segments.as_slice() {
        ["loadbalancer", "app", name, id] if !id.is_empty() => (Kind::LoadBalancer, format!("loadbalancer/{name}")),
        ["targetgroup", name, id] if !id.is_empty() => (Kind::TargetGroup, format!("targetgroup/{name}")),
        ["listener", "app", lb, lb_id, id] if !id.is_empty() => (Kind::Listener, format!("listener/{lb}/{lb_id}/{id}")),
        ["listener-rule", "app", lb, lb_id, listener, id] if !id.is_empty() => {
            (Kind::Rule, format!("listener/{lb}/{lb_id}/{listener}"))
        }
        _ => return None,
    };
    if name.split('/').any(str::is_empty) {
        return None;
    }
    let key = format!("elb/{account}/{region}/{name}").into_bytes();
    Some(Located { kind, account: account.to_owned(), region: region.to_owned(), key })
}

/// The prefix of every ELB resource of a kind in an account's region.
pub(crate) fn prefix(account: &str, region: &str, kind: Kind) -> Vec<u8> {
    let segment = match kind {
        Kind::LoadBalancer => "loadbalancer",
        Kind::TargetGroup => "targetgroup",
        Kind::Listener | Kind::Rule => "listener",
    };
    format!("elb/{account}/{region}/{segment}/").into_bytes()
}

/// The prefix of every listener of a load balancer, from its ARN.
pub(crate) fn listeners_prefix(balancer_arn: &str) -> Option<Vec<u8>> {
    let located = locate(balancer_arn)?;
    let rest = balancer_arn.rsplit_once(":loadbalancer/app/")?.1;
    Some(format!("elb/{}/{}/listener/{rest}/", located.account, located.region).into_bytes())
}

/// An ELB resource as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub arn: String,
    /// The resource's model shape (`LoadBalancer`, `TargetGroup`, `Listener`) in AWS's wire JSON.
    pub body: String,
    /// Attributes set by Modify…Attributes; the rest keep AWS's defaults.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// A target group's registered targets.
    #[serde(default)]
    pub targets: Vec<Registered>,
    /// A load balancer the server's configuration defines (a `--proxy` listener): where it
    /// listens and the upstream it forwards to. The API cannot delete it.
    #[serde(default)]
    pub configured: Option<Configured>,
    /// A listener's rules (besides its default actions), in no particular order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<StoredRule>,
    /// An HTTPS listener's certificates besides its default one (AddListenerCertificates), by
    /// ARN: chosen by the name a client asks for (SNI).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<String>,
}

/// A listener rule as stored in its listener's record: its model shape (`Rule`) in AWS's wire
/// JSON, and its tags.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredRule {
    pub arn: String,
    pub body: String,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

impl StoredRule {
    pub fn body(&self) -> Result<shapes::Rule, ServiceError> {
        rampart_wire::json::from_wire(self.body.as_bytes()).ok_or_else(corrupt)
    }

    pub(crate) fn set_body(&mut self, rule: shapes::Rule) {
        self.body = rampart_wire::json::to_wire(rule);
    }
}

/// A registered target: an IP address and port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub id: String,
    pub port: i32,
    #[serde(default)]
    pub availability_zone: Option<String>,
}

/// Where a configured load balancer listens and what it forwards to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Configured {
    pub listen: String,
    pub upstream: String,
}

impl Record {
    /// The resource's body as its generated type.
    pub fn body<T: FromValue + HasShape>(&self) -> Result<T, ServiceError> {
        rampart_wire::json::from_wire(self.body.as_bytes()).ok_or_else(corrupt)
    }

    pub(crate) fn set_body<T: IntoValue + HasShape>(&mut self, body: T) {
        self.body = rampart_wire::json::to_wire(body);
    }

    pub(crate) fn new<T: IntoValue + HasShape>(arn: String, body: T, tags: Vec<(String, String)>) -> Record {
        let mut r = Record {
            arn,
            body: String::new(),
            attributes: BTreeMap::new(),
            tags,
            targets: Vec::new(),
            configured: None,
            rules: Vec::new(),
            certificates: Vec::new(),
        };
        r.set_body(body);
        r
    }
}

/// The record an ARN names, if it is the caller's (`account`) and still the same resource.
pub(crate) fn find(
    get: &records::Reader<'_>,
    account: &str,
    arn: &str,
    kind: Kind,
) -> Result<Option<Record>, ServiceError> {
    let Some(located) = locate(arn).filter(|l| l.kind == kind && l.account == account) else { return Ok(None) };
    Ok(records::read_with::<Record>(get, &located.key)?.filter(|r| r.arn == arn))
}

/// The caller's load balancer an ARN names, as WAF's associations look it up.
pub fn load_balancer(get: &records::Reader<'_>, account: &str, arn: &str) -> Result<Option<Record>, ServiceError> {
    find(get, account, arn, Kind::LoadBalancer)
}

pub(crate) fn save(tx: &mut Tx<'_>, record: &Record) -> Result<(), ServiceError> {
    let located = locate(&record.arn).ok_or_else(ServiceError::internal)?;
    records::write_tx(tx, &located.key, record)
}

pub(crate) fn remove(tx: &mut Tx<'_>, arn: &str) -> Result<(), ServiceError> {
    let located = locate(arn).ok_or_else(ServiceError::internal)?;
    tx.delete(&located.key)?;
    Ok(())
}

/// Every record under a prefix, in key order.
pub(crate) fn scan_tx(tx: &Tx<'_>, prefix: &[u8]) -> Result<Vec<Record>, ServiceError> {
    tx.scan_prefix(prefix, None, usize::MAX >> 1, false)?.iter().map(|(k, v)| records::decode(k, v)).collect()
}

/// A fresh resource id: 16 hexadecimal digits, as AWS's.
pub(crate) fn new_id() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ServiceError::internal())?;
    Ok(data_encoding::HEXLOWER.encode(&bytes))
}

/// A stored body that no longer decodes.
fn corrupt() -> ServiceError {
    ServiceError::new("InternalFailure", 500, "The request processing has failed because of an unknown error.")
}

pub(crate) fn error(code: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::new(code, 400, message)
}

/// ELB's ValidationError, for input the service refuses beyond the model's constraints.
pub(crate) fn validation(message: impl Into<String>) -> ServiceError {
    error("ValidationError", message)
}

pub(crate) fn balancer_not_found() -> ServiceError {
    error("LoadBalancerNotFound", "One or more load balancers not found")
}

pub(crate) fn group_not_found() -> ServiceError {
    error("TargetGroupNotFound", "One or more target groups not found")
}

pub(crate) fn listener_not_found() -> ServiceError {
    error("ListenerNotFound", "One or more listeners not found")
}

/// A name of a load balancer or target group: 1–32 alphanumerics and hyphens, neither starting
/// nor ending with a hyphen.
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html>.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), ServiceError> {
    if name.len() > 32 {
        return Err(validation(format!("{what} name '{name}' cannot be longer than '32' characters")));
    }
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(validation(format!(
            "{what} name '{name}' can only contain characters that are alphanumeric characters or hyphens(-)"
        )));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(validation(format!("{what} name '{name}' cannot begin or end with a hyphen")));
    }
    Ok(())
}

/// A page of a listing: `PageSize` items (1–400; 400 by default) from the `Marker` on.
pub(crate) fn page<T>(
    items: Vec<T>,
    marker: Option<&str>,
    size: Option<i32>,
) -> Result<(Vec<T>, Option<String>), ServiceError> {
    let start = match marker {
        Some(m) => m.parse::<usize>().map_err(|_| validation("The marker is not valid"))?,
        None => 0,
    };
    let size = usize::try_from(size.unwrap_or(400)).unwrap_or(400).clamp(1, 400);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(size).collect();
    Ok((page, (start + size < total).then(|| (start + size).to_string())))
}

/// A request's tags as stored: at most 50, each key once.
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_AddTags.html>.
pub(crate) fn merge_tags(into: &mut Vec<(String, String)>, tags: Vec<shapes::Tag>) -> Result<(), ServiceError> {
    let mut seen = std::collections::HashSet::new();
    for t in &tags {
        if !seen.insert(t.key.as_str()) {
            return Err(error("DuplicateTagKeys", format!("Tag key '{}' is duplicated", t.key)));
        }
    }
    for t in tags {
        let value = t.value.unwrap_or_default();
        match into.iter_mut().find(|(k, _)| *k == t.key) {
            Some(existing) => existing.1 = value,
            None => into.push((t.key, value)),
        }
    }
    if into.len() > 50 {
        return Err(error(
            "TooManyTags",
            "The quota for the number of tags that can be assigned to a load balancer has been reached",
        ));
    }
    Ok(())
}

/// What each operation asks of the authorizer: the resource an ARN member names where there is
/// one, else `*`.
/// See <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html>.
pub static ACTIONS: &[rampart_core::actions::Action] = {
    use rampart_core::actions::{Target, row};
    const TAGS: &[&str] = &["aws:RequestTag/${TagKey}", "aws:TagKeys"];
    &[
        row("AddListenerCertificates", &[Target::Arn("ListenerArn")], &[]),
        row("AddTags", &[Target::All], TAGS),
        row("CreateListener", &[Target::Arn("LoadBalancerArn")], TAGS),
        row("CreateLoadBalancer", &[Target::All], TAGS),
        row("CreateRule", &[Target::Arn("ListenerArn")], TAGS),
        row("CreateTargetGroup", &[Target::All], TAGS),
        row("DeleteListener", &[Target::Arn("ListenerArn")], &[]),
        row("DeleteLoadBalancer", &[Target::Arn("LoadBalancerArn")], &[]),
        row("DeleteRule", &[Target::Arn("RuleArn")], &[]),
        row("DeleteTargetGroup", &[Target::Arn("TargetGroupArn")], &[]),
        row("DeregisterTargets", &[Target::Arn("TargetGroupArn")], &[]),
        row("DescribeCapacityReservation", &[Target::All], &[]),
        row("DescribeListenerAttributes", &[Target::All], &[]),
        row("DescribeListenerCertificates", &[Target::All], &[]),
        row("DescribeListeners", &[Target::All], &[]),
        row("DescribeLoadBalancerAttributes", &[Target::All], &[]),
        row("DescribeLoadBalancers", &[Target::All], &[]),
        row("DescribeRules", &[Target::All], &[]),
        row("DescribeSSLPolicies", &[Target::All], &[]),
        row("DescribeTags", &[Target::All], &[]),
        row("DescribeTargetGroupAttributes", &[Target::All], &[]),
        row("DescribeTargetGroups", &[Target::All], &[]),
        row("DescribeTargetHealth", &[Target::All], &[]),
        row("ModifyListener", &[Target::Arn("ListenerArn")], &[]),
        row("ModifyListenerAttributes", &[Target::Arn("ListenerArn")], &[]),
        row("ModifyLoadBalancerAttributes", &[Target::Arn("LoadBalancerArn")], &[]),
        row("ModifyRule", &[Target::Arn("RuleArn")], &[]),
        row("ModifyTargetGroup", &[Target::Arn("TargetGroupArn")], &[]),
        row("ModifyTargetGroupAttributes", &[Target::Arn("TargetGroupArn")], &[]),
        row("RegisterTargets", &[Target::Arn("TargetGroupArn")], &[]),
        row("RemoveListenerCertificates", &[Target::Arn("ListenerArn")], &[]),
        row("RemoveTags", &[Target::All], &["aws:TagKeys"]),
        row("SetRulePriorities", &[Target::All], &[]),
    ]
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_locate_their_records() {
        let lb = locate("arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/front/50dc6c495c0c9188")
            .unwrap();
        assert_eq!(
            (lb.kind, lb.key.as_slice()),
            (Kind::LoadBalancer, &b"elb/111122223333/eu-west-1/loadbalancer/front"[..])
        );
        let tg =
            locate("arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/web/73e2d6bc24d8a067").unwrap();
        assert_eq!(
            (tg.kind, tg.key.as_slice()),
            (Kind::TargetGroup, &b"elb/111122223333/eu-west-1/targetgroup/web"[..])
        );
        let l = locate(
            "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/front/50dc6c495c0c9188/f2f7dc8efc522ab2",
        )
        .unwrap();
        assert_eq!(
            l.key.as_slice(),
            &b"elb/111122223333/eu-west-1/listener/front/50dc6c495c0c9188/f2f7dc8efc522ab2"[..]
        );
        assert_eq!(
            listeners_prefix(
                "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/front/50dc6c495c0c9188"
            )
            .unwrap(),
            b"elb/111122223333/eu-west-1/listener/front/50dc6c495c0c9188/".to_vec()
        );
        for bad in [
            "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/front/50dc",
            "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/front",
            "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup//1",
            "arn:aws:elasticloadbalancing::111122223333:targetgroup/a/1",
            "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/a/1",
        ] {
            assert!(locate(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn names_are_alphanumerics_and_inner_hyphens() {
        assert!(check_name("Load balancer", "front-1").is_ok());
        for bad in ["", "-front", "front-", "front_1", &"a".repeat(33)] {
            assert_eq!(check_name("Load balancer", bad).unwrap_err().code, "ValidationError", "{bad}");
        }
    }

    #[test]
    fn tags_merge_once_per_key_up_to_fifty() {
        let tag = |k: &str| shapes::Tag { key: k.to_owned(), value: Some("v".to_owned()) };
        let mut tags = Vec::new();
        merge_tags(&mut tags, vec![tag("a"), tag("b")]).unwrap();
        merge_tags(&mut tags, vec![tag("a")]).unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(merge_tags(&mut tags, vec![tag("c"), tag("c")]).unwrap_err().code, "DuplicateTagKeys");
        assert_eq!(
            merge_tags(&mut tags, (0..49).map(|i| tag(&i.to_string())).collect()).unwrap_err().code,
            "TooManyTags"
        );
    }
}
