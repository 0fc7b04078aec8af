//! `access-node cluster status|remove` (`cluster join` runs a node: see `main.rs`).

use serde_json::{json, Value};

use super::client::{CliError, Client};
use super::output;

pub fn status(client: &Client, json: bool) -> Result<(), CliError> {
    let v = client.get("/access/api/v1/cluster/status")?;
    output::print(json, &v, |v| {
        let summary = json!({
            "node_id": v.get("node_id"),
            "service_id": v.get("service_id"),
            "state": v.get("state"),
            "leader": v.pointer("/leader/id"),
            "term": v.get("term"),
            "applied_index": v.get("applied_index"),
            "last_log_index": v.get("last_log_index"),
            "snapshot_index": v.get("snapshot_index"),
            "cluster_format": v.pointer("/format/cluster"),
        });
        let members = output::rows(
            &[
                "id",
                "url",
                "voter",
                "matched_index",
                "lag",
                "reachable",
                "last_contact_ms_ago",
                "format",
            ],
            output::list(v, "members"),
        );
        let mut table = output::fields(&summary, &[]);
        table.add_row(vec!["members".to_string(), members.to_string()]);
        table
    });
    Ok(())
}

pub fn remove(client: &Client, json: bool, id: u64) -> Result<(), CliError> {
    let v = client.delete(&format!("/access/api/v1/cluster/members/{id}"))?;
    output::print(json, &v, |v: &Value| {
        output::fields(v, &["removed", "voters"])
    });
    Ok(())
}
