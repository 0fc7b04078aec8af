use std::sync::OnceLock;

use serde_json::json;

use super::*;
use crate::crypto::{generate_key_material, KeyMaterial, TrustedKey, VerifyError};

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

/// east trusts west's first key only.
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
fn a_header_vouches_for_one_body_from_a_trusted_site() {
    let body = b"header.payload.signature";
    let header = sign(&west(1), "jfac@east", body, None, 1000).unwrap();
    let opened = open(&east(), &header, 1001).unwrap();
    assert_eq!(opened.iss, "jfac@west");
    assert_eq!(opened.body.len, body.len() as u64);
    assert!(opened.body.matches(body));
    assert!(!opened.body.matches(b"header.payload.signaturE"));
    assert!(!opened.body.matches(b"header.payload.signature."));
    // Untrusted key, expired, not for us, garbage, too long.
    let untrusted = sign(&west(2), "jfac@east", body, None, 1000).unwrap();
    assert_eq!(
        open(&east(), &untrusted, 1001).unwrap_err(),
        OpenError::Verify(VerifyError::UnknownKey)
    );
    assert_eq!(
        open(&east(), &header, 1000 + message::MESSAGE_TTL_SECS).unwrap_err(),
        OpenError::Expired
    );
    let elsewhere = sign(&west(1), "jfac@else", body, None, 1000).unwrap();
    assert_eq!(
        open(&east(), &elsewhere, 1001).unwrap_err(),
        OpenError::Audience
    );
    assert!(open(&east(), "not a jws", 1001).is_err());
    let long = format!("{header}{}", " ".repeat(MAX_HEADER_BYTES));
    assert_eq!(
        open(&east(), &long, 1001).unwrap_err(),
        OpenError::Malformed
    );
}

#[test]
fn other_site_messages_are_no_header() {
    let batch = message::seal(
        &west(1),
        "jfac@east",
        json!({"after": 0, "upto": 0, "events": [], "len": 3, "sha256": "00"}),
        1000,
    )
    .unwrap();
    assert_eq!(
        open(&east(), &batch, 1001).unwrap_err(),
        OpenError::Malformed
    );
}

#[test]
fn after_a_reset_the_header_introduces_the_endorsed_key() {
    let [_, _, new] = keys();
    let cert = |endorsement: Option<String>| -> SiteCert {
        serde_json::from_value(json!({
            "service_id": "jfac@west", "stamp": {"ms": 2000, "n": 0, "site": "jfac@west"},
            "kid": new.kid, "certificate_pem": new.certificate_pem, "retired": [],
            "endorsement": endorsement,
        }))
        .unwrap()
    };
    let endorsed = message::endorse(&west(1), new).unwrap();
    let header = sign(
        &west(2),
        "jfac@east",
        b"x",
        Some(cert(Some(endorsed))),
        1000,
    )
    .unwrap();
    assert_eq!(open(&east(), &header, 1001).unwrap().iss, "jfac@west");
    // Without the endorsement the new key is nobody.
    let header = sign(&west(2), "jfac@east", b"x", Some(cert(None)), 1000).unwrap();
    assert_eq!(
        open(&east(), &header, 1001).unwrap_err(),
        OpenError::Verify(VerifyError::UnknownKey)
    );
}
