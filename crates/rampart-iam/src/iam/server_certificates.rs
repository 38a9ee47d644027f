//! Server certificates: an X.509 certificate, its chain and its private key, kept for services
//! that terminate TLS. The certificate and chain must parse, the key must be the certificate's,
//! and the key is sealed with the master key and never returned.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_server-certs.html>.

use rampart_core::records::{self, read_cached};
use rampart_core::{Ctx, ServiceError, TxCtx, account};
use rampart_shapes::generated::iam as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use x509_parser::pem::Pem;

use super::{merge_tags, remove_tags, tag_shapes};

/// Most server certificates an account may hold.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>.
pub const SERVER_CERTIFICATES_PER_ACCOUNT: usize = 20;

/// A server certificate as stored; the private key sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerCertificateRecord {
    pub v: u32,
    pub account_id: String,
    pub name: String,
    pub path: String,
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub uploaded: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires: OffsetDateTime,
    pub body: String,
    pub chain: Option<String>,
    /// Base64 of the private key's PEM, sealed with the master key.
    pub sealed_key: String,
    pub tags: Vec<(String, String)>,
}

impl ServerCertificateRecord {
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:server-certificate{}{}", self.account_id, self.path, self.name)
    }

    fn metadata(&self) -> shapes::ServerCertificateMetadata {
        shapes::ServerCertificateMetadata {
            path: self.path.clone(),
            server_certificate_name: self.name.clone(),
            server_certificate_id: self.id.clone(),
            arn: self.arn(),
            upload_date: Some(self.uploaded),
            expiration: Some(self.expires),
        }
    }
}

fn key(account: &str, name: &str) -> Vec<u8> {
    format!("iam/{account}/server-certificate/{}", name.to_ascii_lowercase()).into_bytes()
}

/// What a certificate's private key is sealed to: the certificate's id, which a rename keeps.
fn seal_context(account: &str, id: &str) -> Vec<u8> {
    format!("server-certificate/{account}/{id}").into_bytes()
}

fn prefix(account: &str) -> Vec<u8> {
    format!("iam/{account}/server-certificate/").into_bytes()
}

/// How many server certificates an account holds (for GetAccountSummary).
pub(super) fn server_certificate_count(ctx: &Ctx<'_>) -> Result<usize, ServiceError> {
    Ok(ctx.db.scan_prefix(&prefix(&ctx.principal.account_id), None, usize::MAX >> 1, false)?.len())
}

fn no_such_certificate(name: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("The Server Certificate with name {name} cannot be found."))
}

fn malformed(message: impl Into<String>) -> ServiceError {
    ServiceError::new("MalformedCertificate", 400, message)
}

/// The PEM blocks of a text, in order.
fn pem_blocks(text: &str) -> Vec<Pem> {
    Pem::iter_from_buffer(text.as_bytes()).map_while(Result::ok).collect()
}

/// A certificate's expiry and the public key it certifies (the SubjectPublicKeyInfo's bits).
pub(super) fn certificate(pem: &Pem) -> Result<(OffsetDateTime, Vec<u8>), ServiceError> {
    if pem.label != "CERTIFICATE" {
        return Err(malformed(format!("Expected a CERTIFICATE PEM block, found {}.", pem.label)));
    }
    let cert = pem
        .parse_x509()
        .map_err(|_| malformed("Unable to parse certificate. Please ensure the certificate is in PEM format."))?;
    let expires = cert.validity().not_after.to_datetime();
    Ok((expires, cert.public_key().subject_public_key.data.to_vec()))
}

/// The public key of a PEM private key (RSA in PKCS#1 or PKCS#8, EC P-256/P-384 in SEC 1 or
/// PKCS#8), as a certificate's SubjectPublicKeyInfo carries it.
fn public_key_of(pem: &Pem) -> Result<Vec<u8>, ServiceError> {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    let invalid = || ServiceError::new("MalformedCertificate", 400, "Unable to parse the private key.");
    let der = pem.contents.as_slice();
    match pem.label.as_str() {
        "RSA PRIVATE KEY" => {
            Ok(aws_lc_rs::rsa::KeyPair::from_der(der).map_err(|_| invalid())?.public_key().as_ref().to_vec())
        }
        "PRIVATE KEY" => {
            if let Ok(k) = aws_lc_rs::rsa::KeyPair::from_pkcs8(der) {
                return Ok(k.public_key().as_ref().to_vec());
            }
            [&ECDSA_P256_SHA256_ASN1_SIGNING, &ECDSA_P384_SHA384_ASN1_SIGNING]
                .into_iter()
                .find_map(|alg| EcdsaKeyPair::from_pkcs8(alg, der).ok())
                .map(|k| k.public_key().as_ref().to_vec())
                .ok_or_else(invalid)
        }
        "EC PRIVATE KEY" => [&ECDSA_P256_SHA256_ASN1_SIGNING, &ECDSA_P384_SHA384_ASN1_SIGNING]
            .into_iter()
            .find_map(|alg| EcdsaKeyPair::from_private_key_der(alg, der).ok())
            .map(|k| k.public_key().as_ref().to_vec())
            .ok_or_else(invalid),
        _ => Err(invalid()),
    }
}

pub fn upload_server_certificate(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UploadServerCertificateRequest,
) -> Result<shapes::UploadServerCertificateResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let body = pem_blocks(&input.certificate_body);
    let [leaf] = body.as_slice() else {
        return Err(malformed("The certificate body must hold exactly one PEM certificate."));
    };
    let (expires, certified) = certificate(leaf)?;
    if let Some(chain) = &input.certificate_chain {
        let blocks = pem_blocks(chain);
        if blocks.is_empty() {
            return Err(malformed("Unable to parse the certificate chain. Please ensure it is in PEM format."));
        }
        for b in &blocks {
            certificate(b)?;
        }
    }
    let keys = pem_blocks(&input.private_key);
    let [private] = keys.as_slice() else {
        return Err(ServiceError::new("MalformedCertificate", 400, "Unable to parse the private key."));
    };
    if public_key_of(private)? != certified {
        return Err(ServiceError::new(
            "KeyPairMismatch",
            400,
            "The public key in the certificate does not match the private key.",
        ));
    }
    if tx.get(&key(account, &input.server_certificate_name))?.is_some() {
        return Err(ServiceError::new(
            "EntityAlreadyExists",
            409,
            format!("The Server Certificate with name {} already exists.", input.server_certificate_name),
        ));
    }
    if tx.scan_prefix(&prefix(account), None, SERVER_CERTIFICATES_PER_ACCOUNT, false)?.len()
        >= SERVER_CERTIFICATES_PER_ACCOUNT
    {
        return Err(ServiceError::new(
            "LimitExceeded",
            409,
            format!("Cannot exceed quota for ServerCertificatesPerAccount: {SERVER_CERTIFICATES_PER_ACCOUNT}"),
        ));
    }
    let name = input.server_certificate_name;
    let id = account::new_unique_id("ASCA")?;
    let sealed = ctx
        .sealer
        .seal(input.private_key.as_bytes(), &seal_context(account, &id))
        .map_err(|_| ServiceError::internal())?;
    let mut tags = Vec::new();
    merge_tags(&mut tags, input.tags.unwrap_or_default())?;
    let record = ServerCertificateRecord {
        v: 1,
        account_id: account.clone(),
        path: input.path.unwrap_or_else(|| "/".to_owned()),
        id,
        uploaded: ctx.now,
        expires,
        // Kept without the white space around it, as IAM answers GetServerCertificate (see its
        // examples); Terraform's aws_iam_server_certificate compares the body it reads with its
        // configuration's trimmed, and a trailing newline kept here would replace it on every plan.
        // See <https://docs.aws.amazon.com/cli/latest/reference/iam/get-server-certificate.html>.
        body: input.certificate_body.trim().to_owned(),
        chain: input.certificate_chain.map(|c| c.trim().to_owned()),
        sealed_key: data_encoding::BASE64.encode(&sealed),
        tags,
        name,
    };
    records::write_tx(tx, &key(account, &record.name), &record)?;
    Ok(shapes::UploadServerCertificateResponse {
        server_certificate_metadata: Some(record.metadata()),
        tags: (!record.tags.is_empty()).then(|| tag_shapes(&record.tags)),
    })
}

/// Reads a certificate by name through the store's cache (for authorization: its path and tags).
pub fn read_server_certificate(
    db: &rampart_store::Db,
    account: &str,
    name: &str,
) -> Result<Option<ServerCertificateRecord>, ServiceError> {
    read_cached(db, &key(account, name))
}

/// The server certificate an ARN names, if it is one of `account`'s (a rename changes the ARN:
/// the old one names nothing).
fn by_arn(db: &rampart_store::Db, account: &str, arn: &str) -> Result<Option<ServerCertificateRecord>, ServiceError> {
    let Some(rest) = arn.strip_prefix(&format!("arn:aws:iam::{account}:server-certificate/")) else {
        return Ok(None);
    };
    let name = rest.rsplit('/').next().unwrap_or(rest);
    Ok(read_server_certificate(db, account, name)?.filter(|c| c.arn() == arn))
}

/// Whether `arn` names a server certificate of the caller's account: what an Elastic Load
/// Balancing HTTPS listener may name (Rampart has no ACM).
pub fn server_certificate_exists(ctx: &Ctx<'_>, arn: &str) -> Result<bool, ServiceError> {
    Ok(by_arn(ctx.db, &ctx.principal.account_id, arn)?.is_some())
}

/// What a TLS listener serves a server certificate with.
pub struct TlsIdentity {
    /// The certificate and its chain, PEM, leaf first.
    pub chain: String,
    /// The private key, PEM, unsealed.
    pub key: zeroize::Zeroizing<Vec<u8>>,
    /// The DNS names the certificate is for (its subject alternative names, else its common
    /// name), lower-case, wildcards (`*.example.com`) as written.
    pub names: Vec<String>,
}

/// The DNS names a PEM certificate is for.
fn dns_names(body: &str) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Some(pem) = pem_blocks(body).into_iter().next() else { return Vec::new() };
    let Ok(cert) = pem.parse_x509() else { return Vec::new() };
    let mut names: Vec<String> = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    if names.is_empty() {
        names.extend(cert.subject().iter_common_name().filter_map(|cn| cn.as_str().ok()).map(str::to_ascii_lowercase));
    }
    names
}

/// A server certificate of `account` for a TLS listener, its key unsealed; `None` when the ARN
/// names none.
pub fn server_certificate_for_tls(
    db: &rampart_store::Db,
    sealer: &rampart_store::Sealer,
    account: &str,
    arn: &str,
) -> Result<Option<TlsIdentity>, ServiceError> {
    let Some(c) = by_arn(db, account, arn)? else { return Ok(None) };
    let sealed = data_encoding::BASE64.decode(c.sealed_key.as_bytes()).map_err(|_| ServiceError::internal())?;
    let key = sealer.open(&sealed, &seal_context(account, &c.id)).map_err(|_| ServiceError::internal())?;
    let names = dns_names(&c.body);
    let mut chain = c.body;
    if let Some(rest) = c.chain {
        chain.push('\n');
        chain.push_str(&rest);
    }
    Ok(Some(TlsIdentity { chain, key, names }))
}

fn read(ctx: &Ctx<'_>, name: &str) -> Result<ServerCertificateRecord, ServiceError> {
    read_cached(ctx.db, &key(&ctx.principal.account_id, name))?.ok_or_else(|| no_such_certificate(name))
}

fn read_tx(tx: &Tx<'_>, account: &str, name: &str) -> Result<ServerCertificateRecord, ServiceError> {
    records::read_tx(tx, &key(account, name))?.ok_or_else(|| no_such_certificate(name))
}

pub fn get_server_certificate(
    ctx: &Ctx<'_>,
    input: shapes::GetServerCertificateRequest,
) -> Result<shapes::GetServerCertificateResponse, ServiceError> {
    let c = read(ctx, &input.server_certificate_name)?;
    Ok(shapes::GetServerCertificateResponse {
        server_certificate: shapes::ServerCertificate {
            server_certificate_metadata: c.metadata(),
            certificate_body: c.body.clone(),
            certificate_chain: c.chain.clone(),
            tags: (!c.tags.is_empty()).then(|| tag_shapes(&c.tags)),
        },
    })
}

pub fn list_server_certificates(
    ctx: &Ctx<'_>,
    input: shapes::ListServerCertificatesRequest,
) -> Result<shapes::ListServerCertificatesResponse, ServiceError> {
    let all: Vec<ServerCertificateRecord> = records::scan_records(ctx.db, &prefix(&ctx.principal.account_id))?;
    let path_prefix = input.path_prefix.unwrap_or_else(|| "/".to_owned());
    let listed: Vec<shapes::ServerCertificateMetadata> =
        all.iter().filter(|c| c.path.starts_with(&path_prefix)).map(ServerCertificateRecord::metadata).collect();
    let (server_certificate_metadata_list, truncated, marker) =
        super::page_items(listed, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListServerCertificatesResponse {
        server_certificate_metadata_list,
        is_truncated: Some(truncated),
        marker,
    })
}

/// Renames a certificate and/or moves it to a new path (its key stays sealed to its id).
pub fn update_server_certificate(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateServerCertificateRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let mut c = read_tx(tx, account, &input.server_certificate_name)?;
    if let Some(path) = input.new_path {
        c.path = path;
    }
    if let Some(new_name) = input.new_server_certificate_name
        && new_name != c.name
    {
        if !new_name.eq_ignore_ascii_case(&c.name) && tx.get(&key(account, &new_name))?.is_some() {
            return Err(ServiceError::new(
                "EntityAlreadyExists",
                409,
                format!("The Server Certificate with name {new_name} already exists."),
            ));
        }
        tx.delete(&key(account, &c.name))?;
        c.name = new_name;
    }
    records::write_tx(tx, &key(account, &c.name), &c)
}

/// What uses a server certificate, if anything: the load balancer one of whose listeners names it
/// (`rampart_elb::balancer_using_certificate`, which the server hands in).
pub type CertificateInUse = fn(&Ctx<'_>, &str) -> Result<Option<String>, ServiceError>;

/// DeleteServerCertificate's first step: a certificate a load balancer serves cannot be deleted.
/// See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteServerCertificate.html>.
pub fn prepare_delete_server_certificate(
    ctx: &Ctx<'_>,
    input: shapes::DeleteServerCertificateRequest,
    in_use: CertificateInUse,
) -> Result<shapes::DeleteServerCertificateRequest, ServiceError> {
    if let Some(c) = read_server_certificate(ctx.db, &ctx.principal.account_id, &input.server_certificate_name)?
        && let Some(user) = in_use(ctx, &c.arn())?
    {
        return Err(ServiceError::new(
            "DeleteConflict",
            409,
            format!(
                "Certificate: {} is currently in use by {user}. Please remove it first before deleting it from IAM.",
                c.id
            ),
        ));
    }
    Ok(input)
}

pub fn delete_server_certificate(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteServerCertificateRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let c = read_tx(tx, account, &input.server_certificate_name)?;
    tx.delete(&key(account, &c.name))?;
    Ok(())
}

pub fn tag_server_certificate(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::TagServerCertificateRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let mut c = read_tx(tx, account, &input.server_certificate_name)?;
    merge_tags(&mut c.tags, input.tags)?;
    records::write_tx(tx, &key(account, &c.name), &c)
}

pub fn untag_server_certificate(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UntagServerCertificateRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let mut c = read_tx(tx, account, &input.server_certificate_name)?;
    remove_tags(&mut c.tags, &input.tag_keys);
    records::write_tx(tx, &key(account, &c.name), &c)
}

pub fn list_server_certificate_tags(
    ctx: &Ctx<'_>,
    input: shapes::ListServerCertificateTagsRequest,
) -> Result<shapes::ListServerCertificateTagsResponse, ServiceError> {
    let c = read(ctx, &input.server_certificate_name)?;
    let (tags, truncated, marker) = super::page_items(tag_shapes(&c.tags), input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListServerCertificateTagsResponse { tags, is_truncated: Some(truncated), marker })
}
