//! The token requests of the API, as use cases: create (with its defaults and policy),
//! refresh (with admin overrides), identity and pairing tokens, revoke by token or id.

use super::tokens::Tokens;
use super::tokens::{check_expires_in, IssueSpec, IssuedToken, RefreshOverrides};
use super::{check_name, keyset, ServiceError, ServiceResult};
use crate::domain::policy::{
    authorize_mint, authorize_own_token, Credential, MintLimits, MintRequest, PolicyError,
    Principal,
};
use crate::domain::scope::Scope;
use crate::domain::token::PairingRecord;
use crate::domain::token::TokenKind;
use crate::federation::client::SiteAnswer;
use crate::telemetry::CountedVerify;

/// What a token holder gets when it asks for "a token": JFrog's default scope.
pub const DEFAULT_SCOPE: &str = "applied-permissions/user";

/// A create request, as parsed (JFrog's field names); absent fields take defaults.
#[derive(Debug, Default)]
pub struct CreateToken {
    pub username: Option<String>,
    pub scope: Option<String>,
    pub expires_in: Option<u64>,
    pub refreshable: Option<bool>,
    pub audience: Option<String>,
    pub description: Option<String>,
    pub include_reference_token: bool,
    /// Artifactory's legacy endpoint: adds `api:*` to the scope.
    pub legacy: bool,
}

/// A refresh request: the pair, and what only an admin may override.
#[derive(Debug, Default)]
pub struct RefreshToken {
    pub access_token: String,
    pub refresh_token: String,
    pub username: Option<String>,
    pub scope: Option<String>,
    pub expires_in: Option<u64>,
    pub audience: Option<String>,
}

impl RefreshToken {
    /// Whether anything beyond the pair was given (then the caller must be an admin).
    pub fn has_overrides(&self) -> bool {
        self.username.is_some()
            || self.scope.is_some()
            || self.expires_in.is_some()
            || self.audience.is_some()
    }
}

impl Tokens {
    /// Apply defaults and policy, then mint.
    pub async fn create_token(
        &self,
        who: &Principal,
        req: CreateToken,
    ) -> ServiceResult<IssuedToken> {
        let cfg = &self.config.token;
        let now = self.clock.now_secs();
        let username = req.username.unwrap_or_else(|| who.username.clone());
        check_name("username", &username)?;
        // A scoped token asking for "a token" gets its own scope, not its user's full rights.
        let (default_scope, default_expiry) = match &who.credential {
            Credential::LocalToken { scope, expiry } if !who.admin => (
                scope.to_string(),
                expiry.map_or(self.default_expiry(), |e| {
                    self.default_expiry().min(e.saturating_sub(now).max(1))
                }),
            ),
            _ => (DEFAULT_SCOPE.to_string(), self.default_expiry()),
        };
        let mut scope = Scope::parse(&req.scope.unwrap_or(default_scope))?;
        if req.legacy {
            scope = scope.with_api();
        }
        let expires_in = check_expires_in(req.expires_in.unwrap_or(default_expiry))?;
        let refreshable = req.refreshable.unwrap_or(false);
        let audience = req.audience.unwrap_or_else(|| cfg.default_audience.clone());
        if audience.len() > 1024 || audience.split_whitespace().any(|a| !a.contains('@')) {
            return Err(ServiceError::BadRequest(
                "audience must be space separated service ids like jfrt@<id> or *@*".into(),
            ));
        }
        if req.description.as_ref().is_some_and(|d| d.len() > 1024) {
            return Err(ServiceError::BadRequest(
                "description is longer than 1024 characters".into(),
            ));
        }
        authorize_mint(
            who,
            &MintRequest {
                username: &username,
                scope: &scope,
                expires_in,
                refreshable,
            },
            MintLimits {
                non_admin_max_expiry: cfg.non_admin_max_expiry,
                allow_refreshable: cfg.allow_refreshable,
                now,
            },
        )?;
        let issued = self
            .issue(IssueSpec {
                username: username.clone(),
                scope,
                expires_in,
                refreshable,
                audience,
                description: req.description,
                kind: TokenKind::Access,
                reference: req.include_reference_token,
            })
            .await?;
        tracing::info!(token_id = %issued.token_id, subject = %username, by = %who.username, "token created");
        Ok(issued)
    }

    /// Refresh by the pair; overrides need an admin caller.
    pub async fn refresh_token(
        &self,
        req: RefreshToken,
        who: Option<Principal>,
    ) -> ServiceResult<IssuedToken> {
        let mut overrides = RefreshOverrides::default();
        if req.has_overrides() {
            let who = who.ok_or_else(|| {
                ServiceError::Unauthorized(
                    "changing a token while refreshing it needs admin credentials".into(),
                )
            })?;
            if !who.admin {
                return Err(ServiceError::Forbidden(PolicyError::AdminOnly));
            }
            if let Some(u) = &req.username {
                check_name("username", u)?;
            }
            overrides.username = req.username;
            overrides.scope = req.scope.map(|s| Scope::parse(&s)).transpose()?;
            overrides.expires_in = req.expires_in.map(check_expires_in).transpose()?;
            overrides.audience = req.audience;
        }
        let issued = self
            .refresh(&req.access_token, &req.refresh_token, overrides)
            .await?;
        tracing::info!(token_id = %issued.token_id, "token refreshed");
        Ok(issued)
    }

    /// An identity token for the caller (`applied-permissions/user`, revocable, with a
    /// reference token). A token caller must carry that scope and outlive it, unless admin.
    pub async fn create_identity(
        &self,
        who: &Principal,
        description: Option<String>,
    ) -> ServiceResult<IssuedToken> {
        let scope = Scope::parse(DEFAULT_SCOPE)?;
        let expires_in = self.config.token.identity_token_expiry;
        authorize_own_token(who, &scope, expires_in, self.clock.now_secs())?;
        let issued = self
            .issue(IssueSpec {
                username: who.username.clone(),
                scope,
                expires_in,
                refreshable: false,
                audience: self.config.token.default_audience.clone(),
                description,
                kind: TokenKind::Identity,
                reference: true,
            })
            .await?;
        tracing::info!(token_id = %issued.token_id, subject = %who.username, "identity token created");
        Ok(issued)
    }

    /// A pairing token for the caller, later exchanged for an `applied-permissions/user`
    /// token: the same rule as identity tokens.
    pub async fn create_pairing(
        &self,
        who: &Principal,
        purpose: Option<String>,
    ) -> ServiceResult<(String, PairingRecord)> {
        let cfg = &self.config.token;
        authorize_own_token(
            who,
            &Scope::parse(DEFAULT_SCOPE)?,
            cfg.pairing_token_expiry
                .saturating_add(self.default_expiry()),
            self.clock.now_secs(),
        )?;
        if purpose.as_ref().is_some_and(|s| s.len() > 256) {
            return Err(ServiceError::BadRequest(
                "purpose is longer than 256 characters".into(),
            ));
        }
        self.issue_pairing(&who.username, purpose).await
    }

    /// Revoke the token given itself (`token`), or by id.
    pub async fn revoke_given(
        &self,
        who: &Principal,
        token: Option<String>,
        token_id: Option<String>,
    ) -> ServiceResult<()> {
        let threshold = self.config.token.revocable_expiry_threshold;
        let id = match (token, token_id) {
            (Some(token), _) if crate::crypto::looks_like_reference_token(&token) => {
                let hash = crate::crypto::secret_hash(&token);
                match self.state.reference(&hash)? {
                    Some(id) => id,
                    // Unknown: already revoked, or never ours.
                    None => {
                        return Err(ServiceError::NotFound(
                            "reference token not found (revoked already, or not issued here)"
                                .into(),
                        ))
                    }
                }
            }
            (Some(token), _) => {
                let verified = keyset(&self.state)?
                    .verify(&token, self.clock.now_secs(), true)
                    .map_err(|e| ServiceError::BadRequest(format!("cannot revoke: {e}")))?;
                // A federated site's token is ours to revoke when we hold its record: the
                // revocation reaches its issuer like any other.
                let federated = !verified.local
                    && self
                        .state
                        .federation()
                        .fed_peer_by_service(&verified.claims.iss)?
                        .is_some()
                    && self.state.holds_token(&verified.claims.jti)?;
                if !verified.local && !federated {
                    return Err(ServiceError::BadRequest(
                        "cannot revoke: the token belongs to a trusted cluster, not this one"
                            .into(),
                    ));
                }
                if !verified.claims.revocable(threshold) {
                    return Err(ServiceError::NotRevocable(threshold));
                }
                verified.claims.jti
            }
            (None, Some(id)) => id,
            (None, None) => {
                return Err(ServiceError::BadRequest(
                    "give the token to revoke as 'token' or 'token_id'".into(),
                ))
            }
        };
        self.revoke(who, &id).await
    }

    /// Lifetime of a token whose request names none: the cluster-wide setting when an admin
    /// set one (`PUT /access/api/v1/tokens/default_expiry`), else `token.default-expiry`.
    pub fn default_expiry(&self) -> u64 {
        self.state
            .default_expiry()
            .ok()
            .flatten()
            .unwrap_or(self.config.token.default_expiry)
    }

    /// Set the default token lifetime for the whole cluster, through the log.
    pub async fn set_default_expiry(&self, secs: u64) -> ServiceResult<u64> {
        let secs = check_expires_in(secs)?;
        self.writes
            .write(crate::raft::command::Command::SetDefaultExpiry { secs })
            .await?;
        tracing::info!(secs, "default token expiry set");
        Ok(secs)
    }

    /// Refresh a token of another site: only its issuer can (it holds the refresh hash's
    /// one conditional swap), so the pair goes there. A site we are not federated with, or
    /// one we cannot reach, is a clear refusal.
    pub(super) async fn refresh_at_issuer(
        &self,
        issuer: &str,
        access_token: &str,
        refresh_token: &str,
    ) -> ServiceResult<IssuedToken> {
        let peer = self
            .state
            .federation()
            .fed_peer_by_service(issuer)?
            .ok_or_else(|| {
                ServiceError::BadRequest(
                    "only tokens of this cluster or of a federated site can be refreshed here"
                        .into(),
                )
            })?;
        let unreachable = |e: String| {
            ServiceError::Unavailable(format!(
                "the issuing site '{}' cannot be reached to refresh this token: {e}",
                peer.name
            ))
        };
        let SiteAnswer { status, body } = self
            .sites
            .refresh(&peer.url, access_token, refresh_token)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let message = body["errors"][0]["message"]
            .as_str()
            .unwrap_or("refused")
            .to_string();
        match status {
            200 => {
                let text = |k: &str| body[k].as_str().map(str::to_string);
                Ok(IssuedToken {
                    token_id: text("token_id").unwrap_or_default(),
                    access_token: text("access_token")
                        .ok_or_else(|| unreachable("no access_token in the answer".into()))?,
                    refresh_token: text("refresh_token"),
                    reference_token: text("reference_token"),
                    expires_in: body["expires_in"].as_u64().unwrap_or(0),
                    scope: text("scope").unwrap_or_default(),
                })
            }
            400 => Err(ServiceError::BadRequest(message)),
            401 => Err(ServiceError::Unauthorized(message)),
            _ => Err(unreachable(format!("HTTP {status}: {message}"))),
        }
    }
}
