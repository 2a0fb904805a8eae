//! A machine charm on its machine: snapd, systemd, apt and dpkg answered by the fake
//! host (crates/host-fake) with one state, driven by the real charm libraries
//! (`charmlibs.snap` 1.x, which is operator-libs-linux's v2 snap library, `charmlibs.apt`
//! and `charmlibs.systemd`) from the charm in tests/fixtures/charms/machine-host.
//!
//! `install` installs a snap (through snapd's API and the `snap` command), configures,
//! starts, holds and aliases it, installs a package with apt, restarts its service and
//! writes `/etc/hosts`; the `probe` action, a later hook, asserts that the machine
//! remembers all of it, then refreshes, stops and removes the snap and asserts again. The
//! same story again asserts, at its install, that nothing of the first survived. Every
//! check is an assertion in the charm, so a wrong answer is a finding (or, where the
//! harness noted a lack, an environment finding) here.

use charmfuzz::charm::Charm;
use charmfuzz::engine::Trace;
use charmfuzz::target::{LackKind, RunReport, Target, TargetConfig};
use serde_json::json;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/charms/machine-host")
}

fn target() -> Target {
    target_of(&fixture())
}

/// A target for the machine charm in `dir`, with its own charmfuzz.toml.
fn target_of(dir: &Path) -> Target {
    let charm = Charm::load(dir).unwrap();
    let config = TargetConfig::from_table(&charm.config.target).unwrap();
    let jujuc = PathBuf::from(env!("CARGO_BIN_EXE_charmfuzz"));
    Target::new(charm, config, Some(&jujuc)).unwrap()
}

/// Deploy (install runs), then the action.
fn story(action: &str) -> Trace {
    story_with_storage(action, &[])
}

/// Deploy with these storage instances attached (each `storage-attached` runs before
/// `install`), then the action.
fn story_with_storage(action: &str, storage: &[&str]) -> Trace {
    serde_json::from_value(json!({
        "format": 1, "charm": "machine-host", "substrate": "machine", "unit": "machine-host/0",
        "options": { "juju-version": "3.6.4" },
        "steps": [
            {"phase": "operation", "action": "deploy", "unit": "machine-host/0", "leader": true,
             "peers": [], "relations": [], "storage": storage},
            {"phase": "operation", "action": "run-action", "name": action, "id": 1, "params": {}},
        ]
    }))
    .unwrap()
}

fn describe(r: &RunReport) -> String {
    r.outcomes
        .iter()
        .map(|o| format!("{} {:?}\n{}\n", o.hook, o.exit, o.stderr_tail))
        .collect()
}

fn action_result(r: &RunReport) -> Option<String> {
    let o = r.outcomes.iter().find(|o| o.hook.ends_with("-action"))?;
    let a = o.agent.action.as_ref()?;
    a.results
        .get("checked")
        .and_then(|v| v.as_str())
        .map(String::from)
}

#[test]
fn the_snap_apt_and_systemd_libraries_see_one_machine_that_starts_fresh_for_every_input() {
    let mut t = target();
    if !t.sandbox().contained() {
        eprintln!("skipped: the machine's places need bubblewrap");
        return;
    }
    let hosts_before = std::fs::read("/etc/hosts").ok();
    let (_, first) = t.run_story(&story("probe")).unwrap();
    assert!(first.finding.is_none(), "{}", describe(&first));
    assert_eq!(
        action_result(&first).as_deref(),
        Some("yes"),
        "{}",
        describe(&first)
    );
    let install = &first.outcomes[0];
    assert_eq!(install.hook, "install");
    let called = |program: &str, arg: &str| {
        install
            .shim_calls
            .iter()
            .any(|c| c.program == program && c.args.iter().any(|a| a.contains(arg)))
    };
    assert!(called("snapd", "/v2/snaps"), "{:?}", install.shim_calls);
    assert!(called("snap", "install"), "{:?}", install.shim_calls);
    assert!(called("apt-get", "install"), "{:?}", install.shim_calls);

    // The same story again: its install asserts that the machine is fresh.
    let (_, second) = t.run_story(&story("probe")).unwrap();
    assert!(second.finding.is_none(), "{}", describe(&second));
    assert_eq!(action_result(&second).as_deref(), Some("yes"));
    assert!(
        second.environment.is_empty() && first.environment.is_empty(),
        "{:?} {:?}",
        first.environment,
        second.environment
    );
    assert_eq!(
        std::fs::read("/etc/hosts").ok(),
        hosts_before,
        "the charm's /etc/hosts is its machine's, not this one's"
    );
}

/// What else a machine has: the storage mounted at its location before
/// `storage-attached` (`df` gives its size, the charm writes in it), Ubuntu's
/// `/usr/bin/sudo` (as root, and as the user the snap's install made), and a snap's
/// command whose name the charm joins at run time (`f"{SNAP_NAME}.{keyword}"`).
#[test]
fn storage_is_mounted_sudo_runs_and_a_snap_command_named_at_run_time_is_there() {
    let mut t = target();
    if !t.sandbox().contained() {
        eprintln!("skipped: the machine's places need bubblewrap");
        return;
    }
    let (_, r) = t
        .run_story(&story_with_storage("tools", &["data/0"]))
        .unwrap();
    let hooks: Vec<&str> = r.outcomes.iter().map(|o| o.hook.as_str()).collect();
    assert_eq!(
        hooks[..2],
        ["data-storage-attached", "install"],
        "{hooks:?}"
    );
    assert!(r.finding.is_none(), "{}", describe(&r));
    assert_eq!(
        action_result(&r).as_deref(),
        Some("yes"),
        "{}",
        describe(&r)
    );
    assert!(r.environment.is_empty(), "{:?}", r.environment);
}

/// A file of the snap's own that the fake snap does not ship is the machine's lack, not
/// the charm's bug, and its fix names the setting that ships it; so is a daemon's socket
/// that no daemon serves.
#[test]
fn a_snap_file_the_fake_does_not_ship_is_an_environment_finding_with_its_fix() {
    let mut t = target();
    if !t.sandbox().contained() {
        eprintln!("skipped: the machine's places need bubblewrap");
        return;
    }
    t.environment_findings = true;
    let (_, report) = t.run_story(&story("read-unshipped")).unwrap();
    let f = report.finding.as_ref().expect("a finding");
    let lack = f
        .lacks
        .iter()
        .find(|l| l.kind == LackKind::SnapFile)
        .unwrap_or_else(|| panic!("{f:?}"));
    assert_eq!(lack.what, "/var/snap/demo-db/current/etc/unshipped.conf");
    assert!(
        lack.fix().contains("[target.host.snaps.demo-db] files"),
        "{}",
        lack.fix()
    );

    // Written into a directory the snap ships.
    let (_, report) = t.run_story(&story("write-unshipped")).unwrap();
    let f = report.finding.as_ref().expect("a finding");
    let lack = f.lacks.iter().find(|l| l.kind == LackKind::SnapFile);
    let lack = lack.unwrap_or_else(|| panic!("{f:?}"));
    assert_eq!(
        lack.what,
        "/var/snap/demo-db/current/etc/patroni/patroni.yaml"
    );

    // The daemon's socket stands there as a file while the server runs; nothing answers
    // it, and that is the machine's lack too.
    let (_, report) = t.run_story(&story("connect-daemon")).unwrap();
    let f = report.finding.as_ref().expect("a finding");
    let lack = f.lacks.iter().find(|l| l.kind == LackKind::Socket);
    let lack = lack.unwrap_or_else(|| panic!("{f:?}"));
    assert_eq!(lack.what, "/var/snap/demo-db/common/run/demo-db.sock");
}

/// A demo snap charm (examples/charms/demo-snap or its clean twin) on its machine.
fn demo_snap(name: &str) -> Target {
    target_of(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/charms")
            .join(name),
    )
}

/// Deploy (install, config-changed, start: the snap installed, configured and running),
/// then the store starts failing the snap's refreshes, the operator moves it to a new
/// track, update-status runs, the store recovers and update-status runs again. (Both
/// twins are the application `demo-snap`.)
fn failed_refresh_story() -> Trace {
    serde_json::from_value(json!({
        "format": 1, "charm": "demo-snap", "substrate": "machine", "unit": "demo-snap/0",
        "options": { "juju-version": "3.6.4" },
        "steps": [
            {"phase": "operation", "action": "deploy", "unit": "demo-snap/0",
             "leader": true, "peers": [], "relations": [], "storage": []},
            {"phase": "operation", "action": "snap-refresh-fails", "snap": "demo-db"},
            {"phase": "operation", "action": "config", "changes": {"channel": "2/stable"}},
            {"phase": "operation", "action": "update-status-timer"},
            {"phase": "operation", "action": "host-recovered"},
            {"phase": "operation", "action": "update-status-timer"},
        ]
    }))
    .unwrap()
}

/// The last status the charm set on its unit during `hook` (the n-th event).
fn unit_status(r: &RunReport, event: usize) -> String {
    let o = &r.outcomes[event];
    (o.agent.statuses.iter().rev())
        .find(|s| !s.by_juju)
        .map(|s| format!("{} {}", s.status, s.message))
        .unwrap_or_default()
}

/// The snap library's real code against the fake snapd, through a whole lifecycle with a
/// host fault: the clean charm installs, configures and starts the snap, blocks when the
/// refresh to a new track fails, and gets there once the store recovers; the buggy one
/// (BUG-M4) recorded the new track before the refresh and crashes on the next hook.
#[test]
fn the_demo_snap_charm_meets_a_failed_refresh_through_the_real_snap_library() {
    let mut clean = demo_snap("demo-snap-clean");
    if !clean.sandbox().contained() {
        eprintln!("skipped: the machine's places need bubblewrap");
        return;
    }
    let (_, run) = clean.run_story(&failed_refresh_story()).unwrap();
    assert!(run.finding.is_none(), "{}", describe(&run));
    let hooks: Vec<&str> = run.outcomes.iter().map(|o| o.hook.as_str()).collect();
    assert_eq!(
        hooks,
        [
            "install",
            "leader-elected",
            "config-changed",
            "start",
            "config-changed",
            "update-status",
            "update-status"
        ],
        "{}",
        describe(&run)
    );
    // Installed from 1/stable and running, through snapd's API and the snap command.
    let started = unit_status(&run, 3);
    assert!(
        started.starts_with("active 1/stable, revision "),
        "{started}"
    );
    let called = |event: usize, program: &str, arg: &str| {
        (run.outcomes[event].shim_calls.iter())
            .any(|c| c.program == program && c.args.iter().any(|a| a.contains(arg)))
    };
    assert!(
        called(0, "snap", "install"),
        "{:?}",
        run.outcomes[0].shim_calls
    );
    assert!(
        called(0, "snapd", "/v2/snaps"),
        "{:?}",
        run.outcomes[0].shim_calls
    );
    // The refresh to 2/stable fails: the unit is blocked, twice, then gets there.
    assert!(
        called(4, "snap", "refresh"),
        "{:?}",
        run.outcomes[4].shim_calls
    );
    for event in [4, 5] {
        let s = unit_status(&run, event);
        assert!(
            s.starts_with("blocked cannot refresh demo-db (2/stable)"),
            "{s}"
        );
    }
    let recovered = unit_status(&run, 6);
    assert!(
        recovered.starts_with("active 2/stable, revision "),
        "{recovered}"
    );
    let revision = |s: &str| s.rsplit(' ').next().unwrap_or("").to_string();
    assert_ne!(
        revision(&started),
        revision(&recovered),
        "a new track is a new revision"
    );

    // The buggy twin: the config-changed whose refresh failed passes, the next hook
    // raises at the planted line.
    let mut buggy = demo_snap("demo-snap");
    let (_, run) = buggy.run_story(&failed_refresh_story()).unwrap();
    let finding = run.finding.as_ref().expect("BUG-M4 is found");
    let o = &run.outcomes[finding.event];
    assert_eq!(o.hook, "update-status", "{}", describe(&run));
    let e = o.exception.as_ref().unwrap();
    assert_eq!(e.type_name, "KeyError", "{}", e.traceback);
    let frame = e.charm_frame().unwrap();
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/charms/demo-snap/src/charm.py"),
    )
    .unwrap();
    let line = source.lines().nth(frame.line as usize - 2).unwrap_or("");
    assert!(
        line.contains("# BUG-M4:"),
        "{}:{}: {line}",
        frame.file,
        frame.line
    );
}
