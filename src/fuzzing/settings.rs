//! How the fuzz target is set up: which charm, which interpreter and hook-tool binary,
//! and the knobs of the search (the step limit, the mutator, what libFuzzer is shown, the
//! frontier's share of the turns).
//!
//! The fuzz target is started with libFuzzer's command line, by `cargo fuzz run` or by a
//! ClusterFuzzLite runner that knows nothing of charmfuzz, so its own settings come from
//! `CHARMFUZZ_*` environment variables, then the charm's `charmfuzz.toml`, then a bundle
//! beside the executable ([`bundle_dir`]), then built-in defaults: the table in
//! [the module docs](super). [`FuzzSettings::from_env`] reads them all, and
//! [`FuzzSetupError`] says which one is wrong.

use crate::charm::{Charm, STORY_MAX_STEPS};
use crate::target::{Mode, TargetConfig, TargetError};
use std::path::{Path, PathBuf};

/// Why the fuzzer could not start.
#[derive(Debug, thiserror::Error)]
pub enum FuzzSetupError {
    #[error("cannot load the charm in {dir}: {source}")]
    Charm {
        dir: PathBuf,
        source: Box<crate::charm::CharmError>,
    },
    #[error("bad [target] settings in the charm's fuzzing config: {0}")]
    Config(#[from] crate::target::config::TargetConfigError),
    #[error("bad value {value:?} for {var}: {why}")]
    Env {
        var: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("cannot start the charm: {0}")]
    Target(#[from] TargetError),
    #[error(transparent)]
    Coverage(#[from] crate::target::coverage::CoverageError),
}

/// How the fuzz target is set up (see the module docs).
#[derive(Debug, Clone)]
pub struct FuzzSettings {
    pub charm_dir: PathBuf,
    pub config: TargetConfig,
    pub max_steps: usize,
    pub only: Option<String>,
    pub structure_mutator: bool,
    pub feedback: Feedback,
    pub cover_ops: bool,
    /// Whether libFuzzer sees how often each line, arc and lifecycle feature was hit in a
    /// story (`CHARMFUZZ_HIT_COUNTS=1`), or only whether it was ([`CoverageMap::flatten`]).
    ///
    /// [`CoverageMap::flatten`]: crate::target::coverage::CoverageMap::flatten
    pub hit_counts: bool,
    /// Whether the harness's own (Rust) edges count as coverage; off by default, as they
    /// are noise for the charm's story (see `fuzz_targets/lifecycle.rs`).
    pub harness_coverage: bool,
    /// Percent of the structure mutator's turns that set libFuzzer's pick aside and tell
    /// one of the newest discoveries further ([`Frontier`]; `CHARMFUZZ_FRONTIER`, 0 is off).
    ///
    /// [`Frontier`]: super::Frontier
    pub frontier: u8,
    /// How many prefix snapshots the target keeps, so that an input starts where its
    /// longest known prefix left the unit (`CHARMFUZZ_PREFIX_CACHE`, 0 is off; see
    /// `target::runner::prefix`).
    pub prefix_cache: usize,
    pub jujuc: Option<PathBuf>,
}

/// Prefix snapshots kept unless `CHARMFUZZ_PREFIX_CACHE` says otherwise: each holds the
/// slots its story hit, what the charm wrote (the unit-state database above all) and the
/// fake Pebble's or machine's state, some tens of KiB for the demo charms.
pub const DEFAULT_PREFIX_CACHE: usize = 512;

/// The frontier's share of the mutator's turns unless `CHARMFUZZ_FRONTIER` says otherwise.
/// A quarter: enough to follow a path of new steps while it is fresh, and leaving three
/// turns in four to libFuzzer's pick from the whole corpus, where a bug that needs
/// something changed early in an older story is found (a half took so many of those turns
/// that the machine demo's bugs were no longer found in `fuzz-demo`'s budget).
pub const DEFAULT_FRONTIER: u8 = 25;

/// Actions the mutator lets a story grow to unless `CHARMFUZZ_MAX_STEPS` says otherwise:
/// the decoder's own ceiling. A lower limit is kept by cutting the inputs the mutator
/// writes ([`Charm::fit`]), never by decoding differently, so an input is one story in
/// the fuzz target, `replay`, `minimize`, `repro` and `triage` alike.
pub const DEFAULT_MAX_STEPS: usize = STORY_MAX_STEPS;

/// What libFuzzer is shown of each input (`CHARMFUZZ_FEEDBACK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// The charm's code coverage and the lifecycle features.
    All,
    /// The charm's code coverage only: what proves the Python side alone steers libFuzzer.
    Code,
    /// Nothing: libFuzzer mutates blind (an ablation arm).
    None,
}

/// The demo charm with planted bugs, so that a fresh checkout fuzzes something useful.
pub fn default_charm_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/charms/demo-k8s")
}

/// The bundle beside the running fuzz target, if there is one: `<exe>.charmfuzz/` holding
/// `charm/`, `python/bin/python3` and `charmfuzz`.
///
/// A ClusterFuzzLite or OSS-Fuzz runner starts `$OUT/lifecycle` with no settings of ours
/// and sees nothing but `$OUT`, so `.clusterfuzzlite/build.sh` puts everything the target
/// needs at run time there: the charm, a relocatable Python with `ops`
/// (`scripts/bundle_python.py`) and the `charmfuzz` binary for the hook tools. The bundle
/// comes before the built-in defaults, after the environment variables.
pub fn bundle_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let mut name = exe.file_name()?.to_os_string();
    name.push(".charmfuzz");
    let dir = exe.with_file_name(name);
    dir.is_dir().then_some(dir)
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl FuzzSettings {
    /// Read the environment and the charm's fuzzing config.
    pub fn from_env() -> Result<(FuzzSettings, Charm), FuzzSetupError> {
        let bundle = bundle_dir();
        let charm_dir = var("CHARMFUZZ_CHARM")
            .map(PathBuf::from)
            .or_else(|| bundle.as_ref().map(|b| b.join("charm")))
            .unwrap_or_else(default_charm_dir);
        let charm = Charm::load(&charm_dir)
            .map_err(|source| FuzzSetupError::Charm {
                dir: charm_dir.clone(),
                source: Box::new(source),
            })?
            .for_target();
        let mut config = TargetConfig::from_table(&charm.config.target)?;
        if let Some(p) = var("CHARMFUZZ_PYTHON") {
            let p = PathBuf::from(p);
            config.python = Some(std::path::absolute(&p).unwrap_or(p));
        } else if config.python.is_none() {
            config.python = bundle
                .as_ref()
                .map(|b| b.join("python/bin/python3"))
                .filter(|p| p.is_file());
        }
        if let Some(m) = var("CHARMFUZZ_MODE") {
            config.mode = match m.as_str() {
                "fork" => Mode::Fork,
                "exec" => Mode::Exec,
                _ => {
                    return Err(FuzzSetupError::Env {
                        var: "CHARMFUZZ_MODE",
                        value: m,
                        why: "expected fork or exec",
                    });
                }
            };
        }
        if let Some(t) = var("CHARMFUZZ_TIMEOUT") {
            config.timeout =
                t.parse::<f64>()
                    .ok()
                    .filter(|t| *t > 0.0)
                    .ok_or(FuzzSetupError::Env {
                        var: "CHARMFUZZ_TIMEOUT",
                        value: t,
                        why: "expected a positive number of seconds",
                    })?;
        }
        let max_steps = match var("CHARMFUZZ_MAX_STEPS") {
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (1..=STORY_MAX_STEPS).contains(n))
                .ok_or(FuzzSetupError::Env {
                    var: "CHARMFUZZ_MAX_STEPS",
                    value: v,
                    why: "expected a number of actions from 1 to 64 (the decoder's ceiling)",
                })?,
            None => DEFAULT_MAX_STEPS,
        };
        let structure_mutator = match var("CHARMFUZZ_MUTATOR").as_deref() {
            None | Some("structure") => true,
            Some("bytes") => false,
            Some(other) => {
                return Err(FuzzSetupError::Env {
                    var: "CHARMFUZZ_MUTATOR",
                    value: other.to_string(),
                    why: "expected structure or bytes",
                });
            }
        };
        let jujuc = var("CHARMFUZZ_JUJUC").map(PathBuf::from).or_else(|| {
            if let Some(j) = bundle
                .as_ref()
                .map(|b| b.join("charmfuzz"))
                .filter(|j| j.is_file())
            {
                return Some(j);
            }
            let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/charmfuzz");
            built.is_file().then_some(built)
        });
        let settings = FuzzSettings {
            charm_dir,
            config,
            max_steps,
            only: var("CHARMFUZZ_ONLY"),
            structure_mutator,
            feedback: match var("CHARMFUZZ_FEEDBACK").as_deref() {
                None | Some("all" | "1") => Feedback::All,
                Some("code") => Feedback::Code,
                Some("0" | "none") => Feedback::None,
                Some(other) => {
                    return Err(FuzzSetupError::Env {
                        var: "CHARMFUZZ_FEEDBACK",
                        value: other.to_string(),
                        why: "expected all, code or 0",
                    });
                }
            },
            cover_ops: var("CHARMFUZZ_COVER_OPS").as_deref() == Some("1"),
            hit_counts: var("CHARMFUZZ_HIT_COUNTS").as_deref() == Some("1"),
            harness_coverage: var("CHARMFUZZ_HARNESS_COVERAGE").as_deref() == Some("1"),
            frontier: match var("CHARMFUZZ_FRONTIER") {
                Some(v) => v
                    .parse()
                    .ok()
                    .filter(|p| *p <= 100)
                    .ok_or(FuzzSetupError::Env {
                        var: "CHARMFUZZ_FRONTIER",
                        value: v,
                        why: "expected a percentage, 0 to 100",
                    })?,
                None => DEFAULT_FRONTIER,
            },
            prefix_cache: match var("CHARMFUZZ_PREFIX_CACHE") {
                Some(v) => v.parse().map_err(|_| FuzzSetupError::Env {
                    var: "CHARMFUZZ_PREFIX_CACHE",
                    value: v,
                    why: "expected a number of snapshots (0 turns the cache off)",
                })?,
                None => DEFAULT_PREFIX_CACHE,
            },
            jujuc,
        };
        Ok((settings, charm))
    }
}
