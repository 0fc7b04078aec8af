//! Access tokens: build, sign, issue, refresh, revoke, validate. Times, ids and secrets are
//! decided here, before proposing, so every node applies the same command.

use std::sync::Arc;

use super::clock::ClusterClock;
use super::writes::Writes;
use super::{keyset, own_service_id, ServiceError, ServiceResult, CATCH_UP_TIMEOUT};
use crate::config::Config;
use crate::crypto::{self, new_reference_token, KeySet};
use crate::domain::policy::{PolicyError, Principal};
use crate::domain::scope::Scope;
use crate::domain::token::{
    is_revocable, subject_for, Claims, TokenKind, TokenRecord, MAX_EXPIRES_IN,
};
use crate::federation::client::SiteClient;
use crate::raft::command::{Command, CommandResponse};
use crate::store::StateView;
use crate::telemetry::audit::Event;
use crate::telemetry::{metrics, CountedVerify};

/// What a caller asks to mint, after parsing and policy.
pub struct IssueSpec {
    pub username: String,
    pub scope: Scope,
    /// Seconds; 0 = never expires.
    pub expires_in: u64,
    pub refreshable: bool,
    pub audience: String,
    pub description: Option<String>,
    pub kind: TokenKind,
    /// Also issue a short opaque reference token (stored hashed) standing for this token.
    pub reference: bool,
    /// Store it (revocable) whatever its life (JFrog's `force_revocable`).
    pub force_revocable: bool,
}

pub struct IssuedToken {
    pub token_id: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub reference_token: Option<String>,
    pub expires_in: u64,
    pub scope: String,
}

/// A token about to be issued: what is signed, what is stored, the secrets handed out once.
struct Built {
    claims: Claims,
    record: TokenRecord,
    refresh_token: Option<String>,
    reference_token: Option<String>,
}

/// `expires_in` within its bound (0 = never); `build` checks it, callers earlier, before policy.
pub(crate) fn check_expires_in(secs: u64) -> ServiceResult<u64> {
    if secs > MAX_EXPIRES_IN {
        return Err(ServiceError::invalid_field(
            "expires_in",
            format!("'expires_in' must be at most {MAX_EXPIRES_IN} seconds (0 = never expires)"),
        ));
    }
    Ok(secs)
}

/// Tokens: issue, refresh, revoke and read them; pairing tokens; the default lifetime.
pub struct Tokens {
    pub(super) config: Arc<Config>,
    pub(super) state: StateView,
    pub(super) writes: Arc<Writes>,
    pub(super) clock: Arc<ClusterClock>,
    /// Refreshes of another site's tokens go to their issuer.
    pub(super) sites: Arc<SiteClient>,
}

impl Tokens {
    pub fn new(
        config: Arc<Config>,
        state: StateView,
        writes: Arc<Writes>,
        clock: Arc<ClusterClock>,
        sites: Arc<SiteClient>,
    ) -> Tokens {
        Tokens {
            config,
            state,
            writes,
            clock,
            sites,
        }
    }

    fn is_revocable(&self, expires_in: u64) -> bool {
        is_revocable(
            (expires_in > 0).then_some(expires_in),
            self.config.token.revocable_expiry_threshold,
        )
    }

    fn build(&self, spec: &IssueSpec, keys: &KeySet, now: u64) -> ServiceResult<Built> {
        let token_id = super::new_token_id();
        // Tokens with a reference or refresh token are stored anyway, so they are revocable
        // whatever their life (and a refresh can revoke the old access token).
        let revocable = self.is_revocable(spec.expires_in)
            || spec.reference
            || spec.refreshable
            || spec.force_revocable;
        check_expires_in(spec.expires_in)?;
        let expiry = match spec.expires_in {
            0 => None,
            secs => Some(now.checked_add(secs).ok_or_else(|| {
                ServiceError::invalid_field("expires_in", "'expires_in' is out of range")
            })?),
        };
        let refresh_token = spec.refreshable.then(crypto::random_secret);
        let reference_token = spec.reference.then(|| new_reference_token(expiry));
        let subject = subject_for(&keys.service_id, &spec.username);
        let scope = spec.scope.to_string();
        let claims = Claims {
            sub: subject.clone(),
            scp: scope.clone(),
            aud: spec.audience.clone(),
            iss: keys.service_id.clone(),
            exp: expiry,
            iat: now,
            jti: token_id.clone(),
            ext: Some(format!(r#"{{"revocable":"{revocable}"}}"#)),
        };
        let record = TokenRecord {
            token_id,
            username: spec.username.clone(),
            subject,
            scope,
            audience: spec.audience.clone(),
            issuer: keys.service_id.clone(),
            issued_at: now,
            expiry,
            revocable,
            refreshable: spec.refreshable,
            refresh_hash: refresh_token.as_deref().map(crypto::secret_hash),
            description: spec.description.clone(),
            kind: spec.kind,
            reference_hash: reference_token.as_deref().map(crypto::secret_hash),
        };
        Ok(Built {
            claims,
            record,
            refresh_token,
            reference_token,
        })
    }

    fn sign(keys: &KeySet, claims: &Claims) -> ServiceResult<String> {
        keys.active
            .sign(claims)
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// Mint a token. Revocable and refreshable tokens are committed to the log first;
    /// short-lived plain tokens need no write at all.
    pub async fn issue(&self, spec: IssueSpec) -> ServiceResult<IssuedToken> {
        let user = self.state.accounts().user(&spec.username)?;
        if user.is_some_and(|u| u.disabled) {
            return Err(PolicyError::UserDisabled(spec.username).into());
        }
        let keys = keyset(&self.state)?;
        self.clock
            .wait_past_cut_off(&subject_for(&keys.service_id, &spec.username))
            .await?;
        let now = self.clock.now_secs();
        let built = self.build(&spec, &keys, now)?;
        let record = built.record;
        if record.revocable || record.refreshable || record.reference_hash.is_some() {
            self.writes
                .write_batched(Command::IssueToken {
                    record: record.clone(),
                })
                .await?;
        }
        let access_token = Self::sign(&keys, &built.claims)?;
        metrics::token_issued(spec.kind.name());
        Event::new("token.created")
            .subject(record.username.clone())
            .field("token_id", &record.token_id)
            .field("token_kind", spec.kind)
            .field("scope", &record.scope)
            .field("expiry", record.expiry)
            .field("refreshable", record.refreshable)
            .field("revocable", record.revocable)
            .emit();
        Ok(IssuedToken {
            access_token,
            token_id: record.token_id,
            refresh_token: built.refresh_token,
            reference_token: built.reference_token,
            expires_in: spec.expires_in,
            scope: record.scope,
        })
    }

    /// Exchange a refresh token for a new pair: same subject, scope and audience (unless an
    /// admin overrides them). The swap is one conditional log entry, so a refresh token works
    /// exactly once even when sent to two nodes at once.
    pub async fn refresh(
        &self,
        access_token: &str,
        refresh_token: &str,
        overrides: RefreshOverrides,
    ) -> ServiceResult<IssuedToken> {
        if !self.config.token.allow_refreshable {
            return Err(ServiceError::Forbidden(
                crate::domain::policy::PolicyError::RefreshableDisabled,
            ));
        }
        let keys = keyset(&self.state)?;
        let verified = keys.verify(access_token, self.clock.now_secs(), true)?;
        if !verified.local {
            let overridden = overrides.username.is_some()
                || overrides.scope.is_some()
                || overrides.expires_in.is_some()
                || overrides.audience.is_some();
            if overridden {
                return Err(ServiceError::invalid(
                    "a token of another site is refreshed as it is: overrides only at its issuer",
                ));
            }
            return self
                .refresh_at_issuer(&verified.claims.iss, access_token, refresh_token)
                .await;
        }
        let claims = verified.claims;
        self.clock.wait_past_cut_off(&claims.sub).await?;
        let now = self.clock.now_secs();
        let refresh_hash = crypto::secret_hash(refresh_token);
        let record = self.refreshable_record(&claims.jti, &refresh_hash).await?;
        let lifetime = record
            .expiry
            .map(|e| e.saturating_sub(record.issued_at))
            .unwrap_or(0);
        let spec = IssueSpec {
            username: overrides.username.unwrap_or(record.username.clone()),
            scope: match overrides.scope {
                Some(s) => s,
                None => Scope::parse(&record.scope)?,
            },
            expires_in: overrides.expires_in.unwrap_or(lifetime),
            refreshable: true,
            audience: overrides.audience.unwrap_or(record.audience.clone()),
            description: record.description.clone(),
            kind: record.kind,
            reference: record.reference_hash.is_some(),
            force_revocable: false,
        };
        let Built {
            claims: new_claims,
            record: new_record,
            refresh_token: new_refresh,
            reference_token: new_reference,
        } = self.build(&spec, &keys, now)?;
        let response = self
            .writes
            .write(Command::RefreshToken {
                old_token_id: record.token_id.clone(),
                refresh_hash,
                now,
                grace_secs: self.config.token.refresh_grace_period,
                new_record: new_record.clone(),
            })
            .await?;
        match response {
            CommandResponse::Refreshed => {
                metrics::token_refreshed(new_record.kind.name());
                Event::new("token.refreshed")
                    .subject(new_record.username.clone())
                    .field("token_id", &new_record.token_id)
                    .field("old_token_id", &record.token_id)
                    .field("token_kind", new_record.kind)
                    .field("scope", &new_record.scope)
                    .field("expiry", new_record.expiry)
                    .emit();
                Ok(IssuedToken {
                    access_token: Self::sign(&keys, &new_claims)?,
                    token_id: new_record.token_id,
                    refresh_token: new_refresh,
                    reference_token: new_reference,
                    expires_in: spec.expires_in,
                    scope: new_record.scope,
                })
            }
            CommandResponse::RefreshRejected(reason) => Err(ServiceError::Unauthenticated(reason)),
            other => Err(ServiceError::Internal(format!(
                "unexpected refresh response {other:?}"
            ))),
        }
    }

    /// A token record by id. On a miss this node may simply not have applied a write made
    /// through another node an instant ago, so it catches up once and looks again, unless
    /// it knows the token was revoked. The record is looked at first: a live token (the
    /// common case, e.g. every revoke) costs one lookup, not two.
    pub async fn find_token(&self, token_id: &str) -> ServiceResult<Option<TokenRecord>> {
        if let Some(record) = self.state.token(token_id)? {
            return Ok(Some(record));
        }
        if self.state.revocation(token_id)?.is_some() {
            return Ok(None);
        }
        self.writes.read_barrier(CATCH_UP_TIMEOUT).await?;
        Ok(self.state.token(token_id)?)
    }

    /// The record of the pair (`token_id`, refresh token hash) being refreshed. A miss or a
    /// different refresh hash may only mean this node has not applied a refresh or issue made
    /// through another node: it catches up first (503 when it cannot), then judges.
    async fn refreshable_record(
        &self,
        token_id: &str,
        refresh_hash: &str,
    ) -> ServiceResult<TokenRecord> {
        let matches = |r: &TokenRecord| r.refresh_hash.as_deref() == Some(refresh_hash);
        let mut record = self.state.token(token_id)?;
        if !record.as_ref().is_some_and(matches) && self.state.revocation(token_id)?.is_none() {
            self.writes.read_barrier(CATCH_UP_TIMEOUT).await?;
            record = self.state.token(token_id)?;
        }
        let record = record.ok_or_else(|| {
            ServiceError::Unauthenticated("token is revoked, expired or not refreshable".into())
        })?;
        // Only our own records refresh here: a federated site's record under this id must
        // never decide what we sign.
        if record.issuer != own_service_id(&self.state)? {
            return Err(ServiceError::Unauthenticated(
                "token is revoked, expired or not refreshable".into(),
            ));
        }
        if !record.refreshable {
            return Err(ServiceError::invalid("token is not refreshable"));
        }
        if !matches(&record) {
            return Err(ServiceError::Unauthenticated(
                "invalid refresh token".into(),
            ));
        }
        Ok(record)
    }

    /// Revoke by id after checking the caller may. Revoking twice is not an error.
    pub async fn revoke(&self, who: &Principal, token_id: &str) -> ServiceResult<()> {
        let record = match self.find_token(token_id).await? {
            Some(r) => r,
            None if self.state.revocation(token_id)?.is_some() => return Ok(()),
            None => return Err(ServiceError::not_found("token", token_id)),
        };
        if !record.revocable {
            return Err(ServiceError::NotRevocable {
                threshold_secs: self.config.token.revocable_expiry_threshold,
            });
        }
        crate::domain::policy::authorize_revoke(who, &record.username, token_id)?;
        match self
            .writes
            .write_batched(Command::RevokeToken {
                token_id: token_id.to_string(),
                revoked_at: self.clock.now_secs(),
            })
            .await?
        {
            response @ (CommandResponse::Revoked(_) | CommandResponse::AlreadyRevoked) => {
                tracing::info!(token_id, by = %who.username, "token revoked");
                let already = response == CommandResponse::AlreadyRevoked;
                if !already {
                    metrics::token_revoked(record.kind.name());
                }
                Event::new("token.revoked")
                    .actor(who.username.clone())
                    .subject(record.username.clone())
                    .field("token_id", token_id)
                    .field("token_kind", record.kind)
                    .field("scope", &record.scope)
                    .field("expiry", record.expiry)
                    .field("already_revoked", already.then_some(true))
                    .emit();
                Ok(())
            }
            CommandResponse::NotFound => Err(ServiceError::not_found("token", token_id)),
            other => Err(ServiceError::Internal(format!(
                "unexpected revoke response {other:?}"
            ))),
        }
    }
}

#[derive(Default)]
pub struct RefreshOverrides {
    pub username: Option<String>,
    pub scope: Option<Scope>,
    pub expires_in: Option<u64>,
    pub audience: Option<String>,
}
