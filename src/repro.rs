//! Reproducers: a finding as a pytest file that uses `ops.testing`.
//!
//! A charm author cannot commit a fuzzer run, but they can commit a unit test. `ops.testing`
//! (formerly Scenario) runs one hook of a charm on a `State`, the unit's whole world as the
//! charm sees it: config, leadership, relations with their databags, containers with their
//! Pebble layers and files, storage, secrets, and the charm's own unit state (StoredState
//! and the deferred events ops will re-emit first). So a finding becomes one test: the
//! `State` just before the hook that failed, then `ctx.run` of that hook, which raises the
//! same exception at the same line while the bug is there and passes once it is fixed.
//!
//! The state is not guessed from the trace: charmfuzz replays the finding up to the failing
//! hook and reads the unit there, as the hook tools would have answered it
//! ([`crate::target::hooktools::HookContext::scene`]), Pebble's plans and files, and ops'
//! SQLite unit state (read by the worker, so StoredState values are Python literals). This
//! module is pure: it turns that [`Scene`] into Python source.
//!
//! What `ops.testing` cannot express is written into the file as a note ([`Scene::gaps`])
//! rather than silently left out.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A databag: key → value, both strings.
pub type Databag = BTreeMap<String, String>;

/// The unit just before the failing hook, and that hook: everything a reproducer needs.
#[derive(Debug, Clone, Default)]
pub struct Scene {
    /// The hook about to run (`web-pebble-ready`).
    pub hook: String,
    pub app: String,
    /// The unit's number (`demo/0` → 0).
    pub unit_id: u32,
    pub kubernetes: bool,
    pub leader: bool,
    /// Config as the charm reads it (`config-get`), defaults included.
    pub config: BTreeMap<String, Value>,
    pub relations: Vec<RelationScene>,
    /// Attached storage: (name, index).
    pub storages: Vec<(String, u32)>,
    pub containers: Vec<ContainerScene>,
    pub secrets: Vec<SecretScene>,
    pub unit_state: UnitState,
    pub unit_status: (String, String),
    pub app_status: (String, String),
    pub workload_version: String,
    /// Opened ports: (protocol, port; `None` for ICMP).
    pub opened_ports: Vec<(String, Option<u16>)>,
    /// The host, for machine charms: the programs charmfuzz shims, and the writable paths
    /// with the files the charm had written there.
    pub host: HostScene,
    pub event: EventScene,
    /// What the run did that `ops.testing` cannot express; written into the file.
    pub gaps: Vec<String>,
}

/// One relation the unit is in.
#[derive(Debug, Clone, Default)]
pub struct RelationScene {
    pub id: u32,
    pub endpoint: String,
    pub peer: bool,
    pub remote_app: String,
    pub remote_app_data: Databag,
    /// Remote units in `relation-list` (peers: the other units), by unit number.
    pub remote_units_data: BTreeMap<u32, Databag>,
    pub local_app_data: Databag,
    pub local_unit_data: Databag,
}

/// A workload container and its Pebble.
#[derive(Debug, Clone, Default)]
pub struct ContainerScene {
    pub name: String,
    pub can_connect: bool,
    /// Layers by label, as YAML.
    pub layers: Vec<(String, String)>,
    /// Service → `active` / `inactive` / `error`.
    pub service_statuses: BTreeMap<String, String>,
    pub checks: Vec<CheckScene>,
    /// Custom notices Pebble has recorded.
    pub notices: Vec<NoticeScene>,
    /// Files the charm (or charmfuzz) put in the container: path → content.
    pub files: BTreeMap<String, Vec<u8>>,
    /// What the workload's programs answered the hook (`testing.Exec`), once per command.
    pub execs: Vec<ExecScene>,
}

/// One workload command the hook ran and what it answered: its `[[target.exec]]` answer,
/// or the unscripted default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecScene {
    pub command: Vec<String>,
    pub return_code: i32,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Clone, Default)]
pub struct CheckScene {
    pub name: String,
    /// `alive`, `ready` or empty.
    pub level: String,
    /// `enabled` / `disabled`.
    pub startup: String,
    /// `up` / `down` / `inactive`.
    pub status: String,
    pub failures: u32,
    pub threshold: u32,
}

#[derive(Debug, Clone, Default)]
pub struct NoticeScene {
    pub id: String,
    pub key: String,
}

/// A secret the unit owns or consumes.
#[derive(Debug, Clone, Default)]
pub struct SecretScene {
    pub id: String,
    /// `unit`, `app`, or `None` for a secret the unit consumes.
    pub owner: Option<String>,
    pub label: Option<String>,
    pub tracked_content: Databag,
    pub latest_content: Databag,
}

/// ops' unit state, as the worker read it from `.unit-state.db`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UnitState {
    pub stored: Vec<StoredScene>,
    pub deferred: Vec<DeferredScene>,
}

/// One StoredState: its owner's handle path, its attribute name, and its content as a
/// Python literal.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StoredScene {
    pub owner_path: String,
    pub name: String,
    pub content: String,
}

/// One deferred notice: the event's handle, the observer that deferred it, the event's
/// snapshot as a Python literal.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeferredScene {
    pub handle_path: String,
    pub owner: String,
    pub observer: String,
    pub snapshot: String,
}

/// The machine the charm runs on, as far as charmfuzz gave it one.
#[derive(Debug, Clone, Default)]
pub struct HostScene {
    /// Shimmed programs: name → (exit code, stdout).
    pub shims: BTreeMap<String, (i32, String)>,
    /// Absolute paths charmfuzz made writable for the charm.
    pub writable: Vec<String>,
    /// Files under those paths before the hook: absolute path → content.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// The hook that failed, as an `ops.testing` event.
#[derive(Debug, Clone, Default)]
pub enum EventScene {
    /// A hook with no arguments: `install`, `config_changed`, `leader_elected`, …
    Simple(String),
    Relation {
        /// `relation_created`, `relation_joined`, …
        method: String,
        relation_id: u32,
        remote_unit: Option<u32>,
        departing_unit: Option<u32>,
    },
    Storage {
        method: String,
        name: String,
        index: u32,
    },
    Workload {
        /// `pebble_ready`, `pebble_custom_notice`, `pebble_check_failed`, …
        method: String,
        container: String,
        check: Option<String>,
        notice_id: Option<String>,
    },
    Secret {
        method: String,
        id: String,
        revision: Option<u32>,
    },
    Action {
        name: String,
        params: serde_json::Map<String, Value>,
    },
    #[default]
    Unsupported,
}

/// What was found, and how: the text around the test.
#[derive(Debug, Clone, Default)]
pub struct Finding {
    pub title: String,
    pub signature: String,
    /// The hook that failed (`web-pebble-ready`, `backup-action`).
    pub hook: String,
    /// The exception as Python prints its type (`KeyError`, `ops.model.ModelError`).
    pub exception: Option<String>,
    /// The innermost frame in the charm's code: (file, line, function).
    pub charm_frame: Option<(String, u32, String)>,
    /// The story, as printed by charmfuzz.
    pub story: String,
    /// The command that reproduces it with charmfuzz.
    pub command: String,
}

/// Where and what the charm is, for the imports.
#[derive(Debug, Clone, Default)]
pub struct CharmImport {
    /// The charm directory the test uses unless `CHARMFUZZ_CHARM_DIR` says otherwise:
    /// relative to the test file's directory when the file is inside the charm, absolute
    /// otherwise.
    pub dir: CharmDir,
    /// The module of the charm's entry point (`charm` for `src/charm.py`) and the
    /// directories to put on `sys.path` (`src`, `lib`), relative to the charm.
    pub module: String,
    pub path: Vec<String>,
    /// The charm class `ops.main` runs, when the entry point names it.
    pub class: Option<String>,
}

#[derive(Debug, Clone)]
pub enum CharmDir {
    /// This many directories above the test file's own (`parents[n]` in Python: 0 when
    /// the test sits in the charm's root).
    Up(usize),
    Absolute(String),
}

impl Default for CharmDir {
    fn default() -> Self {
        CharmDir::Absolute(".".into())
    }
}

/// The environment variable that points a reproducer at another copy of the charm (the
/// fixed one, say), as CI does for the demo charms.
pub const CHARM_DIR_VAR: &str = "CHARMFUZZ_CHARM_DIR";

/// Write the pytest file for `finding`. `scenes` are the unit before each hook of the
/// story to replay, the failing hook last: one scene for a test of the failing hook alone,
/// the whole story for a chain of `ctx.run` calls.
pub fn write_pytest(scenes: &[Scene], finding: &Finding, charm: &CharmImport) -> String {
    let scene = scenes.last().expect("at least the failing hook's scene");
    let chain = scenes.len() > 1;
    let mut out = String::new();
    header(&mut out, scenes, finding);
    imports(&mut out, scenes, charm);
    let class = charm.class.as_deref().unwrap_or("CHARM_CLASS");
    if !scene.kubernetes {
        host_fixture(&mut out, scene, class);
    }
    if scenes
        .iter()
        .any(|s| s.containers.iter().any(|c| !c.files.is_empty()))
    {
        mounts_helper(&mut out);
    }
    run_helpers(&mut out, chain);
    test_function(&mut out, scenes, finding, charm);
    out
}

fn header(out: &mut String, scenes: &[Scene], f: &Finding) {
    let chain = scenes.len() > 1;
    let _ = writeln!(out, "\"\"\"Reproducer: {}.", docstring_text(&f.title));
    out.push('\n');
    if chain {
        out.push_str(
            "Written by charmfuzz from a finding. The test replays the story with ops.testing,\n\
             hook by hook: before each hook the unit's world is set as it was in the run that\n\
             found the bug, while the charm's own memory (StoredState, deferred events) comes\n\
             from the hook before. It replays the whole story rather than the failing hook\n\
             alone because events the charm deferred were waiting then, and a fixed charm may\n\
             not defer them. While the bug is there it fails",
        );
    } else {
        out.push_str(
            "Written by charmfuzz from a finding. The test builds the unit's State just before\n\
             the hook that failed and runs that hook with ops.testing: while the bug is there it\n\
             fails",
        );
    }
    match (&f.exception, &f.charm_frame) {
        (Some(e), Some((file, line, func))) if func != "<module>" => {
            let _ = write!(out, " with {e} at {file}:{line} in {func}");
        }
        (Some(e), _) => {
            let _ = write!(out, " with {e}");
        }
        _ => {}
    }
    out.push_str(";\nonce it is fixed the test passes. Keep it as a regression test.\n\n");
    let _ = writeln!(out, "Signature: {}", docstring_text(&f.signature));
    let _ = writeln!(out, "Found with: {}", docstring_text(&f.command));
    let _ = writeln!(
        out,
        "Run it: python -m pytest {{this file}} (set {CHARM_DIR_VAR} to test another copy\nof the charm)."
    );
    let unit_less: Vec<String> = scenes.iter().filter_map(unit_less_gap).collect();
    let mut gaps: Vec<&String> = scenes
        .iter()
        .flat_map(|s| &s.gaps)
        .chain(&unit_less)
        .collect();
    gaps.sort();
    gaps.dedup();
    if !gaps.is_empty() {
        out.push_str("\nWhat ops.testing cannot express, so this test leaves out:\n");
        for g in gaps {
            let _ = writeln!(out, "- {}", docstring_text(g));
        }
    }
    out.push_str("\nThe story charmfuzz found (the last hook is the one that failed):\n\n");
    for line in f.story.lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "    {}", docstring_text(line));
        }
    }
    out.push_str("\"\"\"\n\n");
}

/// Text that is safe inside a `"""` docstring.
fn docstring_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace("\"\"\"", "\\\"\\\"\\\"")
}

fn imports(out: &mut String, scenes: &[Scene], charm: &CharmImport) {
    let scene = scenes.last().expect("a scene");
    out.push_str("from __future__ import annotations\n\n");
    let mut std = vec!["os", "sys", "pathlib"];
    if scenes.len() > 1 {
        std.push("dataclasses");
    }
    if !scene.kubernetes {
        std.push("stat");
    }
    if charm.class.is_none() {
        std.push("importlib");
    }
    std.sort();
    for m in std {
        let _ = writeln!(out, "import {m}");
    }
    out.push('\n');
    if charm.class.is_none() {
        out.push_str("import ops\n");
    }
    if !scene.kubernetes {
        out.push_str("import pytest\n");
    }
    let uses_pebble = scenes
        .iter()
        .flat_map(|s| &s.containers)
        .any(|c| !c.layers.is_empty() || !c.service_statuses.is_empty() || !c.checks.is_empty());
    if uses_pebble {
        out.push_str("from ops import pebble, testing\n\n");
    } else {
        out.push_str("from ops import testing\n\n");
    }
    let dir = match &charm.dir {
        CharmDir::Up(n) => format!("pathlib.Path(__file__).resolve().parents[{n}]"),
        CharmDir::Absolute(p) => format!("pathlib.Path({})", py_str(p)),
    };
    let _ = writeln!(
        out,
        "# The charm under test; {CHARM_DIR_VAR} points the test at another copy of it."
    );
    let _ = writeln!(
        out,
        "CHARM_DIR = pathlib.Path(os.environ.get({}, {dir})).resolve()",
        py_str(CHARM_DIR_VAR)
    );
    let _ = writeln!(out, "for _path in {}:", py_list_str(&charm.path));
    out.push_str("    sys.path.insert(0, str(CHARM_DIR / _path))\n\n");
    match &charm.class {
        Some(class) => {
            let _ = writeln!(out, "from {} import {class}  # noqa: E402\n", charm.module);
        }
        None => {
            let _ = writeln!(
                out,
                "# The entry point does not name its charm class: take the CharmBase subclass\n\
                 # defined in the module.\n\
                 _module = importlib.import_module({})\n\
                 CHARM_CLASS = next(\n    \
                 v\n    \
                 for v in vars(_module).values()\n    \
                 if isinstance(v, type) and issubclass(v, ops.CharmBase) and v.__module__ == _module.__name__\n\
                 )\n",
                py_str(&charm.module)
            );
        }
    }
    out.push('\n');
}

fn host_fixture(out: &mut String, scene: &Scene, class: &str) {
    let h = &scene.host;
    out.push_str(
        "@pytest.fixture\n\
         def host(tmp_path, monkeypatch):\n    \
         \"\"\"The machine as charmfuzz gave it to the charm.\n\n    \
         Package and service managers are shims that answer as charmfuzz's did (put first on\n    \
         PATH). The paths charmfuzz made writable live under tmp_path instead: module-level\n    \
         constants of the charm that point into them are redirected there, with the files\n    \
         the charm had written before the failing hook.\n    \
         \"\"\"\n",
    );
    out.push_str("    bin_dir = tmp_path / \"bin\"\n    bin_dir.mkdir()\n");
    let shims: Vec<String> = h
        .shims
        .iter()
        .map(|(name, (code, stdout))| format!("{}: ({code}, {})", py_str(name), py_str(stdout)))
        .collect();
    let _ = writeln!(out, "    shims = {{{}}}", shims.join(", "));
    out.push_str(
        "    for name, (code, stdout) in shims.items():\n        \
         script = bin_dir / name\n        \
         script.write_text(\n            \
         f\"#!{sys.executable}\\nimport sys\\nsys.stdout.write({stdout!r})\\nsys.exit({code})\\n\"\n        \
         )\n        \
         script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)\n    \
         monkeypatch.setenv(\"PATH\", f\"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}\")\n",
    );
    let _ = writeln!(out, "    writable = {}", py_list_str(&h.writable));
    let files: Vec<String> = h
        .files
        .iter()
        .map(|(p, c)| format!("{}: {}", py_str(p), py_bytes(c)))
        .collect();
    let _ = writeln!(out, "    files = {{{}}}", files.join(", "));
    let _ = writeln!(out, "    module = sys.modules[{class}.__module__]");
    out.push_str(
        "    moved = {w: tmp_path / \"host\" / w.lstrip(\"/\") for w in writable}\n    \
         for new in moved.values():\n        \
         new.mkdir(parents=True, exist_ok=True)\n    \
         for path, content in files.items():\n        \
         for w, new in moved.items():\n            \
         if path.startswith(w.rstrip(\"/\") + \"/\"):\n                \
         target = new / os.path.relpath(path, w)\n                \
         target.parent.mkdir(parents=True, exist_ok=True)\n                \
         target.write_bytes(content)\n    \
         for name, value in list(vars(module).items()):\n        \
         if name.startswith(\"__\") or not isinstance(value, (str, pathlib.PurePath)):\n            \
         continue\n        \
         for w, new in moved.items():\n            \
         text = str(value)\n            \
         if text == w or text.startswith(w.rstrip(\"/\") + \"/\"):\n                \
         monkeypatch.setattr(module, name, type(value)(str(new / os.path.relpath(text, w))))\n    \
         return shims\n\n\n",
    );
}

/// The helper that fills a container's filesystem: ops.testing gives each container a root
/// directory of its own, and files go in through mounts, one per top-level directory.
fn mounts_helper(out: &mut String) {
    out.push_str(
        "def _mounts(root: pathlib.Path, files: dict[str, bytes]) -> dict[str, testing.Mount]:\n    \
         \"\"\"Mounts that give a container these files (path -> content; a path ending in\n    \
         / is an empty directory).\"\"\"\n    \
         mounts = {}\n    \
         for path, content in files.items():\n        \
         top = path.strip(\"/\").split(\"/\")[0]\n        \
         target = root / path.lstrip(\"/\")\n        \
         if path.endswith(\"/\"):\n            \
         target.mkdir(parents=True, exist_ok=True)\n        \
         else:\n            \
         target.parent.mkdir(parents=True, exist_ok=True)\n            \
         target.write_bytes(content)\n        \
         mounts[top] = testing.Mount(location=f\"/{top}\", source=root / top)\n    \
         return mounts\n\n\n",
    );
}

fn test_function(out: &mut String, scenes: &[Scene], f: &Finding, charm: &CharmImport) {
    let class = charm.class.as_deref().unwrap_or("CHARM_CLASS");
    let last = scenes.last().expect("at least the failing hook's scene");
    let chain = scenes.len() > 1;
    let name = test_name(f);
    let mut fixtures = Vec::new();
    if !last.kubernetes {
        fixtures.push("host");
    }
    if scenes
        .iter()
        .any(|s| s.containers.iter().any(|c| !c.files.is_empty()))
    {
        fixtures.push("tmp_path");
    }
    let _ = writeln!(out, "def {name}({}) -> None:", fixtures.join(", "));
    if chain {
        let _ = writeln!(
            out,
            "    \"\"\"The story, hook by hook, up to {}.\"\"\"",
            docstring_text(&f.hook)
        );
    } else {
        let _ = writeln!(
            out,
            "    \"\"\"{}: the unit just before the hook, then the hook.\"\"\"",
            docstring_text(&f.hook)
        );
    }
    let _ = writeln!(
        out,
        "    ctx = testing.Context({class}, app_name={}, unit_id={})",
        py_str(&last.app),
        last.unit_id
    );
    // Variables as last defined, and the State's arguments before this step: a chain
    // writes only what changed from one hook to the next.
    let mut defined: BTreeMap<String, String> = BTreeMap::new();
    let mut previous: Option<BTreeMap<String, String>> = None;
    for (i, scene) in scenes.iter().enumerate() {
        let failing = i + 1 == scenes.len();
        // In a chain, the charm's own memory comes from the hook before (see _carry).
        let memory = !chain || i == 0;
        let step = step_code(scene, i, chain, memory);
        if chain {
            let _ = writeln!(
                out,
                "\n    # {}/{}: {}{}",
                i + 1,
                scenes.len(),
                if failing {
                    "the hook that failed, "
                } else {
                    ""
                },
                scene.hook
            );
        }
        let args: BTreeMap<String, String> = step.args.iter().cloned().collect();
        // Variables whose value is not what the name last held: every argument that
        // mentions one is written again, even when its text is the same.
        let stale: Vec<&(String, String)> = step
            .vars
            .iter()
            .filter(|(n, e)| defined.get(n) != Some(e))
            .collect();
        let mut changed: Vec<(String, String)> = step
            .args
            .iter()
            .filter(|(k, v)| {
                previous.as_ref().is_none_or(|p| p.get(k) != Some(v))
                    || stale.iter().any(|(n, _)| mentions(v, n))
            })
            .cloned()
            .collect();
        if let Some(prev) = &previous {
            for k in prev.keys().filter(|k| !args.contains_key(*k)) {
                changed.push((k.clone(), default_arg(k).to_string()));
            }
        }
        if !chain && step.vars.iter().any(|(n, _)| n.ends_with("_container")) {
            out.push_str("    # Workload containers, with Pebble as it was.\n");
        }
        for (var, expr) in stale {
            let used = changed.iter().any(|(_, v)| mentions(v, var)) || mentions(&step.event, var);
            if used {
                let _ = writeln!(out, "    {var} = {expr}");
                defined.insert(var.clone(), expr.clone());
            }
        }
        for note in &step.notes {
            for line in wrap(note.split_whitespace(), 84) {
                let _ = writeln!(out, "    # {line}");
            }
        }
        let var = if chain { "world" } else { "state" };
        let rendered: Vec<String> = changed.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if previous.is_none() {
            let _ = writeln!(out, "    {var} = testing.State({})", rendered.join(", "));
        } else if !rendered.is_empty() {
            let _ = writeln!(
                out,
                "    {var} = dataclasses.replace({var}, {})",
                rendered.join(", ")
            );
        }
        previous = Some(args);
        let input = if chain && i > 0 {
            format!("_carry({var}, state)")
        } else {
            var.to_string()
        };
        if failing {
            if !chain {
                let _ = writeln!(out, "    # The hook that failed: {}.", f.hook);
            }
            let _ = writeln!(out, "    _run(ctx, {}, {input})", step.event);
        } else {
            let _ = writeln!(out, "    state = _run(ctx, {}, {input})", step.event);
        }
    }
}

/// `words` joined by spaces in lines of at most `width` characters (a word longer than
/// that has a line of its own; words are not split).
pub fn wrap<'a>(words: impl IntoIterator<Item = &'a str>, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in words {
        match lines.last_mut() {
            Some(l) if l.len() + 1 + word.len() <= width => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// Whether Python source `code` mentions the identifier `name`.
fn mentions(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(i, _)| {
        let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
        !code[..i].chars().next_back().is_some_and(ident)
            && !code[i + name.len()..].chars().next().is_some_and(ident)
    })
}

/// What a State argument is when a scene does not set it.
fn default_arg(key: &str) -> &'static str {
    match key {
        "leader" => "False",
        "config" => "{}",
        "deferred" => "[]",
        "unit_status" | "app_status" => "testing.UnknownStatus()",
        "workload_version" => "\"\"",
        _ => "set()",
    }
}

/// One scene as Python: the variables (containers, relations, storage, secrets), the
/// State's arguments, the event, and notes.
struct StepCode {
    vars: Vec<(String, String)>,
    args: Vec<(String, String)>,
    event: String,
    notes: Vec<String>,
}

fn step_code(scene: &Scene, step: usize, chain: bool, memory: bool) -> StepCode {
    let mut vars = Vec::new();
    let mut args: Vec<(String, String)> = Vec::new();
    let mut notes = Vec::new();
    let mut arg = |k: &str, v: String| args.push((k.to_string(), v));
    arg(
        "leader",
        if scene.leader { "True" } else { "False" }.to_string(),
    );
    if !scene.config.is_empty() {
        let items: Vec<String> = scene
            .config
            .iter()
            .map(|(k, v)| format!("{}: {}", py_str(k), py_value(v)))
            .collect();
        arg("config", format!("{{{}}}", items.join(", ")));
    }
    // Containers and relations get names, so that the event can refer to them.
    let mut names = Names::default();
    for c in &scene.containers {
        let var = names.take(&format!("{}_container", c.name));
        let dir = if chain {
            format!("step{}_{}", step + 1, c.name)
        } else {
            c.name.clone()
        };
        vars.push((var.clone(), container_expr(c, &dir)));
        names.containers.insert(c.name.clone(), var);
    }
    for r in &scene.relations {
        let var = names.take(&format!("{}_relation", r.endpoint));
        vars.push((var.clone(), relation_expr(r)));
        names.relations.insert(r.id, var);
    }
    let mut storage_vars = Vec::new();
    for (name, index) in &scene.storages {
        let var = names.take(&format!("{name}_{index}_storage"));
        vars.push((
            var.clone(),
            format!("testing.Storage({}, index={index})", py_str(name)),
        ));
        storage_vars.push(((name.clone(), *index), var));
    }
    let mut secret_vars = BTreeMap::new();
    for s in &scene.secrets {
        let var = names.take(&format!(
            "{}_secret",
            s.label.as_deref().unwrap_or("unlabelled")
        ));
        vars.push((var.clone(), secret_expr(s)));
        secret_vars.insert(s.id.clone(), var);
    }
    let set = |vars: Vec<&String>| -> String {
        format!(
            "{{{}}}",
            vars.iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if !names.relations.is_empty() {
        arg("relations", set(names.relations.values().collect()));
    }
    if !names.containers.is_empty() {
        arg("containers", set(names.containers.values().collect()));
    }
    if !storage_vars.is_empty() {
        arg(
            "storages",
            set(storage_vars.iter().map(|(_, v)| v).collect()),
        );
    }
    if !secret_vars.is_empty() {
        arg("secrets", set(secret_vars.values().collect()));
    }
    if !scene.opened_ports.is_empty() {
        let ports: Vec<String> = scene
            .opened_ports
            .iter()
            .map(|(proto, port)| match (proto.as_str(), port) {
                ("tcp", Some(p)) => format!("testing.TCPPort({p})"),
                ("udp", Some(p)) => format!("testing.UDPPort({p})"),
                _ => "testing.ICMPPort()".to_string(),
            })
            .collect();
        arg("opened_ports", format!("{{{}}}", ports.join(", ")));
    }
    if memory && !scene.unit_state.stored.is_empty() {
        let stored: Vec<String> = scene
            .unit_state
            .stored
            .iter()
            .map(|s| {
                format!(
                    "testing.StoredState({}, owner_path={}, content={})",
                    py_str(&s.name),
                    py_str(&s.owner_path),
                    s.content
                )
            })
            .collect();
        arg("stored_states", format!("{{{}}}", stored.join(", ")));
    }
    if memory && !scene.unit_state.deferred.is_empty() {
        let deferred: Vec<String> = scene
            .unit_state
            .deferred
            .iter()
            .map(|d| {
                format!(
                    "testing.DeferredEvent(handle_path={}, owner={}, observer={}, snapshot_data={})",
                    py_str(&d.handle_path),
                    py_str(&d.owner),
                    py_str(&d.observer),
                    d.snapshot
                )
            })
            .collect();
        arg("deferred", format!("[{}]", deferred.join(", ")));
        notes.push(
            "ops re-emits the deferred events first, oldest first, each to the observer that \
             deferred it, before the hook's own event."
                .into(),
        );
    }
    for (key, (status, message)) in [
        ("unit_status", &scene.unit_status),
        ("app_status", &scene.app_status),
    ] {
        if let Some(expr) = status_expr(status, message) {
            arg(key, expr);
        }
    }
    if !scene.workload_version.is_empty() {
        arg("workload_version", py_str(&scene.workload_version));
    }
    if !scene.kubernetes {
        arg("model", "testing.Model(type=\"lxd\")".into());
    }
    let (event, note) = event_expr(scene, &names, &storage_vars, &secret_vars);
    notes.extend(note);
    notes.extend(unit_less_gap(scene));
    StepCode {
        vars,
        args,
        event,
        notes,
    }
}

/// A relation hook that Juju ran with no remote unit, `relation-changed` for a change of
/// the remote application's databag (`JUJU_REMOTE_UNIT=""`, ops: `event.unit is None`):
/// the remote unit the test names instead. `ops.testing` cannot run such an event: it
/// either picks one of the relation's remote units or, when there are none, fails (ops's
/// `JujuContext` wants `JUJU_REMOTE_UNIT` and `ops.testing` leaves it unset). The test
/// names the first remote unit, or a unit of the remote application that is not in the
/// relation, and says so ([`unit_less_gap`]).
fn unit_less_change(scene: &Scene) -> Option<u32> {
    let EventScene::Relation {
        method,
        relation_id,
        remote_unit: None,
        ..
    } = &scene.event
    else {
        return None;
    };
    if !matches!(
        method.as_str(),
        "relation_joined" | "relation_changed" | "relation_departed"
    ) {
        return None;
    }
    let relation = scene.relations.iter().find(|r| r.id == *relation_id)?;
    let first = relation.remote_units_data.keys().next().copied();
    // A peer relation's remote application is this one: not this unit.
    first.or_else(|| (0..).find(|u| !relation.peer || *u != scene.unit_id))
}

/// The note for a hook [`unit_less_change`] rewrites.
fn unit_less_gap(scene: &Scene) -> Option<String> {
    let unit = unit_less_change(scene)?;
    let EventScene::Relation { relation_id, .. } = &scene.event else {
        return None;
    };
    let relation = scene.relations.iter().find(|r| r.id == *relation_id)?;
    Some(format!(
        "{}: Juju ran it for a change in {}'s application data, with no remote unit \
         (JUJU_REMOTE_UNIT empty, event.unit is None); ops.testing cannot run a relation \
         event without one, so the test names {}/{unit} and the charm sees it as event.unit.",
        scene.hook, relation.remote_app, relation.remote_app
    ))
}

/// The helpers every reproducer uses: running one hook, and (in a chain) carrying the
/// charm's own memory from one hook to the next.
fn run_helpers(out: &mut String, chain: bool) {
    out.push_str(
        "def _run(ctx: testing.Context, event, state: testing.State) -> testing.State:\n    \
         \"\"\"Run one hook; an action the charm fails on purpose (event.fail) is not a crash.\"\"\"\n    \
         try:\n        \
         return ctx.run(event, state)\n    \
         except testing.ActionFailed as failed:\n        \
         return failed.state\n\n\n",
    );
    if chain {
        out.push_str(
            "def _carry(world: testing.State, before: testing.State) -> testing.State:\n    \
             \"\"\"The unit's world before the next hook, as Juju and Pebble held it in the run\n    \
             charmfuzz found, with the charm's own memory (StoredState, deferred events) as the\n    \
             hook before left it here: a fixed charm remembers what the fixed charm did.\"\"\"\n    \
             return dataclasses.replace(\n        \
             world, stored_states=before.stored_states, deferred=before.deferred\n    \
             )\n\n\n",
        );
    }
}

/// Python identifiers for the test's variables, unique.
#[derive(Default)]
struct Names {
    used: std::collections::BTreeSet<String>,
    containers: BTreeMap<String, String>,
    relations: BTreeMap<u32, String>,
}

impl Names {
    fn take(&mut self, want: &str) -> String {
        let mut base: String = want
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        if base.starts_with(|c: char| c.is_ascii_digit()) {
            base.insert(0, '_');
        }
        let mut name = base.clone();
        let mut n = 2;
        while !self.used.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    }
}

fn test_name(f: &Finding) -> String {
    let what = f
        .exception
        .as_deref()
        .map(|e| e.rsplit('.').next().unwrap_or(e).to_string())
        .unwrap_or_else(|| "failure".into());
    let raw = format!("test_{}_{}", f.hook, what);
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    while name.contains("__") {
        name = name.replace("__", "_");
    }
    name.trim_end_matches('_').to_string()
}

fn container_expr(c: &ContainerScene, var: &str) -> String {
    let mut args = vec![
        py_str(&c.name),
        format!(
            "can_connect={}",
            if c.can_connect { "True" } else { "False" }
        ),
    ];
    if !c.layers.is_empty() {
        let layers: Vec<String> = c
            .layers
            .iter()
            .map(|(label, yaml)| format!("{}: pebble.Layer({})", py_str(label), py_str(yaml)))
            .collect();
        args.push(format!("layers={{{}}}", layers.join(", ")));
    }
    if !c.service_statuses.is_empty() {
        let s: Vec<String> = c
            .service_statuses
            .iter()
            .map(|(n, st)| {
                format!(
                    "{}: pebble.ServiceStatus.{}",
                    py_str(n),
                    match st.as_str() {
                        "active" => "ACTIVE",
                        "error" => "ERROR",
                        _ => "INACTIVE",
                    }
                )
            })
            .collect();
        args.push(format!("service_statuses={{{}}}", s.join(", ")));
    }
    if !c.checks.is_empty() {
        let checks: Vec<String> = c.checks.iter().map(check_expr).collect();
        args.push(format!("check_infos={{{}}}", checks.join(", ")));
    }
    if !c.notices.is_empty() {
        let n: Vec<String> = c
            .notices
            .iter()
            .map(|n| format!("testing.Notice({}, id={})", py_str(&n.key), py_str(&n.id)))
            .collect();
        args.push(format!("notices=[{}]", n.join(", ")));
    }
    if !c.files.is_empty() {
        // ops.testing gives each container a root directory of its own; files are put in
        // through mounts, one per top-level directory, filled by the helper below.
        let files: Vec<String> = c
            .files
            .iter()
            .map(|(p, content)| format!("{}: {}", py_str(p), py_bytes(content)))
            .collect();
        args.push(format!(
            "mounts=_mounts(tmp_path / {}, {{{}}})",
            py_str(var),
            files.join(", ")
        ));
    }
    if !c.execs.is_empty() {
        let execs: Vec<String> = c
            .execs
            .iter()
            .map(|e| {
                let mut a = vec![py_list_str(&e.command)];
                if e.return_code != 0 {
                    a.push(format!("return_code={}", e.return_code));
                }
                if !e.stdout.is_empty() {
                    a.push(format!("stdout={}", py_str(&e.stdout)));
                }
                if !e.stderr.is_empty() {
                    a.push(format!("stderr={}", py_str(&e.stderr)));
                }
                format!("testing.Exec({})", a.join(", "))
            })
            .collect();
        args.push(format!("execs={{{}}}", execs.join(", ")));
    }
    format!("testing.Container({})", args.join(", "))
}

fn check_expr(c: &CheckScene) -> String {
    let mut args = vec![py_str(&c.name)];
    if let Some(level) = match c.level.as_str() {
        "alive" => Some("ALIVE"),
        "ready" => Some("READY"),
        _ => None,
    } {
        args.push(format!("level=pebble.CheckLevel.{level}"));
    }
    args.push(format!(
        "startup=pebble.CheckStartup.{}",
        if c.startup == "disabled" {
            "DISABLED"
        } else {
            "ENABLED"
        }
    ));
    args.push(format!(
        "status=pebble.CheckStatus.{}",
        match c.status.as_str() {
            "down" => "DOWN",
            "inactive" => "INACTIVE",
            _ => "UP",
        }
    ));
    args.push(format!("failures={}", c.failures));
    args.push(format!("threshold={}", c.threshold));
    format!("testing.CheckInfo({})", args.join(", "))
}

fn relation_expr(r: &RelationScene) -> String {
    let mut args = vec![py_str(&r.endpoint), format!("id={}", r.id)];
    let bag = |d: &Databag| py_databag(d);
    if r.peer {
        if !r.remote_units_data.is_empty() {
            args.push(format!("peers_data={}", py_units(&r.remote_units_data)));
        }
    } else {
        args.push(format!("remote_app_name={}", py_str(&r.remote_app)));
        if !r.remote_app_data.is_empty() {
            args.push(format!("remote_app_data={}", bag(&r.remote_app_data)));
        }
        args.push(format!(
            "remote_units_data={}",
            py_units(&r.remote_units_data)
        ));
    }
    if !r.local_app_data.is_empty() {
        args.push(format!("local_app_data={}", bag(&r.local_app_data)));
    }
    args.push(format!("local_unit_data={}", bag(&r.local_unit_data)));
    let class = if r.peer { "PeerRelation" } else { "Relation" };
    format!("testing.{class}({})", args.join(", "))
}

fn secret_expr(s: &SecretScene) -> String {
    let mut args = vec![
        py_databag(&s.tracked_content),
        format!("latest_content={}", py_databag(&s.latest_content)),
        format!("id={}", py_str(&s.id)),
    ];
    if let Some(o) = &s.owner {
        args.push(format!("owner={}", py_str(o)));
    }
    if let Some(l) = &s.label {
        args.push(format!("label={}", py_str(l)));
    }
    format!("testing.Secret({})", args.join(", "))
}

fn status_expr(status: &str, message: &str) -> Option<String> {
    let class = match status {
        "active" => "ActiveStatus",
        "blocked" => "BlockedStatus",
        "maintenance" => "MaintenanceStatus",
        "waiting" => "WaitingStatus",
        _ => return None,
    };
    Some(if message.is_empty() {
        format!("testing.{class}()")
    } else {
        format!("testing.{class}({})", py_str(message))
    })
}

/// The `ctx.on…` expression, and a note when the event cannot be written faithfully.
fn event_expr(
    scene: &Scene,
    names: &Names,
    storages: &[((String, u32), String)],
    secrets: &BTreeMap<String, String>,
) -> (String, Option<String>) {
    match &scene.event {
        EventScene::Simple(method) => (format!("ctx.on.{method}()"), None),
        EventScene::Relation {
            method,
            relation_id,
            remote_unit,
            departing_unit,
        } => {
            let rel = names
                .relations
                .get(relation_id)
                .cloned()
                .unwrap_or_else(|| format!("state.get_relation({relation_id})"));
            let mut args = vec![rel];
            if let Some(u) = remote_unit.or_else(|| unit_less_change(scene)) {
                args.push(format!("remote_unit={u}"));
            }
            if let Some(u) = departing_unit {
                args.push(format!("departing_unit={u}"));
            }
            (format!("ctx.on.{method}({})", args.join(", ")), None)
        }
        EventScene::Storage {
            method,
            name,
            index,
        } => {
            let var = storages
                .iter()
                .find(|((n, i), _)| n == name && i == index)
                .map(|(_, v)| v.clone());
            match var {
                Some(v) => (format!("ctx.on.{method}({v})"), None),
                None => (
                    format!(
                        "ctx.on.{method}(testing.Storage({}, index={index}))",
                        py_str(name)
                    ),
                    Some(format!(
                        "{name}/{index} is no longer attached (storage-list does not have it)."
                    )),
                ),
            }
        }
        EventScene::Workload {
            method,
            container,
            check,
            notice_id,
        } => {
            let var = names
                .containers
                .get(container)
                .cloned()
                .unwrap_or_else(|| format!("state.get_container({})", py_str(container)));
            let mut args = vec![var.clone()];
            if let Some(c) = check {
                args.push(format!("{var}.get_check_info({})", py_str(c)));
            }
            if let Some(id) = notice_id {
                args.push(format!(
                    "next(n for n in {var}.notices if n.id == {})",
                    py_str(id)
                ));
            }
            (format!("ctx.on.{method}({})", args.join(", ")), None)
        }
        EventScene::Secret {
            method,
            id,
            revision,
        } => {
            let var = secrets
                .get(id)
                .cloned()
                .unwrap_or_else(|| format!("state.get_secret(id={})", py_str(id)));
            let mut args = vec![var];
            if let Some(r) = revision {
                args.push(format!("revision={r}"));
            }
            (format!("ctx.on.{method}({})", args.join(", ")), None)
        }
        EventScene::Action { name, params } => {
            if params.is_empty() {
                (format!("ctx.on.action({})", py_str(name)), None)
            } else {
                let p: Vec<String> = params
                    .iter()
                    .map(|(k, v)| format!("{}: {}", py_str(k), py_value(v)))
                    .collect();
                (
                    format!(
                        "ctx.on.action({}, params={{{}}})",
                        py_str(name),
                        p.join(", ")
                    ),
                    None,
                )
            }
        }
        EventScene::Unsupported => (
            "ctx.on.update_status()".into(),
            Some("ops.testing has no event for this hook; update-status stands in.".into()),
        ),
    }
}

/// A Python `str` literal. JSON's string escapes are all valid in Python.
pub fn py_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

fn py_list_str(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| py_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A Python `bytes` literal: printable ASCII as is, everything else escaped.
fn py_bytes(b: &[u8]) -> String {
    let mut s = String::from("b\"");
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
    s
}

fn py_databag(d: &Databag) -> String {
    let items: Vec<String> = d
        .iter()
        .map(|(k, v)| format!("{}: {}", py_str(k), py_str(v)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

fn py_units(units: &BTreeMap<u32, Databag>) -> String {
    let items: Vec<String> = units
        .iter()
        .map(|(n, d)| format!("{n}: {}", py_databag(d)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// A JSON value as a Python literal.
pub fn py_value(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str(s),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(py_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", py_str(k), py_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pytest file for one `relation-changed` of `relation`, with `remote_unit`.
    fn changed(relation: RelationScene, remote_unit: Option<u32>) -> String {
        let scene = Scene {
            hook: format!("{}-relation-changed", relation.endpoint),
            app: "demo".into(),
            unit_id: 0,
            kubernetes: true,
            event: EventScene::Relation {
                method: "relation_changed".into(),
                relation_id: relation.id,
                remote_unit,
                departing_unit: None,
            },
            relations: vec![relation],
            ..Scene::default()
        };
        let charm = CharmImport {
            dir: CharmDir::Up(0),
            module: "charm".into(),
            path: vec!["src".into()],
            class: Some("DemoCharm".into()),
        };
        write_pytest(&[scene], &Finding::default(), &charm)
    }

    fn relation(endpoint: &str, peer: bool, units: &[u32]) -> RelationScene {
        RelationScene {
            id: 4,
            endpoint: endpoint.into(),
            peer,
            remote_app: if peer { "demo" } else { "db-app" }.into(),
            remote_units_data: units.iter().map(|u| (*u, Databag::new())).collect(),
            ..RelationScene::default()
        }
    }

    #[test]
    fn an_application_data_change_names_a_remote_unit_and_says_so() {
        // No remote unit yet: a unit of the remote application outside the relation.
        let py = changed(relation("db", false, &[]), None);
        assert!(
            py.contains("relation_changed(db_relation, remote_unit=0)"),
            "{py}"
        );
        assert!(py.contains("so the test names db-app/0"), "{py}");
        // A peer relation's remote application is this one: never this unit.
        let py = changed(relation("replicas", true, &[]), None);
        assert!(
            py.contains("relation_changed(replicas_relation, remote_unit=1)"),
            "{py}"
        );
        // Remote units: the first of them, which ops.testing would pick anyway.
        let py = changed(relation("db", false, &[3, 5]), None);
        assert!(py.contains("remote_unit=3)"), "{py}");
        assert!(py.contains("names db-app/3"), "{py}");
    }

    #[test]
    fn a_unit_data_change_is_written_as_it_was() {
        let py = changed(relation("db", false, &[3, 5]), Some(5));
        assert!(
            py.contains("relation_changed(db_relation, remote_unit=5)"),
            "{py}"
        );
        assert!(!py.contains("cannot run a relation event"), "{py}");
    }
}
