//! Embeds the git commit the binary is built from (`access-node --version`); "unknown" when
//! git or `.git` is missing (a source tarball).

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    // Not under ACCESS_NODE_: cargo also sets it when it runs the binary, and the node's
    // configuration refuses unknown ACCESS_NODE_* variables.
    println!("cargo:rustc-env=BUILD_GIT_COMMIT={commit}");
    // Rebuild when HEAD moves (a new commit or a checkout). In a worktree HEAD lives in the
    // worktree's git dir and the branch ref in the common one.
    let git = |arg: &str| {
        Command::new("git")
            .args(["rev-parse", arg])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    if let (Some(dir), Some(common)) = (git("--git-dir"), git("--git-common-dir")) {
        let mut watch = vec![format!("{dir}/HEAD"), format!("{common}/packed-refs")];
        if let Ok(head) = std::fs::read_to_string(format!("{dir}/HEAD")) {
            if let Some(reference) = head.strip_prefix("ref: ") {
                watch.push(format!("{common}/{}", reference.trim()));
            }
        }
        // A missing path would rerun this script on every build.
        for path in watch.iter().filter(|p| std::path::Path::new(p).exists()) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
