use super::*;
use crate::domain::federation::{GroupState, SiteCert, Stamp, UserState};
use crate::domain::token::{Revocation, TokenRecord};
use crate::federation::protocol::Entity;

const OWN: &str = "jfac@a";
const B: &str = "jfac@b";

fn entry(entities: &[Entity], exclude: &[&str]) -> PeerSite {
    PeerSite {
        name: "b".into(),
        url: "http://127.0.0.1:1".into(),
        service_id: B.into(),
        entities: entities.to_vec(),
        active: true,
        exclude_users: exclude.iter().map(|s| s.to_string()).collect(),
        created_at: 0,
    }
}

fn token(issuer: &str, user: &str, kind: TokenKind) -> Change {
    Change::Token {
        record: TokenRecord {
            token_id: "t1".into(),
            username: user.into(),
            subject: format!("{issuer}/users/{user}"),
            scope: "applied-permissions/admin".into(),
            audience: "*@*".into(),
            issuer: issuer.into(),
            issued_at: 1,
            expiry: None,
            revocable: true,
            refreshable: false,
            refresh_hash: None,
            description: None,
            kind,
            reference_hash: Some("h".into()),
        },
    }
}

fn user(name: &str) -> Change {
    Change::User {
        name: name.into(),
        state: UserState::default(),
    }
}

fn cert(service_id: &str) -> Change {
    Change::Cert {
        cert: SiteCert {
            service_id: service_id.into(),
            stamp: Stamp {
                ms: 1,
                n: 0,
                site: service_id.into(),
            },
            kid: "k".into(),
            certificate_pem: String::new(),
            retired: vec![],
            endorsement: None,
            self_endorsement: None,
        },
    }
}

#[test]
fn the_receivers_entry_decides_entities_and_excluded_users() {
    let groups_only = entry(&[Entity::Groups], &["admin", "fed-excl"]);
    let group = Change::Group {
        name: "dev".into(),
        state: GroupState::default(),
    };
    assert_eq!(groups_only.admits(&group, OWN, Some(B)), Ok(()));
    assert_eq!(
        groups_only.admits(&user("new"), OWN, Some(B)),
        Err(Refusal::Entity)
    );
    assert_eq!(
        groups_only.admits(&token(B, "x", TokenKind::Access), OWN, Some(B)),
        Err(Refusal::Entity)
    );
    let revoke = Change::Revoke {
        revocation: Revocation {
            token_id: "t".into(),
            revoked_at: 1,
            expiry: None,
        },
    };
    assert_eq!(
        groups_only.admits(&revoke, OWN, Some(B)),
        Err(Refusal::Entity)
    );
    // Skips and certificates belong to no entity.
    assert_eq!(groups_only.admits(&Change::Skip, OWN, Some(B)), Ok(()));
    assert_eq!(groups_only.admits(&cert(B), OWN, Some(B)), Ok(()));

    let all = entry(&Entity::ALL, &["admin", "fed-excl"]);
    assert_eq!(all.admits(&user("bob"), OWN, Some(B)), Ok(()));
    assert_eq!(
        all.admits(&user("fed-excl"), OWN, Some(B)),
        Err(Refusal::ExcludedUser)
    );
    // Cutting off our excluded user's tokens is refused; the sender's own users' are not.
    let cut = |subject: &str| Change::Subject {
        subject: subject.into(),
        at: 5,
    };
    assert_eq!(
        all.admits(&cut("jfac@a/users/admin"), OWN, Some(B)),
        Err(Refusal::ExcludedUser)
    );
    assert_eq!(all.admits(&cut("jfac@b/users/admin"), OWN, Some(B)), Ok(()));
    assert_eq!(all.admits(&cut("jfac@a/users/bob"), OWN, Some(B)), Ok(()));
}

#[test]
fn token_records_speak_only_for_their_issuer_and_sessions_never_cross() {
    let all = entry(&Entity::ALL, &[]);
    assert_eq!(
        all.admits(&token(B, "bob", TokenKind::Access), OWN, Some(B)),
        Ok(())
    );
    // In a full sync (no origin) another site's records come along.
    assert_eq!(
        all.admits(&token("jfac@c", "bob", TokenKind::Access), OWN, None),
        Ok(())
    );
    assert_eq!(
        all.admits(&token(OWN, "admin", TokenKind::Access), OWN, Some(B)),
        Err(Refusal::OwnIssuer)
    );
    assert_eq!(
        all.admits(&token(OWN, "admin", TokenKind::Access), OWN, None),
        Err(Refusal::OwnIssuer)
    );
    assert_eq!(
        all.admits(&token(B, "admin", TokenKind::Session), OWN, Some(B)),
        Err(Refusal::Session)
    );
    // An event of origin B carrying C's record, or a subject that is not the issuer's.
    assert_eq!(
        all.admits(&token("jfac@c", "bob", TokenKind::Access), OWN, Some(B)),
        Err(Refusal::ForgedIssuer)
    );
    let Change::Token { mut record } = token(B, "bob", TokenKind::Access) else {
        unreachable!()
    };
    record.subject = "jfac@a/users/admin".into();
    assert_eq!(
        all.admits(&Change::Token { record }, OWN, Some(B)),
        Err(Refusal::ForgedIssuer)
    );
}

#[test]
fn a_certificate_for_our_own_id_is_refused() {
    let all = entry(&Entity::ALL, &[]);
    assert_eq!(
        all.admits(&cert(OWN), OWN, Some(B)),
        Err(Refusal::OwnCertificate)
    );
    assert_eq!(all.admits(&cert("jfac@c"), OWN, None), Ok(()));
}

#[test]
fn refusals_name_what_they_were_about() {
    let r = Refused::of(Refusal::Entity, &user("bob"));
    assert_eq!((r.kind.as_str(), r.name.as_str()), ("user", "bob"));
    assert_eq!(Refusal::ExcludedUser.name(), "excluded_user");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["reason"], "entity");
}
