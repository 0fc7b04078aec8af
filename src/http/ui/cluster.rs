//! Cluster (admins only): this node's Raft view and each member with leader, lag and
//! reachability (what `GET /access/api/v1/cluster/status` answers), and the federation peer
//! sites with their link status (what `GET /access/api/v1/system/federation` answers).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::Value;

use super::error::UiError;
use super::layout::{page, respond};
use super::session::{service, AdminSigned};
use crate::service::cluster::Cluster;
use crate::service::federation::Federation;

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "–".into())
}

/// A JSON field of a peer's status as text (`–` when absent or null).
fn field(v: &Value, path: &[&str]) -> String {
    let found = path.iter().try_fold(v, |v, k| v.get(k));
    match found {
        None | Some(Value::Null) => "–".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| i.to_string())
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

fn yes_no(b: Option<bool>) -> Markup {
    match b {
        Some(true) => html! { span.ok { "yes" } },
        Some(false) => html! { span.bad { "no" } },
        None => html! { "–" },
    }
}

/// `GET /ui/cluster`.
pub async fn page_cluster(
    req: HttpRequest,
    AdminSigned(s): AdminSigned,
) -> Result<HttpResponse, UiError> {
    let cluster = service::<Cluster>(&req)?;
    let federation = service::<Federation>(&req)?;
    let raft = cluster.status();
    let members = cluster.members().await;
    // The leader's view: it runs the links.
    let peers = federation.links().await?;
    let content = html! {
        dl.facts #node {
            dt { "This node" } dd { (raft.node_id) " (" (raft.state) ")" }
            dt { "Leader" } dd #leader { (opt(raft.leader)) @if let Some(u) = &raft.leader_url { " at " (u) } }
            dt { "Term" } dd { (raft.term) }
            dt { "Applied index" } dd { (opt(raft.applied_index)) }
            dt { "Service id" } dd { (cluster.service_id()?.unwrap_or_default()) }
        }
        h2 { "Members" }
        table #members {
            thead { tr { th { "Id" } th { "Address" } th { "Role" } th { "Matched index" } th { "Lag (entries)" } th { "Reachable" } th { "Last contact" } } }
            tbody {
                @for m in &members {
                    tr data-member=(m.id) {
                        td { (m.id) }
                        td { (m.url) }
                        td {
                            @if Some(m.id) == raft.leader { span.badge { "leader" } }
                            @else if m.voter { "voter" } @else { "learner" }
                        }
                        td { (opt(m.matched_index)) }
                        td { (opt(m.lag)) }
                        td { (yes_no(m.reachable)) }
                        td { (m.last_contact_ms_ago.map(|ms| format!("{ms} ms ago")).unwrap_or_else(|| "–".into())) }
                    }
                }
            }
        }
        h2 { "Federation peers" }
        @if peers.is_empty() {
            p.empty { "No federated sites." }
        } @else {
            table #peers {
                thead { tr { th { "Name" } th { "Address" } th { "Service id" } th { "Entities" } th { "State" } th { "Events behind" } th { "Lag (ms)" } th { "Last error" } } }
                tbody {
                    @for p in &peers {
                        tr {
                            td { (field(p, &["name"])) }
                            td { (field(p, &["url"])) }
                            td { (field(p, &["service_id"])) }
                            td { (field(p, &["entities"])) }
                            td { (field(p, &["status", "state"])) }
                            td { (field(p, &["status", "events_behind"])) }
                            td { (field(p, &["status", "lag_ms"])) }
                            td { (field(p, &["status", "last_error"])) }
                        }
                    }
                }
            }
            @if !raft.is_leader { p.hint { "Federation links run on the leader: shown as the leader sees them." } }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page("Cluster", Some(&s), "/ui/cluster", content),
    ))
}
