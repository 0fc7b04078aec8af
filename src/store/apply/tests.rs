//! In-process tests of apply: every command, the conditional ones included, on a temporary
//! sled, through the state machine's real `apply`.

use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, Entry, EntryPayload};

use crate::crypto::{generate_key_material, KeyMaterial};
use crate::domain::accounts::{GroupRecord, UserRecord};
use crate::domain::token::{subject_for, PairingRecord, TokenKind, TokenRecord};
use crate::domain::trust::TrustedCert;
use crate::raft::command::{Command, CommandResponse};
use crate::raft::{LogId, TypeConfig};
use crate::store::StateMachine;

pub(super) const SID: &str = "jfac@unittest";

/// One RSA key for every test (generating one takes a while).
fn key_material() -> &'static KeyMaterial {
    static KEY: std::sync::OnceLock<KeyMaterial> = std::sync::OnceLock::new();
    KEY.get_or_init(|| generate_key_material(2048, SID, 1_000).unwrap())
}

/// A state machine on a temporary sled, and the next log index to apply.
pub(super) struct Machine {
    pub(super) sm: StateMachine,
    next: u64,
    _dir: tempfile::TempDir,
}

impl Machine {
    pub(super) async fn new() -> Machine {
        Self::with_service_id(SID).await
    }

    /// A machine bootstrapped as the site `sid`.
    pub(super) async fn with_service_id(sid: &str) -> Machine {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().temporary(true).open().unwrap();
        let sm = StateMachine::open(&db, dir.path().join("snapshots"), 0).unwrap();
        let mut m = Machine {
            sm,
            next: 1,
            _dir: dir,
        };
        let key = key_material().clone();
        let admin = user("admin", true, &[]);
        let r = m
            .apply(Command::Bootstrap {
                service_id: sid.into(),
                key,
                admin,
            })
            .await;
        assert_eq!(r, CommandResponse::Bootstrapped);
        m
    }

    pub(super) async fn apply(&mut self, cmd: Command) -> CommandResponse {
        let entry = Entry::<TypeConfig> {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), self.next),
            payload: EntryPayload::Normal(cmd),
        };
        self.next += 1;
        self.sm.apply(vec![entry]).await.unwrap().remove(0)
    }

    fn cut(&self, name: &str) -> Option<u64> {
        self.sm
            .view()
            .subject_revoked_at(&subject_for(SID, name))
            .unwrap()
    }
}

pub(super) fn user(name: &str, admin: bool, groups: &[&str]) -> UserRecord {
    UserRecord {
        username: name.into(),
        password_hash: None,
        email: None,
        admin,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        created_at: 1_000,
    }
}

fn record(id: &str, name: &str, issued_at: u64) -> TokenRecord {
    TokenRecord {
        token_id: id.into(),
        username: name.into(),
        subject: subject_for(SID, name),
        scope: "applied-permissions/user".into(),
        audience: "*@*".into(),
        issuer: SID.into(),
        issued_at,
        expiry: None,
        revocable: true,
        refreshable: true,
        refresh_hash: Some("h".into()),
        description: None,
        kind: TokenKind::Access,
        reference_hash: None,
    }
}

#[tokio::test]
async fn deleting_a_user_and_revoking_a_subject_set_cut_offs_that_only_move_forward() {
    let mut m = Machine::new().await;
    let put = Command::PutUser {
        user: user("bob", false, &[]),
        create_only: true,
        at_ms: 0,
    };
    assert_eq!(m.apply(put).await, CommandResponse::Ok);
    assert_eq!(m.cut("bob"), None);
    let delete = Command::DeleteUser {
        username: "bob".into(),
        revoked_at: 2_000,
        at_ms: 0,
    };
    assert_eq!(m.apply(delete.clone()).await, CommandResponse::Ok);
    assert_eq!(m.cut("bob"), Some(2_000));
    assert_eq!(m.apply(delete).await, CommandResponse::NotFound);
    for (at, expect) in [(1_500, 2_000), (3_000, 3_000)] {
        let revoke = Command::RevokeSubject {
            subject: subject_for(SID, "bob"),
            revoked_at: at,
        };
        assert_eq!(m.apply(revoke).await, CommandResponse::Ok);
        assert_eq!(m.cut("bob"), Some(expect));
    }
}

#[tokio::test]
async fn refresh_and_pairing_use_respect_the_cut_off() {
    let mut m = Machine::new().await;
    for (id, issued) in [("old", 1_000), ("new", 5_000)] {
        let issue = Command::IssueToken {
            record: record(id, "ci", issued),
        };
        assert_eq!(m.apply(issue).await, CommandResponse::Issued);
    }
    let revoke = Command::RevokeSubject {
        subject: subject_for(SID, "ci"),
        revoked_at: 2_000,
    };
    m.apply(revoke).await;
    let refresh = |old: &str, new: &str| Command::RefreshToken {
        old_token_id: old.into(),
        refresh_hash: "h".into(),
        now: 6_000,
        grace_secs: 0,
        new_record: record(new, "ci", 6_000),
    };
    assert!(matches!(
        m.apply(refresh("old", "old2")).await,
        CommandResponse::RefreshRejected(_)
    ));
    assert_eq!(
        m.apply(refresh("new", "new2")).await,
        CommandResponse::Refreshed
    );
    for (hash, issued_at, paired) in [("p1", 1_500, false), ("p2", 2_500, true)] {
        let pairing = PairingRecord {
            token_id: hash.into(),
            username: "ci".into(),
            purpose: None,
            issued_at,
            expiry: 9_000,
        };
        m.apply(Command::IssuePairing {
            hash: hash.into(),
            record: pairing,
        })
        .await;
        let used = m
            .apply(Command::ConsumePairing {
                hash: hash.into(),
                now: 3_000,
            })
            .await;
        assert_eq!(
            matches!(used, CommandResponse::Paired(_)),
            paired,
            "{used:?}"
        );
    }
}

#[tokio::test]
async fn user_updates_group_members_and_login_failures() {
    let mut m = Machine::new().await;
    for g in ["dev", "ops"] {
        let group = GroupRecord {
            name: g.into(),
            description: None,
            created_at: 1_000,
        };
        m.apply(Command::PutGroup {
            group,
            create_only: true,
            at_ms: 0,
        })
        .await;
    }
    m.apply(Command::PutUser {
        user: user("carol", false, &["dev"]),
        create_only: true,
        at_ms: 0,
    })
    .await;
    let update = |admin: bool, at: u64| Command::UpdateUser {
        username: "carol".into(),
        password_hash: Some("phc".into()),
        email: Some(Some("c@x".into())),
        admin: Some(admin),
        groups: None,
        at,
        at_ms: 0,
    };
    assert_eq!(m.apply(update(true, 2_000)).await, CommandResponse::Ok);
    assert_eq!(m.cut("carol"), None, "promotion revokes nothing");
    assert_eq!(m.apply(update(false, 3_000)).await, CommandResponse::Ok);
    assert_eq!(m.cut("carol"), Some(3_000), "demotion revokes");
    let carol = m.sm.view().user("carol").unwrap().unwrap();
    assert_eq!(
        (carol.password_hash.as_deref(), carol.email.as_deref()),
        (Some("phc"), Some("c@x"))
    );
    let members = Command::UpdateGroupMembers {
        group: "ops".into(),
        add: vec!["carol".into(), "ghost".into()],
        remove: vec![],
        at_ms: 0,
    };
    assert_eq!(m.apply(members).await, CommandResponse::Ok);
    let members = Command::UpdateGroupMembers {
        group: "dev".into(),
        add: vec![],
        remove: vec!["carol".into()],
        at_ms: 0,
    };
    assert_eq!(m.apply(members).await, CommandResponse::Ok);
    let carol = m.sm.view().user("carol").unwrap().unwrap();
    assert_eq!(carol.groups, vec!["ops".to_string()]);
    let missing = Command::UpdateGroupMembers {
        group: "nope".into(),
        add: vec![],
        remove: vec![],
        at_ms: 0,
    };
    assert_eq!(m.apply(missing).await, CommandResponse::NotFound);

    let keys = vec!["user:carol".to_string(), "addr:127.0.0.1".to_string()];
    for at_ms in [10_000, 11_000] {
        m.apply(Command::LoginFailed {
            keys: keys.clone(),
            at_ms,
            reset_after_secs: 900,
        })
        .await;
    }
    let view = m.sm.view();
    let f = view.login_failures("user:carol").unwrap().unwrap();
    assert_eq!((f.failures, f.last_failure_ms), (2, 11_000));
    m.apply(Command::LoginSucceeded {
        keys: vec!["user:carol".into()],
    })
    .await;
    assert!(view.login_failures("user:carol").unwrap().is_none());
    assert!(view.login_failures("addr:127.0.0.1").unwrap().is_some());
}

pub(super) fn plain(id: &str, name: &str, issued_at: u64, expiry: Option<u64>) -> TokenRecord {
    TokenRecord {
        refreshable: false,
        refresh_hash: None,
        expiry,
        ..record(id, name, issued_at)
    }
}

#[tokio::test]
async fn bootstrap_applies_once() {
    let mut m = Machine::new().await;
    let again = Command::Bootstrap {
        service_id: "jfac@other".into(),
        key: key_material().clone(),
        admin: user("root", true, &[]),
    };
    assert_eq!(m.apply(again).await, CommandResponse::AlreadyBootstrapped);
    let view = m.sm.view();
    assert_eq!(view.service_id().unwrap().as_deref(), Some(SID));
    assert!(view.user("root").unwrap().is_none());
    assert!(view.user("admin").unwrap().unwrap().admin);
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
    assert!(view.login_failures("user:ci").unwrap().is_none());
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
    assert_eq!(inserted as usize, total - 2);
    let view = target.sm.view();
    assert!(view.user("stale").unwrap().is_none());
    assert!(view.user("bob").unwrap().is_some());
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
