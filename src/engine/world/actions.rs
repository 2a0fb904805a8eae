//! Actions: `juju run`, the operations the charm offers its users.
//!
//! The user runs one of the charm's actions with parameters (checked against the action's
//! schema, defaults filled in); the agent queues it and runs it when it is idle, after the
//! hooks of higher priority (juju-model.md §L2.0.9). Actions run even while the unit is in error
//! (juju-model.md §L2.14), and a failed action leaves the unit as it was.

use super::{Hook, NotApplicable, World};
use crate::engine::action::Action;
use serde_json::Value;

/// A `juju run` waiting for the unit.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingAction {
    pub name: String,
    pub id: u32,
    /// What `action-get` returns: the user's parameters plus schema defaults.
    pub params: serde_json::Map<String, Value>,
}

impl World {
    /// Pending actions (`juju run`) not yet delivered.
    pub fn pending_actions(&self) -> impl Iterator<Item = &PendingAction> {
        self.action_queue.iter()
    }
    pub fn next_action_id(&self) -> u32 {
        self.next_action_id
    }

    pub(super) fn actions_enabled(&self) -> bool {
        !self.spec.actions.is_empty()
    }

    pub(super) fn apply_actions(
        &mut self,
        action: &Action,
        na: impl Fn(&str) -> NotApplicable,
    ) -> Result<(), NotApplicable> {
        use Action as A;
        match action {
            A::RunAction { name, id, params } => {
                let spec = self
                    .spec
                    .action(name)
                    .ok_or_else(|| na("the charm has no such action"))?;
                if *id != self.next_action_id {
                    return Err(na("action ids are given out in order"));
                }
                let mut full = params.clone();
                for p in &spec.params {
                    if let (false, Some(d)) = (full.contains_key(&p.name), &p.default) {
                        full.insert(p.name.clone(), d.clone());
                    }
                }
                self.next_action_id += 1;
                self.action_queue.push_back(PendingAction {
                    name: name.clone(),
                    id: *id,
                    params: full,
                });
            }
            _ => unreachable!("{} is not a `juju run`", action.kind()),
        }
        Ok(())
    }

    /// Step 9: actions, FIFO.
    pub(super) fn action_candidates(&self) -> Option<Vec<Hook>> {
        let a = self.action_queue.front()?;
        Some(vec![Hook::Action(a.clone())])
    }
}
