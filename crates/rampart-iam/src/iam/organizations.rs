//! IAM's operations that need AWS Organizations (centralized root access): they work only from
//! an organization's management account once trusted access for IAM is enabled, which Rampart's
//! Organizations does not offer yet (EnableAWSServiceAccess), so these answer as IAM answers
//! until it is: no organization, not the management account, or no trusted access.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html#id_root-user-access-management>.

use rampart_core::{Ctx, ServiceError, keys, records};

/// The answer of every operation here, by where the caller's account stands.
pub fn no_organization<I, O>(ctx: &Ctx<'_>, _input: I) -> Result<O, ServiceError> {
    let account = &ctx.principal.account_id;
    // The organization's records belong to `rampart-organizations`; only their ids are read here.
    let member: Option<serde_json::Value> = records::read_cached(ctx.db, &keys::org_member(account))?;
    let Some(org) = member.as_ref().and_then(|m| m.get("org")).and_then(|o| o.as_str()) else {
        return Err(ServiceError::new(
            "OrganizationNotFoundException",
            400,
            "The request was rejected because no organization is associated with your account.",
        ));
    };
    let record: Option<serde_json::Value> = records::read_cached(ctx.db, &keys::organization(org))?;
    let management = record.as_ref().and_then(|r| r.get("management_account")).and_then(|a| a.as_str());
    if management != Some(account.as_str()) {
        return Err(ServiceError::new(
            "AccountNotManagementOrDelegatedAdministratorException",
            400,
            "The request was rejected because the account making the request is not the management account or \
             delegated administrator account for centralized root access.",
        ));
    }
    Err(ServiceError::new(
        "ServiceAccessNotEnabledException",
        400,
        "The request was rejected because trusted access is not enabled for IAM in Organizations.",
    ))
}

/// A store read of a JSON record, from the cache or inside a transaction.
pub type RecordReader<'a> = dyn Fn(&[u8]) -> Result<Option<serde_json::Value>, ServiceError> + 'a;

/// The organization `account` belongs to and the path of the OU (or root) it is in, as
/// `aws:PrincipalOrgPaths` spells it (`o-…/r-…/ou-…/`), read from `rampart-organizations`'
/// records through `get` (a store read of a JSON record). `None` outside an organization.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgpaths>.
pub fn org_path(account: &str, get: &RecordReader<'_>) -> Result<Option<(String, String)>, ServiceError> {
    let Some(member) = get(&keys::org_member(account))? else { return Ok(None) };
    let text = |v: &serde_json::Value, field: &str| v.get(field).and_then(|f| f.as_str()).map(str::to_owned);
    let (Some(org), Some(mut at)) = (text(&member, "org"), text(&member, "parent")) else { return Ok(None) };
    let mut ids = vec![at.clone()];
    // A root has no parent; the depth limit bounds the walk.
    for _ in 0..8 {
        let Some(parent) = get(&keys::org_node(&org, &at))?.and_then(|n| text(&n, "parent")) else { break };
        ids.push(parent.clone());
        at = parent;
    }
    ids.reverse();
    let mut path = format!("{org}/");
    for id in ids {
        path.push_str(&id);
        path.push('/');
    }
    Ok(Some((org, path)))
}

/// Sets `aws:PrincipalOrgID` and `aws:PrincipalOrgPaths` for a principal in an organization.
pub fn set_org_keys(org: Option<&(String, String)>, ctx: &mut rampart_policy::Context) {
    if let Some((id, path)) = org {
        ctx.set("aws:PrincipalOrgID", id.clone()).set("aws:PrincipalOrgPaths", path.clone());
    }
}
