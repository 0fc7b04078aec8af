//! `/metrics` (Prometheus text format), the audit events API, and the middleware that counts
//! requests by matched route pattern (never the raw path: ids would explode the label set).

use std::collections::HashMap;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::extract::{client_ip, resolve_caller, Admin};
use crate::service::telemetry::Telemetry;
use crate::service::{ServiceError, ServiceResult};
use crate::telemetry::audit_read::Filter;
use crate::telemetry::metrics;

/// Route label of a request no route matched.
const UNMATCHED: &str = "unmatched";

pub async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| UNMATCHED.to_string());
    metrics::request(
        &route,
        &method,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    Ok(res)
}

/// `GET /metrics`: admins, tokens with `system:metrics:r`, or addresses in
/// `metrics.anonymous-from`.
pub async fn metrics(
    telemetry: web::Data<Telemetry>,
    req: HttpRequest,
) -> ServiceResult<HttpResponse> {
    if !telemetry.metrics_anonymous(client_ip(&req)) {
        let who = resolve_caller(&req)
            .await?
            .ok_or_else(|| ServiceError::Unauthenticated("authentication required".into()))?;
        telemetry.authorize_metrics(&who)?;
    }
    let body = telemetry.metrics_text()?;
    Ok(HttpResponse::Ok()
        .content_type(metrics::CONTENT_TYPE)
        .body(body))
}

/// `GET /access/api/v1/audit/events?since=&until=&subject=&kind=&limit=` (admins).
pub async fn audit_events(
    telemetry: web::Data<Telemetry>,
    _: Admin,
    query: web::Query<HashMap<String, String>>,
) -> ServiceResult<HttpResponse> {
    let filter = Filter::from_query(&query).map_err(ServiceError::invalid)?;
    let events = telemetry.audit_events(filter).await?;
    Ok(HttpResponse::Ok().json(json!({ "events": events })))
}
