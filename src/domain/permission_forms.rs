//! The two JSON forms of a permission target: JFrog Access v2 (`resources` → `artifact` …,
//! upper-case actions, `include_patterns`) and Artifactory v2 (`repo`, `build`,
//! `releaseBundle`, lower-case actions, `include-patterns`). Parsing names the field at fault.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::permissions::{
    artifactory_action, Holders, PermError, PermissionTarget, Resource, Target,
};

fn bad(field: impl Into<String>, message: impl Into<String>) -> PermError {
    PermError {
        field: field.into(),
        message: message.into(),
    }
}

fn object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, PermError> {
    v.as_object().ok_or_else(|| bad(field, "must be an object"))
}

fn strings(v: Option<&Value>, field: &str) -> Result<Option<Vec<String>>, PermError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad(field, "must be a list of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad(field, "must be a list of strings")),
    }
}

fn allow_only(m: &Map<String, Value>, field: &str, known: &[&str]) -> Result<(), PermError> {
    match m.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(bad(format!("{field}.{k}"), "unknown field")),
        None => Ok(()),
    }
}

fn holders(v: Option<&Value>, field: &str) -> Result<Holders, PermError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Holders::default());
    };
    let m = object(v, field)?;
    allow_only(m, field, &["users", "groups"])?;
    let mut out = Holders::default();
    for (kind, into) in [("users", &mut out.users), ("groups", &mut out.groups)] {
        let f = format!("{field}.{kind}");
        let Some(entries) = m.get(kind).filter(|v| !v.is_null()) else {
            continue;
        };
        for (name, actions) in object(entries, &f)? {
            let f = format!("{f}.{name}");
            into.insert(
                name.clone(),
                strings(Some(actions), &f)?.unwrap_or_default(),
            );
        }
    }
    Ok(out)
}

fn patterns(
    m: &Map<String, Value>,
    field: &str,
    include: &str,
    exclude: &str,
) -> Result<Target, PermError> {
    Ok(Target {
        include_patterns: strings(m.get(include), &format!("{field}.{include}"))?
            .unwrap_or_else(|| vec!["**".into()]),
        exclude_patterns: strings(m.get(exclude), &format!("{field}.{exclude}"))?
            .unwrap_or_default(),
    })
}

fn name_of(v: &Map<String, Value>, from_path: Option<&str>) -> Result<String, PermError> {
    let given = match v.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad("name", "must be a string")),
    };
    match (given, from_path) {
        (Some(g), Some(p)) if g != p => Err(bad(
            "name",
            format!("'{g}' does not match the path's '{p}'"),
        )),
        (Some(g), _) => Ok(g),
        (None, Some(p)) => Ok(p.to_string()),
        (None, None) => Err(bad("name", "is required")),
    }
}

/// JFrog Access v2: `{"name","resources":{"artifact":{"actions":…,"targets":…}}}`.
pub fn from_access(v: &Value, from_path: Option<&str>) -> Result<PermissionTarget, PermError> {
    let top = object(v, "body")?;
    allow_only(top, "body", &["name", "resources"])?;
    let name = name_of(top, from_path)?;
    let res = object(top.get("resources").unwrap_or(&Value::Null), "resources")?;
    let mut resources = BTreeMap::new();
    for (kind, r) in res {
        let field = format!("resources.{kind}");
        let m = object(r, &field)?;
        allow_only(m, &field, &["actions", "targets"])?;
        let mut targets = BTreeMap::new();
        if let Some(t) = m.get("targets").filter(|t| !t.is_null()) {
            for (repo, pats) in object(t, &format!("{field}.targets"))? {
                let f = format!("{field}.targets.{repo}");
                let pm = object(pats, &f)?;
                allow_only(pm, &f, &["include_patterns", "exclude_patterns"])?;
                targets.insert(
                    repo.clone(),
                    patterns(pm, &f, "include_patterns", "exclude_patterns")?,
                );
            }
        }
        let actions = holders(m.get("actions"), &format!("{field}.actions"))?;
        resources.insert(kind.clone(), Resource { actions, targets });
    }
    PermissionTarget { name, resources }.validated()
}

pub fn to_access(t: &PermissionTarget) -> Value {
    json!({ "name": t.name, "resources": t.resources })
}

/// Artifactory's names of the resource types.
const ARTIFACTORY_KINDS: [(&str, &str); 4] = [
    ("repo", "artifact"),
    ("build", "build"),
    ("releaseBundle", "release_bundle"),
    ("destination", "destination"),
];

/// Artifactory v2: `{"name","repo":{"repositories","include-patterns","exclude-patterns","actions"}}`.
pub fn from_artifactory(v: &Value, from_path: &str) -> Result<PermissionTarget, PermError> {
    let top = object(v, "body")?;
    let known: Vec<&str> = ["name"]
        .into_iter()
        .chain(ARTIFACTORY_KINDS.iter().map(|(a, _)| *a))
        .collect();
    allow_only(top, "body", &known)?;
    let name = name_of(top, Some(from_path))?;
    let mut resources = BTreeMap::new();
    for (theirs, ours) in ARTIFACTORY_KINDS {
        let Some(r) = top.get(theirs).filter(|r| !r.is_null()) else {
            continue;
        };
        let m = object(r, theirs)?;
        allow_only(
            m,
            theirs,
            &[
                "repositories",
                "include-patterns",
                "exclude-patterns",
                "actions",
            ],
        )?;
        let repos =
            strings(m.get("repositories"), &format!("{theirs}.repositories"))?.unwrap_or_default();
        let target = patterns(m, theirs, "include-patterns", "exclude-patterns")?;
        let targets = repos.into_iter().map(|r| (r, target.clone())).collect();
        let actions = holders(m.get("actions"), &format!("{theirs}.actions"))?;
        resources.insert(ours.to_string(), Resource { actions, targets });
    }
    PermissionTarget { name, resources }.validated()
}

pub fn to_artifactory(t: &PermissionTarget) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(t.name));
    for (theirs, ours) in ARTIFACTORY_KINDS {
        let Some(r) = t.resources.get(ours) else {
            continue;
        };
        let lower = |m: &BTreeMap<String, Vec<String>>| -> BTreeMap<String, Vec<String>> {
            m.iter()
                .map(|(k, v)| (k.clone(), v.iter().map(|a| artifactory_action(a)).collect()))
                .collect()
        };
        let mut include: Vec<String> = Vec::new();
        let mut exclude: Vec<String> = Vec::new();
        for t in r.targets.values() {
            include.extend(t.include_patterns.iter().cloned());
            exclude.extend(t.exclude_patterns.iter().cloned());
        }
        for v in [&mut include, &mut exclude] {
            v.sort();
            v.dedup();
        }
        out.insert(
            theirs.into(),
            json!({
                "repositories": r.targets.keys().collect::<Vec<_>>(),
                "include-patterns": include,
                "exclude-patterns": exclude,
                "actions": { "users": lower(&r.actions.users), "groups": lower(&r.actions.groups) },
            }),
        );
    }
    Value::Object(out)
}
