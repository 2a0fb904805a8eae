//! `charmfuzz decode`: fuzzer bytes (a corpus file or a crash artifact) into the story
//! they tell, without the charm (every hook succeeds).

use super::{CharmArg, RunCommand, decode_all};
use anyhow::{Context, Result};
use charmfuzz::story;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct Decode {
    input: PathBuf,
    #[command(flatten)]
    charm: CharmArg,
    #[arg(long)]
    json: bool,
}

impl RunCommand for Decode {
    fn run(self) -> Result<ExitCode> {
        let charm = self.charm.load()?;
        let bytes = std::fs::read(&self.input)
            .with_context(|| format!("cannot read {}", self.input.display()))?;
        // The story told without the charm (`charmfuzz run --input` plays it against
        // the charm, as the fuzzer did).
        let trace = decode_all(&charm, &bytes, None);
        if self.json {
            println!("{}", trace.to_json());
        } else {
            print!("{}", story::story(&trace));
        }
        Ok(ExitCode::SUCCESS)
    }
}
