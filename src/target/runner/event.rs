//! Running one event in the charm: the hook's environment, the hook run by the worker
//! while the unit agent answers its hook tools (and the shims their programs), and what
//! is read back afterwards: how the hook ended, the exception it died of, the charm's
//! stored state and deferred events, and what the stand-ins could not answer.

use super::{Target, TargetError};
use crate::engine::{Event, HookKind, World};
use crate::target::agent::{ToolRequest, ToolResponse};
use crate::target::cgroup::ProcessLimit;
use crate::target::clock;
use crate::target::config::{Mode, ShimAnswer, shim_query_unanswered};
use crate::target::hooktools::{HookContext, TOOLS};
use crate::target::host::FakeHost;
use crate::target::outcome::{
    EventOutcome, Exit, Lack, LackKind, ShimCall, fault_frame, find_exception,
};
use crate::target::pebble::ExecDefault;
use crate::target::sandbox::Sandbox;
use crate::target::worker::{ClockRequest, ExitReport, RunRequest, WorkerError, tail_of_file};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the hook's process ended, as the worker saw it.
struct HookRun {
    report: ExitReport,
    /// The hook killed the worker, which was started again.
    killed_worker: bool,
    /// The hook hit the ceiling on the charm's processes.
    process_limit: bool,
}

impl Target {
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

    /// Juju mounts a storage instance at its location before the unit hears of it, and
    /// leaves the mount point there: a charm may `df` or write it in any hook from its
    /// `storage-attached` on (or from `install`, for storage the unit was deployed with).
    /// Its directory is made in the location's writable layer; without walls nothing is
    /// made on the host.
    fn mount_storage(&self, ctx: &HookContext) -> Result<(), TargetError> {
        if !self.sandbox.contained() {
            return Ok(());
        }
        for location in ctx.storage_locations() {
            let dir = self.sandbox.writable_view(std::path::Path::new(location));
            if !dir.is_dir() {
                std::fs::create_dir_all(&dir)
                    .map_err(super::io(format!("mounting the storage at {location}")))?;
            }
        }
        Ok(())
    }

    /// Run one event (which the world has just delivered) in the charm.
    pub(super) fn run_event(
        &mut self,
        world: &World,
        event: &Event,
    ) -> Result<EventOutcome, TargetError> {
        self.agent.timer_fires(event);
        let mut ctx = HookContext::begin(world, &self.agent, event);
        self.mount_storage(&ctx)?;
        let mut shim_calls = Vec::new();
        let req = self.run_request(event);
        let mut lacks = Vec::new();
        let HookRun {
            report,
            killed_worker,
            process_limit,
        } = self.run_in_worker(&req, &mut ctx, &mut lacks, &mut shim_calls)?;
        if let Some(h) = &self.host {
            // The machine's answers, commands and snapd requests alike, in their order.
            shim_calls.extend(h.take_calls().into_iter().map(|c| ShimCall {
                program: c.program,
                args: c.args,
                code: c.code,
                stdout: c.stdout,
            }));
        }
        self.add_hook_lines(&req);
        let exit = exit_of(&report);
        let agent = ctx.finish(exit.ok(), &mut self.agent);
        self.agent.clock.after_hook(report.clock_ns);
        let output_cut = output_cut(&report);
        let (stored, deferred) =
            if self.want_state && (self.config.mode == Mode::Exec || killed_worker) {
                self.worker.as_mut().expect("started").read_state()?
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
        let output_read = read_stand_in_notes(&req, &mut lacks);
        let unscripted = self.unanswered_execs(&req, &output_read, &mut lacks)?;
        lacks.sort();
        lacks.dedup();
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

    /// What the worker is asked to run for `event`, and where the hook's outputs go.
    fn run_request(&self, event: &Event) -> RunRequest {
        RunRequest {
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
        }
    }

    /// Run the hook in the worker, answering its hook tools from `ctx` and its shims from
    /// the configuration; a hook that killed the worker gets a new one.
    fn run_in_worker(
        &mut self,
        req: &RunRequest,
        ctx: &mut HookContext,
        lacks: &mut Vec<Lack>,
        shim_calls: &mut Vec<ShimCall>,
    ) -> Result<HookRun, TargetError> {
        let tools: BTreeSet<&str> = TOOLS.iter().copied().collect();
        let answers = Answers {
            tools: &tools,
            shims: &self.config.shims,
            host: self.host.as_ref(),
            links: HostLinks::of(&self.sandbox, self.host_program.as_deref()),
        };
        let mut serve = |r: ToolRequest| answers.answer(r, ctx, lacks, shim_calls);
        for path in req.lines.iter().chain(&req.stand_ins) {
            let _ = std::fs::remove_file(path);
        }
        let hits_before = self.processes.as_ref().map_or(0, ProcessLimit::hits);
        let worker = self.worker.as_mut().expect("started");
        let mut killed_worker = false;
        let report = match worker.run_hook(req, &self.listener, Duration::from_secs(10), &mut serve)
        {
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
        Ok(HookRun {
            report,
            killed_worker,
            process_limit,
        })
    }

    /// Add the lines the hook ran to the line coverage.
    fn add_hook_lines(&mut self, req: &RunRequest) {
        if let (Some(path), Some(lines)) = (&req.lines, self.lines.as_mut()) {
            // A child that died by a signal, timed out or called os._exit wrote nothing.
            if let Ok(text) = std::fs::read_to_string(path) {
                lines.add_hook(&text);
            }
        }
    }

    /// The commands the charm ran in its containers that no exec answer scripted (sorted,
    /// once each), with the lacks they and the image's missing directories make.
    fn unanswered_execs(
        &self,
        req: &RunRequest,
        output_read: &BTreeSet<String>,
        lacks: &mut Vec<Lack>,
    ) -> Result<Vec<String>, TargetError> {
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
        unscripted.sort();
        unscripted.dedup();
        Ok(unscripted)
    }
}

/// Who answers the programs the charm runs through the unit agent.
struct Answers<'a> {
    tools: &'a BTreeSet<&'a str>,
    shims: &'a BTreeMap<String, ShimAnswer>,
    host: Option<&'a FakeHost>,
    links: Option<HostLinks>,
}

impl Answers<'_> {
    /// The unit agent's answer to one call: a hook tool from the hook's context; a program
    /// of a machine charm's machine from the host (unless the configuration scripted its
    /// answer); a shim from its configured answer (noting the call, and a lack where the
    /// answer does not fit the query); anything else not found.
    fn answer(
        &self,
        r: ToolRequest,
        ctx: &mut HookContext,
        lacks: &mut Vec<Lack>,
        shim_calls: &mut Vec<ShimCall>,
    ) -> ToolResponse {
        let scripted = self
            .shims
            .get(&r.tool)
            .is_some_and(|a| *a != ShimAnswer::default());
        match self.host {
            Some(h) if !self.tools.contains(r.tool.as_str()) && !scripted && h.answers(&r.tool) => {
                let out = h.run(
                    &r.tool,
                    &r.args,
                    r.stdin.as_deref().unwrap_or("").as_bytes(),
                );
                // An install may have brought commands the charm runs next.
                if let Some(l) = &self.links {
                    l.link(h);
                }
                ToolResponse {
                    code: out.code,
                    stdout: out.stdout,
                    stderr: out.stderr,
                }
            }
            _ => answer_tool(r, self.tools, self.shims, ctx, lacks, shim_calls),
        }
    }
}

/// Links in the tools directory (first on the charm's `PATH`) for the commands the
/// machine's installs brought, so that the charm finds them as it would on a unit.
pub(super) struct HostLinks {
    tools_dir: PathBuf,
    program: PathBuf,
    /// The commands linked so far, one per line.
    record: PathBuf,
}

impl HostLinks {
    pub(super) fn of(sandbox: &Sandbox, program: Option<&Path>) -> Option<HostLinks> {
        program.map(|p| HostLinks {
            tools_dir: sandbox.tools_dir(),
            program: p.to_path_buf(),
            record: sandbox.root().join("host-commands"),
        })
    }

    /// Make the links the host's commands need now, and remove those of commands gone.
    pub(super) fn link(&self, host: &FakeHost) {
        let wanted: BTreeSet<String> = host.commands().into_iter().collect();
        let marker = &self.record;
        let had: BTreeSet<String> = std::fs::read_to_string(marker)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        if wanted == had {
            return;
        }
        for gone in had.difference(&wanted) {
            let _ = std::fs::remove_file(self.tools_dir.join(gone));
        }
        for new in wanted.difference(&had) {
            let link = self.tools_dir.join(new);
            if link.symlink_metadata().is_err() {
                let _ = std::os::unix::fs::symlink(&self.program, &link);
            }
        }
        let list: String = wanted.iter().map(|c| format!("{c}\n")).collect();
        let _ = std::fs::write(marker, list);
    }
}

/// The unit agent's answer to one hook-tool call: a hook tool from the hook's context, a
/// shim from its configured answer (noting the call, and a lack where the answer does
/// not fit the query), anything else not found.
fn answer_tool(
    r: ToolRequest,
    tools: &BTreeSet<&str>,
    shims: &BTreeMap<String, ShimAnswer>,
    ctx: &mut HookContext,
    lacks: &mut Vec<Lack>,
    shim_calls: &mut Vec<ShimCall>,
) -> ToolResponse {
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
            stdout: a.stdout.clone(),
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
}

/// How the hook's process ended.
fn exit_of(report: &ExitReport) -> Exit {
    if report.timed_out {
        Exit::Timeout
    } else if let Some(s) = report.signal {
        Exit::Signal(s)
    } else {
        Exit::Code(report.code.unwrap_or(-1))
    }
}

/// Read the stand-ins' notes (fork mode): their lacks go into `lacks`; returned are the
/// execs whose output the charm read.
fn read_stand_in_notes(req: &RunRequest, lacks: &mut Vec<Lack>) -> BTreeSet<String> {
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
    output_read
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
