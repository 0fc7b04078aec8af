//! Sessions of the admin web page. A sign-in is a password login (throttled like the API's)
//! that leaves a stored token record of kind `session`: the browser keeps a random secret, the
//! store only its hash. Every node of the cluster therefore accepts the session, and signing
//! out, "revoke all of a user", taking admin away or deleting the user end it everywhere.
//! The secret is never a bearer token: the API does not accept it.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

use std::sync::Arc;

use super::accounts::Accounts;
use super::clock::ClusterClock;
use super::login_audit::LoginKind;
use super::tokens::Tokens;
use super::writes::Writes;
use super::{own_service_id, ServiceError, ServiceResult, CATCH_UP_TIMEOUT};
use crate::config::Config;
use crate::domain::policy::{Credential, Principal};
use crate::domain::token::{subject_for, TokenKind, TokenRecord};
use crate::raft::command::Command;
use crate::store::StateView;

/// What session secrets start with (and API credentials never do).
const SECRET_PREFIX: &str = "uis.";
/// Marks a session record's audience: never signed, so never checked by a token verifier.
const SESSION_AUDIENCE: &str = "access-node-ui@session";

/// A live session: who it acts for (exactly as a password login of that user now) and its record.
pub struct Session {
    pub who: Principal,
    pub token_id: String,
    pub expiry: u64,
    /// The synchronizer token every form of this session carries.
    pub csrf: String,
}

fn csrf_for(secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"access-node ui csrf\0");
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

fn signed_out() -> ServiceError {
    ServiceError::Unauthenticated("not signed in, or the session has ended".into())
}

/// Sessions of the admin web page.
pub struct Sessions {
    config: Arc<Config>,
    state: StateView,
    writes: Arc<Writes>,
    clock: Arc<ClusterClock>,
    accounts: Arc<Accounts>,
    tokens: Arc<Tokens>,
}

impl Sessions {
    pub fn new(
        config: Arc<Config>,
        state: StateView,
        writes: Arc<Writes>,
        clock: Arc<ClusterClock>,
        accounts: Arc<Accounts>,
        tokens: Arc<Tokens>,
    ) -> Sessions {
        Sessions {
            config,
            state,
            writes,
            clock,
            accounts,
            tokens,
        }
    }
}

impl Sessions {
    /// Sign in with a password (always audited): on success, the new session's secret and
    /// record.
    pub async fn start_session(
        &self,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> ServiceResult<(String, Session)> {
        let who = self
            .accounts
            .password_login(username, password, client, LoginKind::Interactive)
            .await?;
        let service_id = own_service_id(&self.state)?;
        let subject = subject_for(&service_id, &who.username);
        // A session started in the second of a "revoke all" would be dead on arrival.
        self.clock.wait_past_cut_off(&subject).await?;
        let secret = format!("{SECRET_PREFIX}{}", crate::crypto::random_secret());
        let now = self.clock.now_secs();
        let expiry = now.saturating_add(self.config.ui.session_expiry);
        let record = TokenRecord {
            token_id: super::new_token_id(),
            username: who.username.clone(),
            subject,
            scope: crate::service::minting::DEFAULT_SCOPE.to_string(),
            audience: SESSION_AUDIENCE.to_string(),
            issuer: service_id,
            issued_at: now,
            expiry: Some(expiry),
            revocable: true,
            refreshable: false,
            refresh_hash: None,
            description: Some("web session".into()),
            kind: TokenKind::Session,
            reference_hash: Some(crate::crypto::secret_hash(&secret)),
        };
        let token_id = record.token_id.clone();
        self.writes
            .write_batched(Command::IssueToken { record })
            .await?;
        tracing::info!(user = %who.username, token_id, "web session started");
        let csrf = csrf_for(&secret);
        Ok((
            secret,
            Session {
                who,
                token_id,
                expiry,
                csrf,
            },
        ))
    }

    /// The live session behind `secret`, acting with its user's current rights.
    pub async fn session(&self, secret: &str) -> ServiceResult<Session> {
        if !secret.starts_with(SECRET_PREFIX) || secret.len() > 128 {
            return Err(signed_out());
        }
        let hash = crate::crypto::secret_hash(secret);
        let token_id = match self.state.reference(&hash)? {
            Some(id) => id,
            None => {
                // Perhaps started through another node an instant ago: catch up once.
                let _ = self.writes.read_barrier(CATCH_UP_TIMEOUT).await;
                self.state.reference(&hash)?.ok_or_else(signed_out)?
            }
        };
        let record = self.state.token(&token_id)?.ok_or_else(signed_out)?;
        let now = self.clock.now_secs();
        let expiry = record.expiry.unwrap_or(0);
        // Sessions are site-local: a record that names another issuer is none of ours.
        if record.kind != TokenKind::Session
            || expiry <= now
            || record.issuer != own_service_id(&self.state)?
        {
            return Err(signed_out());
        }
        if self
            .state
            .subject_revoked_at(&record.subject)?
            .is_some_and(|cut| record.issued_at <= cut)
        {
            return Err(signed_out());
        }
        let user = self
            .state
            .accounts()
            .user(&record.username)?
            .ok_or_else(signed_out)?;
        Ok(Session {
            who: Principal {
                username: user.username,
                admin: user.admin,
                groups: user.groups,
                token_id: None,
                scope: None,
                credential: Credential::Password,
            },
            token_id: record.token_id,
            expiry,
            csrf: csrf_for(secret),
        })
    }

    /// Sign out: the session's record is revoked on every node.
    pub async fn end_session(&self, session: &Session) -> ServiceResult<()> {
        self.tokens.revoke(&session.who, &session.token_id).await?;
        tracing::info!(user = %session.who.username, token_id = %session.token_id, "web session ended");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_differ_per_session_and_hide_the_secret() {
        let a = csrf_for("uis.a");
        assert_eq!(a, csrf_for("uis.a"));
        assert_ne!(a, csrf_for("uis.b"));
        assert_ne!(a, crate::crypto::secret_hash("uis.a"));
        assert!(!a.contains("uis."));
    }
}
