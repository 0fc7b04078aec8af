//! Watches `etc/keys/trusted/` (inotify through the `notify` crate). A valid `*.crt` dropped
//! there on any node is proposed into the replicated trusted store and then removed from the
//! folder: it now lives in the database (JFrog's behaviour). An invalid file stays, with a log
//! line saying why.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, ActorContext, AsyncContext, Context, Handler, Message};
use notify::{RecursiveMode, Watcher};

use crate::service::cluster::Cluster;
use crate::service::keys::Keys;
use crate::service::ServiceError;

/// Let a writer finish before reading what it dropped.
const SETTLE: Duration = Duration::from_millis(300);
/// Retry a valid certificate the cluster could not take yet (no leader, starting up).
const RETRY: Duration = Duration::from_secs(3);

pub struct TrustWatcher {
    keys: Arc<Keys>,
    /// Certificates are taken once the node is ready.
    cluster: Arc<Cluster>,
    dir: PathBuf,
    watcher: Option<notify::RecommendedWatcher>,
    /// Files waiting for SETTLE to pass.
    pending: HashSet<PathBuf>,
    /// (path, length, mtime) already reported invalid, so a bad file is logged once.
    reported: HashSet<(PathBuf, u64, Option<std::time::SystemTime>)>,
}

#[derive(Message)]
#[rtype(result = "()")]
struct Changed(PathBuf);

#[derive(Message)]
#[rtype(result = "()")]
struct ScanAll;

#[derive(Message)]
#[rtype(result = "()")]
struct Ingest(PathBuf);

impl TrustWatcher {
    pub fn new(keys: Arc<Keys>, cluster: Arc<Cluster>, home: &Path) -> TrustWatcher {
        let dir = home.join("etc/keys/trusted");
        TrustWatcher {
            keys,
            cluster,
            dir,
            watcher: None,
            pending: HashSet::new(),
            reported: HashSet::new(),
        }
    }

    fn is_candidate(path: &Path) -> bool {
        path.extension().is_some_and(|e| e == "crt") && path.is_file()
    }
}

impl Actor for TrustWatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Err(e) = std::fs::create_dir_all(&self.dir) {
            tracing::error!(dir = %self.dir.display(), error = %e, "cannot create the trusted certificates folder");
            ctx.stop();
            return;
        }
        let addr = ctx.address();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if let Ok(event) = event {
                for path in event.paths {
                    addr.do_send(Changed(path));
                }
            }
        });
        match watcher {
            Ok(mut w) => match w.watch(&self.dir, RecursiveMode::NonRecursive) {
                Ok(()) => self.watcher = Some(w),
                Err(e) => {
                    tracing::error!(dir = %self.dir.display(), error = %e, "cannot watch trusted certificates")
                }
            },
            Err(e) => tracing::error!(error = %e, "cannot start the file watcher"),
        }
        // Files dropped while the node was down.
        ctx.notify(ScanAll);
    }
}

impl Handler<ScanAll> for TrustWatcher {
    type Result = ();

    fn handle(&mut self, _: ScanAll, ctx: &mut Context<Self>) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            ctx.notify(Changed(entry.path()));
        }
    }
}

impl Handler<Changed> for TrustWatcher {
    type Result = ();

    fn handle(&mut self, Changed(path): Changed, ctx: &mut Context<Self>) {
        if !Self::is_candidate(&path) || !self.pending.insert(path.clone()) {
            return;
        }
        ctx.notify_later(Ingest(path), SETTLE);
    }
}

impl Handler<Ingest> for TrustWatcher {
    type Result = ();

    fn handle(&mut self, Ingest(path): Ingest, ctx: &mut Context<Self>) {
        self.pending.remove(&path);
        if !Self::is_candidate(&path) {
            return;
        }
        if !self.cluster.is_ready() {
            ctx.notify_later(Changed(path), RETRY);
            return;
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let meta = std::fs::metadata(&path).ok();
        let fingerprint = (
            path.clone(),
            meta.as_ref().map_or(0, |m| m.len()),
            meta.and_then(|m| m.modified().ok()),
        );
        let pem = match std::fs::read_to_string(&path) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot read trusted certificate file");
                return;
            }
        };
        if let Err(e) = crate::crypto::check_trusted_certificate(&pem) {
            if self.reported.insert(fingerprint) {
                tracing::warn!(file = %path.display(), reason = %e, "invalid trusted certificate: file left in place, not trusted");
            }
            return;
        }
        let keys = self.keys.clone();
        let addr = ctx.address();
        actix::spawn(async move {
            match keys.add_trusted(&name, &pem, None).await {
                Ok(cert) => {
                    // Only remove what was ingested: the file may have been replaced meanwhile.
                    if std::fs::read_to_string(&path).is_ok_and(|now| now == pem) {
                        let _ = std::fs::remove_file(&path);
                    }
                    tracing::info!(name = %cert.name, kid = %cert.kid, "trusted certificate ingested into the replicated store; file removed");
                }
                Err(ServiceError::Unavailable(reason)) => {
                    tracing::warn!(file = %path.display(), %reason, "cluster unavailable; will retry the trusted certificate");
                    addr.do_send(Changed(path));
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "trusted certificate refused; file left in place")
                }
            }
        });
    }
}
