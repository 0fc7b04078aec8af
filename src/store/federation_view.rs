//! Read access to the federated state: peers, journal, vector, cursors, and the records a
//! full sync sends.

use super::apply::federation::LinkCursor;
use super::apply::journal::user_fields;
use super::trees::fed_key;
use super::trees::key::{ACTIVE_KEY, RETIRED_KEYS};
use super::trees::StateTree::{
    FedEntities, FedJournal, FedPeers, FedState, Groups, OidcMappings, OidcProviders, Permissions,
    Revoked, Subjects, Tokens, Users,
};
use super::view::{get_json, StateView, StoreError};
use crate::crypto::KeyMaterial;
use crate::domain::federation::{
    GroupFields, GroupState, PermissionState, SiteCert, Stamp, UserState, Vector,
};
use crate::federation::protocol::{Change, JournalEntry, PeerSite};

/// The federated part of the applied state.
pub struct FederationView<'a> {
    view: &'a StateView,
}

impl StateView {
    /// The federated state.
    pub fn federation(&self) -> FederationView<'_> {
        FederationView { view: self }
    }
}

fn json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    Ok(serde_json::from_slice(bytes)?)
}

impl FederationView<'_> {
    fn fed_u64(&self, key: &[u8]) -> Result<u64, StoreError> {
        match self.view.tree(FedState).get(key)? {
            Some(v) => json(&v),
            None => Ok(0),
        }
    }

    pub fn fed_peers(&self) -> Result<Vec<PeerSite>, StoreError> {
        self.view
            .tree(FedPeers)
            .iter()
            .values()
            .map(|v| json(&v?))
            .collect()
    }

    /// The site that last wrote OIDC provider `name` (or one of its mappings), when known.
    pub fn oidc_writer(&self, name: &str) -> Result<Option<String>, StoreError> {
        let state: Option<crate::domain::federation::OidcState> =
            get_json(self.view.tree(FedEntities), &fed_key::oidc(name))?;
        Ok(state.and_then(|s| s.stamp).map(|s| s.site))
    }

    pub fn fed_peer(&self, name: &str) -> Result<Option<PeerSite>, StoreError> {
        self.view
            .tree(FedPeers)
            .get(name.as_bytes())?
            .map(|v| json(&v))
            .transpose()
    }

    /// The peer entry for a site's service id: only such sites may send us events.
    pub fn fed_peer_by_service(&self, service_id: &str) -> Result<Option<PeerSite>, StoreError> {
        Ok(self
            .fed_peers()?
            .into_iter()
            .find(|p| p.service_id == service_id))
    }

    pub fn fed_cursor(&self, peer: &str) -> Result<LinkCursor, StoreError> {
        match self.view.tree(FedState).get(fed_key::cursor(peer))? {
            Some(v) => json(&v),
            None => Ok(LinkCursor::default()),
        }
    }

    /// Journal positions held: `[tail, head)`.
    pub fn fed_journal_range(&self) -> Result<(u64, u64), StoreError> {
        Ok((self.fed_u64(fed_key::TAIL)?, self.fed_u64(fed_key::HEAD)?))
    }

    pub fn fed_epoch(&self) -> Result<u64, StoreError> {
        self.fed_u64(fed_key::EPOCH)
    }

    /// Where the last batch from `sender` ended.
    pub fn fed_inbound(&self, sender: &str) -> Result<u64, StoreError> {
        self.fed_u64(&fed_key::inbound(sender))
    }

    /// Up to `max` journal entries from `from` on, with their positions.
    pub fn fed_journal(
        &self,
        from: u64,
        max: usize,
    ) -> Result<Vec<(u64, JournalEntry)>, StoreError> {
        self.view
            .tree(FedJournal)
            .range(from.to_be_bytes()..)
            .take(max)
            .map(|item| {
                let (k, v) = item?;
                let pos = u64::from_be_bytes(k.as_ref().try_into().unwrap_or([0xff; 8]));
                Ok((pos, json(&v)?))
            })
            .collect()
    }

    /// The origin's signature of the highest sequence we applied of it.
    pub fn fed_proof(&self, origin: &str) -> Result<Option<String>, StoreError> {
        self.view
            .tree(FedState)
            .get(fed_key::proof(origin))?
            .map(|v| json(&v))
            .transpose()
    }

    /// What our entry for `sender` refused of it so far.
    pub fn fed_refusals(
        &self,
        sender: &str,
    ) -> Result<super::apply::federation_merge::RefusalStats, StoreError> {
        match self.view.tree(FedState).get(fed_key::refused(sender))? {
            Some(v) => json(&v),
            None => Ok(Default::default()),
        }
    }

    pub fn fed_vector(&self) -> Result<Vector, StoreError> {
        let mut v = Vector::new();
        for item in self.view.tree(FedState).scan_prefix(b"vv/") {
            let (k, val) = item?;
            let origin = String::from_utf8_lossy(&k[3..]).into_owned();
            v.insert(origin, json(&val)?);
        }
        Ok(v)
    }

    /// The merge state of every user name: stored, or seeded from a user that has none yet
    /// (one from before federation was set up), tombstones included.
    pub fn fed_user_states(&self, own: &str) -> Result<Vec<(String, UserState)>, StoreError> {
        let mut out = Vec::new();
        for item in self.view.tree(FedEntities).scan_prefix(b"u/") {
            let (k, v) = item?;
            out.push((String::from_utf8_lossy(&k[2..]).into_owned(), json(&v)?));
        }
        for item in self.view.tree(Users).iter() {
            let (k, v) = item?;
            let name = String::from_utf8_lossy(&k).into_owned();
            if self
                .view
                .tree(FedEntities)
                .contains_key(fed_key::user(&name))?
            {
                continue;
            }
            let r: crate::domain::accounts::UserRecord = json(&v)?;
            let stamp = Stamp {
                ms: r.created_at * 1000,
                n: 0,
                site: own.to_string(),
            };
            out.push((name, UserState::seeded(user_fields(&r), &r.groups, &stamp)));
        }
        Ok(out)
    }

    /// Every federated record, as the changes of a full sync (filtered by the caller).
    pub fn fed_full_state(&self, own: &str) -> Result<Vec<Change>, StoreError> {
        let mut out = Vec::new();
        let seed = |created_at: u64| Stamp {
            ms: created_at * 1000,
            n: 0,
            site: own.to_string(),
        };
        for (name, state) in self.fed_user_states(own)? {
            out.push(Change::User { name, state });
        }
        for item in self.view.tree(FedEntities).scan_prefix(b"g/") {
            let (k, v) = item?;
            let name = String::from_utf8_lossy(&k[2..]).into_owned();
            out.push(Change::Group {
                name,
                state: json(&v)?,
            });
        }
        for item in self.view.tree(Groups).iter() {
            let (k, v) = item?;
            let name = String::from_utf8_lossy(&k).into_owned();
            if self
                .view
                .tree(FedEntities)
                .contains_key(fed_key::group(&name))?
            {
                continue;
            }
            let g: crate::domain::accounts::GroupRecord = json(&v)?;
            let state = GroupState {
                stamp: Some(seed(g.created_at)),
                fields: Some(GroupFields {
                    description: g.description,
                    created_at: g.created_at,
                    scim: g.scim,
                }),
            };
            out.push(Change::Group { name, state });
        }
        for item in self.view.tree(FedEntities).scan_prefix(b"p/") {
            let (k, v) = item?;
            let name = String::from_utf8_lossy(&k[2..]).into_owned();
            out.push(Change::Permission {
                name,
                state: json(&v)?,
            });
        }
        for item in self.view.tree(Permissions).iter() {
            let (k, v) = item?;
            let name = String::from_utf8_lossy(&k).into_owned();
            if self
                .view
                .tree(FedEntities)
                .contains_key(fed_key::permission(&name))?
            {
                continue;
            }
            let state = PermissionState {
                stamp: Some(seed(0)),
                target: Some(json(&v)?),
            };
            out.push(Change::Permission { name, state });
        }
        // OIDC providers always have a merge state: they came after federation did.
        for item in self.view.tree(FedEntities).scan_prefix(b"o/") {
            let (k, v) = item?;
            let name = String::from_utf8_lossy(&k[2..]).into_owned();
            out.push(Change::Oidc {
                name,
                state: json(&v)?,
            });
        }
        for v in self.view.tree(Tokens).iter().values() {
            let record: crate::domain::token::TokenRecord = json(&v?)?;
            // Web sessions are site-local: never federated.
            if record.kind != crate::domain::token::TokenKind::Session {
                out.push(Change::Token { record });
            }
        }
        for v in self.view.tree(Revoked).iter().values() {
            out.push(Change::Revoke {
                revocation: json(&v?)?,
            });
        }
        for item in self.view.tree(Subjects).iter() {
            let (k, v) = item?;
            out.push(Change::Subject {
                subject: String::from_utf8_lossy(&k).into_owned(),
                at: json(&v)?,
            });
        }
        out.push(Change::Cert {
            cert: self.own_site_cert(own)?,
        });
        for item in self.view.tree(FedEntities).scan_prefix(b"c/") {
            let cert: SiteCert = json(&item?.1)?;
            if cert.service_id != own {
                out.push(Change::Cert { cert });
            }
        }
        Ok(out)
    }

    /// Our certificate as peers learn it: as of the last reset, or from bootstrap.
    pub fn own_site_cert(&self, own: &str) -> Result<SiteCert, StoreError> {
        if let Some(v) = self.view.tree(FedEntities).get(fed_key::cert(own))? {
            return json(&v);
        }
        let active: Option<KeyMaterial> = match self
            .view
            .tree(super::trees::StateTree::Keys)
            .get(ACTIVE_KEY)?
        {
            Some(v) => Some(json(&v)?),
            None => None,
        };
        let active = active.ok_or_else(|| StoreError::Keys("no active key".into()))?;
        let retired: Vec<String> = match self
            .view
            .tree(super::trees::StateTree::Keys)
            .get(RETIRED_KEYS)?
        {
            Some(v) => json(&v)?,
            None => Vec::new(),
        };
        Ok(SiteCert {
            service_id: own.to_string(),
            stamp: Stamp {
                ms: active.created_at * 1000,
                n: 0,
                site: own.to_string(),
            },
            kid: active.kid,
            certificate_pem: active.certificate_pem,
            retired,
            endorsement: None,
            self_endorsement: None,
        })
    }
}

/// A digest of the federated state and what it counted.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Digest {
    pub digest: String,
    pub counts: std::collections::BTreeMap<&'static str, usize>,
}

impl FederationView<'_> {
    /// SHA-256 over the federated state in a canonical order: users as federated (but
    /// `excluded` names), groups, stored token ids, revocations, subject cut-offs and the
    /// certificate of every site. Sites that have seen the same changes have the same digest.
    pub fn fed_digest(&self, own: &str, excluded: &[String]) -> Result<Digest, StoreError> {
        use sha2::{Digest as _, Sha256};
        use std::collections::BTreeMap;
        let mut h = Sha256::new();
        let mut counts = BTreeMap::new();
        // Users as federated (a local admin's own record may differ: its credentials are the
        // site's own), in name order.
        let mut states = self.fed_user_states(own)?;
        states.sort_by(|a, b| a.0.cmp(&b.0));
        let mut users = 0;
        for (name, state) in states {
            let Some(f) = &state.fields else {
                continue;
            };
            if excluded.contains(&name) {
                continue;
            }
            h.update(serde_json::to_vec(&(
                "user",
                &name,
                &f.password_hash,
                &f.email,
                state.groups(),
            ))?);
            users += 1;
        }
        counts.insert("users", users);
        for (name, tree) in [
            ("groups", Groups),
            ("tokens", Tokens),
            ("revocations", Revoked),
            ("subjects", Subjects),
            ("permissions", Permissions),
            ("oidc_providers", OidcProviders),
            ("oidc_mappings", OidcMappings),
        ] {
            let mut n = 0;
            for item in self.view.tree(tree).iter() {
                let (k, v) = item?;
                h.update(name.as_bytes());
                h.update(&k);
                // Token and revocation records are the same everywhere; ids suffice for
                // tokens, cut-offs and group fields need their values.
                if matches!(
                    tree,
                    Groups | Subjects | Permissions | OidcProviders | OidcMappings
                ) {
                    h.update(&v);
                }
                n += 1;
            }
            counts.insert(name, n);
        }
        let mut certs: BTreeMap<String, String> = BTreeMap::new();
        let mine = self.own_site_cert(own)?;
        certs.insert(mine.service_id, mine.kid);
        for item in self.view.tree(FedEntities).scan_prefix(b"c/") {
            let cert: SiteCert = json(&item?.1)?;
            certs.insert(cert.service_id, cert.kid);
        }
        counts.insert("sites", certs.len());
        h.update(serde_json::to_vec(&certs)?);
        Ok(Digest {
            digest: format!("{:x}", h.finalize()),
            counts,
        })
    }
}
