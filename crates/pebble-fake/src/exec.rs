//! `exec`: commands the charm runs in the workload container, answered from a script.
//!
//! There is no workload image to run commands in, so each command is answered by the
//! longest matching [`ExecAnswer`] prefix (exit code, stdout, stderr). The conversation
//! itself is Pebble's: `POST /v1/exec` answers with an async change and a task id, the
//! client opens the `control`, `stdio` and (unless stderr is combined) `stderr` websockets
//! at `/v1/tasks/<task-id>/websocket/<name>`, stdout goes out as binary frames followed by
//! the text frame `{"command":"end"}`, stdin comes in the same way, signals arrive on
//! `control`, and the exit code is `tasks[0].data["exit-code"]` of the finished change.
//!
//! An answer can depend on the story: on how many times the command has run in this
//! input ([`CallRange`], `calls = "2-"`), or on whether one of the container's services is
//! running ([`ServiceCondition`], `when-running = "app"`), so that `app status` can say
//! "up" only once the charm started `app`. Of the answers whose conditions hold, the
//! longest prefix wins.
//!
//! A command no answer matches is *unscripted*: the workload image would have the
//! program, but nobody told charmfuzz what it prints. What happens then is the
//! [`ExecDefault`] policy: it succeeds with no output (what `charmfuzz.toml` gives by
//! default, so a charm is not stopped at its first `exec`), or Pebble refuses it with
//! `cannot find executable "x"` (a 400, as a real Pebble does for a program the image
//! lacks). Either way the command is recorded, so that a hook that then fails is an
//! `environment` finding that names the `[[target.exec]]` answer to add. Names in the
//! allow-list (`true`) are known to exist and print nothing: they are answered exit 0
//! and not recorded.

use super::Container;
use super::gotime::format_duration;
use crate::Lock;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// A websocket the client opened for an exec.
pub(crate) type Ws = WebSocketStream<TokioIo<Upgraded>>;

/// How one command (prefix) is answered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecAnswer {
    /// The argv prefix this answers. The first word also matches by basename
    /// (`["ls"]` answers `/bin/ls -l`). An empty prefix answers every command.
    pub command: Vec<String>,
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The process only exits once the charm closes stdin (like `cat`).
    pub wait_for_stdin: bool,
    /// The process never exits by itself: only the exec `timeout` (a change error
    /// `timed out after 1s: context deadline exceeded`, exit code -1) or a signal on the
    /// control websocket (exit code 128 + signal number) ends it.
    pub hang: bool,
    /// Answers only these calls of the command (counted from the input's start).
    pub calls: Option<CallRange>,
    /// Answers only while this service is (or is not) running.
    pub when: Option<ServiceCondition>,
}

/// Which calls of a command an answer is for: the first is call 1, counted over the
/// input (a container restart does not reset it: the story goes on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallRange {
    pub first: u32,
    /// `None`: every call from `first` on.
    pub last: Option<u32>,
}

impl CallRange {
    pub fn contains(&self, call: u32) -> bool {
        call >= self.first && self.last.is_none_or(|l| call <= l)
    }
}

impl std::str::FromStr for CallRange {
    type Err = String;

    /// `"3"`, `"1-2"` or `"4-"`.
    fn from_str(s: &str) -> Result<CallRange, String> {
        let bad = || format!("calls = {s:?}: expected N, N-M or N- (calls count from 1)");
        let num = |t: &str| t.trim().parse::<u32>().ok().filter(|n| *n >= 1);
        let range = match s.split_once('-') {
            None => num(s).map(|n| CallRange {
                first: n,
                last: Some(n),
            }),
            Some((a, b)) if b.trim().is_empty() => num(a).map(|n| CallRange {
                first: n,
                last: None,
            }),
            Some((a, b)) => match (num(a), num(b)) {
                (Some(a), Some(b)) if a <= b => Some(CallRange {
                    first: a,
                    last: Some(b),
                }),
                _ => None,
            },
        };
        range.ok_or_else(bad)
    }
}

impl std::fmt::Display for CallRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.last {
            Some(l) if l == self.first => write!(f, "{l}"),
            Some(l) => write!(f, "{}-{l}", self.first),
            None => write!(f, "{}-", self.first),
        }
    }
}

/// A condition on one of the container's services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceCondition {
    /// The service is running (Pebble's `active`).
    Running(String),
    /// The service is not running: never started, stopped, backing off or exited.
    Stopped(String),
}

/// What an exec that no answer matches gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecDefault {
    /// Exit 0 with no output: the image has the program and it had nothing to say.
    Succeed,
    /// Pebble's `cannot find executable "x"`: the image does not have the program.
    NotFound,
}

impl ExecAnswer {
    /// An answer for this argv prefix: exit 0, no output.
    pub fn new<S: AsRef<str>>(prefix: &[S]) -> ExecAnswer {
        ExecAnswer {
            command: prefix.iter().map(|s| s.as_ref().to_string()).collect(),
            ..ExecAnswer::default()
        }
    }

    /// With this exit code.
    pub fn exit(mut self, code: i32) -> Self {
        self.exit_code = code;
        self
    }

    /// With this standard output.
    pub fn stdout(mut self, out: impl Into<Vec<u8>>) -> Self {
        self.stdout = out.into();
        self
    }

    /// With this standard error.
    pub fn stderr(mut self, err: impl Into<Vec<u8>>) -> Self {
        self.stderr = err.into();
        self
    }

    /// Exits only when stdin is closed.
    pub fn wait_for_stdin(mut self) -> Self {
        self.wait_for_stdin = true;
        self
    }

    /// Never exits by itself.
    pub fn hang(mut self) -> Self {
        self.hang = true;
        self
    }

    /// Only for these calls of the command.
    pub fn calls(mut self, range: CallRange) -> Self {
        self.calls = Some(range);
        self
    }

    /// Only while the service is (or is not) running.
    pub fn when(mut self, condition: ServiceCondition) -> Self {
        self.when = Some(condition);
        self
    }

    /// Whether `argv` starts with this answer's command (ignoring its conditions).
    pub fn matches(&self, argv: &[String]) -> bool {
        if self.command.len() > argv.len() {
            return false;
        }
        self.command
            .iter()
            .zip(argv)
            .enumerate()
            .all(|(i, (a, b))| {
                a == b || (i == 0 && !a.contains('/') && b.rsplit('/').next() == Some(a.as_str()))
            })
    }
}

/// The scripted answers for a container's `exec` calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecAnswers {
    pub answers: Vec<ExecAnswer>,
    /// Executables (by name or basename) that exist and answer exit 0 with no output
    /// when no answer matches. Default: `["true"]`.
    pub allow: Vec<String>,
    /// What a command nothing answers gets. A bare Pebble's default is
    /// [`ExecDefault::NotFound`], as a real one with an empty image would say; the target
    /// is configured with `[target] exec-default`.
    pub unscripted: ExecDefault,
}

impl Default for ExecAnswers {
    fn default() -> Self {
        ExecAnswers {
            answers: Vec::new(),
            allow: vec!["true".to_string()],
            unscripted: ExecDefault::NotFound,
        }
    }
}

/// What answers a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecMatch {
    /// `answers[i]` (the longest matching prefix whose conditions hold; the first of
    /// equals).
    Answer(usize),
    /// No answer, but the executable is allowed: exit 0, no output.
    Allowed,
    /// Nothing says what the command does: the [`ExecDefault`] policy answers.
    Unscripted,
}

/// What an answer's conditions are checked against: the story so far.
pub trait ExecSituation {
    /// The how-many-th call this is of commands matching `answers[i]`'s prefix (from 1).
    fn call(&self, answer: usize) -> u32;
    /// Whether the container's service is running.
    fn running(&self, service: &str) -> bool;
}

/// No story: every call is the first and no service runs.
pub struct FirstCall;

impl ExecSituation for FirstCall {
    fn call(&self, _: usize) -> u32 {
        1
    }
    fn running(&self, _: &str) -> bool {
        false
    }
}

impl ExecAnswers {
    /// No answers, an empty allow-list, and not found: every command is refused.
    pub fn none() -> ExecAnswers {
        ExecAnswers {
            answers: Vec::new(),
            allow: Vec::new(),
            unscripted: ExecDefault::NotFound,
        }
    }

    /// Adds an answer.
    pub fn with(mut self, a: ExecAnswer) -> Self {
        self.answers.push(a);
        self
    }

    /// With this policy for unscripted commands.
    pub fn unscripted(mut self, policy: ExecDefault) -> Self {
        self.unscripted = policy;
        self
    }

    /// Which answer replies to `argv` in this situation.
    pub fn lookup(&self, argv: &[String], now: &dyn ExecSituation) -> ExecMatch {
        let mut best: Option<(usize, usize)> = None;
        for (i, a) in self.answers.iter().enumerate() {
            let holds = a.calls.is_none_or(|r| r.contains(now.call(i)))
                && a.when.as_ref().is_none_or(|w| match w {
                    ServiceCondition::Running(s) => now.running(s),
                    ServiceCondition::Stopped(s) => !now.running(s),
                });
            if holds && a.matches(argv) && best.is_none_or(|(_, len)| a.command.len() > len) {
                best = Some((i, a.command.len()));
            }
        }
        match best {
            Some((i, _)) => ExecMatch::Answer(i),
            None => self.unanswered(argv),
        }
    }

    /// What answers `argv` at some point of a story: the first answer whose prefix matches
    /// it, whatever its conditions (for `charmfuzz spec`, before any story).
    pub fn ever(&self, argv: &[String]) -> ExecMatch {
        match self.answers.iter().position(|a| a.matches(argv)) {
            Some(i) => ExecMatch::Answer(i),
            None => self.unanswered(argv),
        }
    }

    /// A command no answer matches: allowed by name or basename, or unscripted.
    fn unanswered(&self, argv: &[String]) -> ExecMatch {
        let prog = argv.first().map(String::as_str).unwrap_or("");
        let base = prog.rsplit('/').next().unwrap_or(prog);
        if self.allow.iter().any(|a| a == prog || a == base) {
            ExecMatch::Allowed
        } else {
            ExecMatch::Unscripted
        }
    }
}

/// The websockets an exec is still waiting for, by name.
pub(crate) struct ExecSession {
    pub slots: HashMap<String, Option<oneshot::Sender<Ws>>>,
    pub abort: Arc<Notify>,
}

/// What the exec driver needs to know.
pub(crate) struct ExecJob {
    pub epoch: u64,
    pub change_id: String,
    pub task_id: String,
    pub answer: ExecAnswer,
    pub split_stderr: bool,
    pub timeout: Option<Duration>,
}

/// The driver's ends of a new exec session.
pub(crate) struct SessionEnds {
    pub control: oneshot::Receiver<Ws>,
    pub stdio: oneshot::Receiver<Ws>,
    pub stderr: Option<oneshot::Receiver<Ws>>,
    pub abort: Arc<Notify>,
}

/// Creates the session for a new exec (kept by the server until its websockets connect)
/// and the ends the driver waits on.
pub(crate) fn new_session(split_stderr: bool) -> (ExecSession, SessionEnds) {
    let mut slots = HashMap::new();
    let (ctl_tx, control) = oneshot::channel();
    let (io_tx, stdio) = oneshot::channel();
    slots.insert("control".to_string(), Some(ctl_tx));
    slots.insert("stdio".to_string(), Some(io_tx));
    let stderr = if split_stderr {
        let (tx, rx) = oneshot::channel();
        slots.insert("stderr".to_string(), Some(tx));
        Some(rx)
    } else {
        None
    };
    let abort = Arc::new(Notify::new());
    (
        ExecSession {
            slots,
            abort: abort.clone(),
        },
        SessionEnds {
            control,
            stdio,
            stderr,
            abort,
        },
    )
}

fn signal_number(name: &str) -> Option<i32> {
    Some(match name.trim_start_matches("SIG") {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" | "IOT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "STKFLT" => 16,
        "CHLD" => 17,
        "CONT" => 18,
        "STOP" => 19,
        "TSTP" => 20,
        "TTIN" => 21,
        "TTOU" => 22,
        "URG" => 23,
        "XCPU" => 24,
        "XFSZ" => 25,
        "VTALRM" => 26,
        "PROF" => 27,
        "WINCH" => 28,
        "IO" | "POLL" => 29,
        "PWR" => 30,
        "SYS" => 31,
        _ => return None,
    })
}

/// Whether `name` is a signal Pebble knows (`unix.SignalNum`).
pub(crate) fn valid_signal(name: &str) -> bool {
    name.starts_with("SIG") && signal_number(name).is_some()
}

fn is_end(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| {
            v.get("command")
                .and_then(|c| c.as_str())
                .map(|c| c == "end")
        })
        .unwrap_or(false)
}

/// Runs one exec: waits for the websockets, plays the answer, finishes the change.
pub(crate) async fn drive(c: Arc<Container>, job: ExecJob, ends: SessionEnds) {
    let SessionEnds {
        control,
        stdio,
        stderr,
        abort,
    } = ends;
    let mut gen_rx = c.gen_tx.subscribe();
    let io = async {
        let s = stdio.await.ok()?;
        let e = match stderr {
            Some(r) => Some(r.await.ok()?),
            None => None,
        };
        Some((s, e))
    };
    // Pebble waits up to 5 s for the I/O websockets before starting the process.
    let connected = tokio::select! {
        biased;
        _ = gen_rx.changed() => Err("exec interrupted: the container stopped".to_string()),
        _ = abort.notified() => Err("context canceled".to_string()),
        r = tokio::time::timeout(Duration::from_secs(5), io) => r.ok().flatten().ok_or_else(|| {
            format!(
                "exec {}: timeout waiting for websocket connections: context deadline exceeded",
                job.task_id
            )
        }),
    };
    let (stdio_ws, stderr_ws) = match connected {
        Ok(ws) => ws,
        Err(msg) => {
            finish(&c, &job, Err((msg, false)));
            c.sessions.locked().remove(&job.task_id);
            return;
        }
    };

    // Signals on the control websocket.
    let (sig_tx, mut sig_rx) = mpsc::unbounded_channel::<String>();
    let ctl_c = c.clone();
    let ctl_task_id = job.task_id.clone();
    let ctl_epoch = job.epoch;
    let control_task = tokio::spawn(async move {
        let Ok(mut ws) = control.await else {
            return;
        };
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(t) = msg {
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                if v["command"] == "signal"
                    && let Some(name) = v["signal"]["name"].as_str()
                {
                    {
                        let mut st = ctl_c.state.locked();
                        if let Some(r) = find_record(&mut st, ctl_epoch, &ctl_task_id) {
                            r.signals.push(name.to_string());
                        }
                    }
                    let _ = sig_tx.send(name.to_string());
                }
            }
        }
    });

    // Stdin from the stdio websocket.
    let (mut out_sink, mut in_stream) = stdio_ws.split();
    let (stdin_tx, mut stdin_rx) = watch::channel(false);
    let in_c = c.clone();
    let in_task_id = job.task_id.clone();
    let in_epoch = job.epoch;
    let stdin_task = tokio::spawn(async move {
        loop {
            let msg = in_stream.next().await;
            let mut st = in_c.state.locked();
            let rec = find_record(&mut st, in_epoch, &in_task_id);
            match msg {
                Some(Ok(Message::Binary(b))) => {
                    if let Some(r) = rec {
                        r.stdin.extend_from_slice(&b);
                    }
                }
                Some(Ok(Message::Text(t))) => {
                    if is_end(t.as_str()) {
                        if let Some(r) = rec {
                            r.stdin_closed = true;
                        }
                        let _ = stdin_tx.send(true);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    if let Some(r) = rec {
                        r.stdin_closed = true;
                    }
                    let _ = stdin_tx.send(true);
                    return;
                }
            }
        }
    });

    // The process's output.
    let answer = &job.answer;
    let mut stdout = answer.stdout.clone();
    if !job.split_stderr {
        stdout.extend_from_slice(&answer.stderr);
    }
    if !stdout.is_empty() {
        let _ = out_sink.send(Message::binary(stdout)).await;
    }
    let _ = out_sink.send(Message::text(r#"{"command":"end"}"#)).await;
    let mut stderr_ws = stderr_ws;
    if let Some(ws) = stderr_ws.as_mut() {
        if !answer.stderr.is_empty() {
            let _ = ws.send(Message::binary(answer.stderr.clone())).await;
        }
        let _ = ws.send(Message::text(r#"{"command":"end"}"#)).await;
    }

    let result: Result<i32, (String, bool)> = if answer.hang || answer.wait_for_stdin {
        let timeout = job.timeout;
        let deadline = async move {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending::<()>().await,
            }
        };
        let wait_stdin = answer.wait_for_stdin;
        let stdin_closed = async {
            if wait_stdin {
                let _ = stdin_rx.wait_for(|closed| *closed).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let signalled = async {
            loop {
                match sig_rx.recv().await {
                    Some(name) => {
                        if let Some(n) = signal_number(&name) {
                            return 128 + n;
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            }
        };
        tokio::select! {
            _ = stdin_closed => Ok(answer.exit_code),
            n = signalled => Ok(n),
            _ = deadline => Err((
                format!(
                    "timed out after {}: context deadline exceeded",
                    format_duration(timeout.unwrap_or_default())
                ),
                true,
            )),
            _ = gen_rx.changed() => Err(("exec interrupted: the container stopped".into(), true)),
            _ = abort.notified() => Err(("exec aborted".into(), true)),
        }
    } else {
        Ok(answer.exit_code)
    };

    // Pebble closes the control websocket when the process exits, then finishes the task.
    control_task.abort();
    finish(&c, &job, result);
    c.sessions.locked().remove(&job.task_id);

    // Keep stdio open until the client is done with it (it closes without close frames).
    tokio::select! {
        _ = stdin_task => {}
        _ = tokio::time::sleep(Duration::from_secs(30)) => {}
        _ = gen_rx.changed() => {}
    }
    drop(out_sink);
    drop(stderr_ws);
}

fn find_record<'a>(
    st: &'a mut super::state::ContainerState,
    epoch: u64,
    task_id: &str,
) -> Option<&'a mut super::state::ExecRecord> {
    if st.epoch != epoch {
        return None;
    }
    st.exec_log
        .iter_mut()
        .rev()
        .find(|r| r.task_id.as_deref() == Some(task_id))
}

/// Finishes the exec task: `Ok(exit code)`, or `Err((message, set exit code -1))`.
fn finish(c: &Container, job: &ExecJob, result: Result<i32, (String, bool)>) {
    {
        let mut st = c.state.locked();
        if st.epoch != job.epoch {
            return;
        }
        if let Some(r) = find_record(&mut st, job.epoch, &job.task_id) {
            match &result {
                Ok(code) => r.exit_code = Some(*code),
                Err((msg, _)) => r.error = Some(msg.clone()),
            }
        }
        if let Some(ci) = st.change_index(&job.change_id) {
            let code = match &result {
                Ok(code) => Some(*code),
                Err((_, true)) => Some(-1),
                Err((_, false)) => None,
            };
            if let Some(code) = code {
                st.changes[ci].tasks[0]
                    .data
                    .insert("exit-code".into(), code.into());
            }
            if !st.changes[ci].tasks[0].status.ready() {
                st.finish_task(ci, 0, result.err().map(|(m, _)| m));
            }
        }
    }
    c.bump();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn longest_prefix_wins() {
        let a = ExecAnswers::default()
            .with(ExecAnswer::new(&["app"]).stdout("generic"))
            .with(ExecAnswer::new(&["app", "--version"]).stdout("1.0"))
            .with(ExecAnswer::new(&["app", "--version"]).stdout("shadowed"));
        let look = |cmd: &str| a.lookup(&argv(cmd), &FirstCall);
        assert_eq!(look("app --version --json"), ExecMatch::Answer(1));
        assert_eq!(look("/usr/bin/app status"), ExecMatch::Answer(0));
        assert_eq!(look("true"), ExecMatch::Allowed);
        assert_eq!(look("/bin/true"), ExecMatch::Allowed);
        assert_eq!(look("nope"), ExecMatch::Unscripted);
        let catch_all = ExecAnswers::none().with(ExecAnswer::new::<&str>(&[]).exit(3));
        assert_eq!(
            catch_all.lookup(&argv("anything"), &FirstCall),
            ExecMatch::Answer(0)
        );
    }

    struct Story {
        call: u32,
        running: &'static [&'static str],
    }

    impl ExecSituation for Story {
        fn call(&self, _: usize) -> u32 {
            self.call
        }
        fn running(&self, s: &str) -> bool {
            self.running.contains(&s)
        }
    }

    #[test]
    fn conditions_pick_among_answers_and_a_longer_prefix_only_wins_when_it_holds() {
        let a = ExecAnswers::default()
            .with(ExecAnswer::new(&["app", "status"]).stdout("down"))
            .with(
                ExecAnswer::new(&["app", "status"])
                    .stdout("up")
                    .when(ServiceCondition::Running("app".into())),
            )
            .with(
                ExecAnswer::new(&["app", "status", "--json"])
                    .exit(1)
                    .calls("1-2".parse().unwrap()),
            );
        let at = |call, running| Story { call, running };
        let cmd = argv("app status --json");
        // The first answer of equal length whose condition holds.
        assert_eq!(a.lookup(&cmd, &at(3, &[])), ExecMatch::Answer(0));
        assert_eq!(a.lookup(&cmd, &at(3, &["app"])), ExecMatch::Answer(0));
        assert_eq!(
            a.lookup(&argv("app status"), &at(1, &["app"])),
            ExecMatch::Answer(0)
        );
        // The longer prefix, while its calls last.
        assert_eq!(a.lookup(&cmd, &at(2, &[])), ExecMatch::Answer(2));
        let b = ExecAnswers::default()
            .with(
                ExecAnswer::new(&["app", "status"])
                    .stdout("up")
                    .when(ServiceCondition::Running("app".into())),
            )
            .with(
                ExecAnswer::new(&["app", "status"])
                    .stdout("down")
                    .when(ServiceCondition::Stopped("app".into())),
            );
        assert_eq!(
            b.lookup(&argv("app status"), &at(1, &["app"])),
            ExecMatch::Answer(0)
        );
        assert_eq!(
            b.lookup(&argv("app status"), &at(1, &["other"])),
            ExecMatch::Answer(1)
        );
    }

    #[test]
    fn call_ranges_parse_and_print() {
        for (text, first, last) in [("3", 3, Some(3)), ("1-2", 1, Some(2)), ("4-", 4, None)] {
            let r: CallRange = text.parse().unwrap();
            assert_eq!((r.first, r.last), (first, last));
            assert_eq!(r.to_string(), text);
        }
        let r: CallRange = "2-3".parse().unwrap();
        assert!(!r.contains(1) && r.contains(2) && r.contains(3) && !r.contains(4));
        for bad in ["0", "3-2", "x", "-2", "", "1-2-3"] {
            let e = bad.parse::<CallRange>().unwrap_err();
            assert!(e.contains("expected N, N-M or N-"), "{bad}: {e}");
        }
    }

    #[test]
    fn signals() {
        assert!(valid_signal("SIGTERM"));
        assert!(!valid_signal("TERM"));
        assert!(!valid_signal("SIGNOPE"));
        assert_eq!(signal_number("SIGKILL"), Some(9));
    }
}
