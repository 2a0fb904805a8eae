//! Juju actions (`juju run <unit> <action>`), dispatched to the charm as `actions/<name>`.
//!
//! (These are the charm's actions, not the trace's [`Action`] steps.) An action runs only
//! if the charm declares it in `actions.yaml`, never before `install` (§L2.15.15, checked with
//! the other gates in `lifecycle`), in the order the user queued them (§L2.11: FIFO), with the
//! parameters the user gave (Juju may add defaults). Actions may run while a failed hook
//! waits for its retry; they are not retried themselves, and a failed action does not put
//! the unit in error (§L2.14).

use super::{Found, Rule, Validator, found};
use crate::engine::action::Action;
use crate::engine::event::{Event, HookResult};

impl Validator<'_> {
    /// `RunAction`: the user queues an action.
    pub(super) fn run_action(&mut self, step: usize, what: &str, action: &Action) {
        let Action::RunAction { name, id, params } = action else {
            unreachable!("{what} is not run-action");
        };
        if !self.action_ids.insert(*id) {
            let msg = format!("action id {id} used twice");
            self.report(step, None, what, Rule::ActionShape, msg);
        }
        self.actions.push_back((*id, name.clone(), params.clone()));
    }

    pub(super) fn check_action(&self, ev: &Event) -> Option<Found> {
        let name = ev.env("JUJU_ACTION_NAME")?;
        // §L2.15.15: declared actions only.
        if self.spec.action(name).is_none() {
            return found(
                Rule::Action,
                format!("action {name:?} is not in actions.yaml"),
            );
        }
        let uuid = ev.env("JUJU_ACTION_UUID").unwrap_or("");
        let Some(pos) = self
            .actions
            .iter()
            .position(|(id, _, _)| id.to_string() == uuid)
        else {
            return found(
                Rule::Unprompted,
                format!("action {name} (id {uuid}) was never run"),
            );
        };
        let (_, want, params) = &self.actions[pos];
        if want != name {
            return found(
                Rule::Action,
                format!("action id {uuid} was {want}, event runs {name}"),
            );
        }
        // §L2.11: FIFO.
        if pos != 0 {
            return found(
                Rule::Action,
                format!(
                    "action id {uuid} ran before earlier action id {}",
                    self.actions[0].0
                ),
            );
        }
        // Parameters the user gave reach action-get unchanged (defaults may be added).
        if let Some(got) = &ev.params {
            for (k, v) in params {
                if got.get(k) != Some(v) {
                    return found(
                        Rule::Action,
                        format!("parameter {k:?} differs from the one given to juju run"),
                    );
                }
            }
        } else if !params.is_empty() {
            return found(Rule::Action, "action event without the parameters given");
        }
        None
    }

    /// An action event ran: it leaves the queue, and its effects count if it succeeded.
    pub(super) fn action_ran(&mut self, ev: &Event) {
        // Actions are not retried; a failed action does not put the unit in error.
        if let Some(pos) = self
            .actions
            .iter()
            .position(|(id, _, _)| Some(id.to_string().as_str()) == ev.env("JUJU_ACTION_UUID"))
        {
            self.actions.remove(pos);
        }
        if ev.result == HookResult::Ok {
            self.apply_effects(ev);
        }
    }
}
