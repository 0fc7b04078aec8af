//! Federation merge rules, pure: hybrid logical clock stamps, the per-entity states sites
//! exchange, and how two states join. Every merge here is commutative, associative and
//! idempotent, so sites that have seen the same changes hold the same state whatever order
//! the changes arrived in (tested below with shuffled arrival orders).
//!
//! - Users and groups: last writer wins by stamp (time, counter, site id as the tie-break).
//!   A delete is a tombstone with a stamp and takes part in the same rule.
//! - Group membership: one element per (user, group), each last-writer-wins on its own, so
//!   concurrent changes to different groups merge instead of clobbering. A user's delete
//!   drops every membership stamped before it.
//! - Revocations are final (a set union, elsewhere); subject cut-offs only move forward.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A hybrid logical clock reading: wall milliseconds, a counter for events within the same
/// millisecond (or while the wall clock lags a peer's), and the writing site as tie-break.
/// Ordered field by field, in this order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    pub ms: u64,
    pub n: u32,
    pub site: String,
}

/// A site's clock between events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    pub ms: u64,
    pub n: u32,
}

impl Clock {
    /// The clock after a local event at wall time `now_ms`.
    pub fn tick(self, now_ms: u64) -> Clock {
        if now_ms > self.ms {
            Clock { ms: now_ms, n: 0 }
        } else {
            Clock {
                ms: self.ms,
                n: self.n.saturating_add(1),
            }
        }
    }

    /// The clock after seeing a remote stamp: never behind anything observed.
    pub fn observe(self, remote: &Stamp) -> Clock {
        match remote.ms.cmp(&self.ms) {
            std::cmp::Ordering::Greater => Clock {
                ms: remote.ms,
                n: remote.n,
            },
            std::cmp::Ordering::Equal => Clock {
                ms: self.ms,
                n: self.n.max(remote.n),
            },
            std::cmp::Ordering::Less => self,
        }
    }

    pub fn stamp(self, site: &str) -> Stamp {
        Stamp {
            ms: self.ms,
            n: self.n,
            site: site.to_string(),
        }
    }
}

/// The fields of a user that cross between sites. Admin rights are site-local and never
/// cross; group membership crosses element by element (see [`UserState::members`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFields {
    pub password_hash: Option<String>,
    pub email: Option<String>,
    pub created_at: u64,
    /// Deprovisioned: every site cuts off its own tokens of the user when it learns it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// What an identity provider manages of the user (SCIM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim: Option<crate::domain::accounts::ScimUser>,
}

/// One membership element: whether the user is in the group, as of `stamp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub stamp: Stamp,
    pub present: bool,
}

/// Everything a site knows of one user name, tombstones included. Also the shape of a
/// change: a change is a partial state (only what it touched), merged like any other.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserState {
    /// Stamp of the write `fields` come from; None when no write of the fields was seen.
    pub stamp: Option<Stamp>,
    /// None: never created, or deleted (then `deleted_at` says when).
    pub fields: Option<UserFields>,
    /// The latest delete: memberships stamped before it no longer count.
    pub deleted_at: Option<Stamp>,
    pub members: BTreeMap<String, Member>,
}

impl UserState {
    /// Join `other` into this state.
    pub fn merge(&mut self, other: &UserState) {
        if other.stamp > self.stamp {
            self.stamp = other.stamp.clone();
            self.fields = other.fields.clone();
        }
        if other.deleted_at > self.deleted_at {
            self.deleted_at = other.deleted_at.clone();
        }
        for (group, m) in &other.members {
            match self.members.get(group) {
                Some(mine) if mine.stamp >= m.stamp => {}
                _ => {
                    self.members.insert(group.clone(), m.clone());
                }
            }
        }
    }

    /// The state of a user that existed before any federated write: its fields and groups
    /// as of `stamp` (its creation).
    pub fn seeded(fields: UserFields, groups: &[String], stamp: &Stamp) -> UserState {
        UserState {
            stamp: Some(stamp.clone()),
            fields: Some(fields),
            deleted_at: None,
            members: membership_change(&[], groups, stamp),
        }
    }

    pub fn exists(&self) -> bool {
        self.fields.is_some()
    }

    /// The groups the user is in: present elements stamped after the latest delete.
    pub fn groups(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|(_, m)| m.present && Some(&m.stamp) > self.deleted_at.as_ref())
            .map(|(g, _)| g.clone())
            .collect()
    }

    /// The change a local write makes: new fields (None = delete) at `stamp`, and the
    /// membership elements that differ from the groups the user had.
    pub fn local_change(
        before: &[String],
        fields: Option<UserFields>,
        groups: Option<&[String]>,
        stamp: &Stamp,
    ) -> UserState {
        let deleted = fields.is_none();
        let mut change = UserState {
            stamp: Some(stamp.clone()),
            deleted_at: deleted.then(|| stamp.clone()),
            fields,
            members: BTreeMap::new(),
        };
        if let Some(groups) = groups {
            change.members = membership_change(before, groups, stamp);
        }
        change
    }
}

/// The membership elements that turn `before` into `after`, at `stamp`.
pub fn membership_change(
    before: &[String],
    after: &[String],
    stamp: &Stamp,
) -> BTreeMap<String, Member> {
    let mut out = BTreeMap::new();
    for g in after.iter().filter(|g| !before.contains(g)) {
        out.insert(
            g.clone(),
            Member {
                stamp: stamp.clone(),
                present: true,
            },
        );
    }
    for g in before.iter().filter(|g| !after.contains(g)) {
        out.insert(
            g.clone(),
            Member {
                stamp: stamp.clone(),
                present: false,
            },
        );
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupFields {
    pub description: Option<String>,
    pub created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim: Option<crate::domain::accounts::ScimGroup>,
}

/// Everything a site knows of one group name: last writer wins, a delete is `fields: None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupState {
    pub stamp: Option<Stamp>,
    pub fields: Option<GroupFields>,
}

impl GroupState {
    pub fn merge(&mut self, other: &GroupState) {
        if other.stamp > self.stamp {
            *self = other.clone();
        }
    }
}

/// Everything a site knows of one permission target: last writer wins, a delete is
/// `target: None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionState {
    pub stamp: Option<Stamp>,
    pub target: Option<super::permissions::PermissionTarget>,
}

impl PermissionState {
    pub fn merge(&mut self, other: &PermissionState) {
        if other.stamp > self.stamp {
            *self = other.clone();
        }
    }
}

/// An OIDC provider with its identity mappings, merged as one record: last writer wins, a
/// delete is `provider: None` (and no mappings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcState {
    pub stamp: Option<Stamp>,
    pub provider: Option<super::oidc::OidcProvider>,
    #[serde(default)]
    pub mappings: Vec<super::oidc::IdentityMapping>,
}

impl OidcState {
    pub fn merge(&mut self, other: &OidcState) {
        if other.stamp > self.stamp {
            *self = other.clone();
        }
    }

    /// A provider record from a federated site, checked as our API checks one (names, URL,
    /// audience, patterns, scopes, all of `name`), with an https or loopback issuer whatever
    /// this site's `oidc.allow-http-issuers` says.
    pub fn check(&self, name: &str) -> Result<(), super::oidc::FieldError> {
        use super::oidc::{is_loopback_issuer, FieldError};
        let refuse = |field: &'static str, why: &str| FieldError {
            field,
            why: why.to_string(),
        };
        let Some(p) = &self.provider else {
            return match self.mappings.is_empty() {
                true => Ok(()),
                false => Err(refuse("mappings", "of a deleted provider")),
            };
        };
        p.check()?;
        if p.name != name {
            return Err(refuse("name", "is not the record's"));
        }
        if !p.issuer_url.starts_with("https://") && !is_loopback_issuer(&p.issuer_url) {
            return Err(refuse(
                "issuer_url",
                "of a federated provider must be https",
            ));
        }
        for m in &self.mappings {
            m.check()?;
            if super::scope::Scope::parse(&m.token_spec.scope).is_err() {
                return Err(refuse("token_spec.scope", "does not parse"));
            }
            if m.provider_name != name {
                return Err(refuse("provider_name", "is another provider's"));
            }
        }
        Ok(())
    }
}

/// A site's signing certificate as the other sites learn it. Only the site itself changes
/// it, so its changes are ordered by the origin's own clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteCert {
    pub service_id: String,
    pub stamp: Stamp,
    pub kid: String,
    pub certificate_pem: String,
    /// Earlier certificates still trusted (a reset with `keep_old`).
    pub retired: Vec<String>,
    /// For a reset: the new certificate's kid signed by the key it replaces, so a peer that
    /// trusts the old key can take the new one from a batch signed with it.
    pub endorsement: Option<String>,
    /// The kid signed by the certificate's own key: what a site that knows no key of this
    /// one yet requires before it learns it.
    #[serde(default)]
    pub self_endorsement: Option<String>,
}

impl SiteCert {
    /// Newer wins; the same stamp is the same change.
    pub fn supersedes(&self, other: Option<&SiteCert>) -> bool {
        other.is_none_or(|o| self.stamp > o.stamp)
    }
}

/// Per-origin highest sequence applied.
pub type Vector = BTreeMap<String, u64>;

/// Join two vectors; true when `into` moved.
pub fn join_vectors(into: &mut Vector, other: &Vector) -> bool {
    let mut moved = false;
    for (origin, &seq) in other {
        let e = into.entry(origin.clone()).or_insert(0);
        if seq > *e {
            *e = seq;
            moved = true;
        }
    }
    moved
}

/// What to do with event `seq` of an origin whose highest applied sequence is `seen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Next in line: apply it.
    Apply,
    /// Seen before (a resend or another path): skip it.
    Duplicate,
    /// Events in between are missing: the sender must resynchronise.
    Gap,
}

pub fn arrival(seen: u64, seq: u64) -> Arrival {
    if seq <= seen {
        Arrival::Duplicate
    } else if seq == seen + 1 {
        Arrival::Apply
    } else {
        Arrival::Gap
    }
}

#[cfg(test)]
#[path = "federation_tests.rs"]
mod tests;
