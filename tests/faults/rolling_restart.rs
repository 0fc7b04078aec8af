use super::*;

#[test]
fn a_rolling_restart_under_validation_traffic_fails_no_validation() {
    let _turn = turn(1);
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
