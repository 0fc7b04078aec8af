//! The expiry index: after any run of applies it holds exactly the records' expiries, a sweep
//! by it drops exactly what a walk of every record drops, and a restore, a snapshot install
//! and an open of a data directory without it leave it whole.

use std::collections::BTreeSet;

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use proptest::prelude::*;
use tokio::io::AsyncWriteExt;

use super::tests::{plain, record, Machine};
use crate::domain::backup::BackupRecord;
use crate::raft::command::{Command, CommandResponse, SweepFrom};
use crate::store::due::{self, Due};
use crate::store::trees::StateTree;
use crate::store::StateMachine;

/// The index as the records say it should be.
fn expected(sm: &StateMachine) -> BTreeSet<Vec<u8>> {
    let trees = sm.inner.view.trees();
    let mut want = BTreeSet::new();
    for (tree, kind) in [
        (StateTree::Tokens, Due::Token),
        (StateTree::Revoked, Due::Revocation),
    ] {
        for item in trees.get(tree).iter() {
            let (id, value) = item.unwrap();
            if let Some(e) = due::expiry_of(&value) {
                want.insert(kind.key(e, std::str::from_utf8(&id).unwrap()));
            }
        }
    }
    want
}

/// The index as stored (its records, not its "built" mark).
fn stored(sm: &StateMachine) -> BTreeSet<Vec<u8>> {
    sm.inner
        .view
        .trees()
        .due()
        .iter()
        .keys()
        .map(|k| k.unwrap().to_vec())
        .filter(|k| Due::parse(k).is_some())
        .collect()
}

fn contents(sm: &StateMachine, tree: StateTree) -> Vec<(Vec<u8>, Vec<u8>)> {
    let t = sm.inner.view.trees().get(tree);
    t.iter()
        .map(|i| i.unwrap())
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

/// A whole sweep, slice by slice, starting at `from`; (tokens, revocations) dropped.
async fn sweep(m: &mut Machine, from: Option<SweepFrom>, now: u64, grace: u64, limit: u64) {
    let mut from = from;
    for _ in 0..200 {
        let r = m
            .apply(Command::ExpireBefore {
                now,
                grace_secs: grace,
                logins_before_ms: 0,
                from: from.clone(),
                limit: Some(limit),
            })
            .await;
        let CommandResponse::Expired { next, .. } = r else {
            panic!("{r:?}")
        };
        if next.is_none() {
            return;
        }
        from = next;
    }
    panic!("the sweep does not end");
}

#[derive(Debug, Clone)]
enum Op {
    Issue {
        id: u8,
        expiry: Option<u64>,
        refreshable: bool,
        reference: bool,
        revocable: bool,
    },
    Revoke(u8),
    Refresh {
        old: u8,
        new: u8,
        now: u64,
        expiry: Option<u64>,
    },
    Sweep {
        now: u64,
        grace: u64,
        limit: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let expiry = prop::option::of(1_000u64..1_010);
    prop_oneof![
        4 => (0u8..12, expiry.clone(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(id, expiry, refreshable, reference, revocable)| Op::Issue {
                id,
                expiry,
                refreshable,
                reference,
                revocable,
            }
        ),
        2 => (0u8..12).prop_map(Op::Revoke),
        1 => (0u8..12, 12u8..24, 998u64..1_012, expiry).prop_map(|(old, new, now, expiry)| {
            Op::Refresh { old, new, now, expiry }
        }),
        1 => (998u64..1_014, 0u64..4, 1u64..5).prop_map(|(now, grace, limit)| Op::Sweep {
            now,
            grace,
            limit
        }),
    ]
}

fn command(op: &Op) -> Option<Command> {
    let token = |id: u8, expiry: Option<u64>, refreshable: bool, reference: bool| {
        let mut r = plain(&format!("t{id}"), "ci", 990, expiry);
        r.refreshable = refreshable;
        r.refresh_hash = refreshable.then(|| format!("h{id}"));
        r.reference_hash = reference.then(|| format!("ref{id}"));
        r
    };
    Some(match op {
        Op::Issue {
            id,
            expiry,
            refreshable,
            reference,
            revocable,
        } => {
            let mut r = token(*id, *expiry, *refreshable, *reference);
            r.revocable = *revocable;
            Command::IssueToken { record: r }
        }
        Op::Revoke(id) => Command::RevokeToken {
            token_id: format!("t{id}"),
            revoked_at: 995,
        },
        Op::Refresh {
            old,
            new,
            now,
            expiry,
        } => Command::RefreshToken {
            old_token_id: format!("t{old}"),
            refresh_hash: format!("h{old}"),
            now: *now,
            grace_secs: 2,
            new_record: token(*new, *expiry, true, false),
        },
        Op::Sweep { .. } => return None,
    })
}

async fn run(ops: Vec<Op>) {
    // One machine sweeps by walking every record, the other by the index.
    let mut walked = Machine::new().await;
    let mut indexed = Machine::new().await;
    for op in &ops {
        match (command(op), op) {
            (Some(cmd), _) => {
                let a = walked.apply(cmd.clone()).await;
                let b = indexed.apply(cmd).await;
                assert_eq!(a, b, "{op:?}");
            }
            (None, Op::Sweep { now, grace, limit }) => {
                sweep(&mut walked, None, *now, *grace, *limit).await;
                sweep(
                    &mut indexed,
                    Some(SweepFrom::Due(None)),
                    *now,
                    *grace,
                    *limit,
                )
                .await;
            }
            (None, _) => unreachable!(),
        }
        for m in [&walked, &indexed] {
            assert_eq!(stored(&m.sm), expected(&m.sm), "after {op:?}");
        }
        for tree in [StateTree::Tokens, StateTree::Revoked, StateTree::Refs] {
            assert_eq!(
                contents(&walked.sm, tree),
                contents(&indexed.sm, tree),
                "{} after {op:?}",
                tree.name()
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Whatever was issued, revoked, refreshed and swept: the index is the records' expiries,
    /// and both ways of sweeping leave the same tokens, revocations and references.
    #[test]
    fn the_index_follows_the_records_and_both_sweeps_agree(ops in prop::collection::vec(op(), 1..40)) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(ops));
    }
}

#[tokio::test]
async fn a_sweep_by_the_index_looks_only_at_what_is_due() {
    let mut m = Machine::new().await;
    let mut commands = Vec::new();
    for i in 0..50 {
        commands.push(Command::IssueToken {
            record: plain(&format!("n{i:02}"), "ci", 990, None),
        });
    }
    commands.push(Command::IssueToken {
        record: plain("due", "ci", 990, Some(1_000)),
    });
    commands.push(Command::IssueToken {
        record: plain("later", "ci", 990, Some(9_000)),
    });
    m.apply(Command::Batch { commands }).await;
    // A slice of one record is enough: the 50 without an expiry are not in the index.
    let r = m
        .apply(Command::ExpireBefore {
            now: 1_001,
            grace_secs: 0,
            logins_before_ms: 0,
            from: Some(SweepFrom::Due(None)),
            limit: Some(1),
        })
        .await;
    let CommandResponse::Expired { tokens, next, .. } = r else {
        panic!("{r:?}")
    };
    assert_eq!(tokens, 1);
    let next = next.expect("the limit cut the slice short");
    let r = m
        .apply(Command::ExpireBefore {
            now: 1_001,
            grace_secs: 0,
            logins_before_ms: 0,
            from: Some(next),
            limit: Some(1),
        })
        .await;
    assert!(
        matches!(
            r,
            CommandResponse::Expired {
                tokens: 0,
                next: None,
                ..
            }
        ),
        "{r:?}"
    );
    let view = m.sm.view();
    assert!(!view.holds_token("due").unwrap());
    assert!(view.holds_token("later").unwrap() && view.holds_token("n00").unwrap());
    assert_eq!(stored(&m.sm), expected(&m.sm));
}

#[tokio::test]
async fn restore_install_and_open_leave_the_index_whole() {
    let mut source = Machine::new().await;
    let mut commands = Vec::new();
    for i in 0..6u64 {
        let mut r = record(&format!("s{i}"), "ci", 990);
        r.expiry = (i % 3 != 0).then_some(1_000 + i);
        commands.push(Command::IssueToken { record: r });
    }
    commands.push(Command::RevokeToken {
        token_id: "s1".into(),
        revoked_at: 995,
    });
    source.apply(Command::Batch { commands }).await;
    assert_eq!(stored(&source.sm), expected(&source.sm));
    assert_eq!(stored(&source.sm).len(), 4, "3 tokens and 1 revocation");

    // A restore of the source's tokens and revocations over a machine with others.
    let mut target = Machine::new().await;
    target
        .apply(Command::IssueToken {
            record: plain("old", "ci", 990, Some(1_003)),
        })
        .await;
    let mut records = Vec::new();
    for tree in [StateTree::Tokens, StateTree::Revoked] {
        for (key, value) in contents(&source.sm, tree) {
            records.push(BackupRecord {
                tree: tree.index() as u8,
                key,
                value,
            });
        }
    }
    for (i, chunk) in records.chunks(2).enumerate() {
        let r = target
            .apply(Command::RestoreChunk {
                first: i == 0,
                records: chunk.to_vec(),
            })
            .await;
        assert!(matches!(r, CommandResponse::Restored(_)), "{r:?}");
    }
    assert_eq!(stored(&target.sm), expected(&target.sm));
    assert_eq!(stored(&target.sm), stored(&source.sm));
    assert!(due::is_built(target.sm.inner.view.trees()).unwrap());

    // A snapshot of the source installed over a machine with other records.
    let mut other = Machine::new().await;
    other
        .apply(Command::IssueToken {
            record: plain("gone", "ci", 990, Some(1_002)),
        })
        .await;
    let snap = source
        .sm
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    let mut from = snap.snapshot;
    let mut into = other.sm.begin_receiving_snapshot().await.unwrap();
    let mut bytes = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut *from, &mut bytes)
        .await
        .unwrap();
    into.write_all(&bytes).await.unwrap();
    other.sm.install_snapshot(&snap.meta, into).await.unwrap();
    assert_eq!(stored(&other.sm), stored(&source.sm));
    assert!(due::is_built(other.sm.inner.view.trees()).unwrap());

    // A data directory without the index (or with a build cut short) builds it on open.
    let trees = source.sm.inner.view.trees().clone();
    trees.due().clear().unwrap();
    trees
        .due()
        .insert(Due::Token.key(1, "stale"), vec![])
        .unwrap();
    let db = source.sm.inner.db.clone();
    let dir = tempfile::tempdir().unwrap();
    let mark = crate::store::format_mark::FormatMark::open(dir.path()).unwrap();
    let reopened =
        StateMachine::open(&db, dir.path().join("s"), 0, std::sync::Arc::new(mark)).unwrap();
    assert_eq!(stored(&reopened), expected(&reopened));
    assert_eq!(stored(&reopened).len(), 4);
}

#[test]
fn only_a_cluster_whose_nodes_keep_the_index_sweeps_by_it() {
    let sweep = |from| Command::ExpireBefore {
        now: 1,
        grace_secs: 0,
        logins_before_ms: 0,
        from,
        limit: Some(1),
    };
    assert_eq!(sweep(Some(SweepFrom::Due(None))).format_needed(), 2);
    assert_eq!(
        sweep(Some(SweepFrom::Due(Some(vec![b't'])))).format_needed(),
        2
    );
    assert_eq!(sweep(None).format_needed(), 1);
    assert_eq!(sweep(Some(SweepFrom::Revocations(None))).format_needed(), 1);
}
