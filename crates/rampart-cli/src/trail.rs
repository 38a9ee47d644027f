//! `rampart trail validate`: checks a trail's delivered log files against its signed digest
//! chain, as `aws cloudtrail validate-logs` does, reading the server's data directory (beside a
//! running server: SQLite's WAL lets a reader in) — the files in the bucket, or their copies in an
//! export directory — and reporting every file as valid, modified, deleted, missing or
//! inserted. Exits 1 on any failure. The trail and its public keys come from the store, or, for an
//! export directory with no store beside it, from the description the export keeps.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use rampart_cloudtrail::digest::ExportedTrail;
use rampart_cloudtrail::validate::{self, Files, Kind, Status};
use rampart_cloudtrail::{self, TrailRecord};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Check a trail's log files against its digest files (log file validation): each digest's
    /// signature and chain, each log file's hash, and log files no digest names. Exits 1 when
    /// any file is modified, deleted, missing or inserted, or no digest covers the range.
    Validate(ValidateArgs),
}

#[derive(clap::Args)]
pub struct ValidateArgs {
    /// The trail's name or ARN.
    #[arg(long)]
    trail: String,
    /// Start of the range: RFC 3339 (2026-11-23T08:00:00Z), a date (2026-11-23) or Unix seconds.
    #[arg(long, value_parser = parse_time)]
    start_time: OffsetDateTime,
    /// End of the range (same forms) [default: now].
    #[arg(long, value_parser = parse_time)]
    end_time: Option<OffsetDateTime>,
    /// The region whose files to check (a multi-region trail keeps a chain per region)
    /// [default: the trail's home region].
    #[arg(long)]
    region: Option<String>,
    /// For an organization trail, the member account whose files to check (each account's files
    /// have their own digests) [default: the trail's own account].
    #[arg(long)]
    account_id: Option<String>,
    /// The server's data directory [default: ./rampart-data].
    #[arg(long, env = "RAMPART_DATA_DIR", default_value = "rampart-data")]
    data_dir: PathBuf,
    /// The server's store, when it is a PostgreSQL database (postgres://…; the password may be
    /// in RAMPART_STORE_PASSWORD) instead of the data directory's.
    #[arg(long, env = "RAMPART_STORE")]
    store: Option<String>,
    /// The store's master key file, to open the bucket's sealed files [default: the data
    /// directory's master.key]; the key itself may instead be given in RAMPART_MASTER_KEY.
    #[arg(long, env = "RAMPART_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// Check the copies in this export directory (the server's `--trail-export-dir`) instead of
    /// the bucket: `DIR/BUCKET/KEY`, a digest's signature in `KEY.metadata.json`.
    #[arg(long)]
    from_dir: Option<PathBuf>,
    /// Also list each valid file.
    #[arg(long)]
    verbose: bool,
}

/// Files copied to an export directory.
struct DirFiles(PathBuf);

fn read_if_present(path: &std::path::Path) -> Result<Option<Vec<u8>>, String> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

impl Files for DirFiles {
    fn get(&self, bucket: &str, key: &str) -> Result<Option<validate::Object>, String> {
        let path = self.0.join(bucket).join(key);
        let Some(bytes) = read_if_present(&path)? else { return Ok(None) };
        let side = PathBuf::from(format!("{}.metadata.json", path.display()));
        let metadata = match read_if_present(&side)? {
            Some(json) => serde_json::from_slice(&json).map_err(|e| format!("{}: {e}", side.display()))?,
            None => BTreeMap::new(),
        };
        Ok(Some((bytes, metadata)))
    }

    /// Files under the prefix's directory, by their modification times.
    fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, OffsetDateTime)>, String> {
        let base = self.0.join(bucket);
        let mut out = Vec::new();
        let mut dirs = vec![base.join(prefix.rsplit_once('/').map_or("", |(d, _)| d))];
        while let Some(dir) = dirs.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(format!("{}: {e}", dir.display())),
            };
            for entry in entries {
                let entry = entry.map_err(|e| e.to_string())?;
                let meta = entry.metadata().map_err(|e| e.to_string())?;
                if meta.is_dir() {
                    dirs.push(entry.path());
                    continue;
                }
                let Ok(rel) = entry.path().strip_prefix(&base).map(|p| p.to_string_lossy().replace('\\', "/")) else {
                    continue;
                };
                let name = entry.file_name().to_string_lossy().into_owned();
                if rel.starts_with(prefix) && !name.ends_with(".metadata.json") && !name.starts_with('.') {
                    let written = meta.modified().map_err(|e| e.to_string())?;
                    out.push((rel, OffsetDateTime::from(written)));
                }
            }
        }
        Ok(out)
    }
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    if let Ok(secs) = s.parse::<i64>() {
        return OffsetDateTime::from_unix_timestamp(secs).map_err(|e| e.to_string());
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| format!("{s:?} is not a time: use RFC 3339 (2026-11-23T08:00:00Z), a date or Unix seconds"))
}

pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Validate(args) => validate_trail(&args),
    }
}

fn find_trail(trails: Vec<TrailRecord>, wanted: &str) -> anyhow::Result<TrailRecord> {
    let mut found: Vec<TrailRecord> = trails.into_iter().filter(|t| t.arn() == wanted || t.name == wanted).collect();
    match found.len() {
        0 => bail!("no trail named {wanted}"),
        1 => Ok(found.remove(0)),
        _ => bail!(
            "{} trails are named {wanted}; give its ARN: {}",
            found.len(),
            found.iter().map(TrailRecord::arn).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn display(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0).unwrap_or(t).format(&Rfc3339).unwrap_or_default()
}

/// Where the trail and its keys come from: the store, or (with `--from-dir` and no store) what
/// the export directory keeps beside the files.
enum Source {
    Store { db: rampart_store::Db, trail: Box<TrailRecord> },
    Exported(Box<ExportedTrail>, PathBuf),
}

/// The exported description of the trail named `wanted` (a name or an ARN) in `dir`.
fn find_exported(dir: &std::path::Path, wanted: &str) -> anyhow::Result<(ExportedTrail, PathBuf)> {
    let base = dir.join(".rampart-trails");
    let mut found = Vec::new();
    for account in std::fs::read_dir(&base).with_context(|| {
        format!("no store at --data-dir, and {} holds no exported trail descriptions", base.display())
    })? {
        for entry in std::fs::read_dir(account?.path())? {
            let path = entry?.path();
            let t: ExportedTrail = serde_json::from_slice(&std::fs::read(&path)?)
                .with_context(|| format!("{} is not an exported trail", path.display()))?;
            if t.arn == wanted || t.files.name == wanted {
                found.push((t, path));
            }
        }
    }
    match found.len() {
        0 => bail!("no trail named {wanted} in {}", base.display()),
        1 => Ok(found.remove(0)),
        _ => bail!("{} trails are named {wanted}; give its ARN", found.len()),
    }
}

fn validate_trail(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let end = args.end_time.unwrap_or_else(OffsetDateTime::now_utc);
    if args.start_time > end {
        bail!("Invalid time range specified: start-time must occur before end-time");
    }
    let path = args.data_dir.join(rampart_server::DB_FILE);
    let database = args.store.as_ref().map(|s| rampart_server::config::StoreUrl(s.clone()));
    let source = if database.is_some() || path.exists() {
        let db = match &database {
            Some(url) => crate::store::open_database(url)?,
            None => rampart_store::Db::open_sqlite_read_only(&path)
                .with_context(|| format!("opening {}", path.display()))?,
        };
        let trail =
            find_trail(rampart_cloudtrail::all_trails(&db).map_err(|e| anyhow::anyhow!(e.message))?, &args.trail)?;
        Source::Store { db, trail: Box::new(trail) }
    } else if let Some(dir) = &args.from_dir {
        let (t, p) = find_exported(dir, &args.trail)?;
        Source::Exported(Box::new(t), p)
    } else {
        bail!("no Rampart database at {} (give --data-dir, or --from-dir for an export directory)", path.display());
    };
    let (arn, public_keys, target) = match &source {
        Source::Store { db, trail } => {
            let keys: Vec<_> = rampart_cloudtrail::digest::public_keys(db, &trail.account_id)
                .map_err(|e| anyhow::anyhow!(e.message))?
                .into_iter()
                .collect();
            let mut target = trail.files(args.region.as_deref());
            if let Some(a) = &args.account_id {
                target.account.clone_from(a);
            }
            (trail.arn(), keys, target)
        }
        Source::Exported(t, p) => {
            let mut target = t.files.clone();
            if let Some(r) = &args.region {
                target.region.clone_from(r);
            }
            if let Some(a) = &args.account_id {
                target.account.clone_from(a);
            }
            // Keys kept beside the files prove nothing unless they are the trail's own.
            let prints: Vec<&str> = t.public_keys.iter().map(|k| k.fingerprint.as_str()).collect();
            println!(
                "Public keys read from {}: check that their fingerprints ({}) are those `aws cloudtrail \
                 list-public-keys` lists.",
                p.display(),
                prints.join(", ")
            );
            (t.arn.clone(), t.public_keys.clone(), target)
        }
    };
    let keys: HashMap<String, Vec<u8>> = public_keys
        .into_iter()
        .filter_map(|k| Some((k.fingerprint, data_encoding::BASE64.decode(k.der.as_bytes()).ok()?)))
        .collect();
    println!("Validating log files for trail {arn} between {} and {}\n", display(args.start_time), display(end));
    let exported = args.from_dir.clone().map(DirFiles);
    let sealer = match (&source, &exported) {
        (Source::Store { .. }, None) => {
            Some(rampart_server::open_sealer(&args.data_dir, args.master_key_file.as_deref())?)
        }
        _ => None,
    };
    let stored = match (&source, &sealer) {
        (Source::Store { db, .. }, Some(sealer)) => Some(rampart_s3::StoredObjects { db, sealer }),
        _ => None,
    };
    let files: &dyn Files = match (&exported, &stored) {
        (Some(d), _) => d,
        (None, Some(s)) => s,
        (None, None) => bail!("nothing to read the files from"),
    };
    let report = validate::validate(files, &keys, &target, args.start_time, end).map_err(|e| anyhow::anyhow!(e))?;
    for f in &report.findings {
        let what = match f.kind {
            Kind::Digest => "Digest file",
            Kind::Log => "Log file",
        };
        if f.status == Status::Valid {
            if args.verbose {
                println!("{what}\ts3://{}/{}\tvalid", f.bucket, f.key);
            }
        } else {
            println!("{what}\ts3://{}/{}\tINVALID: {} ({})", f.bucket, f.key, f.status.as_str(), f.detail);
        }
    }
    println!();
    match report.covered {
        Some((from, to)) => {
            println!("Results found for {} to {}:\n", display(from.max(args.start_time)), display(to.min(end)))
        }
        None => {
            println!("No digest file was found for {} to {}.", display(args.start_time), display(end));
            // When the next one is due: the end of the open digest period.
            let open = match &source {
                Source::Store { trail, .. } => {
                    let chain = rampart_cloudtrail::digest::chain_key(trail, &target.account, &target.region);
                    trail.digest.as_ref().and_then(|d| d.chains.get(&chain)).map(|c| c.since)
                }
                Source::Exported(..) => None,
            };
            match open {
                Some(since) => println!(
                    "The open digest period began at {}; its digest file is written when it ends, the server's \
                     --trail-digest-secs later (an hour by default, as in CloudTrail).\n",
                    display(since)
                ),
                None => println!(
                    "A digest file is written at the end of each digest period (the server's --trail-digest-secs, \
                     an hour by default), the first one period after logging with validation starts.\n"
                ),
            }
        }
    }
    for kind in [Kind::Digest, Kind::Log] {
        let of_kind: Vec<_> = report.findings.iter().filter(|f| f.kind == kind).collect();
        let count = |s: Status| of_kind.iter().filter(|f| f.status == s).count();
        let mut line = format!(
            "{}/{} {} files valid",
            count(Status::Valid),
            of_kind.len(),
            if kind == Kind::Digest { "digest" } else { "log" }
        );
        for s in [Status::Modified, Status::Deleted, Status::Missing, Status::Inserted] {
            if count(s) > 0 {
                line.push_str(&format!(", {} {}", count(s), s.as_str()));
            }
        }
        println!("{line}");
    }
    Ok(if report.failed() || report.covered.is_none() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_in_three_forms() {
        let t = time::macros::datetime!(2026-11-23 08:00:00 UTC);
        assert_eq!(parse_time("2026-11-23T08:00:00Z"), Ok(t));
        assert_eq!(parse_time("2026-11-23"), Ok(time::macros::datetime!(2026-11-23 00:00:00 UTC)));
        assert_eq!(parse_time(&t.unix_timestamp().to_string()), Ok(t));
        assert!(parse_time("yesterday").is_err());
    }
}
