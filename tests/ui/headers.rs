use super::*;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn assert_strict(r: &Response) {
    let h = r.headers();
    assert_eq!(h["content-security-policy"], CSP);
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
}

#[test]
fn pages_carry_a_strict_policy_and_cookies_their_flags() {
    let node = TestNode::start();
    let page = Page::new(&node);
    let r = page.get("/", None);
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/ui/");
    let r = page.get("/ui/tokens", None);
    assert_eq!(r.status(), 303, "not signed in: to the form");
    assert_eq!(r.headers()["location"], "/ui/login");

    let r = page.get("/ui/login", None);
    assert_eq!(r.status(), 200);
    assert_strict(&r);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let login = set_cookie(&r, "access_login").unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/ui/login"] {
        assert!(login.contains(flag), "{login}");
    }
    assert!(!login.contains("Secure"), "plain http: {login}");
    assert!(!r.text().unwrap().contains("<script"));

    let r = page.try_sign_in("admin", ADMIN_PASSWORD);
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/ui/tokens");
    let session = set_cookie(&r, "access_session").unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
        assert!(session.contains(flag), "{session}");
    }
    assert!(!session.contains("Secure"), "{session}");

    let css = page.get("/ui/static/style.css", None);
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_strict(&css);
}

#[test]
fn with_tls_the_cookies_are_secure() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    access_node_harness::tls::install_default_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    std::fs::write(path("ca.crt"), &ca_pem).unwrap();
    std::fs::write(path("node.crt"), cert.pem()).unwrap();
    std::fs::write(path("node.key"), key.serialize_pem()).unwrap();

    let mut node = TestNode::prepare(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        ("ACCESS_NODE_TLS_CERT_FILE", &path("node.crt")),
        ("ACCESS_NODE_TLS_KEY_FILE", &path("node.key")),
        ("ACCESS_NODE_TLS_CA_FILE", &path("ca.crt")),
    ]);
    node.scheme = "https".into();
    node.client = access_node_harness::tls::client(&ca_pem, None);
    node.spawn();
    node.wait_ready();
    let page = Page {
        base: node.url(""),
        http: Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
            .build()
            .unwrap(),
    };
    let r = page.get("/ui/login", None);
    assert!(set_cookie(&r, "access_login").unwrap().contains("Secure"));
    let r = page.try_sign_in("admin", ADMIN_PASSWORD);
    assert_eq!(r.status(), 303);
    let session = set_cookie(&r, "access_session").unwrap();
    assert!(session.contains("; Secure"), "{session}");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
}

#[test]
fn form_posts_need_this_origin_and_the_session_token() {
    let node = TestNode::start();
    let page = Page::new(&node);
    let session = page.sign_in("admin", ADMIN_PASSWORD);
    let csrf = page.csrf(&session);
    let cookie = format!("access_session={session}");
    let c = csrf.as_str();
    let group = |name: &'static str| [("csrf", c), ("name", name)];
    let refused = |r: Response, why: &str| {
        assert_eq!(r.status(), 403);
        assert_strict(&r);
        let body = r.text().unwrap();
        assert!(body.contains(why), "{body}");
    };
    // No Origin nor Referer, another Origin, a foreign Referer: refused.
    let bare = page
        .post_raw("/ui/groups")
        .header("cookie", &cookie)
        .form(&group("a"));
    refused(bare.send().unwrap(), "no Origin or Referer");
    let other = page
        .post_raw("/ui/groups")
        .header("cookie", &cookie)
        .header("origin", "http://localhost:8082")
        .form(&group("b"));
    refused(other.send().unwrap(), "not posted from this site");
    let referer = page
        .post_raw("/ui/groups")
        .header("cookie", &cookie)
        .header("referer", "http://evil.example/ui/groups")
        .form(&group("c"));
    refused(referer.send().unwrap(), "not posted from this site");
    // This origin without the token, or with another session's: refused.
    refused(
        page.post("/ui/groups", &session, &[("name", "d")]),
        "carries no CSRF token",
    );
    let other_session = page.sign_in("admin", ADMIN_PASSWORD);
    let other_csrf = page.csrf(&other_session);
    assert_ne!(other_csrf, csrf);
    refused(
        page.post(
            "/ui/groups",
            &session,
            &[("csrf", &other_csrf), ("name", "e")],
        ),
        "CSRF token is wrong",
    );
    // A same-origin Referer with the right token goes through.
    let ok = page
        .post_raw("/ui/groups")
        .header("cookie", &cookie)
        .header("referer", node.url("/ui/groups"))
        .form(&group("f"));
    let r = ok.send().unwrap();
    assert_eq!(r.status(), 303);
    let (_, groups) = json_of(
        node.admin(node.get("/access/api/v2/groups"))
            .send()
            .unwrap(),
    );
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["f"], "only the checked post created a group");

    // The sign-in form: its own cookie must match, and the origin too.
    let r = page
        .post_raw("/ui/login")
        .header("origin", node.url(""))
        .form(&[
            ("csrf", "x"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("sign-in form has expired"));
    let r = page
        .post_raw("/ui/login")
        .header("origin", "http://evil.example")
        .header("cookie", "access_login=x")
        .form(&[
            ("csrf", "x"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(set_cookie(&r, "access_session").is_none());
}
