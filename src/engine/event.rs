//! Hook events: what the unit agent dispatches to the charm.
//!
//! Juju runs the charm's `dispatch` once per hook with `JUJU_DISPATCH_PATH` naming the hook
//! (`hooks/db-relation-changed`) or the action (`actions/backup`), and a set of `JUJU_*`
//! environment variables that say which relation, remote unit, storage instance, container,
//! secret or action the hook is about (juju-model.md §L1). An [`Event`] is exactly that: the hook name
//! and the environment, so a target can dispatch it without knowing anything else.

use super::action::Effect;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The kind of a hook, without the endpoint/storage/container prefix (juju-model.md §L1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookKind {
    Install,
    Start,
    ConfigChanged,
    UpdateStatus,
    UpgradeCharm,
    Stop,
    Remove,
    LeaderElected,
    LeaderSettingsChanged,
    PreSeriesUpgrade,
    PostSeriesUpgrade,
    CollectMetrics,
    RelationCreated,
    RelationJoined,
    RelationChanged,
    RelationDeparted,
    RelationBroken,
    StorageAttached,
    StorageDetaching,
    PebbleReady,
    PebbleCustomNotice,
    PebbleCheckFailed,
    PebbleCheckRecovered,
    SecretChanged,
    SecretRotate,
    SecretExpired,
    SecretRemove,
    /// A user action (`juju run`), dispatched as `actions/<name>`.
    Action,
}

impl HookKind {
    pub const ALL: [HookKind; 28] = [
        HookKind::Install,
        HookKind::Start,
        HookKind::ConfigChanged,
        HookKind::UpdateStatus,
        HookKind::UpgradeCharm,
        HookKind::Stop,
        HookKind::Remove,
        HookKind::LeaderElected,
        HookKind::LeaderSettingsChanged,
        HookKind::PreSeriesUpgrade,
        HookKind::PostSeriesUpgrade,
        HookKind::CollectMetrics,
        HookKind::RelationCreated,
        HookKind::RelationJoined,
        HookKind::RelationChanged,
        HookKind::RelationDeparted,
        HookKind::RelationBroken,
        HookKind::StorageAttached,
        HookKind::StorageDetaching,
        HookKind::PebbleReady,
        HookKind::PebbleCustomNotice,
        HookKind::PebbleCheckFailed,
        HookKind::PebbleCheckRecovered,
        HookKind::SecretChanged,
        HookKind::SecretRotate,
        HookKind::SecretExpired,
        HookKind::SecretRemove,
        HookKind::Action,
    ];

    /// The suffix as it appears in hook names (`relation-changed`, `storage-attached`), or the
    /// whole name for unprefixed hooks (`install`).
    pub fn as_str(self) -> &'static str {
        match self {
            HookKind::Install => "install",
            HookKind::Start => "start",
            HookKind::ConfigChanged => "config-changed",
            HookKind::UpdateStatus => "update-status",
            HookKind::UpgradeCharm => "upgrade-charm",
            HookKind::Stop => "stop",
            HookKind::Remove => "remove",
            HookKind::LeaderElected => "leader-elected",
            HookKind::LeaderSettingsChanged => "leader-settings-changed",
            HookKind::PreSeriesUpgrade => "pre-series-upgrade",
            HookKind::PostSeriesUpgrade => "post-series-upgrade",
            HookKind::CollectMetrics => "collect-metrics",
            HookKind::RelationCreated => "relation-created",
            HookKind::RelationJoined => "relation-joined",
            HookKind::RelationChanged => "relation-changed",
            HookKind::RelationDeparted => "relation-departed",
            HookKind::RelationBroken => "relation-broken",
            HookKind::StorageAttached => "storage-attached",
            HookKind::StorageDetaching => "storage-detaching",
            HookKind::PebbleReady => "pebble-ready",
            HookKind::PebbleCustomNotice => "pebble-custom-notice",
            HookKind::PebbleCheckFailed => "pebble-check-failed",
            HookKind::PebbleCheckRecovered => "pebble-check-recovered",
            HookKind::SecretChanged => "secret-changed",
            HookKind::SecretRotate => "secret-rotate",
            HookKind::SecretExpired => "secret-expired",
            HookKind::SecretRemove => "secret-remove",
            HookKind::Action => "action",
        }
    }

    /// Relation hooks are named `<endpoint>-<kind>`.
    pub fn is_relation(self) -> bool {
        matches!(
            self,
            HookKind::RelationCreated
                | HookKind::RelationJoined
                | HookKind::RelationChanged
                | HookKind::RelationDeparted
                | HookKind::RelationBroken
        )
    }
    /// Storage hooks are named `<storage>-<kind>`.
    pub fn is_storage(self) -> bool {
        matches!(self, HookKind::StorageAttached | HookKind::StorageDetaching)
    }
    /// Workload (Pebble) hooks are named `<container>-<kind>`.
    pub fn is_workload(self) -> bool {
        matches!(
            self,
            HookKind::PebbleReady
                | HookKind::PebbleCustomNotice
                | HookKind::PebbleCheckFailed
                | HookKind::PebbleCheckRecovered
        )
    }
    pub fn is_secret(self) -> bool {
        matches!(
            self,
            HookKind::SecretChanged
                | HookKind::SecretRotate
                | HookKind::SecretExpired
                | HookKind::SecretRemove
        )
    }
    pub fn is_leadership(self) -> bool {
        matches!(
            self,
            HookKind::LeaderElected | HookKind::LeaderSettingsChanged
        )
    }
    /// Whether `ops` lets a handler `event.defer()` this kind (juju-model.md §L1.3, §L4.2).
    pub fn is_deferrable(self) -> bool {
        !matches!(
            self,
            HookKind::Stop
                | HookKind::Remove
                | HookKind::SecretRotate
                | HookKind::SecretExpired
                | HookKind::Action
        )
    }

    /// The full Juju hook name for this kind with the given prefix (endpoint, storage name,
    /// container name, or action name for [`HookKind::Action`]).
    pub fn hook_name(self, prefix: Option<&str>) -> String {
        match (self, prefix) {
            (HookKind::Action, Some(name)) => format!("{name}-action"),
            (k, Some(p)) if k.is_relation() || k.is_storage() || k.is_workload() => {
                format!("{p}-{}", k.as_str())
            }
            (k, _) => k.as_str().to_string(),
        }
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened when the event ran, as far as the engine needs to know: a failed hook is
/// re-delivered by Juju (juju-model.md §L2.14), so the next hook depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum HookResult {
    /// The hook exited 0 and its effects were committed.
    #[default]
    Ok,
    /// The hook exited non-zero (or was killed); Juju puts the unit in error and will run
    /// the same hook again.
    Error,
}

impl HookResult {
    pub fn is_ok(&self) -> bool {
        *self == HookResult::Ok
    }
}

/// One hook (or action) dispatched to the unit.
///
/// JSON form (see `docs/trace-format.md`):
/// `{"hook": "db-relation-changed", "kind": "relation-changed", "env": {"JUJU_...": "..."}}`,
/// plus `"params"` for actions and `"result": "error"` for a hook that failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The Juju hook name (`install`, `db-relation-changed`, `data-storage-attached`,
    /// `workload-pebble-ready`); for an action `<name>-action`, as ops names the event.
    pub hook: String,
    pub kind: HookKind,
    /// Every `JUJU_*` variable Juju would dispatch this hook with. Variables that depend on
    /// where the unit runs (`JUJU_CHARM_DIR`, `JUJU_AGENT_SOCKET_ADDRESS`) carry the values a
    /// real agent would use; a target replaces them with its own.
    pub env: BTreeMap<String, String>,
    /// For actions: the parameters as `action-get` returns them (schema defaults included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Map<String, serde_json::Value>>,
    /// How the hook ended; omitted when it succeeded.
    #[serde(default, skip_serializing_if = "HookResult::is_ok")]
    pub result: HookResult,
    /// What the charm did in this event that the engine must know about (a secret it
    /// created, storage it requested), as reported by the target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effects: Vec<Effect>,
}

impl Event {
    pub fn env(&self, key: &str) -> Option<&str> {
        self.env.get(key).map(String::as_str)
    }
    /// The relation id from `JUJU_RELATION_ID` (`endpoint:id`).
    pub fn relation_id(&self) -> Option<u32> {
        self.env("JUJU_RELATION_ID")?
            .rsplit(':')
            .next()?
            .parse()
            .ok()
    }
    /// The endpoint, storage name, container name or action name this event is about.
    pub fn prefix(&self) -> Option<&str> {
        match self.kind {
            k if k.is_relation() => self.env("JUJU_RELATION"),
            k if k.is_storage() => self.env("JUJU_STORAGE_ID")?.split('/').next(),
            k if k.is_workload() => self.env("JUJU_WORKLOAD_NAME"),
            HookKind::Action => self.env("JUJU_ACTION_NAME"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_names() {
        assert_eq!(
            HookKind::RelationChanged.hook_name(Some("db")),
            "db-relation-changed"
        );
        assert_eq!(
            HookKind::StorageAttached.hook_name(Some("data")),
            "data-storage-attached"
        );
        assert_eq!(
            HookKind::PebbleReady.hook_name(Some("web")),
            "web-pebble-ready"
        );
        assert_eq!(HookKind::Action.hook_name(Some("backup")), "backup-action");
        assert_eq!(HookKind::Install.hook_name(None), "install");
        assert_eq!(HookKind::SecretRotate.hook_name(None), "secret-rotate");
    }
}
