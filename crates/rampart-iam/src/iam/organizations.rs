//! IAM's centralized root access for organizations: from the management account, once the
//! organization has all features and trusted access for IAM (`EnableAWSServiceAccess` of
//! `iam.amazonaws.com`), `RootCredentialsManagement` and `RootSessions` are enabled, listed and
//! disabled; with `RootSessions`, STS AssumeRoot gives short root sessions in member accounts.
//! The organization's records belong to `rampart-organizations`; only their fields are read here.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html#id_root-user-access-management>.

use rampart_core::{Ctx, ServiceError, TxCtx, keys, records};
use rampart_shapes::generated::iam as shapes;
use rampart_store::Tx;

/// The features, as IAM names them.
pub const ROOT_CREDENTIALS_MANAGEMENT: &str = "RootCredentialsManagement";
pub const ROOT_SESSIONS: &str = "RootSessions";

/// Where the caller's account stands for these features: its organization's id, once every
/// precondition holds. `manage`: the call changes the features (the management account alone).
pub fn organization_for_features(account: &str, get: &RecordReader<'_>, manage: bool) -> Result<String, ServiceError> {
    let org = rampart_core::orgs::facts(account, get)?.ok_or_else(|| {
        ServiceError::new(
            "OrganizationNotFoundException",
            400,
            "The request was rejected because no organization is associated with your account.",
        )
    })?;
    if !org.all_features {
        return Err(ServiceError::new(
            "OrganizationNotInAllFeaturesModeException",
            400,
            "The request was rejected because the organization does not have all features enabled.",
        ));
    }
    if org.management_account != account {
        return Err(if manage {
            ServiceError::new(
                "CallerIsNotManagementAccountException",
                400,
                "The request was rejected because the account making the request is not the management account for \
                 the organization.",
            )
        } else {
            ServiceError::new(
                "AccountNotManagementOrDelegatedAdministratorException",
                400,
                "The request was rejected because the account making the request is not the management account or \
                 delegated administrator account for centralized root access.",
            )
        });
    }
    if !org.trusts("iam.amazonaws.com") {
        return Err(ServiceError::new(
            "ServiceAccessNotEnabledException",
            400,
            "The request was rejected because trusted access is not enabled for IAM in Organizations.",
        ));
    }
    Ok(org.id)
}

/// The features enabled for an organization.
pub fn org_features(get: &RecordReader<'_>, org: &str) -> Result<Vec<String>, ServiceError> {
    Ok(get(&keys::iam_org_features(org))?
        .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
        .unwrap_or_default())
}

pub fn list_organizations_features(
    ctx: &Ctx<'_>,
    _input: shapes::ListOrganizationsFeaturesRequest,
) -> Result<shapes::ListOrganizationsFeaturesResponse, ServiceError> {
    let get = |key: &[u8]| records::read_cached::<serde_json::Value>(ctx.db, key);
    let org = organization_for_features(&ctx.principal.account_id, &get, false)?;
    let enabled_features = Some(org_features(&get, &org)?);
    Ok(shapes::ListOrganizationsFeaturesResponse { organization_id: Some(org), enabled_features })
}

/// Turns a feature on or off; returns the organization and what is enabled now.
fn set_feature(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    feature: &str,
    on: bool,
) -> Result<(String, Vec<String>), ServiceError> {
    let (org, mut features) = {
        let get = |key: &[u8]| records::read_tx::<serde_json::Value>(tx, key);
        let org = organization_for_features(&ctx.principal.account_id, &get, true)?;
        let features = org_features(&get, &org)?;
        (org, features)
    };
    features.retain(|f| f != feature);
    if on {
        features.push(feature.to_owned());
        features.sort();
    }
    records::write_tx(tx, &keys::iam_org_features(&org), &features)?;
    Ok((org, features))
}

macro_rules! feature_switch {
    ($name:ident, $request:ident, $response:ident, $feature:expr, $on:expr) => {
        pub fn $name(
            tx: &mut Tx<'_>,
            ctx: &TxCtx<'_>,
            _input: shapes::$request,
        ) -> Result<shapes::$response, ServiceError> {
            let (org, features) = set_feature(tx, ctx, $feature, $on)?;
            Ok(shapes::$response { organization_id: Some(org), enabled_features: Some(features) })
        }
    };
}

feature_switch!(
    enable_organizations_root_credentials_management,
    EnableOrganizationsRootCredentialsManagementRequest,
    EnableOrganizationsRootCredentialsManagementResponse,
    ROOT_CREDENTIALS_MANAGEMENT,
    true
);
feature_switch!(
    disable_organizations_root_credentials_management,
    DisableOrganizationsRootCredentialsManagementRequest,
    DisableOrganizationsRootCredentialsManagementResponse,
    ROOT_CREDENTIALS_MANAGEMENT,
    false
);
feature_switch!(
    enable_organizations_root_sessions,
    EnableOrganizationsRootSessionsRequest,
    EnableOrganizationsRootSessionsResponse,
    ROOT_SESSIONS,
    true
);
feature_switch!(
    disable_organizations_root_sessions,
    DisableOrganizationsRootSessionsRequest,
    DisableOrganizationsRootSessionsResponse,
    ROOT_SESSIONS,
    false
);

pub use rampart_core::orgs::RecordReader;

/// Sets `aws:PrincipalOrgID` and `aws:PrincipalOrgPaths` for a principal in an organization.
pub fn set_org_keys(org: Option<&(String, String)>, ctx: &mut rampart_policy::Context) {
    if let Some((id, path)) = org {
        ctx.set("aws:PrincipalOrgID", id.clone()).set("aws:PrincipalOrgPaths", path.clone());
    }
}
