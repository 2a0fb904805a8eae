//! Ending a hook ([`HookContext::finish`]): Juju's flush rules. What went straight to the
//! controller stays whatever the hook's exit; what the hook buffered is committed only if
//! it exited 0, and dropped otherwise; the outcome records both.

use super::{
    ActionRecord, HookContext, LogRecord, Reboot, SecretGrant, Status, StatusRecord, StatusTarget,
    ToolCall, UnitAgent,
};
use crate::engine::action::{Databag, Effect, SecretOwner};
use crate::engine::event::{HookKind, HookResult};
use serde::Serialize;
use std::collections::BTreeMap;

/// A change the hook made that Juju applies (or, for a failed hook, drops).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum Change {
    RelationData {
        relation_id: u32,
        app: bool,
        data: Databag,
    },
    PortOpened {
        endpoint: String,
        port: String,
    },
    PortClosed {
        endpoint: String,
        port: String,
    },
    StorageAdded {
        storage: String,
        count: u32,
    },
    SecretCreated {
        id: String,
        owner: SecretOwner,
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
    SecretRevised {
        id: String,
        revision: u32,
    },
    SecretMetadata {
        id: String,
    },
    SecretRemoved {
        id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        revision: Option<u32>,
    },
    SecretGranted {
        id: String,
        grant: SecretGrant,
    },
    SecretRevoked {
        id: String,
        relation_id: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
    },
    StateSet {
        key: String,
        value: String,
    },
    StateDeleted {
        key: String,
    },
    Reboot {
        now: bool,
    },
    // Applied at once, whatever the exit status:
    WorkloadVersion {
        version: String,
    },
    LeaderSettings {
        data: BTreeMap<String, String>,
    },
    PodSpec {
        file: String,
    },
    Metric {
        key: String,
        value: String,
    },
}

/// What one event did, once its hook has ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HookOutcome {
    pub hook: String,
    pub result: HookResult,
    /// For [`World::complete`](crate::engine::world::World::complete): what the world must learn (empty of buffered effects when
    /// the hook failed).
    pub effects: Vec<Effect>,
    pub calls: Vec<ToolCall>,
    /// Changes applied: the buffered ones (hook exited 0) and the immediate ones.
    pub committed: Vec<Change>,
    /// Buffered changes dropped because the hook failed (or was rebooted away with `--now`).
    pub discarded: Vec<Change>,
    pub logs: Vec<LogRecord>,
    pub statuses: Vec<StatusRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reboot: Option<Reboot>,
}

impl HookContext {
    /// End the hook: commit what Juju commits for a hook that exited 0 (`exit_ok`) or
    /// failed, update the agent, and report.
    pub fn finish(mut self, exit_ok: bool, agent: &mut UnitAgent) -> HookOutcome {
        let reboot_now = self.reboot == Some(Reboot::Now);
        let commit = exit_ok && !reboot_now;
        self.statuses_after(exit_ok, agent);
        self.apply_immediate(agent);
        let action = self.action_record(exit_ok);
        if let Some(a) = &action {
            agent.actions.push(a.clone());
        }
        let (buffered, mut effects) = self.buffered(exit_ok);

        let mut committed = std::mem::take(&mut self.immediate);
        let discarded;
        if commit {
            agent.opened_ports = self.opened_now();
            agent.charm_state = self.state;
            agent.secrets = self.owned;
            agent.secrets_created = self.next_secret;
            committed.extend(buffered);
            discarded = Vec::new();
        } else {
            // A `--now` reboot still happens; nothing else of the hook is kept.
            effects.retain(|e| reboot_now && *e == Effect::RebootRequested);
            discarded = buffered;
        }
        for (id, revision) in &self.tracked {
            effects.push(Effect::SecretTracked {
                id: id.clone(),
                revision: *revision,
            });
        }

        HookOutcome {
            hook: self.hook,
            result: if exit_ok {
                HookResult::Ok
            } else {
                HookResult::Error
            },
            effects,
            calls: self.calls,
            committed,
            discarded,
            logs: self.logs,
            statuses: self.statuses,
            action,
            reboot: self.reboot,
        }
    }

    /// What Juju sets itself after a hook that succeeded (`runHook.afterHook`).
    fn statuses_after(&mut self, exit_ok: bool, agent: &mut UnitAgent) {
        let set_unit_status = self
            .statuses
            .iter()
            .any(|s| s.target == StatusTarget::Unit && !s.by_juju);
        if exit_ok {
            let after = match self.kind {
                HookKind::Stop => Some(Status::new("maintenance", "")),
                HookKind::Remove => Some(Status::new("terminated", "")),
                HookKind::Start if !set_unit_status && !agent.charm_set_status => {
                    Some(Status::default())
                }
                _ => None,
            };
            if let Some(s) = after {
                self.statuses.push(StatusRecord {
                    target: StatusTarget::Unit,
                    status: s.status.clone(),
                    message: s.message.clone(),
                    hook: self.hook.clone(),
                    by_juju: true,
                });
                self.unit_status = s;
            }
        }
        agent.charm_set_status |= set_unit_status;
    }

    /// Applied at once, whatever happened.
    fn apply_immediate(&mut self, agent: &mut UnitAgent) {
        agent.unit_status = self.unit_status.clone();
        agent.app_status = self.app_status.clone();
        agent.status_history.extend(self.statuses.iter().cloned());
        agent.logs.extend(self.logs.iter().cloned());
        if let Some(v) = &self.workload_version {
            agent.workload_version = v.clone();
        }
        if self.leader_settings_dirty {
            agent.leader_settings = self.leader_settings.clone();
        }
        agent.consumed = std::mem::take(&mut self.consumed);
        for (id, r) in &self.relations {
            let known: BTreeMap<String, Databag> = r
                .unit_data
                .iter()
                .filter(|(u, _)| **u != self.unit)
                .map(|(u, d)| (u.clone(), d.clone()))
                .collect();
            agent.remote_data.insert(*id, known);
        }
        agent
            .remote_data
            .retain(|id, _| self.relations.contains_key(id));
    }

    /// The action's result, as `juju show-task` would give it: a hook that failed fails
    /// its action.
    fn action_record(&mut self, exit_ok: bool) -> Option<ActionRecord> {
        self.action.take().map(|a| {
            let failed = a.failed || !exit_ok;
            let message = if !exit_ok && a.message.is_empty() {
                "exit status 1".to_string()
            } else {
                a.message
            };
            ActionRecord {
                name: a.name,
                id: a.id,
                params: a.params,
                results: a.results,
                logs: a.logs,
                status: if failed { "failed" } else { "completed" }.into(),
                message,
            }
        })
    }

    /// Buffered: Juju's doFlush order (charm state, relation settings, ports, storage,
    /// secrets), then the reboot request. Returns the changes and the effects the world
    /// learns of them.
    fn buffered(&mut self, exit_ok: bool) -> (Vec<Change>, Vec<Effect>) {
        let mut buffered = Vec::new();
        let mut effects = Vec::new();
        buffered.append(&mut self.state_changes);
        for (id, app) in &self.rel_written {
            if let Some(r) = self.relations.get(id) {
                let data = if *app {
                    r.local_app.clone()
                } else {
                    r.local_unit.clone()
                };
                buffered.push(Change::RelationData {
                    relation_id: *id,
                    app: *app,
                    data: data.clone(),
                });
                effects.push(Effect::RelationDataSet {
                    relation_id: *id,
                    app: *app,
                    data,
                });
            }
        }
        for p in &self.ports_open {
            buffered.push(Change::PortOpened {
                endpoint: p.endpoint.clone(),
                port: p.range.to_string(),
            });
        }
        for p in &self.ports_close {
            buffered.push(Change::PortClosed {
                endpoint: p.endpoint.clone(),
                port: p.range.to_string(),
            });
        }
        for (storage, count) in &self.storage_add {
            buffered.push(Change::StorageAdded {
                storage: storage.clone(),
                count: *count,
            });
            effects.push(Effect::StorageRequested {
                storage: storage.clone(),
                count: *count,
            });
        }
        let (secret_changes, secret_effects) = self.secret_commit();
        buffered.extend(secret_changes);
        effects.extend(secret_effects);
        if let Some(r) = self.reboot {
            buffered.push(Change::Reboot {
                now: r == Reboot::Now,
            });
            if exit_ok || r == Reboot::Now {
                effects.push(Effect::RebootRequested);
            }
        }
        (buffered, effects)
    }
}
