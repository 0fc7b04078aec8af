//! TLS on every port: a 3-node cluster with mutual TLS between nodes, a join over https, a
//! node with the wrong CA refused, a certificate rotated under traffic, and an https OIDC issuer
//! with a private CA.

mod cluster;
mod oidc_issuer;
mod rotation;
mod wrong_ca;

use std::path::PathBuf;

use access_node_harness::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};

/// A test CA and the files of the certificates it signs.
pub struct Pki {
    dir: tempfile::TempDir,
    pub ca_pem: String,
    ca: Issuer<'static, KeyPair>,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let ca_pem = params.self_signed(&key).unwrap().pem();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), &ca_pem).unwrap();
        Pki {
            dir,
            ca_pem,
            ca: Issuer::new(params, key),
        }
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A node certificate for 127.0.0.1 (server and client use), as PEM (cert, key).
    pub fn node_pem(&self) -> (String, String) {
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "access-node");
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// Write a fresh node certificate as `<name>.crt` / `<name>.key`; returns their paths.
    pub fn node_files(&self, name: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = self.node_pem();
        let cert_path = self.dir.path().join(format!("{name}.crt"));
        let key_path = self.dir.path().join(format!("{name}.key"));
        std::fs::write(&cert_path, cert).unwrap();
        std::fs::write(&key_path, key).unwrap();
        (cert_path, key_path)
    }

    /// Set `node` up to serve TLS with a certificate of this CA (mutual TLS on the RPC when
    /// `mutual`), and give it an https client.
    pub fn configure(&self, node: &mut TestNode, name: &str, mutual: bool) {
        let (cert, key) = self.node_files(name);
        node.set_env("ACCESS_NODE_TLS_CERT_FILE", cert.to_str().unwrap());
        node.set_env("ACCESS_NODE_TLS_KEY_FILE", key.to_str().unwrap());
        node.set_env("ACCESS_NODE_TLS_CA_FILE", self.ca_file().to_str().unwrap());
        if mutual {
            node.set_env("ACCESS_NODE_TLS_REQUIRE_CLIENT_CERT", "true");
        }
        node.scheme = "https".into();
        node.client = tls::client(&self.ca_pem, None);
    }
}
