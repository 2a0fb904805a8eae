//! Upgrades: `upgrade-charm` after a refresh, and the machine series upgrade.
//!
//! `juju refresh` gives the unit a new charm: `upgrade-charm` runs, followed at once by
//! its `config-changed` (§L2.6, §L2.15.12); on Kubernetes the refresh replaces the pod, so it
//! also brings the pod churn of `churn`. A machine's series (base) upgrade is a bracket:
//! `juju upgrade-machine … prepare` asks for `pre-series-upgrade`, `… complete` for
//! `post-series-upgrade`, and between the two no other hook runs (§L2.15.13). Neither exists
//! on Kubernetes (§L1.3).

use super::{Found, Rule, Validator, found};
use crate::engine::action::Action;
use crate::engine::event::{Event, HookKind};

impl Validator<'_> {
    /// `Refresh`, `SeriesUpgradePrepare`, `SeriesUpgradeComplete`.
    pub(super) fn upgrade_action(&mut self, step: usize, what: &str, action: &Action) {
        match action {
            Action::Refresh => {
                if self.k8s {
                    // §L2.6: on K8s the refresh replaces the pod.
                    self.churn(true);
                } else {
                    self.upgrade_pending = true;
                }
            }
            Action::SeriesUpgradePrepare { target_base } => {
                if self.k8s {
                    self.report(step, None, what, Rule::ActionShape, "machine-only action");
                }
                self.series_prepare = Some(target_base.clone());
            }
            Action::SeriesUpgradeComplete => {
                if self.k8s {
                    self.report(step, None, what, Rule::ActionShape, "machine-only action");
                }
                self.series_complete = true;
            }
            _ => unreachable!("{what} is not an upgrade action"),
        }
    }

    /// §L2.15.13: after pre-series-upgrade nothing until post-series-upgrade.
    pub(super) fn during_series_upgrade(&self, ev: &Event) -> Option<Found> {
        if self.series_active && ev.kind != HookKind::PostSeriesUpgrade {
            return found(Rule::SeriesUpgrade, "event during a series upgrade");
        }
        None
    }

    pub(super) fn check_upgrade(&self, ev: &Event) -> Option<Found> {
        use HookKind as K;
        let kind = ev.kind;
        match kind {
            K::UpgradeCharm => {
                if !self.upgrade_pending {
                    return found(Rule::Unprompted, "upgrade-charm without a refresh");
                }
                None
            }
            K::PreSeriesUpgrade | K::PostSeriesUpgrade => {
                if self.k8s {
                    return found(Rule::Catalogue, format!("{} on Kubernetes", ev.hook));
                }
                if kind == K::PreSeriesUpgrade {
                    if self.series_prepare.is_none() {
                        return found(Rule::Unprompted, "pre-series-upgrade without prepare");
                    }
                } else if !self.series_active {
                    return found(
                        Rule::SeriesUpgrade,
                        "post-series-upgrade without pre-series-upgrade",
                    );
                } else if !self.series_complete {
                    return found(Rule::Unprompted, "post-series-upgrade without complete");
                }
                None
            }
            _ => None,
        }
    }

    pub(super) fn commit_upgrade(&mut self, ev: &Event, charm_effects: bool) {
        use HookKind as K;
        match ev.kind {
            K::UpgradeCharm => {
                self.upgrade_pending = false;
                self.churn_upgrade = false;
                self.config_pending = true;
                // §L2.6: the loop restarts after an upgrade: lsc on non-leaders.
                self.lsc_pending = true;
                if charm_effects {
                    self.queued = Some(K::ConfigChanged);
                }
            }
            K::PreSeriesUpgrade => {
                self.series_prepare = None;
                self.series_active = true;
                self.series_complete = false;
            }
            K::PostSeriesUpgrade => {
                self.series_active = false;
                self.series_complete = false;
            }
            _ => {}
        }
    }
}
