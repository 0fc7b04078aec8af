//! Who may mint, revoke and manage what. Pure functions over an authenticated principal.

use super::scope::Scope;

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
}

/// Admins mint anything; others only for themselves, within their groups, no admin or
/// resource scopes, and no longer than the non-admin maximum (never-expiring counts as longer).
pub fn authorize_mint(
    who: &Principal,
    req: &MintRequest<'_>,
    limits: MintLimits,
) -> Result<(), PolicyError> {
    if req.refreshable && !limits.allow_refreshable {
        return Err(PolicyError::RefreshableDisabled);
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
    if req.expires_in == 0 || req.expires_in > limits.non_admin_max_expiry {
        return Err(PolicyError::ExpiryTooLong(limits.non_admin_max_expiry));
    }
    Ok(())
}

/// Admins revoke any token; a user revokes its own; a token may always revoke itself.
pub fn authorize_revoke(
    who: &Principal,
    token_username: &str,
    token_id: &str,
) -> Result<(), PolicyError> {
    if who.admin || who.username == token_username || who.token_id.as_deref() == Some(token_id) {
        Ok(())
    } else {
        Err(PolicyError::NotOwner)
    }
}

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
    };

    fn user(name: &str, admin: bool, groups: &[&str]) -> Principal {
        Principal {
            username: name.into(),
            admin,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            token_id: None,
            scope: None,
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
}
