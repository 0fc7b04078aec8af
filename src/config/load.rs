//! Loading a configuration: the built-in defaults, the YAML file laid over them, then the
//! `ACCESS_NODE_*` variables, each checked against the keys the defaults name.

use std::path::Path;

use serde_yaml_ng::{Mapping, Value};

use super::{Config, ConfigError, CLIENT_ENV, DEFAULT_YAML, ENV_CONFIG_FILE, ENV_PREFIX};

impl Config {
    /// Built-in defaults only.
    pub fn defaults() -> Config {
        Self::load(None, std::iter::empty()).expect("built-in defaults are valid")
    }

    /// Defaults, then `file` (if any), then `ACCESS_NODE_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut value = parse_yaml("<built-in defaults>", DEFAULT_YAML)?;
        let leaves = leaf_paths(&value);
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let overlay = parse_yaml(&path.display().to_string(), &text)?;
            if !overlay.is_null() {
                merge(&mut value, overlay);
            }
        }
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if name == ENV_CONFIG_FILE || CLIENT_ENV.contains(&name.as_str()) {
                continue;
            }
            let (path, default) = leaves
                .iter()
                .find(|(p, _)| env_name(p) == rest)
                .ok_or_else(|| ConfigError::UnknownEnv(name.clone()))?;
            // Strings stay verbatim (a password may look like YAML); other leaves parse as YAML.
            let parsed = match default {
                Value::String(_) => Value::String(raw),
                _ => serde_yaml_ng::from_str(&raw).map_err(|e| ConfigError::Key {
                    key: format!("{} (from {name})", path.join(".")),
                    message: e.to_string(),
                })?,
            };
            set_path(&mut value, path, parsed);
        }
        let config: Config =
            serde_path_to_error::deserialize(value).map_err(|e| ConfigError::Key {
                key: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        config.validate()?;
        Ok(config)
    }
}

fn parse_yaml(origin: &str, text: &str) -> Result<Value, ConfigError> {
    serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Yaml {
        path: origin.to_string(),
        message: e.to_string(),
    })
}

fn env_name(path: &[String]) -> String {
    path.join("_").replace('-', "_").to_ascii_uppercase()
}

fn leaf_paths(v: &Value) -> Vec<(Vec<String>, Value)> {
    fn walk(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
        match v {
            Value::Mapping(m) => {
                for (k, child) in m {
                    if let Some(k) = k.as_str() {
                        prefix.push(k.to_string());
                        walk(child, prefix, out);
                        prefix.pop();
                    }
                }
            }
            leaf => out.push((prefix.clone(), leaf.clone())),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

fn set_path(root: &mut Value, path: &[String], leaf: Value) {
    let mut cur = root;
    for key in path {
        if !cur.is_mapping() {
            *cur = Value::Mapping(Mapping::new());
        }
        let map = cur.as_mapping_mut().expect("just made a mapping");
        cur = map.entry(Value::String(key.clone())).or_insert(Value::Null);
    }
    *cur = leaf;
}
