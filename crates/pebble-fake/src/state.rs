//! The state of one fake Pebble daemon: plan, services, changes, checks, notices,
//! identities, and the logs the harness reads afterwards.
//!
//! Everything here is synchronous and deterministic apart from timestamps: ids count up
//! from 1 per boot (as Pebble's do), and service actions complete at once (Pebble waits a
//! second to see a service stay up; a fake service has nothing to wait for).

use super::exec::{ExecAnswers, ExecMatch, ExecSituation};
use super::files::{ContainerFs, Users};
use super::gotime::{Timestamp, format_duration};
use super::layer::{Check, Plan, Service};
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
    fn logf(&mut self, level: &str, msg: &str) {
        self.log
            .push(format!("{} {level} {msg}", Timestamp::now().rfc3339()));
    }

    fn to_json(&self) -> Value {
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
    notified: Option<Status>,
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
    fn to_json(&self) -> Value {
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

/// Everything one Pebble daemon knows.
#[derive(Debug)]
pub struct ContainerState {
    pub name: String,
    pub version: String,
    /// Counts container boots (1 for the first).
    pub boot: u64,
    /// Bumped whenever the state is replaced (fresh restart, restore), so that execs
    /// still running from before cannot touch the new state.
    pub epoch: u64,
    pub up: bool,
    pub plan: Plan,
    pub services: BTreeMap<String, ServiceRuntime>,
    pub changes: Vec<Change>,
    pub last_change_id: u64,
    pub last_task_id: u64,
    pub checks: BTreeMap<String, CheckRuntime>,
    pub notices: Vec<Notice>,
    pub last_notice_id: u64,
    pub identities: BTreeMap<String, Value>,
    pub fs: ContainerFs,
    pub users: Users,
    pub exec_answers: ExecAnswers,
    /// For each scripted answer, how many execs its command prefix matched in this input
    /// (what its `calls` range counts).
    pub exec_calls: Vec<u32>,
    /// Service name → exit code: starting it fails with `exited quickly with code N`.
    pub start_failures: BTreeMap<String, i32>,
    /// How the workload misbehaves now (cleared when its Pebble restarts).
    pub faults: WorkloadFaults,
    /// What the workload image ships: put in the filesystem at every new boot.
    pub image: ContainerImage,
    /// Container paths that survive a fresh restart (mounted storage).
    pub persistent_paths: Vec<String>,
    pub exec_log: Vec<ExecRecord>,
    /// Commands refused because no scripted answer (and no allowed executable) matched,
    /// since [`super::FakePebble::take_unanswered`] last took them: what a real workload
    /// image would have answered and this fake could not.
    pub unanswered: Vec<Vec<String>>,
    pub request_log: Vec<RequestRecord>,
    pub notify_log: Vec<NotifyRecord>,
    pub signal_log: Vec<SignalRecord>,
    pub service_watch: WatchSlot,
}

impl ExecSituation for ContainerState {
    fn call(&self, answer: usize) -> u32 {
        self.exec_calls.get(answer).copied().unwrap_or(0)
    }
    fn running(&self, service: &str) -> bool {
        self.services
            .get(service)
            .is_some_and(|s| s.state == ServiceState::Running)
    }
}

impl ContainerState {
    pub fn new(name: &str, fs: ContainerFs, exec_answers: ExecAnswers, version: &str) -> Self {
        ContainerState {
            name: name.to_string(),
            version: version.to_string(),
            boot: 1,
            epoch: 0,
            up: false,
            plan: Plan::default(),
            services: BTreeMap::new(),
            changes: Vec::new(),
            last_change_id: 0,
            last_task_id: 0,
            checks: BTreeMap::new(),
            notices: Vec::new(),
            last_notice_id: 0,
            identities: BTreeMap::new(),
            fs,
            users: Users::default(),
            exec_answers,
            exec_calls: Vec::new(),
            start_failures: BTreeMap::new(),
            faults: WorkloadFaults::default(),
            image: ContainerImage::default(),
            persistent_paths: Vec::new(),
            exec_log: Vec::new(),
            unanswered: Vec::new(),
            request_log: Vec::new(),
            notify_log: Vec::new(),
            signal_log: Vec::new(),
            service_watch: WatchSlot::default(),
        }
    }

    /// Tells the [`ServiceWatch`], if any, which services run now.
    pub fn services_moved(&self) {
        if let Some(w) = &self.service_watch.0 {
            let running = |s: &str| {
                self.services
                    .get(s)
                    .is_some_and(|r| r.state == ServiceState::Running)
            };
            w.services_changed(&self.name, &running, self.faults);
        }
    }

    /// A deterministic UUID-shaped boot id for this container and boot.
    pub fn boot_id(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.name.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (h >> 32) as u32,
            (h >> 16) as u16,
            (h & 0xfff) as u16,
            (self.boot & 0xfff) as u16,
            self.boot
        )
    }

    /// What a Pebble restart loses: plan, services, changes, checks, notices, identities.
    pub fn reset_daemon(&mut self) {
        self.plan = Plan::default();
        self.services.clear();
        self.changes.clear();
        self.last_change_id = 0;
        self.last_task_id = 0;
        self.checks.clear();
        self.notices.clear();
        self.last_notice_id = 0;
        self.identities.clear();
        self.faults = WorkloadFaults::default();
        self.services_moved();
    }

    /// Counts an exec of `argv` and says what answers it: the call counts and the
    /// services' states are the story's so far.
    pub fn answer_exec(&mut self, argv: &[String]) -> ExecMatch {
        let n = self.exec_answers.answers.len();
        self.exec_calls.resize(n, 0);
        for (i, a) in self.exec_answers.answers.iter().enumerate() {
            if a.matches(argv) {
                self.exec_calls[i] += 1;
            }
        }
        self.exec_answers.lookup(argv, &*self)
    }

    /// Forgets what the last input did that outlives a Pebble restart: the call counts
    /// and the logs.
    pub fn forget_story(&mut self) {
        self.exec_calls.clear();
        self.exec_log.clear();
        self.request_log.clear();
        self.notify_log.clear();
        self.signal_log.clear();
        self.unanswered.clear();
    }

    /// Ends every exec still running (after a restore there is no process behind it).
    pub fn interrupt_running_execs(&mut self, message: &str) {
        for ci in 0..self.changes.len() {
            if self.changes[ci].kind != "exec" {
                continue;
            }
            for ti in 0..self.changes[ci].tasks.len() {
                if !self.changes[ci].tasks[ti].status.ready() {
                    self.finish_task(ci, ti, Some(message.to_string()));
                }
            }
        }
        for r in &mut self.exec_log {
            if r.task_id.is_some() && r.exit_code.is_none() && r.error.is_none() {
                r.error = Some(message.to_string());
            }
        }
    }

    // ---- changes ---------------------------------------------------------------------

    pub fn new_task(&mut self, kind: &str, summary: String, status: Status) -> Task {
        self.last_task_id += 1;
        Task {
            id: self.last_task_id.to_string(),
            kind: kind.to_string(),
            summary,
            status,
            log: Vec::new(),
            spawn_time: Timestamp::now(),
            ready_time: None,
            data: serde_json::Map::new(),
            error: None,
        }
    }

    /// Adds a change and returns its index.
    pub fn add_change(&mut self, kind: &str, summary: String, tasks: Vec<Task>) -> usize {
        self.last_change_id += 1;
        self.changes.push(Change {
            id: self.last_change_id.to_string(),
            kind: kind.to_string(),
            summary,
            tasks,
            fixed_status: None,
            spawn_time: Timestamp::now(),
            ready_time: None,
            data: serde_json::Map::new(),
            service_names: Vec::new(),
            notified: None,
        });
        let i = self.changes.len() - 1;
        self.change_updated(i);
        i
    }

    pub fn change_index(&self, id: &str) -> Option<usize> {
        self.changes.iter().position(|c| c.id == id)
    }

    /// Bookkeeping after a change's tasks moved: ready times and `change-update` notices.
    pub fn change_updated(&mut self, i: usize) {
        let now = Timestamp::now();
        let c = &mut self.changes[i];
        for t in &mut c.tasks {
            if t.status.ready() && t.ready_time.is_none() {
                t.ready_time = Some(now);
            }
        }
        let status = c.status();
        if status.ready() && c.ready_time.is_none() {
            c.ready_time = Some(now);
        }
        if c.notified != Some(status) {
            c.notified = Some(status);
            let key = c.id.clone();
            let mut data = BTreeMap::new();
            data.insert("kind".to_string(), c.kind.clone());
            self.add_notice_at(None, "change-update", &key, data, None, now);
        }
    }

    /// Finishes one task of a change.
    pub fn finish_task(&mut self, ci: usize, ti: usize, error: Option<String>) {
        {
            let t = &mut self.changes[ci].tasks[ti];
            match error {
                Some(e) => {
                    t.logf("ERROR", &e);
                    t.error = Some(e);
                    t.status = Status::Error;
                }
                None => t.status = Status::Done,
            }
        }
        self.change_updated(ci);
    }

    // ---- notices ---------------------------------------------------------------------

    /// `State.AddNotice`: records an occurrence, aggregating by type and key.
    pub fn add_notice_at(
        &mut self,
        user_id: Option<u32>,
        type_: &str,
        key: &str,
        data: BTreeMap<String, String>,
        repeat_after: Option<Duration>,
        now: Timestamp,
    ) -> String {
        if let Some(n) = self
            .notices
            .iter_mut()
            .find(|n| n.type_ == type_ && n.key == key && n.user_id == user_id)
        {
            n.occurrences += 1;
            let repeat = match repeat_after {
                None => true,
                Some(r) => now > n.last_repeated.plus(r),
            };
            if repeat {
                n.last_repeated = now;
            }
            n.last_occurred = now;
            n.last_data = data;
            n.repeat_after = repeat_after;
            return n.id.clone();
        }
        self.last_notice_id += 1;
        let id = self.last_notice_id.to_string();
        self.notices.push(Notice {
            id: id.clone(),
            user_id,
            type_: type_.to_string(),
            key: key.to_string(),
            first_occurred: now,
            last_occurred: now,
            last_repeated: now,
            occurrences: 1,
            last_data: data,
            repeat_after,
            expire_after: Duration::from_secs(7 * 24 * 3600),
        });
        id
    }

    /// Notices sorted by last-repeated time (as the API lists them).
    pub fn sorted_notices(&self) -> Vec<&Notice> {
        let now = Timestamp::now();
        let mut v: Vec<&Notice> = self
            .notices
            .iter()
            .filter(|n| n.last_occurred.plus(n.expire_after) >= now)
            .collect();
        v.sort_by_key(|n| (n.last_repeated, n.id.parse::<u64>().unwrap_or(0)));
        v
    }

    // ---- services --------------------------------------------------------------------

    /// `get_services`: every service in the plan with its status, by name.
    pub fn service_infos(&self, names: &[String]) -> Vec<ServiceInfo> {
        self.plan
            .services
            .iter()
            .filter(|(n, _)| names.is_empty() || names.contains(n))
            .map(|(name, cfg)| ServiceInfo {
                name: name.clone(),
                startup: if cfg.startup == "enabled" {
                    "enabled".into()
                } else {
                    "disabled".into()
                },
                current: self
                    .services
                    .get(name)
                    .map_or(ServiceStatus::Inactive, |s| s.state.status()),
            })
            .collect()
    }

    /// `POST /v1/services`: builds the change and runs it (services start at once).
    pub fn services_action(&mut self, action: &str, names: &[String]) -> Result<String, ApiError> {
        let mut names = names.to_vec();
        match action {
            "replan" => {
                if !names.is_empty() {
                    return Err(ApiError::bad_request(format!(
                        "{action} accepts no service names"
                    )));
                }
            }
            "autostart" => {
                if !names.is_empty() {
                    return Err(ApiError::bad_request(format!(
                        "{action} accepts no service names"
                    )));
                }
                let enabled: Vec<String> = self
                    .plan
                    .services
                    .iter()
                    .filter(|(_, s)| s.startup == "enabled")
                    .map(|(n, _)| n.clone())
                    .collect();
                names = self
                    .plan
                    .start_order(&enabled)
                    .map_err(ApiError::internal)?;
                if names.is_empty() {
                    return Err(ApiError {
                        status: 400,
                        message: "no default services".into(),
                        kind: Some("no-default-services"),
                    });
                }
            }
            _ => {
                if names.is_empty() {
                    return Err(ApiError::bad_request(format!(
                        "must specify services for {action} action"
                    )));
                }
            }
        }
        let fail = |e: String| ApiError::bad_request(format!("cannot {action} services: {e}"));
        let (stop, start, mut summary_names): (Vec<String>, Vec<String>, Vec<String>) = match action
        {
            "start" | "autostart" => {
                let start = self.plan.start_order(&names).map_err(fail)?;
                (Vec::new(), start.clone(), start)
            }
            "stop" => {
                let stop = self.plan.stop_order(&names).map_err(fail)?;
                (stop.clone(), Vec::new(), stop)
            }
            "restart" => {
                let stop: Vec<String> = self
                    .plan
                    .stop_order(&names)
                    .map_err(fail)?
                    .into_iter()
                    .filter(|n| names.contains(n))
                    .collect();
                let start = self.plan.start_order(&names).map_err(fail)?;
                // Pebble counts the services to start in the summary.
                (stop, start.clone(), start)
            }
            "replan" => {
                let (stop, start) = self.replan_sets().map_err(fail)?;
                let mut all: Vec<String> = stop.iter().chain(start.iter()).cloned().collect();
                all.sort();
                all.dedup();
                names = all.clone();
                (stop, start, all)
            }
            other => return Err(ApiError::bad_request(format!("invalid action {other:?}"))),
        };
        let title = title_case(action);
        let mut tasks = Vec::new();
        for n in &stop {
            let t = self.new_task("stop", format!("Stop service {n:?}"), Status::Do);
            tasks.push(t);
        }
        for n in &start {
            let t = self.new_task("start", format!("Start service {n:?}"), Status::Do);
            tasks.push(t);
        }
        if tasks.is_empty() {
            let ci = self.add_change(action, format!("{title} - no services"), Vec::new());
            self.changes[ci].fixed_status = Some(Status::Done);
            self.change_updated(ci);
            return Ok(self.changes[ci].id.clone());
        }
        summary_names.dedup();
        let first = names.first().cloned().unwrap_or_default();
        let summary = if summary_names.len() <= 1 {
            format!("{title} service {first:?}")
        } else {
            format!(
                "{title} service {first:?} and {} more",
                summary_names.len() - 1
            )
        };
        let ci = self.add_change(action, summary, tasks);
        self.changes[ci].service_names = names.clone();
        let ops: Vec<(bool, String)> = stop
            .iter()
            .map(|n| (false, n.clone()))
            .chain(start.iter().map(|n| (true, n.clone())))
            .collect();
        self.run_service_change(ci, &ops);
        if action == "replan" {
            self.replan_checks();
        }
        Ok(self.changes[ci].id.clone())
    }

    /// `ServiceManager.Replan`: services whose configuration changed since they started
    /// are stopped and started again; `startup: enabled` services are started.
    fn replan_sets(&mut self) -> Result<(Vec<String>, Vec<String>), String> {
        let mut needs_restart = Vec::new();
        for (name, rt) in self.services.iter_mut() {
            match self.plan.services.get(name) {
                Some(cfg) if *cfg == rt.config => continue,
                Some(cfg) => rt.config = cfg.clone(),
                None => {}
            }
            needs_restart.push(name.clone());
        }
        let start: Vec<String> = self
            .plan
            .services
            .iter()
            .filter(|(n, s)| needs_restart.contains(n) || s.startup == "enabled")
            .map(|(n, _)| n.clone())
            .collect();
        let stop_known: Vec<String> = needs_restart
            .iter()
            .filter(|n| self.plan.services.contains_key(*n))
            .cloned()
            .collect();
        let stop = self.plan.stop_order(&stop_known)?;
        let start = self.plan.start_order(&start)?;
        Ok((stop, start))
    }

    /// Runs a service change's tasks in order: the first failure holds the rest.
    fn run_service_change(&mut self, ci: usize, ops: &[(bool, String)]) {
        let mut failed = false;
        for (ti, (is_start, name)) in ops.iter().enumerate() {
            if failed {
                self.changes[ci].tasks[ti].status = Status::Hold;
                continue;
            }
            let (log, err) = if *is_start {
                self.do_start(name)
            } else {
                self.do_stop(name)
            };
            if let Some(l) = log {
                self.changes[ci].tasks[ti].logf("INFO", &l);
            }
            failed = err.is_some();
            self.finish_task(ci, ti, err);
        }
        self.services_moved();
        self.change_updated(ci);
    }

    /// A `start` task. Returns (task log line, error).
    fn do_start(&mut self, name: &str) -> (Option<String>, Option<String>) {
        let Some(cfg) = self.plan.services.get(name).cloned() else {
            return (None, Some(format!("cannot find service {name:?} in plan")));
        };
        let now = Timestamp::now();
        if let Some(rt) = self.services.get_mut(name) {
            rt.config = cfg.clone();
            if rt.state == ServiceState::Running {
                return (Some(format!("Service {name:?} already started.")), None);
            }
        }
        if let Some(code) = self.start_failures.get(name).copied() {
            let state = match cfg.on_failure.as_str() {
                "ignore" | "shutdown" | "success-shutdown" | "failure-shutdown" => {
                    ServiceState::Exited
                }
                _ => ServiceState::Backoff,
            };
            self.set_service_state(name, state, cfg, now);
            return (
                None,
                Some(format!(
                    "cannot start service: exited quickly with code {code}"
                )),
            );
        }
        self.set_service_state(name, ServiceState::Running, cfg, now);
        (None, None)
    }

    /// A `stop` task.
    fn do_stop(&mut self, name: &str) -> (Option<String>, Option<String>) {
        let now = Timestamp::now();
        let Some(rt) = self.services.get_mut(name) else {
            return (
                Some(format!("Service {name:?} has never been started.")),
                None,
            );
        };
        match rt.state {
            ServiceState::Stopped => (Some(format!("Service {name:?} already stopped.")), None),
            ServiceState::Exited => {
                rt.state = ServiceState::Stopped;
                rt.current_since = now;
                (Some(format!("Service {name:?} had already exited.")), None)
            }
            _ => {
                rt.state = ServiceState::Stopped;
                rt.current_since = now;
                (None, None)
            }
        }
    }

    /// Sets a service's state (harness side too: a crash is `Backoff` or `Exited`).
    pub fn set_service_state(
        &mut self,
        name: &str,
        state: ServiceState,
        config: Service,
        now: Timestamp,
    ) {
        match self.services.get_mut(name) {
            Some(rt) => {
                if rt.state.status() != state.status() {
                    rt.current_since = now;
                }
                rt.state = state;
                rt.config = config;
            }
            None => {
                self.services.insert(
                    name.to_string(),
                    ServiceRuntime {
                        state,
                        config,
                        current_since: now,
                    },
                );
            }
        }
        self.services_moved();
    }

    // ---- checks ----------------------------------------------------------------------

    /// Keeps running checks in step with the plan: new or changed checks get a fresh
    /// `perform-check` change (unless `startup: disabled`), removed ones are stopped.
    pub fn sync_checks(&mut self) {
        let plan_checks = self.plan.checks.clone();
        let names: Vec<String> = self.checks.keys().cloned().collect();
        for name in names {
            let keep = plan_checks
                .get(&name)
                .is_some_and(|c| *c == self.checks[&name].config);
            if !keep {
                self.stop_check_change(&name);
                self.checks.remove(&name);
            }
        }
        for (name, cfg) in plan_checks {
            if self.checks.contains_key(&name) {
                continue;
            }
            let startup = if cfg.startup == "disabled" {
                "disabled"
            } else {
                "enabled"
            };
            self.checks.insert(
                name.clone(),
                CheckRuntime {
                    name: name.clone(),
                    level: cfg.level.clone(),
                    startup: startup.into(),
                    status: CheckStatus::Inactive,
                    failures: 0,
                    threshold: cfg.threshold.max(0) as u32,
                    change_id: None,
                    config: cfg,
                },
            );
            if startup == "enabled" {
                self.start_check_change(&name, "perform-check");
            }
        }
    }

    /// On replan, checks that are enabled but not running are started again.
    fn replan_checks(&mut self) {
        let names: Vec<String> = self
            .checks
            .values()
            .filter(|c| c.startup == "enabled" && c.change_id.is_none())
            .map(|c| c.name.clone())
            .collect();
        for n in names {
            self.start_check_change(&n, "perform-check");
        }
    }

    fn start_check_change(&mut self, name: &str, kind: &str) {
        let Some(check) = self.checks.get(name) else {
            return;
        };
        let verb = if kind == "perform-check" {
            "Perform"
        } else {
            "Recover"
        };
        let summary = format!("{verb} {} check {name:?}", check.config.kind_name());
        let task = self.new_task(kind, summary.clone(), Status::Doing);
        let ci = self.add_change(kind, summary, vec![task]);
        self.changes[ci]
            .data
            .insert("check-name".into(), name.to_string().into());
        let id = self.changes[ci].id.clone();
        let c = self.checks.get_mut(name).expect("checked above");
        c.change_id = Some(id);
        if kind == "perform-check" {
            c.status = CheckStatus::Up;
        }
    }

    fn stop_check_change(&mut self, name: &str) {
        let Some(id) = self.checks.get_mut(name).and_then(|c| c.change_id.take()) else {
            return;
        };
        if let Some(ci) = self.change_index(&id) {
            for t in &mut self.changes[ci].tasks {
                if !t.status.ready() {
                    t.status = Status::Hold;
                }
            }
            self.change_updated(ci);
        }
        if let Some(c) = self.checks.get_mut(name) {
            c.status = CheckStatus::Inactive;
            c.failures = 0;
        }
    }

    /// `POST /v1/checks`: start or stop checks; returns the names that changed.
    pub fn checks_action(
        &mut self,
        action: &str,
        names: &[String],
    ) -> Result<Vec<String>, ApiError> {
        if names.is_empty() {
            return Err(ApiError::bad_request(format!(
                "must specify checks for {action} action"
            )));
        }
        if action != "start" && action != "stop" {
            return Err(ApiError::bad_request(format!("invalid action {action:?}")));
        }
        let mut missing: Vec<String> = names
            .iter()
            .filter(|n| !self.plan.checks.contains_key(*n))
            .cloned()
            .collect();
        if !missing.is_empty() {
            missing.sort();
            return Err(ApiError::bad_request(format!(
                "cannot {action} checks: cannot find checks in plan: {}",
                missing.join(", ")
            )));
        }
        let mut changed = Vec::new();
        for n in names {
            let running = self.checks.get(n).is_some_and(|c| c.change_id.is_some());
            if action == "start" && !running {
                self.start_check_change(n, "perform-check");
                changed.push(n.clone());
            } else if action == "stop" && running {
                self.stop_check_change(n);
                changed.push(n.clone());
            }
        }
        Ok(changed)
    }

    /// Harness: a check crosses its failure threshold (`down`, a `recover-check` change).
    pub fn fail_check(&mut self, name: &str, message: &str) -> bool {
        let Some(c) = self.checks.get(name) else {
            return false;
        };
        if c.status == CheckStatus::Down || c.change_id.is_none() {
            return c.status == CheckStatus::Down;
        }
        let threshold = c.threshold;
        if let Some(id) = c.change_id.clone()
            && let Some(ci) = self.change_index(&id)
        {
            for ti in 0..self.changes[ci].tasks.len() {
                if !self.changes[ci].tasks[ti].status.ready() {
                    self.finish_task(ci, ti, Some(message.to_string()));
                }
            }
        }
        self.start_check_change(name, "recover-check");
        let c = self.checks.get_mut(name).expect("checked above");
        c.status = CheckStatus::Down;
        c.failures = threshold;
        true
    }

    /// Harness: a failing check succeeds again (`up`, a new `perform-check` change).
    pub fn recover_check(&mut self, name: &str) -> bool {
        let Some(c) = self.checks.get(name) else {
            return false;
        };
        if c.status != CheckStatus::Down {
            return c.status == CheckStatus::Up;
        }
        if let Some(id) = c.change_id.clone()
            && let Some(ci) = self.change_index(&id)
        {
            for ti in 0..self.changes[ci].tasks.len() {
                if !self.changes[ci].tasks[ti].status.ready() {
                    self.finish_task(ci, ti, None);
                }
            }
        }
        self.start_check_change(name, "perform-check");
        let c = self.checks.get_mut(name).expect("checked above");
        c.failures = 0;
        true
    }

    /// `GET /v1/checks` entries.
    pub fn checks_json(&self, level: &str, names: &[String]) -> Vec<Value> {
        self.checks
            .values()
            .filter(|c| level.is_empty() || c.level == level)
            .filter(|c| names.is_empty() || names.contains(&c.name))
            .map(CheckRuntime::to_json)
            .collect()
    }
}

fn title_case(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::parse_layer;

    fn state() -> (tempfile::TempDir, ContainerState) {
        let d = tempfile::tempdir().unwrap();
        let fs = ContainerFs::new(d.path().join("root")).unwrap();
        (
            d,
            ContainerState::new("web", fs, ExecAnswers::default(), "v1.19.0"),
        )
    }

    fn add(st: &mut ContainerState, label: &str, yaml: &str) {
        let l = parse_layer(label, yaml).unwrap();
        st.plan = st.plan.add_layer(l, false).unwrap();
        st.sync_checks();
    }

    #[test]
    fn replan_starts_enabled_and_restarts_changed() {
        let (_d, mut st) = state();
        add(
            &mut st,
            "a",
            "services:\n  web: {override: replace, command: /bin/web, startup: enabled}\n  side: {override: replace, command: /bin/side}\n",
        );
        let id = st.services_action("replan", &[]).unwrap();
        let c = &st.changes[st.change_index(&id).unwrap()];
        assert_eq!(c.summary, "Replan service \"web\"");
        assert_eq!(c.status(), Status::Done);
        let infos = st.service_infos(&[]);
        assert_eq!(infos[0].name, "side");
        assert_eq!(infos[0].current, ServiceStatus::Inactive);
        assert_eq!(infos[1].current, ServiceStatus::Active);
        // Nothing changed: replan starts web again (already started) and nothing else.
        let id = st.services_action("replan", &[]).unwrap();
        let c = &st.changes[st.change_index(&id).unwrap()];
        assert_eq!(c.tasks.len(), 1);
        assert!(c.tasks[0].log[0].ends_with("Service \"web\" already started."));
        // A changed command: stop then start.
        add(
            &mut st,
            "b",
            "services:\n  web: {override: merge, command: /bin/web2}\n",
        );
        let id = st.services_action("replan", &[]).unwrap();
        let c = &st.changes[st.change_index(&id).unwrap()];
        let kinds: Vec<&str> = c.tasks.iter().map(|t| t.kind.as_str()).collect();
        assert_eq!(kinds, vec!["stop", "start"]);
    }

    #[test]
    fn unknown_service_and_start_failures() {
        let (_d, mut st) = state();
        add(
            &mut st,
            "a",
            "services:\n  web: {override: replace, command: x}\n",
        );
        let e = st.services_action("start", &["nope".into()]).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(
            e.message,
            "cannot start services: service \"nope\" does not exist"
        );
        st.start_failures.insert("web".into(), 1);
        let id = st.services_action("start", &["web".into()]).unwrap();
        let c = &st.changes[st.change_index(&id).unwrap()];
        assert_eq!(c.status(), Status::Error);
        assert_eq!(
            c.err().unwrap(),
            "cannot perform the following tasks:\n- Start service \"web\" (cannot start service: exited quickly with code 1)"
        );
        assert_eq!(st.service_infos(&[])[0].current, ServiceStatus::Backoff);
        let e = st.services_action("autostart", &[]).unwrap_err();
        assert_eq!(e.kind, Some("no-default-services"));
        let id = st.services_action("replan", &[]).unwrap();
        assert_eq!(
            st.changes[st.change_index(&id).unwrap()].summary,
            "Replan - no services"
        );
    }

    #[test]
    fn checks_fail_and_recover() {
        let (_d, mut st) = state();
        add(
            &mut st,
            "a",
            "checks:\n  alive: {override: replace, level: alive, http: {url: 'http://localhost/'}}\n",
        );
        let j = st.checks_json("", &[]);
        assert_eq!(j[0]["status"], "up");
        assert_eq!(j[0]["threshold"], 3);
        assert_eq!(j[0]["change-id"], "1");
        assert!(st.fail_check("alive", "non-200 status code 500"));
        let j = st.checks_json("alive", &[]);
        assert_eq!(j[0]["status"], "down");
        assert_eq!(j[0]["failures"], 3);
        assert_eq!(st.changes[0].status(), Status::Error);
        assert_eq!(st.changes[1].kind, "recover-check");
        assert!(st.recover_check("alive"));
        assert_eq!(st.checks_json("", &[])[0]["status"], "up");
        assert_eq!(
            st.checks_action("stop", &["alive".into()]).unwrap(),
            vec!["alive"]
        );
        assert_eq!(st.checks_json("", &[])[0]["status"], "inactive");
        assert!(st.checks_json("ready", &[]).is_empty());
        // Each change's spawn and status changes were announced.
        assert!(st.notices.iter().any(|n| n.type_ == "change-update"));
    }
}
