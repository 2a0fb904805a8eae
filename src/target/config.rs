//! How a charm is run: the `[target]` table of `charmfuzz.toml` (or of
//! `[tool.charmfuzz]` in `pyproject.toml`), overridable from the command line and the
//! environment.
//!
//! ```toml
//! [target]
//! mode = "fork"              # or "exec": run the charm's real dispatch per hook
//! python = "venv/bin/python" # the charm's interpreter (relative to the charm)
//! timeout = 10.0             # seconds per hook before it is a hang
//! containment = "auto"       # "bwrap" to insist on bubblewrap, "none" to run bare
//! memory-mib = 1024          # each charm process's memory (more is an out-of-memory finding)
//! max-processes = 512        # processes and threads at once (a fork past it fails)
//! writable = ["/etc/demo"]   # extra paths the charm may write (throwaway layers)
//! virtual-time = true        # sleeps return at once and move the charm's clock (fork mode)
//!
//! [target.shims.snap]        # what a shimmed system program answers
//! stdout = "installed"
//!
//! [[target.exec]]            # what a Pebble exec answers (longest prefix wins)
//! command = ["demo", "--version"]
//! stdout = "1.2.3\n"
//!
//! [[target.exec]]            # an answer for part of the story only
//! command = ["demo", "status"]
//! when-running = "demo"      # or when-stopped; and/or calls = "1-2" (N, N-M, N-)
//! stdout = "ok\n"
//! ```
//!
//! `[target.image.<container>]` says what the workload image ships: `dirs = [...]` and
//! `files = { "/path" = "content" }`, there in every fresh container.
//!
//! `[[target.http]]` entries say what the workload serves on its loopback ports while its
//! service runs ([`super::workload_http`]).
//!
//! `exec-default` says what a Pebble exec that no answer matches gets: `"succeed"` (exit 0,
//! no output; the default) or `"not-found"` (Pebble's `cannot find executable`).

use super::pebble::{CallRange, ExecAnswer, ExecAnswers, ExecDefault, ServiceCondition};
use super::sandbox::Containment;
use super::workload_http::HttpAnswerConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// How each hook is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Fork a child of the warm worker per hook and run the charm's entry point in it;
    /// hook tools answered in-process.
    #[default]
    Fork,
    /// Run the charm's real `dispatch` per hook, as Juju does, with the hook tools as
    /// executables on PATH.
    Exec,
}

/// The answer of a shimmed program (`apt-get`, `systemctl`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShimAnswer {
    pub exit: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A scripted Pebble exec answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExecAnswerConfig {
    pub command: Vec<String>,
    #[serde(default)]
    pub exit: i32,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    /// Which calls of the command it answers: `"2"`, `"1-3"`, `"4-"`.
    #[serde(default)]
    pub calls: Option<String>,
    /// Only while this service of the container is running.
    #[serde(default)]
    pub when_running: Option<String>,
    /// Only while this service of the container is not running.
    #[serde(default)]
    pub when_stopped: Option<String>,
}

impl ExecAnswerConfig {
    /// The answer's `calls` range and service condition.
    fn conditions(
        &self,
    ) -> Result<(Option<CallRange>, Option<ServiceCondition>), TargetConfigError> {
        let which = || format!("[[target.exec]] command = {:?}", self.command);
        let calls = match &self.calls {
            Some(c) => Some(
                c.parse::<CallRange>()
                    .map_err(|e| TargetConfigError(format!("{}: {e}", which())))?,
            ),
            None => None,
        };
        let when = match (&self.when_running, &self.when_stopped) {
            (Some(_), Some(_)) => {
                return Err(TargetConfigError(format!(
                    "{}: when-running and when-stopped cannot both be given",
                    which()
                )));
            }
            (Some(s), None) => Some(ServiceCondition::Running(s.clone())),
            (None, Some(s)) => Some(ServiceCondition::Stopped(s.clone())),
            (None, None) => None,
        };
        Ok((calls, when))
    }
}

/// What a workload container's image ships (`[target.image.<container>]`): a fresh
/// container has these before the charm touches it, after every restart too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageConfig {
    /// Directories (empty unless files are put in them).
    pub dirs: Vec<String>,
    /// Files and their content.
    pub files: BTreeMap<String, String>,
}

/// The `[target]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct TargetConfig {
    pub mode: Mode,
    pub python: Option<PathBuf>,
    /// Seconds a hook may run.
    pub timeout: f64,
    pub containment: Containment,
    /// MiB of memory each of the charm's processes may take (its heap and private
    /// mappings: `RLIMIT_DATA`); an allocation past it raises `MemoryError`, which is an
    /// out-of-memory finding of the hook.
    pub memory_mib: u64,
    /// Processes (and threads) the charm may run at once, the worker included: a fork
    /// past it fails (`BlockingIOError`), and a hook that fails after one did is a
    /// too-many-processes finding. Held by a pids cgroup where one can be made.
    pub max_processes: u64,
    pub writable: Vec<PathBuf>,
    /// System programs answered by the harness instead of run; by default the package
    /// and service managers a machine charm calls.
    pub shims: BTreeMap<String, ShimAnswer>,
    pub exec: Vec<ExecAnswerConfig>,
    /// Executables a Pebble exec finds (exit 0, no output) when no answer matches.
    pub exec_allow: Vec<String>,
    /// What any other exec no answer matches gets (it is recorded either way).
    pub exec_default: ExecDefault,
    /// What the workload serves on its loopback ports while its service runs.
    pub http: Vec<HttpAnswerConfig>,
    /// What each workload container's image ships, by container name.
    pub image: BTreeMap<String, ImageConfig>,
    /// The charm's entry point, if its dispatch does not say (`src/charm.py`).
    pub entry: Option<PathBuf>,
    /// Run the charm's process on the input's virtual clock ([`super::clock`]): its sleeps
    /// return at once and move the clock. Fork mode only.
    pub virtual_time: bool,
    /// A machine charm's machine: what its store and archive hold (`[target.host]`,
    /// see [`super::host`]).
    pub host: super::host::HostConfig,
}

/// A charm process's memory by default: ops and a charm take 30 to 100 MiB; ten times that
/// is a charm that lost count, and far from what would hurt the machine.
pub const DEFAULT_MEMORY_MIB: u64 = 1024;

/// Below this, the interpreter itself cannot start with ops imported.
pub const MIN_MEMORY_MIB: u64 = 128;

/// Processes at once by default: a hook with its tools and a few workload commands uses
/// ten or so; hundreds is a loop that forgot to wait, and far below what would stop the
/// machine (Linux's default pid_max is 32768, or 4 million on larger machines).
pub const DEFAULT_MAX_PROCESSES: u64 = 512;

/// The worker, a hook, the hook tools and the shell a charm may run.
pub const MIN_MAX_PROCESSES: u64 = 16;

/// The programs shimmed by default, answering success.
pub const DEFAULT_SHIMS: &[&str] = &[
    "apt-get",
    "apt",
    "apt-cache",
    "dpkg",
    "snap",
    "systemctl",
    "service",
    "update-rc.d",
    "hostnamectl",
];

/// Whether a call of a shimmed program asked a question whose answer is in its output
/// (`apt-cache policy x`, `dpkg -l`, `snap info x`, `systemctl show x`) and got the
/// default shim's empty one: a [`super::Lack`]. Commands that act (`apt-get install`,
/// `snap install`, `systemctl restart`) and questions answered by the exit code
/// (`systemctl is-active`) are answered faithfully enough by success; so is any program
/// whose answer the user set.
pub fn shim_query_unanswered(program: &str, args: &[String], answer: &ShimAnswer) -> bool {
    if !DEFAULT_SHIMS.contains(&program) || *answer != ShimAnswer::default() {
        return false;
    }
    let first = args
        .iter()
        .map(String::as_str)
        .find(|a| !a.starts_with('-') || matches!(program, "dpkg"));
    match (program, first) {
        ("apt-cache", _) => true,
        ("apt" | "apt-get", Some(verb)) => matches!(verb, "list" | "show" | "policy" | "search"),
        ("dpkg", Some(flag)) => matches!(
            flag,
            "-l" | "--list"
                | "-s"
                | "--status"
                | "-L"
                | "--listfiles"
                | "-S"
                | "--search"
                | "--print-architecture"
                | "-p"
                | "--print-avail"
        ),
        ("snap", Some(verb)) => matches!(
            verb,
            "list"
                | "info"
                | "get"
                | "services"
                | "connections"
                | "version"
                | "changes"
                | "find"
                | "aliases"
                | "known"
                | "logs"
                | "model"
        ),
        ("systemctl", Some(verb)) => matches!(
            verb,
            "show" | "status" | "cat" | "list-units" | "list-unit-files" | "list-timers"
        ),
        ("service", _) => args.iter().any(|a| a == "status"),
        ("hostnamectl", verb) => matches!(verb, None | Some("status")),
        _ => false,
    }
}

impl Default for TargetConfig {
    fn default() -> Self {
        TargetConfig {
            mode: Mode::Fork,
            python: None,
            timeout: 30.0,
            containment: Containment::Auto,
            memory_mib: DEFAULT_MEMORY_MIB,
            max_processes: DEFAULT_MAX_PROCESSES,
            writable: Vec::new(),
            shims: DEFAULT_SHIMS
                .iter()
                .map(|s| (s.to_string(), ShimAnswer::default()))
                .collect(),
            exec: Vec::new(),
            exec_allow: vec!["true".into()],
            exec_default: ExecDefault::Succeed,
            http: Vec::new(),
            image: BTreeMap::new(),
            entry: None,
            virtual_time: true,
            host: super::host::HostConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("bad [target] settings: {0}")]
pub struct TargetConfigError(String);

impl TargetConfig {
    /// Read the `[target]` table (defaults for anything missing; shims listed there are
    /// added to the default ones).
    pub fn from_table(t: &toml::Table) -> Result<TargetConfig, TargetConfigError> {
        let mut cfg: TargetConfig = toml::Value::Table(t.clone())
            .try_into()
            .map_err(|e: toml::de::Error| TargetConfigError(e.to_string()))?;
        for s in DEFAULT_SHIMS {
            cfg.shims.entry(s.to_string()).or_default();
        }
        if !(cfg.timeout > 0.0 && cfg.timeout.is_finite()) {
            return Err(TargetConfigError(format!(
                "timeout must be a positive number of seconds, not {}",
                cfg.timeout
            )));
        }
        if cfg.memory_mib < MIN_MEMORY_MIB {
            return Err(TargetConfigError(format!(
                "memory-mib = {} is too little for Python and ops to start; give at least {MIN_MEMORY_MIB}",
                cfg.memory_mib
            )));
        }
        for a in &cfg.exec {
            a.conditions()?;
        }
        cfg.host
            .validate()
            .map_err(|e| TargetConfigError(format!("[target.host]: {e}")))?;
        for (container, image) in &cfg.image {
            let relative = image
                .dirs
                .iter()
                .chain(image.files.keys())
                .find(|p| !p.starts_with('/'));
            if let Some(p) = relative {
                return Err(TargetConfigError(format!(
                    "[target.image.{container}]: {p:?} is not an absolute path in the container"
                )));
            }
        }
        if cfg.max_processes < MIN_MAX_PROCESSES {
            return Err(TargetConfigError(format!(
                "max-processes = {} is too few for a hook and its tools; give at least {MIN_MAX_PROCESSES}",
                cfg.max_processes
            )));
        }
        Ok(cfg)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout)
    }

    /// The memory limit in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_mib.saturating_mul(1 << 20)
    }

    pub fn exec_answers(&self) -> ExecAnswers {
        ExecAnswers {
            answers: self
                .exec
                .iter()
                .map(|a| {
                    let (calls, when) = a.conditions().expect("checked when read");
                    ExecAnswer {
                        calls,
                        when,
                        ..ExecAnswer::new(&a.command)
                            .exit(a.exit)
                            .stdout(a.stdout.as_bytes())
                            .stderr(a.stderr.as_bytes())
                    }
                })
                .collect(),
            allow: self.exec_allow.clone(),
            unscripted: self.exec_default,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_reads_with_defaults_and_rejects_unknown_keys() {
        let t: toml::Table = toml::from_str(
            "mode = 'exec'\ntimeout = 2.5\n[shims.snap]\nstdout = 'ok'\n[[exec]]\ncommand = ['v']\nstdout = '1'\n",
        )
        .unwrap();
        let c = TargetConfig::from_table(&t).unwrap();
        assert_eq!(c.mode, Mode::Exec);
        assert_eq!(c.timeout(), Duration::from_millis(2500));
        assert_eq!(c.shims["snap"].stdout, "ok");
        assert!(c.shims.contains_key("apt-get"));
        assert_eq!(c.exec_answers().answers[0].stdout, b"1");
        let bad: toml::Table = toml::from_str("mood = 'exec'").unwrap();
        assert!(TargetConfig::from_table(&bad).is_err());
        let bad: toml::Table = toml::from_str("timeout = 0").unwrap();
        assert!(TargetConfig::from_table(&bad).is_err());
    }

    #[test]
    fn exec_answers_read_their_conditions_and_the_default_policy() {
        let c = TargetConfig::from_table(&toml::Table::new()).unwrap();
        assert_eq!(c.exec_answers().unscripted, ExecDefault::Succeed);
        let t: toml::Table = toml::from_str(
            "exec-default = 'not-found'\n\
             [[exec]]\ncommand = ['app', 'status']\nwhen-running = 'app'\ncalls = '2-'\n\
             [[exec]]\ncommand = ['app', 'status']\nwhen-stopped = 'app'\n",
        )
        .unwrap();
        let a = TargetConfig::from_table(&t).unwrap().exec_answers();
        assert_eq!(a.unscripted, ExecDefault::NotFound);
        assert_eq!(a.answers[0].calls.map(|r| r.to_string()), Some("2-".into()));
        assert_eq!(
            a.answers[0].when,
            Some(ServiceCondition::Running("app".into()))
        );
        assert_eq!(
            a.answers[1].when,
            Some(ServiceCondition::Stopped("app".into()))
        );
        for (bad, says) in [
            ("[[exec]]\ncommand = ['a']\ncalls = '0'", "calls = \"0\""),
            (
                "[[exec]]\ncommand = ['a']\nwhen-running = 's'\nwhen-stopped = 's'",
                "cannot both",
            ),
            ("exec-default = 'maybe'", "exec-default"),
        ] {
            let t: toml::Table = toml::from_str(bad).unwrap();
            let e = TargetConfig::from_table(&t).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn memory_limit_defaults_to_a_gibibyte_and_refuses_too_little() {
        let c = TargetConfig::from_table(&toml::Table::new()).unwrap();
        assert_eq!(c.memory_bytes(), 1 << 30);
        let t: toml::Table = toml::from_str("memory-mib = 512").unwrap();
        assert_eq!(
            TargetConfig::from_table(&t).unwrap().memory_bytes(),
            512 << 20
        );
        let bad: toml::Table = toml::from_str("memory-mib = 16").unwrap();
        let e = TargetConfig::from_table(&bad).unwrap_err().to_string();
        assert!(e.contains("memory-mib = 16 is too little"), "{e}");
    }
}
