use super::*;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Send one write to the nodes in turn until one accepts it (`ok` statuses); false after
/// 60 s. A write that landed but whose answer was lost comes back as 409 on a retry.
fn write(
    http: &reqwest::blocking::Client,
    urls: &[String],
    bearer: &str,
    ok: &[u16],
    build: impl Fn(&reqwest::blocking::Client, &str) -> reqwest::blocking::RequestBuilder,
) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut i = 0;
    while Instant::now() < deadline {
        let r = build(http, &urls[i % urls.len()])
            .bearer_auth(bearer)
            .timeout(Duration::from_secs(5))
            .send();
        if let Ok(r) = r {
            if ok.contains(&r.status().as_u16()) {
                return true;
            }
        }
        i += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn leader_killed_while_streaming_loses_and_repeats_nothing() {
    let _turn = turn(1);
    let _slots = slots(6);
    let mut a = Site::start("a", 3, &[]);
    let b = Site::start("b", 3, &[]);
    federate(&a, &b);

    const USERS: usize = 60;
    const REVOKED: usize = 30;
    let tokens: Vec<String> = (0..REVOKED)
        .map(|i| revocable(&a, i % 3, "stream"))
        .collect();
    let kept = revocable(&a, 0, "stream");
    wait_same_digest(&[&a, &b], SETTLE);
    wait_ping(&b, &tokens[REVOKED - 1], 200, "the tokens to revoke");

    // A writer streams user creations and revocations into A through every node.
    let done = Arc::new(AtomicUsize::new(0));
    let writer = {
        let urls: Vec<String> = a.nodes().iter().map(|n| n.url("")).collect();
        let (bearer, tokens, done) = (a.bearer(), tokens.clone(), done.clone());
        std::thread::spawn(move || {
            let http = client();
            let mut failed = Vec::new();
            for i in 0..USERS {
                let name = format!("streamed{i:03}");
                let body = json!({"username": name, "password": "streamed-pass-1"});
                if !write(&http, &urls, &bearer, &[201, 409], |c, u| {
                    c.post(format!("{u}/access/api/v2/users")).json(&body)
                }) {
                    failed.push(name);
                }
                if i % 2 == 0 {
                    let t = &tokens[i / 2];
                    if !write(&http, &urls, &bearer, &[200], |c, u| {
                        c.delete(format!("{u}/access/api/v1/tokens/revoke"))
                            .form(&[("token", t.as_str())])
                    }) {
                        failed.push(format!("revoke {}", i / 2));
                    }
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
            failed
        })
    };
    wait_until("the stream to be under way", SETTLE, || {
        done.load(Ordering::SeqCst) >= USERS / 4
    });
    let leader = a.leader();
    let leader_url = a.node(leader).url("");
    a.cluster.nodes[leader].kill9();
    eprintln!(
        "killed A's leader {leader_url} after {} writes",
        done.load(Ordering::SeqCst)
    );
    let failed = writer.join().unwrap();
    assert!(failed.is_empty(), "writes that never succeeded: {failed:?}");
    a.cluster.nodes[leader].spawn();
    a.cluster.nodes[leader].wait_ready();
    a.cluster.wait_converged();

    wait_same_digest(&[&a, &b], Duration::from_secs(60));
    // Every event arrived at every node of B, and nothing else did.
    for (i, n) in b.nodes().iter().enumerate() {
        let names = user_names(&b, i);
        let streamed = names.iter().filter(|u| u.starts_with("streamed")).count();
        assert_eq!(streamed, USERS, "{}: {names:?}", n.url(""));
        for (j, t) in tokens.iter().enumerate() {
            assert_eq!(ping(n, t), 401, "revocation {j} at {}", n.url(""));
        }
        assert_eq!(ping(n, &kept), 200, "an unrevoked token at {}", n.url(""));
    }
    // B applied A's journal up to A's own position: nothing missing, nothing extra.
    let a_seq = a.digest(0)["vector"][a.service_id()].clone();
    assert!(
        a_seq.as_u64().unwrap_or(0) > (USERS + REVOKED) as u64,
        "{a_seq}"
    );
    for s in [&a, &b] {
        for i in 0..3 {
            let d = s.digest(i);
            assert_eq!(
                d["vector"][a.service_id()],
                a_seq,
                "{}/{}: {d}",
                s.name,
                i + 1
            );
            eprintln!("{}/{}: counts {}", s.name, i + 1, d["counts"]);
        }
    }
}
