//! The lifecycle engine: a pure model of what Juju does to one unit.
//!
//! Nothing in here does I/O, reads a clock or draws random numbers: the only source of
//! choice is the fuzzer's bytes. That makes every story reproducible from its bytes and lets
//! the engine be tested exhaustively on its own.
//!
//! - [`World`] is one unit's view of its deployment, kept the way Juju's unit agent keeps it:
//!   a *remote* state (what the controller says: config, relations, leadership, storage,
//!   secrets, pending actions) and a *local* state (what hooks have already run).
//! - An [`Action`] changes the remote state; the world's resolver then yields the hooks Juju
//!   may deliver next, in the priority order of juju-model.md §L2.0.
//! - [`decode`] turns bytes into a [`Trace`], choosing at every point among the actions
//!   and hooks that are valid right now; [`encode`] turns a trace back into bytes.
//! - [`validate`] checks any trace, independently of the generator, against juju-model.md §L2.15.

pub mod action;
pub mod codec;
pub mod event;
pub mod options;
pub mod trace;
pub mod validate;
pub mod world;

pub use action::{
    Action, ActionKind, Databag, Effect, RelationInit, SecretOrigin, SecretOwner, Source,
    WorkloadFault,
};
pub use codec::{
    ChoicePoint, Decoder, DecoderState, Driver, EncodeError, Extension, StoryEncoder, Tape,
    Vocabulary, Weights, decode, encode, encode_story, seed_bytes,
};
pub use event::{Event, HookKind, HookResult};
pub use options::{EngineOptions, JujuVersion};
pub use trace::{Phase, Step, TRACE_FORMAT, Trace};
pub use validate::{Violation, validate};
pub use world::World;
