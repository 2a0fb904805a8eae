//! The worker process: the fork server the charm's hooks run in, started inside the
//! sandbox with the environment a unit's charm gets and the limits charmfuzz sets.

use super::embedded::{CLOCK_PY, WORKER_PY};
use super::{Target, TargetError, io};
use crate::spec::Substrate;
use crate::target::cgroup::ProcessLimit;
use crate::target::config::Mode;
use crate::target::hooktools::TOOLS;
use crate::target::worker::{Hello, KubeHello, Worker};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

impl Target {
    /// (Re)start the worker: the Python fork server, inside the sandbox, that imports the
    /// charm once and forks a child for every hook.
    pub(super) fn start_worker(&mut self) -> Result<(), TargetError> {
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
        let hello = self.hello();
        let cmd = self.worker_command(script);
        let w = Worker::start(
            cmd,
            &hello,
            &self.sandbox.root().join("worker.log"),
            Duration::from_secs(120),
        )?;
        self.worker = Some(w);
        self.adopt_worker_sockets()?;
        self.worker_starts += 1;
        self.idle_processes = self.processes.as_ref().map_or(0, ProcessLimit::current);
        Ok(())
    }

    /// What the worker is told at start-up: where the charm is, how to import it, and
    /// what to measure.
    fn hello(&self) -> Hello {
        let charm_dir = self.sandbox.charm_dir();
        Hello {
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
                host: crate::target::kube::LISTEN_HOST.to_string(),
                port: crate::target::kube::LISTEN_PORT,
                handoff: self.sandbox.root().join("kube-handoff.sock"),
                workload_ports: (self.workload_http.as_ref())
                    .map(|h| h.port_numbers())
                    .unwrap_or_default(),
            }),
        }
    }

    /// The worker's command line, in the sandbox, with a clean environment and the
    /// charm's limits.
    fn worker_command(&self, script: PathBuf) -> Command {
        let charm_dir = self.sandbox.charm_dir();
        let mut cmd = self.sandbox.command(
            &[self.python.clone(), "-u".into(), script],
            &unit_hostname(&self.charm.spec),
        );
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
        cmd
    }

    /// Serve the Kubernetes API and the workload's ports on the sockets the worker
    /// opened inside the walls.
    fn adopt_worker_sockets(&mut self) -> Result<(), TargetError> {
        if let Some((api, handoff)) = &mut self.kube {
            // The worker handed its sockets over before it said it was ready: the API's,
            // then the workload's ports.
            let mut sockets = crate::target::kube::receive_sockets(
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
        Ok(())
    }

    /// Wait until what the last hook left running is gone and reaped. The worker kills it
    /// after each hook, but a killed process counts against the ceiling until its parent
    /// (bubblewrap's init, or the host's) reaps it; the next hook must not find the
    /// ceiling full of the last one's processes.
    pub(super) fn settle_processes(&self) {
        let Some(p) = &self.processes else { return };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while p.current() > self.idle_processes && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The charm's PATH: the hook tools first (as Juju does), then the interpreter's own
    /// directory (so a source tree's `dispatch` finds a `python3` with `ops`), then the
    /// system.
    pub(super) fn path_var(&self) -> String {
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

    /// What Kubernetes puts in every container's environment ([`crate::target::pod`]), for a
    /// Kubernetes charm inside the walls.
    pub(super) fn pod_env(&self) -> Vec<(&'static str, &'static str)> {
        if self.charm.spec.substrate == Substrate::Kubernetes && self.sandbox.contained() {
            crate::target::pod::env().to_vec()
        } else {
            Vec::new()
        }
    }
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

/// The unit's hostname: its pod's name on Kubernetes (`<app>-0`), and the same on a
/// machine, whose `uname -n` says it too.
pub(super) fn unit_hostname(spec: &crate::spec::CharmSpec) -> String {
    spec.name.replace('_', "-") + "-0"
}
