//! What a Pebble daemon keeps and the harness reads: changes and their tasks, service and
//! check states, notices, the exec, request, notify and signal logs, and API errors.

use crate::gotime::{Timestamp, format_duration};
use crate::layer::{Check, Service};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Status of a change or task (Pebble's `state.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Do,
    Doing,
    Done,
    Abort,
    Undo,
    Undoing,
    Hold,
    Error,
}

impl Status {
    /// The wire form (`"Doing"`, `"Done"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Do => "Do",
            Status::Doing => "Doing",
            Status::Done => "Done",
            Status::Abort => "Abort",
            Status::Undo => "Undo",
            Status::Undoing => "Undoing",
            Status::Hold => "Hold",
            Status::Error => "Error",
        }
    }

    /// Whether a change or task in this status is finished.
    pub fn ready(self) -> bool {
        matches!(self, Status::Done | Status::Error | Status::Hold)
    }
}

/// One task of a change.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: String,
    pub kind: String,
    pub summary: String,
    pub status: Status,
    /// Log lines, `"<RFC3339> INFO|ERROR <message>"`.
    pub log: Vec<String>,
    pub spawn_time: Timestamp,
    pub ready_time: Option<Timestamp>,
    /// What Pebble exposes as the task's `data` (its `api-data`), e.g. `{"exit-code": 0}`.
    pub data: serde_json::Map<String, Value>,
    /// The error that put the task in `Error`.
    pub error: Option<String>,
}

impl Task {
    pub(super) fn logf(&mut self, level: &str, msg: &str) {
        self.log
            .push(format!("{} {level} {msg}", Timestamp::now().rfc3339()));
    }

    pub(super) fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("id".into(), self.id.clone().into());
        m.insert("kind".into(), self.kind.clone().into());
        m.insert("summary".into(), self.summary.clone().into());
        m.insert("status".into(), self.status.as_str().into());
        if !self.log.is_empty() {
            m.insert("log".into(), self.log.clone().into());
        }
        let done = if self.status.ready() { 1 } else { 0 };
        m.insert(
            "progress".into(),
            json!({"label": "", "done": done, "total": 1}),
        );
        m.insert("spawn-time".into(), self.spawn_time.rfc3339_nano().into());
        if let Some(t) = self.ready_time {
            m.insert("ready-time".into(), t.rfc3339_nano().into());
        }
        if !self.data.is_empty() {
            m.insert("data".into(), Value::Object(self.data.clone()));
        }
        Value::Object(m)
    }
}

/// A change: a unit of work made of tasks (a service start, an exec, a health check).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub id: String,
    pub kind: String,
    pub summary: String,
    pub tasks: Vec<Task>,
    /// For changes with no tasks (`Replan - no services`): their fixed status.
    pub fixed_status: Option<Status>,
    pub spawn_time: Timestamp,
    pub ready_time: Option<Timestamp>,
    /// The change's `api-data`, shown as `data`.
    pub data: serde_json::Map<String, Value>,
    /// Services the change is about (for `GET /v1/changes?for=svc`).
    pub service_names: Vec<String>,
    /// Status last announced with a `change-update` notice.
    pub(super) notified: Option<Status>,
}

impl Change {
    /// The change's status, derived from its tasks the way Pebble derives it.
    pub fn status(&self) -> Status {
        if self.tasks.is_empty() {
            return self.fixed_status.unwrap_or(Status::Hold);
        }
        let has = |s: Status| self.tasks.iter().any(|t| t.status == s);
        for s in [
            Status::Undoing,
            Status::Doing,
            Status::Undo,
            Status::Do,
            Status::Abort,
            Status::Error,
            Status::Hold,
        ] {
            if has(s) {
                return s;
            }
        }
        Status::Done
    }

    /// Whether the change is finished.
    pub fn ready(&self) -> bool {
        self.status().ready()
    }

    /// `Change.Err()`: `cannot perform the following tasks:\n- <summary> (<error>)`.
    pub fn err(&self) -> Option<String> {
        if self.status() != Status::Error {
            return None;
        }
        let lines: Vec<String> = self
            .tasks
            .iter()
            .filter_map(|t| t.error.as_ref().map(|e| format!("- {} ({e})", t.summary)))
            .collect();
        if lines.is_empty() {
            return Some(format!(
                "internal inconsistency: change {:?} in ErrorStatus with no task errors logged",
                self.kind
            ));
        }
        Some(format!(
            "cannot perform the following tasks:\n{}",
            lines.join("\n")
        ))
    }

    /// The change as `GET /v1/changes/{id}` returns it.
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("id".into(), self.id.clone().into());
        m.insert("kind".into(), self.kind.clone().into());
        m.insert("summary".into(), self.summary.clone().into());
        m.insert("status".into(), self.status().as_str().into());
        if !self.tasks.is_empty() {
            m.insert(
                "tasks".into(),
                Value::Array(self.tasks.iter().map(Task::to_json).collect()),
            );
        }
        m.insert("ready".into(), self.ready().into());
        if let Some(e) = self.err() {
            m.insert("err".into(), e.into());
        }
        m.insert("spawn-time".into(), self.spawn_time.rfc3339_nano().into());
        if let Some(t) = self.ready_time {
            m.insert("ready-time".into(), t.rfc3339_nano().into());
        }
        if !self.data.is_empty() {
            m.insert("data".into(), Value::Object(self.data.clone()));
        }
        Value::Object(m)
    }
}

/// A service's state machine state (Pebble's `serviceState`, folded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    Running,
    Stopped,
    Backoff,
    Exited,
}

/// What `get_services` reports as `current`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceStatus {
    Active,
    Inactive,
    Backoff,
    Error,
}

impl ServiceStatus {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceStatus::Active => "active",
            ServiceStatus::Inactive => "inactive",
            ServiceStatus::Backoff => "backoff",
            ServiceStatus::Error => "error",
        }
    }
}

impl ServiceState {
    pub fn status(self) -> ServiceStatus {
        match self {
            ServiceState::Running => ServiceStatus::Active,
            ServiceState::Stopped => ServiceStatus::Inactive,
            ServiceState::Backoff => ServiceStatus::Backoff,
            ServiceState::Exited => ServiceStatus::Error,
        }
    }
}

/// A service Pebble has started at least once.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRuntime {
    pub state: ServiceState,
    /// The configuration it was (re)started with; replan restarts it when the plan differs.
    pub config: Service,
    pub current_since: Timestamp,
}

/// `get_services` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    pub name: String,
    /// `"enabled"` or `"disabled"`.
    pub startup: String,
    pub current: ServiceStatus,
}

/// A health check's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    Up,
    Down,
    Inactive,
}

impl CheckStatus {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Up => "up",
            CheckStatus::Down => "down",
            CheckStatus::Inactive => "inactive",
        }
    }
}

/// A health check as Pebble runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRuntime {
    pub name: String,
    pub level: String,
    /// `"enabled"` or `"disabled"`.
    pub startup: String,
    pub status: CheckStatus,
    pub failures: u32,
    pub threshold: u32,
    /// The `perform-check` or `recover-check` change driving it (none when stopped).
    pub change_id: Option<String>,
    pub config: Check,
}

impl CheckRuntime {
    pub(super) fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("name".into(), self.name.clone().into());
        if !self.level.is_empty() {
            m.insert("level".into(), self.level.clone().into());
        }
        m.insert("startup".into(), self.startup.clone().into());
        m.insert("status".into(), self.status.as_str().into());
        if self.failures != 0 {
            m.insert("failures".into(), self.failures.into());
        }
        m.insert("threshold".into(), self.threshold.into());
        if let Some(c) = &self.change_id {
            m.insert("change-id".into(), c.clone().into());
        }
        Value::Object(m)
    }
}

/// A notice (Pebble's aggregated notice: one per type and key).
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub id: String,
    /// `None` for public notices (Pebble's own `change-update` notices).
    pub user_id: Option<u32>,
    /// `custom`, `change-update` or `warning`.
    pub type_: String,
    pub key: String,
    pub first_occurred: Timestamp,
    pub last_occurred: Timestamp,
    pub last_repeated: Timestamp,
    pub occurrences: u64,
    pub last_data: BTreeMap<String, String>,
    pub repeat_after: Option<Duration>,
    pub expire_after: Duration,
}

impl Notice {
    /// The notice as the API returns it.
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("id".into(), self.id.clone().into());
        m.insert(
            "user-id".into(),
            self.user_id.map(Value::from).unwrap_or(Value::Null),
        );
        m.insert("type".into(), self.type_.clone().into());
        m.insert("key".into(), self.key.clone().into());
        m.insert(
            "first-occurred".into(),
            self.first_occurred.rfc3339_nano().into(),
        );
        m.insert(
            "last-occurred".into(),
            self.last_occurred.rfc3339_nano().into(),
        );
        m.insert(
            "last-repeated".into(),
            self.last_repeated.rfc3339_nano().into(),
        );
        m.insert("occurrences".into(), self.occurrences.into());
        if !self.last_data.is_empty() {
            m.insert("last-data".into(), json!(self.last_data));
        }
        if let Some(r) = self.repeat_after {
            m.insert("repeat-after".into(), format_duration(r).into());
        }
        m.insert(
            "expire-after".into(),
            format_duration(self.expire_after).into(),
        );
        Value::Object(m)
    }
}

/// One `exec` the charm ran (or tried to run).
#[derive(Debug, Clone, PartialEq)]
pub struct ExecRecord {
    pub change_id: Option<String>,
    pub task_id: Option<String>,
    pub command: Vec<String>,
    /// The environment the process got (charm's, service context's and Pebble's defaults).
    pub environment: BTreeMap<String, String>,
    /// The charm's own `environment` argument.
    pub requested_environment: BTreeMap<String, String>,
    pub working_dir: String,
    pub service_context: Option<String>,
    pub user_id: Option<u32>,
    pub group_id: Option<u32>,
    pub timeout: Option<Duration>,
    pub split_stderr: bool,
    /// Bytes the charm sent on stdin (complete once `stdin_closed`).
    pub stdin: Vec<u8>,
    pub stdin_closed: bool,
    /// Signals the charm sent on the control websocket.
    pub signals: Vec<String>,
    /// Which scripted answer replied (index into the answers list), if any.
    pub answer: Option<usize>,
    /// No answer matched and the command is not allowed: the unscripted policy replied.
    pub unscripted: bool,
    pub exit_code: Option<i32>,
    /// The error if Pebble refused the exec (`cannot find executable "x"`) or it failed.
    pub error: Option<String>,
}

/// One HTTP request the charm made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    /// Path and query string, as sent.
    pub path: String,
    pub status: u16,
    /// Whether the request body came with `Transfer-Encoding: chunked`.
    pub chunked: bool,
}

/// One `notify` call by the charm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyRecord {
    pub key: String,
    pub data: BTreeMap<String, String>,
    pub repeat_after: Option<Duration>,
    pub id: String,
}

/// One `send_signal` call by the charm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalRecord {
    pub signal: String,
    pub services: Vec<String>,
    /// The error Pebble answered, if any.
    pub error: Option<String>,
}

/// An error answer (`{"type":"error", …}`).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub kind: Option<&'static str>,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            message: message.into(),
            kind: None,
        }
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 404,
            message: message.into(),
            kind: None,
        }
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 500,
            message: message.into(),
            kind: None,
        }
    }
}

/// What a workload image ships: directories and files a fresh container has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerImage {
    pub dirs: Vec<String>,
    pub files: BTreeMap<String, Vec<u8>>,
}

/// How the workload misbehaves until its container restarts (a fault the fuzzer chose):
/// what it does to the charm's execs, files and HTTP calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkloadFaults {
    /// Every exec exits 1 with an error on stderr.
    pub exec_fails: bool,
    /// File writes (`push`, `make_dir`) fail: no space left on device.
    pub disk_full: bool,
    /// The workload's HTTP API answers 500.
    pub api_errors: bool,
    /// The workload's HTTP API never answers (it wins over `api_errors`).
    pub api_hangs: bool,
}

/// Told whenever a container's services may have changed state, under the container's
/// lock, before the charm can see the change: what depends on the workload running (its
/// HTTP API, which charmfuzz's `target::workload_http` serves) follows it without a race.
pub trait ServiceWatch: Send + Sync {
    /// `running(service)` says whether the service runs now; `faults`, how the workload
    /// misbehaves.
    fn services_changed(
        &self,
        container: &str,
        running: &dyn Fn(&str) -> bool,
        faults: WorkloadFaults,
    );
}

/// Where a [`ServiceWatch`] is kept.
#[derive(Clone, Default)]
pub struct WatchSlot(pub Option<Arc<dyn ServiceWatch>>);

impl std::fmt::Debug for WatchSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "watched"
        } else {
            "unwatched"
        })
    }
}
