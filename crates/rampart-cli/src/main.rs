//! The `rampart` command.

mod config;
mod delegation;
mod guardduty;
mod policy;
mod proxy;
mod root;
mod serve;
mod store;
mod trail;

use clap::{Parser, Subcommand};

/// mimalloc, not the system allocator: a server's requests allocate and free many small
/// buffers from many threads, and glibc's malloc spent a sixth of an audited request's
/// serialization merging freed chunks (`malloc_consolidate`, on every request of 1 KB or more).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Rampart: a self-hosted security plane that speaks AWS's APIs (IAM, STS, S3, CloudTrail) to the
/// AWS CLI, boto3, the SDKs and Terraform, in one binary.
#[derive(Parser)]
#[command(
    name = "rampart",
    version,
    about,
    after_help = "Examples:
  rampart serve                                   # 127.0.0.1:4566, state in ./rampart-data
  rampart serve --dev                             # any credentials accepted, for local development
  rampart proxy --listen :8081 --upstream http://127.0.0.1:8080 --web-acl front   # a WAF in front of an app
  rampart policy validate policy.json             # check a policy offline
  rampart trail validate --trail audit --start-time 2026-12-01
  rampart root reset-password                     # a new root password, when the first is lost
  rampart delegation register-template …          # onboard a partner for temporary delegation
  rampart backup --to backup.db                   # a consistent copy of the running store
  rampart store copy --from rampart-data --to postgres://rampart@db/rampart
  rampart config example > rampart.toml           # every setting, commented

Errors print their cause without a backtrace; the exit code is 0 on success, 1 when a check fails
(a policy denied or invalid, a trail file not valid), and 2 for a usage error or a failure."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(Box<serve::Args>),
    /// Run the server with a reverse proxy whose requests a WAF web ACL decides.
    Proxy(Box<proxy::Args>),
    /// Validate and simulate IAM policies offline.
    #[command(subcommand)]
    Policy(policy::Command),
    /// CloudTrail trails: validate delivered log files against their digests.
    #[command(subcommand)]
    Trail(trail::Command),
    /// IAM temporary delegation: onboard a partner's policy template, hand out its notifications.
    #[command(subcommand)]
    Delegation(delegation::Command),
    /// Operator commands for a root user (a lost password).
    #[command(subcommand)]
    Root(root::Command),
    /// GuardDuty: re-run the detections over past events.
    #[command(subcommand)]
    Guardduty(guardduty::Command),
    /// The store: copy it to another engine (a data directory to PostgreSQL, or back).
    #[command(subcommand)]
    Store(store::Command),
    /// A consistent backup of the embedded store, taken beside its running server.
    Backup(store::BackupArgs),
    /// The configuration file: a commented example with every setting.
    #[command(subcommand)]
    Config(config::Command),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args).map(|()| std::process::ExitCode::SUCCESS),
        Command::Proxy(args) => proxy::run(*args).map(|()| std::process::ExitCode::SUCCESS),
        Command::Policy(cmd) => policy::run(cmd),
        Command::Trail(cmd) => trail::run(cmd),
        Command::Root(cmd) => root::run(cmd),
        Command::Guardduty(cmd) => guardduty::run(cmd),
        Command::Delegation(cmd) => delegation::run(cmd),
        Command::Store(cmd) => store::run(cmd),
        Command::Backup(args) => store::backup(args),
        Command::Config(cmd) => Ok(config::run(cmd)),
    };
    // An operator's error: what failed and why, each cause once, no backtrace.
    result.unwrap_or_else(|e| {
        eprintln!("rampart: {e:#}");
        std::process::ExitCode::from(2)
    })
}
