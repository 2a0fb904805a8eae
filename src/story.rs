//! Stories: traces printed for people.
//!
//! The format follows the post that started the project: phases, then for each step the
//! action and who caused it, then the hooks the unit received.
//!
//! ```text
//! PHASE Phase.operation:
//!     Action :: Source.user --> 'scale-up'(demo/2)
//!     Event :: replicas-relation-joined (replicas:0, demo/2)
//!     Event :: replicas-relation-changed (replicas:0, demo/2)
//! ```

use crate::engine::{Action, Event, HookKind, HookResult, Source, Trace};
use std::fmt::Write;

/// Render a whole trace as a story.
pub fn story(trace: &Trace) -> String {
    story_annotated(trace, |_, _| Vec::new())
}

/// Render a trace as a story, with extra lines under each event (what the charm did, when
/// the trace was run against it). `notes` gets the event's index in the whole trace.
pub fn story_annotated(
    trace: &Trace,
    mut notes: impl FnMut(usize, &Event) -> Vec<String>,
) -> String {
    let mut out = String::new();
    let mut index = 0;
    let _ = writeln!(
        out,
        "story of {} ({}, Juju {}):",
        trace.unit,
        match trace.substrate {
            crate::spec::Substrate::Kubernetes => "kubernetes",
            crate::spec::Substrate::Machine => "machine",
        },
        trace.options.juju_version
    );
    let mut phase = None;
    for step in &trace.steps {
        if phase != Some(step.phase) {
            let _ = writeln!(out, "PHASE Phase.{}:", step.phase);
            phase = Some(step.phase);
        }
        let _ = writeln!(
            out,
            "    Action :: Source.{} --> {}",
            source(&step.action, trace),
            describe(&step.action)
        );
        for e in &step.events {
            let _ = writeln!(out, "    Event :: {}", event_line(e));
            for line in notes(index, e) {
                let _ = writeln!(out, "        {line}");
            }
            index += 1;
        }
    }
    out.push_str("end.\n");
    out
}

/// Who did it; data written on the peer relation comes from a peer.
fn source(action: &Action, trace: &Trace) -> Source {
    let peer_rel = trace.steps.first().and_then(|s| match &s.action {
        Action::Deploy { relations, .. } => relations
            .iter()
            .find(|r| r.remote_app == trace.unit.split('/').next().unwrap_or(""))
            .map(|r| r.id),
        _ => None,
    });
    match action {
        Action::RemoteUnitData { relation_id, .. } | Action::RemoteAppData { relation_id, .. }
            if Some(*relation_id) == peer_rel =>
        {
            Source::Peer
        }
        _ => action.source(),
    }
}

fn bag(data: &crate::engine::Databag) -> String {
    let items: Vec<String> = data.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", items.join(", "))
}

/// One line describing an action: `'kind'(arguments)`.
pub fn describe(action: &Action) -> String {
    let kind = action.kind();
    let args = match action {
        Action::Deploy {
            leader,
            peers,
            relations,
            storage,
            ..
        } => {
            let mut parts = vec![if *leader {
                "leader".to_string()
            } else {
                "not leader".to_string()
            }];
            if !peers.is_empty() {
                parts.push(format!("peers {}", peers.join(" ")));
            }
            for r in relations {
                parts.push(format!(
                    "{}:{} with {} ({} units)",
                    r.endpoint,
                    r.id,
                    r.remote_app,
                    r.remote_units.len()
                ));
            }
            if !storage.is_empty() {
                parts.push(format!("storage {}", storage.join(" ")));
            }
            parts.join("; ")
        }
        Action::Config { changes } => changes
            .iter()
            .map(|(k, v)| {
                if v.is_null() {
                    format!("{k} reset")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        Action::Trust { trusted } => format!("{trusted}"),
        Action::Integrate { relation } => format!(
            "{}:{} with {} ({} units)",
            relation.endpoint,
            relation.id,
            relation.remote_app,
            relation.remote_units.len()
        ),
        Action::RemoveRelation { relation_id }
        | Action::SuspendRelation { relation_id }
        | Action::ResumeRelation { relation_id } => format!("relation {relation_id}"),
        Action::RemoteUnitAdded { relation_id, unit }
        | Action::RemoteUnitRemoved { relation_id, unit } => {
            format!("{unit} on relation {relation_id}")
        }
        Action::RemoteUnitData {
            relation_id,
            unit,
            data,
        } => {
            format!("{unit} on relation {relation_id}: {}", bag(data))
        }
        Action::RemoteAppData { relation_id, data } => {
            format!("relation {relation_id}: {}", bag(data))
        }
        Action::ScaleUp { unit } | Action::ScaleDown { unit } => unit.clone(),
        Action::StorageAdded { storage } | Action::StorageDetached { storage } => storage.clone(),
        Action::WorkloadStarted { container } | Action::WorkloadStopped { container } => {
            container.clone()
        }
        Action::CustomNotice {
            container,
            key,
            notice_id,
        } => format!("{container}: {key} (notice {notice_id})"),
        Action::CheckFailed { container, check } | Action::CheckRecovered { container, check } => {
            format!("{container}: {check}")
        }
        Action::ServiceExited { container, service } => {
            format!("{container}: {service} exits (Pebble: backoff)")
        }
        Action::WorkloadFault { container, fault } => {
            let what = match fault {
                crate::engine::WorkloadFault::ExecFails => "every exec exits 1",
                crate::engine::WorkloadFault::ApiErrors => "its API answers 500",
                crate::engine::WorkloadFault::ApiHangs => "its API never answers",
                crate::engine::WorkloadFault::DiskFull => "its disk is full",
            };
            format!("{container}: {what}, until the container restarts")
        }
        Action::SnapRefreshFails { snap } => {
            format!("{snap}: every refresh fails, until the host recovers")
        }
        Action::SnapRefreshHeld { snap } => {
            format!("{snap}: the store holds its refreshes back, until the host recovers")
        }
        Action::InstallFails => {
            "the store and the archive are unreachable: installs fail, until the host recovers"
                .to_string()
        }
        Action::HostServiceFailed { service } => format!("{service} dies (systemd: failed)"),
        Action::HostDiskFull => {
            "no space left on the machine's disk, until the host recovers".to_string()
        }
        Action::SecretGranted { id, origin, .. } => match origin {
            crate::engine::SecretOrigin::User => format!("{id} by the user"),
            crate::engine::SecretOrigin::App { app, relation_id } => {
                format!("{id} by {app} over relation {relation_id}")
            }
        },
        Action::SecretRevised { id, .. } | Action::SecretRotateDue { id } => id.clone(),
        Action::SecretExpired { id, revision }
        | Action::SecretRevisionObsolete { id, revision } => {
            format!("{id} revision {revision}")
        }
        Action::RunAction { name, id, params } => {
            format!("{name} #{id} {}", serde_json::Value::Object(params.clone()))
        }
        Action::SeriesUpgradePrepare { target_base } => target_base.clone(),
        Action::Resolved { retry } => (if *retry { "retry" } else { "--no-retry" }).to_string(),
        _ => String::new(),
    };
    if args.is_empty() {
        format!("'{kind}'")
    } else {
        format!("'{kind}'({args})")
    }
}

/// One line for an event: the hook name, what it is about, and a failure mark.
pub fn event_line(e: &Event) -> String {
    let env = |k: &str| e.env.get(k).map(String::as_str).unwrap_or("");
    let detail = match e.kind {
        k if k.is_relation() => {
            let unit = env("JUJU_REMOTE_UNIT");
            let mut d = env("JUJU_RELATION_ID").to_string();
            if !unit.is_empty() {
                d.push_str(", ");
                d.push_str(unit);
            } else if k == HookKind::RelationChanged {
                d.push_str(&format!(", app {}", env("JUJU_REMOTE_APP")));
            }
            if k == HookKind::RelationDeparted && env("JUJU_DEPARTING_UNIT") != unit {
                d.push_str(&format!(", departing {}", env("JUJU_DEPARTING_UNIT")));
            }
            d
        }
        k if k.is_storage() => env("JUJU_STORAGE_ID").to_string(),
        HookKind::PebbleCustomNotice => {
            format!("{} #{}", env("JUJU_NOTICE_KEY"), env("JUJU_NOTICE_ID"))
        }
        HookKind::PebbleCheckFailed | HookKind::PebbleCheckRecovered => {
            env("JUJU_PEBBLE_CHECK_NAME").to_string()
        }
        k if k.is_secret() => {
            let rev = env("JUJU_SECRET_REVISION");
            if rev.is_empty() {
                env("JUJU_SECRET_ID").to_string()
            } else {
                format!("{} revision {rev}", env("JUJU_SECRET_ID"))
            }
        }
        HookKind::Action => format!(
            "#{} {}",
            env("JUJU_ACTION_UUID"),
            e.params
                .as_ref()
                .map(|p| serde_json::Value::Object(p.clone()).to_string())
                .unwrap_or_default()
        ),
        HookKind::PreSeriesUpgrade => env("JUJU_TARGET_BASE").to_string(),
        _ => String::new(),
    };
    let mut line = e.hook.clone();
    if !detail.is_empty() {
        line.push_str(&format!(" ({detail})"));
    }
    if e.result == HookResult::Error {
        line.push_str("  !! hook failed");
    }
    line
}
