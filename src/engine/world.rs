//! The world: one unit's view of its Juju deployment, kept the way the unit agent keeps it.
//!
//! Juju's unit agent ("uniter") compares two records (spec §2.0): a **remote state**, what the
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
//! storage, spec §2.0) or where a §8 switch admits both readings. [`World::deliver`] turns a
//! candidate into an [`Event`] with its dispatch environment, and [`World::complete`] commits
//! the hook's effect on the local state once its outcome is known (a failed hook commits
//! nothing and is re-delivered, §2.14).
//!
//! Everything here is pure: no I/O, no clock, no randomness.

use super::action::{
    Action, ActionKind, Databag, Effect, RelationInit, SecretOrigin, SecretOwner, WorkloadFault,
};
use super::event::{Event, HookKind, HookResult};
use super::options::EngineOptions;
use super::trace::Phase;
use crate::spec::{CharmSpec, Role, Scope, Substrate};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// The model name put in `JUJU_MODEL_NAME`.
pub const MODEL_NAME: &str = "charmfuzz";
/// The model UUID put in `JUJU_MODEL_UUID` (fixed, so traces are reproducible).
pub const MODEL_UUID: &str = "7b1d2c3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";

/// Life of the unit (Juju's `life` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    Alive,
    /// Removal requested: teardown hooks run (spec §2.12).
    Dying,
    /// `remove` ran (or there was nothing to tear down): no event ever again.
    Dead,
}

/// A remote unit of a relation (for the peer relation: another unit of this application).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUnit {
    pub data: Databag,
    /// Bumped on every write of its databag (Juju's settings version).
    pub version: u32,
}

/// One relation the unit is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub id: u32,
    pub endpoint: String,
    pub remote_app: String,
    pub peer: bool,
    pub container_scoped: bool,
    /// Remote: the relation is being removed.
    pub dying: bool,
    /// Remote: a cross-model relation is suspended (treated as broken, §2.3).
    pub suspended: bool,
    /// Remote: the units in the relation now.
    pub remote_units: BTreeMap<String, RemoteUnit>,
    /// Remote: the remote application databag and its version (0 = never written).
    pub app_data: Databag,
    pub app_version: u32,
    /// Local: `relation-created` has run (since the last entry).
    pub created: bool,
    /// Local: members whose `relation-joined` ran, with the settings version last seen.
    pub joined: BTreeMap<String, u32>,
    /// Local: the app databag version last seen by a `relation-changed`.
    pub app_seen: u32,
    /// Local: `relation-joined(u)` committed, so `relation-changed(u)` must come next
    /// (Juju's `ChangedPending`).
    pub changed_pending: Option<String>,
    /// Data this unit wrote: its own unit databag and (as leader) its app databag.
    pub local_unit_data: Databag,
    pub local_app_data: Databag,
    /// Next unit number for the remote application.
    pub next_unit: u32,
}

impl Relation {
    /// `endpoint:id`, as in `JUJU_RELATION_ID`.
    pub fn juju_id(&self) -> String {
        format!("{}:{}", self.endpoint, self.id)
    }
    /// Whether Juju is taking this unit out of the relation (membership treated as empty).
    fn breaking(&self, unit_dying: bool) -> bool {
        unit_dying || self.dying || self.suspended
    }
}

/// A storage instance (`name/index`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageInstance {
    pub name: String,
    pub index: u32,
    /// Remote: detach requested.
    pub dying: bool,
    /// Local: `storage-attached` committed.
    pub attached: bool,
    /// Local: `storage-detaching` committed (the instance is gone).
    pub detached: bool,
}

impl StorageInstance {
    pub fn id(&self) -> String {
        format!("{}/{}", self.name, self.index)
    }
}

/// A workload container of a Kubernetes charm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    /// Pebble is reachable (`can_connect()` is true).
    pub up: bool,
    /// Custom notice keys recorded so far, with their notice ids.
    pub notices: BTreeMap<String, u32>,
    /// Checks known to exist in the container's plan, and whether each is failing.
    pub checks: BTreeMap<String, bool>,
    /// Services running in its Pebble, as the target last reported them
    /// ([`Effect::ServicesRunning`]).
    pub running: BTreeSet<String>,
    /// How its workload misbehaves now ([`Action::WorkloadFault`]).
    pub faults: BTreeSet<WorkloadFault>,
}

impl Container {
    /// A new Pebble and a fresh workload: the charm's layers (and their checks), the
    /// services it started and the workload's faults are gone.
    fn fresh_workload(&mut self) {
        self.checks.clear();
        self.running.clear();
        self.faults.clear();
    }

    /// The faults its workload could take on now.
    pub fn possible_faults(&self) -> Vec<WorkloadFault> {
        if !self.up {
            return Vec::new();
        }
        WorkloadFault::ALL
            .into_iter()
            .filter(|f| !self.faults.contains(f))
            .collect()
    }
}

/// A workload event waiting in the agent's FIFO (spec §2.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkloadEvent {
    Ready {
        container: String,
    },
    Notice {
        container: String,
        key: String,
        id: u32,
    },
    CheckFailed {
        container: String,
        check: String,
    },
    CheckRecovered {
        container: String,
        check: String,
    },
}

/// This unit's relationship to a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRole {
    /// Someone else owns it; this unit reads it.
    Consumer(SecretOrigin),
    /// The charm created it (owned by this unit, or by the application).
    Owner(SecretOwner),
}

/// A secret the unit owns or consumes (spec §2.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub id: String,
    pub role: SecretRole,
    pub label: Option<String>,
    /// Content of the latest revision, where the engine knows it (consumed secrets).
    pub content: Databag,
    pub latest_revision: u32,
    /// Consumers: the revision the unit tracks (`secret-get` without `--refresh`).
    pub tracked_revision: u32,
    /// Revisions removed by the owner.
    pub removed_revisions: BTreeSet<u32>,
    /// Pending hooks.
    pub changed_pending: bool,
    pub rotate_pending: bool,
    pub expired_pending: BTreeSet<u32>,
    pub remove_pending: BTreeSet<u32>,
    /// Revisions whose `secret-remove` already ran (once per revision).
    pub remove_done: BTreeSet<u32>,
}

/// A `juju run` waiting for the unit.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingAction {
    pub name: String,
    pub id: u32,
    /// What `action-get` returns: the user's parameters plus schema defaults.
    pub params: serde_json::Map<String, Value>,
}

/// The state of a machine series upgrade (spec §2.13).
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
    workload_queue: VecDeque<WorkloadEvent>,
    pub secrets: Vec<Secret>,
    action_queue: VecDeque<PendingAction>,
    // --- the agent's own bookkeeping ---
    /// A hook queued by the previous hook's commit (`config-changed` → `start`,
    /// `upgrade-charm` → `config-changed`), run before anything else (spec §2.0).
    queued: Option<Hook>,
    /// The hook that failed, re-delivered until it succeeds (spec §2.14).
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

/// Which restart a shutdown leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    /// The pod is replaced: charm dir and unit state are gone.
    Pod,
    /// Only the charm container restarts.
    CharmContainer,
}

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
    /// The unit is in a hook-error state (spec §2.14).
    pub fn in_error(&self) -> bool {
        self.failed.is_some()
    }
    pub fn relation(&self, id: u32) -> Option<&Relation> {
        self.relations.iter().find(|r| r.id == id)
    }
    fn relation_mut(&mut self, id: u32) -> Option<&mut Relation> {
        self.relations.iter_mut().find(|r| r.id == id)
    }
    pub fn storage_instance(&self, id: &str) -> Option<&StorageInstance> {
        self.storage.iter().find(|s| s.id() == id)
    }
    fn storage_mut(&mut self, id: &str) -> Option<&mut StorageInstance> {
        self.storage.iter_mut().find(|s| s.id() == id)
    }
    pub fn container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }
    fn container_mut(&mut self, name: &str) -> Option<&mut Container> {
        self.containers.iter_mut().find(|c| c.name == name)
    }
    pub fn secret(&self, id: &str) -> Option<&Secret> {
        self.secrets.iter().find(|s| s.id == id)
    }
    fn secret_mut(&mut self, id: &str) -> Option<&mut Secret> {
        self.secrets.iter_mut().find(|s| s.id == id)
    }
    /// The peer relation, if the charm has a peer endpoint.
    pub fn peer_relation(&self) -> Option<&Relation> {
        self.relations.iter().find(|r| r.peer)
    }
    /// The config as `config-get` returns it: charm defaults overlaid by the user's values.
    pub fn effective_config(&self) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for opt in &self.spec.config {
            if let Some(d) = &opt.default {
                out.insert(opt.name.clone(), d.clone());
            }
        }
        for (k, v) in &self.config {
            if v.is_null() {
                out.remove(k);
                if let Some(d) = self.spec.config_option(k).and_then(|o| o.default.clone()) {
                    out.insert(k.clone(), d);
                }
            } else {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }
    fn config_dirty(&self) -> bool {
        match &self.config_seen {
            None => true,
            Some((c, t, a)) => {
                *c != self.effective_config() || *t != self.trusted || *a != self.address_version
            }
        }
    }
    /// Pending actions (`juju run`) not yet delivered.
    pub fn pending_actions(&self) -> impl Iterator<Item = &PendingAction> {
        self.action_queue.iter()
    }
    /// The hook that is running now, if any.
    pub fn in_flight(&self) -> Option<&Event> {
        self.in_flight.as_ref().map(|(_, e)| e)
    }

    /// Number of the next relation id (ids are never reused).
    pub fn next_relation_id(&self) -> u32 {
        self.next_relation_id
    }
    pub fn next_action_id(&self) -> u32 {
        self.next_action_id
    }
    pub fn next_notice_id(&self) -> u32 {
        self.next_notice_id
    }
    /// The name the next added peer unit gets.
    pub fn next_peer_name(&self) -> String {
        format!("{}/{}", self.app, self.next_peer)
    }
    /// The next index for a new instance of storage `name`.
    pub fn next_storage_index(&self, name: &str) -> u32 {
        self.next_storage_index.get(name).copied().unwrap_or(0)
    }
    /// Storage instances of `name` that exist (attached or about to be).
    pub fn live_storage_count(&self, name: &str) -> u32 {
        self.storage
            .iter()
            .filter(|s| s.name == name && !s.dying && !s.detached)
            .count() as u32
    }
    /// A name for the `n`th relation's remote application on `endpoint` (Juju app names
    /// allow only letters, digits and dashes between letter-bearing segments).
    pub fn remote_app_name(&self, endpoint: &str) -> String {
        let base = format!("{}-app", endpoint.replace('_', "-"));
        let taken: BTreeSet<&str> = self
            .relations
            .iter()
            .map(|r| r.remote_app.as_str())
            .collect();
        if !taken.contains(base.as_str()) {
            return base;
        }
        for c in 'b'..='z' {
            let name = format!("{base}-{c}");
            if !taken.contains(name.as_str()) {
                return name;
            }
        }
        format!("{base}-zz")
    }
    /// The next remote unit name of relation `rel`.
    pub fn next_remote_unit(&self, rel: &Relation) -> String {
        format!("{}/{}", rel.remote_app, rel.next_unit)
    }
    /// A fresh secret id in Juju's `secret:<20 chars>` form.
    pub fn fresh_secret_id(&self) -> String {
        secret_id(self.next_secret)
    }
    /// Relations of `endpoint` that count against its `limit`.
    pub fn endpoint_relation_count(&self, endpoint: &str) -> usize {
        self.relations
            .iter()
            .filter(|r| r.endpoint == endpoint && !r.dying)
            .count()
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
        let k8s = self.is_kubernetes();
        let v = self.opts.juju_version;
        let upgrading = self.series != SeriesUpgrade::None;
        match kind {
            K::Deploy => unreachable!(),
            K::Config => alive && !self.changeable_options().is_empty(),
            K::Trust | K::AddressChange => alive,
            K::Integrate => alive && !self.integrable_endpoints().is_empty(),
            K::RemoveRelation => alive && self.relations.iter().any(|r| self.removable(r)),
            K::SuspendRelation => {
                alive
                    && self
                        .relations
                        .iter()
                        .any(|r| self.removable(r) && !r.suspended)
            }
            K::ResumeRelation => alive && self.relations.iter().any(|r| r.suspended && !r.dying),
            K::RemoteUnitAdded => self.relations.iter().any(|r| self.can_add_remote_unit(r)),
            K::RemoteUnitRemoved => self.relations.iter().any(|r| {
                !r.peer && !r.container_scoped && live_rel(r) && !r.remote_units.is_empty()
            }),
            K::RemoteUnitData => self
                .relations
                .iter()
                .any(|r| live_rel(r) && !r.remote_units.is_empty()),
            K::RemoteAppData => self.relations.iter().any(|r| self.can_write_remote_app(r)),
            K::ScaleUp => alive && (self.peers.len() as u32) + 1 < self.opts.max_peers.max(1),
            K::ScaleDown => alive && !self.peers.is_empty(),
            K::LeadershipGained => alive && !self.leader && !upgrading,
            K::LeadershipLost => alive && self.leader && !upgrading,
            K::LeaderSet => alive && !self.leader,
            K::StorageAdded => alive && !self.addable_storage().is_empty(),
            K::StorageDetached => alive && !self.detachable_storage().is_empty(),
            K::WorkloadStarted => k8s && self.containers.iter().any(|c| !c.up),
            K::WorkloadStopped => k8s && self.containers.iter().any(|c| c.up),
            K::CustomNotice => {
                k8s && v.has_custom_notices() && self.containers.iter().any(|c| c.up)
            }
            K::CheckFailed => {
                k8s && v.has_check_events()
                    && self
                        .containers
                        .iter()
                        .any(|c| c.up && c.checks.values().any(|f| !f))
            }
            K::CheckRecovered => {
                k8s && v.has_check_events()
                    && self
                        .containers
                        .iter()
                        .any(|c| c.up && c.checks.values().any(|f| *f))
            }
            K::SecretGranted => alive && self.installed,
            K::SecretRevised => alive && self.secrets.iter().any(|s| self.revisable(s)),
            K::SecretRotateDue => alive && self.secrets.iter().any(|s| self.owns_now(s)),
            K::SecretExpired => self
                .secrets
                .iter()
                .any(|s| alive && self.owns_now(s) && !self.live_revisions(s).is_empty()),
            K::SecretRevisionObsolete => {
                alive
                    && self
                        .secrets
                        .iter()
                        .any(|s| self.owns_now(s) && !self.obsolete_candidates(s).is_empty())
            }
            K::RunAction => !self.spec.actions.is_empty(),
            // Not inside a queued pair (§2.15.12): the pair finishes first.
            K::Refresh => {
                alive
                    && self.installed
                    && !upgrading
                    && self.shutdown.is_none()
                    && self.queued.is_none()
            }
            K::PodRecreated | K::CharmContainerRestarted => {
                k8s && alive && self.installed && self.shutdown.is_none() && self.queued.is_none()
            }
            K::MachineRebooted => !k8s && alive && self.installed,
            K::UpdateStatusTimer => alive && self.started && !self.update_status_pending,
            K::CollectMetricsTimer => {
                !k8s && self.spec.has_metrics
                    && v.has_collect_metrics()
                    && alive
                    && self.started
                    && !self.collect_metrics_pending
            }
            K::SeriesUpgradePrepare => !k8s && alive && self.started && !upgrading,
            K::SeriesUpgradeComplete => self.series == SeriesUpgrade::Upgrading,
            K::Resolved => self.failed.is_some(),
            // Not while a pod or charm container is being replaced: the agent is gone
            // until the new one starts.
            K::RemoveUnit | K::RemoveApplication | K::DestroyModel | K::ForceRemoveUnit => {
                // Nor between the members of a queued pair: Juju would finish the pair first
                // and §2.15.14 forbids its config-changed on a Dying unit.
                alive
                    && !upgrading
                    && self.shutdown.is_none()
                    && self.queued.is_none()
                    && (kind != K::ForceRemoveUnit || self.opts.forced_removal)
            }
            K::ServiceExited => {
                k8s && self.opts.workload_faults
                    && self
                        .containers
                        .iter()
                        .any(|c| c.up && !c.running.is_empty())
            }
            K::WorkloadFault => {
                k8s && self.opts.workload_faults
                    && self
                        .containers
                        .iter()
                        .any(|c| !c.possible_faults().is_empty())
            }
        }
    }

    /// Config options the user can change now (secret options need a user secret to point at).
    pub fn changeable_options(&self) -> Vec<&crate::spec::ConfigOption> {
        let has_user_secret = self.user_secrets().next().is_some();
        self.spec
            .config
            .iter()
            .filter(|o| match o.ty {
                crate::spec::ConfigType::Secret => {
                    self.opts.juju_version.has_secret_config() && has_user_secret
                }
                _ => true,
            })
            .collect()
    }
    /// User secrets granted to this application (values for `secret` config options).
    pub fn user_secrets(&self) -> impl Iterator<Item = &Secret> {
        self.secrets
            .iter()
            .filter(|s| matches!(s.role, SecretRole::Consumer(SecretOrigin::User)))
    }
    /// Non-peer endpoints with room for another relation (at most two at a time each, to
    /// keep worlds small; `limit:` lowers that).
    pub fn integrable_endpoints(&self) -> Vec<&crate::spec::Endpoint> {
        self.spec
            .endpoints
            .iter()
            .filter(|e| e.role != Role::Peer && e.name != "juju-info")
            .filter(|e| !(self.spec.subordinate && e.scope == Scope::Container))
            .filter(|e| {
                let cap = e.limit.unwrap_or(2).min(2) as usize;
                self.endpoint_relation_count(&e.name) < cap
            })
            .collect()
    }
    /// Relations a user may remove: alive, non-peer.
    pub fn removable(&self, r: &Relation) -> bool {
        !r.peer && !r.dying
    }
    pub fn can_add_remote_unit(&self, r: &Relation) -> bool {
        !r.peer
            && !r.container_scoped
            && live_rel(r)
            && (r.remote_units.len() as u32) < self.opts.max_remote_units
    }
    /// The remote leader may write the app databag of a live relation; on the peer relation
    /// only another unit can be leader, so only while this unit is not.
    pub fn can_write_remote_app(&self, r: &Relation) -> bool {
        live_rel(r)
            && if r.peer {
                !self.leader && !self.peers.is_empty()
            } else {
                true
            }
    }
    pub fn addable_storage(&self) -> Vec<&crate::spec::StorageSpec> {
        self.spec
            .storage
            .iter()
            .filter(|s| {
                let max = s.multiple.max.unwrap_or(s.multiple.min.max(1) + 2);
                self.live_storage_count(&s.name) < max
            })
            .collect()
    }
    /// Attached instances that may be detached without going below the storage's minimum.
    pub fn detachable_storage(&self) -> Vec<&StorageInstance> {
        self.storage
            .iter()
            .filter(|s| s.attached && !s.dying && !s.detached)
            .filter(|s| {
                let min = self
                    .spec
                    .storage(&s.name)
                    .map(|sp| sp.multiple.min)
                    .unwrap_or(0);
                self.live_storage_count(&s.name) > min
            })
            .collect()
    }
    /// Whether the unit receives owner hooks for `s` right now: its own unit-owned secrets,
    /// and app-owned ones while it leads (spec §2.10).
    pub fn owns_now(&self, s: &Secret) -> bool {
        match s.role {
            SecretRole::Owner(SecretOwner::Unit) => true,
            SecretRole::Owner(SecretOwner::App) => self.leader,
            SecretRole::Consumer(_) => false,
        }
    }
    /// Whether someone else may publish a new revision of `s` that this unit consumes.
    pub fn revisable(&self, s: &Secret) -> bool {
        match &s.role {
            SecretRole::Consumer(_) => true,
            // §8.8: another unit of this application (the leader) revised an app-owned
            // secret this non-leader reads.
            SecretRole::Owner(SecretOwner::App) => {
                self.opts.secret_changed_for_owner_app_peers && !self.leader
            }
            SecretRole::Owner(SecretOwner::Unit) => false,
        }
    }
    /// Revisions of an owned secret that still exist.
    pub fn live_revisions(&self, s: &Secret) -> Vec<u32> {
        (1..=s.latest_revision)
            .filter(|r| !s.removed_revisions.contains(r))
            .collect()
    }
    /// Old revisions that could stop being tracked (and so get `secret-remove`).
    pub fn obsolete_candidates(&self, s: &Secret) -> Vec<u32> {
        (1..s.latest_revision)
            .filter(|r| {
                !s.removed_revisions.contains(r)
                    && !s.remove_done.contains(r)
                    && !s.remove_pending.contains(r)
            })
            .collect()
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
        use Action as A;
        match action {
            A::Deploy {
                unit,
                leader,
                peers,
                relations,
                storage,
            } => {
                if unit.split('/').next() != Some(self.app.as_str()) {
                    return Err(na("the unit must belong to the charm's application"));
                }
                self.check_deploy(peers, relations, storage)
                    .map_err(|r| na(&r))?;
                self.unit = unit.clone();
                self.deployed = true;
                self.leader = *leader;
                for p in peers {
                    self.peers.insert(p.clone());
                    self.bump_peer_counter(p);
                }
                for r in relations {
                    self.add_relation(r);
                }
                for s in storage {
                    let (name, index) = split_storage_id(s).ok_or_else(|| na("bad storage id"))?;
                    self.add_storage(name, index);
                }
                // The leader-settings watcher fires once at agent start (spec §2.4): a
                // non-leader gets leader-settings-changed during setup.
                self.lsc_pending = true;
            }
            A::Config { changes } => {
                if changes.is_empty() {
                    return Err(na("no option changed"));
                }
                for (k, v) in changes {
                    let opt = self
                        .spec
                        .config_option(k)
                        .ok_or_else(|| na("unknown config option"))?;
                    if !v.is_null() && !config_value_fits(opt.ty, v) {
                        return Err(na("value does not fit the option's type"));
                    }
                }
                for (k, v) in changes {
                    self.config.insert(k.clone(), v.clone());
                }
            }
            A::Trust { trusted } => self.trusted = *trusted,
            A::AddressChange => self.address_version += 1,
            A::Integrate { relation } => {
                let ep = self
                    .spec
                    .endpoint(&relation.endpoint)
                    .ok_or_else(|| na("unknown endpoint"))?;
                if ep.role == Role::Peer {
                    return Err(na("the peer relation exists from deploy"));
                }
                if !self
                    .integrable_endpoints()
                    .iter()
                    .any(|e| e.name == relation.endpoint)
                {
                    return Err(na("the endpoint has no room for another relation"));
                }
                if relation.id < self.next_relation_id {
                    return Err(na("relation ids are never reused"));
                }
                if self
                    .relations
                    .iter()
                    .any(|r| r.remote_app == relation.remote_app)
                {
                    return Err(na("that application is already related"));
                }
                self.add_relation(relation);
            }
            A::RemoveRelation { relation_id } => {
                let rel = self
                    .relation(*relation_id)
                    .ok_or_else(|| na("no such relation"))?;
                if !self.removable(rel) {
                    return Err(na("the relation cannot be removed"));
                }
                let last_container = rel.container_scoped
                    && self
                        .relations
                        .iter()
                        .filter(|r| r.container_scoped && !r.dying)
                        .count()
                        == 1;
                self.relation_mut(*relation_id).unwrap().dying = true;
                // A subordinate dies with its last container-scoped relation (J-RELST).
                if self.spec.subordinate && last_container {
                    self.begin_teardown();
                }
            }
            A::SuspendRelation { relation_id } => {
                let rel = self
                    .relation(*relation_id)
                    .ok_or_else(|| na("no such relation"))?;
                if !self.removable(rel) || rel.suspended {
                    return Err(na("the relation cannot be suspended"));
                }
                self.relation_mut(*relation_id).unwrap().suspended = true;
            }
            A::ResumeRelation { relation_id } => {
                let rel = self
                    .relation_mut(*relation_id)
                    .ok_or_else(|| na("no such relation"))?;
                if !rel.suspended || rel.dying {
                    return Err(na("the relation is not suspended"));
                }
                rel.suspended = false;
            }
            A::RemoteUnitAdded { relation_id, unit } => {
                let rel = self
                    .relation(*relation_id)
                    .ok_or_else(|| na("no such relation"))?;
                if !self.can_add_remote_unit(rel) || *unit != self.next_remote_unit(rel) {
                    return Err(na("expected the next unit of the remote application"));
                }
                let rel = self.relation_mut(*relation_id).unwrap();
                rel.remote_units.insert(
                    unit.clone(),
                    RemoteUnit {
                        data: Databag::new(),
                        version: 0,
                    },
                );
                rel.next_unit += 1;
            }
            A::RemoteUnitRemoved { relation_id, unit } => {
                let rel = self
                    .relation_mut(*relation_id)
                    .ok_or_else(|| na("no such relation"))?;
                if rel.peer || rel.container_scoped || rel.remote_units.remove(unit).is_none() {
                    return Err(na("no such remote unit"));
                }
            }
            A::RemoteUnitData {
                relation_id,
                unit,
                data,
            } => {
                let rel = self
                    .relation_mut(*relation_id)
                    .ok_or_else(|| na("no such relation"))?;
                if !live_rel(rel) {
                    return Err(na("the relation is going away"));
                }
                let ru = rel
                    .remote_units
                    .get_mut(unit)
                    .ok_or_else(|| na("no such remote unit"))?;
                ru.data = data.clone();
                ru.version += 1;
            }
            A::RemoteAppData { relation_id, data } => {
                let rel = self
                    .relation(*relation_id)
                    .ok_or_else(|| na("no such relation"))?;
                if !self.can_write_remote_app(rel) {
                    return Err(na("nobody else may write that application databag"));
                }
                let rel = self.relation_mut(*relation_id).unwrap();
                rel.app_data = data.clone();
                rel.app_version += 1;
            }
            A::ScaleUp { unit } => {
                if *unit != self.next_peer_name() {
                    return Err(na("expected the next unit of this application"));
                }
                self.peers.insert(unit.clone());
                self.next_peer += 1;
                if let Some(rel) = self.relations.iter_mut().find(|r| r.peer) {
                    rel.remote_units.insert(
                        unit.clone(),
                        RemoteUnit {
                            data: Databag::new(),
                            version: 0,
                        },
                    );
                }
            }
            A::ScaleDown { unit } => {
                if !self.peers.remove(unit) {
                    return Err(na("no such peer unit"));
                }
                if let Some(rel) = self.relations.iter_mut().find(|r| r.peer) {
                    rel.remote_units.remove(unit);
                }
            }
            A::LeadershipGained => self.leader = true,
            A::LeadershipLost => {
                self.leader = false;
                // Code reading: resigning runs no hook; the docs' reading (§8.5) gives the
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
            A::StorageAdded { storage } => {
                let (name, index) =
                    split_storage_id(storage).ok_or_else(|| na("bad storage id"))?;
                if !self.addable_storage().iter().any(|s| s.name == name)
                    || index != self.next_storage_index(name)
                {
                    return Err(na("expected the next instance of a storage with room"));
                }
                self.add_storage(name, index);
            }
            A::StorageDetached { storage } => {
                if !self.detachable_storage().iter().any(|s| s.id() == *storage) {
                    return Err(na("no such attached storage instance"));
                }
                self.storage_mut(storage).unwrap().dying = true;
            }
            A::WorkloadStarted { container } => {
                let c = self
                    .container_mut(container)
                    .ok_or_else(|| na("no such container"))?;
                if c.up {
                    return Err(na("Pebble is already up"));
                }
                c.up = true;
                self.workload_queue.push_back(WorkloadEvent::Ready {
                    container: container.clone(),
                });
            }
            A::WorkloadStopped { container } => {
                let c = self
                    .container_mut(container)
                    .ok_or_else(|| na("no such container"))?;
                if !c.up {
                    return Err(na("Pebble is already down"));
                }
                // A restarted workload container starts a fresh Pebble: the layers the
                // charm added, and the checks they declared, are gone until it adds them
                // again.
                c.up = false;
                c.fresh_workload();
            }
            A::CustomNotice {
                container,
                key,
                notice_id,
            } => {
                let next = self.next_notice_id;
                let c = self
                    .container_mut(container)
                    .ok_or_else(|| na("no such container"))?;
                if !c.up || key.is_empty() {
                    return Err(na("Pebble is down"));
                }
                // Pebble keeps one notice per key; a repeat occurrence keeps its id.
                let expected = c.notices.get(key).copied().unwrap_or(next);
                if *notice_id != expected {
                    return Err(na("notice ids are per key, in order"));
                }
                if expected == next {
                    c.notices.insert(key.clone(), next);
                    self.next_notice_id += 1;
                }
                self.workload_queue.push_back(WorkloadEvent::Notice {
                    container: container.clone(),
                    key: key.clone(),
                    id: *notice_id,
                });
            }
            A::CheckFailed { container, check } | A::CheckRecovered { container, check } => {
                let failing = matches!(action, A::CheckFailed { .. });
                let c = self
                    .container_mut(container)
                    .ok_or_else(|| na("no such container"))?;
                match c.checks.get_mut(check) {
                    Some(f) if c.up && *f != failing => *f = failing,
                    _ => return Err(na("no such check in that state")),
                }
                let container = container.clone();
                let check = check.clone();
                self.workload_queue.push_back(if failing {
                    WorkloadEvent::CheckFailed { container, check }
                } else {
                    WorkloadEvent::CheckRecovered { container, check }
                });
            }
            // The workload's faults: no hook, only what the charm meets when it looks.
            A::ServiceExited { container, service } => {
                let c = self
                    .container_mut(container)
                    .ok_or_else(|| na("no such container"))?;
                if !c.up || !c.running.remove(service) {
                    return Err(na("no such running service"));
                }
            }
            A::WorkloadFault { container, fault } => {
                let c = self
                    .container_mut(container)
                    .ok_or_else(|| na("no such container"))?;
                if !c.possible_faults().contains(fault) {
                    return Err(na("the workload cannot take that fault now"));
                }
                c.faults.insert(*fault);
            }
            A::SecretGranted {
                id,
                origin,
                content,
            } => {
                if self.secret(id).is_some() || id != &self.fresh_secret_id() {
                    return Err(na("expected a fresh secret id"));
                }
                if let SecretOrigin::App { relation_id, .. } = origin {
                    if self.relation(*relation_id).is_none() {
                        return Err(na("no such relation"));
                    }
                }
                self.next_secret += 1;
                self.secrets.push(Secret {
                    id: id.clone(),
                    role: SecretRole::Consumer(origin.clone()),
                    label: None,
                    content: content.clone(),
                    latest_revision: 1,
                    // The engine assumes the charm reads what it is granted; a target that
                    // sees the charm's `secret-get` calls reports `SecretTracked` instead.
                    tracked_revision: 1,
                    removed_revisions: BTreeSet::new(),
                    changed_pending: false,
                    rotate_pending: false,
                    expired_pending: BTreeSet::new(),
                    remove_pending: BTreeSet::new(),
                    remove_done: BTreeSet::new(),
                });
            }
            A::SecretRevised { id, content } => {
                let ok = self.secret(id).map(|s| self.revisable(s)).unwrap_or(false);
                if !ok {
                    return Err(na("no such consumed secret"));
                }
                let s = self.secret_mut(id).unwrap();
                s.latest_revision += 1;
                s.content = content.clone();
                s.changed_pending = s.tracked_revision != s.latest_revision;
            }
            A::SecretRotateDue { id } => {
                if !self.secret(id).map(|s| self.owns_now(s)).unwrap_or(false) {
                    return Err(na("this unit does not own that secret now"));
                }
                self.secret_mut(id).unwrap().rotate_pending = true;
            }
            A::SecretExpired { id, revision } => {
                let ok = self
                    .secret(id)
                    .map(|s| self.owns_now(s) && self.live_revisions(s).contains(revision));
                if ok != Some(true) {
                    return Err(na("no such live revision of an owned secret"));
                }
                self.secret_mut(id)
                    .unwrap()
                    .expired_pending
                    .insert(*revision);
            }
            A::SecretRevisionObsolete { id, revision } => {
                let ok = self
                    .secret(id)
                    .map(|s| self.owns_now(s) && self.obsolete_candidates(s).contains(revision));
                if ok != Some(true) {
                    return Err(na("no such old revision of an owned secret"));
                }
                self.secret_mut(id)
                    .unwrap()
                    .remove_pending
                    .insert(*revision);
            }
            A::RunAction { name, id, params } => {
                let spec = self
                    .spec
                    .action(name)
                    .ok_or_else(|| na("the charm has no such action"))?;
                if *id != self.next_action_id {
                    return Err(na("action ids are given out in order"));
                }
                let mut full = params.clone();
                for p in &spec.params {
                    if let (false, Some(d)) = (full.contains_key(&p.name), &p.default) {
                        full.insert(p.name.clone(), d.clone());
                    }
                }
                self.next_action_id += 1;
                self.action_queue.push_back(PendingAction {
                    name: name.clone(),
                    id: *id,
                    params: full,
                });
            }
            A::Refresh => {
                if self.is_kubernetes() {
                    self.begin_shutdown(Restart::Pod);
                } else {
                    self.upgrade_pending = true;
                }
            }
            A::PodRecreated => self.begin_shutdown(Restart::Pod),
            A::CharmContainerRestarted => self.begin_shutdown(Restart::CharmContainer),
            A::MachineRebooted => {
                // A reboot during a series upgrade runs no start (spec §2.13).
                if self.series == SeriesUpgrade::None {
                    self.restart_pending = self.started;
                }
                self.loop_restart();
            }
            A::UpdateStatusTimer => self.update_status_pending = true,
            A::CollectMetricsTimer => self.collect_metrics_pending = true,
            A::SeriesUpgradePrepare { target_base } => {
                if series_for_base(target_base).is_none() {
                    return Err(na("unknown base"));
                }
                self.series = SeriesUpgrade::PrepareRequested {
                    target_base: target_base.clone(),
                };
            }
            A::SeriesUpgradeComplete => self.series = SeriesUpgrade::CompleteRequested,
            A::Resolved { retry } => {
                if !*retry && !self.opts.resolved_no_retry {
                    return Err(na("`resolved --no-retry` is switched off"));
                }
                if !*retry {
                    // Skipped, but committed as if it had run (spec §2.14).
                    let (hook, _) = self.failed.take().unwrap();
                    self.commit(&hook);
                }
            }
            A::RemoveUnit | A::RemoveApplication | A::DestroyModel => self.begin_teardown(),
            A::ForceRemoveUnit => {
                self.forced_removal = true;
                self.begin_teardown();
            }
        }
        self.resign_if_needed();
        self.refresh_life();
        Ok(())
    }

    fn check_deploy(
        &self,
        peers: &[String],
        relations: &[RelationInit],
        storage: &[String],
    ) -> Result<(), String> {
        let peer_ep = self.spec.peer_endpoints().next();
        for p in peers {
            if !p.starts_with(&format!("{}/", self.app)) || *p == self.unit {
                return Err(format!("{p} is not another unit of {}", self.app));
            }
        }
        if (peers.len() as u32) + 1 > self.opts.max_peers.max(1) {
            return Err("too many peers".into());
        }
        let mut seen_ids = BTreeSet::new();
        for r in relations {
            let ep = self
                .spec
                .endpoint(&r.endpoint)
                .ok_or_else(|| format!("unknown endpoint {}", r.endpoint))?;
            if !seen_ids.insert(r.id) {
                return Err("duplicate relation id".into());
            }
            if ep.role == Role::Peer && (r.remote_app != self.app || r.remote_units != peers) {
                return Err("the peer relation's units are this application's other units".into());
            }
        }
        if let Some(pe) = peer_ep {
            if !relations.iter().any(|r| r.endpoint == pe.name) {
                return Err(format!("the peer relation {} exists from deploy", pe.name));
            }
        }
        if self.spec.subordinate
            && !relations.iter().any(|r| {
                self.spec
                    .endpoint(&r.endpoint)
                    .is_some_and(|e| e.scope == Scope::Container)
            })
        {
            return Err("a subordinate is deployed through a container-scoped relation".into());
        }
        for s in storage {
            let (name, _) = split_storage_id(s).ok_or("bad storage id")?;
            if self.spec.storage(name).is_none() {
                return Err(format!("unknown storage {name}"));
            }
        }
        for sp in &self.spec.storage {
            let n = storage
                .iter()
                .filter(|s| split_storage_id(s).map(|x| x.0) == Some(sp.name.as_str()))
                .count() as u32;
            if n < sp.multiple.min || sp.multiple.max.is_some_and(|m| n > m) {
                return Err(format!(
                    "storage {} needs between {} and {:?} instances",
                    sp.name, sp.multiple.min, sp.multiple.max
                ));
            }
        }
        Ok(())
    }

    fn bump_peer_counter(&mut self, unit: &str) {
        if let Some(n) = unit.rsplit('/').next().and_then(|n| n.parse::<u32>().ok()) {
            self.next_peer = self.next_peer.max(n + 1);
        }
    }

    fn add_relation(&mut self, init: &RelationInit) {
        let ep = self.spec.endpoint(&init.endpoint);
        let peer = ep.is_some_and(|e| e.role == Role::Peer);
        let container_scoped = ep.is_some_and(|e| e.scope == Scope::Container);
        let next_unit = init
            .remote_units
            .iter()
            .filter_map(|u| u.rsplit('/').next()?.parse::<u32>().ok())
            .map(|n| n + 1)
            .max()
            .unwrap_or(0);
        self.relations.push(Relation {
            id: init.id,
            endpoint: init.endpoint.clone(),
            remote_app: init.remote_app.clone(),
            peer,
            container_scoped,
            dying: false,
            suspended: false,
            remote_units: init
                .remote_units
                .iter()
                .map(|u| {
                    (
                        u.clone(),
                        RemoteUnit {
                            data: Databag::new(),
                            version: 0,
                        },
                    )
                })
                .collect(),
            app_data: Databag::new(),
            app_version: 0,
            created: false,
            joined: BTreeMap::new(),
            app_seen: 0,
            changed_pending: None,
            local_unit_data: Databag::new(),
            local_app_data: Databag::new(),
            next_unit,
        });
        self.next_relation_id = self.next_relation_id.max(init.id + 1);
    }

    fn add_storage(&mut self, name: &str, index: u32) {
        self.storage.push(StorageInstance {
            name: name.to_string(),
            index,
            dying: false,
            attached: false,
            detached: false,
        });
        let next = self.next_storage_index.entry(name.to_string()).or_insert(0);
        *next = (*next).max(index + 1);
    }

    fn begin_teardown(&mut self) {
        self.life = Life::Dying;
        self.phase = Phase::Teardown;
        // Nothing but teardown, actions and workload events from now on (spec §2.12).
        self.lsc_pending = false;
        self.update_status_pending = false;
        self.collect_metrics_pending = false;
        self.upgrade_pending = false;
        self.pod_upgrade_pending = false;
        self.restart_pending = false;
        for s in &mut self.secrets {
            s.changed_pending = false;
            s.rotate_pending = false;
            s.expired_pending.clear();
            s.remove_pending.clear();
        }
        // Storage that never got its attached hook goes without hooks (spec §2.8).
        // (Not one whose failed storage-attached waits for its retry.)
        let retrying = match self.failed.as_ref() {
            Some((Hook::StorageAttached { id }, _)) => Some(id.clone()),
            _ => None,
        };
        self.storage
            .retain(|s| s.attached || Some(s.id()) == retrying);
    }

    fn begin_shutdown(&mut self, restart: Restart) {
        // Shutdown: queued hooks are abandoned (spec §2.0 step 12); deferred events and
        // unit state go with a replaced pod (the target wipes them).
        self.queued = None;
        // A failed hook is not retried in the new agent (the validator's reading, with
        // churn as a fresh start of the unit agent).
        self.failed = None;
        self.shutdown = Some(restart);
        self.workload_queue.clear();
        for c in &mut self.containers {
            c.up = false;
            c.fresh_workload();
        }
        if !self.started || self.stopped {
            self.finish_shutdown();
        }
    }

    /// The new agent starts (new pod, or restarted charm container).
    fn finish_shutdown(&mut self) {
        let Some(restart) = self.shutdown.take() else {
            return;
        };
        if restart == Restart::Pod && self.installed {
            // The charm directory is gone: the agent redeploys the charm and runs
            // upgrade-charm first (J-LOOP, PR 13003).
            self.pod_upgrade_pending = true;
        }
        // Every K8s agent start counts as a restart (J-REBOOT).
        self.restart_pending = self.started;
        self.loop_restart();
        // Pebble in every container comes up with a new boot id: pebble-ready each.
        for c in &mut self.containers {
            c.up = true;
            self.workload_queue.push_back(WorkloadEvent::Ready {
                container: c.name.clone(),
            });
        }
    }

    /// The resolver loop restarted: the in-memory versions reset (spec §2.0 *mem*).
    fn loop_restart(&mut self) {
        self.lsc_pending = true;
        self.update_status_pending = false;
    }

    fn refresh_life(&mut self) {
        // A removed relation leaving before this unit ever entered it (no relation-created) goes
        // without hooks, unless the §2.3 race switch lets relation-broken run.
        if !self.opts.broken_without_created || !self.installed {
            // (Not one whose failed relation-created waits for its retry: that one enters.)
            let retrying = self.failed.as_ref().and_then(|(h, _)| hook_relation(h));
            self.relations
                .retain(|r| r.created || !r.dying || Some(r.id) == retrying);
        }
        if self.life != Life::Dying || self.in_flight.is_some() || self.failed.is_some() {
            return;
        }
        // A Dying unit with nothing left to run is removed (Dead): one that never
        // installed gets no install/stop/remove at all (spec §2.1).
        if self.candidates().is_empty() {
            self.life = Life::Dead;
        }
    }

    // ------------------------------------------------------------------------------------
    // The resolver chain (spec §2.0)
    // ------------------------------------------------------------------------------------

    /// Every hook Juju may deliver next, most typical first. Empty when the unit is idle.
    pub fn candidates(&self) -> Vec<Hook> {
        if !self.deployed || self.is_dead() || self.in_flight.is_some() {
            return Vec::new();
        }
        // §2.14: a failed hook is re-run; only actions may run meanwhile.
        if let Some((hook, _)) = &self.failed {
            let mut out = vec![hook.clone()];
            // (Not inside a series upgrade: the series resolver outranks actions, §2.15.13.)
            let series_hook = matches!(
                hook,
                Hook::PreSeriesUpgrade { .. } | Hook::PostSeriesUpgrade
            );
            if let (Some(a), false) = (self.action_queue.front(), series_hook) {
                out.push(Hook::Action(a.clone()));
            }
            return out;
        }
        // Step 2: series upgrade (machine).
        match &self.series {
            SeriesUpgrade::PrepareRequested { target_base } if self.queued.is_none() => {
                return vec![Hook::PreSeriesUpgrade {
                    target_base: target_base.clone(),
                }];
            }
            SeriesUpgrade::Upgrading => return Vec::new(),
            SeriesUpgrade::CompleteRequested => return vec![Hook::PostSeriesUpgrade],
            _ => {}
        }
        // K8s Shutdown: the terminating agent runs `stop` and nothing else.
        if self.shutdown.is_some() {
            return vec![Hook::Stop];
        }
        // Step 4 (K8s pod churn): the redeployed charm runs upgrade-charm first.
        if self.pod_upgrade_pending {
            return vec![Hook::UpgradeCharm];
        }
        // Queued follow-ups run next, adjacent to the hook that queued them (§2.15.12).
        if let Some(q) = &self.queued {
            return vec![q.clone()];
        }
        let installed = self.installed;
        let dying = self.is_dying();
        // Step 3: reboot / agent restart → start.
        if self.restart_pending && self.started {
            let mut out = vec![Hook::Start];
            // §8.4: the docs put leader-settings-changed before start after churn.
            if self.opts.lsc_before_start_after_churn && self.lsc_due() {
                out.push(Hook::LeaderSettingsChanged);
            }
            return out;
        }
        // Before install only (machine) storage-attached may run (§2.15.2). A unit removed
        // before it installed runs nothing more (§2.1): not even storage-detaching for the
        // storage attached at deploy.
        if !installed {
            if dying {
                return Vec::new();
            }
            let mut out: Vec<Hook> = Vec::new();
            if !self.is_kubernetes() {
                out.extend(self.storage_candidates());
            }
            if out.is_empty() && !dying {
                out.push(Hook::Install);
            }
            return out;
        }
        // Step 5: relation-created.
        if !dying {
            let created: Vec<Hook> = self
                .relations
                .iter()
                .filter(|r| !r.created && !r.dying && !r.suspended)
                .map(|r| Hook::RelationCreated { rel: r.id })
                .collect();
            if !created.is_empty() {
                return created;
            }
        }
        // Step 6: leadership.
        if !dying {
            if self.leader && !self.local_leader {
                return vec![Hook::LeaderElected];
            }
            if self.lsc_due() {
                return vec![Hook::LeaderSettingsChanged];
            }
        }
        // Step 7: workload events, FIFO.
        if let Some(w) = self.workload_queue.front() {
            return vec![Hook::Workload(w.clone())];
        }
        // Step 8: secrets (expired → rotate → changed → remove).
        if !dying {
            if let Some(h) = self.secret_candidate() {
                return vec![h];
            }
        }
        // Step 9: actions, FIFO.
        if let Some(a) = self.action_queue.front() {
            return vec![Hook::Action(a.clone())];
        }
        // A forced removal skips the storage and relation teardown (§2.12, J-DOC).
        if dying && self.forced_removal {
            if self.started && !self.stopped {
                return vec![Hook::Stop];
            }
            return if self.installed {
                vec![Hook::Remove]
            } else {
                Vec::new()
            };
        }
        // Step 11: storage. On K8s, optionally held until the first start (§8.3).
        let storage =
            if self.is_kubernetes() && self.opts.k8s_storage_after_start && !self.started && !dying
            {
                Vec::new()
            } else {
                self.storage_candidates()
            };
        if dying && self.opts.teardown_relations_before_storage {
            // §8.1: the docs' order lets the relation block go first.
            let mut out = storage;
            out.extend(self.relation_candidates());
            if !out.is_empty() {
                return out;
            }
        } else if !storage.is_empty() {
            return storage;
        }
        // Step 14: nextOp.
        if dying {
            let rel = self.relation_candidates();
            if !rel.is_empty() {
                return rel;
            }
            if self.started && !self.stopped {
                return vec![Hook::Stop];
            }
            return vec![Hook::Remove];
        }
        if self.upgrade_pending {
            return vec![Hook::UpgradeCharm];
        }
        if self.config_dirty() {
            return vec![Hook::ConfigChanged];
        }
        if self.started {
            let rel = self.relation_candidates();
            if !rel.is_empty() {
                return rel;
            }
            if self.update_status_pending {
                return vec![Hook::UpdateStatus];
            }
            if self.collect_metrics_pending {
                return vec![Hook::CollectMetrics];
            }
        }
        Vec::new()
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

    fn lsc_due(&self) -> bool {
        self.lsc_pending && !self.local_leader && !self.leader && !self.is_dying()
    }

    fn storage_candidates(&self) -> Vec<Hook> {
        let dying = self.is_dying();
        self.storage
            .iter()
            .filter_map(|s| {
                if !s.attached && !s.dying && !dying {
                    Some(Hook::StorageAttached { id: s.id() })
                } else if s.attached && !s.detached && (s.dying || dying) {
                    Some(Hook::StorageDetaching { id: s.id() })
                } else {
                    None
                }
            })
            .collect()
    }

    fn secret_candidate(&self) -> Option<Hook> {
        let owned = |s: &&Secret| matches!(s.role, SecretRole::Owner(_)) && self.owns_now(s);
        if let Some((s, r)) = self
            .secrets
            .iter()
            .filter(owned)
            .find_map(|s| s.expired_pending.first().map(|r| (s, *r)))
        {
            return Some(Hook::SecretExpired {
                id: s.id.clone(),
                revision: r,
            });
        }
        if let Some(s) = self.secrets.iter().filter(owned).find(|s| s.rotate_pending) {
            return Some(Hook::SecretRotate { id: s.id.clone() });
        }
        // Never to the owner: an app-owned secret's changes skip the leader (§2.10).
        let to_owner = |s: &Secret| s.role == SecretRole::Owner(SecretOwner::App) && self.leader;
        if let Some(s) = self
            .secrets
            .iter()
            .find(|s| s.changed_pending && !to_owner(s))
        {
            return Some(Hook::SecretChanged { id: s.id.clone() });
        }
        if let Some((s, r)) = self
            .secrets
            .iter()
            .filter(owned)
            .find_map(|s| s.remove_pending.first().map(|r| (s, *r)))
        {
            return Some(Hook::SecretRemove {
                id: s.id.clone(),
                revision: r,
            });
        }
        None
    }

    /// The next hook of each relation that has one; non-peer relations before peers
    /// (J-REL). Across relations Juju's order is Go map order: any of them may go first.
    fn relation_candidates(&self) -> Vec<Hook> {
        let dying = self.is_dying();
        let mut non_peer = Vec::new();
        let mut peer = Vec::new();
        for r in &self.relations {
            if let Some(h) = self.next_relation_hook(r, dying) {
                if r.peer {
                    peer.push(h)
                } else {
                    non_peer.push(h)
                }
            }
        }
        if non_peer.is_empty() { peer } else { non_peer }
    }

    /// Juju's `nextHookForRelation` (spec §2.3), first matching rule wins.
    fn next_relation_hook(&self, r: &Relation, unit_dying: bool) -> Option<Hook> {
        let breaking = r.breaking(unit_dying);
        if !r.created {
            // A relation torn down before relation-created ran: with the §2.3 race
            // switch on, Juju may still run relation-broken.
            // (A suspension before relation-created just leaves the relation unentered.)
            if (r.dying || unit_dying)
                && !r.suspended
                && !r.peer
                && self.opts.broken_without_created
                && self.installed
                && r.joined.is_empty()
            {
                return Some(Hook::RelationBroken { rel: r.id });
            }
            return None;
        }
        // 1. relation-changed must follow relation-joined.
        if let Some(u) = &r.changed_pending {
            return Some(Hook::RelationChanged {
                rel: r.id,
                unit: Some(u.clone()),
            });
        }
        // 2. departed for members that left (all of them when breaking).
        for u in r.joined.keys() {
            if breaking || !r.remote_units.contains_key(u) {
                return Some(Hook::RelationDeparted {
                    rel: r.id,
                    unit: u.clone(),
                });
            }
        }
        // 3. broken, once no member is left; never for peers.
        if breaking {
            return if r.peer {
                None
            } else {
                Some(Hook::RelationBroken { rel: r.id })
            };
        }
        // 4. app-level relation-changed (peer app data only matters to non-leaders).
        if (!r.peer || !self.local_leader) && r.app_version != r.app_seen && r.app_version > 0 {
            return Some(Hook::RelationChanged {
                rel: r.id,
                unit: None,
            });
        }
        // 5. joined for new members, sorted.
        if let Some(u) = r.remote_units.keys().find(|u| !r.joined.contains_key(*u)) {
            return Some(Hook::RelationJoined {
                rel: r.id,
                unit: u.clone(),
            });
        }
        // 6. changed for members whose settings changed.
        for (u, seen) in &r.joined {
            if r.remote_units.get(u).is_some_and(|ru| ru.version != *seen) {
                return Some(Hook::RelationChanged {
                    rel: r.id,
                    unit: Some(u.clone()),
                });
            }
        }
        None
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
            // A retry is the same hook with the same environment (spec §2.14).
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
    /// the hook (and the effects); on failure the hook will be re-delivered (spec §2.14).
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
            Hook::Install => self.installed = true,
            Hook::Start => {
                self.started = true;
                self.stopped = false;
                self.restart_pending = false;
                if self.life == Life::Alive {
                    self.phase = Phase::Operation;
                }
            }
            Hook::ConfigChanged => {
                self.config_seen =
                    Some((self.effective_config(), self.trusted, self.address_version));
                if !self.started {
                    self.queued = Some(Hook::Start);
                }
            }
            Hook::UpdateStatus => self.update_status_pending = false,
            Hook::CollectMetrics => self.collect_metrics_pending = false,
            Hook::UpgradeCharm => {
                self.pod_upgrade_pending = false;
                self.upgrade_pending = false;
                self.queued = Some(Hook::ConfigChanged);
                self.loop_restart();
            }
            Hook::Stop => {
                self.stopped = true;
                if self.shutdown.is_some() {
                    self.finish_shutdown();
                }
            }
            Hook::Remove => self.life = Life::Dead,
            Hook::LeaderElected => self.local_leader = true,
            Hook::LeaderSettingsChanged => self.lsc_pending = false,
            Hook::PreSeriesUpgrade { .. } => self.series = SeriesUpgrade::Upgrading,
            Hook::PostSeriesUpgrade => self.series = SeriesUpgrade::None,
            Hook::RelationCreated { rel } => {
                if let Some(r) = self.relation_mut(*rel) {
                    r.created = true;
                }
            }
            Hook::RelationJoined { rel, unit } => {
                if let Some(r) = self.relation_mut(*rel) {
                    let v = r.remote_units.get(unit).map(|u| u.version).unwrap_or(0);
                    r.joined.insert(unit.clone(), v);
                    r.changed_pending = Some(unit.clone());
                }
            }
            Hook::RelationChanged { rel, unit } => {
                if let Some(r) = self.relation_mut(*rel) {
                    match unit {
                        Some(u) => {
                            if r.changed_pending.as_ref() == Some(u) {
                                r.changed_pending = None;
                            }
                            let v = r.remote_units.get(u).map(|x| x.version);
                            if let (Some(v), Some(seen)) = (v, r.joined.get_mut(u)) {
                                *seen = v;
                            }
                        }
                        None => r.app_seen = r.app_version,
                    }
                }
            }
            Hook::RelationDeparted { rel, unit } => {
                if let Some(r) = self.relation_mut(*rel) {
                    r.joined.remove(unit);
                    if r.changed_pending.as_ref() == Some(unit) {
                        r.changed_pending = None;
                    }
                }
            }
            Hook::RelationBroken { rel } => {
                let unit_dying = self.is_dying();
                let suspended = self
                    .relation(*rel)
                    .is_some_and(|r| r.suspended && !r.dying && !unit_dying);
                if suspended {
                    // Broken by suspension: the relation stays, and is entered again
                    // (relation-created once more) when resumed (§2.3).
                    if let Some(r) = self.relation_mut(*rel) {
                        r.created = false;
                        r.app_seen = 0;
                    }
                } else {
                    self.relations.retain(|r| r.id != *rel);
                }
            }
            Hook::StorageAttached { id } => {
                if let Some(s) = self.storage_mut(id) {
                    s.attached = true;
                }
            }
            Hook::StorageDetaching { id } => {
                if let Some(s) = self.storage_mut(id) {
                    s.detached = true;
                }
                self.storage.retain(|s| !s.detached);
            }
            Hook::Workload(_) | Hook::Action(_) => {}
            Hook::SecretChanged { id } => {
                if let Some(s) = self.secret_mut(id) {
                    s.changed_pending = false;
                }
            }
            Hook::SecretRotate { id } => {
                if let Some(s) = self.secret_mut(id) {
                    s.rotate_pending = false;
                }
            }
            Hook::SecretExpired { id, revision } => {
                if let Some(s) = self.secret_mut(id) {
                    s.expired_pending.remove(revision);
                }
            }
            Hook::SecretRemove { id, revision } => {
                if let Some(s) = self.secret_mut(id) {
                    s.remove_pending.remove(revision);
                    s.remove_done.insert(*revision);
                }
            }
        }
        self.resign_if_needed();
    }

    /// Leadership resigns silently when the lease is gone or the unit is dying (J-LEAD,
    /// spec §2.0 step 6): no hook runs for it.
    fn resign_if_needed(&mut self) {
        if self.local_leader && (!self.leader || self.is_dying()) && self.in_flight.is_none() {
            self.local_leader = false;
        }
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
                    // A new revision ends the rotation (spec §2.10).
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

    // ------------------------------------------------------------------------------------
    // Events and their environment (spec §1)
    // ------------------------------------------------------------------------------------

    fn context_id(&self, hook: &str) -> String {
        format!(
            "{}-{}-{}",
            self.unit,
            if hook.is_empty() { "action" } else { hook },
            self.events_delivered
        )
    }

    fn unit_dir(&self) -> String {
        format!("/var/lib/juju/agents/unit-{}", self.unit.replace('/', "-"))
    }

    /// The environment common to every hook (J-CTX `HookVars`, spec §1.1).
    fn base_env(&self, hook_name: &str, dispatch_path: String) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: String| {
            env.insert(k.to_string(), v);
        };
        set("JUJU_UNIT_NAME", self.unit.clone());
        set("JUJU_MODEL_NAME", MODEL_NAME.into());
        set("JUJU_MODEL_UUID", MODEL_UUID.into());
        set("JUJU_VERSION", self.opts.juju_version.to_string());
        set("JUJU_HOOK_NAME", hook_name.into());
        set("JUJU_DISPATCH_PATH", dispatch_path);
        set("JUJU_CHARM_DIR", format!("{}/charm", self.unit_dir()));
        set("JUJU_CONTEXT_ID", self.context_id(hook_name));
        set(
            "JUJU_AGENT_SOCKET_ADDRESS",
            format!("@{}/agent.socket", self.unit_dir()),
        );
        set("JUJU_AGENT_SOCKET_NETWORK", "unix".into());
        set("JUJU_API_ADDRESSES", "127.0.0.1:17070".into());
        set("JUJU_SLA", "unsupported".into());
        set(
            "JUJU_MACHINE_ID",
            if self.is_kubernetes() {
                String::new()
            } else {
                "0".into()
            },
        );
        let principal = if self.spec.subordinate {
            self.relations
                .iter()
                .find(|r| r.container_scoped)
                .and_then(|r| r.remote_units.keys().next().cloned())
                .unwrap_or_default()
        } else {
            String::new()
        };
        set("JUJU_PRINCIPAL_UNIT", principal);
        set("JUJU_AVAILABILITY_ZONE", String::new());
        for p in [
            "JUJU_CHARM_HTTP_PROXY",
            "JUJU_CHARM_HTTPS_PROXY",
            "JUJU_CHARM_FTP_PROXY",
            "JUJU_CHARM_NO_PROXY",
        ] {
            set(p, String::new());
        }
        env
    }

    /// Build the event Juju would dispatch for `hook` now.
    pub fn event_for(&self, hook: &Hook) -> Event {
        let (kind, prefix) = self.hook_kind(hook);
        let name = match (kind, &prefix) {
            (HookKind::Action, Some(a)) => format!("{a}-action"),
            _ => kind.hook_name(prefix.as_deref()),
        };
        let (hook_name, dispatch) = match (kind, &prefix) {
            (HookKind::Action, Some(a)) => (String::new(), format!("actions/{a}")),
            _ => (name.clone(), format!("hooks/{name}")),
        };
        let mut env = self.base_env(&hook_name, dispatch);
        let mut params = None;
        let mut put = |k: &str, v: String| {
            env.insert(k.to_string(), v);
        };
        match hook {
            Hook::RelationCreated { rel }
            | Hook::RelationJoined { rel, .. }
            | Hook::RelationChanged { rel, .. }
            | Hook::RelationDeparted { rel, .. }
            | Hook::RelationBroken { rel } => {
                if let Some(r) = self.relation(*rel) {
                    put("JUJU_RELATION", r.endpoint.clone());
                    put("JUJU_RELATION_ID", r.juju_id());
                    put("JUJU_REMOTE_APP", r.remote_app.clone());
                    let remote_unit = match hook {
                        Hook::RelationJoined { unit, .. } | Hook::RelationDeparted { unit, .. } => {
                            unit.clone()
                        }
                        Hook::RelationChanged { unit: Some(u), .. } => u.clone(),
                        _ => String::new(),
                    };
                    put("JUJU_REMOTE_UNIT", remote_unit.clone());
                    if let Hook::RelationDeparted { .. } = hook {
                        // This unit departs when it (or its application) is going away.
                        let departing = if self.is_dying() {
                            self.unit.clone()
                        } else {
                            remote_unit
                        };
                        put("JUJU_DEPARTING_UNIT", departing);
                    }
                }
            }
            Hook::StorageAttached { id } | Hook::StorageDetaching { id } => {
                put("JUJU_STORAGE_ID", id.clone());
                if let Some((name, index)) = split_storage_id(id) {
                    let sp = self.spec.storage(name);
                    let location = match sp.and_then(|s| s.location.clone()) {
                        Some(loc) if sp.is_some_and(|s| s.multiple.max == Some(1)) => loc,
                        Some(loc) => format!("{}/{index}", loc.trim_end_matches('/')),
                        None => format!("/var/lib/juju/storage/{name}/{index}"),
                    };
                    put("JUJU_STORAGE_LOCATION", location);
                    put(
                        "JUJU_STORAGE_KIND",
                        sp.map(|s| s.kind.as_str())
                            .unwrap_or("filesystem")
                            .to_string(),
                    );
                }
            }
            Hook::Workload(w) => match w {
                WorkloadEvent::Ready { container } => put("JUJU_WORKLOAD_NAME", container.clone()),
                WorkloadEvent::Notice { container, key, id } => {
                    put("JUJU_WORKLOAD_NAME", container.clone());
                    put("JUJU_NOTICE_ID", id.to_string());
                    put("JUJU_NOTICE_TYPE", "custom".into());
                    put("JUJU_NOTICE_KEY", key.clone());
                }
                WorkloadEvent::CheckFailed { container, check }
                | WorkloadEvent::CheckRecovered { container, check } => {
                    put("JUJU_WORKLOAD_NAME", container.clone());
                    put("JUJU_PEBBLE_CHECK_NAME", check.clone());
                }
            },
            Hook::SecretChanged { id } | Hook::SecretRotate { id } => {
                put("JUJU_SECRET_ID", id.clone());
                put(
                    "JUJU_SECRET_LABEL",
                    self.secret(id)
                        .and_then(|s| s.label.clone())
                        .unwrap_or_default(),
                );
            }
            Hook::SecretExpired { id, revision } | Hook::SecretRemove { id, revision } => {
                put("JUJU_SECRET_ID", id.clone());
                put(
                    "JUJU_SECRET_LABEL",
                    self.secret(id)
                        .and_then(|s| s.label.clone())
                        .unwrap_or_default(),
                );
                put("JUJU_SECRET_REVISION", revision.to_string());
            }
            Hook::Action(a) => {
                put("JUJU_ACTION_NAME", a.name.clone());
                put("JUJU_ACTION_UUID", a.id.to_string());
                put("JUJU_ACTION_TAG", format!("action-{}", a.id));
                params = Some(a.params.clone());
            }
            Hook::PreSeriesUpgrade { target_base } => {
                put("JUJU_TARGET_BASE", target_base.clone());
                put(
                    "JUJU_TARGET_SERIES",
                    series_for_base(target_base).unwrap_or("").to_string(),
                );
            }
            _ => {}
        }
        Event {
            hook: name,
            kind,
            env,
            params,
            result: HookResult::Ok,
            effects: Vec::new(),
        }
    }
}

/// A relation that is neither being removed nor suspended.
fn live_rel(r: &Relation) -> bool {
    !r.dying && !r.suspended
}

impl World {
    /// The hook kind and its prefix: the relation's endpoint, the storage name, the
    /// container name or the action name.
    pub fn hook_kind(&self, hook: &Hook) -> (HookKind, Option<String>) {
        let none = |k| (k, None);
        let endpoint =
            || hook_relation(hook).and_then(|id| Some(self.relation(id)?.endpoint.clone()));
        match hook {
            Hook::Install => none(HookKind::Install),
            Hook::Start => none(HookKind::Start),
            Hook::ConfigChanged => none(HookKind::ConfigChanged),
            Hook::UpdateStatus => none(HookKind::UpdateStatus),
            Hook::UpgradeCharm => none(HookKind::UpgradeCharm),
            Hook::Stop => none(HookKind::Stop),
            Hook::Remove => none(HookKind::Remove),
            Hook::LeaderElected => none(HookKind::LeaderElected),
            Hook::LeaderSettingsChanged => none(HookKind::LeaderSettingsChanged),
            Hook::PreSeriesUpgrade { .. } => none(HookKind::PreSeriesUpgrade),
            Hook::PostSeriesUpgrade => none(HookKind::PostSeriesUpgrade),
            Hook::CollectMetrics => none(HookKind::CollectMetrics),
            Hook::RelationCreated { .. }
            | Hook::RelationJoined { .. }
            | Hook::RelationChanged { .. }
            | Hook::RelationDeparted { .. }
            | Hook::RelationBroken { .. } => (
                match hook {
                    Hook::RelationCreated { .. } => HookKind::RelationCreated,
                    Hook::RelationJoined { .. } => HookKind::RelationJoined,
                    Hook::RelationChanged { .. } => HookKind::RelationChanged,
                    Hook::RelationDeparted { .. } => HookKind::RelationDeparted,
                    _ => HookKind::RelationBroken,
                },
                endpoint(),
            ),
            Hook::StorageAttached { id } => (
                HookKind::StorageAttached,
                split_storage_id(id).map(|x| x.0.to_string()),
            ),
            Hook::StorageDetaching { id } => (
                HookKind::StorageDetaching,
                split_storage_id(id).map(|x| x.0.to_string()),
            ),
            Hook::Workload(w) => match w {
                WorkloadEvent::Ready { container } => {
                    (HookKind::PebbleReady, Some(container.clone()))
                }
                WorkloadEvent::Notice { container, .. } => {
                    (HookKind::PebbleCustomNotice, Some(container.clone()))
                }
                WorkloadEvent::CheckFailed { container, .. } => {
                    (HookKind::PebbleCheckFailed, Some(container.clone()))
                }
                WorkloadEvent::CheckRecovered { container, .. } => {
                    (HookKind::PebbleCheckRecovered, Some(container.clone()))
                }
            },
            Hook::SecretChanged { .. } => none(HookKind::SecretChanged),
            Hook::SecretRotate { .. } => none(HookKind::SecretRotate),
            Hook::SecretExpired { .. } => none(HookKind::SecretExpired),
            Hook::SecretRemove { .. } => none(HookKind::SecretRemove),
            Hook::Action(a) => (HookKind::Action, Some(a.name.clone())),
        }
    }
}

/// The relation a relation hook is about.
pub fn hook_relation(hook: &Hook) -> Option<u32> {
    match hook {
        Hook::RelationCreated { rel }
        | Hook::RelationJoined { rel, .. }
        | Hook::RelationChanged { rel, .. }
        | Hook::RelationDeparted { rel, .. }
        | Hook::RelationBroken { rel } => Some(*rel),
        _ => None,
    }
}

/// `name/index` → (`name`, index).
pub fn split_storage_id(id: &str) -> Option<(&str, u32)> {
    let (name, idx) = id.rsplit_once('/')?;
    Some((name, idx.parse().ok()?))
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

/// Whether a JSON value fits a config option's type (as Juju validates `juju config`).
pub fn config_value_fits(ty: crate::spec::ConfigType, v: &Value) -> bool {
    use crate::spec::ConfigType as T;
    match ty {
        T::String => v.is_string(),
        T::Int => v.is_i64() || v.is_u64(),
        T::Float => v.is_number(),
        T::Boolean => v.is_boolean(),
        T::Secret => v.as_str().is_some_and(|s| s.starts_with("secret:")),
    }
}

/// The `n`th secret id: `secret:` and 20 lower-case base32 characters, like Juju's xids.
pub fn secret_id(n: u32) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    let mut x = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xC0FF_EE00_D15E_A5E5;
    let mut s = String::from("secret:");
    for _ in 0..20 {
        s.push(ALPHABET[(x & 31) as usize] as char);
        x = x.rotate_right(5) ^ (n as u64 + 1);
    }
    s
}
