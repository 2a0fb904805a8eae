//! The unit agent's side of the hook tools: Juju's answers to `relation-get`, `secret-add`,
//! `status-set` and the rest, as a pure state machine.
//!
//! # Hook tools
//!
//! A charm never talks to the Juju controller. While a hook runs, everything it learns and
//! everything it does goes through *hook tools*: small commands on its `PATH`
//! (`config-get`, `relation-set`, `open-port`, `secret-get`, …), each a link to `jujuc`,
//! which forwards the command line and stdin to the unit agent and prints the agent's
//! answer. `ops` wraps every tool in `ops.hookcmds` and parses what it prints: JSON
//! (`--format=json`) for reads, and the *text of stderr* for errors — `relation not found`
//! becomes `RelationNotFoundError`, `not found` from a `secret-*` tool becomes
//! `SecretNotFoundError`, `permission denied` is told apart from a gone relation by asking
//! `is-leader` (spec `juju-boundary.md` §2.1). So the answers here are byte-faithful: the
//! argument forms ops 3.9 builds (§2.2: the name before the flag in `relation-ids NAME
//! --format=json`, Python's `--application=False` in `status-set`, `KEY#file=/tmp/…` in
//! `secret-add`), the JSON Go's encoder prints, and the error wording `jujuc` uses. A
//! charm that behaves under this agent behaves the same under Juju.
//!
//! # Juju buffers a hook's effects
//!
//! Juju's hook context (`HookContext.Flush`) keeps most of what a hook does to itself until
//! the hook ends, and commits it only if the hook exited 0: relation settings, port changes,
//! storage requests, secret creates / updates / removals / grants / revokes, and charm state
//! (`state-set`). A hook that fails is retried later as if it never ran. Some things go
//! straight to the controller and stick even if the hook then fails: `status-set`,
//! `juju-log`, `action-log`, `application-version-set`, `leader-set`, and a consumer's
//! tracking of a secret revision. Within the hook, reads see the hook's own writes.
//!
//! # This module
//!
//! - [`UnitAgent`] is what persists across the events of one fuzz input beside the engine's
//!   [`World`]: statuses and their history, opened ports, charm state, the content and
//!   metadata of secrets the charm owns, the revisions of consumed secrets the unit has seen,
//!   the workload version, `juju-log` records and action results.
//! - [`HookContext::begin`] opens one event's context from the world, the agent and the
//!   event; [`HookContext::call`] answers one tool invocation with a [`ToolReply`] (stdout,
//!   stderr, exit code); [`HookContext::finish`] applies Juju's flush rules and returns the
//!   [`HookOutcome`]: the [`Effect`]s for [`World::complete`], a record of every call, and
//!   what was committed (or discarded).
//!
//! No processes, sockets or Python here: the process plumbing calls this. The only I/O is
//! reading the files a charm passes content in, synchronously while the call is answered:
//! `KEY#file=PATH` for `secret-add` / `secret-set` (ops deletes them as soon as the tool
//! returns), and `--file PATH` for `relation-set` / `state-set` (charmhelpers; ops uses `-`).
//!
//! # What is simplified
//!
//! - Some refusals Juju only discovers when it commits the hook (updating or removing a
//!   secret the unit does not own, `storage-add` of an undeclared storage, a secret label
//!   already in use) fail the tool call here, so the charm sees them where it made them.
//! - `juju-reboot --now`: Juju kills the hook and runs it again after the reboot. Here the
//!   hook's buffered changes are dropped and `RebootRequested` is reported; re-running the
//!   hook is left to the engine.
//! - Fixed data where Juju asks the cloud: addresses derived from the unit name (10.1.x.y),
//!   a fixed LXD or MicroK8s cloud spec for `credential-get` (trusted applications only),
//!   goal-state `since` times, and a "now" of 2025-01-01T00:00:00Z for expiry durations and
//!   rotation schedules. `relation-model-get` answers this model's UUID.
//! - Output without `--format=json` follows yaml.v2 for maps, lists and scalars, not every
//!   corner of it (ops always asks for JSON).
//! - The engine keeps a peer relation's application databag as two bags (what this unit
//!   wrote as leader, what another leader wrote); the agent shows the one last written as
//!   far as it can tell. `leader-get` only knows what this unit set with `leader-set`.
//! - `open-port --endpoints` names are not checked against the charm's endpoints.

mod flags;
mod format;
mod misc;
mod ports;
mod relations;
mod scene;
mod secrets;
pub use scene::event_scene;

pub use format::Format;
pub use ports::{PortRange, Protocol};

use crate::engine::action::{Databag, Effect, SecretOwner};
use crate::engine::event::{Event, HookKind, HookResult};
use crate::engine::options::JujuVersion;
use crate::engine::world::{MODEL_UUID, SecretRole, World, split_storage_id};
use crate::spec::CharmSpec;
use crate::target::clock::VirtualClock;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

/// What a hook tool answered: what it printed and how it exited.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolReply {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub code: i32,
}

impl ToolReply {
    pub fn ok(stdout: impl Into<Vec<u8>>) -> ToolReply {
        ToolReply {
            stdout: stdout.into(),
            stderr: Vec::new(),
            code: 0,
        }
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Why a tool call failed, as `jujuc` reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// Bad flags or arguments: `ERROR <msg>` and exit 2.
    #[error("{0}")]
    Usage(String),
    /// The command ran and failed: `ERROR <msg>` and exit 1.
    #[error("{0}")]
    Failed(String),
    /// `jujuc` has no such command.
    #[error("bad request: unknown command {0:?}")]
    UnknownCommand(String),
    /// `-h` / `--help`: usage on stdout, exit 0.
    #[error("help requested")]
    Help,
}

impl ToolError {
    pub fn code(&self) -> i32 {
        match self {
            ToolError::Usage(_) => 2,
            ToolError::Failed(_) | ToolError::UnknownCommand(_) => 1,
            ToolError::Help => 0,
        }
    }
    fn reply(&self, tool: &str) -> ToolReply {
        match self {
            ToolError::Help => ToolReply::ok(format!("Usage: {tool} [options]\n")),
            e => ToolReply {
                stdout: Vec::new(),
                stderr: format!("ERROR {e}\n").into_bytes(),
                code: e.code(),
            },
        }
    }
}

pub(crate) fn failed(msg: impl Into<String>) -> ToolError {
    ToolError::Failed(msg.into())
}
pub(crate) fn usage(msg: impl Into<String>) -> ToolError {
    ToolError::Usage(msg.into())
}

type ToolResult = Result<Vec<u8>, ToolError>;

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
    fn latest_content(&self) -> Databag {
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
    secrets_created: u32,
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

/// One hook-tool invocation as recorded in the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolCall {
    pub tool: String,
    pub args: Vec<String>,
    pub code: i32,
    /// The error text (without `ERROR `) when the call failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A change the hook made that Juju applies (or, for a failed hook, drops).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum Change {
    RelationData {
        relation_id: u32,
        app: bool,
        data: Databag,
    },
    PortOpened {
        endpoint: String,
        port: String,
    },
    PortClosed {
        endpoint: String,
        port: String,
    },
    StorageAdded {
        storage: String,
        count: u32,
    },
    SecretCreated {
        id: String,
        owner: SecretOwner,
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
    SecretRevised {
        id: String,
        revision: u32,
    },
    SecretMetadata {
        id: String,
    },
    SecretRemoved {
        id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        revision: Option<u32>,
    },
    SecretGranted {
        id: String,
        grant: SecretGrant,
    },
    SecretRevoked {
        id: String,
        relation_id: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
    },
    StateSet {
        key: String,
        value: String,
    },
    StateDeleted {
        key: String,
    },
    Reboot {
        now: bool,
    },
    // Applied at once, whatever the exit status:
    WorkloadVersion {
        version: String,
    },
    LeaderSettings {
        data: BTreeMap<String, String>,
    },
    PodSpec {
        file: String,
    },
    Metric {
        key: String,
        value: String,
    },
}

/// What one event did, once its hook has ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HookOutcome {
    pub hook: String,
    pub result: HookResult,
    /// For [`World::complete`]: what the world must learn (empty of buffered effects when
    /// the hook failed).
    pub effects: Vec<Effect>,
    pub calls: Vec<ToolCall>,
    /// Changes applied: the buffered ones (hook exited 0) and the immediate ones.
    pub committed: Vec<Change>,
    /// Buffered changes dropped because the hook failed (or was rebooted away with `--now`).
    pub discarded: Vec<Change>,
    pub logs: Vec<LogRecord>,
    pub statuses: Vec<StatusRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reboot: Option<Reboot>,
}

/// One relation as this hook sees it.
#[derive(Debug, Clone)]
struct RelView {
    endpoint: String,
    remote_app: String,
    peer: bool,
    dying: bool,
    suspended: bool,
    /// `relation-list`.
    members: Vec<String>,
    /// The remote units in the relation now (goal-state).
    remote_units: Vec<String>,
    /// Remote units' databags (departed ones included while the relation lives).
    unit_data: BTreeMap<String, Databag>,
    remote_app_data: Databag,
    local_unit: Databag,
    /// This application's databag (for a peer relation, the shared one).
    local_app: Databag,
}

/// A storage instance attached to the unit.
#[derive(Debug, Clone)]
struct StorageView {
    id: String,
    name: String,
    index: u32,
    kind: String,
    location: String,
}

/// A secret the unit consumes, as the world has it now.
#[derive(Debug, Clone)]
struct ConsumerView {
    /// The id string the engine uses.
    world_id: String,
    latest: u32,
    latest_content: Databag,
    /// The revision the engine believes is tracked.
    world_tracked: u32,
    world_label: Option<String>,
}

/// An action being run.
#[derive(Debug, Clone)]
struct ActionRun {
    name: String,
    id: String,
    params: Map<String, Value>,
    results: Map<String, Value>,
    logs: Vec<String>,
    failed: bool,
    message: String,
}

/// One event's hook context: answers tool calls, buffers writes. See the module docs.
#[derive(Debug)]
pub struct HookContext {
    // --- who and where ---
    spec: Arc<CharmSpec>,
    unit: String,
    app: String,
    leader: bool,
    trusted: bool,
    kubernetes: bool,
    dying: bool,
    juju_version: JujuVersion,
    hook: String,
    kind: HookKind,
    /// `JUJU_RELATION_ID` (relation hooks).
    hook_relation: Option<u32>,
    remote_unit: Option<String>,
    remote_app: Option<String>,
    storage_id: Option<String>,
    peers: Vec<String>,
    config: BTreeMap<String, Value>,
    relations: BTreeMap<u32, RelView>,
    /// The relation whose `relation-broken` this is (hidden from `relation-ids`).
    broken: Option<u32>,
    storage: Vec<StorageView>,
    resource_dir: PathBuf,
    /// "Now" when the hook started.
    now: VirtualClock,
    // --- applied at once ---
    unit_status: Status,
    app_status: Status,
    statuses: Vec<StatusRecord>,
    logs: Vec<LogRecord>,
    workload_version: Option<String>,
    leader_settings: BTreeMap<String, String>,
    leader_settings_dirty: bool,
    action: Option<ActionRun>,
    consumed: BTreeMap<String, ConsumedSecret>,
    consumers: BTreeMap<String, ConsumerView>,
    /// `SecretTracked` effects, by world id.
    tracked: BTreeMap<String, u32>,
    immediate: Vec<Change>,
    // --- buffered until the hook exits 0 ---
    rel_written: BTreeSet<(u32, bool)>,
    ports_committed: BTreeSet<OpenedPort>,
    ports_open: Vec<OpenedPort>,
    ports_close: Vec<OpenedPort>,
    storage_add: BTreeMap<String, u32>,
    /// Owned secrets as committed before the hook.
    owned_before: BTreeMap<String, OwnedSecret>,
    /// Owned secrets with this hook's changes.
    owned: BTreeMap<String, OwnedSecret>,
    secrets_created: Vec<String>,
    secrets_revised: BTreeSet<String>,
    secret_changes: Vec<Change>,
    secret_effects: Vec<Effect>,
    next_secret: u32,
    state: BTreeMap<String, String>,
    state_changes: Vec<Change>,
    reboot: Option<Reboot>,
    // --- record ---
    calls: Vec<ToolCall>,
}

/// Every tool this agent answers.
pub const TOOLS: &[&str] = &[
    "action-fail",
    "action-get",
    "action-log",
    "action-set",
    "add-metric",
    "application-version-set",
    "close-port",
    "config-get",
    "credential-get",
    "goal-state",
    "is-leader",
    "juju-log",
    "juju-reboot",
    "leader-get",
    "leader-set",
    "network-get",
    "open-port",
    "opened-ports",
    "pod-spec-set",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-model-get",
    "relation-set",
    "resource-get",
    "secret-add",
    "secret-get",
    "secret-grant",
    "secret-ids",
    "secret-info-get",
    "secret-remove",
    "secret-revoke",
    "secret-set",
    "state-delete",
    "state-get",
    "state-set",
    "status-get",
    "status-set",
    "storage-add",
    "storage-get",
    "storage-list",
    "unit-get",
];

/// The xid of a secret URI (`secret:X`, `secret://model/X` or `X`), if it is one.
pub fn secret_xid(uri: &str) -> Option<&str> {
    let rest = uri.trim();
    let id = if let Some(r) = rest.strip_prefix("secret://") {
        r.rsplit_once('/')?.1
    } else if let Some(r) = rest.strip_prefix("secret:") {
        r
    } else {
        rest
    };
    let ok = id.len() == 20
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
    ok.then_some(id)
}

/// A deterministic address for a unit (data only: nothing listens there).
pub fn unit_address(unit: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in unit.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("10.1.{}.{}", (h >> 8) % 254 + 1, h % 254 + 1)
}

/// The keys Juju puts in every unit's relation databag when it enters scope.
fn address_defaults(unit: &str) -> Databag {
    let ip = unit_address(unit);
    Databag::from([
        ("egress-subnets".to_string(), format!("{ip}/32")),
        ("ingress-address".to_string(), ip.clone()),
        ("private-address".to_string(), ip),
    ])
}

fn with_defaults(unit: &str, data: &Databag) -> Databag {
    let mut d = address_defaults(unit);
    d.extend(data.iter().map(|(k, v)| (k.clone(), v.clone())));
    d
}

/// The storage location, as the engine puts it in `JUJU_STORAGE_LOCATION`.
fn storage_location(spec: &CharmSpec, name: &str, index: u32) -> (String, String) {
    let sp = spec.storage(name);
    let location = match sp.and_then(|s| s.location.clone()) {
        Some(loc) if sp.is_some_and(|s| s.multiple.max == Some(1)) => loc,
        Some(loc) => format!("{}/{index}", loc.trim_end_matches('/')),
        None => format!("/var/lib/juju/storage/{name}/{index}"),
    };
    let kind = sp.map(|s| s.kind.as_str()).unwrap_or("filesystem");
    (location, kind.to_string())
}

impl HookContext {
    /// Open the context of `event`, which the world has just delivered.
    pub fn begin(world: &World, agent: &UnitAgent, event: &Event) -> HookContext {
        let spec = world.spec_arc().clone();
        let env = |k: &str| event.env(k).filter(|v| !v.is_empty()).map(String::from);
        let kind = event.kind;
        let hook_relation = if kind.is_relation() {
            event.relation_id()
        } else {
            None
        };
        let remote_unit = env("JUJU_REMOTE_UNIT");
        let broken = (kind == HookKind::RelationBroken)
            .then_some(hook_relation)
            .flatten();

        // Relations in the hook context: every relation the unit is in scope of. A
        // suspended relation whose relation-broken ran has left scope (the world keeps it to
        // be resumed).
        let mut relations = BTreeMap::new();
        for r in &world.relations {
            if r.suspended && !r.created {
                continue;
            }
            let mut members: BTreeSet<String> = r.joined.keys().cloned().collect();
            if hook_relation == Some(r.id) {
                if let Some(u) = &remote_unit {
                    match kind {
                        HookKind::RelationJoined => {
                            members.insert(u.clone());
                        }
                        HookKind::RelationDeparted => {
                            members.remove(u);
                        }
                        _ => {}
                    }
                }
            }
            let mut unit_data: BTreeMap<String, Databag> =
                agent.remote_data.get(&r.id).cloned().unwrap_or_default();
            for (u, ru) in &r.remote_units {
                unit_data.insert(u.clone(), with_defaults(u, &ru.data));
            }
            let local_app =
                if r.peer && r.app_version > 0 && (r.local_app_data.is_empty() || !world.leader) {
                    r.app_data.clone()
                } else {
                    r.local_app_data.clone()
                };
            relations.insert(
                r.id,
                RelView {
                    endpoint: r.endpoint.clone(),
                    remote_app: r.remote_app.clone(),
                    peer: r.peer,
                    dying: r.dying,
                    suspended: r.suspended,
                    members: members.into_iter().collect(),
                    remote_units: r.remote_units.keys().cloned().collect(),
                    unit_data,
                    remote_app_data: r.app_data.clone(),
                    local_unit: with_defaults(&world.unit, &r.local_unit_data),
                    local_app,
                },
            );
        }

        let hook_storage = env("JUJU_STORAGE_ID");
        let storage = world
            .storage
            .iter()
            .filter(|s| !s.detached)
            .map(|s| {
                let id = s.id();
                let (mut location, kind) = storage_location(&spec, &s.name, s.index);
                if hook_storage.as_deref() == Some(id.as_str()) {
                    if let Some(loc) = env("JUJU_STORAGE_LOCATION") {
                        location = loc;
                    }
                }
                StorageView {
                    id,
                    name: s.name.clone(),
                    index: s.index,
                    kind,
                    location,
                }
            })
            .collect();

        // Secrets: owned ones from the agent, reconciled with the world (which may know of a
        // revision published by another unit of the application); consumed ones from the
        // world.
        let mut owned = agent.secrets.clone();
        let mut consumers = BTreeMap::new();
        for s in &world.secrets {
            let Some(xid) = secret_xid(&s.id).map(String::from) else {
                continue;
            };
            match &s.role {
                SecretRole::Owner(o) => {
                    let entry = owned.entry(xid).or_insert_with(|| OwnedSecret {
                        id: s.id.clone(),
                        owner: *o,
                        label: s.label.clone(),
                        description: None,
                        expiry: None,
                        rotate: None,
                        rotates: None,
                        latest: s.latest_revision,
                        revisions: BTreeMap::from([(s.latest_revision, s.content.clone())]),
                        grants: BTreeSet::new(),
                    });
                    if s.latest_revision > entry.latest {
                        entry.latest = s.latest_revision;
                        entry.revisions.insert(s.latest_revision, s.content.clone());
                    }
                }
                SecretRole::Consumer(_) => {
                    consumers.insert(
                        xid,
                        ConsumerView {
                            world_id: s.id.clone(),
                            latest: s.latest_revision,
                            latest_content: s.content.clone(),
                            world_tracked: s.tracked_revision,
                            world_label: s.label.clone(),
                        },
                    );
                }
            }
        }
        let mut consumed = agent.consumed.clone();
        for (xid, c) in &consumers {
            consumed
                .entry(xid.clone())
                .or_default()
                .revisions
                .entry(c.latest)
                .or_insert_with(|| c.latest_content.clone());
        }

        let action = (kind == HookKind::Action).then(|| {
            let name = env("JUJU_ACTION_NAME").unwrap_or_default();
            let mut params = event.params.clone().unwrap_or_default();
            if let Some(a) = spec.action(&name) {
                for p in &a.params {
                    if let (false, Some(d)) = (params.contains_key(&p.name), &p.default) {
                        params.insert(p.name.clone(), d.clone());
                    }
                }
            }
            ActionRun {
                name,
                id: env("JUJU_ACTION_UUID").unwrap_or_default(),
                params,
                results: Map::new(),
                logs: Vec::new(),
                failed: false,
                message: String::new(),
            }
        });

        // Juju sets these statuses itself before the hook runs (spec lifecycle §3).
        let mut unit_status = agent.unit_status.clone();
        let mut statuses = Vec::new();
        let pre = match kind {
            HookKind::Install if !agent.charm_set_status => Some("installing charm software"),
            HookKind::Stop => Some("stopping charm software"),
            HookKind::Remove => Some("cleaning up prior to charm deletion"),
            _ => None,
        };
        if let Some(msg) = pre {
            unit_status = Status::new("maintenance", msg);
            statuses.push(StatusRecord {
                target: StatusTarget::Unit,
                status: "maintenance".into(),
                message: msg.into(),
                hook: event.hook.clone(),
                by_juju: true,
            });
        }

        HookContext {
            unit: world.unit.clone(),
            app: world.app.clone(),
            leader: world.leader,
            trusted: world.trusted,
            kubernetes: world.is_kubernetes(),
            dying: world.is_dying(),
            juju_version: world.opts.juju_version,
            hook: event.hook.clone(),
            kind,
            hook_relation,
            remote_unit,
            remote_app: env("JUJU_REMOTE_APP"),
            storage_id: hook_storage,
            peers: world.peers.iter().cloned().collect(),
            config: world.effective_config(),
            relations,
            broken,
            storage,
            resource_dir: agent.resource_dir.clone(),
            now: agent.clock,
            unit_status,
            app_status: agent.app_status.clone(),
            statuses,
            logs: Vec::new(),
            workload_version: None,
            leader_settings: agent.leader_settings.clone(),
            leader_settings_dirty: false,
            action,
            consumed,
            consumers,
            tracked: BTreeMap::new(),
            immediate: Vec::new(),
            rel_written: BTreeSet::new(),
            ports_committed: agent.opened_ports.clone(),
            ports_open: Vec::new(),
            ports_close: Vec::new(),
            storage_add: BTreeMap::new(),
            owned_before: owned.clone(),
            owned,
            secrets_created: Vec::new(),
            secrets_revised: BTreeSet::new(),
            secret_changes: Vec::new(),
            secret_effects: Vec::new(),
            next_secret: agent.secrets_created,
            state: agent.charm_state.clone(),
            state_changes: Vec::new(),
            reboot: None,
            calls: Vec::new(),
            spec,
        }
    }

    /// The tool calls answered so far.
    pub fn calls(&self) -> &[ToolCall] {
        &self.calls
    }

    /// Answer one hook-tool invocation. `tool` is the command name (a path is reduced to its
    /// last component), `args` its arguments without the name, `stdin` what it was fed.
    pub fn call(&mut self, tool: &str, args: &[String], stdin: &[u8]) -> ToolReply {
        let name = tool.rsplit('/').next().unwrap_or(tool);
        let result = self.dispatch(name, args, stdin);
        let reply = match result {
            Ok(stdout) => ToolReply::ok(stdout),
            // ops 2.x learns a storage event's storage id from `storage-get --help`:
            // jujuc prints the `-s` flag with the hook's instance as its default.
            Err(ToolError::Help) if name == "storage-get" => ToolReply::ok(format!(
                "Usage: storage-get [options] [<key>]\n\nSummary:\nPrint information for the \
                 storage instance with the specified ID.\n\nOptions:\n--format  (= smart)\n    \
                 Specify output format (json|smart|yaml)\n-o, --output (= \"\")\n    Specify an \
                 output file\n-s  (= {})\n    specify a storage instance by id\n",
                self.storage_id.as_deref().unwrap_or("")
            )),
            Err(e) => e.reply(name),
        };
        self.calls.push(ToolCall {
            tool: name.to_string(),
            args: args.to_vec(),
            code: reply.code,
            error: (reply.code != 0).then(|| {
                let s = reply.stderr_str();
                s.trim_end()
                    .strip_prefix("ERROR ")
                    .unwrap_or(s.trim_end())
                    .to_string()
            }),
        });
        reply
    }

    fn dispatch(&mut self, tool: &str, args: &[String], stdin: &[u8]) -> ToolResult {
        match tool {
            "juju-log" => self.juju_log(args),
            "is-leader" => self.is_leader(args),
            "config-get" => self.config_get(args),
            "status-set" => self.status_set(args),
            "status-get" => self.status_get(args),
            "application-version-set" => self.application_version_set(args),
            "relation-ids" => self.relation_ids(args),
            "relation-list" => self.relation_list(args),
            "relation-get" => self.relation_get(args),
            "relation-set" => self.relation_set(args, stdin),
            "relation-model-get" if self.juju_version >= JujuVersion::new(3, 6, 2) => {
                self.relation_model_get(args)
            }
            "network-get" => self.network_get(args),
            "unit-get" => self.unit_get(args),
            "goal-state" => self.goal_state(args),
            "opened-ports" => self.opened_ports(args),
            "open-port" => self.port_change(args, true),
            "close-port" => self.port_change(args, false),
            "action-get" => self.action_get(args),
            "action-set" => self.action_set(args),
            "action-log" => self.action_log(args),
            "action-fail" => self.action_fail(args),
            "storage-list" => self.storage_list(args),
            "storage-get" => self.storage_get(args),
            "storage-add" => self.storage_add(args),
            "secret-add" => self.secret_add(args),
            "secret-set" => self.secret_set(args),
            "secret-get" => self.secret_get(args),
            "secret-info-get" => self.secret_info_get(args),
            "secret-grant" => self.secret_grant(args),
            "secret-revoke" => self.secret_revoke(args),
            "secret-remove" => self.secret_remove(args),
            "secret-ids" => self.secret_ids(args),
            "resource-get" => self.resource_get(args),
            "credential-get" => self.credential_get(args),
            "juju-reboot" => self.juju_reboot(args),
            "state-get" => self.state_get(args),
            "state-set" => self.state_set(args, stdin),
            "state-delete" => self.state_delete(args),
            "leader-get" => self.leader_get(args),
            "leader-set" => self.leader_set(args),
            "pod-spec-set" => self.pod_spec_set(args),
            "add-metric" => self.add_metric(args),
            other => Err(ToolError::UnknownCommand(other.to_string())),
        }
    }

    /// End the hook: commit what Juju commits for a hook that exited 0 (`exit_ok`) or
    /// failed, update the agent, and report.
    pub fn finish(mut self, exit_ok: bool, agent: &mut UnitAgent) -> HookOutcome {
        let reboot_now = self.reboot == Some(Reboot::Now);
        let commit = exit_ok && !reboot_now;

        // What Juju sets itself after a hook that succeeded (`runHook.afterHook`).
        let set_unit_status = self
            .statuses
            .iter()
            .any(|s| s.target == StatusTarget::Unit && !s.by_juju);
        if exit_ok {
            let after = match self.kind {
                HookKind::Stop => Some(Status::new("maintenance", "")),
                HookKind::Remove => Some(Status::new("terminated", "")),
                HookKind::Start if !set_unit_status && !agent.charm_set_status => {
                    Some(Status::default())
                }
                _ => None,
            };
            if let Some(s) = after {
                self.statuses.push(StatusRecord {
                    target: StatusTarget::Unit,
                    status: s.status.clone(),
                    message: s.message.clone(),
                    hook: self.hook.clone(),
                    by_juju: true,
                });
                self.unit_status = s;
            }
        }
        agent.charm_set_status |= set_unit_status;

        // Applied at once, whatever happened.
        agent.unit_status = self.unit_status.clone();
        agent.app_status = self.app_status.clone();
        agent.status_history.extend(self.statuses.iter().cloned());
        agent.logs.extend(self.logs.iter().cloned());
        if let Some(v) = &self.workload_version {
            agent.workload_version = v.clone();
        }
        if self.leader_settings_dirty {
            agent.leader_settings = self.leader_settings.clone();
        }
        agent.consumed = std::mem::take(&mut self.consumed);
        for (id, r) in &self.relations {
            let known: BTreeMap<String, Databag> = r
                .unit_data
                .iter()
                .filter(|(u, _)| **u != self.unit)
                .map(|(u, d)| (u.clone(), d.clone()))
                .collect();
            agent.remote_data.insert(*id, known);
        }
        agent
            .remote_data
            .retain(|id, _| self.relations.contains_key(id));
        let action = self.action.take().map(|a| {
            let failed = a.failed || !exit_ok;
            let message = if !exit_ok && a.message.is_empty() {
                "exit status 1".to_string()
            } else {
                a.message
            };
            ActionRecord {
                name: a.name,
                id: a.id,
                params: a.params,
                results: a.results,
                logs: a.logs,
                status: if failed { "failed" } else { "completed" }.into(),
                message,
            }
        });
        if let Some(a) = &action {
            agent.actions.push(a.clone());
        }

        // Buffered: Juju's doFlush order (charm state, relation settings, ports, storage,
        // secrets), then the reboot request.
        let mut buffered = Vec::new();
        let mut effects = Vec::new();
        buffered.append(&mut self.state_changes);
        for (id, app) in &self.rel_written {
            if let Some(r) = self.relations.get(id) {
                let data = if *app {
                    r.local_app.clone()
                } else {
                    r.local_unit.clone()
                };
                buffered.push(Change::RelationData {
                    relation_id: *id,
                    app: *app,
                    data: data.clone(),
                });
                effects.push(Effect::RelationDataSet {
                    relation_id: *id,
                    app: *app,
                    data,
                });
            }
        }
        for p in &self.ports_open {
            buffered.push(Change::PortOpened {
                endpoint: p.endpoint.clone(),
                port: p.range.to_string(),
            });
        }
        for p in &self.ports_close {
            buffered.push(Change::PortClosed {
                endpoint: p.endpoint.clone(),
                port: p.range.to_string(),
            });
        }
        for (storage, count) in &self.storage_add {
            buffered.push(Change::StorageAdded {
                storage: storage.clone(),
                count: *count,
            });
            effects.push(Effect::StorageRequested {
                storage: storage.clone(),
                count: *count,
            });
        }
        let (secret_changes, secret_effects) = self.secret_commit();
        buffered.extend(secret_changes);
        effects.extend(secret_effects);
        if let Some(r) = self.reboot {
            buffered.push(Change::Reboot {
                now: r == Reboot::Now,
            });
            if exit_ok || r == Reboot::Now {
                effects.push(Effect::RebootRequested);
            }
        }

        let mut committed = std::mem::take(&mut self.immediate);
        let discarded;
        if commit {
            agent.opened_ports = self.opened_now();
            agent.charm_state = self.state;
            agent.secrets = self.owned;
            agent.secrets_created = self.next_secret;
            committed.extend(buffered);
            discarded = Vec::new();
        } else {
            // A `--now` reboot still happens; nothing else of the hook is kept.
            effects.retain(|e| reboot_now && *e == Effect::RebootRequested);
            discarded = buffered;
        }
        for (id, revision) in &self.tracked {
            effects.push(Effect::SecretTracked {
                id: id.clone(),
                revision: *revision,
            });
        }

        HookOutcome {
            hook: self.hook,
            result: if exit_ok {
                HookResult::Ok
            } else {
                HookResult::Error
            },
            effects,
            calls: self.calls,
            committed,
            discarded,
            logs: self.logs,
            statuses: self.statuses,
            action,
            reboot: self.reboot,
        }
    }

    // --- helpers shared by the tool families ---

    /// Parse the command line, with `--format`/`-o` for printing tools.
    fn parse(&self, args: &[String], spec: &[flags::Flag]) -> Result<flags::Args, ToolError> {
        flags::parse(args, spec)
    }

    /// The `--format` asked for (or `default`), validated against `allowed`.
    fn format_of(
        &self,
        a: &flags::Args,
        default: Format,
        allowed: &[&str],
    ) -> Result<Format, ToolError> {
        match a.value("format") {
            None => Ok(default),
            Some(v) if allowed.contains(&v) => Ok(Format::parse(v).unwrap_or(default)),
            Some(v) => Err(flags::invalid_value(
                v,
                &a.spelling("format"),
                &format!("unknown format {v:?}"),
            )),
        }
    }

    fn no_more_args(&self, rest: &[String]) -> Result<(), ToolError> {
        match rest.first() {
            None => Ok(()),
            Some(_) => Err(usage(format!(
                "unrecognized args: [\"{}\"]",
                rest.join("\" \"")
            ))),
        }
    }

    fn storage_view(&self, id: &str) -> Option<&StorageView> {
        self.storage.iter().find(|s| s.id == id)
    }
}

/// The id of a storage instance, validated like Juju's storage tags (`name/index`).
fn valid_storage_id(id: &str) -> bool {
    split_storage_id(id).is_some_and(|(name, _)| {
        !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    })
}

/// The model UUID (fixed, as the engine's).
fn model_uuid() -> &'static str {
    MODEL_UUID
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_uris() {
        assert_eq!(
            secret_xid("secret:0123456789abcdefghij"),
            Some("0123456789abcdefghij")
        );
        assert_eq!(
            secret_xid("secret://7b1d2c3e/0123456789abcdefghij"),
            Some("0123456789abcdefghij")
        );
        assert_eq!(
            secret_xid("0123456789abcdefghij"),
            Some("0123456789abcdefghij")
        );
        assert_eq!(secret_xid("secret:short"), None);
    }

    #[test]
    fn addresses_are_stable_and_private() {
        let a = unit_address("demo/0");
        assert_eq!(a, unit_address("demo/0"));
        assert_ne!(a, unit_address("demo/1"));
        assert!(a.starts_with("10.1."));
    }
}
