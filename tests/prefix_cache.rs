//! Prefix snapshots (`src/target/runner/prefix.rs`): an input resumed from the snapshot of
//! its longest known prefix is the input played in full. For many random inputs and
//! mutations of them (a new ending, more steps, fewer steps, one byte changed), a target
//! with the cache on and one without play each; their traces, outcomes and coverage
//! bitmaps (with each slot's first step) must be the same, and the cache must have
//! skipped events, or it proved nothing.
//!
//! The charms: the clean Kubernetes demo (Pebble, its containers' files, the unit-state
//! database) and the clean snap demo (the fake machine: snaps, services, `/etc` and the
//! snap directories in the sandbox's layers).

use charmfuzz::charm::Charm;
use charmfuzz::engine::seed_bytes;
use charmfuzz::target::coverage::{CODE_SLOTS, CoverageMap};
use charmfuzz::target::{RunReport, Target, TargetConfig};
use std::path::{Path, PathBuf};

fn target(charm: &str, cache: usize) -> Target {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/charms")
        .join(charm);
    let charm = Charm::load(&dir).unwrap().for_target();
    let config = TargetConfig::from_table(&charm.config.target).unwrap();
    let jujuc = PathBuf::from(env!("CARGO_BIN_EXE_charmfuzz"));
    let mut t = Target::new(charm, config, Some(&jujuc)).unwrap();
    t.want_state = true;
    let mut map = CoverageMap::new(CODE_SLOTS).unwrap();
    map.track_steps();
    t.enable_coverage(map, false).unwrap();
    t.set_prefix_cache(cache);
    t
}

/// What a run did, as text to compare: the trace, every outcome (without its duration,
/// and with the target's own sandbox path made neutral), the coverage bitmap and first
/// steps.
fn played(t: &Target, r: &RunReport) -> (String, String, bool) {
    let root = t.sandbox().root().display().to_string();
    let mut outcomes = serde_json::to_value(&r.outcomes).unwrap();
    for o in outcomes.as_array_mut().unwrap() {
        o["seconds"] = 0.into();
    }
    let outcomes = without_temp_names(&outcomes.to_string().replace(&root, "<sandbox>"));
    let trace = serde_json::to_string(&r.trace).unwrap();
    (trace, outcomes, r.finding.is_some())
}

/// `text` with the random part of Python's temporary names (`/tmp/tmpk3j_x9q1`, where ops
/// puts a secret's content for `secret-add`) masked: it differs from run to run, cache or
/// not.
fn without_temp_names(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("/tmp/tmp") {
        let (head, tail) = rest.split_at(i + "/tmp/tmp".len());
        out.push_str(head);
        let name = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.push_str("XXXXXXXX");
        rest = &tail[name..];
    }
    out.push_str(rest);
    out
}

/// The input `base` changed as a fuzzer's mutator would.
fn mutations(base: &[u8], seed: u64) -> Vec<Vec<u8>> {
    let noise = seed_bytes(seed ^ 0x5eed, 96);
    let cut = |k: usize| base.len() * k / 8;
    let mut out = Vec::new();
    // Told further: more bytes at the end.
    out.push([base, &noise[..48]].concat());
    // Another ending after a third, a half and most of the story.
    for k in [3, 4, 6] {
        out.push([&base[..cut(k)], &noise[k..k + 40]].concat());
    }
    // Ended early.
    out.push(base[..cut(5)].to_vec());
    // One choice changed near the end.
    let mut one = base.to_vec();
    let i = cut(7);
    one[i] = one[i].wrapping_add(noise[0] | 1);
    out.push(one);
    out
}

/// Stories to start from: the charm's seed corpus (`corpus/<dir>`), each told further
/// with random bytes, and random inputs.
fn bases(corpus: &str, random: std::ops::Range<u64>) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(corpus);
    let mut seeds: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    seeds.sort();
    let mut out: Vec<Vec<u8>> = seeds
        .iter()
        .enumerate()
        .map(|(i, p)| [std::fs::read(p).unwrap(), seed_bytes(7 + i as u64, 120)].concat())
        .collect();
    out.extend(random.map(|seed| seed_bytes(seed, 200)));
    out
}

fn check(charm: &str, bases: Vec<Vec<u8>>) {
    let mut cached = target(charm, 64);
    let mut plain = target(charm, 0);
    if !cached.sandbox().contained() {
        eprintln!("skipped: the charm's places need bubblewrap");
        return;
    }
    let mut events = 0;
    for (seed, base) in bases.iter().enumerate() {
        let seed = seed as u64;
        let mut inputs = vec![base.clone()];
        inputs.extend(mutations(base, seed));
        for (n, input) in inputs.iter().enumerate() {
            let a = cached.run_bytes(input, None).unwrap();
            let cov_a = cached.coverage().unwrap().save();
            let b = plain.run_bytes(input, None).unwrap();
            let cov_b = plain.coverage().unwrap().save();
            events += b.outcomes.len();
            let (ta, oa, fa) = played(&cached, &a);
            let (tb, ob, fb) = played(&plain, &b);
            assert_eq!(ta, tb, "{charm} base {seed} input {n}: trace");
            assert_eq!(oa, ob, "{charm} base {seed} input {n}: outcomes");
            assert_eq!(fa, fb, "{charm} base {seed} input {n}: finding");
            assert_eq!(
                a.step_starts, b.step_starts,
                "{charm} base {seed} input {n}"
            );
            assert!(
                cov_a == cov_b,
                "{charm} base {seed} input {n}: coverage differs"
            );
        }
    }
    eprintln!("{charm}: {events} events played in full");
    let stats = cached.prefix_stats().unwrap();
    eprintln!("{charm}: {stats}");
    assert!(
        stats.hits > 0 && stats.events_skipped > stats.events_run / 4,
        "{charm}: the cache was hardly used, so this proves little: {stats:?}"
    );
}

#[test]
fn a_resumed_kubernetes_input_is_the_input_played_in_full() {
    check("demo-k8s-clean", bases("lifecycle", 0..1));
}

#[test]
fn a_resumed_machine_input_is_the_input_played_in_full() {
    check("demo-snap-clean", bases("lifecycle-demo-snap", 0..0));
}
