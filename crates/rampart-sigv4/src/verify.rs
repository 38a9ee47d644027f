//! Signature checks against the secret, with a cache of derived signing keys.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::{digest, hmac};
use time::OffsetDateTime;

use crate::canonical::{canonical_request, string_to_sign};
use crate::chunked;
use crate::parse::{Auth, format_basic};
use crate::{MAX_SKEW, Request, SigV4Error, UNSIGNED_PAYLOAD};

/// Derives the SigV4 signing key: HMAC chain over date, region, service and `aws4_request`.
pub fn signing_key(secret: &[u8], date: &str, region: &str, service: &str) -> hmac::Key {
    let mut k_secret = Vec::with_capacity(secret.len() + 4);
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret);
    let mut key = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &k_secret), date.as_bytes());
    zeroize::Zeroize::zeroize(&mut k_secret);
    for part in [region, service, "aws4_request"] {
        key = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key.as_ref()), part.as_bytes());
    }
    hmac::Key::new(hmac::HMAC_SHA256, key.as_ref())
}

#[derive(Hash, PartialEq, Eq)]
struct CacheKey {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
}

struct CacheEntry {
    /// SHA-256 of the secret the key was derived from, so a changed secret never hits.
    secret_digest: [u8; 32],
    key: hmac::Key,
}

/// Most cached signing keys before the cache is emptied (one per key, day, region and service).
const CACHE_LIMIT: usize = 4096;

/// Verifies signatures. Holds the signing-key cache; cheap to share across threads.
#[derive(Default)]
pub struct Verifier {
    cache: Mutex<HashMap<CacheKey, CacheEntry>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl Verifier {
    pub fn new() -> Self {
        Self::default()
    }

    fn key(&self, auth: &Auth, secret: &[u8]) -> hmac::Key {
        let secret_digest = sha256(secret);
        let ck = CacheKey {
            access_key_id: auth.access_key_id.clone(),
            date: auth.scope.date.clone(),
            region: auth.scope.region.clone(),
            service: auth.scope.service.clone(),
        };
        if let Ok(cache) = self.cache.lock()
            && let Some(e) = cache.get(&ck)
            && e.secret_digest == secret_digest
        {
            return e.key.clone();
        }
        let key = signing_key(secret, &auth.scope.date, &auth.scope.region, &auth.scope.service);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(ck, CacheEntry { secret_digest, key: key.clone() });
        }
        key
    }

    /// Checks the request's time, scope date, payload hash and signature against `secret`.
    /// `s3` selects S3's rules (path signed as sent, unsigned and streaming payloads allowed).
    pub fn verify(
        &self,
        req: &Request<'_>,
        auth: &Auth,
        secret: &[u8],
        now: OffsetDateTime,
        s3: bool,
    ) -> Result<(), SigV4Error> {
        self.verify_as(req, auth, secret, now, s3, Body::Checked)
    }

    /// Checks an S3 request's signature before its body has arrived: the payload hash signed is
    /// `x-amz-content-sha256` as sent (which [`Verifier::verify`] then checks against the body),
    /// and a streaming body's chunk signatures wait for [`Verifier::verify`]. A request whose
    /// payload hash is not in its headers cannot be checked this way.
    pub fn verify_headers(
        &self,
        req: &Request<'_>,
        auth: &Auth,
        secret: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), SigV4Error> {
        self.verify_as(req, auth, secret, now, true, Body::NotYet)
    }

    fn verify_as(
        &self,
        req: &Request<'_>,
        auth: &Auth,
        secret: &[u8],
        now: OffsetDateTime,
        s3: bool,
        body: Body,
    ) -> Result<(), SigV4Error> {
        // An S3 POST form signs its policy, whose expiration bounds it (checked by the caller).
        // See <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-post-example.html>.
        if let Some(policy) = &auth.post_policy {
            if auth.amz_date.get(..8) != Some(auth.scope.date.as_str()) {
                return Err(SigV4Error::mismatch());
            }
            let key = self.key(auth, secret);
            return hmac::verify(&key, policy.as_bytes(), &auth.signature).map_err(|_| SigV4Error::mismatch());
        }
        check_time(auth, now)?;
        let date_part = auth.amz_date.get(..8).unwrap_or_default();
        if auth.scope.date != date_part {
            return Err(SigV4Error::SignatureDoesNotMatch(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{date_part}', from '{}'.",
                auth.scope.date, auth.amz_date
            )));
        }
        let payload_hash = match body {
            Body::Checked => payload_hash(req, auth, s3)?,
            Body::NotYet => match req.header("x-amz-content-sha256") {
                Some(h) => h.to_owned(),
                None if auth.presigned_expires.is_some() => UNSIGNED_PAYLOAD.to_owned(),
                None => return Err(SigV4Error::ContentSha256Mismatch),
            },
        };
        let canonical = canonical_request(req, auth, &payload_hash, s3)?;
        let sts = string_to_sign(auth, &canonical);
        let key = self.key(auth, secret);
        hmac::verify(&key, sts.as_bytes(), &auth.signature).map_err(|_| SigV4Error::mismatch())?;
        if matches!(body, Body::NotYet) {
            return Ok(());
        }
        // Signed streaming: the body's chunks are signed too, each chained from the request's.
        match chunked::Mode::of(&payload_hash) {
            Some(mode @ (chunked::Mode::Signed | chunked::Mode::SignedTrailer)) => {
                let prefix = format!("{}\n{}\n", auth.amz_date, auth.scope.to_scope_string());
                chunked::verify(req.body, mode, &key, &prefix, &auth.signature)
            }
            _ => Ok(()),
        }
    }
}

/// Whether a verification sees the body (its hash and chunk signatures checked) or not yet.
#[derive(Clone, Copy)]
enum Body {
    Checked,
    NotYet,
}

fn check_time(auth: &Auth, now: OffsetDateTime) -> Result<(), SigV4Error> {
    if auth.time - now > MAX_SKEW {
        return Err(SigV4Error::RequestExpired(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            auth.amz_date,
            format_basic(now + MAX_SKEW),
            format_basic(now)
        )));
    }
    match auth.presigned_expires {
        Some(secs) => {
            if now > auth.time + time::Duration::seconds(secs) {
                return Err(SigV4Error::PresignedUrlExpired);
            }
        }
        None => {
            if now - auth.time > MAX_SKEW {
                return Err(SigV4Error::RequestExpired(format!(
                    "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                    auth.amz_date,
                    format_basic(now - MAX_SKEW),
                    format_basic(now)
                )));
            }
        }
    }
    Ok(())
}

fn payload_hash(req: &Request<'_>, auth: &Auth, s3: bool) -> Result<String, SigV4Error> {
    let body_hash = || data_encoding::HEXLOWER.encode(&sha256(req.body));
    match req.header("x-amz-content-sha256") {
        Some(h) if h == UNSIGNED_PAYLOAD || h.starts_with("STREAMING-") => {
            if s3 {
                Ok(h.to_owned())
            } else {
                Err(SigV4Error::SignatureDoesNotMatch(format!(
                    "x-amz-content-sha256 value '{h}' is only accepted by S3"
                )))
            }
        }
        Some(h) => {
            let actual = body_hash();
            if h.eq_ignore_ascii_case(&actual) { Ok(h.to_owned()) } else { Err(SigV4Error::ContentSha256Mismatch) }
        }
        None if s3 && auth.presigned_expires.is_some() => Ok(UNSIGNED_PAYLOAD.to_owned()),
        None => Ok(body_hash()),
    }
}
