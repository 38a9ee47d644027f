//! `rampart proxy`: the server with one proxy listener, a WAF in front of an application, for
//! those who do not want to configure it through `serve --proxy` or a web ACL association.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::BoolishValueParser;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  rampart proxy --listen 127.0.0.1:8081 --upstream http://127.0.0.1:8080 --web-acl front

The web ACL is the regional one of that name in the management account and the server's region,
created with the WAFv2 API (aws wafv2 create-web-acl --scope REGIONAL ...) against the server,
which listens on 127.0.0.1:4566 as `rampart serve` does. Until it exists, or while it cannot be
enforced, the proxy answers 503. A web ACL associated with the proxy's load balancer
(aws wafv2 associate-web-acl) takes its place.")]
pub struct Args {
    /// Where the proxy listens: HOST:PORT, localhost:PORT or :PORT.
    #[arg(long, value_parser = rampart_server::parse_listen)]
    listen: SocketAddr,
    /// The application: http://HOST:PORT.
    #[arg(long)]
    upstream: String,
    /// The regional web ACL deciding the proxy's requests.
    #[arg(long)]
    web_acl: Option<String>,
    /// The proxy's load balancer name.
    #[arg(long, default_value = "rampart-proxy")]
    name: String,
    /// Where the server's API listens [default: 127.0.0.1:4566].
    #[arg(long, value_parser = rampart_server::parse_listen)]
    api_listen: Option<SocketAddr>,
    /// A configuration file, as `rampart serve --config` reads it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The data directory [default: ./rampart-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Development mode, as `rampart serve --dev`.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    dev: Option<bool>,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let mut config = crate::serve::config_for_proxy(a.config, a.data_dir, a.dev, a.api_listen)?;
    config.proxy.retain(|p| p.name != a.name);
    config.proxy.push(rampart_server::ProxyConfig {
        name: a.name,
        listen: a.listen,
        upstream: a.upstream,
        web_acl: a.web_acl,
    });
    config.validate()?;
    crate::serve::run_config(config)
}
