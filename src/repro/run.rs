//! Writing and checking reproducers: the I/O around [`crate::repro`].
//!
//! [`write`] replays a finding up to the hook that failed, captures the unit there, writes
//! the pytest file and formats it with ruff. [`check`] runs a reproducer with pytest, as a
//! charm author would, and says whether it fails the way the finding did: the same
//! exception type, raised at the same line of the charm.

use crate::repro::{self, CharmDir, CharmImport, Finding};
use crate::target::EventOutcome;
use crate::target::{RunReport, Target, TargetError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum ReproError {
    #[error("the run ended without a finding: nothing to reproduce")]
    NoFinding,
    #[error(
        "replaying the finding did not reach the hook that failed (event {0}): the finding does not replay the same way"
    )]
    NotReached(usize),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A reproducer written to disk.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    /// Whether ruff formatted it (it is valid Python either way).
    pub formatted: bool,
    /// What ops.testing could not express (also in the file).
    pub gaps: Vec<String>,
    /// How many hooks it runs (1: the failing hook alone).
    pub hooks: usize,
}

/// What the reproducer replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Shape {
    /// The failing hook alone, unless the charm has a memory of its own at it (a
    /// StoredState, events it deferred): then the whole story, because a fixed charm may
    /// not remember the same (it would not have recorded a refresh that failed, or
    /// deferred that event), and a test handing it the buggy charm's memory would fail on
    /// the fixed charm too.
    #[default]
    Auto,
    /// The failing hook alone, on the State just before it.
    Hook,
    /// Every hook of the story, as chained `ctx.run` calls.
    Story,
}

/// Write the reproducer of `run` (a run of `bytes` that ended with a finding) to `path`,
/// formatted with ruff when there is one. `command` is what the file tells the reader
/// reproduces it with charmfuzz.
pub fn write(
    target: &mut Target,
    bytes: &[u8],
    run: &RunReport,
    command: &str,
    shape: Shape,
    path: &Path,
) -> Result<Written, ReproError> {
    let (text, scenes) = render(target, bytes, run, command, shape, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ReproError::Io {
            what: "cannot create",
            path: dir.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| ReproError::Io {
        what: "cannot write",
        path: path.to_path_buf(),
        source,
    })?;
    let formatted = ruff_format(target.python(), path);
    let mut gaps: Vec<String> = scenes.iter().flat_map(|s| s.gaps.clone()).collect();
    gaps.sort();
    gaps.dedup();
    Ok(Written {
        path: path.to_path_buf(),
        formatted,
        gaps,
        hooks: scenes.len(),
    })
}

/// The reproducer's text (before formatting) and the scenes it was made from: the unit
/// captured by replaying `bytes` up to the failing hook. `path` is where the file will
/// be, which decides how it finds the charm.
pub fn render(
    target: &mut Target,
    bytes: &[u8],
    run: &RunReport,
    command: &str,
    shape: Shape,
    path: &Path,
) -> Result<(String, Vec<repro::Scene>), ReproError> {
    let finding = run.finding.as_ref().ok_or(ReproError::NoFinding)?;
    let mut capture = |every: bool| -> Result<Vec<repro::Scene>, ReproError> {
        target.scene_before = Some(finding.event);
        target.scene_every_event = every;
        let replay = target.run_bytes(bytes, None);
        target.scene_before = None;
        target.scene_every_event = false;
        replay?;
        let mut scenes = target.take_scenes();
        if scenes.len() != if every { finding.event + 1 } else { 1 } {
            return Err(ReproError::NotReached(finding.event));
        }
        for (i, scene) in scenes.iter_mut().enumerate() {
            let event = if every { i } else { finding.event };
            scene.host.answers = machine_answers(&run.outcomes, event);
        }
        Ok(scenes)
    };
    let mut scenes = capture(shape == Shape::Story)?;
    let memory = &scenes[0].unit_state;
    if shape == Shape::Auto && (!memory.deferred.is_empty() || !memory.stored.is_empty()) {
        scenes = capture(true)?;
    }
    let outcome = run.outcomes.get(finding.event);
    let exception = outcome.and_then(|o| o.exception.as_ref());
    let about = Finding {
        title: finding.title.clone(),
        signature: finding.signature.clone(),
        hook: finding.hook.clone(),
        exception: exception.map(|e| e.type_name.clone()),
        charm_frame: exception
            .and_then(|e| e.charm_frame())
            .map(|f| (f.file.clone(), f.line, f.function.clone())),
        story: crate::story::story(&run.trace),
        command: command.to_string(),
    };
    let charm = charm_import(target, path);
    Ok((repro::write_pytest(&scenes, &about, &charm), scenes))
}

/// What the machine answered each command line (and each snapd request, `snapd GET
/// /v2/snaps`), as the hook of `event` would meet it: the
/// hook's own first answer (before the hook changed anything), else the last one before
/// the hook. A reproducer's shims answer with these.
fn machine_answers(outcomes: &[EventOutcome], event: usize) -> BTreeMap<String, (i32, String)> {
    let calls = |o: &EventOutcome| -> Vec<(String, (i32, String))> {
        (o.shim_calls.iter())
            .map(|c| (c.line(), (c.code, c.stdout.clone())))
            .collect()
    };
    let mut answers: BTreeMap<String, (i32, String)> =
        outcomes.iter().take(event).flat_map(calls).collect();
    let mut in_hook = BTreeSet::new();
    for (line, answer) in outcomes.get(event).map(calls).unwrap_or_default() {
        if in_hook.insert(line.clone()) {
            answers.insert(line, answer);
        }
    }
    answers
}

/// How the test imports the charm: its entry module and class, and where the charm is
/// relative to the test file.
fn charm_import(target: &Target, test_path: &Path) -> CharmImport {
    let entry = target.entry_in_charm();
    let module = entry
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "charm".into());
    let src = entry
        .parent()
        .map(|p| p.display().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| ".".into());
    let mut path = vec!["lib".to_string(), src];
    path.dedup();
    let charm_dir = target.charm_dir().to_path_buf();
    let charm_dir = std::fs::canonicalize(&charm_dir).unwrap_or(charm_dir);
    let class = std::fs::read_to_string(charm_dir.join(&entry))
        .ok()
        .and_then(|t| main_class(&t));
    let test_dir = std::path::absolute(test_path)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .map(|d| std::fs::canonicalize(&d).unwrap_or(d));
    let dir = match test_dir
        .as_deref()
        .and_then(|d| d.strip_prefix(&charm_dir).ok())
    {
        Some(rel) => CharmDir::Up(rel.components().count()),
        None => CharmDir::Absolute(charm_dir.display().to_string()),
    };
    CharmImport {
        dir,
        module,
        path,
        class,
    }
}

/// The class the entry point hands to `ops.main(...)` (`ops.main(DemoCharm)`,
/// `main(DemoCharm)`, `ops.main.main(DemoCharm)`).
pub fn main_class(source: &str) -> Option<String> {
    source.match_indices("main(").find_map(|(i, m)| {
        let before = source[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return None; // `domain(`, `_main(`
        }
        let rest = source[i + m.len()..].trim_start();
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let after = rest[name.len()..].trim_start();
        (!name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && (after.starts_with(')') || after.starts_with(',')))
        .then_some(name)
    })
}

/// ruff, from the charm's environment (next to its interpreter) or from `PATH`.
fn ruff(python: &Path) -> Option<PathBuf> {
    let beside = python.parent()?.join("ruff");
    if beside.is_file() {
        return Some(beside);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("ruff"))
            .find(|p| p.is_file())
    })
}

/// Format `path` with ruff (`ruff format`, then the import-sorting fix); false when there
/// is no ruff or it refused.
fn ruff_format(python: &Path, path: &Path) -> bool {
    let Some(ruff) = ruff(python) else {
        return false;
    };
    let quiet = |args: &[&str]| {
        Command::new(&ruff)
            .args(args)
            .arg(path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let _ = quiet(&["check", "--select", "I", "--fix", "--quiet"]);
    quiet(&["format", "--quiet"])
}

/// What a reproducer of `run`'s finding must fail with: the exception type and, when it
/// was raised from a charm function, that frame (file in the charm, line). A finding raised
/// by ops before any handler ran (its innermost charm frame is the entry point's
/// `ops.main` call, which ops.testing does not go through) has no place to match.
pub fn expected(run: &RunReport) -> (Option<String>, Option<(String, u32)>) {
    let exception = run
        .finding
        .as_ref()
        .and_then(|f| run.outcomes.get(f.event))
        .and_then(|o| o.exception.as_ref());
    let frame = exception
        .and_then(|e| e.charm_frame())
        .filter(|f| f.function != "<module>")
        .map(|f| (f.file.clone(), f.line));
    (exception.map(|e| e.type_name.clone()), frame)
}

/// What running a reproducer with pytest showed.
#[derive(Debug, Clone)]
pub struct Checked {
    /// pytest passed (the charm came through the hook).
    pub passed: bool,
    /// It failed with the finding's exception, at the finding's line of the charm.
    pub same_failure: bool,
    /// pytest's output.
    pub output: String,
}

/// Run the reproducer at `path` with `python -m pytest`, against `charm_dir` (another copy
/// of the charm, e.g. the fixed one) or the charm it was written for. `exception` and
/// `frame` (file in the charm, line) are what the finding raised, and where.
pub fn check(
    python: &Path,
    path: &Path,
    charm_dir: Option<&Path>,
    exception: Option<&str>,
    frame: Option<(&str, u32)>,
) -> std::io::Result<Checked> {
    let mut cmd = Command::new(python);
    cmd.args([
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--tb=native",
    ])
    .arg(path);
    if let Some(d) = charm_dir {
        cmd.env(repro::CHARM_DIR_VAR, std::path::absolute(d)?);
    }
    let out = cmd.output()?;
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let passed = out.status.success();
    let raised = exception.is_some_and(|e| {
        output
            .lines()
            .any(|l| l == e || l.starts_with(&format!("{e}: ")))
    });
    let at = frame.is_none_or(|(file, line)| {
        output.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("File \"") && l.contains(&format!("/{file}\", line {line},"))
        })
    });
    Ok(Checked {
        passed,
        same_failure: !passed && raised && at,
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::main_class;

    #[test]
    fn finds_the_class_ops_main_runs() {
        assert_eq!(
            main_class("if __name__ == '__main__':\n    ops.main(DemoCharm)\n").as_deref(),
            Some("DemoCharm")
        );
        assert_eq!(
            main_class("from ops.main import main\nmain( MyCharm , use_juju_for_storage=True)")
                .as_deref(),
            Some("MyCharm")
        );
        assert_eq!(main_class("x = domain(Foo)\n"), None);
        assert_eq!(main_class("ops.main(charm_class())\n"), None);
    }
}
