//! Where a charm under test lives: its own copy of the charm, its hook tools, its Pebble
//! sockets, and the walls around it.
//!
//! On a real unit, Juju unpacks the charm into `/var/lib/juju/agents/unit-<app>-<n>/charm`,
//! puts a directory of hook-tool symlinks first on `PATH`, and (on Kubernetes) mounts each
//! workload container's Pebble socket at `/charm/containers/<name>/pebble.socket`. The
//! charm runs as root and may write anywhere. A fuzzer runs the same charm thousands of
//! times on the user's own machine, often several at once, so each [`Sandbox`] gives one
//! target instance a private temporary directory:
//!
//! ```text
//! <root>/charm/            a copy of the charm: JUJU_CHARM_DIR, where .unit-state.db lives
//! <root>/tools/            every hook tool (and apt-get, systemctl, …) → the jujuc binary
//! <root>/containers/<c>/   the fake Pebble's socket for container <c>
//! <root>/rootfs/<c>/       that container's filesystem
//! <root>/agent.sock        the unit agent's socket (JUJU_AGENT_SOCKET_ADDRESS)
//! <root>/home, tmp, out/   HOME, TMPDIR, the hook's stdout and stderr
//! ```
//!
//! **Containment.** With bubblewrap (`bwrap`) available, the charm's processes run in new
//! user-invisible namespaces: no network but loopback, their own PID space (nothing
//! survives the worker), the host's filesystem read-only, and writable layers where a unit
//! expects to write (`/var/lib/juju`, storage locations, `/tmp`, `/dev/shm`, …):
//! directories of the sandbox (`<root>/layers/`) mounted there. Where a writable path
//! needs a new directory in a host directory (`/var/lib/<app>` on a machine without one),
//! that host directory is rebuilt from a sandbox directory too (`<root>/skeleton/`), its
//! children bound read-only into it; `/` is one of those. The sandbox's own directory is
//! read-only inside, but for the charm copy, HOME, TMPDIR and the hook's output.
//! A machine charm's sandbox adds more ([`Places`]): `/etc` writable as a copy of the
//! host's (a *seeded* layer), directories open to new entries beside the host's own, and
//! programs bound at fixed paths (`/usr/bin/snap`); see [`crate::target::host`].
//! Every writable place is thus a directory of the sandbox, and before each input the
//! target puts them back as the first input found them ([`baseline`]): no input sees
//! another's files.
//! The Pebble sockets are mounted at the path ops hard-codes, so no patching is needed.
//! The charm is uid 0, as on a unit, but without the capabilities that could undo the
//! walls ([`CHARM_CAPABILITIES`] is what it keeps), with `no_new_privs`, and with the
//! kernel's knobs in `/proc/sys` read-only.
//! Without bwrap the charm runs uncontained and the worker redirects the Pebble path; the
//! target says so ([`Sandbox::contained`]).

pub mod baseline;

use std::collections::BTreeSet;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How to wall the charm in.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Containment {
    /// bubblewrap if it is installed and works here, else none.
    #[default]
    Auto,
    /// bubblewrap, or fail.
    Bwrap,
    /// Run the charm directly (it can change the host; for debugging).
    None,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot create the sandbox in {dir}: {source}")]
    Create {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot copy the charm from {from} to {to}: {source}")]
    Copy {
        from: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "containment with bubblewrap was asked for, but `bwrap` {0}; install it (Debian/Ubuntu: apt-get install bubblewrap)"
    )]
    NoBwrap(String),
}

/// One target instance's private directory tree (removed on drop).
pub struct Sandbox {
    dir: tempfile::TempDir,
    bwrap: Option<PathBuf>,
    writable: Vec<PathBuf>,
    /// Host paths that must stay visible (read-only) even where a writable layer hides
    /// the host: the interpreter's environment, the charm's source, the jujuc binary.
    exposed: Vec<PathBuf>,
    /// Host directories rebuilt inside the walls from a sandbox directory, so that a
    /// writable path can be made in them (`/` always, with bwrap).
    skeleton: BTreeSet<PathBuf>,
    /// Files bound read-only at fixed paths inside the walls.
    programs: Vec<(PathBuf, PathBuf)>,
    baseline: Option<baseline::Baseline>,
}

/// Directories never copied into the sandbox's charm copy.
const SKIP: &[&str] = &[
    ".git",
    ".tox",
    ".venv",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "build",
    "target",
    ".unit-state.db",
];

/// Where, besides its own directory, the charm may write or find something inside the
/// walls. Paths are absolute, as the charm sees them.
#[derive(Debug, Clone, Default)]
pub struct Places {
    /// Writable, starting empty (storage locations, `/snap`).
    pub writable: Vec<PathBuf>,
    /// Writable, starting as a copy of the host's directory (`/etc` on a machine: a
    /// charm rewrites `/etc/hosts` and adds users, and finds the rest it reads).
    pub seeded: Vec<PathBuf>,
    /// Host directories where the charm may make new entries beside the host's own,
    /// which stay read-only (`/var/lib/<app>` in `/var/lib`).
    pub extensible: Vec<PathBuf>,
    /// Files placed read-only at fixed paths: (path inside, file outside). `/usr/bin/snap`
    /// is the harness's snap command, because the snap libraries look for it there.
    pub programs: Vec<(PathBuf, PathBuf)>,
}

impl Sandbox {
    /// Create a sandbox holding a copy of `charm_dir`. `writable` are absolute paths the
    /// charm may write to inside the walls (storage locations and the like).
    pub fn create(
        charm_dir: &Path,
        containment: Containment,
        writable: &[PathBuf],
    ) -> Result<Sandbox, SandboxError> {
        let places = Places {
            writable: writable.to_vec(),
            ..Places::default()
        };
        Sandbox::create_with(charm_dir, containment, &places)
    }

    /// Create a sandbox holding a copy of `charm_dir`, with the walls `places` describes.
    pub fn create_with(
        charm_dir: &Path,
        containment: Containment,
        places: &Places,
    ) -> Result<Sandbox, SandboxError> {
        // tmpfs when there is one: the unit state database is written on every hook.
        let base = ["/dev/shm"]
            .iter()
            .map(PathBuf::from)
            .find(|p| is_writable_dir(p))
            .unwrap_or_else(std::env::temp_dir);
        sweep_stale(&base);
        let dir = tempfile::Builder::new()
            .prefix("charmfuzz-")
            .tempdir_in(&base)
            .map_err(|source| SandboxError::Create {
                dir: base.clone(),
                source,
            })?;
        let root = dir.path().to_path_buf();
        // Who owns this sandbox: a process that dies without cleaning up (libFuzzer exits
        // straight after a crash) leaves it to be swept by the next one. The file appears
        // whole (written aside, then renamed): another process sweeping at this moment must
        // not read it empty, take its owner for dead and remove the sandbox being built.
        crate::write_whole(
            &root.join("owner.pid"),
            std::process::id().to_string().as_bytes(),
        )
        .map_err(|source| SandboxError::Create {
            dir: root.clone(),
            source,
        })?;
        for sub in ["tools", "home", "tmp", "out", "resources", "containers"] {
            std::fs::create_dir_all(root.join(sub)).map_err(|source| SandboxError::Create {
                dir: root.join(sub),
                source,
            })?;
        }
        let charm_root = charm_dir
            .canonicalize()
            .map_err(|source| SandboxError::Copy {
                from: charm_dir.to_path_buf(),
                to: root.join("charm"),
                source,
            })?;
        copy_tree(&charm_root, &root.join("charm"))?;
        let bwrap = match containment {
            Containment::None => None,
            Containment::Auto => find_bwrap().ok(),
            Containment::Bwrap => Some(find_bwrap().map_err(SandboxError::NoBwrap)?),
        };
        let mut w: BTreeSet<PathBuf> = [
            "/tmp",
            "/var/tmp",
            "/run",
            "/var/lib/juju",
            "/var/log",
            "/dev/shm",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let absolute = |v: &[PathBuf]| {
            v.iter()
                .filter(|p| p.is_absolute())
                .cloned()
                .collect::<Vec<_>>()
        };
        w.extend(absolute(&places.writable));
        w.extend(absolute(&places.seeded));
        let writable: Vec<PathBuf> = w.into_iter().collect();
        let programs: Vec<(PathBuf, PathBuf)> = (places.programs.iter())
            .filter(|(inside, _)| inside.is_absolute())
            .cloned()
            .collect();
        let skeleton = if bwrap.is_some() {
            let mut s = skeleton_of(&writable);
            // A directory is rebuilt where a new entry is wanted in it: the extensible
            // ones, and the home of a program the host does not have there.
            let wanted = (absolute(&places.extensible).into_iter()).chain(
                programs
                    .iter()
                    .filter(|(p, _)| !p.exists())
                    .filter_map(|(p, _)| p.parent().map(Path::to_path_buf)),
            );
            s.extend(wanted.filter(|d| d.is_dir() && !writable.iter().any(|w| d.starts_with(w))));
            s
        } else {
            BTreeSet::new()
        };
        let sandbox = Sandbox {
            dir,
            bwrap,
            writable,
            exposed: Vec::new(),
            skeleton,
            programs,
            baseline: None,
        };
        let dirs = (sandbox.writable.iter().map(|w| sandbox.layer(w)))
            .chain(sandbox.skeleton.iter().map(|d| sandbox.skeleton_dir(d)));
        for d in dirs {
            std::fs::create_dir_all(&d)
                .map_err(|source| SandboxError::Create { dir: d, source })?;
        }
        if sandbox.contained() {
            for seed in absolute(&places.seeded) {
                seed_layer(&seed, &sandbox.layer(&seed));
            }
        }
        // The host's symlinks in a rebuilt directory (`/bin -> usr/bin`), as they are.
        for dir in &sandbox.skeleton {
            for path in sandbox.host_entries(dir) {
                if let (Ok(t), Some(name)) = (std::fs::read_link(&path), path.file_name()) {
                    let link = sandbox.skeleton_dir(dir).join(name);
                    symlink(t, &link)
                        .map_err(|source| SandboxError::Create { dir: link, source })?;
                }
            }
        }
        Ok(sandbox)
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn charm_dir(&self) -> PathBuf {
        self.root().join("charm")
    }
    pub fn tools_dir(&self) -> PathBuf {
        self.root().join("tools")
    }
    pub fn agent_socket(&self) -> PathBuf {
        self.root().join("agent.sock")
    }
    pub fn containers_dir(&self) -> PathBuf {
        self.root().join("containers")
    }
    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }
    pub fn tmp(&self) -> PathBuf {
        self.root().join("tmp")
    }
    pub fn out(&self, name: &str) -> PathBuf {
        self.out_dir().join(name)
    }
    fn out_dir(&self) -> PathBuf {
        self.root().join("out")
    }
    /// The sandbox directory that appears at `path` inside the walls.
    /// Where the harness finds what the charm sees at `path`, a writable location: its
    /// layer inside the walls, the path itself without them.
    /// A path under a writable location (`/run/secrets/…` under `/run`) is found in that
    /// location's layer.
    pub fn writable_view(&self, path: &Path) -> PathBuf {
        if !self.contained() {
            return path.to_path_buf();
        }
        let root = (self.writable.iter())
            .filter(|w| path.starts_with(w))
            .max_by_key(|w| w.components().count());
        match root {
            Some(w) => self.layer(w).join(path.strip_prefix(w).expect("under it")),
            None => self.layer(path),
        }
    }

    /// Where the harness finds each writable path of the charm's machine, inside the
    /// walls (None without them: there is no layer to put a file in).
    pub fn layer_map(&self) -> Option<LayerMap> {
        self.contained().then(|| LayerMap {
            root: self.root().to_path_buf(),
            writable: self.writable.clone(),
        })
    }

    fn layer(&self, path: &Path) -> PathBuf {
        let name = path
            .display()
            .to_string()
            .trim_matches('/')
            .replace('/', "%");
        self.root().join("layers").join(name)
    }

    /// Where a host directory rebuilt inside the walls lives in the sandbox.
    fn skeleton_dir(&self, path: &Path) -> PathBuf {
        let name = path
            .display()
            .to_string()
            .trim_matches('/')
            .replace('/', "%");
        let name = if name.is_empty() { "%".into() } else { name };
        self.root().join("skeleton").join(name)
    }

    /// The entries of `dir`, a host directory rebuilt inside the walls, that come from the
    /// host: not the kernel's own (`/proc`, `/dev`, `/sys`, mounted fresh), nor a writable
    /// layer or another rebuilt directory.
    fn host_entries(&self, dir: &Path) -> Vec<PathBuf> {
        let special = [Path::new("/proc"), Path::new("/dev"), Path::new("/sys")];
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                !special.contains(&p.as_path())
                    && !self.writable.contains(p)
                    && !self.skeleton.contains(p)
                    && !self.programs.iter().any(|(q, _)| q == p)
            })
            .collect()
    }

    /// Every directory of the sandbox the charm can write to: its charm copy, HOME,
    /// TMPDIR, the hook output, and inside the walls the writable layers and the rebuilt
    /// host directories.
    fn writable_trees(&self) -> Vec<PathBuf> {
        let mut trees = vec![self.charm_dir(), self.home(), self.tmp(), self.out_dir()];
        if self.contained() {
            trees.extend(self.writable.iter().map(|w| self.layer(w)));
            trees.extend(self.skeleton.iter().map(|d| self.skeleton_dir(d)));
        }
        trees
    }

    /// Record the writable trees as they are now, the state every input starts from.
    /// Taken once the charm's process is up: bubblewrap has made its mount points in the
    /// sandbox's directories by then, and they belong to the baseline.
    pub fn take_baseline(&mut self) -> std::io::Result<()> {
        let store = self.root().join("baseline");
        self.baseline = Some(baseline::Baseline::take(&self.writable_trees(), &store)?);
        Ok(())
    }

    /// Put every place the charm can write back as the baseline recorded it (taking the
    /// baseline first if there is none yet). Called before every input.
    pub fn restore_baseline(&mut self) -> std::io::Result<baseline::Restored> {
        match self.baseline.as_mut() {
            Some(b) => b.restore(),
            None => self.take_baseline().map(|()| baseline::Restored::default()),
        }
    }

    /// What the charm has written so far, beyond the baseline (nothing without one).
    pub fn capture_layers(&self) -> std::io::Result<baseline::Layers> {
        match self.baseline.as_ref() {
            Some(b) => b.capture(),
            None => Ok(baseline::Layers::default()),
        }
    }

    /// Back to the baseline, then to what `layers` captured.
    pub fn restore_layers(&mut self, layers: &baseline::Layers) -> std::io::Result<()> {
        self.restore_baseline()?;
        match self.baseline.as_mut() {
            Some(b) => b.apply(layers),
            None => Ok(()),
        }
    }

    /// Keep `path` visible inside the walls, read-only (it may live under `/tmp`, which
    /// is a private layer there).
    pub fn expose(&mut self, path: &Path) {
        if let Ok(p) = path.canonicalize() {
            if !self.exposed.contains(&p) {
                self.exposed.push(p);
            }
        }
    }

    /// The charm runs inside bubblewrap's walls.
    pub fn contained(&self) -> bool {
        self.bwrap.is_some()
    }

    /// Link every name in `names` to `program` in the tools directory.
    pub fn install_tools(&self, program: &Path, names: &[&str]) -> std::io::Result<()> {
        for name in names {
            let link = self.tools_dir().join(name);
            let _ = std::fs::remove_file(&link);
            symlink(program, &link)?;
        }
        Ok(())
    }

    /// Write a file into the sandbox (mode 0755 when `exec`).
    pub fn write(&self, rel: &str, content: &[u8], exec: bool) -> std::io::Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.root().join(rel);
        std::fs::write(&path, content)?;
        if exec {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
        Ok(path)
    }

    /// The command that runs `argv` inside the walls (or directly, uncontained).
    pub fn command(&self, argv: &[PathBuf], hostname: &str) -> Command {
        let Some(bwrap) = &self.bwrap else {
            let mut cmd = Command::new(&argv[0]);
            cmd.args(&argv[1..]);
            return cmd;
        };
        let mut cmd = Command::new(bwrap);
        cmd.args(self.bwrap_args(hostname));
        cmd.arg("--").args(argv);
        cmd
    }

    fn bwrap_args(&self, hostname: &str) -> Vec<String> {
        let mut a: Vec<String> = [
            "--unshare-net",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--die-with-parent",
            "--new-session",
            "--hostname",
            hostname,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Root without root's powers: bwrap run by root keeps every capability unless told
        // otherwise, and with CAP_SYS_ADMIN one `mount -o remount,rw` undoes the read-only
        // host. The charm keeps uid 0 and the file capabilities a unit's root uses.
        a.extend(["--cap-drop".into(), "ALL".into()]);
        for cap in CHARM_CAPABILITIES {
            a.extend(["--cap-add".into(), cap.to_string()]);
        }
        // The host directories rebuilt from the sandbox, parents before children: each is
        // a sandbox directory bound there, with the host's entries bound read-only (or
        // linked) into it, and room for a writable path to be made.
        let mut by_depth: Vec<&PathBuf> = self.skeleton.iter().collect();
        by_depth.sort_by_key(|p| p.components().count());
        for dir in by_depth {
            a.extend([
                "--bind".into(),
                self.skeleton_dir(dir).display().to_string(),
                dir.display().to_string(),
            ]);
            for path in self.host_entries(dir) {
                let s = path.display().to_string();
                match std::fs::symlink_metadata(&path) {
                    // Made in the skeleton directory itself (bwrap's --symlink will not
                    // make one that exists, and the next worker's bwrap would find it).
                    Ok(m) if m.file_type().is_symlink() => {}
                    Ok(_) => a.extend(["--ro-bind".into(), s.clone(), s]),
                    Err(_) => {}
                }
            }
        }
        a.extend(
            [
                "--proc",
                "/proc",
                "--dev",
                "/dev",
                "--ro-bind",
                "/sys",
                "/sys",
            ]
            .map(String::from),
        );
        // The kernel's knobs under /proc answer to uid 0 whatever its capabilities (a
        // sysctl is a file mode 0644 owned by root): read-only, as a container runtime
        // leaves them. The host's own copy is bound (the sandbox's fresh /proc cannot be
        // named as a source), so /proc/sys/net shows the host's values, read-only.
        for p in PROC_READ_ONLY {
            a.extend(["--ro-bind-try".into(), p.to_string(), p.to_string()]);
        }
        // Each writable path is a directory of the sandbox, so that the harness can put it
        // back between inputs (a tmpfs would keep one input's files for the next, for as
        // long as the worker lives).
        for w in &self.writable {
            a.extend([
                "--bind".into(),
                self.layer(w).display().to_string(),
                w.display().to_string(),
            ]);
        }
        for p in &self.exposed {
            if self.writable.iter().any(|w| p.starts_with(w)) {
                let s = p.display().to_string();
                a.extend(["--ro-bind".into(), s.clone(), s]);
            }
        }
        for (inside, outside) in &self.programs {
            a.extend([
                "--ro-bind".into(),
                outside.display().to_string(),
                inside.display().to_string(),
            ]);
        }
        // The sandbox itself at the same path, read-only (its hook tools, resources and
        // baseline are the harness's), but for what the charm's process writes: the charm
        // copy (ops keeps its state there), HOME, TMPDIR and the hook's output. The
        // Pebble sockets where ops looks for them (a socket needs no write access).
        let root = self.root().display().to_string();
        a.extend(["--ro-bind".into(), root.clone(), root]);
        for d in [self.charm_dir(), self.home(), self.tmp(), self.out_dir()] {
            let d = d.display().to_string();
            a.extend(["--bind".into(), d.clone(), d]);
        }
        a.extend([
            "--dir".into(),
            "/charm".into(),
            "--bind".into(),
            self.containers_dir().display().to_string(),
            "/charm/containers".into(),
        ]);
        // bwrap's /dev is a tmpfs of its own, writable by root and kept for the worker's
        // life; read-only once every mount point is made (device nodes still answer, and
        // /dev/shm is a writable layer).
        a.extend(["--remount-ro".into(), "/dev".into()]);
        a
    }
}

/// The writable layers of a sandbox, to find a path of the charm's machine in them from
/// outside (another thread may hold it: the fake snapd writes a snap's directories).
#[derive(Debug, Clone)]
pub struct LayerMap {
    root: PathBuf,
    writable: Vec<PathBuf>,
}

impl LayerMap {
    /// Where `path` (absolute, as the charm sees it) lives, if it is under a writable
    /// location.
    pub fn locate(&self, path: &Path) -> Option<PathBuf> {
        let w = (self.writable.iter())
            .filter(|w| path.starts_with(w))
            .max_by_key(|w| w.components().count())?;
        let name = w.display().to_string().trim_matches('/').replace('/', "%");
        let rel = path.strip_prefix(w).expect("under it");
        Some(self.root.join("layers").join(name).join(rel))
    }
}

/// The capabilities a charm keeps: what root on a unit uses to manage files, users and
/// processes (chown a config file to a service user, run a command as that user, signal a
/// daemon), and nothing that reaches past the sandbox's walls: no CAP_SYS_ADMIN (mount,
/// remount, namespaces), CAP_SYS_MODULE, CAP_SYS_BOOT (kexec, reboot), CAP_SYS_PTRACE,
/// CAP_NET_ADMIN or CAP_DAC_READ_SEARCH (`open_by_handle_at` reaches any host file by its
/// handle). bwrap also sets `no_new_privs`, so no setuid binary gives them back.
pub const CHARM_CAPABILITIES: [&str; 8] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_NET_BIND_SERVICE",
];

/// Files under `/proc` that change the whole machine when root writes them.
const PROC_READ_ONLY: [&str; 4] = ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"];

/// Fill `layer` with a copy of the host's directory `from`: its directories, regular
/// files and symlinks as they are (owners and modes kept where the harness may), leaving
/// out what it cannot read and what is not a file (sockets, devices).
fn seed_layer(from: &Path, layer: &Path) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    for e in entries.flatten() {
        let (src, dst) = (e.path(), layer.join(e.file_name()));
        let Ok(m) = std::fs::symlink_metadata(&src) else {
            continue;
        };
        let ft = m.file_type();
        let made = if ft.is_symlink() {
            std::fs::read_link(&src).and_then(|t| symlink(t, &dst))
        } else if ft.is_dir() {
            std::fs::create_dir_all(&dst).map(|()| seed_layer(&src, &dst))
        } else if ft.is_file() {
            std::fs::copy(&src, &dst).map(|_| ())
        } else {
            continue;
        };
        if made.is_ok() && !ft.is_symlink() {
            let _ =
                std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(m.mode() & 0o7777));
            let _ = std::os::unix::fs::lchown(&dst, Some(m.uid()), Some(m.gid()));
        }
    }
}

/// The host directories to rebuild inside the walls: `/`, and for each writable path that
/// does not exist on the host, the nearest directory above it that does (unless a writable
/// layer already holds it).
fn skeleton_of(writable: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut dirs = BTreeSet::from([PathBuf::from("/")]);
    for w in writable {
        if w.exists() {
            continue;
        }
        let mut d = w.parent();
        while let Some(p) = d {
            if writable.iter().any(|o| p.starts_with(o)) {
                break;
            }
            if p.is_dir() {
                dirs.insert(p.to_path_buf());
                break;
            }
            d = p.parent();
        }
    }
    dirs
}

/// Remove sandboxes in `base` whose owner process is gone.
fn sweep_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if !e.file_name().to_string_lossy().starts_with("charmfuzz-") {
            continue;
        }
        let Ok(pid) = std::fs::read_to_string(path.join("owner.pid")) else {
            continue;
        };
        let alive = pid
            .trim()
            .parse::<u32>()
            .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

fn is_writable_dir(p: &Path) -> bool {
    p.is_dir()
        && tempfile::Builder::new()
            .prefix(".charmfuzz-probe")
            .tempfile_in(p)
            .is_ok()
}

/// `bwrap`, if it is on PATH and can make namespaces here.
fn find_bwrap() -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join("bwrap"))
        .find(|p| p.is_file())
        .ok_or_else(|| "is not installed".to_string())?;
    let ok = Command::new(&path)
        .args(["--ro-bind", "/", "/", "--unshare-net", "--unshare-pid"])
        .args(["--dev", "/dev", "--proc", "/proc", "true"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        Ok(path)
    } else {
        Err("cannot create namespaces on this machine".to_string())
    }
}

/// Copy a charm tree, leaving out build and cache directories. A `venv/` (packed
/// dependencies) is linked, not copied.
/// Copy the charm's directory `from` (canonical) into `to`; its `venv/` is linked, not
/// copied.
///
/// A symlink that stays inside the charm is copied as a symlink. One that leads out of it
/// (`src/common -> ../../common` in a repository holding several charms) is copied as what
/// it leads to, as `charmcraft pack` puts the content into the charm: relative, it would
/// point nowhere from the sandbox's copy.
fn copy_tree(from: &Path, to: &Path) -> Result<(), SandboxError> {
    fn walk(from: &Path, to: &Path, root: &Path, top: bool) -> Result<(), SandboxError> {
        let err = |source| SandboxError::Copy {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(to).map_err(err)?;
        for e in std::fs::read_dir(from).map_err(err)? {
            let e = e.map_err(err)?;
            let name = e.file_name();
            let name_s = name.to_string_lossy();
            if SKIP.contains(&name_s.as_ref()) || name_s.ends_with(".charm") {
                continue;
            }
            let src = e.path();
            let dst = to.join(&name);
            let ft = e.file_type().map_err(err)?;
            if top && name_s == "venv" && (ft.is_dir() || ft.is_symlink()) {
                let abs = src.canonicalize().map_err(err)?;
                symlink(abs, &dst).map_err(err)?;
            } else if ft.is_dir() {
                walk(&src, &dst, root, false)?;
            } else if ft.is_symlink() {
                let t = std::fs::read_link(&src).map_err(err)?;
                match src.canonicalize() {
                    // Out of the charm: its content, as packing gives it.
                    Ok(real)
                        if !real.starts_with(root)
                            && !root.starts_with(&real)
                            && t.is_relative() =>
                    {
                        if real.is_dir() {
                            walk(&real, &dst, root, false)?;
                        } else {
                            std::fs::copy(&real, &dst).map_err(|source| SandboxError::Copy {
                                from: real.clone(),
                                to: dst.clone(),
                                source,
                            })?;
                        }
                    }
                    _ => symlink(t, &dst).map_err(err)?,
                }
            } else {
                std::fs::copy(&src, &dst).map_err(|source| SandboxError::Copy {
                    from: src.clone(),
                    to: dst.clone(),
                    source,
                })?;
            }
        }
        Ok(())
    }
    walk(from, to, from, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(sandbox: &Sandbox, script: &str) -> std::process::Output {
        sandbox
            .command(&["/bin/sh".into(), "-c".into(), script.into()], "unit-0")
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .expect("bwrap runs")
    }

    /// Every place a contained charm can write comes back as the baseline had it, in the
    /// next process made with the same walls too; the mount point of a file exposed under a
    /// writable layer (the `charmfuzz` binary of a checkout under /tmp) stays.
    #[test]
    fn the_charm_copy_holds_what_symlinks_out_of_the_charm_lead_to() {
        let repo = tempfile::tempdir().unwrap();
        let common = repo.path().join("common/shared");
        std::fs::create_dir_all(&common).unwrap();
        std::fs::write(common.join("mod.py"), "X = 1\n").unwrap();
        std::fs::write(repo.path().join("common/VERSION"), "7\n").unwrap();
        let charm = repo.path().join("machine");
        std::fs::create_dir_all(charm.join("src/own")).unwrap();
        symlink("../../common/shared", charm.join("src/shared")).unwrap();
        symlink("../common/VERSION", charm.join("VERSION")).unwrap();
        symlink("own", charm.join("src/alias")).unwrap();
        symlink("../..", charm.join("src/up")).unwrap();
        let sandbox = Sandbox::create(&charm, Containment::None, &[]).unwrap();
        let copy = sandbox.charm_dir();
        let shared = copy.join("src/shared");
        assert!(!shared.symlink_metadata().unwrap().is_symlink());
        assert_eq!(
            std::fs::read_to_string(shared.join("mod.py")).unwrap(),
            "X = 1\n"
        );
        assert!(
            !copy
                .join("VERSION")
                .symlink_metadata()
                .unwrap()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(copy.join("VERSION")).unwrap(),
            "7\n"
        );
        // Inside the charm, or around it, a link stays a link.
        assert_eq!(
            std::fs::read_link(copy.join("src/alias")).unwrap(),
            Path::new("own")
        );
        assert_eq!(
            std::fs::read_link(copy.join("src/up")).unwrap(),
            Path::new("../..")
        );
    }

    #[test]
    fn a_restore_undoes_every_write_the_walls_allow_and_keeps_the_mount_points() {
        let charm = tempfile::tempdir().unwrap();
        std::fs::write(charm.path().join("metadata.yaml"), "name: x\n").unwrap();
        let mut sandbox = Sandbox::create(charm.path(), Containment::Bwrap, &[]).unwrap();
        let exposed = tempfile::Builder::new()
            .prefix("charmfuzz-exposed")
            .tempfile_in("/tmp")
            .unwrap();
        let exposed = exposed.path().canonicalize().unwrap();
        sandbox.expose(&exposed);
        let first = sh(&sandbox, "true");
        assert!(first.status.success(), "{first:?}");
        sandbox.take_baseline().unwrap();

        let charm_dir = sandbox.charm_dir().display().to_string();
        let places = [
            "/litter".to_string(),
            "/tmp/litter".into(),
            "/var/tmp/litter".into(),
            "/run/litter".into(),
            "/var/lib/juju/litter".into(),
            "/var/log/litter".into(),
            "/dev/shm/litter".into(),
            format!("{charm_dir}/litter"),
        ];
        let write = places
            .iter()
            .map(|p| format!("echo x > {p} || echo FAILED {p}"))
            .collect::<Vec<_>>()
            .join("; ");
        let wrote = sh(
            &sandbox,
            &format!("{write}; echo x >> {charm_dir}/metadata.yaml"),
        );
        assert!(
            wrote.stdout.is_empty() && wrote.status.success(),
            "every place takes a write: {wrote:?}"
        );
        // Where the walls do not bend: the host, bwrap's /dev, the harness's own files.
        let root = sandbox.root().display().to_string();
        let blocked = sh(
            &sandbox,
            &format!(
                "for p in /etc/litter /usr/litter /dev/litter {root}/tools/litter; do \
                 (echo x > $p) 2>/dev/null && echo WROTE $p; done; true"
            ),
        );
        assert!(blocked.stdout.is_empty(), "{blocked:?}");

        let done = sandbox.restore_baseline().unwrap();
        assert!(done.removed >= places.len(), "{done:?}");
        let check = places
            .iter()
            .map(|p| format!("test -e {p} && echo LEFT {p}"))
            .collect::<Vec<_>>()
            .join("; ");
        let after = sh(
            &sandbox,
            &format!(
                "{check}; cat {charm_dir}/metadata.yaml; test -f {} || echo EXPOSED-GONE",
                exposed.display()
            ),
        );
        assert_eq!(
            String::from_utf8_lossy(&after.stdout),
            "name: x\n",
            "{after:?}"
        );
        let stub = sandbox
            .layer(Path::new("/tmp"))
            .join(exposed.strip_prefix("/tmp").unwrap());
        assert!(stub.is_file(), "the mount point stays");
    }

    /// A sweep removes what a dead process left, and nothing a live one owns or is still
    /// building (no owner file yet).
    #[test]
    fn a_sweep_removes_only_the_sandboxes_of_dead_owners() {
        let base = tempfile::tempdir().unwrap();
        let make = |name: &str, owner: Option<String>| {
            let dir = base.path().join(name);
            std::fs::create_dir(&dir).unwrap();
            if let Some(pid) = owner {
                std::fs::write(dir.join("owner.pid"), pid).unwrap();
            }
            dir
        };
        let dead = make("charmfuzz-dead", Some(u32::MAX.to_string()));
        let live = make("charmfuzz-live", Some(std::process::id().to_string()));
        let building = make("charmfuzz-building", None);
        let other = make("not-ours", Some(u32::MAX.to_string()));
        sweep_stale(base.path());
        assert!(!dead.exists(), "a dead owner's sandbox is swept");
        assert!(live.exists() && building.exists() && other.exists());
    }

    /// Sandboxes made while other processes sweep survive the sweeps: before the owner file
    /// was written whole, a sweep could read it empty and remove a sandbox being built
    /// (a test failed with "linking the hook tools: No such file or directory").
    #[test]
    fn sandboxes_made_while_another_sweeps_survive() {
        let charm = tempfile::tempdir().unwrap();
        std::fs::write(charm.path().join("metadata.yaml"), "name: x\n").unwrap();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let sweeper = scope.spawn(|| {
                let base = Sandbox::create(charm.path(), Containment::None, &[])
                    .unwrap()
                    .root()
                    .parent()
                    .unwrap()
                    .to_path_buf();
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    sweep_stale(&base);
                }
            });
            // Failures are gathered, not panicked on, so the sweeper is always told to stop.
            let failures = (0..300)
                .filter_map(
                    |_| match Sandbox::create(charm.path(), Containment::None, &[]) {
                        Ok(sandbox) if sandbox.tools_dir().is_dir() => None,
                        Ok(_) => Some("its hook tools directory is gone".to_string()),
                        Err(e) => Some(e.to_string()),
                    },
                )
                .collect::<Vec<_>>();
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            sweeper.join().unwrap();
            assert!(
                failures.is_empty(),
                "a sweep broke live sandboxes: {failures:?}"
            );
        });
    }
}
