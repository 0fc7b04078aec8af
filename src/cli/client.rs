//! The HTTP client of the CLI: credentials (environment or a 0600 file, never argv), the
//! request helpers, and errors that carry the API's message and the HTTP status.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use reqwest::blocking::{RequestBuilder, Response};
use reqwest::Method;
use serde_json::Value;

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

// Listed in `config::CLIENT_ENV` too, which a node ignores.
pub const ENV_TOKEN: &str = "ACCESS_NODE_TOKEN";
pub const ENV_USER: &str = "ACCESS_NODE_USER";
pub const ENV_PASSWORD: &str = "ACCESS_NODE_PASSWORD";

/// What a client command can fail with.
#[derive(Debug)]
pub enum CliError {
    /// Wrong use of the command line (exit 2).
    Usage(String),
    /// The API refused: its status and message.
    Api { status: u16, message: String },
    /// Anything else: network, files (exit 1).
    Other(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Other(m) => f.write_str(m),
            CliError::Api { status, message } => write!(f, "HTTP {status}: {message}"),
        }
    }
}

impl std::error::Error for CliError {}

pub fn other(e: impl fmt::Display) -> CliError {
    CliError::Other(e.to_string())
}

#[derive(Clone)]
enum Auth {
    Bearer(String),
    Basic(String, String),
}

/// Credentials from a file of `NAME=value` lines (the environment variables' names).
fn from_file(path: &Path) -> Result<Auth, CliError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| CliError::Usage(format!("credentials file {}: {e}", path.display())))?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(CliError::Usage(format!(
            "credentials file {} is readable by group or others (mode {:o}): chmod 600 it",
            path.display(),
            mode & 0o777
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("credentials file {}: {e}", path.display())))?;
    let mut vars = std::collections::HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        if let Some((k, v)) = line.split_once('=') {
            vars.insert(k.trim().to_string(), v.trim().trim_matches('"').to_string());
        }
    }
    auth_from(|name| vars.get(name).cloned()).ok_or_else(|| {
        CliError::Usage(format!(
            "credentials file {} names neither {ENV_TOKEN} nor {ENV_USER} and {ENV_PASSWORD}",
            path.display()
        ))
    })
}

fn auth_from(get: impl Fn(&str) -> Option<String>) -> Option<Auth> {
    let get = |n: &str| get(n).filter(|v| !v.is_empty());
    if let Some(token) = get(ENV_TOKEN) {
        return Some(Auth::Bearer(token));
    }
    match (get(ENV_USER), get(ENV_PASSWORD)) {
        (Some(u), Some(p)) => Some(Auth::Basic(u, p)),
        _ => None,
    }
}

/// A client of one node's HTTP API.
pub struct Client {
    http: reqwest::blocking::Client,
    base: String,
    auth: Option<Auth>,
}

impl Client {
    /// From the command line's `--url` and `--credentials` (else the environment).
    pub fn new(args: &ClientArgs) -> Result<Client, CliError> {
        let auth = match &args.credentials {
            Some(path) => Some(from_file(path)?),
            None => auth_from(|n| std::env::var(n).ok()),
        };
        if !args.url.starts_with("http://") && !args.url.starts_with("https://") {
            return Err(CliError::Usage(format!(
                "--url must start with http:// or https:// (got '{}')",
                args.url
            )));
        }
        let mut builder = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(3600));
        if let Some(ca) = &args.ca_cert {
            let cfg = crate::config::TlsConfig {
                cert_file: Default::default(),
                key_file: Default::default(),
                ca_file: ca.clone(),
                require_client_cert: false,
            };
            let tls = crate::tls::Tls::load(&cfg).map_err(other)?;
            if let Some(config) = tls.client_config().map_err(other)? {
                builder = builder.use_preconfigured_tls(config);
            }
        }
        let http = builder.build().map_err(other)?;
        Ok(Client {
            http,
            base: args.url.trim_end_matches('/').to_string(),
            auth,
        })
    }

    /// A request to `path` (under the node's URL) with the credentials.
    pub fn request(&self, method: Method, path: &str) -> Result<RequestBuilder, CliError> {
        let rb = self.http.request(method, format!("{}{path}", self.base));
        Ok(match &self.auth {
            Some(Auth::Bearer(t)) => rb.bearer_auth(t),
            Some(Auth::Basic(u, p)) => rb.basic_auth(u, Some(p)),
            None => {
                return Err(CliError::Usage(format!(
                    "no credentials: set {ENV_TOKEN}, or {ENV_USER} and {ENV_PASSWORD}, or pass --credentials FILE"
                )))
            }
        })
    }

    /// Send and fail on a non-2xx answer with the API's message.
    pub fn send(&self, rb: RequestBuilder) -> Result<Response, CliError> {
        let response = rb
            .send()
            .map_err(|e| CliError::Other(format!("cannot reach {}: {e}", self.base)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().unwrap_or_default();
        Err(CliError::Api {
            status: status.as_u16(),
            message: api_message(&body).unwrap_or_else(|| {
                let text = body.trim();
                if text.is_empty() {
                    status.canonical_reason().unwrap_or("error").to_string()
                } else {
                    text.chars().take(300).collect()
                }
            }),
        })
    }

    /// Send and read the JSON answer (`null` for an empty body, e.g. 204; a string for a
    /// plain-text one, as some JFrog-compatible answers are).
    pub fn json(&self, rb: RequestBuilder) -> Result<Value, CliError> {
        let text = self.send(rb)?.text().map_err(other)?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub fn get(&self, path: &str) -> Result<Value, CliError> {
        self.json(self.request(Method::GET, path)?)
    }

    pub fn delete(&self, path: &str) -> Result<Value, CliError> {
        self.json(self.request(Method::DELETE, path)?)
    }

    pub fn send_json(&self, method: Method, path: &str, body: &Value) -> Result<Value, CliError> {
        self.json(self.request(method, path)?.json(body))
    }
}

/// The message of an API error body: `error_description`, else `errors[0].message`.
fn api_message(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    v.get("error_description")
        .and_then(Value::as_str)
        .or_else(|| v.pointer("/errors/0/message").and_then(Value::as_str))
        .map(str::to_string)
}

/// A path segment, percent-encoded.
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'@') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_messages() {
        assert_eq!(
            api_message(r#"{"errors":[{"code":"X","message":"m"}],"error_description":"d"}"#),
            Some("d".into())
        );
        assert_eq!(
            api_message(r#"{"errors":[{"code":"X","message":"m"}]}"#),
            Some("m".into())
        );
        assert_eq!(api_message("nope"), None);
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
    }
}
