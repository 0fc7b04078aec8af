//! What the route table is built with: the [`RouteBook`] every public resource is written
//! into as it is mounted (through [`resource!`]), the answers for a method or path nobody
//! serves, and where `/openapi.json` finds the book ([`BookSource`]).

use actix_web::{web, HttpRequest, HttpResponse};

use crate::service::ServiceError;

/// One method of one path, and the handler serving it (`module::function`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub path: String,
    pub method: &'static str,
    pub handler: String,
}

/// The routes mounted so far, with their full paths.
#[derive(Debug, Default)]
pub struct RouteBook {
    pub routes: Vec<Route>,
}

/// Where in the book the next resources go: the prefix of the scope being built.
pub struct Mount<'a> {
    prefix: String,
    book: &'a mut RouteBook,
}

impl<'a> Mount<'a> {
    pub fn root(book: &'a mut RouteBook) -> Mount<'a> {
        Mount {
            prefix: String::new(),
            book,
        }
    }

    /// An actix scope at `path` and the mount that records the resources put in it: the two
    /// share the one path string, so the book cannot disagree with the router.
    pub fn scope(&mut self, path: &'static str) -> (actix_web::Scope, Mount<'_>) {
        let prefix = format!("{}{path}", self.prefix);
        (
            web::scope(path),
            Mount {
                prefix,
                book: self.book,
            },
        )
    }

    pub fn record(&mut self, path: &str, method: &'static str, handler: &str) {
        self.book.routes.push(Route {
            path: format!("{}{path}", self.prefix),
            method,
            handler: handler.split_whitespace().collect(),
        });
    }
}

/// One resource per path with the methods it serves; any other method answers 405 with an
/// `Allow` header naming them (one resource per path, so the route table says it once).
macro_rules! resource {
    ($mount:expr, $path:expr, $($method:ident => $handler:expr),+ $(,)?) => {{
        $($mount.record($path, stringify!($method), stringify!($handler));)+
        let allow: &'static str = concat!($(stringify!($method), " "),+);
        web::resource($path)
            $(.route(web::$method().to($handler)))+
            .default_service(web::to(move || method_not_allowed(allow)))
    }};
}
pub(crate) use resource;

pub(crate) async fn method_not_allowed(allow: &'static str) -> actix_web::HttpResponse {
    let allow: Vec<String> = allow
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect();
    super::error::method_not_allowed(&allow.join(", "))
}

/// The function that mounts every route into a fresh book (`routes::route_book`), registered
/// as app data by `routes::mount` for the OpenAPI document to read.
#[derive(Clone, Copy)]
pub struct BookSource(pub fn() -> RouteBook);

pub(crate) async fn not_found(req: HttpRequest) -> Result<HttpResponse, ServiceError> {
    Err(ServiceError::Absent(format!(
        "no such endpoint: {} {}",
        req.method(),
        req.path()
    )))
}
