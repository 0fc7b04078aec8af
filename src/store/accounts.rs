//! Applying the account commands: users, group membership, subject revocation and login
//! failures. Deterministic: each depends only on the command and the state before it.

use super::state::{tx_get, tx_put, Tx, TxResult, SERVICE_ID};
use crate::domain::throttle::{record_failure, LoginFailures};
use crate::domain::token::subject_for;
use crate::raft::command::{Command, CommandResponse, UserRecord};

impl Tx<'_> {
    /// Whether tokens of `subject` issued at `issued_at` are revoked by a subject cut-off.
    pub(super) fn subject_cut_off(&self, subject: &str, issued_at: u64) -> TxResult<bool> {
        let cut: Option<u64> = tx_get(&self.subjects, subject.as_bytes())?;
        Ok(cut.is_some_and(|c| issued_at <= c))
    }

    /// The same for a local user name.
    pub(super) fn user_cut_off(&self, username: &str, issued_at: u64) -> TxResult<bool> {
        match self.local_subject(username)? {
            Some(subject) => self.subject_cut_off(&subject, issued_at),
            None => Ok(false),
        }
    }

    fn local_subject(&self, username: &str) -> TxResult<Option<String>> {
        let service_id: Option<String> = tx_get(&self.meta, SERVICE_ID)?;
        Ok(service_id.map(|sid| subject_for(&sid, username)))
    }

    /// Move the subject's cut-off forward to `at` (never back).
    fn revoke_subject(&self, subject: &str, at: u64) -> TxResult<()> {
        let cut: Option<u64> = tx_get(&self.subjects, subject.as_bytes())?;
        tx_put(
            &self.subjects,
            subject.as_bytes(),
            &cut.unwrap_or(0).max(at),
        )
    }

    fn revoke_user(&self, username: &str, at: u64) -> TxResult<()> {
        match self.local_subject(username)? {
            Some(subject) => self.revoke_subject(&subject, at),
            None => Ok(()),
        }
    }

    pub(super) fn apply_account(&self, cmd: &Command) -> TxResult<CommandResponse> {
        Ok(match cmd {
            Command::DeleteUser {
                username,
                revoked_at,
            } => match self.users.remove(username.as_bytes())? {
                Some(_) => {
                    self.revoke_user(username, *revoked_at)?;
                    CommandResponse::Ok
                }
                None => CommandResponse::NotFound,
            },
            Command::UpdateUser {
                username,
                password_hash,
                email,
                admin,
                groups,
                at,
            } => {
                let Some(mut user) = tx_get::<UserRecord>(&self.users, username.as_bytes())? else {
                    return Ok(CommandResponse::NotFound);
                };
                if let Some(hash) = password_hash {
                    user.password_hash = Some(hash.clone());
                }
                if let Some(email) = email {
                    user.email = email.clone();
                }
                if let Some(groups) = groups {
                    user.groups = groups.clone();
                }
                if let Some(admin) = *admin {
                    if user.admin && !admin {
                        self.revoke_user(username, *at)?;
                    }
                    user.admin = admin;
                }
                tx_put(&self.users, username.as_bytes(), &user)?;
                CommandResponse::Ok
            }
            Command::UpdateGroupMembers { group, add, remove } => {
                if self.groups.get(group.as_bytes())?.is_none() {
                    return Ok(CommandResponse::NotFound);
                }
                let mut names: Vec<&String> = add.iter().chain(remove).collect();
                names.sort();
                names.dedup();
                for name in names {
                    let Some(mut user) = tx_get::<UserRecord>(&self.users, name.as_bytes())? else {
                        continue;
                    };
                    user.groups.retain(|g| g != group || !remove.contains(name));
                    if add.contains(name) && !user.groups.contains(group) {
                        user.groups.push(group.clone());
                    }
                    tx_put(&self.users, name.as_bytes(), &user)?;
                }
                CommandResponse::Ok
            }
            Command::RevokeSubject {
                subject,
                revoked_at,
            } => {
                self.revoke_subject(subject, *revoked_at)?;
                CommandResponse::Ok
            }
            Command::LoginFailed {
                keys,
                at_ms,
                reset_after_secs,
            } => {
                for key in keys {
                    let rec: Option<LoginFailures> = tx_get(&self.logins, key.as_bytes())?;
                    let next = record_failure(rec, *at_ms, *reset_after_secs);
                    tx_put(&self.logins, key.as_bytes(), &next)?;
                }
                CommandResponse::Ok
            }
            Command::LoginSucceeded { keys } => {
                for key in keys {
                    self.logins.remove(key.as_bytes())?;
                }
                CommandResponse::Ok
            }
            other => {
                return Err(sled::transaction::ConflictableTransactionError::Abort(
                    format!("not an account command: {}", other.kind()),
                ))
            }
        })
    }
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
