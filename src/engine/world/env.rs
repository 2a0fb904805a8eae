//! Events and their environment (juju-model.md §L1).
//!
//! Juju runs a hook by executing the charm's `dispatch` with the hook's name and a set of
//! `JUJU_*` environment variables: who the unit is, which model, and what the hook is about
//! (the relation and remote unit, the storage instance, the container, the secret, the
//! action). Here a [`Hook`] becomes the [`Event`] Juju would dispatch for it now.

use super::{
    Hook, MODEL_NAME, MODEL_UUID, WorkloadEvent, World, hook_relation, series_for_base,
    split_storage_id,
};
use crate::engine::event::{Event, HookKind, HookResult};
use std::collections::BTreeMap;

impl World {
    pub(super) fn context_id(&self, hook: &str) -> String {
        format!(
            "{}-{}-{}",
            self.unit,
            if hook.is_empty() { "action" } else { hook },
            self.events_delivered
        )
    }

    fn unit_dir(&self) -> String {
        format!("/var/lib/juju/agents/unit-{}", self.unit.replace('/', "-"))
    }

    /// The environment common to every hook (J-CTX `HookVars`, juju-model.md §L1.1).
    fn base_env(&self, hook_name: &str, dispatch_path: String) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: String| {
            env.insert(k.to_string(), v);
        };
        set("JUJU_UNIT_NAME", self.unit.clone());
        set("JUJU_MODEL_NAME", MODEL_NAME.into());
        set("JUJU_MODEL_UUID", MODEL_UUID.into());
        set("JUJU_VERSION", self.opts.juju_version.to_string());
        set("JUJU_HOOK_NAME", hook_name.into());
        set("JUJU_DISPATCH_PATH", dispatch_path);
        set("JUJU_CHARM_DIR", format!("{}/charm", self.unit_dir()));
        set("JUJU_CONTEXT_ID", self.context_id(hook_name));
        set(
            "JUJU_AGENT_SOCKET_ADDRESS",
            format!("@{}/agent.socket", self.unit_dir()),
        );
        set("JUJU_AGENT_SOCKET_NETWORK", "unix".into());
        set("JUJU_API_ADDRESSES", "127.0.0.1:17070".into());
        set("JUJU_SLA", "unsupported".into());
        set(
            "JUJU_MACHINE_ID",
            if self.is_kubernetes() {
                String::new()
            } else {
                "0".into()
            },
        );
        let principal = if self.spec.subordinate {
            self.relations
                .iter()
                .find(|r| r.container_scoped)
                .and_then(|r| r.remote_units.keys().next().cloned())
                .unwrap_or_default()
        } else {
            String::new()
        };
        set("JUJU_PRINCIPAL_UNIT", principal);
        set("JUJU_AVAILABILITY_ZONE", String::new());
        for p in [
            "JUJU_CHARM_HTTP_PROXY",
            "JUJU_CHARM_HTTPS_PROXY",
            "JUJU_CHARM_FTP_PROXY",
            "JUJU_CHARM_NO_PROXY",
        ] {
            set(p, String::new());
        }
        env
    }

    /// Build the event Juju would dispatch for `hook` now.
    pub fn event_for(&self, hook: &Hook) -> Event {
        let (kind, prefix) = self.hook_kind(hook);
        let name = match (kind, &prefix) {
            (HookKind::Action, Some(a)) => format!("{a}-action"),
            _ => kind.hook_name(prefix.as_deref()),
        };
        let (hook_name, dispatch) = match (kind, &prefix) {
            (HookKind::Action, Some(a)) => (String::new(), format!("actions/{a}")),
            _ => (name.clone(), format!("hooks/{name}")),
        };
        let mut env = self.base_env(&hook_name, dispatch);
        let mut params = None;
        let mut put = |k: &str, v: String| {
            env.insert(k.to_string(), v);
        };
        match hook {
            Hook::RelationCreated { rel }
            | Hook::RelationJoined { rel, .. }
            | Hook::RelationChanged { rel, .. }
            | Hook::RelationDeparted { rel, .. }
            | Hook::RelationBroken { rel } => {
                if let Some(r) = self.relation(*rel) {
                    put("JUJU_RELATION", r.endpoint.clone());
                    put("JUJU_RELATION_ID", r.juju_id());
                    put("JUJU_REMOTE_APP", r.remote_app.clone());
                    let remote_unit = match hook {
                        Hook::RelationJoined { unit, .. } | Hook::RelationDeparted { unit, .. } => {
                            unit.clone()
                        }
                        Hook::RelationChanged { unit: Some(u), .. } => u.clone(),
                        _ => String::new(),
                    };
                    put("JUJU_REMOTE_UNIT", remote_unit.clone());
                    if let Hook::RelationDeparted { .. } = hook {
                        // This unit departs when it (or its application) is going away.
                        let departing = if self.is_dying() {
                            self.unit.clone()
                        } else {
                            remote_unit
                        };
                        put("JUJU_DEPARTING_UNIT", departing);
                    }
                }
            }
            Hook::StorageAttached { id } | Hook::StorageDetaching { id } => {
                put("JUJU_STORAGE_ID", id.clone());
                if let Some((name, index)) = split_storage_id(id) {
                    let sp = self.spec.storage(name);
                    let location = match sp.and_then(|s| s.location.clone()) {
                        Some(loc) if sp.is_some_and(|s| s.multiple.max == Some(1)) => loc,
                        Some(loc) => format!("{}/{index}", loc.trim_end_matches('/')),
                        None => format!("/var/lib/juju/storage/{name}/{index}"),
                    };
                    put("JUJU_STORAGE_LOCATION", location);
                    put(
                        "JUJU_STORAGE_KIND",
                        sp.map(|s| s.kind.as_str())
                            .unwrap_or("filesystem")
                            .to_string(),
                    );
                }
            }
            Hook::Workload(w) => match w {
                WorkloadEvent::Ready { container } => put("JUJU_WORKLOAD_NAME", container.clone()),
                WorkloadEvent::Notice { container, key, id } => {
                    put("JUJU_WORKLOAD_NAME", container.clone());
                    put("JUJU_NOTICE_ID", id.to_string());
                    put("JUJU_NOTICE_TYPE", "custom".into());
                    put("JUJU_NOTICE_KEY", key.clone());
                }
                WorkloadEvent::CheckFailed { container, check }
                | WorkloadEvent::CheckRecovered { container, check } => {
                    put("JUJU_WORKLOAD_NAME", container.clone());
                    put("JUJU_PEBBLE_CHECK_NAME", check.clone());
                }
            },
            Hook::SecretChanged { id } | Hook::SecretRotate { id } => {
                put("JUJU_SECRET_ID", id.clone());
                put(
                    "JUJU_SECRET_LABEL",
                    self.secret(id)
                        .and_then(|s| s.label.clone())
                        .unwrap_or_default(),
                );
            }
            Hook::SecretExpired { id, revision } | Hook::SecretRemove { id, revision } => {
                put("JUJU_SECRET_ID", id.clone());
                put(
                    "JUJU_SECRET_LABEL",
                    self.secret(id)
                        .and_then(|s| s.label.clone())
                        .unwrap_or_default(),
                );
                put("JUJU_SECRET_REVISION", revision.to_string());
            }
            Hook::Action(a) => {
                put("JUJU_ACTION_NAME", a.name.clone());
                put("JUJU_ACTION_UUID", a.id.to_string());
                put("JUJU_ACTION_TAG", format!("action-{}", a.id));
                params = Some(a.params.clone());
            }
            Hook::PreSeriesUpgrade { target_base } => {
                put("JUJU_TARGET_BASE", target_base.clone());
                put(
                    "JUJU_TARGET_SERIES",
                    series_for_base(target_base).unwrap_or("").to_string(),
                );
            }
            _ => {}
        }
        Event {
            hook: name,
            kind,
            env,
            params,
            result: HookResult::Ok,
            effects: Vec::new(),
        }
    }

    /// The hook kind and its prefix: the relation's endpoint, the storage name, the
    /// container name or the action name.
    pub fn hook_kind(&self, hook: &Hook) -> (HookKind, Option<String>) {
        let none = |k| (k, None);
        let endpoint =
            || hook_relation(hook).and_then(|id| Some(self.relation(id)?.endpoint.clone()));
        match hook {
            Hook::Install => none(HookKind::Install),
            Hook::Start => none(HookKind::Start),
            Hook::ConfigChanged => none(HookKind::ConfigChanged),
            Hook::UpdateStatus => none(HookKind::UpdateStatus),
            Hook::UpgradeCharm => none(HookKind::UpgradeCharm),
            Hook::Stop => none(HookKind::Stop),
            Hook::Remove => none(HookKind::Remove),
            Hook::LeaderElected => none(HookKind::LeaderElected),
            Hook::LeaderSettingsChanged => none(HookKind::LeaderSettingsChanged),
            Hook::PreSeriesUpgrade { .. } => none(HookKind::PreSeriesUpgrade),
            Hook::PostSeriesUpgrade => none(HookKind::PostSeriesUpgrade),
            Hook::CollectMetrics => none(HookKind::CollectMetrics),
            Hook::RelationCreated { .. }
            | Hook::RelationJoined { .. }
            | Hook::RelationChanged { .. }
            | Hook::RelationDeparted { .. }
            | Hook::RelationBroken { .. } => (
                match hook {
                    Hook::RelationCreated { .. } => HookKind::RelationCreated,
                    Hook::RelationJoined { .. } => HookKind::RelationJoined,
                    Hook::RelationChanged { .. } => HookKind::RelationChanged,
                    Hook::RelationDeparted { .. } => HookKind::RelationDeparted,
                    _ => HookKind::RelationBroken,
                },
                endpoint(),
            ),
            Hook::StorageAttached { id } => (
                HookKind::StorageAttached,
                split_storage_id(id).map(|x| x.0.to_string()),
            ),
            Hook::StorageDetaching { id } => (
                HookKind::StorageDetaching,
                split_storage_id(id).map(|x| x.0.to_string()),
            ),
            Hook::Workload(w) => match w {
                WorkloadEvent::Ready { container } => {
                    (HookKind::PebbleReady, Some(container.clone()))
                }
                WorkloadEvent::Notice { container, .. } => {
                    (HookKind::PebbleCustomNotice, Some(container.clone()))
                }
                WorkloadEvent::CheckFailed { container, .. } => {
                    (HookKind::PebbleCheckFailed, Some(container.clone()))
                }
                WorkloadEvent::CheckRecovered { container, .. } => {
                    (HookKind::PebbleCheckRecovered, Some(container.clone()))
                }
            },
            Hook::SecretChanged { .. } => none(HookKind::SecretChanged),
            Hook::SecretRotate { .. } => none(HookKind::SecretRotate),
            Hook::SecretExpired { .. } => none(HookKind::SecretExpired),
            Hook::SecretRemove { .. } => none(HookKind::SecretRemove),
            Hook::Action(a) => (HookKind::Action, Some(a.name.clone())),
        }
    }
}
