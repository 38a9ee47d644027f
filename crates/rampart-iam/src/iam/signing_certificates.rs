//! Signing certificates: X.509 certificates a user (or root) registers for services that take
//! signed requests by certificate, at most two each. A certificate's id is its SHA-1
//! fingerprint, so the same certificate cannot be registered twice.
//! See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_UploadSigningCertificate.html>.

use rampart_core::records;
use rampart_core::{Ctx, ServiceError, TxCtx};
use rampart_shapes::generated::iam as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{no_such_user, read_user, read_user_tx, target_holder};

/// Most signing certificates a user may have.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>.
pub const SIGNING_CERTIFICATES_PER_USER: usize = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigningCertificateRecord {
    pub v: u32,
    /// The user's name; empty for root's certificates.
    pub user_name: String,
    pub id: String,
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub uploaded: OffsetDateTime,
    pub active: bool,
}

impl SigningCertificateRecord {
    fn shape(&self) -> shapes::SigningCertificate {
        shapes::SigningCertificate {
            user_name: self.user_name.clone(),
            certificate_id: self.id.clone(),
            certificate_body: self.body.clone(),
            status: if self.active { "Active" } else { "Inactive" }.to_owned(),
            upload_date: Some(self.uploaded),
        }
    }
}

/// Whose certificates: a user's by unique id, or root's (the account id).
fn prefix(account: &str, holder: &str) -> Vec<u8> {
    format!("iam/{account}/signing-certificate/{holder}/").into_bytes()
}

fn key(account: &str, holder: &str, id: &str) -> Vec<u8> {
    format!("iam/{account}/signing-certificate/{holder}/{id}").into_bytes()
}

/// A user's (or, `holder` the account id, root's) certificates, oldest first (the credential
/// report's `cert_1` and `cert_2`).
pub(super) fn certificates_tx(
    tx: &Tx<'_>,
    account: &str,
    holder: &str,
) -> Result<Vec<SigningCertificateRecord>, ServiceError> {
    let mut all: Vec<SigningCertificateRecord> = tx
        .scan_prefix(&prefix(account, holder), None, usize::MAX >> 1, false)?
        .iter()
        .map(|(k, v)| records::decode(k, v))
        .collect::<Result<_, _>>()?;
    all.sort_by_key(|c| c.uploaded);
    Ok(all)
}

/// Whether root holds a signing certificate (GetAccountSummary's AccountSigningCertificatesPresent).
pub(super) fn root_has_signing_certificates(ctx: &Ctx<'_>) -> Result<bool, ServiceError> {
    let a = &ctx.principal.account_id;
    Ok(!ctx.db.scan_prefix(&prefix(a, a), None, 1, false)?.is_empty())
}

/// The holder an operation is about: the named user, else the calling user, else root (root
/// manages its own certificates by calling without a user name).
fn holder_tx(tx: &Tx<'_>, ctx: &TxCtx<'_>, named: Option<&str>) -> Result<(String, String), ServiceError> {
    let account = &ctx.principal.account_id;
    let Some(name) = target_holder(ctx.principal, named)? else { return Ok((account.clone(), String::new())) };
    let u = read_user_tx(tx, account, &name)?.ok_or_else(|| no_such_user(&name))?;
    Ok((u.id, u.name))
}

fn no_such_certificate(id: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("The Certificate with id {id} cannot be found."))
}

pub fn upload_signing_certificate(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UploadSigningCertificateRequest,
) -> Result<shapes::UploadSigningCertificateResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let (holder, user_name) = holder_tx(tx, ctx, input.user_name.as_deref())?;
    let blocks: Vec<x509_parser::pem::Pem> =
        x509_parser::pem::Pem::iter_from_buffer(input.certificate_body.as_bytes()).map_while(Result::ok).collect();
    let [pem] = blocks.as_slice() else {
        return Err(ServiceError::new(
            "MalformedCertificate",
            400,
            "The certificate body must hold exactly one PEM certificate.",
        ));
    };
    let (expires, _) = super::server_certificates::certificate(pem)?;
    if expires <= ctx.now {
        return Err(ServiceError::new("InvalidCertificate", 400, "The certificate has expired."));
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &pem.contents);
    let id = data_encoding::BASE32_NOPAD.encode(digest.as_ref());
    let mine = certificates_tx(tx, account, &holder)?;
    if mine.iter().any(|c| c.id == id) {
        return Err(ServiceError::new(
            "DuplicateCertificate",
            409,
            format!("The Certificate with id {id} already exists."),
        ));
    }
    if mine.len() >= SIGNING_CERTIFICATES_PER_USER {
        return Err(ServiceError::new(
            "LimitExceeded",
            409,
            format!("Cannot exceed quota for SigningCertificatesPerUser: {SIGNING_CERTIFICATES_PER_USER}"),
        ));
    }
    let record =
        SigningCertificateRecord { v: 1, user_name, id, body: input.certificate_body, uploaded: ctx.now, active: true };
    records::write_tx(tx, &key(account, &holder, &record.id), &record)?;
    Ok(shapes::UploadSigningCertificateResponse { certificate: record.shape() })
}

pub fn list_signing_certificates(
    ctx: &Ctx<'_>,
    input: shapes::ListSigningCertificatesRequest,
) -> Result<shapes::ListSigningCertificatesResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let holder = match target_holder(ctx.principal, input.user_name.as_deref())? {
        Some(name) => read_user(ctx.db, account, &name)?.ok_or_else(|| no_such_user(&name))?.id.clone(),
        None => account.clone(),
    };
    let mut all: Vec<SigningCertificateRecord> = records::scan_records(ctx.db, &prefix(account, &holder))?;
    all.sort_by_key(|c| c.uploaded);
    let shapes: Vec<shapes::SigningCertificate> = all.iter().map(SigningCertificateRecord::shape).collect();
    let (certificates, truncated, marker) = super::page_items(shapes, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListSigningCertificatesResponse { certificates, is_truncated: Some(truncated), marker })
}

pub fn update_signing_certificate(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateSigningCertificateRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let (holder, _) = holder_tx(tx, ctx, input.user_name.as_deref())?;
    let k = key(account, &holder, &input.certificate_id);
    let mut c: SigningCertificateRecord =
        records::read_tx(tx, &k)?.ok_or_else(|| no_such_certificate(&input.certificate_id))?;
    c.active = input.status == "Active";
    records::write_tx(tx, &k, &c)
}

pub fn delete_signing_certificate(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteSigningCertificateRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let (holder, _) = holder_tx(tx, ctx, input.user_name.as_deref())?;
    if !tx.delete(&key(account, &holder, &input.certificate_id))? {
        return Err(no_such_certificate(&input.certificate_id));
    }
    Ok(())
}
