//! The caller, resolved at the edge: handlers take a [`Caller`], an [`Admin`] or a
//! [`PeerNode`] argument instead of starting with the same authentication call.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderMap, HeaderName, AUTHORIZATION, FORWARDED};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures::future::LocalBoxFuture;

use crate::config::Config;
use crate::crypto::Verified;
use crate::domain::forwarded::TrustedProxies;
use crate::domain::policy::{require_admin, Principal};
use crate::raft::network::JOIN_KEY_HEADER;
use crate::service::auth::{Auth, Credentials};
use crate::service::cluster::Cluster;
use crate::service::login_audit::LoginKind;
use crate::service::{ServiceError, ServiceResult};
use crate::tls::VerifiedClientCert;

/// Header or query parameter asking for a linearizable revocation check.
pub const CONSISTENCY_HEADER: &str = "x-access-consistency";

/// The use case `T`, as `app::UseCases` registered it.
pub fn use_case<T: 'static>(req: &HttpRequest) -> ServiceResult<Arc<T>> {
    req.app_data::<web::Data<T>>()
        .map(|d| d.clone().into_inner())
        .ok_or_else(|| ServiceError::Internal("services are not configured".into()))
}

/// The largest request body a handler reads (`server.max-body-bytes`).
pub fn body_limit(req: &HttpRequest) -> usize {
    req.app_data::<web::Data<Config>>()
        .map_or(1024 * 1024, |c| c.server.max_body_bytes)
}

/// The client address, resolved once per request (and kept on it): the TCP peer, or behind a
/// peer in `server.trusted-proxies` the client its forwarding headers name. Every use of a
/// client address (login throttling, the audit trail, request logs, `metrics.anonymous-from`)
/// reads it from here.
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    #[derive(Clone, Copy)]
    struct Resolved(Option<IpAddr>);
    if let Some(Resolved(ip)) = req.extensions().get::<Resolved>() {
        return *ip;
    }
    let peer = req.peer_addr().map(|a| a.ip());
    let ip = match (peer, req.app_data::<web::Data<TrustedProxies>>()) {
        (Some(peer), Some(proxies)) if !proxies.is_empty() => {
            let headers = req.headers();
            let forwarded = joined(headers, &FORWARDED);
            let x_forwarded_for = joined(headers, &X_FORWARDED_FOR);
            Some(proxies.client(peer, forwarded.as_deref(), x_forwarded_for.as_deref()))
        }
        (peer, _) => peer,
    };
    req.extensions_mut().insert(Resolved(ip));
    ip
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Every line of header `name`, in order, joined by commas (None without one). A line that is
/// not text makes the header unreadable: then the whole header is "" (no entry, the peer).
fn joined(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let mut lines = headers.get_all(name).peekable();
    lines.peek()?;
    let texts: Option<Vec<&str>> = lines.map(|v| v.to_str().ok()).collect();
    Some(texts.map(|t| t.join(",")).unwrap_or_default())
}

/// The credentials the Authorization header carries (None without one); malformed is 401.
pub(crate) fn credentials(req: &HttpRequest) -> ServiceResult<Option<Credentials<'_>>> {
    let Some(header) = req.headers().get(AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = |what: &str| ServiceError::Unauthenticated(format!("malformed {what}"));
    // UTF-8 check of the bytes (vectorised) rather than `to_str`'s byte-by-byte one: a
    // token is a kilobyte, and what it holds is checked again when it is parsed.
    let header =
        std::str::from_utf8(header.as_bytes()).map_err(|_| malformed("Authorization header"))?;
    let (scheme, value) = header
        .split_once(' ')
        .ok_or_else(|| malformed("Authorization header"))?;
    let value = value.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(Credentials::Bearer(value.into())));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(value)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| malformed("Basic credentials"))?;
        let (user, secret) = decoded
            .split_once(':')
            .ok_or_else(|| malformed("Basic credentials"))?;
        return Ok(Some(Credentials::Basic {
            user: user.to_string(),
            secret: secret.to_string(),
        }));
    }
    Err(ServiceError::Unauthenticated(format!(
        "unsupported authorization scheme '{scheme}'"
    )))
}

/// Whether the request asks for a linearizable revocation check.
pub fn strict(req: &HttpRequest) -> bool {
    // A constant name: looking a header up by `&str` parses the name on every request.
    const HEADER: HeaderName = HeaderName::from_static(CONSISTENCY_HEADER);
    let header = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("strict"));
    header
        || req
            .query_string()
            .split('&')
            .any(|kv| kv == "consistency=strict")
}

/// Validate a token given in a request body, honouring the request's strict flag.
pub async fn validate_any(auth: &Auth, req: &HttpRequest, token: &str) -> ServiceResult<Verified> {
    auth.validate_any(token, strict(req)).await
}

/// The caller, or None when the request carries no credentials. Bad credentials are 401. A
/// password in them is an API call's login ([`LoginKind::Repeated`]).
pub async fn resolve_caller(req: &HttpRequest) -> ServiceResult<Option<Principal>> {
    resolve_caller_as(req, LoginKind::Repeated).await
}

/// [`resolve_caller`], for a call where a password is a login of `kind`.
pub async fn resolve_caller_as(
    req: &HttpRequest,
    kind: LoginKind,
) -> ServiceResult<Option<Principal>> {
    let auth = use_case::<Auth>(req)?;
    let Some(creds) = credentials(req)? else {
        return Ok(None);
    };
    let client = client_ip(req);
    let who = auth.authenticate(creds, strict(req), client, kind).await?;
    // The request log reads the caller from here too (no request extension to allocate).
    crate::telemetry::context::set_actor(&who.username);
    Ok(Some(who))
}

/// An authenticated caller (401 when anonymous).
pub struct Caller(pub Principal);

/// A caller that may be anonymous (bad credentials are still 401).
pub struct MaybeCaller(pub Option<Principal>);

/// An authenticated admin (401 when anonymous, 403 otherwise).
pub struct Admin(pub Principal);

/// A peer node: the request carries the cluster join key.
pub struct PeerNode;

impl FromRequest for MaybeCaller {
    type Error = ServiceError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { resolve_caller(&req).await.map(MaybeCaller) })
    }
}

impl FromRequest for Caller {
    type Error = ServiceError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            resolve_caller(&req)
                .await?
                .map(Caller)
                .ok_or_else(|| ServiceError::Unauthenticated("authentication required".into()))
        })
    }
}

impl FromRequest for Admin {
    type Error = ServiceError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let who = resolve_caller(&req)
                .await?
                .ok_or_else(|| ServiceError::Unauthenticated("authentication required".into()))?;
            require_admin(&who)?;
            Ok(Admin(who))
        })
    }
}

impl FromRequest for PeerNode {
    type Error = ServiceError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    /// The join key, compared in constant time.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let check = || {
            let cluster = use_case::<Cluster>(req)?;
            let given = req
                .headers()
                .get(JOIN_KEY_HEADER)
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            let certified = req.conn_data::<VerifiedClientCert>().is_some();
            if cluster.requires_client_cert() && !certified {
                tracing::warn!(peer = ?req.peer_addr(), path = req.path(), "cluster RPC without a client certificate");
                return Err(ServiceError::Unauthenticated(
                    "cluster RPC needs a client certificate signed by the cluster CA".into(),
                ));
            }
            if constant_time_eq::constant_time_eq(given, cluster.join_key().as_bytes()) {
                Ok(PeerNode)
            } else {
                tracing::warn!(peer = ?req.peer_addr(), path = req.path(), "cluster RPC with a wrong or missing join key");
                Err(ServiceError::Unauthenticated(
                    "cluster RPC needs the cluster join key".into(),
                ))
            }
        };
        std::future::ready(check())
    }
}
