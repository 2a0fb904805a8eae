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
//!
//! Layout: the answers and how a command finds its answer are here; `session` plays one
//! exec over its websockets.

mod session;

pub(crate) use session::{ExecJob, ExecSession, drive, new_session, valid_signal};

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
}
