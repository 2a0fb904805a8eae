//! §L1.2: the hook environment.
//!
//! Juju runs every hook (and action) with a set of `JUJU_*` variables: the common ones every
//! hook carries (§L1.1: the unit, the model, the Juju version, the hook name and dispatch
//! path …) and, per kind, the ones that say what the hook is about (the relation and remote
//! unit, the storage instance, the container and notice or check, the secret, the action,
//! the target base). The charm reads its whole situation from them, so they must be exactly
//! right: every common variable present, exactly the kind's own variables, values that
//! agree with the hook, the relation and the unit, and a hook name that agrees with its kind
//! and prefix. The environment is checked apart from the state rules and reported after
//! them; a retry is not re-checked (it carries the failed event's environment).
//!
//! Host-specific values (`JUJU_CHARM_DIR`, socket and API addresses, machine id, proxies)
//! are not compared.

use super::{DyingCause, Rule, Validator, storage_name, unit_of};
use crate::engine::event::{Event, HookKind};
use crate::engine::options::JujuVersion;

// ---------------------------------------------------------------------------------------
// Environment tables (§L1.1, §L1.2)

/// Variables every hook and action carries (§L1.1; the trace keeps only `JUJU_*`).
const COMMON_VARS: [&str; 19] = [
    "JUJU_UNIT_NAME",
    "JUJU_MODEL_NAME",
    "JUJU_MODEL_UUID",
    "JUJU_VERSION",
    "JUJU_HOOK_NAME",
    "JUJU_DISPATCH_PATH",
    "JUJU_CHARM_DIR",
    "JUJU_CONTEXT_ID",
    "JUJU_AGENT_SOCKET_ADDRESS",
    "JUJU_AGENT_SOCKET_NETWORK",
    "JUJU_API_ADDRESSES",
    "JUJU_SLA",
    "JUJU_MACHINE_ID",
    "JUJU_PRINCIPAL_UNIT",
    "JUJU_AVAILABILITY_ZONE",
    "JUJU_CHARM_HTTP_PROXY",
    "JUJU_CHARM_HTTPS_PROXY",
    "JUJU_CHARM_FTP_PROXY",
    "JUJU_CHARM_NO_PROXY",
];

/// Every kind-specific variable of §L1.2: each must appear exactly on the kinds that carry it.
const KIND_VARS: [&str; 21] = [
    "JUJU_RELATION",
    "JUJU_RELATION_ID",
    "JUJU_REMOTE_UNIT",
    "JUJU_REMOTE_APP",
    "JUJU_DEPARTING_UNIT",
    "JUJU_STORAGE_ID",
    "JUJU_STORAGE_LOCATION",
    "JUJU_STORAGE_KIND",
    "JUJU_WORKLOAD_NAME",
    "JUJU_NOTICE_ID",
    "JUJU_NOTICE_TYPE",
    "JUJU_NOTICE_KEY",
    "JUJU_PEBBLE_CHECK_NAME",
    "JUJU_SECRET_ID",
    "JUJU_SECRET_LABEL",
    "JUJU_SECRET_REVISION",
    "JUJU_ACTION_NAME",
    "JUJU_ACTION_UUID",
    "JUJU_ACTION_TAG",
    "JUJU_TARGET_BASE",
    "JUJU_TARGET_SERIES",
];

const REL_VARS: [&str; 4] = [
    "JUJU_RELATION",
    "JUJU_RELATION_ID",
    "JUJU_REMOTE_UNIT",
    "JUJU_REMOTE_APP",
];

/// The kind-specific variables a hook of `kind` carries (§L1.2).
fn kind_vars(kind: HookKind) -> Vec<&'static str> {
    use HookKind as K;
    let mut v: Vec<&'static str> = Vec::new();
    match kind {
        K::RelationCreated | K::RelationJoined | K::RelationChanged | K::RelationBroken => {
            v.extend(REL_VARS)
        }
        K::RelationDeparted => {
            v.extend(REL_VARS);
            v.push("JUJU_DEPARTING_UNIT");
        }
        K::StorageAttached | K::StorageDetaching => v.extend([
            "JUJU_STORAGE_ID",
            "JUJU_STORAGE_LOCATION",
            "JUJU_STORAGE_KIND",
        ]),
        K::PebbleReady => v.push("JUJU_WORKLOAD_NAME"),
        K::PebbleCustomNotice => v.extend([
            "JUJU_WORKLOAD_NAME",
            "JUJU_NOTICE_ID",
            "JUJU_NOTICE_TYPE",
            "JUJU_NOTICE_KEY",
        ]),
        K::PebbleCheckFailed | K::PebbleCheckRecovered => {
            v.extend(["JUJU_WORKLOAD_NAME", "JUJU_PEBBLE_CHECK_NAME"])
        }
        K::SecretChanged | K::SecretRotate => v.extend(["JUJU_SECRET_ID", "JUJU_SECRET_LABEL"]),
        K::SecretExpired | K::SecretRemove => v.extend([
            "JUJU_SECRET_ID",
            "JUJU_SECRET_LABEL",
            "JUJU_SECRET_REVISION",
        ]),
        K::Action => v.extend(["JUJU_ACTION_NAME", "JUJU_ACTION_UUID", "JUJU_ACTION_TAG"]),
        K::PreSeriesUpgrade => v.extend(["JUJU_TARGET_BASE", "JUJU_TARGET_SERIES"]),
        _ => {}
    }
    v
}

// ---------------------------------------------------------------------------------------
// The checks

impl Validator<'_> {
    /// Everything wrong with `ev`'s environment, in this order: which variables, the
    /// common values, the hook name, then the values of the kind's own variables.
    pub(super) fn check_env(&mut self, ev: &Event) -> Vec<(Rule, String)> {
        use HookKind as K;
        let mut out: Vec<(Rule, String)> = Vec::new();
        let kind = ev.kind;

        env_vars(ev, &mut out);
        self.env_common(ev, &mut out);
        env_hook_name(ev, &mut out);

        // Per-kind values.
        if kind.is_relation() {
            self.env_relation(ev, &mut out);
        }
        if kind.is_storage() {
            self.env_storage(ev, &mut out);
        }
        if kind == K::PebbleCustomNotice {
            env_notice(ev, &mut out);
        }
        if kind.is_secret() {
            env_secret(ev, &mut out);
        }
        if kind == K::Action {
            env_action(ev, &mut out);
        }
        if kind == K::PreSeriesUpgrade {
            self.env_series(ev, &mut out);
        }
        out
    }

    /// Common values.
    fn env_common(&mut self, ev: &Event, out: &mut Vec<(Rule, String)>) {
        if let Some(u) = ev.env("JUJU_UNIT_NAME")
            && u != self.unit
        {
            out.push((
                Rule::Env,
                format!("JUJU_UNIT_NAME {u:?} is not {}", self.unit),
            ));
        }
        if let Some(v) = ev.env("JUJU_VERSION")
            && v.parse::<JujuVersion>().ok() != Some(self.version)
        {
            out.push((
                Rule::Env,
                format!("JUJU_VERSION {v:?} is not {}", self.version),
            ));
        }
        if let (Some(n), Some(u)) = (ev.env("JUJU_MODEL_NAME"), ev.env("JUJU_MODEL_UUID")) {
            match &self.model {
                None => self.model = Some((n.to_string(), u.to_string())),
                Some((mn, mu)) if mn != n || mu != u => {
                    out.push((Rule::Env, "the model name/uuid changed".to_string()));
                }
                _ => {}
            }
        }
        if self.k8s
            && let Some(m) = ev.env("JUJU_MACHINE_ID")
            && !m.is_empty()
        {
            out.push((
                Rule::Env,
                "JUJU_MACHINE_ID is set on Kubernetes".to_string(),
            ));
        }
        if !self.spec.subordinate
            && let Some(p) = ev.env("JUJU_PRINCIPAL_UNIT")
            && !p.is_empty()
        {
            out.push((
                Rule::Env,
                "JUJU_PRINCIPAL_UNIT is set for a principal charm".to_string(),
            ));
        }
        if ev.kind != HookKind::Action && ev.params.is_some() {
            out.push((
                Rule::Env,
                "params on a hook that is not an action".to_string(),
            ));
        }
    }

    fn env_relation(&self, ev: &Event, out: &mut Vec<(Rule, String)>) {
        use HookKind as K;
        let kind = ev.kind;
        let (Some(ep), Some(rid)) = (ev.env("JUJU_RELATION"), ev.env("JUJU_RELATION_ID")) else {
            return;
        };
        match rid.rsplit_once(':') {
            Some((e, n)) if e == ep && n.parse::<u32>().is_ok() => {}
            _ => out.push((
                Rule::Env,
                format!("JUJU_RELATION_ID {rid:?} is not {ep}:<id>"),
            )),
        }
        let remote = ev.env("JUJU_REMOTE_UNIT");
        let app = ev.env("JUJU_REMOTE_APP");
        match (kind, remote) {
            (K::RelationCreated | K::RelationBroken, Some(u)) if !u.is_empty() => out.push((
                Rule::Env,
                format!("JUJU_REMOTE_UNIT {u:?} on {kind} (must be empty)"),
            )),
            (K::RelationJoined | K::RelationDeparted, Some("")) => {
                out.push((Rule::Env, format!("empty JUJU_REMOTE_UNIT on {kind}")))
            }
            (_, Some(u)) if !u.is_empty() => {
                if let Some(a) = app
                    && !unit_of(u, a)
                {
                    out.push((
                        Rule::Env,
                        format!("JUJU_REMOTE_UNIT {u:?} is not a unit of {a}"),
                    ));
                }
                if u == self.unit {
                    out.push((Rule::Env, "JUJU_REMOTE_UNIT is this unit".to_string()));
                }
            }
            _ => {}
        }
        let Some(r) = ev.relation_id().and_then(|id| self.relations.get(&id)) else {
            return;
        };
        if r.endpoint != ep {
            out.push((
                Rule::Env,
                format!(
                    "JUJU_RELATION {ep:?} but relation {rid} is on {:?}",
                    r.endpoint
                ),
            ));
        }
        if let Some(a) = app
            && a != r.remote_app
        {
            out.push((
                Rule::Env,
                format!(
                    "JUJU_REMOTE_APP {a:?} but the relation is with {:?}",
                    r.remote_app
                ),
            ));
        }
        // §L2.3.2: the departing unit is this unit when this unit/app is not Alive,
        // else the remote unit. An orphaned subordinate may race its own death.
        if kind == K::RelationDeparted
            && let (Some(d), Some(u)) = (ev.env("JUJU_DEPARTING_UNIT"), remote)
        {
            let ok = match self.dying {
                Some(DyingCause::Removal) => d == self.unit,
                Some(DyingCause::Orphaned) => d == self.unit || d == u,
                None => d == u,
            };
            if !ok {
                out.push((
                    Rule::Env,
                    format!(
                        "JUJU_DEPARTING_UNIT {d:?} (unit {u}, this unit {})",
                        self.unit
                    ),
                ));
            }
        }
    }

    fn env_storage(&self, ev: &Event, out: &mut Vec<(Rule, String)>) {
        if let Some(id) = ev.env("JUJU_STORAGE_ID") {
            match storage_name(id) {
                None => out.push((
                    Rule::Env,
                    format!("JUJU_STORAGE_ID {id:?} is not <name>/<n>"),
                )),
                Some(name) => {
                    if let (Some(s), Some(k)) =
                        (self.spec.storage(name), ev.env("JUJU_STORAGE_KIND"))
                        && k != s.kind.as_str()
                    {
                        out.push((
                            Rule::Env,
                            format!("JUJU_STORAGE_KIND {k:?} but {name} is {}", s.kind.as_str()),
                        ));
                    }
                }
            }
        }
    }

    fn env_series(&self, ev: &Event, out: &mut Vec<(Rule, String)>) {
        if let (Some(want), Some(got)) = (&self.series_prepare, ev.env("JUJU_TARGET_BASE"))
            && want != got
        {
            out.push((
                Rule::Env,
                format!("JUJU_TARGET_BASE {got:?} but the upgrade targets {want:?}"),
            ));
        }
    }
}

/// Which variables: every common one, exactly the kind's own.
fn env_vars(ev: &Event, out: &mut Vec<(Rule, String)>) {
    let kind = ev.kind;
    let missing: Vec<&str> = COMMON_VARS
        .iter()
        .copied()
        .filter(|v| !ev.env.contains_key(*v))
        .collect();
    if !missing.is_empty() {
        out.push((Rule::Env, format!("missing {}", missing.join(", "))));
    }
    let wanted = kind_vars(kind);
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|v| !ev.env.contains_key(*v))
        .collect();
    if !missing.is_empty() {
        out.push((Rule::Env, format!("{kind} without {}", missing.join(", "))));
    }
    let extra: Vec<&str> = KIND_VARS
        .iter()
        .copied()
        .filter(|v| ev.env.contains_key(*v) && !wanted.contains(v))
        .collect();
    if !extra.is_empty() {
        out.push((Rule::Env, format!("{} on {kind}", extra.join(", "))));
    }
}

/// Hook name, JUJU_HOOK_NAME and JUJU_DISPATCH_PATH.
fn env_hook_name(ev: &Event, out: &mut Vec<(Rule, String)>) {
    use HookKind as K;
    let kind = ev.kind;
    let prefix: Option<&str> = match kind {
        k if k.is_relation() => ev.env("JUJU_RELATION"),
        k if k.is_storage() => ev.env("JUJU_STORAGE_ID").and_then(storage_name),
        k if k.is_workload() => ev.env("JUJU_WORKLOAD_NAME"),
        K::Action => ev.env("JUJU_ACTION_NAME"),
        _ => Some(""),
    };
    if let Some(p) = prefix {
        let expected = kind.hook_name((!p.is_empty()).then_some(p));
        if ev.hook != expected {
            out.push((
                Rule::HookName,
                format!("hook {:?} should be {expected:?} for {kind}", ev.hook),
            ));
        }
        let (hook_env, dispatch) = if kind == K::Action {
            (String::new(), format!("actions/{p}"))
        } else {
            (expected.clone(), format!("hooks/{expected}"))
        };
        if let Some(h) = ev.env("JUJU_HOOK_NAME")
            && h != hook_env
        {
            out.push((
                Rule::HookName,
                format!("JUJU_HOOK_NAME {h:?} should be {hook_env:?}"),
            ));
        }
        if let Some(d) = ev.env("JUJU_DISPATCH_PATH")
            && d != dispatch
        {
            out.push((
                Rule::HookName,
                format!("JUJU_DISPATCH_PATH {d:?} should be {dispatch:?}"),
            ));
        }
    } else if !ev.hook.ends_with(kind.as_str()) {
        out.push((
            Rule::HookName,
            format!("hook {:?} is not a {kind} hook", ev.hook),
        ));
    }
}

fn env_notice(ev: &Event, out: &mut Vec<(Rule, String)>) {
    if let Some(t) = ev.env("JUJU_NOTICE_TYPE")
        && t != "custom"
    {
        out.push((
            Rule::Env,
            format!("JUJU_NOTICE_TYPE {t:?} is not \"custom\""),
        ));
    }
}

fn env_secret(ev: &Event, out: &mut Vec<(Rule, String)>) {
    if let Some(id) = ev.env("JUJU_SECRET_ID")
        && !id.starts_with("secret:")
    {
        out.push((
            Rule::Env,
            format!("JUJU_SECRET_ID {id:?} is not a secret URI"),
        ));
    }
    if let Some(r) = ev.env("JUJU_SECRET_REVISION")
        && r.parse::<u32>().is_err()
    {
        out.push((
            Rule::Env,
            format!("JUJU_SECRET_REVISION {r:?} is not a number"),
        ));
    }
}

fn env_action(ev: &Event, out: &mut Vec<(Rule, String)>) {
    if let (Some(id), Some(tag)) = (ev.env("JUJU_ACTION_UUID"), ev.env("JUJU_ACTION_TAG"))
        && tag != format!("action-{id}")
    {
        out.push((
            Rule::Env,
            format!("JUJU_ACTION_TAG {tag:?} is not action-{id}"),
        ));
    }
}
