//! snapd's model of the machine's snaps, shared by the `snap` command ([`cli`]) and the
//! REST API ([`api`]).
//!
//! A snap is installed at a revision from a channel it then tracks (`latest/stable` by
//! default); a refresh moves it to the channel's current revision, or to the one asked
//! for, and keeps the one before for `snap revert`. Its apps are commands or daemons;
//! each daemon is the systemd unit `snap.<snap>.<app>.service`, started and enabled by
//! the install, so `snap services`, `GET /v2/apps` and `systemctl is-active` agree. Its
//! configuration is a JSON document set by dotted keys (`snap set kafka log.level=debug`
//! makes `{"log": {"level": "debug"}}`). Every operation that changes something is a
//! snapd *change*; the fake finishes each at once, done or in error.

pub mod api;
pub mod cli;

use crate::Shared;
use crate::config::{app_command, default_version, stable_hash};
use crate::files;
use crate::state::{HostFaults, HostState, NO_SPACE};
use crate::systemd::{ActiveState, Enablement, Unit, snap_unit};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// One app of a snap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    /// A service (`simple`), or a command (None).
    pub daemon: Option<String>,
}

/// The system users snapd creates for snaps that ask for them (`system-usernames`);
/// the snaps charms install mostly do, so an install creates them unless the
/// configuration lists the snap's own.
pub const DEFAULT_SNAP_USERS: [&str; 2] = ["snap_daemon", "_daemon_"];

/// An installed snap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Snap {
    pub revision: u32,
    /// The channel it tracks.
    pub channel: String,
    pub version: String,
    /// `strict`, `classic` or `devmode`.
    pub confinement: String,
    pub devmode: bool,
    pub apps: BTreeMap<String, App>,
    pub config: Map<String, Value>,
    /// `(snap:plug, snap:slot)` connections made by `snap connect`.
    pub connections: BTreeSet<(String, String)>,
    /// Alias → app.
    pub aliases: BTreeMap<String, String>,
    /// Refreshes held (`snap refresh --hold`): until when, or `forever`.
    pub hold: Option<String>,
    pub cohort: Option<String>,
    /// Earlier revisions and their channels, the latest last (for `snap revert`).
    pub history: Vec<(u32, String)>,
    /// Disabled (`snap disable`): its services stopped and not started at boot.
    pub disabled: bool,
    /// Commands it brings besides its declared apps ([`crate::config::SnapConfig::commands`]).
    #[serde(default)]
    pub extra_commands: Vec<String>,
}

impl Snap {
    /// The commands it puts in `/snap/bin`.
    pub fn commands(&self, name: &str) -> Vec<String> {
        let mut out: BTreeSet<String> = self.apps.keys().map(|a| app_command(name, a)).collect();
        out.extend(self.extra_commands.iter().map(|a| app_command(name, a)));
        out.into_iter().collect()
    }

    /// Its services, by app name.
    pub fn services(&self) -> impl Iterator<Item = &String> {
        self.apps
            .iter()
            .filter(|(_, a)| a.daemon.is_some())
            .map(|(n, _)| n)
    }
}

/// A snapd change: what an operation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub id: String,
    pub kind: String,
    pub summary: String,
    /// Why it failed; None when done.
    pub err: Option<String>,
}

/// An operation snapd refuses: its `kind` (snapd's error kind, as the API gives it) and
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapError {
    pub kind: &'static str,
    pub message: String,
    /// The HTTP status the API answers with.
    pub status: u16,
}

impl SnapError {
    fn new(kind: &'static str, status: u16, message: impl Into<String>) -> SnapError {
        SnapError {
            kind,
            message: message.into(),
            status,
        }
    }
    /// snapd's answer for a snap that is not there, where it says "not found".
    pub fn not_found(name: &str) -> SnapError {
        SnapError::new("snap-not-found", 404, format!("snap \"{name}\" not found"))
    }
    pub fn not_installed(name: &str) -> SnapError {
        SnapError::new(
            "snap-not-installed",
            400,
            format!("snap \"{name}\" is not installed"),
        )
    }
    /// An error found while the change ran (the API's change ends in Error).
    fn in_change(message: impl Into<String>) -> SnapError {
        SnapError::new("", 400, message)
    }
}

/// How an install or refresh was asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstallOptions {
    pub channel: Option<String>,
    pub revision: Option<u32>,
    pub classic: bool,
    pub devmode: bool,
    pub dangerous: bool,
    pub cohort: Option<String>,
}

/// `stable` → `latest/stable`, `3/edge` as it is, `3` → `3/stable`.
pub fn full_channel(channel: &str) -> String {
    let risks = ["stable", "candidate", "beta", "edge"];
    let parts: Vec<&str> = channel.split('/').collect();
    match parts.as_slice() {
        [one] if risks.contains(one) => format!("latest/{one}"),
        [one] => format!("{one}/stable"),
        _ => channel.to_string(),
    }
}

/// The store's revision of `name` on `channel`: configured, or derived (the same every
/// time, different per channel).
pub(crate) fn store_revision(shared: &Shared, name: &str, channel: &str) -> u32 {
    shared
        .config
        .snaps
        .get(name)
        .and_then(|s| s.revision)
        .unwrap_or_else(|| 10 + stable_hash(&format!("{name} {channel}")) % 990)
}

fn store_version(shared: &Shared, name: &str) -> String {
    shared
        .config
        .snaps
        .get(name)
        .and_then(|s| s.version.clone())
        .unwrap_or_else(|| default_version(name))
}

fn store_confinement(shared: &Shared, name: &str) -> String {
    shared
        .config
        .snaps
        .get(name)
        .and_then(|s| s.confinement.clone())
        .unwrap_or_else(|| "strict".into())
}

/// Install `name`; the message `snap install` prints.
pub(crate) fn install(
    st: &mut HostState,
    shared: &Shared,
    name: &str,
    o: &InstallOptions,
) -> Result<String, SnapError> {
    if st.snaps.contains_key(name) {
        return Err(SnapError::new(
            "snap-already-installed",
            400,
            format!("snap \"{name}\" is already installed"),
        ));
    }
    let result = install_now(st, shared, name, o);
    record(
        st,
        "install-snap",
        format!("Install \"{name}\" snap"),
        result,
    )
}

fn install_now(
    st: &mut HostState,
    shared: &Shared,
    name: &str,
    o: &InstallOptions,
) -> Result<String, SnapError> {
    if HostFaults::hits(&st.faults.install_fails, name) {
        return Err(SnapError::in_change(format!(
            "cannot install \"{name}\": persistent network error: Get https://api.snapcraft.io/api/v1/snaps/download: connection refused"
        )));
    }
    if st.faults.disk_full {
        return Err(SnapError::in_change(format!(
            "cannot install \"{name}\": write /var/lib/snapd/snaps/.{name}.partial: {NO_SPACE}"
        )));
    }
    let confinement = store_confinement(shared, name);
    if confinement == "classic" && !o.classic && !o.dangerous {
        return Err(SnapError::new(
            "snap-needs-classic",
            400,
            format!(
                "This revision of snap \"{name}\" was published using classic confinement and thus may perform arbitrary system changes outside of the security sandbox that snaps are usually confined to, which may put your system at risk.\n\nIf you understand and want to proceed repeat the command including --classic."
            ),
        ));
    }
    let channel = full_channel(o.channel.as_deref().unwrap_or("latest/stable"));
    let revision = o
        .revision
        .unwrap_or_else(|| store_revision(shared, name, &channel));
    let cfg = shared.config.snap(name);
    let mut apps = BTreeMap::new();
    for s in &cfg.services {
        apps.insert(
            s.clone(),
            App {
                daemon: Some("simple".into()),
            },
        );
    }
    for a in &cfg.apps {
        apps.entry(a.clone()).or_insert(App { daemon: None });
    }
    let snap = Snap {
        revision,
        channel: channel.clone(),
        version: store_version(shared, name),
        confinement: if o.devmode {
            "devmode".into()
        } else {
            confinement
        },
        devmode: o.devmode,
        apps,
        config: Map::new(),
        connections: BTreeSet::new(),
        aliases: BTreeMap::new(),
        hold: None,
        cohort: o.cohort.clone(),
        history: Vec::new(),
        disabled: false,
        extra_commands: cfg.commands.clone(),
    };
    for s in snap.services() {
        st.units.insert(
            snap_unit(name, s),
            Unit::new(format!("snap {name}"), true, true),
        );
    }
    for u in cfg
        .users
        .unwrap_or_else(|| DEFAULT_SNAP_USERS.map(String::from).to_vec())
    {
        files::add_user(shared.fs.as_ref(), &u);
    }
    for app in snap.services() {
        files::snap_unit_file(shared.fs.as_ref(), name, app);
    }
    files::snap_dirs(
        shared.fs.as_ref(),
        name,
        revision,
        None,
        &snap.commands(name),
    );
    files::snap_files(shared.fs.as_ref(), name, &cfg.files);
    let msg = if o.dangerous {
        format!("{name} {} installed\n", snap.version)
    } else {
        installed_message(name, &snap, "installed")
    };
    st.snaps.insert(name.to_string(), snap);
    Ok(msg)
}

fn installed_message(name: &str, snap: &Snap, what: &str) -> String {
    let channel = if snap.channel == "latest/stable" {
        String::new()
    } else {
        format!(" ({})", snap.channel)
    };
    format!("{name}{channel} {} from Canonical✓ {what}\n", snap.version)
}

/// Refresh `name` to its channel's (or the given channel's, or revision's) current
/// revision; the message `snap refresh` prints.
pub(crate) fn refresh(
    st: &mut HostState,
    shared: &Shared,
    name: &str,
    o: &InstallOptions,
) -> Result<String, SnapError> {
    let Some(old) = st.snaps.get(name).cloned() else {
        return Err(SnapError::not_installed(name));
    };
    let channel = full_channel(o.channel.as_deref().unwrap_or(&old.channel));
    let revision = o
        .revision
        .unwrap_or_else(|| store_revision(shared, name, &channel));
    if HostFaults::hits(&st.faults.refresh_held, name)
        || (revision == old.revision && channel == old.channel)
    {
        // Nothing to do: no change is made (the API answers with no change either).
        return Ok(format!("snap \"{name}\" has no updates available\n"));
    }
    let broken = if HostFaults::hits(&st.faults.refresh_fails, name) {
        Some(format!(
            "cannot refresh \"{name}\": persistent network error: Get https://api.snapcraft.io/api/v1/snaps/download/{name}: connection reset by peer"
        ))
    } else if st.faults.disk_full {
        Some(format!(
            "cannot refresh \"{name}\": write /var/lib/snapd/snaps/.{name}_{revision}.snap.partial: {NO_SPACE}"
        ))
    } else {
        None
    };
    if let Some(message) = broken {
        return record(
            st,
            "refresh-snap",
            format!("Refresh \"{name}\" snap"),
            Err(SnapError::in_change(message)),
        );
    }
    let snap = st.snaps.get_mut(name).expect("installed");
    snap.history.push((old.revision, old.channel.clone()));
    snap.revision = revision;
    snap.channel = channel;
    if o.classic {
        snap.confinement = "classic".into();
    }
    let msg = installed_message(name, snap, "refreshed");
    let commands = snap.commands(name);
    files::snap_dirs(
        shared.fs.as_ref(),
        name,
        revision,
        Some(old.revision),
        &commands,
    );
    restart_running(st, name);
    record(
        st,
        "refresh-snap",
        format!("Refresh \"{name}\" snap"),
        Ok(msg),
    )
}

/// Back to the revision before the last refresh.
pub(crate) fn revert(
    st: &mut HostState,
    shared: &Shared,
    name: &str,
    revision: Option<u32>,
) -> Result<String, SnapError> {
    let Some(snap) = st.snaps.get_mut(name) else {
        return Err(SnapError::not_installed(name));
    };
    let pos = match revision {
        Some(r) => snap.history.iter().rposition(|(h, _)| *h == r),
        None => snap.history.len().checked_sub(1),
    };
    let Some(pos) = pos else {
        return Err(SnapError::new(
            "",
            400,
            format!("no revision to revert to for snap \"{name}\""),
        ));
    };
    let (rev, _) = snap.history.remove(pos);
    let from = snap.revision;
    snap.history.push((from, snap.channel.clone()));
    snap.revision = rev;
    let msg = format!("{name} reverted to {}\n", snap.version);
    let commands = snap.commands(name);
    files::snap_dirs(shared.fs.as_ref(), name, rev, Some(from), &commands);
    restart_running(st, name);
    record(
        st,
        "revert-snap",
        format!("Revert \"{name}\" snap"),
        Ok(msg),
    )
}

/// A refresh or revert restarts the services that were running.
fn restart_running(st: &mut HostState, name: &str) {
    let prefix = format!("snap.{name}.");
    for (_, u) in st.units.iter_mut().filter(|(n, _)| n.starts_with(&prefix)) {
        if u.enabled == Enablement::Enabled && u.active == ActiveState::Failed {
            u.active = ActiveState::Active;
        }
    }
}

/// Remove `name`, its services and its files.
pub(crate) fn remove(st: &mut HostState, shared: &Shared, name: &str) -> Result<String, SnapError> {
    let Some(snap) = st.snaps.remove(name) else {
        return Err(SnapError::new(
            "snap-not-found",
            404,
            format!("snap \"{name}\" is not installed"),
        ));
    };
    let origin = format!("snap {name}");
    st.units.retain(|_, u| u.origin != origin);
    files::remove_snap_dirs(shared.fs.as_ref(), name, &snap.commands(name));
    record(
        st,
        "remove-snap",
        format!("Remove \"{name}\" snap"),
        Ok(format!("{name} removed\n")),
    )
}

/// What a service operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceAction {
    Start,
    Stop,
    Restart,
}

/// `snap start|stop|restart [--enable|--disable] <snap>[.<app>]…`. A whole snap means
/// all its services; an app nothing declared is taken to be a service of the snap.
pub fn services(
    st: &mut HostState,
    targets: &[String],
    action: ServiceAction,
    enable: bool,
    disable: bool,
) -> Result<String, SnapError> {
    let mut units = Vec::new();
    for t in targets {
        let (name, app) = match t.split_once('.') {
            Some((n, a)) => (n, Some(a)),
            None => (t.as_str(), None),
        };
        let Some(snap) = st.snaps.get_mut(name) else {
            return Err(SnapError::not_found(name));
        };
        match app {
            Some(a) => {
                let entry = snap.apps.entry(a.to_string()).or_insert(App {
                    daemon: Some("simple".into()),
                });
                if entry.daemon.is_none() {
                    return Err(SnapError::new(
                        "app-not-found",
                        404,
                        format!("snap \"{name}\" has no service \"{a}\""),
                    ));
                }
                units.push((name.to_string(), a.to_string()));
            }
            None => units.extend(snap.services().map(|a| (name.to_string(), a.clone()))),
        }
    }
    for (name, app) in &units {
        let unit = st
            .units
            .entry(snap_unit(name, app))
            .or_insert_with(|| Unit::new(format!("snap {name}"), false, false));
        unit.active = match action {
            ServiceAction::Stop => ActiveState::Inactive,
            _ => ActiveState::Active,
        };
        if enable {
            unit.enabled = Enablement::Enabled;
        }
        if disable {
            unit.enabled = Enablement::Disabled;
        }
    }
    let (kind, done) = match action {
        ServiceAction::Start => ("start", "Started.\n"),
        ServiceAction::Stop => ("stop", "Stopped.\n"),
        ServiceAction::Restart => ("restart", "Restarted.\n"),
    };
    // snapd's summary for every service operation (charms look for it in `snap changes`).
    record(
        st,
        &format!("service-control-{kind}"),
        "Running service command".to_string(),
        Ok(done.to_string()),
    )
}

/// Set dotted `key`s of `name`'s configuration (`snap set`, `PUT …/conf`); a null value
/// unsets.
pub fn set_config(
    st: &mut HostState,
    name: &str,
    values: &[(String, Value)],
) -> Result<String, SnapError> {
    if st.faults.disk_full {
        return Err(SnapError::new(
            "",
            500,
            format!("cannot write state: open /var/lib/snapd/state.json.tmp: {NO_SPACE}"),
        ));
    }
    let conf = if name == "system" || name == "core" {
        &mut st.system_options
    } else {
        match st.snaps.get_mut(name) {
            Some(s) => &mut s.config,
            None => return Err(SnapError::not_installed(name)),
        }
    };
    for (key, value) in values {
        set_path(conf, key, value.clone());
    }
    record(
        st,
        "configure-snap",
        format!("Change configuration of \"{name}\" snap"),
        Ok(String::new()),
    )
}

fn set_path(map: &mut Map<String, Value>, key: &str, value: Value) {
    match key.split_once('.') {
        None if value.is_null() => {
            map.remove(key);
        }
        None => {
            map.insert(key.to_string(), value);
        }
        Some((first, rest)) => {
            let entry = map
                .entry(first.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                set_path(inner, rest, value);
            }
        }
    }
}

/// `name`'s configuration document: snapd's own options for `system` (or `core`).
pub fn config_of<'a>(st: &'a HostState, name: &str) -> Result<&'a Map<String, Value>, SnapError> {
    if name == "system" || name == "core" {
        return Ok(&st.system_options);
    }
    st.snaps
        .get(name)
        .map(|s| &s.config)
        .ok_or_else(|| SnapError::not_installed(name))
}

/// The value at dotted `key` of `name`'s configuration.
pub fn get_config(st: &HostState, name: &str, key: &str) -> Result<Option<Value>, SnapError> {
    let mut cur = config_of(st, name)?;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        match cur.get(*p) {
            Some(v) if i + 1 == parts.len() => return Ok(Some(v.clone())),
            Some(Value::Object(m)) => cur = m,
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// Record a change for `result` (ended in error or done) and pass the result on.
fn record(
    st: &mut HostState,
    kind: &str,
    summary: String,
    result: Result<String, SnapError>,
) -> Result<String, SnapError> {
    let err = result.as_ref().err().map(|e| e.message.clone());
    st.change(kind, summary, err);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{HostConfig, SnapConfig};
    use crate::files::NoFiles;

    fn shared(config: HostConfig) -> Shared {
        Shared {
            state: std::sync::Mutex::new(HostState::default()),
            config,
            fs: Box::new(NoFiles),
        }
    }

    #[test]
    fn install_refresh_revert_and_remove() {
        let sh = shared(HostConfig {
            snaps: [(
                "kafka".to_string(),
                SnapConfig {
                    services: vec!["daemon".into()],
                    ..SnapConfig::default()
                },
            )]
            .into(),
            ..HostConfig::default()
        });
        let mut st = HostState::default();
        let o = InstallOptions {
            channel: Some("3/edge".into()),
            ..InstallOptions::default()
        };
        let msg = install(&mut st, &sh, "kafka", &o).unwrap();
        assert!(msg.starts_with("kafka (3/edge) "), "{msg}");
        let first = st.snaps["kafka"].revision;
        assert_eq!(first, store_revision(&sh, "kafka", "3/edge"));
        assert!(st.units["snap.kafka.daemon.service"].is_active());
        assert!(install(&mut st, &sh, "kafka", &o).is_err());
        let same = refresh(&mut st, &sh, "kafka", &InstallOptions::default()).unwrap();
        assert!(same.contains("no updates"), "{same}");
        refresh(
            &mut st,
            &sh,
            "kafka",
            &InstallOptions {
                channel: Some("stable".into()),
                ..InstallOptions::default()
            },
        )
        .unwrap();
        assert_eq!(st.snaps["kafka"].channel, "latest/stable");
        revert(&mut st, &sh, "kafka", None).unwrap();
        assert_eq!(st.snaps["kafka"].revision, first);
        st.faults.refresh_fails.insert("kafka".into());
        let e = refresh(
            &mut st,
            &sh,
            "kafka",
            &InstallOptions {
                revision: Some(first + 1),
                ..InstallOptions::default()
            },
        )
        .unwrap_err();
        assert!(e.message.contains("cannot refresh"));
        assert_eq!(
            st.snaps["kafka"].revision, first,
            "a failed refresh changes nothing"
        );
        assert_eq!(
            st.changes.last().unwrap().err.as_deref(),
            Some(e.message.as_str())
        );
        remove(&mut st, &sh, "kafka").unwrap();
        assert!(st.snaps.is_empty() && st.units.is_empty());
    }

    #[test]
    fn services_and_config() {
        let sh = shared(HostConfig::default());
        let mut st = HostState::default();
        install(&mut st, &sh, "db", &InstallOptions::default()).unwrap();
        services(
            &mut st,
            &["db.server".into()],
            ServiceAction::Start,
            true,
            false,
        )
        .unwrap();
        assert!(st.units["snap.db.server.service"].is_active());
        services(&mut st, &["db".into()], ServiceAction::Stop, false, true).unwrap();
        let u = &st.units["snap.db.server.service"];
        assert_eq!(
            (u.active, u.enabled),
            (ActiveState::Inactive, Enablement::Disabled)
        );
        assert!(
            services(
                &mut st,
                &["nope.x".into()],
                ServiceAction::Start,
                false,
                false
            )
            .is_err()
        );
        set_config(
            &mut st,
            "db",
            &[
                ("log.level".into(), Value::from("debug")),
                ("port".into(), Value::from(5)),
            ],
        )
        .unwrap();
        assert_eq!(
            get_config(&st, "db", "log.level").unwrap(),
            Some(Value::from("debug"))
        );
        assert_eq!(
            st.snaps["db"].config["log"],
            serde_json::json!({"level": "debug"})
        );
        set_config(&mut st, "db", &[("log.level".into(), Value::Null)]).unwrap();
        assert_eq!(get_config(&st, "db", "log.level").unwrap(), None);
    }
}
