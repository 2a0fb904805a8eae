//! `cargo fuzz run lifecycle`: valid Juju stories against a real charm, steered by the
//! charm's own coverage. All the work is in `charmfuzz::fuzzing`; this file wires it to
//! libFuzzer. Configuration: environment variables and the charm's `charmfuzz.toml` (see
//! the `charmfuzz::fuzzing` docs); by default the bundled demo charm with planted bugs.
#![no_main]

use charmfuzz::fuzzing::{self, FuzzSettings, LifecycleFuzzer, Verdict};
use libfuzzer_sys::{fuzz_crossover, fuzz_mutator, fuzz_target, fuzzer_mutate};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

static FUZZER: OnceLock<Mutex<LifecycleFuzzer>> = OnceLock::new();
/// Whether the structure-aware mutator is on (`CHARMFUZZ_MUTATOR`).
static STRUCTURE: OnceLock<bool> = OnceLock::new();

/// The fuzzer. libFuzzer runs an input, mutates and splices on one thread, one thing at a
/// time, so the lock is always free.
fn fuzzer() -> MutexGuard<'static, LifecycleFuzzer> {
    FUZZER
        .get()
        .expect("set up")
        .lock()
        .expect("one thing at a time")
}

unsafe extern "C" {
    // libFuzzer's registration of extra coverage counters (as a sanitizer-coverage
    // instrumented module would), with a PC table of the same length.
    fn __sanitizer_cov_8bit_counters_init(start: *mut u8, stop: *mut u8);
    fn __sanitizer_cov_pcs_init(pcs_beg: *const usize, pcs_end: *const usize);
    /// [start, stop) of this binary's own (Rust) edge counters, see below.
    static charmfuzz_sancov_bounds: [usize; 2];
}

// The linker bounds the instrumented counters with `__start___sancov_cntrs` and
// `__stop___sancov_cntrs`. Naming them from Rust would clash with the declarations the
// coverage pass itself adds to every module (LLVM renames ours, and the pass's own
// registration breaks), so a word of assembly records their addresses instead; weak and
// hidden, as the pass declares them, so they are 0 in a build without instrumentation.
std::arch::global_asm!(
    ".weak __start___sancov_cntrs",
    ".hidden __start___sancov_cntrs",
    ".weak __stop___sancov_cntrs",
    ".hidden __stop___sancov_cntrs",
    ".pushsection .data.rel.ro.charmfuzz_sancov_bounds,\"aw\"",
    ".p2align 3",
    ".globl charmfuzz_sancov_bounds",
    ".hidden charmfuzz_sancov_bounds",
    "charmfuzz_sancov_bounds:",
    ".quad __start___sancov_cntrs",
    ".quad __stop___sancov_cntrs",
    ".popsection",
);

/// Whether libFuzzer also sees the harness's own Rust edges (`CHARMFUZZ_HARNESS_COVERAGE=1`).
static HARNESS_COVERAGE: OnceLock<bool> = OnceLock::new();

/// Forget the Rust edges this input ran. They are the harness's, not the charm's: decoding,
/// JSON, the Pebble server's threads. Left in, they make libFuzzer keep inputs that only
/// took a new path through our own code, and timing of the server threads makes a seeded
/// campaign differ from run to run. The charm's coverage and the lifecycle features are in
/// the registered bitmap, which this does not touch.
fn forget_harness_edges() {
    if *HARNESS_COVERAGE.get().unwrap_or(&false) {
        return;
    }
    // SAFETY: the section holds this binary's 8-bit counters, plain bytes that only the
    // instrumentation and libFuzzer (after this callback returns) touch; inputs run one at
    // a time.
    unsafe {
        let [start, stop] = charmfuzz_sancov_bounds;
        if start != 0 {
            std::ptr::write_bytes(start as *mut u8, 0, stop.saturating_sub(start));
        }
    }
}

fn setup() {
    let (settings, charm) = match FuzzSettings::from_env() {
        Ok(x) => x,
        Err(e) => fail(&e.to_string()),
    };
    let structure = settings.structure_mutator;
    let _ = HARNESS_COVERAGE.set(settings.harness_coverage);
    let mut fuzzer = match LifecycleFuzzer::new(settings, charm) {
        Ok(f) => f,
        Err(e) => fail(&e.to_string()),
    };
    if let Some((ptr, len)) = fuzzer.counters() {
        // Fake PCs, one per counter: libFuzzer requires the two tables to match in size.
        let pcs: &'static mut [usize] = Box::leak(vec![0usize; 2 * len].into_boxed_slice());
        for i in 0..len {
            pcs[2 * i] = 0x7c00_0000_0000 + i;
        }
        // SAFETY: the bitmap lives as long as the fuzzer (a static); it is registered once,
        // before libFuzzer reads its module tables.
        unsafe {
            __sanitizer_cov_8bit_counters_init(ptr, ptr.add(len));
            __sanitizer_cov_pcs_init(pcs.as_ptr(), pcs.as_ptr().add(2 * len));
        }
    }
    // In a `cargo fuzz tmin` step, only the finding being minimised counts.
    if let Some(input) = fuzzing::minimizing_input(&std::env::args().collect::<Vec<_>>()) {
        let data = match std::fs::read(&input) {
            Ok(d) => d,
            Err(e) => fail(&format!("cannot read {}: {e}", input.display())),
        };
        match fuzzer.pin_finding(&data) {
            Ok(Some(signature)) => eprintln!("charmfuzz: minimising, keeping {signature}"),
            Ok(None) => {}
            Err(e) => fail(&e.to_string()),
        }
    }
    let info = fuzzer.target().worker_info().cloned().unwrap_or_default();
    eprintln!(
        "charmfuzz: charm {} · Python {} ({}) · ops {} · coverage {} · {}",
        fuzzer.settings.charm_dir.display(),
        info.python,
        fuzzer.target().python().display(),
        info.ops,
        info.coverage.as_deref().unwrap_or("off"),
        if fuzzer.target().sandbox().contained() {
            "contained"
        } else {
            "UNCONTAINED (no bwrap)"
        },
    );
    let _ = STRUCTURE.set(structure);
    let _ = FUZZER.set(Mutex::new(fuzzer));
}

fn fail(msg: &str) -> ! {
    eprintln!("charmfuzz: harness error (not a finding in the charm): {msg}");
    std::process::exit(2);
}

/// Inputs run so far in this process.
static RUNS: AtomicU64 = AtomicU64::new(0);

fuzz_target!(init: setup(), |data: &[u8]| {
    let mut f = fuzzer();
    let runs = RUNS.fetch_add(1, Ordering::Relaxed) + 1;
    if runs >= 64 && runs.is_power_of_two() && f.settings.frontier > 0 {
        // Beside libFuzzer's own lines at powers of two: whether paths of new steps are
        // being followed (see `charmfuzz::fuzzing::Frontier`).
        eprintln!("charmfuzz: #{runs} frontier: {}", f.frontier_stats());
    }
    if runs >= 64 && runs.is_power_of_two() {
        if let Some(stats) = f.target().prefix_stats() {
            eprintln!("charmfuzz: #{runs} {stats}");
        }
    }
    match f.run_one(data) {
        Ok(Verdict::Pass) => forget_harness_edges(),
        Ok(Verdict::Finding(text, report)) => {
            let args: Vec<String> = std::env::args().collect();
            let artifact = fuzzing::crash_artifact_path(&args, data);
            let written = fuzzing::writes_reproducer(&args)
                .then(|| f.write_reproducer(data, &report, &artifact));
            let reproducer = written
                .as_ref()
                .map(|w| w.as_ref().map(|w| w.path.as_path()).map_err(|e| e.to_string()));
            eprintln!("{text}\n{}", fuzzing::next_steps(&f.settings, &artifact, reproducer));
            // libFuzzer writes the crash artifact on abort.
            std::process::abort();
        }
        Err(e) => fail(&e.to_string()),
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    match STRUCTURE.get() {
        Some(true) if !seed.is_multiple_of(8) => fuzzer().mutate(data, size, max_size, seed),
        _ => fuzzer_mutate(data, size, max_size),
    }
});

fuzz_crossover!(|a: &[u8], b: &[u8], out: &mut [u8], seed: u32| {
    match STRUCTURE.get() {
        Some(true) => fuzzer().crossover(a, b, out, seed),
        _ => fuzzing::crossover_bytes(a, b, out, seed),
    }
});
