//! A ceiling on how many processes a charm may run at once.
//!
//! A charm's hook can start processes (a `subprocess.run`, a shell, a thread: each is a
//! task to the kernel), and one that loops on it -- a retry that forgets to wait, a fork
//! bomb -- takes every process id the machine has, so that nothing else on it can start,
//! the fuzzer included. Memory has a per-process limit (`RLIMIT_DATA`); processes have
//! none that holds for root (`RLIMIT_NPROC` is not enforced for uid 0). The kernel's
//! `pids` cgroup controller is the ceiling that does: a directory in the cgroup tree with
//! `pids.max` in it, which every process started inside it counts against, children and
//! threads included, and where a `fork` past the ceiling fails with `EAGAIN` (Python's
//! `BlockingIOError`). `pids.events` counts those failures, so the target can tell a hook
//! that hit the ceiling.
//!
//! [`ProcessLimit::create`] makes one such cgroup per target, under the one charmfuzz runs
//! in: cgroup v1's `pids` hierarchy, or cgroup v2 where the pids controller is delegated
//! to it. [`ProcessLimit::enter`] puts a command's process in it before it execs (writing
//! `0` to `cgroup.procs` moves the writer), so that nothing it starts escapes. Without a
//! cgroup to make (no controller, no permission), there is no ceiling, and the target
//! says so.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// One target's `pids` cgroup, removed on drop (once its processes are gone).
#[derive(Debug)]
pub struct ProcessLimit {
    dir: PathBuf,
    max: u64,
    /// `cgroup.procs`, open for the `pre_exec` hook of each command started inside.
    procs: OwnedFd,
}

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no pids cgroup controller is mounted where charmfuzz can use it")]
    NoController,
    #[error("cannot make the pids cgroup {dir}: {source}")]
    Create {
        dir: PathBuf,
        source: std::io::Error,
    },
}

impl ProcessLimit {
    /// A new cgroup allowing `max` processes (threads count).
    pub fn create(max: u64) -> Result<ProcessLimit, CgroupError> {
        let parent = pids_parent().ok_or(CgroupError::NoController)?;
        sweep_stale(&parent);
        let err = |dir: &Path| {
            let dir = dir.to_path_buf();
            move |source| CgroupError::Create { dir, source }
        };
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = parent.join(format!("charmfuzz-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).map_err(err(&dir))?;
        let made = (|| {
            std::fs::write(dir.join("pids.max"), max.to_string())?;
            let procs = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))?;
            Ok(OwnedFd::from(procs))
        })();
        match made {
            Ok(procs) => Ok(ProcessLimit { dir, max, procs }),
            Err(source) => {
                let _ = std::fs::remove_dir(&dir);
                Err(CgroupError::Create { dir, source })
            }
        }
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many times a process in the cgroup failed to start because of the ceiling.
    pub fn hits(&self) -> u64 {
        std::fs::read_to_string(self.dir.join("pids.events"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("max ")?.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// How many processes are in the cgroup now.
    pub fn current(&self) -> u64 {
        std::fs::read_to_string(self.dir.join("pids.current"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Start `cmd`'s process inside the cgroup.
    pub fn enter(&self, cmd: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        let fd = self.procs.as_raw_fd();
        // SAFETY: runs in the forked child before exec, where only async-signal-safe calls
        // are allowed: one write(2) to a descriptor the parent opened (and keeps open until
        // the command is spawned, since `self` outlives the call that spawns it), nothing
        // allocated.
        unsafe {
            cmd.pre_exec(move || {
                let fd = std::os::fd::BorrowedFd::borrow_raw(fd);
                rustix::io::write(fd, b"0")?;
                Ok(())
            });
        }
    }
}

impl Drop for ProcessLimit {
    fn drop(&mut self) {
        // A cgroup is removed with rmdir once it is empty; the worker's processes die with
        // it (bubblewrap's --die-with-parent) and the kernel may take a moment to reap them.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            if let Ok(procs) = std::fs::read_to_string(self.dir.join("cgroup.procs")) {
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// The cgroup directory this process's pids cgroups go under: this process's own cgroup
/// in the v1 `pids` hierarchy, or in the v2 tree if it hands the pids controller down.
fn pids_parent() -> Option<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut v2_mount = None;
    let mut v1_mount = None;
    for (point, fstype, options) in mounts.lines().filter_map(parse_mount) {
        match fstype {
            "cgroup" if options.split(',').any(|o| o == "pids") => {
                v1_mount = Some(PathBuf::from(unescape(point)))
            }
            "cgroup2" => v2_mount = Some(PathBuf::from(unescape(point))),
            _ => {}
        }
    }
    for line in own.lines() {
        // /proc/self/cgroup: "<id>:<controllers>:<path>"
        let mut f = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let rel = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == "pids") {
            if let Some(m) = &v1_mount {
                let dir = m.join(rel);
                if dir.join("cgroup.procs").exists() {
                    return Some(dir);
                }
            }
        }
        if controllers.is_empty() {
            if let Some(m) = &v2_mount {
                let dir = m.join(rel);
                let handed_down = std::fs::read_to_string(dir.join("cgroup.subtree_control"))
                    .is_ok_and(|s| s.split_whitespace().any(|c| c == "pids"));
                if handed_down {
                    return Some(dir);
                }
            }
        }
    }
    None
}

/// A line of mountinfo, "... <mount point> <options> ... - <fstype> <source> <super
/// options>": the mount point, the file system type and its options.
fn parse_mount(line: &str) -> Option<(&str, &str, &str)> {
    let (left, right) = line.split_once(" - ")?;
    let point = left.split(' ').nth(4)?;
    let mut r = right.split(' ');
    let fstype = r.next()?;
    Some((point, fstype, r.nth(1).unwrap_or("")))
}

/// mountinfo escapes spaces and the like as `\040`.
fn unescape(s: &str) -> String {
    s.replace("\\040", " ").replace("\\011", "\t")
}

/// Remove the cgroups a charmfuzz process that is gone left behind (an empty cgroup
/// directory holds nothing but its name).
fn sweep_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("charmfuzz-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ceiling holds for root: past it a fork fails, the failure is counted, and the
    /// cgroup goes with the value.
    #[test]
    fn a_process_past_the_ceiling_does_not_start_and_is_counted() {
        let limit = ProcessLimit::create(4).expect("a pids cgroup on this machine");
        let dir = limit.dir().to_path_buf();
        let mut cmd = std::process::Command::new("/bin/sh");
        // Eight background sleeps from one shell: the shell and three more fit.
        cmd.args([
            "-c",
            "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done 2>/dev/null; wait",
        ]);
        limit.enter(&mut cmd);
        let mut child = cmd.spawn().expect("sh starts");
        let start = std::time::Instant::now();
        while limit.hits() == 0 && start.elapsed() < std::time::Duration::from_secs(5) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(limit.hits() > 0, "the ceiling was hit");
        assert!(limit.current() <= 4, "{}", limit.current());
        let _ = child.kill();
        let _ = child.wait();
        drop(limit);
        assert!(!dir.exists(), "the cgroup is removed");
    }
}
