//! `charmfuzz minimize`: shrink a finding to the shortest story that fails the same way
//! (whole steps cut, then each choice made plainer, each candidate played against the
//! charm), written next to the original as `<input>.min` and its trace `<input>.min.json`.

use super::{CharmArg, RunCommand, TargetArgs, progress, progress_done, read_input};
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct Minimize {
    /// A crash artifact (fuzzer bytes) or a trace (JSON) that ends with a finding.
    input: PathBuf,
    #[command(flatten)]
    charm: CharmArg,
    /// Where to write the smallest input (default: `<input>.min`).
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    target: TargetArgs,
}

impl RunCommand for Minimize {
    fn run(self) -> Result<ExitCode> {
        let (_, mut target) = self.charm.start(&self.target)?;
        let bytes = read_input(&self.input, &mut target)?;
        let start = std::time::Instant::now();
        let result = charmfuzz::minimize::minimize(&mut target, &bytes, |p| {
            progress(&format!(
                "minimize: {:<12} {:>4} candidates · best {} steps, {} bytes",
                format!("{:?}", p.stage),
                p.runs,
                p.steps,
                p.bytes
            ));
        });
        progress_done();
        let result = result.with_context(|| format!("cannot minimise {}", self.input.display()))?;
        let out = self.output.unwrap_or_else(|| {
            let mut o = self.input.clone().into_os_string();
            o.push(".min");
            PathBuf::from(o)
        });
        std::fs::write(&out, &result.input)
            .with_context(|| format!("cannot write {}", out.display()))?;
        let mut trace_path = out.clone().into_os_string();
        trace_path.push(".json");
        std::fs::write(&trace_path, result.report.trace.to_json())
            .with_context(|| format!("cannot write {}", trace_path.to_string_lossy()))?;
        print!("{}", charmfuzz::fuzzing::explain(&result.report));
        println!(
            "minimized: {} steps -> {} steps, {} -> {} bytes ({} candidates, {:.0} s)",
            result.steps_before,
            result.steps_after,
            bytes.len(),
            result.input.len(),
            result.runs,
            start.elapsed().as_secs_f64()
        );
        println!(
            "written to {} (bytes) and {} (trace)",
            out.display(),
            trace_path.to_string_lossy()
        );
        Ok(ExitCode::SUCCESS)
    }
}
