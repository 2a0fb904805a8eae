//! The unit's life: deployed, running, removed.
//!
//! A unit is deployed (with the relations, peers and storage it starts with), installs and
//! starts, and runs until the user removes it (`remove-unit`, `remove-application`,
//! `destroy-model`, or `remove-unit --force`); then it is Dying and runs its teardown hooks
//! (juju-model.md §L2.12) until it is Dead. Between, the agent's timers fire (`update-status`,
//! `collect-metrics`), and a failed hook puts the unit in error until it succeeds on a retry
//! or the user runs `juju resolved` (juju-model.md §L2.14).
//!
//! Here: those actions, the unit's own hooks (`install`, `start`, `stop`, `remove`,
//! `update-status`, `collect-metrics`), and the steps of the resolver chain that belong to no
//! other family: the retry of a failed hook, the hooks queued by the last one, the time
//! before `install`, a forced removal, and nextOp (juju-model.md §L2.0).

use super::{Hook, Life, NotApplicable, SeriesUpgrade, World, hook_relation, split_storage_id};
use crate::engine::action::{Action, ActionKind, RelationInit};
use crate::engine::trace::Phase;
use crate::spec::{Role, Scope};
use std::collections::BTreeSet;

impl World {
    pub(super) fn lifecycle_enabled(&self, kind: ActionKind, alive: bool) -> bool {
        use ActionKind as K;
        let k8s = self.is_kubernetes();
        let v = self.opts.juju_version;
        let upgrading = self.series != SeriesUpgrade::None;
        match kind {
            K::Deploy => unreachable!("`enabled` answers for a deploy itself"),
            K::UpdateStatusTimer => alive && self.started && !self.update_status_pending,
            K::CollectMetricsTimer => {
                !k8s && self.spec.has_metrics
                    && v.has_collect_metrics()
                    && alive
                    && self.started
                    && !self.collect_metrics_pending
            }
            K::Resolved => self.failed.is_some(),
            // Not while a pod or charm container is being replaced: the agent is gone
            // until the new one starts.
            K::RemoveUnit | K::RemoveApplication | K::DestroyModel | K::ForceRemoveUnit => {
                // Nor between the members of a queued pair: Juju would finish the pair first
                // and §L2.15.14 forbids its config-changed on a Dying unit.
                alive
                    && !upgrading
                    && self.shutdown.is_none()
                    && self.queued.is_none()
                    && (kind != K::ForceRemoveUnit || self.opts.forced_removal)
            }
            _ => unreachable!("{kind} is not a lifecycle action"),
        }
    }

    pub(super) fn apply_lifecycle(
        &mut self,
        action: &Action,
        na: impl Fn(&str) -> NotApplicable,
    ) -> Result<(), NotApplicable> {
        use Action as A;
        match action {
            A::Deploy {
                unit,
                leader,
                peers,
                relations,
                storage,
            } => {
                if unit.split('/').next() != Some(self.app.as_str()) {
                    return Err(na("the unit must belong to the charm's application"));
                }
                self.check_deploy(peers, relations, storage)
                    .map_err(|r| na(&r))?;
                self.unit = unit.clone();
                self.deployed = true;
                self.leader = *leader;
                for p in peers {
                    self.peers.insert(p.clone());
                    self.bump_peer_counter(p);
                }
                for r in relations {
                    self.add_relation(r);
                }
                for s in storage {
                    let (name, index) = split_storage_id(s).ok_or_else(|| na("bad storage id"))?;
                    self.add_storage(name, index);
                }
                // The leader-settings watcher fires once at agent start (juju-model.md §L2.4): a
                // non-leader gets leader-settings-changed during setup.
                self.lsc_pending = true;
            }
            A::UpdateStatusTimer => self.update_status_pending = true,
            A::CollectMetricsTimer => self.collect_metrics_pending = true,
            A::Resolved { retry } => {
                if !*retry && !self.opts.resolved_no_retry {
                    return Err(na("`resolved --no-retry` is switched off"));
                }
                if !*retry {
                    // Skipped, but committed as if it had run (juju-model.md §L2.14).
                    let (hook, _) = self.failed.take().unwrap();
                    self.commit(&hook);
                }
            }
            A::RemoveUnit | A::RemoveApplication | A::DestroyModel => self.begin_teardown(),
            A::ForceRemoveUnit => {
                self.forced_removal = true;
                self.begin_teardown();
            }
            _ => unreachable!("{} is not a lifecycle action", action.kind()),
        }
        Ok(())
    }

    fn check_deploy(
        &self,
        peers: &[String],
        relations: &[RelationInit],
        storage: &[String],
    ) -> Result<(), String> {
        let peer_ep = self.spec.peer_endpoints().next();
        for p in peers {
            if !p.starts_with(&format!("{}/", self.app)) || *p == self.unit {
                return Err(format!("{p} is not another unit of {}", self.app));
            }
        }
        if (peers.len() as u32) + 1 > self.opts.max_peers.max(1) {
            return Err("too many peers".into());
        }
        let mut seen_ids = BTreeSet::new();
        for r in relations {
            let ep = self
                .spec
                .endpoint(&r.endpoint)
                .ok_or_else(|| format!("unknown endpoint {}", r.endpoint))?;
            if !seen_ids.insert(r.id) {
                return Err("duplicate relation id".into());
            }
            if ep.role == Role::Peer && (r.remote_app != self.app || r.remote_units != peers) {
                return Err("the peer relation's units are this application's other units".into());
            }
        }
        if let Some(pe) = peer_ep {
            if !relations.iter().any(|r| r.endpoint == pe.name) {
                return Err(format!("the peer relation {} exists from deploy", pe.name));
            }
        }
        if self.spec.subordinate
            && !relations.iter().any(|r| {
                self.spec
                    .endpoint(&r.endpoint)
                    .is_some_and(|e| e.scope == Scope::Container)
            })
        {
            return Err("a subordinate is deployed through a container-scoped relation".into());
        }
        for s in storage {
            let (name, _) = split_storage_id(s).ok_or("bad storage id")?;
            if self.spec.storage(name).is_none() {
                return Err(format!("unknown storage {name}"));
            }
        }
        for sp in &self.spec.storage {
            let n = storage
                .iter()
                .filter(|s| split_storage_id(s).map(|x| x.0) == Some(sp.name.as_str()))
                .count() as u32;
            if n < sp.multiple.min || sp.multiple.max.is_some_and(|m| n > m) {
                return Err(format!(
                    "storage {} needs between {} and {:?} instances",
                    sp.name, sp.multiple.min, sp.multiple.max
                ));
            }
        }
        Ok(())
    }

    pub(super) fn begin_teardown(&mut self) {
        self.life = Life::Dying;
        self.phase = Phase::Teardown;
        // Nothing but teardown, actions and workload events from now on (juju-model.md §L2.12).
        self.lsc_pending = false;
        self.update_status_pending = false;
        self.collect_metrics_pending = false;
        self.upgrade_pending = false;
        self.pod_upgrade_pending = false;
        self.restart_pending = false;
        for s in &mut self.secrets {
            s.changed_pending = false;
            s.rotate_pending = false;
            s.expired_pending.clear();
            s.remove_pending.clear();
        }
        // Storage that never got its attached hook goes without hooks (juju-model.md §L2.8).
        // (Not one whose failed storage-attached waits for its retry.)
        let retrying = match self.failed.as_ref() {
            Some((Hook::StorageAttached { id }, _)) => Some(id.clone()),
            _ => None,
        };
        self.storage
            .retain(|s| s.attached || Some(s.id()) == retrying);
    }

    pub(super) fn refresh_life(&mut self) {
        // A removed relation leaving before this unit ever entered it (no relation-created) goes
        // without hooks, unless the §L2.3.11 race switch lets relation-broken run.
        if !self.opts.broken_without_created || !self.installed {
            // (Not one whose failed relation-created waits for its retry: that one enters.)
            let retrying = self.failed.as_ref().and_then(|(h, _)| hook_relation(h));
            self.relations
                .retain(|r| r.created || !r.dying || Some(r.id) == retrying);
        }
        if self.life != Life::Dying || self.in_flight.is_some() || self.failed.is_some() {
            return;
        }
        // A Dying unit with nothing left to run is removed (Dead): one that never
        // installed gets no install/stop/remove at all (juju-model.md §L2.1).
        if self.candidates().is_empty() {
            self.life = Life::Dead;
        }
    }

    // --- the resolver chain's own steps (juju-model.md §L2.0) ---

    /// §L2.14: a failed hook is re-run; only actions may run meanwhile.
    pub(super) fn retry_candidates(&self) -> Option<Vec<Hook>> {
        let (hook, _) = self.failed.as_ref()?;
        let mut out = vec![hook.clone()];
        // (Not inside a series upgrade: the series resolver outranks actions, §L2.15.13.)
        let series_hook = matches!(
            hook,
            Hook::PreSeriesUpgrade { .. } | Hook::PostSeriesUpgrade
        );
        if let (Some(a), false) = (self.action_queue.front(), series_hook) {
            out.push(Hook::Action(a.clone()));
        }
        Some(out)
    }

    /// Queued follow-ups run next, adjacent to the hook that queued them (§L2.15.12).
    pub(super) fn queued_candidates(&self) -> Option<Vec<Hook>> {
        self.queued.as_ref().map(|q| vec![q.clone()])
    }

    /// Before install only (machine) storage-attached may run (§L2.15.2). A unit removed
    /// before it installed runs nothing more (§L2.1): not even storage-detaching for the
    /// storage attached at deploy.
    pub(super) fn before_install_candidates(&self) -> Option<Vec<Hook>> {
        if self.installed {
            return None;
        }
        let dying = self.is_dying();
        if dying {
            return Some(Vec::new());
        }
        let mut out: Vec<Hook> = Vec::new();
        if !self.is_kubernetes() {
            out.extend(self.storage_candidates());
        }
        if out.is_empty() && !dying {
            out.push(Hook::Install);
        }
        Some(out)
    }

    /// A forced removal skips the storage and relation teardown (§L2.12, J-DOC).
    pub(super) fn forced_removal_candidates(&self) -> Option<Vec<Hook>> {
        if !(self.is_dying() && self.forced_removal) {
            return None;
        }
        if self.started && !self.stopped {
            return Some(vec![Hook::Stop]);
        }
        Some(if self.installed {
            vec![Hook::Remove]
        } else {
            Vec::new()
        })
    }

    /// Step 14: nextOp.
    pub(super) fn next_op_candidates(&self) -> Option<Vec<Hook>> {
        if self.is_dying() {
            let rel = self.relation_candidates();
            if !rel.is_empty() {
                return Some(rel);
            }
            if self.started && !self.stopped {
                return Some(vec![Hook::Stop]);
            }
            return Some(vec![Hook::Remove]);
        }
        if self.upgrade_pending {
            return Some(vec![Hook::UpgradeCharm]);
        }
        if self.config_dirty() {
            return Some(vec![Hook::ConfigChanged]);
        }
        if self.started {
            let rel = self.relation_candidates();
            if !rel.is_empty() {
                return Some(rel);
            }
            if self.update_status_pending {
                return Some(vec![Hook::UpdateStatus]);
            }
            if self.collect_metrics_pending {
                return Some(vec![Hook::CollectMetrics]);
            }
        }
        None
    }

    /// Commit one of the unit's own hooks.
    pub(super) fn commit_lifecycle(&mut self, hook: &Hook) {
        match hook {
            Hook::Install => self.installed = true,
            Hook::Start => {
                self.started = true;
                self.stopped = false;
                self.restart_pending = false;
                if self.life == Life::Alive {
                    self.phase = Phase::Operation;
                }
            }
            Hook::UpdateStatus => self.update_status_pending = false,
            Hook::CollectMetrics => self.collect_metrics_pending = false,
            Hook::Stop => {
                self.stopped = true;
                if self.shutdown.is_some() {
                    self.finish_shutdown();
                }
            }
            Hook::Remove => self.life = Life::Dead,
            _ => unreachable!("{hook:?} is not a lifecycle hook"),
        }
    }
}
