//! Groups and group membership: every change a log entry.

use super::accounts::Accounts;
use super::{check_name, now_secs, ServiceError, ServiceResult};
use crate::domain::accounts::GroupRecord;
use crate::raft::command::{Command, CommandResponse};
use crate::telemetry::audit::Event;

impl Accounts {
    pub async fn create_group(
        &self,
        name: String,
        description: Option<String>,
    ) -> ServiceResult<GroupRecord> {
        check_name("group name", &name)?;
        let group = GroupRecord {
            name,
            description,
            created_at: now_secs(),
            scim: None,
        };
        let put = Command::PutGroup {
            group: group.clone(),
            create_only: true,
            at_ms: crate::clock::now_millis(),
        };
        match self.writes.write(put).await? {
            CommandResponse::Ok => {
                Event::new("group.created")
                    .field("group", &group.name)
                    .emit();
                Ok(group)
            }
            CommandResponse::Conflict => Err(ServiceError::Conflict(format!(
                "group '{}' already exists",
                group.name
            ))),
            other => Err(ServiceError::Internal(format!(
                "unexpected response {other:?}"
            ))),
        }
    }

    pub async fn delete_group(&self, name: &str) -> ServiceResult<()> {
        let delete = Command::DeleteGroup {
            name: name.to_string(),
            at_ms: crate::clock::now_millis(),
        };
        match self.writes.write(delete).await? {
            CommandResponse::Ok => {
                Event::new("group.deleted").field("group", name).emit();
                Ok(())
            }
            _ => Err(ServiceError::not_found("group", name)),
        }
    }

    /// Every group.
    pub fn groups(&self) -> ServiceResult<Vec<GroupRecord>> {
        Ok(self.state.accounts().groups()?)
    }

    pub fn group(&self, name: &str) -> ServiceResult<GroupRecord> {
        self.state
            .accounts()
            .group(name)?
            .ok_or_else(|| ServiceError::not_found("group", name))
    }

    /// Users whose groups include `group`.
    pub fn group_members(&self, group: &str) -> ServiceResult<Vec<String>> {
        Ok(self
            .state
            .accounts()
            .users()?
            .into_iter()
            .filter(|u| u.groups.iter().any(|g| g == group))
            .map(|u| u.username)
            .collect())
    }

    pub(super) async fn check_groups_exist(&self, groups: &[String]) -> ServiceResult<()> {
        for g in groups {
            if self
                .writes
                .caught_up(|| Ok(self.state.accounts().group(g)?))
                .await?
                .is_none()
            {
                return Err(ServiceError::invalid(format!("group '{g}' does not exist")));
            }
        }
        Ok(())
    }

    pub async fn update_group_members(
        &self,
        group: &str,
        add: Vec<String>,
        remove: Vec<String>,
    ) -> ServiceResult<()> {
        for name in add.iter().chain(&remove) {
            if self
                .writes
                .caught_up(|| Ok(self.state.accounts().user(name)?))
                .await?
                .is_none()
            {
                return Err(ServiceError::invalid(format!(
                    "user '{name}' does not exist"
                )));
            }
        }
        let (added, removed) = (add.clone(), remove.clone());
        match self
            .writes
            .write(Command::UpdateGroupMembers {
                group: group.to_string(),
                add,
                remove,
                record: None,
                at_ms: crate::clock::now_millis(),
            })
            .await?
        {
            CommandResponse::Ok => {
                Event::new("group.members_changed")
                    .field("group", group)
                    .field("added", &added)
                    .field("removed", &removed)
                    .emit();
                Ok(())
            }
            _ => Err(ServiceError::not_found("group", group)),
        }
    }
}
