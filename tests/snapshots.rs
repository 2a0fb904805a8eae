//! Snapshot tests (insta) of what charmfuzz hands a charm author after a finding: the
//! story printer, the finding text printed before libFuzzer saves the artifact, and the
//! crash store's JSON report. A change to any of them shows up as a snapshot diff to
//! review (`cargo insta review`), not as a silent change of format.
//!
//! They come from a real run of the demo charm reaching planted BUG-2 (a deferred
//! `db-relation-changed` re-emitted after the relation broke). What differs from one run
//! to the next (durations, the sandbox's temporary paths, interpreter versions) is
//! redacted; everything else is compared as it is. ops's frames keep their line numbers in
//! the JSON report: the test venv pins ops (scripts/setup-python.sh).

use charmfuzz::charm::Charm;
use charmfuzz::engine::Trace;
use charmfuzz::fuzzing;
use charmfuzz::story;
use charmfuzz::target::{RunReport, Target, TargetConfig};
use charmfuzz::triage::{FindingReport, Provenance};
use std::path::{Path, PathBuf};

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/charms/demo-k8s")
}

fn demo_target() -> Target {
    let charm = Charm::load(&demo_dir()).unwrap().for_target();
    Target::new(
        charm,
        TargetConfig::default(),
        Some(Path::new(env!("CARGO_BIN_EXE_charmfuzz"))),
    )
    .expect("the demo charm starts")
}

/// The run of the BUG-2 story, and the bytes that replay it.
fn bug2_run_in(target: &mut Target) -> (Vec<u8>, RunReport) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stories/demo-k8s-bug2.json");
    let story = Trace::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (bytes, report) = target.run_story(&story).expect("the story plays");
    assert!(report.finding.is_some(), "the story reaches BUG-2");
    (bytes, report)
}

fn bug2_run() -> RunReport {
    bug2_run_in(&mut demo_target()).1
}

/// What varies from run to run and machine to machine: the sandbox's copy of the charm,
/// where the Python environment lives, ops's own line numbers and the caret lines some
/// Python versions add under a traceback line, timestamps and timings.
fn stable() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"/[^\s:'\x22\\]*/charm/src/", "[charm]/src/");
    s.add_filter(r"/[^\s:'\x22\\]*/site-packages/", "[site-packages]/");
    s.add_filter(
        r"(\[site-packages\]/[^\s\x22\\]*\\?\x22, line )\d+",
        "${1}[n]",
    );
    s.add_filter(r"(?m)^ *\| +[\^~]+\n", "");
    s.add_filter(r"\\n *[\^~]+(\\n)", "$1");
    s.add_filter(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", "[datetime]");
    s
}

#[test]
fn finding_story_text_and_report() {
    let report = bug2_run();

    insta::assert_snapshot!("story", story::story(&report.trace));

    let text = fuzzing::explain(&report);
    stable().bind(|| insta::assert_snapshot!("finding_text", text));

    let from = Provenance {
        charm_dir: "examples/charms/demo-k8s".into(),
        ops: "[ops]".into(),
        python: "[python]".into(),
        artifact: Some("fuzz/artifacts/lifecycle/crash-0000".into()),
    };
    let finding = FindingReport::new(&report, &from).unwrap();
    stable().bind(|| {
        insta::assert_json_snapshot!("report", finding, {
            ".failing_outcome.seconds" => "[seconds]",
        })
    });
}

/// The ops.testing reproducer of BUG-2, as written before ruff formats it. Events were
/// deferred when the failing hook came, so it replays the whole story (see
/// `charmfuzz::reproduce::Shape::Auto`). The admin password is random per run.
#[test]
fn reproducer_file() {
    let mut target = demo_target();
    let (bytes, report) = bug2_run_in(&mut target);
    // As if written into the charm's tests/unit: the file finds the charm two levels up.
    let path = demo_dir().join("tests/unit/test_bug2.py");
    let (text, scenes) = charmfuzz::reproduce::render(
        &mut target,
        &bytes,
        &report,
        "charmfuzz replay --charm examples/charms/demo-k8s crash-0000",
        charmfuzz::reproduce::Shape::Auto,
        &path,
    )
    .expect("the reproducer renders");
    assert_eq!(scenes.len(), report.finding.as_ref().unwrap().event + 1);
    assert!(
        text.contains("parents[2]"),
        "found relative to the test file"
    );
    let mut settings = stable();
    settings.add_filter(r#"("password": )"[A-Za-z0-9_-]{20,}""#, r#"$1"[password]""#);
    settings.bind(|| insta::assert_snapshot!("reproducer", text));
}
