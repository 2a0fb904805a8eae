//! Workloads: the containers of a Kubernetes charm, their Pebble, and the workload in them.
//!
//! On Kubernetes each workload container runs Pebble, which the charm drives: it adds
//! layers, starts services and declares health checks. Pebble reports to the agent, which
//! queues workload events in one FIFO (juju-model.md §L2.9): `pebble-ready` when Pebble comes up,
//! `pebble-custom-notice` for a notice the workload records, `pebble-check-failed` and
//! `pebble-check-recovered` as checks change state. A workload can also misbehave without
//! any hook: a service exits, or the workload takes on a fault the charm meets only when it
//! looks ([`WorkloadFault`]).

use super::{Hook, NotApplicable, World};
use crate::engine::action::{Action, ActionKind, WorkloadFault};
use std::collections::{BTreeMap, BTreeSet};

/// A workload container of a Kubernetes charm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    /// Pebble is reachable (`can_connect()` is true).
    pub up: bool,
    /// Custom notice keys recorded so far, with their notice ids.
    pub notices: BTreeMap<String, u32>,
    /// Checks known to exist in the container's plan, and whether each is failing.
    pub checks: BTreeMap<String, bool>,
    /// Services running in its Pebble, as the target last reported them
    /// ([`Effect::ServicesRunning`]).
    pub running: BTreeSet<String>,
    /// How its workload misbehaves now ([`Action::WorkloadFault`]).
    pub faults: BTreeSet<WorkloadFault>,
}

impl Container {
    /// A new Pebble and a fresh workload: the charm's layers (and their checks), the
    /// services it started and the workload's faults are gone.
    pub(super) fn fresh_workload(&mut self) {
        self.checks.clear();
        self.running.clear();
        self.faults.clear();
    }

    /// The faults its workload could take on now.
    pub fn possible_faults(&self) -> Vec<WorkloadFault> {
        if !self.up {
            return Vec::new();
        }
        WorkloadFault::ALL
            .into_iter()
            .filter(|f| !self.faults.contains(f))
            .collect()
    }
}

/// A workload event waiting in the agent's FIFO (juju-model.md §L2.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkloadEvent {
    Ready {
        container: String,
    },
    Notice {
        container: String,
        key: String,
        id: u32,
    },
    CheckFailed {
        container: String,
        check: String,
    },
    CheckRecovered {
        container: String,
        check: String,
    },
}

impl World {
    pub fn container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }
    pub(super) fn container_mut(&mut self, name: &str) -> Option<&mut Container> {
        self.containers.iter_mut().find(|c| c.name == name)
    }
    pub fn next_notice_id(&self) -> u32 {
        self.next_notice_id
    }

    pub(super) fn workloads_enabled(&self, kind: ActionKind) -> bool {
        use ActionKind as K;
        let k8s = self.is_kubernetes();
        let v = self.opts.juju_version;
        match kind {
            K::WorkloadStarted => k8s && self.containers.iter().any(|c| !c.up),
            K::WorkloadStopped => k8s && self.containers.iter().any(|c| c.up),
            K::CustomNotice => {
                k8s && v.has_custom_notices() && self.containers.iter().any(|c| c.up)
            }
            K::CheckFailed => {
                k8s && v.has_check_events()
                    && self
                        .containers
                        .iter()
                        .any(|c| c.up && c.checks.values().any(|f| !f))
            }
            K::CheckRecovered => {
                k8s && v.has_check_events()
                    && self
                        .containers
                        .iter()
                        .any(|c| c.up && c.checks.values().any(|f| *f))
            }
            K::ServiceExited => {
                k8s && self.opts.workload_faults
                    && self
                        .containers
                        .iter()
                        .any(|c| c.up && !c.running.is_empty())
            }
            K::WorkloadFault => {
                k8s && self.opts.workload_faults
                    && self
                        .containers
                        .iter()
                        .any(|c| !c.possible_faults().is_empty())
            }
            _ => unreachable!("{kind} is not a workload action"),
        }
    }

    pub(super) fn apply_workloads(
        &mut self,
        action: &Action,
        na: impl Fn(&str) -> NotApplicable,
    ) -> Result<(), NotApplicable> {
        use Action as A;
        match action {
            A::WorkloadStarted { container } => {
                let c = self
                    .container_mut(container)
                    .ok_or_else(|| na("no such container"))?;
                if c.up {
                    return Err(na("Pebble is already up"));
                }
                c.up = true;
                self.workload_queue.push_back(WorkloadEvent::Ready {
                    container: container.clone(),
                });
            }
            A::WorkloadStopped { container } => {
                let c = self
                    .container_mut(container)
                    .ok_or_else(|| na("no such container"))?;
                if !c.up {
                    return Err(na("Pebble is already down"));
                }
                // A restarted workload container starts a fresh Pebble: the layers the
                // charm added, and the checks they declared, are gone until it adds them
                // again.
                c.up = false;
                c.fresh_workload();
            }
            A::CustomNotice {
                container,
                key,
                notice_id,
            } => {
                let next = self.next_notice_id;
                let c = self
                    .container_mut(container)
                    .ok_or_else(|| na("no such container"))?;
                if !c.up || key.is_empty() {
                    return Err(na("Pebble is down"));
                }
                // Pebble keeps one notice per key; a repeat occurrence keeps its id.
                let expected = c.notices.get(key).copied().unwrap_or(next);
                if *notice_id != expected {
                    return Err(na("notice ids are per key, in order"));
                }
                if expected == next {
                    c.notices.insert(key.clone(), next);
                    self.next_notice_id += 1;
                }
                self.workload_queue.push_back(WorkloadEvent::Notice {
                    container: container.clone(),
                    key: key.clone(),
                    id: *notice_id,
                });
            }
            A::CheckFailed { container, check } | A::CheckRecovered { container, check } => {
                let failing = matches!(action, A::CheckFailed { .. });
                let c = self
                    .container_mut(container)
                    .ok_or_else(|| na("no such container"))?;
                match c.checks.get_mut(check) {
                    Some(f) if c.up && *f != failing => *f = failing,
                    _ => return Err(na("no such check in that state")),
                }
                let container = container.clone();
                let check = check.clone();
                self.workload_queue.push_back(if failing {
                    WorkloadEvent::CheckFailed { container, check }
                } else {
                    WorkloadEvent::CheckRecovered { container, check }
                });
            }
            // The workload's faults: no hook, only what the charm meets when it looks.
            A::ServiceExited { container, service } => {
                let c = self
                    .container_mut(container)
                    .ok_or_else(|| na("no such container"))?;
                if !c.up || !c.running.remove(service) {
                    return Err(na("no such running service"));
                }
            }
            A::WorkloadFault { container, fault } => {
                let c = self
                    .container_mut(container)
                    .ok_or_else(|| na("no such container"))?;
                if !c.possible_faults().contains(fault) {
                    return Err(na("the workload cannot take that fault now"));
                }
                c.faults.insert(*fault);
            }
            _ => unreachable!("{} is not a workload action", action.kind()),
        }
        Ok(())
    }

    /// Step 7: workload events, FIFO.
    pub(super) fn workload_candidates(&self) -> Option<Vec<Hook>> {
        let w = self.workload_queue.front()?;
        Some(vec![Hook::Workload(w.clone())])
    }
}
