//! snapd's REST API (`/v2/…` on `/run/snapd.socket`), as a function from a request to
//! snapd's JSON envelope.
//!
//! Every answer is `{"type": "sync"|"async"|"error", "status-code", "status", "result"}`;
//! an operation is `async` with a `change` id, and `GET /v2/changes/<id>` says whether
//! it is `ready`, its `status` (`Done` or `Error`) and its `err`. The fake's changes are
//! ready at once, so a client's first poll ends its wait. Errors carry
//! `result.message` and `result.kind` (`snap-not-found`, `snap-not-installed`, …), the
//! fields the libraries map to their exceptions.

use super::{InstallOptions, ServiceAction, SnapError};
use crate::Shared;
use crate::config::app_command;
use crate::state::HostState;
use crate::systemd::snap_unit;
use serde_json::{Map, Value, json};

/// One request.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Query parameters, decoded.
    pub query: Vec<(String, String)>,
    pub body: &'a [u8],
}

/// An answer: HTTP status and the JSON envelope.
pub type Reply = (u16, Value);

fn status_text(code: u16) -> &'static str {
    match code {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "",
    }
}

fn sync(result: Value) -> Reply {
    (
        200,
        json!({"type": "sync", "status-code": 200, "status": "OK", "result": result}),
    )
}

fn change_reply(id: String) -> Reply {
    (
        202,
        json!({"type": "async", "status-code": 202, "status": "Accepted", "change": id, "result": null}),
    )
}

fn error(code: u16, kind: &str, message: &str) -> Reply {
    let mut result = Map::new();
    result.insert("message".into(), message.into());
    if !kind.is_empty() {
        result.insert("kind".into(), kind.into());
    }
    (
        code,
        json!({"type": "error", "status-code": code, "status": status_text(code), "result": result}),
    )
}

fn snap_error(e: SnapError) -> Reply {
    error(e.status, e.kind, &e.message)
}

/// Answer `req`.
pub(crate) fn handle(st: &mut HostState, shared: &Shared, req: &Request) -> Reply {
    let path = req.path.trim_end_matches('/');
    let Some(rest) = path.strip_prefix("/v2/") else {
        return error(404, "", "not found");
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let body: Value = if req.body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(req.body) {
            Ok(v) => v,
            Err(e) => return error(400, "", &format!("cannot decode request body: {e}")),
        }
    };
    match (req.method, parts.as_slice()) {
        ("GET", ["snaps"]) => {
            let wanted = query_list(req, "snaps");
            sync(Value::Array(
                st.snaps
                    .iter()
                    .filter(|(n, _)| wanted.is_empty() || wanted.contains(n))
                    .map(|(n, _)| snap_json(st, n))
                    .collect(),
            ))
        }
        ("GET", ["snaps", name]) => match st.snaps.contains_key(*name) {
            true => sync(snap_json(st, name)),
            false => error(404, "snap-not-found", "snap not installed"),
        },
        ("POST", ["snaps", name]) => snap_action(st, shared, &[name.to_string()], &body),
        ("POST", ["snaps"]) => {
            let names: Vec<String> = strings(&body["snaps"]);
            snap_action(st, shared, &names, &body)
        }
        ("GET", ["snaps", name, "conf"]) => get_conf(st, name, &query_list(req, "keys")),
        ("PUT", ["snaps", name, "conf"]) => {
            let values: Vec<(String, Value)> = body
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            match super::set_config(st, name, &values) {
                Ok(_) => change_reply(last_change(st)),
                Err(e) => snap_error(e),
            }
        }
        ("GET", ["apps"]) => apps(st, &query_list(req, "names"), query(req, "select")),
        ("POST", ["apps"]) => app_action(st, &body),
        ("GET", ["find"]) => find(st, shared, req),
        ("GET", ["changes", id]) => match st.changes.iter().find(|c| c.id == *id) {
            Some(c) => sync(change_json(c)),
            None => error(404, "", &format!("cannot find change with id \"{id}\"")),
        },
        ("GET", ["changes"]) => sync(Value::Array(st.changes.iter().map(change_json).collect())),
        ("GET", ["system-info"]) => sync(json!({
            "series": "16", "version": "2.63", "build-id": "fake",
            "os-release": {"id": "ubuntu", "version-id": "22.04"},
            "on-classic": true, "managed": false, "kernel-version": "5.15.0-generic",
            "confinement": "strict", "architecture": shared.config.arch(),
            "refresh": {"timer": "00:00~24:00/4"},
        })),
        ("GET", ["connections"] | ["interfaces"]) => sync(connections(st)),
        ("POST", ["interfaces"]) => interfaces(st, &body),
        ("GET", ["aliases"]) => sync(aliases(st)),
        ("POST", ["aliases"]) => aliases_action(st, &body),
        ("GET", ["logs"]) => (200, Value::Null),
        (_, _) if matches!(parts.first(), Some(&"snaps" | &"apps" | &"changes")) => {
            error(405, "", "method not allowed")
        }
        _ => error(404, "", "not found"),
    }
}

/// A JSON list of strings (`"snaps"`, `"names"` of a request body); anything else, none.
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn query<'a>(req: &'a Request, key: &str) -> Option<&'a str> {
    req.query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn query_list(req: &Request, key: &str) -> Vec<String> {
    query(req, key)
        .map(|v| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn last_change(st: &HostState) -> String {
    st.changes.last().map(|c| c.id.clone()).unwrap_or_default()
}

fn change_json(c: &super::Change) -> Value {
    let mut m = json!({
        "id": c.id, "kind": c.kind, "summary": c.summary,
        "status": if c.err.is_some() { "Error" } else { "Done" },
        "ready": true,
        "spawn-time": "2026-01-01T00:00:00Z", "ready-time": "2026-01-01T00:00:01Z",
        "tasks": [],
    });
    if let Some(e) = &c.err {
        m["err"] = Value::from(format!("cannot perform the following tasks:\n- {}", e));
    }
    m
}

/// An installed snap as `GET /v2/snaps` gives it.
fn snap_json(st: &HostState, name: &str) -> Value {
    let s = &st.snaps[name];
    json!({
        "id": format!("{name}-id"),
        "name": name,
        "title": name,
        "summary": name,
        "description": name,
        "type": "app",
        "base": "core22",
        "status": if s.disabled { "installed" } else { "active" },
        "version": s.version,
        "channel": s.channel,
        "tracking-channel": s.channel,
        "revision": s.revision.to_string(),
        "confinement": s.confinement,
        "devmode": s.devmode,
        "jailmode": false,
        "private": false,
        "ignore-validation": false,
        "install-date": "2026-01-01T00:00:00Z",
        "installed-size": 10_000_000,
        "publisher": {"id": "canonical", "username": "canonical", "display-name": "Canonical", "validation": "verified"},
        "developer": "canonical",
        "apps": app_list(st, name, false),
        "hold": s.hold.as_ref().map(|_| "2316-01-01T00:00:00Z"),
        "cohort-key": s.cohort,
        "mounted-from": format!("/var/lib/snapd/snaps/{name}_{}.snap", s.revision),
        "links": null,
        "contact": "",
        "media": [],
    })
}

fn app_list(st: &HostState, name: &str, services_only: bool) -> Vec<Value> {
    let s = &st.snaps[name];
    s.apps
        .iter()
        .filter(|(_, a)| !services_only || a.daemon.is_some())
        .map(|(app, a)| {
            let mut m = json!({"snap": name, "name": app});
            if let Some(d) = &a.daemon {
                let unit = st.units.get(&snap_unit(name, app));
                m["daemon"] = d.clone().into();
                m["daemon-scope"] = "system".into();
                m["enabled"] = unit
                    .is_some_and(|u| u.enabled == crate::systemd::Enablement::Enabled)
                    .into();
                m["active"] = unit.is_some_and(|u| u.is_active()).into();
            }
            if app_command(name, app) != *name || app == name {
                m["common-id"] = "".into();
            }
            m
        })
        .collect()
}

fn apps(st: &HostState, names: &[String], select: Option<&str>) -> Reply {
    let services = select == Some("service");
    let mut out = Vec::new();
    let all: Vec<String> = if names.is_empty() {
        st.snaps.keys().cloned().collect()
    } else {
        names.to_vec()
    };
    for n in all {
        let (snap, app) = match n.split_once('.') {
            Some((s, a)) => (s.to_string(), Some(a.to_string())),
            None => (n.clone(), None),
        };
        if !st.snaps.contains_key(&snap) {
            return snap_error(SnapError::not_found(&snap));
        }
        out.extend(
            app_list(st, &snap, services)
                .into_iter()
                .filter(|v| app.as_deref().is_none_or(|a| v["name"] == a)),
        );
    }
    sync(Value::Array(out))
}

fn snap_action(st: &mut HostState, shared: &Shared, names: &[String], body: &Value) -> Reply {
    let action = body["action"].as_str().unwrap_or("");
    let o = InstallOptions {
        channel: body["channel"]
            .as_str()
            .filter(|c| !c.is_empty())
            .map(String::from),
        revision: match &body["revision"] {
            Value::String(s) => s.parse().ok(),
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            _ => None,
        },
        classic: body["classic"].as_bool().unwrap_or(false),
        devmode: body["devmode"].as_bool().unwrap_or(false),
        dangerous: body["dangerous"].as_bool().unwrap_or(false),
        cohort: body["cohort-key"].as_str().map(String::from),
    };
    for name in names {
        let r = match action {
            "install" => super::install(st, shared, name, &o),
            "refresh" => {
                let before = st.changes.len();
                let r = super::refresh(st, shared, name, &o);
                if r.is_ok() && st.changes.len() == before {
                    // Nothing to refresh: snapd answers with an error kind of its own.
                    return error(
                        400,
                        "snap-no-update-available",
                        &format!("snap \"{name}\" has no updates available"),
                    );
                }
                r
            }
            "remove" => super::remove(st, shared, name),
            "revert" => super::revert(st, shared, name, o.revision),
            "hold" | "unhold" => match st.snaps.get_mut(name) {
                Some(s) => {
                    s.hold = (action == "hold")
                        .then(|| body["time"].as_str().unwrap_or("forever").to_string());
                    st.change(action, format!("{action} {name}"), None);
                    Ok(String::new())
                }
                None => Err(SnapError::not_installed(name)),
            },
            "enable" | "disable" => match st.snaps.get_mut(name) {
                Some(s) => {
                    s.disabled = action == "disable";
                    st.change(action, format!("{action} {name}"), None);
                    Ok(String::new())
                }
                None => Err(SnapError::not_installed(name)),
            },
            other => return error(400, "", &format!("unknown action \"{other}\"")),
        };
        match r {
            Ok(_) => {}
            // A failure inside the change: the change is in Error; the request accepted.
            Err(e) if e.kind.is_empty() => return change_reply(last_change(st)),
            Err(e) => return snap_error(e),
        }
    }
    change_reply(last_change(st))
}

fn get_conf(st: &HostState, name: &str, keys: &[String]) -> Reply {
    let conf = match super::config_of(st, name) {
        Ok(c) => c.clone(),
        Err(_) => {
            return error(
                404,
                "snap-not-found",
                &format!("snap \"{name}\" is not installed"),
            );
        }
    };
    if keys.is_empty() {
        return sync(Value::Object(conf));
    }
    let mut out = Map::new();
    for k in keys {
        match super::get_config(st, name, k) {
            Ok(Some(v)) => {
                out.insert(k.clone(), v);
            }
            Ok(None) => {
                return error(
                    400,
                    "option-not-found",
                    &format!("snap \"{name}\" has no \"{k}\" configuration option"),
                );
            }
            Err(e) => return snap_error(e),
        }
    }
    sync(Value::Object(out))
}

fn app_action(st: &mut HostState, body: &Value) -> Reply {
    let action = match body["action"].as_str() {
        Some("start") => ServiceAction::Start,
        Some("stop") => ServiceAction::Stop,
        Some("restart") => ServiceAction::Restart,
        other => return error(400, "", &format!("unknown action {other:?}")),
    };
    let names: Vec<String> = strings(&body["names"]);
    let enable = body["enable"].as_bool().unwrap_or(false);
    let disable = body["disable"].as_bool().unwrap_or(false);
    match super::services(st, &names, action, enable, disable) {
        Ok(_) => change_reply(last_change(st)),
        Err(e) => snap_error(e),
    }
}

/// `GET /v2/find?name=<snap>` (exact) or `?q=<text>`: the store's entry, with its
/// channels.
fn find(st: &HostState, shared: &Shared, req: &Request) -> Reply {
    let Some(name) = query(req, "name").or_else(|| query(req, "q")) else {
        return sync(Value::Array(Vec::new()));
    };
    let version = super::store_version(shared, name);
    let confinement = super::store_confinement(shared, name);
    let mut channels = Map::new();
    for risk in ["stable", "candidate", "beta", "edge"] {
        let ch = format!("latest/{risk}");
        channels.insert(
            ch.clone(),
            json!({
                "revision": super::store_revision(shared, name, &ch).to_string(),
                "version": version, "channel": risk, "confinement": confinement,
                "size": 10_000_000, "released-at": "2026-01-01T00:00:00Z",
            }),
        );
    }
    let stable = super::store_revision(shared, name, "latest/stable");
    let mut entry = json!({
        "id": format!("{name}-id"), "name": name, "title": name, "summary": name,
        "description": name, "type": "app", "version": version,
        "revision": stable.to_string(), "channel": "stable", "confinement": confinement,
        "publisher": {"id": "canonical", "username": "canonical", "display-name": "Canonical", "validation": "verified"},
        "developer": "canonical", "status": "available", "download-size": 10_000_000,
        "channels": channels, "tracks": ["latest"], "media": [], "apps": [],
    });
    if let Some(s) = st.snaps.get(name) {
        entry["status"] = "active".into();
        entry["tracking-channel"] = s.channel.clone().into();
    }
    sync(Value::Array(vec![entry]))
}

fn connections(st: &HostState) -> Value {
    let established: Vec<Value> = st
        .snaps
        .iter()
        .flat_map(|(n, s)| {
            s.connections.iter().map(move |(plug, slot)| {
                let plug_name = plug.split_once(':').map_or(plug.as_str(), |(_, p)| p);
                let (slot_snap, slot_name) =
                    slot.split_once(':').unwrap_or((slot.as_str(), plug_name));
                json!({
                    "plug": {"snap": n, "plug": plug_name},
                    "slot": {"snap": slot_snap, "slot": slot_name},
                    "interface": plug_name, "manual": true,
                })
            })
        })
        .collect();
    json!({"established": established, "plugs": [], "slots": []})
}

fn interfaces(st: &mut HostState, body: &Value) -> Reply {
    let connect = match body["action"].as_str() {
        Some("connect") => true,
        Some("disconnect") => false,
        other => return error(400, "", &format!("unknown action {other:?}")),
    };
    for (p, s) in body["plugs"].as_array().into_iter().flatten().zip(
        body["slots"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(std::iter::repeat(&Value::Null)),
    ) {
        let snap = p["snap"].as_str().unwrap_or("");
        let plug = format!("{snap}:{}", p["plug"].as_str().unwrap_or(""));
        let slot = format!(
            "{}:{}",
            s["snap"].as_str().unwrap_or("snapd"),
            s["slot"].as_str().unwrap_or("")
        );
        let Some(sn) = st.snaps.get_mut(snap) else {
            return snap_error(SnapError::not_found(snap));
        };
        if connect {
            sn.connections.insert((plug, slot));
        } else {
            sn.connections.retain(|(x, _)| *x != plug);
        }
    }
    let id = st.change(
        if connect {
            "connect-snap"
        } else {
            "disconnect"
        },
        "Connect".into(),
        None,
    );
    change_reply(id)
}

fn aliases(st: &HostState) -> Value {
    let mut out = Map::new();
    for (n, s) in &st.snaps {
        let mut m = Map::new();
        for (alias, app) in &s.aliases {
            m.insert(
                alias.clone(),
                json!({"command": app_command(n, app), "status": "manual", "manual": app}),
            );
        }
        if !m.is_empty() {
            out.insert(n.clone(), Value::Object(m));
        }
    }
    Value::Object(out)
}

fn aliases_action(st: &mut HostState, body: &Value) -> Reply {
    let snap = body["snap"].as_str().unwrap_or("");
    let app = body["app"].as_str().unwrap_or("");
    let alias = body["alias"].as_str().unwrap_or("");
    let Some(s) = st.snaps.get_mut(snap) else {
        return snap_error(SnapError::not_found(snap));
    };
    match body["action"].as_str() {
        Some("alias") => {
            s.aliases.insert(alias.to_string(), app.to_string());
        }
        Some("unalias" | "prefer") => {
            s.aliases.remove(alias);
        }
        other => return error(400, "", &format!("unknown action {other:?}")),
    }
    let id = st.change("alias", format!("Setup alias \"{alias}\""), None);
    change_reply(id)
}
