//! TLS with rustls (aws-lc-rs): the node's certificate for the API and the cluster RPC, the CA
//! that signs peers, optional client certificates between nodes, and certificate files
//! watched so a renewed certificate is served (and presented to peers) without a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::{RecursiveMode, Watcher};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SignatureScheme};

use crate::config::TlsConfig;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("TLS setup: {0}")]
    Setup(String),
}

/// Connection data: the TLS client presented a certificate signed by `tls.ca-file`.
#[derive(Clone, Copy)]
pub struct VerifiedClientCert;

fn file_err(path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Make aws-lc-rs the process's rustls provider (reqwest builds its plain-HTTP clients with
/// the default one). Idempotent.
pub fn install_default_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The certificate chain and key of `cfg`, ready to present.
fn load_certified(cfg: &TlsConfig) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cfg.cert_file)
        .map_err(|e| file_err(&cfg.cert_file, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_err(&cfg.cert_file, e))?;
    if chain.is_empty() {
        return Err(file_err(&cfg.cert_file, "no PEM certificate in the file"));
    }
    let key =
        PrivateKeyDer::from_pem_file(&cfg.key_file).map_err(|e| file_err(&cfg.key_file, e))?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| file_err(&cfg.key_file, e))
}

fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| file_err(path, e))? {
        roots
            .add(cert.map_err(|e| file_err(path, e))?)
            .map_err(|e| file_err(path, e))?;
    }
    if roots.is_empty() {
        return Err(file_err(path, "no PEM CA certificate in the file"));
    }
    Ok(roots)
}

/// The node's current certificate, swapped whole when its files change.
#[derive(Debug)]
struct CurrentCert(ArcSwap<CertifiedKey>);

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

impl ResolvesClientCert for CurrentCert {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// This node's TLS material: server side (if it serves TLS) and client side (for peers).
pub struct Tls {
    cfg: TlsConfig,
    current: Option<Arc<CurrentCert>>,
    roots: Option<Arc<RootCertStore>>,
}

impl Tls {
    /// Read the configured files; fails naming the file that is wrong.
    pub fn load(cfg: &TlsConfig) -> Result<Tls, TlsError> {
        install_default_provider();
        let current = match cfg.enabled() {
            true => Some(Arc::new(CurrentCert(ArcSwap::from_pointee(
                load_certified(cfg)?,
            )))),
            false => None,
        };
        let roots = match cfg.ca_file.as_os_str().is_empty() {
            true => None,
            false => Some(Arc::new(load_roots(&cfg.ca_file)?)),
        };
        Ok(Tls {
            cfg: cfg.clone(),
            current,
            roots,
        })
    }

    pub fn serves_tls(&self) -> bool {
        self.current.is_some()
    }

    /// The listener's config: our certificate; client certificates signed by the CA are asked
    /// for but optional (the public API takes none; the cluster RPC may require one).
    pub fn server_config(&self) -> Result<Option<ServerConfig>, TlsError> {
        let Some(current) = &self.current else {
            return Ok(None);
        };
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup(e.to_string()))?;
        let builder = match &self.roots {
            Some(roots) => {
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
                        .allow_unauthenticated()
                        .build()
                        .map_err(|e| TlsError::Setup(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(config))
    }

    /// For calls to peers: trusts the CA of `tls.ca-file`, presents our certificate (mutual
    /// TLS). None without a CA: peers are then reached over plain HTTP only.
    pub fn client_config(&self) -> Result<Option<ClientConfig>, TlsError> {
        let Some(roots) = &self.roots else {
            return Ok(None);
        };
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .with_root_certificates(roots.clone());
        let config = match &self.current {
            Some(current) => builder.with_client_cert_resolver(current.clone()),
            None => builder.with_no_client_auth(),
        };
        Ok(Some(config))
    }

    /// A client for peers, with our TLS settings when there are any.
    pub fn peer_client(&self, connect_timeout: Duration) -> Result<reqwest::Client, TlsError> {
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30));
        if let Some(config) = self.client_config()? {
            builder = builder.use_preconfigured_tls(config);
        }
        builder.build().map_err(|e| TlsError::Setup(e.to_string()))
    }

    /// Re-read the certificate and key; the old ones stay when the new ones do not load.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let Some(current) = &self.current else {
            return Ok(false);
        };
        let fresh = load_certified(&self.cfg)?;
        if fresh.cert == current.0.load().cert {
            return Ok(false);
        }
        current.0.store(Arc::new(fresh));
        Ok(true)
    }

    /// Watch the certificate and key files (their folders, so renames count) and reload on
    /// change. The returned watcher must be kept alive.
    pub fn watch(self: &Arc<Self>) -> Option<notify::RecommendedWatcher> {
        self.current.as_ref()?;
        let tls = Arc::clone(self);
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_err() {
                return;
            }
            // Writers replace the two files one after the other: let both land.
            std::thread::sleep(Duration::from_millis(200));
            match tls.reload() {
                Ok(true) => tracing::info!(cert = %tls.cfg.cert_file.display(), "TLS certificate reloaded"),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "TLS certificate not reloaded; still serving the previous one"),
            }
        })
        .map_err(|e| tracing::error!(error = %e, "cannot watch the TLS certificate files"))
        .ok()?;
        for file in [&self.cfg.cert_file, &self.cfg.key_file] {
            let dir = file
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
                tracing::error!(error = %e, dir = %dir.display(), "cannot watch the TLS certificate folder");
            }
        }
        Some(watcher)
    }
}
