//! Who a caller is: a token (ours or a trusted cluster's), a token used as a password, or a
//! throttled password login. The HTTP layer only parses the header.

use std::borrow::Cow;
use std::net::IpAddr;

use std::sync::Arc;

use super::accounts::Accounts;
use super::clock::ClusterClock;
use super::error::validation_outcome;
use super::login_audit::LoginKind;
use super::principal_cache::{CachedPrincipal, CachedRights, PrincipalCache, UserRights};
use super::writes::Writes;
use super::{keyset, own_service_id, ServiceError, ServiceResult};
use super::{CATCH_UP_TIMEOUT, STRICT_READ_TIMEOUT};
use crate::config::Config;
use crate::crypto::{self, Verified};
use crate::crypto::{has_three_parts, looks_like_reference_token};
use crate::domain::policy::{Credential, Principal};
use crate::domain::scope::Scope;
use crate::domain::token::Claims;
use crate::store::StateView;
use crate::telemetry::{metrics, CountedVerify};

/// Credentials as a request carries them. A bearer token is usually borrowed from the
/// request's header: a kilobyte not copied on every request.
pub enum Credentials<'a> {
    Bearer(Cow<'a, str>),
    Basic { user: String, secret: String },
}

fn looks_like_jwt(s: &str) -> bool {
    s.starts_with("eyJ") && has_three_parts(s)
}

/// Who a caller is: token validation (JWTs and reference tokens) and authentication.
pub struct Auth {
    pub(super) config: Arc<Config>,
    pub(super) state: StateView,
    pub(super) writes: Arc<Writes>,
    pub(super) clock: Arc<ClusterClock>,
    /// Basic credentials with a password are a password login.
    pub(super) accounts: Arc<Accounts>,
    /// Callers of recently seen bearer tokens.
    pub(super) principals: PrincipalCache,
}

impl Auth {
    pub fn new(
        config: Arc<Config>,
        state: StateView,
        writes: Arc<Writes>,
        clock: Arc<ClusterClock>,
        accounts: Arc<Accounts>,
    ) -> Auth {
        Auth {
            principals: PrincipalCache::new(config.token.verified_cache_entries),
            config,
            state,
            writes,
            clock,
            accounts,
        }
    }

    /// Validate a JWT or a reference token; `strict` makes the revocation check linearizable.
    pub async fn validate_any(&self, token: &str, strict: bool) -> ServiceResult<Verified> {
        self.validate_token(token, strict, true).await
    }

    /// [`Auth::validate_any`]; `verified_cache` as in [`Auth::validate_jwt`].
    async fn validate_token(
        &self,
        token: &str,
        strict: bool,
        verified_cache: bool,
    ) -> ServiceResult<Verified> {
        let result = if looks_like_reference_token(token) {
            self.validate_reference(token, strict).await
        } else {
            self.validate_jwt(token, strict, verified_cache).await
        };
        metrics::validation(validation_outcome(&result));
        result
    }

    /// The caller behind `credentials`: 401 when they are bad, 429 while password logins of
    /// that name or address are throttled. A password is a login of `kind` (how it is audited).
    pub async fn authenticate(
        &self,
        credentials: Credentials<'_>,
        strict: bool,
        client: Option<IpAddr>,
        kind: LoginKind,
    ) -> ServiceResult<Principal> {
        match credentials {
            Credentials::Bearer(token) => {
                // A strict check always asks the leader; reference tokens are looked up.
                let cacheable = !strict && looks_like_jwt(&token);
                if cacheable {
                    if let Some(known) = self.remembered_principal(&token) {
                        return Ok(known);
                    }
                }
                let inputs = self.principal_inputs();
                // When the principal cache below remembers this token, skip the other one.
                let remembered = cacheable && self.principals.enabled();
                let verified = self.validate_token(&token, strict, !remembered).await?;
                let principal = self.principal_from_token(&verified)?;
                if cacheable {
                    self.remember_principal(&token, inputs, &verified, &principal);
                }
                Ok(principal)
            }
            Credentials::Basic { user, secret }
                if looks_like_jwt(&secret) || looks_like_reference_token(&secret) =>
            {
                let verified = self.validate_any(&secret, strict).await?;
                if verified.claims.username() != Some(user.as_str()) {
                    return Err(ServiceError::Unauthenticated(
                        "user name does not match the token's subject".into(),
                    ));
                }
                self.principal_from_token(&verified)
            }
            Credentials::Basic { user, secret } => {
                self.accounts
                    .password_login(&user, &secret, client, kind)
                    .await
            }
        }
    }

    /// What a verified token lets its holder act as. Only our own tokens act with a local
    /// user's rights or as admin; a trusted cluster's token carries its scope and nothing else.
    pub fn principal_from_token(&self, verified: &Verified) -> ServiceResult<Principal> {
        let claims = &verified.claims;
        let username = claims
            .username()
            .ok_or_else(|| ServiceError::Unauthenticated("token subject is not a user".into()))?;
        let scope = Scope::parse(&claims.scp).ok();
        let credential = match (&scope, verified.local) {
            (Some(scope), true) => Credential::LocalToken {
                scope: scope.clone(),
                expiry: claims.exp,
            },
            (None, true) => {
                return Err(ServiceError::Unauthenticated(
                    "token scope cannot be read".into(),
                ))
            }
            (_, false) => Credential::ForeignToken {
                issuer: claims.iss.clone(),
            },
        };
        let applies_user = verified.local && scope.as_ref().is_some_and(Scope::applies_user);
        let user = if applies_user {
            self.user_rights(username)?
        } else {
            None
        };
        let mut groups: Vec<String> = scope
            .as_ref()
            .map(|s| s.groups().into_iter().map(String::from).collect())
            .unwrap_or_default();
        if let Some(u) = &user {
            groups.extend(u.groups.iter().cloned());
        }
        let admin = verified.local
            && (scope.as_ref().is_some_and(Scope::is_admin)
                || user.as_ref().is_some_and(|u| u.admin));
        Ok(Principal {
            username: username.to_string(),
            admin,
            groups,
            token_id: Some(claims.jti.clone()),
            scope: Some(claims.scp.clone()),
            credential,
        })
    }

    /// 401 when every token of the claims' subject issued by then was revoked (user deleted,
    /// tokens of a user revoked, admin taken away).
    pub fn check_subject(&self, claims: &Claims) -> ServiceResult<()> {
        match self.state.subject_revoked_at(&claims.sub)? {
            Some(cut) if claims.iat <= cut => Err(ServiceError::Unauthenticated(
                "token is revoked: every token of its user was revoked".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Verify a token for authentication: signature, expiry, audience, and for revocable
    /// tokens presence in the store (a revocable token we do not hold counts as revoked).
    /// `strict` first waits for the leader's read index, making the revocation check
    /// linearizable. `verified_cache` false skips the verified-token cache, for a caller that
    /// remembers the outcome itself.
    async fn validate_jwt(
        &self,
        token: &str,
        strict: bool,
        verified_cache: bool,
    ) -> ServiceResult<Verified> {
        if strict {
            self.writes.read_barrier(STRICT_READ_TIMEOUT).await?;
        }
        let keys = keyset(&self.state)?;
        let verified = if verified_cache {
            keys.verify(token, self.clock.now_secs(), false)?
        } else {
            keys.verify_uncached(token, self.clock.now_secs())?
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
        let revoked = ServiceError::Unauthenticated("token is revoked".into());
        if strict || !verified.local || self.state.revocation(&claims.jti)?.is_some() {
            return Err(revoked);
        }
        // Not knowing is not "revoked": a node that cannot catch up answers 503.
        self.writes.read_barrier(CATCH_UP_TIMEOUT).await?;
        if self.state.holds_token(&claims.jti)? {
            return Ok(verified);
        }
        Err(revoked)
    }

    /// Whether a key bound to `issuer` is in our circle of trust now.
    fn trusts_issuer(&self, issuer: &str) -> ServiceResult<bool> {
        Ok(keyset(&self.state)?
            .public_keys
            .iter()
            .any(|k| k.origin == crate::crypto::KeyOrigin::Trusted && k.service_id == issuer))
    }

    /// Claims of the token a reference token stands for, if it is alive.
    pub async fn validate_reference(
        &self,
        reference: &str,
        strict: bool,
    ) -> ServiceResult<Verified> {
        if strict {
            self.writes.read_barrier(STRICT_READ_TIMEOUT).await?;
        }
        let hash = crypto::secret_hash(reference);
        let look = || Ok(self.state.reference(&hash)?);
        // Possibly issued elsewhere an instant ago: catch up once (503 if we cannot); a strict
        // read has caught up already.
        let token_id = match strict {
            true => look()?,
            false => self.writes.caught_up(look).await?,
        };
        let invalid =
            || ServiceError::Unauthenticated("reference token is invalid or revoked".into());
        let record = match token_id {
            Some(id) => self.state.token(&id)?.ok_or_else(invalid)?,
            None => return Err(invalid()),
        };
        if record.expiry.is_some_and(|e| e <= self.clock.now_secs()) {
            return Err(ServiceError::Token(crate::crypto::VerifyError::Expired));
        }
        let claims = Claims {
            sub: record.subject,
            scp: record.scope,
            aud: record.audience,
            iss: record.issuer,
            exp: record.expiry,
            iat: record.issued_at,
            jti: record.token_id,
            ext: Some(format!(r#"{{"revocable":"{}"}}"#, record.revocable)),
        };
        // A federated site's record acts as that site's token, never as ours: the issuer
        // must be one we trust now, and the token carries only its scope (see SECURITY.md).
        let local = claims.iss == own_service_id(&self.state)?;
        if !local && !self.trusts_issuer(&claims.iss)? {
            return Err(invalid());
        }
        self.check_subject(&claims)?;
        Ok(Verified { claims, local })
    }
}

/// The principal cache (`principal_cache`): what a cached caller depends on.
impl Auth {
    /// What a principal derived from the state read after this call depends on.
    pub(super) fn principal_inputs(&self) -> (u64, Option<usize>) {
        (
            self.state.principals_generation(),
            self.state.keyset_address(),
        )
    }

    /// The principal remembered for `token`, if everything it was derived from still holds.
    pub(super) fn remembered_principal(&self, token: &str) -> Option<Principal> {
        let hit = self.principals.tokens.as_ref()?.get(token)?;
        if hit.generation != self.state.principals_generation()
            || Some(hit.keys) != self.state.keyset_address()
            || hit.expiry.is_some_and(|exp| exp <= self.clock.now_secs())
        {
            return None;
        }
        if let Some(id) = &hit.revocable_id {
            // Not held (revoked, or not applied here yet): the full path decides.
            if !self.state.holds_token(id).ok()? {
                return None;
            }
        }
        metrics::verified_cache(true);
        metrics::validation("valid");
        Some(hit.principal.clone())
    }

    /// Remember `principal` for `token`; `generation` and `keys` were read before the state
    /// it was derived from.
    pub(super) fn remember_principal(
        &self,
        token: &str,
        (generation, keys): (u64, Option<usize>),
        verified: &Verified,
        principal: &Principal,
    ) {
        let (Some(cache), Some(keys)) = (&self.principals.tokens, keys) else {
            return;
        };
        let claims = &verified.claims;
        let revocable = claims.revocable(self.config.token.revocable_expiry_threshold);
        cache.insert(
            token.into(),
            Arc::new(CachedPrincipal {
                generation,
                keys,
                expiry: claims.exp,
                revocable_id: revocable.then(|| claims.jti.clone()),
                principal: principal.clone(),
            }),
        );
    }

    /// The admin flag and groups of local user `username`, as the state holds them now.
    pub(super) fn user_rights(&self, username: &str) -> ServiceResult<Option<Arc<UserRights>>> {
        // Read before the record: an entry is never newer than its generation says.
        let generation = self.state.principals_generation();
        let cache = self.principals.users.as_ref();
        if let Some(hit) = cache.and_then(|c| c.get(username)) {
            if hit.generation == generation {
                return Ok(hit.rights.clone());
            }
        }
        let rights = self.state.accounts().user(username)?.map(|u| {
            Arc::new(UserRights {
                admin: u.admin,
                groups: u.groups,
            })
        });
        if let Some(cache) = cache {
            let entry = CachedRights {
                generation,
                rights: rights.clone(),
            };
            cache.insert(username.into(), Arc::new(entry));
        }
        Ok(rights)
    }
}
