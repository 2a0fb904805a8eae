//! Output the way `jujuc` prints it (`juju/cmd` formatters).
//!
//! Every hook tool that prints something takes `--format` with `smart`, `yaml` or `json`:
//!
//! - `json` is Go's `json.Marshal` plus a newline: compact, map keys sorted, `<`, `>` and `&`
//!   escaped as `\u003c`…, floats without a trailing `.0` (`1.0` prints as `1`), and `nil` as
//!   `null`. Struct-shaped answers (network-get, goal-state, secret-info-get) keep Go's field
//!   order; map-shaped ones are sorted by the caller with [`sorted`].
//! - `smart` prints strings as they are, `[]string` one per line, booleans as `True`/`False`
//!   (for pyjuju compatibility), `nil` and `""` as nothing, and anything else as YAML.
//! - `yaml` is `gopkg.in/yaml.v2`. This module emits the subset charms meet (maps, lists,
//!   scalars) with yaml.v2's quoting choices; charms written for `ops` always ask for JSON.

use serde_json::{Map, Value};
use std::fmt::Write as _;

/// The `--format` of a tool that prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Smart,
    Yaml,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "smart" => Some(Format::Smart),
            "yaml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// What a tool prints for `value` in `format`, newline included.
pub fn render(format: Format, value: &Value) -> Vec<u8> {
    match format {
        Format::Json => {
            let mut s = go_json(value);
            s.push('\n');
            s.into_bytes()
        }
        Format::Yaml => yaml_doc(value).into_bytes(),
        Format::Smart => smart(value).into_bytes(),
    }
}

/// `FormatSmart`.
fn smart(value: &Value) -> String {
    let s = match value {
        Value::Null => return String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        _ => return yaml_doc(value),
    };
    if s.is_empty() { s } else { s + "\n" }
}

/// Recursively sort every object's keys, as Go's `json.Marshal` and yaml.v2 do for maps.
pub fn sorted(value: Value) -> Value {
    match value {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        v => v,
    }
}

/// A JSON object from string pairs, sorted (a Go `map[string]string`).
pub fn string_map<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
    let mut m = Map::new();
    let mut entries: Vec<_> = pairs.into_iter().collect();
    entries.sort();
    for (k, v) in entries {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    Value::Object(m)
}

/// Go's `json.Marshal` (with HTML escaping), keeping the object order given.
pub fn go_json(value: &Value) -> String {
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

fn write_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                out.push_str(&go_json_float(n.as_f64().unwrap_or(0.0)));
            }
        }
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(v, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(k, out);
                out.push(':');
                write_json(v, out);
            }
            out.push('}');
        }
    }
}

fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A float64 as Go's `encoding/json` writes it: shortest form, exponent only below 1e-6 or
/// from 1e21 on (`1e-7`, `1e+21`).
pub fn go_json_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        exp_form(f)
    } else {
        format!("{f}")
    }
}

/// `1e-7` / `1.5e+21` from Rust's `{:e}` (`1e-7`, `1.5e21`).
fn exp_form(f: f64) -> String {
    let s = format!("{f:e}");
    match s.split_once('e') {
        Some((m, e)) if e.starts_with('-') => format!("{m}e{e}"),
        Some((m, e)) => format!("{m}e+{e}"),
        None => s,
    }
}

/// A float64 as yaml.v2 writes it (`strconv.FormatFloat(f, 'g', -1, 64)`): exponent form
/// when the decimal exponent is below -4 or at least 6, with two exponent digits.
fn go_g_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    if f == 0.0 {
        return format!("{f}");
    }
    let exp = f.abs().log10().floor() as i32;
    if !(-4..6).contains(&exp) {
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match e.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', e),
        };
        format!("{m}e{sign}{digits:0>2}")
    } else {
        format!("{f}")
    }
}

/// A YAML document as yaml.v2 marshals `value` (`nil` prints nothing).
fn yaml_doc(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Null => return out,
        Value::Object(m) if !m.is_empty() => yaml_map(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => yaml_seq(a, 0, &mut out),
        v => {
            out.push_str(&yaml_scalar(v, 0));
            out.push('\n');
        }
    }
    out
}

fn yaml_map(m: &Map<String, Value>, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for (k, v) in m {
        out.push_str(&pad);
        out.push_str(&yaml_string(k, indent));
        out.push(':');
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                yaml_map(inner, indent + 2, out);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                yaml_seq(items, indent, out);
            }
            v => {
                out.push(' ');
                out.push_str(&yaml_scalar(v, indent + 2));
                out.push('\n');
            }
        }
    }
}

fn yaml_seq(items: &[Value], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for v in items {
        out.push_str(&pad);
        out.push_str("- ");
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                let mut nested = String::new();
                yaml_map(inner, indent + 2, &mut nested);
                out.push_str(nested.trim_start());
            }
            Value::Array(inner) if !inner.is_empty() => {
                let mut nested = String::new();
                yaml_seq(inner, indent + 2, &mut nested);
                out.push_str(nested.trim_start());
            }
            v => {
                out.push_str(&yaml_scalar(v, indent + 2));
                out.push('\n');
            }
        }
    }
}

fn yaml_scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.to_string(),
            (_, Some(u)) => u.to_string(),
            _ => go_g_float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => yaml_string(s, indent),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// yaml.v2's choice for a string: plain when it reads back as the same string, a literal
/// block when it has newlines, double quotes when it would read as another type, single
/// quotes when its characters rule out a plain scalar.
fn yaml_string(s: &str, indent: usize) -> String {
    if s.contains('\n') && !s.chars().any(|c| c.is_control() && c != '\n') {
        let pad = " ".repeat(indent.max(2));
        let chomp = if s.ends_with('\n') { "" } else { "-" };
        let mut out = format!("|{chomp}");
        for line in s.trim_end_matches('\n').split('\n') {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
                out.push_str(line);
            }
        }
        return out;
    }
    if s.is_empty() || resolves_as_non_string(s) || s.chars().any(|c| c.is_control()) {
        let mut out = String::new();
        write_json_string(s, &mut out);
        return out
            .replace("\\u003c", "<")
            .replace("\\u003e", ">")
            .replace("\\u0026", "&");
    }
    if plain_allowed(s) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

fn resolves_as_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "yes",
        "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
        ".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF", "+.inf", ".nan", ".NaN", ".NAN", "<<",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let t = s.replace('_', "");
    let t = t.strip_prefix(['+', '-']).unwrap_or(&t);
    let Some(first) = t.chars().next() else {
        return false;
    };
    if let Some(hex) = t.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(bin) = t.strip_prefix("0b") {
        return !bin.is_empty() && bin.chars().all(|c| c == '0' || c == '1');
    }
    let numeric = |c: char| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-');
    if (first.is_ascii_digit() || first == '.') && t.chars().all(numeric) {
        return t.parse::<f64>().is_ok();
    }
    // Sexagesimal numbers (`1:20`), which YAML 1.1 reads as numbers.
    first.is_ascii_digit()
        && t.contains(':')
        && t.split(':')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

fn plain_allowed(s: &str) -> bool {
    let mut chars = s.chars();
    let first = chars.next().unwrap_or(' ');
    let second = chars.next();
    let indicator = ",[]{}#&*!|>'\"%@`".contains(first)
        || (matches!(first, '-' | '?' | ':') && second.is_none_or(|c| c == ' '));
    !(indicator
        || s.starts_with(' ')
        || s.ends_with(' ')
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_like_go() {
        let v = sorted(
            json!({"b": 1.0, "a": "<x&y>", "c": [true, null], "d": 0.5, "e": 1e21, "f": 1e-7}),
        );
        assert_eq!(
            go_json(&v),
            r#"{"a":"\u003cx\u0026y\u003e","b":1,"c":[true,null],"d":0.5,"e":1e+21,"f":1e-7}"#
        );
        assert_eq!(render(Format::Json, &Value::Null), b"null\n");
        assert_eq!(go_json(&json!("tab\there\u{1}")), r#""tab\there\u0001""#);
    }

    #[test]
    fn smart_like_go() {
        assert_eq!(render(Format::Smart, &json!("x")), b"x\n");
        assert_eq!(render(Format::Smart, &json!("")), b"");
        assert_eq!(render(Format::Smart, &json!(true)), b"True\n");
        assert_eq!(render(Format::Smart, &json!(["a", "b"])), b"a\nb\n");
        assert_eq!(render(Format::Smart, &json!([])), b"");
        assert_eq!(render(Format::Smart, &Value::Null), b"");
        assert_eq!(render(Format::Smart, &json!(8080)), b"8080\n");
    }

    #[test]
    fn yaml_like_yaml_v2() {
        let v = sorted(json!({
            "port": 8080, "name": "x", "empty": "", "t": "true", "colon": "a: b",
            "nested": {"k": "v"}, "list": ["a", "b"], "ratio": 0.5, "big": 1e6,
            "multi": "l1\nl2"
        }));
        assert_eq!(
            String::from_utf8(render(Format::Yaml, &v)).unwrap(),
            "big: 1e+06\ncolon: 'a: b'\nempty: \"\"\nlist:\n- a\n- b\nmulti: |-\n  l1\n  l2\nname: x\nnested:\n  k: v\nport: 8080\nratio: 0.5\nt: \"true\"\n"
        );
        assert_eq!(render(Format::Yaml, &json!({})), b"{}\n");
        assert_eq!(
            render(Format::Yaml, &json!([{"a": 1, "b": 2}])),
            b"- a: 1\n  b: 2\n"
        );
    }
}
