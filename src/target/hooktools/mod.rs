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
//! `is-leader` (`juju-model.md` §B2.1). So the answers here are byte-faithful: the
//! argument forms ops 3.9 builds (§B2.2: the name before the flag in `relation-ids NAME
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
//!   [`World`](crate::engine::world::World): statuses and their history, opened ports,
//!   charm state, the content and metadata of secrets the charm owns, the revisions of
//!   consumed secrets the unit has seen, the workload version, `juju-log` records and
//!   action results.
//! - [`HookContext::begin`] opens one event's context from the world, the agent and the
//!   event; [`HookContext::call`] answers one tool invocation with a [`ToolReply`] (stdout,
//!   stderr, exit code); [`HookContext::finish`] applies Juju's flush rules and returns the
//!   [`HookOutcome`]: the [`Effect`]s for
//!   [`World::complete`](crate::engine::world::World::complete), a record of every call,
//!   and what was committed (or discarded).
//!
//! Layout: this file has the tool replies and errors, the hook context and the dispatch of
//! a call to its tool; `agent` what the agent keeps ([`UnitAgent`] and its records);
//! `begin` and `finish` open and close a hook's context; the tool families answer in
//! `misc` (status, config, actions, storage, state, …), `relations`, `ports` and
//! `secrets`; `flags` parses their command lines and `format` prints their answers as
//! `jujuc` does; `scene` writes a hook's context into a reproducer's scene.
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

mod agent;
mod begin;
mod finish;
mod flags;
mod format;
mod misc;
mod ports;
mod relations;
mod scene;
mod secrets;
pub use agent::{
    ActionRecord, ConsumedSecret, LogRecord, OpenedPort, OwnedSecret, Reboot, SecretGrant, Status,
    StatusRecord, StatusTarget, UnitAgent,
};
pub use finish::{Change, HookOutcome};
pub use scene::event_scene;

pub use format::Format;
pub use ports::{PortRange, Protocol};

use crate::engine::action::{Databag, Effect};
use crate::engine::event::HookKind;
use crate::engine::options::JujuVersion;
use crate::engine::world::{MODEL_UUID, split_storage_id};
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

impl HookContext {
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

    /// Where each storage instance attached to the unit is mounted, as `storage-get
    /// location` says.
    pub fn storage_locations(&self) -> impl Iterator<Item = &str> {
        self.storage.iter().map(|s| s.location.as_str())
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
