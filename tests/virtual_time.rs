//! Virtual time: a charm's waits take no time, and its clocks still see them.
//!
//! The fixture `waits` sleeps in its actions and polls its (absent) workload with
//! `time.sleep(3)` between tries in pebble-ready. Under virtual time those hooks end at once
//! while `time.time`, `time.monotonic` and `datetime.now` read the waits they asked for; the
//! clock starts at the same instant for every input, carries from hook to hook, moves for
//! Juju's timers, and is the one the unit agent's hook tools read.

use charmfuzz::charm::Charm;
use charmfuzz::engine::Trace;
use charmfuzz::target::{Exit, RunReport, Target, TargetConfig};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/charms/waits")
}

/// The fixture's target, with `[target]` settings on top of its own.
fn target(settings: &str) -> Target {
    let dir = fixture();
    let charm = Charm::load(&dir).unwrap();
    let mut table = charm.config.target.clone();
    table.extend(toml::from_str::<toml::Table>(settings).unwrap());
    let config = TargetConfig::from_table(&table).unwrap();
    let jujuc = PathBuf::from(env!("CARGO_BIN_EXE_charmfuzz"));
    Target::new(charm, config, Some(&jujuc)).unwrap()
}

/// Deploy, then the given operations.
fn story(steps: &[Value]) -> Trace {
    let mut all = vec![json!({
        "phase": "operation", "action": "deploy", "unit": "waits/0", "leader": true,
        "peers": [], "relations": [], "storage": []
    })];
    all.extend(steps.iter().cloned());
    serde_json::from_value(json!({
        "format": 1, "charm": "waits", "substrate": "kubernetes", "unit": "waits/0",
        "options": { "juju-version": "3.6.4" }, "steps": all
    }))
    .unwrap()
}

/// Run `steps` after deploy, on the fixture with these `[target]` settings.
fn run(settings: &str, steps: &[Value]) -> RunReport {
    target(settings).run_trace(&story(steps)).unwrap()
}

fn action(id: u32, name: &str, params: Value) -> Value {
    json!({"phase": "operation", "action": "run-action", "name": name, "id": id, "params": params})
}

/// The results of every action the story ran, in order.
fn results(r: &RunReport) -> Vec<serde_json::Map<String, Value>> {
    assert!(r.finding.is_none(), "{:?}", r.finding);
    r.outcomes
        .iter()
        .filter_map(|o| o.agent.action.as_ref())
        .map(|a| {
            assert_eq!(a.status, "completed", "{a:?}");
            a.results.clone()
        })
        .collect()
}

fn float(m: &serde_json::Map<String, Value>, k: &str) -> f64 {
    m[k].as_str().unwrap().parse().unwrap()
}

/// Seconds since the epoch of an ISO time with an offset, as Python's `isoformat` gives.
fn epoch(iso: &str) -> f64 {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", iso, "+%s.%N"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

const EPOCH: f64 = 1_735_689_600.0; // 2025-01-01T00:00:00Z

#[test]
fn a_long_sleep_returns_at_once_and_every_clock_sees_it() {
    // Five minutes of sleep in a hook that may run five seconds.
    let r = run(
        "timeout = 5.0",
        &[action(1, "nap", json!({"seconds": 300}))],
    );
    let nap = &results(&r)[0];
    let outcome = r.outcomes.last().unwrap();
    assert!(outcome.seconds < 5.0, "{}", outcome.seconds);
    for clock in ["wall", "monotonic"] {
        let waited = float(nap, clock);
        assert!((300.0..300.5).contains(&waited), "{clock}: {waited}");
    }
    let (before, after) = (
        epoch(nap["before"].as_str().unwrap()),
        epoch(nap["after"].as_str().unwrap()),
    );
    assert!(
        (300.0..300.5).contains(&(after - before)),
        "{before} {after}"
    );
    // Every input starts at the same instant: 2025-01-01, a second per hook before it.
    assert!((EPOCH..EPOCH + 60.0).contains(&before), "{before}");
    assert_eq!(nap["today"], "2025-01-01");
}

#[test]
fn the_same_story_reads_the_same_times_on_every_run() {
    let mut t = target("");
    let s = story(&[action(1, "nap", json!({"seconds": 300}))]);
    let first = results(&t.run_trace(&s).unwrap());
    let second = results(&t.run_trace(&s).unwrap());
    assert_eq!(first, second);
}

#[test]
fn the_clock_carries_from_hook_to_hook_and_moves_for_update_status() {
    let mut t = target("");
    let r = t
        .run_trace(&story(&[
            action(1, "nap", json!({"seconds": 300})),
            json!({"phase": "operation", "action": "update-status-timer"}),
            action(2, "nap", json!({"seconds": 300})),
        ]))
        .unwrap();
    let naps = results(&r);
    let first_after = epoch(naps[0]["after"].as_str().unwrap());
    let second_before = epoch(naps[1]["before"].as_str().unwrap());
    // The first nap (from a few seconds in) passed the update-status timer's first firing
    // (five minutes in), so it fired as soon as the nap ended: two agent turnarounds later.
    assert!(
        (first_after + 2.0..first_after + 3.0).contains(&second_before),
        "{first_after} {second_before}"
    );

    // The next input on the same target starts again at the epoch.
    let r = t
        .run_trace(&story(&[
            json!({"phase": "operation", "action": "update-status-timer"}),
            action(1, "nap", json!({"seconds": 300})),
        ]))
        .unwrap();
    let before = epoch(results(&r)[0]["before"].as_str().unwrap());
    assert!(
        (EPOCH + 300.0..EPOCH + 330.0).contains(&before),
        "{}",
        before - EPOCH
    );
}

#[test]
fn a_loop_that_spins_on_the_clock_reaches_its_deadline() {
    // No sleep: each read of the clock moves it a millisecond.
    let r = run("timeout = 5.0", &[action(1, "spin", json!({"seconds": 2}))]);
    let reads = float(&results(&r)[0], "reads");
    assert!((1990.0..=2000.0).contains(&reads), "{reads}");
}

#[test]
fn retries_against_an_absent_workload_finish_in_a_hook_shorter_than_their_waits() {
    // pebble-ready sleeps 3 s after each of 5 failed tries: 15 s of waiting, in a hook that
    // may run 5.
    let r = run(
        "timeout = 5.0",
        &[json!({"phase": "operation", "action": "workload-started", "container": "app"})],
    );
    assert!(r.finding.is_none(), "{:?}", r.finding);
    let ready = r.outcomes.last().unwrap();
    assert_eq!(ready.hook, "app-pebble-ready");
    assert_eq!(ready.exit, Exit::Code(0));
    let status = ready.agent.statuses.last().unwrap();
    assert_eq!(status.message, "workload API not up after 5 tries");
}

#[test]
fn the_hook_tools_read_the_charms_clock() {
    // ops turns `expire=timedelta(hours=1)` into a time with datetime.now(); the agent
    // reports the expiry back: both sides agree on what "now" is.
    let r = run("", &[action(1, "expiring-secret", json!({}))]);
    let res = &results(&r)[0];
    let now = epoch(res["now"].as_str().unwrap());
    let expires = epoch(res["expires"].as_str().unwrap());
    assert!(
        (3600.0..3600.5).contains(&(expires - now)),
        "{now} {expires}"
    );
    assert!((EPOCH..EPOCH + 60.0).contains(&now), "{now}");
}

#[test]
fn with_virtual_time_off_a_long_sleep_is_a_hang() {
    let r = run(
        "timeout = 2.0\nvirtual-time = false",
        &[action(1, "nap", json!({"seconds": 300}))],
    );
    assert_eq!(r.outcomes.last().unwrap().exit, Exit::Timeout);
    assert!(r.finding.is_some());
}
