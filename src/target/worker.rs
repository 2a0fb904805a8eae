//! The harness side of the fork server (`python/worker.py`).
//!
//! The worker is a long-lived process of the charm's own Python that has already imported
//! `ops` and the charm's imports; for each hook it forks a child that runs the charm's
//! entry point (fork mode) or `exec`s the charm's `dispatch` (exec mode). While the child
//! runs, the harness answers its hook tools: it listens on the unit agent's socket and
//! serves every connection — the worker's in-process fast path and the `jujuc`
//! executables alike — until the worker reports that the child has ended.
//!
//! Everything is one thread and one `poll(2)`: the control pipe, the agent's listening
//! socket and its connections. Hooks are serialised, exactly as Juju serialises them for a
//! unit, so nothing here needs locks.

use super::agent::{ToolRequest, ToolResponse, read_frame, write_frame};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// Why the harness could not run a hook. None of these is a finding in the charm, save
/// [`WorkerError::KilledInHook`], which the target reports as one.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot start the Python worker ({program}): {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("the Python worker could not set up the charm: {message}\n{detail}")]
    Setup { message: String, detail: String },
    #[error("the Python worker died ({status}); its log ends with:\n{log_tail}")]
    Died { status: String, log_tail: String },
    /// The worker died while a hook ran. It only waits then, so the hook (or something
    /// it started) killed it: the charm's doing, which the target turns into a finding.
    #[error("the Python worker was killed while the hook ran ({status})")]
    KilledInHook {
        status: String,
        signal: i32,
        /// The hook's process (its group leader), as the worker saw it: in the worker's
        /// PID namespace when contained.
        hook_pid: Option<i32>,
    },
    #[error("the Python worker did not answer within {0:?}")]
    Unresponsive(Duration),
    #[error("talking to the Python worker: {0}")]
    Io(#[from] std::io::Error),
    #[error("the Python worker sent something unexpected: {0}")]
    Protocol(String),
}

impl WorkerError {
    /// The worker process is gone (it exited, or its control pipe closed under us).
    pub fn is_exit(&self) -> bool {
        matches!(self, WorkerError::Died { .. } | WorkerError::Io(_))
            || matches!(self, WorkerError::Protocol(m) if m.contains("closed"))
    }

    /// The worker is gone or no longer answers: start a new one.
    pub fn is_death(&self) -> bool {
        self.is_exit() || matches!(self, WorkerError::Unresponsive(_))
    }
}

/// What the worker reports once it is ready.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// How coverage is collected (`monitoring` on Python 3.12+, `settrace` before), if it is.
    #[serde(default)]
    pub coverage: Option<String>,
    pub python: String,
    pub ops: String,
    /// The modules whose `subprocess` now answers hook tools in-process.
    pub intercepted: Vec<String>,
    /// The charm's imports that failed at start-up (each child will fail the same way).
    pub prewarm_failed: Vec<String>,
    /// Charm libraries (`charms.<lib>.vN.<module>`) the charm imports and could not: its
    /// repository does not ship them (`charmcraft fetch-lib` adds them at pack time).
    #[serde(default)]
    pub missing_libs: Vec<String>,
    pub pid: u32,
}

/// Where the worker makes the Kubernetes API's listening socket, and where it sends it.
#[derive(Debug, Clone, Serialize)]
pub struct KubeHello {
    pub host: String,
    pub port: u16,
    /// The Unix socket to send the listening socket on.
    pub handoff: PathBuf,
    /// The loopback ports the workload serves ([`super::workload_http`]): each bound in
    /// the namespace and sent after the API's socket, not listening.
    pub workload_ports: Vec<u16>,
}

/// The start-up message: where the charm is and how to reach the agent.
#[derive(Debug, Clone, Serialize)]
pub struct Hello {
    pub charm_dir: PathBuf,
    /// The charm's entry point (`src/charm.py`), absolute.
    pub entry: PathBuf,
    /// Prepended to `sys.path`, as the charm's `dispatch` sets `PYTHONPATH`.
    pub sys_path: Vec<PathBuf>,
    pub agent_socket: PathBuf,
    pub tools_dir: PathBuf,
    pub tools: Vec<String>,
    /// Where the Pebble sockets really are, when they are not mounted at
    /// `/charm/containers` (the worker then rewrites the path ops asks for).
    pub containers_dir: Option<PathBuf>,
    pub split_charmcraft: bool,
    pub prewarm: bool,
    /// The worker runs in its own PID namespace: after each hook it may kill every other
    /// process in it.
    pub pid_namespace: bool,
    /// Where to record the charm's coverage, if anywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<CoverageSpec>,
    /// Developer aid: write a cProfile of every hook to `<profile>.<pid>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<PathBuf>,
    /// Record which lines of the charm each hook runs ([`crate::line_coverage`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<LinesSpec>,
    /// Listen for the Kubernetes API in the worker's network namespace and hand the socket
    /// over ([`super::kube`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube: Option<KubeHello>,
}

/// Which files line coverage follows: those under `include` (the charm's `src/` and
/// `lib/`), not under `exclude`, reported relative to `root` (the charm directory).
#[derive(Debug, Clone, Serialize)]
pub struct LinesSpec {
    pub root: PathBuf,
    pub include: Vec<PathBuf>,
    pub exclude: Vec<PathBuf>,
}

/// The shared coverage bitmap, as the worker maps it (see [`super::coverage`]).
#[derive(Debug, Clone, Serialize)]
pub struct CoverageSpec {
    /// The inherited memfd.
    pub fd: i32,
    /// Its whole size, and the region the worker writes (`offset`, `len`).
    pub size: usize,
    pub offset: usize,
    pub len: usize,
    /// Directories whose files are measured (`<ops>` stands for the ops package).
    pub include: Vec<PathBuf>,
    pub exclude: Vec<PathBuf>,
}

/// One hook for the worker to run.
#[derive(Debug, Clone, Serialize)]
pub struct RunRequest {
    /// The child's whole environment.
    pub env: Map<String, Value>,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    /// Seconds before the child's process group is killed.
    pub timeout: f64,
    /// With line coverage on: where the child writes the lines it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<PathBuf>,
    /// Exec mode: the argv to `exec` instead of running the entry point in the fork.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<Vec<String>>,
    /// Read StoredState and deferred notices from the unit state afterwards.
    pub want_state: bool,
    /// Fork mode: where the child notes what it asked of the machine and did not find
    /// (`_StandIns` in worker.py; one JSON [`super::Lack`] per line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stand_ins: Option<PathBuf>,
    /// Fork mode with virtual time: the clock the charm's process runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockRequest>,
}

/// The virtual clock a hook's process starts on ([`super::clock`]).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ClockRequest {
    /// "Now", in nanoseconds since the Unix epoch.
    pub now_ns: i64,
    /// When the input started: `time.monotonic()` counts from it.
    pub start_ns: i64,
}

/// How the child ended, as the worker saw it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExitReport {
    pub seconds: f64,
    #[serde(default)]
    pub timed_out: bool,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    #[serde(default)]
    pub max_rss_kib: u64,
    /// Bytes the hook wrote to stdout and stderr, and how many of each the worker kept
    /// (the tail; a hook may print without bound).
    #[serde(default)]
    pub stdout_bytes: u64,
    #[serde(default)]
    pub stderr_bytes: u64,
    #[serde(default)]
    pub output_kept: u64,
    #[serde(default)]
    pub stored: Map<String, Value>,
    #[serde(default)]
    pub deferred: Vec<Value>,
    /// The last time the hook's virtual clock read, if it ran on one.
    #[serde(default)]
    pub clock_ns: Option<i64>,
}

/// A running worker process.
pub struct Worker {
    child: Child,
    stdin: ChildStdin,
    control: ChildStdout,
    pending: Vec<u8>,
    log: PathBuf,
    pub info: WorkerInfo,
}

impl Worker {
    /// Start `cmd` (the charm's interpreter running `worker.py`, possibly inside a
    /// sandbox), send it `hello`, and wait until it has imported the charm.
    pub fn start(
        mut cmd: Command,
        hello: &Hello,
        log: &Path,
        startup: Duration,
    ) -> Result<Worker, WorkerError> {
        let program = format!("{:?}", cmd.get_program());
        let log_file = std::fs::File::create(log)?;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        let mut child = cmd
            .spawn()
            .map_err(|source| WorkerError::Spawn { program, source })?;
        let stdin = child.stdin.take().expect("piped");
        let control = child.stdout.take().expect("piped");
        let mut w = Worker {
            child,
            stdin,
            control,
            pending: Vec::new(),
            log: log.to_path_buf(),
            info: WorkerInfo::default(),
        };
        w.send(&serde_json::to_value(hello).expect("serialisable"))?;
        let deadline = Instant::now() + startup;
        let msg = w.recv(deadline)?;
        match msg.get("op").and_then(Value::as_str) {
            Some("ready") => {
                w.info = serde_json::from_value(msg)
                    .map_err(|e| WorkerError::Protocol(e.to_string()))?;
                Ok(w)
            }
            Some("error") => Err(WorkerError::Setup {
                message: str_field(&msg, "message"),
                detail: str_field(&msg, "traceback"),
            }),
            _ => Err(WorkerError::Protocol(msg.to_string())),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn send(&mut self, msg: &Value) -> Result<(), WorkerError> {
        let mut line = serde_json::to_vec(msg).expect("serialisable");
        line.push(b'\n');
        if let Err(e) = self.stdin.write_all(&line).and_then(|_| self.stdin.flush()) {
            return Err(self.died_or(e.into()));
        }
        Ok(())
    }

    /// Wait for one control message (blocking on the pipe, bounded by `deadline`).
    fn recv(&mut self, deadline: Instant) -> Result<Value, WorkerError> {
        loop {
            if let Some(msg) = self.try_line()? {
                return Ok(msg);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(WorkerError::Unresponsive(left));
            }
            let mut fds = [PollFd::new(&self.control, PollFlags::IN)];
            poll(&mut fds, Some(&timespec(left))).map_err(std::io::Error::from)?;
            if !fds[0].revents().is_empty() {
                self.fill()?;
            }
        }
    }

    /// A complete line already read, if any.
    fn try_line(&mut self) -> Result<Option<Value>, WorkerError> {
        if let Some(pos) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=pos).collect();
            let line = &line[..pos];
            return serde_json::from_slice(line).map(Some).map_err(|e| {
                WorkerError::Protocol(format!("{e}: {}", String::from_utf8_lossy(line)))
            });
        }
        Ok(None)
    }

    /// Read more from the control pipe (it is readable). EOF means the worker died.
    fn fill(&mut self) -> Result<(), WorkerError> {
        let mut buf = [0u8; 65536];
        let n = match self.control.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(self.died_or(e.into())),
        };
        if n == 0 {
            return Err(self.died_or(WorkerError::Protocol("control pipe closed".into())));
        }
        self.pending.extend_from_slice(&buf[..n]);
        Ok(())
    }

    /// Run one hook: ask the worker to fork it, answer every hook-tool call that arrives
    /// on `listener` with `serve` while it runs, and return how it ended. The worker
    /// enforces `req.timeout`; if it is itself silent for `grace` beyond that, it is
    /// considered dead.
    pub fn run_hook(
        &mut self,
        req: &RunRequest,
        listener: &UnixListener,
        grace: Duration,
        serve: &mut dyn FnMut(ToolRequest) -> ToolResponse,
    ) -> Result<ExitReport, WorkerError> {
        let mut msg = serde_json::to_value(req).expect("serialisable");
        msg["op"] = json!("run");
        self.send(&msg)?;
        let deadline = Instant::now() + Duration::from_secs_f64(req.timeout) + grace;
        let mut conns: Vec<UnixStream> = Vec::new();
        let mut started: Option<Option<i32>> = None;
        let outcome = loop {
            let line = match self.try_line() {
                Ok(line) => line,
                Err(e) => return Err(self.in_hook(e, started)),
            };
            if let Some(msg) = line {
                match msg.get("op").and_then(Value::as_str) {
                    Some("started") => {
                        let pid = msg.get("pid").and_then(Value::as_i64);
                        started = Some(pid.and_then(|p| i32::try_from(p).ok()));
                        continue;
                    }
                    Some("exited") => {
                        break serde_json::from_value::<ExitReport>(msg)
                            .map_err(|e| WorkerError::Protocol(e.to_string()))?;
                    }
                    _ => return Err(WorkerError::Protocol(msg.to_string())),
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(WorkerError::Unresponsive(
                    Duration::from_secs_f64(req.timeout) + grace,
                ));
            }
            let (ctl_ready, listen_ready, ready_conns) = {
                let mut fds = Vec::with_capacity(2 + conns.len());
                fds.push(PollFd::new(&self.control, PollFlags::IN));
                fds.push(PollFd::new(listener, PollFlags::IN));
                for c in &conns {
                    fds.push(PollFd::from_borrowed_fd(c.as_fd(), PollFlags::IN));
                }
                match poll(&mut fds, Some(&timespec(left))) {
                    Ok(_) => {}
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(std::io::Error::from(e).into()),
                }
                let ready: Vec<usize> = (0..conns.len())
                    .filter(|i| !fds[2 + i].revents().is_empty())
                    .collect();
                (
                    !fds[0].revents().is_empty(),
                    !fds[1].revents().is_empty(),
                    ready,
                )
            };
            // Serve connections before reading the control pipe: a child that wrote a
            // request and then died leaves both readable.
            let mut closed = Vec::new();
            for i in ready_conns {
                match read_frame::<ToolRequest>(&mut conns[i]) {
                    Ok(Some(tool_req)) => {
                        let resp = serve(tool_req);
                        if write_frame(&mut conns[i], &resp).is_err() {
                            closed.push(i);
                        }
                    }
                    _ => closed.push(i),
                }
            }
            for i in closed.into_iter().rev() {
                conns.swap_remove(i);
            }
            if listen_ready {
                while let Ok((conn, _)) = listener.accept() {
                    conn.set_nonblocking(false)?;
                    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
                    conns.push(conn);
                }
            }
            if ctl_ready {
                if let Err(e) = self.fill() {
                    return Err(self.in_hook(e, started));
                }
            }
        };
        Ok(outcome)
    }

    /// The worker's death while a hook was running (`started`, with the hook's pid) is the
    /// hook's doing: the worker only waits for the child then. Anything else is passed on
    /// as it is.
    fn in_hook(&mut self, e: WorkerError, started: Option<Option<i32>>) -> WorkerError {
        let Some(hook_pid) = started.filter(|_| e.is_exit()) else {
            return e;
        };
        // bubblewrap leaves once its namespace is empty, which takes a moment.
        let deadline = Instant::now() + Duration::from_secs(2);
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                _ => break None,
            }
        };
        let Some(status) = status else {
            return e;
        };
        use std::os::unix::process::ExitStatusExt;
        // Uncontained, the worker is the child; contained, bwrap reports its child's
        // signal as 128 + the signal.
        let signal = status
            .signal()
            .or_else(|| status.code().filter(|c| *c > 128).map(|c| c - 128))
            .unwrap_or(libc::SIGKILL);
        WorkerError::KilledInHook {
            status: status.to_string(),
            signal,
            hook_pid,
        }
    }

    /// Ask for StoredState and deferred notices now (exec mode reads them this way).
    pub fn read_state(&mut self) -> Result<(Map<String, Value>, Vec<Value>), WorkerError> {
        self.send(&json!({"op": "state"}))?;
        let msg = self.recv(Instant::now() + Duration::from_secs(30))?;
        let stored = msg
            .get("stored")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let deferred = msg
            .get("deferred")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok((stored, deferred))
    }

    /// Read ops' unit state as Python literals, for a reproducer's State.
    pub fn read_scene(&mut self) -> Result<crate::repro::UnitState, WorkerError> {
        self.send(&json!({"op": "scene"}))?;
        let msg = self.recv(Instant::now() + Duration::from_secs(30))?;
        if msg.get("op").and_then(Value::as_str) == Some("error") {
            return Err(WorkerError::Protocol(
                msg.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("reading the unit state failed")
                    .to_string(),
            ));
        }
        serde_json::from_value(msg).map_err(|e| WorkerError::Protocol(e.to_string()))
    }

    /// Every followed file's executable lines (line coverage must be on), by path
    /// relative to the charm.
    pub fn executable_lines(
        &mut self,
    ) -> Result<std::collections::BTreeMap<String, Vec<u32>>, WorkerError> {
        self.send(&json!({"op": "lines"}))?;
        let msg = self.recv(Instant::now() + Duration::from_secs(60))?;
        if msg.get("op").and_then(Value::as_str) != Some("lines") {
            return Err(WorkerError::Protocol(
                msg.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("listing the charm's lines failed")
                    .to_string(),
            ));
        }
        serde_json::from_value(msg.get("executable").cloned().unwrap_or_default())
            .map_err(|e| WorkerError::Protocol(e.to_string()))
    }

    /// Stop the worker (and, with it, anything of the charm's still running).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The worker has exited: report that rather than `fallback`.
    fn died_or(&mut self, fallback: WorkerError) -> WorkerError {
        std::thread::sleep(Duration::from_millis(5));
        match self.child.try_wait() {
            Ok(Some(status)) => WorkerError::Died {
                status: status.to_string(),
                log_tail: tail_of_file(&self.log, 2000),
            },
            _ => fallback,
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

fn str_field(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

fn timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: d.as_secs() as _,
        tv_nsec: d.subsec_nanos() as _,
    }
}

/// The last `n` bytes of a file, lossily decoded (for error messages and outcomes). Only
/// those bytes are read: a hook may have printed a gigabyte.
pub fn tail_of_file(path: &Path, n: usize) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let read = || -> std::io::Result<Vec<u8>> {
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(n as u64)))?;
        let mut data = Vec::with_capacity(n.min(len as usize));
        f.take(n as u64).read_to_end(&mut data)?;
        Ok(data)
    };
    read()
        .map(|data| String::from_utf8_lossy(&data).into_owned())
        .unwrap_or_default()
}
