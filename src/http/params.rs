//! Request bodies: form or JSON (JFrog clients send both), size-limited, read into one
//! typed-on-demand parameter map so every bad value becomes a 400 naming the field.

use std::collections::HashMap;

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest};
use futures::StreamExt;
use serde_json::Value;

use crate::service::{ServiceError, ServiceResult};

pub struct Params {
    values: HashMap<String, Value>,
}

pub async fn read_body(mut payload: web::Payload, limit: usize) -> ServiceResult<web::BytesMut> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ServiceError::invalid(format!("cannot read request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ServiceError::TooLarge { limit });
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

fn json_object(body: &[u8]) -> ServiceResult<HashMap<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(HashMap::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map.into_iter().collect()),
        Ok(_) => Err(ServiceError::invalid("JSON body must be an object")),
        Err(e) => Err(ServiceError::invalid(format!("malformed JSON body: {e}"))),
    }
}

impl Params {
    pub async fn from_request(
        req: &HttpRequest,
        payload: web::Payload,
        limit: usize,
    ) -> ServiceResult<Params> {
        let body = read_body(payload, limit).await?;
        let content_type = media_type(req);
        let is_json = |body: &[u8]| {
            body.iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| *b == b'{')
        };
        let form = |body: &[u8]| -> ServiceResult<HashMap<String, Value>> {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                .map_err(|e| ServiceError::invalid(format!("malformed form body: {e}")))?;
            let mut values = HashMap::new();
            for (k, v) in pairs {
                if values.insert(k.clone(), Value::String(v)).is_some() {
                    return Err(ServiceError::invalid(format!("field '{k}' is given twice")));
                }
            }
            Ok(values)
        };
        let values = match content_type.as_str() {
            // Some clients (jfrog-client's default-expiry call) label a form body as JSON:
            // a body that is not JSON at all is read as the form it is.
            "application/json" if !body.is_empty() && !is_json(&body) => form(&body)?,
            "application/json" => json_object(&body)?,
            // `curl -d '{...}'` sends JSON as a form: read it as the JSON it is rather than as
            // one unknown field.
            "" | "application/x-www-form-urlencoded" if is_json(&body) => json_object(&body)?,
            "" | "application/x-www-form-urlencoded" => form(&body)?,
            other => {
                return Err(ServiceError::UnsupportedFormat(format!(
                    "content type '{other}' is not supported; send application/x-www-form-urlencoded or application/json"
                )))
            }
        };
        Ok(Params { values })
    }

    /// 400 naming the first field that is not one of `known`: nothing is silently dropped.
    pub fn allow_only(&self, known: &[&str]) -> ServiceResult<()> {
        let mut unknown: Vec<&String> = self
            .values
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .collect();
        unknown.sort();
        match unknown.first() {
            None => Ok(()),
            Some(field) => Err(ServiceError::invalid_field(
                field.as_str(),
                format!("unknown field '{field}' (accepted: {})", known.join(", ")),
            )),
        }
    }

    /// Whether the field was sent at all (even empty or null).
    pub fn present(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.values
            .get(name)
            .is_some_and(|v| !v.is_null() && v != "")
    }

    /// A string field; empty strings count as absent.
    pub fn string(&self, name: &str) -> ServiceResult<Option<String>> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(ServiceError::invalid_field(
                name,
                format!("'{name}' must be a string"),
            )),
        }
    }

    /// A string field that must be present and non-empty.
    pub fn required_string(&self, name: &str) -> ServiceResult<String> {
        self.string(name)?
            .ok_or_else(|| ServiceError::invalid_field(name, format!("'{name}' is required")))
    }

    /// A non-negative integer field (number or decimal string).
    pub fn seconds(&self, name: &str) -> ServiceResult<Option<u64>> {
        let bad = || {
            ServiceError::invalid_field(
                name,
                format!("'{name}' must be a non-negative whole number of seconds"),
            )
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
    pub fn boolean(&self, name: &str) -> ServiceResult<Option<bool>> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(ServiceError::invalid_field(
                name,
                format!("'{name}' must be true or false"),
            )),
        }
    }

    /// A list of strings: JSON array, or a comma separated string.
    pub fn string_list(&self, name: &str) -> ServiceResult<Vec<String>> {
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
                        ServiceError::invalid_field(
                            name,
                            format!("'{name}' must be a list of strings"),
                        )
                    })
                })
                .collect(),
            Some(_) => Err(ServiceError::invalid_field(
                name,
                format!("'{name}' must be a list of strings"),
            )),
        }
    }
}

pub use crate::domain::names::valid_name;
