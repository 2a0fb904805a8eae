//! Pod and machine churn: the unit's agent restarts under it.
//!
//! On Kubernetes the unit's pod can be recreated (a K8s refresh does this too), or just its
//! charm container restarted; a machine can reboot (§L2.13). The unit lives on, but its agent
//! starts afresh: on Kubernetes a started unit is stopped by the pod shutdown (queued hooks,
//! even a failed one, are abandoned); then the agent runs `start` again, catches up on
//! leader settings, may re-run `config-changed` (§L2.5 [M]) and sees every container's
//! Pebble come up. A recreated pod has also lost its charm directory, so it runs
//! `upgrade-charm` at agent start (J-LOOP).

use super::{Rule, Validator};
use crate::engine::action::Action;

impl Validator<'_> {
    /// K8s pod termination (§L2.13): queued hooks are abandoned (a failed hook too: the
    /// Shutdown branch runs before hook-error handling, §L2.0.12), `stop` if started;
    /// the new pod/agent then runs `start` (reboot resolver), lsc, pebble-ready.
    pub(super) fn churn(&mut self, upgrade: bool) {
        self.shutdown_pending = self.running;
        self.queued = None;
        self.failed = None;
        self.restart_pending = true;
        if upgrade {
            self.upgrade_pending = true;
            self.churn_upgrade = true;
        }
        // §L2.5: config-changed on agent restart is optional [M].
        self.config_pending = true;
        self.lsc_pending = true;
        self.all_containers_ready();
    }

    /// `PodRecreated`, `CharmContainerRestarted`, `MachineRebooted`.
    pub(super) fn churn_action(&mut self, step: usize, what: &str, action: &Action) {
        match action {
            Action::PodRecreated | Action::CharmContainerRestarted => {
                if !self.k8s {
                    self.report(
                        step,
                        None,
                        what,
                        Rule::ActionShape,
                        "Kubernetes-only action",
                    );
                }
                self.churn(matches!(action, Action::PodRecreated));
            }
            Action::MachineRebooted => {
                // §L2.13: start (if started), lsc, config-changed if the address changed.
                self.restart_pending = true;
                self.config_pending = true;
                self.lsc_pending = true;
                self.all_containers_ready();
                self.host_rebooted();
            }
            _ => unreachable!("{what} is not a churn action"),
        }
    }
}
