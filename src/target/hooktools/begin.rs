//! Opening one event's hook context ([`HookContext::begin`]): what the hook can see of
//! the world through the hook tools (its relations and their databags, its storage, the
//! secrets it owns and consumes, the action it runs) and the statuses Juju sets itself
//! before the hook runs.

use super::{
    ActionRun, ConsumedSecret, ConsumerView, HookContext, OwnedSecret, RelView, Status,
    StatusRecord, StatusTarget, StorageView, UnitAgent, secret_xid, unit_address,
};
use crate::engine::action::Databag;
use crate::engine::event::{Event, HookKind};
use crate::engine::world::{SecretRole, World};
use crate::spec::CharmSpec;
use serde_json::Map;
use std::collections::{BTreeMap, BTreeSet};

impl HookContext {
    /// Open the context of `event`, which the world has just delivered.
    pub fn begin(world: &World, agent: &UnitAgent, event: &Event) -> HookContext {
        let spec = world.spec_arc().clone();
        let env = |k: &str| event.env(k).filter(|v| !v.is_empty()).map(String::from);
        let kind = event.kind;
        let hook_relation = if kind.is_relation() {
            event.relation_id()
        } else {
            None
        };
        let remote_unit = env("JUJU_REMOTE_UNIT");
        let broken = (kind == HookKind::RelationBroken)
            .then_some(hook_relation)
            .flatten();
        let relations = relation_views(world, agent, kind, hook_relation, remote_unit.as_deref());
        let hook_storage = env("JUJU_STORAGE_ID");
        let storage = storage_views(
            world,
            &spec,
            hook_storage.as_deref(),
            env("JUJU_STORAGE_LOCATION"),
        );
        let (owned, consumers, consumed) = secret_views(world, agent);
        let action = (kind == HookKind::Action).then(|| action_run(event, &spec));
        let (unit_status, statuses) = statuses_before(agent, event);

        HookContext {
            unit: world.unit.clone(),
            app: world.app.clone(),
            leader: world.leader,
            trusted: world.trusted,
            kubernetes: world.is_kubernetes(),
            dying: world.is_dying(),
            juju_version: world.opts.juju_version,
            hook: event.hook.clone(),
            kind,
            hook_relation,
            remote_unit,
            remote_app: env("JUJU_REMOTE_APP"),
            storage_id: hook_storage,
            peers: world.peers.iter().cloned().collect(),
            config: world.effective_config(),
            relations,
            broken,
            storage,
            resource_dir: agent.resource_dir.clone(),
            now: agent.clock,
            unit_status,
            app_status: agent.app_status.clone(),
            statuses,
            logs: Vec::new(),
            workload_version: None,
            leader_settings: agent.leader_settings.clone(),
            leader_settings_dirty: false,
            action,
            consumed,
            consumers,
            tracked: BTreeMap::new(),
            immediate: Vec::new(),
            rel_written: BTreeSet::new(),
            ports_committed: agent.opened_ports.clone(),
            ports_open: Vec::new(),
            ports_close: Vec::new(),
            storage_add: BTreeMap::new(),
            owned_before: owned.clone(),
            owned,
            secrets_created: Vec::new(),
            secrets_revised: BTreeSet::new(),
            secret_changes: Vec::new(),
            secret_effects: Vec::new(),
            next_secret: agent.secrets_created,
            state: agent.charm_state.clone(),
            state_changes: Vec::new(),
            reboot: None,
            calls: Vec::new(),
            spec,
        }
    }
}

/// Relations in the hook context: every relation the unit is in scope of. A
/// suspended relation whose relation-broken ran has left scope (the world keeps it to
/// be resumed).
fn relation_views(
    world: &World,
    agent: &UnitAgent,
    kind: HookKind,
    hook_relation: Option<u32>,
    remote_unit: Option<&str>,
) -> BTreeMap<u32, RelView> {
    let mut relations = BTreeMap::new();
    for r in &world.relations {
        if r.suspended && !r.created {
            continue;
        }
        let mut members: BTreeSet<String> = r.joined.keys().cloned().collect();
        if hook_relation == Some(r.id) {
            if let Some(u) = remote_unit {
                match kind {
                    HookKind::RelationJoined => {
                        members.insert(u.to_string());
                    }
                    HookKind::RelationDeparted => {
                        members.remove(u);
                    }
                    _ => {}
                }
            }
        }
        let mut unit_data: BTreeMap<String, Databag> =
            agent.remote_data.get(&r.id).cloned().unwrap_or_default();
        for (u, ru) in &r.remote_units {
            unit_data.insert(u.clone(), with_defaults(u, &ru.data));
        }
        let local_app =
            if r.peer && r.app_version > 0 && (r.local_app_data.is_empty() || !world.leader) {
                r.app_data.clone()
            } else {
                r.local_app_data.clone()
            };
        relations.insert(
            r.id,
            RelView {
                endpoint: r.endpoint.clone(),
                remote_app: r.remote_app.clone(),
                peer: r.peer,
                dying: r.dying,
                suspended: r.suspended,
                members: members.into_iter().collect(),
                remote_units: r.remote_units.keys().cloned().collect(),
                unit_data,
                remote_app_data: r.app_data.clone(),
                local_unit: with_defaults(&world.unit, &r.local_unit_data),
                local_app,
            },
        );
    }
    relations
}

/// The storage instances attached to the unit; the hook's own one (`hook_storage`) is
/// where the event's `JUJU_STORAGE_LOCATION` says.
fn storage_views(
    world: &World,
    spec: &CharmSpec,
    hook_storage: Option<&str>,
    hook_location: Option<String>,
) -> Vec<StorageView> {
    world
        .storage
        .iter()
        .filter(|s| !s.detached)
        .map(|s| {
            let id = s.id();
            let (mut location, kind) = storage_location(spec, &s.name, s.index);
            if hook_storage == Some(id.as_str()) {
                if let Some(loc) = hook_location.clone() {
                    location = loc;
                }
            }
            StorageView {
                id,
                name: s.name.clone(),
                index: s.index,
                kind,
                location,
            }
        })
        .collect()
}

/// Secrets: owned ones from the agent, reconciled with the world (which may know of a
/// revision published by another unit of the application); consumed ones from the
/// world. Returns the owned secrets, the consumed ones as the world has them, and what
/// the unit knows of the consumed ones (with each one's latest revision seen).
fn secret_views(
    world: &World,
    agent: &UnitAgent,
) -> (
    BTreeMap<String, OwnedSecret>,
    BTreeMap<String, ConsumerView>,
    BTreeMap<String, ConsumedSecret>,
) {
    let mut owned = agent.secrets.clone();
    let mut consumers = BTreeMap::new();
    for s in &world.secrets {
        let Some(xid) = secret_xid(&s.id).map(String::from) else {
            continue;
        };
        match &s.role {
            SecretRole::Owner(o) => {
                let entry = owned.entry(xid).or_insert_with(|| OwnedSecret {
                    id: s.id.clone(),
                    owner: *o,
                    label: s.label.clone(),
                    description: None,
                    expiry: None,
                    rotate: None,
                    rotates: None,
                    latest: s.latest_revision,
                    revisions: BTreeMap::from([(s.latest_revision, s.content.clone())]),
                    grants: BTreeSet::new(),
                });
                if s.latest_revision > entry.latest {
                    entry.latest = s.latest_revision;
                    entry.revisions.insert(s.latest_revision, s.content.clone());
                }
            }
            SecretRole::Consumer(_) => {
                consumers.insert(
                    xid,
                    ConsumerView {
                        world_id: s.id.clone(),
                        latest: s.latest_revision,
                        latest_content: s.content.clone(),
                        world_tracked: s.tracked_revision,
                        world_label: s.label.clone(),
                    },
                );
            }
        }
    }
    let mut consumed = agent.consumed.clone();
    for (xid, c) in &consumers {
        consumed
            .entry(xid.clone())
            .or_default()
            .revisions
            .entry(c.latest)
            .or_insert_with(|| c.latest_content.clone());
    }
    (owned, consumers, consumed)
}

/// The action an action hook runs, with its parameters' declared defaults filled in.
fn action_run(event: &Event, spec: &CharmSpec) -> ActionRun {
    let env = |k: &str| event.env(k).filter(|v| !v.is_empty()).map(String::from);
    let name = env("JUJU_ACTION_NAME").unwrap_or_default();
    let mut params = event.params.clone().unwrap_or_default();
    if let Some(a) = spec.action(&name) {
        for p in &a.params {
            if let (false, Some(d)) = (params.contains_key(&p.name), &p.default) {
                params.insert(p.name.clone(), d.clone());
            }
        }
    }
    ActionRun {
        name,
        id: env("JUJU_ACTION_UUID").unwrap_or_default(),
        params,
        results: Map::new(),
        logs: Vec::new(),
        failed: false,
        message: String::new(),
    }
}

/// Juju sets these statuses itself before the hook runs (juju-model.md §L3): the unit's
/// status as the hook starts, and the history entries it adds.
fn statuses_before(agent: &UnitAgent, event: &Event) -> (Status, Vec<StatusRecord>) {
    let mut unit_status = agent.unit_status.clone();
    let mut statuses = Vec::new();
    let pre = match event.kind {
        HookKind::Install if !agent.charm_set_status => Some("installing charm software"),
        HookKind::Stop => Some("stopping charm software"),
        HookKind::Remove => Some("cleaning up prior to charm deletion"),
        _ => None,
    };
    if let Some(msg) = pre {
        unit_status = Status::new("maintenance", msg);
        statuses.push(StatusRecord {
            target: StatusTarget::Unit,
            status: "maintenance".into(),
            message: msg.into(),
            hook: event.hook.clone(),
            by_juju: true,
        });
    }
    (unit_status, statuses)
}

/// The keys Juju puts in every unit's relation databag when it enters scope.
fn address_defaults(unit: &str) -> Databag {
    let ip = unit_address(unit);
    Databag::from([
        ("egress-subnets".to_string(), format!("{ip}/32")),
        ("ingress-address".to_string(), ip.clone()),
        ("private-address".to_string(), ip),
    ])
}

fn with_defaults(unit: &str, data: &Databag) -> Databag {
    let mut d = address_defaults(unit);
    d.extend(data.iter().map(|(k, v)| (k.clone(), v.clone())));
    d
}

/// The storage location, as the engine puts it in `JUJU_STORAGE_LOCATION`.
fn storage_location(spec: &CharmSpec, name: &str, index: u32) -> (String, String) {
    let sp = spec.storage(name);
    let location = match sp.and_then(|s| s.location.clone()) {
        Some(loc) if sp.is_some_and(|s| s.multiple.max == Some(1)) => loc,
        Some(loc) => format!("{}/{index}", loc.trim_end_matches('/')),
        None => format!("/var/lib/juju/storage/{name}/{index}"),
    };
    let kind = sp.map(|s| s.kind.as_str()).unwrap_or("filesystem");
    (location, kind.to_string())
}
