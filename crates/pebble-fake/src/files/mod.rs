//! The workload container's filesystem, as Pebble's `/v1/files` API sees it.
//!
//! Each container gets a directory on the host standing in for its root filesystem.
//! Container paths are absolute; they are cleaned the way Go's `path.Clean` does (so
//! `/a/../../etc` is `/etc`: in a real container `..` of `/` is `/`) and then mapped under
//! that directory, which is how an escape through `..` is refused. A path whose existing
//! part goes through a symbolic link is refused too (the API cannot create links, so one
//! can only have been planted from outside).
//!
//! Error messages copy what Go's `os` package would say inside the container, with the
//! container path: `stat /etc/app.conf: no such file or directory`, `mkdir /srv: file
//! exists`, `remove /data: directory not empty`. File owners are virtual: a charm may push
//! a file as `user="postgres"`; we record the owner in a table (we usually cannot chown,
//! and the user exists only in the workload image), and report it when listing.

//!
//! Layout: the filesystem is here; `users` is the virtual user and group database that
//! owners are resolved against, and `glob` is Go's `path.Match` for `list_files` patterns.

mod glob;
mod users;

pub use glob::glob_match;
pub use users::{UserEntry, Users};

use super::gotime::Timestamp;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A per-path error, as Pebble reports it inside a 200 response (`{"kind","message"}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// `not-found`, `permission-denied` or `generic-file-error`.
    pub kind: &'static str,
    pub message: String,
}

impl FileError {
    fn generic(message: String) -> FileError {
        FileError {
            kind: "generic-file-error",
            message,
        }
    }

    /// The HTTP status Pebble uses when this error is the whole response (file listing).
    pub fn status(&self) -> u16 {
        match self.kind {
            "not-found" => 404,
            "permission-denied" => 403,
            _ => 400,
        }
    }
}

/// Go's text for an errno, as `syscall.Errno.Error()` prints it.
fn errno_text(e: &io::Error) -> (&'static str, String) {
    let text = match e.raw_os_error() {
        Some(libc_errno) => match libc_errno {
            2 => "no such file or directory".to_string(),
            13 => "permission denied".to_string(),
            17 => "file exists".to_string(),
            20 => "not a directory".to_string(),
            21 => "is a directory".to_string(),
            39 => "directory not empty".to_string(),
            1 => "operation not permitted".to_string(),
            28 => "no space left on device".to_string(),
            36 => "file name too long".to_string(),
            _ => {
                let s = e.to_string();
                let s = s.split(" (os error").next().unwrap_or(&s).to_string();
                let mut c = s.chars();
                match c.next() {
                    Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
                    None => s,
                }
            }
        },
        None => e.to_string(),
    };
    let kind = match e.kind() {
        io::ErrorKind::NotFound => "not-found",
        io::ErrorKind::PermissionDenied => "permission-denied",
        _ => "generic-file-error",
    };
    (kind, text)
}

fn os_err(op: &str, cpath: &str, e: &io::Error) -> FileError {
    let (kind, text) = errno_text(e);
    FileError {
        kind,
        message: format!("{op} {cpath}: {text}"),
    }
}

fn not_absolute(p: &str) -> FileError {
    FileError::generic(format!("paths must be absolute, got {p:?}"))
}

/// Go's `path.Clean` for an absolute path.
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

fn base(cpath: &str) -> String {
    if cpath == "/" {
        return "/".into();
    }
    cpath.rsplit('/').next().unwrap_or("").to_string()
}

fn dir_of(cpath: &str) -> String {
    match cpath.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => cpath[..i].to_string(),
    }
}

/// One entry of a `list_files` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub path: String,
    pub name: String,
    /// `file`, `directory`, `symlink`, `socket`, `named-pipe`, `device` or `unknown`.
    pub type_: &'static str,
    pub size: Option<u64>,
    pub permissions: u32,
    pub last_modified: Timestamp,
    pub user_id: u32,
    pub user: String,
    pub group_id: u32,
    pub group: String,
}

impl FileInfo {
    /// The JSON object Pebble sends for this entry.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("path".into(), self.path.clone().into());
        m.insert("name".into(), self.name.clone().into());
        m.insert("type".into(), self.type_.into());
        if let Some(s) = self.size {
            m.insert("size".into(), s.into());
        }
        m.insert(
            "permissions".into(),
            format!("{:03o}", self.permissions).into(),
        );
        m.insert("last-modified".into(), self.last_modified.rfc3339().into());
        m.insert("user-id".into(), self.user_id.into());
        m.insert("user".into(), self.user.clone().into());
        m.insert("group-id".into(), self.group_id.into());
        m.insert("group".into(), self.group.clone().into());
        serde_json::Value::Object(m)
    }
}

/// A file or directory captured in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsEntry {
    Dir { mode: u32 },
    File { mode: u32, content: Vec<u8> },
}

/// The whole filesystem of a container, for snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FsImage {
    /// Container path → entry, parents before children.
    pub entries: BTreeMap<String, FsEntry>,
    /// Container path → (uid, gid) for entries not owned by root.
    pub owners: BTreeMap<String, (u32, u32)>,
}

/// The filesystem of one container.
#[derive(Debug)]
pub struct ContainerFs {
    root: PathBuf,
    /// Virtual owners: container path → (uid, gid). Missing means root:root.
    owners: BTreeMap<String, (u32, u32)>,
    tmp_counter: u64,
    /// Directories a `push` or `make_dir` expected to be there (no `make_dirs`, no
    /// `make_parents`) and that are not: the workload image would ship them, and this
    /// filesystem starts empty. Taken by the harness after each hook.
    missing_dirs: Vec<String>,
}

fn parse_permissions(p: &str, default: u32) -> Result<u32, FileError> {
    if p.is_empty() {
        return Ok(default);
    }
    match u32::from_str_radix(p, 8) {
        Ok(v) if p.len() == 3 => Ok(v),
        _ => Err(FileError::generic(format!(
            "permissions must be a 3-digit octal string, got {p:?}"
        ))),
    }
}

/// The ownership fields of a write or make-dirs request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ownership {
    pub permissions: String,
    pub user_id: Option<i64>,
    pub user: String,
    pub group_id: Option<i64>,
    pub group: String,
}

impl ContainerFs {
    /// A filesystem rooted at `root` (created if missing).
    pub fn new(root: PathBuf) -> io::Result<ContainerFs> {
        fs::create_dir_all(&root)?;
        Ok(ContainerFs {
            root,
            owners: BTreeMap::new(),
            tmp_counter: 0,
            missing_dirs: Vec::new(),
        })
    }

    /// The directories writes expected and did not find, since the last call (taken).
    pub fn take_missing_dirs(&mut self) -> Vec<String> {
        std::mem::take(&mut self.missing_dirs)
    }

    /// Note `dir` as expected by a write when it is missing (not when it is a file).
    fn note_missing_dir(&mut self, dir: &str) {
        if let Ok(host) = self.host(dir)
            && matches!(fs::symlink_metadata(&host), Err(e) if e.kind() == io::ErrorKind::NotFound)
            && !self.missing_dirs.iter().any(|d| d == dir)
        {
            self.missing_dirs.push(dir.to_string());
        }
    }

    /// The host directory standing in for the container's `/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Maps a cleaned container path to the host. Refuses paths through symlinks.
    fn host(&self, cpath: &str) -> Result<PathBuf, FileError> {
        let mut p = self.root.clone();
        for comp in cpath.split('/').filter(|c| !c.is_empty()) {
            p.push(comp);
            if let Ok(m) = fs::symlink_metadata(&p)
                && m.file_type().is_symlink()
            {
                return Err(FileError {
                    kind: "permission-denied",
                    message: format!("{cpath}: path goes through a symbolic link"),
                });
            }
        }
        Ok(p)
    }

    fn owner_of(&self, cpath: &str) -> (u32, u32) {
        self.owners.get(cpath).copied().unwrap_or((0, 0))
    }

    fn set_owner(&mut self, cpath: &str, owner: Option<(u32, u32)>) {
        match owner {
            Some((0, 0)) | None => {
                self.owners.remove(cpath);
            }
            Some(o) => {
                self.owners.insert(cpath.to_string(), o);
            }
        }
    }

    fn forget_tree(&mut self, cpath: &str) {
        let prefix = if cpath == "/" {
            "/".to_string()
        } else {
            format!("{cpath}/")
        };
        self.owners
            .retain(|k, _| k != cpath && !k.starts_with(&prefix));
    }

    /// `pull`: the content of a regular file.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, FileError> {
        if !path.starts_with('/') {
            return Err(not_absolute(path));
        }
        let cpath = clean(path);
        let host = self.host(&cpath)?;
        let meta = fs::metadata(&host).map_err(|e| os_err("stat", path, &e))?;
        if !meta.is_file() {
            return Err(FileError::generic(format!(
                "can only read a regular file: {path:?}"
            )));
        }
        fs::read(&host).map_err(|e| os_err("open", path, &e))
    }

    /// `push`: writes a file atomically, optionally creating its parents.
    pub fn write(
        &mut self,
        users: &mut Users,
        path: &str,
        make_dirs: bool,
        own: &Ownership,
        content: &[u8],
    ) -> Result<(), FileError> {
        if !path.starts_with('/') {
            return Err(not_absolute(path));
        }
        let owner = users
            .normalize(own.user_id, own.group_id, &own.user, &own.group)
            .map_err(|e| FileError::generic(format!("cannot look up user and group: {e}")))?;
        let cpath = clean(path);
        if make_dirs {
            self.mkdir_all(&dir_of(&cpath), 0o755, owner)
                .map_err(|e| FileError {
                    kind: e.kind,
                    message: format!("cannot create directory: {}", e.message),
                })?;
        }
        let perm = parse_permissions(&own.permissions, 0o644)?;
        let host = self.host(&cpath)?;
        self.tmp_counter += 1;
        let tmp_name = format!("{path}.{}~", tmp_suffix(self.tmp_counter));
        let parent = host.parent().unwrap_or(&self.root).to_path_buf();
        match fs::metadata(&parent) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(FileError::generic(format!(
                    "open {tmp_name}: not a directory"
                )));
            }
            Err(e) => {
                self.note_missing_dir(&dir_of(&cpath));
                return Err(os_err("open", &tmp_name, &e));
            }
        }
        if let Ok(m) = fs::symlink_metadata(&host)
            && m.is_dir()
        {
            return Err(FileError::generic(format!(
                "rename {tmp_name} {path}: file exists"
            )));
        }
        let tmp_host = parent.join(format!(".charmfuzz-tmp-{}", self.tmp_counter));
        let res = fs::write(&tmp_host, content)
            .and_then(|_| fs::set_permissions(&tmp_host, fs::Permissions::from_mode(perm)))
            .and_then(|_| fs::rename(&tmp_host, &host));
        if let Err(e) = res {
            let _ = fs::remove_file(&tmp_host);
            return Err(os_err("open", &tmp_name, &e));
        }
        self.set_owner(&cpath, owner);
        Ok(())
    }

    fn mkdir_all(
        &mut self,
        cpath: &str,
        perm: u32,
        owner: Option<(u32, u32)>,
    ) -> Result<(), FileError> {
        let mut cur = String::new();
        for comp in cpath.split('/').filter(|c| !c.is_empty()) {
            cur.push('/');
            cur.push_str(comp);
            let host = self.host(&cur)?;
            match fs::metadata(&host) {
                Ok(m) if m.is_dir() => continue,
                Ok(_) => {
                    return Err(FileError::generic(format!("mkdir {cur}: not a directory")));
                }
                Err(_) => {
                    fs::create_dir(&host).map_err(|e| os_err("mkdir", &cur, &e))?;
                    fs::set_permissions(&host, fs::Permissions::from_mode(perm))
                        .map_err(|e| os_err("chmod", &cur, &e))?;
                    self.set_owner(&cur, owner);
                }
            }
        }
        Ok(())
    }

    /// `make_dir`: creates one directory (or all missing parents with `make_parents`).
    pub fn make_dir(
        &mut self,
        users: &mut Users,
        path: &str,
        make_parents: bool,
        own: &Ownership,
    ) -> Result<(), FileError> {
        if !path.starts_with('/') {
            return Err(not_absolute(path));
        }
        let perm = parse_permissions(&own.permissions, 0o755)?;
        let owner = users
            .normalize(own.user_id, own.group_id, &own.user, &own.group)
            .map_err(|e| FileError::generic(format!("cannot look up user and group: {e}")))?;
        let cpath = clean(path);
        if make_parents {
            return self.mkdir_all(&cpath, perm, owner);
        }
        let host = self.host(&cpath)?;
        if let Err(e) = fs::create_dir(&host) {
            if e.kind() == io::ErrorKind::NotFound {
                self.note_missing_dir(&dir_of(&cpath));
            }
            return Err(os_err("mkdir", path, &e));
        }
        fs::set_permissions(&host, fs::Permissions::from_mode(perm))
            .map_err(|e| os_err("chmod", path, &e))?;
        self.set_owner(&cpath, owner);
        Ok(())
    }

    /// `remove_path`: removes a file or empty directory, or (with `recursive`) a whole
    /// tree, where a missing path is not an error.
    pub fn remove(&mut self, path: &str, recursive: bool) -> Result<(), FileError> {
        if !path.starts_with('/') {
            return Err(not_absolute(path));
        }
        let cpath = clean(path);
        let host = self.host(&cpath)?;
        if recursive {
            if cpath == "/" {
                self.clear().map_err(|e| os_err("unlinkat", path, &e))?;
            } else {
                match fs::symlink_metadata(&host) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(os_err("lstat", path, &e)),
                    Ok(m) if m.is_dir() => {
                        fs::remove_dir_all(&host).map_err(|e| os_err("unlinkat", path, &e))?
                    }
                    Ok(_) => fs::remove_file(&host).map_err(|e| os_err("remove", path, &e))?,
                }
            }
            self.forget_tree(&cpath);
            return Ok(());
        }
        let meta = fs::symlink_metadata(&host).map_err(|e| os_err("remove", path, &e))?;
        if meta.is_dir() {
            if cpath == "/" {
                return Err(os_err("remove", path, &io::Error::from_raw_os_error(16)));
            }
            fs::remove_dir(&host).map_err(|e| os_err("remove", path, &e))?;
        } else {
            fs::remove_file(&host).map_err(|e| os_err("remove", path, &e))?;
        }
        self.forget_tree(&cpath);
        Ok(())
    }

    /// `list_files`: a directory's entries, or the entry itself (`itself`, or a file),
    /// filtered by a Go `path.Match` pattern.
    pub fn list(
        &self,
        users: &Users,
        path: &str,
        pattern: &str,
        itself: bool,
    ) -> Result<Vec<FileInfo>, FileError> {
        let cpath = clean(path);
        let host = self.host(&cpath)?;
        let meta = fs::metadata(&host).map_err(|e| os_err("stat", path, &e))?;
        let mut entries: Vec<(String, fs::Metadata)> = Vec::new();
        let dir;
        if !meta.is_dir() || itself {
            dir = dir_of(&cpath);
            entries.push((base(&cpath), meta));
        } else {
            dir = cpath.clone();
            let rd = fs::read_dir(&host).map_err(|e| os_err("open", path, &e))?;
            for e in rd {
                let e = e.map_err(|e| os_err("readdirent", path, &e))?;
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with(".charmfuzz-tmp-") {
                    continue;
                }
                let m = e
                    .metadata()
                    .map_err(|err| os_err("lstat", &join(&cpath, &name), &err))?;
                entries.push((name, m));
            }
            entries.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let mut out = Vec::new();
        for (name, m) in entries {
            if !pattern.is_empty() {
                match glob_match(pattern, &name) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(()) => return Err(FileError::generic("syntax error in pattern".into())),
                }
            }
            let full = if name == "/" {
                "/".to_string()
            } else {
                join(&dir, &name)
            };
            let (uid, gid) = self.owner_of(&full);
            let ft = m.file_type();
            let type_ = if ft.is_file() {
                "file"
            } else if ft.is_dir() {
                "directory"
            } else if ft.is_symlink() {
                "symlink"
            } else {
                use std::os::unix::fs::FileTypeExt;
                if ft.is_socket() {
                    "socket"
                } else if ft.is_fifo() {
                    "named-pipe"
                } else if ft.is_block_device() || ft.is_char_device() {
                    "device"
                } else {
                    "unknown"
                }
            };
            out.push(FileInfo {
                path: full,
                name,
                type_,
                size: ft.is_file().then_some(m.size()),
                permissions: m.mode() & 0o777,
                last_modified: m.modified().map(Timestamp::from_system).unwrap_or_default(),
                user_id: uid,
                user: users.user_name(uid),
                group_id: gid,
                group: users.group_name(gid),
            });
        }
        Ok(out)
    }

    /// Removes everything in the container's filesystem.
    pub fn clear(&mut self) -> io::Result<()> {
        for e in fs::read_dir(&self.root)? {
            let p = e?.path();
            if fs::symlink_metadata(&p)?.is_dir() {
                fs::remove_dir_all(&p)?;
            } else {
                fs::remove_file(&p)?;
            }
        }
        self.owners.clear();
        Ok(())
    }

    /// Captures the whole filesystem.
    pub fn image(&self) -> io::Result<FsImage> {
        let mut img = FsImage {
            entries: BTreeMap::new(),
            owners: self.owners.clone(),
        };
        fn walk(host: &Path, cpath: &str, img: &mut FsImage) -> io::Result<()> {
            let mut names: Vec<_> = fs::read_dir(host)?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<io::Result<_>>()?;
            names.sort();
            for name in names {
                let name_s = name.to_string_lossy().to_string();
                let hp = host.join(&name);
                let cp = join(cpath, &name_s);
                let m = fs::symlink_metadata(&hp)?;
                if m.is_dir() {
                    img.entries.insert(
                        cp.clone(),
                        FsEntry::Dir {
                            mode: m.mode() & 0o7777,
                        },
                    );
                    walk(&hp, &cp, img)?;
                } else if m.is_file() {
                    img.entries.insert(
                        cp,
                        FsEntry::File {
                            mode: m.mode() & 0o7777,
                            content: fs::read(&hp)?,
                        },
                    );
                }
            }
            Ok(())
        }
        walk(&self.root, "/", &mut img)?;
        Ok(img)
    }

    /// Replaces the whole filesystem with an image.
    pub fn restore(&mut self, img: &FsImage) -> io::Result<()> {
        self.clear()?;
        self.apply(img)?;
        self.owners = img.owners.clone();
        Ok(())
    }

    fn apply(&mut self, img: &FsImage) -> io::Result<()> {
        // Directories get their mode after their children are written (a 0555 directory
        // must still be filled).
        let mut dir_modes = Vec::new();
        for (cpath, entry) in &img.entries {
            let host = self.root.join(cpath.trim_start_matches('/'));
            match entry {
                FsEntry::Dir { mode } => {
                    fs::create_dir_all(&host)?;
                    dir_modes.push((host, *mode));
                }
                FsEntry::File { mode, content } => {
                    if let Some(p) = host.parent() {
                        fs::create_dir_all(p)?;
                    }
                    fs::write(&host, content)?;
                    fs::set_permissions(&host, fs::Permissions::from_mode(*mode))?;
                }
            }
        }
        for (host, mode) in dir_modes.into_iter().rev() {
            fs::set_permissions(&host, fs::Permissions::from_mode(mode))?;
        }
        Ok(())
    }

    /// A container restart: everything is lost except the trees under `keep` (the
    /// container's mounted storage).
    pub fn reset_keeping(&mut self, keep: &[String]) -> io::Result<()> {
        let img = self.image()?;
        let keep: Vec<String> = keep.iter().map(|k| clean(k)).collect();
        let kept = |p: &str| {
            keep.iter()
                .any(|k| p == k || p.starts_with(&format!("{k}/")) || k == "/")
        };
        let parent_of_kept = |p: &str| keep.iter().any(|k| k.starts_with(&format!("{p}/")));
        let filtered = FsImage {
            entries: img
                .entries
                .iter()
                .filter(|(p, _)| kept(p) || parent_of_kept(p))
                .map(|(p, e)| (p.clone(), e.clone()))
                .collect(),
            owners: img
                .owners
                .iter()
                .filter(|(p, _)| kept(p))
                .map(|(p, o)| (p.clone(), *o))
                .collect(),
        };
        self.restore(&filtered)
    }

    /// Every path in the filesystem with its kind, for inspection.
    pub fn walk(&self) -> io::Result<FsImage> {
        self.image()
    }

    /// Writes a file directly (harness side, not through the API), creating parents.
    pub fn put(&mut self, path: &str, content: &[u8], mode: u32) -> io::Result<()> {
        let cpath = clean(path);
        let host = self.root.join(cpath.trim_start_matches('/'));
        if let Some(p) = host.parent() {
            fs::create_dir_all(p)?;
        }
        fs::write(&host, content)?;
        fs::set_permissions(&host, fs::Permissions::from_mode(mode))
    }

    /// Makes a directory and its parents directly (harness side).
    pub fn put_dir(&mut self, path: &str) -> io::Result<()> {
        let cpath = clean(path);
        fs::create_dir_all(self.root.join(cpath.trim_start_matches('/')))
    }

    /// Reads a file directly (harness side).
    pub fn get(&self, path: &str) -> Option<Vec<u8>> {
        let cpath = clean(path);
        let host = self.host(&cpath).ok()?;
        fs::read(host).ok()
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Go's `osutil.AtomicWrite` temp names end in 12 random letters; ours are derived from a
/// counter so error messages stay deterministic.
fn tmp_suffix(n: u64) -> String {
    const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5851_F42D_4C95_7F2D;
    (0..12)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ALPHA[((x >> 33) % ALPHA.len() as u64) as usize] as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_like_go() {
        assert_eq!(clean("/a/b/../c/./d/"), "/a/c/d");
        assert_eq!(clean("/../../etc/passwd"), "/etc/passwd");
        assert_eq!(clean("/"), "/");
        assert_eq!(clean("//x//y"), "/x/y");
    }

    #[test]
    fn writes_note_the_directories_they_expected_and_did_not_find() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = ContainerFs::new(dir.path().join("root")).unwrap();
        let mut users = Users::default();
        let own = Ownership::default();
        f.write(&mut users, "/etc/app/conf", false, &own, b"x")
            .unwrap_err();
        f.make_dir(&mut users, "/var/lib/app/data", false, &own)
            .unwrap_err();
        f.make_dir(&mut users, "/var/lib/app/logs", false, &own)
            .unwrap_err();
        assert_eq!(f.take_missing_dirs(), ["/etc/app", "/var/lib/app"]);
        assert!(f.take_missing_dirs().is_empty(), "taken");
        // Made first, or asked to be made, nothing is missing; nor is a failure of
        // another kind (a file where the directory should be).
        f.write(&mut users, "/etc/app/conf", true, &own, b"x")
            .unwrap();
        f.make_dir(&mut users, "/var/lib/app/data", true, &own)
            .unwrap();
        f.write(&mut users, "/etc/app/conf/inner", false, &own, b"x")
            .unwrap_err();
        f.make_dir(&mut users, "/var/lib/app/data", false, &own)
            .unwrap_err();
        assert!(f.take_missing_dirs().is_empty());
    }

    #[test]
    fn fs_operations_and_messages() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = ContainerFs::new(dir.path().join("root")).unwrap();
        let mut users = Users::default();
        let own = Ownership::default();
        let e = f
            .write(&mut users, "/etc/app/conf", false, &own, b"x")
            .unwrap_err();
        assert_eq!(e.kind, "not-found");
        assert!(
            e.message.starts_with("open /etc/app/conf."),
            "{}",
            e.message
        );
        assert!(
            e.message.ends_with("~: no such file or directory"),
            "{}",
            e.message
        );
        f.write(&mut users, "/etc/app/conf", true, &own, b"hello")
            .unwrap();
        assert_eq!(f.read("/etc/app/conf").unwrap(), b"hello");
        assert_eq!(f.read("/etc/../etc/app/conf").unwrap(), b"hello");
        assert_eq!(
            f.read("/nope").unwrap_err().message,
            "stat /nope: no such file or directory"
        );
        assert_eq!(
            f.read("/etc").unwrap_err().message,
            "can only read a regular file: \"/etc\""
        );
        assert_eq!(
            f.make_dir(&mut users, "/etc", false, &own)
                .unwrap_err()
                .message,
            "mkdir /etc: file exists"
        );
        assert_eq!(
            f.remove("/etc", false).unwrap_err().message,
            "remove /etc: directory not empty"
        );
        let l = f.list(&users, "/etc/app", "", false).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].path, "/etc/app/conf");
        assert_eq!(l[0].permissions, 0o644);
        assert_eq!(l[0].size, Some(5));
        let l = f.list(&users, "/", "", true).unwrap();
        assert_eq!((l[0].path.as_str(), l[0].name.as_str()), ("/", "/"));
        let e = f.list(&users, "/missing", "", false).unwrap_err();
        assert_eq!(e.status(), 404);
        f.remove("/etc", true).unwrap();
        f.remove("/etc", true).unwrap();
        assert!(f.image().unwrap().entries.is_empty());
    }
}
