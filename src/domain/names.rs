//! Names of users, groups, repositories and scope items: what a subject
//! `.../users/<name>` or a scope can carry.

/// Letters, digits and `-_.@`, 1 to 64 characters. Names made of dots only (`.`, `..`, …) or
/// starting with a dot are reserved: they read as paths. No path separator is ever allowed.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && s.chars().any(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
}

/// An e-mail address as far as we check one: `local@domain`, at most 254 characters, no
/// spaces or control characters (it is shown in lists and the admin page, never sent mail).
pub fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    s.len() <= 254
        && !local.is_empty()
        && !domain.is_empty()
        && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// A service id like `jfac@01h…`: a short lower-case type, `@`, an id of letters and digits.
pub fn valid_service_id(s: &str) -> bool {
    let Some((kind, id)) = s.split_once('@') else {
        return false;
    };
    (1..=16).contains(&kind.len())
        && kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && (1..=64).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn reserved_and_path_like_names_are_refused() {
        for bad in [
            "", ".", "..", "...", ".hidden", "a/b", "a\\b", "-_-", "@", "x y",
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        for good in ["bob", "ci-bot", "a.b", "user@corp", "x_1", "dev."] {
            assert!(valid_name(good), "{good:?}");
        }
        assert!(!valid_name(&"a".repeat(65)));
        assert!(super::valid_email("bob@example.com"));
        for bad in ["bob", "@x", "x@", "a b@c", "a@b\u{b}c", "SW\u{1}@x"] {
            assert!(!super::valid_email(bad), "{bad}");
        }
        assert!(super::valid_service_id("jfac@01abcxyz"));
        for bad in ["jfac", "@x", "jfac@", "JFAC@x", "jfac@a/b", "a@b@c"] {
            assert!(!super::valid_service_id(bad), "{bad}");
        }
    }
}
