//! Config and trust, and the two timers: the hooks a plain remote-state prompt asks for.
//!
//! `juju config`, `juju trust` and a change of the unit's address all reach the charm the
//! same way: the config hash Juju watches changes, so one `config-changed` runs (§L2.5),
//! however many changes came meanwhile. `update-status` (§L2.7, never before the first
//! `start`) and `collect-metrics` (§L1.3: machine charms with metrics, before Juju 3.6.11)
//! are the same shape on a timer. Each is a pending flag that an action sets and the one
//! hook clears, with no identity of its own; that is why the timers sit here rather than
//! in a family of their own. The first `config-changed` also queues the first `start`
//! (§L2.15.12).

use super::{Found, Rule, Validator, found};
use crate::engine::action::Action;
use crate::engine::event::{Event, HookKind};

impl Validator<'_> {
    /// `Config`, `Trust`, `AddressChange` and the two timers.
    pub(super) fn config_action(&mut self, what: &str, action: &Action) {
        match action {
            Action::Config { .. } | Action::Trust { .. } | Action::AddressChange => {
                self.config_pending = true;
            }
            Action::UpdateStatusTimer => self.update_status_pending = true,
            Action::CollectMetricsTimer => self.metrics_pending = true,
            _ => unreachable!("{what} is not a config or timer action"),
        }
    }

    pub(super) fn check_config(&self, ev: &Event) -> Option<Found> {
        use HookKind as K;
        match ev.kind {
            K::ConfigChanged => {
                if !self.config_pending {
                    return found(Rule::Unprompted, "config-changed without a change");
                }
                None
            }
            K::UpdateStatus => {
                if !self.update_status_pending {
                    return found(Rule::Unprompted, "update-status without the timer");
                }
                // §L2.7: never before the first start.
                if !self.ever_started {
                    return found(Rule::BeforeStart, "update-status before the first start");
                }
                None
            }
            K::CollectMetrics => {
                // §L1.3: machine charms with metrics, before 3.6.11.
                if self.k8s || !self.spec.has_metrics || !self.version.has_collect_metrics() {
                    return found(
                        Rule::Catalogue,
                        "collect-metrics needs a machine charm with metrics on Juju < 3.6.11",
                    );
                }
                if !self.metrics_pending {
                    return found(Rule::Unprompted, "collect-metrics without the timer");
                }
                None
            }
            _ => None,
        }
    }

    pub(super) fn commit_config(&mut self, ev: &Event, charm_effects: bool) {
        use HookKind as K;
        match ev.kind {
            K::ConfigChanged => {
                self.config_pending = false;
                if !self.ever_started {
                    self.first_start_queued = true;
                    if charm_effects {
                        self.queued = Some(K::Start);
                    }
                }
            }
            K::UpdateStatus => self.update_status_pending = false,
            K::CollectMetrics => self.metrics_pending = false,
            _ => {}
        }
    }
}
