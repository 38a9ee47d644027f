//! `rampart config`: the configuration file.

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print a commented configuration file with every setting and its default.
    #[command(after_help = "Example:\n  rampart config example > rampart.toml && rampart serve --config rampart.toml")]
    Example,
}

pub fn run(cmd: Command) -> std::process::ExitCode {
    match cmd {
        Command::Example => print!("{}", rampart_server::EXAMPLE_TOML),
    }
    std::process::ExitCode::SUCCESS
}
