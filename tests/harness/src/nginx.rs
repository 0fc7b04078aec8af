//! nginx as the load balancer in front of test nodes (the deployment's template).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::node::{client, free_port};

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
        // The harness lives in tests/harness: the template is the repository's own.
        let template = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../cluster/nginx.conf.template"
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
