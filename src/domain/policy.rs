//! Who may mint, revoke and manage what. Pure functions over an authenticated principal.

use super::grant::{within, NotWithin};
use super::scope::Scope;

/// How a caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A local user's password.
    Password,
    /// A token verified by one of this cluster's own keys.
    LocalToken {
        /// The token's scope: the most a token minted with it may carry.
        scope: Scope,
        /// Unix seconds; None = never expires.
        expiry: Option<u64>,
    },
    /// A token verified by a trusted cluster's key: usable where accepted, never to mint.
    ForeignToken { issuer: String },
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub username: String,
    pub admin: bool,
    /// Groups the caller acts with: its user's groups and/or the groups its token names.
    pub groups: Vec<String>,
    /// Token id when the caller authenticated with a token.
    pub token_id: Option<String>,
    /// Scope of that token (None for password logins).
    pub scope: Option<String>,
    pub credential: Credential,
}

#[derive(Debug, Clone)]
pub struct MintRequest<'a> {
    pub username: &'a str,
    pub scope: &'a Scope,
    /// Seconds; 0 means the token never expires.
    pub expires_in: u64,
    pub refreshable: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct MintLimits {
    pub non_admin_max_expiry: u64,
    pub allow_refreshable: bool,
    /// Unix seconds now: a derived token must not outlive the token that asked for it.
    pub now: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("non-admin users can only create tokens for themselves")]
    ForeignSubject,
    #[error("only admins can create tokens with admin scope")]
    AdminScope,
    #[error("user is not a member of group '{0}'")]
    ForeignGroup(String),
    #[error("only admins can create tokens with artifact or system scopes")]
    ResourceScope,
    #[error("non-admin users can only create tokens expiring within {0} seconds")]
    ExpiryTooLong(u64),
    #[error("refreshable tokens are disabled on this server (token.allow-refreshable)")]
    RefreshableDisabled,
    #[error("only admins or the token's owner can revoke it")]
    NotOwner,
    #[error("this operation requires an admin")]
    AdminOnly,
    #[error("a token of a trusted cluster ({0}) cannot create tokens here")]
    ForeignCredential(String),
    #[error("scope {0}")]
    Exceeds(#[from] NotWithin),
    #[error("a token created with token credentials cannot outlive the calling token")]
    OutlivesCaller,
    #[error("user '{0}' is disabled: no token is issued for it")]
    UserDisabled(String),
    /// SCIM needs an admin of this cluster or a token scoped `system:scim:r`/`:rw`.
    #[error("SCIM needs an admin, or a token of this cluster scoped system:scim:{0}")]
    ScimScope(&'static str),
    /// A SCIM-only caller touching an admin's account.
    #[error("user '{0}' is an admin: only an admin may change it")]
    AdminAccount(String),
    /// A form post of the web page without its origin or synchronizer token.
    #[error("refused as a possible cross-site request: {0}")]
    CrossSite(&'static str),
}

/// Admins mint anything. A foreign token mints nothing. Others mint only for themselves, no
/// longer than the non-admin maximum (never-expiring counts as longer), and:
/// - with a password: within their groups, no admin or resource scopes;
/// - with a token: at most what that token carries (see [`within`]), expiring no later than
///   it, and not refreshable unless it never expires (a refresh would outlive it).
pub fn authorize_mint(
    who: &Principal,
    req: &MintRequest<'_>,
    limits: MintLimits,
) -> Result<(), PolicyError> {
    if req.refreshable && !limits.allow_refreshable {
        return Err(PolicyError::RefreshableDisabled);
    }
    if let Credential::ForeignToken { issuer } = &who.credential {
        return Err(PolicyError::ForeignCredential(issuer.clone()));
    }
    if who.admin {
        return Ok(());
    }
    if req.username != who.username {
        return Err(PolicyError::ForeignSubject);
    }
    if req.scope.is_admin() {
        return Err(PolicyError::AdminScope);
    }
    match &who.credential {
        Credential::LocalToken { scope, expiry } => {
            within(req.scope, scope, &who.groups)?;
            if let Some(expiry) = *expiry {
                let ends = (req.expires_in > 0)
                    .then(|| limits.now.checked_add(req.expires_in))
                    .flatten();
                if req.refreshable || ends.is_none_or(|e| e > expiry) {
                    return Err(PolicyError::OutlivesCaller);
                }
            }
        }
        _ => {
            if req.scope.has_resource_scopes() {
                return Err(PolicyError::ResourceScope);
            }
            if let Some(g) = req
                .scope
                .groups()
                .into_iter()
                .find(|g| !who.groups.iter().any(|mine| mine == g))
            {
                return Err(PolicyError::ForeignGroup(g.to_string()));
            }
        }
    }
    if req.expires_in == 0 || req.expires_in > limits.non_admin_max_expiry {
        return Err(PolicyError::ExpiryTooLong(limits.non_admin_max_expiry));
    }
    Ok(())
}

/// A token the caller mints for itself through a fixed door (identity and pairing tokens):
/// admins and password logins may; a local token only within itself and its lifetime; a
/// trusted cluster's token never.
pub fn authorize_own_token(
    who: &Principal,
    scope: &Scope,
    expires_in: u64,
    now: u64,
) -> Result<(), PolicyError> {
    match &who.credential {
        Credential::ForeignToken { issuer } => Err(PolicyError::ForeignCredential(issuer.clone())),
        _ if who.admin => Ok(()),
        Credential::Password => Ok(()),
        Credential::LocalToken {
            scope: held,
            expiry,
        } => {
            within(scope, held, &who.groups)?;
            let ends = (expires_in > 0)
                .then(|| now.checked_add(expires_in))
                .flatten();
            match expiry {
                Some(e) if ends.is_none_or(|end| end > *e) => Err(PolicyError::OutlivesCaller),
                _ => Ok(()),
            }
        }
    }
}

/// Whether the caller speaks for the local user of its name (a trusted cluster's token never
/// does: its user is another cluster's).
pub fn is_local_user(who: &Principal, username: &str) -> bool {
    who.username == username && !matches!(who.credential, Credential::ForeignToken { .. })
}

/// Admins revoke any token; a user revokes its own; a token may always revoke itself.
pub fn authorize_revoke(
    who: &Principal,
    token_username: &str,
    token_id: &str,
) -> Result<(), PolicyError> {
    // A trusted cluster picks its own tokens' ids: "itself" only counts for local tokens.
    let itself = who.token_id.as_deref() == Some(token_id)
        && !matches!(who.credential, Credential::ForeignToken { .. });
    if who.admin || is_local_user(who, token_username) || itself {
        Ok(())
    } else {
        Err(PolicyError::NotOwner)
    }
}

/// Whether the caller may perform `action` on `<repo>/<path>`: a token by its scope; a
/// password login only when admin (user permissions are not modelled yet).
pub fn require_admin(who: &Principal) -> Result<(), PolicyError> {
    if who.admin {
        Ok(())
    } else {
        Err(PolicyError::AdminOnly)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: MintLimits = MintLimits {
        non_admin_max_expiry: 3600,
        allow_refreshable: true,
        now: 1000,
    };

    fn user(name: &str, admin: bool, groups: &[&str]) -> Principal {
        Principal {
            username: name.into(),
            admin,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            token_id: None,
            scope: None,
            credential: Credential::Password,
        }
    }

    fn token_caller(name: &str, admin: bool, scope: &str, expiry: Option<u64>) -> Principal {
        let parsed = Scope::parse(scope).unwrap();
        Principal {
            username: name.into(),
            admin,
            groups: parsed.groups().into_iter().map(String::from).collect(),
            token_id: Some("t".into()),
            scope: Some(scope.into()),
            credential: Credential::LocalToken {
                scope: parsed,
                expiry,
            },
        }
    }

    fn mint<'a>(username: &'a str, scope: &'a Scope, expires_in: u64) -> MintRequest<'a> {
        MintRequest {
            username,
            scope,
            expires_in,
            refreshable: false,
        }
    }

    #[test]
    fn admin_mints_anything() {
        let admin = user("admin", true, &[]);
        let s = Scope::parse("applied-permissions/admin artifact:r/**:*").unwrap();
        assert_eq!(
            authorize_mint(&admin, &mint("jenkins", &s, 0), LIMITS),
            Ok(())
        );
    }

    #[test]
    fn non_admin_limits() {
        let bob = user("bob", false, &["dev", "ci"]);
        let mine =
            Scope::parse("applied-permissions/groups:dev member-of-groups:ci api:*").unwrap();
        assert_eq!(
            authorize_mint(&bob, &mint("bob", &mine, 3600), LIMITS),
            Ok(())
        );
        assert_eq!(
            authorize_mint(&bob, &mint("alice", &mine, 60), LIMITS),
            Err(PolicyError::ForeignSubject)
        );
        let admin = Scope::parse("applied-permissions/admin").unwrap();
        assert_eq!(
            authorize_mint(&bob, &mint("bob", &admin, 60), LIMITS),
            Err(PolicyError::AdminScope)
        );
        let other = Scope::parse("member-of-groups:ops").unwrap();
        assert_eq!(
            authorize_mint(&bob, &mint("bob", &other, 60), LIMITS),
            Err(PolicyError::ForeignGroup("ops".into()))
        );
        let path = Scope::parse("artifact:r/**:r").unwrap();
        assert_eq!(
            authorize_mint(&bob, &mint("bob", &path, 60), LIMITS),
            Err(PolicyError::ResourceScope)
        );
        let user_scope = Scope::parse("applied-permissions/user").unwrap();
        assert_eq!(
            authorize_mint(&bob, &mint("bob", &user_scope, 3601), LIMITS),
            Err(PolicyError::ExpiryTooLong(3600))
        );
        assert_eq!(
            authorize_mint(&bob, &mint("bob", &user_scope, 0), LIMITS),
            Err(PolicyError::ExpiryTooLong(3600))
        );
    }

    #[test]
    fn refreshable_switch_applies_to_everyone() {
        let admin = user("admin", true, &[]);
        let s = Scope::parse("applied-permissions/user").unwrap();
        let mut req = mint("x", &s, 60);
        req.refreshable = true;
        let off = MintLimits {
            allow_refreshable: false,
            ..LIMITS
        };
        assert_eq!(
            authorize_mint(&admin, &req, off),
            Err(PolicyError::RefreshableDisabled)
        );
        assert_eq!(authorize_mint(&admin, &req, LIMITS), Ok(()));
    }

    #[test]
    fn revoke_rules() {
        let bob = user("bob", false, &[]);
        assert_eq!(authorize_revoke(&bob, "bob", "t1"), Ok(()));
        assert_eq!(
            authorize_revoke(&bob, "alice", "t1"),
            Err(PolicyError::NotOwner)
        );
        let mut holder = user("carol", false, &[]);
        holder.token_id = Some("t1".into());
        assert_eq!(authorize_revoke(&holder, "alice", "t1"), Ok(()));
        assert_eq!(
            authorize_revoke(&user("root", true, &[]), "alice", "t2"),
            Ok(())
        );
        assert_eq!(require_admin(&bob), Err(PolicyError::AdminOnly));
    }

    #[test]
    fn token_callers_stay_within_their_token() {
        let scoped = token_caller("admin", false, "member-of-groups:dev", Some(4000));
        let user = Scope::parse("applied-permissions/user").unwrap();
        assert!(matches!(
            authorize_mint(&scoped, &mint("admin", &user, 60), LIMITS),
            Err(PolicyError::Exceeds(_))
        ));
        let dev = Scope::parse("member-of-groups:dev").unwrap();
        assert_eq!(
            authorize_mint(&scoped, &mint("admin", &dev, 60), LIMITS),
            Ok(())
        );
        // Not past the caller's own expiry (now = 1000, caller expires at 4000).
        assert_eq!(
            authorize_mint(&scoped, &mint("admin", &dev, 3000), LIMITS),
            Ok(())
        );
        assert_eq!(
            authorize_mint(&scoped, &mint("admin", &dev, 3001), LIMITS),
            Err(PolicyError::OutlivesCaller)
        );
        let mut refreshable = mint("admin", &dev, 60);
        refreshable.refreshable = true;
        assert_eq!(
            authorize_mint(&scoped, &refreshable, LIMITS),
            Err(PolicyError::OutlivesCaller)
        );
        // A path-scoped token may hand out a narrower path.
        let paths = token_caller("ci", false, "artifact:repo/**:r,w", None);
        let narrower = Scope::parse("artifact:repo/sub/**:r").unwrap();
        assert_eq!(
            authorize_mint(&paths, &mint("ci", &narrower, 60), LIMITS),
            Ok(())
        );
        let wider = Scope::parse("artifact:other/**:r").unwrap();
        assert!(authorize_mint(&paths, &mint("ci", &wider, 60), LIMITS).is_err());
        // Admin tokens mint anything; foreign tokens nothing.
        let admin = token_caller("root", true, "applied-permissions/admin", Some(2000));
        assert_eq!(authorize_mint(&admin, &mint("x", &user, 0), LIMITS), Ok(()));
        let mut foreign = user_caller_admin();
        foreign.credential = Credential::ForeignToken {
            issuer: "jfac@b".into(),
        };
        assert!(matches!(
            authorize_mint(&foreign, &mint("admin", &user, 60), LIMITS),
            Err(PolicyError::ForeignCredential(_))
        ));
    }

    fn user_caller_admin() -> Principal {
        user("admin", true, &[])
    }
}
