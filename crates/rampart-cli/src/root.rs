//! `rampart root`: operator commands for an account's root user, run beside the data directory.

use std::path::PathBuf;

use anyhow::Context as _;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Give the root user a new generated password, shown once, when the one printed at first
    /// start is lost. Recorded as a CloudTrail PasswordRecoveryCompleted event; safe beside a
    /// running server.
    #[command(after_help = "Example:\n  rampart root reset-password --data-dir rampart-data")]
    ResetPassword {
        /// The server's data directory.
        #[arg(long, env = "RAMPART_DATA_DIR", default_value = "rampart-data")]
        data_dir: PathBuf,
        /// The account whose root user gets the password [default: the management account].
        #[arg(long)]
        account_id: Option<String>,
        /// The server's store, when it is a PostgreSQL database (postgres://…); the password may
        /// instead be in --store-password-file or RAMPART_STORE_PASSWORD.
        #[arg(long, env = "RAMPART_STORE")]
        store: Option<String>,
        /// A file holding the store database's password.
        #[arg(long, env = "RAMPART_STORE_PASSWORD_FILE")]
        store_password_file: Option<PathBuf>,
    },
}

pub fn run(cmd: Command) -> anyhow::Result<std::process::ExitCode> {
    match cmd {
        Command::ResetPassword { data_dir, account_id, store, store_password_file } => {
            let config = rampart_server::Config {
                data_dir,
                store: store.map(rampart_server::config::StoreUrl),
                store_password_file,
                store_password: std::env::var("RAMPART_STORE_PASSWORD").ok().map(zeroize::Zeroizing::new),
                ..rampart_server::Config::default()
            };
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
