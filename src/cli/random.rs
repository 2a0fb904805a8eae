//! `charmfuzz random`: random stories against the charm with no coverage feedback, until a
//! finding. The baseline the fuzzer is measured against (the ablation benchmark's third
//! arm), and a throughput figure: the last line reads `result: runs=… events=… seconds=…
//! found=…`. Exit status 0 when a finding came (or none was sought with `--all`), 1 when
//! none came, 2 on a harness error.

use super::report::print_fixes;
use super::{CharmArg, RunCommand, TargetArgs, attach_coverage, story_steps};
use anyhow::{Context, Result};
use charmfuzz::charm::Charm;
use charmfuzz::fuzzing::{SearchResult, SignatureSeen, random_search};
use charmfuzz::target::{Finding, FindingClass};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct Random {
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

impl RunCommand for Random {
    fn run(self) -> Result<ExitCode> {
        let (charm, mut target) = self.charm.start(&self.target)?;
        if !self.all {
            target.only = self.only.clone();
        }
        if self.coverage {
            attach_coverage(&mut target)?;
        }
        let start = std::time::Instant::now();
        // With --only, the target itself lets other failures pass (`Target::only`).
        let search = random_search(&mut target, self.runs, self.steps, self.seed, |_| !self.all)?;
        let seconds = start.elapsed().as_secs_f64();
        let found = search.finding.as_ref().and_then(|rep| rep.finding.as_ref());
        if let (Some(path), Some(bytes)) = (&self.artifact, &search.input) {
            std::fs::write(path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        self.print_findings(&search, found, seconds);
        let environment: Vec<_> = search
            .signatures
            .iter()
            .filter(|(_, s)| s.class == FindingClass::Environment)
            .collect();
        if !self.all && !environment.is_empty() {
            print_environment(&environment);
        }
        self.print_figures(&search, found, environment.len(), seconds);
        if let Some(path) = &self.json {
            write_json(path, &charm, &search, seconds)?;
        }
        Ok(if found.is_some() || self.all {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    }
}

impl Random {
    /// The finding that ended the search, or with `--all` every signature met.
    fn print_findings(&self, search: &SearchResult, found: Option<&Finding>, seconds: f64) {
        match found {
            Some(f) => println!(
                "finding after {} runs ({:.1} s): {}\nsignature: {}",
                search.runs, seconds, f.title, f.signature
            ),
            None if self.all => {
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
    }

    /// The throughput, and the `result:` line scripts read.
    fn print_figures(
        &self,
        search: &SearchResult,
        found: Option<&Finding>,
        environment: usize,
        seconds: f64,
    ) {
        println!(
            "{:.1} events/s, {:.2} runs/s{}",
            search.events as f64 / seconds,
            search.runs as f64 / seconds,
            if self.coverage {
                " (with coverage)"
            } else {
                ""
            }
        );
        // With --all the search goes on past findings: it found something when it met any
        // of the charm's.
        let found_any = found.is_some() || (self.all && search.signatures.len() > environment);
        println!(
            "result: runs={} events={} seconds={seconds:.2} found={}{}{}",
            search.runs,
            search.events,
            if found_any { "yes" } else { "no" },
            if self.all {
                format!(" signatures={}", search.signatures.len())
            } else {
                String::new()
            },
            if environment == 0 {
                String::new()
            } else {
                format!(" environment={environment}")
            },
        );
    }
}

/// The environment findings the stories went on past (without `--all`).
fn print_environment(environment: &[(&String, &SignatureSeen)]) {
    println!(
        "environment findings (the charm failed where a stand-in of charmfuzz's could not \
         answer; the stories went on past them):"
    );
    for (sig, seen) in environment {
        println!("  {sig}: in {} run(s): {}", seen.runs, seen.title);
        print_fixes(&seen.lacks, "    ");
    }
}

/// `--json`: the figures `scripts/survey.sh` reads.
fn write_json(path: &Path, charm: &Charm, search: &SearchResult, seconds: f64) -> Result<()> {
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
    Ok(())
}
