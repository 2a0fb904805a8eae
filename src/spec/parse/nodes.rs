//! Typed access to YAML nodes: a field of the expected type, or an error that says which.

use super::SpecError;
use super::error::{invalid, join, missing, wrong_type};
use super::yaml::{Node, Scalar, Value};

// ---------------------------------------------------------------------------------------
// Typed access to YAML nodes

/// The entries of a mapping whose keys are names (endpoints, storage, options, ...). A null
/// section (`requires:` with nothing under it) is empty.
pub(super) fn named_entries<'a>(
    file: &str,
    node: Option<&'a Node>,
    path: &str,
) -> Result<Vec<(String, &'a Node, &'a Node)>, SpecError> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    match &node.value {
        Value::Scalar(Scalar::Null) => Ok(Vec::new()),
        Value::Map(pairs) => pairs
            .iter()
            .map(|(k, v)| match k.as_str() {
                Some(name) => Ok((name.to_string(), k, v)),
                None => Err(wrong_type(file, k, path, "a name (string) as key")),
            })
            .collect(),
        _ => Err(wrong_type(file, node, path, "a mapping")),
    }
}

/// An optional field of a mapping; an explicit null counts as absent.
pub(super) fn field<'a>(map: &'a Node, key: &str) -> Option<&'a Node> {
    map.get(key).map(|(_, v)| v).filter(|v| !v.is_null())
}

/// The node must be a mapping, or null (treated as an empty mapping).
pub(super) fn expect_map(file: &str, node: &Node, path: &str) -> Result<(), SpecError> {
    match node.value {
        Value::Map(_) | Value::Scalar(Scalar::Null) => Ok(()),
        _ => Err(wrong_type(file, node, path, "a mapping")),
    }
}

pub(super) fn opt_str(
    file: &str,
    map: &Node,
    key: &str,
    path: &str,
) -> Result<Option<String>, SpecError> {
    match field(map, key) {
        None => Ok(None),
        Some(n) => match n.as_str() {
            Some(s) => Ok(Some(s.to_string())),
            None => Err(wrong_type(file, n, &join(path, key), "a string")),
        },
    }
}

pub(super) fn req_str(file: &str, map: &Node, key: &str, path: &str) -> Result<String, SpecError> {
    match map.get(key) {
        None => Err(missing(file, map, path, key)),
        Some((_, n)) => match n.as_str() {
            Some(s) => Ok(s.to_string()),
            None => Err(wrong_type(file, n, &join(path, key), "a string")),
        },
    }
}

/// Free text (descriptions): any scalar is taken as written, as a YAML-unaware reader would.
pub(super) fn opt_text(
    file: &str,
    map: &Node,
    key: &str,
    path: &str,
) -> Result<Option<String>, SpecError> {
    match field(map, key) {
        None => Ok(None),
        Some(n) => match &n.value {
            Value::Scalar(Scalar::Str(s)) => Ok(Some(s.clone())),
            Value::Scalar(_) => Ok(Some(n.raw.clone())),
            _ => Err(wrong_type(file, n, &join(path, key), "text")),
        },
    }
}

pub(super) fn opt_bool(
    file: &str,
    map: &Node,
    key: &str,
    path: &str,
) -> Result<Option<bool>, SpecError> {
    match field(map, key) {
        None => Ok(None),
        Some(n) => match n.value {
            Value::Scalar(Scalar::Bool(b)) => Ok(Some(b)),
            _ => Err(wrong_type(file, n, &join(path, key), "a boolean")),
        },
    }
}

pub(super) fn opt_u64(
    file: &str,
    map: &Node,
    key: &str,
    path: &str,
) -> Result<Option<u64>, SpecError> {
    match field(map, key) {
        None => Ok(None),
        Some(n) => match n.value {
            Value::Scalar(Scalar::Int(i)) if i >= 0 => Ok(Some(i as u64)),
            _ => Err(wrong_type(
                file,
                n,
                &join(path, key),
                "a non-negative integer",
            )),
        },
    }
}

pub(super) fn opt_u32(
    file: &str,
    map: &Node,
    key: &str,
    path: &str,
) -> Result<Option<u32>, SpecError> {
    match opt_u64(file, map, key, path)? {
        None => Ok(None),
        Some(v) => match u32::try_from(v) {
            Ok(v) => Ok(Some(v)),
            Err(_) => {
                let n = field(map, key).unwrap_or(map);
                Err(invalid(file, n, &join(path, key), "number too large"))
            }
        },
    }
}

pub(super) fn opt_number(
    file: &str,
    map: &Node,
    key: &str,
    path: &str,
) -> Result<Option<f64>, SpecError> {
    match field(map, key) {
        None => Ok(None),
        Some(n) => match n.value {
            Value::Scalar(Scalar::Int(i)) => Ok(Some(i as f64)),
            Value::Scalar(Scalar::Float(f)) if f.is_finite() => Ok(Some(f)),
            _ => Err(wrong_type(file, n, &join(path, key), "a number")),
        },
    }
}

/// Convert a node to JSON, as `json.dumps` would convert what PyYAML loaded.
pub(super) fn to_json(file: &str, node: &Node, path: &str) -> Result<serde_json::Value, SpecError> {
    use serde_json::Value as J;
    Ok(match &node.value {
        Value::Scalar(Scalar::Null) => J::Null,
        Value::Scalar(Scalar::Bool(b)) => J::Bool(*b),
        Value::Scalar(Scalar::Int(i)) => J::from(*i),
        Value::Scalar(Scalar::BigInt(_)) => {
            return Err(invalid(
                file,
                node,
                path,
                format!("integer {} does not fit in 64 bits", node.raw),
            ));
        }
        Value::Scalar(Scalar::Float(f)) => match serde_json::Number::from_f64(*f) {
            Some(n) => J::Number(n),
            None => {
                return Err(invalid(
                    file,
                    node,
                    path,
                    format!("{} is not a finite number (JSON cannot hold it)", node.raw),
                ));
            }
        },
        Value::Scalar(Scalar::Str(s)) => J::String(s.clone()),
        Value::Seq(items) => J::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, n)| to_json(file, n, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(pairs) => {
            let mut obj = serde_json::Map::new();
            for (k, v) in pairs {
                // JSON keys are strings; Python's json.dumps writes True as "true", 1 as "1".
                let key = match &k.value {
                    Value::Scalar(Scalar::Str(s)) => s.clone(),
                    Value::Scalar(Scalar::Bool(b)) => b.to_string(),
                    Value::Scalar(Scalar::Null) => "null".to_string(),
                    _ => k.raw.clone(),
                };
                let value = to_json(file, v, &join(path, &key))?;
                obj.insert(key, value);
            }
            J::Object(obj)
        }
    })
}
