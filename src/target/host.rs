//! The machine a machine charm runs on, inside its sandbox.
//!
//! On a Juju machine the charm's unit agent shares the machine with snapd, systemd and
//! dpkg, and a machine charm drives them: it installs its workload as a snap or a
//! package, starts its services, writes `/etc`. Here a [`FakeHost`] (the `host-fake`
//! crate) plays them with one state, and the sandbox puts it where the charm looks:
//!
//! - snapd's API on `/run/snapd.socket` (a socket in the `/run` layer), and `snap`,
//!   `systemctl`, `apt-get` and the rest on `PATH` and at `/usr/bin/snap`, all answered
//!   by the unit agent from the host's state;
//! - `/etc` a throwaway copy of the host's (a charm rewrites `/etc/hosts`, users are added
//!   to `/etc/passwd`), `/snap` and `/var/snap` empty layers for the snaps' directories,
//!   and `/var/lib`, `/opt` and `/srv` open to new directories beside the host's.
//!
//! Like every writable place, they start fresh for every input; the host's state is
//! reset with them. A Kubernetes charm's container has none of this (no snapd there):
//! its package and service managers stay the plain shims of [`super::config`].

pub use host_fake::{FakeHost, HostConfig, HostState};

use super::sandbox::{LayerMap, Places};
use std::path::{Path, PathBuf};

/// Where snapd listens on a Juju machine, and where the snap libraries connect.
pub const SNAPD_SOCKET: &str = "/run/snapd.socket";

/// Where the snap libraries look for the `snap` command (its presence is how they tell
/// that snapd is installed).
pub const SNAP_COMMAND: &str = "/usr/bin/snap";
/// Where Ubuntu has `sudo`.
pub const SUDO_COMMAND: &str = "/usr/bin/sudo";

/// The host's files, found in the sandbox's layers.
pub(crate) struct SandboxFs {
    /// None without walls: the host's files are then left alone (nowhere to put them).
    pub layers: Option<LayerMap>,
    /// The program answering host commands, as the charm sees it (`/snap/bin` links).
    pub program: Option<PathBuf>,
}

impl host_fake::HostFs for SandboxFs {
    fn locate(&self, path: &Path) -> Option<PathBuf> {
        self.layers.as_ref()?.locate(path)
    }
    fn command_program(&self) -> Option<PathBuf> {
        self.program.clone()
    }
}

/// The snap commands a charm's source names.
///
/// An installed snap brings its apps as commands, and which apps a snap has is the
/// store's knowledge, not the charm's: a charm that runs `charmed-mysql.mysqlsh` would
/// meet "not installed" on the fake machine unless `[target.host.snaps.<n>] apps` said.
/// So the source (`src/` and `lib/`) is read for the names it uses:
/// - `pairs`: literals `<snap>.<command>` or `/snap/bin/<snap>.<command>`
///   (`"charmed-mysql.mysqlsh"`);
/// - `words`: every literal shaped like a snap or app name (`"charmed-kafka"`,
///   `"storage"`), for a charm that joins the two at run time
///   (`f"{SNAP_NAME}.{bin_keyword}"`): a snap whose own name is one of the words brings
///   `<snap>.<word>` for each of them;
/// - `services`: the words the source uses as a snap's service names, in the snap
///   libraries' terms: `.services["patroni"]`, `.services.get("patroni")`,
///   `services=["patroni", …]`. A snap whose name is one of the words has them as
///   services (started and enabled at install, as snapd does), so a charm reading
///   `snap.services["patroni"]["active"]` finds its service.
///
/// The commands are linked once that snap is installed (and never otherwise, so a
/// literal like `config.yaml` costs nothing); unscripted, they exit 0 with no output, as
/// an unscripted Pebble exec does. A command the snap would not have is harmless unless
/// the charm probes for it; one it has and the charm runs is no longer missing.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SourceCommands {
    pub pairs: std::collections::BTreeSet<(String, String)>,
    pub words: std::collections::BTreeSet<String>,
    pub services: std::collections::BTreeSet<String>,
}

/// Whether the literal whose quote is at `at` in `source` names a snap service: the key
/// of a `services[…]` or `services.get(…)`, or an item of a `services=[…]` list.
fn names_a_service(source: &str, at: usize) -> bool {
    let before = source[..at].trim_end();
    if before.ends_with("services[") || before.ends_with("services.get(") {
        return true;
    }
    let Some(open) = before.rfind('[') else {
        return false;
    };
    let items = &before[open + 1..];
    let head = before[..open].trim_end();
    let head = head.strip_suffix('=').unwrap_or("").trim_end();
    head.ends_with("services")
        && items.len() < 200
        && !items.contains(['(', ')', '[', ']', '=', '\n'])
}

pub(crate) fn snap_commands_in_source(charm_dir: &Path) -> SourceCommands {
    let mut files = Vec::new();
    for sub in ["src", "lib"] {
        crate::spec::literals::python_files(&charm_dir.join(sub), &mut files);
    }
    let name_ok = |s: &str| {
        (2..=40).contains(&s.len())
            && s.bytes().any(|b| b.is_ascii_lowercase())
            && (s.bytes()).all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    let mut out = SourceCommands::default();
    for f in files {
        let Ok(source) = std::fs::read_to_string(&f) else {
            continue;
        };
        for (at, w) in crate::spec::literals::string_literals_at(&source) {
            if name_ok(w) {
                if names_a_service(&source, at) {
                    out.services.insert(w.to_string());
                }
                out.words.insert(w.to_string());
                continue;
            }
            let w = w.strip_prefix("/snap/bin/").unwrap_or(w);
            if let Some((snap, command)) = w.split_once('.')
                && name_ok(snap)
                && name_ok(command)
            {
                out.pairs.insert((snap.to_string(), command.to_string()));
            }
        }
    }
    out
}

/// What a machine charm's walls add: `/etc` a copy, `/snap`, `/var/snap`, snapd's cache
/// and the local CA store writable,
/// new entries allowed in `/var/lib`, `/opt`, `/srv` and `/usr/local`, and `program` (the
/// jujuc binary) at `/usr/bin/snap` and `/usr/bin/sudo`.
pub(crate) fn machine_places(places: &mut Places, program: Option<&Path>) {
    places.seeded.push(PathBuf::from("/etc"));
    places.writable.extend(
        [
            "/snap",
            "/var/snap",
            "/var/cache/snapd",
            "/usr/local/share/ca-certificates",
        ]
        .map(PathBuf::from),
    );
    places
        .extensible
        .extend(["/var/lib", "/opt", "/srv", "/usr/local", "/usr/local/bin"].map(PathBuf::from));
    if let Some(p) = program {
        places
            .programs
            .push((PathBuf::from(SNAP_COMMAND), p.to_path_buf()));
        // Ubuntu's sudo, which root's charm may still call by its path
        // (`crate::target::sudo`).
        places
            .programs
            .push((PathBuf::from(SUDO_COMMAND), p.to_path_buf()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snap_commands_a_charm_names_are_gathered_from_its_source() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::create_dir_all(dir.path().join("lib/charms/x/v0")).unwrap();
        std::fs::write(
            dir.path().join("src/constants.py"),
            "MYSQLSH = \"charmed-mysql.mysqlsh\"\nCONFIG = 'config.yaml'\n\
             BIN = '/snap/bin/charmed-mysql.mysqld-exporter'\nVERSION = '8.0.36'\n\
             SNAP = 'charmed-kafka'\nrun(bin_keyword=\"storage\", args=['Random UUID'])\n\
             db.start(services=[\"patroni\", 'exporter'])\nok = db.services['pgbouncer']['active']\n\
             ok = db.services.get(\"backrest\")\nx = cfg['notaservice']\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("lib/charms/x/v0/lib.py"),
            "PATRONI = 'charmed-postgresql.patronictl'  # 'not.this'\nPATH = 'a/b.c'\n",
        )
        .unwrap();
        let found = snap_commands_in_source(dir.path());
        let pair = |s: &str, c: &str| (s.to_string(), c.to_string());
        assert_eq!(
            found.pairs.into_iter().collect::<Vec<_>>(),
            [
                pair("charmed-mysql", "mysqld-exporter"),
                pair("charmed-mysql", "mysqlsh"),
                pair("charmed-postgresql", "patronictl"),
                // Linked only if a snap named `config` is ever installed.
                pair("config", "yaml"),
            ]
        );
        assert_eq!(
            found
                .services
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["backrest", "exporter", "patroni", "pgbouncer"]
        );
        // Whole names, for commands the charm joins at run time.
        assert_eq!(
            found.words.into_iter().collect::<Vec<_>>(),
            [
                "active",
                "backrest",
                "charmed-kafka",
                "exporter",
                "notaservice",
                "patroni",
                "pgbouncer",
                "storage"
            ]
        );
    }
}
