//! The request pipeline: protocol → signature → operation → input → authorization → handler →
//! response, and an audit event for every request, whatever its outcome.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use rampart_cloudtrail::{self, REDACTED, UserIdentity};
use rampart_core::partition;
use rampart_core::{Ctx, Principal, ServiceError, TxCtx};
use rampart_iam::authz;
use rampart_iam::authz::Authorizer;
use rampart_shapes::{Operation, Protocol, Service, Value};
use rampart_sigv4::{SigV4Error, Verifier, chunked};
use rampart_store::{Db, Sealer, TxError};
use rampart_wire::query::Params;
use rampart_wire::{Dispatch as Wire, WireError, json, query, restxml};
use time::OffsetDateTime;

use crate::audit::{self, Draft, Origin};
use crate::authn::{AuthnError, authenticate};
use crate::config::Config;
use crate::dispatch::{Dispatch, Handler, ReadFn, WriteFn};

pub type Response = http::Response<crate::body::Body>;

/// Shared state of a running server.
pub struct App {
    /// The geolocation and autonomous-system databases web ACLs' geo and ASN matches ask.
    pub geo: Option<Arc<crate::geo::GeoDbs>>,
    /// The IP lists the operator imported for the IP reputation managed rule groups.
    pub(crate) ip_lists: Arc<crate::ip_lists::IpLists>,
    pub config: Config,
    pub db: Db,
    pub sealer: Arc<Sealer>,
    pub verifier: Verifier,
    pub authorizer: Authorizer,
    /// The organization policies over accounts, for handlers (the policy simulator).
    pub org_policies: Arc<dyn rampart_core::orgs::OrgPolicies>,
    /// The minute each access key was last recorded as used, to write that at most once a minute.
    pub key_use: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    /// The minute each (entity, action) attempt was last noted, by hash (`authn::note_access`).
    pub access_use: std::sync::Mutex<std::collections::HashMap<u64, i64>>,
    pub dispatch: Dispatch,
    /// OIDC providers' signing keys, fetched for AssumeRoleWithWebIdentity.
    pub oidc: crate::oidc::OidcKeys,
    /// Opened session tokens, by access key id.
    pub sessions: crate::authn::SessionCache,
    /// Recent failed console sign-ins, for throttling.
    pub management_account_id: String,
    /// The base domains S3 requests may name their bucket under (`BUCKET.s3.localhost`), the
    /// built-in ones and the configured ones.
    pub s3_base_domains: Vec<String>,
    /// The room upload bodies may take, in KiB (`Config::upload_memory_bytes`).
    pub upload_memory: Arc<tokio::sync::Semaphore>,
    /// The room ranged downloads may take, in KiB (`Config::download_memory_bytes`).
    pub download_memory: Arc<tokio::sync::Semaphore>,
    /// What the proxies' web ACLs decided (samples, logs, counters).
    pub activity: Arc<crate::waf_activity::Activity>,
    /// The WAF token keys of every proxy (CAPTCHA and challenge answers).
    pub(crate) waf_tokens: Arc<crate::waf_tokens::TokenDesk>,
    /// The web ACLs compiled on this node, shared by every proxy they protect.
    pub(crate) waf_compiled: Arc<rampart_waf::Compiled>,
    /// The bearer token that reads `/_rampart/metrics` (`metrics_token_file`); none, none does.
    pub metrics_token: Option<zeroize::Zeroizing<String>>,
}

/// A failed request: the error and how to render it.
pub struct Failure {
    /// Boxed: a request's Result carries a Failure through every step, and a WireError is large.
    pub error: Box<WireError>,
    pub protocol: Protocol,
    pub namespace: Option<&'static str>,
}

struct Success {
    status: u16,
    content_type: String,
    headers: Vec<(String, String)>,
    body: Bytes,
    /// The reader of a body sent as it is read (see `rampart_core::Ctx::later`), instead of `body`.
    later: Option<Box<dyn rampart_core::BodyReader>>,
}

impl Success {
    fn into_response(self, app: &App, request_id: &str) -> Response {
        let mut r = respond(self.status, &self.content_type, self.body, request_id);
        if let Some(reader) = self.later {
            *r.body_mut() = crate::body::Body::read(reader, app.db.clone(), app.sealer.clone());
        }
        for (k, v) in self.headers {
            if let (Ok(k), Ok(v)) = (http::HeaderName::try_from(k), HeaderValue::from_str(&v)) {
                r.headers_mut().append(k, v);
            }
        }
        r
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn from_sigv4(e: &SigV4Error) -> WireError {
    WireError::new(e.code(), e.status(), e.to_string())
}

/// A signature failure as S3 words it: S3 has its own codes for what other services call
/// InvalidClientTokenId, RequestExpired and the rest.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList> and
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html>.
fn s3_auth_error(e: &SigV4Error, key_id: Option<&str>, presigned: bool) -> WireError {
    match e {
        // No signature at all: an anonymous request, which no bucket policy here allows.
        SigV4Error::MissingAuthenticationToken => WireError::new("AccessDenied", 403, "Access Denied"),
        SigV4Error::ExpiresOutOfRange(_) => WireError::new(
            "AuthorizationQueryParametersError",
            400,
            "X-Amz-Expires must be less than a week (in seconds) that is 7 days",
        ),
        SigV4Error::IncompleteSignature(m) if presigned => {
            WireError::new("AuthorizationQueryParametersError", 400, m.clone())
        }
        SigV4Error::IncompleteSignature(m) => {
            WireError::new("AuthorizationHeaderMalformed", 400, format!("The authorization header is malformed; {m}"))
        }
        // A session's key with a token that does not open (altered, or another session's).
        SigV4Error::InvalidClientTokenId if key_id.is_some_and(|k| k.starts_with("ASIA")) => {
            WireError::new("InvalidToken", 400, "The provided token is malformed or otherwise invalid.")
        }
        SigV4Error::InvalidClientTokenId => WireError::new(
            "InvalidAccessKeyId",
            403,
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        SigV4Error::ContentSha256Mismatch => WireError::new(
            "XAmzContentSHA256Mismatch",
            400,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ),
        SigV4Error::SignatureDoesNotMatch(_) => WireError::new(
            "SignatureDoesNotMatch",
            403,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        ),
        SigV4Error::PresignedUrlExpired => WireError::new("AccessDenied", 403, "Request has expired"),
        SigV4Error::RequestExpired(_) => WireError::new(
            "RequestTimeTooSkewed",
            403,
            "The difference between the request time and the current time is too large.",
        ),
        SigV4Error::ExpiredToken => WireError::new("ExpiredToken", 400, "The provided token has expired."),
        SigV4Error::IncompleteBody(_) | SigV4Error::InvalidChunkSize { .. } => chunked_error(e),
    }
}

pub(crate) fn from_service(e: ServiceError) -> WireError {
    WireError {
        details: e.details.into_boxed_slice(),
        headers: e.headers.into_boxed_slice(),
        ..WireError::new(e.code, e.status, e.message)
    }
}

/// A denial by the authorizer, as the service's protocol names it: `AccessDenied` for the query
/// and XML services (IAM, STS, S3), `AccessDeniedException` for the JSON ones (CloudTrail,
/// Organizations, KMS), as their models and AWS's answers spell it.
/// See <https://docs.aws.amazon.com/organizations/latest/APIReference/CommonErrors.html>.
fn denial(e: ServiceError, protocol: Protocol) -> WireError {
    match protocol {
        Protocol::Json | Protocol::RestJson if e.code == "AccessDenied" => {
            let status = if protocol == Protocol::Json { 400 } else { 403 };
            from_service(ServiceError { code: "AccessDeniedException".into(), status, ..e })
        }
        _ => from_service(e),
    }
}

/// Renders an error as `protocol`'s clients read it; rest-json clients read the code from the
/// `x-amzn-ErrorType` header first.
fn error_response(error: &WireError, protocol: Protocol, namespace: Option<&str>, request_id: &str) -> Response {
    // An unchanged object (a conditional GET) is answered 304 with no body, as HTTP requires.
    let unchanged = error.status == 304;
    let mut r = if unchanged {
        let mut r = respond(304, "application/xml", Bytes::new(), request_id);
        r.headers_mut().remove(http::header::CONTENT_TYPE);
        r
    } else {
        let rendered = error.render(protocol, namespace, request_id);
        respond(rendered.status, rendered.content_type, rendered.body, request_id)
    };
    for (name, value) in &error.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            r.headers_mut().append(*name, v);
        }
    }
    if !unchanged
        && matches!(protocol, Protocol::RestJson | Protocol::Json)
        && let Ok(v) = HeaderValue::from_str(&error.code)
    {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

/// A request for an AWS service Rampart does not serve (found by its `X-Amz-Target` prefix or its
/// credential scope), refused in the protocol the request spoke (a rest request: the service's
/// own), naming the service as AWS does.
fn unserved(service: &rampart_shapes::catalog::AwsService, spoken: Option<Protocol>) -> Failure {
    let protocol = spoken.unwrap_or(service.protocol);
    let served: Vec<&str> = rampart_shapes::services().iter().map(|s| s.service_id).collect();
    let message = format!(
        "Rampart does not serve {} (`{}`) yet; it serves {}",
        service.name,
        service.signing_name,
        served.join(", ")
    );
    let code = match protocol {
        Protocol::Json | Protocol::RestJson => "UnknownOperationException",
        Protocol::Query | Protocol::RestXml => "InvalidAction",
    };
    Failure { error: Box::new(WireError::new(code, 400, message)), protocol, namespace: None }
}

/// Whether a model's awsJson target prefix is the one a request sent: botocore sends the model's
/// full prefix, Smithy-generated SDKs the service shape's name alone
/// (`CloudTrail_20131101.LookupEvents`).
fn target_is(model: Option<&str>, sent: &str) -> bool {
    model.is_some_and(|t| t == sent || t.rsplit('.').next() == Some(sent))
}

/// The catalog's service with this awsJson target prefix.
fn service_by_target(prefix: &str) -> Option<&'static rampart_shapes::catalog::AwsService> {
    rampart_shapes::catalog::AWS_SERVICES.iter().find(|s| target_is(s.target_prefix, prefix))
}

/// A request whose credential scope names a service Rampart does not serve: refused by the
/// service's AWS name when the catalog knows it, else by the name the scope gives.
fn unserved_scope(scope: &str, spoken: Option<Protocol>, code: &'static str, fallback: Protocol) -> Failure {
    match rampart_shapes::catalog::AWS_SERVICES.iter().find(|s| s.signing_name == scope) {
        Some(s) => unserved(s, spoken),
        None => Failure {
            error: Box::new(WireError::new(code, 400, format!("Rampart does not serve the `{scope}` service"))),
            protocol: fallback,
            namespace: None,
        },
    }
}

/// Access key ids that emulators' documentation and AWS's examples use: a request signed with one
/// outside dev mode was surely meant for an emulator's "any key" habit.
const WELL_KNOWN_KEYS: &[&str] = &[
    "test",
    "testing",
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAIOSFODNN7EXAMPLE",
    "foobar",
    "fake",
    "dummy",
    "mock",
    "minioadmin",
];

/// The claims an unsigned S3 request stands on: no key, scoped to S3 in the server's region.
fn anonymous_claims(region: &str, now: OffsetDateTime) -> rampart_sigv4::Auth {
    rampart_sigv4::Auth {
        access_key_id: String::new(),
        scope: rampart_sigv4::Scope { date: String::new(), region: region.to_owned(), service: "s3".to_owned() },
        signed_headers: Vec::new(),
        signature: Vec::new(),
        time: now,
        amz_date: String::new(),
        security_token: None,
        presigned_expires: None,
        post_policy: None,
    }
}

/// Builds a response with AWS's request-id header.
/// Whether a read-only call's response is still recorded: STS's calls that issue credentials,
/// whose events carry the credentials' access key id (the session token and secret hidden), as
/// CloudTrail's examples show. What was issued to whom is what tells a session's credentials
/// apart from the place they are used (GuardDuty's InstanceCredentialExfiltration).
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/cloudtrail-integration.html#stscloudtrailexample-assumerole>.
fn issues_credentials(service: &str, op: &str) -> bool {
    service == "sts" && matches!(op, "AssumeRole" | "GetSessionToken" | "GetFederationToken" | "AssumeRoot")
}

pub fn respond(status: u16, content_type: &str, body: impl Into<Bytes>, request_id: &str) -> Response {
    let mut r = http::Response::new(crate::body::Body::full(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        r.headers_mut().insert("x-amzn-requestid", v);
    }
    r
}

impl App {
    /// What the server's proxies share.
    pub(crate) fn proxy_shared(&self) -> crate::proxy::Shared {
        crate::proxy::Shared {
            activity: self.activity.clone(),
            tokens: self.waf_tokens.clone(),
            compiled: self.waf_compiled.clone(),
        }
    }

    fn service_by_signing_name(name: &str, protocol: Option<Protocol>) -> Option<&'static Service> {
        rampart_shapes::services()
            .iter()
            .copied()
            // S3 Control signs as `s3` too: its requests are picked out by `is_s3_control`.
            .find(|s| {
                s.signing_name == name && s.endpoint_prefix != "s3-control" && protocol.is_none_or(|p| p == s.protocol)
            })
    }

    /// Answers a request refused before it could be parsed (too large, too slow), and audits it.
    pub fn reject(&self, origin: &Origin, request_id: &str, error: WireError, protocol: Protocol) -> Response {
        let now = OffsetDateTime::now_utc();
        let refused = Some((error.code.as_ref(), error.message.as_str()));
        request_log(&Draft::default(), origin, request_id, error.status, refused, std::time::Instant::now());
        let ev = audit::event(
            Draft::default(),
            origin,
            request_id,
            now,
            &self.config.region,
            Some((&error.code, &error.message)),
        );
        audit::queue(&self.db, &ev, now);
        error_response(&error, protocol, None, request_id)
    }

    /// Serves one AWS API request whose body has been read. The body is dropped once the input is
    /// decoded from it: an upload's bytes are not held twice while it is hashed and stored.
    pub async fn handle_api(
        &self,
        parts: &http::request::Parts,
        body: Bytes,
        origin: &Origin,
        request_id: &str,
    ) -> Response {
        let now = OffsetDateTime::now_utc();
        let started = std::time::Instant::now();
        let mut draft = Draft::default();
        let process = |draft: &mut Draft| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.process(parts, &body, origin, draft, request_id, now)
            }))
            .unwrap_or_else(|_| {
                tracing::error!(request_id, "a handler panicked");
                Err(Failure { error: Box::new(WireError::internal()), protocol: Protocol::Query, namespace: None })
            })
        };
        let mut step = process(&mut draft);
        if let Ok(Step::DevUser { account, failure }) = step {
            step = match rampart_iam::iam::ensure_dev_user(&self.db, self.sealer.clone(), &account).await {
                Ok(()) => {
                    draft = Draft::default();
                    process(&mut draft)
                }
                Err(e) => {
                    tracing::error!(request_id, account = %account, error = %e, "creating the dev user failed");
                    Err(failure)
                }
            };
        }
        drop(body);
        // A state-changing call's event commits with its change; the others' are queued here.
        let mut committed = false;
        let outcome = match step {
            Ok(Step::Done(s)) => Ok(s),
            Ok(Step::WebIdentity(input)) => self.run_web_identity(input, &mut draft, now, request_id).await,
            Ok(Step::Prepare(p)) => match self.run_prepare(*p, now, request_id).await {
                Ok(w) => self.run_write(w, draft.clone(), origin, request_id, now).await,
                Err(f) => Err((f, draft.clone())),
            }
            .inspect(|_| committed = true)
            .map_err(|(f, d)| {
                draft = d;
                f
            }),
            Ok(Step::Write(w)) => {
                self.run_write(*w, draft.clone(), origin, request_id, now).await.inspect(|_| committed = true).map_err(
                    |(f, d)| {
                        draft = d;
                        f
                    },
                )
            }
            // Still no dev user after creating it (deleted in between): fail closed.
            Ok(Step::DevUser { failure, .. }) | Err(failure) => Err(failure),
            // Only a request marked BeforeBody stops at its authorization, and never here.
            Ok(Step::Allowed) => {
                Err(Failure { error: Box::new(WireError::internal()), protocol: Protocol::RestXml, namespace: None })
            }
        };
        match outcome {
            Ok(ok) => {
                request_log(&draft, origin, request_id, ok.status, None, started);
                for used in std::mem::take(&mut draft.kms_uses) {
                    // KMS's own request and event, which the key's last use names.
                    let ids = (crate::ids::uuid(), crate::ids::event_id(now));
                    rampart_kms::used_via_service(&used.key_arn, &used.operation, now, (&ids.0, &ids.1));
                    if AUDIT {
                        let ev = audit::kms_use_event(&draft, &used, (&ids.0, &ids.1), now, &self.config.region);
                        audit::queue(&self.db, &ev, now);
                    }
                }
                if AUDIT && !committed {
                    let ev = audit::event(draft, origin, request_id, now, &self.config.region, None);
                    audit::queue(&self.db, &ev, now);
                }
                ok.into_response(self, request_id)
            }
            Err(f) => self.failed(f, draft, origin, request_id, (now, started)),
        }
    }

    /// A failed request's answer: logged and audited, its ARNs in the request's partition.
    fn failed(
        &self,
        mut f: Failure,
        draft: Draft,
        origin: &Origin,
        request_id: &str,
        (now, started): (OffsetDateTime, std::time::Instant),
    ) -> Response {
        // The error's ARNs in the request's partition, as its answer's are.
        let partition = partition::of_region(draft.region.as_deref().unwrap_or(&self.config.region));
        if let Some(message) = partition::outward(&f.error.message, partition) {
            f.error.message = message;
        }
        if f.error.status >= 500 {
            tracing::error!(request_id, code = %f.error.code, "request failed");
        }
        let error = (f.error.code.as_ref(), f.error.message.as_str());
        request_log(&draft, origin, request_id, f.error.status, Some(error), started);
        let ev = audit::event(draft, origin, request_id, now, &self.config.region, Some(error));
        audit::queue(&self.db, &ev, now);
        error_response(&f.error, f.protocol, f.namespace, request_id)
    }

    /// The bucket an S3 request names, with the rest of its path (the object key's part, `/`
    /// included): the Host's bucket (virtual-hosted), else the path's first segment. `None` for a
    /// request naming none.
    pub(crate) fn s3_bucket<'u>(
        &self,
        headers: &HeaderMap,
        uri: &'u http::Uri,
    ) -> Result<Option<(String, &'u str)>, WireError> {
        let host = header(headers, "host").or_else(|| uri.authority().map(http::uri::Authority::as_str));
        Ok(match rampart_wire::s3host::addressing(host, &self.s3_base_domains)? {
            rampart_wire::s3host::Addressing::VirtualHosted { bucket } => Some((bucket, uri.path())),
            rampart_wire::s3host::Addressing::Path => {
                let path = uri.path().trim_start_matches('/');
                let (first, rest) = path.find('/').map_or((path, ""), |i| path.split_at(i));
                (!first.is_empty()).then(|| (first.to_owned(), rest))
            }
        })
    }

    /// An upload's refusal decided from its head, before its body is read (for a client waiting
    /// for `100 Continue`): a signed one's failed authentication, an unsigned one's refused
    /// authorization. `None` when nothing refuses it so far: its body is then read and the
    /// request served.
    pub fn refused_before_body(
        &self,
        parts: &http::request::Parts,
        origin: &Origin,
        request_id: &str,
    ) -> Option<Response> {
        let unsigned = !parts.headers.contains_key(http::header::AUTHORIZATION)
            && !parts.uri.query().is_some_and(|q| q.contains("X-Amz-Signature="));
        if unsigned {
            self.unsigned_refused_before_body(parts, origin, request_id)
        } else {
            self.unauthenticated_before_body(parts).map(|e| self.reject(origin, request_id, e, Protocol::RestXml))
        }
    }

    /// An unsigned upload's refusal: the request runs through authorization with no body and
    /// stops there.
    fn unsigned_refused_before_body(
        &self,
        parts: &http::request::Parts,
        origin: &Origin,
        request_id: &str,
    ) -> Option<Response> {
        let mut head =
            http::Request::builder().method(parts.method.clone()).uri(parts.uri.clone()).version(parts.version);
        for (k, v) in &parts.headers {
            head = head.header(k, v);
        }
        let (mut before, ()) = head.body(()).ok()?.into_parts();
        before.extensions.insert(BeforeBody);
        let now = OffsetDateTime::now_utc();
        let started = std::time::Instant::now();
        let mut draft = Draft::default();
        let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.process(&before, &[], origin, &mut draft, request_id, now)
        }))
        .ok()?;
        match step {
            Err(f) => Some(self.failed(f, draft, origin, request_id, (now, started))),
            Ok(_) => None,
        }
    }

    fn process(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        origin: &Origin,
        draft: &mut Draft,
        request_id: &str,
        now: OffsetDateTime,
    ) -> Result<Step, Failure> {
        let h = &parts.headers;
        let query_string = parts.uri.query().unwrap_or("");
        let event_id = crate::ids::event_id(now);
        draft.event_id = Some(event_id.clone());
        // awsQuery's form bodies come by POST; a PUT's form content type is an S3 object's.
        let form_type = header(h, "content-type").filter(|_| parts.method != http::Method::PUT);
        let wire = rampart_wire::detect(header(h, "x-amz-target"), form_type, query_string)
            .map_err(|error| Failure { error: Box::new(error), protocol: Protocol::Json, namespace: None })?;
        let mut protocol = if matches!(wire, Wire::Json { .. }) { Protocol::Json } else { Protocol::Query };
        let mut namespace = None;
        let fail = |error: WireError, protocol: Protocol, namespace: Option<&'static str>| Failure {
            error: Box::new(error),
            protocol,
            namespace,
        };

        // The signature's claims, before anything else.
        let host = parts.uri.authority().map(|a| a.as_str().to_owned());
        let host_header = header(h, "host").or(host.as_deref());
        let headers = signed_headers(parts, host.as_deref());
        let sreq = rampart_sigv4::Request {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: query_string,
            headers: &headers,
            body,
        };
        if matches!(wire, Wire::Query)
            && let Some(step) = self
                .unsigned(h, query_string, body, draft, now, request_id)
                .map_err(|e| fail(e, protocol, namespace))?
        {
            return Ok(step);
        }
        // A browser's POST upload comes as the PutObject it stands for, signed by its form.
        let post = parts.extensions.get::<crate::post_upload::Form>();
        let parsed = match post {
            Some(form) => form.auth.clone(),
            None => rampart_sigv4::parse(&sreq),
        };
        // A rest request with no signature at all is S3's anonymous caller: served where a bucket
        // policy allows everyone, refused "Access Denied" everywhere else (the authorizer decides).
        let anonymous = matches!(wire, Wire::Rest) && matches!(parsed, Err(SigV4Error::MissingAuthenticationToken));
        let auth = match parsed {
            Ok(auth) => auth,
            Err(_) if anonymous => anonymous_claims(&self.config.region, now),
            Err(e) => {
                // A rest request is S3's (the one rest service served): its own errors, in its XML.
                return Err(if matches!(wire, Wire::Rest) {
                    fail(s3_auth_error(&e, None, query_string.contains("X-Amz-Signature=")), Protocol::RestXml, None)
                } else {
                    fail(from_sigv4(&e), protocol, namespace)
                });
            }
        };
        draft.access_key_id = (!anonymous).then(|| auth.access_key_id.clone());
        draft.region = Some(auth.scope.region.clone());

        // The operation.
        let mut params = Params::default();
        let mut routed_path = parts.uri.path().to_owned();
        let mut labels: Vec<(&'static str, &str)> = Vec::new();
        let (service, op): (&'static Service, &'static Operation) = match &wire {
            Wire::Json { target_prefix, operation } => {
                let target = format!("{target_prefix}.{operation}");
                let service = rampart_shapes::services()
                    .iter()
                    .copied()
                    .find(|s| target_is(s.target_prefix, target_prefix))
                    .ok_or_else(|| match service_by_target(target_prefix) {
                        Some(s) => unserved(s, Some(Protocol::Json)),
                        None => fail(WireError::unknown_operation(&target), protocol, namespace),
                    })?;
                let op = service
                    .operation(operation)
                    .ok_or_else(|| fail(WireError::unknown_operation(&target), protocol, namespace))?;
                (service, op)
            }
            Wire::Query => {
                let form = header(h, "content-type")
                    .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
                params = Params::parse(query_string, if form { body } else { b"" });
                let action = params.action().unwrap_or_default().to_owned();
                draft.event_name = Some(action.clone());
                let service =
                    Self::service_by_signing_name(&auth.scope.service, Some(Protocol::Query)).ok_or_else(|| {
                        unserved_scope(&auth.scope.service, Some(Protocol::Query), "InvalidAction", protocol)
                    })?;
                namespace = service.xml_namespace;
                if action.is_empty() {
                    return Err(fail(WireError::new("MissingAction", 400, "Missing Action"), protocol, namespace));
                }
                let op = service
                    .operation(&action)
                    .ok_or_else(|| fail(WireError::invalid_action(&action, params.version()), protocol, namespace))?;
                (service, op)
            }
            Wire::Rest => {
                let service = if is_s3_control(&auth.scope.service, parts.uri.path(), h) {
                    &rampart_shapes::generated::s3control::SERVICE
                } else {
                    Self::service_by_signing_name(&auth.scope.service, None).ok_or_else(|| {
                        unserved_scope(&auth.scope.service, None, "UnknownOperationException", protocol)
                    })?
                };
                protocol = service.protocol;
                namespace = service.xml_namespace;
                // S3 may name the bucket in the Host header; routing sees the path-style path.
                if service.endpoint_prefix == "s3" {
                    let addressing = rampart_wire::s3host::addressing(host_header, &self.s3_base_domains)
                        .map_err(|e| fail(e, protocol, service.xml_namespace))?;
                    if let rampart_wire::s3host::Addressing::VirtualHosted { bucket } = addressing {
                        routed_path = rampart_wire::s3host::path_style_path(&bucket, parts.uri.path());
                    }
                }
                let route = rampart_wire::rest::route(
                    service.operations,
                    parts.method.as_str(),
                    &routed_path,
                    query_string,
                    |name| h.contains_key(name),
                )
                .ok_or_else(|| {
                    fail(
                        WireError::new(
                            "UnknownOperationException",
                            400,
                            format!("No {} operation matches {} {}", service.service_id, parts.method, routed_path),
                        ),
                        protocol,
                        namespace,
                    )
                })?;
                labels = route.labels;
                (service, route.operation)
            }
        };
        protocol = service.protocol;
        namespace = service.xml_namespace;
        let (event_source, event_name) = crate::services::event_names(service, op.name);
        draft.event_source = Some(event_source.to_owned());
        draft.event_name = Some(event_name.to_owned());
        draft.read_only = op.read_only;
        // A global service's call happens in us-east-1, for the trail and for aws:RequestedRegion.
        let region =
            rampart_cloudtrail::recorded_region(service.endpoint_prefix, host_header, &auth.scope.region).to_owned();
        draft.region = Some(region.clone());

        // Every `x-amz-*` header must be signed, as SigV4 requires: an unsigned one could change
        // what a signed request means (the operation, for awsJson's X-Amz-Target; an object's
        // metadata, encryption or ACL, for S3). The SDKs sign them all.
        // See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>
        // and <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>.
        if service.endpoint_prefix == "s3" {
            let content_sha256 = header(h, "x-amz-content-sha256");
            check_content_sha256(content_sha256).map_err(|e| fail(e, protocol, namespace))?;
            // An MFA code must not cross the network in the clear: S3 takes `x-amz-mfa` only
            // over HTTPS. See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMFADelete.html>.
            if h.contains_key("x-amz-mfa") && origin.tls.is_none() {
                let e = WireError::new("InvalidRequest", 400, "Requests that include x-amz-mfa must use HTTPS.");
                return Err(fail(e, protocol, namespace));
            }
            // Nor may a customer's encryption key (SSE-C).
            // See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html>.
            let customer_key = h.keys().any(|k| {
                let k = k.as_str();
                k.starts_with("x-amz-server-side-encryption-customer-")
                    || k.starts_with("x-amz-copy-source-server-side-encryption-customer-")
            });
            if customer_key && origin.tls.is_none() {
                let e = WireError::new(
                    "InvalidRequest",
                    400,
                    "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
                );
                return Err(fail(e, protocol, namespace));
            }
            // A read of an object encrypted at rest names no encryption: S3 refuses the write-side
            // headers on GetObject and HeadObject.
            // See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html>.
            if matches!(op.name, "GetObject" | "HeadObject")
                && (h.contains_key("x-amz-server-side-encryption")
                    || h.contains_key("x-amz-server-side-encryption-aws-kms-key-id"))
            {
                let e = WireError::new(
                    "InvalidArgument",
                    400,
                    "x-amz-server-side-encryption header is not supported for this operation.",
                );
                return Err(fail(e, protocol, namespace));
            }
            // Chunk signatures chain from the request's: an unsigned request has none to check.
            if anonymous && content_sha256.is_some_and(|v| v.starts_with("STREAMING-AWS4-")) {
                let e = WireError::new(
                    "InvalidRequest",
                    400,
                    "Signed streaming (x-amz-content-sha256: STREAMING-AWS4-…) needs a signed request.",
                );
                return Err(fail(e, protocol, namespace));
            }
        }
        let unsigned: Vec<&str> = h
            .keys()
            .map(http::HeaderName::as_str)
            .filter(|k| k.starts_with("x-amz-") && !auth.signed_headers.iter().any(|s| s == k))
            .collect();
        // A POST upload's headers are its form's fields, each bound by its policy.
        if !unsigned.is_empty() && !anonymous && post.is_none() {
            let e = if service.endpoint_prefix == "s3" {
                let mut e = WireError::new(
                    "AccessDenied",
                    403,
                    "There were headers present in the request which were not signed",
                );
                e.details = Box::new([("HeadersNotSigned", unsigned.join(", "))]);
                e
            } else {
                WireError::new(
                    "SignatureDoesNotMatch",
                    403,
                    format!("There were headers present in the request which were not signed: {}", unsigned.join(", ")),
                )
            };
            return Err(fail(e, protocol, namespace));
        }

        // Who is calling.
        if auth.scope.service != service.signing_name {
            return Err(fail(
                WireError::new(
                    "SignatureDoesNotMatch",
                    403,
                    format!("Credential should be scoped to correct service: '{}'. ", service.signing_name),
                ),
                protocol,
                namespace,
            ));
        }
        let authenticated = if anonymous { Ok(Principal::anonymous()) } else { authenticate(self, &sreq, &auth, now) };
        if let Err(AuthnError::DevUserMissing(account)) = authenticated {
            return Ok(Step::DevUser { account, failure: fail(WireError::internal(), protocol, namespace) });
        }
        let principal = authenticated.map_err(|e| match e {
            AuthnError::SigV4(e) => {
                let mut error = if service.endpoint_prefix == "s3" {
                    s3_auth_error(&e, Some(&auth.access_key_id), auth.presigned_expires.is_some())
                } else {
                    from_sigv4(&e)
                };
                // The code stays AWS's, so SDKs see it; the hint rides in the message's tail.
                if !self.config.dev && WELL_KNOWN_KEYS.contains(&auth.access_key_id.as_str()) {
                    error.message.push_str(&format!(
                        " (`{}` is an emulator's placeholder key, and Rampart is not in dev mode: sign with a key \
                         Rampart issued, such as the root key in {}, or start the server with --dev to accept any key)",
                        auth.access_key_id,
                        self.config.data_dir.join("root-credentials").display()
                    ));
                }
                fail(error, protocol, namespace)
            }
            AuthnError::Unavailable(e) => fail(from_service(e), protocol, namespace),
            AuthnError::Internal | AuthnError::DevUserMissing(_) => fail(WireError::internal(), protocol, namespace),
        })?;
        draft.identity = Some(UserIdentity::of(&principal));
        draft.from_console = principal.console;
        // A signed form's policy bounds what it may upload, once its signature holds.
        if let Some(form) = post.filter(|_| !anonymous) {
            form.upload.check_policy(&form.bucket, now).map_err(|e| fail(from_service(e), protocol, namespace))?;
        }
        // A query request names its API version: Classic Load Balancers (2012-06-01) sign as
        // `elasticloadbalancing` too, and have operations of ELBv2's names, which must never
        // answer them. (Checked once the signature is, which covers the version.)
        if service.protocol == Protocol::Query && params.version().is_some_and(|v| v != service.api_version) {
            return Err(fail(WireError::invalid_action(op.name, params.version()), protocol, namespace));
        }

        // What is asked. A refused input gets the service's own error where it has one.
        let refused = |mut e: WireError| {
            if let Some(code) = crate::services::validation_code(service.endpoint_prefix, &e.members) {
                e.code = code.into();
            }
            fail(e, protocol, namespace)
        };
        // Asked before its body: only an upload's plain body (a blob payload, not aws-chunked) is
        // not needed to decide; any other body is read first.
        let framed = header(h, "x-amz-content-sha256").is_some_and(|v| v.starts_with("STREAMING-"))
            || header(h, "content-encoding").is_some_and(|v| v.contains("aws-chunked"));
        if parts.extensions.get::<BeforeBody>().is_some() && (framed || !body_is_blob(op)) {
            return Ok(Step::Allowed);
        }
        let mut input = match (service.protocol, op.input) {
            (_, None) => Value::Struct(Vec::new()),
            (Protocol::Query, Some(shape)) => query::decode_input(&params, shape).map_err(refused)?,
            (Protocol::Json, Some(shape)) => json::decode_input(body, shape).map_err(refused)?,
            (Protocol::RestXml, Some(shape)) => {
                rest_xml_input(shape, &labels, query_string, &headers, body).map_err(refused)?
            }
            (Protocol::RestJson, Some(shape)) => {
                let req = restxml::HttpRequest { labels: &labels, query: query_string, headers: &headers, body };
                rampart_wire::restjson::decode_input(shape, &req).map_err(refused)?
            }
        };
        // ARNs of the request's partition, in Rampart's inner form from here on.
        let partition = partition::of_region(&auth.scope.region);
        to_inner_form(&mut input, partition);
        if let Some(shape) = op.input
            && !matches!(&input, Value::Struct(f) if f.iter().all(Option::is_none))
        {
            // A payload's bytes (an object's body) are data, not parameters: never in the trail.
            let params = json::audit_json(&without_payload(&input, shape), shape, REDACTED);
            draft.request_parameters =
                Some(crate::services::audit_parameters(service.signing_name, params, host_header));
        }

        // May they? On every resource the operation acts on.
        let endpoint = rampart_core::Endpoint {
            configured: self.config.public_url.as_deref(),
            host: host_header.unwrap_or("localhost"),
            tls: origin.tls.is_some(),
        };
        let mut asked = rampart_iam::actions::resolve(
            &self.db,
            &principal,
            crate::services::iam_prefix(service.endpoint_prefix),
            crate::services::action(service.endpoint_prefix, op.name),
            op,
            &input,
            &auth.scope.region,
        )
        .map_err(|e| fail(from_service(e), protocol, namespace))?;
        // Organizations' resources (accounts, OUs, roots, policies, handshakes) are found in the
        // tree, with the policy type and service principal a request names.
        if service.endpoint_prefix == "organizations" {
            let org = rampart_organizations::resources::asked(&self.db, &principal, op, &input)
                .map_err(|e| fail(from_service(e), protocol, namespace))?;
            asked.resources = org.resources;
            asked.keys.extend(org.keys);
        }
        // KMS names its own resources (a key by id, alias or ciphertext) and hands over each key's
        // policy, the root of its access.
        let key_checks = if service.endpoint_prefix == "kms" {
            let checks = rampart_kms::access(&self.db, &principal, &auth.scope.region, op.name, &input, op.input, now)
                .map_err(|e| fail(from_service(e), protocol, namespace))?;
            asked.resources = checks.iter().map(|c| c.resource.clone()).collect();
            checks
        } else {
            Vec::new()
        };
        // S3 names its action per request (a version's variant, one per key of DeleteObjects) and
        // hands over the bucket's owner and policy.
        let (bucket_checks, prefetched) = if service.endpoint_prefix == "s3" {
            let facts = rampart_s3::access::Facts {
                account: &principal.account_id,
                presigned: auth.presigned_expires.is_some(),
                post: post.is_some(),
                anonymous,
            };
            let checked = rampart_s3::access::checks(&self.db, op.name, &input, op.input, facts)
                .map_err(|e| fail(from_service(e), protocol, namespace))?;
            asked.resources = checked.access.iter().map(|c| c.resource.clone()).collect();
            (checked.access, checked.prefetched)
        } else {
            (Vec::new(), None)
        };
        draft.resources.clone_from(&asked.resources);
        // An authenticated attempt, allowed or not, is the entity's last access to the action.
        crate::authn::note_access(self, &principal, &asked.action, &auth.scope.region, now);
        let context = authz::Context {
            source_ip: &origin.source_ip,
            time: now,
            secure_transport: origin.tls.is_some(),
            user_agent: &origin.user_agent,
            region: &region,
            referer: header(h, "referer"),
            tls_version: origin.tls.as_ref().map(|t| t.tls_version.trim_start_matches("TLSv")),
        };
        let allowed_by = |action: &str,
                          resource: &str,
                          keys: &[(String, Vec<String>)],
                          resource_policy: Option<&authz::ResourcePolicy>,
                          resource_owner: Option<&str>| {
            let request = authz::Request {
                principal: &principal,
                action,
                resource,
                context,
                keys,
                resource_policy,
                resource_owner,
            };
            self.authorizer.authorize(&self.db, &request).map_err(|e| fail(denial(e, protocol), protocol, namespace))
        };
        let allowed = |action: &str,
                       resource: &str,
                       keys: &[(String, Vec<String>)],
                       resource_policy: Option<&authz::ResourcePolicy>| {
            allowed_by(action, resource, keys, resource_policy, None)
        };
        // S3's own use of a KMS key for the request (SSE-KMS) is a KMS event of its own.
        draft.kms_uses = bucket_checks
            .iter()
            .filter_map(|c| {
                let operation = c.action.strip_prefix("kms:")?;
                let context = c
                    .keys
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((k.strip_prefix("kms:EncryptionContext:")?.to_owned(), v.first()?.clone()))
                    })
                    .collect();
                Some(audit::KmsUse {
                    operation: operation.to_owned(),
                    key_arn: c.resource.clone(),
                    context,
                    by: "s3.amazonaws.com",
                })
            })
            .collect();
        let by_resource_policy = !key_checks.is_empty() || !bucket_checks.is_empty();
        let mut refused = Vec::new();
        for check in bucket_checks {
            let name = if check.policy_required { "KeyPolicy" } else { "BucketPolicy" };
            let policy = check.policy.map(|text| authz::ResourcePolicy {
                name: name.to_owned(),
                text,
                required: check.policy_required,
            });
            let verdict =
                allowed_by(&check.action, &check.resource, &check.keys, policy.as_ref(), check.owner.as_deref());
            match (verdict, check.item) {
                (Ok(()), _) => {}
                // A batch's refused item is answered in the batch's result.
                (Err(_), Some(i)) => refused.push(i),
                (Err(f), None) => return Err(f),
            }
        }
        for check in key_checks {
            // The key's policy text moves into the check: no copy per request.
            let policy = check.key_policy.map(|text| authz::ResourcePolicy {
                name: "KeyPolicy".to_owned(),
                text,
                required: true,
            });
            allowed(&check.action, &check.resource, &check.keys, policy.as_ref())?;
        }
        // Whoever associated a delegation request manages it without permissions of its own: a
        // policy on the request names it.
        let owner_policy = if service.endpoint_prefix == "iam" {
            let id = op.input.and_then(|shape| input.string_field(shape, "DelegationRequestId"));
            rampart_iam::iam::owner_policy(&self.db, &principal, id)
                .map_err(|e| fail(from_service(e), protocol, namespace))?
                .map(|text| authz::ResourcePolicy { name: "DelegationRequestOwner".to_owned(), text, required: false })
        } else {
            None
        };
        for resource in asked.resources.iter().filter(|_| !by_resource_policy) {
            allowed(&asked.action, resource, &asked.keys, owner_policy.as_ref())?;
        }
        // Dependent actions: a role handed to a service must be passable, tags taggable.
        for check in &asked.also {
            allowed(&check.action, &check.resource, &check.keys, None)?;
        }

        // An upload asked about before its body: its answer is known to be no refusal.
        if parts.extensions.get::<BeforeBody>().is_some() {
            return Ok(Step::Allowed);
        }

        // Do it.
        let handler = self
            .dispatch
            .get(service.endpoint_prefix, op.name)
            .ok_or_else(|| fail(not_implemented(service, op), protocol, namespace))?;
        let handler = match handler {
            Handler::Prepared { prepare, write } => {
                return Ok(Step::Prepare(Box::new(PrepareStep {
                    prepare: prepare.clone(),
                    write: WriteStep {
                        handler: write.clone(),
                        input,
                        principal,
                        service,
                        op,
                        region: auth.scope.region.clone(),
                        refused,
                        resources: asked.resources,
                        keys: asked.keys,
                        prepared: None,
                    },
                    region: auth.scope.region.clone(),
                    endpoint: endpoint.url(),
                })));
            }
            Handler::ReadUnless { write, writes, .. } if writes(&input) => HandlerRef::Write(write.clone()),
            Handler::ReadUnless { read, .. } | Handler::Read(read) => HandlerRef::Read(read),
            Handler::Write(f) => HandlerRef::Write(f.clone()),
        };
        match handler {
            HandlerRef::Read(f) => {
                let later = rampart_core::Later::new(None);
                let ctx = Ctx {
                    principal: &principal,
                    db: &self.db,
                    sealer: &self.sealer,
                    now,
                    request_id,
                    event_id: &event_id,
                    region: &auth.scope.region,
                    endpoint,
                    orgs: Some(&*self.org_policies),
                    asked: rampart_core::Asked { resources: &asked.resources, keys: &asked.keys },
                    prefetched: prefetched.as_ref().map(|p| p as &(dyn std::any::Any + Send + Sync)),
                    later: Some(&later),
                };
                let output = f(&ctx, input).map_err(|e| fail(from_service(e), protocol, namespace))?;
                if (!op.read_only || issues_credentials(service.endpoint_prefix, op.name))
                    && let Some(shape) = op.output
                {
                    draft.response_elements = Some(json::audit_json(&output, shape, REDACTED));
                }
                let mut done = encode(service, op, output, request_id, partition);
                done.later = later.into_inner().ok().flatten();
                Ok(Step::Done(done))
            }
            HandlerRef::Write(handler) => {
                let region = auth.scope.region.clone();
                let (resources, keys) = (asked.resources, asked.keys);
                let prepared = before_write(service, op, &input);
                Ok(Step::Write(Box::new(WriteStep {
                    handler,
                    input,
                    principal,
                    service,
                    op,
                    region,
                    refused,
                    resources,
                    keys,
                    prepared,
                })))
            }
        }
    }

    /// An unsigned query request for an operation its model marks `authtype: none` (the token or
    /// assertion in it authenticates it): AssumeRoleWithSAML runs here, AssumeRoleWithWebIdentity
    /// in [`Self::run_web_identity`]. `None` for every other request, which must then carry a
    /// valid signature.
    fn unsigned(
        &self,
        h: &HeaderMap,
        query_string: &str,
        body: &[u8],
        draft: &mut Draft,
        now: OffsetDateTime,
        request_id: &str,
    ) -> Result<Option<Step>, WireError> {
        let signed = h.contains_key(http::header::AUTHORIZATION)
            || query_string.split('&').any(|p| p.to_ascii_lowercase().starts_with("x-amz-signature="));
        if signed {
            return Ok(None);
        }
        let form = header(h, "content-type")
            .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
        let params = Params::parse(query_string, if form { body } else { b"" });
        let Some(action) = params.action() else { return Ok(None) };
        let found = rampart_shapes::services()
            .iter()
            .copied()
            .filter(|s| s.protocol == Protocol::Query)
            .find_map(|s| s.operation(action).filter(|op| op.unsigned).map(|op| (s, op)));
        let Some((service, op)) = found else { return Ok(None) };
        draft.event_source = Some(service.event_source.to_owned());
        draft.event_name = Some(op.name.to_owned());
        draft.read_only = op.read_only;
        let Some(shape) = op.input else { return Err(not_implemented(service, op)) };
        let mut input = query::decode_input(&params, shape)?;
        // Unsigned, it names no Region: the server's is its partition's.
        let partition = partition::of_region(&self.config.region);
        to_inner_form(&mut input, partition);
        draft.request_parameters = Some(json::audit_json(&input, shape, REDACTED));
        match op.name {
            // Its provider's keys may need fetching: finished asynchronously.
            "AssumeRoleWithWebIdentity" => Ok(Some(Step::WebIdentity(Box::new(input)))),
            // Its provider's certificates are stored: finished here.
            "AssumeRoleWithSAML" => {
                use rampart_shapes::{FromValue, IntoValue};
                let typed =
                    rampart_shapes::generated::sts::AssumeRoleWithSAMLRequest::from_value(input).map_err(|e| {
                        tracing::error!(error = %e, "decoded input does not fit its type");
                        WireError::internal()
                    })?;
                draft.identity = Some(UserIdentity::saml(&typed.principal_arn, None, None));
                let provider = typed.principal_arn.clone();
                let out = rampart_iam::sts::assume_role_with_saml(&self.db, &self.sealer, now, typed)
                    .map_err(from_service)?;
                draft.identity =
                    Some(UserIdentity::saml(&provider, out.name_qualifier.as_deref(), out.subject.as_deref()));
                let output = out.into_value();
                if let Some(shape) = op.output {
                    draft.response_elements = Some(json::audit_json(&output, shape, REDACTED));
                }
                Ok(Some(Step::Done(encode(service, op, output, request_id, partition))))
            }
            _ => Err(not_implemented(service, op)),
        }
    }

    /// AssumeRoleWithWebIdentity: find the provider, fetch its keys (cached), verify the token and
    /// issue the session. Nothing is written: the session is sealed in its token.
    async fn run_web_identity(
        &self,
        input: Box<Value>,
        draft: &mut Draft,
        now: OffsetDateTime,
        request_id: &str,
    ) -> Result<Success, Failure> {
        use rampart_shapes::generated::sts as shapes;
        use rampart_shapes::{FromValue, IntoValue};
        let service = &shapes::SERVICE;
        let fail = |e: ServiceError| Failure {
            error: Box::new(from_service(e)),
            protocol: service.protocol,
            namespace: service.xml_namespace,
        };
        let op = service.operation("AssumeRoleWithWebIdentity").ok_or_else(|| fail(ServiceError::internal()))?;
        let typed = shapes::AssumeRoleWithWebIdentityRequest::from_value(*input).map_err(|e| {
            tracing::error!(error = %e, "decoded input does not fit its type");
            fail(ServiceError::internal())
        })?;
        let plan = rampart_iam::sts::plan_web_identity(&self.db, &typed).map_err(fail)?;
        let (aud, sub) = (plan.token.list_claim("aud"), plan.token.str_claim("sub").unwrap_or_default());
        draft.identity =
            Some(UserIdentity::web_identity(&plan.provider.url, aud.first().map_or("", String::as_str), sub));
        let keys =
            self.oidc.keys(&plan.provider, plan.kid()).await.map_err(|_| fail(rampart_iam::sts::idp_unreachable()))?;
        let output = rampart_iam::sts::assume_role_with_web_identity(&self.db, &self.sealer, now, typed, &plan, &keys)
            .map_err(fail)?
            .into_value();
        if let Some(shape) = op.output {
            draft.response_elements = Some(json::audit_json(&output, shape, REDACTED));
        }
        Ok(encode(service, op, output, request_id, partition::of_region(&self.config.region)))
    }

    /// Runs a `Prepared` handler's slow first step on a blocking thread; the write follows.
    async fn run_prepare(&self, p: PrepareStep, now: OffsetDateTime, request_id: &str) -> Result<WriteStep, Failure> {
        let service = p.write.service;
        let fail =
            |e: WireError| Failure { error: Box::new(e), protocol: service.protocol, namespace: service.xml_namespace };
        let (db, sealer, rid) = (self.db.clone(), self.sealer.clone(), request_id.to_owned());
        let orgs = self.org_policies.clone();
        tokio::task::spawn_blocking(move || {
            let PrepareStep { prepare, mut write, region, endpoint } = p;
            let ctx = Ctx {
                principal: &write.principal,
                db: &db,
                sealer: &sealer,
                now,
                request_id: &rid,
                event_id: "",
                region: &region,
                endpoint: rampart_core::Endpoint { configured: Some(&endpoint), host: "", tls: false },
                orgs: Some(&*orgs),
                asked: rampart_core::Asked { resources: &write.resources, keys: &write.keys },
                prefetched: None,
                later: None,
            };
            write.input = prepare(&ctx, std::mem::replace(&mut write.input, Value::Struct(Vec::new())))?;
            Ok(write)
        })
        .await
        .unwrap_or_else(|_| Err(ServiceError::internal()))
        .map_err(|e| fail(from_service(e)))
    }

    /// Runs a state-changing handler in a transaction that also writes its audit event.
    async fn run_write(
        &self,
        w: WriteStep,
        draft: Draft,
        origin: &Origin,
        request_id: &str,
        now: OffsetDateTime,
    ) -> Result<Success, (Failure, Draft)> {
        let (service, op) = (w.service, w.op);
        let partition = partition::of_region(&w.region);
        let fail = |error: WireError| Failure {
            error: Box::new(error),
            protocol: service.protocol,
            namespace: service.xml_namespace,
        };
        let sealer = self.sealer.clone();
        // The event but for its response, serialized and packed here, before the transaction: the
        // store's single writer thread only splices the response in.
        let mut without_response = draft.clone();
        let preset = without_response.response_elements.take();
        let skeleton = AUDIT
            .then(|| audit::event(without_response, origin, request_id, now, &self.config.region, None))
            .and_then(|ev| rampart_cloudtrail::record_json(&ev))
            .and_then(|json| rampart_cloudtrail::stored::Skeleton::new(&json));
        let result = self
            .db
            .transact(move |tx| -> Result<Value, ServiceError> {
                let ctx = TxCtx {
                    principal: &w.principal,
                    sealer: &sealer,
                    now,
                    region: &w.region,
                    refused: &w.refused,
                    asked: rampart_core::Asked { resources: &w.resources, keys: &w.keys },
                    prepared: w.prepared.as_deref(),
                };
                let output = (w.handler)(tx, &ctx, w.input)?;
                if !AUDIT {
                    return Ok(output);
                }
                let response = match op.output {
                    Some(shape) => Some(json::audit_json(&output, shape, REDACTED)),
                    None => preset,
                };
                let response = serde_json::to_vec(&response).map_err(|_| ServiceError::internal())?;
                let record = skeleton.ok_or_else(ServiceError::internal)?.with_response(&response);
                // INVARIANT: the event commits in the same transaction as the change, or neither does.
                tx.log_append(rampart_cloudtrail::position(now), &record)?;
                Ok(output)
            })
            .await;
        match result {
            // The answer is encoded here, off the store's single writer thread.
            Ok(output) => Ok(encode(service, op, output, request_id, partition)),
            Err(TxError::Aborted(e)) => Err((fail(from_service(e)), draft)),
            Err(TxError::Store(e)) => {
                tracing::error!(request_id, error = %e, "transaction failed");
                Err((fail(from_service(ServiceError::from(e))), draft))
            }
        }
    }
}

/// Writes the request log's line for one request (target `rampart::request`, level info): who,
/// what, the decision and the outcome. No secret reaches it: the principal is an ARN or an access
/// key id, and an error's message is the one the client was sent.
pub(crate) fn request_log(
    draft: &Draft,
    origin: &Origin,
    request_id: &str,
    status: u16,
    error: Option<(&str, &str)>,
    started: std::time::Instant,
) {
    if !tracing::enabled!(target: "rampart::request", tracing::Level::INFO) {
        return;
    }
    let principal = draft
        .identity
        .as_ref()
        .and_then(|i| i.arn.as_deref())
        .or(draft.access_key_id.as_deref())
        .unwrap_or("anonymous");
    let service = draft.event_source.as_deref().map_or("-", |s| s.strip_suffix(".amazonaws.com").unwrap_or(s));
    let operation = draft.event_name.as_deref().unwrap_or("-");
    let decision = match error {
        None => "allowed",
        Some((code, message)) if code == "AccessDenied" || code == "AccessDeniedException" => {
            // AWS names the policy type that decided: "because no identity-based policy allows…",
            // "with an explicit deny in a service control policy".
            message.split_once(" because ").or_else(|| message.split_once(" with ")).map_or("denied", |(_, why)| why)
        }
        Some((code, _)) => code,
    };
    tracing::info!(
        target: "rampart::request",
        request_id,
        source = %origin.source_ip,
        principal,
        operation = %format_args!("{service}:{operation}"),
        decision,
        status,
        latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    );
}

/// Whether successful requests are audited: always, but in a build for measuring what auditing
/// costs (the `bench-no-audit` feature; see `scripts/audit-overhead.sh`).
pub(crate) const AUDIT: bool = !cfg!(feature = "bench-no-audit");

/// A state-changing operation, ready to run in a transaction.
pub struct WriteStep {
    handler: WriteFn,
    input: Value,
    principal: Principal,
    service: &'static Service,
    op: &'static Operation,
    region: String,
    /// Items of a batch the caller was refused (see `TxCtx::refused`).
    refused: Vec<usize>,
    /// What the request was authorized on (see `TxCtx::asked`).
    resources: Vec<String>,
    keys: Vec<(String, Vec<String>)>,
    /// Work done for it before its transaction (see `TxCtx::prepared`).
    prepared: Option<Box<dyn std::any::Any + Send + Sync>>,
}

/// Work a write's handler would otherwise do on the store's one writer, done on the request's task:
/// the MD5 of a PutObject's body (its ETag).
fn before_write(service: &Service, op: &Operation, input: &Value) -> Option<Box<dyn std::any::Any + Send + Sync>> {
    if service.endpoint_prefix != "s3" || op.name != "PutObject" {
        return None;
    }
    let body = restxml::blob_payload(op, input)?;
    Some(Box::new(rampart_s3::Md5Of::new(body)))
}

/// A `Prepared` operation: its first step, then its write.
pub struct PrepareStep {
    prepare: crate::dispatch::PrepareFn,
    write: WriteStep,
    region: String,
    endpoint: String,
}

/// The handler chosen for one request.
enum HandlerRef<'a> {
    Read(&'a ReadFn),
    Write(WriteFn),
}

/// Where the synchronous part of the pipeline ends.
/// Marks a request (in its extensions) asked about before its body: the pipeline stops once it is
/// authorized ([`Step::Allowed`]).
#[derive(Clone, Copy)]
pub(crate) struct BeforeBody;

enum Step {
    Done(Success),
    /// An upload asked about before its body (see [`BeforeBody`]): allowed so far.
    Allowed,
    Write(Box<WriteStep>),
    /// An AssumeRoleWithWebIdentity input, to run once the provider's keys are at hand.
    WebIdentity(Box<Value>),
    /// A `Prepared` operation, whose first step runs on a blocking thread.
    Prepare(Box<PrepareStep>),
    /// Dev mode: the account an unknown key names has no dev user yet; create it, then process
    /// the request again (`failure`: the answer, in the request's protocol, should that fail).
    DevUser {
        account: String,
        failure: Failure,
    },
}

/// Every string of a value (map keys too) through `f`; blobs (an object's bytes) stay as they are.
fn each_string(v: &mut Value, f: &dyn Fn(&str) -> Option<String>) {
    match v {
        Value::String(s) => {
            if let Some(new) = f(s) {
                *s = new;
            }
        }
        Value::List(items) => items.iter_mut().for_each(|i| each_string(i, f)),
        Value::Map(entries) => {
            for (k, v) in entries {
                if let Some(new) = f(k) {
                    *k = new;
                }
                each_string(v, f);
            }
        }
        Value::Struct(members) => members.iter_mut().flatten().for_each(|m| each_string(m, f)),
        _ => {}
    }
}

/// A request's input with its partition's ARNs in Rampart's inner form (`rampart_core::partition`).
fn to_inner_form(input: &mut Value, partition: &str) {
    if partition != "aws" {
        each_string(input, &|s| partition::inward(s, partition));
    }
}

/// The answer in the request's partition (see `rampart_core::partition`), encoded.
fn encode(
    service: &'static Service,
    op: &'static Operation,
    mut output: Value,
    request_id: &str,
    partition: &str,
) -> Success {
    if partition != "aws" {
        each_string(&mut output, &|s| partition::outward(s, partition));
    }
    let (content_type, body) = match service.protocol {
        Protocol::Query => ("text/xml", query::encode_response(service, op, Some(&output), request_id)),
        Protocol::RestXml => {
            // An object's bytes become the body as they are: a download is held once, not twice.
            let payload = restxml::take_blob_payload(op, &mut output);
            let mut r = restxml::encode_output(op, &output, restxml::s3_root_element(op.name), service.xml_namespace);
            if let Some(bytes) = payload {
                r.body = bytes;
            }
            let mut headers = r.headers;
            // The body's own length is sent by the server; a HEAD answer states the object's.
            if op.http_method != "HEAD" {
                headers.retain(|(k, _)| !k.eq_ignore_ascii_case("Content-Length"));
            }
            headers.push(("x-amz-request-id".to_owned(), request_id.to_owned()));
            // A served range is partial content, as S3 answers it.
            let partial = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("Content-Range"));
            return Success {
                status: if partial { 206 } else { r.status },
                content_type: r.content_type.unwrap_or_else(|| "application/xml".to_owned()),
                headers,
                body: Bytes::from(r.body),
                later: None,
            };
        }
        Protocol::RestJson => {
            let r = rampart_wire::restjson::encode_output(op, &output);
            return Success {
                status: r.status,
                content_type: r.content_type.unwrap_or_else(|| "application/json".to_owned()),
                headers: r.headers,
                body: Bytes::from(r.body),
                later: None,
            };
        }
        Protocol::Json => {
            (json_content_type(service), op.output.map_or_else(|| "{}".to_owned(), |s| json::encode(&output, s)))
        }
    };
    Success {
        status: 200,
        content_type: content_type.to_owned(),
        headers: Vec::new(),
        body: Bytes::from(body),
        later: None,
    }
}

/// `application/x-amz-json-1.0` or `-1.1`, as the service's model says.
fn json_content_type(service: &Service) -> &'static str {
    match service.json_version {
        Some("1.0") => "application/x-amz-json-1.0",
        _ => "application/x-amz-json-1.1",
    }
}

/// S3's error for an `aws-chunked` body that does not parse, or has a small chunk before the last.
fn chunked_error(e: &SigV4Error) -> WireError {
    let mut error = WireError::new(e.code(), e.status(), e.to_string());
    if let SigV4Error::InvalidChunkSize { chunk, size } = e {
        error.details = Box::new([("Chunk", chunk.to_string()), ("BadChunkSize", size.to_string())]);
    }
    error
}

/// Refuses an `x-amz-content-sha256` that is none of the forms S3 knows, with S3's own error
/// (before the signature is checked against it).
fn check_content_sha256(value: Option<&str>) -> Result<(), WireError> {
    const FORMS: &[&str] = &[
        "UNSIGNED-PAYLOAD",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    ];
    match value {
        None => Ok(()),
        Some(v) if FORMS.contains(&v) || (v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())) => Ok(()),
        Some(_) => Err(WireError::new(
            "InvalidArgument",
            400,
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, \
             STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, \
             STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid \
             sha256 value.",
        )),
    }
}

/// Decodes a rest-xml input, first undoing `aws-chunked` framing: its trailing checksums are read
/// as the headers they stand for. A signed body's chunk signatures were checked with the request's
/// (`Verifier::verify`); SigV4a's ECDSA streaming is refused, as SigV4a itself is.
/// A request's headers as SigV4 signs them. The host is the Host header's, else the URI's
/// authority (HTTP/2, absolute-form requests).
fn signed_headers<'a>(parts: &'a http::request::Parts, authority: Option<&'a str>) -> Vec<(&'a str, &'a [u8])> {
    let h = &parts.headers;
    let mut headers: Vec<(&str, &[u8])> = h.iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
    if !h.contains_key(http::header::HOST)
        && let Some(host) = authority
    {
        headers.push(("host", host.as_bytes()));
    }
    headers
}

impl App {
    /// An S3 upload's authentication failure found from its headers, before its body is read: what
    /// S3 answers a client waiting for `100 Continue`, which then never sends the body. `None`
    /// when the headers authenticate or cannot tell (no signature: an anonymous request, weighed
    /// later; no payload hash among them; a dev-mode key), and the body is read as usual.
    /// See <https://docs.aws.amazon.com/AmazonS3/latest/API/RESTRedirect.html#RESTRedirect100Continue>.
    fn unauthenticated_before_body(&self, parts: &http::request::Parts) -> Option<WireError> {
        let host = parts.uri.authority().map(|a| a.as_str().to_owned());
        let headers = signed_headers(parts, host.as_deref());
        let query = parts.uri.query().unwrap_or("");
        let sreq = rampart_sigv4::Request {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query,
            headers: &headers,
            body: &[],
        };
        let presigned = query.contains("X-Amz-Signature=");
        let auth = match rampart_sigv4::parse(&sreq) {
            Ok(auth) => auth,
            Err(SigV4Error::MissingAuthenticationToken) => return None,
            Err(e) => return Some(s3_auth_error(&e, None, presigned)),
        };
        if auth.scope.service != "s3" {
            return None;
        }
        match crate::authn::authenticate_headers(self, &sreq, &auth, OffsetDateTime::now_utc()) {
            Err(AuthnError::SigV4(e)) if !matches!(e, SigV4Error::ContentSha256Mismatch) => {
                Some(s3_auth_error(&e, Some(&auth.access_key_id), presigned))
            }
            _ => None,
        }
    }

    /// Whether an S3 request's signer is known and its signature holds before its body has
    /// arrived, from its headers (an upload waiting for room in memory; the whole request is
    /// checked again once its body is in).
    pub fn authenticated_before_body(&self, parts: &http::request::Parts) -> bool {
        let host = parts.uri.authority().map(|a| a.as_str().to_owned());
        let headers = signed_headers(parts, host.as_deref());
        let sreq = rampart_sigv4::Request {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &headers,
            body: &[],
        };
        match rampart_sigv4::parse(&sreq) {
            Ok(auth) => crate::authn::authenticates_before_body(self, &sreq, &auth, OffsetDateTime::now_utc()),
            Err(_) => false,
        }
    }
}

/// Whether a request signed for `s3` is S3 Control's rather than S3's. Both sign as `s3`; S3
/// Control's calls carry the account in `x-amz-account-id` (the SDKs also put it in front of the
/// host, `ACCOUNT.s3-control.REGION…`, which a custom endpoint turns into `ACCOUNT.ENDPOINT`) and
/// every path of its API begins with its version, `/v20180820/`. An S3 request never sends that
/// header, so a bucket named `v20180820` stays S3's.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_AWS_S3_Control.html>.
fn is_s3_control(signing_name: &str, path: &str, h: &http::HeaderMap) -> bool {
    signing_name == "s3" && path.starts_with("/v20180820/") && h.contains_key("x-amz-account-id")
}

fn rest_xml_input(
    shape: &'static rampart_shapes::Shape,
    labels: &[(&'static str, &str)],
    query: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Result<Value, WireError> {
    let content_sha = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-content-sha256"))
        .and_then(|(_, v)| std::str::from_utf8(v).ok());
    let (payload, trailers) = match content_sha {
        Some(v @ ("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD" | "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER")) => {
            return Err(WireError::new(
                "NotImplemented",
                501,
                format!("Rampart does not accept SigV4a, nor x-amz-content-sha256: {v}; sign with SigV4."),
            ));
        }
        Some(v) => match chunked::Mode::of(v) {
            Some(mode) => {
                let decoded = chunked::decode(body, mode).map_err(|e| chunked_error(&e))?;
                (decoded.data, decoded.trailers)
            }
            None => (Vec::new(), Vec::new()),
        },
        None => (Vec::new(), Vec::new()),
    };
    let chunked = content_sha.is_some_and(|v| v.starts_with("STREAMING-"));
    if chunked {
        let header_of = |name: &str| {
            headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| std::str::from_utf8(v).ok())
        };
        // The decoded length the client declared, and the trailer it announced, must be what came.
        if let Some(declared) = header_of("x-amz-decoded-content-length")
            && declared.trim().parse::<usize>().ok() != Some(payload.len())
        {
            return Err(WireError::new(
                "IncompleteBody",
                400,
                "You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header",
            ));
        }
        if let Some(announced) = header_of("x-amz-trailer") {
            let missing = announced
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .any(|t| !trailers.iter().any(|(k, _)| *k == t));
            if missing {
                return Err(WireError::new(
                    "MalformedTrailerError",
                    400,
                    "The request contained trailing data that was not well-formed or did not conform to our published schema.",
                ));
            }
        }
    }
    let mut all: Vec<(&str, &[u8])> = headers.to_vec();
    all.extend(trailers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())));
    let req = restxml::HttpRequest { labels, query, headers: &all, body: if chunked { &payload } else { body } };
    restxml::decode_input(shape, &req)
}

/// The input with its payload member (an object's bytes) left out, for the audit record.
fn without_payload<'v>(input: &'v Value, shape: &rampart_shapes::Shape) -> std::borrow::Cow<'v, Value> {
    let (rampart_shapes::Kind::Structure(st), Value::Struct(fields)) = (&shape.kind, input) else {
        return std::borrow::Cow::Borrowed(input);
    };
    let Some(payload) = st.payload.and_then(|p| st.member_index(p)).map(Some) else {
        return std::borrow::Cow::Borrowed(input);
    };
    std::borrow::Cow::Owned(Value::Struct(
        fields
            .iter()
            .enumerate()
            .map(|(i, f)| if Some(i) == payload && matches!(f, Some(Value::Blob(_))) { None } else { f.clone() })
            .collect(),
    ))
}

/// Whether an operation's body is its input's blob payload (an object's bytes, PutObject's and
/// UploadPart's), which nothing before the handler reads.
fn body_is_blob(op: &Operation) -> bool {
    let Some(rampart_shapes::Kind::Structure(st)) = op.input.map(|s| &s.kind) else { return false };
    let payload = st.payload.and_then(|p| st.member_index(p)).and_then(|i| st.members.get(i));
    payload.is_some_and(|m| matches!(m.shape.kind, rampart_shapes::Kind::Blob(_)))
}

fn not_implemented(service: &Service, op: &Operation) -> WireError {
    WireError::new(
        "NotImplemented",
        501,
        format!("Rampart does not implement {}:{} yet", service.signing_name, op.name),
    )
}
