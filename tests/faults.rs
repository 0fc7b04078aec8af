//! Fault tests with real processes: kill -9 of the leader under write traffic through nginx,
//! a network partition of a minority (network namespaces + iptables), and a rolling restart
//! under validation traffic. Needs root, nginx, iproute2 and iptables (.ci/run installs them).

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn healthz(node: &TestNode) -> Option<Value> {
    node.client
        .get(node.url("/healthz"))
        .timeout(Duration::from_millis(500))
        .send()
        .ok()?
        .json()
        .ok()
}

fn ping(node: &TestNode, token: &str, strict: bool) -> u16 {
    let mut rb = node.get("/api/system/ping").bearer_auth(token);
    if strict {
        rb = rb.header("X-Access-Consistency", "strict");
    }
    rb.send().map(|r| r.status().as_u16()).unwrap_or(0)
}

#[derive(Default)]
struct WriteLog {
    created: Vec<(String, String)>, // (token_id, access_token)
    revoked: Vec<String>,           // token ids whose revoke was acknowledged
    statuses: HashMap<u16, usize>,
    /// 503s without Retry-After, other failures, with the time they happened.
    bad: Vec<String>,
    unavailable_at: Vec<Instant>,
}

#[test]
fn killing_the_leader_under_write_traffic_loses_nothing() {
    let mut cluster = TestCluster::start(3, &[]);
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    let lb = Nginx::start(&ports);
    let admin_token = cluster.nodes[0].admin_bearer();

    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(WriteLog::default()));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (stop, log, admin, base) =
                (stop.clone(), log.clone(), admin_token.clone(), lb.url(""));
            std::thread::spawn(move || {
                let http = client();
                let started = Instant::now();
                let mut n = 0u32;
                // Bounded in count and time.
                while !stop.load(Ordering::Relaxed)
                    && n < 20_000
                    && started.elapsed() < Duration::from_secs(60)
                {
                    n += 1;
                    let name = format!("w{w}n{n}");
                    let r = http
                        .post(format!("{base}/access/api/v1/tokens"))
                        .bearer_auth(&admin)
                        .form(&[("username", name.as_str()), ("expires_in", "0")])
                        .send();
                    let record = |status: u16, retry_after: bool| {
                        let mut l = log.lock().unwrap();
                        *l.statuses.entry(status).or_default() += 1;
                        if status == 503 {
                            l.unavailable_at.push(Instant::now());
                            if !retry_after {
                                l.bad.push(format!("503 without Retry-After for {name}"));
                            }
                        } else if status != 200 {
                            l.bad.push(format!("status {status} for {name}"));
                        }
                    };
                    let Ok(r) = r else {
                        log.lock()
                            .unwrap()
                            .bad
                            .push(format!("transport error for {name}"));
                        continue;
                    };
                    let status = r.status().as_u16();
                    record(status, r.headers().contains_key("retry-after"));
                    if status != 200 {
                        std::thread::sleep(Duration::from_millis(200));
                        continue;
                    }
                    let body: Value = r.json().unwrap();
                    let id = body["token_id"].as_str().unwrap().to_string();
                    let token = body["access_token"].as_str().unwrap().to_string();
                    log.lock().unwrap().created.push((id.clone(), token));
                    if n.is_multiple_of(3) {
                        let r = http
                            .delete(format!("{base}/access/api/v1/tokens/{id}"))
                            .bearer_auth(&admin)
                            .send();
                        match r {
                            Ok(r) => {
                                let status = r.status().as_u16();
                                record(status, r.headers().contains_key("retry-after"));
                                if status == 200 {
                                    log.lock().unwrap().revoked.push(id);
                                }
                            }
                            Err(_) => log
                                .lock()
                                .unwrap()
                                .bad
                                .push(format!("transport error revoking {id}")),
                        }
                    }
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_secs(2));
    let old = cluster.leader();
    let old_term = healthz(&cluster.nodes[old]).unwrap()["term"]
        .as_u64()
        .unwrap();
    let killed_at = Instant::now();
    cluster.nodes[old].kill9();
    // Measure failover: a survivor reports itself leader in a newer term.
    let failover = loop {
        let elected = cluster
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != old)
            .any(|(_, n)| {
                healthz(n).is_some_and(|h| {
                    h["state"] == "Leader" && h["term"].as_u64().unwrap_or(0) > old_term
                })
            });
        if elected {
            break killed_at.elapsed();
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(15),
            "no new leader after the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let log = log.lock().unwrap();
    eprintln!(
        "failover {:?}; statuses {:?}; created {}; revoked {}",
        failover,
        log.statuses,
        log.created.len(),
        log.revoked.len()
    );
    // Election timeouts are 0.6-1.2 s: a few of them, with slack for a loaded machine.
    assert!(
        failover < Duration::from_secs(10),
        "failover took {failover:?}"
    );
    assert!(
        log.bad.is_empty(),
        "clients saw more than 503s with Retry-After: {:?}",
        log.bad
    );
    assert!(
        log.created.len() > 20,
        "too little traffic to mean anything: {}",
        log.created.len()
    );
    for t in &log.unavailable_at {
        let since_kill = t.saturating_duration_since(killed_at);
        assert!(
            since_kill < Duration::from_secs(10),
            "a 503 long after the failover ({since_kill:?})"
        );
    }

    let revoked: std::collections::HashSet<&String> = log.revoked.iter().collect();
    let check = |node: &TestNode, strict: bool| {
        for (id, token) in &log.created {
            let want = if revoked.contains(id) { 401 } else { 200 };
            assert_eq!(
                ping(node, token, strict),
                want,
                "token {id} on {}",
                node.url("")
            );
        }
    };
    for (i, node) in cluster.nodes.iter().enumerate() {
        if i != old {
            check(node, true);
        }
    }
    // The killed node restarts and catches up.
    cluster.nodes[old].spawn();
    cluster.nodes[old].wait_ready();
    cluster.wait_converged();
    check(&cluster.nodes[old], false);
}

#[test]
fn a_partitioned_minority_refuses_writes_keeps_validating_and_converges() {
    let lab = NetLab::new(3);
    let cluster = TestCluster::start_placed(3, &[], |i, node| {
        node.host = lab.addr(i + 1);
        node.netns = Some(lab.ns(i + 1));
        node.port = 8082;
    });
    let minority = 2; // node 3
    let majority = [0usize, 1];

    let kept = cluster.nodes[0].admin_token(&[("username", "kept"), ("expires_in", "0")]);
    let doomed = cluster.nodes[0].admin_token(&[("username", "doomed"), ("expires_in", "0")]);
    cluster.wait_converged();

    lab.isolate(minority + 1);
    let m = &cluster.nodes[minority];
    // Writes on the minority are refused with 503 + Retry-After within seconds.
    let started = Instant::now();
    let r = m
        .admin(m.post("/access/api/v1/tokens"))
        .form(&[("expires_in", "0")])
        .send()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 503, "minority accepted a write");
    assert!(r.headers().contains_key("retry-after"));
    assert!(
        took < Duration::from_secs(10),
        "write refusal took {took:?}"
    );
    eprintln!("minority refused a write after {took:?}");
    // It keeps validating what it knows; a strict (linearizable) check is refused.
    assert_eq!(ping(m, kept["access_token"].as_str().unwrap(), false), 200);
    assert_eq!(ping(m, kept["access_token"].as_str().unwrap(), true), 503);

    // The majority goes on: new token, one revocation.
    let deadline = Instant::now() + Duration::from_secs(20);
    let fresh = loop {
        let n = &cluster.nodes[majority[0]];
        let r = n
            .admin(n.post("/access/api/v1/tokens"))
            .form(&[("username", "fresh"), ("expires_in", "0")])
            .send()
            .unwrap();
        if r.status() == 200 {
            break r.json::<Value>().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "majority does not take writes: {}",
            r.status()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let b = &cluster.nodes[majority[1]];
    let r = b
        .admin(b.delete(&format!(
            "/access/api/v1/tokens/{}",
            doomed["token_id"].as_str().unwrap()
        )))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // The minority has not heard of either.
    assert_eq!(
        ping(m, doomed["access_token"].as_str().unwrap(), false),
        200,
        "minority cannot know yet"
    );

    lab.heal(minority + 1);
    cluster.wait_converged();
    assert_eq!(ping(m, fresh["access_token"].as_str().unwrap(), false), 200);
    assert_eq!(
        ping(m, doomed["access_token"].as_str().unwrap(), false),
        401
    );
    assert_eq!(ping(m, kept["access_token"].as_str().unwrap(), false), 200);
    // And it takes writes again (forwarded to the leader).
    let r = m
        .admin(m.post("/access/api/v1/tokens"))
        .form(&[("expires_in", "0")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn a_rolling_restart_under_validation_traffic_fails_no_validation() {
    let mut cluster = TestCluster::start(3, &[]);
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    let lb = Nginx::start(&ports);
    let tokens: Vec<String> = (0..5)
        .map(|i| {
            cluster.nodes[i % 3].admin_token(&[("username", &format!("v{i}")), ("expires_in", "0")])
                ["access_token"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    cluster.wait_converged();

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let total = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let validators: Vec<_> = (0..2)
        .map(|v| {
            let (stop, failures, total, tokens, url) = (
                stop.clone(),
                failures.clone(),
                total.clone(),
                tokens.clone(),
                lb.url("/api/system/ping"),
            );
            std::thread::spawn(move || {
                let http = client();
                let started = Instant::now();
                let mut i = v;
                while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(120)
                {
                    i += 1;
                    let token = &tokens[i % tokens.len()];
                    match http.get(&url).bearer_auth(token).send() {
                        Ok(r) if r.status() == 200 => {}
                        Ok(r) => failures
                            .lock()
                            .unwrap()
                            .push(format!("status {}", r.status())),
                        Err(e) => failures.lock().unwrap().push(format!("transport: {e}")),
                    }
                    total.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        })
        .collect();

    for i in 0..3 {
        std::thread::sleep(Duration::from_millis(500));
        cluster.nodes[i].stop();
        std::thread::sleep(Duration::from_millis(500));
        cluster.nodes[i].spawn();
        cluster.nodes[i].wait_ready();
        cluster.wait_converged();
        // As an operator would: let the load balancer see the node healthy again (its passive
        // check keeps a failed node out for fail_timeout = 2 s) before taking the next one down.
        std::thread::sleep(Duration::from_millis(2500));
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for v in validators {
        v.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    let total = total.load(Ordering::Relaxed);
    eprintln!(
        "rolling restart: {total} validations, {} failed",
        failures.len()
    );
    if !failures.is_empty() {
        eprintln!("nginx error log:\n{}", lb.error_log());
    }
    assert!(total > 200, "too few validations to mean anything: {total}");
    assert!(
        failures.is_empty(),
        "{} of {total} validations failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
}
