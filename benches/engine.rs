//! Engine throughput: how many 50-step traces per second the decoder produces, and how that
//! compares with what the charm side can consume.
//!
//! Run with `cargo bench --bench engine`. It prints figures; it asserts nothing (machines are
//! noisy). The charm side costs milliseconds per event (a forked ops process, measured at
//! ~7 ms/event in `shared/notes/feasibility.md`), so the engine must be orders of magnitude
//! faster for its cost to vanish from a fuzzing run.

use charmfuzz::charm::Charm;
use charmfuzz::engine::{Decoder, encode, seed_bytes};
use std::path::Path;
use std::time::Instant;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["examples/charms/demo-k8s", "examples/charms/demo-machine"] {
        let charm = Charm::load(&root.join(dir)).expect("demo charm loads");
        let inputs: Vec<Vec<u8>> = (0..2000).map(|s| seed_bytes(s, 2048)).collect();
        let (mut steps, mut events) = (0u64, 0u64);
        let start = Instant::now();
        let mut traces = Vec::new();
        for b in &inputs {
            let d = Decoder::from_bytes(
                charm.spec.clone(),
                charm.options(),
                &charm.weights,
                &charm.vocab,
                b,
            )
            .with_max_steps(50);
            let t = d.run_to_end();
            steps += t.steps.len() as u64;
            events += t.events().count() as u64;
            traces.push(t);
        }
        let secs = start.elapsed().as_secs_f64();
        let start = Instant::now();
        for t in &traces {
            encode(t, charm.spec.clone(), &charm.weights, &charm.vocab).unwrap();
        }
        let enc = start.elapsed().as_secs_f64();
        let ev_per_s = events as f64 / secs;
        println!("{dir}: {} traces of up to 50 steps", inputs.len());
        println!(
            "  decode: {:.0} traces/s, {:.0} steps/s, {:.0} events/s ({:.2} µs/event)",
            inputs.len() as f64 / secs,
            steps as f64 / secs,
            ev_per_s,
            1e6 / ev_per_s
        );
        println!("  encode: {:.0} traces/s", traces.len() as f64 / enc);
        // A forked ops charm: ~7 ms per event (feasibility notes). The ratio is how many
        // events the engine makes in the time the charm runs one.
        println!(
            "  engine vs charm side (7 ms/event): {:.0}x faster",
            ev_per_s * 0.007
        );
    }
}
