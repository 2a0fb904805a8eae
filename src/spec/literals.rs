//! The charm's own words: the string literals in its Python source.
//!
//! A charm reads relation data by key (`data.get("admin-secret-id")`), compares values to
//! words it knows (`if recovery == "restoring"`) and parses what it finds
//! (`json.loads(data["ingress"])`). A remote application that writes exactly those keys
//! and values is what reaches the code behind them, and a fuzzer making up keys from
//! random bytes almost never does. So, as a fuzzer for C gathers the constants a program
//! compares against into its dictionary, charmfuzz gathers the short string literals of
//! the charm's `src/` and `lib/` into the vocabulary its decoder draws databag keys and
//! values from ([`crate::engine::Vocabulary`]), after the words it already had.
//!
//! Only words that look like keys or values are kept: one line, no spaces, no `%`
//! placeholders, at most [`MAX_LEN`] bytes of printable ASCII. Docstrings and other
//! triple-quoted text, bytes literals and f-strings are skipped. `[samples] from-source =
//! false` in the fuzzing config turns the gathering off.

use std::path::Path;

/// The longest literal kept, in bytes.
pub const MAX_LEN: usize = 64;
/// At most this many words are gathered from a charm: its own `src/` first, then `lib/`
/// (where charm libraries bring hundreds of their own).
pub const MAX_WORDS: usize = 256;

/// The key-like string literals of one Python source file, in order of first appearance,
/// each once.
pub fn string_literals(source: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, text) in string_literals_at(source) {
        if !out.iter().any(|w| w == text) {
            out.push(text.to_string());
        }
    }
    out
}

/// Every key-like string literal of one Python source file with the byte offset of its
/// opening quote, in order.
pub(crate) fn string_literals_at(source: &str) -> Vec<(usize, &str)> {
    let b = source.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            q @ (b'"' | b'\'') => {
                let prefix = string_prefix(b, i);
                let triple = b[i..].starts_with(&[q, q, q]);
                let open = if triple { 3 } else { 1 };
                let (end, closed) = string_end(b, i + open, q, triple);
                let text = &source[i + open..end];
                let skip = triple
                    || !closed
                    || prefix.contains(['b', 'B', 'f', 'F'])
                    || !prefix.contains(['r', 'R']) && text.contains('\\');
                if !skip && is_word(text) {
                    out.push((i - prefix.len(), text));
                }
                i = if closed { end + open } else { end };
            }
            _ => i += 1,
        }
    }
    out
}

/// The prefix letters (`r`, `b`, `f`, `u` and their pairs) right before the quote at `q`.
fn string_prefix(b: &[u8], q: usize) -> &str {
    let mut start = q;
    while start > 0 && start + 2 > q && b[start - 1].is_ascii_alphabetic() {
        start -= 1;
    }
    // `x"…"` is no prefix if the letters are the end of a longer name.
    if start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_') {
        return "";
    }
    std::str::from_utf8(&b[start..q]).unwrap_or("")
}

/// Where the string whose text starts at `from` ends (the index of its closing quote), and
/// whether it is closed at all: a one-line string ends at the end of its line.
fn string_end(b: &[u8], from: usize, q: u8, triple: bool) -> (usize, bool) {
    let mut i = from;
    while i < b.len() {
        match b[i] {
            // A backslash keeps the next character in the string, raw strings included.
            b'\\' => i += 2,
            b'\n' if !triple => return (i, false),
            c if c == q && (!triple || b[i..].starts_with(&[q, q, q])) => return (i, true),
            _ => i += 1,
        }
    }
    (b.len(), false)
}

/// Whether a literal looks like a key or a value a charm would look for.
fn is_word(s: &str) -> bool {
    (1..=MAX_LEN).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_graphic()) && !s.contains('%')
}

/// The string literals of the charm in `dir`: its `src/`, then its `lib/`, each file in
/// path order, each word once, [`MAX_WORDS`] at most. Unreadable files are skipped: the
/// words help the fuzzer, and a charm without them is still fuzzed.
pub fn gather(dir: &Path) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for sub in ["src", "lib"] {
        let mut files = Vec::new();
        python_files(&dir.join(sub), &mut files);
        files.sort();
        for f in files {
            let Ok(source) = std::fs::read_to_string(&f) else {
                continue;
            };
            for w in string_literals(&source) {
                if words.len() == MAX_WORDS {
                    return words;
                }
                if !words.contains(&w) {
                    words.push(w);
                }
            }
        }
    }
    words
}

/// The Python files under `dir`, recursively.
pub(crate) fn python_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            python_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "py") {
            out.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_like_literals_once_in_order() {
        let src = r#"
KEY = "admin-secret-id"
def f(data):
    """A docstring "with quotes" is not a word."""
    x = data.get('port', "8080")  # "comment" is not a word
    y = data.get("admin-secret-id")
    return f"{x}:{y}", b"raw-bytes", "two words", "50%", r"a\d+", "esc\"aped", 'it''s'
"#;
        assert_eq!(
            string_literals(src),
            ["admin-secret-id", "port", "8080", r"a\d+", "it", "s"]
        );
    }

    #[test]
    fn triple_quoted_text_and_unclosed_strings_end_where_python_ends_them() {
        let src = "'''one\n'two'\n''' 'after'\nx = 'unclosed\ny = \"next\"\nname\"odd\"";
        // `'two'` is inside the triple-quoted text; `name"odd"` is no valid prefix, but
        // the literal is still a literal.
        assert_eq!(string_literals(src), ["after", "next", "odd"]);
    }

    #[test]
    fn the_demo_charm_gives_its_relation_keys() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/charms/demo-k8s");
        let words = gather(&dir);
        for w in ["admin-secret-id", "ingress", "scrape_jobs", "restoring"] {
            assert!(words.iter().any(|x| x == w), "{w} in {words:?}");
        }
        assert!(words.len() <= MAX_WORDS);
        assert!(words.iter().all(|w| is_word(w)));
    }
}
