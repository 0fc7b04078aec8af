use super::*;

#[test]
fn killing_the_leader_under_write_traffic_loses_nothing() {
    let _turn = turn(1);
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
