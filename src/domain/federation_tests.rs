use proptest::prelude::*;

use super::*;

fn stamp(ms: u64, n: u32, site: &str) -> Stamp {
    Stamp {
        ms,
        n,
        site: site.into(),
    }
}

fn fields(email: &str) -> Option<UserFields> {
    Some(UserFields {
        password_hash: Some(format!("hash-{email}")),
        email: Some(email.into()),
        created_at: 1,
        disabled: false,
        scim: None,
    })
}

/// A random change to one user, as one of three sites would make it.
fn change() -> impl Strategy<Value = UserState> {
    let site = prop::sample::select(vec!["a", "b", "c"]);
    let group = prop::sample::select(vec!["dev", "ops", "qa"]);
    (0u64..20, 0u32..3, site, 0u8..4, group, any::<bool>()).prop_map(
        |(ms, n, site, kind, group, present)| {
            let s = stamp(ms, n, site);
            match kind {
                0 => UserState::local_change(&[], fields(&format!("{site}{ms}")), None, &s),
                1 => UserState::local_change(&[], None, None, &s),
                _ => {
                    let (before, after) = match present {
                        true => (vec![], vec![group.to_string()]),
                        false => (vec![group.to_string()], vec![]),
                    };
                    UserState::local_change(
                        &before,
                        fields(&format!("{site}{ms}")),
                        Some(&after),
                        &s,
                    )
                }
            }
        },
    )
}

/// Two events never share a stamp (a site's clock ticks per event): give each change its own.
fn unique(mut changes: Vec<UserState>) -> Vec<UserState> {
    for (i, c) in changes.iter_mut().enumerate() {
        let n = i as u32;
        for s in c.stamp.iter_mut().chain(c.deleted_at.iter_mut()) {
            s.n = n;
        }
        for m in c.members.values_mut() {
            m.stamp.n = n;
        }
    }
    changes
}

fn merged(changes: &[UserState]) -> UserState {
    let mut state = UserState::default();
    for c in changes {
        state.merge(c);
    }
    state
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Every arrival order ends in the same state, and seeing a change twice changes nothing.
    #[test]
    fn users_converge_whatever_the_arrival_order(
        changes in prop::collection::vec(change(), 1..12),
        seed in any::<u64>(),
    ) {
        let changes = unique(changes);
        let expected = merged(&changes);
        let mut shuffled = changes.clone();
        let mut rng = seed;
        for i in (1..shuffled.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (rng >> 33) as usize % (i + 1));
        }
        let mut twice = shuffled.clone();
        twice.extend(shuffled.iter().cloned());
        prop_assert_eq!(&merged(&shuffled), &expected);
        prop_assert_eq!(&merged(&twice), &expected);
        prop_assert_eq!(merged(&shuffled).groups(), expected.groups());
    }

    /// Merging is associative: joining two partial merges equals merging everything.
    #[test]
    fn user_merge_is_associative(
        left in prop::collection::vec(change(), 0..6),
        right in prop::collection::vec(change(), 0..6),
    ) {
        let all = unique(left.iter().chain(&right).cloned().collect());
        let (left, right) = all.split_at(left.len());
        let mut joined = merged(left);
        joined.merge(&merged(right));
        prop_assert_eq!(joined, merged(&all));
    }

    /// Groups: the highest stamp wins, in any order.
    #[test]
    fn groups_converge(stamps in prop::collection::vec((0u64..10, 0u32..2, any::<bool>()), 1..10)) {
        let changes: Vec<GroupState> = stamps
            .iter()
            .enumerate()
            .map(|(i, (ms, _, alive))| GroupState {
                stamp: Some(stamp(*ms, i as u32, if i % 2 == 0 { "a" } else { "b" })),
                fields: alive.then(|| GroupFields { description: Some(format!("{i}")), created_at: 0, scim: None }),
            })
            .collect();
        let mut forward = GroupState::default();
        changes.iter().for_each(|c| forward.merge(c));
        let mut backward = GroupState::default();
        changes.iter().rev().for_each(|c| backward.merge(c));
        prop_assert_eq!(forward, backward);
    }

    /// The clock never goes back, and after observing a stamp every local event sorts after it.
    #[test]
    fn clock_is_monotonic(events in prop::collection::vec((any::<bool>(), 0u64..50, 0u32..4), 1..30)) {
        let mut clock = Clock::default();
        let mut last = clock.stamp("a");
        for (remote, ms, n) in events {
            if remote {
                let r = stamp(ms, n, "b");
                clock = clock.observe(&r);
                let next = clock.tick(0).stamp("a");
                prop_assert!(next > r || (next.ms == r.ms && next.n > r.n));
            } else {
                clock = clock.tick(ms);
            }
            let now = clock.stamp("a");
            prop_assert!((now.ms, now.n) >= (last.ms, last.n));
            last = now;
        }
    }
}

#[test]
fn delete_and_update_resolve_by_stamp_and_site() {
    let update = UserState::local_change(&[], fields("b"), None, &stamp(5, 0, "b"));
    let delete = UserState::local_change(&[], None, None, &stamp(5, 0, "a"));
    // Same time: site id breaks the tie ("b" > "a"), so the update wins on both sides.
    assert!(merged(&[update.clone(), delete.clone()]).exists());
    assert!(merged(&[delete.clone(), update.clone()]).exists());
    let later_delete = UserState::local_change(&[], None, None, &stamp(6, 0, "a"));
    assert!(!merged(&[update, later_delete]).exists());
}

#[test]
fn concurrent_memberships_merge_instead_of_clobbering() {
    let s1 = stamp(10, 0, "a");
    let s2 = stamp(10, 0, "b");
    let create = UserState::local_change(&[], fields("x"), Some(&[]), &stamp(1, 0, "a"));
    let add_dev = UserState::local_change(&[], fields("x"), Some(&["dev".into()]), &s1);
    let add_ops = UserState::local_change(&[], fields("x"), Some(&["ops".into()]), &s2);
    let state = merged(&[create, add_dev, add_ops]);
    assert_eq!(state.groups(), vec!["dev".to_string(), "ops".to_string()]);
}

#[test]
fn a_delete_drops_earlier_memberships_even_after_recreation() {
    let add = UserState::local_change(&[], fields("x"), Some(&["dev".into()]), &stamp(1, 0, "a"));
    let delete = UserState::local_change(&[], None, None, &stamp(2, 0, "b"));
    let again = UserState::local_change(&[], fields("y"), Some(&[]), &stamp(3, 0, "a"));
    let state = merged(&[again, delete, add]);
    assert!(state.exists());
    assert!(state.groups().is_empty());
}

#[test]
fn arrivals_are_applied_in_order_only() {
    assert_eq!(arrival(3, 4), Arrival::Apply);
    assert_eq!(arrival(3, 3), Arrival::Duplicate);
    assert_eq!(arrival(3, 1), Arrival::Duplicate);
    assert_eq!(arrival(3, 5), Arrival::Gap);
    let mut v: Vector = [("a".to_string(), 3)].into();
    assert!(join_vectors(
        &mut v,
        &[("a".to_string(), 5), ("b".to_string(), 1)].into()
    ));
    assert!(!join_vectors(&mut v, &[("a".to_string(), 4)].into()));
    assert_eq!(v["a"], 5);
}
