//! Form bodies of the page's POSTs: URL-encoded only, size-limited, repeated fields kept
//! (checkbox groups), every bad value a 400 naming the field.

use actix_web::{web, HttpRequest};

use crate::http::params::{media_type, read_body};
use crate::service::{ServiceError, ServiceResult};

pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub async fn read(
        req: &HttpRequest,
        payload: web::Payload,
        limit: usize,
    ) -> ServiceResult<Form> {
        let body = read_body(payload, limit).await?;
        let content_type = media_type(req);
        if content_type != "application/x-www-form-urlencoded" {
            return Err(ServiceError::UnsupportedFormat(format!(
                "the page's forms send application/x-www-form-urlencoded, not '{content_type}'"
            )));
        }
        Self::parse(&body)
    }

    pub fn parse(body: &[u8]) -> ServiceResult<Form> {
        let pairs = serde_urlencoded::from_bytes(body)
            .map_err(|e| ServiceError::invalid(format!("malformed form: {e}")))?;
        Ok(Form { pairs })
    }

    /// A field, trimmed; empty counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A field as typed (a password or PEM keeps its spaces); empty counts as absent.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str, label: &str) -> ServiceResult<&str> {
        self.get(name)
            .ok_or_else(|| ServiceError::invalid(format!("{label} is required")))
    }

    /// Every non-empty value of a repeated field (a group of checkboxes).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// A checkbox: present means ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A whole number of seconds, when given.
    pub fn seconds(&self, name: &str, label: &str) -> ServiceResult<Option<u64>> {
        self.get(name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    ServiceError::invalid(format!(
                        "{label} must be a whole number of seconds, not '{v}'"
                    ))
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_repeat_trim_and_empty_means_absent() {
        let f = Form::parse(b"g=a&g=+b+&g=&name=+x+&empty=&pw=+s+").unwrap();
        assert_eq!(f.all("g"), vec!["a", "b"]);
        assert_eq!(f.get("name"), Some("x"));
        assert_eq!(f.get("empty"), None);
        assert_eq!(f.raw("pw"), Some(" s "));
        assert!(f.checked("name"));
        assert!(!f.checked("nope"));
        assert!(f.required("empty", "Empty").is_err());
    }

    #[test]
    fn seconds_name_the_field() {
        let f = Form::parse(b"e=12&bad=1h").unwrap();
        assert_eq!(f.seconds("e", "Expiry").unwrap(), Some(12));
        assert_eq!(f.seconds("none", "Expiry").unwrap(), None);
        let err = f.seconds("bad", "Expiry").unwrap_err().to_string();
        assert!(err.contains("Expiry") && err.contains("1h"), "{err}");
    }
}
