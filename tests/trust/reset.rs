use super::*;

#[test]
fn certificate_reset_keeping_the_old_key_fails_no_validation() {
    let cluster = TestCluster::start(2, &[]);
    let [a, b] = [&cluster.nodes[0], &cluster.nodes[1]];
    let plain = token_of(&a.admin_token(&[("username", "u"), ("expires_in", "3600")]));
    let revocable = token_of(&a.admin_token(&[("username", "u"), ("expires_in", "0")]));
    let old_files = std::fs::read(a.root_crt_path()).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let total = Arc::new(AtomicUsize::new(0));
    let urls = [a.url("/api/system/ping"), b.url("/api/system/ping")];
    let checker = {
        let (stop, failures, total, tokens) = (
            stop.clone(),
            failures.clone(),
            total.clone(),
            vec![plain.clone(), revocable.clone()],
        );
        std::thread::spawn(move || {
            let http = client();
            let started = Instant::now();
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60) {
                i += 1;
                let status = http
                    .get(&urls[i % 2])
                    .bearer_auth(&tokens[(i / 2) % 2])
                    .send()
                    .map(|r| r.status().as_u16());
                if status.as_ref().map_or(true, |s| *s != 200) {
                    failures.lock().unwrap().push(format!("{status:?}"));
                }
                total.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let (status, body) = json_of(
        b.admin(b.post("/access/api/v1/cert/root/reset"))
            .form(&[("keep_old", "true")])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    let new_kid = body["kid"].as_str().unwrap().to_string();
    cluster.wait_converged();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    checker.join().unwrap();
    let failures = failures.lock().unwrap();
    let total = total.load(Ordering::Relaxed);
    eprintln!(
        "certificate reset (keep old): {total} validations, {} failed",
        failures.len()
    );
    assert!(total > 50, "too few validations: {total}");
    assert!(failures.is_empty(), "{failures:?}");

    // Both nodes rewrote their key files from the log, identically.
    let new_a = (
        std::fs::read(a.root_crt_path()).unwrap(),
        std::fs::read(a.home.join("etc/keys/private.key")).unwrap(),
    );
    let new_b = (
        std::fs::read(b.root_crt_path()).unwrap(),
        std::fs::read(b.home.join("etc/keys/private.key")).unwrap(),
    );
    assert_ne!(new_a.0, old_files);
    assert_eq!(new_a, new_b);
    assert_eq!(mode_of(&b.home.join("etc/keys/private.key")), 0o600);
    // New tokens carry the new kid; the JWKS lists the active and the retired key.
    let fresh = token_of(&b.admin_token(&[("username", "u"), ("expires_in", "3600")]));
    assert_eq!(jwt_parts(&fresh).0["kid"], new_kid.as_str());
    let (_, jwks) = json_of(a.get("/access/api/v1/jwks").send().unwrap());
    let origins = key_origins(&jwks);
    assert_eq!(origins, vec!["active", "retired"]);

    // A reset without keep_old invalidates every token signed before it.
    let (status, _) = json_of(
        a.admin(a.post("/access/api/v1/cert/root/reset"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    cluster.wait_converged();
    for n in [a, b] {
        assert_eq!(ping(n, &plain), 401);
        assert_eq!(ping(n, &revocable), 401);
        assert_eq!(ping(n, &fresh), 401);
    }
    let after = token_of(&a.admin_token(&[("username", "u"), ("expires_in", "3600")]));
    assert_eq!(ping(b, &after), 200);
    let (status, _) = json_of(
        a.admin(a.post("/access/api/v1/cert/root/reset?keep_old=maybe"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400);
}
