//! Virtual time: the unit's clock, which moves with the story rather than the machine.
//!
//! Charms wait on their workload (`time.sleep(3)` between polls, tenacity's `wait_fixed`)
//! and compare times (a secret's expiry, a certificate's). Under Juju the waits are real;
//! under a fuzzer they would be most of the run. So each input runs on a clock of its own.
//! It starts at [`EPOCH_NS`] and moves:
//!
//! - inside a hook, as the charm's process moves it (`python/charmfuzz_clock.py`: a sleep
//!   moves it by what it asked and returns at once; each read moves it a tick; while the
//!   charm runs a process of its own, time there is real);
//! - from one hook to the next, by [`DISPATCH_GAP_NS`] after the last time the hook saw;
//! - by Juju's own timers: `update-status` comes [`UPDATE_STATUS_INTERVAL_NS`] after the
//!   previous one, `secret-expired` once the secret's expiry has passed and
//!   `secret-rotate` once its rotation is due.
//!
//! The unit agent's hook tools read the same clock (`secret-add --expire 1h` expires an hour
//! after the hook's start). So an input's times are a function of its story: the same on
//! every replay, on any machine. Only fork mode runs the charm on this clock; in exec mode
//! the charm's interpreter starts afresh per hook and reads the machine's time.

use serde::Serialize;

/// Where every input's clock starts: 2025-01-01T00:00:00Z, in nanoseconds since the epoch.
pub const EPOCH_NS: i64 = 1_735_689_600 * NS_PER_S;

const NS_PER_S: i64 = 1_000_000_000;

/// Between one hook's end and the next one's start: the agent's turnaround.
pub const DISPATCH_GAP_NS: i64 = NS_PER_S;

/// Juju's default `update-status-hook-interval` (5m).
pub const UPDATE_STATUS_INTERVAL_NS: i64 = 5 * 60 * NS_PER_S;

/// One input's clock: what the unit agent and the charm's process read as "now".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VirtualClock {
    /// Nanoseconds since the Unix epoch.
    pub now_ns: i64,
    /// When the `update-status` timer next fires (the agent starts it with the unit).
    pub update_status_due_ns: i64,
}

impl Default for VirtualClock {
    fn default() -> Self {
        VirtualClock {
            now_ns: EPOCH_NS,
            update_status_due_ns: EPOCH_NS + UPDATE_STATUS_INTERVAL_NS,
        }
    }
}

impl VirtualClock {
    /// Time passes (never backwards).
    pub fn advance(&mut self, ns: i64) {
        self.now_ns = self.now_ns.saturating_add(ns.max(0));
    }

    /// Move on to `at` if it is later.
    pub fn reach(&mut self, at_ns: i64) {
        self.now_ns = self.now_ns.max(at_ns);
    }

    /// The `update-status` timer fires: no earlier than it was due; the next is due an
    /// interval later.
    pub fn update_status(&mut self) {
        self.reach(self.update_status_due_ns);
        self.update_status_due_ns = self.now_ns + UPDATE_STATUS_INTERVAL_NS;
    }

    /// A hook ended, having last seen `seen_ns` (if its process ran on this clock): the
    /// next one starts the agent's turnaround later.
    pub fn after_hook(&mut self, seen_ns: Option<i64>) {
        if let Some(seen) = seen_ns {
            self.reach(seen);
        }
        self.advance(DISPATCH_GAP_NS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_only_moves_forward() {
        let mut c = VirtualClock::default();
        c.after_hook(Some(EPOCH_NS + 300 * NS_PER_S + 5));
        assert_eq!(c.now_ns, EPOCH_NS + 301 * NS_PER_S + 5);
        // A hook that saw nothing later (or did not run on the clock) still takes a turn.
        c.after_hook(Some(EPOCH_NS));
        assert_eq!(c.now_ns, EPOCH_NS + 302 * NS_PER_S + 5);
        c.after_hook(None);
        c.advance(-7);
        c.reach(0);
        assert_eq!(c.now_ns, EPOCH_NS + 303 * NS_PER_S + 5);
    }

    #[test]
    fn update_status_fires_an_interval_after_the_last() {
        let mut c = VirtualClock::default();
        c.update_status();
        assert_eq!(c.now_ns, EPOCH_NS + UPDATE_STATUS_INTERVAL_NS);
        // Hooks that ran past the next firing: it comes at once.
        c.advance(2 * UPDATE_STATUS_INTERVAL_NS);
        let late = c.now_ns;
        c.update_status();
        assert_eq!(c.now_ns, late);
        assert_eq!(c.update_status_due_ns, late + UPDATE_STATUS_INTERVAL_NS);
    }
}
