//! Applying account commands: users and groups, group membership, subject revocation and
//! login failures.

use super::{tx_get, tx_put, Tx, TxResult};
use crate::domain::throttle::{record_failure, LoginFailures};
use crate::domain::token::subject_for;
use crate::raft::command::{CommandResponse, GroupRecord, UserRecord};
use crate::store::trees::key::SERVICE_ID;
use crate::store::trees::StateTree::{Groups, Logins, Meta, Subjects, Users};

/// Whether tokens of `subject` issued at `issued_at` are revoked by a subject cut-off.
pub(super) fn subject_cut_off(tx: &Tx<'_>, subject: &str, issued_at: u64) -> TxResult<bool> {
    let cut: Option<u64> = tx_get(tx.t(Subjects), subject.as_bytes())?;
    Ok(cut.is_some_and(|c| issued_at <= c))
}

/// The same for a local user name.
pub(super) fn user_cut_off(tx: &Tx<'_>, username: &str, issued_at: u64) -> TxResult<bool> {
    match local_subject(tx, username)? {
        Some(subject) => subject_cut_off(tx, &subject, issued_at),
        None => Ok(false),
    }
}

fn local_subject(tx: &Tx<'_>, username: &str) -> TxResult<Option<String>> {
    let service_id: Option<String> = tx_get(tx.t(Meta), SERVICE_ID)?;
    Ok(service_id.map(|sid| subject_for(&sid, username)))
}

/// Move the subject's cut-off forward to `at` (never back).
pub(super) fn revoke_subject(tx: &Tx<'_>, subject: &str, at: u64) -> TxResult<CommandResponse> {
    let cut: Option<u64> = tx_get(tx.t(Subjects), subject.as_bytes())?;
    tx_put(
        tx.t(Subjects),
        subject.as_bytes(),
        &cut.unwrap_or(0).max(at),
    )?;
    Ok(CommandResponse::Ok)
}

fn revoke_user(tx: &Tx<'_>, username: &str, at: u64) -> TxResult<()> {
    if let Some(subject) = local_subject(tx, username)? {
        revoke_subject(tx, &subject, at)?;
    }
    Ok(())
}

/// Create (or, unless `create_only`, replace) a user. Re-proposing the same record is a
/// success, so a retried write is idempotent.
pub(super) fn put_user(
    tx: &Tx<'_>,
    user: &UserRecord,
    create_only: bool,
) -> TxResult<CommandResponse> {
    let existing: Option<UserRecord> = tx_get(tx.t(Users), user.username.as_bytes())?;
    if create_only && existing.as_ref().is_some_and(|e| e != user) {
        return Ok(CommandResponse::Conflict);
    }
    tx_put(tx.t(Users), user.username.as_bytes(), user)?;
    Ok(CommandResponse::Ok)
}

/// Remove the user and revoke every token of its subject issued until `revoked_at`.
pub(super) fn delete_user(
    tx: &Tx<'_>,
    username: &str,
    revoked_at: u64,
) -> TxResult<CommandResponse> {
    match tx.t(Users).remove(username.as_bytes())? {
        Some(_) => {
            revoke_user(tx, username, revoked_at)?;
            Ok(CommandResponse::Ok)
        }
        None => Ok(CommandResponse::NotFound),
    }
}

/// The fields an update may change (None = unchanged).
pub(super) struct UserFields<'a> {
    pub password_hash: &'a Option<String>,
    pub email: &'a Option<Option<String>>,
    pub admin: Option<bool>,
    pub groups: &'a Option<Vec<String>>,
}

/// Change the given fields; taking admin away revokes the user's tokens issued until `at`.
pub(super) fn update_user(
    tx: &Tx<'_>,
    username: &str,
    fields: UserFields<'_>,
    at: u64,
) -> TxResult<CommandResponse> {
    let Some(mut user) = tx_get::<UserRecord>(tx.t(Users), username.as_bytes())? else {
        return Ok(CommandResponse::NotFound);
    };
    if let Some(hash) = fields.password_hash {
        user.password_hash = Some(hash.clone());
    }
    if let Some(email) = fields.email {
        user.email = email.clone();
    }
    if let Some(groups) = fields.groups {
        user.groups = groups.clone();
    }
    if let Some(admin) = fields.admin {
        if user.admin && !admin {
            revoke_user(tx, username, at)?;
        }
        user.admin = admin;
    }
    tx_put(tx.t(Users), username.as_bytes(), &user)?;
    Ok(CommandResponse::Ok)
}

/// Add users to and remove users from a group (missing users are skipped).
pub(super) fn update_group_members(
    tx: &Tx<'_>,
    group: &str,
    add: &[String],
    remove: &[String],
) -> TxResult<CommandResponse> {
    if tx.t(Groups).get(group.as_bytes())?.is_none() {
        return Ok(CommandResponse::NotFound);
    }
    let mut names: Vec<&String> = add.iter().chain(remove).collect();
    names.sort();
    names.dedup();
    for name in names {
        let Some(mut user) = tx_get::<UserRecord>(tx.t(Users), name.as_bytes())? else {
            continue;
        };
        user.groups.retain(|g| g != group || !remove.contains(name));
        if add.contains(name) && !user.groups.iter().any(|g| g == group) {
            user.groups.push(group.to_string());
        }
        tx_put(tx.t(Users), name.as_bytes(), &user)?;
    }
    Ok(CommandResponse::Ok)
}

pub(super) fn put_group(
    tx: &Tx<'_>,
    group: &GroupRecord,
    create_only: bool,
) -> TxResult<CommandResponse> {
    let existing: Option<GroupRecord> = tx_get(tx.t(Groups), group.name.as_bytes())?;
    if create_only && existing.as_ref().is_some_and(|e| e != group) {
        return Ok(CommandResponse::Conflict);
    }
    tx_put(tx.t(Groups), group.name.as_bytes(), group)?;
    Ok(CommandResponse::Ok)
}

pub(super) fn delete_group(tx: &Tx<'_>, name: &str) -> TxResult<CommandResponse> {
    Ok(match tx.t(Groups).remove(name.as_bytes())? {
        Some(_) => CommandResponse::Ok,
        None => CommandResponse::NotFound,
    })
}

/// Count one more failed login under each key.
pub(super) fn login_failed(
    tx: &Tx<'_>,
    keys: &[String],
    at_ms: u64,
    reset_after_secs: u64,
) -> TxResult<CommandResponse> {
    for key in keys {
        let rec: Option<LoginFailures> = tx_get(tx.t(Logins), key.as_bytes())?;
        tx_put(
            tx.t(Logins),
            key.as_bytes(),
            &record_failure(rec, at_ms, reset_after_secs),
        )?;
    }
    Ok(CommandResponse::Ok)
}

pub(super) fn login_succeeded(tx: &Tx<'_>, keys: &[String]) -> TxResult<CommandResponse> {
    for key in keys {
        tx.t(Logins).remove(key.as_bytes())?;
    }
    Ok(CommandResponse::Ok)
}

#[cfg(test)]
mod tests {
    use openraft::storage::RaftStateMachine;
    use openraft::{CommittedLeaderId, Entry, EntryPayload};

    use crate::crypto::generate_key_material;
    use crate::domain::token::{subject_for, TokenKind, TokenRecord};
    use crate::raft::command::{Command, CommandResponse, GroupRecord, PairingRecord, UserRecord};
    use crate::raft::{LogId, TypeConfig};
    use crate::store::StateMachine;

    const SID: &str = "jfac@unittest";

    /// A state machine on a temporary sled, and the next log index to apply.
    struct Machine {
        sm: StateMachine,
        next: u64,
        _dir: tempfile::TempDir,
    }

    impl Machine {
        async fn new() -> Machine {
            let dir = tempfile::tempdir().unwrap();
            let db = sled::Config::new().temporary(true).open().unwrap();
            let sm = StateMachine::open(&db, dir.path().join("snapshots"), 0).unwrap();
            let mut m = Machine {
                sm,
                next: 1,
                _dir: dir,
            };
            let key = generate_key_material(2048, SID, 1_000).unwrap();
            let admin = user("admin", true, &[]);
            let r = m
                .apply(Command::Bootstrap {
                    service_id: SID.into(),
                    key,
                    admin,
                })
                .await;
            assert_eq!(r, CommandResponse::Bootstrapped);
            m
        }

        async fn apply(&mut self, cmd: Command) -> CommandResponse {
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

    fn user(name: &str, admin: bool, groups: &[&str]) -> UserRecord {
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
        };
        assert_eq!(m.apply(put).await, CommandResponse::Ok);
        assert_eq!(m.cut("bob"), None);
        let delete = Command::DeleteUser {
            username: "bob".into(),
            revoked_at: 2_000,
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
            })
            .await;
        }
        m.apply(Command::PutUser {
            user: user("carol", false, &["dev"]),
            create_only: true,
        })
        .await;
        let update = |admin: bool, at: u64| Command::UpdateUser {
            username: "carol".into(),
            password_hash: Some("phc".into()),
            email: Some(Some("c@x".into())),
            admin: Some(admin),
            groups: None,
            at,
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
        };
        assert_eq!(m.apply(members).await, CommandResponse::Ok);
        let members = Command::UpdateGroupMembers {
            group: "dev".into(),
            add: vec![],
            remove: vec!["carol".into()],
        };
        assert_eq!(m.apply(members).await, CommandResponse::Ok);
        let carol = m.sm.view().user("carol").unwrap().unwrap();
        assert_eq!(carol.groups, vec!["ops".to_string()]);
        let missing = Command::UpdateGroupMembers {
            group: "nope".into(),
            add: vec![],
            remove: vec![],
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
}
