//! `access-node token create|list|revoke`.

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::client::{segment, CliError, Client};
use super::output;

#[derive(Subcommand, Debug, Clone)]
pub enum TokenCmd {
    /// Create a token (POST /access/api/v1/tokens).
    Create {
        /// Subject; defaults to the caller.
        #[arg(long)]
        user: Option<String>,
        /// Scope, e.g. `applied-permissions/user` or `member-of-groups:ci`.
        #[arg(long)]
        scope: Option<String>,
        /// Lifetime in seconds; 0 never expires.
        #[arg(long)]
        expires_in: Option<u64>,
        #[arg(long)]
        refreshable: bool,
        #[arg(long)]
        audience: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List stored (revocable) tokens.
    List,
    /// Revoke a token by id, or every token of a user (`--user`).
    Revoke {
        /// Token id.
        #[arg(required_unless_present = "user", conflicts_with = "user")]
        id: Option<String>,
        /// Revoke every token of this user, revocable or not.
        #[arg(long)]
        user: Option<String>,
    },
}

const TOKEN_COLUMNS: &[&str] = &[
    "token_id",
    "subject",
    "scope",
    "issued_at",
    "expiry",
    "refreshable",
    "description",
];

pub fn run(client: &Client, json: bool, cmd: TokenCmd) -> Result<(), CliError> {
    match cmd {
        TokenCmd::Create {
            user,
            scope,
            expires_in,
            refreshable,
            audience,
            description,
        } => {
            let mut body = Map::new();
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    body.insert(k.into(), v);
                }
            };
            put("username", user.map(Value::from));
            put("scope", scope.map(Value::from));
            put("expires_in", expires_in.map(Value::from));
            put("refreshable", refreshable.then_some(Value::Bool(true)));
            put("audience", audience.map(Value::from));
            put("description", description.map(Value::from));
            let v =
                client.send_json(Method::POST, "/access/api/v1/tokens", &Value::Object(body))?;
            output::print(json, &v, |v| {
                output::fields(
                    v,
                    &[
                        "token_id",
                        "access_token",
                        "refresh_token",
                        "expires_in",
                        "scope",
                        "token_type",
                    ],
                )
            });
        }
        TokenCmd::List => {
            let v = client.get("/access/api/v1/tokens")?;
            output::print(json, &v, |v| {
                output::rows(TOKEN_COLUMNS, output::list(v, "tokens"))
            });
        }
        TokenCmd::Revoke { id, user } => {
            let v = match (id, user) {
                (Some(id), _) => {
                    client.delete(&format!("/access/api/v1/tokens/{}", segment(&id)))?;
                    json!({ "revoked": id })
                }
                (None, Some(user)) => client.json(
                    client
                        .request(Method::DELETE, "/access/api/v1/tokens")?
                        .query(&[("username", user)]),
                )?,
                (None, None) => {
                    return Err(CliError::Usage("give a token id or --user".into()));
                }
            };
            output::print(json, &v, |v| output::fields(v, &[]));
        }
    }
    Ok(())
}
