//! SCIM 2.0 provisioning (RFC 7644): an identity provider creates, finds, replaces, modifies,
//! deactivates and deletes our users and groups. SCIM users and groups are our users and
//! groups, written through the same commands (so they replicate, federate and cut tokens off
//! the same way); SCIM adds what the provider manages of them (`ScimUser`, `ScimGroup`).
//! Users here; groups in `scim_groups`.

use std::sync::Arc;

use scim_v2::models::others::PatchOperation;
use serde_json::Value;

use super::accounts::{hash_off_thread, Accounts, UserChange};
use super::writes::Writes;
use super::{ServiceError, ServiceResult, CATCH_UP_TIMEOUT};
use crate::config::Config;
use crate::domain::accounts::{ScimUser, UserRecord};
use crate::domain::policy::{PolicyError, Principal};
use crate::domain::scim::list::{list_response, ListPage, Page};
use crate::domain::scim::resource::{user_input, user_resource, version, UserInput};
use crate::domain::scim::{filter, may_provision, patch, ScimError};
use crate::raft::command::{Command, CommandResponse};
use crate::store::StateView;
use crate::telemetry::audit::Event;

/// Provisioning by identity providers.
pub struct Scim {
    pub(super) config: Arc<Config>,
    pub(super) state: StateView,
    pub(super) writes: Arc<Writes>,
    pub(super) accounts: Arc<Accounts>,
}

/// What a listing asks for: a filter (unparsed) and a page.
pub struct ListRequest<'a> {
    pub filter: Option<&'a str>,
    pub page: Page,
    /// The SCIM root URL resources are located under.
    pub base: &'a str,
}

/// Whether an `If-Match` header value (`*`, or a list of entity tags) holds for `current`.
pub fn if_match_holds(if_match: Option<&str>, current: &Value) -> bool {
    let Some(header) = if_match else {
        return true;
    };
    let current = version(current).unwrap_or_default();
    // A strong tag names the same version as its weak form here: ours are all weak.
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    header
        .split(',')
        .any(|t| t.trim() == "*" || strip(t) == strip(current))
}

pub(super) fn precondition(if_match: Option<&str>, current: &Value) -> ServiceResult<()> {
    if if_match_holds(if_match, current) {
        Ok(())
    } else {
        Err(ServiceError::PreconditionFailed(format!(
            "If-Match does not name the resource's version ({})",
            version(current).unwrap_or_default()
        )))
    }
}

impl Scim {
    pub fn new(
        config: Arc<Config>,
        state: StateView,
        writes: Arc<Writes>,
        accounts: Arc<Accounts>,
    ) -> Scim {
        Scim {
            config,
            state,
            writes,
            accounts,
        }
    }

    /// 403 unless `who` may read (or, with `write`, provision) through SCIM.
    pub fn authorize(&self, who: &Principal, write: bool) -> ServiceResult<()> {
        if may_provision(who, write) {
            Ok(())
        } else {
            Err(PolicyError::ScimScope(if write { "rw" } else { "r" }).into())
        }
    }

    /// After this, reads here see every write committed anywhere until now: an identity
    /// provider creates through one node and reads through another.
    pub(super) async fn fresh(&self) -> ServiceResult<()> {
        self.writes.read_barrier(CATCH_UP_TIMEOUT).await
    }

    pub(super) fn users(&self) -> ServiceResult<Vec<UserRecord>> {
        Ok(self.state.accounts().users()?)
    }

    async fn current_user(&self, id: &str) -> ServiceResult<UserRecord> {
        self.writes
            .caught_up(|| Ok(self.state.accounts().user(id)?))
            .await?
            .ok_or_else(|| ServiceError::not_found("User", id))
    }

    /// A SCIM-only caller provisions everyone but admins.
    fn may_change(&self, who: &Principal, user: &UserRecord) -> ServiceResult<()> {
        if user.admin && !who.admin {
            return Err(PolicyError::AdminAccount(user.username.clone()).into());
        }
        Ok(())
    }

    fn bootstrap_admin(&self, name: &str) -> bool {
        name == self.config.security.bootstrap_admin_username
    }

    pub async fn list_users(&self, req: &ListRequest<'_>) -> ServiceResult<ListPage> {
        let filter = req.filter.map(filter::parse).transpose()?;
        self.fresh().await?;
        let users: Vec<Value> = self
            .users()?
            .iter()
            .map(|u| user_resource(u, req.base))
            .collect();
        Ok(list_response(users, filter.as_ref(), req.page))
    }

    pub async fn get_user(&self, id: &str, base: &str) -> ServiceResult<Value> {
        Ok(user_resource(&self.current_user(id).await?, base))
    }

    pub async fn create_user(&self, body: &Value, base: &str) -> ServiceResult<Value> {
        let input = user_input(body)?;
        self.fresh().await?;
        if let Some(taken) = self
            .users()?
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(&input.user_name))
        {
            return Err(ServiceError::Conflict(format!(
                "userName '{}' is taken (by '{}')",
                input.user_name, taken.username
            )));
        }
        let now_ms = crate::clock::now_millis();
        let user = UserRecord {
            username: input.user_name.clone(),
            password_hash: match &input.password {
                Some(p) => Some(hash_off_thread(p.clone()).await?),
                None => None,
            },
            email: input.primary_email(),
            admin: false,
            groups: Vec::new(),
            created_at: now_ms / 1000,
            disabled: !input.active.unwrap_or(true),
            scim: Some(profile(&input, now_ms)),
        };
        let put = Command::PutUser {
            user: user.clone(),
            create_only: true,
            at_ms: now_ms,
        };
        created(self.writes.write(put).await?, || {
            format!("userName '{}' is taken", user.username)
        })?;
        tracing::info!(user = %user.username, "user provisioned (SCIM)");
        Event::new("user.created")
            .subject(user.username.clone())
            .field("realm", "scim")
            .field("active", !user.disabled)
            .emit();
        Ok(user_resource(&user, base))
    }

    pub async fn replace_user(
        &self,
        who: &Principal,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        base: &str,
    ) -> ServiceResult<Value> {
        let current = self.current_user(id).await?;
        self.may_change(who, &current)?;
        precondition(if_match, &user_resource(&current, base))?;
        let input = user_input(body)?;
        self.write_user(&current, input, base).await
    }

    pub async fn modify_user(
        &self,
        who: &Principal,
        id: &str,
        operations: &[PatchOperation],
        if_match: Option<&str>,
        base: &str,
    ) -> ServiceResult<Value> {
        let current = self.current_user(id).await?;
        self.may_change(who, &current)?;
        let resource = user_resource(&current, base);
        precondition(if_match, &resource)?;
        let patched = patch::apply(&resource, operations)?;
        if crate::domain::scim::get_ci(&patched, "active").is_none_or(Value::is_null) {
            return Err(ScimError::new("mutability", "'active' cannot be removed").into());
        }
        let input = user_input(&patched)?;
        self.write_user(&current, input, base).await
    }

    /// Write what a replace or modify says of `current`: everything we keep of a SCIM user.
    async fn write_user(
        &self,
        current: &UserRecord,
        input: UserInput,
        base: &str,
    ) -> ServiceResult<Value> {
        if input.user_name != current.username {
            return Err(ScimError::new(
                "mutability",
                format!(
                    "userName is immutable here ('{}'): delete the user and create it anew",
                    current.username
                ),
            )
            .into());
        }
        let disabled = input.active.map(|a| !a);
        if disabled == Some(true) && self.bootstrap_admin(&current.username) {
            return Err(
                ScimError::new("mutability", "the bootstrap admin cannot be deactivated").into(),
            );
        }
        let old = current.scim.clone().unwrap_or_default();
        let mut scim = profile(&input, crate::clock::now_millis());
        let unchanged = ScimUser {
            updated_ms: old.updated_ms,
            ..scim.clone()
        } == old;
        if current.scim.is_some() && unchanged {
            // Nothing the provider manages changed: the version stays.
            scim.updated_ms = old.updated_ms;
        }
        let change = UserChange {
            password: input.password.clone(),
            email: Some(input.primary_email()).filter(|e| *e != current.email),
            admin: None,
            groups: None,
            disabled: disabled.filter(|d| *d != current.disabled),
            scim: Some(scim).filter(|s| current.scim.as_ref() != Some(s)),
        };
        self.accounts.update_user(&current.username, change).await?;
        self.get_user(&current.username, base).await
    }

    pub async fn delete_user(
        &self,
        who: &Principal,
        id: &str,
        if_match: Option<&str>,
        base: &str,
    ) -> ServiceResult<()> {
        let current = self.current_user(id).await?;
        self.may_change(who, &current)?;
        precondition(if_match, &user_resource(&current, base))?;
        if self.bootstrap_admin(id) {
            return Err(
                ScimError::new("mutability", "the bootstrap admin cannot be deleted").into(),
            );
        }
        self.accounts.delete_user(id).await
    }
}

/// The answer to a create-only put: a conflict (`taken` says why) is 409.
pub(super) fn created(
    response: CommandResponse,
    taken: impl FnOnce() -> String,
) -> ServiceResult<()> {
    match response {
        CommandResponse::Ok => Ok(()),
        CommandResponse::Conflict => Err(ServiceError::Conflict(taken())),
        other => Err(ServiceError::Internal(format!(
            "unexpected response {other:?}"
        ))),
    }
}

/// What we keep of a user an identity provider wrote, as of `now_ms`.
fn profile(input: &UserInput, now_ms: u64) -> ScimUser {
    ScimUser {
        external_id: input.external_id.clone(),
        display_name: input.display_name.clone(),
        name: input.name.clone(),
        emails: input.emails.clone(),
        updated_ms: now_ms,
    }
}

/// The resource types SCIM serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }
}

/// A PUT's resource, or a PATCH's operations.
#[derive(Clone, Copy)]
pub enum Change<'a> {
    Replace(&'a Value),
    Modify(&'a [PatchOperation]),
}

/// Each operation for either kind: what the HTTP layer calls.
impl Scim {
    /// One page of `kind`'s resources (None: users and groups alike).
    pub async fn list(&self, kind: Option<Kind>, req: &ListRequest<'_>) -> ServiceResult<ListPage> {
        match kind {
            Some(Kind::User) => self.list_users(req).await,
            Some(Kind::Group) => self.list_groups(req).await,
            None => self.list_all(req).await,
        }
    }

    pub async fn get(&self, kind: Kind, id: &str, base: &str) -> ServiceResult<Value> {
        match kind {
            Kind::User => self.get_user(id, base).await,
            Kind::Group => self.get_group(id, base).await,
        }
    }

    pub async fn create(&self, kind: Kind, body: &Value, base: &str) -> ServiceResult<Value> {
        match kind {
            Kind::User => self.create_user(body, base).await,
            Kind::Group => self.create_group(body, base).await,
        }
    }

    /// A replace or a modify of one resource.
    pub async fn change(
        &self,
        kind: Kind,
        who: &Principal,
        id: &str,
        change: Change<'_>,
        if_match: Option<&str>,
        base: &str,
    ) -> ServiceResult<Value> {
        match (kind, change) {
            (Kind::User, Change::Replace(b)) => self.replace_user(who, id, b, if_match, base).await,
            (Kind::User, Change::Modify(ops)) => {
                self.modify_user(who, id, ops, if_match, base).await
            }
            (Kind::Group, Change::Replace(b)) => self.replace_group(id, b, if_match, base).await,
            (Kind::Group, Change::Modify(ops)) => self.modify_group(id, ops, if_match, base).await,
        }
    }

    pub async fn delete(
        &self,
        kind: Kind,
        who: &Principal,
        id: &str,
        if_match: Option<&str>,
        base: &str,
    ) -> ServiceResult<()> {
        match kind {
            Kind::User => self.delete_user(who, id, if_match, base).await,
            Kind::Group => self.delete_group(id, if_match, base).await,
        }
    }
}
