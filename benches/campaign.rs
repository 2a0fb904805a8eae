//! The campaign benchmark: how many runs guided fuzzing takes from the seeds to the deepest
//! planted bug of the demo charm (BUG-4: `get-status` while an automatic restore runs, four
//! steps past the seed that takes a backup), with the frontier at several shares.
//!
//! Run with `cargo bench --bench campaign -- [--frontier 0,25] [--seeds 1,2,3]
//! [--budget 3000] [--steps 16] [--log N] [--random] [--cache 0,64] [--charm demo-machine
//! --bug PATTERN]`; `--log N` prints the frontier's
//! figures ([`charmfuzz::fuzzing::FrontierStats`]) every N runs and the run of the first story
//! that got a restore running. `--random` runs the no-feedback arm instead: the stories of
//! `charmfuzz random` (as `scripts/bench-ablation.sh` seeds them), with the same count of
//! stories that got a restore running, which shows how far short of BUG-4 random falls when
//! it never reaches it. Each campaign plays the real demo charm; at one or two
//! stories a second, a campaign that misses takes about half an hour. It prints runs and
//! seconds per campaign and the median per share; it asserts nothing (see
//! `scripts/bench-ablation.sh` for the three-arm comparison through cargo fuzz itself).
//!
//!
//! `--cache 0,64` runs every campaign once per prefix-cache size (`CHARMFUZZ_PREFIX_CACHE`)
//! and prints stories per second side by side: the campaigns are the same run for run
//! (a resumed input is the input played in full), so the bug is found at the same run
//! count, in less time. `--charm` and `--bug` hunt another demo charm's planted bug (a
//! substring of its signature, as `scripts/demo-bugs.sh` has them), from that charm's
//! seed corpus (`corpus/lifecycle-<charm>`).
//!
//! The loop is the path `cargo fuzz run lifecycle` takes, with a small libFuzzer in
//! libFuzzer's place, so that every share sees the same schedule and nothing else differs:
//! the seeds of `corpus/lifecycle/` are played, then each run mutates a parent picked
//! uniformly from the corpus with `LifecycleFuzzer::mutate` (frontier included) and keeps
//! the mutant if it hit a coverage slot no input hit before. Unlike libFuzzer it stacks no
//! mutations, splices nothing and has no byte mutations of its own.

use charmfuzz::charm::Charm;
use charmfuzz::fuzzing::{
    Feedback, FuzzSettings, LifecycleFuzzer, Rng, SlotsSeen, Verdict, random_story,
};
use charmfuzz::target::TargetConfig;
use std::path::Path;
use std::time::Instant;

const BUG_4: &str = "src/charm.py:_on_get_status_action|";
const MAX_LEN: usize = 2048;

struct Args {
    frontier: Vec<u8>,
    seeds: Vec<u64>,
    budget: usize,
    steps: usize,
    /// Print the frontier's figures every this many runs (0: never).
    log: usize,
    /// The random arm (no feedback, no mutation) instead of the frontier shares.
    random: bool,
    /// Prefix-cache sizes to run each campaign with.
    cache: Vec<usize>,
    /// The demo charm and the planted bug hunted.
    charm: String,
    bug: String,
}

fn args() -> Args {
    let mut a = Args {
        frontier: vec![0, 25],
        seeds: vec![1, 2, 3],
        budget: 3000,
        steps: 16,
        log: 0,
        random: false,
        cache: vec![charmfuzz::fuzzing::DEFAULT_PREFIX_CACHE],
        charm: "demo-k8s".into(),
        bug: BUG_4.into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--frontier" => a.frontier = list(&value()),
            "--seeds" => a.seeds = list(&value()),
            "--budget" => a.budget = value().parse().expect("--budget N"),
            "--steps" => a.steps = value().parse().expect("--steps N"),
            "--log" => a.log = value().parse().expect("--log N"),
            "--random" => a.random = true,
            "--cache" => a.cache = list(&value()),
            "--charm" => a.charm = value(),
            "--bug" => a.bug = value(),
            // cargo bench passes `--bench` to every bench binary.
            "--bench" => {}
            other => panic!("unknown option {other}"),
        }
    }
    a
}

fn list<T: std::str::FromStr>(s: &str) -> Vec<T> {
    s.split(',')
        .map(|x| x.trim().parse().ok().expect("a comma-separated list"))
        .collect()
}

/// One campaign's figures.
struct Campaign {
    /// The runs it took to find BUG-4 (`None` within the budget).
    found: Option<usize>,
    /// The corpus size at the end.
    corpus: usize,
    /// How many stories got a restore running, the step before BUG-4.
    restoring: usize,
    /// The prefix cache's figures at the end.
    stats: Option<charmfuzz::target::CacheStats>,
}

fn campaign(frontier: u8, cache: usize, seed: u64, a: &Args) -> Campaign {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("examples/charms").join(&a.charm);
    let charm = Charm::load(&dir)
        .expect("the demo charm loads")
        .for_target();
    let jujuc = root.join("target/release/charmfuzz");
    let settings = FuzzSettings {
        charm_dir: dir,
        config: TargetConfig::default(),
        max_steps: a.steps,
        only: Some(a.bug.clone()),
        structure_mutator: true,
        feedback: Feedback::All,
        cover_ops: false,
        hit_counts: false,
        harness_coverage: false,
        frontier,
        prefix_cache: cache,
        jujuc: jujuc.is_file().then_some(jujuc),
    };
    let mut fuzzer = LifecycleFuzzer::new(settings, charm).expect("the demo charm starts");
    let mut seen = SlotsSeen::default();
    // Play `input`: Err(finding text), or whether it hit a slot no input hit before.
    let mut play = |fuzzer: &mut LifecycleFuzzer, input: &[u8]| {
        let verdict = fuzzer.run_one(input).expect("no harness error");
        let map = fuzzer.target().coverage().expect("coverage").counters();
        let new = !seen.note(map).is_empty();
        match verdict {
            Verdict::Finding(text, _) => Err(text),
            Verdict::Pass => Ok(new),
        }
    };
    let seeds = match a.charm.as_str() {
        "demo-k8s" | "demo-k8s-clean" => "corpus/lifecycle".to_string(),
        other => format!("corpus/lifecycle-{}", other.trim_end_matches("-clean")),
    };
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(root.join(seeds))
        .expect("the seeds")
        .map(|e| std::fs::read(e.expect("a seed").path()).expect("a seed"))
        .collect();
    corpus.sort();
    for input in &corpus {
        play(&mut fuzzer, input).expect("no seed reaches the bug");
    }
    let mut rng = Rng::new(seed);
    let mut buf = vec![0u8; MAX_LEN];
    // Runs whose story left a restore running at some step (the state BUG-4 needs).
    let mut restoring = 0;
    for run in 1..=a.budget {
        let input = if a.random {
            // Story `run` of `charmfuzz random --seed <seed * 1000003>`, as the ablation's
            // random arm plays it: the corpus and the coverage are only looked at.
            let story = (seed * 1_000_003).wrapping_add(run as u64 - 1);
            random_story(story, a.steps)
        } else {
            let parent = &corpus[rng.below(corpus.len())];
            buf[..parent.len()].copy_from_slice(parent);
            let n = fuzzer.mutate(&mut buf, parent.len(), MAX_LEN, rng.next_u64() as u32);
            buf[..n].to_vec()
        };
        let played = play(&mut fuzzer, &input);
        if restores(&fuzzer) {
            restoring += 1;
            if restoring == 1 && a.log > 0 {
                println!("  run {run}: the first story with a restore running");
            }
        }
        if a.log > 0 {
            if run % a.log == 0 && a.random {
                println!("  run {run}: {restoring} stories with a restore running");
            } else if run % a.log == 0 {
                println!(
                    "  run {run}: corpus {}, {restoring} stories with a restore running; frontier: {}",
                    corpus.len(),
                    fuzzer.frontier_stats()
                );
            }
        }
        match played {
            Err(text) => {
                assert!(text.contains(&a.bug), "{text}");
                return Campaign {
                    found: Some(run),
                    corpus: corpus.len(),
                    restoring,
                    stats: fuzzer.target().prefix_stats(),
                };
            }
            Ok(true) => corpus.push(input),
            Ok(false) => {}
        }
    }
    Campaign {
        found: None,
        corpus: corpus.len(),
        restoring,
        stats: fuzzer.target().prefix_stats(),
    }
}

/// Whether the last story left the demo charm's restore running after some step (its
/// StoredState says `recovery: restoring`).
fn restores(fuzzer: &LifecycleFuzzer) -> bool {
    let Some(report) = fuzzer.last_report() else {
        return false;
    };
    (report.outcomes.iter()).any(|o| {
        (o.stored.values()).any(|v| v.get("recovery").and_then(|r| r.as_str()) == Some("restoring"))
    })
}

/// How many seeds a campaign plays before its first run.
fn corpus_seeds(a: &Args) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = match a.charm.as_str() {
        "demo-k8s" | "demo-k8s-clean" => "corpus/lifecycle".to_string(),
        other => format!("corpus/lifecycle-{}", other.trim_end_matches("-clean")),
    };
    std::fs::read_dir(root.join(seeds)).map_or(0, |d| d.count())
}

fn main() {
    let a = args();
    println!(
        "runs from the seeds of {} to {}, {} actions per story, budget {} runs",
        a.charm, a.bug, a.steps, a.budget
    );
    let mut medians = Vec::new();
    // The arms: the frontier shares, or the random arm alone.
    let arms: Vec<(String, u8)> = if a.random {
        vec![("random       ".into(), 0)]
    } else {
        (a.frontier.iter())
            .map(|&f| (format!("frontier {f:>3}%"), f))
            .collect()
    };
    for (arm, share) in arms {
        let mut runs = Vec::new();
        for &seed in &a.seeds {
            // The same campaign with each cache size: (runs played, found at, seconds).
            let mut by_cache: Vec<(usize, Option<usize>, f64)> = Vec::new();
            for &cache in &a.cache {
                let start = Instant::now();
                let Campaign {
                    found,
                    corpus,
                    restoring,
                    stats,
                } = campaign(share, cache, seed, &a);
                let secs = start.elapsed().as_secs_f64();
                let played = found.unwrap_or(a.budget) + corpus_seeds(&a);
                let tail = format!(
                    "cache {cache}, {:.2} stories/s, corpus {corpus}, {restoring} stories with a \
                     restore running{}",
                    played as f64 / secs,
                    stats.map(|s| format!("; {s}")).unwrap_or_default()
                );
                match found {
                    Some(r) => {
                        println!(
                            "{arm}  seed {seed}: {} after {r} runs, {secs:.0} s, {tail}",
                            a.bug
                        )
                    }
                    None => println!(
                        "{arm}  seed {seed}: no {} in {} runs, {secs:.0} s, {tail}",
                        a.bug, a.budget
                    ),
                }
                by_cache.push((played, found, secs));
            }
            if let [(n0, f0, s0), rest @ ..] = &by_cache[..] {
                for ((n, f, s), cache) in rest.iter().zip(&a.cache[1..]) {
                    println!(
                        "{arm}  seed {seed}: cache {cache} / cache {}: {:.1}x stories/s, found at \
                         {} runs",
                        a.cache[0],
                        (*n as f64 / s) / (*n0 as f64 / s0),
                        if f == f0 {
                            "the same".to_string()
                        } else {
                            format!("{f:?} against {f0:?}: NOT THE SAME")
                        }
                    );
                }
            }
            // A miss counts as the budget: the median is then a lower bound.
            runs.push(by_cache[0].1.unwrap_or(a.budget));
        }
        runs.sort();
        let median = runs[runs.len() / 2];
        let found = runs.iter().filter(|&&r| r < a.budget).count();
        println!("{arm}: found {found}/{}, median {median} runs", runs.len());
        medians.push((share, median));
    }
    if let Some(&(base_share, base)) = medians.first() {
        for &(share, median) in &medians[1..] {
            println!(
                "median runs, frontier {base_share}% / frontier {share}%: {:.1}x",
                base as f64 / median.max(1) as f64
            );
        }
    }
}
