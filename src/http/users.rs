//! Users and groups (JFrog Access v2 paths), and Artifactory's password change. Every change
//! goes through a service call and the log.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::compat::compact;
use super::extract::{body_limit, client_ip, Admin};
use super::params::Params;
use crate::domain::accounts::{GroupRecord, UserRecord};
use crate::service::accounts::Accounts;
use crate::service::accounts::{NewUser, UserChange};
use crate::service::{ServiceError, ServiceResult};

fn user_json(u: &UserRecord) -> Value {
    compact(json!({
        "username": u.username,
        "email": u.email,
        "admin": u.admin,
        "groups": u.groups,
        "realm": u.realm(),
        "status": if u.disabled { "disabled" } else { "enabled" },
    }))
}

fn group_json(g: &GroupRecord) -> Value {
    compact(json!({ "name": g.name, "description": g.description }))
}

async fn params(req: &HttpRequest, payload: web::Payload) -> ServiceResult<Params> {
    Params::from_request(req, payload, body_limit(req)).await
}

pub async fn create_user(
    accounts: web::Data<Accounts>,
    _: Admin,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = params(&req, payload).await?;
    p.allow_only(&["username", "password", "email", "admin", "groups"])?;
    let user = accounts
        .create_user(NewUser {
            username: p.required_string("username")?,
            password: p.required_string("password")?,
            email: p.string("email")?,
            admin: p.boolean("admin")?.unwrap_or(false),
            groups: p.string_list("groups")?,
        })
        .await?;
    Ok(HttpResponse::Created().json(user_json(&user)))
}

pub async fn list_users(accounts: web::Data<Accounts>, _: Admin) -> ServiceResult<HttpResponse> {
    let users: Vec<Value> = accounts.users()?.iter().map(user_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "users": users })))
}

pub async fn get_user(
    accounts: web::Data<Accounts>,
    _: Admin,
    name: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(user_json(&accounts.user(&name)?)))
}

pub async fn delete_user(
    accounts: web::Data<Accounts>,
    _: Admin,
    name: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    accounts.delete_user(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `PATCH /access/api/v2/users/{name}` (admin): `password`, `email`, `admin`, `groups`,
/// `status` (`enabled` or `disabled`: disabling cuts every token of the user off).
pub async fn update_user(
    accounts: web::Data<Accounts>,
    _: Admin,
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = params(&req, payload).await?;
    p.allow_only(&["password", "email", "admin", "groups", "status"])?;
    let disabled = match p.string("status")?.as_deref() {
        None => None,
        Some(s) if s.eq_ignore_ascii_case("enabled") => Some(false),
        Some(s) if s.eq_ignore_ascii_case("disabled") => Some(true),
        Some(_) => {
            return Err(ServiceError::invalid_field(
                "status",
                "status must be 'enabled' or 'disabled'",
            ))
        }
    };
    let change = UserChange {
        password: p.string("password")?,
        email: p.present("email").then(|| p.string("email")).transpose()?,
        admin: p.boolean("admin")?,
        groups: p
            .present("groups")
            .then(|| p.string_list("groups"))
            .transpose()?,
        disabled,
        scim: None,
    };
    accounts.update_user(&name, change).await?;
    Ok(HttpResponse::Ok().json(user_json(&accounts.user(&name)?)))
}

/// `POST /artifactory/api/security/users/authorization/changePassword` (Artifactory's
/// call): JSON `{"userName","oldPassword","newPassword1","newPassword2"}`. The old password
/// is the credential; wrong ones count as failed logins.
pub async fn change_password(
    accounts: web::Data<Accounts>,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = params(&req, payload).await?;
    p.allow_only(&["userName", "oldPassword", "newPassword1", "newPassword2"])?;
    let username = p.required_string("userName")?;
    let old = p.required_string("oldPassword")?;
    let new = p.required_string("newPassword1")?;
    if p.string("newPassword2")?.is_some_and(|again| again != new) {
        return Err(ServiceError::invalid(
            "newPassword1 and newPassword2 differ",
        ));
    }
    let client = client_ip(&req);
    accounts
        .change_own_password(&username, &old, new, client)
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain")
        .body("Password has been successfully changed"))
}

/// `PATCH /access/api/v2/groups/{name}/members` (admin): JSON `{"add":[users],"remove":[users]}`.
pub async fn update_group_members(
    accounts: web::Data<Accounts>,
    _: Admin,
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = params(&req, payload).await?;
    p.allow_only(&["add", "remove"])?;
    accounts
        .update_group_members(&name, p.string_list("add")?, p.string_list("remove")?)
        .await?;
    let members = accounts.group_members(&name)?;
    Ok(HttpResponse::Ok().json(json!({ "name": *name, "members": members })))
}

pub async fn create_group(
    accounts: web::Data<Accounts>,
    _: Admin,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = params(&req, payload).await?;
    p.allow_only(&["name", "description"])?;
    let group = accounts
        .create_group(p.required_string("name")?, p.string("description")?)
        .await?;
    Ok(HttpResponse::Created().json(group_json(&group)))
}

pub async fn list_groups(accounts: web::Data<Accounts>, _: Admin) -> ServiceResult<HttpResponse> {
    let groups: Vec<Value> = accounts.groups()?.iter().map(group_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "groups": groups })))
}

pub async fn get_group(
    accounts: web::Data<Accounts>,
    _: Admin,
    name: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(group_json(&accounts.group(&name)?)))
}

pub async fn delete_group(
    accounts: web::Data<Accounts>,
    _: Admin,
    name: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    accounts.delete_group(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}
