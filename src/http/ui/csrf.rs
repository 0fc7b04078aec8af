//! Cross-site request forgery defences of the page's POSTs, on top of `SameSite=Strict`:
//! the request must come from this origin (Origin, else Referer), and carry the session's
//! synchronizer token (the sign-in form: the token of its own short-lived cookie).

use actix_web::HttpRequest;

use crate::domain::policy::PolicyError;
use crate::service::{ServiceError, ServiceResult};

fn refused(why: &'static str) -> ServiceError {
    ServiceError::Forbidden(PolicyError::CrossSite(why))
}

/// `host[:port]` of an `http(s)://host[:port]/...` URL.
fn authority(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The host of `host[:port]` or `[v6]:port`. Ports are left out of the comparison: cookies
/// do not keep ports apart either, and a proxy may drop the port from `Host` (nginx's `$host`).
fn hostname(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority
            .find(']')
            .map_or(authority, |end| &authority[..=end]);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// The page was posted from this host: its Origin (or, without one, its Referer) names the
/// host the request was sent to (as `Host`, or `X-Forwarded-Host` from a proxy).
pub fn same_origin(req: &HttpRequest) -> ServiceResult<()> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let from = header("origin")
        .or_else(|| header("referer"))
        .ok_or_else(|| refused("the request names no Origin or Referer"))?;
    let info = req.connection_info();
    match authority(from) {
        Some(a) if hostname(a).eq_ignore_ascii_case(hostname(info.host())) => Ok(()),
        _ => Err(refused("the form was not posted from this site")),
    }
}

/// The synchronizer token sent with a form equals the expected one (constant time).
pub fn same_token(given: Option<&str>, expected: &str) -> ServiceResult<()> {
    match given {
        Some(g) if constant_time_eq::constant_time_eq(g.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(refused("the form's CSRF token is wrong (reload the page)")),
        None => Err(refused("the form carries no CSRF token")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn authorities() {
        assert_eq!(authority("http://h:1/ui/x?y"), Some("h:1"));
        assert_eq!(authority("https://h"), Some("h"));
        assert_eq!(authority("null"), None);
        assert_eq!(authority("ftp://h/"), None);
        assert_eq!(hostname("h:8082"), "h");
        assert_eq!(hostname("h"), "h");
        assert_eq!(hostname("[::1]:8082"), "[::1]");
        assert_eq!(hostname("[::1]"), "[::1]");
    }

    #[test]
    fn origin_must_name_this_host() {
        let ok = TestRequest::default()
            .insert_header(("host", "node:8082"))
            .insert_header(("origin", "http://node:8082"))
            .to_http_request();
        assert!(same_origin(&ok).is_ok());
        let referer = TestRequest::default()
            .insert_header(("host", "node:8082"))
            .insert_header(("referer", "http://node:8082/ui/tokens"))
            .to_http_request();
        assert!(same_origin(&referer).is_ok());
        // Behind a proxy that drops the port from Host.
        let proxied = TestRequest::default()
            .insert_header(("host", "node"))
            .insert_header(("origin", "http://node:8080"))
            .to_http_request();
        assert!(same_origin(&proxied).is_ok());
        for (name, value) in [("origin", "http://evil:8082"), ("origin", "null")] {
            let bad = TestRequest::default()
                .insert_header(("host", "node:8082"))
                .insert_header((name, value))
                .to_http_request();
            assert!(same_origin(&bad).is_err(), "{value}");
        }
        let none = TestRequest::default()
            .insert_header(("host", "node:8082"))
            .to_http_request();
        assert!(same_origin(&none).is_err());
    }

    #[test]
    fn tokens_compare() {
        assert!(same_token(Some("abc"), "abc").is_ok());
        assert!(same_token(Some("abd"), "abc").is_err());
        assert!(same_token(None, "abc").is_err());
    }
}
