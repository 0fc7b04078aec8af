//! Minimal users-and-groups admin API (JFrog Access v2 paths). Every change goes through
//! the log; passwords are argon2-hashed by the proposing node before proposing.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::auth;
use super::params::{valid_name, Params};
use super::NodeData;
use crate::accounts::{check_password, UserChange};
use crate::error::{ApiError, ApiResult};
use crate::node::{hash_password, now_secs};
use crate::raft::command::{Command, CommandResponse, GroupRecord, UserRecord};

fn user_json(u: &UserRecord) -> Value {
    json!({
        "username": u.username,
        "email": u.email,
        "admin": u.admin,
        "groups": u.groups,
        "realm": "internal",
        "status": "enabled",
    })
}

fn group_json(g: &GroupRecord) -> Value {
    json!({ "name": g.name, "description": g.description })
}

pub async fn create_user(
    node: NodeData,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    auth::required_admin(&node, &req).await?;
    let p = Params::from_request(&req, payload, node.config.server.max_body_bytes).await?;
    p.allow_only(&["username", "password", "email", "admin", "groups"])?;
    let username = p.required_string("username")?;
    if !valid_name(&username) {
        return Err(ApiError::BadRequest(format!(
            "invalid username '{username}'"
        )));
    }
    let password = p.required_string("password")?;
    check_password(&password)?;
    let groups = p.string_list("groups")?;
    for g in &groups {
        if node.state.group(g)?.is_none() {
            return Err(ApiError::BadRequest(format!("group '{g}' does not exist")));
        }
    }
    let hash = web::block(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let user = UserRecord {
        username: username.clone(),
        password_hash: Some(hash),
        email: p.string("email")?,
        admin: p.boolean("admin")?.unwrap_or(false),
        groups,
        created_at: now_secs(),
    };
    match node
        .write(Command::PutUser {
            user: user.clone(),
            create_only: true,
        })
        .await?
    {
        CommandResponse::Ok => {
            tracing::info!(user = %username, "user created");
            Ok(HttpResponse::Created().json(user_json(&user)))
        }
        CommandResponse::Conflict => Err(ApiError::Conflict(format!(
            "user '{username}' already exists"
        ))),
        other => Err(ApiError::Internal(format!("unexpected response {other:?}"))),
    }
}

pub async fn list_users(node: NodeData, req: HttpRequest) -> ApiResult<HttpResponse> {
    auth::required_admin(&node, &req).await?;
    let users: Vec<Value> = node.state.users()?.iter().map(user_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "users": users })))
}

pub async fn get_user(
    node: NodeData,
    req: HttpRequest,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth::required_admin(&node, &req).await?;
    match node.state.user(&name)? {
        Some(u) => Ok(HttpResponse::Ok().json(user_json(&u))),
        None => Err(ApiError::NotFound(format!("user '{name}' not found"))),
    }
}

pub async fn delete_user(
    node: NodeData,
    req: HttpRequest,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth::required_admin(&node, &req).await?;
    node.delete_user(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `PATCH /access/api/v2/users/{name}` (admin): `password`, `email`, `admin`, `groups`.
pub async fn update_user(
    node: NodeData,
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    auth::required_admin(&node, &req).await?;
    let p = Params::from_request(&req, payload, node.config.server.max_body_bytes).await?;
    p.allow_only(&["password", "email", "admin", "groups"])?;
    let change = UserChange {
        password: p.string("password")?,
        email: p.present("email").then(|| p.string("email")).transpose()?,
        admin: p.boolean("admin")?,
        groups: p
            .present("groups")
            .then(|| p.string_list("groups"))
            .transpose()?,
    };
    node.update_user(&name, change).await?;
    match node.state.user(&name)? {
        Some(u) => Ok(HttpResponse::Ok().json(user_json(&u))),
        None => Err(ApiError::NotFound(format!("user '{name}' not found"))),
    }
}

/// `POST /artifactory/api/security/users/authorization/changePassword` (Artifactory's
/// call): JSON `{"userName","oldPassword","newPassword1","newPassword2"}`. The old password
/// is the credential; wrong ones count as failed logins.
pub async fn change_password(
    node: NodeData,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let p = Params::from_request(&req, payload, node.config.server.max_body_bytes).await?;
    p.allow_only(&["userName", "oldPassword", "newPassword1", "newPassword2"])?;
    let username = p.required_string("userName")?;
    let old = p.required_string("oldPassword")?;
    let new = p.required_string("newPassword1")?;
    if p.string("newPassword2")?.is_some_and(|again| again != new) {
        return Err(ApiError::BadRequest(
            "newPassword1 and newPassword2 differ".into(),
        ));
    }
    let client = req.peer_addr().map(|a| a.ip());
    node.change_own_password(&username, &old, new, client)
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain")
        .body("Password has been successfully changed"))
}

/// `PATCH /access/api/v2/groups/{name}/members` (admin): JSON `{"add":[users],"remove":[users]}`.
pub async fn update_group_members(
    node: NodeData,
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    auth::required_admin(&node, &req).await?;
    let p = Params::from_request(&req, payload, node.config.server.max_body_bytes).await?;
    p.allow_only(&["add", "remove"])?;
    node.update_group_members(&name, p.string_list("add")?, p.string_list("remove")?)
        .await?;
    let members: Vec<String> = node
        .state
        .users()?
        .into_iter()
        .filter(|u| u.groups.contains(&name))
        .map(|u| u.username)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "name": *name, "members": members })))
}

pub async fn create_group(
    node: NodeData,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    auth::required_admin(&node, &req).await?;
    let p = Params::from_request(&req, payload, node.config.server.max_body_bytes).await?;
    p.allow_only(&["name", "description"])?;
    let name = p.required_string("name")?;
    if !valid_name(&name) {
        return Err(ApiError::BadRequest(format!("invalid group name '{name}'")));
    }
    let group = GroupRecord {
        name: name.clone(),
        description: p.string("description")?,
        created_at: now_secs(),
    };
    match node
        .write(Command::PutGroup {
            group: group.clone(),
            create_only: true,
        })
        .await?
    {
        CommandResponse::Ok => Ok(HttpResponse::Created().json(group_json(&group))),
        CommandResponse::Conflict => {
            Err(ApiError::Conflict(format!("group '{name}' already exists")))
        }
        other => Err(ApiError::Internal(format!("unexpected response {other:?}"))),
    }
}

pub async fn list_groups(node: NodeData, req: HttpRequest) -> ApiResult<HttpResponse> {
    auth::required_admin(&node, &req).await?;
    let groups: Vec<Value> = node.state.groups()?.iter().map(group_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "groups": groups })))
}

pub async fn get_group(
    node: NodeData,
    req: HttpRequest,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth::required_admin(&node, &req).await?;
    match node.state.group(&name)? {
        Some(g) => Ok(HttpResponse::Ok().json(group_json(&g))),
        None => Err(ApiError::NotFound(format!("group '{name}' not found"))),
    }
}

pub async fn delete_group(
    node: NodeData,
    req: HttpRequest,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth::required_admin(&node, &req).await?;
    match node
        .write(Command::DeleteGroup {
            name: name.to_string(),
        })
        .await?
    {
        CommandResponse::Ok => Ok(HttpResponse::NoContent().finish()),
        _ => Err(ApiError::NotFound(format!("group '{name}' not found"))),
    }
}
