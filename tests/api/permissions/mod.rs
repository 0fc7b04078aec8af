//! Permission targets on one node: CRUD in the JFrog Access v2 form and the Artifactory v2
//! form (one target, readable through either), bad input, and the permission check for every
//! kind of token (seed 002's group flow, `applied-permissions/user`, `groups:`, `artifact:`
//! scopes, admin), exclude patterns, the ANY repository keys, and deletes of users and groups.
//! The tests: `targets` (CRUD and bad input), `checks` (what each kind of token may do),
//! `removal` (deleted holders, a restart).

mod checks;
mod removal;
mod targets;

use super::*;

use reqwest::Method;

const V2: &str = "/access/api/v2/permissions";
const ART: &str = "/artifactory/api/v2/security/permissions";
const CHECK: &str = "/access/api/v1/permissions/check";

/// Admin calls on one node with an admin bearer (Basic auth costs an argon2 hash per call).
struct Admin<'a> {
    node: &'a TestNode,
    bearer: String,
}

impl<'a> Admin<'a> {
    fn new(node: &'a TestNode) -> Self {
        Admin {
            node,
            bearer: node.admin_bearer(),
        }
    }

    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut rb = self
            .node
            .client
            .request(method, self.node.url(path))
            .bearer_auth(&self.bearer);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        json_of(rb.send().unwrap())
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None)
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body))
    }

    fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(body))
    }

    fn delete(&self, path: &str) -> u16 {
        self.call(Method::DELETE, path, None).0
    }

    fn group(&self, name: &str) {
        let (status, body) = self.post("/access/api/v2/groups", &json!({ "name": name }));
        assert_eq!(status, 201, "create group {name}: {body}");
    }

    fn user(&self, name: &str, password: &str, groups: &[&str]) {
        let (status, body) = self.post(
            "/access/api/v2/users",
            &json!({"username": name, "password": password, "groups": groups}),
        );
        assert_eq!(status, 201, "create user {name}: {body}");
    }

    /// POST in the JFrog v2 form; panics unless 201; answers the stored document.
    fn create(&self, doc: &Value) -> Value {
        let (status, body) = self.post(V2, doc);
        assert_eq!(status, 201, "create permission {}: {body}", doc["name"]);
        body
    }

    /// `GET /access/api/v2/permissions/{name}`; panics unless 200.
    fn permission(&self, name: &str) -> Value {
        let (status, body) = self.get(&format!("{V2}/{name}"));
        assert_eq!(status, 200, "GET permission {name}: {body}");
        body
    }

    /// `GET /artifactory/api/v2/security/permissions/{name}`; panics unless 200.
    fn art_permission(&self, name: &str) -> Value {
        let (status, body) = self.get(&format!("{ART}/{name}"));
        assert_eq!(
            status, 200,
            "GET (Artifactory form) permission {name}: {body}"
        );
        body
    }

    /// Permission names in `GET /access/api/v2/permissions`.
    fn names(&self) -> Vec<String> {
        let (status, body) = self.get(V2);
        assert_eq!(status, 200, "{body}");
        let mut names: Vec<String> = body["permissions"]
            .as_array()
            .unwrap_or_else(|| panic!("no permissions list: {body}"))
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }
}

/// A JFrog v2 document granting `actions` on `repo` (include `**`) to one group.
fn group_perm(name: &str, repo: &str, group: &str, actions: &[&str]) -> Value {
    json!({
        "name": name,
        "resources": {"artifact": {
            "actions": {"groups": {group: actions}},
            "targets": {repo: {"include_patterns": ["**"], "exclude_patterns": []}},
        }},
    })
}

/// The same value with every array of strings sorted (servers may store sets in any order) and
/// empty maps left out (`"users": {}` and no `users` say the same).
fn sorted(v: &Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(sorted).collect();
            if items.iter().all(Value::is_string) {
                items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
            Value::Array(items)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.as_object().is_some_and(|m| m.is_empty()))
                .map(|(k, v)| (k.clone(), sorted(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Names holding actions in a document's `actions.users` or `actions.groups` (JFrog v2 form),
/// an absent map counting as empty.
fn principals(doc: &Value, kind: &str) -> Vec<String> {
    let mut names: Vec<String> = doc["resources"]["artifact"]["actions"][kind]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// The same in the Artifactory form (`repo.actions.users|groups`).
fn art_principals(doc: &Value, kind: &str) -> Vec<String> {
    let mut names: Vec<String> = doc["repo"]["actions"][kind]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// The check's answer for `rb` (already authenticated); panics unless 200.
fn check_with(rb: reqwest::blocking::RequestBuilder, path: &str, action: &str) -> Value {
    let (status, body) = json_of(
        rb.query(&[("path", path), ("action", action)])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "check {path} {action}: {body}");
    assert!(
        body["allowed"].is_boolean(),
        "check {path} {action}: {body}"
    );
    body
}

fn check(node: &TestNode, token: &str, path: &str, action: &str) -> Value {
    check_with(node.get(CHECK).bearer_auth(token), path, action)
}

/// Assert the check says `want` for `token`, and answers `granted_by` null when denied.
fn expect(node: &TestNode, token: &str, path: &str, action: &str, want: bool) -> Value {
    let body = check(node, token, path, action);
    assert_eq!(
        body["allowed"],
        want,
        "{action} on {path} should be {}: {body}",
        if want { "allowed" } else { "denied" }
    );
    if !want {
        assert_eq!(
            body["granted_by"],
            Value::Null,
            "denied, yet granted_by: {body}"
        );
    }
    body
}

/// Assert a 400 whose message names one of `needles` (case-insensitive).
fn assert_400_naming(status: u16, body: &Value, needles: &[&str], what: &str) {
    assert_eq!(status, 400, "{what}: {body}");
    let message = body["errors"][0]["message"]
        .as_str()
        .unwrap_or("")
        .to_lowercase();
    assert!(
        needles.iter().any(|n| message.contains(&n.to_lowercase())),
        "{what}: the message should name {needles:?}: {body}"
    );
}
