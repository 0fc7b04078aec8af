//! The token endpoint over HTTP: answer and JWT shape, `x5c` and signature against root.crt,
//! claims, and the `access` claim filtered by the caller's rights (admin, password login with
//! a permission target, `artifact:`-scoped token, anonymous), the OAuth2 POST form, and the
//! refusals (bad password, revoked token, malformed scope).

use super::*;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use reqwest::blocking::RequestBuilder;

fn scopes_query(scopes: &[&str]) -> Vec<(&'static str, String)> {
    let mut q = vec![("service", SERVICE.to_string())];
    q.extend(scopes.iter().map(|s| ("scope", s.to_string())));
    q
}

/// GET the token with `scopes`; status and body.
fn get(rb: RequestBuilder, scopes: &[&str]) -> (u16, Value) {
    json_of(rb.query(&scopes_query(scopes)).send().unwrap())
}

/// The `access` claim of a successful answer.
fn access_of(status: u16, body: &Value) -> Value {
    assert_eq!(status, 200, "{body}");
    let (_, claims) = jwt_parts(body["token"].as_str().unwrap());
    claims["access"].clone()
}

fn repo(name: &str, actions: &[&str]) -> Value {
    json!({"type": "repository", "name": name, "actions": actions})
}

/// Check the RS256 signature of `token` with the RSA key of the DER certificate `der`.
fn signature_verifies(token: &str, der: &[u8]) -> bool {
    use aws_lc_rs::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    let key = cert.public_key().subject_public_key.data.to_vec();
    let (signed, sig) = token.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key)
        .verify(signed.as_bytes(), &sig)
        .is_ok()
}

#[test]
fn token_shape_signature_and_claims() {
    let node = node_with_dev();
    let (status, body) = get(
        node.admin(node.get(REALM)),
        &["repository:generic-local/app:pull,push"],
    );
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap();
    assert_eq!(body["access_token"], body["token"]);
    assert_eq!(body["expires_in"], 300);
    let issued_at = body["issued_at"].as_str().unwrap();
    assert!(
        issued_at.len() == 20 && issued_at.ends_with('Z') && &issued_at[10..11] == "T",
        "issued_at is not RFC 3339: {issued_at}"
    );

    let (header, claims) = jwt_parts(token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    // x5c: root.crt's DER, standard base64, and its key verifies the signature.
    let pem = root_crt(&node);
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    let x5c = header["x5c"].as_array().unwrap();
    assert_eq!(x5c.len(), 1, "{header}");
    let der = STANDARD.decode(x5c[0].as_str().unwrap()).unwrap();
    assert_eq!(der, parsed.contents, "x5c is not root.crt");
    assert!(
        signature_verifies(token, &der),
        "signature does not verify with root.crt"
    );
    let mut tampered = token.to_string();
    tampered.insert(tampered.find('.').unwrap() + 5, 'x');
    assert!(!signature_verifies(&tampered, &der));

    assert_eq!(claims["iss"], service_id(&node).as_str());
    assert_eq!(claims["sub"], "admin");
    assert_eq!(
        claims["aud"], SERVICE,
        "aud is the requested service, a string"
    );
    let (iat, nbf, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["nbf"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert!(nbf <= iat && exp == iat + 300, "{claims}");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    // Admin: everything asked, in one entry per resource.
    assert_eq!(
        claims["access"],
        json!([repo("generic-local/app", &["pull", "push"])])
    );

    // An access token of ours is not a registry token, and a registry token is not ours.
    let (status, _) = json_of(
        node.get("/access/api/v1/system/ping")
            .bearer_auth(token)
            .send()
            .unwrap(),
    );
    assert_eq!(
        status, 401,
        "a registry token must not act as an access token"
    );
    // Not even one whose audience is our own service id.
    let (status, body) = json_of(
        node.admin(node.get(REALM))
            .query(&[("service", service_id(&node).as_str())])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = json_of(
        node.get("/access/api/v1/system/ping")
            .bearer_auth(body["token"].as_str().unwrap())
            .send()
            .unwrap(),
    );
    assert_eq!(
        status, 401,
        "a registry token for our service id acted as an access token"
    );
}

#[test]
fn access_is_filtered_by_the_callers_rights() {
    let node = node_with_dev();
    let wanted = [
        "repository:generic-local/app:pull,push",
        "repository:other-local/app:pull repository:other-local/app:push",
    ];

    // Password login with a permission target on generic-local only.
    let (status, body) = get(node.get(REALM).basic_auth(DEV.0, Some(DEV.1)), &wanted);
    assert_eq!(
        access_of(status, &body),
        json!([repo("generic-local/app", &["pull", "push"])])
    );
    // The same user's token as the password.
    let token = dev_token(&node);
    let (status, body) = get(node.get(REALM).basic_auth(DEV.0, Some(&token)), &wanted);
    assert_eq!(
        access_of(status, &body),
        json!([repo("generic-local/app", &["pull", "push"])])
    );
    assert_eq!(jwt_parts(body["token"].as_str().unwrap()).1["sub"], DEV.0);

    // An artifact-scoped token: read on generic-local/app only.
    let scoped = node.admin_token(&[
        ("username", "ci"),
        ("scope", "artifact:generic-local/app/**:r"),
    ])["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = get(node.get(REALM).basic_auth("ci", Some(&scoped)), &wanted);
    assert_eq!(
        access_of(status, &body),
        json!([repo("generic-local/app", &["pull"])])
    );
    // Artifactory's path form: image names are paths inside the repository of the URL.
    let (status, body) = get(
        node.get("/artifactory/api/docker/generic-local/v2/token")
            .basic_auth("ci", Some(&scoped)),
        &["repository:app:pull,push", "repository:other:pull"],
    );
    assert_eq!(access_of(status, &body), json!([repo("app", &["pull"])]));

    // Anonymous: a token, with nothing in it.
    let (status, body) = get(node.get(REALM), &wanted);
    assert_eq!(access_of(status, &body), json!([]));
    assert_eq!(jwt_parts(body["token"].as_str().unwrap()).1["sub"], "");

    // The catalog is for admins.
    let (status, body) = get(
        node.get(REALM).basic_auth(DEV.0, Some(&token)),
        &["registry:catalog:*"],
    );
    assert_eq!(access_of(status, &body), json!([]));
    let (status, body) = get(node.admin(node.get(REALM)), &["registry:catalog:*"]);
    assert_eq!(
        access_of(status, &body),
        json!([{"type": "registry", "name": "catalog", "actions": ["*"]}])
    );
}

#[test]
fn oauth2_post_form() {
    let node = node_with_dev();
    let token = dev_token(&node);
    let post = |form: &[(&str, &str)]| json_of(node.post(REALM).form(form).send().unwrap());

    let (status, body) = post(&[
        ("grant_type", "password"),
        ("username", DEV.0),
        ("password", DEV.1),
        ("service", SERVICE),
        ("client_id", "containers/image"),
        ("scope", "repository:generic-local/app:pull"),
        ("scope", "repository:other-local/app:pull"),
    ]);
    assert_eq!(
        access_of(status, &body),
        json!([repo("generic-local/app", &["pull"])])
    );
    let (status, body) = post(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &token),
        ("service", SERVICE),
        ("client_id", "containers/image"),
        ("scope", "repository:generic-local/app:pull,push"),
    ]);
    assert_eq!(
        access_of(status, &body),
        json!([repo("generic-local/app", &["pull", "push"])])
    );
    assert_eq!(jwt_parts(body["token"].as_str().unwrap()).1["aud"], SERVICE);

    let (status, body) = post(&[("grant_type", "refresh_token"), ("refresh_token", "nope")]);
    assert_eq!(status, 401, "{body}");
    let (status, body) = post(&[
        ("grant_type", "password"),
        ("username", DEV.0),
        ("password", "wrong"),
    ]);
    assert_eq!(status, 401, "{body}");
    let (status, body) = post(&[("grant_type", "client_credentials")]);
    assert_eq!(status, 400, "{body}");
}

#[test]
fn refusals() {
    let node = node_with_dev();
    // Bad password: 401, the registry's error shape, a Basic challenge.
    let r = node
        .get(REALM)
        .basic_auth(DEV.0, Some("wrong"))
        .query(&scopes_query(&["repository:generic-local/app:pull"]))
        .send()
        .unwrap();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let (status, body) = json_of(r);
    assert_eq!(status, 401, "{body}");
    assert!(challenge.starts_with("Basic realm="), "{challenge}");
    assert_eq!(error_code(&body), "UNAUTHORIZED");

    // A revoked token as the password.
    let token = dev_token(&node);
    let (status, _) = get(node.get(REALM).basic_auth(DEV.0, Some(&token)), &[]);
    assert_eq!(status, 200);
    let r = node
        .admin(node.post("/access/api/v1/tokens/revoke"))
        .form(&[("token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, body) = get(node.get(REALM).basic_auth(DEV.0, Some(&token)), &[]);
    assert_eq!(status, 401, "revoked token still accepted: {body}");
    // Someone else's token under another name.
    let other = dev_token(&node);
    let (status, _) = get(node.get(REALM).basic_auth("admin", Some(&other)), &[]);
    assert_eq!(status, 401);

    // Malformed scopes and repositories.
    for bad in ["repository", "repository:a/../b:pull", "repository::pull"] {
        let (status, body) = get(node.admin(node.get(REALM)), &[bad]);
        assert_eq!(status, 400, "{bad}: {body}");
    }
}
