//! Command lines the way `jujuc` reads them (`juju/gnuflag` with interspersed flags).
//!
//! - Flags and positional arguments may come in any order (`relation-ids db --format=json`);
//!   `--` ends the flags (`juju-log --log-level INFO -- -starts-with-a-dash`).
//! - Long flags take two dashes, one-letter flags one or two (`-r 3`, `--format json`).
//!   A value comes after `=` or as the next argument; a boolean flag takes `=value` only
//!   (`--application=False`), with Go's `strconv.ParseBool` spellings.
//! - Mistakes are usage errors (exit 2) worded as gnuflag words them.

use super::ToolError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Value,
}

/// One flag: its names (the first is the key used to look it up) and whether it takes a
/// value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flag {
    pub names: &'static [&'static str],
    pub kind: Kind,
}

pub(crate) const fn value(names: &'static [&'static str]) -> Flag {
    Flag {
        names,
        kind: Kind::Value,
    }
}

pub(crate) const fn boolean(names: &'static [&'static str]) -> Flag {
    Flag {
        names,
        kind: Kind::Bool,
    }
}

/// `--format` and `-o/--output`, which every printing tool has.
pub(crate) const FORMAT: Flag = value(&["format"]);
pub(crate) const OUTPUT: Flag = value(&["o", "output"]);

/// The parsed command line.
#[derive(Debug, Default)]
pub(crate) struct Args {
    /// (key, value, the flag as written) in order.
    values: Vec<(&'static str, String, String)>,
    pub pos: Vec<String>,
}

impl Args {
    /// The last value given for `key`.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _, _)| *k == key)
            .map(|(_, v, _)| v.as_str())
    }
    /// The flag as the caller spelled it (`-r`, `--relation`), for error messages.
    pub fn spelling(&self, key: &str) -> String {
        self.values
            .iter()
            .rev()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, s)| s.clone())
            .unwrap_or_else(|| format!("--{key}"))
    }
    /// A boolean flag's value (already validated by [`parse`]).
    pub fn flag(&self, key: &str) -> bool {
        self.value(key).and_then(parse_bool).unwrap_or(false)
    }
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The error gnuflag gives for a value its `Set` refused.
pub(crate) fn invalid_value(value: &str, spelling: &str, why: &str) -> ToolError {
    ToolError::Usage(format!(
        "invalid value {value:?} for flag {spelling}: {why}"
    ))
}

pub(crate) fn parse(args: &[String], flags: &[Flag]) -> Result<Args, ToolError> {
    let mut out = Args::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            out.pos.extend(args[i..].iter().cloned());
            break;
        }
        let (dashes, body) = if let Some(b) = a.strip_prefix("--") {
            ("--", b)
        } else if let Some(b) = a.strip_prefix('-') {
            ("-", b)
        } else {
            ("", a.as_str())
        };
        if dashes.is_empty() || body.is_empty() {
            out.pos.push(a.clone());
            continue;
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let found = flags.iter().find(|f| {
            f.names
                .iter()
                .any(|n| *n == name && (dashes == "--" || n.chars().count() == 1))
        });
        let Some(flag) = found else {
            if name == "h" || name == "help" {
                return Err(ToolError::Help);
            }
            let shown = if dashes == "-" {
                name.chars().next().map(String::from).unwrap_or_default()
            } else {
                name.to_string()
            };
            return Err(ToolError::Usage(format!(
                "flag provided but not defined: {dashes}{shown}"
            )));
        };
        let spelling = format!("{dashes}{name}");
        let value = match flag.kind {
            Kind::Bool => {
                let v = inline.unwrap_or_else(|| "true".into());
                if parse_bool(&v).is_none() {
                    return Err(invalid_value(
                        &v,
                        &spelling,
                        &format!("strconv.ParseBool: parsing {v:?}: invalid syntax"),
                    ));
                }
                v
            }
            Kind::Value => match inline {
                Some(v) => v,
                None if i < args.len() => {
                    i += 1;
                    args[i - 1].clone()
                }
                None => {
                    return Err(ToolError::Usage(format!(
                        "flag needs an argument: {spelling}"
                    )));
                }
            },
        };
        out.values.push((flag.names[0], value, spelling));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    const FLAGS: &[Flag] = &[
        value(&["r", "relation"]),
        boolean(&["app"]),
        FORMAT,
        boolean(&["application"]),
    ];

    #[test]
    fn interspersed_and_terminated() {
        let a = parse(&s(&["db", "--format=json", "-r", "db:1", "--app"]), FLAGS).unwrap();
        assert_eq!(a.pos, ["db"]);
        assert_eq!(a.value("format"), Some("json"));
        assert_eq!(a.value("r"), Some("db:1"));
        assert!(a.flag("app"));
        let a = parse(
            &s(&["--application=False", "active", "--", "-x", "--app"]),
            FLAGS,
        )
        .unwrap();
        assert!(!a.flag("application"));
        assert_eq!(a.pos, ["active", "-x", "--app"]);
        let a = parse(&s(&["--relation", "7"]), FLAGS).unwrap();
        assert_eq!(a.value("r"), Some("7"));
        assert_eq!(a.spelling("r"), "--relation");
    }

    #[test]
    fn mistakes() {
        let e = parse(&s(&["--nope"]), FLAGS).unwrap_err();
        assert_eq!(e.to_string(), "flag provided but not defined: --nope");
        let e = parse(&s(&["-r"]), FLAGS).unwrap_err();
        assert_eq!(e.to_string(), "flag needs an argument: -r");
        let e = parse(&s(&["--app=maybe"]), FLAGS).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid value \"maybe\" for flag --app")
        );
        assert!(matches!(
            parse(&s(&["--help"]), FLAGS),
            Err(ToolError::Help)
        ));
    }
}
