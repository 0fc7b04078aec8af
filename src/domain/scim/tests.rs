use scim_v2::models::others::PatchOp;
use serde_json::{json, Value};

use super::filter::{matches, parse};
use super::patch::apply;

fn bjensen() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "bjensen-ext",
        "userName": "bjensen@example.com",
        "displayName": "Babs Jensen",
        "active": true,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "meta": {"version": "W/\"3\""},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tour Operations"},
    })
}

fn selects(filter: &str) -> bool {
    matches(&parse(filter).unwrap(), &bjensen())
}

#[test]
fn filters_select_by_the_rfc_operators() {
    // userName is case-insensitive; id and externalId are case-exact.
    assert!(selects(r#"userName eq "BJENSEN@example.com""#));
    assert!(selects(r#"externalId eq "bjensen-ext""#));
    assert!(!selects(r#"externalId eq "BJENSEN-EXT""#));
    assert!(selects(r#"id eq "2819c223-7f76-453a-919d-413861904646""#));
    assert!(selects(r#"displayName co "jen""#));
    assert!(selects(r#"userName sw "bjen""#));
    assert!(selects(r#"userName ew "example.com""#));
    assert!(selects("name.familyName pr"));
    assert!(!selects("nickName pr"));
    assert!(selects("active eq true"));
    assert!(!selects("active eq false"));
    assert!(selects("nickName eq null"));
    assert!(selects(r#"nickName ne "x""#));
    assert!(selects(r#"meta.version eq "W/\"3\"""#));
    // Multi-valued: any element; a complex attribute without a sub-attribute reads `value`.
    assert!(selects(r#"emails.value eq "babs@jensen.org""#));
    assert!(selects(r#"emails co "jensen.org""#));
    assert!(selects(
        r#"emails[type eq "work" and value co "@example.com"]"#
    ));
    assert!(!selects(
        r#"emails[type eq "home" and value co "@example.com"]"#
    ));
    // Logic, precedence and grouping.
    assert!(selects(
        r#"userName eq "x" or active eq true and displayName pr"#
    ));
    assert!(!selects(
        r#"(userName eq "x" or active eq true) and nickName pr"#
    ));
    assert!(selects(r#"not (userName eq "x")"#));
    // An extension's attribute by its full path.
    assert!(selects(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Tour Operations""#
    ));
    // Types never cross: a number is not a string.
    assert!(!selects(r#"active eq "true""#));
}

#[test]
fn bad_filters_are_invalid_filter() {
    for bad in [
        "userName eq",
        "userName xx \"a\"",
        "(userName pr",
        "",
        &"a".repeat(5000),
    ] {
        let e = parse(bad).unwrap_err();
        assert_eq!(e.scim_type, "invalidFilter", "{bad:?}");
    }
    // Deep nesting is refused by the parser, not by our stack.
    let deep = format!("{}title pr{}", "not (".repeat(200), ")".repeat(200));
    assert_eq!(parse(&deep).unwrap_err().scim_type, "invalidFilter");
}

fn patch(resource: &Value, body: Value) -> Result<Value, super::ScimError> {
    let op: PatchOp = serde_json::from_value(body).unwrap();
    apply(resource, &op.operations)
}

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[test]
fn okta_deactivates_replaces_and_pushes_group_members() {
    // Okta: replace without a path, a map of attributes.
    let out = patch(
        &bjensen(),
        json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]}),
    )
    .unwrap();
    assert_eq!(out["active"], false);
    // Group push: members added and removed by filter.
    let group = json!({"displayName": "eng", "members": [{"value": "u1"}]});
    let out = patch(
        &group,
        json!({"schemas": [PATCH], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": "u2"}, {"value": "u1"}]},
            {"op": "remove", "path": "members[value eq \"u1\"]"}
        ]}),
    )
    .unwrap();
    assert_eq!(out["members"], json!([{"value": "u2"}]));
    // Removing a member that is not there names no target.
    let e = patch(
        &group,
        json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": "members[value eq \"nobody\"]"}]}),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, "noTarget");
}

#[test]
fn entra_patches_with_capitalised_ops_and_paths_as_keys() {
    let out = patch(
        &bjensen(),
        json!({"schemas": [PATCH], "Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "barbara@example.com"},
            {"op": "Replace", "value": {"name.givenName": "Babs", "externalId": "e-42", "displayName": "B J"}},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"},
            {"op": "Remove", "path": "name.familyName"}
        ]}),
    )
    .unwrap();
    assert_eq!(out["emails"][0]["value"], "barbara@example.com");
    assert_eq!(out["emails"][1]["value"], "babs@jensen.org");
    assert_eq!(out["name"], json!({"givenName": "Babs"}));
    assert_eq!(out["externalId"], "e-42");
    assert_eq!(out["displayName"], "B J");
    assert_eq!(
        out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Sales"
    );
    // Entra removes members by value, with a path and a list.
    let group = json!({"displayName": "eng", "members": [{"value": "u1"}, {"value": "u2"}]});
    let out = patch(
        &group,
        json!({"schemas": [PATCH], "Operations": [
            {"op": "Remove", "path": "members", "value": [{"value": "u1"}]}
        ]}),
    )
    .unwrap();
    assert_eq!(out["members"], json!([{"value": "u2"}]));
}

#[test]
fn a_failing_operation_leaves_the_resource_as_it_was() {
    let before = bjensen();
    let e = patch(
        &before,
        json!({"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "displayName", "value": "changed"},
            {"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x"}
        ]}),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, "noTarget");
    assert_eq!(before["displayName"], "Babs Jensen");
}

proptest::proptest! {
    /// `and`, `or` and `not` combine as boolean logic, and string operators agree with plain
    /// case-insensitive string tests, whatever the values.
    #[test]
    fn filters_combine_as_logic_and_agree_with_string_tests(
        name in "[a-zA-Z]{1,6}", probe in "[a-zA-Z]{1,3}", active: bool,
    ) {
        let user = json!({"userName": name, "active": active});
        let sel = |f: &str| matches(&parse(f).unwrap(), &user);
        let (n, p) = (name.to_lowercase(), probe.to_lowercase());
        let eq = format!(r#"userName eq "{probe}""#);
        let sw = format!(r#"userName sw "{probe}""#);
        let co = format!(r#"userName co "{probe}""#);
        proptest::prop_assert_eq!(sel(&eq), n == p);
        proptest::prop_assert_eq!(sel(&sw), n.starts_with(&p));
        proptest::prop_assert_eq!(sel(&co), n.contains(&p));
        let act = format!("active eq {active}");
        proptest::prop_assert!(sel(&act));
        proptest::prop_assert_eq!(sel(&format!("{co} and {act}")), sel(&co));
        proptest::prop_assert_eq!(sel(&format!("{co} or not ({act})")), sel(&co));
        proptest::prop_assert_eq!(sel(&format!("not ({sw})")), !sel(&sw));
    }
}
