//! The host: a machine charm's machine and its faults.
//!
//! The host's faults (a snap refresh that fails or is held back, installs that fail, a
//! service that dies, a full disk) give no hook, so the rules are about the actions alone:
//! machine charms only, behind the workload-faults switch, and each must be one the
//! machine could take on then. A refresh fault needs an installed snap without one; a
//! service can die only while it runs; a fault in force cannot start again, and the host
//! recovers only from a fault. What is installed and running comes from the target's
//! reports ([`Effect::HostChanged`]); a reboot leaves which services run unknown until the
//! next report.

use super::{Rule, Validator};
use crate::engine::action::{Action, Effect};
use std::collections::BTreeSet;

/// What the validator knows of the machine.
#[derive(Debug, Default)]
pub(super) struct HostSeen {
    snaps: BTreeSet<String>,
    services: BTreeSet<String>,
    /// `(snap, held)`: a refresh fault in force on the snap.
    refresh: BTreeSet<(String, bool)>,
    install_fails: bool,
    disk_full: bool,
}

impl Validator<'_> {
    /// `SnapRefreshFails`, `SnapRefreshHeld`, `InstallFails`, `HostServiceFailed`,
    /// `HostDiskFull`, `HostRecovered`.
    pub(super) fn host_action(&mut self, step: usize, what: &str, action: &Action) {
        if self.k8s || !self.opts.workload_faults {
            let msg = "host faults are for machine charms with workload faults on";
            self.report(step, None, what, Rule::ActionShape, msg);
            return;
        }
        let h = &mut self.host;
        let problem =
            match action {
                Action::SnapRefreshFails { snap } | Action::SnapRefreshHeld { snap } => {
                    let held = matches!(action, Action::SnapRefreshHeld { .. });
                    if !h.snaps.contains(snap) {
                        Some(format!("snap {snap:?} is not installed"))
                    } else if h.refresh.iter().any(|(s, _)| s == snap) {
                        Some(format!("snap {snap:?} already has a refresh fault"))
                    } else {
                        h.refresh.insert((snap.clone(), held));
                        None
                    }
                }
                Action::InstallFails => std::mem::replace(&mut h.install_fails, true)
                    .then(|| "installs already fail".into()),
                Action::HostDiskFull => std::mem::replace(&mut h.disk_full, true)
                    .then(|| "the disk is already full".into()),
                Action::HostServiceFailed { service } => (!h.services.remove(service))
                    .then(|| format!("service {service:?} is not running")),
                Action::HostRecovered => {
                    let faulty = !h.refresh.is_empty() || h.install_fails || h.disk_full;
                    h.refresh.clear();
                    h.install_fails = false;
                    h.disk_full = false;
                    (!faulty).then(|| "no host fault to recover from".into())
                }
                _ => unreachable!("{what} is not a host action"),
            };
        if let Some(msg) = problem {
            self.report(step, None, what, Rule::ActionShape, msg);
        }
    }

    /// The machine rebooted: which services run is unknown until the next report.
    pub(super) fn host_rebooted(&mut self) {
        self.host.services.clear();
    }

    /// What the target reports the machine has after a hook.
    pub(super) fn host_effect(&mut self, effect: &Effect) {
        if let Effect::HostChanged { snaps, services } = effect {
            self.host.snaps = snaps.iter().cloned().collect();
            self.host.services = services.iter().cloned().collect();
        }
    }
}
