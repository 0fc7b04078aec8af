//! The OpenAPI document: it matches the live router, and a schema-driven fuzz run
//! (schemathesis, installed by scripts/test) finds no 5xx and no answer off its schema.

use super::*;
use std::process::{Command, Output};

/// Every documented path answers a method it does not serve with 405 and an `Allow` header
/// naming exactly the documented methods: the document and the router agree.
#[test]
fn the_document_lists_exactly_what_the_router_serves() {
    let node = TestNode::start();
    let (status, doc) = json_of(client().get(node.url("/openapi.json")).send().unwrap());
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let same = json_of(
        client()
            .get(node.url("/access/api/v1/openapi.json"))
            .send()
            .unwrap(),
    )
    .1;
    assert_eq!(same, doc);
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 60, "{} paths", paths.len());
    for (path, item) in paths {
        let mut documented: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_ascii_uppercase())
            .collect();
        documented.sort();
        let concrete = path
            .replace("{id}", "x")
            .replace("{name}", "x")
            .replace("{repo}", "x");
        let r = client()
            .request(reqwest::Method::OPTIONS, node.url(&concrete))
            .send()
            .unwrap();
        assert_eq!(r.status(), 405, "OPTIONS {path}");
        let allow = r.headers()["allow"].to_str().unwrap().to_string();
        let mut served: Vec<String> = allow.split(", ").map(str::to_string).collect();
        served.sort();
        assert_eq!(served, documented, "{path}");
    }
    // What each operation declares, for a few that clients depend on.
    let create = &doc["paths"]["/access/api/v1/tokens"]["post"];
    assert_eq!(
        create["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/IssuedToken"
    );
    assert!(create["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());
    let required = &doc["components"]["schemas"]["IssuedToken"]["required"];
    assert!(required
        .as_array()
        .unwrap()
        .contains(&json!("access_token")));
    assert!(doc["paths"]["/v2/token"]["get"].is_object());
    assert!(doc["paths"].get("/_cluster/write").is_none());
}

/// Operations left out of the fuzz run, by operation id (method and path): restore, key reset
/// and member removal would take the node out from under the run; the site-to-site messages
/// take only a trusted site's signature, and validate_server, federation creates and changes
/// and trusted certificates need another cluster. Each has its own tests. The
/// `/artifactory/access` copy of the Access API mounts the same handlers as `/access`.
const NOT_FUZZED: &str = "(system_restore|cert_root_reset|cluster_members__id_\
                          |system_federation__(events|hello|sync)|validate_server)$\
                          |^post_.*cert_trusted$|^(post|patch)_.*system_federation(__name_)?$\
                          |^[a-z]+_artifactory_access_";

/// Revoking every token of a user (`DELETE /access/api/v1/tokens`).
const REVOKES_THE_RUNS_TOKEN: &str = "^delete_access_api_v1_tokens$";

/// One schemathesis run against `node`, with `auth` and operation selection `select`: its
/// output and its JSON report.
fn schemathesis(node: &TestNode, auth: &[&str], select: &[&str]) -> (Output, Value) {
    let reports = tempfile::tempdir().unwrap();
    let report = reports.path().join("report.json");
    let out = Command::new(venv_tool("schemathesis"))
        .args(["run", &node.url("/openapi.json")])
        .args(auth)
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance,\
             unsupported_method,allow_header_conformance",
        ])
        .args(select)
        .args([
            "--max-examples",
            "10",
            // One worker: two threads of CPython 3.11's ast.parse (hypothesis describing its
            // strategies) can fail with "AST constructor recursion depth mismatch".
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--no-color",
            "--report",
            "json",
            "--report-json-path",
            report.to_str().unwrap(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("run schemathesis (scripts/test installs it): {e}"));
    let report = std::fs::read(&report).unwrap_or_default();
    (out, serde_json::from_slice(&report).unwrap_or(Value::Null))
}

/// The request schemas say what the handlers accept, so schemathesis's generated data is
/// mostly served: no operation is reported as "mostly rejected" (`validation_mismatch`), and
/// the stateful phase follows the document's links from creates to reads and deletes. The
/// document is fuzzed in two halves on two nodes at once (schemathesis runs on one core): the
/// `/access/api/v1` operations, and the rest.
#[test]
fn schema_driven_fuzzing_of_the_v1_api_finds_no_server_error_and_no_answer_off_schema() {
    // Every operation outside `/access/api/v1/` is left to the other half.
    fuzz_half("^(?!.*_access_api_v1_)", 30, true);
}

#[test]
fn schema_driven_fuzzing_of_the_rest_finds_no_server_error_and_no_answer_off_schema() {
    fuzz_half("_access_api_v1_", 15, false);
}

/// One half: every operation but those `skip` matches (by operation id), NOT_FUZZED and the
/// revoke-by-user (fuzzed on its own first when `revoke_first`); at least `min_tested` of them.
fn fuzz_half(skip: &str, min_tested: u64, revoke_first: bool) {
    // The run's generated wrong passwords (password changes, registry logins) must not lock
    // out the address the whole run comes from.
    let node = TestNode::start_with(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        ("ACCESS_NODE_SECURITY_LOCK_AFTER_FAILED_LOGINS", "1000000"),
        (
            "ACCESS_NODE_SECURITY_LOCK_AFTER_FAILED_LOGINS_PER_ADDRESS",
            "1000000",
        ),
    ]);
    // Revoking all of a user's tokens is fuzzed on its own, first, with the admin's password:
    // in the main run it would cut off the run's own token.
    if revoke_first {
        let (out, _) = schemathesis(
            &node,
            &["--auth", &format!("admin:{ADMIN_PASSWORD}")],
            &[
                "--include-operation-id-regex",
                REVOKES_THE_RUNS_TOKEN,
                // It has no links of its own to follow.
                "--phases",
                "coverage,fuzzing",
            ],
        );
        assert!(
            out.status.success(),
            "schemathesis found problems:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // The main run authenticates with a bearer token, not the password: Basic auth costs an
    // argon2 hash per request, most of a run's time. It is the bootstrap admin's, who cannot
    // be deleted or demoted, and not revocable by id.
    let bearer = token_of(&node.admin_token(&[
        ("scope", "applied-permissions/admin"),
        ("expires_in", "7200"),
    ]));
    let started = std::time::Instant::now();
    let (out, report) = schemathesis(
        &node,
        &["--header", &format!("Authorization: Bearer {bearer}")],
        &[
            "--exclude-operation-id-regex",
            &format!("{skip}|{NOT_FUZZED}|{REVOKES_THE_RUNS_TOKEN}"),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("schemathesis ran {:?}", started.elapsed());
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
    // Every operation that takes the run's token answered it with more than 401/403 at least
    // once. Those the document marks as taking no credentials carry theirs in the body (the
    // Docker registry login's password, a password change's old password, the OIDC exchange's
    // ID token), which generated data rarely gets right: they may answer only 401.
    let doc: Value = client()
        .get(node.url("/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let anonymous = |op: &str| {
        let (method, path) = op.split_once(' ').unwrap_or_default();
        doc["paths"][path][method.to_ascii_lowercase()]
            .get("security")
            .is_none()
    };
    let refused: Vec<&Value> = report["warnings"]["missing_auth"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|op| !anonymous(op.as_str().unwrap_or_default()))
        .collect();
    assert!(
        refused.is_empty(),
        "only 401/403 for {refused:?}:\n{stdout}"
    );
    let tested = report["operations"]["tested"].as_u64().unwrap();
    assert!(
        tested >= min_tested,
        "only {tested} operations tested:\n{stdout}"
    );
    // Valid bodies of permission targets, users and group memberships name users and groups
    // that must exist already: random names are refused (400/404) however exact the schema, so
    // those operations may be mostly rejected by chance. Every other operation may not.
    // So do identity mappings (their provider) and the OIDC exchange (a provider, and an ID
    // token its issuer signed), and SCIM's resources (a replace repeats the user's own
    // immutable userName; group members are existing users).
    let state_bound = |op: &str| {
        ["permission", "users", "groups", "oidc", "scim"]
            .iter()
            .any(|w| op.contains(w))
    };
    let mismatched: Vec<String> = report["warnings"]["validation_mismatch"]
        .as_array()
        .map(|ops| ops.iter().map(|op| op.to_string()).collect())
        .unwrap_or_default();
    let unexplained: Vec<&String> = mismatched.iter().filter(|op| !state_bound(op)).collect();
    assert!(
        unexplained.is_empty(),
        "operations that mostly rejected generated data: {unexplained:?}\n{stdout}"
    );
    for phase in ["coverage", "fuzzing", "stateful"] {
        assert_eq!(
            report["phases"][phase]["status"], "success",
            "{phase}:\n{stdout}"
        );
    }
    // The stateful phase followed links (a user created, then read by its name, say).
    let covered: usize = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("API Links:"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no 'API Links:' line:\n{stdout}"));
    eprintln!("stateful testing followed {covered} links");
    // How many it reaches is chance (runs followed 2 to 9): at least one proves they work.
    assert!(
        covered >= 1,
        "stateful testing followed {covered} links:\n{stdout}"
    );
    // The node is still up and never hit an internal error.
    let r = client().get(node.url("/healthz")).send().unwrap();
    assert_eq!(r.status(), 200);
    // The run's credential still holds (revocation is for good), so no answer was a 401 for
    // want of it: every operation was tried as the admin.
    assert_eq!(ping_v1(&node, &bearer), 200, "the run's token was cut off");
    let log = node.log();
    assert!(!log.contains("panicked"), "a handler panicked");
    assert!(
        !log.contains("internal error"),
        "an internal error was logged"
    );
}
