//! Reads of stored tokens on behalf of a caller: what it may see.

use super::tokens::Tokens;
use super::{ServiceError, ServiceResult};
use crate::domain::policy::{is_local_user, Credential, Principal};
use crate::domain::token::TokenRecord;

fn visible_to(who: &Principal, r: &TokenRecord) -> bool {
    who.admin || is_local_user(who, &r.username)
}

impl Tokens {
    /// Every stored token for an admin; a user's own otherwise.
    pub fn list_tokens(&self, who: &Principal) -> ServiceResult<Vec<TokenRecord>> {
        Ok(self
            .state
            .tokens()?
            .into_iter()
            .filter(|r| visible_to(who, r))
            .collect())
    }

    /// One stored token, when the caller may see it (404 otherwise).
    pub async fn token_for(&self, who: &Principal, id: &str) -> ServiceResult<TokenRecord> {
        match self.find_token(id).await? {
            Some(r) if visible_to(who, &r) => Ok(r),
            _ => Err(ServiceError::NotFound(format!("token '{id}' not found"))),
        }
    }

    /// The stored record of the token the caller authenticated with.
    pub fn own_token(&self, who: &Principal) -> ServiceResult<TokenRecord> {
        if let Credential::ForeignToken { issuer } = &who.credential {
            return Err(ServiceError::NotFound(format!(
                "the token used belongs to a trusted cluster ({issuer}); only its own cluster stores it"
            )));
        }
        let id = who.token_id.as_deref().ok_or_else(|| {
            ServiceError::BadRequest("this request is not authenticated with a token".into())
        })?;
        self.state.token(id)?.ok_or_else(|| {
            ServiceError::NotFound(
                "the token used is not stored (non-revocable tokens are not)".into(),
            )
        })
    }
}
