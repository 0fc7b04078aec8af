//! What the node shows of itself: the metrics text and recent audit events. The HTTP layer
//! and the web page both read them here.

use std::net::IpAddr;

use std::path::PathBuf;
use std::sync::Arc;

use super::{ServiceError, ServiceResult};
use crate::config::Config;
use crate::domain::policy::{PolicyError, Principal};
use crate::federation::status::Board;
use crate::raft::membership::Membership;
use crate::store::StateView;
use crate::telemetry::audit::Event;
use crate::telemetry::audit_read::{self, Filter};
use crate::telemetry::{may_read_metrics, metrics};

/// What the node shows of itself: metrics and the audit trail.
pub struct Telemetry {
    config: Arc<Config>,
    home: PathBuf,
    state: StateView,
    membership: Membership,
    links: Arc<Board>,
}

impl Telemetry {
    pub fn new(
        config: Arc<Config>,
        home: PathBuf,
        state: StateView,
        membership: Membership,
        links: Arc<Board>,
    ) -> Telemetry {
        Telemetry {
            config,
            home,
            state,
            membership,
            links,
        }
    }
}

impl Telemetry {
    /// Whether `client` may read the metrics without credentials (`metrics.anonymous-from`).
    pub fn metrics_anonymous(&self, client: Option<IpAddr>) -> bool {
        client.is_some_and(|ip| {
            self.config
                .metrics
                .networks()
                .iter()
                .any(|net| net.contains(&ip))
        })
    }

    /// 403 unless `who` may read the metrics (admin, or a token with `system:metrics:r`).
    pub fn authorize_metrics(&self, who: &Principal) -> ServiceResult<()> {
        if may_read_metrics(who) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(PolicyError::AdminOnly))
        }
    }

    /// Every metric in the Prometheus text format, Raft and federation gauges read now.
    pub fn metrics_text(&self) -> ServiceResult<String> {
        let mut sample = self.membership.sample();
        sample.format = (
            crate::domain::version::own_format(),
            self.state.cluster_format()?,
        );
        let (tail, head) = self.state.federation().fed_journal_range()?;
        for peer in self.state.federation().fed_peers()? {
            // Lag is measured by the leader's link task; elsewhere there is none to report.
            let lag = self.links.get(&peer.name).and_then(|s| s.lag_ms);
            let cursor = self.state.federation().fed_cursor(&peer.name)?;
            let behind = cursor
                .next
                .map_or(head.saturating_sub(tail), |n| head.saturating_sub(n));
            sample.federation.push(metrics::PeerSample {
                peer: peer.name,
                lag_ms: lag,
                behind,
                held: cursor.held.map_or(0, |h| h.count),
            });
        }
        metrics::encode(&sample).map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// Recent audit events of this node, newest first (admins only: the caller checks).
    pub async fn audit_events(&self, filter: Filter) -> ServiceResult<Vec<Event>> {
        let dir = self.config.audit.dir_in(&self.home);
        tokio::task::spawn_blocking(move || match audit_read::read(&dir, &filter) {
            Ok(events) => Ok(events),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(ServiceError::Internal(format!(
                "cannot read the audit trail: {e}"
            ))),
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
    }
}
