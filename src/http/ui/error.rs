//! Errors of the page, as pages: the status is the one `src/http/error.rs` gives the same
//! service error; the body is HTML with the message and a way back. Not signed in is a 303
//! to the sign-in form.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use maud::html;

use super::layout::{page, respond, see_other};
use crate::service::ServiceError;

#[derive(Debug)]
pub struct UiError {
    pub error: ServiceError,
    /// Where the "back" link of the error page goes.
    pub back: &'static str,
}

impl UiError {
    pub fn new(error: ServiceError, back: &'static str) -> UiError {
        UiError { error, back }
    }
}

impl From<ServiceError> for UiError {
    fn from(error: ServiceError) -> UiError {
        UiError::new(error, "/ui/")
    }
}

impl From<crate::store::StoreError> for UiError {
    fn from(error: crate::store::StoreError) -> UiError {
        ServiceError::from(error).into()
    }
}

/// `.map_err(back_to("/ui/tokens"))`: an error whose page links back to that section.
pub fn back_to(back: &'static str) -> impl Fn(ServiceError) -> UiError {
    move |error| UiError::new(error, back)
}

impl fmt::Display for UiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

/// What the page says for a status, before the service's own message.
fn headline(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "That did not work",
        401 => "Not signed in",
        403 => "Not allowed",
        404 => "Not found",
        405 => "Method not allowed",
        409 => "Conflict",
        413 => "Too large",
        415 => "Unsupported form",
        429 => "Too many attempts",
        503 => "Unavailable",
        _ => "Something went wrong",
    }
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match &self.error {
            ServiceError::Unauthenticated(_) | ServiceError::Token(_) => StatusCode::SEE_OTHER,
            e => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.error.status_code();
        if status == StatusCode::UNAUTHORIZED {
            return see_other("/ui/login");
        }
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self.error, "internal error on the admin page");
        }
        let body = page(
            headline(status),
            None,
            "",
            html! {
                p.notice.error role="alert" #error { (self.error.to_string()) }
                p { a href=(self.back) { "Back" } }
            },
        );
        let mut response = respond(status, body);
        crate::http::error::insert_retry_after(&self.error, response.headers_mut());
        response
    }
}
