//! The audit events of replicated changes: every node logs the security changes it applies
//! (origin `log`), whichever node served them. The node subscribes this to what its state
//! machine applies (`StateMachine::subscribe_entries`). Token issues and refreshes are left to the
//! serving node (one line per token is enough); revocations are logged everywhere.

use openraft::{BasicNode, StoredMembership};
use serde_json::json;

use super::command::{Command, CommandResponse};
use super::NodeId;
use crate::telemetry::audit::Event;

/// The user name of a token subject `<service id>/users/<name>`, else the subject itself.
fn user_of(subject: &str) -> &str {
    subject
        .rsplit_once("/users/")
        .map(|(_, u)| u)
        .unwrap_or(subject)
}

/// The events of `cmd`, applied with `response`. Only changes that took effect count.
pub fn events(cmd: &Command, response: &CommandResponse) -> Vec<Event> {
    use CommandResponse::Ok as Done;
    let one = |e: Event| vec![e];
    match (cmd, response) {
        (Command::Batch { commands }, CommandResponse::Batch(responses)) => commands
            .iter()
            .zip(responses)
            .flat_map(|(c, r)| events(c, r))
            .collect(),
        (Command::RevokeToken { token_id, .. }, CommandResponse::Revoked(record)) => {
            one(Event::applied("token.revoked")
                .subject(record.username.clone())
                .field("token_id", token_id)
                .field("token_kind", record.kind)
                .field("scope", &record.scope)
                .field("expiry", record.expiry))
        }
        (Command::RevokeSubject { subject, .. }, Done) => {
            one(Event::applied("token.subject_revoked")
                .subject(user_of(subject))
                .field("token_subject", subject))
        }
        (
            Command::PutUser {
                user, create_only, ..
            },
            Done,
        ) => one(Event::applied(if *create_only {
            "user.created"
        } else {
            "user.updated"
        })
        .subject(user.username.clone())
        .field("admin", user.admin)
        .field("groups", &user.groups)),
        (Command::DeleteUser { username, .. }, Done) => {
            one(Event::applied("user.deleted").subject(username.clone()))
        }
        (
            Command::UpdateUser {
                username,
                password_hash,
                email,
                admin,
                groups,
                disabled,
                scim,
                ..
            },
            Done,
        ) => {
            let password = password_hash.is_some();
            let changed: Vec<&str> = [
                ("password", password),
                ("email", email.is_some()),
                ("admin", admin.is_some()),
                ("groups", groups.is_some()),
                ("status", disabled.is_some()),
                ("scim", scim.is_some()),
            ]
            .into_iter()
            .filter_map(|(name, set)| set.then_some(name))
            .collect();
            let kind = if changed == ["password"] {
                "user.password_changed"
            } else {
                "user.updated"
            };
            let mut event = Event::applied(kind)
                .subject(username.clone())
                .field("changed", changed)
                .field("admin", admin);
            if let Some(d) = disabled {
                event = event.field("status", if *d { "disabled" } else { "enabled" });
            }
            one(event)
        }
        (
            Command::PutGroup {
                group, create_only, ..
            },
            Done,
        ) => one(Event::applied(if *create_only {
            "group.created"
        } else {
            "group.updated"
        })
        .field("group", &group.name)),
        (Command::DeleteGroup { name, .. }, Done) => {
            one(Event::applied("group.deleted").field("group", name))
        }
        (
            Command::UpdateGroupMembers {
                group, add, remove, ..
            },
            Done,
        ) => one(Event::applied("group.members_changed")
            .field("group", group)
            .field("added", add)
            .field("removed", remove)),
        (Command::PutTrusted { cert }, Done) => one(Event::applied("trust.added")
            .field("name", &cert.name)
            .field("kid", &cert.kid)
            .field("service_id", &cert.service_id)),
        (Command::RemoveTrusted { name }, Done) => {
            one(Event::applied("trust.removed").field("name", name))
        }
        (Command::RotateKey { key, keep_old, .. }, Done) => one(Event::applied("cert.reset")
            .field("kid", &key.kid)
            .field("keep_old", keep_old)),
        (
            Command::PutPermission {
                target,
                create_only,
                ..
            },
            Done,
        ) => one(Event::applied(if *create_only {
            "permission.created"
        } else {
            "permission.updated"
        })
        .field("permission", &target.name)),
        (Command::DeletePermission { name, .. }, Done) => {
            one(Event::applied("permission.deleted").field("permission", name))
        }
        (
            Command::PutOidcProvider {
                provider,
                create_only,
                ..
            },
            Done,
        ) => one(Event::applied(if *create_only {
            "oidc.provider_created"
        } else {
            "oidc.provider_updated"
        })
        .field("provider", &provider.name)
        .field("issuer_url", &provider.issuer_url)
        .field("audience", &provider.audience)),
        (Command::DeleteOidcProvider { name, .. }, Done) => {
            one(Event::applied("oidc.provider_deleted").field("provider", name))
        }
        (
            Command::PutIdentityMapping {
                mapping,
                create_only,
                ..
            },
            Done,
        ) => one(Event::applied(if *create_only {
            "oidc.mapping_created"
        } else {
            "oidc.mapping_updated"
        })
        .field("provider", &mapping.provider_name)
        .field("mapping", &mapping.name)
        .field("claims", &mapping.claims)
        .field("token_spec", &mapping.token_spec)),
        (Command::DeleteIdentityMapping { provider, name, .. }, Done) => {
            one(Event::applied("oidc.mapping_deleted")
                .field("provider", provider)
                .field("mapping", name))
        }
        (Command::FederationPeer { peer }, Done) => one(Event::applied("federation.peer_set")
            .field("peer", &peer.name)
            .field("url", &peer.url)
            .field("active", peer.active)),
        (Command::FederationRemovePeer { name }, Done) => {
            one(Event::applied("federation.peer_removed").field("peer", name))
        }
        _ => Vec::new(),
    }
}

/// A membership change this node applied: the members after it.
fn membership(m: &StoredMembership<NodeId, BasicNode>) -> Event {
    let m = m.membership();
    let voters: Vec<NodeId> = m.voter_ids().collect();
    let members: Vec<_> = m
        .nodes()
        .map(|(id, n)| json!({ "id": id, "url": n.addr }))
        .collect();
    Event::applied("cluster.membership_changed")
        .field("voters", voters)
        .field("members", members)
}

/// Write the events of one applied log entry (a command or a membership change).
pub fn emit(
    cmd: Option<&Command>,
    member_change: Option<&StoredMembership<NodeId, BasicNode>>,
    response: &CommandResponse,
) {
    if let Some(cmd) = cmd {
        Event::emit_all(events(cmd, response));
    }
    if let Some(m) = member_change {
        membership(m).emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(password: bool, admin: Option<bool>) -> Command {
        Command::UpdateUser {
            username: "alice".into(),
            password_hash: password.then(|| "$argon2id$secret-hash".to_string()),
            email: None,
            admin,
            groups: None,
            disabled: None,
            scim: None,
            at: 1,
            at_ms: 0,
        }
    }

    #[test]
    fn password_changes_are_named_and_never_carry_the_hash() {
        let e = events(&update(true, None), &CommandResponse::Ok);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind, "user.password_changed");
        assert_eq!(e[0].subject.as_deref(), Some("alice"));
        let line = serde_json::to_string(&e[0]).unwrap();
        assert!(!line.contains("argon2"), "{line}");
        let e = events(&update(true, Some(true)), &CommandResponse::Ok);
        assert_eq!(e[0].kind, "user.updated");
        assert_eq!(e[0].fields["changed"], json!(["password", "admin"]));
    }

    #[test]
    fn only_changes_that_took_effect_and_batches_per_command() {
        assert!(events(&update(true, None), &CommandResponse::NotFound).is_empty());
        let batch = Command::Batch {
            commands: vec![
                Command::RemoveTrusted { name: "a".into() },
                Command::RemoveTrusted { name: "b".into() },
            ],
        };
        let answered = CommandResponse::Batch(vec![CommandResponse::NotFound, CommandResponse::Ok]);
        let e = events(&batch, &answered);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind, "trust.removed");
        assert_eq!(e[0].fields["name"], "b");
        assert_eq!(e[0].origin.as_deref(), Some("log"));
        assert_eq!(user_of("jfrt@01abc/users/bob"), "bob");
    }
}
