//! Prefix snapshots: an input that begins like an earlier one starts where the earlier
//! one's first steps left the unit, instead of playing them again.
//!
//! A fuzzing input is a story, and most mutations change its end: the structure-aware
//! mutator tells a story further far more often than it rewrites its beginning. Played from
//! the start, such an input runs again every hook the corpus input ran before the change:
//! for a story of sixteen steps with one appended, fifteen sixteenths of the work is a
//! replay. So while an input plays, the target keeps, at its event boundaries, a
//! [`PrefixSnapshot`] of everything the story so far has made: the decoder (its world,
//! trace and place on the tape), the unit agent, the unit-state database and every file the
//! charm wrote (what differs from the sandbox's baseline), the fake Pebble's containers,
//! the fake machine, the Kubernetes objects, the coverage bitmap with each slot's first
//! step, and the outcomes so far. Each snapshot is keyed by the bytes the decoder had read
//! when it was taken: the story up to there follows from those bytes and the charm's
//! behaviour alone, so any input that begins with them has the same past.
//!
//! Before an input plays, [`PrefixCache::longest`] finds the snapshot with the longest key
//! that is a prefix of the input; the target puts the unit back as the snapshot has it and
//! the decoder goes on reading from there. A resumed input is the input played in full:
//! the same trace, the same outcomes, the same coverage. The coverage is the snapshot's
//! bitmap plus what the new steps add, so libFuzzer credits the input with everything its
//! story did, old steps included.
//!
//! The cache holds a bounded number of snapshots (`CHARMFUZZ_PREFIX_CACHE`, 0 turns it
//! off). Every input leaves a snapshot at each of its new event boundaries, and most
//! inputs are never mutated again (libFuzzer keeps only those that did something new), so
//! plain least-recently-used order would let each input's snapshots push out those that
//! inputs are resumed from. It is segmented instead, as a 2Q cache is: a snapshot that has
//! never been resumed from is forgotten first (the oldest of those), and one that has is
//! kept until no other is left to forget (then the least recently used). Its figures
//! ([`CacheStats`]) are printed at libFuzzer's pulses.
//!
//! What a snapshot cannot hold: a process the charm left running between two hooks (a
//! daemon it started with `subprocess.Popen` and did not wait for) is not there in a
//! resumed input. The worker's own state is not kept either, which is why snapshots are
//! taken only in fork mode, where each hook is a fresh child of a worker that never
//! changes.

use super::{Progress, Target, TargetError, UnitState};
use crate::engine::DecoderState;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Bytes left unread under which an event boundary counts as near the end of its input.
const NEAR_THE_END: usize = 24;

/// The most events between two snapshots of one input.
const MAX_SPACING: usize = 4;

/// The unit, and the story, at an event boundary of an input.
pub struct PrefixSnapshot {
    pub(super) decoder: DecoderState,
    unit: UnitState,
    pub(super) progress: Progress,
}

impl PrefixSnapshot {
    /// Roughly how many bytes it holds.
    fn size(&self) -> usize {
        self.unit.size() + 8 * self.progress.outcomes.len()
    }
}

/// How the cache has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CacheStats {
    /// Inputs that looked for a prefix.
    pub lookups: u64,
    /// Of those, the ones that resumed from one.
    pub hits: u64,
    /// Events the resumed inputs did not run again.
    pub events_skipped: u64,
    /// Events the inputs ran.
    pub events_run: u64,
    /// Snapshots taken, and the time taking them and resuming from them took.
    pub taken: u64,
    pub take_seconds: f64,
    pub resume_seconds: f64,
    /// Snapshots held now, and the bytes they hold.
    pub held: usize,
    pub bytes: usize,
}

impl std::fmt::Display for CacheStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pct = |a: u64, b: u64| {
            if b == 0 {
                0.0
            } else {
                100.0 * a as f64 / b as f64
            }
        };
        write!(
            f,
            "prefix cache: {:.0}% of inputs resumed, {:.0}% of events skipped ({} run, {} not), \
             {} snapshots ({} KiB), {:.1} ms per snapshot taken, {:.1} ms per resume",
            pct(self.hits, self.lookups),
            pct(self.events_skipped, self.events_skipped + self.events_run),
            self.events_run,
            self.events_skipped,
            self.held,
            self.bytes / 1024,
            1000.0 * self.take_seconds / self.taken.max(1) as f64,
            1000.0 * self.resume_seconds / self.hits.max(1) as f64,
        )
    }
}

struct Entry {
    snap: Arc<PrefixSnapshot>,
    used: u64,
    /// An input was resumed from it.
    proven: bool,
}

/// Snapshots by the bytes that lead to them, the least recently used forgotten first.
pub struct PrefixCache {
    capacity: usize,
    /// The least a snapshot has cost to take so far: what one costs on this charm, from
    /// the fastest sample (the first one reads files the page cache does not hold yet, and
    /// a loaded machine slows some).
    cheapest_take: Option<f64>,
    entries: HashMap<Vec<u8>, Entry>,
    /// How many keys there are of each length (the lengths to try, longest first).
    lengths: BTreeMap<usize, usize>,
    clock: u64,
    stats: CacheStats,
}

impl PrefixCache {
    /// A cache of at most `capacity` snapshots.
    pub fn new(capacity: usize) -> PrefixCache {
        PrefixCache {
            capacity,
            cheapest_take: None,
            entries: HashMap::new(),
            lengths: BTreeMap::new(),
            clock: 0,
            stats: CacheStats::default(),
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            held: self.entries.len(),
            bytes: self.entries.values().map(|e| e.snap.size()).sum(),
            ..self.stats
        }
    }

    /// The snapshot of the longest prefix of `bytes` held, if any.
    pub(super) fn longest(&mut self, bytes: &[u8]) -> Option<Arc<PrefixSnapshot>> {
        self.stats.lookups += 1;
        self.clock += 1;
        for &len in self.lengths.keys().rev() {
            if len > bytes.len() {
                continue;
            }
            if let Some(e) = self.entries.get_mut(&bytes[..len]) {
                e.used = self.clock;
                e.proven = true;
                self.stats.hits += 1;
                self.stats.events_skipped += e.snap.progress.outcomes.len() as u64;
                return Some(e.snap.clone());
            }
        }
        None
    }

    /// Whether a snapshot of `key` is held already.
    pub(super) fn holds(&self, key: &[u8]) -> bool {
        self.entries.contains_key(key)
    }

    pub(super) fn count_run(&mut self, events: usize) {
        self.stats.events_run += events as u64;
    }

    pub(super) fn insert(&mut self, key: Vec<u8>, snap: PrefixSnapshot) {
        if self.capacity == 0 || self.entries.contains_key(&key) {
            return;
        }
        while self.entries.len() >= self.capacity {
            let Some(oldest) = (self.entries.iter())
                .min_by_key(|(_, e)| (e.proven, e.used))
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.entries.remove(&oldest);
            if let Some(n) = self.lengths.get_mut(&oldest.len()) {
                *n -= 1;
                if *n == 0 {
                    self.lengths.remove(&oldest.len());
                }
            }
        }
        self.clock += 1;
        self.stats.taken += 1;
        *self.lengths.entry(key.len()).or_default() += 1;
        self.entries.insert(
            key,
            Entry {
                snap: Arc::new(snap),
                used: self.clock,
                proven: false,
            },
        );
    }

    /// Forget every snapshot (the target's settings changed what a story does).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.lengths.clear();
    }
}

impl Target {
    /// Keep prefix snapshots of the inputs [`Target::run_bytes`] plays, at most
    /// `capacity` of them (0: none). Only fork mode keeps them.
    pub fn set_prefix_cache(&mut self, capacity: usize) {
        self.prefix_cache = (capacity > 0 && self.config.mode == crate::target::config::Mode::Fork)
            .then(|| PrefixCache::new(capacity));
    }

    /// The prefix cache's figures, if it is on.
    pub fn prefix_stats(&self) -> Option<CacheStats> {
        self.prefix_cache.as_ref().map(PrefixCache::stats)
    }

    /// What decides how a story plays, besides its bytes (the step limit the input is
    /// decoded under, and the target's settings): snapshots taken under others are no use.
    fn prefix_settings(&self, max_steps: Option<usize>) -> String {
        format!(
            "{max_steps:?}|{:?}|{}|{}|{}|{}|{}",
            self.only,
            self.stop_at_finding,
            self.environment_findings,
            self.lifecycle_features,
            self.want_state,
            self.coverage.is_some(),
        )
    }

    /// Clear the cache if the settings that shape a story changed since it was filled.
    pub(super) fn check_prefix_settings(&mut self, max_steps: Option<usize>) {
        let now = self.prefix_settings(max_steps);
        if self.prefix_settings_seen.as_deref() != Some(now.as_str()) {
            if let Some(c) = self.prefix_cache.as_mut() {
                c.clear();
            }
            self.prefix_settings_seen = Some(now);
        }
    }

    /// Whether to take a snapshot at this event boundary, `since` seconds of hooks and
    /// `events` events after the last one, with `left` bytes of the input unread. A snapshot costs a walk of every
    /// place the charm can write: a millisecond for a Kubernetes charm, ten or more for a
    /// machine charm, whose `/etc` is a copy of the host's. Taking one only once the
    /// hooks played since the last have cost ten times what a snapshot does (at best, so
    /// that one slow sample does not space them out for good) keeps that under a tenth of
    /// the run; near the end of the input (where the mutator most often tells the story
    /// further) one is always taken, and never fewer than one every [`MAX_SPACING`] events
    /// (a story often ends by choice, far from the end of its bytes).
    pub(super) fn snapshot_due(&self, since: f64, events: usize, left: usize) -> bool {
        let Some(c) = self.prefix_cache.as_ref() else {
            return false;
        };
        let cost = c.cheapest_take.unwrap_or(0.0);
        left <= NEAR_THE_END || since >= 10.0 * cost || events >= MAX_SPACING
    }

    /// Keep the unit as it is now, with the decoder's `state` and what the input has
    /// played, under the bytes read so far (unless a snapshot of them is held).
    pub(super) fn take_prefix(
        &mut self,
        bytes: &[u8],
        state: DecoderState,
        progress: &Progress,
    ) -> Result<(), TargetError> {
        let key = &bytes[..state.position()];
        if self.prefix_cache.as_ref().is_none_or(|c| c.holds(key)) {
            return Ok(());
        }
        let start = std::time::Instant::now();
        let snap = PrefixSnapshot {
            unit: self.save_unit()?,
            progress: progress.clone(),
            decoder: state,
        };
        let key = key.to_vec();
        if let Some(c) = self.prefix_cache.as_mut() {
            c.insert(key, snap);
            let took = start.elapsed().as_secs_f64();
            c.stats.take_seconds += took;
            c.cheapest_take = Some(c.cheapest_take.map_or(took, |t| t.min(took)));
        }
        Ok(())
    }

    /// Put the unit back as `snap` has it (the input then goes on from its decoder).
    pub(super) fn resume_prefix(&mut self, snap: &PrefixSnapshot) -> Result<(), TargetError> {
        let start = std::time::Instant::now();
        self.restore_unit(&snap.unit)?;
        if let Some(c) = self.prefix_cache.as_mut() {
            c.stats.resume_seconds += start.elapsed().as_secs_f64();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_is_found_and_the_least_recently_used_forgotten() {
        let mut c = PrefixCache::new(2);
        let snap = || PrefixSnapshot {
            decoder: crate::engine::Decoder::from_bytes(
                Arc::new(crate::spec::CharmSpec::from_unified_str("t.yaml", "name: t\n").unwrap()),
                Default::default(),
                &Default::default(),
                &Default::default(),
                &[1, 2, 3, 4],
            )
            .save()
            .expect("a fresh decoder can be saved"),
            unit: UnitState::bare(),
            progress: Progress::default(),
        };
        c.insert(vec![1, 2, 3], snap());
        c.insert(vec![1, 2], snap());
        assert!(c.longest(&[9, 9, 9]).is_none());
        assert!(c.longest(&[1, 2, 3, 4]).is_some());
        assert!(c.holds(&[1, 2, 3]));
        // [1, 2] is newer than [1, 2, 3], but no input resumed from it: it goes.
        c.insert(vec![5], snap());
        assert!(!c.holds(&[1, 2]) && c.holds(&[1, 2, 3]) && c.holds(&[5]));
        assert!(c.longest(&[1, 2, 7]).is_none());
        // [5] has not been resumed from either: it goes before [1, 2, 3].
        c.insert(vec![6], snap());
        assert!(c.holds(&[1, 2, 3]) && c.holds(&[6]) && !c.holds(&[5]));
        let s = c.stats();
        assert_eq!((s.lookups, s.hits, s.taken, s.held), (3, 1, 4, 2));
        c.clear();
        assert!(c.longest(&[1, 2, 3, 4]).is_none());
    }
}
