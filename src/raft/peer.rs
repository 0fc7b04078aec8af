//! Calls from this node to a peer's `/_cluster/*` endpoints (forwarded writes, read index,
//! joins, membership, replication view), authenticated with the cluster join key.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::network::JOIN_KEY_HEADER;

/// Why a call to a peer failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PeerError {
    #[error("{url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: unreadable answer: {reason}")]
    Decode { url: String, reason: String },
}

#[derive(Clone)]
pub struct PeerClient {
    http: reqwest::Client,
    join_key: String,
}

impl PeerClient {
    /// `http` carries the TLS settings for https:// peers (see `tls`).
    pub fn new(join_key: String, http: reqwest::Client) -> PeerClient {
        PeerClient { http, join_key }
    }

    pub fn join_key(&self) -> &str {
        &self.join_key
    }

    /// The HTTP client with this node's TLS settings (also for calls to federated sites).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// POST a JSON body to `<base_url>/_cluster/<path>` with the join key.
    pub async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        base_url: &str,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<R, PeerError> {
        let url = format!("{}/_cluster/{path}", base_url.trim_end_matches('/'));
        let response = self
            .http
            .post(&url)
            .header(JOIN_KEY_HEADER, &self.join_key)
            .timeout(timeout)
            .json(body)
            .send()
            .await
            .map_err(|e| PeerError::Unreachable {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        if !response.status().is_success() {
            return Err(PeerError::Status {
                url,
                status: response.status().as_u16(),
            });
        }
        response.json().await.map_err(|e| PeerError::Decode {
            url,
            reason: e.to_string(),
        })
    }
}
