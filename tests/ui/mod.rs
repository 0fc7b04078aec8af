//! The admin web page (`/ui/`) against real node processes: in headless Chromium driven by
//! playwright (`browser`, running tests/ui/test_admin_page.py), and over plain HTTP for what a
//! browser hides: sessions across a cluster and a load balancer, federation peers in the
//! cluster view, throttled sign-ins, headers and cookie flags
//! (with and without TLS), CSRF refusals, and bad input answered with a page, never a 500.

mod browser;
mod federation;
mod headers;
mod input;
mod sessions;

use access_node_harness::*;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::SET_COOKIE;

/// A client that shows redirects instead of following them.
fn no_redirects() -> Client {
    access_node_harness::tls::install_default_provider();
    Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The whole `Set-Cookie` header for cookie `name`.
fn set_cookie(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(String::from)
}

/// The value of cookie `name` set by `r`.
fn cookie_value(r: &Response, name: &str) -> Option<String> {
    let header = set_cookie(r, name)?;
    let value = header.split(';').next()?.split_once('=')?.1;
    Some(value.to_string())
}

/// The `csrf` hidden field of a page.
fn csrf_of(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a csrf field");
    let rest = &html[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// A browser-like client for one site (a node, or a load balancer): its own origin, no
/// redirects followed.
struct Page {
    base: String,
    http: Client,
}

impl Page {
    fn new(node: &TestNode) -> Page {
        Page::at(node.url(""))
    }

    fn at(base: String) -> Page {
        Page {
            base,
            http: no_redirects(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn get(&self, path: &str, session: Option<&str>) -> Response {
        let mut rb = self.http.get(self.url(path));
        if let Some(s) = session {
            rb = rb.header("cookie", format!("access_session={s}"));
        }
        rb.send().unwrap()
    }

    /// A form post from this site's origin.
    fn post(&self, path: &str, session: &str, form: &[(&str, &str)]) -> Response {
        self.post_raw(path)
            .header("cookie", format!("access_session={session}"))
            .header("origin", self.base.clone())
            .form(form)
            .send()
            .unwrap()
    }

    fn post_raw(&self, path: &str) -> RequestBuilder {
        self.http.post(self.url(path))
    }

    /// Sign in through the form; the session cookie's value.
    fn try_sign_in(&self, user: &str, password: &str) -> Response {
        let form = self.get("/ui/login", None);
        let login = cookie_value(&form, "access_login").unwrap();
        let csrf = csrf_of(&form.text().unwrap());
        self.post_raw("/ui/login")
            .header("cookie", format!("access_login={login}"))
            .header("origin", self.base.clone())
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", user),
                ("password", password),
            ])
            .send()
            .unwrap()
    }

    fn sign_in(&self, user: &str, password: &str) -> String {
        let r = self.try_sign_in(user, password);
        assert_eq!(r.status(), 303, "sign-in failed: {:?}", r.text());
        cookie_value(&r, "access_session").unwrap()
    }

    /// The CSRF token of a session (from its tokens page).
    fn csrf(&self, session: &str) -> String {
        let r = self.get("/ui/tokens", Some(session));
        assert_eq!(r.status(), 200);
        csrf_of(&r.text().unwrap())
    }
}
