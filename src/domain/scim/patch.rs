//! What a SCIM PATCH does to a resource (RFC 7644 §3.5.2): `add`, `replace` and `remove`, with
//! a path (`userName`, `name.givenName`, `members[value eq "…"]`,
//! `emails[type eq "work"].value`, an extension's `urn:…:attr`) or without one (a map of
//! attributes, keys that may themselves be paths, as Entra ID sends them). Op names are
//! case-insensitive (Entra sends `Replace`, `Add`). Operations apply in order to a copy: one
//! that fails leaves the resource as it was.

use scim_v2::filter::{AttrPath, PatchPath, PatchValuePath};
use scim_v2::models::others::{OperationTarget, PatchOperation};
use serde_json::{Map, Value};

use super::filter::val_matches;
use super::{key_of, ScimError};

/// Most operations one PATCH request may carry.
pub const MAX_OPERATIONS: usize = 1000;

/// `resource` with `operations` applied, in order.
pub fn apply(resource: &Value, operations: &[PatchOperation]) -> Result<Value, ScimError> {
    if operations.len() > MAX_OPERATIONS {
        return Err(ScimError::new(
            "tooMany",
            format!("more than {MAX_OPERATIONS} operations"),
        ));
    }
    let mut out = resource.clone();
    let object = out
        .as_object_mut()
        .ok_or_else(|| ScimError::new("invalidValue", "the resource is not an object"))?;
    for op in operations {
        match op {
            PatchOperation::Add(target) => with_target(object, target, Mode::Add)?,
            PatchOperation::Replace(target) => with_target(object, target, Mode::Replace)?,
            PatchOperation::Remove { path, value } => remove(object, path, value.as_ref())?,
        }
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Add,
    Replace,
}

fn with_target(
    object: &mut Map<String, Value>,
    target: &OperationTarget,
    mode: Mode,
) -> Result<(), ScimError> {
    match target {
        OperationTarget::WithPath { path, value } => set(object, path, value.clone(), mode),
        OperationTarget::WithoutPath { value } => {
            for (key, v) in value {
                // Entra ID writes paths as keys ("name.givenName"); a schema URI key is an
                // extension's attributes.
                match key.parse::<PatchPath>() {
                    Ok(path) if !key.starts_with("urn:") => set(object, &path, v.clone(), mode)?,
                    _ => set_attr(object, key, None, v.clone(), mode),
                }
            }
            Ok(())
        }
    }
}

/// The object an attribute path lives in: the resource, or an extension's object under its
/// schema URI (made when absent).
fn container<'a>(
    object: &'a mut Map<String, Value>,
    path: &AttrPath,
) -> Result<&'a mut Map<String, Value>, ScimError> {
    let Some(uri) = &path.uri else {
        return Ok(object);
    };
    let key = key_of(object, uri).cloned().unwrap_or_else(|| uri.clone());
    let slot = object
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
        .ok_or_else(|| ScimError::new("invalidPath", format!("{uri} is not an extension object")))
}

fn set(
    object: &mut Map<String, Value>,
    path: &PatchPath,
    value: Value,
    mode: Mode,
) -> Result<(), ScimError> {
    match path {
        PatchPath::Attr(attr) => {
            let target = container(object, attr)?;
            set_attr(target, &attr.name, attr.sub_attr.as_deref(), value, mode);
            Ok(())
        }
        PatchPath::Value(vp) => set_matching(object, vp, value),
    }
}

/// `name` (or its `sub` attribute) set to `value`; `add` appends to a multi-valued attribute
/// (values already there are not repeated) and merges into a complex one.
fn set_attr(
    object: &mut Map<String, Value>,
    name: &str,
    sub: Option<&str>,
    value: Value,
    mode: Mode,
) {
    let key = key_of(object, name)
        .cloned()
        .unwrap_or_else(|| name.to_string());
    if let Some(sub) = sub {
        let slot = object
            .entry(key)
            .or_insert_with(|| Value::Object(Map::new()));
        match slot {
            Value::Object(inner) => set_attr(inner, sub, None, value, mode),
            // A sub-attribute of a multi-valued attribute: in every element.
            Value::Array(items) => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    set_attr(item, sub, None, value.clone(), mode);
                }
            }
            other => *other = Value::Object(Map::from_iter([(sub.to_string(), value)])),
        }
        return;
    }
    match (mode, object.get_mut(&key), value) {
        (Mode::Add, Some(Value::Array(items)), value) => {
            let new = match value {
                Value::Array(v) => v,
                v => vec![v],
            };
            for v in new {
                if !items.contains(&v) {
                    items.push(v);
                }
            }
        }
        (Mode::Add, Some(Value::Object(existing)), Value::Object(new)) => existing.extend(new),
        (_, _, value) => {
            object.insert(key, value);
        }
    }
}

/// The elements of a multi-valued attribute a value path selects: replaced (or their
/// sub-attribute set); `noTarget` when none matches.
fn set_matching(
    object: &mut Map<String, Value>,
    vp: &PatchValuePath,
    value: Value,
) -> Result<(), ScimError> {
    let key = key_of(object, &vp.attr.name).cloned();
    let items = key
        .and_then(|k| object.get_mut(&k))
        .and_then(Value::as_array_mut)
        .ok_or_else(|| no_target(vp))?;
    let mut hit = false;
    for item in items.iter_mut().filter(|i| val_matches(&vp.filter, i)) {
        hit = true;
        match (&vp.sub_attr, item.as_object_mut()) {
            (Some(sub), Some(element)) => {
                set_attr(element, sub, None, value.clone(), Mode::Replace)
            }
            _ => *item = value.clone(),
        }
    }
    if hit {
        Ok(())
    } else {
        Err(no_target(vp))
    }
}

fn no_target(vp: &PatchValuePath) -> ScimError {
    ScimError::new("noTarget", format!("no value matches the path {vp}"))
}

fn remove(
    object: &mut Map<String, Value>,
    path: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    match path {
        PatchPath::Attr(attr) => {
            let target = container(object, attr)?;
            let Some(key) = key_of(target, &attr.name).cloned() else {
                return Ok(());
            };
            match (&attr.sub_attr, value) {
                (Some(sub), _) => match target.get_mut(&key) {
                    Some(Value::Object(inner)) => drop_key(inner, sub),
                    Some(Value::Array(items)) => {
                        for item in items.iter_mut().filter_map(Value::as_object_mut) {
                            drop_key(item, sub);
                        }
                    }
                    _ => {}
                },
                // Entra ID removes members by value: `"path": "members", "value": [{"value": id}]`.
                (None, Some(Value::Array(gone))) => {
                    if let Some(Value::Array(items)) = target.get_mut(&key) {
                        items.retain(|i| !gone.iter().any(|g| same_member(i, g)));
                    }
                }
                (None, _) => {
                    target.remove(&key);
                }
            }
            Ok(())
        }
        PatchPath::Value(vp) => {
            let key = key_of(object, &vp.attr.name).cloned();
            let items = key
                .and_then(|k| object.get_mut(&k))
                .and_then(Value::as_array_mut)
                .ok_or_else(|| no_target(vp))?;
            let before = items.len();
            match &vp.sub_attr {
                Some(sub) => {
                    let mut hit = false;
                    for item in items.iter_mut().filter(|i| val_matches(&vp.filter, i)) {
                        hit = true;
                        if let Some(element) = item.as_object_mut() {
                            drop_key(element, sub);
                        }
                    }
                    if !hit {
                        return Err(no_target(vp));
                    }
                }
                None => {
                    items.retain(|i| !val_matches(&vp.filter, i));
                    if items.len() == before {
                        return Err(no_target(vp));
                    }
                }
            }
            Ok(())
        }
    }
}

fn drop_key(object: &mut Map<String, Value>, name: &str) {
    if let Some(k) = key_of(object, name).cloned() {
        object.remove(&k);
    }
}

/// Two members (or values) are the same when their `value`s are, else when they are equal.
fn same_member(a: &Value, b: &Value) -> bool {
    match (super::get_ci(a, "value"), super::get_ci(b, "value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}
