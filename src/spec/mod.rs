//! What charmfuzz understands of a charm: its `CharmSpec`.
//!
//! A charm declares its shape in YAML. Since charmcraft 2.5 everything may live in one
//! `charmcraft.yaml` (the "unified" form); older charms split it into `metadata.yaml`
//! (endpoints, storage, containers, resources), `config.yaml` (`options:`) and
//! `actions.yaml`. `ops` itself only ever reads the split files at run time (charmcraft
//! writes them when it packs), so both forms must lead to the same `CharmSpec`.
//!
//! The spec is the vocabulary of the lifecycle engine: every relation endpoint, storage
//! name, container and action the engine may produce an event for comes from here, so an
//! event for something the charm never declared cannot be generated.
//!
//! YAML is read the way PyYAML (and therefore Juju's Python tooling and `ops`) reads it:
//! YAML 1.1 booleans (`yes`, `no`, `on`, `off`, in any of the three casings PyYAML accepts)
//! are booleans.

pub mod execs;
pub mod literals;
mod parse;

pub use parse::SpecError;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where the charm runs. Juju calls machine models "IAAS" and Kubernetes models "CAAS".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Substrate {
    /// A Kubernetes sidecar charm: the charm container plus one workload container per
    /// entry of `containers:`, each running Pebble.
    Kubernetes,
    /// A machine charm (VM, bare metal or LXD).
    Machine,
}

/// The role of a relation endpoint, from the `requires:` / `provides:` / `peers:` sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Requires,
    Provides,
    /// A peer endpoint: the relation among the units of this application. Juju creates it
    /// at deploy and never breaks it.
    Peer,
}

/// Relation scope. `container` scope is what ties a subordinate to its principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    #[default]
    Global,
    Container,
}

/// One relation endpoint of the charm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub name: String,
    pub role: Role,
    pub interface: String,
    /// `limit:` — the most relations this endpoint may have at once (`None` = unlimited).
    pub limit: Option<u32>,
    pub scope: Scope,
    pub optional: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StorageKind {
    Filesystem,
    Block,
}

impl StorageKind {
    /// The value Juju puts in `JUJU_STORAGE_KIND` and `storage-get`'s `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageKind::Filesystem => "filesystem",
            StorageKind::Block => "block",
        }
    }
}

/// How many instances of a storage a unit may have (`multiple: range:`). Without
/// `multiple`, exactly one instance exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Multiple {
    pub min: u32,
    /// `None` = no upper bound (`range: 2-`).
    pub max: Option<u32>,
}

/// One `storage:` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageSpec {
    pub name: String,
    pub kind: StorageKind,
    /// `location:` — where a filesystem is mounted, if the charm fixes it.
    pub location: Option<String>,
    pub multiple: Multiple,
    pub shared: bool,
    pub read_only: bool,
}

/// A mount of a storage into a workload container (`containers: <c>: mounts:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub storage: String,
    pub location: String,
}

/// A workload container of a Kubernetes sidecar charm. Each runs Pebble; the charm talks to
/// it over `/charm/containers/<name>/pebble.socket`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    pub name: String,
    pub resource: Option<String>,
    pub mounts: Vec<Mount>,
}

/// The JSON-schema type of an action parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParamType {
    String,
    Integer,
    Number,
    Boolean,
    Array,
    Object,
    /// No `type:` given; Juju accepts anything.
    Any,
}

/// One parameter of an action (a JSON-schema property).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionParam {
    pub name: String,
    pub ty: ParamType,
    pub description: Option<String>,
    /// `default:` — Juju inserts it into `action-get` when the user gives no value.
    pub default: Option<serde_json::Value>,
    /// `enum:` — the only allowed values, when given.
    pub allowed: Option<Vec<serde_json::Value>>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    /// For `array` parameters: the type of the items, if declared.
    pub items: Option<ParamType>,
}

/// One action the user can `juju run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionSpec {
    pub name: String,
    pub description: Option<String>,
    pub params: Vec<ActionParam>,
    /// Parameters the user must give.
    pub required: Vec<String>,
    /// `additionalProperties:` (Juju 3 defaults to `true`... for actions.yaml ops treats
    /// a missing value as allowed).
    pub additional_properties: bool,
}

/// The type of a config option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigType {
    String,
    Int,
    Float,
    Boolean,
    /// A user secret URI (`secret:...`); Juju 3.4 and later.
    Secret,
}

/// One config option (`config: options:` or `config.yaml` `options:`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigOption {
    pub name: String,
    pub ty: ConfigType,
    /// The charm's default, already converted to the option's type. `None` = unset (Juju
    /// then omits the key from `config-get`).
    pub default: Option<serde_json::Value>,
    pub description: Option<String>,
}

/// A `resources:` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceSpec {
    pub name: String,
    /// `file` or `oci-image`.
    pub kind: String,
    pub filename: Option<String>,
}

/// Which files the spec was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpecLayout {
    /// Everything in `charmcraft.yaml`.
    Unified,
    /// `metadata.yaml` (+ `config.yaml`, `actions.yaml`).
    Split,
}

/// Everything the lifecycle engine needs to know about a charm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CharmSpec {
    /// The application name (`name:`); the unit under test is `<name>/0`.
    pub name: String,
    pub substrate: Substrate,
    pub subordinate: bool,
    pub endpoints: Vec<Endpoint>,
    pub storage: Vec<StorageSpec>,
    pub containers: Vec<ContainerSpec>,
    pub actions: Vec<ActionSpec>,
    pub config: Vec<ConfigOption>,
    pub resources: Vec<ResourceSpec>,
    pub extra_bindings: Vec<String>,
    /// The charm declares metrics (`metrics.yaml`), so machine units get `collect-metrics`.
    pub has_metrics: bool,
    pub layout: SpecLayout,
    /// The charm directory the spec was read from (empty for specs built in code).
    pub dir: PathBuf,
}

impl CharmSpec {
    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }
    pub fn storage(&self, name: &str) -> Option<&StorageSpec> {
        self.storage.iter().find(|s| s.name == name)
    }
    pub fn container(&self, name: &str) -> Option<&ContainerSpec> {
        self.containers.iter().find(|c| c.name == name)
    }
    pub fn action(&self, name: &str) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| a.name == name)
    }
    pub fn config_option(&self, name: &str) -> Option<&ConfigOption> {
        self.config.iter().find(|o| o.name == name)
    }
    /// The peer endpoints (normally zero or one).
    pub fn peer_endpoints(&self) -> impl Iterator<Item = &Endpoint> {
        self.endpoints.iter().filter(|e| e.role == Role::Peer)
    }
}
