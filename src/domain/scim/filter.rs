//! Which resources a SCIM filter selects (RFC 7644 §3.4.2.2): `eq`, `ne`, `co`, `sw`, `ew`,
//! `gt`, `lt`, `ge`, `le` and `pr`, `and`/`or`/`not`, and value paths
//! (`emails[type eq "work" and value co "@example.com"]`). Parsing is the `scim_v2` crate's
//! (it also bounds the nesting depth).

use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, ValFilter};
use serde_json::Value;

use super::{case_exact, get_ci, ScimError};

/// The longest filter accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 4096;

/// A filter from a `filter=` query parameter; `invalidFilter` when it does not parse.
pub fn parse(text: &str) -> Result<Filter, ScimError> {
    if text.len() > MAX_FILTER_BYTES {
        return Err(ScimError::new(
            "invalidFilter",
            format!("filter is longer than {MAX_FILTER_BYTES} bytes"),
        ));
    }
    text.parse()
        .map_err(|e| ScimError::new("invalidFilter", format!("filter does not parse: {e}")))
}

/// Whether `resource` (its JSON representation) is selected by `filter`.
pub fn matches(filter: &Filter, resource: &Value) -> bool {
    match filter {
        Filter::Attr(exp) => attr_matches(exp, resource),
        Filter::ValuePath(vp) => elements(resource, &vp.attr)
            .iter()
            .any(|element| val_matches(&vp.filter, element)),
        Filter::Not(inner) => !matches(inner, resource),
        Filter::And(a, b) => matches(a, resource) && matches(b, resource),
        Filter::Or(a, b) => matches(a, resource) || matches(b, resource),
    }
}

/// Whether one element of a multi-valued attribute is selected by a value-path filter.
pub fn val_matches(filter: &ValFilter, element: &Value) -> bool {
    match filter {
        ValFilter::Attr(exp) => attr_matches(exp, element),
        ValFilter::Not(inner) => !val_matches(inner, element),
        ValFilter::And(a, b) => val_matches(a, element) && val_matches(b, element),
        ValFilter::Or(a, b) => val_matches(a, element) || val_matches(b, element),
    }
}

/// The values `path` names in `resource`: an extension's attributes under its schema URI,
/// every element of a multi-valued attribute, and a complex multi-valued attribute's `value`
/// when no sub-attribute is named (`emails co "@x"` reads each e-mail's value).
fn candidates<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let elements = elements(resource, path);
    match &path.sub_attr {
        Some(sub) => elements
            .into_iter()
            .filter_map(|e| get_ci(e, sub))
            .collect(),
        None => elements
            .into_iter()
            .map(|e| match e {
                Value::Object(_) => get_ci(e, "value").unwrap_or(e),
                other => other,
            })
            .collect(),
    }
}

/// The values of attribute `path.name` (an extension's under its schema URI): each element
/// of a multi-valued one, else the one value.
fn elements<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let base = match &path.uri {
        Some(uri) => get_ci(resource, uri).unwrap_or(resource),
        None => resource,
    };
    match get_ci(base, &path.name) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn attr_matches(exp: &AttrExp, resource: &Value) -> bool {
    match exp {
        AttrExp::Present(path) => candidates(resource, path).into_iter().any(present),
        AttrExp::Comparison(path, op, value) => {
            let found = candidates(resource, path);
            let exact = case_exact(&path.name, path.sub_attr.as_deref());
            match (op, value) {
                (CompareOp::Eq, CompValue::Null) => !found.into_iter().any(present),
                (CompareOp::Ne, CompValue::Null) => found.into_iter().any(present),
                (CompareOp::Ne, _) => !found
                    .into_iter()
                    .any(|v| compare(&CompareOp::Eq, v, value, exact)),
                _ => found.into_iter().any(|v| compare(op, v, value, exact)),
            }
        }
    }
}

/// One value against a comparison; values of different types never match.
fn compare(op: &CompareOp, actual: &Value, wanted: &CompValue, exact: bool) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let order = match (actual, wanted) {
        (Value::String(a), CompValue::Str(w)) => {
            let (a, w) = match exact {
                true => (a.clone(), w.clone()),
                false => (a.to_lowercase(), w.to_lowercase()),
            };
            match op {
                CompareOp::Co => return a.contains(&w),
                CompareOp::Sw => return a.starts_with(&w),
                CompareOp::Ew => return a.ends_with(&w),
                _ => a.cmp(&w),
            }
        }
        (Value::Number(a), CompValue::Number(w)) => {
            match a
                .as_f64()
                .zip(w.as_f64())
                .and_then(|(a, w)| a.partial_cmp(&w))
            {
                Some(o) => o,
                None => return false,
            }
        }
        (Value::Bool(a), CompValue::True | CompValue::False) => {
            let w = matches!(wanted, CompValue::True);
            return match op {
                CompareOp::Eq => *a == w,
                CompareOp::Ne => *a != w,
                _ => false,
            };
        }
        _ => return false,
    };
    match op {
        CompareOp::Eq => order == Equal,
        CompareOp::Ne => order != Equal,
        CompareOp::Gt => order == Greater,
        CompareOp::Ge => order != Less,
        CompareOp::Lt => order == Less,
        CompareOp::Le => order != Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}
