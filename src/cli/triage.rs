//! `charmfuzz triage`: file findings into a crash store, one folder per signature with the
//! report, the story, the trace, the (minimised) input and a pytest reproducer; a
//! signature the store knows is only counted (and its story kept if this one is shorter).
//! Exit status 1 when a signature new to the store was recorded, 0 when not, 2 on errors.

use super::report::print_fixes;
use super::{CharmArg, RunCommand, TargetArgs, error_chain, progress, progress_done, read_input};
use anyhow::Result;
use charmfuzz::fuzzing::shell_word;
use charmfuzz::minimize::{MinimizeError, minimize};
use charmfuzz::reproduce::{self, Shape};
use charmfuzz::target::{RunReport, Target};
use charmfuzz::triage::{CrashStore, FindingReport, Provenance, REPRODUCER_FILE, Recorded};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct Triage {
    /// Crash artifacts or traces (JSON).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    charm: CharmArg,
    /// The crash store directory.
    #[arg(long, default_value = "crashes")]
    store: PathBuf,
    /// Store findings as found, without shrinking them first.
    #[arg(long)]
    no_minimize: bool,
    #[command(flatten)]
    target: TargetArgs,
}

impl RunCommand for Triage {
    fn run(self) -> Result<ExitCode> {
        let (_, mut target) = self.charm.start(&self.target)?;
        let store = CrashStore::open(&self.store)?;
        let info = target.worker_info().cloned().unwrap_or_default();
        let charm_dir =
            std::fs::canonicalize(&self.charm.charm).unwrap_or(self.charm.charm.clone());
        let (mut new, mut known, mut lost) = (0, 0, 0);
        for (n, path) in self.inputs.iter().enumerate() {
            let original = read_input(path, &mut target)?;
            let label = format!("[{}/{}] {}", n + 1, self.inputs.len(), path.display());
            let Some((input, run)) = self.replay(&mut target, &original, &label)? else {
                lost += 1;
                continue;
            };
            let from = Provenance {
                charm_dir: charm_dir.display().to_string(),
                ops: info.ops.clone(),
                python: info.python.clone(),
                artifact: Some(path.display().to_string()),
            };
            let mut report = FindingReport::new(&run, &from)?;
            if store.would_keep(&report) {
                let written =
                    write_reproducer(&mut target, &store, &report, &charm_dir, &input, &run);
                match written {
                    Ok(()) => {
                        report.reproducer = Some(format!("python -m pytest {REPRODUCER_FILE}"))
                    }
                    Err(e) => println!("{label}: warning: no reproducer: {}", error_chain(&e)),
                }
            }
            match record(&store, report, &run, &input, &original, &label)? {
                Recorded::New(_) => new += 1,
                Recorded::Shorter(_) | Recorded::Known(_) => known += 1,
            }
        }
        println!(
            "triage: {new} new signature(s), {known} known, {lost} not reproduced; store {}",
            self.store.display()
        );
        Ok(if new > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}

impl Triage {
    /// Play `original` again (shrunk first unless `--no-minimize`): the input to store and
    /// its run, or `None` (said why) when it ends without a finding of the charm's now.
    fn replay(
        &self,
        target: &mut Target,
        original: &[u8],
        label: &str,
    ) -> Result<Option<(Vec<u8>, RunReport)>> {
        let (input, run) = if self.no_minimize {
            let run = target.run_bytes(original, None)?;
            (original.to_vec(), run)
        } else {
            let result = minimize(target, original, |p| {
                progress(&format!(
                    "{label}: minimizing, {} candidates, {} steps",
                    p.runs, p.steps
                ))
            });
            progress_done();
            match result {
                Ok(m) => (m.input, m.report),
                Err(MinimizeError::NoFinding) => {
                    println!("{label}: no finding when replayed (flaky, or another charm?)");
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            }
        };
        if run.finding.is_none() {
            match run.environment.first() {
                Some(f) => {
                    println!(
                        "{label}: an environment finding now, not the charm's: {}",
                        f.title
                    );
                    print_fixes(&f.lacks, "    ");
                }
                None => println!("{label}: no finding when replayed (flaky, or another charm?)"),
            }
            return Ok(None);
        }
        Ok(Some((input, run)))
    }
}

/// The pytest reproducer of a finding the store will keep, written into its folder.
fn write_reproducer(
    target: &mut Target,
    store: &CrashStore,
    report: &FindingReport,
    charm_dir: &Path,
    input: &[u8],
    run: &RunReport,
) -> Result<(), reproduce::ReproError> {
    let path = store.folder(&report.signature).join(REPRODUCER_FILE);
    let command = format!(
        "charmfuzz replay --charm {} {}",
        shell_word(&charm_dir.display().to_string()),
        shell_word(&path.with_file_name("input").display().to_string())
    );
    reproduce::write(target, input, run, &command, Shape::Auto, &path).map(|_| ())
}

/// File the finding into the store and say what became of it.
fn record(
    store: &CrashStore,
    report: FindingReport,
    run: &RunReport,
    input: &[u8],
    original: &[u8],
    label: &str,
) -> Result<Recorded> {
    let title = report.title.clone();
    let steps = report.steps;
    let has_reproducer = report.reproducer.is_some();
    let story = charmfuzz::fuzzing::explain(run);
    let recorded = store.record(report, &story, input, original)?;
    let what = match &recorded {
        Recorded::New(_) => "NEW",
        Recorded::Shorter(_) => "known, shorter story kept",
        Recorded::Known(_) => "known",
    };
    println!(
        "{label}: {what}: {title} ({steps} steps) -> {}",
        recorded.dir().display()
    );
    if has_reproducer {
        println!(
            "    reproducer: {}",
            recorded.dir().join(REPRODUCER_FILE).display()
        );
    }
    Ok(recorded)
}
