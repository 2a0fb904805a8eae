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
//!
//! Layout:
//! - this file: [`Target`] and what it reports ([`RunReport`], [`UnitSnapshot`],
//!   [`TargetError`]), resetting the unit, and the ways to play an input (bytes, a
//!   trace, a story);
//! - `setup`: [`Target::new`], deploying the unit: the sandbox, the charm's copy, the
//!   hook tools, the fake Pebble, the Kubernetes API and the workload's HTTP API;
//! - `python`: which interpreter runs the charm ([`find_python`]);
//! - `process`: starting the worker (the fork server the hooks run in), its
//!   environment and its limits;
//! - `drive`: playing a story event by event, and keeping the fake Pebble in step with
//!   the engine's world;
//! - `event`: running one event in the charm and reading back what it did;
//! - `embedded`: the Python and shell source charmfuzz writes into the sandbox;
//! - `scene`: capturing the unit before a hook, for a reproducer.

use super::cgroup::ProcessLimit;
use super::config::{Mode, TargetConfig};
use super::coverage::{CoverageMap, CoverageState};
use super::hooktools::UnitAgent;
use super::kube::KubeApi;
use super::kube::store::Cluster;
use super::outcome::{EventOutcome, Finding};
use super::pebble::{FakePebble, PebbleError, PebbleSnapshot};
use super::sandbox::baseline::Layers;
use super::sandbox::{Sandbox, SandboxError};
use super::worker::{CoverageSpec, LinesSpec, Worker, WorkerError, WorkerInfo};
use super::workload_http::{HttpConfigError, WorkloadHttp};
use crate::charm::Charm;
use crate::engine::{EncodeError, Event, HookKind, StoryEncoder, Trace, World, encode};
use crate::line_coverage::LineCoverage;
use crate::repro::Scene;
use serde::Serialize;
use std::collections::BTreeMap;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod drive;
mod embedded;
mod event;
mod prefix;
mod process;
mod python;
mod scene;
mod setup;
pub use embedded::{CLOCK_PY, WORKER_PY};
pub use prefix::{CacheStats, PrefixCache};
pub use python::{PythonSource, find_python};

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
    Host(#[from] host_fake::HostError),
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

/// What [`Target::drive`] has played of an input: each event's outcome, the finding that
/// ended the story (if one did), the `environment` findings it went on past, and how many
/// times in a row the last hook has failed.
#[derive(Debug, Clone, Default)]
pub(super) struct Progress {
    /// Shared with the prefix snapshots taken along the way (each holds the outcomes up
    /// to it without a copy of its own).
    outcomes: Vec<Arc<EventOutcome>>,
    finding: Option<Finding>,
    environment: Vec<Finding>,
    failures_in_a_row: u32,
}

/// The unit after an event, to resume from later instead of replaying the prefix: the
/// engine's world, and everything of the unit's ([`UnitState`]).
#[derive(Debug, Clone)]
pub struct UnitSnapshot {
    pub world: World,
    pub unit: UnitState,
}

/// Everything of a unit between two events that is not the engine's: the unit agent (its
/// clock too), every file the charm wrote (the unit-state database among them), the fake
/// Pebble's containers, the fake machine, the Kubernetes objects, Pebble's notice ids,
/// how far the workloads have been kept in step, and the coverage bitmap.
#[derive(Debug, Clone)]
pub struct UnitState {
    agent: UnitAgent,
    layers: Layers,
    pebble: Option<PebbleSnapshot>,
    host: Option<crate::target::host::HostState>,
    kube: Option<Cluster>,
    notice_ids: BTreeMap<(String, String), String>,
    synced_steps: usize,
    coverage: Option<CoverageState>,
}

impl UnitState {
    /// Roughly how many bytes it holds beyond its fixed size.
    pub fn size(&self) -> usize {
        self.layers.content_bytes() + self.coverage.as_ref().map_or(0, CoverageState::size)
    }

    /// A unit with nothing in it (for tests of what holds snapshots).
    #[cfg(test)]
    pub(super) fn bare() -> UnitState {
        UnitState {
            agent: UnitAgent::new(PathBuf::from("/nonexistent")),
            layers: Layers::default(),
            pebble: None,
            host: None,
            kube: None,
            notice_ids: BTreeMap::new(),
            synced_steps: 0,
            coverage: None,
        }
    }
}

/// One unit of the charm under test. See the module docs.
pub struct Target {
    charm: Charm,
    config: TargetConfig,
    listener: UnixListener,
    pebble: Option<FakePebble>,
    /// A machine charm's machine: snapd, systemd, apt and dpkg.
    host: Option<crate::target::host::FakeHost>,
    /// The program the host's commands are linked to in the tools directory.
    host_program: Option<PathBuf>,
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
    /// Prefix snapshots of the inputs played ([`Target::set_prefix_cache`]).
    prefix_cache: Option<PrefixCache>,
    /// The settings the cache's snapshots were taken under.
    prefix_settings_seen: Option<String>,
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

    /// Put the links of the commands the machine's installs brought in line with the
    /// host's state (after a reset or a restore).
    fn link_host_commands(&self) {
        if let (Some(h), Some(l)) = (
            &self.host,
            event::HostLinks::of(&self.sandbox, self.host_program.as_deref()),
        ) {
            l.link(h);
        }
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
        if let Some(h) = &self.host {
            h.reset();
            let _ = h.take_calls();
            self.link_host_commands();
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
        let charm = self.charm.clone();
        // Resume from the longest prefix of `bytes` kept, or start afresh. The step limit
        // shapes the story, so snapshots taken under another are no use.
        self.check_prefix_settings(max_steps);
        // A reproducer's scenes are captured as the events run: none may be skipped.
        let scenes = self.scene_before.is_some();
        let resumed =
            (self.prefix_cache.as_mut().filter(|_| !scenes)).and_then(|c| c.longest(bytes));
        let (mut d, progress) = match resumed {
            Some(snap) => {
                self.resume_prefix(&snap)?;
                let d = crate::engine::Decoder::resume(
                    snap.decoder.clone(),
                    &charm.weights,
                    &charm.vocab,
                    bytes,
                );
                (d, snap.progress.clone())
            }
            None => {
                self.reset()?;
                (charm.decoder(bytes, max_steps), Progress::default())
            }
        };
        let before = progress.outcomes.len();
        let Progress {
            outcomes,
            finding,
            environment,
            ..
        } = self.drive(&mut d, progress, Some(bytes))?;
        if let Some(c) = self.prefix_cache.as_mut() {
            c.count_run(outcomes.len() - before);
        }
        Ok(RunReport {
            step_starts: d.step_starts().to_vec(),
            bytes_read: d.position().min(bytes.len()),
            trace: d.into_trace(),
            outcomes: outcomes.into_iter().map(Arc::unwrap_or_clone).collect(),
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
        let Progress {
            outcomes,
            finding,
            environment,
            ..
        } = self.drive(&mut d, Progress::default(), None)?;
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
            outcomes: outcomes.into_iter().map(Arc::unwrap_or_clone).collect(),
            finding,
            environment,
        };
        Ok((bytes, report))
    }

    /// Capture the unit as it is now (between events), with the engine's `world`.
    pub fn snapshot(&self, world: &World) -> Result<UnitSnapshot, TargetError> {
        Ok(UnitSnapshot {
            world: world.clone(),
            unit: self.save_unit()?,
        })
    }

    /// Put the unit back as `snap` captured it; returns the world to continue with.
    pub fn restore(&mut self, snap: &UnitSnapshot) -> Result<World, TargetError> {
        self.restore_unit(&snap.unit)?;
        Ok(snap.world.clone())
    }

    /// The unit as it is now (between events).
    fn save_unit(&self) -> Result<UnitState, TargetError> {
        Ok(UnitState {
            agent: self.agent.clone(),
            layers: (self.sandbox.capture_layers())
                .map_err(io("keeping what the charm wrote for a snapshot"))?,
            pebble: self.pebble.as_ref().map(|p| p.snapshot()).transpose()?,
            host: self.host.as_ref().map(|h| h.snapshot()),
            kube: self.kube.as_ref().map(|(api, _)| api.snapshot()),
            notice_ids: self.notice_ids.clone(),
            synced_steps: self.synced_steps,
            coverage: self.coverage.as_ref().map(|c| c.save()),
        })
    }

    /// Put the unit back as [`Target::save_unit`] found it.
    fn restore_unit(&mut self, unit: &UnitState) -> Result<(), TargetError> {
        self.scenes.clear();
        self.sandbox
            .restore_layers(&unit.layers)
            .map_err(io("putting back what the charm wrote before the snapshot"))?;
        self.agent = unit.agent.clone();
        self.synced_steps = unit.synced_steps;
        self.notice_ids = unit.notice_ids.clone();
        if let (Some(cov), Some(state)) = (self.coverage.as_mut(), &unit.coverage) {
            cov.restore(state);
        }
        if let (Some(p), Some(s)) = (&self.pebble, &unit.pebble) {
            p.restore(s)?;
        }
        if let (Some((api, _)), Some(c)) = (&self.kube, &unit.kube) {
            api.restore(c);
        }
        if let (Some(h), Some(s)) = (&self.host, &unit.host) {
            h.restore(s);
            self.link_host_commands();
        }
        if let Some(h) = &self.workload_http {
            h.forget_story();
        }
        Ok(())
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
