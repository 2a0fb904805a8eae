//! Actions: the things that happen *to* a unit, as opposed to the hooks it receives.
//!
//! A user runs `juju config`, a remote application scales up, the leader's lease moves, a
//! workload container restarts, a timer fires. Each such cause is an [`Action`]. Applying it
//! to the [`World`](super::World) changes what Juju knows about the deployment (its "remote
//! state"); the unit agent then turns the difference into hooks, one at a time, in the order
//! of its resolver chain (juju-model.md §L2.0). One action can yield several hooks (removing a relation
//! gives a `relation-departed` per remote unit, then `relation-broken`) and several actions
//! can fold into one hook (two quick `juju config` calls give one `config-changed`).
//!
//! The charm's own doings (a secret it created, data it wrote) are not actions: they are
//! [`Effect`]s reported back by the target after an event, recorded on that event.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// A relation's data bag: string keys to string values, as `relation-get` returns it.
pub type Databag = BTreeMap<String, String>;

/// Who caused an action; printed in stories as `Source.<who>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The Juju user (`juju deploy`, `config`, `integrate`, `run`, `refresh`, ...).
    User,
    /// A unit or the leader of a related application.
    OtherCharm,
    /// Another unit of this application (a peer), or its leader.
    Peer,
    /// The Juju controller or unit agent (timers, leadership lease, secret schedules).
    Juju,
    /// A workload container or its Pebble.
    Workload,
    /// The machine or the Kubernetes cluster (reboots, pod churn, storage provisioning).
    Cloud,
    /// A machine's own software and what it reaches: snapd and the snap store, systemd,
    /// apt and the archive, the disk.
    Host,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::User => "user",
            Source::OtherCharm => "other_charm",
            Source::Peer => "peer",
            Source::Juju => "juju",
            Source::Workload => "workload",
            Source::Cloud => "cloud",
            Source::Host => "host",
        })
    }
}

/// A relation as it comes into existence: its id, our endpoint, the remote application and
/// the remote units already in it. For the peer relation the remote "application" is this
/// application and the units are the other units of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationInit {
    pub id: u32,
    pub endpoint: String,
    pub remote_app: String,
    #[serde(default)]
    pub remote_units: Vec<String>,
}

/// Who owns a secret the unit consumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretOrigin {
    /// Another application created it and granted it to this one over a relation.
    App { app: String, relation_id: u32 },
    /// A user secret (`juju add-secret` + `grant-secret`), passed in a `secret` config option.
    User,
}

/// Everything that can happen to the unit under test. JSON: `{"action": "<kebab-name>", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// `juju deploy` / `juju add-unit`: the unit comes into being, with the other units of
    /// its application, the relations that already exist and the storage provisioned with it.
    Deploy {
        unit: String,
        leader: bool,
        #[serde(default)]
        peers: Vec<String>,
        #[serde(default)]
        relations: Vec<RelationInit>,
        #[serde(default)]
        storage: Vec<String>,
    },
    /// `juju config`: set options (`null` = `juju config --reset`).
    Config { changes: BTreeMap<String, Value> },
    /// `juju trust`: changes the trust hash, so `config-changed` runs.
    Trust { trusted: bool },
    /// The unit's addresses changed, so `config-changed` runs.
    AddressChange,
    /// `juju integrate` with another application.
    Integrate { relation: RelationInit },
    /// `juju remove-relation`, or the remote application was removed.
    RemoveRelation { relation_id: u32 },
    /// A cross-model relation was suspended (treated as broken) ...
    SuspendRelation { relation_id: u32 },
    /// ... and resumed (entered again: `relation-created` fires again).
    ResumeRelation { relation_id: u32 },
    /// A remote application scaled up (or a peer was added, on the peer relation).
    RemoteUnitAdded { relation_id: u32, unit: String },
    /// A remote unit left the relation.
    RemoteUnitRemoved { relation_id: u32, unit: String },
    /// A remote unit (or peer) wrote its unit databag; `data` is the databag afterwards.
    RemoteUnitData {
        relation_id: u32,
        unit: String,
        data: Databag,
    },
    /// The remote leader (or this application's leader, on the peer relation) wrote the
    /// application databag; `data` is the databag afterwards.
    RemoteAppData { relation_id: u32, data: Databag },
    /// `juju add-unit`: another unit of this application appears.
    ScaleUp { unit: String },
    /// `juju remove-unit` of another unit of this application.
    ScaleDown { unit: String },
    /// The leadership lease moves to this unit.
    LeadershipGained,
    /// The leadership lease moves away from this unit.
    LeadershipLost,
    /// The leader (another unit) ran `leader-set`.
    LeaderSet,
    /// `juju add-storage`: a new instance (`name/index`) is provisioned and attached.
    StorageAdded { storage: String },
    /// `juju detach-storage` / `remove-storage` of an attached instance.
    StorageDetached { storage: String },
    /// Pebble in the container became reachable (first start or restart): `pebble-ready`.
    WorkloadStarted { container: String },
    /// The workload container went away; `can_connect()` is false until it starts again.
    WorkloadStopped { container: String },
    /// `pebble notify`: a custom notice was recorded (Juju ≥ 3.4).
    CustomNotice {
        container: String,
        key: String,
        notice_id: u32,
    },
    /// A Pebble check reached its failure threshold (Juju ≥ 3.6).
    CheckFailed { container: String, check: String },
    /// A failed Pebble check passes again (Juju ≥ 3.6).
    CheckRecovered { container: String, check: String },
    /// A secret owned by someone else was granted to this unit (or shared by a user).
    SecretGranted {
        id: String,
        origin: SecretOrigin,
        content: Databag,
    },
    /// The owner of a secret this unit consumes published a new revision.
    SecretRevised { id: String, content: Databag },
    /// A secret this unit (or, as leader, its application) owns is due for rotation.
    SecretRotateDue { id: String },
    /// A revision of an owned secret expired.
    SecretExpired { id: String, revision: u32 },
    /// No consumer tracks this revision of an owned secret any more.
    SecretRevisionObsolete { id: String, revision: u32 },
    /// `juju run <unit> <action>`.
    RunAction {
        name: String,
        id: u32,
        params: serde_json::Map<String, Value>,
    },
    /// `juju refresh`: a new charm revision. On Kubernetes the pod is replaced.
    Refresh,
    /// Kubernetes replaced the unit's pod (eviction, node drain, rolling update).
    PodRecreated,
    /// Kubernetes restarted the charm container; the pod and `/var/lib/juju` survive.
    CharmContainerRestarted,
    /// The machine rebooted.
    MachineRebooted,
    /// The `update-status` timer fired.
    UpdateStatusTimer,
    /// The `collect-metrics` timer fired (machine charms with metrics).
    CollectMetricsTimer,
    /// `juju upgrade-machine N prepare`.
    SeriesUpgradePrepare { target_base: String },
    /// `juju upgrade-machine N complete`.
    SeriesUpgradeComplete,
    /// `juju resolved` on a unit in error: retry the failed hook now, or (`retry: false`,
    /// `--no-retry`) skip it as if it had succeeded.
    Resolved { retry: bool },
    /// `juju remove-unit` (or Kubernetes scale-down of this unit).
    RemoveUnit,
    /// `juju remove-application`.
    RemoveApplication,
    /// `juju destroy-model`.
    DestroyModel,
    /// `juju remove-unit --force --no-wait` (only with the `forced-removal` switch): the unit
    /// goes without storage or relation teardown, straight to `stop` and `remove` (§L2.12).
    ForceRemoveUnit,
    /// A Pebble service the charm started in the container exits, and keeps failing as
    /// Pebble restarts it (`backoff`). No hook: Juju is not told (a check on it, if the
    /// charm declared one, fails later), so the charm sees it only when it looks.
    ServiceExited { container: String, service: String },
    /// The workload in the container starts to misbehave, until the container restarts
    /// (a new Pebble, a fresh workload). No hook either.
    WorkloadFault {
        container: String,
        fault: WorkloadFault,
    },
    /// From now on the store fails every refresh of this installed snap (a download that
    /// breaks, a store outage): `snap refresh` errors and the snap stays as it was, until
    /// the machine recovers ([`Action::HostRecovered`]). No hook: the charm meets it when
    /// it refreshes. Machine charms only, like every host action below.
    SnapRefreshFails { snap: String },
    /// The store holds refreshes of this installed snap back (a gated or held revision):
    /// `snap refresh` finds no update and the snap stays on its revision and channel.
    SnapRefreshHeld { snap: String },
    /// The store and the package archive are unreachable: installing any snap or package
    /// fails.
    InstallFails,
    /// A systemd service the charm's snaps or packages run dies (a crash, the OOM killer):
    /// systemd shows it failed, `snap services` inactive, and nothing restarts it. No hook.
    HostServiceFailed { service: String },
    /// The machine's disk is full: snapd and apt cannot write, so installs, refreshes and
    /// `snap set` fail with "no space left on device".
    HostDiskFull,
    /// The store, the archive and the disk are back: the host faults above end.
    HostRecovered,
}

/// How a workload misbehaves ([`Action::WorkloadFault`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadFault {
    /// Every Pebble exec in the container exits 1 with an error on stderr, scripted or not.
    ExecFails,
    /// The workload's HTTP API (`[[target.http]]`) answers 500 to every request.
    ApiErrors,
    /// The workload's HTTP API accepts connections and never answers: the charm's own
    /// timeout, or the hook's, ends the wait.
    ApiHangs,
    /// The container's filesystem is full: Pebble's file writes (`push`, `make_dir`) fail
    /// with "no space left on device".
    DiskFull,
}

impl WorkloadFault {
    pub const ALL: [WorkloadFault; 4] = [
        WorkloadFault::ExecFails,
        WorkloadFault::ApiErrors,
        WorkloadFault::ApiHangs,
        WorkloadFault::DiskFull,
    ];

    /// The kebab-case name used in JSON and stories.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadFault::ExecFails => "exec-fails",
            WorkloadFault::ApiErrors => "api-errors",
            WorkloadFault::ApiHangs => "api-hangs",
            WorkloadFault::DiskFull => "disk-full",
        }
    }
}

/// The kind of an [`Action`], without arguments: what the decoder chooses first, and what
/// weights in the fuzzing config refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    Deploy,
    Config,
    Trust,
    AddressChange,
    Integrate,
    RemoveRelation,
    SuspendRelation,
    ResumeRelation,
    RemoteUnitAdded,
    RemoteUnitRemoved,
    RemoteUnitData,
    RemoteAppData,
    ScaleUp,
    ScaleDown,
    LeadershipGained,
    LeadershipLost,
    LeaderSet,
    StorageAdded,
    StorageDetached,
    WorkloadStarted,
    WorkloadStopped,
    CustomNotice,
    CheckFailed,
    CheckRecovered,
    SecretGranted,
    SecretRevised,
    SecretRotateDue,
    SecretExpired,
    SecretRevisionObsolete,
    RunAction,
    Refresh,
    PodRecreated,
    CharmContainerRestarted,
    MachineRebooted,
    UpdateStatusTimer,
    CollectMetricsTimer,
    SeriesUpgradePrepare,
    SeriesUpgradeComplete,
    Resolved,
    RemoveUnit,
    RemoveApplication,
    DestroyModel,
    ForceRemoveUnit,
    ServiceExited,
    WorkloadFault,
    SnapRefreshFails,
    SnapRefreshHeld,
    InstallFails,
    HostServiceFailed,
    HostDiskFull,
    HostRecovered,
}

impl ActionKind {
    pub const ALL: [ActionKind; 51] = [
        ActionKind::Deploy,
        ActionKind::Config,
        ActionKind::Trust,
        ActionKind::AddressChange,
        ActionKind::Integrate,
        ActionKind::RemoveRelation,
        ActionKind::SuspendRelation,
        ActionKind::ResumeRelation,
        ActionKind::RemoteUnitAdded,
        ActionKind::RemoteUnitRemoved,
        ActionKind::RemoteUnitData,
        ActionKind::RemoteAppData,
        ActionKind::ScaleUp,
        ActionKind::ScaleDown,
        ActionKind::LeadershipGained,
        ActionKind::LeadershipLost,
        ActionKind::LeaderSet,
        ActionKind::StorageAdded,
        ActionKind::StorageDetached,
        ActionKind::WorkloadStarted,
        ActionKind::WorkloadStopped,
        ActionKind::CustomNotice,
        ActionKind::CheckFailed,
        ActionKind::CheckRecovered,
        ActionKind::SecretGranted,
        ActionKind::SecretRevised,
        ActionKind::SecretRotateDue,
        ActionKind::SecretExpired,
        ActionKind::SecretRevisionObsolete,
        ActionKind::RunAction,
        ActionKind::Refresh,
        ActionKind::PodRecreated,
        ActionKind::CharmContainerRestarted,
        ActionKind::MachineRebooted,
        ActionKind::UpdateStatusTimer,
        ActionKind::CollectMetricsTimer,
        ActionKind::SeriesUpgradePrepare,
        ActionKind::SeriesUpgradeComplete,
        ActionKind::Resolved,
        ActionKind::RemoveUnit,
        ActionKind::RemoveApplication,
        ActionKind::DestroyModel,
        ActionKind::ForceRemoveUnit,
        ActionKind::ServiceExited,
        ActionKind::WorkloadFault,
        ActionKind::SnapRefreshFails,
        ActionKind::SnapRefreshHeld,
        ActionKind::InstallFails,
        ActionKind::HostServiceFailed,
        ActionKind::HostDiskFull,
        ActionKind::HostRecovered,
    ];

    /// The kebab-case name used in JSON, configs and stories.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Deploy => "deploy",
            ActionKind::Config => "config",
            ActionKind::Trust => "trust",
            ActionKind::AddressChange => "address-change",
            ActionKind::Integrate => "integrate",
            ActionKind::RemoveRelation => "remove-relation",
            ActionKind::SuspendRelation => "suspend-relation",
            ActionKind::ResumeRelation => "resume-relation",
            ActionKind::RemoteUnitAdded => "remote-unit-added",
            ActionKind::RemoteUnitRemoved => "remote-unit-removed",
            ActionKind::RemoteUnitData => "remote-unit-data",
            ActionKind::RemoteAppData => "remote-app-data",
            ActionKind::ScaleUp => "scale-up",
            ActionKind::ScaleDown => "scale-down",
            ActionKind::LeadershipGained => "leadership-gained",
            ActionKind::LeadershipLost => "leadership-lost",
            ActionKind::LeaderSet => "leader-set",
            ActionKind::StorageAdded => "storage-added",
            ActionKind::StorageDetached => "storage-detached",
            ActionKind::WorkloadStarted => "workload-started",
            ActionKind::WorkloadStopped => "workload-stopped",
            ActionKind::CustomNotice => "custom-notice",
            ActionKind::CheckFailed => "check-failed",
            ActionKind::CheckRecovered => "check-recovered",
            ActionKind::SecretGranted => "secret-granted",
            ActionKind::SecretRevised => "secret-revised",
            ActionKind::SecretRotateDue => "secret-rotate-due",
            ActionKind::SecretExpired => "secret-expired",
            ActionKind::SecretRevisionObsolete => "secret-revision-obsolete",
            ActionKind::RunAction => "run-action",
            ActionKind::Refresh => "refresh",
            ActionKind::PodRecreated => "pod-recreated",
            ActionKind::CharmContainerRestarted => "charm-container-restarted",
            ActionKind::MachineRebooted => "machine-rebooted",
            ActionKind::UpdateStatusTimer => "update-status-timer",
            ActionKind::CollectMetricsTimer => "collect-metrics-timer",
            ActionKind::SeriesUpgradePrepare => "series-upgrade-prepare",
            ActionKind::SeriesUpgradeComplete => "series-upgrade-complete",
            ActionKind::Resolved => "resolved",
            ActionKind::RemoveUnit => "remove-unit",
            ActionKind::RemoveApplication => "remove-application",
            ActionKind::DestroyModel => "destroy-model",
            ActionKind::ForceRemoveUnit => "force-remove-unit",
            ActionKind::ServiceExited => "service-exited",
            ActionKind::WorkloadFault => "workload-fault",
            ActionKind::SnapRefreshFails => "snap-refresh-fails",
            ActionKind::SnapRefreshHeld => "snap-refresh-held",
            ActionKind::InstallFails => "install-fails",
            ActionKind::HostServiceFailed => "host-service-failed",
            ActionKind::HostDiskFull => "host-disk-full",
            ActionKind::HostRecovered => "host-recovered",
        }
    }

    pub fn from_name(name: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    pub fn source(self) -> Source {
        use ActionKind::*;
        match self {
            Deploy
            | Config
            | Trust
            | Integrate
            | RemoveRelation
            | SuspendRelation
            | ResumeRelation
            | ScaleUp
            | ScaleDown
            | StorageAdded
            | StorageDetached
            | RunAction
            | Refresh
            | SeriesUpgradePrepare
            | SeriesUpgradeComplete
            | Resolved
            | RemoveUnit
            | RemoveApplication
            | DestroyModel
            | ForceRemoveUnit => Source::User,
            RemoteUnitAdded | RemoteUnitRemoved | RemoteUnitData | RemoteAppData
            | SecretRevised => Source::OtherCharm,
            LeaderSet => Source::Peer,
            LeadershipGained
            | LeadershipLost
            | SecretRotateDue
            | SecretExpired
            | SecretRevisionObsolete
            | UpdateStatusTimer
            | CollectMetricsTimer => Source::Juju,
            WorkloadStarted | WorkloadStopped | CustomNotice | CheckFailed | CheckRecovered
            | ServiceExited | WorkloadFault => Source::Workload,
            AddressChange | PodRecreated | CharmContainerRestarted | MachineRebooted => {
                Source::Cloud
            }
            SnapRefreshFails | SnapRefreshHeld | InstallFails | HostServiceFailed
            | HostDiskFull | HostRecovered => Source::Host,
            SecretGranted => Source::OtherCharm,
        }
    }

    /// Removal of this unit (the start of teardown, juju-model.md §L2.12).
    pub fn is_removal(self) -> bool {
        matches!(
            self,
            ActionKind::RemoveUnit
                | ActionKind::RemoveApplication
                | ActionKind::DestroyModel
                | ActionKind::ForceRemoveUnit
        )
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        use Action as A;
        match self {
            A::Deploy { .. } => ActionKind::Deploy,
            A::Config { .. } => ActionKind::Config,
            A::Trust { .. } => ActionKind::Trust,
            A::AddressChange => ActionKind::AddressChange,
            A::Integrate { .. } => ActionKind::Integrate,
            A::RemoveRelation { .. } => ActionKind::RemoveRelation,
            A::SuspendRelation { .. } => ActionKind::SuspendRelation,
            A::ResumeRelation { .. } => ActionKind::ResumeRelation,
            A::RemoteUnitAdded { .. } => ActionKind::RemoteUnitAdded,
            A::RemoteUnitRemoved { .. } => ActionKind::RemoteUnitRemoved,
            A::RemoteUnitData { .. } => ActionKind::RemoteUnitData,
            A::RemoteAppData { .. } => ActionKind::RemoteAppData,
            A::ScaleUp { .. } => ActionKind::ScaleUp,
            A::ScaleDown { .. } => ActionKind::ScaleDown,
            A::LeadershipGained => ActionKind::LeadershipGained,
            A::LeadershipLost => ActionKind::LeadershipLost,
            A::LeaderSet => ActionKind::LeaderSet,
            A::StorageAdded { .. } => ActionKind::StorageAdded,
            A::StorageDetached { .. } => ActionKind::StorageDetached,
            A::WorkloadStarted { .. } => ActionKind::WorkloadStarted,
            A::WorkloadStopped { .. } => ActionKind::WorkloadStopped,
            A::CustomNotice { .. } => ActionKind::CustomNotice,
            A::CheckFailed { .. } => ActionKind::CheckFailed,
            A::CheckRecovered { .. } => ActionKind::CheckRecovered,
            A::SecretGranted { .. } => ActionKind::SecretGranted,
            A::SecretRevised { .. } => ActionKind::SecretRevised,
            A::SecretRotateDue { .. } => ActionKind::SecretRotateDue,
            A::SecretExpired { .. } => ActionKind::SecretExpired,
            A::SecretRevisionObsolete { .. } => ActionKind::SecretRevisionObsolete,
            A::RunAction { .. } => ActionKind::RunAction,
            A::Refresh => ActionKind::Refresh,
            A::PodRecreated => ActionKind::PodRecreated,
            A::CharmContainerRestarted => ActionKind::CharmContainerRestarted,
            A::MachineRebooted => ActionKind::MachineRebooted,
            A::UpdateStatusTimer => ActionKind::UpdateStatusTimer,
            A::CollectMetricsTimer => ActionKind::CollectMetricsTimer,
            A::SeriesUpgradePrepare { .. } => ActionKind::SeriesUpgradePrepare,
            A::SeriesUpgradeComplete => ActionKind::SeriesUpgradeComplete,
            A::Resolved { .. } => ActionKind::Resolved,
            A::RemoveUnit => ActionKind::RemoveUnit,
            A::RemoveApplication => ActionKind::RemoveApplication,
            A::DestroyModel => ActionKind::DestroyModel,
            A::ForceRemoveUnit => ActionKind::ForceRemoveUnit,
            A::ServiceExited { .. } => ActionKind::ServiceExited,
            A::WorkloadFault { .. } => ActionKind::WorkloadFault,
            A::SnapRefreshFails { .. } => ActionKind::SnapRefreshFails,
            A::SnapRefreshHeld { .. } => ActionKind::SnapRefreshHeld,
            A::InstallFails => ActionKind::InstallFails,
            A::HostServiceFailed { .. } => ActionKind::HostServiceFailed,
            A::HostDiskFull => ActionKind::HostDiskFull,
            A::HostRecovered => ActionKind::HostRecovered,
        }
    }

    /// Who caused this action. Data written on the peer relation comes from a peer, not
    /// another charm; stories refine that with the relation's endpoint role.
    pub fn source(&self) -> Source {
        self.kind().source()
    }
}

/// Something the charm did during an event that later actions may depend on. The target
/// reports these after each successful event (juju-model.md §L2.14: a failed hook commits nothing);
/// they are recorded on the event so a trace replays without the charm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "kebab-case")]
pub enum Effect {
    /// `secret-add`: the charm created a secret, owned by its unit or (`owner: "app"`,
    /// leader only) its application.
    SecretCreated {
        id: String,
        owner: SecretOwner,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
    /// `secret-set` with new content: a new revision of an owned secret.
    SecretRevised { id: String },
    /// `secret-remove` of an owned secret (all revisions when `revision` is absent).
    SecretRemoved {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revision: Option<u32>,
    },
    /// `secret-get` by a consumer: from now on it tracks `revision`.
    SecretTracked { id: String, revision: u32 },
    /// `storage-add name=count`: Juju provisions more instances.
    StorageRequested { storage: String, count: u32 },
    /// The Pebble services running in the container after the event, where that changed
    /// (the charm started or stopped some, or one exited): which can exit next.
    ServicesRunning {
        container: String,
        services: Vec<String>,
    },
    /// A machine's snaps installed and systemd services active after the event, where
    /// that changed (the charm installed, started or stopped something, or a service
    /// died): which snaps a refresh fault can hit and which services can die next.
    HostChanged {
        snaps: Vec<String>,
        services: Vec<String>,
    },
    /// The charm added a Pebble layer declaring these checks in the container.
    ChecksDeclared {
        container: String,
        checks: Vec<String>,
    },
    /// `juju-reboot` (without `--now`: after the hook).
    RebootRequested,
    /// `relation-set`: this unit's databag (or, `app: true`, its application's) as the
    /// committed hook left it. Remote units read it from then on.
    RelationDataSet {
        relation_id: u32,
        #[serde(default)]
        app: bool,
        data: Databag,
    },
}

/// Owner of a secret the charm created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretOwner {
    Unit,
    App,
}
