//! A fake Pebble, one per workload container.
//!
//! Pebble is the service manager of a Juju workload container; a charm's `ops` talks to it
//! over an HTTP API on a Unix socket. This crate serves that API, byte for byte as `ops`
//! sees it, from a state machine instead of a real workload, so that a charm's real
//! `ops.pebble.Client` can run against it (see the crate's README for an overview).
//!
//! ```no_run
//! use pebble_fake::{ExecAnswer, ExecAnswers, FakePebble};
//!
//! let dir = std::path::Path::new("/tmp/pebble-demo");
//! let answers = ExecAnswers::default().with(ExecAnswer::new(&["app", "version"]).stdout("1.2\n"));
//! let pebble = FakePebble::start(dir, &["workload".to_string()], answers)?;
//! // Point ops.pebble.Client(socket_path=...) at this socket, run the charm, then look:
//! let socket = pebble.socket_path("workload")?;
//! let running = pebble.running_services("workload")?;
//! # let _ = (socket, running);
//! pebble.shutdown();
//! # Ok::<(), pebble_fake::PebbleError>(())
//! ```
//!
//! # What Pebble is, and why a charm talks to it
//!
//! On Kubernetes, a Juju unit is a pod: the charm container (the unit agent plus the
//! charm's Python) and one *workload* container per entry of `containers:` in the charm's
//! metadata. Juju injects [Pebble](https://github.com/canonical/pebble), a small service
//! manager, as PID 1 of each workload container, and shares its Unix socket with the charm
//! container at `/charm/containers/<name>/pebble.socket`. Everything a sidecar charm does
//! to its workload goes through that socket via `ops.pebble.Client` (usually wrapped as
//! `ops.Container`): it checks the container is reachable (`can_connect()`), adds a
//! *layer* describing services and health checks, *replans* so they start, pushes config
//! files, pulls and lists files, runs commands with `exec`, watches checks and notices,
//! and sends signals.
//!
//! # What we fake, and why faithfully
//!
//! A fuzzer cannot run real workload images, but it must run the charm's real `ops` client
//! against something that behaves like Pebble, or the charm's Pebble code paths (and their
//! bugs) are never exercised. So each container gets a real HTTP/1.1 server on a real Unix
//! socket (hyper on a tokio runtime owned by [`FakePebble`]) speaking Pebble's API byte for
//! byte as `ops` 3.x sees it: the same routes, response envelopes, `Content-Type`s, chunked
//! `push` bodies, multipart `pull` answers, websockets for `exec`, status codes and error
//! messages (`ops` turns them into `APIError`, `PathError`, `ChangeError`, `ExecError`,
//! and charms branch on them: `Container.exists()` is a 404 from a file listing). The
//! shapes and messages here follow Pebble's Go source; see
//! `docs/juju-model.md` §B3.
//!
//! What is *not* real is the workload: services are a state machine that starts at once
//! (optionally failing on purpose, see [`FakePebble::set_start_failure`]), health checks
//! pass or fail when the harness says so ([`FakePebble::fail_check`]), `exec` answers come
//! from a script ([`ExecAnswers`]), and the container filesystem is a host directory
//! standing in for the image's root (empty at first: only what the charm pushes is there).
//!
//! # Connectivity and restarts
//!
//! A container can be taken [down](FakePebble::down): its socket file is removed and open
//! connections are dropped, so `can_connect()` is false and any call raises
//! `ConnectionError`, as when Kubernetes restarts a workload container.
//! [`FakePebble::restart`] brings it back. With `fresh = true` it models a real container
//! restart: Pebble's state is gone (layers, plan, services, changes, checks, notices,
//! identities), the boot id changes, and the filesystem is reset except for the paths
//! declared persistent with [`FakePebble::set_persistent_paths`] (the container's mounted
//! storage). The charm must add its layer again, typically on the `pebble-ready` event
//! Juju sends after the restart. With `fresh = false` everything is kept (a transient
//! outage).
//!
//! # Snapshots
//!
//! [`FakePebble::snapshot`] captures every container's Pebble state, logs and filesystem;
//! [`FakePebble::restore`] puts them back, so a fuzz input can resume from a saved prefix.
//!
//! # Inspection
//!
//! The harness reads what the charm did: the plan and layers, service states, changes,
//! checks, notices the charm added, every exec (command, environment, working directory,
//! stdin, signals), every request (method, path, status), and the files.
//!
//! # Socket paths
//!
//! Container `c` listens on `<dir>/containers/c/pebble.socket` (that directory holds
//! nothing else, like the real shared volume); its root filesystem is `<dir>/rootfs/c/`.
//! A Unix socket path must fit in 107 bytes; a longer one is refused with
//! [`PebbleError::SocketPathTooLong`]. Pointing `ops` (which hard-codes
//! `/charm/containers/<name>/pebble.socket`) at these sockets is the worker's job; redirect
//! the `<dir>/containers` *directory* (e.g. bind-mount it on `/charm/containers`), not the
//! socket file, which is removed and created again when a container goes down and up.
//!
//! # What is simplified
//!
//! - Services have no processes: starting one succeeds at once (Pebble waits a second to
//!   see it stay up) unless a failure was scripted; `backoff` is a state, not a retry
//!   timer; `on-check-failure` actions are not applied; `/v1/logs` is not served (ops never
//!   calls it).
//! - Checks do not run; they are `up` until the harness fails them.
//! - `exec` does not check that `working-dir` exists (the image's directories are not
//!   there); there is no terminal or interactive mode (ops never asks for one); output is
//!   sent in one frame per stream; a signalled command exits with 128 + the signal number.
//! - The plan YAML is emitted by `saphyr`, not Go's yaml.v3: different indentation and
//!   quoting, the same values once loaded.
//! - File owners are virtual, and unknown user and group names are created on first use
//!   (see [`Users`]). Layer labels with sub-directories (`inner`) are not supported.
//! - Identities are stored and listed (passwords masked) without further meaning.
//! - Ids, boot ids and multipart boundaries are deterministic; timestamps are the wall
//!   clock.
//!
//! # Layout
//!
//! This file holds [`FakePebble`], the harness's handle (start, down and up, restarts,
//! scripted failures, inspection); `http` is the server and its routes by API area,
//! `state` one daemon's state (services, changes, checks, notices, logs), `layer` layers
//! and the plan, `files` the container filesystem, `exec` the scripted commands and their
//! websocket sessions, `snapshot` snapshots, and `gotime` Go's time formats.

mod exec;
mod files;
mod gotime;
mod http;
mod layer;
mod snapshot;
mod state;

pub use exec::{
    CallRange, ExecAnswer, ExecAnswers, ExecDefault, ExecMatch, ExecSituation, FirstCall,
    ServiceCondition,
};
pub use files::{FileError, FileInfo, FsEntry, FsImage, UserEntry, Users};
pub use gotime::{Timestamp, format_duration, parse_duration};
pub use layer::{
    Check, ExecCheck, HttpCheck, Layer, LogTarget, Plan, Service, TcpCheck, parse_layer,
};
pub use snapshot::{ContainerSnapshot, PebbleSnapshot};
pub use state::{
    Change, CheckRuntime, CheckStatus, ExecRecord, Notice, NotifyRecord, RequestRecord,
    ServiceInfo, ServiceState, ServiceStatus, SignalRecord, Status, Task,
};
pub use state::{ContainerImage, ServiceWatch, WorkloadFaults};

use exec::ExecSession;
use files::ContainerFs;
use state::ContainerState;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The longest Unix socket path (`sun_path` is 108 bytes including the terminating NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// The Pebble version the fake reports in `/v1/system-info`.
pub const DEFAULT_VERSION: &str = "v1.19.0";

/// What can go wrong running the fake Pebble.
#[derive(Debug, thiserror::Error)]
pub enum PebbleError {
    /// The socket path does not fit in `sun_path`.
    #[error(
        "Pebble socket path {path} is {len} bytes long, but a Unix socket path can be at most {max} bytes; use a shorter working directory",
        max = MAX_SOCKET_PATH
    )]
    SocketPathTooLong { path: PathBuf, len: usize },
    /// A container name that cannot be a directory name.
    #[error(
        "invalid container name {0:?}: it must be non-empty and must not contain '/' or be '.' or '..'"
    )]
    InvalidContainerName(String),
    /// The same container twice.
    #[error("container {0:?} is listed twice")]
    DuplicateContainer(String),
    /// A name that is not one of this server's containers.
    #[error("no container named {name:?} (this Pebble server has: {known})")]
    UnknownContainer { name: String, known: String },
    /// Creating a directory or file failed.
    #[error("cannot create {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// Binding the socket failed.
    #[error("cannot listen on Pebble socket {path}: {source}")]
    Bind { path: PathBuf, source: io::Error },
    /// The async runtime could not start.
    #[error("cannot start the fake Pebble's async runtime: {0}")]
    Runtime(io::Error),
    /// Reading or writing a container's filesystem for a snapshot or restart failed.
    #[error("container {container:?}: cannot {what} its filesystem at {root}: {source}")]
    Filesystem {
        container: String,
        what: &'static str,
        root: PathBuf,
        source: io::Error,
    },
    /// A snapshot taken from a server with other containers.
    #[error("snapshot is of containers [{snapshot}] but this Pebble server has [{server}]")]
    SnapshotMismatch { snapshot: String, server: String },
}

/// Settings for [`FakePebble::start_with`].
#[derive(Debug, Clone)]
pub struct PebbleConfig {
    /// How `exec` calls are answered (every container starts with these).
    pub exec: ExecAnswers,
    /// The version string reported by `/v1/system-info`.
    pub version: String,
    /// The containers' user database (by default `root`, and unknown names are created
    /// on first use).
    pub users: Users,
}

impl Default for PebbleConfig {
    fn default() -> Self {
        PebbleConfig {
            exec: ExecAnswers::default(),
            version: DEFAULT_VERSION.to_string(),
            users: Users::default(),
        }
    }
}

/// Takes a lock: the one way every `Mutex` here is locked. A poisoned lock means a thread
/// of the fake panicked while holding it, a bug in the fake, so the caller panics too.
pub(crate) trait Lock<T> {
    fn locked(&self) -> std::sync::MutexGuard<'_, T>;
}

impl<T> Lock<T> for Mutex<T> {
    fn locked(&self) -> std::sync::MutexGuard<'_, T> {
        self.lock().expect("poisoned")
    }
}

/// One container's daemon: its state, its socket, its connections.
pub(crate) struct Container {
    pub socket: PathBuf,
    pub state: Mutex<ContainerState>,
    /// Bumped whenever changes or notices move (change waiters watch it).
    pub version_tx: watch::Sender<u64>,
    /// Bumped when the container goes down: every connection and exec watching it ends.
    pub gen_tx: watch::Sender<u64>,
    /// Execs waiting for their websockets, by task id.
    pub sessions: Mutex<HashMap<String, ExecSession>>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl Container {
    /// Wakes up everyone waiting on a change or notice.
    pub fn bump(&self) {
        self.version_tx.send_modify(|v| *v += 1);
    }
}

/// The logs of one container, taken with [`FakePebble::take_logs`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerLogs {
    pub requests: Vec<RequestRecord>,
    pub execs: Vec<ExecRecord>,
    pub notifies: Vec<NotifyRecord>,
    pub signals: Vec<SignalRecord>,
}

/// Puts the image's directories and files in `fs`, leaving what is there (mounted storage
/// that outlived the container) alone.
fn put_image(fs: &mut files::ContainerFs, image: &ContainerImage) -> io::Result<()> {
    for d in &image.dirs {
        fs.put_dir(d)?;
    }
    for (path, content) in &image.files {
        if fs.get(path).is_none() {
            fs.put(path, content, 0o644)?;
        }
    }
    Ok(())
}

/// The fake Pebble server: one daemon per workload container, all served by one tokio
/// runtime that this struct owns. Dropping it (or [`FakePebble::shutdown`]) stops
/// everything and removes the sockets.
pub struct FakePebble {
    runtime: Option<tokio::runtime::Runtime>,
    dir: PathBuf,
    containers: BTreeMap<String, Arc<Container>>,
}

impl std::fmt::Debug for FakePebble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakePebble")
            .field("dir", &self.dir)
            .field("containers", &self.containers.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PebbleError + '_ {
    move |source| PebbleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl FakePebble {
    /// Starts one Pebble per container under `dir`, all reachable, answering `exec` with
    /// `exec`.
    pub fn start(
        dir: &Path,
        containers: &[String],
        exec: ExecAnswers,
    ) -> Result<FakePebble, PebbleError> {
        FakePebble::start_with(
            dir,
            containers,
            PebbleConfig {
                exec,
                ..PebbleConfig::default()
            },
        )
    }

    /// Starts one Pebble per container under `dir` with the given settings.
    pub fn start_with(
        dir: &Path,
        containers: &[String],
        config: PebbleConfig,
    ) -> Result<FakePebble, PebbleError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("charmfuzz-pebble")
            .enable_all()
            .build()
            .map_err(PebbleError::Runtime)?;
        let mut pebble = FakePebble {
            runtime: Some(runtime),
            dir: dir.to_path_buf(),
            containers: BTreeMap::new(),
        };
        for name in containers {
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                return Err(PebbleError::InvalidContainerName(name.clone()));
            }
            if pebble.containers.contains_key(name) {
                return Err(PebbleError::DuplicateContainer(name.clone()));
            }
            let sock_dir = dir.join("containers").join(name);
            let socket = sock_dir.join("pebble.socket");
            let len = socket.as_os_str().len();
            if len > MAX_SOCKET_PATH {
                return Err(PebbleError::SocketPathTooLong { path: socket, len });
            }
            std::fs::create_dir_all(&sock_dir).map_err(io_err(&sock_dir))?;
            let root = dir.join("rootfs").join(name);
            let fs = ContainerFs::new(root.clone()).map_err(io_err(&root))?;
            let mut st = ContainerState::new(name, fs, config.exec.clone(), &config.version);
            st.users = config.users.clone();
            let c = Arc::new(Container {
                socket,
                state: Mutex::new(st),
                version_tx: watch::channel(0).0,
                gen_tx: watch::channel(0).0,
                sessions: Mutex::new(HashMap::new()),
                listener: Mutex::new(None),
            });
            pebble.containers.insert(name.clone(), c.clone());
            pebble.bring_up(&c)?;
        }
        Ok(pebble)
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("runtime lives until shutdown")
    }

    fn container(&self, name: &str) -> Result<&Arc<Container>, PebbleError> {
        self.containers
            .get(name)
            .ok_or_else(|| PebbleError::UnknownContainer {
                name: name.to_string(),
                known: self
                    .containers
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    fn lock(&self, name: &str) -> Result<std::sync::MutexGuard<'_, ContainerState>, PebbleError> {
        Ok(self.container(name)?.state.locked())
    }

    fn bring_up(&self, c: &Arc<Container>) -> Result<(), PebbleError> {
        let mut listener = c.listener.locked();
        if listener.is_some() {
            return Ok(());
        }
        let _ = std::fs::remove_file(&c.socket);
        let bind_err = |source| PebbleError::Bind {
            path: c.socket.clone(),
            source,
        };
        let std_listener = std::os::unix::net::UnixListener::bind(&c.socket).map_err(bind_err)?;
        std_listener.set_nonblocking(true).map_err(bind_err)?;
        let _guard = self.rt().enter();
        let l = tokio::net::UnixListener::from_std(std_listener).map_err(bind_err)?;
        let gen_rx = c.gen_tx.subscribe();
        *listener = Some(self.rt().spawn(http::accept_loop(c.clone(), l, gen_rx)));
        c.state.locked().up = true;
        Ok(())
    }

    fn take_down(&self, c: &Arc<Container>) {
        // Removing the file first makes every new connect fail at once (ENOENT, which ops
        // reports as "socket not found … (container restarted?)").
        let _ = std::fs::remove_file(&c.socket);
        c.gen_tx.send_modify(|g| *g += 1);
        if let Some(h) = c.listener.locked().take() {
            h.abort();
        }
        c.sessions.locked().clear();
        c.state.locked().up = false;
        c.bump();
    }

    /// The container names, sorted.
    pub fn container_names(&self) -> Vec<String> {
        self.containers.keys().cloned().collect()
    }

    /// The directory everything lives under.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The socket of a container (`<dir>/containers/<name>/pebble.socket`).
    pub fn socket_path(&self, name: &str) -> Result<PathBuf, PebbleError> {
        Ok(self.container(name)?.socket.clone())
    }

    /// The host directory standing in for the container's `/`.
    pub fn root_dir(&self, name: &str) -> Result<PathBuf, PebbleError> {
        Ok(self.lock(name)?.fs.root().to_path_buf())
    }

    /// Whether the container's Pebble is reachable.
    pub fn is_up(&self, name: &str) -> Result<bool, PebbleError> {
        Ok(self.lock(name)?.up)
    }

    /// Takes the container down: the socket disappears and connections drop, so the
    /// charm's `can_connect()` is false. State is kept until [`restart`](Self::restart).
    pub fn down(&self, name: &str) -> Result<(), PebbleError> {
        let c = self.container(name)?.clone();
        self.take_down(&c);
        Ok(())
    }

    /// Brings a container back up with its state as it was (a transient outage).
    pub fn up(&self, name: &str) -> Result<(), PebbleError> {
        let c = self.container(name)?.clone();
        self.bring_up(&c)
    }

    /// Restarts a container: down, then up. With `fresh`, this is a new boot of the
    /// workload container: Pebble's state is lost (layers, plan, services, changes,
    /// checks, notices, identities; the boot id changes) and the filesystem is reset
    /// except for the persistent paths. Without `fresh`, everything is kept.
    pub fn restart(&self, name: &str, fresh: bool) -> Result<(), PebbleError> {
        let c = self.container(name)?.clone();
        self.take_down(&c);
        if fresh {
            self.new_boot(&c, name, true)?;
        }
        self.bring_up(&c)
    }

    /// A container as it is before a unit is deployed: down, with a fresh Pebble and an
    /// empty filesystem, its mounted storage emptied too (unlike a fresh restart, which is
    /// the same pod's storage outliving the container). Every input starts from this.
    pub fn renew(&self, name: &str) -> Result<(), PebbleError> {
        let c = self.container(name)?.clone();
        self.take_down(&c);
        c.state.locked().forget_story();
        self.new_boot(&c, name, false)
    }

    fn new_boot(
        &self,
        c: &Arc<Container>,
        name: &str,
        keep_storage: bool,
    ) -> Result<(), PebbleError> {
        let mut st = c.state.locked();
        st.reset_daemon();
        st.boot += 1;
        st.epoch += 1;
        let keep = if keep_storage {
            st.persistent_paths.clone()
        } else {
            Vec::new()
        };
        let root = st.fs.root().to_path_buf();
        let fs_err = |what| {
            let (container, root) = (name.to_string(), root.clone());
            move |source| PebbleError::Filesystem {
                container,
                what,
                root,
                source,
            }
        };
        st.fs.reset_keeping(&keep).map_err(fs_err("reset"))?;
        let st = &mut *st;
        put_image(&mut st.fs, &st.image).map_err(fs_err("image"))
    }

    /// What the container's workload image ships, there from its next boot on (and now,
    /// where it is not yet).
    pub fn set_image(&self, name: &str, image: ContainerImage) -> Result<(), PebbleError> {
        let mut st = self.lock(name)?;
        st.image = image;
        let st = &mut *st;
        let root = st.fs.root().to_path_buf();
        put_image(&mut st.fs, &st.image).map_err(|source| PebbleError::Filesystem {
            container: name.to_string(),
            what: "image",
            root,
            source,
        })
    }

    /// Container paths that survive a fresh restart (the container's mounted storage).
    pub fn set_persistent_paths(&self, name: &str, paths: &[String]) -> Result<(), PebbleError> {
        self.lock(name)?.persistent_paths = paths.to_vec();
        Ok(())
    }

    /// Replaces a container's scripted exec answers.
    pub fn set_exec_answers(&self, name: &str, answers: ExecAnswers) -> Result<(), PebbleError> {
        self.lock(name)?.exec_answers = answers;
        Ok(())
    }

    /// Makes starting `service` fail (`cannot start service: exited quickly with code
    /// N`, the service ends in `backoff`), or with `None` succeed again.
    pub fn set_start_failure(
        &self,
        name: &str,
        service: &str,
        exit_code: Option<i32>,
    ) -> Result<(), PebbleError> {
        let mut st = self.lock(name)?;
        match exit_code {
            Some(code) => st.start_failures.insert(service.to_string(), code),
            None => st.start_failures.remove(service),
        };
        Ok(())
    }

    /// Tells `watch` whenever a container's services change state (and now, of how
    /// they are).
    pub fn set_service_watch(&self, watch: Arc<dyn ServiceWatch>) {
        for c in self.containers.values() {
            let mut st = c.state.locked();
            st.service_watch = state::WatchSlot(Some(watch.clone()));
            st.services_moved();
        }
    }

    /// Tells the service watch how the services are now (a new worker brought new
    /// sockets).
    pub fn resend_services(&self) {
        for c in self.containers.values() {
            c.state.locked().services_moved();
        }
    }

    /// Makes the container's workload misbehave (`change` sets the faults), until its
    /// Pebble restarts.
    pub fn set_faults(
        &self,
        name: &str,
        change: impl FnOnce(&mut WorkloadFaults),
    ) -> Result<(), PebbleError> {
        let mut st = self.lock(name)?;
        change(&mut st.faults);
        st.services_moved();
        Ok(())
    }

    /// Sets a service's state from outside, as when the workload crashes (`Backoff` or
    /// `Exited`) or is started by hand. Returns false if the plan has no such service.
    pub fn set_service_state(
        &self,
        name: &str,
        service: &str,
        state: ServiceState,
    ) -> Result<bool, PebbleError> {
        let mut st = self.lock(name)?;
        let Some(cfg) = st.plan.services.get(service).cloned() else {
            return Ok(false);
        };
        st.set_service_state(service, state, cfg, Timestamp::now());
        Ok(true)
    }

    /// A health check fails past its threshold: status `down`, its `perform-check` change
    /// errors with `message`, a `recover-check` change starts (what Juju turns into
    /// `<container>-pebble-check-failed`). Returns false if no such running check.
    pub fn fail_check(&self, name: &str, check: &str, message: &str) -> Result<bool, PebbleError> {
        let c = self.container(name)?;
        let ok = c.state.locked().fail_check(check, message);
        c.bump();
        Ok(ok)
    }

    /// A failing health check passes again (`up`, a new `perform-check` change).
    pub fn recover_check(&self, name: &str, check: &str) -> Result<bool, PebbleError> {
        let c = self.container(name)?;
        let ok = c.state.locked().recover_check(check);
        c.bump();
        Ok(ok)
    }

    /// The workload records a custom notice (as `pebble notify` would), which Juju turns
    /// into `<container>-pebble-custom-notice`. Returns the notice id.
    pub fn add_workload_notice(
        &self,
        name: &str,
        key: &str,
        data: BTreeMap<String, String>,
    ) -> Result<String, PebbleError> {
        let c = self.container(name)?;
        let id =
            c.state
                .locked()
                .add_notice_at(Some(0), "custom", key, data, None, Timestamp::now());
        c.bump();
        Ok(id)
    }

    /// Writes a file into the container's filesystem directly (as the image would have
    /// it), creating parent directories.
    pub fn put_file(
        &self,
        name: &str,
        path: &str,
        content: &[u8],
        mode: u32,
    ) -> Result<(), PebbleError> {
        let mut st = self.lock(name)?;
        let root = st.fs.root().to_path_buf();
        st.fs
            .put(path, content, mode)
            .map_err(|source| PebbleError::Filesystem {
                container: name.to_string(),
                what: "write",
                root,
                source,
            })
    }

    // ---- inspection ------------------------------------------------------------------

    /// The combined plan.
    pub fn plan(&self, name: &str) -> Result<Plan, PebbleError> {
        Ok(self.lock(name)?.plan.clone())
    }

    /// The plan as `GET /v1/plan?format=yaml` returns it.
    pub fn plan_yaml(&self, name: &str) -> Result<String, PebbleError> {
        Ok(self.lock(name)?.plan.to_yaml())
    }

    /// The names of the checks in the combined plan (without copying the plan: the
    /// harness asks after every event).
    pub fn check_names(&self, name: &str) -> Result<Vec<String>, PebbleError> {
        Ok(self.lock(name)?.plan.checks.keys().cloned().collect())
    }

    /// The services running now.
    pub fn running_services(&self, name: &str) -> Result<BTreeSet<String>, PebbleError> {
        let st = self.lock(name)?;
        Ok((st.services.iter())
            .filter(|(_, r)| r.state == ServiceState::Running)
            .map(|(n, _)| n.clone())
            .collect())
    }

    /// Every service in the plan and its status.
    pub fn services(&self, name: &str) -> Result<Vec<ServiceInfo>, PebbleError> {
        Ok(self.lock(name)?.service_infos(&[]))
    }

    /// Every change, oldest first.
    pub fn changes(&self, name: &str) -> Result<Vec<Change>, PebbleError> {
        Ok(self.lock(name)?.changes.clone())
    }

    /// Every health check and its status.
    pub fn checks(&self, name: &str) -> Result<Vec<CheckRuntime>, PebbleError> {
        Ok(self.lock(name)?.checks.values().cloned().collect())
    }

    /// Every notice (custom and `change-update`), by last-repeated time.
    pub fn notices(&self, name: &str) -> Result<Vec<Notice>, PebbleError> {
        Ok(self
            .lock(name)?
            .sorted_notices()
            .into_iter()
            .cloned()
            .collect())
    }

    /// The identities (passwords included).
    pub fn identities(
        &self,
        name: &str,
    ) -> Result<BTreeMap<String, serde_json::Value>, PebbleError> {
        Ok(self.lock(name)?.identities.clone())
    }

    /// The notices the charm added with `notify`, in order.
    pub fn notify_log(&self, name: &str) -> Result<Vec<NotifyRecord>, PebbleError> {
        Ok(self.lock(name)?.notify_log.clone())
    }

    /// The commands refused for want of a scripted answer since the last call (taken).
    pub fn take_unanswered(&self, name: &str) -> Result<Vec<Vec<String>>, PebbleError> {
        Ok(std::mem::take(&mut self.lock(name)?.unanswered))
    }

    /// Directories the charm's writes expected in the container and did not find since
    /// the last call (taken): the workload image would have shipped them.
    pub fn take_missing_dirs(&self, name: &str) -> Result<Vec<String>, PebbleError> {
        Ok(self.lock(name)?.fs.take_missing_dirs())
    }

    /// Every exec the charm ran or tried to run, in order.
    pub fn exec_log(&self, name: &str) -> Result<Vec<ExecRecord>, PebbleError> {
        Ok(self.lock(name)?.exec_log.clone())
    }

    /// Every request the charm made, in order.
    pub fn request_log(&self, name: &str) -> Result<Vec<RequestRecord>, PebbleError> {
        Ok(self.lock(name)?.request_log.clone())
    }

    /// Every `send_signal` the charm made, in order.
    pub fn signal_log(&self, name: &str) -> Result<Vec<SignalRecord>, PebbleError> {
        Ok(self.lock(name)?.signal_log.clone())
    }

    /// Takes (and clears) all logs of a container, e.g. after each event.
    pub fn take_logs(&self, name: &str) -> Result<ContainerLogs, PebbleError> {
        let mut st = self.lock(name)?;
        Ok(ContainerLogs {
            requests: std::mem::take(&mut st.request_log),
            execs: std::mem::take(&mut st.exec_log),
            notifies: std::mem::take(&mut st.notify_log),
            signals: std::mem::take(&mut st.signal_log),
        })
    }

    /// A file's content in the container, if it is a readable regular file.
    pub fn file(&self, name: &str, path: &str) -> Result<Option<Vec<u8>>, PebbleError> {
        Ok(self.lock(name)?.fs.get(path))
    }

    /// Every file and directory in the container.
    pub fn files(&self, name: &str) -> Result<FsImage, PebbleError> {
        let st = self.lock(name)?;
        let root = st.fs.root().to_path_buf();
        st.fs.walk().map_err(|source| PebbleError::Filesystem {
            container: name.to_string(),
            what: "read",
            root,
            source,
        })
    }

    /// Stops every container and the runtime, and removes the sockets.
    pub fn shutdown(mut self) {
        self.shutdown_inner();
    }

    fn shutdown_inner(&mut self) {
        let Some(rt) = self.runtime.take() else {
            return;
        };
        for c in self.containers.values() {
            let _ = std::fs::remove_file(&c.socket);
            c.gen_tx.send_modify(|g| *g += 1);
            if let Some(h) = c.listener.locked().take() {
                h.abort();
            }
            c.sessions.locked().clear();
            c.state.locked().up = false;
        }
        rt.shutdown_timeout(Duration::from_secs(2));
    }
}

impl Drop for FakePebble {
    fn drop(&mut self) {
        self.shutdown_inner();
    }
}
