//! Fetching OIDC providers' signing keys: the discovery document
//! (`ISSUER/.well-known/openid-configuration`), then its `jwks_uri`, over HTTPS only, cached.
//!
//! TLS trust is AWS's: a certificate chain a trusted CA (the system's roots) issued, or else a
//! chain whose top certificate's SHA-1 thumbprint is one the provider was registered with.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc_verify-thumbprint.html>.
//! Keys are cached per issuer and thumbprint list for an hour, and fetched again when a token
//! names a key id the cached set lacks (at most once a second per issuer: a flood of tokens with
//! invented key ids cannot turn Rampart into a request amplifier against the provider).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use rampart_iam::iam::OidcProviderRecord;
use rampart_iam::jwt::JwkSet;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

/// How long a fetched key set is used before it is fetched again.
const KEYS_TTL: Duration = Duration::from_secs(3600);
/// The least time between two fetches for one issuer.
const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// Each network step (connect, TLS, response) must finish within this.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest discovery document or key set read.
const MAX_BODY: usize = 256 * 1024;

struct Cached {
    keys: Arc<JwkSet>,
    fetched: Instant,
}

/// The key sets of the providers tokens were presented for.
#[derive(Default)]
pub struct OidcKeys {
    cache: Mutex<HashMap<String, Cached>>,
    /// Whether issuers may resolve to loopback, private or link-local addresses. Off by default:
    /// whoever may register a provider must not make Rampart reach into its own network.
    allow_private: bool,
}

/// Why keys could not be fetched (logged; the caller sees IDPCommunicationError).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Url(String),
    #[error("connecting: {0}")]
    Io(#[from] std::io::Error),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("timed out")]
    Timeout,
    #[error("the response is not what was expected: {0}")]
    Body(String),
}

impl OidcKeys {
    pub fn new(allow_private: bool) -> Self {
        Self { cache: Mutex::default(), allow_private }
    }

    /// The provider's keys, from the cache when it is fresh and has `kid`, else fetched.
    pub async fn keys(&self, provider: &OidcProviderRecord, kid: Option<&str>) -> Result<Arc<JwkSet>, FetchError> {
        let cache_key = format!("{}\n{}", provider.url, provider.thumbprints.join(","));
        let stale = {
            let cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match cache.get(&cache_key) {
                Some(c) => {
                    let fresh = c.fetched.elapsed() < KEYS_TTL;
                    let has_kid = kid.is_none_or(|k| c.keys.has_kid(k));
                    if (fresh && has_kid) || c.fetched.elapsed() < REFRESH_EVERY {
                        return Ok(c.keys.clone());
                    }
                    Some(c.keys.clone())
                }
                None => None,
            }
        };
        match fetch_keys(&provider.issuer(), &provider.thumbprints, self.allow_private).await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                cache.insert(cache_key, Cached { keys: keys.clone(), fetched: Instant::now() });
                Ok(keys)
            }
            Err(e) => {
                tracing::warn!(issuer = %provider.issuer(), error = %e, "cannot fetch an OIDC provider's keys");
                // A provider briefly unreachable keeps working with the keys it had.
                stale.ok_or(e)
            }
        }
    }
}

/// Discovery, then the key set.
async fn fetch_keys(issuer: &str, thumbprints: &[String], allow_private: bool) -> Result<JwkSet, FetchError> {
    let discovery = get(&format!("{issuer}/.well-known/openid-configuration"), thumbprints, allow_private).await?;
    let doc: serde_json::Value =
        serde_json::from_slice(&discovery).map_err(|e| FetchError::Body(format!("discovery document: {e}")))?;
    let jwks_uri = doc
        .get("jwks_uri")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| FetchError::Body("the discovery document has no jwks_uri".into()))?;
    let body = get(jwks_uri, thumbprints, allow_private).await?;
    serde_json::from_slice(&body).map_err(|e| FetchError::Body(format!("key set: {e}")))
}

/// One HTTPS GET, bounded in time and size.
/// Whether an address is one an outside identity provider cannot have: loopback, private,
/// link-local, shared (CGNAT), unspecified, multicast, or IPv6 unique-local.
fn internal(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
        }
        std::net::IpAddr::V6(v6) => {
            let first = v6.segments().first().copied().unwrap_or(0);
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| internal(std::net::IpAddr::V4(v4)))
        }
    }
}

async fn get(url: &str, thumbprints: &[String], allow_private: bool) -> Result<Bytes, FetchError> {
    let uri: http::Uri = url.parse().map_err(|_| FetchError::Url(format!("{url} is not a URL")))?;
    if uri.scheme_str() != Some("https") {
        return Err(FetchError::Url(format!("{url} is not https")));
    }
    let host = uri.host().ok_or_else(|| FetchError::Url(format!("{url} has no host")))?.to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let addrs = tokio::time::timeout(STEP_TIMEOUT, tokio::net::lookup_host((host.as_str(), port)))
        .await
        .map_err(|_| FetchError::Timeout)??;
    let addr = addrs
        .into_iter()
        .find(|a| allow_private || !internal(a.ip()))
        .ok_or_else(|| FetchError::Url(format!("{host} resolves to no public address")))?;
    let tcp = tokio::time::timeout(STEP_TIMEOUT, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| FetchError::Timeout)??;
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| FetchError::Http(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Trust::new(thumbprints)?))
        .with_no_client_auth();
    let name = ServerName::try_from(host.clone()).map_err(|_| FetchError::Url(format!("{host} is not a host")))?;
    let tls = tokio::time::timeout(STEP_TIMEOUT, tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp))
        .await
        .map_err(|_| FetchError::Timeout)??;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| FetchError::Http(e.to_string()))?;
    let driver = tokio::spawn(conn);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let authority = uri.authority().map_or(host.clone(), |a| a.as_str().to_owned());
    let request = http::Request::get(path)
        .header(http::header::HOST, authority)
        .header(http::header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .map_err(|e| FetchError::Http(e.to_string()))?;
    let result = async {
        let response = tokio::time::timeout(STEP_TIMEOUT, sender.send_request(request))
            .await
            .map_err(|_| FetchError::Timeout)?
            .map_err(|e| FetchError::Http(e.to_string()))?;
        if response.status() != http::StatusCode::OK {
            return Err(FetchError::Http(format!("{url} answered {}", response.status())));
        }
        let body = tokio::time::timeout(STEP_TIMEOUT, Limited::new(response.into_body(), MAX_BODY).collect())
            .await
            .map_err(|_| FetchError::Timeout)?
            .map_err(|e| FetchError::Body(e.to_string()))?;
        Ok(body.to_bytes())
    }
    .await;
    driver.abort();
    result
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The system's trusted roots, loaded once.
static ROOTS: LazyLock<Arc<RootCertStore>> = LazyLock::new(|| {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!("no system CA certificates: OIDC providers need registered thumbprints");
    }
    Arc::new(roots)
});

/// A CA-issued chain, or one pinned by the SHA-1 thumbprint of its top certificate.
#[derive(Debug)]
struct Trust {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    thumbprints: Vec<String>,
    provider: Arc<CryptoProvider>,
}

impl Trust {
    fn new(thumbprints: &[String]) -> Result<Self, FetchError> {
        let provider = provider();
        let roots = ROOTS.clone();
        let webpki = if roots.is_empty() {
            None
        } else {
            Some(
                WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| FetchError::Http(e.to_string()))?,
            )
        };
        Ok(Self { webpki, thumbprints: thumbprints.to_vec(), provider })
    }
}

/// The hex SHA-1 of a certificate, as IAM thumbprints are written.
fn thumbprint(cert: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, cert);
    data_encoding::HEXLOWER.encode(digest.as_ref())
}

impl ServerCertVerifier for Trust {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let by_ca = match &self.webpki {
            Some(v) => v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now),
            None => Err(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)),
        };
        match by_ca {
            Ok(ok) => Ok(ok),
            Err(e) => {
                let top = intermediates.last().unwrap_or(end_entity);
                let print = thumbprint(top.as_ref());
                if self.thumbprints.iter().any(|t| t.eq_ignore_ascii_case(&print)) {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(e)
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_are_lower_hex_sha1() {
        // SHA-1("abc"), FIPS 180-2 appendix A.
        assert_eq!(thumbprint(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[tokio::test]
    async fn only_https_urls_are_fetched() {
        assert!(matches!(get("http://127.0.0.1:1/x", &[], true).await, Err(FetchError::Url(_))));
        assert!(matches!(get("not a url", &[], true).await, Err(FetchError::Url(_))));
        // Internal addresses are refused before any connection is made.
        assert!(matches!(get("https://127.0.0.1:1/x", &[], false).await, Err(FetchError::Url(_))));
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "0.0.0.0",
        ] {
            assert!(internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(!internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
