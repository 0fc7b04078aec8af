//! `access-node oidc ...`: OIDC identity providers and their identity mappings.

use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{segment, CliError, Client};
use super::output;

#[derive(Subcommand, Debug, Clone)]
pub enum OidcCmd {
    /// List OIDC identity providers.
    List,
    /// Trust an OIDC issuer.
    Add {
        name: String,
        /// The issuer URL (its ID tokens' iss).
        #[arg(long)]
        issuer_url: String,
        /// The aud every accepted ID token carries.
        #[arg(long)]
        audience: String,
        /// GitHub, Azure or "Generic OpenID Connect".
        #[arg(long, default_value = "Generic OpenID Connect")]
        provider_type: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Reach the issuer through the environment's proxy.
        #[arg(long)]
        use_default_proxy: bool,
    },
    /// Delete a provider and its identity mappings.
    Remove { name: String },
    /// A provider's identity mappings.
    Mappings { provider: String },
    /// Add an identity mapping from a JSON file (see docs/oidc.md for its fields).
    MapAdd {
        provider: String,
        /// JSON file: {"name","priority","claims":{...},"token_spec":{...}}.
        file: PathBuf,
    },
    /// Delete an identity mapping.
    MapRemove { provider: String, name: String },
}

const PROVIDER_COLUMNS: &[&str] = &["name", "provider_type", "issuer_url", "audience"];

fn mapping_rows(v: &Value) -> Vec<Value> {
    let list = v.as_array().map(Vec::as_slice).unwrap_or(&[]);
    list.iter()
        .map(|m| {
            let spec = &m["token_spec"];
            let who = ["username", "username_pattern", "groups_pattern"]
                .iter()
                .find_map(|k| spec[*k].as_str().map(|s| format!("{k}: {s}")))
                .unwrap_or_default();
            json!({"name": m["name"], "priority": m["priority"], "claims": m["claims"].to_string(),
                   "grants": who, "scope": spec["scope"], "expires_in": spec["expires_in"]})
        })
        .collect()
}

pub fn run(client: &Client, json: bool, cmd: OidcCmd) -> Result<(), CliError> {
    let base = "/access/api/v1/oidc";
    match cmd {
        OidcCmd::List => {
            let v = client.get(base)?;
            output::print(json, &v, |v| {
                output::rows(
                    PROVIDER_COLUMNS,
                    v.as_array().map(Vec::as_slice).unwrap_or(&[]),
                )
            });
        }
        OidcCmd::Add {
            name,
            issuer_url,
            audience,
            provider_type,
            description,
            use_default_proxy,
        } => {
            let body = json!({"name": name, "issuer_url": issuer_url, "audience": audience,
                "provider_type": provider_type, "description": description,
                "use_default_proxy": use_default_proxy});
            let v = client.send_json(Method::POST, base, &body)?;
            output::print(json, &v, |v| output::fields(v, PROVIDER_COLUMNS));
        }
        OidcCmd::Remove { name } => {
            client.delete(&format!("{base}/{}", segment(&name)))?;
            output::print(json, &json!({ "removed": name }), |v| {
                output::fields(v, &[])
            });
        }
        OidcCmd::Mappings { provider } => {
            let v = client.get(&format!("{base}/{}/identity_mappings", segment(&provider)))?;
            output::print(json, &v, |v| {
                let columns = &[
                    "name",
                    "priority",
                    "claims",
                    "grants",
                    "scope",
                    "expires_in",
                ];
                output::rows(columns, &mapping_rows(v))
            });
        }
        OidcCmd::MapAdd { provider, file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
            let body: Value = serde_json::from_str(&text)
                .map_err(|e| CliError::Usage(format!("{}: not JSON: {e}", file.display())))?;
            let path = format!("{base}/{}/identity_mappings", segment(&provider));
            let v = client.send_json(Method::POST, &path, &body)?;
            output::print(json, &v, |v| {
                output::fields(v, &["name", "provider_name", "priority"])
            });
        }
        OidcCmd::MapRemove { provider, name } => {
            let path = format!(
                "{base}/{}/identity_mappings/{}",
                segment(&provider),
                segment(&name)
            );
            client.delete(&path)?;
            output::print(json, &json!({ "removed": name }), |v| {
                output::fields(v, &[])
            });
        }
    }
    Ok(())
}
