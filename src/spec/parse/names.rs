//! Juju's naming rules for charms, endpoints, storage, containers and actions.

use super::SpecError;
use super::yaml::Node;

// ---------------------------------------------------------------------------------------
// Juju's naming rules, written out instead of as regular expressions.

/// Relation endpoint names: `^[a-z][a-z0-9]*([_-][a-z0-9]+)*$`.
pub(super) const ENDPOINT_RULE: &str = "must match ^[a-z][a-z0-9]*([_-][a-z0-9]+)*$ (lowercase letters and digits, words joined by single '-' or '_', starting with a letter)";
pub(super) fn valid_endpoint_name(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_lowercase) {
        return false;
    }
    let mut prev_sep = false;
    for &c in b {
        let sep = c == b'-' || c == b'_';
        if !(sep || c.is_ascii_lowercase() || c.is_ascii_digit()) || (sep && prev_sep) {
            return false;
        }
        prev_sep = sep;
    }
    !prev_sep
}

/// Storage (and charm) names: `^[a-z][a-z0-9]*(-[a-z0-9]*[a-z][a-z0-9]*)*$`: words joined by
/// single `-`, each word after the first containing a letter (so `disk-2` is invalid while
/// `disk-2a` is fine: a trailing `-<number>` is how Juju names storage instances).
pub(super) const STORAGE_RULE: &str = "must match ^[a-z][a-z0-9]*(-[a-z0-9]*[a-z][a-z0-9]*)*$ (lowercase words joined by '-', starting with a letter, each word after the first containing a letter)";
pub(super) fn valid_storage_name(s: &str) -> bool {
    let mut words = s.split('-');
    let Some(first) = words.next() else {
        return false;
    };
    let fb = first.as_bytes();
    if !fb.first().is_some_and(u8::is_ascii_lowercase)
        || !fb
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return false;
    }
    words.all(|w| {
        w.bytes().any(|c| c.is_ascii_lowercase())
            && w.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

/// Action and container names: `^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`.
pub(super) const ACTION_RULE: &str = "must match ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ (lowercase letters, digits and '-', not starting or ending with '-')";
pub(super) fn valid_action_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|&c| c == b'-' || c.is_ascii_lowercase() || c.is_ascii_digit())
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

pub(super) fn check_name(
    file: &str,
    key_node: &Node,
    path: &str,
    kind: &'static str,
    name: &str,
    valid: fn(&str) -> bool,
) -> Result<(), SpecError> {
    if valid(name) {
        Ok(())
    } else {
        Err(SpecError::InvalidName {
            file: file.to_string(),
            line: key_node.pos.line,
            column: key_node.pos.column,
            key: path.to_string(),
            kind,
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names() {
        for ok in [
            "db",
            "db-admin",
            "db_admin",
            "a1",
            "metrics-endpoint",
            "a-1-b",
        ] {
            assert!(valid_endpoint_name(ok), "{ok}");
        }
        for bad in ["", "1db", "Db", "db-", "db--x", "-db", "db.x", "db_-x"] {
            assert!(!valid_endpoint_name(bad), "{bad}");
        }
    }

    #[test]
    fn storage_names() {
        for ok in ["data", "data-logs", "disk-2a", "a1", "a-b1-c"] {
            assert!(valid_storage_name(ok), "{ok}");
        }
        for bad in [
            "", "disk-2", "Data", "1data", "data-", "data--x", "data_x", "-x",
        ] {
            assert!(!valid_storage_name(bad), "{bad}");
        }
    }

    #[test]
    fn action_names() {
        for ok in ["backup", "get-password", "0day", "a", "a-1"] {
            assert!(valid_action_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "Backup", "get_password", "a b"] {
            assert!(!valid_action_name(bad), "{bad}");
        }
    }
}
