//! Permission targets through the log, and the one permission check every caller uses.

use std::sync::Arc;

use super::writes::Writes;
use super::{ServiceError, ServiceResult};
use crate::clock::now_millis;
use crate::domain::permissions::{decide, Caller, Decision, PermError, PermissionTarget};
use crate::domain::policy::{Credential, Principal};
use crate::domain::scope::{Action, Scope};
use crate::raft::command::{Command, CommandResponse};
use crate::store::StateView;

impl From<PermError> for ServiceError {
    fn from(e: PermError) -> Self {
        ServiceError::BadRequest(e.to_string())
    }
}

/// Permission targets and the one permission check.
pub struct Permissions {
    state: StateView,
    writes: Arc<Writes>,
}

impl Permissions {
    pub fn new(state: StateView, writes: Arc<Writes>) -> Permissions {
        Permissions { state, writes }
    }
}

impl Permissions {
    pub fn permissions(&self) -> ServiceResult<Vec<PermissionTarget>> {
        Ok(self.state.accounts().permissions()?)
    }

    pub fn permission(&self, name: &str) -> ServiceResult<PermissionTarget> {
        self.state
            .accounts()
            .permission(name)?
            .ok_or_else(|| ServiceError::NotFound(format!("permission '{name}' not found")))
    }

    /// Create (`create_only`) or create-or-replace a target; true when it was created. Every
    /// user and group it names must exist.
    pub async fn put_permission(
        &self,
        target: PermissionTarget,
        create_only: bool,
    ) -> ServiceResult<bool> {
        for (kind, res) in &target.resources {
            for name in res.actions.users.keys() {
                if self
                    .writes
                    .caught_up(|| Ok(self.state.accounts().user(name)?))
                    .await?
                    .is_none()
                {
                    return Err(PermError {
                        field: format!("resources.{kind}.actions.users.{name}"),
                        message: format!("user '{name}' does not exist"),
                    }
                    .into());
                }
            }
            for name in res.actions.groups.keys() {
                if self
                    .writes
                    .caught_up(|| Ok(self.state.accounts().group(name)?))
                    .await?
                    .is_none()
                {
                    return Err(PermError {
                        field: format!("resources.{kind}.actions.groups.{name}"),
                        message: format!("group '{name}' does not exist"),
                    }
                    .into());
                }
            }
        }
        let created = self.state.accounts().permission(&target.name)?.is_none();
        let name = target.name.clone();
        // The apply takes an identical document as a retry; a create of a name that is
        // already there is a conflict whatever the document.
        if create_only && !created {
            return Err(ServiceError::Conflict(format!(
                "permission '{name}' already exists"
            )));
        }
        match self
            .writes
            .write(Command::PutPermission {
                target,
                create_only,
                at_ms: now_millis(),
            })
            .await?
        {
            CommandResponse::Ok => {
                tracing::info!(permission = %name, created, "permission target written");
                Ok(created)
            }
            CommandResponse::Conflict => Err(ServiceError::Conflict(format!(
                "permission '{name}' already exists"
            ))),
            other => Err(ServiceError::Internal(format!("unexpected {other:?}"))),
        }
    }

    pub async fn delete_permission(&self, name: &str) -> ServiceResult<()> {
        match self
            .writes
            .write(Command::DeletePermission {
                name: name.to_string(),
                at_ms: now_millis(),
            })
            .await?
        {
            CommandResponse::Ok => Ok(()),
            _ => Err(ServiceError::NotFound(format!(
                "permission '{name}' not found"
            ))),
        }
    }

    /// What the caller may do with `action` on `<repo>/<path>`, and what granted it: one
    /// answer for password logins and every kind of token.
    pub fn check_permission(
        &self,
        who: &Principal,
        repo_path: &str,
        action: Action,
    ) -> ServiceResult<Decision> {
        let scope = match who.scope.as_deref().map(Scope::parse) {
            None => None,
            Some(Ok(s)) => Some(s),
            Some(Err(_)) => {
                return Ok(Decision {
                    allowed: false,
                    granted_by: None,
                    reason: "the token's scope does not parse".into(),
                })
            }
        };
        // A foreign token never acts as a local user; a transient user has no record.
        let user = match who.credential {
            Credential::ForeignToken { .. } => None,
            _ => self.state.accounts().user(&who.username)?,
        };
        let groups = user.map(|u| u.groups);
        let targets = self.state.accounts().permissions()?;
        Ok(decide(
            &Caller {
                username: &who.username,
                admin: who.admin,
                scope: scope.as_ref(),
                user_groups: groups.as_deref(),
            },
            &targets,
            repo_path,
            action,
        ))
    }
}
