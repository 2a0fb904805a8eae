//! Findings that are the charm's, and findings that are the environment's.
//!
//! A real charm asks its machine for things a unit has: the workload's programs in its
//! container, snapd, the package manager's answers, the network, files the image carries.
//! charmfuzz stands in for all of them, and where a stand-in cannot answer, a hook that
//! fails is an `environment` finding: it names what was lacking and the setting that
//! would give it, and it does not end a fuzzing run. The class comes from which stand-in
//! answered and how (the fake Pebble refused an exec, a shim gave its default answer, the
//! child's audit hook saw a program, socket, address or host path that is not there),
//! never from the charm's error message.

mod common;

use charmfuzz::charm::Charm;
use charmfuzz::engine::Trace;
use charmfuzz::fuzzing::{Feedback, FuzzSettings, LifecycleFuzzer, Verdict, random_story};
use charmfuzz::target::{FindingClass, LackKind, RunReport, Target, TargetConfig};
use serde_json::json;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/charms/stand-ins")
}

/// A copy of the fixture in `tmp` whose workload answers `app-cli --version`.
fn scripted_copy(tmp: &Path) -> PathBuf {
    common::fixture_copy(
        tmp,
        "stand-ins",
        "[[target.exec]]\ncommand = [\"app-cli\", \"--version\"]\nstdout = \"1.0\\n\"\n",
    )
}

fn jujuc() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_charmfuzz"))
}

fn target(dir: &Path) -> Target {
    let charm = Charm::load(dir).unwrap();
    let config = TargetConfig::from_table(&charm.config.target).unwrap();
    Target::new(charm, config, Some(&jujuc())).unwrap()
}

/// Deploy, then the given steps (story JSON, actions only).
fn story(steps: &[serde_json::Value]) -> Trace {
    let mut all = vec![json!({
        "phase": "operation", "action": "deploy", "unit": "stand-ins/0", "leader": true,
        "peers": [], "relations": [], "storage": []
    })];
    all.extend(steps.iter().cloned());
    serde_json::from_value(json!({
        "format": 1, "charm": "stand-ins", "substrate": "kubernetes", "unit": "stand-ins/0",
        "options": { "juju-version": "3.6.4" }, "steps": all
    }))
    .unwrap()
}

fn action(name: &str) -> Trace {
    story(&[
        json!({"phase": "operation", "action": "run-action", "name": name, "id": 1, "params": {}}),
    ])
}

fn pebble_ready() -> Trace {
    story(&[json!({"phase": "operation", "action": "workload-started", "container": "app"})])
}

#[test]
fn each_stand_in_that_cannot_answer_gives_an_environment_finding_with_its_fix() {
    let mut t = target(&fixture());
    t.environment_findings = true;
    let contained = t.sandbox().contained();
    let mut check = |trace: Trace, kind: Option<LackKind>, what: &str, fix: &str| {
        let (_, report) = t.run_story(&trace).unwrap();
        let f = report
            .finding
            .as_ref()
            .unwrap_or_else(|| panic!("no finding for {what}"));
        match kind {
            Some(kind) => {
                assert_eq!(f.class, FindingClass::Environment, "{what}: {}", f.title);
                assert!(f.signature.starts_with("environment|"), "{}", f.signature);
                let lack = f.lacks.iter().find(|l| l.kind == kind);
                let lack = lack.unwrap_or_else(|| panic!("{what}: lacks {:?}", f.lacks));
                assert_eq!(lack.what, what);
                assert!(lack.fix().contains(fix), "{what}: {}", lack.fix());
                assert!(f.title.contains("[environment: "), "{}", f.title);
            }
            None => {
                assert_eq!(
                    f.class,
                    FindingClass::Charm,
                    "{what}: {} {:?}",
                    f.title,
                    f.lacks
                );
                assert!(f.lacks.is_empty());
            }
        }
    };
    check(
        pebble_ready(),
        Some(LackKind::Exec),
        "app-cli --version",
        r#"[[target.exec]] command = ["app-cli", "--version"]"#,
    );
    check(
        action("snap-info"),
        Some(LackKind::Shim),
        "snap info app",
        "[target.shims.snap]",
    );
    check(
        action("missing-program"),
        Some(LackKind::Program),
        "app-admin",
        "[target.shims.app-admin]",
    );
    // Through the shell, the program is the command's first word.
    check(
        action("missing-shell-program"),
        Some(LackKind::Program),
        "app-admin",
        "[target.shims.app-admin]",
    );
    check(
        action("snapd"),
        Some(LackKind::Socket),
        "/run/snapd.socket",
        "snapd",
    );
    check(
        action("missing-module"),
        Some(LackKind::Module),
        "charmfuzz_undeclared_package",
        "charmfuzz setup --charm <dir> --recreate",
    );
    check(
        action("http"),
        Some(LackKind::Network),
        "127.0.0.1:8080",
        "[[target.http]] service = \"…\" port = 8080",
    );
    // The charm's own bugs, even where a file is missing: its own directory is its own.
    check(action("crash"), None, "crash", "");
    check(action("own-file"), None, "own-file", "");
    // /etc is the host's, read-only, inside the sandbox: nothing in a story could have
    // made the file. Run bare, the charm could have written it, so it is the charm's.
    if contained {
        check(
            action("read-host"),
            Some(LackKind::HostPath),
            "/etc/stand-ins/app.conf",
            "writable",
        );
        // Writing into it: the fix names the directory to make writable.
        check(
            action("write-host"),
            Some(LackKind::ReadOnly),
            "/etc/stand-ins-ca.crt",
            "writable = [\"/etc\"]",
        );
        check(
            action("create-host"),
            Some(LackKind::ReadOnly),
            "/etc/stand-ins.conf",
            "writable = [\"/etc\"]",
        );
        // A host beyond the sandbox's network is a lack.
        check(
            action("network"),
            Some(LackKind::Network),
            "192.0.2.1:80",
            "no network",
        );
    } else {
        check(action("read-host"), None, "read-host", "");
    }
    if contained {
        // A Kubernetes pod has its service account, the API's address and the API itself
        // (TLS its CA verifies, the pod Juju made), as every pod does: nothing lacks.
        let (_, report) = t.run_story(&action("kube-api")).unwrap();
        assert!(report.finding.is_none(), "{:?}", report.finding);
        assert!(report.environment.is_empty(), "{:?}", report.environment);
    }

    // A directory the workload image ships, in a container that is up: pebble-ready
    // came, its exec answered this time.
    let tmp = tempfile::tempdir().unwrap();
    let copy = scripted_copy(tmp.path());
    let mut t = target(&copy);
    t.environment_findings = true;
    let trace = story(&[
        json!({"phase": "operation", "action": "workload-started", "container": "app"}),
        json!({"phase": "operation", "action": "run-action", "name": "image-dir", "id": 1, "params": {}}),
    ]);
    let (_, report) = t.run_story(&trace).unwrap();
    let f = report.finding.expect("image-dir fails");
    assert_eq!(f.class, FindingClass::Environment, "{}", f.title);
    let lack = f.lacks.iter().find(|l| l.kind == LackKind::ImageDir);
    let lack = lack.unwrap_or_else(|| panic!("{:?}", f.lacks));
    assert_eq!(lack.what, "app:/var/lib/app");
    // Juju's unit agent keeps the charm at its own path, with .juju-charm: no lack.
    if contained {
        let (_, report) = t.run_story(&action("agent-charm")).unwrap();
        assert!(report.finding.is_none(), "{:?}", report.finding);
        assert!(report.outcomes.iter().all(|o| o.exit.ok()));
    }
    assert!(
        lack.describe()
            .contains("container app has no directory /var/lib/app")
    );
}

/// What `cargo fuzz run lifecycle` decides per input: an environment finding is told once
/// and fuzzing goes on; a charm finding is a crash. A `[[target.exec]]` answer for the
/// lacking command makes the same input pass without one.
#[test]
fn an_environment_finding_does_not_end_a_fuzzing_run_and_a_charm_finding_does() {
    let dir = fixture();
    let settings = |dir: &Path| FuzzSettings {
        charm_dir: dir.to_path_buf(),
        config: TargetConfig::from_table(&Charm::load(dir).unwrap().config.target).unwrap(),
        max_steps: 64,
        only: None,
        structure_mutator: true,
        feedback: Feedback::All,
        cover_ops: false,
        hit_counts: false,
        harness_coverage: false,
        frontier: 0,
        prefix_cache: 0,
        jujuc: Some(jujuc()),
    };
    let mut encoder = target(&dir);
    let (ready, _) = encoder.run_story(&pebble_ready()).unwrap();
    let (crash, _) = encoder.run_story(&action("crash")).unwrap();
    drop(encoder);

    let charm = Charm::load(&dir).unwrap();
    let mut fuzzer = LifecycleFuzzer::new(settings(&dir), charm).unwrap();
    assert!(matches!(fuzzer.run_one(&ready).unwrap(), Verdict::Pass));
    let env: Vec<_> = fuzzer.environment_findings().collect();
    assert_eq!(
        env.len(),
        1,
        "{:?}",
        env.iter().map(|e| e.0).collect::<Vec<_>>()
    );
    assert!(env[0].0.starts_with("environment|"), "{}", env[0].0);
    assert_eq!(env[0].2.lacks[0].what, "app-cli --version");
    let last: &RunReport = fuzzer.last_report().unwrap();
    assert!(last.finding.is_none());
    // Juju retried the hook, which failed the same way each time.
    assert!(!last.environment.is_empty());
    assert!(last.environment.iter().all(|f| f.signature == env[0].0));
    // The story went on past it, as Juju retries a failed hook.
    assert!(last.outcomes.len() > env[0].2.event + 1);
    match fuzzer.run_one(&crash).unwrap() {
        Verdict::Finding(text, report) => {
            assert!(text.contains("class: charm"), "{text}");
            assert_eq!(report.finding.unwrap().class, FindingClass::Charm);
        }
        Verdict::Pass => panic!("the charm's own bug did not end the run"),
    }

    // Scripted, the exec is answered and nothing is lacking.
    let tmp = tempfile::tempdir().unwrap();
    let copy = scripted_copy(tmp.path());
    let mut fuzzer = LifecycleFuzzer::new(settings(&copy), Charm::load(&copy).unwrap()).unwrap();
    assert!(matches!(fuzzer.run_one(&ready).unwrap(), Verdict::Pass));
    assert_eq!(fuzzer.environment_findings().count(), 0);
    assert!(
        fuzzer
            .last_report()
            .unwrap()
            .outcomes
            .iter()
            .all(|o| o.lacks.is_empty())
    );
}

/// The demo charms ask for nothing charmfuzz lacks: random stories, contained as the
/// fuzzer runs them, note no lack in any hook (no false alarm from Pebble sockets of
/// stopped containers, Python's own files, the hook tools or the charm's own files).
#[test]
fn the_demo_charms_lack_nothing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/charms");
    for name in ["demo-k8s-clean", "demo-machine-clean"] {
        let mut t = target(&root.join(name));
        t.stop_at_finding = false;
        let mut events = 0;
        for seed in 0..25 {
            let report = t.run_bytes(&random_story(seed, 12), None).unwrap();
            events += report.outcomes.len();
            for o in &report.outcomes {
                assert!(
                    o.lacks.is_empty(),
                    "{name} seed {seed} {}: {:?}",
                    o.hook,
                    o.lacks
                );
            }
        }
        assert!(events > 200, "{name}: {events} events");
    }
}
