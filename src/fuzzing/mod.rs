//! What `cargo fuzz run lifecycle` runs: the glue between libFuzzer and a [`Target`].
//!
//! **From bytes to a story.** libFuzzer hands over byte strings; each is a story (the
//! engine decodes it into valid Juju events) played against a fresh unit of the charm.
//! The decoder reads one byte per choice and offers, at each choice, only what Juju could
//! let happen there, so every byte string is a valid story, and the bytes of each step
//! follow those of the step before. A failure of the charm is a finding ([`Verdict`];
//! `CHARMFUZZ_ONLY` narrows which): it is printed with its story, and a reproducer is
//! written beside libFuzzer's crash artifact ([`artifacts`]).
//!
//! **Coverage steers the search.** The charm's own coverage, and the lifecycle features
//! of what it did, land in a bitmap libFuzzer watches ([`crate::target::coverage`]), so
//! inputs that make the charm do something new are kept and mutated further.
//! libFuzzer sees whether each line, arc and lifecycle feature was hit, not how often
//! ([`CoverageMap::flatten`]): a longer story is not progress by itself.
//!
//! **Mutation.** At a story or two per second, flipping bytes rarely makes the next useful
//! event. [`mutate`] works on the story instead. Most of the time it tells the story
//! further: one to three actions appended at its end, each chosen among those Juju could
//! let happen there (the decoder reports them with the byte that selects each), favouring
//! actions the story has just made possible or never took. A lifecycle bug is a path of
//! such steps, each of which makes the charm do something new, so that coverage keeps every
//! step of the path and the next mutation starts from there. The other mutations insert a
//! valid action inside the story; delete, duplicate or swap whole steps (the input is cut
//! at the byte offsets where each step's choices begin); change one choice; or end the
//! story early. [`crossover`] splices the beginning of one story onto the end of another.
//! Every byte string decodes to a valid story, so every mutant is valid.
//!
//! Which actions are possible depends on what the charm did (a Pebble check exists once the
//! charm's layer declares it), so the mutator decodes an input as the charm lived it: the
//! fuzzer keeps the trace of each input it ran ([`LivedTraces`]).
//!
//! **Which story to tell further.** libFuzzer picks the input to mutate from its whole
//! corpus; a quarter of the time (`CHARMFUZZ_FRONTIER`) the mutator sets that aside and
//! tells further one of the inputs that lately made the charm do something new
//! ([`Frontier`]), the newest most often, so a path of new steps is followed while it is
//! fresh; or tries every action that could follow the step whose discovery is most worth
//! it (the biggest and rarest).
//!
//! **Configuration** (environment, then the charm's `charmfuzz.toml`):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `CHARMFUZZ_CHARM` | the charm directory | the bundled `examples/charms/demo-k8s` |
//! | `CHARMFUZZ_PYTHON` | the charm's interpreter | `[target] python`, the charm's venv, the project's `.venv` |
//! | `CHARMFUZZ_MODE` | `fork` or `exec` | `[target] mode`, fork |
//! | `CHARMFUZZ_TIMEOUT` | seconds per hook | `[target] timeout`, 30 |
//! | `CHARMFUZZ_MAX_STEPS` | actions the mutator lets a story grow to, at most 64 (it cuts the inputs it writes: any command replays them as the same story, [`Charm::fit`]) | 512 |
//! | `CHARMFUZZ_ONLY` | hunt one bug: only a failure whose signature or title contains this is a finding; other failures are retried as Juju would and the story goes on | all |
//! | `CHARMFUZZ_MUTATOR` | `structure` or `bytes` (libFuzzer's own) | structure |
//! | `CHARMFUZZ_FEEDBACK` | what libFuzzer sees: `all` (the charm's code and the lifecycle features), `code` (the charm's code only), `0` (nothing) | all |
//! | `CHARMFUZZ_COVER_OPS` | `1` to measure `ops` too | 0 |
//! | `CHARMFUZZ_FRONTIER` | percent of the mutator's turns that tell one of the newest discoveries further ([`Frontier`]); 0 leaves every pick to libFuzzer | 25 |
//! | `CHARMFUZZ_PREFIX_CACHE` | prefix snapshots kept: an input starts where the longest known prefix of its bytes left the unit, and plays only the rest (`target::runner::prefix`); 0 plays every input from the start | 512 |
//! | `CHARMFUZZ_HIT_COUNTS` | `1` to show libFuzzer hit counts, not just what was hit (see [`CoverageMap::flatten`]) | 0 |
//! | `CHARMFUZZ_HARNESS_COVERAGE` | `1` to let libFuzzer see charmfuzz's own Rust edges too | 0 |
//! | `CHARMFUZZ_JUJUC` | the `charmfuzz` binary, used as the hook-tool executable | `target/release/charmfuzz` if built |
//!
//! Where the variables are not set, a bundle beside the fuzz target executable
//! (`<exe>.charmfuzz/`, see [`bundle_dir`]) gives the charm, the Python and the `charmfuzz`
//! binary: that is how the target runs from a ClusterFuzzLite `$OUT`.
//!
//! **Layout.**
//!
//! - [`fuzzer`]: [`LifecycleFuzzer`], one libFuzzer process's fuzzer: the loop the
//!   `lifecycle` fuzz target calls for each input, and its mutator and crossover turns.
//! - [`settings`]: [`FuzzSettings`], read from the environment and the charm's config.
//! - [`mutation`]: the structure-aware mutations ([`Mutation`], [`mutate`], [`extend`],
//!   [`crossover`]), the lived traces, the seeded [`Rng`] and the step [`dictionary`].
//! - [`frontier`]: the [`Frontier`] of newest discoveries and its sweeps.
//! - [`random`]: [`random_search`], random stories without feedback (the baseline arm).
//! - [`artifacts`]: what a finding prints and writes ([`explain`], [`next_steps`], the
//!   reproducer's and the crash artifact's paths), and the libFuzzer flags they read.
//!
//! [`Target`]: crate::target::Target
//! [`Charm::fit`]: crate::charm::Charm::fit
//! [`CoverageMap::flatten`]: crate::target::coverage::CoverageMap::flatten

pub mod artifacts;
pub mod frontier;
pub mod fuzzer;
pub mod mutation;
pub mod random;
pub mod settings;

pub use artifacts::{
    crash_artifact_path, explain, explain_environment, minimizing_input, next_steps,
    reproducer_path, shell_word, writes_reproducer,
};
pub use frontier::{Discovery, Frontier, FrontierStats, SlotsSeen};
pub use fuzzer::{LifecycleFuzzer, Verdict};
pub use mutation::{
    LivedTraces, Mutation, NextAction, Rng, crossover, crossover_bytes, dictionary, extend, mutate,
    step_boundaries,
};
pub use random::{SearchResult, SignatureSeen, random_search, random_story, random_story_len};
pub use settings::{
    DEFAULT_FRONTIER, DEFAULT_MAX_STEPS, DEFAULT_PREFIX_CACHE, Feedback, FuzzSettings,
    FuzzSetupError, bundle_dir, default_charm_dir,
};
