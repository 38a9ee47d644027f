//! `rampart delegation`: the operator's side of IAM temporary delegation. AWS onboards partners
//! and registers their policy templates; here the operator does. Rampart serves no SNS, so the
//! notifications a partner's topic would receive wait in the store for `messages`.

use std::path::PathBuf;

use anyhow::Context as _;

/// Where the store is, as every operator command beside a data directory takes it.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// The server's data directory.
    #[arg(long, env = "RAMPART_DATA_DIR", default_value = "rampart-data")]
    data_dir: PathBuf,
    /// The server's store, when it is a PostgreSQL database (postgres://…); the password may
    /// instead be in --store-password-file or RAMPART_STORE_PASSWORD.
    #[arg(long, env = "RAMPART_STORE")]
    store: Option<String>,
    /// A file holding the store database's password.
    #[arg(long, env = "RAMPART_STORE_PASSWORD_FILE")]
    store_password_file: Option<PathBuf>,
}

impl StoreArgs {
    pub fn config(&self) -> rampart_server::Config {
        rampart_server::Config {
            data_dir: self.data_dir.clone(),
            store: self.store.clone().map(rampart_server::config::StoreUrl),
            store_password_file: self.store_password_file.clone(),
            store_password: std::env::var("RAMPART_STORE_PASSWORD").ok().map(zeroize::Zeroizing::new),
            ..rampart_server::Config::default()
        }
    }
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Onboard a partner: register its policy template (an IAM policy with @{parameter}
    /// placeholders) for its account, optionally with the permissions boundary its roles carry.
    /// Prints the template's ARN, which the partner names in CreateDelegationRequest.
    #[command(after_help = "Example:\n  rampart delegation register-template --partner-account 111122223333 \\\n    \
                            --partner-name Acme --domain acme.example --name AcmeDeploy_2026_12_04 \\\n    \
                            --template acme-template.json")]
    RegisterTemplate {
        #[command(flatten)]
        store: StoreArgs,
        /// The partner's account: the only one that may use the template.
        #[arg(long)]
        partner_account: String,
        /// The name customers see as the requestor (at most 30 characters).
        #[arg(long)]
        partner_name: String,
        /// The partner's domain, in the ARNs of what it registers.
        #[arg(long)]
        domain: String,
        /// The template's name (AWS's convention: ending with its date, as in _2026_12_04).
        #[arg(long)]
        name: String,
        /// The template: a JSON policy with @{name} parameters and optional "@Enabled" statements.
        #[arg(long)]
        template: PathBuf,
        /// The permissions boundary's name, with --boundary.
        #[arg(long, requires = "boundary")]
        boundary_name: Option<String>,
        /// The permissions boundary: a JSON policy the partner's roles must carry.
        #[arg(long, requires = "boundary_name")]
        boundary: Option<PathBuf>,
    },
    /// Hand out the notifications waiting for an SNS topic (each once, as JSON lines, oldest
    /// first): a delegation request's state changes, and with FINALIZED its ExchangeToken.
    #[command(
        after_help = "Example:\n  rampart delegation messages --topic arn:aws:sns:us-east-1:111122223333:acme-delegation"
    )]
    Messages {
        #[command(flatten)]
        store: StoreArgs,
        /// The SNS topic ARN the requests named as their NotificationChannel.
        #[arg(long)]
        topic: String,
        /// The master key file [default: the data directory's master.key]; the key itself may
        /// instead be given in RAMPART_MASTER_KEY.
        #[arg(long, env = "RAMPART_MASTER_KEY_FILE")]
        master_key_file: Option<PathBuf>,
    },
}

pub fn run(cmd: Command) -> anyhow::Result<std::process::ExitCode> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the runtime")?;
    match cmd {
        Command::RegisterTemplate {
            store,
            partner_account,
            partner_name,
            domain,
            name,
            template,
            boundary_name,
            boundary,
        } => {
            let read = |p: &PathBuf| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()));
            let registration = rampart_server::TemplateRegistration {
                partner_account,
                partner_name,
                domain,
                name,
                document: read(&template)?,
                boundary: match (boundary_name, boundary) {
                    (Some(n), Some(p)) => Some((n, read(&p)?)),
                    _ => None,
                },
            };
            let done = runtime.block_on(rampart_server::register_delegation_template(&store.config(), registration))?;
            println!("template: {}", done.template_arn);
            if let Some(b) = done.boundary_arn {
                println!("permissions boundary: {b}");
            }
        }
        Command::Messages { store, topic, master_key_file } => {
            let sealer = rampart_server::open_sealer(&store.data_dir, master_key_file.as_deref())?;
            let messages =
                runtime.block_on(rampart_server::take_delegation_messages(&store.config(), sealer, topic))?;
            for m in messages {
                println!("{}", serde_json::to_string(&m).context("cannot write a message")?);
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
