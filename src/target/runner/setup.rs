//! Deploying the unit ([`Target::new`]): the sandbox with its copy of the charm laid out
//! as Juju's unit agent lays it out, the hook tools, and the servers standing in for the
//! workloads (Pebble), the cluster (Kubernetes) and the workload's own HTTP API.

use super::embedded::{jujuc_script, packed_dispatch};
use super::python::{PythonSource, find_python};
use super::{Target, TargetError, io};
use crate::charm::Charm;
use crate::spec::{CharmSpec, Substrate};
use crate::target::cgroup::ProcessLimit;
use crate::target::config::{Mode, TargetConfig};
use crate::target::hooktools::{TOOLS, UnitAgent};
use crate::target::host::{self, FakeHost, SandboxFs};
use crate::target::kube::KubeApi;
use crate::target::kube::store::PodContainer;
use crate::target::pebble::{ContainerImage, FakePebble, PebbleConfig};
use crate::target::sandbox::{Places, Sandbox};
use crate::target::workload_http::{self, HttpConfigError, WorkloadHttp};
use std::collections::BTreeMap;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

impl Target {
    /// Set up a unit of `charm`, run from the charm's own directory ([`Charm::dir`]).
    /// `jujuc` is the multi-call hook-tool binary (the `charmfuzz` executable); without one,
    /// a small Python script stands in.
    pub fn new(
        charm: Charm,
        config: TargetConfig,
        jujuc: Option<&Path>,
    ) -> Result<Target, TargetError> {
        // Checks exist when the charm's layers declare them in the real Pebble (the
        // samples in the fuzzing config are for stories told without a charm).
        let charm = charm.for_target();
        let charm_dir = charm.dir.clone();
        let charm_dir = charm_dir.as_path();
        let spec = charm.spec.clone();
        let mut places = Places {
            writable: writable_places(&spec, &config),
            ..Places::default()
        };
        if spec.substrate == Substrate::Machine {
            host::machine_places(&mut places, jujuc);
        }
        let mut sandbox = Sandbox::create_with(charm_dir, config.containment, &places)?;
        let (python, python_source) = find_python(charm_dir, config.python.as_deref())?;
        // The interpreter's environment (a venv's root is two levels up), the charm's
        // source (its venv/ is linked, not copied) and the jujuc binary stay visible.
        if let Some(env_root) = python.parent().and_then(Path::parent) {
            sandbox.expose(env_root);
        }
        sandbox.expose(charm_dir);
        if let Some(j) = jujuc {
            sandbox.expose(j);
        }
        let entry_rel = match &config.entry {
            Some(e) => e.clone(),
            None => entry_from_dispatch(charm_dir),
        };
        let entry = sandbox.charm_dir().join(&entry_rel);
        lay_out_charm(&sandbox, &spec, charm_dir)?;
        write_dispatch(&sandbox, &config, charm_dir, &python, &entry_rel)?;
        install_hook_tools(&sandbox, &spec, &config, jujuc, &python)?;
        let listener = UnixListener::bind(sandbox.agent_socket())
            .map_err(io("binding the unit agent's socket"))?;
        listener
            .set_nonblocking(true)
            .map_err(io("configuring the agent socket"))?;
        let pebble = start_pebble(&sandbox, &spec, &config)?;
        let kube = start_kube(&sandbox, &spec)?;
        let host = start_host(&sandbox, &spec, &config, jujuc)?;
        let workload_http = start_workload_http(&spec, &config, kube.is_some(), pebble.as_ref())?;
        let agent = UnitAgent::new(sandbox.root().join("resources"));
        let processes = ProcessLimit::create(config.max_processes).ok();
        let mut t = Target {
            charm,
            config,
            sandbox,
            listener,
            pebble,
            host,
            host_program: jujuc.map(Path::to_path_buf),
            kube,
            workload_http,
            worker: None,
            python,
            entry,
            source_dir: std::path::absolute(charm_dir).unwrap_or_else(|_| charm_dir.to_path_buf()),
            agent,
            synced_steps: 0,
            notice_ids: BTreeMap::new(),
            stop_at_finding: true,
            only: None,
            environment_findings: false,
            scene_before: None,
            scene_every_event: false,
            scenes: Vec::new(),
            prefix_cache: None,
            prefix_settings_seen: None,
            want_state: true,
            worker_starts: 0,
            coverage: None,
            coverage_ops: false,
            lines: None,
            lifecycle_features: true,
            processes,
            idle_processes: 0,
        };
        t.start_worker()?;
        t.check_environment(charm_dir, python_source)?;
        t.sandbox
            .take_baseline()
            .map_err(io("recording the sandbox's writable places"))?;
        Ok(t)
    }

    /// The charm's environment is the one it would have packed, or the user chose: a
    /// fallback interpreter must have the `ops` the charm pins, and every charm library
    /// the charm imports must be there (the worker imported them).
    fn check_environment(&self, charm_dir: &Path, source: PythonSource) -> Result<(), TargetError> {
        let Some(info) = self.worker_info() else {
            return Ok(());
        };
        if let Some(lib) = info.missing_libs.first() {
            return Err(TargetError::MissingCharmLib {
                libs: info.missing_libs.join(", "),
                first: lib.clone(),
                path: lib.replace('.', "/"),
                charm: charm_dir.display().to_string(),
            });
        }
        if source == PythonSource::Fallback
            && let Some((pinned, file)) = crate::pyenv::pinned_ops(charm_dir)
            && pinned != info.ops
        {
            return Err(TargetError::OpsMismatch {
                pinned,
                file,
                python: self.python.display().to_string(),
                found: info.ops.clone(),
                charm: charm_dir.display().to_string(),
            });
        }
        Ok(())
    }
}

/// The charm's entry point as its `dispatch` names it (`src/charm.py` by default).
fn entry_from_dispatch(charm_dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(charm_dir.join("dispatch")).unwrap_or_default();
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .filter(|w| w.ends_with(".py"))
        .map(|w| w.trim_start_matches("./"))
        .find(|w| !w.contains('$') && !w.starts_with('/'))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("src/charm.py"))
}

/// The places the charm may write to, besides its own directory: the configured ones,
/// and those a unit of this charm has on its machine or in its container.
fn writable_places(spec: &CharmSpec, config: &TargetConfig) -> Vec<PathBuf> {
    let mut writable = config.writable.clone();
    if spec.substrate == Substrate::Kubernetes {
        // The charm container's root filesystem is writable on Kubernetes (the
        // container's own layer), and charms that trust a CA write it where the
        // system's trust store takes it from.
        writable.push(PathBuf::from("/usr/local/share/ca-certificates"));
    }
    for s in &spec.storage {
        if let Some(loc) = &s.location {
            writable.push(PathBuf::from(loc));
        }
    }
    writable
}

/// The charm's copy in the sandbox, and around it what the unit agent leaves on a unit:
/// the pod's service account, `.juju-charm`, the expanded `charmcraft.yaml` and the
/// agent's own link to the charm.
fn lay_out_charm(sandbox: &Sandbox, spec: &CharmSpec, charm_dir: &Path) -> Result<(), TargetError> {
    let kubernetes = spec.substrate == Substrate::Kubernetes;
    if kubernetes && sandbox.contained() {
        let sa = sandbox.writable_view(Path::new(crate::target::pod::SERVICE_ACCOUNT));
        crate::target::pod::write_service_account(&sa, crate::engine::world::MODEL_NAME)
            .map_err(io("writing the pod's service account"))?;
    }
    // Juju's unit agent keeps the charm in its own directory, with `.juju-charm`
    // naming the charm's URL (a local charm's: `local:<name>-<revision>`); libraries
    // read the revision there by that path. Inside the walls the path leads to the
    // sandbox's copy, which the environment's JUJU_CHARM_DIR names too.
    std::fs::write(
        sandbox.charm_dir().join(".juju-charm"),
        format!("local:{}-0\n", spec.name),
    )
    .map_err(io("writing the charm's .juju-charm"))?;
    // A charm built with charmcraft's extensions (12-factor apps) is packed with them
    // expanded; its copy carries the expanded charmcraft.yaml, so the split files ops
    // reads are made of what the engine read.
    if let Some(expanded) = crate::spec::CharmSpec::expanded_charmcraft(charm_dir)? {
        std::fs::write(sandbox.charm_dir().join("charmcraft.yaml"), expanded)
            .map_err(io("writing the charm's expanded charmcraft.yaml"))?;
    }
    if sandbox.contained() {
        let link = sandbox.writable_view(Path::new(&format!(
            "/var/lib/juju/agents/unit-{}-0/charm",
            spec.name.replace('/', "-")
        )));
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent).map_err(io("making the unit agent's directory"))?;
        }
        std::os::unix::fs::symlink(sandbox.charm_dir(), &link)
            .map_err(io("linking the unit agent's charm directory"))?;
    }
    Ok(())
}

/// Check that the charm's entry point exists where it must, and give a source tree the
/// `dispatch` charmcraft would have packed.
fn write_dispatch(
    sandbox: &Sandbox,
    config: &TargetConfig,
    charm_dir: &Path,
    python: &Path,
    entry_rel: &Path,
) -> Result<(), TargetError> {
    let entry = sandbox.charm_dir().join(entry_rel);
    let has_dispatch = charm_dir.join("dispatch").is_file();
    if (config.mode == Mode::Fork || !has_dispatch) && !entry.is_file() {
        return Err(TargetError::NoEntry(charm_dir.join(entry_rel)));
    }
    if !has_dispatch {
        // A charm's source tree has no `dispatch`: charmcraft writes it at pack time.
        // The one charmcraft would write goes into the sandbox's copy (the user's tree
        // is left alone), with the charm's interpreter. Exec mode runs it; in fork mode
        // its presence is what tells ops that Juju dispatches (ops 2.x otherwise takes
        // the charm for a legacy one and writes a hooks/ symlink per event, which
        // collide between the charm's observers on some charms).
        let path = sandbox.charm_dir().join("dispatch");
        std::fs::write(&path, packed_dispatch(python, entry_rel))
            .and_then(|()| {
                std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            })
            .map_err(io("writing the charm's dispatch"))?;
    }
    Ok(())
}

/// Hook tools and shims, all one program.
fn install_hook_tools(
    sandbox: &Sandbox,
    spec: &CharmSpec,
    config: &TargetConfig,
    jujuc: Option<&Path>,
    python: &Path,
) -> Result<(), TargetError> {
    let machine = (spec.substrate == Substrate::Machine).then_some(host_fake::PROGRAMS);
    let names: Vec<&str> = TOOLS
        .iter()
        .copied()
        .chain(config.shims.keys().map(String::as_str))
        .chain(machine.into_iter().flatten().copied())
        .collect();
    let program = match jujuc {
        Some(p) => p.to_path_buf(),
        None => sandbox
            .write("jujuc.py", jujuc_script(python).as_bytes(), true)
            .map_err(io("writing the hook-tool script"))?,
    };
    sandbox
        .install_tools(&program, &names)
        .map_err(io("linking the hook tools"))?;
    Ok(())
}

/// A machine charm's machine: snapd, systemd, apt and dpkg with one state, snapd's API
/// on the socket the snap libraries use (inside the walls: there is no place for it
/// without them, and the host's own snapd must not be reached).
fn start_host(
    sandbox: &Sandbox,
    spec: &CharmSpec,
    config: &TargetConfig,
    jujuc: Option<&Path>,
) -> Result<Option<FakeHost>, TargetError> {
    if spec.substrate != Substrate::Machine {
        return Ok(None);
    }
    let layers = sandbox.layer_map();
    let fs = SandboxFs {
        layers: layers.clone(),
        program: jujuc.map(Path::to_path_buf),
    };
    // snapd's catalogue of store names, which the snap library reads when it is there
    // (empty: the library then asks the store, here the fake, name by name).
    if let Some(names) = layers
        .as_ref()
        .and_then(|l| l.locate(Path::new("/var/cache/snapd/names")))
    {
        let _ = std::fs::write(names, "");
    }
    // `uname -n` names the unit's machine, as the sandbox's hostname does.
    let mut host_config = config.host.clone();
    (host_config.hostname).get_or_insert_with(|| super::process::unit_hostname(spec));
    let source = host::snap_commands_in_source(&sandbox.charm_dir());
    for (snap, command) in source.pairs {
        let s = host_config.snaps.entry(snap).or_default();
        if !s.apps.contains(&command) && !s.services.contains(&command) {
            s.commands.push(command);
        }
    }
    host_config.source_words = source.words;
    host_config.source_services = source.services;
    let mut h = FakeHost::new(host_config, fs);
    if let Some(socket) = layers.and_then(|l| l.locate(Path::new(host::SNAPD_SOCKET))) {
        h.serve_snapd(&socket)?;
    }
    Ok(Some(h))
}

/// A fake Pebble for a Kubernetes charm's workload containers, with each container's
/// mounts and the image `[target.image.*]` describes.
fn start_pebble(
    sandbox: &Sandbox,
    spec: &CharmSpec,
    config: &TargetConfig,
) -> Result<Option<FakePebble>, TargetError> {
    if spec.substrate != Substrate::Kubernetes || spec.containers.is_empty() {
        return Ok(None);
    }
    let names: Vec<String> = spec.containers.iter().map(|c| c.name.clone()).collect();
    let p = FakePebble::start_with(
        sandbox.root(),
        &names,
        PebbleConfig {
            exec: config.exec_answers(),
            ..PebbleConfig::default()
        },
    )?;
    for c in &spec.containers {
        let keep: Vec<String> = c.mounts.iter().map(|m| m.location.clone()).collect();
        p.set_persistent_paths(&c.name, &keep)?;
    }
    for (name, image) in &config.image {
        if !names.contains(name) {
            return Err(TargetError::NoImageContainer {
                container: name.clone(),
                known: names.join(", "),
            });
        }
        let image = ContainerImage {
            dirs: image.dirs.clone(),
            files: (image.files.iter())
                .map(|(p, c)| (p.clone(), c.clone().into_bytes()))
                .collect(),
        };
        p.set_image(name, image)?;
    }
    Ok(Some(p))
}

/// The cluster's API and the socket the worker hands its listening socket over on, for a
/// Kubernetes charm inside the walls.
fn start_kube(
    sandbox: &Sandbox,
    spec: &CharmSpec,
) -> Result<Option<(KubeApi, UnixListener)>, TargetError> {
    if spec.substrate != Substrate::Kubernetes || !sandbox.contained() {
        return Ok(None);
    }
    let containers: Vec<PodContainer> = spec
        .containers
        .iter()
        .map(|c| PodContainer {
            name: c.name.clone(),
            image: c
                .resource
                .clone()
                .unwrap_or_else(|| format!("{}-image", c.name)),
        })
        .collect();
    let api = KubeApi::new(crate::engine::world::MODEL_NAME, &spec.name, &containers)
        .map_err(io("starting the Kubernetes API"))?;
    let handoff = UnixListener::bind(sandbox.root().join("kube-handoff.sock"))
        .map_err(io("binding the Kubernetes API's hand-over socket"))?;
    Ok(Some((api, handoff)))
}

/// The workload's HTTP API (`[[target.http]]`), served beside the Kubernetes API, and
/// told by Pebble which services run.
fn start_workload_http(
    spec: &CharmSpec,
    config: &TargetConfig,
    kube: bool,
    pebble: Option<&FakePebble>,
) -> Result<Option<Arc<WorkloadHttp>>, TargetError> {
    let Some(first) = config.http.first() else {
        return Ok(None);
    };
    if spec.containers.is_empty() {
        return Err(HttpConfigError::NoContainers { port: first.port }.into());
    }
    if !kube {
        return Err(HttpConfigError::NotContained { port: first.port }.into());
    }
    let names: Vec<String> = spec.containers.iter().map(|c| c.name.clone()).collect();
    let http = Arc::new(
        WorkloadHttp::new(workload_http::plan(&config.http, &names)?)
            .map_err(io("starting the workload's HTTP API"))?,
    );
    if let Some(p) = pebble {
        p.set_service_watch(http.clone());
    }
    Ok(Some(http))
}
