//! The upload header of site messages (`federation::upload`): signed by the sender next to
//! each message, checked by the receiver before it reads a body larger than
//! `server.max-body-bytes`.

use super::{now_secs, Service, ServiceError, ServiceResult};
use crate::crypto::{KeySet, VerifyError};
use crate::federation::message::OpenError;
use crate::federation::upload::{self, Upload};

fn refused(e: OpenError) -> ServiceError {
    match e {
        OpenError::Malformed
        | OpenError::Verify(VerifyError::Malformed)
        | OpenError::Verify(VerifyError::Algorithm) => {
            ServiceError::BadRequest(format!("federation upload header refused: {e}"))
        }
        e => ServiceError::Unauthorized(format!("federation upload header refused: {e}")),
    }
}

impl Service {
    /// The header for `body`, a message sealed with `keys` for site `aud`. Right after a
    /// reset it carries our endorsed certificate, as the message that introduces it does.
    pub fn upload_header(&self, keys: &KeySet, aud: &str, body: &[u8]) -> ServiceResult<String> {
        let cert = self.state.own_site_cert(&keys.service_id)?;
        let cert = (cert.kid == keys.active.kid && cert.endorsement.is_some()).then_some(cert);
        Ok(upload::sign(keys, aud, body, cert, now_secs())?)
    }

    /// A header received with a large batch or sync chunk: from a site with a federation
    /// entry here, and for no more than `federation.max-message-bytes`. What it vouches for
    /// is checked against the body once read (`Upload::matches`).
    pub fn open_upload_header(&self, header: &str) -> ServiceResult<Upload> {
        let keys = self.keyset()?;
        let sealed = upload::open(&keys, header, now_secs()).map_err(refused)?;
        if self.state.fed_peer_by_service(&sealed.iss)?.is_none() {
            return Err(ServiceError::Unauthorized(format!(
                "{} is not a federated site here",
                sealed.iss
            )));
        }
        let cap = self.config.federation.max_message_bytes;
        if sealed.body.len > cap as u64 {
            return Err(ServiceError::PayloadTooLarge(cap));
        }
        Ok(sealed.body)
    }
}
