//! Generators for storage: which storage gets a new instance, which instance is detached.

use super::{Driver, EncodeError, Tape};
use crate::engine::action::{Action, ActionKind};
use crate::engine::world::split_storage_id;

impl<T: Tape> Driver<'_, T> {
    pub(super) fn gen_storage(
        &mut self,
        kind: ActionKind,
        target: Option<&Action>,
    ) -> Result<Action, EncodeError> {
        use Action as A;
        use ActionKind as K;
        let w = &self.world;
        Ok(match kind {
            K::StorageAdded => {
                let names: Vec<String> =
                    w.addable_storage().iter().map(|s| s.name.clone()).collect();
                let want = match target {
                    Some(A::StorageAdded { storage }) => {
                        split_storage_id(storage).map(|x| x.0.to_string())
                    }
                    _ => None,
                };
                let name = names[self.pick("storage", &names, want.as_ref())?].clone();
                A::StorageAdded {
                    storage: format!("{name}/{}", self.world.next_storage_index(&name)),
                }
            }
            K::StorageDetached => {
                let ids: Vec<String> = w.detachable_storage().iter().map(|s| s.id()).collect();
                let want = match target {
                    Some(A::StorageDetached { storage }) => Some(storage),
                    _ => None,
                };
                A::StorageDetached {
                    storage: ids[self.pick("storage instance", &ids, want)?].clone(),
                }
            }
            _ => unreachable!("{kind} is not a storage action"),
        })
    }
}
