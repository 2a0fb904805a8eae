//! `charmfuzz validate`: check a trace (JSON) against Juju's ordering rules, the ones the
//! engine's validator knows (see `docs/trace-format.md`). Exit status 1 when it breaks any.

use super::{CharmArg, RunCommand, read_trace};
use anyhow::Result;
use charmfuzz::engine;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct Validate {
    /// The trace to check.
    trace: PathBuf,
    #[command(flatten)]
    charm: CharmArg,
}

impl RunCommand for Validate {
    fn run(self) -> Result<ExitCode> {
        let charm = self.charm.load()?;
        let trace = read_trace(&self.trace)?;
        match engine::validate(&trace, &charm.spec) {
            Ok(()) => println!(
                "{}: valid ({} steps, {} events)",
                self.trace.display(),
                trace.steps.len(),
                trace.events().count()
            ),
            Err(violations) => {
                for x in &violations {
                    println!("{}: {x}", self.trace.display());
                }
                println!("{} violation(s)", violations.len());
                return Ok(ExitCode::from(1));
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
