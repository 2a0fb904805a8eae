//! The source charmfuzz writes into the sandbox for the charm's side: the worker (the
//! Python fork server every hook runs in) and its virtual clock, the `dispatch`
//! charmcraft would pack, and a Python stand-in for the hook-tool binary.

use std::path::Path;

/// The worker script, embedded in the binary.
pub const WORKER_PY: &str = include_str!("../../../python/worker.py");

/// Virtual time in the charm's process (imported by the worker, written beside it).
pub const CLOCK_PY: &str = include_str!("../../../python/charmfuzz_clock.py");

/// The `dispatch` charmcraft writes into a packed charm: Juju runs it for every hook,
/// and it starts the charm's entry point with `lib/` (charm libraries) and `venv/` (the
/// packed dependencies) importable. Here the interpreter is the charm's own, by path.
pub(super) fn packed_dispatch(python: &Path, entry: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         # Written by charmfuzz: the dispatch charmcraft writes at pack time.\n\
         JUJU_DISPATCH_PATH=\"${{JUJU_DISPATCH_PATH:-$0}}\" PYTHONPATH=lib:venv \\\n    \
         exec '{}' './{}'\n",
        python.display().to_string().replace('\'', r"'\''"),
        entry.display().to_string().replace('\'', r"'\''"),
    )
}

/// A stand-in for the `jujuc` binary when none is given: the same protocol, in Python.
pub(super) fn jujuc_script(python: &Path) -> String {
    format!(
        r#"#!{py} -S
# charmfuzz's hook-tool client: forwards argv and stdin to the unit agent's socket.
import json, os, socket, struct, sys
tool = os.path.basename(sys.argv[0])
data = None if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
req = json.dumps({{"tool": tool, "args": sys.argv[1:], "stdin": data or None, "cwd": os.getcwd()}}).encode()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(os.environ["JUJU_AGENT_SOCKET_ADDRESS"])
s.sendall(struct.pack(">I", len(req)) + req)
def read(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit("ERROR the unit agent closed the connection")
        b += c
    return b
resp = json.loads(read(struct.unpack(">I", read(4))[0]))
sys.stdout.write(resp["stdout"]); sys.stderr.write(resp["stderr"])
sys.exit(resp["code"])
"#,
        py = python.display()
    )
}
