//! Test support: a real Rampart server in-process on an ephemeral loopback port with a temporary
//! data directory, and a signer for raw requests (for what the SDKs will not send).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rampart_server::{Config, Running};

pub mod upstream;

/// The management account every test server gets.
pub const ACCOUNT_ID: &str = "123456789012";

/// A running test server and the root credentials it created.
pub struct TestServer {
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The root user's console sign-in: its email and the password shown at first start.
    pub root_email: String,
    pub root_password: String,
    pub config: Config,
}

/// A raw HTTP response.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl TestServer {
    /// Starts a server with default settings.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after `tweak` adjusts its configuration. Its store is the embedded one,
    /// or, when `RAMPART_TEST_STORE=postgres`, a new database on the test PostgreSQL server (so
    /// that any test can run on either engine).
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> anyhow::Result<Self> {
        let postgres = std::env::var("RAMPART_TEST_STORE").is_ok_and(|v| v == "postgres");
        Self::start_on(if postgres { Some(new_database()?) } else { None }, tweak).await
    }

    /// Starts a server on a new database of the test PostgreSQL server.
    pub async fn start_postgres() -> anyhow::Result<Self> {
        Self::start_on(Some(new_database()?), |_| {}).await
    }

    /// Starts a server on `store` (the embedded store when `None`).
    pub async fn start_on(store: Option<String>, tweak: impl FnOnce(&mut Config)) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut config = Config {
            listen: "127.0.0.1:0".parse()?,
            data_dir: dir.path().join("data"),
            account_id: Some(ACCOUNT_ID.to_owned()),
            dev_account_id: ACCOUNT_ID.to_owned(),
            store: store.map(rampart_server::config::StoreUrl),
            ..Config::default()
        };
        tweak(&mut config);
        let running = rampart_server::start(config.clone()).await?;
        let first = running.first_start.as_ref().ok_or_else(|| anyhow::anyhow!("a new data dir must bootstrap"))?;
        Ok(Self {
            endpoint: running.endpoint(),
            access_key_id: first.access_key_id.clone(),
            secret_access_key: first.secret_access_key.as_str().to_owned(),
            root_email: first.root_email.clone(),
            root_password: first.root_password.as_str().to_owned(),
            running: Some(running),
            dir,
            config,
        })
    }

    /// Starts another node on this server's PostgreSQL store: its own data directory and port,
    /// this node's master key, and its root credentials (the store's, not bootstrapped again).
    pub async fn join(&self) -> anyhow::Result<Self> {
        anyhow::ensure!(self.config.store.is_some(), "only a server on PostgreSQL has other nodes");
        let dir = tempfile::tempdir()?;
        let config = Config {
            listen: "127.0.0.1:0".parse()?,
            data_dir: dir.path().join("data"),
            master_key_file: Some(self.config.data_dir.join("master.key")),
            ..self.config.clone()
        };
        let running = rampart_server::start(config.clone()).await?;
        anyhow::ensure!(running.first_start.is_none(), "a node joining a store must not bootstrap it");
        Ok(Self {
            endpoint: running.endpoint(),
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            root_email: self.root_email.clone(),
            root_password: self.root_password.clone(),
            running: Some(running),
            dir,
            config,
        })
    }

    /// Stops the server and starts it again on the same data directory and a new port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
        let running = rampart_server::start(self.config.clone()).await?;
        anyhow::ensure!(running.first_start.is_none(), "a restart must not bootstrap again");
        self.endpoint = running.endpoint();
        self.running = Some(running);
        Ok(())
    }

    /// Stops the server, draining requests and closing the store.
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    /// A handle on this server's store, beside it (stop the server first when its store is the
    /// embedded one: only one writer may open that).
    pub fn open_store(&self) -> anyhow::Result<rampart_store::Db> {
        let opened = match &self.config.store {
            Some(url) => rampart_store::Db::open_postgres(&url.0, &rampart_store::PgOptions::default()),
            None => rampart_store::Db::open_sqlite(&self.data_dir().join(rampart_server::DB_FILE)),
        };
        opened.map_err(|e| anyhow::anyhow!("opening the test server's store: {e}"))
    }

    /// Every byte the store holds, as stored: the database file (and its write-ahead log), or the
    /// PostgreSQL tables' rows in COPY's binary format (values unescaped). For checks that a
    /// secret is never stored in clear.
    pub fn stored_bytes(&self) -> anyhow::Result<Vec<u8>> {
        match &self.config.store {
            None => {
                let mut bytes = Vec::new();
                for f in [rampart_server::DB_FILE, "rampart.db-wal"] {
                    bytes.extend(std::fs::read(self.data_dir().join(f)).unwrap_or_default());
                }
                Ok(bytes)
            }
            Some(url) => {
                let psql = rampart_pgtest::server().map(|s| s.program("psql")).unwrap_or_else(|_| "psql".into());
                let out = std::process::Command::new(psql)
                    .arg(&url.0)
                    .arg("-c")
                    .arg(
                        "\\copy (SELECT k, v FROM rampart_kv UNION ALL SELECT int8send(t), v FROM rampart_log) \
                         TO STDOUT WITH (FORMAT binary)",
                    )
                    .output()?;
                anyhow::ensure!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
                Ok(out.stdout)
            }
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    /// This server's sealer, from the master key in its data directory: for tests that derive
    /// what the server derives from it.
    pub fn sealer(&self) -> anyhow::Result<rampart_store::Sealer> {
        let text = std::fs::read_to_string(self.data_dir().join("master.key"))?;
        let key = data_encoding::BASE64.decode(text.trim().as_bytes())?;
        rampart_store::Sealer::new(&key).map_err(|e| anyhow::anyhow!("the master key: {e}"))
    }

    /// Audit events recorded so far, newest first (waits for queued events to commit).
    pub async fn audit_events(&self, at_least: usize) -> anyhow::Result<Vec<serde_json::Value>> {
        let running = self.running.as_ref().ok_or_else(|| anyhow::anyhow!("stopped"))?;
        for _ in 0..200 {
            let events = running.audit_events(10_000)?;
            if events.len() >= at_least {
                return Ok(events);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(running.audit_events(10_000)?)
    }

    /// Sends a request signed with the root key (or `creds`), as `service` in us-east-1.
    pub async fn signed(&self, req: http::Request<Vec<u8>>, service: &str) -> anyhow::Result<Raw> {
        let signed = sign_request(
            req,
            &self.access_key_id,
            &self.secret_access_key,
            service,
            SystemTime::now(),
            SignatureLocation::Headers,
        )?;
        send(signed).await
    }

    /// An awsQuery POST to `/` with a form body.
    pub fn query_request(&self, form: &str) -> anyhow::Result<http::Request<Vec<u8>>> {
        Ok(http::Request::builder()
            .method("POST")
            .uri(format!("{}/", self.endpoint))
            .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(form.as_bytes().to_vec())?)
    }
}

/// A new, empty database on the test PostgreSQL server (started on first use).
/// The bucket policy CloudTrail needs to deliver a trail's files into `bucket` (any prefix): read
/// the bucket's ACL, and put objects that leave the bucket's owner in full control.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html>.
pub fn cloudtrail_bucket_policy(bucket: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSCloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": format!("arn:aws:s3:::{bucket}"),
            },
            {
                "Sid": "AWSCloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": format!("arn:aws:s3:::{bucket}/*"),
                "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
            },
        ],
    })
    .to_string()
}

pub fn new_database() -> anyhow::Result<String> {
    rampart_pgtest::database().map_err(|e| anyhow::anyhow!("the test PostgreSQL server: {e}"))
}

/// Signs a request with SigV4 (headers or presigned query) as the official signer does.
pub fn sign_request(
    req: http::Request<Vec<u8>>,
    access_key_id: &str,
    secret: &str,
    service: &str,
    time: SystemTime,
    location: SignatureLocation,
) -> anyhow::Result<http::Request<Vec<u8>>> {
    sign_request_as(req, (access_key_id, secret, None), service, time, location)
}

/// [`sign_request`] with a session's credentials: its token is sent and signed, as the SDKs do.
pub fn sign_request_as(
    mut req: http::Request<Vec<u8>>,
    (access_key_id, secret, token): (&str, &str, Option<&str>),
    service: &str,
    time: SystemTime,
    location: SignatureLocation,
) -> anyhow::Result<http::Request<Vec<u8>>> {
    let identity = aws_credential_types::Credentials::new(
        access_key_id,
        secret,
        token.map(str::to_owned),
        None,
        "rampart-testkit",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = location;
    settings.expires_in = Some(Duration::from_secs(60));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(time)
        .settings(settings)
        .build()?
        .into();
    if !req.headers().contains_key(http::header::HOST)
        && let Some(a) = req.uri().authority()
    {
        let host = http::HeaderValue::from_str(a.as_str())?;
        req.headers_mut().insert(http::header::HOST, host);
    }
    let uri = req.uri().to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| Ok((k.as_str().to_owned(), v.to_str()?.to_owned())))
        .collect::<anyhow::Result<_>>()?;
    // The payload as the request declares it: S3's unsigned and streaming forms sign that word.
    let body = match req.headers().get("x-amz-content-sha256").and_then(|v| v.to_str().ok()) {
        Some("UNSIGNED-PAYLOAD") => SignableBody::UnsignedPayload,
        Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER") => SignableBody::StreamingUnsignedPayloadTrailer,
        Some(v @ ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD" | "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")) => {
            SignableBody::Precomputed(v.to_owned())
        }
        _ => SignableBody::Bytes(req.body()),
    };
    let signable =
        SignableRequest::new(req.method().as_str(), uri, headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), body)?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    instructions.apply_to_request_http1x(&mut req);
    Ok(req)
}

impl TestServer {
    /// Posts a console sign-in attempt (`/_rampart/signin`) and returns the status and JSON body.
    pub async fn sign_in(&self, body: &serde_json::Value) -> anyhow::Result<(u16, serde_json::Value)> {
        self.sign_in_from(None, body).await
    }

    /// [`TestServer::sign_in`] from a chosen local address.
    pub async fn sign_in_from(
        &self,
        local: Option<std::net::IpAddr>,
        body: &serde_json::Value,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let req = http::Request::post(format!("{}/_rampart/signin", self.endpoint))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.to_string().into_bytes())?;
        let r = send_from(local, req).await?;
        Ok((r.status, serde_json::from_str(&r.body)?))
    }
}

/// Sends a raw request over plain HTTP.
pub async fn send(req: http::Request<Vec<u8>>) -> anyhow::Result<Raw> {
    send_from(None, req).await
}

/// [`send`] from a chosen local address (`127.0.1.5`: another loopback network than the SDK
/// clients' `127.0.0.1`, to play a caller somewhere else).
pub async fn send_from(local: Option<std::net::IpAddr>, req: http::Request<Vec<u8>>) -> anyhow::Result<Raw> {
    let mut connector = HttpConnector::new();
    connector.set_local_address(local);
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let (parts, body) = req.into_parts();
    let resp = client.request(http::Request::from_parts(parts, Full::new(Bytes::from(body)))).await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(Raw { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

/// Sends a raw request over plain HTTP and counts the body's bytes as they arrive, keeping none
/// (a benchmark's downloads, which must not cost the client more than receiving them).
pub async fn send_counting(req: http::Request<Vec<u8>>) -> anyhow::Result<(u16, http::HeaderMap, usize)> {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let (parts, body) = req.into_parts();
    let resp = client.request(http::Request::from_parts(parts, Full::new(Bytes::from(body)))).await?;
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    let mut body = resp.into_body();
    let mut received = 0;
    while let Some(frame) = body.frame().await {
        received += frame?.data_ref().map_or(0, Bytes::len);
    }
    Ok((status, headers, received))
}

/// A `rampart serve` process started from the real binary; killed when dropped.
pub struct ServerProcess {
    child: std::process::Child,
    /// The address it listens on (`127.0.0.1:PORT`).
    pub addr: String,
    /// What it printed up to the line saying where it listens (the first start's account,
    /// password and key).
    pub banner: String,
    /// The line after that: `Try: …`, a command to paste.
    pub try_line: String,
}

impl ServerProcess {
    /// Runs `bin serve --listen 127.0.0.1:0 ARGS…` in `dir` with `env` added to a clean
    /// environment (no `RAMPART_` variables of the caller), and waits until it listens.
    pub fn start(
        bin: &std::path::Path,
        dir: &std::path::Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        use std::io::BufRead as _;
        let mut cmd = std::process::Command::new(bin);
        cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(args).current_dir(dir);
        for (k, _) in std::env::vars() {
            if k.starts_with("RAMPART_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().copied()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null());
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut server = Self { child, addr: String::new(), banner: String::new(), try_line: String::new() };
        let mut lines = std::io::BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line?;
            server.banner.push_str(&line);
            server.banner.push('\n');
            if let Some(rest) = line
                .strip_prefix("Rampart is listening on http://")
                .or_else(|| line.strip_prefix("Rampart is listening on https://"))
            {
                server.addr = rest.split_whitespace().next().unwrap_or_default().to_owned();
                server.try_line = lines.next().transpose()?.unwrap_or_default();
                // Keep reading what it prints: a closed pipe would fail its next line.
                std::thread::spawn(move || lines.for_each(drop));
                return Ok(server);
            }
        }
        anyhow::bail!("the server did not start: {}", server.banner)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
