//! Reading recent audit events back from the files: a filter (time range, subject, kind,
//! limit) and the newest-first read the API and the web page share.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::audit::{Event, FILE_PREFIX, FILE_SUFFIX};

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

/// Which events to return. Times are inclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub subject: Option<String>,
    /// A kind (`token.created`) or a family of kinds (`token`).
    pub kind: Option<String>,
    pub limit: usize,
}

impl Default for Filter {
    fn default() -> Filter {
        Filter {
            since: None,
            until: None,
            subject: None,
            kind: None,
            limit: DEFAULT_LIMIT,
        }
    }
}

/// Unix seconds or RFC 3339.
pub fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    if let Ok(secs) = s.parse::<i64>() {
        return OffsetDateTime::from_unix_timestamp(secs)
            .map_err(|_| format!("'{s}' is out of range"));
    }
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|_| format!("'{s}' is neither unix seconds nor an RFC 3339 time"))
}

impl Filter {
    /// From query parameters `since`, `until`, `subject`, `kind`, `limit`; unknown
    /// parameters and bad values are errors naming them.
    pub fn from_query(q: &HashMap<String, String>) -> Result<Filter, String> {
        const KNOWN: [&str; 5] = ["since", "until", "subject", "kind", "limit"];
        if let Some(unknown) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(format!(
                "unknown parameter '{unknown}' (use {})",
                KNOWN.join(", ")
            ));
        }
        let time = |key: &str| -> Result<Option<OffsetDateTime>, String> {
            q.get(key)
                .filter(|v| !v.is_empty())
                .map(|v| parse_time(v).map_err(|e| format!("'{key}': {e}")))
                .transpose()
        };
        let text = |key: &str| q.get(key).filter(|v| !v.is_empty()).cloned();
        let limit = match q.get("limit").filter(|v| !v.is_empty()) {
            None => DEFAULT_LIMIT,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => return Err(format!("'limit' must be 1 to {MAX_LIMIT}")),
            },
        };
        let filter = Filter {
            since: time("since")?,
            until: time("until")?,
            subject: text("subject"),
            kind: text("kind"),
            limit,
        };
        if let (Some(s), Some(u)) = (filter.since, filter.until) {
            if s > u {
                return Err("'since' is after 'until'".into());
            }
        }
        Ok(filter)
    }

    pub fn matches(&self, event: &Event, at: OffsetDateTime) -> bool {
        let kind_ok = self.kind.as_ref().is_none_or(|k| {
            event.kind == *k
                || event
                    .kind
                    .strip_prefix(k.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        });
        kind_ok
            && self.since.is_none_or(|s| at >= s)
            && self.until.is_none_or(|u| at <= u)
            && self
                .subject
                .as_ref()
                .is_none_or(|s| event.subject.as_deref() == Some(s.as_str()))
    }
}

/// The audit files of `dir`, newest first (their names sort by date).
fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(FILE_PREFIX) && n.ends_with(FILE_SUFFIX))
        })
        .collect();
    files.sort();
    files.reverse();
    Ok(files)
}

/// The events of `dir` that `filter` selects, newest first. A line that does not parse is
/// skipped (a file cut short by a crash ends with one).
pub fn read(dir: &Path, filter: &Filter) -> std::io::Result<Vec<Event>> {
    let mut found: Vec<(OffsetDateTime, Event)> = Vec::new();
    for path in files(dir)? {
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            // Rotated away meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for line in BufReader::new(file).lines() {
            let Ok(event) = serde_json::from_str::<Event>(&line?) else {
                continue;
            };
            let Ok(at) = OffsetDateTime::parse(&event.time, &Rfc3339) else {
                continue;
            };
            if filter.matches(&event, at) {
                found.push((at, event));
            }
        }
        // Older files hold older events: once enough are found, the rest cannot be newer.
        if found.len() >= filter.limit {
            break;
        }
    }
    found.sort_by_key(|e| std::cmp::Reverse(e.0));
    found.truncate(filter.limit);
    Ok(found.into_iter().map(|(_, e)| e).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn event(kind: &str, subject: &str, time: &str) -> Event {
        let mut e = Event::applied(kind).subject(subject);
        e.time = time.to_string();
        e
    }

    #[test]
    fn query_parsing_defaults_bounds_and_errors() {
        let f = Filter::from_query(&query(&[])).unwrap();
        assert_eq!(f, Filter::default());
        let f = Filter::from_query(&query(&[
            ("since", "1700000000"),
            ("until", "2030-01-01T00:00:00Z"),
            ("kind", "token"),
            ("subject", "alice"),
            ("limit", "1000"),
        ]))
        .unwrap();
        assert_eq!(f.since.unwrap().unix_timestamp(), 1_700_000_000);
        assert_eq!(f.until.unwrap().unix_timestamp(), 1_893_456_000);
        assert_eq!(f.limit, 1000);
        for bad in [
            ("limit", "0"),
            ("limit", "1001"),
            ("limit", "x"),
            ("since", "yesterday"),
            ("bogus", "1"),
        ] {
            let e = Filter::from_query(&query(&[bad])).unwrap_err();
            assert!(e.contains(bad.0), "{e}");
        }
        let e = Filter::from_query(&query(&[("since", "20"), ("until", "10")])).unwrap_err();
        assert!(e.contains("after"), "{e}");
    }

    #[test]
    fn kind_matches_exactly_or_by_family() {
        let at = OffsetDateTime::from_unix_timestamp(100).unwrap();
        let e = event("token.created", "alice", "1970-01-01T00:01:40Z");
        let with_kind = |k: &str| Filter {
            kind: Some(k.into()),
            ..Filter::default()
        };
        assert!(with_kind("token.created").matches(&e, at));
        assert!(with_kind("token").matches(&e, at));
        assert!(!with_kind("tok").matches(&e, at));
        assert!(!with_kind("token.revoked").matches(&e, at));
        let subject = Filter {
            subject: Some("bob".into()),
            ..Filter::default()
        };
        assert!(!subject.matches(&e, at));
        let range = Filter {
            since: Some(at),
            until: Some(at),
            ..Filter::default()
        };
        assert!(range.matches(&e, at));
        assert!(!range.matches(&e, at + time::Duration::seconds(1)));
    }

    #[test]
    fn read_returns_newest_first_across_files_and_skips_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let line = |e: &Event| serde_json::to_string(e).unwrap() + "\n";
        let old = [
            event("login.failed", "bob", "2026-01-01T10:00:00Z"),
            event("token.created", "alice", "2026-01-01T11:00:00Z"),
        ];
        let new = [
            event("token.revoked", "alice", "2026-01-02T09:00:00.5Z"),
            event("token.created", "alice", "2026-01-02T09:00:00.25Z"),
        ];
        let text = |es: &[Event]| es.iter().map(line).collect::<String>();
        std::fs::write(dir.path().join("audit.2026-01-01.jsonl"), text(&old)).unwrap();
        std::fs::write(
            dir.path().join("audit.2026-01-02.jsonl"),
            text(&new) + "{\"time\":",
        )
        .unwrap();
        std::fs::write(dir.path().join("other.txt"), "not audit\n").unwrap();
        let all = read(dir.path(), &Filter::default()).unwrap();
        let kinds: Vec<&str> = all.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "token.revoked",
                "token.created",
                "token.created",
                "login.failed"
            ]
        );
        let alice_tokens = Filter {
            subject: Some("alice".into()),
            kind: Some("token.created".into()),
            limit: 1,
            ..Filter::default()
        };
        let got = read(dir.path(), &alice_tokens).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].time, "2026-01-02T09:00:00.25Z");
    }
}
