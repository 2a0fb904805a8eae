//! charmfuzz: a coverage-guided lifecycle fuzzer for Juju charms.
//!
//! A Juju charm is a Python program (built on `ops`) that the Juju unit agent drives through
//! a stream of hook events. charmfuzz decodes fuzzer bytes into *valid* Juju event orderings
//! ([`engine`]), for the charm described by its [`spec`], and runs them against the real charm.

pub mod charm;
pub mod engine;
pub mod fuzzing;
pub mod lifecycle_map;
pub mod line_coverage;
pub mod minimize;
pub mod pyenv;
pub mod repro;
pub mod spec;
pub mod stats;
pub mod story;
pub mod target;
pub mod triage;

/// Writing and checking reproducers; the same as [`repro::run`], under the name its callers
/// use.
pub mod reproduce {
    pub use crate::repro::run::*;
}

/// Write `path` so that no reader ever sees it part-written: the bytes go to a fresh file
/// beside it, which is then renamed over it (a rename within a directory is atomic). Other
/// fuzzing processes read what this one writes (a sandbox's owner, a crash store's files).
/// The file is readable by all, as `std::fs::write` makes it under the usual umask.
pub(crate) fn write_whole(path: &std::path::Path, content: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let mut file = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o644))
        .tempfile_in(dir)?;
    std::io::Write::write_all(&mut file, content)?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
