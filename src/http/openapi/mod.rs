//! The OpenAPI 3 document, served at `/openapi.json` (and `/access/api/v1/openapi.json`).
//! Paths and methods are read off the route table as it mounts (`route_book::RouteBook`), so the
//! document lists exactly what is served; `ops` says what each handler takes and answers, and
//! `schemas` the bodies' shapes.

pub mod admin_schemas;
mod links;
mod oidc_schemas;
pub mod ops;
pub mod requests;
pub mod schemas;
mod scim_schemas;

use std::sync::OnceLock;

use actix_web::{web, HttpResponse};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ArrayBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required,
    ResponseBuilder, Schema,
};

use super::route_book::{BookSource, Route, RouteBook};
use ops::{Answer, Auth, Body, Op};

/// The whole document, for the routes of `book`.
pub fn document(book: &RouteBook) -> OpenApi {
    let mut paths = Paths::new();
    for route in &book.routes {
        let op = ops::describe(&route.handler);
        let mut operation = operation(route, op);
        links::add(&mut operation, route, book);
        paths.add_path_operation(&route.path, vec![method(route.method)], operation);
    }
    let components = requests::components(
        requests::components(
            requests::components(schemas::components(), requests::schemas()),
            oidc_schemas::all(),
        ),
        scim_schemas::all(),
    )
    .security_scheme(
        "basic",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
    )
    .security_scheme(
        "bearer",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    )
    .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("access-node")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "JFrog-Access-compatible access tokens from a Raft cluster. Errors answer \
                     {\"errors\":[{\"code\",\"message\"}]} with the status.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components))
        .build()
}

/// The document as served: JSON, with utoipa's field names of links put right.
pub fn json_document(book: &RouteBook) -> serde_json::Value {
    let mut doc = serde_json::to_value(document(book)).unwrap_or_default();
    links::fix_field_names(&mut doc);
    doc
}

/// `GET /openapi.json`: built once per process.
pub async fn serve(source: web::Data<BookSource>) -> HttpResponse {
    static DOC: OnceLock<Vec<u8>> = OnceLock::new();
    let body =
        DOC.get_or_init(|| serde_json::to_vec(&json_document(&(source.0)())).unwrap_or_default());
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body.clone())
}

const SCIM: &str = crate::http::error::SCIM_CONTENT_TYPE;

fn method(name: &str) -> HttpMethod {
    match name {
        "post" => HttpMethod::Post,
        "put" => HttpMethod::Put,
        "patch" => HttpMethod::Patch,
        "delete" => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn string_schema() -> Schema {
    Schema::Object(ObjectBuilder::new().schema_type(Type::String).build())
}

fn json(schema: RefOr<Schema>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

/// The operation id of `method path`: unique by construction.
fn operation_id(method: &str, path: &str) -> String {
    format!("{method}{path}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn operation(route: &Route, op: Option<Op>) -> utoipa::openapi::path::Operation {
    let id = operation_id(route.method, &route.path);
    let mut b = OperationBuilder::new()
        .operation_id(Some(id))
        .description(Some(format!("Served by `{}`.", route.handler)));
    for segment in route.path.split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            b = b.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(requests::parse(requests::path_param(
                        &route.path,
                        name,
                    )))),
            );
        }
    }
    let mut errors = ResponseBuilder::new()
        .description("An error, with the status saying which")
        .content("application/json", json(schema_ref("Error")));
    if route.path.contains("/scim/v2") {
        errors = errors.content(SCIM, json(schema_ref("ScimError")));
    }
    b = b.response("default", errors);
    let Some(op) = op else {
        return b.summary(Some(route.handler.clone())).build();
    };
    b = b.summary(Some(op.summary)).tag(op.tag);
    for name in op.query {
        let (schema, required) = if route.handler.starts_with("scim::") {
            (scim_schemas::query(name), false)
        } else {
            requests::query(&route.handler, name)
        };
        b = b.parameter(
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Query)
                .required(if required {
                    Required::True
                } else {
                    Required::False
                })
                .schema(Some(requests::parse(schema))),
        );
    }
    b = match op.auth {
        Auth::Anonymous | Auth::Site => b,
        Auth::Optional => b
            .security(SecurityRequirement::default())
            .security(SecurityRequirement::new("basic", Vec::<String>::new()))
            .security(SecurityRequirement::new("bearer", Vec::<String>::new())),
        Auth::User | Auth::Admin => b
            .security(SecurityRequirement::new("basic", Vec::<String>::new()))
            .security(SecurityRequirement::new("bearer", Vec::<String>::new())),
    };
    if let Some(body) = request_body(op.body) {
        b = b.request_body(Some(body));
    }
    if let Answer::Upsert(_) = op.answer {
        b = b.response("201", answer(op.answer).1);
    }
    let (status, response) = answer(op.answer);
    b.response(status, response).build()
}

/// Whether the body of request schema `name` must be sent.
fn body_required(name: &str) -> bool {
    requests::body_required(&requests::schemas(), name)
        || requests::body_required(&oidc_schemas::all(), name)
        || requests::body_required(&scim_schemas::all(), name)
}

fn request_body(body: Body) -> Option<utoipa::openapi::request_body::RequestBody> {
    let text = || json(RefOr::T(string_schema()));
    let b = RequestBodyBuilder::new();
    Some(
        match body {
            Body::None => return None,
            Body::Params(s) => b
                .content("application/json", json(schema_ref(s)))
                .content("application/x-www-form-urlencoded", json(schema_ref(s)))
                .required(body_required(s).then_some(Required::True)),
            Body::Json(s) => b
                .content("application/json", json(schema_ref(s)))
                .required(Some(Required::True)),
            Body::Form(s) => b
                .content("application/x-www-form-urlencoded", json(schema_ref(s)))
                .required(Some(Required::True)),
            Body::PemOrJson(s) => b
                .content("application/json", json(schema_ref(s)))
                .content("application/x-pem-file", text()),
            Body::Binary => b
                .content("application/octet-stream", text())
                .required(Some(Required::True)),
            Body::Jws => b
                .content("text/plain", text())
                .required(Some(Required::True)),
            Body::Scim(s) => b
                .content(SCIM, json(schema_ref(s)))
                .content("application/json", json(schema_ref(s)))
                .required(body_required(s).then_some(Required::True)),
        }
        .build(),
    )
}

fn answer(a: Answer) -> (String, utoipa::openapi::Response) {
    let r = ResponseBuilder::new().description("Success");
    match a {
        Answer::Json(status, s) => (
            status.to_string(),
            r.content("application/json", json(schema_ref(s))).build(),
        ),
        Answer::JsonArray(status, s) => {
            let array = ArrayBuilder::new().items(schema_ref(s)).build();
            (
                status.to_string(),
                r.content("application/json", json(RefOr::T(Schema::Array(array))))
                    .build(),
            )
        }
        Answer::Text(status, media) => (
            status.to_string(),
            r.content(media, json(RefOr::T(string_schema()))).build(),
        ),
        Answer::NoContent => ("204".into(), r.build()),
        // 201 too: `operation` adds it.
        Answer::Upsert(s) => (
            "200".into(),
            r.content("application/json", json(schema_ref(s))).build(),
        ),
        Answer::Scim(status, s) => (
            status.to_string(),
            r.content(SCIM, json(schema_ref(s))).build(),
        ),
        Answer::Binary => (
            "200".into(),
            r.content("application/octet-stream", json(RefOr::T(string_schema())))
                .build(),
        ),
    }
}

#[cfg(test)]
mod tests;
