//! The server load benchmark.
//!
//! Starts the `rampart` binary that sits beside this one (build both with
//! `cargo build --release -p rampart-cli -p rampart-testkit`) on a fresh data directory, then sends
//! signed STS GetCallerIdentity calls over keep-alive HTTP/1.1 connections for a fixed time, and
//! reports throughput and latency percentiles, the CPU time a request cost (the server's, and the
//! whole machine's, which takes in this benchmark and the kernel's disk work), the server's idle
//! RSS and its start-up time on an existing data directory. Loopback only; bounded in time. On a
//! machine where the benchmark and the server share the cores, CPU per request is the steadier
//! figure: throughput follows whatever else the machine runs.
//!
//! `--op get-user` loads IAM GetUser by a user whose access an inline policy decides; `--op
//! member-get-user` the same in a member account of an organization, three OUs deep with an SCP at
//! every level (compare the two for what SCPs cost); `--op create-user` loads durable, audited
//! CreateUser calls; `--op s3-put` and `--op s3-get` load PutObject and GetObject of 4 KiB
//! objects (sealed at rest); `--op s3-transfer [--mib N]` uploads N MiB (default 1024) in 8 MiB
//! parts and downloads it in 8 MiB ranges, 8 connections each way, then in one GET, and reports MB/s and the
//! server's peak RSS growth. `--op proxy` starts a trivial upstream and the server with two
//! proxy listeners in front of it (no web ACL; AWS's CommonRuleSet, SQLiRuleSet and
//! KnownBadInputsRuleSet with a rate-based rule) and loads a small GET straight to the upstream
//! and through each, in one run.
//!
//! `--populate USERS,ROLES,POLICIES` stores that many users, roles and managed policies before
//! measuring, to compare reads on a full account with reads on an empty one.
//!
//! `--postgres` runs the server on a PostgreSQL database (a throwaway server started from the
//! machine's binaries, with its durability settings on), and `--nodes N` starts N servers on it,
//! the connections spread over them (the server CPU figure is theirs together).
//!
//! `--guardduty` measures what GuardDuty's detector costs: the op at each connection count with
//! the account's detector disabled, enabled, disabled, enabled (side by side, as the machine is
//! noisy), then the time from a call to its finding (20 root calls, each a finding's repeat).
//!
//! `loadbench [--op OP] [--connections N]... [--seconds S] [--populate U,R,P] [--postgres [--nodes N]]
//! [--guardduty] [--addr HOST:PORT --creds FILE]`: with `--addr`, load an already running server, signing with
//! the root key in `--creds` (a shared-credentials file such as `rampart-data/root-credentials`).

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use aws_sigv4::http_request::SignatureLocation;
use rampart_testkit::sign_request;

struct Creds {
    id: String,
    secret: String,
    token: Option<String>,
}

struct Server {
    child: std::process::Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts the server and returns it once `/_rampart/health` answers, with the time that took.
async fn spawn(bin: &PathBuf, data: &std::path::Path, extra: &[String]) -> anyhow::Result<(Server, Duration)> {
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let child = std::process::Command::new(bin)
        .args(["serve", "--listen", &addr, "--data-dir"])
        .arg(data)
        .args(extra)
        // Quiet unless the caller asks (`RAMPART_LOG=info RAMPART_LOG_FILE=…` measures the request log).
        .env("RAMPART_LOG", std::env::var("RAMPART_LOG").unwrap_or_else(|_| "warn".to_owned()))
        .stdout(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let server = Server { child, addr };
    let deadline = started + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = tokio::net::TcpStream::connect(&server.addr).await {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            s.write_all(b"GET /_rampart/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await?;
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await?;
            if buf.starts_with(b"HTTP/1.1 200") {
                return Ok((server, started.elapsed()));
            }
        }
        if Instant::now() > deadline {
            bail!("the server did not become healthy in 30 s");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn read_creds(file: &std::path::Path) -> anyhow::Result<Creds> {
    let text = std::fs::read_to_string(file)?;
    let get = |k: &str| {
        text.lines().find_map(|l| l.strip_prefix(k)).map(|v| v.trim_start_matches([' ', '=']).trim().to_owned())
    };
    Ok(Creds {
        id: get("aws_access_key_id").context("no key id")?,
        secret: get("aws_secret_access_key").context("no secret")?,
        token: None,
    })
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// A process's CPU time (user and system) in clock ticks, from `/proc/PID/stat`; `None` where
/// there is no `/proc`.
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name (field 2) may hold spaces: count fields from its closing parenthesis. utime and
    // stime are fields 14 and 15, the 12th and 13th after it.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The whole machine's busy CPU time (all but idle and I/O wait) in clock ticks, from
/// `/proc/stat`: what the server, this benchmark and the kernel's work for them (disk writeback
/// included) cost together.
fn machine_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let times = stat.lines().next()?.strip_prefix("cpu ")?.split_whitespace();
    // user nice system idle iowait irq softirq steal
    let busy = times.take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4);
    busy.map(|(_, t)| t.parse::<u64>().ok()).sum()
}

/// Clock ticks a second in `/proc` (Linux's USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// What the benchmark calls.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    /// STS GetCallerIdentity as the root user.
    GetCallerIdentity,
    /// IAM GetUser by a user whose access is decided by an inline policy.
    GetUser,
    /// The same, by a user of a member account three OUs deep, under an SCP at every level.
    MemberGetUser,
    /// IAM CreateUser as root: a durable, audited write per request.
    CreateUser,
    /// STS AssumeRole by a user the role trusts.
    AssumeRole,
    /// STS GetCallerIdentity signed with role-session credentials.
    SessionCallerIdentity,
    /// KMS Encrypt of 1 KiB under a symmetric key, by a user its IAM policy (through the default
    /// key policy) allows.
    KmsEncrypt,
    /// KMS GenerateDataKey (AES_256) by the same user.
    KmsGenerateDataKey,
    /// KMS Sign (ECDSA_SHA_256, a 32-byte message) with an ECC_NIST_P256 key by the same user.
    KmsSign,
    /// S3 PutObject of 4 KiB (SSE-S3: sealed at rest) as root, over one key (each PUT replaces
    /// the last).
    S3Put,
    /// S3 GetObject of a 4 KiB object (SSE-S3) as root.
    S3Get,
    /// A small GET straight to the trivial upstream (`--op proxy` runs this and the next two).
    ProxyDirect,
    /// The same GET through a proxy listener with no web ACL.
    ProxyOpen,
    /// The same GET through a proxy listener whose web ACL inspects it (see [`bench_web_acl`]).
    ProxyWaf,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Self::GetCallerIdentity => "GetCallerIdentity",
            Self::GetUser => "GetUser",
            Self::MemberGetUser => "GetUser (member account, SCPs at 4 levels)",
            Self::CreateUser => "CreateUser",
            Self::AssumeRole => "AssumeRole",
            Self::SessionCallerIdentity => "GetCallerIdentity (session)",
            Self::KmsEncrypt => "KMS Encrypt (1 KiB)",
            Self::KmsGenerateDataKey => "KMS GenerateDataKey",
            Self::KmsSign => "KMS Sign (ECC_NIST_P256)",
            Self::S3Put => "S3 PutObject (4 KiB)",
            Self::S3Get => "S3 GetObject (4 KiB)",
            Self::ProxyDirect => "GET upstream directly",
            Self::ProxyOpen => "GET via proxy, no web ACL",
            Self::ProxyWaf => "GET via proxy, web ACL",
        }
    }
}

static NEXT_USER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn form(addr: &str, creds: &Creds, service: &str, body: String) -> anyhow::Result<http::Request<Vec<u8>>> {
    let mut builder = http::Request::post(format!("http://{addr}/"))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8");
    if let Some(t) = &creds.token {
        builder = builder.header("x-amz-security-token", t.as_str());
    }
    let req = builder.body(body.into_bytes())?;
    sign_request(req, &creds.id, &creds.secret, service, SystemTime::now(), SignatureLocation::Headers)
}

fn signed(addr: &str, creds: &Creds, op: Op) -> anyhow::Result<http::Request<Vec<u8>>> {
    match op {
        Op::GetCallerIdentity | Op::SessionCallerIdentity => {
            form(addr, creds, "sts", "Action=GetCallerIdentity&Version=2011-06-15".into())
        }
        Op::AssumeRole => form(
            addr,
            creds,
            "sts",
            format!(
                "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=bench",
                form_encode(&ROLE_ARN_PLACEHOLDER.replace("ACCOUNT", ROLE_ACCOUNT.get().map_or("", String::as_str)))
            ),
        ),
        Op::GetUser | Op::MemberGetUser => form(addr, creds, "iam", "Action=GetUser&Version=2010-05-08".into()),
        Op::KmsEncrypt | Op::KmsGenerateDataKey | Op::KmsSign => {
            let (target, body) = kms_request(op);
            kms_signed(addr, creds, target, body)
        }
        Op::S3Put => s3_signed(addr, creds, "PUT", "/loadbench/bench.bin", vec![0x5a; 4096]),
        Op::S3Get => s3_signed(addr, creds, "GET", "/loadbench/read.bin", Vec::new()),
        Op::ProxyDirect | Op::ProxyOpen | Op::ProxyWaf => {
            Ok(http::Request::get("/products/42?color=blue&size=m&page=2")
                .header("host", addr)
                .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
                .header("accept", "text/html,application/xhtml+xml")
                .header("cookie", "session=8f14e45fceea167a5a36dedd4bea2543; theme=dark")
                .body(Vec::new())?)
        }
        Op::CreateUser => {
            let n = NEXT_USER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            form(
                addr,
                creds,
                "iam",
                format!("Action=CreateUser&Version=2010-05-08&UserName=load{}-{n}", std::process::id()),
            )
        }
    }
}

/// An S3 request, signed as the SDK signs it over HTTP (the payload's SHA-256 in
/// `x-amz-content-sha256`), or with `UNSIGNED-PAYLOAD` when `unsigned`.
fn s3_request(
    addr: &str,
    creds: &Creds,
    (method, target): (&str, &str),
    body: Vec<u8>,
    unsigned: bool,
) -> anyhow::Result<http::Request<Vec<u8>>> {
    let hash = if unsigned {
        "UNSIGNED-PAYLOAD".to_owned()
    } else {
        data_encoding::HEXLOWER.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body).as_ref())
    };
    let req = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{target}"))
        .header("x-amz-content-sha256", hash)
        .body(body)?;
    sign_request(req, &creds.id, &creds.secret, "s3", SystemTime::now(), SignatureLocation::Headers)
}

fn s3_signed(
    addr: &str,
    creds: &Creds,
    method: &str,
    target: &str,
    body: Vec<u8>,
) -> anyhow::Result<http::Request<Vec<u8>>> {
    s3_request(addr, creds, (method, target), body, false)
}

/// The bucket the S3 operations use, with the object GetObject reads.
async fn s3_setup(addr: &str, root: &Creds) -> anyhow::Result<()> {
    for (method, target, body) in [("PUT", "/loadbench", Vec::new()), ("PUT", "/loadbench/read.bin", vec![0x42; 4096])]
    {
        let r = rampart_testkit::send(s3_signed(addr, root, method, target, body)?).await?;
        anyhow::ensure!(r.status == 200 || r.body.contains("BucketAlreadyOwnedByYou"), "S3 setup failed: {}", r.body);
    }
    Ok(())
}

/// Part size and concurrency of the transfer benchmark, as the AWS CLI's defaults.
const PART: usize = 8 * 1024 * 1024;
const TRANSFER_CONNECTIONS: usize = 8;

/// Uploads `mib` MiB in 8 MiB parts over 8 connections, then downloads it in 8 MiB ranges over 8
/// connections; prints each direction's throughput and the server's peak RSS growth.
async fn s3_transfer(addr: &str, root: &std::sync::Arc<Creds>, mib: usize, pid: Option<u32>) -> anyhow::Result<()> {
    s3_setup(addr, root).await?;
    let r = rampart_testkit::send(s3_signed(addr, root, "POST", "/loadbench/big.bin?uploads", Vec::new())?).await?;
    let upload = xml_field(&r.body, "UploadId").context("no upload id")?;
    let parts = (mib * 1024 * 1024).div_ceil(PART);
    let body: std::sync::Arc<Vec<u8>> = std::sync::Arc::new((0..PART).map(|i| (i * 31 % 251) as u8).collect());
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let base = pid.and_then(rss_kib).unwrap_or(0);
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            while let Some(kib) = pid.and_then(rss_kib) {
                peak.fetch_max(kib, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(1));
    let etags = std::sync::Arc::new(std::sync::Mutex::new(vec![String::new(); parts]));
    let started = Instant::now();
    let tasks: Vec<_> = (0..TRANSFER_CONNECTIONS)
        .map(|_| {
            let (addr, root, body, next, etags, upload) =
                (addr.to_owned(), root.clone(), body.clone(), next.clone(), etags.clone(), upload.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n > parts {
                        return anyhow::Ok(());
                    }
                    let target = format!("/loadbench/big.bin?partNumber={n}&uploadId={upload}");
                    let req = s3_request(&addr, &root, ("PUT", &target), body.to_vec(), true)?;
                    let r = rampart_testkit::send(req).await?;
                    anyhow::ensure!(r.status == 200, "UploadPart failed: {}", r.body);
                    let etag = r.headers.get("etag").and_then(|v| v.to_str().ok()).context("no ETag")?.to_owned();
                    if let Some(slot) = etags.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.get_mut(n - 1) {
                        *slot = etag;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let list: String = etags
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .iter()
        .enumerate()
        .map(|(i, e)| format!("<Part><PartNumber>{}</PartNumber><ETag>{e}</ETag></Part>", i + 1))
        .collect();
    let doc = format!("<CompleteMultipartUpload>{list}</CompleteMultipartUpload>").into_bytes();
    let target = format!("/loadbench/big.bin?uploadId={upload}");
    let r = rampart_testkit::send(s3_signed(addr, root, "POST", &target, doc)?).await?;
    anyhow::ensure!(r.status == 200 && r.body.contains("ETag"), "CompleteMultipartUpload failed: {}", r.body);
    let up = started.elapsed().as_secs_f64();
    let up_peak = peak.swap(0, std::sync::atomic::Ordering::Relaxed);
    let total = (parts * PART) as f64;
    println!(
        "S3 multipart upload  {mib} MiB in {parts} parts of 8 MiB, {TRANSFER_CONNECTIONS} connections: {:.1} s, {:.0} MB/s, server RSS peak +{:.0} MiB",
        up,
        total / up / 1e6,
        up_peak.saturating_sub(base) as f64 / 1024.0
    );
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..TRANSFER_CONNECTIONS)
        .map(|_| {
            let (addr, root, next) = (addr.to_owned(), root.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= parts {
                        return anyhow::Ok(());
                    }
                    let mut req = s3_signed(&addr, &root, "GET", "/loadbench/big.bin", Vec::new())?;
                    let range = format!("bytes={}-{}", n * PART, (n + 1) * PART - 1);
                    req.headers_mut().insert("range", http::HeaderValue::from_str(&range)?);
                    let (status, _, len) = rampart_testkit::send_counting(req).await?;
                    anyhow::ensure!(status == 206 && len == PART, "ranged GET failed: {status}, {len} bytes");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let down = started.elapsed().as_secs_f64();
    let down_peak = peak.swap(0, std::sync::atomic::Ordering::Relaxed);
    println!(
        "S3 ranged download   {mib} MiB in 8 MiB ranges, {TRANSFER_CONNECTIONS} connections: {:.1} s, {:.0} MB/s, server RSS peak +{:.0} MiB",
        down,
        total / down / 1e6,
        down_peak.saturating_sub(base) as f64 / 1024.0
    );
    // As `aws s3api get-object` or an SDK's GetObject fetch it: one GET, no range. Its growth is
    // counted from the RSS it starts at (the ranged downloads' freed memory is not all returned).
    let before = pid.and_then(rss_kib).unwrap_or(0);
    let started = Instant::now();
    let (status, _, len) =
        rampart_testkit::send_counting(s3_signed(addr, root, "GET", "/loadbench/big.bin", Vec::new())?).await?;
    anyhow::ensure!(status == 200 && len == parts * PART, "GET failed: {status}, {len} bytes");
    let whole = started.elapsed().as_secs_f64();
    let whole_peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    sampler.abort();
    println!(
        "S3 whole download    {mib} MiB in one GET: {:.1} s, {:.0} MB/s, server RSS peak +{:.0} MiB over its start, +{:.0} MiB over the GET's",
        whole,
        total / whole / 1e6,
        whole_peak.saturating_sub(base) as f64 / 1024.0,
        whole_peak.saturating_sub(before) as f64 / 1024.0
    );
    Ok(())
}

/// The KMS keys the KMS operations use: symmetric, then ECC_NIST_P256.
static KMS_KEYS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();

/// A KMS operation's target and body.
fn kms_request(op: Op) -> (&'static str, serde_json::Value) {
    let (symmetric, ecc) = KMS_KEYS.get().map(|(s, e)| (s.as_str(), e.as_str())).unwrap_or_default();
    match op {
        Op::KmsEncrypt => {
            let plaintext = data_encoding::BASE64.encode(&[0x5a; 1024]);
            ("Encrypt", serde_json::json!({"KeyId": symmetric, "Plaintext": plaintext}))
        }
        Op::KmsGenerateDataKey => ("GenerateDataKey", serde_json::json!({"KeyId": symmetric, "KeySpec": "AES_256"})),
        _ => {
            let message = data_encoding::BASE64.encode(&[0x42; 32]);
            ("Sign", serde_json::json!({"KeyId": ecc, "Message": message, "SigningAlgorithm": "ECDSA_SHA_256"}))
        }
    }
}

/// A KMS call (awsJson 1.1), signed with `creds`.
fn kms_signed(addr: &str, creds: &Creds, op: &str, body: serde_json::Value) -> anyhow::Result<http::Request<Vec<u8>>> {
    let mut builder = http::Request::post(format!("http://{addr}/"))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("TrentService.{op}"));
    if let Some(t) = &creds.token {
        builder = builder.header("x-amz-security-token", t.as_str());
    }
    let req = builder.body(body.to_string().into_bytes())?;
    sign_request(req, &creds.id, &creds.secret, "kms", SystemTime::now(), SignatureLocation::Headers)
}

/// Creates the two keys the KMS operations use, and a user whose IAM policy allows KMS (the
/// keys' default policies delegate to IAM); returns the user's key.
async fn kms_user(addr: &str, root: &Creds) -> anyhow::Result<Creds> {
    let mut ids = Vec::new();
    for body in [serde_json::json!({}), serde_json::json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"})] {
        let r = rampart_testkit::send(kms_signed(addr, root, "CreateKey", body)?).await?;
        anyhow::ensure!(r.status == 200, "CreateKey failed: {}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body)?;
        ids.push(v.pointer("/KeyMetadata/KeyId").and_then(serde_json::Value::as_str).context("no key id")?.to_owned());
    }
    let [symmetric, ecc] = <[String; 2]>::try_from(ids).map_err(|_| anyhow::anyhow!("two keys"))?;
    KMS_KEYS.set((symmetric, ecc)).ok();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:GenerateDataKey","kms:Sign"],"Resource":"*"}]}"#;
    user_with_policy(addr, root, "kmsbench", policy).await
}

/// Stands in for the benchmark role's ARN until the account is known; replaced at setup.
const ROLE_ARN_PLACEHOLDER: &str = "arn:aws:iam::ACCOUNT:role/loadbench";

fn xml_field(body: &str, tag: &str) -> Option<String> {
    let start = body.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = body.get(start..)?.find('<')? + start;
    body.get(start..end).map(str::to_owned)
}

/// Creates a role `loadbench` that the `loadbench` user may assume; with `session`, assumes it
/// once and returns the session's credentials, else returns the user's.
async fn role_user(addr: &str, root: &Creds, session: bool) -> anyhow::Result<Creds> {
    let user = policy_user(addr, root).await?;
    let r =
        rampart_testkit::send(form(addr, root, "sts", "Action=GetCallerIdentity&Version=2011-06-15".into())?).await?;
    let account = xml_field(&r.body, "Account").context("no account")?;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let may = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::{account}:role/loadbench"}}]}}"#
    );
    for body in [
        format!(
            "Action=CreateRole&Version=2010-05-08&RoleName=loadbench&AssumeRolePolicyDocument={}",
            form_encode(&trust)
        ),
        format!(
            "Action=PutUserPolicy&Version=2010-05-08&UserName=loadbench&PolicyName=assume&PolicyDocument={}",
            form_encode(&may)
        ),
    ] {
        let r = rampart_testkit::send(form(addr, root, "iam", body)?).await?;
        anyhow::ensure!(r.status == 200 || r.body.contains("EntityAlreadyExists"), "setup failed: {}", r.body);
    }
    ROLE_ACCOUNT.set(account.clone()).ok();
    if !session {
        return Ok(user);
    }
    let arn = format!("arn:aws:iam::{account}:role/loadbench");
    let r = rampart_testkit::send(form(
        addr,
        &user,
        "sts",
        format!("Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=bench", form_encode(&arn)),
    )?)
    .await?;
    anyhow::ensure!(r.status == 200, "AssumeRole failed: {}", r.body);
    Ok(Creds {
        id: xml_field(&r.body, "AccessKeyId").context("no key id")?,
        secret: xml_field(&r.body, "SecretAccessKey").context("no secret")?,
        token: Some(xml_field(&r.body, "SessionToken").context("no token")?),
    })
}

static ROLE_ACCOUNT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// An Organizations call (awsJson 1.1), signed with `creds`; returns the answer's JSON.
async fn organizations(
    addr: &str,
    creds: &Creds,
    op: &str,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let req = http::Request::post(format!("http://{addr}/"))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("AWSOrganizationsV20161128.{op}"))
        .body(body.to_string().into_bytes())?;
    let req =
        sign_request(req, &creds.id, &creds.secret, "organizations", SystemTime::now(), SignatureLocation::Headers)?;
    let r = rampart_testkit::send(req).await?;
    anyhow::ensure!(r.status == 200, "{op} failed: {}", r.body);
    serde_json::from_str(&r.body).with_context(|| format!("{op} answered {}", r.body))
}

/// An SCP that allows everything but one service outside one region: a policy every request of
/// the member is weighed against at its level.
fn level_scp(n: usize) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}},{{"Sid":"Fence{n}","Effect":"Deny","Action":"ec2:*","Resource":"*","Condition":{{"StringNotEquals":{{"aws:RequestedRegion":"eu-west-1"}}}}}}]}}"#
    )
}

/// Builds an organization with a member account three OUs deep (root → a → b → c), an SCP at
/// the root, each OU and the account, and in the member a user allowed `iam:GetUser` on itself;
/// returns that user's key.
async fn member_user(addr: &str, root: &Creds) -> anyhow::Result<Creds> {
    let org = organizations(addr, root, "CreateOrganization", serde_json::json!({})).await?;
    anyhow::ensure!(org.pointer("/Organization/Id").is_some_and(serde_json::Value::is_string), "no organization");
    let roots = organizations(addr, root, "ListRoots", serde_json::json!({})).await?;
    let root_id = roots.pointer("/Roots/0/Id").and_then(serde_json::Value::as_str).context("no root")?.to_owned();
    organizations(
        addr,
        root,
        "EnablePolicyType",
        serde_json::json!({"RootId": root_id, "PolicyType": "SERVICE_CONTROL_POLICY"}),
    )
    .await?;
    let mut parent = root_id.clone();
    let mut targets = vec![root_id.clone()];
    for name in ["a", "b", "c"] {
        let ou = organizations(
            addr,
            root,
            "CreateOrganizationalUnit",
            serde_json::json!({"ParentId": parent, "Name": name}),
        )
        .await?;
        parent = ou.pointer("/OrganizationalUnit/Id").and_then(serde_json::Value::as_str).context("no OU")?.to_owned();
        targets.push(parent.clone());
    }
    let made = organizations(
        addr,
        root,
        "CreateAccount",
        serde_json::json!({"Email": "bench@example.com", "AccountName": "bench"}),
    )
    .await?;
    let request =
        made.pointer("/CreateAccountStatus/Id").and_then(serde_json::Value::as_str).context("no request")?.to_owned();
    let status = organizations(
        addr,
        root,
        "DescribeCreateAccountStatus",
        serde_json::json!({"CreateAccountRequestId": request}),
    )
    .await?;
    let member = status
        .pointer("/CreateAccountStatus/AccountId")
        .and_then(serde_json::Value::as_str)
        .context("no account")?
        .to_owned();
    organizations(
        addr,
        root,
        "MoveAccount",
        serde_json::json!({"AccountId": member, "SourceParentId": root_id, "DestinationParentId": parent}),
    )
    .await?;
    targets.push(member.clone());
    for (n, target) in targets.iter().enumerate() {
        let p = organizations(
            addr,
            root,
            "CreatePolicy",
            serde_json::json!({"Name": format!("level-{n}"), "Description": "bench", "Type": "SERVICE_CONTROL_POLICY", "Content": level_scp(n)}),
        )
        .await?;
        let id =
            p.pointer("/Policy/PolicySummary/Id").and_then(serde_json::Value::as_str).context("no policy")?.to_owned();
        organizations(addr, root, "AttachPolicy", serde_json::json!({"PolicyId": id, "TargetId": target})).await?;
    }
    // Into the member through its OrganizationAccountAccessRole, as a management-account user.
    let may = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    for body in [
        "Action=CreateUser&Version=2010-05-08&UserName=orgadmin".to_owned(),
        format!(
            "Action=PutUserPolicy&Version=2010-05-08&UserName=orgadmin&PolicyName=assume&PolicyDocument={}",
            form_encode(may)
        ),
    ] {
        let r = rampart_testkit::send(form(addr, root, "iam", body)?).await?;
        anyhow::ensure!(r.status == 200, "setup failed: {}", r.body);
    }
    let r = rampart_testkit::send(form(
        addr,
        root,
        "iam",
        "Action=CreateAccessKey&Version=2010-05-08&UserName=orgadmin".into(),
    )?)
    .await?;
    let admin = Creds {
        id: xml_field(&r.body, "AccessKeyId").context("no key id")?,
        secret: xml_field(&r.body, "SecretAccessKey").context("no secret")?,
        token: None,
    };
    let arn = format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole");
    let r = rampart_testkit::send(form(
        addr,
        &admin,
        "sts",
        format!("Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=bench", form_encode(&arn)),
    )?)
    .await?;
    anyhow::ensure!(r.status == 200, "AssumeRole failed: {}", r.body);
    let session = Creds {
        id: xml_field(&r.body, "AccessKeyId").context("no key id")?,
        secret: xml_field(&r.body, "SecretAccessKey").context("no secret")?,
        token: Some(xml_field(&r.body, "SessionToken").context("no token")?),
    };
    policy_user(addr, &session).await
}

/// Creates a user allowed `iam:GetUser` on itself, and returns its key (for `--op get-user`).
async fn policy_user(addr: &str, root: &Creds) -> anyhow::Result<Creds> {
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:username}"}]}"#;
    user_with_policy(addr, root, "loadbench", policy).await
}

/// Creates the user `name` (or finds it) with `policy` inline, and returns a new key of it.
async fn user_with_policy(addr: &str, root: &Creds, name: &str, policy: &str) -> anyhow::Result<Creds> {
    for body in [
        format!("Action=CreateUser&Version=2010-05-08&UserName={name}"),
        format!(
            "Action=PutUserPolicy&Version=2010-05-08&UserName={name}&PolicyName=bench&PolicyDocument={}",
            form_encode(policy)
        ),
    ] {
        let r = rampart_testkit::send(form(addr, root, "iam", body)?).await?;
        anyhow::ensure!(r.status == 200 || r.body.contains("EntityAlreadyExists"), "setup failed: {}", r.body);
    }
    let r = rampart_testkit::send(form(
        addr,
        root,
        "iam",
        format!("Action=CreateAccessKey&Version=2010-05-08&UserName={name}"),
    )?)
    .await?;
    Ok(Creds {
        id: xml_field(&r.body, "AccessKeyId").context("no key id")?,
        secret: xml_field(&r.body, "SecretAccessKey").context("no secret")?,
        token: None,
    })
}

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The request as bytes on the wire.
fn wire_bytes(req: &http::Request<Vec<u8>>) -> Vec<u8> {
    let target = req.uri().path_and_query().map_or("/", http::uri::PathAndQuery::as_str);
    let mut out = format!("{} {target} HTTP/1.1\r\n", req.method()).into_bytes();
    for (k, v) in req.headers() {
        out.extend_from_slice(k.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", req.body().len()).as_bytes());
    out.extend_from_slice(req.body());
    out
}

/// Reads one response; returns its status. Minimal parsing keeps the generator's CPU low.
async fn read_response(r: &mut tokio::io::BufReader<tokio::net::TcpStream>, line: &mut String) -> anyhow::Result<u16> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    line.clear();
    r.read_line(line).await?;
    let status: u16 = line.get(9..12).context("short status line")?.parse()?;
    let mut len = 0usize;
    loop {
        line.clear();
        if r.read_line(line).await? == 0 {
            bail!("connection closed");
        }
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.get(..15).filter(|p| p.eq_ignore_ascii_case("content-length:")).and(line.get(15..)) {
            len = v.trim().parse()?;
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    Ok(status)
}

/// One keep-alive connection sending requests back to back until `until`; returns latencies in µs.
async fn worker(addr: String, creds: std::sync::Arc<Creds>, until: Instant, op: Op) -> anyhow::Result<Vec<u32>> {
    use tokio::io::AsyncWriteExt;
    let stream = tokio::net::TcpStream::connect(&addr).await?;
    stream.set_nodelay(true)?;
    let mut conn = tokio::io::BufReader::new(stream);
    let mut lat = Vec::with_capacity(1 << 16);
    let mut line = String::new();
    // SigV4 has no nonce: a signed request stays valid for minutes. Re-sign every second so the
    // server sees current dates; it still verifies every request in full.
    let mut bytes = wire_bytes(&signed(&addr, &creds, op)?);
    let mut signed_at = Instant::now();
    while Instant::now() < until {
        // Writes need a fresh name per request; reads re-sign once a second.
        if op == Op::CreateUser || signed_at.elapsed() > Duration::from_secs(1) {
            bytes = wire_bytes(&signed(&addr, &creds, op)?);
            signed_at = Instant::now();
        }
        let t = Instant::now();
        conn.get_mut().write_all(&bytes).await?;
        let status = read_response(&mut conn, &mut line).await?;
        if status != 200 {
            bail!("status {status}");
        }
        lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    Ok(lat)
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index"
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted.get(i).copied().unwrap_or(0)) / 1000.0
}

/// Loads the server for `seconds` and prints throughput, latency and, where `/proc` has them,
/// the CPU time a request cost: the server's own (`server_pid`) and the whole machine's.
async fn run(
    addrs: &[String],
    creds: &std::sync::Arc<Creds>,
    connections: usize,
    seconds: u64,
    op: Op,
    server_pids: &[u32],
) -> anyhow::Result<()> {
    let until = Instant::now() + Duration::from_secs(seconds);
    let ticks = || -> Option<u64> {
        if server_pids.is_empty() {
            return None;
        }
        server_pids.iter().map(|p| process_ticks(*p)).sum()
    };
    let server_before = ticks();
    let machine_before = machine_ticks();
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|i| {
            let addr = addrs.get(i % addrs.len().max(1)).cloned().unwrap_or_default();
            tokio::spawn(worker(addr, creds.clone(), until, op))
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort_unstable();
    #[expect(clippy::cast_precision_loss, reason = "counts")]
    let (rate, per_request) = {
        let n = all.len().max(1) as f64;
        (all.len() as f64 / secs, move |before: Option<u64>, after: Option<u64>| {
            Some(after?.checked_sub(before?)? as f64 / TICKS_PER_SECOND * 1e6 / n)
        })
    };
    let server = per_request(server_before, ticks());
    let machine = per_request(machine_before, machine_ticks());
    let cpu = match (server, machine) {
        (Some(s), Some(m)) => format!("  cpu/req: server={s:.0} us machine={m:.0} us"),
        (None, Some(m)) => format!("  cpu/req: machine={m:.0} us"),
        _ => String::new(),
    };
    println!(
        "{:<17}  connections={connections:<3} requests={:<8} req/s={rate:>9.0}  p50={:.3} ms  p99={:.3} ms  max={:.3} ms{cpu}",
        op.name(),
        all.len(),
        pct(&all, 0.50),
        pct(&all, 0.99),
        pct(&all, 1.0)
    );
    Ok(())
}

/// The time from a call to its finding, measured 20 times: root calls GetCallerIdentity (each a
/// `Policy:IAMUser/RootCredentialUsage` repeat) and the finding's count is polled every 20 ms.
async fn guardduty_latency(addr: &str, root: &Creds, detector: &str) -> anyhow::Result<()> {
    let count = || async {
        let list = guardduty_call(addr, root, "POST", &format!("/detector/{detector}/findings"), "{}").await?;
        let ids = list.get("findingIds").cloned().unwrap_or_default();
        let got = guardduty_call(
            addr,
            root,
            "POST",
            &format!("/detector/{detector}/findings/get"),
            &serde_json::json!({ "findingIds": ids }).to_string(),
        )
        .await?;
        let n = got.get("findings").and_then(|f| f.as_array()).into_iter().flatten().find(|f| {
            f.get("type").and_then(|t| t.as_str()) == Some("Policy:IAMUser/RootCredentialUsage")
                && f.pointer("/service/action/awsApiCallAction/api").and_then(|a| a.as_str())
                    == Some("GetCallerIdentity")
        });
        anyhow::Ok(n.and_then(|f| f.pointer("/service/count")).and_then(|c| c.as_i64()).unwrap_or(0))
    };
    let mut took = Vec::new();
    for _ in 0..20 {
        let before = count().await?;
        let sent = Instant::now();
        rampart_testkit::send(form(addr, root, "sts", "Action=GetCallerIdentity&Version=2011-06-15".into())?).await?;
        while count().await? <= before {
            anyhow::ensure!(sent.elapsed() < Duration::from_secs(30), "no finding within 30 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        took.push(sent.elapsed());
    }
    took.sort_unstable();
    let ms = |q: usize| took.get(q.min(took.len().saturating_sub(1))).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    println!(
        "GuardDuty, call to finding: median={:.0} ms  p90={:.0} ms  max={:.0} ms (20 calls)",
        ms(took.len() / 2),
        ms(took.len() * 9 / 10),
        ms(took.len())
    );
    Ok(())
}

/// A GuardDuty (rest-json) call, signed; its JSON answer.
async fn guardduty_call(
    addr: &str,
    creds: &Creds,
    method: &str,
    path: &str,
    body: &str,
) -> anyhow::Result<serde_json::Value> {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(body.as_bytes().to_vec())?;
    let req = sign_request(req, &creds.id, &creds.secret, "guardduty", SystemTime::now(), SignatureLocation::Headers)?;
    let r = rampart_testkit::send(req).await?;
    anyhow::ensure!(r.status < 300, "GuardDuty {method} {path}: {} {}", r.status, r.body);
    Ok(serde_json::from_str(&r.body).unwrap_or_default())
}

/// Stores `users` users, `roles` roles and `policies` customer managed policies, 16 requests at a
/// time over their own connections; reports how long that took.
async fn populate(addr: &str, root: &std::sync::Arc<Creds>, counts: [usize; 3]) -> anyhow::Result<()> {
    let trust = form_encode(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    );
    let doc =
        form_encode(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}"#);
    let mut bodies = Vec::new();
    bodies.extend((0..counts[0]).map(|i| format!("Action=CreateUser&Version=2010-05-08&UserName=pop-user-{i}")));
    bodies.extend((0..counts[1]).map(|i| {
        format!("Action=CreateRole&Version=2010-05-08&RoleName=pop-role-{i}&AssumeRolePolicyDocument={trust}")
    }));
    bodies.extend(
        (0..counts[2])
            .map(|i| format!("Action=CreatePolicy&Version=2010-05-08&PolicyName=pop-policy-{i}&PolicyDocument={doc}")),
    );
    let started = Instant::now();
    let total = bodies.len();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(bodies));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (queue, addr, root) = (queue.clone(), addr.to_owned(), root.clone());
            tokio::spawn(async move {
                loop {
                    let Some(body) = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop() else {
                        return anyhow::Ok(());
                    };
                    let r = rampart_testkit::send(form(&addr, &root, "iam", body)?).await?;
                    anyhow::ensure!(
                        r.status == 200 || r.body.contains("EntityAlreadyExists"),
                        "populate failed: {}",
                        r.body
                    );
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    println!(
        "populated {} users, {} roles, {} policies ({total} writes) in {:.1} s",
        counts[0],
        counts[1],
        counts[2],
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The credentials an operation is sent with.
async fn setup_creds(addr: &str, root: std::sync::Arc<Creds>, op: Op) -> anyhow::Result<std::sync::Arc<Creds>> {
    Ok(match op {
        Op::GetCallerIdentity | Op::CreateUser => root,
        Op::S3Put | Op::S3Get => {
            s3_setup(addr, &root).await?;
            root
        }
        Op::GetUser => std::sync::Arc::new(policy_user(addr, &root).await?),
        Op::MemberGetUser => std::sync::Arc::new(member_user(addr, &root).await?),
        Op::AssumeRole => std::sync::Arc::new(role_user(addr, &root, false).await?),
        Op::SessionCallerIdentity => std::sync::Arc::new(role_user(addr, &root, true).await?),
        Op::KmsEncrypt | Op::KmsGenerateDataKey | Op::KmsSign => std::sync::Arc::new(kms_user(addr, &root).await?),
        Op::ProxyDirect | Op::ProxyOpen | Op::ProxyWaf => root,
    })
}

/// A WAFv2 call (awsJson 1.1), signed with `creds`.
async fn waf_call(addr: &str, creds: &Creds, op: &str, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
    let req = http::Request::post(format!("http://{addr}/"))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("AWSWAF_20190729.{op}"))
        .body(body.to_string().into_bytes())?;
    let r = rampart_testkit::send(sign_request(
        req,
        &creds.id,
        &creds.secret,
        "wafv2",
        SystemTime::now(),
        SignatureLocation::Headers,
    )?)
    .await?;
    anyhow::ensure!(r.status == 200, "{op} failed: {}", r.body);
    Ok(serde_json::from_str(&r.body)?)
}

/// Creates the benchmark's web ACL (named `bench`, which the guarded proxy names): the issue's
/// target configuration, AWS's CommonRuleSet, SQLiRuleSet and KnownBadInputsRuleSet and a
/// rate-based rule per client IP (its limit above what the run sends, so it counts every
/// request without blocking one).
async fn bench_web_acl(addr: &str, root: &Creds) -> anyhow::Result<()> {
    let visibility = |name: &str| serde_json::json!({"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": name});
    let mut rules = vec![serde_json::json!({
        "Name": "flood", "Priority": 0, "Action": {"Block": {}}, "VisibilityConfig": visibility("flood"),
        "Statement": {"RateBasedStatement": {"Limit": 2_000_000_000u64, "EvaluationWindowSec": 300, "AggregateKeyType": "IP"}},
    })];
    for (i, name) in
        ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesSQLiRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"]
            .iter()
            .enumerate()
    {
        rules.push(serde_json::json!({
            "Name": name, "Priority": i + 1, "OverrideAction": {"None": {}}, "VisibilityConfig": visibility(name),
            "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": name}},
        }));
    }
    waf_call(
        addr,
        root,
        "CreateWebACL",
        serde_json::json!({
            "Name": "bench", "Scope": "REGIONAL", "DefaultAction": {"Allow": {}}, "Rules": rules,
            "VisibilityConfig": visibility("bench"),
        }),
    )
    .await?;
    Ok(())
}

/// The proxy benchmark: the trivial upstream (its own process), then the server with two proxy
/// listeners in front of it, one without a web ACL and one with [`bench_web_acl`]'s; the same
/// small GET straight to the upstream and through each proxy, at each connection count, with the
/// proxies' throughput as a share of the direct one in the same run.
async fn proxy_bench(
    bin: &std::path::Path,
    data: &std::path::Path,
    connections: &[usize],
    seconds: u64,
) -> anyhow::Result<()> {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(bin.with_file_name("upstream"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("cannot run the upstream")?;
    let stdout = child.stdout.take().context("no upstream output")?;
    // Killed when the benchmark ends, as the server is.
    let _upstream = Server { child, addr: String::new() };
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    let up = line.trim().strip_prefix("listening on ").context("the upstream did not say where it listens")?.to_owned();
    let (open, guarded) = (format!("127.0.0.1:{}", free_port()?), format!("127.0.0.1:{}", free_port()?));
    let extra = vec![
        "--proxy".to_owned(),
        format!("name=open,listen={open},upstream=http://{up}"),
        "--proxy".to_owned(),
        format!("name=guarded,listen={guarded},upstream=http://{up},web-acl=bench"),
    ];
    let (server, _) = spawn(&bin.to_path_buf(), data, &extra).await?;
    let root = std::sync::Arc::new(read_creds(&data.join("root-credentials"))?);
    bench_web_acl(&server.addr, &root).await?;
    let pids = [server.child.id()];
    for (addr, op) in [(&up, Op::ProxyDirect), (&open, Op::ProxyOpen), (&guarded, Op::ProxyWaf)] {
        run(std::slice::from_ref(addr), &root, 4, 1, op, &pids).await?; // warm-up
    }
    for &c in connections {
        for (addr, op) in [(&up, Op::ProxyDirect), (&open, Op::ProxyOpen), (&guarded, Op::ProxyWaf)] {
            run(std::slice::from_ref(addr), &root, c, seconds, op, &pids).await?;
        }
    }
    drop(server);
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut connections = Vec::new();
    let mut seconds = 10u64;
    let mut attach: (Option<String>, Option<PathBuf>) = (None, None);
    let mut op = Op::GetCallerIdentity;
    let mut counts: Option<[usize; 3]> = None;
    let mut postgres = false;
    let mut nodes = 1usize;
    let mut transfer = false;
    let mut proxy = false;
    let mut mib = 1024usize;
    let mut guardduty = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--connections" => connections.push(args.next().context("--connections N")?.parse()?),
            "--seconds" => seconds = args.next().context("--seconds S")?.parse()?,
            "--addr" => attach.0 = Some(args.next().context("--addr HOST:PORT")?),
            "--postgres" => postgres = true,
            "--guardduty" => guardduty = true,
            "--mib" => mib = args.next().context("--mib N")?.parse()?,
            "--nodes" => nodes = args.next().context("--nodes N")?.parse()?,
            "--creds" => attach.1 = Some(args.next().context("--creds FILE")?.into()),
            "--populate" => {
                let v = args.next().context("--populate USERS,ROLES,POLICIES")?;
                let n: Vec<usize> = v.split(',').map(str::parse).collect::<Result<_, _>>()?;
                let [u, r, p] = n[..] else { bail!("--populate USERS,ROLES,POLICIES") };
                anyhow::ensure!(u + r + p <= 100_000, "--populate stores at most 100,000 entities");
                counts = Some([u, r, p]);
            }
            "--op" => {
                op = match args.next().as_deref() {
                    Some("get-caller-identity") => Op::GetCallerIdentity,
                    Some("get-user") => Op::GetUser,
                    Some("member-get-user") => Op::MemberGetUser,
                    Some("create-user") => Op::CreateUser,
                    Some("assume-role") => Op::AssumeRole,
                    Some("session-caller-identity") => Op::SessionCallerIdentity,
                    Some("kms-encrypt") => Op::KmsEncrypt,
                    Some("kms-generate-data-key") => Op::KmsGenerateDataKey,
                    Some("kms-sign") => Op::KmsSign,
                    Some("s3-put") => Op::S3Put,
                    Some("s3-get") => Op::S3Get,
                    Some("s3-transfer") => {
                        transfer = true;
                        Op::GetCallerIdentity
                    }
                    Some("proxy") => {
                        proxy = true;
                        Op::ProxyDirect
                    }
                    _ => bail!(
                        "--op is get-caller-identity, get-user, member-get-user, create-user, assume-role, \
                         session-caller-identity, kms-encrypt, kms-generate-data-key, kms-sign, s3-put, s3-get, \
                         s3-transfer or proxy"
                    ),
                }
            }
            _ => bail!(
                "usage: loadbench [--op OP] [--connections N]... [--seconds S] [--populate U,R,P] [--postgres [--nodes N]] \
                 [--guardduty] [--addr HOST:PORT --creds FILE]"
            ),
        }
    }
    anyhow::ensure!(seconds <= 300, "--seconds is at most 300");
    anyhow::ensure!((1..=8).contains(&nodes), "--nodes is 1 to 8");
    anyhow::ensure!(nodes == 1 || postgres, "--nodes needs --postgres: the embedded store has one node");
    if connections.is_empty() {
        connections = vec![1, 32];
    }
    if let (Some(addr), Some(creds)) = attach {
        let mut creds = std::sync::Arc::new(read_creds(&creds)?);
        // The transfer benchmark against a server started elsewhere (under a profiler): its RSS is
        // not sampled here.
        if transfer {
            return s3_transfer(&addr, &creds, mib, None).await;
        }
        if let Some(counts) = counts {
            populate(&addr, &creds, counts).await?;
        }
        creds = setup_creds(&addr, creds, op).await?;
        for c in connections {
            run(std::slice::from_ref(&addr), &creds, c, seconds, op, &[]).await?;
        }
        return Ok(());
    }
    let bin = std::env::current_exe()?.with_file_name("rampart");
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    if proxy {
        return proxy_bench(&bin, &data, &connections, seconds).await;
    }
    // The database, when asked for: a server of the benchmark's own, durable as in production.
    let (_pg, store): (Option<rampart_pgtest::Server>, Vec<String>) = if postgres {
        let pg = rampart_pgtest::start_server(&rampart_pgtest::Options { durable: true, ..Default::default() })
            .map_err(|e| anyhow::anyhow!("PostgreSQL: {e}"))?;
        pg.create_database("loadbench").map_err(|e| anyhow::anyhow!("PostgreSQL: {e}"))?;
        let url = pg.url("loadbench");
        println!("store: PostgreSQL (a throwaway server, fsync on), {nodes} node(s)");
        (Some(pg), vec!["--store".to_owned(), url])
    } else {
        (None, Vec::new())
    };

    let (server, first) = spawn(&bin, &data, &store).await?;
    let mut creds = std::sync::Arc::new(read_creds(&data.join("root-credentials"))?);
    println!("first start (bootstrap, argon2id hash): {:.1} ms", first.as_secs_f64() * 1000.0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    if let Some(kib) = rss_kib(server.child.id()) {
        println!("idle RSS after start: {:.1} MiB", kib as f64 / 1024.0);
    }
    drop(server);
    let (server, restart) = spawn(&bin, &data, &store).await?;
    let what = if postgres { "database" } else { "data dir" };
    println!("start-up on an existing {what} (to first healthy answer): {:.1} ms", restart.as_secs_f64() * 1000.0);
    let mut servers = vec![server];
    for n in 1..nodes {
        let mut extra = store.clone();
        extra.extend(["--master-key-file".to_owned(), data.join("master.key").to_string_lossy().into_owned()]);
        let (node, took) = spawn(&bin, &dir.path().join(format!("data{n}")), &extra).await?;
        println!("node {n} joined in {:.1} ms", took.as_secs_f64() * 1000.0);
        servers.push(node);
    }
    let addrs: Vec<String> = servers.iter().map(|s| s.addr.clone()).collect();
    let pids: Vec<u32> = servers.iter().map(|s| s.child.id()).collect();
    let first_addr = addrs.first().cloned().unwrap_or_default();
    if let Some(counts) = counts {
        populate(&first_addr, &creds, counts).await?;
    }
    if transfer {
        anyhow::ensure!((1..=4096).contains(&mib), "--mib is 1 to 4096");
        return s3_transfer(&first_addr, &creds, mib, pids.first().copied()).await;
    }
    let root = creds.clone();
    creds = setup_creds(&first_addr, creds, op).await?;
    run(&addrs, &creds, 4, 2, op, &pids).await.map(|_| ()).ok(); // warm-up
    if guardduty {
        // Side by side: off, on, off, on, so that drift on a noisy machine shows.
        let detector = guardduty_call(&first_addr, &root, "POST", "/detector", r#"{"enable":false}"#).await?;
        let id = detector
            .get("detectorId")
            .and_then(|d| d.as_str())
            .context("CreateDetector answered no detectorId")?
            .to_owned();
        for c in connections {
            for on in [false, true, false, true] {
                let body = format!(r#"{{"enable":{on}}}"#);
                guardduty_call(&first_addr, &root, "POST", &format!("/detector/{id}"), &body).await?;
                println!("GuardDuty detector {}:", if on { "enabled" } else { "disabled" });
                run(&addrs, &creds, c, seconds, op, &pids).await?;
            }
        }
        return guardduty_latency(&first_addr, &root, &id).await;
    }
    for c in connections {
        run(&addrs, &creds, c, seconds, op, &pids).await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for s in &servers {
        if let Some(kib) = rss_kib(s.child.id()) {
            println!("RSS after load: {:.1} MiB", kib as f64 / 1024.0);
        }
    }
    Ok(())
}
