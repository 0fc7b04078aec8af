//! Who a caller is: a token (ours or a trusted cluster's), a token used as a password, or a
//! throttled password login. The HTTP layer only parses the header.

use std::borrow::Cow;
use std::net::IpAddr;

use super::error::validation_outcome;
use super::{Service, ServiceError, ServiceResult};
use crate::crypto::Verified;
use crate::crypto::{has_three_parts, looks_like_reference_token};
use crate::domain::policy::{Credential, Principal};
use crate::domain::scope::Scope;
use crate::telemetry::metrics;

/// Credentials as a request carries them. A bearer token is usually borrowed from the
/// request's header: a kilobyte not copied on every request.
pub enum Credentials<'a> {
    Bearer(Cow<'a, str>),
    Basic { user: String, secret: String },
}

fn looks_like_jwt(s: &str) -> bool {
    s.starts_with("eyJ") && has_three_parts(s)
}

impl Service {
    /// Validate a JWT or a reference token; `strict` makes the revocation check linearizable.
    pub async fn validate_any(&self, token: &str, strict: bool) -> ServiceResult<Verified> {
        self.validate_token(token, strict, true).await
    }

    /// [`Service::validate_any`]; `verified_cache` as in [`Service::validate_jwt`].
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
    /// that name or address are throttled.
    pub async fn authenticate(
        &self,
        credentials: Credentials<'_>,
        strict: bool,
        client: Option<IpAddr>,
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
                    return Err(ServiceError::Unauthorized(
                        "user name does not match the token's subject".into(),
                    ));
                }
                self.principal_from_token(&verified)
            }
            Credentials::Basic { user, secret } => {
                self.password_login(&user, &secret, client).await
            }
        }
    }

    /// What a verified token lets its holder act as. Only our own tokens act with a local
    /// user's rights or as admin; a trusted cluster's token carries its scope and nothing else.
    pub fn principal_from_token(&self, verified: &Verified) -> ServiceResult<Principal> {
        let claims = &verified.claims;
        let username = claims
            .username()
            .ok_or_else(|| ServiceError::Unauthorized("token subject is not a user".into()))?;
        let scope = Scope::parse(&claims.scp).ok();
        let credential = match (&scope, verified.local) {
            (Some(scope), true) => Credential::LocalToken {
                scope: scope.clone(),
                expiry: claims.exp,
            },
            (None, true) => {
                return Err(ServiceError::Unauthorized(
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
}
