//! What a receiving site admits from a peer: its own entry for the sender decides, never the
//! sender's filter. Pure: the rules that need the store (a revocation of an excluded user's
//! token, a certificate's endorsement) are in `store::apply::federation`.

use serde::{Deserialize, Serialize};

use super::protocol::{Change, PeerSite};
use crate::domain::token::TokenKind;

/// Why a change from a peer site was not merged. It still counts as delivered (the origin's
/// sequence moves on) and travels on as a `Skip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Our entry for the sender does not carry the change's entity.
    Entity,
    /// It touches a user our entry for the sender excludes.
    ExcludedUser,
    /// A token record that claims to be ours: our records never come from elsewhere.
    OwnIssuer,
    /// A token record of a site other than the event's origin, or whose subject is not its
    /// issuer's: a site speaks only for its own tokens.
    ForgedIssuer,
    /// A web session: site-local, never federated.
    Session,
    /// A certificate for our own service id.
    OwnCertificate,
    /// A certificate not endorsed by the key its site signs with (see `merge_cert`).
    Unendorsed,
    /// An event relayed without its origin's valid signature.
    OriginSignature,
    /// The sender has no federation entry here (removed while the batch was in flight).
    NoEntry,
    /// Stamped further in our future than `federation.maximum-future-time-diff-millis`.
    FutureStamp,
}

impl Refusal {
    /// The name used in metrics labels, audit events and the link status.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::Entity => "entity",
            Refusal::ExcludedUser => "excluded_user",
            Refusal::OwnIssuer => "own_issuer",
            Refusal::ForgedIssuer => "forged_issuer",
            Refusal::Session => "session",
            Refusal::OwnCertificate => "own_certificate",
            Refusal::Unendorsed => "unendorsed",
            Refusal::OriginSignature => "origin_signature",
            Refusal::NoEntry => "no_entry",
            Refusal::FutureStamp => "future_stamp",
        }
    }
}

/// One refused change, as the receiving node reports it (never a secret: names only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    pub reason: Refusal,
    /// The change's kind (`user`, `token`, …).
    pub kind: String,
    /// The user, group, target, token id, subject or service id it was about.
    pub name: String,
}

impl Refused {
    pub fn of(reason: Refusal, change: &Change) -> Refused {
        Refused {
            reason,
            kind: change.kind_name().to_string(),
            name: change.about().to_string(),
        }
    }
}

/// The user name of a subject of ours (`<own>/users/<name>`).
fn own_user<'a>(subject: &'a str, own: &str) -> Option<&'a str> {
    subject
        .strip_prefix(own)?
        .strip_prefix("/users/")
        .filter(|n| !n.is_empty())
}

impl PeerSite {
    fn excludes(&self, user: &str) -> bool {
        self.exclude_users.iter().any(|u| u == user)
    }

    /// Whether we merge `change` from this site. `origin` is the site where the change was
    /// made (None in a full sync, which carries state rather than events).
    pub fn admits(&self, change: &Change, own: &str, origin: Option<&str>) -> Result<(), Refusal> {
        if matches!(change, Change::Skip) {
            return Ok(());
        }
        if change.entity().is_some_and(|e| !self.entities.contains(&e)) {
            return Err(Refusal::Entity);
        }
        match change {
            Change::User { name, .. } if self.excludes(name) => Err(Refusal::ExcludedUser),
            Change::Subject { subject, .. } => match own_user(subject, own) {
                Some(name) if self.excludes(name) => Err(Refusal::ExcludedUser),
                _ => Ok(()),
            },
            Change::Token { record } => {
                if record.kind == TokenKind::Session {
                    return Err(Refusal::Session);
                }
                if record.issuer == own {
                    return Err(Refusal::OwnIssuer);
                }
                let subject_is_issuers = record
                    .subject
                    .strip_prefix(record.issuer.as_str())
                    .is_some_and(|rest| rest.starts_with('/'));
                if !subject_is_issuers || origin.is_some_and(|o| o != record.issuer) {
                    return Err(Refusal::ForgedIssuer);
                }
                Ok(())
            }
            Change::Cert { cert } if cert.service_id == own => Err(Refusal::OwnCertificate),
            _ => Ok(()),
        }
    }
}

impl Change {
    /// The change's kind, as the wire names it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Change::Token { .. } => "token",
            Change::Revoke { .. } => "revoke",
            Change::Subject { .. } => "subject",
            Change::User { .. } => "user",
            Change::Group { .. } => "group",
            Change::Permission { .. } => "permission",
            Change::Oidc { .. } => "oidc",
            Change::Cert { .. } => "cert",
            Change::Skip => "skip",
        }
    }

    /// The latest stamp the change claims (Unix ms): what decides last-writer-wins. None for
    /// a cut-off or a revocation (refusing those for their time would keep tokens alive:
    /// time never grants access) and for a token record (its `iat` is its site's own, judged
    /// against that site's own cut-offs).
    pub fn latest_stamp_ms(&self) -> Option<u64> {
        match self {
            Change::User { state, .. } => state
                .stamp
                .iter()
                .chain(&state.deleted_at)
                .chain(state.members.values().map(|m| &m.stamp))
                .map(|s| s.ms)
                .max(),
            Change::Group { state, .. } => state.stamp.as_ref().map(|s| s.ms),
            Change::Permission { state, .. } => state.stamp.as_ref().map(|s| s.ms),
            Change::Oidc { state, .. } => state.stamp.as_ref().map(|s| s.ms),
            Change::Cert { cert } => Some(cert.stamp.ms),
            Change::Token { .. }
            | Change::Subject { .. }
            | Change::Revoke { .. }
            | Change::Skip => None,
        }
    }

    /// What the change is about, by name or id.
    pub fn about(&self) -> &str {
        match self {
            Change::Token { record } => &record.token_id,
            Change::Revoke { revocation } => &revocation.token_id,
            Change::Subject { subject, .. } => subject,
            Change::User { name, .. } | Change::Group { name, .. } => name,
            Change::Permission { name, .. } | Change::Oidc { name, .. } => name,
            Change::Cert { cert } => &cert.service_id,
            Change::Skip => "",
        }
    }
}

#[cfg(test)]
#[path = "admission_tests.rs"]
mod tests;
