//! The charm's own Python: the environment `charmcraft pack` would give it.
//!
//! A packed charm carries a `venv/` built from what its repository declares: a lock file
//! (`uv.lock`, `poetry.lock`), a `requirements.txt`, or the `[project]` dependencies of its
//! `pyproject.toml`. A charm is fuzzed as it runs on a unit only with those packages at
//! those versions, the `ops` it pins above all: the framework decides which events exist,
//! what a hook tool call looks like and how `StoredState` is kept.
//!
//! `charmfuzz setup --charm DIR` builds that environment once and keeps it in a cache
//! keyed by the declaration's content (`$XDG_CACHE_HOME/charmfuzz/venvs/<name>-<key>`), so
//! a charm whose lock file changes gets a new one, and twin charms with one lock share it.
//! The target then finds it ([`crate::target::find_python`]). Lock files are read by the
//! tools that wrote them (`uv export`, `poetry export`), installed from PyPI into a tools
//! environment of their own, never parsed by hand; pip installs the exported pins.
//!
//! Two gaps of a source tree are named rather than papered over: an `ops` pinned by the
//! charm that the interpreter in use does not have ([`pinned_ops`]: the target refuses to
//! run it with another), and a charm library the charm imports that its repository does
//! not ship (`charmcraft fetch-lib` adds those at pack time; the worker reports them).

use std::path::{Path, PathBuf};
use std::process::Command;

/// How a charm declares its Python dependencies, in the order they are preferred: a lock
/// file pins every package, a requirements file usually does, `[project]` rarely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    UvLock,
    PoetryLock,
    Requirements,
    Pyproject,
}

impl Declared {
    pub fn file(self) -> &'static str {
        match self {
            Declared::UvLock => "uv.lock",
            Declared::PoetryLock => "poetry.lock",
            Declared::Requirements => "requirements.txt",
            Declared::Pyproject => "pyproject.toml",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "{0} declares no Python dependencies (no uv.lock, poetry.lock, requirements.txt, or [project] dependencies in pyproject.toml)"
    )]
    NothingDeclared(PathBuf),
    #[error("cannot run {what}: {source}")]
    Spawn {
        what: String,
        source: std::io::Error,
    },
    #[error("{what} failed:\n{output}")]
    Failed { what: String, output: String },
    #[error("the charm's dependencies cannot be installed together:\n{0}")]
    Conflict(String),
    #[error(
        "the charm's dependencies ({0}) do not include ops: add it (pinned) to what the charm declares"
    )]
    NoOps(&'static str),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What the charm in `dir` declares, if anything.
pub fn declared(dir: &Path) -> Option<Declared> {
    use Declared::*;
    [UvLock, PoetryLock, Requirements]
        .into_iter()
        .find(|d| dir.join(d.file()).is_file())
        .or_else(|| {
            project_dependencies(dir)
                .filter(|d| !d.is_empty())
                .map(|_| Pyproject)
        })
}

/// The `[project] dependencies` of the charm's `pyproject.toml`.
fn project_dependencies(dir: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("pyproject.toml")).ok()?;
    let doc: toml::Table = toml::from_str(&text).ok()?;
    let deps = doc.get("project")?.get("dependencies")?.as_array()?;
    Some(
        deps.iter()
            .filter_map(|d| d.as_str().map(str::to_string))
            .collect(),
    )
}

/// The `ops` version the charm pins exactly, and the file that pins it.
pub fn pinned_ops(dir: &Path) -> Option<(String, &'static str)> {
    let lock = |d: Declared| -> Option<(String, &'static str)> {
        let text = std::fs::read_to_string(dir.join(d.file())).ok()?;
        let doc: toml::Table = toml::from_str(&text).ok()?;
        doc.get("package")?.as_array()?.iter().find_map(|p| {
            (p.get("name")?.as_str()? == "ops")
                .then(|| Some((p.get("version")?.as_str()?.to_string(), d.file())))?
        })
    };
    let exact = |spec: &str| -> Option<String> {
        let spec = spec.split(['#', ';']).next()?.trim();
        let rest = spec.strip_prefix("ops")?;
        let rest = match rest.trim_start().strip_prefix('[') {
            Some(r) => r.split_once(']')?.1,
            None => rest,
        };
        let version = rest.trim_start().strip_prefix("==")?.trim();
        (!version.is_empty() && !version.contains(['*', ','])).then(|| version.to_string())
    };
    match declared(dir)? {
        d @ (Declared::UvLock | Declared::PoetryLock) => lock(d),
        Declared::Requirements => std::fs::read_to_string(dir.join("requirements.txt"))
            .ok()?
            .lines()
            .find_map(exact)
            .map(|v| (v, "requirements.txt")),
        Declared::Pyproject => project_dependencies(dir)?
            .iter()
            .find_map(|d| exact(d))
            .map(|v| (v, "pyproject.toml")),
    }
}

/// Where charmfuzz keeps what it builds: `$XDG_CACHE_HOME/charmfuzz`, else
/// `~/.cache/charmfuzz`.
pub fn cache_root() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("charmfuzz")
}

/// The environment `charmfuzz setup` builds for the charm in `dir`: named after what the
/// charm declares and a digest of it (with `pyproject.toml`, which a lock goes with).
pub fn venv_dir(dir: &Path) -> Option<PathBuf> {
    let d = declared(dir)?;
    let mut h = sha1_smol::Sha1::new();
    for f in [d.file(), "pyproject.toml"] {
        h.update(f.as_bytes());
        h.update(&std::fs::read(dir.join(f)).unwrap_or_default());
    }
    h.update(lib_pydeps_text(dir).as_bytes());
    h.update(format!("{:?}", PackOptions::read(dir)).as_bytes());
    let key = h.digest().to_string();
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "charm".into());
    Some(
        cache_root()
            .join("venvs")
            .join(format!("{name}-{}", &key[..12])),
    )
}

/// The `PYDEPS = [...]` assignments of the charm libraries under `lib/charms/`, as text,
/// in path order: part of what the charm declares (charmcraft installs them at pack time).
fn lib_pydeps_text(dir: &Path) -> String {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(d) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "py") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&dir.join("lib/charms"), &mut files);
    files.sort();
    let mut text = String::new();
    for f in files {
        let body = std::fs::read_to_string(&f).unwrap_or_default();
        let mut lines = body.lines().skip_while(|l| !l.starts_with("PYDEPS"));
        for l in lines.by_ref() {
            text.push_str(l);
            text.push('\n');
            if l.contains(']') {
                break;
            }
        }
    }
    text
}

/// Reads the charm libraries' `PYDEPS` with Python's own parser, and prints them as JSON.
const READ_PYDEPS: &str = r#"
import ast, json, pathlib, sys
deps = []
for f in sorted(pathlib.Path(sys.argv[1], "lib", "charms").rglob("*.py")):
    try:
        tree = ast.parse(f.read_text(encoding="utf-8", errors="replace"))
    except SyntaxError:
        continue
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PYDEPS" for t in node.targets)):
            try:
                deps += [d for d in ast.literal_eval(node.value) if d not in deps]
            except ValueError:
                pass
print(json.dumps(deps))
"#;

/// How the charm's `charmcraft.yaml` asks its Python part to be built: the options of
/// charmcraft's `poetry`, `uv` and `charm` plugins that change what is installed.
#[derive(Debug, Default, PartialEq)]
pub struct PackOptions {
    /// `poetry-export-extra-args`: in place of the default group selection.
    pub poetry_export_args: Option<Vec<String>>,
    /// `poetry-with`: groups exported with main.
    pub poetry_with: Vec<String>,
    /// `uv-groups` and `uv-extras`.
    pub uv_groups: Vec<String>,
    pub uv_extras: Vec<String>,
    /// `charm-python-packages` and `charm-binary-python-packages`.
    pub python_packages: Vec<String>,
}

impl PackOptions {
    /// Read from the charm's `charmcraft.yaml` (the defaults when it has no such part, or
    /// cannot be read: the spec reader reports a broken file).
    pub fn read(dir: &Path) -> PackOptions {
        use saphyr::{LoadableYamlNode, Yaml};
        let mut o = PackOptions::default();
        let Ok(text) = std::fs::read_to_string(dir.join("charmcraft.yaml")) else {
            return o;
        };
        let Ok(docs) = Yaml::load_from_str(&text) else {
            return o;
        };
        let Some(parts) = docs.first().and_then(|d| d.as_mapping_get("parts")) else {
            return o;
        };
        let strings = |v: Option<&Yaml>| -> Vec<String> {
            v.and_then(|v| v.as_sequence())
                .map(|s| {
                    s.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        for (_, part) in parts.as_mapping().into_iter().flatten() {
            if let Some(a) = part.as_mapping_get("poetry-export-extra-args") {
                o.poetry_export_args = Some(strings(Some(a)));
            }
            o.poetry_with
                .extend(strings(part.as_mapping_get("poetry-with")));
            o.uv_groups
                .extend(strings(part.as_mapping_get("uv-groups")));
            o.uv_extras
                .extend(strings(part.as_mapping_get("uv-extras")));
            for k in ["charm-python-packages", "charm-binary-python-packages"] {
                o.python_packages.extend(strings(part.as_mapping_get(k)));
            }
        }
        o
    }
}

/// Whether the charm's `pyproject.toml` has the Poetry dependency group `name`.
fn poetry_group_exists(dir: &Path, name: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("pyproject.toml")) else {
        return false;
    };
    let Ok(doc) = toml::from_str::<toml::Table>(&text) else {
        return false;
    };
    doc.get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.get("group"))
        .and_then(|g| g.get(name))
        .is_some()
}

/// The charm libraries' `PYDEPS`, read by `python` (none when it cannot read them).
fn lib_pydeps(python: &Path, dir: &Path) -> Vec<String> {
    Command::new(python)
        .args(["-c", READ_PYDEPS])
        .arg(dir)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice(&o.stdout).ok())
        .unwrap_or_default()
}

/// The interpreter of the charm's built environment, if `charmfuzz setup` built it.
pub fn built_python(dir: &Path) -> Option<PathBuf> {
    let v = venv_dir(dir)?;
    v.join(STAMP)
        .is_file()
        .then(|| v.join("bin/python"))
        .filter(|p| p.is_file())
}

/// Written last: an environment without it was not finished.
const STAMP: &str = ".charmfuzz-setup";

/// Build (or find built) the charm's environment with `python`; returns its interpreter.
/// `log` hears each step.
pub fn setup(
    dir: &Path,
    python: &Path,
    recreate: bool,
    mut log: impl FnMut(&str),
) -> Result<PathBuf, SetupError> {
    let declared = declared(dir).ok_or_else(|| SetupError::NothingDeclared(dir.into()))?;
    let venv = venv_dir(dir).expect("declared");
    if !recreate && let Some(p) = built_python(dir) {
        log(&format!(
            "{} is built already ({})",
            venv.display(),
            declared.file()
        ));
        return Ok(p);
    }
    let build = Build {
        dir,
        python,
        declared,
        pack: PackOptions::read(dir),
        requirements: venv.join("charm-requirements.txt"),
        venv,
    };
    build.create_venv(&mut log)?;
    build.write_requirements(&mut log)?;
    build.add_part_packages(&mut log)?;
    build.install_requirements(&mut log)?;
    let ops = build.installed_ops()?;
    build.add_testing(&ops, &mut log);
    build.stamp(&ops)?;
    log(&format!("built: ops {ops}"));
    Ok(build.venv.join("bin/python"))
}

/// One build of a charm's environment: what the charm declares, and where it goes.
struct Build<'a> {
    /// The charm.
    dir: &'a Path,
    /// The interpreter the environment is made with.
    python: &'a Path,
    declared: Declared,
    pack: PackOptions,
    venv: PathBuf,
    /// The pins pip installs, in the environment.
    requirements: PathBuf,
}

impl Build<'_> {
    /// The environment's pip.
    fn pip(&self) -> PathBuf {
        self.venv.join("bin/pip")
    }

    /// A fresh environment with an up-to-date pip.
    fn create_venv(&self, log: &mut impl FnMut(&str)) -> Result<(), SetupError> {
        let venv = &self.venv;
        // Built in place; the stamp, written last, says it is finished.
        if venv.exists() {
            std::fs::remove_dir_all(venv).map_err(io("cannot remove", venv))?;
        }
        std::fs::create_dir_all(venv.parent().expect("in the cache"))
            .map_err(io("cannot create", venv))?;
        log(&format!(
            "creating {} with {}",
            venv.display(),
            self.python.display()
        ));
        run(
            Command::new(self.python).arg("-m").arg("venv").arg(venv),
            "python -m venv",
        )?;
        run(
            Command::new(self.pip()).args([
                "install",
                "-q",
                "--disable-pip-version-check",
                "--upgrade",
                "pip",
            ]),
            "pip install --upgrade pip",
        )
    }

    /// The requirements file, as the charmcraft plugin for what the charm declares makes it.
    fn write_requirements(&self, log: &mut impl FnMut(&str)) -> Result<(), SetupError> {
        match self.declared {
            Declared::UvLock => self.export_uv_lock(log),
            Declared::PoetryLock => self.export_poetry_lock(log),
            Declared::Requirements | Declared::Pyproject => self.charm_plugin_requirements(log),
        }
    }

    /// `uv.lock`: the pins `uv export` writes.
    fn export_uv_lock(&self, log: &mut impl FnMut(&str)) -> Result<(), SetupError> {
        let (dir, pack) = (self.dir, &self.pack);
        let uv = tool(self.python, "uv", &["uv"], log)?;
        // As charmcraft's uv plugin: no dev group, plus the part's groups and extras.
        let mut args: Vec<String> = vec!["--no-dev".into()];
        for g in &pack.uv_groups {
            args.extend(["--group".into(), g.clone()]);
        }
        for e in &pack.uv_extras {
            args.extend(["--extra".into(), e.clone()]);
        }
        log(&format!(
            "exporting the pins of uv.lock (uv export {})",
            args.join(" ")
        ));
        run(
            Command::new(uv)
                .args(["export", "--frozen", "--no-hashes", "--no-emit-project"])
                .args(&args)
                .args(["--format", "requirements-txt", "--output-file"])
                .arg(&self.requirements)
                .arg("--project")
                .arg(dir),
            "uv export",
        )
    }

    /// `poetry.lock`: the pins `poetry export` writes.
    fn export_poetry_lock(&self, log: &mut impl FnMut(&str)) -> Result<(), SetupError> {
        let (dir, pack) = (self.dir, &self.pack);
        let poetry = tool(
            self.python,
            "poetry",
            &["poetry", "poetry-plugin-export"],
            log,
        )?;
        // As charmcraft's poetry plugin: the part's export arguments, or the main
        // group with the part's `poetry-with` groups. A `charm-libs` group is the
        // data-platform charms' convention for their libraries' dependencies, which
        // their builds export with main.
        let args: Vec<String> = match &pack.poetry_export_args {
            Some(a) => a.clone(),
            None => {
                let mut only = vec!["main".to_string()];
                if poetry_group_exists(dir, "charm-libs") {
                    only.push("charm-libs".into());
                }
                let mut a = vec!["--only".into(), only.join(",")];
                for g in &pack.poetry_with {
                    a.extend(["--with".into(), g.clone()]);
                }
                a
            }
        };
        log(&format!(
            "exporting the pins of poetry.lock (poetry export {})",
            args.join(" ")
        ));
        run(
            Command::new(poetry)
                .args(["export", "-f", "requirements.txt"])
                .args(&args)
                .args((!args.iter().any(|a| a == "--without-hashes")).then_some("--without-hashes"))
                .arg("-o")
                .arg(&self.requirements)
                .current_dir(dir),
            "poetry export",
        )
    }

    /// `requirements.txt` or `[project]` dependencies, with the charm libraries' `PYDEPS`.
    fn charm_plugin_requirements(&self, log: &mut impl FnMut(&str)) -> Result<(), SetupError> {
        let dir = self.dir;
        // charmcraft's charm plugin installs the requirements together with the charm
        // libraries' own dependencies (`PYDEPS`), in one resolution: a library that
        // needs pydantic names it there, not the charm. (Its uv and poetry plugins
        // install the lock file alone, as above.)
        let mut lines = match self.declared {
            Declared::Requirements => vec![format!(
                "-r {}",
                std::path::absolute(dir.join("requirements.txt"))
                    .unwrap_or_else(|_| dir.join("requirements.txt"))
                    .display()
            )],
            _ => project_dependencies(dir).unwrap_or_default(),
        };
        let pydeps = lib_pydeps(&self.venv.join("bin/python"), dir);
        if !pydeps.is_empty() {
            log(&format!(
                "adding the charm libraries' PYDEPS: {}",
                pydeps.join(", ")
            ));
        }
        lines.extend(pydeps);
        std::fs::write(&self.requirements, lines.join("\n") + "\n")
            .map_err(io("cannot write", &self.requirements))
    }

    /// The Python packages the charm's part names, added to the requirements.
    fn add_part_packages(&self, log: &mut impl FnMut(&str)) -> Result<(), SetupError> {
        let (pack, requirements) = (&self.pack, &self.requirements);
        if !pack.python_packages.is_empty() {
            // charm-python-packages and charm-binary-python-packages of the charm's part.
            log(&format!(
                "adding the part's Python packages: {}",
                pack.python_packages.join(", ")
            ));
            let mut text = std::fs::read_to_string(requirements).unwrap_or_default();
            for p in &pack.python_packages {
                text.push_str(p);
                text.push('\n');
            }
            std::fs::write(requirements, text).map_err(io("cannot write", requirements))?;
        }
        Ok(())
    }

    /// pip installs the requirements; a failure keeps pip's own words for what conflicts.
    fn install_requirements(&self, log: &mut impl FnMut(&str)) -> Result<(), SetupError> {
        let declared = self.declared;
        log(&format!(
            "installing the charm's dependencies ({})",
            declared.file()
        ));
        // From the charm's directory: a requirements file may include others by relative path.
        let out = Command::new(self.pip())
            .args(["install", "--disable-pip-version-check", "-r"])
            .arg(&self.requirements)
            .current_dir(self.dir)
            .output()
            .map_err(|source| SetupError::Spawn {
                what: "pip install".into(),
                source,
            })?;
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            // pip says what conflicts with what; keep its words, not its progress lines.
            let conflict: Vec<&str> = text
                .lines()
                .skip_while(|l| !l.contains("conflict") && !l.starts_with("ERROR"))
                .filter(|l| !l.trim().is_empty())
                .take(20)
                .collect();
            return Err(if text.contains("conflict") {
                SetupError::Conflict(conflict.join("\n"))
            } else {
                SetupError::Failed {
                    what: format!("pip install -r (the charm's {})", declared.file()),
                    output: conflict.join("\n"),
                }
            });
        }
        Ok(())
    }

    /// The version of `ops` the environment now has (an error when it has none).
    fn installed_ops(&self) -> Result<String, SetupError> {
        let venv_python = self.venv.join("bin/python");
        Command::new(&venv_python)
            .args(["-c", "import ops; print(ops.__version__)"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .ok_or(SetupError::NoOps(self.declared.file()))
    }

    /// `ops[testing]` and pytest, for the reproducers; a failure is only a warning.
    fn add_testing(&self, ops: &str, log: &mut impl FnMut(&str)) {
        // The reproducers are ops.testing tests: the testing extra of the same ops, and pytest.
        log(&format!(
            "adding ops[testing]=={ops} and pytest, for the reproducers"
        ));
        if let Err(e) = run(
            Command::new(self.pip())
                .args(["install", "-q", "--disable-pip-version-check"])
                .arg(format!("ops[testing]=={ops}"))
                .arg("pytest"),
            "pip install ops[testing]",
        ) {
            log(&format!(
                "warning: the reproducers will not run in this environment: {e}"
            ));
        }
    }

    /// The stamp that says the environment is finished.
    fn stamp(&self, ops: &str) -> Result<(), SetupError> {
        std::fs::write(
            self.venv.join(STAMP),
            format!("{}\nops {ops}\n", self.declared.file()),
        )
        .map_err(io("cannot write", &self.venv))
    }
}

/// A tool (uv, poetry) from PyPI in charmfuzz's own tools environment, installed once.
fn tool(
    python: &Path,
    name: &str,
    packages: &[&str],
    log: &mut impl FnMut(&str),
) -> Result<PathBuf, SetupError> {
    let env = cache_root().join("tools").join(name);
    let bin = env.join("bin").join(name);
    if bin.is_file() {
        return Ok(bin);
    }
    log(&format!(
        "installing {} from PyPI into {}",
        packages.join(" "),
        env.display()
    ));
    run(
        Command::new(python).arg("-m").arg("venv").arg(&env),
        "python -m venv",
    )?;
    run(
        Command::new(env.join("bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check"])
            .args(packages),
        &format!("pip install {}", packages.join(" ")),
    )?;
    Ok(bin)
}

fn run(cmd: &mut Command, what: &str) -> Result<(), SetupError> {
    let out = cmd.output().map_err(|source| SetupError::Spawn {
        what: what.into(),
        source,
    })?;
    if out.status.success() {
        return Ok(());
    }
    let mut output = String::from_utf8_lossy(&out.stderr).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stdout));
    let lines: Vec<&str> = output.lines().rev().take(20).collect();
    Err(SetupError::Failed {
        what: what.into(),
        output: lines.into_iter().rev().collect::<Vec<_>>().join("\n"),
    })
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SetupError + 'a {
    move |source| SetupError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_charm_part_of_charmcraft_yaml_says_what_is_installed() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(PackOptions::read(d.path()), PackOptions::default());
        std::fs::write(
            d.path().join("charmcraft.yaml"),
            "type: charm\nparts:\n  files:\n    plugin: dump\n    source: .\n  charm-poetry:\n    \
             plugin: poetry\n    poetry-export-extra-args: [--only, 'main,charm-libs']\n    \
             poetry-with: [tracing]\n    charm-binary-python-packages: [psycopg2-binary]\n  \
             charm:\n    plugin: uv\n    uv-groups: [charm]\n    uv-extras: [otel]\n",
        )
        .unwrap();
        let o = PackOptions::read(d.path());
        assert_eq!(
            o.poetry_export_args,
            Some(vec!["--only".into(), "main,charm-libs".into()])
        );
        assert_eq!(o.poetry_with, ["tracing"]);
        assert_eq!(o.uv_groups, ["charm"]);
        assert_eq!(o.uv_extras, ["otel"]);
        assert_eq!(o.python_packages, ["psycopg2-binary"]);
        // A group of the charm's pyproject, by name.
        std::fs::write(
            d.path().join("pyproject.toml"),
            "[tool.poetry.group.charm-libs.dependencies]\ncosl = \"*\"\n",
        )
        .unwrap();
        assert!(poetry_group_exists(d.path(), "charm-libs"));
        assert!(!poetry_group_exists(d.path(), "lint"));
    }

    use super::*;

    fn charm(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(d.path().join(name), text).unwrap();
        }
        d
    }

    #[test]
    fn the_pinned_ops_is_read_from_what_the_charm_declares() {
        let req = charm(&[(
            "requirements.txt",
            "# pins\nops[testing] == 3.5.0 ; python_version >= '3.10'\nfoo\n",
        )]);
        assert_eq!(
            pinned_ops(req.path()),
            Some(("3.5.0".into(), "requirements.txt"))
        );
        let loose = charm(&[("requirements.txt", "ops>=2\nopsy==1.0\n")]);
        assert_eq!(pinned_ops(loose.path()), None);
        let project = charm(&[(
            "pyproject.toml",
            "[project]\nname='x'\ndependencies=['ops==3.1.0']\n",
        )]);
        assert_eq!(declared(project.path()), Some(Declared::Pyproject));
        assert_eq!(
            pinned_ops(project.path()),
            Some(("3.1.0".into(), "pyproject.toml"))
        );
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/charms");
        for (dir, file) in [("uv-locked", "uv.lock"), ("poetry-locked", "poetry.lock")] {
            assert_eq!(
                pinned_ops(&fixtures.join(dir)),
                Some(("3.5.0".into(), file))
            );
        }
        assert_eq!(declared(charm(&[]).path()), None);
    }

    #[test]
    fn the_environment_is_keyed_by_what_the_charm_declares() {
        let a = charm(&[("requirements.txt", "ops==3.9.0\n")]);
        let b = charm(&[("requirements.txt", "ops==3.9.0\n")]);
        let c = charm(&[("requirements.txt", "ops==3.8.0\n")]);
        let key = |d: &tempfile::TempDir| {
            let v = venv_dir(d.path()).unwrap();
            v.file_name()
                .unwrap()
                .to_string_lossy()
                .rsplit('-')
                .next()
                .unwrap()
                .to_string()
        };
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&c));
    }
}
