//! The `rampart` command.

mod policy;
mod root;
mod serve;
mod trail;

use clap::{Parser, Subcommand};

/// mimalloc, not the system allocator: a server's requests allocate and free many small
/// buffers from many threads, and glibc's malloc spent a sixth of an audited request's
/// serialization merging freed chunks (`malloc_consolidate`, on every request of 1 KB or more).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Operator commands for a root user (a lost password).
    #[command(subcommand)]
    Root(root::Command),
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(*args).map(|()| std::process::ExitCode::SUCCESS),
        Command::Policy(cmd) => policy::run(cmd),
        Command::Trail(cmd) => trail::run(cmd),
        Command::Root(cmd) => root::run(cmd),
    }
}
