//! In-process tests of what a receiving site admits: its own entry for the sender decides,
//! records never pass for ours, certificates speak only for themselves.

use std::sync::OnceLock;

use super::federation_tests::{event, receive, site};
use super::tests::{plain, Machine, SID};
use crate::crypto::{generate_key_material, KeyMaterial, KeySet};
use crate::domain::federation::{GroupFields, GroupState, SiteCert, Stamp};
use crate::domain::token::{subject_for, Revocation, TokenKind, TokenRecord};
use crate::domain::trust::TrustedCert;
use crate::federation::admission::Refusal;
use crate::federation::message::endorse;
use crate::federation::protocol::{Change, Entity, JournalEntry, PeerSite};
use crate::raft::command::{Command, CommandResponse};

const WEST: &str = "jfac@west";

/// Keys: west's first and second, a third site's, a far site's.
fn keys() -> &'static [KeyMaterial; 4] {
    static K: OnceLock<[KeyMaterial; 4]> = OnceLock::new();
    K.get_or_init(|| {
        [
            generate_key_material(2048, WEST, 1).unwrap(),
            generate_key_material(2048, WEST, 2).unwrap(),
            generate_key_material(2048, "jfac@north", 1).unwrap(),
            generate_key_material(2048, "jfac@far", 1).unwrap(),
        ]
    })
}

fn entry(entities: &[Entity], exclude: &[&str]) -> Command {
    Command::FederationPeer {
        peer: PeerSite {
            name: WEST.into(),
            url: "http://127.0.0.1:1".into(),
            service_id: WEST.into(),
            entities: entities.to_vec(),
            active: false,
            exclude_users: exclude.iter().map(|s| s.to_string()).collect(),
            created_at: 0,
        },
    }
}

fn at(origin: &str, seq: u64, change: Change) -> JournalEntry {
    JournalEntry {
        origin: origin.into(),
        seq,
        at_ms: seq,
        change,
        sig: None,
    }
}

fn record(issuer: &str, id: &str, user: &str, kind: TokenKind, reference: &str) -> TokenRecord {
    TokenRecord {
        token_id: id.into(),
        username: user.into(),
        subject: subject_for(issuer, user),
        issuer: issuer.into(),
        kind,
        reference_hash: Some(reference.into()),
        ..plain(id, user, 10, None)
    }
}

fn refused(r: &CommandResponse) -> Vec<(Refusal, String)> {
    match r {
        CommandResponse::FedReceived { refused, .. } => {
            refused.iter().map(|r| (r.reason, r.name.clone())).collect()
        }
        other => panic!("not received: {other:?}"),
    }
}

#[tokio::test]
async fn the_entry_for_the_sender_decides_what_is_merged() {
    let mut east = site("jfac@east", &[]).await;
    east.apply(entry(&[Entity::Groups], &["admin", "fed-excl"]))
        .await;
    let group = Change::Group {
        name: "dev".into(),
        state: GroupState {
            stamp: Some(Stamp {
                ms: 5,
                n: 0,
                site: WEST.into(),
            }),
            fields: Some(GroupFields {
                description: None,
                created_at: 1,
                scim: None,
            }),
        },
    };
    let token = Change::Token {
        record: record(WEST, "w1", "bob", TokenKind::Access, "ref-w1"),
    };
    let batch = vec![
        event(WEST, 1, "newcomer", 10),
        event(WEST, 2, "fed-excl", 11),
        at(WEST, 3, token),
        at(WEST, 4, group),
    ];
    let r = east.apply(receive(WEST, 0, 4, batch)).await;
    let names: Vec<String> = refused(&r).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["newcomer", "fed-excl", "w1"], "{r:?}");
    let view = east.sm.view();
    assert!(view.accounts().user("newcomer").unwrap().is_none());
    assert!(view.token("w1").unwrap().is_none());
    assert!(
        view.accounts().group("dev").unwrap().is_some(),
        "GROUPS is carried"
    );
    // Refused changes count as delivered and travel on as skips.
    assert_eq!(view.federation().fed_vector().unwrap()[WEST], 4);
    let journal = view.federation().fed_journal(0, 10).unwrap();
    let skips = journal
        .iter()
        .filter(|(_, e)| e.change == Change::Skip)
        .count();
    assert_eq!(skips, 3, "{journal:?}");
    let stats = view.federation().fed_refusals(WEST).unwrap();
    assert_eq!(stats.count, 3);
    assert_eq!(stats.last.unwrap().reason, Refusal::Entity);
}

#[tokio::test]
async fn foreign_records_never_pass_for_ours() {
    let mut east = Machine::new().await;
    east.apply(entry(&Entity::ALL, &["admin"])).await;
    // A local token with a reference, and a user our entry excludes, with a stored token.
    let mine = record(SID, "local-1", "admin", TokenKind::Access, "ref-local");
    east.apply(Command::IssueToken { record: mine }).await;
    let batch = vec![
        // Claims to be ours, a session, another site's record under west's origin.
        at(
            WEST,
            1,
            Change::Token {
                record: record(SID, "x1", "admin", TokenKind::Access, "r1"),
            },
        ),
        at(
            WEST,
            2,
            Change::Token {
                record: record(WEST, "x2", "admin", TokenKind::Session, "r2"),
            },
        ),
        at(
            WEST,
            3,
            Change::Token {
                record: record("jfac@c", "x3", "bob", TokenKind::Access, "r3"),
            },
        ),
        // West's own record that reuses our reference hash: stored, but the hash stays ours.
        at(
            WEST,
            4,
            Change::Token {
                record: record(WEST, "x4", "bob", TokenKind::Access, "ref-local"),
            },
        ),
        // Revoking our excluded admin's token.
        at(
            WEST,
            5,
            Change::Revoke {
                revocation: Revocation {
                    token_id: "local-1".into(),
                    revoked_at: 20,
                    expiry: None,
                },
            },
        ),
    ];
    let r = east.apply(receive(WEST, 0, 5, batch)).await;
    let reasons: Vec<Refusal> = refused(&r).into_iter().map(|(r, _)| r).collect();
    assert_eq!(
        reasons,
        [
            Refusal::OwnIssuer,
            Refusal::Session,
            Refusal::ForgedIssuer,
            Refusal::ExcludedUser
        ]
    );
    let view = east.sm.view();
    assert_eq!(
        view.reference("ref-local").unwrap().as_deref(),
        Some("local-1")
    );
    let x4 = view
        .token("x4")
        .unwrap()
        .expect("west's own record is stored");
    assert_eq!(x4.reference_hash, None);
    assert!(
        view.token("local-1").unwrap().is_some(),
        "not west's to revoke"
    );
    for id in ["x1", "x2", "x3"] {
        assert!(view.token(id).unwrap().is_none(), "{id} stored");
    }
}

#[tokio::test]
async fn sessions_are_never_journaled() {
    let mut east = Machine::new().await;
    east.apply(entry(&Entity::ALL, &[])).await;
    let session = record(SID, "s1", "admin", TokenKind::Session, "ref-s1");
    east.apply(Command::IssueToken { record: session }).await;
    let access = record(SID, "a1", "admin", TokenKind::Access, "ref-a1");
    east.apply(Command::IssueToken { record: access }).await;
    let journal = east.sm.view().federation().fed_journal(0, 10).unwrap();
    assert_eq!(journal.len(), 1, "{journal:?}");
    let full = east.sm.view().federation().fed_full_state(SID).unwrap();
    let tokens: Vec<&str> = full
        .iter()
        .filter_map(|c| match c {
            Change::Token { record } => Some(record.token_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(tokens, ["a1"]);
}

fn site_cert(key: &KeyMaterial, service_id: &str, ms: u64) -> SiteCert {
    SiteCert {
        service_id: service_id.into(),
        stamp: Stamp {
            ms,
            n: 0,
            site: service_id.into(),
        },
        kid: key.kid.clone(),
        certificate_pem: key.certificate_pem.clone(),
        retired: vec![],
        endorsement: None,
        self_endorsement: None,
    }
}

/// `key`'s kid endorsed for `service_id` by `signer`.
fn endorsed(signer: &KeyMaterial, service_id: &str, key: &KeyMaterial) -> String {
    endorse(&KeySet::new(service_id.into(), signer).unwrap(), key).unwrap()
}

fn trusted(m: &Machine) -> Vec<TrustedCert> {
    m.sm.view().trusted_certs().unwrap()
}

#[tokio::test]
async fn certificates_speak_only_for_themselves() {
    let [west1, west2, north, far] = keys();
    let mut east = site("jfac@east", &[]).await;
    east.apply(entry(&Entity::ALL, &[])).await;
    east.apply(Command::PutTrusted {
        cert: TrustedCert {
            name: "site-west".into(),
            certificate_pem: west1.certificate_pem.clone(),
            kid: west1.kid.clone(),
            added_at: 1,
            service_id: WEST.into(),
            federated: false,
            withdrawn: false,
        },
    })
    .await;
    let cert = |c: SiteCert| Change::Cert { cert: c };
    // North's key claiming to be west: self-endorsed, newer, but not endorsed by west's key.
    let mut rebind = site_cert(north, WEST, 9_000);
    rebind.self_endorsement = Some(endorsed(north, WEST, north));
    rebind.endorsement = Some(endorsed(north, WEST, north));
    // A certificate for our own id, and a far site introduced without and with proof.
    let mine = site_cert(north, "jfac@east", 9_000);
    let far_bare = site_cert(far, "jfac@far", 9_000);
    let mut far_proven = site_cert(far, "jfac@far", 9_001);
    far_proven.self_endorsement = Some(endorsed(far, "jfac@far", far));
    let batch = vec![
        at(WEST, 1, cert(rebind)),
        at(WEST, 2, cert(mine)),
        at(WEST, 3, cert(far_bare)),
        at(WEST, 4, cert(far_proven)),
    ];
    let r = east.apply(receive(WEST, 0, 4, batch)).await;
    let reasons: Vec<Refusal> = refused(&r).into_iter().map(|(r, _)| r).collect();
    assert_eq!(
        reasons,
        [
            Refusal::Unendorsed,
            Refusal::OwnCertificate,
            Refusal::Unendorsed
        ]
    );
    let t = trusted(&east);
    let west_certs: Vec<&TrustedCert> = t.iter().filter(|c| c.service_id == WEST).collect();
    assert_eq!(west_certs.len(), 1, "{t:?}");
    assert_eq!(
        (west_certs[0].name.as_str(), west_certs[0].withdrawn),
        ("site-west", false)
    );
    assert!(t.iter().any(|c| c.service_id == "jfac@far" && c.federated));
    assert!(
        !t.iter().any(|c| c.kid == north.kid),
        "north's key bound: {t:?}"
    );
    // The own-id certificate travels on as a skip, never relayed.
    let journal = east.sm.view().federation().fed_journal(0, 10).unwrap();
    assert_eq!(journal[1].1.change, Change::Skip);

    // West rotates: the new key, endorsed by the one the admin installed, is taken; the
    // admin's certificate stays listed, withdrawn (west no longer signs with it).
    let mut rotated = site_cert(west2, WEST, 10_000);
    rotated.endorsement = Some(endorsed(west1, WEST, west2));
    let r = east
        .apply(receive(WEST, 4, 5, vec![at(WEST, 5, cert(rotated))]))
        .await;
    assert!(refused(&r).is_empty(), "{r:?}");
    let t = trusted(&east);
    let admin = t.iter().find(|c| c.name == "site-west").unwrap();
    assert!(admin.withdrawn && !admin.federated);
    assert!(t
        .iter()
        .any(|c| c.kid == west2.kid && c.federated && !c.withdrawn));
    let keyset = east.sm.view().keyset().unwrap();
    let kids: Vec<&str> = keyset.public_keys.iter().map(|k| k.kid.as_str()).collect();
    assert!(kids.contains(&west2.kid.as_str()) && !kids.contains(&west1.kid.as_str()));
}
