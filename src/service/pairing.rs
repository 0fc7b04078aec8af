//! One-time pairing tokens, consumed by a conditional log entry and exchanged for an access
//! token of their user.

use super::tokens::Tokens;
use super::tokens::{IssueSpec, IssuedToken};
use super::{own_service_id, ServiceError, ServiceResult};
use crate::crypto;
use crate::domain::scope::Scope;
use crate::domain::token::PairingRecord;
use crate::domain::token::TokenKind;
use crate::raft::command::{Command, CommandResponse};

impl Tokens {
    /// A one-time pairing token for `username`, valid `token.pairing-token-expiry` seconds.
    pub async fn issue_pairing(
        &self,
        username: &str,
        purpose: Option<String>,
    ) -> ServiceResult<(String, PairingRecord)> {
        let subject = crate::domain::token::subject_for(&own_service_id(&self.state)?, username);
        self.clock.wait_past_cut_off(&subject).await?;
        let secret = crypto::random_secret();
        let now = self.clock.now_secs();
        let record = PairingRecord {
            token_id: uuid::Uuid::new_v4().to_string(),
            username: username.to_string(),
            purpose,
            issued_at: now,
            expiry: now + self.config.token.pairing_token_expiry,
        };
        self.writes
            .write(Command::IssuePairing {
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
            now: self.clock.now_secs(),
        };
        let record = match self.writes.write(cmd).await? {
            CommandResponse::Paired(record) => record,
            CommandResponse::PairingRejected(reason) => {
                return Err(ServiceError::Unauthenticated(reason))
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
                force_revocable: false,
            })
            .await?;
        tracing::info!(pairing = %record.token_id, token_id = %issued.token_id, "pairing token used");
        Ok((record, issued))
    }
}
