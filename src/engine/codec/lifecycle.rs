//! Generators for the unit's life and the agent's: deploy, removal, timers and
//! `resolved`; and the leadership, upgrade and churn families, whose actions take few or
//! no arguments (the world keeps those families in files of their own).

use super::{Driver, EncodeError, Tape};
use crate::engine::action::{Action, ActionKind, RelationInit};
use crate::engine::world::split_storage_id;
use crate::spec::{Role, Scope};

impl<T: Tape> Driver<'_, T> {
    pub(super) fn gen_lifecycle(
        &mut self,
        kind: ActionKind,
        target: Option<&Action>,
    ) -> Result<Action, EncodeError> {
        use Action as A;
        use ActionKind as K;
        Ok(match kind {
            K::Deploy => self.gen_deploy(target)?,
            K::UpdateStatusTimer => A::UpdateStatusTimer,
            K::CollectMetricsTimer => A::CollectMetricsTimer,
            K::Resolved => {
                let mut opts = vec![true];
                if self.world.opts.resolved_no_retry {
                    opts.push(false);
                }
                let want = match target {
                    Some(A::Resolved { retry }) => Some(retry),
                    _ => None,
                };
                A::Resolved {
                    retry: opts[self.pick("retry", &opts, want)?],
                }
            }
            K::RemoveUnit => A::RemoveUnit,
            K::ForceRemoveUnit => A::ForceRemoveUnit,
            K::RemoveApplication => A::RemoveApplication,
            K::DestroyModel => A::DestroyModel,
            _ => unreachable!("{kind} is not a lifecycle action"),
        })
    }

    /// Deploy: leadership, peers, the relations that already exist (the peer relation
    /// always), and the storage provisioned with the unit.
    fn gen_deploy(&mut self, target: Option<&Action>) -> Result<Action, EncodeError> {
        let (w_leader, w_peers, w_rels, w_storage) = match target {
            Some(Action::Deploy {
                leader,
                peers,
                relations,
                storage,
                ..
            }) => (Some(*leader), Some(peers), Some(relations), Some(storage)),
            _ => (None, None, None, None),
        };
        let spec = self.world.spec_arc().clone();
        let app = spec.name.clone();
        let unit = format!("{app}/0");
        let leader = self.pick_bool("leader", w_leader.map(|l| !l)).map(|b| !b)?;
        let max_peers = self.world.opts.max_peers.saturating_sub(1);
        let n_peers = self.pick_count("peers", 0, max_peers, w_peers.map(|p| p.len() as u32))?;
        let peers: Vec<String> = (1..=n_peers).map(|n| format!("{app}/{n}")).collect();
        let mut relations: Vec<RelationInit> = Vec::new();
        let mut next_id = 0u32;
        let wanted_rel = |ep: &str| w_rels.and_then(|rs| rs.iter().find(|r| r.endpoint == ep));
        for ep in &spec.endpoints {
            if ep.name == "juju-info" && !spec.subordinate {
                continue;
            }
            let present = if ep.role == Role::Peer
                || (spec.subordinate
                    && ep.scope == Scope::Container
                    && !relations.iter().any(|r: &RelationInit| {
                        spec.endpoint(&r.endpoint)
                            .is_some_and(|e| e.scope == Scope::Container)
                    })) {
                true
            } else {
                self.pick_bool(
                    &format!("relation {} at deploy", ep.name),
                    w_rels.map(|_| wanted_rel(&ep.name).is_some()),
                )?
            };
            if !present {
                continue;
            }
            let id = next_id;
            next_id += 1;
            if ep.role == Role::Peer {
                relations.push(RelationInit {
                    id,
                    endpoint: ep.name.clone(),
                    remote_app: app.clone(),
                    remote_units: peers.clone(),
                });
                continue;
            }
            let remote_app = {
                let base = format!("{}-app", ep.name.replace('_', "-"));
                if relations.iter().any(|r| r.remote_app == base) {
                    format!("{base}-b")
                } else {
                    base
                }
            };
            let n = if spec.subordinate && ep.scope == Scope::Container {
                1
            } else {
                let max = self.world.opts.max_remote_units;
                self.pick_count(
                    "remote units",
                    0,
                    max,
                    wanted_rel(&ep.name).map(|r| r.remote_units.len() as u32),
                )?
            };
            relations.push(RelationInit {
                id,
                endpoint: ep.name.clone(),
                remote_units: (0..n).map(|k| format!("{remote_app}/{k}")).collect(),
                remote_app,
            });
        }
        let mut storage = Vec::new();
        for s in &spec.storage {
            let hi = s
                .multiple
                .max
                .unwrap_or(s.multiple.min + 2)
                .min(s.multiple.min + 2);
            let want = w_storage.map(|st| {
                st.iter()
                    .filter(|x| split_storage_id(x).map(|p| p.0) == Some(s.name.as_str()))
                    .count() as u32
            });
            let n = self.pick_count(
                &format!("instances of {}", s.name),
                s.multiple.min,
                hi,
                want,
            )?;
            storage.extend((0..n).map(|i| format!("{}/{i}", s.name)));
        }
        Ok(Action::Deploy {
            unit,
            leader,
            peers,
            relations,
            storage,
        })
    }

    pub(super) fn gen_leadership(&mut self, kind: ActionKind) -> Action {
        use Action as A;
        use ActionKind as K;
        match kind {
            K::LeadershipGained => A::LeadershipGained,
            K::LeadershipLost => A::LeadershipLost,
            K::LeaderSet => A::LeaderSet,
            _ => unreachable!("{kind} is not a leadership action"),
        }
    }

    pub(super) fn gen_upgrades(
        &mut self,
        kind: ActionKind,
        target: Option<&Action>,
    ) -> Result<Action, EncodeError> {
        use Action as A;
        use ActionKind as K;
        Ok(match kind {
            K::Refresh => A::Refresh,
            K::SeriesUpgradePrepare => {
                let bases: Vec<String> = ["ubuntu@24.04", "ubuntu@22.04", "ubuntu@20.04"]
                    .map(String::from)
                    .to_vec();
                let want = match target {
                    Some(A::SeriesUpgradePrepare { target_base }) => Some(target_base),
                    _ => None,
                };
                A::SeriesUpgradePrepare {
                    target_base: bases[self.pick("base", &bases, want)?].clone(),
                }
            }
            K::SeriesUpgradeComplete => A::SeriesUpgradeComplete,
            _ => unreachable!("{kind} is not an upgrade action"),
        })
    }

    pub(super) fn gen_churn(&mut self, kind: ActionKind) -> Action {
        use Action as A;
        use ActionKind as K;
        match kind {
            K::PodRecreated => A::PodRecreated,
            K::CharmContainerRestarted => A::CharmContainerRestarted,
            K::MachineRebooted => A::MachineRebooted,
            _ => unreachable!("{kind} is not a churn action"),
        }
    }
}
