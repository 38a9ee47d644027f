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
