//! systemd's view of the machine's services: `systemctl` and `service`.
//!
//! A unit has an active state (is it running now) and an enablement (does it start at
//! boot), as systemd keeps them apart: `systemctl start` runs a unit without enabling it,
//! `enable` without starting it (unless `--now`), a masked unit cannot be started. A snap's
//! service is the unit `snap.<snap>.<app>.service`; a package's service is the unit its
//! package ships. `is-active`, `is-enabled`, `is-failed`, `show` and `status` answer from
//! the same state with systemd's exit codes (`is-active` 3 when any unit is not active,
//! `status` 3 for a stopped unit and 4 for one that does not exist), so a charm that
//! reads the output and one that reads the exit code see the same machine.
//!
//! A unit nothing declared is taken to exist when a charm starts or enables it (the
//! machine has whatever service the charm names); asked about before that, it is
//! inactive, as a unit that is not loaded is.

use crate::args::Args;
use crate::state::{HostState, Output};
use serde::{Deserialize, Serialize};

/// Is it running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActiveState {
    Active,
    Inactive,
    Failed,
}

impl ActiveState {
    pub fn as_str(self) -> &'static str {
        match self {
            ActiveState::Active => "active",
            ActiveState::Inactive => "inactive",
            ActiveState::Failed => "failed",
        }
    }
    fn sub_state(self) -> &'static str {
        match self {
            ActiveState::Active => "running",
            ActiveState::Inactive => "dead",
            ActiveState::Failed => "failed",
        }
    }
}

/// Does it start at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Enablement {
    Enabled,
    Disabled,
    Masked,
}

impl Enablement {
    pub fn as_str(self) -> &'static str {
        match self {
            Enablement::Enabled => "enabled",
            Enablement::Disabled => "disabled",
            Enablement::Masked => "masked",
        }
    }
}

/// One systemd unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub active: ActiveState,
    pub enabled: Enablement,
    /// Who brought it: `package tinyproxy`, `snap kafka`, or `assumed` (a charm named it).
    pub origin: String,
}

impl Unit {
    pub fn new(origin: impl Into<String>, active: bool, enabled: bool) -> Unit {
        Unit {
            active: if active {
                ActiveState::Active
            } else {
                ActiveState::Inactive
            },
            enabled: if enabled {
                Enablement::Enabled
            } else {
                Enablement::Disabled
            },
            origin: origin.into(),
        }
    }

    /// After a boot: running if enabled.
    pub fn boot(&mut self) {
        self.active = if self.enabled == Enablement::Enabled {
            ActiveState::Active
        } else {
            ActiveState::Inactive
        };
    }

    pub fn is_active(&self) -> bool {
        self.active == ActiveState::Active
    }
}

const SUFFIXES: &[&str] = &[
    ".service", ".socket", ".timer", ".target", ".mount", ".path", ".slice", ".scope",
];

/// `tinyproxy` → `tinyproxy.service`, as systemctl completes a bare name.
pub fn unit_name(name: &str) -> String {
    if SUFFIXES.iter().any(|s| name.ends_with(s)) {
        name.to_string()
    } else {
        format!("{name}.service")
    }
}

/// The unit of a snap's service.
pub fn snap_unit(snap: &str, app: &str) -> String {
    format!("snap.{snap}.{app}.service")
}

const VALUED: &[&str] = &[
    "property",
    "p",
    "type",
    "t",
    "state",
    "signal",
    "s",
    "kill-whom",
    "lines",
    "n",
    "output",
    "o",
    "job-mode",
    "root",
    "H",
    "host",
    "M",
    "machine",
];

/// `systemctl VERB [UNIT…]`.
pub fn systemctl(st: &mut HostState, args: &[String]) -> Output {
    let a = Args::parse(args, VALUED);
    let Some((verb, names)) = a.pos.split_first() else {
        return list_units(st, &a);
    };
    let units: Vec<String> = names.iter().map(|n| unit_name(n)).collect();
    let quiet = a.has(&["quiet", "q"]);
    let now = a.has(&["now"]);
    match verb.as_str() {
        "start"
        | "restart"
        | "reload"
        | "reload-or-restart"
        | "force-reload"
        | "condrestart"
        | "try-restart"
        | "try-reload-or-restart" => {
            need_units(verb, &units).unwrap_or_else(|| start(st, verb, &units))
        }
        "stop" | "kill" => need_units(verb, &units).unwrap_or_else(|| {
            for u in &units {
                if let Some(unit) = st.units.get_mut(u) {
                    unit.active = ActiveState::Inactive;
                }
            }
            Output::ok("")
        }),
        "enable" | "reenable" | "disable" | "mask" | "unmask" | "preset" => {
            need_units(verb, &units).unwrap_or_else(|| enable(st, verb, &units, now))
        }
        "is-active" => ask(
            st,
            &units,
            quiet,
            |u| {
                let s = u.map_or(ActiveState::Inactive, |u| u.active);
                (s.as_str().to_string(), s == ActiveState::Active)
            },
            3,
        ),
        "is-failed" => ask(
            st,
            &units,
            quiet,
            |u| {
                let s = u.map_or(ActiveState::Inactive, |u| u.active);
                (s.as_str().to_string(), s == ActiveState::Failed)
            },
            1,
        ),
        "is-enabled" => is_enabled(st, &units, quiet),
        "show" => show(st, &units, &a),
        "status" => status(st, &units),
        "list-units" => list_units(st, &a),
        "list-unit-files" => list_unit_files(st, &a),
        "daemon-reload" | "daemon-reexec" | "reset-failed" | "set-property" => {
            if verb == "reset-failed" {
                for u in st
                    .units
                    .values_mut()
                    .filter(|u| u.active == ActiveState::Failed)
                {
                    u.active = ActiveState::Inactive;
                }
            }
            Output::ok("")
        }
        other => Output::fail(1, format!("Unknown command verb {other}.")),
    }
}

fn need_units(verb: &str, units: &[String]) -> Option<Output> {
    units.is_empty().then(|| {
        Output::fail(
            1,
            format!("Too few arguments.\n(systemctl {verb} needs a unit)"),
        )
    })
}

fn start(st: &mut HostState, verb: &str, units: &[String]) -> Output {
    let only_if_running = verb.starts_with("try") || verb == "condrestart";
    for u in units {
        if st
            .units
            .get(u)
            .is_some_and(|x| x.enabled == Enablement::Masked)
        {
            let v = if verb.contains("restart") {
                "restart"
            } else {
                verb
            };
            return Output::fail(1, format!("Failed to {v} {u}: Unit {u} is masked."));
        }
    }
    for u in units {
        let unit = st
            .units
            .entry(u.clone())
            .or_insert_with(|| Unit::new("assumed", false, false));
        if !only_if_running || unit.is_active() {
            unit.active = ActiveState::Active;
        }
    }
    Output::ok("")
}

fn enable(st: &mut HostState, verb: &str, units: &[String], now: bool) -> Output {
    let mut err = String::new();
    for u in units {
        let unit = st
            .units
            .entry(u.clone())
            .or_insert_with(|| Unit::new("assumed", false, false));
        match verb {
            "enable" | "reenable" | "preset" => {
                if unit.enabled == Enablement::Masked {
                    err.push_str(&format!(
                        "Failed to enable unit: Unit file {u} is masked.\n"
                    ));
                    continue;
                }
                unit.enabled = Enablement::Enabled;
                err.push_str(&format!(
                    "Created symlink /etc/systemd/system/multi-user.target.wants/{u} → /lib/systemd/system/{u}.\n"
                ));
                if now {
                    unit.active = ActiveState::Active;
                }
            }
            "disable" => {
                if unit.enabled == Enablement::Enabled {
                    err.push_str(&format!(
                        "Removed /etc/systemd/system/multi-user.target.wants/{u}.\n"
                    ));
                    unit.enabled = Enablement::Disabled;
                }
                if now {
                    unit.active = ActiveState::Inactive;
                }
            }
            "mask" => {
                unit.enabled = Enablement::Masked;
                err.push_str(&format!(
                    "Created symlink /etc/systemd/system/{u} → /dev/null.\n"
                ));
                if now {
                    unit.active = ActiveState::Inactive;
                }
            }
            _ => {
                if unit.enabled == Enablement::Masked {
                    unit.enabled = Enablement::Disabled;
                    err.push_str(&format!("Removed /etc/systemd/system/{u}.\n"));
                }
            }
        }
    }
    let failed = err.contains("Failed");
    Output {
        code: i32::from(failed),
        stdout: String::new(),
        stderr: err,
    }
}

/// A yes/no question per unit: each unit's answer printed (unless quiet), exit 0 when
/// every answer was yes.
fn ask(
    st: &HostState,
    units: &[String],
    quiet: bool,
    f: impl Fn(Option<&Unit>) -> (String, bool),
    no: i32,
) -> Output {
    let mut out = String::new();
    let mut all = !units.is_empty();
    for u in units {
        let (text, yes) = f(st.units.get(u));
        all &= yes;
        if !quiet {
            out.push_str(&text);
            out.push('\n');
        }
    }
    Output {
        code: if all { 0 } else { no },
        stdout: out,
        stderr: String::new(),
    }
}

fn is_enabled(st: &HostState, units: &[String], quiet: bool) -> Output {
    if let Some(u) = units.iter().find(|u| !st.units.contains_key(*u)) {
        return Output::fail(
            1,
            format!("Failed to get unit file state for {u}: No such file or directory"),
        );
    }
    ask(
        st,
        units,
        quiet,
        |u| {
            let e = u.map_or(Enablement::Disabled, |u| u.enabled);
            (e.as_str().to_string(), e == Enablement::Enabled)
        },
        1,
    )
}

/// `systemctl show`: `Key=value` lines (only the values with `--value`), units apart by
/// a blank line.
fn show(st: &HostState, units: &[String], a: &Args) -> Output {
    let wanted: Vec<String> = a
        .opts
        .iter()
        .filter(|(k, _)| *k == "property" || *k == "p")
        .filter_map(|(_, v)| v.clone())
        .flat_map(|v| v.split(',').map(String::from).collect::<Vec<_>>())
        .collect();
    let only_values = a.has(&["value"]);
    let blocks: Vec<String> = units
        .iter()
        .map(|u| {
            let unit = st.units.get(u);
            let active = unit.map_or(ActiveState::Inactive, |x| x.active);
            let props = [
                ("Type", "simple".to_string()),
                ("Id", u.clone()),
                ("Names", u.clone()),
                (
                    "LoadState",
                    if unit.is_some() {
                        "loaded"
                    } else {
                        "not-found"
                    }
                    .into(),
                ),
                ("ActiveState", active.as_str().into()),
                ("SubState", active.sub_state().into()),
                (
                    "UnitFileState",
                    unit.map_or("", |x| x.enabled.as_str()).into(),
                ),
                (
                    "MainPID",
                    if active == ActiveState::Active {
                        "4242"
                    } else {
                        "0"
                    }
                    .into(),
                ),
                (
                    "Result",
                    if active == ActiveState::Failed {
                        "exit-code"
                    } else {
                        "success"
                    }
                    .into(),
                ),
                ("NRestarts", "0".into()),
            ];
            props
                .iter()
                .filter(|(k, _)| wanted.is_empty() || wanted.iter().any(|w| w == k))
                .map(|(k, v)| {
                    if only_values {
                        format!("{v}\n")
                    } else {
                        format!("{k}={v}\n")
                    }
                })
                .collect::<String>()
        })
        .collect();
    Output::ok(blocks.join("\n"))
}

fn status(st: &HostState, units: &[String]) -> Output {
    let mut out = String::new();
    let mut code = 0;
    for u in units {
        let Some(unit) = st.units.get(u) else {
            return Output {
                code: 4,
                stdout: out,
                stderr: format!("Unit {u} could not be found.\n"),
            };
        };
        let dot = if unit.is_active() { '●' } else { '○' };
        out.push_str(&format!(
            "{dot} {u}\n     Loaded: loaded (/lib/systemd/system/{u}; {})\n     Active: {} ({})\n",
            unit.enabled.as_str(),
            unit.active.as_str(),
            unit.active.sub_state()
        ));
        if !unit.is_active() {
            code = 3;
        }
    }
    Output {
        code,
        stdout: out,
        stderr: String::new(),
    }
}

fn list_units(st: &HostState, a: &Args) -> Output {
    let all = a.has(&["all", "a"]);
    let legend = !a.has(&["no-legend"]);
    let mut out = String::new();
    if legend {
        out.push_str("UNIT LOAD ACTIVE SUB DESCRIPTION\n");
    }
    let mut n = 0;
    for (name, u) in &st.units {
        if all || u.active != ActiveState::Inactive {
            n += 1;
            out.push_str(&format!(
                "{name} loaded {} {} {name}\n",
                u.active.as_str(),
                u.active.sub_state()
            ));
        }
    }
    if legend {
        out.push_str(&format!("\n{n} loaded units listed.\n"));
    }
    Output::ok(out)
}

fn list_unit_files(st: &HostState, a: &Args) -> Output {
    let legend = !a.has(&["no-legend"]);
    let mut out = String::new();
    if legend {
        out.push_str("UNIT FILE STATE VENDOR PRESET\n");
    }
    for (name, u) in &st.units {
        out.push_str(&format!("{name} {} enabled\n", u.enabled.as_str()));
    }
    if legend {
        out.push_str(&format!("\n{} unit files listed.\n", st.units.len()));
    }
    Output::ok(out)
}

/// `service NAME start|stop|restart|reload|force-reload|status`: systemctl's verbs.
pub fn service(st: &mut HostState, args: &[String]) -> Output {
    match args {
        [name, verb, ..] => {
            let verb = match verb.as_str() {
                "force-reload" => "reload-or-restart",
                v => v,
            };
            systemctl(st, &[verb.to_string(), name.clone()])
        }
        _ => Output::fail(
            1,
            "Usage: service < option > | --status-all | [ service_name [ command | --full-restart ] ]",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctl(st: &mut HostState, line: &str) -> Output {
        let v: Vec<String> = line.split_whitespace().map(String::from).collect();
        systemctl(st, &v)
    }

    #[test]
    fn start_stop_enable_and_the_questions_agree() {
        let mut st = HostState::default();
        let q = ctl(&mut st, "is-active tinyproxy");
        assert_eq!((q.code, q.stdout.as_str()), (3, "inactive\n"));
        assert_eq!(ctl(&mut st, "start tinyproxy").code, 0);
        let q = ctl(&mut st, "is-active --quiet tinyproxy.service");
        assert_eq!((q.code, q.stdout.as_str()), (0, ""));
        assert_eq!(ctl(&mut st, "is-enabled tinyproxy").code, 1);
        assert_eq!(ctl(&mut st, "enable tinyproxy").code, 0);
        assert_eq!(ctl(&mut st, "is-enabled tinyproxy").stdout, "enabled\n");
        let show = ctl(&mut st, "show tinyproxy -p ActiveState,SubState");
        assert_eq!(show.stdout, "ActiveState=active\nSubState=running\n");
        assert_eq!(ctl(&mut st, "stop tinyproxy").code, 0);
        assert_eq!(ctl(&mut st, "status tinyproxy").code, 3);
        assert_eq!(ctl(&mut st, "status nothing").code, 4);
        // try-restart leaves a stopped unit stopped.
        ctl(&mut st, "try-restart tinyproxy");
        assert!(!st.units["tinyproxy.service"].is_active());
        st.reboot();
        assert!(
            st.units["tinyproxy.service"].is_active(),
            "enabled units start at boot"
        );
    }

    #[test]
    fn a_masked_unit_does_not_start() {
        let mut st = HostState::default();
        ctl(&mut st, "mask demo");
        let o = ctl(&mut st, "restart demo");
        assert_eq!(o.code, 1);
        assert!(o.stderr.contains("masked"), "{o:?}");
        ctl(&mut st, "unmask demo");
        assert_eq!(ctl(&mut st, "restart demo").code, 0);
        let s = service(&mut st, &["demo".into(), "stop".into()]);
        assert_eq!(s.code, 0);
        assert_eq!(ctl(&mut st, "is-active demo").stdout, "inactive\n");
    }
}
