//! The node's Prometheus metrics: one registry per process (a process is one node), counted
//! where each outcome is decided, and encoded by `prometheus-client` in the Prometheus text
//! format. Gauges of Raft and federation are set from a [`Sample`] just before encoding.

use std::sync::LazyLock;

use prometheus_client::encoding::{prometheus_text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

pub use prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MemberLabel {
    member: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabel {
    peer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    peer: String,
    reason: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

fn batch_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 11))
}

/// Every metric of the node. Field names follow the exported names without `access_`.
struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    tokens_issued: Family<KindLabel, Counter>,
    tokens_refreshed: Family<KindLabel, Counter>,
    tokens_revoked: Family<KindLabel, Counter>,
    validations: Family<OutcomeLabel, Counter>,
    /// The `valid` member of `validations`, resolved once: every validation counts, and a
    /// family lookup takes its lock and hashes the label.
    validations_valid: Counter,
    cache_hits: Counter,
    cache_misses: Counter,
    logins: Family<OutcomeLabel, Counter>,
    raft_state: Family<StateLabel, Gauge>,
    raft_term: Gauge,
    raft_leader: Gauge,
    raft_commit: Gauge,
    raft_applied: Gauge,
    raft_last_log: Gauge,
    replication_lag: Family<MemberLabel, Gauge>,
    batch_size: Histogram,
    snapshots: Counter,
    snapshot_duration: Histogram,
    federation_lag: Family<PeerLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
    federation_behind: Family<PeerLabel, Gauge>,
    federation_refused: Family<RefusalLabels, Counter>,
    clock_offset: Family<PeerLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut r = Registry::with_prefix("access");
        let validations = Family::<OutcomeLabel, Counter>::default();
        // A clone shares the series' value.
        let validations_valid = validations
            .get_or_create(&OutcomeLabel { outcome: "valid" })
            .clone();
        let m = Metrics {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram),
            tokens_issued: Family::default(),
            tokens_refreshed: Family::default(),
            tokens_revoked: Family::default(),
            validations,
            validations_valid,
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            logins: Family::default(),
            raft_state: Family::default(),
            raft_term: Gauge::default(),
            raft_leader: Gauge::default(),
            raft_commit: Gauge::default(),
            raft_applied: Gauge::default(),
            raft_last_log: Gauge::default(),
            replication_lag: Family::default(),
            batch_size: batch_histogram(),
            snapshots: Counter::default(),
            snapshot_duration: latency_histogram(),
            federation_lag: Family::default(),
            federation_behind: Family::default(),
            federation_refused: Family::default(),
            clock_offset: Family::default(),
            registry: Registry::default(),
        };
        r.register(
            "http_requests",
            "HTTP requests by matched route pattern, method and status",
            m.http_requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "HTTP request latency by matched route pattern and method",
            m.http_duration.clone(),
        );
        r.register(
            "tokens_issued",
            "Tokens issued, by kind",
            m.tokens_issued.clone(),
        );
        r.register(
            "tokens_refreshed",
            "Tokens refreshed, by kind",
            m.tokens_refreshed.clone(),
        );
        r.register(
            "tokens_revoked",
            "Tokens revoked by id or value, by kind",
            m.tokens_revoked.clone(),
        );
        r.register(
            "token_validations",
            "Token validations by outcome",
            m.validations.clone(),
        );
        r.register(
            "verified_cache_hits",
            "Token verifications answered from the verified-token cache",
            m.cache_hits.clone(),
        );
        r.register(
            "verified_cache_misses",
            "Token verifications not answered from the cache",
            m.cache_misses.clone(),
        );
        r.register(
            "logins",
            "Password logins by outcome (succeeded, failed, throttled)",
            m.logins.clone(),
        );
        r.register(
            "raft_state",
            "1 for this node's Raft state, 0 for the others",
            m.raft_state.clone(),
        );
        r.register("raft_term", "Current Raft term", m.raft_term.clone());
        r.register(
            "raft_leader_id",
            "Node id of the current leader (0: none known)",
            m.raft_leader.clone(),
        );
        r.register(
            "raft_commit_index",
            "Highest log index known committed (a follower reports its applied index)",
            m.raft_commit.clone(),
        );
        r.register(
            "raft_applied_index",
            "Last log index applied to the state machine",
            m.raft_applied.clone(),
        );
        r.register(
            "raft_last_log_index",
            "Last log index in this node's log",
            m.raft_last_log.clone(),
        );
        r.register(
            "raft_replication_lag_entries",
            "Entries each member is behind the leader (exported by the leader)",
            m.replication_lag.clone(),
        );
        r.register(
            "raft_batch_size",
            "Commands per group-committed log entry",
            m.batch_size.clone(),
        );
        r.register("snapshots", "Snapshots built", m.snapshots.clone());
        r.register(
            "snapshot_duration_seconds",
            "Time to build a snapshot",
            m.snapshot_duration.clone(),
        );
        r.register(
            "federation_lag_seconds",
            "Time from journaling a change to the peer site accepting it (leader only)",
            m.federation_lag.clone(),
        );
        r.register(
            "federation_events_behind",
            "Journal entries a peer site has not acknowledged yet",
            m.federation_behind.clone(),
        );
        r.register(
            "clock_offset_seconds",
            "How far another member's (node-<id>) or federated site's (site-<name>) clock is ahead of this node's",
            m.clock_offset.clone(),
        );
        r.register(
            "federation_refused_changes",
            "Changes from a federated site that our entry for it (or the store) refused, by reason",
            m.federation_refused.clone(),
        );
        Metrics { registry: r, ..m }
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

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
    /// (peer site, lag in ms, events behind).
    pub federation: Vec<(String, Option<u64>, Option<u64>)>,
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
    for (peer, lag_ms, behind) in &sample.federation {
        let label = PeerLabel { peer: peer.clone() };
        if let Some(ms) = lag_ms {
            m.federation_lag
                .get_or_create(&label)
                .set(*ms as f64 / 1000.0);
        }
        if let Some(behind) = behind {
            m.federation_behind
                .get_or_create(&label)
                .set(gauge_value(*behind));
        }
    }
    let mut out = String::new();
    prometheus_text::encode(&mut out, &m.registry)?;
    Ok(out)
}
