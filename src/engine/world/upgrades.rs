//! Upgrades: a new revision of the charm (`juju refresh`) and a machine's series upgrade.
//!
//! `juju refresh` replaces the charm's code: on a machine the agent runs `upgrade-charm`
//! (then `config-changed`); on Kubernetes the pod is replaced, as in pod churn. A machine's
//! operating system is upgraded in two user steps (juju-model.md §L2.13): `prepare` runs
//! `pre-series-upgrade`, after which the unit runs no hooks at all until `complete` runs
//! `post-series-upgrade`.

use super::churn::Restart;
use super::{Hook, NotApplicable, World};
use crate::engine::action::{Action, ActionKind};

/// The state of a machine series upgrade (juju-model.md §L2.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeriesUpgrade {
    None,
    /// `prepare` ran; `pre-series-upgrade` is due.
    PrepareRequested {
        target_base: String,
    },
    /// `pre-series-upgrade` ran: no hooks at all until `complete`.
    Upgrading,
    /// `complete` ran; `post-series-upgrade` is due.
    CompleteRequested,
}

impl World {
    pub(super) fn upgrades_enabled(&self, kind: ActionKind, alive: bool) -> bool {
        use ActionKind as K;
        let k8s = self.is_kubernetes();
        let upgrading = self.series != SeriesUpgrade::None;
        match kind {
            // Not inside a queued pair (§L2.15.12): the pair finishes first.
            K::Refresh => {
                alive
                    && self.installed
                    && !upgrading
                    && self.shutdown.is_none()
                    && self.queued.is_none()
            }
            K::SeriesUpgradePrepare => !k8s && alive && self.started && !upgrading,
            K::SeriesUpgradeComplete => self.series == SeriesUpgrade::Upgrading,
            _ => unreachable!("{kind} is not an upgrade action"),
        }
    }

    pub(super) fn apply_upgrades(
        &mut self,
        action: &Action,
        na: impl Fn(&str) -> NotApplicable,
    ) -> Result<(), NotApplicable> {
        use Action as A;
        match action {
            A::Refresh => {
                if self.is_kubernetes() {
                    self.begin_shutdown(Restart::Pod);
                } else {
                    self.upgrade_pending = true;
                }
            }
            A::SeriesUpgradePrepare { target_base } => {
                if series_for_base(target_base).is_none() {
                    return Err(na("unknown base"));
                }
                self.series = SeriesUpgrade::PrepareRequested {
                    target_base: target_base.clone(),
                };
            }
            A::SeriesUpgradeComplete => self.series = SeriesUpgrade::CompleteRequested,
            _ => unreachable!("{} is not an upgrade action", action.kind()),
        }
        Ok(())
    }

    /// Step 2: series upgrade (machine).
    pub(super) fn series_candidates(&self) -> Option<Vec<Hook>> {
        match &self.series {
            SeriesUpgrade::PrepareRequested { target_base } if self.queued.is_none() => {
                Some(vec![Hook::PreSeriesUpgrade {
                    target_base: target_base.clone(),
                }])
            }
            SeriesUpgrade::Upgrading => Some(Vec::new()),
            SeriesUpgrade::CompleteRequested => Some(vec![Hook::PostSeriesUpgrade]),
            _ => None,
        }
    }

    /// Commit `upgrade-charm`, `pre-series-upgrade` or `post-series-upgrade`.
    pub(super) fn commit_upgrade(&mut self, hook: &Hook) {
        match hook {
            Hook::UpgradeCharm => {
                self.pod_upgrade_pending = false;
                self.upgrade_pending = false;
                self.queued = Some(Hook::ConfigChanged);
                self.loop_restart();
            }
            Hook::PreSeriesUpgrade { .. } => self.series = SeriesUpgrade::Upgrading,
            Hook::PostSeriesUpgrade => self.series = SeriesUpgrade::None,
            _ => unreachable!("{hook:?} is not an upgrade hook"),
        }
    }
}

/// The Ubuntu series name for a base (`ubuntu@22.04` → `jammy`), for `JUJU_TARGET_SERIES`.
pub fn series_for_base(base: &str) -> Option<&'static str> {
    Some(match base {
        "ubuntu@20.04" => "focal",
        "ubuntu@22.04" => "jammy",
        "ubuntu@24.04" => "noble",
        _ => return None,
    })
}
