//! Our users and groups as SCIM resources (RFC 7643 §4), and SCIM resources read back as what
//! our records keep of them. A PATCH is applied to the representation and read back the same
//! way, so PUT and PATCH share one set of rules. Attributes we do not keep are ignored.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{get_ci, ScimError};
use crate::domain::accounts::{GroupRecord, PersonName, ScimEmail, UserRecord};
use crate::domain::names::{valid_email, valid_name};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The longest string attribute we keep (display names, name parts, external ids).
pub const MAX_TEXT: usize = 256;
/// Most e-mail addresses one user may carry.
pub const MAX_EMAILS: usize = 16;
/// Most members one request may name.
pub const MAX_MEMBERS: usize = 10_000;

fn rfc3339(ms: u64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The resource's version: a hash of its representation, so any change of what a client can
/// read changes it (RFC 7644 §3.14, a weak ETag).
fn version_of(resource: &Value) -> String {
    let digest = Sha256::digest(resource.to_string().as_bytes());
    format!("W/\"{}\"", &hex::encode(digest)[..16])
}

/// `meta` (with the version of everything else) added to `resource`.
fn with_meta(
    mut resource: Value,
    kind: &str,
    location: String,
    created_ms: u64,
    modified_ms: u64,
) -> Value {
    let version = version_of(&resource);
    resource["meta"] = json!({
        "resourceType": kind,
        "created": rfc3339(created_ms),
        "lastModified": rfc3339(modified_ms.max(created_ms)),
        "location": location,
        "version": version,
    });
    resource
}

/// Drops the attributes whose value is null (RFC 7643 §2.5: unassigned).
fn compact(mut v: Value) -> Value {
    if let Some(map) = v.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    v
}

/// `user` as a SCIM User; `base` is the SCIM root URL (`…/scim/v2`).
pub fn user_resource(user: &UserRecord, base: &str) -> Value {
    let scim = user.scim.clone().unwrap_or_default();
    let emails: Vec<ScimEmail> = if scim.emails.is_empty() {
        user.email
            .iter()
            .map(|e| ScimEmail {
                value: e.clone(),
                kind: None,
                primary: Some(true),
            })
            .collect()
    } else {
        scim.emails.clone()
    };
    let emails: Vec<Value> = emails
        .iter()
        .map(|e| compact(json!({"value": e.value, "type": e.kind, "primary": e.primary})))
        .collect();
    let groups: Vec<Value> = user
        .groups
        .iter()
        .map(|g| json!({"value": g, "$ref": format!("{base}/Groups/{g}"), "display": g, "type": "direct"}))
        .collect();
    let name = scim.name.as_ref().map(|n| {
        compact(json!({"formatted": n.formatted, "familyName": n.family_name, "givenName": n.given_name}))
    });
    let resource = compact(json!({
        "schemas": [USER_SCHEMA],
        "id": user.username,
        "externalId": scim.external_id,
        "userName": user.username,
        "name": name,
        "displayName": scim.display_name,
        "active": !user.disabled,
        "emails": (!emails.is_empty()).then_some(emails),
        "groups": (!groups.is_empty()).then_some(groups),
    }));
    let location = format!("{base}/Users/{}", user.username);
    with_meta(
        resource,
        "User",
        location,
        user.created_at * 1000,
        scim.updated_ms,
    )
}

/// `group` as a SCIM Group with its `members` (user names).
pub fn group_resource(group: &GroupRecord, members: &[String], base: &str) -> Value {
    let members: Vec<Value> = members
        .iter()
        .map(|m| json!({"value": m, "$ref": format!("{base}/Users/{m}"), "type": "User"}))
        .collect();
    let scim = group.scim.clone().unwrap_or_default();
    let resource = compact(json!({
        "schemas": [GROUP_SCHEMA],
        "id": group.name,
        "externalId": scim.external_id,
        "displayName": display_name(group),
        "members": (!members.is_empty()).then_some(members),
    }));
    let location = format!("{base}/Groups/{}", group.name);
    with_meta(
        resource,
        "Group",
        location,
        group.created_at * 1000,
        scim.updated_ms,
    )
}

/// The name a group shows an identity provider: its SCIM display name, or its own name.
pub fn display_name(group: &GroupRecord) -> &str {
    match &group.scim {
        Some(s) if !s.display_name.is_empty() => &s.display_name,
        _ => &group.name,
    }
}

/// The `meta.version` of a resource built here.
pub fn version(resource: &Value) -> Option<&str> {
    resource.get("meta")?.get("version")?.as_str()
}

/// What a User resource a client sent says, as far as we keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInput {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub name: Option<PersonName>,
    pub emails: Vec<ScimEmail>,
    /// None when the resource does not say (a replace leaves the status as it is).
    pub active: Option<bool>,
    pub password: Option<String>,
}

impl UserInput {
    /// The address our own `email` field keeps: the primary one, else the first.
    pub fn primary_email(&self) -> Option<String> {
        self.emails
            .iter()
            .find(|e| e.primary == Some(true))
            .or(self.emails.first())
            .map(|e| e.value.clone())
    }
}

/// What a Group resource a client sent says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    /// Member user ids, in the order given, without repeats.
    pub members: Vec<String>,
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::new("invalidValue", detail)
}

/// A string attribute (null or absent: None); at most [`MAX_TEXT`] bytes.
fn text(object: &Value, attr: &str) -> Result<Option<String>, ScimError> {
    match get_ci(object, attr) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() > MAX_TEXT => {
            Err(invalid(format!("'{attr}' is longer than {MAX_TEXT} bytes")))
        }
        Some(Value::String(s)) if s.chars().any(char::is_control) => {
            Err(invalid(format!("'{attr}' holds control characters")))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("'{attr}' must be a string"))),
    }
}

/// A boolean attribute; Entra ID sends `"True"`/`"False"` strings too.
fn boolean(object: &Value, attr: &str) -> Result<Option<bool>, ScimError> {
    match get_ci(object, attr) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(invalid(format!("'{attr}' must be a boolean"))),
    }
}

fn array<'a>(object: &'a Value, attr: &str) -> Result<&'a [Value], ScimError> {
    match get_ci(object, attr) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(invalid(format!("'{attr}' must be an array"))),
    }
}

fn person_name(object: &Value) -> Result<Option<PersonName>, ScimError> {
    let Some(name) = get_ci(object, "name").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    if !name.is_object() {
        return Err(invalid("'name' must be an object"));
    }
    let parsed = PersonName {
        formatted: text(name, "formatted")?,
        family_name: text(name, "familyName")?,
        given_name: text(name, "givenName")?,
    };
    Ok((parsed != PersonName::default()).then_some(parsed))
}

fn emails(object: &Value) -> Result<Vec<ScimEmail>, ScimError> {
    let items = array(object, "emails")?;
    if items.len() > MAX_EMAILS {
        return Err(invalid(format!("more than {MAX_EMAILS} e-mail addresses")));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let value = text(item, "value")?.ok_or_else(|| invalid("an e-mail has no 'value'"))?;
        if !valid_email(&value) {
            return Err(invalid(format!(
                "'{}' is not an e-mail address",
                value.escape_debug()
            )));
        }
        let kind = text(item, "type")?;
        if kind.as_ref().is_some_and(|k| k.len() > 32) {
            return Err(invalid("an e-mail 'type' is longer than 32 bytes"));
        }
        out.push(ScimEmail {
            value,
            kind,
            primary: boolean(item, "primary")?,
        });
    }
    if out.iter().filter(|e| e.primary == Some(true)).count() > 1 {
        return Err(invalid("more than one e-mail is primary"));
    }
    Ok(out)
}

/// Reads a User resource. `userName` is required and must be one of our user names (letters,
/// digits, `-_.@`, at most 64).
pub fn user_input(resource: &Value) -> Result<UserInput, ScimError> {
    if !resource.is_object() {
        return Err(ScimError::new(
            "invalidSyntax",
            "the body is not a JSON object",
        ));
    }
    let user_name = text(resource, "userName")?.ok_or_else(|| invalid("'userName' is required"))?;
    if !valid_name(&user_name) {
        return Err(invalid(format!(
            "'userName' {:?} is not a user name here: letters, digits and -_.@, at most 64, not starting with a dot",
            user_name
        )));
    }
    let password = match get_ci(resource, "password") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if (8..=1024).contains(&p.len()) => Some(p.clone()),
        Some(_) => return Err(invalid("'password' must be a string of 8 to 1024 bytes")),
    };
    Ok(UserInput {
        user_name,
        external_id: text(resource, "externalId")?,
        display_name: text(resource, "displayName")?,
        name: person_name(resource)?,
        emails: emails(resource)?,
        active: boolean(resource, "active")?,
        password,
    })
}

/// Reads a Group resource: `displayName` is required; members are user ids.
pub fn group_input(resource: &Value) -> Result<GroupInput, ScimError> {
    if !resource.is_object() {
        return Err(ScimError::new(
            "invalidSyntax",
            "the body is not a JSON object",
        ));
    }
    let display_name = text(resource, "displayName")?
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| invalid("'displayName' is required"))?;
    let items = array(resource, "members")?;
    if items.len() > MAX_MEMBERS {
        return Err(invalid(format!("more than {MAX_MEMBERS} members")));
    }
    let mut members: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let value = text(item, "value")?.ok_or_else(|| invalid("a member has no 'value'"))?;
        if !members.contains(&value) {
            members.push(value);
        }
    }
    Ok(GroupInput {
        display_name,
        external_id: text(resource, "externalId")?,
        members,
    })
}

/// The name (id) of a new group with display name `display`: the display name itself when it
/// is a valid name, else its letters and digits joined by `-` (`Engineering Team` →
/// `Engineering-Team`); `taken` says which names are in use (then `-2`, `-3`, … is added).
pub fn group_name_for(display: &str, taken: impl Fn(&str) -> bool) -> String {
    let base = if valid_name(display) {
        display.to_string()
    } else {
        let mut slug = String::new();
        for c in display.chars() {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '.') {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug: String = slug.trim_matches(['-', '.']).chars().take(56).collect();
        if valid_name(&slug) {
            slug
        } else {
            "group".to_string()
        }
    };
    if !taken(&base) {
        return base;
    }
    let stem: String = base.chars().take(56).collect();
    (2..)
        .map(|n| format!("{stem}-{n}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or(base)
}

/// Whether an attribute list names `attr` (a name, `name.sub`, or URN-qualified).
fn names(list: &[String], attr: &str) -> bool {
    list.iter().any(|a| {
        let a = a
            .strip_prefix(USER_SCHEMA)
            .or_else(|| a.strip_prefix(GROUP_SCHEMA))
            .map_or(a.as_str(), |rest| rest.trim_start_matches(':'));
        let top = a.split('.').next().unwrap_or(a);
        top.eq_ignore_ascii_case(attr)
    })
}

/// `resource` with only the attributes asked for (`attributes`), or without those excluded
/// (`excludedAttributes`) — RFC 7644 §3.4.2.5. `id` and `schemas` are always returned.
pub fn project(resource: Value, attributes: &[String], excluded: &[String]) -> Value {
    let Value::Object(map) = resource else {
        return resource;
    };
    let always = |k: &str| k == "id" || k == "schemas";
    let kept: Map<String, Value> = map
        .into_iter()
        .filter(|(k, _)| {
            always(k)
                || if attributes.is_empty() {
                    !names(excluded, k)
                } else {
                    names(attributes, k)
                }
        })
        .collect();
    Value::Object(kept)
}
