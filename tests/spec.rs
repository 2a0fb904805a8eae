//! Reading charm specs (`CharmSpec`) and fuzzing configs (`FuzzConfig`) from fixture charms
//! and from inline YAML/TOML. See `tests/fixtures/charms/README.md` for the fixtures.

use charmfuzz::charm::{FuzzConfig, FuzzConfigError};
use charmfuzz::engine::action::ActionKind;
use charmfuzz::engine::options::JujuVersion;
use charmfuzz::spec::{
    CharmSpec, ConfigType, Multiple, ParamType, Role, Scope, SpecError, SpecLayout, StorageKind,
    Substrate,
};
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/charms")
        .join(name)
}

fn unified(yaml: &str) -> Result<CharmSpec, SpecError> {
    CharmSpec::from_unified_str("charmcraft.yaml", yaml)
}

/// The error message of a unified spec that must fail.
fn unified_err(yaml: &str) -> String {
    match unified(yaml) {
        Ok(spec) => panic!("expected an error, got {spec:#?}"),
        Err(e) => e.to_string(),
    }
}

fn split_err(metadata: &str, config: Option<&str>, actions: Option<&str>) -> String {
    match CharmSpec::from_split_strs(metadata, config, actions) {
        Ok(spec) => panic!("expected an error, got {spec:#?}"),
        Err(e) => e.to_string(),
    }
}

fn write(dir: &Path, file: &str, text: &str) {
    fs::write(dir.join(file), text).unwrap();
}

// ---------------------------------------------------------------------------------------
// Fixture charms

#[test]
fn k8s_rich_unified_layout() {
    let dir = fixture("k8s-rich");
    let spec = CharmSpec::load(&dir).unwrap();
    assert_eq!(spec.name, "rich-app");
    assert_eq!(spec.layout, SpecLayout::Unified);
    assert_eq!(spec.dir, dir);
    assert_eq!(spec.substrate, Substrate::Kubernetes);
    assert!(!spec.subordinate);
    assert!(!spec.has_metrics);

    // Containers and their mounts; `sidecar` mounts `logs` at the storage's own location.
    assert_eq!(spec.containers.len(), 2);
    let workload = spec.container("workload").unwrap();
    assert_eq!(workload.resource.as_deref(), Some("workload-image"));
    let mounts: Vec<_> = workload
        .mounts
        .iter()
        .map(|m| (m.storage.as_str(), m.location.as_str()))
        .collect();
    assert_eq!(mounts, [("data", "/var/lib/app"), ("logs", "/var/log/app")]);
    let sidecar = spec.container("sidecar").unwrap();
    assert_eq!(sidecar.mounts.len(), 1);
    assert_eq!(sidecar.mounts[0].storage, "logs");
    assert_eq!(sidecar.mounts[0].location, "/logs");

    // Endpoints, in requires / provides / peers order.
    let names: Vec<_> = spec.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["db", "ingress", "metrics-endpoint", "replicas"]);
    let db = spec.endpoint("db").unwrap();
    assert_eq!(db.role, Role::Requires);
    assert_eq!(db.interface, "postgresql_client");
    assert_eq!(db.limit, Some(1));
    assert_eq!(db.scope, Scope::Global);
    assert!(!db.optional);
    let ingress = spec.endpoint("ingress").unwrap();
    assert!(ingress.optional);
    assert_eq!(ingress.limit, None);
    assert_eq!(
        spec.endpoint("metrics-endpoint").unwrap().role,
        Role::Provides
    );
    let peers: Vec<_> = spec.peer_endpoints().map(|e| e.name.as_str()).collect();
    assert_eq!(peers, ["replicas"]);
    assert_eq!(
        spec.endpoint("replicas").unwrap().interface,
        "rich_app_replica"
    );

    // Storage.
    let data = spec.storage("data").unwrap();
    assert_eq!(data.kind, StorageKind::Filesystem);
    assert_eq!(
        data.multiple,
        Multiple {
            min: 1,
            max: Some(3)
        }
    );
    assert_eq!(data.location, None);
    let logs = spec.storage("logs").unwrap();
    assert_eq!(
        logs.multiple,
        Multiple {
            min: 1,
            max: Some(1)
        }
    );
    assert_eq!(logs.location.as_deref(), Some("/logs"));
    assert!(!logs.shared && !logs.read_only);

    // Resources and extra bindings.
    let res: Vec<_> = spec
        .resources
        .iter()
        .map(|r| (r.name.as_str(), r.kind.as_str(), r.filename.as_deref()))
        .collect();
    assert_eq!(
        res,
        [
            ("workload-image", "oci-image", None),
            ("sidecar-image", "oci-image", None),
            ("license", "file", Some("license.txt")),
        ]
    );
    assert_eq!(spec.extra_bindings, ["public"]);

    // Config: all five types, defaults converted to the option's type.
    let opt = |n: &str| spec.config_option(n).unwrap();
    assert_eq!(opt("log-level").ty, ConfigType::String);
    assert_eq!(opt("log-level").default, Some(json!("info")));
    assert_eq!(
        opt("log-level").description.as_deref(),
        Some("Logging level.")
    );
    assert_eq!(opt("port").ty, ConfigType::Int);
    assert_eq!(opt("port").default, Some(json!(8080)));
    assert_eq!(opt("ratio").ty, ConfigType::Float);
    assert_eq!(opt("ratio").default, Some(json!(1.0)));
    assert!(opt("ratio").default.as_ref().unwrap().is_f64());
    assert_eq!(opt("debug").ty, ConfigType::Boolean);
    assert_eq!(opt("debug").default, Some(json!(true)), "`yes` is true");
    assert_eq!(opt("tls").default, Some(json!(false)), "`off` is false");
    assert_eq!(opt("admin-password").ty, ConfigType::Secret);
    assert_eq!(opt("admin-password").default, None);
    assert_eq!(
        opt("answer").default,
        Some(json!("yes")),
        "quoted stays a string"
    );
    assert_eq!(spec.config.len(), 7);

    // Actions.
    assert_eq!(spec.actions.len(), 2);
    let backup = spec.action("backup").unwrap();
    assert_eq!(backup.description.as_deref(), Some("Back the data up."));
    assert_eq!(backup.required, ["target"]);
    assert!(!backup.additional_properties);
    let p = |n: &str| backup.params.iter().find(|p| p.name == n).unwrap();
    assert_eq!(p("target").ty, ParamType::String);
    assert_eq!(p("target").default, Some(json!("local")));
    assert_eq!(p("target").allowed, Some(vec![json!("local"), json!("s3")]));
    assert_eq!(p("compress").ty, ParamType::Boolean);
    assert_eq!(p("compress").default, Some(json!(true)), "`on` is true");
    assert_eq!(p("level").ty, ParamType::Integer);
    assert_eq!(p("level").minimum, Some(1.0));
    assert_eq!(p("level").maximum, Some(9.0));
    assert_eq!(p("level").default, Some(json!(6)));
    assert_eq!(p("tags").ty, ParamType::Array);
    assert_eq!(p("tags").items, Some(ParamType::String));
    assert_eq!(p("note").ty, ParamType::Any);
    assert_eq!(
        p("note").description.as_deref(),
        Some("Free-form; no type given.")
    );
    let get = spec.action("get-admin-password").unwrap();
    assert!(get.params.is_empty());
    assert!(get.additional_properties, "defaults to true");
}

#[test]
fn machine_split_layout() {
    let dir = fixture("machine");
    let spec = CharmSpec::load(&dir).unwrap();
    assert_eq!(spec.name, "machine-app");
    assert_eq!(spec.layout, SpecLayout::Split);
    assert_eq!(spec.substrate, Substrate::Machine);
    assert!(spec.has_metrics, "metrics.yaml exists");
    assert!(spec.containers.is_empty());

    let certs = spec.endpoint("certificates").unwrap();
    assert_eq!(
        (certs.role, certs.interface.as_str(), certs.limit),
        (Role::Requires, "tls-certificates", Some(1))
    );
    let backend = spec.endpoint("backend").unwrap();
    assert_eq!(
        (backend.role, backend.interface.as_str()),
        (Role::Requires, "http")
    );
    assert_eq!(spec.endpoint("website").unwrap().role, Role::Provides);
    assert_eq!(spec.endpoint("cos-agent").unwrap().interface, "cos_agent");
    assert_eq!(spec.endpoint("cluster").unwrap().role, Role::Peer);
    assert_eq!(spec.endpoints.len(), 5);

    let disks = spec.storage("disks").unwrap();
    assert_eq!(disks.kind, StorageKind::Block);
    assert_eq!(disks.multiple, Multiple { min: 0, max: None });
    let cache = spec.storage("cache").unwrap();
    assert_eq!(cache.location.as_deref(), Some("/srv/cache"));
    assert!(cache.read_only && !cache.shared);

    assert_eq!(spec.resources[0].filename.as_deref(), Some("app.snap"));
    assert_eq!(spec.extra_bindings, ["replication"]);

    let opt = |n: &str| spec.config_option(n).unwrap();
    assert_eq!(opt("listen-port").default, Some(json!(80)));
    assert_eq!(
        opt("listen-port").description.as_deref(),
        Some("Port to listen on.")
    );
    assert_eq!(opt("threshold").default, Some(json!(0.75)));
    assert_eq!(opt("maintenance").default, Some(json!(false)));
    assert_eq!(
        opt("flag").default,
        Some(json!("y")),
        "`y` is a string for PyYAML"
    );
    assert_eq!(opt("motd").default, None);

    let add_user = spec.action("add-user").unwrap();
    assert_eq!(add_user.required, ["username"]);
    let username = &add_user.params[0];
    assert_eq!(
        (username.min_length, username.max_length),
        (Some(1), Some(32))
    );
    assert_eq!(
        add_user.params[1].default,
        Some(json!(false)),
        "`no` is false"
    );
    assert_eq!(add_user.params[2].ty, ParamType::Number);
    assert_eq!(add_user.params[2].minimum, Some(0.5));
    assert!(spec.action("restart").unwrap().params.is_empty());
}

#[test]
fn minimal_charm() {
    let spec = CharmSpec::load(&fixture("minimal")).unwrap();
    assert_eq!(spec.name, "minimal");
    assert_eq!(spec.layout, SpecLayout::Split);
    assert_eq!(spec.substrate, Substrate::Machine);
    assert!(!spec.subordinate && !spec.has_metrics);
    assert!(spec.endpoints.is_empty() && spec.storage.is_empty() && spec.containers.is_empty());
    assert!(spec.actions.is_empty() && spec.config.is_empty() && spec.resources.is_empty());
}

#[test]
fn subordinate_charm() {
    let spec = CharmSpec::load(&fixture("subordinate")).unwrap();
    assert!(spec.subordinate);
    assert_eq!(spec.substrate, Substrate::Machine);
    let info = spec.endpoint("juju-info").unwrap();
    assert_eq!(
        (info.role, info.scope, info.interface.as_str()),
        (Role::Requires, Scope::Container, "juju-info")
    );
    assert_eq!(spec.endpoint("logging").unwrap().scope, Scope::Global);
    assert_eq!(spec.endpoint("metrics").unwrap().role, Role::Provides);
}

#[test]
fn both_layouts_give_the_same_spec() {
    let unified_yaml = "name: same\nrequires:\n  db: {interface: pg, limit: 2}\nstorage:\n  data: {type: block}\n\
        config:\n  options:\n    n: {type: int, default: 3}\nactions:\n  go:\n    params:\n      x: {type: integer}\n";
    let metadata =
        "name: same\nrequires:\n  db: {interface: pg, limit: 2}\nstorage:\n  data: {type: block}\n";
    let config = "options:\n  n: {type: int, default: 3}\n";
    let actions = "go:\n  params:\n    x: {type: integer}\n";
    let a = unified(unified_yaml).unwrap();
    let mut b = CharmSpec::from_split_strs(metadata, Some(config), Some(actions)).unwrap();
    assert_eq!(a.layout, SpecLayout::Unified);
    assert_eq!(b.layout, SpecLayout::Split);
    b.layout = SpecLayout::Unified;
    assert_eq!(a, b);
}

// ---------------------------------------------------------------------------------------
// Which files are read

#[test]
fn build_only_charmcraft_yaml_falls_back_to_metadata_yaml() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "charmcraft.yaml",
        "type: charm\nbases: []\nconfig:\n  options:\n    a: {type: string}\n",
    );
    write(tmp.path(), "metadata.yaml", "name: from-metadata\n");
    let spec = CharmSpec::load(tmp.path()).unwrap();
    assert_eq!(spec.name, "from-metadata");
    assert_eq!(spec.layout, SpecLayout::Split);
    // Without config.yaml, config in the build-only charmcraft.yaml is used.
    assert_eq!(spec.config[0].name, "a");

    write(tmp.path(), "config.yaml", "options:\n  b: {type: int}\n");
    let spec = CharmSpec::load(tmp.path()).unwrap();
    assert_eq!(spec.config.len(), 1);
    assert_eq!(
        spec.config[0].name, "b",
        "config.yaml wins over charmcraft.yaml's config"
    );
}

#[test]
fn charmcraft_yaml_with_name_wins_over_metadata_yaml() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "charmcraft.yaml",
        "name: unified\nmetrics:\n  juju-units:\n",
    );
    write(tmp.path(), "metadata.yaml", "name: split\n");
    let spec = CharmSpec::load(tmp.path()).unwrap();
    assert_eq!(spec.name, "unified");
    assert_eq!(spec.layout, SpecLayout::Unified);
    assert!(spec.has_metrics, "`metrics:` in the unified form");
}

#[test]
fn empty_config_and_actions_files_are_fine() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "metadata.yaml", "name: x\n");
    write(tmp.path(), "config.yaml", "");
    write(tmp.path(), "actions.yaml", "# nothing yet\n");
    let spec = CharmSpec::load(tmp.path()).unwrap();
    assert!(spec.config.is_empty() && spec.actions.is_empty());
    write(tmp.path(), "config.yaml", "options:\n");
    assert!(CharmSpec::load(tmp.path()).unwrap().config.is_empty());
}

// ---------------------------------------------------------------------------------------
// Substrate

#[test]
fn substrate_detection() {
    let sub = |yaml: &str| unified(yaml).unwrap().substrate;
    assert_eq!(sub("name: a\n"), Substrate::Machine);
    assert_eq!(
        sub("name: a\ncontainers:\n  c:\n    resource: img\n"),
        Substrate::Kubernetes
    );
    assert_eq!(sub("name: a\nassumes: [k8s-api]\n"), Substrate::Kubernetes);
    assert_eq!(
        sub(
            "name: a\nassumes:\n  - juju >= 3.1\n  - any-of:\n      - all-of: [k8s-api, juju >= 3.4]\n      - juju >= 3.6\n"
        ),
        Substrate::Kubernetes
    );
    assert_eq!(sub("name: a\nassumes: [juju >= 3.1]\n"), Substrate::Machine);
    assert_eq!(
        sub("name: a\nseries: [kubernetes]\n"),
        Substrate::Kubernetes
    );
    assert_eq!(sub("name: a\nseries: [jammy]\n"), Substrate::Machine);
}

// ---------------------------------------------------------------------------------------
// YAML 1.1, as PyYAML reads it

#[test]
fn yaml_1_1_booleans() {
    let spec = unified(
        "name: a\nconfig:\n  options:\n\
         \x20   b1: {type: boolean, default: yes}\n\
         \x20   b2: {type: boolean, default: on}\n\
         \x20   b3: {type: boolean, default: off}\n\
         \x20   b4: {type: boolean, default: NO}\n\
         \x20   b5: {type: boolean, default: True}\n\
         \x20   s1: {type: string, default: y}\n\
         \x20   s2: {type: string, default: \"yes\"}\n\
         \x20   s3: {type: string, default: 'off'}\n\
         \x20   s4: {type: string, default: n}\n\
         \x20   s5: {type: string, default: yEs}\n\
         \x20   s6: {type: string, default: !!str on}\n",
    )
    .unwrap();
    let d = |n: &str| spec.config_option(n).unwrap().default.clone().unwrap();
    assert_eq!(d("b1"), json!(true));
    assert_eq!(d("b2"), json!(true));
    assert_eq!(d("b3"), json!(false));
    assert_eq!(d("b4"), json!(false));
    assert_eq!(d("b5"), json!(true));
    assert_eq!(d("s1"), json!("y"));
    assert_eq!(d("s2"), json!("yes"));
    assert_eq!(d("s3"), json!("off"));
    assert_eq!(d("s4"), json!("n"));
    assert_eq!(d("s5"), json!("yEs"));
    assert_eq!(d("s6"), json!("on"));
}

#[test]
fn yaml_1_1_numbers_and_nulls() {
    let spec = unified(
        "name: a\nactions:\n  go:\n    params:\n      p:\n        enum: [1_000, 0x1F, 017, 1.5, .inf, 1e3, 0o17, ~, null, NULL, '', 1:30]\n",
    );
    // `.inf` cannot be JSON: a clear error, naming the place.
    let err = spec.unwrap_err().to_string();
    assert!(err.starts_with("charmcraft.yaml:6:39: "), "{err}");
    assert!(err.contains("actions.go.params.p.enum[4]"), "{err}");
    assert!(err.contains(".inf is not a finite number"), "{err}");

    let spec = unified(
        "name: a\nactions:\n  go:\n    params:\n      p:\n        enum: [1_000, 0x1F, 017, 1.5, 1e3, 0o17, ~, null, NULL, '', 1:30, 1.0e+3]\n",
    )
    .unwrap();
    assert_eq!(
        spec.actions[0].params[0].allowed.as_deref().unwrap(),
        [
            json!(1000),
            json!(31),
            json!(15),
            json!(1.5),
            json!("1e3"),
            json!("0o17"),
            json!(null),
            json!(null),
            json!(null),
            json!(""),
            json!(90),
            json!(1000.0),
        ]
    );
}

/// Every plain scalar in `fixtures/yaml11/pyyaml-scalars.tsv` (written by PyYAML itself, see
/// `generate.py` there) is read to the same value PyYAML gives.
#[test]
fn scalars_read_as_pyyaml_reads_them() {
    let table = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/yaml11/pyyaml-scalars.tsv"),
    )
    .unwrap();
    let rows: Vec<(&str, serde_json::Value)> = table
        .lines()
        .map(|l| {
            let (input, expected) = l.split_once('\t').unwrap();
            (input, serde_json::from_str(expected).unwrap())
        })
        .collect();
    assert!(rows.len() > 2000);
    let mut yaml = String::from("name: a\nactions:\n  a:\n    params:\n");
    for (i, (input, _)) in rows.iter().enumerate() {
        yaml.push_str(&format!("      p{i}:\n        default: {input}\n"));
    }
    let spec = unified(&yaml).unwrap();
    let params = &spec.actions[0].params;
    assert_eq!(params.len(), rows.len());
    let mut wrong = Vec::new();
    for (param, (input, expected)) in params.iter().zip(&rows) {
        // `default: null` is no default at all.
        let expected = Some(expected).filter(|v| !v.is_null());
        if param.default.as_ref() != expected {
            wrong.push(format!(
                "{input:?}: PyYAML {expected:?}, we {:?}",
                param.default
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} differences:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn unknown_keys_are_ignored() {
    let spec = unified(
        "name: a\nsummary: s\nlinks: {docs: x}\ncharm-user: root\nparts: {charm: {plugin: charm}}\n\
         platforms: {amd64: }\ntitle: T\nsomething-new: [1, 2]\n\
         requires:\n  db: {interface: pg, future-field: 1}\n\
         storage:\n  d: {type: block, minimum-size: 10G, properties: [transient]}\n\
         containers:\n  c: {resource: r, uid: 1000, gid: 1000}\n\
         config:\n  options:\n    o: {type: int, default: 1, unknown: x}\n\
         actions:\n  a: {parallel: true, execution-group: g, params: {p: {type: string, pattern: '^x$'}}}\n",
    )
    .unwrap();
    assert_eq!(spec.endpoints.len(), 1);
    assert_eq!(spec.storage.len(), 1);
    assert_eq!(spec.containers.len(), 1);
    assert_eq!(spec.config.len(), 1);
    assert_eq!(spec.actions[0].params[0].ty, ParamType::String);
}

#[test]
fn anchors_and_merge_keys() {
    let spec = unified(
        "name: a\nrequires:\n  one: &rel {interface: pg, limit: 2}\n  two:\n    <<: *rel\n    limit: 3\n",
    )
    .unwrap();
    assert_eq!(spec.endpoint("one").unwrap().limit, Some(2));
    let two = spec.endpoint("two").unwrap();
    assert_eq!((two.interface.as_str(), two.limit), ("pg", Some(3)));
}

// ---------------------------------------------------------------------------------------
// Errors: every message names the file, the place and the problem.

#[test]
fn error_missing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let e = CharmSpec::load(tmp.path()).unwrap_err();
    assert!(matches!(e, SpecError::NoMetadata { .. }));
    let msg = e.to_string();
    assert!(msg.starts_with(&tmp.path().display().to_string()), "{msg}");
    assert!(
        msg.contains("charmcraft.yaml") && msg.contains("metadata.yaml"),
        "{msg}"
    );

    // A directory where a file should be: cannot read, with the OS's reason.
    fs::create_dir(tmp.path().join("metadata.yaml")).unwrap();
    let e = CharmSpec::load(tmp.path()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, SpecError::Read { .. }), "{msg}");
    assert!(msg.contains("metadata.yaml: cannot read: "), "{msg}");
    assert!(msg.to_lowercase().contains("directory"), "{msg}");
    assert_eq!(
        e.file(),
        tmp.path().join("metadata.yaml").display().to_string()
    );
}

#[test]
fn error_missing_charm_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-charm");
    let msg = CharmSpec::load(&missing).unwrap_err().to_string();
    assert_eq!(
        msg,
        format!(
            "{}: cannot read: No such file or directory (os error 2)",
            missing.display()
        )
    );
    write(tmp.path(), "file", "");
    let msg = CharmSpec::load(&tmp.path().join("file"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.ends_with("file: cannot read: not a directory (expected the charm's directory)"),
        "{msg}"
    );
}

#[test]
fn error_charmcraft_yaml_with_metadata_but_no_name() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "charmcraft.yaml",
        "type: charm\nrequires:\n  db: {interface: pg}\n",
    );
    let msg = CharmSpec::load(tmp.path()).unwrap_err().to_string();
    assert!(
        msg.contains("charmcraft.yaml:1:1: missing required key \"name\""),
        "{msg}"
    );
}

#[test]
fn error_yaml_syntax() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "metadata.yaml",
        "name: x\nrequires:\n  db: [interface: pg\n",
    );
    let e = CharmSpec::load(tmp.path()).unwrap_err();
    let msg = e.to_string();
    let file = tmp.path().join("metadata.yaml").display().to_string();
    assert!(msg.starts_with(&format!("{file}:")), "{msg}");
    assert!(msg.contains("YAML syntax error"), "{msg}");
    let (line, _) = e.position().unwrap();
    assert!(line >= 3, "{msg}");

    let msg = unified_err("name: x\nrequires:\n  db: {interface: pg\nprovides: {}\n");
    assert!(msg.starts_with("charmcraft.yaml:4:"), "{msg}");
    assert!(msg.contains("YAML syntax error"), "{msg}");

    let msg = unified_err("name: x\nname: y\n");
    assert_eq!(
        msg,
        "charmcraft.yaml:2:1: YAML syntax error: duplicate mapping key \"name\" (first at line 1)"
    );
}

#[test]
fn error_missing_required_key() {
    let msg = unified_err("name: x\nrequires:\n  db:\n    limit: 1\n");
    assert_eq!(
        msg,
        "charmcraft.yaml:4:5: requires.db: missing required key \"interface\""
    );
    let msg = unified_err("name: x\nstorage:\n  d:\n    location: /x\n");
    assert_eq!(
        msg,
        "charmcraft.yaml:4:5: storage.d: missing required key \"type\""
    );
    let msg = split_err("summary: no name\n", None, None);
    assert_eq!(msg, "metadata.yaml:1:1: missing required key \"name\"");
    let msg = split_err("", None, None);
    assert_eq!(msg, "metadata.yaml:1:1: missing required key \"name\"");
    let msg = split_err(
        "name: x\n",
        Some("options:\n  port:\n    default: 1\n"),
        None,
    );
    assert_eq!(
        msg,
        "config.yaml:3:5: options.port: missing required key \"type\""
    );
    let msg = unified_err("name: x\nstorage:\n  d:\n    type: block\n    multiple: {}\n");
    assert!(
        msg.contains("storage.d.multiple: missing required key \"range\""),
        "{msg}"
    );
}

#[test]
fn error_wrong_type() {
    let msg = unified_err("- name: x\n");
    assert_eq!(
        msg,
        "charmcraft.yaml:1:1: expected a mapping at the top level, found a sequence"
    );
    let msg = unified_err("name: 42\n");
    assert_eq!(
        msg,
        "charmcraft.yaml:1:7: name: expected a string, found integer 42"
    );
    let msg = unified_err("name: x\nrequires:\n  db:\n    interface: pg\n    limit: many\n");
    assert_eq!(
        msg,
        "charmcraft.yaml:5:12: requires.db.limit: expected a non-negative integer, found string \"many\""
    );
    let msg = unified_err("name: x\nsubordinate: \"true\"\n");
    assert!(
        msg.starts_with("charmcraft.yaml:2:14: subordinate: expected a boolean"),
        "{msg}"
    );
    // A YAML 1.1 boolean used as a name explains itself.
    let msg = unified_err("name: x\nconfig:\n  options:\n    on: {type: boolean}\n");
    assert!(msg.starts_with("charmcraft.yaml:4:5: config.options: expected a name (string) as key, found boolean true"), "{msg}");
    assert!(msg.contains("quote it"), "{msg}");
}

#[test]
fn error_config_default_of_wrong_type() {
    let msg = split_err(
        "name: x\n",
        Some("options:\n  mode:\n    type: string\n    default: yes\n"),
        None,
    );
    assert!(
        msg.starts_with("config.yaml:4:14: options.mode.default: "),
        "{msg}"
    );
    assert!(
        msg.contains("expected a default of type string for option \"mode\""),
        "{msg}"
    );
    assert!(
        msg.contains("found boolean true (YAML 1.1 reads unquoted `yes` as a boolean"),
        "{msg}"
    );

    let msg = unified_err(
        "name: x\nconfig:\n  options:\n    port:\n      type: int\n      default: 80.5\n",
    );
    assert_eq!(
        msg,
        "charmcraft.yaml:6:16: config.options.port.default: expected a default of type int for option \"port\", found float 80.5"
    );
    let msg = unified_err(
        "name: x\nconfig:\n  options:\n    flag:\n      type: boolean\n      default: \"true\"\n",
    );
    assert!(msg.contains("config.options.flag.default: expected a default of type boolean for option \"flag\", found string \"true\""), "{msg}");
}

#[test]
fn error_invalid_value() {
    let msg = unified_err("name: x\nconfig:\n  options:\n    a:\n      type: integer\n");
    assert!(
        msg.starts_with(
            "charmcraft.yaml:5:13: config.options.a.type: unknown config type \"integer\""
        ),
        "{msg}"
    );
    let msg = unified_err("name: x\nstorage:\n  d:\n    type: tmpfs\n");
    assert!(
        msg.starts_with("charmcraft.yaml:4:11: storage.d.type: unknown storage type \"tmpfs\""),
        "{msg}"
    );
    let msg =
        unified_err("name: x\nstorage:\n  d:\n    type: block\n    multiple:\n      range: 3-1\n");
    assert!(
        msg.starts_with("charmcraft.yaml:6:14: storage.d.multiple.range: invalid range \"3-1\""),
        "{msg}"
    );
    let msg = unified_err("name: x\nrequires:\n  db: {interface: pg, scope: local}\n");
    assert!(
        msg.contains("requires.db.scope: unknown scope \"local\""),
        "{msg}"
    );
    let msg = unified_err(
        "name: x\ncontainers:\n  c:\n    mounts:\n      - storage: nope\n        location: /x\n",
    );
    assert_eq!(
        msg,
        "charmcraft.yaml:5:18: containers.c.mounts[0].storage: mount refers to storage \"nope\", which is not declared under `storage:`"
    );
    let msg = unified_err("name: x\nactions:\n  a:\n    params:\n      p: {type: text}\n");
    assert!(
        msg.contains("actions.a.params.p.type: unknown parameter type \"text\""),
        "{msg}"
    );
    let msg = unified_err("name: x\nresources:\n  r: {type: image}\n");
    assert!(
        msg.contains("resources.r.type: unknown resource type \"image\""),
        "{msg}"
    );
}

#[test]
fn error_invalid_names() {
    let msg = unified_err("name: x\nrequires:\n  DB: {interface: pg}\n");
    assert!(
        msg.starts_with(
            "charmcraft.yaml:3:3: requires.DB: invalid endpoint name \"DB\": must match"
        ),
        "{msg}"
    );
    let msg = unified_err("name: x\nstorage:\n  disk-2: {type: block}\n");
    assert!(
        msg.starts_with("charmcraft.yaml:3:3: storage.disk-2: invalid storage name \"disk-2\""),
        "{msg}"
    );
    let msg = unified_err("name: x\nactions:\n  do_it: {}\n");
    assert!(
        msg.starts_with("charmcraft.yaml:3:3: actions.do_it: invalid action name \"do_it\""),
        "{msg}"
    );
    let msg = unified_err("name: x\ncontainers:\n  -c: {}\n");
    assert!(msg.contains("invalid container name \"-c\""), "{msg}");
    let msg = unified_err("name: My Charm\n");
    assert!(
        msg.starts_with("charmcraft.yaml:1:7: name: invalid charm name \"My Charm\""),
        "{msg}"
    );
    let msg = split_err("name: x\n", None, Some("Bad: {}\n"));
    assert!(
        msg.starts_with("actions.yaml:1:1: Bad: invalid action name"),
        "{msg}"
    );
}

#[test]
fn error_duplicate_endpoints() {
    let msg = unified_err(
        "name: x\nrequires:\n  db: {interface: pg}\nprovides:\n  db: {interface: pg}\n",
    );
    assert_eq!(
        msg,
        "charmcraft.yaml:5:3: provides.db: duplicate endpoint name \"db\" (already declared as requires.db at 3:3)"
    );
    let msg = split_err(
        "name: x\nprovides:\n  cluster: {interface: a}\npeers:\n  cluster: {interface: b}\n",
        None,
        None,
    );
    assert!(
        msg.starts_with("metadata.yaml:5:3: peers.cluster: duplicate endpoint name \"cluster\""),
        "{msg}"
    );
}

#[test]
fn odd_inputs_are_errors_not_panics() {
    for yaml in [
        "",
        "~",
        "42",
        "[]",
        "name:",
        "name: [a]",
        "name: x\nrequires: []",
        "name: x\nrequires: {3: {interface: a}}",
        "name: x\nstorage: {d: {type: block, multiple: {range: -1}}}",
        "name: x\nconfig: {options: {p: {type: int, default: 123456789012345678901234}}}",
        "--- {name: a}\n--- {name: b}\n",
        "name: &a x\nrequires: *a",
        "name: x\nassumes: {k8s-api: 1}",
    ] {
        let e = unified(yaml).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("charmcraft.yaml:"), "{yaml:?}: {msg}");
        assert!(e.position().is_some(), "{yaml:?}: {msg}");
    }
}

// ---------------------------------------------------------------------------------------
// FuzzConfig

#[test]
fn fuzz_config_from_charmfuzz_toml() {
    let dir = fixture("machine");
    let c = FuzzConfig::load(&dir).unwrap();
    assert_eq!(c.substrate, Some(Substrate::Machine));
    assert_eq!(c.engine.juju_version, JujuVersion::new(3, 6, 4));
    assert_eq!(c.engine.max_peers, 2);
    assert_eq!(
        c.engine.max_remote_units, 3,
        "unset engine keys keep their defaults"
    );
    assert_eq!(c.weight(ActionKind::StorageAdded), Some(3));
    assert_eq!(c.weight(ActionKind::CollectMetricsTimer), Some(1));
    assert_eq!(c.weight(ActionKind::Config), None);
    assert_eq!(
        c.samples.config["listen-port"],
        [json!(0), json!(80), json!(65535)]
    );
    assert_eq!(c.samples.config["maintenance"], [json!(true), json!(false)]);
    assert_eq!(c.target["python"].as_str(), Some("/usr/bin/python3"));
}

#[test]
fn fuzz_config_from_pyproject_toml() {
    let c = FuzzConfig::load(&fixture("k8s-rich")).unwrap();
    assert_eq!(c.substrate, Some(Substrate::Kubernetes));
    assert_eq!(c.engine.juju_version, JujuVersion::new(3, 4, 0));
    assert!(c.engine.teardown_at_end);
    assert_eq!(c.weight(ActionKind::Config), Some(5));
    assert_eq!(c.weight(ActionKind::RunAction), Some(0));
    assert_eq!(c.weight(ActionKind::LeadershipLost), Some(2));
    assert_eq!(c.samples.notice_keys, ["example.com/reload"]);
    assert_eq!(c.samples.strings, ["", "admin"]);
    assert_eq!(c.samples.secrets[0]["password"], "hunter2");
    assert_eq!(c.samples.config["log-level"].len(), 3);
    assert_eq!(
        c.samples.relation["postgresql_client"][0]["database"],
        "app"
    );
    assert_eq!(c.samples.checks["workload"], ["alive", "ready"]);
    assert!(c.target.is_empty());
}

#[test]
fn fuzz_config_precedence_and_defaults() {
    let tmp = tempfile::tempdir().unwrap();
    // Neither file: defaults.
    assert_eq!(FuzzConfig::load(tmp.path()).unwrap(), FuzzConfig::default());
    // pyproject.toml without [tool.charmfuzz]: defaults.
    write(
        tmp.path(),
        "pyproject.toml",
        "[project]\nname = \"x\"\n[tool.black]\nline-length = 99\n",
    );
    assert_eq!(FuzzConfig::load(tmp.path()).unwrap(), FuzzConfig::default());
    write(
        tmp.path(),
        "pyproject.toml",
        "[tool.charmfuzz.weights]\nconfig = 1\n",
    );
    assert_eq!(
        FuzzConfig::load(tmp.path())
            .unwrap()
            .weight(ActionKind::Config),
        Some(1)
    );
    // charmfuzz.toml wins.
    write(tmp.path(), "charmfuzz.toml", "[weights]\nconfig = 9\n");
    assert_eq!(
        FuzzConfig::load(tmp.path())
            .unwrap()
            .weight(ActionKind::Config),
        Some(9)
    );
}

#[test]
fn fuzz_config_unknown_key_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "charmfuzz.toml",
        "[engine]\njuju-version = \"3.6\"\n\n[wieghts]\nconfig = 1\n",
    );
    let e = FuzzConfig::load(tmp.path()).unwrap_err();
    let msg = e.to_string();
    let file = tmp.path().join("charmfuzz.toml").display().to_string();
    assert!(matches!(e, FuzzConfigError::Invalid { .. }));
    assert!(msg.starts_with(&format!("{file}: ")), "{msg}");
    assert!(msg.contains("line 4"), "{msg}");
    assert!(msg.contains("wieghts"), "{msg}");

    let msg = FuzzConfig::from_toml_str("charmfuzz.toml", "[engine]\njuju-verison = \"3.6\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("charmfuzz.toml: ")
            && msg.contains("line 2")
            && msg.contains("juju-verison"),
        "{msg}"
    );

    let msg = FuzzConfig::from_toml_str("charmfuzz.toml", "[samples]\nnotice_keys = []\n")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("notice_keys"), "{msg}");

    // In pyproject.toml the position is still that of the pyproject file.
    write(tmp.path(), "charmfuzz.toml", "");
    fs::remove_file(tmp.path().join("charmfuzz.toml")).unwrap();
    write(
        tmp.path(),
        "pyproject.toml",
        "[project]\nname = \"x\"\n\n[tool.charmfuzz]\nsubstrate = \"lxd\"\n",
    );
    let msg = FuzzConfig::load(tmp.path()).unwrap_err().to_string();
    assert!(msg.contains("pyproject.toml: "), "{msg}");
    assert!(msg.contains("line 5"), "{msg}");
    assert!(msg.contains("lxd"), "{msg}");
}

#[test]
fn fuzz_config_bad_values() {
    let msg = FuzzConfig::from_toml_str("charmfuzz.toml", "[engine]\njuju-version = \"2.9\"\n")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("line 2") && msg.contains("2.9"), "{msg}");
    let msg = FuzzConfig::from_toml_str("charmfuzz.toml", "[weights]\nconfig = -1\n")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("line 2"), "{msg}");
    let msg = FuzzConfig::from_toml_str("charmfuzz.toml", "weights = [\n")
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with("charmfuzz.toml: "), "{msg}");
}

// ---------------------------------------------------------------------------------------
// No input makes the reader panic, and every error names file and position.

mod no_panics {
    use super::*;
    use proptest::prelude::*;

    /// Characters that matter to YAML, plus some letters and digits.
    const ALPHABET: &[u8] = b" \n\t:-?[]{},#&*!|>'\"%@`~.0123456789abyonfeINxs_";

    fn check(result: Result<CharmSpec, SpecError>, file: &str) {
        if let Err(e) = result {
            let msg = e.to_string();
            assert!(msg.starts_with(file), "{msg}");
            assert!(e.position().is_some(), "{msg}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn random_text(bytes in proptest::collection::vec(proptest::sample::select(ALPHABET), 0..200)) {
            let text = String::from_utf8(bytes).unwrap();
            check(CharmSpec::from_unified_str("charmcraft.yaml", &text), "charmcraft.yaml");
            let with_name = format!("name: x\n{text}");
            check(CharmSpec::from_unified_str("charmcraft.yaml", &with_name), "charmcraft.yaml");
        }

        /// Random edits of a real, rich charmcraft.yaml.
        #[test]
        fn mutated_fixture(edits in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..8, proptest::sample::select(ALPHABET)), 1..6)) {
            let mut text = fs::read(fixture("k8s-rich").join("charmcraft.yaml")).unwrap();
            for (at, delete, insert) in edits {
                let i = at.index(text.len());
                let end = (i + delete).min(text.len());
                text.splice(i..end, [insert]);
            }
            let text = String::from_utf8_lossy(&text).into_owned();
            check(CharmSpec::from_unified_str("charmcraft.yaml", &text), "charmcraft.yaml");
        }
    }
}
