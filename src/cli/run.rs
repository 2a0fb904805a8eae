//! `charmfuzz run`: one story against the real charm (a trace, fuzzer bytes, or a random
//! story from a seed), printed with what each event did. Exit status 0 when the charm
//! came through, 1 on a finding, 2 on a usage or harness error.

use super::report::{print_header, print_report};
use super::{CharmArg, RunCommand, TargetArgs, attach_coverage, read_trace, story_steps};
use anyhow::{Context, Result};
use charmfuzz::fuzzing::random_story;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct Run {
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

impl RunCommand for Run {
    fn run(self) -> Result<ExitCode> {
        let (_, mut target) = self.charm.start(&self.target)?;
        target.stop_at_finding = !self.keep_going;
        if self.coverage {
            attach_coverage(&mut target)?;
        }
        let report = match (&self.trace, &self.input, self.seed) {
            (Some(t), _, _) => target.run_trace(&read_trace(t)?)?,
            (None, Some(i), _) => {
                let bytes =
                    std::fs::read(i).with_context(|| format!("cannot read {}", i.display()))?;
                target.run_bytes(&bytes, None)?
            }
            (None, None, seed) => {
                let bytes = random_story(seed.unwrap_or(0), self.steps);
                target.run_bytes(&bytes, Some(self.steps))?
            }
        };
        if self.json {
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
}
