//! The other token kinds: reference tokens (short opaque stand-ins, stored hashed) and
//! one-time pairing tokens, consumed by a conditional log entry.

use super::STRICT_READ_TIMEOUT;
use super::{IssueSpec, IssuedToken, Service, ServiceError, ServiceResult};
use crate::crypto::{self, Verified};
use crate::domain::scope::Scope;
use crate::domain::token::{Claims, PairingRecord, TokenKind};
use crate::raft::command::{Command, CommandResponse};

impl Service {
    /// Whether a key bound to `issuer` is in our circle of trust now.
    fn trusts_issuer(&self, issuer: &str) -> ServiceResult<bool> {
        Ok(self
            .keyset()?
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
            self.read_barrier(STRICT_READ_TIMEOUT).await?;
        }
        let hash = crypto::secret_hash(reference);
        let look = || Ok(self.state.reference(&hash)?);
        // Possibly issued elsewhere an instant ago: catch up once (503 if we cannot); a strict
        // read has caught up already.
        let token_id = match strict {
            true => look()?,
            false => self.caught_up(look).await?,
        };
        let invalid = || ServiceError::Unauthorized("reference token is invalid or revoked".into());
        let record = match token_id {
            Some(id) => self.state.token(&id)?.ok_or_else(invalid)?,
            None => return Err(invalid()),
        };
        if record.expiry.is_some_and(|e| e <= self.clock_now_secs()) {
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
        let local = claims.iss == self.service_id()?;
        if !local && !self.trusts_issuer(&claims.iss)? {
            return Err(invalid());
        }
        self.check_subject(&claims)?;
        Ok(Verified { claims, local })
    }

    /// A one-time pairing token for `username`, valid `token.pairing-token-expiry` seconds.
    pub async fn issue_pairing(
        &self,
        username: &str,
        purpose: Option<String>,
    ) -> ServiceResult<(String, PairingRecord)> {
        let subject = crate::domain::token::subject_for(&self.service_id()?, username);
        self.wait_past_cut_off(&subject).await?;
        let secret = crypto::random_secret();
        let now = self.clock_now_secs();
        let record = PairingRecord {
            token_id: uuid::Uuid::new_v4().to_string(),
            username: username.to_string(),
            purpose,
            issued_at: now,
            expiry: now + self.config.token.pairing_token_expiry,
        };
        self.write(Command::IssuePairing {
            hash: crypto::secret_hash(&secret),
            record: record.clone(),
        })
        .await?;
        crate::telemetry::metrics::token_issued(TokenKind::Pairing.name());
        crate::telemetry::audit::Event::new("token.created")
            .subject(username)
            .field("token_id", &record.token_id)
            .field("token_kind", TokenKind::Pairing)
            .field("expiry", record.expiry)
            .emit();
        Ok((secret, record))
    }

    /// Use a pairing token once: it is consumed through the log (so two nodes racing on it
    /// give one success) and exchanged for an access token of its user.
    pub async fn consume_pairing(
        &self,
        secret: &str,
    ) -> ServiceResult<(PairingRecord, IssuedToken)> {
        let cmd = Command::ConsumePairing {
            hash: crypto::secret_hash(secret),
            now: self.clock_now_secs(),
        };
        let record = match self.write(cmd).await? {
            CommandResponse::Paired(record) => record,
            CommandResponse::PairingRejected(reason) => {
                return Err(ServiceError::Unauthorized(reason))
            }
            other => {
                return Err(ServiceError::Internal(format!(
                    "unexpected pairing response {other:?}"
                )))
            }
        };
        let issued = self
            .issue(IssueSpec {
                username: record.username.clone(),
                scope: Scope::parse("applied-permissions/user")?,
                expires_in: self.default_expiry(),
                refreshable: false,
                audience: self.config.token.default_audience.clone(),
                description: record.purpose.as_ref().map(|p| format!("paired: {p}")),
                kind: TokenKind::Access,
                reference: false,
            })
            .await?;
        tracing::info!(pairing = %record.token_id, token_id = %issued.token_id, "pairing token used");
        Ok((record, issued))
    }
}
