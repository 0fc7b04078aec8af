//! The operator CLI against one real node: every command group, `--json` parsed, errors and
//! exit codes, credentials files, output files never written through a planted link,
//! completions and the version line.

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

use super::*;

#[test]
fn users_groups_tokens_and_trust_through_the_cli() {
    let _turn = turn(1);
    let node = TestNode::start();
    let other = TestNode::start();

    // Groups and users; the password comes from stdin, never argv.
    let g = json_out(&cli(
        &node,
        &["--json", "group", "add", "dev", "--description", "devs"],
    ));
    assert_eq!(g["name"], "dev");
    let admin_env = [
        ("ACCESS_NODE_USER", "admin"),
        ("ACCESS_NODE_PASSWORD", ADMIN_PASSWORD),
    ];
    let u = json_out(&cli_as(
        &node,
        &["--json", "user", "add", "alice", "--groups", "dev"],
        &admin_env,
        Some("alice-secret-1\n"),
    ));
    assert_eq!(u["username"], "alice");
    assert_eq!(u["groups"][0], "dev");
    let ping = |user: &str, password: &str| {
        node.get("/access/api/v1/system/ping")
            .basic_auth(user, Some(password))
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(ping("alice", "alice-secret-1"), 200);
    let users = json_out(&cli(&node, &["--json", "user", "list"]));
    assert_eq!(users["users"].as_array().unwrap().len(), 2);
    let table = cli(&node, &["user", "list"]);
    assert!(table.status.success());
    assert!(String::from_utf8_lossy(&table.stdout).contains("alice"));

    json_out(&cli_as(
        &node,
        &["--json", "user", "passwd", "alice"],
        &admin_env,
        Some("alice-secret-2\n"),
    ));
    assert_eq!(ping("alice", "alice-secret-2"), 200);

    // No password on stdin: refused as a usage error.
    assert_eq!(cli(&node, &["user", "add", "bob"]).status.code(), Some(2));
    let members = json_out(&cli(&node, &["--json", "group", "members", "dev"]));
    assert_eq!(members["members"], serde_json::json!(["alice"]));
    let groups = json_out(&cli(&node, &["--json", "group", "list"]));
    assert_eq!(groups["groups"][0]["name"], "dev");

    // Tokens: create, list, revoke.
    let t = json_out(&cli(
        &node,
        &[
            "--json",
            "token",
            "create",
            "--user",
            "ci",
            "--expires-in",
            "0",
        ],
    ));
    let id = t["token_id"].as_str().unwrap().to_string();
    let access = t["access_token"].as_str().unwrap().to_string();
    let list = json_out(&cli(&node, &["--json", "token", "list"]));
    assert!(list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["token_id"] == id.as_str()));
    // The table shows dates (RFC 3339, UTC); --json keeps the API's numbers.
    let issued = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["token_id"] == id.as_str())
        .unwrap()["issued_at"]
        .as_i64()
        .unwrap();
    let table = cli(&node, &["token", "list"]);
    let table = String::from_utf8_lossy(&table.stdout);
    let date = time::OffsetDateTime::from_unix_timestamp(issued)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert!(table.contains(&date), "{table}");
    assert!(!table.contains(&issued.to_string()), "{table}");
    // A bearer token from the environment works as credentials.
    let me = cli_as(
        &node,
        &["--json", "token", "list"],
        &[("ACCESS_NODE_TOKEN", &node.admin_bearer())],
        None,
    );
    json_out(&me);
    json_out(&cli(&node, &["--json", "token", "revoke", &id]));
    assert_eq!(access_node_harness::ping(&node, &access), 401);

    // Trust another node's root.crt, list it, remove it.
    let crt = other.root_crt_path();
    let added = json_out(&cli(
        &node,
        &["--json", "trust", "add", "other", path_str(&crt)],
    ));
    assert_eq!(added["name"], "other");
    let trusted = json_out(&cli(&node, &["--json", "trust", "list"]));
    assert_eq!(trusted["certificates"][0]["name"], "other");
    json_out(&cli(&node, &["--json", "trust", "remove", "other"]));

    // Cluster status and a certificate reset.
    let status = json_out(&cli(&node, &["--json", "cluster", "status"]));
    assert_eq!(status["node_id"], 1);
    assert!(cli(&node, &["cluster", "status"]).status.success());
    let reset = json_out(&cli(&node, &["--json", "cert", "reset", "--keep-old"]));
    assert_eq!(reset["keep_old"], true);

    // Disabling and enabling.
    let off = json_out(&cli(&node, &["--json", "user", "disable", "alice"]));
    assert_eq!(off["status"], "disabled");
    assert_eq!(ping("alice", "alice-secret-2"), 401);
    let on = json_out(&cli(&node, &["--json", "user", "enable", "alice"]));
    assert_eq!(on["status"], "enabled");
    assert_eq!(ping("alice", "alice-secret-2"), 200);

    // Deleting.
    json_out(&cli(&node, &["--json", "user", "delete", "alice"]));
    json_out(&cli(&node, &["--json", "group", "delete", "dev"]));
    let groups = json_out(&cli(&node, &["--json", "group", "list"]));
    assert_eq!(groups["groups"].as_array().unwrap().len(), 0);
}

#[test]
fn errors_carry_the_api_message_and_status() {
    let _turn = turn(1);
    let node = TestNode::start();
    let out = cli_as(
        &node,
        &["user", "list"],
        &[
            ("ACCESS_NODE_USER", "admin"),
            ("ACCESS_NODE_PASSWORD", "wrong-password"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("HTTP 401"), "{}", stderr(&out));

    let out = cli(&node, &["user", "delete", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("HTTP 404"), "{}", stderr(&out));

    // No credentials at all, and usage errors: exit 2.
    let out = cli_as(&node, &["user", "list"], &[], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("ACCESS_NODE_TOKEN"));
    let out = cli(&node, &["token", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn credentials_file_must_be_private() {
    let _turn = turn(1);
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("creds");
    std::fs::write(
        &file,
        format!("# admin\nACCESS_NODE_USER=admin\nACCESS_NODE_PASSWORD={ADMIN_PASSWORD}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let args = ["--credentials", path_str(&file), "--json", "user", "list"];
    let out = cli_as(&node, &args, &[], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let users = json_out(&cli_as(&node, &args, &[], None));
    assert_eq!(users["users"][0]["username"], "admin");
}

#[test]
fn backup_never_writes_through_a_planted_link() {
    let _turn = turn(1);
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "the victim's data").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    // Links where the CLI used to write (`F.partial`, and `state.partial` from the old
    // extension swap) and at F itself; one more at F2, dangling to a file it must not create.
    let file = dir.path().join("state.backup");
    for planted in ["state.backup.partial", "state.partial", "state.backup"] {
        symlink(&victim, dir.path().join(planted)).unwrap();
    }
    let created = dir.path().join("created-through-link");
    let file2 = dir.path().join("second.backup");
    symlink(&created, &file2).unwrap();

    for out in [&file, &file2] {
        let done = json_out(&cli(&node, &["--json", "backup", "--out", path_str(out)]));
        // The records were counted by checking what was written: F holds the backup.
        assert!(done["records"].as_u64().unwrap() > 0, "{done}");
        let meta = std::fs::symlink_metadata(out).unwrap();
        assert!(meta.is_file(), "{} is still a link", out.display());
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(Some(meta.len()), done["bytes"].as_u64());
    }
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "the victim's data"
    );
    assert_eq!(mode_of(&victim) & 0o777, 0o644);
    assert!(!created.exists(), "a file was created through a link");
    // The planted partial links are left alone, and no temporary file is left behind.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "second.backup",
            "state.backup",
            "state.backup.partial",
            "state.partial",
            "victim"
        ]
    );
}

#[test]
fn completions_and_version() {
    let _turn = turn(1);
    let node = TestNode::prepare(&[]);
    let out = cli_as(&node, &["completions", "bash"], &[], None);
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("access-node") && script.contains("backup"));
    // A reader that stops after one line (`| head -1`) is no failure and no panic.
    let mut child = std::process::Command::new(access_node_harness::binary())
        .args(["completions", "bash"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    let out = cli_as(&node, &["--version"], &[], None);
    assert!(out.status.success());
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(
        version.contains(env!("CARGO_PKG_VERSION"))
            && version.contains("commit ")
            && version.contains("format 2"),
        "{version}"
    );
}

#[test]
fn oidc_providers_and_mappings_through_the_cli() {
    let _turn = turn(1);
    let node = TestNode::start();
    let added = json_out(&cli(
        &node,
        &[
            "--json",
            "oidc",
            "add",
            "github",
            "--issuer-url",
            "https://token.actions.githubusercontent.com",
            "--audience",
            "access-node",
            "--provider-type",
            "GitHub",
        ],
    ));
    assert_eq!(added["name"], "github");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mapping.json");
    std::fs::write(
        &file,
        r#"{"name":"main","claims":{"repository":"octo-org/*"},"token_spec":{"username":"ci"}}"#,
    )
    .unwrap();
    let mapping = json_out(&cli(
        &node,
        &[
            "--json",
            "oidc",
            "map-add",
            "github",
            file.to_str().unwrap(),
        ],
    ));
    assert_eq!(mapping["provider_name"], "github");
    let table = cli(&node, &["oidc", "mappings", "github"]);
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("octo-org/*") && text.contains("username: ci"),
        "{text}"
    );
    let list = json_out(&cli(&node, &["--json", "oidc", "list"]));
    assert_eq!(
        list[0]["issuer_url"],
        "https://token.actions.githubusercontent.com"
    );
    // A bad field is the API's 400, exit 1.
    let bad = cli(
        &node,
        &[
            "oidc",
            "add",
            "Bad",
            "--issuer-url",
            "https://x.example",
            "--audience",
            "a",
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("HTTP 400"));
    json_out(&cli(
        &node,
        &["--json", "oidc", "map-remove", "github", "main"],
    ));
    json_out(&cli(&node, &["--json", "oidc", "remove", "github"]));
    assert_eq!(
        json_out(&cli(&node, &["--json", "oidc", "list"])),
        serde_json::json!([])
    );
}
