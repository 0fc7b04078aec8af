//! Keys (admins only): the signing and verification keys, trusted certificates (list, add
//! a PEM, remove) and the root key reset, which asks for a confirmation.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use maud::html;

use super::error::{back_to, UiError};
use super::layout::{action_button, csrf_field, notice, page, respond, see_other, when};
use super::session::{service, AdminPost, AdminSigned};
use crate::crypto::KeyOrigin;
use crate::service::keys::Keys;
use crate::service::ServiceError;

const BACK: &str = "/ui/keys";

fn origin(o: KeyOrigin) -> &'static str {
    match o {
        KeyOrigin::Active => "active",
        KeyOrigin::Retired => "retired",
        KeyOrigin::Trusted => "trusted",
    }
}

/// `GET /ui/keys`.
pub async fn page_keys(
    req: HttpRequest,
    AdminSigned(s): AdminSigned,
) -> Result<HttpResponse, UiError> {
    let svc = service::<Keys>(&req)?;
    let keys = svc.keyset()?;
    let trusted = svc.trusted_certs()?;
    let reset = req.query_string().split('&').any(|kv| kv == "done=reset");
    let content = html! {
        @if reset { (notice(true, "The root key was reset.")) }
        h2 { "Verification keys" }
        table #keys {
            thead { tr { th { "Key id" } th { "Origin" } th { "Service id" } th { "Name" } } }
            tbody {
                @for k in &keys.public_keys {
                    tr { td.id { (k.kid) } td { (origin(k.origin)) } td { (k.service_id) } td { (k.name.as_deref().unwrap_or("")) } }
                }
            }
        }
        h2 { "Trusted certificates" }
        table #trusted {
            thead { tr { th { "Name" } th { "Service id" } th { "Key id" } th { "Added (UTC)" } th {} } }
            tbody {
                @for c in &trusted {
                    tr data-cert=(c.name) {
                        td { (c.name) } td { (c.service_id) } td.id { (c.kid) } td { (when(c.added_at)) }
                        td { (action_button(&s, "/ui/keys/trusted/remove", &[("name", &c.name)], "Remove")) }
                    }
                }
            }
        }
        @if trusted.is_empty() { p.empty { "No trusted certificates." } }
        form.card #add-trusted method="post" action="/ui/keys/trusted" {
            (csrf_field(&s))
            label for="cert-name" { "Name" }
            input #cert-name name="name" type="text" required;
            label for="cert-service-id" { "Service id (optional: else the certificate's common name)" }
            input #cert-service-id name="service_id" type="text" placeholder="jfac@...";
            label for="cert-pem" { "Certificate (PEM)" }
            textarea #cert-pem name="certificate" rows="8" required placeholder="-----BEGIN CERTIFICATE-----" {}
            button.primary type="submit" { "Trust certificate" }
        }
        h2 { "Reset the root key" }
        form.card.warning #reset-key method="post" action="/ui/keys/reset" {
            (csrf_field(&s))
            p { "A new signing keypair is created for the whole cluster. Without \"keep the old key\", every token issued so far stops validating." }
            label.choice { input type="checkbox" name="keep_old" value="1" checked; " keep the old key trusted (existing tokens keep working)" }
            label.choice { input type="checkbox" name="confirm" value="yes" required; " I understand: reset the root key now" }
            button.danger type="submit" { "Reset root key" }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page("Keys", Some(&s), BACK, content),
    ))
}

/// `POST /ui/keys/trusted`.
pub async fn add_trusted(req: HttpRequest, post: AdminPost) -> Result<HttpResponse, UiError> {
    let svc = service::<Keys>(&req)?;
    let back = back_to(BACK);
    let f = &post.form;
    let name = f
        .required("name", "The certificate's name")
        .map_err(&back)?;
    let pem = f
        .required("certificate", "The certificate (PEM)")
        .map_err(&back)?;
    svc.add_trusted(name, pem, f.get("service_id").map(String::from))
        .await
        .map_err(back)?;
    Ok(see_other(BACK))
}

/// `POST /ui/keys/trusted/remove`.
pub async fn remove_trusted(req: HttpRequest, post: AdminPost) -> Result<HttpResponse, UiError> {
    let svc = service::<Keys>(&req)?;
    let back = back_to(BACK);
    let name = post
        .form
        .required("name", "The certificate's name")
        .map_err(&back)?;
    svc.remove_trusted(name).await.map_err(back)?;
    Ok(see_other(BACK))
}

/// `POST /ui/keys/reset`: only with the confirmation ticked.
pub async fn reset(req: HttpRequest, post: AdminPost) -> Result<HttpResponse, UiError> {
    let svc = service::<Keys>(&req)?;
    let back = back_to(BACK);
    if post.form.get("confirm") != Some("yes") {
        return Err(back(ServiceError::BadRequest(
            "tick the confirmation to reset the root key".into(),
        )));
    }
    svc.reset_certificate(post.form.checked("keep_old"))
        .await
        .map_err(back)?;
    Ok(see_other("/ui/keys?done=reset"))
}
