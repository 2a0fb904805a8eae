//! The fuzzing config: how a charm author steers charmfuzz for their charm.
//!
//! It lives next to the charm, in `charmfuzz.toml`, or in the `[tool.charmfuzz]` table of the
//! charm's `pyproject.toml` (where Python projects keep tool settings). `charmfuzz.toml`
//! wins when both exist; with neither, every setting has its default.
//!
//! ```toml
//! substrate = "kubernetes"          # override what the spec implies
//!
//! [engine]                          # see `EngineOptions`
//! juju-version = "3.4"
//!
//! [weights]                         # relative weight of each action kind; 0 disables it
//! config = 5
//! run-action = 0
//!
//! [samples]
//! config.port = [80, 8080]          # values to try per config option
//! relation.mysql_client = [{ database = "app", endpoints = "10.0.0.1:3306" }]
//! checks.workload = ["alive", "ready"]
//! notice-keys = ["example.com/reload"]
//! secrets = [{ password = "hunter2" }]
//! strings = ["", "admin", "../../etc/passwd"]
//! from-source = false               # don't gather the string literals of src/ and lib/
//! ```
//!
//! Unknown keys are errors (a misspelt `[wieghts]` silently doing nothing would be worse),
//! and every error names the file and, through `toml`'s own message, the line and column.

use crate::engine::action::ActionKind;
use crate::engine::options::EngineOptions;
use crate::spec::Substrate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Settings for fuzzing one charm.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct FuzzConfig {
    /// Engine switches (Juju version, the readings of unsettled orderings).
    pub engine: EngineOptions,
    /// Force the substrate instead of deriving it from the charm's spec.
    pub substrate: Option<Substrate>,
    /// Relative weight of each action kind when the decoder picks among enabled actions.
    /// Kinds not listed keep the engine's default weight; `0` disables a kind.
    pub weights: BTreeMap<ActionKind, u32>,
    /// Payloads to draw from when the fuzzer needs a value.
    pub samples: Samples,
    /// Settings of the target (how the charm is run), for later use; anything is accepted.
    pub target: toml::Table,
}

/// Values the fuzzer tries, on top of what it makes up from the spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Samples {
    /// Per config option name: values to set it to.
    pub config: BTreeMap<String, Vec<serde_json::Value>>,
    /// Per relation interface name: databags a remote unit or app may write.
    pub relation: BTreeMap<String, Vec<BTreeMap<String, String>>>,
    /// Per container name: the names of the Pebble checks that may fail and recover.
    pub checks: BTreeMap<String, Vec<String>>,
    /// Keys of Pebble custom notices (`<domain>/<path>`).
    pub notice_keys: Vec<String>,
    /// Contents of secrets shared with the charm.
    pub secrets: Vec<BTreeMap<String, String>>,
    /// Extra dictionary words for generated strings.
    pub strings: Vec<String>,
    /// Whether the string literals of the charm's `src/` and `lib/` join the words
    /// (`crate::spec::literals`); unset means yes.
    pub from_source: Option<bool>,
}

/// The fuzzing config could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FuzzConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// Invalid TOML, or a key or value the config does not accept. `message` is toml's
    /// own, which gives the line, column and key.
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

impl FuzzConfigError {
    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            FuzzConfigError::Read { file, .. } | FuzzConfigError::Invalid { file, .. } => file,
        }
    }
}

/// The `[tool]` table of a `pyproject.toml`, of which only `charmfuzz` interests us; all
/// other tools' settings and the rest of the file are ignored.
#[derive(Deserialize)]
struct PyProject {
    #[serde(default)]
    tool: Option<PyProjectTool>,
}

#[derive(Deserialize)]
struct PyProjectTool {
    #[serde(default)]
    charmfuzz: Option<toml::Value>,
}

impl FuzzConfig {
    /// Read `<charm_dir>/charmfuzz.toml`, else the `[tool.charmfuzz]` table of
    /// `<charm_dir>/pyproject.toml`, else the defaults.
    pub fn load(charm_dir: &Path) -> Result<FuzzConfig, FuzzConfigError> {
        let own = charm_dir.join("charmfuzz.toml");
        if let Some(text) = read_optional(&own)? {
            return FuzzConfig::from_toml_str(&own.display().to_string(), &text);
        }
        let pyproject = charm_dir.join("pyproject.toml");
        if let Some(text) = read_optional(&pyproject)? {
            return FuzzConfig::from_pyproject_str(&pyproject.display().to_string(), &text);
        }
        Ok(FuzzConfig::default())
    }

    /// Read a `charmfuzz.toml` given as text. Errors name `name_for_errors`.
    pub fn from_toml_str(name_for_errors: &str, text: &str) -> Result<FuzzConfig, FuzzConfigError> {
        toml::from_str(text).map_err(|e| invalid(name_for_errors, &e))
    }

    /// Read the `[tool.charmfuzz]` table of a `pyproject.toml` given as text (defaults when
    /// the table is absent). Errors name `name_for_errors` and the `tool.charmfuzz` table.
    pub fn from_pyproject_str(
        name_for_errors: &str,
        text: &str,
    ) -> Result<FuzzConfig, FuzzConfigError> {
        let project: PyProject = toml::from_str(text).map_err(|e| invalid(name_for_errors, &e))?;
        match project.tool.and_then(|t| t.charmfuzz) {
            None => Ok(FuzzConfig::default()),
            // Re-parse the table from the original text so toml's messages keep their line
            // and column: deserialising the detached `toml::Value` would lose the spans.
            Some(_) => {
                #[derive(Deserialize)]
                struct Tool {
                    charmfuzz: FuzzConfig,
                }
                #[derive(Deserialize)]
                struct Project {
                    tool: Tool,
                }
                toml::from_str::<Project>(text)
                    .map(|p| p.tool.charmfuzz)
                    .map_err(|e| invalid(name_for_errors, &e))
            }
        }
    }

    /// The configured weight of an action kind, if the config sets one (`Some(0)` = the
    /// kind is disabled).
    pub fn weight(&self, kind: ActionKind) -> Option<u32> {
        self.weights.get(&kind).copied()
    }
}

fn invalid(file: &str, e: &toml::de::Error) -> FuzzConfigError {
    FuzzConfigError::Invalid {
        file: file.to_string(),
        message: e.to_string().trim_end().to_string(),
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, FuzzConfigError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(FuzzConfigError::Read {
            file: path.display().to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_when_empty() {
        let c = FuzzConfig::from_toml_str("charmfuzz.toml", "").unwrap();
        assert_eq!(c, FuzzConfig::default());
        assert_eq!(c.weight(ActionKind::Config), None);
    }

    #[test]
    fn weights_by_kind_name() {
        let c =
            FuzzConfig::from_toml_str("charmfuzz.toml", "[weights]\nconfig = 5\nrun-action = 0\n")
                .unwrap();
        assert_eq!(c.weight(ActionKind::Config), Some(5));
        assert_eq!(c.weight(ActionKind::RunAction), Some(0));
        assert_eq!(c.weight(ActionKind::Deploy), None);
    }

    #[test]
    fn unknown_action_kind_is_an_error() {
        let e = FuzzConfig::from_toml_str("charmfuzz.toml", "[weights]\nconfg = 5\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("charmfuzz.toml: "), "{msg}");
        assert!(msg.contains("confg"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
    }
}
