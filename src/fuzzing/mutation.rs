//! The structure-aware mutations: what the mutator knows about a story's structure, and
//! the mutants it makes of it.
//!
//! An input is a sequence of steps, each the bytes of its choices, and the decoder
//! reports, at the story's end and at each decision inside it, which actions Juju could
//! let happen there and the byte that selects each. [`Mutation`] decodes an input as the
//! charm lived it ([`LivedTraces`]), so that it sees the same options, and writes the
//! bytes of a valid step where it wants one: appended at the end
//! ([`Mutation::next_options`], [`Mutation::append_next`]) or inserted at a decision.
//! Whole steps are cut, duplicated and swapped at the byte offsets where each step's
//! choices begin ([`step_boundaries`]).
//!
//! [`mutate`] is libFuzzer's custom mutator, [`extend`] the frontier's, [`crossover`] the
//! splice of two stories ([`crossover_bytes`] for the `bytes` arm); [`dictionary`] gives
//! libFuzzer's own byte mutations whole steps to insert. Every draw comes from [`Rng`],
//! seeded by libFuzzer, so a mutant is reproducible from its seed.

use super::random::random_story;
use crate::charm::Charm;
use crate::engine::{Action, ActionKind, Decoder, Trace};

/// A small, seeded random number generator (splitmix64): mutations must be reproducible
/// from libFuzzer's seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// A libFuzzer dictionary for a charm (`-dict=`): not words, which mean nothing to a
/// decoder that reads one byte per choice, but whole steps. Random stories are decoded
/// (every hook succeeding) and the bytes of each step are kept, up to `per_kind` distinct
/// ones per kind of action, shortest first; libFuzzer's own mutations (and the `bytes`
/// arm) then insert a whole plausible action where they would flip one byte.
pub fn dictionary(charm: &Charm, stories: u64, per_kind: usize) -> String {
    use std::collections::{BTreeMap, BTreeSet};
    let mut snippets: BTreeMap<&'static str, BTreeSet<(usize, Vec<u8>)>> = BTreeMap::new();
    for seed in 0..stories {
        let data = random_story(seed, 16);
        let mut d = charm.decoder(&data, Some(16));
        d.simulate();
        let mut ends: Vec<usize> = d.step_starts().iter().skip(1).copied().collect();
        ends.push(d.position().min(data.len()));
        let starts = d.step_starts().to_vec();
        for ((step, &start), &end) in d.trace().steps.iter().zip(&starts).zip(&ends) {
            if start < end && end - start <= 64 {
                snippets
                    .entry(step.action.kind().as_str())
                    .or_default()
                    .insert((end - start, data[start..end].to_vec()));
            }
        }
    }
    let mut out = format!(
        "# libFuzzer dictionary for the charm {}: encoded steps, by kind of action.\n\
         # Made by `charmfuzz dict`; pass it with -dict=FILE.\n",
        charm.spec.name
    );
    for (kind, set) in &snippets {
        for (i, (_, bytes)) in set.iter().take(per_kind).enumerate() {
            let escaped: String = bytes.iter().map(|b| format!("\\x{b:02x}")).collect();
            out.push_str(&format!("{}_{i}=\"{escaped}\"\n", kind.replace('-', "_")));
        }
    }
    out
}

/// The byte ranges of an input's steps, as the engine decodes it (every hook succeeding):
/// `[start_0, start_1, …, len]`.
pub fn step_boundaries(charm: &Charm, data: &[u8]) -> Vec<usize> {
    let mut d = charm.decoder(data, None);
    d.simulate();
    boundaries(&d, data.len())
}

/// One action that could come next at a story's end ([`Mutation::next_options`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextAction {
    pub kind: ActionKind,
    /// The byte that makes the decoder choose `kind` there.
    pub byte: u8,
    /// For an operator action, which of the charm's actions.
    pub name: Option<String>,
}

/// What the structure-aware mutator knows when it mutates an input.
#[derive(Clone, Copy)]
pub struct Mutation<'a> {
    pub charm: &'a Charm,
    /// The fuzzer's limit of actions per story: a story at the limit cannot be extended.
    pub max_steps: Option<usize>,
    /// The trace the charm lived when this process ran the input, if it did
    /// ([`LivedTraces`]): which options the decoder offered depended on what the charm did
    /// (the checks its Pebble layer declared, the data it wrote, the hooks that failed),
    /// and the mutator must see the same options to write bytes that mean what it intends.
    pub lived: Option<&'a Trace>,
}

impl<'a> Mutation<'a> {
    /// Decode `data` as the charm would live it, recording every step decision.
    fn decode<'b>(&'b self, data: &'b [u8]) -> Decoder<'b, 'b>
    where
        'a: 'b,
    {
        let mut d = self.charm.decoder(data, self.max_steps).record_choices();
        match self.lived {
            Some(t) => d.simulate_as(t),
            None => d.simulate(),
        }
        d
    }

    /// The end of the new step that starts with `kind_byte` at `at` in `prefix + kind_byte
    /// + random argument bytes`: its bytes, exactly as many as the decoder reads.
    fn new_step(&self, prefix: &[u8], kind_byte: u8, rng: &mut Rng) -> Option<(Vec<u8>, Action)> {
        let at = prefix.len();
        let mut cand = prefix.to_vec();
        cand.push(kind_byte);
        cand.extend((0..32).map(|_| rng.next_u64() as u8));
        let d = self.decode(&cand);
        let i = d.step_starts().iter().position(|&s| s == at)?;
        let end = d.step_ends()[i].clamp(at + 1, cand.len());
        Some((cand[at..end].to_vec(), d.trace().steps[i].action.clone()))
    }

    /// Append one valid action at the story's end, once the unit is idle: one of the
    /// action kinds Juju could let happen there, chosen uniformly (not by the decoder's
    /// weights, which favour the common), with random arguments.
    ///
    /// A third of the time the kind is one that has just become possible (a failing check
    /// can now recover, a new relation can now be broken), a third of the time one the
    /// story never took: what the charm has never been asked to do is where new
    /// behaviour is.
    pub(super) fn append_action(&self, v: &mut Vec<u8>, rng: &mut Rng) -> bool {
        let (at, settle, kind_byte, ran) = {
            let d = self.decode(v);
            let Some(ext) = d.extension() else {
                return false;
            };
            let taken: Vec<ActionKind> = d.trace().steps.iter().map(|s| s.action.kind()).collect();
            let before: &[(ActionKind, u8)] = d.choice_points().last().map_or(&[], |p| &p.actions);
            let pick = |keep: &dyn Fn(&ActionKind) -> bool| -> Vec<u8> {
                ext.actions
                    .iter()
                    .filter(|(k, _)| keep(k))
                    .map(|(_, b)| *b)
                    .collect()
            };
            let newly_possible = pick(&|k| !before.iter().any(|(b, _)| b == k));
            // An operator action is as many kinds of action as the charm has actions.
            let never_taken = pick(&|k| !taken.contains(k) || *k == ActionKind::RunAction);
            let all = pick(&|_| true);
            let (from, fresh) = match rng.below(3) {
                0 if !newly_possible.is_empty() => (&newly_possible, false),
                1 if !never_taken.is_empty() => (&never_taken, true),
                _ => (&all, false),
            };
            let byte = from[rng.below(from.len())];
            let names: Vec<String> = d
                .trace()
                .steps
                .iter()
                .filter_map(|s| action_name(&s.action))
                .collect();
            (ext.at, ext.settle.clone(), byte, fresh.then_some(names))
        };
        // An operator action the story already ran is not new: try other arguments.
        let new = |a: &Action| {
            !ran.as_ref()
                .is_some_and(|ran| action_name(a).is_some_and(|n| ran.contains(&n)))
        };
        self.append_step(v, (at, &settle), kind_byte, 8, rng, &new)
            .is_some()
    }

    /// Append the step that starts with `kind_byte` after `v[..at] + settle`, with random
    /// arguments: up to `tries` argument draws, the first that `want` accepts (else the
    /// last). `None` when no step decodes there, else whether `want` accepted it.
    fn append_step(
        &self,
        v: &mut Vec<u8>,
        (at, settle): (usize, &[u8]),
        kind_byte: u8,
        tries: usize,
        rng: &mut Rng,
        want: &dyn Fn(&Action) -> bool,
    ) -> Option<bool> {
        let mut prefix = v[..at.min(v.len())].to_vec();
        prefix.extend_from_slice(settle);
        let mut step = None;
        for _ in 0..tries {
            step = self.new_step(&prefix, kind_byte, rng);
            if step.as_ref().is_none_or(|(_, a)| want(a)) {
                break;
            }
        }
        let (step, action) = step?;
        prefix.extend_from_slice(&step);
        *v = prefix;
        Some(want(&action))
    }

    /// Every action that could come next at the end of `v`: each action kind Juju could
    /// offer there, and an operator action once per action of the charm. Those the story
    /// never took come first (an operator action by its name): what the charm has never
    /// been asked in this story is where new behaviour is, and a sweep that finds
    /// something new there goes deeper before trying the rest. Empty when the story
    /// cannot go on.
    pub fn next_options(&self, v: &[u8]) -> Vec<NextAction> {
        let d = self.decode(v);
        let Some(ext) = d.extension() else {
            return Vec::new();
        };
        let steps = &d.trace().steps;
        let taken = |next: &NextAction| {
            (steps.iter()).any(|s| {
                s.action.kind() == next.kind
                    && (next.name.is_none() || action_name(&s.action) == next.name)
            })
        };
        let mut options = Vec::new();
        for &(kind, byte) in &ext.actions {
            if kind == ActionKind::RunAction {
                for a in &self.charm.spec.actions {
                    options.push(NextAction {
                        kind,
                        byte,
                        name: Some(a.name.clone()),
                    });
                }
            } else {
                options.push(NextAction {
                    kind,
                    byte,
                    name: None,
                });
            }
        }
        // A stable sort: otherwise in the decoder's order.
        options.sort_by_key(taken);
        options
    }

    /// Append `next` (one of [`Mutation::next_options`]) at the end of `v`, with random
    /// arguments. True when the step appended is `next`; an operator action is drawn until
    /// it has `next`'s name, 64 times at most (the decoder picks the name from the bytes).
    pub fn append_next(&self, v: &mut Vec<u8>, next: &NextAction, rng: &mut Rng) -> bool {
        let (at, settle) = {
            let d = self.decode(v);
            let Some(ext) = d.extension() else {
                return false;
            };
            (ext.at, ext.settle.clone())
        };
        let want = |a: &Action| next.name.is_none() || action_name(a) == next.name;
        self.append_step(v, (at, &settle), next.byte, 64, rng, &want) == Some(true)
    }

    /// Insert one valid action at a decision inside the story (before a hook or another
    /// action), chosen uniformly among those Juju could let happen there.
    fn insert_action(&self, v: &mut Vec<u8>, rng: &mut Rng) -> bool {
        let (at, kind_byte) = {
            let d = self.decode(v);
            let points = d.choice_points();
            if points.is_empty() {
                return false;
            }
            let p = &points[rng.below(points.len())];
            (p.at.min(v.len()), p.actions[rng.below(p.actions.len())].1)
        };
        let Some((step, _)) = self.new_step(&v[..at], kind_byte, rng) else {
            return false;
        };
        v.splice(at..at, step);
        true
    }
}

/// The name of the operator action an action runs, if it runs one.
fn action_name(a: &Action) -> Option<String> {
    match a {
        Action::RunAction { name, .. } => Some(name.clone()),
        _ => None,
    }
}

/// The traces the charm lived for the inputs this process ran lately, for the mutator
/// ([`Mutation::lived`]). libFuzzer runs every input it keeps (and every corpus file at
/// start-up) before it mutates it, so the inputs worth mutating are here. Bounded: the
/// oldest are forgotten first.
#[derive(Default)]
pub struct LivedTraces {
    traces: std::collections::HashMap<Vec<u8>, Trace>,
    order: std::collections::VecDeque<Vec<u8>>,
}

impl LivedTraces {
    const CAPACITY: usize = 4096;

    pub fn remember(&mut self, data: &[u8], trace: &Trace) {
        if self.traces.contains_key(data) {
            return;
        }
        if self.order.len() >= Self::CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.traces.remove(&old);
            }
        }
        self.order.push_back(data.to_vec());
        self.traces.insert(data.to_vec(), trace.clone());
    }

    pub fn get(&self, data: &[u8]) -> Option<&Trace> {
        self.traces.get(data)
    }
}

/// Tell `parent` further, written to `out`: two times in three one to three valid actions
/// appended at its end ([`Mutation::append_action`]), else one valid action inserted at a
/// decision inside it ([`Mutation::insert_action`]). Some bugs need a step at the end of
/// the newest story (a `get-status` while the restore it started runs), others a step
/// early in it (an action before the first `config-changed`). `None` when no action fits
/// (the story is at the step limit) or the result does not fit in `max_size`.
pub fn extend(
    m: &Mutation<'_>,
    parent: &[u8],
    out: &mut [u8],
    max_size: usize,
    rng: &mut Rng,
) -> Option<usize> {
    let mut v = parent.to_vec();
    let changed = if rng.below(3) < 2 {
        let n = 1 + rng.below(3);
        (0..n).filter(|_| m.append_action(&mut v, rng)).count() > 0
    } else {
        m.insert_action(&mut v, rng)
    };
    if !changed || v.len() > max_size.min(out.len()) {
        return None;
    }
    out[..v.len()].copy_from_slice(&v);
    Some(v.len())
}

/// The byte ranges of the steps `d` decoded from `len` bytes: `[start_0, start_1, …, len]`.
fn boundaries(d: &Decoder<'_, '_>, len: usize) -> Vec<usize> {
    let mut b: Vec<usize> = d.step_starts().iter().map(|&s| s.min(len)).collect();
    b.push(len);
    b.dedup();
    if b.first() != Some(&0) {
        b.insert(0, 0);
    }
    b
}

/// The structure-aware mutation (see the module docs). `data[..size]` is the input;
/// returns the new size (at most `max_size`).
///
/// Most mutations tell the story further: one to three valid actions appended at its end.
/// That is how a lifecycle bug is reached step by step: each input that made the charm do
/// something new is kept, and its continuations are tried next. The others reshape what
/// is there: insert a valid action inside the story, delete, duplicate or swap whole
/// steps, change or bump one choice, end the story early, insert raw choices.
pub fn mutate(m: &Mutation<'_>, data: &mut [u8], size: usize, max_size: usize, seed: u32) -> usize {
    let mut rng = Rng::new(seed as u64);
    let mut v = data[..size].to_vec();
    if max_size < size {
        // libFuzzer asks for a smaller input: `cargo fuzz tmin` sets the limit below the
        // crash it minimises. Whole steps are cut until the story fits; cutting its last
        // bytes instead would cut its ending, where a lifecycle bug usually fails.
        while v.len() > max_size && reshape(m, &mut v, DELETE_STEP, &mut rng) {}
        v.truncate(max_size);
        data[..v.len()].copy_from_slice(&v);
        return v.len();
    }
    let rounds = 1 + rng.below(2);
    for _ in 0..rounds {
        let done = match rng.below(12) {
            // Tell the story further.
            0..=3 => {
                let n = 1 + rng.below(3);
                (0..n).filter(|_| m.append_action(&mut v, &mut rng)).count() > 0
            }
            // A valid action somewhere inside.
            4 => m.insert_action(&mut v, &mut rng),
            op => reshape(m, &mut v, op, &mut rng),
        };
        if !done {
            // A small change inside one step: bump a choice to the next option.
            if v.is_empty() {
                v.push(rng.next_u64() as u8);
            } else {
                let i = rng.below(v.len());
                v[i] = v[i].wrapping_add(1 + rng.below(16) as u8);
            }
        }
        if v.len() > max_size {
            v.truncate(max_size);
        }
    }
    let n = v.len().min(max_size).min(data.len());
    data[..n].copy_from_slice(&v[..n]);
    n
}

/// The [`reshape`] that deletes a whole step.
const DELETE_STEP: usize = 5;

/// The mutations of [`mutate`] that reshape the steps a story has (`op` picks one); false
/// when the story has too few steps for it.
fn reshape(m: &Mutation<'_>, v: &mut Vec<u8>, op: usize, rng: &mut Rng) -> bool {
    // Boundaries of the story as it is now (an earlier round may have changed it).
    let b = boundaries(&m.decode(v), v.len());
    let steps = b.len() - 1;
    let span = |i: usize| b[i]..b[i + 1];
    match op {
        // Delete a whole step.
        DELETE_STEP if steps > 1 => {
            v.drain(span(1 + rng.below(steps - 1)));
        }
        // Duplicate a step (the same thing happening twice).
        6 if steps > 0 => {
            let r = span(rng.below(steps));
            let copy = v[r.clone()].to_vec();
            v.splice(r.end..r.end, copy);
        }
        // Swap two neighbouring steps.
        7 if steps > 2 => {
            let i = 1 + rng.below(steps - 2);
            let (a, c) = (span(i), span(i + 1));
            let mut swapped = v[c.clone()].to_vec();
            swapped.extend_from_slice(&v[a.clone()]);
            v.splice(a.start..c.end, swapped);
        }
        // Change one choice.
        8 if !v.is_empty() => {
            let i = rng.below(v.len());
            v[i] = rng.next_u64() as u8;
        }
        // End the story after some step.
        9 if steps > 1 => v.truncate(b[1 + rng.below(steps - 1)]),
        // Raw choices at a step boundary (whatever they decode to).
        10 => {
            let at = b[rng.below(b.len())].min(v.len());
            let n = 1 + rng.below(6);
            let new: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            v.splice(at..at, new);
        }
        _ => return false,
    }
    true
}

/// Splice: the beginning of one story (up to a step boundary) and the end of another (from
/// a step boundary). Returns the size written to `out`.
pub fn crossover(charm: &Charm, a: &[u8], b: &[u8], out: &mut [u8], seed: u32) -> usize {
    let mut rng = Rng::new(seed as u64 ^ 0xC0FF_EE00);
    let ba = step_boundaries(charm, a);
    let bb = step_boundaries(charm, b);
    let cut_a = ba[rng.below(ba.len())];
    let cut_b = bb[rng.below(bb.len())];
    let mut v = a[..cut_a].to_vec();
    v.extend_from_slice(&b[cut_b..]);
    let n = v.len().min(out.len());
    out[..n].copy_from_slice(&v[..n]);
    n
}

/// The byte-level splice used by the `bytes` ablation arm (no knowledge of steps).
pub fn crossover_bytes(a: &[u8], b: &[u8], out: &mut [u8], seed: u32) -> usize {
    let mut rng = Rng::new(seed as u64 ^ 0xB17E);
    let cut_a = rng.below(a.len() + 1);
    let cut_b = rng.below(b.len() + 1);
    let mut v = a[..cut_a].to_vec();
    v.extend_from_slice(&b[cut_b..]);
    let n = v.len().min(out.len());
    out[..n].copy_from_slice(&v[..n]);
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::seed_bytes;
    use crate::fuzzing::default_charm_dir;
    use crate::story;

    fn demo() -> Charm {
        Charm::load(&default_charm_dir()).unwrap().for_target()
    }

    fn plain(charm: &Charm) -> Mutation<'_> {
        Mutation {
            charm,
            max_steps: Some(16),
            lived: None,
        }
    }

    fn kinds(charm: &Charm, data: &[u8]) -> Vec<ActionKind> {
        let t = charm.decoder(data, Some(16)).run_to_end();
        t.steps.iter().map(|s| s.action.kind()).collect()
    }

    #[test]
    fn an_appended_action_is_one_more_valid_step_of_any_possible_kind() {
        let charm = demo();
        let mut seen = std::collections::BTreeSet::new();
        let mut extended = 0;
        for seed in 0..300u64 {
            // A short story (deploy and a few steps), which the decoder ends by running
            // out of bytes.
            let mut v = seed_bytes(seed, 24);
            let before = kinds(&charm, &v);
            if before.len() >= 16 {
                continue;
            }
            let m = plain(&charm);
            let offered: Vec<ActionKind> = {
                let d = m.decode(&v);
                // A story the bytes chose to end cannot be told further.
                let Some(ext) = d.extension() else { continue };
                ext.actions.iter().map(|(k, _)| *k).collect()
            };
            extended += 1;
            let mut rng = Rng::new(seed);
            assert!(m.append_action(&mut v, &mut rng));
            let after = kinds(&charm, &v);
            assert_eq!(after.len(), before.len() + 1, "seed {seed}: one step more");
            assert_eq!(
                &after[..before.len()],
                &before[..],
                "seed {seed}: same story first"
            );
            let new = *after.last().unwrap();
            assert!(offered.contains(&new), "seed {seed}: {new:?} was offered");
            seen.insert(new);
        }
        assert!(extended > 200, "most short stories can go on: {extended}");
        // Kinds are drawn uniformly among the possible ones, not by the decoder's weights.
        assert!(seen.len() >= 15, "many kinds appended: {seen:?}");
    }

    #[test]
    fn every_next_action_can_be_appended_by_name() {
        let charm = demo();
        let m = plain(&charm);
        let seed = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/corpus/lifecycle/backup-then-churn"
        ))
        .unwrap();
        let options = m.next_options(&seed);
        let mut names: Vec<&str> = options.iter().filter_map(|o| o.name.as_deref()).collect();
        let mut actions: Vec<&str> = charm.spec.actions.iter().map(|a| a.name.as_str()).collect();
        names.sort_unstable();
        actions.sort_unstable();
        assert_eq!(
            names, actions,
            "an operator action once per action of the charm"
        );
        assert!(options.len() > actions.len() + 5, "{options:?}");
        let mut rng = Rng::new(3);
        for next in &options {
            let mut v = seed.clone();
            assert!(m.append_next(&mut v, next, &mut rng), "{next:?}");
            let steps = m.decode(&v).trace().steps.clone();
            assert_eq!(steps.len(), m.decode(&seed).trace().steps.len() + 1);
            let last = &steps.last().unwrap().action;
            assert_eq!(last.kind(), next.kind);
            assert_eq!(action_name(last), next.name);
        }
        // What the story has taken comes after everything it never took: here a config
        // change and a `backup` (and the leadership change the seed decodes to).
        let mut v = seed.clone();
        for (kind, name) in [
            (ActionKind::Config, None),
            (ActionKind::RunAction, Some("backup")),
        ] {
            let next = NextAction {
                kind,
                byte: (options.iter().find(|o| o.kind == kind).unwrap()).byte,
                name: name.map(String::from),
            };
            assert!(m.append_next(&mut v, &next, &mut rng));
        }
        let later = m.next_options(&v);
        let taken = |o: &NextAction| {
            matches!(o.kind, ActionKind::Config | ActionKind::LeadershipLost)
                || o.name.as_deref() == Some("backup")
        };
        assert!(later.iter().filter(|o| taken(o)).count() >= 2, "{later:?}");
        let first_taken = later.iter().position(taken).unwrap();
        assert!(later[first_taken..].iter().all(taken), "{later:?}");
        let names: Vec<&str> = later.iter().filter_map(|o| o.name.as_deref()).collect();
        assert_eq!(names.last(), Some(&"backup"));
    }

    #[test]
    fn an_inserted_action_keeps_the_story_before_it() {
        let charm = demo();
        let mut grew = 0;
        for seed in 0..200u64 {
            let mut v = seed_bytes(seed, 200);
            let before = charm.decoder(&v, None).run_to_end();
            let m = Mutation {
                charm: &charm,
                max_steps: None,
                lived: None,
            };
            let mut rng = Rng::new(seed);
            if !m.insert_action(&mut v, &mut rng) {
                continue;
            }
            let after = charm.decoder(&v, None).run_to_end();
            // The steps before the insertion point are the same; the new one is valid
            // (decoding never fails), and the story has at least one step more there.
            let same = before
                .steps
                .iter()
                .zip(&after.steps)
                .take_while(|(a, b)| a.action == b.action)
                .count();
            assert!(
                same < after.steps.len(),
                "seed {seed}: something was inserted"
            );
            if after.steps.len() > before.steps.len() {
                grew += 1;
            }
        }
        assert!(grew > 100, "most insertions lengthen the story: {grew}");
    }

    #[test]
    fn the_mutator_sees_the_options_the_charm_made_possible() {
        // Pebble check events are possible only once the charm's layer declared a check
        // (an effect of a hook). The mutator must decode the story as the charm lived it to
        // offer them.
        let charm = demo();
        let m = plain(&charm);
        let mut found = false;
        for seed in 0..100u64 {
            let v = seed_bytes(seed, 24);
            // Live the story with the check declared at the first pebble-ready.
            let mut d = charm.decoder(&v, Some(16));
            while let Ok(Some(ev)) = d.next_event() {
                let effects = if ev.hook.ends_with("-pebble-ready") {
                    vec![crate::engine::Effect::ChecksDeclared {
                        container: "web".into(),
                        checks: vec!["web-alive".into()],
                    }]
                } else {
                    Vec::new()
                };
                d.complete(crate::engine::HookResult::Ok, effects).unwrap();
            }
            // At the story's end the web container is up with its check declared (not gone
            // with a restart since).
            let web_up = (d.world().containers.iter())
                .any(|c| c.name == "web" && c.up && !c.checks.is_empty());
            let lived = d.into_trace();
            let offered = |m: &Mutation<'_>| -> Vec<ActionKind> {
                m.decode(&v)
                    .extension()
                    .map(|e| e.actions.iter().map(|(k, _)| *k).collect())
                    .unwrap_or_default()
            };
            let with = offered(&Mutation {
                lived: Some(&lived),
                ..m
            });
            let without = offered(&m);
            assert!(!without.contains(&ActionKind::CheckFailed), "seed {seed}");
            assert!(
                !without.contains(&ActionKind::CheckRecovered),
                "seed {seed}"
            );
            if web_up && !with.is_empty() {
                assert!(
                    with.contains(&ActionKind::CheckFailed)
                        || with.contains(&ActionKind::CheckRecovered),
                    "seed {seed}: {with:?}"
                );
                found = true;
            }
        }
        assert!(found, "some story brought the workload up");
    }

    #[test]
    fn lived_traces_are_bounded_and_found_by_input() {
        let charm = demo();
        let t = charm.decoder(&[1, 2, 3], None).run_to_end();
        let mut lived = LivedTraces::default();
        for i in 0..(LivedTraces::CAPACITY + 10) as u32 {
            lived.remember(&i.to_le_bytes(), &t);
        }
        assert!(
            lived.get(&0u32.to_le_bytes()).is_none(),
            "the oldest is forgotten"
        );
        assert!(
            lived
                .get(&((LivedTraces::CAPACITY + 9) as u32).to_le_bytes())
                .is_some()
        );
        assert_eq!(lived.traces.len(), LivedTraces::CAPACITY);
    }

    #[test]
    fn the_dictionary_holds_decodable_steps_of_many_kinds() {
        let charm = demo();
        let dict = dictionary(&charm, 200, 4);
        let entries: Vec<&str> = dict.lines().filter(|l| !l.starts_with('#')).collect();
        let kinds: std::collections::BTreeSet<&str> = entries
            .iter()
            .map(|l| l.rsplit_once('_').unwrap().0)
            .collect();
        assert!(kinds.len() >= 10, "steps of many kinds: {kinds:?}");
        assert!(kinds.contains("deploy") && kinds.contains("remove_relation"));
        for l in &entries {
            let (name, value) = l.split_once('=').unwrap();
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            assert!(value.starts_with("\"\\x") && value.ends_with('"'), "{l}");
        }
    }

    #[test]
    fn boundaries_cover_the_input_in_order() {
        let charm = demo();
        let data = seed_bytes(7, 600);
        let b = step_boundaries(&charm, &data);
        assert_eq!(b[0], 0);
        assert_eq!(*b.last().unwrap(), data.len());
        assert!(b.windows(2).all(|w| w[0] < w[1]));
        assert!(
            b.len() > 5,
            "a 600-byte input tells a story of several steps"
        );
    }

    #[test]
    fn deleting_a_step_removes_exactly_one_action() {
        let charm = demo();
        let data = seed_bytes(3, 400);
        let b = step_boundaries(&charm, &data);
        let actions = |bytes: &[u8]| {
            let t = charm.decoder(bytes, None).run_to_end();
            t.steps
                .iter()
                .map(|s| story::describe(&s.action))
                .collect::<Vec<_>>()
        };
        let before = actions(&data);
        // Drop the last step: the story is the same minus that action (and what only it
        // caused).
        let cut = &data[..b[b.len() - 2]];
        let after = actions(cut);
        assert_eq!(&before[..after.len()], &after[..]);
        assert!(after.len() < before.len());
    }

    #[test]
    fn asked_for_a_smaller_input_the_mutator_cuts_whole_steps_and_keeps_the_ending() {
        let charm = demo();
        let mut ending_kept = 0;
        for seed in 0..100u32 {
            let input = seed_bytes(seed as u64, 80);
            let steps = boundaries(&plain(&charm).decode(&input), input.len());
            let mut buf = input.clone();
            let n = mutate(&plain(&charm), &mut buf, input.len(), input.len() - 1, seed);
            let out = &buf[..n];
            assert!(n < input.len());
            if steps.len() <= 2 {
                assert_eq!(out, &input[..n], "one step only: cut short");
                continue;
            }
            // The input with one whole step taken out, from one boundary to a later one.
            let less = |i: usize, j: usize| [&input[..i], &input[j..]].concat();
            let resume = (steps
                .iter()
                .flat_map(|&i| steps.iter().map(move |&j| (i, j))))
            .filter(|&(i, j)| i < j && less(i, j) == out)
            .map(|(_, j)| j)
            .min();
            let Some(resume) = resume else {
                panic!("seed {seed}: not the input less whole steps")
            };
            ending_kept += usize::from(resume < input.len());
        }
        assert!(
            ending_kept > 50,
            "the last step kept in {ending_kept} of 100"
        );
    }

    #[test]
    fn mutants_respect_max_size_and_are_reproducible() {
        let charm = demo();
        for seed in 0..400u32 {
            let input = seed_bytes(seed as u64, 300);
            let mut a = input.clone();
            a.resize(512, 0);
            let mut c = a.clone();
            let n = mutate(&plain(&charm), &mut a, 300, 320, seed);
            let m = mutate(&plain(&charm), &mut c, 300, 320, seed);
            assert!(n <= 320);
            assert_eq!((n, &a[..n]), (m, &c[..m]), "same seed, same mutant");
        }
        // Mutants of mutants, growing and shrinking: every round must stay in bounds.
        let mut buf = seed_bytes(5, 200);
        buf.resize(400, 0);
        let mut size = 200;
        for seed in 0..300u32 {
            let max = 50 + (seed as usize * 7) % 350;
            size = mutate(&plain(&charm), &mut buf, size.min(max), max, seed);
            assert!(size <= max);
        }
        let mut out = vec![0; 64];
        let n = crossover(
            &charm,
            &seed_bytes(1, 100),
            &seed_bytes(2, 100),
            &mut out,
            9,
        );
        assert!(n <= 64);
    }
}

#[cfg(test)]
mod walk {
    use super::*;
    use crate::fuzzing::default_charm_dir;
    use crate::target::Target;
    use std::path::Path;

    /// The walk coverage guidance takes to the deepest planted bug, step by step, with the
    /// mutator's own appends: from the seed that takes a backup, a check fails, recovers,
    /// fails again (a restore starts) and `get-status` runs (BUG-4). Each step is one
    /// append to the story as the charm lived it: the check events exist only because the
    /// charm's Pebble layer declared the check, which only the lived trace knows.
    #[test]
    fn appends_walk_from_the_backup_seed_to_the_deepest_planted_bug() {
        let dir = default_charm_dir();
        let charm = Charm::load(&dir).unwrap().for_target();
        let jujuc = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/charmfuzz");
        let jujuc = jujuc.is_file().then_some(jujuc);
        let mut target = Target::new(
            charm.clone(),
            crate::target::TargetConfig::default(),
            jujuc.as_deref(),
        )
        .expect("the demo charm starts");
        let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/lifecycle/backup-then-churn");
        let mut v = std::fs::read(seed).unwrap();
        let is = |a: &Action, k: ActionKind, name: Option<&str>| {
            a.kind() == k && name.is_none_or(|n| action_name(a).as_deref() == Some(n))
        };
        let walk = [
            (ActionKind::CheckFailed, None),
            (ActionKind::CheckRecovered, None),
            (ActionKind::CheckFailed, None),
            (ActionKind::RunAction, Some("get-status")),
        ];
        let mut rng = Rng::new(1);
        let mut appends = Vec::new();
        for (kind, name) in walk {
            let lived = target.run_bytes(&v, Some(16)).unwrap();
            assert!(lived.finding.is_none(), "no finding before the walk ends");
            let m = Mutation {
                charm: &charm,
                max_steps: Some(16),
                lived: Some(&lived.trace),
            };
            let n = (1..=2000)
                .find(|_| {
                    let mut c = v.clone();
                    if !m.append_action(&mut c, &mut rng) {
                        return false;
                    }
                    let mut d = charm.decoder(&c, Some(16));
                    d.simulate_as(&lived.trace);
                    let last = d.trace().steps.last().map(|s| s.action.clone());
                    let hit = last.is_some_and(|a| is(&a, kind, name));
                    if hit {
                        v = c;
                    }
                    hit
                })
                .unwrap_or_else(|| panic!("no {kind:?} appended in 2000 tries"));
            appends.push(n);
        }
        let report = target.run_bytes(&v, Some(16)).unwrap();
        let finding = report.finding.expect("the walk ends at BUG-4");
        assert!(
            finding.signature.contains("_on_get_status_action"),
            "{}",
            finding.title
        );
        eprintln!("appends per step: {appends:?}");
    }
}
