//! `rampart root`: operator commands for an account's root user, run beside the data directory.

use anyhow::Context as _;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Give the root user a new generated password, shown once, when the one printed at first
    /// start is lost. Recorded as a CloudTrail PasswordRecoveryCompleted event; safe beside a
    /// running server.
    #[command(after_help = "Example:\n  rampart root reset-password --data-dir rampart-data")]
    ResetPassword {
        #[command(flatten)]
        store: crate::delegation::StoreArgs,
        /// The account whose root user gets the password [default: the management account].
        #[arg(long)]
        account_id: Option<String>,
    },
}

pub fn run(cmd: Command) -> anyhow::Result<std::process::ExitCode> {
    match cmd {
        Command::ResetPassword { store, account_id } => {
            let config = store.config();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the runtime")?;
            let reset = runtime.block_on(rampart_server::reset_root_password(&config, account_id))?;
            println!("The root user of account {} ({}) has a new password.", reset.account_id, reset.root_email);
            println!("  password, shown once: {}", reset.password.as_str());
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}
