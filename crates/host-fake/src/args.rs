//! Command lines as the programs read them: `--name=value`, `--name value` for an option
//! that takes a value, `-n=5`, `-n 5`, bundled short switches (`-qy`), `--` ending the
//! options, and the rest positional.

use std::collections::BTreeMap;

/// A parsed command line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Args {
    /// Options by name without dashes (`channel`, `y`), with their value if they took one.
    pub opts: BTreeMap<String, Option<String>>,
    pub pos: Vec<String>,
}

impl Args {
    /// Parse `args`; `valued` names the options that take a value (`channel`, `n`).
    pub fn parse(args: &[String], valued: &[&str]) -> Args {
        let mut out = Args::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if a == "--" {
                out.pos.extend(it.by_ref().cloned());
                break;
            }
            if let Some(long) = a.strip_prefix("--") {
                let (name, value) = match long.split_once('=') {
                    Some((n, v)) => (n.to_string(), Some(unquote(v))),
                    None if valued.contains(&long) => (long.to_string(), it.next().cloned()),
                    None => (long.to_string(), None),
                };
                out.opts.insert(name, value);
            } else if let Some(short) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
                if let Some((n, v)) = short.split_once('=') {
                    out.opts.insert(n.to_string(), Some(unquote(v)));
                    continue;
                }
                let chars: Vec<char> = short.chars().collect();
                for (i, c) in chars.iter().enumerate() {
                    let name = c.to_string();
                    if valued.contains(&name.as_str()) {
                        let rest: String = chars[i + 1..].iter().collect();
                        let value = if rest.is_empty() {
                            it.next().cloned()
                        } else {
                            Some(rest)
                        };
                        out.opts.insert(name, value);
                        break;
                    }
                    out.opts.insert(name, None);
                }
            } else {
                out.pos.push(a.clone());
            }
        }
        out
    }

    /// Whether any of `names` was given.
    pub fn has(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.opts.contains_key(*n))
    }

    /// The value of the first of `names` given with one.
    pub fn value(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .find_map(|n| self.opts.get(*n).and_then(|v| v.as_deref()))
    }
}

/// `"latest"` → `latest`: the snap library passes `--channel="latest"` as one
/// argument, quotes included, and snap's option parser takes them off.
fn unquote(v: &str) -> String {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str, valued: &[&str]) -> Args {
        let v: Vec<String> = line.split_whitespace().map(String::from).collect();
        Args::parse(&v, valued)
    }

    #[test]
    fn long_short_bundled_and_valued_options() {
        let a = parse(
            "install kafka --channel 3/stable --classic --revision=\"30\" -qy -n=5 -- -x",
            &["channel", "n"],
        );
        assert_eq!(a.pos, ["install", "kafka", "-x"]);
        assert_eq!(a.value(&["channel"]), Some("3/stable"));
        assert_eq!(a.value(&["revision"]), Some("30"));
        assert_eq!(a.value(&["n"]), Some("5"));
        assert!(a.has(&["classic"]) && a.has(&["q"]) && a.has(&["y"]));
        assert!(!a.has(&["devmode"]));
        let b = parse("logs -n 10 kafka.daemon", &["n"]);
        assert_eq!(b.value(&["n"]), Some("10"));
        assert_eq!(b.pos, ["logs", "kafka.daemon"]);
        let c = parse("-n20 x", &["n"]);
        assert_eq!(c.value(&["n"]), Some("20"));
    }
}
