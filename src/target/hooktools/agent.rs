//! What the unit agent keeps across the events of one fuzz input, beside the engine's
//! world: the unit's and application's statuses and their history, opened ports, charm
//! state, the secrets the charm owns and those it consumes, `juju-log` records and
//! action results. Juju's controller keeps these; a hook only sees them through the hook
//! tools, and changes them as [`HookContext::finish`](super::HookContext::finish)
//! commits.

use super::ports::PortRange;
use super::secrets;
use crate::engine::action::{Databag, SecretOwner};
use crate::engine::event::Event;
use crate::spec::CharmSpec;
use crate::target::clock::VirtualClock;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// A workload or application status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub status: String,
    pub message: String,
}

impl Status {
    pub fn new(status: &str, message: &str) -> Status {
        Status {
            status: status.into(),
            message: message.into(),
        }
    }
}

impl Default for Status {
    fn default() -> Self {
        Status::new("unknown", "")
    }
}

/// Whose status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusTarget {
    Unit,
    App,
}

/// One entry of the status history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusRecord {
    pub target: StatusTarget,
    pub status: String,
    pub message: String,
    /// The hook during which it was set.
    pub hook: String,
    /// Set by Juju itself (`maintenance: installing charm software`), not by the charm.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub by_juju: bool,
}

/// One `juju-log` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogRecord {
    pub hook: String,
    pub level: String,
    pub message: String,
}

/// A port range opened on an endpoint (`""` = all endpoints).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct OpenedPort {
    pub endpoint: String,
    pub range: PortRange,
}

/// A grant of an owned secret to a related application or unit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SecretGrant {
    pub relation_id: u32,
    pub app: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// A secret the charm owns: content per revision and metadata (what the controller keeps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnedSecret {
    /// The URI as the engine knows it (`secret:<xid>`).
    pub id: String,
    pub owner: SecretOwner,
    pub label: Option<String>,
    pub description: Option<String>,
    /// RFC 3339.
    pub expiry: Option<String>,
    pub rotate: Option<String>,
    /// When the rotation policy next falls due (RFC 3339; set with the policy).
    pub rotates: Option<String>,
    pub latest: u32,
    pub revisions: BTreeMap<u32, Databag>,
    pub grants: BTreeSet<SecretGrant>,
}

impl OwnedSecret {
    pub(super) fn latest_content(&self) -> Databag {
        self.revisions
            .get(&self.latest)
            .or_else(|| self.revisions.values().next_back())
            .cloned()
            .unwrap_or_default()
    }
}

/// What the unit knows of a secret it consumes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ConsumedSecret {
    /// The revision `secret-get` returns without `--refresh`/`--peek` (None: never read).
    pub tracked: Option<u32>,
    /// The consumer's own label (`secret-get ID --label L`).
    pub label: Option<String>,
    /// Content of each revision the agent has seen.
    pub revisions: BTreeMap<u32, Databag>,
}

/// The result of one action run, as `juju show-task` would give it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionRecord {
    pub name: String,
    pub id: String,
    pub params: Map<String, Value>,
    /// `action-set` results, nested at the dots.
    pub results: Map<String, Value>,
    pub logs: Vec<String>,
    /// `completed` or `failed`.
    pub status: String,
    pub message: String,
}

/// A `juju-reboot` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reboot {
    /// After the hook, if it succeeds.
    AfterHook,
    /// `--now`: Juju kills the hook, commits nothing and runs it again after the reboot.
    Now,
}

/// What the unit agent keeps across the events of one fuzz input, beside the world.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UnitAgent {
    pub unit_status: Status,
    pub app_status: Status,
    pub status_history: Vec<StatusRecord>,
    pub workload_version: String,
    pub opened_ports: BTreeSet<OpenedPort>,
    /// Charm state (`state-get/set/delete`, `use_juju_for_storage=True`).
    pub charm_state: BTreeMap<String, String>,
    /// Secrets the charm owns, by xid (the URI without `secret:`).
    pub secrets: BTreeMap<String, OwnedSecret>,
    /// Secrets the unit consumes, by xid.
    pub consumed: BTreeMap<String, ConsumedSecret>,
    /// Legacy leader settings (`leader-set` / `leader-get`).
    pub leader_settings: BTreeMap<String, String>,
    pub logs: Vec<LogRecord>,
    pub actions: Vec<ActionRecord>,
    /// Last known databags of remote units, by relation id: units that departed stay
    /// readable for the lifetime of the relation.
    pub remote_data: BTreeMap<u32, BTreeMap<String, Databag>>,
    /// Where `resource-get` says resource files are (`<dir>/<name>/<filename>`).
    pub resource_dir: PathBuf,
    /// The charm has set its unit status at least once (Juju's `StatusSet`): Juju then
    /// stops setting it around install and start.
    pub charm_set_status: bool,
    /// The unit's "now" (virtual time, [`crate::target::clock`]).
    pub clock: VirtualClock,
    pub(super) secrets_created: u32,
}

impl UnitAgent {
    /// A fresh unit whose resources live under `resource_dir`.
    pub fn new(resource_dir: impl Into<PathBuf>) -> UnitAgent {
        UnitAgent {
            resource_dir: resource_dir.into(),
            ..UnitAgent::default()
        }
    }
    /// Before `event` runs: the Juju timer that fires it (if one does) moves the clock to
    /// when it fires.
    pub fn timer_fires(&mut self, event: &Event) {
        secrets::timer_fires(self, event);
    }

    /// The path `resource-get NAME` prints for a declared resource.
    pub fn resource_path(&self, spec: &CharmSpec, name: &str) -> Option<PathBuf> {
        let r = spec.resources.iter().find(|r| r.name == name)?;
        let file = r.filename.clone().unwrap_or_else(|| name.to_string());
        Some(self.resource_dir.join(name).join(file))
    }
}
