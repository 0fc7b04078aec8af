use super::*;

/// The verification the service does, without the cache's answer.
trait Verify {
    fn verify(&self, token: &str, now: u64, allow_expired: bool) -> Result<Verified, VerifyError>;
}

impl Verify for KeySet {
    fn verify(&self, token: &str, now: u64, allow_expired: bool) -> Result<Verified, VerifyError> {
        self.verify_noting_cache(token, now, allow_expired).0
    }
}
use crate::crypto::generate_key_material;
use std::sync::OnceLock;

fn material() -> &'static KeyMaterial {
    static M: OnceLock<KeyMaterial> = OnceLock::new();
    M.get_or_init(|| generate_key_material(2048, "jfac@test", 1_700_000_000).unwrap())
}

fn claims(exp: Option<u64>) -> Claims {
    Claims {
        sub: "jfac@test/users/bob".into(),
        scp: "applied-permissions/user".into(),
        aud: "*@*".into(),
        iss: "jfac@test".into(),
        exp,
        iat: 1000,
        jti: "t1".into(),
        ext: None,
    }
}

#[test]
fn sign_then_verify_round_trips() {
    let ks = KeySet::new("jfac@test".into(), material()).unwrap();
    let token = ks.active.sign(&claims(Some(5000))).unwrap();
    assert!(token.starts_with("eyJ2ZXIiOiIyIiwidHlwIjoiSldUIiwiYWxnIjoiUlMyNTYiLCJraWQiOi"));
    assert_eq!(
        ks.verify(&token, 2000, false).unwrap().claims,
        claims(Some(5000))
    );
    // Second time from the verified cache: the same answer, expiry still enforced.
    assert_eq!(
        ks.verify(&token, 2000, false).unwrap().claims,
        claims(Some(5000))
    );
    assert_eq!(ks.verify(&token, 6000, false), Err(VerifyError::Expired));
    assert!(ks.verify(&token, 6000, true).is_ok());
    let forever = ks.active.sign(&claims(None)).unwrap();
    assert!(ks.verify(&forever, u64::MAX / 2, false).is_ok());
}

#[test]
fn tampering_is_detected() {
    let ks = KeySet::new("jfac@test".into(), material()).unwrap();
    let token = ks.active.sign(&claims(None)).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut forged = claims(None);
    forged.scp = "applied-permissions/admin".into();
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(
        ks.verify(&tampered, 0, false),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(ks.verify("garbage", 0, false), Err(VerifyError::Malformed));
    assert_eq!(ks.verify("a.b.c", 0, false), Err(VerifyError::Malformed));
}

#[test]
fn foreign_key_and_audience_are_rejected() {
    let ks = KeySet::new("jfac@test".into(), material()).unwrap();
    let other = generate_key_material(2048, "jfac@other", 0).unwrap();
    let other_ks = KeySet::new("jfac@other".into(), &other).unwrap();
    let foreign = other_ks.active.sign(&claims(None)).unwrap();
    assert_eq!(ks.verify(&foreign, 0, false), Err(VerifyError::UnknownKey));
    let mut c = claims(None);
    c.aud = "jfrt@someoneelse".into();
    let token = ks.active.sign(&c).unwrap();
    assert_eq!(ks.verify(&token, 0, false), Err(VerifyError::Audience));
}

#[test]
fn the_verifying_key_decides_the_issuer() {
    let ours = KeySet::new("jfac@test".into(), material()).unwrap();
    let other = generate_key_material(2048, "jfac@other", 0).unwrap();
    let trusting = KeySet::with_trust(
        "jfac@test".into(),
        material(),
        &[],
        &[TrustedKey {
            name: "other",
            certificate_pem: &other.certificate_pem,
            service_id: "jfac@other",
        }],
    )
    .unwrap();
    let other_ks = KeySet::new("jfac@other".into(), &other).unwrap();
    // The trusted key signing a token that claims to be ours: refused.
    let spoofed = other_ks.active.sign(&claims(None)).unwrap();
    assert_eq!(
        trusting.verify(&spoofed, 0, false),
        Err(VerifyError::Issuer)
    );
    // Naming its own cluster: accepted, as foreign.
    let mut theirs = claims(None);
    theirs.iss = "jfac@other".into();
    theirs.sub = "jfac@other/users/admin".into();
    let honest = other_ks.active.sign(&theirs).unwrap();
    let v = trusting.verify(&honest, 0, false).unwrap();
    assert!(!v.local);
    // Our key naming another issuer: refused too; our own tokens are local.
    let wrong_iss = ours.active.sign(&theirs).unwrap();
    assert_eq!(ours.verify(&wrong_iss, 0, false), Err(VerifyError::Issuer));
    assert!(
        ours.verify(&ours.active.sign(&claims(None)).unwrap(), 0, false)
            .unwrap()
            .local
    );
}

fn token_with_header(header: &str, ks: &KeySet) -> String {
    let honest = ks.active.sign(&claims(Some(5000))).unwrap();
    let (_, rest) = honest.split_once('.').unwrap();
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header))
}

#[test]
fn only_rs256_headers_are_read() {
    let ks = KeySet::new("jfac@test".into(), material()).unwrap();
    for alg in ["none", "HS256", "RS512", "rs256"] {
        let token = token_with_header(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#), &ks);
        assert_eq!(
            ks.verify(&token, 2000, false),
            Err(VerifyError::Algorithm),
            "{alg}"
        );
        assert_eq!(
            ks.verify_uncached(&token, 2000),
            Err(VerifyError::Algorithm)
        );
    }
    for header in ["not json", r#"{"typ":"JWT"}"#, r#"{"alg":7}"#, ""] {
        let token = token_with_header(header, &ks);
        assert_eq!(
            ks.verify(&token, 2000, false),
            Err(VerifyError::Malformed),
            "{header}"
        );
    }
    let bad_base64 = format!(
        "@@@.{}",
        ks.active
            .sign(&claims(None))
            .unwrap()
            .split_once('.')
            .unwrap()
            .1
    );
    assert_eq!(
        ks.verify(&bad_base64, 2000, false),
        Err(VerifyError::Malformed)
    );
    // A header without "kid" is tried against every key; a changed header breaks the signature.
    let no_kid = token_with_header(r#"{"alg":"RS256"}"#, &ks);
    assert_eq!(
        ks.verify(&no_kid, 2000, false),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn uncached_verification_checks_the_same_and_caches_nothing() {
    let ks = KeySet::new("jfac@test".into(), material())
        .unwrap()
        .with_verified_cache(10);
    let token = ks.active.sign(&claims(Some(5000))).unwrap();
    assert_eq!(
        ks.verify_uncached(&token, 2000).unwrap().claims,
        claims(Some(5000))
    );
    assert_eq!(ks.verify_uncached(&token, 6000), Err(VerifyError::Expired));
    assert_eq!(ks.verified.as_ref().map(|c| c.len()), Some(0));
    ks.verify(&token, 2000, false).unwrap();
    assert_eq!(ks.verified.as_ref().map(|c| c.len()), Some(1));
    let (signed, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{signed}.{}", URL_SAFE_NO_PAD.encode([7u8; 256]));
    assert_eq!(
        ks.verify_uncached(&forged, 2000),
        Err(VerifyError::BadSignature)
    );
}
