//! Server-side encryption of object bytes: SSE-S3 (sealed under Rampart's master key), SSE-KMS (a
//! data key per object from Rampart's KMS, bound to the object's ARN — or the bucket's, with S3
//! Bucket Keys — by the encryption context) and DSSE-KMS (both layers). What a write asks, or
//! the bucket's default, decides; reading opens whatever the version was written with.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html>.

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use md5::Digest as _;
use rampart_core::ServiceError;
use rampart_core::records::Reader;
use rampart_kms::KeyRecord;
use rampart_store::Sealer;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::{BucketRecord, invalid_argument};

/// How an SSE-KMS version's data key was made: the KMS key, the data key encrypted under it, and
/// the encryption context it is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsEnvelope {
    pub key_arn: String,
    /// The data key's ciphertext blob, base64.
    pub data_key: String,
    pub context: Vec<(String, String)>,
    pub bucket_key: bool,
}

/// The encryption a write gets.
pub(crate) struct Plan {
    pub algorithm: String,
    pub key: Option<Arc<KeyRecord>>,
    pub context: Vec<(String, String)>,
    pub bucket_key: bool,
    /// SSE-C: the caller's own key, sent with the request and never kept.
    pub customer: Option<CustomerKey>,
    /// SSE-KMS under the AWS managed key, which KMS makes on first use: `key` is `None` until
    /// [`Plan::make_managed_key`] makes it.
    pub managed: bool,
}

/// The AWS managed key S3 uses when a write asks for SSE-KMS without naming a key.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#aws-managed-customer-managed-keys>.
const MANAGED_ALIAS: &str = "alias/aws/s3";

impl Plan {
    /// SSE-S3: Rampart's own key.
    pub(crate) fn sse_s3() -> Self {
        Self {
            algorithm: "AES256".to_owned(),
            key: None,
            context: Vec::new(),
            bucket_key: false,
            customer: None,
            managed: false,
        }
    }

    /// Makes the AWS managed key (`alias/aws/s3`) in the writer's account and the bucket's Region
    /// when the plan needs it and it does not exist yet, inside the write's transaction.
    pub(crate) fn make_managed_key(
        &mut self,
        tx: &mut rampart_store::Tx<'_>,
        ctx: &rampart_core::TxCtx<'_>,
        region: &str,
    ) -> Result<(), ServiceError> {
        if self.managed && self.key.is_none() {
            let key =
                rampart_kms::managed_key(tx, ctx.sealer, ctx.principal, region, "s3", ctx.now).map_err(from_kms)?;
            self.key = Some(key);
        }
        Ok(())
    }

    /// SSE-C: the caller's key (under Rampart's own as well, as every stored byte is).
    pub(crate) fn sse_c(key: CustomerKey) -> Self {
        Self { customer: Some(key), ..Self::sse_s3() }
    }

    /// What the new version or upload keeps to recognise its customer key, if it has one.
    pub(crate) fn customer_check(&self) -> Result<Option<CustomerKeyCheck>, ServiceError> {
        self.customer.as_ref().map(CustomerKey::check).transpose()
    }
}

/// An SSE-C key, as a request's three headers give it: `AES256`, the key (base64 of 256 bits) and
/// the key's MD5 (base64), which must agree. S3 keeps neither the key nor its MD5 in the clear
/// beside the data: only a salted HMAC to recognise it (and the MD5, which it answers).
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html>.
pub(crate) struct CustomerKey {
    key: Zeroizing<Vec<u8>>,
    pub md5: String,
}

/// What a version (or upload) written with SSE-C keeps: the key's MD5 (answered back to readers)
/// and HMAC-SHA256 of the key under a random salt (checked in constant time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerKeyCheck {
    pub md5: String,
    salt: String,
    mac: String,
}

fn mac(salt: &[u8], key: &[u8]) -> Vec<u8> {
    let salt = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, salt);
    aws_lc_rs::hmac::sign(&salt, key).as_ref().to_vec()
}

impl CustomerKey {
    /// Reads the SSE-C headers of a request (`None` when it sends none), refusing any that are
    /// incomplete or disagree, as S3 does.
    pub(crate) fn from_headers(
        algorithm: Option<&str>,
        key: Option<&str>,
        md5: Option<&str>,
    ) -> Result<Option<Self>, ServiceError> {
        if algorithm.is_none() && key.is_none() && md5.is_none() {
            return Ok(None);
        }
        let Some(algorithm) = algorithm else {
            return Err(invalid_argument(
                "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
            ));
        };
        if algorithm != "AES256" {
            return Err(invalid_argument("The encryption algorithm specified is not valid: it must be AES256."));
        }
        let Some(key) = key else {
            return Err(invalid_argument(
                "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
            ));
        };
        let key = Zeroizing::new(
            data_encoding::BASE64
                .decode(key.as_bytes())
                .ok()
                .filter(|k| k.len() == 32)
                .ok_or_else(|| invalid_argument("The secret key was invalid for the specified algorithm."))?,
        );
        let computed = data_encoding::BASE64.encode(md5::Md5::digest(key.as_slice()).as_slice());
        let Some(md5) = md5 else {
            return Err(invalid_argument(
                "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
            ));
        };
        if aws_lc_rs::constant_time::verify_slices_are_equal(md5.as_bytes(), computed.as_bytes()).is_err() {
            return Err(invalid_argument(
                "The calculated MD5 hash of the key did not match the hash that was provided.",
            ));
        }
        Ok(Some(Self { key, md5: computed }))
    }

    fn check(&self) -> Result<CustomerKeyCheck, ServiceError> {
        let mut salt = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| ServiceError::internal())?;
        Ok(CustomerKeyCheck {
            md5: self.md5.clone(),
            salt: data_encoding::BASE64.encode(&salt),
            mac: data_encoding::BASE64.encode(&mac(&salt, &self.key)),
        })
    }

    fn is(&self, check: &CustomerKeyCheck) -> bool {
        let (Ok(salt), Ok(expected)) =
            (data_encoding::BASE64.decode(check.salt.as_bytes()), data_encoding::BASE64.decode(check.mac.as_bytes()))
        else {
            return false;
        };
        aws_lc_rs::constant_time::verify_slices_are_equal(&mac(&salt, &self.key), &expected).is_ok()
    }
}

/// Whether the customer key a read sends opens what was written: the same key where the version
/// (or upload) has one, none where it has none.
pub(crate) fn customer_matches(
    kept: Option<&CustomerKeyCheck>,
    given: Option<&CustomerKey>,
) -> Result<(), ServiceError> {
    match (kept, given) {
        (None, None) => Ok(()),
        (Some(check), Some(key)) if key.is(check) => Ok(()),
        (Some(_), Some(_)) => Err(ServiceError::access_denied(
            "The customer-provided key does not match the key the object was encrypted with.",
        )),
        (Some(_), None) => Err(ServiceError::new(
            "InvalidRequest",
            400,
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
        )),
        (None, Some(_)) => Err(ServiceError::new(
            "InvalidRequest",
            400,
            "The encryption parameters are not applicable to this object.",
        )),
    }
}

/// S3 passes KMS's errors on under its own name: `KMS.DisabledException`, `KMS.NotFoundException`.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>.
pub(crate) fn from_kms(e: ServiceError) -> ServiceError {
    if e.status >= 500 || e.code == "AccessDenied" {
        return e;
    }
    ServiceError { code: format!("KMS.{}", e.code).into(), ..e }
}

/// What a write to `key` asks for (its headers), else the bucket's default.
pub(crate) struct Asked<'a> {
    pub algorithm: Option<&'a str>,
    pub key_id: Option<&'a str>,
    /// `x-amz-server-side-encryption-context`: base64 of a JSON object.
    pub context: Option<&'a str>,
    pub bucket_key: Option<bool>,
}

/// Decides a write's encryption. An SSE-KMS write names its key, or the bucket's default does,
/// or it gets the AWS managed key `aws/s3`.
pub(crate) fn plan(
    get: &Reader<'_>,
    b: &BucketRecord,
    object_key: &str,
    asked: &Asked<'_>,
    (account, region): (&str, &str),
    now: OffsetDateTime,
) -> Result<Plan, ServiceError> {
    let (default_alg, default_key, default_bucket_key) = match &b.encryption {
        Some((alg, key, bk)) => (alg.as_str(), key.as_deref(), *bk),
        None => ("AES256", None, false),
    };
    let algorithm = asked.algorithm.unwrap_or(default_alg);
    if asked.key_id.is_some() && asked.algorithm.is_none() {
        return Err(invalid_argument(
            "Server Side Encryption with KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
        ));
    }
    match algorithm {
        "AES256" => {
            if asked.key_id.is_some() || asked.context.is_some() {
                return Err(invalid_argument(
                    "x-amz-server-side-encryption-aws-kms-key-id is only applicable with aws:kms or aws:kms:dsse",
                ));
            }
            Ok(Plan::sse_s3())
        }
        "aws:kms" | "aws:kms:dsse" => {
            // The bucket's default key goes with the bucket's default algorithm only; with none
            // named, the AWS managed key (made on first use, see `Plan::make_managed_key`).
            let key_id = asked.key_id.or(default_key.filter(|_| default_alg == algorithm));
            let key = match key_id {
                Some(id) => {
                    Some(rampart_kms::key_for_service(get, account, region, id, now)?.ok_or_else(|| {
                        ServiceError::new("KMS.NotFoundException", 400, format!("Invalid keyId '{id}'"))
                    })?)
                }
                None => rampart_kms::key_for_service(get, account, region, MANAGED_ALIAS, now)?,
            };
            let bucket_key = asked.bucket_key.unwrap_or(default_bucket_key) && algorithm == "aws:kms";
            let arn = if bucket_key {
                format!("arn:aws:s3:::{}", b.name)
            } else {
                format!("arn:aws:s3:::{}/{object_key}", b.name)
            };
            let mut context = user_context(asked.context)?;
            context.retain(|(k, _)| k != "aws:s3:arn");
            context.push(("aws:s3:arn".to_owned(), arn));
            context.sort();
            Ok(Plan {
                algorithm: algorithm.to_owned(),
                key,
                context,
                bucket_key,
                customer: None,
                managed: key_id.is_none(),
            })
        }
        other => Err(invalid_argument(&format!("The encryption method specified is not supported: {other}"))),
    }
}

/// The caller's own encryption context: base64 of a JSON object of strings.
pub(crate) fn user_context(header: Option<&str>) -> Result<Vec<(String, String)>, ServiceError> {
    let Some(h) = header else { return Ok(Vec::new()) };
    let bad = || invalid_argument("The encryption context is not valid: it must be base64 of a JSON object of strings");
    let json = data_encoding::BASE64.decode(h.as_bytes()).map_err(|_| bad())?;
    let map: std::collections::BTreeMap<String, String> = serde_json::from_slice(&json).map_err(|_| bad())?;
    Ok(map.into_iter().collect())
}

fn aead(key: &[u8]) -> Result<LessSafeKey, ServiceError> {
    Ok(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| ServiceError::internal())?))
}

/// The keys one version's (or one upload's) chunks are sealed and opened with: Rampart's own
/// (SSE-S3), a KMS data key (SSE-KMS), or both (DSSE-KMS).
pub(crate) struct Sealing<'a> {
    sealer: &'a Sealer,
    keys: Keys,
}

/// A sealing's own keys, without Rampart's: what a download read after its answer keeps.
#[derive(Clone)]
pub(crate) struct Keys {
    data_key: Option<Arc<LessSafeKey>>,
    dsse: bool,
}

impl Keys {
    const OWN: Keys = Keys { data_key: None, dsse: false };

    fn of(data_key: &[u8], dsse: bool) -> Result<Self, ServiceError> {
        Ok(Keys { data_key: Some(Arc::new(aead(data_key)?)), dsse })
    }

    /// The sealing these keys make with Rampart's.
    pub(crate) fn with<'a>(&self, sealer: &'a Sealer) -> Sealing<'a> {
        Sealing { sealer, keys: self.clone() }
    }
}

impl Plan {
    /// Starts sealing a new version or upload: a fresh data key under the KMS key (SSE-KMS), and
    /// the envelope to keep with it.
    pub(crate) fn begin<'a>(&self, sealer: &'a Sealer) -> Result<(Sealing<'a>, Option<KmsEnvelope>), ServiceError> {
        if let Some(c) = &self.customer {
            return Ok((c.sealing(sealer)?, None));
        }
        let Some(key) = &self.key else { return Ok((Keys::OWN.with(sealer), None)) };
        let (data_key, blob) = rampart_kms::generate_data_key_via(sealer, key, &self.context).map_err(from_kms)?;
        let envelope = KmsEnvelope {
            key_arn: key.arn(),
            data_key: data_encoding::BASE64.encode(&blob),
            context: self.context.clone(),
            bucket_key: self.bucket_key,
        };
        let sealing = Keys::of(&data_key, self.algorithm == "aws:kms:dsse")?.with(sealer);
        Ok((sealing, Some(envelope)))
    }
}

impl CustomerKey {
    /// SSE-C's sealing: the customer's key inside, Rampart's own outside (as DSSE-KMS layers its
    /// two), so the bytes at rest need both.
    fn sealing<'a>(&self, sealer: &'a Sealer) -> Result<Sealing<'a>, ServiceError> {
        Ok(Keys::of(&self.key, true)?.with(sealer))
    }
}

/// The sealing of an existing version or upload: the customer's key it was written with (which the
/// request must send), its KMS data key opened (the key must still be usable), or Rampart's own.
pub(crate) fn sealing<'a>(
    get: &Reader<'_>,
    sealer: &'a Sealer,
    region: &str,
    (algorithm, kms): (Option<&str>, Option<&KmsEnvelope>),
    (kept, given): (Option<&CustomerKeyCheck>, Option<&CustomerKey>),
    now: OffsetDateTime,
) -> Result<Sealing<'a>, ServiceError> {
    customer_matches(kept, given)?;
    if let Some(c) = given {
        return c.sealing(sealer);
    }
    let Some(env) = kms else { return Ok(Keys::OWN.with(sealer)) };
    let blob = data_encoding::BASE64.decode(env.data_key.as_bytes()).map_err(|_| ServiceError::internal())?;
    let data_key = rampart_kms::decrypt_via(get, sealer, region, &blob, &env.context, now).map_err(from_kms)?;
    Ok(Keys::of(&data_key, algorithm == Some("aws:kms:dsse"))?.with(sealer))
}

impl Sealing<'_> {
    /// The keys, to open the same bytes later.
    pub(crate) fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Seals one chunk stored at `at` (its store key, bound in as associated data).
    pub(crate) fn seal(&self, at: &[u8], plain: &[u8]) -> Result<Vec<u8>, ServiceError> {
        let Some(key) = &self.keys.data_key else {
            return self.sealer.seal(plain, at).map_err(|_| ServiceError::internal());
        };
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| ServiceError::internal())?;
        let mut out = Vec::with_capacity(NONCE_LEN + plain.len() + AES_256_GCM.tag_len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let (_, body) = out.split_at_mut(NONCE_LEN);
        let tag = key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(at), body)
            .map_err(|_| ServiceError::internal())?;
        out.extend_from_slice(tag.as_ref());
        // DSSE-KMS: a second, independent layer under Rampart's own key.
        if self.keys.dsse {
            return self.sealer.seal(&out, at).map_err(|_| ServiceError::internal());
        }
        Ok(out)
    }

    /// Opens one chunk stored at `at`.
    pub(crate) fn open(&self, at: &[u8], stored: &[u8]) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
        let Some(key) = &self.keys.data_key else {
            return self.sealer.open(stored, at).map_err(|_| ServiceError::internal());
        };
        let outer;
        let inner: &[u8] = if self.keys.dsse {
            outer = self.sealer.open(stored, at).map_err(|_| ServiceError::internal())?;
            &outer
        } else {
            stored
        };
        let (nonce, sealed) = inner.split_at_checked(NONCE_LEN).ok_or_else(ServiceError::internal)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| ServiceError::internal())?;
        let mut buf = Zeroizing::new(sealed.to_vec());
        let len = key.open_in_place(nonce, Aad::from(at), &mut buf).map_err(|_| ServiceError::internal())?.len();
        buf.truncate(len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_context_must_be_base64_json_of_strings() {
        let ok = data_encoding::BASE64.encode(br#"{"team":"cafe"}"#);
        assert_eq!(user_context(Some(&ok)).unwrap(), [("team".to_owned(), "cafe".to_owned())]);
        for bad in ["not base64!", &data_encoding::BASE64.encode(b"[1]"), &data_encoding::BASE64.encode(br#"{"a":1}"#)]
        {
            assert_eq!(user_context(Some(bad)).unwrap_err().code, "InvalidArgument", "{bad}");
        }
    }

    #[test]
    fn a_customer_key_is_aes256_of_256_bits_with_its_md5_and_recognised_by_its_check() {
        let raw = [7u8; 32];
        let key = data_encoding::BASE64.encode(&raw);
        let md5 = data_encoding::BASE64.encode(md5::Md5::digest(raw).as_slice());
        let k = CustomerKey::from_headers(Some("AES256"), Some(&key), Some(&md5)).unwrap().unwrap();
        assert!(CustomerKey::from_headers(None, None, None).unwrap().is_none());
        let short = data_encoding::BASE64.encode(&[7u8; 16]);
        for (alg, key, md5) in [
            (Some("AES128"), Some(key.as_str()), Some(md5.as_str())),
            (None, Some(key.as_str()), Some(md5.as_str())),
            (Some("AES256"), None, Some(md5.as_str())),
            (Some("AES256"), Some(key.as_str()), None),
            (Some("AES256"), Some(short.as_str()), Some(md5.as_str())),
            (Some("AES256"), Some(key.as_str()), Some("AAAAAAAAAAAAAAAAAAAAAA==")),
        ] {
            assert_eq!(CustomerKey::from_headers(alg, key, md5).err().map(|e| e.code), Some("InvalidArgument".into()));
        }
        let check = k.check().unwrap();
        assert_eq!(check.md5, md5);
        assert!(!check.mac.contains(&key) && k.check().unwrap().salt != check.salt, "salted, never the key");
        assert!(customer_matches(Some(&check), Some(&k)).is_ok());
        let other = [8u8; 32];
        let other = CustomerKey::from_headers(
            Some("AES256"),
            Some(&data_encoding::BASE64.encode(&other)),
            Some(&data_encoding::BASE64.encode(md5::Md5::digest(other).as_slice())),
        )
        .unwrap()
        .unwrap();
        assert_eq!(customer_matches(Some(&check), Some(&other)).unwrap_err().code, "AccessDenied");
        assert_eq!(customer_matches(Some(&check), None).unwrap_err().code, "InvalidRequest");
        assert_eq!(customer_matches(None, Some(&k)).unwrap_err().code, "InvalidRequest");
    }

    #[test]
    fn kms_errors_keep_their_status_under_s3s_name() {
        let e = from_kms(ServiceError::new("DisabledException", 400, "k is disabled."));
        assert_eq!((e.code.as_ref(), e.status), ("KMS.DisabledException", 400));
        assert_eq!(from_kms(ServiceError::internal()).status, 500);
    }
}
