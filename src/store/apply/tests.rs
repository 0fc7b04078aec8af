//! In-process tests of apply: every command, the conditional ones included, on a temporary
//! sled, through the state machine's real `apply`. Here the harness (`Machine`), accounts and
//! cut-offs; bootstrap, tokens, pairing, keys, batches and restore in `command_tests`.

use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, Entry, EntryPayload};

use crate::crypto::{generate_key_material, KeyMaterial};
use crate::domain::accounts::{GroupRecord, UserRecord};
use crate::domain::token::{subject_for, PairingRecord, TokenKind, TokenRecord};
use crate::raft::command::{Command, CommandResponse};
use crate::raft::{LogId, TypeConfig};
use crate::store::StateMachine;

pub(super) const SID: &str = "jfac@unittest";

/// One RSA key for every test (generating one takes a while).
pub(super) fn key_material() -> &'static KeyMaterial {
    static KEY: std::sync::OnceLock<KeyMaterial> = std::sync::OnceLock::new();
    KEY.get_or_init(|| generate_key_material(2048, SID, 1_000).unwrap())
}

/// A state machine on a temporary sled, and the next log index to apply.
pub(super) struct Machine {
    pub(super) sm: StateMachine,
    pub(super) next: u64,
    _dir: tempfile::TempDir,
}

impl Machine {
    pub(super) async fn new() -> Machine {
        Self::with_service_id(SID).await
    }

    /// A machine bootstrapped as the site `sid`.
    pub(super) async fn with_service_id(sid: &str) -> Machine {
        Self::bootstrapped(sid, crate::domain::version::FORMAT_VERSION).await
    }

    /// A machine bootstrapped as the site `sid`, its cluster at `format`.
    pub(super) async fn bootstrapped(sid: &str, format: u32) -> Machine {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().temporary(true).open().unwrap();
        let mark = crate::store::format_mark::FormatMark::open(dir.path()).unwrap();
        let sm = StateMachine::open(
            &db,
            dir.path().join("snapshots"),
            0,
            std::sync::Arc::new(mark),
        )
        .unwrap();
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
                format,
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

    pub(super) fn cut(&self, name: &str) -> Option<u64> {
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
        disabled: false,
        scim: None,
    }
}

pub(super) fn record(id: &str, name: &str, issued_at: u64) -> TokenRecord {
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
            scim: None,
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
        disabled: None,
        scim: None,
        at,
        at_ms: 0,
    };
    assert_eq!(m.apply(update(true, 2_000)).await, CommandResponse::Ok);
    assert_eq!(m.cut("carol"), None, "promotion revokes nothing");
    assert_eq!(m.apply(update(false, 3_000)).await, CommandResponse::Ok);
    assert_eq!(m.cut("carol"), Some(3_000), "demotion revokes");
    let carol = m.sm.view().accounts().user("carol").unwrap().unwrap();
    assert_eq!(
        (carol.password_hash.as_deref(), carol.email.as_deref()),
        (Some("phc"), Some("c@x"))
    );
    let members = Command::UpdateGroupMembers {
        group: "ops".into(),
        add: vec!["carol".into(), "ghost".into()],
        remove: vec![],
        record: None,
        at_ms: 0,
    };
    assert_eq!(m.apply(members).await, CommandResponse::Ok);
    let members = Command::UpdateGroupMembers {
        group: "dev".into(),
        add: vec![],
        remove: vec!["carol".into()],
        record: None,
        at_ms: 0,
    };
    assert_eq!(m.apply(members).await, CommandResponse::Ok);
    let carol = m.sm.view().accounts().user("carol").unwrap().unwrap();
    assert_eq!(carol.groups, vec!["ops".to_string()]);
    let missing = Command::UpdateGroupMembers {
        group: "nope".into(),
        add: vec![],
        remove: vec![],
        record: None,
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
    let f = view
        .accounts()
        .login_failures("user:carol")
        .unwrap()
        .unwrap();
    assert_eq!((f.failures, f.last_failure_ms), (2, 11_000));
    m.apply(Command::LoginSucceeded {
        keys: vec!["user:carol".into()],
    })
    .await;
    assert!(view
        .accounts()
        .login_failures("user:carol")
        .unwrap()
        .is_none());
    assert!(view
        .accounts()
        .login_failures("addr:127.0.0.1")
        .unwrap()
        .is_some());
}

pub(super) fn plain(id: &str, name: &str, issued_at: u64, expiry: Option<u64>) -> TokenRecord {
    TokenRecord {
        refreshable: false,
        refresh_hash: None,
        expiry,
        ..record(id, name, issued_at)
    }
}
