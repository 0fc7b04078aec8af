//! The use cases of a node and the handles they are built from.

use std::sync::Arc;

use actix_web::web;

use crate::config::Config;
use crate::domain::forwarded::TrustedProxies;
use crate::federation::client::SiteClient;
use crate::oidc::IssuerKeys;
use crate::raft::batcher::WriteBatcher;
use crate::raft::membership::Membership;
use crate::raft::peer::PeerClient;
use crate::raft::writer::Writer;
use crate::raft::Raft;
use crate::service::accounts::Accounts;
use crate::service::auth::Auth;
use crate::service::backup::Backup;
use crate::service::bootstrap::StartError;
use crate::service::clock::ClusterClock;
use crate::service::cluster::{Cluster, ClusterParts};
use crate::service::federation::Federation;
use crate::service::federation_inbound::SiteInbox;
use crate::service::federation_outbound::SiteOutbox;
use crate::service::housekeeping::Housekeeping;
use crate::service::keys::Keys;
use crate::service::oidc::Oidc;
use crate::service::permissions::Permissions;
use crate::service::registry::Registry;
use crate::service::scim::Scim;
use crate::service::sessions::Sessions;
use crate::service::telemetry::Telemetry;
use crate::service::tokens::Tokens;
use crate::service::writes::Writes;

/// The use cases of a node, as the HTTP handlers and the actors take them: fields, no
/// behaviour. Each use case holds only the handles it uses.
#[derive(Clone)]
pub struct UseCases {
    pub config: Arc<Config>,
    pub cluster: Arc<Cluster>,
    pub clock: Arc<ClusterClock>,
    pub tokens: Arc<Tokens>,
    pub auth: Arc<Auth>,
    pub accounts: Arc<Accounts>,
    pub keys: Arc<Keys>,
    pub permissions: Arc<Permissions>,
    pub federation: Arc<Federation>,
    pub inbox: Arc<SiteInbox>,
    pub outbox: Arc<SiteOutbox>,
    pub registry: Arc<Registry>,
    pub sessions: Arc<Sessions>,
    pub backup: Arc<Backup>,
    pub telemetry: Arc<Telemetry>,
    pub housekeeping: Arc<Housekeeping>,
    pub oidc: Arc<Oidc>,
    pub scim: Arc<Scim>,
}

impl UseCases {
    /// Hand every use case to the HTTP handlers (`web::Data<T>` of each).
    pub(super) fn register(&self, cfg: &mut web::ServiceConfig) {
        // Not a use case: who may name the client in forwarding headers (`extract::client_ip`).
        let proxies = TrustedProxies::new(&self.config.server.trusted_proxies);
        cfg.app_data(web::Data::new(proxies))
            .app_data(web::Data::from(self.config.clone()))
            .app_data(web::Data::from(self.cluster.clone()))
            .app_data(web::Data::from(self.tokens.clone()))
            .app_data(web::Data::from(self.auth.clone()))
            .app_data(web::Data::from(self.accounts.clone()))
            .app_data(web::Data::from(self.keys.clone()))
            .app_data(web::Data::from(self.permissions.clone()))
            .app_data(web::Data::from(self.federation.clone()))
            .app_data(web::Data::from(self.inbox.clone()))
            .app_data(web::Data::from(self.registry.clone()))
            .app_data(web::Data::from(self.sessions.clone()))
            .app_data(web::Data::from(self.backup.clone()))
            .app_data(web::Data::from(self.telemetry.clone()))
            .app_data(web::Data::from(self.oidc.clone()))
            .app_data(web::Data::from(self.scim.clone()));
    }
}

/// The handles `start` makes, which the use cases share: fields, no behaviour.
pub(super) struct Handles {
    pub(super) config: Config,
    pub(super) home: std::path::PathBuf,
    pub(super) state: crate::store::StateView,
    pub(super) raft: Raft,
    pub(super) writer: Writer,
    pub(super) batcher: WriteBatcher,
    pub(super) membership: Membership,
    pub(super) peer: PeerClient,
    pub(super) backup: crate::store::BackupSource,
}

/// Build every use case from the handles, each with only those it uses.
pub(super) fn use_cases(handles: Handles) -> Result<UseCases, StartError> {
    let Handles {
        config,
        home,
        state,
        raft,
        writer,
        batcher,
        membership,
        peer,
        backup,
    } = handles;
    let config = Arc::new(config);
    let writes = Arc::new(Writes::new(
        writer.clone(),
        batcher,
        membership.clone(),
        state.clone(),
    ));
    let clock = Arc::new(ClusterClock::new(
        config.clone(),
        membership.clone(),
        raft.clone(),
        peer.clone(),
        state.clone(),
    ));
    let sites = Arc::new(SiteClient::new(peer.http().clone()));
    let links = Arc::new(crate::federation::status::Board::default());
    let (c, s, w, k) = (&config, &state, &writes, &clock);
    let accounts = Arc::new(Accounts::new(c.clone(), s.clone(), w.clone(), k.clone()));
    let tokens = Arc::new(Tokens::new(
        c.clone(),
        s.clone(),
        w.clone(),
        k.clone(),
        sites.clone(),
    ));
    let auth = Arc::new(Auth::new(
        c.clone(),
        s.clone(),
        w.clone(),
        k.clone(),
        accounts.clone(),
    ));
    let permissions = Arc::new(Permissions::new(s.clone(), w.clone()));
    let issuer_keys = IssuerKeys::new(&c.oidc).map_err(StartError::Oidc)?;
    let oidc = Arc::new(Oidc::new(
        c.clone(),
        s.clone(),
        w.clone(),
        k.clone(),
        tokens.clone(),
        Arc::new(issuer_keys),
    ));
    let outbox = Arc::new(SiteOutbox::new(
        c.clone(),
        s.clone(),
        w.clone(),
        k.clone(),
        sites.clone(),
        links.clone(),
        membership.clone(),
    ));
    let scim = Arc::new(Scim::new(c.clone(), s.clone(), w.clone(), accounts.clone()));
    Ok(UseCases {
        oidc,
        scim,
        keys: Arc::new(Keys::new(c.clone(), s.clone(), w.clone())),
        federation: Arc::new(Federation::new(
            c.clone(),
            s.clone(),
            w.clone(),
            outbox.clone(),
            links.clone(),
            membership.clone(),
            peer.clone(),
        )),
        inbox: Arc::new(SiteInbox::new(c.clone(), s.clone(), w.clone(), k.clone())),
        registry: Arc::new(Registry::new(
            c.clone(),
            s.clone(),
            k.clone(),
            auth.clone(),
            permissions.clone(),
            tokens.clone(),
        )),
        sessions: Arc::new(Sessions::new(
            c.clone(),
            s.clone(),
            w.clone(),
            k.clone(),
            accounts.clone(),
            tokens.clone(),
        )),
        backup: Arc::new(Backup::new(s.clone(), w.clone(), backup)),
        telemetry: Arc::new(Telemetry::new(
            c.clone(),
            home,
            s.clone(),
            membership.clone(),
            links,
        )),
        housekeeping: Arc::new(Housekeeping::new(
            c.clone(),
            s.clone(),
            w.clone(),
            membership.clone(),
        )),
        cluster: Arc::new(Cluster::new(ClusterParts {
            config: c.clone(),
            state,
            raft,
            writer,
            writes: writes.clone(),
            membership,
            peer,
            clock: clock.clone(),
        })),
        outbox,
        accounts,
        tokens,
        auth,
        permissions,
        clock,
        config,
    })
}
