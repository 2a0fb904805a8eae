//! Churn: the unit agent restarts under the charm.
//!
//! On Kubernetes the unit's pod can be recreated (its charm directory and unit state are
//! gone: the new agent runs `upgrade-charm` first), or only its charm container restarted;
//! either way the old agent runs `stop` while it terminates, and the new one `start`, with
//! `pebble-ready` from every container's fresh Pebble. A machine reboots, and its agent runs
//! `start` again. Each restart also resets the agent's in-memory state (juju-model.md §L2.0 *mem*).

use super::{Hook, WorkloadEvent, World};
use crate::engine::action::{Action, ActionKind};
use crate::engine::world::SeriesUpgrade;

/// Which restart a shutdown leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Restart {
    /// The pod is replaced: charm dir and unit state are gone.
    Pod,
    /// Only the charm container restarts.
    CharmContainer,
}

impl World {
    pub(super) fn churn_enabled(&self, kind: ActionKind, alive: bool) -> bool {
        use ActionKind as K;
        let k8s = self.is_kubernetes();
        match kind {
            K::PodRecreated | K::CharmContainerRestarted => {
                k8s && alive && self.installed && self.shutdown.is_none() && self.queued.is_none()
            }
            K::MachineRebooted => !k8s && alive && self.installed,
            _ => unreachable!("{kind} is not a churn action"),
        }
    }

    pub(super) fn apply_churn(&mut self, action: &Action) {
        use Action as A;
        match action {
            A::PodRecreated => self.begin_shutdown(Restart::Pod),
            A::CharmContainerRestarted => self.begin_shutdown(Restart::CharmContainer),
            A::MachineRebooted => {
                // A reboot during a series upgrade runs no start (juju-model.md §L2.13).
                if self.series == SeriesUpgrade::None {
                    self.restart_pending = self.started;
                }
                self.host.rebooted();
                self.loop_restart();
            }
            _ => unreachable!("{} is not a churn action", action.kind()),
        }
    }

    pub(super) fn begin_shutdown(&mut self, restart: Restart) {
        // Shutdown: queued hooks are abandoned (juju-model.md §L2.0.12); deferred events and
        // unit state go with a replaced pod (the target wipes them).
        self.queued = None;
        // A failed hook is not retried in the new agent (the validator's reading, with
        // churn as a fresh start of the unit agent).
        self.failed = None;
        self.shutdown = Some(restart);
        self.workload_queue.clear();
        for c in &mut self.containers {
            c.up = false;
            c.fresh_workload();
        }
        if !self.started || self.stopped {
            self.finish_shutdown();
        }
    }

    /// The new agent starts (new pod, or restarted charm container).
    pub(super) fn finish_shutdown(&mut self) {
        let Some(restart) = self.shutdown.take() else {
            return;
        };
        if restart == Restart::Pod && self.installed {
            // The charm directory is gone: the agent redeploys the charm and runs
            // upgrade-charm first (J-LOOP, PR 13003).
            self.pod_upgrade_pending = true;
        }
        // Every K8s agent start counts as a restart (J-REBOOT).
        self.restart_pending = self.started;
        self.loop_restart();
        // Pebble in every container comes up with a new boot id: pebble-ready each.
        for c in &mut self.containers {
            c.up = true;
            self.workload_queue.push_back(WorkloadEvent::Ready {
                container: c.name.clone(),
            });
        }
    }

    /// The resolver loop restarted: the in-memory versions reset (juju-model.md §L2.0 *mem*).
    pub(super) fn loop_restart(&mut self) {
        self.lsc_pending = true;
        self.update_status_pending = false;
    }

    /// A pod or charm container being replaced, and the new agent's first hook.
    pub(super) fn shutdown_candidates(&self) -> Option<Vec<Hook>> {
        // K8s Shutdown: the terminating agent runs `stop` and nothing else.
        if self.shutdown.is_some() {
            return Some(vec![Hook::Stop]);
        }
        // Step 4 (K8s pod churn): the redeployed charm runs upgrade-charm first.
        if self.pod_upgrade_pending {
            return Some(vec![Hook::UpgradeCharm]);
        }
        None
    }

    /// Step 3: reboot / agent restart → start.
    pub(super) fn restart_candidates(&self) -> Option<Vec<Hook>> {
        if !(self.restart_pending && self.started) {
            return None;
        }
        let mut out = vec![Hook::Start];
        // §L8.4: the docs put leader-settings-changed before start after churn.
        if self.opts.lsc_before_start_after_churn && self.lsc_due() {
            out.push(Hook::LeaderSettingsChanged);
        }
        Some(out)
    }
}
