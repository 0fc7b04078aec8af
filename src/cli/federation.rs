//! `access-node federation list|add|remove|validate|full-broadcast|digest`: Access Federation
//! between sites, through the JFrog federation API of the node `--url` names.

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{other, segment, CliError, Client};
use super::output;

const BASE: &str = "/access/api/v1/system/federation";

#[derive(Subcommand, Debug, Clone)]
pub enum FederationCmd {
    /// List peer sites with their link status.
    List,
    /// Federate with the site at URL (this site pushes to it unless --receive-only).
    Add {
        name: String,
        url: String,
        /// Entities to send: USERS, GROUPS, PERMISSIONS, TOKENS (default all).
        #[arg(long, value_delimiter = ',')]
        entities: Option<Vec<String>>,
        /// Users never sent (default: the bootstrap admin).
        #[arg(long, value_delimiter = ',')]
        exclude_users: Option<Vec<String>>,
        /// Accept the site's events but send it nothing (a one-way link from it).
        #[arg(long)]
        receive_only: bool,
        /// First trust the site's root certificate, fetched from URL (check its fingerprint
        /// out of band when the URL is not https).
        #[arg(long)]
        trust: bool,
    },
    /// Stop federating with a site.
    Remove { name: String },
    /// Check a site: reachable, trusted both ways, knows this site, its version.
    Validate { url: String },
    /// Send a site everything again (a full sync).
    FullBroadcast { name: String },
    /// Digest of the federated state (equal on every node of every site once converged).
    Digest,
}

/// Fetch a site's root certificate and service id, and trust it here under `name`.
fn trust_site(client: &Client, name: &str, url: &str) -> Result<(), CliError> {
    let http = reqwest::blocking::Client::new();
    let fetch = |path: &str| -> Result<String, CliError> {
        let r = http
            .get(format!("{}{path}", url.trim_end_matches('/')))
            .send()
            .map_err(|e| other(format!("{url}: {e}")))?;
        if !r.status().is_success() {
            return Err(other(format!("{url}{path}: HTTP {}", r.status())));
        }
        r.text().map_err(|e| other(format!("{url}: {e}")))
    };
    let pem = fetch("/access/api/v1/cert/root")?;
    let service_id = fetch("/access/api/v1/system/service_id")?;
    let body = json!({ "name": name, "certificate": pem, "service_id": service_id.trim() });
    client.send_json(Method::POST, "/access/api/v1/cert/trusted", &body)?;
    Ok(())
}

pub fn run(client: &Client, json: bool, cmd: FederationCmd) -> Result<(), CliError> {
    let table = |v: &Value| {
        let peers = v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
        let rows: Vec<Value> = peers
            .iter()
            .map(|p| {
                json!({
                    "name": p["name"], "url": p["url"], "state": p["status"]["state"],
                    "behind": p["status"]["events_behind"], "lag_ms": p["status"]["lag_ms"],
                    "full_syncs": p["status"]["full_syncs"], "last_error": p["status"]["last_error"],
                })
            })
            .collect();
        output::rows(
            &[
                "name",
                "url",
                "state",
                "behind",
                "lag_ms",
                "full_syncs",
                "last_error",
            ],
            &rows,
        )
    };
    match cmd {
        FederationCmd::List => {
            let v = client.get(BASE)?;
            output::print(json, &v, table);
        }
        FederationCmd::Add {
            name,
            url,
            entities,
            exclude_users,
            receive_only,
            trust,
        } => {
            if trust {
                trust_site(client, &name, &url)?;
            }
            let mut body = json!({ "name": name, "url": url, "active": !receive_only });
            if let Some(e) = entities {
                body["entities"] = json!(e);
            }
            if let Some(x) = exclude_users {
                body["exclude_users"] = json!(x);
            }
            let v = client.send_json(Method::POST, BASE, &body)?;
            output::print(json, &v, table);
        }
        FederationCmd::Remove { name } => {
            client.delete(&format!("{BASE}/{}", segment(&name)))?;
            if !json {
                println!("federation '{name}' removed");
            }
        }
        FederationCmd::Validate { url } => {
            let v = client.send_json(
                Method::POST,
                &format!("{BASE}/validate_server"),
                &json!({ "url": url }),
            )?;
            output::print(json, &v, |v| {
                output::fields(
                    v,
                    &[
                        "ok",
                        "reachable",
                        "service_id",
                        "version",
                        "we_trust_them",
                        "they_trust_us",
                        "they_know_us",
                        "problems",
                    ],
                )
            });
            if v["ok"] != true {
                return Err(other("the site is not ready for federation"));
            }
        }
        FederationCmd::FullBroadcast { name } => {
            let v = client.send_json(
                Method::PUT,
                &format!("{BASE}/{}/full_broadcast", segment(&name)),
                &json!({}),
            )?;
            output::print(json, &v, |v| output::fields(v, &["name", "full_sync"]));
        }
        FederationCmd::Digest => {
            let v = client.get(&format!("{BASE}/digest"))?;
            output::print(json, &v, |v| {
                output::fields(v, &["service_id", "digest", "counts", "vector"])
            });
        }
    }
    Ok(())
}
