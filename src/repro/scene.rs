//! The data model of a reproducer: the unit just before a hook, and the hook, as the target
//! fills it in while it replays a finding (the hook tools' answers, Pebble's plans and
//! files, ops' unit state). The writer reads nothing else about the run.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A databag: key → value, both strings.
pub type Databag = BTreeMap<String, String>;

/// The unit just before the failing hook, and that hook: everything a reproducer needs.
#[derive(Debug, Clone, Default)]
pub struct Scene {
    /// The hook about to run (`web-pebble-ready`).
    pub hook: String,
    pub app: String,
    /// The unit's number (`demo/0` → 0).
    pub unit_id: u32,
    pub kubernetes: bool,
    pub leader: bool,
    /// Config as the charm reads it (`config-get`), defaults included.
    pub config: BTreeMap<String, Value>,
    pub relations: Vec<RelationScene>,
    /// Attached storage: (name, index).
    pub storages: Vec<(String, u32)>,
    pub containers: Vec<ContainerScene>,
    pub secrets: Vec<SecretScene>,
    pub unit_state: UnitState,
    pub unit_status: (String, String),
    pub app_status: (String, String),
    pub workload_version: String,
    /// Opened ports: (protocol, port; `None` for ICMP).
    pub opened_ports: Vec<(String, Option<u16>)>,
    /// The host, for machine charms: the programs charmfuzz shims, and the writable paths
    /// with the files the charm had written there.
    pub host: HostScene,
    pub event: EventScene,
    /// What the run did that `ops.testing` cannot express; written into the file.
    pub gaps: Vec<String>,
}

/// One relation the unit is in.
#[derive(Debug, Clone, Default)]
pub struct RelationScene {
    pub id: u32,
    pub endpoint: String,
    pub peer: bool,
    pub remote_app: String,
    pub remote_app_data: Databag,
    /// Remote units in `relation-list` (peers: the other units), by unit number.
    pub remote_units_data: BTreeMap<u32, Databag>,
    pub local_app_data: Databag,
    pub local_unit_data: Databag,
}

/// A workload container and its Pebble.
#[derive(Debug, Clone, Default)]
pub struct ContainerScene {
    pub name: String,
    pub can_connect: bool,
    /// Layers by label, as YAML.
    pub layers: Vec<(String, String)>,
    /// Service → `active` / `inactive` / `error`.
    pub service_statuses: BTreeMap<String, String>,
    pub checks: Vec<CheckScene>,
    /// Custom notices Pebble has recorded.
    pub notices: Vec<NoticeScene>,
    /// Files the charm (or charmfuzz) put in the container: path → content.
    pub files: BTreeMap<String, Vec<u8>>,
    /// What the workload's programs answered the hook (`testing.Exec`), once per command.
    pub execs: Vec<ExecScene>,
}

/// One workload command the hook ran and what it answered: its `[[target.exec]]` answer,
/// or the unscripted default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecScene {
    pub command: Vec<String>,
    pub return_code: i32,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Clone, Default)]
pub struct CheckScene {
    pub name: String,
    /// `alive`, `ready` or empty.
    pub level: String,
    /// `enabled` / `disabled`.
    pub startup: String,
    /// `up` / `down` / `inactive`.
    pub status: String,
    pub failures: u32,
    pub threshold: u32,
}

#[derive(Debug, Clone, Default)]
pub struct NoticeScene {
    pub id: String,
    pub key: String,
}

/// A secret the unit owns or consumes.
#[derive(Debug, Clone, Default)]
pub struct SecretScene {
    pub id: String,
    /// `unit`, `app`, or `None` for a secret the unit consumes.
    pub owner: Option<String>,
    pub label: Option<String>,
    pub tracked_content: Databag,
    pub latest_content: Databag,
}

/// ops' unit state, as the worker read it from `.unit-state.db`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UnitState {
    pub stored: Vec<StoredScene>,
    pub deferred: Vec<DeferredScene>,
}

/// One StoredState: its owner's handle path, its attribute name, and its content as a
/// Python literal.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StoredScene {
    pub owner_path: String,
    pub name: String,
    pub content: String,
}

/// One deferred notice: the event's handle, the observer that deferred it, the event's
/// snapshot as a Python literal.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeferredScene {
    pub handle_path: String,
    pub owner: String,
    pub observer: String,
    pub snapshot: String,
}

/// The machine the charm runs on, as far as charmfuzz gave it one.
#[derive(Debug, Clone, Default)]
pub struct HostScene {
    /// Shimmed programs: name → (exit code, stdout).
    pub shims: BTreeMap<String, (i32, String)>,
    /// What the machine answered each command line it was asked before the hook (the
    /// latest answer): `systemctl is-active demo-server` → (0, "active\n"). A command
    /// asked again in the hook gets this answer; one never asked, its program's shim.
    pub answers: BTreeMap<String, (i32, String)>,
    /// Absolute paths charmfuzz made writable for the charm.
    pub writable: Vec<String>,
    /// Files under those paths before the hook: absolute path → content.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// The hook that failed, as an `ops.testing` event.
#[derive(Debug, Clone, Default)]
pub enum EventScene {
    /// A hook with no arguments: `install`, `config_changed`, `leader_elected`, …
    Simple(String),
    Relation {
        /// `relation_created`, `relation_joined`, …
        method: String,
        relation_id: u32,
        remote_unit: Option<u32>,
        departing_unit: Option<u32>,
    },
    Storage {
        method: String,
        name: String,
        index: u32,
    },
    Workload {
        /// `pebble_ready`, `pebble_custom_notice`, `pebble_check_failed`, …
        method: String,
        container: String,
        check: Option<String>,
        notice_id: Option<String>,
    },
    Secret {
        method: String,
        id: String,
        revision: Option<u32>,
    },
    Action {
        name: String,
        params: serde_json::Map<String, Value>,
    },
    #[default]
    Unsupported,
}
