//! The `charmfuzz` subcommands, one file each.
//!
//! Most commands work on one charm directory (`--charm DIR`, optionally with another Juju
//! version) and many run stories against the real charm: they start its worker, a Python
//! process that plays the unit agent's hooks, walled in by bubblewrap unless told
//! otherwise. The arguments for both, [`CharmArg`] and [`TargetArgs`], are shared here,
//! with the readers every command uses for its inputs (fuzzer bytes, or traces in JSON)
//! and the progress line of the long ones. [`report`] prints a run: each event's outcome,
//! the finding.
//!
//! `main.rs` parses the command line and calls the chosen command's
//! [`RunCommand::run`]; each file below holds a command's arguments and its handler.

pub mod coverage;
pub mod decode;
pub mod dict;
pub mod encode;
pub mod minimize;
pub mod random;
pub mod replay;
pub mod report;
pub mod repro;
pub mod run;
pub mod setup;
pub mod simulate;
pub mod spec;
pub mod stats;
pub mod triage;
pub mod validate;

use anyhow::{Context, Result};
use charmfuzz::charm::Charm;
use charmfuzz::engine::Trace;
use charmfuzz::target::coverage::{CODE_SLOTS, CoverageMap};
use charmfuzz::target::sandbox::Containment;
use charmfuzz::target::{Mode, Target, TargetConfig};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A subcommand: its arguments, parsed, and what it does with them.
pub trait RunCommand {
    /// Do it. The exit status is the command's own (e.g. 1 on a finding); an error is
    /// printed by `main` and exits with 2.
    fn run(self) -> Result<ExitCode>;
}

#[derive(Args)]
pub struct CharmArg {
    /// The charm directory (with charmcraft.yaml or metadata.yaml).
    #[arg(long, default_value = ".")]
    pub charm: PathBuf,
    /// Override the Juju version (3.1 to 3.6).
    #[arg(long)]
    juju_version: Option<String>,
}

impl CharmArg {
    pub fn load(&self) -> Result<Charm> {
        let mut charm = Charm::load(&self.charm)
            .with_context(|| format!("cannot load the charm in {}", self.charm.display()))?;
        if let Some(v) = &self.juju_version {
            charm.config.engine.juju_version = v.parse()?;
        }
        Ok(charm)
    }

    /// Load the charm, then start its worker as `target` says: what every command that
    /// runs stories against the real charm does first.
    pub fn start(&self, target: &TargetArgs) -> Result<(Charm, Target)> {
        let charm = self.load()?;
        let target = target.start(&charm)?;
        Ok((charm, target))
    }
}

/// How the charm runs (overriding its `charmfuzz.toml`).
#[derive(Args)]
pub struct TargetArgs {
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
    ///
    /// For a charm already loaded ([`CharmArg::start`] loads it too); the charm runs from
    /// the directory it was loaded from.
    pub fn start(&self, charm: &Charm) -> Result<Target> {
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
        let target = Target::new(charm.clone(), config, jujuc.as_deref())
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
pub fn attach_coverage(target: &mut Target) -> Result<()> {
    let map = CoverageMap::new(CODE_SLOTS)?;
    target.enable_coverage(map, false)?;
    Ok(())
}

/// `--steps`: up to the decoder's ceiling; 0 is the deployment alone (what the target
/// benchmark times as a run's start-up).
pub fn story_steps() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(0..=charmfuzz::charm::STORY_MAX_STEPS as u64)
}

pub fn decode_all(charm: &Charm, bytes: &[u8], max_steps: Option<usize>) -> Trace {
    charm.decoder(bytes, max_steps).run_to_end()
}

pub fn read_trace(path: &Path) -> Result<Trace> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_trace(&text, path)
}

/// A trace file, or the report `run --json` / `replay --json` prints (the trace inside).
fn parse_trace(text: &str, path: &Path) -> Result<Trace> {
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

/// A finding to work on: fuzzer bytes (a crash artifact, a corpus file), or a trace (JSON,
/// from `run --json`, `minimize` or written by hand), encoded into the bytes that replay it.
/// A story of actions only is played against the charm to encode it as the charm lives it.
pub fn read_input(path: &Path, target: &mut Target) -> Result<Vec<u8>> {
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

/// A progress line for long commands, rewritten in place on a terminal; logs (CI, the
/// nightly job) get nothing, rather than a line per candidate.
pub fn progress(line: &str) {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K{line}");
    }
}

pub fn progress_done() {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
}

/// An error and its causes on one line, "what was done: why", each cause said once: many
/// library errors already end with their source's message (`cannot read x: No such
/// file`), and anyhow's `{:#}` would print it again.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
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
