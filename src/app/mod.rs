//! The composition root: opens the home and sled, builds Raft, the writer, the batcher,
//! membership and the use cases (`use_cases`), starts every actor and the HTTP server.

mod use_cases;

pub use use_cases::UseCases;
use use_cases::{use_cases, Handles};

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer};
use openraft::SnapshotPolicy;

use crate::actors::janitor::Janitor;
use crate::actors::key_files::KeyFiles;
use crate::actors::trust_watcher::TrustWatcher;
use crate::config::Config;
use crate::crypto;
use crate::http::request_log::log_requests;
use crate::http::telemetry::record_metrics;
use crate::raft::audit;
use crate::raft::batcher::{self, WriteBatcher};
use crate::raft::contact::PeerContacts;
use crate::raft::election;
use crate::raft::leader_contact::LeaderContact;
use crate::raft::membership::Membership;
use crate::raft::network::ClusterNetwork;
use crate::raft::peer::PeerClient;
use crate::raft::quorum::{self, QuorumWatch};
use crate::raft::snapshot_pace;
use crate::raft::writer::Writer;
use crate::raft::Raft;
use crate::service::bootstrap::{write_secret_file, StartError};
use crate::store::format_mark::FormatMark;
use crate::store::{LogStore, StateMachine};
use crate::tls::{Tls, VerifiedClientCert};

fn load_or_create_join_key(config: &Config, home: &Path) -> Result<String, StartError> {
    if !config.security.join_key.is_empty() {
        return Ok(config.security.join_key.clone());
    }
    let path = home.join("etc/security/join.key");
    match std::fs::read_to_string(&path) {
        Ok(k) if !k.trim().is_empty() => Ok(k.trim().to_string()),
        _ => {
            let key = crypto::random_secret();
            write_secret_file(&path, &key).map_err(|e| StartError::Home(path.clone(), e))?;
            Ok(key)
        }
    }
}

/// A started node: its use cases, the key-file writer's progress and its TLS material.
pub struct Node {
    pub uses: UseCases,
    pub key_files: KeyFiles,
    pub tls: Arc<Tls>,
    /// What the state machine applies: federation links wake on it.
    pub applied: tokio::sync::watch::Receiver<crate::store::state_machine::Applied>,
}

/// A data directory of a newer format than this binary reads (its state, or an entry of its
/// log not applied yet) that has no format mark yet: stop before Raft or the log store touch
/// it. The state's format otherwise.
fn refuse_newer_data(
    db: &sled::Db,
    state_machine: &StateMachine,
    reads: u32,
) -> Result<u32, StartError> {
    let view = state_machine.view();
    let storage = |e: crate::store::StoreError| StartError::Storage(e.to_string());
    let format = view.cluster_format().map_err(storage)?;
    if let Some(why) = crate::domain::version::refuse_older_binary(reads, format) {
        return Err(StartError::Format(why));
    }
    let applied = view.last_applied().map_err(storage)?.map(|l| l.index);
    match crate::store::log::refuse_unapplied(db, applied, reads) {
        Some(why) => Err(StartError::Format(why)),
        None => Ok(format),
    }
}

/// Open (or create) the node's home and sled, start Raft and everything around it.
pub async fn start(config: Config) -> Result<Node, StartError> {
    let home = config.server.home.clone();
    let db_dir = home.join("db");
    std::fs::create_dir_all(&db_dir).map_err(|e| StartError::Home(db_dir.clone(), e))?;
    // The log holds key material: keep the database private to this user.
    std::fs::set_permissions(&db_dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| StartError::Home(db_dir.clone(), e))?;
    let join_key = load_or_create_join_key(&config, &home)?;

    // A directory of a newer format than this binary reads is refused before sled opens it.
    let mark = FormatMark::open(&db_dir).map_err(|e| StartError::Storage(e.to_string()))?;
    let own = crate::domain::version::own_format();
    if let Some(why) = crate::domain::version::refuse_older_binary(own, mark.get()) {
        return Err(StartError::Format(why));
    }
    let mark = Arc::new(mark);
    // sled caches up to 1 GiB by default; a node should stay well below that.
    let db = sled::Config::new()
        .path(&db_dir)
        .cache_capacity(256 * 1024 * 1024)
        .open()?;
    let state_machine = StateMachine::open(
        &db,
        db_dir.join("snapshots"),
        config.token.verified_cache_entries,
        mark.clone(),
    )
    .map_err(|e| StartError::Storage(e.to_string()))?;
    let format = refuse_newer_data(&db, &state_machine, own)?;
    mark.raise(format)
        .map_err(|e| StartError::Storage(e.to_string()))?;
    let log_store = LogStore::open(&db, mark)?;
    let log_tail = log_store.clone();
    state_machine.subscribe_entries(|e| audit::emit(e.cmd, e.membership, e.response));
    let key_files = KeyFiles::new(&home, state_machine.subscribe());
    let applied = state_machine.subscribe();
    let contacts = PeerContacts::default();
    let tls = Arc::new(Tls::load(&config.tls).map_err(|e| StartError::Tls(e.to_string()))?);
    let peer_http = tls
        .peer_client(Duration::from_millis(500))
        .map_err(|e| StartError::Tls(e.to_string()))?;

    let raft_config = openraft::Config {
        cluster_name: config.raft.cluster_name.clone(),
        heartbeat_interval: config.raft.heartbeat_ms,
        election_timeout_min: config.raft.election_timeout_min_ms,
        election_timeout_max: config.raft.election_timeout_max_ms,
        // Asked for by `raft::snapshot_pace`, which also weighs the state's size.
        snapshot_policy: SnapshotPolicy::Never,
        // Elections are started by `raft::election`, after a pre-vote.
        enable_elect: false,
        // Keep some log behind a snapshot so a briefly lagging follower needs no snapshot.
        max_in_snapshot_log_to_keep: (config.raft.snapshot_after_entries / 2).min(1000),
        ..Default::default()
    }
    .validate()
    .map_err(|e| StartError::Raft(e.to_string()))?;

    let node_id = config.server.node_id;
    let raft = Raft::new(
        node_id,
        Arc::new(raft_config),
        ClusterNetwork::new(join_key.clone(), peer_http.clone(), contacts.clone()),
        log_store,
        state_machine.clone(),
    )
    .await
    .map_err(|e| StartError::Raft(e.to_string()))?;

    let peer = PeerClient::new(join_key, peer_http);
    let state = state_machine.view();
    let backup = state_machine.backup_source();
    let initialised = state
        .service_id()
        .map_err(|e| StartError::Storage(e.to_string()))?
        .is_some();
    if initialised && !config.security.bootstrap_admin_password.is_empty() {
        tracing::warn!(
            "security.bootstrap-admin-password (ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD) is set, \
             but this home is already initialised: it is ignored. Change a password with \
             PATCH /access/api/v2/users/<name> or Artifactory's changePassword call"
        );
    }
    let leader_contact = Arc::new(LeaderContact::default());
    let timing = election::Timing {
        lease: Duration::from_millis(config.raft.election_timeout_max_ms),
        spread: Duration::from_millis(
            config.raft.election_timeout_max_ms - config.raft.election_timeout_min_ms,
        ),
        margin: Duration::from_millis(config.raft.heartbeat_ms),
        tick: Duration::from_millis(config.raft.heartbeat_ms / 2),
    };
    let quorum = QuorumWatch::new(
        raft.clone(),
        node_id,
        leader_contact,
        contacts.clone(),
        quorum::limit(timing.lease),
    );
    let write_timeout = Duration::from_millis(config.raft.write_timeout_ms);
    let writer = Writer::new(
        raft.clone(),
        node_id,
        peer.clone(),
        quorum.clone(),
        write_timeout,
    );
    tokio::spawn(snapshot_pace::run(
        raft.clone(),
        state_machine.snapshot_pace(),
        config.raft.snapshot_after_entries,
    ));
    let (batcher, batch_queue) = WriteBatcher::new(write_timeout);
    tokio::spawn(batcher::run(writer.clone(), batch_queue));
    tokio::spawn(election::run(
        raft.clone(),
        node_id,
        peer.clone(),
        log_tail.clone(),
        quorum.clone(),
        timing,
    ));
    let membership = Membership::new(
        raft.clone(),
        node_id,
        peer.clone(),
        contacts,
        quorum,
        timing.lease,
        log_tail,
    );
    let uses = use_cases(Handles {
        config,
        home,
        state,
        raft,
        writer,
        batcher,
        membership,
        peer,
        backup,
    })?;
    Ok(Node {
        uses,
        key_files,
        tls,
        applied,
    })
}

/// Remember on the connection that its client presented a certificate our CA signed (the
/// verifier admits no other), for the cluster RPC's mutual TLS.
fn mark_client_certificate(conn: &dyn std::any::Any, data: &mut actix_web::dev::Extensions) {
    type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    if let Some(stream) = conn.downcast_ref::<Tls>() {
        let (_, session) = stream.get_ref();
        if session.peer_certificates().is_some_and(|c| !c.is_empty()) {
            data.insert(VerifiedClientCert);
        }
    }
}

/// Run a node until it is stopped: HTTP first (the cluster RPC must answer while the node
/// joins), then become a member, then open the public API.
pub async fn serve(config: Config) -> Result<(), String> {
    let listen = config.listen_addr();
    let workers = match config.server.workers {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        n => n,
    };
    let tls_on = config.tls.enabled();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        node_id = config.server.node_id,
        %listen,
        advertise = %config.advertise_url(),
        home = %config.server.home.display(),
        tls = tls_on,
        mutual_tls = config.tls.require_client_cert,
        seeds = config.seeds().len(),
        workers,
        log_format = %config.log.format,
        "access-node starting"
    );
    // Bind first so a busy port fails fast, before any state is created.
    let listener = std::net::TcpListener::bind(listen)
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    // Held while serving: dropping it flushes the audit lines still queued.
    let audit_dir = config.audit.dir_in(&config.server.home);
    let _audit =
        crate::telemetry::audit::install(config.server.node_id, &config.audit, &audit_dir)?;
    let Node {
        uses,
        key_files,
        tls,
        applied,
    } = start(config).await.map_err(|e| e.to_string())?;
    let server_tls = tls.server_config().map_err(|e| e.to_string())?;
    // Kept alive while serving: a renewed certificate is picked up without a restart.
    let _cert_watcher = tls.watch();
    let becoming = uses.cluster.clone();
    actix_web::rt::spawn(async move {
        if let Err(e) = becoming.clone().become_member().await {
            tracing::error!(error = %e, "node cannot become ready; stopping");
            actix_web::rt::System::current().stop_with_code(1);
            return;
        }
        // Clients read root.crt and private.key: open the API once they match the log.
        if let Some(kid) = becoming.active_kid() {
            key_files.wait_written(&kid, Duration::from_secs(10)).await;
        }
        becoming.set_ready();
        tracing::info!(node_id = becoming.node_id(), "node ready");
    });
    Janitor::new(uses.housekeeping.clone(), Duration::from_secs(60)).start();
    TrustWatcher::new(
        uses.keys.clone(),
        uses.cluster.clone(),
        &uses.config.server.home,
    )
    .start();
    crate::actors::clock_probe::start(uses.clock.clone(), uses.cluster.clone());
    crate::actors::federation_link::start(uses.outbox.clone(), applied);
    tracing::info!(%listen, node_id = uses.cluster.node_id(), tls = server_tls.is_some(), "access-node listening");
    let cluster = uses.cluster.clone();
    let server = HttpServer::new(move || {
        App::new()
            .configure(|cfg| uses.register(cfg))
            .wrap(from_fn(record_metrics))
            .wrap(from_fn(log_requests))
            .configure(crate::http::configure)
    })
    .on_connect(mark_client_certificate)
    .workers(workers)
    // SIGTERM and SIGINT are ours: a leader hands over before the server stops.
    .disable_signals()
    .shutdown_timeout(5);
    let server = match server_tls {
        Some(config) => server.listen_rustls_0_23(listener, config),
        None => server.listen(listener),
    };
    let server = server.map_err(|e| e.to_string())?.run();
    let handle = server.handle();
    let stopping = cluster.clone();
    actix_web::rt::spawn(async move {
        stop_signal().await;
        tracing::info!("stopping");
        stopping.hand_over(Duration::from_secs(2)).await;
        handle.stop(true).await;
    });
    server.await.map_err(|e| e.to_string())?;
    cluster.shutdown().await;
    Ok(())
}

/// SIGTERM or SIGINT (Ctrl-C).
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
