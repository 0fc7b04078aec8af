//! Users and groups (admins only): list, create, delete, group membership. Every change is
//! the service call the JSON API makes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use maud::html;

use super::error::{back_to, UiError};
use super::layout::{action_button, csrf_field, page, respond, see_other, when};
use super::session::{service, AdminPost, AdminSigned};
use crate::service::accounts::{Accounts, NewUser};
use crate::service::ServiceError;

const USERS: &str = "/ui/users";
const GROUPS: &str = "/ui/groups";

/// `GET /ui/users`.
pub async fn users(req: HttpRequest, AdminSigned(s): AdminSigned) -> Result<HttpResponse, UiError> {
    let svc = service::<Accounts>(&req)?;
    let users = svc.users()?;
    let groups = svc.groups()?;
    let content = html! {
        table #users {
            thead { tr { th { "User" } th { "Email" } th { "Admin" } th { "Groups" } th { "Created (UTC)" } th {} } }
            tbody {
                @for u in &users {
                    tr data-user=(u.username) {
                        td { (u.username) }
                        td { (u.email.as_deref().unwrap_or("")) }
                        td { @if u.admin { span.badge { "admin" } } }
                        td { (u.groups.join(", ")) }
                        td { (when(u.created_at)) }
                        td { (action_button(&s, "/ui/users/delete", &[("username", &u.username)], "Delete")) }
                    }
                }
            }
        }
        p.hint { "Deleting a user revokes all its tokens. Group membership is changed on the Groups page." }
        h2 { "Create a user" }
        form.card #create-user method="post" action="/ui/users" {
            (csrf_field(&s))
            label for="new-username" { "User name" }
            input #new-username name="username" type="text" required;
            label for="new-password" { "Password (8 characters or more)" }
            input #new-password name="password" type="password" autocomplete="new-password" required;
            label for="new-email" { "Email" }
            input #new-email name="email" type="email";
            label.choice { input type="checkbox" name="admin" value="1"; " admin" }
            @if !groups.is_empty() {
                div.groups {
                    span { "Groups:" }
                    @for g in &groups {
                        label.choice { input type="checkbox" name="groups" value=(g.name); " " (g.name) }
                    }
                }
            }
            button.primary type="submit" { "Create user" }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page("Users", Some(&s), USERS, content),
    ))
}

/// `POST /ui/users`.
pub async fn create_user(req: HttpRequest, post: AdminPost) -> Result<HttpResponse, UiError> {
    let svc = service::<Accounts>(&req)?;
    let f = &post.form;
    let back = back_to(USERS);
    let user = NewUser {
        username: f
            .required("username", "The user name")
            .map_err(&back)?
            .to_string(),
        password: f
            .raw("password")
            .ok_or_else(|| back(ServiceError::BadRequest("the password is required".into())))?
            .to_string(),
        email: f.get("email").map(String::from),
        admin: f.checked("admin"),
        groups: f.all("groups").into_iter().map(String::from).collect(),
    };
    svc.create_user(user).await.map_err(back)?;
    Ok(see_other(USERS))
}

/// `POST /ui/users/delete`.
pub async fn delete_user(req: HttpRequest, post: AdminPost) -> Result<HttpResponse, UiError> {
    let svc = service::<Accounts>(&req)?;
    let back = back_to(USERS);
    let name = post
        .form
        .required("username", "The user name")
        .map_err(&back)?;
    svc.delete_user(name).await.map_err(back)?;
    Ok(see_other(USERS))
}

/// `GET /ui/groups`: groups with their members.
pub async fn groups(
    req: HttpRequest,
    AdminSigned(s): AdminSigned,
) -> Result<HttpResponse, UiError> {
    let svc = service::<Accounts>(&req)?;
    let groups = svc.groups()?;
    let users: Vec<String> = svc.users()?.into_iter().map(|u| u.username).collect();
    let mut rows = Vec::with_capacity(groups.len());
    for g in groups {
        let members = svc.group_members(&g.name)?;
        rows.push((g, members));
    }
    let content = html! {
        table #groups {
            thead { tr { th { "Group" } th { "Description" } th { "Members" } th { "Add a member" } th {} } }
            tbody {
                @for (g, members) in &rows {
                    tr data-group=(g.name) {
                        td { (g.name) }
                        td { (g.description.as_deref().unwrap_or("")) }
                        td {
                            @for m in members {
                                span.member { (m) " " (action_button(&s, "/ui/groups/members", &[("group", &g.name), ("remove", m)], "remove")) }
                            }
                        }
                        td {
                            form.inline method="post" action="/ui/groups/members" {
                                (csrf_field(&s))
                                input type="hidden" name="group" value=(g.name);
                                select name="add" aria-label="User to add" {
                                    @for u in users.iter().filter(|u| !members.contains(u)) {
                                        option value=(u) { (u) }
                                    }
                                }
                                button type="submit" { "Add" }
                            }
                        }
                        td { (action_button(&s, "/ui/groups/delete", &[("name", &g.name)], "Delete")) }
                    }
                }
            }
        }
        h2 { "Create a group" }
        form.card #create-group method="post" action="/ui/groups" {
            (csrf_field(&s))
            label for="group-name" { "Name" }
            input #group-name name="name" type="text" required;
            label for="group-description" { "Description" }
            input #group-description name="description" type="text";
            button.primary type="submit" { "Create group" }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page("Groups", Some(&s), GROUPS, content),
    ))
}

/// `POST /ui/groups`.
pub async fn create_group(req: HttpRequest, post: AdminPost) -> Result<HttpResponse, UiError> {
    let svc = service::<Accounts>(&req)?;
    let back = back_to(GROUPS);
    let name = post
        .form
        .required("name", "The group name")
        .map_err(&back)?;
    let description = post.form.get("description").map(String::from);
    svc.create_group(name.to_string(), description)
        .await
        .map_err(back)?;
    Ok(see_other(GROUPS))
}

/// `POST /ui/groups/delete`.
pub async fn delete_group(req: HttpRequest, post: AdminPost) -> Result<HttpResponse, UiError> {
    let svc = service::<Accounts>(&req)?;
    let back = back_to(GROUPS);
    let name = post
        .form
        .required("name", "The group name")
        .map_err(&back)?;
    svc.delete_group(name).await.map_err(back)?;
    Ok(see_other(GROUPS))
}

/// `POST /ui/groups/members`: `add` or `remove` one user.
pub async fn members(req: HttpRequest, post: AdminPost) -> Result<HttpResponse, UiError> {
    let svc = service::<Accounts>(&req)?;
    let back = back_to(GROUPS);
    let f = &post.form;
    let group = f.required("group", "The group").map_err(&back)?;
    let add: Vec<String> = f.get("add").map(String::from).into_iter().collect();
    let remove: Vec<String> = f.get("remove").map(String::from).into_iter().collect();
    if add.is_empty() && remove.is_empty() {
        return Err(back(ServiceError::BadRequest(
            "choose a user to add or remove".into(),
        )));
    }
    svc.update_group_members(group, add, remove)
        .await
        .map_err(back)?;
    Ok(see_other(GROUPS))
}
