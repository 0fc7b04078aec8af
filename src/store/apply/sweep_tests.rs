//! In-process tests of what several applies add up to: the principals generation moves only
//! for changes to what tokens act as, and an expiry sweep in slices drops exactly what one
//! whole sweep would.

use super::tests::{plain, user, Machine, SID};
use crate::domain::token::subject_for;
use crate::raft::command::{Command, CommandResponse, SweepFrom};

#[tokio::test]
async fn only_changes_to_what_tokens_act_as_move_the_principals_generation() {
    let mut m = Machine::new().await;
    let view = m.sm.view();
    let mut generation = view.principals_generation();
    let mut expect_moved = |moved: bool, what: &str| {
        let now = view.principals_generation();
        assert_eq!(now != generation, moved, "{what}");
        generation = now;
    };
    // Token records and login throttling: many per second, and none changes a caller's rights.
    m.apply(Command::Batch {
        commands: vec![
            Command::IssueToken {
                record: plain("g1", "ci", 1_000, None),
            },
            Command::LoginFailed {
                keys: vec!["user:ci".into()],
                at_ms: 1_000,
                reset_after_secs: 60,
            },
        ],
    })
    .await;
    m.apply(Command::RevokeToken {
        token_id: "g1".into(),
        revoked_at: 2_000,
    })
    .await;
    expect_moved(false, "token writes");
    // A user, a subject cut-off, or a batch that carries one: callers must be derived again.
    m.apply(Command::PutUser {
        user: user("ci", true, &[]),
        create_only: false,
        at_ms: 0,
    })
    .await;
    expect_moved(true, "a user");
    m.apply(Command::RevokeSubject {
        subject: subject_for(SID, "ci"),
        revoked_at: 3_000,
    })
    .await;
    expect_moved(true, "a subject cut-off");
    m.apply(Command::Batch {
        commands: vec![
            Command::IssueToken {
                record: plain("g2", "ci", 4_000, None),
            },
            Command::PutUser {
                user: user("ci", false, &[]),
                create_only: false,
                at_ms: 0,
            },
        ],
    })
    .await;
    expect_moved(true, "a batch with a user");
}

#[tokio::test]
async fn an_expiry_sweep_in_slices_drops_exactly_what_one_sweep_would() {
    let mut m = Machine::new().await;
    // 7 tokens, every other one expired at 5_000; then 3 revocations, one expired.
    let mut commands = Vec::new();
    for i in 0..7u64 {
        let expiry = if i % 2 == 0 { Some(1_100) } else { None };
        commands.push(Command::IssueToken {
            record: plain(&format!("t{i}"), "ci", 1_000, expiry),
        });
    }
    for (id, expiry) in [("r0", Some(1_200)), ("r1", None), ("r2", Some(9_000))] {
        let mut rec = plain(id, "ci", 1_000, expiry);
        rec.revocable = true;
        commands.push(Command::IssueToken { record: rec });
        commands.push(Command::RevokeToken {
            token_id: id.into(),
            revoked_at: 1_050,
        });
    }
    m.apply(Command::Batch { commands }).await;
    let slice = |from: Option<SweepFrom>| Command::ExpireBefore {
        now: 5_000,
        grace_secs: 0,
        logins_before_ms: 0,
        from,
        limit: Some(3),
    };
    let (mut tokens, mut revocations, mut slices) = (0, 0, 0);
    let mut from = None;
    loop {
        slices += 1;
        match m.apply(slice(from.clone())).await {
            CommandResponse::Expired {
                tokens: t,
                revocations: r,
                next,
            } => {
                tokens += t;
                revocations += r;
                match next {
                    Some(n) => from = Some(n),
                    None => break,
                }
            }
            other => panic!("{other:?}"),
        }
        assert!(slices < 20, "the sweep does not end");
    }
    // Tokens 3 + 3 + 1 (then the revocations start), revocations 3 (+ an empty end).
    assert!(slices >= 4, "{slices} slices");
    assert_eq!((tokens, revocations), (4, 1));
    let view = m.sm.view();
    for i in 0..7 {
        assert_eq!(view.holds_token(&format!("t{i}")).unwrap(), i % 2 == 1);
    }
    assert!(view.revocation("r0").unwrap().is_none());
    assert!(view.revocation("r1").unwrap().is_some());
    assert!(view.revocation("r2").unwrap().is_some());
}
