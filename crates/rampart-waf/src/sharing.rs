//! Rule groups shared with other accounts by a permission policy (Put/Get/DeletePermissionPolicy):
//! an account the policy names may reference the group in its own web ACLs.
//! See <https://docs.aws.amazon.com/waf/latest/APIReference/API_PutPermissionPolicy.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::wafv2 as shapes;
use rampart_store::Tx;
use serde_json::Value;

use super::{Kind, nonexistent};

/// `wafpolicy/<rule-group-arn>`: a rule group's permission policy, as written.
fn key(arn: &str) -> Vec<u8> {
    format!("wafpolicy/{arn}").into_bytes()
}

/// The actions a policy must grant, and the one it may.
const REQUIRED: &[&str] = &["wafv2:CreateWebACL", "wafv2:UpdateWebACL", "wafv2:PutFirewallManagerRuleGroups"];
const OPTIONAL: &str = "wafv2:GetRuleGroup";

fn invalid(reason: &str) -> ServiceError {
    ServiceError::new(
        "WAFInvalidPermissionPolicyException",
        400,
        format!("The operation failed because the specified policy isn't in the proper format. {reason}"),
    )
}

/// A value as a list of strings (a string alone is a list of one).
fn strings(v: &Value) -> Option<Vec<&str>> {
    match v {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(a) => a.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// The accounts a policy's principals name (by id, or by root user ARN), after checking it as
/// WAF does: version 2012-10-17; each statement allows exactly the required actions (and
/// perhaps GetRuleGroup), names AWS principals, and has no Resource and no Condition.
fn principals(policy: &str) -> Result<Vec<String>, ServiceError> {
    let doc: Value = serde_json::from_str(policy).map_err(|_| invalid("The policy is not JSON."))?;
    if doc.get("Version").and_then(Value::as_str) != Some("2012-10-17") {
        return Err(invalid("The policy's Version must be 2012-10-17."));
    }
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) if !a.is_empty() => a.iter().collect::<Vec<_>>(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => return Err(invalid("The policy must have a Statement.")),
    };
    let mut accounts = Vec::new();
    for s in statements {
        if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
            return Err(invalid("Effect must be Allow."));
        }
        if s.get("Resource").is_some() || s.get("NotResource").is_some() || s.get("Condition").is_some() {
            return Err(invalid("A statement must not have a Resource or a Condition."));
        }
        let actions = s.get("Action").and_then(strings).ok_or_else(|| invalid("A statement must have an Action."))?;
        if REQUIRED.iter().any(|r| !actions.contains(r))
            || actions.iter().any(|a| !REQUIRED.contains(a) && *a != OPTIONAL)
        {
            return Err(invalid(
                "Action must be wafv2:CreateWebACL, wafv2:UpdateWebACL and wafv2:PutFirewallManagerRuleGroups, and \
                 may include wafv2:GetRuleGroup; no other actions and no wildcards.",
            ));
        }
        let named = s
            .get("Principal")
            .and_then(|p| p.get("AWS"))
            .and_then(strings)
            .ok_or_else(|| invalid("A statement must name AWS principals."))?;
        for p in named {
            let account = p.strip_prefix("arn:aws:iam::").and_then(|r| r.strip_suffix(":root")).unwrap_or(p);
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("A principal must be an account id or an account's root ARN."));
            }
            accounts.push(account.to_owned());
        }
    }
    Ok(accounts)
}

/// The caller's rule group an ARN names.
fn own_group(get: &records::Reader<'_>, account: &str, arn: &str) -> Result<(), ServiceError> {
    match super::owned(get, account, arn)? {
        (_, Kind::RuleGroup, _) => Ok(()),
        _ => Err(nonexistent()),
    }
}

pub fn put_permission_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutPermissionPolicyRequest,
) -> Result<shapes::PutPermissionPolicyResponse, ServiceError> {
    own_group(&records::tx_reader(tx), &ctx.principal.account_id, &input.resource_arn)?;
    principals(&input.policy)?;
    tx.put(&key(&input.resource_arn), input.policy.as_bytes())?;
    Ok(shapes::PutPermissionPolicyResponse {})
}

pub fn get_permission_policy(
    ctx: &Ctx<'_>,
    input: shapes::GetPermissionPolicyRequest,
) -> Result<shapes::GetPermissionPolicyResponse, ServiceError> {
    let get = records::cached_reader(ctx.db);
    own_group(&get, &ctx.principal.account_id, &input.resource_arn)?;
    let policy = get(&key(&input.resource_arn))?.ok_or_else(nonexistent)?;
    Ok(shapes::GetPermissionPolicyResponse { policy: Some(String::from_utf8_lossy(&policy).into_owned()) })
}

pub fn delete_permission_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeletePermissionPolicyRequest,
) -> Result<shapes::DeletePermissionPolicyResponse, ServiceError> {
    own_group(&records::tx_reader(tx), &ctx.principal.account_id, &input.resource_arn)?;
    tx.delete(&key(&input.resource_arn))?;
    Ok(shapes::DeletePermissionPolicyResponse {})
}

/// Whether a rule group's permission policy lets `account` use it in its web ACLs.
pub(crate) fn shared_with(get: &records::Reader<'_>, arn: &str, account: &str) -> Result<bool, ServiceError> {
    let Some(policy) = get(&key(arn))? else { return Ok(false) };
    Ok(principals(&String::from_utf8_lossy(&policy)).is_ok_and(|accounts| accounts.iter().any(|a| a == account)))
}

/// Forgets a deleted rule group's policy.
pub(crate) fn forget(tx: &mut Tx<'_>, arn: &str) -> Result<(), ServiceError> {
    tx.delete(&key(arn))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_grant_exactly_the_web_acl_actions_to_accounts() {
        let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::444455556666:root"]},
            "Action":["wafv2:CreateWebACL","wafv2:UpdateWebACL","wafv2:PutFirewallManagerRuleGroups","wafv2:GetRuleGroup"]}]}"#;
        assert_eq!(principals(ok).unwrap(), ["111122223333", "444455556666"]);
        for bad in [
            r#"{"Version":"2008-10-17","Statement":[]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"wafv2:*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":["wafv2:CreateWebACL","wafv2:UpdateWebACL"]}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Resource":"*","Action":["wafv2:CreateWebACL","wafv2:UpdateWebACL","wafv2:PutFirewallManagerRuleGroups"]}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":["wafv2:CreateWebACL","wafv2:UpdateWebACL","wafv2:PutFirewallManagerRuleGroups"]}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["wafv2:CreateWebACL","wafv2:UpdateWebACL","wafv2:PutFirewallManagerRuleGroups"]}]}"#,
            "not json",
        ] {
            assert_eq!(principals(bad).unwrap_err().code, "WAFInvalidPermissionPolicyException", "{bad}");
        }
    }
}
