//! The pushing side of federation, as the leader's link tasks (`actors::federation_link`)
//! run it: stream the journal from the peer's replicated cursor, fall back to a full sync
//! when the peer is too far behind (or asks for one), and acknowledge progress through the
//! log so the next leader resumes where this one stopped. Receivers refuse anything but the
//! next batch, so a resend after a leader change applies nothing twice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::clock::ClusterClock;
use super::writes::Writes;
use super::{keyset, now_secs, ServiceError, ServiceResult};
use crate::config::Config;
use crate::crypto::KeySet;
use crate::domain::version::FIRST_FORMAT;
use crate::federation::client::{SiteAnswer, SiteClient, SiteError};
use crate::federation::message;
use crate::federation::protocol::{Change, EventBatch, Held, Hello, JournalEntry, PeerSite};
use crate::federation::status::{Board, LinkStatus};
use crate::federation::upload;
use crate::raft::command::Command;
use crate::raft::format::highest_format;
use crate::raft::membership::Membership;
use crate::store::StateView;

/// Why a push to a peer site failed (what its link status shows as `last_error`).
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Our own side: the state, our keys, the log.
    #[error(transparent)]
    Local(#[from] ServiceError),
    /// The peer site could not be reached, or answered nothing usable.
    #[error(transparent)]
    Site(#[from] SiteError),
    /// The peer site answered, and refused.
    #[error("{0}")]
    Refused(String),
}

impl From<crate::store::StoreError> for LinkError {
    fn from(e: crate::store::StoreError) -> LinkError {
        LinkError::Local(e.into())
    }
}

impl From<crate::crypto::CryptoError> for LinkError {
    fn from(e: crate::crypto::CryptoError) -> LinkError {
        LinkError::Local(e.into())
    }
}

/// What the leader sends to peer sites.
pub struct SiteOutbox {
    pub(super) config: Arc<Config>,
    pub(super) state: StateView,
    pub(super) writes: Arc<Writes>,
    pub(super) clock: Arc<ClusterClock>,
    pub(super) sites: Arc<SiteClient>,
    /// What each link is doing, for the status and the metrics.
    pub(super) links: Arc<Board>,
    pub(super) membership: Membership,
}

impl SiteOutbox {
    pub fn new(
        config: Arc<Config>,
        state: StateView,
        writes: Arc<Writes>,
        clock: Arc<ClusterClock>,
        sites: Arc<SiteClient>,
        links: Arc<Board>,
        membership: Membership,
    ) -> SiteOutbox {
        SiteOutbox {
            config,
            state,
            writes,
            clock,
            sites,
            links,
            membership,
        }
    }

    /// The peer sites, active or not.
    pub fn peers(&self) -> ServiceResult<Vec<PeerSite>> {
        Ok(self.state.federation().fed_peers()?)
    }

    /// Peer site `name` (None once it is removed).
    pub fn peer(&self, name: &str) -> ServiceResult<Option<PeerSite>> {
        Ok(self.state.federation().fed_peer(name)?)
    }

    /// Only the leader pushes to peer sites.
    pub fn is_leader(&self) -> bool {
        self.membership.status().is_leader
    }

    /// How long a failed link waits before it tries again (doubling up to a bound).
    pub fn retry(&self) -> Duration {
        Duration::from_millis(self.config.federation.retry_millis.max(10))
    }

    /// Change what the status shows for link `name`.
    pub fn update_link(&self, name: &str, change: impl FnOnce(&mut LinkStatus)) {
        self.links.update(name, change);
    }

    /// Forget link `name` (its peer is gone).
    pub fn forget_link(&self, name: &str) {
        self.links.remove(name);
    }

    /// How far site `name`'s clock is ahead of ours, as its link last read it.
    pub fn site_clock_offset(&self, name: &str) -> Option<i64> {
        self.clock.board().site_offset(name)
    }

    /// The service id the site at `url` answers with.
    pub async fn site_service_id(&self, url: &str) -> Result<String, SiteError> {
        self.sites.service_id(url).await
    }

    /// POST a signed message to a peer site: its answer, or why there was none.
    pub async fn send_to_site<T: serde::Serialize>(
        &self,
        url: &str,
        aud: &str,
        path: &str,
        body: T,
    ) -> Result<SiteAnswer, LinkError> {
        let keys = keyset(&self.state)?;
        let sealed = message::seal(&keys, aud, body, now_secs())?;
        // Lets the receiver authenticate us before it reads a large body.
        let auth = self.upload_header(&keys, aud, sealed.as_bytes())?;
        Ok(self.sites.post_message(url, path, sealed, auth).await?)
    }

    /// The header for `body`, a message sealed with `keys` for site `aud`. Right after a
    /// reset it carries our endorsed certificate, as the message that introduces it does.
    fn upload_header(&self, keys: &KeySet, aud: &str, body: &[u8]) -> ServiceResult<String> {
        let cert = self.state.federation().own_site_cert(&keys.service_id)?;
        let cert = (cert.kid == keys.active.kid && cert.endorsement.is_some()).then_some(cert);
        Ok(upload::sign(keys, aud, body, cert, now_secs())?)
    }

    /// Drop journal entries every active peer has, and any beyond the retention limit.
    pub async fn trim(&self, peers: &[PeerSite]) -> Result<(), LinkError> {
        let (tail, head) = self.state.federation().fed_journal_range()?;
        let mut below = head.saturating_sub(self.config.federation.journal_max_events);
        let mut needed = head;
        for p in peers.iter().filter(|p| p.active) {
            if let Some(next) = self.state.federation().fed_cursor(&p.name)?.next {
                needed = needed.min(next);
            }
        }
        below = below.max(needed);
        if below > tail {
            self.writes.write(Command::FederationTrim { below }).await?;
        }
        Ok(())
    }

    pub async fn step(
        &self,
        peer: &PeerSite,
        next: &mut Option<u64>,
        seen: &mut Seen,
    ) -> Result<usize, LinkError> {
        let cursor = self.state.federation().fed_cursor(&peer.name)?;
        let epoch = self.state.federation().fed_epoch()?;
        let (tail, head) = self.state.federation().fed_journal_range()?;
        seen.note(head);
        let pos = next.or(cursor.next);
        let full = match pos {
            None => true,
            // Further behind than the journal keeps (trimmed, or about to be): a full sync.
            Some(p) => {
                cursor.resync
                    || cursor.synced_epoch < epoch
                    || p < tail
                    || p > head
                    || head - p > self.config.federation.journal_max_events
            }
        };
        let peer_format = self.peer_format(peer, cursor.held.is_some()).await?;
        // What the peer's format could not take went as `Skip`: once it can, a full sync
        // brings it the current state of everything.
        let caught_up = cursor.held.is_some_and(|h| peer_format >= h.format);
        if full || caught_up {
            *next = Some(self.full_sync(peer, epoch, peer_format).await?);
            return Ok(1);
        }
        let pos = pos.unwrap_or(head);
        if pos >= head {
            return Ok(0);
        }
        let cfg = &self.config.federation;
        if cfg.buffer_wait_millis > 0 && ((head - pos) as usize) < cfg.buffer_max_size {
            tokio::time::sleep(Duration::from_millis(cfg.buffer_wait_millis)).await;
        }
        let entries = self
            .state
            .federation()
            .fed_journal(pos, cfg.buffer_max_size.max(1))?;
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Ok(0);
        };
        if first.0 != pos {
            *next = Some(self.full_sync(peer, epoch, peer_format).await?);
            return Ok(1);
        }
        let upto = last.0 + 1;
        let keys = keyset(&self.state)?;
        let mut held: Option<Held> = None;
        let events: Vec<JournalEntry> = entries
            .into_iter()
            .map(|(_, e)| e)
            // The peer's own changes never go back to it.
            .filter(|e| e.origin != peer.service_id)
            // Signed over the change itself, so a `Skip` still proves its origin and sequence.
            .map(|e| message::as_origin(&keys, e).map_err(LinkError::from))
            .map(|e| {
                e.map(|e| {
                    let needs = e.change.format_needed();
                    let carried = peer.carries(&e.change);
                    if carried && needs > peer_format {
                        held = Some(held.unwrap_or_default().and(Held {
                            format: needs,
                            count: 1,
                        }));
                    }
                    match carried && needs <= peer_format {
                        true => e,
                        false => JournalEntry {
                            change: Change::Skip,
                            ..e
                        },
                    }
                })
            })
            .collect::<Result<_, LinkError>>()?;
        let count = events.len();
        let batch = EventBatch {
            after: pos,
            upto,
            format: highest_format(events.iter().map(|e| &e.change)),
            events,
        };
        let (status, body) = self.send_timed(peer, "_events", batch).await?;
        let answered = body["position"].as_u64();
        match (status, body["status"].as_str()) {
            (200, _) => {
                *next = Some(upto);
                let lag = seen.delivered(pos, upto);
                self.links.update(&peer.name, |s| {
                    s.state = "ok";
                    s.last_contact = Some(Instant::now());
                    s.last_error = None;
                    s.lag_ms = lag.or(s.lag_ms);
                    s.events_sent += count as u64;
                });
                if let Some(h) = held {
                    tracing::info!(peer = %peer.name, held = h.count, needs = h.format, peer_format, "changes held back until the federated site's format takes them");
                }
                self.ack(&peer.name, upto, None, held).await?;
                Ok(count.max(1))
            }
            (409, Some("gap")) => {
                *next = Some(self.full_sync(peer, epoch, peer_format).await?);
                Ok(1)
            }
            // Its format is older than it said (or went back): send again, holding more.
            (409, Some("format")) => Ok(1),
            (409, _) => {
                let p =
                    answered.ok_or_else(|| LinkError::Refused("409 without a position".into()))?;
                tracing::info!(peer = %peer.name, from = pos, to = p, "federated site asks to resume elsewhere");
                *next = Some(p);
                self.ack(&peer.name, p, None, None).await?;
                Ok(1)
            }
            (status, _) => Err(LinkError::Refused(format!(
                "HTTP {status}: {}",
                body["errors"][0]["message"].as_str().unwrap_or("")
            ))),
        }
    }

    /// Send to the peer, and read its clock from the answer (`access_clock_offset_seconds`).
    pub(super) async fn send_timed<T: serde::Serialize>(
        &self,
        peer: &PeerSite,
        path: &str,
        body: T,
    ) -> Result<(u16, serde_json::Value), LinkError> {
        let sent = crate::clock::now_millis();
        let SiteAnswer {
            status,
            body: answer,
        } = self
            .send_to_site(&peer.url, &peer.service_id, path, body)
            .await?;
        if let Some(remote) = answer["now_ms"].as_u64().filter(|ms| *ms > 0) {
            let r = crate::domain::clock::reading(sent, remote, crate::clock::now_millis());
            self.clock.board().site_read(&peer.name, r);
        }
        // A protocol answer without a format is from a site before formats.
        let format = match (status, answer["format"].as_u64()) {
            (_, Some(f)) => Some(u32::try_from(f).unwrap_or(u32::MAX)),
            (200 | 409, None) => Some(FIRST_FORMAT),
            _ => None,
        };
        if let Some(f) = format {
            self.links
                .update(&peer.name, |s| s.peer_format = Some((f, Instant::now())));
        }
        Ok((status, answer))
    }

    /// The peer site's cluster format: from its last answer, or a hello when this link has
    /// not heard one yet (or holds changes and the reading is old: the peer may have been
    /// upgraded since).
    async fn peer_format(&self, peer: &PeerSite, holding: bool) -> Result<u32, LinkError> {
        const RECHECK: Duration = Duration::from_secs(2);
        let known = self.links.get(&peer.name).and_then(|s| s.peer_format);
        if let Some((format, at)) = known {
            if !holding || at.elapsed() < RECHECK {
                return Ok(format);
            }
        }
        let (status, answer) = self.send_timed(peer, "_hello", Hello {}).await?;
        match self.links.get(&peer.name).and_then(|s| s.peer_format) {
            Some((format, _)) if status == 200 => Ok(format),
            _ => Err(LinkError::Refused(format!(
                "hello: HTTP {status}: {}",
                answer["errors"][0]["message"].as_str().unwrap_or("")
            ))),
        }
    }

    pub(super) async fn ack(
        &self,
        peer: &str,
        cursor: u64,
        synced_epoch: Option<u64>,
        held: Option<Held>,
    ) -> Result<(), LinkError> {
        self.writes
            .write(Command::FederationAck {
                peer: peer.to_string(),
                cursor,
                synced_epoch,
                held,
            })
            .await?;
        Ok(())
    }
}

/// Send what the peer lacks: a full sync, or the next batch. How many items went out.
/// When this leader first saw the journal reach each head: the lag shown in the status is
/// from there to the peer's acceptance (journal times are whole seconds).
#[derive(Default)]
pub struct Seen(std::collections::VecDeque<(u64, Instant)>);

impl Seen {
    fn note(&mut self, head: u64) {
        if self.0.back().is_none_or(|(h, _)| *h < head) {
            if self.0.len() >= 4096 {
                self.0.pop_front();
            }
            self.0.push_back((head, Instant::now()));
        }
    }

    /// Milliseconds since entries at `pos` were first seen; forget what `upto` covers.
    fn delivered(&mut self, pos: u64, upto: u64) -> Option<u64> {
        let lag = self
            .0
            .iter()
            .find(|(h, _)| *h > pos)
            .map(|(_, t)| t.elapsed().as_millis() as u64);
        while self.0.front().is_some_and(|(h, _)| *h <= upto) {
            self.0.pop_front();
        }
        lag
    }
}
