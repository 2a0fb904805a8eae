//! Shrinking a finding to the shortest story that still fails the same way.
//!
//! A fuzzer's input is a story in bytes: the engine reads one byte per choice, and the
//! choices of each action (which action, which relation, which value) sit together, one
//! run of bytes per step. `cargo fuzz tmin` deletes and flips bytes blindly: deleting one
//! byte shifts every later choice onto the wrong question, so the rest of the story
//! changes meaning and the finding is usually lost; it shrinks little.
//!
//! The minimiser here works on steps. The decoder reports where each step's bytes start in
//! the run against the charm ([`RunReport::step_starts`]), so a step can be cut out whole
//! and the later steps keep meaning what they meant:
//!
//! 1. cut everything after the failing step (Juju never got further);
//! 2. delete runs of steps, halving the run length down to single steps (delta debugging);
//! 3. simplify each remaining choice, towards 0: the decoder reads 0 as the first, plainest
//!    option (the first config value, the first relation, the shortest payload).
//!
//! Every candidate decodes to a valid story (any byte string does) and is played against
//! the real charm; it is kept only if it ends with a finding of the same signature. The
//! steps are repeated until nothing more goes.

use crate::target::{RunReport, Target, TargetError};

/// Why a minimisation could not start.
#[derive(Debug, thiserror::Error)]
pub enum MinimizeError {
    #[error("the input ran without a finding: nothing to minimise (is it from this charm?)")]
    NoFinding,
    #[error(transparent)]
    Target(#[from] TargetError),
}

/// What the minimiser is doing, for a progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Cut,
    DeleteSteps,
    Simplify,
}

/// One candidate tried.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub stage: Stage,
    /// Candidates played so far.
    pub runs: u64,
    /// Steps up to the failing one, and bytes, of the best input so far.
    pub steps: usize,
    pub bytes: usize,
}

/// The result: the smallest input found, and its run.
#[derive(Debug)]
pub struct Minimized {
    pub input: Vec<u8>,
    pub report: RunReport,
    /// Steps (actions) up to and including the failing one, before and after.
    pub steps_before: usize,
    pub steps_after: usize,
    /// Candidates played against the charm.
    pub runs: u64,
}

/// Steps (actions) up to and including the one whose event failed.
pub fn failing_steps(report: &RunReport) -> usize {
    report.finding.as_ref().map_or(0, |f| f.step + 1)
}

struct Search<'a, F: FnMut(Progress)> {
    target: &'a mut Target,
    signature: String,
    best: Vec<u8>,
    report: RunReport,
    runs: u64,
    progress: F,
}

impl<F: FnMut(Progress)> Search<'_, F> {
    /// Play `candidate`; keep it if it fails the same way in no more steps.
    fn try_input(&mut self, stage: Stage, candidate: Vec<u8>) -> Result<bool, TargetError> {
        self.runs += 1;
        let report = self.target.run_bytes(&candidate, None)?;
        let same = report
            .finding
            .as_ref()
            .is_some_and(|f| f.signature == self.signature)
            && failing_steps(&report) <= failing_steps(&self.report);
        if same {
            self.best = candidate;
            self.report = report;
        }
        (self.progress)(Progress {
            stage,
            runs: self.runs,
            steps: failing_steps(&self.report),
            bytes: self.best.len(),
        });
        Ok(same)
    }

    /// Where each step of the best input starts, and its end: `steps + 1` offsets.
    fn boundaries(&self) -> Vec<usize> {
        let mut b: Vec<usize> = self
            .report
            .step_starts
            .iter()
            .map(|&s| s.min(self.best.len()))
            .collect();
        b.push(self.best.len());
        b.dedup();
        if b.first() != Some(&0) {
            b.insert(0, 0);
        }
        b
    }

    /// Drop the bytes the run never read (after the failing step, Juju got no further).
    fn cut(&mut self) -> Result<bool, TargetError> {
        let end = self.report.bytes_read;
        if end >= self.best.len() {
            return Ok(false);
        }
        let candidate = self.best[..end].to_vec();
        self.try_input(Stage::Cut, candidate)
    }

    /// Delta debugging over whole steps: remove runs of `k` steps, halving `k`.
    fn delete_steps(&mut self) -> Result<bool, TargetError> {
        let mut changed = false;
        let mut k = (self.boundaries().len() - 1).max(1).div_ceil(2);
        loop {
            let mut i = 0;
            loop {
                let b = self.boundaries();
                let steps = b.len() - 1;
                if i >= steps {
                    break;
                }
                let end = (i + k).min(steps);
                let mut candidate = self.best[..b[i]].to_vec();
                candidate.extend_from_slice(&self.best[b[end]..]);
                if self.try_input(Stage::DeleteSteps, candidate)? {
                    changed = true; // the steps after i moved down: try i again
                } else {
                    i += k;
                }
            }
            if k == 1 {
                return Ok(changed);
            }
            k = k.div_ceil(2);
        }
    }

    /// Make each choice plainer: 0 first, else half its value.
    fn simplify(&mut self) -> Result<bool, TargetError> {
        let mut changed = false;
        let mut i = 0;
        while i < self.best.len() {
            let v = self.best[i];
            for w in [0, v / 2] {
                if w < v {
                    let mut candidate = self.best.clone();
                    candidate[i] = w;
                    if self.try_input(Stage::Simplify, candidate)? {
                        changed = true;
                        break;
                    }
                }
            }
            i += 1;
        }
        Ok(changed)
    }
}

/// Shrink `input` (which must end with a finding when played against `target`) to a
/// shorter story with the same signature. Every candidate is a story of its bytes alone
/// (the decoder's one ceiling, [`crate::charm::STORY_MAX_STEPS`]), so what it returns
/// replays as it failed here, under any command.
pub fn minimize(
    target: &mut Target,
    input: &[u8],
    progress: impl FnMut(Progress),
) -> Result<Minimized, MinimizeError> {
    let report = target.run_bytes(input, None)?;
    let Some(finding) = &report.finding else {
        return Err(MinimizeError::NoFinding);
    };
    let mut s = Search {
        signature: finding.signature.clone(),
        target,
        best: input.to_vec(),
        report,
        runs: 1,
        progress,
    };
    let steps_before = failing_steps(&s.report);
    s.cut()?;
    // Each pass can open the way for another (a simpler choice may leave a step with
    // nothing to do); three rounds reach the fixpoint on the stories we have seen.
    for _ in 0..3 {
        let deleted = s.delete_steps()?;
        let simplified = s.simplify()?;
        s.cut()?;
        if !deleted && !simplified {
            break;
        }
    }
    Ok(Minimized {
        steps_before,
        steps_after: failing_steps(&s.report),
        input: s.best,
        report: s.report,
        runs: s.runs,
    })
}
