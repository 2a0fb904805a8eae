//! Random search: random stories through the same decoder, without any feedback, the
//! baseline arm of the ablation benchmark (`charmfuzz random`).
//!
//! [`random_story`] gives the bytes of one such story from a seed; [`random_search`] runs
//! them against a charm until a finding, and tells what they reached on the way
//! ([`SearchResult`]).

use crate::engine::seed_bytes;
use crate::target::{Finding, FindingClass, RunReport, Target, TargetError};

/// What [`random_search`] did: how many stories and events it ran, and the report of the
/// story that ended it with a finding, if one did.
#[derive(Debug)]
pub struct SearchResult {
    pub runs: u64,
    pub events: u64,
    /// Every signature met, with the first run (1-based) that met it, how many runs did,
    /// and its title.
    pub signatures: std::collections::BTreeMap<String, SignatureSeen>,
    pub finding: Option<RunReport>,
    /// The bytes of the story that ended the search.
    pub input: Option<Vec<u8>>,
    /// Stories none of whose first three hooks failed: the share of stories that got into
    /// the charm's lifecycle rather than dying at deploy (for a real charm, usually on
    /// something the harness's world lacks).
    pub past_first_three: u64,
    /// The hooks the stories reached, of those the charm's metadata makes possible.
    pub lifecycle: crate::lifecycle_map::LifecycleMap,
}

/// A signature [`random_search`] met.
#[derive(Debug)]
pub struct SignatureSeen {
    pub first_run: u64,
    pub runs: u64,
    pub title: String,
    /// The charm's, or the environment's: an `environment` finding never ends a search.
    pub class: FindingClass,
    /// For an `environment` finding, what the charm lacked and how to give it.
    pub lacks: Vec<crate::target::Lack>,
}

/// Random stories through the same decoder, without any feedback: the baseline arm of the
/// ablation benchmark. Story `i` is `seed_bytes(first_seed + i)`, with room for `max_steps`
/// actions; the search ends at the first finding `stop` accepts, or after `runs` stories.
pub fn random_search(
    target: &mut Target,
    runs: u64,
    max_steps: usize,
    first_seed: u64,
    stop: impl Fn(&Finding) -> bool,
) -> Result<SearchResult, TargetError> {
    let mut result = SearchResult {
        runs: 0,
        events: 0,
        signatures: Default::default(),
        finding: None,
        input: None,
        past_first_three: 0,
        lifecycle: crate::lifecycle_map::LifecycleMap::new(&target.charm().spec),
    };
    for i in 0..runs {
        let bytes = random_story(first_seed.wrapping_add(i), max_steps);
        let report = target.run_bytes(&bytes, Some(max_steps))?;
        result.runs += 1;
        result.events += report.outcomes.len() as u64;
        result.lifecycle.add(&report.trace);
        if report.outcomes.iter().take(3).all(|o| o.exit.ok()) {
            result.past_first_three += 1;
        }
        for f in report.environment.iter().chain(&report.finding) {
            let seen = result
                .signatures
                .entry(f.signature.clone())
                .or_insert_with(|| SignatureSeen {
                    first_run: result.runs,
                    runs: 0,
                    title: f.title.clone(),
                    class: f.class,
                    lacks: f.lacks.clone(),
                });
            seen.runs += 1;
        }
        if let Some(f) = &report.finding {
            if stop(f) {
                // Cut to the story it told, which the bytes alone then tell everywhere.
                result.input = Some(target.charm().fit(&bytes, Some(&report.trace), max_steps));
                result.finding = Some(report);
                break;
            }
        }
    }
    Ok(result)
}

/// Bytes enough for a random story of `steps` actions (each action takes a few choices).
pub fn random_story_len(steps: usize) -> usize {
    64 + steps * 24
}

/// Random story `seed` of the no-feedback arm: [`random_story_len`] bytes of [`seed_bytes`].
pub fn random_story(seed: u64, steps: usize) -> Vec<u8> {
    seed_bytes(seed, random_story_len(steps))
}
