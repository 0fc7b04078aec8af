//! The operator CLI: client commands that talk to any node's HTTP API, as Vault's CLI does.
//! One file per command group; `client` holds the HTTP client, credentials and errors,
//! `output` the table/JSON rendering, `out_file` how a file the CLI writes is created.

pub mod backup;
pub mod client;
pub mod cluster;
pub mod federation;
pub mod keys;
pub mod out_file;
pub mod output;
pub mod tokens;
pub mod users;

use std::path::PathBuf;

use clap::Args;

pub use client::{CliError, Client};

/// Where a client command connects, as whom, and how it prints.
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// URL of any node of the cluster.
    #[arg(
        long,
        global = true,
        env = "ACCESS_NODE_URL",
        default_value = "http://127.0.0.1:8082"
    )]
    pub url: String,
    /// Credentials file (mode 0600): `ACCESS_NODE_TOKEN=...`, or `ACCESS_NODE_USER=...` and
    /// `ACCESS_NODE_PASSWORD=...` lines. Without it they come from those environment variables.
    #[arg(long, global = true, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// PEM CA certificate to trust for an https:// URL (the cluster's `tls.ca-file`).
    #[arg(long, global = true, env = "ACCESS_NODE_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

/// Run a client command: print its error and exit 1 (2 for usage errors).
pub fn exit_on_error(result: Result<(), CliError>) {
    if let Err(e) = result {
        eprintln!("access-node: {e}");
        std::process::exit(e.exit_code());
    }
}

/// The version line: crate version and the git commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("BUILD_GIT_COMMIT"),
    ")"
);
