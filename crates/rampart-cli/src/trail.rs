//! `rampart trail validate`: checks a trail's delivered log files against its signed digest
//! chain, as `aws cloudtrail validate-logs` does, reading the server's data directory (beside a
//! running server: SQLite's WAL lets a reader in) — the files in the bucket, or their copies in an
//! export directory — and reporting every file as valid, modified, deleted, missing or
//! inserted. Exits 1 on any failure. The trail and its public keys always come from the store.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use rampart_services::cloudtrail::validate::{self, Files, Kind, Status};
use rampart_services::cloudtrail::{self, TrailRecord};
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
    /// The server's data directory [default: ./rampart-data].
    #[arg(long, env = "RAMPART_DATA_DIR", default_value = "rampart-data")]
    data_dir: PathBuf,
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

fn validate_trail(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let end = args.end_time.unwrap_or_else(OffsetDateTime::now_utc);
    if args.start_time > end {
        bail!("Invalid time range specified: start-time must occur before end-time");
    }
    let path = args.data_dir.join(rampart_server::DB_FILE);
    if !path.exists() {
        bail!("no Rampart database at {}", path.display());
    }
    let db = rampart_store::Db::open_sqlite_read_only(&path).with_context(|| format!("opening {}", path.display()))?;
    let trail = find_trail(cloudtrail::all_trails(&db).map_err(|e| anyhow::anyhow!(e.message))?, &args.trail)?;
    let keys: HashMap<String, Vec<u8>> = cloudtrail::digest::public_keys(&db, &trail.account_id)
        .map_err(|e| anyhow::anyhow!(e.message))?
        .into_iter()
        .filter_map(|k| Some((k.fingerprint, data_encoding::BASE64.decode(k.der.as_bytes()).ok()?)))
        .collect();
    let target = trail.files(args.region.as_deref());
    println!(
        "Validating log files for trail {} between {} and {}\n",
        trail.arn(),
        display(args.start_time),
        display(end)
    );
    let stored = rampart_services::s3::StoredObjects(&db);
    let exported = args.from_dir.clone().map(DirFiles);
    let files: &dyn Files = match &exported {
        Some(d) => d,
        None => &stored,
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
        None => println!("No digest file was found for {} to {}.\n", display(args.start_time), display(end)),
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
