//! `charmfuzz dict`: a libFuzzer dictionary for the charm, encoded steps of every kind of
//! action taken from random stories (see `docs/fuzzing.md`), for `cargo fuzz run
//! lifecycle -- -dict=FILE`.

use super::{CharmArg, RunCommand};
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct Dict {
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

impl RunCommand for Dict {
    fn run(self) -> Result<ExitCode> {
        let charm = self.charm.load()?.for_target();
        let dict = charmfuzz::fuzzing::dictionary(&charm, self.stories, self.per_kind);
        match &self.output {
            Some(p) => {
                std::fs::write(p, dict).with_context(|| format!("cannot write {}", p.display()))?
            }
            None => print!("{dict}"),
        }
        Ok(ExitCode::SUCCESS)
    }
}
