use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;

#[test]
fn a_certificate_rotated_under_traffic_fails_no_request() {
    let pki = Pki::new("rotation-ca");
    let mut node = TestNode::prepare(&[(
        "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
        ADMIN_PASSWORD,
    )]);
    pki.configure(&mut node, "node", false);
    node.spawn();
    node.wait_ready();
    let token = node.admin_bearer();
    let before = tls::served_certificate(node.port, &pki.ca_pem);

    // Validation traffic on fresh connections (each one a new handshake) while the files change.
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, total, failures) = (stop.clone(), total.clone(), failures.clone());
            let (url, ca, token) = (
                node.url("/api/system/ping"),
                pki.ca_pem.clone(),
                token.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let client = tls::client(&ca, None);
                    match client.get(&url).bearer_auth(&token).send() {
                        Ok(r) if r.status() == 200 => {}
                        other => failures.lock().unwrap().push(format!("{other:?}")),
                    }
                    total.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // Renew: a new key and certificate written over the configured files.
    let (cert, key) = pki.node_pem();
    let cert_path = PathBuf::from(
        node.env
            .iter()
            .find(|(k, _)| k == "ACCESS_NODE_TLS_CERT_FILE")
            .unwrap()
            .1
            .clone(),
    );
    let key_path = PathBuf::from(
        node.env
            .iter()
            .find(|(k, _)| k == "ACCESS_NODE_TLS_KEY_FILE")
            .unwrap()
            .1
            .clone(),
    );
    for (path, pem) in [(&key_path, &key), (&cert_path, &cert)] {
        let tmp = path.with_extension("new");
        std::fs::write(&tmp, pem).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while tls::served_certificate(node.port, &pki.ca_pem) == before {
        assert!(
            Instant::now() < deadline,
            "the new certificate was not picked up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    let total = total.load(Ordering::Relaxed);
    eprintln!(
        "certificate rotation: {total} requests, {} failed",
        failures.len()
    );
    assert!(total > 20, "too few requests: {total}");
    assert!(failures.is_empty(), "{failures:?}");
    assert!(node.log().contains("TLS certificate reloaded"));
}
