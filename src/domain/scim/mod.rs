//! SCIM 2.0 (RFC 7643/7644) on JSON resources, with no I/O: which resources a filter selects
//! (`filter`), and what a PATCH request does to a resource (`patch`). Parsing filters, PATCH
//! paths and operations is the `scim_v2` crate's; evaluating them against our resources is
//! here. Our users and groups as resources (`resource`), listing (`list`), what the service
//! provider says of itself (`discovery`), and who may provision (here).

pub mod discovery;
pub mod filter;
pub mod list;
pub mod patch;
pub mod resource;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod resource_tests;

use serde_json::{Map, Value};

use crate::domain::policy::{Credential, Principal};
use crate::domain::scope::{Action, ScopeItem};

/// A SCIM refusal: the `scimType` RFC 7644 §3.12 names for it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    /// `invalidFilter`, `invalidPath`, `noTarget`, `invalidValue`, `mutability`, ...
    pub scim_type: &'static str,
    pub detail: String,
}

impl ScimError {
    pub fn new(scim_type: &'static str, detail: impl Into<String>) -> ScimError {
        ScimError {
            scim_type,
            detail: detail.into(),
        }
    }
}

impl std::error::Error for ScimError {}

/// The scope item that lets a token provision (`system:scim:rw`) or read (`system:scim:r`).
pub const SCIM_SCOPE_NAME: &str = "scim";

/// Whether `who` may read (`write` false) or provision users and groups through SCIM: an
/// admin of this cluster (password or own token), or one of this cluster's tokens whose scope
/// holds `system:scim:r`/`:rw`. A trusted cluster's token never does: provisioning is this
/// site's own administration.
pub fn may_provision(who: &Principal, write: bool) -> bool {
    let Credential::LocalToken { scope, .. } = &who.credential else {
        return who.admin && who.credential == Credential::Password;
    };
    who.admin
        || scope.items().iter().any(|item| {
            matches!(item, ScopeItem::System { name, actions }
                if name == SCIM_SCOPE_NAME
                    && actions.contains(Action::Read)
                    && (!write || actions.contains(Action::Write)))
        })
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.scim_type, self.detail)
    }
}

/// Attribute names are case-insensitive (RFC 7643 §2.1): the key of `name` in `object`.
pub fn key_of<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a String> {
    object.keys().find(|k| k.eq_ignore_ascii_case(name))
}

/// The value of attribute `name` of `object`, whatever the case of its name.
pub fn get_ci<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    let map = object.as_object()?;
    map.get(key_of(map, name)?)
}

/// Attributes whose values compare case-exactly (RFC 7643 §3.1, §4.1.1): the rest of the
/// attributes we serve (`userName`, `displayName`, e-mail values, ...) do not.
pub fn case_exact(name: &str, sub_attr: Option<&str>) -> bool {
    let exact = ["id", "externalId"];
    sub_attr.is_none() && exact.iter().any(|e| e.eq_ignore_ascii_case(name))
        || sub_attr
            .is_some_and(|s| name.eq_ignore_ascii_case("meta") && s.eq_ignore_ascii_case("version"))
}
