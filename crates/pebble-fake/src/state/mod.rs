//! The state of one fake Pebble daemon: plan, services, changes, checks, notices,
//! identities, and the logs the harness reads afterwards.
//!
//! Everything here is synchronous and deterministic apart from timestamps: ids count up
//! from 1 per boot (as Pebble's do), and service actions complete at once (Pebble waits a
//! second to see a service stay up; a fake service has nothing to wait for).

//!
//! Layout: `records` holds what the daemon keeps and the harness reads (changes and tasks,
//! service and check states, notices, the logs, API errors); the daemon itself is here,
//! with its services in `services` and its health checks in `checks`.

mod checks;
mod records;
mod services;

pub use records::*;

use crate::exec::{ExecAnswers, ExecMatch, ExecSituation};
use crate::files::{ContainerFs, Users};
use crate::gotime::Timestamp;
use crate::layer::Plan;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

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
    /// since [`crate::FakePebble::take_unanswered`] last took them: what a real workload
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
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::layer::parse_layer;

    pub(super) fn state() -> (tempfile::TempDir, ContainerState) {
        let d = tempfile::tempdir().unwrap();
        let fs = ContainerFs::new(d.path().join("root")).unwrap();
        (
            d,
            ContainerState::new("web", fs, ExecAnswers::default(), "v1.19.0"),
        )
    }

    pub(super) fn add(st: &mut ContainerState, label: &str, yaml: &str) {
        let l = parse_layer(label, yaml).unwrap();
        st.plan = st.plan.add_layer(l, false).unwrap();
        st.sync_checks();
    }
}
