//! Decoding fuzzer bytes into traces, and encoding traces back into bytes.
//!
//! The bytes are a series of *choices* (the "DNA string" of `arbitrary`). At every point the
//! [`Driver`] asks the [`World`] what is possible — which hooks Juju could deliver next, which
//! actions could happen — and reads one byte to pick among them, weighted: deliver the next
//! hook (the common case), let an action happen first (an interleaving), or end the story.
//! Then the action's arguments (which relation, which unit, which value) are picked, one byte
//! per choice where a byte suffices. Because the options are always the *valid* ones, every
//! byte string decodes to a valid trace; running out of bytes makes every later choice take
//! its first option and ends the story once the pending hooks have been delivered.
//!
//! A single byte per choice keeps inputs short and mutations local: flipping one byte changes
//! one decision. (`#[derive(Arbitrary)]` spends four bytes on every enum tag.)
//!
//! Encoding runs the same driver over a trace instead of bytes: at each choice it looks up
//! which option the trace took and writes the byte that selects it. Decoding those bytes
//! replays the same decisions, so hand-written stories become fuzzing seeds.
//!
//! # Layout
//!
//! This file holds the [`Driver`]: the step loop (deliver a hook, let an action happen, or
//! end the story), decoding and encoding, and `Driver::gen_action`'s dispatch of an
//! action's arguments to its family's generator. Around it:
//!
//! - `tape`: the source of choices ([`Tape`]): bytes when decoding ([`ByteTape`]), a
//!   trace when encoding ([`WriteTape`]), and how a byte maps onto weighted options.
//! - `weights` and `vocab`: how often each action kind is chosen ([`Weights`]) and the
//!   words payloads are drawn from ([`Vocabulary`]).
//! - `args`: the argument primitives every generator uses: pick one of a list, a bool, a
//!   count, a string, a databag.
//! - One generator per action family, as in the world's files: `lifecycle` (deploy,
//!   removal, timers, `resolved`; and the families whose actions take few or no
//!   arguments: leadership, upgrades, churn), `config`, `relations` (relations and their
//!   members), `storage`, `workloads`, `secrets`, `actions`.
//!
//! Every generator draws its choices in a fixed order; the bytes of the checked-in corpus
//! depend on that order, so it must not change.

use super::action::{Action, ActionKind, Effect};
use super::event::{Event, HookResult};
use super::options::EngineOptions;
use super::trace::{Step, TRACE_FORMAT, Trace};
use super::world::{Family, Hook, World};
use crate::spec::CharmSpec;
use std::sync::Arc;

mod actions;
mod args;
mod config;
mod host;
mod lifecycle;
mod relations;
mod secrets;
mod storage;
mod tape;
mod vocab;
mod weights;
mod workloads;

use tape::byte_for_index;
pub use tape::{ByteTape, Tape, WriteTape};
pub use vocab::Vocabulary;
pub use weights::Weights;

/// Why a trace could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error(
        "step {step}: {what}: the trace's choice {value} is not among the options the engine offers here"
    )]
    NotOffered {
        step: usize,
        what: String,
        value: String,
    },
    #[error("step {step}: {message}")]
    Invalid { step: usize, message: String },
}

/// The byte that selects each action among a step decision's options.
fn action_bytes(options: &[StepChoice], weights: &[u32]) -> Vec<(ActionKind, u8)> {
    options
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match o {
            StepChoice::Act(k) => byte_for_index(weights, i).map(|b| (*k, b)),
            _ => None,
        })
        .collect()
}

/// What the driver does at one step-level choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepChoice {
    Deliver,
    End,
    Act(ActionKind),
}

/// Runs the decision procedure shared by decoding and encoding, one event at a time, so a
/// target can run each event and report its outcome before the next decision.
pub struct Driver<'v, T: Tape> {
    tape: T,
    world: World,
    weights: &'v Weights,
    vocab: &'v Vocabulary,
    trace: Trace,
    /// Encoding: the trace being replayed, and the cursor into it (step, event).
    script: Option<&'v Trace>,
    cursor: (usize, usize),
    ended: bool,
    /// The story is winding down (the tape chose to end it): deliver what is pending,
    /// tear down if the options ask for it, and stop.
    winding_down: bool,
    /// Decoding: end the story (after delivering what is pending) after this many actions.
    max_steps: Option<usize>,
    /// Where on the tape the decision that led to each step began.
    step_starts: Vec<usize>,
    /// Where the decision being made now began.
    decision_start: usize,
    /// Encoding a story of actions only: after each action, deliver every hook Juju has
    /// pending (the first candidate each time) before the next action.
    settle: bool,
    /// Where on the tape the arguments of each step end (the next decision begins).
    step_ends: Vec<usize>,
    /// Decoding, when recording: how the story could go on past its end ([`Extension`]).
    extension: Option<Extension>,
    /// Where the tape chose to end the story, if it did.
    ended_at: Option<usize>,
    /// Decoding, when asked for ([`Driver::record_choices`]): every step decision with
    /// the action kinds it offered.
    choice_points: Option<Vec<ChoicePoint>>,
}

/// A step decision the decoder made: at tape offset `at`, each action kind Juju could have
/// let happen there, with the byte that selects it. Writing one of those bytes at `at`
/// (followed by bytes for its arguments) inserts that action into the story there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoicePoint {
    pub at: usize,
    pub actions: Vec<(ActionKind, u8)>,
}

/// How a decoded story could be told further: the bytes to append (at `at`) so that the
/// decoder delivers, one by one, the hooks it delivered after running out of bytes or
/// choosing to end the story (`settle`), and
/// then, with the unit idle, the byte that starts each action kind Juju could offer there.
/// The structure-aware mutator extends stories with these, so that an appended step is
/// always a valid action chosen among those possible at the story's end, not whatever a
/// random byte happens to select.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extension {
    /// Where the appended bytes go: the end of the bytes, or the choice that ended the
    /// story (which they replace).
    pub at: usize,
    pub settle: Vec<u8>,
    pub actions: Vec<(ActionKind, u8)>,
}

/// The decoder: a [`Driver`] reading fuzzer bytes.
pub type Decoder<'a, 'v> = Driver<'v, ByteTape<'a>>;

/// A decoder between two events, to go on from later with other bytes that begin with
/// the same [`DecoderState::position`] bytes ([`Decoder::resume`]): what the story is so
/// far follows from those bytes (and the charm's outcomes) alone, so any input that shares
/// them shares it.
///
/// Taken only where the decoder has read no byte past its position and not found the tape
/// empty ([`Decoder::save`] says `None` otherwise): an input that ran out of bytes there
/// wound the story down, which a longer one would not.
#[derive(Debug, Clone)]
pub struct DecoderState {
    position: usize,
    world: World,
    trace: Trace,
    max_steps: Option<usize>,
    step_starts: Vec<usize>,
    step_ends: Vec<usize>,
}

impl DecoderState {
    /// How many bytes of the input it stands for.
    pub fn position(&self) -> usize {
        self.position
    }
    /// The world at that point.
    pub fn world(&self) -> &World {
        &self.world
    }
    /// How many steps the story had there.
    pub fn steps(&self) -> usize {
        self.trace.steps.len()
    }
}

impl<'a, 'v> Decoder<'a, 'v> {
    /// Go on from `state` with `bytes`, whose first [`DecoderState::position`] bytes are
    /// those the state was saved from: the story then tells on exactly as it would have
    /// decoding `bytes` from the start with the same outcomes.
    pub fn resume(
        state: DecoderState,
        weights: &'v Weights,
        vocab: &'v Vocabulary,
        bytes: &'a [u8],
    ) -> Self {
        Driver {
            tape: ByteTape::at(bytes, state.position),
            world: state.world,
            weights,
            vocab,
            trace: state.trace,
            script: None,
            cursor: (0, 0),
            ended: false,
            winding_down: false,
            max_steps: state.max_steps,
            step_starts: state.step_starts,
            decision_start: state.position,
            settle: false,
            step_ends: state.step_ends,
            extension: None,
            ended_at: None,
            choice_points: None,
        }
    }

    pub fn from_bytes(
        spec: Arc<CharmSpec>,
        opts: EngineOptions,
        weights: &'v Weights,
        vocab: &'v Vocabulary,
        bytes: &'a [u8],
    ) -> Self {
        Driver::with_tape(ByteTape::new(bytes), spec, opts, weights, vocab, None)
    }
}

/// A story encoder: a [`Driver`] that replays a story of actions only (as in
/// `corpus/stories/`), delivering after each action every hook Juju then has pending, and
/// writes the bytes that make the decoder tell the same story. Driven by a caller that runs
/// each event against the real charm and completes it with what the charm really did, it
/// encodes the story as the charm lives it: the charm's effects (data it wrote, checks it
/// declared) change later choices, and [`encode_story`], which assumes none, can then
/// write bytes that decode differently against the charm.
pub type StoryEncoder<'v> = Driver<'v, WriteTape>;

impl<'v> StoryEncoder<'v> {
    pub fn for_story(
        story: &'v Trace,
        spec: Arc<CharmSpec>,
        weights: &'v Weights,
        vocab: &'v Vocabulary,
    ) -> Self {
        Self::replaying(story, spec, weights, vocab, true)
    }

    /// An encoder replaying `script`; with `settle`, its events are left to the engine
    /// (see [`encode_story`]).
    fn replaying(
        script: &'v Trace,
        spec: Arc<CharmSpec>,
        weights: &'v Weights,
        vocab: &'v Vocabulary,
        settle: bool,
    ) -> Self {
        let mut d = Driver::with_tape(
            WriteTape::default(),
            spec,
            script.options.clone(),
            weights,
            vocab,
            Some(script),
        );
        d.settle = settle;
        d
    }

    /// How many of the story's actions have been replayed.
    pub fn replayed(&self) -> usize {
        self.trace.steps.len()
    }

    /// The bytes written so far.
    pub fn bytes(&self) -> &[u8] {
        &self.tape.bytes
    }
}

impl<'v, T: Tape> Driver<'v, T> {
    fn with_tape(
        tape: T,
        spec: Arc<CharmSpec>,
        opts: EngineOptions,
        weights: &'v Weights,
        vocab: &'v Vocabulary,
        script: Option<&'v Trace>,
    ) -> Self {
        let world = World::new(spec.clone(), opts.clone());
        let trace = Trace {
            format: TRACE_FORMAT,
            charm: spec.name.clone(),
            substrate: spec.substrate,
            unit: world.unit.clone(),
            options: opts,
            steps: Vec::new(),
        };
        Driver {
            tape,
            world,
            weights,
            vocab,
            trace,
            script,
            cursor: (0, 0),
            ended: false,
            winding_down: false,
            max_steps: None,
            step_starts: Vec::new(),
            decision_start: 0,
            settle: false,
            step_ends: Vec::new(),
            extension: None,
            ended_at: None,
            choice_points: None,
        }
    }

    /// Stop choosing new actions after `n` steps (pending hooks are still delivered).
    pub fn with_max_steps(mut self, n: usize) -> Self {
        self.max_steps = Some(n);
        self
    }

    pub fn world(&self) -> &World {
        &self.world
    }
    /// For each step of the trace so far, the tape offset where the choices that made it
    /// begin: the bytes of step `i` are `starts[i]..starts[i + 1]` (the last runs to the
    /// end). This is what the structure-aware mutator cuts and splices at.
    pub fn step_starts(&self) -> &[usize] {
        &self.step_starts
    }

    /// Record every step decision from now on ([`Driver::choice_points`]) and how the story
    /// could go on past its end ([`Driver::extension`]): what the mutator needs, and only
    /// it, so a plain run of an input does none of this work.
    pub fn record_choices(mut self) -> Self {
        self.choice_points = Some(Vec::new());
        self
    }

    /// The step decisions made so far, if [`Driver::record_choices`] asked for them.
    pub fn choice_points(&self) -> &[ChoicePoint] {
        self.choice_points.as_deref().unwrap_or_default()
    }

    /// For each step, the tape offset just past its arguments.
    pub fn step_ends(&self) -> &[usize] {
        &self.step_ends
    }

    /// How the story could go on past its end, when [`Driver::record_choices`] asked for
    /// it: `None` if it ended at the step limit, or with no action possible.
    pub fn extension(&self) -> Option<&Extension> {
        self.extension.as_ref().filter(|e| !e.actions.is_empty())
    }

    /// How many bytes the story has read (or written) so far.
    pub fn position(&self) -> usize {
        self.tape.position()
    }

    /// The state to resume from, if this decoder (not an encoder) is between events and has read only its
    /// own bytes (see [`DecoderState`]).
    pub fn save(&self) -> Option<DecoderState> {
        let clean = !self.ended
            && !self.winding_down
            && self.tape.short() == 0
            && !self.tape.exhausted()
            && self.world.in_flight().is_none()
            && self.script.is_none()
            && self.choice_points.is_none()
            && self.extension.is_none();
        clean.then(|| DecoderState {
            position: self.tape.position(),
            world: self.world.clone(),
            trace: self.trace.clone(),
            max_steps: self.max_steps,
            step_starts: self.step_starts.clone(),
            step_ends: self.step_ends.clone(),
        })
    }

    /// The trace so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }
    pub fn into_trace(self) -> Trace {
        self.trace
    }

    /// Run the story to its end with every hook succeeding (no charm involved).
    pub fn run_to_end(mut self) -> Trace {
        self.simulate();
        self.trace
    }

    /// Tell the rest of the story with every hook succeeding and changing nothing (no
    /// charm runs), keeping the driver for its step offsets and position.
    pub fn simulate(&mut self) {
        while let Ok(Some(_)) = self.next_event() {
            self.complete(HookResult::Ok, Vec::new())
                .expect("an event is in flight");
        }
    }

    /// Tell the rest of the story as `real` (a run of the same bytes, or of a prefix of
    /// them, against the charm) lived it: each event ends as it ended there and has the
    /// effects it had, so that choices which depend on what the charm did (the checks its
    /// layer declared, the data it wrote) come out as they did. Once the story leaves
    /// `real`'s path, events succeed and change nothing, as in [`Driver::simulate`].
    pub fn simulate_as(&mut self, real: &Trace) {
        let mut past = real.steps.iter().flat_map(|s| s.events.iter());
        let mut on_path = true;
        while let Ok(Some(ev)) = self.next_event() {
            let lived = past.next().filter(|r| on_path && same_event(r, &ev));
            on_path = lived.is_some();
            let (result, effects) = lived.map_or((HookResult::Ok, Vec::new()), |r| {
                (r.result, r.effects.clone())
            });
            if self.complete(result, effects).is_err() {
                break;
            }
        }
    }

    fn step_no(&self) -> usize {
        self.trace.steps.len()
    }

    fn err(&self, what: &str, value: impl std::fmt::Debug) -> EncodeError {
        EncodeError::NotOffered {
            step: self.step_no(),
            what: what.to_string(),
            value: format!("{value:?}"),
        }
    }

    /// Advance to the next event: apply any actions the tape chooses, then deliver a hook.
    /// Returns `None` when the story is over. After `Some`, call [`Driver::complete`].
    pub fn next_event(&mut self) -> Result<Option<Event>, EncodeError> {
        if self.world.in_flight().is_some() {
            return Err(EncodeError::Invalid {
                step: self.step_no(),
                message: "previous event not completed".into(),
            });
        }
        loop {
            if self.ended {
                return Ok(None);
            }
            self.decision_start = self.tape.position();
            let candidates = self.world.candidates();
            let kinds: Vec<ActionKind> = ActionKind::ALL
                .into_iter()
                .filter(|k| {
                    self.weights.get(*k) > 0 && self.world.enabled(*k) && self.offerable(*k)
                })
                .collect();
            if candidates.is_empty() && kinds.is_empty() {
                self.ended = true;
                return Ok(None);
            }
            let out_of_steps = self.max_steps.is_some_and(|m| self.trace.steps.len() >= m);
            if self.tape.exhausted() || out_of_steps || self.winding_down {
                if !out_of_steps && self.choice_points.is_some() {
                    self.note_extension(&candidates, &kinds);
                }
                // Out of bytes: deliver what is pending, optionally tear down, then stop.
                if let Some(first) = candidates.first() {
                    return Ok(Some(self.deliver(first.clone())));
                }
                if self.trace.options.teardown_at_end && self.world.enabled(ActionKind::RemoveUnit)
                {
                    self.apply_action(Action::RemoveUnit)?;
                    continue;
                }
                self.ended = true;
                return Ok(None);
            }
            let (options, weights) = self.step_options(!candidates.is_empty(), &kinds);
            if let Some(points) = self.choice_points.as_mut() {
                let actions = action_bytes(&options, &weights);
                if !actions.is_empty() {
                    points.push(ChoicePoint {
                        at: self.decision_start,
                        actions,
                    });
                }
            }
            let want = self.script.map(|_| self.wanted_step_choice());
            let want_idx = match want {
                None => None,
                Some(w) => Some(
                    options
                        .iter()
                        .position(|o| *o == w)
                        .ok_or_else(|| self.err("next step", w))?,
                ),
            };
            let i = self
                .tape
                .choose(&weights, want_idx, true)
                .map_err(|_| self.err("next step", want))?;
            match options[i] {
                StepChoice::End => {
                    self.winding_down = true;
                    self.ended_at = Some(self.decision_start);
                    continue;
                }
                StepChoice::Deliver => {
                    let want = if self.settle {
                        Some(Some(0))
                    } else {
                        self.wanted_event().map(|e| {
                            candidates
                                .iter()
                                .position(|c| same_event(&self.world.event_for(c), e))
                        })
                    };
                    let want = match want {
                        None => None,
                        Some(Some(i)) => Some(i),
                        Some(None) => {
                            let e = self.wanted_event().unwrap();
                            return Err(self.err("hook", &e.hook));
                        }
                    };
                    let w = vec![1; candidates.len()];
                    let j = self
                        .tape
                        .choose(&w, want, false)
                        .map_err(|_| self.err("hook", want))?;
                    return Ok(Some(self.deliver(candidates[j].clone())));
                }
                StepChoice::Act(kind) => {
                    let target = self
                        .script
                        .and_then(|s| s.steps.get(self.cursor.0))
                        .map(|s| s.action.clone());
                    let action = self.gen_action(kind, target.as_ref())?;
                    if let Some(t) = &target {
                        if *t != action {
                            return Err(self.err("action arguments", t));
                        }
                    }
                    self.apply_action(action)?;
                }
            }
        }
    }

    /// The options of a step decision and their weights: deliver the next hook (when one is
    /// pending), end the story (once deployed), or let one of `kinds` happen first.
    fn step_options(&self, pending: bool, kinds: &[ActionKind]) -> (Vec<StepChoice>, Vec<u32>) {
        let mut options = Vec::new();
        let mut weights = Vec::new();
        let action_total: u32 = kinds.iter().map(|k| self.weights.get(*k)).sum();
        if pending {
            options.push(StepChoice::Deliver);
            weights.push((action_total * 3).max(1));
        }
        // Every story starts with a deploy; after that, a story may end at any point.
        if self.world.deployed {
            options.push(StepChoice::End);
            weights.push(1);
        }
        for k in kinds {
            options.push(StepChoice::Act(*k));
            weights.push(self.weights.get(*k));
        }
        (options, weights)
    }

    /// Out of bytes at a decision: record the bytes that would have made the same choice
    /// explicitly (deliver the first pending hook), or, with nothing pending, the byte that
    /// starts each possible action (see [`Extension`]).
    fn note_extension(&mut self, candidates: &[Hook], kinds: &[ActionKind]) {
        // The last step's arguments may have run past the end of the bytes (each choice
        // then took its first option): spell those choices out first.
        let (short, at) = match self.ended_at {
            Some(at) => (0, at),
            None => (self.tape.short(), self.tape.position()),
        };
        let ext = self.extension.get_or_insert_with(|| Extension {
            at,
            settle: vec![0; short],
            actions: Vec::new(),
        });
        if !ext.actions.is_empty() {
            return;
        }
        let (options, weights) = self.step_options(!candidates.is_empty(), kinds);
        if !candidates.is_empty() {
            // Deliver is the first option, and the first of equally weighted candidates is
            // chosen by byte 0 (a lone candidate costs no byte).
            let ext = self.extension.as_mut().expect("just set");
            ext.settle.push(byte_for_index(&weights, 0).unwrap_or(0));
            if candidates.len() > 1 {
                ext.settle.push(0);
            }
            return;
        }
        self.extension.as_mut().expect("just set").actions = action_bytes(&options, &weights);
    }

    /// Whether the decoder can produce arguments for an enabled action kind.
    fn offerable(&self, k: ActionKind) -> bool {
        match k {
            ActionKind::CheckFailed => self.check_choices(false).iter().any(|(_, v)| !v.is_empty()),
            ActionKind::CheckRecovered => {
                self.check_choices(true).iter().any(|(_, v)| !v.is_empty())
            }
            _ => true,
        }
    }

    fn apply_action(&mut self, action: Action) -> Result<(), EncodeError> {
        let phase = self.world.phase;
        let is_deploy = matches!(action, Action::Deploy { .. });
        // A sample check (from the fuzzing config) that the container's current Pebble
        // does not know yet: its layer is taken to declare it now, as a charm's would.
        if let Action::CheckFailed { container, check } = &action {
            let known = self
                .world
                .containers
                .iter()
                .any(|c| c.name == *container && c.checks.contains_key(check));
            if !known {
                self.world
                    .declare_checks(container, std::slice::from_ref(check));
            }
        }
        self.world
            .apply(&action)
            .map_err(|e| EncodeError::Invalid {
                step: self.step_no(),
                message: e.to_string(),
            })?;
        if is_deploy {
            self.trace.unit = self.world.unit.clone();
            for (c, checks) in &self.vocab.checks {
                self.world.declare_checks(c, checks);
            }
        }
        self.step_starts.push(self.decision_start);
        self.step_ends.push(self.tape.position());
        self.trace.steps.push(Step {
            phase,
            action,
            events: Vec::new(),
        });
        // Encoding: the next action to replay is the script's next step.
        self.cursor = (self.trace.steps.len(), 0);
        Ok(())
    }

    fn deliver(&mut self, hook: Hook) -> Event {
        let event = self.world.deliver_candidate(&hook);
        if let Some(step) = self.trace.steps.last_mut() {
            step.events.push(event.clone());
        }
        event
    }

    /// Report how the last event ended and what the charm did.
    pub fn complete(
        &mut self,
        result: HookResult,
        effects: Vec<Effect>,
    ) -> Result<(), EncodeError> {
        self.world
            .complete(result, &effects)
            .map_err(|e| EncodeError::Invalid {
                step: self.step_no(),
                message: e.to_string(),
            })?;
        if let Some(ev) = self
            .trace
            .steps
            .last_mut()
            .and_then(|s| s.events.last_mut())
        {
            ev.result = result;
            ev.effects = effects;
        }
        if self.script.is_some() {
            self.cursor.1 += 1;
        }
        Ok(())
    }

    // --- encoding: what the script wants next ---

    /// The event the script has next in the current step, if any.
    fn wanted_event(&self) -> Option<&'v Event> {
        let script = self.script?;
        let (s, e) = self.cursor;
        script.steps.get(s.checked_sub(1)?)?.events.get(e)
    }

    fn wanted_step_choice(&self) -> StepChoice {
        let script = self.script.expect("encoding");
        if self.wanted_event().is_some() || (self.settle && !self.world.candidates().is_empty()) {
            return StepChoice::Deliver;
        }
        match script.steps.get(self.cursor.0) {
            Some(step) => StepChoice::Act(step.action.kind()),
            None => StepChoice::End,
        }
    }

    // --- action arguments ---

    /// An action of `kind` with its arguments, each drawn by its family's generator
    /// (encoding: the ones `target` has).
    fn gen_action(
        &mut self,
        kind: ActionKind,
        target: Option<&Action>,
    ) -> Result<Action, EncodeError> {
        match Family::of(kind) {
            Family::Lifecycle => self.gen_lifecycle(kind, target),
            Family::Config => self.gen_config(kind, target),
            Family::Relations => self.gen_relations(kind, target),
            Family::Members => self.gen_members(kind, target),
            Family::Leadership => Ok(self.gen_leadership(kind)),
            Family::Storage => self.gen_storage(kind, target),
            Family::Workloads => self.gen_workloads(kind, target),
            Family::Secrets => self.gen_secrets(kind, target),
            Family::Actions => self.gen_run_action(target),
            Family::Upgrades => self.gen_upgrades(kind, target),
            Family::Churn => Ok(self.gen_churn(kind)),
            Family::Host => self.gen_host(kind, target),
        }
    }
}

/// Two events are the same delivery if hook, kind, env (but the per-run context id) and
/// parameters agree.
fn same_event(a: &Event, b: &Event) -> bool {
    let strip = |e: &Event| {
        let mut env = e.env.clone();
        env.remove("JUJU_CONTEXT_ID");
        env
    };
    a.hook == b.hook && a.kind == b.kind && a.params == b.params && strip(a) == strip(b)
}

/// Deterministic pseudo-random input bytes for a seed (splitmix64): what `charmfuzz
/// simulate --seed N` decodes, and what tests and benchmarks use for "random" inputs. Pure:
/// the same seed always gives the same bytes.
pub fn seed_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Decode fuzzer bytes into a trace, every hook succeeding (no charm involved).
pub fn decode(
    spec: Arc<CharmSpec>,
    opts: EngineOptions,
    weights: &Weights,
    vocab: &Vocabulary,
    bytes: &[u8],
) -> Trace {
    Decoder::from_bytes(spec, opts, weights, vocab, bytes).run_to_end()
}

/// Encode a trace into bytes that [`decode`] (or a [`Decoder`] fed the same outcomes) turns
/// back into the same trace.
pub fn encode(
    trace: &Trace,
    spec: Arc<CharmSpec>,
    weights: &Weights,
    vocab: &Vocabulary,
) -> Result<Vec<u8>, EncodeError> {
    encode_script(trace, spec, weights, vocab, false)
}

/// Encode a story written as actions only (each step's `events` left out): after every
/// action the unit receives all the hooks Juju then has pending, in the engine's first
/// valid order. This is how seeds are written by hand (`corpus/stories/`).
pub fn encode_story(
    story: &Trace,
    spec: Arc<CharmSpec>,
    weights: &Weights,
    vocab: &Vocabulary,
) -> Result<Vec<u8>, EncodeError> {
    encode_script(story, spec, weights, vocab, true)
}

/// Replay `script` through a [`Driver`] writing the bytes that make each choice; with
/// `settle`, the script's events are left to the engine (see [`encode_story`]).
fn encode_script(
    script: &Trace,
    spec: Arc<CharmSpec>,
    weights: &Weights,
    vocab: &Vocabulary,
    settle: bool,
) -> Result<Vec<u8>, EncodeError> {
    let mut d = StoryEncoder::replaying(script, spec, weights, vocab, settle);
    // The empty story is the empty input.
    if script.steps.is_empty() {
        return Ok(Vec::new());
    }
    // Replay each event with the outcome the script recorded for it (a story records none:
    // every hook succeeds).
    while d.next_event()?.is_some() {
        let want = d.wanted_event().cloned();
        let (result, effects) = want.map(|e| (e.result, e.effects)).unwrap_or_default();
        d.complete(result, effects)?;
    }
    // Everything in the script must have been replayed.
    let replayed = d.trace.steps.len();
    let events_differ = !settle && d.trace.events().count() != script.events().count();
    if replayed != script.steps.len() || events_differ {
        return Err(EncodeError::Invalid {
            step: replayed,
            message: "the trace and the engine's story end differently (the trace goes on \
                      after the engine's story ended, or the options ask for a teardown at the end \
                      the trace does not have)"
                .into(),
        });
    }
    Ok(d.tape.bytes)
}
