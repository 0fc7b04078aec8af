//! Our records as SCIM resources and back, listing, projection, and who may provision.

use serde_json::{json, Value};

use super::list::{list_response, Page, MAX_RESULTS};
use super::resource::{
    group_name_for, group_resource, project, user_input, user_resource, version,
};
use super::{may_provision, ScimError};
use crate::domain::accounts::{GroupRecord, ScimGroup, ScimUser, UserRecord};
use crate::domain::names::valid_name;
use crate::domain::policy::{Credential, Principal};
use crate::domain::scope::Scope;

const BASE: &str = "https://access.example.com/access/api/v1/scim/v2";

fn dana() -> UserRecord {
    UserRecord {
        username: "dana@example.com".into(),
        password_hash: Some("$argon2id$secret".into()),
        email: Some("dana@example.com".into()),
        admin: false,
        groups: vec!["readers".into()],
        created_at: 1_700_000_000,
        disabled: false,
        scim: None,
    }
}

fn invalid(body: Value) -> ScimError {
    user_input(&body).unwrap_err()
}

#[test]
fn a_user_reads_back_as_what_it_was_written_with() {
    let body = json!({
        "userName": "dana@example.com", "externalId": "00u1", "displayName": "Dana",
        "name": {"givenName": "Dana", "familyName": "Scully"},
        "emails": [{"value": "d@x.org", "type": "home"}, {"value": "dana@example.com", "type": "work", "primary": true}],
        "active": "False", "roles": [{"value": "ignored"}],
    });
    let input = user_input(&body).unwrap();
    assert_eq!(input.active, Some(false), "Entra's string booleans");
    assert_eq!(input.primary_email().as_deref(), Some("dana@example.com"));
    let user = UserRecord {
        scim: Some(ScimUser {
            external_id: input.external_id.clone(),
            display_name: input.display_name.clone(),
            name: input.name.clone(),
            emails: input.emails.clone(),
            updated_ms: 1_700_000_001_000,
        }),
        disabled: true,
        ..dana()
    };
    let resource = user_resource(&user, BASE);
    assert_eq!(resource["id"], "dana@example.com");
    assert_eq!(resource["active"], false);
    assert_eq!(resource["groups"][0]["value"], "readers");
    assert_eq!(
        resource["meta"]["location"],
        format!("{BASE}/Users/dana@example.com")
    );
    assert!(resource.get("password").is_none() && !resource.to_string().contains("argon2"));
    let again = user_input(&resource).unwrap();
    assert_eq!(
        (again.external_id, again.name, again.emails, again.active),
        (input.external_id, input.name, input.emails, Some(false))
    );
}

#[test]
fn the_version_follows_what_a_client_can_read() {
    let v = |u: &UserRecord| version(&user_resource(u, BASE)).unwrap().to_string();
    let base = v(&dana());
    assert!(base.starts_with("W/\""), "{base}");
    assert_eq!(base, v(&dana()), "stable");
    assert_ne!(
        base,
        v(&UserRecord {
            disabled: true,
            ..dana()
        })
    );
    assert_ne!(
        base,
        v(&UserRecord {
            groups: vec![],
            ..dana()
        })
    );
    assert_eq!(
        base,
        v(&UserRecord {
            password_hash: None,
            ..dana()
        }),
        "the password is never read"
    );
}

#[test]
fn bad_users_are_refused_with_invalid_value() {
    for body in [
        json!({}),
        json!({"userName": ""}),
        json!({"userName": "has space"}),
        json!({"userName": ".hidden"}),
        json!({"userName": 7}),
        json!({"userName": "x", "emails": [{"value": "not-an-address"}]}),
        json!({"userName": "x", "emails": [{"value": "a@b", "primary": true}, {"value": "c@d", "primary": true}]}),
        json!({"userName": "x", "emails": (0..17).map(|i| json!({"value": format!("u{i}@x")})).collect::<Vec<_>>()}),
        json!({"userName": "x", "displayName": "x".repeat(257)}),
        json!({"userName": "x", "displayName": "bell\u{7}"}),
        json!({"userName": "x", "active": "maybe"}),
        json!({"userName": "x", "password": "short"}),
        json!({"userName": "x", "name": "Dana"}),
    ] {
        assert_eq!(invalid(body.clone()).scim_type, "invalidValue", "{body}");
    }
    assert_eq!(invalid(json!([1])).scim_type, "invalidSyntax");
}

#[test]
fn group_ids_are_names_made_from_display_names() {
    let none = |_: &str| false;
    assert_eq!(group_name_for("readers", none), "readers");
    assert_eq!(group_name_for("Engineering Team", none), "Engineering-Team");
    assert_eq!(group_name_for("  R&D / EU  ", none), "R-D-EU");
    assert_eq!(group_name_for("Équipe", none), "quipe");
    assert_eq!(group_name_for("!!!", none), "group");
    let taken = |n: &str| ["Engineering-Team", "Engineering-Team-2"].contains(&n);
    assert_eq!(
        group_name_for("Engineering Team", taken),
        "Engineering-Team-3"
    );
    let group = GroupRecord {
        name: "Engineering-Team".into(),
        description: None,
        created_at: 1,
        scim: Some(ScimGroup {
            display_name: "Engineering Team".into(),
            external_id: Some("g1".into()),
            updated_ms: 2_000,
        }),
    };
    let r = group_resource(&group, &["bob".into()], BASE);
    assert_eq!(
        (r["id"].as_str(), r["displayName"].as_str()),
        (Some("Engineering-Team"), Some("Engineering Team"))
    );
    assert_eq!(
        r["members"],
        json!([{"value": "bob", "$ref": format!("{BASE}/Users/bob"), "type": "User"}])
    );
}

#[test]
fn listing_pages_and_projects() {
    let resources: Vec<Value> = (1..=5)
        .map(|i| json!({"id": format!("u{i}"), "userName": format!("u{i}")}))
        .collect();
    let page = list_response(resources.clone(), None, Page::new(Some(2), Some(2)));
    assert_eq!((page.total, page.start_index), (5, 2));
    assert_eq!(
        page.items
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["u2", "u3"]
    );
    assert_eq!(
        Page::new(Some(0), Some(-3)),
        Page {
            start_index: 1,
            count: 0
        }
    );
    assert_eq!(Page::new(None, Some(1_000_000)).count, MAX_RESULTS);
    assert!(list_response(resources, None, Page::new(Some(9), None))
        .items
        .is_empty());
    let full = user_resource(&dana(), BASE);
    let only = project(full.clone(), &["userName".into()], &[]);
    let mut keys: Vec<&String> = only.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["id", "schemas", "userName"]);
    let without = project(
        full,
        &[],
        &[
            "groups".into(),
            "urn:ietf:params:scim:schemas:core:2.0:User:emails".into(),
        ],
    );
    assert!(
        without.get("groups").is_none()
            && without.get("emails").is_none()
            && without.get("userName").is_some()
    );
}

fn caller(admin: bool, credential: Credential) -> Principal {
    Principal {
        username: "okta".into(),
        admin,
        groups: Vec::new(),
        token_id: None,
        scope: None,
        credential,
    }
}

fn token(scope: &str) -> Credential {
    Credential::LocalToken {
        scope: Scope::parse(scope).unwrap(),
        expiry: None,
    }
}

#[test]
fn provisioning_takes_an_admin_or_a_scim_scoped_token_of_this_cluster() {
    assert!(may_provision(&caller(true, Credential::Password), true));
    assert!(!may_provision(&caller(false, Credential::Password), false));
    assert!(may_provision(
        &caller(true, token("applied-permissions/admin")),
        true
    ));
    assert!(may_provision(&caller(false, token("system:scim:rw")), true));
    assert!(may_provision(&caller(false, token("system:scim:r")), false));
    assert!(!may_provision(&caller(false, token("system:scim:r")), true));
    assert!(
        !may_provision(&caller(false, token("system:scim:w")), false),
        "writing without reading"
    );
    assert!(!may_provision(
        &caller(false, token("system:metrics:r")),
        false
    ));
    assert!(!may_provision(
        &caller(false, token("applied-permissions/user")),
        false
    ));
    let foreign = Credential::ForeignToken {
        issuer: "jfac@other".into(),
    };
    assert!(
        !may_provision(&caller(true, foreign), false),
        "a trusted cluster's admin"
    );
}

proptest::proptest! {
    /// Whatever an identity provider names a group, its id is one of our names.
    #[test]
    fn every_display_name_makes_a_valid_group_name(display in "\\PC{0,80}") {
        let name = group_name_for(&display, |_| false);
        proptest::prop_assert!(valid_name(&name), "{display:?} -> {name:?}");
    }
}
