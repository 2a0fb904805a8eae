//! A fake Ubuntu machine, for machine charms.
//!
//! A machine charm drives the machine it is deployed on: it installs its workload as a
//! snap (`snap install charmed-kafka --channel 3/stable`) or a Debian package (`apt-get
//! install tinyproxy`), configures it (`snap set`, files under `/etc`), starts and stops
//! its services (`snap start`, `systemctl restart`), and asks what is there (`snap list`,
//! `dpkg -l`, `systemctl is-active`). It does that through the snap charm libraries
//! (`charms.operator_libs_linux.v2.snap`, `charmlibs.snap`), which talk to snapd's REST
//! API on `/run/snapd.socket` and run the `snap` command; through the apt and systemd
//! libraries, which run `apt-get`, `apt-cache`, `dpkg` and `systemctl`; and directly.
//!
//! [`FakeHost`] is that machine's package and service managers with one shared state
//! ([`HostState`]): a snap installed by a POST to `/v2/snaps/<name>` is in `snap list`,
//! its services are systemd units that `systemctl is-active` reports, and a package
//! installed by `apt-get` is in `dpkg -l` and `apt-cache policy`. Every answer is
//! shaped as the real program's, because the libraries parse them.
//!
//! - [`snap`]: snapd's model (installed snaps, revisions and channels, their apps and
//!   services, configuration, connections, aliases, refresh holds, changes), the `snap`
//!   command ([`snap::cli`]) and the REST API ([`snap::api`], served over HTTP by
//!   [`FakeHost::serve_snapd`]).
//! - [`systemd`]: units with an active and an enablement state (`systemctl`, `service`);
//!   kernel parameters (`sysctl`) and apt's sources (`add-apt-repository`) beside them.
//! - [`apt`]: the package database (`apt-get`, `apt`, `apt-cache`, `dpkg`,
//!   `dpkg-query`).
//! - [`config::HostConfig`]: what the store and the archive hold, where a charm needs
//!   more than the defaults (a snap's services, a package's version, the commands a
//!   package brings and what they print).
//!
//! **The store and the archive have everything.** A charm may install any snap or
//! package name: it gets a revision and a version derived from the name and channel
//! (the same every time), and a service named in `snap start` or `systemctl start` is
//! taken to exist. What the configuration says wins. This is the stance the fake Pebble
//! takes for an exec nothing scripted: a charm is not failed for what the harness cannot
//! know, and the host's answers stay consistent with what the charm did.
//!
//! **Files.** Snaps get the directories a Juju machine has for them (`/snap/<name>/
//! current`, `/var/snap/<name>/common` and `current`), and users the installs create
//! (`snap_daemon`) go into `/etc/passwd` and `/etc/group`. The host writes them through
//! [`HostFs`], which says where the harness finds a path of the machine (a sandbox's
//! throwaway layer); the fake never touches the real machine's files.
//!
//! **Faults.** [`HostFaults`] makes a refresh fail or be held by the store, an install
//! fail, the disk fill; [`FakeHost::fail_service`] kills a service: what real machines do
//! to charms.

pub mod apt;
pub mod args;
pub mod config;
pub mod files;
mod http;
pub mod snap;
pub mod state;
mod system;
pub mod systemd;

pub use config::{HostConfig, HostConfigError};
pub use files::HostFs;
pub use state::{HostCall, HostFaults, HostState, Output};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// The fake's errors (its answers to the charm are [`Output`]s, never these).
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot start the fake snapd's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot serve snapd's API on {path}: {source}")]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The programs the host answers, besides the commands installed packages and snaps
/// bring ([`FakeHost::commands`]).
pub const PROGRAMS: &[&str] = &[
    "snap",
    "systemctl",
    "service",
    "apt-get",
    "apt",
    "apt-cache",
    "dpkg",
    "dpkg-query",
    "sysctl",
    "add-apt-repository",
    "uname",
];

/// What the machine is, shared by the command answers and the snapd server.
pub(crate) struct Shared {
    pub(crate) state: Mutex<HostState>,
    pub(crate) config: HostConfig,
    pub(crate) fs: Box<dyn HostFs>,
}

impl Shared {
    /// After a change to the machine: the files running services make.
    pub(crate) fn settle(&self, st: &HostState) {
        files::sync_running_files(self.fs.as_ref(), st, &self.config);
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, HostState> {
        // A panic while holding the lock leaves a state that is still whole (every change
        // is made in one go), so a poisoned lock is taken as it is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One machine: its state, its configuration, and (once [`FakeHost::serve_snapd`] is
/// called) snapd's API on a Unix socket.
pub struct FakeHost {
    shared: Arc<Shared>,
    snapd: Option<http::Server>,
}

impl std::fmt::Debug for FakeHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeHost")
            .field("snapd", &self.snapd.as_ref().map(|s| s.socket.clone()))
            .finish()
    }
}

impl FakeHost {
    /// A fresh machine (nothing installed but what `config` preinstalls), writing its
    /// files through `fs`.
    pub fn new(config: HostConfig, fs: impl HostFs + 'static) -> FakeHost {
        let state = HostState::fresh(&config);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            config,
            fs: Box::new(fs),
        });
        FakeHost {
            shared,
            snapd: None,
        }
    }

    /// Serve snapd's REST API on `socket` (a path the charm sees as `/run/snapd.socket`).
    pub fn serve_snapd(&mut self, socket: &Path) -> Result<(), HostError> {
        self.snapd = Some(http::Server::start(self.shared.clone(), socket)?);
        Ok(())
    }

    /// Whether the host answers `program` now: a package or service manager, or a
    /// command an installed package or snap brought.
    pub fn answers(&self, program: &str) -> bool {
        PROGRAMS.contains(&program) || self.shared.lock().has_command(&self.shared.config, program)
    }

    /// The commands installed packages and snaps bring now (`tinyproxy`,
    /// `charmed-kafka.topics`), for the harness to put on `PATH`.
    pub fn commands(&self) -> Vec<String> {
        self.shared.lock().commands(&self.shared.config)
    }

    /// Every command a package or snap in the configuration could bring: what the
    /// harness links once, so that the links need not change while a hook runs.
    pub fn possible_commands(&self) -> Vec<String> {
        self.shared.config.possible_commands()
    }

    /// Run `program args` on the machine.
    pub fn run(&self, program: &str, args: &[String], stdin: &[u8]) -> Output {
        let _ = stdin;
        let shared = &*self.shared;
        let mut st = shared.lock();
        let out = match program {
            "snap" => snap::cli::run(&mut st, shared, args),
            "systemctl" => systemd::systemctl(&mut st, args),
            "service" => systemd::service(&mut st, args),
            "apt-get" | "apt" => apt::apt_get(&mut st, shared, program, args),
            "apt-cache" => apt::apt_cache(&st, &shared.config, args),
            "dpkg" => apt::dpkg(&st, &shared.config, args),
            "dpkg-query" => apt::dpkg_query(&st, args),
            "sysctl" => system::sysctl(&mut st, shared, args),
            "add-apt-repository" => system::add_apt_repository(shared, args),
            "uname" => system::uname(&shared.config, args),
            other => st.run_command(&shared.config, other, args),
        };
        st.calls.push(HostCall {
            program: program.to_string(),
            args: args.to_vec(),
            code: out.code,
            stdout: out.stdout.clone(),
        });
        shared.settle(&st);
        out
    }

    /// The machine's state now.
    pub fn state(&self) -> HostState {
        self.shared.lock().clone()
    }

    /// Back to a fresh machine.
    pub fn reset(&self) {
        *self.shared.lock() = HostState::fresh(&self.shared.config);
    }

    /// The state, to come back to with [`FakeHost::restore`].
    pub fn snapshot(&self) -> HostState {
        self.state()
    }

    /// Put the machine back as `snapshot` was (its files are the harness's to restore).
    pub fn restore(&self, snapshot: &HostState) {
        *self.shared.lock() = snapshot.clone();
    }

    /// The calls made since the last time, commands and snapd requests alike.
    pub fn take_calls(&self) -> Vec<HostCall> {
        std::mem::take(&mut self.shared.lock().calls)
    }

    /// Change what the machine will do wrong from now on.
    pub fn set_faults(&self, change: impl FnOnce(&mut HostFaults)) {
        change(&mut self.shared.lock().faults);
    }

    /// The machine reboots: every service comes back as systemd's enablement says.
    pub fn reboot(&self) {
        let mut st = self.shared.lock();
        st.reboot();
        self.shared.settle(&st);
    }

    /// The snaps installed and the systemd units active now, by name: what the harness
    /// reports after each hook (without copying the rest of the state).
    pub fn snaps_and_services(&self) -> (Vec<String>, Vec<String>) {
        let st = self.shared.lock();
        (st.snaps.keys().cloned().collect(), st.active_services())
    }

    /// The running service `unit` dies; false when it was not running.
    pub fn fail_service(&self, unit: &str) -> bool {
        let mut st = self.shared.lock();
        let failed = st.fail_service(unit);
        self.shared.settle(&st);
        failed
    }
}
