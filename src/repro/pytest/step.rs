//! One scene as Python: the variables a `State` is built from (containers, relations,
//! storage, secrets), the `State`'s arguments, and the `ctx.on` event of the hook.

use super::literal::{py_bytes, py_databag, py_list_str, py_str, py_units, py_value};
use crate::repro::scene::{
    CheckScene, ContainerScene, Databag, DeferredScene, EventScene, RelationScene, Scene,
    SecretScene, StoredScene,
};
use std::collections::BTreeMap;

/// One scene as Python: the variables (containers, relations, storage, secrets), the
/// State's arguments, the event, and notes.
pub(super) struct StepCode {
    pub(super) vars: Vec<(String, String)>,
    pub(super) args: Vec<(String, String)>,
    pub(super) event: String,
    pub(super) notes: Vec<String>,
}

pub(super) fn step_code(scene: &Scene, step: usize, chain: bool, memory: bool) -> StepCode {
    let vars = scene_vars(scene, step, chain);
    let mut notes = Vec::new();
    let args = state_args(scene, &vars, memory, &mut notes);
    let (event, note) = event_expr(scene, &vars.names, &vars.storages, &vars.secrets);
    notes.extend(note);
    notes.extend(unit_less_gap(scene));
    StepCode {
        vars: vars.list,
        args,
        event,
        notes,
    }
}

/// A scene's variables, and the names the State and the event refer to them by.
struct SceneVars {
    /// (name, expression), in the order they are written.
    list: Vec<(String, String)>,
    names: Names,
    /// ((storage name, index), variable).
    storages: Vec<((String, u32), String)>,
    /// Secret id → variable.
    secrets: BTreeMap<String, String>,
}

/// Name the scene's containers, relations, storage and secrets. A container's files go in
/// a directory of its own (one per step in a chain).
fn scene_vars(scene: &Scene, step: usize, chain: bool) -> SceneVars {
    let mut vars = Vec::new();
    // Containers and relations get names, so that the event can refer to them.
    let mut names = Names::default();
    for c in &scene.containers {
        let var = names.take(&format!("{}_container", c.name));
        let dir = if chain {
            format!("step{}_{}", step + 1, c.name)
        } else {
            c.name.clone()
        };
        vars.push((var.clone(), container_expr(c, &dir)));
        names.containers.insert(c.name.clone(), var);
    }
    for r in &scene.relations {
        let var = names.take(&format!("{}_relation", r.endpoint));
        vars.push((var.clone(), relation_expr(r)));
        names.relations.insert(r.id, var);
    }
    let mut storage_vars = Vec::new();
    for (name, index) in &scene.storages {
        let var = names.take(&format!("{name}_{index}_storage"));
        vars.push((
            var.clone(),
            format!("testing.Storage({}, index={index})", py_str(name)),
        ));
        storage_vars.push(((name.clone(), *index), var));
    }
    let mut secret_vars = BTreeMap::new();
    for s in &scene.secrets {
        let var = names.take(&format!(
            "{}_secret",
            s.label.as_deref().unwrap_or("unlabelled")
        ));
        vars.push((var.clone(), secret_expr(s)));
        secret_vars.insert(s.id.clone(), var);
    }
    SceneVars {
        list: vars,
        names,
        storages: storage_vars,
        secrets: secret_vars,
    }
}

/// The State's arguments for a scene, in the order they are written. `memory`: whether
/// the charm's own memory (StoredState, deferred events) is the scene's; a note for the
/// deferred events goes to `notes`.
fn state_args(
    scene: &Scene,
    vars: &SceneVars,
    memory: bool,
    notes: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut args: Vec<(String, String)> = Vec::new();
    let mut arg = |k: &str, v: String| args.push((k.to_string(), v));
    arg(
        "leader",
        if scene.leader { "True" } else { "False" }.to_string(),
    );
    if !scene.config.is_empty() {
        let items: Vec<String> = scene
            .config
            .iter()
            .map(|(k, v)| format!("{}: {}", py_str(k), py_value(v)))
            .collect();
        arg("config", format!("{{{}}}", items.join(", ")));
    }
    let set = |vars: Vec<&String>| -> String {
        format!(
            "{{{}}}",
            vars.iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if !vars.names.relations.is_empty() {
        arg("relations", set(vars.names.relations.values().collect()));
    }
    if !vars.names.containers.is_empty() {
        arg("containers", set(vars.names.containers.values().collect()));
    }
    if !vars.storages.is_empty() {
        arg(
            "storages",
            set(vars.storages.iter().map(|(_, v)| v).collect()),
        );
    }
    if !vars.secrets.is_empty() {
        arg("secrets", set(vars.secrets.values().collect()));
    }
    if !scene.opened_ports.is_empty() {
        arg("opened_ports", ports_expr(&scene.opened_ports));
    }
    if memory && !scene.unit_state.stored.is_empty() {
        arg(
            "stored_states",
            stored_states_expr(&scene.unit_state.stored),
        );
    }
    if memory && !scene.unit_state.deferred.is_empty() {
        arg("deferred", deferred_expr(&scene.unit_state.deferred));
        notes.push(
            "ops re-emits the deferred events first, oldest first, each to the observer that \
             deferred it, before the hook's own event."
                .into(),
        );
    }
    for (key, (status, message)) in [
        ("unit_status", &scene.unit_status),
        ("app_status", &scene.app_status),
    ] {
        if let Some(expr) = status_expr(status, message) {
            arg(key, expr);
        }
    }
    if !scene.workload_version.is_empty() {
        arg("workload_version", py_str(&scene.workload_version));
    }
    if !scene.kubernetes {
        arg("model", "testing.Model(type=\"lxd\")".into());
    }
    args
}

/// The opened ports, as a set of `testing.*Port`.
fn ports_expr(opened_ports: &[(String, Option<u16>)]) -> String {
    let ports: Vec<String> = opened_ports
        .iter()
        .map(|(proto, port)| match (proto.as_str(), port) {
            ("tcp", Some(p)) => format!("testing.TCPPort({p})"),
            ("udp", Some(p)) => format!("testing.UDPPort({p})"),
            _ => "testing.ICMPPort()".to_string(),
        })
        .collect();
    format!("{{{}}}", ports.join(", "))
}

/// The charm's StoredStates, as a set of `testing.StoredState`.
fn stored_states_expr(stored: &[StoredScene]) -> String {
    let stored: Vec<String> = stored
        .iter()
        .map(|s| {
            format!(
                "testing.StoredState({}, owner_path={}, content={})",
                py_str(&s.name),
                py_str(&s.owner_path),
                s.content
            )
        })
        .collect();
    format!("{{{}}}", stored.join(", "))
}

/// The events the charm deferred, oldest first, as a list of `testing.DeferredEvent`.
fn deferred_expr(deferred: &[DeferredScene]) -> String {
    let deferred: Vec<String> = deferred
        .iter()
        .map(|d| {
            format!(
                "testing.DeferredEvent(handle_path={}, owner={}, observer={}, snapshot_data={})",
                py_str(&d.handle_path),
                py_str(&d.owner),
                py_str(&d.observer),
                d.snapshot
            )
        })
        .collect();
    format!("[{}]", deferred.join(", "))
}

/// A relation hook that Juju ran with no remote unit, `relation-changed` for a change of
/// the remote application's databag (`JUJU_REMOTE_UNIT=""`, ops: `event.unit is None`):
/// the remote unit the test names instead. `ops.testing` cannot run such an event: it
/// either picks one of the relation's remote units or, when there are none, fails (ops's
/// `JujuContext` wants `JUJU_REMOTE_UNIT` and `ops.testing` leaves it unset). The test
/// names the first remote unit, or a unit of the remote application that is not in the
/// relation, and says so ([`unit_less_gap`]).
fn unit_less_change(scene: &Scene) -> Option<u32> {
    let EventScene::Relation {
        method,
        relation_id,
        remote_unit: None,
        ..
    } = &scene.event
    else {
        return None;
    };
    if !matches!(
        method.as_str(),
        "relation_joined" | "relation_changed" | "relation_departed"
    ) {
        return None;
    }
    let relation = scene.relations.iter().find(|r| r.id == *relation_id)?;
    let first = relation.remote_units_data.keys().next().copied();
    // A peer relation's remote application is this one: not this unit.
    first.or_else(|| (0..).find(|u| !relation.peer || *u != scene.unit_id))
}

/// The note for a hook [`unit_less_change`] rewrites.
pub(super) fn unit_less_gap(scene: &Scene) -> Option<String> {
    let unit = unit_less_change(scene)?;
    let EventScene::Relation { relation_id, .. } = &scene.event else {
        return None;
    };
    let relation = scene.relations.iter().find(|r| r.id == *relation_id)?;
    Some(format!(
        "{}: Juju ran it for a change in {}'s application data, with no remote unit \
         (JUJU_REMOTE_UNIT empty, event.unit is None); ops.testing cannot run a relation \
         event without one, so the test names {}/{unit} and the charm sees it as event.unit.",
        scene.hook, relation.remote_app, relation.remote_app
    ))
}

/// Python identifiers for the test's variables, unique.
#[derive(Default)]
struct Names {
    used: std::collections::BTreeSet<String>,
    containers: BTreeMap<String, String>,
    relations: BTreeMap<u32, String>,
}

impl Names {
    fn take(&mut self, want: &str) -> String {
        let mut base: String = want
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        if base.starts_with(|c: char| c.is_ascii_digit()) {
            base.insert(0, '_');
        }
        let mut name = base.clone();
        let mut n = 2;
        while !self.used.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    }
}

fn container_expr(c: &ContainerScene, var: &str) -> String {
    let mut args = vec![
        py_str(&c.name),
        format!(
            "can_connect={}",
            if c.can_connect { "True" } else { "False" }
        ),
    ];
    if !c.layers.is_empty() {
        let layers: Vec<String> = c
            .layers
            .iter()
            .map(|(label, yaml)| format!("{}: pebble.Layer({})", py_str(label), py_str(yaml)))
            .collect();
        args.push(format!("layers={{{}}}", layers.join(", ")));
    }
    if !c.service_statuses.is_empty() {
        let s: Vec<String> = c
            .service_statuses
            .iter()
            .map(|(n, st)| {
                format!(
                    "{}: pebble.ServiceStatus.{}",
                    py_str(n),
                    match st.as_str() {
                        "active" => "ACTIVE",
                        "error" => "ERROR",
                        _ => "INACTIVE",
                    }
                )
            })
            .collect();
        args.push(format!("service_statuses={{{}}}", s.join(", ")));
    }
    if !c.checks.is_empty() {
        let checks: Vec<String> = c.checks.iter().map(check_expr).collect();
        args.push(format!("check_infos={{{}}}", checks.join(", ")));
    }
    if !c.notices.is_empty() {
        let n: Vec<String> = c
            .notices
            .iter()
            .map(|n| format!("testing.Notice({}, id={})", py_str(&n.key), py_str(&n.id)))
            .collect();
        args.push(format!("notices=[{}]", n.join(", ")));
    }
    if !c.files.is_empty() {
        // ops.testing gives each container a root directory of its own; files are put in
        // through mounts, one per top-level directory, filled by the helper below.
        let files: Vec<String> = c
            .files
            .iter()
            .map(|(p, content)| format!("{}: {}", py_str(p), py_bytes(content)))
            .collect();
        args.push(format!(
            "mounts=_mounts(tmp_path / {}, {{{}}})",
            py_str(var),
            files.join(", ")
        ));
    }
    if !c.execs.is_empty() {
        let execs: Vec<String> = c
            .execs
            .iter()
            .map(|e| {
                let mut a = vec![py_list_str(&e.command)];
                if e.return_code != 0 {
                    a.push(format!("return_code={}", e.return_code));
                }
                if !e.stdout.is_empty() {
                    a.push(format!("stdout={}", py_str(&e.stdout)));
                }
                if !e.stderr.is_empty() {
                    a.push(format!("stderr={}", py_str(&e.stderr)));
                }
                format!("testing.Exec({})", a.join(", "))
            })
            .collect();
        args.push(format!("execs={{{}}}", execs.join(", ")));
    }
    format!("testing.Container({})", args.join(", "))
}

fn check_expr(c: &CheckScene) -> String {
    let mut args = vec![py_str(&c.name)];
    if let Some(level) = match c.level.as_str() {
        "alive" => Some("ALIVE"),
        "ready" => Some("READY"),
        _ => None,
    } {
        args.push(format!("level=pebble.CheckLevel.{level}"));
    }
    args.push(format!(
        "startup=pebble.CheckStartup.{}",
        if c.startup == "disabled" {
            "DISABLED"
        } else {
            "ENABLED"
        }
    ));
    args.push(format!(
        "status=pebble.CheckStatus.{}",
        match c.status.as_str() {
            "down" => "DOWN",
            "inactive" => "INACTIVE",
            _ => "UP",
        }
    ));
    args.push(format!("failures={}", c.failures));
    args.push(format!("threshold={}", c.threshold));
    format!("testing.CheckInfo({})", args.join(", "))
}

fn relation_expr(r: &RelationScene) -> String {
    let mut args = vec![py_str(&r.endpoint), format!("id={}", r.id)];
    let bag = |d: &Databag| py_databag(d);
    if r.peer {
        if !r.remote_units_data.is_empty() {
            args.push(format!("peers_data={}", py_units(&r.remote_units_data)));
        }
    } else {
        args.push(format!("remote_app_name={}", py_str(&r.remote_app)));
        if !r.remote_app_data.is_empty() {
            args.push(format!("remote_app_data={}", bag(&r.remote_app_data)));
        }
        args.push(format!(
            "remote_units_data={}",
            py_units(&r.remote_units_data)
        ));
    }
    if !r.local_app_data.is_empty() {
        args.push(format!("local_app_data={}", bag(&r.local_app_data)));
    }
    args.push(format!("local_unit_data={}", bag(&r.local_unit_data)));
    let class = if r.peer { "PeerRelation" } else { "Relation" };
    format!("testing.{class}({})", args.join(", "))
}

fn secret_expr(s: &SecretScene) -> String {
    let mut args = vec![
        py_databag(&s.tracked_content),
        format!("latest_content={}", py_databag(&s.latest_content)),
        format!("id={}", py_str(&s.id)),
    ];
    if let Some(o) = &s.owner {
        args.push(format!("owner={}", py_str(o)));
    }
    if let Some(l) = &s.label {
        args.push(format!("label={}", py_str(l)));
    }
    format!("testing.Secret({})", args.join(", "))
}

fn status_expr(status: &str, message: &str) -> Option<String> {
    let class = match status {
        "active" => "ActiveStatus",
        "blocked" => "BlockedStatus",
        "maintenance" => "MaintenanceStatus",
        "waiting" => "WaitingStatus",
        _ => return None,
    };
    Some(if message.is_empty() {
        format!("testing.{class}()")
    } else {
        format!("testing.{class}({})", py_str(message))
    })
}

/// The `ctx.on…` expression, and a note when the event cannot be written faithfully.
fn event_expr(
    scene: &Scene,
    names: &Names,
    storages: &[((String, u32), String)],
    secrets: &BTreeMap<String, String>,
) -> (String, Option<String>) {
    match &scene.event {
        EventScene::Simple(method) => (format!("ctx.on.{method}()"), None),
        EventScene::Relation {
            method,
            relation_id,
            remote_unit,
            departing_unit,
        } => {
            let rel = names
                .relations
                .get(relation_id)
                .cloned()
                .unwrap_or_else(|| format!("state.get_relation({relation_id})"));
            let mut args = vec![rel];
            if let Some(u) = remote_unit.or_else(|| unit_less_change(scene)) {
                args.push(format!("remote_unit={u}"));
            }
            if let Some(u) = departing_unit {
                args.push(format!("departing_unit={u}"));
            }
            (format!("ctx.on.{method}({})", args.join(", ")), None)
        }
        EventScene::Storage {
            method,
            name,
            index,
        } => {
            let var = storages
                .iter()
                .find(|((n, i), _)| n == name && i == index)
                .map(|(_, v)| v.clone());
            match var {
                Some(v) => (format!("ctx.on.{method}({v})"), None),
                None => (
                    format!(
                        "ctx.on.{method}(testing.Storage({}, index={index}))",
                        py_str(name)
                    ),
                    Some(format!(
                        "{name}/{index} is no longer attached (storage-list does not have it)."
                    )),
                ),
            }
        }
        EventScene::Workload {
            method,
            container,
            check,
            notice_id,
        } => {
            let var = names
                .containers
                .get(container)
                .cloned()
                .unwrap_or_else(|| format!("state.get_container({})", py_str(container)));
            let mut args = vec![var.clone()];
            if let Some(c) = check {
                args.push(format!("{var}.get_check_info({})", py_str(c)));
            }
            if let Some(id) = notice_id {
                args.push(format!(
                    "next(n for n in {var}.notices if n.id == {})",
                    py_str(id)
                ));
            }
            (format!("ctx.on.{method}({})", args.join(", ")), None)
        }
        EventScene::Secret {
            method,
            id,
            revision,
        } => {
            let var = secrets
                .get(id)
                .cloned()
                .unwrap_or_else(|| format!("state.get_secret(id={})", py_str(id)));
            let mut args = vec![var];
            if let Some(r) = revision {
                args.push(format!("revision={r}"));
            }
            (format!("ctx.on.{method}({})", args.join(", ")), None)
        }
        EventScene::Action { name, params } => {
            if params.is_empty() {
                (format!("ctx.on.action({})", py_str(name)), None)
            } else {
                let p: Vec<String> = params
                    .iter()
                    .map(|(k, v)| format!("{}: {}", py_str(k), py_value(v)))
                    .collect();
                (
                    format!(
                        "ctx.on.action({}, params={{{}}})",
                        py_str(name),
                        p.join(", ")
                    ),
                    None,
                )
            }
        }
        EventScene::Unsupported => (
            "ctx.on.update_status()".into(),
            Some("ops.testing has no event for this hook; update-status stands in.".into()),
        ),
    }
}
