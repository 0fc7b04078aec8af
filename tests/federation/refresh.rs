use super::*;

fn refresh_at(url: &str, pair: &Value) -> (u16, Value) {
    json_of(
        client()
            .post(url)
            .form(&[
                ("grant_type", "refresh_token"),
                ("access_token", pair["access_token"].as_str().unwrap()),
                ("refresh_token", pair["refresh_token"].as_str().unwrap()),
            ])
            .send()
            .unwrap(),
    )
}

const TOKENS: &str = "/access/api/v1/tokens";

#[test]
fn refresh_goes_to_the_issuing_site_once() {
    let _turn = turn(1);
    let _slots = slots(2);
    let mut a = Site::start("a", 1, &[]);
    let b = Site::start("b", 1, &[]);
    federate(&a, &b);
    let refreshable = |user: &str| {
        let pair = a.token(0, &[("username", user), ("refreshable", "true")]);
        wait_ping(&b, &token_of(&pair), 200, "A's refreshable token");
        pair
    };

    // Refreshing at B a pair A issued: B forwards to A, the new pair is A's and works at both.
    let pair = refreshable("rf");
    let (status, new) = refresh_at(&b.node(0).url(TOKENS), &pair);
    assert_eq!(status, 200, "refresh at the other site: {new}");
    let new_access = token_of(&new);
    let (_, claims) = jwt_parts(&new_access);
    assert!(
        claims["sub"].as_str().unwrap().starts_with(a.service_id()),
        "the issuer stays A: {claims}"
    );
    assert_eq!(ping(a.node(0), &new_access), 200, "stored at A at once");
    wait_ping(&b, &new_access, 200, "the refreshed token at B");
    wait_ping(&b, &token_of(&pair), 401, "the replaced token at B");
    assert_eq!(ping(a.node(0), &token_of(&pair)), 401);
    // The old refresh token is spent at either site.
    let (status, _) = refresh_at(&a.node(0).url(TOKENS), &pair);
    assert_eq!(status, 401);
    // The new pair refreshes at A too.
    let (status, body) = refresh_at(&a.node(0).url(TOKENS), &new);
    assert_eq!(status, 200, "{body}");

    // The same pair refreshed at A and at B at once: exactly one wins, in every round.
    for round in 0..3 {
        let pair = refreshable(&format!("race{round}"));
        let urls = [a.node(0).url(TOKENS), b.node(0).url(TOKENS)];
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = urls
            .into_iter()
            .map(|url| {
                let (pair, barrier) = (pair.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    refresh_at(&url, &pair)
                })
            })
            .collect();
        let answers: Vec<(u16, Value)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let wins = answers.iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(wins, 1, "round {round}: {answers:?}");
        assert!(
            answers
                .iter()
                .all(|(s, _)| *s == 200 || *s == 401 || *s == 409),
            "round {round}: {answers:?}"
        );
    }

    // B's own pairs refresh at B whatever A's state; A's need A: 503 while A is down.
    let pending = refreshable("later");
    let own = b.token(0, &[("username", "own"), ("refreshable", "true")]);
    a.stop_all();
    let (status, body) = refresh_at(&b.node(0).url(TOKENS), &pending);
    assert_eq!(status, 503, "issuer down: {body}");
    let (status, body) = refresh_at(&b.node(0).url(TOKENS), &own);
    assert_eq!(status, 200, "B's own pair: {body}");
    // A's token still validates at B (validation is local) until it is refreshed.
    assert_eq!(ping(b.node(0), &token_of(&pending)), 200);
    a.start_all();
    let (status, body) = refresh_at(&b.node(0).url(TOKENS), &pending);
    assert_eq!(status, 200, "issuer back: {body}");
}
