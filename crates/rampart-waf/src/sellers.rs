//! What AWS WAF offers managed rule group sellers, mobile apps and Firewall Manager: the managed
//! products Rampart ships are described; Rampart has no sellers' rule sets, no mobile SDK
//! releases and no Firewall Manager policies, and answers as AWS answers an account with none.
//! See <https://docs.aws.amazon.com/waf/latest/APIReference/API_DescribeAllManagedProducts.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::wafv2 as shapes;
use rampart_store::Tx;

use super::{Kind, Place, nonexistent};

fn products(vendor: Option<&str>) -> Vec<shapes::ManagedProductDescriptor> {
    super::managed::all()
        .filter(|g| vendor.is_none_or(|v| v == g.vendor))
        .map(|g| shapes::ManagedProductDescriptor {
            vendor_name: Some(g.vendor.to_owned()),
            managed_rule_set_name: Some(g.name.to_owned()),
            product_id: Some(g.name.to_owned()),
            product_link: Some(
                "https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-list.html".to_owned(),
            ),
            product_title: Some(g.name.to_owned()),
            product_description: Some(g.description.to_owned()),
            sns_topic_arn: None,
            is_versioning_supported: Some(true),
            is_advanced_managed_rule_set: Some(false),
        })
        .collect()
}

pub fn describe_all_managed_products(
    ctx: &Ctx<'_>,
    input: shapes::DescribeAllManagedProductsRequest,
) -> Result<shapes::DescribeAllManagedProductsResponse, ServiceError> {
    Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    Ok(shapes::DescribeAllManagedProductsResponse { managed_products: Some(products(None)) })
}

pub fn describe_managed_products_by_vendor(
    ctx: &Ctx<'_>,
    input: shapes::DescribeManagedProductsByVendorRequest,
) -> Result<shapes::DescribeManagedProductsByVendorResponse, ServiceError> {
    Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    Ok(shapes::DescribeManagedProductsByVendorResponse { managed_products: Some(products(Some(&input.vendor_name))) })
}

/// The rule sets the caller sells: none (it is no AWS Marketplace seller).
pub fn list_managed_rule_sets(
    ctx: &Ctx<'_>,
    input: shapes::ListManagedRuleSetsRequest,
) -> Result<shapes::ListManagedRuleSetsResponse, ServiceError> {
    Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    Ok(shapes::ListManagedRuleSetsResponse { next_marker: None, managed_rule_sets: Some(Vec::new()) })
}

pub fn get_managed_rule_set(
    ctx: &Ctx<'_>,
    input: shapes::GetManagedRuleSetRequest,
) -> Result<shapes::GetManagedRuleSetResponse, ServiceError> {
    Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    Err(nonexistent())
}

pub fn put_managed_rule_set_versions(
    _tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutManagedRuleSetVersionsRequest,
) -> Result<shapes::PutManagedRuleSetVersionsResponse, ServiceError> {
    Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    Err(nonexistent())
}

pub fn update_managed_rule_set_version_expiry_date(
    _tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateManagedRuleSetVersionExpiryDateRequest,
) -> Result<shapes::UpdateManagedRuleSetVersionExpiryDateResponse, ServiceError> {
    Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    Err(nonexistent())
}

/// Releases of AWS WAF's mobile SDK: Rampart distributes none.
pub fn list_mobile_sdk_releases(
    _ctx: &Ctx<'_>,
    _input: shapes::ListMobileSdkReleasesRequest,
) -> Result<shapes::ListMobileSdkReleasesResponse, ServiceError> {
    Ok(shapes::ListMobileSdkReleasesResponse { release_summaries: Some(Vec::new()), next_marker: None })
}

pub fn get_mobile_sdk_release(
    _ctx: &Ctx<'_>,
    _input: shapes::GetMobileSdkReleaseRequest,
) -> Result<shapes::GetMobileSdkReleaseResponse, ServiceError> {
    Err(nonexistent())
}

pub fn generate_mobile_sdk_release_url(
    _ctx: &Ctx<'_>,
    _input: shapes::GenerateMobileSdkReleaseUrlRequest,
) -> Result<shapes::GenerateMobileSdkReleaseUrlResponse, ServiceError> {
    Err(nonexistent())
}

/// Removes Firewall Manager's rule groups from a web ACL: Rampart's web ACLs have none, so the
/// web ACL (its lock token checked) is unchanged.
pub fn delete_firewall_manager_rule_groups(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteFirewallManagerRuleGroupsRequest,
) -> Result<shapes::DeleteFirewallManagerRuleGroupsResponse, ServiceError> {
    let stored = match super::owned(&records::tx_reader(tx), &ctx.principal.account_id, &input.web_acl_arn)? {
        (_, Kind::WebAcl, stored) => stored,
        _ => return Err(nonexistent()),
    };
    super::locked(&stored, &input.web_acl_lock_token)?;
    Ok(shapes::DeleteFirewallManagerRuleGroupsResponse { next_web_acl_lock_token: Some(stored.lock_token) })
}
