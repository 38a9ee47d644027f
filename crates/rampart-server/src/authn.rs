//! Authentication: a SigV4-signed request → the principal behind its access key.

use rampart_core::account::{AccessKeyRecord, KeyOwner, KeyStatus};
use rampart_core::{Principal, keys};
use rampart_iam::sts::SessionClaims;
use rampart_sigv4::{Auth, Request, SigV4Error};
use time::OffsetDateTime;

use crate::app::App;
use rampart_core::ServiceError;

/// Why authentication failed: a SigV4 error, or a failure inside Rampart.
#[derive(Debug)]
pub enum AuthnError {
    SigV4(SigV4Error),
    Internal,
    /// The store cannot be reached now (the client gets a 503 and may retry).
    Unavailable(ServiceError),
    /// Dev mode: the account an unknown key names has no dev user yet (its first use, or after a
    /// reset or a deletion); the caller creates it and authenticates again.
    DevUserMissing(String),
}

impl From<SigV4Error> for AuthnError {
    fn from(e: SigV4Error) -> Self {
        Self::SigV4(e)
    }
}

/// Temporary credentials: the session token is the sealed session; its key id must match, it must
/// not have expired, and the request must be signed with the session's secret.
fn authenticate_session(
    app: &App,
    req: &Request<'_>,
    auth: &Auth,
    now: OffsetDateTime,
    headers_only: bool,
) -> Result<Principal, AuthnError> {
    let token = auth.security_token.as_deref().ok_or(SigV4Error::InvalidClientTokenId)?;
    let claims = app.sessions.open(&app.sealer, &auth.access_key_id, token).ok_or(SigV4Error::InvalidClientTokenId)?;
    if claims.access_key_id != auth.access_key_id {
        return Err(SigV4Error::InvalidClientTokenId.into());
    }
    verify(app, req, auth, claims.secret.as_bytes(), now, headers_only)?;
    if now >= claims.expires {
        return Err(SigV4Error::ExpiredToken.into());
    }
    let principal = claims.principal();
    if let Some(session) = &principal.session {
        note_role_use(app, &session.role_id, auth, now);
    }
    Ok(principal)
}

/// Records a role session's request as the role's last use (GetRole's `RoleLastUsed`), at most
/// once a minute per role, like an access key's last use.
fn note_role_use(app: &App, role_id: &str, auth: &Auth, now: OffsetDateTime) {
    if !first_this_minute(app, role_id, now) {
        return;
    }
    let used = rampart_iam::iam::RoleLastUsed { date: Some(now), region: Some(auth.scope.region.clone()) };
    if let Ok(v) = serde_json::to_vec(&used) {
        let _ = app.db.put_later(vec![(keys::role_last_used(role_id), v)]);
    }
}

/// Notes a user's or role session's attempt at an action as the entity's last access to it
/// (IAM's last accessed information), at most once a minute per entity and action. The common
/// case — already noted this minute — costs a hash and a map lookup, no allocation (two pairs
/// sharing a hash only delay a note by up to a minute).
pub fn note_access(app: &App, principal: &Principal, action: &str, region: &str, now: OffsetDateTime) {
    use std::hash::{Hash, Hasher};
    let Some(entity) = rampart_iam::iam::access_entity(principal) else { return };
    let mut h = std::hash::DefaultHasher::new();
    (entity, action).hash(&mut h);
    let minute = now.unix_timestamp() / 60;
    {
        let Ok(mut seen) = app.access_use.lock() else { return };
        if seen.insert(h.finish(), minute) == Some(minute) {
            return;
        }
        if seen.len() > 100_000 {
            seen.clear();
        }
    }
    let key = rampart_iam::iam::access_record(&principal.account_id, entity, action);
    let used = rampart_iam::iam::AccessUse { date: now, region: region.to_owned() };
    if let Ok(v) = serde_json::to_vec(&used) {
        let _ = app.db.put_later(vec![(key, v)]);
    }
}

/// Whether `id` (an access key's or a role's) is seen for the first time this minute.
fn first_this_minute(app: &App, id: &str, now: OffsetDateTime) -> bool {
    let minute = now.unix_timestamp() / 60;
    let Ok(mut seen) = app.key_use.lock() else { return true };
    if seen.get(id) == Some(&minute) {
        return false;
    }
    if seen.len() > 100_000 {
        seen.clear();
    }
    seen.insert(id.to_owned(), minute);
    true
}

/// Opened session tokens by access key id, so a session's requests open its token once: the
/// token (base64, AES-GCM, JSON) costs more than the rest of authenticating a request. An entry
/// is used only for the very same token (compared in constant time); expiry is checked on every
/// request from the claims, so a cached session expires exactly as an uncached one.
#[derive(Default)]
pub struct SessionCache {
    map: std::sync::Mutex<std::collections::HashMap<String, (String, std::sync::Arc<SessionClaims>)>>,
}

/// Sessions kept opened; past this the cache starts over (sessions are cheap to reopen).
const SESSION_CACHE_MAX: usize = 10_000;

impl SessionCache {
    fn open(&self, sealer: &rampart_store::Sealer, key_id: &str, token: &str) -> Option<std::sync::Arc<SessionClaims>> {
        let lock = || self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((cached, claims)) = lock().get(key_id)
            && cached.len() == token.len()
            && aws_lc_rs::constant_time::verify_slices_are_equal(cached.as_bytes(), token.as_bytes()).is_ok()
        {
            return Some(claims.clone());
        }
        let claims = std::sync::Arc::new(rampart_iam::sts::open_token(sealer, token)?);
        if claims.access_key_id == key_id {
            let mut map = lock();
            if map.len() >= SESSION_CACHE_MAX {
                map.clear();
            }
            map.insert(key_id.to_owned(), (token.to_owned(), claims.clone()));
        }
        Some(claims)
    }
}

/// Records when and where a key was used (GetAccessKeyLastUsed), at most once a minute per key,
/// with the next group commit: last-used is informative, not state that must survive a crash.
fn note_use(app: &App, key_id: &str, auth: &Auth, now: OffsetDateTime) {
    if !first_this_minute(app, key_id, now) {
        return;
    }
    let used = rampart_iam::iam::KeyLastUsed {
        date: now,
        service: auth.scope.service.clone(),
        region: auth.scope.region.clone(),
    };
    if let Ok(v) = serde_json::to_vec(&used) {
        let _ = app.db.put_later(vec![(keys::key_last_used(key_id), v)]);
    }
}

/// Access keys, decoded once per version of their records (their secrets stay sealed).
static ACCESS_KEYS: std::sync::LazyLock<rampart_core::records::Decoded<AccessKeyRecord>> =
    std::sync::LazyLock::new(Default::default);

/// Resolves and verifies the signer of `req`.
/// A failure to read what authentication needs: the store's absence, or Rampart's own failure.
fn failed(e: ServiceError) -> AuthnError {
    if e.status == 503 { AuthnError::Unavailable(e) } else { AuthnError::Internal }
}

pub fn authenticate(app: &App, req: &Request<'_>, auth: &Auth, now: OffsetDateTime) -> Result<Principal, AuthnError> {
    authenticate_as(app, req, auth, now, false)
}

/// Whether an S3 request's signer is known and its signature holds, from its headers alone
/// (before its body arrives; [`authenticate`] checks the whole request after).
pub fn authenticates_before_body(app: &App, req: &Request<'_>, auth: &Auth, now: OffsetDateTime) -> bool {
    auth.scope.service == "s3" && authenticate_headers(app, req, auth, now).is_ok()
}

/// Authenticates an S3 request from its headers alone (see [`authenticates_before_body`]).
pub fn authenticate_headers(
    app: &App,
    req: &Request<'_>,
    auth: &Auth,
    now: OffsetDateTime,
) -> Result<Principal, AuthnError> {
    authenticate_as(app, req, auth, now, true)
}

fn verify(
    app: &App,
    req: &Request<'_>,
    auth: &Auth,
    secret: &[u8],
    now: OffsetDateTime,
    headers_only: bool,
) -> Result<(), SigV4Error> {
    if headers_only {
        app.verifier.verify_headers(req, auth, secret, now)
    } else {
        app.verifier.verify(req, auth, secret, now, auth.scope.service == "s3")
    }
}

fn authenticate_as(
    app: &App,
    req: &Request<'_>,
    auth: &Auth,
    now: OffsetDateTime,
    headers_only: bool,
) -> Result<Principal, AuthnError> {
    if auth.access_key_id.starts_with("ASIA") {
        return authenticate_session(app, req, auth, now, headers_only);
    }
    let record = ACCESS_KEYS.read(&app.db, &keys::access_key(&auth.access_key_id)).map_err(failed)?;
    let Some(record) = record else {
        if app.config.dev {
            // Dev mode: any key Rampart did not issue acts as the dev account's administrator user,
            // or, when the key id is 12 digits, that account's (as LocalStack reads such keys); its
            // signature cannot be checked because Rampart never knew its secret.
            let id = &auth.access_key_id;
            let account = if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
                id.as_str()
            } else {
                app.config.dev_account_id.as_str()
            };
            let user = rampart_iam::iam::read_user(&app.db, account, rampart_iam::iam::DEV_USER).map_err(failed)?;
            return match user {
                Some(u) => Ok(u.principal(Some(id.clone()))),
                None => Err(AuthnError::DevUserMissing(account.to_owned())),
            };
        }
        return Err(SigV4Error::InvalidClientTokenId.into());
    };
    if record.status != KeyStatus::Active {
        return Err(SigV4Error::InvalidClientTokenId.into());
    }
    // Long-term keys carry no session token; a token with one is not a valid credential.
    if auth.security_token.is_some() {
        return Err(SigV4Error::InvalidClientTokenId.into());
    }
    let secret = record.secret(&app.sealer).map_err(|_| AuthnError::Internal)?;
    verify(app, req, auth, &secret, now, headers_only)?;
    note_use(app, &record.id, auth, now);
    match &record.owner {
        KeyOwner::Root { account_id } => Ok(Principal::root(account_id, Some(record.id.clone()))),
        KeyOwner::User { account_id, user_name, user_id } => {
            // The key's user must still exist (and be the same user, not a new one with its name).
            let user = rampart_iam::iam::read_user(&app.db, account_id, user_name).map_err(failed)?;
            match user {
                Some(u) if u.id == *user_id => Ok(u.principal(Some(record.id.clone()))),
                _ => Err(SigV4Error::InvalidClientTokenId.into()),
            }
        }
    }
}
