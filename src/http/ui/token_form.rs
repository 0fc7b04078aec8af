//! The token creation form: a scope builder (checkboxes and radio buttons that build a scope
//! string the service then parses like any other), expiry, refreshable, description.

use maud::{html, Markup};

use super::form::Form;
use super::layout::csrf_field;
use crate::service::minting::CreateToken;
use crate::service::sessions::Session;
use crate::service::{ServiceError, ServiceResult};

/// Expiry choices: seconds and label (0 = never expires).
const EXPIRIES: &[(&str, &str)] = &[
    ("3600", "1 hour"),
    ("86400", "1 day"),
    ("604800", "7 days"),
    ("2592000", "30 days"),
    ("0", "never"),
    ("custom", "custom (seconds below)"),
];

/// System scopes offered as checkboxes (others go in "more scope items").
const SYSTEM_SCOPES: &[&str] = &["metrics:r"];

/// The scope the form's choices add up to.
pub fn build_scope(form: &Form) -> ServiceResult<String> {
    let mut items: Vec<String> = Vec::new();
    match form.get("base").unwrap_or("user") {
        "user" => items.push("applied-permissions/user".into()),
        "admin" => items.push("applied-permissions/admin".into()),
        "groups" => {
            let groups = form.all("applied_groups");
            if groups.is_empty() {
                return Err(ServiceError::invalid(
                    "choose at least one group for applied-permissions/groups",
                ));
            }
            items.push(format!("applied-permissions/groups:{}", groups.join(",")));
        }
        "none" => {}
        other => {
            return Err(ServiceError::invalid(format!(
                "unknown permission base '{other}'"
            )))
        }
    }
    let member_of = form.all("member_of");
    if !member_of.is_empty() {
        items.push(format!("member-of-groups:{}", member_of.join(",")));
    }
    if form.checked("api") {
        items.push("api:*".into());
    }
    for system in form.all("system") {
        items.push(format!("system:{system}"));
    }
    if let Some(extra) = form.get("extra_scope") {
        items.extend(extra.split_whitespace().map(String::from));
    }
    if items.is_empty() {
        return Err(ServiceError::invalid(
            "the scope is empty: choose at least one permission",
        ));
    }
    Ok(items.join(" "))
}

/// The create request the form asks for.
pub fn create_request(form: &Form) -> ServiceResult<CreateToken> {
    let expires_in = match form.get("expiry") {
        Some("custom") => Some(
            form.seconds("expires_in", "Custom expiry")?
                .ok_or_else(|| ServiceError::invalid("give the custom expiry in seconds"))?,
        ),
        _ => form.seconds("expiry", "Expiry")?,
    };
    Ok(CreateToken {
        username: form.get("username").map(String::from),
        scope: Some(build_scope(form)?),
        expires_in,
        refreshable: Some(form.checked("refreshable")),
        audience: None,
        description: form.get("description").map(String::from),
        include_reference_token: form.checked("reference"),
        force_revocable: false,
        legacy: false,
    })
}

/// The form. `groups` are the groups the caller may choose from.
pub fn create_form(s: &Session, groups: &[String], default_expiry: u64) -> Markup {
    let default_expiry = default_expiry.to_string();
    let preset = EXPIRIES.iter().any(|(v, _)| *v == default_expiry);
    html! {
        form.card #create-token method="post" action="/ui/tokens" {
            (csrf_field(s))
            @if s.who.admin {
                label for="username" { "For user" }
                input #username name="username" type="text" value=(s.who.username) required;
            }
            fieldset {
                legend { "Permissions" }
                label.choice { input type="radio" name="base" value="user" checked; " applied-permissions/user (the user's own rights)" }
                @if s.who.admin {
                    label.choice { input type="radio" name="base" value="admin"; " applied-permissions/admin" }
                }
                label.choice { input type="radio" name="base" value="groups"; " applied-permissions/groups: the groups ticked here" }
                label.choice { input type="radio" name="base" value="none"; " none of these (only the items below)" }
                @if !groups.is_empty() {
                    div.groups {
                        span { "Groups:" }
                        @for g in groups {
                            label.choice { input type="checkbox" name="applied_groups" value=(g); " " (g) }
                        }
                    }
                    div.groups {
                        span { "member-of-groups:" }
                        @for g in groups {
                            label.choice { input type="checkbox" name="member_of" value=(g); " " (g) }
                        }
                    }
                }
                label.choice { input type="checkbox" name="api" value="1"; " api:*" }
                @for sys in SYSTEM_SCOPES {
                    label.choice { input type="checkbox" name="system" value=(sys); " system:" (sys) }
                }
                label for="extra_scope" { "More scope items (space separated, e.g. artifact:repo/path/**:r)" }
                input #extra_scope name="extra_scope" type="text";
            }
            label for="expiry" { "Expires in" }
            select #expiry name="expiry" {
                @for (value, label) in EXPIRIES {
                    @if *value == default_expiry || (!preset && *value == "custom") {
                        option value=(value) selected { (label) }
                    } @else {
                        option value=(value) { (label) }
                    }
                }
            }
            label for="expires_in" { "Custom expiry, seconds" }
            input #expires_in name="expires_in" type="number" min="0" value=(default_expiry);
            label.choice { input type="checkbox" name="refreshable" value="1"; " refreshable" }
            label.choice { input type="checkbox" name="reference" value="1"; " with a reference token" }
            label for="description" { "Description" }
            input #description name="description" type="text" maxlength="1024";
            button.primary type="submit" { "Create token" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(body: &str) -> ServiceResult<String> {
        build_scope(&Form::parse(body.as_bytes()).unwrap())
    }

    #[test]
    fn builds_each_kind_of_item() {
        assert_eq!(scope("base=user").unwrap(), "applied-permissions/user");
        assert_eq!(scope("base=admin").unwrap(), "applied-permissions/admin");
        assert_eq!(
            scope("base=groups&applied_groups=a&applied_groups=b").unwrap(),
            "applied-permissions/groups:a,b"
        );
        assert_eq!(
            scope("base=none&member_of=ci&api=1&system=metrics:r&extra_scope=artifact:r/**:r")
                .unwrap(),
            "member-of-groups:ci api:* system:metrics:r artifact:r/**:r"
        );
    }

    #[test]
    fn refuses_empty_and_unknown_choices() {
        assert!(scope("base=none").is_err());
        assert!(scope("base=groups").is_err());
        assert!(scope("base=root").is_err());
    }

    #[test]
    fn expiry_presets_and_custom() {
        let req = |b: &str| create_request(&Form::parse(b.as_bytes()).unwrap());
        assert_eq!(req("expiry=86400").unwrap().expires_in, Some(86400));
        assert_eq!(
            req("expiry=custom&expires_in=42").unwrap().expires_in,
            Some(42)
        );
        assert!(req("expiry=custom").is_err());
        assert!(req("expiry=custom&expires_in=soon").is_err());
        let r = req("expiry=0&refreshable=1&description=ci").unwrap();
        assert_eq!(r.expires_in, Some(0));
        assert_eq!(r.refreshable, Some(true));
        assert_eq!(r.description.as_deref(), Some("ci"));
    }
}
