//! The generator and the validator check each other: many thousands of random byte strings
//! decode to traces that the (separately written) validator accepts, for a rich Kubernetes
//! spec, a machine spec and a minimal spec, under every §L8 switch and several Juju versions.

mod common;
use charmfuzz::charm::Charm;
use charmfuzz::engine::*;
use charmfuzz::spec::CharmSpec;
use std::path::Path;
use std::sync::Arc;

/// Checks every seed's trace, and says which action kinds they held.
fn check(
    spec: &Arc<CharmSpec>,
    opts: EngineOptions,
    seeds: std::ops::Range<u64>,
) -> std::collections::BTreeSet<ActionKind> {
    let mut kinds = std::collections::BTreeSet::new();
    let v = common::vocab(spec);
    let w = Weights::default();
    for seed in seeds {
        let bytes = common::bytes(seed, 16 + (seed as usize * 37) % 900);
        // With a stand-in charm that creates secrets and sometimes fails a hook, so owner
        // secret hooks, retries and `juju resolved` are exercised too.
        let mut d = Decoder::from_bytes(spec.clone(), opts.clone(), &w, &v, &bytes);
        let mut n = 0u64;
        while let Some(e) = d.next_event().unwrap() {
            n += 1;
            let effects = common::stand_in_effects(&e);
            // Fail roughly one hook in 23, deterministically.
            let result = if (seed + n) % 23 == 0 && e.kind != HookKind::Action {
                HookResult::Error
            } else {
                HookResult::Ok
            };
            let effects = if result == HookResult::Ok {
                effects
            } else {
                vec![]
            };
            d.complete(result, effects).unwrap();
        }
        let trace = d.into_trace();
        kinds.extend(trace.steps.iter().map(|s| s.action.kind()));
        if let Err(v) = validate(&trace, spec) {
            panic!(
                "seed {seed}: the engine produced an invalid trace:\n{}\n{}",
                v.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
                charmfuzz::story::story(&trace)
            );
        }
    }
    kinds
}

#[test]
fn random_traces_are_valid_kubernetes() {
    let kinds = check(&common::k8s_rich(), common::opts(), 0..4000);
    // The workload's faults were among them (the stand-in charm starts a service on
    // each pebble-ready, which can then exit).
    assert!(kinds.contains(&ActionKind::ServiceExited), "{kinds:?}");
    assert!(kinds.contains(&ActionKind::WorkloadFault), "{kinds:?}");
}

#[test]
fn random_traces_are_valid_machine() {
    check(&common::machine(), common::opts(), 0..4000);
}

#[test]
fn random_traces_are_valid_minimal() {
    check(&common::minimal(), common::opts(), 0..2000);
}

#[test]
fn random_traces_are_valid_with_every_switch() {
    let mut o = common::opts();
    o.teardown_relations_before_storage = true;
    o.k8s_storage_after_start = true;
    o.lsc_before_start_after_churn = true;
    o.lsc_on_leadership_loss = true;
    o.secret_changed_for_owner_app_peers = true;
    o.broken_without_created = true;
    o.teardown_at_end = true;
    o.forced_removal = true;
    check(&common::k8s_rich(), o.clone(), 0..1500);
    check(&common::machine(), o, 0..1500);
}

#[test]
fn random_traces_are_valid_on_older_juju() {
    for v in ["3.1", "3.3.5", "3.4", "3.5.2"] {
        let mut o = common::opts();
        o.juju_version = v.parse().unwrap();
        check(&common::k8s_rich(), o, 0..500);
    }
}

#[test]
fn random_traces_are_valid_for_the_fixture_and_demo_charms() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in [
        "tests/fixtures/charms/k8s-rich",
        "tests/fixtures/charms/machine",
        "tests/fixtures/charms/minimal",
        "examples/charms/demo-k8s",
        "examples/charms/demo-machine",
    ] {
        let charm = Charm::load(&root.join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        for seed in 0..500 {
            let t = decode(
                charm.spec.clone(),
                charm.options(),
                &charm.weights,
                &charm.vocab,
                &common::bytes(seed, 400),
            );
            if let Err(v) = validate(&t, &charm.spec) {
                panic!("{dir} seed {seed}: {}", v[0]);
            }
        }
    }
}
