//! SSH public keys a user registers for CodeCommit: RSA keys of at least 2,048 bits, in OpenSSH
//! (`ssh-rsa …`) or PEM (SubjectPublicKeyInfo) form, read back in either. The fingerprint is
//! the MD5 digest of the key as SSH encodes it (what `ssh-keygen -l -E md5` shows).
//! See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_UploadSSHPublicKey.html>.

use md5::Digest as _;
use rampart_core::records;
use rampart_core::{Ctx, ServiceError, TxCtx, account};
use rampart_shapes::generated::iam as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{UserRecord, no_such_user, read_user, read_user_tx, target_user};

/// Most SSH public keys a user may have.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>.
pub const SSH_KEYS_PER_USER: usize = 5;

/// The smallest RSA key IAM takes.
const MIN_BITS: usize = 2048;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SshKeyRecord {
    pub v: u32,
    pub user_name: String,
    pub id: String,
    /// The key as SSH encodes it (`string "ssh-rsa", mpint e, mpint n`), base64.
    pub blob: String,
    pub fingerprint: String,
    #[serde(with = "time::serde::rfc3339")]
    pub uploaded: OffsetDateTime,
    pub active: bool,
}

fn key(account: &str, user_id: &str, id: &str) -> Vec<u8> {
    format!("iam/{account}/ssh-key/{user_id}/{id}").into_bytes()
}

fn prefix(account: &str, user_id: &str) -> Vec<u8> {
    format!("iam/{account}/ssh-key/{user_id}/").into_bytes()
}

fn unrecognized() -> ServiceError {
    ServiceError::new(
        "UnrecognizedPublicKeyEncoding",
        400,
        "The public key encoding format is unsupported or unrecognized.",
    )
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidPublicKey", 400, message)
}

/// An RSA public key's modulus and exponent, big-endian without leading zeros.
struct RsaKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

fn strip(b: &[u8]) -> Vec<u8> {
    b.iter().copied().skip_while(|x| *x == 0).collect()
}

/// Reads SSH's length-prefixed fields.
fn ssh_fields(mut blob: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !blob.is_empty() {
        let (len, rest) = blob.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if rest.len() < len {
            return None;
        }
        let (field, rest) = rest.split_at(len);
        out.push(field);
        blob = rest;
    }
    Some(out)
}

fn parse(body: &str) -> Result<RsaKey, ServiceError> {
    let body = body.trim();
    if let Some(rest) = body.strip_prefix("ssh-rsa ") {
        let b64 = rest.split_whitespace().next().ok_or_else(unrecognized)?;
        let blob = data_encoding::BASE64.decode(b64.as_bytes()).map_err(|_| unrecognized())?;
        let fields = ssh_fields(&blob).ok_or_else(unrecognized)?;
        let [kind, e, n] = fields.as_slice() else { return Err(unrecognized()) };
        if *kind != b"ssh-rsa" {
            return Err(unrecognized());
        }
        return Ok(RsaKey { n: strip(n), e: strip(e) });
    }
    if body.starts_with("-----BEGIN PUBLIC KEY-----") {
        let (_, pem) = x509_parser::pem::parse_x509_pem(body.as_bytes()).map_err(|_| unrecognized())?;
        let (_, spki) = <x509_parser::x509::SubjectPublicKeyInfo as x509_parser::prelude::FromDer<
            x509_parser::error::X509Error,
        >>::from_der(&pem.contents)
        .map_err(|_| unrecognized())?;
        return match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
                Ok(RsaKey { n: strip(rsa.modulus), e: strip(rsa.exponent) })
            }
            _ => Err(invalid("Only RSA public keys are supported.")),
        };
    }
    Err(unrecognized())
}

fn ssh_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// An unsigned big-endian integer as SSH's mpint and DER's INTEGER want it: a leading zero when
/// the top bit is set.
fn signed(b: &[u8]) -> Vec<u8> {
    if b.first().is_some_and(|x| x & 0x80 != 0) { [&[0u8][..], b].concat() } else { b.to_vec() }
}

fn ssh_blob(k: &RsaKey) -> Vec<u8> {
    let mut out = Vec::new();
    ssh_string(&mut out, b"ssh-rsa");
    ssh_string(&mut out, &signed(&k.e));
    ssh_string(&mut out, &signed(&k.n));
    out
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes = strip(&len.to_be_bytes());
        out.push(0x80 | u8::try_from(bytes.len()).unwrap_or(0));
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The key as a PEM SubjectPublicKeyInfo.
fn pem(k: &RsaKey) -> String {
    const RSA_ENCRYPTION: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
    let rsa = der(0x30, &[der(0x02, &signed(&k.n)), der(0x02, &signed(&k.e))].concat());
    let spki = der(0x30, &[der(0x30, RSA_ENCRYPTION), der(0x03, &[&[0u8][..], &rsa].concat())].concat());
    let b64 = data_encoding::BASE64.encode(&spki);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).filter_map(|c| std::str::from_utf8(c).ok()).collect();
    format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
}

impl SshKeyRecord {
    fn shape(&self, encoding: &str) -> Result<shapes::SSHPublicKey, ServiceError> {
        let blob = data_encoding::BASE64.decode(self.blob.as_bytes()).map_err(|_| ServiceError::internal())?;
        let body = if encoding == "PEM" {
            let fields = ssh_fields(&blob).ok_or_else(ServiceError::internal)?;
            let [_, e, n] = fields.as_slice() else { return Err(ServiceError::internal()) };
            pem(&RsaKey { n: strip(n), e: strip(e) })
        } else {
            format!("ssh-rsa {}", self.blob)
        };
        Ok(shapes::SSHPublicKey {
            user_name: self.user_name.clone(),
            ssh_public_key_id: self.id.clone(),
            fingerprint: self.fingerprint.clone(),
            ssh_public_key_body: body,
            status: status(self.active),
            upload_date: Some(self.uploaded),
        })
    }
}

fn status(active: bool) -> String {
    if active { "Active" } else { "Inactive" }.to_owned()
}

fn no_such_key(id: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("The Public Key with id {id} cannot be found."))
}

fn user_tx(tx: &Tx<'_>, ctx: &TxCtx<'_>, named: &str) -> Result<UserRecord, ServiceError> {
    read_user_tx(tx, &ctx.principal.account_id, named)?.ok_or_else(|| no_such_user(named))
}

fn keys_tx(tx: &Tx<'_>, u: &UserRecord) -> Result<Vec<SshKeyRecord>, ServiceError> {
    tx.scan_prefix(&prefix(&u.account_id, &u.id), None, usize::MAX >> 1, false)?
        .iter()
        .map(|(k, v)| records::decode(k, v))
        .collect()
}

/// Whether a user holds an SSH public key (DeleteUser refuses until they are gone).
pub(crate) fn has_ssh_keys(tx: &Tx<'_>, account: &str, user_id: &str) -> Result<bool, ServiceError> {
    Ok(!tx.scan_prefix(&prefix(account, user_id), None, 1, false)?.is_empty())
}

/// Reads an uploaded key (OpenSSH or PEM), checks it is RSA of at least 2,048 bits, and gives
/// its SSH encoding and fingerprint. Pure; fuzz target `ssh_public_key`.
pub fn read_ssh_public_key(body: &str) -> Result<(Vec<u8>, String), ServiceError> {
    let parsed = parse(body)?;
    let bits = (parsed.n.len() * 8).saturating_sub(parsed.n.first().map_or(8, |b| b.leading_zeros() as usize));
    if bits < MIN_BITS {
        return Err(invalid(format!("The public key is {bits} bits; IAM takes RSA keys of at least {MIN_BITS} bits.")));
    }
    let blob = ssh_blob(&parsed);
    let digest = md5::Md5::digest(&blob);
    let fingerprint = digest.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
    Ok((blob, fingerprint))
}

pub fn upload_ssh_public_key(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UploadSSHPublicKeyRequest,
) -> Result<shapes::UploadSSHPublicKeyResponse, ServiceError> {
    let u = user_tx(tx, ctx, &input.user_name)?;
    let (blob, fingerprint) = read_ssh_public_key(&input.ssh_public_key_body)?;
    let mine = keys_tx(tx, &u)?;
    if mine.iter().any(|k| k.fingerprint == fingerprint) {
        return Err(ServiceError::new(
            "DuplicateSSHPublicKey",
            400,
            "The SSH public key is already associated with this user.",
        ));
    }
    if mine.len() >= SSH_KEYS_PER_USER {
        return Err(ServiceError::new(
            "LimitExceeded",
            409,
            format!("Cannot exceed quota for KeysPerUser: {SSH_KEYS_PER_USER}"),
        ));
    }
    let record = SshKeyRecord {
        v: 1,
        user_name: u.name.clone(),
        id: account::new_unique_id("APKA")?,
        blob: data_encoding::BASE64.encode(&blob),
        fingerprint,
        uploaded: ctx.now,
        active: true,
    };
    records::write_tx(tx, &key(&u.account_id, &u.id, &record.id), &record)?;
    Ok(shapes::UploadSSHPublicKeyResponse { ssh_public_key: Some(record.shape("SSH")?) })
}

pub fn get_ssh_public_key(
    ctx: &Ctx<'_>,
    input: shapes::GetSSHPublicKeyRequest,
) -> Result<shapes::GetSSHPublicKeyResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let u = read_user(ctx.db, account, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    let k: SshKeyRecord = records::read(ctx.db, &key(account, &u.id, &input.ssh_public_key_id))?
        .ok_or_else(|| no_such_key(&input.ssh_public_key_id))?;
    Ok(shapes::GetSSHPublicKeyResponse { ssh_public_key: Some(k.shape(&input.encoding)?) })
}

pub fn list_ssh_public_keys(
    ctx: &Ctx<'_>,
    input: shapes::ListSSHPublicKeysRequest,
) -> Result<shapes::ListSSHPublicKeysResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let name = target_user(ctx.principal, input.user_name.as_deref())?;
    let u = read_user(ctx.db, account, &name)?.ok_or_else(|| no_such_user(&name))?;
    let mut all: Vec<SshKeyRecord> = records::scan_records(ctx.db, &prefix(account, &u.id))?;
    all.sort_by_key(|k| k.uploaded);
    let listed: Vec<shapes::SSHPublicKeyMetadata> = all
        .iter()
        .map(|k| shapes::SSHPublicKeyMetadata {
            user_name: k.user_name.clone(),
            ssh_public_key_id: k.id.clone(),
            status: status(k.active),
            upload_date: k.uploaded,
        })
        .collect();
    let (keys, truncated, marker) = super::page_items(listed, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListSSHPublicKeysResponse { ssh_public_keys: Some(keys), is_truncated: Some(truncated), marker })
}

pub fn update_ssh_public_key(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateSSHPublicKeyRequest,
) -> Result<(), ServiceError> {
    let u = user_tx(tx, ctx, &input.user_name)?;
    let k_ = key(&u.account_id, &u.id, &input.ssh_public_key_id);
    let mut k: SshKeyRecord = records::read_tx(tx, &k_)?.ok_or_else(|| no_such_key(&input.ssh_public_key_id))?;
    k.active = input.status == "Active";
    records::write_tx(tx, &k_, &k)
}

pub fn delete_ssh_public_key(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteSSHPublicKeyRequest,
) -> Result<(), ServiceError> {
    let u = user_tx(tx, ctx, &input.user_name)?;
    if !tx.delete(&key(&u.account_id, &u.id, &input.ssh_public_key_id))? {
        return Err(no_such_key(&input.ssh_public_key_id));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key read from either form gives the same SSH encoding, and the PEM Rampart writes reads
    /// back to the same key.
    #[test]
    fn ssh_and_pem_forms_round_trip() {
        let n = [&[0xc1u8][..], &[0x5a; 255]].concat();
        let k = RsaKey { n: n.clone(), e: vec![1, 0, 1] };
        let ssh = format!("ssh-rsa {} user@host", data_encoding::BASE64.encode(&ssh_blob(&k)));
        let from_ssh = parse(&ssh).unwrap();
        assert_eq!((from_ssh.n.clone(), from_ssh.e.clone()), (n.clone(), vec![1, 0, 1]));
        let from_pem = parse(&pem(&k)).unwrap();
        assert_eq!(ssh_blob(&from_pem), ssh_blob(&k));
        assert!(parse("ssh-dss AAAA").is_err());
        assert!(parse("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----").is_err());
        assert!(parse(&format!("ssh-rsa {}", data_encoding::BASE64.encode(b"\0\0\0\x07ssh-rsa\0\0\xff"))).is_err());
    }
}
