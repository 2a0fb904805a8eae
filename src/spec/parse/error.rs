//! Errors that name the file, the place and the problem, and the helpers that build them.

use super::names::{ACTION_RULE, ENDPOINT_RULE, STORAGE_RULE};
use super::yaml::Node;

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

// ---------------------------------------------------------------------------------------
// Error helpers

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub(super) fn missing(file: &str, map: &Node, path: &str, name: &str) -> SpecError {
    SpecError::MissingKey {
        file: file.to_string(),
        line: map.pos.line,
        column: map.pos.column,
        key: path.to_string(),
        name: name.to_string(),
    }
}

pub(super) fn wrong_type(file: &str, node: &Node, path: &str, expected: &str) -> SpecError {
    SpecError::WrongType {
        file: file.to_string(),
        line: node.pos.line,
        column: node.pos.column,
        key: path.to_string(),
        expected: expected.to_string(),
        found: node.describe(),
    }
}

pub(super) fn invalid(
    file: &str,
    node: &Node,
    path: &str,
    message: impl Into<String>,
) -> SpecError {
    SpecError::InvalidValue {
        file: file.to_string(),
        line: node.pos.line,
        column: node.pos.column,
        key: path.to_string(),
        message: message.into(),
    }
}
