//! An OIDC issuer the suite runs itself (`tests/python/oidc_issuer.py`): discovery and JWKS
//! on loopback, GitHub-shaped ID tokens minted on request, keys it rotates.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::node::client;
use crate::python::python;

pub struct TestIssuer {
    child: Child,
    /// `http://127.0.0.1:<port>` (`https://` with TLS), no trailing slash.
    pub url: String,
    /// The CA its certificate is from, when it serves https.
    ca_pem: Option<String>,
    _dir: tempfile::TempDir,
}

impl TestIssuer {
    pub fn start() -> TestIssuer {
        Self::spawn(None)
    }

    /// Over https, with this certificate and key (PEM files): the test then talks to it
    /// trusting `ca_pem`.
    pub fn start_tls(cert: &Path, key: &Path, ca_pem: &str) -> TestIssuer {
        let mut issuer = Self::spawn(Some((cert, key)));
        issuer.url = issuer.url.replacen("http://", "https://", 1);
        issuer.ca_pem = Some(ca_pem.to_string());
        issuer
    }

    fn spawn(tls: Option<(&Path, &Path)>) -> TestIssuer {
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../python/oidc_issuer.py");
        let mut cmd = Command::new(python());
        cmd.arg(script).arg(&port_file);
        if let Some((cert, key)) = tls {
            cmd.arg(cert).arg(key);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("run the test OIDC issuer (python with PyJWT, as scripts/test installs)");
        let started = Instant::now();
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                break p;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the test issuer did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        TestIssuer {
            child,
            url: format!("http://127.0.0.1:{}", port.trim()),
            ca_pem: None,
            _dir: dir,
        }
    }

    fn client(&self) -> reqwest::blocking::Client {
        match &self.ca_pem {
            Some(ca) => crate::tls::client(ca, None),
            None => client(),
        }
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .client()
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "issuer {path}");
        r.json().unwrap()
    }

    /// An ID token with GitHub's claims, `claims` laid over them (null removes one), and
    /// `options` (`alg`, `key`, `kid`, `no_kid`, `header_alg`, `iss_slash`) as the script takes them.
    pub fn mint_with(&self, claims: Value, options: Value) -> String {
        let mut body = options;
        body["claims"] = claims;
        self.post("/mint", body)["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn mint(&self, claims: Value) -> String {
        self.mint_with(claims, json!({}))
    }

    /// A new signing key of `alg`; the old ones leave the JWKS unless `keep_old`.
    pub fn rotate(&self, alg: &str, keep_old: bool) -> String {
        self.post("/rotate", json!({"alg": alg, "keep_old": keep_old}))["kid"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// How often the JWKS was fetched.
    pub fn jwks_fetches(&self) -> u64 {
        let r = self
            .client()
            .get(format!("{}/stats", self.url))
            .send()
            .unwrap();
        r.json::<Value>().unwrap()["jwks_fetches"].as_u64().unwrap()
    }

    /// While down, discovery and JWKS answer 503.
    pub fn set_down(&self, down: bool) {
        self.post("/down", json!({"down": down}));
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
