use super::*;

/// A user disabled at one site is cut off at every site: the other site's own tokens of the
/// user stop too, and its password logs in nowhere; enabled again, it logs in everywhere.
#[test]
fn a_user_disabled_at_one_site_is_cut_off_at_every_site() {
    let _turn = turn(1);
    let _slots = slots(2);
    let a = Site::start("a", 1, &[]);
    let b = Site::start("b", 1, &[]);
    federate(&a, &b);
    create_user(&a, 0, "dana", "dana-pass-1");
    wait_until("dana at B", SETTLE, || user(&b, 0, "dana").0 == 200);
    // A token of B's own for dana, and one of A's, both good at B.
    let at_b = token_of(&b.token(0, &[("username", "dana"), ("expires_in", "600")]));
    let at_a = token_of(&a.token(0, &[("username", "dana"), ("expires_in", "0")]));
    wait_until("A's token valid at B", SETTLE, || {
        ping(b.node(0), &at_a) == 200
    });
    assert_eq!(ping(b.node(0), &at_b), 200);

    let (status, body) = a.patch(
        0,
        "/access/api/v2/users/dana",
        &json!({"status": "disabled"}),
    );
    assert_eq!(status, 200, "{body}");
    wait_until("dana disabled at B", SETTLE, || {
        user(&b, 0, "dana").1["status"] == "disabled"
    });
    wait_until("both tokens refused at B", SETTLE, || {
        ping(b.node(0), &at_b) == 401 && ping(b.node(0), &at_a) == 401
    });
    assert_eq!(login_status(b.node(0), "dana", "dana-pass-1"), 401);

    let (status, _) = a.patch(
        0,
        "/access/api/v2/users/dana",
        &json!({"status": "enabled"}),
    );
    assert_eq!(status, 200);
    wait_until("dana logs in at B again", SETTLE, || {
        login_status(b.node(0), "dana", "dana-pass-1") == 200
    });
    assert_eq!(ping(b.node(0), &at_b), 401, "an old token stays dead");
}
