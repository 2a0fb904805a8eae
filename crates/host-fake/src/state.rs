//! The machine's state, one value: what snapd, systemd and dpkg know, and the faults in
//! force. Cloning it is a snapshot.

use crate::apt::Package;
use crate::config::HostConfig;
use crate::snap::{Change, Snap};
use crate::systemd::Unit;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What a program printed and how it exited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Exit 0 with `stdout`.
    pub fn ok(stdout: impl Into<String>) -> Output {
        Output {
            code: 0,
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    /// Exit `code` with `stderr` (a newline added when missing).
    pub fn fail(code: i32, stderr: impl Into<String>) -> Output {
        let mut stderr = stderr.into();
        if !stderr.ends_with('\n') {
            stderr.push('\n');
        }
        Output {
            code,
            stdout: String::new(),
            stderr,
        }
    }
}

/// One call the machine answered: a command, or a snapd request (`program` is
/// `snapd`, `args` its method and path with the query, `code` the HTTP status and
/// `stdout` the JSON body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostCall {
    pub program: String,
    pub args: Vec<String>,
    pub code: i32,
    /// What a command printed, or snapd's answer.
    pub stdout: String,
}

/// What the machine will do wrong. Names are snap or package names; `*` is every one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct HostFaults {
    /// `snap refresh` fails (the store or the download broke); the snap stays as it was.
    pub refresh_fails: BTreeSet<String>,
    /// The store holds refreshes of these snaps back (`snap refresh` changes nothing).
    pub refresh_held: BTreeSet<String>,
    /// Installing these snaps or packages fails.
    pub install_fails: BTreeSet<String>,
    /// The disk is full: whatever snapd or apt would write (an install, a refresh, a
    /// snap's configuration) fails with "no space left on device".
    pub disk_full: bool,
}

/// What snapd and apt print when they cannot write (the disk is full).
pub(crate) const NO_SPACE: &str = "no space left on device";

impl HostFaults {
    pub(crate) fn hits(set: &BTreeSet<String>, name: &str) -> bool {
        set.contains(name) || set.contains("*")
    }
}

/// Everything the machine knows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct HostState {
    /// Installed snaps by name.
    pub snaps: BTreeMap<String, Snap>,
    /// `snap set system …`: snapd's own options (`refresh.hold`, `proxy.http`).
    pub system_options: serde_json::Map<String, serde_json::Value>,
    /// snapd's changes, oldest first (ids count from 1).
    pub changes: Vec<Change>,
    /// systemd's units by full name (`tinyproxy.service`, `snap.kafka.daemon.service`).
    pub units: BTreeMap<String, Unit>,
    /// dpkg's database by package name.
    pub packages: BTreeMap<String, Package>,
    /// `apt-get update` has run.
    pub apt_updated: bool,
    /// Kernel parameters the charm set (`sysctl -w`).
    pub sysctl: BTreeMap<String, String>,
    pub faults: HostFaults,
    /// Calls not yet taken by the harness.
    #[serde(skip)]
    pub calls: Vec<HostCall>,
}

impl HostState {
    /// A machine as Juju provisions it: snapd and its `core` base, nothing of the
    /// charm's, and the packages the configuration preinstalls.
    pub fn fresh(config: &HostConfig) -> HostState {
        let mut st = HostState::default();
        for (name, p) in &config.packages {
            if p.preinstalled {
                st.packages
                    .insert(name.clone(), Package::from_archive(name, config, None));
            }
        }
        st
    }

    /// The machine boots: services run as their enablement says.
    pub fn reboot(&mut self) {
        for u in self.units.values_mut() {
            u.boot();
        }
    }

    /// A running service dies (a crash, the OOM killer): systemd marks it failed and
    /// nothing restarts it. False when it was not running.
    pub fn fail_service(&mut self, unit: &str) -> bool {
        match self.units.get_mut(unit) {
            Some(u) if u.is_active() => {
                u.active = crate::systemd::ActiveState::Failed;
                true
            }
            _ => false,
        }
    }

    /// The systemd units active now, by full name.
    pub fn active_services(&self) -> Vec<String> {
        (self.units.iter())
            .filter(|(_, u)| u.is_active())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Commands that installed packages and snaps bring.
    pub fn commands(&self, config: &HostConfig) -> Vec<String> {
        let mut out = BTreeSet::new();
        for name in self
            .packages
            .iter()
            .filter(|(_, p)| p.installed())
            .map(|(n, _)| n)
        {
            out.extend(config.package_commands(name));
        }
        for (name, s) in &self.snaps {
            out.extend(s.commands(name));
        }
        out.into_iter().collect()
    }

    pub fn has_command(&self, config: &HostConfig, program: &str) -> bool {
        self.commands(config).iter().any(|c| c == program)
    }

    /// A command a package or snap brought: its scripted answer, or success with no
    /// output; not found when nothing installed brings it.
    pub fn run_command(&mut self, config: &HostConfig, program: &str, args: &[String]) -> Output {
        if !self.has_command(config, program) {
            return Output::fail(127, format!("{program}: command not found"));
        }
        let mut argv = vec![program.to_string()];
        argv.extend(args.iter().cloned());
        config.command_answer(&argv).unwrap_or_default()
    }

    /// A new snapd change, done at once (or failed with `err`); its id.
    pub fn change(&mut self, kind: &str, summary: String, err: Option<String>) -> String {
        let id = (self.changes.len() + 1).to_string();
        self.changes.push(Change {
            id: id.clone(),
            kind: kind.to_string(),
            summary,
            err,
        });
        id
    }
}
