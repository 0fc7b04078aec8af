//! Federation use cases: peer sites (the JFrog API), validate_server, the digest, sending to
//! a site and refresh at the issuing site. What a peer site sends us is in
//! `federation_inbound`; the pushing side is `federation::link`.

use std::time::Duration;

use serde_json::{json, Value};

use super::{now_secs, IssuedToken, Service, ServiceError, ServiceResult};
use crate::crypto::KeyOrigin;
use crate::domain::names::valid_service_id;
use crate::federation::message;
use crate::federation::protocol::{Entity, Hello, PeerSite};
use crate::raft::command::{Command, CommandResponse};
use crate::telemetry::audit::Event;

/// How long a call to a peer site may take.
pub const SITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A new peer site (`POST /system/federation`).
pub struct NewPeer {
    pub name: String,
    pub url: String,
    pub service_id: Option<String>,
    pub entities: Option<Vec<String>>,
    pub active: Option<bool>,
    pub exclude_users: Option<Vec<String>>,
}

/// Changes to a peer site (`PATCH /system/federation/{name}`).
#[derive(Default)]
pub struct PeerPatch {
    pub url: Option<String>,
    pub entities: Option<Vec<String>>,
    pub active: Option<bool>,
    pub exclude_users: Option<Vec<String>>,
}

fn check_url(url: &str) -> ServiceResult<String> {
    let url = url.trim().trim_end_matches('/');
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(url.to_string())
        }
        _ => Err(ServiceError::BadRequest(format!("invalid url '{url}'"))),
    }
}

fn entities(names: Vec<String>) -> ServiceResult<Vec<Entity>> {
    let mut out: Vec<Entity> = names
        .iter()
        .map(|n| {
            Entity::parse(n)
                .ok_or_else(|| ServiceError::BadRequest(format!("unknown entity '{n}'")))
        })
        .collect::<ServiceResult<_>>()?;
    let mut seen = Vec::new();
    out.retain(|e| {
        let first = !seen.contains(e);
        seen.push(*e);
        first
    });
    Ok(out)
}

/// A federation link made or changed, as the audit trail records it.
fn peer_event(kind: &str, peer: &PeerSite) {
    Event::new(kind)
        .field("peer", &peer.name)
        .field("url", &peer.url)
        .field("service_id", &peer.service_id)
        .field("active", peer.active)
        .field("entities", &peer.entities)
        .emit();
}

impl Service {
    pub fn peers(&self) -> ServiceResult<Vec<PeerSite>> {
        Ok(self.state.fed_peers()?)
    }

    pub fn peer(&self, name: &str) -> ServiceResult<PeerSite> {
        self.state
            .fed_peer(name)?
            .ok_or_else(|| ServiceError::NotFound(format!("federation '{name}' not found")))
    }

    /// The service id a site answers with at `url`.
    async fn remote_service_id(&self, url: &str) -> ServiceResult<String> {
        let unreachable = |e: String| ServiceError::BadRequest(format!("cannot reach {url}: {e}"));
        let r = self
            .peer_http()
            .get(format!("{url}/access/api/v1/system/service_id"))
            .timeout(SITE_TIMEOUT)
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if !r.status().is_success() {
            return Err(unreachable(format!("HTTP {}", r.status())));
        }
        let id = r.text().await.map_err(|e| unreachable(e.to_string()))?;
        let id = id.trim().to_string();
        if valid_service_id(&id) {
            Ok(id)
        } else {
            Err(unreachable(format!("'{id}' is not a service id")))
        }
    }

    pub async fn add_peer(&self, new: NewPeer) -> ServiceResult<PeerSite> {
        if !crate::service::keys::valid_cert_name(&new.name) {
            return Err(ServiceError::BadRequest(format!(
                "invalid federation name '{}'",
                new.name
            )));
        }
        let url = check_url(&new.url)?;
        if self.state.fed_peer(&new.name)?.is_some() {
            return Err(ServiceError::Conflict(format!(
                "federation '{}' already exists",
                new.name
            )));
        }
        let service_id = match new.service_id {
            Some(id) if valid_service_id(&id) => id,
            Some(id) => {
                return Err(ServiceError::BadRequest(format!(
                    "invalid service_id '{id}'"
                )))
            }
            None => self.remote_service_id(&url).await?,
        };
        if service_id == self.service_id()? {
            return Err(ServiceError::BadRequest(
                "a site cannot federate with itself".into(),
            ));
        }
        if self.state.fed_peer_by_service(&service_id)?.is_some() {
            return Err(ServiceError::Conflict(format!(
                "a federation with {service_id} exists"
            )));
        }
        let peer = PeerSite {
            name: new.name,
            url,
            service_id,
            entities: match new.entities {
                Some(e) => entities(e)?,
                None => Entity::ALL.to_vec(),
            },
            active: new.active.unwrap_or(true),
            exclude_users: new
                .exclude_users
                .unwrap_or_else(|| vec![self.config.security.bootstrap_admin_username.clone()]),
            created_at: now_secs(),
        };
        self.write(Command::FederationPeer { peer: peer.clone() })
            .await?;
        tracing::info!(name = %peer.name, url = %peer.url, service_id = %peer.service_id, "federation added");
        peer_event("federation.peer_added", &peer);
        Ok(peer)
    }

    pub async fn update_peer(&self, name: &str, patch: PeerPatch) -> ServiceResult<PeerSite> {
        let mut peer = self.peer(name)?;
        if let Some(url) = patch.url {
            peer.url = check_url(&url)?;
        }
        if let Some(e) = patch.entities {
            peer.entities = entities(e)?;
        }
        if let Some(a) = patch.active {
            peer.active = a;
        }
        if let Some(x) = patch.exclude_users {
            peer.exclude_users = x;
        }
        self.write(Command::FederationPeer { peer: peer.clone() })
            .await?;
        peer_event("federation.peer_updated", &peer);
        Ok(peer)
    }

    pub async fn remove_peer(&self, name: &str) -> ServiceResult<()> {
        match self
            .write(Command::FederationRemovePeer { name: name.into() })
            .await?
        {
            CommandResponse::Ok => {
                Event::new("federation.peer_removed")
                    .field("peer", name)
                    .emit();
                Ok(())
            }
            _ => Err(ServiceError::NotFound(format!(
                "federation '{name}' not found"
            ))),
        }
    }

    /// Force a full sync to a peer (`full_broadcast`).
    pub async fn full_broadcast(&self, name: &str) -> ServiceResult<()> {
        match self
            .write(Command::FederationResync { peer: name.into() })
            .await?
        {
            CommandResponse::Ok => Ok(()),
            _ => Err(ServiceError::NotFound(format!(
                "federation '{name}' not found"
            ))),
        }
    }

    /// The federated state's digest, vector and counts (equal everywhere once converged).
    pub fn federation_digest(&self) -> ServiceResult<Value> {
        let own = self.service_id()?;
        let excluded: Vec<String> = self
            .state
            .fed_peers()?
            .into_iter()
            .flat_map(|p| p.exclude_users)
            .collect();
        let d = self.state.fed_digest(&own, &excluded)?;
        Ok(json!({
            "service_id": own,
            "digest": d.digest,
            "counts": d.counts,
            "vector": self.state.fed_vector()?,
        }))
    }

    /// POST a signed message to a peer site; the answer and the HTTP status.
    pub async fn send_to_site<T: serde::Serialize>(
        &self,
        url: &str,
        aud: &str,
        path: &str,
        body: T,
    ) -> Result<(u16, Value), String> {
        let keys = self.keyset().map_err(|e| e.to_string())?;
        let sealed = message::seal(&keys, aud, body, now_secs()).map_err(|e| e.to_string())?;
        // Lets the receiver authenticate us before it reads a large body.
        let auth = self
            .upload_header(&keys, aud, sealed.as_bytes())
            .map_err(|e| e.to_string())?;
        let r = self
            .peer_http()
            .post(format!("{url}/access/api/v1/system/federation/{path}"))
            .header("content-type", "application/jwt")
            .header(crate::federation::upload::HEADER, auth)
            .timeout(SITE_TIMEOUT)
            .body(sealed)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = r.status().as_u16();
        let body = r.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// Refresh a token of another site: only its issuer can (it holds the refresh hash's
    /// one conditional swap), so the pair goes there. A site we are not federated with, or
    /// one we cannot reach, is a clear refusal.
    pub async fn refresh_at_issuer(
        &self,
        issuer: &str,
        access_token: &str,
        refresh_token: &str,
    ) -> ServiceResult<IssuedToken> {
        let peer = self.state.fed_peer_by_service(issuer)?.ok_or_else(|| {
            ServiceError::BadRequest(
                "only tokens of this cluster or of a federated site can be refreshed here".into(),
            )
        })?;
        let unreachable = |e: String| {
            ServiceError::Unavailable(format!(
                "the issuing site '{}' cannot be reached to refresh this token: {e}",
                peer.name
            ))
        };
        let r = self
            .peer_http()
            .post(format!("{}/access/api/v1/tokens", peer.url))
            .timeout(SITE_TIMEOUT)
            .form(&[
                ("grant_type", "refresh_token"),
                ("access_token", access_token),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = r.status().as_u16();
        let body: Value = r.json().await.map_err(|e| unreachable(e.to_string()))?;
        let message = body["errors"][0]["message"]
            .as_str()
            .unwrap_or("refused")
            .to_string();
        match status {
            200 => {
                let text = |k: &str| body[k].as_str().map(str::to_string);
                Ok(IssuedToken {
                    token_id: text("token_id").unwrap_or_default(),
                    access_token: text("access_token")
                        .ok_or_else(|| unreachable("no access_token in the answer".into()))?,
                    refresh_token: text("refresh_token"),
                    reference_token: text("reference_token"),
                    expires_in: body["expires_in"].as_u64().unwrap_or(0),
                    scope: text("scope").unwrap_or_default(),
                })
            }
            400 => Err(ServiceError::BadRequest(message)),
            401 => Err(ServiceError::Unauthorized(message)),
            _ => Err(unreachable(format!("HTTP {status}: {message}"))),
        }
    }

    /// Reachability, trust both ways and versions of a site (`validate_server`).
    pub async fn validate_server(&self, url: &str) -> ServiceResult<Value> {
        let url = check_url(url)?;
        let mut problems = Vec::new();
        let service_id = match self.remote_service_id(&url).await {
            Ok(id) => Some(id),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        };
        let keys = self.keyset()?;
        let we_trust_them = service_id.as_ref().is_some_and(|id| {
            keys.public_keys
                .iter()
                .any(|k| k.origin == KeyOrigin::Trusted && &k.service_id == id)
        });
        if service_id.is_some() && !we_trust_them {
            problems.push("no trusted certificate here is bound to its service id".into());
        }
        let (mut they_trust_us, mut they_know_us, mut version) = (false, false, Value::Null);
        if let Some(id) = &service_id {
            match self.send_to_site(&url, id, "_hello", Hello {}).await {
                Ok((200, body)) => {
                    they_trust_us = true;
                    they_know_us = body["knows_you"].as_bool().unwrap_or(false);
                    version = body["version"].clone();
                    if !they_know_us {
                        problems.push("it has no federation entry for this site".into());
                    }
                }
                Ok((status, body)) => problems.push(format!(
                    "it refuses our signed hello (HTTP {status}): {}",
                    body["errors"][0]["message"].as_str().unwrap_or("")
                )),
                Err(e) => problems.push(e),
            }
        }
        Ok(json!({
            "url": url,
            "reachable": service_id.is_some(),
            "service_id": service_id,
            "version": version,
            "we_trust_them": we_trust_them,
            "they_trust_us": they_trust_us,
            "they_know_us": they_know_us,
            "ok": problems.is_empty(),
            "problems": problems,
        }))
    }
}
