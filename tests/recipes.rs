//! Every row of juju-model.md §L7 ("abstract action → emitted hooks"), driven through the World.
//!
//! Each test applies actions and drains the hooks Juju would deliver (taking the first
//! candidate where Juju's order is open), then compares hook names.

mod common;
use charmfuzz::engine::world::{Hook, World};
use charmfuzz::engine::*;
use serde_json::json;
use std::collections::BTreeMap;

fn drain(w: &mut World) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..200 {
        let Some(h) = w.candidates().into_iter().next() else {
            break;
        };
        let e = w.deliver(&h).unwrap();
        out.push(e.hook.clone());
        w.complete(HookResult::Ok, &[]).unwrap();
    }
    out
}

fn apply(w: &mut World, a: Action) -> Vec<String> {
    w.apply(&a).unwrap_or_else(|e| panic!("{a:?}: {e}"));
    drain(w)
}

fn rel(id: u32, endpoint: &str, app: &str, units: &[&str]) -> RelationInit {
    RelationInit {
        id,
        endpoint: endpoint.into(),
        remote_app: app.into(),
        remote_units: units.iter().map(|s| s.to_string()).collect(),
    }
}

/// The Kubernetes deploy most tests start from: the peer relation, storage `data/0`, and
/// `extra` relations.
fn k8s_deploy_action(leader: bool, extra: Vec<RelationInit>) -> Action {
    let mut relations = vec![rel(0, "replicas", "demo", &[])];
    relations.extend(extra);
    Action::Deploy {
        unit: "demo/0".into(),
        leader,
        peers: vec![],
        relations,
        storage: vec!["data/0".into()],
    }
}

fn k8s_deploy(leader: bool) -> (World, Vec<String>) {
    let mut w = World::new(common::k8s_rich(), common::opts());
    let hooks = apply(&mut w, k8s_deploy_action(leader, vec![]));
    (w, hooks)
}

fn machine_deploy() -> (World, Vec<String>) {
    let mut w = World::new(common::machine(), common::opts());
    let hooks = apply(
        &mut w,
        Action::Deploy {
            unit: "mach/0".into(),
            leader: true,
            peers: vec![],
            relations: vec![rel(0, "cluster", "mach", &[])],
            storage: vec!["cache/0".into(), "cache/1".into()],
        },
    );
    (w, hooks)
}

#[test]
fn deploy_machine() {
    let (_, hooks) = machine_deploy();
    assert_eq!(
        hooks,
        [
            "cache-storage-attached",
            "cache-storage-attached",
            "install",
            "cluster-relation-created",
            "leader-elected",
            "config-changed",
            "start"
        ]
    );
}

#[test]
fn deploy_k8s_leader_and_non_leader() {
    let (_, hooks) = k8s_deploy(true);
    assert_eq!(
        hooks,
        [
            "install",
            "replicas-relation-created",
            "leader-elected",
            "data-storage-attached",
            "config-changed",
            "start"
        ]
    );
    let (_, hooks) = k8s_deploy(false);
    assert_eq!(hooks[2], "leader-settings-changed");
}

#[test]
fn deploy_k8s_pebble_ready_before_and_after_start() {
    // Pebble up while setup is still running: pebble-ready before config-changed (§L2.1, §L8.2).
    let mut w = World::new(common::k8s_rich(), common::opts());
    w.apply(&k8s_deploy_action(true, vec![])).unwrap();
    w.apply(&Action::WorkloadStarted {
        container: "web".into(),
    })
    .unwrap();
    let hooks = drain(&mut w);
    assert_eq!(
        hooks,
        [
            "install",
            "replicas-relation-created",
            "leader-elected",
            "web-pebble-ready",
            "data-storage-attached",
            "config-changed",
            "start"
        ]
    );
    // Later, after start.
    assert_eq!(
        apply(
            &mut w,
            Action::WorkloadStarted {
                container: "sidecar".into()
            }
        ),
        ["sidecar-pebble-ready"]
    );
}

#[test]
fn k8s_storage_after_start_switch() {
    let mut opts = common::opts();
    opts.k8s_storage_after_start = true;
    let mut w = World::new(common::k8s_rich(), opts);
    let hooks = apply(&mut w, k8s_deploy_action(true, vec![]));
    assert_eq!(
        &hooks[3..],
        ["config-changed", "start", "data-storage-attached"]
    );
}

#[test]
fn config_coalesces_and_reverts() {
    let (mut w, _) = k8s_deploy(true);
    w.apply(&Action::Config {
        changes: BTreeMap::from([("port".into(), json!(1))]),
    })
    .unwrap();
    w.apply(&Action::Config {
        changes: BTreeMap::from([("port".into(), json!(2))]),
    })
    .unwrap();
    assert_eq!(drain(&mut w), ["config-changed"]);
    // Change then revert before the agent looks: no hook (hash unchanged).
    w.apply(&Action::Config {
        changes: BTreeMap::from([("port".into(), json!(3))]),
    })
    .unwrap();
    w.apply(&Action::Config {
        changes: BTreeMap::from([("port".into(), json!(2))]),
    })
    .unwrap();
    assert!(drain(&mut w).is_empty());
    assert_eq!(
        apply(&mut w, Action::Trust { trusted: true }),
        ["config-changed"]
    );
    assert_eq!(apply(&mut w, Action::AddressChange), ["config-changed"]);
}

#[test]
fn relation_lifecycle() {
    let (mut w, _) = k8s_deploy(true);
    assert_eq!(
        apply(
            &mut w,
            Action::Integrate {
                relation: rel(1, "db", "db-app", &["db-app/0"])
            }
        ),
        [
            "db-relation-created",
            "db-relation-joined",
            "db-relation-changed"
        ]
    );
    assert_eq!(
        apply(
            &mut w,
            Action::RemoteUnitAdded {
                relation_id: 1,
                unit: "db-app/1".into()
            }
        ),
        ["db-relation-joined", "db-relation-changed"]
    );
    let data = BTreeMap::from([("host".to_string(), "x".to_string())]);
    assert_eq!(
        apply(
            &mut w,
            Action::RemoteUnitData {
                relation_id: 1,
                unit: "db-app/1".into(),
                data: data.clone()
            }
        ),
        ["db-relation-changed"]
    );
    let e = w.event_for(&Hook::RelationChanged { rel: 1, unit: None });
    assert_eq!(e.env["JUJU_REMOTE_UNIT"], "");
    assert_eq!(
        apply(
            &mut w,
            Action::RemoteAppData {
                relation_id: 1,
                data
            }
        ),
        ["db-relation-changed"]
    );
    assert_eq!(
        apply(
            &mut w,
            Action::RemoteUnitRemoved {
                relation_id: 1,
                unit: "db-app/0".into()
            }
        ),
        ["db-relation-departed"]
    );
    assert_eq!(
        apply(&mut w, Action::RemoveRelation { relation_id: 1 }),
        ["db-relation-departed", "db-relation-broken"]
    );
    assert!(w.relation(1).is_none());
}

#[test]
fn departing_unit_env() {
    let (mut w, _) = k8s_deploy(true);
    apply(
        &mut w,
        Action::Integrate {
            relation: rel(1, "db", "db-app", &["db-app/0"]),
        },
    );
    w.apply(&Action::RemoteUnitRemoved {
        relation_id: 1,
        unit: "db-app/0".into(),
    })
    .unwrap();
    let h = w.candidates().remove(0);
    let e = w.deliver(&h).unwrap();
    assert_eq!(e.env["JUJU_DEPARTING_UNIT"], "db-app/0");
    assert_eq!(e.env["JUJU_REMOTE_UNIT"], "db-app/0");
    assert_eq!(e.env["JUJU_RELATION_ID"], "db:1");
}

#[test]
fn peers_scale_up_down_and_peer_app_data() {
    let (mut w, _) = k8s_deploy(false);
    assert_eq!(
        apply(
            &mut w,
            Action::ScaleUp {
                unit: "demo/1".into()
            }
        ),
        ["replicas-relation-joined", "replicas-relation-changed"]
    );
    let data = BTreeMap::from([("leader-url".to_string(), "x".to_string())]);
    assert_eq!(
        apply(
            &mut w,
            Action::RemoteAppData {
                relation_id: 0,
                data
            }
        ),
        ["replicas-relation-changed"]
    );
    assert_eq!(
        apply(
            &mut w,
            Action::ScaleDown {
                unit: "demo/1".into()
            }
        ),
        ["replicas-relation-departed"]
    );
}

#[test]
fn leadership() {
    let (mut w, _) = k8s_deploy(false);
    assert_eq!(apply(&mut w, Action::LeadershipGained), ["leader-elected"]);
    // Losing it runs no hook (code reading, §L2.4).
    assert!(apply(&mut w, Action::LeadershipLost).is_empty());
    assert_eq!(
        apply(&mut w, Action::LeaderSet),
        ["leader-settings-changed"]
    );
    // Gained and lost again before the agent looked: leader-elected is skipped.
    w.apply(&Action::LeadershipGained).unwrap();
    w.apply(&Action::LeadershipLost).unwrap();
    assert!(drain(&mut w).is_empty());
    // §L8.5 switch: the ex-leader gets leader-settings-changed.
    let mut opts = common::opts();
    opts.lsc_on_leadership_loss = true;
    let mut w2 = World::new(common::k8s_rich(), opts);
    apply(&mut w2, k8s_deploy_action(true, vec![]));
    assert_eq!(
        apply(&mut w2, Action::LeadershipLost),
        ["leader-settings-changed"]
    );
}

#[test]
fn storage_add_detach() {
    let (mut w, _) = k8s_deploy(true);
    assert_eq!(
        apply(
            &mut w,
            Action::StorageAdded {
                storage: "data/1".into()
            }
        ),
        ["data-storage-attached"]
    );
    let e = w.event_for(&Hook::StorageAttached {
        id: "data/1".into(),
    });
    assert_eq!(e.env["JUJU_STORAGE_ID"], "data/1");
    assert_eq!(e.env["JUJU_STORAGE_KIND"], "filesystem");
    assert_eq!(
        apply(
            &mut w,
            Action::StorageDetached {
                storage: "data/1".into()
            }
        ),
        ["data-storage-detaching"]
    );
}

#[test]
fn workload_notices_and_checks() {
    let (mut w, _) = k8s_deploy(true);
    assert_eq!(
        apply(
            &mut w,
            Action::WorkloadStarted {
                container: "web".into()
            }
        ),
        ["web-pebble-ready"]
    );
    w.apply(&Action::CustomNotice {
        container: "web".into(),
        key: "a.com/x".into(),
        notice_id: 1,
    })
    .unwrap();
    let e = w.event_for(&w.candidates()[0]);
    assert_eq!(e.hook, "web-pebble-custom-notice");
    assert_eq!(e.env["JUJU_NOTICE_KEY"], "a.com/x");
    assert_eq!(e.env["JUJU_NOTICE_TYPE"], "custom");
    drain(&mut w);
    w.declare_checks("web", &["alive".into()]);
    assert_eq!(
        apply(
            &mut w,
            Action::CheckFailed {
                container: "web".into(),
                check: "alive".into()
            }
        ),
        ["web-pebble-check-failed"]
    );
    assert_eq!(
        apply(
            &mut w,
            Action::CheckRecovered {
                container: "web".into(),
                check: "alive".into()
            }
        ),
        ["web-pebble-check-recovered"]
    );
    // Not before Juju 3.4 / 3.6.
    let mut opts = common::opts();
    opts.juju_version = "3.3".parse().unwrap();
    let mut old = World::new(common::k8s_rich(), opts);
    old.apply(&k8s_deploy_action(true, vec![])).unwrap();
    old.apply(&Action::WorkloadStarted {
        container: "web".into(),
    })
    .unwrap();
    assert!(!old.enabled(ActionKind::CustomNotice));
}

#[test]
fn pod_recreated() {
    let (mut w, _) = k8s_deploy(false);
    apply(
        &mut w,
        Action::WorkloadStarted {
            container: "web".into(),
        },
    );
    assert_eq!(
        apply(&mut w, Action::PodRecreated),
        [
            "stop",
            "upgrade-charm",
            "config-changed",
            "start",
            "leader-settings-changed",
            "web-pebble-ready",
            "sidecar-pebble-ready"
        ]
    );
    // Refresh on Kubernetes is the same pod churn.
    assert_eq!(
        apply(&mut w, Action::Refresh)[..4],
        ["stop", "upgrade-charm", "config-changed", "start"]
    );
}

#[test]
fn charm_container_restart() {
    let (mut w, _) = k8s_deploy(true);
    assert_eq!(
        apply(&mut w, Action::CharmContainerRestarted),
        ["stop", "start", "web-pebble-ready", "sidecar-pebble-ready"]
    );
}

#[test]
fn machine_reboot_refresh_series_upgrade() {
    let (mut w, _) = machine_deploy();
    assert_eq!(apply(&mut w, Action::MachineRebooted), ["start"]);
    assert_eq!(
        apply(&mut w, Action::Refresh),
        ["upgrade-charm", "config-changed"]
    );
    assert_eq!(
        apply(
            &mut w,
            Action::SeriesUpgradePrepare {
                target_base: "ubuntu@24.04".into()
            }
        ),
        ["pre-series-upgrade"]
    );
    let e = w.event_for(&Hook::PreSeriesUpgrade {
        target_base: "ubuntu@24.04".into(),
    });
    assert_eq!(e.env["JUJU_TARGET_SERIES"], "noble");
    // Silence until complete, even with a config change queued.
    assert!(
        apply(
            &mut w,
            Action::Config {
                changes: BTreeMap::from([("port".into(), json!(81))])
            }
        )
        .is_empty()
    );
    assert_eq!(
        apply(&mut w, Action::SeriesUpgradeComplete),
        ["post-series-upgrade", "config-changed"]
    );
    assert_eq!(apply(&mut w, Action::UpdateStatusTimer), ["update-status"]);
    assert_eq!(
        apply(&mut w, Action::CollectMetricsTimer),
        ["collect-metrics"]
    );
}

#[test]
fn secrets_consumer_and_owner() {
    let (mut w, _) = k8s_deploy(true);
    let id = w.fresh_secret_id();
    let content = BTreeMap::from([("password".to_string(), "a".to_string())]);
    apply(
        &mut w,
        Action::SecretGranted {
            id: id.clone(),
            origin: SecretOrigin::User,
            content: content.clone(),
        },
    );
    assert_eq!(
        apply(
            &mut w,
            Action::SecretRevised {
                id: id.clone(),
                content
            }
        ),
        ["secret-changed"]
    );
    // The charm creates an app secret (an effect reported by the target).
    let own = "secret:charmcreated0000001".to_string();
    w.observe(&Effect::SecretCreated {
        id: own.clone(),
        owner: SecretOwner::App,
        label: Some("tls".into()),
    });
    assert_eq!(
        apply(&mut w, Action::SecretRotateDue { id: own.clone() }),
        ["secret-rotate"]
    );
    w.observe(&Effect::SecretRevised { id: own.clone() });
    assert_eq!(
        apply(
            &mut w,
            Action::SecretExpired {
                id: own.clone(),
                revision: 2
            }
        ),
        ["secret-expired"]
    );
    let e = w.event_for(&Hook::SecretExpired {
        id: own.clone(),
        revision: 2,
    });
    assert_eq!(e.env["JUJU_SECRET_REVISION"], "2");
    assert_eq!(e.env["JUJU_SECRET_LABEL"], "tls");
    assert_eq!(
        apply(
            &mut w,
            Action::SecretRevisionObsolete {
                id: own.clone(),
                revision: 1
            }
        ),
        ["secret-remove"]
    );
    // App-owned secret hooks go to the leader only.
    apply(&mut w, Action::LeadershipLost);
    assert!(w.apply(&Action::SecretRotateDue { id: own }).is_err());
}

#[test]
fn user_action_with_defaults() {
    let (mut w, _) = k8s_deploy(true);
    w.apply(&Action::RunAction {
        name: "backup".into(),
        id: 1,
        params: serde_json::Map::new(),
    })
    .unwrap();
    let h = w.candidates().remove(0);
    let e = w.deliver(&h).unwrap();
    assert_eq!(e.hook, "backup-action");
    assert_eq!(e.env["JUJU_DISPATCH_PATH"], "actions/backup");
    assert_eq!(e.env["JUJU_HOOK_NAME"], "");
    assert_eq!(e.env["JUJU_ACTION_TAG"], "action-1");
    assert_eq!(e.params.as_ref().unwrap()["target"], json!("/backups"));
    assert_eq!(e.params.as_ref().unwrap()["level"], json!(3));
}

#[test]
fn actions_queue_before_install_and_run_during_hook_error() {
    let mut w = World::new(common::k8s_rich(), common::opts());
    w.apply(&k8s_deploy_action(true, vec![])).unwrap();
    w.apply(&Action::RunAction {
        name: "rotate-password".into(),
        id: 1,
        params: Default::default(),
    })
    .unwrap();
    // install first: never an action before install (§L2.15.2).
    let h = w.candidates().remove(0);
    assert_eq!(w.deliver(&h).unwrap().hook, "install");
    // install fails: the next hook is install again, with only actions in between (§L2.14).
    w.complete(HookResult::Error, &[]).unwrap();
    w.apply(&Action::RunAction {
        name: "rotate-password".into(),
        id: 2,
        params: Default::default(),
    })
    .unwrap();
    let c = w.candidates();
    assert_eq!(c.len(), 2);
    assert_eq!(w.event_for(&c[0]).hook, "install");
    assert_eq!(w.event_for(&c[1]).hook, "rotate-password-action");
    let e = w.deliver(&c[1]).unwrap();
    assert_eq!(e.hook, "rotate-password-action");
    w.complete(HookResult::Ok, &[]).unwrap();
    let h = w.candidates().remove(0);
    assert_eq!(w.deliver(&h).unwrap().hook, "install");
    w.complete(HookResult::Ok, &[]).unwrap();
    // Resolved --no-retry skips a failed hook as if it ran.
    let h = w.candidates().remove(0);
    assert_eq!(w.deliver(&h).unwrap().hook, "replicas-relation-created");
    w.complete(HookResult::Error, &[]).unwrap();
    w.apply(&Action::Resolved { retry: false }).unwrap();
    assert_eq!(w.event_for(&w.candidates()[0]).hook, "leader-elected");
}

#[test]
fn teardown_order() {
    let (mut w, _) = k8s_deploy(true);
    apply(
        &mut w,
        Action::Integrate {
            relation: rel(1, "db", "db-app", &["db-app/0", "db-app/1"]),
        },
    );
    apply(
        &mut w,
        Action::ScaleUp {
            unit: "demo/1".into(),
        },
    );
    let hooks = apply(&mut w, Action::RemoveUnit);
    assert_eq!(
        hooks,
        [
            "data-storage-detaching",
            "db-relation-departed",
            "db-relation-departed",
            "db-relation-broken",
            "replicas-relation-departed",
            "stop",
            "remove"
        ]
    );
    assert!(w.is_dead());
    assert!(w.candidates().is_empty());
}

#[test]
fn teardown_relations_before_storage_switch() {
    let mut opts = common::opts();
    opts.teardown_relations_before_storage = true;
    let mut w = World::new(common::k8s_rich(), opts);
    apply(
        &mut w,
        k8s_deploy_action(true, vec![rel(1, "db", "db-app", &["db-app/0"])]),
    );
    w.apply(&Action::RemoveUnit).unwrap();
    let names: Vec<String> = w.candidates().iter().map(|h| w.event_for(h).hook).collect();
    assert_eq!(names, ["data-storage-detaching", "db-relation-departed"]);
    let e = w.event_for(&w.candidates()[1]);
    assert_eq!(e.env["JUJU_DEPARTING_UNIT"], "demo/0");
}

#[test]
fn removed_before_install_gets_nothing() {
    let mut w = World::new(common::k8s_rich(), common::opts());
    w.apply(&k8s_deploy_action(true, vec![])).unwrap();
    assert!(apply(&mut w, Action::RemoveUnit).is_empty());
    assert!(w.is_dead());
}

#[test]
fn suspend_and_resume_enter_the_relation_again() {
    let (mut w, _) = k8s_deploy(true);
    apply(
        &mut w,
        Action::Integrate {
            relation: rel(1, "db", "db-app", &["db-app/0"]),
        },
    );
    assert_eq!(
        apply(&mut w, Action::SuspendRelation { relation_id: 1 }),
        ["db-relation-departed", "db-relation-broken"]
    );
    assert_eq!(
        apply(&mut w, Action::ResumeRelation { relation_id: 1 }),
        [
            "db-relation-created",
            "db-relation-joined",
            "db-relation-changed"
        ]
    );
}

#[test]
fn update_status_only_when_idle_after_start() {
    let mut w = World::new(common::minimal(), common::opts());
    w.apply(&Action::Deploy {
        unit: "tiny/0".into(),
        leader: true,
        peers: vec![],
        relations: vec![],
        storage: vec![],
    })
    .unwrap();
    assert!(!w.enabled(ActionKind::UpdateStatusTimer));
    assert_eq!(
        drain(&mut w),
        ["install", "leader-elected", "config-changed", "start"]
    );
    assert_eq!(apply(&mut w, Action::UpdateStatusTimer), ["update-status"]);
}

#[test]
fn forced_removal_skips_teardown() {
    let mut opts = common::opts();
    opts.forced_removal = true;
    let mut w = World::new(common::k8s_rich(), opts);
    apply(
        &mut w,
        k8s_deploy_action(true, vec![rel(1, "db", "db-app", &["db-app/0"])]),
    );
    assert_eq!(apply(&mut w, Action::ForceRemoveUnit), ["stop", "remove"]);
    assert!(w.is_dead());
    // Without the switch the action is not offered.
    let (w2, _) = k8s_deploy(true);
    assert!(!w2.enabled(ActionKind::ForceRemoveUnit));
}

#[test]
fn workload_container_restart() {
    let (mut w, _) = k8s_deploy(true);
    apply(
        &mut w,
        Action::WorkloadStarted {
            container: "web".into(),
        },
    );
    // Down: no hook, but can_connect() is false until Pebble is back.
    assert!(
        apply(
            &mut w,
            Action::WorkloadStopped {
                container: "web".into()
            }
        )
        .is_empty()
    );
    assert!(!w.container("web").unwrap().up);
    assert_eq!(
        apply(
            &mut w,
            Action::WorkloadStarted {
                container: "web".into()
            }
        ),
        ["web-pebble-ready"]
    );
}

#[test]
fn remove_application_and_destroy_model_tear_down_like_remove_unit() {
    for removal in [Action::RemoveApplication, Action::DestroyModel] {
        let (mut w, _) = k8s_deploy(false);
        apply(
            &mut w,
            Action::Integrate {
                relation: rel(1, "db", "db-app", &["db-app/0"]),
            },
        );
        assert_eq!(
            apply(&mut w, removal),
            [
                "data-storage-detaching",
                "db-relation-departed",
                "db-relation-broken",
                "stop",
                "remove"
            ]
        );
    }
}

#[test]
fn peer_leader_removed_then_this_unit_leads() {
    let (mut w, _) = k8s_deploy(false);
    apply(
        &mut w,
        Action::ScaleUp {
            unit: "demo/1".into(),
        },
    );
    // The leader (demo/1) goes; the lease moves here.
    assert_eq!(
        apply(
            &mut w,
            Action::ScaleDown {
                unit: "demo/1".into()
            }
        ),
        ["replicas-relation-departed"]
    );
    assert_eq!(apply(&mut w, Action::LeadershipGained), ["leader-elected"]);
}

#[test]
fn remote_app_with_many_units_joins_each_in_order() {
    let (mut w, _) = k8s_deploy(true);
    let hooks = apply(
        &mut w,
        Action::Integrate {
            relation: rel(
                1,
                "metrics-endpoint",
                "prom",
                &["prom/0", "prom/1", "prom/2"],
            ),
        },
    );
    assert_eq!(
        hooks,
        [
            "metrics-endpoint-relation-created",
            "metrics-endpoint-relation-joined",
            "metrics-endpoint-relation-changed",
            "metrics-endpoint-relation-joined",
            "metrics-endpoint-relation-changed",
            "metrics-endpoint-relation-joined",
            "metrics-endpoint-relation-changed"
        ]
    );
}
