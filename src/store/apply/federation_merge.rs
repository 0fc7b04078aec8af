//! Merging what peer sites send: batches of their journal and full-sync chunks. Our own
//! entry for the sender decides what is merged (`PeerSite::admits`, and the rules below that
//! need the store); a refused change counts as delivered, travels on as a `Skip`, and is
//! counted per sender so the link status, metrics and audit trail can show it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::federation_change::merge;
use super::journal::{append, get_u64, own_site};
use super::tx::{tx_get, tx_put, Tx, TxResult};
use crate::domain::federation::{arrival, Arrival, SiteCert};
use crate::federation::admission::{Refusal, Refused};
use crate::federation::protocol::{Change, Entity, JournalEntry, PeerSite, SyncDone};
use crate::raft::command::{CommandResponse, ReceiveTimes};
use crate::store::trees::fed_key;
use crate::store::trees::StateTree::{FedEntities, FedPeers, FedState};

/// Most refusals one response lists (all are counted).
const REFUSALS_LISTED: usize = 100;

/// What was refused from one sender so far: shown in its link status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalStats {
    pub count: u64,
    pub last: Option<Refused>,
}

/// Our entry `name` for the site `from`: the proposer found it by service id; it must still
/// be that site's when the batch applies.
///
/// A binary before formats proposed its receives without the entry (and merged whatever
/// the site sent): such an entry, met while an older leader still leads a cluster in a
/// rolling upgrade, is applied as those nodes apply it, with every entity and no exclusion,
/// so the nodes of the cluster stay alike. Our own binaries always name the entry.
fn entry_for(tx: &Tx<'_>, name: &str, from: &str) -> TxResult<Option<PeerSite>> {
    if name.is_empty() {
        return Ok(Some(PeerSite {
            name: String::new(),
            url: String::new(),
            service_id: from.to_string(),
            entities: Entity::ALL.to_vec(),
            active: false,
            exclude_users: Vec::new(),
            created_at: 0,
        }));
    }
    let peer: Option<PeerSite> = tx_get(tx.t(FedPeers), name.as_bytes())?;
    Ok(peer.filter(|p| p.service_id == from))
}

/// Count refusals from `from` (persisted, for the link status) and list the first few.
fn note_refusals(tx: &Tx<'_>, from: &str, refused: &mut Vec<Refused>, total: u64) -> TxResult<()> {
    if total == 0 {
        return Ok(());
    }
    let key = fed_key::refused(from);
    let mut stats: RefusalStats = tx_get(tx.t(FedState), &key)?.unwrap_or_default();
    stats.count += total;
    stats.last = refused.last().cloned().or(stats.last);
    tx_put(tx.t(FedState), &key, &stats)?;
    refused.truncate(REFUSALS_LISTED);
    Ok(())
}

/// Most holes kept open per origin: past that, a skip is final (the link's filter won).
const MAX_HOLES: u64 = 10_000;

fn open_hole(tx: &Tx<'_>, origin: &str, seq: u64) -> TxResult<()> {
    let count = get_u64(tx, &fed_key::holes(origin))?;
    if count < MAX_HOLES {
        tx_put(tx.t(FedState), &fed_key::hole(origin, seq), &true)?;
        tx_put(tx.t(FedState), &fed_key::holes(origin), &(count + 1))?;
    }
    Ok(())
}

fn close_hole(tx: &Tx<'_>, origin: &str, seq: u64) -> TxResult<()> {
    if tx
        .t(FedState)
        .remove(fed_key::hole(origin, seq).as_slice())?
        .is_some()
    {
        let count = get_u64(tx, &fed_key::holes(origin))?;
        tx_put(
            tx.t(FedState),
            &fed_key::holes(origin),
            &count.saturating_sub(1),
        )?;
    }
    Ok(())
}

/// Who sent a batch or sync chunk: its service id, and our entry for it by name.
#[derive(Clone, Copy)]
pub(super) struct Sender<'a> {
    pub service_id: &'a str,
    pub entry: &'a str,
}

/// A batch of `from`'s journal. See `Command::FederationReceive`. Events at the indexes in
/// `unsigned` came without their origin's valid signature (checked before proposing).
pub(super) fn receive(
    tx: &Tx<'_>,
    sender: Sender<'_>,
    after: u64,
    upto: u64,
    events: &[JournalEntry],
    unsigned: &[usize],
    times: &ReceiveTimes,
) -> TxResult<CommandResponse> {
    let (from, peer_name) = (sender.service_id, sender.entry);
    let position = get_u64(tx, &fed_key::inbound(from))?;
    if after != position {
        return Ok(CommandResponse::FedOutOfOrder { position });
    }
    let own = own_site(tx)?;
    let (mut refused, mut total) = (Vec::new(), 0u64);
    // An event relayed without its origin's signature is dropped as if never sent: it moves
    // no sequence, so it can neither forge nor suppress the origin's real event.
    let mut signed = Vec::new();
    for (i, e) in events.iter().enumerate().filter(|(_, e)| e.origin != own) {
        if unsigned.contains(&i) {
            total += 1;
            if refused.len() < REFUSALS_LISTED {
                refused.push(Refused::of(Refusal::OriginSignature, &e.change));
            }
        } else {
            signed.push(e);
        }
    }
    // Decide first: a refused batch writes nothing.
    let mut seen: HashMap<&str, u64> = HashMap::new();
    let (mut next, mut fills) = (Vec::new(), Vec::new());
    for e in signed {
        let s = match seen.get(e.origin.as_str()) {
            Some(s) => *s,
            None => get_u64(tx, &fed_key::vector(&e.origin))?,
        };
        match arrival(s, e.seq) {
            Arrival::Duplicate => {
                let key = fed_key::hole(&e.origin, e.seq);
                if e.change != Change::Skip && tx.t(FedState).get(&key)?.is_some() {
                    fills.push(e);
                }
            }
            Arrival::Gap => return Ok(CommandResponse::FedGap),
            Arrival::Apply => {
                seen.insert(&e.origin, e.seq);
                next.push(e);
            }
        }
    }
    let peer = entry_for(tx, peer_name, from)?;
    for e in next {
        let outcome = match &peer {
            None => Err(Refusal::NoEntry),
            Some(p) => merge(tx, p, &e.change, &own, Some(&e.origin), times)?,
        };
        let change = match outcome {
            Ok(()) => e.change.clone(),
            Err(reason) => {
                total += 1;
                if refused.len() < REFUSALS_LISTED {
                    refused.push(Refused::of(reason, &e.change));
                }
                Change::Skip
            }
        };
        tx_put(tx.t(FedState), &fed_key::vector(&e.origin), &e.seq)?;
        if let Some(sig) = &e.sig {
            tx_put(tx.t(FedState), &fed_key::proof(&e.origin), sig)?;
        }
        if e.change == Change::Skip {
            open_hole(tx, &e.origin, e.seq)?;
        }
        append(
            tx,
            &JournalEntry {
                at_ms: times.now_ms,
                change,
                ..e.clone()
            },
        )?;
    }
    // Events we had only as a skip, arriving in full by this path: taken now, and journaled
    // again so the peers we relayed the skip to can take them too.
    for e in fills {
        close_hole(tx, &e.origin, e.seq)?;
        let outcome = match &peer {
            None => Err(Refusal::NoEntry),
            Some(p) => merge(tx, p, &e.change, &own, Some(&e.origin), times)?,
        };
        match outcome {
            Ok(()) => append(
                tx,
                &JournalEntry {
                    at_ms: times.now_ms,
                    ..e.clone()
                },
            )?,
            Err(reason) => {
                total += 1;
                if refused.len() < REFUSALS_LISTED {
                    refused.push(Refused::of(reason, &e.change));
                }
            }
        }
    }
    note_refusals(tx, from, &mut refused, total)?;
    tx_put(tx.t(FedState), &fed_key::inbound(from), &upto)?;
    Ok(CommandResponse::FedReceived {
        position: upto,
        refused,
    })
}

/// One chunk of a full sync from `from`. See `Command::FederationSync`. The vector in
/// `done` has been checked before proposing: another origin's sequence is there only with
/// that origin's signature.
pub(super) fn sync(
    tx: &Tx<'_>,
    sender: Sender<'_>,
    sync_id: &str,
    chunk: u64,
    changes: &[Change],
    done: Option<&SyncDone>,
    times: &ReceiveTimes,
) -> TxResult<CommandResponse> {
    let (from, peer_name) = (sender.service_id, sender.entry);
    let expected: Option<(String, u64)> = tx_get(tx.t(FedState), &fed_key::sync_in(from))?;
    if chunk != 0 && expected.as_ref() != Some(&(sync_id.to_string(), chunk)) {
        let position = get_u64(tx, &fed_key::inbound(from))?;
        return Ok(CommandResponse::FedOutOfOrder { position });
    }
    let own = own_site(tx)?;
    let peer = entry_for(tx, peer_name, from)?;
    let (mut refused, mut total) = (Vec::new(), 0u64);
    let mut learned_cert = false;
    for c in changes {
        let known = match c {
            Change::Cert { cert } => {
                tx_get::<SiteCert>(tx.t(FedEntities), &fed_key::cert(&cert.service_id))?
            }
            _ => None,
        };
        let outcome = match &peer {
            None => Err(Refusal::NoEntry),
            Some(p) => merge(tx, p, c, &own, None, times)?,
        };
        match outcome {
            Err(reason) => {
                total += 1;
                if refused.len() < REFUSALS_LISTED {
                    refused.push(Refused::of(reason, c));
                }
            }
            Ok(()) => {
                if let Change::Cert { cert } = c {
                    let now: Option<SiteCert> =
                        tx_get(tx.t(FedEntities), &fed_key::cert(&cert.service_id))?;
                    learned_cert |= now != known;
                }
            }
        }
    }
    if learned_cert {
        // A site's certificate we did not have reaches our journal only on its next reset:
        // our own peers take it from a full sync, before that site's relayed events that
        // need its key to verify.
        let epoch = get_u64(tx, fed_key::EPOCH)? + 1;
        tx_put(tx.t(FedState), fed_key::EPOCH, &epoch)?;
    }
    note_refusals(tx, from, &mut refused, total)?;
    tx_put(
        tx.t(FedState),
        &fed_key::sync_in(from),
        &(sync_id.to_string(), chunk + 1),
    )?;
    let Some(done) = done else {
        let position = get_u64(tx, &fed_key::inbound(from))?;
        return Ok(CommandResponse::FedReceived { position, refused });
    };
    let mut moved = false;
    for (origin, &seq) in done.vector.iter().filter(|(o, _)| **o != own) {
        if seq > get_u64(tx, &fed_key::vector(origin))? {
            tx_put(tx.t(FedState), &fed_key::vector(origin), &seq)?;
            if let Some(proof) = done.proofs.get(origin) {
                tx_put(tx.t(FedState), &fed_key::proof(origin), proof)?;
            }
            moved = true;
        }
    }
    if moved {
        // What we just learned is not in our journal: our own peers need a full sync.
        let epoch = get_u64(tx, fed_key::EPOCH)? + 1;
        tx_put(tx.t(FedState), fed_key::EPOCH, &epoch)?;
    }
    tx_put(tx.t(FedState), &fed_key::inbound(from), &done.position)?;
    tx.t(FedState).remove(fed_key::sync_in(from).as_slice())?;
    Ok(CommandResponse::FedReceived {
        position: done.position,
        refused,
    })
}
