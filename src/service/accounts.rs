//! Users and groups, group membership, password changes and subject revocation: every
//! change a log entry whose hashes and times the proposing node decides.

use std::sync::Arc;

use super::clock::ClusterClock;
use super::login_audit::{AuditedLogins, LoginKind};
use super::writes::Writes;
use super::{check_name, now_secs, own_service_id, ServiceError, ServiceResult};
use crate::config::Config;
use crate::crypto::hash_password;
use crate::domain::accounts::{ScimUser, UserRecord};
use crate::domain::policy::{is_local_user, PolicyError, Principal};
use crate::domain::token::subject_for;
use crate::raft::command::{Command, CommandResponse};
use crate::store::StateView;
use crate::telemetry::audit::Event;

/// A new user (`POST /access/api/v2/users`).
#[derive(Debug)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    pub admin: bool,
    pub groups: Vec<String>,
}

/// What an admin may change of a user (`PATCH /access/api/v2/users/{name}`).
#[derive(Debug, Default)]
pub struct UserChange {
    pub password: Option<String>,
    pub email: Option<Option<String>>,
    pub admin: Option<bool>,
    pub groups: Option<Vec<String>>,
    /// Disable (deprovision) or enable the user.
    pub disabled: Option<bool>,
    /// What an identity provider manages of the user (SCIM).
    pub scim: Option<ScimUser>,
}

pub fn check_password(password: &str) -> ServiceResult<()> {
    if password.len() < 8 || password.len() > 1024 {
        return Err(ServiceError::invalid(
            "password must be 8 to 1024 characters",
        ));
    }
    Ok(())
}

fn check_email(email: Option<&str>) -> ServiceResult<()> {
    match email {
        Some(e) if !crate::domain::names::valid_email(e) => Err(ServiceError::invalid(format!(
            "'{}' is not an e-mail address",
            e.escape_debug()
        ))),
        _ => Ok(()),
    }
}

pub(super) async fn hash_off_thread(password: String) -> ServiceResult<String> {
    Ok(
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??,
    )
}

/// Users and groups, passwords and password logins.
pub struct Accounts {
    pub(super) config: Arc<Config>,
    pub(super) state: StateView,
    pub(super) writes: Arc<Writes>,
    pub(super) clock: Arc<ClusterClock>,
    /// Successful password logins of API clients already in the audit trail.
    pub(super) audited_logins: AuditedLogins,
}

impl Accounts {
    pub fn new(
        config: Arc<Config>,
        state: StateView,
        writes: Arc<Writes>,
        clock: Arc<ClusterClock>,
    ) -> Accounts {
        Accounts {
            audited_logins: AuditedLogins::new(config.audit.login_success_window_secs),
            config,
            state,
            writes,
            clock,
        }
    }
}

impl Accounts {
    pub async fn create_user(&self, new: NewUser) -> ServiceResult<UserRecord> {
        check_name("username", &new.username)?;
        check_password(&new.password)?;
        check_email(new.email.as_deref())?;
        self.check_groups_exist(&new.groups).await?;
        let user = UserRecord {
            username: new.username,
            password_hash: Some(hash_off_thread(new.password).await?),
            email: new.email,
            admin: new.admin,
            groups: new.groups,
            created_at: now_secs(),
            disabled: false,
            scim: None,
        };
        let put = Command::PutUser {
            user: user.clone(),
            create_only: true,
            at_ms: crate::clock::now_millis(),
        };
        match self.writes.write(put).await? {
            CommandResponse::Ok => {
                tracing::info!(user = %user.username, "user created");
                Event::new("user.created")
                    .subject(user.username.clone())
                    .field("admin", user.admin)
                    .field("groups", &user.groups)
                    .emit();
                Ok(user)
            }
            CommandResponse::Conflict => Err(ServiceError::Conflict(format!(
                "user '{}' already exists",
                user.username
            ))),
            other => Err(ServiceError::Internal(format!(
                "unexpected response {other:?}"
            ))),
        }
    }

    /// Every local user.
    pub fn users(&self) -> ServiceResult<Vec<UserRecord>> {
        Ok(self.state.accounts().users()?)
    }

    pub fn user(&self, name: &str) -> ServiceResult<UserRecord> {
        self.state
            .accounts()
            .user(name)?
            .ok_or_else(|| ServiceError::not_found("user", name))
    }

    /// "Revoke every token of X", asked by `who`: admins, or X itself.
    pub async fn revoke_tokens_of(&self, who: &Principal, username: &str) -> ServiceResult<u64> {
        if !who.admin && !is_local_user(who, username) {
            return Err(ServiceError::Forbidden(PolicyError::AdminOnly));
        }
        self.revoke_user_tokens(username).await
    }

    /// Every token of local user `username` issued until now stops validating on every
    /// node, revocable or not. Works for transient users (never created) too. "Now" is the
    /// cut-off every member's clock falls within (`cut_off_now`), never this node's own.
    pub async fn revoke_user_tokens(&self, username: &str) -> ServiceResult<u64> {
        check_name("username", username)?;
        let revoked_at = self.clock.cut_off_now();
        self.writes
            .write(Command::RevokeSubject {
                subject: subject_for(&own_service_id(&self.state)?, username),
                revoked_at,
            })
            .await?;
        tracing::info!(user = %username, revoked_at, "every token of the user revoked");
        Event::new("token.subject_revoked")
            .subject(username)
            .field("revoked_before", revoked_at)
            .emit();
        Ok(revoked_at)
    }

    /// Delete a user; its tokens stop validating everywhere.
    pub async fn delete_user(&self, username: &str) -> ServiceResult<()> {
        if username == self.config.security.bootstrap_admin_username {
            return Err(ServiceError::Conflict(
                "the bootstrap admin cannot be deleted".into(),
            ));
        }
        match self
            .writes
            .write(Command::DeleteUser {
                username: username.to_string(),
                revoked_at: self.clock.cut_off_now(),
                at_ms: crate::clock::now_millis(),
            })
            .await?
        {
            CommandResponse::Ok => {
                tracing::info!(user = %username, "user deleted; its tokens revoked");
                Event::new("user.deleted").subject(username).emit();
                Ok(())
            }
            _ => Err(ServiceError::not_found("user", username)),
        }
    }

    pub async fn update_user(&self, username: &str, change: UserChange) -> ServiceResult<()> {
        if change.admin == Some(false) && username == self.config.security.bootstrap_admin_username
        {
            return Err(ServiceError::Conflict(
                "the bootstrap admin stays an admin".into(),
            ));
        }
        if change.disabled == Some(true)
            && username == self.config.security.bootstrap_admin_username
        {
            return Err(ServiceError::Conflict(
                "the bootstrap admin cannot be disabled".into(),
            ));
        }
        if let Some(groups) = &change.groups {
            self.check_groups_exist(groups).await?;
        }
        if let Some(email) = &change.email {
            check_email(email.as_deref())?;
        }
        let password_hash = match change.password {
            Some(p) => {
                check_password(&p)?;
                Some(hash_off_thread(p).await?)
            }
            None => None,
        };
        let password_changed = password_hash.is_some();
        let changed: Vec<&str> = [
            ("password", password_changed),
            ("email", change.email.is_some()),
            ("admin", change.admin.is_some()),
            ("groups", change.groups.is_some()),
            ("status", change.disabled.is_some()),
            ("scim", change.scim.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        let admin = change.admin;
        match self
            .writes
            .write(Command::UpdateUser {
                username: username.to_string(),
                password_hash,
                email: change.email,
                admin: change.admin,
                groups: change.groups,
                disabled: change.disabled,
                scim: change.scim,
                // Where taking admin away, or disabling, cuts the user's tokens off.
                at: self.clock.cut_off_now(),
                at_ms: crate::clock::now_millis(),
            })
            .await?
        {
            CommandResponse::Ok => {
                tracing::info!(user = %username, password_changed, "user updated");
                if password_changed {
                    Event::new("user.password_changed")
                        .subject(username)
                        .field("by", "admin")
                        .emit();
                }
                if changed.iter().any(|c| *c != "password") {
                    Event::new("user.updated")
                        .subject(username)
                        .field("changed", &changed)
                        .field("admin", admin)
                        .emit();
                }
                Ok(())
            }
            _ => Err(ServiceError::not_found("user", username)),
        }
    }

    /// A user changes its own password, proving the old one (a throttled login, always
    /// audited).
    pub async fn change_own_password(
        &self,
        username: &str,
        old_password: &str,
        new_password: String,
        client: Option<std::net::IpAddr>,
    ) -> ServiceResult<()> {
        self.password_login(username, old_password, client, LoginKind::Interactive)
            .await?;
        check_password(&new_password)?;
        let hash = hash_off_thread(new_password).await?;
        match self
            .writes
            .write(Command::UpdateUser {
                username: username.to_string(),
                password_hash: Some(hash),
                email: None,
                admin: None,
                groups: None,
                disabled: None,
                scim: None,
                at: self.clock.cut_off_now(),
                at_ms: crate::clock::now_millis(),
            })
            .await?
        {
            CommandResponse::Ok => {
                tracing::info!(user = %username, "password changed by its user");
                Event::new("user.password_changed")
                    .actor(username)
                    .subject(username)
                    .field("by", "self")
                    .emit();
                Ok(())
            }
            _ => Err(ServiceError::not_found("user", username)),
        }
    }
}
