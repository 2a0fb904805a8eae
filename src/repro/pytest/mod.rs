//! The writer: a story's scenes as a pytest file.
//!
//! The file has a docstring that says what was found and how to run the test, the imports
//! (the charm from its directory, which `CHARMFUZZ_CHARM_DIR` may point elsewhere), a
//! `host` fixture for a machine charm, the helpers the test uses, and the test: a
//! `testing.Context` for the charm class, then for each hook a `State` and `ctx.run` of the
//! hook's event. One scene ([`step`]) is written as the variables the `State` is built
//! from, the `State`'s arguments and the event; a chain of hooks writes only what changed
//! from one hook to the next.

mod literal;
mod step;

pub use literal::{py_str, py_value};

use super::scene::Scene;
use literal::{py_bytes, py_list_str};
use std::collections::BTreeMap;
use std::fmt::Write;
use step::{StepCode, step_code, unit_less_gap};

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
        if uses_snapd(scene) {
            snapd_helper(&mut out);
        }
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
             alone because the charm had a memory of its own then (StoredState, deferred\n\
             events), and a fixed charm may not remember the same. While the bug is there it\n\
             fails",
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
        std.extend(["dataclasses", "re"]);
    }
    if !scene.kubernetes {
        std.push("stat");
    }
    if !scene.kubernetes && uses_snapd(scene) {
        std.extend([
            "http.server",
            "socket",
            "socketserver",
            "tempfile",
            "threading",
        ]);
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

/// The prefix of a snapd request among the machine's answers (`snapd GET /v2/snaps`).
const SNAPD: &str = "snapd ";

/// The charm talked to snapd (its socket, or the `snap` command that checks it is there).
fn uses_snapd(scene: &Scene) -> bool {
    (scene.host.answers.keys()).any(|k| k.starts_with(SNAPD) || k.starts_with("snap "))
}

/// The helper that plays snapd: its API on a Unix socket, answering each request as
/// charmfuzz's machine did.
fn snapd_helper(out: &mut String) {
    out.push_str(
        "def _snapd(answers: dict[str, tuple[int, str]]) -> tuple[socketserver.BaseServer, str]:\n    \
         \"\"\"snapd's API on a Unix socket: each request (method, path and query) gets the answer\n    \
         charmfuzz's machine gave it last; one it never saw, snapd's 404.\"\"\"\n\n    \
         class Handler(http.server.BaseHTTPRequestHandler):\n        \
         def _answer(self):\n            \
         self.rfile.read(int(self.headers.get(\"Content-Length\") or 0))\n            \
         missing = '{\"type\": \"error\", \"status-code\": 404, \"status\": \"Not Found\", \"result\": {\"message\": \"not found\"}}'\n            \
         code, body = answers.get(f\"{self.command} {self.path}\", (404, missing))\n            \
         data = body.encode()\n            \
         self.send_response(code)\n            \
         self.send_header(\"Content-Type\", \"application/json\")\n            \
         self.send_header(\"Content-Length\", str(len(data)))\n            \
         self.end_headers()\n            \
         self.wfile.write(data)\n\n        \
         do_GET = do_POST = do_PUT = _answer\n\n        \
         def log_message(self, *args):\n            \
         pass\n\n    \
         class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):\n        \
         daemon_threads = True\n\n        \
         def get_request(self):\n            \
         request, _ = super().get_request()\n            \
         return request, (\"snapd\", 0)\n\n    \
         # A short directory: a Unix socket's path has a length limit that tmp_path can pass.\n    \
         path = os.path.join(tempfile.mkdtemp(prefix=\"snapd-\"), \"snapd.socket\")\n    \
         server = Server(path, Handler)\n    \
         threading.Thread(target=server.serve_forever, daemon=True).start()\n    \
         return server, path\n\n\n",
    );
}

fn host_fixture(out: &mut String, scene: &Scene, class: &str) {
    let h = &scene.host;
    let snapd = uses_snapd(scene);
    out.push_str(
        "@pytest.fixture\n\
         def host(tmp_path, monkeypatch):\n    \
         \"\"\"The machine as charmfuzz gave it to the charm.\n\n    \
         Package and service managers are shims that answer as charmfuzz's machine did (put\n    \
         first on PATH): a command line it was asked before the hook gets its last answer,\n    \
         any other its program's (snapd's requests likewise, on a socket of the test's). The\n    \
         paths charmfuzz made writable live under tmp_path\n    \
         instead: module-level constants of the charm that point into them are redirected\n    \
         there, with the files the charm had written before the failing hook.\n    \
         \"\"\"\n",
    );
    out.push_str("    bin_dir = tmp_path / \"bin\"\n    bin_dir.mkdir()\n");
    let shims: Vec<String> = h
        .shims
        .iter()
        .map(|(name, (code, stdout))| format!("{}: ({code}, {})", py_str(name), py_str(stdout)))
        .collect();
    let _ = writeln!(out, "    shims = {{{}}}", shims.join(", "));
    let answers: Vec<String> = h
        .answers
        .iter()
        .map(|(line, (code, stdout))| format!("{}: ({code}, {})", py_str(line), py_str(stdout)))
        .collect();
    let _ = writeln!(out, "    answers = {{{}}}", answers.join(", "));
    if snapd {
        out.push_str(
            "    # snapd: its socket, and the file the snap libraries look for to know it is there.\n    \
             server, socket_path = _snapd(\n        \
             {k[len(\"snapd \") :]: v for k, v in answers.items() if k.startswith(\"snapd \")}\n    \
             )\n    \
             connect = socket.socket.connect\n    \
             monkeypatch.setattr(\n        \
             socket.socket,\n        \
             \"connect\",\n        \
             lambda sock, address: connect(\n            \
             sock, socket_path if address == \"/run/snapd.socket\" else address\n        \
             ),\n    \
             )\n    \
             isfile = os.path.isfile\n    \
             monkeypatch.setattr(os.path, \"isfile\", lambda p: str(p) == \"/usr/bin/snap\" or isfile(p))\n    \
             answers = {k: v for k, v in answers.items() if not k.startswith(\"snapd \")}\n",
        );
    }
    out.push_str(
        "    for name, (code, stdout) in shims.items():\n        \
         script = bin_dir / name\n        \
         script.write_text(\n            \
         f\"#!{sys.executable}\\nimport sys\\nanswers = {answers!r}\\n\"\n            \
         f\"code, out = answers.get(' '.join([{name!r}] + sys.argv[1:]), ({code}, {stdout!r}))\\n\"\n            \
         \"sys.stdout.write(out)\\nsys.exit(code)\\n\"\n        \
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
         monkeypatch.setattr(module, name, type(value)(str(new / os.path.relpath(text, w))))\n",
    );
    if snapd {
        out.push_str("    yield shims\n    server.shutdown()\n    server.server_close()\n\n\n");
    } else {
        out.push_str("    return shims\n\n\n");
    }
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
             hook before left it here: a fixed charm remembers what the fixed charm did.\n\n    \
             ops.testing starts every run's event counter afresh (it does not carry the\n    \
             framework's own), so the hook's event could take the handle of an event carried\n    \
             over and overwrite it: the carried events get handles of their own, in order.\n    \
             \"\"\"\n    \
             deferred = [\n        \
             dataclasses.replace(e, handle_path=re.sub(r\"\\[\\d+\\]$\", f\"[{1_000_000 + i}]\", e.handle_path))\n        \
             for i, e in enumerate(before.deferred)\n    \
             ]\n    \
             return dataclasses.replace(\n        \
             world, stored_states=before.stored_states, deferred=deferred\n    \
             )\n\n\n",
        );
    }
}

fn test_function(out: &mut String, scenes: &[Scene], f: &Finding, charm: &CharmImport) {
    let class = charm.class.as_deref().unwrap_or("CHARM_CLASS");
    let last = scenes.last().expect("at least the failing hook's scene");
    let chain = scenes.len() > 1;
    test_signature(out, scenes, f);
    let _ = writeln!(
        out,
        "    ctx = testing.Context({class}, app_name={}, unit_id={})",
        py_str(&last.app),
        last.unit_id
    );
    let mut steps = Steps {
        chain,
        count: scenes.len(),
        defined: BTreeMap::new(),
        previous: None,
    };
    for (i, scene) in scenes.iter().enumerate() {
        steps.write(out, i, scene, f);
    }
}

/// The test's `def` line, with the fixtures it needs, and its docstring.
fn test_signature(out: &mut String, scenes: &[Scene], f: &Finding) {
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
}

/// The test's body, written one hook at a time.
struct Steps {
    chain: bool,
    /// How many hooks the test runs.
    count: usize,
    // Variables as last defined, and the State's arguments before this step: a chain
    // writes only what changed from one hook to the next.
    defined: BTreeMap<String, String>,
    previous: Option<BTreeMap<String, String>>,
}

impl Steps {
    /// Hook `i` of the story: the variables and State arguments that changed, the notes,
    /// and the run of the hook.
    fn write(&mut self, out: &mut String, i: usize, scene: &Scene, f: &Finding) {
        let chain = self.chain;
        let failing = i + 1 == self.count;
        // In a chain, the charm's own memory comes from the hook before (see _carry).
        let memory = !chain || i == 0;
        let step = step_code(scene, i, chain, memory);
        if chain {
            let _ = writeln!(
                out,
                "\n    # {}/{}: {}{}",
                i + 1,
                self.count,
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
            .filter(|(n, e)| self.defined.get(n) != Some(e))
            .collect();
        let changed = self.changed_args(&step, &args, &stale);
        if !chain && step.vars.iter().any(|(n, _)| n.ends_with("_container")) {
            out.push_str("    # Workload containers, with Pebble as it was.\n");
        }
        self.write_vars(out, &stale, &changed, &step.event);
        for note in &step.notes {
            for line in wrap(note.split_whitespace(), 84) {
                let _ = writeln!(out, "    # {line}");
            }
        }
        self.write_state(out, &changed);
        self.previous = Some(args);
        self.write_run(out, i, failing, &step.event, f);
    }

    /// The State's arguments to write at this step: those that changed since the step
    /// before (all of them at the first), those that mention a stale variable, and those
    /// this step no longer sets, back to their defaults.
    fn changed_args(
        &self,
        step: &StepCode,
        args: &BTreeMap<String, String>,
        stale: &[&(String, String)],
    ) -> Vec<(String, String)> {
        let mut changed: Vec<(String, String)> = step
            .args
            .iter()
            .filter(|(k, v)| {
                self.previous.as_ref().is_none_or(|p| p.get(k) != Some(v))
                    || stale.iter().any(|(n, _)| mentions(v, n))
            })
            .cloned()
            .collect();
        if let Some(prev) = &self.previous {
            for k in prev.keys().filter(|k| !args.contains_key(*k)) {
                changed.push((k.clone(), default_arg(k).to_string()));
            }
        }
        changed
    }

    /// The stale variables that the changed arguments or the event use.
    fn write_vars(
        &mut self,
        out: &mut String,
        stale: &[&(String, String)],
        changed: &[(String, String)],
        event: &str,
    ) {
        for (var, expr) in stale {
            let used = changed.iter().any(|(_, v)| mentions(v, var)) || mentions(event, var);
            if used {
                let _ = writeln!(out, "    {var} = {expr}");
                self.defined.insert(var.clone(), expr.clone());
            }
        }
    }

    /// The State: built at the first step, then replaced where it changed.
    fn write_state(&self, out: &mut String, changed: &[(String, String)]) {
        let var = if self.chain { "world" } else { "state" };
        let rendered: Vec<String> = changed.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if self.previous.is_none() {
            let _ = writeln!(out, "    {var} = testing.State({})", rendered.join(", "));
        } else if !rendered.is_empty() {
            let _ = writeln!(
                out,
                "    {var} = dataclasses.replace({var}, {})",
                rendered.join(", ")
            );
        }
    }

    /// The run of hook `i`: the failing hook last, every hook before it keeping the State
    /// it leaves for the next.
    fn write_run(&self, out: &mut String, i: usize, failing: bool, event: &str, f: &Finding) {
        let chain = self.chain;
        let var = if chain { "world" } else { "state" };
        let input = if chain && i > 0 {
            format!("_carry({var}, state)")
        } else {
            var.to_string()
        };
        if failing {
            if !chain {
                let _ = writeln!(out, "    # The hook that failed: {}.", f.hook);
            }
            let _ = writeln!(out, "    _run(ctx, {event}, {input})");
        } else {
            let _ = writeln!(out, "    state = _run(ctx, {event}, {input})");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repro::scene::{Databag, EventScene, RelationScene};

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
