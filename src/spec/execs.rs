//! The commands a charm runs in its workload containers, read from its code.
//!
//! A sidecar charm talks to its workload by running the workload's programs through Pebble
//! (`container.exec(["app", "--version"])`). charmfuzz has no workload image, so the
//! charm's `charmfuzz.toml` says what each of those programs prints (`[[target.exec]]`);
//! a command it does not script gets the `exec-default` answer and is noted when it runs.
//! To show a charm author what to script before the first run, `charmfuzz spec` lists
//! every `.exec(...)` call in the charm's `src/` and `lib/` with the command's words as far
//! as the code spells them out.
//!
//! Python is read with Python's own parser (`python/charmfuzz_execs.py`, run with the
//! interpreter given), so every syntax the charm uses is understood.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The reader, run as `python -c`.
const EXECS_PY: &str = include_str!("../../python/charmfuzz_execs.py");

/// One `.exec(...)` call in the charm's code.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExecSite {
    /// Relative to the charm's directory.
    pub file: String,
    pub line: u32,
    /// The command's leading words that are literal in the code.
    pub command: Vec<String>,
    /// Whether that is the whole command (else later words are computed at run time).
    pub complete: bool,
}

/// What the charm's code showed: its exec calls, and the files Python could not parse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecScan {
    pub sites: Vec<ExecSite>,
    /// `(file, error)`.
    pub unreadable: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecScanError {
    #[error("cannot run {python} to read the charm's code: {source}")]
    Spawn {
        python: PathBuf,
        source: std::io::Error,
    },
    #[error("{python} failed reading the charm's code: {stderr}")]
    Failed { python: PathBuf, stderr: String },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Line {
    Site(ExecSite),
    Unreadable { file: String, error: String },
}

/// The exec calls in `dir`'s `src/` and `lib/`, read by `python`.
pub fn scan(dir: &Path, python: &Path) -> Result<ExecScan, ExecScanError> {
    let out = Command::new(python)
        .arg("-c")
        .arg(EXECS_PY)
        .arg(dir)
        .output()
        .map_err(|source| ExecScanError::Spawn {
            python: python.to_path_buf(),
            source,
        })?;
    if !out.status.success() {
        return Err(ExecScanError::Failed {
            python: python.to_path_buf(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let mut scan = ExecScan::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        match serde_json::from_str::<Line>(line) {
            Ok(Line::Site(s)) => scan.sites.push(s),
            Ok(Line::Unreadable { file, error }) => scan.unreadable.push((file, error)),
            Err(e) => {
                return Err(ExecScanError::Failed {
                    python: python.to_path_buf(),
                    stderr: format!("unexpected output {line:?}: {e}"),
                });
            }
        }
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exec_calls_with_their_literal_words_and_skips_the_builtin() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::create_dir_all(dir.path().join("lib/charms/x/v0")).unwrap();
        std::fs::write(
            dir.path().join("src/charm.py"),
            r#"
import shlex
def f(container, name, client):
    container.exec(["app", "--version"]).wait_output()
    container.exec(command=("app", "status", name))
    client.exec("tool -q run".split())
    exec("print(1)")
    container.exec(shlex.split("sh -c 'echo hi'"))
    container.exec(make_command())
"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("lib/charms/x/v0/lib.py"),
            "def g(c):\n    return c.exec(['/usr/bin/promtool', 'check', 'config'])\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("src/broken.py"), "def (:\n").unwrap();
        let scan = scan(dir.path(), Path::new("python3")).unwrap();
        let got: Vec<(String, u32, Vec<&str>, bool)> = scan
            .sites
            .iter()
            .map(|s| {
                let words = s.command.iter().map(String::as_str).collect();
                (s.file.clone(), s.line, words, s.complete)
            })
            .collect();
        let want = |f: &str, l, w: &[&'static str], c| (f.to_string(), l, w.to_vec(), c);
        assert_eq!(
            got,
            [
                want("src/charm.py", 4, &["app", "--version"], true),
                want("src/charm.py", 5, &["app", "status"], false),
                want("src/charm.py", 6, &["tool", "-q", "run"], true),
                want("src/charm.py", 8, &["sh", "-c", "echo hi"], true),
                want("src/charm.py", 9, &[], false),
                want(
                    "lib/charms/x/v0/lib.py",
                    2,
                    &["/usr/bin/promtool", "check", "config"],
                    true
                ),
            ]
        );
        assert_eq!(scan.unreadable.len(), 1);
        assert_eq!(scan.unreadable[0].0, "src/broken.py");
        let e = super::scan(dir.path(), Path::new("/nonexistent/python")).unwrap_err();
        assert!(
            e.to_string().contains("cannot run /nonexistent/python"),
            "{e}"
        );
    }
}
