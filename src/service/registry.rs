//! Docker Registry v2 token authentication: a short-lived RS256 token for a registry, whose
//! `access` claim grants only what the caller may do (pull reads, push writes) through the
//! one permission check. Signed with the active key; the header's `x5c` carries root.crt, which
//! the registry verifies against its root bundle. Nothing is stored: the token lives
//! `docker.token-expiry` seconds.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;

use std::net::IpAddr;

use super::auth::Credentials;
use super::login_audit::LoginKind;
use std::sync::Arc;

use super::auth::Auth;
use super::clock::ClusterClock;
use super::permissions::Permissions;
use super::tokens::Tokens;
use super::{keyset, ServiceError, ServiceResult};
use crate::config::Config;
use crate::crypto::certificate_der;
use crate::domain::policy::Principal;
use crate::domain::registry::{merge, parse_scopes, repository_action, ResourceAccess};
use crate::store::StateView;

/// What a registry token request asks for.
pub struct RegistryTokenRequest {
    /// The registry's service name: the token's audience.
    pub service: Option<String>,
    /// The `scope` parameters as sent.
    pub scopes: Vec<String>,
    /// The Artifactory form `/artifactory/api/docker/{repo}/v2/token` names the repository:
    /// image names are then paths inside it.
    pub repository: Option<String>,
    /// `offline_token=true` (GET) or `access_type=offline` (POST): the client (`docker
    /// login`) wants a refresh token to keep instead of the password.
    pub offline: bool,
}

pub struct RegistryToken {
    /// Who it was issued to (None: anonymous).
    pub subject: Option<String>,
    pub token: String,
    pub expires_in: u64,
    pub issued_at: u64,
    /// For an offline request with a password: an identity token of the user, which the
    /// client stores and sends back as `grant_type=refresh_token` (or as the password).
    pub refresh_token: Option<String>,
}

#[derive(Serialize)]
struct RegistryClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    nbf: u64,
    iat: u64,
    jti: String,
    access: &'a [ResourceAccess],
}

/// Docker registry tokens.
pub struct Registry {
    config: Arc<Config>,
    state: StateView,
    clock: Arc<ClusterClock>,
    auth: Arc<Auth>,
    permissions: Arc<Permissions>,
    /// `docker login` with a password gets an identity token to keep.
    tokens: Arc<Tokens>,
}

impl Registry {
    pub fn new(
        config: Arc<Config>,
        state: StateView,
        clock: Arc<ClusterClock>,
        auth: Arc<Auth>,
        permissions: Arc<Permissions>,
        tokens: Arc<Tokens>,
    ) -> Registry {
        Registry {
            config,
            state,
            clock,
            auth,
            permissions,
            tokens,
        }
    }
}

impl Registry {
    /// The access `who` gets out of `requested`: anonymous callers nothing, admins everything
    /// asked, others each repository action their rights on `<name>` (or `<repo>/<name>`)
    /// allow.
    fn granted_access(
        &self,
        who: Option<&Principal>,
        requested: Vec<ResourceAccess>,
        repository: Option<&str>,
    ) -> ServiceResult<Vec<ResourceAccess>> {
        let Some(who) = who else {
            return Ok(Vec::new());
        };
        let mut granted = Vec::new();
        for mut entry in requested {
            if !who.admin {
                let path = match repository {
                    Some(repo) => format!("{repo}/{}", entry.name),
                    None => entry.name.clone(),
                };
                let mut allowed = Vec::new();
                for a in entry.actions {
                    let right = match (entry.kind.as_str(), repository_action(&a)) {
                        ("repository", Some(right)) => right,
                        _ => continue,
                    };
                    if self
                        .permissions
                        .check_permission(who, &path, right)?
                        .allowed
                    {
                        allowed.push(a);
                    }
                }
                entry.actions = allowed;
            }
            granted.push(entry);
        }
        Ok(merge(granted))
    }

    /// Authenticate `credentials` (None: anonymous; bad ones are 401, throttled logins 429),
    /// then issue a registry token for the caller. Docker sends a password on every pull and
    /// push: its logins are [`LoginKind::Repeated`].
    pub async fn registry_token_for(
        &self,
        credentials: Option<Credentials<'_>>,
        strict: bool,
        client: Option<IpAddr>,
        request: RegistryTokenRequest,
    ) -> ServiceResult<RegistryToken> {
        let who = match credentials {
            Some(c) => Some(
                self.auth
                    .authenticate(c, strict, client, LoginKind::Repeated)
                    .await?,
            ),
            None => None,
        };
        let offline = request.offline;
        self.clock.check_for_minting().await?;
        let mut answer = self.registry_token(who.as_ref(), request)?;
        // Only a password login gets a refresh token: a token never yields a longer-lived one.
        if let Some(who) = who.as_ref().filter(|w| offline && w.token_id.is_none()) {
            let identity = self
                .tokens
                .create_identity(who, Some("docker login".into()))
                .await?;
            answer.refresh_token = Some(identity.access_token);
        }
        Ok(answer)
    }

    /// A registry token for `who` (None: anonymous).
    pub fn registry_token(
        &self,
        who: Option<&Principal>,
        request: RegistryTokenRequest,
    ) -> ServiceResult<RegistryToken> {
        if let Some(repo) = &request.repository {
            if !crate::domain::names::valid_name(repo) {
                return Err(ServiceError::invalid(format!(
                    "invalid repository '{repo}'"
                )));
            }
        }
        let requested = parse_scopes(request.scopes.iter().map(String::as_str))
            .map_err(|e| ServiceError::invalid(e.to_string()))?;
        let access = self.granted_access(who, requested, request.repository.as_deref())?;
        let keys = keyset(&self.state)?;
        let not_ready = || ServiceError::unavailable("the signing key is changing");
        let active = self.state.active_key()?.ok_or_else(not_ready)?;
        if active.kid != keys.active.kid {
            return Err(not_ready());
        }
        let x5c = vec![STANDARD.encode(certificate_der(&active.certificate_pem)?)];
        let now = self.clock.now_secs();
        let expires_in = self.config.docker.token_expiry;
        let audience = match &request.service {
            Some(s) => s.clone(),
            None => keys.service_id.clone(),
        };
        let claims = RegistryClaims {
            iss: &keys.service_id,
            sub: who.map(|w| w.username.as_str()).unwrap_or(""),
            aud: &audience,
            exp: now + expires_in,
            nbf: now,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            access: &access,
        };
        let token = keys.active.sign_json_with_x5c(&claims, &x5c)?;
        tracing::debug!(
            subject = claims.sub,
            audience = %audience,
            granted = access.len(),
            "registry token issued"
        );
        Ok(RegistryToken {
            subject: who.map(|w| w.username.clone()),
            token,
            expires_in,
            issued_at: now,
            refresh_token: None,
        })
    }
}
