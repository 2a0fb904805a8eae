//! The machine's files that installs change: a snap's directories, the users and groups
//! an install creates, the links in `/snap/bin`.
//!
//! The fake writes nothing of the real machine's: [`HostFs`] says where the harness
//! keeps each path of the machine (a sandbox's throwaway layer), and a path it does not
//! place is left alone. Failures to write are ignored: the state is what the charm asks
//! about, the files are for a charm that reads them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the harness keeps the machine's files.
pub trait HostFs: Send + Sync {
    /// Where the harness finds `path` (absolute, as the charm sees it), if it keeps it.
    fn locate(&self, path: &Path) -> Option<PathBuf>;

    /// The program (a path as the charm sees it) that answers the commands installs
    /// bring: `/snap/bin/<command>` links lead to it.
    fn command_program(&self) -> Option<PathBuf> {
        None
    }
}

/// A machine with no files (state only).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFiles;

impl HostFs for NoFiles {
    fn locate(&self, _path: &Path) -> Option<PathBuf> {
        None
    }
}

/// The machine's `/` at a directory (tests, and a harness with one root).
#[derive(Debug, Clone)]
pub struct RootedFs {
    pub root: PathBuf,
    pub program: Option<PathBuf>,
}

impl HostFs for RootedFs {
    fn locate(&self, path: &Path) -> Option<PathBuf> {
        Some(self.root.join(path.strip_prefix("/").unwrap_or(path)))
    }
    fn command_program(&self) -> Option<PathBuf> {
        self.program.clone()
    }
}

/// The uids (and gids) snapd gives its system users.
pub const SNAPD_USERS: [(&str, u32); 2] = [("snap_daemon", 584788), ("_daemon_", 584792)];

/// Add user `name` (and its group) to `/etc/passwd` and `/etc/group` unless there:
/// `snap_daemon` with snapd's fixed id, any other as a system user with the next free
/// id below 1000.
pub fn add_user(fs: &dyn HostFs, name: &str) {
    let (Some(passwd), Some(group)) = (
        fs.locate(Path::new("/etc/passwd")),
        fs.locate(Path::new("/etc/group")),
    ) else {
        return;
    };
    let users = std::fs::read_to_string(&passwd).unwrap_or_default();
    let groups = std::fs::read_to_string(&group).unwrap_or_default();
    let has = |table: &str| table.lines().any(|l| l.split(':').next() == Some(name));
    let used = |table: &str| -> Vec<u32> {
        table
            .lines()
            .filter_map(|l| l.split(':').nth(2)?.parse().ok())
            .collect()
    };
    let fixed = SNAPD_USERS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, id)| *id);
    let id = fixed.unwrap_or_else(|| {
        let taken: Vec<u32> = used(&users).into_iter().chain(used(&groups)).collect();
        (100..1000)
            .rev()
            .find(|i| !taken.contains(i))
            .unwrap_or(999)
    });
    if !has(&groups) {
        append(&group, &format!("{name}:x:{id}:\n"));
    }
    if !has(&users) {
        let home = if fixed.is_some() {
            "/nonexistent".to_string()
        } else {
            format!("/var/lib/{name}")
        };
        append(
            &passwd,
            &format!("{name}:x:{id}:{id}::{home}:/usr/sbin/nologin\n"),
        );
    }
}

fn append(path: &Path, line: &str) {
    let prefix = match std::fs::read(path) {
        Ok(b) if !b.is_empty() && !b.ends_with(b"\n") => "\n",
        _ => "",
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
    {
        let _ = f.write_all(format!("{prefix}{line}").as_bytes());
    }
}

fn relink(fs: &dyn HostFs, link: &str, to: &str) {
    if let Some(l) = fs.locate(Path::new(link)) {
        let _ = std::fs::remove_file(&l);
        if let Some(parent) = l.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::os::unix::fs::symlink(to, &l);
    }
}

fn mkdir(fs: &dyn HostFs, path: &str) -> Option<PathBuf> {
    let p = fs.locate(Path::new(path))?;
    std::fs::create_dir_all(&p).ok()?;
    Some(p)
}

/// A snap's directories at `revision`: `/snap/<name>/<rev>` and `current`,
/// `/var/snap/<name>/<rev>` (a copy of the data of `from`, the revision before a
/// refresh or revert) and `current`, `/var/snap/<name>/common`; its commands in
/// `/snap/bin`.
pub fn snap_dirs(
    fs: &dyn HostFs,
    name: &str,
    revision: u32,
    from: Option<u32>,
    commands: &[String],
) {
    mkdir(fs, &format!("/snap/{name}/{revision}"));
    relink(fs, &format!("/snap/{name}/current"), &revision.to_string());
    let data = mkdir(fs, &format!("/var/snap/{name}/{revision}"));
    mkdir(fs, &format!("/var/snap/{name}/common"));
    if let (Some(to), Some(old)) = (data, from.filter(|f| *f != revision)) {
        if let Some(src) = fs.locate(Path::new(&format!("/var/snap/{name}/{old}"))) {
            copy_dir(&src, &to);
        }
    }
    relink(
        fs,
        &format!("/var/snap/{name}/current"),
        &revision.to_string(),
    );
    if let Some(program) = fs.command_program() {
        for c in commands {
            relink(
                fs,
                &format!("/snap/bin/{c}"),
                &program.display().to_string(),
            );
        }
    }
}

/// The systemd unit file snapd writes for a snap's service (charms read and patch it).
pub fn snap_unit_file(fs: &dyn HostFs, snap: &str, app: &str) {
    let unit = format!("snap.{snap}.{app}.service");
    let Some(path) = fs.locate(Path::new(&format!("/etc/systemd/system/{unit}"))) else {
        return;
    };
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::write(
        &path,
        format!(
            "[Unit]\n# Auto-generated, DO NOT EDIT\nDescription=Service for snap application {snap}.{app}\n\
             Requires=snap-{snap}-current.mount\nWants=network.target\nAfter=snap-{snap}-current.mount network.target snapd.apparmor.service\n\
             X-Snappy=yes\n\n[Service]\nEnvironment=\"SNAPPY_LAUNCHER_INSIDE_TESTS=\"\n\
             ExecStart=/usr/bin/snap run {snap}.{app}\nSyslogIdentifier={snap}.{app}\nRestart=on-failure\n\
             WorkingDirectory=/var/snap/{snap}/current\nTimeoutStopSec=30\nType=simple\n\n\
             [Install]\nWantedBy=multi-user.target\n"
        ),
    );
}

/// Put the files a snap ships (`path` → content) where its directories are; a path
/// outside `/snap/<name>/` and `/var/snap/<name>/` is not the snap's and is left out.
pub fn snap_files(fs: &dyn HostFs, name: &str, files: &BTreeMap<String, String>) {
    for (path, content) in files {
        if !crate::config::snap_owns(name, path) {
            continue;
        }
        if let Some(p) = fs.locate(Path::new(path)) {
            write_with_parents(&p, content);
        }
    }
}

/// Write `content` at `path`, making its directories first.
fn write_with_parents(path: &Path, content: &str) {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::write(path, content);
}

/// The files each snap's services make while they run (`running-files`): written where
/// one of the snap's services is active now and the file is not there, removed where none
/// is. Called after every change the charm (or the story) made to the machine.
pub fn sync_running_files(
    fs: &dyn HostFs,
    st: &crate::state::HostState,
    config: &crate::HostConfig,
) {
    for (name, cfg) in config
        .snaps
        .iter()
        .filter(|(_, c)| !c.running_files.is_empty())
    {
        let prefix = format!("snap.{name}.");
        let running = st.snaps.contains_key(name)
            && (st.units.iter()).any(|(u, unit)| u.starts_with(&prefix) && unit.is_active());
        for (path, content) in &cfg.running_files {
            if !crate::config::snap_owns(name, path) {
                continue;
            }
            let Some(p) = fs.locate(Path::new(path)) else {
                continue;
            };
            match (running, p.symlink_metadata().is_ok()) {
                (true, false) => write_with_parents(&p, content),
                (false, true) => {
                    let _ = std::fs::remove_file(&p);
                }
                _ => {}
            }
        }
    }
}

/// A removed snap's directories and commands go.
pub fn remove_snap_dirs(fs: &dyn HostFs, name: &str, commands: &[String]) {
    for p in [format!("/snap/{name}"), format!("/var/snap/{name}")] {
        if let Some(l) = fs.locate(Path::new(&p)) {
            let _ = std::fs::remove_dir_all(l);
        }
    }
    for c in commands {
        if let Some(l) = fs.locate(Path::new(&format!("/snap/bin/{c}"))) {
            let _ = std::fs::remove_file(l);
        }
    }
    if let Some(dir) = fs.locate(Path::new("/etc/systemd/system")) {
        let prefix = format!("snap.{name}.");
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    for e in entries.flatten() {
        let dst = to.join(e.file_name());
        match e.file_type() {
            Ok(t) if t.is_dir() => {
                let _ = std::fs::create_dir_all(&dst);
                copy_dir(&e.path(), &dst);
            }
            Ok(t) if t.is_file() => {
                let _ = std::fs::copy(e.path(), &dst);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_get_ids_once_and_snap_dirs_follow_revisions() {
        let root = tempfile::tempdir().unwrap();
        let fs = RootedFs {
            root: root.path().to_path_buf(),
            program: Some("/usr/bin/charmfuzz".into()),
        };
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(
            root.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/bash",
        )
        .unwrap();
        std::fs::write(root.path().join("etc/group"), "root:x:0:\n").unwrap();
        add_user(&fs, "snap_daemon");
        add_user(&fs, "snap_daemon");
        add_user(&fs, "tinyproxy");
        let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).unwrap();
        assert_eq!(passwd.matches("snap_daemon:").count(), 1);
        assert!(
            passwd.contains("\nsnap_daemon:x:584788:584788:"),
            "{passwd}"
        );
        assert!(passwd.contains("tinyproxy:x:999:999:"), "{passwd}");
        let group = std::fs::read_to_string(root.path().join("etc/group")).unwrap();
        assert!(group.contains("tinyproxy:x:999:\n"));

        snap_dirs(&fs, "kafka", 7, None, &["kafka.topics".into()]);
        let data = root.path().join("var/snap/kafka/current/server.properties");
        std::fs::write(&data, "x=1").unwrap();
        snap_dirs(&fs, "kafka", 9, Some(7), &[]);
        assert_eq!(
            std::fs::read_link(root.path().join("snap/kafka/current")).unwrap(),
            Path::new("9")
        );
        assert_eq!(
            std::fs::read_to_string(root.path().join("var/snap/kafka/current/server.properties"))
                .unwrap(),
            "x=1",
            "a refresh copies the data to the new revision"
        );
        assert!(root.path().join("var/snap/kafka/common").is_dir());
        let shipped: BTreeMap<String, String> = [
            ("/var/snap/kafka/current/etc/jvm.options", "-Xmx1g\n"),
            ("/etc/not-the-snaps", "x"),
        ]
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .into();
        snap_files(&fs, "kafka", &shipped);
        assert_eq!(
            std::fs::read_to_string(root.path().join("var/snap/kafka/9/etc/jvm.options")).unwrap(),
            "-Xmx1g\n",
            "a snap's file lands in its current revision"
        );
        assert!(!root.path().join("etc/not-the-snaps").exists());
        assert!(
            root.path()
                .join("snap/bin/kafka.topics")
                .symlink_metadata()
                .is_ok()
        );
        remove_snap_dirs(&fs, "kafka", &["kafka.topics".into()]);
        assert!(!root.path().join("var/snap/kafka").exists());
        assert!(
            root.path()
                .join("snap/bin/kafka.topics")
                .symlink_metadata()
                .is_err()
        );
    }
}
