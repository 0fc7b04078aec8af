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
