//! `access-node` command line: `serve` runs a node (the default). Everything a node is made
//! of is built in `app`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use access_node::config::{Config, ENV_CONFIG_FILE};

// mimalloc: faster than glibc malloc on the many small allocations of the write path, and it
// hands freed memory back to the OS, which keeps resident memory close to live data.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "access-node",
    version,
    about = "Clustered JFrog-Access-compatible token service"
)]
struct Cli {
    /// YAML config file (defaults: config/access.config.yml, built in).
    #[arg(long, global = true, env = ENV_CONFIG_FILE)]
    config: Option<PathBuf>,
    /// Home directory (overrides server.home).
    #[arg(long, global = true)]
    home: Option<PathBuf>,
    /// Listen address (overrides server.listen).
    #[arg(long, global = true)]
    listen: Option<String>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a node (initialises a one-node cluster on an empty home).
    Serve,
    /// Print the effective configuration and exit.
    Config,
    /// Cluster membership.
    #[command(subcommand)]
    Cluster(ClusterCmd),
}

#[derive(Subcommand)]
enum ClusterCmd {
    /// Run this node and, on first start, join the cluster that the node at URL belongs to
    /// (same as `serve` with raft.seeds=URL). The cluster's join key must be configured.
    Join { url: String },
}

fn load_config(cli: &Cli) -> Result<Config, String> {
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    if let Some(Cmd::Cluster(ClusterCmd::Join { url })) = &cli.command {
        env.push(("ACCESS_NODE_RAFT_SEEDS".into(), url.clone()));
    }
    if let Some(home) = &cli.home {
        env.push(("ACCESS_NODE_SERVER_HOME".into(), home.display().to_string()));
    }
    if let Some(listen) = &cli.listen {
        env.push(("ACCESS_NODE_SERVER_LISTEN".into(), listen.clone()));
    }
    Config::load(cli.config.as_deref(), env).map_err(|e| e.to_string())
}

fn main() {
    // reqwest's rustls needs a process-wide provider, even for plain-HTTP clients.
    access_node::tls::install_default_provider();
    let cli = Cli::parse();
    let config = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("access-node: configuration error: {e}");
            std::process::exit(2);
        }
    };
    match cli.command.unwrap_or(Cmd::Serve) {
        Cmd::Config => {
            let mut shown = config.clone();
            if !shown.security.bootstrap_admin_password.is_empty() {
                shown.security.bootstrap_admin_password = "<set>".into();
            }
            if !shown.security.join_key.is_empty() {
                shown.security.join_key = "<set>".into();
            }
            print!("{}", serde_yaml_ng::to_string(&shown).unwrap_or_default());
        }
        Cmd::Serve | Cmd::Cluster(ClusterCmd::Join { .. }) => {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
            let logs = tracing_subscriber::fmt().with_env_filter(filter);
            if config.log.format == "json" {
                logs.json().init();
            } else {
                // Colours only on a terminal: log files and journald get plain text.
                logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
                    .init();
            }
            if let Err(e) = actix_web::rt::System::new().block_on(access_node::app::serve(config)) {
                tracing::error!(error = %e, "access-node stopped");
                eprintln!("access-node: {e}");
                std::process::exit(1);
            }
        }
    }
}
