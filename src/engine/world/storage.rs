//! Storage: the filesystems and block devices the unit's charm declared.
//!
//! Each storage the charm declares has between its `multiple` minimum and maximum instances
//! (`name/index`), provisioned with the unit at deploy or added later (`juju add-storage`,
//! or the charm's own request), and detached by the user (`juju detach-storage`). The agent
//! runs `storage-attached` for each new instance and `storage-detaching` before one goes,
//! and detaches all of them when the unit is removed (juju-model.md §L2.8).

use super::{Hook, NotApplicable, World};
use crate::engine::action::{Action, ActionKind};

/// A storage instance (`name/index`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageInstance {
    pub name: String,
    pub index: u32,
    /// Remote: detach requested.
    pub dying: bool,
    /// Local: `storage-attached` committed.
    pub attached: bool,
    /// Local: `storage-detaching` committed (the instance is gone).
    pub detached: bool,
}

impl StorageInstance {
    pub fn id(&self) -> String {
        format!("{}/{}", self.name, self.index)
    }
}

impl World {
    pub fn storage_instance(&self, id: &str) -> Option<&StorageInstance> {
        self.storage.iter().find(|s| s.id() == id)
    }
    pub(super) fn storage_mut(&mut self, id: &str) -> Option<&mut StorageInstance> {
        self.storage.iter_mut().find(|s| s.id() == id)
    }
    /// The next index for a new instance of storage `name`.
    pub fn next_storage_index(&self, name: &str) -> u32 {
        self.next_storage_index.get(name).copied().unwrap_or(0)
    }
    /// Storage instances of `name` that exist (attached or about to be).
    pub fn live_storage_count(&self, name: &str) -> u32 {
        self.storage
            .iter()
            .filter(|s| s.name == name && !s.dying && !s.detached)
            .count() as u32
    }
    pub fn addable_storage(&self) -> Vec<&crate::spec::StorageSpec> {
        self.spec
            .storage
            .iter()
            .filter(|s| {
                let max = s.multiple.max.unwrap_or(s.multiple.min.max(1) + 2);
                self.live_storage_count(&s.name) < max
            })
            .collect()
    }
    /// Attached instances that may be detached without going below the storage's minimum.
    pub fn detachable_storage(&self) -> Vec<&StorageInstance> {
        self.storage
            .iter()
            .filter(|s| s.attached && !s.dying && !s.detached)
            .filter(|s| {
                let min = self
                    .spec
                    .storage(&s.name)
                    .map(|sp| sp.multiple.min)
                    .unwrap_or(0);
                self.live_storage_count(&s.name) > min
            })
            .collect()
    }

    pub(super) fn storage_enabled(&self, kind: ActionKind, alive: bool) -> bool {
        use ActionKind as K;
        match kind {
            K::StorageAdded => alive && !self.addable_storage().is_empty(),
            K::StorageDetached => alive && !self.detachable_storage().is_empty(),
            _ => unreachable!("{kind} is not a storage action"),
        }
    }

    pub(super) fn apply_storage(
        &mut self,
        action: &Action,
        na: impl Fn(&str) -> NotApplicable,
    ) -> Result<(), NotApplicable> {
        use Action as A;
        match action {
            A::StorageAdded { storage } => {
                let (name, index) =
                    split_storage_id(storage).ok_or_else(|| na("bad storage id"))?;
                if !self.addable_storage().iter().any(|s| s.name == name)
                    || index != self.next_storage_index(name)
                {
                    return Err(na("expected the next instance of a storage with room"));
                }
                self.add_storage(name, index);
            }
            A::StorageDetached { storage } => {
                if !self.detachable_storage().iter().any(|s| s.id() == *storage) {
                    return Err(na("no such attached storage instance"));
                }
                self.storage_mut(storage).unwrap().dying = true;
            }
            _ => unreachable!("{} is not a storage action", action.kind()),
        }
        Ok(())
    }

    pub(super) fn add_storage(&mut self, name: &str, index: u32) {
        self.storage.push(StorageInstance {
            name: name.to_string(),
            index,
            dying: false,
            attached: false,
            detached: false,
        });
        let next = self.next_storage_index.entry(name.to_string()).or_insert(0);
        *next = (*next).max(index + 1);
    }

    pub(super) fn storage_candidates(&self) -> Vec<Hook> {
        let dying = self.is_dying();
        self.storage
            .iter()
            .filter_map(|s| {
                if !s.attached && !s.dying && !dying {
                    Some(Hook::StorageAttached { id: s.id() })
                } else if s.attached && !s.detached && (s.dying || dying) {
                    Some(Hook::StorageDetaching { id: s.id() })
                } else {
                    None
                }
            })
            .collect()
    }

    /// Step 11: storage. On K8s, optionally held until the first start (§L8.3).
    pub(super) fn storage_step_candidates(&self) -> Option<Vec<Hook>> {
        let dying = self.is_dying();
        let storage =
            if self.is_kubernetes() && self.opts.k8s_storage_after_start && !self.started && !dying
            {
                Vec::new()
            } else {
                self.storage_candidates()
            };
        if dying && self.opts.teardown_relations_before_storage {
            // §L8.1: the docs' order lets the relation block go first.
            let mut out = storage;
            out.extend(self.relation_candidates());
            if !out.is_empty() {
                return Some(out);
            }
        } else if !storage.is_empty() {
            return Some(storage);
        }
        None
    }

    /// Commit `storage-attached` or `storage-detaching`.
    pub(super) fn commit_storage(&mut self, hook: &Hook) {
        match hook {
            Hook::StorageAttached { id } => {
                if let Some(s) = self.storage_mut(id) {
                    s.attached = true;
                }
            }
            Hook::StorageDetaching { id } => {
                if let Some(s) = self.storage_mut(id) {
                    s.detached = true;
                }
                self.storage.retain(|s| !s.detached);
            }
            _ => unreachable!("{hook:?} is not a storage hook"),
        }
    }
}

/// `name/index` → (`name`, index).
pub fn split_storage_id(id: &str) -> Option<(&str, u32)> {
    let (name, idx) = id.rsplit_once('/')?;
    Some((name, idx.parse().ok()?))
}
