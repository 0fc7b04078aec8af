//! Test harness: real `access-node` processes on 127.0.0.1 ports with homes on disk.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;

pub const ADMIN_PASSWORD: &str = "password";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct TestNode {
    pub home: PathBuf,
    pub port: u16,
    pub env: Vec<(String, String)>,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
    pub client: Client,
}

pub fn client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

impl TestNode {
    /// A fresh single node with the admin password set to [`ADMIN_PASSWORD`].
    pub fn start() -> TestNode {
        Self::start_with(&[(
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        )])
    }

    pub fn start_with(env: &[(&str, &str)]) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let mut node = TestNode {
            home: dir.path().join("home"),
            port: free_port(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
            _dir: Some(dir),
            client: client(),
        };
        node.spawn();
        node.wait_ready();
        node
    }

    pub fn log_path(&self) -> PathBuf {
        self.home.with_file_name("node.log")
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_access-node"));
        cmd.arg("serve")
            .arg("--home")
            .arg(&self.home)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("spawn access-node"));
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("access-node exited early ({status}); log:\n{}", self.log());
                }
            }
            if let Ok(r) = self.client.get(self.url("/healthz")).send() {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node not ready in time; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// SIGKILL: no shutdown hooks, no flush beyond what the node already made durable.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
        self.wait_ready();
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(self.url(path))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(self.url(path))
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.client.delete(self.url(path))
    }

    pub fn admin(&self, rb: RequestBuilder) -> RequestBuilder {
        rb.basic_auth("admin", Some(ADMIN_PASSWORD))
    }

    /// Create a token as admin with form fields; panics unless 200.
    pub fn admin_token(&self, form: &[(&str, &str)]) -> Value {
        let r = self
            .admin(self.post("/access/api/v1/tokens"))
            .form(form)
            .send()
            .unwrap();
        let status = r.status();
        let body: Value = r.json().unwrap();
        assert_eq!(status, 200, "create token failed: {body}");
        body
    }

    pub fn root_crt_path(&self) -> PathBuf {
        self.home.join("etc/keys/root.crt")
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Status and JSON body; asserts the error shape on 4xx/5xx.
pub fn json_of(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status >= 400 {
        assert!(
            body["errors"][0]["code"].is_string() && body["errors"][0]["message"].is_string(),
            "error without JSON errors[]: {status} {body}"
        );
    }
    (status, body)
}

pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["code"].as_str().unwrap_or("")
}

/// Decode a JWT's header and claims without verifying.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let header = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    let claims = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    (
        serde_json::from_slice(&header).unwrap(),
        serde_json::from_slice(&claims).unwrap(),
    )
}

pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
