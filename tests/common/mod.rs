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
    /// Address the node listens on (127.0.0.1, or its network namespace's address).
    pub host: String,
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
        let binary = env!("CARGO_BIN_EXE_access-node");
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, binary]);
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
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("spawn access-node"));
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}:{}{}", self.host, self.port, path)
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

pub const JOIN_KEY: &str = "test-cluster-join-key-0123456789";

/// A cluster of real processes on 127.0.0.1: node 1 initialises, the others join it.
pub struct TestCluster {
    pub nodes: Vec<TestNode>,
}

impl TestCluster {
    pub fn start(n: usize, extra: &[(&str, &str)]) -> TestCluster {
        Self::start_placed(n, extra, |_, _| {})
    }

    /// Like `start`, with `place(i, node)` choosing where node i (0-based) runs.
    pub fn start_placed(
        n: usize,
        extra: &[(&str, &str)],
        place: impl Fn(usize, &mut TestNode),
    ) -> TestCluster {
        let mut nodes: Vec<TestNode> = Vec::new();
        for i in 0..n {
            let mut env: Vec<(&str, &str)> = vec![
                (
                    "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
                    ADMIN_PASSWORD,
                ),
                ("ACCESS_NODE_SECURITY_JOIN_KEY", JOIN_KEY),
            ];
            env.extend_from_slice(extra);
            let mut node = TestNode::prepare(&env);
            place(i, &mut node);
            node.set_env("ACCESS_NODE_SERVER_NODE_ID", &(i + 1).to_string());
            if i > 0 {
                node.set_env("ACCESS_NODE_RAFT_SEEDS", &nodes[0].url(""));
            }
            node.spawn();
            node.wait_ready();
            nodes.push(node);
        }
        let cluster = TestCluster { nodes };
        cluster.wait_converged();
        cluster
    }

    /// Index of the node that is leader (as node 1..n sees it), waiting for one.
    pub fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for (i, node) in self.nodes.iter().enumerate() {
                if let Ok(r) = node.get("/healthz").send() {
                    if let Ok(v) = r.json::<Value>() {
                        if v["state"] == "Leader" {
                            return i;
                        }
                    }
                }
            }
            assert!(Instant::now() < deadline, "no leader");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until every running node has applied the same index.
    pub fn wait_converged(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let applied: Vec<Option<u64>> = self
                .nodes
                .iter()
                .map(|n| {
                    n.get("/healthz")
                        .send()
                        .ok()
                        .and_then(|r| r.json::<Value>().ok())
                        .and_then(|v| v["last_applied"].as_u64())
                })
                .collect();
            if applied.iter().all(|a| a.is_some() && *a == applied[0]) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nodes did not converge: {applied:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
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

/// nginx (Debian's) in front of some nodes, rendered from cluster/nginx.conf.template.
pub struct Nginx {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Nginx {
    pub fn start(upstream_ports: &[u16]) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let port = free_port();
        let template = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/cluster/nginx.conf.template"
        ))
        .unwrap();
        let servers: String = upstream_ports
            .iter()
            .map(|p| format!("        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n"))
            .collect();
        let conf = template
            .replace("@PREFIX@", dir.path().to_str().unwrap())
            .replace("@LISTEN@", &format!("127.0.0.1:{port}"))
            .replace("@SERVERS@\n", &servers);
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .spawn()
            .expect("nginx must be installed (apt-get install nginx; .ci/run does it)");
        let lb = Nginx { port, dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while client().get(lb.url("/healthz")).send().is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                lb.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        lb
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT: the master stops its workers (SIGKILL would orphan them).
        let _ = Command::new("kill")
            .arg("-QUIT")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Test hosts in network namespaces joined by a bridge: host i is 10.213.<net>.i, the test
/// itself (root namespace) is .254. Removed on drop.
pub struct NetLab {
    pub prefix: String,
    pub subnet: String,
    pub hosts: usize,
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl NetLab {
    pub fn new(hosts: usize) -> NetLab {
        // Short unique names (interface names are at most 15 bytes).
        let tag = std::process::id() % 10000;
        let lab = NetLab {
            prefix: format!("an{tag}"),
            subnet: format!("10.213.{}", tag % 250),
            hosts,
        };
        lab.teardown();
        let bridge = format!("{}br", lab.prefix);
        sh(&["ip", "link", "add", &bridge, "type", "bridge"]);
        sh(&[
            "ip",
            "addr",
            "add",
            &format!("{}.254/24", lab.subnet),
            "dev",
            &bridge,
        ]);
        sh(&["ip", "link", "set", &bridge, "up"]);
        for i in 1..=hosts {
            let ns = lab.ns(i);
            let (outer, inner) = (format!("{}v{i}", lab.prefix), format!("{}p{i}", lab.prefix));
            sh(&["ip", "netns", "add", &ns]);
            sh(&[
                "ip", "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ]);
            sh(&["ip", "link", "set", &inner, "netns", &ns]);
            sh(&["ip", "link", "set", &outer, "master", &bridge]);
            sh(&["ip", "link", "set", &outer, "up"]);
            sh(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "ip",
                "addr",
                "add",
                &format!("{}/24", lab.addr(i)),
                "dev",
                &inner,
            ]);
            sh(&[
                "ip", "netns", "exec", &ns, "ip", "link", "set", &inner, "up",
            ]);
            sh(&["ip", "netns", "exec", &ns, "ip", "link", "set", "lo", "up"]);
        }
        lab
    }

    pub fn ns(&self, i: usize) -> String {
        format!("{}ns{i}", self.prefix)
    }

    pub fn addr(&self, i: usize) -> String {
        format!("{}.{i}", self.subnet)
    }

    /// Cut host i off from every other host (both directions); the test itself still reaches it.
    pub fn isolate(&self, i: usize) {
        for j in (1..=self.hosts).filter(|j| *j != i) {
            let peer = self.addr(j);
            sh(&[
                "ip",
                "netns",
                "exec",
                &self.ns(i),
                "iptables",
                "-A",
                "INPUT",
                "-s",
                &peer,
                "-j",
                "DROP",
            ]);
            sh(&[
                "ip",
                "netns",
                "exec",
                &self.ns(i),
                "iptables",
                "-A",
                "OUTPUT",
                "-d",
                &peer,
                "-j",
                "DROP",
            ]);
        }
    }

    pub fn heal(&self, i: usize) {
        sh(&["ip", "netns", "exec", &self.ns(i), "iptables", "-F"]);
    }

    fn teardown(&self) {
        for i in 1..=self.hosts {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(i)])
                .output();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &format!("{}br", self.prefix)])
            .output();
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        self.teardown();
    }
}
