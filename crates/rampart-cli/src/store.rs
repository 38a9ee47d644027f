//! `rampart store copy` and `rampart backup`: moving a store between engines, and a consistent
//! copy of the embedded store taken beside its running server.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use rampart_store::Db;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Copy every record and event of one store into another, empty one, and verify the copy:
    /// a data directory into PostgreSQL, PostgreSQL into a data directory, or either into its
    /// own kind. Stop the servers of the source first. A database's password may be in its URL
    /// or in RAMPART_STORE_PASSWORD.
    #[command(after_help = "Examples:
  rampart store copy --from rampart-data --to postgres://rampart@db.example.org/rampart
  rampart store copy --from postgres://rampart@db.example.org/rampart --to restored-data")]
    Copy {
        /// The source: a data directory, or a postgres:// URL.
        #[arg(long)]
        from: String,
        /// The target: a data directory (created when missing), or a postgres:// URL.
        #[arg(long)]
        to: String,
    },
}

/// `rampart backup`.
#[derive(clap::Args)]
#[command(after_help = "Example:
  rampart backup --data-dir rampart-data --to rampart-2026-12-03.db

Restore: stop the server, make a new data directory (mode 0700), put the backup there as
rampart.db and the store's master.key beside it (kept apart from backups), and start the server
with --data-dir on it. A PostgreSQL store is backed up with PostgreSQL's own tools (pg_dump,
base backups), or copied out with `rampart store copy`.")]
pub struct BackupArgs {
    /// The data directory of the store (its server may be running).
    #[arg(long, env = "RAMPART_DATA_DIR", default_value = "rampart-data")]
    data_dir: PathBuf,
    /// The backup file to write (mode 0600; an existing file is not replaced).
    #[arg(long)]
    to: PathBuf,
}

/// A store named on the command line.
enum Place {
    Dir(PathBuf),
    Postgres(rampart_server::config::StoreUrl),
}

impl Place {
    fn parse(s: &str) -> Self {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Self::Postgres(rampart_server::config::StoreUrl(s.to_owned()))
        } else {
            Self::Dir(PathBuf::from(s))
        }
    }

    fn name(&self) -> String {
        match self {
            Self::Dir(d) => d.display().to_string(),
            Self::Postgres(u) => u.redacted(),
        }
    }

    fn open(&self, source: bool) -> anyhow::Result<Db> {
        match self {
            Self::Dir(dir) if source => {
                let db = dir.join(rampart_server::DB_FILE);
                if !db.exists() {
                    bail!("there is no Rampart store in {}", dir.display());
                }
                Db::open_sqlite_read_only(&db).with_context(|| format!("opening {}", db.display()))
            }
            Self::Dir(dir) => {
                let db = rampart_server::prepare_data_dir(dir)?;
                Db::open_sqlite(&db).with_context(|| format!("opening {}", db.display()))
            }
            Self::Postgres(url) => open_database(url),
        }
    }
}

/// Opens a PostgreSQL store for an operator command, its password (when not in the URL) from
/// `RAMPART_STORE_PASSWORD`.
pub(crate) fn open_database(url: &rampart_server::config::StoreUrl) -> anyhow::Result<Db> {
    let password = std::env::var("RAMPART_STORE_PASSWORD").ok().map(zeroize::Zeroizing::new);
    Db::open_postgres(&url.0, &rampart_store::PgOptions { password })
        .with_context(|| format!("opening {}", url.redacted()))
}

pub fn run(cmd: Command) -> anyhow::Result<std::process::ExitCode> {
    let Command::Copy { from, to } = cmd;
    let (from, to) = (Place::parse(&from), Place::parse(&to));
    if let (Place::Dir(a), Place::Dir(b)) = (&from, &to)
        && a == b
    {
        bail!("--from and --to are the same directory");
    }
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the runtime")?;
    let source = from.open(true)?;
    let target = to.open(false)?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}, {per_sec}]")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let copied = runtime.block_on(rampart_store::copy::copy(&source, &target, |p| {
        bar.set_position(p.keys + p.log_entries);
        bar.set_message(format!("{} records, {} events", p.keys, p.log_entries));
    }));
    bar.finish_and_clear();
    source.close();
    target.close();
    let copied = copied.with_context(|| format!("copying {} to {}", from.name(), to.name()))?;
    println!(
        "Copied {} records and {} events from {} to {}; verified (SHA-256 {}).",
        copied.keys,
        copied.log_entries,
        from.name(),
        to.name(),
        data_encoding::HEXLOWER.encode(&copied.digest)
    );
    match (&from, &to) {
        (Place::Dir(a), Place::Dir(b)) => copy_master_key(a, b)?,
        (Place::Dir(a), Place::Postgres(_)) => println!(
            "Start every node on the database with this store's master key: --master-key-file {}",
            a.join("master.key").display()
        ),
        (Place::Postgres(_), Place::Dir(b)) => println!(
            "Put the cluster's master key at {} (mode 0600) before starting a server on it.",
            b.join("master.key").display()
        ),
        (Place::Postgres(_), Place::Postgres(_)) => {
            println!("Start the nodes of the new database with the same master key as the old one's.")
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Copies a data directory's master key beside its copied store, unless one is there.
fn copy_master_key(from: &Path, to: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let (src, dst) = (from.join("master.key"), to.join("master.key"));
    if dst.exists() {
        let same = std::fs::read(&src).ok() == std::fs::read(&dst).ok();
        if !same {
            bail!(
                "{} holds another master key than {}: the copied store cannot be unsealed with it",
                dst.display(),
                src.display()
            );
        }
        return Ok(());
    }
    let key = zeroize::Zeroizing::new(std::fs::read(&src).with_context(|| format!("reading {}", src.display()))?);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&dst)
        .with_context(|| format!("creating {}", dst.display()))?;
    std::io::Write::write_all(&mut f, &key)?;
    f.sync_all()?;
    println!("Copied the master key to {}.", dst.display());
    Ok(())
}

pub fn backup(args: BackupArgs) -> anyhow::Result<std::process::ExitCode> {
    let db = args.data_dir.join(rampart_server::DB_FILE);
    if !db.exists() {
        bail!("there is no Rampart store in {}", args.data_dir.display());
    }
    let size = rampart_store::backup_embedded(&db, &args.to)
        .with_context(|| format!("backing up {} to {}", db.display(), args.to.display()))?;
    let summary = rampart_store::copy::summarize(&Db::open_sqlite_read_only(&args.to)?)?;
    println!(
        "Backed up {} to {} ({size} bytes: {} records, {} events; integrity checked). Keep {} apart from it.",
        db.display(),
        args.to.display(),
        summary.keys,
        summary.log_entries,
        args.data_dir.join("master.key").display()
    );
    Ok(std::process::ExitCode::SUCCESS)
}
