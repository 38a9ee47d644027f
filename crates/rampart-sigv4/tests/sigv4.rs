//! SigV4 verification against AWS's published vectors and the `aws-sigv4` signer as an oracle.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_arguments,
    reason = "tests fail loudly"
)]

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use proptest::prelude::*;
use rampart_sigv4::{Request, SigV4Error, Verifier, parse};
use time::OffsetDateTime;

const EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap()
}

/// 2015-08-30T12:36:00Z, the time of AWS's test suite.
const SUITE_TIME: i64 = 1_440_938_160;

fn verify_parts(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
    secret: &str,
    now: OffsetDateTime,
    s3: bool,
) -> Result<String, SigV4Error> {
    let req = Request { method, path, query, headers, body };
    let auth = parse(&req)?;
    Verifier::new().verify(&req, &auth, secret.as_bytes(), now, s3)?;
    Ok(auth.access_key_id)
}

fn suite_case(query: &str, signature: &str) -> Result<String, SigV4Error> {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"
    );
    let headers: [(&str, &[u8]); 3] =
        [("host", b"example.amazonaws.com"), ("x-amz-date", b"20150830T123600Z"), ("authorization", auth.as_bytes())];
    verify_parts("GET", "/", query, &headers, b"", EXAMPLE_SECRET, at(SUITE_TIME), false)
}

#[test]
fn aws_test_suite_get_vanilla() {
    assert_eq!(
        suite_case("", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31").as_deref(),
        Ok("AKIDEXAMPLE")
    );
}

#[test]
fn aws_test_suite_get_vanilla_query_order_key_case() {
    let sig = "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500";
    assert!(suite_case("Param2=value2&Param1=value1", sig).is_ok());
    // The same signature does not cover another query.
    assert_eq!(suite_case("Param2=value2&Param1=value3", sig).map_err(|e| e.code()), Err("SignatureDoesNotMatch"));
}

struct Signed {
    req: http::Request<Vec<u8>>,
}

impl Signed {
    fn check(&self, secret: &str, now: OffsetDateTime, s3: bool) -> Result<String, SigV4Error> {
        let headers: Vec<(&str, &[u8])> = self.req.headers().iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
        verify_parts(
            self.req.method().as_str(),
            self.req.uri().path(),
            self.req.uri().query().unwrap_or(""),
            &headers,
            self.req.body(),
            secret,
            now,
            s3,
        )
    }
}

fn sign_with_oracle(
    method: &str,
    uri: &str,
    headers: &[(String, String)],
    body: &[u8],
    service: &str,
    when: i64,
    location: SignatureLocation,
    token: Option<&str>,
) -> Signed {
    let creds = aws_credential_types::Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        EXAMPLE_SECRET,
        token.map(str::to_owned),
        None,
        "test",
    );
    let identity = creds.into();
    let mut settings = SigningSettings::default();
    settings.signature_location = location;
    settings.expires_in = Some(Duration::from_secs(300));
    if service == "s3" {
        // As the S3 client signs: the path as sent, and the payload hash in a header.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let unsigned_header = headers.iter().any(|(k, v)| k == "x-amz-content-sha256" && v == "UNSIGNED-PAYLOAD");
    // S3 presigned URLs sign UNSIGNED-PAYLOAD, as the S3 client's presigner does.
    let unsigned = unsigned_header || (service == "s3" && matches!(location, SignatureLocation::QueryParams));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(when).unwrap()))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let mut all = vec![("host".to_owned(), "127.0.0.1:4566".to_owned())];
    all.extend(headers.iter().cloned());
    let signable = SignableRequest::new(
        method,
        uri,
        all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        if unsigned { SignableBody::UnsignedPayload } else { SignableBody::Bytes(body) },
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (k, v) in all.iter().filter(|(k, _)| !(unsigned_header && k == "x-amz-content-sha256")) {
        builder = builder.header(k, v);
    }
    let mut req = builder.body(body.to_vec()).unwrap();
    instructions.apply_to_request_http1x(&mut req);
    Signed { req }
}

const NOW: i64 = 1_760_000_000;

fn simple(location: SignatureLocation) -> Signed {
    sign_with_oracle(
        "POST",
        "http://127.0.0.1:4566/?Action=GetCallerIdentity&Version=2011-06-15",
        &[("content-type".into(), "application/x-www-form-urlencoded".into())],
        b"",
        "sts",
        NOW,
        location,
        None,
    )
}

#[test]
fn wrong_secret_is_signature_does_not_match() {
    let s = simple(SignatureLocation::Headers);
    assert!(s.check(EXAMPLE_SECRET, at(NOW), false).is_ok());
    let e = s.check("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEX", at(NOW), false).unwrap_err();
    assert_eq!((e.code(), e.status()), ("SignatureDoesNotMatch", 403));
}

#[test]
fn clock_skew_beyond_fifteen_minutes_is_request_expired() {
    let s = simple(SignatureLocation::Headers);
    assert!(s.check(EXAMPLE_SECRET, at(NOW + 14 * 60), false).is_ok());
    assert!(s.check(EXAMPLE_SECRET, at(NOW - 14 * 60), false).is_ok());
    let late = s.check(EXAMPLE_SECRET, at(NOW + 16 * 60), false).unwrap_err();
    assert_eq!(late.code(), "RequestExpired");
    assert!(late.to_string().starts_with("Signature expired: "), "{late}");
    let early = s.check(EXAMPLE_SECRET, at(NOW - 16 * 60), false).unwrap_err();
    assert!(early.to_string().starts_with("Signature not yet current: "), "{early}");
}

#[test]
fn presigned_url_verifies_until_it_expires() {
    let s = simple(SignatureLocation::QueryParams);
    assert!(s.req.headers().get("authorization").is_none());
    assert!(s.check(EXAMPLE_SECRET, at(NOW + 299), false).is_ok());
    let e = s.check(EXAMPLE_SECRET, at(NOW + 301), false).unwrap_err();
    assert_eq!((e.code(), e.status()), ("RequestExpired", 400));
}

#[test]
fn session_token_is_reported() {
    let s = sign_with_oracle(
        "GET",
        "http://127.0.0.1:4566/?Action=GetCallerIdentity",
        &[],
        b"",
        "sts",
        NOW,
        SignatureLocation::Headers,
        Some("tok/en=="),
    );
    let headers: Vec<(&str, &[u8])> = s.req.headers().iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
    let req = Request { method: "GET", path: "/", query: s.req.uri().query().unwrap(), headers: &headers, body: b"" };
    assert_eq!(parse(&req).unwrap().security_token.as_deref(), Some("tok/en=="));
    assert!(s.check(EXAMPLE_SECRET, at(NOW), false).is_ok());
}

#[test]
fn malformed_authorization_headers_get_aws_codes() {
    let cases: &[(&str, &str)] = &[
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws4_request, SignedHeaders=host",
            "IncompleteSignature",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts, SignedHeaders=host, Signature=00",
            "IncompleteSignature",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws5_request, SignedHeaders=host, Signature=00",
            "SignatureDoesNotMatch",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws4_request, SignedHeaders=x-amz-date, Signature=00",
            "SignatureDoesNotMatch",
        ),
        ("AWS3 Credential=AKID/20150830/us-east-1/sts/aws4_request", "IncompleteSignature"),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws4_request, Credential=x, SignedHeaders=host, Signature=00",
            "IncompleteSignature",
        ),
        ("", "IncompleteSignature"),
    ];
    for (auth, code) in cases {
        let headers: [(&str, &[u8]); 3] =
            [("host", b"h"), ("x-amz-date", b"20150830T123600Z"), ("authorization", auth.as_bytes())];
        let req = Request { method: "GET", path: "/", query: "", headers: &headers, body: b"" };
        assert_eq!(parse(&req).map(|_| ()).map_err(|e| e.code()), Err(*code), "{auth}");
    }
    let none = Request { method: "GET", path: "/", query: "Action=X", headers: &[], body: b"" };
    assert_eq!(parse(&none).unwrap_err(), SigV4Error::MissingAuthenticationToken);
}

#[test]
fn scope_date_must_match_request_date() {
    let s = simple(SignatureLocation::Headers);
    let auth = s.req.headers()["authorization"].to_str().unwrap().to_owned();
    let tampered = auth.replace(&format!("/{}/", &s.req.headers()["x-amz-date"].to_str().unwrap()[..8]), "/20010101/");
    let mut req = s.req;
    req.headers_mut().insert("authorization", tampered.parse().unwrap());
    let e = Signed { req }.check(EXAMPLE_SECRET, at(NOW), false).unwrap_err();
    assert!(e.to_string().starts_with("Date in Credential scope does not match"), "{e}");
}

#[test]
fn unsigned_payload_is_only_for_s3() {
    let s = sign_with_oracle(
        "PUT",
        "http://127.0.0.1:4566/bucket/key",
        &[("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into())],
        b"data",
        "s3",
        NOW,
        SignatureLocation::Headers,
        None,
    );
    // The oracle signs with the header's value as the payload hash.
    assert!(s.check(EXAMPLE_SECRET, at(NOW), true).is_ok());
    assert_eq!(s.check(EXAMPLE_SECRET, at(NOW), false).unwrap_err().code(), "SignatureDoesNotMatch");
}

fn segment() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[A-Za-z0-9._~-]".prop_map(|s| s),
            prop::sample::select(vec!["%20", "%2F", "%E1%88%B4", ":", "@", "%25"]).prop_map(str::to_owned),
        ],
        1..6,
    )
    .prop_map(|v| v.concat())
}

fn query_part() -> impl Strategy<Value = String> {
    prop::collection::vec(("[A-Za-z][A-Za-z0-9.]{0,8}", "[A-Za-z0-9._~-]{0,8}", any::<bool>()), 0..5).prop_map(|ps| {
        ps.into_iter()
            .map(|(k, v, enc)| if enc { format!("{k}={}", v.replace('.', "%2E")) } else { format!("{k}={v}") })
            .collect::<Vec<_>>()
            .join("&")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the official signer signs, we verify; any change to a signed byte is rejected.
    #[test]
    fn oracle_signed_requests_verify_and_tampering_fails(
        method in prop::sample::select(vec!["GET", "POST", "PUT", "DELETE"]),
        segs in prop::collection::vec(segment(), 0..4),
        query in query_part(),
        headers in prop::collection::vec(("x-amz-meta-[a-z]{1,6}", "[ -~]{0,12}"), 0..3),
        body in prop::collection::vec(any::<u8>(), 0..64),
        s3 in any::<bool>(),
        presigned in any::<bool>(),
        flip in any::<usize>(),
    ) {
        let mut headers = headers;
        headers.sort();
        headers.dedup_by(|a, b| a.0 == b.0);
        let path = format!("/{}", segs.join("/"));
        let uri = if query.is_empty() { format!("http://127.0.0.1:4566{path}") } else { format!("http://127.0.0.1:4566{path}?{query}") };
        let service = if s3 { "s3" } else { "sts" };
        let location = if presigned { SignatureLocation::QueryParams } else { SignatureLocation::Headers };
        let body = if presigned && !s3 { Vec::new() } else { body };
        let signed = sign_with_oracle(method, &uri, &headers, &body, service, NOW, location, None);
        prop_assert_eq!(signed.check(EXAMPLE_SECRET, at(NOW), s3), Ok("AKIAIOSFODNN7EXAMPLE".to_owned()));

        // Tamper with a signed part: the body (when its hash is signed) or the signature-covered query.
        let mut req = signed.req.clone();
        if !body.is_empty() && !presigned {
            let i = flip % body.len();
            req.body_mut()[i] ^= 0x01;
        } else {
            let uri = req.uri().to_string();
            let tampered = if uri.contains('?') { format!("{uri}&zz=1") } else { format!("{uri}?zz=1") };
            *req.uri_mut() = tampered.parse().unwrap();
        }
        let err = Signed { req }.check(EXAMPLE_SECRET, at(NOW), s3).unwrap_err();
        prop_assert_eq!(err.code(), "SignatureDoesNotMatch");
    }
}
