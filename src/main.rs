//! `access-node` command line: `serve` runs a node (the default). Everything a node is made
//! of is built in `app`; the operator commands (client of a node's API) live in `cli`.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

use access_node::cli::{
    self, backup, cluster, federation, keys, oidc, tokens, users, CliError, Client, ClientArgs,
};
use access_node::config::{Config, ENV_CONFIG_FILE};
use access_node::telemetry::log_escape;

// mimalloc: faster than glibc malloc on the many small allocations of the write path, and it
// hands freed memory back to the OS, which keeps resident memory close to live data.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "access-node",
    version = cli::VERSION,
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
    #[command(flatten)]
    client: ClientArgs,
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
    /// Tokens: create, list, revoke.
    #[command(subcommand)]
    Token(tokens::TokenCmd),
    /// Users: add, list, passwd, delete.
    #[command(subcommand)]
    User(users::UserCmd),
    /// Groups: add, list, delete, members.
    #[command(subcommand)]
    Group(users::GroupCmd),
    /// Circle of trust: list, add, remove.
    #[command(subcommand)]
    Trust(keys::TrustCmd),
    /// Signing certificate.
    #[command(subcommand)]
    Cert(keys::CertCmd),
    /// Access Federation with other sites: list, add, remove, validate, full-broadcast, digest.
    #[command(subcommand)]
    Federation(federation::FederationCmd),
    /// OIDC identity providers and identity mappings (CI token exchange).
    #[command(subcommand)]
    Oidc(oidc::OidcCmd),
    /// Write a consistent backup of the replicated state to FILE (0600, SHA-256 checked).
    Backup {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Seed a freshly bootstrapped cluster with a backup, through its replicated log.
    Restore {
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// Replace the state of a cluster that is not fresh.
        #[arg(long)]
        force: bool,
    },
    /// Print a shell completion script.
    Completions { shell: clap_complete::Shell },
}

#[derive(Subcommand)]
enum ClusterCmd {
    /// Run this node and, on first start, join the cluster that the node at URL belongs to
    /// (same as `serve` with raft.seeds=URL). The cluster's join key must be configured.
    Join {
        // Its own id: `--url` (the node a client command talks to) is a global option.
        #[arg(id = "seed", value_name = "URL")]
        url: String,
    },
    /// Raft state, leader, indexes and each member's lag.
    Status,
    /// Remove a node from the cluster.
    Remove { id: u64 },
}

/// Run an operator command (a client of a node's API); `None` for the node's own commands.
fn run_client(cli: &Cli) -> Option<Result<(), CliError>> {
    let json = cli.client.json;
    let client = || Client::new(&cli.client);
    let result = match cli.command.as_ref()? {
        Cmd::Serve | Cmd::Config | Cmd::Cluster(ClusterCmd::Join { .. }) => return None,
        Cmd::Completions { shell } => {
            // Written in one go, so a reader that stops early (`| head`) is not an error.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "access-node", &mut script);
            match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(CliError::Other(format!("cannot write the script: {e}")))
                }
                _ => Ok(()),
            }
        }
        Cmd::Cluster(ClusterCmd::Status) => client().and_then(|c| cluster::status(&c, json)),
        Cmd::Cluster(ClusterCmd::Remove { id }) => {
            client().and_then(|c| cluster::remove(&c, json, *id))
        }
        Cmd::Token(cmd) => client().and_then(|c| tokens::run(&c, json, cmd.clone())),
        Cmd::User(cmd) => client().and_then(|c| users::run_user(&c, json, cmd.clone())),
        Cmd::Group(cmd) => client().and_then(|c| users::run_group(&c, json, cmd.clone())),
        Cmd::Trust(cmd) => client().and_then(|c| keys::run_trust(&c, json, cmd.clone())),
        Cmd::Cert(cmd) => client().and_then(|c| keys::run_cert(&c, json, cmd.clone())),
        Cmd::Federation(cmd) => client().and_then(|c| federation::run(&c, json, cmd.clone())),
        Cmd::Oidc(cmd) => client().and_then(|c| oidc::run(&c, json, cmd.clone())),
        Cmd::Backup { out } => client().and_then(|c| backup::backup(&c, json, out)),
        Cmd::Restore { file, force } => {
            client().and_then(|c| backup::restore(&c, json, file, *force))
        }
    };
    Some(result)
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
    if let Some(result) = run_client(&cli) {
        cli::exit_on_error(result);
        return;
    }
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
            // Lines are written by a background thread: a request never waits on stdout's
            // lock or a write syscall. Not lossy: under a flood, logging slows callers rather
            // than dropping lines.
            let (writer, flush_on_exit) =
                tracing_appender::non_blocking::NonBlockingBuilder::default()
                    .lossy(false)
                    .finish(std::io::stdout());
            let logs = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(writer);
            // Logged values are escaped (`log_escape`): a user name cannot forge a line.
            if config.log.format == "json" {
                logs.json().map_event_format(log_escape::JsonLines).init();
            } else {
                // Colours only on a terminal: log files and journald get plain text.
                logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
                    .fmt_fields(log_escape::EscapedFields)
                    .init();
            }
            let outcome = actix_web::rt::System::new().block_on(access_node::app::serve(config));
            if let Err(e) = &outcome {
                tracing::error!(error = %e, "access-node stopped");
            }
            drop(flush_on_exit);
            if let Err(e) = outcome {
                eprintln!("access-node: {e}");
                std::process::exit(1);
            }
        }
        // Operator commands ran above (`run_client`).
        _ => {}
    }
}
