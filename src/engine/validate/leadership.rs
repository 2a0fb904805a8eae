//! Leadership: `leader-elected` and `leader-settings-changed`.
//!
//! One unit of an application holds the leader lease. `leader-elected` runs on the leader,
//! once per gain of the lease; `leader-settings-changed` runs on the other units when the
//! leader settings change, and never on the leader itself (§L2.15.8). A Dying unit runs
//! neither (§L2.15.14) and resigns the lease silently (§L2.12). Juju re-checks leadership
//! right before running the hooks that need it (J-RUNHOOK), so a lost lease also drops a
//! failed `leader-elected` (or app-owned secret hook) that was waiting for its retry.

use super::{Found, Rule, Validator, found};
use crate::engine::action::{Action, SecretOwner};
use crate::engine::event::{Event, HookKind};

impl Validator<'_> {
    /// The lease as `Deploy` finds it.
    pub(super) fn deploy_leadership(&mut self, leader: bool) {
        self.leader = leader;
        self.elected_pending = leader;
        // §L2.1: exactly one leader hook at startup; a leader that later loses the
        // lease still has the initial leader-settings version to catch up on.
        self.lsc_pending = true;
    }

    /// `LeadershipGained`, `LeadershipLost`, `LeaderSet`.
    pub(super) fn leadership_action(&mut self, what: &str, action: &Action) {
        match action {
            Action::LeadershipGained => {
                if !self.leader {
                    self.leader = true;
                    self.elected_pending = true;
                }
            }
            Action::LeadershipLost => {
                if self.leader {
                    self.leader = false;
                    self.elected_pending = false;
                    // §L8.5: the docs' lsc for the ex-leader; also the code's catch-up lsc.
                    self.lsc_pending = true;
                    // J-RUNHOOK: leader-elected / app-owned secret hooks are skipped at
                    // run time when no longer leader, so a failed one is not retried.
                    let drop = self
                        .failed
                        .as_ref()
                        .is_some_and(|f| self.needs_leadership(&f.event));
                    if drop {
                        self.failed = None;
                    }
                }
            }
            Action::LeaderSet => self.lsc_pending = true,
            _ => unreachable!("{what} is not a leadership action"),
        }
    }

    /// Hooks Juju re-checks leadership for right before running them (J-RUNHOOK).
    fn needs_leadership(&self, ev: &Event) -> bool {
        match ev.kind {
            HookKind::LeaderElected => true,
            HookKind::SecretRotate | HookKind::SecretExpired | HookKind::SecretRemove => ev
                .env("JUJU_SECRET_ID")
                .and_then(|id| self.owned.get(id))
                .is_some_and(|o| *o == SecretOwner::App),
            _ => false,
        }
    }

    pub(super) fn check_leadership(&self, ev: &Event) -> Option<Found> {
        match ev.kind {
            HookKind::LeaderElected => {
                // §L2.15.8: only on the leader, once per gain.
                if !self.leader {
                    found(Rule::Leadership, "leader-elected on a non-leader")
                } else if !self.elected_pending {
                    found(Rule::Leadership, "leader-elected twice for one gain")
                } else {
                    None
                }
            }
            HookKind::LeaderSettingsChanged => {
                if self.leader {
                    found(Rule::Leadership, "leader-settings-changed on the leader")
                } else if !self.lsc_pending {
                    found(Rule::Unprompted, "leader-settings-changed without a cause")
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    pub(super) fn commit_leadership(&mut self, ev: &Event) {
        match ev.kind {
            HookKind::LeaderElected => self.elected_pending = false,
            HookKind::LeaderSettingsChanged => self.lsc_pending = false,
            _ => {}
        }
    }
}
