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
//!
//! # Layout
//!
//! This file finds the charm's files, picks the layout and assembles the spec (`build`).
//! Each part of the spec has a file of its own: `metadata` (relation endpoints, resources,
//! extra bindings, the substrate), `storage` (storage and the containers that mount it),
//! `config` (config options and their defaults), `actions` (actions and their parameters).
//! They share `error` ([`SpecError`] and the helpers that build one), `nodes` (typed access
//! to YAML nodes) and `names` (Juju's naming rules). `yaml` is the YAML 1.1 reader and
//! `extensions` expands charmcraft's extensions.

mod actions;
mod config;
mod error;
mod extensions;
mod metadata;
mod names;
mod nodes;
mod storage;
mod yaml;

pub use error::SpecError;

use super::{CharmSpec, SpecLayout};
use actions::parse_actions;
use config::parse_config;
use error::{invalid, missing, wrong_type};
use metadata::{detect_substrate, parse_endpoints, parse_extra_bindings, parse_resources};
use names::valid_storage_name;
use nodes::{field, opt_bool, req_str, to_json};
use std::path::{Path, PathBuf};
use storage::{parse_containers, parse_storage};
use yaml::{Node, Value};

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

#[cfg(test)]
mod tests {
    use super::*;

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
