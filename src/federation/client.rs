//! The HTTP client for peer sites: service id lookups, signed messages and refreshes at a
//! token's issuer. It moves bytes and reports typed failures; what they mean for a request
//! is the caller's to decide.

use std::time::Duration;

use serde_json::Value;

/// How long a call to a peer site may take.
pub const SITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call to a peer site gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// The request could not be sent, or no answer came back in time.
    #[error("{0}")]
    Send(String),
    /// It answered with a status that means "no" to a lookup.
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    /// Its answer could not be read.
    #[error("{0}")]
    Read(String),
    /// What it named as its service id is none.
    #[error("'{0}' is not a service id")]
    NotAServiceId(String),
}

/// A peer site's answer: its status and JSON body (`null` when the body is not JSON).
pub struct SiteAnswer {
    pub status: u16,
    pub body: Value,
}

/// Calls to peer sites, with this node's TLS settings.
pub struct SiteClient {
    http: reqwest::Client,
}

impl SiteClient {
    pub fn new(http: reqwest::Client) -> SiteClient {
        SiteClient { http }
    }

    /// The service id the site at `url` answers with.
    pub async fn service_id(&self, url: &str) -> Result<String, SiteError> {
        let r = self
            .http
            .get(format!("{url}/access/api/v1/system/service_id"))
            .timeout(SITE_TIMEOUT)
            .send()
            .await
            .map_err(|e| SiteError::Send(e.to_string()))?;
        if !r.status().is_success() {
            return Err(SiteError::Status(r.status()));
        }
        let id = r.text().await.map_err(|e| SiteError::Read(e.to_string()))?;
        let id = id.trim().to_string();
        match crate::domain::names::valid_service_id(&id) {
            true => Ok(id),
            false => Err(SiteError::NotAServiceId(id)),
        }
    }

    /// POST a sealed message (with its upload header) to the site's federation `path`.
    pub async fn post_message(
        &self,
        url: &str,
        path: &str,
        sealed: String,
        upload_header: String,
    ) -> Result<SiteAnswer, SiteError> {
        let r = self
            .http
            .post(format!("{url}/access/api/v1/system/federation/{path}"))
            .header("content-type", "application/jwt")
            .header(super::upload::HEADER, upload_header)
            .timeout(SITE_TIMEOUT)
            .body(sealed)
            .send()
            .await
            .map_err(|e| SiteError::Send(format!("{url}: {e}")))?;
        let status = r.status().as_u16();
        let body = r.json::<Value>().await.unwrap_or(Value::Null);
        Ok(SiteAnswer { status, body })
    }

    /// Ask the site at `url` to refresh a token pair it issued (JFrog's refresh grant).
    pub async fn refresh(
        &self,
        url: &str,
        access_token: &str,
        refresh_token: &str,
    ) -> Result<SiteAnswer, SiteError> {
        let r = self
            .http
            .post(format!("{url}/access/api/v1/tokens"))
            .timeout(SITE_TIMEOUT)
            .form(&[
                ("grant_type", "refresh_token"),
                ("access_token", access_token),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
            .map_err(|e| SiteError::Send(e.to_string()))?;
        let status = r.status().as_u16();
        let body = r
            .json::<Value>()
            .await
            .map_err(|e| SiteError::Read(e.to_string()))?;
        Ok(SiteAnswer { status, body })
    }
}
