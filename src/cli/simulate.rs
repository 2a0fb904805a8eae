//! `charmfuzz simulate`: one random but valid story for a charm, told without the charm
//! (every hook succeeds). The same seed gives the same story, so a story can be named by
//! its seed.

use super::{CharmArg, RunCommand, decode_all, story_steps};
use anyhow::{Result, bail};
use charmfuzz::engine::{self, seed_bytes};
use charmfuzz::fuzzing::random_story_len;
use charmfuzz::story;
use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct Simulate {
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

impl RunCommand for Simulate {
    fn run(self) -> Result<ExitCode> {
        let charm = self.charm.load()?;
        let bytes = seed_bytes(self.seed, self.len.unwrap_or(random_story_len(self.steps)));
        let trace = decode_all(&charm, &bytes, Some(self.steps));
        if let (Err(v), false) = (engine::validate(&trace, &charm.spec), self.unchecked) {
            // Never print an invalid story: this is an engine bug.
            bail!(
                "internal error: the engine produced an invalid trace: {}",
                v[0]
            );
        }
        if self.json {
            println!("{}", trace.to_json());
        } else {
            print!("{}", story::story(&trace));
        }
        Ok(ExitCode::SUCCESS)
    }
}
