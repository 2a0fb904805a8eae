//! `charmfuzz encode`: a trace (JSON) into the fuzzer bytes that decode to it, e.g. to
//! make a seed. A story of actions only (no events) is encoded as it decodes with every
//! hook succeeding, or with `--run` as the real charm lives it.

use super::{CharmArg, RunCommand, TargetArgs, read_trace};
use anyhow::{Context, Result};
use charmfuzz::engine;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct Encode {
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

impl RunCommand for Encode {
    fn run(self) -> Result<ExitCode> {
        let charm = self.charm.load()?;
        let trace = read_trace(&self.trace)?;
        // A story of actions only (no events): after each action, every pending hook
        // is delivered; encoded as a run against the real charm decodes (seeds).
        let story = trace.is_story();
        let bytes = if story && self.run {
            // The charm's worker starts only now, after the trace was read: the one
            // command that runs the charm only when asked to.
            let mut target = self.target.start(&charm)?;
            let (bytes, report) = target
                .run_story(&trace)
                .with_context(|| format!("cannot play {}", self.trace.display()))?;
            if let Some(f) = &report.finding {
                // A seed that fails would stop libFuzzer while it loads its corpus.
                eprintln!(
                    "{}: not written: the story ends with a finding: {}",
                    self.trace.display(),
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
        .with_context(|| format!("cannot encode {}", self.trace.display()))?;
        std::fs::write(&self.output, &bytes)
            .with_context(|| format!("cannot write {}", self.output.display()))?;
        println!("{}: {} bytes", self.output.display(), bytes.len());
        Ok(ExitCode::SUCCESS)
    }
}
