//! A throwaway PostgreSQL server for tests and benchmarks, started from the machine's own
//! binaries (`initdb`, `postgres`, `createdb` on the PATH or under `/usr/lib/postgresql/*/bin`).
//!
//! One server per process, started on first use on a loopback port with a fresh cluster in a
//! temporary directory; each caller gets a database of its own ([`database`]). PostgreSQL refuses
//! to run as root, so as root the server runs as the `postgres` user. It is started through
//! `setpriv --pdeathsig KILL` from a thread that lives as long as the process, so it dies with
//! the process however that ends; clusters of processes that are gone are removed at the next
//! start.

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

/// A running server.
#[derive(Debug, Clone)]
pub struct Server {
    pub port: u16,
    bin: PathBuf,
    /// The OS user the server runs as, when not this process's (`postgres` when run as root).
    run_as: Option<String>,
    pub dir: PathBuf,
    pub pid: u32,
}

/// Why no server could be started: a message naming what is missing.
#[derive(Debug)]
pub struct Unavailable(pub String);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);
static CREATING: Mutex<()> = Mutex::new(());

/// The process's server, started on first use.
pub fn server() -> Result<&'static Server, Unavailable> {
    SERVER.get_or_init(|| start(&Options::default())).as_ref().map_err(|e| Unavailable(e.clone()))
}

/// A new, empty database on the process's server; returns its `postgres://` URL.
pub fn database() -> Result<String, Unavailable> {
    let server = server()?;
    let name = format!("rampart_{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::Relaxed));
    server.create_database(&name)?;
    Ok(server.url(&name))
}

/// How to start a server.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Keep PostgreSQL's durability settings (fsync on) — for benchmarks. Tests turn fsync off,
    /// which survives the server's kill (the data is in the OS's cache) but not the machine's.
    pub durable: bool,
    /// Serve TLS with this certificate chain and key (PEM).
    pub tls: Option<(String, String)>,
}

impl Server {
    /// The URL of database `name`, over TCP on loopback, as the trusted superuser.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}?sslmode=disable", self.port)
    }

    /// One of the server's client programs (`psql`, `pg_dump`…), from its own directory.
    pub fn program(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    pub fn create_database(&self, name: &str) -> Result<(), Unavailable> {
        let _one_at_a_time = CREATING.lock();
        let out = Command::new(self.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", name])
            .output()
            .map_err(|e| Unavailable(format!("createdb: {e}")))?;
        if !out.status.success() {
            return Err(Unavailable(format!("createdb {name}: {}", String::from_utf8_lossy(&out.stderr))));
        }
        Ok(())
    }

    /// Stops the server at once, its connections cut (PostgreSQL's immediate shutdown, SIGQUIT:
    /// every backend quits without a checkpoint, as in a crash), and waits until it is gone.
    pub fn kill(&self) -> Result<(), Unavailable> {
        let signal =
            |sig: &str| Command::new("kill").args([sig, &self.pid.to_string()]).status().is_ok_and(|s| s.success());
        if !signal("-QUIT") {
            return Err(Unavailable(format!("could not stop {}", self.pid)));
        }
        let gone = || !Path::new("/proc").join(self.pid.to_string()).exists();
        let until = Instant::now() + Duration::from_secs(10);
        while !gone() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        if !gone() {
            signal("-KILL");
        }
        Ok(())
    }

    /// Starts a server again on the same cluster and port (after [`Server::kill`]).
    pub fn restart(&self, options: &Options) -> Result<Server, Unavailable> {
        let _ = std::fs::remove_file(self.dir.join("data").join("postmaster.pid"));
        launch(&self.bin, self.run_as.as_deref(), &self.dir, self.port, options).map_err(Unavailable)
    }
}

/// Starts a server of its own (not the process's shared one), e.g. for a benchmark.
pub fn start_server(options: &Options) -> Result<Server, Unavailable> {
    start(options).map_err(Unavailable)
}

fn bin_dir() -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|d| d.join("initdb").is_file() && d.join("postgres").is_file());
    // Debian links a few programs onto the PATH: the directory they link to has them all.
    if let Some(d) = on_path.and_then(|d| std::fs::canonicalize(d.join("initdb")).ok()?.parent().map(Path::to_path_buf))
    {
        return Ok(d);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(Result::ok).map(|e| e.path().join("bin")).filter(|b| b.join("initdb").is_file()).collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().ok_or_else(|| {
        "PostgreSQL's server binaries (initdb, postgres) are not on the PATH nor under /usr/lib/postgresql: \
         install them (Debian: apt-get install postgresql)"
            .to_owned()
    })
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Removes clusters left by processes that are gone.
fn sweep_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("rampart-pgtest-").and_then(|r| r.split('-').next())
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn start(options: &Options) -> Result<Server, String> {
    let bin = bin_dir()?;
    let base = std::env::temp_dir();
    sweep_stale(&base);
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = base.join(format!("rampart-pgtest-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let run_as = is_root().then(|| "postgres".to_owned());
    if let Some(user) = &run_as {
        let status = Command::new("chown")
            .args(["-R", &format!("{user}:"), &dir.to_string_lossy()])
            .status()
            .map_err(|e| format!("chown: {e}"))?;
        if !status.success() {
            return Err(format!("chown of {} to {user} failed (is there a {user} user?)", dir.display()));
        }
    }
    let mut initdb = as_user(run_as.as_deref(), &bin.join("initdb"));
    initdb.args([
        "-D",
        &dir.join("data").to_string_lossy(),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
    ]);
    let out = initdb.output().map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    launch(&bin, run_as.as_deref(), &dir, port, options)
}

/// A command run as `user` (when given) that gets SIGKILL when the thread that started it ends.
fn as_user(user: Option<&str>, program: &Path) -> Command {
    let mut c = Command::new("setpriv");
    if let Some(u) = user {
        c.args(["--reuid", u, "--regid", u, "--init-groups"]);
    }
    c.args(["--pdeathsig", "KILL"]).arg(program);
    c
}

fn launch(bin: &Path, run_as: Option<&str>, dir: &Path, port: u16, options: &Options) -> Result<Server, String> {
    let data = dir.join("data");
    let mut args: Vec<String> = vec![
        "-D".into(),
        data.to_string_lossy().into_owned(),
        "-p".into(),
        port.to_string(),
        "-k".into(),
        dir.to_string_lossy().into_owned(),
        "-c".into(),
        "listen_addresses=127.0.0.1".into(),
        "-c".into(),
        "max_connections=300".into(),
    ];
    if !options.durable {
        for s in ["fsync=off", "full_page_writes=off"] {
            args.extend(["-c".to_owned(), s.to_owned()]);
        }
    }
    if let Some((cert, key)) = &options.tls {
        // PostgreSQL wants its key private to the user it runs as.
        let (cert_path, key_path) = (dir.join("server.crt"), dir.join("server.key"));
        std::fs::write(&cert_path, cert).map_err(|e| e.to_string())?;
        std::fs::write(&key_path, key).map_err(|e| e.to_string())?;
        std::fs::set_permissions(&key_path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| e.to_string())?;
        if let Some(u) = run_as {
            let _ = Command::new("chown").arg(format!("{u}:")).arg(&cert_path).arg(&key_path).status();
        }
        for s in [
            "ssl=on".to_owned(),
            format!("ssl_cert_file={}", cert_path.display()),
            format!("ssl_key_file={}", key_path.display()),
        ] {
            args.extend(["-c".to_owned(), s]);
        }
    }
    let log = std::fs::File::create(dir.join("server.log")).map_err(|e| e.to_string())?;
    if let Some(u) = run_as {
        let _ = Command::new("chown").arg(format!("{u}:")).arg(dir.join("server.log")).status();
    }
    // The server is the child of a thread that never ends: `--pdeathsig` fires when the thread
    // that started a process ends, not the process.
    let (tx, rx) = mpsc::channel();
    let program = bin.join("postgres");
    let run_as_owned = run_as.map(str::to_owned);
    std::thread::Builder::new()
        .name("rampart-pgtest".into())
        .spawn(move || {
            let child = as_user(run_as_owned.as_deref(), &program)
                .args(&args)
                .stdin(Stdio::null())
                .stdout(log.try_clone().map_or(Stdio::null(), Stdio::from))
                .stderr(Stdio::from(log))
                .spawn();
            let mut child = match child {
                Ok(c) => c,
                Err(e) => {
                    let _ = tx.send(Err(format!("starting postgres: {e}")));
                    return;
                }
            };
            let _ = tx.send(Ok(child.id()));
            let _ = child.wait();
            loop {
                std::thread::park();
            }
        })
        .map_err(|e| e.to_string())?;
    let pid = rx.recv().map_err(|e| e.to_string())??;
    let until = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > until {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            return Err(format!("postgres did not start on port {port}: {log}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Accepting connections is not yet accepting queries: wait for createdb's connection to work.
    let server =
        Server { port, bin: bin.to_path_buf(), run_as: run_as.map(str::to_owned), dir: dir.to_path_buf(), pid };
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        if Instant::now() > until {
            return Err("postgres did not become ready".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::io::stderr().flush();
    Ok(server)
}
