//! AWS WAFv2: IP sets, regex pattern sets, rule groups and web ACLs, configured through the WAFv2
//! API, and [`engine`], the pure evaluator that decides a web request against a web ACL as AWS
//! WAF does (rule priority, labels, actions, every text transformation).
//!
//! Each entity is one record (`rampart_core::keys::waf_entity`) holding its body in AWS's own wire
//! JSON (the model's `IPSet`, `RegexPatternSet`, `RuleGroup` or `WebACL` shape), so that a Get
//! answers exactly what was written, with a lock token every change must present.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-chapter.html>.

use rampart_core::{ServiceError, keys, records};
use rampart_shapes::{FromValue, HasShape, IntoValue};
use rampart_store::Tx;
use serde::{Deserialize, Serialize};

mod acls;
mod api_keys;
pub mod bot_paths;
pub mod bots;
pub mod capacity;
pub mod engine;
pub mod managed;
pub mod mitigation;
mod protection;
mod sellers;
mod sets;
pub mod shared_rates;
mod sharing;
mod tags;
pub mod tokens;
pub mod visibility;

pub use acls::*;
pub use api_keys::*;
pub use bot_paths::get_top_path_statistics_by_traffic;
pub use managed::{
    describe_managed_rule_group, list_available_managed_rule_group_versions, list_available_managed_rule_groups,
};
pub use protection::*;
pub use sellers::*;
pub use sets::*;
pub use sharing::{delete_permission_policy, get_permission_policy, put_permission_policy};
pub use tags::*;
pub use visibility::{
    delete_logging_configuration, get_logging_configuration, get_rate_based_statement_managed_keys,
    get_sampled_requests, list_logging_configurations, put_logging_configuration,
};

/// The kinds of WAF entity, as their ARNs name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    IpSet,
    RegexPatternSet,
    RuleGroup,
    WebAcl,
}

impl Kind {
    /// The kind's segment in an ARN and in the store's keys.
    pub fn segment(self) -> &'static str {
        match self {
            Kind::IpSet => "ipset",
            Kind::RegexPatternSet => "regexpatternset",
            Kind::RuleGroup => "rulegroup",
            Kind::WebAcl => "webacl",
        }
    }

    fn of_segment(segment: &str) -> Option<Kind> {
        [Kind::IpSet, Kind::RegexPatternSet, Kind::RuleGroup, Kind::WebAcl].into_iter().find(|k| k.segment() == segment)
    }
}

/// Where an entity lives: its account, the region its ARN names and its scope's ARN segment
/// (`regional`, or `global` for CLOUDFRONT, whose entities live in us-east-1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub account: String,
    pub region: String,
    pub scope: &'static str,
}

impl Place {
    /// The place a request's `Scope` names. CloudFront's scope is served in us-east-1 only; AWS
    /// refuses it elsewhere as an invalid scope.
    /// See <https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateWebACL.html> (Scope).
    pub fn of(account: &str, region: &str, scope: &str) -> Result<Place, ServiceError> {
        let scope = match scope {
            "REGIONAL" => "regional",
            "CLOUDFRONT" if region == "us-east-1" => "global",
            _ => return Err(invalid_parameter("SCOPE_VALUE", scope, "The scope is not valid.")),
        };
        Ok(Place { account: account.to_owned(), region: region.to_owned(), scope })
    }

    pub fn arn(&self, kind: Kind, name: &str, id: &str) -> String {
        format!("arn:aws:wafv2:{}:{}:{}/{}/{name}/{id}", self.region, self.account, self.scope, kind.segment())
    }

    fn key(&self, kind: Kind, id: &str) -> Vec<u8> {
        keys::waf_entity(&self.account, &self.region, self.scope, kind.segment(), id)
    }

    fn prefix(&self, kind: Kind) -> Vec<u8> {
        keys::waf_entities(&self.account, &self.region, self.scope, kind.segment())
    }
}

/// An entity's ARN taken apart: where it is, its kind, name and id.
pub fn parse_arn(arn: &str) -> Option<(Place, Kind, String, String)> {
    let rest = arn.strip_prefix("arn:aws:wafv2:")?;
    let mut parts = rest.splitn(3, ':');
    let (region, account, path) = (parts.next()?, parts.next()?, parts.next()?);
    let mut segments = path.split('/');
    let scope = match segments.next()? {
        "regional" => "regional",
        "global" => "global",
        _ => return None,
    };
    let kind = Kind::of_segment(segments.next()?)?;
    let (name, id) = (segments.next()?, segments.next()?);
    if segments.next().is_some() || name.is_empty() || id.is_empty() {
        return None;
    }
    let place = Place { account: account.to_owned(), region: region.to_owned(), scope };
    Some((place, kind, name.to_owned(), id.to_owned()))
}

/// The caller's entity an ARN names, with where it is; WAFNonexistentItemException for an ARN
/// that names none of the account's.
pub(crate) fn owned(
    get: &records::Reader<'_>,
    account: &str,
    arn: &str,
) -> Result<(Place, Kind, Stored), ServiceError> {
    let (place, kind, name, id) = parse_arn(arn).ok_or_else(nonexistent)?;
    if place.account != account {
        return Err(nonexistent());
    }
    let stored = named(get, &place, kind, &name, &id)?;
    Ok((place, kind, stored))
}

/// A WAF entity as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    pub name: String,
    pub id: String,
    pub arn: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Changes with every update; an update or delete must present the current one.
    pub lock_token: String,
    /// The entity's shape (`IPSet`, `WebACL`, …) in AWS's wire JSON.
    pub body: String,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

impl Stored {
    /// The entity's body as its generated type.
    pub fn body<T: FromValue + HasShape>(&self) -> Result<T, ServiceError> {
        rampart_wire::json::from_wire(self.body.as_bytes()).ok_or_else(corrupt)
    }
}

/// `body` in AWS's wire JSON, for storing.
pub(crate) fn wire<T: IntoValue + HasShape>(body: T) -> String {
    rampart_wire::json::to_wire(body)
}

/// A stored body that no longer decodes: answered as AWS's internal error.
fn corrupt() -> ServiceError {
    ServiceError::new(
        "WAFInternalErrorException",
        500,
        "Your request is valid, but AWS WAF couldn’t perform the operation because of a system problem. Retry your \
         request.",
    )
}

pub(crate) fn new_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Every entity of a kind in a place, by name.
pub(crate) fn all_tx(tx: &Tx<'_>, place: &Place, kind: Kind) -> Result<Vec<Stored>, ServiceError> {
    let mut all: Vec<Stored> = tx
        .scan_prefix(&place.prefix(kind), None, usize::MAX >> 1, false)?
        .iter()
        .map(|(k, v)| records::decode::<Stored>(k, v))
        .collect::<Result<_, _>>()?;
    all.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    Ok(all)
}

pub(crate) fn all(db: &rampart_store::Db, place: &Place, kind: Kind) -> Result<Vec<Stored>, ServiceError> {
    let mut all: Vec<Stored> = records::scan_records(db, &place.prefix(kind))?;
    all.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    Ok(all)
}

/// The entity a request names by name and id; both must match, as in AWS.
pub(crate) fn named(
    get: &records::Reader<'_>,
    place: &Place,
    kind: Kind,
    name: &str,
    id: &str,
) -> Result<Stored, ServiceError> {
    records::read_with::<Stored>(get, &place.key(kind, id))?.filter(|s| s.name == name).ok_or_else(nonexistent)
}

pub(crate) fn save(tx: &mut Tx<'_>, place: &Place, kind: Kind, stored: &Stored) -> Result<(), ServiceError> {
    records::write_tx(tx, &place.key(kind, &stored.id), stored)
}

pub(crate) fn remove(tx: &mut Tx<'_>, place: &Place, kind: Kind, id: &str) -> Result<(), ServiceError> {
    tx.delete(&place.key(kind, id))?;
    Ok(())
}

/// The summary shapes (`IPSetSummary`, `WebACLSummary`, …) are alike: an entity's name, id,
/// description, lock token and ARN.
pub(crate) trait Summary {
    fn of(s: &Stored) -> Self;
}

macro_rules! summaries {
    ($($shape:ident),*) => {$(
        impl Summary for rampart_shapes::generated::wafv2::$shape {
            fn of(s: &Stored) -> Self {
                Self {
                    name: Some(s.name.clone()),
                    id: Some(s.id.clone()),
                    description: s.description.clone(),
                    lock_token: Some(s.lock_token.clone()),
                    arn: Some(s.arn.clone()),
                }
            }
        }
    )*};
}
summaries!(IPSetSummary, RegexPatternSetSummary, RuleGroupSummary, WebACLSummary);

/// A request's tags as stored.
pub(crate) fn tag_pairs(tags: Option<Vec<rampart_shapes::generated::wafv2::Tag>>) -> Vec<(String, String)> {
    tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect()
}

/// Creates an entity: its name unique among its kind in the place, a fresh id and lock token;
/// `body` makes its wire body from its id and ARN.
pub(crate) fn insert(
    tx: &mut Tx<'_>,
    place: &Place,
    kind: Kind,
    (name, description, tags): (String, Option<String>, Option<Vec<rampart_shapes::generated::wafv2::Tag>>),
    body: impl FnOnce(&str, &str) -> String,
) -> Result<Stored, ServiceError> {
    unique(tx, place, kind, &name)?;
    let id = uuid::Uuid::new_v4().to_string();
    let arn = place.arn(kind, &name, &id);
    let stored =
        Stored { body: body(&id, &arn), name, id, arn, description, lock_token: new_token(), tags: tag_pairs(tags) };
    save(tx, place, kind, &stored)?;
    Ok(stored)
}

/// Changes the entity a request names by name and id, given its current lock token: `change`
/// rewrites its body; returns the next lock token.
pub(crate) fn change<T: FromValue + HasShape + IntoValue>(
    tx: &mut Tx<'_>,
    place: &Place,
    kind: Kind,
    (name, id, token): (&str, &str, &str),
    description: Option<String>,
    change: impl FnOnce(&mut T) -> Result<(), ServiceError>,
) -> Result<String, ServiceError> {
    let mut stored = named(&records::tx_reader(tx), place, kind, name, id)?;
    locked(&stored, token)?;
    let mut body: T = stored.body()?;
    change(&mut body)?;
    stored.description = description;
    stored.body = wire(body);
    stored.lock_token = new_token();
    save(tx, place, kind, &stored)?;
    Ok(stored.lock_token)
}

/// Deletes the entity a request names by name and id, given its current lock token, once
/// nothing uses it: no web ACL or rule group references it, and a web ACL protects nothing.
pub(crate) fn delete(
    tx: &mut Tx<'_>,
    place: &Place,
    kind: Kind,
    (name, id, token): (&str, &str, &str),
) -> Result<(), ServiceError> {
    let stored = named(&records::tx_reader(tx), place, kind, name, id)?;
    locked(&stored, token)?;
    if kind == Kind::WebAcl {
        if protection::associated_tx(tx, &stored.arn)? {
            return Err(associated());
        }
        tx.delete(&visibility::logging_key(&stored.arn))?;
    } else {
        acls::unreferenced(tx, place, &stored.arn)?;
        sharing::forget(tx, &stored.arn)?;
    }
    remove(tx, place, kind, &stored.id)
}

/// Refuses a second entity of the same kind and name in a place.
pub(crate) fn unique(tx: &Tx<'_>, place: &Place, kind: Kind, name: &str) -> Result<(), ServiceError> {
    if all_tx(tx, place, kind)?.iter().any(|s| s.name == name) {
        return Err(duplicate());
    }
    Ok(())
}

/// Checks an update's or delete's lock token against the entity's current one.
pub(crate) fn locked(stored: &Stored, token: &str) -> Result<(), ServiceError> {
    if stored.lock_token != token {
        return Err(ServiceError::new(
            "WAFOptimisticLockException",
            400,
            "AWS WAF couldn’t save your changes because you tried to update or delete a resource that has changed \
             since you last retrieved it. Get the resource again, make any changes you need to make to the new copy, \
             and retry your operation.",
        ));
    }
    Ok(())
}

/// A page of a listing: `Limit` items (1–100, 100 by default) from the `NextMarker` on.
pub(crate) fn page<T>(
    items: Vec<T>,
    marker: Option<&str>,
    limit: Option<i32>,
) -> Result<(Vec<T>, Option<String>), ServiceError> {
    let start = match marker {
        Some(m) => m.parse::<usize>().map_err(|_| invalid_parameter("NEXT_MARKER", m, "The marker is not valid."))?,
        None => 0,
    };
    let limit = usize::try_from(limit.unwrap_or(100)).unwrap_or(100).clamp(1, 100);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + limit < total).then(|| (start + limit).to_string());
    Ok((page, next))
}

/// WAFInvalidParameterException, with the field and parameter AWS names and its reason.
pub fn invalid_parameter(field: &str, parameter: &str, reason: &str) -> ServiceError {
    ServiceError::new(
        "WAFInvalidParameterException",
        400,
        format!("Error reason: {reason}, field: {field}, parameter: {parameter}"),
    )
    .with("Field", field.to_owned())
    .with("Parameter", parameter.to_owned())
    .with("Reason", reason.to_owned())
}

pub fn nonexistent() -> ServiceError {
    ServiceError::new(
        "WAFNonexistentItemException",
        400,
        "AWS WAF couldn’t perform the operation because your resource doesn’t exist.",
    )
}

pub fn duplicate() -> ServiceError {
    ServiceError::new(
        "WAFDuplicateItemException",
        400,
        "AWS WAF couldn’t perform the operation because some resource in your request is a duplicate of an existing one.",
    )
}

pub fn associated() -> ServiceError {
    ServiceError::new(
        "WAFAssociatedItemException",
        400,
        "AWS WAF couldn’t perform the operation because your resource is being used by another resource or it’s \
         associated with another resource.",
    )
}

pub fn limits_exceeded() -> ServiceError {
    ServiceError::new(
        "WAFLimitsExceededException",
        400,
        "AWS WAF couldn’t perform the operation because you exceeded your resource limit. For example, the maximum \
         number of WebACL objects that you can create for an AWS account.",
    )
}

/// What each operation asks of the authorizer. WAFv2 names its entities by name, id and scope, not
/// by ARN, so the rows act on `*` for now.
/// See <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awswafv2.html>.
pub static ACTIONS: &[rampart_core::actions::Action] = {
    use rampart_core::actions::{Target, row};
    &[
        row("AssociateWebACL", &[Target::All], &[]),
        row("CheckCapacity", &[Target::All], &[]),
        row("CreateAPIKey", &[Target::All], &[]),
        row("CreateIPSet", &[Target::All], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
        row("CreateRegexPatternSet", &[Target::All], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
        row("CreateRuleGroup", &[Target::All], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
        row("CreateWebACL", &[Target::All], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
        row("DeleteAPIKey", &[Target::All], &[]),
        row("DeleteFirewallManagerRuleGroups", &[Target::All], &[]),
        row("DeleteIPSet", &[Target::All], &[]),
        row("DeleteLoggingConfiguration", &[Target::All], &[]),
        row("DeletePermissionPolicy", &[Target::All], &[]),
        row("DeleteRegexPatternSet", &[Target::All], &[]),
        row("DeleteRuleGroup", &[Target::All], &[]),
        row("DeleteWebACL", &[Target::All], &[]),
        row("DescribeAllManagedProducts", &[Target::All], &[]),
        row("DescribeManagedProductsByVendor", &[Target::All], &[]),
        row("DescribeManagedRuleGroup", &[Target::All], &[]),
        row("DisassociateWebACL", &[Target::All], &[]),
        row("GenerateMobileSdkReleaseUrl", &[Target::All], &[]),
        row("GetDecryptedAPIKey", &[Target::All], &[]),
        row("GetIPSet", &[Target::All], &[]),
        row("GetLoggingConfiguration", &[Target::All], &[]),
        row("GetManagedRuleSet", &[Target::All], &[]),
        row("GetMobileSdkRelease", &[Target::All], &[]),
        row("GetPermissionPolicy", &[Target::All], &[]),
        row("GetRateBasedStatementManagedKeys", &[Target::All], &[]),
        row("GetRegexPatternSet", &[Target::All], &[]),
        row("GetRuleGroup", &[Target::All], &[]),
        row("GetSampledRequests", &[Target::All], &[]),
        row("GetTopPathStatisticsByTraffic", &[Target::All], &[]),
        row("GetWebACL", &[Target::All], &[]),
        row("GetWebACLForResource", &[Target::All], &[]),
        row("ListAPIKeys", &[Target::All], &[]),
        row("ListAvailableManagedRuleGroupVersions", &[Target::All], &[]),
        row("ListAvailableManagedRuleGroups", &[Target::All], &[]),
        row("ListIPSets", &[Target::All], &[]),
        row("ListLoggingConfigurations", &[Target::All], &[]),
        row("ListManagedRuleSets", &[Target::All], &[]),
        row("ListMobileSdkReleases", &[Target::All], &[]),
        row("ListRegexPatternSets", &[Target::All], &[]),
        row("ListResourcesForWebACL", &[Target::All], &[]),
        row("ListRuleGroups", &[Target::All], &[]),
        row("ListTagsForResource", &[Target::All], &[]),
        row("ListWebACLs", &[Target::All], &[]),
        row("PutLoggingConfiguration", &[Target::All], &[]),
        row("PutManagedRuleSetVersions", &[Target::All], &[]),
        row("PutPermissionPolicy", &[Target::All], &[]),
        row("TagResource", &[Target::All], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
        row("UntagResource", &[Target::All], &["aws:TagKeys"]),
        row("UpdateIPSet", &[Target::All], &[]),
        row("UpdateManagedRuleSetVersionExpiryDate", &[Target::All], &[]),
        row("UpdateRegexPatternSet", &[Target::All], &[]),
        row("UpdateRuleGroup", &[Target::All], &[]),
        row("UpdateWebACL", &[Target::All], &[]),
    ]
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_the_place_kind_name_and_id() {
        let place = Place::of("111122223333", "eu-west-1", "REGIONAL").unwrap();
        let arn = place.arn(Kind::WebAcl, "front", "a1b2");
        assert_eq!(arn, "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/front/a1b2");
        assert_eq!(parse_arn(&arn), Some((place, Kind::WebAcl, "front".to_owned(), "a1b2".to_owned())));
        assert!(parse_arn("arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/front").is_none());
        assert!(parse_arn("arn:aws:wafv2:eu-west-1:111122223333:regional/bucket/front/a1b2").is_none());
        assert_eq!(Place::of("1", "us-east-1", "CLOUDFRONT").unwrap().scope, "global");
        assert_eq!(Place::of("1", "eu-west-1", "CLOUDFRONT").unwrap_err().code, "WAFInvalidParameterException");
    }

    #[test]
    fn pages_follow_their_markers() {
        let (first, next) = page((0..250).collect(), None, None).unwrap();
        assert_eq!((first.len(), next.as_deref()), (100, Some("100")));
        let (last, next) = page((0..250).collect::<Vec<i32>>(), Some("200"), Some(100)).unwrap();
        assert_eq!((last.len(), next), (50, None));
        assert!(page(vec![1], Some("x"), None).is_err());
    }
}
