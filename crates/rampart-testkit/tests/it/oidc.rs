//! OIDC federation end to end: a small local OIDC issuer (HTTPS with a self-signed certificate,
//! pinned by its thumbprint as IAM pins providers), the IAM provider API, and
//! AssumeRoleWithWebIdentity through the SDK — happy path, and each way a token can be wrong.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair};
use bytes::Bytes;
use data_encoding::BASE64URL_NOPAD;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use rampart_testkit::TestServer;
use serde_json::json;

use crate::iam::{err, root};

/// An OIDC issuer on loopback: discovery document, key set, and tokens signed with its key.
struct Issuer {
    url: String,
    thumbprint: String,
    keys: Arc<Mutex<Vec<(String, RsaKeyPair)>>>,
    jwks_hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn b64(b: &[u8]) -> String {
    BASE64URL_NOPAD.encode(b)
}

fn jwks(keys: &[(String, RsaKeyPair)]) -> String {
    let keys: Vec<_> = keys
        .iter()
        .map(|(kid, k)| {
            let pk = k.public_key();
            json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                   "n": b64(pk.modulus().big_endian_without_leading_zero()),
                   "e": b64(pk.exponent().big_endian_without_leading_zero())})
        })
        .collect();
    json!({ "keys": keys }).to_string()
}

impl Issuer {
    async fn start() -> Issuer {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let der = cert.cert.der().to_vec();
        let thumbprint = data_encoding::HEXLOWER
            .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der).as_ref());
        let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![der.into()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let keys = Arc::new(Mutex::new(vec![(
            "k1".to_owned(),
            RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap(),
        )]));
        let jwks_hits = Arc::new(AtomicUsize::new(0));
        let (k, hits, issuer) = (keys.clone(), jwks_hits.clone(), url.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (acceptor, k, hits, issuer) = (acceptor.clone(), k.clone(), hits.clone(), issuer.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let body = match req.uri().path() {
                            "/.well-known/openid-configuration" => {
                                json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")}).to_string()
                            }
                            "/jwks" => {
                                hits.fetch_add(1, Ordering::SeqCst);
                                jwks(&k.lock().unwrap())
                            }
                            _ => String::new(),
                        };
                        let status = if body.is_empty() { 404 } else { 200 };
                        let mut r = http::Response::new(Full::new(Bytes::from(body)));
                        *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
                        async move { Ok::<_, Infallible>(r) }
                    });
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });
        Issuer { url, thumbprint, keys, jwks_hits, task }
    }

    /// The provider's URL as IAM stores it, without the scheme.
    fn host(&self) -> &str {
        self.url.trim_start_matches("https://")
    }

    /// A token signed with the issuer's current key (the last one), with these claims.
    fn token(&self, claims: serde_json::Value) -> String {
        let keys = self.keys.lock().unwrap();
        let (kid, key) = keys.last().unwrap();
        sign(kid, key, &claims)
    }

    /// Standard claims for `sub`, valid for ten minutes.
    fn claims(&self, sub: &str, aud: &str) -> serde_json::Value {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        json!({"iss": self.url, "sub": sub, "aud": aud, "iat": now, "exp": now + 600, "amr": ["pwd", "mfa"]})
    }

    /// Rotates in a new signing key; the old one stays published.
    fn rotate(&self, kid: &str) {
        let key = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        self.keys.lock().unwrap().push((kid.to_owned(), key));
    }
}

fn sign(kid: &str, key: &RsaKeyPair, claims: &serde_json::Value) -> String {
    let header = json!({"alg": "RS256", "kid": kid, "typ": "JWT"}).to_string();
    let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.to_string().as_bytes()));
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig).unwrap();
    format!("{input}.{}", b64(&sig))
}

/// A trust policy for the issuer, with conditions on the token's claims.
fn trust(host: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::123456789012:oidc-provider/{host}")},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {format!("{host}:aud"): "rampart-app"},
            "StringLike": {format!("{host}:sub"): "repo:coffee/*"},
            "ForAnyValue:StringEquals": {format!("{host}:amr"): "mfa"}
        }
    }]})
    .to_string()
}

/// An STS client with no credentials at all: AssumeRoleWithWebIdentity is unsigned.
pub(crate) fn anonymous_sts(server: &TestServer) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        // The SDK retries IDPCommunicationError; one request per call keeps the counts exact.
        .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

async fn web_identity(
    sts: &aws_sdk_sts::Client,
    token: &str,
) -> Result<aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityOutput, (String, String)> {
    sts.assume_role_with_web_identity()
        .role_arn("arn:aws:iam::123456789012:role/Deployer")
        .role_session_name("ci-run-1")
        .web_identity_token(token)
        .send()
        .await
        .map_err(|e| {
            let se = e.into_service_error();
            let meta = aws_sdk_sts::error::ProvideErrorMetadata::meta(&se);
            (meta.code().unwrap_or("?").to_owned(), meta.message().unwrap_or("").to_owned())
        })
}

#[tokio::test]
async fn oidc_providers_are_managed_like_iam_documents() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let made = admin
        .create_open_id_connect_provider()
        .url("https://token.example.com")
        .client_id_list("app-1")
        .thumbprint_list("A".repeat(40))
        .tags(aws_sdk_iam::types::Tag::builder().key("team").value("ci").build().unwrap())
        .send()
        .await
        .unwrap();
    let arn = made.open_id_connect_provider_arn().unwrap().to_owned();
    assert_eq!(arn, "arn:aws:iam::123456789012:oidc-provider/token.example.com");
    let (code, message) = err(admin.create_open_id_connect_provider().url("https://token.example.com").send().await);
    assert_eq!(code, "EntityAlreadyExists", "{message}");
    let (code, _) = err(admin.create_open_id_connect_provider().url("http://plain.example.com").send().await);
    assert_eq!(code, "InvalidInput");

    admin
        .add_client_id_to_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .client_id("app-2")
        .send()
        .await
        .unwrap();
    admin
        .remove_client_id_from_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .client_id("app-1")
        .send()
        .await
        .unwrap();
    admin
        .update_open_id_connect_provider_thumbprint()
        .open_id_connect_provider_arn(&arn)
        .thumbprint_list("b".repeat(40))
        .send()
        .await
        .unwrap();
    let got = admin.get_open_id_connect_provider().open_id_connect_provider_arn(&arn).send().await.unwrap();
    assert_eq!(got.url(), Some("token.example.com"));
    assert_eq!(got.client_id_list(), ["app-2"]);
    assert_eq!(got.thumbprint_list(), ["b".repeat(40)]);
    assert_eq!(got.tags().len(), 1);
    let list = admin.list_open_id_connect_providers().send().await.unwrap();
    assert_eq!(list.open_id_connect_provider_list().len(), 1);

    // aws:ResourceTag on the provider decides: a user allowed only on team=web providers.
    admin.create_user().user_name("ivy").send().await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetOpenIDConnectProvider","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"web"}}}}"#;
    admin.put_user_policy().user_name("ivy").policy_name("p").policy_document(policy).send().await.unwrap();
    let k = admin.create_access_key().user_name("ivy").send().await.unwrap();
    let k = k.access_key().unwrap();
    let ivy = crate::iam::iam(&server, k.access_key_id(), k.secret_access_key());
    let (code, _) = err(ivy.get_open_id_connect_provider().open_id_connect_provider_arn(&arn).send().await);
    assert_eq!(code, "AccessDenied");
    admin
        .tag_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .tags(aws_sdk_iam::types::Tag::builder().key("team").value("web").build().unwrap())
        .send()
        .await
        .unwrap();
    assert!(ivy.get_open_id_connect_provider().open_id_connect_provider_arn(&arn).send().await.is_ok());

    admin.delete_open_id_connect_provider().open_id_connect_provider_arn(&arn).send().await.unwrap();
    let (code, _) = err(admin.get_open_id_connect_provider().open_id_connect_provider_arn(&arn).send().await);
    assert_eq!(code, "NoSuchEntity");
}

#[tokio::test]
async fn a_token_from_a_registered_issuer_assumes_a_role_and_bad_tokens_are_refused() {
    let issuer = Issuer::start().await;
    // The test issuer is on loopback, which Rampart refuses to reach unless told it may.
    let server = TestServer::start_with(|c| c.oidc_allow_private_addresses = true).await.unwrap();
    let admin = root(&server);
    let sts = anonymous_sts(&server);
    let good = issuer.token(issuer.claims("repo:coffee/shop", "rampart-app"));

    // No provider registered yet.
    let (code, message) = web_identity(&sts, &good).await.unwrap_err();
    assert_eq!(code, "InvalidIdentityToken");
    assert_eq!(message, format!("No OpenIDConnect provider found in your account for {}", issuer.url));

    admin.create_role().role_name("Deployer").assume_role_policy_document(trust(issuer.host())).send().await.unwrap();
    admin
        .attach_role_policy()
        .role_name("Deployer")
        .policy_arn("arn:aws:iam::aws:policy/IAMReadOnlyAccess")
        .send()
        .await
        .unwrap();
    // Registered, but with a thumbprint that is not the issuer's certificate: the TLS endpoint
    // is not trusted, so its keys are not fetched.
    let provider = admin
        .create_open_id_connect_provider()
        .url(&issuer.url)
        .client_id_list("rampart-app")
        .thumbprint_list("0".repeat(40))
        .send()
        .await
        .unwrap();
    let arn = provider.open_id_connect_provider_arn().unwrap().to_owned();
    let (code, _) = web_identity(&sts, &good).await.unwrap_err();
    assert_eq!(code, "IDPCommunicationError");
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), 0, "an untrusted endpoint is never asked for keys");

    admin
        .update_open_id_connect_provider_thumbprint()
        .open_id_connect_provider_arn(&arn)
        .thumbprint_list(&issuer.thumbprint)
        .send()
        .await
        .unwrap();
    let out = web_identity(&sts, &good).await.unwrap();
    assert_eq!(out.subject_from_web_identity_token(), Some("repo:coffee/shop"));
    assert_eq!(out.audience(), Some("rampart-app"));
    assert_eq!(out.provider(), Some(issuer.url.as_str()));
    let user = out.assumed_role_user().unwrap();
    assert_eq!(user.arn(), "arn:aws:sts::123456789012:assumed-role/Deployer/ci-run-1");
    let c = out.credentials().unwrap();
    assert!(c.access_key_id().starts_with("ASIA"));

    // The session has exactly the role's permissions.
    let session = crate::iam::iam_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    assert!(session.list_roles().send().await.is_ok());
    let (code, _) = err(session.create_user().user_name("x").send().await);
    assert_eq!(code, "AccessDenied");
    let me = crate::roles::sts_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.arn(), Some("arn:aws:sts::123456789012:assumed-role/Deployer/ci-run-1"));

    // A second request uses the cached keys.
    web_identity(&sts, &good).await.unwrap();
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), 1);

    // The trust policy's conditions on the claims: another repository; no MFA in amr.
    let other_repo = issuer.token(issuer.claims("repo:evil/shop", "rampart-app"));
    assert_eq!(web_identity(&sts, &other_repo).await.unwrap_err().0, "AccessDenied");
    let mut no_mfa = issuer.claims("repo:coffee/shop", "rampart-app");
    no_mfa["amr"] = json!(["pwd"]);
    assert_eq!(web_identity(&sts, &issuer.token(no_mfa)).await.unwrap_err().0, "AccessDenied");

    // An audience the provider does not list.
    let (code, message) =
        web_identity(&sts, &issuer.token(issuer.claims("repo:coffee/shop", "other-app"))).await.unwrap_err();
    assert_eq!((code.as_str(), message.as_str()), ("InvalidIdentityToken", "Incorrect token audience"));

    // Expired, and not yet valid.
    let mut expired = issuer.claims("repo:coffee/shop", "rampart-app");
    expired["exp"] = json!(expired["iat"].as_u64().unwrap() - 1);
    assert_eq!(web_identity(&sts, &issuer.token(expired)).await.unwrap_err().0, "ExpiredTokenException");
    let mut early = issuer.claims("repo:coffee/shop", "rampart-app");
    early["nbf"] = json!(early["exp"].clone());
    assert_eq!(web_identity(&sts, &issuer.token(early)).await.unwrap_err().0, "InvalidIdentityToken");

    // A token signed by a key the issuer never published, under its key id; a tampered one; junk.
    let forger = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let forged = sign("k1", &forger, &issuer.claims("repo:coffee/shop", "rampart-app"));
    assert_eq!(web_identity(&sts, &forged).await.unwrap_err().0, "InvalidIdentityToken");
    let parts: Vec<&str> = good.split('.').collect();
    let mut changed = issuer.claims("repo:coffee/admin", "rampart-app");
    changed["sub"] = json!("repo:coffee/admin");
    let tampered = format!("{}.{}.{}", parts[0], b64(changed.to_string().as_bytes()), parts[2]);
    assert_eq!(web_identity(&sts, &tampered).await.unwrap_err().0, "InvalidIdentityToken");
    assert_eq!(web_identity(&sts, "not.a.token").await.unwrap_err().0, "InvalidIdentityToken");

    // The issuer rotates its key: a token under the new key id makes Rampart fetch again (once
    // the last fetch is a second old: refreshes are rate-limited per issuer).
    issuer.rotate("k2");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let rotated = issuer.token(issuer.claims("repo:coffee/shop", "rampart-app"));
    assert!(web_identity(&sts, &rotated).await.is_ok());
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), 2);

    // The trail has the calls, without the tokens or the secrets.
    let calls = crate::events_named(&server, "AssumeRoleWithWebIdentity", 13).await;
    assert_eq!(calls.len(), 13, "every call is in the trail, allowed or not");
    assert!(calls.iter().any(|e| e["errorCode"] == "ExpiredTokenException"));
    let text = serde_json::to_string(&calls).unwrap();
    assert!(!text.contains(&good), "the web identity token is redacted");
    assert!(!text.contains(c.secret_access_key()), "the secret is redacted");
    assert!(!text.contains(c.session_token()), "the session token is redacted");
}

#[tokio::test]
async fn an_issuer_on_an_internal_address_is_not_reached_by_default() {
    let issuer = Issuer::start().await;
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_role().role_name("Deployer").assume_role_policy_document(trust(issuer.host())).send().await.unwrap();
    admin
        .create_open_id_connect_provider()
        .url(&issuer.url)
        .client_id_list("rampart-app")
        .thumbprint_list(&issuer.thumbprint)
        .send()
        .await
        .unwrap();
    let good = issuer.token(issuer.claims("repo:coffee/shop", "rampart-app"));
    let (code, _) = web_identity(&anonymous_sts(&server), &good).await.unwrap_err();
    assert_eq!(code, "IDPCommunicationError", "a loopback issuer is refused without oidc_allow_private_addresses");
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), 0);
}
