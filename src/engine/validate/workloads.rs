//! Workloads: the containers of a Kubernetes charm, their Pebble, and workload faults.
//!
//! On Kubernetes each declared container runs Pebble, which tells the charm about its
//! workload: `<container>-pebble-ready` when Pebble (re)starts, `pebble-custom-notice` for a
//! notice the workload records (Juju 3.4+), `pebble-check-failed`/`-recovered` for a health
//! check (Juju 3.6+) (§L2.15.10, §L2.9). Each such hook needs the workload event that asks for
//! it. A new pod or agent brings every container up without an action of its own.
//!
//! The workload's faults (a running service exits; exec fails, Pebble's API errors or
//! hangs, the disk fills) give no hook: each must be one the workload could take on then.
//! The services running in each container come from the charm's own reports
//! ([`Effect::ServicesRunning`]); a container whose Pebble goes down or comes up anew has a
//! fresh workload.

use super::{Found, Rule, Validator, found};
use crate::engine::action::{Action, Effect};
use crate::engine::event::{Event, HookKind};

impl Validator<'_> {
    pub(super) fn all_containers_ready(&mut self) {
        if self.k8s {
            for c in &self.spec.containers {
                *self.pebble_ready.entry(c.name.clone()).or_default() += 1;
                self.pebble_up.insert(c.name.clone());
            }
            self.services_running.clear();
            self.workload_faults.clear();
        }
    }

    /// A container's Pebble went down or came up anew: a fresh workload.
    fn fresh_workload(&mut self, container: &str, up: bool) {
        if up {
            self.pebble_up.insert(container.to_string());
        } else {
            self.pebble_up.remove(container);
        }
        self.services_running.remove(container);
        self.workload_faults.retain(|(c, _)| c != container);
    }

    /// The workload actions: Pebble up/down, faults, notices, checks.
    pub(super) fn workload_action(&mut self, step: usize, what: &str, action: &Action) {
        match action {
            Action::WorkloadStarted { container } => {
                *self.pebble_ready.entry(container.clone()).or_default() += 1;
                self.fresh_workload(container, true);
            }
            Action::WorkloadStopped { container } => self.fresh_workload(container, false),
            // The workload's faults give no hook: each must be one the workload could
            // take on then (a running service exits; a fault not already there).
            Action::ServiceExited { container, service } => {
                let running = self.services_running.get_mut(container);
                if !self.pebble_up.contains(container)
                    || !running.is_some_and(|r| r.remove(service))
                {
                    let msg = format!("service {service:?} is not running in {container:?}");
                    self.report(step, None, what, Rule::ActionShape, msg);
                }
            }
            Action::WorkloadFault { container, fault } => {
                if !self.pebble_up.contains(container)
                    || !self.workload_faults.insert((container.clone(), *fault))
                {
                    let msg = format!(
                        "{container:?} cannot take on {} now (Pebble down, or already)",
                        fault.as_str()
                    );
                    self.report(step, None, what, Rule::ActionShape, msg);
                }
            }
            Action::CustomNotice {
                container,
                key,
                notice_id,
            } => self
                .notices
                .push((container.clone(), key.clone(), notice_id.to_string())),
            Action::CheckFailed { container, check } => {
                *self
                    .checks_failed
                    .entry((container.clone(), check.clone()))
                    .or_default() += 1;
            }
            Action::CheckRecovered { container, check } => {
                *self
                    .checks_recovered
                    .entry((container.clone(), check.clone()))
                    .or_default() += 1;
            }
            _ => unreachable!("{what} is not a workload action"),
        }
    }

    /// A pebble-ready says its container's Pebble was up (a new agent brings every
    /// container up without an action of its own).
    pub(super) fn pebble_ready_seen(&mut self, ev: &Event) {
        if ev.kind == HookKind::PebbleReady
            && let Some(c) = ev.env("JUJU_WORKLOAD_NAME")
        {
            self.pebble_up.insert(c.to_string());
        }
    }

    pub(super) fn check_workload(&self, ev: &Event) -> Option<Found> {
        use HookKind as K;
        let container = ev.env("JUJU_WORKLOAD_NAME")?;
        // §L2.15.10: declared containers, Kubernetes only, version-gated kinds.
        if !self.k8s {
            return found(Rule::Workload, "workload event on a machine charm");
        }
        if self.spec.container(container).is_none() {
            return found(
                Rule::Workload,
                format!("container {container:?} is not in metadata"),
            );
        }
        match ev.kind {
            K::PebbleCustomNotice if !self.version.has_custom_notices() => {
                return found(
                    Rule::Workload,
                    format!("custom notices need Juju 3.4, trace is {}", self.version),
                );
            }
            K::PebbleCheckFailed | K::PebbleCheckRecovered if !self.version.has_check_events() => {
                return found(
                    Rule::Workload,
                    format!("check events need Juju 3.6, trace is {}", self.version),
                );
            }
            _ => {}
        }
        let pending = match ev.kind {
            K::PebbleReady => self.pebble_ready.get(container).copied().unwrap_or(0) > 0,
            K::PebbleCustomNotice => {
                let key = ev.env("JUJU_NOTICE_KEY").unwrap_or("");
                let nid = ev.env("JUJU_NOTICE_ID").unwrap_or("");
                self.notices
                    .iter()
                    .any(|(c, k, i)| c == container && k == key && i == nid)
            }
            K::PebbleCheckFailed | K::PebbleCheckRecovered => {
                let check = ev.env("JUJU_PEBBLE_CHECK_NAME").unwrap_or("");
                let map = if ev.kind == K::PebbleCheckFailed {
                    &self.checks_failed
                } else {
                    &self.checks_recovered
                };
                map.get(&(container.to_string(), check.to_string()))
                    .copied()
                    .unwrap_or(0)
                    > 0
            }
            _ => true,
        };
        if !pending {
            return found(
                Rule::Unprompted,
                format!("{} without a matching workload action", ev.hook),
            );
        }
        None
    }

    pub(super) fn commit_workload(&mut self, ev: &Event) {
        use HookKind as K;
        match ev.kind {
            K::PebbleReady => {
                if let Some(c) = ev.env("JUJU_WORKLOAD_NAME")
                    && let Some(n) = self.pebble_ready.get_mut(c)
                {
                    *n = n.saturating_sub(1);
                }
            }
            K::PebbleCustomNotice => {
                let c = ev.env("JUJU_WORKLOAD_NAME").unwrap_or("");
                let k = ev.env("JUJU_NOTICE_KEY").unwrap_or("");
                let i = ev.env("JUJU_NOTICE_ID").unwrap_or("");
                if let Some(pos) = self
                    .notices
                    .iter()
                    .position(|(nc, nk, ni)| nc == c && nk == k && ni == i)
                {
                    self.notices.remove(pos);
                }
            }
            K::PebbleCheckFailed | K::PebbleCheckRecovered => {
                let key = (
                    ev.env("JUJU_WORKLOAD_NAME").unwrap_or("").to_string(),
                    ev.env("JUJU_PEBBLE_CHECK_NAME").unwrap_or("").to_string(),
                );
                let map = if ev.kind == K::PebbleCheckFailed {
                    &mut self.checks_failed
                } else {
                    &mut self.checks_recovered
                };
                if let Some(n) = map.get_mut(&key) {
                    *n = n.saturating_sub(1);
                }
            }
            _ => {}
        }
    }

    /// The services the charm reports running (only while the container's Pebble is up).
    pub(super) fn workload_effect(&mut self, effect: &Effect) {
        if let Effect::ServicesRunning {
            container,
            services,
        } = effect
            && self.pebble_up.contains(container)
        {
            let set = services.iter().cloned().collect();
            self.services_running.insert(container.clone(), set);
        }
    }
}
