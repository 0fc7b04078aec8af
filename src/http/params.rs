//! Request bodies: form or JSON (JFrog clients send both), size-limited, read into one
//! typed-on-demand parameter map so every bad value becomes a 400 naming the field.

use std::collections::HashMap;

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest};
use futures::StreamExt;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

pub struct Params {
    values: HashMap<String, Value>,
}

pub async fn read_body(mut payload: web::Payload, limit: usize) -> ApiResult<web::BytesMut> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("cannot read request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The request's media type, lower case, without parameters ("" when absent).
pub fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

impl Params {
    pub async fn from_request(
        req: &HttpRequest,
        payload: web::Payload,
        limit: usize,
    ) -> ApiResult<Params> {
        let body = read_body(payload, limit).await?;
        let content_type = media_type(req);
        let values = match content_type.as_str() {
            "application/json" => {
                if body.iter().all(u8::is_ascii_whitespace) {
                    HashMap::new()
                } else {
                    match serde_json::from_slice::<Value>(&body) {
                        Ok(Value::Object(map)) => map.into_iter().collect(),
                        Ok(_) => return Err(ApiError::BadRequest("JSON body must be an object".into())),
                        Err(e) => return Err(ApiError::BadRequest(format!("malformed JSON body: {e}"))),
                    }
                }
            }
            "" | "application/x-www-form-urlencoded" => {
                let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                    .map_err(|e| ApiError::BadRequest(format!("malformed form body: {e}")))?;
                pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect()
            }
            other => {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "content type '{other}' is not supported; send application/x-www-form-urlencoded or application/json"
                )))
            }
        };
        Ok(Params { values })
    }

    pub fn has(&self, name: &str) -> bool {
        self.values
            .get(name)
            .is_some_and(|v| !v.is_null() && v != "")
    }

    /// A string field; empty strings count as absent.
    pub fn string(&self, name: &str) -> ApiResult<Option<String>> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(ApiError::BadRequest(format!("'{name}' must be a string"))),
        }
    }

    /// A string field that must be present and non-empty.
    pub fn required_string(&self, name: &str) -> ApiResult<String> {
        self.string(name)?
            .ok_or_else(|| ApiError::BadRequest(format!("'{name}' is required")))
    }

    /// A non-negative integer field (number or decimal string).
    pub fn seconds(&self, name: &str) -> ApiResult<Option<u64>> {
        let bad = || {
            ApiError::BadRequest(format!(
                "'{name}' must be a non-negative whole number of seconds"
            ))
        };
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(bad),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s.trim().parse::<u64>().map(Some).map_err(|_| bad()),
            Some(_) => Err(bad()),
        }
    }

    /// A boolean field: JSON bool, or true/false in any case (pyartifactory sends `False`).
    pub fn boolean(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::BadRequest(format!(
                "'{name}' must be true or false"
            ))),
        }
    }

    /// A list of strings: JSON array, or a comma separated string.
    pub fn string_list(&self, name: &str) -> ApiResult<Vec<String>> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().map(String::from).ok_or_else(|| {
                        ApiError::BadRequest(format!("'{name}' must be a list of strings"))
                    })
                })
                .collect(),
            Some(_) => Err(ApiError::BadRequest(format!(
                "'{name}' must be a list of strings"
            ))),
        }
    }
}

/// User and group names: what a subject `.../users/<name>` and scopes can carry.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
}
