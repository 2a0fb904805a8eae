//! The I/O side of charmfuzz: the process boundary to the real charm.
//!
//! Where [`crate::engine`] is pure (it decides which Juju events happen, in which order,
//! from the fuzzer's bytes), `target` is everything that touches the outside world to
//! play those events against the charm's own Python: the servers that answer what a
//! charm asks of Juju and of its workloads, the processes the charm runs in, and the
//! sandbox around them. Each piece here imitates one side of the boundary described in
//! `docs/juju-model.md` as faithfully as the real charm can observe it.
//!
//! - [`hooktools`]: the unit agent's answers to the charm's hook tools (`relation-get`,
//!   `secret-add`, `status-set`, …), with Juju's rules and its commit-on-success semantics,
//!   as a pure state machine the process plumbing calls.
//! - [`pebble`]: a fake Pebble per workload container, a real HTTP server on a Unix
//!   socket speaking the API `ops.pebble.Client` uses (the `pebble-fake` crate in
//!   `crates/pebble-fake`, re-exported here).
//! - [`host`]: a machine charm's machine (snapd, systemd, apt and dpkg with one state: the
//!   `host-fake` crate in `crates/host-fake`) and the places its sandbox adds.

pub mod agent;
pub mod cgroup;
pub mod clock;
pub mod config;
pub mod hooktools;
pub mod host;
pub mod kube;
pub mod outcome;
pub use pebble_fake as pebble;
pub mod pod;
pub mod runner;
pub mod sandbox;
pub mod sudo;
pub mod worker;
pub mod workload_http;

pub use config::{Mode, TargetConfig};
pub use outcome::{
    EventOutcome, Exit, Finding, FindingClass, FindingKind, Lack, LackKind, PyException,
};
pub use runner::{
    CacheStats, PythonSource, RunReport, Target, TargetError, UnitSnapshot, UnitState, find_python,
};
pub mod coverage;
