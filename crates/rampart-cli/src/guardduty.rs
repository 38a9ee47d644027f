//! `rampart guardduty`: GuardDuty's detections run by hand over past events.

use anyhow::Context as _;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Re-run the detections over the events logged between two times, recording what they find
    /// with each account's enabled detectors (after uploading a threat list, say). Each account's
    /// learned state starts empty; an event already counted on a finding is not counted again.
    /// Safe beside a running server.
    #[command(
        after_help = "Example:\n  rampart guardduty replay --data-dir rampart-data --from 2026-12-01T00:00:00Z --to 2026-12-02T00:00:00Z"
    )]
    Replay {
        #[command(flatten)]
        store: crate::delegation::StoreArgs,
        /// The first event time looked at (RFC 3339: 2026-12-01T00:00:00Z).
        #[arg(long, value_parser = parse_time)]
        from: OffsetDateTime,
        /// The last event time looked at (RFC 3339) [default: now].
        #[arg(long, value_parser = parse_time)]
        to: Option<OffsetDateTime>,
        /// The Tor exit nodes to look for (the server's --guardduty-tor-exit-list).
        #[arg(long, env = "RAMPART_GUARDDUTY_TOR_EXIT_LIST")]
        guardduty_tor_exit_list: Option<std::path::PathBuf>,
        /// The detections' thresholds (the server's --guardduty-thresholds).
        #[arg(long, env = "RAMPART_GUARDDUTY_THRESHOLDS", value_parser = rampart_server::GuarddutyTuning::parse)]
        guardduty_thresholds: Option<rampart_server::GuarddutyTuning>,
    },
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| format!("{s} is not an RFC 3339 time (2026-12-01T00:00:00Z): {e}"))
}

pub fn run(cmd: Command) -> anyhow::Result<std::process::ExitCode> {
    match cmd {
        Command::Replay { store, from, to, guardduty_tor_exit_list, guardduty_thresholds } => {
            let to = to.unwrap_or_else(OffsetDateTime::now_utc);
            anyhow::ensure!(from <= to, "--from must not be after --to");
            let config = rampart_server::Config {
                guardduty_tor_exit_list,
                guardduty_thresholds: guardduty_thresholds.unwrap_or_default(),
                ..store.config()
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the runtime")?;
            let started = std::time::Instant::now();
            let done = runtime.block_on(rampart_server::guardduty_replay(&config, from, to))?;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "Replayed {} events in {secs:.2} s ({:.0} events/s): {} findings made or counted.",
                done.events,
                done.events as f64 / secs.max(1e-9),
                done.findings
            );
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}
