//! How often the decoder lets each kind of action happen.
//!
//! At a step decision every enabled action kind is an option with its weight; a higher
//! weight gets more of the 256 byte values. The defaults favour what makes stories
//! interesting (config, relation data, Pebble coming up, errors resolved); a charm's
//! fuzzing config can override them (`[weights]`), and a zero weight turns a kind off.

use crate::engine::action::ActionKind;

/// How often each action kind is chosen relative to the others (0 = never).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weights([u32; ActionKind::ALL.len()]);

impl Default for Weights {
    fn default() -> Self {
        use ActionKind as K;
        let mut w = [1u32; ActionKind::ALL.len()];
        let set = |w: &mut [u32; ActionKind::ALL.len()], k: K, v: u32| w[k as usize] = v;
        for (k, v) in [
            (K::Deploy, 1),
            (K::Config, 6),
            (K::Trust, 1),
            (K::AddressChange, 1),
            (K::Integrate, 5),
            (K::RemoveRelation, 3),
            (K::SuspendRelation, 1),
            (K::ResumeRelation, 3),
            (K::RemoteUnitAdded, 5),
            (K::RemoteUnitRemoved, 3),
            (K::RemoteUnitData, 6),
            (K::RemoteAppData, 6),
            (K::ScaleUp, 3),
            (K::ScaleDown, 2),
            (K::LeadershipGained, 3),
            (K::LeadershipLost, 3),
            (K::LeaderSet, 2),
            (K::StorageAdded, 2),
            (K::StorageDetached, 2),
            (K::WorkloadStarted, 10),
            (K::WorkloadStopped, 2),
            (K::CustomNotice, 3),
            (K::CheckFailed, 3),
            (K::CheckRecovered, 5),
            (K::SecretGranted, 2),
            (K::SecretRevised, 3),
            (K::SecretRotateDue, 3),
            (K::SecretExpired, 2),
            (K::SecretRevisionObsolete, 2),
            (K::RunAction, 5),
            (K::Refresh, 2),
            (K::PodRecreated, 2),
            (K::CharmContainerRestarted, 2),
            (K::MachineRebooted, 2),
            (K::UpdateStatusTimer, 4),
            (K::CollectMetricsTimer, 2),
            (K::SeriesUpgradePrepare, 1),
            (K::SeriesUpgradeComplete, 10),
            (K::Resolved, 10),
            (K::RemoveUnit, 1),
            (K::RemoveApplication, 1),
            (K::DestroyModel, 1),
            (K::ForceRemoveUnit, 1),
            (K::ServiceExited, 2),
            (K::WorkloadFault, 2),
            (K::SnapRefreshFails, 2),
            (K::SnapRefreshHeld, 1),
            (K::InstallFails, 1),
            (K::HostServiceFailed, 2),
            (K::HostDiskFull, 1),
            (K::HostRecovered, 3),
        ] {
            set(&mut w, k, v);
        }
        Weights(w)
    }
}

impl Weights {
    /// Defaults overridden by the fuzzing config's `[weights]` table.
    pub fn with_overrides<'a>(
        overrides: impl IntoIterator<Item = (&'a ActionKind, &'a u32)>,
    ) -> Weights {
        let mut w = Weights::default();
        for (k, v) in overrides {
            w.0[*k as usize] = *v;
        }
        w
    }
    pub fn get(&self, k: ActionKind) -> u32 {
        self.0[k as usize]
    }
}
