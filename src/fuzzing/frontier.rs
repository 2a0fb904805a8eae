//! The frontier: the inputs that lately made the charm do something new, and the sweeps
//! that try every action that could follow them.
//!
//! libFuzzer chooses the input to mutate from its whole corpus; the [`Frontier`] is how
//! the fuzzer follows a path of new steps while it is fresh (its docs tell why, and how
//! the next sweep is chosen). [`SlotsSeen`] counts how many inputs hit each coverage slot:
//! what makes an input a [`Discovery`], and how rare a discovery has stayed since.
//! [`FrontierStats`] is what the fuzz target prints of it every so often.

use super::mutation::{NextAction, Rng};

/// Which coverage slots the inputs of this process have hit, and how many inputs hit each:
/// what makes an input a discovery, as libFuzzer judges it with hit counts flattened
/// ([`CoverageMap::flatten`]), and how rare a discovery has stayed since.
///
/// [`CoverageMap::flatten`]: crate::target::coverage::CoverageMap::flatten
#[derive(Default)]
pub struct SlotsSeen(Vec<u32>);

impl SlotsSeen {
    /// Note what one input hit (`counters`, the bitmap after its run); the slots no input
    /// hit before it.
    pub fn note(&mut self, counters: &[u8]) -> Vec<usize> {
        self.note_as(counters, true)
    }

    /// [`SlotsSeen::note`], counting the input among those that hit each slot only if
    /// `count`; uncounted, it still makes the slots it hit first seen (once).
    pub fn note_as(&mut self, counters: &[u8], count: bool) -> Vec<usize> {
        if self.0.len() < counters.len() {
            self.0.resize(counters.len(), 0);
        }
        let mut new = Vec::new();
        for (i, (hits, &c)) in self.0.iter_mut().zip(counters).enumerate() {
            if c != 0 {
                if *hits == 0 {
                    new.push(i);
                    *hits = 1;
                } else if count {
                    *hits = hits.saturating_add(1);
                }
            }
        }
        new
    }

    /// How many of the inputs noted so far hit `slot`.
    pub fn hits(&self, slot: usize) -> u32 {
        self.0.get(slot).copied().unwrap_or(0)
    }
}

/// The inputs that lately made the charm do something this process had never seen it do,
/// newest first: where the mutator tells stories further ([`LifecycleFuzzer::mutate`]).
///
/// A lifecycle bug several steps deep is reached one step at a time, and each step is
/// reached by extending the input that reached the step before. libFuzzer chooses the
/// input to mutate from its whole corpus, which soon holds hundreds of stories, so the one
/// story that has just made a failing check recover is chosen once in hundreds of turns;
/// libFuzzer's custom mutator receives that choice and has no say in it. So the fuzzer
/// keeps its own short queues of the newest discoveries and, in a share of the turns (a
/// quarter by default, [`DEFAULT_FRONTIER`]), tells one of them further instead: the newest
/// with probability 1/2, the one before with 1/4, and so on. This is the "newest first" of
/// AFL's queue and of Zest's favouring of fresh inputs. The other turns stay with
/// libFuzzer's choice, so older stories are still mutated, early steps included.
///
/// Two queues, because discoveries differ in worth. New lines or arcs of the charm's code,
/// and new changes of what it remembers (the `memory` lifecycle feature: a check that
/// failed *after a backup was taken* moves the charm to a state it never had), are rare
/// after the first minutes, and each is a step into behaviour never run; a new lifecycle
/// feature of another sort (one more hook-after-hook pair, a status after a hook, a field
/// of the memory after a kind of hook) comes every few runs. In one queue, the
/// rare step would be pushed out by the common ones within a few dozen runs; so two turns
/// in three extend an input that ran new code or reached a new state.
///
/// And such an input is swept: each action that could come next (every kind Juju could
/// offer there, and every operator action of the charm) is tried once, in half of the
/// frontier's turns, right after each step that first hit new code or state
/// ([`Frontier::observe_steps`]), not at the story's end, where what the step began has
/// often ended. A lifecycle bug's next step is often one particular action right
/// after the step before (`get-status` while a restore runs, not after the next check
/// event ended it), which a random pick among twenty-odd kinds and several action names
/// finds once in a hundred tries; the sweep, in thirty.
///
/// Sweeps are few (one turn in nine, some thirty turns each), and discoveries many, so
/// which input is swept next decides whether a deep path is followed at all. The next
/// sweep is the pending one most *worth* sweeping: the number of slots its step hit first,
/// over the number of inputs that have hit the rarest of them since. Rare, as FairFuzz
/// targets rare branches: the one story that started a restore stays rare, since only its
/// own descendants start one, while a new hook pairing found by one input is soon hit by
/// dozens. And big: a step that ran a whole new handler (a restore: a dozen lines and arcs
/// and a new state at once) is a larger step into new behaviour than one more arc, and at
/// equal rarity goes first. A sweep's own inputs are not counted (each of them hits
/// what its input hit), so a sweep left for a deeper one keeps its worth. The newest went
/// first before, and within a few dozen runs a stream of common discoveries pushed the
/// restore out of the queue before it was swept. A sweep once begun runs to its end,
/// unless one of its own inputs does something new that is worth as much: then the path
/// goes on at once, depth first, and the child is swept before its parent's sweep resumes
/// (a bug four steps past a backup is four sweeps deep, each finding its step halfway
/// through). A child worth less waits: a restore's sweep is not left for the action after
/// it that changed the charm's memory once more (a recovery, ending the restore). And a
/// sweep is set aside, to resume where it was, when a pending one is worth more than it
/// was when it began: a path of one-field memory changes (a counter going up) would
/// otherwise hold the sweeps for hundreds of runs while the story that started a restore
/// waited. So sweeps go best first; among equals the newest, which makes a sweep's own
/// discovery go first (depth first). The sweep under way is weighed at its worth when it
/// began, the pending ones at their worth now: a sweep's worth falls while it runs, as
/// libFuzzer's own mutations of the same story hit what it found, and weighed as it was
/// now, each fresh discovery of one arc set it aside (the campaign bench's seed 2 began 28
/// sweeps in 1,500 runs and finished 3; weighed as it began, 10 and 5).
///
/// Depth first works only if "new state" is rare and means a state. When it counted each
/// field of the charm's memory after each kind of hook (the `stored` feature), nearly
/// every action after a backup was a new state (`config-changed` with a backup taken, then
/// `update-status` with one…), the first option of each sweep went a level deeper, and
/// campaigns went five sweeps deep along whatever came first and never finished one (the
/// figures [`FrontierStats`] prints). Counted as changes of the whole memory (`memory`),
/// most actions change nothing, and the levels of a path are the charm's own states:
/// a backup, a restart after a failure, a recovery, a restore.
///
/// [`LifecycleFuzzer::mutate`]: super::LifecycleFuzzer::mutate
/// [`DEFAULT_FRONTIER`]: super::DEFAULT_FRONTIER
#[derive(Default)]
pub struct Frontier {
    /// Every counter slot some input of this process has hit.
    seen: SlotsSeen,
    /// The slots of the charm's code, then of the changes of its memory (the `memory`
    /// lifecycle features); the rest are other lifecycle features.
    code_len: usize,
    state: std::ops::Range<usize>,
    /// Inputs that ran new code or reached a new state, the newest last.
    code: std::collections::VecDeque<Vec<u8>>,
    /// Inputs that reached only new lifecycle features, the newest last.
    features: std::collections::VecDeque<Vec<u8>>,
    /// Inputs that ran new code or reached a new state, each to be followed by every
    /// action that could come next, one per turn ([`LifecycleFuzzer::mutate`]); the
    /// newest last.
    sweeps: Vec<Sweep>,
    /// The sweep under way, run to its end before the next is chosen (unless one of its
    /// own inputs is a discovery).
    sweeping: Option<Sweep>,
    /// The last input a sweep produced: if it runs new code or reaches a new state worth
    /// as much as the sweep under way, it is swept next.
    pub(super) swept: Option<Vec<u8>>,
    pub(super) stats: FrontierStats,
}

/// What the frontier has done so far in this process ([`Frontier::stats`]): printed every
/// so often by the fuzz target, so that a campaign shows whether it follows paths of new
/// steps (sweeps finishing, going deeper) or only gathers discoveries it never gets to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrontierStats {
    /// Inputs that ran new code or reached a new state.
    pub code: usize,
    /// Inputs that reached only new lifecycle features.
    pub features: usize,
    /// Of the `code` discoveries, those a sweep's turn made.
    pub by_sweeps: usize,
    /// Sweeps begun, and those that tried every next action.
    pub sweeps_begun: usize,
    pub sweeps_done: usize,
    /// Mutations the sweeps made (one next action each).
    pub sweep_turns: usize,
    /// Sweeps set aside for a pending one worth more, to resume later.
    pub set_aside: usize,
    /// Sweeps waiting.
    pub pending: usize,
    /// How many sweeps deep the path under way is (a sweep of a sweep's discovery is one
    /// deeper), and the deepest so far.
    pub depth: usize,
    pub max_depth: usize,
}

impl std::fmt::Display for FrontierStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} new code/state ({} by sweeps), {} new features; sweeps {} done of {} begun \
             ({} turns, {} set aside), {} pending, depth {} (deepest {})",
            self.code,
            self.by_sweeps,
            self.features,
            self.sweeps_done,
            self.sweeps_begun,
            self.sweep_turns,
            self.set_aside,
            self.pending,
            self.depth,
            self.max_depth
        )
    }
}

/// An input whose every possible next action is being tried, one per mutation.
pub(super) struct Sweep {
    pub(super) input: Vec<u8>,
    /// Where the actions are tried: the end of the step that first hit `found`
    /// ([`Frontier::observe_steps`]), the input's end when that is not known.
    pub(super) end: usize,
    /// The slots of code or state this input hit first (at the step before `end`): its
    /// worth is theirs ([`Frontier::worth`]).
    found: Vec<usize>,
    /// What could come next ([`Mutation::next_options`]), listed at the first turn.
    pub(super) options: Option<Vec<NextAction>>,
    /// The next option to try.
    pub(super) next: usize,
    /// How many sweeps led here: 0 for a discovery of libFuzzer's own pick, one more than
    /// the sweep whose turn made it.
    depth: usize,
    /// What it was worth when it became the sweep under way ([`Frontier::begin`]): what it
    /// is weighed at while under way.
    begun_at: f64,
}

/// What an input did that no input had done before ([`Frontier::observe`]), least first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Discovery {
    Nothing,
    /// A lifecycle feature (an ordering of hooks, a response), and no new code or state.
    Feature,
    /// A line or arc of the charm's code, or a new shape of what the charm remembers.
    Code,
}

impl Frontier {
    const CAPACITY: usize = 16;
    /// Sweeps pending at most; past it the commonest is dropped.
    const SWEEPS: usize = 32;

    /// A frontier over a bitmap whose first `code_len` slots are the charm's code and whose
    /// `state` slots are what the charm remembers ([`CoverageMap::state_slots`]).
    ///
    /// [`CoverageMap::state_slots`]: crate::target::coverage::CoverageMap::state_slots
    pub fn new(code_len: usize, state: std::ops::Range<usize>) -> Frontier {
        Frontier {
            code_len,
            state,
            ..Frontier::default()
        }
    }

    /// Note what `input` hit (`counters`, the bitmap after its run); an input that hit a
    /// slot no input hit before joins the queue of its kind of discovery.
    pub fn observe(&mut self, input: &[u8], counters: &[u8]) -> Discovery {
        self.observe_steps(input, counters, |_| None, &[])
    }

    /// [`Frontier::observe`], knowing at which step of its story the run first hit each
    /// slot (`first_step`, [`CoverageMap::first_step`]) and where each step's bytes start
    /// (`step_starts`). A discovery is then swept from the end of each step that did
    /// something new, not from the end of its story: a story that starts a restore and
    /// goes on has usually ended it again (a check recovers, the model is destroyed)
    /// before its end, where no next action finds the restore running; and a story at
    /// the step limit has no next action at all. Each step's sweep is worth what that step
    /// hit first.
    ///
    /// [`CoverageMap::first_step`]: crate::target::coverage::CoverageMap::first_step
    pub fn observe_steps(
        &mut self,
        input: &[u8],
        counters: &[u8],
        first_step: impl Fn(usize) -> Option<usize>,
        step_starts: &[usize],
    ) -> Discovery {
        let from_sweep = self.swept.take().is_some_and(|v| v == input);
        // A sweep's inputs all hit what its input hit; counted, they would make any slot
        // of a swept input look common ([`Frontier::worth`]).
        let new = self.seen.note_as(counters, !from_sweep);
        let code: Vec<usize> = (new.iter().copied())
            .filter(|&i| i < self.code_len || self.state.contains(&i))
            .collect();
        let found = match (code.is_empty(), new.is_empty()) {
            (false, _) => Discovery::Code,
            (true, false) => Discovery::Feature,
            (true, true) => Discovery::Nothing,
        };
        let queue = match found {
            Discovery::Nothing => return found,
            Discovery::Code => {
                // One sweep per step that first hit something new, from that step's end:
                // the new slots grouped by the end of the step that first hit them (the
                // story's end when not known), the earliest step swept first among equals.
                let mut by_end = std::collections::BTreeMap::<usize, Vec<usize>>::new();
                for &i in &code {
                    let end = (first_step(i).and_then(|k| step_starts.get(k + 1)).copied())
                        .filter(|&end| end < input.len());
                    by_end
                        .entry(end.unwrap_or(input.len()))
                        .or_default()
                        .push(i);
                }
                let depth = match &self.sweeping {
                    Some(s) if from_sweep => s.depth + 1,
                    _ => 0,
                };
                let mut sweeps: Vec<Sweep> = (by_end.into_iter().rev())
                    .map(|(end, found)| Sweep {
                        input: input.to_vec(),
                        end,
                        found,
                        options: None,
                        next: 0,
                        depth,
                        begun_at: 0.0,
                    })
                    .collect();
                self.stats.code += 1;
                self.stats.by_sweeps += usize::from(from_sweep);
                // A step further along the path being swept (what it did new, it did at
                // the step the sweep appended, the deepest): follow it first, unless the
                // sweep under way is worth more (a restore just begun is not left for the
                // one action after it that changed the charm's memory again).
                let deeper = from_sweep
                    && (self.sweeping.as_ref())
                        .is_none_or(|s| self.worth(&sweeps[0]) >= s.begun_at);
                if deeper {
                    let deepest = sweeps.remove(0);
                    sweeps.extend(self.begin(deepest));
                }
                for sweep in sweeps {
                    if self.sweeps.len() >= Self::SWEEPS {
                        // The least worth goes; the oldest of those (`min_by` keeps the
                        // first minimum).
                        let least = (0..self.sweeps.len()).min_by(|&i, &j| self.by_worth(i, j));
                        if let Some(i) = least {
                            self.sweeps.remove(i);
                        }
                    }
                    self.sweeps.push(sweep);
                }
                &mut self.code
            }
            Discovery::Feature => {
                self.stats.features += 1;
                &mut self.features
            }
        };
        if queue.len() >= Self::CAPACITY {
            queue.pop_front();
        }
        queue.push_back(input.to_vec());
        found
    }

    /// One of the recent discoveries: two times in three one that ran new code or state (if any),
    /// and within a queue the newest with probability 1/2, the next with 1/4…
    pub fn pick(&self, rng: &mut Rng) -> Option<&[u8]> {
        let queue = match (self.code.is_empty(), self.features.is_empty()) {
            (true, true) => return None,
            (false, true) => &self.code,
            (true, false) => &self.features,
            (false, false) if rng.below(3) < 2 => &self.code,
            (false, false) => &self.features,
        };
        let n = queue.len();
        let back = (rng.next_u64() | (1 << 63)).trailing_zeros() as usize;
        Some(&queue[n - 1 - back.min(n - 1)])
    }

    /// What sweeping `sweep` is worth: how many slots its step hit first, over how many
    /// inputs have hit the rarest of them since (sweeps' own inputs not counted).
    fn worth(&self, sweep: &Sweep) -> f64 {
        let rarest = (sweep.found.iter().map(|&i| self.seen.hits(i)).min()).unwrap_or(u32::MAX);
        sweep.found.len() as f64 / f64::from(rarest.max(1))
    }

    /// Pending sweeps `i` and `j` ordered by what they are worth.
    fn by_worth(&self, i: usize, j: usize) -> std::cmp::Ordering {
        self.worth(&self.sweeps[i])
            .total_cmp(&self.worth(&self.sweeps[j]))
    }

    /// The pending sweep most worth sweeping; the newest among equals (`max_by` keeps the
    /// last maximum).
    fn best(&self) -> Option<usize> {
        (0..self.sweeps.len()).max_by(|&i, &j| self.by_worth(i, j))
    }

    /// Make `sweep` the one under way, at what it is worth now; the one it replaces, if any.
    fn begin(&mut self, mut sweep: Sweep) -> Option<Sweep> {
        // A sweep set aside and resumed is not begun again.
        self.stats.sweeps_begun += usize::from(sweep.next == 0);
        sweep.begun_at = self.worth(&sweep);
        self.stats.max_depth = self.stats.max_depth.max(sweep.depth);
        self.sweeping.replace(sweep)
    }

    /// The sweep under way, unless a pending one is worth more than it was when it began:
    /// then, or when no sweep is under way, the pending one most worth sweeping (the newest
    /// of those). A sweep set aside resumes where it was. `None` when no sweep is pending.
    pub(super) fn sweep_mut(&mut self) -> Option<&mut Sweep> {
        let best = self.best();
        let worth_more = |s: &Sweep| best.is_some_and(|i| self.worth(&self.sweeps[i]) > s.begun_at);
        if self.sweeping.as_ref().is_none_or(worth_more) {
            let sweep = self.sweeps.remove(best?);
            let aside = self.begin(sweep);
            self.stats.set_aside += usize::from(aside.is_some());
            self.sweeps.extend(aside);
        }
        self.sweeping.as_mut()
    }

    /// The sweep under way has tried every next action.
    pub(super) fn sweep_done(&mut self) {
        self.sweeping = None;
        self.stats.sweeps_done += 1;
    }

    /// What the frontier has done so far.
    pub fn stats(&self) -> FrontierStats {
        FrontierStats {
            pending: self.sweeps.len(),
            depth: self.sweeping.as_ref().map_or(0, |s| s.depth),
            ..self.stats
        }
    }

    /// How many inputs the queues hold.
    pub fn len(&self) -> usize {
        self.code.len() + self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frontier_keeps_the_newest_discoveries_and_favours_new_code() {
        // Slots 0..32 are the charm's code, 32..64 lifecycle features, the last 2 of them
        // the charm's memory.
        let mut f = Frontier::new(32, 62..64);
        let mut map = vec![0u8; 64];
        map[63] = 1;
        assert_eq!(f.observe(b"state", &map), Discovery::Code, "a new memory");
        map[63] = 0;
        map[3] = 1;
        assert_eq!(f.observe(b"first", &map), Discovery::Code);
        assert_eq!(f.observe(b"again", &map), Discovery::Nothing);
        map[40] = 1;
        assert_eq!(f.observe(b"feature", &map), Discovery::Feature);
        map[5] = 1;
        map[41] = 1;
        assert_eq!(f.observe(b"both", &map), Discovery::Code);
        map.fill(0);
        map[3] = 1;
        assert_eq!(f.observe(b"less", &map), Discovery::Nothing);
        assert_eq!(f.len(), 4);
        // Twenty more features and one more line: both queues are bounded.
        for i in 0..20u8 {
            map.fill(0);
            map[i as usize + 42] = 1;
            assert_eq!(f.observe(&[i], &map), Discovery::Feature);
        }
        map[9] = 1;
        f.observe(b"code", &map);
        assert_eq!(
            f.len(),
            4 + Frontier::CAPACITY,
            "4 inputs ran new code or state"
        );
        let mut rng = Rng::new(7);
        let picks: Vec<&[u8]> = (0..6000).map(|_| f.pick(&mut rng).unwrap()).collect();
        let count = |x: &[u8]| picks.iter().filter(|p| **p == x).count();
        // Two turns in three go to new code, half of those to the newest: 2000 of 6000.
        let newest_code = count(b"code");
        assert!((1800..2200).contains(&newest_code), "{newest_code}");
        assert!((900..1100).contains(&count(b"both")), "{}", count(b"both"));
        // One turn in three to the features, half of those to the newest: 1000.
        assert!((900..1100).contains(&count(&[19])), "{}", count(&[19]));
        assert_eq!(
            count(b"feature"),
            0,
            "pushed out of its queue by newer ones"
        );
        assert_eq!(
            count(b"less") + count(b"again"),
            0,
            "nothing new, never kept"
        );
    }

    #[test]
    fn a_discovery_is_swept_from_the_end_of_each_step_that_did_something_new() {
        let mut f = Frontier::new(64, 62..64);
        // Four steps of two bytes each; slot 1 (new code) first hit at step 0, slot 62 (a
        // new state) at step 1, slot 64 (only a new hook pairing) at step 2.
        let (input, starts) = (b"aabbccdd", [0, 2, 4, 6]);
        let mut map = vec![0u8; 128];
        for i in [1, 62, 64, 70] {
            map[i] = 1;
        }
        let at = |slot| match slot {
            1 => Some(0),
            62 => Some(1),
            64 => Some(2),
            _ => None,
        };
        assert_eq!(f.observe_steps(input, &map, at, &starts), Discovery::Code);
        // One sweep per step that did something new, the earliest first among equals.
        for (from, found) in [(&b"aa"[..], [1]), (b"aabb", [62])] {
            let sweep = f.sweep_mut().unwrap();
            assert_eq!(
                (&sweep.input[..sweep.end], &sweep.found[..]),
                (from, &found[..])
            );
            f.sweep_done();
        }
        assert!(
            f.sweep_mut().is_none(),
            "a new hook pairing alone is not swept"
        );
        // New code in the last step, or steps not known: the whole story.
        map[5] = 1;
        let last = |slot| (slot == 5).then_some(3);
        f.observe_steps(b"aabbccde", &map, last, &starts);
        let sweep = f.sweep_mut().unwrap();
        assert_eq!(&sweep.input[..sweep.end], b"aabbccde");
        f.sweep_done();
        map[6] = 1;
        f.observe(b"aabbccdf", &map);
        let sweep = f.sweep_mut().unwrap();
        assert_eq!(&sweep.input[..sweep.end], b"aabbccdf");
    }

    /// `f` observes `input`, which hit `slots` of a 128-slot map.
    fn hit(f: &mut Frontier, input: &[u8], slots: &[usize]) -> Discovery {
        let mut map = vec![0u8; 128];
        for &i in slots {
            map[i] = 1;
        }
        f.observe(input, &map)
    }

    #[test]
    fn a_bigger_discovery_is_swept_first_and_left_only_for_a_step_worth_as_much() {
        let mut f = Frontier::new(64, 62..64);
        hit(&mut f, b"one arc", &[1]);
        hit(&mut f, b"restore", &[2, 3, 4, 5]);
        hit(&mut f, b"another arc", &[6]);
        let sweep = f.sweep_mut().unwrap();
        assert_eq!(sweep.input, b"restore", "four new slots, as rare as one");
        // The sweep's own inputs do not make what it found look common.
        for _ in 0..10 {
            f.swept = Some(b"restore+status".to_vec());
            assert_eq!(
                hit(&mut f, b"restore+status", &[2, 3, 4, 5]),
                Discovery::Nothing
            );
        }
        assert_eq!(f.seen.hits(2), 1);
        // A step after the restore that changed the charm's memory once more (one new
        // slot, worth less than the restore's four) waits for the restore's sweep.
        f.swept = Some(b"restore+recovered".to_vec());
        assert_eq!(
            hit(&mut f, b"restore+recovered", &[2, 3, 4, 5, 62]),
            Discovery::Code
        );
        assert_eq!(f.sweep_mut().unwrap().input, b"restore");
        f.sweep_done();
        assert_eq!(
            f.sweep_mut().unwrap().input,
            b"restore+recovered",
            "then the newest of those worth as much"
        );
    }

    #[test]
    fn the_rarer_discovery_is_swept_next_and_a_sweep_runs_to_its_end_or_to_a_step_further() {
        let mut f = Frontier::new(64, 62..64);
        assert_eq!(hit(&mut f, b"pairing", &[1]), Discovery::Code);
        assert_eq!(hit(&mut f, b"restore", &[1, 2]), Discovery::Code);
        // Dozens of later inputs hit slot 1 again, a few slot 3, none slot 2.
        for _ in 0..40 {
            assert_eq!(hit(&mut f, b"churn", &[1]), Discovery::Nothing);
        }
        assert_eq!(hit(&mut f, b"check", &[3]), Discovery::Code);
        for _ in 0..3 {
            hit(&mut f, b"check again", &[3]);
        }
        let swept = f.sweep_mut().map(|s| s.input.clone());
        assert_eq!(
            swept.as_deref(),
            Some(&b"restore"[..]),
            "hit by one input only"
        );
        // The sweep's own inputs all hit its slots; they do not count.
        f.sweep_mut().unwrap().next = 2;
        for _ in 0..10 {
            f.swept = Some(b"restore+1".to_vec());
            hit(&mut f, b"restore+1", &[1, 2]);
        }
        assert_eq!(f.seen.hits(2), 1);
        // A discovery as rare waits for the sweep under way, even once other inputs
        // (libFuzzer's mutations of the same story) have made the restore common: a
        // sweep under way is weighed at what it was worth when it began…
        assert_eq!(hit(&mut f, b"as rare", &[4]), Discovery::Code);
        for _ in 0..10 {
            hit(&mut f, b"restore again", &[1, 2]);
        }
        assert_eq!(f.sweep_mut().unwrap().input, b"restore");
        assert_eq!(f.stats().set_aside, 0);
        // …and is set aside only for one worth more than that; it resumes later where it
        // was, by what it is worth then.
        assert_eq!(hit(&mut f, b"bigger", &[8, 9]), Discovery::Code);
        assert_eq!(f.sweep_mut().unwrap().input, b"bigger");
        assert_eq!(f.stats().set_aside, 1);
        f.sweep_done();
        let order: Vec<(Vec<u8>, usize)> = std::iter::from_fn(|| {
            let sweep = f.sweep_mut()?;
            let seen = (sweep.input.clone(), sweep.next);
            f.sweep_done();
            Some(seen)
        })
        .collect();
        assert_eq!(
            order,
            [
                (b"as rare".to_vec(), 0),
                (b"check".to_vec(), 0),
                (b"restore".to_vec(), 2),
                (b"pairing".to_vec(), 0)
            ],
            "rarest first"
        );
        // A discovery by the sweep's own input is swept at once; its parent resumes later.
        assert_eq!(hit(&mut f, b"backup", &[6]), Discovery::Code);
        assert_eq!(f.sweep_mut().unwrap().input, b"backup");
        f.sweep_mut().unwrap().next = 3;
        f.swept = Some(b"backup+failed".to_vec());
        assert_eq!(hit(&mut f, b"backup+failed", &[6, 7]), Discovery::Code);
        assert_eq!(f.sweep_mut().unwrap().input, b"backup+failed");
        f.sweep_done();
        let parent = f.sweep_mut().unwrap();
        assert_eq!((&parent.input[..], parent.next), (&b"backup"[..], 3));
        f.sweep_done();
        // Only the input the sweep has just produced preempts it, and only as the next run.
        assert_eq!(hit(&mut f, b"under way", &[50]), Discovery::Code);
        assert_eq!(f.sweep_mut().unwrap().input, b"under way");
        f.swept = Some(b"under way+1".to_vec());
        assert_eq!(hit(&mut f, b"unrelated", &[51]), Discovery::Code);
        assert_eq!(hit(&mut f, b"under way+1", &[52]), Discovery::Code);
        assert_eq!(f.sweep_mut().unwrap().input, b"under way");
        f.sweep_done();
        for _ in 0..2 {
            f.sweep_mut();
            f.sweep_done();
        }
        // A full list drops its commonest, not its oldest.
        for i in 0..Frontier::SWEEPS {
            assert_eq!(hit(&mut f, &[i as u8], &[10 + i]), Discovery::Code);
        }
        for _ in 0..5 {
            hit(&mut f, b"common", &[10]);
        }
        assert_eq!(
            hit(&mut f, b"one more", &[63]),
            Discovery::Code,
            "a new state"
        );
        let pending: Vec<&[u8]> = f.sweeps.iter().map(|s| &s.input[..]).collect();
        assert_eq!(pending.len(), Frontier::SWEEPS);
        assert!(
            !pending.contains(&&[0u8][..]),
            "slot 10, hit six times, goes"
        );
        assert!(pending.contains(&&[1u8][..]) && pending.contains(&&b"one more"[..]));
        // Among those worth as little, the oldest goes.
        assert_eq!(hit(&mut f, b"and another", &[61]), Discovery::Code);
        let pending: Vec<&[u8]> = f.sweeps.iter().map(|s| &s.input[..]).collect();
        assert!(!pending.contains(&&[1u8][..]), "the oldest of the rest");
        assert!(pending.contains(&&[2u8][..]) && pending.contains(&&b"and another"[..]));
    }
}
