//! Generators for workloads: which container's Pebble comes up or goes down, which notice
//! it records, which check fails or recovers, which service exits, which fault the
//! workload takes on.

use super::{Driver, EncodeError, Tape};
use crate::engine::action::{Action, ActionKind, WorkloadFault};

impl<T: Tape> Driver<'_, T> {
    pub(super) fn gen_workloads(
        &mut self,
        kind: ActionKind,
        target: Option<&Action>,
    ) -> Result<Action, EncodeError> {
        use Action as A;
        use ActionKind as K;
        let w = &self.world;
        Ok(match kind {
            K::WorkloadStarted | K::WorkloadStopped => {
                let up = kind == K::WorkloadStopped;
                let names: Vec<String> = w
                    .containers
                    .iter()
                    .filter(|c| c.up == up)
                    .map(|c| c.name.clone())
                    .collect();
                let want = match target {
                    Some(A::WorkloadStarted { container } | A::WorkloadStopped { container }) => {
                        Some(container)
                    }
                    _ => None,
                };
                let container = names[self.pick("container", &names, want)?].clone();
                if up {
                    A::WorkloadStopped { container }
                } else {
                    A::WorkloadStarted { container }
                }
            }
            K::CustomNotice => self.gen_custom_notice(target)?,
            K::CheckFailed | K::CheckRecovered => {
                let choices = self.check_choices(kind == K::CheckRecovered);
                let names: Vec<String> = choices.iter().map(|(c, _)| c.clone()).collect();
                let (want_c, want_k) = match target {
                    Some(
                        A::CheckFailed { container, check }
                        | A::CheckRecovered { container, check },
                    ) => (Some(container), Some(check)),
                    _ => (None, None),
                };
                let ci = self.pick("container", &names, want_c)?;
                let checks = &choices[ci].1;
                let check = checks[self.pick("check", checks, want_k)?].clone();
                let container = names[ci].clone();
                if kind == K::CheckFailed {
                    A::CheckFailed { container, check }
                } else {
                    A::CheckRecovered { container, check }
                }
            }
            K::ServiceExited => {
                let up: Vec<(String, Vec<String>)> = (w.containers.iter())
                    .filter(|c| c.up && !c.running.is_empty())
                    .map(|c| (c.name.clone(), c.running.iter().cloned().collect()))
                    .collect();
                let names: Vec<String> = up.iter().map(|(c, _)| c.clone()).collect();
                let (want_c, want_s) = match target {
                    Some(A::ServiceExited { container, service }) => {
                        (Some(container), Some(service))
                    }
                    _ => (None, None),
                };
                let ci = self.pick("container", &names, want_c)?;
                let services = &up[ci].1;
                let service = services[self.pick("service", services, want_s)?].clone();
                A::ServiceExited {
                    container: names[ci].clone(),
                    service,
                }
            }
            K::WorkloadFault => {
                let open: Vec<(String, Vec<WorkloadFault>)> = (w.containers.iter())
                    .map(|c| (c.name.clone(), c.possible_faults()))
                    .filter(|(_, f)| !f.is_empty())
                    .collect();
                let names: Vec<String> = open.iter().map(|(c, _)| c.clone()).collect();
                let (want_c, want_f) = match target {
                    Some(A::WorkloadFault { container, fault }) => (Some(container), Some(fault)),
                    _ => (None, None),
                };
                let ci = self.pick("container", &names, want_c)?;
                let faults = &open[ci].1;
                let fault = faults[self.pick("fault", faults, want_f)?];
                A::WorkloadFault {
                    container: names[ci].clone(),
                    fault,
                }
            }
            _ => unreachable!("{kind} is not a workload action"),
        })
    }

    /// A custom notice: a container whose Pebble is up, and a key (a repeat keeps its id).
    fn gen_custom_notice(&mut self, target: Option<&Action>) -> Result<Action, EncodeError> {
        use Action as A;
        let w = &self.world;
        let names: Vec<String> = w
            .containers
            .iter()
            .filter(|c| c.up)
            .map(|c| c.name.clone())
            .collect();
        let (want_c, want_k) = match target {
            Some(A::CustomNotice { container, key, .. }) => (Some(container), Some(key.as_str())),
            _ => (None, None),
        };
        let container = names[self.pick("container", &names, want_c)?].clone();
        let mut keys: Vec<String> = self
            .world
            .container(&container)
            .unwrap()
            .notices
            .keys()
            .cloned()
            .collect();
        for k in &self.vocab.notice_keys {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        let mut key = self.pick_string("notice key", &keys, want_k)?;
        if key.is_empty() {
            key = "charmfuzz.test/notice".into();
        }
        let c = self.world.container(&container).unwrap();
        let notice_id = c
            .notices
            .get(&key)
            .copied()
            .unwrap_or(self.world.next_notice_id());
        Ok(A::CustomNotice {
            container,
            key,
            notice_id,
        })
    }

    /// Containers and the checks that can fail (or recover) there.
    pub(super) fn check_choices(&self, failing: bool) -> Vec<(String, Vec<String>)> {
        self.world
            .containers
            .iter()
            .filter(|c| c.up)
            .map(|c| {
                let mut names: Vec<String> = c
                    .checks
                    .iter()
                    .filter(|(_, f)| **f == failing)
                    .map(|(n, _)| n.clone())
                    .collect();
                if !failing {
                    for n in self.vocab.checks.get(&c.name).into_iter().flatten() {
                        if !c.checks.contains_key(n) && !names.contains(n) {
                            names.push(n.clone());
                        }
                    }
                }
                (c.name.clone(), names)
            })
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }
}
