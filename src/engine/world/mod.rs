//! The world: one unit's view of its Juju deployment, kept the way the unit agent keeps it.
//!
//! Juju's unit agent ("uniter") compares two records (juju-model.md §L2.0): a **remote state**, what the
//! controller says is true now (config, relations and their members, leadership, storage,
//! secrets, queued actions, life), and a **local state**, what the unit's hooks have already
//! seen (installed? started? which relation members joined? which config hash ran?). Each time
//! it is idle it walks a fixed priority chain of resolvers and runs the first hook that closes
//! a difference between the two.
//!
//! [`World`] keeps both records. [`World::apply`] applies an [`Action`] — it only ever changes
//! the remote side (and for a few actions, like pod churn, the agent's own memory).
//! [`World::candidates`] walks the priority chain and returns every hook Juju may deliver next;
//! usually one, several where Juju's order is unspecified (Go map order over relations and
//! storage, juju-model.md §L2.0) or where a §L8 switch admits both readings. [`World::deliver`] turns a
//! candidate into an [`Event`] with its dispatch environment, and [`World::complete`] commits
//! the hook's effect on the local state once its outcome is known (a failed hook commits
//! nothing and is re-delivered, §L2.14).
//!
//! Everything here is pure: no I/O, no clock, no randomness.
//!
//! # Layout
//!
//! This file holds the [`World`] itself and the four entry points that every action family
//! takes part in, each a short dispatch: [`World::enabled`] and [`World::apply`] hand an
//! action to its family, [`World::candidates`] walks the resolver chain (one resolver per
//! step, each in its family's file), and the commit of a successful hook goes to the family
//! of the hook. Delivering, completing and observing hooks stay here too. One file per action
//! family, each with the state it owns, its queries, and its share of the four entry points:
//!
//! - `lifecycle`: deploy, removal and teardown, the timers (update-status, collect-metrics),
//!   hook errors and `resolved`, the unit's own install/start/stop/remove hooks, and the
//!   steps of the resolver chain that are not any one family's (retries, queued hooks,
//!   before install, nextOp).
//! - `config`: config, trust and address changes, and `config-changed`.
//! - `relations`: relations coming and going, suspended and resumed (`Relations`), and their
//!   members and databags, the peer units of this application among them (`Members`).
//! - `leadership`: the lease, leader settings, and the silent resignation.
//! - `storage`: storage instances attached and detached.
//! - `workloads`: containers, their Pebble (ready, notices, checks) and the workload's faults.
//! - `secrets`: secrets granted, revised, rotated, expired and made obsolete.
//! - `actions`: `juju run` and its queue.
//! - `upgrades`: `juju refresh` (`upgrade-charm`) and machine series upgrades.
//! - `churn`: pods recreated, charm containers restarted, machines rebooted: the agent
//!   restarts.
//! - `host`: a machine charm's machine (its snaps and services) and its faults.
//! - `env`: the event for a hook and its dispatch environment (juju-model.md §L1).

use super::action::{Action, ActionKind, Databag, Effect};
use super::event::{Event, HookResult};
use super::options::EngineOptions;
use super::trace::Phase;
use crate::spec::{CharmSpec, Substrate};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

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

pub use actions::PendingAction;
use churn::Restart;
pub use config::config_value_fits;
pub use host::Host;
pub use relations::{Relation, RemoteUnit, hook_relation};
pub use secrets::{Secret, SecretRole, secret_id};
pub use storage::{StorageInstance, split_storage_id};
pub use upgrades::{SeriesUpgrade, series_for_base};
pub use workloads::{Container, WorkloadEvent};

/// The model name put in `JUJU_MODEL_NAME`.
pub const MODEL_NAME: &str = "charmfuzz";
/// The model UUID put in `JUJU_MODEL_UUID` (fixed, so traces are reproducible).
pub const MODEL_UUID: &str = "7b1d2c3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";

/// Life of the unit (Juju's `life` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    Alive,
    /// Removal requested: teardown hooks run (juju-model.md §L2.12).
    Dying,
    /// `remove` ran (or there was nothing to tear down): no event ever again.
    Dead,
}

/// A hook the agent may run next: the resolver's answer before it becomes an [`Event`].
#[derive(Debug, Clone, PartialEq)]
pub enum Hook {
    Install,
    Start,
    ConfigChanged,
    UpdateStatus,
    UpgradeCharm,
    Stop,
    Remove,
    LeaderElected,
    LeaderSettingsChanged,
    PreSeriesUpgrade { target_base: String },
    PostSeriesUpgrade,
    CollectMetrics,
    RelationCreated { rel: u32 },
    RelationJoined { rel: u32, unit: String },
    RelationChanged { rel: u32, unit: Option<String> },
    RelationDeparted { rel: u32, unit: String },
    RelationBroken { rel: u32 },
    StorageAttached { id: String },
    StorageDetaching { id: String },
    Workload(WorkloadEvent),
    SecretChanged { id: String },
    SecretRotate { id: String },
    SecretExpired { id: String, revision: u32 },
    SecretRemove { id: String, revision: u32 },
    Action(PendingAction),
}

/// Why an action cannot be applied to the world right now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{action} is not possible here: {reason}")]
pub struct NotApplicable {
    pub action: ActionKind,
    pub reason: String,
}

/// Why a hook cannot be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliverError {
    #[error("a hook is already running; complete it first")]
    Busy,
    #[error("nothing is running")]
    Idle,
    #[error("Juju would not deliver {0} now")]
    NotACandidate(String),
}

/// One unit's view of its deployment. See the module docs.
#[derive(Debug, Clone)]
pub struct World {
    spec: Arc<CharmSpec>,
    pub opts: EngineOptions,
    pub app: String,
    pub unit: String,
    pub deployed: bool,
    pub life: Life,
    // --- local state: what hooks have run ---
    pub installed: bool,
    pub started: bool,
    pub stopped: bool,
    /// Leadership as the agent believes it (local `Leader` flag).
    pub local_leader: bool,
    // --- remote state ---
    /// The leadership lease is held by this unit.
    pub leader: bool,
    /// The user's config (only keys set explicitly; defaults come from the spec).
    pub config: BTreeMap<String, Value>,
    pub trusted: bool,
    pub address_version: u32,
    /// Config, trust and address as seen by the last `config-changed` (None: never ran).
    config_seen: Option<(BTreeMap<String, Value>, bool, u32)>,
    /// Other units of this application, alive now.
    pub peers: BTreeSet<String>,
    next_peer: u32,
    pub relations: Vec<Relation>,
    pub storage: Vec<StorageInstance>,
    pub containers: Vec<Container>,
    /// A machine charm's machine, as the target reports it, and its faults.
    pub host: Host,
    workload_queue: VecDeque<WorkloadEvent>,
    pub secrets: Vec<Secret>,
    action_queue: VecDeque<PendingAction>,
    // --- the agent's own bookkeeping ---
    /// A hook queued by the previous hook's commit (`config-changed` → `start`,
    /// `upgrade-charm` → `config-changed`), run before anything else (juju-model.md §L2.0).
    queued: Option<Hook>,
    /// The hook that failed, re-delivered until it succeeds (juju-model.md §L2.14).
    failed: Option<(Hook, Event)>,
    /// The hook being run right now, waiting for [`World::complete`].
    in_flight: Option<(Hook, Event)>,
    lsc_pending: bool,
    update_status_pending: bool,
    collect_metrics_pending: bool,
    /// A restart was detected (machine reboot, K8s charm container or pod): `start` is due.
    restart_pending: bool,
    /// K8s pod churn: the charm directory is gone, `upgrade-charm` is due first (J-LOOP).
    pod_upgrade_pending: bool,
    /// K8s pod or charm container terminating: `stop` is due, then the new agent starts.
    shutdown: Option<Restart>,
    /// `juju refresh` on a machine: `upgrade-charm` due at nextOp.
    upgrade_pending: bool,
    pub series: SeriesUpgrade,
    pub phase: Phase,
    /// The unit is being removed with `--force`: no storage or relation teardown.
    pub forced_removal: bool,
    next_relation_id: u32,
    next_action_id: u32,
    next_notice_id: u32,
    next_secret: u32,
    next_storage_index: BTreeMap<String, u32>,
    /// Count of events delivered, for `JUJU_CONTEXT_ID`.
    events_delivered: u32,
}

/// The families of actions, one file each: [`World::enabled`] and [`World::apply`] (and the
/// decoder, which generates each family's arguments) hand an action to its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Lifecycle,
    Config,
    /// Relations coming and going.
    Relations,
    /// Who is on the other side of a relation and what they wrote; peer units too.
    Members,
    Leadership,
    Storage,
    Workloads,
    Secrets,
    Actions,
    Upgrades,
    Churn,
    Host,
}

impl Family {
    pub(crate) fn of(kind: ActionKind) -> Family {
        use ActionKind as K;
        match kind {
            K::Deploy
            | K::UpdateStatusTimer
            | K::CollectMetricsTimer
            | K::Resolved
            | K::RemoveUnit
            | K::RemoveApplication
            | K::DestroyModel
            | K::ForceRemoveUnit => Family::Lifecycle,
            K::Config | K::Trust | K::AddressChange => Family::Config,
            K::Integrate | K::RemoveRelation | K::SuspendRelation | K::ResumeRelation => {
                Family::Relations
            }
            K::RemoteUnitAdded
            | K::RemoteUnitRemoved
            | K::RemoteUnitData
            | K::RemoteAppData
            | K::ScaleUp
            | K::ScaleDown => Family::Members,
            K::LeadershipGained | K::LeadershipLost | K::LeaderSet => Family::Leadership,
            K::StorageAdded | K::StorageDetached => Family::Storage,
            K::WorkloadStarted
            | K::WorkloadStopped
            | K::CustomNotice
            | K::CheckFailed
            | K::CheckRecovered
            | K::ServiceExited
            | K::WorkloadFault => Family::Workloads,
            K::SecretGranted
            | K::SecretRevised
            | K::SecretRotateDue
            | K::SecretExpired
            | K::SecretRevisionObsolete => Family::Secrets,
            K::RunAction => Family::Actions,
            K::Refresh | K::SeriesUpgradePrepare | K::SeriesUpgradeComplete => Family::Upgrades,
            K::PodRecreated | K::CharmContainerRestarted | K::MachineRebooted => Family::Churn,
            K::SnapRefreshFails
            | K::SnapRefreshHeld
            | K::InstallFails
            | K::HostServiceFailed
            | K::HostDiskFull
            | K::HostRecovered => Family::Host,
        }
    }
}

/// A step of the resolver chain: `Some` answers (the hooks Juju may run now, none if the unit
/// must wait), `None` passes to the next step.
type Resolver = fn(&World) -> Option<Vec<Hook>>;

impl World {
    /// A world for `spec` before anything was deployed.
    pub fn new(spec: Arc<CharmSpec>, opts: EngineOptions) -> World {
        let app = spec.name.clone();
        let containers = if spec.substrate == Substrate::Kubernetes {
            spec.containers
                .iter()
                .map(|c| Container {
                    name: c.name.clone(),
                    up: false,
                    notices: BTreeMap::new(),
                    checks: BTreeMap::new(),
                    running: BTreeSet::new(),
                    faults: BTreeSet::new(),
                })
                .collect()
        } else {
            Vec::new()
        };
        World {
            unit: format!("{app}/0"),
            app,
            spec,
            opts,
            deployed: false,
            life: Life::Alive,
            installed: false,
            started: false,
            stopped: false,
            local_leader: false,
            leader: false,
            config: BTreeMap::new(),
            trusted: false,
            address_version: 0,
            config_seen: None,
            peers: BTreeSet::new(),
            next_peer: 1,
            relations: Vec::new(),
            storage: Vec::new(),
            containers,
            host: Host::default(),
            workload_queue: VecDeque::new(),
            secrets: Vec::new(),
            action_queue: VecDeque::new(),
            queued: None,
            failed: None,
            in_flight: None,
            lsc_pending: false,
            update_status_pending: false,
            collect_metrics_pending: false,
            restart_pending: false,
            pod_upgrade_pending: false,
            shutdown: None,
            upgrade_pending: false,
            series: SeriesUpgrade::None,
            phase: Phase::Setup,
            forced_removal: false,
            next_relation_id: 0,
            next_action_id: 1,
            next_notice_id: 1,
            next_secret: 0,
            next_storage_index: BTreeMap::new(),
            events_delivered: 0,
        }
    }

    pub fn spec(&self) -> &CharmSpec {
        &self.spec
    }
    pub fn spec_arc(&self) -> &Arc<CharmSpec> {
        &self.spec
    }
    pub fn is_kubernetes(&self) -> bool {
        self.spec.substrate == Substrate::Kubernetes
    }
    pub fn is_dying(&self) -> bool {
        self.life == Life::Dying
    }
    pub fn is_dead(&self) -> bool {
        self.life == Life::Dead
    }
    /// The unit is in a hook-error state (juju-model.md §L2.14).
    pub fn in_error(&self) -> bool {
        self.failed.is_some()
    }
    /// The hook that is running now, if any.
    pub fn in_flight(&self) -> Option<&Event> {
        self.in_flight.as_ref().map(|(_, e)| e)
    }

    // ------------------------------------------------------------------------------------
    // Applying actions (remote state changes)
    // ------------------------------------------------------------------------------------

    /// Whether `kind` can happen now at all (arguments aside): what the decoder offers.
    pub fn enabled(&self, kind: ActionKind) -> bool {
        use ActionKind as K;
        if self.in_flight.is_some() || self.is_dead() {
            return false;
        }
        if kind == K::Deploy {
            return !self.deployed;
        }
        if !self.deployed {
            return false;
        }
        let alive = self.life == Life::Alive;
        match Family::of(kind) {
            Family::Lifecycle => self.lifecycle_enabled(kind, alive),
            Family::Config => self.config_enabled(kind, alive),
            Family::Relations => self.relations_enabled(kind, alive),
            Family::Members => self.members_enabled(kind, alive),
            Family::Leadership => self.leadership_enabled(kind, alive),
            Family::Storage => self.storage_enabled(kind, alive),
            Family::Workloads => self.workloads_enabled(kind),
            Family::Secrets => self.secrets_enabled(kind, alive),
            Family::Actions => self.actions_enabled(),
            Family::Upgrades => self.upgrades_enabled(kind, alive),
            Family::Churn => self.churn_enabled(kind, alive),
            Family::Host => self.host_enabled(kind),
        }
    }

    /// Apply an action to the remote state. Fails (and changes nothing) when the action is
    /// not possible now; the decoder never produces such actions, hand-written traces may.
    pub fn apply(&mut self, action: &Action) -> Result<(), NotApplicable> {
        let kind = action.kind();
        let na = |reason: &str| NotApplicable {
            action: kind,
            reason: reason.to_string(),
        };
        if !self.enabled(kind) {
            return Err(na("not enabled in the current state"));
        }
        match Family::of(kind) {
            Family::Lifecycle => self.apply_lifecycle(action, na)?,
            Family::Config => self.apply_config(action, na)?,
            Family::Relations => self.apply_relations(action, na)?,
            Family::Members => self.apply_members(action, na)?,
            Family::Leadership => self.apply_leadership(action),
            Family::Storage => self.apply_storage(action, na)?,
            Family::Workloads => self.apply_workloads(action, na)?,
            Family::Secrets => self.apply_secrets(action, na)?,
            Family::Actions => self.apply_actions(action, na)?,
            Family::Upgrades => self.apply_upgrades(action, na)?,
            Family::Churn => self.apply_churn(action),
            Family::Host => self.apply_host(action, na)?,
        }
        self.resign_if_needed();
        self.refresh_life();
        Ok(())
    }

    // ------------------------------------------------------------------------------------
    // The resolver chain (juju-model.md §L2.0)
    // ------------------------------------------------------------------------------------

    /// Every hook Juju may deliver next, most typical first. Empty when the unit is idle.
    pub fn candidates(&self) -> Vec<Hook> {
        if !self.deployed || self.is_dead() || self.in_flight.is_some() {
            return Vec::new();
        }
        // Juju's priority order; the first step that answers decides.
        const CHAIN: [Resolver; 14] = [
            World::retry_candidates,            // §L2.14: a failed hook is re-run
            World::series_candidates,           // step 2: series upgrade (machine)
            World::shutdown_candidates,         // K8s shutdown, then step 4 (pod churn)
            World::queued_candidates,           // follow-ups queued by the last hook
            World::restart_candidates,          // step 3: reboot / agent restart
            World::before_install_candidates,   // nothing but storage before install
            World::relation_created_candidates, // step 5
            World::leadership_candidates,       // step 6
            World::workload_candidates,         // step 7
            World::secret_candidates,           // step 8
            World::action_candidates,           // step 9
            World::forced_removal_candidates,   // a forced removal skips the teardown
            World::storage_step_candidates,     // step 11
            World::next_op_candidates,          // step 14: nextOp
        ];
        CHAIN
            .iter()
            .find_map(|resolve| resolve(self))
            .unwrap_or_default()
    }

    // ------------------------------------------------------------------------------------
    // Delivering and committing hooks
    // ------------------------------------------------------------------------------------

    /// Start running `hook` (which must be one of [`World::candidates`]); returns the event
    /// to dispatch. Call [`World::complete`] with its outcome before anything else.
    pub fn deliver(&mut self, hook: &Hook) -> Result<Event, DeliverError> {
        if self.in_flight.is_some() {
            return Err(DeliverError::Busy);
        }
        if !self.candidates().contains(hook) {
            return Err(DeliverError::NotACandidate(format!("{hook:?}")));
        }
        Ok(self.start(hook))
    }

    /// Start a hook the caller has just taken from [`World::candidates`] with nothing
    /// applied since: the decoder's hot path, which need not walk the resolver chain twice.
    pub(crate) fn deliver_candidate(&mut self, hook: &Hook) -> Event {
        debug_assert!(self.in_flight.is_none() && self.candidates().contains(hook));
        self.start(hook)
    }

    fn start(&mut self, hook: &Hook) -> Event {
        let event = match &self.failed {
            // A retry is the same hook with the same environment (juju-model.md §L2.14).
            Some((h, e)) if h == hook => {
                let mut e = e.clone();
                e.result = HookResult::Ok;
                e.effects.clear();
                e.env
                    .insert("JUJU_CONTEXT_ID".into(), self.context_id(&e.hook));
                e
            }
            _ => self.event_for(hook),
        };
        if let Hook::Action(_) = hook {
            self.action_queue.pop_front();
        }
        if let Hook::Workload(_) = hook {
            self.workload_queue.pop_front();
        }
        self.events_delivered += 1;
        self.in_flight = Some((hook.clone(), event.clone()));
        event
    }

    /// Record how the running hook ended and what the charm did. On success Juju commits
    /// the hook (and the effects); on failure the hook will be re-delivered (juju-model.md §L2.14).
    pub fn complete(&mut self, result: HookResult, effects: &[Effect]) -> Result<(), DeliverError> {
        let (hook, event) = self.in_flight.take().ok_or(DeliverError::Idle)?;
        let retried = self.failed.as_ref().is_some_and(|(h, _)| *h == hook);
        match result {
            HookResult::Ok => {
                if retried {
                    self.failed = None;
                }
                self.commit(&hook);
                for e in effects {
                    self.observe(e);
                }
            }
            HookResult::Error => {
                if let Hook::Action(_) = hook {
                    // A failed action is just a failed action; the unit is not in error.
                } else {
                    self.failed = Some((hook, event));
                }
            }
        }
        self.refresh_life();
        Ok(())
    }

    /// Commit a hook's effect on the local state (J-RUNHOOK).
    fn commit(&mut self, hook: &Hook) {
        if matches!(self.queued.as_ref(), Some(q) if q == hook) {
            self.queued = None;
        }
        match hook {
            Hook::Install
            | Hook::Start
            | Hook::UpdateStatus
            | Hook::CollectMetrics
            | Hook::Stop
            | Hook::Remove => self.commit_lifecycle(hook),
            Hook::ConfigChanged => self.commit_config_changed(),
            Hook::UpgradeCharm | Hook::PreSeriesUpgrade { .. } | Hook::PostSeriesUpgrade => {
                self.commit_upgrade(hook)
            }
            Hook::LeaderElected | Hook::LeaderSettingsChanged => self.commit_leadership(hook),
            Hook::RelationCreated { .. }
            | Hook::RelationJoined { .. }
            | Hook::RelationChanged { .. }
            | Hook::RelationDeparted { .. }
            | Hook::RelationBroken { .. } => self.commit_relation(hook),
            Hook::StorageAttached { .. } | Hook::StorageDetaching { .. } => {
                self.commit_storage(hook)
            }
            Hook::Workload(_) | Hook::Action(_) => {}
            Hook::SecretChanged { .. }
            | Hook::SecretRotate { .. }
            | Hook::SecretExpired { .. }
            | Hook::SecretRemove { .. } => self.commit_secret(hook),
        }
        self.resign_if_needed();
    }

    /// Learn something the charm did (reported by the target after a successful hook).
    pub fn observe(&mut self, effect: &Effect) {
        match effect {
            Effect::SecretCreated { id, owner, label } => {
                if self.secret(id).is_none() {
                    self.secrets.push(Secret {
                        id: id.clone(),
                        role: SecretRole::Owner(*owner),
                        label: label.clone(),
                        content: Databag::new(),
                        latest_revision: 1,
                        tracked_revision: 1,
                        removed_revisions: BTreeSet::new(),
                        changed_pending: false,
                        rotate_pending: false,
                        expired_pending: BTreeSet::new(),
                        remove_pending: BTreeSet::new(),
                        remove_done: BTreeSet::new(),
                    });
                }
            }
            Effect::SecretRevised { id } => {
                if let Some(s) = self.secret_mut(id) {
                    s.latest_revision += 1;
                    // A new revision ends the rotation (juju-model.md §L2.10).
                    s.rotate_pending = false;
                }
            }
            Effect::SecretRemoved { id, revision } => match revision {
                None => self.secrets.retain(|s| s.id != *id),
                Some(r) => {
                    if let Some(s) = self.secret_mut(id) {
                        s.removed_revisions.insert(*r);
                        s.expired_pending.remove(r);
                        s.remove_pending.remove(r);
                    }
                }
            },
            Effect::SecretTracked { id, revision } => {
                if let Some(s) = self.secret_mut(id) {
                    s.tracked_revision = *revision;
                    s.changed_pending =
                        s.tracked_revision != s.latest_revision && s.changed_pending;
                }
            }
            Effect::StorageRequested { storage, count } => {
                for _ in 0..*count {
                    let Some(sp) = self.spec.storage(storage) else {
                        break;
                    };
                    let max = sp.multiple.max.unwrap_or(u32::MAX);
                    if self.live_storage_count(storage) >= max {
                        break;
                    }
                    let idx = self.next_storage_index(storage);
                    let name = storage.clone();
                    self.add_storage(&name, idx);
                }
            }
            // Only a Pebble that is up runs services (a hook queued before its container
            // went down cannot reach it).
            Effect::ServicesRunning {
                container,
                services,
            } => {
                if let Some(c) = self.container_mut(container).filter(|c| c.up) {
                    c.running = services.iter().cloned().collect();
                }
            }
            Effect::HostChanged { snaps, services } => {
                self.host.snaps = snaps.iter().cloned().collect();
                self.host.services = services.iter().cloned().collect();
            }
            Effect::ChecksDeclared { container, checks } => {
                if let Some(c) = self.container_mut(container) {
                    for ch in checks {
                        c.checks.entry(ch.clone()).or_insert(false);
                    }
                }
            }
            Effect::RelationDataSet {
                relation_id,
                app,
                data,
            } => {
                if let Some(r) = self.relation_mut(*relation_id) {
                    if *app {
                        r.local_app_data = data.clone();
                    } else {
                        r.local_unit_data = data.clone();
                    }
                }
            }
            Effect::RebootRequested => {
                if !self.is_kubernetes() && self.life == Life::Alive {
                    self.restart_pending = self.started;
                    self.loop_restart();
                }
            }
        }
    }

    /// Make checks known before the charm declares them (from the fuzzing config's samples).
    pub fn declare_checks(&mut self, container: &str, checks: &[String]) {
        self.observe(&Effect::ChecksDeclared {
            container: container.to_string(),
            checks: checks.to_vec(),
        });
    }
}
