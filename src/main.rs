//! The `charmfuzz` command line.

use anyhow::{Context, Result, bail};
use charmfuzz::charm::Charm;
use charmfuzz::engine::{self, ActionKind, HookKind, Trace, seed_bytes};
use charmfuzz::fuzzing::{random_search, random_story, random_story_len, shell_word};
use charmfuzz::spec::{Role, Substrate};
use charmfuzz::story;
use charmfuzz::target::coverage::{CODE_SLOTS, CoverageMap};
use charmfuzz::target::pebble::{ExecDefault, ExecMatch};
use charmfuzz::target::sandbox::Containment;
use charmfuzz::target::{EventOutcome, FindingClass, Mode, RunReport, Target, TargetConfig};
use clap::{Args, Parser, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// A coverage-guided lifecycle fuzzer for Juju charms.
#[derive(Parser)]
#[command(name = "charmfuzz", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the charm's own Python environment from what it declares (uv.lock,
    /// poetry.lock, requirements.txt or [project] dependencies), as `charmcraft pack`
    /// would, and keep it in charmfuzz's cache, where the other commands find it.
    ///
    /// The last line printed is the environment's interpreter.
    Setup(SetupCmd),
    /// Print one random but valid story for a charm (the same for the same seed).
    Simulate(Simulate),
    /// Check a trace (JSON) against Juju's ordering rules.
    Validate(Validate),
    /// Show what charmfuzz understood of a charm, and its action space.
    Spec(SpecCmd),
    /// Decode many random inputs and count the actions and hooks they contain.
    Stats(Stats),
    /// Encode a trace (JSON) into fuzzer bytes, e.g. to make a seed.
    Encode(Encode),
    /// Decode fuzzer bytes (a corpus file or artifact) into a trace.
    Decode(DecodeCmd),
    /// Run a story against the real charm and print what each event did.
    ///
    /// Exit status: 0 when the charm came through, 1 on a finding (an uncaught exception,
    /// a hang, a crash), 2 on a usage or harness error.
    Run(RunCmd),
    /// Run random stories against the charm with no coverage feedback, until a finding.
    ///
    /// The baseline the fuzzer is measured against (the ablation benchmark's third arm),
    /// and a throughput figure: the last line reads `result: runs=… events=… seconds=…
    /// found=…`. Exit status: 0 when a finding came (or none was sought with `--all`), 1
    /// when none came, 2 on a harness error.
    Random(RandomCmd),
    /// Re-run a finding (a crash artifact or a trace) and print its story with each
    /// event's outcome; `--times N` tells a steady finding from a flaky one.
    ///
    /// Exit status: 1 when the (first) run ends with a finding, 0 when not, 2 on errors.
    Replay(ReplayCmd),
    /// Shrink a finding to the shortest story that fails the same way: whole steps are
    /// cut, then each choice made plainer, each candidate played against the charm.
    ///
    /// Writes the smallest input next to the original (`<input>.min`, and its trace as
    /// `<input>.min.json`) and prints its story.
    Minimize(MinimizeCmd),
    /// File findings into a crash store: one folder per signature with the report, the
    /// story, the trace and the (minimised) input; known signatures are only counted.
    ///
    /// Exit status: 1 when a signature new to the store was recorded, 0 when not, 2 on
    /// errors.
    Triage(TriageCmd),
    /// Write a pytest reproducer for a finding: an ops.testing State of the unit just
    /// before the hook that failed, and `ctx.run` of that hook.
    ///
    /// `--check` runs it with pytest and says whether it fails the same way (exception
    /// type and line); exit status 1 when it does not.
    Repro(ReproCmd),
    /// Write a libFuzzer dictionary for the charm: encoded steps of every kind of action
    /// (see `docs/fuzzing.md`), for `cargo fuzz run lifecycle -- -dict=FILE`.
    Dict(DictCmd),
    /// The lifecycle a corpus explored: every input played against the charm, then which
    /// hooks it reached, which hook followed which, and which possible hooks it never
    /// reached, as a table; and which lines of the charm's `src/` and `lib/` it ran, as a
    /// table per file (`--lcov FILE` writes them for coverage tools). `--markdown FILE`
    /// adds a report with a Mermaid diagram of the lifecycle.
    Coverage(CoverageCmd),
}

#[derive(Args)]
struct CoverageCmd {
    /// Corpus directories (fuzzer bytes) or single inputs (bytes or traces).
    #[arg(required = true)]
    corpus: Vec<PathBuf>,
    #[command(flatten)]
    charm: CharmArg,
    /// Write a Markdown report with the Mermaid picture of the lifecycle here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Transitions listed in the table, most frequent first.
    #[arg(long, default_value_t = 15)]
    top: usize,
    /// Write the charm's line coverage as an LCOV tracefile here (genhtml, Codecov and
    /// editors' coverage gutters read it).
    #[arg(long)]
    lcov: Option<PathBuf>,
    /// Skip line coverage (hooks and transitions only; faster: no tracer in the charm).
    #[arg(long, conflicts_with = "lcov")]
    no_lines: bool,
    /// Write the totals as JSON here: hooks reached of those possible, and lines run of
    /// the charm's `src/` and `lib/` (`scripts/survey.sh` reads it).
    #[arg(long)]
    json: Option<PathBuf>,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Args)]
struct ReproCmd {
    /// A crash artifact (fuzzer bytes) or a trace (JSON) that ends with a finding.
    input: PathBuf,
    #[command(flatten)]
    charm: CharmArg,
    /// Where to write the test (default: `test_<hook>_<exception>.py` here).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Run the test with pytest (the charm's Python) and check it fails as the finding did.
    #[arg(long)]
    check: bool,
    /// `hook`: the failing hook alone, on the State just before it; `story`: every hook of
    /// the story as chained `ctx.run` calls; `auto`: the hook alone unless events the
    /// charm deferred are waiting at it.
    #[arg(long, value_enum, default_value_t = charmfuzz::reproduce::Shape::Auto)]
    shape: charmfuzz::reproduce::Shape,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Args)]
struct DictCmd {
    #[command(flatten)]
    charm: CharmArg,
    /// Where to write it (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Random stories to take steps from.
    #[arg(long, default_value_t = 2000)]
    stories: u64,
    /// Entries per kind of action.
    #[arg(long, default_value_t = 8)]
    per_kind: usize,
}

#[derive(Args)]
struct TriageCmd {
    /// Crash artifacts or traces (JSON).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    charm: CharmArg,
    /// The crash store directory.
    #[arg(long, default_value = "crashes")]
    store: PathBuf,
    /// Store findings as found, without shrinking them first.
    #[arg(long)]
    no_minimize: bool,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Args)]
struct ReplayCmd {
    /// A crash artifact or corpus file (fuzzer bytes), or a trace (JSON).
    input: PathBuf,
    #[command(flatten)]
    charm: CharmArg,
    /// Run it this many times and report whether the finding is steady.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    times: u32,
    /// Print the run as JSON (the trace with each event's outcome, and the finding).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Args)]
struct MinimizeCmd {
    /// A crash artifact (fuzzer bytes) or a trace (JSON) that ends with a finding.
    input: PathBuf,
    #[command(flatten)]
    charm: CharmArg,
    /// Where to write the smallest input (default: `<input>.min`).
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Args)]
struct RunCmd {
    #[command(flatten)]
    charm: CharmArg,
    /// A trace (JSON) to run.
    #[arg(long, conflicts_with_all = ["seed", "input"])]
    trace: Option<PathBuf>,
    /// Fuzzer bytes (a corpus file or crash artifact) to run.
    #[arg(long, conflicts_with = "seed")]
    input: Option<PathBuf>,
    /// Run a random story from this seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Actions in a random story (at most 64, the decoder's ceiling).
    #[arg(long, default_value_t = 30, value_parser = story_steps())]
    steps: usize,
    #[command(flatten)]
    target: TargetArgs,
    /// Keep going after a finding (Juju retries the failed hook; the story continues).
    #[arg(long)]
    keep_going: bool,
    /// Print the realised trace with every event's outcome as JSON.
    #[arg(long)]
    json: bool,
    /// Measure the charm's coverage and print how many code slots and lifecycle features
    /// the story reached (what libFuzzer would see).
    #[arg(long)]
    coverage: bool,
}

/// How the charm runs (overriding its `charmfuzz.toml`).
#[derive(Args)]
struct TargetArgs {
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// The charm's Python interpreter (default: the charm's venv, else the project's).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Seconds each hook may run.
    #[arg(long)]
    timeout: Option<f64>,
    /// How to wall the charm in (`none` lets it change this machine).
    #[arg(long, value_enum)]
    containment: Option<Containment>,
}

impl TargetArgs {
    /// Start the charm's worker, with this binary as the hook-tool executable.
    fn start(&self, charm: &Charm, dir: &std::path::Path) -> Result<Target> {
        let mut config = TargetConfig::from_table(&charm.config.target)?;
        if let Some(m) = self.mode {
            config.mode = m;
        }
        if let Some(p) = &self.python {
            // Relative to where the user is, not to the charm's copy the worker runs in.
            config.python = Some(std::path::absolute(p).unwrap_or_else(|_| p.clone()));
        }
        if let Some(t) = self.timeout {
            config.timeout = t;
        }
        if let Some(c) = self.containment {
            config.containment = c;
        }
        let jujuc = std::env::current_exe().ok();
        let target = Target::new(charm.clone(), dir, config, jujuc.as_deref())
            .context("cannot set up the charm")?;
        if !target.sandbox().contained() && target.containment() != Containment::None {
            eprintln!(
                "warning: bubblewrap (bwrap) is not available: the charm runs uncontained and can change this machine"
            );
        }
        Ok(target)
    }
}

/// A fresh coverage bitmap, attached to the target (what `--coverage` measures).
fn attach_coverage(target: &mut Target) -> Result<()> {
    let map = CoverageMap::new(CODE_SLOTS)?;
    target.enable_coverage(map, false)?;
    Ok(())
}

#[derive(Args)]
struct RandomCmd {
    #[command(flatten)]
    charm: CharmArg,
    /// How many random stories to run at most.
    #[arg(long, default_value_t = 100)]
    runs: u64,
    /// Actions per story (at most 64, the decoder's ceiling). A finding's input is cut to
    /// its story, so it replays as found with no flags.
    #[arg(long, default_value_t = 12, value_parser = story_steps())]
    steps: usize,
    /// The first story's seed (story i uses seed + i).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Hunt one bug: only a hook failure whose signature or title contains this is a
    /// finding; other failures are retried as Juju retries them and the story goes on.
    #[arg(long)]
    only: Option<String>,
    /// Run every story to the end instead of stopping at the first finding.
    #[arg(long)]
    all: bool,
    /// Measure the charm's coverage while running (to price coverage collection).
    #[arg(long)]
    coverage: bool,
    /// Write the bytes of the story that found something here (like a crash artifact).
    #[arg(long)]
    artifact: Option<PathBuf>,
    /// Write the figures as JSON here: runs and events per second, stories past their
    /// first three hooks, hooks reached of those possible, signatures by class
    /// (`scripts/survey.sh` reads it).
    #[arg(long)]
    json: Option<PathBuf>,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Args)]
struct SetupCmd {
    /// The charm directory.
    #[arg(long, default_value = ".")]
    charm: PathBuf,
    /// The Python to build the environment with (what the charm's base has: 3.10 on 22.04,
    /// 3.12 on 24.04).
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// Build it again even when it is there.
    #[arg(long)]
    recreate: bool,
}

#[derive(Args)]
struct CharmArg {
    /// The charm directory (with charmcraft.yaml or metadata.yaml).
    #[arg(long, default_value = ".")]
    charm: PathBuf,
    /// Override the Juju version (3.1 to 3.6).
    #[arg(long)]
    juju_version: Option<String>,
}

impl CharmArg {
    fn load(&self) -> Result<Charm> {
        let mut charm = Charm::load(&self.charm)
            .with_context(|| format!("cannot load the charm in {}", self.charm.display()))?;
        if let Some(v) = &self.juju_version {
            charm.config.engine.juju_version = v.parse()?;
        }
        Ok(charm)
    }
}

#[derive(Args)]
struct Simulate {
    #[command(flatten)]
    charm: CharmArg,
    /// Seed for the random bytes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of actions before the story winds down (at most 64, the decoder's ceiling).
    #[arg(long, default_value_t = 30, value_parser = story_steps())]
    steps: usize,
    /// Print the JSON trace instead of the story.
    #[arg(long)]
    json: bool,
    /// Length of the random input (default: enough for the steps).
    #[arg(long)]
    len: Option<usize>,
    /// Print the story even if the validator rejects it (for debugging the engine).
    #[arg(long, hide = true)]
    unchecked: bool,
}

#[derive(Args)]
struct Validate {
    /// The trace to check.
    trace: PathBuf,
    #[command(flatten)]
    charm: CharmArg,
}

#[derive(Args)]
struct SpecCmd {
    /// The charm directory.
    dir: PathBuf,
}

#[derive(Args)]
struct Stats {
    #[command(flatten)]
    charm: CharmArg,
    /// How many random inputs to decode.
    #[arg(long, default_value_t = 5000)]
    inputs: u64,
    /// Length of each random input in bytes.
    #[arg(long, default_value_t = 256)]
    len: usize,
}

#[derive(Args)]
struct Encode {
    trace: PathBuf,
    #[command(flatten)]
    charm: CharmArg,
    /// Where to write the bytes.
    #[arg(short, long)]
    output: PathBuf,
    /// Play a story of actions only against the charm and encode it as the charm lives it
    /// (what the charm does can change later choices; seeds should be made this way). A
    /// story that ends with a finding is not written, and the exit status is 1.
    #[arg(long)]
    run: bool,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Args)]
struct DecodeCmd {
    input: PathBuf,
    #[command(flatten)]
    charm: CharmArg,
    #[arg(long)]
    json: bool,
}

/// What a stand-in lacked and the setting that would give it, a line each.
fn print_fixes(lacks: &[charmfuzz::target::Lack], indent: &str) {
    for l in lacks {
        println!(
            "{indent}lacked: {}\n{indent}  fix: {}",
            l.describe(),
            l.fix()
        );
    }
}

/// `--steps`: from 1 action to the decoder's ceiling.
fn story_steps() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(1..=charmfuzz::charm::STORY_MAX_STEPS as u64)
}

fn decode_all(charm: &Charm, bytes: &[u8], max_steps: Option<usize>) -> Trace {
    charm.decoder(bytes, max_steps).run_to_end()
}

fn read_trace(path: &std::path::Path) -> Result<Trace> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_trace(&text, path)
}

/// A trace file, or the report `run --json` / `replay --json` prints (the trace inside).
fn parse_trace(text: &str, path: &std::path::Path) -> Result<Trace> {
    let not_a_trace = || {
        format!(
            "{} is not a charmfuzz trace (see docs/trace-format.md)",
            path.display()
        )
    };
    let mut value: serde_json::Value = serde_json::from_str(text).with_context(not_a_trace)?;
    if let Some(trace) = value.get_mut("trace") {
        value = trace.take();
    }
    serde_json::from_value(value).with_context(not_a_trace)
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Simulate(s) => {
            let charm = s.charm.load()?;
            let bytes = seed_bytes(s.seed, s.len.unwrap_or(random_story_len(s.steps)));
            let trace = decode_all(&charm, &bytes, Some(s.steps));
            if let (Err(v), false) = (engine::validate(&trace, &charm.spec), s.unchecked) {
                // Never print an invalid story: this is an engine bug.
                bail!(
                    "internal error: the engine produced an invalid trace: {}",
                    v[0]
                );
            }
            if s.json {
                println!("{}", trace.to_json());
            } else {
                print!("{}", story::story(&trace));
            }
        }
        Command::Validate(v) => {
            let charm = v.charm.load()?;
            let trace = read_trace(&v.trace)?;
            match engine::validate(&trace, &charm.spec) {
                Ok(()) => println!(
                    "{}: valid ({} steps, {} events)",
                    v.trace.display(),
                    trace.steps.len(),
                    trace.events().count()
                ),
                Err(violations) => {
                    for x in &violations {
                        println!("{}: {x}", v.trace.display());
                    }
                    println!("{} violation(s)", violations.len());
                    return Ok(ExitCode::from(1));
                }
            }
        }
        Command::Spec(s) => {
            let charm = Charm::load(&s.dir)
                .with_context(|| format!("cannot load the charm in {}", s.dir.display()))?;
            print_spec(&charm);
        }
        Command::Stats(s) => {
            let charm = s.charm.load()?;
            let (actions, hooks, invalid) = stats(&charm, s.inputs, s.len);
            println!(
                "{} random inputs of {} bytes for {}:",
                s.inputs, s.len, charm.spec.name
            );
            println!("actions:");
            for k in ActionKind::ALL {
                println!(
                    "  {:<28} {}",
                    k.as_str(),
                    actions.get(&k).copied().unwrap_or(0)
                );
            }
            println!("hooks:");
            for k in HookKind::ALL {
                println!(
                    "  {:<28} {}",
                    k.as_str(),
                    hooks.get(&k).copied().unwrap_or(0)
                );
            }
            println!("invalid traces: {invalid}");
            if invalid > 0 {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Encode(e) => {
            let charm = e.charm.load()?;
            let trace = read_trace(&e.trace)?;
            // A story of actions only (no events): after each action, every pending hook
            // is delivered; encoded as a run against the real charm decodes (seeds).
            let story = trace.is_story();
            let bytes = if story && e.run {
                let mut target = e.target.start(&charm, &e.charm.charm)?;
                let (bytes, report) = target
                    .run_story(&trace)
                    .with_context(|| format!("cannot play {}", e.trace.display()))?;
                if let Some(f) = &report.finding {
                    // A seed that fails would stop libFuzzer while it loads its corpus.
                    eprintln!(
                        "{}: not written: the story ends with a finding: {}",
                        e.trace.display(),
                        f.title
                    );
                    return Ok(ExitCode::from(1));
                }
                Ok(bytes)
            } else if story {
                let charm = charm.for_target();
                engine::encode_story(&trace, charm.spec.clone(), &charm.weights, &charm.vocab)
            } else {
                engine::encode(&trace, charm.spec.clone(), &charm.weights, &charm.vocab)
            }
            .with_context(|| format!("cannot encode {}", e.trace.display()))?;
            std::fs::write(&e.output, &bytes)
                .with_context(|| format!("cannot write {}", e.output.display()))?;
            println!("{}: {} bytes", e.output.display(), bytes.len());
        }
        Command::Run(r) => return run_charm(r),
        Command::Random(r) => return random_charm(r),
        Command::Setup(s) => return setup_charm(s),
        Command::Replay(r) => return replay(r),
        Command::Coverage(c) => return coverage_cmd(c),
        Command::Minimize(m) => return minimize_cmd(m),
        Command::Triage(t) => return triage(t),
        Command::Repro(r) => return repro_cmd(r),
        Command::Dict(d) => {
            let charm = d.charm.load()?.for_target();
            let dict = charmfuzz::fuzzing::dictionary(&charm, d.stories, d.per_kind);
            match &d.output {
                Some(p) => std::fs::write(p, dict)
                    .with_context(|| format!("cannot write {}", p.display()))?,
                None => print!("{dict}"),
            }
        }
        Command::Decode(d) => {
            let charm = d.charm.load()?;
            let bytes = std::fs::read(&d.input)
                .with_context(|| format!("cannot read {}", d.input.display()))?;
            // The story told without the charm (`charmfuzz run --input` plays it against
            // the charm, as the fuzzer did).
            let trace = decode_all(&charm, &bytes, None);
            if d.json {
                println!("{}", trace.to_json());
            } else {
                print!("{}", story::story(&trace));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn setup_charm(s: SetupCmd) -> Result<ExitCode> {
    let python = charmfuzz::target::find_python(&s.charm, Some(&s.python))
        .map(|(p, _)| p)
        .with_context(|| format!("no interpreter {}", s.python.display()))?;
    let built = charmfuzz::pyenv::setup(&s.charm, &python, s.recreate, |step| {
        eprintln!("setup: {step}")
    })
    .with_context(|| format!("cannot set up the environment of {}", s.charm.display()))?;
    println!("{}", built.display());
    Ok(ExitCode::SUCCESS)
}

fn random_charm(r: RandomCmd) -> Result<ExitCode> {
    let charm = r.charm.load()?;
    let mut target = r.target.start(&charm, &r.charm.charm)?;
    if !r.all {
        target.only = r.only.clone();
    }
    if r.coverage {
        attach_coverage(&mut target)?;
    }
    let start = std::time::Instant::now();
    // With --only, the target itself lets other failures pass (`Target::only`).
    let search = random_search(&mut target, r.runs, r.steps, r.seed, |_| !r.all)?;
    let seconds = start.elapsed().as_secs_f64();
    let found = search.finding.as_ref().and_then(|rep| rep.finding.as_ref());
    if let (Some(path), Some(bytes)) = (&r.artifact, &search.input) {
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    match found {
        Some(f) => println!(
            "finding after {} runs ({:.1} s): {}\nsignature: {}",
            search.runs, seconds, f.title, f.signature
        ),
        None if r.all => {
            println!(
                "{} runs ({seconds:.1} s), {} signature(s):",
                search.runs,
                search.signatures.len()
            );
            for (sig, seen) in &search.signatures {
                println!(
                    "  [{}] {sig}\n    first at run {}, in {} run(s): {}",
                    seen.class.as_str(),
                    seen.first_run,
                    seen.runs,
                    seen.title
                );
                print_fixes(&seen.lacks, "    ");
            }
        }
        None => println!("no finding in {} runs ({seconds:.1} s)", search.runs),
    }
    let environment: Vec<_> = search
        .signatures
        .iter()
        .filter(|(_, s)| s.class == FindingClass::Environment)
        .collect();
    if !r.all && !environment.is_empty() {
        println!(
            "environment findings (the charm failed where a stand-in of charmfuzz's could not \
             answer; the stories went on past them):"
        );
        for (sig, seen) in &environment {
            println!("  {sig}: in {} run(s): {}", seen.runs, seen.title);
            print_fixes(&seen.lacks, "    ");
        }
    }
    println!(
        "{:.1} events/s, {:.2} runs/s{}",
        search.events as f64 / seconds,
        search.runs as f64 / seconds,
        if r.coverage { " (with coverage)" } else { "" }
    );
    // With --all the search goes on past findings: it found something when it met any of
    // the charm's.
    let found_any = found.is_some() || (r.all && search.signatures.len() > environment.len());
    println!(
        "result: runs={} events={} seconds={seconds:.2} found={}{}{}",
        search.runs,
        search.events,
        if found_any { "yes" } else { "no" },
        if r.all {
            format!(" signatures={}", search.signatures.len())
        } else {
            String::new()
        },
        if environment.is_empty() {
            String::new()
        } else {
            format!(" environment={}", environment.len())
        },
    );
    if let Some(path) = &r.json {
        let count = |class: FindingClass| {
            search
                .signatures
                .values()
                .filter(|s| s.class == class)
                .count()
        };
        let lifecycle = &search.lifecycle;
        let json = serde_json::json!({
            "charm": charm.spec.name,
            "runs": search.runs,
            "events": search.events,
            "seconds": seconds,
            "runs_per_second": search.runs as f64 / seconds,
            "events_per_second": search.events as f64 / seconds,
            "past_first_three": search.past_first_three,
            "hooks_reached": lifecycle.possible.len() - lifecycle.unreached().len(),
            "hooks_possible": lifecycle.possible.len(),
            "unreached": lifecycle.unreached(),
            "findings": {
                "charm": count(FindingClass::Charm),
                "environment": count(FindingClass::Environment),
            },
            "signatures": search.signatures.iter().map(|(sig, seen)| serde_json::json!({
                "signature": sig,
                "class": seen.class.as_str(),
                "runs": seen.runs,
                "title": seen.title,
                "lacks": seen.lacks.iter().map(|l| l.describe()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if found.is_some() || r.all {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_charm(r: RunCmd) -> Result<ExitCode> {
    let charm = r.charm.load()?;
    let mut target = r.target.start(&charm, &r.charm.charm)?;
    target.stop_at_finding = !r.keep_going;
    if r.coverage {
        attach_coverage(&mut target)?;
    }
    let report = match (&r.trace, &r.input, r.seed) {
        (Some(t), _, _) => target.run_trace(&read_trace(t)?)?,
        (None, Some(i), _) => {
            let bytes = std::fs::read(i).with_context(|| format!("cannot read {}", i.display()))?;
            target.run_bytes(&bytes, None)?
        }
        (None, None, seed) => {
            let bytes = random_story(seed.unwrap_or(0), r.steps);
            target.run_bytes(&bytes, Some(r.steps))?
        }
    };
    if r.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_header(&target);
        print_report(&target, &report);
    }
    Ok(if report.finding.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The first line of a run: what ran the charm.
fn print_header(target: &Target) {
    let info = target.worker_info().cloned().unwrap_or_default();
    println!(
        "charm {} · Python {} · ops {} · {} mode{}",
        target.charm().spec.name,
        info.python,
        info.ops,
        match target.mode() {
            Mode::Fork => "fork",
            Mode::Exec => "exec",
        },
        if target.sandbox().contained() {
            " · contained"
        } else {
            ""
        }
    );
}

/// The story with every event's outcome, the coverage reached, and the finding.
fn print_report(target: &Target, report: &RunReport) {
    let text = story::story_annotated(&report.trace, |i, _| {
        report
            .outcomes
            .get(i)
            .map(outcome_lines)
            .unwrap_or_default()
    });
    print!("{text}");
    if let Some(map) = target.coverage() {
        let info = target.worker_info().cloned().unwrap_or_default();
        let (code, features) = map.hit_slots();
        println!(
            "\ncoverage ({}): {code} charm code slots, {features} lifecycle features",
            info.coverage.as_deref().unwrap_or("?")
        );
    }
    match &report.finding {
        Some(f) => println!(
            "\nFINDING: {}\nsignature: {}\nclass: {}",
            f.title,
            f.signature,
            f.class.as_str()
        ),
        None => println!("\nno finding in {} events", report.outcomes.len()),
    }
    if !report.environment.is_empty() {
        println!(
            "\nenvironment findings (not the charm's: it failed where a stand-in of \
             charmfuzz's could not answer, and the story went on):"
        );
        for f in &report.environment {
            println!(
                "  {} (event {})\n    signature: {}",
                f.title, f.event, f.signature
            );
            print_fixes(&f.lacks, "    ");
        }
    }
}

/// A finding to work on: fuzzer bytes (a crash artifact, a corpus file), or a trace (JSON,
/// from `run --json`, `minimize` or written by hand), encoded into the bytes that replay it.
/// A story of actions only is played against the charm to encode it as the charm lives it.
fn read_input(path: &std::path::Path, target: &mut Target) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) if t.trim_start().starts_with('{') => t,
        _ => return Ok(bytes),
    };
    let trace = parse_trace(text, path)?;
    target
        .encode_trace(&trace)
        .with_context(|| format!("cannot encode {} for this charm", path.display()))
}

fn replay(r: ReplayCmd) -> Result<ExitCode> {
    let charm = r.charm.load()?;
    let mut target = r.target.start(&charm, &r.charm.charm)?;
    let bytes = read_input(&r.input, &mut target)?;
    let report = target.run_bytes(&bytes, None)?;
    if r.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_header(&target);
        print_report(&target, &report);
    }
    if r.times > 1 {
        let first = report.finding.as_ref().map(|f| f.signature.clone());
        let mut same = 1;
        for i in 2..=r.times {
            let again = target.run_bytes(&bytes, None)?;
            if again.finding.as_ref().map(|f| &f.signature) == first.as_ref() {
                same += 1;
            }
            progress(&format!("replay {i}/{}: {same} the same", r.times));
        }
        progress_done();
        match (&first, same == r.times) {
            (_, true) => println!("reproduced {same}/{} times", r.times),
            (Some(_), false) => println!(
                "FLAKY: the finding came back {same}/{} times (timing, randomness or state outside the unit)",
                r.times
            ),
            (None, false) => println!(
                "FLAKY: no finding the first time, a finding in {}/{} later runs",
                r.times - same,
                r.times
            ),
        }
    }
    Ok(if report.finding.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn coverage_cmd(c: CoverageCmd) -> Result<ExitCode> {
    let charm = c.charm.load()?;
    let mut inputs = Vec::new();
    for p in &c.corpus {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read the corpus {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file())
                .collect();
            files.sort();
            inputs.extend(files);
        } else {
            inputs.push(p.clone());
        }
    }
    if inputs.is_empty() {
        bail!("no inputs in {}", c.corpus[0].display());
    }
    let mut target = c.target.start(&charm, &c.charm.charm)?;
    let lines = !c.no_lines && target.mode() == charmfuzz::target::Mode::Fork;
    if lines {
        target
            .enable_line_coverage()
            .context("cannot start the charm with line coverage")?;
    } else if c.lcov.is_some() {
        bail!("--lcov needs fork mode: in exec mode the charm's own dispatch runs each hook");
    }
    let mut map = charmfuzz::lifecycle_map::LifecycleMap::new(&charm.spec);
    for (i, path) in inputs.iter().enumerate() {
        progress(&format!("coverage: {}/{} inputs", i + 1, inputs.len()));
        let bytes = read_input(path, &mut target)?;
        let report = target
            .run_bytes(&bytes, None)
            .with_context(|| format!("cannot run {}", path.display()))?;
        map.add(&report.trace);
    }
    progress_done();
    print!("{}", map.table(c.top));
    let line_coverage = if lines {
        target
            .line_coverage()
            .context("cannot list the charm's lines")?
    } else {
        None
    };
    if let Some(lc) = &line_coverage {
        println!(
            "\nlines of the charm run by the corpus ({} hooks):\n",
            lc.hooks
        );
        print!("{}", lc.table());
    }
    if let (Some(path), Some(lc)) = (&c.lcov, &line_coverage) {
        let charm_dir = std::path::absolute(&c.charm.charm).unwrap_or(c.charm.charm.clone());
        std::fs::write(path, lc.lcov(&charm_dir))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("\nLCOV tracefile: {}", path.display());
    }
    if let Some(md) = &c.markdown {
        let mut report = map.markdown(&charm.spec.name);
        if let Some(lc) = &line_coverage {
            report.push_str(&format!(
                "\n## Lines of the charm\n\nRun by the corpus's {} hooks:\n\n```text\n{}```\n",
                lc.hooks,
                lc.table()
            ));
        }
        std::fs::write(md, report).with_context(|| format!("cannot write {}", md.display()))?;
        println!("\nreport with the lifecycle diagram: {}", md.display());
    }
    if let Some(path) = &c.json {
        // Lines per top directory: the charm's own code, and the libraries it ships.
        let lines = |dir: &str| {
            line_coverage.as_ref().map(|lc| {
                let (total, covered) = lc
                    .files
                    .iter()
                    .filter(|(f, _)| f.starts_with(dir))
                    .fold((0, 0), |(t, c), (_, f)| {
                        (t + f.executable.len(), c + f.covered())
                    });
                serde_json::json!({ "covered": covered, "total": total })
            })
        };
        let json = serde_json::json!({
            "charm": charm.spec.name,
            "inputs": map.inputs,
            "events": map.events,
            "hooks_reached": map.possible.len() - map.unreached().len(),
            "hooks_possible": map.possible.len(),
            "unreached": map.unreached(),
            "lines": { "src": lines("src/"), "lib": lines("lib/") },
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn minimize_cmd(m: MinimizeCmd) -> Result<ExitCode> {
    let charm = m.charm.load()?;
    let mut target = m.target.start(&charm, &m.charm.charm)?;
    let bytes = read_input(&m.input, &mut target)?;
    let start = std::time::Instant::now();
    let result = charmfuzz::minimize::minimize(&mut target, &bytes, |p| {
        progress(&format!(
            "minimize: {:<12} {:>4} candidates · best {} steps, {} bytes",
            format!("{:?}", p.stage),
            p.runs,
            p.steps,
            p.bytes
        ));
    });
    progress_done();
    let result = result.with_context(|| format!("cannot minimise {}", m.input.display()))?;
    let out = m.output.unwrap_or_else(|| {
        let mut o = m.input.clone().into_os_string();
        o.push(".min");
        PathBuf::from(o)
    });
    std::fs::write(&out, &result.input)
        .with_context(|| format!("cannot write {}", out.display()))?;
    let mut trace_path = out.clone().into_os_string();
    trace_path.push(".json");
    std::fs::write(&trace_path, result.report.trace.to_json())
        .with_context(|| format!("cannot write {}", trace_path.to_string_lossy()))?;
    print!("{}", charmfuzz::fuzzing::explain(&result.report));
    println!(
        "minimized: {} steps -> {} steps, {} -> {} bytes ({} candidates, {:.0} s)",
        result.steps_before,
        result.steps_after,
        bytes.len(),
        result.input.len(),
        result.runs,
        start.elapsed().as_secs_f64()
    );
    println!(
        "written to {} (bytes) and {} (trace)",
        out.display(),
        trace_path.to_string_lossy()
    );
    Ok(ExitCode::SUCCESS)
}

fn repro_cmd(r: ReproCmd) -> Result<ExitCode> {
    use charmfuzz::reproduce;
    let charm = r.charm.load()?;
    let mut target = r.target.start(&charm, &r.charm.charm)?;
    let bytes = read_input(&r.input, &mut target)?;
    let run = target.run_bytes(&bytes, None)?;
    let Some(finding) = run.finding.clone() else {
        bail!(
            "{} ends without a finding on this charm: nothing to reproduce",
            r.input.display()
        );
    };
    let out = r.output.clone().unwrap_or_else(|| {
        let exception = run.outcomes[finding.event]
            .exception
            .as_ref()
            .map(|e| e.type_name.rsplit('.').next().unwrap_or("").to_string())
            .unwrap_or_else(|| "failure".into());
        PathBuf::from(format!(
            "test_{}_{}.py",
            finding.hook.replace('-', "_"),
            exception.to_lowercase()
        ))
    });
    let command = format!(
        "charmfuzz replay --charm {} {}",
        shell_word(&r.charm.charm.display().to_string()),
        shell_word(&r.input.display().to_string())
    );
    let written = reproduce::write(&mut target, &bytes, &run, &command, r.shape, &out)
        .with_context(|| format!("cannot write a reproducer for {}", r.input.display()))?;
    println!("finding: {}", finding.title);
    println!(
        "reproducer written to {} ({}){}",
        written.path.display(),
        if written.hooks == 1 {
            "the failing hook on the State before it".to_string()
        } else {
            format!("the story's {} hooks, chained", written.hooks)
        },
        if written.formatted {
            ""
        } else {
            " (not formatted: ruff not found)"
        }
    );
    for g in &written.gaps {
        println!("  not expressible in ops.testing: {g}");
    }
    if !r.check {
        return Ok(ExitCode::SUCCESS);
    }
    let (exception, frame) = reproduce::expected(&run);
    let checked = reproduce::check(
        target.python(),
        &written.path,
        None,
        exception.as_deref(),
        frame.as_ref().map(|(f, l)| (f.as_str(), *l)),
    )
    .context("cannot run pytest on the reproducer")?;
    if checked.same_failure {
        println!("check: the test fails as the finding did");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{}", checked.output.trim_end());
        println!(
            "check: the test {} (expected it to fail with {}{})",
            if checked.passed {
                "passed"
            } else {
                "failed another way"
            },
            exception.as_deref().unwrap_or("the finding"),
            frame.map_or(String::new(), |(f, l)| format!(" at {f}:{l}"))
        );
        Ok(ExitCode::from(1))
    }
}

fn triage(t: TriageCmd) -> Result<ExitCode> {
    use charmfuzz::triage::{CrashStore, FindingReport, Provenance, REPRODUCER_FILE, Recorded};
    let charm = t.charm.load()?;
    let mut target = t.target.start(&charm, &t.charm.charm)?;
    let store = CrashStore::open(&t.store)?;
    let info = target.worker_info().cloned().unwrap_or_default();
    let charm_dir = std::fs::canonicalize(&t.charm.charm).unwrap_or(t.charm.charm.clone());
    let (mut new, mut known, mut lost) = (0, 0, 0);
    for (n, path) in t.inputs.iter().enumerate() {
        let original = read_input(path, &mut target)?;
        let label = format!("[{}/{}] {}", n + 1, t.inputs.len(), path.display());
        let (input, run) = if t.no_minimize {
            let run = target.run_bytes(&original, None)?;
            (original.clone(), run)
        } else {
            let result = charmfuzz::minimize::minimize(&mut target, &original, |p| {
                progress(&format!(
                    "{label}: minimizing, {} candidates, {} steps",
                    p.runs, p.steps
                ))
            });
            progress_done();
            match result {
                Ok(m) => (m.input, m.report),
                Err(charmfuzz::minimize::MinimizeError::NoFinding) => {
                    lost += 1;
                    println!("{label}: no finding when replayed (flaky, or another charm?)");
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        };
        if run.finding.is_none() {
            lost += 1;
            match run.environment.first() {
                Some(f) => {
                    println!(
                        "{label}: an environment finding now, not the charm's: {}",
                        f.title
                    );
                    print_fixes(&f.lacks, "    ");
                }
                None => println!("{label}: no finding when replayed (flaky, or another charm?)"),
            }
            continue;
        }
        let from = Provenance {
            charm_dir: charm_dir.display().to_string(),
            ops: info.ops.clone(),
            python: info.python.clone(),
            artifact: Some(path.display().to_string()),
        };
        let mut report = FindingReport::new(&run, &from)?;
        if store.would_keep(&report) {
            let path = store.folder(&report.signature).join(REPRODUCER_FILE);
            let command = format!(
                "charmfuzz replay --charm {} {}",
                shell_word(&charm_dir.display().to_string()),
                shell_word(&path.with_file_name("input").display().to_string())
            );
            match charmfuzz::reproduce::write(
                &mut target,
                &input,
                &run,
                &command,
                charmfuzz::reproduce::Shape::Auto,
                &path,
            ) {
                Ok(_) => report.reproducer = Some(format!("python -m pytest {REPRODUCER_FILE}")),
                Err(e) => println!("{label}: warning: no reproducer: {}", error_chain(&e)),
            }
        }
        let title = report.title.clone();
        let steps = report.steps;
        let has_reproducer = report.reproducer.is_some();
        let story = charmfuzz::fuzzing::explain(&run);
        let recorded = store.record(report, &story, &input, &original)?;
        let what = match &recorded {
            Recorded::New(_) => {
                new += 1;
                "NEW"
            }
            Recorded::Shorter(_) => {
                known += 1;
                "known, shorter story kept"
            }
            Recorded::Known(_) => {
                known += 1;
                "known"
            }
        };
        println!(
            "{label}: {what}: {title} ({steps} steps) -> {}",
            recorded.dir().display()
        );
        if has_reproducer {
            println!(
                "    reproducer: {}",
                recorded.dir().join(REPRODUCER_FILE).display()
            );
        }
    }
    println!(
        "triage: {new} new signature(s), {known} known, {lost} not reproduced; store {}",
        t.store.display()
    );
    Ok(if new > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A progress line for long commands, rewritten in place on a terminal; logs (CI, the
/// nightly job) get nothing, rather than a line per candidate.
fn progress(line: &str) {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K{line}");
    }
}

fn progress_done() {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
}

/// What one event did, for the story: exit, statuses, juju-log lines (as `juju debug-log`
/// prints them), the error.
fn outcome_lines(o: &EventOutcome) -> Vec<String> {
    use charmfuzz::target::Exit;
    let mut v = Vec::new();
    let ms = (o.seconds * 1000.0).round();
    v.push(match &o.exit {
        Exit::Code(0) => format!("✓ ok in {ms} ms"),
        Exit::Code(c) => format!("✗ exit {c} after {ms} ms"),
        Exit::Signal(s) => format!(
            "✗ killed by {} after {ms} ms",
            charmfuzz::target::outcome::signal_name(*s)
        ),
        Exit::Timeout => format!("✗ hang: killed at the timeout ({ms} ms)"),
    });
    for s in o.agent.statuses.iter().filter(|s| !s.by_juju) {
        let who = match s.target {
            charmfuzz::target::hooktools::StatusTarget::Unit => "unit",
            _ => "app",
        };
        v.push(format!("status ({who}): {} {:?}", s.status, s.message));
    }
    for l in &o.agent.logs {
        if l.level == "TRACE" || l.message.starts_with("Uncaught exception") {
            continue;
        }
        let first = l.message.lines().next().unwrap_or("");
        v.push(format!("{} juju-log: {first}", l.level));
    }
    if let Some(cut) = &o.output_cut {
        v.push(format!("output cut ({cut})"));
    }
    for c in &o.shim_calls {
        v.push(format!("ran {} {}", c.program, c.args.join(" ")));
    }
    for c in &o.unscripted {
        v.push(format!("exec {c} (unscripted: the exec-default answer)"));
    }
    if let Some(e) = &o.exception {
        let at = e
            .charm_frame()
            .map(|f| format!(" at {}:{} in {}", f.file, f.line, f.function))
            .unwrap_or_default();
        v.push(format!(
            "error: {}: {}{at}",
            e.type_name,
            e.message.lines().next().unwrap_or("")
        ));
    } else if !o.exit.ok() && !o.stderr_tail.is_empty() {
        for l in o
            .stderr_tail
            .lines()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            v.push(format!("stderr: {l}"));
        }
    }
    if !o.deferred.is_empty() {
        let d: Vec<String> = o
            .deferred
            .iter()
            .filter_map(|d| d.get("event").and_then(|e| e.as_str()))
            .map(|e| e.rsplit('/').next().unwrap_or(e).to_string())
            .collect();
        v.push(format!("deferred: {}", d.join(", ")));
    }
    v
}

/// Count action and hook kinds over many random inputs, and invalid traces (should be 0).
fn stats(
    charm: &Charm,
    inputs: u64,
    len: usize,
) -> (BTreeMap<ActionKind, u64>, BTreeMap<HookKind, u64>, u64) {
    let mut actions = BTreeMap::new();
    let mut hooks = BTreeMap::new();
    let mut invalid = 0;
    for seed in 0..inputs {
        let trace = decode_all(charm, &seed_bytes(seed, len), None);
        if let Err(v) = engine::validate(&trace, &charm.spec) {
            invalid += 1;
            if invalid <= 5 {
                eprintln!("seed {seed}: {}", v[0]);
            }
        }
        for step in &trace.steps {
            *actions.entry(step.action.kind()).or_insert(0) += 1;
            for e in &step.events {
                *hooks.entry(e.kind).or_insert(0) += 1;
            }
        }
    }
    (actions, hooks, invalid)
}

fn print_spec(charm: &Charm) {
    let s = &charm.spec;
    println!(
        "charm {} ({:?} layout) in {}",
        s.name,
        s.layout,
        s.dir.display()
    );
    println!(
        "  substrate: {}{}",
        match s.substrate {
            Substrate::Kubernetes => "kubernetes (sidecar)",
            Substrate::Machine => "machine",
        },
        if s.subordinate { ", subordinate" } else { "" }
    );
    println!("  juju version: {}", charm.config.engine.juju_version);
    println!("endpoints:");
    for e in &s.endpoints {
        let role = match e.role {
            Role::Requires => "requires",
            Role::Provides => "provides",
            Role::Peer => "peers",
        };
        println!(
            "  {:<24} {:<9} {:<24} limit {:<5} scope {:?}",
            e.name,
            role,
            e.interface,
            e.limit.map(|l| l.to_string()).unwrap_or("-".into()),
            e.scope
        );
    }
    println!("storage:");
    for st in &s.storage {
        println!(
            "  {:<24} {:<10} instances {}..{} {}",
            st.name,
            st.kind.as_str(),
            st.multiple.min,
            st.multiple.max.map(|m| m.to_string()).unwrap_or("∞".into()),
            st.location.clone().unwrap_or_default()
        );
    }
    println!("containers:");
    for c in &s.containers {
        println!("  {}", c.name);
    }
    println!("config options:");
    for o in &s.config {
        println!(
            "  {:<24} {:<8} default {}",
            o.name,
            format!("{:?}", o.ty).to_lowercase(),
            o.default
                .clone()
                .map(|d| d.to_string())
                .unwrap_or("(unset)".into())
        );
    }
    println!("actions:");
    for a in &s.actions {
        let params: Vec<String> = a
            .params
            .iter()
            .map(|p| format!("{}: {:?}", p.name, p.ty).to_lowercase())
            .collect();
        println!("  {:<24} {}", a.name, params.join(", "));
    }
    println!("action space (kind, weight, possible for this charm):");
    for k in ActionKind::ALL {
        let possible = action_possible(charm, k);
        println!(
            "  {:<28} {:>3}  {}",
            k.as_str(),
            charm.weights.get(k),
            if possible { "yes" } else { "no" }
        );
    }
    if !s.containers.is_empty() {
        print_workload_execs(charm);
    }
    // The words databag keys and values are drawn from: a charm author checks here that
    // the keys their charm reads are among them (`[samples] strings` adds more).
    println!(
        "payload words ({}, the charm's string literals included):",
        charm.vocab.words.len()
    );
    let quoted: Vec<String> = charm.vocab.words.iter().map(|w| format!("{w:?}")).collect();
    for line in charmfuzz::repro::wrap(quoted.iter().map(String::as_str), 88) {
        println!("  {line}");
    }
}

/// The commands the charm's code runs in its workload containers, and what answers each
/// here: a charm author scripts the unscripted ones in `charmfuzz.toml`.
fn print_workload_execs(charm: &Charm) {
    use charmfuzz::spec::execs;
    let python: PathBuf = std::env::var_os("CHARMFUZZ_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| "python3".into());
    let answers = TargetConfig::from_table(&charm.config.target)
        .map(|c| c.exec_answers())
        .ok();
    println!("workload commands (Pebble exec calls in src/ and lib/, and what answers them):");
    let scan = match execs::scan(&charm.spec.dir, &python) {
        Ok(scan) => scan,
        Err(e) => {
            println!("  not read: {e}");
            return;
        }
    };
    for site in &scan.sites {
        let mut shown = site
            .command
            .iter()
            .map(|w| format!("{w:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        if !site.complete {
            shown.push_str(if site.command.is_empty() {
                "…"
            } else {
                ", …"
            });
        }
        let answer = match &answers {
            _ if site.command.is_empty() => "computed at run time".to_string(),
            None => "?".into(),
            Some(a) => match a.ever(&site.command) {
                ExecMatch::Answer(_) => "scripted".into(),
                ExecMatch::Allowed => "allowed".into(),
                ExecMatch::Unscripted => format!(
                    "unscripted (exec-default: {})",
                    match a.unscripted {
                        ExecDefault::Succeed => "exit 0, no output",
                        ExecDefault::NotFound => "not found",
                    }
                ),
            },
        };
        println!(
            "  {:<48} [{shown}]  {answer}",
            format!("{}:{}", site.file, site.line)
        );
    }
    if scan.sites.is_empty() {
        println!("  (none)");
    }
    for (file, error) in &scan.unreadable {
        println!("  {file}: not read ({error})");
    }
}

/// Whether an action kind can ever happen to this charm (statically).
fn action_possible(charm: &Charm, k: ActionKind) -> bool {
    let s = &charm.spec;
    let k8s = s.substrate == Substrate::Kubernetes;
    let v = charm.config.engine.juju_version;
    use ActionKind as K;
    match k {
        K::Integrate
        | K::RemoveRelation
        | K::SuspendRelation
        | K::ResumeRelation
        | K::RemoteUnitAdded
        | K::RemoteUnitRemoved
        | K::RemoteAppData => s.endpoints.iter().any(|e| e.role != Role::Peer),
        K::RemoteUnitData => !s.endpoints.is_empty(),
        K::Config => !s.config.is_empty(),
        K::WorkloadStarted | K::WorkloadStopped => k8s && !s.containers.is_empty(),
        K::CustomNotice => k8s && !s.containers.is_empty() && v.has_custom_notices(),
        K::CheckFailed | K::CheckRecovered => {
            k8s && !s.containers.is_empty() && v.has_check_events()
        }
        K::ServiceExited | K::WorkloadFault => {
            k8s && !s.containers.is_empty() && charm.config.engine.workload_faults
        }
        K::RunAction => !s.actions.is_empty(),
        K::PodRecreated | K::CharmContainerRestarted => k8s,
        K::MachineRebooted | K::SeriesUpgradePrepare | K::SeriesUpgradeComplete => !k8s,
        K::CollectMetricsTimer => !k8s && s.has_metrics && v.has_collect_metrics(),
        K::ForceRemoveUnit => charm.config.engine.forced_removal,
        K::StorageAdded | K::StorageDetached => s
            .storage
            .iter()
            .any(|st| st.multiple.max.is_none_or(|m| m > st.multiple.min)),
        _ => true,
    }
}

fn main() -> ExitCode {
    // Behave like a Unix filter: `charmfuzz spec . | head` ends quietly when the reader
    // goes away instead of panicking on a broken pipe.
    // SAFETY: resetting a signal disposition to its default at start-up, before any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Run under a hook tool's name (a symlink in the unit's tools directory), this binary
    // is the unit agent's client, `jujuc`.
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    let name = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.starts_with("charmfuzz") && !name.is_empty() {
        let code = charmfuzz::target::agent::jujuc_main(&name, args.collect());
        return ExitCode::from(code.clamp(0, 255) as u8);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_chain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

/// An error and its causes on one line, "what was done: why", each cause said once: many
/// library errors already end with their source's message (`cannot read x: No such
/// file`), and anyhow's `{:#}` would print it again.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    for cause in std::iter::successors(Some(e), |e| e.source()) {
        let msg = cause.to_string();
        if out.contains(&msg) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&msg);
    }
    out
}
