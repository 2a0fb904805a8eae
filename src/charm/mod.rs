//! A charm ready to fuzz: its spec, its fuzzing config, and what the decoder needs from both.
//!
//! Loading happens once per process (per libFuzzer worker); everything per-input is cheap.

use crate::engine::{Decoder, EngineOptions, Vocabulary, Weights};
use crate::spec::{CharmSpec, SpecError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod fuzzconfig;

pub use fuzzconfig::{FuzzConfig, FuzzConfigError, Samples};

#[derive(Debug, thiserror::Error)]
pub enum CharmError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Config(#[from] FuzzConfigError),
}

/// A charm directory, understood.
#[derive(Debug, Clone)]
pub struct Charm {
    /// Where the charm's source tree is (as given to [`Charm::load`]): the target runs the
    /// charm from here, and coverage and findings name files relative to it.
    pub dir: PathBuf,
    pub spec: Arc<CharmSpec>,
    pub config: FuzzConfig,
    pub weights: Weights,
    pub vocab: Vocabulary,
}

impl Charm {
    /// Read the charm's metadata and its fuzzing config (`charmfuzz.toml` or
    /// `[tool.charmfuzz]` in `pyproject.toml`).
    pub fn load(dir: &Path) -> Result<Charm, CharmError> {
        let mut spec = CharmSpec::load(dir)?;
        let config = FuzzConfig::load(dir)?;
        if let Some(s) = config.substrate {
            spec.substrate = s;
        }
        let mut charm = Charm::from_parts(dir, spec, config);
        if charm.config.samples.from_source != Some(false) {
            charm.add_words(crate::spec::literals::gather(dir));
        }
        Ok(charm)
    }

    /// More words for the decoder's payloads, after those it has, each once.
    pub fn add_words(&mut self, words: impl IntoIterator<Item = String>) {
        for w in words {
            if !self.vocab.words.contains(&w) {
                self.vocab.words.push(w);
            }
        }
    }

    pub fn from_parts(dir: &Path, spec: CharmSpec, config: FuzzConfig) -> Charm {
        let weights = Weights::with_overrides(config.weights.iter());
        let mut vocab = Vocabulary::for_spec(&spec);
        let s = &config.samples;
        vocab.config_samples = s.config.clone();
        vocab.relation_samples = s.relation.clone();
        if !s.notice_keys.is_empty() {
            vocab.notice_keys = s.notice_keys.clone();
        }
        vocab.secret_samples = s.secrets.clone();
        vocab.checks = s.checks.clone();
        let strings = config.samples.strings.clone();
        let mut charm = Charm {
            dir: dir.to_path_buf(),
            spec: Arc::new(spec),
            config,
            weights,
            vocab,
        };
        charm.add_words(strings);
        charm
    }

    /// The engine options from the config (Juju version and §L8 switches).
    /// The charm as a run against the real charm decodes it: Pebble checks exist only once
    /// the charm's layers declare them (the `checks` samples serve stories told without a
    /// charm). Seeds, the mutator and the target must all decode with this one.
    pub fn for_target(&self) -> Charm {
        let mut c = self.clone();
        c.vocab.checks.clear();
        c
    }

    pub fn options(&self) -> EngineOptions {
        self.config.engine.clone()
    }

    /// The engine's decoder for this charm, reading `bytes` (a fuzzer input). The story
    /// winds down after [`STORY_MAX_STEPS`] actions, or after `max_steps` when a generator
    /// asks for fewer (`charmfuzz random --steps`): such a story is kept as the bytes
    /// [`Charm::fit`] cuts, which tell it under the ceiling alone.
    pub fn decoder<'a>(&'a self, bytes: &'a [u8], max_steps: Option<usize>) -> Decoder<'a, 'a> {
        Decoder::from_bytes(
            self.spec.clone(),
            self.options(),
            &self.weights,
            &self.vocab,
            bytes,
        )
        .with_max_steps(max_steps.map_or(STORY_MAX_STEPS, |n| n.min(STORY_MAX_STEPS)))
    }

    /// `bytes` cut to the story they told when it wound down after `steps` actions:
    /// `lived` is that story as the charm lived it (the choices the decoder offered
    /// depended on what the charm did). A story that reached `steps` stops reading the
    /// tape there, and a tape that ends there winds the story down the same way, so the
    /// cut bytes tell the same story with no limit given. A shorter story is left whole.
    /// Without `lived` (bytes no charm has run yet, as the mutator writes them), every
    /// hook is taken to succeed.
    pub fn fit(&self, bytes: &[u8], lived: Option<&crate::engine::Trace>, steps: usize) -> Vec<u8> {
        let mut d = self.decoder(bytes, Some(steps));
        match lived {
            Some(t) => d.simulate_as(t),
            None => d.simulate(),
        }
        let end = match d.step_ends() {
            ends if d.trace().steps.len() >= steps && steps > 0 => ends[steps - 1],
            _ => bytes.len(),
        };
        bytes[..end.min(bytes.len())].to_vec()
    }
}

/// Actions in a story before it winds down, whichever command decodes it: one ceiling,
/// not a setting, so that fuzzer bytes alone say the story and a finding replays,
/// minimises and gives its reproducer with no flags. A fuzzer that wants shorter stories
/// (`CHARMFUZZ_MAX_STEPS`) cuts the inputs it writes ([`Charm::fit`]) instead.
pub const STORY_MAX_STEPS: usize = 64;
