//! One real `access-node` process on a 127.0.0.1 port (or in a network namespace), with its
//! home on disk: start, stop, SIGKILL, restart, and request helpers.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder};
use serde_json::Value;

use crate::http::json_of;

pub const ADMIN_PASSWORD: &str = "password";

/// Ports handed to test listeners: below Linux's ephemeral range (32768 and up), so no
/// outgoing connection (a node's RPC, a client, nginx) takes a port between the moment it is
/// chosen and the moment its node binds it, or while its node restarts.
const PORTS: std::ops::Range<u16> = 10_000..32_000;

/// A port free on 127.0.0.1, never handed out before by this process: tests of one binary
/// run in parallel, and a stopped node keeps its port for its restart. Each process starts
/// at its own place in [`PORTS`] (by process id), so that test runs side by side rarely meet;
/// a port some other process holds is skipped.
pub fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(usize::MAX);
    let span = usize::from(PORTS.end - PORTS.start);
    let start = std::process::id() as usize * 7_919 % span;
    let _ = NEXT.compare_exchange(usize::MAX, start, Ordering::Relaxed, Ordering::Relaxed);
    for _ in 0..span {
        let i = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = PORTS.start + (i % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {PORTS:?}");
}

pub struct TestNode {
    pub home: PathBuf,
    /// Address the node listens on (127.0.0.1, or its network namespace's address).
    pub host: String,
    /// `http`, or `https` for a node serving TLS (give it a [`crate::tls::client`] too).
    pub scheme: String,
    /// Network namespace to run in (`ip netns exec`), for partition tests.
    pub netns: Option<String>,
    /// Subcommand and its arguments (`serve` unless a test says otherwise).
    pub command: Vec<String>,
    pub port: u16,
    pub env: Vec<(String, String)>,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
    pub client: Client,
}

pub fn client() -> Client {
    crate::tls::install_default_provider();
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
        let mut node = Self::prepare(env);
        node.spawn();
        node.wait_ready();
        node
    }

    /// A node with a home and a port, not started yet.
    pub fn prepare(env: &[(&str, &str)]) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        TestNode {
            home: dir.path().join("home"),
            host: "127.0.0.1".into(),
            scheme: "http".into(),
            netns: None,
            command: vec!["serve".into()],
            port: free_port(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
            _dir: Some(dir),
            client: client(),
        }
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGTERM and wait: a graceful stop.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            sigterm(child.id());
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// GET /access/api/v1/cluster/status as admin.
    pub fn status(&self) -> Value {
        let r = self
            .admin(self.get("/access/api/v1/cluster/status"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().unwrap()
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
        let binary = crate::binary();
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&binary);
                c
            }
            None => Command::new(binary),
        };
        cmd.args(&self.command)
            .arg("--home")
            .arg(&self.home)
            .arg("--listen")
            .arg(format!("{}:{}", self.host, self.port))
            .env_remove("RUST_LOG")
            // The harness's own override is no config key: the node would refuse to start.
            .env_remove("ACCESS_NODE_BIN")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("spawn access-node"));
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://{}:{}{}", self.scheme, self.host, self.port, path)
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

    /// An admin-scoped bearer token (1 h), so request loops skip the argon2 of Basic auth.
    pub fn admin_bearer(&self) -> String {
        self.admin_token(&[
            ("scope", "applied-permissions/admin"),
            ("expires_in", "3600"),
        ])["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Create a revocable token for `username` with `bearer`; panics unless 200.
    pub fn create_revocable(&self, bearer: &str, username: &str) -> Value {
        let (status, body) = json_of(
            self.post("/access/api/v1/tokens")
                .bearer_auth(bearer)
                .form(&[("username", username), ("expires_in", "0")])
                .send()
                .unwrap(),
        );
        assert_eq!(status, 200, "{body}");
        body
    }

    pub fn root_crt_path(&self) -> PathBuf {
        self.home.join("etc/keys/root.crt")
    }
}

fn sigterm(pid: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.kill9();
    }
}
