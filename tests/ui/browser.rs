use std::path::{Path, PathBuf};

use super::*;

/// `<target dir>/ui-screenshots`, next to the binaries cargo built for this run.
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe
        .parent()
        .and_then(|d| d.parent())
        .and_then(|d| d.parent());
    target.unwrap().join("ui-screenshots")
}

/// Sign in, create a token in the form and use it with curl, revoke it in the page and see
/// curl get 401, manage users, groups and keys, see the cluster, CSRF refusals, a non-admin
/// kept to their own tokens and out of the admin views, sign out; a screenshot of each page.
#[test]
fn the_admin_page_works_in_headless_chromium() {
    // Fail, never skip: scripts/test installs Debian's chromium.
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run scripts/test (apt-get install chromium)"
    );
    let node = TestNode::start();
    let shots = screenshot_dir();
    let out = pytest(
        &["tests/ui/test_admin_page.py"],
        &[
            ("ACCESS_URL", node.url("")),
            ("ACCESS_ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
            ("SCREENSHOT_DIR", shots.display().to_string()),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser tests failed:\n{stdout}\n{stderr}\nnode log:\n{}",
        node.log()
    );
    assert!(
        stdout.contains("8 passed"),
        "unexpected pytest summary:\n{stdout}"
    );
    for page in [
        "01-sign-in",
        "03-new-token",
        "08-cluster",
        "08c-oidc",
        "09-non-admin-forbidden",
    ] {
        let png = shots.join(format!("{page}.png"));
        let bytes = std::fs::read(&png).unwrap_or_default();
        assert!(
            bytes.starts_with(b"\x89PNG"),
            "no screenshot {}",
            png.display()
        );
    }
}
