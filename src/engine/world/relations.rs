//! Relations: the unit's relations, the units on their other side and what they wrote.
//!
//! A relation links one of the charm's endpoints to a remote application (or, for the peer
//! relation, to the other units of its own application). The user adds and removes
//! relations (`juju integrate`, `juju remove-relation`), a cross-model relation can be
//! suspended and resumed; remote units join and leave, and write their unit and application
//! databags. The agent turns each difference into one relation hook at a time, following
//! Juju's `nextHookForRelation` (juju-model.md §L2.3): `relation-created`, `-joined`, `-changed`,
//! `-departed`, `-broken`.
//!
//! Two action families live here: `Family::Relations` (relations coming
//! and going) and `Family::Members` (remote units, their databags, and the
//! peer units of this application, which are the peer relation's members).

use super::{Hook, NotApplicable, World};
use crate::engine::action::{Action, ActionKind, Databag, RelationInit};
use crate::spec::{Role, Scope};
use std::collections::{BTreeMap, BTreeSet};

/// A remote unit of a relation (for the peer relation: another unit of this application).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUnit {
    pub data: Databag,
    /// Bumped on every write of its databag (Juju's settings version).
    pub version: u32,
}

/// One relation the unit is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub id: u32,
    pub endpoint: String,
    pub remote_app: String,
    pub peer: bool,
    pub container_scoped: bool,
    /// Remote: the relation is being removed.
    pub dying: bool,
    /// Remote: a cross-model relation is suspended (treated as broken, §L2.3).
    pub suspended: bool,
    /// Remote: the units in the relation now.
    pub remote_units: BTreeMap<String, RemoteUnit>,
    /// Remote: the remote application databag and its version (0 = never written).
    pub app_data: Databag,
    pub app_version: u32,
    /// Local: `relation-created` has run (since the last entry).
    pub created: bool,
    /// Local: members whose `relation-joined` ran, with the settings version last seen.
    pub joined: BTreeMap<String, u32>,
    /// Local: the app databag version last seen by a `relation-changed`.
    pub app_seen: u32,
    /// Local: `relation-joined(u)` committed, so `relation-changed(u)` must come next
    /// (Juju's `ChangedPending`).
    pub changed_pending: Option<String>,
    /// Data this unit wrote: its own unit databag and (as leader) its app databag.
    pub local_unit_data: Databag,
    pub local_app_data: Databag,
    /// Next unit number for the remote application.
    pub next_unit: u32,
}

impl Relation {
    /// `endpoint:id`, as in `JUJU_RELATION_ID`.
    pub fn juju_id(&self) -> String {
        format!("{}:{}", self.endpoint, self.id)
    }
    /// Whether Juju is taking this unit out of the relation (membership treated as empty).
    fn breaking(&self, unit_dying: bool) -> bool {
        unit_dying || self.dying || self.suspended
    }
}

impl World {
    pub fn relation(&self, id: u32) -> Option<&Relation> {
        self.relations.iter().find(|r| r.id == id)
    }
    pub(super) fn relation_mut(&mut self, id: u32) -> Option<&mut Relation> {
        self.relations.iter_mut().find(|r| r.id == id)
    }
    /// The peer relation, if the charm has a peer endpoint.
    pub fn peer_relation(&self) -> Option<&Relation> {
        self.relations.iter().find(|r| r.peer)
    }
    /// Number of the next relation id (ids are never reused).
    pub fn next_relation_id(&self) -> u32 {
        self.next_relation_id
    }
    /// The name the next added peer unit gets.
    pub fn next_peer_name(&self) -> String {
        format!("{}/{}", self.app, self.next_peer)
    }
    /// A name for the `n`th relation's remote application on `endpoint` (Juju app names
    /// allow only letters, digits and dashes between letter-bearing segments).
    pub fn remote_app_name(&self, endpoint: &str) -> String {
        let base = format!("{}-app", endpoint.replace('_', "-"));
        let taken: BTreeSet<&str> = self
            .relations
            .iter()
            .map(|r| r.remote_app.as_str())
            .collect();
        if !taken.contains(base.as_str()) {
            return base;
        }
        for c in 'b'..='z' {
            let name = format!("{base}-{c}");
            if !taken.contains(name.as_str()) {
                return name;
            }
        }
        format!("{base}-zz")
    }
    /// The next remote unit name of relation `rel`.
    pub fn next_remote_unit(&self, rel: &Relation) -> String {
        format!("{}/{}", rel.remote_app, rel.next_unit)
    }
    /// Relations of `endpoint` that count against its `limit`.
    pub fn endpoint_relation_count(&self, endpoint: &str) -> usize {
        self.relations
            .iter()
            .filter(|r| r.endpoint == endpoint && !r.dying)
            .count()
    }
    /// Non-peer endpoints with room for another relation (at most two at a time each, to
    /// keep worlds small; `limit:` lowers that).
    pub fn integrable_endpoints(&self) -> Vec<&crate::spec::Endpoint> {
        self.spec
            .endpoints
            .iter()
            .filter(|e| e.role != Role::Peer && e.name != "juju-info")
            .filter(|e| !(self.spec.subordinate && e.scope == Scope::Container))
            .filter(|e| {
                let cap = e.limit.unwrap_or(2).min(2) as usize;
                self.endpoint_relation_count(&e.name) < cap
            })
            .collect()
    }
    /// Relations a user may remove: alive, non-peer.
    pub fn removable(&self, r: &Relation) -> bool {
        !r.peer && !r.dying
    }
    pub fn can_add_remote_unit(&self, r: &Relation) -> bool {
        !r.peer
            && !r.container_scoped
            && live_rel(r)
            && (r.remote_units.len() as u32) < self.opts.max_remote_units
    }
    /// The remote leader may write the app databag of a live relation; on the peer relation
    /// only another unit can be leader, so only while this unit is not.
    pub fn can_write_remote_app(&self, r: &Relation) -> bool {
        live_rel(r)
            && if r.peer {
                !self.leader && !self.peers.is_empty()
            } else {
                true
            }
    }

    pub(super) fn relations_enabled(&self, kind: ActionKind, alive: bool) -> bool {
        use ActionKind as K;
        match kind {
            K::Integrate => alive && !self.integrable_endpoints().is_empty(),
            K::RemoveRelation => alive && self.relations.iter().any(|r| self.removable(r)),
            K::SuspendRelation => {
                alive
                    && self
                        .relations
                        .iter()
                        .any(|r| self.removable(r) && !r.suspended)
            }
            K::ResumeRelation => alive && self.relations.iter().any(|r| r.suspended && !r.dying),
            _ => unreachable!("{kind} is not a relation action"),
        }
    }

    pub(super) fn members_enabled(&self, kind: ActionKind, alive: bool) -> bool {
        use ActionKind as K;
        match kind {
            K::RemoteUnitAdded => self.relations.iter().any(|r| self.can_add_remote_unit(r)),
            K::RemoteUnitRemoved => self.relations.iter().any(|r| {
                !r.peer && !r.container_scoped && live_rel(r) && !r.remote_units.is_empty()
            }),
            K::RemoteUnitData => self
                .relations
                .iter()
                .any(|r| live_rel(r) && !r.remote_units.is_empty()),
            K::RemoteAppData => self.relations.iter().any(|r| self.can_write_remote_app(r)),
            K::ScaleUp => alive && (self.peers.len() as u32) + 1 < self.opts.max_peers.max(1),
            K::ScaleDown => alive && !self.peers.is_empty(),
            _ => unreachable!("{kind} is not a relation member action"),
        }
    }

    /// Relations added, removed, suspended or resumed.
    pub(super) fn apply_relations(
        &mut self,
        action: &Action,
        na: impl Fn(&str) -> NotApplicable,
    ) -> Result<(), NotApplicable> {
        use Action as A;
        match action {
            A::Integrate { relation } => {
                let ep = self
                    .spec
                    .endpoint(&relation.endpoint)
                    .ok_or_else(|| na("unknown endpoint"))?;
                if ep.role == Role::Peer {
                    return Err(na("the peer relation exists from deploy"));
                }
                if !self
                    .integrable_endpoints()
                    .iter()
                    .any(|e| e.name == relation.endpoint)
                {
                    return Err(na("the endpoint has no room for another relation"));
                }
                if relation.id < self.next_relation_id {
                    return Err(na("relation ids are never reused"));
                }
                if self
                    .relations
                    .iter()
                    .any(|r| r.remote_app == relation.remote_app)
                {
                    return Err(na("that application is already related"));
                }
                self.add_relation(relation);
            }
            A::RemoveRelation { relation_id } => {
                let rel = self
                    .relation(*relation_id)
                    .ok_or_else(|| na("no such relation"))?;
                if !self.removable(rel) {
                    return Err(na("the relation cannot be removed"));
                }
                let last_container = rel.container_scoped
                    && self
                        .relations
                        .iter()
                        .filter(|r| r.container_scoped && !r.dying)
                        .count()
                        == 1;
                self.relation_mut(*relation_id).unwrap().dying = true;
                // A subordinate dies with its last container-scoped relation (J-RELST).
                if self.spec.subordinate && last_container {
                    self.begin_teardown();
                }
            }
            A::SuspendRelation { relation_id } => {
                let rel = self
                    .relation(*relation_id)
                    .ok_or_else(|| na("no such relation"))?;
                if !self.removable(rel) || rel.suspended {
                    return Err(na("the relation cannot be suspended"));
                }
                self.relation_mut(*relation_id).unwrap().suspended = true;
            }
            A::ResumeRelation { relation_id } => {
                let rel = self
                    .relation_mut(*relation_id)
                    .ok_or_else(|| na("no such relation"))?;
                if !rel.suspended || rel.dying {
                    return Err(na("the relation is not suspended"));
                }
                rel.suspended = false;
            }
            _ => unreachable!("{} is not a relation action", action.kind()),
        }
        Ok(())
    }

    /// Remote units come and go and write their databags; peer units come and go.
    pub(super) fn apply_members(
        &mut self,
        action: &Action,
        na: impl Fn(&str) -> NotApplicable,
    ) -> Result<(), NotApplicable> {
        use Action as A;
        match action {
            A::RemoteUnitAdded { relation_id, unit } => {
                let rel = self
                    .relation(*relation_id)
                    .ok_or_else(|| na("no such relation"))?;
                if !self.can_add_remote_unit(rel) || *unit != self.next_remote_unit(rel) {
                    return Err(na("expected the next unit of the remote application"));
                }
                let rel = self.relation_mut(*relation_id).unwrap();
                rel.remote_units.insert(
                    unit.clone(),
                    RemoteUnit {
                        data: Databag::new(),
                        version: 0,
                    },
                );
                rel.next_unit += 1;
            }
            A::RemoteUnitRemoved { relation_id, unit } => {
                let rel = self
                    .relation_mut(*relation_id)
                    .ok_or_else(|| na("no such relation"))?;
                if rel.peer || rel.container_scoped || rel.remote_units.remove(unit).is_none() {
                    return Err(na("no such remote unit"));
                }
            }
            A::RemoteUnitData {
                relation_id,
                unit,
                data,
            } => {
                let rel = self
                    .relation_mut(*relation_id)
                    .ok_or_else(|| na("no such relation"))?;
                if !live_rel(rel) {
                    return Err(na("the relation is going away"));
                }
                let ru = rel
                    .remote_units
                    .get_mut(unit)
                    .ok_or_else(|| na("no such remote unit"))?;
                ru.data = data.clone();
                ru.version += 1;
            }
            A::RemoteAppData { relation_id, data } => {
                let rel = self
                    .relation(*relation_id)
                    .ok_or_else(|| na("no such relation"))?;
                if !self.can_write_remote_app(rel) {
                    return Err(na("nobody else may write that application databag"));
                }
                let rel = self.relation_mut(*relation_id).unwrap();
                rel.app_data = data.clone();
                rel.app_version += 1;
            }
            A::ScaleUp { unit } => {
                if *unit != self.next_peer_name() {
                    return Err(na("expected the next unit of this application"));
                }
                self.peers.insert(unit.clone());
                self.next_peer += 1;
                if let Some(rel) = self.relations.iter_mut().find(|r| r.peer) {
                    rel.remote_units.insert(
                        unit.clone(),
                        RemoteUnit {
                            data: Databag::new(),
                            version: 0,
                        },
                    );
                }
            }
            A::ScaleDown { unit } => {
                if !self.peers.remove(unit) {
                    return Err(na("no such peer unit"));
                }
                if let Some(rel) = self.relations.iter_mut().find(|r| r.peer) {
                    rel.remote_units.remove(unit);
                }
            }
            _ => unreachable!("{} is not a relation member action", action.kind()),
        }
        Ok(())
    }

    pub(super) fn bump_peer_counter(&mut self, unit: &str) {
        if let Some(n) = unit.rsplit('/').next().and_then(|n| n.parse::<u32>().ok()) {
            self.next_peer = self.next_peer.max(n + 1);
        }
    }

    pub(super) fn add_relation(&mut self, init: &RelationInit) {
        let ep = self.spec.endpoint(&init.endpoint);
        let peer = ep.is_some_and(|e| e.role == Role::Peer);
        let container_scoped = ep.is_some_and(|e| e.scope == Scope::Container);
        let next_unit = init
            .remote_units
            .iter()
            .filter_map(|u| u.rsplit('/').next()?.parse::<u32>().ok())
            .map(|n| n + 1)
            .max()
            .unwrap_or(0);
        self.relations.push(Relation {
            id: init.id,
            endpoint: init.endpoint.clone(),
            remote_app: init.remote_app.clone(),
            peer,
            container_scoped,
            dying: false,
            suspended: false,
            remote_units: init
                .remote_units
                .iter()
                .map(|u| {
                    (
                        u.clone(),
                        RemoteUnit {
                            data: Databag::new(),
                            version: 0,
                        },
                    )
                })
                .collect(),
            app_data: Databag::new(),
            app_version: 0,
            created: false,
            joined: BTreeMap::new(),
            app_seen: 0,
            changed_pending: None,
            local_unit_data: Databag::new(),
            local_app_data: Databag::new(),
            next_unit,
        });
        self.next_relation_id = self.next_relation_id.max(init.id + 1);
    }

    /// Step 5: relation-created.
    pub(super) fn relation_created_candidates(&self) -> Option<Vec<Hook>> {
        if self.is_dying() {
            return None;
        }
        let created: Vec<Hook> = self
            .relations
            .iter()
            .filter(|r| !r.created && !r.dying && !r.suspended)
            .map(|r| Hook::RelationCreated { rel: r.id })
            .collect();
        (!created.is_empty()).then_some(created)
    }

    /// The next hook of each relation that has one; non-peer relations before peers
    /// (J-REL). Across relations Juju's order is Go map order: any of them may go first.
    pub(super) fn relation_candidates(&self) -> Vec<Hook> {
        let dying = self.is_dying();
        let mut non_peer = Vec::new();
        let mut peer = Vec::new();
        for r in &self.relations {
            if let Some(h) = self.next_relation_hook(r, dying) {
                if r.peer {
                    peer.push(h)
                } else {
                    non_peer.push(h)
                }
            }
        }
        if non_peer.is_empty() { peer } else { non_peer }
    }

    /// Juju's `nextHookForRelation` (juju-model.md §L2.3), first matching rule wins.
    fn next_relation_hook(&self, r: &Relation, unit_dying: bool) -> Option<Hook> {
        let breaking = r.breaking(unit_dying);
        if !r.created {
            // A relation torn down before relation-created ran: with the §L2.3.11 race
            // switch on, Juju may still run relation-broken.
            // (A suspension before relation-created just leaves the relation unentered.)
            if (r.dying || unit_dying)
                && !r.suspended
                && !r.peer
                && self.opts.broken_without_created
                && self.installed
                && r.joined.is_empty()
            {
                return Some(Hook::RelationBroken { rel: r.id });
            }
            return None;
        }
        // 1. relation-changed must follow relation-joined.
        if let Some(u) = &r.changed_pending {
            return Some(Hook::RelationChanged {
                rel: r.id,
                unit: Some(u.clone()),
            });
        }
        // 2. departed for members that left (all of them when breaking).
        for u in r.joined.keys() {
            if breaking || !r.remote_units.contains_key(u) {
                return Some(Hook::RelationDeparted {
                    rel: r.id,
                    unit: u.clone(),
                });
            }
        }
        // 3. broken, once no member is left; never for peers.
        if breaking {
            return if r.peer {
                None
            } else {
                Some(Hook::RelationBroken { rel: r.id })
            };
        }
        // 4. app-level relation-changed (peer app data only matters to non-leaders).
        if (!r.peer || !self.local_leader) && r.app_version != r.app_seen && r.app_version > 0 {
            return Some(Hook::RelationChanged {
                rel: r.id,
                unit: None,
            });
        }
        // 5. joined for new members, sorted.
        if let Some(u) = r.remote_units.keys().find(|u| !r.joined.contains_key(*u)) {
            return Some(Hook::RelationJoined {
                rel: r.id,
                unit: u.clone(),
            });
        }
        // 6. changed for members whose settings changed.
        for (u, seen) in &r.joined {
            if r.remote_units.get(u).is_some_and(|ru| ru.version != *seen) {
                return Some(Hook::RelationChanged {
                    rel: r.id,
                    unit: Some(u.clone()),
                });
            }
        }
        None
    }

    /// Commit a relation hook.
    pub(super) fn commit_relation(&mut self, hook: &Hook) {
        match hook {
            Hook::RelationCreated { rel } => {
                if let Some(r) = self.relation_mut(*rel) {
                    r.created = true;
                }
            }
            Hook::RelationJoined { rel, unit } => {
                if let Some(r) = self.relation_mut(*rel) {
                    let v = r.remote_units.get(unit).map(|u| u.version).unwrap_or(0);
                    r.joined.insert(unit.clone(), v);
                    r.changed_pending = Some(unit.clone());
                }
            }
            Hook::RelationChanged { rel, unit } => {
                if let Some(r) = self.relation_mut(*rel) {
                    match unit {
                        Some(u) => {
                            if r.changed_pending.as_ref() == Some(u) {
                                r.changed_pending = None;
                            }
                            let v = r.remote_units.get(u).map(|x| x.version);
                            if let (Some(v), Some(seen)) = (v, r.joined.get_mut(u)) {
                                *seen = v;
                            }
                        }
                        None => r.app_seen = r.app_version,
                    }
                }
            }
            Hook::RelationDeparted { rel, unit } => {
                if let Some(r) = self.relation_mut(*rel) {
                    r.joined.remove(unit);
                    if r.changed_pending.as_ref() == Some(unit) {
                        r.changed_pending = None;
                    }
                }
            }
            Hook::RelationBroken { rel } => {
                let unit_dying = self.is_dying();
                let suspended = self
                    .relation(*rel)
                    .is_some_and(|r| r.suspended && !r.dying && !unit_dying);
                if suspended {
                    // Broken by suspension: the relation stays, and is entered again
                    // (relation-created once more) when resumed (§L2.3).
                    if let Some(r) = self.relation_mut(*rel) {
                        r.created = false;
                        r.app_seen = 0;
                    }
                } else {
                    self.relations.retain(|r| r.id != *rel);
                }
            }
            _ => unreachable!("{hook:?} is not a relation hook"),
        }
    }
}

/// A relation that is neither being removed nor suspended.
fn live_rel(r: &Relation) -> bool {
    !r.dying && !r.suspended
}

/// The relation a relation hook is about.
pub fn hook_relation(hook: &Hook) -> Option<u32> {
    match hook {
        Hook::RelationCreated { rel }
        | Hook::RelationJoined { rel, .. }
        | Hook::RelationChanged { rel, .. }
        | Hook::RelationDeparted { rel, .. }
        | Hook::RelationBroken { rel } => Some(*rel),
        _ => None,
    }
}
