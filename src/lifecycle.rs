//! Key lifecycle (certificate reset, circle of trust) and the other token kinds (reference,
//! pairing). Every change is a log entry whose secrets and keys the proposer decides.

use crate::crypto::{self, KeyMaterial, Verified};
use crate::domain::names::valid_service_id;
use crate::domain::scope::Scope;
use crate::domain::token::{Claims, TokenKind};
use crate::error::{ApiError, ApiResult};
use crate::node::{now_secs, IssueSpec, IssuedToken, Node, CATCH_UP_TIMEOUT, STRICT_READ_TIMEOUT};
use crate::raft::command::{Command, CommandResponse, PairingRecord, TrustedCert};

/// Trusted certificate names become file-like names: keep them simple.
pub fn valid_cert_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

impl Node {
    /// New signing keypair through the log; every node rewrites its key files on apply.
    /// With `keep_old` the previous certificate stays trusted so issued tokens keep working.
    pub async fn reset_certificate(&self, keep_old: bool) -> ApiResult<KeyMaterial> {
        let service_id = self.service_id()?;
        let bits = self.config.security.rsa_key_size;
        let now = now_secs();
        let key = tokio::task::spawn_blocking(move || {
            crypto::generate_key_material(bits, &service_id, now)
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        self.write(Command::RotateKey {
            key: key.clone(),
            keep_old,
        })
        .await?;
        tracing::info!(kid = %key.kid, keep_old, "root certificate reset");
        Ok(key)
    }

    /// Add (or replace) a trusted certificate after checking it. It is bound to the service id
    /// of the cluster it speaks for: `service_id` when given, else the certificate's common
    /// name (an access-node or JFrog root.crt names its service id there).
    pub async fn add_trusted(
        &self,
        name: &str,
        pem: &str,
        service_id: Option<String>,
    ) -> ApiResult<TrustedCert> {
        if !valid_cert_name(name) {
            return Err(ApiError::BadRequest(format!(
                "invalid certificate name '{name}'"
            )));
        }
        let kid = crypto::check_trusted_certificate(pem)
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let service_id = match service_id {
            Some(s) => s,
            None => crypto::certificate_common_name(pem).ok_or_else(|| {
                ApiError::BadRequest(
                    "the certificate has no common name: give the trusted cluster's service id as 'service_id'".into(),
                )
            })?,
        };
        if !valid_service_id(&service_id) {
            return Err(ApiError::BadRequest(format!(
                "'{service_id}' is not a service id like jfac@<id>: give the trusted cluster's service id as 'service_id'"
            )));
        }
        if service_id == self.service_id()? {
            return Err(ApiError::BadRequest(
                "a trusted certificate cannot speak for this cluster's own service id".into(),
            ));
        }
        let cert = TrustedCert {
            name: name.to_string(),
            certificate_pem: pem.to_string(),
            kid,
            added_at: now_secs(),
            service_id,
        };
        self.write(Command::PutTrusted { cert: cert.clone() })
            .await?;
        tracing::info!(name, kid = %cert.kid, "trusted certificate added");
        Ok(cert)
    }

    pub async fn remove_trusted(&self, name: &str) -> ApiResult<()> {
        match self
            .write(Command::RemoveTrusted {
                name: name.to_string(),
            })
            .await?
        {
            CommandResponse::Ok => {
                tracing::info!(name, "trusted certificate removed");
                Ok(())
            }
            _ => Err(ApiError::NotFound(format!(
                "trusted certificate '{name}' not found"
            ))),
        }
    }

    /// Claims of the token a reference token stands for, if it is alive.
    pub async fn validate_reference(&self, reference: &str, strict: bool) -> ApiResult<Verified> {
        if strict {
            self.read_barrier(STRICT_READ_TIMEOUT).await?;
        }
        let hash = crypto::secret_hash(reference);
        let token_id = match self.state.reference(&hash)? {
            Some(id) => Some(id),
            None if strict => None,
            None => {
                // Possibly issued elsewhere an instant ago: catch up once.
                let _ = self.read_barrier(CATCH_UP_TIMEOUT).await;
                self.state.reference(&hash)?
            }
        };
        let invalid = || ApiError::Unauthorized("reference token is invalid or revoked".into());
        let record = match token_id {
            Some(id) => self.state.token(&id)?.ok_or_else(invalid)?,
            None => return Err(invalid()),
        };
        if record.expiry.is_some_and(|e| e <= now_secs()) {
            return Err(ApiError::Unauthorized("token has expired".into()));
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
        self.check_subject(&claims)?;
        // Only this cluster's tokens are stored with references.
        Ok(Verified {
            claims,
            local: true,
        })
    }

    /// A one-time pairing token for `username`, valid `token.pairing-token-expiry` seconds.
    pub async fn issue_pairing(
        &self,
        username: &str,
        purpose: Option<String>,
    ) -> ApiResult<(String, PairingRecord)> {
        let subject = crate::domain::token::subject_for(&self.service_id()?, username);
        self.wait_past_cut_off(&subject).await?;
        let secret = crypto::random_secret();
        let now = now_secs();
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
        Ok((secret, record))
    }

    /// Use a pairing token once: it is consumed through the log (so two nodes racing on it
    /// give one success) and exchanged for an access token of its user.
    pub async fn consume_pairing(&self, secret: &str) -> ApiResult<(PairingRecord, IssuedToken)> {
        let cmd = Command::ConsumePairing {
            hash: crypto::secret_hash(secret),
            now: now_secs(),
        };
        let record = match self.write(cmd).await? {
            CommandResponse::Paired(record) => record,
            CommandResponse::PairingRejected(reason) => return Err(ApiError::Unauthorized(reason)),
            other => {
                return Err(ApiError::Internal(format!(
                    "unexpected pairing response {other:?}"
                )))
            }
        };
        let issued = self
            .issue(IssueSpec {
                username: record.username.clone(),
                scope: Scope::parse("applied-permissions/user")?,
                expires_in: self.config.token.default_expiry,
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
