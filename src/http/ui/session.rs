//! The signed-in caller of the page, resolved at the edge like the API's `Caller`: the
//! session cookie names a session (see `service::sessions`), which acts exactly as a password
//! login of its user. POST handlers take [`Post`]/[`AdminPost`], which also check the origin
//! and the synchronizer token, so no form handler can forget them.

use std::sync::Arc;

use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures::future::LocalBoxFuture;

use super::csrf::{same_origin, same_token};
use super::error::UiError;
use super::form::Form;
use crate::config::Config;
use crate::domain::policy::require_admin;
use crate::http::request_log::Subject;
use crate::service::sessions::Session;
use crate::service::sessions::Sessions;
use crate::service::ServiceError;

/// The session cookie: a random secret whose hash names a stored session record.
pub const SESSION_COOKIE: &str = "access_session";
/// The sign-in form's own token (double submit: cookie and hidden field).
pub const LOGIN_COOKIE: &str = "access_login";
/// How long a sign-in form may be left open.
const LOGIN_FORM_SECS: i64 = 900;

/// The use case `T` (or the node's configuration), as `app::UseCases` registered it.
pub fn service<T: 'static>(req: &HttpRequest) -> Result<Arc<T>, UiError> {
    Ok(crate::http::extract::use_case::<T>(req)?)
}

fn cookie<'a>(
    config: &Config,
    name: &'a str,
    value: String,
    path: &'a str,
    secs: i64,
) -> Cookie<'a> {
    Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(config.tls.enabled())
        .max_age(Duration::seconds(secs))
        .finish()
}

pub fn session_cookie(config: &Config, secret: String) -> Cookie<'static> {
    let secs = i64::try_from(config.ui.session_expiry).unwrap_or(3600);
    cookie(config, SESSION_COOKIE, secret, "/", secs)
}

/// Expires the session cookie in the browser.
pub fn cleared_session_cookie(config: &Config) -> Cookie<'static> {
    cookie(config, SESSION_COOKIE, String::new(), "/", 0)
}

pub fn login_cookie(config: &Config, token: String) -> Cookie<'static> {
    cookie(config, LOGIN_COOKIE, token, "/ui/login", LOGIN_FORM_SECS)
}

pub fn cleared_login_cookie(config: &Config) -> Cookie<'static> {
    cookie(config, LOGIN_COOKIE, String::new(), "/ui/login", 0)
}

/// The session the request's cookie names; not signed in is a 401 (a redirect to sign in).
pub async fn session_of(req: &HttpRequest) -> Result<Session, UiError> {
    let svc = service::<Sessions>(req)?;
    let secret = req
        .cookie(SESSION_COOKIE)
        .ok_or_else(|| ServiceError::Unauthorized("not signed in".into()))?;
    let session = svc.session(secret.value()).await?;
    req.extensions_mut()
        .insert(Subject(session.who.username.clone()));
    Ok(session)
}

/// A signed-in user.
pub struct Signed(pub Session);

/// A signed-in admin (403 for anyone else, as the API's `Admin`).
pub struct AdminSigned(pub Session);

/// A signed-in user's form post, from this site, with the session's CSRF token.
pub struct Post {
    pub session: Session,
    pub form: Form,
}

/// An admin's form post.
pub struct AdminPost {
    pub form: Form,
}

async fn checked_post(req: HttpRequest, payload: web::Payload) -> Result<Post, UiError> {
    let session = session_of(&req).await?;
    same_origin(&req)?;
    let form = Form::read(&req, payload, crate::http::extract::body_limit(&req)).await?;
    same_token(form.get("csrf"), &session.csrf)?;
    Ok(Post { session, form })
}

impl FromRequest for Signed {
    type Error = UiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { session_of(&req).await.map(Signed) })
    }
}

impl FromRequest for AdminSigned {
    type Error = UiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let session = session_of(&req).await?;
            require_admin(&session.who).map_err(ServiceError::from)?;
            Ok(AdminSigned(session))
        })
    }
}

impl FromRequest for Post {
    type Error = UiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Payload::from_request(&req, payload);
        Box::pin(async move {
            let body = body
                .await
                .map_err(|e| ServiceError::BadRequest(e.to_string()))?;
            checked_post(req, body).await
        })
    }
}

impl FromRequest for AdminPost {
    type Error = UiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let post = Post::from_request(req, payload);
        Box::pin(async move {
            let Post { session, form } = post.await?;
            require_admin(&session.who).map_err(ServiceError::from)?;
            Ok(AdminPost { form })
        })
    }
}
