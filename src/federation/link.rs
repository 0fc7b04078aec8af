//! The pushing side of federation: on the leader, one task per active peer site streams the
//! journal from the peer's replicated cursor, falls back to a full sync when the peer is too
//! far behind (or asks for one), and acknowledges progress through the log so the next leader
//! resumes where this one stopped. Receivers refuse anything but the next batch, so a resend
//! after a leader change applies nothing twice.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::message;
use super::protocol::{Change, EventBatch, JournalEntry, PeerSite, SyncChunk, SyncDone};
use crate::raft::command::Command;
use crate::service::SharedService;
use crate::store::state_machine::Applied;

/// How often an idle link and the supervisor look around.
const IDLE: Duration = Duration::from_millis(1000);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Start the supervisor: it runs a link task per active peer and trims the journal.
pub fn start(svc: SharedService, applied: watch::Receiver<Applied>) {
    tokio::spawn(supervise(svc, applied));
}

async fn supervise(svc: SharedService, mut applied: watch::Receiver<Applied>) {
    let mut links: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut last_trim = Instant::now();
    loop {
        let _ = tokio::time::timeout(IDLE, applied.changed()).await;
        links.retain(|_, h| !h.is_finished());
        let Ok(peers) = svc.state.fed_peers() else {
            continue;
        };
        for peer in peers.iter().filter(|p| p.active) {
            if !links.contains_key(&peer.name) {
                let task = tokio::spawn(run(svc.clone(), peer.name.clone(), applied.clone()));
                links.insert(peer.name.clone(), task);
            }
        }
        for peer in peers.iter().filter(|p| !p.active) {
            svc.links.update(&peer.name, |s| s.state = "inactive");
        }
        if last_trim.elapsed() > Duration::from_secs(2) && svc.membership.status().is_leader {
            last_trim = Instant::now();
            if let Err(e) = trim(&svc, &peers).await {
                tracing::debug!(error = %e, "federation journal trim failed");
            }
        }
    }
}

/// Drop journal entries every active peer has, and any beyond the retention limit.
async fn trim(svc: &SharedService, peers: &[PeerSite]) -> Result<(), String> {
    let (tail, head) = svc.state.fed_journal_range().map_err(|e| e.to_string())?;
    let mut below = head.saturating_sub(svc.config.federation.journal_max_events);
    let mut needed = head;
    for p in peers.iter().filter(|p| p.active) {
        if let Some(next) = svc
            .state
            .fed_cursor(&p.name)
            .map_err(|e| e.to_string())?
            .next
        {
            needed = needed.min(next);
        }
    }
    below = below.max(needed);
    if below > tail {
        svc.write(Command::FederationTrim { below })
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

async fn run(svc: SharedService, name: String, mut applied: watch::Receiver<Applied>) {
    let retry = Duration::from_millis(svc.config.federation.retry_millis.max(10));
    let mut backoff = retry;
    // Our cursor while we lead; re-read from the replicated state after any doubt.
    let mut next: Option<u64> = None;
    let mut seen = Seen::default();
    loop {
        let peer = match svc.state.fed_peer(&name) {
            Ok(Some(p)) if p.active => p,
            Ok(Some(_)) => return,
            _ => {
                svc.links.remove(&name);
                return;
            }
        };
        if !svc.membership.status().is_leader {
            svc.links.update(&name, |s| s.state = "standby");
            next = None;
            let _ = tokio::time::timeout(IDLE, applied.changed()).await;
            continue;
        }
        match step(&svc, &peer, &mut next, &mut seen).await {
            Ok(sent) => {
                backoff = retry;
                if sent == 0 {
                    let _ = tokio::time::timeout(IDLE, applied.changed()).await;
                }
            }
            Err(e) => {
                tracing::warn!(peer = %name, error = %e, "federation link failed; retrying");
                svc.links.update(&name, |s| {
                    s.state = "error";
                    s.last_error = Some(e);
                });
                next = None;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Send what the peer lacks: a full sync, or the next batch. How many items went out.
/// When this leader first saw the journal reach each head: the lag shown in the status is
/// from there to the peer's acceptance (journal times are whole seconds).
#[derive(Default)]
struct Seen(std::collections::VecDeque<(u64, Instant)>);

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

async fn step(
    svc: &SharedService,
    peer: &PeerSite,
    next: &mut Option<u64>,
    seen: &mut Seen,
) -> Result<usize, String> {
    let err = |e: crate::store::view::StoreError| e.to_string();
    let cursor = svc.state.fed_cursor(&peer.name).map_err(err)?;
    let epoch = svc.state.fed_epoch().map_err(err)?;
    let (tail, head) = svc.state.fed_journal_range().map_err(err)?;
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
                || head - p > svc.config.federation.journal_max_events
        }
    };
    if full {
        *next = Some(full_sync(svc, peer, epoch).await?);
        return Ok(1);
    }
    let pos = pos.unwrap_or(head);
    if pos >= head {
        return Ok(0);
    }
    let cfg = &svc.config.federation;
    if cfg.buffer_wait_millis > 0 && ((head - pos) as usize) < cfg.buffer_max_size {
        tokio::time::sleep(Duration::from_millis(cfg.buffer_wait_millis)).await;
    }
    let entries = svc
        .state
        .fed_journal(pos, cfg.buffer_max_size.max(1))
        .map_err(err)?;
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Ok(0);
    };
    if first.0 != pos {
        *next = Some(full_sync(svc, peer, epoch).await?);
        return Ok(1);
    }
    let upto = last.0 + 1;
    let keys = svc.keyset().map_err(|e| e.to_string())?;
    let events: Vec<JournalEntry> = entries
        .into_iter()
        .map(|(_, e)| e)
        // The peer's own changes never go back to it.
        .filter(|e| e.origin != peer.service_id)
        // Signed over the change itself, so a `Skip` still proves its origin and sequence.
        .map(|e| message::as_origin(&keys, e).map_err(|e| e.to_string()))
        .map(|e| {
            e.map(|e| match peer.carries(&e.change) {
                true => e,
                false => JournalEntry {
                    change: Change::Skip,
                    ..e
                },
            })
        })
        .collect::<Result<_, String>>()?;
    let count = events.len();
    let batch = EventBatch {
        after: pos,
        upto,
        events,
    };
    let (status, body) = send_timed(svc, peer, "_events", batch).await?;
    let answered = body["position"].as_u64();
    match (status, body["status"].as_str()) {
        (200, _) => {
            *next = Some(upto);
            let lag = seen.delivered(pos, upto);
            svc.links.update(&peer.name, |s| {
                s.state = "ok";
                s.last_contact = Some(Instant::now());
                s.last_error = None;
                s.lag_ms = lag.or(s.lag_ms);
                s.events_sent += count as u64;
            });
            ack(svc, &peer.name, upto, None).await?;
            Ok(count.max(1))
        }
        (409, Some("gap")) => {
            *next = Some(full_sync(svc, peer, epoch).await?);
            Ok(1)
        }
        (409, _) => {
            let p = answered.ok_or("409 without a position")?;
            tracing::info!(peer = %peer.name, from = pos, to = p, "federated site asks to resume elsewhere");
            *next = Some(p);
            ack(svc, &peer.name, p, None).await?;
            Ok(1)
        }
        (status, _) => Err(format!(
            "HTTP {status}: {}",
            body["errors"][0]["message"].as_str().unwrap_or("")
        )),
    }
}

/// The peer's own records and certificate: it knows them better than we do (and refuses
/// them from anyone else).
fn about_itself(change: &Change, peer: &str) -> bool {
    match change {
        Change::Token { record } => record.issuer == peer,
        Change::Cert { cert } => cert.service_id == peer,
        _ => false,
    }
}

/// What proves each sequence of a full sync's vector: our signature for our own, the
/// origin's signature of its last event we applied for the others.
fn vector_proofs(
    svc: &SharedService,
    keys: &crate::crypto::KeySet,
    vector: &crate::domain::federation::Vector,
) -> Result<BTreeMap<String, String>, String> {
    let mut proofs = BTreeMap::new();
    for (origin, &seq) in vector {
        let proof = if *origin == keys.service_id {
            Some(message::sign_origin(keys, seq, None).map_err(|e| e.to_string())?)
        } else {
            svc.state.fed_proof(origin).map_err(|e| e.to_string())?
        };
        if let Some(p) = proof {
            proofs.insert(origin.clone(), p);
        }
    }
    Ok(proofs)
}

/// Send to the peer, and read its clock from the answer (`access_clock_offset_seconds`).
async fn send_timed<T: serde::Serialize>(
    svc: &SharedService,
    peer: &PeerSite,
    path: &str,
    body: T,
) -> Result<(u16, serde_json::Value), String> {
    let sent = crate::clock::now_millis();
    let (status, answer) = svc
        .send_to_site(&peer.url, &peer.service_id, path, body)
        .await?;
    if let Some(remote) = answer["now_ms"].as_u64().filter(|ms| *ms > 0) {
        let r = crate::domain::clock::reading(sent, remote, crate::clock::now_millis());
        svc.clocks.site_read(&peer.name, r);
    }
    Ok((status, answer))
}

async fn ack(
    svc: &SharedService,
    peer: &str,
    cursor: u64,
    synced_epoch: Option<u64>,
) -> Result<(), String> {
    svc.write(Command::FederationAck {
        peer: peer.to_string(),
        cursor,
        synced_epoch,
    })
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// Send the whole federated state in chunks; the peer resumes streaming from the journal
/// head read before the state, so nothing that happens meanwhile is missed.
async fn full_sync(svc: &SharedService, peer: &PeerSite, epoch: u64) -> Result<u64, String> {
    let err = |e: crate::store::view::StoreError| e.to_string();
    svc.links.update(&peer.name, |s| s.state = "full_sync");
    let own = svc.service_id().map_err(|e| e.to_string())?;
    let (_, head) = svc.state.fed_journal_range().map_err(err)?;
    let vector = svc.state.fed_vector().map_err(err)?;
    let keys = svc.keyset().map_err(|e| e.to_string())?;
    let proofs = vector_proofs(svc, &keys, &vector)?;
    let changes: Vec<Change> = svc
        .state
        .fed_full_state(&own)
        .map_err(err)?
        .into_iter()
        .filter(|c| peer.carries(c) && !about_itself(c, &peer.service_id))
        .map(|c| match c {
            Change::Cert { cert } => {
                message::self_endorsed(&keys, cert).map(|cert| Change::Cert { cert })
            }
            c => Ok(c),
        })
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let total = changes.len();
    tracing::info!(peer = %peer.name, records = total, "full sync to a federated site started");
    let sync_id: String = crate::crypto::random_secret().chars().take(22).collect();
    let size = svc.config.federation.sync_chunk_size.max(1);
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
        };
        let (status, answer) = send_timed(svc, peer, "_sync", body).await?;
        if status != 200 || answer["status"] != "ok" {
            return Err(format!(
                "full sync chunk {i} refused: HTTP {status} {answer}"
            ));
        }
        if i % 10 == 9 {
            tracing::info!(peer = %peer.name, sent = (i + 1) * size, of = total, "full sync progress");
        }
    }
    ack(svc, &peer.name, head, Some(epoch)).await?;
    svc.links.update(&peer.name, |s| {
        s.state = "ok";
        s.last_contact = Some(Instant::now());
        s.last_error = None;
    });
    tracing::info!(peer = %peer.name, records = total, "full sync to a federated site done");
    Ok(head)
}
