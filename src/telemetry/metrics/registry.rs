//! The registry: every metric family the node exports, their labels, and the one
//! process-wide instance the counting functions of `metrics` update.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RequestLabels {
    pub(super) route: String,
    pub(super) method: String,
    pub(super) status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RouteLabels {
    pub(super) route: String,
    pub(super) method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct KindLabel {
    pub(super) kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct OutcomeLabel {
    pub(super) outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct StateLabel {
    pub(super) state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct MemberLabel {
    pub(super) member: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PeerLabel {
    pub(super) peer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RefusalLabels {
    pub(super) peer: String,
    pub(super) reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ProviderOutcomeLabels {
    pub(super) provider: String,
    pub(super) outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ScimLabels {
    pub(super) resource: &'static str,
    pub(super) operation: &'static str,
    pub(super) outcome: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

fn batch_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 11))
}

/// Every metric of the node. Field names follow the exported names without `access_`.
pub(super) struct Metrics {
    pub(super) registry: Registry,
    pub(super) http_requests: Family<RequestLabels, Counter>,
    pub(super) http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub(super) tokens_issued: Family<KindLabel, Counter>,
    pub(super) tokens_refreshed: Family<KindLabel, Counter>,
    pub(super) tokens_revoked: Family<KindLabel, Counter>,
    pub(super) validations: Family<OutcomeLabel, Counter>,
    /// The `valid` member of `validations`, resolved once: every validation counts, and a
    /// family lookup takes its lock and hashes the label.
    pub(super) validations_valid: Counter,
    pub(super) cache_hits: Counter,
    pub(super) cache_misses: Counter,
    pub(super) logins: Family<OutcomeLabel, Counter>,
    pub(super) raft_state: Family<StateLabel, Gauge>,
    pub(super) raft_term: Gauge,
    pub(super) raft_leader: Gauge,
    pub(super) raft_commit: Gauge,
    pub(super) raft_applied: Gauge,
    pub(super) raft_last_log: Gauge,
    pub(super) node_format: Gauge,
    pub(super) cluster_format: Gauge,
    pub(super) replication_lag: Family<MemberLabel, Gauge>,
    pub(super) batch_size: Histogram,
    pub(super) snapshots: Counter,
    pub(super) snapshot_duration: Histogram,
    pub(super) federation_lag: Family<PeerLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
    pub(super) federation_behind: Family<PeerLabel, Gauge>,
    pub(super) federation_held: Family<PeerLabel, Gauge>,
    pub(super) federation_refused: Family<RefusalLabels, Counter>,
    pub(super) clock_offset: Family<PeerLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
    pub(super) oidc_exchanges: Family<ProviderOutcomeLabels, Counter>,
    pub(super) oidc_jwks_fetches: Family<ProviderOutcomeLabels, Counter>,
    pub(super) scim_operations: Family<ScimLabels, Counter>,
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
            node_format: Gauge::default(),
            cluster_format: Gauge::default(),
            replication_lag: Family::default(),
            batch_size: batch_histogram(),
            snapshots: Counter::default(),
            snapshot_duration: latency_histogram(),
            federation_lag: Family::default(),
            federation_behind: Family::default(),
            federation_held: Family::default(),
            federation_refused: Family::default(),
            clock_offset: Family::default(),
            oidc_exchanges: Family::default(),
            oidc_jwks_fetches: Family::default(),
            scim_operations: Family::default(),
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
            "federation_held_changes",
            "Changes waiting for a peer site's format to take them (they travel in the full sync after its upgrade)",
            m.federation_held.clone(),
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
        r.register(
            "oidc_exchanges",
            "OIDC token exchanges by provider and outcome (granted, refused, issuer_unavailable)",
            m.oidc_exchanges.clone(),
        );
        r.register(
            "oidc_jwks_fetches",
            "Fetches of an OIDC issuer's keys by provider and outcome (ok, failed)",
            m.oidc_jwks_fetches.clone(),
        );
        r.register(
            "node_format_version",
            "The format this node's binary reads (its newest)",
            m.node_format.clone(),
        );
        r.register(
            "cluster_format_version",
            "The cluster's format: the lowest its voters read, raised once every voter reads more",
            m.cluster_format.clone(),
        );
        r.register(
            "scim_operations",
            "SCIM operations by resource (User, Group), operation (create, get, list, replace, modify, delete) and outcome (ok, or the HTTP status of the refusal)",
            m.scim_operations.clone(),
        );
        Metrics { registry: r, ..m }
    }
}

pub(super) static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
