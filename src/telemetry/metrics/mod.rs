//! The node's Prometheus metrics: one registry per process (a process is one node), counted
//! where each outcome is decided, and encoded by `prometheus-client` in the Prometheus text
//! format. Gauges of Raft and federation are set from a [`Sample`] just before encoding.

mod registry;

use prometheus_client::encoding::prometheus_text;

pub use prometheus_text::CONTENT_TYPE;
use registry::{
    KindLabel, MemberLabel, OutcomeLabel, PeerLabel, ProviderOutcomeLabels, RefusalLabels,
    RequestLabels, RouteLabels, ScimLabels, StateLabel, METRICS,
};

/// A finished HTTP request. `route` is the matched pattern, never the raw path.
pub fn request(route: &str, method: &str, status: u16, seconds: f64) {
    let m = &*METRICS;
    m.http_requests
        .get_or_create(&RequestLabels {
            route: route.to_string(),
            method: method.to_string(),
            status,
        })
        .inc();
    m.http_duration
        .get_or_create(&RouteLabels {
            route: route.to_string(),
            method: method.to_string(),
        })
        .observe(seconds);
}

pub fn token_issued(kind: &'static str) {
    METRICS
        .tokens_issued
        .get_or_create(&KindLabel { kind })
        .inc();
}

pub fn token_refreshed(kind: &'static str) {
    METRICS
        .tokens_refreshed
        .get_or_create(&KindLabel { kind })
        .inc();
}

pub fn token_revoked(kind: &'static str) {
    METRICS
        .tokens_revoked
        .get_or_create(&KindLabel { kind })
        .inc();
}

/// A validation's outcome, as [`super::outcome::validation`] names it.
pub fn validation(outcome: &'static str) {
    if outcome == "valid" {
        METRICS.validations_valid.inc();
        return;
    }
    METRICS
        .validations
        .get_or_create(&OutcomeLabel { outcome })
        .inc();
}

pub fn verified_cache(hit: bool) {
    if hit {
        METRICS.cache_hits.inc();
    } else {
        METRICS.cache_misses.inc();
    }
}

/// `succeeded`, `failed` or `throttled`.
pub fn login(outcome: &'static str) {
    METRICS
        .logins
        .get_or_create(&OutcomeLabel { outcome })
        .inc();
}

/// The clock offsets last read (ms), by `node-<id>` or `site-<name>`; the rest cleared.
pub fn clock_offsets(offsets: impl Iterator<Item = (String, i64)>) {
    METRICS.clock_offset.clear();
    for (peer, ms) in offsets {
        METRICS
            .clock_offset
            .get_or_create(&PeerLabel { peer })
            .set(ms as f64 / 1000.0);
    }
}

/// A change from federated site `peer` (our entry's name) refused for `reason`.
pub fn federation_refused(peer: &str, reason: &'static str) {
    METRICS
        .federation_refused
        .get_or_create(&RefusalLabels {
            peer: peer.to_string(),
            reason,
        })
        .inc();
}

/// An OIDC exchange at `provider` (an existing provider's name, or `unknown`): `granted`,
/// `refused` or `issuer_unavailable`.
pub fn oidc_exchange(provider: &str, outcome: &'static str) {
    METRICS
        .oidc_exchanges
        .get_or_create(&ProviderOutcomeLabels {
            provider: provider.to_string(),
            outcome,
        })
        .inc();
}

/// A fetch of `provider`'s keys from its issuer.
pub fn oidc_jwks_fetch(provider: &str, ok: bool) {
    METRICS
        .oidc_jwks_fetches
        .get_or_create(&ProviderOutcomeLabels {
            provider: provider.to_string(),
            outcome: if ok { "ok" } else { "failed" },
        })
        .inc();
}

pub fn batch(commands: usize) {
    METRICS.batch_size.observe(commands as f64);
}

pub fn snapshot_built(seconds: f64) {
    METRICS.snapshots.inc();
    METRICS.snapshot_duration.observe(seconds);
}

/// The state-like values, read when scraped.
#[derive(Debug, Default)]
pub struct Sample {
    /// openraft's state name: Leader, Follower, Candidate, Learner or Shutdown.
    pub state: String,
    pub term: u64,
    pub leader: Option<u64>,
    pub commit_index: u64,
    pub applied_index: u64,
    pub last_log_index: u64,
    /// (member id, entries behind), when this node leads.
    pub lag: Vec<(u64, u64)>,
    pub federation: Vec<PeerSample>,
    /// The format this node reads, and the cluster's (`domain::version`).
    pub format: (u32, u32),
}

/// Raft's states, and `Isolated`: cut off from a majority (`raft::quorum`).
const STATES: [&str; 6] = [
    "Leader",
    "Follower",
    "Candidate",
    "Learner",
    "Shutdown",
    "Isolated",
];

fn gauge_value(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// One peer site's link, as the metrics show it.
#[derive(Debug, Clone, Default)]
pub struct PeerSample {
    pub peer: String,
    /// Journal-to-acceptance time of the last batch, in ms (the leader's link only).
    pub lag_ms: Option<u64>,
    /// Journal entries the peer has not acknowledged.
    pub behind: u64,
    /// Changes held back until the peer's format takes them.
    pub held: u64,
}

/// Set the gauges from `sample` and encode every metric.
pub fn encode(sample: &Sample) -> Result<String, std::fmt::Error> {
    let m = &*METRICS;
    for state in STATES {
        m.raft_state
            .get_or_create(&StateLabel { state })
            .set(i64::from(sample.state == state));
    }
    m.raft_term.set(gauge_value(sample.term));
    m.raft_leader.set(gauge_value(sample.leader.unwrap_or(0)));
    m.raft_commit.set(gauge_value(sample.commit_index));
    m.raft_applied.set(gauge_value(sample.applied_index));
    m.raft_last_log.set(gauge_value(sample.last_log_index));
    m.node_format.set(i64::from(sample.format.0));
    m.cluster_format.set(i64::from(sample.format.1));
    // Members and peers come and go: only the current ones are exported.
    m.replication_lag.clear();
    for (id, lag) in &sample.lag {
        m.replication_lag
            .get_or_create(&MemberLabel {
                member: id.to_string(),
            })
            .set(gauge_value(*lag));
    }
    m.federation_lag.clear();
    m.federation_behind.clear();
    m.federation_held.clear();
    for p in &sample.federation {
        let label = PeerLabel {
            peer: p.peer.clone(),
        };
        if let Some(ms) = p.lag_ms {
            m.federation_lag
                .get_or_create(&label)
                .set(ms as f64 / 1000.0);
        }
        m.federation_behind
            .get_or_create(&label)
            .set(gauge_value(p.behind));
        m.federation_held
            .get_or_create(&label)
            .set(gauge_value(p.held));
    }
    let mut out = String::new();
    prometheus_text::encode(&mut out, &m.registry)?;
    Ok(out)
}

/// A SCIM operation on `resource` (`User`, `Group`): `ok`, or the status that refused it.
pub fn scim_operation(resource: &'static str, operation: &'static str, outcome: &'static str) {
    METRICS
        .scim_operations
        .get_or_create(&ScimLabels {
            resource,
            operation,
            outcome,
        })
        .inc();
}
