use std::sync::OnceLock;

use serde_json::json;

use super::*;
use crate::crypto::{generate_key_material, TrustedKey};

fn keys() -> &'static [KeyMaterial; 3] {
    static K: OnceLock<[KeyMaterial; 3]> = OnceLock::new();
    K.get_or_init(|| {
        [
            generate_key_material(2048, "jfac@east", 1).unwrap(),
            generate_key_material(2048, "jfac@west", 1).unwrap(),
            generate_key_material(2048, "jfac@west", 2).unwrap(),
        ]
    })
}

/// east trusts west's first key, bound to west's service id.
fn east() -> KeySet {
    let [east, west, _] = keys();
    KeySet::with_trust(
        "jfac@east".into(),
        east,
        &[],
        &[TrustedKey {
            name: "west",
            certificate_pem: &west.certificate_pem,
            service_id: "jfac@west",
        }],
    )
    .unwrap()
}

fn west(which: usize) -> KeySet {
    KeySet::new("jfac@west".into(), &keys()[which]).unwrap()
}

#[test]
fn a_trusted_sites_message_opens_and_nothing_else_does() {
    let sealed = seal(&west(1), "jfac@east", json!({"after": 0}), 1000).unwrap();
    let opened: Sealed<serde_json::Value> = open(&east(), &sealed, 1001).unwrap();
    assert_eq!(opened.iss, "jfac@west");
    assert_eq!(opened.body["after"], 0);
    // Not for us, expired, from the future, garbage, an untrusted key.
    let other = seal(&west(1), "jfac@else", json!({}), 1000).unwrap();
    assert_eq!(
        open::<serde_json::Value>(&east(), &other, 1001).unwrap_err(),
        OpenError::Audience
    );
    assert_eq!(
        open::<serde_json::Value>(&east(), &sealed, 1060).unwrap_err(),
        OpenError::Expired
    );
    assert_eq!(
        open::<serde_json::Value>(&east(), &sealed, 800).unwrap_err(),
        OpenError::Expired
    );
    assert_eq!(
        open::<serde_json::Value>(&east(), "garbage", 1001).unwrap_err(),
        OpenError::Verify(VerifyError::Malformed)
    );
    let untrusted = seal(&west(2), "jfac@east", json!({}), 1000).unwrap();
    assert_eq!(
        open::<serde_json::Value>(&east(), &untrusted, 1001).unwrap_err(),
        OpenError::Verify(VerifyError::UnknownKey)
    );
    // Our own key does not make a site message, even claiming to be west.
    let ours = KeySet::new("jfac@west".into(), &keys()[0]).unwrap();
    let mine = seal(&ours, "jfac@east", json!({}), 1000).unwrap();
    assert!(open::<serde_json::Value>(&east(), &mine, 1001).is_err());
}

#[test]
fn a_trusted_key_cannot_speak_for_another_site() {
    // Signed by west's trusted key, but claiming to come from a third site.
    let west_keys = west(1);
    let forged = west_keys
        .active
        .sign_json(&Sealed {
            iss: "jfac@third".to_string(),
            aud: "jfac@east".to_string(),
            iat: 1000,
            exp: 1060,
            jti: "x".to_string(),
            body: json!({}),
        })
        .unwrap();
    assert_eq!(
        open::<serde_json::Value>(&east(), &forged, 1001).unwrap_err(),
        OpenError::Issuer
    );
}

#[test]
fn a_new_key_is_taken_only_with_an_endorsement_by_the_old_one() {
    let [_, _, new] = keys();
    let cert = |endorsement: Option<String>| {
        json!({"events": [{"change": {"kind": "cert", "cert": {
            "service_id": "jfac@west", "stamp": {"ms": 1, "n": 0, "site": "jfac@west"},
            "kid": new.kid, "certificate_pem": new.certificate_pem, "retired": [],
            "endorsement": endorsement}}}]})
    };
    let endorsed = endorse(&west(1), new).unwrap();
    let good = seal(&west(2), "jfac@east", cert(Some(endorsed)), 1000).unwrap();
    assert!(open::<serde_json::Value>(&east(), &good, 1001).is_ok());
    // Self-endorsed (signed by the new key itself) or without endorsement: refused.
    let self_endorsed = endorse(&west(2), new).unwrap();
    for body in [cert(Some(self_endorsed)), cert(None)] {
        let bad = seal(&west(2), "jfac@east", body, 1000).unwrap();
        assert_eq!(
            open::<serde_json::Value>(&east(), &bad, 1001).unwrap_err(),
            OpenError::Verify(VerifyError::UnknownKey)
        );
    }
}
