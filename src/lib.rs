//! charmfuzz: a coverage-guided lifecycle fuzzer for Juju charms.
//!
//! A Juju charm is a Python program (built on `ops`) that the Juju unit agent drives through
//! a stream of hook events. charmfuzz decodes fuzzer bytes into *valid* Juju event orderings
//! ([`engine`]), for the charm described by its [`spec`], and runs them against the real charm.

pub mod charm;
pub mod engine;
pub mod fuzzing;
pub mod lifecycle_map;
pub mod line_coverage;
pub mod minimize;
pub mod repro;
pub mod reproduce;
pub mod spec;
pub mod story;
pub mod target;
pub mod triage;
