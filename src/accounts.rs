//! Users, group membership, password changes and subject revocation: every change a log
//! entry whose hashes and times the proposing node decides.

use crate::domain::names::valid_name;
use crate::domain::token::subject_for;
use crate::error::{ApiError, ApiResult};
use crate::node::{hash_password, now_secs, Node};
use crate::raft::command::{Command, CommandResponse};

/// What an admin may change of a user (`PATCH /access/api/v2/users/{name}`).
#[derive(Debug, Default)]
pub struct UserChange {
    pub password: Option<String>,
    pub email: Option<Option<String>>,
    pub admin: Option<bool>,
    pub groups: Option<Vec<String>>,
}

pub fn check_password(password: &str) -> ApiResult<()> {
    if password.len() < 8 || password.len() > 1024 {
        return Err(ApiError::BadRequest(
            "password must be 8 to 1024 characters".into(),
        ));
    }
    Ok(())
}

async fn hash_off_thread(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

impl Node {
    fn check_groups_exist(&self, groups: &[String]) -> ApiResult<()> {
        for g in groups {
            if self.state.group(g)?.is_none() {
                return Err(ApiError::BadRequest(format!("group '{g}' does not exist")));
            }
        }
        Ok(())
    }

    /// Every token of local user `username` issued until now stops validating on every
    /// node, revocable or not. Works for transient users (never created) too.
    pub async fn revoke_user_tokens(&self, username: &str) -> ApiResult<u64> {
        if !valid_name(username) {
            return Err(ApiError::BadRequest(format!(
                "invalid username '{username}'"
            )));
        }
        let revoked_at = now_secs();
        self.write(Command::RevokeSubject {
            subject: subject_for(&self.service_id()?, username),
            revoked_at,
        })
        .await?;
        tracing::info!(user = %username, revoked_at, "every token of the user revoked");
        Ok(revoked_at)
    }

    /// Delete a user; its tokens stop validating everywhere.
    pub async fn delete_user(&self, username: &str) -> ApiResult<()> {
        if username == self.config.security.bootstrap_admin_username {
            return Err(ApiError::Conflict(
                "the bootstrap admin cannot be deleted".into(),
            ));
        }
        match self
            .write(Command::DeleteUser {
                username: username.to_string(),
                revoked_at: now_secs(),
            })
            .await?
        {
            CommandResponse::Ok => {
                tracing::info!(user = %username, "user deleted; its tokens revoked");
                Ok(())
            }
            _ => Err(ApiError::NotFound(format!("user '{username}' not found"))),
        }
    }

    pub async fn update_user(&self, username: &str, change: UserChange) -> ApiResult<()> {
        if change.admin == Some(false) && username == self.config.security.bootstrap_admin_username
        {
            return Err(ApiError::Conflict(
                "the bootstrap admin stays an admin".into(),
            ));
        }
        if let Some(groups) = &change.groups {
            self.check_groups_exist(groups)?;
        }
        let password_hash = match change.password {
            Some(p) => {
                check_password(&p)?;
                Some(hash_off_thread(p).await?)
            }
            None => None,
        };
        let password_changed = password_hash.is_some();
        match self
            .write(Command::UpdateUser {
                username: username.to_string(),
                password_hash,
                email: change.email,
                admin: change.admin,
                groups: change.groups,
                at: now_secs(),
            })
            .await?
        {
            CommandResponse::Ok => {
                tracing::info!(user = %username, password_changed, "user updated");
                Ok(())
            }
            _ => Err(ApiError::NotFound(format!("user '{username}' not found"))),
        }
    }

    /// A user changes its own password, proving the old one (a throttled login).
    pub async fn change_own_password(
        &self,
        username: &str,
        old_password: &str,
        new_password: String,
        client: Option<std::net::IpAddr>,
    ) -> ApiResult<()> {
        self.password_login(username, old_password, client).await?;
        check_password(&new_password)?;
        let hash = hash_off_thread(new_password).await?;
        match self
            .write(Command::UpdateUser {
                username: username.to_string(),
                password_hash: Some(hash),
                email: None,
                admin: None,
                groups: None,
                at: now_secs(),
            })
            .await?
        {
            CommandResponse::Ok => {
                tracing::info!(user = %username, "password changed by its user");
                Ok(())
            }
            _ => Err(ApiError::NotFound(format!("user '{username}' not found"))),
        }
    }

    pub async fn update_group_members(
        &self,
        group: &str,
        add: Vec<String>,
        remove: Vec<String>,
    ) -> ApiResult<()> {
        for name in add.iter().chain(&remove) {
            if self.state.user(name)?.is_none() {
                return Err(ApiError::BadRequest(format!(
                    "user '{name}' does not exist"
                )));
            }
        }
        match self
            .write(Command::UpdateGroupMembers {
                group: group.to_string(),
                add,
                remove,
            })
            .await?
        {
            CommandResponse::Ok => Ok(()),
            _ => Err(ApiError::NotFound(format!("group '{group}' not found"))),
        }
    }
}
