//! Tokens: search, create (shown once), revoke one, revoke all of a user. The lists and
//! every change go through the same service calls, with the same rules, as the JSON API: a
//! non-admin sees, creates and revokes only their own.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use maud::html;

use super::error::{back_to, UiError};
use super::layout::{action_button, csrf_field, notice, page, respond, see_other, when};
use super::session::{cleared_session_cookie, service, Post, Signed};
use super::token_form::{create_form, create_request};
use crate::config::Config;
use crate::domain::token::{TokenKind, TokenRecord};
use crate::service::accounts::Accounts;
use crate::service::tokens::Tokens;
use crate::service::ServiceError;

const BACK: &str = "/ui/tokens";
/// Rows shown at most: the newest; a search narrows the rest.
const MAX_ROWS: usize = 200;

fn kind(r: &TokenRecord) -> &'static str {
    match r.kind {
        TokenKind::Access => "access",
        TokenKind::Pairing => "pairing",
        TokenKind::Identity => "identity",
        TokenKind::Session => "web session",
    }
}

fn matches(r: &TokenRecord, q: &str) -> bool {
    let q = q.to_lowercase();
    r.username.to_lowercase().contains(&q)
        || r.subject.to_lowercase().contains(&q)
        || r.description
            .as_deref()
            .is_some_and(|d| d.to_lowercase().contains(&q))
}

/// Messages after a redirect, by a fixed code (never text from the URL).
fn done_message(query: &[(String, String)]) -> Option<&'static str> {
    let code = query
        .iter()
        .find(|(k, _)| k == "done")
        .map(|(_, v)| v.as_str())?;
    match code {
        "revoked" => Some("Token revoked."),
        "revoked_all" => Some("Every token of the user was revoked."),
        _ => None,
    }
}

/// `GET /ui/tokens?q=...`: the caller's tokens (all, for an admin), newest first.
pub async fn list(req: HttpRequest, Signed(s): Signed) -> Result<HttpResponse, UiError> {
    let svc = service::<Tokens>(&req)?;
    let accounts = service::<Accounts>(&req)?;
    let query: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ServiceError::BadRequest(format!("bad query string: {e}")))?;
    let q = query
        .iter()
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let mut tokens = svc.list_tokens(&s.who)?;
    tokens.retain(|r| q.is_empty() || matches(r, &q));
    tokens.sort_by_key(|t| std::cmp::Reverse(t.issued_at));
    let total = tokens.len();
    tokens.truncate(MAX_ROWS);
    let groups = match s.who.admin {
        true => accounts.groups()?.into_iter().map(|g| g.name).collect(),
        false => s.who.groups.clone(),
    };
    let content = html! {
        @if let Some(m) = done_message(&query) { (notice(true, m)) }
        form.search method="get" action="/ui/tokens" {
            label for="q" { "Search by user or description" }
            input #q name="q" type="search" value=(q);
            button type="submit" { "Search" }
        }
        table #tokens {
            thead { tr { th { "User" } th { "Kind" } th { "Scope" } th { "Issued (UTC)" } th { "Expires (UTC)" } th { "Description" } th { "Id" } th {} } }
            tbody {
                @for t in &tokens {
                    tr data-token-id=(t.token_id) {
                        td { (t.username) }
                        td { (kind(t)) }
                        td.scope { (t.scope) }
                        td { (when(t.issued_at)) }
                        td { (t.expiry.map(when).unwrap_or_else(|| "never".into())) }
                        td { (t.description.as_deref().unwrap_or("")) }
                        td.id { (t.token_id) }
                        td { @if t.revocable { (action_button(&s, "/ui/tokens/revoke", &[("token_id", &t.token_id)], "Revoke")) } }
                    }
                }
            }
        }
        @if total > tokens.len() { p.hint #truncated { "The newest " (tokens.len()) " of " (total) " tokens: search to find others." } }
        @if tokens.is_empty() { p.empty { "No stored tokens" @if !q.is_empty() { " match" } "." } }
        p.hint { "Short-lived tokens that are not revocable are not stored, so they are not listed." }
        h2 { "Create a token" }
        (create_form(&s, &groups, svc.default_expiry()))
        h2 { "Revoke every token of a user" }
        form.card #revoke-user method="post" action="/ui/tokens/revoke-user" {
            (csrf_field(&s))
            @if s.who.admin {
                label for="revoke-username" { "User name" }
                input #revoke-username name="username" type="text" required;
            } @else {
                input type="hidden" name="username" value=(s.who.username);
                p { "Every token of yours stops working, including this sign-in." }
            }
            button.danger type="submit" { "Revoke all" }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page("Tokens", Some(&s), BACK, content),
    ))
}

/// `POST /ui/tokens`: the new token, shown once (never stored in a form or a URL).
pub async fn create(req: HttpRequest, post: Post) -> Result<HttpResponse, UiError> {
    let svc = service::<Tokens>(&req)?;
    let s = &post.session;
    let request = create_request(&post.form).map_err(back_to(BACK))?;
    let issued = svc
        .create_token(&s.who, request)
        .await
        .map_err(back_to(BACK))?;
    let content = html! {
        (notice(true, "Token created. Copy it now: it is not shown again."))
        dl.secret {
            dt { "Access token" } dd { code #new-token { (issued.access_token) } }
            dt { "Token id" } dd { code #new-token-id { (issued.token_id) } }
            dt { "Scope" } dd { code { (issued.scope) } }
            @if let Some(r) = &issued.refresh_token { dt { "Refresh token" } dd { code #new-refresh-token { (r) } } }
            @if let Some(r) = &issued.reference_token { dt { "Reference token" } dd { code #new-reference-token { (r) } } }
        }
        p { a href=(BACK) { "Back to the tokens" } }
    };
    Ok(respond(
        StatusCode::OK,
        page("New token", Some(s), BACK, content),
    ))
}

/// `POST /ui/tokens/revoke`: one token, by id (admins any, others their own).
pub async fn revoke(post: Post, req: HttpRequest) -> Result<HttpResponse, UiError> {
    let svc = service::<Tokens>(&req)?;
    let id = post
        .form
        .required("token_id", "The token id")
        .map_err(back_to(BACK))?;
    svc.revoke(&post.session.who, id)
        .await
        .map_err(back_to(BACK))?;
    Ok(see_other("/ui/tokens?done=revoked"))
}

/// `POST /ui/tokens/revoke-user`: every token of a user (admins any, others themselves).
/// Revoking one's own ends this session too.
pub async fn revoke_user(post: Post, req: HttpRequest) -> Result<HttpResponse, UiError> {
    let svc = service::<Accounts>(&req)?;
    let config = service::<Config>(&req)?;
    let who = &post.session.who;
    let username = post
        .form
        .required("username", "The user name")
        .map_err(back_to(BACK))?;
    svc.revoke_tokens_of(who, username)
        .await
        .map_err(back_to(BACK))?;
    if username != who.username {
        return Ok(see_other("/ui/tokens?done=revoked_all"));
    }
    let mut response = see_other("/ui/login?signed_out");
    response
        .add_cookie(&cleared_session_cookie(&config))
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(response)
}
