//! Full sync to a peer site: the whole federated state in chunks, with proofs of the
//! version vector; the peer then resumes streaming from the journal head read before it.

use std::collections::BTreeMap;
use std::time::Instant;

use super::federation_outbound::{LinkError, SiteOutbox};
use super::{keyset, own_service_id};
use crate::federation::message;
use crate::federation::protocol::{Change, Held, PeerSite, SyncChunk, SyncDone};
use crate::raft::format::highest_format;

/// The peer's own records and certificate: it knows them better than we do (and refuses
/// them from anyone else).
fn about_itself(change: &Change, peer: &str) -> bool {
    match change {
        Change::Token { record } => record.issuer == peer,
        Change::Cert { cert } => cert.service_id == peer,
        _ => false,
    }
}

impl SiteOutbox {
    /// Send the whole federated state in chunks; the peer resumes streaming from the journal
    /// head read before the state, so nothing that happens meanwhile is missed.
    pub(super) async fn full_sync(
        &self,
        peer: &PeerSite,
        epoch: u64,
        peer_format: u32,
    ) -> Result<u64, LinkError> {
        self.links.update(&peer.name, |s| s.state = "full_sync");
        let own = own_service_id(&self.state)?;
        let (_, head) = self.state.federation().fed_journal_range()?;
        let vector = self.state.federation().fed_vector()?;
        let keys = keyset(&self.state)?;
        let proofs = self.vector_proofs(&keys, &vector)?;
        let (changes, too_new): (Vec<Change>, Vec<Change>) = self
            .state
            .federation()
            .fed_full_state(&own)?
            .into_iter()
            .filter(|c| peer.carries(c) && !about_itself(c, &peer.service_id))
            .partition(|c| c.format_needed() <= peer_format);
        // What the peer's format cannot take waits for the sync after its upgrade.
        let held = (!too_new.is_empty()).then(|| Held {
            format: highest_format(&too_new),
            count: too_new.len() as u64,
        });
        let changes: Vec<Change> = changes
            .into_iter()
            .map(|c| match c {
                Change::Cert { cert } => {
                    message::self_endorsed(&keys, cert).map(|cert| Change::Cert { cert })
                }
                c => Ok(c),
            })
            .collect::<Result<_, _>>()?;
        let total = changes.len();
        tracing::info!(peer = %peer.name, records = total, "full sync to a federated site started");
        let sync_id: String = crate::crypto::random_secret().chars().take(22).collect();
        let size = self.config.federation.sync_chunk_size.max(1);
        let chunks: Vec<&[Change]> = match changes.is_empty() {
            true => vec![&[]],
            false => changes.chunks(size).collect(),
        };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let body = SyncChunk {
                sync_id: sync_id.clone(),
                chunk: i as u64,
                changes: chunk.to_vec(),
                done: (i == last).then(|| SyncDone {
                    position: head,
                    vector: vector.clone(),
                    proofs: proofs.clone(),
                }),
                format: highest_format(chunk),
            };
            let (status, answer) = self.send_timed(peer, "_sync", body).await?;
            if status != 200 || answer["status"] != "ok" {
                return Err(LinkError::Refused(format!(
                    "full sync chunk {i} refused: HTTP {status} {answer}"
                )));
            }
            if i % 10 == 9 {
                tracing::info!(peer = %peer.name, sent = (i + 1) * size, of = total, "full sync progress");
            }
        }
        self.ack(&peer.name, head, Some(epoch), held).await?;
        self.links.update(&peer.name, |s| {
            s.state = "ok";
            s.last_contact = Some(Instant::now());
            s.last_error = None;
        });
        tracing::info!(peer = %peer.name, records = total, held = held.map_or(0, |h| h.count), "full sync to a federated site done");
        Ok(head)
    }

    /// What proves each sequence of a full sync's vector: our signature for our own, the
    /// origin's signature of its last event we applied for the others.
    fn vector_proofs(
        &self,
        keys: &crate::crypto::KeySet,
        vector: &crate::domain::federation::Vector,
    ) -> Result<BTreeMap<String, String>, LinkError> {
        let mut proofs = BTreeMap::new();
        for (origin, &seq) in vector {
            let proof = if *origin == keys.service_id {
                Some(message::sign_origin(keys, seq, None)?)
            } else {
                self.state.federation().fed_proof(origin)?
            };
            if let Some(p) = proof {
                proofs.insert(origin.clone(), p);
            }
        }
        Ok(proofs)
    }
}
