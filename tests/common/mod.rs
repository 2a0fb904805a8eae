//! Specs built in code for the engine tests: a rich Kubernetes charm, a machine charm and a
//! minimal one. (The YAML parser has its own tests; these keep engine tests independent.)
#![allow(dead_code)]

use charmfuzz::engine::{Effect, EngineOptions, Event, HookKind, SecretOwner, Vocabulary};
use charmfuzz::spec::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A copy in `tmp` of the test charm `tests/fixtures/charms/<name>` with this
/// `charmfuzz.toml`: a charm's settings are its own file, so a test that needs other
/// settings gets its own copy of the charm.
pub fn fixture_copy(tmp: &Path, name: &str, charmfuzz_toml: &str) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/charms")
        .join(name);
    let copy = tmp.join(name);
    let cp = std::process::Command::new("cp")
        .arg("-r")
        .arg(&fixture)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(cp.success());
    std::fs::write(copy.join("charmfuzz.toml"), charmfuzz_toml).unwrap();
    copy
}

fn ep(name: &str, role: Role, interface: &str, limit: Option<u32>) -> Endpoint {
    Endpoint {
        name: name.into(),
        role,
        interface: interface.into(),
        limit,
        scope: Scope::Global,
        optional: false,
    }
}

fn opt(name: &str, ty: ConfigType, default: Option<serde_json::Value>) -> ConfigOption {
    ConfigOption {
        name: name.into(),
        ty,
        default,
        description: None,
    }
}

fn param(name: &str, ty: ParamType, default: Option<serde_json::Value>) -> ActionParam {
    ActionParam {
        name: name.into(),
        ty,
        description: None,
        default,
        allowed: None,
        minimum: None,
        maximum: None,
        min_length: None,
        max_length: None,
        items: None,
    }
}

pub fn k8s_rich() -> Arc<CharmSpec> {
    Arc::new(CharmSpec {
        name: "demo".into(),
        substrate: Substrate::Kubernetes,
        subordinate: false,
        endpoints: vec![
            ep("replicas", Role::Peer, "demo_replicas", None),
            ep("db", Role::Requires, "postgresql_client", Some(1)),
            ep("ingress", Role::Requires, "ingress", Some(1)),
            ep(
                "metrics-endpoint",
                Role::Provides,
                "prometheus_scrape",
                None,
            ),
        ],
        storage: vec![
            StorageSpec {
                name: "data".into(),
                kind: StorageKind::Filesystem,
                location: Some("/var/lib/demo".into()),
                multiple: Multiple {
                    min: 1,
                    max: Some(3),
                },
                shared: false,
                read_only: false,
            },
            StorageSpec {
                name: "logs".into(),
                kind: StorageKind::Filesystem,
                location: None,
                multiple: Multiple {
                    min: 0,
                    max: Some(2),
                },
                shared: false,
                read_only: false,
            },
        ],
        containers: vec![
            ContainerSpec {
                name: "web".into(),
                resource: Some("web-image".into()),
                mounts: vec![],
            },
            ContainerSpec {
                name: "sidecar".into(),
                resource: None,
                mounts: vec![],
            },
        ],
        actions: vec![
            ActionSpec {
                name: "backup".into(),
                description: None,
                params: vec![
                    param("target", ParamType::String, Some(json!("/backups"))),
                    param("compress", ParamType::Boolean, None),
                    param("level", ParamType::Integer, Some(json!(3))),
                ],
                required: vec![],
                additional_properties: false,
            },
            ActionSpec {
                name: "rotate-password".into(),
                description: None,
                params: vec![],
                required: vec![],
                additional_properties: true,
            },
        ],
        config: vec![
            opt("port", ConfigType::Int, Some(json!(8080))),
            opt("log-level", ConfigType::String, Some(json!("info"))),
            opt("debug", ConfigType::Boolean, Some(json!(false))),
            opt("ratio", ConfigType::Float, None),
            opt("admin-password", ConfigType::Secret, None),
        ],
        resources: vec![],
        extra_bindings: vec![],
        has_metrics: false,
        layout: SpecLayout::Unified,
        dir: Default::default(),
    })
}

pub fn machine() -> Arc<CharmSpec> {
    Arc::new(CharmSpec {
        name: "mach".into(),
        substrate: Substrate::Machine,
        subordinate: false,
        endpoints: vec![
            ep("cluster", Role::Peer, "mach_cluster", None),
            ep("db", Role::Requires, "mysql", None),
            ep("website", Role::Provides, "http", None),
        ],
        storage: vec![StorageSpec {
            name: "cache".into(),
            kind: StorageKind::Block,
            location: None,
            multiple: Multiple { min: 1, max: None },
            shared: false,
            read_only: false,
        }],
        containers: vec![],
        actions: vec![ActionSpec {
            name: "restart".into(),
            description: None,
            params: vec![param("force", ParamType::Boolean, Some(json!(false)))],
            required: vec![],
            additional_properties: false,
        }],
        config: vec![
            opt("port", ConfigType::Int, Some(json!(80))),
            opt("name", ConfigType::String, None),
        ],
        resources: vec![],
        extra_bindings: vec![],
        has_metrics: true,
        layout: SpecLayout::Split,
        dir: Default::default(),
    })
}

pub fn minimal() -> Arc<CharmSpec> {
    Arc::new(CharmSpec {
        name: "tiny".into(),
        substrate: Substrate::Machine,
        subordinate: false,
        endpoints: vec![],
        storage: vec![],
        containers: vec![],
        actions: vec![],
        config: vec![],
        resources: vec![],
        extra_bindings: vec![],
        has_metrics: false,
        layout: SpecLayout::Split,
        dir: Default::default(),
    })
}

/// A vocabulary with Pebble checks, so check events are possible.
pub fn vocab(spec: &CharmSpec) -> Vocabulary {
    let mut v = Vocabulary::for_spec(spec);
    for c in &spec.containers {
        v.checks
            .insert(c.name.clone(), vec!["alive".into(), "ready".into()]);
    }
    v.relation_samples.insert(
        "postgresql_client".into(),
        vec![BTreeMap::from([
            ("endpoints".to_string(), "db:5432".to_string()),
            ("username".into(), "u".into()),
        ])],
    );
    v
}

pub fn opts() -> EngineOptions {
    EngineOptions::default()
}

/// Deterministic "random" input bytes for a seed.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    charmfuzz::engine::seed_bytes(seed, len)
}

/// What a stand-in charm reports: it creates an app secret and a unit secret at install and
/// publishes a new revision whenever asked to rotate, as real charms do, so owner-side
/// secret hooks are reachable without a real charm; on a machine it installs a snap and
/// starts its service, so the host's faults are reachable too.
pub fn stand_in_effects(e: &Event) -> Vec<Effect> {
    match e.kind {
        // On a machine it installs its workload's snap, whose service runs (on
        // Kubernetes nothing reads this).
        HookKind::Install => vec![
            Effect::HostChanged {
                snaps: vec!["stand-in".into()],
                services: vec!["snap.stand-in.daemon.service".into()],
            },
            Effect::SecretCreated {
                id: "secret:d0000000000000000app".into(),
                owner: SecretOwner::App,
                label: None,
            },
            Effect::SecretCreated {
                id: "secret:d000000000000000unit".into(),
                owner: SecretOwner::Unit,
                label: Some("mine".into()),
            },
        ],
        // It (re)starts the service at start, after a reboot too.
        HookKind::Start => vec![Effect::HostChanged {
            snaps: vec!["stand-in".into()],
            services: vec!["snap.stand-in.daemon.service".into()],
        }],
        HookKind::SecretRotate => vec![Effect::SecretRevised {
            id: e.env["JUJU_SECRET_ID"].clone(),
        }],
        // It starts its workload's service when Pebble is ready, as sidecar charms do:
        // a service that can then exit.
        HookKind::PebbleReady => {
            let container = e.env["JUJU_WORKLOAD_NAME"].clone();
            vec![Effect::ServicesRunning {
                services: vec![format!("{container}-svc")],
                container,
            }]
        }
        _ => vec![],
    }
}
