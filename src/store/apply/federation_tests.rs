//! In-process tests of federation apply: batches are taken in order only, a refused batch
//! writes nothing, duplicates from a second path are skipped, and sites that see the same
//! events in any interleaving end with the same digest.

use super::tests::Machine;
use crate::domain::federation::{Stamp, UserFields, UserState};
use crate::federation::protocol::{Change, Entity, JournalEntry, PeerSite};
use crate::raft::command::{Command, CommandResponse};

pub(super) fn peer(name: &str, sid: &str) -> Command {
    Command::FederationPeer {
        peer: PeerSite {
            name: name.into(),
            url: "http://127.0.0.1:1".into(),
            service_id: sid.into(),
            entities: Entity::ALL.to_vec(),
            active: false,
            exclude_users: vec![],
            created_at: 0,
        },
    }
}

/// Event `seq` of `origin`: user `name` with an email, stamped at `ms`.
pub(super) fn event(origin: &str, seq: u64, name: &str, ms: u64) -> JournalEntry {
    let stamp = Stamp {
        ms,
        n: 0,
        site: origin.into(),
    };
    let fields = UserFields {
        password_hash: None,
        email: Some(format!("{origin}-{seq}")),
        created_at: 1,
        disabled: false,
        scim: None,
    };
    JournalEntry {
        origin: origin.into(),
        seq,
        at_ms: ms,
        change: Change::User {
            name: name.into(),
            state: UserState::local_change(&[], Some(fields), Some(&[]), &stamp),
        },
        sig: None,
    }
}

pub(super) fn receive(from: &str, after: u64, upto: u64, events: Vec<JournalEntry>) -> Command {
    Command::FederationReceive {
        from: from.into(),
        peer: from.into(),
        after,
        upto,
        events,
        unsigned: vec![],
        times: Default::default(),
    }
}

pub(super) async fn site(sid: &str, peers: &[&str]) -> Machine {
    let mut m = Machine::with_service_id(sid).await;
    for p in peers {
        assert_eq!(m.apply(peer(p, p)).await, CommandResponse::Ok);
    }
    m
}

fn users(m: &Machine) -> usize {
    m.sm.view().accounts().users().unwrap().len()
}

#[tokio::test]
async fn batches_are_taken_in_order_and_a_replay_applies_nothing() {
    let mut east = site("jfac@east", &["jfac@west"]).await;
    let batch = vec![
        event("jfac@west", 1, "ann", 10),
        event("jfac@west", 2, "bob", 11),
    ];
    let ok = east.apply(receive("jfac@west", 0, 2, batch.clone())).await;
    assert_eq!(
        ok,
        CommandResponse::FedReceived {
            position: 2,
            refused: vec![]
        }
    );
    assert_eq!(users(&east), 3);
    // The same batch again, or one that skips ahead: refused, with where we stand.
    for (after, upto) in [(0, 2), (5, 7)] {
        let r = east
            .apply(receive("jfac@west", after, upto, batch.clone()))
            .await;
        assert_eq!(r, CommandResponse::FedOutOfOrder { position: 2 });
    }
    assert_eq!(users(&east), 3);
    assert_eq!(
        east.sm.view().federation().fed_vector().unwrap()["jfac@west"],
        2
    );
}

#[tokio::test]
async fn a_gap_refuses_the_whole_batch() {
    let mut east = site("jfac@east", &["jfac@west"]).await;
    let batch = vec![
        event("jfac@west", 1, "ann", 10),
        event("jfac@west", 3, "bob", 11),
    ];
    assert_eq!(
        east.apply(receive("jfac@west", 0, 2, batch)).await,
        CommandResponse::FedGap
    );
    assert_eq!(users(&east), 1, "nothing of a refused batch is applied");
    assert_eq!(
        east.sm
            .view()
            .federation()
            .fed_inbound("jfac@west")
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn an_event_arriving_by_two_paths_applies_once_and_is_forwarded_once() {
    let mut east = site("jfac@east", &["jfac@west", "jfac@north"]).await;
    let e = event("jfac@west", 1, "ann", 10);
    east.apply(receive("jfac@west", 0, 1, vec![e.clone()]))
        .await;
    east.apply(receive("jfac@north", 0, 1, vec![e])).await;
    let journal = east.sm.view().federation().fed_journal(0, 100).unwrap();
    assert_eq!(journal.len(), 1, "forwarded once: {journal:?}");
    // Our own events coming back are ignored.
    let echo = event("jfac@east", 1, "zed", 12);
    east.apply(receive("jfac@west", 1, 2, vec![echo])).await;
    assert!(east.sm.view().accounts().user("zed").unwrap().is_none());
}

/// Two origins' event streams delivered to two sites in random interleavings (each origin's
/// own order kept, as links keep it, some events twice): the same state at both.
#[tokio::test]
async fn any_interleaving_of_origins_converges() {
    let names = ["ann", "bob", "cid"];
    let stream = |origin: &str, offset: u64| -> Vec<JournalEntry> {
        (1..=12)
            .map(|i| {
                event(
                    origin,
                    i,
                    names[(i as usize + offset as usize) % 3],
                    i * 3 + offset,
                )
            })
            .collect()
    };
    let (x, y) = (stream("jfac@x", 0), stream("jfac@y", 1));
    let mut digests = Vec::new();
    for seed in [1u64, 7, 42, 1234] {
        let mut m = site("jfac@z", &["jfac@x", "jfac@y"]).await;
        let (mut i, mut j, mut rng) = (0usize, 0usize, seed);
        while i < x.len() || j < y.len() {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let take_x = j >= y.len() || (i < x.len() && (rng >> 40) % 2 == 0);
            let (from, list, k) = match take_x {
                true => ("jfac@x", &x, &mut i),
                false => ("jfac@y", &y, &mut j),
            };
            let n = 1 + (rng >> 50) as usize % 3;
            let end = (*k + n).min(list.len());
            // Resend one already-applied event in front of the batch: a duplicate.
            let start = k.saturating_sub(1);
            let r = m
                .apply(receive(
                    from,
                    *k as u64,
                    end as u64,
                    list[start..end].to_vec(),
                ))
                .await;
            assert_eq!(
                r,
                CommandResponse::FedReceived {
                    position: end as u64,
                    refused: vec![]
                }
            );
            *k = end;
        }
        let d =
            m.sm.view()
                .federation()
                .fed_digest("jfac@z", &["admin".to_string()])
                .unwrap();
        digests.push((d.digest, d.counts["users"]));
    }
    assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
    assert_eq!(digests[0].1, 3);
}

/// An event that reached us only as a skip (a link that did not carry it) is still taken
/// when its content arrives by another path, once, and relayed on.
#[tokio::test]
async fn a_skipped_event_is_taken_when_it_arrives_in_full_by_another_path() {
    let mut east = site("jfac@east", &["jfac@west", "jfac@north"]).await;
    let real = event("jfac@west", 1, "ann", 10);
    let skip = JournalEntry {
        change: Change::Skip,
        ..real.clone()
    };
    east.apply(receive("jfac@north", 0, 1, vec![skip])).await;
    assert!(east.sm.view().accounts().user("ann").unwrap().is_none());
    assert_eq!(
        east.sm.view().federation().fed_vector().unwrap()["jfac@west"],
        1
    );
    east.apply(receive("jfac@west", 0, 1, vec![real.clone()]))
        .await;
    assert!(
        east.sm.view().accounts().user("ann").unwrap().is_some(),
        "the hole filled"
    );
    let journal = east.sm.view().federation().fed_journal(0, 10).unwrap();
    assert_eq!(
        journal.len(),
        2,
        "the skip, then the real event: {journal:?}"
    );
    assert_eq!(journal[1].1.change, real.change);
    // A third copy finds no hole: applied once, journaled once.
    east.apply(receive("jfac@north", 1, 2, vec![real])).await;
    assert_eq!(
        east.sm
            .view()
            .federation()
            .fed_journal(0, 10)
            .unwrap()
            .len(),
        2
    );
}

/// What a link held for a peer's format adds up until a full sync, which leaves held only
/// what it could not send itself; acks and receives that carry newer changes need format 2.
#[tokio::test]
async fn held_changes_add_up_until_a_full_sync_replaces_them() {
    use crate::federation::protocol::Held;
    let mut m = site("jfac@a", &["b"]).await;
    let ack = |cursor, synced_epoch, held| Command::FederationAck {
        peer: "b".into(),
        cursor,
        synced_epoch,
        held,
    };
    let held = |format, count| Some(Held { format, count });
    let cursor = |m: &Machine| m.sm.view().federation().fed_cursor("b").unwrap();
    assert_eq!(m.apply(ack(3, None, held(2, 1))).await, CommandResponse::Ok);
    assert_eq!(m.apply(ack(5, None, None)).await, CommandResponse::Ok);
    assert_eq!(m.apply(ack(7, None, held(2, 2))).await, CommandResponse::Ok);
    assert_eq!(cursor(&m).held, held(2, 3));
    assert_eq!(cursor(&m).next, Some(7));
    assert_eq!(m.apply(ack(9, Some(0), None)).await, CommandResponse::Ok);
    assert_eq!(cursor(&m).held, None, "the sync sent everything");
    assert_eq!(
        m.apply(ack(9, Some(0), held(2, 4))).await,
        CommandResponse::Ok
    );
    assert_eq!(cursor(&m).held, held(2, 4), "what the sync itself left out");

    assert_eq!(ack(1, None, held(2, 1)).format_needed(), 2);
    assert_eq!(ack(1, None, None).format_needed(), 1);
    let plain = event("jfac@b", 1, "u", 10);
    assert_eq!(plain.change.format_needed(), 1);
    let mut disabled = plain.clone();
    if let Change::User { state, .. } = &mut disabled.change {
        state.fields.as_mut().unwrap().disabled = true;
    }
    assert_eq!(disabled.change.format_needed(), 2);
    assert_eq!(receive("b", 0, 1, vec![plain.clone()]).format_needed(), 1);
    assert_eq!(receive("b", 0, 2, vec![plain, disabled]).format_needed(), 2);
}

/// A receive proposed by a binary before formats names no entry: applied as those nodes
/// apply it (merged), the same on every node, instead of refused as from an unknown site.
#[tokio::test]
async fn a_receive_from_a_leader_before_formats_applies_as_it_did() {
    let mut m = site("jfac@a", &[]).await;
    let mut old_shape = receive("jfac@b", 0, 1, vec![event("jfac@b", 1, "u1", 10)]);
    if let Command::FederationReceive { peer, .. } = &mut old_shape {
        peer.clear();
    }
    assert!(matches!(
        m.apply(old_shape).await,
        CommandResponse::FedReceived { .. }
    ));
    assert!(m.sm.view().accounts().user("u1").unwrap().is_some());
    // Our own binaries name the entry: one from a site without an entry merges nothing.
    let named = receive("jfac@c", 0, 1, vec![event("jfac@c", 1, "u2", 10)]);
    m.apply(named).await;
    assert!(m.sm.view().accounts().user("u2").unwrap().is_none());
}
