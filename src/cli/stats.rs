//! `charmfuzz stats`: decode many random inputs and count the actions and hooks they
//! contain (the counting is [`charmfuzz::stats::decode_stats`]). A kind that never comes
//! up points at a weight or a precondition; any invalid trace is an engine bug, and makes
//! the exit status 1.

use super::{CharmArg, RunCommand};
use anyhow::Result;
use charmfuzz::engine::{ActionKind, HookKind};
use charmfuzz::stats::decode_stats;
use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct Stats {
    #[command(flatten)]
    charm: CharmArg,
    /// How many random inputs to decode.
    #[arg(long, default_value_t = 5000)]
    inputs: u64,
    /// Length of each random input in bytes.
    #[arg(long, default_value_t = 256)]
    len: usize,
}

impl RunCommand for Stats {
    fn run(self) -> Result<ExitCode> {
        let charm = self.charm.load()?;
        let stats = decode_stats(&charm, self.inputs, self.len);
        for (seed, violation) in &stats.first_invalid {
            eprintln!("seed {seed}: {violation}");
        }
        println!(
            "{} random inputs of {} bytes for {}:",
            self.inputs, self.len, charm.spec.name
        );
        println!("actions:");
        for k in ActionKind::ALL {
            println!(
                "  {:<28} {}",
                k.as_str(),
                stats.actions.get(&k).copied().unwrap_or(0)
            );
        }
        println!("hooks:");
        for k in HookKind::ALL {
            println!(
                "  {:<28} {}",
                k.as_str(),
                stats.hooks.get(&k).copied().unwrap_or(0)
            );
        }
        println!("invalid traces: {}", stats.invalid);
        Ok(if stats.invalid > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}
