//! What a peer site sends us: batches of its journal, full-sync chunks and hellos. Each is
//! a message signed by the site; our entry for it decides what is merged (see
//! `federation::admission` and `store::apply::federation_merge`), relayed events must carry
//! their origin's signature, and what is refused is counted, audited and logged here.

use std::sync::Arc;

use super::clock::ClusterClock;
use super::writes::Writes;
use super::{keyset, now_secs, own_service_id, ServiceError, ServiceResult};
use crate::clock::now_millis;
use crate::config::Config;
use crate::crypto::VerifyError;
use crate::domain::names::valid_name;
use crate::domain::version::FIRST_FORMAT;
use crate::federation::admission::Refused;
use crate::federation::message::{self, Introduced, OpenError, Sealed};
use crate::federation::protocol::{
    Answer, Change, EventBatch, Hello, JournalEntry, PeerSite, SyncChunk, SyncDone,
};
use crate::federation::upload::{self, Upload};
use crate::raft::command::{Command, CommandResponse, ReceiveTimes};
use crate::raft::format::highest_format;
use crate::store::StateView;
use crate::telemetry::audit::Event;
use crate::telemetry::metrics;

/// Most events or changes one message may carry.
const MAX_ITEMS: usize = 20_000;

/// A site message or upload header (`what`) that does not open: malformed is 400, anything
/// else (signature, key, audience, time) is 401.
fn refused(what: &str, e: OpenError) -> ServiceError {
    match e {
        OpenError::Malformed
        | OpenError::Verify(VerifyError::Malformed)
        | OpenError::Verify(VerifyError::Algorithm) => {
            ServiceError::invalid(format!("federation {what} refused: {e}"))
        }
        e => ServiceError::Unauthenticated(format!("federation {what} refused: {e}")),
    }
}

/// Names in users and groups from a peer are checked like ours: a peer cannot plant what
/// our own API would refuse.
fn check_change(change: &Change) -> ServiceResult<()> {
    let name = match change {
        Change::User { name, .. } | Change::Group { name, .. } => name,
        Change::Permission { name, state } => {
            if let Some(t) = &state.target {
                if &t.name != name {
                    return Err(ServiceError::invalid("permission name mismatch"));
                }
                t.clone().validated()?;
            }
            name
        }
        Change::Oidc { name, state } => return Ok(state.check(name)?),
        _ => return Ok(()),
    };
    if valid_name(name) {
        Ok(())
    } else {
        Err(ServiceError::invalid(format!("invalid name '{name}'")))
    }
}

/// What peer sites send us: journal batches, full-sync chunks, hellos.
pub struct SiteInbox {
    config: Arc<Config>,
    state: StateView,
    writes: Arc<Writes>,
    clock: Arc<ClusterClock>,
}

impl SiteInbox {
    pub fn new(
        config: Arc<Config>,
        state: StateView,
        writes: Arc<Writes>,
        clock: Arc<ClusterClock>,
    ) -> SiteInbox {
        SiteInbox {
            config,
            state,
            writes,
            clock,
        }
    }

    /// The largest site message accepted (`federation.max-message-bytes`).
    pub fn max_message_bytes(&self) -> usize {
        self.config.federation.max_message_bytes
    }

    /// A header received with a large batch or sync chunk: from a site with a federation
    /// entry here, and for no more than `federation.max-message-bytes`. What it vouches for
    /// is checked against the body once read (`Upload::matches`).
    pub fn open_upload_header(&self, header: &str) -> ServiceResult<Upload> {
        let keys = keyset(&self.state)?;
        let sealed =
            upload::open(&keys, header, now_secs()).map_err(|e| refused("upload header", e))?;
        if self
            .state
            .federation()
            .fed_peer_by_service(&sealed.iss)?
            .is_none()
        {
            return Err(ServiceError::Unauthenticated(format!(
                "{} is not a federated site here",
                sealed.iss
            )));
        }
        let cap = self.config.federation.max_message_bytes;
        if sealed.body.len > cap as u64 {
            return Err(ServiceError::TooLarge { limit: cap });
        }
        Ok(sealed.body)
    }

    /// Open a site message: signed by a key trusted for its issuer (see `message::open`).
    fn open_message<T: serde::de::DeserializeOwned>(&self, body: &str) -> ServiceResult<Sealed<T>> {
        let keys = keyset(&self.state)?;
        message::open(&keys, body.trim(), now_secs()).map_err(|e| refused("message", e))
    }

    /// Open a message that must come from a site with a federation entry here; the entry too.
    fn open_peer_message<T: serde::de::DeserializeOwned>(
        &self,
        body: &str,
    ) -> ServiceResult<(Sealed<T>, PeerSite)> {
        let sealed: Sealed<T> = self.open_message(body)?;
        match self.state.federation().fed_peer_by_service(&sealed.iss)? {
            Some(peer) => Ok((sealed, peer)),
            None => Err(ServiceError::Unauthenticated(format!(
                "{} is not a federated site here",
                sealed.iss
            ))),
        }
    }

    /// The certificates trusted (and not withdrawn) for a service id.
    fn trusted_pems(&self, service_id: &str) -> Vec<String> {
        self.state
            .trusted_certs()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.service_id == service_id && !t.withdrawn)
            .map(|t| t.certificate_pem)
            .collect()
    }

    /// Indexes of the events relayed by `sender` without their origin's valid signature.
    fn unsigned_events(&self, sender: &str, events: &[JournalEntry]) -> ServiceResult<Vec<usize>> {
        let keys = keyset(&self.state)?;
        let own = own_service_id(&self.state)?;
        let mut introduced = Introduced::default();
        let mut unsigned = Vec::new();
        for (i, e) in events.iter().enumerate() {
            if e.origin == own {
                continue;
            }
            if e.origin != sender {
                let signed = e.sig.as_deref().is_some_and(|sig| {
                    message::origin_signed(
                        &keys,
                        &introduced,
                        sig,
                        &e.origin,
                        e.seq,
                        Some(&e.change),
                    )
                });
                if !signed {
                    unsigned.push(i);
                    continue;
                }
            }
            introduced.learn(|id| self.trusted_pems(id), &e.change);
        }
        Ok(unsigned)
    }

    /// Refused changes from `peer`: counted, audited and logged here, on the node that
    /// received them (the link status reads the replicated count).
    fn report_refusals(&self, peer: &str, refused: &[Refused]) {
        if refused.is_empty() {
            return;
        }
        for r in refused {
            metrics::federation_refused(peer, r.reason.name());
            Event::new("federation.change_refused")
                .field("peer", peer)
                .field("reason", r.reason.name())
                .field("change", &r.kind)
                .field("name", &r.name)
                .emit();
        }
        tracing::warn!(
            peer,
            refused = refused.len(),
            first = refused[0].reason.name(),
            "changes from a federated site refused"
        );
    }

    /// The times a receive carries: only the leader's clock while the cluster is at the
    /// first format (its nodes apply a receive as releases before formats did).
    fn receive_times(&self, cluster_format: u32) -> ReceiveTimes {
        let times = self.clock.receive_times();
        match cluster_format > FIRST_FORMAT {
            true => times,
            false => ReceiveTimes {
                now_ms: times.now_ms,
                ..ReceiveTimes::default()
            },
        }
    }

    /// Changes this site's format cannot take yet: answered with 409 `format` (and the
    /// format we are at) before anything is proposed; the sender holds them back.
    fn too_new<'a>(
        &self,
        sender: &str,
        changes: impl Iterator<Item = &'a Change>,
        cluster_format: u32,
    ) -> ServiceResult<Option<Answer>> {
        let needs = highest_format(changes);
        if needs <= cluster_format {
            return Ok(None);
        }
        tracing::info!(
            from = sender,
            needs,
            cluster_format,
            "changes of a newer format than this site's refused; the sender holds them"
        );
        Ok(Some(Answer {
            position: self.state.federation().fed_inbound(sender)?,
            status: "format".into(),
            ..self.answer_to(cluster_format)?
        }))
    }

    /// 503 while this site's nodes run different formats (a rolling upgrade): an older node
    /// merges what a peer sends without our entry's rules, so nothing is merged until every
    /// node applies them alike. The sender keeps it and retries.
    fn check_not_upgrading(&self, cluster_format: u32) -> ServiceResult<()> {
        let own = crate::domain::version::own_format();
        if cluster_format >= own {
            return Ok(());
        }
        Err(ServiceError::Unavailable {
            why: format!(
                "this site is being upgraded (its cluster is at format {cluster_format}, this \
                 node reads format {own}): federated changes wait until every node runs the new \
                 binary"
            ),
            retry_after_secs: 5,
        })
    }

    fn answer_to(&self, cluster_format: u32) -> ServiceResult<Answer> {
        Ok(Answer {
            position: 0,
            status: "ok".into(),
            service_id: own_service_id(&self.state)?,
            version: env!("CARGO_PKG_VERSION").into(),
            knows_you: true,
            now_ms: now_millis(),
            format: cluster_format,
        })
    }

    fn answer(&self, response: CommandResponse, cluster_format: u32) -> ServiceResult<Answer> {
        let (position, status) = match response {
            CommandResponse::FedReceived { position, .. } => (position, "ok"),
            CommandResponse::FedOutOfOrder { position } => (position, "out_of_order"),
            CommandResponse::FedGap => (0, "gap"),
            other => return Err(ServiceError::Internal(format!("unexpected {other:?}"))),
        };
        Ok(Answer {
            position,
            status: status.into(),
            ..self.answer_to(cluster_format)?
        })
    }

    /// A batch of a peer site's journal.
    pub async fn receive_events(&self, body: &str) -> ServiceResult<Answer> {
        let (sealed, peer) = self.open_peer_message::<EventBatch>(body)?;
        let b = sealed.body;
        if b.events.len() > MAX_ITEMS || b.upto < b.after {
            return Err(ServiceError::invalid("malformed federation batch"));
        }
        b.events.iter().try_for_each(|e| check_change(&e.change))?;
        let format = self.state.cluster_format()?;
        self.check_not_upgrading(format)?;
        if let Some(answer) =
            self.too_new(&sealed.iss, b.events.iter().map(|e| &e.change), format)?
        {
            return Ok(answer);
        }
        let unsigned = self.unsigned_events(&sealed.iss, &b.events)?;
        let response = self
            .writes
            .write(Command::FederationReceive {
                from: sealed.iss,
                peer: peer.name.clone(),
                after: b.after,
                upto: b.upto,
                events: b.events,
                unsigned,
                times: self.receive_times(format),
            })
            .await?;
        if let CommandResponse::FedReceived { refused, .. } = &response {
            self.report_refusals(&peer.name, refused);
        }
        self.answer(response, format)
    }

    /// Keep in a full sync's vector only the sequences we can believe: the sender's own, and
    /// another origin's with that origin's signature.
    fn proven_vector(&self, sender: &str, done: &mut SyncDone) -> ServiceResult<()> {
        let keys = keyset(&self.state)?;
        let none = Introduced::default();
        let proofs = &done.proofs;
        done.vector.retain(|origin, seq| {
            origin == sender
                || proofs.get(origin).is_some_and(|sig| {
                    message::origin_signed(&keys, &none, sig, origin, *seq, None)
                })
        });
        Ok(())
    }

    /// A chunk of a full sync from a peer site.
    pub async fn receive_sync(&self, body: &str) -> ServiceResult<Answer> {
        let (sealed, peer) = self.open_peer_message::<SyncChunk>(body)?;
        let mut c = sealed.body;
        if c.changes.len() > MAX_ITEMS || c.sync_id.len() > 128 {
            return Err(ServiceError::invalid("malformed federation sync chunk"));
        }
        c.changes.iter().try_for_each(check_change)?;
        let format = self.state.cluster_format()?;
        self.check_not_upgrading(format)?;
        if let Some(answer) = self.too_new(&sealed.iss, c.changes.iter(), format)? {
            return Ok(answer);
        }
        if c.chunk == 0 {
            tracing::info!(from = %sealed.iss, "full sync from a federated site started");
        }
        if let Some(done) = c.done.as_mut() {
            self.proven_vector(&sealed.iss, done)?;
        }
        let done = c.done.is_some();
        let response = self
            .writes
            .write(Command::FederationSync {
                from: sealed.iss.clone(),
                peer: peer.name.clone(),
                sync_id: c.sync_id,
                chunk: c.chunk,
                changes: c.changes,
                done: c.done,
                times: self.receive_times(format),
            })
            .await?;
        if let CommandResponse::FedReceived { refused, .. } = &response {
            self.report_refusals(&peer.name, refused);
        }
        if done {
            tracing::info!(from = %sealed.iss, "full sync from a federated site done");
        }
        self.answer(response, format)
    }

    /// A site saying hello: its key is trusted here (else 401); says whether we know it.
    pub async fn hello(&self, body: &str) -> ServiceResult<Answer> {
        let sealed: Sealed<Hello> = self.open_message(body)?;
        let knows_you = self
            .state
            .federation()
            .fed_peer_by_service(&sealed.iss)?
            .is_some();
        Ok(Answer {
            position: self.state.federation().fed_inbound(&sealed.iss)?,
            knows_you,
            ..self.answer_to(self.state.cluster_format()?)?
        })
    }
}
