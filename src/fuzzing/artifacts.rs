//! What a finding leaves behind, and what the fuzz target reads of libFuzzer's command
//! line to write it.
//!
//! When a story fails, the fuzz target prints what was found with the story that found it
//! ([`explain`]) and how to replay, minimise and file it, ready to paste ([`next_steps`]);
//! writes an `ops.testing` reproducer beside the crash artifact ([`reproducer_path`]); and
//! libFuzzer writes the input as the crash artifact ([`crash_artifact_path`] says where).
//! An `environment` finding (the charm failed where a stand-in of charmfuzz's could not
//! answer) is told once and fuzzing goes on ([`explain_environment`]). While libFuzzer
//! minimises a crash or merges a corpus, no reproducer is written ([`writes_reproducer`]),
//! and a minimisation step keeps to the finding it was given ([`minimizing_input`]).

use super::settings::FuzzSettings;
use crate::story;
use crate::target::{Finding, RunReport};
use std::path::{Path, PathBuf};

/// The text printed before libFuzzer writes the crash artifact: what was found, and the
/// story that found it with each event's outcome.
pub fn explain(report: &RunReport) -> String {
    let Some(f) = &report.finding else {
        return String::new();
    };
    let mut out = String::new();
    out.push_str("\n==== charmfuzz finding ====\n");
    out.push_str(&format!(
        "title: {}\nsignature: {}\nclass: {}\n",
        f.title,
        f.signature,
        f.class.as_str()
    ));
    out.push_str(&story::story_annotated(
        &report.trace,
        |i, _| match report.outcomes.get(i) {
            Some(o) if i == f.event => {
                let mut v = vec![format!("✗ {}", f.title)];
                if let Some(e) = &o.exception {
                    v.extend(e.traceback.lines().map(|l| format!("| {l}")));
                }
                v
            }
            Some(_) => Vec::new(),
            None => Vec::new(),
        },
    ));
    out.push_str("==== end of finding ====\n");
    out
}

/// What the fuzz target says the first time an input meets an `environment` finding: the
/// charm failed where a stand-in of charmfuzz's could not answer it. Fuzzing goes on (it
/// is not the charm's bug), and the setting that would fill the gap is named.
pub fn explain_environment(f: &Finding) -> String {
    let mut out = format!(
        "charmfuzz: environment finding, not the charm's (fuzzing goes on): {}\n  signature: {}\n",
        f.title, f.signature
    );
    for l in &f.lacks {
        out.push_str(&format!(
            "  lacked: {}\n    fix: {}\n",
            l.describe(),
            l.fix()
        ));
    }
    out
}

/// Where [`LifecycleFuzzer::write_reproducer`] puts the reproducer of the crash artifact
/// `artifact`: in `reproducers/` beside it, as `test_<artifact name>.py` (`crash-3fa9…` →
/// `reproducers/test_crash_3fa9….py`), a name pytest collects.
///
/// Not in the artifact directory itself: when the fuzzer stops, `cargo fuzz run` takes every
/// new file there for a failing input and prints it as one, and the scripts' `crash-*`
/// globs read that directory too.
///
/// [`LifecycleFuzzer::write_reproducer`]: super::LifecycleFuzzer::write_reproducer
pub fn reproducer_path(artifact: &Path) -> PathBuf {
    let name = artifact
        .file_name()
        .map(|n| n.to_string_lossy().replace(['-', '.'], "_"))
        .unwrap_or_else(|| "finding".into());
    artifact
        .with_file_name("reproducers")
        .join(format!("test_{name}.py"))
}

/// Whether a finding in this libFuzzer process gets a reproducer written beside its
/// artifact: not while libFuzzer minimises a crash (`cargo fuzz tmin` runs the crashing
/// input again and again) or merges a corpus (`cargo fuzz cmin`), where the crash is not
/// news and the file would only be rewritten.
pub fn writes_reproducer(args: &[String]) -> bool {
    !args
        .iter()
        .any(|a| a.starts_with("-minimize_crash") || a.starts_with("-merge"))
}

/// The input a `cargo fuzz tmin` step shrinks (`args`, the fuzz target's command line),
/// or `None` when this process does not minimise a crash. libFuzzer's `-minimize_crash=1`
/// runs one child process per step, each with `-minimize_crash_internal_step=1` and the
/// current smallest crash as its one input file; each child stops at the first mutant that
/// crashes.
pub fn minimizing_input(args: &[String]) -> Option<PathBuf> {
    if !args.iter().any(|a| a == "-minimize_crash_internal_step=1") {
        return None;
    }
    args.iter()
        .skip(1)
        .rfind(|a| !a.starts_with('-'))
        .map(PathBuf::from)
}

/// The lines printed after a finding, as cargo-fuzz prints its own: how to replay it,
/// shrink it and file it, ready to paste, and where its reproducer is (`reproducer`: the
/// file, or why there is none). `artifact` is where libFuzzer is about to write the input
/// (`<-artifact_prefix>crash-<sha1 of the input>`).
pub fn next_steps(
    settings: &FuzzSettings,
    artifact: &Path,
    reproducer: Option<Result<&Path, String>>,
) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let short = |p: &Path| shell_word(&p.strip_prefix(&cwd).unwrap_or(p).display().to_string());
    let bin = settings
        .jujuc
        .as_deref()
        .map(short)
        .unwrap_or_else(|| "charmfuzz".into());
    let common = format!("--charm {}", short(&settings.charm_dir));
    let a = short(artifact);
    let reproducer = match reproducer {
        Some(Ok(path)) => format!(
            "Reproducer (an ops.testing test) written to:\n\n    {}\n\n\
             Run it with:\n\n    python -m pytest {}\n",
            short(path),
            short(path)
        ),
        Some(Err(why)) => format!("No reproducer written: {why}\n"),
        None => String::new(),
    };
    format!(
        "Reproduce with:\n\n    {bin} replay {common} {a}\n\n\
         Minimize with:\n\n    {bin} minimize {common} {a}\n\n\
         File it in the crash store (report, story, trace, reproducer) with:\n\n    \
         {bin} triage {common} --store crashes {a}\n\n\
         {reproducer}"
    )
}

/// `word` as one word of a shell command line, quoted only if it needs to be (for the
/// ready-to-paste commands of findings and reports).
pub fn shell_word(word: &str) -> String {
    shlex::try_quote(word).map_or_else(|_| word.to_string(), |q| q.into_owned())
}

/// Where libFuzzer writes the crash artifact for `data`, given its command line: the
/// `-exact_artifact_path`, else `-artifact_prefix` (default: the working directory)
/// followed by `crash-` and the input's SHA-1.
pub fn crash_artifact_path(args: &[String], data: &[u8]) -> PathBuf {
    let flag = |name: &str| {
        args.iter()
            .rev()
            .find_map(|a| a.strip_prefix(name).map(str::to_string))
    };
    if let Some(exact) = flag("-exact_artifact_path=") {
        return PathBuf::from(exact);
    }
    let prefix = flag("-artifact_prefix=").unwrap_or_else(|| "./".into());
    PathBuf::from(format!(
        "{prefix}crash-{}",
        sha1_smol::Sha1::from(data).digest()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_they_must_be() {
        assert_eq!(
            shell_word("examples/charms/demo-k8s"),
            "examples/charms/demo-k8s"
        );
        assert_eq!(shell_word("my charm"), "'my charm'");
        assert_eq!(shell_word("a$b"), "'a$b'");
    }

    #[test]
    fn a_reproducer_sits_next_to_its_artifact_under_a_name_pytest_collects() {
        assert_eq!(
            reproducer_path(Path::new("fuzz/artifacts/lifecycle/crash-a999")),
            PathBuf::from("fuzz/artifacts/lifecycle/reproducers/test_crash_a999.py")
        );
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(writes_reproducer(&args(&["lifecycle", "-runs=5"])));
        assert!(!writes_reproducer(&args(&[
            "lifecycle",
            "-minimize_crash=1"
        ])));
        assert!(!writes_reproducer(&args(&[
            "x",
            "-minimize_crash_internal_step=1"
        ])));
        assert!(!writes_reproducer(&args(&[
            "lifecycle",
            "-merge=1",
            "a",
            "b"
        ])));
    }

    #[test]
    fn a_tmin_step_is_told_by_its_flag_and_its_input_is_the_last_file() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let step = args(&[
            "lifecycle",
            "-minimize_crash_internal_step=1",
            "-exact_artifact_path=/tmp/m",
            "-runs=16",
            "fuzz/artifacts/lifecycle/crash-1",
        ]);
        assert_eq!(
            minimizing_input(&step),
            Some(PathBuf::from("fuzz/artifacts/lifecycle/crash-1"))
        );
        // The parent of the steps, and a fuzzing run, pin nothing.
        let parent = args(&["lifecycle", "-minimize_crash=1", "-runs=16", "crash-1"]);
        assert_eq!(minimizing_input(&parent), None);
        assert_eq!(minimizing_input(&args(&["lifecycle", "corpus"])), None);
    }

    #[test]
    fn the_crash_artifact_is_named_as_libfuzzer_names_it() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // SHA-1 of "abc".
        let sha = "a9993e364706816aba3e25717850c26c9cd0d89d";
        assert_eq!(
            crash_artifact_path(&args(&["lifecycle", "-runs=5"]), b"abc"),
            PathBuf::from(format!("./crash-{sha}"))
        );
        assert_eq!(
            crash_artifact_path(
                &args(&["lifecycle", "-artifact_prefix=fuzz/artifacts/lifecycle/"]),
                b"abc"
            ),
            PathBuf::from(format!("fuzz/artifacts/lifecycle/crash-{sha}"))
        );
        assert_eq!(
            crash_artifact_path(
                &args(&["-artifact_prefix=x/", "-exact_artifact_path=/tmp/it"]),
                b"abc"
            ),
            PathBuf::from("/tmp/it")
        );
    }
}
