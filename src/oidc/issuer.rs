//! The HTTP client for OIDC issuers: discovery (`/.well-known/openid-configuration`), then
//! the JWKS it names. Typed failures, never a panic; bodies are size-limited.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use serde::Deserialize;

use crate::config::OidcConfig;
use crate::domain::oidc::issuer_key;

/// Largest discovery document or key set read from an issuer.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, thiserror::Error)]
pub enum IssuerError {
    /// No answer (connection, TLS, timeout).
    #[error("the issuer cannot be reached: {0}")]
    Unreachable(String),
    /// An answer that is not what OIDC promises (status, JSON, missing fields).
    #[error("the issuer's answer is unusable: {0}")]
    BadAnswer(String),
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// Clients for issuers: one through the environment's proxy, one without.
pub struct IssuerClient {
    direct: reqwest::Client,
    proxied: reqwest::Client,
}

fn roots(ca_file: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if !ca_file.as_os_str().is_empty() {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca_file)
            .map_err(|e| format!("{}: {e}", ca_file.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: {e}", ca_file.display()))?;
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", ca_file.display()))?;
        }
    }
    Ok(roots)
}

impl IssuerClient {
    pub fn new(cfg: &OidcConfig) -> Result<IssuerClient, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots(&cfg.ca_file)?)
            .with_no_client_auth();
        let build = |proxy: bool| {
            let mut b = reqwest::Client::builder()
                .use_preconfigured_tls(tls.clone())
                .timeout(Duration::from_millis(cfg.fetch_timeout_ms))
                // A redirect could lead from https to plain http: none are followed.
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("access-node/", env!("CARGO_PKG_VERSION")));
            if !proxy {
                b = b.no_proxy();
            }
            b.build().map_err(|e| e.to_string())
        };
        Ok(IssuerClient {
            direct: build(false)?,
            proxied: build(true)?,
        })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        proxy: bool,
    ) -> Result<T, IssuerError> {
        let client = if proxy { &self.proxied } else { &self.direct };
        let mut answer = client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| IssuerError::Unreachable(without_url(&e)))?;
        if !answer.status().is_success() {
            return Err(IssuerError::BadAnswer(format!(
                "{url} answered {}",
                answer.status().as_u16()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = answer
            .chunk()
            .await
            .map_err(|e| IssuerError::Unreachable(without_url(&e)))?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(IssuerError::BadAnswer(format!(
                    "{url} answered more than {MAX_ANSWER_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body)
            .map_err(|e| IssuerError::BadAnswer(format!("{url}: not the expected JSON: {e}")))
    }

    /// The issuer's current keys, found through its discovery document. The document must
    /// name the same issuer (trailing slashes aside).
    pub async fn fetch_keys(&self, issuer_url: &str, proxy: bool) -> Result<JwkSet, IssuerError> {
        let base = issuer_key(issuer_url);
        let discovery: Discovery = self
            .get_json(&format!("{base}/.well-known/openid-configuration"), proxy)
            .await?;
        if issuer_key(&discovery.issuer) != base {
            return Err(IssuerError::BadAnswer(format!(
                "the discovery document names issuer {:?}, not {base:?}",
                discovery.issuer
            )));
        }
        // https, or plain http only from an issuer already allowed to be plain http.
        let jwks = &discovery.jwks_uri;
        if !(jwks.starts_with("https://")
            || base.starts_with("http://") && jwks.starts_with("http://"))
        {
            return Err(IssuerError::BadAnswer(
                "jwks_uri is not an https URL".into(),
            ));
        }
        self.get_json(&discovery.jwks_uri, proxy).await
    }
}

/// A reqwest error's text: its kind and cause, which name the host but carry no secret.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    match std::error::Error::source(e) {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.to_string(),
    }
}
