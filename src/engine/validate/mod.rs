//! The trace validator: checks a whole [`Trace`] against the Juju lifecycle spec.
//!
//! # What it is for
//!
//! The engine is meant to be *valid by construction*: the world and decoder only ever
//! produce orderings Juju can produce. This module is the second opinion. It re-reads a
//! finished trace — the actions and the hook events delivered after each — and checks every
//! event against the rules of `spec/juju-lifecycle.md`, keeping its own small record of the
//! unit (installed? started? leader? Dying? which relations exist, who joined, which
//! storage is attached, which secrets the charm owns, which hook failed …).
//!
//! It is written **independently of the generator** (`world.rs`, `codec.rs`) and shares no
//! code or state-machine with it, so that the two check each other: a trace the generator
//! makes but the validator rejects is a bug in one of them. It is also what checks
//! hand-written or edited JSON traces before they are replayed or turned into seeds.
//!
//! # What it checks
//!
//! Each rule is a [`Rule`] variant naming its spec section:
//!
//! - trace shape (§2.1): one `Deploy`, first; unit, charm and substrate agree with the spec;
//! - action shape (§2.0): the actions describe a possible deployment (unique relation ids,
//!   remote unit names `<app>/<n>` never reused, known relations/storage/peers);
//! - environment (§1.2): every common `JUJU_*` variable present, exactly the per-kind
//!   variables of §1.2 and consistent with the hook, the relation and the unit; the hook
//!   name agrees with its kind and prefix (§1.2); kinds that do not exist on this substrate,
//!   charm or version (§1.3);
//! - causes (§2.0): a hook runs only when something in the remote state asks for it (a config
//!   change, a timer, a data write, a notice, a leadership or restart action …);
//! - the per-relation invariants of §2.3 and the never-valid list §2.15.1–15, one variant
//!   each; teardown order (§2.12); hook-error retries (§2.14); nothing but `start`-gated
//!   hooks before the first `start` (§2.1).
//!
//! Where the spec marks a behaviour uncertain ([M]/[L], §8) the validator accepts both
//! readings when the matching switch in [`EngineOptions`] is on, and at least Juju's code
//! reading when it is off; when in doubt it accepts. Retries of a failed hook are not
//! re-checked against the state (Juju re-runs the failed hook whatever happened meanwhile).
//!
//! # What it does not check
//!
//! Liveness (that a pending hook eventually runs: a trace may stop at any point), the
//! priority order *among* pending hooks (§2.0: Go map order and coalescing make most of it
//! unobservable), the values of host-specific variables (`JUJU_CHARM_DIR`, socket and API
//! addresses, machine id, proxies), secret labels, action parameter schemas, storage
//! `multiple:` ranges, relation `limit:`s, the `phase` printed on each step, and anything the
//! charm itself does besides the [`Effect`]s it reports.

use super::action::{Action, Effect, RelationInit, SecretOwner, WorkloadFault};
use super::event::{Event, HookKind, HookResult};
use super::options::{EngineOptions, JujuVersion};
use super::trace::{TRACE_FORMAT, Trace};
use crate::spec::{CharmSpec, Role, Scope, Substrate};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

/// One rule of the lifecycle spec a trace can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// §1.2: every common `JUJU_*` variable is present; exactly the per-kind variables of
    /// the hook's kind are, with values consistent with the trace.
    Env,
    /// §1.2: the hook name agrees with the kind and its prefix, `JUJU_HOOK_NAME` and
    /// `JUJU_DISPATCH_PATH`.
    HookName,
    /// §1.3: the hook kind exists for this substrate, charm and Juju version.
    Catalogue,
    /// §2.0: the actions describe a possible deployment (known relations, storage, units;
    /// ids and unit names never reused).
    ActionShape,
    /// §2.0: a hook runs only when the remote state asks for it.
    Unprompted,
    /// §2.1: the trace starts with exactly one `Deploy`, for this charm, unit and substrate.
    TraceShape,
    /// §2.1: no relation joined/changed/departed or update-status before the first `start`
    /// of an Alive unit.
    BeforeStart,
    /// §2.3: a relation hook names a relation that does not exist.
    UnknownRelation,
    /// §2.3: a relation hook does not follow the relation's remote state (joined for a unit
    /// that is not there, departed for one still there, broken for a live relation, changed
    /// without a data change, app-level peer changed on the leader).
    RelationState,
    /// §2.12: teardown order: storage-detaching, then relations (non-peer departed/broken,
    /// then peer departed), then stop, then remove.
    Teardown,
    /// §2.14: after a failed hook only actions run until the same hook is retried.
    HookRetry,
    /// §2.15.1: no event after `remove`.
    AfterRemove,
    /// §2.15.2: nothing before `install` except (machine) storage hooks.
    BeforeInstall,
    /// §2.15.3: `install`/`remove` once; `stop` only when started (and for a reason);
    /// `start` only first after the first `config-changed`, then only as a restart.
    StartStop,
    /// §2.15.4: `relation-created` before anything else of the relation, once per entry;
    /// nothing after `relation-broken`.
    RelationCreated,
    /// §2.15.5: no `relation-broken` for a peer relation or while members remain.
    RelationBroken,
    /// §2.15.6: `joined(u)` once per membership; changed/departed only for joined units;
    /// after `joined(u)` the relation's next hook is `changed(u)`.
    RelationMembership,
    /// §2.15.7: no relation hooks for undeclared endpoints or implicit `juju-info`.
    UndeclaredEndpoint,
    /// §2.15.8: `leader-elected` only on the leader, once per gain; lsc never on the
    /// leader; neither on a Dying unit.
    Leadership,
    /// §2.15.9: storage hooks for declared, provisioned instances; attached/detaching once
    /// each, in that order; machine storage at deploy attached before `install`.
    Storage,
    /// §2.15.10: workload events for declared containers, on Kubernetes, version-gated.
    Workload,
    /// §2.15.11: secret-rotate/expired/remove only to the owner; secret-changed never to the
    /// owner.
    Secret,
    /// §2.15.12: nothing between `upgrade-charm` and its `config-changed`, nor between the
    /// first `config-changed` and `start`.
    QueuedPair,
    /// §2.15.13: nothing between `pre-series-upgrade` and `post-series-upgrade`.
    SeriesUpgrade,
    /// §2.15.14: no config-changed, update-status, upgrade-charm, leader-*, relation-created,
    /// secret hooks (or install) while Dying.
    WhileDying,
    /// §2.15.15: actions only for declared names, never before install, in FIFO order.
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

    /// The section of `spec/juju-lifecycle.md` the rule comes from.
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
            Rule::Env => "hook environment as in §1.2",
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
        write!(f, "§{} {}", self.section(), self.description())
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
        write!(f, ": §{} {}", self.rule.section(), self.message)
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
// Environment tables (§1.1, §1.2)

/// Variables every hook and action carries (§1.1; the trace keeps only `JUJU_*`).
const COMMON_VARS: [&str; 19] = [
    "JUJU_UNIT_NAME",
    "JUJU_MODEL_NAME",
    "JUJU_MODEL_UUID",
    "JUJU_VERSION",
    "JUJU_HOOK_NAME",
    "JUJU_DISPATCH_PATH",
    "JUJU_CHARM_DIR",
    "JUJU_CONTEXT_ID",
    "JUJU_AGENT_SOCKET_ADDRESS",
    "JUJU_AGENT_SOCKET_NETWORK",
    "JUJU_API_ADDRESSES",
    "JUJU_SLA",
    "JUJU_MACHINE_ID",
    "JUJU_PRINCIPAL_UNIT",
    "JUJU_AVAILABILITY_ZONE",
    "JUJU_CHARM_HTTP_PROXY",
    "JUJU_CHARM_HTTPS_PROXY",
    "JUJU_CHARM_FTP_PROXY",
    "JUJU_CHARM_NO_PROXY",
];

/// Every kind-specific variable of §1.2: each must appear exactly on the kinds that carry it.
const KIND_VARS: [&str; 21] = [
    "JUJU_RELATION",
    "JUJU_RELATION_ID",
    "JUJU_REMOTE_UNIT",
    "JUJU_REMOTE_APP",
    "JUJU_DEPARTING_UNIT",
    "JUJU_STORAGE_ID",
    "JUJU_STORAGE_LOCATION",
    "JUJU_STORAGE_KIND",
    "JUJU_WORKLOAD_NAME",
    "JUJU_NOTICE_ID",
    "JUJU_NOTICE_TYPE",
    "JUJU_NOTICE_KEY",
    "JUJU_PEBBLE_CHECK_NAME",
    "JUJU_SECRET_ID",
    "JUJU_SECRET_LABEL",
    "JUJU_SECRET_REVISION",
    "JUJU_ACTION_NAME",
    "JUJU_ACTION_UUID",
    "JUJU_ACTION_TAG",
    "JUJU_TARGET_BASE",
    "JUJU_TARGET_SERIES",
];

const REL_VARS: [&str; 4] = [
    "JUJU_RELATION",
    "JUJU_RELATION_ID",
    "JUJU_REMOTE_UNIT",
    "JUJU_REMOTE_APP",
];

/// The kind-specific variables a hook of `kind` carries (§1.2).
fn kind_vars(kind: HookKind) -> Vec<&'static str> {
    use HookKind as K;
    let mut v: Vec<&'static str> = Vec::new();
    match kind {
        K::RelationCreated | K::RelationJoined | K::RelationChanged | K::RelationBroken => {
            v.extend(REL_VARS)
        }
        K::RelationDeparted => {
            v.extend(REL_VARS);
            v.push("JUJU_DEPARTING_UNIT");
        }
        K::StorageAttached | K::StorageDetaching => v.extend([
            "JUJU_STORAGE_ID",
            "JUJU_STORAGE_LOCATION",
            "JUJU_STORAGE_KIND",
        ]),
        K::PebbleReady => v.push("JUJU_WORKLOAD_NAME"),
        K::PebbleCustomNotice => v.extend([
            "JUJU_WORKLOAD_NAME",
            "JUJU_NOTICE_ID",
            "JUJU_NOTICE_TYPE",
            "JUJU_NOTICE_KEY",
        ]),
        K::PebbleCheckFailed | K::PebbleCheckRecovered => {
            v.extend(["JUJU_WORKLOAD_NAME", "JUJU_PEBBLE_CHECK_NAME"])
        }
        K::SecretChanged | K::SecretRotate => v.extend(["JUJU_SECRET_ID", "JUJU_SECRET_LABEL"]),
        K::SecretExpired | K::SecretRemove => v.extend([
            "JUJU_SECRET_ID",
            "JUJU_SECRET_LABEL",
            "JUJU_SECRET_REVISION",
        ]),
        K::Action => v.extend(["JUJU_ACTION_NAME", "JUJU_ACTION_UUID", "JUJU_ACTION_TAG"]),
        K::PreSeriesUpgrade => v.extend(["JUJU_TARGET_BASE", "JUJU_TARGET_SERIES"]),
        _ => {}
    }
    v
}

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
    /// A subordinate whose last container-scoped relation went away (§2.3 Subordinates).
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
    /// §2.15.12: the hook that must come next.
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
        // §2.1: the envelope names this charm, its substrate and a unit of it.
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
        for (i, step) in trace.steps.iter().enumerate() {
            let is_deploy = matches!(step.action, Action::Deploy { .. });
            if !self.deployed && !is_deploy {
                // §2.1: nothing happens to a unit before it is deployed.
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
    // Actions: update the remote state (§2.0 "remote snapshot")

    fn all_containers_ready(&mut self) {
        if self.k8s {
            for c in &self.spec.containers {
                *self.pebble_ready.entry(c.name.clone()).or_default() += 1;
                self.pebble_up.insert(c.name.clone());
            }
            self.services_running.clear();
            self.workload_faults.clear();
        }
    }

    /// A container's Pebble went down or came up anew: a fresh workload.
    fn fresh_workload(&mut self, container: &str, up: bool) {
        if up {
            self.pebble_up.insert(container.to_string());
        } else {
            self.pebble_up.remove(container);
        }
        self.services_running.remove(container);
        self.workload_faults.retain(|(c, _)| c != container);
    }

    /// K8s pod termination (§2.13): queued hooks are abandoned (a failed hook too: the
    /// Shutdown branch runs before hook-error handling, §2.0 step 12), `stop` if started;
    /// the new pod/agent then runs `start` (reboot resolver), lsc, pebble-ready.
    fn churn(&mut self, upgrade: bool) {
        self.shutdown_pending = self.running;
        self.queued = None;
        self.failed = None;
        self.restart_pending = true;
        if upgrade {
            self.upgrade_pending = true;
            self.churn_upgrade = true;
        }
        // §2.5: config-changed on agent restart is optional [M].
        self.config_pending = true;
        self.lsc_pending = true;
        self.all_containers_ready();
    }

    fn add_relation(&mut self, step: usize, what: &str, r: &RelationInit, at_deploy: bool) {
        if self.relations.contains_key(&r.id) {
            let msg = format!("relation id {} used twice", r.id);
            self.report(step, None, what, Rule::ActionShape, msg);
            return;
        }
        let ep = self.spec.endpoint(&r.endpoint);
        let peer = ep.is_some_and(|e| e.role == Role::Peer);
        if ep.is_none() && r.endpoint != "juju-info" {
            let msg = format!("relation {} on undeclared endpoint {:?}", r.id, r.endpoint);
            self.report(step, None, what, Rule::ActionShape, msg);
        }
        if peer && !at_deploy {
            let msg = format!(
                "peer relation {} ({}) integrated after deploy",
                r.id, r.endpoint
            );
            self.report(step, None, what, Rule::ActionShape, msg);
        }
        if peer && r.remote_app != self.app {
            let msg = format!("peer relation {} has remote app {:?}", r.id, r.remote_app);
            self.report(step, None, what, Rule::ActionShape, msg);
        }
        for u in &r.remote_units {
            if !unit_of(u, &r.remote_app) || *u == self.unit {
                let msg = format!(
                    "relation {}: remote unit {u:?} is not <{}>/<n>",
                    r.id, r.remote_app
                );
                self.report(step, None, what, Rule::ActionShape, msg);
            }
        }
        let members: BTreeSet<String> = r.remote_units.iter().cloned().collect();
        self.relations.insert(
            r.id,
            Rel {
                endpoint: r.endpoint.clone(),
                remote_app: r.remote_app.clone(),
                peer,
                declared: ep.is_some(),
                container_scope: ep.is_some_and(|e| e.scope == Scope::Container),
                ever: members.clone(),
                members,
                removed: false,
                suspended: false,
                created: false,
                broken: false,
                joined: BTreeSet::new(),
                changed_pending: None,
                data_pending: BTreeSet::new(),
                // A unit added to an existing application may find app data already written.
                app_data_written: at_deploy,
                app_pending: at_deploy,
                poisoned: false,
            },
        );
    }

    fn live_relation(&mut self, step: usize, what: &str, id: u32) -> bool {
        match self.relations.get(&id) {
            Some(r) if !r.removed => true,
            Some(_) => {
                let msg = format!("relation {id} was removed");
                self.report(step, None, what, Rule::ActionShape, msg);
                false
            }
            None => {
                let msg = format!("relation {id} does not exist");
                self.report(step, None, what, Rule::ActionShape, msg);
                false
            }
        }
    }

    fn peer_relation_id(&self) -> Option<u32> {
        self.relations
            .iter()
            .find(|(_, r)| r.peer && !r.removed)
            .map(|(id, _)| *id)
    }

    fn action(&mut self, step: usize, action: &Action) {
        let what = action.kind().as_str();
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
                self.leader = *leader;
                self.elected_pending = *leader;
                // §2.1: exactly one leader hook at startup; a leader that later loses the
                // lease still has the initial leader-settings version to catch up on.
                self.lsc_pending = true;
                for p in peers {
                    if !unit_of(p, &self.app) || *p == self.unit || !self.peers.insert(p.clone()) {
                        let msg = format!("bad or duplicate peer {p:?}");
                        self.report(step, None, what, Rule::ActionShape, msg);
                    }
                }
                self.ever_peers = self.peers.clone();
                for r in relations {
                    self.add_relation(step, what, r, true);
                }
                // The peer relation exists from deploy, with the other units as members.
                let spec = self.spec;
                for ep in spec.peer_endpoints() {
                    let found: Vec<&RelationInit> =
                        relations.iter().filter(|r| r.endpoint == ep.name).collect();
                    match found.as_slice() {
                        [r] => {
                            let units: BTreeSet<String> = r.remote_units.iter().cloned().collect();
                            if units != self.peers {
                                let msg = format!(
                                    "peer relation {} members {:?} differ from deploy peers {:?}",
                                    r.id, units, self.peers
                                );
                                self.report(step, None, what, Rule::ActionShape, msg);
                            }
                        }
                        [] => {
                            let msg = format!("no peer relation for peer endpoint {:?}", ep.name);
                            self.report(step, None, what, Rule::ActionShape, msg);
                        }
                        _ => {
                            let msg = format!("several peer relations for {:?}", ep.name);
                            self.report(step, None, what, Rule::ActionShape, msg);
                        }
                    }
                }
                for s in storage {
                    self.add_storage(step, what, s, true);
                }
                self.all_containers_ready();
            }
            Action::Config { .. } | Action::Trust { .. } | Action::AddressChange => {
                self.config_pending = true;
            }
            Action::Integrate { relation } => {
                self.add_relation(step, what, relation, false);
            }
            Action::RemoveRelation { relation_id } => {
                if self.live_relation(step, what, *relation_id) {
                    let r = self.relations.get_mut(relation_id).expect("checked");
                    r.removed = true;
                    let was_container = r.container_scope;
                    // §2.3 Subordinates: no Alive container-scoped relation left → Dying.
                    if self.spec.subordinate
                        && was_container
                        && self.dying.is_none()
                        && !self
                            .relations
                            .values()
                            .any(|r| r.container_scope && !r.removed)
                    {
                        self.dying = Some(DyingCause::Orphaned);
                        self.leader = false;
                    }
                }
            }
            Action::SuspendRelation { relation_id } => {
                if self.live_relation(step, what, *relation_id) {
                    let r = self.relations.get_mut(relation_id).expect("checked");
                    if r.peer || r.suspended {
                        let msg = format!("relation {relation_id} cannot be suspended");
                        self.report(step, None, what, Rule::ActionShape, msg);
                    } else {
                        r.suspended = true;
                    }
                }
            }
            Action::ResumeRelation { relation_id } => {
                if self.live_relation(step, what, *relation_id) {
                    let r = self.relations.get_mut(relation_id).expect("checked");
                    if !r.suspended {
                        let msg = format!("relation {relation_id} is not suspended");
                        self.report(step, None, what, Rule::ActionShape, msg);
                    } else {
                        r.suspended = false;
                        // §2.3: resumed relations are entered again; created fires again.
                        if r.broken {
                            r.broken = false;
                            r.created = false;
                            r.joined.clear();
                            r.changed_pending = None;
                            r.data_pending.clear();
                            r.app_pending = r.app_data_written;
                        }
                    }
                }
            }
            Action::RemoteUnitAdded { relation_id, unit } => {
                if self.live_relation(step, what, *relation_id) {
                    let own = self.unit.clone();
                    let r = self.relations.get_mut(relation_id).expect("checked");
                    let bad =
                        !unit_of(unit, &r.remote_app) || *unit == own || r.ever.contains(unit);
                    r.members.insert(unit.clone());
                    r.ever.insert(unit.clone());
                    if r.peer {
                        self.peers.insert(unit.clone());
                        self.ever_peers.insert(unit.clone());
                    }
                    if bad {
                        let msg = format!("unit {unit:?} is not a new unit of the remote app");
                        self.report(step, None, what, Rule::ActionShape, msg);
                    }
                }
            }
            Action::RemoteUnitRemoved { relation_id, unit } => {
                if self.live_relation(step, what, *relation_id) {
                    let r = self.relations.get_mut(relation_id).expect("checked");
                    let was = r.members.remove(unit);
                    if r.peer {
                        self.peers.remove(unit);
                        self.lsc_pending = true;
                    }
                    if !was {
                        let msg = format!("{unit:?} is not a member of relation {relation_id}");
                        self.report(step, None, what, Rule::ActionShape, msg);
                    }
                }
            }
            Action::RemoteUnitData {
                relation_id, unit, ..
            } => {
                if self.live_relation(step, what, *relation_id) {
                    let r = self.relations.get_mut(relation_id).expect("checked");
                    if r.members.contains(unit) {
                        r.data_pending.insert(unit.clone());
                    } else {
                        let msg = format!("{unit:?} is not a member of relation {relation_id}");
                        self.report(step, None, what, Rule::ActionShape, msg);
                    }
                }
            }
            Action::RemoteAppData { relation_id, .. } => {
                if self.live_relation(step, what, *relation_id) {
                    let r = self.relations.get_mut(relation_id).expect("checked");
                    r.app_data_written = true;
                    r.app_pending = true;
                }
            }
            Action::ScaleUp { unit } => {
                if !unit_of(unit, &self.app) || *unit == self.unit || self.ever_peers.contains(unit)
                {
                    let msg = format!("{unit:?} is not a new unit of {}", self.app);
                    self.report(step, None, what, Rule::ActionShape, msg);
                }
                self.peers.insert(unit.clone());
                self.ever_peers.insert(unit.clone());
                if let Some(id) = self.peer_relation_id() {
                    let r = self.relations.get_mut(&id).expect("exists");
                    r.members.insert(unit.clone());
                    r.ever.insert(unit.clone());
                }
            }
            Action::ScaleDown { unit } => {
                if !self.peers.remove(unit) {
                    let msg = format!("{unit:?} is not a peer");
                    self.report(step, None, what, Rule::ActionShape, msg);
                }
                // §7: a removed leader peer may hand this unit leader-settings-changed.
                self.lsc_pending = true;
                if let Some(id) = self.peer_relation_id() {
                    self.relations
                        .get_mut(&id)
                        .expect("exists")
                        .members
                        .remove(unit);
                }
            }
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
                    // §8.5: the docs' lsc for the ex-leader; also the code's catch-up lsc.
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
            Action::StorageAdded { storage } => self.add_storage(step, what, storage, false),
            Action::StorageDetached { storage } => match self.storage.get_mut(storage) {
                Some(s) if !s.detach_requested && !s.detached => s.detach_requested = true,
                _ => {
                    let msg = format!("storage {storage:?} is not attached");
                    self.report(step, None, what, Rule::ActionShape, msg);
                }
            },
            Action::WorkloadStarted { container } => {
                *self.pebble_ready.entry(container.clone()).or_default() += 1;
                self.fresh_workload(container, true);
            }
            Action::WorkloadStopped { container } => self.fresh_workload(container, false),
            // The workload's faults give no hook: each must be one the workload could
            // take on then (a running service exits; a fault not already there).
            Action::ServiceExited { container, service } => {
                let running = self.services_running.get_mut(container);
                if !self.pebble_up.contains(container)
                    || !running.is_some_and(|r| r.remove(service))
                {
                    let msg = format!("service {service:?} is not running in {container:?}");
                    self.report(step, None, what, Rule::ActionShape, msg);
                }
            }
            Action::WorkloadFault { container, fault } => {
                if !self.pebble_up.contains(container)
                    || !self.workload_faults.insert((container.clone(), *fault))
                {
                    let msg = format!(
                        "{container:?} cannot take on {} now (Pebble down, or already)",
                        fault.as_str()
                    );
                    self.report(step, None, what, Rule::ActionShape, msg);
                }
            }
            Action::CustomNotice {
                container,
                key,
                notice_id,
            } => self
                .notices
                .push((container.clone(), key.clone(), notice_id.to_string())),
            Action::CheckFailed { container, check } => {
                *self
                    .checks_failed
                    .entry((container.clone(), check.clone()))
                    .or_default() += 1;
            }
            Action::CheckRecovered { container, check } => {
                *self
                    .checks_recovered
                    .entry((container.clone(), check.clone()))
                    .or_default() += 1;
            }
            Action::SecretGranted { .. } => {}
            Action::SecretRevised { id, .. } => {
                self.revised.insert(id.clone());
            }
            Action::SecretRotateDue { id } => {
                self.rotate_due.insert(id.clone());
            }
            Action::SecretExpired { id, revision } => {
                self.expired.insert((id.clone(), *revision));
            }
            Action::SecretRevisionObsolete { id, revision } => {
                self.obsolete.insert((id.clone(), *revision));
            }
            Action::RunAction { name, id, params } => {
                if !self.action_ids.insert(*id) {
                    let msg = format!("action id {id} used twice");
                    self.report(step, None, what, Rule::ActionShape, msg);
                }
                self.actions.push_back((*id, name.clone(), params.clone()));
            }
            Action::Refresh => {
                if self.k8s {
                    // §2.6: on K8s the refresh replaces the pod.
                    self.churn(true);
                } else {
                    self.upgrade_pending = true;
                }
            }
            Action::PodRecreated | Action::CharmContainerRestarted => {
                if !self.k8s {
                    self.report(
                        step,
                        None,
                        what,
                        Rule::ActionShape,
                        "Kubernetes-only action",
                    );
                }
                self.churn(matches!(action, Action::PodRecreated));
            }
            Action::MachineRebooted => {
                // §2.13: start (if started), lsc, config-changed if the address changed.
                self.restart_pending = true;
                self.config_pending = true;
                self.lsc_pending = true;
                self.all_containers_ready();
            }
            Action::UpdateStatusTimer => self.update_status_pending = true,
            Action::CollectMetricsTimer => self.metrics_pending = true,
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
            Action::Resolved { retry } => {
                if !retry && let Some(f) = self.failed.take() {
                    // §2.14: `resolved --no-retry` commits the hook as if it had run (but
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
                // §2.12: leadership is resigned silently.
                self.leader = false;
                self.elected_pending = false;
            }
        }
    }

    fn add_storage(&mut self, step: usize, what: &str, id: &str, initial: bool) {
        match storage_name(id) {
            Some(name) if self.spec.storage(name).is_some() => {}
            _ => {
                let msg = format!("storage {id:?} is not <declared storage>/<n>");
                self.report(step, None, what, Rule::ActionShape, msg);
            }
        }
        if self.storage.contains_key(id) {
            let msg = format!("storage {id:?} provisioned twice");
            self.report(step, None, what, Rule::ActionShape, msg);
            return;
        }
        self.storage.insert(
            id.to_string(),
            Stor {
                initial,
                ..Stor::default()
            },
        );
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

    // -----------------------------------------------------------------------------------
    // Events

    fn event(&mut self, step: usize, index: usize, ev: &Event) {
        // A pebble-ready says its container's Pebble was up (a new agent brings every
        // container up without an action of its own).
        if ev.kind == HookKind::PebbleReady
            && let Some(c) = ev.env("JUJU_WORKLOAD_NAME")
        {
            self.pebble_up.insert(c.to_string());
        }
        // §2.14: after a failed hook, only actions until the same hook runs again.
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

        // §2.15.12: the queued follow-up has been attempted (or the pair was broken and
        // reported); exempt hooks leave it in place.
        if self
            .queued
            .is_some_and(|q| q == ev.kind || !self.pair_exempt(ev))
        {
            self.queued = None;
        }

        if ev.kind == HookKind::Action {
            // Actions are not retried; a failed action does not put the unit in error.
            if let Some(pos) = self
                .actions
                .iter()
                .position(|(id, _, _)| Some(id.to_string().as_str()) == ev.env("JUJU_ACTION_UUID"))
            {
                self.actions.remove(pos);
            }
            if ev.result == HookResult::Ok {
                self.apply_effects(ev);
            }
            return;
        }
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

    /// Hooks that may run inside a queued pair (§2.0: series-upgrade resolver outranks it;
    /// §2.15.12: machine-reboot start; §2.8: machine storage special cases).
    fn pair_exempt(&self, ev: &Event) -> bool {
        match ev.kind {
            HookKind::PreSeriesUpgrade | HookKind::PostSeriesUpgrade => true,
            HookKind::Start => !self.k8s && self.restart_pending,
            HookKind::StorageAttached | HookKind::StorageDetaching => !self.k8s,
            _ => false,
        }
    }

    /// The first broken rule for this (non-retry) event, given the state before it.
    fn check(&self, ev: &Event) -> Option<Found> {
        use HookKind as K;
        let kind = ev.kind;

        // §2.15.1: no event at all after remove.
        if self.removed {
            return found(Rule::AfterRemove, "event after remove");
        }
        // §2.15.13: after pre-series-upgrade nothing until post-series-upgrade.
        if self.series_active && kind != K::PostSeriesUpgrade {
            return found(Rule::SeriesUpgrade, "event during a series upgrade");
        }
        // §2.15.12 / §2.11: queued pairs are adjacent (actions included).
        if let Some(q) = self.queued
            && q != kind
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
        // §2.15.2 / §2.15.15: nothing before install (machine storage excepted; actions may
        // run while a failed install waits for its retry, §2.0 step 9).
        if !self.installed {
            if kind == K::Action {
                if self.failed.is_none() {
                    return found(Rule::Action, "action before install");
                }
            } else if kind != K::Install && (self.k8s || !kind.is_storage()) {
                return found(Rule::BeforeInstall, format!("{} before install", ev.hook));
            } else if kind.is_storage() && self.dying.is_some() && self.failed.is_none() {
                // §2.15.2 with §2.1: a unit removed before it installed gets no further
                // hook, not even a storage-detaching for what was attached at deploy.
                return found(
                    Rule::BeforeInstall,
                    format!("{} on a Dying unit that never installed", ev.hook),
                );
            }
        }
        // §2.15.14 (and §2.0 step 13: a Dying unit never installs). Two exceptions from
        // the resolver chain: a hook already *queued* still runs (§2.0 step 13: the
        // config-changed after upgrade-charm), and the upgrade of a recreated K8s pod runs
        // at agent start, before the Dying branch of nextOp (J-LOOP, §2.13).
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

        match kind {
            K::Install => {
                // §2.15.3: install at most once.
                if self.installed {
                    return found(Rule::StartStop, "install twice");
                }
                // §2.15.9 / §2.8: machine storage provisioned with the unit is attached
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
                // §2.15.3 and the trace convention: the first start after the first
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
                // §2.15.3: only if started since the last stop.
                if !self.running {
                    return found(Rule::StartStop, "stop while not started");
                }
                // A K8s pod shutdown stops the unit whatever its life (§2.13); the Dying
                // unit's own stop comes after its teardown (§2.12).
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
                // §2.15.3: remove once (§2.15.1 covers "twice"), only for a Dying unit.
                if self.dying.is_none() {
                    return found(Rule::StartStop, "remove of an Alive unit");
                }
                // §2.12: stop (if started) comes before remove.
                if self.running && !self.opts.forced_removal {
                    return found(Rule::Teardown, "remove before stop");
                }
                self.teardown_done("remove")
            }
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
                // §2.7: never before the first start.
                if !self.ever_started {
                    return found(Rule::BeforeStart, "update-status before the first start");
                }
                None
            }
            K::UpgradeCharm => {
                if !self.upgrade_pending {
                    return found(Rule::Unprompted, "upgrade-charm without a refresh");
                }
                None
            }
            K::LeaderElected => {
                // §2.15.8: only on the leader, once per gain.
                if !self.leader {
                    found(Rule::Leadership, "leader-elected on a non-leader")
                } else if !self.elected_pending {
                    found(Rule::Leadership, "leader-elected twice for one gain")
                } else {
                    None
                }
            }
            K::LeaderSettingsChanged => {
                if self.leader {
                    found(Rule::Leadership, "leader-settings-changed on the leader")
                } else if !self.lsc_pending {
                    found(Rule::Unprompted, "leader-settings-changed without a cause")
                } else {
                    None
                }
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
            K::CollectMetrics => {
                // §1.3: machine charms with metrics, before 3.6.11.
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
            k if k.is_relation() => self.check_relation(ev),
            k if k.is_storage() => self.check_storage(ev),
            k if k.is_workload() => self.check_workload(ev),
            k if k.is_secret() => self.check_secret(ev),
            K::Action => self.check_action(ev),
            _ => None,
        }
    }

    /// §2.12: what must be done before `stop`/`remove` of a Dying unit.
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

    fn check_relation(&self, ev: &Event) -> Option<Found> {
        use HookKind as K;
        let kind = ev.kind;
        let endpoint = ev.env("JUJU_RELATION")?;
        // §2.15.7: no hooks for undeclared endpoints or the implicit juju-info relation.
        if self.spec.endpoint(endpoint).is_none() {
            return if endpoint == "juju-info" {
                found(
                    Rule::UndeclaredEndpoint,
                    "hook for the implicit juju-info relation",
                )
            } else {
                found(
                    Rule::UndeclaredEndpoint,
                    format!("endpoint {endpoint:?} is not in metadata"),
                )
            };
        }
        let Some(id) = ev.relation_id() else {
            return None; // reported by the environment check
        };
        let Some(r) = self.relations.get(&id) else {
            return found(
                Rule::UnknownRelation,
                format!("relation {id} does not exist"),
            );
        };
        if r.poisoned || r.endpoint != endpoint {
            return None; // endpoint mismatch: reported by the environment check
        }
        let remote = ev.env("JUJU_REMOTE_UNIT").unwrap_or("");
        let breaking = r.removed || r.suspended || self.dying.is_some();

        // §2.15.4: nothing after broken.
        if r.broken {
            return rel_found(
                Rule::RelationCreated,
                id,
                format!("{} after relation-broken", kind),
            );
        }
        if kind == K::RelationCreated {
            // §2.15.4: once per entry (again only after suspend → broken → resume).
            if r.created {
                return rel_found(Rule::RelationCreated, id, "relation-created twice");
            }
            // §2.0 step 5: only for Alive, non-suspended relations.
            if r.removed || r.suspended {
                return rel_found(
                    Rule::RelationState,
                    id,
                    "relation-created for a removed or suspended relation",
                );
            }
            return None;
        }
        // §2.15.4: created before any other hook of the relation (the §2.3 race, behind
        // `broken_without_created`, allows a lone broken).
        if !r.created {
            let race = kind == K::RelationBroken && self.opts.broken_without_created && breaking;
            if !race {
                return rel_found(
                    Rule::RelationCreated,
                    id,
                    format!("{kind} before relation-created"),
                );
            }
        }
        // §2.15.6: after joined(u) the next hook for the relation is changed(u).
        if let Some(p) = &r.changed_pending
            && !(kind == K::RelationChanged && remote == p)
        {
            return rel_found(
                Rule::RelationMembership,
                id,
                format!("{kind} before changed({p}) that must follow joined({p})"),
            );
        }
        // §2.1: joined/changed/departed only once the unit has started (unless Dying).
        if matches!(
            kind,
            K::RelationJoined | K::RelationChanged | K::RelationDeparted
        ) && !self.ever_started
            && self.dying.is_none()
        {
            return found(Rule::BeforeStart, format!("{kind} before the first start"));
        }
        // §2.12: relation teardown waits for storage-detaching (code order, §8.1).
        if self.dying.is_some()
            && !self.opts.teardown_relations_before_storage
            && let Some((sid, _)) = self.storage.iter().find(|(_, s)| s.attached && !s.detached)
        {
            return found(
                Rule::Teardown,
                format!("relation teardown before {sid} was detached"),
            );
        }
        // §2.12: peers depart only after every non-peer relation is broken.
        if self.dying.is_some()
            && r.peer
            && let Some((oid, o)) = self
                .relations
                .iter()
                .find(|(_, o)| o.declared && !o.peer && o.created && !o.broken)
        {
            return found(
                Rule::Teardown,
                format!(
                    "peer {kind} before relation {oid} ({}) was broken",
                    o.endpoint
                ),
            );
        }

        match kind {
            K::RelationJoined => {
                // §2.15.6: once per membership.
                if r.joined.contains(remote) {
                    return rel_found(
                        Rule::RelationMembership,
                        id,
                        format!("joined({remote}) twice in one membership"),
                    );
                }
                // §2.3 rule 5: only for current remote members of a live relation.
                if !r.members.contains(remote) || breaking {
                    return rel_found(
                        Rule::RelationState,
                        id,
                        format!("joined({remote}) but {remote} is not in the relation"),
                    );
                }
                None
            }
            K::RelationChanged if remote.is_empty() => {
                // §2.3 rule 4: app-level changed; not to the leader on the peer relation,
                // not once the relation is being broken, only after the app data changed.
                if r.peer && self.leader {
                    return rel_found(
                        Rule::RelationState,
                        id,
                        "app-level peer relation-changed on the leader",
                    );
                }
                if breaking && !r.peer {
                    return rel_found(
                        Rule::RelationState,
                        id,
                        "app-level relation-changed while the relation is being broken",
                    );
                }
                if !r.app_pending {
                    return rel_found(
                        Rule::RelationState,
                        id,
                        "app-level relation-changed without an app data change",
                    );
                }
                None
            }
            K::RelationChanged => {
                // §2.15.6: only for joined units.
                if !r.joined.contains(remote) {
                    return rel_found(
                        Rule::RelationMembership,
                        id,
                        format!("changed({remote}) but {remote} has not joined"),
                    );
                }
                if r.changed_pending.as_deref() == Some(remote) {
                    return None;
                }
                // §2.3 rules 2, 3, 6: departures first; then only on a data change.
                if breaking || !r.members.contains(remote) {
                    return rel_found(
                        Rule::RelationState,
                        id,
                        format!("changed({remote}) while {remote} is leaving"),
                    );
                }
                if !r.data_pending.contains(remote) {
                    return rel_found(
                        Rule::RelationState,
                        id,
                        format!("changed({remote}) without a data change"),
                    );
                }
                None
            }
            K::RelationDeparted => {
                // §2.15.6: only for joined units.
                if !r.joined.contains(remote) {
                    return rel_found(
                        Rule::RelationMembership,
                        id,
                        format!("departed({remote}) but {remote} has not joined"),
                    );
                }
                // §2.3 rule 2: only once the unit left (or everything is being torn down).
                if r.members.contains(remote) && !breaking {
                    return rel_found(
                        Rule::RelationState,
                        id,
                        format!("departed({remote}) but {remote} is still in the relation"),
                    );
                }
                None
            }
            K::RelationBroken => {
                // §2.15.5: never for peers, never while members remain.
                if r.peer {
                    return rel_found(
                        Rule::RelationBroken,
                        id,
                        "relation-broken for a peer relation",
                    );
                }
                if !r.joined.is_empty() {
                    return rel_found(
                        Rule::RelationBroken,
                        id,
                        format!("relation-broken while {:?} remain", r.joined),
                    );
                }
                // §2.3 rule 3: only for a removed/suspended relation or a Dying unit.
                if !breaking {
                    return rel_found(
                        Rule::RelationState,
                        id,
                        "relation-broken for a live relation of an Alive unit",
                    );
                }
                None
            }
            _ => None,
        }
    }

    fn check_storage(&self, ev: &Event) -> Option<Found> {
        let sid = ev.env("JUJU_STORAGE_ID")?;
        let name = storage_name(sid)?;
        // §2.15.9: declared storage only.
        if self.spec.storage(name).is_none() {
            return found(
                Rule::Storage,
                format!("storage {name:?} is not in metadata"),
            );
        }
        let Some(s) = self.storage.get(sid) else {
            return found(Rule::Storage, format!("{sid} was never provisioned"));
        };
        if ev.kind == HookKind::StorageAttached {
            if s.attached {
                return found(Rule::Storage, format!("{sid} attached twice"));
            }
            // §2.8: an instance that goes away before its attached hook gets no hooks;
            // storage of a Dying unit is not attached.
            if s.detach_requested || s.detached {
                return found(Rule::Storage, format!("{sid} attached after its detach"));
            }
            if self.dying.is_some() {
                return found(Rule::Storage, format!("{sid} attached on a Dying unit"));
            }
            None
        } else {
            if !s.attached {
                return found(Rule::Storage, format!("{sid} detaching but never attached"));
            }
            if s.detached {
                return found(Rule::Storage, format!("{sid} detaching twice"));
            }
            if !s.detach_requested && self.dying.is_none() {
                return found(
                    Rule::Storage,
                    format!("{sid} detaching without a detach or teardown"),
                );
            }
            None
        }
    }

    fn check_workload(&self, ev: &Event) -> Option<Found> {
        use HookKind as K;
        let container = ev.env("JUJU_WORKLOAD_NAME")?;
        // §2.15.10: declared containers, Kubernetes only, version-gated kinds.
        if !self.k8s {
            return found(Rule::Workload, "workload event on a machine charm");
        }
        if self.spec.container(container).is_none() {
            return found(
                Rule::Workload,
                format!("container {container:?} is not in metadata"),
            );
        }
        match ev.kind {
            K::PebbleCustomNotice if !self.version.has_custom_notices() => {
                return found(
                    Rule::Workload,
                    format!("custom notices need Juju 3.4, trace is {}", self.version),
                );
            }
            K::PebbleCheckFailed | K::PebbleCheckRecovered if !self.version.has_check_events() => {
                return found(
                    Rule::Workload,
                    format!("check events need Juju 3.6, trace is {}", self.version),
                );
            }
            _ => {}
        }
        let pending = match ev.kind {
            K::PebbleReady => self.pebble_ready.get(container).copied().unwrap_or(0) > 0,
            K::PebbleCustomNotice => {
                let key = ev.env("JUJU_NOTICE_KEY").unwrap_or("");
                let nid = ev.env("JUJU_NOTICE_ID").unwrap_or("");
                self.notices
                    .iter()
                    .any(|(c, k, i)| c == container && k == key && i == nid)
            }
            K::PebbleCheckFailed | K::PebbleCheckRecovered => {
                let check = ev.env("JUJU_PEBBLE_CHECK_NAME").unwrap_or("");
                let map = if ev.kind == K::PebbleCheckFailed {
                    &self.checks_failed
                } else {
                    &self.checks_recovered
                };
                map.get(&(container.to_string(), check.to_string()))
                    .copied()
                    .unwrap_or(0)
                    > 0
            }
            _ => true,
        };
        if !pending {
            return found(
                Rule::Unprompted,
                format!("{} without a matching workload action", ev.hook),
            );
        }
        None
    }

    fn check_secret(&self, ev: &Event) -> Option<Found> {
        use HookKind as K;
        let id = ev.env("JUJU_SECRET_ID")?;
        let owner = self.owned.get(id).copied();
        if ev.kind == K::SecretChanged {
            // §2.15.11 / §2.10: never to the owning unit; for an app-owned secret never to
            // the leader (non-leader peers are consumers since J-PR16997, §8.8).
            match owner {
                Some(SecretOwner::Unit) => {
                    return found(Rule::Secret, format!("secret-changed for own secret {id}"));
                }
                Some(SecretOwner::App) if self.leader => {
                    return found(
                        Rule::Secret,
                        format!("secret-changed for app secret {id} on the leader"),
                    );
                }
                _ => {}
            }
            if !self.revised.contains(id) {
                return found(
                    Rule::Unprompted,
                    format!("secret-changed({id}) without a new revision"),
                );
            }
            return None;
        }
        // §2.15.11: rotate/expired/remove only to the owner unit, or the leader (app).
        match owner {
            None => {
                return found(
                    Rule::Secret,
                    format!("{} for {id}, not owned by this unit or its app", ev.hook),
                );
            }
            Some(SecretOwner::App) if !self.leader => {
                return found(
                    Rule::Secret,
                    format!("{} for app secret {id} on a non-leader", ev.hook),
                );
            }
            _ => {}
        }
        let rev = ev
            .env("JUJU_SECRET_REVISION")
            .and_then(|r| r.parse::<u32>().ok());
        let pending = match ev.kind {
            K::SecretRotate => self.rotate_due.contains(id),
            K::SecretExpired => rev.is_some_and(|r| self.expired.contains(&(id.to_string(), r))),
            K::SecretRemove => rev.is_some_and(|r| self.obsolete.contains(&(id.to_string(), r))),
            _ => true,
        };
        if !pending {
            return found(
                Rule::Unprompted,
                format!("{} for {id} without a matching secret action", ev.hook),
            );
        }
        None
    }

    fn check_action(&self, ev: &Event) -> Option<Found> {
        let name = ev.env("JUJU_ACTION_NAME")?;
        // §2.15.15: declared actions only.
        if self.spec.action(name).is_none() {
            return found(
                Rule::Action,
                format!("action {name:?} is not in actions.yaml"),
            );
        }
        let uuid = ev.env("JUJU_ACTION_UUID").unwrap_or("");
        let Some(pos) = self
            .actions
            .iter()
            .position(|(id, _, _)| id.to_string() == uuid)
        else {
            return found(
                Rule::Unprompted,
                format!("action {name} (id {uuid}) was never run"),
            );
        };
        let (_, want, params) = &self.actions[pos];
        if want != name {
            return found(
                Rule::Action,
                format!("action id {uuid} was {want}, event runs {name}"),
            );
        }
        // §2.11: FIFO.
        if pos != 0 {
            return found(
                Rule::Action,
                format!(
                    "action id {uuid} ran before earlier action id {}",
                    self.actions[0].0
                ),
            );
        }
        // Parameters the user gave reach action-get unchanged (defaults may be added).
        if let Some(got) = &ev.params {
            for (k, v) in params {
                if got.get(k) != Some(v) {
                    return found(
                        Rule::Action,
                        format!("parameter {k:?} differs from the one given to juju run"),
                    );
                }
            }
        } else if !params.is_empty() {
            return found(Rule::Action, "action event without the parameters given");
        }
        None
    }

    // -----------------------------------------------------------------------------------
    // Commit (J-RUNHOOK): what a hook that ran (or was skipped with --no-retry) changes.

    fn commit(&mut self, ev: &Event, charm_effects: bool) {
        use HookKind as K;
        match ev.kind {
            K::Install => {
                self.installed = true;
                // §2.5: config-changed follows install via the config hash mismatch.
                self.config_pending = true;
            }
            K::Start => {
                self.ever_started = true;
                self.running = true;
                self.first_start_queued = false;
                self.restart_pending = false;
            }
            K::ConfigChanged => {
                self.config_pending = false;
                if !self.ever_started {
                    self.first_start_queued = true;
                    if charm_effects {
                        self.queued = Some(K::Start);
                    }
                }
            }
            K::UpgradeCharm => {
                self.upgrade_pending = false;
                self.churn_upgrade = false;
                self.config_pending = true;
                // §2.6: the loop restarts after an upgrade: lsc on non-leaders.
                self.lsc_pending = true;
                if charm_effects {
                    self.queued = Some(K::ConfigChanged);
                }
            }
            K::Stop => {
                self.running = false;
                self.shutdown_pending = false;
            }
            K::Remove => self.removed = true,
            K::UpdateStatus => self.update_status_pending = false,
            K::CollectMetrics => self.metrics_pending = false,
            K::LeaderElected => self.elected_pending = false,
            K::LeaderSettingsChanged => self.lsc_pending = false,
            K::PreSeriesUpgrade => {
                self.series_prepare = None;
                self.series_active = true;
                self.series_complete = false;
            }
            K::PostSeriesUpgrade => {
                self.series_active = false;
                self.series_complete = false;
            }
            K::PebbleReady => {
                if let Some(c) = ev.env("JUJU_WORKLOAD_NAME")
                    && let Some(n) = self.pebble_ready.get_mut(c)
                {
                    *n = n.saturating_sub(1);
                }
            }
            K::PebbleCustomNotice => {
                let c = ev.env("JUJU_WORKLOAD_NAME").unwrap_or("");
                let k = ev.env("JUJU_NOTICE_KEY").unwrap_or("");
                let i = ev.env("JUJU_NOTICE_ID").unwrap_or("");
                if let Some(pos) = self
                    .notices
                    .iter()
                    .position(|(nc, nk, ni)| nc == c && nk == k && ni == i)
                {
                    self.notices.remove(pos);
                }
            }
            K::PebbleCheckFailed | K::PebbleCheckRecovered => {
                let key = (
                    ev.env("JUJU_WORKLOAD_NAME").unwrap_or("").to_string(),
                    ev.env("JUJU_PEBBLE_CHECK_NAME").unwrap_or("").to_string(),
                );
                let map = if ev.kind == K::PebbleCheckFailed {
                    &mut self.checks_failed
                } else {
                    &mut self.checks_recovered
                };
                if let Some(n) = map.get_mut(&key) {
                    *n = n.saturating_sub(1);
                }
            }
            K::SecretChanged => {
                if let Some(id) = ev.env("JUJU_SECRET_ID") {
                    self.revised.remove(id);
                }
            }
            K::SecretRemove => {
                if let (Some(id), Some(r)) = (
                    ev.env("JUJU_SECRET_ID"),
                    ev.env("JUJU_SECRET_REVISION").and_then(|r| r.parse().ok()),
                ) {
                    self.obsolete.remove(&(id.to_string(), r));
                }
            }
            // Rotation and expiry repeat until the charm acts (§2.10).
            K::SecretRotate | K::SecretExpired => {}
            K::StorageAttached | K::StorageDetaching => {
                if let Some(s) = ev
                    .env("JUJU_STORAGE_ID")
                    .and_then(|id| self.storage.get_mut(id))
                {
                    if ev.kind == K::StorageAttached {
                        s.attached = true;
                    } else {
                        s.detached = true;
                    }
                }
            }
            k if k.is_relation() => self.commit_relation(ev),
            _ => {}
        }
        if charm_effects {
            self.apply_effects(ev);
        }
    }

    fn commit_relation(&mut self, ev: &Event) {
        use HookKind as K;
        let Some(r) = ev.relation_id().and_then(|id| self.relations.get_mut(&id)) else {
            return;
        };
        let remote = ev.env("JUJU_REMOTE_UNIT").unwrap_or("").to_string();
        match ev.kind {
            K::RelationCreated => r.created = true,
            K::RelationJoined => {
                r.joined.insert(remote.clone());
                r.data_pending.remove(&remote);
                r.changed_pending = Some(remote);
            }
            K::RelationChanged if remote.is_empty() => r.app_pending = false,
            K::RelationChanged => {
                if r.changed_pending.as_deref() == Some(remote.as_str()) {
                    r.changed_pending = None;
                } else {
                    r.data_pending.remove(&remote);
                }
            }
            K::RelationDeparted => {
                r.joined.remove(&remote);
                r.data_pending.remove(&remote);
            }
            K::RelationBroken => {
                r.broken = true;
                r.created = false;
                r.joined.clear();
                r.changed_pending = None;
            }
            _ => {}
        }
    }

    fn apply_effects(&mut self, ev: &Event) {
        for e in &ev.effects {
            match e {
                Effect::ServicesRunning {
                    container,
                    services,
                } if self.pebble_up.contains(container) => {
                    let set = services.iter().cloned().collect();
                    self.services_running.insert(container.clone(), set);
                }
                Effect::SecretCreated { id, owner, .. } => {
                    self.owned.insert(id.clone(), *owner);
                }
                Effect::SecretRevised { id } => {
                    // §2.10: a new revision ends rotation.
                    self.rotate_due.remove(id);
                }
                Effect::SecretRemoved { id, revision } => match revision {
                    Some(r) => {
                        self.expired.remove(&(id.clone(), *r));
                    }
                    None => {
                        self.owned.remove(id);
                        self.rotate_due.remove(id);
                        self.expired.retain(|(i, _)| i != id);
                        self.obsolete.retain(|(i, _)| i != id);
                    }
                },
                _ => {}
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // §1.2: the environment

    fn check_env(&mut self, ev: &Event) -> Vec<(Rule, String)> {
        use HookKind as K;
        let mut out: Vec<(Rule, String)> = Vec::new();
        let kind = ev.kind;

        let missing: Vec<&str> = COMMON_VARS
            .iter()
            .copied()
            .filter(|v| !ev.env.contains_key(*v))
            .collect();
        if !missing.is_empty() {
            out.push((Rule::Env, format!("missing {}", missing.join(", "))));
        }
        let wanted = kind_vars(kind);
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|v| !ev.env.contains_key(*v))
            .collect();
        if !missing.is_empty() {
            out.push((Rule::Env, format!("{kind} without {}", missing.join(", "))));
        }
        let extra: Vec<&str> = KIND_VARS
            .iter()
            .copied()
            .filter(|v| ev.env.contains_key(*v) && !wanted.contains(v))
            .collect();
        if !extra.is_empty() {
            out.push((Rule::Env, format!("{} on {kind}", extra.join(", "))));
        }

        // Common values.
        if let Some(u) = ev.env("JUJU_UNIT_NAME")
            && u != self.unit
        {
            out.push((
                Rule::Env,
                format!("JUJU_UNIT_NAME {u:?} is not {}", self.unit),
            ));
        }
        if let Some(v) = ev.env("JUJU_VERSION")
            && v.parse::<JujuVersion>().ok() != Some(self.version)
        {
            out.push((
                Rule::Env,
                format!("JUJU_VERSION {v:?} is not {}", self.version),
            ));
        }
        if let (Some(n), Some(u)) = (ev.env("JUJU_MODEL_NAME"), ev.env("JUJU_MODEL_UUID")) {
            match &self.model {
                None => self.model = Some((n.to_string(), u.to_string())),
                Some((mn, mu)) if mn != n || mu != u => {
                    out.push((Rule::Env, "the model name/uuid changed".to_string()));
                }
                _ => {}
            }
        }
        if self.k8s
            && let Some(m) = ev.env("JUJU_MACHINE_ID")
            && !m.is_empty()
        {
            out.push((
                Rule::Env,
                "JUJU_MACHINE_ID is set on Kubernetes".to_string(),
            ));
        }
        if !self.spec.subordinate
            && let Some(p) = ev.env("JUJU_PRINCIPAL_UNIT")
            && !p.is_empty()
        {
            out.push((
                Rule::Env,
                "JUJU_PRINCIPAL_UNIT is set for a principal charm".to_string(),
            ));
        }
        if kind != K::Action && ev.params.is_some() {
            out.push((
                Rule::Env,
                "params on a hook that is not an action".to_string(),
            ));
        }

        // Hook name, JUJU_HOOK_NAME and JUJU_DISPATCH_PATH.
        let prefix: Option<&str> = match kind {
            k if k.is_relation() => ev.env("JUJU_RELATION"),
            k if k.is_storage() => ev.env("JUJU_STORAGE_ID").and_then(storage_name),
            k if k.is_workload() => ev.env("JUJU_WORKLOAD_NAME"),
            K::Action => ev.env("JUJU_ACTION_NAME"),
            _ => Some(""),
        };
        if let Some(p) = prefix {
            let expected = kind.hook_name((!p.is_empty()).then_some(p));
            if ev.hook != expected {
                out.push((
                    Rule::HookName,
                    format!("hook {:?} should be {expected:?} for {kind}", ev.hook),
                ));
            }
            let (hook_env, dispatch) = if kind == K::Action {
                (String::new(), format!("actions/{p}"))
            } else {
                (expected.clone(), format!("hooks/{expected}"))
            };
            if let Some(h) = ev.env("JUJU_HOOK_NAME")
                && h != hook_env
            {
                out.push((
                    Rule::HookName,
                    format!("JUJU_HOOK_NAME {h:?} should be {hook_env:?}"),
                ));
            }
            if let Some(d) = ev.env("JUJU_DISPATCH_PATH")
                && d != dispatch
            {
                out.push((
                    Rule::HookName,
                    format!("JUJU_DISPATCH_PATH {d:?} should be {dispatch:?}"),
                ));
            }
        } else if !ev.hook.ends_with(kind.as_str()) {
            out.push((
                Rule::HookName,
                format!("hook {:?} is not a {kind} hook", ev.hook),
            ));
        }

        // Per-kind values.
        if kind.is_relation() {
            self.check_relation_env(ev, &mut out);
        }
        if kind.is_storage()
            && let Some(id) = ev.env("JUJU_STORAGE_ID")
        {
            match storage_name(id) {
                None => out.push((
                    Rule::Env,
                    format!("JUJU_STORAGE_ID {id:?} is not <name>/<n>"),
                )),
                Some(name) => {
                    if let (Some(s), Some(k)) =
                        (self.spec.storage(name), ev.env("JUJU_STORAGE_KIND"))
                        && k != s.kind.as_str()
                    {
                        out.push((
                            Rule::Env,
                            format!("JUJU_STORAGE_KIND {k:?} but {name} is {}", s.kind.as_str()),
                        ));
                    }
                }
            }
        }
        if kind == K::PebbleCustomNotice
            && let Some(t) = ev.env("JUJU_NOTICE_TYPE")
            && t != "custom"
        {
            out.push((
                Rule::Env,
                format!("JUJU_NOTICE_TYPE {t:?} is not \"custom\""),
            ));
        }
        if kind.is_secret() {
            if let Some(id) = ev.env("JUJU_SECRET_ID")
                && !id.starts_with("secret:")
            {
                out.push((
                    Rule::Env,
                    format!("JUJU_SECRET_ID {id:?} is not a secret URI"),
                ));
            }
            if let Some(r) = ev.env("JUJU_SECRET_REVISION")
                && r.parse::<u32>().is_err()
            {
                out.push((
                    Rule::Env,
                    format!("JUJU_SECRET_REVISION {r:?} is not a number"),
                ));
            }
        }
        if kind == K::Action
            && let (Some(id), Some(tag)) = (ev.env("JUJU_ACTION_UUID"), ev.env("JUJU_ACTION_TAG"))
            && tag != format!("action-{id}")
        {
            out.push((
                Rule::Env,
                format!("JUJU_ACTION_TAG {tag:?} is not action-{id}"),
            ));
        }
        if kind == K::PreSeriesUpgrade
            && let (Some(want), Some(got)) = (&self.series_prepare, ev.env("JUJU_TARGET_BASE"))
            && want != got
        {
            out.push((
                Rule::Env,
                format!("JUJU_TARGET_BASE {got:?} but the upgrade targets {want:?}"),
            ));
        }
        out
    }

    fn check_relation_env(&self, ev: &Event, out: &mut Vec<(Rule, String)>) {
        use HookKind as K;
        let kind = ev.kind;
        let (Some(ep), Some(rid)) = (ev.env("JUJU_RELATION"), ev.env("JUJU_RELATION_ID")) else {
            return;
        };
        match rid.rsplit_once(':') {
            Some((e, n)) if e == ep && n.parse::<u32>().is_ok() => {}
            _ => out.push((
                Rule::Env,
                format!("JUJU_RELATION_ID {rid:?} is not {ep}:<id>"),
            )),
        }
        let remote = ev.env("JUJU_REMOTE_UNIT");
        let app = ev.env("JUJU_REMOTE_APP");
        match (kind, remote) {
            (K::RelationCreated | K::RelationBroken, Some(u)) if !u.is_empty() => out.push((
                Rule::Env,
                format!("JUJU_REMOTE_UNIT {u:?} on {kind} (must be empty)"),
            )),
            (K::RelationJoined | K::RelationDeparted, Some("")) => {
                out.push((Rule::Env, format!("empty JUJU_REMOTE_UNIT on {kind}")))
            }
            (_, Some(u)) if !u.is_empty() => {
                if let Some(a) = app
                    && !unit_of(u, a)
                {
                    out.push((
                        Rule::Env,
                        format!("JUJU_REMOTE_UNIT {u:?} is not a unit of {a}"),
                    ));
                }
                if u == self.unit {
                    out.push((Rule::Env, "JUJU_REMOTE_UNIT is this unit".to_string()));
                }
            }
            _ => {}
        }
        let Some(r) = ev.relation_id().and_then(|id| self.relations.get(&id)) else {
            return;
        };
        if r.endpoint != ep {
            out.push((
                Rule::Env,
                format!(
                    "JUJU_RELATION {ep:?} but relation {rid} is on {:?}",
                    r.endpoint
                ),
            ));
        }
        if let Some(a) = app
            && a != r.remote_app
        {
            out.push((
                Rule::Env,
                format!(
                    "JUJU_REMOTE_APP {a:?} but the relation is with {:?}",
                    r.remote_app
                ),
            ));
        }
        // §2.3 rule 2: the departing unit is this unit when this unit/app is not Alive,
        // else the remote unit. An orphaned subordinate may race its own death.
        if kind == K::RelationDeparted
            && let (Some(d), Some(u)) = (ev.env("JUJU_DEPARTING_UNIT"), remote)
        {
            let ok = match self.dying {
                Some(DyingCause::Removal) => d == self.unit,
                Some(DyingCause::Orphaned) => d == self.unit || d == u,
                None => d == u,
            };
            if !ok {
                out.push((
                    Rule::Env,
                    format!(
                        "JUJU_DEPARTING_UNIT {d:?} (unit {u}, this unit {})",
                        self.unit
                    ),
                ));
            }
        }
    }
}

/// §2.14: the retry of a failed hook is the same hook with the same environment, except
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
            "step 7 (event 2, db-relation-joined): §2.15.6 joined(app/1) twice in one membership"
        );
    }
}
