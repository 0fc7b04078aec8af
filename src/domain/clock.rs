//! Clock offsets between nodes and sites, and the rules that make time never grant access:
//! how an offset is read from one round trip, when a node is too far off to mint, and where
//! a "every token until now" cut-off lands. Pure: callers pass the readings.

/// One reading of another clock: `offset_ms` is how far it is ahead of ours (negative:
/// behind), give or take half the round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub offset_ms: i64,
    pub rtt_ms: u64,
}

/// A reading from one request: sent at our `sent_ms`, answered with the other clock's
/// `remote_ms`, received at our `received_ms`. The other clock read mid-way, at best.
pub fn reading(sent_ms: u64, remote_ms: u64, received_ms: u64) -> Reading {
    let rtt_ms = received_ms.saturating_sub(sent_ms);
    let midpoint = sent_ms + rtt_ms / 2;
    Reading {
        offset_ms: remote_ms as i64 - midpoint as i64,
        rtt_ms,
    }
}

/// Whether a clock `offset_ms` away from the leader's may mint tokens: their `iat` and
/// `exp` would otherwise be off by more than every other node tolerates.
pub fn within_skew(offset_ms: i64, max_skew_ms: u64) -> bool {
    offset_ms.unsigned_abs() <= max_skew_ms
}

/// Slack on top of the measured offsets: half a round trip of error, and a leader changing
/// hands between two readings.
pub const SLACK_MS: u64 = 500;

/// How far past the leader's clock the latest minting member's clock may be: the largest
/// of their offsets from the leader (`None`: not read, so assume the bound), never less than
/// zero and never more than the bound (beyond it a member mints nothing).
pub fn latest_ahead(offsets_from_leader: &[Option<i64>], max_skew_ms: u64) -> u64 {
    offsets_from_leader
        .iter()
        .map(|o| match o {
            Some(ms) => (*ms).clamp(0, max_skew_ms as i64) as u64,
            None => max_skew_ms,
        })
        .max()
        .unwrap_or(0)
}

/// The cut-off for "every token of this subject issued until now", in Unix seconds.
///
/// `cluster_now_ms` is the leader's clock as this node reads it; `ahead_ms` how far the
/// latest minting member's clock runs past it ([`latest_ahead`]). Every token minted before
/// this moment carries an `iat` at most that far past it, so the cut-off covers it.
pub fn cut_off_secs(cluster_now_ms: u64, ahead_ms: u64) -> u64 {
    (cluster_now_ms + ahead_ms + SLACK_MS).div_ceil(1000)
}

/// Where a cut-off received from another site (stamped `at` by that site's clock) lands
/// here: at the later of `at` and our own cut-off for "now", so every token this site
/// issued before it applied the change is caught, whatever the two clocks say.
pub fn received_cut_off(at: u64, cut_off_now: u64) -> u64 {
    at.max(cut_off_now)
}

/// Whether a change stamped `stamp_ms` by another site is too far in our future to take.
pub fn too_far_ahead(stamp_ms: u64, now_ms: u64, max_future_ms: u64) -> bool {
    now_ms > 0 && stamp_ms > now_ms.saturating_add(max_future_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_takes_the_other_clock_at_the_midpoint() {
        let r = reading(1_000, 31_050, 1_100);
        assert_eq!((r.offset_ms, r.rtt_ms), (30_000, 100));
        let r = reading(1_000, 1_000, 1_000);
        assert_eq!(r.offset_ms, 0);
        assert_eq!(reading(50_000, 20_010, 50_020).offset_ms, -30_000);
    }

    #[test]
    fn minting_needs_a_clock_within_the_bound() {
        assert!(within_skew(0, 3_000));
        assert!(within_skew(-3_000, 3_000));
        assert!(!within_skew(3_001, 3_000));
        assert!(!within_skew(-30_000, 3_000));
    }

    #[test]
    fn a_cut_off_covers_every_clock_within_the_bound() {
        // Members 2 s behind, 2.9 s ahead and one not read yet: the unread one counts at the
        // bound; negative offsets count as zero.
        assert_eq!(latest_ahead(&[Some(-2_000), Some(2_900)], 3_000), 2_900);
        assert_eq!(latest_ahead(&[Some(-2_000), None], 3_000), 3_000);
        assert_eq!(latest_ahead(&[Some(9_000)], 3_000), 3_000);
        assert_eq!(latest_ahead(&[], 3_000), 0);
        // Issued by a member 2.9 s ahead of the leader, a second before the cut-off was
        // asked at a node that reads the leader's clock: still caught.
        let leader_now = 1_000_000_000;
        let iat = (leader_now - 1_000 + 2_900) / 1000;
        assert!(iat <= cut_off_secs(leader_now, 2_900));
        // Rounded up to whole seconds.
        assert_eq!(cut_off_secs(1_000, 0), 2);
        assert_eq!(cut_off_secs(500, 0), 1);
        assert_eq!(cut_off_secs(1_000, 2_000), 4);
    }

    #[test]
    fn a_received_cut_off_never_lands_before_our_now() {
        assert_eq!(received_cut_off(100, 130), 130);
        assert_eq!(received_cut_off(200, 130), 200);
    }

    #[test]
    fn future_stamps_beyond_the_bound_are_refused() {
        assert!(!too_far_ahead(160_000, 100_000, 60_000));
        assert!(too_far_ahead(160_001, 100_000, 60_000));
        // No reading of now (an entry from before the field existed): nothing refused.
        assert!(!too_far_ahead(u64::MAX, 0, 60_000));
    }
}
