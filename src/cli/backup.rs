//! `access-node backup` and `access-node restore`: the replicated state to a 0600 file with a
//! SHA-256 trailer, and back into a new cluster through its log (`store::backup`,
//! `service::backup`).

use std::io::{IsTerminal, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use serde_json::json;

use super::client::{other, CliError, Client};
use super::output;
use crate::store::backup;

/// A progress bar on a terminal, hidden otherwise.
fn progress(len: Option<u64>, message: &'static str) -> ProgressBar {
    let bar = match len {
        Some(len) => ProgressBar::new(len),
        None => ProgressBar::new_spinner(),
    };
    if !std::io::stdout().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec})",
    ) {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar
}

/// `backup --out FILE`: ask the node for a consistent backup and write it, 0600.
pub fn backup(client: &Client, json: bool, out: &Path) -> Result<(), CliError> {
    let started = Instant::now();
    let mut response = client.send(client.request(Method::GET, "/access/api/v1/system/backup")?)?;
    let bar = progress(response.content_length(), "backup");
    let mut bytes = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = response.read(&mut buf).map_err(other)?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    let records = backup::open(&bytes)
        .map_err(|e| CliError::Other(format!("the node sent an unusable backup: {e}")))?
        .len();
    write_private(out, &bytes)?;
    let v = json!({
        "file": out.display().to_string(),
        "bytes": bytes.len(),
        "records": records,
        "seconds": started.elapsed().as_secs_f64(),
    });
    output::print(json, &v, |v| output::fields(v, &[]));
    Ok(())
}

/// Write `bytes` to `path` with mode 0600 (through a temporary file, renamed when complete).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut tmp = PathBuf::from(path);
    tmp.set_extension("partial");
    let fail = |e: std::io::Error| CliError::Other(format!("{}: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    // An existing file keeps its mode on open: make sure.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// `restore --file FILE [--force]`: check the file, then seed the cluster with it.
pub fn restore(client: &Client, json: bool, file: &Path, force: bool) -> Result<(), CliError> {
    let started = Instant::now();
    let bytes =
        std::fs::read(file).map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
    let records = backup::open(&bytes)
        .map_err(|e| CliError::Other(format!("{}: {e}; nothing restored", file.display())))?
        .len();
    let bar = progress(None, "restore");
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let result = client.json(
        client
            .request(Method::POST, "/access/api/v1/system/restore")?
            .query(&[("force", if force { "true" } else { "false" })])
            .header("content-type", "application/octet-stream")
            .body(bytes),
    );
    bar.finish_and_clear();
    let mut v = result?;
    v["seconds"] = json!(started.elapsed().as_secs_f64());
    v["file_records"] = json!(records);
    output::print(json, &v, |v| output::fields(v, &[]));
    Ok(())
}
