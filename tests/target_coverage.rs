//! The target drives real ops charms through the whole boundary: every hook kind the
//! engine can produce, every hook tool ops 3.9 calls, every Pebble endpoint `ops.pebble`
//! uses (exec included), with no finding.
//!
//! The main charm is `tests/fixtures/charms/kitchen-sink`: a Kubernetes sidecar charm that
//! observes every event ops offers and, across its handlers, calls every ops API that
//! reaches a hook tool (`docs/juju-model.md` §B2.2) or a Pebble endpoint (§B3.3-§B3.4). Its
//! companion `kitchen-sink-machine` covers what only a machine charm gets: the
//! series-upgrade and collect-metrics hooks, `juju-reboot`, `add-metric`, and charm state
//! kept by the controller (`state-get/set/delete`, `use_juju_for_storage=True`). Both are
//! written to be correct under every valid Juju ordering and raise on answers Juju or
//! Pebble would never give, so a finding here is a harness mismatch, not a charm bug.
//!
//! Random stories are played (kitchen-sink in fork mode). What each one reached is
//! computed from its outcomes (hook kinds, hook-tool calls and their argv, committed
//! relation data) and from the fake Pebble's logs (requests by method and path, execs,
//! signals, changes), and the union is compared with the lists below.
//!
//! The seeds are fixed lists that reach everything with some redundancy. When a charm,
//! the engine or its weights change, find new ones with
//! `CHARMFUZZ_COVERAGE_SEEDS=200 CHARMFUZZ_COVERAGE_MACHINE_SEEDS=20 cargo test --release
//! --test target_coverage -- --nocapture`: it plays seeds `0..N` of each charm and prints
//! a list for each (`CHARMFUZZ_COVERAGE_STEPS` changes the story length).

use charmfuzz::charm::Charm;
use charmfuzz::engine::{HookKind, decode, seed_bytes};
use charmfuzz::target::hooktools::{Change, ToolCall};
use charmfuzz::target::pebble::{ExecRecord, RequestRecord};
use charmfuzz::target::{Mode, RunReport, Target, TargetConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Seeds of each charm that together reach every feature it is for at least three times
/// (found with `CHARMFUZZ_COVERAGE_SEEDS`, see the module docs).
const SEEDS: &[u64] = &[
    1, 2, 38, 46, 49, 52, 60, 79, 93, 104, 127, 170, 192, 193, 197,
];
const MACHINE_SEEDS: &[u64] = &[4, 5, 12, 14, 17];
const STEPS: usize = 30;
/// How many of the seeds must reach each feature when a new list is computed.
const REDUNDANCY: usize = 3;

fn charm_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/charms")
        .join(name)
}

fn input(seed: u64, steps: usize) -> Vec<u8> {
    seed_bytes(seed, 64 + steps * 24)
}

/// Hook kinds the engine produces only in answer to what the charm did: it rotates,
/// expires and removes revisions of secrets the charm created, and fails and recovers
/// checks the charm's Pebble layer declared. Decoding without a charm never has them.
const CHARM_DEPENDENT: &[HookKind] = &[
    HookKind::SecretRotate,
    HookKind::SecretExpired,
    HookKind::SecretRemove,
    HookKind::PebbleCheckFailed,
    HookKind::PebbleCheckRecovered,
];

/// Machine-only hook kinds, which a Kubernetes charm never gets.
const MACHINE_ONLY: &[HookKind] = &[
    HookKind::PreSeriesUpgrade,
    HookKind::PostSeriesUpgrade,
    HookKind::CollectMetrics,
];

/// Every hook tool in §B2.2 that ops reaches from a Kubernetes charm with its default
/// (SQLite) unit state. The machine charm adds [`MACHINE_TOOLS`]. Never called: `secret-ids`
/// (ops' Model does not use it), `pod-spec-set` (legacy podspec charms), and the tools ops
/// never calls at all (`unit-get`, `leader-get`, `leader-set`).
const TOOLS: &[&str] = &[
    "juju-log",
    "is-leader",
    "config-get",
    "status-set",
    "status-get",
    "application-version-set",
    "relation-ids",
    "relation-list",
    "relation-get",
    "relation-set",
    "relation-model-get",
    "network-get",
    "opened-ports",
    "open-port",
    "close-port",
    "action-get",
    "action-set",
    "action-log",
    "action-fail",
    "storage-list",
    "storage-get",
    "storage-add",
    "goal-state",
    "secret-add",
    "secret-set",
    "secret-get",
    "secret-info-get",
    "secret-grant",
    "secret-revoke",
    "secret-remove",
    "resource-get",
    "credential-get",
];

/// What only kitchen-sink-machine calls: `Unit.reboot`, `CollectMetricsEvent.add_metrics`
/// and ops' controller storage.
const MACHINE_TOOLS: &[&str] = &[
    "juju-reboot",
    "add-metric",
    "state-get",
    "state-set",
    "state-delete",
];

fn has(c: &ToolCall, arg: &str) -> bool {
    c.args.iter().any(|a| a == arg)
}

fn has_file(c: &ToolCall) -> bool {
    c.args.iter().any(|a| a.contains("#file="))
}

type ToolForm = (&'static str, &'static str, fn(&ToolCall) -> bool);

/// The forms of a tool that ops builds for different APIs (argv as in §B2.2).
const TOOL_FORMS: &[ToolForm] = &[
    ("status-set", "--application=True", |c| {
        has(c, "--application=True")
    }),
    ("status-set", "--application=False", |c| {
        has(c, "--application=False")
    }),
    ("status-get", "--application=true", |c| {
        has(c, "--application=true")
    }),
    ("status-get", "--application=false", |c| {
        has(c, "--application=false")
    }),
    ("relation-list", "--app", |c| has(c, "--app")),
    ("relation-list", "(units)", |c| !has(c, "--app")),
    ("relation-get", "--app", |c| has(c, "--app")),
    ("relation-get", "(unit)", |c| !has(c, "--app")),
    ("relation-set", "--app", |c| has(c, "--app")),
    ("relation-set", "(unit)", |c| !has(c, "--app")),
    ("network-get", "-r", |c| has(c, "-r")),
    ("network-get", "(endpoint)", |c| !has(c, "-r")),
    ("secret-add", "--owner application", |c| {
        has(c, "application")
    }),
    ("secret-add", "--owner unit", |c| has(c, "unit")),
    ("secret-add", "--expire --rotate", |c| {
        has(c, "--expire") && has(c, "--rotate")
    }),
    ("secret-set", "KEY#file= (content)", has_file),
    ("secret-set", "--description (set_info)", |c| {
        !has_file(c) && has(c, "--description")
    }),
    ("secret-get", "--label", |c| has(c, "--label")),
    ("secret-get", "--peek", |c| has(c, "--peek")),
    ("secret-get", "--refresh", |c| has(c, "--refresh")),
    ("secret-get", "ID (tracked revision)", |c| {
        !has(c, "--label") && !has(c, "--peek") && !has(c, "--refresh")
    }),
    ("secret-info-get", "--label", |c| has(c, "--label")),
    ("secret-grant", "--relation", |c| has(c, "--relation")),
    ("secret-revoke", "--relation", |c| has(c, "--relation")),
    ("secret-remove", "--revision", |c| has(c, "--revision")),
    ("secret-remove", "(all revisions)", |c| {
        !has(c, "--revision")
    }),
    ("credential-get", "(trusted)", |c| c.code == 0),
    ("credential-get", "(not trusted)", |c| c.code != 0),
];

/// The Pebble endpoints `ops.pebble.Client` uses (§B3.3-§B3.4), as (what, method, path
/// pattern): `*` matches one path segment; a `?k=v` part must be in the query.
const PEBBLE: &[(&str, &str, &str)] = &[
    ("get_system_info / can_connect", "GET", "/v1/system-info"),
    ("get_warnings", "GET", "/v1/warnings"),
    ("ack_warnings", "POST", "/v1/warnings"),
    ("get_changes", "GET", "/v1/changes"),
    ("get_change", "GET", "/v1/changes/*"),
    ("wait_change", "GET", "/v1/changes/*/wait"),
    ("add_layer", "POST", "/v1/layers"),
    ("get_plan", "GET", "/v1/plan?format=yaml"),
    ("get_services", "GET", "/v1/services"),
    ("replan / start / stop / restart", "POST", "/v1/services"),
    ("pull", "GET", "/v1/files?action=read"),
    (
        "list_files / exists / isdir",
        "GET",
        "/v1/files?action=list",
    ),
    ("push / make_dir / remove_path", "POST", "/v1/files"),
    ("exec", "POST", "/v1/exec"),
    ("exec control", "GET", "/v1/tasks/*/websocket/control"),
    ("exec stdio", "GET", "/v1/tasks/*/websocket/stdio"),
    ("exec stderr", "GET", "/v1/tasks/*/websocket/stderr"),
    ("send_signal", "POST", "/v1/signals"),
    ("get_checks", "GET", "/v1/checks"),
    ("start_checks / stop_checks", "POST", "/v1/checks"),
    ("notify", "POST", "/v1/notices"),
    ("get_notices", "GET", "/v1/notices"),
    ("get_notice", "GET", "/v1/notices/*"),
    ("get_identities", "GET", "/v1/identities"),
    ("replace / remove_identities", "POST", "/v1/identities"),
];

fn matches(r: &RequestRecord, method: &str, pattern: &str) -> bool {
    if r.method != method {
        return false;
    }
    let (want_path, want_query) = pattern.split_once('?').unwrap_or((pattern, ""));
    let (path, query) = r.path.split_once('?').unwrap_or((&r.path, ""));
    let want: Vec<&str> = want_path.split('/').collect();
    let got: Vec<&str> = path.split('/').collect();
    want.len() == got.len()
        && want.iter().zip(&got).all(|(w, g)| *w == "*" || w == g)
        && (want_query.is_empty() || query.split('&').any(|kv| kv == want_query))
}

/// Other things the request log alone does not show.
const PEBBLE_EXTRAS: &[&str] = &[
    "push (chunked multipart)",
    "exec with output",
    "exec with stdin",
    "exec failing (ExecError)",
    "exec in a service's context",
    "signal delivered",
    "change replan",
    "change start",
    "change stop",
    "change restart",
    "change exec",
];

type ExecCheck = (&'static str, fn(&ExecRecord) -> bool);

const EXEC_CHECKS: &[ExecCheck] = &[
    ("exec with output", |e| {
        e.exit_code == Some(0) && e.command.get(1).is_some_and(|a| a == "--version")
    }),
    ("exec with stdin", |e| {
        e.stdin_closed && e.stdin == b"alpha\nbeta\n"
    }),
    ("exec failing (ExecError)", |e| e.exit_code == Some(1)),
    ("exec in a service's context", |e| {
        e.service_context.is_some()
    }),
];

/// Everything kitchen-sink should reach, as feature names.
fn wanted_k8s(possible_kinds: &BTreeSet<HookKind>) -> BTreeSet<String> {
    let mut w = BTreeSet::new();
    for k in possible_kinds {
        w.insert(format!("hook kind {}", k.as_str()));
    }
    for t in TOOLS {
        w.insert(format!("tool {t}"));
    }
    for (t, f, _) in TOOL_FORMS {
        w.insert(format!("tool {t} {f}"));
    }
    w.insert("relation-set deletes a unit-databag key".into());
    w.insert("relation-set deletes an app-databag key".into());
    for (what, _, _) in PEBBLE {
        w.insert(format!("pebble {what}"));
    }
    for what in PEBBLE_EXTRAS {
        w.insert(format!("pebble {what}"));
    }
    w
}

/// What kitchen-sink-machine is for: the machine-only hook kinds and tools.
fn wanted_machine() -> BTreeSet<String> {
    let kinds = MACHINE_ONLY
        .iter()
        .map(|k| format!("hook kind {}", k.as_str()));
    let tools = MACHINE_TOOLS.iter().map(|t| format!("tool {t}"));
    kinds.chain(tools).collect()
}

/// What one story reached.
#[derive(Default)]
struct Story {
    features: BTreeSet<String>,
    outcome_kinds: BTreeSet<HookKind>,
    trace_kinds: BTreeSet<HookKind>,
    tool_calls: BTreeMap<String, usize>,
    events: usize,
    requests: usize,
    /// Pebble's error answers, as "METHOD path (without the query) -> status".
    pebble_errors: BTreeMap<String, usize>,
    finding: Option<String>,
}

/// Play one story and collect what it reached. The fake Pebble's logs (of kitchen-sink's
/// container `app`) start empty with each story.
fn play(target: &mut Target, bytes: &[u8], steps: usize) -> Story {
    let report: RunReport = target.run_bytes(bytes, Some(steps)).unwrap();
    let mut s = Story {
        events: report.outcomes.len(),
        ..Story::default()
    };
    let f = &mut s.features;
    s.trace_kinds = report
        .trace
        .steps
        .iter()
        .flat_map(|st| st.events.iter().map(|e| e.kind))
        .collect();
    let mut bags: BTreeMap<(u32, bool), BTreeMap<String, String>> = BTreeMap::new();
    for o in &report.outcomes {
        s.outcome_kinds.insert(o.kind);
        f.insert(format!("hook kind {}", o.kind.as_str()));
        for c in &o.agent.calls {
            *s.tool_calls.entry(c.tool.clone()).or_default() += 1;
            f.insert(format!("tool {}", c.tool));
            for (tool, form, pred) in TOOL_FORMS {
                if c.tool == *tool && pred(c) {
                    f.insert(format!("tool {tool} {form}"));
                }
            }
        }
        for ch in &o.agent.committed {
            if let Change::RelationData {
                relation_id,
                app,
                data,
            } = ch
            {
                let before = bags.insert((*relation_id, *app), data.clone());
                if before.is_some_and(|b| b.keys().any(|k| !data.contains_key(k))) {
                    f.insert(
                        if *app {
                            "relation-set deletes an app-databag key"
                        } else {
                            "relation-set deletes a unit-databag key"
                        }
                        .into(),
                    );
                }
            }
        }
    }
    if let Some(finding) = &report.finding {
        let o = &report.outcomes[finding.event];
        let detail = o
            .exception
            .as_ref()
            .map(|e| e.traceback.clone())
            .unwrap_or_else(|| format!("{:?}\n{}", o.exit, o.stderr_tail));
        s.finding = Some(format!("{}\n{detail}", finding.title));
    }
    let Some(pebble) = target.pebble() else {
        return s;
    };
    let requests = pebble.request_log("app").unwrap();
    s.requests = requests.len();
    for r in requests.iter().filter(|r| r.status >= 400) {
        let path = r.path.split('?').next().unwrap_or_default();
        let path: Vec<&str> = path
            .split('/')
            .map(|seg| {
                if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() {
                    "*"
                } else {
                    seg
                }
            })
            .collect();
        *s.pebble_errors
            .entry(format!("{} {} -> {}", r.method, path.join("/"), r.status))
            .or_default() += 1;
    }
    for (what, method, pattern) in PEBBLE {
        if requests.iter().any(|r| matches(r, method, pattern)) {
            f.insert(format!("pebble {what}"));
        }
    }
    if requests
        .iter()
        .any(|r| r.method == "POST" && r.path == "/v1/files" && r.chunked)
    {
        f.insert("pebble push (chunked multipart)".into());
    }
    let execs = pebble.exec_log("app").unwrap();
    for (what, pred) in EXEC_CHECKS {
        if execs.iter().any(pred) {
            f.insert(format!("pebble {what}"));
        }
    }
    if !pebble.signal_log("app").unwrap().is_empty() {
        f.insert("pebble signal delivered".into());
    }
    // Changes of the container's last Pebble boot (a restart forgets the earlier ones).
    for ch in pebble.changes("app").unwrap() {
        f.insert(format!("pebble change {}", ch.kind));
    }
    s
}

/// A small list of seeds reaching every feature `redundancy` times (greedy set cover).
fn pick_seeds(stories: &[(u64, Story)], wanted: &BTreeSet<String>, redundancy: usize) -> Vec<u64> {
    let mut need: BTreeMap<&String, usize> = wanted.iter().map(|w| (w, redundancy)).collect();
    let mut left: Vec<&(u64, Story)> = stories
        .iter()
        .filter(|(_, s)| s.finding.is_none())
        .collect();
    let mut picked = Vec::new();
    loop {
        let gain = |s: &Story| {
            s.features
                .iter()
                .filter(|f| need.get(f).is_some_and(|n| *n > 0))
                .count()
        };
        // Most new features per event (stories cost time in proportion to their events).
        let best = left
            .iter()
            .enumerate()
            .filter(|(_, (_, s))| gain(s) > 0)
            .max_by(|(_, (_, a)), (_, (_, b))| {
                let ga = gain(a) as f64 / (a.events.max(1) as f64 + 10.0);
                let gb = gain(b) as f64 / (b.events.max(1) as f64 + 10.0);
                ga.total_cmp(&gb)
            })
            .map(|(i, _)| i);
        let Some(i) = best else { break };
        let (seed, story) = left.remove(i);
        for f in &story.features {
            if let Some(n) = need.get_mut(f) {
                *n = n.saturating_sub(1);
            }
        }
        picked.push(*seed);
    }
    picked.sort();
    picked
}

/// Play `seeds` (or, exploring, `0..n`) of one fixture charm.
struct Played {
    stories: Vec<(u64, Story)>,
    /// The hook kinds the engine offers this charm: a stats-like decode of many inputs
    /// without the charm.
    engine_kinds: BTreeSet<HookKind>,
    /// The same, from the seeds played only.
    engine_kinds_same_seeds: BTreeSet<HookKind>,
}

fn env_number(var: &str) -> Option<u64> {
    std::env::var(var).ok().and_then(|v| v.parse().ok())
}

fn play_fixture(name: &str, mode: Mode, seeds: &[u64], steps: usize) -> Played {
    let started = Instant::now();
    let dir = charm_dir(name);
    let charm = Charm::load(&dir).unwrap();
    let decode_only = |seed: u64| {
        let t = decode(
            charm.spec.clone(),
            charm.options(),
            &charm.weights,
            &charm.vocab,
            &input(seed, steps),
        );
        t.steps
            .iter()
            .flat_map(|s| s.events.iter().map(|e| e.kind))
            .collect::<BTreeSet<HookKind>>()
    };
    let engine_kinds = (0..3000).flat_map(decode_only).collect();
    let engine_kinds_same_seeds = seeds.iter().flat_map(|s| decode_only(*s)).collect();

    let mut config = TargetConfig::from_table(&charm.config.target).unwrap();
    config.mode = mode;
    let jujuc = Path::new(env!("CARGO_BIN_EXE_charmfuzz"));
    let mut target = Target::new(charm, config, Some(jujuc)).unwrap();
    // A story stops at its first finding (the default; a hook that fails every time would
    // otherwise be retried for ever once the story has no steps left).
    target.stop_at_finding = true;
    target.want_state = false;
    let stories: Vec<(u64, Story)> = seeds
        .iter()
        .map(|&seed| (seed, play(&mut target, &input(seed, steps), steps)))
        .collect();
    let elapsed = started.elapsed().as_secs_f64();
    let events: usize = stories.iter().map(|(_, s)| s.events).sum();
    let requests: usize = stories.iter().map(|(_, s)| s.requests).sum();
    eprintln!(
        "{name} ({mode:?} mode): {} stories of up to {steps} steps, {events} events, {requests} Pebble requests, {elapsed:.1} s ({:.1} ms/event)",
        seeds.len(),
        elapsed * 1000.0 / events.max(1) as f64
    );
    Played {
        stories,
        engine_kinds,
        engine_kinds_same_seeds,
    }
}

/// With `CHARMFUZZ_COVERAGE_SEEDS` set, print a seed list for the fixture.
fn suggest(name: &str, played: &Played, wanted: &BTreeSet<String>, exploring: bool) {
    if !exploring {
        return;
    }
    let picked = pick_seeds(&played.stories, wanted, REDUNDANCY);
    let cost: usize = played
        .stories
        .iter()
        .filter(|(seed, _)| picked.contains(seed))
        .map(|(_, s)| s.events)
        .sum();
    let reached: BTreeSet<&String> = played
        .stories
        .iter()
        .flat_map(|(_, s)| &s.features)
        .collect();
    let unreached: Vec<&String> = wanted.iter().filter(|w| !reached.contains(w)).collect();
    eprintln!(
        "{name}: seeds reaching what these stories reach {REDUNDANCY}x ({} stories, {cost} events): {picked:?}; never reached: {unreached:?}",
        picked.len()
    );
}

#[test]
fn kitchen_sinks_reach_every_hook_kind_tool_and_pebble_endpoint() {
    let steps = env_number("CHARMFUZZ_COVERAGE_STEPS").map_or(STEPS, |n| n as usize);
    let explore = env_number("CHARMFUZZ_COVERAGE_SEEDS");
    let explore_machine = env_number("CHARMFUZZ_COVERAGE_MACHINE_SEEDS");
    let exploring = explore.is_some() || explore_machine.is_some();
    let k8s_seeds: Vec<u64> = explore.map_or(SEEDS.to_vec(), |n| (0..n).collect());
    let machine_seeds: Vec<u64> =
        explore_machine.map_or(MACHINE_SEEDS.to_vec(), |n| (0..n).collect());

    // kitchen-sink in fork mode, the mode the fuzzer runs in.
    let k8s = play_fixture("kitchen-sink", Mode::Fork, &k8s_seeds, steps);
    // kitchen-sink-machine in exec mode: in fork mode ops' controller storage does not work
    // (it runs `state-get` by its full path, which the worker forwards to the agent as the
    // tool's name).
    let machine = play_fixture("kitchen-sink-machine", Mode::Exec, &machine_seeds, steps);

    // What the engine can offer kitchen-sink: the kinds it produces without the charm, plus
    // the kinds that only follow from what a charm does. For a Kubernetes charm that is
    // every kind but the machine-only ones.
    let possible: BTreeSet<HookKind> = k8s
        .engine_kinds
        .iter()
        .chain(CHARM_DEPENDENT)
        .copied()
        .collect();
    let k8s_kinds: BTreeSet<HookKind> = HookKind::ALL
        .into_iter()
        .filter(|k| !MACHINE_ONLY.contains(k))
        .collect();
    assert_eq!(
        possible, k8s_kinds,
        "the engine should offer every Kubernetes hook kind to kitchen-sink"
    );
    for k in MACHINE_ONLY {
        assert!(
            machine.engine_kinds.contains(k),
            "the engine should offer {} to kitchen-sink-machine",
            k.as_str()
        );
    }
    let wanted_k8s = wanted_k8s(&possible);
    let wanted_machine = wanted_machine();
    suggest("kitchen-sink", &k8s, &wanted_k8s, exploring);
    suggest("kitchen-sink-machine", &machine, &wanted_machine, exploring);

    let mut problems: Vec<String> = Vec::new();
    let all = || k8s.stories.iter().chain(&machine.stories);
    let mut tool_calls: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, s) in all() {
        for (t, n) in &s.tool_calls {
            *tool_calls.entry(t).or_default() += n;
        }
    }
    eprintln!("hook-tool calls: {tool_calls:?}");
    let mut pebble_errors: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, s) in all() {
        for (e, n) in &s.pebble_errors {
            *pebble_errors.entry(e).or_default() += n;
        }
    }
    // ops asks for paths that may not exist (exists(), isdir()) and notices a restarted
    // Pebble forgot; Pebble answers those with a 4xx, never with a 5xx.
    eprintln!("Pebble error answers: {pebble_errors:?}");
    let server_errors: Vec<&&str> = pebble_errors
        .keys()
        .filter(|e| e.contains(" -> 5"))
        .collect();
    if !server_errors.is_empty() {
        problems.push(format!("Pebble server errors: {server_errors:?}"));
    }

    // (d) No findings: the charms are correct, so any failed hook is the harness's.
    let findings: Vec<String> = all()
        .filter_map(|(seed, s)| s.finding.as_ref().map(|f| format!("seed {seed}: {f}")))
        .collect();
    if !findings.is_empty() {
        problems.push(format!(
            "{} stories with a finding; the first:\n{}",
            findings.len(),
            findings[0]
        ));
    }

    // (a) Every hook kind: each kind the engine offers kitchen-sink reached there (and
    // with an outcome for each kind in the traces); with the machine charm, all of them.
    let outcome_kinds = |p: &Played| -> BTreeSet<HookKind> {
        p.stories
            .iter()
            .flat_map(|(_, s)| s.outcome_kinds.iter().copied())
            .collect()
    };
    let trace_kinds = |p: &Played| -> BTreeSet<HookKind> {
        p.stories
            .iter()
            .flat_map(|(_, s)| s.trace_kinds.iter().copied())
            .collect()
    };
    for (name, p) in [("kitchen-sink", &k8s), ("kitchen-sink-machine", &machine)] {
        let (outcomes, traces) = (outcome_kinds(p), trace_kinds(p));
        if outcomes != traces {
            problems.push(format!(
                "{name}: the traces have hook kinds {traces:?}, the outcomes {outcomes:?}"
            ));
        }
    }
    let k8s_outcomes = outcome_kinds(&k8s);
    let lost: Vec<&str> = k8s
        .engine_kinds_same_seeds
        .difference(&k8s_outcomes)
        .map(|k| k.as_str())
        .collect();
    if !lost.is_empty() {
        problems.push(format!(
            "decoded without kitchen-sink its seeds reach {lost:?}; with the charm they do not"
        ));
    }
    let every_kind: BTreeSet<HookKind> = k8s_outcomes
        .union(&outcome_kinds(&machine))
        .copied()
        .collect();
    let never_run: Vec<&str> = HookKind::ALL
        .iter()
        .filter(|k| !every_kind.contains(k))
        .map(|k| k.as_str())
        .collect();
    eprintln!("hook kinds never run: {never_run:?}");
    if !never_run.is_empty() {
        problems.push(format!("hook kinds never run: {never_run:?}"));
    }

    // (b) Exactly the hook tools of §B2.2 that ops reaches (and each form of them).
    let called: BTreeSet<&str> = tool_calls.keys().copied().collect();
    let expected: BTreeSet<&str> = TOOLS.iter().chain(MACHINE_TOOLS).copied().collect();
    let never_called: Vec<&&str> = expected.difference(&called).collect();
    let unexpected: Vec<&&str> = called.difference(&expected).collect();
    eprintln!("hook tools never called: {never_called:?}");
    if called != expected {
        problems.push(format!(
            "hook tools never called: {never_called:?}; called but not expected: {unexpected:?}"
        ));
    }

    // (a), (b), (c) feature by feature: hook kinds, tools and their forms, relation-data
    // deletes, Pebble endpoints, execs, signals and changes.
    for (name, p, wanted) in [
        ("kitchen-sink", &k8s, &wanted_k8s),
        ("kitchen-sink-machine", &machine, &wanted_machine),
    ] {
        let reached: BTreeSet<&String> = p.stories.iter().flat_map(|(_, s)| &s.features).collect();
        let missing: Vec<&String> = wanted.iter().filter(|w| !reached.contains(w)).collect();
        eprintln!("{name}: never reached: {missing:?}");
        if !missing.is_empty() {
            problems.push(format!("{name}: never reached: {missing:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "coverage of the boundary:\n- {}",
        problems.join("\n- ")
    );
}
