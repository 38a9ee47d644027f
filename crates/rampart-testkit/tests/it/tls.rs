//! TLS with a self-signed certificate: HTTP/1.1 and HTTP/2 by ALPN, with signed requests.

use std::sync::Arc;
use std::time::SystemTime;

use aws_sigv4::http_request::SignatureLocation;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rampart_testkit::{TestServer, sign_request};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

async fn tls_call(server: &TestServer, alpn: &[u8]) -> (u16, String, Option<Vec<u8>>) {
    let cert = CertificateDer::from_pem_file(server.data_dir().join("tls/cert.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let addr = server.endpoint.trim_start_matches("https://").to_owned();
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let negotiated = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let req = http::Request::post(format!("https://{addr}/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"Action=GetCallerIdentity&Version=2011-06-15".to_vec())
        .unwrap();
    let req = sign_request(
        req,
        &server.access_key_id,
        &server.secret_access_key,
        "sts",
        SystemTime::now(),
        SignatureLocation::Headers,
    )
    .unwrap();
    let (parts, body) = req.into_parts();
    let io = TokioIo::new(stream);
    let resp = if alpn == b"h2" {
        let (mut send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.unwrap();
        tokio::spawn(conn);
        let mut parts = parts;
        parts.headers.remove(http::header::HOST);
        send.send_request(http::Request::from_parts(parts, Full::new(Bytes::from(body)))).await.unwrap()
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        let mut parts = parts;
        parts.uri = "/".parse().unwrap();
        send.send_request(http::Request::from_parts(parts, Full::new(Bytes::from(body)))).await.unwrap()
    };
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned(), negotiated)
}

#[tokio::test]
async fn self_signed_tls_serves_http1_and_http2() {
    let server = TestServer::start_with(|c| c.tls_self_signed = true).await.unwrap();
    assert!(server.endpoint.starts_with("https://"));
    for alpn in [&b"http/1.1"[..], b"h2"] {
        let (status, body, negotiated) = tls_call(&server, alpn).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("<Arn>arn:aws:iam::123456789012:root</Arn>"), "{body}");
        assert_eq!(negotiated.as_deref(), Some(alpn));
    }
    let events = server.audit_events(2).await.unwrap();
    assert!(events[0]["tlsDetails"]["tlsVersion"].as_str().unwrap().starts_with("TLSv1."), "{}", events[0]);
}
