//! Snapshots: every container's Pebble state, logs and filesystem captured at one moment
//! and put back later, so that a fuzz input can resume from a saved prefix.

use crate::state::{self, Change, CheckRuntime, Notice, WorkloadFaults};
use crate::{ContainerLogs, ExecAnswers, FakePebble, FsImage, Lock, PebbleError, Plan, Users};
use std::collections::BTreeMap;

/// One container's part of a [`PebbleSnapshot`].
#[derive(Debug, Clone)]
pub struct ContainerSnapshot {
    pub up: bool,
    pub boot: u64,
    pub plan: Plan,
    pub services: BTreeMap<String, state::ServiceRuntime>,
    pub changes: Vec<Change>,
    pub last_change_id: u64,
    pub last_task_id: u64,
    pub checks: BTreeMap<String, CheckRuntime>,
    pub notices: Vec<Notice>,
    pub last_notice_id: u64,
    pub identities: BTreeMap<String, serde_json::Value>,
    pub users: Users,
    pub exec_answers: ExecAnswers,
    pub exec_calls: Vec<u32>,
    pub start_failures: BTreeMap<String, i32>,
    pub faults: WorkloadFaults,
    pub persistent_paths: Vec<String>,
    pub logs: ContainerLogs,
    pub fs: FsImage,
}

/// Every container's Pebble state and filesystem at one moment.
#[derive(Debug, Clone)]
pub struct PebbleSnapshot {
    pub containers: BTreeMap<String, ContainerSnapshot>,
}

impl FakePebble {
    /// Captures every container's state, logs and filesystem.
    pub fn snapshot(&self) -> Result<PebbleSnapshot, PebbleError> {
        let mut containers = BTreeMap::new();
        for (name, c) in &self.containers {
            let st = c.state.locked();
            let fs = st.fs.image().map_err(|source| PebbleError::Filesystem {
                container: name.clone(),
                what: "read",
                root: st.fs.root().to_path_buf(),
                source,
            })?;
            containers.insert(
                name.clone(),
                ContainerSnapshot {
                    up: st.up,
                    boot: st.boot,
                    plan: st.plan.clone(),
                    services: st.services.clone(),
                    changes: st.changes.clone(),
                    last_change_id: st.last_change_id,
                    last_task_id: st.last_task_id,
                    checks: st.checks.clone(),
                    notices: st.notices.clone(),
                    last_notice_id: st.last_notice_id,
                    identities: st.identities.clone(),
                    users: st.users.clone(),
                    exec_answers: st.exec_answers.clone(),
                    exec_calls: st.exec_calls.clone(),
                    start_failures: st.start_failures.clone(),
                    faults: st.faults,
                    persistent_paths: st.persistent_paths.clone(),
                    logs: ContainerLogs {
                        requests: st.request_log.clone(),
                        execs: st.exec_log.clone(),
                        notifies: st.notify_log.clone(),
                        signals: st.signal_log.clone(),
                    },
                    fs,
                },
            );
        }
        Ok(PebbleSnapshot { containers })
    }

    /// Puts every container back as the snapshot has it (reachability included). Execs
    /// that were still running when the snapshot was taken end in error (there is no
    /// process to resume).
    pub fn restore(&self, snap: &PebbleSnapshot) -> Result<(), PebbleError> {
        let ours: Vec<&String> = self.containers.keys().collect();
        let theirs: Vec<&String> = snap.containers.keys().collect();
        if ours != theirs {
            let join = |v: Vec<&String>| {
                v.into_iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(PebbleError::SnapshotMismatch {
                snapshot: join(theirs),
                server: join(ours),
            });
        }
        for (name, s) in &snap.containers {
            let c = self.containers[name].clone();
            // Drop connections and running execs of the present.
            self.take_down(&c);
            {
                let mut st = c.state.locked();
                st.epoch += 1;
                st.boot = s.boot;
                st.plan = s.plan.clone();
                st.services = s.services.clone();
                st.changes = s.changes.clone();
                st.last_change_id = s.last_change_id;
                st.last_task_id = s.last_task_id;
                st.checks = s.checks.clone();
                st.notices = s.notices.clone();
                st.last_notice_id = s.last_notice_id;
                st.identities = s.identities.clone();
                st.users = s.users.clone();
                st.exec_answers = s.exec_answers.clone();
                st.exec_calls = s.exec_calls.clone();
                st.start_failures = s.start_failures.clone();
                st.faults = s.faults;
                st.persistent_paths = s.persistent_paths.clone();
                st.request_log = s.logs.requests.clone();
                st.exec_log = s.logs.execs.clone();
                st.notify_log = s.logs.notifies.clone();
                st.signal_log = s.logs.signals.clone();
                st.interrupt_running_execs("exec interrupted: state restored from a snapshot");
                st.services_moved();
                let root = st.fs.root().to_path_buf();
                st.fs
                    .restore(&s.fs)
                    .map_err(|source| PebbleError::Filesystem {
                        container: name.clone(),
                        what: "restore",
                        root,
                        source,
                    })?;
            }
            if s.up {
                self.bring_up(&c)?;
            }
            c.bump();
        }
        Ok(())
    }
}
