//! [`Target`]: one unit of the charm, played by charmfuzz.
//!
//! A target owns everything that makes the real charm believe it is deployed: a sandbox
//! with a copy of the charm, a warm Python worker, the unit agent answering hook tools
//! (with Juju's rules, from the engine's world), and a fake Pebble per workload container.
//! It takes fuzzer bytes (or a trace), lets the engine decode them one event at a time,
//! runs each event in the charm, and feeds what the charm did back to the engine — so
//! that the secret the charm created can later be rotated, and the hook that failed is
//! retried, exactly as Juju would.
//!
//! Every input starts from a fresh unit: a new world, an empty unit state database, new
//! containers. The worker process, its imports and the sandbox are kept across inputs.

use super::agent::{ToolRequest, ToolResponse};
use super::cgroup::ProcessLimit;
use super::clock;
use super::config::shim_query_unanswered;
use super::config::{Mode, TargetConfig};
use super::coverage::CoverageMap;
use super::hooktools::{HookContext, TOOLS, UnitAgent};
use super::kube::KubeApi;
use super::kube::store::{Cluster, PodContainer};
use super::outcome::{
    EventOutcome, Exit, Finding, FindingClass, Lack, LackKind, ShimCall, fault_frame,
    find_exception,
};
use super::pebble::{
    ContainerImage, ExecDefault, FakePebble, PebbleConfig, PebbleError, PebbleSnapshot,
    ServiceState,
};
use super::sandbox::{Sandbox, SandboxError};
use super::worker::{
    ClockRequest, CoverageSpec, ExitReport, Hello, KubeHello, LinesSpec, RunRequest, Worker,
    WorkerError, WorkerInfo, tail_of_file,
};
use super::workload_http::{self, HttpConfigError, WorkloadHttp};
use crate::charm::Charm;
use crate::line_coverage::LineCoverage;
use crate::repro::Scene;

mod scene;
use crate::engine::action::Effect;
use crate::engine::{
    Action, Driver, EncodeError, Event, HookKind, StoryEncoder, Tape, Trace, WorkloadFault, World,
    encode,
};
use crate::spec::Substrate;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Harness trouble: never the charm's fault.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Worker(#[from] WorkerError),
    #[error(transparent)]
    Pebble(#[from] PebbleError),
    #[error(transparent)]
    WorkloadHttp(#[from] HttpConfigError),
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[error("the engine: {0}")]
    Engine(#[from] EncodeError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("no Python interpreter found for the charm: {0}")]
    NoPython(String),
    #[error(
        "[target.image.{container}]: the charm has no container {container:?} (it has {known})"
    )]
    NoImageContainer { container: String, known: String },
    #[error(
        "the charm's entry point {0} does not exist (set `entry` under [target] in charmfuzz.toml if the charm starts elsewhere)"
    )]
    NoEntry(PathBuf),
    #[error(
        "the charm pins ops {pinned} (in {file}), and {python} has ops {found}; build the charm's own environment with `charmfuzz setup --charm {charm}` (or name an interpreter with --python)"
    )]
    OpsMismatch {
        pinned: String,
        file: &'static str,
        python: String,
        found: String,
        charm: String,
    },
    #[error(
        "the charm imports {libs}, which its repository does not ship (charmcraft fetch-lib adds charm libraries at pack time): in {charm}, run `charmcraft fetch-lib {first}`, or copy the library to lib/{path}.py"
    )]
    MissingCharmLib {
        libs: String,
        first: String,
        path: String,
        charm: String,
    },
    #[error("the worker died twice running the same input; last time: {0}")]
    WorkerKeepsDying(String),
    #[error("the trace is for charm {trace:?}, and this charm is {charm:?}")]
    OtherCharm { trace: String, charm: String },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TargetError {
    let what = what.into();
    move |source| TargetError::Io { what, source }
}

/// What running one input did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The trace as realised, with each event's result and effects.
    pub trace: Trace,
    /// One outcome per event, in trace order.
    pub outcomes: Vec<EventOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<Finding>,
    /// Hooks that failed for want of something this machine lacks (`environment`
    /// findings, unless [`Target::environment_findings`]): the story went on past them,
    /// as Juju retries a failed hook.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<Finding>,
    /// Where each step's choices start in the input, and how many bytes the run read:
    /// as the charm's real effects steered the decoder (a simulation with every hook
    /// succeeding and changing nothing can read the same bytes differently).
    #[serde(skip)]
    pub step_starts: Vec<usize>,
    #[serde(skip)]
    pub bytes_read: usize,
}

/// What [`Target::drive`] played: each event's outcome, the finding that ended the story
/// (if one did), and the `environment` findings it went on past.
struct Played {
    outcomes: Vec<EventOutcome>,
    finding: Option<Finding>,
    environment: Vec<Finding>,
}

/// The unit after an event, to resume from later instead of replaying the prefix.
#[derive(Debug, Clone)]
pub struct UnitSnapshot {
    pub world: World,
    pub agent: UnitAgent,
    /// `.unit-state.db` (None before the first hook created it).
    pub unit_state: Option<Vec<u8>>,
    pub pebble: Option<PebbleSnapshot>,
    /// The Kubernetes cluster's objects.
    pub kube: Option<Cluster>,
    /// Pebble's ids of the custom notices recorded so far.
    pub notice_ids: BTreeMap<(String, String), String>,
}

/// One unit of the charm under test. See the module docs.
pub struct Target {
    charm: Charm,
    config: TargetConfig,
    listener: UnixListener,
    pebble: Option<FakePebble>,
    /// The cluster's API, for a Kubernetes charm inside the walls, and the socket the
    /// worker hands its listening socket over on.
    kube: Option<(KubeApi, UnixListener)>,
    /// The workload's HTTP API (`[[target.http]]`), served beside the Kubernetes API.
    workload_http: Option<Arc<WorkloadHttp>>,
    worker: Option<Worker>,
    python: PathBuf,
    entry: PathBuf,
    /// The charm's own directory (the sandbox runs a copy).
    source_dir: PathBuf,
    agent: UnitAgent,
    /// Steps whose workload side has been applied to Pebble.
    synced_steps: usize,
    /// The id Pebble gave each custom notice (container, key): the engine numbers notices
    /// its own way, and the charm must get the id it can look up.
    notice_ids: BTreeMap<(String, String), String>,
    /// Stop an input at its first finding (the default).
    pub stop_at_finding: bool,
    /// Only a hook failure whose signature or title contains this is a finding; any other
    /// failure is what Juju makes of it (the unit is in error, the hook is retried) and the
    /// story goes on. A hunt for one bug (`CHARMFUZZ_ONLY`, `--only`) must not have its
    /// stories cut short by another, shallower one on the way.
    pub only: Option<String>,
    /// Whether an `environment` finding (a hook that failed after a stand-in could not
    /// answer it) ends the story as the run's finding. Off: it is kept in
    /// [`RunReport::environment`] and the story goes on, so that only the charm's own
    /// findings end a fuzzing run.
    pub environment_findings: bool,
    /// Read StoredState and deferred events after every hook.
    pub want_state: bool,
    /// Stop an input just before the event with this index (in the whole trace) and
    /// capture the unit there, for a reproducer ([`Target::take_scene`]).
    pub scene_before: Option<usize>,
    /// With [`Target::scene_before`]: capture the unit before every event up to it too
    /// (a reproducer that replays the whole story).
    pub scene_every_event: bool,
    scenes: Vec<Scene>,
    /// The worker was (re)started this many times.
    pub worker_starts: u32,
    coverage: Option<CoverageMap>,
    coverage_ops: bool,
    /// Line coverage, added up over every hook since it was enabled.
    lines: Option<LineCoverage>,
    /// Whether the lifecycle features (hook transitions and responses) are recorded into
    /// the coverage map next to the charm's code coverage (on by default).
    pub lifecycle_features: bool,
    // Last: fields drop in order, and the worker and Pebble must stop before the sandbox
    // directory they use is removed, and the worker's processes before their cgroup.
    /// The ceiling on the charm's processes (none where no pids cgroup can be made).
    processes: Option<ProcessLimit>,
    /// How many processes the worker runs between hooks (bubblewrap's and its own).
    idle_processes: u64,
    sandbox: Sandbox,
}

impl Target {
    /// Set up a unit of `charm` (from `charm_dir`). `jujuc` is the multi-call hook-tool
    /// binary (the `charmfuzz` executable); without one, a small Python script stands in.
    pub fn new(
        charm: Charm,
        charm_dir: &Path,
        config: TargetConfig,
        jujuc: Option<&Path>,
    ) -> Result<Target, TargetError> {
        // Checks exist when the charm's layers declare them in the real Pebble (the
        // samples in the fuzzing config are for stories told without a charm).
        let charm = charm.for_target();
        let spec = charm.spec.clone();
        let mut writable = config.writable.clone();
        if spec.substrate == Substrate::Kubernetes {
            // The charm container's root filesystem is writable on Kubernetes (the
            // container's own layer), and charms that trust a CA write it where the
            // system's trust store takes it from.
            writable.push(PathBuf::from("/usr/local/share/ca-certificates"));
        }
        for s in &spec.storage {
            if let Some(loc) = &s.location {
                writable.push(PathBuf::from(loc));
            }
        }
        let mut sandbox = Sandbox::create(charm_dir, config.containment, &writable)?;
        let (python, python_source) = find_python(charm_dir, config.python.as_deref())?;
        // The interpreter's environment (a venv's root is two levels up), the charm's
        // source (its venv/ is linked, not copied) and the jujuc binary stay visible.
        if let Some(env_root) = python.parent().and_then(Path::parent) {
            sandbox.expose(env_root);
        }
        sandbox.expose(charm_dir);
        if let Some(j) = jujuc {
            sandbox.expose(j);
        }
        let entry_rel = match &config.entry {
            Some(e) => e.clone(),
            None => entry_from_dispatch(charm_dir),
        };
        let entry = sandbox.charm_dir().join(&entry_rel);
        let kubernetes = spec.substrate == Substrate::Kubernetes;
        if kubernetes && sandbox.contained() {
            let sa = sandbox.writable_view(Path::new(super::pod::SERVICE_ACCOUNT));
            super::pod::write_service_account(&sa, crate::engine::world::MODEL_NAME)
                .map_err(io("writing the pod's service account"))?;
        }
        // Juju's unit agent keeps the charm in its own directory, with `.juju-charm`
        // naming the charm's URL (a local charm's: `local:<name>-<revision>`); libraries
        // read the revision there by that path. Inside the walls the path leads to the
        // sandbox's copy, which the environment's JUJU_CHARM_DIR names too.
        std::fs::write(
            sandbox.charm_dir().join(".juju-charm"),
            format!("local:{}-0\n", spec.name),
        )
        .map_err(io("writing the charm's .juju-charm"))?;
        // A charm built with charmcraft's extensions (12-factor apps) is packed with them
        // expanded; its copy carries the expanded charmcraft.yaml, so the split files ops
        // reads are made of what the engine read.
        if let Some(expanded) = crate::spec::CharmSpec::expanded_charmcraft(charm_dir)? {
            std::fs::write(sandbox.charm_dir().join("charmcraft.yaml"), expanded)
                .map_err(io("writing the charm's expanded charmcraft.yaml"))?;
        }
        if sandbox.contained() {
            let link = sandbox.writable_view(Path::new(&format!(
                "/var/lib/juju/agents/unit-{}-0/charm",
                spec.name.replace('/', "-")
            )));
            if let Some(parent) = link.parent() {
                std::fs::create_dir_all(parent).map_err(io("making the unit agent's directory"))?;
            }
            std::os::unix::fs::symlink(sandbox.charm_dir(), &link)
                .map_err(io("linking the unit agent's charm directory"))?;
        }
        let has_dispatch = charm_dir.join("dispatch").is_file();
        if (config.mode == Mode::Fork || !has_dispatch) && !entry.is_file() {
            return Err(TargetError::NoEntry(charm_dir.join(&entry_rel)));
        }
        if !has_dispatch {
            // A charm's source tree has no `dispatch`: charmcraft writes it at pack time.
            // The one charmcraft would write goes into the sandbox's copy (the user's tree
            // is left alone), with the charm's interpreter. Exec mode runs it; in fork mode
            // its presence is what tells ops that Juju dispatches (ops 2.x otherwise takes
            // the charm for a legacy one and writes a hooks/ symlink per event, which
            // collide between the charm's observers on some charms).
            let path = sandbox.charm_dir().join("dispatch");
            std::fs::write(&path, packed_dispatch(&python, &entry_rel))
                .and_then(|()| {
                    std::fs::set_permissions(
                        &path,
                        std::os::unix::fs::PermissionsExt::from_mode(0o755),
                    )
                })
                .map_err(io("writing the charm's dispatch"))?;
        }
        // Hook tools and shims, all one program.
        let names: Vec<&str> = TOOLS
            .iter()
            .copied()
            .chain(config.shims.keys().map(String::as_str))
            .collect();
        let program = match jujuc {
            Some(p) => p.to_path_buf(),
            None => sandbox
                .write("jujuc.py", jujuc_script(&python).as_bytes(), true)
                .map_err(io("writing the hook-tool script"))?,
        };
        sandbox
            .install_tools(&program, &names)
            .map_err(io("linking the hook tools"))?;
        let listener = UnixListener::bind(sandbox.agent_socket())
            .map_err(io("binding the unit agent's socket"))?;
        listener
            .set_nonblocking(true)
            .map_err(io("configuring the agent socket"))?;
        let names: Vec<String> = spec.containers.iter().map(|c| c.name.clone()).collect();
        let pebble = if spec.substrate == Substrate::Kubernetes && !spec.containers.is_empty() {
            let p = FakePebble::start_with(
                sandbox.root(),
                &names,
                PebbleConfig {
                    exec: config.exec_answers(),
                    ..PebbleConfig::default()
                },
            )?;
            for c in &spec.containers {
                let keep: Vec<String> = c.mounts.iter().map(|m| m.location.clone()).collect();
                p.set_persistent_paths(&c.name, &keep)?;
            }
            for (name, image) in &config.image {
                if !names.contains(name) {
                    return Err(TargetError::NoImageContainer {
                        container: name.clone(),
                        known: names.join(", "),
                    });
                }
                let image = ContainerImage {
                    dirs: image.dirs.clone(),
                    files: (image.files.iter())
                        .map(|(p, c)| (p.clone(), c.clone().into_bytes()))
                        .collect(),
                };
                p.set_image(name, image)?;
            }
            Some(p)
        } else {
            None
        };
        let kube = if kubernetes && sandbox.contained() {
            let containers: Vec<PodContainer> = spec
                .containers
                .iter()
                .map(|c| PodContainer {
                    name: c.name.clone(),
                    image: c
                        .resource
                        .clone()
                        .unwrap_or_else(|| format!("{}-image", c.name)),
                })
                .collect();
            let api = KubeApi::new(crate::engine::world::MODEL_NAME, &spec.name, &containers)
                .map_err(io("starting the Kubernetes API"))?;
            let handoff = UnixListener::bind(sandbox.root().join("kube-handoff.sock"))
                .map_err(io("binding the Kubernetes API's hand-over socket"))?;
            Some((api, handoff))
        } else {
            None
        };
        let workload_http = match config.http.first() {
            None => None,
            Some(first) if spec.containers.is_empty() => {
                return Err(HttpConfigError::NoContainers { port: first.port }.into());
            }
            Some(first) if kube.is_none() => {
                return Err(HttpConfigError::NotContained { port: first.port }.into());
            }
            Some(_) => {
                let http = Arc::new(
                    WorkloadHttp::new(workload_http::plan(&config.http, &names)?)
                        .map_err(io("starting the workload's HTTP API"))?,
                );
                if let Some(p) = &pebble {
                    p.set_service_watch(http.clone());
                }
                Some(http)
            }
        };
        let agent = UnitAgent::new(sandbox.root().join("resources"));
        let processes = ProcessLimit::create(config.max_processes).ok();
        let mut t = Target {
            charm,
            config,
            sandbox,
            listener,
            pebble,
            kube,
            workload_http,
            worker: None,
            python,
            entry,
            source_dir: std::path::absolute(charm_dir).unwrap_or_else(|_| charm_dir.to_path_buf()),
            agent,
            synced_steps: 0,
            notice_ids: BTreeMap::new(),
            stop_at_finding: true,
            only: None,
            environment_findings: false,
            scene_before: None,
            scene_every_event: false,
            scenes: Vec::new(),
            want_state: true,
            worker_starts: 0,
            coverage: None,
            coverage_ops: false,
            lines: None,
            lifecycle_features: true,
            processes,
            idle_processes: 0,
        };
        t.start_worker()?;
        t.check_environment(charm_dir, python_source)?;
        t.sandbox
            .take_baseline()
            .map_err(io("recording the sandbox's writable places"))?;
        Ok(t)
    }

    pub fn charm(&self) -> &Charm {
        &self.charm
    }
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }
    /// The ceiling on the charm's processes, if this machine lets charmfuzz make one.
    pub fn process_limit(&self) -> Option<&ProcessLimit> {
        self.processes.as_ref()
    }
    /// The charm's own directory (not the sandbox's copy of it).
    pub fn charm_dir(&self) -> &Path {
        &self.source_dir
    }

    /// The charm's entry point, relative to the charm directory (`src/charm.py`).
    pub fn entry_in_charm(&self) -> PathBuf {
        self.entry
            .strip_prefix(self.sandbox.charm_dir())
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| self.entry.clone())
    }
    pub fn python(&self) -> &Path {
        &self.python
    }
    pub fn containment(&self) -> super::sandbox::Containment {
        self.config.containment
    }
    pub fn mode(&self) -> Mode {
        self.config.mode
    }
    /// What the worker reported at start-up (Python and ops versions).
    pub fn worker_info(&self) -> Option<&WorkerInfo> {
        self.worker.as_ref().map(|w| &w.info)
    }
    pub fn pebble(&self) -> Option<&FakePebble> {
        self.pebble.as_ref()
    }

    /// Measure coverage into `map` from now on: the charm's own files (`src/`, `lib/`), and
    /// `ops` too with `include_ops`. Restarts the worker, which maps the bitmap.
    pub fn enable_coverage(
        &mut self,
        map: CoverageMap,
        include_ops: bool,
    ) -> Result<(), TargetError> {
        self.coverage = Some(map);
        self.coverage_ops = include_ops;
        self.start_worker()
    }

    /// Record which lines of the charm every hook runs from now on (fork mode: in exec
    /// mode the hooks run the charm's own `dispatch`, which charmfuzz does not trace).
    /// Restarts the worker, so that the tracer sees the charm's import.
    pub fn enable_line_coverage(&mut self) -> Result<(), TargetError> {
        self.lines = Some(LineCoverage::default());
        self.start_worker()
    }

    /// The line coverage added up so far, with every followed file's executable lines
    /// (`None` unless [`Target::enable_line_coverage`] was called).
    pub fn line_coverage(&mut self) -> Result<Option<LineCoverage>, TargetError> {
        let Some(mut lines) = self.lines.clone() else {
            return Ok(None);
        };
        let worker = self.worker.as_mut().expect("started");
        lines.set_executable(worker.executable_lines()?);
        Ok(Some(lines))
    }

    fn lines_spec(&self) -> Option<LinesSpec> {
        self.lines.as_ref()?;
        let charm = self.sandbox.charm_dir();
        Some(LinesSpec {
            include: vec![charm.join("src"), charm.join("lib")],
            exclude: vec![charm.join("venv")],
            root: charm,
        })
    }

    pub fn coverage(&self) -> Option<&CoverageMap> {
        self.coverage.as_ref()
    }
    pub fn coverage_mut(&mut self) -> Option<&mut CoverageMap> {
        self.coverage.as_mut()
    }

    fn coverage_spec(&self) -> Option<CoverageSpec> {
        let map = self.coverage.as_ref()?;
        let charm = self.sandbox.charm_dir();
        let mut include = vec![charm.join("src"), charm.join("lib")];
        if self.coverage_ops {
            include.push(PathBuf::from("<ops>"));
        }
        Some(CoverageSpec {
            fd: map.fd(),
            size: map.len(),
            offset: 0,
            len: map.code_len(),
            include,
            exclude: vec![charm.join("venv")],
        })
    }

    fn start_worker(&mut self) -> Result<(), TargetError> {
        if let Some(mut w) = self.worker.take() {
            w.kill();
        }
        let script = self
            .sandbox
            .write("worker.py", WORKER_PY.as_bytes(), false)
            .map_err(io("writing the worker"))?;
        self.sandbox
            .write("charmfuzz_clock.py", CLOCK_PY.as_bytes(), false)
            .map_err(io("writing the worker's clock"))?;
        let charm_dir = self.sandbox.charm_dir();
        let hello = Hello {
            sys_path: vec![
                self.entry.parent().unwrap_or(&charm_dir).to_path_buf(),
                charm_dir.join("lib"),
                charm_dir.join("venv"),
                charm_dir.join("src"),
            ],
            charm_dir: charm_dir.clone(),
            entry: self.entry.clone(),
            agent_socket: self.sandbox.agent_socket(),
            tools_dir: self.sandbox.tools_dir(),
            tools: TOOLS.iter().map(|s| s.to_string()).collect(),
            containers_dir: (!self.sandbox.contained()).then(|| self.sandbox.containers_dir()),
            split_charmcraft: true,
            pid_namespace: self.sandbox.contained(),
            prewarm: self.config.mode == Mode::Fork,
            profile: std::env::var_os("CHARMFUZZ_PROFILE").map(PathBuf::from),
            coverage: self.coverage_spec(),
            lines: self.lines_spec(),
            kube: self.kube.as_ref().map(|_| KubeHello {
                host: super::kube::LISTEN_HOST.to_string(),
                port: super::kube::LISTEN_PORT,
                handoff: self.sandbox.root().join("kube-handoff.sock"),
                workload_ports: (self.workload_http.as_ref())
                    .map(|h| h.port_numbers())
                    .unwrap_or_default(),
            }),
        };
        let hostname = self.charm.spec.name.replace('_', "-") + "-0";
        let mut cmd = self
            .sandbox
            .command(&[self.python.clone(), "-u".into(), script], &hostname);
        cmd.env_clear()
            .env("PATH", self.path_var())
            .env("HOME", self.sandbox.home())
            .env("LANG", "C.UTF-8")
            .env("PYTHONHASHSEED", "0")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .envs(self.pod_env())
            .current_dir(&charm_dir);
        limit_memory(&mut cmd, self.config.memory_bytes());
        if let Some(p) = &self.processes {
            p.enter(&mut cmd);
        }
        let w = Worker::start(
            cmd,
            &hello,
            &self.sandbox.root().join("worker.log"),
            Duration::from_secs(120),
        )?;
        self.worker = Some(w);
        if let Some((api, handoff)) = &mut self.kube {
            // The worker handed its sockets over before it said it was ready: the API's,
            // then the workload's ports.
            let mut sockets = super::kube::receive_sockets(
                handoff,
                std::time::Instant::now() + Duration::from_secs(10),
            )
            .map_err(io("taking the Kubernetes API's socket from the worker"))?;
            let listener = std::net::TcpListener::from(sockets.remove(0));
            api.serve(listener)
                .map_err(io("serving the Kubernetes API"))?;
            if let Some(http) = &self.workload_http {
                http.adopt(sockets)
                    .map_err(io("taking the workload's ports from the worker"))?;
                if let Some(p) = &self.pebble {
                    p.resend_services();
                }
            }
        }
        self.worker_starts += 1;
        self.idle_processes = self.processes.as_ref().map_or(0, ProcessLimit::current);
        Ok(())
    }

    /// Wait until what the last hook left running is gone and reaped. The worker kills it
    /// after each hook, but a killed process counts against the ceiling until its parent
    /// (bubblewrap's init, or the host's) reaps it; the next hook must not find the
    /// ceiling full of the last one's processes.
    fn settle_processes(&self) {
        let Some(p) = &self.processes else { return };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while p.current() > self.idle_processes && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The charm's PATH: the hook tools first (as Juju does), then the interpreter's own
    /// directory (so a source tree's `dispatch` finds a `python3` with `ops`), then the
    /// system.
    fn path_var(&self) -> String {
        let py_bin = self
            .python
            .parent()
            .map(|p| format!("{}:", p.display()))
            .unwrap_or_default();
        format!(
            "{}:{py_bin}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            self.sandbox.tools_dir().display()
        )
    }

    /// Back to a unit that was never deployed.
    fn reset(&mut self) -> Result<(), TargetError> {
        self.scenes.clear();
        // The unit state database goes with the rest of what the charm wrote.
        self.sandbox
            .restore_baseline()
            .map_err(io("putting the sandbox's writable places back"))?;
        self.agent = UnitAgent::new(self.sandbox.root().join("resources"));
        self.synced_steps = 0;
        self.notice_ids.clear();
        if let Some(cov) = self.coverage.as_mut() {
            cov.clear();
        }
        if let Some(p) = &self.pebble {
            for c in p.container_names() {
                p.renew(&c)?;
            }
        }
        if let Some((api, _)) = &self.kube {
            api.reset();
        }
        if let Some(h) = &self.workload_http {
            h.forget_story();
        }
        Ok(())
    }

    /// Decode `bytes` into a story and play it against the charm.
    pub fn run_bytes(
        &mut self,
        bytes: &[u8],
        max_steps: Option<usize>,
    ) -> Result<RunReport, TargetError> {
        let mut last = String::new();
        for _ in 0..2 {
            match self.try_run_bytes(bytes, max_steps) {
                Err(TargetError::Worker(e)) if e.is_death() => {
                    last = e.to_string();
                    self.start_worker()?;
                }
                other => return other,
            }
        }
        Err(TargetError::WorkerKeepsDying(last))
    }

    /// Play a trace (from a finding, or written by hand): it is encoded into the bytes
    /// that decode to it, and those are played, so the charm's real behaviour decides
    /// what follows each event. A story of actions only is played as it is encoded
    /// ([`Target::run_story`]).
    pub fn run_trace(&mut self, trace: &Trace) -> Result<RunReport, TargetError> {
        if trace.is_story() {
            self.check_charm(trace)?;
            return Ok(self.run_story(trace)?.1);
        }
        let bytes = self.encode_trace(trace)?;
        self.run_bytes(&bytes, None)
    }

    /// The bytes that replay `trace` against this charm: a full trace is encoded with the
    /// outcomes it recorded; a story of actions only is played against the charm to be
    /// encoded as the charm lives it ([`Target::run_story`]).
    pub fn encode_trace(&mut self, trace: &Trace) -> Result<Vec<u8>, TargetError> {
        self.check_charm(trace)?;
        if trace.is_story() {
            return Ok(self.run_story(trace)?.0);
        }
        Ok(encode(
            trace,
            self.charm.spec.clone(),
            &self.charm.weights,
            &self.charm.vocab,
        )?)
    }

    /// A trace names the charm it was made for; played against another, its steps would
    /// mean something else (or nothing), as `charmfuzz validate` says too.
    fn check_charm(&self, trace: &Trace) -> Result<(), TargetError> {
        if trace.charm == self.charm.spec.name {
            return Ok(());
        }
        Err(TargetError::OtherCharm {
            trace: trace.charm.clone(),
            charm: self.charm.spec.name.clone(),
        })
    }

    fn try_run_bytes(
        &mut self,
        bytes: &[u8],
        max_steps: Option<usize>,
    ) -> Result<RunReport, TargetError> {
        self.reset()?;
        let charm = self.charm.clone();
        let mut d = charm.decoder(bytes, max_steps);
        let Played {
            outcomes,
            finding,
            environment,
        } = self.drive(&mut d)?;
        Ok(RunReport {
            step_starts: d.step_starts().to_vec(),
            bytes_read: d.position().min(bytes.len()),
            trace: d.into_trace(),
            outcomes,
            finding,
            environment,
        })
    }

    /// Play a story of actions only (a hand-written seed, a trace with its events left
    /// out) against the charm, and return the bytes that replay it: the story is encoded
    /// as the charm lives it (see [`StoryEncoder`]). A run that ends at a finding before
    /// the story's end returns the bytes up to it.
    pub fn run_story(&mut self, story: &Trace) -> Result<(Vec<u8>, RunReport), TargetError> {
        self.reset()?;
        let charm = self.charm.clone();
        let mut d =
            StoryEncoder::for_story(story, charm.spec.clone(), &charm.weights, &charm.vocab);
        let Played {
            outcomes,
            finding,
            environment,
        } = self.drive(&mut d)?;
        if finding.is_none() && d.replayed() < story.steps.len() {
            return Err(TargetError::Engine(EncodeError::Invalid {
                step: d.replayed(),
                message: "the story cannot go on from here with what the charm did".into(),
            }));
        }
        let bytes = d.bytes().to_vec();
        let report = RunReport {
            step_starts: d.step_starts().to_vec(),
            bytes_read: bytes.len(),
            trace: d.into_trace(),
            outcomes,
            finding,
            environment,
        };
        Ok((bytes, report))
    }

    /// Deliver the driver's events to the charm one by one, completing each with what the
    /// charm did, until the story ends (or a finding ends it).
    fn drive<T: Tape>(&mut self, d: &mut Driver<'_, T>) -> Result<Played, TargetError> {
        let mut outcomes: Vec<EventOutcome> = Vec::new();
        let mut finding = None;
        let mut environment = Vec::new();
        let mut failures_in_a_row = 0;
        while let Some(event) = d.next_event()? {
            self.sync_workloads(d.trace(), d.world())?;
            // A reproducer's scene is the unit before the event, with what the workload's
            // programs answered the hook: the hook runs (the last one too, with workload
            // containers) to learn that.
            let mut scene = None;
            if let Some(k) = self.scene_before {
                if self.scene_every_event || k == outcomes.len() {
                    let marks = self.workload_marks()?;
                    scene = Some((self.capture_scene(d.world(), &event)?, marks));
                }
                if k == outcomes.len() && self.pebble.is_none() {
                    self.scenes.extend(scene.map(|(s, _)| s));
                    break;
                }
            }
            let out = self.run_event(d.world(), &event)?;
            if let Some((mut s, marks)) = scene {
                self.add_execs(&mut s, &marks)?;
                self.add_http(&mut s, &marks);
                self.scenes.push(s);
            }
            if self.scene_before == Some(outcomes.len()) {
                break;
            }
            if let Some(cov) = self.coverage.as_mut().filter(|_| self.lifecycle_features) {
                cov.record_event(outcomes.last(), &out);
            }
            let mut effects = out.agent.effects.clone();
            effects.extend(self.pebble_effects(d.world())?);
            d.complete(out.agent.result, effects)?;
            let step = d.trace().steps.len() - 1;
            if let Some(cov) = self.coverage.as_mut() {
                // Where in the story each slot was first hit: the frontier sweeps a
                // discovery from the step that made it (`fuzzing::Frontier`).
                cov.mark_step(step);
            }
            if finding.is_none() {
                finding = Finding::from_outcome(&out, step, outcomes.len())
                    .filter(|f| self.only.as_deref().is_none_or(|p| f.matches(p)));
                if let Some(f) = finding
                    .take_if(|f| f.class == FindingClass::Environment && !self.environment_findings)
                {
                    environment.push(f);
                }
            }
            // Juju retries a failed hook until it passes or someone runs `juju resolved`;
            // past the end of the story nobody will, so give up on a hook that keeps
            // failing.
            let failed_again = !out.exit.ok()
                && outcomes
                    .last()
                    .is_some_and(|p: &EventOutcome| !p.exit.ok() && p.hook == out.hook);
            failures_in_a_row = if failed_again {
                failures_in_a_row + 1
            } else {
                0
            };
            outcomes.push(out);
            if finding.is_some() && self.stop_at_finding || failures_in_a_row >= 3 {
                break;
            }
        }
        Ok(Played {
            outcomes,
            finding,
            environment,
        })
    }

    /// Apply to the fake Pebble what happened to the workloads since the last event:
    /// containers starting and stopping, pods replaced, checks failing, notices.
    fn sync_workloads(&mut self, trace: &Trace, world: &World) -> Result<(), TargetError> {
        let Some(p) = &self.pebble else {
            return Ok(());
        };
        for step in &trace.steps[self.synced_steps.min(trace.steps.len())..] {
            match &step.action {
                Action::PodRecreated | Action::Refresh => {
                    for c in p.container_names() {
                        p.restart(&c, true)?;
                    }
                    self.notice_ids.clear();
                }
                // Kubernetes restarted the container: a new Pebble, and a new writable
                // layer (only mounted storage survives).
                Action::WorkloadStarted { container } => {
                    p.restart(container, true)?;
                    self.notice_ids.retain(|(c, _), _| c != container);
                }
                Action::WorkloadStopped { container } => p.down(container)?,
                Action::CheckFailed { container, check } => {
                    p.fail_check(container, check, "check failed")?;
                }
                Action::CheckRecovered { container, check } => {
                    p.recover_check(container, check)?;
                }
                // Pebble keeps restarting a service that keeps exiting: `backoff`.
                Action::ServiceExited { container, service } => {
                    p.set_service_state(container, service, ServiceState::Backoff)?;
                }
                Action::WorkloadFault { container, fault } => {
                    p.set_faults(container, |f| match fault {
                        WorkloadFault::ExecFails => f.exec_fails = true,
                        WorkloadFault::ApiErrors => f.api_errors = true,
                        WorkloadFault::ApiHangs => f.api_hangs = true,
                        WorkloadFault::DiskFull => f.disk_full = true,
                    })?;
                }
                Action::CustomNotice { container, key, .. } => {
                    let id = p.add_workload_notice(container, key, BTreeMap::new())?;
                    self.notice_ids.insert((container.clone(), key.clone()), id);
                }
                _ => {}
            }
        }
        self.synced_steps = trace.steps.len();
        for c in &world.containers {
            if p.is_up(&c.name)? != c.up {
                if c.up {
                    p.up(&c.name)?
                } else {
                    p.down(&c.name)?
                }
            }
        }
        Ok(())
    }

    /// What the charm did in its containers' Pebble that the world does not know yet:
    /// checks its layers declared, and (for the workload's faults) which services run
    /// now (it started or stopped some; failed hooks too: Pebble keeps what it did).
    fn pebble_effects(&self, world: &World) -> Result<Vec<Effect>, TargetError> {
        let Some(p) = &self.pebble else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for c in &world.containers {
            let new: Vec<String> = (p.check_names(&c.name)?.into_iter())
                .filter(|k| !c.checks.contains_key(k))
                .collect();
            if !new.is_empty() {
                out.push(Effect::ChecksDeclared {
                    container: c.name.clone(),
                    checks: new,
                });
            }
            if world.opts.workload_faults && c.up {
                let running = p.running_services(&c.name)?;
                if running != c.running {
                    out.push(Effect::ServicesRunning {
                        container: c.name.clone(),
                        services: running.into_iter().collect(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// The environment of one hook: what Juju would set, pointing at this sandbox.
    fn hook_env(&self, event: &Event) -> Map<String, Value> {
        let mut env: Map<String, Value> = event
            .env
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let charm_dir = self.sandbox.charm_dir().display().to_string();
        let mut set = |k: &str, v: String| {
            env.insert(k.to_string(), Value::String(v));
        };
        if event.kind == HookKind::PebbleCustomNotice {
            let key = (
                event.env("JUJU_WORKLOAD_NAME").unwrap_or("").to_string(),
                event.env("JUJU_NOTICE_KEY").unwrap_or("").to_string(),
            );
            if let Some(id) = self.notice_ids.get(&key) {
                set("JUJU_NOTICE_ID", id.clone());
            }
        }
        set("JUJU_CHARM_DIR", charm_dir.clone());
        set("CHARM_DIR", charm_dir);
        set(
            "JUJU_AGENT_SOCKET_ADDRESS",
            self.sandbox.agent_socket().display().to_string(),
        );
        set("JUJU_AGENT_SOCKET_NETWORK", "unix".into());
        set("PATH", self.path_var());
        set("HOME", self.sandbox.home().display().to_string());
        set("LANG", "C.UTF-8".into());
        for (k, v) in self.pod_env() {
            set(k, v.into());
        }
        // Not Juju's: files the charm hands to hook tools (`secret-add KEY#file=...`) are
        // made with `tempfile`, and the agent must be able to read them. Inside the walls
        // /tmp is private; the sandbox's tmp is mounted at the same path on both sides.
        set("TMPDIR", self.sandbox.tmp().display().to_string());
        env
    }

    /// What Kubernetes puts in every container's environment ([`super::pod`]), for a
    /// Kubernetes charm inside the walls.
    fn pod_env(&self) -> Vec<(&'static str, &'static str)> {
        if self.charm.spec.substrate == Substrate::Kubernetes && self.sandbox.contained() {
            super::pod::env().to_vec()
        } else {
            Vec::new()
        }
    }

    /// Run one event (which the world has just delivered) in the charm.
    fn run_event(&mut self, world: &World, event: &Event) -> Result<EventOutcome, TargetError> {
        self.agent.timer_fires(event);
        let mut ctx = HookContext::begin(world, &self.agent, event);
        let mut shim_calls = Vec::new();
        let req = RunRequest {
            env: self.hook_env(event),
            stdout: self.sandbox.out("stdout"),
            stderr: self.sandbox.out("stderr"),
            timeout: self.config.timeout,
            lines: (self.lines.is_some() && self.config.mode == Mode::Fork)
                .then(|| self.sandbox.out("lines")),
            exec: (self.config.mode == Mode::Exec).then(|| {
                vec![
                    self.sandbox
                        .charm_dir()
                        .join("dispatch")
                        .display()
                        .to_string(),
                ]
            }),
            want_state: self.want_state && self.config.mode == Mode::Fork,
            stand_ins: (self.config.mode == Mode::Fork).then(|| self.sandbox.out("stand_ins")),
            clock: (self.config.mode == Mode::Fork && self.config.virtual_time).then_some(
                ClockRequest {
                    now_ns: self.agent.clock.now_ns,
                    start_ns: clock::EPOCH_NS,
                },
            ),
        };
        let tools: BTreeSet<&str> = TOOLS.iter().copied().collect();
        let shims = &self.config.shims;
        let mut lacks = Vec::new();
        let mut serve = |r: ToolRequest| -> ToolResponse {
            if tools.contains(r.tool.as_str()) {
                let reply = ctx.call(
                    &r.tool,
                    &r.args,
                    r.stdin.as_deref().unwrap_or("").as_bytes(),
                );
                ToolResponse {
                    code: reply.code,
                    stdout: reply.stdout_str(),
                    stderr: reply.stderr_str(),
                }
            } else if let Some(a) = shims.get(&r.tool) {
                if shim_query_unanswered(&r.tool, &r.args, a) {
                    lacks.push(Lack {
                        kind: LackKind::Shim,
                        what: std::iter::once(r.tool.as_str())
                            .chain(r.args.iter().map(String::as_str))
                            .collect::<Vec<_>>()
                            .join(" "),
                    });
                }
                shim_calls.push(ShimCall {
                    program: r.tool.clone(),
                    args: r.args.clone(),
                    code: a.exit,
                });
                ToolResponse {
                    code: a.exit,
                    stdout: a.stdout.clone(),
                    stderr: a.stderr.clone(),
                }
            } else {
                ToolResponse {
                    code: 127,
                    stdout: String::new(),
                    stderr: format!("{}: command not found\n", r.tool),
                }
            }
        };
        for path in req.lines.iter().chain(&req.stand_ins) {
            let _ = std::fs::remove_file(path);
        }
        let hits_before = self.processes.as_ref().map_or(0, ProcessLimit::hits);
        let worker = self.worker.as_mut().expect("started");
        let mut killed_worker = false;
        let report =
            match worker.run_hook(&req, &self.listener, Duration::from_secs(10), &mut serve) {
                // The hook killed the process running it (`os.kill(os.getppid(), 9)`; on a
                // unit, the agent): a finding of this hook, and a new worker for what follows.
                Err(WorkerError::KilledInHook {
                    signal, hook_pid, ..
                }) => {
                    // Contained, the hook died with the worker's namespace. Bare, it lives on,
                    // orphaned, in its own session: end it before it talks to the next hook's
                    // agent.
                    use rustix::process::{Pid, Signal, kill_process_group};
                    if let Some(pid) = hook_pid
                        .filter(|_| !self.sandbox.contained())
                        .and_then(Pid::from_raw)
                    {
                        let _ = kill_process_group(pid, Signal::KILL);
                    }
                    killed_worker = true;
                    ExitReport {
                        signal: Some(signal),
                        ..ExitReport::default()
                    }
                }
                other => other?,
            };
        let process_limit = self
            .processes
            .as_ref()
            .is_some_and(|p| p.hits() > hits_before);
        if killed_worker {
            self.start_worker()?;
        } else {
            self.settle_processes();
        }
        let worker = self.worker.as_mut().expect("started");
        if let (Some(path), Some(lines)) = (&req.lines, self.lines.as_mut()) {
            // A child that died by a signal, timed out or called os._exit wrote nothing.
            if let Ok(text) = std::fs::read_to_string(path) {
                lines.add_hook(&text);
            }
        }
        let exit = if report.timed_out {
            Exit::Timeout
        } else if let Some(s) = report.signal {
            Exit::Signal(s)
        } else {
            Exit::Code(report.code.unwrap_or(-1))
        };
        let agent = ctx.finish(exit.ok(), &mut self.agent);
        self.agent.clock.after_hook(report.clock_ns);
        let output_cut = output_cut(&report);
        let (stored, deferred) =
            if self.want_state && (self.config.mode == Mode::Exec || killed_worker) {
                worker.read_state()?
            } else {
                (report.stored, report.deferred)
            };
        let stderr_tail = tail_of_file(&self.sandbox.out("stderr"), 4000);
        let charm_dir = self.sandbox.charm_dir().display().to_string();
        let exception = if exit.ok() {
            None
        } else {
            find_exception(
                agent.logs.iter().map(|l| l.message.as_str()),
                &stderr_tail,
                &charm_dir,
            )
        };
        let stopped_at = (!killed_worker && matches!(exit, Exit::Signal(_) | Exit::Timeout))
            .then(|| fault_frame(&stderr_tail, &charm_dir))
            .flatten();
        // The stand-ins' notes: lacks, and the execs whose output the charm read.
        let mut output_read = BTreeSet::new();
        if let Some(text) = req
            .stand_ins
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
        {
            for line in text.lines() {
                match serde_json::from_str::<StandInNote>(line) {
                    Ok(StandInNote::Lack(l)) => lacks.push(l),
                    Ok(StandInNote::Seen(Seen::ExecOutput { what })) => {
                        output_read.insert(what);
                    }
                    Err(_) => {}
                }
            }
        }
        let mut unscripted = Vec::new();
        if let Some(p) = &self.pebble {
            for c in p.container_names() {
                for command in p.take_unanswered(&c)? {
                    let what = command.join(" ");
                    // An unscripted command that succeeded by default gave the charm
                    // nothing made up but its empty output: it lacked only if the charm
                    // read that (known where the stand-ins watch, in fork mode).
                    let lacked = self.config.exec_default != ExecDefault::Succeed
                        || req.stand_ins.is_none()
                        || output_read.contains(&what);
                    if lacked {
                        lacks.push(Lack {
                            kind: LackKind::Exec,
                            what: what.clone(),
                        });
                    }
                    unscripted.push(what);
                }
                for dir in p.take_missing_dirs(&c)? {
                    lacks.push(Lack {
                        kind: LackKind::ImageDir,
                        what: format!("{c}:{dir}"),
                    });
                }
            }
        }
        lacks.sort();
        lacks.dedup();
        unscripted.sort();
        unscripted.dedup();
        Ok(EventOutcome {
            hook: event.hook.clone(),
            kind: event.kind,
            exit,
            seconds: report.seconds,
            exception,
            agent,
            shim_calls,
            stored,
            deferred,
            stdout_tail: tail_of_file(&self.sandbox.out("stdout"), 4000),
            stderr_tail,
            output_cut,
            killed_worker,
            process_limit,
            stopped_at,
            lacks,
            unscripted,
        })
    }

    /// The charm's environment is the one it would have packed, or the user chose: a
    /// fallback interpreter must have the `ops` the charm pins, and every charm library
    /// the charm imports must be there (the worker imported them).
    fn check_environment(&self, charm_dir: &Path, source: PythonSource) -> Result<(), TargetError> {
        let Some(info) = self.worker_info() else {
            return Ok(());
        };
        if let Some(lib) = info.missing_libs.first() {
            return Err(TargetError::MissingCharmLib {
                libs: info.missing_libs.join(", "),
                first: lib.clone(),
                path: lib.replace('.', "/"),
                charm: charm_dir.display().to_string(),
            });
        }
        if source == PythonSource::Fallback
            && let Some((pinned, file)) = crate::pyenv::pinned_ops(charm_dir)
            && pinned != info.ops
        {
            return Err(TargetError::OpsMismatch {
                pinned,
                file,
                python: self.python.display().to_string(),
                found: info.ops.clone(),
                charm: charm_dir.display().to_string(),
            });
        }
        Ok(())
    }

    /// Capture the unit as it is now (between events), with the engine's `world`.
    pub fn snapshot(&self, world: &World) -> Result<UnitSnapshot, TargetError> {
        let db = self.sandbox.charm_dir().join(".unit-state.db");
        Ok(UnitSnapshot {
            world: world.clone(),
            agent: self.agent.clone(),
            unit_state: std::fs::read(&db).ok(),
            pebble: self.pebble.as_ref().map(|p| p.snapshot()).transpose()?,
            kube: self.kube.as_ref().map(|(api, _)| api.snapshot()),
            notice_ids: self.notice_ids.clone(),
        })
    }

    /// Put the unit back as `snap` captured it; returns the world to continue with.
    pub fn restore(&mut self, snap: &UnitSnapshot) -> Result<World, TargetError> {
        let db = self.sandbox.charm_dir().join(".unit-state.db");
        match &snap.unit_state {
            Some(bytes) => std::fs::write(&db, bytes).map_err(io("restoring the unit state"))?,
            None => {
                let _ = std::fs::remove_file(&db);
            }
        }
        self.agent = snap.agent.clone();
        self.notice_ids = snap.notice_ids.clone();
        if let (Some(p), Some(s)) = (&self.pebble, &snap.pebble) {
            p.restore(s)?;
        }
        if let (Some((api, _)), Some(c)) = (&self.kube, &snap.kube) {
            api.restore(c);
        }
        Ok(snap.world.clone())
    }

    /// Run the event the `world` has in flight (after [`World::deliver`]) and report it;
    /// the caller completes the world with the outcome. For driving a unit by hand, as
    /// the snapshot tests do.
    pub fn run_delivered(
        &mut self,
        world: &World,
        event: &Event,
    ) -> Result<EventOutcome, TargetError> {
        self.run_event(world, event)
    }

    /// The unit captured before the event [`Target::scene_before`] names (and, with
    /// [`Target::scene_every_event`], before each event up to it), by the last run.
    pub fn take_scenes(&mut self) -> Vec<Scene> {
        std::mem::take(&mut self.scenes)
    }

    /// Which kind of hook a finding in `report` is in.
    pub fn finding_kind(report: &RunReport) -> Option<HookKind> {
        report.finding.as_ref().map(|f| f.hook_kind)
    }
}

/// A line the stand-ins wrote in the hook's process (`python/worker.py`'s `_StandIns`).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum StandInNote {
    Lack(Lack),
    Seen(Seen),
}

/// What the stand-ins saw that lacked nothing.
#[derive(serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Seen {
    /// The charm read the output of this Pebble exec.
    ExecOutput { what: String },
}

/// The worker script, embedded in the binary.
pub const WORKER_PY: &str = include_str!("../../python/worker.py");

/// Virtual time in the charm's process (imported by the worker, written beside it).
pub const CLOCK_PY: &str = include_str!("../../python/charmfuzz_clock.py");

/// The `dispatch` charmcraft writes into a packed charm: Juju runs it for every hook,
/// and it starts the charm's entry point with `lib/` (charm libraries) and `venv/` (the
/// packed dependencies) importable. Here the interpreter is the charm's own, by path.
fn packed_dispatch(python: &Path, entry: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         # Written by charmfuzz: the dispatch charmcraft writes at pack time.\n\
         JUJU_DISPATCH_PATH=\"${{JUJU_DISPATCH_PATH:-$0}}\" PYTHONPATH=lib:venv \\\n    \
         exec '{}' './{}'\n",
        python.display().to_string().replace('\'', r"'\''"),
        entry.display().to_string().replace('\'', r"'\''"),
    )
}

/// The charm's entry point as its `dispatch` names it (`src/charm.py` by default).
fn entry_from_dispatch(charm_dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(charm_dir.join("dispatch")).unwrap_or_default();
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .filter(|w| w.ends_with(".py"))
        .map(|w| w.trim_start_matches("./"))
        .find(|w| !w.contains('$') && !w.starts_with('/'))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("src/charm.py"))
}

/// Where the charm's interpreter came from ([`find_python`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PythonSource {
    /// `--python`, `[target] python` or `$CHARMFUZZ_PYTHON`: the user's choice.
    Asked,
    /// The charm's own `venv/`, or the environment `charmfuzz setup` built from what the
    /// charm declares.
    Charm,
    /// An environment that is not the charm's (`$CHARMFUZZ_VENV`, this project's `.venv`,
    /// `python3` on PATH): used only when it has the `ops` the charm pins.
    Fallback,
}

/// The interpreter to run the charm with: the one asked for; else `$CHARMFUZZ_PYTHON`;
/// else the charm's own `venv/bin/python`; else the environment `charmfuzz setup` built
/// for it ([`crate::pyenv`]); else `$CHARMFUZZ_VENV` or this project's environment (made by
/// `scripts/setup-python.sh`); else `python3` on PATH.
pub fn find_python(
    charm_dir: &Path,
    asked: Option<&Path>,
) -> Result<(PathBuf, PythonSource), TargetError> {
    let resolve = |p: &Path| -> Option<PathBuf> {
        let p = if p.is_relative() && p.components().count() > 1 {
            charm_dir.join(p)
        } else {
            p.to_path_buf()
        };
        if p.is_file() {
            return Some(p);
        }
        which(&p)
    };
    if let Some(p) = asked {
        return resolve(p)
            .map(|p| (p, PythonSource::Asked))
            .ok_or_else(|| TargetError::NoPython(format!("{} does not exist", p.display())));
    }
    if let Some(p) = std::env::var_os("CHARMFUZZ_PYTHON").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return resolve(&p)
            .map(|p| (p, PythonSource::Asked))
            .ok_or_else(|| {
                TargetError::NoPython(format!("CHARMFUZZ_PYTHON={} does not exist", p.display()))
            });
    }
    let own = Some(charm_dir.join("venv/bin/python"))
        .filter(|p| p.is_file())
        .or_else(|| crate::pyenv::built_python(charm_dir));
    if let Some(p) = own {
        return Ok((p, PythonSource::Charm));
    }
    let mut candidates = Vec::new();
    if let Some(v) = std::env::var_os("CHARMFUZZ_VENV").filter(|p| !p.is_empty()) {
        candidates.push(PathBuf::from(v).join("bin/python"));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    if let Some(p) = candidates.into_iter().find(|p| p.is_file()) {
        return Ok((p, PythonSource::Fallback));
    }
    which(Path::new("python3")).map(|p| (p, PythonSource::Fallback)).ok_or_else(|| {
        TargetError::NoPython(
            "no --python, no CHARMFUZZ_PYTHON, no venv/ in the charm, no project .venv, and no python3 on PATH"
                .into(),
        )
    })
}

fn which(name: &Path) -> Option<PathBuf> {
    if name.components().count() > 1 {
        return None;
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A stand-in for the `jujuc` binary when none is given: the same protocol, in Python.
fn jujuc_script(python: &Path) -> String {
    format!(
        r#"#!{py} -S
# charmfuzz's hook-tool client: forwards argv and stdin to the unit agent's socket.
import json, os, socket, struct, sys
tool = os.path.basename(sys.argv[0])
data = None if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
req = json.dumps({{"tool": tool, "args": sys.argv[1:], "stdin": data or None, "cwd": os.getcwd()}}).encode()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(os.environ["JUJU_AGENT_SOCKET_ADDRESS"])
s.sendall(struct.pack(">I", len(req)) + req)
def read(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit("ERROR the unit agent closed the connection")
        b += c
    return b
resp = json.loads(read(struct.unpack(">I", read(4))[0]))
sys.stdout.write(resp["stdout"]); sys.stderr.write(resp["stderr"])
sys.exit(resp["code"])
"#,
        py = python.display()
    )
}

/// Cap the memory of every process the command starts (bwrap, the worker, each hook's
/// child and whatever it runs: a limit is inherited across fork and exec). `RLIMIT_DATA`
/// counts a process's heap and private mappings, where Python's objects live, and not the
/// shared coverage bitmap or the interpreter's code; past it an allocation fails, and
/// Python raises `MemoryError` in the hook, an out-of-memory finding. The charm cannot
/// raise the limit again: that takes CAP_SYS_RESOURCE, which the sandbox drops.
fn limit_memory(cmd: &mut std::process::Command, bytes: u64) {
    use rustix::process::{Resource, Rlimit, setrlimit};
    use std::os::unix::process::CommandExt;
    let limit = Rlimit {
        current: Some(bytes),
        maximum: Some(bytes),
    };
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe calls are allowed; setrlimit is one system call (prlimit64), and
    // the closure allocates nothing (the limit is built before the fork).
    unsafe {
        cmd.pre_exec(move || setrlimit(Resource::Data, limit).map_err(Into::into));
    }
}

/// "stdout: 1073741824 bytes, the last 65536 kept", for the streams the worker cut.
fn output_cut(report: &ExitReport) -> Option<String> {
    let cut: Vec<String> = [
        ("stdout", report.stdout_bytes),
        ("stderr", report.stderr_bytes),
    ]
    .into_iter()
    .filter(|&(_, n)| report.output_kept > 0 && n > report.output_kept)
    .map(|(name, n)| format!("{name}: {n} bytes, the last {} kept", report.output_kept))
    .collect();
    (!cut.is_empty()).then(|| cut.join("; "))
}
