//! S3's two addressing styles: the bucket in the Host header (virtual-hosted, the SDKs' default
//! for a named endpoint) or in the path, with the official SDK, boto3 and raw requests; a Host
//! that names no valid bucket is refused, never read as another operation.

use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_s3::config::{BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::primitives::ByteStream;

use crate::s3::s3;
use rampart_testkit::{Raw, TestServer, send};

/// Sends every request to the test server on loopback, keeping the Host the SDK chose (no DNS
/// here resolves `BUCKET.localhost`), and notes each Host.
#[derive(Debug)]
struct ToLoopback {
    port: u16,
    hosts: Arc<Mutex<Vec<String>>>,
}

impl Intercept for ToLoopback {
    fn name(&self) -> &'static str {
        "ToLoopback"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = context.request_mut();
        let uri: http::Uri = req.uri().parse()?;
        let authority = uri.authority().ok_or("no authority")?.to_string();
        self.hosts.lock().map_err(|_| "poisoned")?.push(authority.clone());
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        req.headers_mut().insert("host", authority);
        req.set_uri(format!("http://127.0.0.1:{}{path}", self.port))?;
        Ok(())
    }
}

/// A root S3 client in the SDK's default (virtual-hosted) style for `endpoint_host`.
fn virtual_hosted(server: &TestServer, endpoint_host: &str) -> (aws_sdk_s3::Client, Arc<Mutex<Vec<String>>>) {
    let port = server.running.as_ref().unwrap().addr.port();
    let hosts = Arc::new(Mutex::new(Vec::new()));
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("http://{endpoint_host}:{port}"))
        .credentials_provider(Credentials::new(&server.access_key_id, &server.secret_access_key, None, None, "t"))
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .interceptor(ToLoopback { port, hosts: hosts.clone() })
        .build();
    (aws_sdk_s3::Client::from_conf(conf), hosts)
}

async fn bucket_names(c: &aws_sdk_s3::Client) -> Vec<String> {
    let out = c.list_buckets().send().await.unwrap();
    out.buckets().iter().filter_map(|b| b.name().map(str::to_owned)).collect()
}

#[tokio::test]
async fn the_sdk_in_virtual_hosted_style_reaches_the_bucket_in_the_host() {
    let server = TestServer::start().await.unwrap();
    let port = server.running.as_ref().unwrap().addr.port();
    let path_style = s3(&server, &server.access_key_id, &server.secret_access_key);
    for (endpoint, bucket) in [("localhost", "receipts"), ("s3.localhost.localstack.cloud", "inventory")] {
        let (c, hosts) = virtual_hosted(&server, endpoint);
        c.create_bucket().bucket(bucket).send().await.unwrap();
        // An empty body once created a bucket named after the key: it is an object.
        c.put_object().bucket(bucket).key("empty").body(ByteStream::from_static(b"")).send().await.unwrap();
        c.put_object().bucket(bucket).key("2026/r 1.txt").body(ByteStream::from_static(b"latte")).send().await.unwrap();
        let got = c.get_object().bucket(bucket).key("2026/r 1.txt").send().await.unwrap();
        assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"latte");
        let listed = c.list_objects_v2().bucket(bucket).send().await.unwrap();
        let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
        assert_eq!(keys, ["2026/r 1.txt", "empty"]);
        let v1 = c.list_objects().bucket(bucket).prefix("2026/").send().await.unwrap();
        assert_eq!(v1.contents().len(), 1);
        c.head_object().bucket(bucket).key("empty").send().await.unwrap();
        // Path style sees the same objects.
        let same = path_style.get_object().bucket(bucket).key("empty").send().await.unwrap();
        assert_eq!(same.content_length(), Some(0));
        c.delete_object().bucket(bucket).key("empty").send().await.unwrap();
        assert_eq!(crate::s3::code(c.get_object().bucket(bucket).key("empty").send().await), "NoSuchKey", "{endpoint}");
        assert_eq!(crate::s3::code(c.get_object().bucket("no-such-bucket").key("k").send().await), "NoSuchBucket");
        assert!(bucket_names(&c).await.contains(&bucket.to_owned()));
        let hosts = hosts.lock().unwrap().clone();
        // The SDK really addressed the bucket by host, and ListBuckets by the endpoint itself.
        assert!(hosts.contains(&format!("{bucket}.{endpoint}:{port}")), "{hosts:?}");
        assert!(hosts.contains(&format!("{endpoint}:{port}")), "{hosts:?}");
    }
    assert_eq!(bucket_names(&path_style).await, ["inventory", "receipts"]);
}

/// A raw request signed by root for S3, sent to loopback with `host` as its Host header.
async fn raw_s3(server: &TestServer, method: &str, host: &str, path: &str, body: &[u8]) -> Raw {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", server.endpoint))
        .header("host", host)
        .header(
            "x-amz-content-sha256",
            data_encoding::HEXLOWER.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body).as_ref()),
        )
        .body(body.to_vec())
        .unwrap();
    server.signed(req, "s3").await.unwrap()
}

#[tokio::test]
async fn hosts_are_read_as_s3_reads_them_and_invalid_ones_refused() {
    let server = TestServer::start_with(|c| c.s3_base_domains = vec!["Rampart.Example.org".into()]).await.unwrap();
    let port = server.running.as_ref().unwrap().addr.port();
    // An IP, a single label, an endpoint: path style.
    let hosts = [format!("127.0.0.1:{port}"), format!("rampart:{port}"), format!("s3.us-east-1.localhost:{port}")];
    for (i, host) in hosts.iter().enumerate() {
        let r = raw_s3(&server, "PUT", host, &format!("/by-path-{i}"), b"").await;
        assert_eq!(r.status, 200, "{host}: {}", r.body);
    }
    // A configured base domain: virtual-hosted, and path style at its endpoint.
    let r = raw_s3(&server, "PUT", "by-host.s3.rampart.example.org", "/", b"").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = raw_s3(&server, "PUT", "by-host.rampart.example.org", "/k", b"v").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = raw_s3(&server, "GET", "rampart.example.org", "/by-host/k", b"").await;
    assert_eq!((r.status, r.body.as_str()), (200, "v"));
    // Any other DNS name is a bucket's (a CNAME), as in S3: here, one that does not exist.
    let r = raw_s3(&server, "GET", "images.example.com", "/k", b"").await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("<Code>NoSuchBucket</Code>"), "{}", r.body);
    let r = raw_s3(&server, "PUT", "images.example.com", "/", b"").await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A host that names no valid bucket is refused, and creates nothing.
    for host in ["bad_name.localhost", "-x.s3.localhost", "ab.localhost", "a..b.example.com"] {
        let r = raw_s3(&server, "PUT", host, "/key", b"").await;
        assert_eq!(r.status, 400, "{host}: {}", r.body);
        assert!(r.body.contains("<Code>InvalidBucketName</Code>"), "{host}: {}", r.body);
    }
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    assert_eq!(bucket_names(&c).await, ["by-host", "by-path-0", "by-path-1", "by-path-2", "images.example.com"]);
}

#[tokio::test]
async fn boto3_works_in_both_addressing_styles() {
    let server = TestServer::start().await.unwrap();
    let port = server.running.as_ref().unwrap().addr.port();
    // boto3 sends each request through the "proxy" (the server itself) with the Host it chose,
    // since no DNS here resolves `BUCKET.localhost`.
    let script = r#"
import json, sys, boto3
from botocore.config import Config
port, key, secret = sys.argv[1], sys.argv[2], sys.argv[3]
def client(style):
    return boto3.client("s3", endpoint_url=f"http://localhost:{port}", region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": style}, signature_version="s3v4", proxies={"http": f"http://127.0.0.1:{port}"},
                      retries={"max_attempts": 1}))
v, p = client("virtual"), client("path")
v.create_bucket(Bucket="vbucket")
p.create_bucket(Bucket="pbucket")
v.put_object(Bucket="vbucket", Key="a/empty", Body=b"")
p.put_object(Bucket="vbucket", Key="a/b", Body=b"from path")
out = {
    "buckets": sorted(b["Name"] for b in v.list_buckets()["Buckets"]),
    "v_keys": [o["Key"] for o in v.list_objects_v2(Bucket="vbucket")["Contents"]],
    "p_keys": [o["Key"] for o in p.list_objects_v2(Bucket="vbucket", Prefix="a/")["Contents"]],
    "body": v.get_object(Bucket="vbucket", Key="a/b")["Body"].read().decode(),
    "url": v.generate_presigned_url("get_object", Params={"Bucket": "vbucket", "Key": "a/b"}),
}
print(json.dumps(out))
"#;
    let v = crate::s3::boto3(&server, script).await;
    assert_eq!(v["buckets"], serde_json::json!(["pbucket", "vbucket"]));
    assert_eq!(v["v_keys"], serde_json::json!(["a/b", "a/empty"]));
    assert_eq!(v["p_keys"], serde_json::json!(["a/b", "a/empty"]));
    assert_eq!(v["body"], "from path");
    // A presigned virtual-hosted URL works too.
    let url = v["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("http://vbucket.localhost:{port}/a/b?")), "{url}");
    let tail = url.split_once(&format!(":{port}")).unwrap().1;
    let req = http::Request::get(format!("{}{tail}", server.endpoint))
        .header("host", format!("vbucket.localhost:{port}"))
        .body(Vec::new())
        .unwrap();
    let r = send(req).await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "from path"));
}
