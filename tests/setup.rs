//! `charmfuzz setup`: the charm's own Python, built from what its repository declares.
//!
//! The fixture charms pin `ops` 3.5.0 (older than this project's environment): two import
//! `tenacity`, one through `uv.lock`, one through `poetry.lock`; the third declares
//! `requirements.txt` and uses a charm library whose own dependency is in its `PYDEPS`. Without setup the
//! target refuses to fuzz them with another `ops`; after it, the charm runs on the `ops`
//! it pinned. The packages come from PyPI, as they do for a user.

use std::path::Path;
use std::process::{Command, Output};

fn charmfuzz(cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_charmfuzz"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        // A cache of the test's own, and no interpreter named from outside: the target
        // must find the environment setup built on its own.
        .env("XDG_CACHE_HOME", cache)
        .env_remove("CHARMFUZZ_PYTHON")
        .env_remove("CHARMFUZZ_VENV")
        .output()
        .expect("charmfuzz runs")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn setup_builds_the_environment_each_lock_file_pins_and_the_target_uses_it() {
    let cache = tempfile::tempdir().unwrap();
    for (charm, lock) in [
        ("tests/fixtures/charms/uv-locked", "uv.lock"),
        ("tests/fixtures/charms/poetry-locked", "poetry.lock"),
        (
            "tests/fixtures/charms/requirements-pydeps",
            "requirements.txt",
        ),
    ] {
        // Before: the project's interpreter has another ops, and the target says so,
        // with the command that fixes it, rather than fuzz the charm on the wrong ops.
        let before = charmfuzz(cache.path(), &["run", "--charm", charm, "--seed", "1"]);
        let t = text(&before);
        assert!(!before.status.success(), "{t}");
        assert!(
            t.contains(&format!("the charm pins ops 3.5.0 (in {lock})")),
            "{t}"
        );
        assert!(
            t.contains(&format!("charmfuzz setup --charm {charm}")),
            "{t}"
        );

        let setup = charmfuzz(cache.path(), &["setup", "--charm", charm]);
        let t = text(&setup);
        assert!(setup.status.success(), "{t}");
        assert!(t.contains("built: ops 3.5.0"), "{t}");
        if lock == "requirements.txt" {
            // Its charm library's own dependency, as charmcraft's charm plugin installs it.
            assert!(t.contains("the charm libraries' PYDEPS: six"), "{t}");
        }
        let python = String::from_utf8_lossy(&setup.stdout)
            .lines()
            .last()
            .expect("the interpreter's path, last")
            .to_string();
        assert!(
            python.starts_with(&cache.path().join("charmfuzz/venvs").display().to_string())
                && Path::new(&python).is_file(),
            "{python}"
        );

        // After: the charm's own ops and its tenacity, found without naming them.
        let run = charmfuzz(cache.path(), &["run", "--charm", charm, "--seed", "1"]);
        let t = text(&run);
        assert!(run.status.success(), "{t}");
        assert!(t.lines().next().unwrap_or("").contains("ops 3.5.0"), "{t}");
        assert!(t.contains("status (unit): active \"ops 3.5.0\""), "{t}");
        assert!(!t.contains("ModuleNotFoundError"), "{t}");

        // A second setup finds the environment built, keyed by the lock file.
        let again = charmfuzz(cache.path(), &["setup", "--charm", charm]);
        let t = text(&again);
        assert!(again.status.success(), "{t}");
        assert!(t.contains("is built already"), "{t}");
        assert_eq!(
            String::from_utf8_lossy(&again.stdout).lines().last(),
            Some(python.as_str())
        );
    }
}

#[test]
fn setup_names_a_charm_that_declares_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let charm = tempfile::tempdir().unwrap();
    std::fs::write(charm.path().join("metadata.yaml"), "name: bare\n").unwrap();
    let o = charmfuzz(
        cache.path(),
        &["setup", "--charm", &charm.path().display().to_string()],
    );
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("declares no Python dependencies"), "{t}");
    assert!(
        !cache.path().join("charmfuzz/venvs").exists(),
        "nothing is built for it"
    );
}

#[test]
fn a_charm_library_the_repository_does_not_ship_is_named_with_the_command_that_adds_it() {
    // A source tree whose charm imports a library that `charmcraft fetch-lib` would add at
    // pack time: the charm never ran on a unit like this, so it is not fuzzed like this.
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let charm = work.path().join("charm");
    let cp = Command::new("cp")
        .arg("-r")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/charms/demo-machine-clean"))
        .arg(&charm)
        .status()
        .unwrap();
    assert!(cp.success());
    let src = charm.join("src/charm.py");
    let code = std::fs::read_to_string(&src).unwrap();
    std::fs::write(
        &src,
        format!(
            "from charms.data_platform_libs.v0.data_interfaces import DatabaseRequires\n{code}"
        ),
    )
    .unwrap();
    let dir = charm.display().to_string();
    let o = charmfuzz(cache.path(), &["run", "--charm", &dir, "--seed", "1"]);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("imports charms.data_platform_libs.v0.data_interfaces, which its repository does not ship"),
        "{t}"
    );
    assert!(
        t.contains("charmcraft fetch-lib charms.data_platform_libs.v0.data_interfaces"),
        "{t}"
    );
    assert!(
        t.contains("lib/charms/data_platform_libs/v0/data_interfaces.py"),
        "{t}"
    );
}
