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

/// What a machine charm's walls add: `/etc` a copy, `/snap`, `/var/snap`, snapd's cache
/// and the local CA store writable,
/// new entries allowed in `/var/lib`, `/opt`, `/srv` and `/usr/local`, and `program` (the
/// jujuc binary) at `/usr/bin/snap`.
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
    }
}
