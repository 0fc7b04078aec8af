//! In-process tests of permission targets: create-only, the holder index, and deleting a user
//! or group removing it from every target (also when the delete comes from a federated site).

use serde_json::json;

use super::tests::Machine;
use crate::domain::accounts::{GroupRecord, UserRecord};
use crate::domain::permission_forms::from_access;
use crate::domain::permissions::PermissionTarget;
use crate::raft::command::{Command, CommandResponse};

fn target(name: &str) -> PermissionTarget {
    from_access(
        &json!({"name": name, "resources": {"artifact": {
            "actions": {"users": {"bob": ["READ"]}, "groups": {"ci": ["WRITE"], "qa": ["READ"]}},
            "targets": {"generic-local": {}}}}}),
        None,
    )
    .unwrap()
}

fn put(t: PermissionTarget, create_only: bool) -> Command {
    Command::PutPermission {
        target: t,
        create_only,
        at_ms: 1,
    }
}

#[tokio::test]
async fn deleting_a_user_or_group_removes_it_from_every_target() {
    let mut m = Machine::with_service_id("jfac@perm").await;
    for g in ["ci", "qa"] {
        let group = GroupRecord {
            name: g.into(),
            description: None,
            created_at: 1,
            scim: None,
        };
        let r = m
            .apply(Command::PutGroup {
                group,
                create_only: true,
                at_ms: 1,
            })
            .await;
        assert_eq!(r, CommandResponse::Ok);
    }
    let bob = UserRecord {
        username: "bob".into(),
        password_hash: None,
        email: None,
        admin: false,
        groups: vec![],
        created_at: 1,
        disabled: false,
        scim: None,
    };
    m.apply(Command::PutUser {
        user: bob,
        create_only: true,
        at_ms: 1,
    })
    .await;
    assert_eq!(m.apply(put(target("p1"), true)).await, CommandResponse::Ok);
    assert_eq!(m.apply(put(target("p2"), true)).await, CommandResponse::Ok);
    let mut other = target("p1");
    other
        .resources
        .get_mut("artifact")
        .unwrap()
        .actions
        .users
        .clear();
    assert_eq!(m.apply(put(other, true)).await, CommandResponse::Conflict);

    m.apply(Command::DeleteGroup {
        name: "ci".into(),
        at_ms: 2,
    })
    .await;
    m.apply(Command::DeleteUser {
        username: "bob".into(),
        revoked_at: 2,
        at_ms: 2,
    })
    .await;
    for name in ["p1", "p2"] {
        let t = m.sm.view().accounts().permission(name).unwrap().unwrap();
        let a = &t.resources["artifact"].actions;
        assert!(a.users.is_empty(), "{t:?}");
        assert_eq!(a.groups.keys().collect::<Vec<_>>(), vec!["qa"], "{t:?}");
    }
    let r = m
        .apply(Command::DeletePermission {
            name: "p1".into(),
            at_ms: 3,
        })
        .await;
    assert_eq!(r, CommandResponse::Ok);
    let again = m
        .apply(Command::DeletePermission {
            name: "p1".into(),
            at_ms: 3,
        })
        .await;
    assert_eq!(again, CommandResponse::NotFound);
    // The index forgot p1: deleting qa now touches p2 only.
    m.apply(Command::DeleteGroup {
        name: "qa".into(),
        at_ms: 4,
    })
    .await;
    assert!(m.sm.view().accounts().permission("p1").unwrap().is_none());
    let p2 = m.sm.view().accounts().permission("p2").unwrap().unwrap();
    assert!(p2.resources["artifact"].actions.groups.is_empty());
}
