//! The host: a machine charm's machine, and what goes wrong with it.
//!
//! A machine charm installs its workload as a snap or a package and drives its services
//! through systemd. The machine has a life of its own that no hook announces: the snap
//! store fails a refresh, or holds it back; the store or the package archive is
//! unreachable and installs fail; a service dies (a crash, the OOM killer); the disk fills.
//! Juju tells the charm none of it. The charm meets it the next time it refreshes,
//! installs, looks at its services or writes, and that is where charms break. These
//! actions give no hook, like the workload's faults on Kubernetes (`workloads`).
//!
//! Which snaps are installed and which services run comes from the target, which reports
//! the machine after each hook ([`Effect::HostChanged`]): a refresh fault can only hit a
//! snap that is there, and only a running service can die. The store, archive and disk
//! faults last until [`Action::HostRecovered`]; a reboot brings services back as their
//! enablement says, so which run is unknown until the next report.
//!
//! [`Effect::HostChanged`]: crate::engine::action::Effect::HostChanged

use super::{NotApplicable, World};
use crate::engine::action::{Action, ActionKind};
use std::collections::BTreeSet;

/// A machine as the engine knows it: what the target last reported, and the faults in
/// force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// Snaps installed.
    pub snaps: BTreeSet<String>,
    /// systemd services active.
    pub services: BTreeSet<String>,
    /// Snaps whose refreshes fail.
    pub refresh_fails: BTreeSet<String>,
    /// Snaps whose refreshes the store holds back.
    pub refresh_held: BTreeSet<String>,
    /// Installs fail.
    pub install_fails: bool,
    /// The disk is full.
    pub disk_full: bool,
}

impl Host {
    /// Installed snaps that a refresh fault could hit now (one fault per snap at a time:
    /// a held refresh never reaches the download that fails).
    pub fn refreshable(&self) -> Vec<String> {
        (self.snaps.iter())
            .filter(|s| !self.refresh_fails.contains(*s) && !self.refresh_held.contains(*s))
            .cloned()
            .collect()
    }

    /// Some fault is in force, so the host can recover.
    pub fn faulty(&self) -> bool {
        !self.refresh_fails.is_empty()
            || !self.refresh_held.is_empty()
            || self.install_fails
            || self.disk_full
    }

    /// The machine rebooted: services run as their enablement says, which only the
    /// machine knows; the next report tells.
    pub(super) fn rebooted(&mut self) {
        self.services.clear();
    }
}

impl World {
    pub(super) fn host_enabled(&self, kind: ActionKind) -> bool {
        use ActionKind as K;
        if self.is_kubernetes() || !self.opts.workload_faults {
            return false;
        }
        let h = &self.host;
        match kind {
            K::SnapRefreshFails | K::SnapRefreshHeld => !h.refreshable().is_empty(),
            K::InstallFails => !h.install_fails,
            K::HostServiceFailed => !h.services.is_empty(),
            K::HostDiskFull => !h.disk_full,
            K::HostRecovered => h.faulty(),
            _ => unreachable!("{kind} is not a host action"),
        }
    }

    pub(super) fn apply_host(
        &mut self,
        action: &Action,
        na: impl Fn(&str) -> NotApplicable,
    ) -> Result<(), NotApplicable> {
        use Action as A;
        let h = &mut self.host;
        match action {
            A::SnapRefreshFails { snap } | A::SnapRefreshHeld { snap } => {
                if !h.refreshable().contains(snap) {
                    return Err(na(
                        "the snap is not installed, or already has a refresh fault",
                    ));
                }
                if matches!(action, A::SnapRefreshFails { .. }) {
                    h.refresh_fails.insert(snap.clone());
                } else {
                    h.refresh_held.insert(snap.clone());
                }
            }
            A::InstallFails => h.install_fails = true,
            A::HostServiceFailed { service } => {
                if !h.services.remove(service) {
                    return Err(na("the service is not running"));
                }
            }
            A::HostDiskFull => h.disk_full = true,
            A::HostRecovered => {
                h.refresh_fails.clear();
                h.refresh_held.clear();
                h.install_fails = false;
                h.disk_full = false;
            }
            _ => unreachable!("{} is not a host action", action.kind()),
        }
        Ok(())
    }
}
