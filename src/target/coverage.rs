//! The coverage bitmap: what the charm did, in a form libFuzzer understands.
//!
//! libFuzzer keeps an input when it makes some coverage counter reach a new value. The
//! counters it sees by itself belong to the Rust harness (the decoder, the engine), which
//! cannot tell one charm code path from another. So charmfuzz shares one more block of
//! counters with libFuzzer: a memfd mapped both here and in the Python worker, registered
//! with libFuzzer as 8-bit counters (see `fuzz/fuzz_targets/lifecycle.rs`). libFuzzer zeroes
//! it before every input and reads it after; the worker's children write into it while the
//! hooks run.
//!
//! Two regions:
//!
//! - **Charm code** (`[0, code_len)`): written by the worker, one slot per line or arc of the
//!   charm's own files (`src/`, `lib/`), with saturating hit counts.
//! - **Lifecycle features** (`[code_len, len)`): written here after every event, so that a new
//!   *ordering* counts as progress even when it runs no new line of the charm:
//!   - `transition`: which kind of hook followed which (`install → config-changed`);
//!   - `response`: what the charm did in a kind of hook: exited non-zero, deferred an event
//!     (the number of deferred events went up), re-emitted deferred events away, set each
//!     kind of unit status, wrote relation data, created or changed a secret, opened or
//!     closed a port, requested storage;
//!   - `depth`: how many deferred events are pending after a kind of hook (capped at 7);
//!   - `stored`: the shape of each field of the charm's `StoredState` after a kind of hook
//!     (unset or set, a state word like `restoring`, which parts of a record are filled
//!     in). A hook that runs no new line may still run it with a memory it never had;
//!   - `memory`: how a hook changed the charm's memory as a whole: the shapes of all the
//!     fields of a `StoredState` before the hook and after it, when they differ. A check
//!     failing *after a backup was taken* runs no line a check failing without one did
//!     not, yet it moves the charm from "backup, no failures" to "backup, restarted once",
//!     a step towards a restore. These are the charm's own state machine, and they are
//!     few: most hooks change nothing, so where a `stored` feature is new after nearly
//!     every new kind of hook in a new situation, a new `memory` transition is a new state
//!     of the charm (see [`CoverageMap::state_slots`]).
//!
//! The fuzz target shows libFuzzer only whether each slot was hit, not how often
//! ([`CoverageMap::flatten`]): in a story of many hooks, counts mostly measure its length.
//!
//! Slots are hashes of stable names (never Python's randomised `hash()`), so every libFuzzer
//! process (`-fork`, `-jobs`, `cmin`) numbers them the same way.

use super::hooktools::{Change, StatusTarget};
use super::outcome::EventOutcome;
use memmap2::MmapMut;
use std::os::fd::{AsRawFd, OwnedFd};

/// Default sizes: 64 KiB of charm code slots, 4 KiB of lifecycle features.
pub const CODE_SLOTS: usize = 64 * 1024;
pub const FEATURE_SLOTS: usize = 4 * 1024;
/// The last quarter of the lifecycle features holds the `memory` ones (how hooks change the
/// charm's memory), so that the fuzzer can tell a new state of the charm from a new
/// ordering of hooks ([`CoverageMap::state_slots`]).
const STATE_SLOTS: usize = FEATURE_SLOTS / 4;

#[derive(Debug, thiserror::Error)]
#[error("cannot create the coverage bitmap: {0}")]
pub struct CoverageError(#[from] std::io::Error);

/// What [`CoverageMap::save`] keeps: the slots hit so far, each with its counter and the
/// step it was first hit at (a story hits a few thousand of the map's slots at most, so
/// this is far smaller than the map).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageState {
    hit: Vec<(u32, u8, u16)>,
}

impl CoverageState {
    /// The bytes it holds.
    pub fn size(&self) -> usize {
        self.hit.len() * std::mem::size_of::<(u32, u8, u16)>()
    }
}

/// A shared bitmap (see the module docs).
pub struct CoverageMap {
    fd: OwnedFd,
    map: MmapMut,
    code_len: usize,
    /// For each slot, the step of the story (its action's index) at which this run first
    /// hit it ([`CoverageMap::mark_step`]); `u16::MAX` while it has not. Empty unless
    /// [`CoverageMap::track_steps`] asked for it: the mark is a pass over the whole map
    /// after every event, which only the fuzzer's frontier needs.
    first_step: Vec<u16>,
}

impl CoverageMap {
    /// A fresh bitmap of `code_len + FEATURE_SLOTS` counters in a memfd the worker inherits.
    pub fn new(code_len: usize) -> Result<CoverageMap, CoverageError> {
        // Not close-on-exec: the worker process inherits it and maps it too.
        let fd = rustix::fs::memfd_create("charmfuzz-coverage", rustix::fs::MemfdFlags::empty())
            .map_err(std::io::Error::from)?;
        let len = code_len + FEATURE_SLOTS;
        rustix::fs::ftruncate(&fd, len as u64).map_err(std::io::Error::from)?;
        let file = std::fs::File::from(fd.try_clone()?);
        // SAFETY: the memfd is ours; the only other writer is the worker, writing bytes.
        let map = unsafe { MmapMut::map_mut(&file)? };
        Ok(CoverageMap {
            fd,
            map,
            code_len,
            first_step: Vec::new(),
        })
    }

    pub fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn code_len(&self) -> usize {
        self.code_len
    }
    /// The counters, for registration with libFuzzer.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.map.as_mut_ptr()
    }
    pub fn counters(&self) -> &[u8] {
        &self.map
    }
    /// Zero every counter and forget the steps: a new run begins. libFuzzer zeroes the
    /// counters itself before each input; a loop of our own (`charmfuzz random`, the
    /// campaign bench) needs this, or every slot an earlier input hit would count as hit
    /// by each input after it.
    pub fn clear(&mut self) {
        self.map.fill(0);
        self.first_step.fill(u16::MAX);
    }

    /// The counters and first steps as they are now (a prefix snapshot's coverage).
    pub fn save(&self) -> CoverageState {
        let hit = (self.map.iter().enumerate())
            .filter(|(_, c)| **c != 0)
            .map(|(i, &c)| {
                let first = self.first_step.get(i).copied().unwrap_or(u16::MAX);
                (i as u32, c, first)
            })
            .collect();
        CoverageState { hit }
    }

    /// Put the counters and first steps back as [`CoverageMap::save`] had them.
    pub fn restore(&mut self, state: &CoverageState) {
        self.clear();
        for &(i, c, first) in &state.hit {
            self.map[i as usize] = c;
            if let Some(f) = self.first_step.get_mut(i as usize) {
                *f = first;
            }
        }
    }

    /// Note, from now on, the step at which each slot is first hit in a run
    /// ([`CoverageMap::mark_step`]).
    pub fn track_steps(&mut self) {
        self.first_step = vec![u16::MAX; self.map.len()];
    }

    /// Note `step` as the step at which every slot hit so far, and not noted before, was
    /// first hit: called after each event of a run, it tells *where* in the story the run
    /// did each thing it did ([`CoverageMap::first_step`]). Nothing unless
    /// [`CoverageMap::track_steps`] was called.
    pub fn mark_step(&mut self, step: usize) {
        let step = u16::try_from(step)
            .unwrap_or(u16::MAX - 1)
            .min(u16::MAX - 1);
        for (m, &c) in self.first_step.iter_mut().zip(self.map.iter()) {
            if c != 0 && *m == u16::MAX {
                *m = step;
            }
        }
    }

    /// The step of this run's story at which `slot` was first hit, if it was and the run
    /// marked its steps ([`CoverageMap::mark_step`]).
    pub fn first_step(&self, slot: usize) -> Option<usize> {
        (self.first_step.get(slot).copied()).and_then(|s| (s != u16::MAX).then_some(s.into()))
    }
    /// Turn every counter into "hit or not" (1 or 0).
    ///
    /// One input is a whole story of hooks, so a count says mostly how long the story was:
    /// a line that runs in every hook, or a transition that repeats, reaches a new hit-count
    /// bucket in every longer story, and libFuzzer would keep each of them as progress.
    /// Flattened, an input is kept only when it makes the charm run something it never ran
    /// or do something it never did.
    pub fn flatten(&mut self) {
        for b in self.map.iter_mut() {
            *b = u8::from(*b != 0);
        }
    }

    /// Counters that are non-zero in the charm code region and in the features region.
    pub fn hit_slots(&self) -> (usize, usize) {
        let (code, feat) = self.map.split_at(self.code_len);
        (
            code.iter().filter(|&&b| b != 0).count(),
            feat.iter().filter(|&&b| b != 0).count(),
        )
    }

    /// The slots of the `memory` features: how a hook changed what the charm remembers.
    pub fn state_slots(&self) -> std::ops::Range<usize> {
        self.map.len() - STATE_SLOTS..self.map.len()
    }

    fn bump(&mut self, name: &[&str]) {
        let mut h: u32 = 0x811C_9DC5; // FNV-1a over the parts
        for part in name {
            for b in part.bytes().chain([0xFF]) {
                h ^= b as u32;
                h = h.wrapping_mul(0x0100_0193);
            }
        }
        let i = if name.first() == Some(&"memory") {
            self.state_slots().start + h as usize % STATE_SLOTS
        } else {
            self.code_len + h as usize % (FEATURE_SLOTS - STATE_SLOTS)
        };
        self.map[i] = self.map[i].saturating_add(1);
    }

    /// Record the lifecycle features of one event (`prev` is the event before it in this
    /// input).
    pub fn record_event(&mut self, prev: Option<&EventOutcome>, outcome: &EventOutcome) {
        let kind = outcome.kind.as_str();
        let deferred_before = prev.map_or(0, |p| p.deferred.len());
        self.bump(&[
            "transition",
            prev.map_or("start", |p| p.kind.as_str()),
            kind,
        ]);
        let mut respond = |what: &str| self.bump(&["response", kind, what]);
        if !outcome.exit.ok() {
            respond("failed");
        }
        let deferred = outcome.deferred.len();
        if deferred > deferred_before {
            respond("deferred");
        } else if deferred < deferred_before {
            respond("re-emitted");
        }
        for s in outcome.agent.statuses.iter().filter(|s| !s.by_juju) {
            let who = if s.target == StatusTarget::Unit {
                "unit"
            } else {
                "app"
            };
            respond(&format!("status:{who}:{}", s.status));
        }
        for c in &outcome.agent.committed {
            let what = match c {
                Change::RelationData { app: true, .. } => "wrote app data",
                Change::RelationData { app: false, .. } => "wrote unit data",
                Change::PortOpened { .. } | Change::PortClosed { .. } => "ports",
                Change::StorageAdded { .. } => "storage-add",
                Change::SecretCreated { .. } => "secret created",
                Change::SecretRevised { .. } | Change::SecretMetadata { .. } => "secret changed",
                Change::SecretRemoved { .. } => "secret removed",
                Change::SecretGranted { .. } | Change::SecretRevoked { .. } => "secret grants",
                _ => continue,
            };
            respond(what);
        }
        let depth = deferred.min(7).to_string();
        self.bump(&["depth", kind, &depth]);
        for (handle, value) in &outcome.stored {
            let fields = field_shapes(value);
            for (field, shape) in &fields {
                self.bump(&["stored", kind, field, shape]);
            }
            let before = prev.and_then(|p| p.stored.get(handle));
            let before = before.map_or_else(|| "none".into(), |v| memory(&field_shapes(v)));
            let after = memory(&fields);
            if before != after {
                self.bump(&["memory", handle, &before, &after]);
            }
        }
    }
}

/// The [`shape`] of each field of a `StoredState` (a handle's value), by field name.
fn field_shapes(v: &serde_json::Value) -> Vec<(&str, String)> {
    let mut fields: Vec<(&str, String)> = (v.as_object().into_iter().flatten())
        .map(|(field, value)| (field.as_str(), shape(value)))
        .collect();
    fields.sort_unstable();
    fields
}

/// The shape of a whole `StoredState`, for the `memory` feature: all its fields' shapes.
fn memory(fields: &[(&str, String)]) -> String {
    let parts: Vec<String> = fields.iter().map(|(f, s)| format!("{f}:{s}")).collect();
    parts.join(" ")
}

/// The shape of a value the charm keeps in its `StoredState`, for the `stored` lifecycle
/// feature: enough to tell the charm's memory apart (unset or set, which word of a small
/// set of states, which parts of a record are filled in), not the values themselves
/// (ids and timestamps would make every story new).
fn shape(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null | Value::Bool(false) => "empty".into(),
        Value::Bool(true) => "true".into(),
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            if x < 0.0 {
                "negative"
            } else if x == 0.0 {
                "0"
            } else if x <= 1.0 {
                "1"
            } else if x <= 2.0 {
                "2"
            } else {
                "many"
            }
            .into()
        }
        Value::String(s) if s.is_empty() => "empty".into(),
        // A short word (`restarted`, `restoring`) is a state; anything else is data.
        Value::String(s)
            if s.len() <= 24
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || "-_".contains(c)) =>
        {
            format!("={s}")
        }
        Value::String(_) => "set".into(),
        Value::Array(a) if a.is_empty() => "empty".into(),
        Value::Array(a) => if a.len() == 1 { "one" } else { "several" }.into(),
        Value::Object(o) => {
            let mut filled: Vec<&str> = o
                .iter()
                .filter(|(_, v)| shape(v) != "empty")
                .map(|(k, _)| k.as_str())
                .collect();
            filled.sort_unstable();
            if filled.is_empty() {
                "empty".into()
            } else {
                format!("{{{}}}", filled.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::HookKind;

    #[test]
    fn stored_state_is_told_apart_by_shape_not_value() {
        use serde_json::json;
        assert_eq!(shape(&json!("")), "empty");
        assert_eq!(shape(&json!(null)), "empty");
        assert_eq!(shape(&json!("restoring")), "=restoring");
        assert_eq!(shape(&json!("manual-20261127T031500")), "set");
        assert_eq!(shape(&json!("other-20261127T031501")), "set");
        assert_eq!(shape(&json!(0)), "0");
        assert_eq!(shape(&json!(2)), "2");
        assert_eq!(shape(&json!(17)), "many");
        // A record: which of its parts are filled in.
        let running = json!({"backup": "b-1", "started": "2026-11-27T03:15", "finished": ""});
        let done =
            json!({"backup": "b-1", "started": "2026-11-27T03:15", "finished": "2026-11-27T03:16"});
        assert_eq!(shape(&running), "{backup,started}");
        assert_eq!(shape(&done), "{backup,finished,started}");
        assert_eq!(shape(&json!({})), "empty");
    }

    #[test]
    fn flattening_keeps_what_was_hit_and_forgets_how_often() {
        let mut m = CoverageMap::new(16).unwrap();
        m.map[1] = 200;
        m.map[3] = 1;
        m.map[16 + 5] = 7;
        m.flatten();
        let hit: Vec<usize> = (0..m.len()).filter(|&i| m.counters()[i] != 0).collect();
        assert_eq!(hit, vec![1, 3, 21]);
        assert!(m.counters().iter().all(|&b| b <= 1));
    }

    #[test]
    fn each_slot_remembers_the_step_that_first_hit_it_until_the_next_run() {
        let mut m = CoverageMap::new(16).unwrap();
        m.track_steps();
        m.map[2] = 1;
        m.mark_step(0);
        m.map[2] = 5;
        m.map[7] = 1;
        m.mark_step(1);
        m.mark_step(2);
        m.map[16 + 3] = 1;
        m.mark_step(3);
        assert_eq!(
            m.first_step(2),
            Some(0),
            "hit again later: still its first step"
        );
        assert_eq!(m.first_step(7), Some(1));
        assert_eq!(m.first_step(16 + 3), Some(3));
        assert_eq!(m.first_step(5), None, "never hit");
        m.clear();
        assert!(m.counters().iter().all(|&b| b == 0));
        assert_eq!(m.first_step(2), None, "a new run");
        m.map[7] = 1;
        m.mark_step(0);
        assert_eq!(m.first_step(7), Some(0));
    }

    #[test]
    fn the_charms_memory_has_its_own_slots() {
        let m = CoverageMap::new(16).unwrap();
        let state = m.state_slots();
        assert_eq!(state.end, m.len());
        for field in ["recovery", "last_backup", "restore", "check_failures"] {
            for shape in ["empty", "=restoring", "{backup,started}", "2"] {
                let hit = |name: &[&str]| {
                    let mut m = CoverageMap::new(16).unwrap();
                    m.bump(name);
                    let hit: Vec<usize> = (0..m.len()).filter(|&i| m.counters()[i] != 0).collect();
                    assert_eq!(hit.len(), 1);
                    hit[0]
                };
                let at = hit(&["memory", "Charm/StoredState[_stored]", field, shape]);
                assert!(state.contains(&at), "{field} {shape} at {at}");
                for other in ["stored", "transition"] {
                    let at = hit(&[other, "check-failed", field, shape]);
                    assert!(at >= 16 && at < state.start, "{other} {field} {shape}");
                }
            }
        }
    }

    /// An outcome of a hook of `kind` after which the charm's `StoredState` holds `stored`.
    fn remembering(kind: HookKind, stored: serde_json::Value) -> EventOutcome {
        let mut o = EventOutcome {
            hook: kind.as_str().into(),
            kind,
            exit: crate::target::Exit::Code(0),
            seconds: 0.0,
            exception: None,
            agent: crate::target::hooktools::HookOutcome {
                hook: kind.as_str().into(),
                result: crate::engine::HookResult::Ok,
                effects: vec![],
                calls: vec![],
                committed: vec![],
                discarded: vec![],
                logs: vec![],
                statuses: vec![],
                action: None,
                reboot: None,
            },
            shim_calls: vec![],
            lacks: vec![],
            unscripted: vec![],
            stored: Default::default(),
            deferred: vec![],
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            output_cut: None,
            killed_worker: false,
            process_limit: false,
            stopped_at: None,
        };
        o.stored.insert("Charm/StoredState[_stored]".into(), stored);
        o
    }

    #[test]
    fn a_hook_that_changes_the_charms_memory_in_a_new_way_is_a_new_state() {
        use serde_json::json;
        let state = CoverageMap::new(16).unwrap().state_slots();
        // The state slots one event hits after `prev`.
        let memory = |prev: Option<&EventOutcome>, now: &EventOutcome| {
            let mut m = CoverageMap::new(16).unwrap();
            m.record_event(prev, now);
            (state.clone())
                .filter(|&i| m.counters()[i] != 0)
                .collect::<Vec<_>>()
        };
        let idle = json!({"last_backup": "manual-1", "check_failures": 0, "recovery": ""});
        let restarted =
            json!({"last_backup": "manual-1", "check_failures": 1, "recovery": "restarted"});
        let backup_taken = remembering(HookKind::Action, idle.clone());
        let failed = remembering(HookKind::PebbleCheckFailed, restarted);
        let first = memory(Some(&backup_taken), &failed);
        assert_eq!(
            first.len(),
            1,
            "a check failing after a backup: one new state"
        );
        // Another backup id is the same shape: the same transition.
        let other = json!({"last_backup": "manual-2", "check_failures": 0, "recovery": ""});
        let other_backup = remembering(HookKind::Action, other);
        assert_eq!(memory(Some(&other_backup), &failed), first);
        // A hook that leaves the memory as it was is no state at all, whatever its kind.
        let config = remembering(HookKind::ConfigChanged, idle.clone());
        assert!(memory(Some(&backup_taken), &config).is_empty());
        // Without a backup, the same failure is another transition.
        let no_backup = json!({"last_backup": "", "check_failures": 0, "recovery": ""});
        let no_backup_failed =
            json!({"last_backup": "", "check_failures": 1, "recovery": "restarted"});
        let before = remembering(HookKind::Start, no_backup);
        let after = remembering(HookKind::PebbleCheckFailed, no_backup_failed);
        let without = memory(Some(&before), &after);
        assert_eq!(without.len(), 1);
        assert_ne!(without, first);
        // The first hook of a story starts from no memory.
        assert_eq!(memory(None, &config).len(), 1);
    }

    #[test]
    fn the_bitmap_is_shared_through_the_fd() {
        let mut m = CoverageMap::new(1024).unwrap();
        assert_eq!(m.len(), 1024 + FEATURE_SLOTS);
        // Another mapping of the same fd (as the worker makes) sees our writes and we
        // see its.
        let f = std::fs::File::from(m.fd.try_clone().unwrap());
        // SAFETY: the memfd belongs to this test; both mappings only read and write bytes.
        let mut other = unsafe { MmapMut::map_mut(&f).unwrap() };
        other[7] = 3;
        assert_eq!(m.counters()[7], 3);
        m.clear();
        assert_eq!(other[7], 0);
        assert_eq!(m.hit_slots(), (0, 0));
    }
}
