//! The `charmfuzz` command line: the arguments are parsed here and each subcommand runs
//! from its own file in [`cli`] (one per command, with the arguments they share).
//!
//! The same binary is also the unit agent's hook-tool client: run under a hook tool's name
//! (`relation-get`, `status-set`, … symlinked in the unit's tools directory), it is
//! `jujuc` and forwards the call to charmfuzz's stand-in agent.

mod cli;

use clap::{Parser, Subcommand};
use cli::{RunCommand, error_chain};
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
    Setup(cli::setup::Setup),
    /// Print one random but valid story for a charm (the same for the same seed).
    Simulate(cli::simulate::Simulate),
    /// Check a trace (JSON) against Juju's ordering rules.
    Validate(cli::validate::Validate),
    /// Show what charmfuzz understood of a charm, and its action space.
    Spec(cli::spec::Spec),
    /// Decode many random inputs and count the actions and hooks they contain.
    Stats(cli::stats::Stats),
    /// Encode a trace (JSON) into fuzzer bytes, e.g. to make a seed.
    Encode(cli::encode::Encode),
    /// Decode fuzzer bytes (a corpus file or artifact) into a trace.
    Decode(cli::decode::Decode),
    /// Run a story against the real charm and print what each event did.
    ///
    /// Exit status: 0 when the charm came through, 1 on a finding (an uncaught exception,
    /// a hang, a crash), 2 on a usage or harness error.
    Run(cli::run::Run),
    /// Run random stories against the charm with no coverage feedback, until a finding.
    ///
    /// The baseline the fuzzer is measured against (the ablation benchmark's third arm),
    /// and a throughput figure: the last line reads `result: runs=… events=… seconds=…
    /// found=…`. Exit status: 0 when a finding came (or none was sought with `--all`), 1
    /// when none came, 2 on a harness error.
    Random(cli::random::Random),
    /// Re-run a finding (a crash artifact or a trace) and print its story with each
    /// event's outcome; `--times N` tells a steady finding from a flaky one.
    ///
    /// Exit status: 1 when the (first) run ends with a finding, 0 when not, 2 on errors.
    Replay(cli::replay::Replay),
    /// Shrink a finding to the shortest story that fails the same way: whole steps are
    /// cut, then each choice made plainer, each candidate played against the charm.
    ///
    /// Writes the smallest input next to the original (`<input>.min`, and its trace as
    /// `<input>.min.json`) and prints its story.
    Minimize(cli::minimize::Minimize),
    /// File findings into a crash store: one folder per signature with the report, the
    /// story, the trace and the (minimised) input; known signatures are only counted.
    ///
    /// Exit status: 1 when a signature new to the store was recorded, 0 when not, 2 on
    /// errors.
    Triage(cli::triage::Triage),
    /// Write a pytest reproducer for a finding: an ops.testing State of the unit just
    /// before the hook that failed, and `ctx.run` of that hook.
    ///
    /// `--check` runs it with pytest and says whether it fails the same way (exception
    /// type and line); exit status 1 when it does not.
    Repro(cli::repro::Repro),
    /// Write a libFuzzer dictionary for the charm: encoded steps of every kind of action
    /// (see `docs/fuzzing.md`), for `cargo fuzz run lifecycle -- -dict=FILE`.
    Dict(cli::dict::Dict),
    /// The lifecycle a corpus explored: every input played against the charm, then which
    /// hooks it reached, which hook followed which, and which possible hooks it never
    /// reached, as a table; and which lines of the charm's `src/` and `lib/` it ran, as a
    /// table per file (`--lcov FILE` writes them for coverage tools). `--markdown FILE`
    /// adds a report with a Mermaid diagram of the lifecycle.
    Coverage(cli::coverage::Coverage),
}

impl RunCommand for Command {
    fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Command::Setup(c) => c.run(),
            Command::Simulate(c) => c.run(),
            Command::Validate(c) => c.run(),
            Command::Spec(c) => c.run(),
            Command::Stats(c) => c.run(),
            Command::Encode(c) => c.run(),
            Command::Decode(c) => c.run(),
            Command::Run(c) => c.run(),
            Command::Random(c) => c.run(),
            Command::Replay(c) => c.run(),
            Command::Minimize(c) => c.run(),
            Command::Triage(c) => c.run(),
            Command::Repro(c) => c.run(),
            Command::Dict(c) => c.run(),
            Command::Coverage(c) => c.run(),
        }
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
    if name == "sudo" {
        let code = charmfuzz::target::sudo::sudo_main(args.collect());
        return ExitCode::from(code.clamp(0, 255) as u8);
    }
    if !name.starts_with("charmfuzz") && !name.is_empty() {
        let code = charmfuzz::target::agent::jujuc_main(&name, args.collect());
        return ExitCode::from(code.clamp(0, 255) as u8);
    }
    let cli = Cli::parse();
    match cli.command.run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_chain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}
