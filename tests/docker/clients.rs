//! The real clients: Debian's `docker-registry` (distribution 2.8) configured for token
//! authentication with our realm, service id and root.crt, and `skopeo` pushing and pulling a
//! small OCI image through it, with a password, with a token as the password and with the
//! token as an identity token (the OAuth2 POST form); refused outside its rights, anonymously
//! and once its token is revoked. Skipped, with a message, when the programs are not installed
//! (`scripts/test` installs them).

use super::*;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::{Digest, Sha256};

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// The programs, or None (with a message) when one is missing.
fn programs() -> Option<(PathBuf, PathBuf)> {
    let registry = PathBuf::from(REGISTRY_BIN);
    let skopeo = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("skopeo"))
        .find(|p| p.is_file());
    match (registry.is_file(), skopeo) {
        (true, Some(skopeo)) => Some((registry, skopeo)),
        _ => {
            eprintln!(
                "SKIPPED: docker registry client test needs {REGISTRY_BIN} and skopeo \
                 (Debian packages docker-registry and skopeo; ./scripts/test installs them)"
            );
            None
        }
    }
}

/// A `docker-registry` process trusting our tokens; killed on drop.
struct Registry {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Registry {
    fn start(bin: &Path, dir: &Path, realm: &str, issuer: &str, root_crt: &Path) -> Registry {
        let port = free_port();
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\n\
                 log:\n  level: info\n\
                 storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: test-secret\n\
                 auth:\n  token:\n    realm: {realm}\n    service: {SERVICE}\n    issuer: \"{issuer}\"\n    rootcertbundle: {root}\n",
                storage = dir.join("storage").display(),
                root = root_crt.display(),
            ),
        )
        .unwrap();
        let log = dir.join("registry.log");
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(
                std::fs::OpenOptions::new().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .unwrap();
        let registry = Registry { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "registry did not start:\n{}",
                registry.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        registry
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn image(&self, name: &str) -> String {
        format!("docker://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Write `bytes` as a blob of the OCI layout at `dir`; its descriptor.
fn blob(dir: &Path, media_type: &str, bytes: &[u8]) -> Value {
    let hex = sha256_hex(bytes);
    std::fs::write(dir.join("blobs/sha256").join(&hex), bytes).unwrap();
    json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len()})
}

/// A one-layer OCI image layout tagged `1` at `dir`, built without a container engine;
/// its config's digest (skopeo compresses the layer on the way, the config stays as it is).
fn oci_layout(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let content = dir.join("../content");
    std::fs::create_dir_all(&content).unwrap();
    std::fs::write(content.join("hello.txt"), "hello from access-node\n").unwrap();
    let tar = dir.join("../layer.tar");
    let ok = Command::new("tar")
        .args(["--owner=0", "--group=0", "--numeric-owner", "-cf"])
        .arg(&tar)
        .arg("-C")
        .arg(&content)
        .arg("hello.txt")
        .status()
        .unwrap()
        .success();
    assert!(ok, "tar failed");
    let layer_bytes = std::fs::read(&tar).unwrap();
    let layer = blob(dir, "application/vnd.oci.image.layer.v1.tar", &layer_bytes);
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
    }))
    .unwrap();
    let config = blob(dir, "application/vnd.oci.image.config.v1+json", &config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": [layer],
    }))
    .unwrap();
    let mut manifest = blob(dir, "application/vnd.oci.image.manifest.v1+json", &manifest);
    manifest["annotations"] = json!({"org.opencontainers.image.ref.name": "1"});
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [manifest]})).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    config["digest"].as_str().unwrap().to_string()
}

/// Run skopeo with a private HOME (no stored credentials) and no signature policy file.
fn skopeo(bin: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .env("HOME", home)
        .env_remove("REGISTRY_AUTH_FILE")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A refusal for want of rights (not a crash or a network error).
fn refused(out: &Output, what: &str) {
    let all = text(out).to_ascii_lowercase();
    assert!(
        !out.status.success()
            && (all.contains("unauthorized")
                || all.contains("denied")
                || all.contains("authentication required")),
        "{what} was not refused for want of rights: {}",
        text(out)
    );
}

#[test]
fn skopeo_pushes_and_pulls_through_a_registry_trusting_our_tokens() {
    let Some((registry_bin, skopeo_bin)) = programs() else {
        return;
    };
    let node = node_with_dev();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.crt");
    std::fs::write(&root, root_crt(&node)).unwrap();
    let registry = Registry::start(
        &registry_bin,
        dir.path(),
        &node.url(REALM),
        &service_id(&node),
        &root,
    );
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let layout = dir.path().join("image");
    let config = oci_layout(&layout);
    let source = format!("oci:{}:1", layout.display());
    let password = format!("{}:{}", DEV.0, DEV.1);
    let token = dev_token(&node);
    let with_token = format!("{}:{token}", DEV.0);
    let run = |args: &[&str]| skopeo(&skopeo_bin, &home, args);
    let push = |creds: &str, image: &str| {
        run(&[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            creds,
            &source,
            &registry.image(image),
        ])
    };
    let inspect = |creds: &str, image: &str| {
        run(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            creds,
            &registry.image(image),
        ])
    };

    // Push with the password, then with the token as the password.
    let out = push(&password, "generic-local/app:1");
    assert!(
        out.status.success(),
        "push with a password: {}\nregistry:\n{}",
        text(&out),
        registry.log()
    );
    let out = push(&with_token, "generic-local/app:2");
    assert!(out.status.success(), "push with a token: {}", text(&out));

    // An identity token in an auth file: containers/image asks with the OAuth2 POST form,
    // our token as the refresh token.
    let authfile = dir.path().join("auth.json");
    std::fs::write(
        &authfile,
        json!({"auths": {format!("127.0.0.1:{}", registry.port): {
            "auth": base64::engine::general_purpose::STANDARD.encode(format!("{}:", DEV.0)),
            "identitytoken": token,
        }}})
        .to_string(),
    )
    .unwrap();
    let authfile = authfile.display().to_string();
    let out = run(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-authfile",
        &authfile,
        &source,
        &registry.image("generic-local/app:oauth"),
    ]);
    assert!(
        out.status.success(),
        "push with an identity token: {}",
        text(&out)
    );
    let posts = node
        .log()
        .lines()
        .filter(|l| l.contains("POST") && l.contains("/v2/token") && l.contains("200"))
        .count();
    assert!(
        posts > 0,
        "no OAuth2 POST reached the realm:\n{}",
        node.log()
    );

    // Pull back: the manifest names our config, and a copy out carries it.
    let out = inspect(&with_token, "generic-local/app:1");
    assert!(out.status.success(), "inspect: {}", text(&out));
    let manifest: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(manifest["config"]["digest"], config.as_str(), "{manifest}");
    let pulled = dir.path().join("pulled");
    let out = run(&[
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        &password,
        &registry.image("generic-local/app:2"),
        &format!("oci:{}:1", pulled.display()),
    ]);
    assert!(out.status.success(), "pull: {}", text(&out));
    let hex = config.trim_start_matches("sha256:");
    assert!(
        pulled.join("blobs/sha256").join(hex).is_file(),
        "pulled image lacks our config"
    );

    // Outside dev's rights: the registry gets a token without that repository, and refuses.
    refused(
        &push(&password, "other-local/app:1"),
        "push outside the rights",
    );
    refused(
        &inspect(&with_token, "other-local/app:1"),
        "pull outside the rights",
    );
    // Anonymous: no access at all.
    let out = run(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--no-creds",
        &registry.image("generic-local/app:1"),
    ]);
    refused(&out, "anonymous pull");

    // Revoke the token: no more registry tokens for it.
    let r = node
        .admin(node.post("/access/api/v1/tokens/revoke"))
        .form(&[("token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    refused(
        &push(&with_token, "generic-local/app:3"),
        "push with a revoked token",
    );
    refused(
        &inspect(&with_token, "generic-local/app:1"),
        "pull with a revoked token",
    );
    // The password still works.
    let out = inspect(&password, "generic-local/app:1");
    assert!(out.status.success(), "inspect after revoke: {}", text(&out));
}
