//! Playing a story: the engine's driver hands out events one at a time, each is run in
//! the charm, and what the charm did (and what its workloads now do) completes it, so
//! that the next event follows from the charm's real behaviour. Between events the fake
//! Pebble is kept in step with what happened to the workloads in the engine's world.

use super::{Progress, Target, TargetError};
use crate::engine::action::Effect;
use crate::engine::{Action, Driver, Step, Tape, WorkloadFault, World};
use crate::target::outcome::{EventOutcome, Finding, FindingClass};
use crate::target::pebble::ServiceState;
use std::collections::BTreeMap;

impl Target {
    /// Deliver the driver's events to the charm one by one, completing each with what the
    /// charm did, until the story ends (or a finding ends it). `progress` is what the input
    /// has played already (nothing, or a resumed prefix's); with the input's `bytes` and the
    /// prefix cache on, the unit is kept at each event boundary ([`super::prefix`]).
    pub(super) fn drive<T: Tape>(
        &mut self,
        d: &mut Driver<'_, T>,
        mut progress: Progress,
        bytes: Option<&[u8]>,
    ) -> Result<Progress, TargetError> {
        let resumed_at = d.position();
        // Hook time played since the last snapshot was taken (see `snapshot_due`).
        let mut since_snapshot = 0.0;
        let mut events_since_snapshot = 0;
        loop {
            if let Some(bytes) = bytes.filter(|_| self.prefix_cache.is_some())
                && self.scene_before.is_none()
                && progress.finding.is_none()
                && d.position() > resumed_at
                && self.snapshot_due(
                    since_snapshot,
                    events_since_snapshot,
                    bytes.len() - d.position(),
                )
                && let Some(state) = d.save()
            {
                self.take_prefix(bytes, state, &progress)?;
                since_snapshot = 0.0;
                events_since_snapshot = 0;
            }
            let Some(event) = d.next_event()? else {
                break;
            };
            let Progress {
                outcomes,
                finding,
                environment,
                failures_in_a_row,
            } = &mut progress;
            // What happened to the machine and the workloads since the last event.
            let steps = &d.trace().steps;
            let new = &steps[self.synced_steps.min(steps.len())..];
            self.sync_host(new);
            self.sync_workloads(new, d.world())?;
            self.synced_steps = steps.len();
            // A reproducer's scene is the unit before the event, with what the workload's
            // programs answered the hook: the hook runs (the last one too, with workload
            // containers) to learn that.
            let mut scene = None;
            if let Some(k) = self.scene_before {
                if self.scene_every_event || k == outcomes.len() {
                    let marks = self.workload_marks()?;
                    scene = Some((self.capture_scene(d.world(), &event)?, marks));
                }
                if k == outcomes.len() && self.pebble.is_none() {
                    self.scenes.extend(scene.map(|(s, _)| s));
                    break;
                }
            }
            let out = self.run_event(d.world(), &event)?;
            if let Some((mut s, marks)) = scene {
                self.add_execs(&mut s, &marks)?;
                self.add_http(&mut s, &marks);
                self.scenes.push(s);
            }
            if self.scene_before == Some(outcomes.len()) {
                break;
            }
            if let Some(cov) = self.coverage.as_mut().filter(|_| self.lifecycle_features) {
                cov.record_event(outcomes.last().map(|o| &**o), &out);
            }
            let mut effects = out.agent.effects.clone();
            effects.extend(self.pebble_effects(d.world())?);
            effects.extend(self.host_effects(d.world()));
            d.complete(out.agent.result, effects)?;
            let step = d.trace().steps.len() - 1;
            if let Some(cov) = self.coverage.as_mut() {
                // Where in the story each slot was first hit: the frontier sweeps a
                // discovery from the step that made it (`fuzzing::Frontier`).
                cov.mark_step(step);
            }
            if finding.is_none() {
                *finding = Finding::from_outcome(&out, step, outcomes.len())
                    .filter(|f| self.only.as_deref().is_none_or(|p| f.matches(p)));
                if let Some(f) = finding
                    .take_if(|f| f.class == FindingClass::Environment && !self.environment_findings)
                {
                    environment.push(f);
                }
            }
            // Juju retries a failed hook until it passes or someone runs `juju resolved`;
            // past the end of the story nobody will, so give up on a hook that keeps
            // failing.
            let failed_again = !out.exit.ok()
                && outcomes
                    .last()
                    .is_some_and(|p: &std::sync::Arc<EventOutcome>| {
                        !p.exit.ok() && p.hook == out.hook
                    });
            *failures_in_a_row = if failed_again {
                *failures_in_a_row + 1
            } else {
                0
            };
            since_snapshot += out.seconds;
            events_since_snapshot += 1;
            outcomes.push(std::sync::Arc::new(out));
            if finding.is_some() && self.stop_at_finding || *failures_in_a_row >= 3 {
                break;
            }
        }
        Ok(progress)
    }

    /// Apply to a machine charm's machine what happened to it in the `new` steps: a
    /// reboot, and the host's faults.
    fn sync_host(&self, new: &[Step]) {
        let Some(h) = &self.host else {
            return;
        };
        for step in new {
            match &step.action {
                Action::MachineRebooted => h.reboot(),
                Action::SnapRefreshFails { snap } => h.set_faults(|f| {
                    f.refresh_fails.insert(snap.clone());
                }),
                Action::SnapRefreshHeld { snap } => h.set_faults(|f| {
                    f.refresh_held.insert(snap.clone());
                }),
                Action::InstallFails => h.set_faults(|f| {
                    f.install_fails.insert("*".into());
                }),
                Action::HostDiskFull => h.set_faults(|f| f.disk_full = true),
                Action::HostRecovered => h.set_faults(|f| *f = Default::default()),
                Action::HostServiceFailed { service } => {
                    h.fail_service(service);
                }
                _ => {}
            }
        }
    }

    /// What the charm did to its machine that the world does not know yet: the snaps
    /// installed and the services running now (where that changed), for the host's faults.
    fn host_effects(&self, world: &World) -> Option<Effect> {
        let h = self.host.as_ref().filter(|_| world.opts.workload_faults)?;
        let (snaps, services) = h.snaps_and_services();
        let same = snaps.iter().eq(world.host.snaps.iter())
            && services.iter().eq(world.host.services.iter());
        (!same).then_some(Effect::HostChanged { snaps, services })
    }

    /// Apply to the fake Pebble what happened to the workloads in the `new` steps:
    /// containers starting and stopping, pods replaced, checks failing, notices.
    fn sync_workloads(&mut self, new: &[Step], world: &World) -> Result<(), TargetError> {
        let Some(p) = &self.pebble else {
            return Ok(());
        };
        for step in new {
            match &step.action {
                Action::PodRecreated | Action::Refresh => {
                    for c in p.container_names() {
                        p.restart(&c, true)?;
                    }
                    self.notice_ids.clear();
                }
                // Kubernetes restarted the container: a new Pebble, and a new writable
                // layer (only mounted storage survives).
                Action::WorkloadStarted { container } => {
                    p.restart(container, true)?;
                    self.notice_ids.retain(|(c, _), _| c != container);
                }
                Action::WorkloadStopped { container } => p.down(container)?,
                Action::CheckFailed { container, check } => {
                    p.fail_check(container, check, "check failed")?;
                }
                Action::CheckRecovered { container, check } => {
                    p.recover_check(container, check)?;
                }
                // Pebble keeps restarting a service that keeps exiting: `backoff`.
                Action::ServiceExited { container, service } => {
                    p.set_service_state(container, service, ServiceState::Backoff)?;
                }
                Action::WorkloadFault { container, fault } => {
                    p.set_faults(container, |f| match fault {
                        WorkloadFault::ExecFails => f.exec_fails = true,
                        WorkloadFault::ApiErrors => f.api_errors = true,
                        WorkloadFault::ApiHangs => f.api_hangs = true,
                        WorkloadFault::DiskFull => f.disk_full = true,
                    })?;
                }
                Action::CustomNotice { container, key, .. } => {
                    let id = p.add_workload_notice(container, key, BTreeMap::new())?;
                    self.notice_ids.insert((container.clone(), key.clone()), id);
                }
                _ => {}
            }
        }
        for c in &world.containers {
            if p.is_up(&c.name)? != c.up {
                if c.up {
                    p.up(&c.name)?
                } else {
                    p.down(&c.name)?
                }
            }
        }
        Ok(())
    }

    /// What the charm did in its containers' Pebble that the world does not know yet:
    /// checks its layers declared, and (for the workload's faults) which services run
    /// now (it started or stopped some; failed hooks too: Pebble keeps what it did).
    fn pebble_effects(&self, world: &World) -> Result<Vec<Effect>, TargetError> {
        let Some(p) = &self.pebble else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for c in &world.containers {
            let new: Vec<String> = (p.check_names(&c.name)?.into_iter())
                .filter(|k| !c.checks.contains_key(k))
                .collect();
            if !new.is_empty() {
                out.push(Effect::ChecksDeclared {
                    container: c.name.clone(),
                    checks: new,
                });
            }
            if world.opts.workload_faults && c.up {
                let running = p.running_services(&c.name)?;
                if running != c.running {
                    out.push(Effect::ServicesRunning {
                        container: c.name.clone(),
                        services: running.into_iter().collect(),
                    });
                }
            }
        }
        Ok(out)
    }
}
