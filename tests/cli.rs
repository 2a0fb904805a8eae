//! The `charmfuzz` command line, run as a user runs it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn charmfuzz(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_charmfuzz"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("charmfuzz runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const DEMO: &str = "examples/charms/demo-k8s";

#[test]
fn simulate_is_deterministic_per_seed() {
    let a = charmfuzz(&["simulate", "--charm", DEMO, "--seed", "7"]);
    let b = charmfuzz(&["simulate", "--charm", DEMO, "--seed", "7"]);
    let c = charmfuzz(&["simulate", "--charm", DEMO, "--seed", "8"]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(stdout(&a), stdout(&b));
    assert_ne!(stdout(&a), stdout(&c));
    let s = stdout(&a);
    assert!(s.contains("PHASE Phase.setup:"), "{s}");
    assert!(s.contains("Action :: Source.user --> 'deploy'"), "{s}");
    assert!(s.contains("Event :: install"), "{s}");
    assert!(s.trim_end().ends_with("end."), "{s}");
}

#[test]
fn simulated_json_validates_and_round_trips_through_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.json");
    let seed = dir.path().join("seed.bin");
    let o = charmfuzz(&["simulate", "--charm", DEMO, "--seed", "3", "--json"]);
    assert!(o.status.success());
    std::fs::write(&trace, &o.stdout).unwrap();
    let t = trace.to_str().unwrap();
    let v = charmfuzz(&["validate", t, "--charm", DEMO]);
    assert!(v.status.success(), "{}", stdout(&v));
    assert!(stdout(&v).contains("valid"));
    let e = charmfuzz(&["encode", t, "--charm", DEMO, "-o", seed.to_str().unwrap()]);
    assert!(e.status.success(), "{}", String::from_utf8_lossy(&e.stderr));
    let d = charmfuzz(&["decode", seed.to_str().unwrap(), "--charm", DEMO, "--json"]);
    let original: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let decoded: serde_json::Value = serde_json::from_slice(&d.stdout).unwrap();
    assert_eq!(original, decoded);
}

#[test]
fn validate_names_the_step_and_rule_of_a_bad_trace() {
    let dir = tempfile::tempdir().unwrap();
    let o = charmfuzz(&["simulate", "--charm", DEMO, "--seed", "5", "--json"]);
    let mut trace: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Drop `install`: the hooks after it now come before any install.
    let events = trace["steps"][0]["events"].as_array_mut().unwrap();
    assert_eq!(events[0]["hook"], "install");
    events.remove(0);
    let first_after = (0..)
        .map(|i| &trace["steps"][i])
        .position(|s| s["events"].as_array().is_some_and(|e| !e.is_empty()))
        .unwrap();
    let path: PathBuf = dir.path().join("bad.json");
    std::fs::write(&path, serde_json::to_vec(&trace).unwrap()).unwrap();
    let v = charmfuzz(&["validate", path.to_str().unwrap(), "--charm", DEMO]);
    assert_eq!(v.status.code(), Some(1));
    let out = stdout(&v);
    assert!(
        out.contains(&format!("step {first_after} (event 0")),
        "{out}"
    );
    assert!(out.contains("§L2.15.2"), "{out}");
}

#[test]
fn broken_charm_and_bad_trace_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("metadata.yaml"),
        "name: x\nrequires:\n  db: {}\n",
    )
    .unwrap();
    let o = charmfuzz(&["spec", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("metadata.yaml") && err.contains("interface"),
        "{err}"
    );

    let bad = dir.path().join("t.json");
    std::fs::write(&bad, "{not json").unwrap();
    let o = charmfuzz(&["validate", bad.to_str().unwrap(), "--charm", DEMO]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a charmfuzz trace"));

    let missing = Path::new("/nonexistent/charm");
    let o = charmfuzz(&["simulate", "--charm", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/charm"));
}

#[test]
fn spec_prints_the_action_space() {
    let o = charmfuzz(&["spec", DEMO]);
    assert!(o.status.success());
    let s = stdout(&o);
    assert!(s.contains("kubernetes"), "{s}");
    assert!(s.contains("replicas") && s.contains("peers"), "{s}");
    assert!(s.contains("machine-rebooted") && s.contains("no"), "{s}");
}

/// `spec` lists the commands a sidecar charm's code runs in its workload, and whether
/// `charmfuzz.toml` says what they print.
#[test]
fn spec_lists_the_workload_commands_and_what_answers_them() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = common::fixture_copy(
        tmp.path(),
        "stand-ins",
        "[target]\nexec-default = 'not-found'\n[[target.exec]]\ncommand = ['app-cli', '--version']\n",
    );
    let o = charmfuzz(&["spec", copy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = stdout(&o);
    let section = s.split("workload commands").nth(1).expect(&s);
    let line = |needle: &str| {
        let l = section.lines().find(|l| l.contains(needle));
        l.unwrap_or_else(|| panic!("no {needle} in {s}"))
            .to_string()
    };
    let version = line(r#"["app-cli", "--version"]"#);
    assert!(
        version.contains("src/charm.py:") && version.ends_with("scripted"),
        "{version}"
    );
    let status = line(r#"["app-cli", "status"]"#);
    assert!(
        status.ends_with("unscripted (exec-default: not found)"),
        "{status}"
    );
    // A machine charm has no workload containers: no such section.
    let machine = charmfuzz(&["spec", "examples/charms/demo-machine"]);
    assert!(!stdout(&machine).contains("workload commands"));
}

#[test]
fn stats_reach_every_kubernetes_hook_kind_of_the_demo_charm() {
    let o = charmfuzz(&["stats", "--charm", DEMO, "--inputs", "3000", "--len", "600"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = stdout(&o);
    assert!(s.contains("invalid traces: 0"), "{s}");
    let hooks = s.split("hooks:").nth(1).unwrap();
    for line in hooks.lines().filter(|l| l.starts_with("  ")) {
        let mut parts = line.split_whitespace();
        let (name, count) = (parts.next().unwrap(), parts.next().unwrap());
        let machine_only = [
            "pre-series-upgrade",
            "post-series-upgrade",
            "collect-metrics",
        ];
        // Owner-side secret hooks need the charm to create a secret (a real target reports
        // that); the engine alone cannot.
        let needs_charm = ["secret-rotate", "secret-expired", "secret-remove"];
        if machine_only.contains(&name) || needs_charm.contains(&name) {
            assert_eq!(count, "0", "{name}");
        } else {
            assert_ne!(count, "0", "{name} never appeared");
        }
    }
}

/// `coverage` plays the seed corpus against the real demo charm: every seed installs, the
/// table and the Markdown report agree, and hooks never reached are marked. The charm's
/// lines are counted per hook: the install handler's body ran once per seed, and the
/// LCOV tracefile says so for the charm's real source file.
#[test]
fn coverage_maps_the_lifecycle_a_corpus_reached() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("lifecycle.md");
    let lcov = dir.path().join("charm.lcov");
    let seeds = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/lifecycle"))
        .unwrap()
        .count();
    let o = charmfuzz(&[
        "coverage",
        "corpus/lifecycle",
        "--charm",
        DEMO,
        "--markdown",
        md.to_str().unwrap(),
        "--lcov",
        lcov.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = stdout(&o);
    assert!(s.starts_with(&format!("{seeds} inputs, ")), "{s}");
    // Lines: the row of src/charm.py, and the LCOV record of the same file.
    let row = s
        .lines()
        .find(|l| l.starts_with("src/charm.py "))
        .expect("a row for src/charm.py");
    let cols: Vec<&str> = row.split_whitespace().collect();
    let (lines, run): (usize, usize) = (cols[1].parse().unwrap(), cols[2].parse().unwrap());
    assert!(run > 0 && run < lines, "{row}");
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(DEMO)
        .join("src/charm.py");
    let text = std::fs::read_to_string(&source).unwrap();
    let body = 2 + text
        .lines()
        .position(|l| l.trim_start().starts_with("def _on_install("))
        .expect("the demo charm has an install handler");
    let tracefile = std::fs::read_to_string(&lcov).unwrap();
    let record = tracefile
        .split("end_of_record\n")
        .find(|r| r.contains(&format!("SF:{}\n", source.display())))
        .unwrap_or_else(|| panic!("no record for {}: {tracefile}", source.display()));
    assert!(
        record.contains(&format!("\nDA:{body},{seeds}\n")),
        "line {body} (install) ran once per seed: {record}"
    );
    assert!(
        record.contains(&format!("\nLF:{lines}\nLH:{run}\n")),
        "{record}"
    );
    let install = s
        .lines()
        .find(|l| l.starts_with("install "))
        .expect("install row");
    let cols: Vec<&str> = install.split_whitespace().collect();
    assert_eq!(cols[2], seeds.to_string(), "every seed installs: {install}");
    assert!(
        s.contains(&format!("(deploy) → install: {seeds} times")),
        "{s}"
    );
    assert!(s.contains("never reached"), "{s}");
    let report = std::fs::read_to_string(&md).unwrap();
    assert!(report.contains("```mermaid\nflowchart LR\n"), "{report}");
    assert!(report.contains(&format!("-->|{seeds}| ")), "{report}");
    assert!(report.contains(":::unreached"), "{report}");
}

#[test]
fn random_all_says_it_found_what_it_lists() {
    // BUG-1 of the demo charm comes within a few random stories: `--all` lists its
    // signature and goes on, and its result line says that something was found.
    let o = charmfuzz(&[
        "random", "--charm", DEMO, "--all", "--runs", "12", "--seed", "1", "--steps", "12",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = stdout(&o);
    let listed: usize = s
        .lines()
        .find_map(|l| {
            l.split(" signature(s):")
                .next()
                .filter(|_| l.ends_with("signature(s):"))
        })
        .and_then(|l| l.rsplit(", ").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no list of signatures in:\n{s}"));
    assert!(listed > 0, "{s}");
    let result = s
        .lines()
        .find(|l| l.starts_with("result: "))
        .expect("a result line");
    assert!(
        result.ends_with(&format!("found=yes signatures={listed}")),
        "{result}"
    );
}

#[test]
fn a_trace_for_another_charm_is_refused_as_validate_refuses_it() {
    let trace = "tests/fixtures/stories/demo-k8s-bug2.json";
    let machine = "examples/charms/demo-machine";
    let v = charmfuzz(&["validate", trace, "--charm", machine]);
    assert!(!v.status.success(), "{}", stdout(&v));
    let o = charmfuzz(&["run", "--charm", machine, "--trace", trace]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(r#"the trace is for charm "demo", and this charm is "demo-machine""#),
        "{err}"
    );
}

/// The hostile stories of the faulty fixture, run as a user would run them: each ends as a
/// finding or a clean run, and says what happened.
#[test]
fn hostile_stories_end_as_findings_or_clean_runs() {
    let faulty = "tests/fixtures/charms/faulty";
    let run = |story: &str| {
        let trace = format!("tests/fixtures/stories/faulty-{story}.json");
        let o = charmfuzz(&["run", "--charm", faulty, "--trace", &trace]);
        (o.status.code(), stdout(&o))
    };
    let (code, out) = run("escape");
    assert_eq!(code, Some(0), "{out}");
    for attempt in ["remount", "mount", "unshare", "sysctl", "sys"] {
        assert!(out.contains(&format!("{attempt}=blocked(")), "{out}");
    }
    assert!(out.contains("capeff=00000000000004fb nnp=1"), "{out}");
    let (code, out) = run("memory");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FINDING: out of memory in memory-action (MemoryError at src/charm.py:"),
        "{out}"
    );
    let (code, out) = run("output");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("output cut (stdout: 1073741846 bytes, the last 65536 kept)"),
        "{out}"
    );
    let (code, out) = run("kill-worker");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(
            "FINDING: kill-worker-action killed the process running the hooks (on a unit, the \
             Juju agent) with SIGKILL"
        ),
        "{out}"
    );
}

/// Copy a charm (its files, not its caches) into `to`.
fn copy_charm(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let name = e.file_name();
        if name == "__pycache__" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_charm(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A charm whose code does not parse is the charm's finding, in the first hook, as a
/// unit's dispatch would fail; a charm without its entry point is the user's error, named
/// by the user's path; and each error says its cause once.
#[test]
fn a_charm_that_does_not_parse_is_a_finding_and_a_missing_one_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let charm = dir.path().join("faulty");
    std::fs::create_dir(&charm).unwrap();
    copy_charm(Path::new("tests/fixtures/charms/faulty"), &charm);
    let entry = charm.join("src/charm.py");
    let mut code = std::fs::read_to_string(&entry).unwrap();
    code.push_str("\ndef broken(:\n    pass\n");
    std::fs::write(&entry, code).unwrap();
    let c = charm.to_str().unwrap();
    let o = charmfuzz(&["run", "--charm", c, "--seed", "1"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "a finding: {out}");
    assert!(out.contains("SyntaxError"), "{out}");
    assert!(out.contains("(in install)"), "{out}");

    std::fs::remove_file(&entry).unwrap();
    let o = charmfuzz(&["run", "--charm", c, "--seed", "1"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "the charm's entry point {} does not exist",
            entry.display()
        )),
        "{err}"
    );

    let missing = dir.path().join("nope.json");
    let o = charmfuzz(&["run", "--charm", DEMO, "--trace", missing.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}

#[test]
fn a_finding_of_random_steps_12_replays_minimises_and_reproduces_with_no_flags() {
    // `random --steps 12` keeps the bytes of the story it told (an input is one story
    // everywhere): replay, minimize and repro --check take the artifact as it is.
    let dir = tempfile::tempdir().unwrap();
    let art = dir.path().join("crash");
    let art_s = art.display().to_string();
    let o = charmfuzz(&[
        "random",
        "--charm",
        DEMO,
        "--runs",
        "50",
        "--seed",
        "1",
        "--steps",
        "12",
        "--artifact",
        &art_s,
    ]);
    let s = stdout(&o);
    assert!(
        o.status.success(),
        "{s}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let sig = s
        .lines()
        .find_map(|l| l.strip_prefix("signature: "))
        .unwrap_or_else(|| panic!("no finding in:\n{s}"))
        .to_string();
    let replay = charmfuzz(&["replay", "--charm", DEMO, &art_s]);
    assert!(
        stdout(&replay)
            .lines()
            .any(|l| l == format!("signature: {sig}")),
        "replay lost {sig}:\n{}",
        stdout(&replay)
    );
    let min = dir.path().join("crash.min");
    let min_s = min.display().to_string();
    let m = charmfuzz(&["minimize", "--charm", DEMO, "-o", &min_s, &art_s]);
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    assert!(
        stdout(&m).lines().any(|l| l == format!("signature: {sig}")),
        "{}",
        stdout(&m)
    );
    let test = dir.path().join("test_repro.py").display().to_string();
    let r = charmfuzz(&["repro", "--charm", DEMO, "--check", "-o", &test, &min_s]);
    assert!(
        r.status.success(),
        "{}{}",
        stdout(&r),
        String::from_utf8_lossy(&r.stderr)
    );
}
