//! Python literals: strings, bytes, databags and JSON values as Python source.

use super::super::scene::Databag;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A Python `str` literal. JSON's string escapes are all valid in Python.
pub fn py_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

pub(super) fn py_list_str(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| py_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A Python `bytes` literal: printable ASCII as is, everything else escaped.
pub(super) fn py_bytes(b: &[u8]) -> String {
    let mut s = String::from("b\"");
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
    s
}

pub(super) fn py_databag(d: &Databag) -> String {
    let items: Vec<String> = d
        .iter()
        .map(|(k, v)| format!("{}: {}", py_str(k), py_str(v)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

pub(super) fn py_units(units: &BTreeMap<u32, Databag>) -> String {
    let items: Vec<String> = units
        .iter()
        .map(|(n, d)| format!("{n}: {}", py_databag(d)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// A JSON value as a Python literal.
pub fn py_value(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str(s),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(py_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", py_str(k), py_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
