//! The page shell: head (the one stylesheet, no script), header with the signed-in user and
//! the sections they may open, notices, and small shared pieces (the CSRF field, times).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use maud::{html, Markup, DOCTYPE};

use crate::service::sessions::Session;

/// Sections of the page: path, label, admin only.
const SECTIONS: &[(&str, &str, bool)] = &[
    ("/ui/tokens", "Tokens", false),
    ("/ui/users", "Users", true),
    ("/ui/groups", "Groups", true),
    ("/ui/keys", "Keys", true),
    ("/ui/oidc", "OIDC", true),
    ("/ui/cluster", "Cluster", true),
    ("/ui/audit", "Audit", true),
];

/// The hidden synchronizer token every form of a session carries.
pub fn csrf_field(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// A one-button POST form (revoke, delete, remove).
pub fn action_button(s: &Session, action: &str, fields: &[(&str, &str)], label: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf_field(s))
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            button.danger type="submit" { (label) }
        }
    }
}

/// Unix seconds as UTC, `YYYY-MM-DD HH:MM`.
pub fn when(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_else(|| secs.to_string())
}

/// A notice above the page's content: `ok` for done, otherwise an error.
pub fn notice(ok: bool, text: &str) -> Markup {
    html! {
        @if ok { p.notice.ok role="status" { (text) } }
        @else { p.notice.error role="alert" { (text) } }
    }
}

/// A whole page. `current` marks the section in the navigation.
pub fn page(title: &str, session: Option<&Session>, current: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · access-node" }
                link rel="stylesheet" href="/ui/static/style.css";
                link rel="icon" href="/ui/static/icon.svg" type="image/svg+xml";
            }
            body {
                header {
                    a.brand href="/ui/" { img src="/ui/static/icon.svg" alt="" width="20" height="20"; " access-node" }
                    @if let Some(s) = session {
                        nav {
                            @for (path, label, admin_only) in SECTIONS {
                                @if !*admin_only || s.who.admin {
                                    @if *path == current { a.current href=(path) aria-current="page" { (label) } }
                                    @else { a href=(path) { (label) } }
                                }
                            }
                        }
                        div.who {
                            span #signed-in-as { (s.who.username) }
                            @if s.who.admin { " " span.badge { "admin" } }
                            form.inline method="post" action="/ui/logout" {
                                (csrf_field(s))
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (content)
                }
            }
        }
    }
}

/// An HTML response with `status`.
pub fn respond(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

/// A 303 to `location` (POST-redirect-GET).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("location", location))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc() {
        assert_eq!(when(0), "1970-01-01 00:00");
        assert_eq!(when(1_700_000_000), "2023-11-14 22:13");
    }

    #[test]
    fn text_is_escaped() {
        let m = notice(false, "<script>alert(1)</script>").into_string();
        assert!(m.contains("&lt;script&gt;"), "{m}");
        assert!(!m.contains("<script>"));
    }
}
