//! Storage: `<name>-storage-attached` and `<name>-storage-detaching`.
//!
//! A storage instance `<name>/<n>` of a declared store is provisioned with the unit or added
//! later (`juju add-storage`); it gets `storage-attached` once, then `storage-detaching`
//! once, when it is detached or the unit goes (§L2.15.9). An instance that goes away before
//! its attached hook gets no hooks, and a Dying unit attaches nothing (§L2.8). Machine storage
//! provisioned with the unit is attached before `install` (checked with install, in
//! `lifecycle`); a Dying unit detaches its storage before its relations are torn down and
//! before `stop` (§L2.12, checked there too).

use super::{Found, Rule, Stor, Validator, found, storage_name};
use crate::engine::action::Action;
use crate::engine::event::{Event, HookKind};

impl Validator<'_> {
    /// `StorageAdded`, `StorageDetached`.
    pub(super) fn storage_action(&mut self, step: usize, what: &str, action: &Action) {
        match action {
            Action::StorageAdded { storage } => self.add_storage(step, what, storage, false),
            Action::StorageDetached { storage } => match self.storage.get_mut(storage) {
                Some(s) if !s.detach_requested && !s.detached => s.detach_requested = true,
                _ => {
                    let msg = format!("storage {storage:?} is not attached");
                    self.report(step, None, what, Rule::ActionShape, msg);
                }
            },
            _ => unreachable!("{what} is not a storage action"),
        }
    }

    pub(super) fn add_storage(&mut self, step: usize, what: &str, id: &str, initial: bool) {
        match storage_name(id) {
            Some(name) if self.spec.storage(name).is_some() => {}
            _ => {
                let msg = format!("storage {id:?} is not <declared storage>/<n>");
                self.report(step, None, what, Rule::ActionShape, msg);
            }
        }
        if self.storage.contains_key(id) {
            let msg = format!("storage {id:?} provisioned twice");
            self.report(step, None, what, Rule::ActionShape, msg);
            return;
        }
        self.storage.insert(
            id.to_string(),
            Stor {
                initial,
                ..Stor::default()
            },
        );
    }

    pub(super) fn check_storage(&self, ev: &Event) -> Option<Found> {
        let sid = ev.env("JUJU_STORAGE_ID")?;
        let name = storage_name(sid)?;
        // §L2.15.9: declared storage only.
        if self.spec.storage(name).is_none() {
            return found(
                Rule::Storage,
                format!("storage {name:?} is not in metadata"),
            );
        }
        let Some(s) = self.storage.get(sid) else {
            return found(Rule::Storage, format!("{sid} was never provisioned"));
        };
        if ev.kind == HookKind::StorageAttached {
            if s.attached {
                return found(Rule::Storage, format!("{sid} attached twice"));
            }
            // §L2.8: an instance that goes away before its attached hook gets no hooks;
            // storage of a Dying unit is not attached.
            if s.detach_requested || s.detached {
                return found(Rule::Storage, format!("{sid} attached after its detach"));
            }
            if self.dying.is_some() {
                return found(Rule::Storage, format!("{sid} attached on a Dying unit"));
            }
            None
        } else {
            if !s.attached {
                return found(Rule::Storage, format!("{sid} detaching but never attached"));
            }
            if s.detached {
                return found(Rule::Storage, format!("{sid} detaching twice"));
            }
            if !s.detach_requested && self.dying.is_none() {
                return found(
                    Rule::Storage,
                    format!("{sid} detaching without a detach or teardown"),
                );
            }
            None
        }
    }

    pub(super) fn commit_storage(&mut self, ev: &Event) {
        if let Some(s) = ev
            .env("JUJU_STORAGE_ID")
            .and_then(|id| self.storage.get_mut(id))
        {
            if ev.kind == HookKind::StorageAttached {
                s.attached = true;
            } else {
                s.detached = true;
            }
        }
    }
}
