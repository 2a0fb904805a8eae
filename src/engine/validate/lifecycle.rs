//! The unit's own lifecycle: deploy, install, start, stop, remove, and hook errors.
//!
//! A unit comes into being with `juju deploy`/`add-unit` (§L2.1): it installs once, runs the
//! first `config-changed`, then starts; it starts again only after a restart or reboot, and
//! stops only when started — for a K8s pod shutdown while Alive, or at the end of a Dying
//! unit's teardown, after its storage is detached and its relations are broken (§L2.12).
//! Once `remove` ran nothing more happens to it (§L2.15.1). Some hooks come as adjacent
//! *queued pairs* (§L2.15.12: the first `config-changed` → `start`, `upgrade-charm` →
//! `config-changed`), and a Dying unit runs none of the hooks of an Alive one (§L2.15.14).
//!
//! A hook that fails puts the unit in error: Juju then runs only actions until the same
//! hook, with the same environment, is retried (§L2.14); `juju resolved --no-retry` commits
//! it as if it had run.
//!
//! Here: the trace envelope and `Deploy` (§L2.1), the removal and `Resolved` actions, the
//! retry check, the gates every hook passes first (after remove, queued pair, before
//! install, while Dying), the checks and commits of install/start/stop/remove, and the
//! teardown order before stop/remove.

use super::{DyingCause, Failed, Found, Rule, Validator, found, unit_of};
use crate::engine::action::Action;
use crate::engine::event::{Event, HookKind, HookResult};
use crate::engine::trace::TRACE_FORMAT;
use std::collections::BTreeMap;

impl Validator<'_> {
    /// §L2.1: the envelope names this charm, its substrate and a unit of it, and the story
    /// starts with its `Deploy`.
    pub(super) fn check_envelope(&mut self) {
        let trace = self.trace;
        let first = trace
            .steps
            .first()
            .map(|s| s.action.kind().as_str())
            .unwrap_or("trace");
        if trace.format != TRACE_FORMAT {
            let msg = format!("trace format {} (expected {TRACE_FORMAT})", trace.format);
            self.report(0, None, first, Rule::TraceShape, msg);
        }
        if trace.charm != self.spec.name {
            let msg = format!(
                "trace is for charm {:?}, spec is {:?}",
                trace.charm, self.spec.name
            );
            self.report(0, None, first, Rule::TraceShape, msg);
        }
        if trace.substrate != self.spec.substrate {
            let msg = format!(
                "trace substrate {:?} but the charm is {:?}",
                trace.substrate, self.spec.substrate
            );
            self.report(0, None, first, Rule::TraceShape, msg);
        }
        if !unit_of(&trace.unit, &self.app) {
            let msg = format!("unit {:?} is not <{}>/<n>", trace.unit, self.app);
            self.report(0, None, first, Rule::TraceShape, msg);
        }
        match trace.steps.first() {
            // An empty story (the fuzzer's empty input): nothing happened, nothing is wrong.
            None => {}
            Some(s) if !matches!(s.action, Action::Deploy { .. }) => {
                let msg = format!("first step is {}, not deploy", s.action.kind());
                self.report(0, None, first, Rule::TraceShape, msg);
            }
            _ => {}
        }
    }

    /// `Deploy`, `Resolved` and the removals (unit, application, model, forced).
    pub(super) fn lifecycle_action(&mut self, step: usize, what: &str, action: &Action) {
        match action {
            Action::Deploy {
                unit,
                leader,
                peers,
                relations,
                storage,
            } => {
                if self.deployed {
                    self.report(step, None, what, Rule::TraceShape, "second deploy");
                    return;
                }
                self.deployed = true;
                if *unit != self.unit {
                    let msg = format!("deploy of {unit:?} but the trace is for {:?}", self.unit);
                    self.report(step, None, what, Rule::TraceShape, msg);
                }
                self.deploy_leadership(*leader);
                self.deploy_relations(step, what, peers, relations);
                for s in storage {
                    self.add_storage(step, what, s, true);
                }
                self.all_containers_ready();
            }
            Action::Resolved { retry } => {
                if !retry && let Some(f) = self.failed.take() {
                    // §L2.14: `resolved --no-retry` commits the hook as if it had run (but
                    // not the charm's own effects), without queueing adjacent follow-ups.
                    self.commit(&f.event, false);
                    self.queued = None;
                }
            }
            Action::RemoveUnit
            | Action::RemoveApplication
            | Action::DestroyModel
            | Action::ForceRemoveUnit => {
                if self.dying.is_none() {
                    self.dying = Some(DyingCause::Removal);
                }
                // §L2.12: leadership is resigned silently.
                self.leader = false;
                self.elected_pending = false;
            }
            _ => unreachable!("{what} is not a lifecycle action"),
        }
    }

    /// §L2.14: after a failed hook, only actions until the same hook runs again. Returns
    /// whether `ev` is that retry; any other hook is reported and ends the wait.
    pub(super) fn hook_retry(&mut self, step: usize, index: usize, ev: &Event) -> bool {
        let mut retry = false;
        if ev.kind != HookKind::Action
            && let Some(f) = &self.failed
        {
            if same_hook(&f.event, ev) {
                retry = true;
            } else {
                let msg = format!(
                    "{} failed at step {} (event {}) and must be retried before {}",
                    f.event.hook, f.step, f.index, ev.hook
                );
                self.report(step, Some(index), &ev.hook, Rule::HookRetry, msg);
                self.failed = None;
            }
        }
        retry
    }

    /// §L2.14: a hook that ran to completion ends the error state; a failed one (not an
    /// action: actions are not retried) waits for its retry.
    pub(super) fn hook_result(&mut self, step: usize, index: usize, ev: &Event) {
        match ev.result {
            HookResult::Ok => {
                self.failed = None;
                self.commit(ev, true);
            }
            HookResult::Error => {
                self.failed = Some(Failed {
                    event: ev.clone(),
                    step,
                    index,
                });
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // The gates every (non-retry) hook passes first, in this order.

    /// §L2.15.1: no event at all after remove.
    pub(super) fn after_remove(&self) -> Option<Found> {
        if self.removed {
            return found(Rule::AfterRemove, "event after remove");
        }
        None
    }

    /// §L2.15.12 / §L2.11: queued pairs are adjacent (actions included).
    pub(super) fn inside_queued_pair(&self, ev: &Event) -> Option<Found> {
        use HookKind as K;
        if let Some(q) = self.queued
            && q != ev.kind
            && !self.pair_exempt(ev)
        {
            let first = if q == K::Start {
                "the first config-changed"
            } else {
                "upgrade-charm"
            };
            return found(
                Rule::QueuedPair,
                format!("{} between {first} and its {q}", ev.hook),
            );
        }
        None
    }

    /// §L2.15.2 / §L2.15.15: nothing before install (machine storage excepted; actions may
    /// run while a failed install waits for its retry, §L2.0.9).
    pub(super) fn before_install(&self, ev: &Event) -> Option<Found> {
        use HookKind as K;
        let kind = ev.kind;
        if !self.installed {
            if kind == K::Action {
                if self.failed.is_none() {
                    return found(Rule::Action, "action before install");
                }
            } else if kind != K::Install && (self.k8s || !kind.is_storage()) {
                return found(Rule::BeforeInstall, format!("{} before install", ev.hook));
            } else if kind.is_storage() && self.dying.is_some() && self.failed.is_none() {
                // §L2.15.2 with §L2.1: a unit removed before it installed gets no further
                // hook, not even a storage-detaching for what was attached at deploy.
                return found(
                    Rule::BeforeInstall,
                    format!("{} on a Dying unit that never installed", ev.hook),
                );
            }
        }
        None
    }

    /// §L2.15.14 (and §L2.0.13: a Dying unit never installs). Two exceptions from
    /// the resolver chain: a hook already *queued* still runs (§L2.0.13: the
    /// config-changed after upgrade-charm), and the upgrade of a recreated K8s pod runs
    /// at agent start, before the Dying branch of nextOp (J-LOOP, §L2.13).
    pub(super) fn while_dying(&self, ev: &Event) -> Option<Found> {
        use HookKind as K;
        let kind = ev.kind;
        let queued_follow_up = kind == K::ConfigChanged && self.queued == Some(K::ConfigChanged);
        let churn_upgrade = kind == K::UpgradeCharm && self.churn_upgrade;
        if self.dying.is_some()
            && !queued_follow_up
            && !churn_upgrade
            && matches!(
                kind,
                K::Install
                    | K::ConfigChanged
                    | K::UpdateStatus
                    | K::UpgradeCharm
                    | K::LeaderElected
                    | K::LeaderSettingsChanged
                    | K::RelationCreated
                    | K::SecretChanged
                    | K::SecretRotate
                    | K::SecretExpired
                    | K::SecretRemove
            )
        {
            return found(Rule::WhileDying, format!("{} on a Dying unit", ev.hook));
        }
        None
    }

    /// Hooks that may run inside a queued pair (§L2.0: series-upgrade resolver outranks it;
    /// §L2.15.12: machine-reboot start; §L2.8: machine storage special cases).
    pub(super) fn pair_exempt(&self, ev: &Event) -> bool {
        match ev.kind {
            HookKind::PreSeriesUpgrade | HookKind::PostSeriesUpgrade => true,
            HookKind::Start => !self.k8s && self.restart_pending,
            HookKind::StorageAttached | HookKind::StorageDetaching => !self.k8s,
            _ => false,
        }
    }

    // -----------------------------------------------------------------------------------
    // install, start, stop, remove

    pub(super) fn check_lifecycle(&self, ev: &Event) -> Option<Found> {
        use HookKind as K;
        match ev.kind {
            K::Install => {
                // §L2.15.3: install at most once.
                if self.installed {
                    return found(Rule::StartStop, "install twice");
                }
                // §L2.15.9 / §L2.8: machine storage provisioned with the unit is attached
                // before install.
                if !self.k8s
                    && let Some((id, _)) = self
                        .storage
                        .iter()
                        .find(|(_, s)| s.initial && !s.attached && !s.detach_requested)
                {
                    return found(Rule::Storage, format!("install before {id} was attached"));
                }
                None
            }
            K::Start => {
                // §L2.15.3 and the trace convention: the first start after the first
                // config-changed, else only after a restart/reboot since the last start.
                if self.first_start_queued || (self.restart_pending && self.ever_started) {
                    None
                } else if !self.ever_started {
                    found(Rule::StartStop, "start before the first config-changed")
                } else {
                    found(Rule::StartStop, "start without a restart or reboot")
                }
            }
            K::Stop => {
                // §L2.15.3: only if started since the last stop.
                if !self.running {
                    return found(Rule::StartStop, "stop while not started");
                }
                // A K8s pod shutdown stops the unit whatever its life (§L2.13); the Dying
                // unit's own stop comes after its teardown (§L2.12).
                if self.shutdown_pending {
                    None
                } else if self.dying.is_some() {
                    self.teardown_done("stop")
                } else {
                    found(
                        Rule::StartStop,
                        "stop of an Alive unit without a pod shutdown",
                    )
                }
            }
            K::Remove => {
                // §L2.15.3: remove once (§L2.15.1 covers "twice"), only for a Dying unit.
                if self.dying.is_none() {
                    return found(Rule::StartStop, "remove of an Alive unit");
                }
                // §L2.12: stop (if started) comes before remove.
                if self.running && !self.opts.forced_removal {
                    return found(Rule::Teardown, "remove before stop");
                }
                self.teardown_done("remove")
            }
            _ => None,
        }
    }

    /// §L2.12: what must be done before `stop`/`remove` of a Dying unit.
    fn teardown_done(&self, what: &str) -> Option<Found> {
        if self.opts.forced_removal {
            return None;
        }
        if let Some((id, _)) = self.storage.iter().find(|(_, s)| s.attached && !s.detached) {
            return found(Rule::Teardown, format!("{what} before {id} was detached"));
        }
        for (id, r) in &self.relations {
            if !r.declared {
                continue;
            }
            if !r.peer && r.created && !r.broken {
                return found(
                    Rule::Teardown,
                    format!("{what} before relation {} ({}) was broken", id, r.endpoint),
                );
            }
            if r.peer && !r.joined.is_empty() {
                return found(
                    Rule::Teardown,
                    format!("{what} before peers {:?} departed", r.joined),
                );
            }
        }
        None
    }

    pub(super) fn commit_lifecycle(&mut self, ev: &Event) {
        use HookKind as K;
        match ev.kind {
            K::Install => {
                self.installed = true;
                // §L2.5: config-changed follows install via the config hash mismatch.
                self.config_pending = true;
            }
            K::Start => {
                self.ever_started = true;
                self.running = true;
                self.first_start_queued = false;
                self.restart_pending = false;
            }
            K::Stop => {
                self.running = false;
                self.shutdown_pending = false;
            }
            K::Remove => self.removed = true,
            _ => {}
        }
    }
}

/// §L2.14: the retry of a failed hook is the same hook with the same environment, except
/// for the new hook context id.
fn same_hook(a: &Event, b: &Event) -> bool {
    if a.hook != b.hook || a.kind != b.kind {
        return false;
    }
    let strip = |e: &Event| {
        e.env
            .iter()
            .filter(|(k, _)| k.as_str() != "JUJU_CONTEXT_ID")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    strip(a) == strip(b)
}
