//! The disk as the first input found it, and the way back to it.
//!
//! A charm writes where a unit lets it: its own directory (`$JUJU_CHARM_DIR`), `/tmp`,
//! `/var/lib/juju`, `/run`, a new directory under `/`, `$HOME`. On a unit those files
//! outlive the hook, and a charm may rely on that within one deployment. Between two
//! fuzzing inputs they must not survive: an input that finds a file a former input left
//! behind fails in a way its own story cannot reproduce. So every place the charm can
//! write is a directory of the sandbox (bound into the walls), and after the worker
//! starts the target takes a [`Baseline`] of those trees: for every entry its kind, inode,
//! change time, size, mode and owner, and a copy of every regular file that has content.
//! Before each input, [`Baseline::restore`] walks the trees again and puts back what
//! differs: an entry that was not there is removed, one whose inode or change time moved
//! (rewritten, truncated, chmod-ed, linked elsewhere) is replaced from the copy, one that
//! is gone is made again.
//!
//! The change time (`ctime`) is the kernel's own: a process can set a file's modification
//! time back (`touch -d`), never its change time, so an unchanged `(inode, ctime)` means
//! unchanged bytes. Directories are compared by inode and mode and walked into, so that a
//! directory holding a mount point (a storage location under `/var/lib/juju`, bwrap's
//! stub for a path bound read-only) is never removed from under the mount.
//!
//! The same comparison tells what a story has written so far: [`Baseline::capture`]
//! keeps, in memory, every entry that differs from the baseline (with the content of the
//! files) and every baseline entry that is gone, and [`Baseline::apply`] makes the trees
//! so again after a restore. That is the disk half of a prefix snapshot: an input that
//! shares its first steps with an earlier one starts where those steps left the unit
//! (`crate::target::runner` resumes from it).

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

/// What one entry of a tree was at the baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    kind: Kind,
    ino: u64,
    ctime: (i64, i64),
    len: u64,
    mode: u32,
    uid: u32,
    gid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Symlink(PathBuf),
    /// A socket, fifo or device node: compared, never copied.
    Other,
}

impl Entry {
    fn of(path: &Path) -> std::io::Result<Entry> {
        let m = std::fs::symlink_metadata(path)?;
        let ft = m.file_type();
        let kind = if ft.is_symlink() {
            Kind::Symlink(std::fs::read_link(path)?)
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File
        } else {
            Kind::Other
        };
        Ok(Entry {
            kind,
            ino: m.ino(),
            ctime: (m.ctime(), m.ctime_nsec()),
            len: m.len(),
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
        })
    }

    /// The same entry, untouched since the baseline: for a directory, its identity and
    /// mode (what is inside is compared entry by entry).
    fn unchanged(&self, now: &Entry) -> bool {
        match self.kind {
            Kind::Dir => {
                now.kind == Kind::Dir
                    && self.ino == now.ino
                    && (self.mode, self.uid, self.gid) == (now.mode, now.uid, now.gid)
            }
            _ => self == now,
        }
    }
}

/// One tree the charm can write: where it lives in the sandbox, and what it held.
#[derive(Debug)]
struct Tree {
    live: PathBuf,
    /// Copies of the regular files with content, at the same relative paths.
    copy: PathBuf,
    entries: BTreeMap<PathBuf, Entry>,
}

/// The writable trees of a sandbox as they were before the first input.
#[derive(Debug, Default)]
pub struct Baseline {
    trees: Vec<Tree>,
}

/// What a restore put back, for tests and the curious.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Restored {
    /// Entries the charm had added, removed.
    pub removed: usize,
    /// Entries the charm had changed or removed, made again.
    pub remade: usize,
}

impl Baseline {
    /// Record `trees` (each an existing directory) and copy their files with content into
    /// `store`, a directory of its own.
    pub fn take(trees: &[PathBuf], store: &Path) -> std::io::Result<Baseline> {
        let _ = std::fs::remove_dir_all(store);
        let mut out = Vec::new();
        for (i, live) in trees.iter().enumerate() {
            let copy = store.join(i.to_string());
            std::fs::create_dir_all(&copy)?;
            let mut entries = BTreeMap::new();
            record(live, Path::new(""), &copy, &mut entries)?;
            out.push(Tree {
                live: live.clone(),
                copy,
                entries,
            });
        }
        Ok(Baseline { trees: out })
    }

    /// Put every tree back as it was when the baseline was taken.
    pub fn restore(&mut self) -> std::io::Result<Restored> {
        let mut done = Restored::default();
        for tree in &mut self.trees {
            let mut seen = HashSet::new();
            prune(tree, Path::new(""), &mut seen, &mut done)?;
            // Parents sort before their children (paths compare component by component),
            // so a directory is made before what goes in it.
            let missing: Vec<PathBuf> = tree
                .entries
                .keys()
                .filter(|rel| !seen.contains(*rel))
                .cloned()
                .collect();
            for rel in missing {
                remake(tree, &rel)?;
                done.remade += 1;
            }
        }
        Ok(done)
    }
}

/// What the writable trees hold that the baseline did not: the disk after some steps of
/// a story, to come back to ([`Baseline::capture`], [`Baseline::apply`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layers {
    trees: Vec<TreeDelta>,
}

impl Layers {
    /// The bytes of file content it holds (the snapshot cache's measure of size).
    pub fn content_bytes(&self) -> usize {
        (self.trees.iter())
            .flat_map(|t| &t.changed)
            .map(|(_, e)| match e {
                Saved::File { content, .. } => content.len(),
                _ => 0,
            })
            .sum()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct TreeDelta {
    /// Baseline entries that are gone (a directory with everything in it).
    gone: Vec<PathBuf>,
    /// Entries that are new or changed, parents before children.
    changed: Vec<(PathBuf, Saved)>,
}

/// One entry as a capture saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Saved {
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
    },
    File {
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: (i64, i64),
        content: Vec<u8>,
    },
    Symlink(PathBuf),
}

impl Baseline {
    /// What differs now from the baseline, in every tree. Read only: nothing changes.
    pub fn capture(&self) -> std::io::Result<Layers> {
        let mut trees = Vec::new();
        for tree in &self.trees {
            let mut delta = TreeDelta::default();
            let mut seen = HashSet::new();
            compare(tree, Path::new(""), &mut seen, &mut delta)?;
            delta.gone = (tree.entries.keys())
                .filter(|rel| !seen.contains(*rel))
                // A directory that is gone takes its entries with it.
                .filter(|rel| {
                    !rel.ancestors().skip(1).any(|a| {
                        tree.entries.contains_key(a) && !seen.contains(a) && a != Path::new("")
                    })
                })
                .cloned()
                .collect();
            trees.push(delta);
        }
        Ok(Layers { trees })
    }

    /// Make the trees what `layers` captured, from the baseline (call right after
    /// [`Baseline::restore`]).
    pub fn apply(&mut self, layers: &Layers) -> std::io::Result<()> {
        for (tree, delta) in self.trees.iter().zip(&layers.trees) {
            for rel in &delta.gone {
                let path = tree.live.join(rel);
                if let Ok(now) = Entry::of(&path) {
                    remove(&path, &now)?;
                }
            }
            for (rel, saved) in &delta.changed {
                let path = tree.live.join(rel);
                let now = Entry::of(&path).ok();
                match saved {
                    Saved::Dir { mode, uid, gid } => {
                        match now {
                            Some(e) if e.kind == Kind::Dir => {}
                            Some(e) => {
                                remove(&path, &e)?;
                                std::fs::create_dir(&path)?;
                            }
                            None => std::fs::create_dir(&path)?,
                        }
                        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode))?;
                        std::os::unix::fs::lchown(&path, Some(*uid), Some(*gid))?;
                    }
                    Saved::File {
                        mode,
                        uid,
                        gid,
                        mtime,
                        content,
                    } => {
                        if let Some(e) = now {
                            remove(&path, &e)?;
                        }
                        std::fs::write(&path, content)?;
                        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode))?;
                        std::os::unix::fs::lchown(&path, Some(*uid), Some(*gid))?;
                        let t = std::time::UNIX_EPOCH
                            + std::time::Duration::new(mtime.0.max(0) as u64, mtime.1 as u32);
                        std::fs::File::options()
                            .write(true)
                            .open(&path)
                            .and_then(|f| f.set_modified(t))?;
                    }
                    Saved::Symlink(target) => {
                        if let Some(e) = now {
                            remove(&path, &e)?;
                        }
                        symlink(target, &path)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Note in `delta` what in `rel` is not as the baseline had it (and in `seen` what is).
fn compare(
    tree: &Tree,
    rel: &Path,
    seen: &mut HashSet<PathBuf>,
    delta: &mut TreeDelta,
) -> std::io::Result<()> {
    let mut names: Vec<_> = std::fs::read_dir(tree.live.join(rel))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let rel = rel.join(name);
        let path = tree.live.join(&rel);
        let now = Entry::of(&path)?;
        match tree.entries.get(&rel) {
            Some(was) if was.unchanged(&now) => {
                seen.insert(rel.clone());
                if now.kind == Kind::Dir {
                    compare(tree, &rel, seen, delta)?;
                }
            }
            // The same directory with another mode or owner: note that, look inside.
            Some(was) if was.kind == Kind::Dir && now.kind == Kind::Dir && was.ino == now.ino => {
                seen.insert(rel.clone());
                delta.changed.push((rel.clone(), saved_dir(&now)));
                compare(tree, &rel, seen, delta)?;
            }
            // New, or changed: saved whole (a directory with all it holds).
            _ => save_all(tree, &rel, &now, delta)?,
        }
    }
    Ok(())
}

fn saved_dir(e: &Entry) -> Saved {
    Saved::Dir {
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
    }
}

fn save_all(tree: &Tree, rel: &Path, now: &Entry, delta: &mut TreeDelta) -> std::io::Result<()> {
    let path = tree.live.join(rel);
    match &now.kind {
        Kind::Dir => {
            delta.changed.push((rel.to_path_buf(), saved_dir(now)));
            let mut names: Vec<_> = std::fs::read_dir(&path)?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<Result<_, _>>()?;
            names.sort();
            for name in names {
                let child = rel.join(name);
                let e = Entry::of(&tree.live.join(&child))?;
                save_all(tree, &child, &e, delta)?;
            }
        }
        Kind::File => {
            let m = std::fs::symlink_metadata(&path)?;
            delta.changed.push((
                rel.to_path_buf(),
                Saved::File {
                    mode: now.mode,
                    uid: now.uid,
                    gid: now.gid,
                    mtime: (m.mtime(), m.mtime_nsec()),
                    content: std::fs::read(&path)?,
                },
            ));
        }
        Kind::Symlink(target) => {
            delta
                .changed
                .push((rel.to_path_buf(), Saved::Symlink(target.clone())));
        }
        // A socket or fifo the charm made: nothing to bring back (see `remake`).
        Kind::Other => {}
    }
    Ok(())
}

fn record(
    dir: &Path,
    rel: &Path,
    copy: &Path,
    entries: &mut BTreeMap<PathBuf, Entry>,
) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir.join(rel))? {
        let e = e?;
        let rel = rel.join(e.file_name());
        let path = dir.join(&rel);
        let entry = Entry::of(&path)?;
        match entry.kind {
            Kind::Dir => {
                std::fs::create_dir_all(copy.join(&rel))?;
                entries.insert(rel.clone(), entry);
                record(dir, &rel, copy, entries)?;
            }
            Kind::File if entry.len > 0 => {
                std::fs::copy(&path, copy.join(&rel))?;
                entries.insert(rel, entry);
            }
            _ => {
                entries.insert(rel, entry);
            }
        }
    }
    Ok(())
}

/// Remove what is in `rel` and not as the baseline had it; note what stays in `seen`.
fn prune(
    tree: &mut Tree,
    rel: &Path,
    seen: &mut HashSet<PathBuf>,
    done: &mut Restored,
) -> std::io::Result<()> {
    for e in std::fs::read_dir(tree.live.join(rel))? {
        let e = e?;
        let rel = rel.join(e.file_name());
        let path = tree.live.join(&rel);
        let now = Entry::of(&path)?;
        let Some(was) = tree.entries.get(&rel) else {
            remove(&path, &now)?;
            done.removed += 1;
            continue;
        };
        if was.unchanged(&now) {
            seen.insert(rel.clone());
            if now.kind == Kind::Dir {
                prune(tree, &rel, seen, done)?;
            }
        } else if was.kind == Kind::Dir && now.kind == Kind::Dir && was.ino == now.ino {
            // The same directory, chmod-ed or chown-ed: put its mode and owner back in
            // place (it may hold a mount point), then look inside.
            let was = was.clone();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(was.mode))?;
            std::os::unix::fs::lchown(&path, Some(was.uid), Some(was.gid))?;
            tree.entries.insert(rel.clone(), Entry::of(&path)?);
            seen.insert(rel.clone());
            done.remade += 1;
            prune(tree, &rel, seen, done)?;
        } else {
            // Changed: gone now, made again from the baseline after the walk.
            remove(&path, &now)?;
        }
    }
    Ok(())
}

fn remove(path: &Path, now: &Entry) -> std::io::Result<()> {
    if now.kind == Kind::Dir {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

/// Make `rel` again as the baseline recorded it, and record the new inode and ctime.
fn remake(tree: &mut Tree, rel: &Path) -> std::io::Result<()> {
    let path = tree.live.join(rel);
    let was = tree.entries[rel].clone();
    match &was.kind {
        Kind::Dir => std::fs::create_dir(&path)?,
        Kind::Symlink(target) => symlink(target, &path)?,
        Kind::File if was.len > 0 => {
            std::fs::copy(tree.copy.join(rel), &path)?;
        }
        Kind::File => {
            std::fs::File::create(&path)?;
        }
        // A socket or device node the charm removed: nothing in the sandbox makes one
        // where the charm can reach it, so there is nothing to bring back.
        Kind::Other => return Ok(()),
    }
    if !matches!(was.kind, Kind::Symlink(_)) {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(was.mode))?;
    }
    std::os::unix::fs::lchown(&path, Some(was.uid), Some(was.gid))?;
    tree.entries.insert(rel.to_path_buf(), Entry::of(&path)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live");
        std::fs::create_dir_all(live.join("src/deep")).unwrap();
        std::fs::write(live.join("src/charm.py"), b"print('pristine')\n").unwrap();
        std::fs::write(live.join("src/deep/empty"), b"").unwrap();
        symlink("src/charm.py", live.join("link")).unwrap();
        let store = dir.path().join("store");
        (dir, live, store)
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn every_kind_of_change_is_put_back() {
        let (_d, live, store) = tree();
        let mut b = Baseline::take(std::slice::from_ref(&live), &store).unwrap();
        assert_eq!(b.restore().unwrap(), Restored::default(), "nothing to do");

        // Rewritten in place, same size, modification time set back: the ctime tells.
        let charm = live.join("src/charm.py");
        let mtime = std::fs::metadata(&charm).unwrap().modified().unwrap();
        std::fs::write(&charm, b"print('tampered')\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&charm)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        // Added, at the top and deep down; a directory made; a file removed; a symlink
        // pointed elsewhere; a directory's mode changed.
        std::fs::write(live.join("left-behind"), b"x").unwrap();
        std::fs::create_dir_all(live.join("src/deep/new/er")).unwrap();
        std::fs::remove_file(live.join("src/deep/empty")).unwrap();
        std::fs::remove_file(live.join("link")).unwrap();
        symlink("/etc/passwd", live.join("link")).unwrap();
        std::fs::set_permissions(live.join("src"), std::fs::Permissions::from_mode(0o700)).unwrap();

        let done = b.restore().unwrap();
        assert_eq!(read(&charm), "print('pristine')\n");
        assert!(!live.join("left-behind").exists());
        assert!(!live.join("src/deep/new").exists());
        assert_eq!(std::fs::read(live.join("src/deep/empty")).unwrap(), b"");
        assert_eq!(
            std::fs::read_link(live.join("link")).unwrap(),
            Path::new("src/charm.py")
        );
        let mode = std::fs::metadata(live.join("src")).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o755);
        assert_eq!(done.removed, 2, "{done:?}");
        assert_eq!(done.remade, 4, "{done:?}");
        // And what was put back is the new baseline's identity: a second restore has
        // nothing to do.
        assert_eq!(b.restore().unwrap(), Restored::default());
    }

    #[test]
    fn a_directory_replaced_by_a_file_and_a_file_by_a_directory() {
        let (_d, live, store) = tree();
        let mut b = Baseline::take(std::slice::from_ref(&live), &store).unwrap();
        std::fs::remove_dir_all(live.join("src")).unwrap();
        std::fs::write(live.join("src"), b"not a directory").unwrap();
        std::fs::remove_file(live.join("link")).unwrap();
        std::fs::create_dir(live.join("link")).unwrap();
        b.restore().unwrap();
        assert_eq!(read(&live.join("src/charm.py")), "print('pristine')\n");
        assert!(live.join("src/deep/empty").is_file());
        assert!(
            std::fs::symlink_metadata(live.join("link"))
                .unwrap()
                .is_symlink()
        );
    }

    #[test]
    fn a_hard_link_written_through_is_caught() {
        let (_d, live, store) = tree();
        let mut b = Baseline::take(std::slice::from_ref(&live), &store).unwrap();
        let elsewhere = live.parent().unwrap().join("elsewhere");
        std::fs::hard_link(live.join("src/charm.py"), &elsewhere).unwrap();
        std::fs::write(&elsewhere, b"print('through a link')\n").unwrap();
        b.restore().unwrap();
        assert_eq!(read(&live.join("src/charm.py")), "print('pristine')\n");
    }

    /// Every entry under `root`: path, kind, mode and content (a file's bytes, a link's
    /// target), to compare two trees.
    fn listing(root: &Path) -> Vec<(PathBuf, String, u32)> {
        let mut out = Vec::new();
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            for e in std::fs::read_dir(root.join(&rel)).unwrap() {
                let rel = rel.join(e.unwrap().file_name());
                let path = root.join(&rel);
                let m = std::fs::symlink_metadata(&path).unwrap();
                let what = if m.is_symlink() {
                    format!("-> {}", std::fs::read_link(&path).unwrap().display())
                } else if m.is_dir() {
                    stack.push(rel.clone());
                    "dir".into()
                } else {
                    String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned()
                };
                out.push((rel, what, m.mode() & 0o7777));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn a_capture_brings_the_trees_back_to_what_a_story_wrote() {
        let (_d, live, store) = tree();
        let mut b = Baseline::take(std::slice::from_ref(&live), &store).unwrap();
        let pristine = listing(&live);
        assert_eq!(
            b.capture().unwrap(),
            Layers {
                trees: vec![TreeDelta::default()]
            }
        );

        // What some steps of a story wrote: every kind of change.
        std::fs::write(live.join("src/charm.py"), b"print('rewritten')\n").unwrap();
        std::fs::write(live.join("state.db"), b"\x00sqlite").unwrap();
        std::fs::create_dir_all(live.join("src/deep/new/er")).unwrap();
        std::fs::write(live.join("src/deep/new/er/conf"), b"a = 1\n").unwrap();
        std::fs::remove_file(live.join("src/deep/empty")).unwrap();
        std::fs::remove_file(live.join("link")).unwrap();
        symlink("/etc/passwd", live.join("link")).unwrap();
        std::fs::set_permissions(live.join("src"), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(
            live.join("state.db"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let written = listing(&live);
        let layers = b.capture().unwrap();
        assert!(layers.content_bytes() > 0);
        assert_eq!(listing(&live), written, "a capture changes nothing");

        // A later input: back to the baseline, then to the capture.
        b.restore().unwrap();
        assert_eq!(listing(&live), pristine);
        b.apply(&layers).unwrap();
        assert_eq!(listing(&live), written);
        // From there a story goes on, and the next input starts clean again.
        std::fs::write(live.join("more"), b"x").unwrap();
        b.restore().unwrap();
        assert_eq!(listing(&live), pristine);
        // A directory the story replaced by a file, and back.
        std::fs::remove_dir_all(live.join("src/deep")).unwrap();
        std::fs::write(live.join("src/deep"), b"a file now").unwrap();
        let replaced = listing(&live);
        let layers = b.capture().unwrap();
        b.restore().unwrap();
        b.apply(&layers).unwrap();
        assert_eq!(listing(&live), replaced);
        b.restore().unwrap();
        assert_eq!(listing(&live), pristine);
    }
}
