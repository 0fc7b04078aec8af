//! Which successful password logins reach the audit trail. Clients that send a password on
//! every call (Maven, pip, Docker) would write a `login.succeeded` line per call, so a
//! [`LoginKind::Repeated`] success is audited once per user, client address and password in
//! `audit.login-success-window-secs`; an [`LoginKind::Interactive`] one always is (failures
//! are always audited, by the caller).
//!
//! Remembered in memory, per node, in a bounded cache: a keyed SHA-256 of (user, address,
//! password) with the time it was last audited. The key is random per process, so nothing
//! stored can be checked against a guessed password. Forgetting an entry (a restart, the
//! cache full) only audits one more line.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

/// How a password login came about, which decides how its success is audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginKind {
    /// Someone signing in: the web page, creating a token, changing a password. Every
    /// success is audited.
    Interactive,
    /// An API call that carries the password, as many clients do on every call: audited once
    /// per user, address and password per window.
    Repeated,
}

/// Most (user, address, password) triples remembered.
const MAX_ENTRIES: usize = 10_000;

pub struct AuditedLogins {
    window_ms: u64,
    /// When each triple was last audited, in unix milliseconds; None when the window is 0.
    seen: Option<quick_cache::sync::Cache<[u8; 32], u64>>,
    key: [u8; 32],
}

impl AuditedLogins {
    pub fn new(window_secs: u64) -> AuditedLogins {
        AuditedLogins {
            window_ms: window_secs.saturating_mul(1000),
            seen: (window_secs > 0).then(|| quick_cache::sync::Cache::new(MAX_ENTRIES)),
            key: rand::random(),
        }
    }

    /// Whether a success of `kind` must be audited at `now_ms`; if it is, the triple's window
    /// starts again. Two identical logins at the same instant may both be audited.
    pub fn should_audit(
        &self,
        kind: LoginKind,
        user: &str,
        client: Option<IpAddr>,
        password: &str,
        now_ms: u64,
    ) -> bool {
        let Some(seen) = &self.seen else {
            return true;
        };
        let id = self.id(user, client, password);
        let recent = seen
            .get(&id)
            .is_some_and(|at| now_ms.saturating_sub(at) < self.window_ms);
        if kind == LoginKind::Repeated && recent {
            return false;
        }
        seen.insert(id, now_ms);
        true
    }

    fn id(&self, user: &str, client: Option<IpAddr>, password: &str) -> [u8; 32] {
        let client = client.map(|ip| ip.to_string()).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(self.key);
        for part in [user, &client, password] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)));

    #[test]
    fn repeated_logins_are_audited_once_per_window() {
        let logins = AuditedLogins::new(300);
        let repeated = |user, client, password, at| {
            logins.should_audit(LoginKind::Repeated, user, client, password, at)
        };
        assert!(repeated("ci", A, "pw", 1_000));
        assert!(!repeated("ci", A, "pw", 2_000));
        assert!(!repeated("ci", A, "pw", 300_999));
        // Another address, user or password is another triple.
        assert!(repeated("ci", B, "pw", 3_000));
        assert!(repeated("cd", A, "pw", 3_000));
        assert!(repeated("ci", A, "new-pw", 3_000));
        assert!(repeated("ci", None, "pw", 3_000));
        // The window has passed: audited again, and the next window starts.
        assert!(repeated("ci", A, "pw", 301_000));
        assert!(!repeated("ci", A, "pw", 302_000));
    }

    #[test]
    fn interactive_logins_are_always_audited() {
        let logins = AuditedLogins::new(300);
        for at in [1_000, 2_000, 3_000] {
            assert!(logins.should_audit(LoginKind::Interactive, "ci", A, "pw", at));
        }
        // And they start the window of the API calls that follow.
        assert!(!logins.should_audit(LoginKind::Repeated, "ci", A, "pw", 4_000));
    }

    #[test]
    fn a_zero_window_audits_every_login() {
        let logins = AuditedLogins::new(0);
        for at in [1_000, 1_001] {
            assert!(logins.should_audit(LoginKind::Repeated, "ci", A, "pw", at));
        }
    }

    #[test]
    fn user_address_and_password_cannot_run_into_each_other() {
        let logins = AuditedLogins::new(300);
        assert_ne!(logins.id("ab", None, "c"), logins.id("a", None, "bc"));
        assert_ne!(
            AuditedLogins::new(300).id("a", A, "b"),
            logins.id("a", A, "b"),
            "keyed per process"
        );
    }
}
