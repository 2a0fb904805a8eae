//! Reading a [`CharmSpec`] from a charm's YAML files.
//!
//! # Two layouts, one spec
//!
//! A charm's shape can be written two ways:
//!
//! - **Unified** (charmcraft 2.5 and later): one `charmcraft.yaml` holds the build recipe
//!   (`type: charm`, `bases:`/`platforms:`, `parts:`) *and* the metadata (`name:`,
//!   `requires:`, `containers:`, ...), the config under `config: options:` and the actions
//!   under `actions:`.
//! - **Split** (older charms): `metadata.yaml` holds the metadata, `config.yaml` the
//!   `options:`, `actions.yaml` the actions. Such a charm often still has a `charmcraft.yaml`,
//!   but one with build information only (no `name:`).
//!
//! `charmcraft pack` turns the unified form into the split files, and `ops` only ever reads
//! the split files at run time. Both layouts must therefore give the same [`CharmSpec`]: a
//! `charmcraft.yaml` with a `name:` key is the unified form and wins; otherwise
//! `metadata.yaml` (+ `config.yaml`, `actions.yaml` when present) is read.
//! `metrics.yaml` (or a `metrics:` key in the unified form) only tells us the charm declares
//! metrics, which makes Juju run `collect-metrics` on machine units.
//!
//! # Why YAML 1.1 matters
//!
//! Charm YAML is read by PyYAML (charmcraft, `ops`, `ops.testing`) and by Go's yaml.v2 in
//! Juju, and both implement YAML **1.1**, where an unquoted `yes`, `no`, `on` or `off` is a
//! boolean. Most Rust YAML libraries implement YAML 1.2, where those are strings. Reading
//! `default: yes` as the string `"yes"` would make charmfuzz hand the charm a config value
//! it can never get from Juju, or accept a spec Juju rejects (a `string` option with
//! default `yes` is a boolean default, which Juju refuses). So scalars are resolved here
//! exactly as PyYAML's `SafeLoader` resolves them (see the `yaml` submodule): `y` and `n`
//! stay strings, a quoted `"yes"` stays a string, `017` is octal and `1e3` is a string.
//!
//! # Errors
//!
//! Every [`SpecError`] names the file (as given), the place (`line:column` and the key path,
//! like `requires.db.interface`) and the problem, so a charm author can fix it without
//! reading our code. No input makes the reader panic.

mod extensions;
mod yaml;

use super::{
    ActionParam, ActionSpec, CharmSpec, ConfigOption, ConfigType, ContainerSpec, Endpoint, Mount,
    Multiple, ParamType, ResourceSpec, Role, Scope, SpecLayout, StorageKind, StorageSpec,
    Substrate,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use yaml::{Node, Scalar, Value};

/// Why a charm's spec could not be read.
///
/// The `Display` form is the message for the user: `<file>:<line>:<column>: <key path>:
/// <problem>`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A file could not be read (missing, unreadable, not UTF-8).
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// Neither a `charmcraft.yaml` with `name:` nor a `metadata.yaml` exists.
    #[error(
        "{dir}: no charm metadata found: expected charmcraft.yaml with a `name:` key, or metadata.yaml"
    )]
    NoMetadata { dir: String },
    /// The file is not valid YAML.
    #[error("{file}:{line}:{column}: YAML syntax error: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// A required key is absent. `line:column` is where the enclosing mapping starts.
    #[error("{}missing required key \"{name}\"", place(.file, *.line, *.column, .key))]
    MissingKey {
        file: String,
        line: usize,
        column: usize,
        /// Key path of the enclosing mapping (empty for the top level).
        key: String,
        /// The missing key.
        name: String,
    },
    /// A value of the wrong YAML type.
    #[error("{}expected {expected}, found {found}", place(.file, *.line, *.column, .key))]
    WrongType {
        file: String,
        line: usize,
        column: usize,
        key: String,
        expected: String,
        found: String,
    },
    /// A value of the right type that is not allowed.
    #[error("{}{message}", place(.file, *.line, *.column, .key))]
    InvalidValue {
        file: String,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
    /// A name that breaks Juju's naming rule for its kind (the message spells the rule out).
    #[error(
        "{}invalid {kind} name {name:?}: {}",
        place(.file, *.line, *.column, .key),
        name_rule(.kind)
    )]
    InvalidName {
        file: String,
        line: usize,
        column: usize,
        key: String,
        /// `charm`, `endpoint`, `storage`, `container` or `action`.
        kind: &'static str,
        name: String,
    },
    /// A name declared twice where Juju needs it unique; the name is the last part of `key`.
    #[error(
        "{}duplicate {kind} name {:?} (already declared as {first})",
        place(.file, *.line, *.column, .key),
        last_segment(.key)
    )]
    Duplicate {
        file: String,
        line: usize,
        column: usize,
        key: String,
        kind: &'static str,
        /// Where the first declaration is: `<key path> at <line>:<column>`.
        first: String,
    },
}

fn last_segment(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

fn name_rule(kind: &str) -> &'static str {
    match kind {
        "endpoint" => ENDPOINT_RULE,
        "storage" | "charm" => STORAGE_RULE,
        _ => ACTION_RULE,
    }
}

fn place(file: &str, line: usize, column: usize, key: &str) -> String {
    if key.is_empty() {
        format!("{file}:{line}:{column}: ")
    } else {
        format!("{file}:{line}:{column}: {key}: ")
    }
}

impl SpecError {
    /// The file the error is about (the charm directory for [`SpecError::NoMetadata`]).
    pub fn file(&self) -> &str {
        match self {
            SpecError::Read { file, .. }
            | SpecError::Syntax { file, .. }
            | SpecError::MissingKey { file, .. }
            | SpecError::WrongType { file, .. }
            | SpecError::InvalidValue { file, .. }
            | SpecError::InvalidName { file, .. }
            | SpecError::Duplicate { file, .. } => file,
            SpecError::NoMetadata { dir } => dir,
        }
    }

    /// `(line, column)`, 1-based, when the error has a position.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            SpecError::Syntax { line, column, .. }
            | SpecError::MissingKey { line, column, .. }
            | SpecError::WrongType { line, column, .. }
            | SpecError::InvalidValue { line, column, .. }
            | SpecError::InvalidName { line, column, .. }
            | SpecError::Duplicate { line, column, .. } => Some((*line, *column)),
            SpecError::Read { .. } | SpecError::NoMetadata { .. } => None,
        }
    }
}

/// Top-level keys that only make sense in charm metadata: a `charmcraft.yaml` that has some
/// of them but no `name:` is a broken unified file, not a build-only one.
const METADATA_KEYS: &[&str] = &[
    "requires",
    "provides",
    "peers",
    "storage",
    "containers",
    "resources",
    "subordinate",
    "extra-bindings",
];

impl CharmSpec {
    /// Read the spec of the charm in `dir`.
    ///
    /// `charmcraft.yaml` is used when it has a `name:` key (the unified layout). Otherwise
    /// (absent, or build information only) `metadata.yaml` is required and `config.yaml` and
    /// `actions.yaml` are read when present; a build-only `charmcraft.yaml` may still carry
    /// `config:` or `actions:`, used when the split file is absent. `has_metrics` is set when
    /// `metrics.yaml` exists.
    pub fn load(dir: &Path) -> Result<CharmSpec, SpecError> {
        // A missing or mistyped charm directory deserves its own message, not "no metadata".
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(SpecError::Read {
                    file: display(dir),
                    source: std::io::Error::other(
                        "not a directory (expected the charm's directory)",
                    ),
                });
            }
            Err(source) => {
                return Err(SpecError::Read {
                    file: display(dir),
                    source,
                });
            }
        }
        let has_metrics_file = dir.join("metrics.yaml").is_file();
        let charmcraft_path = dir.join("charmcraft.yaml");
        let mut charmcraft = match read_optional(&charmcraft_path)? {
            Some(text) => {
                let file = display(&charmcraft_path);
                let root = parse_doc(&file, &text)?;
                Some((file, root))
            }
            None => None,
        };
        if let Some((file, Some(root))) = &mut charmcraft {
            if matches!(root.value, Value::Map(_)) && root.get("name").is_some() {
                extensions::expand(file, root)?;
                let mut spec = from_unified(file, root)?;
                spec.has_metrics |= has_metrics_file;
                spec.dir = dir.to_path_buf();
                return Ok(spec);
            }
            if !matches!(root.value, Value::Map(_)) {
                return Err(wrong_type(file, root, "", "a mapping at the top level"));
            }
        }

        let metadata_path = dir.join("metadata.yaml");
        let metadata_text = match read_optional(&metadata_path)? {
            Some(text) => text,
            None => {
                // A charmcraft.yaml with metadata but no `name:` is the likelier mistake.
                if let Some((file, Some(root))) = &charmcraft {
                    if METADATA_KEYS.iter().any(|k| root.get(k).is_some()) {
                        return Err(missing(file, root, "", "name"));
                    }
                }
                return Err(SpecError::NoMetadata { dir: display(dir) });
            }
        };
        let metadata_file = display(&metadata_path);
        let metadata = parse_doc(&metadata_file, &metadata_text)?;

        let config_path = dir.join("config.yaml");
        let config_text = read_optional(&config_path)?;
        let config_file = display(&config_path);
        let config_doc = match &config_text {
            Some(text) => parse_doc(&config_file, text)?,
            None => None,
        };
        let actions_path = dir.join("actions.yaml");
        let actions_text = read_optional(&actions_path)?;
        let actions_file = display(&actions_path);
        let actions_doc = match &actions_text {
            Some(text) => parse_doc(&actions_file, text)?,
            None => None,
        };

        // Config and actions: the split file, else the build-only charmcraft.yaml's keys.
        let cc_root = charmcraft
            .as_ref()
            .and_then(|(f, r)| r.as_ref().map(|r| (f, r)));
        let config = if config_text.is_some() {
            Some(Section {
                file: &config_file,
                node: config_doc.as_ref(),
                prefix: "",
            })
        } else {
            cc_root.and_then(|(f, r)| {
                r.get("config").map(|(_, n)| Section {
                    file: f,
                    node: Some(n),
                    prefix: "config",
                })
            })
        };
        let actions = if actions_text.is_some() {
            Some(Section {
                file: &actions_file,
                node: actions_doc.as_ref(),
                prefix: "",
            })
        } else {
            cc_root.and_then(|(f, r)| {
                r.get("actions").map(|(_, n)| Section {
                    file: f,
                    node: Some(n),
                    prefix: "actions",
                })
            })
        };

        let mut spec = build(
            &metadata_file,
            metadata.as_ref(),
            config,
            actions,
            SpecLayout::Split,
        )?;
        spec.has_metrics |= has_metrics_file;
        spec.dir = dir.to_path_buf();
        Ok(spec)
    }

    /// Read a unified `charmcraft.yaml` given as text. Errors name `name_for_errors`.
    pub fn from_unified_str(name_for_errors: &str, yaml: &str) -> Result<CharmSpec, SpecError> {
        let mut root = parse_doc(name_for_errors, yaml)?;
        match &mut root {
            Some(root) => {
                extensions::expand(name_for_errors, root)?;
                from_unified(name_for_errors, root)
            }
            None => Err(SpecError::MissingKey {
                file: name_for_errors.to_string(),
                line: 1,
                column: 1,
                key: String::new(),
                name: "name".to_string(),
            }),
        }
    }

    /// The charm's `charmcraft.yaml` with its `extensions:` expanded, as JSON (which the YAML
    /// parser `ops` uses reads too), or `None` when it is not a unified `charmcraft.yaml`
    /// declaring extensions. This is what `charmcraft expand-extensions` prints, and what
    /// the charm's copy carries, so that the split files made of it agree with the spec.
    pub fn expanded_charmcraft(dir: &Path) -> Result<Option<String>, SpecError> {
        let path = dir.join("charmcraft.yaml");
        let Some(text) = read_optional(&path)? else {
            return Ok(None);
        };
        let file = display(&path);
        let Some(mut root) = parse_doc(&file, &text)? else {
            return Ok(None);
        };
        if root.get("name").is_none() || !extensions::expand(&file, &mut root)? {
            return Ok(None);
        }
        let json = to_json(&file, &root, "")?;
        Ok(Some(
            serde_json::to_string_pretty(&json).expect("a JSON value serialises"),
        ))
    }

    /// Read the split layout given as texts. Errors name `metadata.yaml`, `config.yaml` and
    /// `actions.yaml`.
    pub fn from_split_strs(
        metadata: &str,
        config: Option<&str>,
        actions: Option<&str>,
    ) -> Result<CharmSpec, SpecError> {
        let meta = parse_doc("metadata.yaml", metadata)?;
        let config_doc = config.map(|t| parse_doc("config.yaml", t)).transpose()?;
        let actions_doc = actions.map(|t| parse_doc("actions.yaml", t)).transpose()?;
        build(
            "metadata.yaml",
            meta.as_ref(),
            config_doc.as_ref().map(|n| Section {
                file: "config.yaml",
                node: n.as_ref(),
                prefix: "",
            }),
            actions_doc.as_ref().map(|n| Section {
                file: "actions.yaml",
                node: n.as_ref(),
                prefix: "",
            }),
            SpecLayout::Split,
        )
    }
}

/// A YAML node holding config (`options:`) or actions, with the file it came from and the key
/// path leading to it (`config` in the unified form, nothing in a split file).
#[derive(Clone, Copy)]
struct Section<'a> {
    file: &'a str,
    node: Option<&'a Node>,
    prefix: &'a str,
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// Read a file; `Ok(None)` if it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>, SpecError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SpecError::Read {
            file: display(path),
            source,
        }),
    }
}

fn parse_doc(file: &str, text: &str) -> Result<Option<Node>, SpecError> {
    yaml::parse(text).map_err(|e| SpecError::Syntax {
        file: file.to_string(),
        line: e.pos.line,
        column: e.pos.column,
        message: e.message,
    })
}

fn from_unified(file: &str, root: &Node) -> Result<CharmSpec, SpecError> {
    let config = root.get("config").map(|(_, n)| Section {
        file,
        node: Some(n),
        prefix: "config",
    });
    let actions = root.get("actions").map(|(_, n)| Section {
        file,
        node: Some(n),
        prefix: "actions",
    });
    let mut spec = build(file, Some(root), config, actions, SpecLayout::Unified)?;
    spec.has_metrics |= root.get("metrics").is_some_and(|(_, n)| !n.is_null());
    Ok(spec)
}

// ---------------------------------------------------------------------------------------
// Error helpers

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn missing(file: &str, map: &Node, path: &str, name: &str) -> SpecError {
    SpecError::MissingKey {
        file: file.to_string(),
        line: map.pos.line,
        column: map.pos.column,
        key: path.to_string(),
        name: name.to_string(),
    }
}

fn wrong_type(file: &str, node: &Node, path: &str, expected: &str) -> SpecError {
    SpecError::WrongType {
        file: file.to_string(),
        line: node.pos.line,
        column: node.pos.column,
        key: path.to_string(),
        expected: expected.to_string(),
        found: node.describe(),
    }
}

fn invalid(file: &str, node: &Node, path: &str, message: impl Into<String>) -> SpecError {
    SpecError::InvalidValue {
        file: file.to_string(),
        line: node.pos.line,
        column: node.pos.column,
        key: path.to_string(),
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------------------
// Typed access to YAML nodes

/// The entries of a mapping whose keys are names (endpoints, storage, options, ...). A null
/// section (`requires:` with nothing under it) is empty.
fn named_entries<'a>(
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
fn field<'a>(map: &'a Node, key: &str) -> Option<&'a Node> {
    map.get(key).map(|(_, v)| v).filter(|v| !v.is_null())
}

/// The node must be a mapping, or null (treated as an empty mapping).
fn expect_map(file: &str, node: &Node, path: &str) -> Result<(), SpecError> {
    match node.value {
        Value::Map(_) | Value::Scalar(Scalar::Null) => Ok(()),
        _ => Err(wrong_type(file, node, path, "a mapping")),
    }
}

fn opt_str(file: &str, map: &Node, key: &str, path: &str) -> Result<Option<String>, SpecError> {
    match field(map, key) {
        None => Ok(None),
        Some(n) => match n.as_str() {
            Some(s) => Ok(Some(s.to_string())),
            None => Err(wrong_type(file, n, &join(path, key), "a string")),
        },
    }
}

fn req_str(file: &str, map: &Node, key: &str, path: &str) -> Result<String, SpecError> {
    match map.get(key) {
        None => Err(missing(file, map, path, key)),
        Some((_, n)) => match n.as_str() {
            Some(s) => Ok(s.to_string()),
            None => Err(wrong_type(file, n, &join(path, key), "a string")),
        },
    }
}

/// Free text (descriptions): any scalar is taken as written, as a YAML-unaware reader would.
fn opt_text(file: &str, map: &Node, key: &str, path: &str) -> Result<Option<String>, SpecError> {
    match field(map, key) {
        None => Ok(None),
        Some(n) => match &n.value {
            Value::Scalar(Scalar::Str(s)) => Ok(Some(s.clone())),
            Value::Scalar(_) => Ok(Some(n.raw.clone())),
            _ => Err(wrong_type(file, n, &join(path, key), "text")),
        },
    }
}

fn opt_bool(file: &str, map: &Node, key: &str, path: &str) -> Result<Option<bool>, SpecError> {
    match field(map, key) {
        None => Ok(None),
        Some(n) => match n.value {
            Value::Scalar(Scalar::Bool(b)) => Ok(Some(b)),
            _ => Err(wrong_type(file, n, &join(path, key), "a boolean")),
        },
    }
}

fn opt_u64(file: &str, map: &Node, key: &str, path: &str) -> Result<Option<u64>, SpecError> {
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

fn opt_u32(file: &str, map: &Node, key: &str, path: &str) -> Result<Option<u32>, SpecError> {
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

fn opt_number(file: &str, map: &Node, key: &str, path: &str) -> Result<Option<f64>, SpecError> {
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
fn to_json(file: &str, node: &Node, path: &str) -> Result<serde_json::Value, SpecError> {
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

// ---------------------------------------------------------------------------------------
// Juju's naming rules, written out instead of as regular expressions.

/// Relation endpoint names: `^[a-z][a-z0-9]*([_-][a-z0-9]+)*$`.
const ENDPOINT_RULE: &str = "must match ^[a-z][a-z0-9]*([_-][a-z0-9]+)*$ (lowercase letters and digits, words joined by single '-' or '_', starting with a letter)";
fn valid_endpoint_name(s: &str) -> bool {
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
const STORAGE_RULE: &str = "must match ^[a-z][a-z0-9]*(-[a-z0-9]*[a-z][a-z0-9]*)*$ (lowercase words joined by '-', starting with a letter, each word after the first containing a letter)";
fn valid_storage_name(s: &str) -> bool {
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
const ACTION_RULE: &str = "must match ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ (lowercase letters, digits and '-', not starting or ending with '-')";
fn valid_action_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|&c| c == b'-' || c.is_ascii_lowercase() || c.is_ascii_digit())
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn check_name(
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

// ---------------------------------------------------------------------------------------
// The spec

fn build(
    file: &str,
    root: Option<&Node>,
    config: Option<Section<'_>>,
    actions: Option<Section<'_>>,
    layout: SpecLayout,
) -> Result<CharmSpec, SpecError> {
    let Some(root) = root else {
        return Err(SpecError::MissingKey {
            file: file.to_string(),
            line: 1,
            column: 1,
            key: String::new(),
            name: "name".to_string(),
        });
    };
    if !matches!(root.value, Value::Map(_)) {
        return Err(wrong_type(file, root, "", "a mapping at the top level"));
    }

    // The charm name is the application name; Juju applies the storage-name rule to it.
    let name = req_str(file, root, "name", "")?;
    if !valid_storage_name(&name) {
        let node = field(root, "name").unwrap_or(root);
        return Err(SpecError::InvalidName {
            file: file.to_string(),
            line: node.pos.line,
            column: node.pos.column,
            key: "name".to_string(),
            kind: "charm",
            name,
        });
    }
    let subordinate = opt_bool(file, root, "subordinate", "")?.unwrap_or(false);

    let endpoints = parse_endpoints(file, root)?;
    let storage = parse_storage(file, root)?;
    let containers = parse_containers(file, root, &storage)?;
    let resources = parse_resources(file, root)?;
    let extra_bindings = parse_extra_bindings(file, root)?;
    let substrate = detect_substrate(file, root, !containers.is_empty())?;

    let config = match config {
        Some(section) => parse_config(section)?,
        None => Vec::new(),
    };
    let actions = match actions {
        Some(section) => parse_actions(section)?,
        None => Vec::new(),
    };

    Ok(CharmSpec {
        name,
        substrate,
        subordinate,
        endpoints,
        storage,
        containers,
        actions,
        config,
        resources,
        extra_bindings,
        has_metrics: false,
        layout,
        dir: PathBuf::new(),
    })
}

fn parse_endpoints(file: &str, root: &Node) -> Result<Vec<Endpoint>, SpecError> {
    let mut endpoints = Vec::new();
    // Endpoint names are one namespace across the three sections: Juju identifies a
    // relation by `<app>:<endpoint>` without the role.
    let mut seen: HashMap<String, String> = HashMap::new();
    for (section, role) in [
        ("requires", Role::Requires),
        ("provides", Role::Provides),
        ("peers", Role::Peer),
    ] {
        for (name, key, spec) in named_entries(file, field(root, section), section)? {
            let path = join(section, &name);
            check_name(file, key, &path, "endpoint", &name, valid_endpoint_name)?;
            if let Some(first) = seen.get(&name) {
                return Err(SpecError::Duplicate {
                    file: file.to_string(),
                    line: key.pos.line,
                    column: key.pos.column,
                    key: path,
                    kind: "endpoint",
                    first: first.clone(),
                });
            }
            seen.insert(name.clone(), format!("{path} at {}", key.pos));

            // Juju also accepts the short form `db: mysql` (the value is the interface).
            let endpoint = if let Some(interface) = spec.as_str() {
                Endpoint {
                    name,
                    role,
                    interface: interface.to_string(),
                    limit: None,
                    scope: Scope::Global,
                    optional: false,
                }
            } else {
                if !matches!(spec.value, Value::Map(_)) {
                    return Err(wrong_type(
                        file,
                        spec,
                        &path,
                        "a mapping with `interface:` (or the interface name)",
                    ));
                }
                let interface = req_str(file, spec, "interface", &path)?;
                let scope = match opt_str(file, spec, "scope", &path)?.as_deref() {
                    None | Some("global") => Scope::Global,
                    Some("container") => Scope::Container,
                    Some(other) => {
                        let n = field(spec, "scope").unwrap_or(spec);
                        return Err(invalid(
                            file,
                            n,
                            &join(&path, "scope"),
                            format!(
                                "unknown scope {other:?}: expected \"global\" or \"container\""
                            ),
                        ));
                    }
                };
                Endpoint {
                    name,
                    role,
                    interface,
                    limit: opt_u32(file, spec, "limit", &path)?,
                    scope,
                    optional: opt_bool(file, spec, "optional", &path)?.unwrap_or(false),
                }
            };
            endpoints.push(endpoint);
        }
    }
    Ok(endpoints)
}

fn parse_storage(file: &str, root: &Node) -> Result<Vec<StorageSpec>, SpecError> {
    let mut out = Vec::new();
    for (name, key, spec) in named_entries(file, field(root, "storage"), "storage")? {
        let path = join("storage", &name);
        check_name(file, key, &path, "storage", &name, valid_storage_name)?;
        if !matches!(spec.value, Value::Map(_)) {
            return Err(wrong_type(file, spec, &path, "a mapping with `type:`"));
        }
        let ty = req_str(file, spec, "type", &path)?;
        let kind = match ty.as_str() {
            "filesystem" => StorageKind::Filesystem,
            "block" => StorageKind::Block,
            other => {
                let n = field(spec, "type").unwrap_or(spec);
                return Err(invalid(
                    file,
                    n,
                    &join(&path, "type"),
                    format!("unknown storage type {other:?}: expected \"filesystem\" or \"block\""),
                ));
            }
        };
        let multiple = match field(spec, "multiple") {
            None => Multiple {
                min: 1,
                max: Some(1),
            },
            Some(m) => {
                let mpath = join(&path, "multiple");
                if !matches!(m.value, Value::Map(_)) {
                    return Err(wrong_type(file, m, &mpath, "a mapping with `range:`"));
                }
                match m.get("range") {
                    None => return Err(missing(file, m, &mpath, "range")),
                    Some((_, r)) => parse_range(file, r, &join(&mpath, "range"))?,
                }
            }
        };
        out.push(StorageSpec {
            name,
            kind,
            location: opt_str(file, spec, "location", &path)?,
            multiple,
            shared: opt_bool(file, spec, "shared", &path)?.unwrap_or(false),
            read_only: opt_bool(file, spec, "read-only", &path)?.unwrap_or(false),
        });
    }
    Ok(out)
}

/// `range:` of `multiple:`: `N`, `N-M` or `N-` (no upper bound). A bare number may be
/// written unquoted, when YAML reads it as an integer.
fn parse_range(file: &str, node: &Node, path: &str) -> Result<Multiple, SpecError> {
    let bad = || {
        invalid(
            file,
            node,
            path,
            format!(
                "invalid range {:?}: expected \"N\", \"N-M\" or \"N-\"",
                node.raw
            ),
        )
    };
    let text = match &node.value {
        Value::Scalar(Scalar::Int(_)) => node.raw.as_str(),
        Value::Scalar(Scalar::Str(s)) => s.as_str(),
        _ => {
            return Err(wrong_type(
                file,
                node,
                path,
                "a range like \"1\", \"1-3\" or \"0-\"",
            ));
        }
    };
    let num = |s: &str| -> Option<u32> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    let m = match text.split_once('-') {
        None => {
            let n = num(text).ok_or_else(bad)?;
            Multiple {
                min: n,
                max: Some(n),
            }
        }
        Some((lo, "")) => Multiple {
            min: num(lo).ok_or_else(bad)?,
            max: None,
        },
        Some((lo, hi)) => Multiple {
            min: num(lo).ok_or_else(bad)?,
            max: Some(num(hi).ok_or_else(bad)?),
        },
    };
    if let Some(max) = m.max {
        if m.min > max {
            return Err(invalid(
                file,
                node,
                path,
                format!(
                    "invalid range {text:?}: minimum {} is above maximum {max}",
                    m.min
                ),
            ));
        }
    }
    Ok(m)
}

fn parse_containers(
    file: &str,
    root: &Node,
    storage: &[StorageSpec],
) -> Result<Vec<ContainerSpec>, SpecError> {
    let mut out = Vec::new();
    for (name, key, spec) in named_entries(file, field(root, "containers"), "containers")? {
        let path = join("containers", &name);
        check_name(file, key, &path, "container", &name, valid_action_name)?;
        expect_map(file, spec, &path)?;
        let mut mounts = Vec::new();
        if let Some(list) = field(spec, "mounts") {
            let mpath = join(&path, "mounts");
            let Value::Seq(items) = &list.value else {
                return Err(wrong_type(file, list, &mpath, "a list of mounts"));
            };
            for (i, item) in items.iter().enumerate() {
                let ipath = format!("{mpath}[{i}]");
                if !matches!(item.value, Value::Map(_)) {
                    return Err(wrong_type(
                        file,
                        item,
                        &ipath,
                        "a mapping with `storage:` and `location:`",
                    ));
                }
                let storage_name = req_str(file, item, "storage", &ipath)?;
                // A container can only mount storage the charm declares.
                let Some(declared) = storage.iter().find(|s| s.name == storage_name) else {
                    let n = field(item, "storage").unwrap_or(item);
                    return Err(invalid(
                        file,
                        n,
                        &join(&ipath, "storage"),
                        format!(
                            "mount refers to storage {storage_name:?}, which is not declared under `storage:`"
                        ),
                    ));
                };
                // Without `location:` the storage's own location is used.
                let location = match opt_str(file, item, "location", &ipath)? {
                    Some(l) => l,
                    None => match &declared.location {
                        Some(l) => l.clone(),
                        None => return Err(missing(file, item, &ipath, "location")),
                    },
                };
                mounts.push(Mount {
                    storage: storage_name,
                    location,
                });
            }
        }
        out.push(ContainerSpec {
            name,
            resource: opt_str(file, spec, "resource", &path)?,
            mounts,
        });
    }
    Ok(out)
}

fn parse_resources(file: &str, root: &Node) -> Result<Vec<ResourceSpec>, SpecError> {
    let mut out = Vec::new();
    for (name, _key, spec) in named_entries(file, field(root, "resources"), "resources")? {
        let path = join("resources", &name);
        expect_map(file, spec, &path)?;
        // Juju's default resource type is `file`.
        let kind = opt_str(file, spec, "type", &path)?.unwrap_or_else(|| "file".to_string());
        if kind != "file" && kind != "oci-image" {
            let n = field(spec, "type").unwrap_or(spec);
            return Err(invalid(
                file,
                n,
                &join(&path, "type"),
                format!("unknown resource type {kind:?}: expected \"file\" or \"oci-image\""),
            ));
        }
        out.push(ResourceSpec {
            name,
            kind,
            filename: opt_str(file, spec, "filename", &path)?,
        });
    }
    Ok(out)
}

/// `extra-bindings:` is a mapping whose keys are the binding names (values are ignored, and
/// usually null), or a plain list of names.
fn parse_extra_bindings(file: &str, root: &Node) -> Result<Vec<String>, SpecError> {
    let Some(node) = field(root, "extra-bindings") else {
        return Ok(Vec::new());
    };
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| {
                n.as_str().map(str::to_string).ok_or_else(|| {
                    wrong_type(file, n, &format!("extra-bindings[{i}]"), "a binding name")
                })
            })
            .collect(),
        _ => Ok(named_entries(file, Some(node), "extra-bindings")?
            .into_iter()
            .map(|(name, _, _)| name)
            .collect()),
    }
}

/// Kubernetes when the charm has workload containers, `assumes` names `k8s-api` (anywhere,
/// including inside `any-of:`/`all-of:`), or the deprecated `series: [kubernetes]`.
fn detect_substrate(file: &str, root: &Node, has_containers: bool) -> Result<Substrate, SpecError> {
    fn mentions(node: &Node, word: &str) -> bool {
        match &node.value {
            Value::Scalar(Scalar::Str(s)) => s.trim() == word,
            Value::Seq(items) => items.iter().any(|n| mentions(n, word)),
            Value::Map(pairs) => pairs.iter().any(|(_, v)| mentions(v, word)),
            Value::Scalar(_) => false,
        }
    }
    let assumes = field(root, "assumes");
    if let Some(a) = assumes {
        if !matches!(a.value, Value::Seq(_)) {
            return Err(wrong_type(file, a, "assumes", "a list of requirements"));
        }
    }
    let k8s = has_containers
        || assumes.is_some_and(|a| mentions(a, "k8s-api"))
        || field(root, "series").is_some_and(|s| mentions(s, "kubernetes"));
    Ok(if k8s {
        Substrate::Kubernetes
    } else {
        Substrate::Machine
    })
}

fn parse_config(section: Section<'_>) -> Result<Vec<ConfigOption>, SpecError> {
    let file = section.file;
    let Some(node) = section.node else {
        return Ok(Vec::new());
    };
    expect_map(file, node, section.prefix)?;
    let options_path = join(section.prefix, "options");
    let mut out = Vec::new();
    for (name, _key, spec) in named_entries(file, field(node, "options"), &options_path)? {
        let path = join(&options_path, &name);
        if !matches!(spec.value, Value::Map(_)) {
            return Err(wrong_type(file, spec, &path, "a mapping with `type:`"));
        }
        let ty_name = req_str(file, spec, "type", &path)?;
        let ty = match ty_name.as_str() {
            "string" => ConfigType::String,
            "int" => ConfigType::Int,
            "float" => ConfigType::Float,
            "boolean" => ConfigType::Boolean,
            "secret" => ConfigType::Secret,
            other => {
                let n = field(spec, "type").unwrap_or(spec);
                return Err(invalid(
                    file,
                    n,
                    &join(&path, "type"),
                    format!(
                        "unknown config type {other:?} for option {name:?}: expected one of string, int, float, boolean, secret"
                    ),
                ));
            }
        };
        let default = match field(spec, "default") {
            None => None,
            Some(d) => config_default(file, d, &join(&path, "default"), &name, ty, &ty_name)?,
        };
        out.push(ConfigOption {
            name,
            ty,
            default,
            description: opt_text(file, spec, "description", &path)?,
        });
    }
    Ok(out)
}

/// Check a config default against its type, the way Juju's charm library does when it reads
/// `config.yaml`: an integer is a fine float, anything else must already have the type.
fn config_default(
    file: &str,
    node: &Node,
    path: &str,
    option: &str,
    ty: ConfigType,
    ty_name: &str,
) -> Result<Option<serde_json::Value>, SpecError> {
    use serde_json::Value as J;
    // For compatibility with pyjuju, Juju skips checking an empty-string default of a
    // non-string option; such an option has no default.
    if ty != ConfigType::String && node.as_str() == Some("") {
        return Ok(None);
    }
    let value = match (ty, &node.value) {
        (ConfigType::String | ConfigType::Secret, Value::Scalar(Scalar::Str(s))) => {
            Some(J::String(s.clone()))
        }
        (ConfigType::Int, Value::Scalar(Scalar::Int(i))) => Some(J::from(*i)),
        (ConfigType::Float, Value::Scalar(Scalar::Int(i))) => {
            serde_json::Number::from_f64(*i as f64).map(J::Number)
        }
        (ConfigType::Float, Value::Scalar(Scalar::Float(f))) => {
            match serde_json::Number::from_f64(*f) {
                Some(n) => Some(J::Number(n)),
                None => {
                    return Err(invalid(
                        file,
                        node,
                        path,
                        format!(
                            "default {} of option {option:?} is not a finite number",
                            node.raw
                        ),
                    ));
                }
            }
        }
        (ConfigType::Boolean, Value::Scalar(Scalar::Bool(b))) => Some(J::Bool(*b)),
        _ => None,
    };
    match value {
        Some(v) => Ok(Some(v)),
        None => Err(SpecError::WrongType {
            file: file.to_string(),
            line: node.pos.line,
            column: node.pos.column,
            key: path.to_string(),
            expected: format!("a default of type {ty_name} for option {option:?}"),
            found: node.describe(),
        }),
    }
}

fn parse_actions(section: Section<'_>) -> Result<Vec<ActionSpec>, SpecError> {
    let file = section.file;
    let mut out = Vec::new();
    for (name, key, spec) in named_entries(file, section.node, section.prefix)? {
        let path = join(section.prefix, &name);
        check_name(file, key, &path, "action", &name, valid_action_name)?;
        expect_map(file, spec, &path)?;
        let mut params = Vec::new();
        let params_path = join(&path, "params");
        for (pname, _pkey, pspec) in named_entries(file, field(spec, "params"), &params_path)? {
            params.push(parse_param(file, pname, pspec, &params_path)?);
        }
        let mut required = Vec::new();
        if let Some(r) = field(spec, "required") {
            let rpath = join(&path, "required");
            let Value::Seq(items) = &r.value else {
                return Err(wrong_type(file, r, &rpath, "a list of parameter names"));
            };
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(s) => required.push(s.to_string()),
                    None => {
                        return Err(wrong_type(
                            file,
                            item,
                            &format!("{rpath}[{i}]"),
                            "a parameter name",
                        ));
                    }
                }
            }
        }
        out.push(ActionSpec {
            name,
            description: opt_text(file, spec, "description", &path)?,
            params,
            required,
            additional_properties: opt_bool(file, spec, "additionalProperties", &path)?
                .unwrap_or(true),
        });
    }
    Ok(out)
}

/// `type:` of a JSON-schema property: a name, or a list of names (`[string, "null"]`).
fn param_type(file: &str, node: &Node, path: &str) -> Result<ParamType, SpecError> {
    let one = |n: &Node| -> Result<Option<ParamType>, SpecError> {
        let Some(s) = n.as_str() else {
            return Err(wrong_type(file, n, path, "a JSON-schema type name"));
        };
        Ok(Some(match s {
            "string" => ParamType::String,
            "integer" => ParamType::Integer,
            "number" => ParamType::Number,
            "boolean" => ParamType::Boolean,
            "array" => ParamType::Array,
            "object" => ParamType::Object,
            "null" => return Ok(None),
            other => {
                return Err(invalid(
                    file,
                    n,
                    path,
                    format!(
                        "unknown parameter type {other:?}: expected string, integer, number, boolean, array, object or null"
                    ),
                ));
            }
        }))
    };
    match &node.value {
        Value::Seq(items) => {
            let mut types = Vec::new();
            for item in items {
                if let Some(t) = one(item)? {
                    types.push(t);
                }
            }
            // One non-null type is that type (the value may also be null); several are Any.
            Ok(if types.len() == 1 {
                types[0]
            } else {
                ParamType::Any
            })
        }
        _ => Ok(one(node)?.unwrap_or(ParamType::Any)),
    }
}

fn parse_param(
    file: &str,
    name: String,
    spec: &Node,
    params_path: &str,
) -> Result<ActionParam, SpecError> {
    let path = join(params_path, &name);
    expect_map(file, spec, &path)?;
    let ty = match field(spec, "type") {
        None => ParamType::Any,
        Some(t) => param_type(file, t, &join(&path, "type"))?,
    };
    let default = field(spec, "default")
        .map(|d| to_json(file, d, &join(&path, "default")))
        .transpose()?;
    let allowed = match field(spec, "enum") {
        None => None,
        Some(e) => {
            let epath = join(&path, "enum");
            if !matches!(e.value, Value::Seq(_)) {
                return Err(wrong_type(file, e, &epath, "a list of allowed values"));
            }
            match to_json(file, e, &epath)? {
                serde_json::Value::Array(values) => Some(values),
                _ => None,
            }
        }
    };
    let items = match field(spec, "items") {
        None => None,
        Some(i) => {
            let ipath = join(&path, "items");
            expect_map(file, i, &ipath)?;
            match field(i, "type") {
                None => None,
                Some(t) => Some(param_type(file, t, &join(&ipath, "type"))?),
            }
        }
    };
    Ok(ActionParam {
        name,
        ty,
        description: opt_text(file, spec, "description", &path)?,
        default,
        allowed,
        minimum: opt_number(file, spec, "minimum", &path)?,
        maximum: opt_number(file, spec, "maximum", &path)?,
        min_length: opt_u64(file, spec, "minLength", &path)?,
        max_length: opt_u64(file, spec, "maxLength", &path)?,
        items,
    })
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

    #[test]
    fn ranges() {
        let r = |s: &str| {
            let doc = yaml::parse(&format!("r: {s}\n")).unwrap().unwrap();
            let (_, n) = doc.get("r").unwrap();
            parse_range("f", n, "r").map(|m| (m.min, m.max))
        };
        assert_eq!(r("3").unwrap(), (3, Some(3)));
        assert_eq!(r("1-3").unwrap(), (1, Some(3)));
        assert_eq!(r("0-").unwrap(), (0, None));
        assert_eq!(r("'2'").unwrap(), (2, Some(2)));
        assert!(r("3-1").is_err());
        assert!(r("-3").is_err());
        assert!(r("a-b").is_err());
        assert!(r("1.5").is_err());
        assert!(r("1-2-3").is_err());
        assert!(r("99999999999").is_err());
    }

    /// Throw odd documents at every entry point: errors are fine, panics are not.
    #[test]
    fn odd_documents_do_not_panic() {
        let docs = [
            "",
            "~",
            "- a\n- b\n",
            "42",
            "name: 1",
            "name: [x]",
            "name: x\nrequires: 3",
            "name: x\nrequires: {1: {interface: a}}",
            "name: x\nrequires: {db: [1]}",
            "name: x\nrequires: {db: {}}",
            "name: x\nstorage: {d: {type: filesystem, multiple: 3}}",
            "name: x\nstorage: {d: {type: filesystem, multiple: {range: [1]}}}",
            "name: x\ncontainers: {c: {mounts: {a: b}}}",
            "name: x\ncontainers: {c: {mounts: [1]}}",
            "name: x\nconfig: {options: {a: {type: int, default: .inf}}}",
            "name: x\nconfig: {options: {a: {type: float, default: .nan}}}",
            "name: x\nconfig: {options: {a: {type: int, default: 99999999999999999999}}}",
            "name: x\nconfig: []",
            "name: x\nactions: {a: {params: {p: {default: 99999999999999999999}}}}",
            "name: x\nactions: {a: {params: {p: {type: [1]}}}}",
            "name: x\nactions: {a: {params: {p: {items: 1}}}}",
            "name: x\nactions: {a: {required: x}}",
            "name: x\nactions: [a]",
            "name: x\nassumes: k8s-api",
            "name: x\nextra-bindings: [1]",
            "name: x\nlimit: [}",
            "name: x\non: yes\nyes: no\n",
        ];
        for d in docs {
            let _ = CharmSpec::from_unified_str("t.yaml", d);
            let _ = CharmSpec::from_split_strs(d, Some(d), Some(d));
        }
    }
}
