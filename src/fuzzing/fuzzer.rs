//! The fuzzer of one libFuzzer process: a unit of the charm, its coverage bitmap, and
//! what the mutator needs to remember between turns.
//!
//! [`LifecycleFuzzer::run_one`] is the loop the `lifecycle` fuzz target calls for every
//! input: it plays the story against the charm, keeps the trace the charm lived for the
//! mutator ([`LivedTraces`]), lets the [`Frontier`] note what the story did that no story
//! did before, and turns the run into a [`Verdict`]. [`LifecycleFuzzer::mutate`] and
//! [`LifecycleFuzzer::crossover`] answer libFuzzer's custom mutator and crossover: a turn
//! of the frontier, or the structure-aware mutations of [`super::mutation`], cut to the
//! step limit.

use super::artifacts::{explain, explain_environment, reproducer_path, shell_word};
use super::frontier::{Frontier, FrontierStats};
use super::mutation::{LivedTraces, Mutation, Rng, crossover, extend, mutate};
use super::settings::{Feedback, FuzzSettings, FuzzSetupError};
use crate::charm::{Charm, STORY_MAX_STEPS};
use crate::reproduce;
use crate::target::coverage::{CODE_SLOTS, CoverageMap};
use crate::target::{Finding, RunReport, Target, TargetError};
use std::path::Path;

/// What one input came to.
pub enum Verdict {
    /// The charm came through (or failed in a way `CHARMFUZZ_ONLY` does not ask for).
    Pass,
    /// A finding: the text explains it (signature, title, story with outcomes); the run
    /// that found it.
    Finding(String, Box<RunReport>),
}

/// One libFuzzer process's fuzzer: a charm unit and its coverage bitmap.
pub struct LifecycleFuzzer {
    pub settings: FuzzSettings,
    target: Target,
    lived: LivedTraces,
    frontier: Frontier,
    last: Option<RunReport>,
    /// `environment` findings met so far, by signature: how many inputs met each, and the
    /// first one's finding. They do not end the run; each is told once, with its fix.
    environment: std::collections::BTreeMap<String, (u64, Finding)>,
}

impl LifecycleFuzzer {
    pub fn new(settings: FuzzSettings, charm: Charm) -> Result<LifecycleFuzzer, FuzzSetupError> {
        let mut target = Target::new(charm, settings.config.clone(), settings.jujuc.as_deref())?;
        target.want_state = true;
        target.only = settings.only.clone();
        target.lifecycle_features = settings.feedback == Feedback::All;
        target.set_prefix_cache(settings.prefix_cache);
        let mut map = CoverageMap::new(CODE_SLOTS)?;
        if settings.frontier > 0 {
            // Sweeps start after the step that did something new (`Frontier`).
            map.track_steps();
        }
        let frontier = Frontier::new(map.code_len(), map.state_slots());
        target.enable_coverage(map, settings.cover_ops)?;
        Ok(LifecycleFuzzer {
            settings,
            target,
            lived: LivedTraces::default(),
            frontier,
            last: None,
            environment: Default::default(),
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// What the frontier has done so far (all zero when it is off).
    pub fn frontier_stats(&self) -> FrontierStats {
        self.frontier.stats()
    }

    /// The coverage counters to register with libFuzzer (`None` when feedback is off).
    pub fn counters(&mut self) -> Option<(*mut u8, usize)> {
        if self.settings.feedback == Feedback::None {
            return None;
        }
        let map = self.target.coverage_mut()?;
        Some((map.as_mut_ptr(), map.len()))
    }

    /// Hunt only the finding `data` gives (its signature becomes `CHARMFUZZ_ONLY`), unless
    /// a filter is set already; the signature, or `None` when `data` is no finding.
    ///
    /// This is how `cargo fuzz tmin` keeps the bug it was given ([`minimizing_input`]):
    /// libFuzzer's crash minimisation takes any crash of a shorter input, and a story cut
    /// short often fails earlier, of a shallower bug (a `pebble-ready` before any config),
    /// so the minimised input would tell another story than the finding's.
    ///
    /// [`minimizing_input`]: super::minimizing_input
    pub fn pin_finding(&mut self, data: &[u8]) -> Result<Option<String>, TargetError> {
        if self.target.only.is_some() {
            return Ok(None);
        }
        let report = self.target.run_bytes(data, None)?;
        let Some(finding) = report.finding else {
            return Ok(None);
        };
        self.target.only = Some(finding.signature.clone());
        Ok(Some(finding.signature))
    }

    /// Play one input.
    pub fn run_one(&mut self, data: &[u8]) -> Result<Verdict, TargetError> {
        let report = self.target.run_bytes(data, None)?;
        self.lived.remember(data, &report.trace);
        if let Some(map) = self.target.coverage_mut() {
            if !self.settings.hit_counts {
                map.flatten();
            }
            if self.settings.frontier > 0 {
                let first_step = |slot| map.first_step(slot);
                (self.frontier).observe_steps(
                    data,
                    map.counters(),
                    first_step,
                    &report.step_starts,
                );
            }
        }
        for f in &report.environment {
            let seen = self
                .environment
                .entry(f.signature.clone())
                .or_insert_with(|| (0, f.clone()));
            seen.0 += 1;
            if seen.0 == 1 {
                eprint!("{}", explain_environment(f));
            }
        }
        let verdict = self.verdict(&report);
        self.last = Some(report);
        Ok(verdict)
    }

    /// The `environment` findings met so far: signature, inputs that met it, the finding.
    pub fn environment_findings(&self) -> impl Iterator<Item = (&str, u64, &Finding)> {
        self.environment
            .iter()
            .map(|(sig, (n, f))| (sig.as_str(), *n, f))
    }

    /// What the last input [`LifecycleFuzzer::run_one`] played did.
    pub fn last_report(&self) -> Option<&RunReport> {
        self.last.as_ref()
    }

    /// The structure-aware mutation of `data[..size]` ([`mutate`]), knowing the trace the
    /// charm lived for it if this process ran it.
    ///
    /// In a share of the turns (`CHARMFUZZ_FRONTIER`, a quarter by default) the input
    /// libFuzzer chose is set aside for one of the inputs that lately made the charm do
    /// something new ([`Frontier`]): half of those turns try the next untried action after
    /// an input that ran new code or reached a new state (its sweep), the others tell one
    /// of the newest discoveries further at random ([`extend`]).
    pub fn mutate(&mut self, data: &mut [u8], size: usize, max_size: usize, seed: u32) -> usize {
        let mut rng = Rng::new(u64::from(seed) ^ 0xF0_0D);
        // The frontier tells stories further, which is no use when libFuzzer asks for a
        // smaller input (`cargo fuzz tmin`).
        if max_size >= size && rng.below(100) < usize::from(self.settings.frontier) {
            if let Some(n) = self.frontier_turn(data, max_size, &mut rng) {
                return self.fit(data, n);
            }
        }
        let m = self.mutation(&data[..size]);
        let n = mutate(&m, data, size, max_size, seed);
        self.fit(data, n)
    }

    /// Keep a mutated input within `CHARMFUZZ_MAX_STEPS` by cutting its bytes, so that it
    /// tells the same story wherever it is decoded ([`Charm::fit`]); its new length.
    fn fit(&self, data: &mut [u8], n: usize) -> usize {
        if self.settings.max_steps >= STORY_MAX_STEPS {
            return n;
        }
        let cut = self
            .target
            .charm()
            .fit(&data[..n], None, self.settings.max_steps);
        cut.len()
    }

    /// One frontier turn written to `out`; `None` when the frontier is empty or its pick
    /// cannot go on, and libFuzzer's pick is mutated instead.
    fn frontier_turn(&mut self, out: &mut [u8], max_size: usize, rng: &mut Rng) -> Option<usize> {
        // Half the frontier's turns go to sweeps: inputs that reached a new state come
        // often enough that sweeps alone would leave no turn for telling the newest
        // discoveries further at random.
        if rng.below(2) == 0 {
            if let Some(n) = self.sweep(out, max_size, rng) {
                return Some(n);
            }
        }
        let parent = self.frontier.pick(rng)?;
        if parent.len() > max_size.min(out.len()) {
            return None;
        }
        extend(&self.mutation(parent), parent, out, max_size, rng)
    }

    /// How the mutator sees `input`: this charm, the step limit, and the trace the charm
    /// lived for it if this process ran it.
    fn mutation<'a>(&'a self, input: &[u8]) -> Mutation<'a> {
        Mutation {
            charm: self.target.charm(),
            max_steps: Some(self.settings.max_steps),
            lived: self.lived.get(input),
        }
    }

    /// The next step of the sweep under way, or of the pending one most worth it
    /// ([`Frontier`]): its input with the next action that could follow it appended,
    /// written to `out`. `None` when no sweep is pending.
    fn sweep(&mut self, out: &mut [u8], max_size: usize, rng: &mut Rng) -> Option<usize> {
        while let Some(sweep) = self.frontier.sweep_mut() {
            let m = Mutation {
                charm: self.target.charm(),
                max_steps: Some(self.settings.max_steps),
                lived: self.lived.get(&sweep.input),
            };
            let from = &sweep.input[..sweep.end];
            let options = sweep.options.get_or_insert_with(|| m.next_options(from));
            let Some(next) = options.get(sweep.next).cloned() else {
                self.frontier.sweep_done();
                continue;
            };
            sweep.next += 1;
            let mut v = from.to_vec();
            self.frontier.stats.sweep_turns += 1;
            if m.append_next(&mut v, &next, rng) && v.len() <= max_size.min(out.len()) {
                out[..v.len()].copy_from_slice(&v);
                let n = v.len();
                self.frontier.swept = Some(v);
                return Some(n);
            }
        }
        None
    }

    /// libFuzzer's crossover slot: a splice of two stories ([`crossover`]) one time in
    /// four, and otherwise a mutation of the first ([`LifecycleFuzzer::mutate`]).
    ///
    /// libFuzzer picks its custom crossover as often as its custom mutator. Splicing the
    /// beginning of one story onto the end of another rarely keeps what made either of
    /// them interesting, while a lifecycle bug is reached by telling one story further,
    /// step by step; so most of these turns go to that.
    pub fn crossover(&mut self, a: &[u8], b: &[u8], out: &mut [u8], seed: u32) -> usize {
        if seed % 4 == 0 {
            return crossover(self.target.charm(), a, b, out, seed);
        }
        let n = a.len().min(out.len());
        out[..n].copy_from_slice(&a[..n]);
        let max = out.len();
        self.mutate(out, n, max, seed / 4)
    }

    fn verdict(&self, report: &RunReport) -> Verdict {
        // A failure `CHARMFUZZ_ONLY` does not ask for is no finding (`Target::only`).
        if report.finding.is_none() {
            return Verdict::Pass;
        }
        Verdict::Finding(explain(report), Box::new(report.clone()))
    }

    /// Write the `ops.testing` reproducer of a finding (`report`, a run of `data`) beside
    /// the crash artifact libFuzzer is about to write ([`reproducer_path`]), so that the
    /// finding's printout can point at a test to run at once. The crash store's copy is
    /// written again by `charmfuzz triage` from the minimised story.
    pub fn write_reproducer(
        &mut self,
        data: &[u8],
        report: &RunReport,
        artifact: &Path,
    ) -> Result<reproduce::Written, reproduce::ReproError> {
        let command = format!(
            "charmfuzz replay --charm {} {}",
            shell_word(&self.settings.charm_dir.display().to_string()),
            shell_word(&artifact.display().to_string())
        );
        reproduce::write(
            &mut self.target,
            data,
            report,
            &command,
            reproduce::Shape::Auto,
            &reproducer_path(artifact),
        )
    }
}

#[cfg(test)]
mod walk {
    use super::*;
    use crate::engine::ActionKind;
    use crate::fuzzing::{default_charm_dir, random_story};
    use crate::target::TargetConfig;

    /// With `CHARMFUZZ_MAX_STEPS`, the mutator writes inputs that tell stories of at most
    /// that many actions when decoded with no limit (as `replay` and the fuzz target
    /// decode them): it cuts its output, where uncut it would often go past.
    #[test]
    fn the_mutator_keeps_its_step_limit_in_the_bytes_it_writes() {
        let dir = default_charm_dir();
        let charm = Charm::load(&dir).unwrap().for_target();
        let jujuc = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/charmfuzz");
        let limit = 6;
        let settings = FuzzSettings {
            charm_dir: dir,
            config: TargetConfig::default(),
            max_steps: limit,
            only: None,
            structure_mutator: true,
            feedback: Feedback::All,
            cover_ops: false,
            hit_counts: false,
            harness_coverage: false,
            frontier: 0,
            prefix_cache: 0,
            jujuc: jujuc.is_file().then_some(jujuc),
        };
        let mut fuzzer = LifecycleFuzzer::new(settings, charm.clone()).unwrap();
        let parent = random_story(3, 5);
        let steps = |b: &[u8]| charm.decoder(b, None).run_to_end().steps.len();
        let mut past = 0;
        for seed in 0..300u32 {
            let mut buf = parent.clone();
            buf.resize(4096, 0);
            let n = fuzzer.mutate(&mut buf, parent.len(), 4096, seed);
            assert!(
                steps(&buf[..n]) <= limit,
                "seed {seed}: {} steps",
                steps(&buf[..n])
            );
            // The same turn without the cut.
            let mut raw = parent.clone();
            raw.resize(4096, 0);
            let m = fuzzer.mutation(&parent);
            let k = mutate(&m, &mut raw, parent.len(), 4096, seed);
            past += usize::from(steps(&raw[..k]) > limit);
        }
        assert!(
            past > 0,
            "no mutation went past the limit: the test shows nothing"
        );
    }

    /// A story that starts a restore and then ends it (the check recovers) is swept from
    /// the step that started the restore, where `get-status` finds it running (BUG-4); from
    /// the story's end it would find it finished.
    #[test]
    fn a_restore_ended_later_in_its_story_is_swept_from_where_it_started() {
        let dir = default_charm_dir();
        let charm = Charm::load(&dir).unwrap().for_target();
        let jujuc = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/charmfuzz");
        let settings = FuzzSettings {
            charm_dir: dir,
            config: TargetConfig::default(),
            max_steps: 16,
            only: None,
            structure_mutator: true,
            feedback: Feedback::All,
            cover_ops: false,
            hit_counts: false,
            harness_coverage: false,
            frontier: 100,
            prefix_cache: 0,
            jujuc: jujuc.is_file().then_some(jujuc),
        };
        let mut fuzzer = LifecycleFuzzer::new(settings, charm.clone()).unwrap();
        let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/lifecycle/backup-then-churn");
        let mut v = std::fs::read(seed).unwrap();
        let mut rng = Rng::new(7);
        // The seed's backup, then a check fails, recovers, fails again (the restore
        // starts: its step ends at `restore_at` or a few bytes of settling after) and
        // recovers (the restore ends).
        let (mut restore_at, mut first_recovered) = (0, 0);
        for kind in [
            ActionKind::CheckFailed,
            ActionKind::CheckRecovered,
            ActionKind::CheckFailed,
            ActionKind::CheckRecovered,
        ] {
            (first_recovered, restore_at) = (restore_at, v.len());
            let lived = fuzzer.target.run_bytes(&v, Some(16)).unwrap().trace;
            let m = Mutation {
                charm: &charm,
                max_steps: Some(16),
                lived: Some(&lived),
            };
            let appended = (0..2000).find_map(|_| {
                let mut c = v.clone();
                m.append_action(&mut c, &mut rng).then_some(())?;
                let mut d = charm.decoder(&c, Some(16));
                d.simulate_as(&lived);
                let last = d.trace().steps.last()?.action.kind();
                (last == kind).then_some(c)
            });
            v = appended.unwrap_or_else(|| panic!("no {kind:?} appended"));
        }
        // The fuzzer has seen the story up to the first recovery (its sweeps are left
        // aside); then the whole story starts a restore and finishes it, two new steps.
        assert!(matches!(
            fuzzer.run_one(&v[..first_recovered]).unwrap(),
            Verdict::Pass
        ));
        while fuzzer.frontier.sweep_mut().is_some() {
            fuzzer.frontier.sweep_done();
        }
        assert!(matches!(fuzzer.run_one(&v).unwrap(), Verdict::Pass));
        let lived = fuzzer.target.run_bytes(&v, Some(16)).unwrap();
        let restore_ends = lived.step_starts[lived.trace.steps.len() - 1];
        assert!(restore_ends >= restore_at && restore_ends < v.len());
        let sweep = fuzzer
            .frontier
            .sweep_mut()
            .expect("a restore is a new state");
        assert_eq!(
            sweep.end, restore_ends,
            "swept from the step that started the restore"
        );
        // The sweep's turns: one of its next actions is `get-status`, and it fails.
        let mut tried = 0;
        let found = (0..400u32).any(|seed| {
            let mut buf = vec![0u8; 4096];
            let n = fuzzer.mutate(&mut buf, 0, 4096, seed);
            let Some(swept) = fuzzer.frontier.swept.clone() else {
                return false;
            };
            assert_eq!(&buf[..n], &swept[..]);
            assert_eq!(
                &swept[..restore_at],
                &v[..restore_at],
                "the story up to the restore"
            );
            tried += 1;
            matches!(fuzzer.run_one(&swept).unwrap(), Verdict::Finding(ref text, _)
                if text.contains("_on_get_status_action"))
        });
        assert!(found, "no sweep turn found BUG-4 in {tried} tries");
    }
}
