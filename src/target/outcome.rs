//! What one event did in the real charm, and when that is a finding.
//!
//! Juju learns little from a hook: its exit status, and what the charm told it through
//! hook tools. A charm author needs more to understand a failure, so each [`EventOutcome`]
//! also carries the uncaught exception (read from the traceback ops logs through
//! `juju-log`, exactly as `juju debug-log` would show it), the charm's StoredState and
//! deferred events afterwards, and the tails of its stdout and stderr.
//!
//! A **finding** is a hook that did not end well: an uncaught exception (or another
//! non-zero exit), a hang past the timeout, or a death by signal (`os.abort()`, a
//! segfault in an extension). Harness trouble is never a finding; it is a
//! [`super::TargetError`].

use super::hooktools::HookOutcome;
use crate::engine::HookKind;
use serde::Serialize;
use serde_json::{Map, Value};

/// How the hook's process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exit {
    /// Exited with this status.
    Code(i32),
    /// Killed by this signal (not by us).
    Signal(i32),
    /// Still running at the timeout; its process group was killed.
    Timeout,
}

impl Exit {
    pub fn ok(&self) -> bool {
        *self == Exit::Code(0)
    }

    /// The signal the process died of, if it did.
    pub fn signal(&self) -> Option<i32> {
        match self {
            Exit::Signal(s) => Some(*s),
            _ => None,
        }
    }
}

/// One frame of a Python traceback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame {
    /// The file, relative to the charm directory when it is in the charm.
    pub file: String,
    pub line: u32,
    pub function: String,
    /// The file is the charm's own code (not `ops`, not the standard library).
    pub in_charm: bool,
}

/// An uncaught Python exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PyException {
    /// As Python prints it: `KeyError`, `ops.model.ModelError`.
    #[serde(rename = "type")]
    pub type_name: String,
    pub message: String,
    pub frames: Vec<Frame>,
    /// The traceback as printed.
    pub traceback: String,
}

impl PyException {
    /// The innermost frame in the charm's own code.
    pub fn charm_frame(&self) -> Option<&Frame> {
        self.frames.iter().rev().find(|f| f.in_charm)
    }
}

/// Everything one event did.
#[derive(Debug, Clone, Serialize)]
pub struct EventOutcome {
    pub hook: String,
    pub kind: HookKind,
    pub exit: Exit,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<PyException>,
    /// What the unit agent saw: tool calls, logs, statuses, committed and dropped changes.
    #[serde(flatten)]
    pub agent: HookOutcome,
    /// Programs run through the machine shims (`apt-get`, `systemctl`, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shim_calls: Vec<ShimCall>,
    /// StoredState after the event, by handle.
    pub stored: Map<String, Value>,
    /// Deferred events after the event (`event`, `observer`, `method`).
    pub deferred: Vec<Value>,
    pub stdout_tail: String,
    pub stderr_tail: String,
    /// Set when the hook printed more than the worker keeps: how much it printed. The
    /// tails above are then the end of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cut: Option<String>,
    /// The hook killed the process that runs hooks (charmfuzz's worker; on a unit, the
    /// agent): `exit` is the signal it died of.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub killed_worker: bool,
    /// A process the hook started could not be, for the ceiling on processes
    /// (`[target] max-processes`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub process_limit: bool,
    /// Where in the charm the hook was when a signal killed it or the timeout stopped it
    /// (from Python's faulthandler): the innermost frame of the charm's own code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<Frame>,
    /// What the hook asked this machine for that a real unit would have and charmfuzz's
    /// stand-ins could not give (see [`Lack`]). A hook that fails after one is an
    /// `environment` finding.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lacks: Vec<Lack>,
    /// Pebble execs nothing in `[[target.exec]]` answered, each once: they got the
    /// `exec-default` answer. A lack too where the charm read the made-up output.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unscripted: Vec<String>,
}

/// Something a hook asked of the machine that a real unit would have and this one does
/// not: the harness's stand-ins for Juju's world (the fake Pebble, the shims, the
/// sandbox) answered "nothing here". Known from which stand-in answered and how, never
/// from the charm's error message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct Lack {
    pub kind: LackKind,
    /// The command, program, socket, address or path.
    pub what: String,
}

/// Which stand-in came up short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LackKind {
    /// A Pebble exec that no `[[target.exec]]` answer matched, whose made-up answer the
    /// charm took in: its output (under `exec-default = "succeed"`) or the missing program
    /// (`"not-found"`). The workload image would have had the program.
    Exec,
    /// A query of a shimmed system program (`apt-cache policy`, `snap info`,
    /// `systemctl show`) answered by the default empty answer.
    Shim,
    /// A program the charm ran that is not installed in the sandbox.
    Program,
    /// A Unix socket nobody serves here (`/run/snapd.socket`).
    Socket,
    /// The network: there is none in the sandbox (nor the workload's API on localhost).
    Network,
    /// A host path that does not exist in a place the charm cannot write: nothing in
    /// the story could have made it.
    HostPath,
    /// A file of an installed snap's own (`/var/snap/<name>/current/etc/…`, under
    /// `/snap/<name>/`) that is not there: the snap's install would have put it, and the
    /// fake machine's snaps carry no content but what `[target.host.snaps.<name>]` gives.
    SnapFile,
    /// A Python module the hook could not import and the charm's environment does not
    /// have: what the charm declares did not bring it (or a library's `PYDEPS` did not).
    Module,
    /// A directory a Pebble write expected in the workload container (`container:/path`):
    /// the workload image would ship it; the fake container starts empty.
    ImageDir,
    /// A file the charm writes in a host directory that is read-only here (on a unit the
    /// charm, as root, could write it).
    ReadOnly,
}

impl Lack {
    /// One line: what was missing.
    pub fn describe(&self) -> String {
        match self.kind {
            LackKind::Exec => format!("Pebble exec of `{}` with no scripted answer", self.what),
            LackKind::Shim => format!("`{}` answered with nothing (the default shim)", self.what),
            LackKind::Program => format!("program `{}` is not installed here", self.what),
            LackKind::Socket => format!("nothing serves the socket {}", self.what),
            LackKind::Network if self.loopback_port().is_some() => format!(
                "nothing serves {} (the workload's API is not declared)",
                self.what
            ),
            LackKind::Network => format!("no network here: {}", self.what),
            LackKind::HostPath => format!("host path {} is not here", self.what),
            LackKind::ReadOnly => format!("host path {} is read-only here", self.what),
            LackKind::SnapFile => format!(
                "snap file {} is not here (the fake machine's snaps ship no files of their own)",
                self.what
            ),
            LackKind::Module => format!(
                "Python module `{}` is not in the charm's environment",
                self.what
            ),
            LackKind::ImageDir => {
                let (container, dir) = self.what.split_once(':').unwrap_or(("", &self.what));
                format!(
                    "container {container} has no directory {dir} (the workload image would ship it)"
                )
            }
        }
    }

    /// The port of a connection to the pod's loopback (`127.0.0.1:8080`), where the
    /// workload would serve.
    fn loopback_port(&self) -> Option<&str> {
        match self.what.rsplit_once(':') {
            Some(("127.0.0.1" | "::1" | "localhost", port)) => Some(port),
            _ => None,
        }
    }

    /// The setting that would fill the gap, where one exists.
    pub fn fix(&self) -> String {
        let words: Vec<&str> = self.what.split_whitespace().collect();
        let toml_list = |w: &[&str]| {
            let items: Vec<String> = w.iter().map(|a| format!("{a:?}")).collect();
            format!("[{}]", items.join(", "))
        };
        match self.kind {
            LackKind::Exec => format!(
                "charmfuzz.toml: [[target.exec]] command = {} stdout = \"…\"",
                toml_list(&words)
            ),
            LackKind::Shim | LackKind::Program => format!(
                "charmfuzz.toml: [target.shims.{}] stdout = \"…\" (what `{}` prints on a unit)",
                words.first().copied().unwrap_or_default(),
                self.what
            ),
            LackKind::Socket => "a stand-in for the service behind it (snapd's is there for \
                                  machine charms inside bubblewrap)"
                .into(),
            LackKind::SnapFile => {
                let name = (self.what.strip_prefix("/var/snap/"))
                    .or_else(|| self.what.strip_prefix("/snap/"))
                    .and_then(|r| r.split('/').next())
                    .unwrap_or("…");
                // A daemon's socket, pid or lock file is made by the running service,
                // not shipped.
                let runtime = self.what.contains("/run/")
                    || [".sock", ".socket", ".pid", ".lock"]
                        .iter()
                        .any(|x| self.what.ends_with(x));
                if runtime {
                    format!(
                        "charmfuzz.toml: [target.host.snaps.{name}] running-files = {{ {:?} = \"\" }} \
                         (what the snap's service makes while it runs)",
                        self.what
                    )
                } else {
                    format!(
                        "charmfuzz.toml: [target.host.snaps.{name}] files = {{ {:?} = \"…\" }} \
                         (what the snap ships there)",
                        self.what
                    )
                }
            }
            LackKind::Network => match self.loopback_port() {
                Some(port) => {
                    format!(
                        "charmfuzz.toml: [[target.http]] service = \"…\" port = {port} \
                         path = \"…\" body = \"…\" (what the workload serves there while its \
                         service runs)"
                    )
                }
                _ => "none: the sandbox has no network beyond the pod's loopback".into(),
            },
            LackKind::HostPath => {
                "charmfuzz.toml: [target] writable = [\"<its directory>\"] if the charm makes it; \
                 else a stand-in must provide it"
                    .into()
            }
            LackKind::Module => format!(
                "declare the package that provides `{}` where the charm declares its \
                 dependencies (or in the PYDEPS of the library that imports it), then \
                 `charmfuzz setup --charm <dir> --recreate`",
                self.what
            ),
            LackKind::ImageDir => {
                let (container, dir) = self.what.split_once(':').unwrap_or(("…", &self.what));
                format!(
                    "charmfuzz.toml: [target.image.{container}] dirs = [{dir:?}] (what the \
                     workload image ships); if the charm should make the directory itself, \
                     this is its bug"
                )
            }
            LackKind::ReadOnly => format!(
                "charmfuzz.toml: [target] writable = [{:?}]",
                std::path::Path::new(&self.what)
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
        }
    }
}

/// Whose a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingClass {
    /// The charm failed on something Juju, the cloud or the workload can really do.
    #[default]
    Charm,
    /// The charm failed after a stand-in of charmfuzz's could not answer it (a [`Lack`]):
    /// counted and reported with the setting that would fix it, but it does not end a
    /// fuzzing run.
    Environment,
}

impl FindingClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingClass::Charm => "charm",
            FindingClass::Environment => "environment",
        }
    }
}

/// A call of a shimmed system program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShimCall {
    pub program: String,
    pub args: Vec<String>,
    pub code: i32,
    /// What it printed (a reproducer's shims answer the same).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stdout: String,
}

impl ShimCall {
    /// The command line, as a shell would show it.
    pub fn line(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What kind of bad end a hook came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// An uncaught Python exception.
    Exception,
    /// A non-zero exit without a Python traceback.
    ExitCode,
    /// Killed by a signal (abort, segfault).
    Crash,
    /// Still running at the timeout.
    Hang,
    /// Killed the process that runs the hooks (charmfuzz's worker, the unit agent's place).
    KilledWorker,
    /// Went over the memory limit (`[target] memory-mib`): Python's `MemoryError`, the
    /// way an allocation past the limit ends in a charm's process.
    OutOfMemory,
    /// Failed after running into the ceiling on processes (`[target] max-processes`): a
    /// fork bomb, or a loop that starts processes and never waits for them.
    TooManyProcesses,
}

/// A hook that went wrong, with where it happened.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// The charm's, or the environment's (see [`FindingClass`]).
    pub class: FindingClass,
    /// For an `environment` finding: what the hook lacked, each with its fix.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lacks: Vec<Lack>,
    /// Index of the step (action) and of the event within the whole trace.
    pub step: usize,
    pub event: usize,
    pub hook: String,
    pub hook_kind: HookKind,
    /// Stable across runs: what went wrong, where in the charm, in which kind of hook.
    pub signature: String,
    /// One line for humans.
    pub title: String,
}

impl Finding {
    /// Whether a user's filter (`CHARMFUZZ_ONLY`, `--only`) picks this finding: a substring
    /// of its signature or title.
    pub fn matches(&self, pattern: &str) -> bool {
        self.signature.contains(pattern) || self.title.contains(pattern)
    }

    /// The finding in `outcome`, if the hook ended badly.
    pub fn from_outcome(outcome: &EventOutcome, step: usize, event: usize) -> Option<Finding> {
        let (kind, what, place) = what_went_wrong(outcome)?;
        // A stand-in that could not answer explains an exception, an exit or a hang (the
        // charm waiting for what will never come); a crash, a worker killed, memory and
        // processes are the charm's whatever it asked.
        let class = match kind {
            FindingKind::Exception | FindingKind::ExitCode | FindingKind::Hang
                if !outcome.lacks.is_empty() =>
            {
                FindingClass::Environment
            }
            _ => FindingClass::Charm,
        };
        let signature = match class {
            FindingClass::Charm => format!("{what}|{place}|{}", outcome.kind.as_str()),
            FindingClass::Environment => {
                format!("environment|{what}|{place}|{}", outcome.kind.as_str())
            }
        };
        let title = finding_title(outcome, kind, &what);
        let title = match class {
            FindingClass::Charm => title,
            FindingClass::Environment => format!(
                "{title} [environment: {}{}]",
                outcome.lacks[0].describe(),
                match outcome.lacks.len() {
                    1 => String::new(),
                    n => format!(", and {} more", n - 1),
                }
            ),
        };
        Some(Finding {
            kind,
            class,
            lacks: if class == FindingClass::Environment {
                outcome.lacks.clone()
            } else {
                Vec::new()
            },
            step,
            event,
            hook: outcome.hook.clone(),
            hook_kind: outcome.kind,
            signature,
            title,
        })
    }
}

/// The kind of a hook's bad end, what went wrong (for the signature: `hang`, the
/// exception's type, `exit 3`, …) and where in the charm (`file:function`, or empty);
/// `None` for a hook that exited 0.
fn what_went_wrong(outcome: &EventOutcome) -> Option<(FindingKind, String, String)> {
    let stopped_at = || {
        (outcome.stopped_at.as_ref())
            .map(|f| format!("{}:{}", f.file, f.function))
            .unwrap_or_default()
    };
    Some(match (&outcome.exit, &outcome.exception) {
        (Exit::Code(0), _) => return None,
        (Exit::Signal(s), _) if outcome.killed_worker => (
            FindingKind::KilledWorker,
            format!("killed-worker-{}", signal_name(*s)),
            String::new(),
        ),
        (_, e) if outcome.process_limit => (
            FindingKind::TooManyProcesses,
            "too-many-processes".to_string(),
            e.as_ref()
                .and_then(PyException::charm_frame)
                .map(|f| format!("{}:{}", f.file, f.function))
                .unwrap_or_default(),
        ),
        (Exit::Timeout, _) => (FindingKind::Hang, "hang".to_string(), stopped_at()),
        (Exit::Signal(s), _) => (FindingKind::Crash, signal_name(*s), stopped_at()),
        (Exit::Code(_), Some(e)) => {
            let place = e
                .charm_frame()
                .map(|f| format!("{}:{}", f.file, f.function))
                .unwrap_or_default();
            let kind = if e.type_name == "MemoryError" {
                FindingKind::OutOfMemory
            } else {
                FindingKind::Exception
            };
            (kind, e.type_name.clone(), place)
        }
        (Exit::Code(c), None) => (FindingKind::ExitCode, format!("exit {c}"), String::new()),
    })
}

/// The finding's one line for humans (before an `environment` finding's lacks).
fn finding_title(outcome: &EventOutcome, kind: FindingKind, what: &str) -> String {
    // Where in the charm an exception escaped: " at src/charm.py:12 in _on_install".
    let at = |e: &PyException| e.charm_frame().map(in_frame).unwrap_or_default();
    match (&outcome.exception, kind) {
        (Some(e), FindingKind::Exception) => format!(
            "{}: {}{} (in {})",
            e.type_name,
            first_line(&e.message),
            at(e),
            outcome.hook
        ),
        (Some(e), FindingKind::OutOfMemory) => {
            format!("out of memory in {} (MemoryError{})", outcome.hook, at(e))
        }
        (e, FindingKind::TooManyProcesses) => format!(
            "too many processes in {}{} (a process could not start: the ceiling, \
             [target] max-processes, was reached)",
            outcome.hook,
            e.as_ref().map(at).unwrap_or_default()
        ),
        (_, FindingKind::Hang) => format!(
            "{} did not finish (hang){}",
            outcome.hook,
            outcome
                .stopped_at
                .as_ref()
                .map(in_frame)
                .unwrap_or_default()
        ),
        (_, FindingKind::KilledWorker) => format!(
            "{} killed the process running the hooks (on a unit, the Juju agent) with {}",
            outcome.hook,
            signal_name(outcome.exit.signal().unwrap_or(0))
        ),
        (_, FindingKind::Crash) => format!(
            "{} was killed by {}{}",
            outcome.hook,
            what,
            outcome
                .stopped_at
                .as_ref()
                .map(in_frame)
                .unwrap_or_default()
        ),
        _ => format!("{} failed with {}", outcome.hook, what),
    }
}

/// " at src/charm.py:12 in _on_install"
fn in_frame(f: &Frame) -> String {
    format!(" at {}:{} in {}", f.file, f.line, f.function)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// `SIGABRT`, `SIGSEGV`, … for a signal number.
pub fn signal_name(sig: i32) -> String {
    const NAMES: [&str; 32] = [
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match usize::try_from(sig).ok().and_then(|i| NAMES.get(i)) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => format!("signal {sig}"),
    }
}

/// Find the uncaught exception in what the hook logged (ops logs the traceback as one
/// `juju-log` ERROR record) or, failing that, in its stderr (an exception raised before
/// ops set up logging). `charm_dir` makes frame paths relative.
pub fn find_exception<'a>(
    logs: impl IntoIterator<Item = &'a str>,
    stderr: &str,
    charm_dir: &str,
) -> Option<PyException> {
    const OPS_PREFIX: &str = "Uncaught exception while in charm code:\n";
    for msg in logs {
        // ops 3 names its logger first (`root:Uncaught exception …`), ops 2 does not.
        if let Some(i) = msg.find(OPS_PREFIX)
            && !msg[..i].contains('\n')
        {
            return parse_traceback(&msg[i + OPS_PREFIX.len()..], charm_dir);
        }
    }
    let start = stderr.rfind("Traceback (most recent call last):")?;
    parse_traceback(&stderr[start..], charm_dir)
}

/// A frame of a traceback: `file` as printed, made relative when it is the charm's.
fn frame(file: &str, lineno: &str, func: &str, charm_prefix: &str) -> Frame {
    // `dispatch` runs `./src/charm.py`: relative paths are the charm's.
    let relative =
        (!file.starts_with('/') && !file.starts_with('<')).then(|| file.trim_start_matches("./"));
    let (file, in_charm) = match relative.or_else(|| file.strip_prefix(charm_prefix)) {
        // `python3 ./src/charm.py` shows as `<charm dir>/./src/charm.py`.
        Some(rel) => (
            rel.trim_start_matches("./").to_string(),
            !rel.starts_with("venv/") && !rel.contains("site-packages/"),
        ),
        None => (file.to_string(), false),
    };
    Frame {
        file,
        line: lineno.trim().parse().unwrap_or(0),
        function: func.trim().to_string(),
        in_charm,
    }
}

/// The innermost frame of the charm's own code in the last stack Python's `faulthandler`
/// wrote to `stderr`: what a hook was doing when a signal killed it (a segfault in a C
/// extension, an abort) or when it was stopped at the timeout (the worker asks for the
/// dump first). faulthandler prints from a signal handler, without the traceback module:
///
/// ```text
/// Fatal Python error: Segmentation fault
///
/// Current thread 0x00007f3c8a1b7740 (most recent call first):
///   File "/…/charm/src/charm.py", line 73 in _fault_segfault
///   File "/…/ops/framework.py", line 1057 in _reemit
/// ```
pub fn fault_frame(stderr: &str, charm_dir: &str) -> Option<Frame> {
    const HEAD: &str = "(most recent call first):";
    let start = stderr.rfind(HEAD)? + HEAD.len();
    let charm_prefix = format!("{}/", charm_dir.trim_end_matches('/'));
    stderr[start..]
        .lines()
        .skip(1)
        .map_while(|l| l.strip_prefix("  File \""))
        .filter_map(|rest| {
            let (file, rest) = rest.split_once("\", line ")?;
            let (lineno, func) = rest.split_once(" in ").unwrap_or((rest, ""));
            Some(frame(file, lineno, func, &charm_prefix))
        })
        .find(|f| f.in_charm)
}

/// Parse a Python traceback as `traceback.format_exception` prints it. With chained
/// exceptions, the last one (the one that escaped) is reported.
pub fn parse_traceback(text: &str, charm_dir: &str) -> Option<PyException> {
    const HEAD: &str = "Traceback (most recent call last):";
    let start = text.rfind(HEAD)?;
    let last = &text[start..];
    let charm_prefix = format!("{}/", charm_dir.trim_end_matches('/'));
    let mut frames = Vec::new();
    let mut lines = last.lines().skip(1).peekable();
    let mut tail = Vec::new();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("  File \"") {
            if let Some((file, rest)) = rest.split_once("\", line ") {
                let (lineno, func) = rest.split_once(", in ").unwrap_or((rest, ""));
                frames.push(frame(file, lineno, func, &charm_prefix));
            }
            continue;
        }
        if line.starts_with("    ") || line.trim().chars().all(|c| "^~ ".contains(c)) {
            continue; // source lines and caret markers
        }
        tail.push(line);
        tail.extend(lines.by_ref());
    }
    let first = tail.first()?;
    let (type_name, msg0) = match first.split_once(": ") {
        Some((t, m)) if !t.contains(' ') => (t.to_string(), m.to_string()),
        _ => (first.trim_end_matches(':').to_string(), String::new()),
    };
    let mut message = msg0;
    for l in &tail[1..] {
        message.push('\n');
        message.push_str(l);
    }
    Some(PyException {
        type_name,
        message,
        frames,
        // The charm runs from the sandbox's copy of it, a temporary directory: its files
        // are shown by their path inside the charm, as the frames are.
        traceback: last
            .trim_end()
            .replace(&format!("File \"{charm_prefix}"), "File \""),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TB: &str = r#"Traceback (most recent call last):
  File "/x/charm/src/charm.py", line 540, in <module>
    ops.main(DemoCharm)
  File "/venv/lib/python3.11/site-packages/ops/framework.py", line 955, in _reemit
    custom_handler(event)
  File "/x/charm/src/charm.py", line 120, in _on_pebble_ready
    port = self._stored.config["port"]
           ~~~~~~~~~~~~~~~~~~~^^^^^^^^
KeyError: 'port'"#;

    #[test]
    fn a_missing_snap_file_is_fixed_by_shipping_it_and_a_daemon_socket_by_running_files() {
        let fix = |what: &str| {
            Lack {
                kind: LackKind::SnapFile,
                what: what.into(),
            }
            .fix()
        };
        let shipped = fix("/var/snap/mysql/current/etc/my.cnf");
        assert!(
            shipped.contains("[target.host.snaps.mysql] files = "),
            "{shipped}"
        );
        let socket = fix("/var/snap/mysql/common/var/run/mysqld/mysqld.sock");
        assert!(
            socket.contains("[target.host.snaps.mysql] running-files = "),
            "{socket}"
        );
        assert!(fix("/snap/db/current/db.pid").contains("running-files"));
    }

    #[test]
    fn the_exception_is_found_in_the_juju_log_record_of_either_ops() {
        for prefix in ["", "root:"] {
            let record = format!("{prefix}Uncaught exception while in charm code:\n{TB}");
            let e = find_exception([record.as_str()], "", "/x/charm")
                .unwrap_or_else(|| panic!("{prefix:?}"));
            assert_eq!(e.type_name, "KeyError");
        }
        // A record that only mentions the words further down is not the traceback.
        let other = format!("a line\nUncaught exception while in charm code:\n{TB}");
        assert!(find_exception([other.as_str()], "", "/x/charm").is_none());
    }

    #[test]
    fn traceback_gives_type_message_and_innermost_charm_frame() {
        let e = parse_traceback(TB, "/x/charm").unwrap();
        assert_eq!(e.type_name, "KeyError");
        assert_eq!(e.message, "'port'");
        assert_eq!(e.frames.len(), 3);
        let f = e.charm_frame().unwrap();
        assert_eq!(
            (f.file.as_str(), f.line, f.function.as_str()),
            ("src/charm.py", 120, "_on_pebble_ready")
        );
        assert!(!e.frames[1].in_charm);
        // The sandbox's copy of the charm is not shown: its files by their path inside.
        assert!(
            e.traceback.contains("File \"src/charm.py\", line 120"),
            "{}",
            e.traceback
        );
        assert!(!e.traceback.contains("/x/charm"), "{}", e.traceback);
        assert!(
            e.traceback
                .contains("File \"/venv/lib/python3.11/site-packages/ops/")
        );
    }

    #[test]
    fn relative_paths_from_dispatch_are_the_charms() {
        let tb = TB.replace("/x/charm/src/charm.py", "./src/charm.py");
        let e = parse_traceback(&tb, "/x/charm").unwrap();
        assert_eq!(e.charm_frame().unwrap().file, "src/charm.py");
        let tb = TB.replace("/x/charm/src/charm.py", "/x/charm/./src/charm.py");
        let e = parse_traceback(&tb, "/x/charm").unwrap();
        assert_eq!(e.charm_frame().unwrap().file, "src/charm.py");
        assert_eq!(e.frames[0].file, "src/charm.py");
    }

    #[test]
    fn chained_exceptions_report_the_last_and_keep_notes() {
        let text = format!(
            "{TB}\n\nDuring handling of the above exception, another exception occurred:\n\n\
             Traceback (most recent call last):\n  File \"/x/charm/src/charm.py\", line 9, in f\n    g()\n\
             ops.model.ModelError: ERROR permission denied\nCalled relation-set"
        );
        let e = parse_traceback(&text, "/x/charm").unwrap();
        assert_eq!(e.type_name, "ops.model.ModelError");
        assert_eq!(e.message, "ERROR permission denied\nCalled relation-set");
        assert_eq!(e.frames.len(), 1);
    }

    #[test]
    fn signals_have_names() {
        assert_eq!(signal_name(6), "SIGABRT");
        assert_eq!(signal_name(11), "SIGSEGV");
        assert_eq!(signal_name(14), "SIGALRM");
        assert_eq!(signal_name(99), "signal 99");
    }
}
