//! Login throttling: after a number of failed password logins for one user name (or from one
//! client address), every further attempt waits out an exponentially growing delay, answered
//! 429 with Retry-After. The failure counts are replicated; this file only decides.

use serde::{Deserialize, Serialize};

/// Failed logins of one key (`user:<name>` or `addr:<ip>`), as the replicated store keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginFailures {
    /// Consecutive failures since the last success or reset.
    pub failures: u32,
    /// Unix milliseconds of the latest failure.
    pub last_failure_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before delays start; 0 turns throttling off.
    pub free_attempts: u32,
    /// Longest delay, in seconds.
    pub max_delay_secs: u64,
    /// A key with no failure for this long starts again from zero.
    pub reset_after_secs: u64,
}

impl ThrottlePolicy {
    /// Whole seconds (rounded up) the key must still wait before its next attempt at
    /// `now_ms`; None when it may try now.
    pub fn retry_after(&self, rec: &LoginFailures, now_ms: u64) -> Option<u64> {
        if self.free_attempts == 0 || rec.failures < self.free_attempts {
            return None;
        }
        if now_ms.saturating_sub(rec.last_failure_ms) >= self.reset_after_secs.saturating_mul(1000)
        {
            return None;
        }
        let delay_ms = self.delay(rec.failures).saturating_mul(1000);
        let until = rec.last_failure_ms.saturating_add(delay_ms);
        (now_ms < until).then(|| (until - now_ms).div_ceil(1000))
    }

    /// Delay after `failures` failures: 1 s at the threshold, doubling, at most the maximum.
    pub fn delay(&self, failures: u32) -> u64 {
        let over = failures.saturating_sub(self.free_attempts).min(32);
        1u64.checked_shl(over)
            .unwrap_or(u64::MAX)
            .min(self.max_delay_secs)
    }
}

/// The record after one more failure at `at_ms` (a stale record starts again from zero).
pub fn record_failure(
    rec: Option<LoginFailures>,
    at_ms: u64,
    reset_after_secs: u64,
) -> LoginFailures {
    let rec = rec
        .filter(|r| at_ms.saturating_sub(r.last_failure_ms) < reset_after_secs.saturating_mul(1000))
        .unwrap_or_default();
    LoginFailures {
        failures: rec.failures.saturating_add(1),
        last_failure_ms: rec.last_failure_ms.max(at_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: ThrottlePolicy = ThrottlePolicy {
        free_attempts: 5,
        max_delay_secs: 300,
        reset_after_secs: 900,
    };

    #[test]
    fn delays_start_at_the_threshold_and_double() {
        let mut rec = None;
        for i in 1..=4 {
            let r = record_failure(rec, 1_000_000, 900);
            assert_eq!(r.failures, i);
            assert_eq!(POLICY.retry_after(&r, 1_000_000), None);
            rec = Some(r);
        }
        let r = record_failure(rec, 1_000_000, 900);
        assert_eq!(POLICY.retry_after(&r, 1_000_000), Some(1));
        assert_eq!(POLICY.retry_after(&r, 1_000_999), Some(1));
        assert_eq!(POLICY.retry_after(&r, 1_001_000), None);
        let r = record_failure(Some(r), 1_001_000, 900);
        assert_eq!(POLICY.retry_after(&r, 1_001_000), Some(2));
        assert_eq!(POLICY.delay(40), 300);
        assert_eq!(POLICY.delay(u32::MAX), 300);
    }

    #[test]
    fn stale_records_reset_and_zero_disables() {
        let r = LoginFailures {
            failures: 50,
            last_failure_ms: 1_000_000,
        };
        assert_eq!(POLICY.retry_after(&r, 1_100_000), Some(200));
        assert_eq!(POLICY.retry_after(&r, 1_900_000), None);
        assert_eq!(record_failure(Some(r), 1_900_000, 900).failures, 1);
        let off = ThrottlePolicy {
            free_attempts: 0,
            ..POLICY
        };
        assert_eq!(off.retry_after(&r, 1_000_000), None);
    }
}
