//! Generators for relations and their members: which endpoint, which relation, which
//! remote unit, and the databags remote units write (edited, or a sample of the relation's
//! interface from the fuzzing config).

use super::{Driver, EncodeError, Tape};
use crate::engine::action::{Action, ActionKind, Databag, RelationInit};

impl<T: Tape> Driver<'_, T> {
    /// Relations added, removed, suspended or resumed.
    pub(super) fn gen_relations(
        &mut self,
        kind: ActionKind,
        target: Option<&Action>,
    ) -> Result<Action, EncodeError> {
        use Action as A;
        use ActionKind as K;
        let w = &self.world;
        Ok(match kind {
            K::Integrate => {
                let eps: Vec<String> = w
                    .integrable_endpoints()
                    .iter()
                    .map(|e| e.name.clone())
                    .collect();
                let want = match target {
                    Some(A::Integrate { relation }) => Some(relation),
                    _ => None,
                };
                let i = self.pick("endpoint", &eps, want.map(|r| &r.endpoint))?;
                let endpoint = eps[i].clone();
                let max = self.world.opts.max_remote_units;
                let n = self.pick_count(
                    "remote units",
                    0,
                    max,
                    want.map(|r| r.remote_units.len() as u32),
                )?;
                let remote_app = self.world.remote_app_name(&endpoint);
                let relation = RelationInit {
                    id: self.world.next_relation_id(),
                    remote_units: (0..n).map(|k| format!("{remote_app}/{k}")).collect(),
                    endpoint,
                    remote_app,
                };
                A::Integrate { relation }
            }
            K::RemoveRelation | K::SuspendRelation | K::ResumeRelation => {
                let ids: Vec<u32> = w
                    .relations
                    .iter()
                    .filter(|r| match kind {
                        K::RemoveRelation => w.removable(r),
                        K::SuspendRelation => w.removable(r) && !r.suspended,
                        _ => r.suspended && !r.dying,
                    })
                    .map(|r| r.id)
                    .collect();
                let want = match target {
                    Some(
                        A::RemoveRelation { relation_id }
                        | A::SuspendRelation { relation_id }
                        | A::ResumeRelation { relation_id },
                    ) => Some(relation_id),
                    _ => None,
                };
                let relation_id = ids[self.pick("relation", &ids, want)?];
                match kind {
                    K::RemoveRelation => A::RemoveRelation { relation_id },
                    K::SuspendRelation => A::SuspendRelation { relation_id },
                    _ => A::ResumeRelation { relation_id },
                }
            }
            _ => unreachable!("{kind} is not a relation action"),
        })
    }

    /// Remote units and peers coming and going, and the databags remote units write.
    pub(super) fn gen_members(
        &mut self,
        kind: ActionKind,
        target: Option<&Action>,
    ) -> Result<Action, EncodeError> {
        use Action as A;
        use ActionKind as K;
        let w = &self.world;
        Ok(match kind {
            K::RemoteUnitAdded => {
                let ids: Vec<u32> = w
                    .relations
                    .iter()
                    .filter(|r| w.can_add_remote_unit(r))
                    .map(|r| r.id)
                    .collect();
                let want = match target {
                    Some(A::RemoteUnitAdded { relation_id, .. }) => Some(relation_id),
                    _ => None,
                };
                let relation_id = ids[self.pick("relation", &ids, want)?];
                let rel = self.world.relation(relation_id).unwrap();
                A::RemoteUnitAdded {
                    relation_id,
                    unit: self.world.next_remote_unit(rel),
                }
            }
            K::RemoteUnitRemoved | K::RemoteUnitData => {
                let ids: Vec<u32> = w
                    .relations
                    .iter()
                    .filter(|r| !r.dying && !r.suspended && !r.remote_units.is_empty())
                    .filter(|r| kind == K::RemoteUnitData || (!r.peer && !r.container_scoped))
                    .map(|r| r.id)
                    .collect();
                let (want_rel, want_unit, want_data) = match target {
                    Some(A::RemoteUnitRemoved { relation_id, unit }) => {
                        (Some(relation_id), Some(unit), None)
                    }
                    Some(A::RemoteUnitData {
                        relation_id,
                        unit,
                        data,
                    }) => (Some(relation_id), Some(unit), Some(data)),
                    _ => (None, None, None),
                };
                let relation_id = ids[self.pick("relation", &ids, want_rel)?];
                let units: Vec<String> = self
                    .world
                    .relation(relation_id)
                    .unwrap()
                    .remote_units
                    .keys()
                    .cloned()
                    .collect();
                let unit = units[self.pick("remote unit", &units, want_unit)?].clone();
                if kind == K::RemoteUnitRemoved {
                    A::RemoteUnitRemoved { relation_id, unit }
                } else {
                    let old = self.world.relation(relation_id).unwrap().remote_units[&unit]
                        .data
                        .clone();
                    let samples = self.relation_samples(relation_id);
                    let data = self.gen_databag(&old, &samples, want_data)?;
                    A::RemoteUnitData {
                        relation_id,
                        unit,
                        data,
                    }
                }
            }
            K::RemoteAppData => {
                let ids: Vec<u32> = w
                    .relations
                    .iter()
                    .filter(|r| w.can_write_remote_app(r))
                    .map(|r| r.id)
                    .collect();
                let (want_rel, want_data) = match target {
                    Some(A::RemoteAppData { relation_id, data }) => (Some(relation_id), Some(data)),
                    _ => (None, None),
                };
                let relation_id = ids[self.pick("relation", &ids, want_rel)?];
                let old = self.world.relation(relation_id).unwrap().app_data.clone();
                let samples = self.relation_samples(relation_id);
                let data = self.gen_databag(&old, &samples, want_data)?;
                A::RemoteAppData { relation_id, data }
            }
            K::ScaleUp => A::ScaleUp {
                unit: w.next_peer_name(),
            },
            K::ScaleDown => {
                let peers: Vec<String> = w.peers.iter().cloned().collect();
                let want = match target {
                    Some(A::ScaleDown { unit }) => Some(unit),
                    _ => None,
                };
                A::ScaleDown {
                    unit: peers[self.pick("peer unit", &peers, want)?].clone(),
                }
            }
            _ => unreachable!("{kind} is not a relation member action"),
        })
    }

    fn relation_samples(&self, rel_id: u32) -> Vec<Databag> {
        let iface = self
            .world
            .relation(rel_id)
            .and_then(|r| self.world.spec().endpoint(&r.endpoint))
            .map(|e| e.interface.clone());
        iface
            .and_then(|i| self.vocab.relation_samples.get(&i).cloned())
            .unwrap_or_default()
    }
}
