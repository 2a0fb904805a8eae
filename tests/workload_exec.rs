//! A workload's programs, as a sidecar charm runs them through Pebble's `exec`.
//!
//! There is no workload image: `[[target.exec]]` says what each command prints, and an
//! answer can hold for part of the story only (some calls of the command, or while a
//! service runs or not). A command nothing answers is unscripted: by default it succeeds
//! with no output, so a charm is not stopped at its first exec, and it is recorded in the
//! hook's outcome, so that a hook failing after it is an `environment` finding naming the
//! answer to add. `exec-default = "not-found"` answers as an image without the program.

mod common;

use charmfuzz::charm::Charm;
use charmfuzz::engine::Trace;
use charmfuzz::target::{FindingClass, LackKind, RunReport, Target, TargetConfig};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The stand-ins fixture's target with this `charmfuzz.toml` `[target]` table.
fn target(settings: &str) -> Target {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/charms/stand-ins");
    target_at(&dir, settings)
}

/// The target of the charm in `dir`, with `[target]` settings on top of its own.
fn target_at(dir: &Path, settings: &str) -> Target {
    let charm = Charm::load(dir).unwrap();
    let mut table = charm.config.target.clone();
    table.extend(toml::from_str::<toml::Table>(settings).unwrap());
    let config = TargetConfig::from_table(&table).unwrap();
    let jujuc = PathBuf::from(env!("CARGO_BIN_EXE_charmfuzz"));
    Target::new(charm, config, Some(&jujuc)).unwrap()
}

/// Deploy, the workload's container starting, then the given operations.
fn story(steps: &[Value]) -> Trace {
    let mut all = vec![
        json!({
            "phase": "operation", "action": "deploy", "unit": "stand-ins/0", "leader": true,
            "peers": [], "relations": [], "storage": []
        }),
        json!({"phase": "operation", "action": "workload-started", "container": "app"}),
    ];
    all.extend(steps.iter().cloned());
    serde_json::from_value(json!({
        "format": 1, "charm": "stand-ins", "substrate": "kubernetes", "unit": "stand-ins/0",
        "options": { "juju-version": "3.6.4" }, "steps": all
    }))
    .unwrap()
}

/// `juju run` of one of the stand-ins' actions.
fn run_action(name: &str, id: u32) -> Value {
    json!({"phase": "operation", "action": "run-action", "name": name, "id": id, "params": {}})
}

fn app_status(id: u32) -> Value {
    run_action("app-status", id)
}

/// The workload container restarts: a new Pebble.
fn restart_app() -> [Value; 2] {
    [
        json!({"phase": "operation", "action": "workload-stopped", "container": "app"}),
        json!({"phase": "operation", "action": "workload-started", "container": "app"}),
    ]
}

/// `(before, first, second)` of every app-status action in the run.
fn statuses(r: &RunReport) -> Vec<(String, String, String)> {
    r.outcomes
        .iter()
        .filter_map(|o| o.agent.action.as_ref())
        .map(|a| {
            assert_eq!(a.status, "completed", "{a:?}");
            let get = |k: &str| a.results[k].as_str().unwrap().to_string();
            (get("before"), get("first"), get("second"))
        })
        .collect()
}

const VERSION: &str = r#"
[[exec]]
command = ["app-cli", "--version"]
stdout = "1.0\n"
"#;

#[test]
fn answers_follow_the_service_state_and_the_call_count_across_the_story() {
    let settings = format!(
        r#"{VERSION}
[[exec]]
command = ['app-cli', 'status']
calls = '2'
when-running = 'app'
stdout = "starting\n"

[[exec]]
command = ['app-cli', 'status']
when-running = 'app'
stdout = "running\n"

[[exec]]
command = ['app-cli', 'status']
when-stopped = 'app'
stdout = "stopped\n"
"#
    );
    let mut t = target(&settings);
    let trace = story(&[app_status(1), app_status(2)]);
    let report = t.run_trace(&trace).unwrap();
    assert!(report.finding.is_none(), "{:?}", report.finding);
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    // The first action: stopped, then the second call while it runs, then any later one.
    // The second: the service still runs (replanned, not restarted), calls 4 to 6.
    assert_eq!(
        statuses(&report),
        [
            s("stopped", "starting", "running"),
            s("running", "running", "running")
        ]
    );
    assert!(report.outcomes.iter().all(|o| o.lacks.is_empty()));
    // The next input counts from its own first call again.
    let again = t.run_trace(&trace).unwrap();
    assert_eq!(statuses(&again), statuses(&report));
    // Pebble's logs hold this input's execs only (the version, six statuses): a long
    // fuzzing run does not pile them up.
    let execs = t.pebble().unwrap().exec_log("app").unwrap();
    assert_eq!(execs.len(), 7, "{execs:?}");
    assert!(execs.iter().all(|e| e.answer.is_some() && !e.unscripted));
}

#[test]
fn an_unscripted_command_succeeds_silently_and_is_recorded_in_the_hook_that_ran_it() {
    let mut t = target(VERSION);
    let report = t.run_trace(&story(&[app_status(1)])).unwrap();
    assert!(report.finding.is_none(), "{:?}", report.finding);
    assert_eq!(
        statuses(&report),
        [(String::new(), String::new(), String::new())]
    );
    let action = report.outcomes.iter().find(|o| o.agent.action.is_some());
    let lacks = &action.unwrap().lacks;
    assert_eq!(lacks.len(), 1, "{lacks:?}");
    assert_eq!(lacks[0].kind, LackKind::Exec);
    assert_eq!(lacks[0].what, "app-cli status");
    assert!(
        lacks[0]
            .fix()
            .contains(r#"[[target.exec]] command = ["app-cli", "status"]"#),
        "{}",
        lacks[0].fix()
    );
    // pebble-ready's exec was scripted: nothing lacked there.
    let ready = report
        .outcomes
        .iter()
        .find(|o| o.hook == "app-pebble-ready");
    assert!(ready.unwrap().lacks.is_empty());
}

#[test]
fn a_hook_that_fails_on_an_unscripted_answer_is_an_environment_finding_under_either_policy() {
    for (settings, exception) in [
        ("", "IndexError: list index out of range"),
        (
            "exec-default = 'not-found'",
            "APIError: cannot find executable \"app-cli\"",
        ),
    ] {
        let mut t = target(settings);
        t.environment_findings = true;
        let report = t.run_trace(&story(&[])).unwrap();
        let f = report.finding.as_ref().expect("pebble-ready fails");
        assert_eq!(
            f.class,
            FindingClass::Environment,
            "{settings}: {}",
            f.title
        );
        assert_eq!(f.hook, "app-pebble-ready");
        assert!(f.title.contains(exception), "{settings}: {}", f.title);
        assert_eq!(f.lacks[0].kind, LackKind::Exec);
        assert_eq!(f.lacks[0].what, "app-cli --version");
    }
    // Scripted, the same story passes.
    let report = target(VERSION).run_trace(&story(&[])).unwrap();
    assert!(report.finding.is_none(), "{:?}", report.finding);
}

/// An unscripted command's made-up part is its empty output: a charm that only waits for
/// its exit code got what a working program gives, and a failure after it is the charm's
/// own (with the command still named in the outcome). One that reads the output, whole
/// or streamed, lacked it; under `not-found` every unscripted command lacked.
#[test]
fn an_unscripted_command_is_a_lack_only_where_the_charm_read_its_output() {
    let run = |settings: &str, name: &str| {
        let mut t = target(&format!("{settings}\n{VERSION}"));
        t.environment_findings = true;
        let action = run_action(name, 1);
        let report = t.run_trace(&story(&[action])).unwrap();
        let f = report.finding.expect("the action fails");
        let outcome = report.outcomes.last().unwrap().clone();
        (f, outcome)
    };
    let (f, outcome) = run("", "refresh-certs");
    assert_eq!(f.class, FindingClass::Charm, "{}", f.title);
    assert!(f.title.contains("APIError"), "{}", f.title);
    assert!(outcome.lacks.is_empty(), "{:?}", outcome.lacks);
    assert_eq!(outcome.unscripted, ["update-ca-certificates --fresh"]);

    let (f, outcome) = run("", "last-log-line");
    assert_eq!(f.class, FindingClass::Environment, "{}", f.title);
    assert!(f.title.contains("IndexError"), "{}", f.title);
    assert_eq!(outcome.lacks.len(), 1, "{:?}", outcome.lacks);
    assert_eq!(outcome.lacks[0].what, "app-cli log");

    let (f, outcome) = run("exec-default = 'not-found'", "refresh-certs");
    assert_eq!(f.class, FindingClass::Environment, "{}", f.title);
    assert_eq!(outcome.lacks[0].what, "update-ca-certificates --fresh");
}

/// A charm that trusts its workload's output: `app-cli --version` prints a blank line (as
/// scripted) and pebble-ready fails parsing it, a `charm` finding. Its `ops.testing`
/// reproducer gives the container the same answer (`testing.Exec`): without it,
/// ops.testing would refuse the command and the test would fail another way.
#[test]
fn the_reproducer_answers_the_workload_commands_as_the_run_did() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = common::fixture_copy(
        tmp.path(),
        "stand-ins",
        "[[target.exec]]\ncommand = ['app-cli', '--version']\nstdout = \"\\n\"\nstderr = 'warming up'\n",
    );
    let mut t = target_at(&copy, "");
    let report = t.run_trace(&story(&[])).unwrap();
    let f = report.finding.expect("pebble-ready fails");
    assert_eq!(f.class, FindingClass::Charm, "{}", f.title);
    assert!(f.title.contains("IndexError"), "{}", f.title);
    drop(t);

    let trace = tmp.path().join("story.json");
    std::fs::write(&trace, serde_json::to_string(&story(&[])).unwrap()).unwrap();
    let test = tmp.path().join("test_repro.py");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_charmfuzz"))
        .args(["repro", "--check", "--charm"])
        .arg(&copy)
        .arg("-o")
        .arg(&test)
        .arg(&trace)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    let text = std::fs::read_to_string(&test).unwrap();
    assert!(
        text.contains(
            r#"testing.Exec(["app-cli", "--version"], stdout="\n", stderr="warming up")"#
        ),
        "{text}"
    );
}

/// The workload's API on the pod's loopback: refused until its service runs, the canned
/// answers while it runs (a path nothing answers is a 404), refused again once it stops;
/// none of it is a lack.
#[test]
fn the_workload_serves_its_http_answers_only_while_its_service_runs() {
    let mut t = target(&format!(
        r#"{VERSION}
[[http]]
service = "app"
port = 8080
path = "/health"
body = "ok"
"#
    ));
    let action = run_action("health", 1);
    let report = t.run_trace(&story(std::slice::from_ref(&action))).unwrap();
    let results = report
        .outcomes
        .iter()
        .find_map(|o| o.agent.action.as_ref())
        .expect("the action ran");
    assert_eq!(results.status, "completed", "{results:?}");
    let got = |k: &str| results.results[k].as_str().unwrap().to_string();
    assert_eq!(got("before"), "ConnectionRefusedError");
    assert_eq!(got("during"), "200 ok | 404 404 page not found");
    assert_eq!(got("after"), "ConnectionRefusedError");
    let lacks: Vec<_> = report.outcomes.iter().flat_map(|o| &o.lacks).collect();
    assert!(lacks.is_empty(), "{lacks:?}");

    // A reproducer of that hook cannot serve the API: it says so, once per request.
    t.scene_before = Some(report.outcomes.len() - 1);
    t.scene_every_event = true;
    t.run_trace(&story(&[action])).unwrap();
    let gaps: Vec<String> = t.take_scenes().into_iter().flat_map(|s| s.gaps).collect();
    let api: Vec<&String> = gaps
        .iter()
        .filter(|g| g.contains("workload's API"))
        .collect();
    assert_eq!(api.len(), 2, "{gaps:?}");
    assert!(
        api[0].contains("answered with 200 `GET localhost:8080/health`"),
        "{api:?}"
    );
    assert!(
        api[1].contains("answered with 404 `GET localhost:8080/metrics`"),
        "{api:?}"
    );
}

fn fault(fault: &str) -> Value {
    json!({"phase": "operation", "action": "workload-fault", "container": "app", "fault": fault})
}

/// The workload's faults, as the fuzzer's actions: a service the charm started exits
/// (its port closes with it), its programs fail, its API errs, its disk fills. None is a
/// hook; each shows in what the charm meets next, and a charm that does not handle it
/// has a bug of its own (a `charm` finding, not an environment one).
#[test]
fn workload_faults_reach_the_charm_as_a_failing_workload_would() {
    let settings = format!(
        r#"{VERSION}
[[exec]]
command = ["app-cli", "status"]
stdout = "fine\n"

[[http]]
service = "app"
port = 8080
body = "ok"
"#
    );
    let mut t = target(&settings);
    t.environment_findings = true;
    // app-status starts the service; it exits; health finds its port closed.
    let exited = json!({"phase": "operation", "action": "service-exited", "container": "app", "service": "app"});
    let report = t
        .run_trace(&story(&[app_status(1), exited, run_action("health", 2)]))
        .unwrap();
    assert!(report.finding.is_none(), "{:?}", report.finding);
    let health = report
        .outcomes
        .iter()
        .filter_map(|o| o.agent.action.as_ref())
        .nth(1);
    let before = &health.expect("health ran").results["before"];
    assert_eq!(before, "ConnectionRefusedError");
    // The world learnt that the service ran from Pebble (the effect on app-status's
    // event), which is what made its exit a valid step.
    let running = report.trace.events().find_map(|e| {
        e.effects.iter().find_map(|x| match x {
            charmfuzz::engine::Effect::ServicesRunning { services, .. } => Some(services),
            _ => None,
        })
    });
    assert_eq!(running.map(Vec::as_slice), Some(&["app".to_string()][..]));

    // The API errs: 500 for a path that answers 200 otherwise.
    let report = t
        .run_trace(&story(&[fault("api-errors"), run_action("health", 1)]))
        .unwrap();
    let results = &report
        .outcomes
        .iter()
        .find_map(|o| o.agent.action.as_ref())
        .unwrap()
        .results;
    assert_eq!(
        results["during"],
        "500 internal server error | 500 internal server error"
    );

    // Programs fail, the API hangs (the charm's 1 s timeout ends the wait), writes fail:
    // the charm does not catch it, its own bug.
    for (faulty, action, error) in [
        ("exec-fails", "app-status", "ExecError"),
        ("api-hangs", "health", "TimeoutError"),
        ("disk-full", "write-config", "no space left on device"),
    ] {
        let report = t
            .run_trace(&story(&[fault(faulty), run_action(action, 1)]))
            .unwrap();
        let f = report
            .finding
            .unwrap_or_else(|| panic!("{faulty}: no finding"));
        assert_eq!(f.class, FindingClass::Charm, "{faulty}: {}", f.title);
        assert!(f.title.contains(error), "{faulty}: {}", f.title);
        // Without the fault, the same action passes.
        let report = t.run_trace(&story(&[run_action(action, 1)])).unwrap();
        assert!(report.finding.is_none(), "{action}: {:?}", report.finding);
    }
}

/// A fault lasts until the container restarts: a new Pebble brings a working workload.
#[test]
fn a_workload_fault_ends_when_its_container_restarts() {
    let mut t = target(VERSION);
    let mut steps = vec![fault("disk-full")];
    steps.extend(restart_app());
    steps.push(run_action("write-config", 1));
    let report = t.run_trace(&story(&steps)).unwrap();
    assert!(report.finding.is_none(), "{:?}", report.finding);
}

/// What the workload image ships is there in every fresh container: the charm's make_dir
/// in an image directory lacks nothing, and a file it reads has the image's content. Left
/// out, the directory is an image-dir lack whose fix names the setting.
#[test]
fn the_image_ships_its_directories_and_files_in_every_fresh_container() {
    let image = format!(
        "{VERSION}\n[image.app]\ndirs = ['/var/lib/app']\nfiles = {{ '/etc/app/release' = \"7\\n\" }}\n"
    );
    let mut t = target(&image);
    t.environment_findings = true;
    let mut steps = vec![run_action("image-dir", 1)];
    steps.extend(restart_app());
    steps.push(run_action("image-dir", 2));
    let report = t.run_trace(&story(&steps)).unwrap();
    assert!(report.finding.is_none(), "{:?}", report.finding);
    assert!(report.outcomes.iter().all(|o| o.lacks.is_empty()));
    let pebble = t.pebble().unwrap();
    let release = pebble.file("app", "/etc/app/release").unwrap();
    assert_eq!(release.as_deref(), Some(&b"7\n"[..]));

    let mut bare = target(VERSION);
    bare.environment_findings = true;
    let report = bare
        .run_trace(&story(&[run_action("image-dir", 1)]))
        .unwrap();
    let f = report.finding.expect("make_dir fails without its parent");
    assert_eq!(f.class, FindingClass::Environment);
    assert_eq!(f.lacks[0].kind, LackKind::ImageDir);
    let fix = f.lacks[0].fix();
    assert!(
        fix.contains(r#"[target.image.app] dirs = ["/var/lib/app"]"#),
        "{fix}"
    );
}
