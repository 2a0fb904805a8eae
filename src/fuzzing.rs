//! What `cargo fuzz run lifecycle` runs: the glue between libFuzzer and a [`Target`].
//!
//! libFuzzer hands over byte strings; each is a story (the engine decodes it into valid Juju
//! events) played against a fresh unit of the charm. The charm's own coverage, and the
//! lifecycle features of what it did, land in a bitmap libFuzzer watches
//! ([`crate::target::coverage`]), so inputs that make the charm do something new are kept
//! and mutated further.
//!
//! **Mutation.** At a story or two per second, flipping bytes rarely makes the next useful
//! event. [`mutate`] works on the story instead. Most of the time it tells the story
//! further: one to three actions appended at its end, each chosen among those Juju could
//! let happen there (the decoder reports them with the byte that selects each), favouring
//! actions the story has just made possible or never took. A lifecycle bug is a path of
//! such steps, each of which makes the charm do something new, so that coverage keeps every
//! step of the path and the next mutation starts from there. The other mutations insert a
//! valid action inside the story; delete, duplicate or swap whole steps (the input is cut
//! at the byte offsets where each step's choices begin); change one choice; or end the
//! story early. [`crossover`] splices the beginning of one story onto the end of another.
//! Every byte string decodes to a valid story, so every mutant is valid.
//!
//! **Which story to tell further.** libFuzzer picks the input to mutate from its whole
//! corpus; a quarter of the time (`CHARMFUZZ_FRONTIER`) the mutator sets that aside and
//! tells further one of the inputs that lately made the charm do something new
//! ([`Frontier`]), the newest most often, so a path of new steps is followed while it is
//! fresh; or tries every action that could follow the step whose discovery is most worth
//! it (the biggest and rarest).
//!
//! Which actions are possible depends on what the charm did (a Pebble check exists once the
//! charm's layer declares it), so the mutator decodes an input as the charm lived it: the
//! fuzzer keeps the trace of each input it ran ([`LivedTraces`]).
//!
//! libFuzzer sees whether each line, arc and lifecycle feature was hit, not how often
//! ([`CoverageMap::flatten`]): a longer story is not progress by itself.
//!
//! **Configuration** (environment, then the charm's `charmfuzz.toml`):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `CHARMFUZZ_CHARM` | the charm directory | the bundled `examples/charms/demo-k8s` |
//! | `CHARMFUZZ_PYTHON` | the charm's interpreter | `[target] python`, the charm's venv, the project's `.venv` |
//! | `CHARMFUZZ_MODE` | `fork` or `exec` | `[target] mode`, fork |
//! | `CHARMFUZZ_TIMEOUT` | seconds per hook | `[target] timeout`, 30 |
//! | `CHARMFUZZ_MAX_STEPS` | actions the mutator lets a story grow to, at most 64 (it cuts the inputs it writes: any command replays them as the same story, [`Charm::fit`]) | 64 |
//! | `CHARMFUZZ_ONLY` | hunt one bug: only a failure whose signature or title contains this is a finding; other failures are retried as Juju would and the story goes on | all |
//! | `CHARMFUZZ_MUTATOR` | `structure` or `bytes` (libFuzzer's own) | structure |
//! | `CHARMFUZZ_FEEDBACK` | what libFuzzer sees: `all` (the charm's code and the lifecycle features), `code` (the charm's code only), `0` (nothing) | all |
//! | `CHARMFUZZ_COVER_OPS` | `1` to measure `ops` too | 0 |
//! | `CHARMFUZZ_FRONTIER` | percent of the mutator's turns that tell one of the newest discoveries further ([`Frontier`]); 0 leaves every pick to libFuzzer | 25 |
//! | `CHARMFUZZ_HIT_COUNTS` | `1` to show libFuzzer hit counts, not just what was hit (see [`CoverageMap::flatten`]) | 0 |
//! | `CHARMFUZZ_HARNESS_COVERAGE` | `1` to let libFuzzer see charmfuzz's own Rust edges too | 0 |
//! | `CHARMFUZZ_JUJUC` | the `charmfuzz` binary, used as the hook-tool executable | `target/release/charmfuzz` if built |
//!
//! Where the variables are not set, a bundle beside the fuzz target executable
//! (`<exe>.charmfuzz/`, see [`bundle_dir`]) gives the charm, the Python and the `charmfuzz`
//! binary: that is how the target runs from a ClusterFuzzLite `$OUT`.

use crate::charm::{Charm, STORY_MAX_STEPS};
use crate::engine::{Action, ActionKind, Decoder, Trace, seed_bytes};
use crate::reproduce;
use crate::story;
use crate::target::coverage::{CODE_SLOTS, CoverageMap};
use crate::target::{Finding, FindingClass, Mode, RunReport, Target, TargetConfig, TargetError};
use std::path::{Path, PathBuf};

/// Why the fuzzer could not start.
#[derive(Debug, thiserror::Error)]
pub enum FuzzSetupError {
    #[error("cannot load the charm in {dir}: {source}")]
    Charm {
        dir: PathBuf,
        source: Box<crate::charm::CharmError>,
    },
    #[error("bad [target] settings in the charm's fuzzing config: {0}")]
    Config(#[from] crate::target::config::TargetConfigError),
    #[error("bad value {value:?} for {var}: {why}")]
    Env {
        var: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("cannot start the charm: {0}")]
    Target(#[from] TargetError),
    #[error(transparent)]
    Coverage(#[from] crate::target::coverage::CoverageError),
}

/// How the fuzz target is set up (see the module docs).
#[derive(Debug, Clone)]
pub struct FuzzSettings {
    pub charm_dir: PathBuf,
    pub config: TargetConfig,
    pub max_steps: usize,
    pub only: Option<String>,
    pub structure_mutator: bool,
    pub feedback: Feedback,
    pub cover_ops: bool,
    /// Whether libFuzzer sees how often each line, arc and lifecycle feature was hit in a
    /// story (`CHARMFUZZ_HIT_COUNTS=1`), or only whether it was ([`CoverageMap::flatten`]).
    pub hit_counts: bool,
    /// Whether the harness's own (Rust) edges count as coverage; off by default, as they
    /// are noise for the charm's story (see `fuzz_targets/lifecycle.rs`).
    pub harness_coverage: bool,
    /// Percent of the structure mutator's turns that set libFuzzer's pick aside and tell
    /// one of the newest discoveries further ([`Frontier`]; `CHARMFUZZ_FRONTIER`, 0 is off).
    pub frontier: u8,
    pub jujuc: Option<PathBuf>,
}

/// The frontier's share of the mutator's turns unless `CHARMFUZZ_FRONTIER` says otherwise.
/// A quarter: enough to follow a path of new steps while it is fresh, and leaving three
/// turns in four to libFuzzer's pick from the whole corpus, where a bug that needs
/// something changed early in an older story is found (a half took so many of those turns
/// that the machine demo's bugs were no longer found in `fuzz-demo`'s budget).
pub const DEFAULT_FRONTIER: u8 = 25;

/// Actions the mutator lets a story grow to unless `CHARMFUZZ_MAX_STEPS` says otherwise:
/// the decoder's own ceiling. A lower limit is kept by cutting the inputs the mutator
/// writes ([`Charm::fit`]), never by decoding differently, so an input is one story in
/// the fuzz target, `replay`, `minimize`, `repro` and `triage` alike.
pub const DEFAULT_MAX_STEPS: usize = STORY_MAX_STEPS;

/// What libFuzzer is shown of each input (`CHARMFUZZ_FEEDBACK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// The charm's code coverage and the lifecycle features.
    All,
    /// The charm's code coverage only: what proves the Python side alone steers libFuzzer.
    Code,
    /// Nothing: libFuzzer mutates blind (an ablation arm).
    None,
}

/// The demo charm with planted bugs, so that a fresh checkout fuzzes something useful.
pub fn default_charm_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/charms/demo-k8s")
}

/// The bundle beside the running fuzz target, if there is one: `<exe>.charmfuzz/` holding
/// `charm/`, `python/bin/python3` and `charmfuzz`.
///
/// A ClusterFuzzLite or OSS-Fuzz runner starts `$OUT/lifecycle` with no settings of ours
/// and sees nothing but `$OUT`, so `.clusterfuzzlite/build.sh` puts everything the target
/// needs at run time there: the charm, a relocatable Python with `ops`
/// (`scripts/bundle_python.py`) and the `charmfuzz` binary for the hook tools. The bundle
/// comes before the built-in defaults, after the environment variables.
pub fn bundle_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let mut name = exe.file_name()?.to_os_string();
    name.push(".charmfuzz");
    let dir = exe.with_file_name(name);
    dir.is_dir().then_some(dir)
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl FuzzSettings {
    /// Read the environment and the charm's fuzzing config.
    pub fn from_env() -> Result<(FuzzSettings, Charm), FuzzSetupError> {
        let bundle = bundle_dir();
        let charm_dir = var("CHARMFUZZ_CHARM")
            .map(PathBuf::from)
            .or_else(|| bundle.as_ref().map(|b| b.join("charm")))
            .unwrap_or_else(default_charm_dir);
        let charm = Charm::load(&charm_dir)
            .map_err(|source| FuzzSetupError::Charm {
                dir: charm_dir.clone(),
                source: Box::new(source),
            })?
            .for_target();
        let mut config = TargetConfig::from_table(&charm.config.target)?;
        if let Some(p) = var("CHARMFUZZ_PYTHON") {
            let p = PathBuf::from(p);
            config.python = Some(std::path::absolute(&p).unwrap_or(p));
        } else if config.python.is_none() {
            config.python = bundle
                .as_ref()
                .map(|b| b.join("python/bin/python3"))
                .filter(|p| p.is_file());
        }
        if let Some(m) = var("CHARMFUZZ_MODE") {
            config.mode = match m.as_str() {
                "fork" => Mode::Fork,
                "exec" => Mode::Exec,
                _ => {
                    return Err(FuzzSetupError::Env {
                        var: "CHARMFUZZ_MODE",
                        value: m,
                        why: "expected fork or exec",
                    });
                }
            };
        }
        if let Some(t) = var("CHARMFUZZ_TIMEOUT") {
            config.timeout =
                t.parse::<f64>()
                    .ok()
                    .filter(|t| *t > 0.0)
                    .ok_or(FuzzSetupError::Env {
                        var: "CHARMFUZZ_TIMEOUT",
                        value: t,
                        why: "expected a positive number of seconds",
                    })?;
        }
        let max_steps = match var("CHARMFUZZ_MAX_STEPS") {
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (1..=STORY_MAX_STEPS).contains(n))
                .ok_or(FuzzSetupError::Env {
                    var: "CHARMFUZZ_MAX_STEPS",
                    value: v,
                    why: "expected a number of actions from 1 to 64 (the decoder's ceiling)",
                })?,
            None => DEFAULT_MAX_STEPS,
        };
        let structure_mutator = match var("CHARMFUZZ_MUTATOR").as_deref() {
            None | Some("structure") => true,
            Some("bytes") => false,
            Some(other) => {
                return Err(FuzzSetupError::Env {
                    var: "CHARMFUZZ_MUTATOR",
                    value: other.to_string(),
                    why: "expected structure or bytes",
                });
            }
        };
        let jujuc = var("CHARMFUZZ_JUJUC").map(PathBuf::from).or_else(|| {
            if let Some(j) = bundle
                .as_ref()
                .map(|b| b.join("charmfuzz"))
                .filter(|j| j.is_file())
            {
                return Some(j);
            }
            let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/charmfuzz");
            built.is_file().then_some(built)
        });
        let settings = FuzzSettings {
            charm_dir,
            config,
            max_steps,
            only: var("CHARMFUZZ_ONLY"),
            structure_mutator,
            feedback: match var("CHARMFUZZ_FEEDBACK").as_deref() {
                None | Some("all" | "1") => Feedback::All,
                Some("code") => Feedback::Code,
                Some("0" | "none") => Feedback::None,
                Some(other) => {
                    return Err(FuzzSetupError::Env {
                        var: "CHARMFUZZ_FEEDBACK",
                        value: other.to_string(),
                        why: "expected all, code or 0",
                    });
                }
            },
            cover_ops: var("CHARMFUZZ_COVER_OPS").as_deref() == Some("1"),
            hit_counts: var("CHARMFUZZ_HIT_COUNTS").as_deref() == Some("1"),
            harness_coverage: var("CHARMFUZZ_HARNESS_COVERAGE").as_deref() == Some("1"),
            frontier: match var("CHARMFUZZ_FRONTIER") {
                Some(v) => v
                    .parse()
                    .ok()
                    .filter(|p| *p <= 100)
                    .ok_or(FuzzSetupError::Env {
                        var: "CHARMFUZZ_FRONTIER",
                        value: v,
                        why: "expected a percentage, 0 to 100",
                    })?,
                None => DEFAULT_FRONTIER,
            },
            jujuc,
        };
        Ok((settings, charm))
    }
}

/// What one input came to.
pub enum Verdict {
    /// The charm came through (or failed in a way `CHARMFUZZ_ONLY` does not ask for).
    Pass,
    /// A finding: the text explains it (signature, title, story with outcomes); the run
    /// that found it.
    Finding(String, Box<RunReport>),
}

/// One libFuzzer process's fuzzer: a charm unit and its coverage bitmap.
pub struct LifecycleFuzzer {
    pub settings: FuzzSettings,
    target: Target,
    lived: LivedTraces,
    frontier: Frontier,
    last: Option<RunReport>,
    /// `environment` findings met so far, by signature: how many inputs met each, and the
    /// first one's finding. They do not end the run; each is told once, with its fix.
    environment: std::collections::BTreeMap<String, (u64, Finding)>,
}

impl LifecycleFuzzer {
    pub fn new(settings: FuzzSettings, charm: Charm) -> Result<LifecycleFuzzer, FuzzSetupError> {
        let mut target = Target::new(
            charm,
            &settings.charm_dir,
            settings.config.clone(),
            settings.jujuc.as_deref(),
        )?;
        target.want_state = true;
        target.only = settings.only.clone();
        target.lifecycle_features = settings.feedback == Feedback::All;
        let mut map = CoverageMap::new(CODE_SLOTS)?;
        if settings.frontier > 0 {
            // Sweeps start after the step that did something new (`Frontier`).
            map.track_steps();
        }
        let frontier = Frontier::new(map.code_len(), map.state_slots());
        target.enable_coverage(map, settings.cover_ops)?;
        Ok(LifecycleFuzzer {
            settings,
            target,
            lived: LivedTraces::default(),
            frontier,
            last: None,
            environment: Default::default(),
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// What the frontier has done so far (all zero when it is off).
    pub fn frontier_stats(&self) -> FrontierStats {
        self.frontier.stats()
    }

    /// The coverage counters to register with libFuzzer (`None` when feedback is off).
    pub fn counters(&mut self) -> Option<(*mut u8, usize)> {
        if self.settings.feedback == Feedback::None {
            return None;
        }
        let map = self.target.coverage_mut()?;
        Some((map.as_mut_ptr(), map.len()))
    }

    /// Hunt only the finding `data` gives (its signature becomes `CHARMFUZZ_ONLY`), unless
    /// a filter is set already; the signature, or `None` when `data` is no finding.
    ///
    /// This is how `cargo fuzz tmin` keeps the bug it was given ([`minimizing_input`]):
    /// libFuzzer's crash minimisation takes any crash of a shorter input, and a story cut
    /// short often fails earlier, of a shallower bug (a `pebble-ready` before any config),
    /// so the minimised input would tell another story than the finding's.
    pub fn pin_finding(&mut self, data: &[u8]) -> Result<Option<String>, TargetError> {
        if self.target.only.is_some() {
            return Ok(None);
        }
        let report = self.target.run_bytes(data, None)?;
        let Some(finding) = report.finding else {
            return Ok(None);
        };
        self.target.only = Some(finding.signature.clone());
        Ok(Some(finding.signature))
    }

    /// Play one input.
    pub fn run_one(&mut self, data: &[u8]) -> Result<Verdict, TargetError> {
        let report = self.target.run_bytes(data, None)?;
        self.lived.remember(data, &report.trace);
        if let Some(map) = self.target.coverage_mut() {
            if !self.settings.hit_counts {
                map.flatten();
            }
            if self.settings.frontier > 0 {
                let first_step = |slot| map.first_step(slot);
                (self.frontier).observe_steps(
                    data,
                    map.counters(),
                    first_step,
                    &report.step_starts,
                );
            }
        }
        for f in &report.environment {
            let seen = self
                .environment
                .entry(f.signature.clone())
                .or_insert_with(|| (0, f.clone()));
            seen.0 += 1;
            if seen.0 == 1 {
                eprint!("{}", explain_environment(f));
            }
        }
        let verdict = self.verdict(&report);
        self.last = Some(report);
        Ok(verdict)
    }

    /// The `environment` findings met so far: signature, inputs that met it, the finding.
    pub fn environment_findings(&self) -> impl Iterator<Item = (&str, u64, &Finding)> {
        self.environment
            .iter()
            .map(|(sig, (n, f))| (sig.as_str(), *n, f))
    }

    /// What the last input [`LifecycleFuzzer::run_one`] played did.
    pub fn last_report(&self) -> Option<&RunReport> {
        self.last.as_ref()
    }

    /// The structure-aware mutation of `data[..size]` ([`mutate`]), knowing the trace the
    /// charm lived for it if this process ran it.
    ///
    /// In a share of the turns (`CHARMFUZZ_FRONTIER`, a quarter by default) the input
    /// libFuzzer chose is set aside for one of the inputs that lately made the charm do
    /// something new ([`Frontier`]): half of those turns try the next untried action after
    /// an input that ran new code or reached a new state (its sweep), the others tell one
    /// of the newest discoveries further at random ([`extend`]).
    pub fn mutate(&mut self, data: &mut [u8], size: usize, max_size: usize, seed: u32) -> usize {
        let mut rng = Rng::new(u64::from(seed) ^ 0xF0_0D);
        // The frontier tells stories further, which is no use when libFuzzer asks for a
        // smaller input (`cargo fuzz tmin`).
        if max_size >= size && rng.below(100) < usize::from(self.settings.frontier) {
            if let Some(n) = self.frontier_turn(data, max_size, &mut rng) {
                return self.fit(data, n);
            }
        }
        let m = self.mutation(&data[..size]);
        let n = mutate(&m, data, size, max_size, seed);
        self.fit(data, n)
    }

    /// Keep a mutated input within `CHARMFUZZ_MAX_STEPS` by cutting its bytes, so that it
    /// tells the same story wherever it is decoded ([`Charm::fit`]); its new length.
    fn fit(&self, data: &mut [u8], n: usize) -> usize {
        if self.settings.max_steps >= STORY_MAX_STEPS {
            return n;
        }
        let cut = self
            .target
            .charm()
            .fit(&data[..n], None, self.settings.max_steps);
        cut.len()
    }

    /// One frontier turn written to `out`; `None` when the frontier is empty or its pick
    /// cannot go on, and libFuzzer's pick is mutated instead.
    fn frontier_turn(&mut self, out: &mut [u8], max_size: usize, rng: &mut Rng) -> Option<usize> {
        // Half the frontier's turns go to sweeps: inputs that reached a new state come
        // often enough that sweeps alone would leave no turn for telling the newest
        // discoveries further at random.
        if rng.below(2) == 0 {
            if let Some(n) = self.sweep(out, max_size, rng) {
                return Some(n);
            }
        }
        let parent = self.frontier.pick(rng)?;
        if parent.len() > max_size.min(out.len()) {
            return None;
        }
        extend(&self.mutation(parent), parent, out, max_size, rng)
    }

    /// How the mutator sees `input`: this charm, the step limit, and the trace the charm
    /// lived for it if this process ran it.
    fn mutation<'a>(&'a self, input: &[u8]) -> Mutation<'a> {
        Mutation {
            charm: self.target.charm(),
            max_steps: Some(self.settings.max_steps),
            lived: self.lived.get(input),
        }
    }

    /// The next step of the sweep under way, or of the pending one most worth it
    /// ([`Frontier`]): its input with the next action that could follow it appended,
    /// written to `out`. `None` when no sweep is pending.
    fn sweep(&mut self, out: &mut [u8], max_size: usize, rng: &mut Rng) -> Option<usize> {
        while let Some(sweep) = self.frontier.sweep_mut() {
            let m = Mutation {
                charm: self.target.charm(),
                max_steps: Some(self.settings.max_steps),
                lived: self.lived.get(&sweep.input),
            };
            let from = &sweep.input[..sweep.end];
            let options = sweep.options.get_or_insert_with(|| m.next_options(from));
            let Some(next) = options.get(sweep.next).cloned() else {
                self.frontier.sweep_done();
                continue;
            };
            sweep.next += 1;
            let mut v = from.to_vec();
            self.frontier.stats.sweep_turns += 1;
            if m.append_next(&mut v, &next, rng) && v.len() <= max_size.min(out.len()) {
                out[..v.len()].copy_from_slice(&v);
                let n = v.len();
                self.frontier.swept = Some(v);
                return Some(n);
            }
        }
        None
    }

    /// libFuzzer's crossover slot: a splice of two stories ([`crossover`]) one time in
    /// four, and otherwise a mutation of the first ([`LifecycleFuzzer::mutate`]).
    ///
    /// libFuzzer picks its custom crossover as often as its custom mutator. Splicing the
    /// beginning of one story onto the end of another rarely keeps what made either of
    /// them interesting, while a lifecycle bug is reached by telling one story further,
    /// step by step; so most of these turns go to that.
    pub fn crossover(&mut self, a: &[u8], b: &[u8], out: &mut [u8], seed: u32) -> usize {
        if seed % 4 == 0 {
            return crossover(self.target.charm(), a, b, out, seed);
        }
        let n = a.len().min(out.len());
        out[..n].copy_from_slice(&a[..n]);
        let max = out.len();
        self.mutate(out, n, max, seed / 4)
    }

    fn verdict(&self, report: &RunReport) -> Verdict {
        // A failure `CHARMFUZZ_ONLY` does not ask for is no finding (`Target::only`).
        if report.finding.is_none() {
            return Verdict::Pass;
        }
        Verdict::Finding(explain(report), Box::new(report.clone()))
    }

    /// Write the `ops.testing` reproducer of a finding (`report`, a run of `data`) beside
    /// the crash artifact libFuzzer is about to write ([`reproducer_path`]), so that the
    /// finding's printout can point at a test to run at once. The crash store's copy is
    /// written again by `charmfuzz triage` from the minimised story.
    pub fn write_reproducer(
        &mut self,
        data: &[u8],
        report: &RunReport,
        artifact: &Path,
    ) -> Result<reproduce::Written, reproduce::ReproError> {
        let command = format!(
            "charmfuzz replay --charm {} {}",
            shell_word(&self.settings.charm_dir.display().to_string()),
            shell_word(&artifact.display().to_string())
        );
        reproduce::write(
            &mut self.target,
            data,
            report,
            &command,
            reproduce::Shape::Auto,
            &reproducer_path(artifact),
        )
    }
}

/// The text printed before libFuzzer writes the crash artifact: what was found, and the
/// story that found it with each event's outcome.
pub fn explain(report: &RunReport) -> String {
    let Some(f) = &report.finding else {
        return String::new();
    };
    let mut out = String::new();
    out.push_str("\n==== charmfuzz finding ====\n");
    out.push_str(&format!(
        "title: {}\nsignature: {}\nclass: {}\n",
        f.title,
        f.signature,
        f.class.as_str()
    ));
    out.push_str(&story::story_annotated(
        &report.trace,
        |i, _| match report.outcomes.get(i) {
            Some(o) if i == f.event => {
                let mut v = vec![format!("✗ {}", f.title)];
                if let Some(e) = &o.exception {
                    v.extend(e.traceback.lines().map(|l| format!("| {l}")));
                }
                v
            }
            Some(_) => Vec::new(),
            None => Vec::new(),
        },
    ));
    out.push_str("==== end of finding ====\n");
    out
}

/// What the fuzz target says the first time an input meets an `environment` finding: the
/// charm failed where a stand-in of charmfuzz's could not answer it. Fuzzing goes on (it
/// is not the charm's bug), and the setting that would fill the gap is named.
pub fn explain_environment(f: &Finding) -> String {
    let mut out = format!(
        "charmfuzz: environment finding, not the charm's (fuzzing goes on): {}\n  signature: {}\n",
        f.title, f.signature
    );
    for l in &f.lacks {
        out.push_str(&format!(
            "  lacked: {}\n    fix: {}\n",
            l.describe(),
            l.fix()
        ));
    }
    out
}

/// Where [`LifecycleFuzzer::write_reproducer`] puts the reproducer of the crash artifact
/// `artifact`: in `reproducers/` beside it, as `test_<artifact name>.py` (`crash-3fa9…` →
/// `reproducers/test_crash_3fa9….py`), a name pytest collects.
///
/// Not in the artifact directory itself: when the fuzzer stops, `cargo fuzz run` takes every
/// new file there for a failing input and prints it as one, and the scripts' `crash-*`
/// globs read that directory too.
pub fn reproducer_path(artifact: &Path) -> PathBuf {
    let name = artifact
        .file_name()
        .map(|n| n.to_string_lossy().replace(['-', '.'], "_"))
        .unwrap_or_else(|| "finding".into());
    artifact
        .with_file_name("reproducers")
        .join(format!("test_{name}.py"))
}

/// Whether a finding in this libFuzzer process gets a reproducer written beside its
/// artifact: not while libFuzzer minimises a crash (`cargo fuzz tmin` runs the crashing
/// input again and again) or merges a corpus (`cargo fuzz cmin`), where the crash is not
/// news and the file would only be rewritten.
pub fn writes_reproducer(args: &[String]) -> bool {
    !args
        .iter()
        .any(|a| a.starts_with("-minimize_crash") || a.starts_with("-merge"))
}

/// The input a `cargo fuzz tmin` step shrinks (`args`, the fuzz target's command line),
/// or `None` when this process does not minimise a crash. libFuzzer's `-minimize_crash=1`
/// runs one child process per step, each with `-minimize_crash_internal_step=1` and the
/// current smallest crash as its one input file; each child stops at the first mutant that
/// crashes.
pub fn minimizing_input(args: &[String]) -> Option<PathBuf> {
    if !args.iter().any(|a| a == "-minimize_crash_internal_step=1") {
        return None;
    }
    args.iter()
        .skip(1)
        .rfind(|a| !a.starts_with('-'))
        .map(PathBuf::from)
}

/// The lines printed after a finding, as cargo-fuzz prints its own: how to replay it,
/// shrink it and file it, ready to paste, and where its reproducer is (`reproducer`: the
/// file, or why there is none). `artifact` is where libFuzzer is about to write the input
/// (`<-artifact_prefix>crash-<sha1 of the input>`).
pub fn next_steps(
    settings: &FuzzSettings,
    artifact: &Path,
    reproducer: Option<Result<&Path, String>>,
) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let short = |p: &Path| shell_word(&p.strip_prefix(&cwd).unwrap_or(p).display().to_string());
    let bin = settings
        .jujuc
        .as_deref()
        .map(short)
        .unwrap_or_else(|| "charmfuzz".into());
    let common = format!("--charm {}", short(&settings.charm_dir));
    let a = short(artifact);
    let reproducer = match reproducer {
        Some(Ok(path)) => format!(
            "Reproducer (an ops.testing test) written to:\n\n    {}\n\n\
             Run it with:\n\n    python -m pytest {}\n",
            short(path),
            short(path)
        ),
        Some(Err(why)) => format!("No reproducer written: {why}\n"),
        None => String::new(),
    };
    format!(
        "Reproduce with:\n\n    {bin} replay {common} {a}\n\n\
         Minimize with:\n\n    {bin} minimize {common} {a}\n\n\
         File it in the crash store (report, story, trace, reproducer) with:\n\n    \
         {bin} triage {common} --store crashes {a}\n\n\
         {reproducer}"
    )
}

/// `word` as one word of a shell command line, quoted only if it needs to be (for the
/// ready-to-paste commands of findings and reports).
pub fn shell_word(word: &str) -> String {
    shlex::try_quote(word).map_or_else(|_| word.to_string(), |q| q.into_owned())
}

/// Where libFuzzer writes the crash artifact for `data`, given its command line: the
/// `-exact_artifact_path`, else `-artifact_prefix` (default: the working directory)
/// followed by `crash-` and the input's SHA-1.
pub fn crash_artifact_path(args: &[String], data: &[u8]) -> PathBuf {
    let flag = |name: &str| {
        args.iter()
            .rev()
            .find_map(|a| a.strip_prefix(name).map(str::to_string))
    };
    if let Some(exact) = flag("-exact_artifact_path=") {
        return PathBuf::from(exact);
    }
    let prefix = flag("-artifact_prefix=").unwrap_or_else(|| "./".into());
    PathBuf::from(format!(
        "{prefix}crash-{}",
        sha1_smol::Sha1::from(data).digest()
    ))
}

// --- mutation ------------------------------------------------------------------------------

/// A small, seeded random number generator (splitmix64): mutations must be reproducible
/// from libFuzzer's seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// A libFuzzer dictionary for a charm (`-dict=`): not words, which mean nothing to a
/// decoder that reads one byte per choice, but whole steps. Random stories are decoded
/// (every hook succeeding) and the bytes of each step are kept, up to `per_kind` distinct
/// ones per kind of action, shortest first; libFuzzer's own mutations (and the `bytes`
/// arm) then insert a whole plausible action where they would flip one byte.
pub fn dictionary(charm: &Charm, stories: u64, per_kind: usize) -> String {
    use std::collections::{BTreeMap, BTreeSet};
    let mut snippets: BTreeMap<&'static str, BTreeSet<(usize, Vec<u8>)>> = BTreeMap::new();
    for seed in 0..stories {
        let data = random_story(seed, 16);
        let mut d = charm.decoder(&data, Some(16));
        d.simulate();
        let mut ends: Vec<usize> = d.step_starts().iter().skip(1).copied().collect();
        ends.push(d.position().min(data.len()));
        let starts = d.step_starts().to_vec();
        for ((step, &start), &end) in d.trace().steps.iter().zip(&starts).zip(&ends) {
            if start < end && end - start <= 64 {
                snippets
                    .entry(step.action.kind().as_str())
                    .or_default()
                    .insert((end - start, data[start..end].to_vec()));
            }
        }
    }
    let mut out = format!(
        "# libFuzzer dictionary for the charm {}: encoded steps, by kind of action.\n\
         # Made by `charmfuzz dict`; pass it with -dict=FILE.\n",
        charm.spec.name
    );
    for (kind, set) in &snippets {
        for (i, (_, bytes)) in set.iter().take(per_kind).enumerate() {
            let escaped: String = bytes.iter().map(|b| format!("\\x{b:02x}")).collect();
            out.push_str(&format!("{}_{i}=\"{escaped}\"\n", kind.replace('-', "_")));
        }
    }
    out
}

/// The byte ranges of an input's steps, as the engine decodes it (every hook succeeding):
/// `[start_0, start_1, …, len]`.
pub fn step_boundaries(charm: &Charm, data: &[u8]) -> Vec<usize> {
    let mut d = charm.decoder(data, None);
    d.simulate();
    boundaries(&d, data.len())
}

/// One action that could come next at a story's end ([`Mutation::next_options`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextAction {
    pub kind: ActionKind,
    /// The byte that makes the decoder choose `kind` there.
    pub byte: u8,
    /// For an operator action, which of the charm's actions.
    pub name: Option<String>,
}

/// What the structure-aware mutator knows when it mutates an input.
#[derive(Clone, Copy)]
pub struct Mutation<'a> {
    pub charm: &'a Charm,
    /// The fuzzer's limit of actions per story: a story at the limit cannot be extended.
    pub max_steps: Option<usize>,
    /// The trace the charm lived when this process ran the input, if it did
    /// ([`LivedTraces`]): which options the decoder offered depended on what the charm did
    /// (the checks its Pebble layer declared, the data it wrote, the hooks that failed),
    /// and the mutator must see the same options to write bytes that mean what it intends.
    pub lived: Option<&'a Trace>,
}

impl<'a> Mutation<'a> {
    /// Decode `data` as the charm would live it, recording every step decision.
    fn decode<'b>(&'b self, data: &'b [u8]) -> Decoder<'b, 'b>
    where
        'a: 'b,
    {
        let mut d = self.charm.decoder(data, self.max_steps).record_choices();
        match self.lived {
            Some(t) => d.simulate_as(t),
            None => d.simulate(),
        }
        d
    }

    /// The end of the new step that starts with `kind_byte` at `at` in `prefix + kind_byte
    /// + random argument bytes`: its bytes, exactly as many as the decoder reads.
    fn new_step(&self, prefix: &[u8], kind_byte: u8, rng: &mut Rng) -> Option<(Vec<u8>, Action)> {
        let at = prefix.len();
        let mut cand = prefix.to_vec();
        cand.push(kind_byte);
        cand.extend((0..32).map(|_| rng.next_u64() as u8));
        let d = self.decode(&cand);
        let i = d.step_starts().iter().position(|&s| s == at)?;
        let end = d.step_ends()[i].clamp(at + 1, cand.len());
        Some((cand[at..end].to_vec(), d.trace().steps[i].action.clone()))
    }

    /// Append one valid action at the story's end, once the unit is idle: one of the
    /// action kinds Juju could let happen there, chosen uniformly (not by the decoder's
    /// weights, which favour the common), with random arguments.
    ///
    /// A third of the time the kind is one that has just become possible (a failing check
    /// can now recover, a new relation can now be broken), a third of the time one the
    /// story never took: what the charm has never been asked to do is where new
    /// behaviour is.
    fn append_action(&self, v: &mut Vec<u8>, rng: &mut Rng) -> bool {
        let (at, settle, kind_byte, ran) = {
            let d = self.decode(v);
            let Some(ext) = d.extension() else {
                return false;
            };
            let taken: Vec<ActionKind> = d.trace().steps.iter().map(|s| s.action.kind()).collect();
            let before: &[(ActionKind, u8)] = d.choice_points().last().map_or(&[], |p| &p.actions);
            let pick = |keep: &dyn Fn(&ActionKind) -> bool| -> Vec<u8> {
                ext.actions
                    .iter()
                    .filter(|(k, _)| keep(k))
                    .map(|(_, b)| *b)
                    .collect()
            };
            let newly_possible = pick(&|k| !before.iter().any(|(b, _)| b == k));
            // An operator action is as many kinds of action as the charm has actions.
            let never_taken = pick(&|k| !taken.contains(k) || *k == ActionKind::RunAction);
            let all = pick(&|_| true);
            let (from, fresh) = match rng.below(3) {
                0 if !newly_possible.is_empty() => (&newly_possible, false),
                1 if !never_taken.is_empty() => (&never_taken, true),
                _ => (&all, false),
            };
            let byte = from[rng.below(from.len())];
            let names: Vec<String> = d
                .trace()
                .steps
                .iter()
                .filter_map(|s| action_name(&s.action))
                .collect();
            (ext.at, ext.settle.clone(), byte, fresh.then_some(names))
        };
        // An operator action the story already ran is not new: try other arguments.
        let new = |a: &Action| {
            !ran.as_ref()
                .is_some_and(|ran| action_name(a).is_some_and(|n| ran.contains(&n)))
        };
        self.append_step(v, (at, &settle), kind_byte, 8, rng, &new)
            .is_some()
    }

    /// Append the step that starts with `kind_byte` after `v[..at] + settle`, with random
    /// arguments: up to `tries` argument draws, the first that `want` accepts (else the
    /// last). `None` when no step decodes there, else whether `want` accepted it.
    fn append_step(
        &self,
        v: &mut Vec<u8>,
        (at, settle): (usize, &[u8]),
        kind_byte: u8,
        tries: usize,
        rng: &mut Rng,
        want: &dyn Fn(&Action) -> bool,
    ) -> Option<bool> {
        let mut prefix = v[..at.min(v.len())].to_vec();
        prefix.extend_from_slice(settle);
        let mut step = None;
        for _ in 0..tries {
            step = self.new_step(&prefix, kind_byte, rng);
            if step.as_ref().is_none_or(|(_, a)| want(a)) {
                break;
            }
        }
        let (step, action) = step?;
        prefix.extend_from_slice(&step);
        *v = prefix;
        Some(want(&action))
    }

    /// Every action that could come next at the end of `v`: each action kind Juju could
    /// offer there, and an operator action once per action of the charm. Those the story
    /// never took come first (an operator action by its name): what the charm has never
    /// been asked in this story is where new behaviour is, and a sweep that finds
    /// something new there goes deeper before trying the rest. Empty when the story
    /// cannot go on.
    pub fn next_options(&self, v: &[u8]) -> Vec<NextAction> {
        let d = self.decode(v);
        let Some(ext) = d.extension() else {
            return Vec::new();
        };
        let steps = &d.trace().steps;
        let taken = |next: &NextAction| {
            (steps.iter()).any(|s| {
                s.action.kind() == next.kind
                    && (next.name.is_none() || action_name(&s.action) == next.name)
            })
        };
        let mut options = Vec::new();
        for &(kind, byte) in &ext.actions {
            if kind == ActionKind::RunAction {
                for a in &self.charm.spec.actions {
                    options.push(NextAction {
                        kind,
                        byte,
                        name: Some(a.name.clone()),
                    });
                }
            } else {
                options.push(NextAction {
                    kind,
                    byte,
                    name: None,
                });
            }
        }
        // A stable sort: otherwise in the decoder's order.
        options.sort_by_key(taken);
        options
    }

    /// Append `next` (one of [`Mutation::next_options`]) at the end of `v`, with random
    /// arguments. True when the step appended is `next`; an operator action is drawn until
    /// it has `next`'s name, 64 times at most (the decoder picks the name from the bytes).
    pub fn append_next(&self, v: &mut Vec<u8>, next: &NextAction, rng: &mut Rng) -> bool {
        let (at, settle) = {
            let d = self.decode(v);
            let Some(ext) = d.extension() else {
                return false;
            };
            (ext.at, ext.settle.clone())
        };
        let want = |a: &Action| next.name.is_none() || action_name(a) == next.name;
        self.append_step(v, (at, &settle), next.byte, 64, rng, &want) == Some(true)
    }

    /// Insert one valid action at a decision inside the story (before a hook or another
    /// action), chosen uniformly among those Juju could let happen there.
    fn insert_action(&self, v: &mut Vec<u8>, rng: &mut Rng) -> bool {
        let (at, kind_byte) = {
            let d = self.decode(v);
            let points = d.choice_points();
            if points.is_empty() {
                return false;
            }
            let p = &points[rng.below(points.len())];
            (p.at.min(v.len()), p.actions[rng.below(p.actions.len())].1)
        };
        let Some((step, _)) = self.new_step(&v[..at], kind_byte, rng) else {
            return false;
        };
        v.splice(at..at, step);
        true
    }
}

/// The name of the operator action an action runs, if it runs one.
fn action_name(a: &Action) -> Option<String> {
    match a {
        Action::RunAction { name, .. } => Some(name.clone()),
        _ => None,
    }
}

/// The traces the charm lived for the inputs this process ran lately, for the mutator
/// ([`Mutation::lived`]). libFuzzer runs every input it keeps (and every corpus file at
/// start-up) before it mutates it, so the inputs worth mutating are here. Bounded: the
/// oldest are forgotten first.
#[derive(Default)]
pub struct LivedTraces {
    traces: std::collections::HashMap<Vec<u8>, Trace>,
    order: std::collections::VecDeque<Vec<u8>>,
}

impl LivedTraces {
    const CAPACITY: usize = 4096;

    pub fn remember(&mut self, data: &[u8], trace: &Trace) {
        if self.traces.contains_key(data) {
            return;
        }
        if self.order.len() >= Self::CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.traces.remove(&old);
            }
        }
        self.order.push_back(data.to_vec());
        self.traces.insert(data.to_vec(), trace.clone());
    }

    pub fn get(&self, data: &[u8]) -> Option<&Trace> {
        self.traces.get(data)
    }
}

/// Which coverage slots the inputs of this process have hit, and how many inputs hit each:
/// what makes an input a discovery, as libFuzzer judges it with hit counts flattened
/// ([`CoverageMap::flatten`]), and how rare a discovery has stayed since.
#[derive(Default)]
pub struct SlotsSeen(Vec<u32>);

impl SlotsSeen {
    /// Note what one input hit (`counters`, the bitmap after its run); the slots no input
    /// hit before it.
    pub fn note(&mut self, counters: &[u8]) -> Vec<usize> {
        self.note_as(counters, true)
    }

    /// [`SlotsSeen::note`], counting the input among those that hit each slot only if
    /// `count`; uncounted, it still makes the slots it hit first seen (once).
    pub fn note_as(&mut self, counters: &[u8], count: bool) -> Vec<usize> {
        if self.0.len() < counters.len() {
            self.0.resize(counters.len(), 0);
        }
        let mut new = Vec::new();
        for (i, (hits, &c)) in self.0.iter_mut().zip(counters).enumerate() {
            if c != 0 {
                if *hits == 0 {
                    new.push(i);
                    *hits = 1;
                } else if count {
                    *hits = hits.saturating_add(1);
                }
            }
        }
        new
    }

    /// How many of the inputs noted so far hit `slot`.
    pub fn hits(&self, slot: usize) -> u32 {
        self.0.get(slot).copied().unwrap_or(0)
    }
}

/// The inputs that lately made the charm do something this process had never seen it do,
/// newest first: where the mutator tells stories further ([`LifecycleFuzzer::mutate`]).
///
/// A lifecycle bug several steps deep is reached one step at a time, and each step is
/// reached by extending the input that reached the step before. libFuzzer chooses the
/// input to mutate from its whole corpus, which soon holds hundreds of stories, so the one
/// story that has just made a failing check recover is chosen once in hundreds of turns;
/// libFuzzer's custom mutator receives that choice and has no say in it. So the fuzzer
/// keeps its own short queues of the newest discoveries and, in a share of the turns (a
/// quarter by default, [`DEFAULT_FRONTIER`]), tells one of them further instead: the newest
/// with probability 1/2, the one before with 1/4, and so on. This is the "newest first" of
/// AFL's queue and of Zest's favouring of fresh inputs. The other turns stay with
/// libFuzzer's choice, so older stories are still mutated, early steps included.
///
/// Two queues, because discoveries differ in worth. New lines or arcs of the charm's code,
/// and new changes of what it remembers (the `memory` lifecycle feature: a check that
/// failed *after a backup was taken* moves the charm to a state it never had), are rare
/// after the first minutes, and each is a step into behaviour never run; a new lifecycle
/// feature of another sort (one more hook-after-hook pair, a status after a hook, a field
/// of the memory after a kind of hook) comes every few runs. In one queue, the
/// rare step would be pushed out by the common ones within a few dozen runs; so two turns
/// in three extend an input that ran new code or reached a new state.
///
/// And such an input is swept: each action that could come next (every kind Juju could
/// offer there, and every operator action of the charm) is tried once, in half of the
/// frontier's turns, right after each step that first hit new code or state
/// ([`Frontier::observe_steps`]), not at the story's end, where what the step began has
/// often ended. A lifecycle bug's next step is often one particular action right
/// after the step before (`get-status` while a restore runs, not after the next check
/// event ended it), which a random pick among twenty-odd kinds and several action names
/// finds once in a hundred tries; the sweep, in thirty.
///
/// Sweeps are few (one turn in nine, some thirty turns each), and discoveries many, so
/// which input is swept next decides whether a deep path is followed at all. The next
/// sweep is the pending one most *worth* sweeping: the number of slots its step hit first,
/// over the number of inputs that have hit the rarest of them since. Rare, as FairFuzz
/// targets rare branches: the one story that started a restore stays rare, since only its
/// own descendants start one, while a new hook pairing found by one input is soon hit by
/// dozens. And big: a step that ran a whole new handler (a restore: a dozen lines and arcs
/// and a new state at once) is a larger step into new behaviour than one more arc, and at
/// equal rarity goes first. A sweep's own inputs are not counted (each of them hits
/// what its input hit), so a sweep left for a deeper one keeps its worth. The newest went
/// first before, and within a few dozen runs a stream of common discoveries pushed the
/// restore out of the queue before it was swept. A sweep once begun runs to its end,
/// unless one of its own inputs does something new that is worth as much: then the path
/// goes on at once, depth first, and the child is swept before its parent's sweep resumes
/// (a bug four steps past a backup is four sweeps deep, each finding its step halfway
/// through). A child worth less waits: a restore's sweep is not left for the action after
/// it that changed the charm's memory once more (a recovery, ending the restore). And a
/// sweep is set aside, to resume where it was, when a pending one is worth more than it
/// was when it began: a path of one-field memory changes (a counter going up) would
/// otherwise hold the sweeps for hundreds of runs while the story that started a restore
/// waited. So sweeps go best first; among equals the newest, which makes a sweep's own
/// discovery go first (depth first). The sweep under way is weighed at its worth when it
/// began, the pending ones at their worth now: a sweep's worth falls while it runs, as
/// libFuzzer's own mutations of the same story hit what it found, and weighed as it was
/// now, each fresh discovery of one arc set it aside (the campaign bench's seed 2 began 28
/// sweeps in 1,500 runs and finished 3; weighed as it began, 10 and 5).
///
/// Depth first works only if "new state" is rare and means a state. When it counted each
/// field of the charm's memory after each kind of hook (the `stored` feature), nearly
/// every action after a backup was a new state (`config-changed` with a backup taken, then
/// `update-status` with one…), the first option of each sweep went a level deeper, and
/// campaigns went five sweeps deep along whatever came first and never finished one (the
/// figures [`FrontierStats`] prints). Counted as changes of the whole memory (`memory`),
/// most actions change nothing, and the levels of a path are the charm's own states:
/// a backup, a restart after a failure, a recovery, a restore.
#[derive(Default)]
pub struct Frontier {
    /// Every counter slot some input of this process has hit.
    seen: SlotsSeen,
    /// The slots of the charm's code, then of the changes of its memory (the `memory`
    /// lifecycle features); the rest are other lifecycle features.
    code_len: usize,
    state: std::ops::Range<usize>,
    /// Inputs that ran new code or reached a new state, the newest last.
    code: std::collections::VecDeque<Vec<u8>>,
    /// Inputs that reached only new lifecycle features, the newest last.
    features: std::collections::VecDeque<Vec<u8>>,
    /// Inputs that ran new code or reached a new state, each to be followed by every
    /// action that could come next, one per turn ([`LifecycleFuzzer::mutate`]); the
    /// newest last.
    sweeps: Vec<Sweep>,
    /// The sweep under way, run to its end before the next is chosen (unless one of its
    /// own inputs is a discovery).
    sweeping: Option<Sweep>,
    /// The last input a sweep produced: if it runs new code or reaches a new state worth
    /// as much as the sweep under way, it is swept next.
    swept: Option<Vec<u8>>,
    stats: FrontierStats,
}

/// What the frontier has done so far in this process ([`Frontier::stats`]): printed every
/// so often by the fuzz target, so that a campaign shows whether it follows paths of new
/// steps (sweeps finishing, going deeper) or only gathers discoveries it never gets to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrontierStats {
    /// Inputs that ran new code or reached a new state.
    pub code: usize,
    /// Inputs that reached only new lifecycle features.
    pub features: usize,
    /// Of the `code` discoveries, those a sweep's turn made.
    pub by_sweeps: usize,
    /// Sweeps begun, and those that tried every next action.
    pub sweeps_begun: usize,
    pub sweeps_done: usize,
    /// Mutations the sweeps made (one next action each).
    pub sweep_turns: usize,
    /// Sweeps set aside for a pending one worth more, to resume later.
    pub set_aside: usize,
    /// Sweeps waiting.
    pub pending: usize,
    /// How many sweeps deep the path under way is (a sweep of a sweep's discovery is one
    /// deeper), and the deepest so far.
    pub depth: usize,
    pub max_depth: usize,
}

impl std::fmt::Display for FrontierStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} new code/state ({} by sweeps), {} new features; sweeps {} done of {} begun \
             ({} turns, {} set aside), {} pending, depth {} (deepest {})",
            self.code,
            self.by_sweeps,
            self.features,
            self.sweeps_done,
            self.sweeps_begun,
            self.sweep_turns,
            self.set_aside,
            self.pending,
            self.depth,
            self.max_depth
        )
    }
}

/// An input whose every possible next action is being tried, one per mutation.
struct Sweep {
    input: Vec<u8>,
    /// Where the actions are tried: the end of the step that first hit `found`
    /// ([`Frontier::observe_steps`]), the input's end when that is not known.
    end: usize,
    /// The slots of code or state this input hit first (at the step before `end`): its
    /// worth is theirs ([`Frontier::worth`]).
    found: Vec<usize>,
    /// What could come next ([`Mutation::next_options`]), listed at the first turn.
    options: Option<Vec<NextAction>>,
    /// The next option to try.
    next: usize,
    /// How many sweeps led here: 0 for a discovery of libFuzzer's own pick, one more than
    /// the sweep whose turn made it.
    depth: usize,
    /// What it was worth when it became the sweep under way ([`Frontier::begin`]): what it
    /// is weighed at while under way.
    begun_at: f64,
}

/// What an input did that no input had done before ([`Frontier::observe`]), least first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Discovery {
    Nothing,
    /// A lifecycle feature (an ordering of hooks, a response), and no new code or state.
    Feature,
    /// A line or arc of the charm's code, or a new shape of what the charm remembers.
    Code,
}

impl Frontier {
    const CAPACITY: usize = 16;
    /// Sweeps pending at most; past it the commonest is dropped.
    const SWEEPS: usize = 32;

    /// A frontier over a bitmap whose first `code_len` slots are the charm's code and whose
    /// `state` slots are what the charm remembers ([`CoverageMap::state_slots`]).
    pub fn new(code_len: usize, state: std::ops::Range<usize>) -> Frontier {
        Frontier {
            code_len,
            state,
            ..Frontier::default()
        }
    }

    /// Note what `input` hit (`counters`, the bitmap after its run); an input that hit a
    /// slot no input hit before joins the queue of its kind of discovery.
    pub fn observe(&mut self, input: &[u8], counters: &[u8]) -> Discovery {
        self.observe_steps(input, counters, |_| None, &[])
    }

    /// [`Frontier::observe`], knowing at which step of its story the run first hit each
    /// slot (`first_step`, [`CoverageMap::first_step`]) and where each step's bytes start
    /// (`step_starts`). A discovery is then swept from the end of each step that did
    /// something new, not from the end of its story: a story that starts a restore and
    /// goes on has usually ended it again (a check recovers, the model is destroyed)
    /// before its end, where no next action finds the restore running; and a story at
    /// the step limit has no next action at all. Each step's sweep is worth what that step
    /// hit first.
    pub fn observe_steps(
        &mut self,
        input: &[u8],
        counters: &[u8],
        first_step: impl Fn(usize) -> Option<usize>,
        step_starts: &[usize],
    ) -> Discovery {
        let from_sweep = self.swept.take().is_some_and(|v| v == input);
        // A sweep's inputs all hit what its input hit; counted, they would make any slot
        // of a swept input look common ([`Frontier::worth`]).
        let new = self.seen.note_as(counters, !from_sweep);
        let code: Vec<usize> = (new.iter().copied())
            .filter(|&i| i < self.code_len || self.state.contains(&i))
            .collect();
        let found = match (code.is_empty(), new.is_empty()) {
            (false, _) => Discovery::Code,
            (true, false) => Discovery::Feature,
            (true, true) => Discovery::Nothing,
        };
        let queue = match found {
            Discovery::Nothing => return found,
            Discovery::Code => {
                // One sweep per step that first hit something new, from that step's end:
                // the new slots grouped by the end of the step that first hit them (the
                // story's end when not known), the earliest step swept first among equals.
                let mut by_end = std::collections::BTreeMap::<usize, Vec<usize>>::new();
                for &i in &code {
                    let end = (first_step(i).and_then(|k| step_starts.get(k + 1)).copied())
                        .filter(|&end| end < input.len());
                    by_end
                        .entry(end.unwrap_or(input.len()))
                        .or_default()
                        .push(i);
                }
                let depth = match &self.sweeping {
                    Some(s) if from_sweep => s.depth + 1,
                    _ => 0,
                };
                let mut sweeps: Vec<Sweep> = (by_end.into_iter().rev())
                    .map(|(end, found)| Sweep {
                        input: input.to_vec(),
                        end,
                        found,
                        options: None,
                        next: 0,
                        depth,
                        begun_at: 0.0,
                    })
                    .collect();
                self.stats.code += 1;
                self.stats.by_sweeps += usize::from(from_sweep);
                // A step further along the path being swept (what it did new, it did at
                // the step the sweep appended, the deepest): follow it first, unless the
                // sweep under way is worth more (a restore just begun is not left for the
                // one action after it that changed the charm's memory again).
                let deeper = from_sweep
                    && (self.sweeping.as_ref())
                        .is_none_or(|s| self.worth(&sweeps[0]) >= s.begun_at);
                if deeper {
                    let deepest = sweeps.remove(0);
                    sweeps.extend(self.begin(deepest));
                }
                for sweep in sweeps {
                    if self.sweeps.len() >= Self::SWEEPS {
                        // The least worth goes; the oldest of those (`min_by` keeps the
                        // first minimum).
                        let least = (0..self.sweeps.len()).min_by(|&i, &j| self.by_worth(i, j));
                        if let Some(i) = least {
                            self.sweeps.remove(i);
                        }
                    }
                    self.sweeps.push(sweep);
                }
                &mut self.code
            }
            Discovery::Feature => {
                self.stats.features += 1;
                &mut self.features
            }
        };
        if queue.len() >= Self::CAPACITY {
            queue.pop_front();
        }
        queue.push_back(input.to_vec());
        found
    }

    /// One of the recent discoveries: two times in three one that ran new code or state (if any),
    /// and within a queue the newest with probability 1/2, the next with 1/4…
    pub fn pick(&self, rng: &mut Rng) -> Option<&[u8]> {
        let queue = match (self.code.is_empty(), self.features.is_empty()) {
            (true, true) => return None,
            (false, true) => &self.code,
            (true, false) => &self.features,
            (false, false) if rng.below(3) < 2 => &self.code,
            (false, false) => &self.features,
        };
        let n = queue.len();
        let back = (rng.next_u64() | (1 << 63)).trailing_zeros() as usize;
        Some(&queue[n - 1 - back.min(n - 1)])
    }

    /// What sweeping `sweep` is worth: how many slots its step hit first, over how many
    /// inputs have hit the rarest of them since (sweeps' own inputs not counted).
    fn worth(&self, sweep: &Sweep) -> f64 {
        let rarest = (sweep.found.iter().map(|&i| self.seen.hits(i)).min()).unwrap_or(u32::MAX);
        sweep.found.len() as f64 / f64::from(rarest.max(1))
    }

    /// Pending sweeps `i` and `j` ordered by what they are worth.
    fn by_worth(&self, i: usize, j: usize) -> std::cmp::Ordering {
        self.worth(&self.sweeps[i])
            .total_cmp(&self.worth(&self.sweeps[j]))
    }

    /// The pending sweep most worth sweeping; the newest among equals (`max_by` keeps the
    /// last maximum).
    fn best(&self) -> Option<usize> {
        (0..self.sweeps.len()).max_by(|&i, &j| self.by_worth(i, j))
    }

    /// Make `sweep` the one under way, at what it is worth now; the one it replaces, if any.
    fn begin(&mut self, mut sweep: Sweep) -> Option<Sweep> {
        // A sweep set aside and resumed is not begun again.
        self.stats.sweeps_begun += usize::from(sweep.next == 0);
        sweep.begun_at = self.worth(&sweep);
        self.stats.max_depth = self.stats.max_depth.max(sweep.depth);
        self.sweeping.replace(sweep)
    }

    /// The sweep under way, unless a pending one is worth more than it was when it began:
    /// then, or when no sweep is under way, the pending one most worth sweeping (the newest
    /// of those). A sweep set aside resumes where it was. `None` when no sweep is pending.
    fn sweep_mut(&mut self) -> Option<&mut Sweep> {
        let best = self.best();
        let worth_more = |s: &Sweep| best.is_some_and(|i| self.worth(&self.sweeps[i]) > s.begun_at);
        if self.sweeping.as_ref().is_none_or(worth_more) {
            let sweep = self.sweeps.remove(best?);
            let aside = self.begin(sweep);
            self.stats.set_aside += usize::from(aside.is_some());
            self.sweeps.extend(aside);
        }
        self.sweeping.as_mut()
    }

    /// The sweep under way has tried every next action.
    fn sweep_done(&mut self) {
        self.sweeping = None;
        self.stats.sweeps_done += 1;
    }

    /// What the frontier has done so far.
    pub fn stats(&self) -> FrontierStats {
        FrontierStats {
            pending: self.sweeps.len(),
            depth: self.sweeping.as_ref().map_or(0, |s| s.depth),
            ..self.stats
        }
    }

    /// How many inputs the queues hold.
    pub fn len(&self) -> usize {
        self.code.len() + self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Tell `parent` further, written to `out`: two times in three one to three valid actions
/// appended at its end ([`Mutation::append_action`]), else one valid action inserted at a
/// decision inside it ([`Mutation::insert_action`]). Some bugs need a step at the end of
/// the newest story (a `get-status` while the restore it started runs), others a step
/// early in it (an action before the first `config-changed`). `None` when no action fits
/// (the story is at the step limit) or the result does not fit in `max_size`.
pub fn extend(
    m: &Mutation<'_>,
    parent: &[u8],
    out: &mut [u8],
    max_size: usize,
    rng: &mut Rng,
) -> Option<usize> {
    let mut v = parent.to_vec();
    let changed = if rng.below(3) < 2 {
        let n = 1 + rng.below(3);
        (0..n).filter(|_| m.append_action(&mut v, rng)).count() > 0
    } else {
        m.insert_action(&mut v, rng)
    };
    if !changed || v.len() > max_size.min(out.len()) {
        return None;
    }
    out[..v.len()].copy_from_slice(&v);
    Some(v.len())
}

/// The byte ranges of the steps `d` decoded from `len` bytes: `[start_0, start_1, …, len]`.
fn boundaries(d: &Decoder<'_, '_>, len: usize) -> Vec<usize> {
    let mut b: Vec<usize> = d.step_starts().iter().map(|&s| s.min(len)).collect();
    b.push(len);
    b.dedup();
    if b.first() != Some(&0) {
        b.insert(0, 0);
    }
    b
}

/// The structure-aware mutation (see the module docs). `data[..size]` is the input;
/// returns the new size (at most `max_size`).
///
/// Most mutations tell the story further: one to three valid actions appended at its end.
/// That is how a lifecycle bug is reached step by step: each input that made the charm do
/// something new is kept, and its continuations are tried next. The others reshape what
/// is there: insert a valid action inside the story, delete, duplicate or swap whole
/// steps, change or bump one choice, end the story early, insert raw choices.
pub fn mutate(m: &Mutation<'_>, data: &mut [u8], size: usize, max_size: usize, seed: u32) -> usize {
    let mut rng = Rng::new(seed as u64);
    let mut v = data[..size].to_vec();
    if max_size < size {
        // libFuzzer asks for a smaller input: `cargo fuzz tmin` sets the limit below the
        // crash it minimises. Whole steps are cut until the story fits; cutting its last
        // bytes instead would cut its ending, where a lifecycle bug usually fails.
        while v.len() > max_size && reshape(m, &mut v, DELETE_STEP, &mut rng) {}
        v.truncate(max_size);
        data[..v.len()].copy_from_slice(&v);
        return v.len();
    }
    let rounds = 1 + rng.below(2);
    for _ in 0..rounds {
        let done = match rng.below(12) {
            // Tell the story further.
            0..=3 => {
                let n = 1 + rng.below(3);
                (0..n).filter(|_| m.append_action(&mut v, &mut rng)).count() > 0
            }
            // A valid action somewhere inside.
            4 => m.insert_action(&mut v, &mut rng),
            op => reshape(m, &mut v, op, &mut rng),
        };
        if !done {
            // A small change inside one step: bump a choice to the next option.
            if v.is_empty() {
                v.push(rng.next_u64() as u8);
            } else {
                let i = rng.below(v.len());
                v[i] = v[i].wrapping_add(1 + rng.below(16) as u8);
            }
        }
        if v.len() > max_size {
            v.truncate(max_size);
        }
    }
    let n = v.len().min(max_size).min(data.len());
    data[..n].copy_from_slice(&v[..n]);
    n
}

/// The [`reshape`] that deletes a whole step.
const DELETE_STEP: usize = 5;

/// The mutations of [`mutate`] that reshape the steps a story has (`op` picks one); false
/// when the story has too few steps for it.
fn reshape(m: &Mutation<'_>, v: &mut Vec<u8>, op: usize, rng: &mut Rng) -> bool {
    // Boundaries of the story as it is now (an earlier round may have changed it).
    let b = boundaries(&m.decode(v), v.len());
    let steps = b.len() - 1;
    let span = |i: usize| b[i]..b[i + 1];
    match op {
        // Delete a whole step.
        DELETE_STEP if steps > 1 => {
            v.drain(span(1 + rng.below(steps - 1)));
        }
        // Duplicate a step (the same thing happening twice).
        6 if steps > 0 => {
            let r = span(rng.below(steps));
            let copy = v[r.clone()].to_vec();
            v.splice(r.end..r.end, copy);
        }
        // Swap two neighbouring steps.
        7 if steps > 2 => {
            let i = 1 + rng.below(steps - 2);
            let (a, c) = (span(i), span(i + 1));
            let mut swapped = v[c.clone()].to_vec();
            swapped.extend_from_slice(&v[a.clone()]);
            v.splice(a.start..c.end, swapped);
        }
        // Change one choice.
        8 if !v.is_empty() => {
            let i = rng.below(v.len());
            v[i] = rng.next_u64() as u8;
        }
        // End the story after some step.
        9 if steps > 1 => v.truncate(b[1 + rng.below(steps - 1)]),
        // Raw choices at a step boundary (whatever they decode to).
        10 => {
            let at = b[rng.below(b.len())].min(v.len());
            let n = 1 + rng.below(6);
            let new: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            v.splice(at..at, new);
        }
        _ => return false,
    }
    true
}

/// Splice: the beginning of one story (up to a step boundary) and the end of another (from
/// a step boundary). Returns the size written to `out`.
pub fn crossover(charm: &Charm, a: &[u8], b: &[u8], out: &mut [u8], seed: u32) -> usize {
    let mut rng = Rng::new(seed as u64 ^ 0xC0FF_EE00);
    let ba = step_boundaries(charm, a);
    let bb = step_boundaries(charm, b);
    let cut_a = ba[rng.below(ba.len())];
    let cut_b = bb[rng.below(bb.len())];
    let mut v = a[..cut_a].to_vec();
    v.extend_from_slice(&b[cut_b..]);
    let n = v.len().min(out.len());
    out[..n].copy_from_slice(&v[..n]);
    n
}

/// The byte-level splice used by the `bytes` ablation arm (no knowledge of steps).
pub fn crossover_bytes(a: &[u8], b: &[u8], out: &mut [u8], seed: u32) -> usize {
    let mut rng = Rng::new(seed as u64 ^ 0xB17E);
    let cut_a = rng.below(a.len() + 1);
    let cut_b = rng.below(b.len() + 1);
    let mut v = a[..cut_a].to_vec();
    v.extend_from_slice(&b[cut_b..]);
    let n = v.len().min(out.len());
    out[..n].copy_from_slice(&v[..n]);
    n
}

/// What [`random_search`] did: how many stories and events it ran, and the report of the
/// story that ended it with a finding, if one did.
#[derive(Debug)]
pub struct SearchResult {
    pub runs: u64,
    pub events: u64,
    /// Every signature met, with the first run (1-based) that met it, how many runs did,
    /// and its title.
    pub signatures: std::collections::BTreeMap<String, SignatureSeen>,
    pub finding: Option<RunReport>,
    /// The bytes of the story that ended the search.
    pub input: Option<Vec<u8>>,
    /// Stories none of whose first three hooks failed: the share of stories that got into
    /// the charm's lifecycle rather than dying at deploy (for a real charm, usually on
    /// something the harness's world lacks).
    pub past_first_three: u64,
    /// The hooks the stories reached, of those the charm's metadata makes possible.
    pub lifecycle: crate::lifecycle_map::LifecycleMap,
}

/// A signature [`random_search`] met.
#[derive(Debug)]
pub struct SignatureSeen {
    pub first_run: u64,
    pub runs: u64,
    pub title: String,
    /// The charm's, or the environment's: an `environment` finding never ends a search.
    pub class: FindingClass,
    /// For an `environment` finding, what the charm lacked and how to give it.
    pub lacks: Vec<crate::target::Lack>,
}

/// Random stories through the same decoder, without any feedback: the baseline arm of the
/// ablation benchmark. Story `i` is `seed_bytes(first_seed + i)`, with room for `max_steps`
/// actions; the search ends at the first finding `stop` accepts, or after `runs` stories.
pub fn random_search(
    target: &mut Target,
    runs: u64,
    max_steps: usize,
    first_seed: u64,
    stop: impl Fn(&Finding) -> bool,
) -> Result<SearchResult, TargetError> {
    let mut result = SearchResult {
        runs: 0,
        events: 0,
        signatures: Default::default(),
        finding: None,
        input: None,
        past_first_three: 0,
        lifecycle: crate::lifecycle_map::LifecycleMap::new(&target.charm().spec),
    };
    for i in 0..runs {
        let bytes = random_story(first_seed.wrapping_add(i), max_steps);
        let report = target.run_bytes(&bytes, Some(max_steps))?;
        result.runs += 1;
        result.events += report.outcomes.len() as u64;
        result.lifecycle.add(&report.trace);
        if report.outcomes.iter().take(3).all(|o| o.exit.ok()) {
            result.past_first_three += 1;
        }
        for f in report.environment.iter().chain(&report.finding) {
            let seen = result
                .signatures
                .entry(f.signature.clone())
                .or_insert_with(|| SignatureSeen {
                    first_run: result.runs,
                    runs: 0,
                    title: f.title.clone(),
                    class: f.class,
                    lacks: f.lacks.clone(),
                });
            seen.runs += 1;
        }
        if let Some(f) = &report.finding {
            if stop(f) {
                // Cut to the story it told, which the bytes alone then tell everywhere.
                result.input = Some(target.charm().fit(&bytes, Some(&report.trace), max_steps));
                result.finding = Some(report);
                break;
            }
        }
    }
    Ok(result)
}

/// Bytes enough for a random story of `steps` actions (each action takes a few choices).
pub fn random_story_len(steps: usize) -> usize {
    64 + steps * 24
}

/// Random story `seed` of the no-feedback arm: [`random_story_len`] bytes of [`seed_bytes`].
pub fn random_story(seed: u64, steps: usize) -> Vec<u8> {
    seed_bytes(seed, random_story_len(steps))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Charm {
        Charm::load(&default_charm_dir()).unwrap().for_target()
    }

    fn plain(charm: &Charm) -> Mutation<'_> {
        Mutation {
            charm,
            max_steps: Some(16),
            lived: None,
        }
    }

    fn kinds(charm: &Charm, data: &[u8]) -> Vec<ActionKind> {
        let t = charm.decoder(data, Some(16)).run_to_end();
        t.steps.iter().map(|s| s.action.kind()).collect()
    }

    #[test]
    fn an_appended_action_is_one_more_valid_step_of_any_possible_kind() {
        let charm = demo();
        let mut seen = std::collections::BTreeSet::new();
        let mut extended = 0;
        for seed in 0..300u64 {
            // A short story (deploy and a few steps), which the decoder ends by running
            // out of bytes.
            let mut v = seed_bytes(seed, 24);
            let before = kinds(&charm, &v);
            if before.len() >= 16 {
                continue;
            }
            let m = plain(&charm);
            let offered: Vec<ActionKind> = {
                let d = m.decode(&v);
                // A story the bytes chose to end cannot be told further.
                let Some(ext) = d.extension() else { continue };
                ext.actions.iter().map(|(k, _)| *k).collect()
            };
            extended += 1;
            let mut rng = Rng::new(seed);
            assert!(m.append_action(&mut v, &mut rng));
            let after = kinds(&charm, &v);
            assert_eq!(after.len(), before.len() + 1, "seed {seed}: one step more");
            assert_eq!(
                &after[..before.len()],
                &before[..],
                "seed {seed}: same story first"
            );
            let new = *after.last().unwrap();
            assert!(offered.contains(&new), "seed {seed}: {new:?} was offered");
            seen.insert(new);
        }
        assert!(extended > 200, "most short stories can go on: {extended}");
        // Kinds are drawn uniformly among the possible ones, not by the decoder's weights.
        assert!(seen.len() >= 15, "many kinds appended: {seen:?}");
    }

    #[test]
    fn every_next_action_can_be_appended_by_name() {
        let charm = demo();
        let m = plain(&charm);
        let seed = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/corpus/lifecycle/backup-then-churn"
        ))
        .unwrap();
        let options = m.next_options(&seed);
        let mut names: Vec<&str> = options.iter().filter_map(|o| o.name.as_deref()).collect();
        let mut actions: Vec<&str> = charm.spec.actions.iter().map(|a| a.name.as_str()).collect();
        names.sort_unstable();
        actions.sort_unstable();
        assert_eq!(
            names, actions,
            "an operator action once per action of the charm"
        );
        assert!(options.len() > actions.len() + 5, "{options:?}");
        let mut rng = Rng::new(3);
        for next in &options {
            let mut v = seed.clone();
            assert!(m.append_next(&mut v, next, &mut rng), "{next:?}");
            let steps = m.decode(&v).trace().steps.clone();
            assert_eq!(steps.len(), m.decode(&seed).trace().steps.len() + 1);
            let last = &steps.last().unwrap().action;
            assert_eq!(last.kind(), next.kind);
            assert_eq!(action_name(last), next.name);
        }
        // What the story has taken comes after everything it never took: here a config
        // change and a `backup` (and the leadership change the seed decodes to).
        let mut v = seed.clone();
        for (kind, name) in [
            (ActionKind::Config, None),
            (ActionKind::RunAction, Some("backup")),
        ] {
            let next = NextAction {
                kind,
                byte: (options.iter().find(|o| o.kind == kind).unwrap()).byte,
                name: name.map(String::from),
            };
            assert!(m.append_next(&mut v, &next, &mut rng));
        }
        let later = m.next_options(&v);
        let taken = |o: &NextAction| {
            matches!(o.kind, ActionKind::Config | ActionKind::LeadershipLost)
                || o.name.as_deref() == Some("backup")
        };
        assert!(later.iter().filter(|o| taken(o)).count() >= 2, "{later:?}");
        let first_taken = later.iter().position(taken).unwrap();
        assert!(later[first_taken..].iter().all(taken), "{later:?}");
        let names: Vec<&str> = later.iter().filter_map(|o| o.name.as_deref()).collect();
        assert_eq!(names.last(), Some(&"backup"));
    }

    #[test]
    fn an_inserted_action_keeps_the_story_before_it() {
        let charm = demo();
        let mut grew = 0;
        for seed in 0..200u64 {
            let mut v = seed_bytes(seed, 200);
            let before = charm.decoder(&v, None).run_to_end();
            let m = Mutation {
                charm: &charm,
                max_steps: None,
                lived: None,
            };
            let mut rng = Rng::new(seed);
            if !m.insert_action(&mut v, &mut rng) {
                continue;
            }
            let after = charm.decoder(&v, None).run_to_end();
            // The steps before the insertion point are the same; the new one is valid
            // (decoding never fails), and the story has at least one step more there.
            let same = before
                .steps
                .iter()
                .zip(&after.steps)
                .take_while(|(a, b)| a.action == b.action)
                .count();
            assert!(
                same < after.steps.len(),
                "seed {seed}: something was inserted"
            );
            if after.steps.len() > before.steps.len() {
                grew += 1;
            }
        }
        assert!(grew > 100, "most insertions lengthen the story: {grew}");
    }

    #[test]
    fn the_mutator_sees_the_options_the_charm_made_possible() {
        // Pebble check events are possible only once the charm's layer declared a check
        // (an effect of a hook). The mutator must decode the story as the charm lived it to
        // offer them.
        let charm = demo();
        let m = plain(&charm);
        let mut found = false;
        for seed in 0..100u64 {
            let v = seed_bytes(seed, 24);
            // Live the story with the check declared at the first pebble-ready.
            let mut d = charm.decoder(&v, Some(16));
            while let Ok(Some(ev)) = d.next_event() {
                let effects = if ev.hook.ends_with("-pebble-ready") {
                    vec![crate::engine::Effect::ChecksDeclared {
                        container: "web".into(),
                        checks: vec!["web-alive".into()],
                    }]
                } else {
                    Vec::new()
                };
                d.complete(crate::engine::HookResult::Ok, effects).unwrap();
            }
            // At the story's end the web container is up with its check declared (not gone
            // with a restart since).
            let web_up = (d.world().containers.iter())
                .any(|c| c.name == "web" && c.up && !c.checks.is_empty());
            let lived = d.into_trace();
            let offered = |m: &Mutation<'_>| -> Vec<ActionKind> {
                m.decode(&v)
                    .extension()
                    .map(|e| e.actions.iter().map(|(k, _)| *k).collect())
                    .unwrap_or_default()
            };
            let with = offered(&Mutation {
                lived: Some(&lived),
                ..m
            });
            let without = offered(&m);
            assert!(!without.contains(&ActionKind::CheckFailed), "seed {seed}");
            assert!(
                !without.contains(&ActionKind::CheckRecovered),
                "seed {seed}"
            );
            if web_up && !with.is_empty() {
                assert!(
                    with.contains(&ActionKind::CheckFailed)
                        || with.contains(&ActionKind::CheckRecovered),
                    "seed {seed}: {with:?}"
                );
                found = true;
            }
        }
        assert!(found, "some story brought the workload up");
    }

    #[test]
    fn lived_traces_are_bounded_and_found_by_input() {
        let charm = demo();
        let t = charm.decoder(&[1, 2, 3], None).run_to_end();
        let mut lived = LivedTraces::default();
        for i in 0..(LivedTraces::CAPACITY + 10) as u32 {
            lived.remember(&i.to_le_bytes(), &t);
        }
        assert!(
            lived.get(&0u32.to_le_bytes()).is_none(),
            "the oldest is forgotten"
        );
        assert!(
            lived
                .get(&((LivedTraces::CAPACITY + 9) as u32).to_le_bytes())
                .is_some()
        );
        assert_eq!(lived.traces.len(), LivedTraces::CAPACITY);
    }

    #[test]
    fn the_frontier_keeps_the_newest_discoveries_and_favours_new_code() {
        // Slots 0..32 are the charm's code, 32..64 lifecycle features, the last 2 of them
        // the charm's memory.
        let mut f = Frontier::new(32, 62..64);
        let mut map = vec![0u8; 64];
        map[63] = 1;
        assert_eq!(f.observe(b"state", &map), Discovery::Code, "a new memory");
        map[63] = 0;
        map[3] = 1;
        assert_eq!(f.observe(b"first", &map), Discovery::Code);
        assert_eq!(f.observe(b"again", &map), Discovery::Nothing);
        map[40] = 1;
        assert_eq!(f.observe(b"feature", &map), Discovery::Feature);
        map[5] = 1;
        map[41] = 1;
        assert_eq!(f.observe(b"both", &map), Discovery::Code);
        map.fill(0);
        map[3] = 1;
        assert_eq!(f.observe(b"less", &map), Discovery::Nothing);
        assert_eq!(f.len(), 4);
        // Twenty more features and one more line: both queues are bounded.
        for i in 0..20u8 {
            map.fill(0);
            map[i as usize + 42] = 1;
            assert_eq!(f.observe(&[i], &map), Discovery::Feature);
        }
        map[9] = 1;
        f.observe(b"code", &map);
        assert_eq!(
            f.len(),
            4 + Frontier::CAPACITY,
            "4 inputs ran new code or state"
        );
        let mut rng = Rng::new(7);
        let picks: Vec<&[u8]> = (0..6000).map(|_| f.pick(&mut rng).unwrap()).collect();
        let count = |x: &[u8]| picks.iter().filter(|p| **p == x).count();
        // Two turns in three go to new code, half of those to the newest: 2000 of 6000.
        let newest_code = count(b"code");
        assert!((1800..2200).contains(&newest_code), "{newest_code}");
        assert!((900..1100).contains(&count(b"both")), "{}", count(b"both"));
        // One turn in three to the features, half of those to the newest: 1000.
        assert!((900..1100).contains(&count(&[19])), "{}", count(&[19]));
        assert_eq!(
            count(b"feature"),
            0,
            "pushed out of its queue by newer ones"
        );
        assert_eq!(
            count(b"less") + count(b"again"),
            0,
            "nothing new, never kept"
        );
    }

    #[test]
    fn a_discovery_is_swept_from_the_end_of_each_step_that_did_something_new() {
        let mut f = Frontier::new(64, 62..64);
        // Four steps of two bytes each; slot 1 (new code) first hit at step 0, slot 62 (a
        // new state) at step 1, slot 64 (only a new hook pairing) at step 2.
        let (input, starts) = (b"aabbccdd", [0, 2, 4, 6]);
        let mut map = vec![0u8; 128];
        for i in [1, 62, 64, 70] {
            map[i] = 1;
        }
        let at = |slot| match slot {
            1 => Some(0),
            62 => Some(1),
            64 => Some(2),
            _ => None,
        };
        assert_eq!(f.observe_steps(input, &map, at, &starts), Discovery::Code);
        // One sweep per step that did something new, the earliest first among equals.
        for (from, found) in [(&b"aa"[..], [1]), (b"aabb", [62])] {
            let sweep = f.sweep_mut().unwrap();
            assert_eq!(
                (&sweep.input[..sweep.end], &sweep.found[..]),
                (from, &found[..])
            );
            f.sweep_done();
        }
        assert!(
            f.sweep_mut().is_none(),
            "a new hook pairing alone is not swept"
        );
        // New code in the last step, or steps not known: the whole story.
        map[5] = 1;
        let last = |slot| (slot == 5).then_some(3);
        f.observe_steps(b"aabbccde", &map, last, &starts);
        let sweep = f.sweep_mut().unwrap();
        assert_eq!(&sweep.input[..sweep.end], b"aabbccde");
        f.sweep_done();
        map[6] = 1;
        f.observe(b"aabbccdf", &map);
        let sweep = f.sweep_mut().unwrap();
        assert_eq!(&sweep.input[..sweep.end], b"aabbccdf");
    }

    /// `f` observes `input`, which hit `slots` of a 128-slot map.
    fn hit(f: &mut Frontier, input: &[u8], slots: &[usize]) -> Discovery {
        let mut map = vec![0u8; 128];
        for &i in slots {
            map[i] = 1;
        }
        f.observe(input, &map)
    }

    #[test]
    fn a_bigger_discovery_is_swept_first_and_left_only_for_a_step_worth_as_much() {
        let mut f = Frontier::new(64, 62..64);
        hit(&mut f, b"one arc", &[1]);
        hit(&mut f, b"restore", &[2, 3, 4, 5]);
        hit(&mut f, b"another arc", &[6]);
        let sweep = f.sweep_mut().unwrap();
        assert_eq!(sweep.input, b"restore", "four new slots, as rare as one");
        // The sweep's own inputs do not make what it found look common.
        for _ in 0..10 {
            f.swept = Some(b"restore+status".to_vec());
            assert_eq!(
                hit(&mut f, b"restore+status", &[2, 3, 4, 5]),
                Discovery::Nothing
            );
        }
        assert_eq!(f.seen.hits(2), 1);
        // A step after the restore that changed the charm's memory once more (one new
        // slot, worth less than the restore's four) waits for the restore's sweep.
        f.swept = Some(b"restore+recovered".to_vec());
        assert_eq!(
            hit(&mut f, b"restore+recovered", &[2, 3, 4, 5, 62]),
            Discovery::Code
        );
        assert_eq!(f.sweep_mut().unwrap().input, b"restore");
        f.sweep_done();
        assert_eq!(
            f.sweep_mut().unwrap().input,
            b"restore+recovered",
            "then the newest of those worth as much"
        );
    }

    #[test]
    fn the_rarer_discovery_is_swept_next_and_a_sweep_runs_to_its_end_or_to_a_step_further() {
        let mut f = Frontier::new(64, 62..64);
        assert_eq!(hit(&mut f, b"pairing", &[1]), Discovery::Code);
        assert_eq!(hit(&mut f, b"restore", &[1, 2]), Discovery::Code);
        // Dozens of later inputs hit slot 1 again, a few slot 3, none slot 2.
        for _ in 0..40 {
            assert_eq!(hit(&mut f, b"churn", &[1]), Discovery::Nothing);
        }
        assert_eq!(hit(&mut f, b"check", &[3]), Discovery::Code);
        for _ in 0..3 {
            hit(&mut f, b"check again", &[3]);
        }
        let swept = f.sweep_mut().map(|s| s.input.clone());
        assert_eq!(
            swept.as_deref(),
            Some(&b"restore"[..]),
            "hit by one input only"
        );
        // The sweep's own inputs all hit its slots; they do not count.
        f.sweep_mut().unwrap().next = 2;
        for _ in 0..10 {
            f.swept = Some(b"restore+1".to_vec());
            hit(&mut f, b"restore+1", &[1, 2]);
        }
        assert_eq!(f.seen.hits(2), 1);
        // A discovery as rare waits for the sweep under way, even once other inputs
        // (libFuzzer's mutations of the same story) have made the restore common: a
        // sweep under way is weighed at what it was worth when it began…
        assert_eq!(hit(&mut f, b"as rare", &[4]), Discovery::Code);
        for _ in 0..10 {
            hit(&mut f, b"restore again", &[1, 2]);
        }
        assert_eq!(f.sweep_mut().unwrap().input, b"restore");
        assert_eq!(f.stats().set_aside, 0);
        // …and is set aside only for one worth more than that; it resumes later where it
        // was, by what it is worth then.
        assert_eq!(hit(&mut f, b"bigger", &[8, 9]), Discovery::Code);
        assert_eq!(f.sweep_mut().unwrap().input, b"bigger");
        assert_eq!(f.stats().set_aside, 1);
        f.sweep_done();
        let order: Vec<(Vec<u8>, usize)> = std::iter::from_fn(|| {
            let sweep = f.sweep_mut()?;
            let seen = (sweep.input.clone(), sweep.next);
            f.sweep_done();
            Some(seen)
        })
        .collect();
        assert_eq!(
            order,
            [
                (b"as rare".to_vec(), 0),
                (b"check".to_vec(), 0),
                (b"restore".to_vec(), 2),
                (b"pairing".to_vec(), 0)
            ],
            "rarest first"
        );
        // A discovery by the sweep's own input is swept at once; its parent resumes later.
        assert_eq!(hit(&mut f, b"backup", &[6]), Discovery::Code);
        assert_eq!(f.sweep_mut().unwrap().input, b"backup");
        f.sweep_mut().unwrap().next = 3;
        f.swept = Some(b"backup+failed".to_vec());
        assert_eq!(hit(&mut f, b"backup+failed", &[6, 7]), Discovery::Code);
        assert_eq!(f.sweep_mut().unwrap().input, b"backup+failed");
        f.sweep_done();
        let parent = f.sweep_mut().unwrap();
        assert_eq!((&parent.input[..], parent.next), (&b"backup"[..], 3));
        f.sweep_done();
        // Only the input the sweep has just produced preempts it, and only as the next run.
        assert_eq!(hit(&mut f, b"under way", &[50]), Discovery::Code);
        assert_eq!(f.sweep_mut().unwrap().input, b"under way");
        f.swept = Some(b"under way+1".to_vec());
        assert_eq!(hit(&mut f, b"unrelated", &[51]), Discovery::Code);
        assert_eq!(hit(&mut f, b"under way+1", &[52]), Discovery::Code);
        assert_eq!(f.sweep_mut().unwrap().input, b"under way");
        f.sweep_done();
        for _ in 0..2 {
            f.sweep_mut();
            f.sweep_done();
        }
        // A full list drops its commonest, not its oldest.
        for i in 0..Frontier::SWEEPS {
            assert_eq!(hit(&mut f, &[i as u8], &[10 + i]), Discovery::Code);
        }
        for _ in 0..5 {
            hit(&mut f, b"common", &[10]);
        }
        assert_eq!(
            hit(&mut f, b"one more", &[63]),
            Discovery::Code,
            "a new state"
        );
        let pending: Vec<&[u8]> = f.sweeps.iter().map(|s| &s.input[..]).collect();
        assert_eq!(pending.len(), Frontier::SWEEPS);
        assert!(
            !pending.contains(&&[0u8][..]),
            "slot 10, hit six times, goes"
        );
        assert!(pending.contains(&&[1u8][..]) && pending.contains(&&b"one more"[..]));
        // Among those worth as little, the oldest goes.
        assert_eq!(hit(&mut f, b"and another", &[61]), Discovery::Code);
        let pending: Vec<&[u8]> = f.sweeps.iter().map(|s| &s.input[..]).collect();
        assert!(!pending.contains(&&[1u8][..]), "the oldest of the rest");
        assert!(pending.contains(&&[2u8][..]) && pending.contains(&&b"and another"[..]));
    }

    #[test]
    fn shell_words_are_quoted_only_when_they_must_be() {
        assert_eq!(
            shell_word("examples/charms/demo-k8s"),
            "examples/charms/demo-k8s"
        );
        assert_eq!(shell_word("my charm"), "'my charm'");
        assert_eq!(shell_word("a$b"), "'a$b'");
    }

    #[test]
    fn a_reproducer_sits_next_to_its_artifact_under_a_name_pytest_collects() {
        assert_eq!(
            reproducer_path(Path::new("fuzz/artifacts/lifecycle/crash-a999")),
            PathBuf::from("fuzz/artifacts/lifecycle/reproducers/test_crash_a999.py")
        );
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(writes_reproducer(&args(&["lifecycle", "-runs=5"])));
        assert!(!writes_reproducer(&args(&[
            "lifecycle",
            "-minimize_crash=1"
        ])));
        assert!(!writes_reproducer(&args(&[
            "x",
            "-minimize_crash_internal_step=1"
        ])));
        assert!(!writes_reproducer(&args(&[
            "lifecycle",
            "-merge=1",
            "a",
            "b"
        ])));
    }

    #[test]
    fn a_tmin_step_is_told_by_its_flag_and_its_input_is_the_last_file() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let step = args(&[
            "lifecycle",
            "-minimize_crash_internal_step=1",
            "-exact_artifact_path=/tmp/m",
            "-runs=16",
            "fuzz/artifacts/lifecycle/crash-1",
        ]);
        assert_eq!(
            minimizing_input(&step),
            Some(PathBuf::from("fuzz/artifacts/lifecycle/crash-1"))
        );
        // The parent of the steps, and a fuzzing run, pin nothing.
        let parent = args(&["lifecycle", "-minimize_crash=1", "-runs=16", "crash-1"]);
        assert_eq!(minimizing_input(&parent), None);
        assert_eq!(minimizing_input(&args(&["lifecycle", "corpus"])), None);
    }

    #[test]
    fn the_crash_artifact_is_named_as_libfuzzer_names_it() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // SHA-1 of "abc".
        let sha = "a9993e364706816aba3e25717850c26c9cd0d89d";
        assert_eq!(
            crash_artifact_path(&args(&["lifecycle", "-runs=5"]), b"abc"),
            PathBuf::from(format!("./crash-{sha}"))
        );
        assert_eq!(
            crash_artifact_path(
                &args(&["lifecycle", "-artifact_prefix=fuzz/artifacts/lifecycle/"]),
                b"abc"
            ),
            PathBuf::from(format!("fuzz/artifacts/lifecycle/crash-{sha}"))
        );
        assert_eq!(
            crash_artifact_path(
                &args(&["-artifact_prefix=x/", "-exact_artifact_path=/tmp/it"]),
                b"abc"
            ),
            PathBuf::from("/tmp/it")
        );
    }

    #[test]
    fn the_dictionary_holds_decodable_steps_of_many_kinds() {
        let charm = demo();
        let dict = dictionary(&charm, 200, 4);
        let entries: Vec<&str> = dict.lines().filter(|l| !l.starts_with('#')).collect();
        let kinds: std::collections::BTreeSet<&str> = entries
            .iter()
            .map(|l| l.rsplit_once('_').unwrap().0)
            .collect();
        assert!(kinds.len() >= 10, "steps of many kinds: {kinds:?}");
        assert!(kinds.contains("deploy") && kinds.contains("remove_relation"));
        for l in &entries {
            let (name, value) = l.split_once('=').unwrap();
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            assert!(value.starts_with("\"\\x") && value.ends_with('"'), "{l}");
        }
    }

    #[test]
    fn boundaries_cover_the_input_in_order() {
        let charm = demo();
        let data = seed_bytes(7, 600);
        let b = step_boundaries(&charm, &data);
        assert_eq!(b[0], 0);
        assert_eq!(*b.last().unwrap(), data.len());
        assert!(b.windows(2).all(|w| w[0] < w[1]));
        assert!(
            b.len() > 5,
            "a 600-byte input tells a story of several steps"
        );
    }

    #[test]
    fn deleting_a_step_removes_exactly_one_action() {
        let charm = demo();
        let data = seed_bytes(3, 400);
        let b = step_boundaries(&charm, &data);
        let actions = |bytes: &[u8]| {
            let t = charm.decoder(bytes, None).run_to_end();
            t.steps
                .iter()
                .map(|s| story::describe(&s.action))
                .collect::<Vec<_>>()
        };
        let before = actions(&data);
        // Drop the last step: the story is the same minus that action (and what only it
        // caused).
        let cut = &data[..b[b.len() - 2]];
        let after = actions(cut);
        assert_eq!(&before[..after.len()], &after[..]);
        assert!(after.len() < before.len());
    }

    #[test]
    fn asked_for_a_smaller_input_the_mutator_cuts_whole_steps_and_keeps_the_ending() {
        let charm = demo();
        let mut ending_kept = 0;
        for seed in 0..100u32 {
            let input = seed_bytes(seed as u64, 80);
            let steps = boundaries(&plain(&charm).decode(&input), input.len());
            let mut buf = input.clone();
            let n = mutate(&plain(&charm), &mut buf, input.len(), input.len() - 1, seed);
            let out = &buf[..n];
            assert!(n < input.len());
            if steps.len() <= 2 {
                assert_eq!(out, &input[..n], "one step only: cut short");
                continue;
            }
            // The input with one whole step taken out, from one boundary to a later one.
            let less = |i: usize, j: usize| [&input[..i], &input[j..]].concat();
            let resume = (steps
                .iter()
                .flat_map(|&i| steps.iter().map(move |&j| (i, j))))
            .filter(|&(i, j)| i < j && less(i, j) == out)
            .map(|(_, j)| j)
            .min();
            let Some(resume) = resume else {
                panic!("seed {seed}: not the input less whole steps")
            };
            ending_kept += usize::from(resume < input.len());
        }
        assert!(
            ending_kept > 50,
            "the last step kept in {ending_kept} of 100"
        );
    }

    #[test]
    fn mutants_respect_max_size_and_are_reproducible() {
        let charm = demo();
        for seed in 0..400u32 {
            let input = seed_bytes(seed as u64, 300);
            let mut a = input.clone();
            a.resize(512, 0);
            let mut c = a.clone();
            let n = mutate(&plain(&charm), &mut a, 300, 320, seed);
            let m = mutate(&plain(&charm), &mut c, 300, 320, seed);
            assert!(n <= 320);
            assert_eq!((n, &a[..n]), (m, &c[..m]), "same seed, same mutant");
        }
        // Mutants of mutants, growing and shrinking: every round must stay in bounds.
        let mut buf = seed_bytes(5, 200);
        buf.resize(400, 0);
        let mut size = 200;
        for seed in 0..300u32 {
            let max = 50 + (seed as usize * 7) % 350;
            size = mutate(&plain(&charm), &mut buf, size.min(max), max, seed);
            assert!(size <= max);
        }
        let mut out = vec![0; 64];
        let n = crossover(
            &charm,
            &seed_bytes(1, 100),
            &seed_bytes(2, 100),
            &mut out,
            9,
        );
        assert!(n <= 64);
    }
}

#[cfg(test)]
mod walk {
    use super::*;

    /// The walk coverage guidance takes to the deepest planted bug, step by step, with the
    /// mutator's own appends: from the seed that takes a backup, a check fails, recovers,
    /// fails again (a restore starts) and `get-status` runs (BUG-4). Each step is one
    /// append to the story as the charm lived it: the check events exist only because the
    /// charm's Pebble layer declared the check, which only the lived trace knows.
    #[test]
    fn appends_walk_from_the_backup_seed_to_the_deepest_planted_bug() {
        let dir = default_charm_dir();
        let charm = Charm::load(&dir).unwrap().for_target();
        let jujuc = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/charmfuzz");
        let jujuc = jujuc.is_file().then_some(jujuc);
        let mut target = Target::new(
            charm.clone(),
            &dir,
            crate::target::TargetConfig::default(),
            jujuc.as_deref(),
        )
        .expect("the demo charm starts");
        let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/lifecycle/backup-then-churn");
        let mut v = std::fs::read(seed).unwrap();
        let is = |a: &Action, k: ActionKind, name: Option<&str>| {
            a.kind() == k && name.is_none_or(|n| action_name(a).as_deref() == Some(n))
        };
        let walk = [
            (ActionKind::CheckFailed, None),
            (ActionKind::CheckRecovered, None),
            (ActionKind::CheckFailed, None),
            (ActionKind::RunAction, Some("get-status")),
        ];
        let mut rng = Rng::new(1);
        let mut appends = Vec::new();
        for (kind, name) in walk {
            let lived = target.run_bytes(&v, Some(16)).unwrap();
            assert!(lived.finding.is_none(), "no finding before the walk ends");
            let m = Mutation {
                charm: &charm,
                max_steps: Some(16),
                lived: Some(&lived.trace),
            };
            let n = (1..=2000)
                .find(|_| {
                    let mut c = v.clone();
                    if !m.append_action(&mut c, &mut rng) {
                        return false;
                    }
                    let mut d = charm.decoder(&c, Some(16));
                    d.simulate_as(&lived.trace);
                    let last = d.trace().steps.last().map(|s| s.action.clone());
                    let hit = last.is_some_and(|a| is(&a, kind, name));
                    if hit {
                        v = c;
                    }
                    hit
                })
                .unwrap_or_else(|| panic!("no {kind:?} appended in 2000 tries"));
            appends.push(n);
        }
        let report = target.run_bytes(&v, Some(16)).unwrap();
        let finding = report.finding.expect("the walk ends at BUG-4");
        assert!(
            finding.signature.contains("_on_get_status_action"),
            "{}",
            finding.title
        );
        eprintln!("appends per step: {appends:?}");
    }

    /// With `CHARMFUZZ_MAX_STEPS`, the mutator writes inputs that tell stories of at most
    /// that many actions when decoded with no limit (as `replay` and the fuzz target
    /// decode them): it cuts its output, where uncut it would often go past.
    #[test]
    fn the_mutator_keeps_its_step_limit_in_the_bytes_it_writes() {
        let dir = default_charm_dir();
        let charm = Charm::load(&dir).unwrap().for_target();
        let jujuc = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/charmfuzz");
        let limit = 6;
        let settings = FuzzSettings {
            charm_dir: dir,
            config: TargetConfig::default(),
            max_steps: limit,
            only: None,
            structure_mutator: true,
            feedback: Feedback::All,
            cover_ops: false,
            hit_counts: false,
            harness_coverage: false,
            frontier: 0,
            jujuc: jujuc.is_file().then_some(jujuc),
        };
        let mut fuzzer = LifecycleFuzzer::new(settings, charm.clone()).unwrap();
        let parent = random_story(3, 5);
        let steps = |b: &[u8]| charm.decoder(b, None).run_to_end().steps.len();
        let mut past = 0;
        for seed in 0..300u32 {
            let mut buf = parent.clone();
            buf.resize(4096, 0);
            let n = fuzzer.mutate(&mut buf, parent.len(), 4096, seed);
            assert!(
                steps(&buf[..n]) <= limit,
                "seed {seed}: {} steps",
                steps(&buf[..n])
            );
            // The same turn without the cut.
            let mut raw = parent.clone();
            raw.resize(4096, 0);
            let m = fuzzer.mutation(&parent);
            let k = mutate(&m, &mut raw, parent.len(), 4096, seed);
            past += usize::from(steps(&raw[..k]) > limit);
        }
        assert!(
            past > 0,
            "no mutation went past the limit: the test shows nothing"
        );
    }

    /// A story that starts a restore and then ends it (the check recovers) is swept from
    /// the step that started the restore, where `get-status` finds it running (BUG-4); from
    /// the story's end it would find it finished.
    #[test]
    fn a_restore_ended_later_in_its_story_is_swept_from_where_it_started() {
        let dir = default_charm_dir();
        let charm = Charm::load(&dir).unwrap().for_target();
        let jujuc = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/charmfuzz");
        let settings = FuzzSettings {
            charm_dir: dir,
            config: TargetConfig::default(),
            max_steps: 16,
            only: None,
            structure_mutator: true,
            feedback: Feedback::All,
            cover_ops: false,
            hit_counts: false,
            harness_coverage: false,
            frontier: 100,
            jujuc: jujuc.is_file().then_some(jujuc),
        };
        let mut fuzzer = LifecycleFuzzer::new(settings, charm.clone()).unwrap();
        let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/lifecycle/backup-then-churn");
        let mut v = std::fs::read(seed).unwrap();
        let mut rng = Rng::new(7);
        // The seed's backup, then a check fails, recovers, fails again (the restore
        // starts: its step ends at `restore_at` or a few bytes of settling after) and
        // recovers (the restore ends).
        let (mut restore_at, mut first_recovered) = (0, 0);
        for kind in [
            ActionKind::CheckFailed,
            ActionKind::CheckRecovered,
            ActionKind::CheckFailed,
            ActionKind::CheckRecovered,
        ] {
            (first_recovered, restore_at) = (restore_at, v.len());
            let lived = fuzzer.target.run_bytes(&v, Some(16)).unwrap().trace;
            let m = Mutation {
                charm: &charm,
                max_steps: Some(16),
                lived: Some(&lived),
            };
            let appended = (0..2000).find_map(|_| {
                let mut c = v.clone();
                m.append_action(&mut c, &mut rng).then_some(())?;
                let mut d = charm.decoder(&c, Some(16));
                d.simulate_as(&lived);
                let last = d.trace().steps.last()?.action.kind();
                (last == kind).then_some(c)
            });
            v = appended.unwrap_or_else(|| panic!("no {kind:?} appended"));
        }
        // The fuzzer has seen the story up to the first recovery (its sweeps are left
        // aside); then the whole story starts a restore and finishes it, two new steps.
        assert!(matches!(
            fuzzer.run_one(&v[..first_recovered]).unwrap(),
            Verdict::Pass
        ));
        while fuzzer.frontier.sweep_mut().is_some() {
            fuzzer.frontier.sweep_done();
        }
        assert!(matches!(fuzzer.run_one(&v).unwrap(), Verdict::Pass));
        let lived = fuzzer.target.run_bytes(&v, Some(16)).unwrap();
        let restore_ends = lived.step_starts[lived.trace.steps.len() - 1];
        assert!(restore_ends >= restore_at && restore_ends < v.len());
        let sweep = fuzzer
            .frontier
            .sweep_mut()
            .expect("a restore is a new state");
        assert_eq!(
            sweep.end, restore_ends,
            "swept from the step that started the restore"
        );
        // The sweep's turns: one of its next actions is `get-status`, and it fails.
        let mut tried = 0;
        let found = (0..400u32).any(|seed| {
            let mut buf = vec![0u8; 4096];
            let n = fuzzer.mutate(&mut buf, 0, 4096, seed);
            let Some(swept) = fuzzer.frontier.swept.clone() else {
                return false;
            };
            assert_eq!(&buf[..n], &swept[..]);
            assert_eq!(
                &swept[..restore_at],
                &v[..restore_at],
                "the story up to the restore"
            );
            tried += 1;
            matches!(fuzzer.run_one(&swept).unwrap(), Verdict::Finding(ref text, _)
                if text.contains("_on_get_status_action"))
        });
        assert!(found, "no sweep turn found BUG-4 in {tried} tries");
    }
}
