//! Password logins with throttling. Failed logins are counted per user name and per client
//! address through the log, so every node sees the same counts and spreading guesses over
//! the nodes of a cluster gains nothing. Unknown users cost the same as known ones.

use std::net::IpAddr;
use std::sync::OnceLock;

use super::accounts::Accounts;
use super::login_audit::LoginKind;
use crate::clock::now_millis;
use crate::crypto::{hash_password, verify_password};
use crate::domain::policy::{Credential, Principal};
use crate::domain::throttle::ThrottlePolicy;
use crate::raft::command::Command;
use crate::service::{ServiceError, ServiceResult};
use crate::telemetry::audit::Event;
use crate::telemetry::metrics;

/// A hash no password matches, verified when the user is unknown so the answer takes as long.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password(&crate::crypto::random_secret()).unwrap_or_default())
}

impl Accounts {
    fn throttle_policy(&self, free_attempts: u32) -> ThrottlePolicy {
        let s = &self.config.security;
        ThrottlePolicy {
            free_attempts,
            max_delay_secs: s.login_backoff_max_secs,
            reset_after_secs: s.login_failure_reset_secs,
        }
    }

    /// 429 while `key` must still wait.
    fn check_throttle(&self, key: &str, free_attempts: u32, now_ms: u64) -> ServiceResult<()> {
        let Some(rec) = self.state.accounts().login_failures(key)? else {
            return Ok(());
        };
        match self
            .throttle_policy(free_attempts)
            .retry_after(&rec, now_ms)
        {
            Some(secs) => Err(ServiceError::Throttled {
                retry_after_secs: secs,
            }),
            None => Ok(()),
        }
    }

    /// A password login. While the user name or the address is throttled, every attempt —
    /// right or wrong — is answered 429 without looking at the password. A success is
    /// audited as `kind` says (`login_audit`); a failure always is.
    pub async fn password_login(
        &self,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
        kind: LoginKind,
    ) -> ServiceResult<Principal> {
        let bad = || ServiceError::Unauthenticated("bad credentials".into());
        if username.is_empty() || username.len() > 256 || password.len() > 1024 {
            return Err(bad());
        }
        let security = &self.config.security;
        let user_key = format!("user:{username}");
        let addr_key = client.map(|ip| format!("addr:{ip}"));
        let now = now_millis();
        let throttled = self
            .check_throttle(&user_key, security.lock_after_failed_logins, now)
            .and_then(|()| match &addr_key {
                Some(key) => {
                    self.check_throttle(key, security.lock_after_failed_logins_per_address, now)
                }
                None => Ok(()),
            });
        if let Err(e) = throttled {
            metrics::login("throttled");
            let retry = match &e {
                ServiceError::Throttled { retry_after_secs } => Some(*retry_after_secs),
                _ => None,
            };
            Event::new("login.throttled")
                .actor(username)
                .subject(username)
                .field("retry_after_secs", retry)
                .emit();
            return Err(e);
        }
        let record = self.state.accounts().user(username)?;
        let hash = record
            .as_ref()
            .and_then(|r| r.password_hash.clone())
            .unwrap_or_else(|| decoy_hash().to_string());
        let secret = password.to_string();
        let matches = tokio::task::spawn_blocking(move || verify_password(&secret, &hash))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let known_user = record.is_some();
        // A disabled user's right password is refused like a wrong one.
        let disabled = record.as_ref().is_some_and(|r| r.disabled);
        match record {
            Some(r) if matches && r.password_hash.is_some() && !r.disabled => {
                metrics::login("succeeded");
                if self
                    .audited_logins
                    .should_audit(kind, username, client, password, now)
                {
                    Event::new("login.succeeded")
                        .actor(username)
                        .subject(username)
                        .emit();
                }
                if self.state.accounts().login_failures(&user_key)?.is_some() {
                    let cleared = Command::LoginSucceeded {
                        keys: vec![user_key],
                    };
                    if let Err(e) = self.writes.write_batched(cleared).await {
                        tracing::debug!(error = %e, "could not clear login failures");
                    }
                }
                Ok(Principal {
                    username: r.username,
                    admin: r.admin,
                    groups: r.groups,
                    token_id: None,
                    scope: None,
                    credential: Credential::Password,
                })
            }
            _ => {
                tracing::warn!(user = %username, client = ?client, "login failed");
                metrics::login("failed");
                let mut event = Event::new("login.failed")
                    .actor(username)
                    .subject(username)
                    .field("known_user", known_user);
                if disabled {
                    event = event.field("disabled", true);
                }
                event.emit();
                // Only what some limit counts: with throttling off, failures write nothing.
                let keys: Vec<String> = std::iter::once(user_key)
                    .filter(|_| security.lock_after_failed_logins > 0)
                    .chain(addr_key.filter(|_| security.lock_after_failed_logins_per_address > 0))
                    .collect();
                if keys.is_empty() {
                    return Err(bad());
                }
                let failed = Command::LoginFailed {
                    keys,
                    at_ms: now,
                    reset_after_secs: security.login_failure_reset_secs,
                };
                // Counted before answering, so the next guess on any node sees it.
                if let Err(e) = self.writes.write_batched(failed).await {
                    tracing::debug!(error = %e, "could not record a failed login");
                }
                Err(bad())
            }
        }
    }
}
