//! Artifact path patterns, as scopes and permission targets write them.

/// Ant-style matching by path segment: `**` matches any number of segments (including none),
/// `*` and `?` match within one segment.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match_segments(&pat, &segs)
}

/// Table over (pattern position, path position), filled from the end: linear in the table's
/// size whatever the number of `**` (a recursive search is exponential in them, and the path
/// comes from the caller).
fn match_segments(pat: &[&str], segs: &[&str]) -> bool {
    let (p, s) = (pat.len(), segs.len());
    // row[j]: pat[i..] matches segs[j..], for the current i; next: the same for i + 1.
    let mut next = vec![false; s + 1];
    next[s] = true;
    for i in (0..p).rev() {
        let mut row = vec![false; s + 1];
        for j in (0..=s).rev() {
            row[j] = match pat[i] {
                // `**` matches nothing (skip it) or one more segment.
                "**" => next[j] || (j < s && row[j + 1]),
                one => j < s && segment_matches(one, segs[j]) && next[j + 1],
            };
        }
        next = row;
    }
    next[0]
}

fn segment_matches(pat: &str, s: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let t: Vec<char> = s.chars().collect();
    // Classic wildcard DP: '*' any run, '?' one char.
    let mut dp = vec![false; t.len() + 1];
    dp[0] = true;
    for pc in &p {
        let mut next = vec![false; t.len() + 1];
        match pc {
            '*' => {
                let mut seen = false;
                for j in 0..=t.len() {
                    seen |= dp[j];
                    next[j] = seen;
                }
            }
            _ => {
                for j in 1..=t.len() {
                    next[j] = dp[j - 1] && (*pc == '?' || *pc == t[j - 1]);
                }
            }
        }
        dp = next;
    }
    dp[t.len()]
}
