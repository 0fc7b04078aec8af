//! Federation as admins run it: peer sites (the JFrog API), their link status,
//! validate_server, the digest. What a peer site sends us is `federation_inbound`; what the
//! leader pushes is `federation_outbound`.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use super::federation_outbound::SiteOutbox;
use super::writes::Writes;
use super::{keyset, now_secs, own_service_id, ServiceError, ServiceResult};
use crate::config::Config;
use crate::crypto::KeyOrigin;
use crate::federation::client::SiteAnswer;
use crate::federation::protocol::{Entity, Hello, PeerSite};
use crate::federation::status::Board;
use crate::raft::command::{Command, CommandResponse};
use crate::raft::membership::Membership;
use crate::raft::peer::PeerClient;
use crate::store::StateView;
use crate::telemetry::audit::Event;

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
        _ => Err(ServiceError::invalid(format!("invalid url '{url}'"))),
    }
}

fn entities(names: Vec<String>) -> ServiceResult<Vec<Entity>> {
    let mut out: Vec<Entity> = names
        .iter()
        .map(|n| {
            Entity::parse(n).ok_or_else(|| ServiceError::invalid(format!("unknown entity '{n}'")))
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

/// How long a follower waits for the leader's view of the links.
const LEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Federation as admins run it: peer sites, their status, the digest, `validate_server`.
pub struct Federation {
    config: Arc<Config>,
    state: StateView,
    writes: Arc<Writes>,
    outbox: Arc<SiteOutbox>,
    /// What each link is doing (filled in by the leader's link tasks).
    links: Arc<Board>,
    membership: Membership,
    /// Calls to the leader (`links`).
    peer: PeerClient,
}

impl Federation {
    pub fn new(
        config: Arc<Config>,
        state: StateView,
        writes: Arc<Writes>,
        outbox: Arc<SiteOutbox>,
        links: Arc<Board>,
        membership: Membership,
        peer: PeerClient,
    ) -> Federation {
        Federation {
            config,
            state,
            writes,
            outbox,
            links,
            membership,
            peer,
        }
    }

    /// Whether this node runs the links (only the leader pushes to peer sites).
    pub fn runs_links(&self) -> bool {
        self.membership.status().is_leader
    }

    /// A peer site as `GET /system/federation` shows it: its entry, where its link stands
    /// and what it refused.
    pub fn link_status(&self, p: &PeerSite) -> ServiceResult<Value> {
        let cursor = self.state.federation().fed_cursor(&p.name)?;
        let (tail, head) = self.state.federation().fed_journal_range()?;
        let epoch = self.state.federation().fed_epoch()?;
        let live = self.links.get(&p.name).unwrap_or_default();
        let refusals = self.state.federation().fed_refusals(&p.service_id)?;
        let behind = cursor
            .next
            .map(|n| head.saturating_sub(n))
            .unwrap_or(head - tail);
        let stale = cursor.next.is_some_and(|n| n < tail);
        let full_sync =
            cursor.next.is_none() || cursor.resync || cursor.synced_epoch < epoch || stale;
        let state = match (p.active, self.runs_links()) {
            (false, _) => "inactive",
            (true, false) => "standby",
            (true, true) => live.state,
        };
        Ok(json!({
            "name": p.name,
            "url": p.url,
            "service_id": p.service_id,
            "entities": p.entities,
            "active": p.active,
            "exclude_users": p.exclude_users,
            "status": {
                "state": state,
                "last_contact_ms_ago": live.last_contact.map(|t| Instant::now().duration_since(t).as_millis() as u64),
                "events_behind": behind,
                "lag_ms": live.lag_ms,
                "last_error": live.last_error,
                "full_sync": full_sync,
                "full_syncs": cursor.full_syncs,
                "stale": stale,
                "cursor": cursor.next,
                "events_sent": live.events_sent,
                // Changes waiting for the peer's format (`federation_held_changes`).
                "held": cursor.held.map_or(0, |h| h.count),
                "held_needs_format": cursor.held.map(|h| h.format),
                "peer_format": live.peer_format.map(|(f, _)| f),
                "refused": refusals.count,
                // How far its clock is ahead of ours, as the link last read it (leader only).
                "clock_offset_ms": self.outbox.site_clock_offset(&p.name),
                "last_refused": refusals.last,
            }
        }))
    }

    /// Every peer site's status as this node sees it (standby unless it leads).
    pub fn links_here(&self) -> ServiceResult<Vec<Value>> {
        self.peers()?.iter().map(|p| self.link_status(p)).collect()
    }

    /// Every peer site's status as the leader sees it: link status lives on the leader, so a
    /// follower asks it over the cluster RPC, and answers from its own view if that fails.
    pub async fn links(&self) -> ServiceResult<Vec<Value>> {
        let status = self.membership.status();
        if let (false, Some(url)) = (status.is_leader, status.leader_url) {
            let asked = self
                .peer
                .call::<_, Vec<Value>>(&url, "federation_links", &(), LEADER_TIMEOUT)
                .await;
            match asked {
                Ok(links) => return Ok(links),
                Err(e) => tracing::debug!(error = %e, "cannot read the leader's federation links"),
            }
        }
        self.links_here()
    }

    /// The service id a site answers with at `url`.
    async fn remote_service_id(&self, url: &str) -> ServiceResult<String> {
        self.outbox
            .site_service_id(url)
            .await
            .map_err(|e| ServiceError::invalid(format!("cannot reach {url}: {e}")))
    }

    pub fn peers(&self) -> ServiceResult<Vec<PeerSite>> {
        Ok(self.state.federation().fed_peers()?)
    }

    pub fn peer(&self, name: &str) -> ServiceResult<PeerSite> {
        self.state
            .federation()
            .fed_peer(name)?
            .ok_or_else(|| ServiceError::not_found("federation", name))
    }

    pub async fn add_peer(&self, new: NewPeer) -> ServiceResult<PeerSite> {
        if !crate::service::keys::valid_cert_name(&new.name) {
            return Err(ServiceError::invalid(format!(
                "invalid federation name '{}'",
                new.name
            )));
        }
        let url = check_url(&new.url)?;
        if self.state.federation().fed_peer(&new.name)?.is_some() {
            return Err(ServiceError::Conflict(format!(
                "federation '{}' already exists",
                new.name
            )));
        }
        let service_id = match new.service_id {
            Some(id) if crate::domain::names::valid_service_id(&id) => id,
            Some(id) => return Err(ServiceError::invalid(format!("invalid service_id '{id}'"))),
            None => self.remote_service_id(&url).await?,
        };
        if service_id == own_service_id(&self.state)? {
            return Err(ServiceError::invalid("a site cannot federate with itself"));
        }
        if self
            .state
            .federation()
            .fed_peer_by_service(&service_id)?
            .is_some()
        {
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
        self.writes
            .write(Command::FederationPeer { peer: peer.clone() })
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
        self.writes
            .write(Command::FederationPeer { peer: peer.clone() })
            .await?;
        peer_event("federation.peer_updated", &peer);
        Ok(peer)
    }

    pub async fn remove_peer(&self, name: &str) -> ServiceResult<()> {
        match self
            .writes
            .write(Command::FederationRemovePeer { name: name.into() })
            .await?
        {
            CommandResponse::Ok => {
                Event::new("federation.peer_removed")
                    .field("peer", name)
                    .emit();
                Ok(())
            }
            _ => Err(ServiceError::not_found("federation", name)),
        }
    }

    /// Force a full sync to a peer (`full_broadcast`).
    pub async fn full_broadcast(&self, name: &str) -> ServiceResult<()> {
        match self
            .writes
            .write(Command::FederationResync { peer: name.into() })
            .await?
        {
            CommandResponse::Ok => Ok(()),
            _ => Err(ServiceError::not_found("federation", name)),
        }
    }

    /// The federated state's digest, vector and counts (equal everywhere once converged).
    pub fn federation_digest(&self) -> ServiceResult<Value> {
        let own = own_service_id(&self.state)?;
        let excluded: Vec<String> = self
            .state
            .federation()
            .fed_peers()?
            .into_iter()
            .flat_map(|p| p.exclude_users)
            .collect();
        let d = self.state.federation().fed_digest(&own, &excluded)?;
        Ok(json!({
            "service_id": own,
            "digest": d.digest,
            "counts": d.counts,
            "vector": self.state.federation().fed_vector()?,
        }))
    }

    /// Reachability, trust both ways and versions of a site (`validate_server`).
    pub async fn validate_server(&self, url: &str) -> ServiceResult<Value> {
        let url = check_url(url)?;
        let mut problems = Vec::new();
        // What does not stop linking now (the peer's own entry for us comes next).
        let mut warnings: Vec<&str> = Vec::new();
        let service_id = match self.remote_service_id(&url).await {
            Ok(id) => Some(id),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        };
        let keys = keyset(&self.state)?;
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
            match self.outbox.send_to_site(&url, id, "_hello", Hello {}).await {
                Ok(SiteAnswer { status: 200, body }) => {
                    they_trust_us = true;
                    they_know_us = body["knows_you"].as_bool().unwrap_or(false);
                    version = body["version"].clone();
                    if !they_know_us {
                        warnings.push("it has no federation entry for this site yet");
                    }
                }
                Ok(SiteAnswer { status, body }) => problems.push(format!(
                    "it refuses our signed hello (HTTP {status}): {}",
                    body["errors"][0]["message"].as_str().unwrap_or("")
                )),
                Err(e) => problems.push(e.to_string()),
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
            "warnings": warnings,
        }))
    }
}
