//! A secret's content as the charm hands it to `secret-add` and `secret-set`:
//! `KEY=VALUE`, `KEY#base64=VALUE` or `KEY#file=PATH`, with Juju's rules for keys.

use super::super::{ToolError, usage};
use crate::engine::action::Databag;

pub(super) fn valid_key(k: &str) -> bool {
    let b = k.as_bytes();
    if b.is_empty() || !b[0].is_ascii_lowercase() {
        return false;
    }
    let mut groups = 0;
    let mut i = 1;
    while i < b.len() {
        if b[i] == b'-' {
            i += 1;
        }
        match b.get(i) {
            Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit() => {
                groups += 1;
                i += 1;
            }
            _ => return false,
        }
    }
    groups >= 2
}

pub(super) fn b64_encode(data: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(super) fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// `secrets.CreateSecretData` + `encodeBase64`, keeping decoded values.
pub(super) fn secret_data(args: &[String]) -> Result<Databag, ToolError> {
    let mut raw: Vec<(String, String)> = Vec::new();
    for val in args {
        let stripped = val.trim_end_matches('=');
        let idx = match stripped.find('=') {
            Some(i) if i >= 1 => i,
            _ => return Err(usage(format!("key value {val:?} not valid"))),
        };
        let key = &val[..idx];
        let value = &val[idx + 1..];
        match key.strip_suffix("#file") {
            Some(k) => {
                let content = std::fs::read(value).map_err(|e| {
                    usage(format!(
                        "reading content for secret key {k:?}: open {value}: {}",
                        io_reason(&e)
                    ))
                })?;
                raw.push((
                    k.to_string(),
                    String::from_utf8_lossy(&content).into_owned(),
                ));
            }
            None => raw.push((key.to_string(), value.to_string())),
        }
    }
    let mut out = Databag::new();
    for (k, v) in raw {
        let (key, decoded) = match k.strip_suffix("#base64") {
            Some(k) => (
                k.to_string(),
                b64_decode(&v)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or(v),
            ),
            None => (k, v),
        };
        if !valid_key(&key) {
            return Err(usage(format!("key {key:?} not valid")));
        }
        out.insert(key, decoded);
    }
    Ok(out)
}

/// Go's wording for the usual file errors.
pub(super) fn io_reason(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory",
        std::io::ErrorKind::PermissionDenied => "permission denied",
        _ => "input/output error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(valid_key("password"));
        assert!(valid_key("tls-key"));
        assert!(valid_key("abc"));
        assert!(!valid_key("ab"));
        assert!(!valid_key("Key"));
        assert!(!valid_key("a--b"));
        assert!(!valid_key("1abc"));
    }

    #[test]
    fn base64_round_trip() {
        for s in ["", "a", "ab", "abc", "hello world"] {
            assert_eq!(b64_decode(&b64_encode(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(b64_encode(b"abc"), "YWJj");
    }
}
