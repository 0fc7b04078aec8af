//! `access-node trust list|add|remove` (circle of trust) and `access-node cert reset`.

use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{segment, CliError, Client};
use super::output;

#[derive(Subcommand, Debug, Clone)]
pub enum TrustCmd {
    /// List trusted certificates.
    List,
    /// Trust another cluster's root.crt.
    Add {
        name: String,
        /// PEM certificate file (another cluster's etc/keys/root.crt).
        file: PathBuf,
        /// Service id the certificate speaks for (default: its common name).
        #[arg(long)]
        service_id: Option<String>,
    },
    /// Stop trusting a certificate.
    Remove { name: String },
}

#[derive(Subcommand, Debug, Clone)]
pub enum CertCmd {
    /// New signing keypair for the whole cluster.
    Reset {
        /// Keep the old root.crt trusted so issued tokens keep validating.
        #[arg(long)]
        keep_old: bool,
    },
}

pub fn run_trust(client: &Client, json: bool, cmd: TrustCmd) -> Result<(), CliError> {
    let columns = &["name", "service_id", "kid", "added_at"];
    match cmd {
        TrustCmd::List => {
            let v = client.get("/access/api/v1/cert/trusted")?;
            output::print(json, &v, |v| {
                output::rows(columns, output::list(v, "certificates"))
            });
        }
        TrustCmd::Add {
            name,
            file,
            service_id,
        } => {
            let pem = std::fs::read_to_string(&file)
                .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
            let mut body = json!({ "name": name, "certificate": pem });
            if let Some(s) = service_id {
                body["service_id"] = Value::from(s);
            }
            let v = client.send_json(Method::POST, "/access/api/v1/cert/trusted", &body)?;
            output::print(json, &v, |v| output::fields(v, columns));
        }
        TrustCmd::Remove { name } => {
            client.delete(&format!("/access/api/v1/cert/trusted/{}", segment(&name)))?;
            output::print(json, &json!({ "removed": name }), |v| {
                output::fields(v, &[])
            });
        }
    }
    Ok(())
}

pub fn run_cert(client: &Client, json: bool, cmd: CertCmd) -> Result<(), CliError> {
    match cmd {
        CertCmd::Reset { keep_old } => {
            let v = client.send_json(
                Method::POST,
                "/access/api/v1/cert/root/reset",
                &json!({ "keep_old": keep_old }),
            )?;
            output::print(json, &v, |v| output::fields(v, &["kid", "keep_old"]));
        }
    }
    Ok(())
}
