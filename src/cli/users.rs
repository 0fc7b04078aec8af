//! `access-node user add|list|passwd|delete` and `access-node group add|list|delete|members`.

use std::io::{BufRead, IsTerminal};

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{other, segment, CliError, Client};
use super::output;

#[derive(Subcommand, Debug, Clone)]
pub enum UserCmd {
    /// Create a user. The password is read from the terminal (or a line of stdin).
    Add {
        name: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        admin: bool,
        /// Comma-separated groups.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
    },
    /// List users.
    List {
        /// Only the users of this realm: `scim` (provisioned by an identity provider) or
        /// `internal`.
        #[arg(long, value_parser = ["scim", "internal"])]
        realm: Option<String>,
    },
    /// Set a user's password: from the argument, else the terminal (or a line of stdin).
    Passwd {
        name: String,
        /// The new password (prefer leaving it out: argv is visible to other processes).
        password: Option<String>,
    },
    /// Delete a user (revoking all its tokens).
    Delete { name: String },
    /// Disable (deprovision) a user: every token of it stops, its password logs in no more.
    Disable { name: String },
    /// Enable a disabled user again (its old tokens stay dead).
    Enable { name: String },
}

#[derive(Subcommand, Debug, Clone)]
pub enum GroupCmd {
    /// Create a group.
    Add {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// List groups.
    List,
    /// Delete a group.
    Delete { name: String },
    /// Show a group's members, or change them with --add / --remove.
    Members {
        name: String,
        /// Comma-separated users to add.
        #[arg(long, value_delimiter = ',')]
        add: Vec<String>,
        /// Comma-separated users to remove.
        #[arg(long, value_delimiter = ',')]
        remove: Vec<String>,
    },
}

/// A password from the terminal (asked twice), or the first line of stdin when it is not one.
fn read_password(prompt: &str) -> Result<String, CliError> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt).map_err(other)?;
        let again = rpassword::prompt_password("Again: ").map_err(other)?;
        if first != again {
            return Err(CliError::Usage("the passwords do not match".into()));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(other)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if password.is_empty() {
        return Err(CliError::Usage("empty password".into()));
    }
    Ok(password)
}

const USER_COLUMNS: &[&str] = &["username", "email", "admin", "groups", "status", "realm"];

pub fn run_user(client: &Client, json: bool, cmd: UserCmd) -> Result<(), CliError> {
    let cmd_is_disable = matches!(cmd, UserCmd::Disable { .. });
    match cmd {
        UserCmd::Add {
            name,
            email,
            admin,
            groups,
        } => {
            let password = read_password(&format!("Password for {name}: "))?;
            let mut body =
                json!({ "username": name, "password": password, "admin": admin, "groups": groups });
            if let Some(email) = email {
                body["email"] = Value::from(email);
            }
            let v = client.send_json(Method::POST, "/access/api/v2/users", &body)?;
            output::print(json, &v, |v| output::fields(v, USER_COLUMNS));
        }
        UserCmd::List { realm } => {
            let mut v = client.get("/access/api/v2/users")?;
            if let (Some(realm), Some(users)) =
                (realm, v.get_mut("users").and_then(Value::as_array_mut))
            {
                users.retain(|u| u["realm"] == realm.as_str());
            }
            output::print(json, &v, |v| {
                output::rows(USER_COLUMNS, output::list(v, "users"))
            });
        }
        UserCmd::Passwd { name, password } => {
            let password = match password {
                Some(p) => p,
                None => read_password(&format!("New password for {name}: "))?,
            };
            let v = client.send_json(
                Method::PATCH,
                &format!("/access/api/v2/users/{}", segment(&name)),
                &json!({ "password": password }),
            )?;
            output::print(json, &v, |v| output::fields(v, USER_COLUMNS));
        }
        UserCmd::Disable { name } | UserCmd::Enable { name } => {
            let status = match cmd_is_disable {
                true => "disabled",
                false => "enabled",
            };
            let v = client.send_json(
                Method::PATCH,
                &format!("/access/api/v2/users/{}", segment(&name)),
                &json!({ "status": status }),
            )?;
            output::print(json, &v, |v| output::fields(v, USER_COLUMNS));
        }
        UserCmd::Delete { name } => {
            client.delete(&format!("/access/api/v2/users/{}", segment(&name)))?;
            output::print(json, &json!({ "deleted": name }), |v| {
                output::fields(v, &[])
            });
        }
    }
    Ok(())
}

pub fn run_group(client: &Client, json: bool, cmd: GroupCmd) -> Result<(), CliError> {
    match cmd {
        GroupCmd::Add { name, description } => {
            let mut body = json!({ "name": name });
            if let Some(d) = description {
                body["description"] = Value::from(d);
            }
            let v = client.send_json(Method::POST, "/access/api/v2/groups", &body)?;
            output::print(json, &v, |v| output::fields(v, &["name", "description"]));
        }
        GroupCmd::List => {
            let v = client.get("/access/api/v2/groups")?;
            output::print(json, &v, |v| {
                output::rows(&["name", "description"], output::list(v, "groups"))
            });
        }
        GroupCmd::Delete { name } => {
            client.delete(&format!("/access/api/v2/groups/{}", segment(&name)))?;
            output::print(json, &json!({ "deleted": name }), |v| {
                output::fields(v, &[])
            });
        }
        GroupCmd::Members { name, add, remove } => {
            let v = if add.is_empty() && remove.is_empty() {
                // The members are the users that name the group.
                client.get(&format!("/access/api/v2/groups/{}", segment(&name)))?;
                let users = client.get("/access/api/v2/users")?;
                let members: Vec<Value> = output::list(&users, "users")
                    .iter()
                    .filter(|u| {
                        u.get("groups")
                            .and_then(Value::as_array)
                            .is_some_and(|g| g.iter().any(|g| g.as_str() == Some(&name)))
                    })
                    .filter_map(|u| u.get("username").cloned())
                    .collect();
                json!({ "name": name, "members": members })
            } else {
                client.send_json(
                    Method::PATCH,
                    &format!("/access/api/v2/groups/{}/members", segment(&name)),
                    &json!({ "add": add, "remove": remove }),
                )?
            };
            output::print(json, &v, |v| output::fields(v, &["name", "members"]));
        }
    }
    Ok(())
}
