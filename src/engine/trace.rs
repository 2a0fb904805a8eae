//! Traces: the realised story of one fuzz input, the artifact people read, replay and edit.
//!
//! libFuzzer's bytes are the DNA; a [`Trace`] is the organism. It lists, step by step, the
//! [`Action`] that happened and the hook [`Event`]s the unit agent then delivered, with every
//! id, name and payload made concrete. Traces are JSON (`docs/trace-format.md`); they can be
//! validated on their own ([`validate`](super::validate)) and encoded back into bytes
//! ([`encode`](super::encode)) so that a hand-written story becomes a fuzzing seed.

use super::action::Action;
use super::event::Event;
use super::options::EngineOptions;
use crate::spec::Substrate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The trace format version written in every trace's `"format"` field.
pub const TRACE_FORMAT: u32 = 1;

/// Where in its life the unit is, as printed in stories (`PHASE Phase.setup:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// From deploy until the first `start` has run.
    Setup,
    /// The unit is up.
    Operation,
    /// The unit is Dying: from its removal to `remove`.
    Teardown,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Setup => "setup",
            Phase::Operation => "operation",
            Phase::Teardown => "teardown",
        })
    }
}

/// One action and the events the unit received after it, before the next action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The phase the unit was in when the action happened.
    pub phase: Phase,
    #[serde(flatten)]
    pub action: Action,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// A whole story for one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Always [`TRACE_FORMAT`].
    pub format: u32,
    /// The charm's name (`name:` in its metadata).
    pub charm: String,
    pub substrate: Substrate,
    /// The unit under test (`<app>/<n>`).
    pub unit: String,
    /// The engine switches and Juju version the trace was made with.
    pub options: EngineOptions,
    pub steps: Vec<Step>,
}

impl Trace {
    /// Every event of the trace, in delivery order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.steps.iter().flat_map(|s| s.events.iter())
    }
    /// A story of actions only (no step lists its events), as hand-written seeds are:
    /// after each action the unit gets every hook Juju then has pending.
    pub fn is_story(&self) -> bool {
        self.events().next().is_none()
    }
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("traces always serialise")
    }
    pub fn from_json(text: &str) -> Result<Trace, serde_json::Error> {
        serde_json::from_str(text)
    }
}
