//! In-process tests of apply (harness in `tests`): bootstrap, tokens, refresh, pairing, key
//! rotation and trust, batches with expiry, restore.

use super::tests::{key_material, plain, record, user, Machine, SID};
use crate::crypto::{generate_key_material, KeyMaterial};
use crate::domain::token::{subject_for, PairingRecord};
use crate::domain::trust::TrustedCert;
use crate::raft::command::{Command, CommandResponse};

#[tokio::test]
async fn bootstrap_applies_once() {
    let mut m = Machine::new().await;
    let again = Command::Bootstrap {
        service_id: "jfac@other".into(),
        key: key_material().clone(),
        admin: user("root", true, &[]),
        format: crate::domain::version::FORMAT_VERSION,
    };
    assert_eq!(m.apply(again).await, CommandResponse::AlreadyBootstrapped);
    let view = m.sm.view();
    assert_eq!(view.service_id().unwrap().as_deref(), Some(SID));
    assert!(view.accounts().user("root").unwrap().is_none());
    assert!(view.accounts().user("admin").unwrap().unwrap().admin);
    assert_eq!(view.keyset().unwrap().service_id, SID);
}

#[tokio::test]
async fn issue_revoke_twice_and_unknown() {
    let mut m = Machine::new().await;
    let mut rec = plain("t1", "ci", 1_000, None);
    rec.reference_hash = Some("refhash".into());
    assert_eq!(
        m.apply(Command::IssueToken {
            record: rec.clone()
        })
        .await,
        CommandResponse::Issued
    );
    let view = m.sm.view();
    assert!(view.holds_token("t1").unwrap());
    assert_eq!(view.reference("refhash").unwrap().as_deref(), Some("t1"));
    let revoke = Command::RevokeToken {
        token_id: "t1".into(),
        revoked_at: 2_000,
    };
    assert_eq!(m.apply(revoke.clone()).await, CommandResponse::Revoked(rec));
    assert_eq!(m.apply(revoke).await, CommandResponse::AlreadyRevoked);
    assert!(!view.holds_token("t1").unwrap());
    assert!(view.reference("refhash").unwrap().is_none());
    assert_eq!(view.revocation("t1").unwrap().unwrap().revoked_at, 2_000);
    let unknown = Command::RevokeToken {
        token_id: "nope".into(),
        revoked_at: 2_000,
    };
    assert_eq!(m.apply(unknown).await, CommandResponse::NotFound);
}

#[tokio::test]
async fn refresh_is_conditional_and_idempotent() {
    let mut m = Machine::new().await;
    let mut old = record("old", "ci", 1_000);
    old.expiry = Some(2_000);
    m.apply(Command::IssueToken { record: old }).await;
    let refresh = |hash: &str, now: u64, new: &str| Command::RefreshToken {
        old_token_id: "old".into(),
        refresh_hash: hash.into(),
        now,
        grace_secs: 100,
        new_record: record(new, "ci", now),
    };
    // Wrong refresh token, then past expiry + grace: refused, nothing changes.
    assert!(matches!(
        m.apply(refresh("wrong", 1_500, "n1")).await,
        CommandResponse::RefreshRejected(_)
    ));
    assert!(matches!(
        m.apply(refresh("h", 2_101, "n1")).await,
        CommandResponse::RefreshRejected(_)
    ));
    // Within the grace period: the swap happens once; the same proposal again is a success
    // (a retried forward), another one is refused.
    assert_eq!(
        m.apply(refresh("h", 2_050, "n1")).await,
        CommandResponse::Refreshed
    );
    assert_eq!(
        m.apply(refresh("h", 2_050, "n1")).await,
        CommandResponse::Refreshed
    );
    assert!(matches!(
        m.apply(refresh("h", 2_050, "n2")).await,
        CommandResponse::RefreshRejected(_)
    ));
    let view = m.sm.view();
    assert!(view.holds_token("n1").unwrap());
    assert!(!view.holds_token("old").unwrap());
    assert!(view.revocation("old").unwrap().is_some());
}

#[tokio::test]
async fn pairing_tokens_work_once_and_expire() {
    let mut m = Machine::new().await;
    for (hash, expiry) in [("live", 5_000), ("stale", 1_500)] {
        let record = PairingRecord {
            token_id: hash.into(),
            username: "ci".into(),
            purpose: None,
            issued_at: 1_000,
            expiry,
        };
        let issue = Command::IssuePairing {
            hash: hash.into(),
            record,
        };
        assert_eq!(m.apply(issue).await, CommandResponse::Issued);
    }
    let consume = |hash: &str| Command::ConsumePairing {
        hash: hash.into(),
        now: 2_000,
    };
    assert!(matches!(
        m.apply(consume("live")).await,
        CommandResponse::Paired(_)
    ));
    assert!(matches!(
        m.apply(consume("live")).await,
        CommandResponse::PairingRejected(_)
    ));
    assert!(matches!(
        m.apply(consume("stale")).await,
        CommandResponse::PairingRejected(_)
    ));
    assert!(m.sm.view().pairing("stale").unwrap().is_none());
}

#[tokio::test]
async fn key_rotation_keeps_or_drops_old_keys_and_trust_changes() {
    let mut m = Machine::new().await;
    let first = key_material().clone();
    let second = generate_key_material(2048, SID, 2_000).unwrap();
    let rotate = |key: &KeyMaterial, keep_old: bool| Command::RotateKey {
        endorsement: None,
        key: key.clone(),
        keep_old,
    };
    assert_eq!(m.apply(rotate(&second, true)).await, CommandResponse::Ok);
    let view = m.sm.view();
    assert_eq!(view.active_key().unwrap().unwrap().kid, second.kid);
    assert_eq!(
        view.retired_certs().unwrap(),
        vec![first.certificate_pem.clone()]
    );
    assert_eq!(view.keyset().unwrap().active.kid, second.kid);
    // The applied notification carries the active key.
    let applied = m.sm.subscribe();
    assert_eq!(
        applied.borrow().active_key.as_ref().map(|k| k.kid.clone()),
        Some(second.kid.clone())
    );
    assert_eq!(m.apply(rotate(&first, false)).await, CommandResponse::Ok);
    assert!(view.retired_certs().unwrap().is_empty());

    let cert = TrustedCert {
        name: "west".into(),
        certificate_pem: second.certificate_pem.clone(),
        kid: second.kid.clone(),
        added_at: 3_000,
        service_id: "jfac@west".into(),
        federated: false,
        withdrawn: false,
    };
    assert_eq!(
        m.apply(Command::PutTrusted { cert }).await,
        CommandResponse::Ok
    );
    assert_eq!(view.trusted_certs().unwrap().len(), 1);
    assert!(view
        .keyset()
        .unwrap()
        .public_keys
        .iter()
        .any(|k| k.service_id == "jfac@west"));
    let remove = Command::RemoveTrusted {
        name: "west".into(),
    };
    assert_eq!(m.apply(remove.clone()).await, CommandResponse::Ok);
    assert_eq!(m.apply(remove).await, CommandResponse::NotFound);
}

#[tokio::test]
async fn batches_apply_each_command_and_expiry_drops_what_is_over() {
    let mut m = Machine::new().await;
    let batch = Command::Batch {
        commands: vec![
            Command::IssueToken {
                record: plain("short", "ci", 1_000, Some(1_100)),
            },
            Command::IssueToken {
                record: plain("long", "ci", 1_000, None),
            },
            Command::RevokeToken {
                token_id: "short".into(),
                revoked_at: 1_050,
            },
            Command::LoginFailed {
                keys: vec!["user:ci".into()],
                at_ms: 1_000_000,
                reset_after_secs: 900,
            },
        ],
    };
    match m.apply(batch).await {
        CommandResponse::Batch(r) => {
            assert_eq!(r.len(), 4);
            assert_eq!(r[0], CommandResponse::Issued);
            assert!(matches!(r[2], CommandResponse::Revoked(_)));
        }
        other => panic!("{other:?}"),
    }
    let view = m.sm.view();
    assert!(view.revocation("short").unwrap().is_some());
    let expire = Command::ExpireBefore {
        now: 5_000,
        grace_secs: 0,
        logins_before_ms: 2_000_000,
        from: None,
        limit: None,
    };
    assert_eq!(
        m.apply(expire).await,
        CommandResponse::Expired {
            tokens: 0,
            revocations: 1,
            next: None,
        }
    );
    assert!(view.revocation("short").unwrap().is_none());
    assert!(view.holds_token("long").unwrap());
    assert!(view.accounts().login_failures("user:ci").unwrap().is_none());
}

#[tokio::test]
async fn restore_chunks_replace_the_state_and_keep_raft_meta() {
    use crate::domain::backup::BackupRecord;
    use crate::store::backup::decode;
    use crate::store::trees::StateTree;

    // The source: a user, tokens, a revocation and a subject cut-off.
    let mut source = Machine::new().await;
    let bob = Command::PutUser {
        user: user("bob", false, &[]),
        create_only: true,
        at_ms: 0,
    };
    source.apply(bob).await;
    for id in ["t1", "t2", "t3"] {
        let issue = Command::IssueToken {
            record: record(id, "ci", 1_000),
        };
        source.apply(issue).await;
    }
    let revoke = Command::RevokeToken {
        token_id: "t2".into(),
        revoked_at: 1_500,
    };
    source.apply(revoke).await;
    let cut = Command::RevokeSubject {
        subject: subject_for(SID, "jenkins"),
        revoked_at: 1_700,
    };
    source.apply(cut).await;
    let (mut file, len) = source.sm.backup_source().read().await.unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes).unwrap();
    assert_eq!(bytes.len() as u64, len);
    let mut records = decode(&bytes).unwrap();
    // Raft's own keys never travel.
    assert!(!records
        .iter()
        .any(|r| r.tree == 0 && (r.key == b"last_applied" || r.key == b"membership")));

    // The target holds state of its own, all of which the restore replaces.
    let mut target = Machine::new().await;
    let stale = Command::PutUser {
        user: user("stale", false, &[]),
        create_only: true,
        at_ms: 0,
    };
    target.apply(stale).await;
    let stale_token = Command::IssueToken {
        record: record("stale-token", "x", 1_000),
    };
    target.apply(stale_token).await;
    // Records a proposer refuses are skipped by apply too: unknown trees and Raft's keys.
    records.push(BackupRecord {
        tree: 200,
        key: b"k".to_vec(),
        value: b"v".to_vec(),
    });
    records.push(BackupRecord {
        tree: StateTree::Meta.index() as u8,
        key: b"last_applied".to_vec(),
        value: b"null".to_vec(),
    });
    let total = records.len();
    let mut inserted = 0;
    for (i, chunk) in records.chunks(3).enumerate() {
        let r = target
            .apply(Command::RestoreChunk {
                first: i == 0,
                records: chunk.to_vec(),
            })
            .await;
        let CommandResponse::Restored(n) = r else {
            panic!("{r:?}")
        };
        inserted += n;
    }
    // Skipped: the unknown tree, Raft's key, and the cluster's format (the running cluster's own).
    assert_eq!(inserted as usize, total - 3);
    assert_eq!(
        target.sm.view().cluster_format().unwrap(),
        crate::domain::version::FORMAT_VERSION
    );
    let view = target.sm.view();
    assert!(view.accounts().user("stale").unwrap().is_none());
    assert!(view.accounts().user("bob").unwrap().is_some());
    assert!(view.token("stale-token").unwrap().is_none());
    assert!(view.holds_token("t1").unwrap());
    assert!(!view.holds_token("t2").unwrap());
    assert!(view.revocation("t2").unwrap().is_some());
    assert_eq!(view.service_id().unwrap().as_deref(), Some(SID));
    assert!(view.keyset().is_some());
    // The cut-offs were reloaded; the target's applied index is its own.
    assert_eq!(target.cut("jenkins"), Some(1_700));
    assert_eq!(
        view.last_applied().unwrap().map(|l| l.index),
        Some(target.next - 1)
    );
    assert!(!view.is_fresh().unwrap());
}

/// Behaviour that differs from releases before formats waits for the cluster's format: at
/// the first format a web session is journaled and a federated record's refresh applies, as
/// older nodes of the same cluster apply them; at format 2 neither.
#[tokio::test]
async fn behaviour_changes_wait_for_the_cluster_format() {
    use crate::domain::token::TokenKind;
    for (format, journaled, foreign_refresh) in [(1, 1, true), (2, 0, false)] {
        let mut m = Machine::bootstrapped(SID, format).await;
        // Changes are journaled only while there is a peer site.
        m.apply(super::federation_tests::peer("b", "jfac@b")).await;
        let head = |m: &Machine| m.sm.view().federation().fed_journal_range().unwrap().1;
        let before = head(&m);
        let mut session = plain("s1", "admin", 1_000, None);
        session.kind = TokenKind::Session;
        assert_eq!(
            m.apply(Command::IssueToken { record: session }).await,
            CommandResponse::Issued
        );
        assert_eq!(head(&m) - before, journaled, "format {format}");

        let mut foreign = record("f1", "ci", 1_000);
        foreign.issuer = "jfac@elsewhere".into();
        foreign.subject = subject_for("jfac@elsewhere", "ci");
        m.apply(Command::IssueToken { record: foreign }).await;
        let mut next = record("f2", "ci", 1_001);
        next.issuer = "jfac@elsewhere".into();
        let refreshed = m
            .apply(Command::RefreshToken {
                old_token_id: "f1".into(),
                refresh_hash: "h".into(),
                new_record: next,
                now: 1_001,
                grace_secs: 0,
            })
            .await;
        assert_eq!(
            refreshed == CommandResponse::Refreshed,
            foreign_refresh,
            "format {format}: {refreshed:?}"
        );
    }
}
