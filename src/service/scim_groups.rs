//! SCIM groups: a group's display name is any text an identity provider chooses; its id (our
//! group name, what scopes and permissions name) is made from it once and never changes.
//! Members are users; adding and removing them is one log entry with the group's record.

use std::collections::BTreeMap;

use scim_v2::models::others::PatchOperation;
use serde_json::Value;

use super::scim::{created, precondition, ListRequest, Scim};
use super::{ServiceError, ServiceResult};
use crate::domain::accounts::{GroupRecord, ScimGroup, UserRecord};
use crate::domain::scim::list::{list_response, ListPage};
use crate::domain::scim::resource::{
    display_name, group_input, group_name_for, group_resource, GroupInput,
};
use crate::domain::scim::{filter, patch, ScimError};
use crate::raft::command::{Command, CommandResponse};
use crate::telemetry::audit::Event;

/// Each group's members (user names, sorted), read from the users' records.
fn members_by_group(users: &[UserRecord]) -> BTreeMap<&str, Vec<String>> {
    let mut out: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for u in users {
        for g in &u.groups {
            out.entry(g.as_str()).or_default().push(u.username.clone());
        }
    }
    for members in out.values_mut() {
        members.sort();
    }
    out
}

impl Scim {
    fn groups(&self) -> ServiceResult<Vec<GroupRecord>> {
        Ok(self.state.accounts().groups()?)
    }

    async fn current_group(&self, id: &str) -> ServiceResult<(GroupRecord, Vec<String>)> {
        let group = self
            .writes
            .caught_up(|| Ok(self.state.accounts().group(id)?))
            .await?
            .ok_or_else(|| ServiceError::not_found("Group", id))?;
        // Users come in name order: the members are sorted as in a listing.
        Ok((group, self.accounts.group_members(id)?))
    }

    /// Every group as a resource, its members read from `users`.
    fn group_resources(&self, users: &[UserRecord], base: &str) -> ServiceResult<Vec<Value>> {
        let members = members_by_group(users);
        Ok(self
            .groups()?
            .iter()
            .map(|g| {
                let m = members.get(g.name.as_str()).map_or(&[][..], Vec::as_slice);
                group_resource(g, m, base)
            })
            .collect())
    }

    pub async fn list_groups(&self, req: &ListRequest<'_>) -> ServiceResult<ListPage> {
        let filter = req.filter.map(filter::parse).transpose()?;
        self.fresh().await?;
        let groups = self.group_resources(&self.users()?, req.base)?;
        Ok(list_response(groups, filter.as_ref(), req.page))
    }

    /// Users and groups alike (`POST /.search` at the root).
    pub async fn list_all(&self, req: &ListRequest<'_>) -> ServiceResult<ListPage> {
        let filter = req.filter.map(filter::parse).transpose()?;
        self.fresh().await?;
        let users = self.users()?;
        let mut all: Vec<Value> = users
            .iter()
            .map(|u| crate::domain::scim::resource::user_resource(u, req.base))
            .collect();
        all.extend(self.group_resources(&users, req.base)?);
        Ok(list_response(all, filter.as_ref(), req.page))
    }

    pub async fn get_group(&self, id: &str, base: &str) -> ServiceResult<Value> {
        let (group, members) = self.current_group(id).await?;
        Ok(group_resource(&group, &members, base))
    }

    /// 409 when another group shows `display` already (display names compare
    /// case-insensitively, as RFC 7643 has them).
    fn display_name_free(&self, display: &str, except: Option<&str>) -> ServiceResult<()> {
        if let Some(g) = self.groups()?.into_iter().find(|g| {
            Some(g.name.as_str()) != except && display_name(g).eq_ignore_ascii_case(display)
        }) {
            return Err(ServiceError::Conflict(format!(
                "displayName '{display}' is taken (by group '{}')",
                g.name
            )));
        }
        Ok(())
    }

    /// 400 unless every member is one of our users.
    fn members_exist(&self, members: &[String]) -> ServiceResult<()> {
        let accounts = self.state.accounts();
        for m in members {
            if accounts.user(m)?.is_none() {
                return Err(ScimError::new(
                    "invalidValue",
                    format!("no user '{m}' (members are user ids)"),
                )
                .into());
            }
        }
        Ok(())
    }

    pub async fn create_group(&self, body: &Value, base: &str) -> ServiceResult<Value> {
        let input = group_input(body)?;
        self.fresh().await?;
        self.display_name_free(&input.display_name, None)?;
        self.members_exist(&input.members)?;
        let accounts = self.state.accounts();
        let name = group_name_for(&input.display_name, |n| {
            accounts.group(n).ok().flatten().is_some()
        });
        let now_ms = crate::clock::now_millis();
        let group = GroupRecord {
            name,
            description: None,
            created_at: now_ms / 1000,
            scim: Some(ScimGroup {
                display_name: input.display_name.clone(),
                external_id: input.external_id.clone(),
                updated_ms: now_ms,
            }),
        };
        let put = Command::PutGroup {
            group: group.clone(),
            create_only: true,
            at_ms: now_ms,
        };
        created(self.writes.write(put).await?, || {
            format!("group '{}' was created meanwhile", group.name)
        })?;
        Event::new("group.created")
            .field("group", &group.name)
            .field("realm", "scim")
            .emit();
        if !input.members.is_empty() {
            self.write_members(&group, None, &input.members, &[])
                .await?;
        }
        self.get_group(&group.name, base).await
    }

    pub async fn replace_group(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        base: &str,
    ) -> ServiceResult<Value> {
        let (group, members) = self.current_group(id).await?;
        precondition(if_match, &group_resource(&group, &members, base))?;
        let input = group_input(body)?;
        self.write_group(&group, &members, input, base).await
    }

    pub async fn modify_group(
        &self,
        id: &str,
        operations: &[PatchOperation],
        if_match: Option<&str>,
        base: &str,
    ) -> ServiceResult<Value> {
        let (group, members) = self.current_group(id).await?;
        let resource = group_resource(&group, &members, base);
        precondition(if_match, &resource)?;
        let input = group_input(&patch::apply(&resource, operations)?)?;
        self.write_group(&group, &members, input, base).await
    }

    async fn write_group(
        &self,
        group: &GroupRecord,
        members: &[String],
        input: GroupInput,
        base: &str,
    ) -> ServiceResult<Value> {
        self.display_name_free(&input.display_name, Some(&group.name))?;
        let add: Vec<String> = input
            .members
            .iter()
            .filter(|m| !members.contains(m))
            .cloned()
            .collect();
        let remove: Vec<String> = members
            .iter()
            .filter(|m| !input.members.contains(m))
            .cloned()
            .collect();
        self.members_exist(&add)?;
        let old = group.scim.clone().unwrap_or_default();
        let mut scim = ScimGroup {
            display_name: input.display_name,
            external_id: input.external_id,
            updated_ms: old.updated_ms,
        };
        let record = if group.scim.as_ref() == Some(&scim) {
            None
        } else {
            scim.updated_ms = crate::clock::now_millis();
            Some(GroupRecord {
                scim: Some(scim),
                ..group.clone()
            })
        };
        if record.is_some() || !add.is_empty() || !remove.is_empty() {
            self.write_members(group, record, &add, &remove).await?;
        }
        self.get_group(&group.name, base).await
    }

    /// One entry: the group's new record (when given) and its members added and removed.
    async fn write_members(
        &self,
        group: &GroupRecord,
        record: Option<GroupRecord>,
        add: &[String],
        remove: &[String],
    ) -> ServiceResult<()> {
        let renamed = record.is_some();
        let cmd = Command::UpdateGroupMembers {
            group: group.name.clone(),
            add: add.to_vec(),
            remove: remove.to_vec(),
            record,
            at_ms: crate::clock::now_millis(),
        };
        match self.writes.write(cmd).await? {
            CommandResponse::Ok => {
                Event::new("group.members_changed")
                    .field("group", &group.name)
                    .field("added", add)
                    .field("removed", remove)
                    .field("record_changed", renamed)
                    .field("realm", "scim")
                    .emit();
                Ok(())
            }
            _ => Err(ServiceError::not_found("Group", &group.name)),
        }
    }

    pub async fn delete_group(
        &self,
        id: &str,
        if_match: Option<&str>,
        base: &str,
    ) -> ServiceResult<()> {
        let (group, members) = self.current_group(id).await?;
        precondition(if_match, &group_resource(&group, &members, base))?;
        self.accounts.delete_group(id).await
    }
}
