//! Service-specific credentials: a user name and password for CodeCommit's Git and Amazon
//! Keyspaces, or an API key for Amazon Bedrock and CloudWatch Logs, made by IAM for one user and
//! one service. The secret is shown once, when it is made or reset, and kept only as a digest.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_service-specific-creds.html>.

use rampart_core::records;
use rampart_core::{Ctx, ServiceError, TxCtx, account};
use rampart_shapes::generated::iam as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{UserRecord, no_such_user, read_user, read_user_tx, target_user};

/// Most credentials a user may have for one service.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>.
const PER_USER_PER_SERVICE: usize = 2;

/// Services whose credential is a user name and password.
const PASSWORD_SERVICES: &[&str] = &["codecommit.amazonaws.com", "cassandra.amazonaws.com"];
/// Services whose credential is an API key (an alias and a secret), which may expire.
const API_KEY_SERVICES: &[&str] = &["bedrock.amazonaws.com", "logs.amazonaws.com"];

/// A credential as stored: the secret only as its SHA-256 digest. The secret is 256 random bits,
/// so a fast digest is as safe as a slow password hash here; Rampart serves none of these
/// services, so nothing compares against it yet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceCredentialRecord {
    pub v: u32,
    pub account_id: String,
    pub user_name: String,
    pub user_id: String,
    pub id: String,
    pub service: String,
    pub service_user_name: Option<String>,
    pub alias: Option<String>,
    pub secret_sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires: Option<OffsetDateTime>,
    pub active: bool,
}

impl ServiceCredentialRecord {
    fn metadata(&self) -> shapes::ServiceSpecificCredentialMetadata {
        shapes::ServiceSpecificCredentialMetadata {
            user_name: self.user_name.clone(),
            status: status(self.active),
            service_user_name: self.service_user_name.clone(),
            service_credential_alias: self.alias.clone(),
            create_date: self.created,
            expiration_date: self.expires,
            service_specific_credential_id: self.id.clone(),
            service_name: self.service.clone(),
        }
    }

    /// The credential with its secret, as Create and Reset show it once.
    fn shown(&self, secret: String) -> shapes::ServiceSpecificCredential {
        let api_key = self.alias.is_some();
        shapes::ServiceSpecificCredential {
            create_date: self.created,
            expiration_date: self.expires,
            service_name: self.service.clone(),
            service_user_name: self.service_user_name.clone(),
            service_password: (!api_key).then(|| secret.clone()),
            service_credential_alias: self.alias.clone(),
            service_credential_secret: api_key.then_some(secret),
            service_specific_credential_id: self.id.clone(),
            user_name: self.user_name.clone(),
            status: status(self.active),
        }
    }
}

fn status(active: bool) -> String {
    if active { "Active" } else { "Inactive" }.to_owned()
}

fn key(account: &str, user_id: &str, id: &str) -> Vec<u8> {
    format!("iam/{account}/service-credential/{user_id}/{id}").into_bytes()
}

fn user_prefix(account: &str, user_id: &str) -> Vec<u8> {
    format!("iam/{account}/service-credential/{user_id}/").into_bytes()
}

fn account_prefix(account: &str) -> Vec<u8> {
    format!("iam/{account}/service-credential/").into_bytes()
}

/// A new secret: 32 random bytes, base64 (44 characters, as IAM's look), and its digest.
fn new_secret() -> Result<(String, String), ServiceError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ServiceError::internal())?;
    let secret = data_encoding::BASE64.encode(&bytes);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    Ok((secret, data_encoding::HEXLOWER.encode(digest.as_ref())))
}

fn no_such_credential(id: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("The Service Specific Credential with id {id} cannot be found."))
}

/// Whether a user holds any service-specific credential (DeleteUser refuses until they are gone).
pub(crate) fn has_service_credentials(tx: &Tx<'_>, account: &str, user_id: &str) -> Result<bool, ServiceError> {
    Ok(!tx.scan_prefix(&user_prefix(account, user_id), None, 1, false)?.is_empty())
}

fn user_credentials_tx(tx: &Tx<'_>, u: &UserRecord) -> Result<Vec<ServiceCredentialRecord>, ServiceError> {
    tx.scan_prefix(&user_prefix(&u.account_id, &u.id), None, usize::MAX >> 1, false)?
        .iter()
        .map(|(k, v)| records::decode(k, v))
        .collect()
}

fn credential_tx(tx: &Tx<'_>, u: &UserRecord, id: &str) -> Result<ServiceCredentialRecord, ServiceError> {
    records::read_tx(tx, &key(&u.account_id, &u.id, id))?.ok_or_else(|| no_such_credential(id))
}

fn user_tx(tx: &Tx<'_>, ctx: &TxCtx<'_>, named: Option<&str>) -> Result<UserRecord, ServiceError> {
    let name = target_user(ctx.principal, named)?;
    read_user_tx(tx, &ctx.principal.account_id, &name)?.ok_or_else(|| no_such_user(&name))
}

pub fn create_service_specific_credential(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateServiceSpecificCredentialRequest,
) -> Result<shapes::CreateServiceSpecificCredentialResponse, ServiceError> {
    let u = user_tx(tx, ctx, Some(&input.user_name))?;
    let service = input.service_name.as_str();
    let api_key = API_KEY_SERVICES.contains(&service);
    if !api_key && !PASSWORD_SERVICES.contains(&service) {
        return Err(ServiceError::new(
            "NotSupportedService",
            404,
            format!("Service {service} is not supported for service-specific credentials."),
        ));
    }
    let expires = match input.credential_age_days {
        Some(_) if !api_key => {
            return Err(ServiceError::new(
                "InvalidInput",
                400,
                "CredentialAgeDays applies only to Bedrock and CloudWatch Logs API keys.",
            ));
        }
        Some(days) => Some(ctx.now + time::Duration::days(i64::from(days))),
        None => None,
    };
    if user_credentials_tx(tx, &u)?.iter().filter(|c| c.service == service).count() >= PER_USER_PER_SERVICE {
        return Err(ServiceError::new(
            "LimitExceeded",
            409,
            format!("Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: {PER_USER_PER_SERVICE}"),
        ));
    }
    let (secret, digest) = new_secret()?;
    let account = &u.account_id;
    let record = ServiceCredentialRecord {
        v: 1,
        account_id: account.clone(),
        user_name: u.name.clone(),
        user_id: u.id.clone(),
        id: account::new_unique_id("ACCA")?,
        service: service.to_owned(),
        service_user_name: (!api_key).then(|| format!("{}-at-{account}", u.name)),
        // The public part of an API key: the user's name, then a version and when it was made.
        alias: api_key.then(|| format!("{}+1-at-{account}-{}", u.name, ctx.now.unix_timestamp())),
        secret_sha256: digest,
        created: ctx.now,
        expires,
        active: true,
    };
    records::write_tx(tx, &key(account, &u.id, &record.id), &record)?;
    Ok(shapes::CreateServiceSpecificCredentialResponse { service_specific_credential: Some(record.shown(secret)) })
}

pub fn list_service_specific_credentials(
    ctx: &Ctx<'_>,
    input: shapes::ListServiceSpecificCredentialsRequest,
) -> Result<shapes::ListServiceSpecificCredentialsResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let prefix = if input.all_users == Some(true) {
        account_prefix(account)
    } else {
        let name = target_user(ctx.principal, input.user_name.as_deref())?;
        let u = read_user(ctx.db, account, &name)?.ok_or_else(|| no_such_user(&name))?;
        user_prefix(account, &u.id)
    };
    let all: Vec<ServiceCredentialRecord> = records::scan_records(ctx.db, &prefix)?;
    let listed: Vec<shapes::ServiceSpecificCredentialMetadata> = all
        .iter()
        .filter(|c| input.service_name.as_ref().is_none_or(|s| *s == c.service))
        .map(ServiceCredentialRecord::metadata)
        .collect();
    let (credentials, truncated, marker) = super::page_items(listed, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListServiceSpecificCredentialsResponse {
        service_specific_credentials: Some(credentials),
        marker,
        is_truncated: Some(truncated),
    })
}

/// A new secret for a credential; the old one stops working at once.
pub fn reset_service_specific_credential(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::ResetServiceSpecificCredentialRequest,
) -> Result<shapes::ResetServiceSpecificCredentialResponse, ServiceError> {
    let u = user_tx(tx, ctx, input.user_name.as_deref())?;
    let mut c = credential_tx(tx, &u, &input.service_specific_credential_id)?;
    let (secret, digest) = new_secret()?;
    c.secret_sha256 = digest;
    records::write_tx(tx, &key(&u.account_id, &u.id, &c.id), &c)?;
    Ok(shapes::ResetServiceSpecificCredentialResponse { service_specific_credential: Some(c.shown(secret)) })
}

pub fn update_service_specific_credential(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateServiceSpecificCredentialRequest,
) -> Result<(), ServiceError> {
    let u = user_tx(tx, ctx, input.user_name.as_deref())?;
    let mut c = credential_tx(tx, &u, &input.service_specific_credential_id)?;
    c.active = input.status == "Active";
    records::write_tx(tx, &key(&u.account_id, &u.id, &c.id), &c)
}

pub fn delete_service_specific_credential(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteServiceSpecificCredentialRequest,
) -> Result<(), ServiceError> {
    let u = user_tx(tx, ctx, input.user_name.as_deref())?;
    let c = credential_tx(tx, &u, &input.service_specific_credential_id)?;
    tx.delete(&key(&u.account_id, &u.id, &c.id))?;
    Ok(())
}
