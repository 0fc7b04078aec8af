//! Recent audit events (admins only): the same reading, with the same filters, as
//! `GET /access/api/v1/audit/events`.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::error::{back_to, UiError};
use super::layout::{page, respond};
use super::session::{service, AdminSigned};
use crate::service::telemetry::Telemetry;
use crate::service::ServiceError;
use crate::telemetry::audit_read::Filter;

/// The kind-specific fields of an event, as `name=value` pairs.
fn details(fields: &serde_json::Map<String, serde_json::Value>) -> String {
    fields
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `GET /ui/audit?subject=&kind=&since=&until=&limit=`: empty fields are no filter.
pub async fn page_audit(
    req: HttpRequest,
    AdminSigned(s): AdminSigned,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, UiError> {
    let svc = service::<Telemetry>(&req)?;
    let given: HashMap<String, String> = query
        .into_inner()
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
    let filter = Filter::from_query(&given)
        .map_err(ServiceError::BadRequest)
        .map_err(back_to("/ui/audit"))?;
    let events = svc.audit_events(filter).await?;
    let value = |name: &str| given.get(name).cloned().unwrap_or_default();
    let content = html! {
        form #audit-filter method="get" action="/ui/audit" {
            label { "Subject " input #audit-subject name="subject" value=(value("subject")); }
            label { "Kind " input #audit-kind name="kind" placeholder="token, login.failed…" value=(value("kind")); }
            label { "Since " input name="since" placeholder="RFC 3339 or Unix seconds" value=(value("since")); }
            label { "Until " input name="until" value=(value("until")); }
            label { "At most " input name="limit" size="5" value=(value("limit")); }
            button type="submit" { "Filter" }
        }
        @if events.is_empty() {
            p.empty { "No events." }
        } @else {
            table #events {
                thead { tr { th { "Time" } th { "Kind" } th { "Node" } th { "Actor" } th { "Subject" } th { "Client" } th { "Request" } th { "Details" } } }
                tbody {
                    @for e in &events {
                        tr data-kind=(e.kind) {
                            td { (e.time) }
                            td { (e.kind) }
                            td { (e.node_id) }
                            td { (e.actor.as_deref().unwrap_or("–")) }
                            td { (e.subject.as_deref().unwrap_or("–")) }
                            td { (e.client_ip.as_deref().unwrap_or("–")) }
                            td { (e.request_id.as_deref().unwrap_or("–")) }
                            td.details { (details(&e.fields)) }
                        }
                    }
                }
            }
        }
        p.hint { "This node's audit trail, newest first. Each node keeps its own file; changes made through the log appear on every node." }
    };
    Ok(respond(
        StatusCode::OK,
        page("Audit", Some(&s), "/ui/audit", content),
    ))
}
