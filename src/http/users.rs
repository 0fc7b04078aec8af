//! Minimal users-and-groups admin API (JFrog Access v2 paths). Every change goes through
//! the log; passwords are argon2-hashed by the proposing node before proposing.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::auth;
use super::params::{valid_name, Params};
use super::NodeData;
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
    let username = p.required_string("username")?;
    if !valid_name(&username) {
        return Err(ApiError::BadRequest(format!(
            "invalid username '{username}'"
        )));
    }
    let password = p.required_string("password")?;
    if password.len() < 8 || password.len() > 1024 {
        return Err(ApiError::BadRequest(
            "password must be 8 to 1024 characters".into(),
        ));
    }
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
    if *name == node.config.security.bootstrap_admin_username {
        return Err(ApiError::Conflict(
            "the bootstrap admin cannot be deleted".into(),
        ));
    }
    match node
        .write(Command::DeleteUser {
            username: name.to_string(),
        })
        .await?
    {
        CommandResponse::Ok => Ok(HttpResponse::NoContent().finish()),
        _ => Err(ApiError::NotFound(format!("user '{name}' not found"))),
    }
}

pub async fn create_group(
    node: NodeData,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    auth::required_admin(&node, &req).await?;
    let p = Params::from_request(&req, payload, node.config.server.max_body_bytes).await?;
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
