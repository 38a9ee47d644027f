//! What the SDKs will not send: tampered, expired, unknown, malformed, oversized and slow requests.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::SignatureLocation;
use rampart_testkit::{TestServer, send, sign_request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn xml_code(body: &str) -> &str {
    body.split("<Code>").nth(1).and_then(|s| s.split("</Code>").next()).unwrap_or("")
}

#[tokio::test]
async fn a_tampered_body_is_signature_does_not_match() {
    let server = TestServer::start().await.unwrap();
    let req = server.query_request("Action=GetCallerIdentity&Version=2011-06-15").unwrap();
    let mut signed = sign_request(
        req,
        &server.access_key_id,
        &server.secret_access_key,
        "sts",
        SystemTime::now(),
        SignatureLocation::Headers,
    )
    .unwrap();
    *signed.body_mut() = b"Action=GetCallerIdentity&Version=2011-06-16".to_vec();
    let r = send(signed).await.unwrap();
    assert_eq!((r.status, xml_code(&r.body)), (403, "SignatureDoesNotMatch"), "{}", r.body);
    assert!(
        r.body.starts_with(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"
        ),
        "{}",
        r.body
    );
    assert!(r.headers.contains_key("x-amzn-requestid"));
}

#[tokio::test]
async fn presigned_urls_work_until_they_expire() {
    let server = TestServer::start().await.unwrap();
    let url = format!("{}/?Action=GetCallerIdentity&Version=2011-06-15", server.endpoint);
    let fresh = sign_request(
        http::Request::get(&url).body(Vec::new()).unwrap(),
        &server.access_key_id,
        &server.secret_access_key,
        "sts",
        SystemTime::now(),
        SignatureLocation::QueryParams,
    )
    .unwrap();
    assert!(fresh.uri().query().unwrap().contains("X-Amz-Signature="));
    let r = send(fresh).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<Arn>arn:aws:iam::123456789012:root</Arn>"), "{}", r.body);
    // Signed two minutes ago with a 60-second lifetime.
    let old = SystemTime::now() - Duration::from_secs(120);
    let expired = sign_request(
        http::Request::get(&url).body(Vec::new()).unwrap(),
        &server.access_key_id,
        &server.secret_access_key,
        "sts",
        old,
        SignatureLocation::QueryParams,
    )
    .unwrap();
    let r = send(expired).await.unwrap();
    assert_eq!((r.status, xml_code(&r.body)), (400, "RequestExpired"), "{}", r.body);
}

#[tokio::test]
async fn unknown_operations_get_aws_shaped_400s() {
    let server = TestServer::start().await.unwrap();
    let r = server.signed(server.query_request("Action=Frobnicate&Version=2011-06-15").unwrap(), "sts").await.unwrap();
    assert_eq!((r.status, xml_code(&r.body)), (400, "InvalidAction"), "{}", r.body);
    assert!(r.body.contains("Could not find operation Frobnicate for version 2011-06-15"), "{}", r.body);

    let r = server.signed(server.query_request("Version=2011-06-15").unwrap(), "sts").await.unwrap();
    assert_eq!((r.status, xml_code(&r.body)), (400, "MissingAction"), "{}", r.body);
    // Classic Load Balancers sign as ELBv2 does, with operations of the same names: their API
    // version keeps them from being answered by ELBv2's.
    let classic = server.query_request("Action=DescribeLoadBalancers&Version=2012-06-01").unwrap();
    let r = server.signed(classic, "elasticloadbalancing").await.unwrap();
    assert_eq!((r.status, xml_code(&r.body)), (400, "InvalidAction"), "{}", r.body);
    assert!(r.body.contains("Could not find operation DescribeLoadBalancers for version 2012-06-01"), "{}", r.body);

    let json = http::Request::post(format!("{}/", server.endpoint))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "AmazonSSM.ListDocuments")
        .body(b"{}".to_vec())
        .unwrap();
    let r = server.signed(json, "ssm").await.unwrap();
    assert_eq!(r.status, 400);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["__type"], "UnknownOperationException");
    // Named as AWS names it, never by an internal target.
    let message = v["message"].as_str().unwrap();
    assert!(message.starts_with("Rampart does not serve Amazon Simple Systems Manager (SSM) (`ssm`) yet"), "{message}");
    assert!(message.contains("IAM") && !message.contains("AmazonSSM"), "{message}");
    assert_eq!(r.headers.get("x-amzn-errortype").unwrap(), "UnknownOperationException");

    // A query-form request: XML, whatever the service's model speaks today.
    let r = server.signed(server.query_request("Action=ListQueues&Version=2012-11-05").unwrap(), "sqs").await.unwrap();
    assert_eq!((r.status, xml_code(&r.body)), (400, "InvalidAction"), "{}", r.body);
    assert!(r.body.contains("Rampart does not serve Amazon Simple Queue Service (`sqs`) yet"), "{}", r.body);
    // rest-json (Lambda) and rest-xml (Route 53): each in its own format.
    let get = |path: &str| http::Request::get(format!("{}{path}", server.endpoint)).body(Vec::new()).unwrap();
    let r = server.signed(get("/2015-03-31/functions/"), "lambda").await.unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.headers.get("x-amzn-errortype").unwrap(), "UnknownOperationException");
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert!(v["message"].as_str().unwrap().contains("AWS Lambda (`lambda`)"), "{v}");
    // A served rest-json service's path that names no operation: its own 400, in JSON.
    let r = server.signed(get("/detector/abc/nothing-here"), "guardduty").await.unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.headers.get("x-amzn-errortype").unwrap(), "UnknownOperationException");
    let r = server.signed(get("/2013-04-01/hostedzone"), "route53").await.unwrap();
    assert_eq!((r.status, xml_code(&r.body)), (400, "InvalidAction"), "{}", r.body);
    assert!(r.body.contains("Amazon Route 53 (`route53`)"), "{}", r.body);
    // Nothing Rampart knows of at all.
    let r = server.signed(get("/"), "nosuchservice").await.unwrap();
    assert!(r.status == 400 && r.body.contains("Rampart does not serve the `nosuchservice` service"), "{}", r.body);
}

#[tokio::test]
async fn an_emulators_placeholder_key_gets_awss_error_with_a_hint() {
    let server = TestServer::start().await.unwrap();
    let r = crate::sts_client(&server, "test", "test").get_caller_identity().send().await;
    let e = r.unwrap_err();
    let se = e.as_service_error().unwrap();
    use aws_sdk_sts::error::ProvideErrorMetadata as _;
    assert_eq!(se.code(), Some("InvalidClientTokenId"));
    let message = se.message().unwrap();
    assert!(message.starts_with("The security token included in the request is invalid."), "{message}");
    assert!(message.contains("--dev") && message.contains("root-credentials"), "{message}");
    // Any other unknown key gets AWS's message alone.
    let r = crate::sts_client(&server, "AKIAUNKNOWNUNKNOWN00", "x").get_caller_identity().send().await;
    let e = r.unwrap_err();
    assert!(!e.as_service_error().unwrap().message().unwrap().contains("--dev"));
}

#[tokio::test]
async fn invalid_input_gets_validation_errors_in_aws_wording() {
    let server = TestServer::start().await.unwrap();
    let r = server
        .signed(server.query_request("Action=AssumeRole&Version=2011-06-15&RoleSessionName=a").unwrap(), "sts")
        .await
        .unwrap();
    assert_eq!((r.status, xml_code(&r.body)), (400, "ValidationError"), "{}", r.body);
    assert!(
        r.body.contains(
            "2 validation errors detected: Value null at &apos;roleArn&apos; failed to satisfy constraint: Member must not be null; \
             Value &apos;a&apos; at &apos;roleSessionName&apos; failed to satisfy constraint: Member must have length greater than or equal to 2"
        ),
        "{}",
        r.body
    );
    let r = server
        .signed(server.query_request("Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&RoleSessionName=ok&DurationSeconds=soon").unwrap(), "sts")
        .await
        .unwrap();
    assert_eq!((r.status, xml_code(&r.body)), (400, "MalformedInput"), "{}", r.body);
}

#[tokio::test]
async fn unsigned_and_malformed_signatures_get_their_codes() {
    let server = TestServer::start().await.unwrap();
    let r = send(server.query_request("Action=GetCallerIdentity").unwrap()).await.unwrap();
    assert_eq!((r.status, xml_code(&r.body)), (403, "MissingAuthenticationToken"), "{}", r.body);
    let mut req = server.query_request("Action=GetCallerIdentity").unwrap();
    req.headers_mut().insert(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKIA/20250101/us-east-1/sts/aws4_request".parse().unwrap(),
    );
    req.headers_mut().insert("x-amz-date", "20250101T000000Z".parse().unwrap());
    let r = send(req).await.unwrap();
    assert_eq!((r.status, xml_code(&r.body)), (400, "IncompleteSignature"), "{}", r.body);
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let server = TestServer::start_with(|c| c.max_body_bytes = 1024).await.unwrap();
    let big = format!("Action=GetCallerIdentity&Version=2011-06-15&Pad={}", "x".repeat(2048));
    let r = server.signed(server.query_request(&big).unwrap(), "sts").await.unwrap();
    assert_eq!((r.status, xml_code(&r.body)), (413, "RequestEntityTooLargeException"), "{}", r.body);
    let events = server.audit_events(1).await.unwrap();
    assert_eq!(events[0]["errorCode"], "RequestEntityTooLargeException");
}

async fn connect(server: &TestServer) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(server.endpoint.trim_start_matches("http://")).await.unwrap()
}

#[tokio::test]
async fn a_client_too_slow_with_its_headers_is_disconnected() {
    let server = TestServer::start_with(|c| c.header_read_timeout_secs = 1).await.unwrap();
    let mut s = connect(&server).await;
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server kept a half-sent request open");
}

#[tokio::test]
async fn a_connection_that_never_sends_a_byte_is_closed() {
    let server = TestServer::start_with(|c| c.header_read_timeout_secs = 1).await.unwrap();
    let mut s = connect(&server).await;
    let mut buf = Vec::new();
    let started = std::time::Instant::now();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server kept a silent connection open");
    assert!(started.elapsed() >= Duration::from_millis(900), "closed before the timeout");
    // A connection that speaks in time is served as before.
    let r = send(server.query_request("Action=GetCallerIdentity").unwrap()).await.unwrap();
    assert_eq!(r.status, 403);
}

/// Whether the server closed `s` at once (it reads end-of-file, or the connection resets).
async fn closed_at_once(s: &mut tokio::net::TcpStream) -> bool {
    let mut buf = [0u8; 16];
    matches!(tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
}

#[tokio::test]
async fn connections_are_capped_per_source_and_in_total() {
    let server = TestServer::start_with(|c| {
        c.max_connections_per_source = 3;
        c.header_read_timeout_secs = 30;
    })
    .await
    .unwrap();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(&server).await);
    }
    let mut fourth = connect(&server).await;
    assert!(closed_at_once(&mut fourth).await, "a fourth connection from one address was kept");
    for s in &mut held {
        assert!(!closed_at_once(s).await, "an admitted connection was closed");
    }
    // A freed place is given to the next connection, which is served.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = send(server.query_request("Action=GetCallerIdentity").unwrap()).await.unwrap();
    assert_eq!(r.status, 403, "{}", r.body);

    let total = TestServer::start_with(|c| c.max_connections = 2).await.unwrap();
    let (_a, _b) = (connect(&total).await, connect(&total).await);
    let mut third = connect(&total).await;
    assert!(closed_at_once(&mut third).await, "a connection over the total was kept");
}

#[tokio::test]
async fn a_client_too_slow_with_its_body_gets_408() {
    let server = TestServer::start_with(|c| c.body_read_timeout_secs = 1).await.unwrap();
    let mut s = connect(&server).await;
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nAction=").await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server waited forever for the body");
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("RequestTimeoutException"), "{text}");
}

#[tokio::test]
async fn garbage_is_a_clean_4xx_or_a_closed_connection() {
    let server = TestServer::start().await.unwrap();
    for junk in [
        &b"\x00\x01\x02GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    ] {
        let mut s = connect(&server).await;
        s.write_all(junk).await.unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await.unwrap();
        let text = String::from_utf8_lossy(&buf);
        assert!(text.is_empty() || text.starts_with("HTTP/1.1 4"), "{text}");
    }
    // The server is still serving.
    let r = server
        .signed(server.query_request("Action=GetCallerIdentity&Version=2011-06-15").unwrap(), "sts")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

/// The head of a request to `path` with `headers`, signed with the server's root key (payload
/// unsigned), as raw HTTP: for a client that then sends no body, or reads no answer.
pub(crate) fn signed_head(server: &TestServer, method: &str, path: &str, headers: &[(&str, String)]) -> Vec<u8> {
    let mut req = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", server.endpoint))
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let req = sign_request(
        req.body(Vec::new()).unwrap(),
        &server.access_key_id,
        &server.secret_access_key,
        "s3",
        SystemTime::now(),
        SignatureLocation::Headers,
    )
    .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", server.endpoint.trim_start_matches("http://"));
    for (k, v) in req.headers().iter().filter(|(k, _)| *k != http::header::HOST) {
        head.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// The head of a PUT of `length` bytes to `path` (see [`signed_head`]).
fn signed_put_head(server: &TestServer, path: &str, length: usize) -> Vec<u8> {
    signed_head(server, "PUT", path, &[("content-length", length.to_string())])
}

/// Upload bodies share a bounded room in memory: uploads wait their turn for it (each counts twice
/// its length; one larger than the room runs alone), so concurrent uploads all land. Only callers
/// whose signature holds wait: an unknown caller gets free room or 503 SlowDown at once, and a
/// known one that cannot get room while its body may still arrive is told to slow down too.
#[tokio::test]
async fn uploads_wait_their_turn_for_bounded_memory_and_slow_down_when_it_stays_full() {
    use aws_sdk_s3::primitives::ByteStream;
    let server = TestServer::start_with(|c| {
        c.upload_memory_bytes = 3 * 1024 * 1024;
        c.body_read_timeout_secs = 2;
    })
    .await
    .unwrap();
    let c = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("room").send().await.unwrap();
    // Six uploads of 1 MiB (2 MiB of room each, one at a time) and one of 4 MiB (all the room).
    let mut uploads = tokio::task::JoinSet::new();
    for (i, size) in [1usize, 1, 1, 1, 1, 1, 4].into_iter().enumerate() {
        let c = c.clone();
        uploads.spawn(async move {
            let body = vec![u8::try_from(i).unwrap(); size << 20];
            c.put_object().bucket("room").key(format!("k{i}")).body(ByteStream::from(body)).send().await.map(|_| ())
        });
    }
    while let Some(done) = uploads.join_next().await {
        done.unwrap().unwrap();
    }
    let listed = c.list_objects_v2().bucket("room").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(7));

    // An unknown client that declares a body and sends none takes the free room until its body
    // may no longer arrive; another unknown one is refused at once rather than queued.
    let unsigned = b"PUT /room/stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 8388608\r\n\r\n";
    let mut holding = connect(&server).await;
    holding.write_all(unsigned).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut refused = connect(&server).await;
    refused.write_all(unsigned).await.unwrap();
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(1), refused.read(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("SlowDown"), "{answer}");
    // A known client stalling the same way waits its turn, then holds the room in its turn; an
    // upload that cannot get room within a body's time is told to slow down.
    let mut known = connect(&server).await;
    known.write_all(&signed_put_head(&server, "/room/known-stalled", 8 << 20)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting = c.put_object().bucket("room").key("late").body(ByteStream::from_static(b"late")).send().await;
    let e = waiting.unwrap_err();
    let se = e.as_service_error().map(|s| (s.meta().code(), s.meta().message()));
    assert_eq!(se, Some((Some("SlowDown"), Some("Please reduce your request rate."))), "{e:?}");
    // The room comes back when the stalled requests are given up.
    drop((holding, known));
    tokio::time::sleep(Duration::from_millis(500)).await;
    c.put_object().bucket("room").key("later").body(ByteStream::from_static(b"later")).send().await.unwrap();
}

/// Ranged downloads share a bounded room in memory too: one takes room for its range before the
/// object is read and keeps it until its body is sent, so a client that stops reading holds it.
/// Meanwhile an unknown caller's ranged GET is told to slow down at once, a known caller's waits
/// its turn and is served when the room comes back, and a GET without a range is not held up.
#[tokio::test]
async fn ranged_downloads_wait_for_bounded_memory_until_earlier_bodies_are_sent() {
    use aws_sdk_s3::primitives::ByteStream;
    let server = TestServer::start_with(|c| {
        // A range longer than the server reads whole takes room for one read whole: all of it.
        c.download_memory_bytes = 8 << 20;
        c.body_read_timeout_secs = 5;
    })
    .await
    .unwrap();
    let c = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("down").send().await.unwrap();
    let big: Vec<u8> = (0..32u32 << 20).map(|i| (i % 251) as u8).collect();
    c.put_object().bucket("down").key("big").body(ByteStream::from(big.clone())).send().await.unwrap();
    c.put_object().bucket("down").key("small").body(ByteStream::from_static(b"small")).send().await.unwrap();

    // A known client asks for the whole object by range and reads nothing: more than loopback's
    // socket buffers hold, so its body stays unsent and its room taken.
    let mut stalled = connect(&server).await;
    stalled
        .write_all(&signed_head(&server, "GET", "/down/big", &[("range", format!("bytes=0-{}", (32 << 20) - 1))]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut unknown = connect(&server).await;
    unknown.write_all(b"GET /down/big HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1023\r\n\r\n").await.unwrap();
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(1), unknown.read(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("SlowDown"), "{answer}");

    let whole = c.get_object().bucket("down").key("small").send().await.unwrap();
    assert_eq!(whole.body.collect().await.unwrap().into_bytes().as_ref(), b"small");

    let ranged = {
        let c = c.clone();
        tokio::spawn(async move { c.get_object().bucket("down").key("big").range("bytes=1000-1999").send().await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!ranged.is_finished(), "a ranged GET waits while the room is held");
    drop(stalled);
    let got = tokio::time::timeout(Duration::from_secs(4), ranged).await.unwrap().unwrap().unwrap();
    assert_eq!(got.content_range(), Some("bytes 1000-1999/33554432"));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), &big[1000..2000]);
}

/// Malformed browser uploads and CORS preflights: each an S3-shaped 4xx, never a 5xx, and the
/// server keeps serving.
#[tokio::test]
async fn malformed_post_forms_and_preflights_get_s3s_4xx() {
    let server = TestServer::start().await.unwrap();
    let form = |content_type: &str, body: &[u8]| {
        http::Request::post(format!("{}/some-bucket", server.endpoint))
            .header("content-type", content_type)
            .body(body.to_vec())
            .unwrap()
    };
    let long_header =
        format!("--B\r\nContent-Disposition: form-data; name=\"k\"\r\nX: {}\r\n\r\nv\r\n--B--", "y".repeat(9000));
    for (content_type, body) in [
        ("multipart/form-data", &b"--B\r\n"[..]),
        ("multipart/form-data; boundary=B", b"no boundary at all"),
        ("multipart/form-data; boundary=B", b"--B\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\ncut"),
        ("multipart/form-data; boundary=B", b"--B\r\nContent-Disposition: attachment\r\n\r\nv\r\n--B--"),
        ("multipart/form-data; boundary=B", long_header.as_bytes()),
        ("multipart/form-data; boundary=B", b"--B\r\n\xff\xfe: \xff\r\n\r\nv\r\n--B--"),
    ] {
        let r = send(form(content_type, body)).await.unwrap();
        assert_eq!((r.status, xml_code(&r.body)), (400, "MalformedPOSTRequest"), "{content_type}: {}", r.body);
    }
    // A well-formed form whose policy is not JSON, or not base64, signed or not.
    let body = b"--B\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--B\r\nContent-Disposition: form-data; name=\"policy\"\r\n\r\n%%%\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\nx\r\n--B--\r\n";
    let r = send(form("multipart/form-data; boundary=B", body)).await.unwrap();
    assert!((400..500).contains(&r.status), "{}", r.body);
    for headers in
        [&[][..], &[("origin", "x")][..], &[("origin", "null"), ("access-control-request-method", "FROB")][..]]
    {
        let mut req = http::Request::builder().method("OPTIONS").uri(format!("{}/some-bucket/k", server.endpoint));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = send(req.body(Vec::new()).unwrap()).await.unwrap();
        assert!((400..500).contains(&r.status), "{headers:?}: {} {}", r.status, r.body);
    }
    let r = server
        .signed(server.query_request("Action=GetCallerIdentity&Version=2011-06-15").unwrap(), "sts")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}
