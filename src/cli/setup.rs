//! `charmfuzz setup`: build the charm's own Python environment, as `charmcraft pack`
//! would, from what the charm declares (`uv.lock`, `poetry.lock`, `requirements.txt` or
//! `[project]` dependencies), and keep it in charmfuzz's cache for the other commands.

use super::RunCommand;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct Setup {
    /// The charm directory.
    #[arg(long, default_value = ".")]
    charm: PathBuf,
    /// The Python to build the environment with (what the charm's base has: 3.10 on 22.04,
    /// 3.12 on 24.04).
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// Build it again even when it is there.
    #[arg(long)]
    recreate: bool,
}

impl RunCommand for Setup {
    fn run(self) -> Result<ExitCode> {
        let python = charmfuzz::target::find_python(&self.charm, Some(&self.python))
            .map(|(p, _)| p)
            .with_context(|| format!("no interpreter {}", self.python.display()))?;
        let built = charmfuzz::pyenv::setup(&self.charm, &python, self.recreate, |step| {
            eprintln!("setup: {step}")
        })
        .with_context(|| format!("cannot set up the environment of {}", self.charm.display()))?;
        println!("{}", built.display());
        Ok(ExitCode::SUCCESS)
    }
}
