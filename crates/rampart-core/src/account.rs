//! Accounts, their root users and access keys: records, identifiers and the first-start bootstrap.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use rampart_store::{Db, Sealer, StoreError, Tx};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::ServiceError;
use crate::keys;
use crate::records::{decode, to_json};

/// The record of which account manages the installation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bootstrap {
    pub v: u32,
    pub management_account_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// An account and its root user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountRecord {
    pub v: u32,
    pub id: String,
    pub root_email: String,
    /// argon2id PHC string of the root user's password.
    pub root_password_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// Whom an access key belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum KeyOwner {
    Root { account_id: String },
    User { account_id: String, user_name: String, user_id: String },
}

impl KeyOwner {
    pub fn account_id(&self) -> &str {
        match self {
            KeyOwner::Root { account_id } | KeyOwner::User { account_id, .. } => account_id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    Active,
    Inactive,
}

/// An access key; the secret is sealed with the master key, bound to this record's key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    pub v: u32,
    pub id: String,
    pub owner: KeyOwner,
    pub status: KeyStatus,
    /// Base64 of the sealed secret.
    pub sealed_secret: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

impl AccessKeyRecord {
    /// Unseals the secret access key.
    pub fn secret(&self, sealer: &Sealer) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
        let sealed =
            data_encoding::BASE64.decode(self.sealed_secret.as_bytes()).map_err(|_| ServiceError::internal())?;
        sealer.open(&sealed, &keys::access_key(&self.id)).map_err(|e| {
            tracing::error!(access_key_id = %self.id, error = %e, "cannot unseal an access key secret");
            ServiceError::internal()
        })
    }
}

/// Access key ids use AWS's alphabet: upper-case letters and digits 2–7 (base32).
const ID_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn random_bytes<const N: usize>() -> Result<[u8; N], ServiceError> {
    let mut b = [0u8; N];
    SystemRandom::new().fill(&mut b).map_err(|_| ServiceError::internal())?;
    Ok(b)
}

/// An access key id for `account_id` (`AKIA…` long-term, `ASIA…` temporary), laid out as AWS lays
/// them out so that GetAccessKeyInfo can name the account of any key, stored or not: after the
/// prefix, 16 base32 characters carry 10 bytes; the first six, big-endian, hold a set top bit,
/// the 40-bit account id in bits 7–46 and random low bits; the last four are random.
/// See <https://docs.aws.amazon.com/STS/latest/APIReference/API_GetAccessKeyInfo.html>.
pub fn new_key_id(prefix: &str, account_id: &str) -> Result<String, ServiceError> {
    let account: u64 = account_id.parse().map_err(|_| ServiceError::internal())?;
    if account >= 1 << 40 {
        return Err(ServiceError::internal());
    }
    let random = random_bytes::<5>()?;
    let [low, r1, r2, r3, r4] = random;
    let head = (1u64 << 47) | (account << 7) | u64::from(low & 0x7f);
    let mut bytes = [0u8; 10];
    let (first, rest) = bytes.split_at_mut(6);
    first.copy_from_slice(head.to_be_bytes().get(2..).ok_or_else(ServiceError::internal)?);
    rest.copy_from_slice(&[r1, r2, r3, r4]);
    Ok(format!("{prefix}{}", data_encoding::BASE32_NOPAD.encode(&bytes)))
}

/// The account an access key id names (see [`new_key_id`]); `None` for a malformed id.
pub fn key_account(id: &str) -> Option<String> {
    let tail = id.get(4..).filter(|t| t.len() == 16)?;
    let bytes = data_encoding::BASE32_NOPAD.decode(tail.as_bytes()).ok()?;
    let mut head = [0u8; 8];
    head.get_mut(2..)?.copy_from_slice(bytes.get(..6)?);
    Some(format!("{:012}", (u64::from_be_bytes(head) & 0x7fff_ffff_ff80) >> 7))
}

/// A 21-character unique id (`AIDA…` users, `AROA…` roles, `ANPA…` policies), as IAM makes them.
pub fn new_unique_id(prefix: &str) -> Result<String, ServiceError> {
    let bytes = random_bytes::<24>()?;
    let tail: String = bytes
        .iter()
        .take(21usize.saturating_sub(prefix.len()))
        .filter_map(|b| ID_ALPHABET.get(usize::from(b % 32)).map(|c| char::from(*c)))
        .collect();
    Ok(format!("{prefix}{tail}"))
}

/// A 40-character secret access key (30 random bytes, base64 as AWS's secrets look).
pub fn new_secret() -> Result<Zeroizing<String>, ServiceError> {
    let bytes = Zeroizing::new(random_bytes::<30>()?);
    Ok(Zeroizing::new(data_encoding::BASE64.encode(bytes.as_ref())))
}

/// A random 12-digit account id that does not start with 0.
pub fn new_account_id() -> Result<String, ServiceError> {
    let b = random_bytes::<8>()?;
    let n = u64::from_le_bytes(b) % 900_000_000_000 + 100_000_000_000;
    Ok(n.to_string())
}

/// A generated password: 24 characters from letters, digits and symbols.
pub fn new_password() -> Result<Zeroizing<String>, ServiceError> {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!@#%^*-_+=";
    let b = Zeroizing::new(random_bytes::<24>()?);
    Ok(Zeroizing::new(
        b.iter().filter_map(|x| CHARS.get(usize::from(*x) % CHARS.len()).map(|c| char::from(*c))).collect(),
    ))
}

/// Hashes a password as an argon2id PHC string.
pub fn hash_password(password: &str) -> Result<String, ServiceError> {
    use argon2::password_hash::PasswordHasher;
    let salt = random_bytes::<16>()?;
    argon2::Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ServiceError::internal())
}

/// Whether `password` matches an argon2id PHC string (constant-time comparison inside argon2).
pub fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    use argon2::password_hash::phc::PasswordHash;
    PasswordHash::new(phc).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// What the first start created; the secrets are shown once and never stored in clear.
pub struct Bootstrapped {
    pub account_id: String,
    pub root_email: String,
    pub root_password: Zeroizing<String>,
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
}

/// Creates an account with its root user and one root access key, inside `tx`.
pub fn create_account(
    tx: &mut Tx<'_>,
    sealer: &Sealer,
    account_id: &str,
    root_email: &str,
    password_hash: String,
    now: OffsetDateTime,
) -> Result<(String, Zeroizing<String>), ServiceError> {
    let account = AccountRecord {
        v: 1,
        id: account_id.to_owned(),
        root_email: root_email.to_owned(),
        root_password_hash: password_hash,
        created: now,
    };
    if !tx.insert_new(&keys::account(account_id), &to_json(&account)?)? {
        return Err(ServiceError::new("EntityAlreadyExists", 409, format!("account {account_id} already exists")));
    }
    let (id, secret) = create_access_key(tx, sealer, KeyOwner::Root { account_id: account_id.to_owned() }, now)?;
    tx.put(&keys::root_key(account_id, &id), b"")?;
    Ok((id, secret))
}

/// Creates an access key for `owner` and returns its id and secret.
pub fn create_access_key(
    tx: &mut Tx<'_>,
    sealer: &Sealer,
    owner: KeyOwner,
    now: OffsetDateTime,
) -> Result<(String, Zeroizing<String>), ServiceError> {
    // 40 random bits per account: a clash is rare but possible, and is retried, never overwritten.
    for _ in 0..8 {
        let id = new_key_id("AKIA", owner.account_id())?;
        let secret = new_secret()?;
        let sealed = sealer.seal(secret.as_bytes(), &keys::access_key(&id)).map_err(|_| ServiceError::internal())?;
        let rec = AccessKeyRecord {
            v: 1,
            id: id.clone(),
            owner: owner.clone(),
            status: KeyStatus::Active,
            sealed_secret: data_encoding::BASE64.encode(&sealed),
            created: now,
        };
        if tx.insert_new(&keys::access_key(&id), &to_json(&rec)?)? {
            return Ok((id, secret));
        }
    }
    Err(ServiceError::internal())
}

/// Runs the first-start bootstrap when the store has none; returns what it created, or `None`
/// when the store was bootstrapped before.
pub async fn bootstrap(
    db: &Db,
    sealer: std::sync::Arc<Sealer>,
    account_id: Option<String>,
    root_email: String,
) -> Result<Option<Bootstrapped>, ServiceError> {
    if db.get(keys::BOOTSTRAP)?.is_some() {
        return Ok(None);
    }
    let account_id = match account_id {
        Some(a) => a,
        None => new_account_id()?,
    };
    let password = new_password()?;
    let hash = hash_password(&password)?;
    let now = OffsetDateTime::now_utc();
    let acct = account_id.clone();
    let email = root_email.clone();
    let created = db
        .transact(move |tx| -> Result<_, ServiceError> {
            if tx.get(keys::BOOTSTRAP)?.is_some() {
                return Ok(None);
            }
            let keys_created = create_account(tx, &sealer, &acct, &email, hash, now)?;
            let marker = Bootstrap { v: 1, management_account_id: acct.clone(), created: now };
            tx.put(keys::BOOTSTRAP, &to_json(&marker)?)?;
            Ok(Some(keys_created))
        })
        .await
        .map_err(|e| match e {
            rampart_store::TxError::Aborted(e) => e,
            rampart_store::TxError::Store(e) => e.into(),
        })?;
    Ok(created.map(|(access_key_id, secret_access_key)| Bootstrapped {
        account_id,
        root_email,
        root_password: password,
        access_key_id,
        secret_access_key,
    }))
}

/// What the master-key check found.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyCheckError {
    /// The store's data was sealed with another key.
    #[error("the master key does not open this store's data: it is not the key the data was sealed with")]
    Mismatch,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for MasterKeyCheckError {
    fn from(e: StoreError) -> Self {
        Self::Service(e.into())
    }
}

/// The constant the master-key check seals.
const KEY_CHECK_PLAINTEXT: &[u8] = b"rampart master key check v1";

/// Whether the store holds anything sealed with a master key: it was bootstrapped.
pub fn store_has_data(db: &Db) -> Result<bool, ServiceError> {
    Ok(db.get(keys::BOOTSTRAP)?.is_some())
}

/// Checks that `sealer` holds the key this store's secrets were sealed with, and records the
/// check value when the store has none: a new store, or one from before the check existed,
/// whose access keys' secrets are then the proof.
pub async fn check_master_key(db: &Db, sealer: std::sync::Arc<Sealer>) -> Result<(), MasterKeyCheckError> {
    let opens = |sealed: &[u8]| {
        sealer.open(sealed, keys::MASTER_KEY_CHECK).is_ok_and(|plain| plain.as_slice() == KEY_CHECK_PLAINTEXT)
    };
    let has_data = store_has_data(db)?;
    if let Some(sealed) = db.get(keys::MASTER_KEY_CHECK)? {
        // A check written by a start that never bootstrapped guards nothing yet: it is replaced.
        if opens(&sealed) {
            return Ok(());
        } else if has_data {
            return Err(MasterKeyCheckError::Mismatch);
        }
    }
    // A store from before the check: any access key's secret must open.
    if let Some((_, bytes)) = db.scan_prefix(b"akey/", None, 1, false)?.into_iter().next() {
        let rec: AccessKeyRecord = decode(b"akey/", &bytes)?;
        let sealed =
            data_encoding::BASE64.decode(rec.sealed_secret.as_bytes()).map_err(|_| ServiceError::internal())?;
        if sealer.open(&sealed, &keys::access_key(&rec.id)).is_err() {
            return Err(MasterKeyCheckError::Mismatch);
        }
    }
    let sealed = sealer.seal(KEY_CHECK_PLAINTEXT, keys::MASTER_KEY_CHECK).map_err(|_| ServiceError::internal())?;
    db.transact(move |tx| -> Result<(), ServiceError> {
        // Two starts at once: the first check written stands, and the other is checked against it.
        if tx.get(keys::MASTER_KEY_CHECK)?.is_none() || tx.get(keys::BOOTSTRAP)?.is_none() {
            tx.put(keys::MASTER_KEY_CHECK, &sealed)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| match e {
        rampart_store::TxError::Aborted(e) => e,
        rampart_store::TxError::Store(e) => e.into(),
    })?;
    let stored = db.get(keys::MASTER_KEY_CHECK)?.ok_or_else(ServiceError::internal)?;
    if opens(&stored) { Ok(()) } else { Err(MasterKeyCheckError::Mismatch) }
}

/// Makes sure the dev-mode account exists (no keys: dev mode accepts any unknown key as its root).
pub async fn ensure_dev_account(db: &Db, account_id: &str) -> Result<(), ServiceError> {
    if db.get(&keys::account(account_id))?.is_some() {
        return Ok(());
    }
    let hash = hash_password(&new_password()?)?;
    let rec = AccountRecord {
        v: 1,
        id: account_id.to_owned(),
        root_email: "dev@rampart.local".into(),
        root_password_hash: hash,
        created: OffsetDateTime::now_utc(),
    };
    let bytes = to_json(&rec)?;
    let key = keys::account(account_id);
    db.transact(move |tx| tx.insert_new(&key, &bytes).map(|_| ())).await.map_err(|e| match e {
        rampart_store::TxError::Aborted(e) | rampart_store::TxError::Store(e) => ServiceError::from(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_look_like_aws() {
        assert_eq!(new_secret().unwrap().len(), 40);
        let acct = new_account_id().unwrap();
        assert_eq!(acct.len(), 12);
        assert!(acct.bytes().all(|b| b.is_ascii_digit()));
        let id = new_key_id("AKIA", &acct).unwrap();
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("AKIA") && id.bytes().all(|b| ID_ALPHABET.contains(&b)));
        assert_ne!(new_key_id("AKIA", &acct).unwrap(), id);
    }

    #[test]
    fn key_ids_carry_their_account() {
        // A key id AWS issued, decoded as AWS packs it.
        assert_eq!(key_account("ASIAY34FZKBOKMUTVV7A").as_deref(), Some("609629065308"));
        for acct in ["000000000001", "123456789012", "999999999999", "609629065308"] {
            for prefix in ["AKIA", "ASIA"] {
                let id = new_key_id(prefix, acct).unwrap();
                assert_eq!(key_account(&id).as_deref(), Some(acct), "{id}");
                // Like AWS's, the first character after the prefix has the top bit set.
                assert!(matches!(id.as_bytes()[4], b'Q'..=b'Z' | b'2'..=b'7'), "{id}");
            }
        }
        assert!(new_key_id("AKIA", "1099511627776").is_err());
        assert!(new_key_id("AKIA", "not-a-number").is_err());
        for bad in ["", "AKIA", "AKIAshort", "AKIA0000000000000000", "AKIAQQQQQQQQQQQQQQQQQ"] {
            assert_eq!(key_account(bad), None, "{bad}");
        }
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsf", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}
