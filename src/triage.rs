//! The crash store: one folder per kind of failure, everything a charm author needs in it.
//!
//! A fuzzing campaign finds the same bug many times, in many processes (`-fork`, `-jobs`,
//! nightly runs). What makes two findings "the same" is their **signature**: the exception
//! type, the innermost frame in the charm's own code, and the kind of hook
//! (`KeyError|src/charm.py:_on_web_pebble_ready|pebble-ready`); a hang, a crash by signal
//! and an exit without a traceback have their own kinds. Each signature gets one folder in
//! the store, named after it:
//!
//! | file | what |
//! |---|---|
//! | `report.json` | the finding, schema [`REPORT_SCHEMA`] (see [`FindingReport`]) |
//! | `story.txt` | the story as text, with the traceback at the failing event |
//! | `trace.json` | the trace (`charmfuzz replay trace.json` re-runs it) |
//! | `input` | the fuzzer bytes of the (minimised) finding |
//! | `original-input` | the bytes as the fuzzer found them (the libFuzzer artifact) |
//! | `test_reproducer.py` | the finding as an `ops.testing` test ([`crate::reproduce`]) |
//!
//! Recording a finding whose signature is already stored counts it (`seen`) and keeps the
//! shorter of the two stories.

use crate::engine::Trace;
use crate::target::hooktools::StatusTarget;
use crate::target::{EventOutcome, FindingClass, FindingKind, Lack, PyException, RunReport};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The version of `report.json`'s layout; it changes when a field changes meaning.
pub const REPORT_SCHEMA: u32 = 1;

/// Why the store could not be written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the run ended without a finding: nothing to store")]
    NoFinding,
    #[error("cannot write the crash store at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A status the charm set, and when (for the report's status history).
#[derive(Debug, Clone, Serialize)]
pub struct StatusRecord {
    /// Index of the event in the trace.
    pub event: usize,
    pub hook: String,
    /// `unit` or `app`.
    pub target: &'static str,
    pub status: String,
    pub message: String,
}

/// `report.json`: what went wrong, where, and how to get it back.
#[derive(Debug, Clone, Serialize)]
pub struct FindingReport {
    /// [`REPORT_SCHEMA`].
    pub schema: u32,
    pub signature: String,
    pub title: String,
    pub kind: FindingKind,
    /// `charm`, or `environment` (the charm failed where a stand-in could not answer; see
    /// `lacks` for what, and the setting that gives it). An environment finding's
    /// signature, and so its folder's name, starts with `environment`.
    pub class: FindingClass,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lacks: Vec<Lack>,
    /// The charm's name and the directory it was fuzzed from.
    pub charm: String,
    pub charm_dir: String,
    /// Versions: `ops` and Python as the worker reported them, Juju as the trace modelled.
    pub ops: String,
    pub python: String,
    pub juju: String,
    /// Actions up to and including the failing one; the failing step and event (indices
    /// into `trace`), and its hook (`db-relation-changed`).
    pub steps: usize,
    pub failing_step: usize,
    pub failing_event: usize,
    pub hook: String,
    /// The uncaught exception: type, message, traceback, frames.
    pub exception: Option<PyException>,
    /// Everything about the failing event: exit, juju-log records, hook-tool calls, what
    /// was committed or dropped, statuses, StoredState and deferred events, stdout and
    /// stderr tails.
    pub failing_outcome: EventOutcome,
    /// Every status the charm set during the story, in order.
    pub status_history: Vec<StatusRecord>,
    pub trace: Trace,
    /// The libFuzzer artifact (or trace) this finding came from, when known.
    pub artifact: Option<String>,
    /// How many recorded findings had this signature.
    pub seen: u64,
    /// Commands that re-run and shrink it.
    pub reproduce: String,
    pub minimize: String,
    /// The ops.testing reproducer in the folder ([`REPRODUCER_FILE`]) and how to run it,
    /// when one could be written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reproducer: Option<String>,
}

/// The name of a finding's pytest reproducer in its folder.
pub const REPRODUCER_FILE: &str = "test_reproducer.py";

/// Where versions and paths for a report come from.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    pub charm_dir: String,
    pub ops: String,
    pub python: String,
    pub artifact: Option<String>,
}

impl FindingReport {
    /// The report of a run that ended with a finding.
    pub fn new(run: &RunReport, from: &Provenance) -> Result<FindingReport, StoreError> {
        let f = run.finding.as_ref().ok_or(StoreError::NoFinding)?;
        let outcome = run
            .outcomes
            .get(f.event)
            .cloned()
            .ok_or(StoreError::NoFinding)?;
        let status_history = run
            .outcomes
            .iter()
            .enumerate()
            .flat_map(|(i, o)| {
                o.agent
                    .statuses
                    .iter()
                    .filter(|s| !s.by_juju)
                    .map(move |s| StatusRecord {
                        event: i,
                        hook: o.hook.clone(),
                        target: match s.target {
                            StatusTarget::Unit => "unit",
                            _ => "app",
                        },
                        status: s.status.clone(),
                        message: s.message.clone(),
                    })
            })
            .collect();
        let charm_arg = crate::fuzzing::shell_word(&from.charm_dir);
        let trace_file = "trace.json";
        Ok(FindingReport {
            schema: REPORT_SCHEMA,
            signature: f.signature.clone(),
            title: f.title.clone(),
            kind: f.kind,
            class: f.class,
            lacks: f.lacks.clone(),
            charm: run.trace.charm.clone(),
            charm_dir: from.charm_dir.clone(),
            ops: from.ops.clone(),
            python: from.python.clone(),
            juju: run.trace.options.juju_version.to_string(),
            steps: f.step + 1,
            failing_step: f.step,
            failing_event: f.event,
            hook: f.hook.clone(),
            exception: outcome.exception.clone(),
            failing_outcome: outcome,
            status_history,
            trace: run.trace.clone(),
            artifact: from.artifact.clone(),
            seen: 1,
            reproduce: format!("charmfuzz replay --charm {charm_arg} {trace_file}"),
            minimize: format!("charmfuzz minimize --charm {charm_arg} input"),
            reproducer: None,
        })
    }
}

/// The folder name for a signature: readable, and distinct for distinct signatures.
pub fn folder_name(signature: &str) -> String {
    let mut slug: String = signature
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    slug.truncate(96);
    format!(
        "{}-{:08x}",
        slug.trim_matches('-'),
        crc32fast::hash(signature.as_bytes())
    )
}

/// What [`CrashStore::record`] did with a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A signature not seen before: a new folder.
    New(PathBuf),
    /// Known, and this story is shorter: the folder now holds it.
    Shorter(PathBuf),
    /// Known, and the stored story is as short or shorter: only counted.
    Known(PathBuf),
}

impl Recorded {
    pub fn dir(&self) -> &Path {
        match self {
            Recorded::New(p) | Recorded::Shorter(p) | Recorded::Known(p) => p,
        }
    }
}

/// A crash store directory (see the module docs).
#[derive(Debug, Clone)]
pub struct CrashStore {
    pub dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl CrashStore {
    pub fn open(dir: &Path) -> Result<CrashStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        Ok(CrashStore {
            dir: dir.to_path_buf(),
        })
    }

    /// The folder of a signature.
    pub fn folder(&self, signature: &str) -> PathBuf {
        self.dir.join(folder_name(signature))
    }

    /// Whether [`CrashStore::record`] would keep this finding's story: its signature is
    /// new, or its story is shorter than the stored one.
    pub fn would_keep(&self, report: &FindingReport) -> bool {
        stored(&self.folder(&report.signature)).is_none_or(|(_, steps, _)| report.steps < steps)
    }

    /// The signatures stored, by folder.
    pub fn signatures(&self) -> Result<Vec<(PathBuf, String)>, StoreError> {
        let mut v = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let path = entry.map_err(io(&self.dir))?.path();
            if let Some(sig) = stored(&path).map(|r| r.0) {
                v.push((path, sig));
            }
        }
        v.sort();
        Ok(v)
    }

    /// Store a finding: `report` with its `story` text, the bytes that replay it
    /// (`input`) and the bytes as found (`original`). Files are written to a temporary
    /// name and renamed, so a reader (or a crash) never sees half a folder's files.
    pub fn record(
        &self,
        mut report: FindingReport,
        story: &str,
        input: &[u8],
        original: &[u8],
    ) -> Result<Recorded, StoreError> {
        let dir = self.dir.join(folder_name(&report.signature));
        let recorded = match stored(&dir) {
            None => Recorded::New(dir.clone()),
            Some((_, steps, seen)) => {
                report.seen = seen + 1;
                if report.steps < steps {
                    Recorded::Shorter(dir.clone())
                } else {
                    // Only the count changes.
                    let path = dir.join("report.json");
                    let mut value: serde_json::Value =
                        serde_json::from_slice(&std::fs::read(&path).map_err(io(&path))?)
                            .unwrap_or_default();
                    value["seen"] = report.seen.into();
                    write(&path, value.to_string().as_bytes())?;
                    return Ok(Recorded::Known(dir));
                }
            }
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        write(&dir.join("input"), input)?;
        write(&dir.join("original-input"), original)?;
        write(&dir.join("trace.json"), report.trace.to_json().as_bytes())?;
        write(&dir.join("story.txt"), story.as_bytes())?;
        let json = serde_json::to_string_pretty(&report).expect("a report serialises");
        // report.json last: a folder without one is not a finding yet.
        write(&dir.join("report.json"), json.as_bytes())?;
        Ok(recorded)
    }
}

/// (signature, steps, seen) of a stored finding.
fn stored(dir: &Path) -> Option<(String, usize, u64)> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).ok()?).ok()?;
    Some((
        v.get("signature")?.as_str()?.to_string(),
        v.get("steps")?.as_u64()? as usize,
        v.get("seen").and_then(|s| s.as_u64()).unwrap_or(1),
    ))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    crate::write_whole(path, bytes).map_err(io(path))
}
