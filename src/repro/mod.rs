//! Reproducers: a finding as a pytest file that uses `ops.testing`.
//!
//! A finding's reproducer is an `ops.testing` pytest file that replays the minimised story
//! against the charm, so that the charm author can fix the bug with a failing test.
//!
//! A charm author cannot commit a fuzzer run, but they can commit a unit test. `ops.testing`
//! (formerly Scenario) runs one hook of a charm on a `State`, the unit's whole world as the
//! charm sees it: config, leadership, relations with their databags, containers with their
//! Pebble layers and files, storage, secrets, and the charm's own unit state (StoredState
//! and the deferred events ops will re-emit first). So a finding becomes one test: the
//! `State` just before the hook that failed, then `ctx.run` of that hook, which raises the
//! same exception at the same line while the bug is there and passes once it is fixed.
//!
//! The state is not guessed from the trace: charmfuzz replays the finding up to the failing
//! hook and reads the unit there, as the hook tools would have answered it
//! ([`crate::target::hooktools::HookContext::scene`]), Pebble's plans and files, and ops'
//! SQLite unit state (read by the worker, so StoredState values are Python literals). The
//! writer is pure: it turns that [`Scene`] into Python source.
//!
//! What `ops.testing` cannot express is written into the file as a note ([`Scene::gaps`])
//! rather than silently left out.
//!
//! # Layout
//!
//! - `scene`: the data model, the [`Scene`] the target fills as it replays a finding.
//! - `pytest`: the writer, [`write_pytest`], that turns the scenes of a story into the test
//!   file (its `step` submodule writes one scene as a `State` and an event, its `literal`
//!   submodule Python literals).
//! - [`run`]: the I/O around them, re-exported as [`crate::reproduce`]: replaying a finding
//!   to capture its scenes, writing and formatting the file, and running a reproducer with
//!   pytest to check that it fails the way the finding did.

mod pytest;
pub mod run;
mod scene;

pub use pytest::{
    CHARM_DIR_VAR, CharmDir, CharmImport, Finding, py_str, py_value, wrap, write_pytest,
};
pub use scene::{
    CheckScene, ContainerScene, Databag, DeferredScene, EventScene, ExecScene, HostScene,
    NoticeScene, RelationScene, Scene, SecretScene, StoredScene, UnitState,
};
