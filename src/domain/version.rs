//! Format versions: what this binary reads and writes, and what a cluster may use. A cluster's
//! version is the lowest its voters support, and it only moves forward: the leader raises it
//! (through the log) once every voter has said it supports more. A command that needs a newer
//! version than the cluster's is refused before it is proposed, so an older node never meets an
//! entry it would drop part of.

/// The format this binary writes and the newest it reads.
///
/// 1: every release up to 682acf5 (entries, records and snapshots carry no version).
/// 2: OIDC providers and identity mappings, a user's status (deprovisioning), SCIM attributes of
///    users and groups, a group's record in a membership change, federation receive times.
pub const FORMAT_VERSION: u32 = 2;

/// The format of a cluster or node that never said one: every release up to 682acf5.
pub const FIRST_FORMAT: u32 = 1;

/// The format this node reads and advertises: [`FORMAT_VERSION`], or a lower one named by
/// `ACCESS_TEST_FORMAT_VERSION` (the tests play an older node's part with it; never
/// higher than the binary's).
pub fn own_format() -> u32 {
    static OWN: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *OWN.get_or_init(|| {
        std::env::var("ACCESS_TEST_FORMAT_VERSION")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .map_or(FORMAT_VERSION, |v| v.clamp(FIRST_FORMAT, FORMAT_VERSION))
    })
}

/// The version a cluster at `current` may move to, given what each voter supports (None: a
/// voter not heard from, or one that predates versions: the first format). Never below
/// `current`: a version once reached stays.
pub fn next_cluster_version(current: u32, voters: impl IntoIterator<Item = Option<u32>>) -> u32 {
    voters
        .into_iter()
        .map(|v| v.unwrap_or(FIRST_FORMAT))
        .min()
        .unwrap_or(current)
        .max(current)
}

/// Why a binary of format `mine` may not run on a cluster (or data directory) at `cluster`.
pub fn refuse_older_binary(mine: u32, cluster: u32) -> Option<String> {
    (mine < cluster).then(|| {
        format!(
            "this binary reads format {mine}, but the cluster (or this data directory) is at format \
             {cluster}: run a binary of format {cluster} or newer (a downgrade past a format \
             change is not possible)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_version_is_the_lowest_voter_and_never_goes_back() {
        assert_eq!(next_cluster_version(1, [Some(2), Some(2), Some(2)]), 2);
        assert_eq!(
            next_cluster_version(1, [Some(2), None, Some(2)]),
            1,
            "one voter unheard"
        );
        assert_eq!(next_cluster_version(1, [Some(2), Some(1)]), 1);
        assert_eq!(next_cluster_version(2, [Some(1), Some(2)]), 2, "never back");
        assert_eq!(next_cluster_version(2, []), 2);
        assert_eq!(next_cluster_version(1, [Some(3), Some(2)]), 2);
    }

    #[test]
    fn an_older_binary_is_refused_with_both_versions() {
        assert!(refuse_older_binary(2, 2).is_none());
        assert!(refuse_older_binary(3, 2).is_none());
        let why = refuse_older_binary(1, 2).unwrap();
        assert!(
            why.contains("format 1") && why.contains("format 2"),
            "{why}"
        );
    }
}
