//! The `rampart` command.

mod policy;
mod serve;

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
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(*args).map(|()| std::process::ExitCode::SUCCESS),
        Command::Policy(cmd) => policy::run(cmd),
    }
}
