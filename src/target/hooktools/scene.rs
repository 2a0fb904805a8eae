//! The hook context as an `ops.testing` State: what a reproducer gives the charm.
//!
//! A reproducer must show the charm what the hook tools showed it: the relations
//! `relation-ids` lists, the members `relation-list` gives, each databag as `relation-get`
//! reads it (Juju's address keys included), config as `config-get` answers, the storage
//! `storage-list` names, the secrets the unit owns or tracks. The context opened for the
//! failing hook already holds exactly that, so the State is read from it.

use super::HookContext;
use super::ports::Protocol;
use crate::engine::action::SecretOwner;
use crate::engine::world::split_storage_id;
use crate::engine::{Event, HookKind};
use crate::repro::{EventScene, RelationScene, Scene, SecretScene};

/// The number of a unit name (`demo/3` → 3).
fn unit_number(unit: &str) -> Option<u32> {
    unit.rsplit_once('/')?.1.parse().ok()
}

impl HookContext {
    /// Fill `scene` with the unit's model as this hook sees it, and the hook as an
    /// `ops.testing` event (containers and the unit state come from elsewhere).
    pub fn scene(&self, event: &Event, scene: &mut Scene) {
        scene.app = self.app.clone();
        scene.unit_id = unit_number(&self.unit).unwrap_or(0);
        scene.kubernetes = self.kubernetes;
        scene.leader = self.leader;
        scene.config = self.config.clone();
        for (id, r) in &self.relations {
            let units = |names: &[String]| {
                names
                    .iter()
                    .filter_map(|u| {
                        let n = unit_number(u)?;
                        let data = r.unit_data.get(u).cloned().unwrap_or_default();
                        Some((n, data))
                    })
                    .collect()
            };
            if r.suspended {
                scene.gaps.push(format!(
                    "relation {}:{id} is suspended (a cross-model relation); ops.testing has no \
                     suspended relations, so it is given as a live one",
                    r.endpoint
                ));
            }
            scene.relations.push(RelationScene {
                id: *id,
                endpoint: r.endpoint.clone(),
                peer: r.peer,
                remote_app: r.remote_app.clone(),
                remote_app_data: r.remote_app_data.clone(),
                remote_units_data: units(&r.members),
                local_app_data: r.local_app.clone(),
                local_unit_data: r.local_unit.clone(),
            });
        }
        scene.storages = self
            .storage
            .iter()
            .map(|s| (s.name.clone(), s.index))
            .collect();
        for s in self.owned_before.values() {
            let content = s.latest_content();
            scene.secrets.push(SecretScene {
                id: s.id.clone(),
                owner: Some(
                    match s.owner {
                        SecretOwner::Unit => "unit",
                        SecretOwner::App => "app",
                    }
                    .into(),
                ),
                label: s.label.clone(),
                tracked_content: content.clone(),
                latest_content: content,
            });
        }
        for (xid, c) in &self.consumers {
            let seen = self.consumed.get(xid);
            let tracked = seen
                .and_then(|s| s.tracked)
                .unwrap_or(c.world_tracked.max(1));
            let tracked_content = seen
                .and_then(|s| s.revisions.get(&tracked).cloned())
                .unwrap_or_else(|| c.latest_content.clone());
            scene.secrets.push(SecretScene {
                id: c.world_id.clone(),
                owner: None,
                label: seen
                    .and_then(|s| s.label.clone())
                    .or_else(|| c.world_label.clone()),
                tracked_content,
                latest_content: c.latest_content.clone(),
            });
        }
        scene.unit_status = (
            self.unit_status.status.clone(),
            self.unit_status.message.clone(),
        );
        scene.app_status = (
            self.app_status.status.clone(),
            self.app_status.message.clone(),
        );
        scene.opened_ports = self
            .ports_committed
            .iter()
            .map(|p| match p.range.protocol {
                Protocol::Icmp => ("icmp".to_string(), None),
                Protocol::Tcp => ("tcp".to_string(), u16::try_from(p.range.from).ok()),
                Protocol::Udp => ("udp".to_string(), u16::try_from(p.range.from).ok()),
            })
            .collect();
        if self
            .ports_committed
            .iter()
            .any(|p| p.range.from != p.range.to)
        {
            scene
                .gaps
                .push("opened port ranges are given by their first port".into());
        }
        if !self.leader_settings.is_empty() {
            scene.gaps.push(format!(
                "legacy leader settings (leader-get): {} keys",
                self.leader_settings.len()
            ));
        }
        if !self.state.is_empty() {
            scene.gaps.push(format!(
                "charm state kept in Juju (state-get, use_juju_for_storage): {} keys",
                self.state.len()
            ));
        }
        scene.hook = event.hook.clone();
        scene.event = event_scene(event, self.kind);
    }
}

/// The hook as an `ops.testing` event, from the environment Juju gives it.
pub fn event_scene(event: &Event, kind: HookKind) -> EventScene {
    let env = |k: &str| event.env(k).filter(|v| !v.is_empty()).map(String::from);
    let simple = |m: &str| EventScene::Simple(m.into());
    let remote = env("JUJU_REMOTE_UNIT");
    let remote_app = env("JUJU_REMOTE_APP").unwrap_or_default();
    let relation = |method: &str| EventScene::Relation {
        method: method.into(),
        relation_id: event.relation_id().unwrap_or(0),
        remote_unit: remote.as_deref().and_then(unit_number),
        // ops.testing names the departing unit by its number in the remote application.
        departing_unit: env("JUJU_DEPARTING_UNIT")
            .filter(|u| u.starts_with(&format!("{remote_app}/")))
            .as_deref()
            .and_then(unit_number),
    };
    let storage = |method: &str| {
        let id = env("JUJU_STORAGE_ID").unwrap_or_default();
        let (name, index) = split_storage_id(&id)
            .map(|(n, i)| (n.to_string(), i))
            .unwrap_or((id.clone(), 0));
        EventScene::Storage {
            method: method.into(),
            name,
            index,
        }
    };
    let workload = |method: &str| EventScene::Workload {
        method: method.into(),
        container: env("JUJU_WORKLOAD_NAME").unwrap_or_default(),
        check: env("JUJU_PEBBLE_CHECK_NAME"),
        notice_id: env("JUJU_NOTICE_ID"),
    };
    let secret = |method: &str| EventScene::Secret {
        method: method.into(),
        id: env("JUJU_SECRET_ID").unwrap_or_default(),
        revision: env("JUJU_SECRET_REVISION").and_then(|r| r.parse().ok()),
    };
    match kind {
        HookKind::Install => simple("install"),
        HookKind::Start => simple("start"),
        HookKind::ConfigChanged => simple("config_changed"),
        HookKind::UpdateStatus => simple("update_status"),
        HookKind::UpgradeCharm => simple("upgrade_charm"),
        HookKind::Stop => simple("stop"),
        HookKind::Remove => simple("remove"),
        HookKind::LeaderElected => simple("leader_elected"),
        // ops.testing has no leader-settings-changed (a legacy hook).
        HookKind::LeaderSettingsChanged => EventScene::Unsupported,
        HookKind::PreSeriesUpgrade => simple("pre_series_upgrade"),
        HookKind::PostSeriesUpgrade => simple("post_series_upgrade"),
        HookKind::CollectMetrics => simple("collect_metrics"),
        HookKind::RelationCreated => relation("relation_created"),
        HookKind::RelationJoined => relation("relation_joined"),
        HookKind::RelationChanged => relation("relation_changed"),
        HookKind::RelationDeparted => relation("relation_departed"),
        HookKind::RelationBroken => relation("relation_broken"),
        HookKind::StorageAttached => storage("storage_attached"),
        HookKind::StorageDetaching => storage("storage_detaching"),
        HookKind::PebbleReady => workload("pebble_ready"),
        HookKind::PebbleCustomNotice => workload("pebble_custom_notice"),
        HookKind::PebbleCheckFailed => workload("pebble_check_failed"),
        HookKind::PebbleCheckRecovered => workload("pebble_check_recovered"),
        HookKind::SecretChanged => secret("secret_changed"),
        HookKind::SecretRotate => secret("secret_rotate"),
        HookKind::SecretExpired => secret("secret_expired"),
        HookKind::SecretRemove => secret("secret_remove"),
        HookKind::Action => EventScene::Action {
            name: env("JUJU_ACTION_NAME").unwrap_or_default(),
            params: event.params.clone().unwrap_or_default(),
        },
    }
}
