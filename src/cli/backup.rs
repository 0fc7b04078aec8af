//! `access-node backup` and `access-node restore`: the replicated state to a 0600 file with a
//! SHA-256 trailer, and back into a new cluster through its log (`store::backup`,
//! `service::backup`).

use std::io::{IsTerminal, Seek, SeekFrom};
use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use serde_json::json;

use super::client::{CliError, Client};
use super::out_file::OutFile;
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

/// `backup --out FILE`: ask the node for a consistent backup and stream it to FILE (0600,
/// through a new temporary file beside it, renamed once its checksum and framing are checked:
/// `out_file`).
pub fn backup(client: &Client, json: bool, out: &Path) -> Result<(), CliError> {
    let started = Instant::now();
    let mut response = client.send(client.request(Method::GET, "/access/api/v1/system/backup")?)?;
    let bar = progress(response.content_length(), "backup");
    let mut tmp = OutFile::create(out)
        .map_err(|e| CliError::Other(format!("{}: cannot create: {e}", out.display())))?;
    let fail = |e: std::io::Error| CliError::Other(format!("{}: {e}", out.display()));
    let bytes = std::io::copy(&mut bar.wrap_read(&mut response), tmp.file()).map_err(fail)?;
    bar.finish_and_clear();
    let records = backup::verify(tmp.file())
        .map_err(|e| CliError::Other(format!("the node sent an unusable backup: {e}")))?;
    tmp.commit().map_err(fail)?;
    let v = json!({
        "file": out.display().to_string(),
        "bytes": bytes,
        "records": records,
        "seconds": started.elapsed().as_secs_f64(),
    });
    output::print(json, &v, |v| output::fields(v, &[]));
    Ok(())
}

/// `restore --file FILE [--force]`: check the file, then seed the cluster with it (the
/// upload is streamed from the file, with a progress bar on a terminal).
pub fn restore(client: &Client, json: bool, path: &Path, force: bool) -> Result<(), CliError> {
    let started = Instant::now();
    let usage = |e: std::io::Error| CliError::Usage(format!("{}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(usage)?;
    let records = backup::verify(&mut file)
        .map_err(|e| CliError::Other(format!("{}: {e}; nothing restored", path.display())))?;
    let len = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.metadata().map(|m| m.len()));
    let len = len.map_err(usage)?;
    let bar = progress(Some(len), "restore");
    let body = reqwest::blocking::Body::sized(bar.wrap_read(file), len);
    let result = client.json(
        client
            .request(Method::POST, "/access/api/v1/system/restore")?
            .query(&[("force", if force { "true" } else { "false" })])
            .header("content-type", "application/octet-stream")
            .body(body),
    );
    bar.finish_and_clear();
    let mut v = result?;
    v["seconds"] = json!(started.elapsed().as_secs_f64());
    v["file_records"] = json!(records);
    output::print(json, &v, |v| output::fields(v, &[]));
    Ok(())
}
