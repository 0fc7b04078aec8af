use super::*;

/// An error page: the status, HTML, the strict policy, and the reason in `#error`.
fn error_page(r: Response, status: u16, reason: &str) {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert!(r.headers().contains_key("content-security-policy"));
    let body = r.text().unwrap();
    assert!(body.contains(r#"id="error""#), "{body}");
    assert!(body.contains(reason), "expected '{reason}' in {body}");
}

/// Path, form fields (besides the CSRF token), status, what the page says.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], u16, &'a str);

#[test]
fn bad_input_is_a_page_with_the_reason_never_a_500() {
    let node = TestNode::start();
    let page = Page::new(&node);
    let s = page.sign_in("admin", ADMIN_PASSWORD);
    let csrf = page.csrf(&s);
    let c = csrf.as_str();
    let cases: &[Case] = &[
        (
            "/ui/tokens",
            &[("base", "root")],
            400,
            "unknown permission base",
        ),
        (
            "/ui/tokens",
            &[("base", "groups")],
            400,
            "choose at least one group",
        ),
        ("/ui/tokens", &[("base", "none")], 400, "the scope is empty"),
        (
            "/ui/tokens",
            &[("expiry", "custom"), ("expires_in", "soon")],
            400,
            "whole number of seconds",
        ),
        (
            "/ui/tokens",
            &[("extra_scope", "artifact:")],
            400,
            "invalid scope",
        ),
        (
            "/ui/tokens",
            &[("username", "no such/user")],
            400,
            "invalid username",
        ),
        (
            "/ui/tokens",
            &[("expiry", "99999999999999")],
            400,
            "expires_in",
        ),
        ("/ui/tokens/revoke", &[], 400, "token id is required"),
        (
            "/ui/tokens/revoke",
            &[("token_id", "nope")],
            404,
            "not found",
        ),
        (
            "/ui/tokens/revoke-user",
            &[("username", "a b")],
            400,
            "invalid username",
        ),
        (
            "/ui/users",
            &[("username", "carol")],
            400,
            "password is required",
        ),
        (
            "/ui/users",
            &[("username", "../x"), ("password", "long-enough-1")],
            400,
            "invalid username",
        ),
        (
            "/ui/users",
            &[
                ("username", "carol"),
                ("password", "long-enough-1"),
                ("groups", "ghosts"),
            ],
            400,
            "does not exist",
        ),
        (
            "/ui/users/delete",
            &[("username", "admin")],
            409,
            "cannot be deleted",
        ),
        (
            "/ui/users/delete",
            &[("username", "nobody")],
            404,
            "not found",
        ),
        ("/ui/groups", &[("name", "")], 400, "group name is required"),
        (
            "/ui/groups/delete",
            &[("name", "nothing")],
            404,
            "not found",
        ),
        (
            "/ui/groups/members",
            &[("group", "g")],
            400,
            "choose a user",
        ),
        (
            "/ui/keys/trusted",
            &[("name", "x"), ("certificate", "not a pem")],
            400,
            "",
        ),
        ("/ui/keys/trusted/remove", &[("name", "nothing")], 404, ""),
        (
            "/ui/keys/reset",
            &[("keep_old", "1")],
            400,
            "tick the confirmation",
        ),
    ];
    for (path, fields, status, reason) in cases {
        let mut form = vec![("csrf", c)];
        form.extend_from_slice(fields);
        let r = page.post(path, &s, &form);
        assert!(
            r.status().as_u16() < 500,
            "{path} {fields:?}: {}",
            r.status()
        );
        error_page(r, *status, reason);
    }
    // A second group of the same name is a conflict, shown as such.
    assert_eq!(
        page.post("/ui/groups", &s, &[("csrf", c), ("name", "g")])
            .status(),
        303
    );
    error_page(
        page.post(
            "/ui/groups",
            &s,
            &[("csrf", c), ("name", "g"), ("description", "other")],
        ),
        409,
        "already exists",
    );
    // A body that is not a form, or too large.
    let cookie = format!("access_session={s}");
    let json = page
        .post_raw("/ui/groups")
        .header("cookie", &cookie)
        .header("origin", node.url(""))
        .header("content-type", "application/json")
        .body(format!(r#"{{"csrf":"{c}","name":"j"}}"#))
        .send()
        .unwrap();
    error_page(json, 415, "application/x-www-form-urlencoded");
    let big = "x".repeat(200 * 1024);
    let r = page.post("/ui/groups", &s, &[("csrf", c), ("name", &big)]);
    error_page(r, 413, "larger than");
    // Unknown pages and methods.
    error_page(page.get("/ui/nowhere", Some(&s)), 404, "no such page");
    let r = page.http.delete(node.url("/ui/tokens")).send().unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, POST");
}
