//! AWS KMS: keys whose material never leaves Rampart unsealed, used through Encrypt, Decrypt,
//! data keys, signatures and MACs, and governed by key policies — the root of access to a key,
//! IAM policies counting only where a key policy delegates to the account.
//!
//! Keys are regional records (`rampart_core::keys::kms_key`), their material sealed under the
//! master key per material version; [`access`] tells the pipeline which key (and policy) each
//! request is decided on.
//! See <https://docs.aws.amazon.com/kms/latest/developerguide/overview.html>.

use std::sync::Arc;

use rampart_core::{Principal, ServiceError, keys, records};
use rampart_shapes::{Shape, Value};
use rampart_store::{Db, Sealer, Tx};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::Zeroizing;

mod aliases;
pub mod crypto;
mod grants;
mod import;
mod key_stores;
mod keys_api;
mod managed;
mod multi_region;
mod usage;
mod use_api;
mod via;

pub use aliases::*;
pub use grants::*;
pub use import::*;
pub use key_stores::*;
pub use keys_api::*;
pub use managed::*;
pub use multi_region::*;
pub use usage::*;
pub use use_api::*;
pub use via::*;

use crypto::Spec;

/// One version of a key's material, sealed under the master key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Material {
    /// 64 hex characters, as AWS's `KeyMaterialId`.
    pub id: String,
    /// Base64 of the sealed material; empty once imported material is deleted or has expired
    /// (the version stays, so that the same material can be imported again).
    pub sealed: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// `AUTOMATIC` or `ON_DEMAND` for a rotation's material; `None` for the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<String>,
    /// When imported material expires (KEY_MATERIAL_EXPIRES); `None` for material that does not.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<OffsetDateTime>,
    /// Imported material waiting for RotateKeyOnDemand to make it current (PENDING_ROTATION).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending_rotation: bool,
    /// The description given when the material was imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Material {
    /// Whether the material is in Rampart (imported material may have been deleted or expired).
    pub fn present(&self) -> bool {
        !self.sealed.is_empty()
    }
}

/// A KMS key, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub v: u32,
    pub id: String,
    pub account: String,
    pub region: String,
    pub spec: String,
    pub usage: String,
    pub origin: String,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// `Enabled`, `Disabled` or `PendingDeletion`.
    pub state: String,
    /// When a key pending deletion is destroyed, and the window it was given.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub deletion: Option<OffsetDateTime>,
    #[serde(default)]
    pub pending_days: Option<i32>,
    /// Every version of the material, oldest first; the last is current.
    pub materials: Vec<Material>,
    pub policy: String,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Automatic rotation's period, when it is on.
    #[serde(default)]
    pub rotation_days: Option<i32>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_rotation: Option<OffsetDateTime>,
    #[serde(default)]
    pub multi_region: bool,
    /// A multi-Region key's primary Region, and the Regions of its replicas (kept the same on the
    /// primary and every replica).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replica_regions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<grants::Grant>,
    /// A replica being made (state `Creating`): when it is ready, and the state it then has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creating: Option<Creating>,
    /// An AWS managed key (`alias/aws/s3`), made by KMS for a service (see [`managed_key`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub aws_managed: bool,
    /// The key policy with the grants as statements, derived when the record is read.
    #[serde(skip)]
    pub effective: String,
}

/// A replica key's transient Creating state: ReplicateKey answers with the replica still being
/// made, and it becomes usable (Enabled, or PendingImport for imported material) moments later,
/// as in AWS, where clients wait for it (Terraform's `aws_kms_replica_key` polls DescribeKey).
/// See <https://docs.aws.amazon.com/kms/latest/APIReference/API_ReplicateKey.html>.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Creating {
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    pub then: String,
}

impl KeyRecord {
    pub fn arn(&self) -> String {
        key_arn(&self.region, &self.account, &self.id)
    }

    pub fn spec(&self) -> Result<Spec, ServiceError> {
        Spec::parse(&self.spec).ok_or_else(ServiceError::internal)
    }

    /// The material new ciphertexts, signatures and MACs are made with: the newest that is not
    /// waiting for a rotation.
    fn current(&self) -> Result<&Material, ServiceError> {
        self.materials.iter().rev().find(|m| !m.pending_rotation).ok_or_else(ServiceError::internal)
    }

    /// The context a material version is sealed under: a sealed material moved to another key
    /// or version does not open.
    fn seal_context(&self, material: &str) -> Vec<u8> {
        format!("rampart/kms/key-material/{}/{material}", self.arn()).into_bytes()
    }

    /// A material version, unsealed (zeroized when dropped).
    fn unseal(&self, sealer: &Sealer, m: &Material) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
        if !m.present() {
            return Err(invalid_state(format!("{} is pending import.", self.arn())));
        }
        let sealed = data_encoding::BASE64.decode(m.sealed.as_bytes()).map_err(|_| ServiceError::internal())?;
        sealer.open(&sealed, &self.seal_context(&m.id)).map_err(|_| ServiceError::internal())
    }

    /// Seals new material as a version of this key.
    fn seal(
        &self,
        sealer: &Sealer,
        material: &[u8],
        now: OffsetDateTime,
        rotation: Option<&str>,
    ) -> Result<Material, ServiceError> {
        let id = data_encoding::HEXLOWER.encode(&crypto::random_bytes(crypto::MATERIAL_ID_LEN).map_err(crypto_error)?);
        Ok(Material {
            sealed: self.seal_as(sealer, &id, material)?,
            id,
            created: now,
            rotation: rotation.map(str::to_owned),
            valid_to: None,
            pending_rotation: false,
            description: None,
        })
    }

    /// Seals material as the version `id`: base64 of the sealed bytes.
    fn seal_as(&self, sealer: &Sealer, id: &str, material: &[u8]) -> Result<String, ServiceError> {
        let sealed = sealer.seal(material, &self.seal_context(id)).map_err(|_| ServiceError::internal())?;
        Ok(data_encoding::BASE64.encode(&sealed))
    }
}

/// The algorithms a key offers for its usage, as DescribeKey and GetPublicKey list them.
#[derive(Debug, Default)]
pub(crate) struct Algorithms {
    pub encryption: Option<Vec<String>>,
    pub signing: Option<Vec<String>>,
    pub mac: Option<Vec<String>>,
    pub agreement: Option<Vec<String>>,
}

impl Algorithms {
    pub(crate) fn of(key: &KeyRecord) -> Self {
        let Some(spec) = Spec::parse(&key.spec) else { return Self::default() };
        let list = |l: &[&str]| (!l.is_empty()).then(|| l.iter().map(|s| (*s).to_owned()).collect());
        match key.usage.as_str() {
            "ENCRYPT_DECRYPT" => Self { encryption: list(spec.encryption_algorithms()), ..Self::default() },
            "SIGN_VERIFY" => Self { signing: list(spec.signing_algorithms()), ..Self::default() },
            "GENERATE_VERIFY_MAC" => Self { mac: list(spec.mac_algorithms()), ..Self::default() },
            "KEY_AGREEMENT" => Self { agreement: list(spec.key_agreement_algorithms()), ..Self::default() },
            _ => Self::default(),
        }
    }
}

pub fn key_arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{id}")
}

/// The key a ciphertext names, as seen from `region`: a multi-Region key's ciphertext made in
/// another Region opens with the related key of this Region, which has the same id and material.
/// See <https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-overview.html>.
pub fn key_here(blob_arn: &str, region: &str) -> String {
    let parts: Vec<&str> = blob_arn.splitn(6, ':').collect();
    match parts.as_slice() {
        [_, partition, "kms", from, account, resource]
            if *from != region && resource.strip_prefix("key/").is_some_and(|id| id.starts_with("mrk-")) =>
        {
            format!("arn:{partition}:kms:{region}:{account}:{resource}")
        }
        _ => blob_arn.to_owned(),
    }
}

pub fn alias_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:{name}")
}

/// An alias, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasRecord {
    /// `alias/…`.
    pub name: String,
    pub target: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
}

fn not_found(what: impl std::fmt::Display) -> ServiceError {
    ServiceError::new("NotFoundException", 400, format!("{what} does not exist"))
}

fn validation(message: impl Into<String>) -> ServiceError {
    ServiceError::new("ValidationException", 400, message)
}

fn unsupported(message: impl Into<String>) -> ServiceError {
    ServiceError::new("UnsupportedOperationException", 400, message)
}

fn invalid_state(message: impl Into<String>) -> ServiceError {
    ServiceError::new("KMSInvalidStateException", 400, message)
}

fn crypto_error(e: crypto::CryptoError) -> ServiceError {
    match e {
        crypto::CryptoError::InvalidCiphertext => ServiceError::new("InvalidCiphertextException", 400, ""),
        crypto::CryptoError::UnsupportedAlgorithm => {
            ServiceError::new("InvalidKeyUsageException", 400, "The algorithm is not valid for this key.")
        }
        crypto::CryptoError::BadDigest => validation("Digest is invalid length for algorithm."),
        crypto::CryptoError::TooLong => validation("Plaintext is too long for the key and encryption algorithm."),
        crypto::CryptoError::IncorrectMaterial => ServiceError::new(
            "IncorrectKeyMaterialException",
            400,
            "The key material is not valid for the key spec of the KMS key.",
        ),
        crypto::CryptoError::BadPublicKey => {
            validation("PublicKey must be a DER-encoded X.509 public key on the curve of the KMS key.")
        }
        crypto::CryptoError::Internal => ServiceError::internal(),
    }
}

/// How a request names a key: by id, key ARN, alias name or alias ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    Key { region: String, account: String, id: String },
    Alias { region: String, account: String, name: String },
}

/// Reads a `KeyId` in the caller's account and region (an ARN may name another account).
pub fn parse_key_ref(key_id: &str, account: &str, region: &str) -> Result<KeyRef, ServiceError> {
    if let Some(rest) = key_id.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [_partition, service, arn_region, arn_account, resource] = parts.as_slice() else {
            return Err(not_found(format!("Invalid arn {key_id}")));
        };
        if *service != "kms" || arn_account.len() != 12 || !arn_account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_found(format!("Invalid arn {key_id}")));
        }
        let (region, account) = ((*arn_region).to_owned(), (*arn_account).to_owned());
        if let Some(id) = resource.strip_prefix("key/") {
            return Ok(KeyRef::Key { region, account, id: id.to_owned() });
        }
        if resource.starts_with("alias/") {
            return Ok(KeyRef::Alias { region, account, name: (*resource).to_owned() });
        }
        return Err(not_found(format!("Invalid arn {key_id}")));
    }
    if key_id.starts_with("alias/") {
        return Ok(KeyRef::Alias { region: region.to_owned(), account: account.to_owned(), name: key_id.to_owned() });
    }
    Ok(KeyRef::Key { region: region.to_owned(), account: account.to_owned(), id: key_id.to_owned() })
}

/// Key records, decoded once per version of their bytes (their JSON holds a policy full of
/// escapes), with their effective policy derived. They hold sealed material only.
static DECODED: std::sync::LazyLock<records::Decoded<KeyRecord>> = std::sync::LazyLock::new(Default::default);

/// A key record, decoded once per version of its bytes.
fn key_record(get: &records::Reader<'_>, key: &[u8]) -> Result<Option<Arc<KeyRecord>>, ServiceError> {
    DECODED.read_with(get, key, |record| record.effective = grants::effective_policy(record))
}

/// The key a reference names; `None` when there is none. A key whose deletion date has passed is
/// gone (the sweeper destroys its record and material).
fn lookup(get: &records::Reader<'_>, r: &KeyRef, now: OffsetDateTime) -> Result<Option<Arc<KeyRecord>>, ServiceError> {
    let (region, account, id) = match r {
        KeyRef::Key { region, account, id } => (region, account, id.clone()),
        KeyRef::Alias { region, account, name } => {
            let Some(a) = records::read_with::<AliasRecord>(get, &keys::kms_alias(account, region, name))? else {
                return Ok(None);
            };
            (region, account, a.target)
        }
    };
    let key = key_record(get, &keys::kms_key(account, region, &id))?;
    Ok(key.filter(|k| k.deletion.is_none_or(|d| d > now)).map(|k| settled(k, now)))
}

/// A key as it is at `now`: a replica whose creation has finished has its final state (written
/// with the key's next change).
fn settled(key: Arc<KeyRecord>, now: OffsetDateTime) -> Arc<KeyRecord> {
    match &key.creating {
        Some(c) if key.state == "Creating" && c.until <= now => {
            let mut ready = KeyRecord::clone(&key);
            ready.state = c.then.clone();
            ready.creating = None;
            Arc::new(ready)
        }
        _ => key,
    }
}

/// The key a `KeyId` names for `principal`: the caller's own, or — for the operations KMS allows
/// across accounts — another account's by its ARN.
/// See <https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html>.
fn find(
    get: &records::Reader<'_>,
    principal: &Principal,
    region: &str,
    key_id: &str,
    across_accounts: bool,
    now: OffsetDateTime,
) -> Result<Arc<KeyRecord>, ServiceError> {
    let r = parse_key_ref(key_id, &principal.account_id, region)?;
    let (r_account, r_region) = match &r {
        KeyRef::Key { account, region, .. } | KeyRef::Alias { account, region, .. } => (account, region),
    };
    let named = match &r {
        KeyRef::Key { region, account, id } => format!("Key '{}'", key_arn(region, account, id)),
        KeyRef::Alias { region, account, name } => format!("Alias '{}'", alias_arn(region, account, name)),
    };
    if r_region != region || (!across_accounts && *r_account != principal.account_id) {
        return Err(not_found(named));
    }
    lookup(get, &r, now)?.ok_or_else(|| not_found(named))
}

/// A key usable for cryptography: enabled, and of the usage the operation needs.
fn usable(key: &KeyRecord, usage: &str) -> Result<(), ServiceError> {
    match key.state.as_str() {
        "Enabled" => {}
        "Disabled" => return Err(ServiceError::new("DisabledException", 400, format!("{} is disabled.", key.arn()))),
        "PendingDeletion" => return Err(invalid_state(format!("{} is pending deletion.", key.arn()))),
        "PendingImport" => return Err(invalid_state(format!("{} is pending import.", key.arn()))),
        "Creating" => return Err(invalid_state(format!("{} is being created.", key.arn()))),
        "PendingReplicaDeletion" => {
            return Err(invalid_state(format!("{} is pending replica deletion.", key.arn())));
        }
        other => return Err(invalid_state(format!("{} is {other}.", key.arn()))),
    }
    if key.usage != usage {
        return Err(ServiceError::new(
            "InvalidKeyUsageException",
            400,
            format!("{} key usage is {} which is not valid for this operation.", key.arn(), key.usage),
        ));
    }
    Ok(())
}

/// One authorization a KMS request needs: an action on a resource, with its condition keys and,
/// for a key, the key's policy (the root of its access).
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    pub action: String,
    pub resource: String,
    pub keys: Vec<(String, Vec<String>)>,
    pub key_policy: Option<String>,
}

fn context_pairs(input: &Value, shape: &'static Shape, member: &str) -> Vec<(String, String)> {
    match input.field(shape, member) {
        Some((_, Value::Map(entries))) => entries
            .iter()
            .filter_map(|(k, v)| if let Value::String(s) = v { Some((k.clone(), s.clone())) } else { None })
            .collect(),
        _ => Vec::new(),
    }
}

/// The condition keys a key lends a request: `kms:KeySpec`, `kms:KeyUsage`, `kms:KeyOrigin`,
/// `kms:MultiRegion` and its tags.
fn key_keys(key: &KeyRecord, out: &mut Vec<(String, Vec<String>)>) {
    out.push(("kms:KeySpec".into(), vec![key.spec.clone()]));
    out.push(("kms:KeyUsage".into(), vec![key.usage.clone()]));
    out.push(("kms:KeyOrigin".into(), vec![key.origin.clone()]));
    out.push(("kms:MultiRegion".into(), vec![key.multi_region.to_string()]));
    for (k, v) in &key.tags {
        out.push((format!("aws:ResourceTag/{k}"), vec![v.clone()]));
    }
}

/// `kms:EncryptionContext:KEY` for each pair and `kms:EncryptionContextKeys`.
fn context_keys(pairs: &[(String, String)], out: &mut Vec<(String, Vec<String>)>) {
    for (k, v) in pairs {
        out.push((format!("kms:EncryptionContext:{k}"), vec![v.clone()]));
    }
    if !pairs.is_empty() {
        out.push(("kms:EncryptionContextKeys".into(), pairs.iter().map(|(k, _)| k.clone()).collect()));
    }
}

/// What a KMS request must be allowed: the action on the key it names (with the key's policy),
/// or on `*` for the operations without a key; condition keys from the request and the key.
/// A key that does not exist is decided on the ARN it would have, without a policy; its handler
/// then answers NotFoundException.
/// See <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html>.
pub fn access(
    db: &Db,
    principal: &Principal,
    region: &str,
    operation: &str,
    input: &Value,
    shape: Option<&'static Shape>,
    now: OffsetDateTime,
) -> Result<Vec<Access>, ServiceError> {
    let get = records::cached_reader(db);
    let string = |m: &str| shape.and_then(|s| input.string_field(s, m)).map(str::to_owned);
    let mut common = vec![("kms:CallerAccount".to_owned(), vec![principal.account_id.clone()])];
    if let Some(s) = shape {
        for member in ["EncryptionContext", "DestinationEncryptionContext"] {
            context_keys(&context_pairs(input, s, member), &mut common);
        }
        for (member, key) in [
            ("EncryptionAlgorithm", "kms:EncryptionAlgorithm"),
            ("SigningAlgorithm", "kms:SigningAlgorithm"),
            ("MacAlgorithm", "kms:MacAlgorithm"),
            ("MessageType", "kms:MessageType"),
            ("KeyAgreementAlgorithm", "kms:KeyAgreementAlgorithm"),
            ("WrappingAlgorithm", "kms:WrappingAlgorithm"),
            ("WrappingKeySpec", "kms:WrappingKeySpec"),
            ("ExpirationModel", "kms:ExpirationModel"),
        ] {
            if let Some(v) = string(member) {
                common.push((key.into(), vec![v]));
            }
        }
        if let Some(Value::Bool(b)) = input.field(s, "BypassPolicyLockoutSafetyCheck").map(|(_, v)| v) {
            common.push(("kms:BypassPolicyLockoutSafetyCheck".into(), vec![b.to_string()]));
        }
    }
    let on_key = |action: &str, key_id: &str, common: &[(String, Vec<String>)]| -> Result<Access, ServiceError> {
        let r = parse_key_ref(key_id, &principal.account_id, region)?;
        let mut keys = common.to_vec();
        if let KeyRef::Alias { name, .. } = &r {
            keys.push(("kms:RequestAlias".into(), vec![name.clone()]));
        }
        let found = lookup(&get, &r, now)?;
        let resource = match (&found, &r) {
            (Some(k), _) => k.arn(),
            (None, KeyRef::Key { region, account, id }) => key_arn(region, account, id),
            (None, KeyRef::Alias { region, account, name }) => alias_arn(region, account, name),
        };
        if let Some(k) = &found {
            key_keys(k, &mut keys);
            let aliases = aliases::aliases_of(&get, k)?;
            if !aliases.is_empty() {
                keys.push(("kms:ResourceAliases".into(), aliases));
            }
        }
        Ok(Access { action: format!("kms:{action}"), resource, keys, key_policy: found.map(|k| k.effective.clone()) })
    };
    let blob_key = |member: &str| -> Option<String> {
        match shape.and_then(|s| input.field(s, member)) {
            Some((_, Value::Blob(b))) => crypto::blob_header(b).map(|(h, _)| key_here(h.key_arn, region)),
            _ => None,
        }
    };
    let everywhere = |action: &str, mut keys: Vec<(String, Vec<String>)>| {
        if let Some(s) = shape {
            request_tags(input, s, &mut keys);
        }
        Access { action: format!("kms:{action}"), resource: "*".into(), keys, key_policy: None }
    };
    Ok(match operation {
        "CreateKey" => {
            let mut keys = common;
            for (member, key) in [("KeySpec", "kms:KeySpec"), ("KeyUsage", "kms:KeyUsage"), ("Origin", "kms:KeyOrigin")]
            {
                if let Some(v) = string(member) {
                    keys.push((key.into(), vec![v]));
                }
            }
            vec![everywhere("CreateKey", keys)]
        }
        "ListKeys" | "ListAliases" | "GenerateRandom" => vec![everywhere(operation, common)],
        "CreateAlias" | "UpdateAlias" | "DeleteAlias" => {
            let name = string("AliasName").unwrap_or_default();
            let mut out = vec![Access {
                action: format!("kms:{operation}"),
                resource: alias_arn(region, &principal.account_id, &name),
                keys: common.clone(),
                key_policy: None,
            }];
            // The key the alias leaves, and the one it comes to.
            let current =
                records::read_with::<AliasRecord>(&get, &keys::kms_alias(&principal.account_id, region, &name))?;
            if let Some(a) = current.filter(|_| operation != "CreateAlias") {
                out.push(on_key(operation, &a.target, &common)?);
            }
            if let Some(target) = string("TargetKeyId") {
                out.push(on_key(operation, &target, &common)?);
            }
            out
        }
        "Decrypt" => {
            let named = string("KeyId").or_else(|| blob_key("CiphertextBlob"));
            match named {
                Some(k) => vec![on_key("Decrypt", &k, &common)?],
                None => vec![everywhere("Decrypt", common)],
            }
        }
        // A grant's retiring principal (and its grantee, when it allows RetireGrant) may retire
        // it, whatever the key policy says.
        "RetireGrant" => {
            let (key_id, grant_id) = grants::retiring(
                string("GrantToken").as_deref(),
                string("KeyId").as_deref(),
                string("GrantId").as_deref(),
            )?;
            let mut a = on_key("RetireGrant", &key_id, &common)?;
            if let Some(k) = lookup(&get, &parse_key_ref(&key_id, &principal.account_id, region)?, now)?
                && let Some(g) = k.grants.iter().find(|g| g.id == grant_id)
            {
                a.key_policy = Some(grants::with_statements(&k.effective, grants::retire_statements(g)));
            }
            vec![a]
        }
        "CreateGrant" => {
            let mut a = on_key("CreateGrant", &string("KeyId").unwrap_or_default(), &common)?;
            if let Some(s) = shape
                && let Some((_, Value::List(ops))) = input.field(s, "Operations")
            {
                let ops = ops.iter().filter_map(|v| if let Value::String(o) = v { Some(o.clone()) } else { None });
                a.keys.push(("kms:GrantOperations".into(), ops.collect()));
            }
            for (member, key) in
                [("GranteePrincipal", "kms:GranteePrincipal"), ("RetiringPrincipal", "kms:RetiringPrincipal")]
            {
                if let Some(v) = string(member) {
                    a.keys.push((key.into(), vec![v]));
                }
            }
            a.keys.push(("kms:GrantIsForAWSResource".into(), vec!["false".into()]));
            vec![a]
        }
        // The primary key's policy must allow ReplicateKey; making the replica is CreateKey (and
        // TagResource for its tags) under IAM in the replica's Region.
        "ReplicateKey" => {
            let mut keys = common.clone();
            if let Some(r) = string("ReplicaRegion") {
                keys.push(("kms:ReplicaRegion".into(), vec![r]));
            }
            let mut out = vec![on_key("ReplicateKey", &string("KeyId").unwrap_or_default(), &keys)?];
            out.push(everywhere("CreateKey", keys.clone()));
            if shape.is_some_and(|s| input.field(s, "Tags").is_some()) {
                out.push(everywhere("TagResource", keys));
            }
            out
        }
        // Both the primary key and the replica that becomes primary must allow it.
        "UpdatePrimaryRegion" => {
            let key_id = string("KeyId").unwrap_or_default();
            let to = string("PrimaryRegion").unwrap_or_default();
            let mut keys = common.clone();
            keys.push(("kms:PrimaryRegion".into(), vec![to.clone()]));
            let primary = on_key("UpdatePrimaryRegion", &key_id, &keys)?;
            let id = primary.resource.rsplit('/').next().unwrap_or_default().to_owned();
            let replica = on_key("UpdatePrimaryRegion", &key_arn(&to, &principal.account_id, &id), &keys)?;
            vec![primary, replica]
        }
        "ReEncrypt" => {
            let from = string("SourceKeyId").or_else(|| blob_key("CiphertextBlob"));
            let mut out = Vec::new();
            if let Some(k) = from {
                out.push(on_key("ReEncryptFrom", &k, &common)?);
            }
            out.push(on_key("ReEncryptTo", &string("DestinationKeyId").unwrap_or_default(), &common)?);
            out
        }
        _ => match string("KeyId") {
            Some(k) => {
                let mut a = on_key(operation, &k, &common)?;
                if let Some(s) = shape {
                    request_tags(input, s, &mut a.keys);
                }
                vec![a]
            }
            None => vec![everywhere(operation, common)],
        },
    })
}

/// `aws:RequestTag/KEY` and `aws:TagKeys` from a request's `Tags` (`TagKey`/`TagValue` in KMS)
/// and `TagKeys`.
fn request_tags(input: &Value, shape: &'static Shape, out: &mut Vec<(String, Vec<String>)>) {
    let mut keys = Vec::new();
    if let Some((list_shape, Value::List(items))) = input.field(shape, "Tags")
        && let rampart_shapes::Kind::List(l) = &list_shape.kind
    {
        for t in items {
            if let (Some(k), Some(v)) = (t.string_field(l.member, "TagKey"), t.string_field(l.member, "TagValue")) {
                out.push((format!("aws:RequestTag/{k}"), vec![v.to_owned()]));
                keys.push(k.to_owned());
            }
        }
    }
    if let Some((_, Value::List(items))) = input.field(shape, "TagKeys") {
        keys.extend(items.iter().filter_map(|v| if let Value::String(s) = v { Some(s.clone()) } else { None }));
    }
    if !keys.is_empty() {
        out.push(("aws:TagKeys".into(), keys));
    }
}

/// Writes key uses noted in this node's memory (see [`pending_usage`]); what [`sweep`] does
/// first, for nodes of a cluster that do not sweep.
pub fn write_usage(tx: &mut Tx<'_>, uses: &[(Vec<u8>, Usage)]) -> Result<(), ServiceError> {
    usage::write(tx, uses)
}

/// Writes the key uses noted since the last run, destroys the keys whose deletion date has
/// passed — their records, sealed material, aliases and usage — and imported material whose
/// expiry has passed, and rotates the keys whose automatic rotation is due. The server runs it in
/// the background, on one node of a cluster.
pub fn sweep(
    tx: &mut Tx<'_>,
    sealer: &Sealer,
    now: OffsetDateTime,
    uses: &[(Vec<u8>, Usage)],
) -> Result<usize, ServiceError> {
    usage::write(tx, uses)?;
    aliases::build_index(tx)?;
    let due_now = |k: &KeyRecord| {
        k.deletion.is_some_and(|d| d <= now) || k.next_rotation.is_some_and(|r| r <= now) || import::expires(k, now)
    };
    let due: Vec<Vec<u8>> = tx
        .scan_prefix(keys::KMS_RECORDS, None, usize::MAX >> 1, false)?
        .iter()
        // Only key records (`kms/ACCOUNT/REGION/key/ID`): the prefix also holds aliases, usage
        // and the alias index, which are not keys and must not be decoded (and logged) as such.
        .filter(|(k, _)| k.split(|b| *b == b'/').nth(3) == Some(b"key"))
        .filter(|(k, v)| records::decode::<KeyRecord>(k, v).is_ok_and(|r| due_now(&r)))
        .map(|(k, _)| k.clone())
        .collect();
    let mut done = 0;
    for store_key in due {
        // Read again: handling one key of a multi-Region set may have changed another.
        let Some(mut key) = records::read_tx::<KeyRecord>(tx, &store_key)?.filter(due_now) else { continue };
        if key.deletion.is_some_and(|d| d <= now) {
            aliases::delete_aliases_of(tx, &key)?;
            tx.delete(&keys::kms_key(&key.account, &key.region, &key.id))?;
            usage::forget(tx, &key)?;
            multi_region::leave_set(tx, &key, now)?;
            done += 1;
        } else if import::expire(&mut key, now) {
            keys_api::write_key(tx, &key)?;
            done += 1;
        } else if key.state == "Enabled" && !multi_region::is_replica(&key) {
            // A multi-Region key rotates in its primary Region; its replicas get the new material.
            keys_api::rotate(&mut key, sealer, now, "AUTOMATIC")?;
            keys_api::write_key(tx, &key)?;
            multi_region::sync_related(tx, sealer, &key)?;
            done += 1;
        }
    }
    Ok(done)
}

use rampart_core::actions::{Action, Target, row};

/// KMS's operations. Their resources are resolved by [`access`] (a key by id, ARN, alias or
/// ciphertext, with its key policy), so every row names `*` here.
/// See <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html>.
pub static ACTIONS: &[Action] = &[
    row("CancelKeyDeletion", &[Target::All], &[]),
    row("ConnectCustomKeyStore", &[Target::All], &[]),
    row("CreateAlias", &[Target::All], &[]),
    row("CreateCustomKeyStore", &[Target::All], &[]),
    row("CreateGrant", &[Target::All], &[]),
    row("CreateKey", &[Target::All], &[]),
    row("Decrypt", &[Target::All], &[]),
    row("DeleteAlias", &[Target::All], &[]),
    row("DeleteCustomKeyStore", &[Target::All], &[]),
    row("DeleteImportedKeyMaterial", &[Target::All], &[]),
    row("DeriveSharedSecret", &[Target::All], &[]),
    row("DescribeCustomKeyStores", &[Target::All], &[]),
    row("DescribeKey", &[Target::All], &[]),
    row("DisableKey", &[Target::All], &[]),
    row("DisableKeyRotation", &[Target::All], &[]),
    row("DisconnectCustomKeyStore", &[Target::All], &[]),
    row("EnableKey", &[Target::All], &[]),
    row("EnableKeyRotation", &[Target::All], &[]),
    row("Encrypt", &[Target::All], &[]),
    row("GenerateDataKey", &[Target::All], &[]),
    row("GenerateDataKeyPair", &[Target::All], &[]),
    row("GenerateDataKeyPairWithoutPlaintext", &[Target::All], &[]),
    row("GenerateDataKeyWithoutPlaintext", &[Target::All], &[]),
    row("GenerateMac", &[Target::All], &[]),
    row("GenerateRandom", &[Target::All], &[]),
    row("GetKeyLastUsage", &[Target::All], &[]),
    row("GetKeyPolicy", &[Target::All], &[]),
    row("GetKeyRotationStatus", &[Target::All], &[]),
    row("GetParametersForImport", &[Target::All], &[]),
    row("GetPublicKey", &[Target::All], &[]),
    row("ImportKeyMaterial", &[Target::All], &[]),
    row("ListAliases", &[Target::All], &[]),
    row("ListGrants", &[Target::All], &[]),
    row("ListKeyPolicies", &[Target::All], &[]),
    row("ListKeyRotations", &[Target::All], &[]),
    row("ListKeys", &[Target::All], &[]),
    row("ListResourceTags", &[Target::All], &[]),
    row("ListRetirableGrants", &[Target::All], &[]),
    row("PutKeyPolicy", &[Target::All], &[]),
    row("ReEncrypt", &[Target::All], &[]),
    row("ReplicateKey", &[Target::All], &[]),
    row("RetireGrant", &[Target::All], &[]),
    row("RevokeGrant", &[Target::All], &[]),
    row("RotateKeyOnDemand", &[Target::All], &[]),
    row("ScheduleKeyDeletion", &[Target::All], &[]),
    row("Sign", &[Target::All], &[]),
    row("TagResource", &[Target::All], &[]),
    row("UntagResource", &[Target::All], &[]),
    row("UpdateAlias", &[Target::All], &[]),
    row("UpdateCustomKeyStore", &[Target::All], &[]),
    row("UpdateKeyDescription", &[Target::All], &[]),
    row("UpdatePrimaryRegion", &[Target::All], &[]),
    row("Verify", &[Target::All], &[]),
    row("VerifyMac", &[Target::All], &[]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_references_are_ids_arns_and_aliases() {
        let r = |s: &str| parse_key_ref(s, "111122223333", "us-east-1");
        assert_eq!(
            r("1234abcd-12ab-34cd-56ef-1234567890ab").ok(),
            Some(KeyRef::Key {
                region: "us-east-1".into(),
                account: "111122223333".into(),
                id: "1234abcd-12ab-34cd-56ef-1234567890ab".into()
            })
        );
        assert_eq!(
            r("arn:aws:kms:eu-west-1:444455556666:key/k").ok(),
            Some(KeyRef::Key { region: "eu-west-1".into(), account: "444455556666".into(), id: "k".into() })
        );
        assert_eq!(
            r("alias/app").ok(),
            Some(KeyRef::Alias {
                region: "us-east-1".into(),
                account: "111122223333".into(),
                name: "alias/app".into()
            })
        );
        assert_eq!(
            r("arn:aws:kms:us-east-1:444455556666:alias/app").ok(),
            Some(KeyRef::Alias {
                region: "us-east-1".into(),
                account: "444455556666".into(),
                name: "alias/app".into()
            })
        );
        for bad in
            ["arn:aws:s3:::b", "arn:aws:kms:us-east-1:12:key/k", "arn:aws:kms:us-east-1:111122223333:thing/x", "arn:"]
        {
            assert_eq!(r(bad).map_err(|e| e.code), Err("NotFoundException".into()), "{bad}");
        }
    }
}
