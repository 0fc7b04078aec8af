//! Test harness for access-node's integration suites, split by concern: one node process
//! (`node`), a cluster (`cluster`), a federation site (`site`), nginx in front (`nginx`),
//! network namespaces (`netlab`), reading answers (`http`), calls several suites make
//! (`calls`), and the Python tools (`python`). A library, so each suite uses
//! what it needs.
#![allow(clippy::unwrap_used)]

pub mod calls;
pub mod clock;
pub mod cluster;
pub mod http;
pub mod issuer;
pub mod netlab;
pub mod nginx;
pub mod node;
pub mod python;
pub mod site;
pub mod tls;

pub use calls::{
    active_kid, concurrent_refreshes, key_origins, login_status, ping, ping_v1, service_id,
    token_of, turn, user_names, wait_until, Turn, TURNS,
};
pub use cluster::{TestCluster, JOIN_KEY};
pub use http::{error_code, json_of, jwt_parts, mode_of};
pub use issuer::TestIssuer;
pub use netlab::NetLab;
pub use nginx::Nginx;
pub use node::{client, free_port, TestNode, ADMIN_PASSWORD};
pub use python::{pytest, venv_tool};
pub use site::{digests, federate, link_one_way, wait_same_digest, Site};

use std::path::PathBuf;

/// The `access-node` binary cargo built for this test run: next to the test executable's
/// `deps/` folder (`ACCESS_NODE_BIN` overrides).
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("ACCESS_NODE_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let target_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    target_dir.join("access-node")
}
