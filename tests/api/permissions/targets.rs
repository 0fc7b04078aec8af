//! Permission targets: CRUD in both forms, and bad input answered 400 naming the field.

use super::*;

#[test]
fn crud_in_both_forms_is_one_permission_target() {
    let node = TestNode::start();
    let admin = Admin::new(&node);
    admin.group("CI");
    admin.user("bob", "bob-secret-1", &[]);
    assert!(admin.names().is_empty(), "a fresh node has no permissions");

    // The contract's example, in the JFrog Access v2 form.
    let doc = json!({"name": "ci-perm", "resources": {"artifact": {
        "actions": {"users": {"bob": ["READ"]}, "groups": {"CI": ["READ", "WRITE", "ANNOTATE", "DELETE"]}},
        "targets": {"generic-local": {"include_patterns": ["**"], "exclude_patterns": ["secret/**"]}},
    }}});
    let created = admin.create(&doc);
    assert_eq!(created["name"], "ci-perm", "{created}");
    assert_eq!(
        sorted(&created["resources"]),
        sorted(&doc["resources"]),
        "{created}"
    );
    // 409 for the name, whether the document differs or is the very same one.
    let (status, body) = admin.post(V2, &group_perm("ci-perm", "other-local", "CI", &["READ"]));
    assert_eq!(status, 409, "same name, another document: {body}");
    let (status, body) = admin.post(V2, &doc);
    assert_eq!(status, 409, "the same document twice: {body}");
    assert_eq!(
        sorted(&admin.permission("ci-perm")["resources"]),
        sorted(&doc["resources"])
    );

    // Missing patterns default to include ["**"] and exclude [].
    let bare = json!({"name": "bare", "resources": {"artifact": {
        "actions": {"groups": {"CI": ["READ"]}},
        "targets": {"libs-local": {}},
    }}});
    let stored = admin.create(&bare);
    let target = &stored["resources"]["artifact"]["targets"]["libs-local"];
    assert_eq!(target["include_patterns"], json!(["**"]), "{stored}");
    assert_eq!(target["exclude_patterns"], json!([]), "{stored}");

    // The list, with uris.
    let (status, list) = admin.get(V2);
    assert_eq!(status, 200, "{list}");
    let entries = list["permissions"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{list}");
    assert!(
        entries.contains(&json!({"name": "ci-perm", "uri": "/access/api/v2/permissions/ci-perm"})),
        "{list}"
    );

    // Read through the Artifactory form: lowercase actions, one repositories list.
    let art = admin.art_permission("ci-perm");
    assert_eq!(art["name"], "ci-perm", "{art}");
    assert_eq!(
        sorted(&art["repo"]),
        sorted(&json!({
            "repositories": ["generic-local"],
            "include-patterns": ["**"],
            "exclude-patterns": ["secret/**"],
            "actions": {"users": {"bob": ["read"]}, "groups": {"CI": ["read", "write", "annotate", "delete"]}},
        })),
        "{art}"
    );

    // PUT in the JFrog form replaces (name optional; when given it must match).
    let replaced = json!({"resources": {"artifact": {
        "actions": {"groups": {"CI": ["READ", "MANAGE"]}},
        "targets": {"generic-local": {"include_patterns": ["org/**"], "exclude_patterns": []}},
    }}});
    let (status, body) = admin.put(&format!("{V2}/ci-perm"), &replaced);
    assert_eq!(status, 200, "{body}");
    let now = admin.permission("ci-perm");
    assert_eq!(now["name"], "ci-perm");
    assert_eq!(
        sorted(&now["resources"]),
        sorted(&replaced["resources"]),
        "{now}"
    );
    assert!(
        principals(&now, "users").is_empty(),
        "replace, not merge: {now}"
    );
    let mut renamed = replaced.clone();
    renamed["name"] = json!("other-name");
    let (status, body) = admin.put(&format!("{V2}/ci-perm"), &renamed);
    assert_400_naming(
        status,
        &body,
        &["name"],
        "PUT whose body names another permission",
    );
    assert_eq!(
        admin.names(),
        ["bare", "ci-perm"],
        "a refused PUT creates nothing"
    );

    // The Artifactory form: PUT creates (201), PUT again replaces (200), the JFrog form reads it.
    let art_doc = json!({"name": "art-perm", "repo": {
        "repositories": ["docker-local", "npm-remote"],
        "include-patterns": ["**"],
        "exclude-patterns": ["tmp/**"],
        "actions": {"users": {"bob": ["read", "write"]}, "groups": {"CI": ["read", "manage"]}},
    }});
    let (status, body) = admin.put(&format!("{ART}/art-perm"), &art_doc);
    assert_eq!(status, 201, "{body}");
    let (status, body) = admin.put(&format!("{ART}/art-perm"), &art_doc);
    assert_eq!(status, 200, "{body}");
    let as_v2 = admin.permission("art-perm");
    assert_eq!(
        sorted(&as_v2["resources"]["artifact"]),
        sorted(&json!({
            "actions": {"users": {"bob": ["READ", "WRITE"]}, "groups": {"CI": ["READ", "MANAGE"]}},
            "targets": {
                "docker-local": {"include_patterns": ["**"], "exclude_patterns": ["tmp/**"]},
                "npm-remote": {"include_patterns": ["**"], "exclude_patterns": ["tmp/**"]},
            },
        })),
        "{as_v2}"
    );
    assert_eq!(
        sorted(&admin.art_permission("art-perm")["repo"]),
        sorted(&art_doc["repo"])
    );
    assert_eq!(admin.names(), ["art-perm", "bare", "ci-perm"]);
    // Artifactory's list, and the Access routes under /artifactory/access as every Access route.
    let (status, list) = admin.get(ART);
    assert_eq!(status, 200, "{list}");
    let mut listed: Vec<&str> = list
        .as_array()
        .unwrap_or_else(|| panic!("Artifactory lists permissions as an array: {list}"))
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    listed.sort();
    assert_eq!(listed, ["art-perm", "bare", "ci-perm"], "{list}");
    let (status, body) = admin.get("/artifactory/access/api/v2/permissions/art-perm");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, as_v2);

    // The other JFrog action names are accepted and stored; Xray and distribution ones have
    // Artifactory names too.
    let extras = group_perm(
        "extras",
        "generic-local",
        "CI",
        &["READ", "EXECUTE", "MANAGED_XRAY_META", "DISTRIBUTE", "SCAN"],
    );
    admin.create(&extras);
    assert_eq!(
        sorted(&admin.permission("extras")["resources"]),
        sorted(&extras["resources"])
    );
    let xray = group_perm(
        "xray",
        "generic-local",
        "CI",
        &["READ", "MANAGED_XRAY_META", "DISTRIBUTE"],
    );
    admin.create(&xray);
    assert_eq!(
        sorted(&admin.art_permission("xray")["repo"]["actions"]["groups"]["CI"]),
        json!(["distribute", "managedXrayMeta", "read"])
    );
    // The other resource types are stored (only artifact is used by the check).
    let other_types = json!({"name": "builds", "resources": {
        "build": {"actions": {"groups": {"CI": ["READ"]}}, "targets": {"artifactory-build-info": {"include_patterns": ["**"], "exclude_patterns": []}}},
        "release_bundle": {"actions": {"groups": {"CI": ["READ"]}}, "targets": {"release-bundles": {"include_patterns": ["**"], "exclude_patterns": []}}},
        "destination": {"actions": {"groups": {"CI": ["READ"]}}, "targets": {"ANY": {"include_patterns": ["**"], "exclude_patterns": []}}},
    }});
    let stored = admin.create(&other_types);
    assert_eq!(
        sorted(&stored["resources"]),
        sorted(&other_types["resources"]),
        "{stored}"
    );

    // Deletes: either form, 204 then 404.
    assert_eq!(admin.delete(&format!("{ART}/art-perm")), 204);
    assert_eq!(admin.get(&format!("{V2}/art-perm")).0, 404);
    assert_eq!(admin.get(&format!("{ART}/art-perm")).0, 404);
    assert_eq!(admin.delete(&format!("{V2}/ci-perm")), 204);
    assert_eq!(admin.delete(&format!("{V2}/ci-perm")), 404);
    assert_eq!(admin.delete(&format!("{ART}/ci-perm")), 404);
    let (status, body) = admin.get(&format!("{V2}/ci-perm"));
    assert_eq!((status, error_code(&body)), (404, "NOT_FOUND"), "{body}");
    assert_eq!(admin.names(), ["bare", "builds", "extras", "xray"]);
    // A deleted name can be created again.
    admin.create(&doc);

    // Admin only: a plain user gets 403, no credentials 401.
    for (rb, want) in [
        (node.get(V2).basic_auth("bob", Some("bob-secret-1")), 403),
        (
            node.get(&format!("{ART}/ci-perm"))
                .basic_auth("bob", Some("bob-secret-1")),
            403,
        ),
        (
            node.post(V2)
                .basic_auth("bob", Some("bob-secret-1"))
                .json(&group_perm("mine", "x-local", "CI", &["READ"])),
            403,
        ),
        (node.get(V2), 401),
        (node.delete(&format!("{V2}/ci-perm")), 401),
    ] {
        let (status, body) = json_of(rb.send().unwrap());
        assert_eq!(status, want, "{body}");
    }
    assert_eq!(
        admin.names(),
        ["bare", "builds", "ci-perm", "extras", "xray"]
    );
}

#[test]
fn bad_input_is_400_naming_the_field() {
    let node = TestNode::start();
    let admin = Admin::new(&node);
    admin.group("CI");
    admin.user("bob", "bob-secret-1", &["CI"]);
    let ok = group_perm("ok", "generic-local", "CI", &["READ"]);
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut doc = ok.clone();
        edit(&mut doc);
        doc
    };
    let target = |patterns: Value| {
        move |d: &mut Value| {
            d["resources"]["artifact"]["targets"]["generic-local"] = patterns.clone();
        }
    };
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "unknown action",
            with(&|d| {
                d["resources"]["artifact"]["actions"]["groups"]["CI"] = json!(["READ", "FLY"])
            }),
            &["FLY", "action"],
        ),
        (
            "unknown resource type",
            with(&|d| d["resources"]["pipelines"] = d["resources"]["artifact"].clone()),
            &["pipelines", "resource"],
        ),
        (
            "empty include pattern",
            with(&target(json!({"include_patterns": [""]}))),
            &["pattern"],
        ),
        (
            "include pattern with ..",
            with(&target(json!({"include_patterns": ["../etc/**"]}))),
            &["pattern", ".."],
        ),
        (
            "exclude pattern with ..",
            with(&target(
                json!({"include_patterns": ["**"], "exclude_patterns": ["a/../b/**"]}),
            )),
            &["pattern", ".."],
        ),
        (
            "unknown user",
            with(&|d| {
                d["resources"]["artifact"]["actions"]["users"] = json!({"nosuchuser": ["READ"]})
            }),
            &["nosuchuser", "user"],
        ),
        (
            "unknown group",
            with(&|d| {
                d["resources"]["artifact"]["actions"]["groups"] = json!({"nosuchgroup": ["READ"]})
            }),
            &["nosuchgroup", "group"],
        ),
        (
            "user name breaking the name rules",
            with(&|d| {
                d["resources"]["artifact"]["actions"]["users"] = json!({"bad name": ["READ"]})
            }),
            &["bad name", "user"],
        ),
        (
            "name with a space",
            with(&|d| d["name"] = json!("bad name")),
            &["name"],
        ),
        (
            "name starting with a dot",
            with(&|d| d["name"] = json!(".hidden")),
            &["name"],
        ),
        ("empty name", with(&|d| d["name"] = json!("")), &["name"]),
        (
            "no name",
            with(&|d| {
                d.as_object_mut().unwrap().remove("name");
            }),
            &["name"],
        ),
        (
            "name not a string",
            with(&|d| d["name"] = json!(42)),
            &["name"],
        ),
        (
            "unknown field",
            with(&|d| d["colour"] = json!("blue")),
            &["colour"],
        ),
        (
            "actions not a list",
            with(&|d| d["resources"]["artifact"]["actions"]["groups"]["CI"] = json!("READ")),
            &["actions", "CI", "groups"],
        ),
    ];
    for (what, doc, needles) in &cases {
        let (status, body) = admin.post(V2, doc);
        assert_400_naming(status, &body, needles, what);
    }

    // The Artifactory form is checked the same way.
    let art_ok = json!({"name": "art", "repo": {
        "repositories": ["generic-local"],
        "actions": {"groups": {"CI": ["read"]}},
    }});
    let art_with = |edit: &dyn Fn(&mut Value)| {
        let mut doc = art_ok.clone();
        edit(&mut doc);
        doc
    };
    let art_cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "unknown action",
            art_with(&|d| d["repo"]["actions"]["groups"]["CI"] = json!(["read", "fly"])),
            &["fly", "action"],
        ),
        (
            "unknown user",
            art_with(&|d| d["repo"]["actions"]["users"] = json!({"nosuchuser": ["read"]})),
            &["nosuchuser", "user"],
        ),
        (
            "unknown group",
            art_with(&|d| d["repo"]["actions"]["groups"] = json!({"nosuchgroup": ["read"]})),
            &["nosuchgroup", "group"],
        ),
        (
            "empty pattern",
            art_with(&|d| d["repo"]["include-patterns"] = json!([""])),
            &["pattern"],
        ),
        (
            "pattern with ..",
            art_with(&|d| d["repo"]["exclude-patterns"] = json!(["x/../y"])),
            &["pattern", ".."],
        ),
    ];
    for (what, doc, needles) in &art_cases {
        let (status, body) = admin.put(&format!("{ART}/art"), doc);
        assert_400_naming(status, &body, needles, &format!("Artifactory form: {what}"));
    }
    let (status, body) = admin.put(
        &format!("{ART}/.hidden"),
        &art_with(&|d| d["name"] = json!(".hidden")),
    );
    assert_400_naming(
        status,
        &body,
        &["name"],
        "Artifactory form: name starting with a dot",
    );

    // Not JSON at all.
    let (status, body) = json_of(
        node.post(V2)
            .bearer_auth(&admin.bearer)
            .header("content-type", "application/json")
            .body("{\"name\": ")
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400, "{body}");

    // A huge document (> 64 KiB): refused whole, 400 or 413.
    let patterns: Vec<String> = (0..3000)
        .map(|i| format!("some/rather/long/pattern/segment-{i:05}/**"))
        .collect();
    let huge = with(&target(json!({"include_patterns": patterns})));
    assert!(huge.to_string().len() > 64 * 1024);
    let (status, body) = admin.post(V2, &huge);
    assert!(
        status == 400 || status == 413,
        "huge document: {status} {body}"
    );

    // Nothing was stored, and the node is fine.
    assert!(admin.names().is_empty(), "{:?}", admin.names());
    admin.create(&ok);
    assert_eq!(admin.names(), ["ok"]);
    assert_eq!(node.get("/healthz").send().unwrap().status(), 200);
}
