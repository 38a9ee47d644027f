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

/// Checks a signed request's headers alone, as if its body had not arrived.
fn check_headers(s: &Signed, secret: &str) -> Result<(), SigV4Error> {
    let headers: Vec<(&str, &[u8])> = s.req.headers().iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
    let req = Request {
        method: s.req.method().as_str(),
        path: s.req.uri().path(),
        query: s.req.uri().query().unwrap_or(""),
        headers: &headers,
        body: b"",
    };
    let auth = parse(&req)?;
    Verifier::new().verify_headers(&req, &auth, secret.as_bytes(), at(NOW))
}

#[test]
fn an_s3_signature_is_checked_on_its_headers_before_the_body_arrives() {
    // A signed payload hash: the signature holds on the headers, and the body is checked later.
    let s = sign_with_oracle(
        "PUT",
        "http://127.0.0.1:4566/bucket/key",
        &[],
        b"the part",
        "s3",
        NOW,
        SignatureLocation::Headers,
        None,
    );
    assert!(check_headers(&s, EXAMPLE_SECRET).is_ok());
    assert_eq!(
        check_headers(&s, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEX").unwrap_err().code(),
        "SignatureDoesNotMatch"
    );
    // The full check still reads the body: another body does not pass.
    let mut other = Signed { req: s.req.clone() };
    *other.req.body_mut() = b"another part".to_vec();
    assert_eq!(other.check(EXAMPLE_SECRET, at(NOW), true).unwrap_err().code(), "SignatureDoesNotMatch");
    // A presigned URL's payload is unsigned.
    let presigned = sign_with_oracle(
        "PUT",
        "http://127.0.0.1:4566/bucket/key",
        &[],
        b"x",
        "s3",
        NOW,
        SignatureLocation::QueryParams,
        None,
    );
    assert!(check_headers(&presigned, EXAMPLE_SECRET).is_ok());
    // Without x-amz-content-sha256 a header-signed request cannot be checked before its body.
    let mut bare = Signed { req: s.req.clone() };
    bare.req.headers_mut().remove("x-amz-content-sha256");
    assert!(check_headers(&bare, EXAMPLE_SECRET).is_err());
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

/// Signed streaming: the request of AWS's own example (66,560 bytes of `a` in chunks of 64 KiB and
/// 1 KiB), its chunks signed by the `aws-sigv4` signer from the seed signature the page gives.
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html#example-signature-calculations-streaming>
mod streaming {
    use super::*;
    use aws_smithy_runtime_api::http::Headers;

    /// 2013-05-24T00:00:00Z, the time of the example.
    const EXAMPLE_TIME: i64 = 1_369_353_600;
    const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    /// The S3 pages' example secret (a `/` where the general pages have a `+`).
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn params(identity: &aws_smithy_runtime_api::client::identity::Identity) -> v4::SigningParams<'_, ()> {
        v4::SigningParams::builder()
            .identity(identity)
            .region("us-east-1")
            .name("s3")
            .time(SystemTime::UNIX_EPOCH + Duration::from_secs(EXAMPLE_TIME as u64))
            .settings(())
            .build()
            .unwrap()
    }

    fn identity() -> aws_smithy_runtime_api::client::identity::Identity {
        aws_credential_types::Credentials::new("AKIAIOSFODNN7EXAMPLE", SECRET, None, None, "test").into()
    }

    /// The example request's headers, in the given streaming mode.
    fn headers(mode: &str) -> Vec<(&'static str, String)> {
        vec![
            ("host", "s3.amazonaws.com".into()),
            ("x-amz-date", "20130524T000000Z".into()),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY".into()),
            ("x-amz-content-sha256", mode.into()),
            ("content-encoding", "aws-chunked".into()),
            ("x-amz-decoded-content-length", "66560".into()),
            ("content-length", "66824".into()),
        ]
    }

    const PATH: &str = "/examplebucket/chunkObject.txt";

    /// The seed signature the oracle gives the example request in `mode`.
    fn seed(mode: &str) -> String {
        let identity = identity();
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("s3")
            .time(SystemTime::UNIX_EPOCH + Duration::from_secs(EXAMPLE_TIME as u64))
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let headers = headers(mode);
        let uri = format!("https://s3.amazonaws.com{PATH}");
        let signable = SignableRequest::new(
            "PUT",
            &uri,
            headers.iter().map(|(k, v)| (*k, v.as_str())),
            SignableBody::Precomputed(mode.to_owned()),
        )
        .unwrap();
        sign(signable, &params).unwrap().signature().to_owned()
    }

    /// The chunked body of `chunks`, each signed with the oracle from `seed`; with `trailer`, a
    /// signed trailer.
    fn chunked_body(seed: &str, chunks: &[&[u8]], trailer: Option<(&str, &str)>) -> (Vec<u8>, Vec<String>) {
        let identity = identity();
        let params = params(&identity);
        let mut running = seed.to_owned();
        let mut body = Vec::new();
        let mut signatures = Vec::new();
        for chunk in chunks.iter().copied().chain([&b""[..]]) {
            let sig = v4::sign_chunk(&bytes::Bytes::copy_from_slice(chunk), &running, &params).unwrap().into_parts().1;
            body.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", chunk.len()).as_bytes());
            if !chunk.is_empty() {
                body.extend_from_slice(chunk);
                body.extend_from_slice(b"\r\n");
            }
            running = sig.clone();
            signatures.push(sig);
        }
        if let Some((name, value)) = trailer {
            let mut headers = Headers::new();
            headers.insert(name.to_owned(), value.to_owned());
            let sig = v4::sign_trailer(&headers, &running, &params).unwrap().into_parts().1;
            body.extend_from_slice(format!("{name}:{value}\r\nx-amz-trailer-signature:{sig}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        (body, signatures)
    }

    /// Verifies the example request in `mode`, signed with `seed`, carrying `body`.
    fn check_with(seed: &str, body: &[u8], mode: &str) -> Result<String, SigV4Error> {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature={seed}"
        );
        let mut headers: Vec<(&str, &[u8])> = Vec::new();
        let owned = self::headers(mode);
        headers.extend(owned.iter().map(|(k, v)| (*k, v.as_bytes())));
        headers.push(("authorization", auth.as_bytes()));
        verify_parts("PUT", PATH, "", &headers, body, SECRET, at(EXAMPLE_TIME), true)
    }

    fn check(body: &[u8], mode: &str) -> Result<String, SigV4Error> {
        check_with(SEED, body, mode)
    }

    const SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";

    #[test]
    fn the_example_verifies_with_the_documented_chunk_signatures() {
        let a = vec![b'a'; 66_560];
        let (body, signatures) = chunked_body(SEED, &[&a[..65_536], &a[65_536..]], None);
        assert_eq!(body.len(), 66_824, "the example's Content-Length");
        assert_eq!(seed(SIGNED), SEED, "the oracle signs the example's headers as the page does");
        assert_eq!(
            signatures,
            [
                "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
            ]
        );
        assert_eq!(check(&body, SIGNED).as_deref(), Ok("AKIAIOSFODNN7EXAMPLE"));
        let decoded = rampart_sigv4::chunked::decode(&body, rampart_sigv4::chunked::Mode::Signed).unwrap();
        assert_eq!(decoded.data, a);
    }

    #[test]
    fn altered_reordered_or_cut_chunks_are_refused() {
        let a = vec![b'a'; 66_560];
        let (body, _) = chunked_body(SEED, &[&a[..65_536], &a[65_536..]], None);
        // One byte of data changed.
        let mut altered = body.clone();
        altered[100] = b'b';
        assert_eq!(check(&altered, SIGNED).unwrap_err().code(), "SignatureDoesNotMatch");
        // Two chunks, each with its own signature line, sent in the other order.
        let (x, y) = (vec![b'x'; 8192], vec![b'y'; 8192]);
        let (pair, _) = chunked_body(SEED, &[&x, &y], None);
        assert!(check(&pair, SIGNED).is_ok());
        let one = 4 + 17 + 64 + 2 + 8192 + 2;
        let swapped = [&pair[one..2 * one], &pair[..one], &pair[2 * one..]].concat();
        assert_eq!(check(&swapped, SIGNED).unwrap_err().code(), "SignatureDoesNotMatch");
        // The last data chunk dropped, the final chunk kept.
        let first = 88 + 65_538;
        let mut cut = body[..first].to_vec();
        cut.extend_from_slice(&body[first + 86 + 1026..]);
        assert_eq!(check(&cut, SIGNED).unwrap_err().code(), "SignatureDoesNotMatch");
        // The final chunk missing.
        assert_eq!(check(&body[..first + 86 + 1026], SIGNED).unwrap_err().code(), "IncompleteBody");
        // Signed mode, unsigned chunks.
        let plain = format!("{:x}\r\n{}\r\n0\r\n\r\n", 3, "abc");
        assert_eq!(check(plain.as_bytes(), SIGNED).unwrap_err().code(), "IncompleteBody");
    }

    #[test]
    fn a_signed_trailer_verifies_and_an_altered_one_does_not() {
        let mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
        let seed = seed(mode);
        let check = |body: &[u8], mode: &str| check_with(&seed, body, mode);
        let data = vec![b'z'; 10_000];
        let (body, _) = chunked_body(&seed, &[&data[..], b"end"], Some(("x-amz-checksum-crc32", "sOO8/Q==")));
        assert_eq!(check(&body, mode).as_deref(), Ok("AKIAIOSFODNN7EXAMPLE"));
        let decoded = rampart_sigv4::chunked::decode(&body, rampart_sigv4::chunked::Mode::SignedTrailer).unwrap();
        assert_eq!(decoded.trailers, [("x-amz-checksum-crc32".to_owned(), "sOO8/Q==".to_owned())]);
        let text = String::from_utf8_lossy(&body).replace("sOO8/Q==", "AAAAAA==");
        assert_eq!(check(text.as_bytes(), mode).unwrap_err().code(), "SignatureDoesNotMatch");
        // A trailer in the mode without one is refused, its signature good or not.
        let (body, _) = chunked_body(SEED, &[b"end"], Some(("x-amz-checksum-crc32", "sOO8/Q==")));
        assert_eq!(check_with(SEED, &body, SIGNED).unwrap_err().code(), "IncompleteBody");
    }
}

/// A POST form's signature signs its base64 policy with the scope's signing key: AWS's worked
/// example, <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-post-example.html> (its policy
/// has CRLF line ends).
#[test]
fn a_post_form_signs_its_policy() {
    let text = [
        r#"{ "expiration": "2015-12-30T12:00:00.000Z","#,
        r#"  "conditions": ["#,
        r#"    {"bucket": "sigv4examplebucket"},"#,
        r#"    ["starts-with", "$key", "user/user1/"],"#,
        r#"    {"acl": "public-read"},"#,
        r#"    {"success_action_redirect": "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html"},"#,
        r#"    ["starts-with", "$Content-Type", "image/"],"#,
        r#"    {"x-amz-meta-uuid": "14365123651274"},"#,
        r#"    {"x-amz-server-side-encryption": "AES256"},"#,
        r#"    ["starts-with", "$x-amz-meta-tag", ""],"#,
        "",
        r#"    {"x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"},"#,
        r#"    {"x-amz-algorithm": "AWS4-HMAC-SHA256"},"#,
        r#"    {"x-amz-date": "20151229T000000Z" }"#,
        "  ]",
        "}",
    ]
    .join("\r\n");
    let policy = data_encoding::BASE64.encode(text.as_bytes());
    let secret = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let signature = "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e";
    let check = |signature: &str, date: &str| {
        let form = |name: &str| -> Option<&str> {
            match name {
                "policy" => Some(&policy),
                "x-amz-algorithm" => Some("AWS4-HMAC-SHA256"),
                "x-amz-credential" => Some("AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"),
                "x-amz-date" => Some(date),
                "x-amz-signature" => Some(signature),
                _ => None,
            }
        };
        let auth = rampart_sigv4::parse_post(form)?;
        assert_eq!(auth.post_policy.as_deref(), Some(policy.as_str()));
        assert_eq!(auth.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        let req = Request { method: "POST", path: "/", query: "", headers: &[], body: b"" };
        // Years after its date: a form is bounded by its policy's expiration, not the clock skew.
        Verifier::new().verify(&req, &auth, secret, at(SUITE_TIME + 10 * 365 * 86_400), true)
    };
    assert_eq!(check(signature, "20151229T000000Z"), Ok(()));
    let wrong = signature.replace("8afd", "8afe");
    assert_eq!(check(&wrong, "20151229T000000Z").unwrap_err().code(), "SignatureDoesNotMatch");
    // The date signed must be the scope's.
    assert_eq!(check(signature, "20151230T000000Z").unwrap_err().code(), "SignatureDoesNotMatch");
    assert_eq!(rampart_sigv4::parse_post(|_| None).unwrap_err(), SigV4Error::MissingAuthenticationToken);
    let unsigned = rampart_sigv4::parse_post(|n| (n == "policy").then_some("e30=")).unwrap_err();
    assert!(unsigned.to_string().contains("x-amz-algorithm"), "{unsigned}");
}
