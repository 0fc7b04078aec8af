//! Reading answers: JSON bodies, error codes, JWT parts, file modes.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::blocking::Response;
use serde_json::Value;

/// Status and JSON body; asserts the error shape on 4xx/5xx.
pub fn json_of(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status >= 400 {
        assert!(
            body["errors"][0]["code"].is_string() && body["errors"][0]["message"].is_string(),
            "error without JSON errors[]: {status} {body}"
        );
    }
    (status, body)
}

pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["code"].as_str().unwrap_or("")
}

/// Decode a JWT's header and claims without verifying.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let header = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    let claims = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    (
        serde_json::from_slice(&header).unwrap(),
        serde_json::from_slice(&claims).unwrap(),
    )
}

pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
