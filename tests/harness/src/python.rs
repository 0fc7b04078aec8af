//! The Python side of the suite: pytest files and the tools `scripts/test` installs into the
//! project's virtualenv (`$PYTHON` names its interpreter).

use std::path::PathBuf;
use std::process::{Command, Output};

/// The interpreter: `$PYTHON` (the venv's, set by scripts/test), else `python3`.
pub fn python() -> PathBuf {
    std::env::var_os("PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| "python3".into())
}

/// A console script installed beside the interpreter (e.g. `schemathesis`), else by name.
pub fn venv_tool(name: &str) -> PathBuf {
    python()
        .parent()
        .map(|dir| dir.join(name))
        .filter(|p| p.exists())
        .unwrap_or_else(|| name.into())
}

/// `python -m pytest -q <files>` from the project root, with `env` set; stdout, stderr and
/// status in the answer.
pub fn pytest(files: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(python());
    cmd.args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .args(files)
        // The harness lives in tests/harness: the test files are the repository's own.
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output()
        .expect("run python -m pytest (scripts/test installs the clients into .venv)")
}
