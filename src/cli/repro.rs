//! `charmfuzz repro`: a pytest reproducer for a finding, an `ops.testing` State of the unit
//! just before the hook that failed and `ctx.run` of that hook (or of the whole story's
//! hooks, chained). `--check` runs it with pytest and says whether it fails the same way
//! (exception type and line); exit status 1 when it does not.

use super::{CharmArg, RunCommand, TargetArgs, read_input};
use anyhow::{Context, Result, bail};
use charmfuzz::fuzzing::shell_word;
use charmfuzz::reproduce::{self, Shape};
use charmfuzz::target::{RunReport, Target};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct Repro {
    /// A crash artifact (fuzzer bytes) or a trace (JSON) that ends with a finding.
    input: PathBuf,
    #[command(flatten)]
    charm: CharmArg,
    /// Where to write the test (default: `test_<hook>_<exception>.py` here).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Run the test with pytest (the charm's Python) and check it fails as the finding did.
    #[arg(long)]
    check: bool,
    /// `hook`: the failing hook alone, on the State just before it; `story`: every hook of
    /// the story as chained `ctx.run` calls; `auto`: the hook alone unless the charm has
    /// a memory of its own at it (StoredState, deferred events).
    #[arg(long, value_enum, default_value_t = Shape::Auto)]
    shape: Shape,
    #[command(flatten)]
    target: TargetArgs,
}

impl RunCommand for Repro {
    fn run(self) -> Result<ExitCode> {
        let (_, mut target) = self.charm.start(&self.target)?;
        let bytes = read_input(&self.input, &mut target)?;
        let run = target.run_bytes(&bytes, None)?;
        let Some(finding) = run.finding.clone() else {
            bail!(
                "{} ends without a finding on this charm: nothing to reproduce",
                self.input.display()
            );
        };
        let out = self.output.clone().unwrap_or_else(|| {
            let exception = run.outcomes[finding.event]
                .exception
                .as_ref()
                .map(|e| e.type_name.rsplit('.').next().unwrap_or("").to_string())
                .unwrap_or_else(|| "failure".into());
            PathBuf::from(format!(
                "test_{}_{}.py",
                finding.hook.replace('-', "_"),
                exception.to_lowercase()
            ))
        });
        let command = format!(
            "charmfuzz replay --charm {} {}",
            shell_word(&self.charm.charm.display().to_string()),
            shell_word(&self.input.display().to_string())
        );
        let written = reproduce::write(&mut target, &bytes, &run, &command, self.shape, &out)
            .with_context(|| format!("cannot write a reproducer for {}", self.input.display()))?;
        println!("finding: {}", finding.title);
        println!(
            "reproducer written to {} ({}){}",
            written.path.display(),
            if written.hooks == 1 {
                "the failing hook on the State before it".to_string()
            } else {
                format!("the story's {} hooks, chained", written.hooks)
            },
            if written.formatted {
                ""
            } else {
                " (not formatted: ruff not found)"
            }
        );
        for g in &written.gaps {
            println!("  not expressible in ops.testing: {g}");
        }
        if !self.check {
            return Ok(ExitCode::SUCCESS);
        }
        check(&target, &run, &written.path)
    }
}

/// `--check`: run the reproducer with pytest and say whether it fails as `run` did.
fn check(target: &Target, run: &RunReport, test: &Path) -> Result<ExitCode> {
    let (exception, frame) = reproduce::expected(run);
    let checked = reproduce::check(
        target.python(),
        test,
        None,
        exception.as_deref(),
        frame.as_ref().map(|(f, l)| (f.as_str(), *l)),
    )
    .context("cannot run pytest on the reproducer")?;
    if checked.same_failure {
        println!("check: the test fails as the finding did");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{}", checked.output.trim_end());
        println!(
            "check: the test {} (expected it to fail with {}{})",
            if checked.passed {
                "passed"
            } else {
                "failed another way"
            },
            exception.as_deref().unwrap_or("the finding"),
            frame.map_or(String::new(), |(f, l)| format!(" at {f}:{l}"))
        );
        Ok(ExitCode::from(1))
    }
}
