//! Network namespaces, veth pairs and iptables: partitions between test hosts.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Test hosts in network namespaces joined by a bridge: host i is 10.<213+lab>.<net>.i, the
/// test itself (root namespace) is .254. Removed on drop.
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
        // Short names unique per process and per lab (tests of one binary run in parallel;
        // interface names are at most 15 bytes).
        static LABS: AtomicUsize = AtomicUsize::new(0);
        let lab_no = LABS.fetch_add(1, Ordering::Relaxed) % 40;
        let tag = std::process::id() % 1000;
        let lab = NetLab {
            prefix: format!("an{tag}l{lab_no}"),
            subnet: format!("10.{}.{}", 213 + lab_no, tag % 250),
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
