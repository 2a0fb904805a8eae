//! Leadership: which unit of the application holds the lease.
//!
//! One unit of an application is its leader: it may write the application's databags and
//! owns the application's secrets. The controller grants and revokes the lease; the agent
//! runs `leader-elected` when this unit gains it, and the others learn of the leader's
//! settings through `leader-settings-changed` (juju-model.md §L2.4). Losing the lease runs no hook:
//! the unit resigns silently.

use super::{Hook, SecretRole, SeriesUpgrade, World};
use crate::engine::action::SecretOwner;
use crate::engine::action::{Action, ActionKind};

impl World {
    pub(super) fn leadership_enabled(&self, kind: ActionKind, alive: bool) -> bool {
        use ActionKind as K;
        let upgrading = self.series != SeriesUpgrade::None;
        match kind {
            K::LeadershipGained => alive && !self.leader && !upgrading,
            K::LeadershipLost => alive && self.leader && !upgrading,
            K::LeaderSet => alive && !self.leader,
            _ => unreachable!("{kind} is not a leadership action"),
        }
    }

    pub(super) fn apply_leadership(&mut self, action: &Action) {
        use Action as A;
        match action {
            A::LeadershipGained => self.leader = true,
            A::LeadershipLost => {
                self.leader = false;
                // Code reading: resigning runs no hook; the docs' reading (§L8.5) gives the
                // ex-leader a leader-settings-changed.
                self.lsc_pending = self.opts.lsc_on_leadership_loss;
                // Juju checks leadership again before running leader-elected or an
                // app-owned secret's owner hook (J-RUNHOOK): a failed one waiting for its
                // retry is skipped now.
                if self
                    .failed
                    .as_ref()
                    .is_some_and(|(h, _)| self.leader_gated(h))
                {
                    self.failed = None;
                }
            }
            A::LeaderSet => self.lsc_pending = true,
            _ => unreachable!("{} is not a leadership action", action.kind()),
        }
    }

    /// Step 6: leadership.
    pub(super) fn leadership_candidates(&self) -> Option<Vec<Hook>> {
        if self.is_dying() {
            return None;
        }
        if self.leader && !self.local_leader {
            return Some(vec![Hook::LeaderElected]);
        }
        if self.lsc_due() {
            return Some(vec![Hook::LeaderSettingsChanged]);
        }
        None
    }

    /// Hooks Juju runs only while this unit leads.
    fn leader_gated(&self, hook: &Hook) -> bool {
        match hook {
            Hook::LeaderElected => true,
            Hook::SecretRotate { id }
            | Hook::SecretExpired { id, .. }
            | Hook::SecretRemove { id, .. } => self
                .secret(id)
                .is_some_and(|s| s.role == SecretRole::Owner(SecretOwner::App)),
            _ => false,
        }
    }

    pub(super) fn lsc_due(&self) -> bool {
        self.lsc_pending && !self.local_leader && !self.leader && !self.is_dying()
    }

    /// Commit `leader-elected` or `leader-settings-changed`.
    pub(super) fn commit_leadership(&mut self, hook: &Hook) {
        match hook {
            Hook::LeaderElected => self.local_leader = true,
            Hook::LeaderSettingsChanged => self.lsc_pending = false,
            _ => unreachable!("{hook:?} is not a leadership hook"),
        }
    }

    /// Leadership resigns silently when the lease is gone or the unit is dying (J-LEAD,
    /// juju-model.md §L2.0.6): no hook runs for it.
    pub(super) fn resign_if_needed(&mut self) {
        if self.local_leader && (!self.leader || self.is_dying()) && self.in_flight.is_none() {
            self.local_leader = false;
        }
    }
}
