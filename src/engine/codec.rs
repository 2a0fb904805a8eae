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

use super::action::{
    Action, ActionKind, Databag, Effect, RelationInit, SecretOrigin, WorkloadFault,
};
use super::event::{Event, HookResult};
use super::options::EngineOptions;
use super::trace::{Step, TRACE_FORMAT, Trace};
use super::world::{Hook, World, config_value_fits, split_storage_id};
use crate::spec::{ActionParam, CharmSpec, ConfigType, ParamType, Role, Scope};
use arbitrary::Unstructured;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

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

/// How often each action kind is chosen relative to the others (0 = never).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weights([u32; ActionKind::ALL.len()]);

impl Default for Weights {
    fn default() -> Self {
        use ActionKind as K;
        let mut w = [1u32; ActionKind::ALL.len()];
        let set = |w: &mut [u32; ActionKind::ALL.len()], k: K, v: u32| w[k as usize] = v;
        for (k, v) in [
            (K::Deploy, 1),
            (K::Config, 6),
            (K::Trust, 1),
            (K::AddressChange, 1),
            (K::Integrate, 5),
            (K::RemoveRelation, 3),
            (K::SuspendRelation, 1),
            (K::ResumeRelation, 3),
            (K::RemoteUnitAdded, 5),
            (K::RemoteUnitRemoved, 3),
            (K::RemoteUnitData, 6),
            (K::RemoteAppData, 6),
            (K::ScaleUp, 3),
            (K::ScaleDown, 2),
            (K::LeadershipGained, 3),
            (K::LeadershipLost, 3),
            (K::LeaderSet, 2),
            (K::StorageAdded, 2),
            (K::StorageDetached, 2),
            (K::WorkloadStarted, 10),
            (K::WorkloadStopped, 2),
            (K::CustomNotice, 3),
            (K::CheckFailed, 3),
            (K::CheckRecovered, 5),
            (K::SecretGranted, 2),
            (K::SecretRevised, 3),
            (K::SecretRotateDue, 3),
            (K::SecretExpired, 2),
            (K::SecretRevisionObsolete, 2),
            (K::RunAction, 5),
            (K::Refresh, 2),
            (K::PodRecreated, 2),
            (K::CharmContainerRestarted, 2),
            (K::MachineRebooted, 2),
            (K::UpdateStatusTimer, 4),
            (K::CollectMetricsTimer, 2),
            (K::SeriesUpgradePrepare, 1),
            (K::SeriesUpgradeComplete, 10),
            (K::Resolved, 10),
            (K::RemoveUnit, 1),
            (K::RemoveApplication, 1),
            (K::DestroyModel, 1),
            (K::ForceRemoveUnit, 1),
            (K::ServiceExited, 2),
            (K::WorkloadFault, 2),
        ] {
            set(&mut w, k, v);
        }
        Weights(w)
    }
}

impl Weights {
    /// Defaults overridden by the fuzzing config's `[weights]` table.
    pub fn with_overrides<'a>(
        overrides: impl IntoIterator<Item = (&'a ActionKind, &'a u32)>,
    ) -> Weights {
        let mut w = Weights::default();
        for (k, v) in overrides {
            w.0[*k as usize] = *v;
        }
        w
    }
    pub fn get(&self, k: ActionKind) -> u32 {
        self.0[k as usize]
    }
}

/// The words the decoder draws payloads from: databag keys and values, config strings,
/// notice keys. Built once per charm: the words every charm gets and its spec's names, then
/// the samples of its fuzzing config and the string literals of its code
/// ([`crate::spec::literals`], added by [`crate::charm::Charm::load`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vocabulary {
    pub words: Vec<String>,
    pub config_samples: BTreeMap<String, Vec<Value>>,
    /// Whole databags to try, per interface name.
    pub relation_samples: BTreeMap<String, Vec<Databag>>,
    pub notice_keys: Vec<String>,
    pub secret_samples: Vec<Databag>,
    /// Pebble check names per container.
    pub checks: BTreeMap<String, Vec<String>>,
}

impl Vocabulary {
    /// Words every charm gets, plus the names its spec declares.
    pub fn for_spec(spec: &CharmSpec) -> Vocabulary {
        let mut words: Vec<String> = [
            "host",
            "port",
            "hostname",
            "address",
            "ingress-address",
            "private-address",
            "url",
            "endpoints",
            "database",
            "username",
            "password",
            "user",
            "secret-id",
            "tls",
            "ca",
            "version",
            "data",
            "name",
            "true",
            "false",
            "null",
            "{}",
            "[]",
            "0",
            "1",
            "-1",
            "localhost",
            "127.0.0.1",
            "5432",
            "8080",
            "http://localhost:8080",
            "[\"a\", \"b\"]",
            "{\"key\": \"value\"}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        words.extend(spec.config.iter().map(|o| o.name.clone()));
        words.extend(spec.endpoints.iter().map(|e| e.name.clone()));
        words.extend(spec.endpoints.iter().map(|e| e.interface.clone()));
        let mut seen = std::collections::BTreeSet::new();
        words.retain(|w| seen.insert(w.clone()));
        Vocabulary {
            words,
            notice_keys: vec!["charmfuzz.test/notice".into()],
            ..Default::default()
        }
    }
}

/// The source of choices: bytes when decoding, a trace when encoding.
pub trait Tape {
    /// Pick an index among `weights` (a zero weight is never picked). `want` is the index an
    /// encoder must produce (`None` when decoding). A lone option costs nothing unless
    /// `always_read` is set.
    fn choose(
        &mut self,
        weights: &[u32],
        want: Option<usize>,
        always_read: bool,
    ) -> Result<usize, String>;
    /// Up to 255 raw bytes (length-prefixed).
    fn literal(&mut self, want: Option<&[u8]>) -> Result<Vec<u8>, String>;
    /// No more choices are available: the story should end.
    fn exhausted(&self) -> bool;
    /// How many bytes have been read or written so far.
    fn position(&self) -> usize;
    /// Decoding: how many bytes the choices made after the end of the bytes would have
    /// read (each took its first option, as a zero byte selects).
    fn short(&self) -> usize {
        0
    }
}

/// Map a byte onto weighted options: every option with a positive weight gets at least one
/// of the 256 byte values, the rest in proportion to its weight.
fn slots(weights: &[u32]) -> Vec<u16> {
    let total: u64 = weights.iter().map(|&w| w as u64).sum();
    let positive = weights.iter().filter(|&&w| w > 0).count() as u64;
    let mut out: Vec<u16> = weights
        .iter()
        .map(|&w| {
            if w == 0 {
                0
            } else {
                (1 + (w as u64 * (256 - positive)) / total.max(1)) as u16
            }
        })
        .collect();
    let sum: u16 = out.iter().sum();
    if let Some(first) = out.iter().position(|&s| s > 0) {
        out[first] += 256 - sum;
    }
    out
}

fn index_for_byte(weights: &[u32], b: u8) -> usize {
    let mut acc = 0u16;
    for (i, s) in slots(weights).into_iter().enumerate() {
        acc += s;
        if (b as u16) < acc {
            return i;
        }
    }
    weights.iter().position(|&w| w > 0).unwrap_or(0)
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

fn byte_for_index(weights: &[u32], i: usize) -> Option<u8> {
    let s = slots(weights);
    if s.get(i).copied().unwrap_or(0) == 0 {
        return None;
    }
    Some(s[..i].iter().sum::<u16>() as u8)
}

/// Decoding: choices read from fuzzer bytes through `arbitrary::Unstructured`.
pub struct ByteTape<'a> {
    u: Unstructured<'a>,
    total: usize,
    short: usize,
}

impl<'a> ByteTape<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        ByteTape {
            u: Unstructured::new(bytes),
            total: bytes.len(),
            short: 0,
        }
    }
}

impl Tape for ByteTape<'_> {
    fn choose(
        &mut self,
        weights: &[u32],
        _want: Option<usize>,
        always_read: bool,
    ) -> Result<usize, String> {
        let n = weights.len();
        if n <= 1 && !always_read {
            return Ok(0);
        }
        let width = if n <= 256 { 1 } else { 2 };
        self.short += width - width.min(self.u.len());
        if n <= 256 {
            let b: u8 = self.u.arbitrary().unwrap_or(0);
            Ok(index_for_byte(weights, b).min(n.saturating_sub(1)))
        } else {
            let v: u16 = self.u.arbitrary().unwrap_or(0);
            Ok(v as usize % n)
        }
    }
    fn literal(&mut self, _want: Option<&[u8]>) -> Result<Vec<u8>, String> {
        self.short += usize::from(self.u.is_empty());
        let len: u8 = self.u.arbitrary().unwrap_or(0);
        self.short += (len as usize).saturating_sub(self.u.len());
        let len = (len as usize).min(self.u.len());
        Ok(self.u.bytes(len).map(|b| b.to_vec()).unwrap_or_default())
    }
    fn exhausted(&self) -> bool {
        self.u.is_empty()
    }
    fn position(&self) -> usize {
        self.total - self.u.len()
    }
    fn short(&self) -> usize {
        self.short
    }
}

/// Encoding: each choice writes the byte that makes the decoder take the wanted option.
#[derive(Default)]
pub struct WriteTape {
    pub bytes: Vec<u8>,
}

impl Tape for WriteTape {
    fn choose(
        &mut self,
        weights: &[u32],
        want: Option<usize>,
        always_read: bool,
    ) -> Result<usize, String> {
        let i = want.ok_or("no matching option")?;
        let n = weights.len();
        if i >= n || weights[i] == 0 {
            return Err("option disabled".into());
        }
        if n <= 1 && !always_read {
            return Ok(0);
        }
        if n <= 256 {
            self.bytes
                .push(byte_for_index(weights, i).ok_or("option disabled")?);
        } else {
            self.bytes.extend_from_slice(&(i as u16).to_le_bytes());
        }
        Ok(i)
    }
    fn literal(&mut self, want: Option<&[u8]>) -> Result<Vec<u8>, String> {
        let w = want.ok_or("no literal")?;
        if w.len() > 255 {
            return Err("literal longer than 255 bytes".into());
        }
        self.bytes.push(w.len() as u8);
        self.bytes.extend_from_slice(w);
        Ok(w.to_vec())
    }
    fn exhausted(&self) -> bool {
        false
    }
    fn position(&self) -> usize {
        self.bytes.len()
    }
}

/// What the driver does at one step-level choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepChoice {
    Deliver,
    End,
    Act(ActionKind),
}

/// Whether `v` satisfies the bounds of `p`'s schema (`minimum`/`maximum`,
/// `minLength`/`maxLength`).
fn param_in_schema(p: &ActionParam, v: &Value) -> bool {
    if let Some(x) = v.as_f64() {
        if p.minimum.is_some_and(|m| x < m) || p.maximum.is_some_and(|m| x > m) {
            return false;
        }
    }
    if let Some(s) = v.as_str() {
        let n = s.chars().count() as u64;
        if p.min_length.is_some_and(|m| n < m) || p.max_length.is_some_and(|m| n > m) {
            return false;
        }
    }
    true
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

impl<'a, 'v> Decoder<'a, 'v> {
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

    fn pick<X: PartialEq + std::fmt::Debug>(
        &mut self,
        what: &str,
        options: &[X],
        want: Option<&X>,
    ) -> Result<usize, EncodeError> {
        let w = vec![1; options.len().max(1)];
        let want_idx = match want {
            None => None,
            Some(x) => Some(
                options
                    .iter()
                    .position(|o| o == x)
                    .ok_or_else(|| self.err(what, x))?,
            ),
        };
        self.tape
            .choose(&w, want_idx, false)
            .map_err(|_| self.err(what, want))
    }

    fn pick_bool(&mut self, what: &str, want: Option<bool>) -> Result<bool, EncodeError> {
        Ok(self.pick(what, &[false, true], want.as_ref())? == 1)
    }

    /// A count in `lo..=hi`.
    fn pick_count(
        &mut self,
        what: &str,
        lo: u32,
        hi: u32,
        want: Option<u32>,
    ) -> Result<u32, EncodeError> {
        let opts: Vec<u32> = (lo..=hi.max(lo)).collect();
        let i = self.pick(what, &opts, want.as_ref())?;
        Ok(opts[i])
    }

    /// A string: from `choices` or a literal.
    fn pick_string(
        &mut self,
        what: &str,
        choices: &[String],
        want: Option<&str>,
    ) -> Result<String, EncodeError> {
        let mut opts: Vec<Option<&str>> = choices.iter().map(|s| Some(s.as_str())).collect();
        opts.push(None); // literal
        let want_idx = want.map(|w| {
            opts.iter()
                .position(|o| *o == Some(w))
                .unwrap_or(opts.len() - 1)
        });
        // Known words are four times as likely as a literal of raw bytes.
        let mut w = vec![4; opts.len()];
        *w.last_mut().expect("the literal option") = 1;
        let i = self
            .tape
            .choose(&w, want_idx, false)
            .map_err(|_| self.err(what, want))?;
        match opts[i] {
            Some(s) => Ok(s.to_string()),
            None => {
                if want.is_some_and(|w| !w.bytes().all(printable)) {
                    let what = format!("{what} (only printable ASCII can be encoded)");
                    return Err(self.err(&what, want));
                }
                let bytes = self
                    .tape
                    .literal(want.map(str::as_bytes))
                    .map_err(|e| self.err(what, e))?;
                let s = printable_string(&bytes);
                if want.is_some_and(|w| w != s) {
                    return Err(self.err(what, want));
                }
                Ok(s)
            }
        }
    }

    /// Edit a databag: set or delete up to four keys, or replace it by a sample.
    fn gen_databag(
        &mut self,
        old: &Databag,
        samples: &[Databag],
        want: Option<&Databag>,
    ) -> Result<Databag, EncodeError> {
        // Mode 0 = edit, 1.. = sample.
        let mut modes: Vec<Option<&Databag>> = vec![None];
        modes.extend(samples.iter().map(Some));
        let want_mode = want.map(|w| modes.iter().position(|m| *m == Some(w)).unwrap_or(0));
        let w = vec![1; modes.len()];
        let m = self
            .tape
            .choose(&w, want_mode, false)
            .map_err(|_| self.err("databag", want))?;
        if let Some(sample) = modes[m] {
            return Ok(sample.clone());
        }
        let changes: Option<Vec<(String, Option<String>)>> = want.map(|w| {
            let mut c: Vec<(String, Option<String>)> = Vec::new();
            for (k, v) in w {
                if old.get(k) != Some(v) {
                    c.push((k.clone(), Some(v.clone())));
                }
            }
            for k in old.keys() {
                if !w.contains_key(k) {
                    c.push((k.clone(), None));
                }
            }
            c.sort();
            c
        });
        if changes.as_ref().is_some_and(|c| c.len() > 4) {
            return Err(self.err("databag (more than 4 keys changed at once)", want));
        }
        let n = self.pick_count(
            "number of databag keys written",
            0,
            4,
            changes.as_ref().map(|c| c.len() as u32),
        )?;
        let mut bag = old.clone();
        let mut keys: Vec<String> = old.keys().cloned().collect();
        keys.extend(self.vocab.words.iter().cloned());
        let values = self.vocab.words.clone();
        for i in 0..n as usize {
            let want_change = changes.as_ref().map(|c| &c[i]);
            let k = self.pick_string("databag key", &keys, want_change.map(|c| c.0.as_str()))?;
            let delete = self.pick_bool("delete the key", want_change.map(|c| c.1.is_none()))?;
            if delete {
                bag.remove(&k);
            } else {
                let v = self.pick_string(
                    "databag value",
                    &values,
                    want_change.and_then(|c| c.1.as_deref()),
                )?;
                bag.insert(k, v);
            }
        }
        Ok(bag)
    }

    fn relation_samples(&self, rel_id: u32) -> Vec<Databag> {
        let iface = self
            .world
            .relation(rel_id)
            .and_then(|r| self.world.spec().endpoint(&r.endpoint))
            .map(|e| e.interface.clone());
        iface
            .and_then(|i| self.vocab.relation_samples.get(&i).cloned())
            .unwrap_or_default()
    }

    fn config_value(
        &mut self,
        name: &str,
        ty: ConfigType,
        want: Option<&Value>,
    ) -> Result<Value, EncodeError> {
        let opt_default = self
            .world
            .spec()
            .config_option(name)
            .and_then(|o| o.default.clone());
        let samples = self
            .vocab
            .config_samples
            .get(name)
            .cloned()
            .unwrap_or_default();
        let mut choices: Vec<Value> = Vec::new();
        let mut add = |v: Value| {
            if !choices.contains(&v) && config_value_fits(ty, &v) {
                choices.push(v);
            }
        };
        for s in samples {
            add(s);
        }
        match ty {
            ConfigType::Boolean => {
                add(json!(true));
                add(json!(false));
            }
            ConfigType::Int => {
                if let Some(d) = opt_default.as_ref().and_then(Value::as_i64) {
                    add(json!(d + 1));
                    add(json!(d - 1));
                }
                for v in [
                    0i64,
                    1,
                    -1,
                    80,
                    443,
                    65535,
                    65536,
                    i32::MAX as i64,
                    i32::MIN as i64,
                ] {
                    add(json!(v));
                }
            }
            ConfigType::Float => {
                for v in [0.0f64, 1.0, -1.0, 0.5, 1e9, -1e-9] {
                    add(json!(v));
                }
            }
            ConfigType::String => {
                add(json!(""));
                for w in self.vocab.words.iter().take(64) {
                    add(json!(w));
                }
            }
            ConfigType::Secret => {
                for s in self.world.user_secrets() {
                    add(json!(s.id));
                }
            }
        }
        if let Some(d) = opt_default {
            add(d);
        }
        // The last option: reset to the default (`juju config --reset`).
        let reset = Value::Null;
        let mut opts = choices.clone();
        opts.push(reset);
        let literal_ok = matches!(ty, ConfigType::String | ConfigType::Int);
        let want_idx = match want {
            None => None,
            Some(w) => match opts.iter().position(|o| o == w) {
                Some(i) => Some(i),
                None if literal_ok => Some(opts.len()),
                None => return Err(self.err(&format!("config value for {name}"), w)),
            },
        };
        let n = opts.len() + usize::from(literal_ok);
        let i = self
            .tape
            .choose(&vec![1; n], want_idx, false)
            .map_err(|_| self.err("config value", want))?;
        if i < opts.len() {
            return Ok(opts[i].clone());
        }
        // A literal: a string of up to 255 bytes, or an i64 carried as its decimal text.
        let want_text = want.map(|w| match w {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        if want_text
            .as_ref()
            .is_some_and(|w| !w.bytes().all(printable))
        {
            let what = "config literal (only printable ASCII can be encoded)";
            return Err(self.err(what, want));
        }
        let bytes = self
            .tape
            .literal(want_text.as_deref().map(str::as_bytes))
            .map_err(|e| self.err("config literal", e))?;
        let text = printable_string(&bytes);
        let v = match ty {
            ConfigType::Int => json!(text.trim().parse::<i64>().unwrap_or(0)),
            _ => json!(text),
        };
        if want.is_some_and(|w| *w != v) {
            return Err(self.err("config literal", want));
        }
        Ok(v)
    }

    fn param_value(&mut self, p: &ActionParam, want: Option<&Value>) -> Result<Value, EncodeError> {
        let mut choices: Vec<Value> = Vec::new();
        if let Some(allowed) = &p.allowed {
            choices.extend(allowed.iter().cloned());
        } else {
            match p.ty {
                ParamType::String => {
                    choices.push(json!(""));
                    choices.extend(self.vocab.words.iter().take(32).map(|w| json!(w)));
                }
                ParamType::Integer => {
                    for v in [0i64, 1, -1, 100, i32::MAX as i64] {
                        choices.push(json!(v));
                    }
                    for b in [p.minimum, p.maximum].into_iter().flatten() {
                        choices.push(json!(b as i64));
                        choices.push(json!(b as i64 + 1));
                        choices.push(json!(b as i64 - 1));
                    }
                }
                ParamType::Number => {
                    for v in [0.0f64, 1.5, -1.0, 1e6] {
                        choices.push(json!(v));
                    }
                    for b in [p.minimum, p.maximum].into_iter().flatten() {
                        choices.push(json!(b));
                    }
                }
                ParamType::Boolean => choices.extend([json!(true), json!(false)]),
                ParamType::Array => choices.extend([json!([]), json!(["a"]), json!(["a", "b"])]),
                ParamType::Object => choices.extend([json!({}), json!({"key": "value"})]),
                ParamType::Any => choices.extend([json!("x"), json!(1), json!(true), json!(null)]),
            }
        }
        if let Some(d) = &p.default {
            choices.push(d.clone());
        }
        let mut seen = Vec::new();
        choices.retain(|c| {
            let new = !seen.contains(c);
            seen.push(c.clone());
            new
        });
        // Juju checks parameters against the action's JSON schema and refuses to run an
        // action with invalid ones (`juju run` fails; no hook runs), so only valid values
        // reach the charm.
        choices.retain(|c| param_in_schema(p, c));
        if choices.is_empty() {
            let bound = p.minimum.or(p.maximum).unwrap_or(0.0);
            choices.push(match p.ty {
                ParamType::Integer => json!(bound.ceil() as i64),
                ParamType::Number => json!(bound),
                _ => json!("x".repeat(p.min_length.unwrap_or(0) as usize)),
            });
        }
        let i = self.pick(&format!("parameter {}", p.name), &choices, want)?;
        Ok(choices[i].clone())
    }

    /// Containers and the checks that can fail (or recover) there.
    fn check_choices(&self, failing: bool) -> Vec<(String, Vec<String>)> {
        self.world
            .containers
            .iter()
            .filter(|c| c.up)
            .map(|c| {
                let mut names: Vec<String> = c
                    .checks
                    .iter()
                    .filter(|(_, f)| **f == failing)
                    .map(|(n, _)| n.clone())
                    .collect();
                if !failing {
                    for n in self.vocab.checks.get(&c.name).into_iter().flatten() {
                        if !c.checks.contains_key(n) && !names.contains(n) {
                            names.push(n.clone());
                        }
                    }
                }
                (c.name.clone(), names)
            })
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }

    fn gen_action(
        &mut self,
        kind: ActionKind,
        target: Option<&Action>,
    ) -> Result<Action, EncodeError> {
        use Action as A;
        use ActionKind as K;
        let w = &self.world;
        Ok(match kind {
            K::Deploy => self.gen_deploy(target)?,
            K::Config => {
                let want = match target {
                    Some(A::Config { changes }) => Some(changes),
                    _ => None,
                };
                let names: Vec<String> = w
                    .changeable_options()
                    .iter()
                    .map(|o| o.name.clone())
                    .collect();
                let max = names.len().clamp(1, 3) as u32;
                let n =
                    self.pick_count("number of options", 1, max, want.map(|c| c.len() as u32))?;
                let wanted: Option<Vec<(&String, &Value)>> = want.map(|c| c.iter().collect());
                let mut changes = BTreeMap::new();
                for i in 0..n as usize {
                    let wn = wanted.as_ref().map(|v| v[i].0);
                    let oi = self.pick("config option", &names, wn)?;
                    let name = names[oi].clone();
                    let ty = self
                        .world
                        .spec()
                        .config_option(&name)
                        .map(|o| o.ty)
                        .unwrap_or(ConfigType::String);
                    let v = self.config_value(&name, ty, wanted.as_ref().map(|v| v[i].1))?;
                    changes.insert(name, v);
                }
                A::Config { changes }
            }
            K::Trust => {
                let cur = w.trusted;
                let want = match target {
                    Some(A::Trust { trusted }) => Some(*trusted != cur),
                    _ => None,
                };
                let flip = self.pick_bool("trust", want.map(|f| !f))?;
                A::Trust {
                    trusted: if flip { cur } else { !cur },
                }
            }
            K::AddressChange => A::AddressChange,
            K::Integrate => {
                let eps: Vec<String> = w
                    .integrable_endpoints()
                    .iter()
                    .map(|e| e.name.clone())
                    .collect();
                let want = match target {
                    Some(A::Integrate { relation }) => Some(relation),
                    _ => None,
                };
                let i = self.pick("endpoint", &eps, want.map(|r| &r.endpoint))?;
                let endpoint = eps[i].clone();
                let max = self.world.opts.max_remote_units;
                let n = self.pick_count(
                    "remote units",
                    0,
                    max,
                    want.map(|r| r.remote_units.len() as u32),
                )?;
                let remote_app = self.world.remote_app_name(&endpoint);
                let relation = RelationInit {
                    id: self.world.next_relation_id(),
                    remote_units: (0..n).map(|k| format!("{remote_app}/{k}")).collect(),
                    endpoint,
                    remote_app,
                };
                A::Integrate { relation }
            }
            K::RemoveRelation | K::SuspendRelation | K::ResumeRelation => {
                let ids: Vec<u32> = w
                    .relations
                    .iter()
                    .filter(|r| match kind {
                        K::RemoveRelation => w.removable(r),
                        K::SuspendRelation => w.removable(r) && !r.suspended,
                        _ => r.suspended && !r.dying,
                    })
                    .map(|r| r.id)
                    .collect();
                let want = match target {
                    Some(
                        A::RemoveRelation { relation_id }
                        | A::SuspendRelation { relation_id }
                        | A::ResumeRelation { relation_id },
                    ) => Some(relation_id),
                    _ => None,
                };
                let relation_id = ids[self.pick("relation", &ids, want)?];
                match kind {
                    K::RemoveRelation => A::RemoveRelation { relation_id },
                    K::SuspendRelation => A::SuspendRelation { relation_id },
                    _ => A::ResumeRelation { relation_id },
                }
            }
            K::RemoteUnitAdded => {
                let ids: Vec<u32> = w
                    .relations
                    .iter()
                    .filter(|r| w.can_add_remote_unit(r))
                    .map(|r| r.id)
                    .collect();
                let want = match target {
                    Some(A::RemoteUnitAdded { relation_id, .. }) => Some(relation_id),
                    _ => None,
                };
                let relation_id = ids[self.pick("relation", &ids, want)?];
                let rel = self.world.relation(relation_id).unwrap();
                A::RemoteUnitAdded {
                    relation_id,
                    unit: self.world.next_remote_unit(rel),
                }
            }
            K::RemoteUnitRemoved | K::RemoteUnitData => {
                let ids: Vec<u32> = w
                    .relations
                    .iter()
                    .filter(|r| !r.dying && !r.suspended && !r.remote_units.is_empty())
                    .filter(|r| kind == K::RemoteUnitData || (!r.peer && !r.container_scoped))
                    .map(|r| r.id)
                    .collect();
                let (want_rel, want_unit, want_data) = match target {
                    Some(A::RemoteUnitRemoved { relation_id, unit }) => {
                        (Some(relation_id), Some(unit), None)
                    }
                    Some(A::RemoteUnitData {
                        relation_id,
                        unit,
                        data,
                    }) => (Some(relation_id), Some(unit), Some(data)),
                    _ => (None, None, None),
                };
                let relation_id = ids[self.pick("relation", &ids, want_rel)?];
                let units: Vec<String> = self
                    .world
                    .relation(relation_id)
                    .unwrap()
                    .remote_units
                    .keys()
                    .cloned()
                    .collect();
                let unit = units[self.pick("remote unit", &units, want_unit)?].clone();
                if kind == K::RemoteUnitRemoved {
                    A::RemoteUnitRemoved { relation_id, unit }
                } else {
                    let old = self.world.relation(relation_id).unwrap().remote_units[&unit]
                        .data
                        .clone();
                    let samples = self.relation_samples(relation_id);
                    let data = self.gen_databag(&old, &samples, want_data)?;
                    A::RemoteUnitData {
                        relation_id,
                        unit,
                        data,
                    }
                }
            }
            K::RemoteAppData => {
                let ids: Vec<u32> = w
                    .relations
                    .iter()
                    .filter(|r| w.can_write_remote_app(r))
                    .map(|r| r.id)
                    .collect();
                let (want_rel, want_data) = match target {
                    Some(A::RemoteAppData { relation_id, data }) => (Some(relation_id), Some(data)),
                    _ => (None, None),
                };
                let relation_id = ids[self.pick("relation", &ids, want_rel)?];
                let old = self.world.relation(relation_id).unwrap().app_data.clone();
                let samples = self.relation_samples(relation_id);
                let data = self.gen_databag(&old, &samples, want_data)?;
                A::RemoteAppData { relation_id, data }
            }
            K::ScaleUp => A::ScaleUp {
                unit: w.next_peer_name(),
            },
            K::ScaleDown => {
                let peers: Vec<String> = w.peers.iter().cloned().collect();
                let want = match target {
                    Some(A::ScaleDown { unit }) => Some(unit),
                    _ => None,
                };
                A::ScaleDown {
                    unit: peers[self.pick("peer unit", &peers, want)?].clone(),
                }
            }
            K::LeadershipGained => A::LeadershipGained,
            K::LeadershipLost => A::LeadershipLost,
            K::LeaderSet => A::LeaderSet,
            K::StorageAdded => {
                let names: Vec<String> =
                    w.addable_storage().iter().map(|s| s.name.clone()).collect();
                let want = match target {
                    Some(A::StorageAdded { storage }) => {
                        split_storage_id(storage).map(|x| x.0.to_string())
                    }
                    _ => None,
                };
                let name = names[self.pick("storage", &names, want.as_ref())?].clone();
                A::StorageAdded {
                    storage: format!("{name}/{}", self.world.next_storage_index(&name)),
                }
            }
            K::StorageDetached => {
                let ids: Vec<String> = w.detachable_storage().iter().map(|s| s.id()).collect();
                let want = match target {
                    Some(A::StorageDetached { storage }) => Some(storage),
                    _ => None,
                };
                A::StorageDetached {
                    storage: ids[self.pick("storage instance", &ids, want)?].clone(),
                }
            }
            K::WorkloadStarted | K::WorkloadStopped => {
                let up = kind == K::WorkloadStopped;
                let names: Vec<String> = w
                    .containers
                    .iter()
                    .filter(|c| c.up == up)
                    .map(|c| c.name.clone())
                    .collect();
                let want = match target {
                    Some(A::WorkloadStarted { container } | A::WorkloadStopped { container }) => {
                        Some(container)
                    }
                    _ => None,
                };
                let container = names[self.pick("container", &names, want)?].clone();
                if up {
                    A::WorkloadStopped { container }
                } else {
                    A::WorkloadStarted { container }
                }
            }
            K::CustomNotice => {
                let names: Vec<String> = w
                    .containers
                    .iter()
                    .filter(|c| c.up)
                    .map(|c| c.name.clone())
                    .collect();
                let (want_c, want_k) = match target {
                    Some(A::CustomNotice { container, key, .. }) => {
                        (Some(container), Some(key.as_str()))
                    }
                    _ => (None, None),
                };
                let container = names[self.pick("container", &names, want_c)?].clone();
                let mut keys: Vec<String> = self
                    .world
                    .container(&container)
                    .unwrap()
                    .notices
                    .keys()
                    .cloned()
                    .collect();
                for k in &self.vocab.notice_keys {
                    if !keys.contains(k) {
                        keys.push(k.clone());
                    }
                }
                let mut key = self.pick_string("notice key", &keys, want_k)?;
                if key.is_empty() {
                    key = "charmfuzz.test/notice".into();
                }
                let c = self.world.container(&container).unwrap();
                let notice_id = c
                    .notices
                    .get(&key)
                    .copied()
                    .unwrap_or(self.world.next_notice_id());
                A::CustomNotice {
                    container,
                    key,
                    notice_id,
                }
            }
            K::CheckFailed | K::CheckRecovered => {
                let choices = self.check_choices(kind == K::CheckRecovered);
                let names: Vec<String> = choices.iter().map(|(c, _)| c.clone()).collect();
                let (want_c, want_k) = match target {
                    Some(
                        A::CheckFailed { container, check }
                        | A::CheckRecovered { container, check },
                    ) => (Some(container), Some(check)),
                    _ => (None, None),
                };
                let ci = self.pick("container", &names, want_c)?;
                let checks = &choices[ci].1;
                let check = checks[self.pick("check", checks, want_k)?].clone();
                let container = names[ci].clone();
                if kind == K::CheckFailed {
                    A::CheckFailed { container, check }
                } else {
                    A::CheckRecovered { container, check }
                }
            }
            K::SecretGranted => {
                let mut origins = vec![SecretOrigin::User];
                for r in w.relations.iter().filter(|r| !r.peer && !r.dying) {
                    origins.push(SecretOrigin::App {
                        app: r.remote_app.clone(),
                        relation_id: r.id,
                    });
                }
                let (want_o, want_c) = match target {
                    Some(A::SecretGranted {
                        origin, content, ..
                    }) => (Some(origin), Some(content)),
                    _ => (None, None),
                };
                let origin = origins[self.pick("secret owner", &origins, want_o)?].clone();
                let id = self.world.fresh_secret_id();
                let samples = self.vocab.secret_samples.clone();
                let mut content = self.gen_databag(&Databag::new(), &samples, want_c)?;
                if content.is_empty() {
                    // Juju refuses empty secrets.
                    content.insert("value".into(), "s3cr3t".into());
                }
                A::SecretGranted {
                    id,
                    origin,
                    content,
                }
            }
            K::SecretRevised => {
                let ids: Vec<String> = w
                    .secrets
                    .iter()
                    .filter(|s| w.revisable(s))
                    .map(|s| s.id.clone())
                    .collect();
                let (want_id, want_c) = match target {
                    Some(A::SecretRevised { id, content }) => (Some(id), Some(content)),
                    _ => (None, None),
                };
                let id = ids[self.pick("secret", &ids, want_id)?].clone();
                let old = self.world.secret(&id).unwrap().content.clone();
                let samples = self.vocab.secret_samples.clone();
                let content = self.gen_databag(&old, &samples, want_c)?;
                A::SecretRevised { id, content }
            }
            K::SecretRotateDue | K::SecretExpired | K::SecretRevisionObsolete => {
                let ids: Vec<String> = w
                    .secrets
                    .iter()
                    .filter(|s| w.owns_now(s))
                    .filter(|s| match kind {
                        K::SecretExpired => !w.live_revisions(s).is_empty(),
                        K::SecretRevisionObsolete => !w.obsolete_candidates(s).is_empty(),
                        _ => true,
                    })
                    .map(|s| s.id.clone())
                    .collect();
                let (want_id, want_rev) = match target {
                    Some(A::SecretRotateDue { id }) => (Some(id), None),
                    Some(
                        A::SecretExpired { id, revision }
                        | A::SecretRevisionObsolete { id, revision },
                    ) => (Some(id), Some(revision)),
                    _ => (None, None),
                };
                let id = ids[self.pick("secret", &ids, want_id)?].clone();
                let s = self.world.secret(&id).unwrap();
                match kind {
                    K::SecretRotateDue => A::SecretRotateDue { id },
                    K::SecretExpired => {
                        let revs = self.world.live_revisions(s);
                        let revision = revs[self.pick("revision", &revs, want_rev)?];
                        A::SecretExpired { id, revision }
                    }
                    _ => {
                        let revs = self.world.obsolete_candidates(s);
                        let revision = revs[self.pick("revision", &revs, want_rev)?];
                        A::SecretRevisionObsolete { id, revision }
                    }
                }
            }
            K::RunAction => {
                let names: Vec<String> = w.spec().actions.iter().map(|a| a.name.clone()).collect();
                let (want_n, want_p) = match target {
                    Some(A::RunAction { name, params, .. }) => (Some(name), Some(params)),
                    _ => (None, None),
                };
                let name = names[self.pick("action", &names, want_n)?].clone();
                let spec = self.world.spec().action(&name).unwrap().clone();
                if let Some(wp) = want_p {
                    if let Some(extra) = wp
                        .keys()
                        .find(|k| !spec.params.iter().any(|p| &p.name == *k))
                    {
                        return Err(self.err("action parameter", extra));
                    }
                }
                let mut params = Map::new();
                for p in &spec.params {
                    let required = spec.required.contains(&p.name);
                    let include = required
                        || self.pick_bool(
                            &format!("give {}", p.name),
                            want_p.map(|wp| wp.contains_key(&p.name)),
                        )?;
                    if include {
                        let v = self.param_value(p, want_p.and_then(|wp| wp.get(&p.name)))?;
                        params.insert(p.name.clone(), v);
                    }
                }
                A::RunAction {
                    name,
                    id: self.world.next_action_id(),
                    params,
                }
            }
            K::Refresh => A::Refresh,
            K::PodRecreated => A::PodRecreated,
            K::CharmContainerRestarted => A::CharmContainerRestarted,
            K::MachineRebooted => A::MachineRebooted,
            K::UpdateStatusTimer => A::UpdateStatusTimer,
            K::CollectMetricsTimer => A::CollectMetricsTimer,
            K::SeriesUpgradePrepare => {
                let bases: Vec<String> = ["ubuntu@24.04", "ubuntu@22.04", "ubuntu@20.04"]
                    .map(String::from)
                    .to_vec();
                let want = match target {
                    Some(A::SeriesUpgradePrepare { target_base }) => Some(target_base),
                    _ => None,
                };
                A::SeriesUpgradePrepare {
                    target_base: bases[self.pick("base", &bases, want)?].clone(),
                }
            }
            K::SeriesUpgradeComplete => A::SeriesUpgradeComplete,
            K::Resolved => {
                let mut opts = vec![true];
                if self.world.opts.resolved_no_retry {
                    opts.push(false);
                }
                let want = match target {
                    Some(A::Resolved { retry }) => Some(retry),
                    _ => None,
                };
                A::Resolved {
                    retry: opts[self.pick("retry", &opts, want)?],
                }
            }
            K::RemoveUnit => A::RemoveUnit,
            K::ForceRemoveUnit => A::ForceRemoveUnit,
            K::ServiceExited => {
                let up: Vec<(String, Vec<String>)> = (w.containers.iter())
                    .filter(|c| c.up && !c.running.is_empty())
                    .map(|c| (c.name.clone(), c.running.iter().cloned().collect()))
                    .collect();
                let names: Vec<String> = up.iter().map(|(c, _)| c.clone()).collect();
                let (want_c, want_s) = match target {
                    Some(A::ServiceExited { container, service }) => {
                        (Some(container), Some(service))
                    }
                    _ => (None, None),
                };
                let ci = self.pick("container", &names, want_c)?;
                let services = &up[ci].1;
                let service = services[self.pick("service", services, want_s)?].clone();
                A::ServiceExited {
                    container: names[ci].clone(),
                    service,
                }
            }
            K::WorkloadFault => {
                let open: Vec<(String, Vec<WorkloadFault>)> = (w.containers.iter())
                    .map(|c| (c.name.clone(), c.possible_faults()))
                    .filter(|(_, f)| !f.is_empty())
                    .collect();
                let names: Vec<String> = open.iter().map(|(c, _)| c.clone()).collect();
                let (want_c, want_f) = match target {
                    Some(A::WorkloadFault { container, fault }) => (Some(container), Some(fault)),
                    _ => (None, None),
                };
                let ci = self.pick("container", &names, want_c)?;
                let faults = &open[ci].1;
                let fault = faults[self.pick("fault", faults, want_f)?];
                A::WorkloadFault {
                    container: names[ci].clone(),
                    fault,
                }
            }
            K::RemoveApplication => A::RemoveApplication,
            K::DestroyModel => A::DestroyModel,
        })
    }

    /// Deploy: leadership, peers, the relations that already exist (the peer relation
    /// always), and the storage provisioned with the unit.
    fn gen_deploy(&mut self, target: Option<&Action>) -> Result<Action, EncodeError> {
        let (w_leader, w_peers, w_rels, w_storage) = match target {
            Some(Action::Deploy {
                leader,
                peers,
                relations,
                storage,
                ..
            }) => (Some(*leader), Some(peers), Some(relations), Some(storage)),
            _ => (None, None, None, None),
        };
        let spec = self.world.spec_arc().clone();
        let app = spec.name.clone();
        let unit = format!("{app}/0");
        let leader = self.pick_bool("leader", w_leader.map(|l| !l)).map(|b| !b)?;
        let max_peers = self.world.opts.max_peers.saturating_sub(1);
        let n_peers = self.pick_count("peers", 0, max_peers, w_peers.map(|p| p.len() as u32))?;
        let peers: Vec<String> = (1..=n_peers).map(|n| format!("{app}/{n}")).collect();
        let mut relations: Vec<RelationInit> = Vec::new();
        let mut next_id = 0u32;
        let wanted_rel = |ep: &str| w_rels.and_then(|rs| rs.iter().find(|r| r.endpoint == ep));
        for ep in &spec.endpoints {
            if ep.name == "juju-info" && !spec.subordinate {
                continue;
            }
            let present = if ep.role == Role::Peer
                || (spec.subordinate
                    && ep.scope == Scope::Container
                    && !relations.iter().any(|r: &RelationInit| {
                        spec.endpoint(&r.endpoint)
                            .is_some_and(|e| e.scope == Scope::Container)
                    })) {
                true
            } else {
                self.pick_bool(
                    &format!("relation {} at deploy", ep.name),
                    w_rels.map(|_| wanted_rel(&ep.name).is_some()),
                )?
            };
            if !present {
                continue;
            }
            let id = next_id;
            next_id += 1;
            if ep.role == Role::Peer {
                relations.push(RelationInit {
                    id,
                    endpoint: ep.name.clone(),
                    remote_app: app.clone(),
                    remote_units: peers.clone(),
                });
                continue;
            }
            let remote_app = {
                let base = format!("{}-app", ep.name.replace('_', "-"));
                if relations.iter().any(|r| r.remote_app == base) {
                    format!("{base}-b")
                } else {
                    base
                }
            };
            let n = if spec.subordinate && ep.scope == Scope::Container {
                1
            } else {
                let max = self.world.opts.max_remote_units;
                self.pick_count(
                    "remote units",
                    0,
                    max,
                    wanted_rel(&ep.name).map(|r| r.remote_units.len() as u32),
                )?
            };
            relations.push(RelationInit {
                id,
                endpoint: ep.name.clone(),
                remote_units: (0..n).map(|k| format!("{remote_app}/{k}")).collect(),
                remote_app,
            });
        }
        let mut storage = Vec::new();
        for s in &spec.storage {
            let hi = s
                .multiple
                .max
                .unwrap_or(s.multiple.min + 2)
                .min(s.multiple.min + 2);
            let want = w_storage.map(|st| {
                st.iter()
                    .filter(|x| split_storage_id(x).map(|p| p.0) == Some(s.name.as_str()))
                    .count() as u32
            });
            let n = self.pick_count(
                &format!("instances of {}", s.name),
                s.multiple.min,
                hi,
                want,
            )?;
            storage.extend((0..n).map(|i| format!("{}/{i}", s.name)));
        }
        Ok(Action::Deploy {
            unit,
            leader,
            peers,
            relations,
            storage,
        })
    }
}

fn printable(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

/// Literal bytes as text: printable ASCII stays itself, any other byte is folded into the
/// printable range, so every decoded string encodes back to the same bytes.
fn printable_string(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if printable(b) {
                b as char
            } else {
                (0x20 + b % 95) as char
            }
        })
        .collect()
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
