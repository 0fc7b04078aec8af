//! In-process tests of OIDC apply: a local change stamps and journals the provider with its
//! mappings; a site's record is merged only when later; a delete takes the mappings along.

use super::federation_tests::{receive, site};
use crate::domain::federation::{OidcState, Stamp};
use crate::domain::oidc::{IdentityMapping, OidcProvider, ProviderType, TokenSpec};
use crate::federation::protocol::{Change, JournalEntry};
use crate::raft::command::{Command, CommandResponse};

fn provider(url: &str) -> OidcProvider {
    OidcProvider {
        name: "github".into(),
        issuer_url: url.into(),
        provider_type: ProviderType::GitHub,
        audience: "aud".into(),
        description: String::new(),
        use_default_proxy: false,
    }
}

fn mapping(name: &str) -> IdentityMapping {
    IdentityMapping {
        name: name.into(),
        description: String::new(),
        provider_name: "github".into(),
        priority: 0,
        claims: serde_json::from_str(r#"{"sub": "*"}"#).unwrap(),
        token_spec: TokenSpec {
            username: Some("ci".into()),
            username_pattern: None,
            groups_pattern: None,
            scope: "applied-permissions/user".into(),
            audience: None,
            expires_in: 600,
            refreshable: false,
        },
    }
}

fn from_west(seq: u64, ms: u64, state: OidcState) -> JournalEntry {
    let stamp = Stamp {
        ms,
        n: 0,
        site: "jfac@west".into(),
    };
    JournalEntry {
        origin: "jfac@west".into(),
        seq,
        at_ms: ms,
        change: Change::Oidc {
            name: "github".into(),
            state: OidcState {
                stamp: Some(stamp),
                ..state
            },
        },
        sig: None,
    }
}

#[tokio::test]
async fn oidc_records_merge_last_writer_wins_with_their_mappings() {
    let mut east = site("jfac@east", &["jfac@west"]).await;
    let put = Command::PutOidcProvider {
        provider: provider("https://east.example"),
        create_only: true,
        at_ms: 5_000,
    };
    assert_eq!(east.apply(put).await, CommandResponse::Ok);
    let add = Command::PutIdentityMapping {
        mapping: mapping("main"),
        create_only: true,
        at_ms: 5_001,
    };
    assert_eq!(east.apply(add).await, CommandResponse::Ok);
    let view = east.sm.view();
    assert_eq!(
        view.federation().oidc_writer("github").unwrap().as_deref(),
        Some("jfac@east")
    );
    // Journaled: a full sync carries the provider with its mapping.
    let full = view.federation().fed_full_state("jfac@east").unwrap();
    assert!(full.iter().any(|c| matches!(c,
        Change::Oidc { state, .. } if state.mappings.len() == 1)));

    // An older record from west changes nothing; a later one replaces provider and mappings.
    let older = OidcState {
        stamp: None,
        provider: Some(provider("https://west.example")),
        mappings: vec![],
    };
    let newer = OidcState {
        mappings: vec![mapping("a"), mapping("b")],
        ..older.clone()
    };
    east.apply(receive("jfac@west", 0, 1, vec![from_west(1, 1_000, older)]))
        .await;
    let view = east.sm.view();
    let p = view.accounts().oidc_provider("github").unwrap().unwrap();
    assert_eq!(p.issuer_url, "https://east.example");
    east.apply(receive(
        "jfac@west",
        1,
        2,
        vec![from_west(2, 90_000, newer)],
    ))
    .await;
    let view = east.sm.view();
    let p = view.accounts().oidc_provider("github").unwrap().unwrap();
    assert_eq!(p.issuer_url, "https://west.example");
    assert_eq!(
        view.accounts().identity_mappings("github").unwrap().len(),
        2
    );
    assert_eq!(
        view.federation().oidc_writer("github").unwrap().as_deref(),
        Some("jfac@west")
    );

    // A later delete from west takes the mappings along.
    let gone = OidcState {
        stamp: None,
        provider: None,
        mappings: vec![],
    };
    east.apply(receive("jfac@west", 2, 3, vec![from_west(3, 95_000, gone)]))
        .await;
    let view = east.sm.view();
    assert!(view.accounts().oidc_provider("github").unwrap().is_none());
    assert!(view
        .accounts()
        .identity_mappings("github")
        .unwrap()
        .is_empty());
}
