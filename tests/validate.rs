//! Tests of the trace validator (`engine::validate`), with hand-written traces.
//!
//! Every rule has at least one invalid trace that must be rejected with that rule at the
//! expected step, and the spec's recipes (§L2.1, §L2.12, §L2.13, §L2.14, §L7) have valid traces
//! that must be accepted. Traces are built with a small builder that fills in the full
//! `JUJU_*` environment of each event the way Juju would (§L1.1, §L1.2).

use charmfuzz::engine::validate::{Rule, Violation, validate};
use charmfuzz::engine::{
    Action, Effect, EngineOptions, Event, HookKind, HookResult, JujuVersion, Phase, RelationInit,
    SecretOrigin, SecretOwner, Step, TRACE_FORMAT, Trace, WorkloadFault,
};
use charmfuzz::spec::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;

use HookKind as K;

// ---------------------------------------------------------------------------------------
// Specs

fn ep(name: &str, role: Role) -> Endpoint {
    Endpoint {
        name: name.into(),
        role,
        interface: name.into(),
        limit: None,
        scope: Scope::Global,
        optional: false,
    }
}

fn storage(name: &str, kind: StorageKind, max: Option<u32>) -> StorageSpec {
    StorageSpec {
        name: name.into(),
        kind,
        location: Some(format!("/srv/{name}")),
        multiple: Multiple { min: 1, max },
        shared: false,
        read_only: false,
    }
}

fn action_spec(name: &str) -> ActionSpec {
    ActionSpec {
        name: name.into(),
        description: None,
        params: vec![],
        required: vec![],
        additional_properties: true,
    }
}

fn container(name: &str) -> ContainerSpec {
    ContainerSpec {
        name: name.into(),
        resource: Some(format!("{name}-image")),
        mounts: vec![],
    }
}

/// A rich Kubernetes charm: a requirer, a provider, a peer endpoint, one storage, two
/// workload containers, two actions.
fn k8s_spec() -> CharmSpec {
    CharmSpec {
        name: "webapp".into(),
        substrate: Substrate::Kubernetes,
        subordinate: false,
        endpoints: vec![
            ep("db", Role::Requires),
            ep("website", Role::Provides),
            ep("cluster", Role::Peer),
        ],
        storage: vec![storage("data", StorageKind::Filesystem, Some(1))],
        containers: vec![container("workload"), container("nginx")],
        actions: vec![action_spec("backup"), action_spec("restart")],
        config: vec![ConfigOption {
            name: "port".into(),
            ty: ConfigType::Int,
            default: Some(json!(8080)),
            description: None,
        }],
        resources: vec![],
        extra_bindings: vec![],
        has_metrics: false,
        layout: SpecLayout::Unified,
        dir: PathBuf::new(),
    }
}

/// A machine charm with two storages (one multiple), a peer endpoint, metrics.
fn machine_spec() -> CharmSpec {
    CharmSpec {
        name: "dbserver".into(),
        substrate: Substrate::Machine,
        subordinate: false,
        endpoints: vec![
            ep("db", Role::Provides),
            ep("logging", Role::Requires),
            ep("replicas", Role::Peer),
        ],
        storage: vec![
            storage("disks", StorageKind::Block, Some(3)),
            storage("logs", StorageKind::Filesystem, Some(1)),
        ],
        containers: vec![],
        actions: vec![action_spec("backup")],
        config: vec![],
        resources: vec![],
        extra_bindings: vec![],
        has_metrics: true,
        layout: SpecLayout::Split,
        dir: PathBuf::new(),
    }
}

/// A subordinate machine charm tied to its principal by a container-scoped juju-info.
fn subordinate_spec() -> CharmSpec {
    let mut juju_info = ep("juju-info", Role::Requires);
    juju_info.scope = Scope::Container;
    CharmSpec {
        name: "filebeat".into(),
        substrate: Substrate::Machine,
        subordinate: true,
        endpoints: vec![juju_info, ep("logstash", Role::Requires)],
        storage: vec![],
        containers: vec![],
        actions: vec![],
        config: vec![],
        resources: vec![],
        extra_bindings: vec![],
        has_metrics: false,
        layout: SpecLayout::Split,
        dir: PathBuf::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Trace builder

fn rel(id: u32, endpoint: &str, app: &str, units: &[&str]) -> RelationInit {
    RelationInit {
        id,
        endpoint: endpoint.into(),
        remote_app: app.into(),
        remote_units: units.iter().map(|u| u.to_string()).collect(),
    }
}

struct T {
    spec: CharmSpec,
    trace: Trace,
    ctx: u32,
    relations: BTreeMap<u32, (String, String)>,
}

impl T {
    fn new(spec: CharmSpec) -> T {
        let trace = Trace {
            format: TRACE_FORMAT,
            charm: spec.name.clone(),
            substrate: spec.substrate,
            unit: format!("{}/0", spec.name),
            options: EngineOptions::default(),
            steps: vec![],
        };
        T {
            spec,
            trace,
            ctx: 0,
            relations: BTreeMap::new(),
        }
    }

    fn version(mut self, v: &str) -> T {
        self.trace.options.juju_version = v.parse::<JujuVersion>().unwrap();
        self
    }

    fn unit(&self) -> String {
        self.trace.unit.clone()
    }

    /// Index of the last step.
    fn at(&self) -> usize {
        self.trace.steps.len() - 1
    }

    fn act(&mut self, a: Action) -> &mut Self {
        match &a {
            Action::Deploy { relations, .. } => {
                for r in relations {
                    self.relations
                        .insert(r.id, (r.endpoint.clone(), r.remote_app.clone()));
                }
            }
            Action::Integrate { relation: r } => {
                self.relations
                    .insert(r.id, (r.endpoint.clone(), r.remote_app.clone()));
            }
            _ => {}
        }
        self.trace.steps.push(Step {
            phase: Phase::Operation,
            action: a,
            events: vec![],
        });
        self
    }

    fn deploy(
        &mut self,
        leader: bool,
        peers: &[&str],
        relations: Vec<RelationInit>,
        storage: &[&str],
    ) -> &mut Self {
        let unit = self.unit();
        self.act(Action::Deploy {
            unit,
            leader,
            peers: peers.iter().map(|p| p.to_string()).collect(),
            relations,
            storage: storage.iter().map(|s| s.to_string()).collect(),
        });
        self.trace.steps[0].phase = Phase::Setup;
        self
    }

    /// An event with the common environment of §L1.1.
    fn base(&mut self, hook: &str, kind: HookKind) -> Event {
        self.ctx += 1;
        let unit = self.unit();
        let (hook_name, dispatch) = if kind == K::Action {
            let name = hook.trim_end_matches("-action");
            (String::new(), format!("actions/{name}"))
        } else {
            (hook.to_string(), format!("hooks/{hook}"))
        };
        let machine = if self.spec.substrate == Substrate::Machine {
            "0"
        } else {
            ""
        };
        let principal = if self.spec.subordinate {
            "ubuntu/0"
        } else {
            ""
        };
        let tag = unit.replace('/', "-");
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("JUJU_UNIT_NAME", unit.clone()),
            ("JUJU_MODEL_NAME", "fuzz".into()),
            (
                "JUJU_MODEL_UUID",
                "2d5a9b4e-0d1c-4c7e-8f1a-1b2c3d4e5f60".into(),
            ),
            ("JUJU_VERSION", self.trace.options.juju_version.to_string()),
            ("JUJU_HOOK_NAME", hook_name),
            ("JUJU_DISPATCH_PATH", dispatch),
            (
                "JUJU_CHARM_DIR",
                format!("/var/lib/juju/agents/unit-{tag}/charm"),
            ),
            ("JUJU_CONTEXT_ID", format!("{unit}-{hook}-{}", self.ctx)),
            (
                "JUJU_AGENT_SOCKET_ADDRESS",
                format!("@/var/lib/juju/agents/unit-{tag}/agent.socket"),
            ),
            ("JUJU_AGENT_SOCKET_NETWORK", "unix".into()),
            ("JUJU_API_ADDRESSES", "10.0.0.2:17070".into()),
            ("JUJU_SLA", "unsupported".into()),
            ("JUJU_MACHINE_ID", machine.into()),
            ("JUJU_PRINCIPAL_UNIT", principal.into()),
            ("JUJU_AVAILABILITY_ZONE", "".into()),
            ("JUJU_CHARM_HTTP_PROXY", "".into()),
            ("JUJU_CHARM_HTTPS_PROXY", "".into()),
            ("JUJU_CHARM_FTP_PROXY", "".into()),
            ("JUJU_CHARM_NO_PROXY", "".into()),
        ] {
            env.insert(k.to_string(), v);
        }
        Event {
            hook: hook.into(),
            kind,
            env,
            params: None,
            result: HookResult::Ok,
            effects: vec![],
        }
    }

    fn push(&mut self, e: Event) -> &mut Self {
        self.trace.steps.last_mut().unwrap().events.push(e);
        self
    }

    fn last(&mut self) -> &mut Event {
        self.trace
            .steps
            .last_mut()
            .unwrap()
            .events
            .last_mut()
            .unwrap()
    }

    /// Set (or add) a variable on the last event.
    fn set(&mut self, k: &str, v: &str) -> &mut Self {
        self.last().env.insert(k.into(), v.into());
        self
    }

    /// Remove a variable from the last event.
    fn unset(&mut self, k: &str) -> &mut Self {
        self.last().env.remove(k);
        self
    }

    /// Mark the last event as failed.
    fn fail(&mut self) -> &mut Self {
        self.last().result = HookResult::Error;
        self
    }

    fn effect(&mut self, e: Effect) -> &mut Self {
        self.last().effects.push(e);
        self
    }

    /// A hook without a prefix (`install`, `start`, `leader-elected` …).
    fn hook(&mut self, kind: HookKind) -> &mut Self {
        let e = self.base(kind.as_str(), kind);
        self.push(e)
    }

    fn rel_event(&mut self, kind: HookKind, id: u32, remote: &str) -> Event {
        let (endpoint, app) = self
            .relations
            .get(&id)
            .cloned()
            .unwrap_or_else(|| ("db".into(), "postgresql".into()));
        let mut e = self.base(&kind.hook_name(Some(&endpoint)), kind);
        e.env.insert("JUJU_RELATION".into(), endpoint.clone());
        e.env
            .insert("JUJU_RELATION_ID".into(), format!("{endpoint}:{id}"));
        e.env.insert("JUJU_REMOTE_UNIT".into(), remote.into());
        e.env.insert("JUJU_REMOTE_APP".into(), app);
        e
    }

    fn created(&mut self, id: u32) -> &mut Self {
        let e = self.rel_event(K::RelationCreated, id, "");
        self.push(e)
    }
    fn joined(&mut self, id: u32, u: &str) -> &mut Self {
        let e = self.rel_event(K::RelationJoined, id, u);
        self.push(e)
    }
    /// `u = ""` is the app-level relation-changed.
    fn changed(&mut self, id: u32, u: &str) -> &mut Self {
        let e = self.rel_event(K::RelationChanged, id, u);
        self.push(e)
    }
    fn departed(&mut self, id: u32, u: &str, departing: &str) -> &mut Self {
        let mut e = self.rel_event(K::RelationDeparted, id, u);
        e.env.insert("JUJU_DEPARTING_UNIT".into(), departing.into());
        self.push(e)
    }
    fn broken(&mut self, id: u32) -> &mut Self {
        let e = self.rel_event(K::RelationBroken, id, "");
        self.push(e)
    }
    /// joined(u) then changed(u).
    fn join(&mut self, id: u32, u: &str) -> &mut Self {
        self.joined(id, u).changed(id, u)
    }

    fn storage_ev(&mut self, kind: HookKind, id: &str) -> &mut Self {
        let name = id.split('/').next().unwrap().to_string();
        let st = self.spec.storage(&name).map(|s| s.kind);
        let mut e = self.base(&kind.hook_name(Some(&name)), kind);
        e.env.insert("JUJU_STORAGE_ID".into(), id.into());
        e.env
            .insert("JUJU_STORAGE_LOCATION".into(), format!("/srv/{name}"));
        e.env.insert(
            "JUJU_STORAGE_KIND".into(),
            st.unwrap_or(StorageKind::Filesystem).as_str().into(),
        );
        self.push(e)
    }
    fn attached(&mut self, id: &str) -> &mut Self {
        self.storage_ev(K::StorageAttached, id)
    }
    fn detaching(&mut self, id: &str) -> &mut Self {
        self.storage_ev(K::StorageDetaching, id)
    }

    fn workload(&mut self, kind: HookKind, c: &str) -> Event {
        let mut e = self.base(&kind.hook_name(Some(c)), kind);
        e.env.insert("JUJU_WORKLOAD_NAME".into(), c.into());
        e
    }
    fn pebble_ready(&mut self, c: &str) -> &mut Self {
        let e = self.workload(K::PebbleReady, c);
        self.push(e)
    }
    fn notice(&mut self, c: &str, key: &str, id: u32) -> &mut Self {
        let mut e = self.workload(K::PebbleCustomNotice, c);
        e.env.insert("JUJU_NOTICE_ID".into(), id.to_string());
        e.env.insert("JUJU_NOTICE_TYPE".into(), "custom".into());
        e.env.insert("JUJU_NOTICE_KEY".into(), key.into());
        self.push(e)
    }
    fn check(&mut self, kind: HookKind, c: &str, check: &str) -> &mut Self {
        let mut e = self.workload(kind, c);
        e.env.insert("JUJU_PEBBLE_CHECK_NAME".into(), check.into());
        self.push(e)
    }

    fn secret(&mut self, kind: HookKind, id: &str, revision: Option<u32>) -> &mut Self {
        let mut e = self.base(kind.as_str(), kind);
        e.env.insert("JUJU_SECRET_ID".into(), id.into());
        e.env.insert("JUJU_SECRET_LABEL".into(), "".into());
        if let Some(r) = revision {
            e.env.insert("JUJU_SECRET_REVISION".into(), r.to_string());
        }
        self.push(e)
    }

    fn action(&mut self, name: &str, id: u32) -> &mut Self {
        let mut e = self.base(&format!("{name}-action"), K::Action);
        e.env.insert("JUJU_ACTION_NAME".into(), name.into());
        e.env.insert("JUJU_ACTION_UUID".into(), id.to_string());
        e.env
            .insert("JUJU_ACTION_TAG".into(), format!("action-{id}"));
        e.params = Some(serde_json::Map::new());
        self.push(e)
    }
    fn run(&mut self, name: &str, id: u32) -> &mut Self {
        self.act(Action::RunAction {
            name: name.into(),
            id,
            params: serde_json::Map::new(),
        })
    }

    fn pre_series(&mut self, base: &str) -> &mut Self {
        let mut e = self.base("pre-series-upgrade", K::PreSeriesUpgrade);
        e.env.insert("JUJU_TARGET_BASE".into(), base.into());
        e.env.insert("JUJU_TARGET_SERIES".into(), "noble".into());
        self.push(e)
    }

    fn validate(&self) -> Result<(), Vec<Violation>> {
        validate(&self.trace, &self.spec)
    }
}

fn list(v: &[Violation]) -> String {
    v.iter().map(|v| format!("  {v}\n")).collect()
}

#[track_caller]
fn ok(t: &T) {
    if let Err(v) = t.validate() {
        panic!("expected a valid trace, got:\n{}", list(&v));
    }
}

/// The first violation must be `rule` at `step`.
#[track_caller]
fn bad(t: &T, rule: Rule, step: usize) -> Violation {
    let v = match t.validate() {
        Ok(()) => panic!("expected {rule:?} at step {step}, but the trace is valid"),
        Err(v) => v,
    };
    let first = v[0].clone();
    assert_eq!(
        (first.rule, first.step),
        (rule, step),
        "violations:\n{}",
        list(&v)
    );
    first
}

// ---------------------------------------------------------------------------------------
// Happy prefixes

const PG: &str = "postgresql";

/// K8s deploy per §L2.1 / §L7 "deploy (K8s)": install → relation-created* → leader hook →
/// pebble-ready* → storage-attached → config-changed → start, then the relation members
/// join. Relation 0 is the peer relation (`cluster`, peer webapp/1), 1 is `db` with
/// postgresql/0. Storage `data/0`.
fn k8s_started(leader: bool) -> T {
    let mut t = T::new(k8s_spec());
    t.deploy(
        leader,
        &["webapp/1"],
        vec![
            rel(0, "cluster", "webapp", &["webapp/1"]),
            rel(1, "db", PG, &["postgresql/0"]),
        ],
        &["data/0"],
    );
    t.hook(K::Install).created(0).created(1);
    if leader {
        t.hook(K::LeaderElected);
    } else {
        t.hook(K::LeaderSettingsChanged);
    }
    t.pebble_ready("workload")
        .attached("data/0")
        .hook(K::ConfigChanged)
        .hook(K::Start)
        .pebble_ready("nginx")
        .join(1, "postgresql/0")
        .join(0, "webapp/1");
    t
}

/// Machine deploy per §L2.1: storage-attached* → install → relation-created → lsc →
/// config-changed → start. Relation 0 is the peer relation `replicas` with dbserver/1.
fn machine_started() -> T {
    let mut t = T::new(machine_spec());
    t.deploy(
        false,
        &["dbserver/1"],
        vec![rel(0, "replicas", "dbserver", &["dbserver/1"])],
        &["disks/0", "logs/0"],
    );
    t.attached("logs/0")
        .attached("disks/0")
        .hook(K::Install)
        .created(0)
        .hook(K::LeaderSettingsChanged)
        .hook(K::ConfigChanged)
        .hook(K::Start)
        .join(0, "dbserver/1");
    t
}

/// Integrate `website` (id 5) with haproxy and bring haproxy/0 in.
fn with_website(t: &mut T) {
    t.act(Action::Integrate {
        relation: rel(5, "website", "haproxy", &[]),
    })
    .created(5);
    t.act(Action::RemoteUnitAdded {
        relation_id: 5,
        unit: "haproxy/0".into(),
    })
    .join(5, "haproxy/0");
}

// ---------------------------------------------------------------------------------------
// Valid traces

#[test]
fn valid_k8s_deploy_happy_path() {
    ok(&k8s_started(true));
    ok(&k8s_started(false));
}

#[test]
fn valid_k8s_deploy_pebble_ready_before_install_is_not_needed() {
    // §L8.2: pebble-ready only after start is fine too; app-level changed for a relation
    // that existed at deploy (remote data may already be there).
    let mut t = T::new(k8s_spec());
    t.deploy(
        false,
        &[],
        vec![rel(0, "cluster", "webapp", &[]), rel(1, "db", PG, &[])],
        &[],
    );
    t.hook(K::Install)
        .created(1)
        .created(0)
        .hook(K::LeaderSettingsChanged)
        .hook(K::ConfigChanged)
        .hook(K::Start)
        .pebble_ready("nginx")
        .pebble_ready("workload")
        .changed(1, "");
    ok(&t);
}

#[test]
fn valid_machine_deploy_with_storage_before_install() {
    let mut t = machine_started();
    t.act(Action::UpdateStatusTimer).hook(K::UpdateStatus);
    t.act(Action::CollectMetricsTimer).hook(K::CollectMetrics);
    ok(&t);
}

#[test]
fn valid_relation_lifecycle() {
    let mut t = k8s_started(true);
    with_website(&mut t);
    t.act(Action::RemoteUnitAdded {
        relation_id: 5,
        unit: "haproxy/1".into(),
    })
    .join(5, "haproxy/1");
    t.act(Action::RemoteUnitData {
        relation_id: 5,
        unit: "haproxy/1".into(),
        data: BTreeMap::new(),
    })
    .changed(5, "haproxy/1");
    t.act(Action::RemoteAppData {
        relation_id: 5,
        data: BTreeMap::new(),
    })
    .changed(5, "");
    t.act(Action::RemoteUnitRemoved {
        relation_id: 5,
        unit: "haproxy/0".into(),
    })
    .departed(5, "haproxy/0", "haproxy/0");
    t.act(Action::RemoveRelation { relation_id: 5 })
        .departed(5, "haproxy/1", "haproxy/1")
        .broken(5);
    // Peers come and go (this unit is the leader: no app-level peer changes).
    t.act(Action::ScaleUp {
        unit: "webapp/2".into(),
    })
    .join(0, "webapp/2");
    t.act(Action::ScaleDown {
        unit: "webapp/1".into(),
    })
    .departed(0, "webapp/1", "webapp/1");
    ok(&t);
}

#[test]
fn valid_suspend_and_resume_gives_created_again() {
    let mut t = k8s_started(true);
    with_website(&mut t);
    t.act(Action::SuspendRelation { relation_id: 5 })
        .departed(5, "haproxy/0", "haproxy/0")
        .broken(5);
    t.act(Action::ResumeRelation { relation_id: 5 })
        .created(5)
        .join(5, "haproxy/0");
    ok(&t);
}

#[test]
fn valid_teardown_k8s() {
    // §L2.12 code order: storage-detaching → non-peer departed (departing = this unit) →
    // broken → peer departed → stop → remove.
    let mut t = k8s_started(true);
    t.act(Action::RemoveUnit)
        .detaching("data/0")
        .departed(1, "postgresql/0", "webapp/0")
        .broken(1)
        .departed(0, "webapp/1", "webapp/0")
        .hook(K::Stop)
        .hook(K::Remove);
    ok(&t);
}

#[test]
fn valid_teardown_machine_and_actions_while_dying() {
    let mut t = machine_started();
    t.run("backup", 1);
    t.act(Action::RemoveApplication)
        .action("backup", 1)
        .detaching("disks/0")
        .detaching("logs/0")
        .departed(0, "dbserver/1", "dbserver/0")
        .hook(K::Stop)
        .hook(K::Remove);
    ok(&t);
}

#[test]
fn valid_teardown_relations_before_storage_when_switched_on() {
    let mut t = k8s_started(true);
    t.act(Action::RemoveUnit)
        .departed(1, "postgresql/0", "webapp/0")
        .broken(1)
        .detaching("data/0")
        .departed(0, "webapp/1", "webapp/0")
        .hook(K::Stop)
        .hook(K::Remove);
    bad(&t, Rule::Teardown, 1);
    t.trace.options.teardown_relations_before_storage = true;
    ok(&t);
}

#[test]
fn valid_removal_before_install() {
    // §L2.1 with §L2.15.2: a unit removed before install runs gets no install/start/stop/
    // remove, and nothing else either: its deploy-time storage was attached, but
    // nothing but storage-attached ever runs before install.
    let removed = || {
        let mut t = T::new(machine_spec());
        t.deploy(
            false,
            &[],
            vec![rel(0, "replicas", "dbserver", &[])],
            &["logs/0"],
        );
        t.attached("logs/0");
        t
    };
    let mut t = removed();
    t.act(Action::RemoveUnit);
    ok(&t);
    let mut t = removed();
    t.act(Action::RemoveUnit).detaching("logs/0");
    bad(&t, Rule::BeforeInstall, 1);
}

#[test]
fn valid_hook_error_retry_with_action_between() {
    let mut t = k8s_started(false);
    t.act(Action::Config {
        changes: BTreeMap::new(),
    })
    .hook(K::ConfigChanged)
    .fail();
    t.run("backup", 7).action("backup", 7);
    t.act(Action::UpdateStatusTimer);
    t.act(Action::Resolved { retry: true })
        .hook(K::ConfigChanged)
        .hook(K::UpdateStatus);
    ok(&t);
}

#[test]
fn valid_failed_install_is_not_installed() {
    let mut t = T::new(k8s_spec());
    t.deploy(false, &[], vec![rel(0, "cluster", "webapp", &[])], &[]);
    t.hook(K::Install).fail().hook(K::Install).created(0);
    ok(&t);
    // Without the retry, relation-created would come before install committed.
    let mut t = T::new(k8s_spec());
    t.deploy(false, &[], vec![rel(0, "cluster", "webapp", &[])], &[]);
    t.hook(K::Install).fail();
    t.act(Action::Resolved { retry: true }).created(0);
    bad(&t, Rule::HookRetry, 1);
}

#[test]
fn valid_resolved_no_retry_commits_the_skipped_hook() {
    let mut t = k8s_started(true);
    t.act(Action::RemoteUnitAdded {
        relation_id: 1,
        unit: "postgresql/1".into(),
    })
    .joined(1, "postgresql/1")
    .fail();
    t.act(Action::Resolved { retry: false })
        .changed(1, "postgresql/1");
    ok(&t);
}

#[test]
fn valid_k8s_pod_recreated() {
    // §L2.13 / §L7: [stop] → upgrade-charm → config-changed → start (+ lsc) → pebble-ready*.
    let mut t = k8s_started(false);
    t.act(Action::PodRecreated)
        .hook(K::Stop)
        .hook(K::UpgradeCharm)
        .hook(K::ConfigChanged)
        .hook(K::Start)
        .hook(K::LeaderSettingsChanged)
        .pebble_ready("workload")
        .pebble_ready("nginx");
    t.act(Action::CharmContainerRestarted)
        .hook(K::Stop)
        .hook(K::LeaderSettingsChanged)
        .hook(K::Start);
    t.act(Action::Refresh)
        .hook(K::Stop)
        .hook(K::UpgradeCharm)
        .hook(K::ConfigChanged)
        .hook(K::Start);
    ok(&t);
}

#[test]
fn valid_machine_refresh_reboot_and_series_upgrade() {
    let mut t = machine_started();
    t.act(Action::Refresh)
        .hook(K::UpgradeCharm)
        .hook(K::ConfigChanged)
        .hook(K::LeaderSettingsChanged);
    t.act(Action::MachineRebooted)
        .hook(K::Start)
        .hook(K::LeaderSettingsChanged)
        .hook(K::ConfigChanged);
    t.act(Action::SeriesUpgradePrepare {
        target_base: "ubuntu@24.04".into(),
    })
    .pre_series("ubuntu@24.04");
    t.act(Action::UpdateStatusTimer);
    t.act(Action::SeriesUpgradeComplete)
        .hook(K::PostSeriesUpgrade)
        .hook(K::UpdateStatus);
    ok(&t);
}

#[test]
fn valid_workload_events_on_36() {
    let mut t = k8s_started(true);
    t.act(Action::CustomNotice {
        container: "workload".into(),
        key: "example.com/backup-done".into(),
        notice_id: 3,
    })
    .notice("workload", "example.com/backup-done", 3);
    t.act(Action::CheckFailed {
        container: "nginx".into(),
        check: "alive".into(),
    })
    .check(K::PebbleCheckFailed, "nginx", "alive");
    t.act(Action::CheckRecovered {
        container: "nginx".into(),
        check: "alive".into(),
    })
    .check(K::PebbleCheckRecovered, "nginx", "alive");
    t.act(Action::WorkloadStopped {
        container: "nginx".into(),
    });
    t.act(Action::WorkloadStarted {
        container: "nginx".into(),
    })
    .pebble_ready("nginx");
    ok(&t);
}

/// The workload's faults give no hook, so their own validity is all there is to check: a
/// service exits only while the target reported it running, a fault only once per
/// Pebble, and a restarted container takes them on afresh.
#[test]
fn workload_faults_happen_only_where_they_could() {
    let started = || {
        let mut t = k8s_started(true);
        t.act(Action::UpdateStatusTimer)
            .hook(K::UpdateStatus)
            .effect(Effect::ServicesRunning {
                container: "workload".into(),
                services: vec!["web".into()],
            });
        t
    };
    let exited = || Action::ServiceExited {
        container: "workload".into(),
        service: "web".into(),
    };
    let full = || Action::WorkloadFault {
        container: "nginx".into(),
        fault: WorkloadFault::DiskFull,
    };
    let mut t = started();
    t.act(exited());
    t.act(full());
    t.act(Action::WorkloadStopped {
        container: "nginx".into(),
    });
    t.act(Action::WorkloadStarted {
        container: "nginx".into(),
    })
    .pebble_ready("nginx");
    t.act(full());
    ok(&t);

    for (second, name) in [(exited(), "exit twice"), (full(), "the same fault twice")] {
        let second_kind = second.kind().as_str();
        let mut t = started();
        t.act(exited());
        t.act(full());
        t.act(second);
        let v = bad(&t, Rule::ActionShape, t.at());
        assert_eq!(v.hook, second_kind, "{name}");
    }
    // A service nobody started.
    let mut t = k8s_started(true);
    t.act(exited());
    bad(&t, Rule::ActionShape, t.at());
    // Nothing happens to a container whose Pebble is down.
    let mut t = k8s_started(true);
    t.act(Action::WorkloadStopped {
        container: "nginx".into(),
    });
    t.act(full());
    bad(&t, Rule::ActionShape, t.at());
}

/// The host's faults give no hook either: a refresh fault needs an installed snap (one
/// fault per snap), only a running service dies, a fault in force cannot start again, the
/// host recovers only from a fault, and a Kubernetes charm has no host.
#[test]
fn host_faults_happen_only_where_they_could() {
    let installed = || {
        let mut t = machine_started();
        t.act(Action::UpdateStatusTimer)
            .hook(K::UpdateStatus)
            .effect(Effect::HostChanged {
                snaps: vec!["db".into()],
                services: vec!["snap.db.daemon.service".into()],
            });
        t
    };
    let fails = || Action::SnapRefreshFails { snap: "db".into() };
    let died = || Action::HostServiceFailed {
        service: "snap.db.daemon.service".into(),
    };
    let mut t = installed();
    t.act(fails());
    t.act(died());
    t.act(Action::InstallFails);
    t.act(Action::HostDiskFull);
    t.act(Action::HostRecovered);
    t.act(Action::SnapRefreshHeld { snap: "db".into() });
    ok(&t);

    for (second, name) in [
        (fails(), "a second refresh fault on the same snap"),
        (died(), "a service that already died"),
        (Action::InstallFails, "installs that already fail"),
        (Action::HostDiskFull, "a disk already full"),
    ] {
        let second_kind = second.kind().as_str();
        let mut t = installed();
        t.act(fails());
        t.act(died());
        t.act(Action::InstallFails);
        t.act(Action::HostDiskFull);
        t.act(second);
        let v = bad(&t, Rule::ActionShape, t.at());
        assert_eq!(v.hook, second_kind, "{name}");
    }
    // A snap nobody installed, a recovery with nothing to recover from.
    for action in [fails(), Action::HostRecovered] {
        let mut t = machine_started();
        t.act(action);
        bad(&t, Rule::ActionShape, t.at());
    }
    // A reboot: which services run is unknown until the next report.
    let mut t = installed();
    t.act(Action::MachineRebooted)
        .hook(K::Start)
        .hook(K::LeaderSettingsChanged)
        .hook(K::ConfigChanged);
    t.act(died());
    bad(&t, Rule::ActionShape, t.at());
    // A Kubernetes charm has no host.
    let mut t = k8s_started(true);
    t.act(Action::HostDiskFull);
    bad(&t, Rule::ActionShape, t.at());
}

#[test]
fn custom_notices_need_34() {
    let build = |v: &str| {
        let mut t = k8s_started(true);
        t.trace.options.juju_version = v.parse().unwrap();
        // Rebuild JUJU_VERSION in every event for the chosen version.
        for s in &mut t.trace.steps {
            for e in &mut s.events {
                e.env.insert("JUJU_VERSION".into(), v.into());
            }
        }
        t.act(Action::CustomNotice {
            container: "workload".into(),
            key: "k".into(),
            notice_id: 1,
        })
        .notice("workload", "k", 1);
        t
    };
    ok(&build("3.4.0"));
    let t = build("3.3.5");
    let v = bad(&t, Rule::Workload, t.at());
    assert_eq!(v.event, Some(0));
    assert!(v.message.contains("3.4"), "{v}");
    let t = T::new(k8s_spec()).version("3.3.5");
    assert_eq!(t.trace.options.juju_version, JujuVersion::new(3, 3, 5));
}

#[test]
fn check_events_need_36() {
    let mut t = k8s_started(true);
    t.trace.options.juju_version = JujuVersion::new(3, 5, 2);
    for s in &mut t.trace.steps {
        for e in &mut s.events {
            e.env.insert("JUJU_VERSION".into(), "3.5.2".into());
        }
    }
    t.act(Action::CheckFailed {
        container: "nginx".into(),
        check: "alive".into(),
    })
    .check(K::PebbleCheckFailed, "nginx", "alive");
    bad(&t, Rule::Workload, t.at());
}

#[test]
fn valid_secrets() {
    let mut t = k8s_started(true);
    t.run("backup", 1);
    t.action("backup", 1).effect(Effect::SecretCreated {
        id: "secret:abcdefghijklmnopqrst".into(),
        owner: SecretOwner::App,
        label: None,
    });
    t.act(Action::SecretRotateDue {
        id: "secret:abcdefghijklmnopqrst".into(),
    })
    .secret(K::SecretRotate, "secret:abcdefghijklmnopqrst", None)
    .secret(K::SecretRotate, "secret:abcdefghijklmnopqrst", None);
    t.act(Action::SecretExpired {
        id: "secret:abcdefghijklmnopqrst".into(),
        revision: 1,
    })
    .secret(K::SecretExpired, "secret:abcdefghijklmnopqrst", Some(1));
    t.act(Action::SecretRevisionObsolete {
        id: "secret:abcdefghijklmnopqrst".into(),
        revision: 1,
    })
    .secret(K::SecretRemove, "secret:abcdefghijklmnopqrst", Some(1));
    // A consumed secret from another app.
    t.act(Action::SecretGranted {
        id: "secret:zzzzzzzzzzzzzzzzzzzz".into(),
        origin: SecretOrigin::App {
            app: PG.into(),
            relation_id: 1,
        },
        content: BTreeMap::new(),
    });
    t.act(Action::SecretRevised {
        id: "secret:zzzzzzzzzzzzzzzzzzzz".into(),
        content: BTreeMap::new(),
    })
    .secret(K::SecretChanged, "secret:zzzzzzzzzzzzzzzzzzzz", None);
    ok(&t);
}

#[test]
fn valid_subordinate_orphaned_by_last_container_relation() {
    let mut t = T::new(subordinate_spec());
    t.deploy(
        false,
        &[],
        vec![rel(3, "juju-info", "ubuntu", &["ubuntu/0"])],
        &[],
    );
    t.hook(K::Install)
        .created(3)
        .hook(K::LeaderSettingsChanged)
        .hook(K::ConfigChanged)
        .hook(K::Start)
        .join(3, "ubuntu/0");
    t.act(Action::RemoveRelation { relation_id: 3 })
        .departed(3, "ubuntu/0", "ubuntu/0")
        .broken(3)
        .hook(K::Stop)
        .hook(K::Remove);
    ok(&t);
}

#[test]
fn valid_json_literal_trace() {
    let ev = |hook: &str, kind: &str| {
        json!({
            "hook": hook, "kind": kind,
            "env": {
                "JUJU_UNIT_NAME": "dbserver/0", "JUJU_MODEL_NAME": "m",
                "JUJU_MODEL_UUID": "u", "JUJU_VERSION": "3.6.4", "JUJU_HOOK_NAME": hook,
                "JUJU_DISPATCH_PATH": format!("hooks/{hook}"), "JUJU_CHARM_DIR": "/c",
                "JUJU_CONTEXT_ID": format!("dbserver/0-{hook}-1"),
                "JUJU_AGENT_SOCKET_ADDRESS": "@s", "JUJU_AGENT_SOCKET_NETWORK": "unix",
                "JUJU_API_ADDRESSES": "10.0.0.2:17070", "JUJU_SLA": "unsupported",
                "JUJU_MACHINE_ID": "0", "JUJU_PRINCIPAL_UNIT": "",
                "JUJU_AVAILABILITY_ZONE": "", "JUJU_CHARM_HTTP_PROXY": "",
                "JUJU_CHARM_HTTPS_PROXY": "", "JUJU_CHARM_FTP_PROXY": "",
                "JUJU_CHARM_NO_PROXY": ""
            }
        })
    };
    let mut created = ev("replicas-relation-created", "relation-created");
    for (k, v) in [
        ("JUJU_RELATION", "replicas"),
        ("JUJU_RELATION_ID", "replicas:0"),
        ("JUJU_REMOTE_UNIT", ""),
        ("JUJU_REMOTE_APP", "dbserver"),
    ] {
        created["env"][k] = json!(v);
    }
    let trace: Trace = serde_json::from_value(json!({
        "format": 1, "charm": "dbserver", "substrate": "machine", "unit": "dbserver/0",
        "options": {"juju-version": "3.6.4"},
        "steps": [
            {"phase": "setup", "action": "deploy", "unit": "dbserver/0", "leader": true,
             "relations": [{"id": 0, "endpoint": "replicas", "remote_app": "dbserver"}],
             "events": [ev("install", "install"), created,
                        ev("leader-elected", "leader-elected"),
                        ev("config-changed", "config-changed"), ev("start", "start")]},
            {"phase": "operation", "action": "update-status-timer",
             "events": [ev("update-status", "update-status")]}
        ]
    }))
    .unwrap();
    assert_eq!(validate(&trace, &machine_spec()), Ok(()));
    // Round trip through the JSON form.
    let back = Trace::from_json(&trace.to_json()).unwrap();
    assert_eq!(validate(&back, &machine_spec()), Ok(()));
}

#[test]
fn builder_traces_round_trip_through_json() {
    let t = k8s_started(true);
    let back = Trace::from_json(&t.trace.to_json()).unwrap();
    assert_eq!(back, t.trace);
    assert_eq!(validate(&back, &t.spec), Ok(()));
}

#[test]
fn violation_display_names_step_event_hook_and_section() {
    let mut t = k8s_started(true);
    t.act(Action::RemoteUnitAdded {
        relation_id: 1,
        unit: "postgresql/1".into(),
    })
    .join(1, "postgresql/1")
    .joined(1, "postgresql/1");
    let v = bad(&t, Rule::RelationMembership, 1);
    assert_eq!(
        v.to_string(),
        "step 1 (event 2, db-relation-joined): §L2.15.6 joined(postgresql/1) twice in one membership"
    );
}

#[test]
fn rules_have_sections_and_descriptions() {
    for r in Rule::ALL {
        assert!(!r.section().is_empty() && !r.description().is_empty());
    }
    assert_eq!(Rule::RelationState.section(), "2.3");
    assert_eq!(Rule::UnknownRelation.section(), "2.3");
    assert_eq!(Rule::Env.section(), "1.2");
    assert_eq!(Rule::HookName.section(), "1.2");
    assert_eq!(Rule::Action.section(), "2.15.15");
}

// ---------------------------------------------------------------------------------------
// Trace and action shape (§L2.1, §L2.0)

#[test]
fn trace_must_start_with_deploy() {
    let mut t = T::new(k8s_spec());
    t.act(Action::UpdateStatusTimer);
    t.deploy(true, &[], vec![rel(0, "cluster", "webapp", &[])], &[]);
    let v = bad(&t, Rule::TraceShape, 0);
    assert!(v.event.is_none());
}

#[test]
fn no_events_before_deploy() {
    let mut t = T::new(k8s_spec());
    t.act(Action::UpdateStatusTimer).hook(K::Install);
    let v = t.validate().unwrap_err();
    assert!(
        v.iter()
            .any(|v| v.rule == Rule::TraceShape && v.step == 0 && v.event == Some(0)),
        "{}",
        list(&v)
    );
}

#[test]
fn exactly_one_deploy() {
    let mut t = k8s_started(true);
    t.deploy(true, &[], vec![], &[]);
    bad(&t, Rule::TraceShape, 1);
}

#[test]
fn substrate_must_match_spec() {
    let mut t = k8s_started(true);
    t.trace.substrate = Substrate::Machine;
    bad(&t, Rule::TraceShape, 0);
}

#[test]
fn peer_relation_exists_from_deploy() {
    let mut t = T::new(k8s_spec());
    t.deploy(true, &[], vec![], &[]);
    bad(&t, Rule::ActionShape, 0);
}

#[test]
fn relation_ids_are_never_reused() {
    let mut t = k8s_started(true);
    t.act(Action::Integrate {
        relation: rel(1, "website", "haproxy", &[]),
    });
    bad(&t, Rule::ActionShape, 1);
}

#[test]
fn remote_unit_names_are_never_reused() {
    let mut t = k8s_started(true);
    t.act(Action::RemoteUnitRemoved {
        relation_id: 1,
        unit: "postgresql/0".into(),
    })
    .departed(1, "postgresql/0", "postgresql/0");
    t.act(Action::RemoteUnitAdded {
        relation_id: 1,
        unit: "postgresql/0".into(),
    });
    bad(&t, Rule::ActionShape, 2);
}

// ---------------------------------------------------------------------------------------
// Environment and hook names (§L1.2, §L1.3)

#[test]
fn env_common_var_missing() {
    let mut t = k8s_started(true);
    t.act(Action::UpdateStatusTimer)
        .hook(K::UpdateStatus)
        .unset("JUJU_MODEL_UUID");
    let v = bad(&t, Rule::Env, 1);
    assert!(v.message.contains("JUJU_MODEL_UUID"));
}

#[test]
fn env_secret_revision_only_on_remove_and_expired() {
    let mut t = k8s_started(true);
    t.act(Action::SecretRevised {
        id: "secret:zzzzzzzzzzzzzzzzzzzz".into(),
        content: BTreeMap::new(),
    })
    .secret(K::SecretChanged, "secret:zzzzzzzzzzzzzzzzzzzz", Some(2));
    let v = bad(&t, Rule::Env, 1);
    assert!(v.message.contains("JUJU_SECRET_REVISION"), "{v}");
}

#[test]
fn env_relation_vars_on_a_non_relation_hook() {
    let mut t = k8s_started(true);
    t.act(Action::UpdateStatusTimer)
        .hook(K::UpdateStatus)
        .set("JUJU_RELATION", "db");
    bad(&t, Rule::Env, 1);
}

#[test]
fn env_remote_unit_empty_on_created() {
    let mut t = k8s_started(true);
    t.act(Action::Integrate {
        relation: rel(5, "website", "haproxy", &["haproxy/0"]),
    })
    .created(5)
    .set("JUJU_REMOTE_UNIT", "haproxy/0");
    bad(&t, Rule::Env, 1);
}

#[test]
fn env_departing_unit_is_this_unit_when_dying() {
    let mut t = k8s_started(true);
    t.act(Action::RemoveUnit)
        .detaching("data/0")
        .departed(1, "postgresql/0", "postgresql/0");
    let v = bad(&t, Rule::Env, 1);
    assert_eq!(v.event, Some(1));
}

#[test]
fn env_departed_needs_departing_unit() {
    let mut t = k8s_started(true);
    t.act(Action::RemoteUnitRemoved {
        relation_id: 1,
        unit: "postgresql/0".into(),
    })
    .departed(1, "postgresql/0", "postgresql/0")
    .unset("JUJU_DEPARTING_UNIT");
    bad(&t, Rule::Env, 1);
}

#[test]
fn env_version_and_unit_match_the_trace() {
    let mut t = k8s_started(true);
    t.act(Action::UpdateStatusTimer)
        .hook(K::UpdateStatus)
        .set("JUJU_VERSION", "3.5.0");
    bad(&t, Rule::Env, 1);
    let mut t = k8s_started(true);
    t.act(Action::UpdateStatusTimer)
        .hook(K::UpdateStatus)
        .set("JUJU_UNIT_NAME", "webapp/1");
    bad(&t, Rule::Env, 1);
}

#[test]
fn env_machine_id_empty_on_k8s() {
    let mut t = k8s_started(true);
    t.act(Action::UpdateStatusTimer)
        .hook(K::UpdateStatus)
        .set("JUJU_MACHINE_ID", "3");
    bad(&t, Rule::Env, 1);
}

#[test]
fn env_remote_app_matches_relation() {
    let mut t = k8s_started(true);
    t.act(Action::RemoteUnitData {
        relation_id: 1,
        unit: "postgresql/0".into(),
        data: BTreeMap::new(),
    })
    .changed(1, "postgresql/0")
    .set("JUJU_REMOTE_APP", "mysql");
    bad(&t, Rule::Env, 1);
}

#[test]
fn hook_name_must_match_kind_and_prefix() {
    let mut t = k8s_started(true);
    t.act(Action::RemoteUnitData {
        relation_id: 1,
        unit: "postgresql/0".into(),
        data: BTreeMap::new(),
    })
    .changed(1, "postgresql/0");
    t.last().hook = "db-relation-joined".into();
    bad(&t, Rule::HookName, 1);
}

#[test]
fn hook_name_of_actions_is_empty_and_dispatch_is_actions() {
    let mut t = k8s_started(true);
    t.run("backup", 1)
        .action("backup", 1)
        .set("JUJU_HOOK_NAME", "backup");
    bad(&t, Rule::HookName, 1);
    let mut t = k8s_started(true);
    t.run("backup", 1)
        .action("backup", 1)
        .set("JUJU_DISPATCH_PATH", "hooks/backup");
    bad(&t, Rule::HookName, 1);
}

#[test]
fn catalogue_series_upgrade_only_on_machines() {
    let mut t = k8s_started(true);
    t.act(Action::UpdateStatusTimer).pre_series("ubuntu@24.04");
    bad(&t, Rule::Catalogue, 1);
}

#[test]
fn catalogue_collect_metrics() {
    let mut t = k8s_started(true);
    t.act(Action::CollectMetricsTimer).hook(K::CollectMetrics);
    bad(&t, Rule::Catalogue, 1);
    // Gone from 3.6.11.
    let mut t = machine_started();
    t.trace.options.juju_version = JujuVersion::new(3, 6, 11);
    for s in &mut t.trace.steps {
        for e in &mut s.events {
            e.env.insert("JUJU_VERSION".into(), "3.6.11".into());
        }
    }
    t.act(Action::CollectMetricsTimer).hook(K::CollectMetrics);
    t.last().env.insert("JUJU_VERSION".into(), "3.6.11".into());
    bad(&t, Rule::Catalogue, 1);
}

// ---------------------------------------------------------------------------------------
// Causes (§L2.0) and before-start (§L2.1)

#[test]
fn unprompted_config_changed() {
    let mut t = k8s_started(true);
    t.act(Action::UpdateStatusTimer).hook(K::ConfigChanged);
    bad(&t, Rule::Unprompted, 1);
}

#[test]
fn unprompted_update_status() {
    let mut t = k8s_started(true);
    t.act(Action::LeaderSet).hook(K::UpdateStatus);
    bad(&t, Rule::Unprompted, 1);
}

#[test]
fn unprompted_relation_changed_without_data() {
    let mut t = k8s_started(true);
    t.act(Action::UpdateStatusTimer).changed(1, "postgresql/0");
    bad(&t, Rule::RelationState, 1);
}

#[test]
fn unprompted_action_never_run() {
    let mut t = k8s_started(true);
    t.act(Action::UpdateStatusTimer).action("backup", 4);
    bad(&t, Rule::Unprompted, 1);
}

#[test]
fn unprompted_pebble_ready() {
    let mut t = k8s_started(true);
    t.act(Action::UpdateStatusTimer).pebble_ready("nginx");
    bad(&t, Rule::Unprompted, 1);
}

#[test]
fn before_start_no_joined() {
    let mut t = T::new(k8s_spec());
    t.deploy(
        true,
        &[],
        vec![
            rel(0, "cluster", "webapp", &[]),
            rel(1, "db", PG, &["postgresql/0"]),
        ],
        &[],
    );
    t.hook(K::Install)
        .created(0)
        .created(1)
        .hook(K::LeaderElected)
        .joined(1, "postgresql/0");
    let v = bad(&t, Rule::BeforeStart, 0);
    assert_eq!(v.event, Some(4));
}

#[test]
fn before_start_no_update_status() {
    let mut t = T::new(machine_spec());
    t.deploy(false, &[], vec![rel(0, "replicas", "dbserver", &[])], &[]);
    t.hook(K::Install).created(0);
    t.act(Action::UpdateStatusTimer).hook(K::UpdateStatus);
    bad(&t, Rule::BeforeStart, 1);
}

// ---------------------------------------------------------------------------------------
// §L2.3 per-relation rules

#[test]
fn unknown_relation() {
    let mut t = k8s_started(true);
    t.act(Action::RemoteAppData {
        relation_id: 1,
        data: BTreeMap::new(),
    })
    .changed(1, "");
    t.last()
        .env
        .insert("JUJU_RELATION_ID".into(), "db:9".into());
    bad(&t, Rule::UnknownRelation, 1);
}

#[test]
fn relation_state_joined_for_non_member() {
    let mut t = k8s_started(true);
    t.act(Action::UpdateStatusTimer).joined(1, "postgresql/7");
    bad(&t, Rule::RelationState, 1);
}

#[test]
fn relation_state_departed_for_present_unit() {
    let mut t = k8s_started(true);
    t.act(Action::UpdateStatusTimer)
        .departed(1, "postgresql/0", "postgresql/0");
    bad(&t, Rule::RelationState, 1);
}

#[test]
fn relation_state_broken_for_live_relation() {
    let mut t = k8s_started(true);
    with_website(&mut t);
    t.act(Action::RemoteUnitRemoved {
        relation_id: 5,
        unit: "haproxy/0".into(),
    })
    .departed(5, "haproxy/0", "haproxy/0")
    .broken(5);
    bad(&t, Rule::RelationState, 3);
}

#[test]
fn relation_state_app_changed_needs_app_data() {
    let mut t = k8s_started(true);
    with_website(&mut t);
    t.act(Action::UpdateStatusTimer).changed(5, "");
    bad(&t, Rule::RelationState, 3);
}

#[test]
fn relation_state_no_app_level_peer_changed_on_leader() {
    let mut t = k8s_started(true);
    t.act(Action::RemoteAppData {
        relation_id: 0,
        data: BTreeMap::new(),
    })
    .changed(0, "");
    bad(&t, Rule::RelationState, 1);
    // A non-leader gets it.
    let mut t = k8s_started(false);
    t.act(Action::RemoteAppData {
        relation_id: 0,
        data: BTreeMap::new(),
    })
    .changed(0, "");
    ok(&t);
}

#[test]
fn relation_state_created_for_removed_relation() {
    let mut t = k8s_started(true);
    t.act(Action::Integrate {
        relation: rel(5, "website", "haproxy", &[]),
    });
    t.act(Action::RemoveRelation { relation_id: 5 }).created(5);
    bad(&t, Rule::RelationState, 2);
}

// ---------------------------------------------------------------------------------------
// §L2.15.1 – §L2.15.15

#[test]
fn r1_nothing_after_remove() {
    let mut t = T::new(machine_spec());
    t.deploy(false, &[], vec![rel(0, "replicas", "dbserver", &[])], &[]);
    t.hook(K::Install).created(0);
    t.act(Action::RemoveUnit).hook(K::Remove);
    t.run("backup", 1).action("backup", 1);
    bad(&t, Rule::AfterRemove, 2);
}

#[test]
fn r2_nothing_before_install() {
    let mut t = T::new(k8s_spec());
    t.deploy(true, &[], vec![rel(0, "cluster", "webapp", &[])], &[]);
    t.hook(K::LeaderElected).hook(K::Install);
    bad(&t, Rule::BeforeInstall, 0);
    // K8s storage is never attached before install.
    let mut t = T::new(k8s_spec());
    t.deploy(
        true,
        &[],
        vec![rel(0, "cluster", "webapp", &[])],
        &["data/0"],
    );
    t.attached("data/0").hook(K::Install);
    bad(&t, Rule::BeforeInstall, 0);
    // Nor pebble-ready.
    let mut t = T::new(k8s_spec());
    t.deploy(true, &[], vec![rel(0, "cluster", "webapp", &[])], &[]);
    t.pebble_ready("nginx").hook(K::Install);
    bad(&t, Rule::BeforeInstall, 0);
}

#[test]
fn r3_install_once() {
    let mut t = machine_started();
    t.act(Action::UpdateStatusTimer).hook(K::Install);
    bad(&t, Rule::StartStop, 1);
}

#[test]
fn r3_start_only_after_config_changed() {
    let mut t = T::new(machine_spec());
    t.deploy(false, &[], vec![rel(0, "replicas", "dbserver", &[])], &[]);
    t.hook(K::Install)
        .created(0)
        .hook(K::LeaderSettingsChanged)
        .hook(K::Start);
    bad(&t, Rule::StartStop, 0);
}

#[test]
fn r3_start_again_only_after_restart() {
    let mut t = machine_started();
    t.act(Action::Config {
        changes: BTreeMap::new(),
    })
    .hook(K::ConfigChanged)
    .hook(K::Start);
    bad(&t, Rule::StartStop, 1);
}

#[test]
fn r3_stop_only_when_started_and_for_a_reason() {
    let mut t = machine_started();
    t.act(Action::UpdateStatusTimer).hook(K::Stop);
    bad(&t, Rule::StartStop, 1);
    let mut t = k8s_started(true);
    t.act(Action::PodRecreated).hook(K::Stop).hook(K::Stop);
    bad(&t, Rule::StartStop, 1);
}

#[test]
fn r3_remove_only_when_dying() {
    let mut t = machine_started();
    t.act(Action::UpdateStatusTimer).hook(K::Remove);
    bad(&t, Rule::StartStop, 1);
}

#[test]
fn r4_created_before_other_relation_hooks() {
    let mut t = k8s_started(true);
    t.act(Action::Integrate {
        relation: rel(5, "website", "haproxy", &["haproxy/0"]),
    })
    .joined(5, "haproxy/0");
    bad(&t, Rule::RelationCreated, 1);
}

#[test]
fn r4_created_at_most_once() {
    let mut t = k8s_started(true);
    t.act(Action::UpdateStatusTimer).created(1);
    bad(&t, Rule::RelationCreated, 1);
}

#[test]
fn r4_nothing_after_broken() {
    let mut t = k8s_started(true);
    with_website(&mut t);
    t.act(Action::RemoveRelation { relation_id: 5 })
        .departed(5, "haproxy/0", "haproxy/0")
        .broken(5)
        .broken(5);
    bad(&t, Rule::RelationCreated, 3);
}

#[test]
fn r4_broken_without_created_only_with_the_switch() {
    let mut t = k8s_started(true);
    t.act(Action::Integrate {
        relation: rel(5, "website", "haproxy", &[]),
    });
    t.act(Action::RemoveRelation { relation_id: 5 }).broken(5);
    bad(&t, Rule::RelationCreated, 2);
    t.trace.options.broken_without_created = true;
    ok(&t);
}

#[test]
fn r5_no_broken_for_peers() {
    let mut t = k8s_started(true);
    t.act(Action::RemoveUnit)
        .detaching("data/0")
        .departed(1, "postgresql/0", "webapp/0")
        .broken(1)
        .departed(0, "webapp/1", "webapp/0")
        .broken(0);
    bad(&t, Rule::RelationBroken, 1);
}

#[test]
fn r5_no_broken_while_members_remain() {
    let mut t = k8s_started(true);
    t.act(Action::RemoveRelation { relation_id: 1 }).broken(1);
    bad(&t, Rule::RelationBroken, 1);
}

#[test]
fn r6_joined_once_per_membership() {
    let mut t = k8s_started(true);
    t.act(Action::UpdateStatusTimer).joined(1, "postgresql/0");
    bad(&t, Rule::RelationMembership, 1);
}

#[test]
fn r6_changed_and_departed_only_for_joined_units() {
    let mut t = k8s_started(true);
    t.act(Action::RemoteUnitAdded {
        relation_id: 1,
        unit: "postgresql/1".into(),
    })
    .changed(1, "postgresql/1");
    bad(&t, Rule::RelationMembership, 1);

    let mut t = k8s_started(true);
    t.act(Action::RemoteUnitAdded {
        relation_id: 1,
        unit: "postgresql/1".into(),
    });
    t.act(Action::RemoteUnitRemoved {
        relation_id: 1,
        unit: "postgresql/1".into(),
    })
    .departed(1, "postgresql/1", "postgresql/1");
    bad(&t, Rule::RelationMembership, 2);
}

#[test]
fn r6_changed_follows_joined() {
    // After joined(u) the relation's next hook must be changed(u), even if u left.
    let mut t2 = k8s_started(true);
    t2.act(Action::RemoteUnitAdded {
        relation_id: 1,
        unit: "postgresql/1".into(),
    })
    .joined(1, "postgresql/1");
    t2.act(Action::RemoteUnitRemoved {
        relation_id: 1,
        unit: "postgresql/1".into(),
    })
    .departed(1, "postgresql/1", "postgresql/1");
    bad(&t2, Rule::RelationMembership, 2);
    // Other relations may run in between.
    let mut t3 = k8s_started(true);
    t3.act(Action::RemoteUnitAdded {
        relation_id: 1,
        unit: "postgresql/1".into(),
    })
    .joined(1, "postgresql/1");
    t3.act(Action::ScaleUp {
        unit: "webapp/2".into(),
    })
    .join(0, "webapp/2")
    .changed(1, "postgresql/1");
    ok(&t3);
}

#[test]
fn r7_no_hooks_for_undeclared_endpoints() {
    let mut t = k8s_started(true);
    t.act(Action::UpdateStatusTimer);
    let mut e = t.rel_event(K::RelationCreated, 9, "");
    for (k, v) in [
        ("JUJU_RELATION", "metrics"),
        ("JUJU_RELATION_ID", "metrics:9"),
    ] {
        e.env.insert(k.into(), v.into());
    }
    e.hook = "metrics-relation-created".into();
    t.push(e);
    bad(&t, Rule::UndeclaredEndpoint, 1);
}

#[test]
fn r7_no_hooks_for_implicit_juju_info() {
    let mut t = machine_started();
    t.act(Action::Integrate {
        relation: rel(8, "juju-info", "ntp", &["ntp/0"]),
    })
    .created(8);
    bad(&t, Rule::UndeclaredEndpoint, 1);
    // Without the hook, the implicit relation is fine.
    let mut t = machine_started();
    t.act(Action::Integrate {
        relation: rel(8, "juju-info", "ntp", &["ntp/0"]),
    });
    ok(&t);
}

#[test]
fn r8_leader_elected_only_on_leader() {
    let mut t = k8s_started(false);
    t.act(Action::UpdateStatusTimer).hook(K::LeaderElected);
    bad(&t, Rule::Leadership, 1);
}

#[test]
fn r8_leader_elected_once_per_gain() {
    let mut t = k8s_started(false);
    t.act(Action::LeadershipGained)
        .hook(K::LeaderElected)
        .hook(K::LeaderElected);
    bad(&t, Rule::Leadership, 1);
}

#[test]
fn r8_no_lsc_on_leader() {
    let mut t = k8s_started(true);
    t.act(Action::LeaderSet).hook(K::LeaderSettingsChanged);
    bad(&t, Rule::Leadership, 1);
}

#[test]
fn r8_leadership_moves() {
    let mut t = k8s_started(true);
    t.act(Action::LeadershipLost);
    t.act(Action::LeaderSet).hook(K::LeaderSettingsChanged);
    t.act(Action::LeadershipGained).hook(K::LeaderElected);
    ok(&t);
}

#[test]
fn r9_machine_storage_before_install() {
    let mut t = T::new(machine_spec());
    t.deploy(
        false,
        &[],
        vec![rel(0, "replicas", "dbserver", &[])],
        &["disks/0", "logs/0"],
    );
    t.attached("disks/0").hook(K::Install);
    let v = bad(&t, Rule::Storage, 0);
    assert!(v.message.contains("logs/0"), "{v}");
}

#[test]
fn r9_attached_once_detaching_after_attached() {
    let mut t = machine_started();
    t.act(Action::UpdateStatusTimer).attached("logs/0");
    bad(&t, Rule::Storage, 1);

    let mut t = machine_started();
    t.act(Action::StorageAdded {
        storage: "disks/1".into(),
    });
    t.act(Action::StorageDetached {
        storage: "disks/1".into(),
    })
    .detaching("disks/1");
    bad(&t, Rule::Storage, 2);

    let mut t = machine_started();
    t.act(Action::UpdateStatusTimer).detaching("disks/0");
    bad(&t, Rule::Storage, 1);
}

#[test]
fn r9_storage_add_and_detach() {
    let mut t = machine_started();
    t.act(Action::StorageAdded {
        storage: "disks/1".into(),
    })
    .attached("disks/1");
    t.act(Action::StorageDetached {
        storage: "disks/1".into(),
    })
    .detaching("disks/1");
    ok(&t);
}

#[test]
fn r9_undeclared_storage() {
    let mut t = machine_started();
    t.act(Action::UpdateStatusTimer)
        .storage_ev(K::StorageAttached, "cache/0");
    bad(&t, Rule::Storage, 1);
}

#[test]
fn r10_workload_events_only_on_k8s_for_declared_containers() {
    let mut t = machine_started();
    t.act(Action::UpdateStatusTimer).pebble_ready("workload");
    bad(&t, Rule::Workload, 1);
    let mut t = k8s_started(true);
    t.act(Action::WorkloadStarted {
        container: "redis".into(),
    })
    .pebble_ready("redis");
    bad(&t, Rule::Workload, 1);
}

#[test]
fn r11_owner_hooks_only_to_owner() {
    // Not owned at all.
    let mut t = k8s_started(true);
    t.act(Action::SecretRotateDue {
        id: "secret:abcdefghijklmnopqrst".into(),
    })
    .secret(K::SecretRotate, "secret:abcdefghijklmnopqrst", None);
    bad(&t, Rule::Secret, 1);
    // App-owned, but leadership moved away.
    let mut t = k8s_started(true);
    t.act(Action::UpdateStatusTimer)
        .hook(K::UpdateStatus)
        .effect(Effect::SecretCreated {
            id: "secret:abcdefghijklmnopqrst".into(),
            owner: SecretOwner::App,
            label: Some("creds".into()),
        });
    t.act(Action::LeadershipLost);
    t.act(Action::SecretRotateDue {
        id: "secret:abcdefghijklmnopqrst".into(),
    })
    .secret(K::SecretRotate, "secret:abcdefghijklmnopqrst", None);
    bad(&t, Rule::Secret, 3);
}

#[test]
fn r11_secret_changed_never_to_owner() {
    let mut t = k8s_started(false);
    t.act(Action::UpdateStatusTimer)
        .hook(K::UpdateStatus)
        .effect(Effect::SecretCreated {
            id: "secret:abcdefghijklmnopqrst".into(),
            owner: SecretOwner::Unit,
            label: None,
        });
    t.act(Action::SecretRevised {
        id: "secret:abcdefghijklmnopqrst".into(),
        content: BTreeMap::new(),
    })
    .secret(K::SecretChanged, "secret:abcdefghijklmnopqrst", None);
    bad(&t, Rule::Secret, 2);
}

#[test]
fn r11_failed_hook_effects_are_not_committed() {
    let mut t = k8s_started(false);
    t.act(Action::UpdateStatusTimer)
        .hook(K::UpdateStatus)
        .fail()
        .effect(Effect::SecretCreated {
            id: "secret:abcdefghijklmnopqrst".into(),
            owner: SecretOwner::Unit,
            label: None,
        })
        .hook(K::UpdateStatus);
    t.act(Action::SecretRotateDue {
        id: "secret:abcdefghijklmnopqrst".into(),
    })
    .secret(K::SecretRotate, "secret:abcdefghijklmnopqrst", None);
    bad(&t, Rule::Secret, 2);
}

#[test]
fn r12_nothing_between_first_config_changed_and_start() {
    let mut t = T::new(machine_spec());
    t.deploy(false, &[], vec![rel(0, "replicas", "dbserver", &[])], &[]);
    t.hook(K::Install)
        .created(0)
        .hook(K::LeaderSettingsChanged)
        .hook(K::ConfigChanged);
    t.run("backup", 1).action("backup", 1);
    bad(&t, Rule::QueuedPair, 1);
}

#[test]
fn r12_nothing_between_upgrade_charm_and_config_changed() {
    let mut t = machine_started();
    t.act(Action::Refresh)
        .hook(K::UpgradeCharm)
        .hook(K::LeaderSettingsChanged)
        .hook(K::ConfigChanged);
    bad(&t, Rule::QueuedPair, 1);
}

#[test]
fn r13_silence_during_series_upgrade() {
    let mut t = machine_started();
    t.act(Action::SeriesUpgradePrepare {
        target_base: "ubuntu@24.04".into(),
    })
    .pre_series("ubuntu@24.04");
    t.act(Action::UpdateStatusTimer).hook(K::UpdateStatus);
    bad(&t, Rule::SeriesUpgrade, 2);
    // post-series-upgrade needs pre-series-upgrade.
    let mut t = machine_started();
    t.act(Action::SeriesUpgradeComplete)
        .hook(K::PostSeriesUpgrade);
    bad(&t, Rule::SeriesUpgrade, 1);
}

#[test]
fn r14_nothing_of_the_kind_while_dying() {
    let mut t = k8s_started(true);
    t.act(Action::Config {
        changes: BTreeMap::new(),
    });
    t.act(Action::RemoveUnit).hook(K::ConfigChanged);
    bad(&t, Rule::WhileDying, 2);

    let mut t = k8s_started(false);
    t.act(Action::LeadershipGained);
    t.act(Action::DestroyModel).hook(K::LeaderElected);
    bad(&t, Rule::WhileDying, 2);

    let mut t = k8s_started(true);
    t.act(Action::Integrate {
        relation: rel(5, "website", "haproxy", &[]),
    });
    t.act(Action::RemoveApplication).created(5);
    bad(&t, Rule::WhileDying, 2);
}

#[test]
fn r14_queued_and_churn_hooks_still_run_while_dying() {
    // §L2.0.13: a queued config-changed (after upgrade-charm) runs even once Dying.
    let mut t = machine_started();
    t.act(Action::Refresh).hook(K::UpgradeCharm);
    t.act(Action::RemoveUnit).hook(K::ConfigChanged);
    ok(&t);
    // But a machine refresh is not started on a Dying unit.
    let mut t = machine_started();
    t.act(Action::Refresh);
    t.act(Action::RemoveUnit).hook(K::UpgradeCharm);
    bad(&t, Rule::WhileDying, 2);
    // K8s: the recreated pod's upgrade-charm → config-changed → start run at agent
    // start, whatever the unit's life (J-LOOP); the shutdown stop too.
    let mut t = k8s_started(false);
    t.act(Action::PodRecreated);
    t.act(Action::RemoveUnit)
        .hook(K::Stop)
        .hook(K::UpgradeCharm)
        .hook(K::ConfigChanged)
        .hook(K::Start)
        .detaching("data/0")
        .departed(1, "postgresql/0", "webapp/0")
        .broken(1)
        .departed(0, "webapp/1", "webapp/0")
        .hook(K::Stop)
        .hook(K::Remove);
    ok(&t);
}

#[test]
fn r15_actions_declared_after_install_fifo() {
    let mut t = k8s_started(true);
    t.run("explode", 1).action("explode", 1);
    bad(&t, Rule::Action, 1);

    let mut t = T::new(k8s_spec());
    t.deploy(true, &[], vec![rel(0, "cluster", "webapp", &[])], &[]);
    t.run("backup", 1).action("backup", 1).hook(K::Install);
    bad(&t, Rule::Action, 1);

    let mut t = k8s_started(true);
    t.run("backup", 1);
    t.run("restart", 2).action("restart", 2).action("backup", 1);
    bad(&t, Rule::Action, 2);
}

// ---------------------------------------------------------------------------------------
// §L2.12 teardown and §L2.14 hook errors

#[test]
fn teardown_stop_after_relations() {
    let mut t = k8s_started(true);
    t.act(Action::RemoveUnit).detaching("data/0").hook(K::Stop);
    bad(&t, Rule::Teardown, 1);
}

#[test]
fn teardown_remove_after_stop() {
    let mut t = k8s_started(true);
    t.act(Action::RemoveUnit)
        .detaching("data/0")
        .departed(1, "postgresql/0", "webapp/0")
        .broken(1)
        .departed(0, "webapp/1", "webapp/0")
        .hook(K::Remove);
    bad(&t, Rule::Teardown, 1);
}

#[test]
fn teardown_peers_last() {
    let mut t = k8s_started(true);
    t.act(Action::RemoveUnit)
        .detaching("data/0")
        .departed(0, "webapp/1", "webapp/0");
    bad(&t, Rule::Teardown, 1);
}

#[test]
fn hook_error_blocks_other_hooks() {
    let mut t = k8s_started(true);
    t.act(Action::Config {
        changes: BTreeMap::new(),
    })
    .hook(K::ConfigChanged)
    .fail();
    t.act(Action::UpdateStatusTimer).hook(K::UpdateStatus);
    let v = bad(&t, Rule::HookRetry, 2);
    assert!(v.message.contains("config-changed"), "{v}");
}

#[test]
fn hook_error_retry_has_the_same_env() {
    let mut t = k8s_started(true);
    t.act(Action::RemoteUnitData {
        relation_id: 1,
        unit: "postgresql/0".into(),
        data: BTreeMap::new(),
    })
    .changed(1, "postgresql/0")
    .fail()
    .changed(1, "postgresql/0")
    .set("JUJU_RELATION_ID", "db:1 ");
    bad(&t, Rule::HookRetry, 1);
}

#[test]
fn failed_joined_does_not_make_the_unit_joined() {
    let mut t = k8s_started(true);
    t.act(Action::RemoteUnitAdded {
        relation_id: 1,
        unit: "postgresql/1".into(),
    })
    .joined(1, "postgresql/1")
    .fail();
    // The action in between is allowed; the changed(u) is not: the failed joined must be
    // retried first.
    t.run("backup", 1)
        .action("backup", 1)
        .changed(1, "postgresql/1");
    bad(&t, Rule::HookRetry, 2);
}

#[test]
fn leadership_lost_drops_a_failed_leader_elected() {
    let mut t = k8s_started(false);
    t.act(Action::LeadershipGained)
        .hook(K::LeaderElected)
        .fail();
    t.act(Action::LeadershipLost);
    t.act(Action::UpdateStatusTimer).hook(K::UpdateStatus);
    ok(&t);
}

#[test]
fn all_rules_are_exercised() {
    // Keep this list in step with the tests above: every rule has a rejecting test.
    let covered = [
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
    assert_eq!(covered.len(), Rule::ALL.len());
}
