//! Sign in and sign out. Signing in is the API's throttled password login: failures count
//! against the same per-name and per-address limits, cluster-wide.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::csrf::{same_origin, same_token};
use super::error::{back_to, UiError};
use super::form::Form;
use super::layout::{notice, page, respond, see_other};
use super::session::{
    cleared_login_cookie, cleared_session_cookie, login_cookie, service, session_cookie, Post,
    LOGIN_COOKIE,
};
use crate::config::Config;
use crate::http::extract::client_ip;
use crate::service::sessions::Sessions;
use crate::service::ServiceError;

fn login_form(token: &str, message: Option<(bool, &str)>) -> Markup {
    page(
        "Sign in",
        None,
        "",
        html! {
            @if let Some((ok, text)) = message { (notice(ok, text)) }
            form.card method="post" action="/ui/login" {
                input type="hidden" name="csrf" value=(token);
                label for="username" { "User name" }
                input #username name="username" type="text" autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password name="password" type="password" autocomplete="current-password" required;
                button.primary type="submit" { "Sign in" }
            }
        },
    )
}

/// `GET /ui/login`: a fresh form and its token (`?signed_out` after signing out).
pub async fn form(req: HttpRequest) -> Result<HttpResponse, UiError> {
    let config = service::<Config>(&req)?;
    let token = crate::crypto::random_secret();
    let signed_out = req.query_string().split('&').any(|kv| kv == "signed_out");
    let message = signed_out.then_some((true, "Signed out."));
    let mut response = respond(StatusCode::OK, login_form(&token, message));
    response
        .add_cookie(&login_cookie(&config, token))
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(response)
}

/// `POST /ui/login`: on success a session cookie and a redirect to the tokens.
pub async fn submit(req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, UiError> {
    let config = service::<Config>(&req)?;
    let svc = service::<Sessions>(&req)?;
    let back = back_to("/ui/login");
    same_origin(&req).map_err(&back)?;
    let form = Form::read(&req, payload, config.server.max_body_bytes)
        .await
        .map_err(&back)?;
    let expected = req.cookie(LOGIN_COOKIE).map(|c| c.value().to_string());
    match expected {
        Some(expected) => same_token(form.get("csrf"), &expected).map_err(&back)?,
        None => {
            return Err(back(ServiceError::invalid(
                "the sign-in form has expired: load it again",
            )))
        }
    }
    let username = form.get("username").unwrap_or_default();
    let password = form.raw("password").unwrap_or_default();
    let client = client_ip(&req);
    let secret = match svc.start_session(username, password, client).await {
        Ok((secret, _)) => secret,
        Err(ServiceError::Unauthenticated(_)) => {
            // Wrong name or password: the form again, with a new token.
            let token = crate::crypto::random_secret();
            let mut response = respond(
                StatusCode::UNAUTHORIZED,
                login_form(&token, Some((false, "Wrong user name or password."))),
            );
            response
                .add_cookie(&login_cookie(&config, token))
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            return Ok(response);
        }
        Err(e) => return Err(back(e)),
    };
    let mut response = see_other("/ui/tokens");
    for cookie in [
        session_cookie(&config, secret),
        cleared_login_cookie(&config),
    ] {
        response
            .add_cookie(&cookie)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
    }
    Ok(response)
}

/// `POST /ui/logout`: the session ends on every node.
pub async fn logout(req: HttpRequest, post: Post) -> Result<HttpResponse, UiError> {
    let config = service::<Config>(&req)?;
    let svc = service::<Sessions>(&req)?;
    svc.end_session(&post.session).await?;
    let mut response = see_other("/ui/login?signed_out");
    response
        .add_cookie(&cleared_session_cookie(&config))
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(response)
}
