//! Decoding bytes into traces: determinism, encode/decode round trips, weights, and that
//! random inputs reach every action and hook kind the spec makes possible.

mod common;
use charmfuzz::engine::*;
use charmfuzz::spec::CharmSpec;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::sync::Arc;

fn specs() -> Vec<Arc<CharmSpec>> {
    vec![common::k8s_rich(), common::machine(), common::minimal()]
}

/// Decode with the stand-in charm of `common::stand_in_effects`.
fn decode_with_effects(spec: &Arc<CharmSpec>, opts: EngineOptions, bytes: &[u8]) -> Trace {
    let v = common::vocab(spec);
    let w = Weights::default();
    let mut d = Decoder::from_bytes(spec.clone(), opts, &w, &v, bytes);
    while let Some(e) = d.next_event().unwrap() {
        let effects = common::stand_in_effects(&e);
        d.complete(HookResult::Ok, effects).unwrap();
    }
    d.into_trace()
}

#[test]
fn decoding_is_deterministic() {
    for spec in specs() {
        let v = common::vocab(&spec);
        for seed in 0..50 {
            let b = common::bytes(seed, 300);
            let a = decode(spec.clone(), common::opts(), &Weights::default(), &v, &b);
            let c = decode(spec.clone(), common::opts(), &Weights::default(), &v, &b);
            assert_eq!(a, c);
        }
    }
}

#[test]
fn empty_and_tiny_inputs_decode() {
    for spec in specs() {
        let v = common::vocab(&spec);
        let t = decode(spec.clone(), common::opts(), &Weights::default(), &v, &[]);
        assert!(t.steps.is_empty(), "no bytes, no story");
        assert!(validate(&t, &spec).is_ok(), "the empty story is valid");
        assert!(
            encode(&t, spec.clone(), &Weights::default(), &v)
                .unwrap()
                .is_empty()
        );
        for b in [&[0u8][..], &[255], &[7, 7], &[1, 2, 3, 4]] {
            let t = decode(spec.clone(), common::opts(), &Weights::default(), &v, b);
            assert!(t.steps.len() <= 4);
        }
    }
}

#[test]
fn encode_decode_round_trip() {
    for spec in specs() {
        let v = common::vocab(&spec);
        let w = Weights::default();
        for seed in 0..1500 {
            let b = common::bytes(seed, 40 + (seed as usize % 400));
            let t = decode(spec.clone(), common::opts(), &w, &v, &b);
            let bytes =
                encode(&t, spec.clone(), &w, &v).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let again = decode(spec.clone(), common::opts(), &w, &v, &bytes);
            assert_eq!(t, again, "seed {seed}: round trip changed the trace");
            // And through JSON, as hand-edited stories travel.
            let parsed = Trace::from_json(&t.to_json()).unwrap();
            assert_eq!(parsed, t);
        }
    }
}

#[test]
fn round_trip_with_charm_effects_and_failures() {
    // A trace carrying effects and a failed hook replays to the same trace through a
    // decoder fed the same outcomes.
    let spec = common::k8s_rich();
    let v = common::vocab(&spec);
    let w = Weights::default();
    for seed in 0..300 {
        let t = decode_with_effects(&spec, common::opts(), &common::bytes(seed, 300));
        let bytes = encode(&t, spec.clone(), &w, &v).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let mut d = Decoder::from_bytes(spec.clone(), common::opts(), &w, &v, &bytes);
        let mut recorded = t.events();
        while d.next_event().unwrap().is_some() {
            let r = recorded.next().expect("same number of events");
            d.complete(r.result, r.effects.clone()).unwrap();
        }
        assert_eq!(d.into_trace(), t, "seed {seed}");
    }
}

#[test]
fn hand_written_story_encodes() {
    let spec = common::machine();
    let v = common::vocab(&spec);
    let w = Weights::default();
    let json = serde_json::json!({
        "format": 1, "charm": "mach", "substrate": "machine", "unit": "mach/0",
        "options": {},
        "steps": [
            {"phase": "setup", "action": "deploy", "unit": "mach/0", "leader": true, "peers": [],
             "relations": [{"id": 0, "endpoint": "cluster", "remote_app": "mach", "remote_units": []}],
             "storage": ["cache/0"]},
            {"phase": "setup", "action": "config", "changes": {"port": 8080}},
        ]
    });
    let mut t: Trace = serde_json::from_value(json).unwrap();
    // Fill in the events the engine would give, then encode and decode.
    let bytes_free = {
        let mut world = world::World::new(spec.clone(), t.options.clone());
        for step in &mut t.steps {
            world.apply(&step.action).unwrap();
            while let Some(h) = world.candidates().into_iter().next() {
                step.events.push(world.deliver(&h).unwrap());
                world.complete(HookResult::Ok, &[]).unwrap();
            }
        }
        t
    };
    let bytes = encode(&bytes_free, spec.clone(), &w, &v).unwrap();
    // One byte per decision: 2 steps, 7 hooks, 5 deploy arguments, 3 config arguments.
    assert!(
        bytes.len() <= 24,
        "a short story is a short input: {} bytes",
        bytes.len()
    );
    let again = decode(spec.clone(), common::opts(), &w, &v, &bytes);
    assert_eq!(again.steps.len(), 2);
    let hooks: Vec<&str> = again.events().map(|e| e.hook.as_str()).collect();
    assert_eq!(
        hooks,
        [
            "cache-storage-attached",
            "install",
            "cluster-relation-created",
            "leader-elected",
            "config-changed",
            "start",
            "config-changed"
        ]
    );
}

#[test]
fn encoding_rejects_what_the_engine_cannot_do() {
    let spec = common::machine();
    let v = common::vocab(&spec);
    let w = Weights::default();
    let mut t = decode(spec.clone(), common::opts(), &w, &v, &common::bytes(3, 200));
    // An event the engine would not deliver there.
    let i = t.steps.iter().position(|s| !s.events.is_empty()).unwrap();
    let last = t.steps[i].events.last().unwrap().clone();
    t.steps[i].events.insert(0, last);
    let err = encode(&t, spec, &w, &v).unwrap_err();
    assert!(err.to_string().contains("step"), "{err}");
}

#[test]
fn weights_steer_and_zero_disables() {
    let spec = common::k8s_rich();
    let v = common::vocab(&spec);
    let w = Weights::with_overrides([
        (&ActionKind::Config, &0u32),
        (&ActionKind::RunAction, &200u32),
    ]);
    let mut runs = 0;
    for seed in 0..300 {
        let t = decode(
            spec.clone(),
            common::opts(),
            &w,
            &v,
            &common::bytes(seed, 200),
        );
        for s in &t.steps {
            assert_ne!(s.action.kind(), ActionKind::Config);
            runs += usize::from(s.action.kind() == ActionKind::RunAction);
        }
    }
    assert!(runs > 300, "a heavy weight should dominate: {runs}");
}

/// The action and hook kinds that appear over many random inputs.
fn kinds_seen(
    spec: &Arc<CharmSpec>,
    opts: EngineOptions,
    n: u64,
) -> (BTreeSet<ActionKind>, BTreeSet<HookKind>) {
    let mut a = BTreeSet::new();
    let mut h = BTreeSet::new();
    for seed in 0..n {
        let t = decode_with_effects(
            spec,
            opts.clone(),
            &common::bytes(seed, 64 + (seed as usize % 700)),
        );
        for s in &t.steps {
            a.insert(s.action.kind());
            for e in &s.events {
                h.insert(e.kind);
            }
        }
    }
    (a, h)
}

#[test]
fn every_possible_kind_appears_kubernetes() {
    let (a, h) = kinds_seen(&common::k8s_rich(), common::opts(), 3000);
    let machine_only = [
        ActionKind::MachineRebooted,
        ActionKind::SeriesUpgradePrepare,
        ActionKind::SeriesUpgradeComplete,
        ActionKind::CollectMetricsTimer,
        ActionKind::SnapRefreshFails,
        ActionKind::SnapRefreshHeld,
        ActionKind::InstallFails,
        ActionKind::HostServiceFailed,
        ActionKind::HostDiskFull,
        ActionKind::HostRecovered,
    ];
    for k in ActionKind::ALL {
        if k == ActionKind::Resolved || k == ActionKind::ForceRemoveUnit {
            continue; // needs a failing charm / the forced-removal switch; see recipes
        }
        assert_eq!(a.contains(&k), !machine_only.contains(&k), "action {k}");
    }
    let machine_hooks = [
        HookKind::PreSeriesUpgrade,
        HookKind::PostSeriesUpgrade,
        HookKind::CollectMetrics,
    ];
    for k in HookKind::ALL {
        assert_eq!(h.contains(&k), !machine_hooks.contains(&k), "hook {k}");
    }
}

#[test]
fn every_possible_kind_appears_machine() {
    let (a, h) = kinds_seen(&common::machine(), common::opts(), 3000);
    let impossible = [
        ActionKind::WorkloadStarted,
        ActionKind::WorkloadStopped,
        ActionKind::CustomNotice,
        ActionKind::CheckFailed,
        ActionKind::CheckRecovered,
        ActionKind::PodRecreated,
        ActionKind::CharmContainerRestarted,
        ActionKind::ServiceExited,
        ActionKind::WorkloadFault,
        ActionKind::Resolved,
    ];
    for k in ActionKind::ALL {
        if k == ActionKind::Resolved || k == ActionKind::ForceRemoveUnit {
            continue;
        }
        assert_eq!(a.contains(&k), !impossible.contains(&k), "action {k}");
    }
    for k in HookKind::ALL {
        assert_eq!(h.contains(&k), !k.is_workload(), "hook {k}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn any_bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..600), which in 0usize..3) {
        let spec = specs()[which].clone();
        let v = common::vocab(&spec);
        let w = Weights::default();
        let t = decode(spec.clone(), common::opts(), &w, &v, &bytes);
        let enc = encode(&t, spec.clone(), &w, &v).unwrap();
        prop_assert_eq!(decode(spec, common::opts(), &w, &v, &enc), t);
    }
}

#[test]
fn the_charms_fuzzing_config_steers_decoding() {
    // tests/fixtures/charms/k8s-rich/pyproject.toml: run-action weight 0, Juju 3.4 (no
    // check events), teardown at the end, notice keys and config samples.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let charm =
        charmfuzz::charm::Charm::load(&root.join("tests/fixtures/charms/k8s-rich")).unwrap();
    assert_eq!(charm.options().juju_version.to_string(), "3.4.0");
    let (mut notices, mut samples) = (0, 0);
    for seed in 0..400 {
        let t = decode(
            charm.spec.clone(),
            charm.options(),
            &charm.weights,
            &charm.vocab,
            &common::bytes(seed, 500),
        );
        for s in &t.steps {
            assert_ne!(s.action.kind(), ActionKind::RunAction);
            match &s.action {
                Action::CustomNotice { key, .. } => {
                    notices += usize::from(key == "example.com/reload");
                }
                Action::Config { changes } => {
                    samples +=
                        usize::from(changes.get("log-level") == Some(&serde_json::json!("bogus")));
                }
                _ => {}
            }
            for e in &s.events {
                assert!(!matches!(
                    e.kind,
                    HookKind::PebbleCheckFailed | HookKind::PebbleCheckRecovered
                ));
            }
        }
        // teardown-at-end: every story ends with the unit removed (`remove` is the last
        // hook, unless it never installed: then it gets no hooks at all).
        if !t.steps.is_empty() {
            assert!(
                t.steps.iter().any(|s| s.action.kind().is_removal()),
                "seed {seed}"
            );
            let last = t.events().last().map(|e| e.kind);
            assert!(
                matches!(last, Some(HookKind::Remove) | None),
                "seed {seed}: {last:?}"
            );
        }
    }

    assert!(
        notices > 0 && samples > 0,
        "notices {notices}, config samples {samples}"
    );
}

/// An input is one story wherever it is read. `charmfuzz random --steps N` decodes its
/// bytes with a limit of N actions and keeps them cut by `Charm::fit`: decoded with no
/// limit (as `replay`, `minimize`, `repro` and `triage` do), the cut bytes tell the same
/// story, for machine and Kubernetes charms alike. Uncut, many would tell another one.
#[test]
fn a_story_cut_to_its_steps_is_the_same_story_with_no_limit() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["examples/charms/demo-k8s", "examples/charms/demo-machine"] {
        let charm = charmfuzz::charm::Charm::load(&root.join(dir))
            .unwrap()
            .for_target();
        let mut told_another = 0;
        for seed in 0..200 {
            let steps = 1 + (seed as usize % 16);
            let bytes = charmfuzz::fuzzing::random_story(seed, steps);
            let limited = charm.decoder(&bytes, Some(steps)).run_to_end();
            let cut = charm.fit(&bytes, Some(&limited), steps);
            let again = charm.decoder(&cut, None).run_to_end();
            assert_eq!(
                limited.to_json(),
                again.to_json(),
                "{dir}, seed {seed}, {steps} steps: the cut bytes tell another story"
            );
            let uncut = charm.decoder(&bytes, None).run_to_end();
            told_another += usize::from(uncut.to_json() != limited.to_json());
        }
        assert!(
            told_another > 50,
            "{dir}: only {told_another} of 200 differ uncut"
        );
    }
}

/// Decode `bytes` to the end with the stand-in charm, from the start or from `state`,
/// saving the decoder's state at every event boundary where it can be saved.
fn decode_saving(
    spec: &Arc<CharmSpec>,
    bytes: &[u8],
    state: Option<DecoderState>,
) -> (Trace, Vec<DecoderState>) {
    let v = common::vocab(spec);
    let w = Weights::default();
    let mut d = match state {
        Some(s) => Decoder::resume(s, &w, &v, bytes),
        None => Decoder::from_bytes(spec.clone(), common::opts(), &w, &v, bytes),
    };
    let mut saved = Vec::new();
    loop {
        saved.extend(d.save());
        let Some(e) = d.next_event().unwrap() else {
            break;
        };
        let effects = common::stand_in_effects(&e);
        d.complete(HookResult::Ok, effects).unwrap();
    }
    (d.into_trace(), saved)
}

/// A decoder saved between two events and resumed with any input that begins with the
/// bytes it had read tells the same story as decoding that input from the start: what a
/// prefix snapshot of the fuzzer relies on.
#[test]
fn a_saved_decoder_resumes_as_if_it_had_decoded_from_the_start() {
    for spec in specs() {
        for seed in 0..25 {
            let bytes = common::bytes(seed, 160);
            let (whole, saved) = decode_saving(&spec, &bytes, None);
            assert!(!saved.is_empty(), "seed {seed}: nothing saved");
            for s in &saved {
                assert!(s.position() < bytes.len());
                let (resumed, _) = decode_saving(&spec, &bytes, Some(s.clone()));
                assert_eq!(resumed, whole, "seed {seed}, resumed at {}", s.position());
                // Another input with the same first bytes: a mutation of the rest.
                let mut other = bytes[..s.position()].to_vec();
                other.extend(common::bytes(seed + 1000, 40 + seed as usize));
                let (fresh, _) = decode_saving(&spec, &other, None);
                let (resumed, _) = decode_saving(&spec, &other, Some(s.clone()));
                assert_eq!(
                    resumed,
                    fresh,
                    "seed {seed}, other input at {}",
                    s.position()
                );
            }
        }
    }
}
