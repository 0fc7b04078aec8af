//! Read access to users, groups, permission targets, failed-login counters and the OIDC
//! providers and identity mappings that admit external identities.

use super::trees::StateTree;
use super::view::{all_json, get_json, StateView, StoreError};
use crate::domain::accounts::GroupRecord;
use crate::domain::accounts::UserRecord;
use crate::domain::oidc::{IdentityMapping, OidcProvider};
use crate::domain::permissions::PermissionTarget;
use crate::domain::throttle::LoginFailures;

/// The accounts part of the applied state.
pub struct AccountsView<'a> {
    view: &'a StateView,
}

impl StateView {
    /// The users, groups, permission targets and login counters.
    pub fn accounts(&self) -> AccountsView<'_> {
        AccountsView { view: self }
    }
}

impl AccountsView<'_> {
    /// Failed logins counted under `key` (`user:<name>` or `addr:<ip>`).
    pub fn login_failures(&self, key: &str) -> Result<Option<LoginFailures>, StoreError> {
        get_json(self.view.tree(StateTree::Logins), key.as_bytes())
    }

    pub fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        get_json(self.view.tree(StateTree::Users), username.as_bytes())
    }

    pub fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        all_json(self.view.tree(StateTree::Users))
    }

    pub fn group(&self, name: &str) -> Result<Option<GroupRecord>, StoreError> {
        get_json(self.view.tree(StateTree::Groups), name.as_bytes())
    }

    pub fn groups(&self) -> Result<Vec<GroupRecord>, StoreError> {
        all_json(self.view.tree(StateTree::Groups))
    }

    pub fn permissions(&self) -> Result<Vec<PermissionTarget>, StoreError> {
        all_json(self.view.tree(StateTree::Permissions))
    }

    pub fn permission(&self, name: &str) -> Result<Option<PermissionTarget>, StoreError> {
        get_json(self.view.tree(StateTree::Permissions), name.as_bytes())
    }

    pub fn oidc_providers(&self) -> Result<Vec<OidcProvider>, StoreError> {
        all_json(self.view.tree(StateTree::OidcProviders))
    }

    pub fn oidc_provider(&self, name: &str) -> Result<Option<OidcProvider>, StoreError> {
        get_json(self.view.tree(StateTree::OidcProviders), name.as_bytes())
    }

    /// A provider's identity mappings, by name.
    pub fn identity_mappings(&self, provider: &str) -> Result<Vec<IdentityMapping>, StoreError> {
        Ok(
            get_json(self.view.tree(StateTree::OidcMappings), provider.as_bytes())?
                .unwrap_or_default(),
        )
    }
}
