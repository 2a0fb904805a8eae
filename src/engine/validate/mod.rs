//! The trace validator: checks a whole [`Trace`] against the Juju lifecycle spec.
//!
//! # What it is for
//!
//! The engine is meant to be *valid by construction*: the world and decoder only ever
//! produce orderings Juju can produce. This module is the second opinion. It re-reads a
//! finished trace — the actions and the hook events delivered after each — and checks every
//! event against the rules of `docs/juju-model.md`, keeping its own small record of the
//! unit (installed? started? leader? Dying? which relations exist, who joined, which
//! storage is attached, which secrets the charm owns, which hook failed …).
//!
//! It is written **independently of the generator** (`engine/world/`, `engine/codec/`) and shares no
//! code or state-machine with it, so that the two check each other: a trace the generator
//! makes but the validator rejects is a bug in one of them. It is also what checks
//! hand-written or edited JSON traces before they are replayed or turned into seeds.
//!
//! # What it checks
//!
//! Each rule is a [`Rule`] variant naming its spec section:
//!
//! - trace shape (§L2.1): one `Deploy`, first; unit, charm and substrate agree with the spec;
//! - action shape (§L2.0): the actions describe a possible deployment (unique relation ids,
//!   remote unit names `<app>/<n>` never reused, known relations/storage/peers);
//! - environment (§L1.2): every common `JUJU_*` variable present, exactly the per-kind
//!   variables of §L1.2 and consistent with the hook, the relation and the unit; the hook
//!   name agrees with its kind and prefix (§L1.2); kinds that do not exist on this substrate,
//!   charm or version (§L1.3);
//! - causes (§L2.0): a hook runs only when something in the remote state asks for it (a config
//!   change, a timer, a data write, a notice, a leadership or restart action …);
//! - the per-relation invariants of §L2.3 and the never-valid list §L2.15.1–§L2.15.15, one variant
//!   each; teardown order (§L2.12); hook-error retries (§L2.14); nothing but `start`-gated
//!   hooks before the first `start` (§L2.1).
//!
//! Where the spec marks a behaviour uncertain ([M]/[L], §L8) the validator accepts both
//! readings when the matching switch in [`EngineOptions`] is on, and at least Juju's code
//! reading when it is off; when in doubt it accepts. Retries of a failed hook are not
//! re-checked against the state (Juju re-runs the failed hook whatever happened meanwhile).
//!
//! # What it does not check
//!
//! Liveness (that a pending hook eventually runs: a trace may stop at any point), the
//! priority order *among* pending hooks (§L2.0: Go map order and coalescing make most of it
//! unobservable), the values of host-specific variables (`JUJU_CHARM_DIR`, socket and API
//! addresses, machine id, proxies), secret labels, action parameter schemas, storage
//! `multiple:` ranges, relation `limit:`s, the `phase` printed on each step, and anything the
//! charm itself does besides the [`Effect`]s it reports.
//!
//! # Layout
//!
//! This file holds the [`Rule`]s and [`Violation`]s, the validator's record of the unit and
//! the driver. [`validate`] walks the trace: each step's action updates the record of the
//! remote state; each event is checked (the gates every hook passes, then the rules of its
//! kind's family, then its environment) and, if it ran, committed. Those three walks —
//! `action`, `check`, `commit` — are short dispatches here; each family file holds, for its
//! hooks, the actions that prompt them, their checks and their commit:
//!
//! - `lifecycle`: the envelope and `Deploy`, install/start/stop/remove and the teardown
//!   order, the gates (after remove, queued pairs, before install, while Dying), hook errors
//!   and their retries;
//! - `config`: config, trust and address changes, and the update-status and
//!   collect-metrics timers (the same pending-flag shape);
//! - `relations`: relations and the peer relation, with scaling (which is peer membership);
//! - `leadership`, `storage`, `secrets`;
//! - `workloads`: containers, Pebble and workload faults;
//! - `actions`: Juju actions (`juju run`), not the trace's steps;
//! - `upgrades`: refresh and `upgrade-charm`, the series upgrade;
//! - `churn`: pod recreation, charm container restarts, machine reboots;
//! - `env`: the environment of every hook (§L1.2), checked apart from the state rules.

mod actions;
mod churn;
mod config;
mod env;
mod host;
mod leadership;
mod lifecycle;
mod relations;
mod secrets;
mod storage;
mod upgrades;
mod workloads;

use super::action::{Action, Effect, SecretOwner, WorkloadFault};
use super::event::{Event, HookKind};
use super::options::{EngineOptions, JujuVersion};
use super::trace::Trace;
use crate::spec::{CharmSpec, Substrate};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

/// One rule of the lifecycle spec a trace can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// §L1.2: every common `JUJU_*` variable is present; exactly the per-kind variables of
    /// the hook's kind are, with values consistent with the trace.
    Env,
    /// §L1.2: the hook name agrees with the kind and its prefix, `JUJU_HOOK_NAME` and
    /// `JUJU_DISPATCH_PATH`.
    HookName,
    /// §L1.3: the hook kind exists for this substrate, charm and Juju version.
    Catalogue,
    /// §L2.0: the actions describe a possible deployment (known relations, storage, units;
    /// ids and unit names never reused).
    ActionShape,
    /// §L2.0: a hook runs only when the remote state asks for it.
    Unprompted,
    /// §L2.1: the trace starts with exactly one `Deploy`, for this charm, unit and substrate.
    TraceShape,
    /// §L2.1: no relation joined/changed/departed or update-status before the first `start`
    /// of an Alive unit.
    BeforeStart,
    /// §L2.3: a relation hook names a relation that does not exist.
    UnknownRelation,
    /// §L2.3: a relation hook does not follow the relation's remote state (joined for a unit
    /// that is not there, departed for one still there, broken for a live relation, changed
    /// without a data change, app-level peer changed on the leader).
    RelationState,
    /// §L2.12: teardown order: storage-detaching, then relations (non-peer departed/broken,
    /// then peer departed), then stop, then remove.
    Teardown,
    /// §L2.14: after a failed hook only actions run until the same hook is retried.
    HookRetry,
    /// §L2.15.1: no event after `remove`.
    AfterRemove,
    /// §L2.15.2: nothing before `install` except (machine) storage hooks.
    BeforeInstall,
    /// §L2.15.3: `install`/`remove` once; `stop` only when started (and for a reason);
    /// `start` only first after the first `config-changed`, then only as a restart.
    StartStop,
    /// §L2.15.4: `relation-created` before anything else of the relation, once per entry;
    /// nothing after `relation-broken`.
    RelationCreated,
    /// §L2.15.5: no `relation-broken` for a peer relation or while members remain.
    RelationBroken,
    /// §L2.15.6: `joined(u)` once per membership; changed/departed only for joined units;
    /// after `joined(u)` the relation's next hook is `changed(u)`.
    RelationMembership,
    /// §L2.15.7: no relation hooks for undeclared endpoints or implicit `juju-info`.
    UndeclaredEndpoint,
    /// §L2.15.8: `leader-elected` only on the leader, once per gain; lsc never on the
    /// leader; neither on a Dying unit.
    Leadership,
    /// §L2.15.9: storage hooks for declared, provisioned instances; attached/detaching once
    /// each, in that order; machine storage at deploy attached before `install`.
    Storage,
    /// §L2.15.10: workload events for declared containers, on Kubernetes, version-gated.
    Workload,
    /// §L2.15.11: secret-rotate/expired/remove only to the owner; secret-changed never to the
    /// owner.
    Secret,
    /// §L2.15.12: nothing between `upgrade-charm` and its `config-changed`, nor between the
    /// first `config-changed` and `start`.
    QueuedPair,
    /// §L2.15.13: nothing between `pre-series-upgrade` and `post-series-upgrade`.
    SeriesUpgrade,
    /// §L2.15.14: no config-changed, update-status, upgrade-charm, leader-*, relation-created,
    /// secret hooks (or install) while Dying.
    WhileDying,
    /// §L2.15.15: actions only for declared names, never before install, in FIFO order.
    Action,
}

impl Rule {
    pub const ALL: [Rule; 26] = [
        Rule::Env,
        Rule::HookName,
        Rule::Catalogue,
        Rule::ActionShape,
        Rule::Unprompted,
        Rule::TraceShape,
        Rule::BeforeStart,
        Rule::UnknownRelation,
        Rule::RelationState,
        Rule::Teardown,
        Rule::HookRetry,
        Rule::AfterRemove,
        Rule::BeforeInstall,
        Rule::StartStop,
        Rule::RelationCreated,
        Rule::RelationBroken,
        Rule::RelationMembership,
        Rule::UndeclaredEndpoint,
        Rule::Leadership,
        Rule::Storage,
        Rule::Workload,
        Rule::Secret,
        Rule::QueuedPair,
        Rule::SeriesUpgrade,
        Rule::WhileDying,
        Rule::Action,
    ];

    /// The section of `docs/juju-model.md` the rule comes from.
    pub fn section(self) -> &'static str {
        match self {
            Rule::Env | Rule::HookName => "1.2",
            Rule::Catalogue => "1.3",
            Rule::ActionShape | Rule::Unprompted => "2.0",
            Rule::TraceShape | Rule::BeforeStart => "2.1",
            Rule::UnknownRelation | Rule::RelationState => "2.3",
            Rule::Teardown => "2.12",
            Rule::HookRetry => "2.14",
            Rule::AfterRemove => "2.15.1",
            Rule::BeforeInstall => "2.15.2",
            Rule::StartStop => "2.15.3",
            Rule::RelationCreated => "2.15.4",
            Rule::RelationBroken => "2.15.5",
            Rule::RelationMembership => "2.15.6",
            Rule::UndeclaredEndpoint => "2.15.7",
            Rule::Leadership => "2.15.8",
            Rule::Storage => "2.15.9",
            Rule::Workload => "2.15.10",
            Rule::Secret => "2.15.11",
            Rule::QueuedPair => "2.15.12",
            Rule::SeriesUpgrade => "2.15.13",
            Rule::WhileDying => "2.15.14",
            Rule::Action => "2.15.15",
        }
    }

    /// A one-line statement of the rule.
    pub fn description(self) -> &'static str {
        match self {
            Rule::Env => "hook environment as in §L1.2",
            Rule::HookName => "hook name agrees with its kind, prefix and dispatch path",
            Rule::Catalogue => "hook kind exists for this substrate, charm and Juju version",
            Rule::ActionShape => "actions describe a possible deployment",
            Rule::Unprompted => "a hook runs only when the remote state asks for it",
            Rule::TraceShape => "one deploy, first, for this charm, unit and substrate",
            Rule::BeforeStart => "no relation or update-status hooks before the first start",
            Rule::UnknownRelation => "relation hooks only for existing relations",
            Rule::RelationState => "relation hooks follow the relation's remote state",
            Rule::Teardown => "teardown order: storage, relations, peers, stop, remove",
            Rule::HookRetry => "a failed hook is retried before any other hook",
            Rule::AfterRemove => "no event after remove",
            Rule::BeforeInstall => "nothing before install except machine storage",
            Rule::StartStop => "install/remove once; stop only when started; start gated",
            Rule::RelationCreated => "relation-created first, once; nothing after broken",
            Rule::RelationBroken => "no broken for peers or while members remain",
            Rule::RelationMembership => "joined once, changed/departed only for joined units",
            Rule::UndeclaredEndpoint => "no hooks for undeclared endpoints or juju-info",
            Rule::Leadership => "leader-elected on the leader, lsc on non-leaders, not Dying",
            Rule::Storage => "storage attached/detaching once each, in order",
            Rule::Workload => "workload events for declared containers on K8s, version-gated",
            Rule::Secret => "secret owner hooks to the owner only, changed never to it",
            Rule::QueuedPair => "nothing inside upgrade-charm→config-changed→start pairs",
            Rule::SeriesUpgrade => "no hooks during a series upgrade",
            Rule::WhileDying => "no config/status/upgrade/leader/created/secret hooks while Dying",
            Rule::Action => "actions declared, after install, in FIFO order",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "§L{} {}", self.section(), self.description())
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Index of the step in `trace.steps`.
    pub step: usize,
    /// Index of the event within `steps[step].events`; `None` when the step's action itself
    /// is at fault.
    pub event: Option<usize>,
    /// The event's hook name, or (for a step-level violation) the action's kebab-case name.
    pub hook: String,
    pub rule: Rule,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.event {
            Some(e) => write!(f, "step {} (event {e}, {})", self.step, self.hook)?,
            None => write!(f, "step {} ({})", self.step, self.hook)?,
        }
        write!(f, ": §L{} {}", self.rule.section(), self.message)
    }
}

/// Check a whole trace against the lifecycle spec for `spec`'s charm. Returns every
/// violation found, in trace order (after the first violation on a relation its later
/// relation-state checks are skipped, to avoid cascades).
pub fn validate(trace: &Trace, spec: &CharmSpec) -> Result<(), Vec<Violation>> {
    let mut v = Validator::new(trace, spec);
    v.run();
    if v.out.is_empty() { Ok(()) } else { Err(v.out) }
}

// ---------------------------------------------------------------------------------------
// Unit and storage names

/// `<app>/<n>` → `(app, n)`.
fn split_unit(unit: &str) -> Option<(&str, u32)> {
    let (app, n) = unit.rsplit_once('/')?;
    if app.is_empty() || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((app, n.parse().ok()?))
}

fn unit_of(unit: &str, app: &str) -> bool {
    split_unit(unit).is_some_and(|(a, _)| a == app)
}

/// `<name>/<n>` storage instance id → name.
fn storage_name(id: &str) -> Option<&str> {
    split_unit(id).map(|(name, _)| name)
}

// ---------------------------------------------------------------------------------------
// The validator's record of the unit

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DyingCause {
    /// RemoveUnit / RemoveApplication / DestroyModel.
    Removal,
    /// A subordinate whose last container-scoped relation went away (§L2.3.14).
    Orphaned,
}

#[derive(Debug, Clone)]
struct Rel {
    endpoint: String,
    remote_app: String,
    peer: bool,
    /// The endpoint is declared in the charm's metadata (else: implicit juju-info).
    declared: bool,
    container_scope: bool,
    /// Remote members according to the actions.
    members: BTreeSet<String>,
    /// Every unit ever a member (names are never reused).
    ever: BTreeSet<String>,
    removed: bool,
    suspended: bool,
    /// `relation-created` committed for the current entry.
    created: bool,
    /// `relation-broken` committed (and not resumed since).
    broken: bool,
    joined: BTreeSet<String>,
    changed_pending: Option<String>,
    /// Members whose databag changed since their last relation-changed.
    data_pending: BTreeSet<String>,
    app_data_written: bool,
    app_pending: bool,
    /// A violation was reported for this relation: skip its state checks from now on.
    poisoned: bool,
}

#[derive(Debug, Clone, Default)]
struct Stor {
    initial: bool,
    attached: bool,
    detached: bool,
    detach_requested: bool,
}

#[derive(Debug, Clone)]
struct Failed {
    event: Event,
    step: usize,
    index: usize,
}

/// What a semantic check found.
struct Found {
    rule: Rule,
    message: String,
    /// The relation to stop tracking.
    relation: Option<u32>,
}

fn found(rule: Rule, message: impl Into<String>) -> Option<Found> {
    Some(Found {
        rule,
        message: message.into(),
        relation: None,
    })
}

fn rel_found(rule: Rule, id: u32, message: impl Into<String>) -> Option<Found> {
    Some(Found {
        rule,
        message: message.into(),
        relation: Some(id),
    })
}

struct Validator<'a> {
    trace: &'a Trace,
    spec: &'a CharmSpec,
    opts: &'a EngineOptions,
    version: JujuVersion,
    app: String,
    unit: String,
    k8s: bool,
    out: Vec<Violation>,

    deployed: bool,
    model: Option<(String, String)>,

    installed: bool,
    removed: bool,
    dying: Option<DyingCause>,
    /// `start` has committed at least once.
    ever_started: bool,
    /// Started and not stopped since.
    running: bool,
    /// The first `config-changed` committed, so the first `start` may run.
    first_start_queued: bool,
    /// A restart/reboot action happened since the last `start`.
    restart_pending: bool,
    /// K8s shutdown (pod churn): `stop` may run while Alive.
    shutdown_pending: bool,
    /// §L2.15.12: the hook that must come next.
    queued: Option<HookKind>,
    failed: Option<Failed>,

    config_pending: bool,
    upgrade_pending: bool,
    /// The pending upgrade comes from K8s pod churn (charm dir gone, J-LOOP): it runs at
    /// agent start, ahead of the Dying branch of the resolver.
    churn_upgrade: bool,
    update_status_pending: bool,
    metrics_pending: bool,
    lsc_pending: bool,
    leader: bool,
    elected_pending: bool,

    series_prepare: Option<String>,
    series_active: bool,
    series_complete: bool,

    relations: BTreeMap<u32, Rel>,
    peers: BTreeSet<String>,
    ever_peers: BTreeSet<String>,
    storage: BTreeMap<String, Stor>,

    pebble_ready: BTreeMap<String, u32>,
    /// Containers whose Pebble is up, the services the target reported running in each,
    /// and the faults each workload has taken on since its Pebble came up.
    pebble_up: BTreeSet<String>,
    services_running: BTreeMap<String, BTreeSet<String>>,
    workload_faults: BTreeSet<(String, WorkloadFault)>,
    notices: Vec<(String, String, String)>,
    checks_failed: BTreeMap<(String, String), u32>,
    checks_recovered: BTreeMap<(String, String), u32>,

    owned: BTreeMap<String, SecretOwner>,
    revised: BTreeSet<String>,
    rotate_due: BTreeSet<String>,
    expired: BTreeSet<(String, u32)>,
    obsolete: BTreeSet<(String, u32)>,

    actions: VecDeque<(u32, String, serde_json::Map<String, serde_json::Value>)>,
    action_ids: BTreeSet<u32>,

    host: host::HostSeen,
}

impl<'a> Validator<'a> {
    fn new(trace: &'a Trace, spec: &'a CharmSpec) -> Self {
        Validator {
            trace,
            spec,
            opts: &trace.options,
            version: trace.options.juju_version,
            app: spec.name.clone(),
            unit: trace.unit.clone(),
            k8s: spec.substrate == Substrate::Kubernetes,
            out: Vec::new(),
            deployed: false,
            model: None,
            installed: false,
            removed: false,
            dying: None,
            ever_started: false,
            running: false,
            first_start_queued: false,
            restart_pending: false,
            shutdown_pending: false,
            queued: None,
            failed: None,
            config_pending: false,
            upgrade_pending: false,
            churn_upgrade: false,
            update_status_pending: false,
            metrics_pending: false,
            lsc_pending: false,
            leader: false,
            elected_pending: false,
            series_prepare: None,
            series_active: false,
            series_complete: false,
            relations: BTreeMap::new(),
            peers: BTreeSet::new(),
            ever_peers: BTreeSet::new(),
            storage: BTreeMap::new(),
            pebble_ready: BTreeMap::new(),
            pebble_up: BTreeSet::new(),
            services_running: BTreeMap::new(),
            workload_faults: BTreeSet::new(),
            notices: Vec::new(),
            checks_failed: BTreeMap::new(),
            checks_recovered: BTreeMap::new(),
            owned: BTreeMap::new(),
            revised: BTreeSet::new(),
            rotate_due: BTreeSet::new(),
            expired: BTreeSet::new(),
            obsolete: BTreeSet::new(),
            actions: VecDeque::new(),
            action_ids: BTreeSet::new(),
            host: host::HostSeen::default(),
        }
    }

    fn report(
        &mut self,
        step: usize,
        event: Option<usize>,
        hook: &str,
        rule: Rule,
        message: impl Into<String>,
    ) {
        self.out.push(Violation {
            step,
            event,
            hook: hook.to_string(),
            rule,
            message: message.into(),
        });
    }

    fn run(&mut self) {
        let trace = self.trace;
        self.check_envelope();
        for (i, step) in trace.steps.iter().enumerate() {
            let is_deploy = matches!(step.action, Action::Deploy { .. });
            if !self.deployed && !is_deploy {
                // §L2.1: nothing happens to a unit before it is deployed.
                for (j, ev) in step.events.iter().enumerate() {
                    self.report(
                        i,
                        Some(j),
                        &ev.hook,
                        Rule::TraceShape,
                        "event before deploy",
                    );
                }
                continue;
            }
            self.action(i, &step.action);
            for (j, ev) in step.events.iter().enumerate() {
                self.event(i, j, ev);
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // Actions: update the remote state (§L2.0 "remote snapshot")

    /// Each family applies (and checks the shape of) its own actions.
    fn action(&mut self, step: usize, action: &Action) {
        use Action as A;
        let what = action.kind().as_str();
        match action {
            A::Deploy { .. }
            | A::Resolved { .. }
            | A::RemoveUnit
            | A::RemoveApplication
            | A::DestroyModel
            | A::ForceRemoveUnit => self.lifecycle_action(step, what, action),
            A::Config { .. }
            | A::Trust { .. }
            | A::AddressChange
            | A::UpdateStatusTimer
            | A::CollectMetricsTimer => self.config_action(what, action),
            A::Integrate { .. }
            | A::RemoveRelation { .. }
            | A::SuspendRelation { .. }
            | A::ResumeRelation { .. }
            | A::RemoteUnitAdded { .. }
            | A::RemoteUnitRemoved { .. }
            | A::RemoteUnitData { .. }
            | A::RemoteAppData { .. } => self.relation_action(step, what, action),
            A::ScaleUp { .. } | A::ScaleDown { .. } => self.peer_action(step, what, action),
            A::LeadershipGained | A::LeadershipLost | A::LeaderSet => {
                self.leadership_action(what, action)
            }
            A::StorageAdded { .. } | A::StorageDetached { .. } => {
                self.storage_action(step, what, action)
            }
            A::WorkloadStarted { .. }
            | A::WorkloadStopped { .. }
            | A::ServiceExited { .. }
            | A::WorkloadFault { .. }
            | A::CustomNotice { .. }
            | A::CheckFailed { .. }
            | A::CheckRecovered { .. } => self.workload_action(step, what, action),
            A::SecretGranted { .. }
            | A::SecretRevised { .. }
            | A::SecretRotateDue { .. }
            | A::SecretExpired { .. }
            | A::SecretRevisionObsolete { .. } => self.secret_action(what, action),
            A::RunAction { .. } => self.run_action(step, what, action),
            A::Refresh | A::SeriesUpgradePrepare { .. } | A::SeriesUpgradeComplete => {
                self.upgrade_action(step, what, action)
            }
            A::PodRecreated | A::CharmContainerRestarted | A::MachineRebooted => {
                self.churn_action(step, what, action)
            }
            A::SnapRefreshFails { .. }
            | A::SnapRefreshHeld { .. }
            | A::InstallFails
            | A::HostServiceFailed { .. }
            | A::HostDiskFull
            | A::HostRecovered => self.host_action(step, what, action),
        }
    }

    // -----------------------------------------------------------------------------------
    // Events

    fn event(&mut self, step: usize, index: usize, ev: &Event) {
        self.pebble_ready_seen(ev);
        // §L2.14: after a failed hook, only actions until the same hook runs again.
        let retry = self.hook_retry(step, index, ev);

        // A retry carries the failed event's environment, already checked when it first
        // ran (Juju keeps the hook's info, e.g. its departing unit, across retries).
        let env_problems = if retry {
            Vec::new()
        } else {
            self.check_env(ev)
        };
        if !retry && let Some(f) = self.check(ev) {
            if let Some(id) = f.relation
                && let Some(r) = self.relations.get_mut(&id)
            {
                r.poisoned = true;
            }
            self.report(step, Some(index), &ev.hook, f.rule, f.message);
        }
        for (rule, msg) in env_problems {
            self.report(step, Some(index), &ev.hook, rule, msg);
        }

        // §L2.15.12: the queued follow-up has been attempted (or the pair was broken and
        // reported); exempt hooks leave it in place.
        if self
            .queued
            .is_some_and(|q| q == ev.kind || !self.pair_exempt(ev))
        {
            self.queued = None;
        }

        if ev.kind == HookKind::Action {
            self.action_ran(ev);
        } else {
            self.hook_result(step, index, ev);
        }
    }

    /// The first broken rule for this (non-retry) event, given the state before it: the
    /// gates every hook passes, in this order, then the rules of its kind's family.
    fn check(&self, ev: &Event) -> Option<Found> {
        use HookKind as K;
        self.after_remove()
            .or_else(|| self.during_series_upgrade(ev))
            .or_else(|| self.inside_queued_pair(ev))
            .or_else(|| self.before_install(ev))
            .or_else(|| self.while_dying(ev))
            .or_else(|| match ev.kind {
                K::Install | K::Start | K::Stop | K::Remove => self.check_lifecycle(ev),
                K::ConfigChanged | K::UpdateStatus | K::CollectMetrics => self.check_config(ev),
                K::UpgradeCharm | K::PreSeriesUpgrade | K::PostSeriesUpgrade => {
                    self.check_upgrade(ev)
                }
                K::LeaderElected | K::LeaderSettingsChanged => self.check_leadership(ev),
                k if k.is_relation() => self.check_relation(ev),
                k if k.is_storage() => self.check_storage(ev),
                k if k.is_workload() => self.check_workload(ev),
                k if k.is_secret() => self.check_secret(ev),
                K::Action => self.check_action(ev),
                _ => None,
            })
    }

    // -----------------------------------------------------------------------------------
    // Commit (J-RUNHOOK): what a hook that ran (or was skipped with --no-retry) changes.

    fn commit(&mut self, ev: &Event, charm_effects: bool) {
        use HookKind as K;
        match ev.kind {
            K::Install | K::Start | K::Stop | K::Remove => self.commit_lifecycle(ev),
            K::ConfigChanged | K::UpdateStatus | K::CollectMetrics => {
                self.commit_config(ev, charm_effects)
            }
            K::UpgradeCharm | K::PreSeriesUpgrade | K::PostSeriesUpgrade => {
                self.commit_upgrade(ev, charm_effects)
            }
            K::LeaderElected | K::LeaderSettingsChanged => self.commit_leadership(ev),
            k if k.is_workload() => self.commit_workload(ev),
            k if k.is_secret() => self.commit_secret(ev),
            k if k.is_storage() => self.commit_storage(ev),
            k if k.is_relation() => self.commit_relation(ev),
            _ => {}
        }
        if charm_effects {
            self.apply_effects(ev);
        }
    }

    /// What the charm reports having done ([`Effect`]s) that later hooks depend on.
    fn apply_effects(&mut self, ev: &Event) {
        for e in &ev.effects {
            match e {
                Effect::ServicesRunning { .. } => self.workload_effect(e),
                Effect::HostChanged { .. } => self.host_effect(e),
                Effect::SecretCreated { .. }
                | Effect::SecretRevised { .. }
                | Effect::SecretRemoved { .. } => self.secret_effect(e),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_distinct_per_215_item() {
        let mut seen = BTreeSet::new();
        for r in Rule::ALL {
            if r.section().starts_with("2.15.") {
                assert!(seen.insert(r.section()), "{r:?}");
            }
        }
        assert_eq!(seen.len(), 15);
    }

    #[test]
    fn unit_names() {
        assert_eq!(split_unit("app/3"), Some(("app", 3)));
        assert_eq!(split_unit("my-app/10"), Some(("my-app", 10)));
        assert_eq!(split_unit("app/"), None);
        assert_eq!(split_unit("app/x"), None);
        assert_eq!(split_unit("app"), None);
        assert_eq!(storage_name("data/0"), Some("data"));
    }

    #[test]
    fn violation_display() {
        let v = Violation {
            step: 7,
            event: Some(2),
            hook: "db-relation-joined".into(),
            rule: Rule::RelationMembership,
            message: "joined(app/1) twice in one membership".into(),
        };
        assert_eq!(
            v.to_string(),
            "step 7 (event 2, db-relation-joined): §L2.15.6 joined(app/1) twice in one membership"
        );
    }
}
