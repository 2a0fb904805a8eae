//! Which Python runs the charm: the one asked for, the charm's own environment, or (if
//! it has the `ops` the charm pins) one that is not the charm's.

use super::TargetError;
use std::path::{Path, PathBuf};

/// Where the charm's interpreter came from ([`find_python`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PythonSource {
    /// `--python`, `[target] python` or `$CHARMFUZZ_PYTHON`: the user's choice.
    Asked,
    /// The charm's own `venv/`, or the environment `charmfuzz setup` built from what the
    /// charm declares.
    Charm,
    /// An environment that is not the charm's (`$CHARMFUZZ_VENV`, this project's `.venv`,
    /// `python3` on PATH): used only when it has the `ops` the charm pins.
    Fallback,
}

/// The interpreter to run the charm with: the one asked for; else `$CHARMFUZZ_PYTHON`;
/// else the charm's own `venv/bin/python`; else the environment `charmfuzz setup` built
/// for it ([`crate::pyenv`]); else `$CHARMFUZZ_VENV` or this project's environment (made by
/// `scripts/setup-python.sh`); else `python3` on PATH.
pub fn find_python(
    charm_dir: &Path,
    asked: Option<&Path>,
) -> Result<(PathBuf, PythonSource), TargetError> {
    let resolve = |p: &Path| -> Option<PathBuf> {
        let p = if p.is_relative() && p.components().count() > 1 {
            charm_dir.join(p)
        } else {
            p.to_path_buf()
        };
        if p.is_file() {
            return Some(p);
        }
        which(&p)
    };
    if let Some(p) = asked {
        return resolve(p)
            .map(|p| (p, PythonSource::Asked))
            .ok_or_else(|| TargetError::NoPython(format!("{} does not exist", p.display())));
    }
    if let Some(p) = std::env::var_os("CHARMFUZZ_PYTHON").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return resolve(&p)
            .map(|p| (p, PythonSource::Asked))
            .ok_or_else(|| {
                TargetError::NoPython(format!("CHARMFUZZ_PYTHON={} does not exist", p.display()))
            });
    }
    let own = Some(charm_dir.join("venv/bin/python"))
        .filter(|p| p.is_file())
        .or_else(|| crate::pyenv::built_python(charm_dir));
    if let Some(p) = own {
        return Ok((p, PythonSource::Charm));
    }
    let mut candidates = Vec::new();
    if let Some(v) = std::env::var_os("CHARMFUZZ_VENV").filter(|p| !p.is_empty()) {
        candidates.push(PathBuf::from(v).join("bin/python"));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    if let Some(p) = candidates.into_iter().find(|p| p.is_file()) {
        return Ok((p, PythonSource::Fallback));
    }
    which(Path::new("python3")).map(|p| (p, PythonSource::Fallback)).ok_or_else(|| {
        TargetError::NoPython(
            "no --python, no CHARMFUZZ_PYTHON, no venv/ in the charm, no project .venv, and no python3 on PATH"
                .into(),
        )
    })
}

fn which(name: &Path) -> Option<PathBuf> {
    if name.components().count() > 1 {
        return None;
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
