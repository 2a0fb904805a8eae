//! `charmfuzz coverage`: the lifecycle a corpus explored. Every input is played against
//! the charm; then which hooks it reached, which hook followed which, and which possible
//! hooks it never reached, as a table; and which lines of the charm's `src/` and `lib/` it
//! ran, as a table per file (`--lcov FILE` writes them for coverage tools). `--markdown
//! FILE` adds a report with a Mermaid diagram of the lifecycle.

use super::{CharmArg, RunCommand, TargetArgs, progress, progress_done, read_input};
use anyhow::{Context, Result, bail};
use charmfuzz::charm::Charm;
use charmfuzz::lifecycle_map::LifecycleMap;
use charmfuzz::line_coverage::LineCoverage;
use charmfuzz::target::Mode;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct Coverage {
    /// Corpus directories (fuzzer bytes) or single inputs (bytes or traces).
    #[arg(required = true)]
    corpus: Vec<PathBuf>,
    #[command(flatten)]
    charm: CharmArg,
    /// Write a Markdown report with the Mermaid picture of the lifecycle here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Transitions listed in the table, most frequent first.
    #[arg(long, default_value_t = 15)]
    top: usize,
    /// Write the charm's line coverage as an LCOV tracefile here (genhtml, Codecov and
    /// editors' coverage gutters read it).
    #[arg(long)]
    lcov: Option<PathBuf>,
    /// Skip line coverage (hooks and transitions only; faster: no tracer in the charm).
    #[arg(long, conflicts_with = "lcov")]
    no_lines: bool,
    /// Write the totals as JSON here: hooks reached of those possible, and lines run of
    /// the charm's `src/` and `lib/` (`scripts/survey.sh` reads it).
    #[arg(long)]
    json: Option<PathBuf>,
    #[command(flatten)]
    target: TargetArgs,
}

impl RunCommand for Coverage {
    fn run(self) -> Result<ExitCode> {
        let charm = self.charm.load()?;
        let inputs = self.inputs()?;
        // The charm's worker starts only once the corpus is known not to be empty.
        let mut target = self.target.start(&charm)?;
        let lines = !self.no_lines && target.mode() == Mode::Fork;
        if lines {
            target
                .enable_line_coverage()
                .context("cannot start the charm with line coverage")?;
        } else if self.lcov.is_some() {
            bail!("--lcov needs fork mode: in exec mode the charm's own dispatch runs each hook");
        }
        let mut map = LifecycleMap::new(&charm.spec);
        for (i, path) in inputs.iter().enumerate() {
            progress(&format!("coverage: {}/{} inputs", i + 1, inputs.len()));
            let bytes = read_input(path, &mut target)?;
            let report = target
                .run_bytes(&bytes, None)
                .with_context(|| format!("cannot run {}", path.display()))?;
            map.add(&report.trace);
        }
        progress_done();
        print!("{}", map.table(self.top));
        let line_coverage = if lines {
            target
                .line_coverage()
                .context("cannot list the charm's lines")?
        } else {
            None
        };
        self.print_lines(line_coverage.as_ref())?;
        if let Some(md) = &self.markdown {
            write_markdown(md, &charm, &map, line_coverage.as_ref())?;
        }
        if let Some(path) = &self.json {
            write_json(path, &charm, &map, line_coverage.as_ref())?;
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl Coverage {
    /// The inputs: each corpus directory's files in name order, and single files as given.
    fn inputs(&self) -> Result<Vec<PathBuf>> {
        let mut inputs = Vec::new();
        for p in &self.corpus {
            if p.is_dir() {
                let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                    .with_context(|| format!("cannot read the corpus {}", p.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.is_file())
                    .collect();
                files.sort();
                inputs.extend(files);
            } else {
                inputs.push(p.clone());
            }
        }
        if inputs.is_empty() {
            bail!("no inputs in {}", self.corpus[0].display());
        }
        Ok(inputs)
    }

    /// The table of the charm's lines the corpus ran, and the LCOV tracefile (`--lcov`).
    fn print_lines(&self, line_coverage: Option<&LineCoverage>) -> Result<()> {
        if let Some(lc) = line_coverage {
            println!(
                "\nlines of the charm run by the corpus ({} hooks):\n",
                lc.hooks
            );
            print!("{}", lc.table());
        }
        if let (Some(path), Some(lc)) = (&self.lcov, line_coverage) {
            let charm_dir =
                std::path::absolute(&self.charm.charm).unwrap_or(self.charm.charm.clone());
            std::fs::write(path, lc.lcov(&charm_dir))
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("\nLCOV tracefile: {}", path.display());
        }
        Ok(())
    }
}

/// `--markdown`: the lifecycle diagram, and the table of lines.
fn write_markdown(
    md: &Path,
    charm: &Charm,
    map: &LifecycleMap,
    line_coverage: Option<&LineCoverage>,
) -> Result<()> {
    let mut report = map.markdown(&charm.spec.name);
    if let Some(lc) = line_coverage {
        report.push_str(&format!(
            "\n## Lines of the charm\n\nRun by the corpus's {} hooks:\n\n```text\n{}```\n",
            lc.hooks,
            lc.table()
        ));
    }
    std::fs::write(md, report).with_context(|| format!("cannot write {}", md.display()))?;
    println!("\nreport with the lifecycle diagram: {}", md.display());
    Ok(())
}

/// `--json`: the totals `scripts/survey.sh` reads.
fn write_json(
    path: &Path,
    charm: &Charm,
    map: &LifecycleMap,
    line_coverage: Option<&LineCoverage>,
) -> Result<()> {
    // Lines per top directory: the charm's own code, and the libraries it ships.
    let lines = |dir: &str| {
        line_coverage.map(|lc| {
            let (total, covered) = lc
                .files
                .iter()
                .filter(|(f, _)| f.starts_with(dir))
                .fold((0, 0), |(t, c), (_, f)| {
                    (t + f.executable.len(), c + f.covered())
                });
            serde_json::json!({ "covered": covered, "total": total })
        })
    };
    let json = serde_json::json!({
        "charm": charm.spec.name,
        "inputs": map.inputs,
        "events": map.events,
        "hooks_reached": map.possible.len() - map.unreached().len(),
        "hooks_possible": map.possible.len(),
        "unreached": map.unreached(),
        "lines": { "src": lines("src/"), "lib": lines("lib/") },
    });
    std::fs::write(path, serde_json::to_string_pretty(&json)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
