//! Account-wide IAM views: the account alias, GetAccountSummary, ListEntitiesForPolicy and the
//! credential report.

use rampart_shapes::Blob;
use rampart_shapes::generated::iam as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::groups::GroupRecord;
use super::roles::RoleRecord;
use super::{KeyLastUsed, UserRecord};
use rampart_core::account::{self, KeyStatus};
use rampart_core::records::{self, to_json};
use rampart_core::{Ctx, ServiceError, TxCtx, keys};

/// The model's alias pattern, `^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$`, uses a lookahead the
/// `regex` crate cannot compile, so it is checked here: lower-case letters, digits and single
/// hyphens, starting and ending with a letter or digit, 3 to 63 characters.
fn valid_alias(a: &str) -> bool {
    let b = a.as_bytes();
    let ok_char = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (3..=63).contains(&b.len())
        && b.first().is_some_and(ok_char)
        && b.last().is_some_and(ok_char)
        && b.iter().all(|c| ok_char(c) || *c == b'-')
        && !a.contains("--")
}

pub fn create_account_alias(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateAccountAliasRequest,
) -> Result<(), ServiceError> {
    if !valid_alias(&input.account_alias) {
        return Err(ServiceError::new(
            "ValidationError",
            400,
            format!(
                "1 validation error detected: Value '{}' at 'accountAlias' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-z0-9]([a-z0-9]|-(?!-)){{1,61}}[a-z0-9]$",
                input.account_alias
            ),
        ));
    }
    let account = &ctx.principal.account_id;
    if let Some(owner) = tx.get(&keys::alias_owner(&input.account_alias))? {
        if owner == account.as_bytes() {
            return Ok(());
        }
        return Err(ServiceError::new(
            "EntityAlreadyExists",
            409,
            format!("The account alias {} already exists.", input.account_alias),
        ));
    }
    if tx.get(&keys::account_alias(account))?.is_some() {
        return Err(ServiceError::new("LimitExceeded", 409, "Cannot exceed quota for AccountAliasesPerAccount: 1"));
    }
    tx.put(&keys::alias_owner(&input.account_alias), account.as_bytes())?;
    tx.put(&keys::account_alias(account), input.account_alias.as_bytes())?;
    Ok(())
}

pub fn delete_account_alias(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteAccountAliasRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let current = tx.get(&keys::account_alias(account))?;
    if current.as_deref() != Some(input.account_alias.as_bytes()) {
        return Err(ServiceError::new(
            "NoSuchEntity",
            404,
            format!("The account alias {} cannot be found.", input.account_alias),
        ));
    }
    tx.delete(&keys::account_alias(account))?;
    tx.delete(&keys::alias_owner(&input.account_alias))?;
    Ok(())
}

pub fn list_account_aliases(
    ctx: &Ctx<'_>,
    input: shapes::ListAccountAliasesRequest,
) -> Result<shapes::ListAccountAliasesResponse, ServiceError> {
    let alias = ctx.db.get(&keys::account_alias(&ctx.principal.account_id))?;
    let aliases = alias.and_then(|a| String::from_utf8(a).ok()).into_iter().collect();
    let (account_aliases, truncated, marker) = super::page_items(aliases, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListAccountAliasesResponse { account_aliases, is_truncated: Some(truncated), marker })
}

fn count(ctx: &Ctx<'_>, prefix: &[u8]) -> Result<i32, ServiceError> {
    Ok(i32::try_from(ctx.db.scan_prefix(prefix, None, 1_000_000, false)?.len()).unwrap_or(i32::MAX))
}

/// The account's STS preferences: which session tokens the global endpoint issues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StsPreferences {
    pub v: u32,
    /// 1 (`v1Token`, valid only in regions enabled by default) or 2 (`v2Token`, valid in all).
    pub global_endpoint_token_version: i32,
}

/// Records which tokens STS's global endpoint issues. Rampart's session tokens are valid in every
/// region whichever is chosen (it has no opt-in regions); the choice is kept and reported by
/// GetAccountSummary, as AWS reports it.
/// See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_SetSecurityTokenServicePreferences.html>.
pub fn set_security_token_service_preferences(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::SetSecurityTokenServicePreferencesRequest,
) -> Result<(), ServiceError> {
    let version = match input.global_endpoint_token_version.as_str() {
        "v1Token" => 1,
        "v2Token" => 2,
        // The model's enum check refuses anything else before the handler runs.
        other => {
            return Err(ServiceError::new(
                "ValidationError",
                400,
                format!("Invalid value {other} for GlobalEndpointTokenVersion."),
            ));
        }
    };
    let prefs = StsPreferences { v: 1, global_endpoint_token_version: version };
    records::write_tx(tx, &keys::sts_preferences(&ctx.principal.account_id), &prefs)
}

/// Entity counts and the quotas IAM reports: every key of the model's `summaryKeyType`.
/// See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountSummary.html>.
pub fn get_account_summary(ctx: &Ctx<'_>, _input: ()) -> Result<shapes::GetAccountSummaryResponse, ServiceError> {
    let a = &ctx.principal.account_id;
    let mut map = std::collections::BTreeMap::new();
    map.insert("Users".to_owned(), count(ctx, &keys::users(a))?);
    map.insert("Groups".to_owned(), count(ctx, &keys::groups(a))?);
    map.insert("Roles".to_owned(), count(ctx, &keys::roles(a))?);
    map.insert("InstanceProfiles".to_owned(), count(ctx, &super::instance_profiles::profile_prefix(a))?);
    let providers =
        count(ctx, &super::oidc_providers::oidc_prefix(a))? + count(ctx, &super::saml_providers::saml_prefix(a))?;
    map.insert("Providers".to_owned(), providers);
    let policies: Vec<super::ManagedPolicyRecord> = records::scan_records(ctx.db, &keys::policies(a))?;
    map.insert("Policies".to_owned(), i32::try_from(policies.len()).unwrap_or(i32::MAX));
    let versions: usize = policies.iter().map(|p| p.versions.len()).sum();
    map.insert("PolicyVersionsInUse".to_owned(), i32::try_from(versions).unwrap_or(i32::MAX));
    let devices = super::mfa::all_devices(ctx.db, a)?;
    map.insert("MFADevices".to_owned(), i32::try_from(devices.len()).unwrap_or(i32::MAX));
    let in_use = devices.iter().filter(|d| d.enabled.is_some()).count();
    map.insert("MFADevicesInUse".to_owned(), i32::try_from(in_use).unwrap_or(i32::MAX));
    let root_mfa = devices.iter().any(|d| d.enabled.is_some() && d.holder == Some(super::mfa::Holder::Root));
    map.insert("AccountMFAEnabled".to_owned(), i32::from(root_mfa));
    map.insert("AccountAccessKeysPresent".to_owned(), i32::from(count(ctx, &keys::root_keys(a))? > 0));
    // Every Rampart account's root user has a password (set at creation, reset by the operator).
    map.insert("AccountPasswordPresent".to_owned(), 1);
    let root_certificates = super::signing_certificates::root_has_signing_certificates(ctx)?;
    map.insert("AccountSigningCertificatesPresent".to_owned(), i32::from(root_certificates));
    let certificates = super::server_certificates::server_certificate_count(ctx)?;
    map.insert("ServerCertificates".to_owned(), i32::try_from(certificates).unwrap_or(i32::MAX));
    let prefs: Option<StsPreferences> = records::read(ctx.db, &keys::sts_preferences(a))?;
    map.insert("GlobalEndpointTokenVersion".to_owned(), prefs.map_or(1, |p| p.global_endpoint_token_version));
    for (k, v) in [
        ("UsersQuota", 5000),
        ("GroupsQuota", 300),
        ("RolesQuota", 1000),
        ("InstanceProfilesQuota", 1000),
        ("PoliciesQuota", 1500),
        ("PolicyVersionsInUseQuota", 10000),
        ("ServerCertificatesQuota", 20),
        ("SigningCertificatesPerUserQuota", 2),
        ("AccessKeysPerUserQuota", 2),
        ("GroupsPerUserQuota", 10),
        ("AttachedPoliciesPerUserQuota", 10),
        ("AttachedPoliciesPerGroupQuota", 10),
        ("AttachedPoliciesPerRoleQuota", 10),
        ("VersionsPerPolicyQuota", 5),
        ("PolicySizeQuota", 6144),
        ("UserPolicySizeQuota", 2048),
        ("GroupPolicySizeQuota", 5120),
        ("RolePolicySizeQuota", 10240),
        ("AssumeRolePolicySizeQuota", 2048),
    ] {
        map.insert(k.to_owned(), v);
    }
    Ok(shapes::GetAccountSummaryResponse { summary_map: Some(map) })
}

pub fn list_entities_for_policy(
    ctx: &Ctx<'_>,
    input: shapes::ListEntitiesForPolicyRequest,
) -> Result<shapes::ListEntitiesForPolicyResponse, ServiceError> {
    super::read_policy_by_arn(ctx.db, &input.policy_arn)?
        .filter(|p| super::visible_to(p, &ctx.principal.account_id))
        .ok_or_else(|| {
        ServiceError::new(
            "NoSuchEntity",
            404,
            format!("Policy {} does not exist or is not attachable.", input.policy_arn),
        )
    })?;
    let a = &ctx.principal.account_id;
    let arn = input.policy_arn.as_str();
    let filter = input.entity_filter.as_deref().unwrap_or("All");
    let wants = |kind: &str| filter == "All" || filter == kind;
    // `PermissionsPolicy` lists attachments, `PermissionsBoundary` boundary use; neither lists both.
    let usage = input.policy_usage_filter.as_deref();
    let uses = |attached: &std::collections::BTreeSet<String>, boundary: &Option<String>| match usage {
        Some("PermissionsBoundary") => boundary.as_deref() == Some(arn),
        Some(_) => attached.contains(arn),
        None => attached.contains(arn) || boundary.as_deref() == Some(arn),
    };
    let path_ok = |path: &str| path.starts_with(input.path_prefix.as_deref().unwrap_or("/"));
    // One list across the three kinds, so that a page can span them.
    let mut entities: Vec<(&str, String, String)> = Vec::new();
    if wants("User") {
        for u in records::scan_records::<UserRecord>(ctx.db, &keys::users(a))? {
            if uses(&u.attached, &u.boundary) && path_ok(&u.path) {
                entities.push(("User", u.name, u.id));
            }
        }
    }
    if wants("Group") {
        for g in records::scan_records::<GroupRecord>(ctx.db, &keys::groups(a))? {
            if uses(&g.attached, &None) && path_ok(&g.path) {
                entities.push(("Group", g.name, g.id));
            }
        }
    }
    if wants("Role") {
        for r in records::scan_records::<RoleRecord>(ctx.db, &keys::roles(a))? {
            if uses(&r.attached, &r.boundary) && path_ok(&r.path) {
                entities.push(("Role", r.name, r.id));
            }
        }
    }
    let (page, truncated, marker) = super::page_items(entities, input.marker.as_deref(), input.max_items)?;
    let (mut users, mut groups, mut roles) = (Vec::new(), Vec::new(), Vec::new());
    for (kind, name, id) in page {
        match kind {
            "User" => users.push(shapes::PolicyUser { user_name: Some(name), user_id: Some(id) }),
            "Group" => groups.push(shapes::PolicyGroup { group_name: Some(name), group_id: Some(id) }),
            _ => roles.push(shapes::PolicyRole { role_name: Some(name), role_id: Some(id) }),
        }
    }
    Ok(shapes::ListEntitiesForPolicyResponse {
        policy_groups: Some(groups),
        policy_users: Some(users),
        policy_roles: Some(roles),
        is_truncated: Some(truncated),
        marker,
    })
}

/// A stored credential report.
#[derive(Debug, Serialize, Deserialize)]
struct Report {
    #[serde(with = "time::serde::rfc3339")]
    generated: OffsetDateTime,
    csv: String,
}

/// The credential report's columns, as IAM writes them.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html>.
const COLUMNS: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

fn time_text(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0).unwrap_or(t).format(&Rfc3339).unwrap_or_default()
}

/// Two access-key column groups (active, last rotated, last used date, region, service).
fn key_columns(tx: &Tx<'_>, prefix: &[u8]) -> Result<Vec<String>, ServiceError> {
    let mut cols = Vec::new();
    let rows = tx.scan_prefix(prefix, None, 2, false)?;
    for i in 0..2 {
        let rec = match rows
            .get(i)
            .and_then(|(k, _)| String::from_utf8(k.clone()).ok())
            .and_then(|k| k.rsplit('/').next().map(str::to_owned))
        {
            Some(id) => tx
                .get(&keys::access_key(&id))?
                .and_then(|b| serde_json::from_slice::<account::AccessKeyRecord>(&b).ok()),
            None => None,
        };
        match rec {
            Some(r) => {
                let used: Option<KeyLastUsed> =
                    tx.get(&keys::key_last_used(&r.id))?.and_then(|b| serde_json::from_slice(&b).ok());
                cols.push((r.status == KeyStatus::Active).to_string());
                cols.push(time_text(r.created));
                match used {
                    Some(u) => cols.extend([time_text(u.date), u.region, u.service]),
                    None => cols.extend(["N/A".to_owned(), "N/A".to_owned(), "N/A".to_owned()]),
                }
            }
            None => cols.extend(["false", "N/A", "N/A", "N/A", "N/A"].map(str::to_owned)),
        }
    }
    Ok(cols)
}

/// The report's `cert_1_active`, `cert_1_last_rotated`, `cert_2_active`, `cert_2_last_rotated`.
fn certificate_columns(tx: &Tx<'_>, account: &str, holder: &str) -> Result<Vec<String>, ServiceError> {
    let certs = super::signing_certificates::certificates_tx(tx, account, holder)?;
    let mut cols = Vec::new();
    for i in 0..2 {
        match certs.get(i) {
            Some(c) => cols.extend([c.active.to_string(), time_text(c.uploaded)]),
            None => cols.extend(["false".to_owned(), "N/A".to_owned()]),
        }
    }
    Ok(cols)
}

/// A credential report younger than this is current: GenerateCredentialReport answers COMPLETE
/// and keeps it. See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html>.
const REPORT_FRESH: time::Duration = time::Duration::hours(4);

/// The report's password columns for a user: `password_enabled`, `password_last_used`,
/// `password_last_changed`, `password_next_rotation`.
fn password_columns(tx: &Tx<'_>, u: &UserRecord) -> Result<[String; 4], ServiceError> {
    let a = &u.account_id;
    let profile = super::passwords::login_profile_tx(tx, a, &u.name)?;
    let used = super::passwords::password_last_used_tx(tx, a, &u.id)?;
    let Some(profile) = profile else {
        return Ok(["false".to_owned(), used.map_or_else(|| "N/A".to_owned(), time_text), "N/A".into(), "N/A".into()]);
    };
    let max_age = super::passwords::password_policy_tx(tx, a)?.map_or(0, |p| p.max_age_days);
    let next = if max_age > 0 {
        time_text(profile.changed + time::Duration::days(i64::from(max_age)))
    } else {
        "N/A".to_owned()
    };
    Ok([
        "true".to_owned(),
        used.map_or_else(|| "no_information".to_owned(), time_text),
        time_text(profile.changed),
        next,
    ])
}

/// Generates the account's credential report: one CSV row for root and one per user, with the
/// state of each credential. A report less than four hours old is kept (COMPLETE); otherwise a
/// new one is made (STARTED; Rampart makes it at once, so GetCredentialReport has it next).
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html>.
pub fn generate_credential_report(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    _input: (),
) -> Result<shapes::GenerateCredentialReportResponse, ServiceError> {
    let a = &ctx.principal.account_id;
    let existing: Option<Report> = records::read_tx(tx, &keys::credential_report(a))?;
    if existing.as_ref().is_some_and(|r| ctx.now - r.generated < REPORT_FRESH) {
        return Ok(shapes::GenerateCredentialReportResponse { state: Some("COMPLETE".to_owned()), description: None });
    }
    let mut lines = vec![COLUMNS.to_owned()];
    let acct: Option<account::AccountRecord> = tx.get(&keys::account(a))?.and_then(|b| serde_json::from_slice(&b).ok());
    let root_used = super::passwords::password_last_used_tx(tx, a, a)?;
    let mut root = vec![
        "<root_account>".to_owned(),
        format!("arn:aws:iam::{a}:root"),
        acct.map_or_else(|| "N/A".to_owned(), |x| time_text(x.created)),
        "not_supported".to_owned(),
        root_used.map_or_else(|| "no_information".to_owned(), time_text),
        "not_supported".to_owned(),
        "not_supported".to_owned(),
        super::mfa::mfa_active_tx(tx, a, None)?.to_string(),
    ];
    root.extend(key_columns(tx, &keys::root_keys(a))?);
    root.extend(certificate_columns(tx, a, a)?);
    lines.push(root.join(","));
    for (k, v) in tx.scan_prefix(&keys::users(a), None, 1_000_000, false)? {
        let u: UserRecord = records::decode(&k, &v)?;
        let mut row = vec![u.name.clone(), u.arn(), time_text(u.created)];
        row.extend(password_columns(tx, &u)?);
        row.push(super::mfa::mfa_active_tx(tx, a, Some(&u.name))?.to_string());
        row.extend(key_columns(tx, &keys::user_keys(a, &u.name))?);
        row.extend(certificate_columns(tx, a, &u.id)?);
        lines.push(row.join(","));
    }
    let report = Report { generated: ctx.now, csv: lines.join("\n") };
    tx.put(&keys::credential_report(a), &to_json(&report)?)?;
    Ok(shapes::GenerateCredentialReportResponse {
        state: Some("STARTED".to_owned()),
        description: existing.is_none().then(|| "No report exists. Starting a new report generation task".to_owned()),
    })
}

pub fn get_credential_report(ctx: &Ctx<'_>, _input: ()) -> Result<shapes::GetCredentialReportResponse, ServiceError> {
    let report: Report = records::read(ctx.db, &keys::credential_report(&ctx.principal.account_id))?.ok_or_else(|| {
        ServiceError::new(
            "ReportNotPresent",
            410,
            "Unable to find a credential report for this account. Use GenerateCredentialReport to generate a report.",
        )
    })?;
    Ok(shapes::GetCredentialReportResponse {
        content: Some(Blob(report.csv.into_bytes())),
        report_format: Some("text/csv".to_owned()),
        generated_time: Some(report.generated),
    })
}
