//! The operator CLI: client commands that talk to any node's HTTP API, as Vault's CLI does.
//! One file per command group; `client` holds the HTTP client, credentials and errors,
//! `output` the table/JSON rendering, `out_file` how a file the CLI writes is created.

pub mod backup;
pub mod client;
pub mod cluster;
pub mod federation;
pub mod keys;
pub mod oidc;
pub mod out_file;
pub mod output;
pub mod tokens;
pub mod users;

pub use client::{CliError, Client, ClientArgs};

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
    ", format 2)"
);

#[cfg(test)]
mod version_tests {
    #[test]
    fn the_version_line_names_the_binarys_format() {
        let format = format!("format {})", crate::domain::version::FORMAT_VERSION);
        assert!(super::VERSION.ends_with(&format), "{}", super::VERSION);
    }
}
