//! `charmfuzz replay`: re-run a finding (a crash artifact or a trace) and print its story
//! with each event's outcome; `--times N` tells a steady finding from a flaky one. Exit
//! status 1 when the (first) run ends with a finding, 0 when not, 2 on errors.

use super::report::{print_header, print_report};
use super::{CharmArg, RunCommand, TargetArgs, progress, progress_done, read_input};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct Replay {
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

impl RunCommand for Replay {
    fn run(self) -> Result<ExitCode> {
        let (_, mut target) = self.charm.start(&self.target)?;
        let bytes = read_input(&self.input, &mut target)?;
        let report = target.run_bytes(&bytes, None)?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print_header(&target);
            print_report(&target, &report);
        }
        if self.times > 1 {
            let first = report.finding.as_ref().map(|f| f.signature.clone());
            let mut same = 1;
            for i in 2..=self.times {
                let again = target.run_bytes(&bytes, None)?;
                if again.finding.as_ref().map(|f| &f.signature) == first.as_ref() {
                    same += 1;
                }
                progress(&format!("replay {i}/{}: {same} the same", self.times));
            }
            progress_done();
            match (&first, same == self.times) {
                (_, true) => println!("reproduced {same}/{} times", self.times),
                (Some(_), false) => println!(
                    "FLAKY: the finding came back {same}/{} times (timing, randomness or state outside the unit)",
                    self.times
                ),
                (None, false) => println!(
                    "FLAKY: no finding the first time, a finding in {}/{} later runs",
                    self.times - same,
                    self.times
                ),
            }
        }
        Ok(if report.finding.is_some() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}
