use super::*;

const CI_PERM: &str = "/access/api/v2/permissions/ci-perm";

/// A permission target made at site A (the PERMISSIONS entity) appears at site B, grants
/// there, loses a user deleted at A, and is removed there when A deletes it; one made at B
/// comes back to A.
#[test]
fn a_permission_target_crosses_and_its_delete_follows() {
    let _turn = turn(1);
    let _slots = slots(2);
    let a = Site::start("a", 1, &[]);
    let b = Site::start("b", 1, &[]);
    federate(&a, &b);

    let (status, body) = a.post(0, "/access/api/v2/groups", &json!({"name": "CI"}));
    assert_eq!(status, 201, "{body}");
    create_user(&a, 0, "bob", "bob-pass-1");
    let doc = json!({"name": "ci-perm", "resources": {"artifact": {
        "actions": {"users": {"bob": ["READ"]}, "groups": {"CI": ["READ", "WRITE", "ANNOTATE", "DELETE"]}},
        "targets": {"generic-local": {"include_patterns": ["**"], "exclude_patterns": ["secret/**"]}},
    }}});
    let (status, created) = a.post(0, "/access/api/v2/permissions", &doc);
    assert_eq!(status, 201, "{created}");

    wait_until("ci-perm at B", SETTLE, || b.get(0, CI_PERM).0 == 200);
    let (_, at_b) = b.get(0, CI_PERM);
    assert_eq!(at_b, created, "B holds A's document");
    let (status, art) = b.get(0, "/artifactory/api/v2/security/permissions/ci-perm");
    assert_eq!(status, 200, "{art}");
    // It grants at B: a CI token minted at B may write there.
    let token = token_of(&b.token(
        0,
        &[("username", "jenkins"), ("scope", "member-of-groups:CI")],
    ));
    let allowed = |token: &str| {
        let r = b
            .node(0)
            .get("/access/api/v1/permissions/check")
            .query(&[("path", "generic-local/a/b.jar"), ("action", "w")])
            .bearer_auth(token)
            .send()
            .unwrap();
        let (status, body) = json_of(r);
        assert_eq!(status, 200, "{body}");
        body["allowed"].as_bool().unwrap()
    };
    assert!(allowed(&token));
    wait_same_digest(&[&a, &b], SETTLE);

    // A user deleted at A leaves the target at B too (each site drops it on the delete).
    assert_eq!(a.delete(0, "/access/api/v2/users/bob").0, 204);
    wait_until("bob out of ci-perm at B", SETTLE, || {
        let (status, doc) = b.get(0, CI_PERM);
        status == 200
            && doc["resources"]["artifact"]["actions"]["users"]
                .get("bob")
                .is_none()
    });
    // A target made at B (Artifactory form) comes back to A.
    let (status, body) = b.call(
        0,
        reqwest::Method::PUT,
        "/artifactory/api/v2/security/permissions/b-perm",
        Some(&json!({"name": "b-perm", "repo": {
            "repositories": ["ANY REMOTE"],
            "actions": {"groups": {"CI": ["read"]}},
        }})),
    );
    assert_eq!(status, 201, "{body}");
    wait_until("b-perm at A", SETTLE, || {
        a.get(0, "/access/api/v2/permissions/b-perm").0 == 200
    });
    assert_eq!(
        a.get(0, "/access/api/v2/permissions/b-perm").1,
        b.get(0, "/access/api/v2/permissions/b-perm").1
    );
    assert_eq!(b.delete(0, "/access/api/v2/permissions/b-perm").0, 204);
    wait_until("b-perm gone at A", SETTLE, || {
        a.get(0, "/access/api/v2/permissions/b-perm").0 == 404
    });

    assert_eq!(a.delete(0, CI_PERM).0, 204);
    wait_until("ci-perm gone at B", SETTLE, || b.get(0, CI_PERM).0 == 404);
    assert!(!allowed(&token), "a deleted permission grants nothing at B");
    let (status, list) = b.get(0, "/access/api/v2/permissions");
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["permissions"], json!([]), "{list}");
    wait_same_digest(&[&a, &b], SETTLE);
}
