//! Access tokens: build, sign, issue, refresh, revoke, validate. Times, ids and secrets are
//! decided here, before proposing, so every node applies the same command.

use std::time::Duration;

use super::{Service, ServiceError, ServiceResult};
use super::{CATCH_UP_TIMEOUT, STRICT_READ_TIMEOUT};
use crate::crypto::new_reference_token;
use crate::crypto::{self, KeySet, Verified};
use crate::domain::policy::Principal;
use crate::domain::scope::Scope;
use crate::domain::token::{
    is_revocable, subject_for, Claims, TokenKind, TokenRecord, MAX_EXPIRES_IN,
};
use crate::raft::command::{Command, CommandResponse};
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

/// `expires_in` within its documented bound (0 = never expires). Every issue goes through
/// `build`, which checks it; callers check early to answer before policy.
pub(crate) fn check_expires_in(secs: u64) -> ServiceResult<u64> {
    if secs > MAX_EXPIRES_IN {
        return Err(ServiceError::BadRequest(format!(
            "'expires_in' must be at most {MAX_EXPIRES_IN} seconds (0 = never expires)"
        )));
    }
    Ok(secs)
}

impl Service {
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
        let revocable = self.is_revocable(spec.expires_in) || spec.reference || spec.refreshable;
        check_expires_in(spec.expires_in)?;
        let expiry =
            match spec.expires_in {
                0 => None,
                secs => Some(now.checked_add(secs).ok_or_else(|| {
                    ServiceError::BadRequest("'expires_in' is out of range".into())
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

    /// Every mint comes here first. A node whose clock is out of range mints nothing (503).
    /// Tokens of a subject issued in the same second as (or before) its revocation cut-off
    /// are dead on arrival: wait past it before issuing (a cut-off reaches past "now" by the
    /// clock bound, see `domain::clock::cut_off_secs`), but not for a cut-off further ahead
    /// than any clock in range can explain.
    pub(crate) async fn wait_past_cut_off(&self, subject: &str) -> ServiceResult<()> {
        self.check_clock_for_minting().await?;
        let longest = 4 * self.config.cluster.max_clock_skew_millis / 1000 + 3;
        while let Some(cut) = self.state.subject_revoked_at(subject)? {
            let now_ms = self.clock_now_ms();
            let now = now_ms / 1000;
            if now > cut {
                break;
            }
            if cut > now + longest {
                return Err(ServiceError::Unavailable(format!(
                    "every token of this user until {cut} (Unix seconds) was revoked, {} s from now: try again later",
                    cut - now
                )));
            }
            let wait = (cut - now) * 1000 + (1000 - now_ms % 1000) + 5;
            tokio::time::sleep(Duration::from_millis(wait.min(2000))).await;
        }
        Ok(())
    }

    /// 401 when every token of the claims' subject issued by then was revoked (user deleted,
    /// tokens of a user revoked, admin taken away).
    pub fn check_subject(&self, claims: &Claims) -> ServiceResult<()> {
        match self.state.subject_revoked_at(&claims.sub)? {
            Some(cut) if claims.iat <= cut => Err(ServiceError::Unauthorized(
                "token is revoked: every token of its user was revoked".into(),
            )),
            _ => Ok(()),
        }
    }

    fn sign(keys: &KeySet, claims: &Claims) -> ServiceResult<String> {
        keys.active
            .sign(claims)
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// Mint a token. Revocable and refreshable tokens are committed to the log first;
    /// short-lived plain tokens need no write at all.
    pub async fn issue(&self, spec: IssueSpec) -> ServiceResult<IssuedToken> {
        let keys = self.keyset()?;
        self.wait_past_cut_off(&subject_for(&keys.service_id, &spec.username))
            .await?;
        let now = self.clock_now_secs();
        let built = self.build(&spec, &keys, now)?;
        let record = built.record;
        if record.revocable || record.refreshable || record.reference_hash.is_some() {
            self.batcher
                .write(Command::IssueToken {
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
        let keys = self.keyset()?;
        let verified = keys.verify(access_token, self.clock_now_secs(), true)?;
        if !verified.local {
            let overridden = overrides.username.is_some()
                || overrides.scope.is_some()
                || overrides.expires_in.is_some()
                || overrides.audience.is_some();
            if overridden {
                return Err(ServiceError::BadRequest(
                    "a token of another site is refreshed as it is: overrides only at its issuer"
                        .into(),
                ));
            }
            return self
                .refresh_at_issuer(&verified.claims.iss, access_token, refresh_token)
                .await;
        }
        let claims = verified.claims;
        self.wait_past_cut_off(&claims.sub).await?;
        let now = self.clock_now_secs();
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
        };
        let Built {
            claims: new_claims,
            record: new_record,
            refresh_token: new_refresh,
            reference_token: new_reference,
        } = self.build(&spec, &keys, now)?;
        let response = self
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
            CommandResponse::RefreshRejected(reason) => Err(ServiceError::Unauthorized(reason)),
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
        self.read_barrier(CATCH_UP_TIMEOUT).await?;
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
            self.read_barrier(CATCH_UP_TIMEOUT).await?;
            record = self.state.token(token_id)?;
        }
        let record = record.ok_or_else(|| {
            ServiceError::Unauthorized("token is revoked, expired or not refreshable".into())
        })?;
        // Only our own records refresh here: a federated site's record under this id must
        // never decide what we sign.
        if record.issuer != self.service_id()? {
            return Err(ServiceError::Unauthorized(
                "token is revoked, expired or not refreshable".into(),
            ));
        }
        if !record.refreshable {
            return Err(ServiceError::BadRequest("token is not refreshable".into()));
        }
        if !matches(&record) {
            return Err(ServiceError::Unauthorized("invalid refresh token".into()));
        }
        Ok(record)
    }

    /// Revoke by id after checking the caller may. Revoking twice is not an error.
    pub async fn revoke(&self, who: &Principal, token_id: &str) -> ServiceResult<()> {
        let record = match self.find_token(token_id).await? {
            Some(r) => r,
            None if self.state.revocation(token_id)?.is_some() => return Ok(()),
            None => {
                return Err(ServiceError::NotFound(format!(
                    "token '{token_id}' not found"
                )))
            }
        };
        if !record.revocable {
            return Err(ServiceError::NotRevocable(
                self.config.token.revocable_expiry_threshold,
            ));
        }
        crate::domain::policy::authorize_revoke(who, &record.username, token_id)?;
        match self
            .batcher
            .write(Command::RevokeToken {
                token_id: token_id.to_string(),
                revoked_at: self.clock_now_secs(),
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
            CommandResponse::NotFound => Err(ServiceError::NotFound(format!(
                "token '{token_id}' not found"
            ))),
            other => Err(ServiceError::Internal(format!(
                "unexpected revoke response {other:?}"
            ))),
        }
    }

    /// Verify a token for authentication: signature, expiry, audience, and for revocable
    /// tokens presence in the store (a revocable token we do not hold counts as revoked).
    /// `strict` first waits for the leader's read index, making the revocation check
    /// linearizable. `verified_cache` false skips the verified-token cache, for a caller that
    /// remembers the outcome itself.
    pub(super) async fn validate_jwt(
        &self,
        token: &str,
        strict: bool,
        verified_cache: bool,
    ) -> ServiceResult<Verified> {
        if strict {
            self.read_barrier(STRICT_READ_TIMEOUT).await?;
        }
        let keys = self.keyset()?;
        let verified = if verified_cache {
            keys.verify(token, self.clock_now_secs(), false)?
        } else {
            keys.verify_uncached(token, self.clock_now_secs())?
        };
        let claims = &verified.claims;
        self.check_subject(claims)?;
        if !claims.revocable(self.config.token.revocable_expiry_threshold)
            || self.state.holds_token(&claims.jti)?
        {
            return Ok(verified);
        }
        // Unknown here: revoked, or issued by another node an instant ago and not applied
        // here yet. Known revocations answer at once; otherwise catch up once and look again.
        let revoked = ServiceError::Unauthorized("token is revoked".into());
        if strict || !verified.local || self.state.revocation(&claims.jti)?.is_some() {
            return Err(revoked);
        }
        // Not knowing is not "revoked": a node that cannot catch up answers 503.
        self.read_barrier(CATCH_UP_TIMEOUT).await?;
        if self.state.holds_token(&claims.jti)? {
            return Ok(verified);
        }
        Err(revoked)
    }
}

#[derive(Default)]
pub struct RefreshOverrides {
    pub username: Option<String>,
    pub scope: Option<Scope>,
    pub expires_in: Option<u64>,
    pub audience: Option<String>,
}
