//! Key lifecycle: certificate reset and the circle of trust. Every change is a log entry whose
//! keys the proposer decides.

use std::sync::Arc;

use super::writes::Writes;
use super::{keyset, now_secs, own_service_id, ServiceError, ServiceResult};
use crate::config::Config;
use crate::crypto::KeySet;
use crate::crypto::{self, KeyMaterial};
use crate::domain::names::valid_service_id;
use crate::domain::trust::TrustedCert;
use crate::raft::command::{Command, CommandResponse};
use crate::store::StateView;
use crate::telemetry::audit::Event;

/// Trusted certificate names become file-like names: keep them simple.
pub fn valid_cert_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

/// The signing keys and the circle of trust.
pub struct Keys {
    config: Arc<Config>,
    state: StateView,
    writes: Arc<Writes>,
}

impl Keys {
    pub fn new(config: Arc<Config>, state: StateView, writes: Arc<Writes>) -> Keys {
        Keys {
            config,
            state,
            writes,
        }
    }
}

impl Keys {
    /// The published key set (503 before the cluster is bootstrapped).
    pub fn keyset(&self) -> ServiceResult<Arc<KeySet>> {
        keyset(&self.state)
    }

    /// This cluster's service id.
    pub fn service_id(&self) -> ServiceResult<String> {
        own_service_id(&self.state)
    }

    /// The active certificate (root.crt), PEM.
    pub fn root_certificate(&self) -> ServiceResult<String> {
        let key = self.state.active_key()?.ok_or_else(|| {
            ServiceError::Unavailable("the cluster is not bootstrapped yet".into())
        })?;
        Ok(key.certificate_pem)
    }

    /// The trusted certificates, by name.
    pub fn trusted_certs(&self) -> ServiceResult<Vec<crate::domain::trust::TrustedCert>> {
        Ok(self.state.trusted_certs()?)
    }

    /// New signing keypair through the log; every node rewrites its key files on apply.
    /// With `keep_old` the previous certificate stays trusted so issued tokens keep working.
    pub async fn reset_certificate(&self, keep_old: bool) -> ServiceResult<KeyMaterial> {
        let service_id = own_service_id(&self.state)?;
        let bits = self.config.security.rsa_key_size;
        let now = now_secs();
        let key = tokio::task::spawn_blocking(move || {
            crypto::generate_key_material(bits, &service_id, now)
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let endorsement = crate::federation::message::endorse(keyset(&self.state)?.as_ref(), &key)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.writes
            .write(Command::RotateKey {
                key: key.clone(),
                keep_old,
                endorsement: Some(endorsement),
            })
            .await?;
        tracing::info!(kid = %key.kid, keep_old, "root certificate reset");
        Event::new("cert.reset")
            .field("kid", &key.kid)
            .field("keep_old", keep_old)
            .emit();
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
    ) -> ServiceResult<TrustedCert> {
        if !valid_cert_name(name) {
            return Err(ServiceError::BadRequest(format!(
                "invalid certificate name '{name}'"
            )));
        }
        let kid = crypto::check_trusted_certificate(pem)
            .map_err(|e| ServiceError::BadRequest(e.to_string()))?;
        let service_id = match service_id {
            Some(s) => s,
            None => crypto::certificate_common_name(pem).ok_or_else(|| {
                ServiceError::BadRequest(
                    "the certificate has no common name: give the trusted cluster's service id as 'service_id'".into(),
                )
            })?,
        };
        if !valid_service_id(&service_id) {
            return Err(ServiceError::BadRequest(format!(
                "'{service_id}' is not a service id like jfac@<id>: give the trusted cluster's service id as 'service_id'"
            )));
        }
        if service_id == own_service_id(&self.state)? {
            return Err(ServiceError::BadRequest(
                "a trusted certificate cannot speak for this cluster's own service id".into(),
            ));
        }
        let cert = TrustedCert {
            name: name.to_string(),
            certificate_pem: pem.to_string(),
            kid,
            added_at: now_secs(),
            service_id,
            federated: false,
            withdrawn: false,
        };
        self.writes
            .write(Command::PutTrusted { cert: cert.clone() })
            .await?;
        tracing::info!(name, kid = %cert.kid, "trusted certificate added");
        Event::new("trust.added")
            .field("name", name)
            .field("kid", &cert.kid)
            .field("service_id", &cert.service_id)
            .emit();
        Ok(cert)
    }

    pub async fn remove_trusted(&self, name: &str) -> ServiceResult<()> {
        match self
            .writes
            .write(Command::RemoveTrusted {
                name: name.to_string(),
            })
            .await?
        {
            CommandResponse::Ok => {
                tracing::info!(name, "trusted certificate removed");
                Event::new("trust.removed").field("name", name).emit();
                Ok(())
            }
            _ => Err(ServiceError::NotFound(format!(
                "trusted certificate '{name}' not found"
            ))),
        }
    }
}
