//! The audit trail: one JSON line per security event, written to rotated files
//! (`tracing-appender`) by a writer thread, so a request never waits on the disk.
//!
//! An event carries `time`, `kind`, `node_id`, `origin` (`request`: this node served it, with
//! `request_id`, `actor` and `client_ip`; `log`: a replicated change this node applied) and
//! kind-specific fields. Absent fields are left out. No event ever holds a token, refresh
//! token, password or key: callers pass ids, names and scopes only.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_appender::rolling::{RollingFileAppender, Rotation};

use super::settings::AuditConfig;

/// Audit files are `audit.<date>.jsonl` (or `audit.jsonl` without rotation).
pub const FILE_PREFIX: &str = "audit";
pub const FILE_SUFFIX: &str = "jsonl";

/// Where an event comes from.
pub const ORIGIN_REQUEST: &str = "request";
pub const ORIGIN_LOG: &str = "log";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub time: String,
    pub kind: String,
    #[serde(default)]
    pub node_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Kind-specific fields.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

pub fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    // Milliseconds are plenty, and keep lines short.
    let now = now
        .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now);
    now.format(&Rfc3339).unwrap_or_default()
}

impl Event {
    /// A new event of `kind`, now, from the request this task serves (if any).
    pub fn new(kind: &str) -> Event {
        let ctx = super::context::current();
        Event {
            time: now_rfc3339(),
            kind: kind.to_string(),
            node_id: 0,
            origin: Some(ORIGIN_REQUEST.to_string()),
            request_id: ctx.as_ref().map(|c| c.request_id.clone()),
            actor: ctx.as_ref().and_then(|c| c.actor()),
            client_ip: ctx.as_ref().and_then(|c| c.client_ip.clone()),
            subject: None,
            fields: Map::new(),
        }
    }

    /// A replicated change this node applied: no request of its own.
    pub fn applied(kind: &str) -> Event {
        Event {
            time: now_rfc3339(),
            kind: kind.to_string(),
            node_id: 0,
            origin: Some(ORIGIN_LOG.to_string()),
            request_id: None,
            actor: None,
            client_ip: None,
            subject: None,
            fields: Map::new(),
        }
    }

    pub fn subject(mut self, subject: impl Into<String>) -> Event {
        self.subject = Some(subject.into());
        self
    }

    /// Name the actor when the request context does not know it (a password login).
    pub fn actor(mut self, actor: impl Into<String>) -> Event {
        self.actor = Some(actor.into());
        self
    }

    /// A kind-specific field; `None` leaves it out.
    pub fn field(mut self, key: &str, value: impl Serialize) -> Event {
        match serde_json::to_value(value) {
            Ok(Value::Null) | Err(_) => {}
            Ok(v) => {
                self.fields.insert(key.to_string(), v);
            }
        }
        self
    }

    /// Write the event to this node's audit trail (nowhere when none is installed).
    pub fn emit(self) {
        Event::emit_all(vec![self]);
    }

    /// Write events in one go: a batch of revocations is one write of whole lines, not a
    /// write (and a wake-up of the writer thread) per token.
    pub fn emit_all(events: Vec<Event>) {
        let Some(sink) = SINK.get() else {
            return;
        };
        let mut lines = String::new();
        for mut event in events {
            event.node_id = sink.node_id;
            match serde_json::to_string(&event) {
                Ok(line) => {
                    lines.push_str(&line);
                    lines.push('\n');
                }
                Err(e) => {
                    tracing::error!(error = %e, kind = %event.kind, "cannot encode an audit event")
                }
            }
        }
        if lines.is_empty() {
            return;
        }
        // One write per call: the writer thread gets whole lines.
        if let Err(e) = sink.writer.clone().write_all(lines.as_bytes()) {
            tracing::error!(error = %e, "cannot write audit events");
        }
    }
}

struct Sink {
    node_id: u64,
    writer: NonBlocking,
}

static SINK: OnceLock<Sink> = OnceLock::new();

fn rotation(name: &str) -> Rotation {
    match name {
        "hourly" => Rotation::HOURLY,
        "never" => Rotation::NEVER,
        _ => Rotation::DAILY,
    }
}

/// Open the audit trail in `dir`. Keep the guard while serving: dropping it flushes what
/// the writer thread still holds.
pub fn install(node_id: u64, config: &AuditConfig, dir: &Path) -> Result<WorkerGuard, String> {
    let bad_dir = |e: std::io::Error| format!("audit dir {}: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(bad_dir)?;
    // Names, addresses and who did what: for the node's user only.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(bad_dir)?;
    let mut builder = RollingFileAppender::builder()
        .rotation(rotation(&config.rotation))
        .filename_prefix(FILE_PREFIX)
        .filename_suffix(FILE_SUFFIX);
    if config.max_files > 0 {
        builder = builder.max_log_files(config.max_files);
    }
    let appender = builder
        .build(dir)
        .map_err(|e| format!("audit dir {}: {e}", dir.display()))?;
    // Not lossy: when the writer falls far behind, requests wait rather than lose events.
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("audit-writer")
        .finish(appender);
    SINK.set(Sink { node_id, writer })
        .map_err(|_| "the audit trail is already open".to_string())?;
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_fields_are_left_out_and_fields_are_flat() {
        let e = Event::applied("token.revoked")
            .subject("alice")
            .field("token_id", "t1")
            .field("expiry", None::<u64>)
            .field("scope", "applied-permissions/user");
        let v = serde_json::to_value(&e).unwrap();
        let o = v.as_object().unwrap();
        assert_eq!(o["kind"], "token.revoked");
        assert_eq!(o["origin"], "log");
        assert_eq!(o["subject"], "alice");
        assert_eq!(o["token_id"], "t1");
        assert_eq!(o["scope"], "applied-permissions/user");
        for absent in ["expiry", "request_id", "actor", "client_ip"] {
            assert!(!o.contains_key(absent), "{absent} in {v}");
        }
        assert!(o.values().all(|v| !v.is_null()), "{v}");
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn time_is_rfc3339_utc() {
        let t = now_rfc3339();
        let parsed = OffsetDateTime::parse(&t, &Rfc3339).unwrap();
        assert_eq!(parsed.offset(), time::UtcOffset::UTC);
        assert!(t.ends_with('Z'), "{t}");
    }
}
