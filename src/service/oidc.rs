//! OIDC identity providers, identity mappings, and the token exchange: a CI job's ID token
//! (GitHub Actions, GitLab, any OIDC issuer) for a short-lived access token of ours, as the
//! admin's mappings decide.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::clock::ClusterClock;
use super::tokens::{IssueSpec, IssuedToken, Tokens};
use super::writes::Writes;
use super::{ServiceError, ServiceResult};
use crate::config::Config;
use crate::domain::oidc::{
    claims_match, grant, is_loopback_issuer, select_mapping, FieldError, IdentityMapping,
    OidcProvider,
};
use crate::domain::scope::Scope;
use crate::domain::token::TokenKind;
use crate::oidc::keys::Fetch;
use crate::oidc::verify::token_header;
use crate::oidc::{verify_id_token, IdTokenError, IssuerError, IssuerKeys, TimeRules};
use crate::raft::command::{Command, CommandResponse};
use crate::store::StateView;
use crate::telemetry::audit::Event;
use crate::telemetry::metrics;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// Some clients name the subject token a plain JWT.
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

impl From<FieldError> for ServiceError {
    fn from(e: FieldError) -> Self {
        ServiceError::invalid_field(e.field, format!("{} {}", e.field, e.why))
    }
}

/// An exchange request, as parsed (JFrog's field names).
#[derive(Debug, Default)]
pub struct ExchangeRequest {
    pub grant_type: String,
    pub subject_token_type: String,
    pub subject_token: String,
    pub provider_name: String,
    pub identity_mapping_name: Option<String>,
    pub audience: Option<String>,
    pub project_key: Option<String>,
    pub include_reference_token: bool,
    /// What the CI job says of itself (`job_id`, `gh_repo`, …): audited, never trusted.
    pub job: Map<String, Value>,
}

/// A granted exchange: the token, and whom it was issued to.
pub struct Exchanged {
    pub token: IssuedToken,
    pub username: String,
}

/// Providers, mappings and the exchange.
pub struct Oidc {
    config: Arc<Config>,
    state: StateView,
    writes: Arc<Writes>,
    clock: Arc<ClusterClock>,
    tokens: Arc<Tokens>,
    keys: Arc<IssuerKeys>,
}

fn refused(e: IdTokenError) -> ServiceError {
    ServiceError::Unauthenticated(e.to_string())
}

impl Oidc {
    pub fn new(
        config: Arc<Config>,
        state: StateView,
        writes: Arc<Writes>,
        clock: Arc<ClusterClock>,
        tokens: Arc<Tokens>,
        keys: Arc<IssuerKeys>,
    ) -> Oidc {
        Oidc {
            config,
            state,
            writes,
            clock,
            tokens,
            keys,
        }
    }

    pub fn providers(&self) -> ServiceResult<Vec<OidcProvider>> {
        Ok(self.state.accounts().oidc_providers()?)
    }

    pub fn provider(&self, name: &str) -> ServiceResult<OidcProvider> {
        self.state
            .accounts()
            .oidc_provider(name)?
            .ok_or_else(|| ServiceError::not_found("OIDC provider", name))
    }

    /// Create (`create_only`) or replace a provider. https issuers only, but on loopback or
    /// with `oidc.allow-http-issuers`.
    pub async fn put_provider(&self, p: OidcProvider, create_only: bool) -> ServiceResult<()> {
        p.check()?;
        if p.issuer_url.starts_with("http://")
            && !is_loopback_issuer(&p.issuer_url)
            && !self.config.oidc.allow_http_issuers
        {
            return Err(ServiceError::invalid_field(
                "issuer_url",
                "issuer_url must be https (plain http only on loopback, or with \
                 oidc.allow-http-issuers)",
            ));
        }
        let name = p.name.clone();
        match self
            .writes
            .write(Command::PutOidcProvider {
                provider: p,
                create_only,
                at_ms: self.clock.now_ms(),
            })
            .await?
        {
            CommandResponse::Conflict => Err(ServiceError::Conflict(format!(
                "OIDC provider '{name}' already exists"
            ))),
            _ => {
                self.keys.forget(&name);
                Ok(())
            }
        }
    }

    pub async fn delete_provider(&self, name: &str) -> ServiceResult<()> {
        match self
            .writes
            .write(Command::DeleteOidcProvider {
                name: name.to_string(),
                at_ms: self.clock.now_ms(),
            })
            .await?
        {
            CommandResponse::Ok => {
                self.keys.forget(name);
                Ok(())
            }
            _ => Err(ServiceError::not_found("OIDC provider", name)),
        }
    }

    pub fn mappings(&self, provider: &str) -> ServiceResult<Vec<IdentityMapping>> {
        self.provider(provider)?;
        Ok(self.state.accounts().identity_mappings(provider)?)
    }

    pub fn mapping(&self, provider: &str, name: &str) -> ServiceResult<IdentityMapping> {
        self.mappings(provider)?
            .into_iter()
            .find(|m| m.name == name)
            .ok_or_else(|| ServiceError::not_found("identity mapping", name))
    }

    pub async fn put_mapping(&self, m: IdentityMapping, create_only: bool) -> ServiceResult<()> {
        m.check()?;
        Scope::parse(&m.token_spec.scope)?;
        let (provider, name) = (m.provider_name.clone(), m.name.clone());
        match self
            .writes
            .write(Command::PutIdentityMapping {
                mapping: m,
                create_only,
                at_ms: self.clock.now_ms(),
            })
            .await?
        {
            CommandResponse::Ok => Ok(()),
            CommandResponse::Conflict => Err(ServiceError::Conflict(format!(
                "identity mapping '{name}' already exists"
            ))),
            _ => Err(ServiceError::not_found("OIDC provider", provider)),
        }
    }

    pub async fn delete_mapping(&self, provider: &str, name: &str) -> ServiceResult<()> {
        match self
            .writes
            .write(Command::DeleteIdentityMapping {
                provider: provider.to_string(),
                name: name.to_string(),
                at_ms: self.clock.now_ms(),
            })
            .await?
        {
            CommandResponse::Ok => Ok(()),
            _ => Err(ServiceError::not_found("identity mapping", name)),
        }
    }

    /// Exchange an ID token for an access token. Every refusal is audited (with the claims
    /// that decided, never a token) and issues nothing.
    pub async fn exchange(&self, req: ExchangeRequest) -> ServiceResult<Exchanged> {
        // The name comes from an unauthenticated caller: only a provider's own name is
        // written to metrics and the audit trail.
        let found = self.state.accounts().oidc_provider(&req.provider_name);
        let provider = match &found {
            Ok(Some(p)) => p.name.clone(),
            _ => "unknown".to_string(),
        };
        let mut decided = Map::new();
        let outcome = match found {
            Ok(Some(p)) => self.exchange_inner(&req, p, &mut decided).await,
            Ok(None) => Err(ServiceError::not_found("OIDC provider", &req.provider_name)),
            Err(e) => Err(e.into()),
        };
        let mut event = match &outcome {
            Ok(done) => Event::new("oidc.exchanged")
                .subject(done.username.clone())
                .field("token_id", &done.token.token_id)
                .field("scope", &done.token.scope),
            Err(e) => Event::new("oidc.refused").field("reason", e.to_string()),
        };
        event = event
            .field("provider", &provider)
            .field("claims", &decided)
            .field("job", &req.job);
        event.emit();
        metrics::oidc_exchange(
            &provider,
            match &outcome {
                Ok(_) => "granted",
                Err(ServiceError::Unavailable { .. }) => "issuer_unavailable",
                Err(_) => "refused",
            },
        );
        outcome
    }

    async fn exchange_inner(
        &self,
        req: &ExchangeRequest,
        provider: OidcProvider,
        decided: &mut Map<String, Value>,
    ) -> ServiceResult<Exchanged> {
        if req.grant_type != GRANT_TYPE {
            return Err(ServiceError::invalid_field(
                "grant_type",
                format!("grant_type must be {GRANT_TYPE}"),
            ));
        }
        if req.subject_token_type != ID_TOKEN_TYPE && req.subject_token_type != JWT_TYPE {
            return Err(ServiceError::invalid_field(
                "subject_token_type",
                format!("subject_token_type must be {ID_TOKEN_TYPE}"),
            ));
        }
        if req.project_key.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err(ServiceError::invalid_field(
                "project_key",
                "projects are not supported",
            ));
        }
        let (_, kid) = token_header(&req.subject_token).map_err(refused)?;
        let jwk = match self.keys.key(&provider, kid.as_deref()).await {
            Ok((jwk, fetch)) => {
                if fetch != Fetch::None {
                    metrics::oidc_jwks_fetch(&provider.name, fetch == Fetch::Fetched);
                }
                jwk.ok_or_else(|| refused(IdTokenError::UnknownKey(kid.unwrap_or_default())))?
            }
            Err(e) => {
                metrics::oidc_jwks_fetch(&provider.name, false);
                return Err(issuer_unavailable(e));
            }
        };
        let time = TimeRules {
            now: self.clock.now_secs(),
            leeway: self.config.oidc.leeway_secs,
        };
        let claims = verify_id_token(&req.subject_token, &provider, &jwk, time).map_err(refused)?;
        for key in ["iss", "sub"] {
            if let Some(v) = claims.get(key) {
                decided.insert(key.into(), v.clone());
            }
        }
        let mappings = self.state.accounts().identity_mappings(&provider.name)?;
        let mapping = match &req.identity_mapping_name {
            Some(name) => mappings
                .iter()
                .find(|m| &m.name == name && claims_match(&m.claims, &claims)),
            None => select_mapping(&mappings, &claims),
        }
        .ok_or_else(|| ServiceError::Unauthenticated("No identity mapping matched".into()))?;
        decided.insert("mapping".into(), Value::String(mapping.name.clone()));
        for key in mapping.claims.keys() {
            if let Some(v) = claims.get(key) {
                decided.insert(key.clone(), v.clone());
            }
        }
        let granted = grant(&provider.name, mapping, &claims)
            .map_err(|e| ServiceError::Unauthenticated(format!("Identity mapping failed: {e}")))?;
        let scope = Scope::parse(&granted.scope)?;
        let admin_user = self
            .state
            .accounts()
            .user(&granted.username)?
            .is_some_and(|u| u.admin);
        // A mapping another site wrote never grants admin here, nor a `system:` scope
        // (`system:scim:rw` provisions users): a federated site's records are not this site's
        // admin credentials. (Who wrote it is read only for such grants.)
        let system = scope
            .items()
            .iter()
            .any(|i| matches!(i, crate::domain::scope::ScopeItem::System { .. }));
        if admin_user || scope.is_admin() || system {
            let own = super::own_service_id(&self.state)?;
            let writer = self.state.federation().oidc_writer(&provider.name)?;
            if writer.is_some_and(|site| site != own) {
                return Err(ServiceError::Unauthenticated(
                    "Identity mapping failed: a mapping written at another site never grants \
                     admin rights or system scopes here"
                        .into(),
                ));
            }
        }
        // A name made from claims never lands on an admin: a claim value ("admin") would
        // otherwise carry the admin's rights.
        if granted.from_claims && admin_user {
            return Err(ServiceError::Unauthenticated(format!(
                "Identity mapping failed: user '{}' is an admin; only a mapping naming it may \
                 map to it",
                granted.username
            )));
        }
        let audience = match (&granted.audience, &req.audience) {
            (Some(g), Some(r)) if g != r => {
                return Err(ServiceError::invalid_field(
                    "audience",
                    "audience differs from the one the identity mapping grants",
                ))
            }
            (Some(a), _) | (None, Some(a)) => a.clone(),
            (None, None) => self.config.token.default_audience.clone(),
        };
        if audience.len() > 1024 || audience.split_whitespace().any(|a| !a.contains('@')) {
            return Err(ServiceError::invalid_field(
                "audience",
                "audience must be space separated service ids like jfrt@<id> or *@*",
            ));
        }
        let token = self
            .tokens
            .issue(IssueSpec {
                username: granted.username.clone(),
                scope,
                expires_in: granted.expires_in,
                refreshable: granted.refreshable,
                audience,
                description: Some(format!(
                    "OIDC exchange: provider {}, mapping {}",
                    provider.name, mapping.name
                )),
                kind: TokenKind::Access,
                reference: req.include_reference_token,
                // An exchanged token can always be revoked.
                force_revocable: true,
            })
            .await?;
        Ok(Exchanged {
            token,
            username: granted.username,
        })
    }
}

fn issuer_unavailable(e: IssuerError) -> ServiceError {
    ServiceError::Unavailable {
        why: format!("Failed to get public key: {e}"),
        retry_after_secs: 5,
    }
}
