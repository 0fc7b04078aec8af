//! The JFrog-compatible token API against a real single-node process, one file per
//! behaviour; `clients` runs third-party clients (pyartifactory, PyJWT, dohq-artifactory,
//! jfrog-client, Authlib) through tests/python/ with pytest (installed by scripts/test).

mod clients;
mod compat;
mod deprovision;
mod input;
mod openapi;
mod permissions;
mod restart;
mod scim;
mod seeds;
mod tokens;
mod users;

use access_node_harness::*;

use serde_json::{json, Value};
