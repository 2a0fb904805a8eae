//! The `snap` command: snapd's client, printing what it prints.
//!
//! An error is `error: <message>` on stderr with exit 1, as the real client does; the
//! tables (`snap list`, `snap services`) keep their column headers, and `snap get -d`
//! prints the JSON document indented with tabs.

use super::{InstallOptions, ServiceAction, SnapError};
use crate::Shared;
use crate::args::Args;
use crate::config::app_command;
use crate::state::{HostState, Output};
use crate::systemd::snap_unit;
use serde_json::Value;

const VALUED: &[&str] = &[
    "channel", "revision", "cohort", "n", "hold", "name", "abs-time",
];

fn fail(e: SnapError) -> Output {
    Output::fail(1, format!("error: {}", e.message))
}

fn done(r: Result<String, SnapError>) -> Output {
    r.map_or_else(fail, Output::ok)
}

/// Run `snap ARGS`.
pub(crate) fn run(st: &mut HostState, shared: &Shared, args: &[String]) -> Output {
    let a = Args::parse(args, VALUED);
    let Some((verb, rest)) = a.pos.split_first() else {
        return Output::fail(
            1,
            "error: the required argument `<command>` was not provided",
        );
    };
    match verb.as_str() {
        "install" => install(st, shared, &a, rest),
        "refresh" => refresh(st, shared, &a, rest),
        "remove" => each(rest, |n| match super::remove(st, shared, n) {
            // snap says so and succeeds.
            Err(e) if e.kind == "snap-not-found" => Ok(format!("snap \"{n}\" is not installed\n")),
            other => other,
        }),
        "revert" => match rest.first() {
            Some(n) => done(super::revert(st, shared, n, revision(&a))),
            None => Output::fail(1, "error: the required argument `<snap>` was not provided"),
        },
        "start" | "stop" | "restart" => {
            let action = match verb.as_str() {
                "start" => ServiceAction::Start,
                "stop" => ServiceAction::Stop,
                _ => ServiceAction::Restart,
            };
            done(super::services(
                st,
                rest,
                action,
                a.has(&["enable"]),
                a.has(&["disable"]),
            ))
        }
        "set" => set(st, &a, rest),
        "unset" => match rest.split_first() {
            Some((name, keys)) => done(super::set_config(
                st,
                name,
                &keys
                    .iter()
                    .map(|k| (k.clone(), Value::Null))
                    .collect::<Vec<_>>(),
            )),
            None => Output::fail(1, "error: the required argument `<snap>` was not provided"),
        },
        "get" => get(st, &a, rest),
        "list" => list(st, rest),
        "services" => services(st, rest),
        "info" => info(st, shared, rest),
        "find" => find(shared, rest),
        "connect" | "disconnect" => connect(st, verb == "connect", rest),
        "alias" => alias(st, rest),
        "unalias" => {
            for s in st.snaps.values_mut() {
                s.aliases
                    .retain(|al, app| !rest.contains(al) && !rest.contains(app));
            }
            Output::ok("")
        }
        "aliases" => aliases(st),
        "enable" | "disable" => each(rest, |n| enable(st, n, verb == "enable")),
        "logs" => Output::ok(""),
        "version" => Output::ok(
            "snap    2.63\nsnapd   2.63\nseries  16\nubuntu  22.04\nkernel  5.15.0-generic\n",
        ),
        "changes" => changes(st, &a, rest),
        "wait" | "watch" | "ack" | "known" | "model" | "connections" | "interfaces" | "okay"
        | "warnings" => Output::ok(""),
        other => Output::fail(
            1,
            format!("error: unknown command \"{other}\", see 'snap help'."),
        ),
    }
}

fn revision(a: &Args) -> Option<u32> {
    a.value(&["revision"])
        .and_then(|r| r.trim_start_matches('x').parse().ok())
}

fn options(a: &Args) -> InstallOptions {
    let risk = ["stable", "candidate", "beta", "edge"]
        .into_iter()
        .find(|r| a.has(&[r]));
    InstallOptions {
        channel: a
            .value(&["channel"])
            .map(String::from)
            .or(risk.map(String::from)),
        revision: revision(a),
        classic: a.has(&["classic"]),
        devmode: a.has(&["devmode"]),
        dangerous: a.has(&["dangerous"]),
        cohort: a.value(&["cohort"]).map(String::from),
    }
}

/// Run `f` on each name; stop at the first error.
fn each(names: &[String], mut f: impl FnMut(&str) -> Result<String, SnapError>) -> Output {
    let mut out = String::new();
    for n in names {
        match f(n) {
            Ok(m) => out.push_str(&m),
            Err(e) => {
                let mut o = fail(e);
                o.stdout = out;
                return o;
            }
        }
    }
    Output::ok(out)
}

fn install(st: &mut HostState, shared: &Shared, a: &Args, names: &[String]) -> Output {
    let mut o = options(a);
    if names.is_empty() {
        return Output::fail(1, "error: the required argument `<snap>` was not provided");
    }
    each(names, |n| {
        // A local file (`snap install ./x_1.0_amd64.snap --dangerous`): named by the file.
        let name = if n.ends_with(".snap") {
            o.dangerous = true;
            let file = n.rsplit('/').next().unwrap_or(n);
            file.split('_')
                .next()
                .unwrap_or(file)
                .trim_end_matches(".snap")
        } else {
            n
        };
        match super::install(st, shared, name, &o) {
            Err(e) if e.kind == "snap-already-installed" => Ok(String::new()),
            other => other,
        }
    })
}

fn refresh(st: &mut HostState, shared: &Shared, a: &Args, names: &[String]) -> Output {
    if a.has(&["hold"]) || a.has(&["unhold"]) {
        let until = a.value(&["hold"]).unwrap_or("forever").to_string();
        let targets: Vec<String> = if names.is_empty() {
            st.snaps.keys().cloned().collect()
        } else {
            names.to_vec()
        };
        let mut out = String::new();
        for n in &targets {
            let Some(s) = st.snaps.get_mut(n) else {
                return fail(SnapError::not_installed(n));
            };
            if a.has(&["hold"]) {
                s.hold = Some(until.clone());
                out.push_str(&format!("General refreshes of \"{n}\" held indefinitely\n"));
            } else {
                s.hold = None;
                out.push_str(&format!("Removed general refresh hold of \"{n}\"\n"));
            }
        }
        return Output::ok(out);
    }
    if names.is_empty() || a.has(&["list"]) {
        return Output::ok("All snaps up to date.\n");
    }
    let o = options(a);
    let mut out = each(names, |n| super::refresh(st, shared, n, &o));
    // "has no updates available" is said on stderr.
    if out.code == 0 && out.stdout.contains("has no updates available") {
        out.stderr = std::mem::take(&mut out.stdout);
    }
    out
}

fn set(st: &mut HostState, a: &Args, rest: &[String]) -> Output {
    let Some((name, pairs)) = rest.split_first() else {
        return Output::fail(1, "error: the required argument `<snap>` was not provided");
    };
    let strings = a.has(&["s"]);
    let typed = a.has(&["t"]);
    let mut values = Vec::new();
    for p in pairs {
        if let Some(key) = p.strip_suffix('!') {
            values.push((key.to_string(), Value::Null));
            continue;
        }
        let Some((k, v)) = p.split_once('=') else {
            return Output::fail(
                1,
                format!("error: invalid configuration: {p:?} (want key=value)"),
            );
        };
        let value = if strings {
            Value::String(v.to_string())
        } else {
            match serde_json::from_str::<Value>(v) {
                Ok(j) => j,
                Err(_) if typed => {
                    return Output::fail(1, format!("error: failed to parse JSON: {v}"));
                }
                Err(_) => Value::String(v.to_string()),
            }
        };
        values.push((k.to_string(), value));
    }
    done(super::set_config(st, name, &values))
}

fn get(st: &HostState, a: &Args, rest: &[String]) -> Output {
    let Some((name, keys)) = rest.split_first() else {
        return Output::fail(1, "error: the required argument `<snap>` was not provided");
    };
    let doc = a.has(&["d"]);
    let conf = match super::config_of(st, name) {
        Ok(c) => c.clone(),
        Err(e) => return fail(e),
    };
    if keys.is_empty() {
        if doc {
            return Output::ok(tab_json(&Value::Object(conf)));
        }
        if conf.is_empty() {
            return Output::fail(1, format!("error: snap \"{name}\" has no configuration"));
        }
        return Output::ok(table(&conf));
    }
    let mut found = serde_json::Map::new();
    for k in keys {
        match super::get_config(st, name, k) {
            Ok(Some(v)) => {
                found.insert(k.clone(), v);
            }
            Ok(None) => {
                return Output::fail(
                    1,
                    format!("error: snap \"{name}\" has no \"{k}\" configuration option"),
                );
            }
            Err(e) => return fail(e),
        }
    }
    if doc || keys.len() > 1 {
        return Output::ok(tab_json(&Value::Object(found)));
    }
    let v = found
        .into_iter()
        .next()
        .map(|(_, v)| v)
        .unwrap_or(Value::Null);
    match v {
        Value::String(s) => Output::ok(format!("{s}\n")),
        Value::Object(m) => Output::ok(table(&m)),
        other => Output::ok(format!("{other}\n")),
    }
}

/// JSON as `snap get -d` prints it: tab-indented.
fn tab_json(v: &Value) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(v, &mut ser).expect("a Value serialises");
    format!("{}\n", String::from_utf8_lossy(&buf))
}

fn table(m: &serde_json::Map<String, Value>) -> String {
    let mut out = String::from("Key  Value\n");
    for (k, v) in m {
        let shown = match v {
            Value::Object(_) => "{...}".to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push_str(&format!("{k}  {shown}\n"));
    }
    out
}

fn list(st: &HostState, names: &[String]) -> Output {
    let chosen: Vec<_> = st
        .snaps
        .iter()
        .filter(|(n, _)| names.is_empty() || names.contains(n))
        .collect();
    if chosen.is_empty() {
        return Output::fail(1, "error: no matching snaps installed");
    }
    let mut out = String::from("Name  Version  Rev  Tracking  Publisher  Notes\n");
    for (n, s) in chosen {
        let mut notes = Vec::new();
        if s.confinement == "classic" {
            notes.push("classic");
        }
        if s.devmode {
            notes.push("devmode");
        }
        if s.disabled {
            notes.push("disabled");
        }
        if s.hold.is_some() {
            notes.push("held");
        }
        let notes = if notes.is_empty() {
            "-".to_string()
        } else {
            notes.join(",")
        };
        out.push_str(&format!(
            "{n}  {}  {}  {}  canonical✓  {notes}\n",
            s.version, s.revision, s.channel
        ));
    }
    Output::ok(out)
}

fn services(st: &HostState, targets: &[String]) -> Output {
    let mut rows = Vec::new();
    for (name, s) in &st.snaps {
        for app in s.services() {
            let full = format!("{name}.{app}");
            if !targets.is_empty() && !targets.contains(name) && !targets.contains(&full) {
                continue;
            }
            let unit = st.units.get(&snap_unit(name, app));
            rows.push(format!(
                "{full}  {}  {}  -\n",
                unit.map_or("disabled", |u| u.enabled.as_str()),
                if unit.is_some_and(|u| u.is_active()) {
                    "active"
                } else {
                    "inactive"
                }
            ));
        }
    }
    if rows.is_empty() {
        return Output {
            code: 0,
            stdout: String::new(),
            stderr: "There are no services provided by installed snaps.\n".into(),
        };
    }
    Output::ok(format!(
        "Service  Startup  Current  Notes\n{}",
        rows.concat()
    ))
}

fn info(st: &HostState, shared: &Shared, names: &[String]) -> Output {
    let mut out = String::new();
    for n in names {
        let stable = super::store_revision(shared, n, "latest/stable");
        let version = super::store_version(shared, n);
        out.push_str(&format!(
            "name:      {n}\nsummary:   {n}\npublisher: Canonical✓\nstore-url: https://snapcraft.io/{n}\n\
             license:   unset\ndescription: |\n  {n}\n"
        ));
        if let Some(s) = st.snaps.get(n) {
            let cmds = s.commands(n);
            if !cmds.is_empty() {
                out.push_str("commands:\n");
                for c in cmds {
                    out.push_str(&format!("  - {c}\n"));
                }
            }
            out.push_str(&format!("tracking:     {}\n", s.channel));
            if let Some(h) = &s.hold {
                out.push_str(&format!("hold:\t{h}\n"));
            }
        }
        out.push_str(&format!(
            "snap-id:   {n}-id\nchannels:\n  latest/stable:    {version} 2026-01-01 ({stable}) 10MB -\n  \
             latest/candidate: ↑\n  latest/beta:      ↑\n  latest/edge:      ↑\n"
        ));
        if let Some(s) = st.snaps.get(n) {
            out.push_str(&format!(
                "installed:          {} ({}) 10MB -\n",
                s.version, s.revision
            ));
        }
    }
    Output::ok(out)
}

fn find(shared: &Shared, names: &[String]) -> Output {
    let mut out = String::from("Name  Version  Publisher  Notes  Summary\n");
    for n in names {
        out.push_str(&format!(
            "{n}  {}  canonical✓  -  {n}\n",
            super::store_version(shared, n)
        ));
    }
    Output::ok(out)
}

fn connect(st: &mut HostState, connect: bool, rest: &[String]) -> Output {
    let Some(plug) = rest.first() else {
        return Output::fail(
            1,
            "error: the required argument `<snap>:<plug>` was not provided",
        );
    };
    let name = plug.split(':').next().unwrap_or(plug);
    let slot = rest.get(1).cloned().unwrap_or_else(|| "snapd".to_string());
    let Some(s) = st.snaps.get_mut(name) else {
        return fail(SnapError::not_found(name));
    };
    if connect {
        s.connections.insert((plug.clone(), slot));
    } else {
        s.connections.retain(|(p, _)| p != plug);
    }
    Output::ok("")
}

fn alias(st: &mut HostState, rest: &[String]) -> Output {
    let [target, alias] = rest else {
        return Output::fail(
            1,
            "error: the required arguments `<snap.app>` and `<alias>` were not provided",
        );
    };
    let (name, app) = target.split_once('.').unwrap_or((target, target));
    let Some(s) = st.snaps.get_mut(name) else {
        return fail(SnapError::not_found(name));
    };
    s.aliases.insert(alias.clone(), app.to_string());
    Output::ok(format!(
        "Added:\n  - {} as {alias}\n",
        app_command(name, app)
    ))
}

fn aliases(st: &HostState) -> Output {
    let mut out = String::from("Command  Alias  Notes\n");
    for (n, s) in &st.snaps {
        for (alias, app) in &s.aliases {
            out.push_str(&format!("{}  {alias}  manual\n", app_command(n, app)));
        }
    }
    Output::ok(out)
}

fn enable(st: &mut HostState, name: &str, enable: bool) -> Result<String, SnapError> {
    let s = st
        .snaps
        .get_mut(name)
        .ok_or_else(|| SnapError::not_installed(name))?;
    s.disabled = !enable;
    let services: Vec<String> = s.services().cloned().collect();
    for app in services {
        if let Some(u) = st.units.get_mut(&snap_unit(name, &app)) {
            if !enable {
                u.active = crate::systemd::ActiveState::Inactive;
            }
        }
    }
    Ok(format!(
        "{name} {}\n",
        if enable { "enabled" } else { "disabled" }
    ))
}

/// `snap changes [--abs-time] [<snap>]`: columns two spaces or more apart, as the
/// charms that read it split them.
fn changes(st: &HostState, a: &Args, names: &[String]) -> Output {
    let (spawn, ready) = if a.has(&["abs-time"]) {
        ("2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z")
    } else {
        ("today at 00:00 UTC", "today at 00:00 UTC")
    };
    let mut out = String::from("ID   Status  Spawn  Ready  Summary\n");
    for c in &st.changes {
        if !names.is_empty() && !names.iter().any(|n| c.summary.contains(&format!("\"{n}"))) {
            continue;
        }
        let status = if c.err.is_some() { "Error" } else { "Done" };
        out.push_str(&format!(
            "{}  {status}  {spawn}  {ready}  {}\n",
            c.id, c.summary
        ));
    }
    Output::ok(out)
}
