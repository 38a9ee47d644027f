//! The standing security suite: what an attacker's first afternoon tries, each case a request
//! that must be refused as AWS refuses it. New services add their cases here.

use std::time::SystemTime;

use aws_sigv4::http_request::SignatureLocation;
use rampart_testkit::{TestServer, send, sign_request};

fn xml_code(body: &str) -> &str {
    body.split("<Code>").nth(1).and_then(|r| r.split("</Code>").next()).unwrap_or("")
}

/// A root-signed S3 request for `path`, with `headers` signed and `unsigned` added after signing.
async fn s3_request(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    unsigned: &[(&str, &str)],
    body: &[u8],
) -> rampart_testkit::Raw {
    let sha = data_encoding::HEXLOWER.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body).as_ref());
    let mut req = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", server.endpoint))
        .header("x-amz-content-sha256", sha);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(body.to_vec()).unwrap();
    let mut signed = sign_request(
        req,
        &server.access_key_id,
        &server.secret_access_key,
        "s3",
        SystemTime::now(),
        SignatureLocation::Headers,
    )
    .unwrap();
    for (k, v) in unsigned {
        signed.headers_mut().insert(http::HeaderName::try_from(*k).unwrap(), http::HeaderValue::try_from(*v).unwrap());
    }
    send(signed).await.unwrap()
}

#[tokio::test]
async fn s3_refuses_x_amz_headers_that_were_not_signed() {
    let server = TestServer::start().await.unwrap();
    assert_eq!(s3_request(&server, "PUT", "/receipts", &[], &[], b"").await.status, 200);
    // Metadata slipped in after signing: refused as S3 refuses it, and nothing is stored.
    let r = s3_request(&server, "PUT", "/receipts/r1", &[], &[("x-amz-meta-approved", "yes")], b"1 latte").await;
    assert_eq!((r.status, xml_code(&r.body)), (403, "AccessDenied"), "{}", r.body);
    assert!(r.body.contains("<Message>There were headers present in the request which were not signed</Message>"));
    assert!(r.body.contains("<HeadersNotSigned>x-amz-meta-approved</HeadersNotSigned>"), "{}", r.body);
    let r = s3_request(&server, "GET", "/receipts/r1", &[], &[], b"").await;
    assert_eq!((r.status, xml_code(&r.body)), (404, "NoSuchKey"), "{}", r.body);
    // The same header, signed: stored.
    let r = s3_request(&server, "PUT", "/receipts/r1", &[("x-amz-meta-approved", "yes")], &[], b"1 latte").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s3_request(&server, "HEAD", "/receipts/r1", &[], &[], b"").await;
    assert_eq!(r.headers.get("x-amz-meta-approved").unwrap(), "yes");
    // Any x-amz- header counts, not only metadata.
    let r = s3_request(&server, "GET", "/receipts/r1", &[], &[("x-amz-request-payer", "requester")], b"").await;
    assert_eq!((r.status, xml_code(&r.body)), (403, "AccessDenied"), "{}", r.body);
}

#[tokio::test]
async fn a_malformed_content_sha256_is_a_400_never_a_5xx() {
    let server = TestServer::start().await.unwrap();
    assert_eq!(s3_request(&server, "PUT", "/bkt1", &[], &[], b"").await.status, 200);
    for bad in ["STREAMING-NOT-A-MODE", "abc", "UNSIGNED-PAYLOADX", "zz"] {
        let req = http::Request::put(format!("{}/bkt1/k", server.endpoint))
            .header("x-amz-content-sha256", bad)
            .body(b"x".to_vec())
            .unwrap();
        let r = server.signed(req, "s3").await.unwrap();
        assert_eq!((r.status, xml_code(&r.body)), (400, "InvalidArgument"), "{bad}: {}", r.body);
        assert!(r.body.contains("x-amz-content-sha256 must be UNSIGNED-PAYLOAD"), "{}", r.body);
    }
}

/// Whether `body` is a well-formed XML 1.0 document: only characters of XML's `Char` production
/// (<https://www.w3.org/TR/xml/#charsets>), which quick-xml does not check, and balanced markup.
fn well_formed(body: &str) -> bool {
    let char_ok =
        |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
    if !body.chars().all(char_ok) {
        return false;
    }
    let mut reader = quick_xml::Reader::from_str(body);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn errors_that_echo_input_stay_well_formed_xml() {
    let server = TestServer::start().await.unwrap();
    // Every control character XML 1.0 cannot hold, in a parameter a validation message echoes.
    for byte in (0u8..0x20).filter(|b| !matches!(b, b'\t' | b'\n' | b'\r')).chain([0x7f]) {
        let form = format!("Action=CreateUser&Version=2010-05-08&UserName=bad%{byte:02X}name");
        let r = server.signed(server.query_request(&form).unwrap(), "iam").await.unwrap();
        assert!((400..500).contains(&r.status), "byte {byte:#x}: {} {}", r.status, r.body);
        assert!(well_formed(&r.body), "byte {byte:#x}: not well-formed XML: {:?}", r.body);
    }
}

/// A raw S3 GET of `path`, signed with `id`/`secret` at `time`, in `location`.
async fn s3_signed_as(
    server: &TestServer,
    path: &str,
    id: &str,
    secret: &str,
    time: SystemTime,
    location: SignatureLocation,
) -> rampart_testkit::Raw {
    let req = http::Request::get(format!("{}{path}", server.endpoint))
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        .body(Vec::new())
        .unwrap();
    let mut req = sign_request(req, id, secret, "s3", time, location).unwrap();
    if location == SignatureLocation::QueryParams {
        req.headers_mut().remove("x-amz-content-sha256");
    }
    send(req).await.unwrap()
}

#[tokio::test]
async fn s3_speaks_its_own_authentication_errors() {
    let server = TestServer::start().await.unwrap();
    let (id, secret) = (server.access_key_id.clone(), server.secret_access_key.clone());
    assert_eq!(s3_request(&server, "PUT", "/auth-bucket", &[], &[], b"").await.status, 200);
    let now = SystemTime::now();
    let expect = |r: &rampart_testkit::Raw, status: u16, code: &str, message: &str| {
        assert_eq!((r.status, xml_code(&r.body)), (status, code), "{}", r.body);
        assert!(r.body.contains(&format!("<Message>{message}</Message>")), "{}", r.body);
        assert!(r.body.starts_with("<?xml"), "S3's error document: {}", r.body);
    };
    let h = SignatureLocation::Headers;
    let r = s3_signed_as(&server, "/auth-bucket", "AKIAUNKNOWNUNKNOWN00", &secret, now, h).await;
    expect(&r, 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
    let r = s3_signed_as(&server, "/auth-bucket", &id, "not-the-secret", now, h).await;
    expect(
        &r,
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    );
    let skewed = now - std::time::Duration::from_secs(20 * 60);
    let r = s3_signed_as(&server, "/auth-bucket", &id, &secret, skewed, h).await;
    expect(
        &r,
        403,
        "RequestTimeTooSkewed",
        "The difference between the request time and the current time is too large.",
    );
    // A presigned URL past its X-Amz-Expires (60 s here).
    let old = now - std::time::Duration::from_secs(120);
    let r = s3_signed_as(&server, "/auth-bucket", &id, &secret, old, SignatureLocation::QueryParams).await;
    expect(&r, 403, "AccessDenied", "Request has expired");
    // A presigned URL asking for more than a week.
    let req = http::Request::get(format!("{}/auth-bucket", server.endpoint)).body(Vec::new()).unwrap();
    let signed = sign_request(req, &id, &secret, "s3", now, SignatureLocation::QueryParams).unwrap();
    let uri = signed.uri().to_string().replace("X-Amz-Expires=60", "X-Amz-Expires=604801");
    let r = send(http::Request::get(uri).body(Vec::new()).unwrap()).await.unwrap();
    expect(
        &r,
        400,
        "AuthorizationQueryParametersError",
        "X-Amz-Expires must be less than a week (in seconds) that is 7 days",
    );
    // No signature: an anonymous request, which nothing allows.
    let r =
        send(http::Request::get(format!("{}/auth-bucket", server.endpoint)).body(Vec::new()).unwrap()).await.unwrap();
    expect(&r, 403, "AccessDenied", "Access Denied");
    // A session's key with an altered token.
    let session = crate::root_sts(&server).get_session_token().send().await.unwrap();
    let c = session.credentials().unwrap();
    let mut token = c.session_token().to_owned();
    let last = token.pop().unwrap();
    token.push(if last == 'A' { 'B' } else { 'A' });
    let s3 = crate::s3::s3_with(&server, c.access_key_id(), c.secret_access_key(), Some(&token));
    assert_eq!(crate::s3::code(s3.list_objects_v2().bucket("auth-bucket").send().await), "InvalidToken");
    // Deleted and inactive keys of a user are unknown to S3 alike.
    let iam = crate::iam::root(&server);
    iam.create_user().user_name("keyholder").send().await.unwrap();
    let k = iam.create_access_key().user_name("keyholder").send().await.unwrap();
    let (kid, ksecret) =
        (k.access_key().unwrap().access_key_id().to_owned(), k.access_key().unwrap().secret_access_key().to_owned());
    iam.update_access_key()
        .user_name("keyholder")
        .access_key_id(&kid)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let r = s3_signed_as(&server, "/auth-bucket", &kid, &ksecret, SystemTime::now(), h).await;
    assert_eq!(xml_code(&r.body), "InvalidAccessKeyId", "{}", r.body);
    iam.delete_access_key().user_name("keyholder").access_key_id(&kid).send().await.unwrap();
    let r = s3_signed_as(&server, "/auth-bucket", &kid, &ksecret, SystemTime::now(), h).await;
    assert_eq!(xml_code(&r.body), "InvalidAccessKeyId", "{}", r.body);
}

#[tokio::test]
async fn passing_a_role_to_a_service_needs_iam_pass_role() {
    let server = TestServer::start().await.unwrap();
    let root = crate::iam::root(&server);
    let trust = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
    root.create_role().role_name("admin-role").assume_role_policy_document(trust).send().await.unwrap();
    root.create_instance_profile().instance_profile_name("web").send().await.unwrap();
    root.create_user().user_name("dev").send().await.unwrap();
    let put = |doc: &'static str| root.put_user_policy().user_name("dev").policy_name("p").policy_document(doc).send();
    put(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:AddRoleToInstanceProfile","Resource":"*"}}"#)
        .await
        .unwrap();
    let k = root.create_access_key().user_name("dev").send().await.unwrap();
    let k = k.access_key().unwrap();
    let dev = crate::iam::iam(&server, k.access_key_id(), k.secret_access_key());
    let add = || dev.add_role_to_instance_profile().instance_profile_name("web").role_name("admin-role").send();
    // The classic escalation: hand an admin role to a machine you control. Refused without PassRole.
    let (code, message) = crate::iam::err(add().await);
    assert_eq!(code, "AccessDenied");
    assert!(
        message.contains(
            "is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/admin-role"
        ),
        "{message}"
    );
    // PassRole for another service only: still refused (iam:PassedToService).
    put(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:AddRoleToInstanceProfile","Resource":"*"},
        {"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}}}]}"#)
        .await
        .unwrap();
    assert_eq!(crate::iam::err(add().await).0, "AccessDenied");
    // PassRole to EC2, for this instance profile: allowed.
    put(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:AddRoleToInstanceProfile","Resource":"*"},
        {"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/admin-role","Condition":{"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com","iam:AssociatedResourceArn":"arn:aws:iam::123456789012:instance-profile/web"}}}]}"#)
        .await
        .unwrap();
    assert_eq!(crate::iam::err(add().await).0, "OK");
}

#[tokio::test]
async fn aws_chunked_bodies_must_be_what_they_declare() {
    let server = TestServer::start().await.unwrap();
    assert_eq!(s3_request(&server, "PUT", "/chunks", &[], &[], b"").await.status, 200);
    let put = |key: &str, decoded_length: &str, trailer: &str, body: &'static [u8]| {
        let req = http::Request::put(format!("{}/chunks/{key}", server.endpoint))
            .header("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
            .header("content-encoding", "aws-chunked")
            .header("x-amz-decoded-content-length", decoded_length)
            .header("x-amz-trailer", trailer)
            .body(body.to_vec())
            .unwrap();
        server.signed(req, "s3")
    };
    // CRC32 of "hello" is 0x3610a686.
    let good: &[u8] = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n";
    let r = put("ok", "5", "x-amz-checksum-crc32", good).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let r = put("long", "6", "x-amz-checksum-crc32", good).await.unwrap();
    assert_eq!((r.status, xml_code(&r.body)), (400, "IncompleteBody"), "{}", r.body);
    let no_trailer: &[u8] = b"5\r\nhello\r\n0\r\n\r\n";
    let r = put("untrailed", "5", "x-amz-checksum-crc32", no_trailer).await.unwrap();
    assert_eq!((r.status, xml_code(&r.body)), (400, "MalformedTrailerError"), "{}", r.body);
    let signed_chunk: &[u8] = b"5;chunk-signature=00\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n";
    let r = put("signed", "5", "x-amz-checksum-crc32", signed_chunk).await.unwrap();
    assert_eq!((r.status, xml_code(&r.body)), (400, "IncompleteBody"), "{}", r.body);
    // Only the good one was stored.
    for (key, status) in [("ok", 200), ("long", 404), ("untrailed", 404), ("signed", 404)] {
        assert_eq!(s3_request(&server, "HEAD", &format!("/chunks/{key}"), &[], &[], b"").await.status, status, "{key}");
    }
}

/// A signed-streaming PUT (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`) of `chunks`, each signed by the
/// official signer from the request's seed signature; `tamper` then changes one byte of data.
async fn put_signed_chunks(server: &TestServer, path: &str, chunks: &[&[u8]], tamper: bool) -> rampart_testkit::Raw {
    use aws_sigv4::sign::v4;
    let when = SystemTime::now();
    let decoded: usize = chunks.iter().map(|c| c.len()).sum();
    let req = http::Request::put(format!("{}{path}", server.endpoint))
        .header("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", decoded.to_string())
        .body(Vec::new())
        .unwrap();
    let (key, secret) = (&server.access_key_id, &server.secret_access_key);
    let mut req = sign_request(req, key, secret, "s3", when, SignatureLocation::Headers).unwrap();
    let authorization = req.headers()["authorization"].to_str().unwrap().to_owned();
    let mut running = authorization.rsplit("Signature=").next().unwrap().to_owned();
    let identity = aws_credential_types::Credentials::new(key, secret, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(when)
        .settings(())
        .build()
        .unwrap();
    let mut body = Vec::new();
    for chunk in chunks.iter().copied().chain([&b""[..]]) {
        let sig = v4::sign_chunk(&bytes::Bytes::copy_from_slice(chunk), &running, &params).unwrap().into_parts().1;
        body.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", chunk.len()).as_bytes());
        if !chunk.is_empty() {
            body.extend_from_slice(chunk);
            body.extend_from_slice(b"\r\n");
        }
        running = sig;
    }
    body.extend_from_slice(b"\r\n");
    if tamper {
        let at = body.iter().position(|b| *b == b'\n').unwrap() + 1;
        body[at] ^= 1;
    }
    *req.body_mut() = body;
    send(req).await.unwrap()
}

#[tokio::test]
async fn signed_chunks_are_checked_one_by_one() {
    let server = TestServer::start().await.unwrap();
    assert_eq!(s3_request(&server, "PUT", "/signed", &[], &[], b"").await.status, 200);
    let (big, tail) = (vec![b'k'; 70_000], b"the end".to_vec());
    let r = put_signed_chunks(&server, "/signed/good", &[&big, &tail], false).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got = s3_request(&server, "GET", "/signed/good", &[], &[], b"").await;
    assert_eq!(got.body.len(), 70_007);
    assert!(got.body.ends_with("the end"));
    // One byte of the first chunk changed after signing.
    let r = put_signed_chunks(&server, "/signed/altered", &[&big, &tail], true).await;
    assert_eq!((r.status, xml_code(&r.body)), (403, "SignatureDoesNotMatch"), "{}", r.body);
    // A chunk under 8 KiB before the last, signed or not, is refused as S3 refuses it.
    let r = put_signed_chunks(&server, "/signed/small", &[&tail, &big], false).await;
    assert_eq!((r.status, xml_code(&r.body)), (403, "InvalidChunkSizeError"), "{}", r.body);
    assert!(r.body.contains("<Chunk>1</Chunk><BadChunkSize>7</BadChunkSize>"), "{}", r.body);
    // No signature to chain from: an unsigned request cannot claim signed chunks.
    let anonymous = http::Request::put(format!("{}/signed/anonymous", server.endpoint))
        .header("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        .header("content-encoding", "aws-chunked")
        .body(b"0;chunk-signature=00\r\n\r\n".to_vec())
        .unwrap();
    let r = send(anonymous).await.unwrap();
    assert_eq!((r.status, xml_code(&r.body)), (400, "InvalidRequest"), "{}", r.body);
    for (key, status) in [("good", 200), ("altered", 404), ("small", 404), ("anonymous", 404)] {
        assert_eq!(s3_request(&server, "HEAD", &format!("/signed/{key}"), &[], &[], b"").await.status, status, "{key}");
    }
}

#[tokio::test]
async fn a_trust_policy_means_the_principal_it_named_not_a_later_one_of_the_same_name() {
    let server = TestServer::start().await.unwrap();
    let root = crate::iam::root(&server);
    let assume_any =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#;
    let new_bob = || async {
        let u = root.create_user().user_name("bob").send().await.unwrap();
        root.put_user_policy().user_name("bob").policy_name("assume").policy_document(assume_any).send().await.unwrap();
        let k = root.create_access_key().user_name("bob").send().await.unwrap();
        let k = k.access_key().unwrap();
        (u.user().unwrap().user_id().to_owned(), crate::sts_client(&server, k.access_key_id(), k.secret_access_key()))
    };
    let (old_id, old_bob) = new_bob().await;
    let trust = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/bob"},"Action":"sts:AssumeRole"}}"#;
    root.create_role().role_name("ops").assume_role_policy_document(trust).send().await.unwrap();
    let role = "arn:aws:iam::123456789012:role/ops";
    assert_eq!(crate::code(old_bob.assume_role().role_arn(role).role_session_name("session").send().await), "OK");

    // bob leaves; a new bob is made with the same name.
    let keys = root.list_access_keys().user_name("bob").send().await.unwrap();
    for k in keys.access_key_metadata() {
        root.delete_access_key().user_name("bob").access_key_id(k.access_key_id().unwrap()).send().await.unwrap();
    }
    root.delete_user_policy().user_name("bob").policy_name("assume").send().await.unwrap();
    root.delete_user().user_name("bob").send().await.unwrap();
    let (new_id, new_bob_sts) = new_bob().await;
    assert_ne!(new_id, old_id);
    // The new bob is not the one the trust policy meant.
    assert_eq!(
        crate::code(new_bob_sts.assume_role().role_arn(role).role_session_name("session").send().await),
        "AccessDenied"
    );
    // And the policy now shows the old bob's unique id, as IAM shows it.
    let got = root.get_role().role_name("ops").send().await.unwrap();
    let doc = percent_encoding::percent_decode_str(got.role().unwrap().assume_role_policy_document().unwrap())
        .decode_utf8()
        .unwrap()
        .into_owned();
    assert!(doc.contains(&old_id) && !doc.contains("user/bob"), "{doc}");
    // Naming bob again binds the policy to the new one.
    root.update_assume_role_policy().role_name("ops").policy_document(trust).send().await.unwrap();
    assert_eq!(crate::code(new_bob_sts.assume_role().role_arn(role).role_session_name("session").send().await), "OK");
}

/// Every file under `dir`, gunzipped when it is gzip.
fn files_under(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else { continue };
        let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut plain = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut plain).unwrap();
            plain
        } else {
            bytes
        };
        out.push((path, bytes));
    }
}

#[tokio::test]
async fn no_secret_a_test_makes_is_ever_stored_logged_or_trailed_in_clear() {
    let export = tempfile::tempdir().unwrap();
    let export_dir = export.path().to_owned();
    let server = TestServer::start_with(|c| {
        c.trail_delivery_secs = 1;
        c.trail_export_dir = Some(export_dir.clone());
    })
    .await
    .unwrap();
    let root = crate::iam::root(&server);
    let mut secrets: Vec<(String, String)> = vec![("root secret".into(), server.secret_access_key.clone())];
    let s3 = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    crate::cloudtrail::trail_bucket(&s3, "trail-bucket").await;
    let ct = crate::cloudtrail::trail(&server, &server.access_key_id, &server.secret_access_key, None);
    ct.create_trail().name("all").s3_bucket_name("trail-bucket").send().await.unwrap();
    ct.start_logging().name("all").send().await.unwrap();
    // A user's key, console password and MFA seed; a session's secret and token.
    root.create_user().user_name("carol").send().await.unwrap();
    let k = root.create_access_key().user_name("carol").send().await.unwrap();
    secrets.push(("user secret".into(), k.access_key().unwrap().secret_access_key().to_owned()));
    let password = "Correct-Horse-Battery-42!";
    root.create_login_profile().user_name("carol").password(password).send().await.unwrap();
    secrets.push(("password".into(), password.to_owned()));
    let mfa = root.create_virtual_mfa_device().virtual_mfa_device_name("carol-phone").send().await.unwrap();
    let seed = mfa.virtual_mfa_device().unwrap().base32_string_seed().unwrap().as_ref().to_vec();
    secrets.push(("MFA seed".into(), String::from_utf8(seed).unwrap()));
    let session = crate::root_sts(&server).get_session_token().send().await.unwrap();
    let c = session.credentials().unwrap();
    secrets.push(("session secret".into(), c.secret_access_key().to_owned()));
    secrets.push(("session token".into(), c.session_token().to_owned()));
    // Let the trail deliver and export what was recorded: its first file, within a minute.
    for _ in 0..600 {
        let mut exported = Vec::new();
        files_under(&export_dir, &mut exported);
        if exported.iter().any(|(p, _)| p.to_string_lossy().contains("CloudTrail")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let events = server.audit_events(5).await.unwrap();
    assert!(events.iter().any(|e| e["eventName"] == "CreateAccessKey"));
    let mut server = server;
    server.stop().await;

    let mut files = Vec::new();
    files_under(&server.data_dir(), &mut files);
    files_under(&export_dir, &mut files);
    assert!(files.iter().any(|(p, _)| p.to_string_lossy().contains("CloudTrail")), "the trail delivered nothing");
    let trail = serde_json::to_string(&events).unwrap();
    for (what, secret) in &secrets {
        assert!(!trail.contains(secret.as_str()), "the {what} is in an audit event");
        for (path, bytes) in &files {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            // The root key's secret is in the credentials file, on purpose and mode 0600.
            let allowed = what == "root secret" && path.ends_with("root-credentials");
            assert!(!found || allowed, "the {what} is in {} in clear", path.display());
        }
    }
}

/// One request of each wire protocol Rampart serves: its service, a request, and whether its
/// errors are JSON.
fn per_protocol(server: &TestServer) -> Vec<(&'static str, http::Request<Vec<u8>>, bool)> {
    let json = http::Request::post(format!("{}/", server.endpoint))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListTrails")
        .body(b"{}".to_vec())
        .unwrap();
    let rest = http::Request::get(format!("{}/", server.endpoint))
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        .body(Vec::new())
        .unwrap();
    vec![
        ("sts", server.query_request("Action=GetCallerIdentity&Version=2011-06-15").unwrap(), false),
        ("cloudtrail", json, true),
        ("s3", rest, false),
    ]
}

/// The error code of a response in its protocol's format, checking the body is well-formed.
fn error_code(body: &str, is_json: bool) -> String {
    if is_json {
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
        v["__type"].as_str().unwrap_or_default().to_owned()
    } else {
        assert!(well_formed(body), "not well-formed XML: {body}");
        xml_code(body).to_owned()
    }
}

#[tokio::test]
async fn every_protocol_refuses_bad_signatures_in_its_own_format() {
    let server = TestServer::start().await.unwrap();
    let (id, secret) = (server.access_key_id.clone(), server.secret_access_key.clone());
    let now = SystemTime::now();
    let skewed = now - std::time::Duration::from_secs(20 * 60);
    for (i, (service, req, is_json)) in per_protocol(&server).into_iter().enumerate() {
        let (parts, body) = req.into_parts();
        let fresh = || http::Request::from_parts(parts.clone(), body.clone());
        // (what, the request as sent, the code the service answers with)
        let s3 = service == "s3";
        let sign = |id: &str, secret: &str, time: SystemTime| {
            sign_request(fresh(), id, secret, service, time, SignatureLocation::Headers).unwrap()
        };
        // An x-amz- header added after signing.
        let mut with_unsigned = sign(&id, &secret, now);
        with_unsigned.headers_mut().insert("x-amz-request-payer", http::HeaderValue::from_static("requester"));
        // Signed for one host, sent with another.
        let mut tampered = sign(&id, &secret, now);
        let port = server.running.as_ref().unwrap().addr.port();
        tampered.headers_mut().insert("host", http::HeaderValue::try_from(format!("localhost:{port}")).unwrap());
        let cases = [
            ("unsigned", fresh(), if s3 { "AccessDenied" } else { "MissingAuthenticationToken" }),
            (
                "unknown key",
                sign("AKIAUNKNOWNUNKNOWN00", &secret, now),
                if s3 { "InvalidAccessKeyId" } else { "InvalidClientTokenId" },
            ),
            ("wrong secret", sign(&id, "wrong-secret", now), "SignatureDoesNotMatch"),
            // STS's common errors say RequestExpired; S3 has its own.
            ("skewed clock", sign(&id, &secret, skewed), if s3 { "RequestTimeTooSkewed" } else { "RequestExpired" }),
            ("tampered host", tampered, "SignatureDoesNotMatch"),
            ("unsigned x-amz header", with_unsigned, if s3 { "AccessDenied" } else { "SignatureDoesNotMatch" }),
        ];
        for (what, req, want) in cases {
            let r = send(req).await.unwrap();
            assert!((400..500).contains(&r.status), "{service} {what}: {} {}", r.status, r.body);
            let got = error_code(&r.body, is_json);
            assert_eq!(got, want, "{service} {what} ({i}): {}", r.body);
        }
    }
    // Garbage bodies, signed: a 4xx in the protocol's format, never a 5xx.
    let junk: &[u8] = b"\x00\xff{<\"Action=\x01&Version=";
    let requests = [
        ("sts", server.query_request("Action=GetCallerIdentity").unwrap().map(|_| junk.to_vec()), false),
        (
            "cloudtrail",
            http::Request::post(format!("{}/", server.endpoint))
                .header("content-type", "application/x-amz-json-1.1")
                .header("x-amz-target", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents")
                .body(junk.to_vec())
                .unwrap(),
            true,
        ),
        ("s3", http::Request::put(format!("{}/junk-bucket", server.endpoint)).body(junk.to_vec()).unwrap(), false),
    ];
    for (service, req, is_json) in requests {
        let r = server.signed(req, service).await.unwrap();
        assert!((400..500).contains(&r.status), "{service} junk: {} {}", r.status, r.body);
        error_code(&r.body, is_json);
    }
}

#[tokio::test]
async fn an_unsigned_x_amz_target_cannot_choose_the_operation() {
    let server = TestServer::start().await.unwrap();
    // Signed with no target, then given one: the operation was never signed.
    let req = http::Request::post(format!("{}/", server.endpoint))
        .header("content-type", "application/x-amz-json-1.1")
        .body(b"{}".to_vec())
        .unwrap();
    let mut signed = sign_request(
        req,
        &server.access_key_id,
        &server.secret_access_key,
        "cloudtrail",
        SystemTime::now(),
        SignatureLocation::Headers,
    )
    .unwrap();
    signed.headers_mut().insert(
        "x-amz-target",
        http::HeaderValue::from_static("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.DeleteTrail"),
    );
    let r = send(signed).await.unwrap();
    assert_eq!(r.status, 403, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["__type"], "SignatureDoesNotMatch");
    assert!(v["message"].as_str().unwrap().contains("x-amz-target"), "{v}");
}
