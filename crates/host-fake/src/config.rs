//! What the store and the archive hold, where a charm needs more than the defaults.
//!
//! ```toml
//! [snaps.charmed-kafka]          # (in charmfuzz.toml: [target.host.snaps.charmed-kafka])
//! version = "3.6.1"
//! revision = 30                  # else derived from the name and channel
//! services = ["daemon"]          # its daemon apps (snap.charmed-kafka.daemon.service)
//! apps = ["topics"]              # its other commands (charmed-kafka.topics)
//! users = ["snap_daemon"]        # users its install creates (the default)
//! files = { "/var/snap/charmed-kafka/current/etc/server.properties" = "" }
//!
//! [packages.tinyproxy]
//! version = "1.11.0-1"
//! services = ["tinyproxy"]       # units its install starts and enables
//! users = ["tinyproxy"]
//! commands = ["tinyproxy"]       # the default: the package's own name
//! preinstalled = false
//!
//! [[command]]                    # what a command an install brought prints
//! command = ["tinyproxy", "-v"]  # (longest prefix wins; else exit 0, no output)
//! stdout = "tinyproxy 1.11.0\n"
//! ```

use crate::state::Output;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A configuration the fake cannot use.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HostConfigError(pub String);

/// A snap the store has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct SnapConfig {
    pub version: Option<String>,
    pub revision: Option<u32>,
    /// Its daemons: apps that are services.
    pub services: Vec<String>,
    /// Its other apps (commands).
    pub apps: Vec<String>,
    /// Commands it brings (`<name>.<command>`, in `/snap/bin`) that need not be apps of
    /// its own in snapd's answers: the harness adds those the charm's source names.
    pub commands: Vec<String>,
    /// `strict` (the default) or `classic`.
    pub confinement: Option<String>,
    /// Users and groups its install creates; `snap_daemon` and `_daemon_` when not given.
    pub users: Option<Vec<String>>,
    /// Files the snap ships, by path on the machine (`/var/snap/<name>/current/etc/…`,
    /// `/snap/<name>/current/…`): written at install, there in every revision.
    pub files: BTreeMap<String, String>,
    /// Files its services make while they run (a daemon's socket or pid file, under the
    /// snap's directories), by path: there while any of its services is active, gone
    /// once none is. The fake's services run nothing, so a charm that waits for its
    /// daemon's socket finds it only this way.
    pub running_files: BTreeMap<String, String>,
}

/// A package the archive has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct PackageConfig {
    pub version: Option<String>,
    /// Units its install starts and enables.
    pub services: Vec<String>,
    /// System users (and their groups) its install creates.
    pub users: Vec<String>,
    /// Commands it brings; its own name when not given.
    pub commands: Option<Vec<String>>,
    /// Installed on a fresh machine.
    pub preinstalled: bool,
}

/// A scripted answer of a command an install brought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandAnswer {
    pub command: Vec<String>,
    #[serde(default)]
    pub exit: i32,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
}

/// The machine's configuration (`[target.host]` in charmfuzz.toml).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct HostConfig {
    pub snaps: BTreeMap<String, SnapConfig>,
    pub packages: BTreeMap<String, PackageConfig>,
    pub command: Vec<CommandAnswer>,
    /// dpkg's architecture (`amd64`, `arm64`); the running machine's by default.
    pub arch: Option<String>,
    /// The machine's name (`uname -n`); the harness gives the unit's.
    pub hostname: Option<String>,
    /// Names the charm may join to a snap's name to run one of its commands
    /// (`f"{SNAP_NAME}.{keyword}"`): a snap whose own name is one of them brings
    /// `<snap>.<word>` for each. The harness reads them from the charm's source; they are
    /// not configured.
    #[serde(skip)]
    pub source_words: BTreeSet<String>,
    /// Of those, the ones the charm's source uses as a snap's services
    /// (`snap.services["patroni"]`): a snap whose own name is a source word has them as
    /// services besides its configured ones. Read from the source, not configured.
    #[serde(skip)]
    pub source_services: BTreeSet<String>,
}

/// Whether `path` lies in snap `name`'s own directories (`/snap/<name>/…`,
/// `/var/snap/<name>/…`), with no way out of them (`..`).
pub fn snap_owns(name: &str, path: &str) -> bool {
    let inside = |top: &str| {
        path.strip_prefix(top)
            .and_then(|r| r.strip_prefix(name))
            .is_some_and(|r| r.starts_with('/'))
    };
    (inside("/snap/") || inside("/var/snap/")) && !path.split('/').any(|c| c == "..")
}

/// The version a store or archive entry has when the configuration does not say: the
/// same for the same name every time.
pub(crate) fn default_version(name: &str) -> String {
    format!("1.{}.0", stable_hash(name) % 10)
}

/// FNV-1a: a hash that is the same in every build, for derived revisions and versions.
pub(crate) fn stable_hash(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

impl HostConfig {
    /// Check what serde cannot: names that are names, commands that are not empty.
    pub fn validate(&self) -> Result<(), HostConfigError> {
        let bad = |s: &str| s.is_empty() || s.contains(char::is_whitespace) || s.contains('/');
        for (kind, names) in [
            ("snap", self.snaps.keys().collect::<Vec<_>>()),
            ("package", self.packages.keys().collect()),
        ] {
            if let Some(n) = names.into_iter().find(|n| bad(n)) {
                return Err(HostConfigError(format!("{kind} name {n:?} is not a name")));
            }
        }
        if let Some(c) = self.command.iter().find(|c| c.command.is_empty()) {
            return Err(HostConfigError(format!(
                "[[command]] with stdout {:?} has an empty command",
                c.stdout
            )));
        }
        for (name, s) in &self.snaps {
            for (key, paths) in [("files", &s.files), ("running-files", &s.running_files)] {
                if let Some(p) = paths.keys().find(|p| !snap_owns(name, p)) {
                    return Err(HostConfigError(format!(
                        "snap {name}: {key} path {p:?} is not under /snap/{name}/ or \
                         /var/snap/{name}/ (a snap's files are its own)"
                    )));
                }
            }
            if let Some(c) = s.confinement.as_deref() {
                if !matches!(c, "strict" | "classic" | "devmode") {
                    return Err(HostConfigError(format!(
                        "snap {name}: confinement {c:?} is not strict, classic or devmode"
                    )));
                }
            }
        }
        Ok(())
    }

    /// What the store has for snap `name`: its configuration, with what the charm's
    /// source says of it when its name is a word of the source (`source_words`): the
    /// services the source names, and `<name>.<word>` commands for every word.
    pub fn snap(&self, name: &str) -> SnapConfig {
        let mut cfg = self.snaps.get(name).cloned().unwrap_or_default();
        if self.source_words.contains(name) {
            for s in &self.source_services {
                if !cfg.services.contains(s) && !cfg.apps.contains(s) {
                    cfg.services.push(s.clone());
                }
            }
            cfg.commands.extend(self.source_words.iter().cloned());
        }
        cfg
    }

    /// dpkg's name for this machine's architecture.
    pub fn arch(&self) -> String {
        self.arch.clone().unwrap_or_else(|| {
            match std::env::consts::ARCH {
                "x86_64" => "amd64",
                "aarch64" => "arm64",
                "powerpc64" => "ppc64el",
                "s390x" => "s390x",
                "riscv64" => "riscv64",
                other => other,
            }
            .to_string()
        })
    }

    /// The commands package `name` brings.
    pub fn package_commands(&self, name: &str) -> Vec<String> {
        self.packages
            .get(name)
            .and_then(|p| p.commands.clone())
            .unwrap_or_else(|| vec![name.to_string()])
    }

    /// Every command some package or snap of the configuration could bring.
    pub fn possible_commands(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        for name in self.packages.keys() {
            out.extend(self.package_commands(name));
        }
        for (name, s) in &self.snaps {
            out.insert(name.clone());
            out.extend(
                (s.apps.iter().chain(&s.services).chain(&s.commands)).map(|a| app_command(name, a)),
            );
        }
        out.into_iter().collect()
    }

    /// The answer scripted for `argv` (longest matching prefix).
    pub fn command_answer(&self, argv: &[String]) -> Option<Output> {
        self.command
            .iter()
            .filter(|c| argv.starts_with(&c.command))
            .max_by_key(|c| c.command.len())
            .map(|c| Output {
                code: c.exit,
                stdout: c.stdout.clone(),
                stderr: c.stderr.clone(),
            })
    }
}

/// The command of a snap's app: the snap's name for the app named like it, else
/// `<snap>.<app>`.
pub fn app_command(snap: &str, app: &str) -> String {
    if snap == app {
        snap.to_string()
    } else {
        format!("{snap}.{app}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_values_are_stable_and_answers_take_the_longest_prefix() {
        assert_eq!(default_version("kafka"), default_version("kafka"));
        let c = HostConfig {
            command: vec![
                CommandAnswer {
                    command: vec!["tp".into()],
                    exit: 0,
                    stdout: "short".into(),
                    stderr: String::new(),
                },
                CommandAnswer {
                    command: vec!["tp".into(), "-v".into()],
                    exit: 0,
                    stdout: "long".into(),
                    stderr: String::new(),
                },
            ],
            ..HostConfig::default()
        };
        let argv = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(c.command_answer(&argv("tp -v x")).unwrap().stdout, "long");
        assert_eq!(c.command_answer(&argv("tp -h")).unwrap().stdout, "short");
        assert!(c.command_answer(&argv("other")).is_none());
        let bad = HostConfig {
            snaps: [("a b".to_string(), SnapConfig::default())].into(),
            ..HostConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
