//! Operations: the operator CLI against real nodes, and backup → restore into a new cluster.

mod backup;
mod cli;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use access_node_harness::*;
use serde_json::Value;

/// Run the CLI against `node` as the bootstrap admin (environment credentials).
fn cli(node: &TestNode, args: &[&str]) -> Output {
    cli_as(
        node,
        args,
        &[
            ("ACCESS_NODE_USER", "admin"),
            ("ACCESS_NODE_PASSWORD", ADMIN_PASSWORD),
        ],
        None,
    )
}

/// Run the CLI against `node` with these environment variables (and this stdin).
fn cli_as(node: &TestNode, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_access-node"));
    cmd.args(args)
        .env("ACCESS_NODE_URL", node.url(""))
        .env_remove("ACCESS_NODE_TOKEN")
        .env_remove("ACCESS_NODE_USER")
        .env_remove("ACCESS_NODE_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

/// The JSON a successful `--json` command printed.
fn json_out(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "command failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}
