//! The `rampart` command.

mod policy;
mod serve;
mod trail;

use clap::{Parser, Subcommand};

/// Rampart: a self-hosted security plane that speaks AWS's APIs.
#[derive(Parser)]
#[command(name = "rampart", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(Box<serve::Args>),
    /// Validate and simulate IAM policies offline.
    #[command(subcommand)]
    Policy(policy::Command),
    /// CloudTrail trails: validate delivered log files against their digests.
    #[command(subcommand)]
    Trail(trail::Command),
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(*args).map(|()| std::process::ExitCode::SUCCESS),
        Command::Policy(cmd) => policy::run(cmd),
        Command::Trail(cmd) => trail::run(cmd),
    }
}
