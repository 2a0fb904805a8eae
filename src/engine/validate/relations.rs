//! Relations: `<endpoint>-relation-created/-joined/-changed/-departed/-broken`, and peers.
//!
//! A relation joins this unit's endpoint to a remote application (or, for a peer endpoint,
//! to the other units of its own application). Juju drives its hooks from the remote state
//! (§L2.3): `relation-created` first, once per entry into the relation (§L2.15.4); then per
//! remote unit `joined(u)` once per membership, at once followed by `changed(u)`, more
//! `changed(u)` only when `u`'s data changed, `departed(u)` once `u` left (§L2.15.6); an
//! app-level `changed` when the remote application's data changed (never to the leader on
//! the peer relation); and `relation-broken` last, when the relation is removed or
//! suspended or the unit is Dying, once no member remains — never for a peer relation
//! (§L2.15.5). Undeclared endpoints and the implicit `juju-info` relation get no hooks
//! (§L2.15.7). A Dying unit tears its relations down after its storage, peers last (§L2.12).
//!
//! The peer relation exists from deploy, with the application's other units as members;
//! scaling the application adds and removes them. A subordinate whose last container-scoped
//! relation goes away is orphaned and becomes Dying (§L2.3.14).
//!
//! After the first violation on a relation, its later state checks are skipped (it is
//! *poisoned*) to avoid a cascade of reports.

use super::{DyingCause, Found, Rel, Rule, Validator, found, rel_found, unit_of};
use crate::engine::action::{Action, RelationInit};
use crate::engine::event::{Event, HookKind};
use crate::spec::{Role, Scope};
use std::collections::BTreeSet;

/// A relation hook being checked, with what its checks share.
#[derive(Clone, Copy)]
struct RelHook<'a> {
    kind: HookKind,
    id: u32,
    r: &'a Rel,
    /// `JUJU_REMOTE_UNIT`, empty for app-level hooks.
    remote: &'a str,
    /// The relation is being broken: removed, suspended, or the unit is Dying.
    breaking: bool,
}

impl Validator<'_> {
    // -----------------------------------------------------------------------------------
    // Actions

    /// The deploy's peers and relations; the peer relation exists from deploy, with the
    /// other units as members.
    pub(super) fn deploy_relations(
        &mut self,
        step: usize,
        what: &str,
        peers: &[String],
        relations: &[RelationInit],
    ) {
        for p in peers {
            if !unit_of(p, &self.app) || *p == self.unit || !self.peers.insert(p.clone()) {
                let msg = format!("bad or duplicate peer {p:?}");
                self.report(step, None, what, Rule::ActionShape, msg);
            }
        }
        self.ever_peers = self.peers.clone();
        for r in relations {
            self.add_relation(step, what, r, true);
        }
        // The peer relation exists from deploy, with the other units as members.
        let spec = self.spec;
        for ep in spec.peer_endpoints() {
            let found: Vec<&RelationInit> =
                relations.iter().filter(|r| r.endpoint == ep.name).collect();
            match found.as_slice() {
                [r] => {
                    let units: BTreeSet<String> = r.remote_units.iter().cloned().collect();
                    if units != self.peers {
                        let msg = format!(
                            "peer relation {} members {:?} differ from deploy peers {:?}",
                            r.id, units, self.peers
                        );
                        self.report(step, None, what, Rule::ActionShape, msg);
                    }
                }
                [] => {
                    let msg = format!("no peer relation for peer endpoint {:?}", ep.name);
                    self.report(step, None, what, Rule::ActionShape, msg);
                }
                _ => {
                    let msg = format!("several peer relations for {:?}", ep.name);
                    self.report(step, None, what, Rule::ActionShape, msg);
                }
            }
        }
    }

    fn add_relation(&mut self, step: usize, what: &str, r: &RelationInit, at_deploy: bool) {
        if self.relations.contains_key(&r.id) {
            let msg = format!("relation id {} used twice", r.id);
            self.report(step, None, what, Rule::ActionShape, msg);
            return;
        }
        let ep = self.spec.endpoint(&r.endpoint);
        let peer = ep.is_some_and(|e| e.role == Role::Peer);
        if ep.is_none() && r.endpoint != "juju-info" {
            let msg = format!("relation {} on undeclared endpoint {:?}", r.id, r.endpoint);
            self.report(step, None, what, Rule::ActionShape, msg);
        }
        if peer && !at_deploy {
            let msg = format!(
                "peer relation {} ({}) integrated after deploy",
                r.id, r.endpoint
            );
            self.report(step, None, what, Rule::ActionShape, msg);
        }
        if peer && r.remote_app != self.app {
            let msg = format!("peer relation {} has remote app {:?}", r.id, r.remote_app);
            self.report(step, None, what, Rule::ActionShape, msg);
        }
        for u in &r.remote_units {
            if !unit_of(u, &r.remote_app) || *u == self.unit {
                let msg = format!(
                    "relation {}: remote unit {u:?} is not <{}>/<n>",
                    r.id, r.remote_app
                );
                self.report(step, None, what, Rule::ActionShape, msg);
            }
        }
        let members: BTreeSet<String> = r.remote_units.iter().cloned().collect();
        self.relations.insert(
            r.id,
            Rel {
                endpoint: r.endpoint.clone(),
                remote_app: r.remote_app.clone(),
                peer,
                declared: ep.is_some(),
                container_scope: ep.is_some_and(|e| e.scope == Scope::Container),
                ever: members.clone(),
                members,
                removed: false,
                suspended: false,
                created: false,
                broken: false,
                joined: BTreeSet::new(),
                changed_pending: None,
                data_pending: BTreeSet::new(),
                // A unit added to an existing application may find app data already written.
                app_data_written: at_deploy,
                app_pending: at_deploy,
                poisoned: false,
            },
        );
    }

    fn live_relation(&mut self, step: usize, what: &str, id: u32) -> bool {
        match self.relations.get(&id) {
            Some(r) if !r.removed => true,
            Some(_) => {
                let msg = format!("relation {id} was removed");
                self.report(step, None, what, Rule::ActionShape, msg);
                false
            }
            None => {
                let msg = format!("relation {id} does not exist");
                self.report(step, None, what, Rule::ActionShape, msg);
                false
            }
        }
    }

    fn peer_relation_id(&self) -> Option<u32> {
        self.relations
            .iter()
            .find(|(_, r)| r.peer && !r.removed)
            .map(|(id, _)| *id)
    }

    /// The relation actions: integrate, remove, suspend, resume, and the remote side's
    /// units and data.
    pub(super) fn relation_action(&mut self, step: usize, what: &str, action: &Action) {
        match action {
            Action::Integrate { relation } => {
                self.add_relation(step, what, relation, false);
            }
            Action::RemoveRelation { relation_id } => {
                if self.live_relation(step, what, *relation_id) {
                    self.remove_relation(*relation_id);
                }
            }
            Action::SuspendRelation { relation_id } => {
                if self.live_relation(step, what, *relation_id) {
                    let r = self.relations.get_mut(relation_id).expect("checked");
                    if r.peer || r.suspended {
                        let msg = format!("relation {relation_id} cannot be suspended");
                        self.report(step, None, what, Rule::ActionShape, msg);
                    } else {
                        r.suspended = true;
                    }
                }
            }
            Action::ResumeRelation { relation_id } => {
                if self.live_relation(step, what, *relation_id) {
                    self.resume_relation(step, what, *relation_id);
                }
            }
            Action::RemoteUnitAdded { relation_id, unit } => {
                if self.live_relation(step, what, *relation_id) {
                    self.remote_unit_added(step, what, *relation_id, unit);
                }
            }
            Action::RemoteUnitRemoved { relation_id, unit } => {
                if self.live_relation(step, what, *relation_id) {
                    let r = self.relations.get_mut(relation_id).expect("checked");
                    let was = r.members.remove(unit);
                    if r.peer {
                        self.peers.remove(unit);
                        self.lsc_pending = true;
                    }
                    if !was {
                        let msg = format!("{unit:?} is not a member of relation {relation_id}");
                        self.report(step, None, what, Rule::ActionShape, msg);
                    }
                }
            }
            Action::RemoteUnitData {
                relation_id, unit, ..
            } => {
                if self.live_relation(step, what, *relation_id) {
                    let r = self.relations.get_mut(relation_id).expect("checked");
                    if r.members.contains(unit) {
                        r.data_pending.insert(unit.clone());
                    } else {
                        let msg = format!("{unit:?} is not a member of relation {relation_id}");
                        self.report(step, None, what, Rule::ActionShape, msg);
                    }
                }
            }
            Action::RemoteAppData { relation_id, .. } => {
                if self.live_relation(step, what, *relation_id) {
                    let r = self.relations.get_mut(relation_id).expect("checked");
                    r.app_data_written = true;
                    r.app_pending = true;
                }
            }
            _ => unreachable!("{what} is not a relation action"),
        }
    }

    fn remove_relation(&mut self, relation_id: u32) {
        let r = self.relations.get_mut(&relation_id).expect("checked");
        r.removed = true;
        let was_container = r.container_scope;
        // §L2.3.14: no Alive container-scoped relation left → Dying.
        if self.spec.subordinate
            && was_container
            && self.dying.is_none()
            && !self
                .relations
                .values()
                .any(|r| r.container_scope && !r.removed)
        {
            self.dying = Some(DyingCause::Orphaned);
            self.leader = false;
        }
    }

    fn resume_relation(&mut self, step: usize, what: &str, relation_id: u32) {
        let r = self.relations.get_mut(&relation_id).expect("checked");
        if !r.suspended {
            let msg = format!("relation {relation_id} is not suspended");
            self.report(step, None, what, Rule::ActionShape, msg);
        } else {
            r.suspended = false;
            // §L2.3: resumed relations are entered again; created fires again.
            if r.broken {
                r.broken = false;
                r.created = false;
                r.joined.clear();
                r.changed_pending = None;
                r.data_pending.clear();
                r.app_pending = r.app_data_written;
            }
        }
    }

    fn remote_unit_added(&mut self, step: usize, what: &str, relation_id: u32, unit: &str) {
        let own = self.unit.clone();
        let r = self.relations.get_mut(&relation_id).expect("checked");
        let bad = !unit_of(unit, &r.remote_app) || unit == own || r.ever.contains(unit);
        r.members.insert(unit.to_string());
        r.ever.insert(unit.to_string());
        if r.peer {
            self.peers.insert(unit.to_string());
            self.ever_peers.insert(unit.to_string());
        }
        if bad {
            let msg = format!("unit {unit:?} is not a new unit of the remote app");
            self.report(step, None, what, Rule::ActionShape, msg);
        }
    }

    /// `ScaleUp`, `ScaleDown`: a unit of this application comes or goes, and with it a
    /// member of the peer relation.
    pub(super) fn peer_action(&mut self, step: usize, what: &str, action: &Action) {
        match action {
            Action::ScaleUp { unit } => {
                if !unit_of(unit, &self.app) || *unit == self.unit || self.ever_peers.contains(unit)
                {
                    let msg = format!("{unit:?} is not a new unit of {}", self.app);
                    self.report(step, None, what, Rule::ActionShape, msg);
                }
                self.peers.insert(unit.clone());
                self.ever_peers.insert(unit.clone());
                if let Some(id) = self.peer_relation_id() {
                    let r = self.relations.get_mut(&id).expect("exists");
                    r.members.insert(unit.clone());
                    r.ever.insert(unit.clone());
                }
            }
            Action::ScaleDown { unit } => {
                if !self.peers.remove(unit) {
                    let msg = format!("{unit:?} is not a peer");
                    self.report(step, None, what, Rule::ActionShape, msg);
                }
                // §L7: a removed leader peer may hand this unit leader-settings-changed.
                self.lsc_pending = true;
                if let Some(id) = self.peer_relation_id() {
                    self.relations
                        .get_mut(&id)
                        .expect("exists")
                        .members
                        .remove(unit);
                }
            }
            _ => unreachable!("{what} is not a scaling action"),
        }
    }

    // -----------------------------------------------------------------------------------
    // Checks

    /// The relation rules, in this order: a declared endpoint, a known relation, nothing
    /// after broken (`relation-created` then has rules of its own); then the hook's place in
    /// the relation's sequence, the teardown order, and the rules of its kind.
    pub(super) fn check_relation(&self, ev: &Event) -> Option<Found> {
        let endpoint = ev.env("JUJU_RELATION")?;
        // §L2.15.7: no hooks for undeclared endpoints or the implicit juju-info relation.
        if self.spec.endpoint(endpoint).is_none() {
            return if endpoint == "juju-info" {
                found(
                    Rule::UndeclaredEndpoint,
                    "hook for the implicit juju-info relation",
                )
            } else {
                found(
                    Rule::UndeclaredEndpoint,
                    format!("endpoint {endpoint:?} is not in metadata"),
                )
            };
        }
        let Some(id) = ev.relation_id() else {
            return None; // reported by the environment check
        };
        let Some(r) = self.relations.get(&id) else {
            return found(
                Rule::UnknownRelation,
                format!("relation {id} does not exist"),
            );
        };
        if r.poisoned || r.endpoint != endpoint {
            return None; // endpoint mismatch: reported by the environment check
        }
        let h = RelHook {
            kind: ev.kind,
            id,
            r,
            remote: ev.env("JUJU_REMOTE_UNIT").unwrap_or(""),
            breaking: r.removed || r.suspended || self.dying.is_some(),
        };

        // §L2.15.4: nothing after broken.
        if r.broken {
            return rel_found(
                Rule::RelationCreated,
                id,
                format!("{} after relation-broken", h.kind),
            );
        }
        if h.kind == HookKind::RelationCreated {
            return check_created(&h);
        }
        self.relation_order(&h)
            .or_else(|| self.relation_teardown_order(&h))
            .or_else(|| match h.kind {
                HookKind::RelationJoined => check_joined(&h),
                HookKind::RelationChanged if h.remote.is_empty() => self.check_app_changed(&h),
                HookKind::RelationChanged => check_unit_changed(&h),
                HookKind::RelationDeparted => check_departed(&h),
                HookKind::RelationBroken => check_broken(&h),
                _ => None,
            })
    }

    /// Where a hook other than `relation-created` may fall in the relation's sequence.
    fn relation_order(&self, h: &RelHook) -> Option<Found> {
        use HookKind as K;
        let RelHook { kind, id, r, .. } = *h;
        // §L2.15.4: created before any other hook of the relation (the §L2.3.11 race, behind
        // `broken_without_created`, allows a lone broken).
        if !r.created {
            let race = kind == K::RelationBroken && self.opts.broken_without_created && h.breaking;
            if !race {
                return rel_found(
                    Rule::RelationCreated,
                    id,
                    format!("{kind} before relation-created"),
                );
            }
        }
        // §L2.15.6: after joined(u) the next hook for the relation is changed(u).
        if let Some(p) = &r.changed_pending
            && !(kind == K::RelationChanged && h.remote == p)
        {
            return rel_found(
                Rule::RelationMembership,
                id,
                format!("{kind} before changed({p}) that must follow joined({p})"),
            );
        }
        // §L2.1: joined/changed/departed only once the unit has started (unless Dying).
        if matches!(
            kind,
            K::RelationJoined | K::RelationChanged | K::RelationDeparted
        ) && !self.ever_started
            && self.dying.is_none()
        {
            return found(Rule::BeforeStart, format!("{kind} before the first start"));
        }
        None
    }

    /// §L2.12: a Dying unit's relation teardown comes after its storage, peers last.
    fn relation_teardown_order(&self, h: &RelHook) -> Option<Found> {
        let kind = h.kind;
        // §L2.12: relation teardown waits for storage-detaching (code order, §L8.1).
        if self.dying.is_some()
            && !self.opts.teardown_relations_before_storage
            && let Some((sid, _)) = self.storage.iter().find(|(_, s)| s.attached && !s.detached)
        {
            return found(
                Rule::Teardown,
                format!("relation teardown before {sid} was detached"),
            );
        }
        // §L2.12: peers depart only after every non-peer relation is broken.
        if self.dying.is_some()
            && h.r.peer
            && let Some((oid, o)) = self
                .relations
                .iter()
                .find(|(_, o)| o.declared && !o.peer && o.created && !o.broken)
        {
            return found(
                Rule::Teardown,
                format!(
                    "peer {kind} before relation {oid} ({}) was broken",
                    o.endpoint
                ),
            );
        }
        None
    }

    fn check_app_changed(&self, h: &RelHook) -> Option<Found> {
        let RelHook { id, r, .. } = *h;
        // §L2.3.4: app-level changed; not to the leader on the peer relation,
        // not once the relation is being broken, only after the app data changed.
        if r.peer && self.leader {
            return rel_found(
                Rule::RelationState,
                id,
                "app-level peer relation-changed on the leader",
            );
        }
        if h.breaking && !r.peer {
            return rel_found(
                Rule::RelationState,
                id,
                "app-level relation-changed while the relation is being broken",
            );
        }
        if !r.app_pending {
            return rel_found(
                Rule::RelationState,
                id,
                "app-level relation-changed without an app data change",
            );
        }
        None
    }

    // -----------------------------------------------------------------------------------
    // Commit

    pub(super) fn commit_relation(&mut self, ev: &Event) {
        use HookKind as K;
        let Some(r) = ev.relation_id().and_then(|id| self.relations.get_mut(&id)) else {
            return;
        };
        let remote = ev.env("JUJU_REMOTE_UNIT").unwrap_or("").to_string();
        match ev.kind {
            K::RelationCreated => r.created = true,
            K::RelationJoined => {
                r.joined.insert(remote.clone());
                r.data_pending.remove(&remote);
                r.changed_pending = Some(remote);
            }
            K::RelationChanged if remote.is_empty() => r.app_pending = false,
            K::RelationChanged => {
                if r.changed_pending.as_deref() == Some(remote.as_str()) {
                    r.changed_pending = None;
                } else {
                    r.data_pending.remove(&remote);
                }
            }
            K::RelationDeparted => {
                r.joined.remove(&remote);
                r.data_pending.remove(&remote);
            }
            K::RelationBroken => {
                r.broken = true;
                r.created = false;
                r.joined.clear();
                r.changed_pending = None;
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// The per-kind checks that need only the relation's own record.

fn check_created(h: &RelHook) -> Option<Found> {
    let RelHook { id, r, .. } = *h;
    // §L2.15.4: once per entry (again only after suspend → broken → resume).
    if r.created {
        return rel_found(Rule::RelationCreated, id, "relation-created twice");
    }
    // §L2.0.5: only for Alive, non-suspended relations.
    if r.removed || r.suspended {
        return rel_found(
            Rule::RelationState,
            id,
            "relation-created for a removed or suspended relation",
        );
    }
    None
}

fn check_joined(h: &RelHook) -> Option<Found> {
    let RelHook { id, r, remote, .. } = *h;
    // §L2.15.6: once per membership.
    if r.joined.contains(remote) {
        return rel_found(
            Rule::RelationMembership,
            id,
            format!("joined({remote}) twice in one membership"),
        );
    }
    // §L2.3.5: only for current remote members of a live relation.
    if !r.members.contains(remote) || h.breaking {
        return rel_found(
            Rule::RelationState,
            id,
            format!("joined({remote}) but {remote} is not in the relation"),
        );
    }
    None
}

fn check_unit_changed(h: &RelHook) -> Option<Found> {
    let RelHook { id, r, remote, .. } = *h;
    // §L2.15.6: only for joined units.
    if !r.joined.contains(remote) {
        return rel_found(
            Rule::RelationMembership,
            id,
            format!("changed({remote}) but {remote} has not joined"),
        );
    }
    if r.changed_pending.as_deref() == Some(remote) {
        return None;
    }
    // §L2.3.2, §L2.3.3, §L2.3.6: departures first; then only on a data change.
    if h.breaking || !r.members.contains(remote) {
        return rel_found(
            Rule::RelationState,
            id,
            format!("changed({remote}) while {remote} is leaving"),
        );
    }
    if !r.data_pending.contains(remote) {
        return rel_found(
            Rule::RelationState,
            id,
            format!("changed({remote}) without a data change"),
        );
    }
    None
}

fn check_departed(h: &RelHook) -> Option<Found> {
    let RelHook { id, r, remote, .. } = *h;
    // §L2.15.6: only for joined units.
    if !r.joined.contains(remote) {
        return rel_found(
            Rule::RelationMembership,
            id,
            format!("departed({remote}) but {remote} has not joined"),
        );
    }
    // §L2.3.2: only once the unit left (or everything is being torn down).
    if r.members.contains(remote) && !h.breaking {
        return rel_found(
            Rule::RelationState,
            id,
            format!("departed({remote}) but {remote} is still in the relation"),
        );
    }
    None
}

fn check_broken(h: &RelHook) -> Option<Found> {
    let RelHook { id, r, .. } = *h;
    // §L2.15.5: never for peers, never while members remain.
    if r.peer {
        return rel_found(
            Rule::RelationBroken,
            id,
            "relation-broken for a peer relation",
        );
    }
    if !r.joined.is_empty() {
        return rel_found(
            Rule::RelationBroken,
            id,
            format!("relation-broken while {:?} remain", r.joined),
        );
    }
    // §L2.3.3: only for a removed/suspended relation or a Dying unit.
    if !h.breaking {
        return rel_found(
            Rule::RelationState,
            id,
            "relation-broken for a live relation of an Alive unit",
        );
    }
    None
}
