//! A node: the Raft instance, its sled store, the applied-state view and the operations the
//! HTTP layer calls. One process is one node; a single node is a cluster of one.

use std::collections::BTreeMap;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::Actor;
use openraft::{BasicNode, SnapshotPolicy};

use crate::actors::key_files::KeyFiles;
use crate::batcher::WriteBatcher;
use crate::config::Config;
use crate::crypto::{self, KeySet, Verified};
use crate::domain::policy::Principal;
use crate::domain::scope::Scope;
use crate::domain::token::{
    is_revocable, subject_for, Claims, TokenKind, TokenRecord, MAX_EXPIRES_IN,
};
use crate::error::{ApiError, ApiResult};
use crate::raft::command::{Command, CommandResponse, UserRecord};
use crate::raft::network::ClusterNetwork;
use crate::raft::{NodeId, Raft};
use crate::store::{LogStore, StateMachine, StateView};

/// How long a write may wait for a leader and a commit before answering 503.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot prepare home directory {0}: {1}")]
    Home(PathBuf, std::io::Error),
    #[error("cannot open the database: {0}")]
    Db(#[from] sled::Error),
    #[error("storage: {0}")]
    Storage(String),
    #[error("raft: {0}")]
    Raft(String),
    #[error("bootstrap failed: {0}")]
    Bootstrap(String),
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What a caller asks to mint, after parsing and policy.
pub struct IssueSpec {
    pub username: String,
    pub scope: Scope,
    /// Seconds; 0 = never expires.
    pub expires_in: u64,
    pub refreshable: bool,
    pub audience: String,
    pub description: Option<String>,
    pub kind: TokenKind,
    /// Also issue a short opaque reference token (stored hashed) standing for this token.
    pub reference: bool,
}

pub struct IssuedToken {
    pub token_id: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub reference_token: Option<String>,
    pub expires_in: u64,
    pub scope: String,
}

/// A token about to be issued: what is signed, what is stored, the secrets handed out once.
struct Built {
    claims: Claims,
    record: TokenRecord,
    refresh_token: Option<String>,
    reference_token: Option<String>,
}

/// JFrog-style reference token: base64 of `reftkn:01:<expiry>:<random>` (starts `cmVmdGtu`).
fn new_reference_token(expiry: Option<u64>) -> String {
    use base64::Engine;
    let raw = format!(
        "reftkn:01:{}:{}",
        expiry.unwrap_or(0),
        crypto::random_secret()
    );
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw)
}

pub fn looks_like_reference_token(s: &str) -> bool {
    s.starts_with("cmVmdGtu") && s.len() < 256
}

pub struct Node {
    pub config: Config,
    pub node_id: NodeId,
    pub raft: Raft,
    pub state: StateView,
    pub join_key: String,
    pub home: PathBuf,
    /// Set once this node is a member, bootstrapped and caught up; until then the public API
    /// answers 503 (the cluster RPC is served from the start).
    pub(crate) ready: AtomicBool,
    /// HTTP client for forwarded writes, read-index requests and joins.
    pub(crate) peers: reqwest::Client,
    /// Group commit for token issues and revocations.
    pub(crate) batcher: WriteBatcher,
}

/// Write a secret file with mode 0600 (created that way, never briefly world-readable).
pub fn write_secret_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

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

pub fn hash_password(password: &str) -> Result<String, ApiError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}")))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(phc)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

impl Node {
    /// Open (or create) the node's home, start Raft, initialise a one-node cluster on an
    /// empty home, and bootstrap identity, keys and admin through the log.
    pub async fn start(config: Config) -> Result<Arc<Node>, StartError> {
        let home = config.server.home.clone();
        let db_dir = home.join("db");
        std::fs::create_dir_all(&db_dir).map_err(|e| StartError::Home(db_dir.clone(), e))?;
        // The log holds key material: keep the database private to this user.
        std::fs::set_permissions(&db_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| StartError::Home(db_dir.clone(), e))?;
        let join_key = load_or_create_join_key(&config, &home)?;

        // sled caches up to 1 GiB by default; a node should stay well below that.
        let db = sled::Config::new()
            .path(&db_dir)
            .cache_capacity(256 * 1024 * 1024)
            .open()?;
        let log_store = LogStore::open(&db)?;
        let state_machine = StateMachine::open(
            &db,
            db_dir.join("snapshots"),
            config.token.verified_cache_entries,
        )
        .map_err(|e| StartError::Storage(e.to_string()))?;
        let key_files = KeyFiles::new(&home).start();
        state_machine.set_key_listener(key_files.recipient()).await;

        let raft_config = openraft::Config {
            cluster_name: config.raft.cluster_name.clone(),
            heartbeat_interval: config.raft.heartbeat_ms,
            election_timeout_min: config.raft.election_timeout_min_ms,
            election_timeout_max: config.raft.election_timeout_max_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.raft.snapshot_after_entries),
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
            ClusterNetwork::new(join_key.clone()),
            log_store,
            state_machine.clone(),
        )
        .await
        .map_err(|e| StartError::Raft(e.to_string()))?;

        let peers = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_millis(500))
            .build()
            .map_err(|e| StartError::Raft(e.to_string()))?;
        let initialised = state_machine
            .view()
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
        let (batcher, batch_queue) = WriteBatcher::new();
        let node = Arc::new(Node {
            state: state_machine.view(),
            config,
            node_id,
            raft,
            join_key,
            home,
            ready: AtomicBool::new(false),
            peers,
            batcher,
        });
        tokio::spawn(crate::batcher::run(Arc::downgrade(&node), batch_queue));
        Ok(node)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Become a serving member: initialise a new cluster (no seeds) or join one, wait for a
    /// leader, bootstrap if this is a brand-new cluster, and catch up with the leader.
    /// Retries until it succeeds; the cluster RPC is served meanwhile.
    pub async fn become_ready(self: Arc<Self>) -> Result<(), StartError> {
        let initialized = self
            .raft
            .is_initialized()
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;
        if !initialized {
            let seeds = self.config.seeds();
            if seeds.is_empty() {
                let mut members = BTreeMap::new();
                members.insert(self.node_id, BasicNode::new(self.config.advertise_url()));
                self.raft
                    .initialize(members)
                    .await
                    .map_err(|e| StartError::Raft(e.to_string()))?;
                tracing::info!(node_id = self.node_id, "initialised a new one-node cluster");
            } else {
                self.join_via_seeds(&seeds).await;
            }
        }
        let mut waited = 0u32;
        loop {
            let leader = self.raft.current_leader().await;
            let bootstrapped = self
                .state
                .service_id()
                .map_err(|e| StartError::Storage(e.to_string()))?
                .is_some();
            if leader == Some(self.node_id) && !bootstrapped {
                self.bootstrap().await?;
                continue;
            }
            if leader.is_some()
                && bootstrapped
                && self.read_barrier(Duration::from_secs(5)).await.is_ok()
            {
                break;
            }
            waited += 1;
            if waited.is_multiple_of(25) {
                tracing::info!(
                    ?leader,
                    bootstrapped,
                    "waiting for a leader and the cluster state"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.ready.store(true, Ordering::Release);
        tracing::info!(node_id = self.node_id, "node ready");
        Ok(())
    }

    async fn bootstrap(&self) -> Result<(), StartError> {
        let bits = self.config.security.rsa_key_size;
        let now = now_secs();
        let service_id = format!("jfac@{}", crypto::random_service_suffix());
        let cn = service_id.clone();
        let key =
            tokio::task::spawn_blocking(move || crypto::generate_key_material(bits, &cn, now))
                .await
                .map_err(|e| StartError::Bootstrap(e.to_string()))?
                .map_err(|e| StartError::Bootstrap(e.to_string()))?;
        let configured = self.config.security.bootstrap_admin_password.clone();
        let (password, generated) = if configured.is_empty() {
            (crypto::random_secret()[..24].to_string(), true)
        } else {
            (configured, false)
        };
        let pw = password.clone();
        let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
            .await
            .map_err(|e| StartError::Bootstrap(e.to_string()))?
            .map_err(|e| StartError::Bootstrap(e.to_string()))?;
        let admin = UserRecord {
            username: self.config.security.bootstrap_admin_username.clone(),
            password_hash: Some(hash),
            email: None,
            admin: true,
            groups: Vec::new(),
            created_at: now,
        };
        let kid = key.kid.clone();
        let response = self
            .write(Command::Bootstrap {
                service_id: service_id.clone(),
                key,
                admin,
            })
            .await
            .map_err(|e| StartError::Bootstrap(e.to_string()))?;
        if response == CommandResponse::Bootstrapped {
            if generated {
                let path = self.home.join("etc/security/bootstrap.password");
                write_secret_file(&path, &format!("{password}\n"))
                    .map_err(|e| StartError::Home(path.clone(), e))?;
                tracing::info!(file = %path.display(), "bootstrap admin password generated (see file, mode 0600)");
            }
            tracing::info!(%service_id, %kid, "cluster bootstrapped");
        }
        Ok(())
    }

    pub fn keyset(&self) -> ApiResult<Arc<KeySet>> {
        self.state
            .keyset()
            .ok_or_else(|| ApiError::Unavailable("the cluster is not bootstrapped yet".into()))
    }

    pub fn service_id(&self) -> ApiResult<String> {
        Ok(self.keyset()?.service_id.clone())
    }

    fn is_revocable(&self, expires_in: u64) -> bool {
        is_revocable(
            (expires_in > 0).then_some(expires_in),
            self.config.token.revocable_expiry_threshold,
        )
    }

    fn build(&self, spec: &IssueSpec, keys: &KeySet, now: u64) -> ApiResult<Built> {
        let token_id = uuid::Uuid::new_v4().to_string();
        // Tokens with a reference or refresh token are stored anyway, so they are revocable
        // whatever their life (and a refresh can revoke the old access token).
        let revocable = self.is_revocable(spec.expires_in) || spec.reference || spec.refreshable;
        if spec.expires_in > MAX_EXPIRES_IN {
            return Err(ApiError::BadRequest(format!(
                "'expires_in' must be at most {MAX_EXPIRES_IN} seconds (0 = never expires)"
            )));
        }
        let expiry = match spec.expires_in {
            0 => None,
            secs => Some(
                now.checked_add(secs)
                    .ok_or_else(|| ApiError::BadRequest("'expires_in' is out of range".into()))?,
            ),
        };
        let refresh_token = spec.refreshable.then(crypto::random_secret);
        let reference_token = spec.reference.then(|| new_reference_token(expiry));
        let subject = subject_for(&keys.service_id, &spec.username);
        let scope = spec.scope.to_string();
        let claims = Claims {
            sub: subject.clone(),
            scp: scope.clone(),
            aud: spec.audience.clone(),
            iss: keys.service_id.clone(),
            exp: expiry,
            iat: now,
            jti: token_id.clone(),
            ext: Some(format!(r#"{{"revocable":"{revocable}"}}"#)),
        };
        let record = TokenRecord {
            token_id,
            username: spec.username.clone(),
            subject,
            scope,
            audience: spec.audience.clone(),
            issuer: keys.service_id.clone(),
            issued_at: now,
            expiry,
            revocable,
            refreshable: spec.refreshable,
            refresh_hash: refresh_token.as_deref().map(crypto::secret_hash),
            description: spec.description.clone(),
            kind: spec.kind,
            reference_hash: reference_token.as_deref().map(crypto::secret_hash),
        };
        Ok(Built {
            claims,
            record,
            refresh_token,
            reference_token,
        })
    }

    /// Tokens of a subject issued in the same second as (or before) its revocation cut-off
    /// are dead on arrival: wait for the next second before issuing.
    pub(crate) async fn wait_past_cut_off(&self, subject: &str) -> ApiResult<()> {
        while let Some(cut) = self.state.subject_revoked_at(subject)? {
            let now = now_secs();
            if now > cut {
                break;
            }
            let into_second = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_millis())
                .unwrap_or(0);
            let wait = (cut - now) * 1000 + u64::from(1000 - into_second) + 5;
            tokio::time::sleep(Duration::from_millis(wait.min(2000))).await;
        }
        Ok(())
    }

    /// 401 when every token of the claims' subject issued by then was revoked (user deleted,
    /// tokens of a user revoked, admin taken away).
    pub fn check_subject(&self, claims: &Claims) -> ApiResult<()> {
        match self.state.subject_revoked_at(&claims.sub)? {
            Some(cut) if claims.iat <= cut => Err(ApiError::Unauthorized(
                "token is revoked: every token of its user was revoked".into(),
            )),
            _ => Ok(()),
        }
    }

    fn sign(keys: &KeySet, claims: &Claims) -> ApiResult<String> {
        keys.active
            .sign(claims)
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// Mint a token. Revocable and refreshable tokens are committed to the log first;
    /// short-lived plain tokens need no write at all.
    pub async fn issue(&self, spec: IssueSpec) -> ApiResult<IssuedToken> {
        let keys = self.keyset()?;
        self.wait_past_cut_off(&subject_for(&keys.service_id, &spec.username))
            .await?;
        let now = now_secs();
        let built = self.build(&spec, &keys, now)?;
        let record = built.record;
        if record.revocable || record.refreshable || record.reference_hash.is_some() {
            self.batcher
                .write(Command::IssueToken {
                    record: record.clone(),
                })
                .await?;
        }
        Ok(IssuedToken {
            access_token: Self::sign(&keys, &built.claims)?,
            token_id: record.token_id,
            refresh_token: built.refresh_token,
            reference_token: built.reference_token,
            expires_in: spec.expires_in,
            scope: record.scope,
        })
    }

    /// Exchange a refresh token for a new pair: same subject, scope and audience (unless an
    /// admin overrides them). The swap is one conditional log entry, so a refresh token works
    /// exactly once even when sent to two nodes at once.
    pub async fn refresh(
        &self,
        access_token: &str,
        refresh_token: &str,
        overrides: RefreshOverrides,
    ) -> ApiResult<IssuedToken> {
        if !self.config.token.allow_refreshable {
            return Err(ApiError::Forbidden(
                crate::domain::policy::PolicyError::RefreshableDisabled,
            ));
        }
        let keys = self.keyset()?;
        let verified = keys.verify(access_token, now_secs(), true)?;
        if !verified.local {
            return Err(ApiError::BadRequest(
                "only tokens of this cluster can be refreshed here".into(),
            ));
        }
        let claims = verified.claims;
        self.wait_past_cut_off(&claims.sub).await?;
        let now = now_secs();
        let record = self.state.token(&claims.jti)?.ok_or_else(|| {
            ApiError::Unauthorized("token is revoked, expired or not refreshable".into())
        })?;
        if !record.refreshable {
            return Err(ApiError::BadRequest("token is not refreshable".into()));
        }
        let refresh_hash = crypto::secret_hash(refresh_token);
        if record.refresh_hash.as_deref() != Some(refresh_hash.as_str()) {
            return Err(ApiError::Unauthorized("invalid refresh token".into()));
        }
        let lifetime = record
            .expiry
            .map(|e| e.saturating_sub(record.issued_at))
            .unwrap_or(0);
        let spec = IssueSpec {
            username: overrides.username.unwrap_or(record.username.clone()),
            scope: match overrides.scope {
                Some(s) => s,
                None => Scope::parse(&record.scope)?,
            },
            expires_in: overrides.expires_in.unwrap_or(lifetime),
            refreshable: true,
            audience: overrides.audience.unwrap_or(record.audience.clone()),
            description: record.description.clone(),
            kind: record.kind,
            reference: record.reference_hash.is_some(),
        };
        let Built {
            claims: new_claims,
            record: new_record,
            refresh_token: new_refresh,
            reference_token: new_reference,
        } = self.build(&spec, &keys, now)?;
        let response = self
            .write(Command::RefreshToken {
                old_token_id: record.token_id.clone(),
                refresh_hash,
                now,
                grace_secs: self.config.token.refresh_grace_period,
                new_record: new_record.clone(),
            })
            .await?;
        match response {
            CommandResponse::Refreshed => Ok(IssuedToken {
                access_token: Self::sign(&keys, &new_claims)?,
                token_id: new_record.token_id,
                refresh_token: new_refresh,
                reference_token: new_reference,
                expires_in: spec.expires_in,
                scope: new_record.scope,
            }),
            CommandResponse::RefreshRejected(reason) => Err(ApiError::Unauthorized(reason)),
            other => Err(ApiError::Internal(format!(
                "unexpected refresh response {other:?}"
            ))),
        }
    }

    /// A token record by id. On a miss this node may simply not have applied a write made
    /// through another node an instant ago, so it catches up once and looks again.
    pub async fn find_token(&self, token_id: &str) -> ApiResult<Option<TokenRecord>> {
        if let Some(r) = self.state.token(token_id)? {
            return Ok(Some(r));
        }
        if self.state.revocation(token_id)?.is_some() {
            return Ok(None);
        }
        self.read_barrier(CATCH_UP_TIMEOUT).await?;
        Ok(self.state.token(token_id)?)
    }

    /// Revoke by id after checking the caller may. Revoking twice is not an error.
    pub async fn revoke(&self, who: &Principal, token_id: &str) -> ApiResult<()> {
        let record = match self.find_token(token_id).await? {
            Some(r) => r,
            None if self.state.revocation(token_id)?.is_some() => return Ok(()),
            None => return Err(ApiError::NotFound(format!("token '{token_id}' not found"))),
        };
        if !record.revocable {
            return Err(ApiError::NotRevocable(
                self.config.token.revocable_expiry_threshold,
            ));
        }
        crate::domain::policy::authorize_revoke(who, &record.username, token_id)?;
        match self
            .batcher
            .write(Command::RevokeToken {
                token_id: token_id.to_string(),
                revoked_at: now_secs(),
            })
            .await?
        {
            CommandResponse::Revoked(_) | CommandResponse::AlreadyRevoked => {
                tracing::info!(token_id, by = %who.username, "token revoked");
                Ok(())
            }
            CommandResponse::NotFound => {
                Err(ApiError::NotFound(format!("token '{token_id}' not found")))
            }
            other => Err(ApiError::Internal(format!(
                "unexpected revoke response {other:?}"
            ))),
        }
    }

    /// Verify a token for authentication: signature, expiry, audience, and for revocable
    /// tokens presence in the store (a revocable token we do not hold counts as revoked).
    /// `strict` first waits for the leader's read index, making the revocation check
    /// linearizable.
    pub async fn validate(&self, token: &str, strict: bool) -> ApiResult<Verified> {
        if strict {
            self.read_barrier(STRICT_READ_TIMEOUT).await?;
        }
        let keys = self.keyset()?;
        let verified = keys.verify(token, now_secs(), false)?;
        let claims = &verified.claims;
        self.check_subject(claims)?;
        if !claims.revocable(self.config.token.revocable_expiry_threshold)
            || self.state.holds_token(&claims.jti)?
        {
            return Ok(verified);
        }
        // Unknown here: revoked, or issued by another node an instant ago and not applied
        // here yet. Known revocations answer at once; otherwise catch up once and look again.
        let revoked = ApiError::Unauthorized("token is revoked".into());
        if strict || !verified.local || self.state.revocation(&claims.jti)?.is_some() {
            return Err(revoked);
        }
        if self.read_barrier(CATCH_UP_TIMEOUT).await.is_ok()
            && self.state.holds_token(&claims.jti)?
        {
            return Ok(verified);
        }
        Err(revoked)
    }
}

/// How long a strict validation may wait for the leader's read index.
pub(crate) const STRICT_READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How long validating an unknown revocable token may wait to catch up.
pub(crate) const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct RefreshOverrides {
    pub username: Option<String>,
    pub scope: Option<Scope>,
    pub expires_in: Option<u64>,
    pub audience: Option<String>,
}
