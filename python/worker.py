"""charmfuzz's fork server: runs inside the charm's own Python interpreter.

Juju runs a charm by executing ``$CHARM_DIR/dispatch`` once per hook; the charm's Python
starts, imports ``ops`` (about 150 ms), handles one event and exits. charmfuzz plays
thousands of hooks per minute, so this worker pays the start-up once: it imports ``ops``
and the charm's own imports, then forks a fresh child per hook. The child looks to the
charm exactly like a process Juju started (``juju-model.md`` §B1): a clean
environment holding only the dispatch variables, stdin from ``/dev/null``, the charm
directory as cwd, and the charm's own entry point run as ``__main__`` so that its own
``ops.main(...)`` arguments apply.

Hook tools. ops runs every hook tool with ``subprocess.run``. In the child, the
``subprocess`` module that ops' hook-tool wrappers see is replaced by a proxy that sends a
tool call (argv and stdin, byte for byte) straight to the harness over the unit agent's
socket instead of spawning a process -- the *fast path*. Anything else (and charm code that
runs tools itself) goes to real executables on ``PATH``.

Pebble. ops hard-codes ``/charm/containers/<name>/pebble.socket``; unless the harness
mounted its sockets there, the worker rewrites that prefix when ops opens a Pebble client.

Protocol with the harness: JSON lines, requests on stdin, replies on the file descriptor
given at start-up (the worker's stdout is pointed at its stderr so that charm code printing
at import time cannot corrupt the channel). This file is embedded in the ``charmfuzz``
binary and written next to the charm copy it serves.
"""

import ast
import faulthandler
import importlib
import json
import mmap
import os
import pickle
import select
import signal
import socket
import stat as stat_module
import sqlite3
import struct
import sys
import time
import traceback

_REAL_SUBPROCESS = None
_CONTROL = None
_HELLO = {}
# The worker's own clock: real, whatever the charm's is (see charmfuzz_clock).
_monotonic = time.monotonic
_sleep = time.sleep
# Where a hook's child leaves the last time its virtual clock read (8 bytes, shared with
# every child; -1 while none has).
_CLOCK_SEEN = None


# --- the unit agent socket (shared with the jujuc shim) ---------------------------------


def _frame(obj):
    data = json.dumps(obj).encode()
    return struct.pack('>I', len(data)) + data


def _read_exact(sock, n):
    buf = b''
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError('the unit agent closed the connection')
        buf += chunk
    return buf


class _AgentClient:
    """One connection to the harness for the whole hook, opened on first use."""

    def __init__(self, path):
        self.path = path
        self.sock = None

    def call(self, argv, stdin):
        if self.sock is None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(self.path)
        self.sock.sendall(
            _frame({'tool': os.path.basename(argv[0]), 'args': list(argv[1:]), 'stdin': stdin, 'cwd': os.getcwd()})
        )
        (n,) = struct.unpack('>I', _read_exact(self.sock, 4))
        return json.loads(_read_exact(self.sock, n))


class _SubprocessProxy:
    """Stands in for the ``subprocess`` module inside ops' hook-tool wrappers.

    A call whose program is a hook tool (a bare name, or a path into the tools directory)
    is answered by the harness; everything else goes to the real module.
    """

    def __init__(self, real, tools, tools_dir, agent):
        self._real = real
        self._tools = tools
        self._tools_dir = tools_dir
        self._agent = agent

    def __getattr__(self, name):
        return getattr(self._real, name)

    def _is_tool(self, args):
        if isinstance(args, (str, bytes)) or not args:
            return False
        prog = os.fsdecode(args[0])
        base = os.path.basename(prog)
        if base not in self._tools:
            return False
        return '/' not in prog or os.path.dirname(prog) == self._tools_dir

    def run(self, args, *pargs, **kw):
        if pargs or not self._is_tool(args):
            return self._real.run(args, *pargs, **kw)
        argv = [os.fsdecode(a) for a in args]
        text = bool(kw.get('text') or kw.get('universal_newlines') or kw.get('encoding'))
        data = kw.get('input')
        if isinstance(data, bytes):
            data = data.decode('utf-8', 'surrogateescape')
        reply = self._agent.call(argv, data)
        out, err = reply['stdout'], reply['stderr']
        if not text:
            out, err = out.encode(), err.encode()
        captured = kw.get('capture_output') or kw.get('stdout') == self._real.PIPE
        if not captured:
            _write_fd(1, reply['stdout'])
            out = None
        if not (kw.get('capture_output') or kw.get('stderr') == self._real.PIPE):
            _write_fd(2, reply['stderr'])
            err = None
        code = reply['code']
        if kw.get('check') and code != 0:
            raise self._real.CalledProcessError(code, args, output=out, stderr=err)
        return self._real.CompletedProcess(args, code, out, err)


def _write_fd(fd, text):
    if text:
        os.write(fd, text.encode('utf-8', 'surrogateescape'))


# --- start-up ---------------------------------------------------------------------------


def _reply(obj):
    _CONTROL.write(json.dumps(obj) + '\n')
    _CONTROL.flush()


def _split_charmcraft(charm_dir):
    """Write metadata.yaml, config.yaml and actions.yaml from a unified charmcraft.yaml.

    ops reads only the three split files at run time (``CharmMeta.from_charm_root``);
    ``charmcraft pack`` writes them. For a source tree, this does the same split with the
    YAML parser ops itself uses, so the charm sees exactly what it would see packed.
    """
    import yaml

    if os.path.exists(os.path.join(charm_dir, 'metadata.yaml')):
        return
    path = os.path.join(charm_dir, 'charmcraft.yaml')
    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    build_only = {'type', 'bases', 'base', 'build-base', 'platforms', 'parts', 'charmhub',
                  'config', 'actions', 'charm-libs', 'analysis', 'extensions'}
    meta = {k: v for k, v in doc.items() if k not in build_only}
    with open(os.path.join(charm_dir, 'metadata.yaml'), 'w') as f:
        yaml.safe_dump(meta, f)
    if 'config' in doc and not os.path.exists(os.path.join(charm_dir, 'config.yaml')):
        with open(os.path.join(charm_dir, 'config.yaml'), 'w') as f:
            yaml.safe_dump(doc['config'], f)
    if 'actions' in doc and not os.path.exists(os.path.join(charm_dir, 'actions.yaml')):
        with open(os.path.join(charm_dir, 'actions.yaml'), 'w') as f:
            yaml.safe_dump(doc['actions'], f)


def _hand_over_listeners(kube):
    """Make the sockets the charm reaches in its network namespace, and give them to the
    harness: the Kubernetes API's, listening, then one per port the workload serves
    (``workload_ports``), bound but not listening (the harness listens on each while the
    workload's service runs; until then a connection is refused, as on a unit).

    Only a process in the sandbox's network namespace can bind its loopback address, and
    this worker is the first one there. The worker keeps no copy, so nothing the charm
    does can close or take them.
    """
    sockets = []
    try:
        addresses = [(kube['host'], kube['port'])]
        addresses += [('127.0.0.1', port) for port in kube.get('workload_ports', [])]
        for i, address in enumerate(addresses):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(address)
            if i == 0:
                s.listen(128)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as handoff:
            handoff.connect(kube['handoff'])
            socket.send_fds(handoff, [b'k'], [s.fileno() for s in sockets])
    finally:
        for s in sockets:
            s.close()


def _prewarm(entry):
    """Import what the charm's entry point imports at top level, so children inherit it."""
    with open(entry, 'rb') as f:
        tree = ast.parse(f.read(), entry)
    names = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    failed, missing_libs = [], []
    for name in names:
        try:
            importlib.import_module(name)
        except BaseException as e:  # the child will fail the same way, and say so
            failed.append(f'{name}: {type(e).__name__}: {e}')
            # A charm library the repository does not ship (charmcraft fetch-lib adds it
            # at pack time): named, for the harness to say how to add it.
            missing = getattr(e, 'name', None) if isinstance(e, ModuleNotFoundError) else None
            if missing and (missing == 'charms' or missing.startswith('charms.')):
                lib = name if name.startswith(missing) else missing
                if lib not in missing_libs:
                    missing_libs.append(lib)
    return failed, missing_libs


def _patch_ops(hello):
    import ops
    import ops.model

    proxies = []
    tools = set(hello['tools'])
    agent = _AgentClient(hello['agent_socket'])
    proxy = _SubprocessProxy(_REAL_SUBPROCESS, tools, hello['tools_dir'], agent)
    for modname in ('ops.hookcmds._utils', 'ops.model', 'ops.storage', 'ops.main', 'ops._main'):
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        if getattr(mod, 'subprocess', None) is _REAL_SUBPROCESS:
            mod.subprocess = proxy
            proxies.append(modname)

    # The charm's metadata is the same for every hook: parse it once here. Each hook runs
    # in a forked copy, so nothing one hook does to the object reaches the next.
    charm_meta = getattr(getattr(ops, 'charm', None), 'CharmMeta', None)
    if charm_meta is not None and hasattr(charm_meta, 'from_charm_root'):
        original_meta = charm_meta.from_charm_root
        root = os.path.realpath(hello['charm_dir'])
        cached = original_meta(root)

        def from_charm_root(charm_root):
            if os.path.realpath(str(charm_root)) == root:
                return cached
            return original_meta(charm_root)

        charm_meta.from_charm_root = staticmethod(from_charm_root)

    containers = hello.get('containers_dir')
    if containers:
        backend = ops.model._ModelBackend
        original = backend.get_pebble
        prefix = '/charm/containers'

        def get_pebble(self, socket_path):
            if socket_path.startswith(prefix + '/'):
                socket_path = containers + socket_path[len(prefix):]
            return original(self, socket_path)

        backend.get_pebble = get_pebble
    return agent, proxies


# --- one hook ---------------------------------------------------------------------------


# --- coverage -----------------------------------------------------------------------------
#
# The fuzzer is steered by which parts of the charm each input runs. The harness shares a
# bitmap with this worker (a memfd it also hands to libFuzzer as extra coverage counters);
# every child writes into it while the hook runs, and libFuzzer reads it when the input ends.
# A slot is a hash of (file, line) -- or of a line-to-line arc where the interpreter gives
# us arcs -- folded into the bitmap; its value is a saturating hit count, which libFuzzer
# buckets AFL-style (1, 2, 3, 4-7, 8-15, ...).
#
# Python 3.12 and later: sys.monitoring LINE and BRANCH events, switched on once in the
# worker and inherited by every child, each location reported once per child
# (``DISABLE``), which is nearly free. Python 3.10 and 3.11: a
# ``sys.settrace`` tracer that only follows frames of the charm's own files, counting arcs.

_COV = None


class _Coverage:
    def __init__(self, spec):
        import mmap

        self.map = mmap.mmap(spec['fd'], spec['size'])
        self.base = spec.get('offset', 0)
        self.size = spec['len']
        # Each followed tree keeps a short label: a file's key is the crc of label + its
        # path inside the tree, never of the absolute path. The charm is copied into a
        # fresh temporary directory per fuzzer process, so absolute paths would move every
        # slot from one run (or -fork worker) to the next, and a fixed -seed would not
        # reproduce a campaign.
        include = []
        for p in spec['include']:
            label = p
            if p == '<ops>':
                import ops

                p = os.path.dirname(ops.__file__)
            else:
                label = os.path.basename(os.path.normpath(p))
            include.append((os.path.realpath(p) + os.sep, label))
        self.include = tuple(include)
        self.exclude = tuple(os.path.realpath(p) + os.sep for p in spec.get('exclude', []))
        self.files = {}
        self.monitoring = hasattr(sys, 'monitoring') and spec.get('monitoring', True)

    def file_key(self, filename):
        """A stable number for a file of the charm (None for files not followed)."""
        key = self.files.get(filename, -1)
        if key == -1:
            import zlib

            path = os.path.realpath(filename)
            key = None
            if not path.startswith(self.exclude):
                for root, label in self.include:
                    if path.startswith(root):
                        key = zlib.crc32(f'{label}/{path[len(root):]}'.encode())
                        break
            self.files[filename] = key
        return key

    def hit(self, key, a, b):
        i = self.base + ((key ^ ((a * 0x9E3779B1) + b) * 0x85EBCA6B) & 0xFFFFFFFF) % self.size
        v = self.map[i]
        if v < 255:
            self.map[i] = v + 1

    def start(self):
        if self.monitoring:
            self._start_monitoring()
        else:
            sys.settrace(self._global)
            import threading

            threading.settrace(self._global)

    def _start_monitoring(self):
        mon = sys.monitoring
        tool = 3
        try:
            mon.use_tool_id(tool, 'charmfuzz')
        except ValueError:
            pass
        disable = mon.DISABLE
        file_key = self.file_key
        hit = self.hit

        def on_line(code, line):
            key = file_key(code.co_filename)
            if key is not None:
                hit(key, 0, line)
            return disable

        def on_branch(code, src, dst):
            key = file_key(code.co_filename)
            if key is not None:
                hit(key ^ 0x5BD1E995, src, dst)
            return disable

        mon.register_callback(tool, mon.events.LINE, on_line)
        events = mon.events.LINE
        if hasattr(mon.events, 'BRANCH'):
            mon.register_callback(tool, mon.events.BRANCH, on_branch)
            events |= mon.events.BRANCH
        mon.set_events(tool, events)

    def _global(self, frame, event, arg):
        if event != 'call':
            return None
        key = self.file_key(frame.f_code.co_filename)
        if key is None:
            return None
        hit = self.hit
        prev = -frame.f_code.co_firstlineno

        def local(frame, event, arg):
            nonlocal prev
            if event == 'line':
                line = frame.f_lineno
                hit(key, prev, line)
                prev = line
            elif event == 'return':
                hit(key, prev, -1)
            return local

        return local


# Line coverage, for ``charmfuzz coverage``: which lines of the charm's own files each hook
# ran, as (path relative to the charm, line) pairs. Unlike the bitmap above it is exact and
# readable, and slower (a tracer on every charm frame), so the fuzzer does not use it. It
# starts in the worker before the charm is imported, so the module-level lines that ran at
# import (imports, class and def statements) count for every hook, as they would under Juju,
# which imports the charm afresh for each one. Each child writes its set when the hook ends
# (a child killed by a signal or a timeout, or one that calls os._exit, writes nothing).

_LINES = None


class _Lines:
    def __init__(self, spec):
        self.root = os.path.realpath(spec['root']) + os.sep
        self.include = tuple(os.path.realpath(p) + os.sep for p in spec['include'])
        self.exclude = tuple(os.path.realpath(p) + os.sep for p in spec.get('exclude', []))
        self.files = {}
        self.hits = set()

    def rel(self, filename):
        """The file's path inside the charm, or None for files not followed."""
        rel = self.files.get(filename, -1)
        if rel == -1:
            path = os.path.realpath(filename)
            rel = None
            if (path.startswith(self.include) and path.startswith(self.root)
                    and not path.startswith(self.exclude)):
                rel = path[len(self.root):]
            self.files[filename] = rel
        return rel

    def start(self):
        import threading

        sys.settrace(self._global)
        threading.settrace(self._global)

    def _global(self, frame, event, arg):
        if event != 'call':
            return None
        rel = self.rel(frame.f_code.co_filename)
        if rel is None:
            return None
        hits = self.hits

        def local(frame, event, arg):
            if event == 'line':
                hits.add((rel, frame.f_lineno))
            return local

        return local

    def write(self, path):
        with open(path, 'w') as f:
            f.writelines(f'{rel}\t{line}\n' for rel, line in sorted(self.hits))

    def executable(self):
        """Every followed file's executable lines, from CPython's own line tables."""
        out = {}
        for top in self.include:
            for dirpath, dirnames, filenames in os.walk(top):
                dirnames[:] = sorted(d for d in dirnames
                                     if not os.path.join(dirpath, d).startswith(self.exclude))
                for name in sorted(filenames):
                    path = os.path.join(dirpath, name)
                    rel = self.rel(path) if name.endswith('.py') else None
                    if rel is None:
                        continue
                    try:
                        with open(path, 'rb') as f:
                            code = compile(f.read(), path, 'exec')
                    except (OSError, SyntaxError, ValueError):
                        continue
                    lines = set()
                    todo = [code]
                    while todo:
                        c = todo.pop()
                        lines.update(line for _, _, line in c.co_lines() if line)
                        todo.extend(k for k in c.co_consts if isinstance(k, type(code)))
                    out[rel] = sorted(lines)
        return out


_ENTRY_CODE = {}


def _compile_entry(entry):
    """Compile the entry point once, in the worker (it is the same file for every hook)."""
    with open(entry, 'rb') as f:
        _ENTRY_CODE[entry] = compile(f.read(), entry, 'exec', dont_inherit=True)


def _run_main(entry):
    """Run the entry point as ``__main__``, as ``python src/charm.py`` would."""
    import types

    code = _ENTRY_CODE.get(entry)
    if code is None:
        _compile_entry(entry)
        code = _ENTRY_CODE[entry]
    main = types.ModuleType('__main__')
    main.__file__ = entry
    main.__cached__ = None
    main.__loader__ = None
    main.__builtins__ = __builtins__
    sys.modules['__main__'] = main
    exec(code, main.__dict__)


def _trim_traceback(tb):
    """Drop the frames of this worker and runpy, as if Python had run the entry itself."""
    here = os.path.abspath(__file__)
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if os.path.abspath(name) == here:
            tb = tb.tb_next
        else:
            break
    return tb


# --- what this machine lacks (a finding that is the environment's, not the charm's) ----


class _StandIns:
    """Notes, in a hook's process, each time the charm asks this machine for something a
    real unit would have and this sandbox does not: a program that is not installed, a
    Unix socket nobody serves (``/run/snapd.socket``), the network, or a host path that
    does not exist where nothing in the story could have made it (a read-only place, so
    not the charm's own files). A hook that fails after one is an ``environment`` finding.

    Facts only, from Python's audit events (``subprocess.Popen``, ``socket.connect``,
    ``socket.getaddrinfo``, ``open``, ``os.listdir``, ``os.scandir``) and from ``os.stat``
    (which has no audit event: ``os.path.exists`` and friends call it by that name). Each
    note is a JSON line on an inherited file descriptor, written at once, so a hook that
    is killed keeps what it noted.
    """

    def __init__(self, path, charm_dir):
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        self._seen = set()
        self._busy = False
        # The charm's own files, and the interpreter's (Python looks for optional files of
        # its own, such as ``python311.zip``, which are no concern of the charm's).
        self._ours = tuple(
            p.rstrip('/') + '/'
            for p in {charm_dir, sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path}
            if p and p.startswith('/')
        )
        self._real_stat = os.stat
        self._pebble = ('/charm/containers/',) + tuple(
            d.rstrip('/') + '/' for d in [_HELLO.get('containers_dir')] if d
        )
        # The Kubernetes API the harness serves in this namespace is there, as on a unit.
        kube = _HELLO.get('kube')
        # So are the ports the workload serves ([[target.http]]): while its service is
        # stopped a connection is refused, as on a unit, and that lacks nothing.
        self._served = {(kube['host'], kube['port'])} if kube else set()
        for port in (kube or {}).get('workload_ports', []):
            self._served |= {('127.0.0.1', port), ('::1', port)}

    def note(self, kind, what):
        if (kind, what) in self._seen:
            return
        self._seen.add((kind, what))
        os.write(self._fd, (json.dumps({'kind': kind, 'what': what}) + '\n').encode())

    def _lacking_kind(self, path):
        """The kind of lack a missing ``path`` is: ``snap-file`` inside an installed
        snap's directories (``/snap/<name>/…``, ``/var/snap/<name>/…``), whose content the
        snap ships and the fake machine's snaps do not carry; ``host-path`` in a place the
        charm cannot write; None where the charm could have made it."""
        try:
            text = os.fsdecode(path)
        except TypeError:
            return None
        for top, depth in (('/snap/', 3), ('/var/snap/', 4)):
            if text.startswith(top):
                root = '/'.join(text.split('/')[:depth])
                if root != text and os.path.isdir(root) and not os.path.lexists(text):
                    return 'snap-file'
        return 'host-path' if self._lacking(path) else None

    def _lacking(self, path):
        """Whether ``path`` is missing in a place the charm cannot write."""
        try:
            path = os.fsdecode(path)
        except TypeError:
            return False
        if not path.startswith('/') or (path + '/').startswith(self._ours):
            return False
        probe = path
        while True:
            try:
                self._real_stat(probe)
                break
            except OSError:
                parent = os.path.dirname(probe)
                if parent == probe:
                    return False
                probe = parent
        return probe != path and not os.access(probe, os.W_OK)

    def _read_only_entry(self, path, in_parent):
        """Note ``path`` when the charm changes it (or, ``in_parent``, its directory's
        entry for it) in a host directory that is read-only here."""
        path = os.path.abspath(os.fsdecode(path))
        if (path + '/').startswith(self._ours):
            return
        target = os.path.dirname(path) if in_parent else path
        if os.path.exists(target) and not os.access(target, os.W_OK):
            self.note('read-only', path)

    def _program_missing(self, program, env):
        program = os.fsdecode(program)
        if '/' in program:
            return not os.path.isfile(program)
        path = (env or os.environ).get('PATH', os.defpath)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return not any(os.path.isfile(os.path.join(d, program)) for d in path.split(os.pathsep) if d)

    def audit(self, event, args):
        if self._busy:
            return
        self._busy = True
        try:
            self._audit(event, args)
        except Exception:
            pass
        finally:
            self._busy = False

    def _audit(self, event, args):
        if event == 'subprocess.Popen':
            executable, argv, _cwd, env = args
            if executable is None:
                if isinstance(argv, (str, bytes, os.PathLike)):
                    argv = [argv]
                if not argv:
                    return
                executable = argv[0]
            if self._program_missing(executable, env):
                self.note('program', os.path.basename(os.fsdecode(executable)))
            elif (program := _shell_program(executable, argv)) and self._program_missing(program, env):
                # `shell=True`, or `bash -c "…"`: the program the shell will look for.
                self.note('program', os.path.basename(program))
        elif event == 'socket.connect':
            sock, address = args
            if sock.family == socket.AF_UNIX:
                if isinstance(address, (str, bytes)) and address[:1] not in ('\0', b'\0'):
                    # A Pebble whose container is down has no socket, as on a unit.
                    if os.fsdecode(address).startswith(self._pebble):
                        return
                    try:
                        serves = stat_module.S_ISSOCK(self._real_stat(address).st_mode)
                    except OSError:
                        serves = False
                    # Missing, or a plain file standing in for a daemon's socket
                    # (`running-files`): nothing answers there.
                    if not serves:
                        self.note('socket', os.fsdecode(address))
            elif sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
                if tuple(address[:2]) not in self._served:
                    self.note('network', f'{address[0]}:{address[1]}')
        elif event == 'socket.getaddrinfo':
            host = args[0]
            if isinstance(host, bytes):
                host = host.decode('ascii', 'replace')
            if host and host != 'localhost' and not _is_ip(host):
                self.note('network', f'name lookup of {host}')
        elif event == 'open':
            path, mode, flags = args
            if isinstance(path, int) or path is None:
                return
            writing = (mode and any(c in mode for c in 'wax+')) or (
                flags and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
            if writing:
                # A file that cannot be made, or written, where a unit's root could: an
                # existing writable file (/dev/null) in a read-only directory is fine.
                self._read_only_entry(path, not os.path.exists(path))
                # A file written in a directory an installed snap ships (its
                # `$SNAP_DATA/etc/…`), which the fake's snap does not have.
                parent = os.path.dirname(os.path.abspath(os.fsdecode(path)))
                if not os.path.exists(parent) and self._lacking_kind(path) == 'snap-file':
                    self.note('snap-file', os.fsdecode(path))
            elif kind := self._lacking_kind(path):
                self.note(kind, os.fsdecode(path))
        elif event in ('os.remove', 'os.rmdir', 'os.mkdir', 'os.truncate', 'os.chmod',
                       'os.chown', 'os.utime'):
            # Changing an entry of a read-only host directory (removing a file that may
            # not be there: it is EROFS, not ENOENT, that the charm gets).
            path = args[0] if args else None
            if not isinstance(path, (str, bytes, os.PathLike)):
                return
            # Making a directory that is there fails with EEXIST before the kernel asks
            # whether the place is writable (`mkdir(exist_ok=True)` of a writable path
            # whose parent is the host's read-only /etc), as on a unit.
            if event == 'os.mkdir' and os.path.lexists(path):
                return
            self._read_only_entry(path, event in ('os.remove', 'os.rmdir', 'os.mkdir'))
        elif event in ('os.rename', 'os.symlink', 'os.link'):
            if len(args) > 1 and isinstance(args[1], (str, bytes, os.PathLike)):
                self._read_only_entry(args[1], True)
        elif event in ('os.listdir', 'os.scandir'):
            if args and args[0] is not None and (kind := self._lacking_kind(args[0])):
                self.note(kind, os.fsdecode(args[0]))

    def missing_module(self, exc):
        """Note a module the hook failed to import (anywhere in the exception's chain)
        that the charm's environment does not have: what it declares did not bring it."""
        import importlib.util

        seen = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            if isinstance(exc, ModuleNotFoundError) and exc.name:
                try:
                    absent = importlib.util.find_spec(exc.name.split('.')[0]) is None
                except (ImportError, ValueError):
                    absent = True
                if absent or exc.name.startswith('charms.'):
                    self.note('module', exc.name)
                return
            exc = exc.__cause__ or exc.__context__

    def install(self):
        sys.addaudithook(self.audit)
        real_stat = self._real_stat
        watcher = self

        def stat(path, *args, **kw):
            try:
                return real_stat(path, *args, **kw)
            except FileNotFoundError:
                if not watcher._busy and not isinstance(path, int):
                    watcher._busy = True
                    try:
                        kind = watcher._lacking_kind(path)
                        if kind:
                            watcher.note(kind, os.fsdecode(path))
                    finally:
                        watcher._busy = False
                raise

        os.stat = stat
        self._watch_exec_output()

    def _watch_exec_output(self):
        """Note each Pebble exec whose output the charm takes in (``wait_output``, reading
        ``process.stdout``, or its own ``stdout=`` file): an unscripted command succeeds
        with no output, and only a charm that reads that output can trip on its
        emptiness. One that only waits for the exit code got what a working program
        gives, so a failure after it is still the charm's.
        """
        try:
            from ops import pebble
        except ImportError:
            return  # the charm cannot run at all: a lack of its own
        if not hasattr(pebble, 'ExecProcess'):
            return
        watcher = self
        real_init = pebble.ExecProcess.__init__

        def __init__(proc, *args, **kw):
            real_init(proc, *args, **kw)
            command = ' '.join(getattr(proc, '_command', None) or ())
            if proc.stdout is None:
                watcher.note('exec-output', command)
            else:
                proc.stdout = _ReadWatch(proc.stdout, lambda: watcher.note('exec-output', command))

        pebble.ExecProcess.__init__ = __init__


# Words a shell runs without looking for a program on PATH.
_SHELL_WORDS = frozenset(
    '! [ [[ { } . : alias break case cd command continue declare echo eval exec exit export '
    'false for function getopts hash if kill let local printf pwd read readonly return set '
    'shift source test times trap true type typeset ulimit umask unalias unset until wait '
    'while'.split()
)


def _shell_program(executable, argv):
    """The program a shell's ``-c`` command starts with (after its ``NAME=value``
    assignments), or None: not a shell, a builtin, or a command too clever to read."""
    import shlex

    try:
        name = os.path.basename(os.fsdecode(executable))
        if name not in ('sh', 'bash', 'dash', 'zsh') or isinstance(argv, (str, bytes)):
            return None
        argv = [os.fsdecode(a) for a in argv]
        command = argv[argv.index('-c') + 1]
        words = shlex.split(command, comments=True)
    except (ValueError, IndexError, TypeError):
        return None
    for w in words:
        if '=' in w.split('/')[0] and w.split('=')[0].isidentifier():
            continue
        if w in _SHELL_WORDS or any(c in w for c in '$`;|&<>()*?'):
            return None
        return w
    return None


class _ReadWatch:
    """A readable stream that calls ``on_read`` when it is first read from."""

    def __init__(self, stream, on_read):
        self._stream = stream
        self._on_read = on_read

    def _reading(self):
        if self._on_read is not None:
            self._on_read()
            self._on_read = None
        return self._stream

    def read(self, *a):
        return self._reading().read(*a)

    def read1(self, *a):
        return self._reading().read1(*a)

    def readinto(self, *a):
        return self._reading().readinto(*a)

    def readline(self, *a):
        return self._reading().readline(*a)

    def readlines(self, *a):
        return self._reading().readlines(*a)

    def __iter__(self):
        return iter(self._reading())

    def __next__(self):
        return next(self._reading())

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _is_ip(host):
    import ipaddress

    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _child(req, agent, pipes):
    code = 1
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        for fd, (r, w) in zip((1, 2), pipes):
            os.dup2(w, fd)
            os.close(w)
            os.close(r)
        os.close(devnull)
        os.close(_CONTROL.fileno())
        os.environ.clear()
        os.environ.update(req['env'])
        os.chdir(_HELLO['charm_dir'])
        agent.sock = None
        # Where the hook was if a signal kills it (a segfault in an extension, an abort) or
        # the worker stops it at the timeout (SIGUSR2 first): Python's stack, written to
        # stderr from the signal handler, for the finding to name the charm's frame.
        faulthandler.enable(file=sys.stderr)
        faulthandler.register(STACK_SIGNAL, file=sys.stderr, chain=False)
        if req.get('exec'):
            os.execv(req['exec'][0], req['exec'])
        entry = _HELLO['entry']
        sys.argv = [entry]
        clock = req.get('clock')
        if clock is not None:
            import charmfuzz_clock

            charmfuzz_clock.start(clock['now_ns'], clock['start_ns'], _CLOCK_SEEN)
        stand_ins = None
        if req.get('stand_ins'):
            stand_ins = _StandIns(req['stand_ins'], _HELLO['charm_dir'])
            stand_ins.install()

        # One tracer per thread: line coverage (already tracing, inherited from the worker)
        # takes the place of the bitmap's settrace fallback; charmfuzz never asks for both.
        if _COV is not None and not _COV.monitoring and _LINES is None:
            _COV.start()
        prof = None
        if _HELLO.get('profile'):
            import cProfile
            prof = cProfile.Profile()
            prof.enable()
        try:
            _run_main(entry)
            code = 0
        except SystemExit as e:
            if e.code is None:
                code = 0
            elif isinstance(e.code, int):
                code = e.code
            else:
                print(e.code, file=sys.stderr)
                code = 1
        except BaseException as e:
            if stand_ins is not None:
                stand_ins.missing_module(e)
            sys.excepthook(type(e), e, _trim_traceback(e.__traceback__))
            code = 1
        if prof is not None:
            prof.disable()
            prof.dump_stats(_HELLO['profile'] + f'.{os.getpid()}')
        if _LINES is not None and req.get('lines'):
            sys.settrace(None)
            _LINES.write(req['lines'])
    except BaseException:
        traceback.print_exc()
        code = 70
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code & 0xFF)


def _read_state(db):
    """StoredState and deferred notices from ops' SQLite store, as JSON-able values."""
    if not os.path.exists(db):
        return {}, []
    conn = sqlite3.connect(f'file:{db}?mode=ro', uri=True, timeout=1)
    try:
        stored = {}
        for handle, data in conn.execute('SELECT handle, data FROM snapshot ORDER BY handle'):
            if '/StoredStateData[' not in handle:
                continue
            try:
                stored[handle] = _jsonable(pickle.loads(data))
            except Exception as e:
                stored[handle] = f'<unreadable: {type(e).__name__}>'
        deferred = [
            {'event': path, 'observer': observer, 'method': method}
            for _, path, observer, method in conn.execute(
                'SELECT sequence, event_path, observer_path, method_name FROM notice '
                'ORDER BY sequence'
            )
        ]
        return stored, deferred
    except sqlite3.Error as e:
        return {'<error>': str(e)}, []
    finally:
        conn.close()


def _read_scene(db):
    """StoredState and deferred notices as Python literals, for a reproducer test.

    ops pickles both into its SQLite store; ``repr`` of those values (dicts, lists, sets,
    strings, numbers) is Python source that rebuilds them, so the ops.testing State of a
    reproducer holds exactly what the charm had stored, sets included.
    """
    if not os.path.exists(db):
        return {'stored': [], 'deferred': []}
    conn = sqlite3.connect(f'file:{db}?mode=ro', uri=True, timeout=1)
    try:
        snapshots = dict(conn.execute('SELECT handle, data FROM snapshot'))
        stored = []
        for handle in sorted(snapshots):
            owner, sep, rest = handle.rpartition('/StoredStateData[')
            if not sep:
                continue
            stored.append({
                'owner_path': owner,
                'name': rest.rstrip(']'),
                'content': repr(pickle.loads(snapshots[handle])),
            })
        deferred = []
        for _, path, observer, method in conn.execute(
            'SELECT sequence, event_path, observer_path, method_name FROM notice '
            'ORDER BY sequence'
        ):
            data = snapshots.get(path)
            deferred.append({
                'handle_path': path,
                'owner': observer,
                'observer': method,
                'snapshot': repr(pickle.loads(data) if data is not None else {}),
            })
        return {'stored': stored, 'deferred': deferred}
    finally:
        conn.close()


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(v)


def _run(req, agent):
    """Fork a child for one hook, wait for it within the timeout, report how it ended.

    The child leads its own session, so on a timeout -- and after every hook, for
    anything it left running in the background -- its whole process group is killed.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    start = _monotonic()
    struct.pack_into('<q', _CLOCK_SEEN, 0, -1)
    pipes = [os.pipe(), os.pipe()]
    pid = os.fork()
    if pid == 0:
        _child(req, agent, pipes)
    for _, w in pipes:
        os.close(w)
    outputs = [_Tail(req[name], r) for name, (r, _) in zip(('stdout', 'stderr'), pipes)]
    _reply({'op': 'started', 'pid': pid})
    timed_out = False
    timeout = req.get('timeout')
    deadline = start + timeout if timeout else None
    pidfd = os.pidfd_open(pid)
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        for out in outputs:
            poller.register(out.fd, select.POLLIN)
        exited = False
        while not exited:
            wait = -1 if deadline is None else max(0, int((deadline - _monotonic()) * 1000))
            ready = poller.poll(wait)
            if not ready:
                timed_out = True
                _dump_stack(pid, outputs)
                _killpg(pid)
                break
            for fd, _ in ready:
                if fd == pidfd:
                    exited = True
                else:
                    for out in outputs:
                        if out.fd == fd and not out.drain():
                            poller.unregister(fd)
    finally:
        os.close(pidfd)
    _, status, usage = os.wait4(pid, 0)
    _killpg(pid)
    if _HELLO.get('pid_namespace'):
        # Alone in a PID namespace (bubblewrap's init is pid 1): anything the hook left
        # running, even a daemon that escaped its session, goes now, so that no input
        # sees the processes of another.
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for out in outputs:
        out.finish()
    elapsed = _monotonic() - start
    reply = {'op': 'exited', 'seconds': elapsed, 'timed_out': timed_out,
             'max_rss_kib': usage.ru_maxrss,
             'stdout_bytes': outputs[0].total, 'stderr_bytes': outputs[1].total,
             'output_kept': OUTPUT_KEPT}
    (seen,) = struct.unpack_from('<q', _CLOCK_SEEN, 0)
    if seen >= 0:
        reply['clock_ns'] = seen
    if os.WIFSIGNALED(status):
        reply['signal'] = os.WTERMSIG(status)
    else:
        reply['code'] = os.WEXITSTATUS(status)
    if req.get('want_state'):
        reply['stored'], reply['deferred'] = _read_state(
            os.path.join(_HELLO['charm_dir'], '.unit-state.db')
        )
    _reply(reply)


# The tail of a hook's stdout and stderr that is kept, per stream. A hook may print a
# gigabyte: it goes through a pipe that the worker drains, keeping the last bytes only.
OUTPUT_KEPT = 64 * 1024


class _Tail:
    """One of a hook's output streams: the read end of its pipe, drained into a bounded tail."""

    def __init__(self, path, fd):
        self.path = path
        self.fd = fd
        self.total = 0
        self.tail = bytearray()
        os.set_blocking(fd, False)

    def drain(self):
        """Read what is there; False at the end of the stream (every writer has gone)."""
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return True
            if not chunk:
                return False
            self.total += len(chunk)
            self.tail += chunk
            if len(self.tail) > 2 * OUTPUT_KEPT:
                del self.tail[:-OUTPUT_KEPT]

    def finish(self):
        """Take the last bytes (writers that outlived the hook are gone or ignored), write
        the kept tail where the harness reads it, close the pipe."""
        self.drain()
        os.close(self.fd)
        with open(self.path, 'wb') as f:
            f.write(self.tail[-OUTPUT_KEPT:])


# The signal that asks a hook's process for its Python stack (faulthandler, in the child).
STACK_SIGNAL = signal.SIGUSR2


def _dump_stack(pid, outputs):
    """Ask a hook that ran out of time where it is, and take what it says (a moment at
    most: a process stuck in the kernel may not answer)."""
    try:
        os.kill(pid, STACK_SIGNAL)
    except ProcessLookupError:
        return
    deadline = _monotonic() + 0.2
    err = outputs[1]
    before = err.total
    while _monotonic() < deadline:
        r, _, _ = select.select([err.fd], [], [], max(0, deadline - _monotonic()))
        if not r or not err.drain():
            break
        if err.total > before and err.tail.endswith(b'\n') and b'most recent call first' in err.tail:
            _sleep(0.01)  # the rest of the dump, written in a few calls
            err.drain()
            break


def _killpg(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def main():
    global _CONTROL, _REAL_SUBPROCESS, _HELLO, _CLOCK_SEEN
    import subprocess

    import charmfuzz_clock

    _REAL_SUBPROCESS = subprocess
    # Virtual time's functions go in before ops and the charm are imported, so that every
    # name the charm binds (`from time import sleep`) is one of them; they stay inert in the
    # worker and are switched on in a hook's child when the harness sends a clock.
    charmfuzz_clock.install()
    _CLOCK_SEEN = mmap.mmap(-1, 8)
    control_fd = os.dup(1)
    os.dup2(2, 1)
    _CONTROL = os.fdopen(control_fd, 'w')
    line = sys.stdin.readline()
    if not line:
        return
    _HELLO = hello = json.loads(line)
    try:
        if hello.get('kube'):
            _hand_over_listeners(hello['kube'])
        charm_dir = hello['charm_dir']
        os.chdir(charm_dir)
        sys.path[:0] = hello['sys_path']
        global _COV, _LINES
        if hello.get('coverage'):
            _COV = _Coverage(hello['coverage'])
        if hello.get('lines'):
            _LINES = _Lines(hello['lines'])
            _LINES.start()
        if hello.get('split_charmcraft'):
            _split_charmcraft(charm_dir)
        import ops

        import ops.charm  # noqa: F401

        agent, proxies = _patch_ops(hello)
        failed, missing_libs = [], []
        if hello.get('prewarm', True):
            # A charm whose entry point does not parse (a SyntaxError) is the charm's bug,
            # found in the first hook that runs it, as a unit's dispatch would: the child
            # compiles it again and raises there.
            try:
                failed, missing_libs = _prewarm(hello['entry'])
                _compile_entry(hello['entry'])
            except SyntaxError as e:
                failed.append(f'{hello["entry"]}: {type(e).__name__}: {e}')
        if _COV is not None and _COV.monitoring:
            # Turning sys.monitoring on re-instruments every code object in the process;
            # done here once, every child inherits the instrumented code. A location a
            # child reports is DISABLEd in that child only (its memory is a copy), so the
            # next child reports it again. The charm's module-level code ran at import,
            # before this, so nothing of the charm is disabled here.
            _COV.start()
    except BaseException as e:
        _reply({'op': 'error', 'message': f'{type(e).__name__}: {e}',
                'traceback': traceback.format_exc()})
        return
    _reply({
        'op': 'ready',
        'coverage': None if _COV is None else ('monitoring' if _COV.monitoring else 'settrace'),
        'python': sys.version.split()[0],
        'ops': getattr(ops, '__version__', '?'),
        'intercepted': proxies,
        'prewarm_failed': failed,
        'missing_libs': missing_libs,
        'pid': os.getpid(),
    })
    for line in sys.stdin:
        req = json.loads(line)
        op = req.get('op')
        if op == 'run':
            _run(req, agent)
        elif op == 'state':
            stored, deferred = _read_state(os.path.join(hello['charm_dir'], '.unit-state.db'))
            _reply({'op': 'state', 'stored': stored, 'deferred': deferred})
        elif op == 'scene':
            try:
                _reply({'op': 'scene', **_read_scene(
                    os.path.join(hello['charm_dir'], '.unit-state.db'))})
            except Exception as e:
                _reply({'op': 'error', 'message': f'reading the unit state: {e!r}'})
        elif op == 'lines':
            if _LINES is None:
                _reply({'op': 'error', 'message': 'line coverage is off'})
            else:
                _reply({'op': 'lines', 'executable': _LINES.executable()})
        elif op == 'ping':
            _reply({'op': 'pong'})
        else:
            _reply({'op': 'error', 'message': f'unknown request {op!r}'})


if __name__ == '__main__':
    main()
