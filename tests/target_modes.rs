//! Fork mode is faithful: the same stories give the same outcomes whether each hook runs
//! in a forked child of the warm worker (tool calls answered in-process) or as a fresh
//! `dispatch` process with the hook tools as executables on PATH, the way Juju runs it.
//!
//! Compared per event: how the hook ended, the statuses set, the changes committed and
//! dropped, the hook-tool calls in order (log text and temp-file names aside), the shim
//! calls, StoredState and the deferred events afterwards.

use charmfuzz::charm::Charm;
use charmfuzz::engine::seed_bytes;
use charmfuzz::target::{EventOutcome, Mode, RunReport, Target, TargetConfig};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn traces() -> u64 {
    std::env::var("CHARMFUZZ_MODE_TRACES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}
const STEPS: usize = 4;

fn charm_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/charms")
        .join(name)
}

fn target(name: &str, mode: Mode) -> Target {
    target_in(&charm_dir(name), mode)
}

fn target_in(dir: &Path, mode: Mode) -> Target {
    let dir = dir.to_path_buf();
    let charm = Charm::load(&dir).unwrap();
    let mut config = TargetConfig::from_table(&charm.config.target).unwrap();
    config.mode = mode;
    let jujuc = Path::new(env!("CARGO_BIN_EXE_charmfuzz"));
    let mut t = Target::new(charm, config, Some(jujuc)).unwrap();
    t.stop_at_finding = false;
    t
}

/// Timestamps the charm takes from the clock (`2026-11-26T06:26:18.498278+00:00`) differ
/// between any two runs; mask them.
fn mask_times(v: Value) -> Value {
    let text = v.to_string();
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let looks_like_date = |i: usize| {
        b.len() >= i + 11
            && b[i..i + 4].iter().all(u8::is_ascii_digit)
            && b[i + 4] == b'-'
            && b[i + 7] == b'-'
            && b[i + 10] == b'T'
    };
    while i < b.len() {
        if looks_like_date(i) {
            out.push_str("<time>");
            while i < b.len() && (b[i].is_ascii_digit() || b":.+-TZ".contains(&b[i])) {
                i += 1;
            }
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    serde_json::from_str(&out).expect("still JSON")
}

/// A trace's story: the actions and the hooks after each, without the charm's data.
fn story(r: &RunReport) -> Vec<(String, Vec<String>)> {
    r.trace
        .steps
        .iter()
        .map(|s| {
            (
                charmfuzz::story::describe(&s.action),
                s.events.iter().map(|e| e.hook.clone()).collect(),
            )
        })
        .collect()
}

/// What must agree between the two modes, as JSON.
fn comparable(o: &EventOutcome) -> Value {
    let calls: Vec<Value> = o
        .agent
        .calls
        .iter()
        .map(|c| {
            let args: Vec<String> = if c.tool == "juju-log" {
                c.args.iter().take(2).cloned().collect() // the level, not the text
            } else {
                c.args
                    .iter()
                    .map(|a| match a.split_once("#file=") {
                        Some((k, _)) => format!("{k}#file=<tmp>"),
                        None => a.clone(),
                    })
                    .collect()
            };
            json!([c.tool, args, c.code])
        })
        .collect();
    mask_times(json!({
        "hook": o.hook,
        "exit": o.exit,
        "exception": o.exception.as_ref().map(|e| (&e.type_name, e.charm_frame().map(|f| (&f.file, f.line)))),
        "statuses": o.agent.statuses,
        "committed": o.agent.committed,
        "discarded": o.agent.discarded,
        "calls": calls,
        "shims": o.shim_calls,
        "stored": o.stored,
        "deferred": o.deferred,
    }))
}

fn compare(name: &str) -> (usize, usize) {
    let mut fork = target(name, Mode::Fork);
    let mut exec = target(name, Mode::Exec);
    compare_targets(name, &mut fork, &mut exec, traces())
}

fn compare_targets(name: &str, fork: &mut Target, exec: &mut Target, n: u64) -> (usize, usize) {
    let (mut events, mut findings) = (0, 0);
    for seed in 0..n {
        let bytes = seed_bytes(seed, 64 + STEPS * 24);
        let a: RunReport = fork.run_bytes(&bytes, Some(STEPS)).unwrap();
        let b: RunReport = exec.run_bytes(&bytes, Some(STEPS)).unwrap();
        assert_eq!(
            story(&a),
            story(&b),
            "{name} seed {seed}: the modes told different stories"
        );
        assert_eq!(a.outcomes.len(), b.outcomes.len());
        for (i, (x, y)) in a.outcomes.iter().zip(&b.outcomes).enumerate() {
            let (x, y) = (comparable(x), comparable(y));
            assert_eq!(
                x, y,
                "{name} seed {seed} event {i} ({}) differs between fork and exec mode",
                x["hook"]
            );
        }
        events += a.outcomes.len();
        findings += a.outcomes.iter().filter(|o| !o.exit.ok()).count();
    }
    (events, findings)
}

#[test]
fn fork_and_exec_mode_agree_on_the_demo_charms() {
    // Two charms at a time: one per core.
    let pairs = [
        ["demo-k8s", "demo-machine"],
        ["demo-k8s-clean", "demo-machine-clean"],
    ];
    for pair in pairs {
        let handles: Vec<_> = pair
            .iter()
            .filter(|n| charm_dir(n).is_dir())
            .map(|n| {
                let n = n.to_string();
                std::thread::spawn(move || (n.clone(), compare(&n)))
            })
            .collect();
        for h in handles {
            let (name, (events, failed)) = h.join().expect("a comparison failed");
            eprintln!(
                "{name}: {} traces, {events} events agree ({failed} failed hooks among them)",
                traces()
            );
            assert!(
                events >= traces() as usize * 3,
                "{name}: too few events ({events})"
            );
        }
    }
}

/// A charm's repository has no `dispatch` (charmcraft writes it at pack time): exec mode
/// runs the one charmcraft would write, with the charm's interpreter, and agrees with fork
/// mode event by event. The user's tree is left without one.
#[test]
fn a_source_tree_without_dispatch_runs_as_packed_in_either_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("demo-k8s");
    let status = std::process::Command::new("cp")
        .args(["-r"])
        .arg(charm_dir("demo-k8s"))
        .arg(&tree)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_file(tree.join("dispatch")).unwrap();
    let mut fork = target("demo-k8s", Mode::Fork);
    let mut exec = target_in(&tree, Mode::Exec);
    let (events, _) = compare_targets("demo-k8s without dispatch", &mut fork, &mut exec, 5);
    assert!(events >= 15, "too few events ({events})");
    assert!(!tree.join("dispatch").exists());

    // Fork mode too runs the tree as packed: ops finds the dispatch it would have (without
    // one, ops 2.x takes the charm for a pre-dispatch one and writes hooks/ symlinks), and
    // it stays there from input to input, since it is part of the packed charm.
    let mut fork_tree = target_in(&tree, Mode::Fork);
    let (events, _) = compare_targets(
        "demo-k8s without dispatch, fork",
        &mut fork,
        &mut fork_tree,
        3,
    );
    assert!(events >= 9, "too few events ({events})");
    let packed = fork_tree.sandbox().charm_dir().join("dispatch");
    let text = std::fs::read_to_string(&packed).unwrap();
    assert!(text.contains("./src/charm.py"), "{text}");
    assert!(!fork_tree.sandbox().charm_dir().join("hooks").exists());
    assert!(!tree.join("dispatch").exists());
}

#[test]
fn a_charm_built_with_charmcrafts_extensions_runs_with_what_they_add() {
    // The fixture's code observes the flask-framework extension's peer relation and
    // container in `__init__` and reads its options: unexpanded, every hook would raise.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/charms/flask-extension");
    let mut t = target_in(&dir, Mode::Fork);
    let mut hooks = std::collections::BTreeSet::new();
    for seed in 0..12 {
        let r = t
            .run_bytes(&seed_bytes(seed, 64 + 8 * 24), Some(8))
            .unwrap();
        for o in &r.outcomes {
            assert!(
                o.exit.ok(),
                "seed {seed}: {} failed: {:?} {:?}",
                o.hook,
                o.exit,
                o.exception.as_ref().map(|e| &e.message)
            );
            hooks.insert(o.hook.clone());
        }
    }
    for hook in [
        "secret-storage-relation-created",
        "flask-app-pebble-ready",
        "config-changed",
    ] {
        assert!(hooks.contains(hook), "{hook} never ran; ran {hooks:?}");
    }
    // ops read the expanded document from the copy; the user's tree is untouched.
    let copy = std::fs::read_to_string(t.sandbox().charm_dir().join("charmcraft.yaml")).unwrap();
    assert!(copy.contains("\"secret-storage\""), "{copy}");
    let own = std::fs::read_to_string(dir.join("charmcraft.yaml")).unwrap();
    assert!(own.contains("extensions:"));
}
