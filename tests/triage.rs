//! Triage against the real demo charm: the step-level minimiser and the crash store.
//!
//! The finding is planted BUG-2 of `examples/charms/demo-k8s` (a deferred
//! `db-relation-changed` re-emitted after the relation broke), reached by a random story
//! padded with steps that have nothing to do with it: the minimiser must take them out,
//! keep the signature, and the store must file the result once per signature.

use charmfuzz::charm::Charm;
use charmfuzz::engine::{self, Trace};
use charmfuzz::minimize::{self, Stage};
use charmfuzz::target::{Target, TargetConfig};
use charmfuzz::triage::{CrashStore, FindingReport, Provenance, REPORT_SCHEMA, Recorded};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::new(());

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/charms/demo-k8s")
}

fn demo() -> Target {
    let charm = Charm::load(&demo_dir()).unwrap().for_target();
    Target::new(
        charm,
        TargetConfig::default(),
        Some(Path::new(env!("CARGO_BIN_EXE_charmfuzz"))),
    )
    .expect("the demo charm starts")
}

/// A story that breaks the db relation while its changed event is deferred (the database
/// publishes credentials before Pebble is up; the relation is removed; a later hook
/// re-emits the deferred event), with two idle update-status steps spliced in after the
/// deploy.
fn padded_bug2(target: &mut Target) -> Vec<u8> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stories/demo-k8s-bug2.json");
    let mut story = Trace::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
    let idle = Trace::from_json(
        r#"{"format":1,"charm":"demo","substrate":"kubernetes","unit":"demo/0",
            "options":{"juju-version":"3.6.4"},
            "steps":[{"phase":"operation","action":"update-status-timer"},
                     {"phase":"operation","action":"update-status-timer"}]}"#,
    )
    .unwrap();
    // After the deploy: two idle steps that change nothing the bug needs.
    for (i, s) in idle.steps.into_iter().enumerate() {
        story.steps.insert(1 + i, s);
    }
    let (bytes, report) = target.run_story(&story).expect("the padded story plays");
    assert_eq!(report.trace.steps.len(), story.steps.len());
    bytes
}

#[test]
fn minimize_drops_idle_steps_and_keeps_the_signature() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut target = demo();
    let input = padded_bug2(&mut target);
    let before = target.run_bytes(&input, None).unwrap();
    let f = before
        .finding
        .clone()
        .expect("the padded story finds BUG-2");
    assert!(
        f.signature.contains("_on_db_relation_changed"),
        "{}",
        f.signature
    );
    let mut stages = Vec::new();
    let m = minimize::minimize(&mut target, &input, |p| stages.push(p.stage)).unwrap();
    let after = m.report.finding.as_ref().unwrap();
    assert_eq!(after.signature, f.signature, "minimising kept the bug");
    assert_eq!(m.steps_before, f.step + 1);
    assert!(
        m.steps_after + 2 <= m.steps_before,
        "both idle steps go: {} -> {} steps",
        m.steps_before,
        m.steps_after
    );
    assert!(m.input.len() < input.len());
    assert!(stages.contains(&Stage::DeleteSteps) && stages.contains(&Stage::Simplify));
    // The minimised input replays to the same finding, and its story is valid Juju.
    let again = target.run_bytes(&m.input, None).unwrap();
    assert_eq!(again.finding.unwrap().signature, f.signature);
    engine::validate(&again.trace, &target.charm().spec).expect("a valid story");
}

#[test]
fn minimize_refuses_an_input_without_a_finding() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut target = demo();
    let err = minimize::minimize(&mut target, &[], |_| {}).unwrap_err();
    assert!(matches!(err, minimize::MinimizeError::NoFinding), "{err}");
}

#[test]
fn the_store_files_one_folder_per_signature_and_counts_repeats() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut target = demo();
    let input = padded_bug2(&mut target);
    let long = target.run_bytes(&input, None).unwrap();
    let short = minimize::minimize(&mut target, &input, |_| {}).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let store = CrashStore::open(&tmp.path().join("crashes")).unwrap();
    let from = Provenance {
        charm_dir: demo_dir().display().to_string(),
        ops: "3.x".into(),
        python: "3.11".into(),
        artifact: Some("crash-123".into()),
    };

    let first = store
        .record(
            FindingReport::new(&long, &from).unwrap(),
            "the long story",
            &input,
            &input,
        )
        .unwrap();
    let Recorded::New(dir) = &first else {
        panic!("a new signature: {first:?}")
    };
    for file in [
        "report.json",
        "story.txt",
        "trace.json",
        "input",
        "original-input",
    ] {
        assert!(dir.join(file).is_file(), "{file} in {}", dir.display());
    }
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let f = long.finding.as_ref().unwrap();
    assert_eq!(report["schema"], REPORT_SCHEMA);
    assert_eq!(report["signature"], f.signature.as_str());
    assert_eq!(report["charm"], "demo");
    assert_eq!(report["hook"], f.hook.as_str());
    assert_eq!(report["steps"], f.step + 1);
    assert_eq!(report["seen"], 1);
    assert_eq!(report["exception"]["type"], "AttributeError");
    assert!(
        report["exception"]["traceback"]
            .as_str()
            .unwrap()
            .contains("_on_db_relation_changed")
    );
    assert!(
        report["reproduce"]
            .as_str()
            .unwrap()
            .starts_with("charmfuzz replay --charm ")
    );
    // The stored trace is the run's trace.
    let stored = Trace::from_json(&std::fs::read_to_string(dir.join("trace.json")).unwrap());
    assert_eq!(stored.unwrap(), long.trace);

    // The same signature again, as long: counted, not refiled.
    let again = store
        .record(
            FindingReport::new(&long, &from).unwrap(),
            "x",
            &input,
            &input,
        )
        .unwrap();
    assert_eq!(again, Recorded::Known(dir.clone()));
    // Shorter: the folder now holds the short story, and the count goes on.
    let shorter = store
        .record(
            FindingReport::new(&short.report, &from).unwrap(),
            "the short story",
            &short.input,
            &input,
        )
        .unwrap();
    assert_eq!(shorter, Recorded::Shorter(dir.clone()));
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["seen"], 3);
    assert_eq!(report["steps"], short.steps_after);
    assert_eq!(std::fs::read(dir.join("input")).unwrap(), short.input);
    assert_eq!(
        std::fs::read_to_string(dir.join("story.txt")).unwrap(),
        "the short story"
    );
    assert_eq!(store.signatures().unwrap().len(), 1);
}

#[test]
fn folder_names_are_readable_stable_and_distinct() {
    let a = charmfuzz::triage::folder_name("KeyError|src/charm.py:_on_x|pebble-ready");
    assert!(
        a.starts_with("KeyError-src-charm.py-_on_x-pebble-ready-"),
        "{a}"
    );
    assert_eq!(
        a,
        charmfuzz::triage::folder_name("KeyError|src/charm.py:_on_x|pebble-ready")
    );
    // Differ only in characters the slug flattens: the hash tells them apart.
    let b = charmfuzz::triage::folder_name("KeyError|src/charm.py:_on_x:pebble-ready");
    assert_ne!(a, b);
}
