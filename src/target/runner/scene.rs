//! Capturing the unit just before a hook, for a reproducer (see [`crate::repro`]).

use super::{Target, TargetError};
use crate::engine::{Event, World};
use crate::repro::{CheckScene, ContainerScene, ExecScene, NoticeScene, Scene};
use crate::target::hooktools::HookContext;
use crate::target::pebble::FsEntry;
use std::collections::BTreeMap;
use std::path::Path;

/// How far the workload's logs had come before a hook ([`Target::workload_marks`]).
pub(super) struct WorkloadMarks {
    /// Execs logged, per container.
    execs: BTreeMap<String, usize>,
    /// Requests the workload's API answered.
    http: usize,
}

/// Files larger than this are left out of a reproducer (and named in its notes).
const MAX_FILE: usize = 64 << 10;

impl Target {
    /// The unit as `event` (just delivered by `world`, not run yet) will find it.
    ///
    /// What the workload's programs will answer is only known once the hook has asked:
    /// [`Target::workload_marks`] before the hook and [`Target::add_execs`] and
    /// [`Target::add_http`] after it fill that in.
    pub(super) fn capture_scene(
        &mut self,
        world: &World,
        event: &Event,
    ) -> Result<Scene, TargetError> {
        let mut scene = Scene::default();
        let ctx = HookContext::begin(world, &self.agent, event);
        ctx.scene(event, &mut scene);
        scene.workload_version = self.agent.workload_version.clone();
        if let Some(w) = self.worker.as_mut() {
            scene.unit_state = w.read_scene()?;
        }
        let pebble = self.pebble.as_ref().map(|p| p.snapshot()).transpose()?;
        for c in &world.containers {
            let mut cs = ContainerScene {
                name: c.name.clone(),
                can_connect: c.up,
                ..ContainerScene::default()
            };
            if let Some(snap) = pebble.as_ref().and_then(|p| p.containers.get(&c.name)) {
                for layer in &snap.plan.layers {
                    let only = crate::target::pebble::Plan {
                        layers: Vec::new(),
                        services: layer.services.clone(),
                        checks: layer.checks.clone(),
                        log_targets: layer.log_targets.clone(),
                    };
                    cs.layers.push((layer.label.clone(), only.to_yaml()));
                }
                for (name, rt) in &snap.services {
                    let status = rt.state.status().as_str();
                    if status == "backoff" {
                        scene.gaps.push(format!(
                            "service {name} in container {} keeps exiting (Pebble: backoff): \
                             ops.testing has no such status, so it is inactive",
                            c.name
                        ));
                    }
                    cs.service_statuses.insert(name.clone(), status.to_string());
                }
                if snap.faults.disk_full {
                    scene.gaps.push(format!(
                        "container {}'s filesystem is full (its writes fail): \
                         ops.testing's container writes always succeed",
                        c.name
                    ));
                }
                for (name, ck) in &snap.checks {
                    cs.checks.push(CheckScene {
                        name: name.clone(),
                        level: ck.level.clone(),
                        startup: ck.startup.clone(),
                        status: ck.status.as_str().to_string(),
                        failures: ck.failures,
                        threshold: ck.threshold,
                    });
                }
                for n in snap.notices.iter().filter(|n| n.type_ == "custom") {
                    cs.notices.push(NoticeScene {
                        id: n.id.clone(),
                        key: n.key.clone(),
                    });
                }
                for (path, entry) in &snap.fs.entries {
                    // An empty directory (the image's, or one the charm made) is there in
                    // the reproducer too: "path/".
                    let empty_dir = |p: &str| {
                        let prefix = format!("{}/", p.trim_end_matches('/'));
                        !(snap.fs.entries.range(prefix.clone()..))
                            .next()
                            .is_some_and(|(q, _)| q.starts_with(&prefix))
                    };
                    if matches!(entry, FsEntry::Dir { .. }) && path != "/" && empty_dir(path) {
                        cs.files.insert(format!("{path}/"), Vec::new());
                    }
                    if let FsEntry::File { content, .. } = entry {
                        if content.len() > MAX_FILE {
                            scene.gaps.push(format!(
                                "{path} in container {} ({} bytes, too big to inline)",
                                c.name,
                                content.len()
                            ));
                        } else {
                            cs.files.insert(path.clone(), content.clone());
                        }
                    }
                }
            }
            scene.containers.push(cs);
        }
        if !scene.kubernetes {
            for (name, a) in &self.config.shims {
                scene
                    .host
                    .shims
                    .insert(name.clone(), (a.exit, a.stdout.clone()));
            }
            if self.host.is_some() {
                for p in host_fake::PROGRAMS {
                    scene.host.shims.entry(p.to_string()).or_default();
                }
            }
            for w in self.config.writable.iter().filter(|w| w.is_absolute()) {
                scene.host.writable.push(w.display().to_string());
                let view = self.sandbox.writable_view(w);
                collect_files(&view, w, &mut scene);
            }
        }
        Ok(scene)
    }

    /// How far each container's Pebble exec log, and the workload's API log, have come
    /// in this input.
    pub(super) fn workload_marks(&self) -> Result<WorkloadMarks, TargetError> {
        let mut execs = BTreeMap::new();
        if let Some(p) = &self.pebble {
            for c in p.container_names() {
                let n = p.exec_log(&c)?.len();
                execs.insert(c, n);
            }
        }
        let http = self.workload_http.as_ref().map_or(0, |h| h.served_count());
        Ok(WorkloadMarks { execs, http })
    }

    /// What the workload's API answered the hook since `marks`: `ops.testing` runs the
    /// charm with no network, so each is a gap (the reproducer's charm meets whatever
    /// its own machine has on that port).
    pub(super) fn add_http(&self, scene: &mut Scene, marks: &WorkloadMarks) {
        let Some(h) = &self.workload_http else {
            return;
        };
        for s in h.served_since(marks.http) {
            let answer = match s.status {
                0 => "never answered".to_string(),
                n => format!("answered with {n}"),
            };
            let gap = format!(
                "the workload's API {answer} `{} localhost:{}{}` \
                 ([[target.http]]): ops.testing has no workload to serve it",
                s.method, s.port, s.path
            );
            if !scene.gaps.contains(&gap) {
                scene.gaps.push(gap);
            }
        }
    }

    /// The execs the hook ran since `marks`, into the scene's containers: each command
    /// once, with what answered it. What `ops.testing`'s `Exec` cannot say (a command
    /// refused, one that never exited, a command answered differently within the hook)
    /// becomes a gap.
    pub(super) fn add_execs(
        &self,
        scene: &mut Scene,
        marks: &WorkloadMarks,
    ) -> Result<(), TargetError> {
        let Some(p) = &self.pebble else {
            return Ok(());
        };
        let answers = self.config.exec_answers();
        for cs in &mut scene.containers {
            let Some(&mark) = marks.execs.get(&cs.name) else {
                continue;
            };
            let log = p.exec_log(&cs.name)?;
            for r in log.iter().skip(mark) {
                let shown = r.command.join(" ");
                if let Some(e) = &r.error {
                    scene.gaps.push(format!(
                        "`{shown}` in container {} ended without an exit code ({e}): \
                         ops.testing's Exec always exits",
                        cs.name
                    ));
                    continue;
                }
                let answer = r.answer.and_then(|i| answers.answers.get(i));
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                let exec = ExecScene {
                    command: r.command.clone(),
                    return_code: r.exit_code.or(answer.map(|a| a.exit_code)).unwrap_or(0),
                    stdout: answer.map(|a| text(&a.stdout)).unwrap_or_default(),
                    stderr: answer.map(|a| text(&a.stderr)).unwrap_or_default(),
                };
                match cs.execs.iter().find(|e| e.command == exec.command) {
                    None => cs.execs.push(exec),
                    Some(first) if *first != exec => scene.gaps.push(format!(
                        "`{shown}` in container {} answered differently within the hook: \
                         ops.testing's Exec gives each command one answer (the first is used)",
                        cs.name
                    )),
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }
}

/// The files under `dir` (the charm's `as_path`), into the scene's host files.
fn collect_files(dir: &Path, as_path: &Path, scene: &mut Scene) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let (p, shown) = (e.path(), as_path.join(e.file_name()));
        match e.file_type() {
            Ok(t) if t.is_dir() => collect_files(&p, &shown, scene),
            Ok(t) if t.is_file() => match std::fs::read(&p) {
                Ok(c) if c.len() <= MAX_FILE => {
                    scene.host.files.insert(shown.display().to_string(), c);
                }
                _ => scene.gaps.push(format!(
                    "{} on the host (too big or unreadable to inline)",
                    shown.display()
                )),
            },
            _ => {}
        }
    }
}
