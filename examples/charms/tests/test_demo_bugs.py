# Copyright 2025 The charmfuzz authors.
# See LICENSE file for licensing details.

"""Scenario (ops.testing) stories for the demo charms shipped with charmfuzz.

For each planted bug in `demo-k8s`, the minimal Juju event story that triggers it is run
event by event, threading the output State of one hook into the next. The last event must
raise the planted exception, from the line marked `# PLANTED BUG-n`, in `demo-k8s`, and must
not raise in `demo-k8s-clean`. Likewise for the machine charm's bugs (`# BUG-Mn`) in
`demo-machine` and `demo-machine-clean`. The stories are the ones written out in ../README.md.

All demo charms have the module name `charm`, so each is imported from its file path under
a distinct module name. The machine charms run `apt-get` and `systemctl`, which Scenario does
not provide: `subprocess.run` is patched with a fake host (`FakeHost`), and the charms'
`/etc/demo` is pointed at a temporary directory.

Run: .venv/bin/python -m pytest examples/charms/tests -q
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import json
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import ops
import pytest
from ops import pebble, testing
from scenario.errors import UncaughtCharmError

CHARMS_DIR = Path(__file__).resolve().parent.parent

PEER_ID = 1
DB_ID = 2
INGRESS_ID = 3
METRICS_ID = 4

DB_APP_DATA = {
    "username": "demo_user",
    "password": "s3cret",
    "endpoints": "postgresql-0.postgresql-endpoints:5432",
}


def load_charm_module(charm: str) -> ModuleType:
    """Import `<charm>/src/charm.py` as module `<charm>_charm` (e.g. `demo_k8s_clean_charm`)."""
    name = charm.replace("-", "_") + "_charm"
    if name in sys.modules:
        return sys.modules[name]
    path = CHARMS_DIR / charm / "src" / "charm.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # Scenario finds the charm root through the module's file
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo_k8s() -> ModuleType:
    return load_charm_module("demo-k8s")


@pytest.fixture(scope="module")
def demo_k8s_clean() -> ModuleType:
    return load_charm_module("demo-k8s-clean")


@pytest.fixture(scope="module")
def demo_machine() -> ModuleType:
    return load_charm_module("demo-machine")


@pytest.fixture(scope="module")
def demo_machine_clean() -> ModuleType:
    return load_charm_module("demo-machine-clean")


class Story:
    """A unit's life, one hook at a time: runs each event on the current State."""

    def __init__(self, ctx: testing.Context, state: testing.State):
        self.ctx = ctx
        self.state = state
        self.hooks: list[str] = []

    def run(self, hook: str, event) -> Story:
        self.state = self.ctx.run(event, self.state)
        self.hooks.append(hook)
        return self

    def change(self, **changes) -> Story:
        """Change the world between hooks (no hook runs)."""
        self.state = dataclasses.replace(self.state, **changes)
        return self

    def rel(self, relation_id: int) -> testing.RelationBase:
        return self.state.get_relation(relation_id)

    def container(self, name: str = "web") -> testing.Container:
        return self.state.get_container(name)

    def add_relation(self, relation: testing.RelationBase) -> Story:
        return self.change(relations=[*self.state.relations, relation])

    def replace_relation(self, relation_id: int, **changes) -> Story:
        others = [r for r in self.state.relations if r.id != relation_id]
        new = dataclasses.replace(self.rel(relation_id), **changes)
        return self.change(relations=[*others, new])

    def remove_relation(self, relation_id: int) -> Story:
        return self.change(relations=[r for r in self.state.relations if r.id != relation_id])

    def replace_container(self, name: str = "web", **changes) -> Story:
        others = [c for c in self.state.containers if c.name != name]
        new = dataclasses.replace(self.container(name), **changes)
        return self.change(containers=[*others, new])

    def stored(self, charm_class: type) -> dict:
        return self.state.get_stored_state("_stored", owner_path=charm_class.__name__).content


# ---------------------------------------------------------------------------------------------
# demo-k8s stories


def k8s_state(*, peers: dict[int, dict[str, str]] | None = None) -> testing.State:
    return testing.State(
        leader=True,
        relations=[testing.PeerRelation("replicas", id=PEER_ID, peers_data=peers or {})],
        containers=[testing.Container("web", can_connect=False)],
    )


def k8s_setup(ctx: testing.Context, state: testing.State, *, storage=True, pebble_ready=True):
    """install → replicas-relation-created → leader-elected → [data-storage-attached] →
    config-changed → start → [web-pebble-ready] (§L2.1, §L7 "deploy (K8s)")."""
    s = Story(ctx, state)
    s.run("install", ctx.on.install())
    s.run("replicas-relation-created", ctx.on.relation_created(s.rel(PEER_ID)))
    s.run("leader-elected", ctx.on.leader_elected())
    if storage:
        data = testing.Storage("data", index=0)
        s.change(storages=[data])
        s.run("data-storage-attached", ctx.on.storage_attached(data))
    s.run("config-changed", ctx.on.config_changed())
    s.run("start", ctx.on.start())
    if pebble_ready:
        s.replace_container(can_connect=True)
        s.run("web-pebble-ready", ctx.on.pebble_ready(s.container()))
    return s


def pebble_up(s: Story) -> testing.Container:
    """Pebble in the web container becomes reachable (no hook by itself)."""
    s.replace_container(can_connect=True)
    return s.container()


def check_event(s: Story, status: pebble.CheckStatus) -> testing.CheckInfo:
    """Set the web-alive check's status in the container and return its CheckInfo."""
    container = s.container()
    info = container.get_check_info("web-alive")
    failures = info.threshold if status == pebble.CheckStatus.DOWN else 0
    new = dataclasses.replace(info, status=status, failures=failures)
    others = [c for c in container.check_infos if c.name != "web-alive"]
    s.replace_container(check_infos=[*others, new])
    return new


def story_bug1(ctx: testing.Context):
    """install, replicas-relation-created, leader-elected, web-pebble-ready."""
    s = Story(ctx, k8s_state())
    s.run("install", ctx.on.install())
    s.run("replicas-relation-created", ctx.on.relation_created(s.rel(PEER_ID)))
    s.run("leader-elected", ctx.on.leader_elected())
    return s, "web-pebble-ready", ctx.on.pebble_ready(pebble_up(s))


def story_bug2(ctx: testing.Context):
    """setup without pebble-ready, then a db relation comes and goes while Pebble is down."""
    s = k8s_setup(ctx, k8s_state(), storage=False, pebble_ready=False)
    db = testing.Relation(
        "db",
        id=DB_ID,
        remote_app_name="postgresql",
        remote_app_data=DB_APP_DATA,
        remote_units_data={0: {}},
    )
    s.add_relation(db)
    s.run("db-relation-created", ctx.on.relation_created(s.rel(DB_ID)))
    s.run("db-relation-joined", ctx.on.relation_joined(s.rel(DB_ID), remote_unit=0))
    s.run("db-relation-changed", ctx.on.relation_changed(s.rel(DB_ID), remote_unit=0))
    assert [d.name for d in s.state.deferred] == ["db_relation_changed"]  # Pebble not up yet
    s.run(
        "db-relation-departed",
        ctx.on.relation_departed(s.rel(DB_ID), remote_unit=0, departing_unit=0),
    )
    s.replace_relation(DB_ID, remote_units_data={})
    s.run("db-relation-broken", ctx.on.relation_broken(s.rel(DB_ID)))
    s.remove_relation(DB_ID)
    assert [d.name for d in s.state.deferred] == ["db_relation_changed"]  # still queued
    return s, "web-pebble-ready", ctx.on.pebble_ready(pebble_up(s))


def story_bug3(ctx: testing.Context):
    """setup as leader; leadership moves to demo/1 (no hook here); rotate-password."""
    s = k8s_setup(ctx, k8s_state(peers={1: {}}), storage=False, pebble_ready=False)
    s.change(leader=False)  # Juju gives the lease to demo/1: no hook on demo/0 (§L2.4)
    return s, "rotate-password", ctx.on.action("rotate-password")


def story_bug4(ctx: testing.Context):
    """setup; a db relation; backup; web-alive fails, recovers, fails again; get-status."""
    s = k8s_setup(ctx, k8s_state())
    s.add_relation(testing.Relation("db", id=DB_ID, remote_app_name="postgresql"))
    s.run("db-relation-created", ctx.on.relation_created(s.rel(DB_ID)))
    s.run("backup", ctx.on.action("backup", params={"label": "nightly"}))
    failed = check_event(s, pebble.CheckStatus.DOWN)
    s.run("web-pebble-check-failed", ctx.on.pebble_check_failed(s.container(), failed))
    recovered = check_event(s, pebble.CheckStatus.UP)
    s.run("web-pebble-check-recovered", ctx.on.pebble_check_recovered(s.container(), recovered))
    failed = check_event(s, pebble.CheckStatus.DOWN)
    s.run("web-pebble-check-failed", ctx.on.pebble_check_failed(s.container(), failed))
    return s, "get-status", ctx.on.action("get-status")


K8S_SETUP = [
    "install",
    "replicas-relation-created",
    "leader-elected",
    "data-storage-attached",
    "config-changed",
    "start",
    "web-pebble-ready",
]

# bug → (story, expected exception, the full hook sequence ending with the trigger)
BUGS: dict[int, tuple[Callable, type[BaseException], list[str]]] = {
    1: (
        story_bug1,
        KeyError,
        ["install", "replicas-relation-created", "leader-elected", "web-pebble-ready"],
    ),
    2: (
        story_bug2,
        AttributeError,
        [
            "install",
            "replicas-relation-created",
            "leader-elected",
            "config-changed",
            "start",
            "db-relation-created",
            "db-relation-joined",
            "db-relation-changed",
            "db-relation-departed",
            "db-relation-broken",
            "web-pebble-ready",
        ],
    ),
    3: (
        story_bug3,
        ops.RelationDataAccessError,
        [
            "install",
            "replicas-relation-created",
            "leader-elected",
            "config-changed",
            "start",
            "rotate-password",
        ],
    ),
    4: (
        story_bug4,
        ValueError,
        [
            *K8S_SETUP,
            "db-relation-created",
            "backup",
            "web-pebble-check-failed",
            "web-pebble-check-recovered",
            "web-pebble-check-failed",
            "get-status",
        ],
    ),
}


def planted_marker(exc: BaseException, charm_file: Path) -> str:
    """The `# PLANTED BUG-n` comment above the line that raised `exc` in `charm_file`.

    The comment sits on the crashing line's function body, above the crash (for BUG-3 it marks
    the stale guard that lets the crashing write through)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == charm_file]
    assert frames, f"{exc!r} was not raised from {charm_file}"
    lines = charm_file.read_text().splitlines()
    for line in reversed(lines[: frames[-1].lineno - 1]):
        line = line.strip()
        if line.startswith("# PLANTED BUG-"):
            return line
        if line.startswith("def "):
            break
    raise AssertionError(f"no PLANTED marker above {charm_file}:{frames[-1].lineno}")


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_planted_bug_raises_in_demo_k8s(demo_k8s, bug):
    story, expected, hooks = BUGS[bug]
    ctx = testing.Context(demo_k8s.DemoCharm)
    s, trigger_hook, trigger = story(ctx)
    assert [*s.hooks, trigger_hook] == hooks

    with pytest.raises(UncaughtCharmError) as info:
        s.run(trigger_hook, trigger)

    cause = info.value.__cause__
    assert type(cause) is expected, repr(cause)
    marker = planted_marker(cause, Path(demo_k8s.__file__))
    assert marker.startswith(f"# PLANTED BUG-{bug}:"), marker


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_same_story_is_fine_in_demo_k8s_clean(demo_k8s_clean, bug):
    story, _, hooks = BUGS[bug]
    ctx = testing.Context(demo_k8s_clean.DemoCharm)
    s, trigger_hook, trigger = story(ctx)
    assert [*s.hooks, trigger_hook] == hooks

    if bug == 3:
        # The fixed charm refuses on a follower: a failed action, not a crashed hook.
        with pytest.raises(testing.ActionFailed, match="only the leader"):
            s.run(trigger_hook, trigger)
        return
    s.run(trigger_hook, trigger)
    stored = s.stored(demo_k8s_clean.DemoCharm)
    if bug == 1:
        assert stored["web_config"] == {}  # config-changed has not run: nothing configured
        assert not s.container().layers
    elif bug == 2:
        assert not s.state.deferred  # the stale event was dropped
        assert stored["db_uri"] == ""
    elif bug == 4:
        assert ctx.action_results is not None
        assert ctx.action_results["recovery"] == "restoring"
        assert ctx.action_results["last-restore"]["backup"] == stored["last_backup"]


def test_bug1_story_continues_normally_in_demo_k8s_clean(demo_k8s_clean):
    """After the early pebble-ready, config-changed configures the workload."""
    ctx = testing.Context(demo_k8s_clean.DemoCharm)
    s, hook, trigger = story_bug1(ctx)
    s.run(hook, trigger)
    s.run("config-changed", ctx.on.config_changed())
    s.run("start", ctx.on.start())
    assert "demo" in s.container().layers
    assert s.state.opened_ports == {testing.TCPPort(8080)}


def readme_story(bug: int | str) -> tuple[list[str], str]:
    """The hook names of BUG-n's story in ../README.md, and that section's text."""
    text = (CHARMS_DIR / "README.md").read_text()
    section = text.split(f"### BUG-{bug} ")[1].split("\n### ")[0]
    block = section.split("```")[1]
    hooks = [
        line.split()[0]
        for line in block.splitlines()
        if line.strip() and not line.startswith((" ", "("))
    ]
    return hooks, section


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_readme_tells_the_same_story(demo_k8s, bug):
    story, _, hooks = BUGS[bug]
    readme_hooks, section = readme_story(bug)
    assert readme_hooks == hooks
    ctx = testing.Context(demo_k8s.DemoCharm)
    s, trigger_hook, trigger = story(ctx)
    with pytest.raises(UncaughtCharmError) as info:
        s.run(trigger_hook, trigger)
    charm_file = Path(demo_k8s.__file__)
    frames = traceback.extract_tb(info.value.__cause__.__traceback__)
    line = [f for f in frames if Path(f.filename) == charm_file][-1].lineno
    assert f"`demo-k8s/src/charm.py:{line}`" in section


# ---------------------------------------------------------------------------------------------
# demo-machine stories

WEBSITE_ID = 3


class FakeHost:
    """The host a machine charm drives, as far as the demo charms use it.

    Stands in for `subprocess.run`: records each call and keeps a tiny package and service
    state. Installing `demo-server` starts it (as the Debian postinst does), so
    `systemctl is-active` answers "active" from then on until `systemctl stop`; charmfuzz's
    shim (demo-machine/charmfuzz.toml) answers "active" to every call.
    """

    def __init__(self):
        self.calls: list[list[str]] = []
        self.installed = False
        self.enabled = False
        self.active = False

    def run(self, args, *, check=False, **kwargs) -> subprocess.CompletedProcess[str]:
        args = [str(a) for a in args]
        self.calls.append(args)
        program, command = args[0], args[1] if len(args) > 1 else ""
        code, stdout = 0, ""
        if program == "apt-get" and command == "install":
            self.installed = self.active = True
        elif program == "apt-get" and command == "remove":
            self.installed = self.enabled = self.active = False
        elif program == "apt-get" and command == "update":
            pass
        elif program == "systemctl" and command in ("enable", "disable"):
            self.enabled = command == "enable"
        elif program == "systemctl" and command in ("start", "restart"):
            code = 0 if self.installed else 5  # "Unit demo-server.service not found."
            self.active = self.installed
        elif program == "systemctl" and command == "stop":
            self.active = False
        elif program == "systemctl" and command == "is-active":
            code, stdout = (0, "active\n") if self.active else (3, "inactive\n")
        else:
            raise AssertionError(f"unexpected host command {args}")
        if check and code:
            raise subprocess.CalledProcessError(code, args, stdout, "")
        return subprocess.CompletedProcess(args, code, stdout, "")

    def ran(self, *args: str) -> bool:
        return list(args) in self.calls


@pytest.fixture
def host(monkeypatch, tmp_path) -> FakeHost:
    """A fresh fake host for each test; /etc/demo of both machine charms under tmp_path."""
    fake = FakeHost()
    monkeypatch.setattr(subprocess, "run", fake.run)
    for charm in ("demo-machine", "demo-machine-clean"):
        monkeypatch.setattr(load_charm_module(charm), "CONFIG_DIR", tmp_path / "etc-demo")
    return fake


def demo_conf(module: ModuleType) -> dict:
    return json.loads((module.CONFIG_DIR / "demo.conf").read_text())


def machine_state(
    *,
    peers: dict[int, dict[str, str]] | None = None,
    storages: list[testing.Storage] | None = None,
    relations: list[testing.RelationBase] | None = None,
) -> testing.State:
    return testing.State(
        leader=True,
        relations=[
            testing.PeerRelation("cluster", id=PEER_ID, peers_data=peers or {}),
            *(relations or []),
        ],
        storages=storages or [],
    )


def machine_story_m1(ctx: testing.Context):
    """install, cluster-relation-created, leader-elected, then the restart action."""
    s = Story(ctx, machine_state())
    s.run("install", ctx.on.install())
    s.run("cluster-relation-created", ctx.on.relation_created(s.rel(PEER_ID)))
    s.run("leader-elected", ctx.on.leader_elected())
    return s, "restart", ctx.on.action("restart")


def machine_story_m2(ctx: testing.Context):
    """cache/0 attached at deploy (deferred) and detached before the first config-changed."""
    cache0 = testing.Storage("cache", index=0)
    s = Story(ctx, machine_state(storages=[cache0]))
    s.run("cache-storage-attached", ctx.on.storage_attached(cache0))
    s.run("install", ctx.on.install())
    s.run("cluster-relation-created", ctx.on.relation_created(s.rel(PEER_ID)))
    s.run("leader-elected", ctx.on.leader_elected())
    s.run("cache-storage-detaching", ctx.on.storage_detaching(cache0))
    s.change(storages=[])  # detached: storage-list no longer has cache/0
    return s, "config-changed", ctx.on.config_changed()


def machine_story_m3(ctx: testing.Context):
    """Deploy with a db relation that has no credentials yet; the lease moves; the db
    relation is removed before any postgresql unit joined."""
    db = testing.Relation("db", id=DB_ID, remote_app_name="postgresql", remote_units_data={})
    s = Story(ctx, machine_state(peers={1: {}}, relations=[db]))
    s.run("install", ctx.on.install())
    s.run("cluster-relation-created", ctx.on.relation_created(s.rel(PEER_ID)))
    s.run("db-relation-created", ctx.on.relation_created(s.rel(DB_ID)))
    s.run("leader-elected", ctx.on.leader_elected())
    s.run("config-changed", ctx.on.config_changed())
    s.run("start", ctx.on.start())
    s.change(leader=False)  # Juju gives the lease to demo-machine/1: no hook here (§L2.4)
    return s, "db-relation-broken", ctx.on.relation_broken(s.rel(DB_ID))


MACHINE_DEPLOY = ["install", "cluster-relation-created", "leader-elected"]

# bug → (story, expected exception, the full hook sequence ending with the trigger)
MACHINE_BUGS: dict[str, tuple[Callable, type[BaseException], list[str]]] = {
    "M1": (machine_story_m1, FileNotFoundError, [*MACHINE_DEPLOY, "restart"]),
    "M2": (
        machine_story_m2,
        RuntimeError,
        [
            "cache-storage-attached",
            *MACHINE_DEPLOY,
            "cache-storage-detaching",
            "config-changed",
        ],
    ),
    "M3": (
        machine_story_m3,
        ops.RelationDataAccessError,
        [
            "install",
            "cluster-relation-created",
            "db-relation-created",
            "leader-elected",
            "config-changed",
            "start",
            "db-relation-broken",
        ],
    ),
}


def marked_line(module: ModuleType, bug: str) -> int:
    """The line number of the statement below `# BUG-<bug>:` in the module's file."""
    lines = Path(module.__file__).read_text().splitlines()
    found = [i for i, line in enumerate(lines) if line.strip().startswith(f"# BUG-{bug}:")]
    assert len(found) == 1, f"expected one # BUG-{bug}: marker, found {len(found)}"
    return found[0] + 2  # 1-based number of the next line


def raising_charm_lines(exc: BaseException, charm_file: Path) -> list[int]:
    """The lines of `charm_file` in the traceback of `exc`, outermost first."""
    frames = traceback.extract_tb(exc.__traceback__)
    return [f.lineno for f in frames if Path(f.filename) == charm_file and f.lineno]


@pytest.mark.parametrize("bug", sorted(MACHINE_BUGS))
def test_planted_bug_raises_in_demo_machine(demo_machine, host, bug):
    story, expected, hooks = MACHINE_BUGS[bug]
    ctx = testing.Context(demo_machine.DemoMachineCharm)
    s, trigger_hook, trigger = story(ctx)
    assert [*s.hooks, trigger_hook] == hooks
    deferred_before = [(d.name, d.observer) for d in s.state.deferred]

    with pytest.raises(UncaughtCharmError) as info:
        s.run(trigger_hook, trigger)

    cause = info.value.__cause__
    assert type(cause) is expected, repr(cause)
    marked = marked_line(demo_machine, bug)
    charm_lines = raising_charm_lines(cause, Path(demo_machine.__file__))
    if bug == "M2":
        # ops itself raises while re-emitting the deferred event, before any charm code
        # runs: the marked line is the `event.defer()` that queued it.
        assert "failed loading storage (name='cache', index=0)" in str(cause)
        assert deferred_before == [("cache_storage_attached", "_on_cache_attached")]
        assert "# BUG-M2:" in inspect.getsource(demo_machine.DemoMachineCharm._on_cache_attached)
        assert not charm_lines
    else:
        # The marked line is on the way to the crash (for M3 the call that writes).
        assert marked in charm_lines, (marked, charm_lines)
    if bug == "M3":
        assert deferred_before == [("leader_elected", "_on_leader_elected")]
        assert "is not leader" in str(cause)


@pytest.mark.parametrize("bug", sorted(MACHINE_BUGS))
def test_same_story_is_fine_in_demo_machine_clean(demo_machine_clean, host, bug):
    story, _, hooks = MACHINE_BUGS[bug]
    ctx = testing.Context(demo_machine_clean.DemoMachineCharm)
    s, trigger_hook, trigger = story(ctx)
    assert [*s.hooks, trigger_hook] == hooks

    if bug == "M1":
        # The fixed charm refuses before the first config-changed: a failed action.
        with pytest.raises(testing.ActionFailed, match="not configured yet"):
            s.run(trigger_hook, trigger)
        assert not host.ran("systemctl", "restart", "demo-server")
        return
    s.run(trigger_hook, trigger)
    stored = s.stored(demo_machine_clean.DemoMachineCharm)
    assert not s.state.deferred
    if bug == "M2":
        # config-changed configured the service without the detached cache.
        assert stored["config_hash"]
        assert demo_conf(demo_machine_clean)["cache-dirs"] == []
    elif bug == "M3":
        # The stale leader-elected was dropped; the new leader keeps the cluster record.
        assert s.rel(PEER_ID).local_app_data == {}
        assert stored["db_uri"] == ""


def test_m1_story_continues_normally_in_demo_machine_clean(demo_machine_clean, host):
    """After the refused restart, config-changed and start configure and run the service."""
    ctx = testing.Context(demo_machine_clean.DemoMachineCharm)
    s, hook, trigger = machine_story_m1(ctx)
    with pytest.raises(testing.ActionFailed):
        s.run(hook, trigger)
    s.run("config-changed", ctx.on.config_changed())
    s.run("start", ctx.on.start())
    s.run("restart", ctx.on.action("restart"))
    assert ctx.action_results == {"restarted": True, "listen": ":8080"}


def test_m3_with_credentials_instead_of_broken(demo_machine, demo_machine_clean, host):
    """M3's other ending: the credentials arrive after the lease moved. The deferred
    leader-elected is still deferred in db-relation-changed (ops re-emits it before the
    handler stores the credentials) and writes in the next hook, here update-status."""
    for module, raises in ((demo_machine, True), (demo_machine_clean, False)):
        ctx = testing.Context(module.DemoMachineCharm)
        s, _, _ = machine_story_m3(ctx)
        s.replace_relation(DB_ID, remote_app_data=DB_APP_DATA, remote_units_data={0: {}})
        s.run("db-relation-joined", ctx.on.relation_joined(s.rel(DB_ID), remote_unit=0))
        s.run("db-relation-changed", ctx.on.relation_changed(s.rel(DB_ID), remote_unit=0))
        assert s.stored(module.DemoMachineCharm)["db_uri"].startswith("postgresql://demo_user")
        if raises:
            assert [d.name for d in s.state.deferred] == ["leader_elected"]
            with pytest.raises(UncaughtCharmError) as info:
                s.run("update-status", ctx.on.update_status())
            assert type(info.value.__cause__) is ops.RelationDataAccessError
        else:
            assert not s.state.deferred
            s.run("update-status", ctx.on.update_status())
            assert demo_conf(module)["database"].startswith("postgresql://demo_user")


@pytest.mark.parametrize("bug", sorted(MACHINE_BUGS))
def test_charmfuzz_trace_tells_the_same_machine_story(bug):
    """tests/traces/demo-machine-bug-<m>.json is the story as a charmfuzz trace (for
    `charmfuzz run --trace`): its hooks start with the story, up to the one that fails. The
    rest are the hooks Juju still had queued when the story ends."""
    _, _, hooks = MACHINE_BUGS[bug]
    trace = json.loads(
        (Path(__file__).parent / "traces" / f"demo-machine-bug-{bug.lower()}.json").read_text()
    )
    assert trace["charm"] == "demo-machine"
    trace_hooks = [e["hook"] for step in trace["steps"] for e in step["events"]]
    assert [h.removesuffix("-action") for h in trace_hooks[: len(hooks)]] == hooks


@pytest.mark.parametrize("bug", sorted(MACHINE_BUGS))
def test_readme_tells_the_same_machine_story(demo_machine, host, bug):
    story, _, hooks = MACHINE_BUGS[bug]
    readme_hooks, section = readme_story(bug)
    assert readme_hooks == hooks
    assert f"`demo-machine/src/charm.py:{marked_line(demo_machine, bug)}`" in section
    ctx = testing.Context(demo_machine.DemoMachineCharm)
    s, trigger_hook, trigger = story(ctx)
    with pytest.raises(UncaughtCharmError) as info:
        s.run(trigger_hook, trigger)
    lines = raising_charm_lines(info.value.__cause__, Path(demo_machine.__file__))
    if lines:  # M2 raises in ops, below any charm line
        assert f"`demo-machine/src/charm.py:{lines[-1]}`" in section


# ---------------------------------------------------------------------------------------------
# happy paths


@pytest.mark.parametrize("charm", ["demo-k8s", "demo-k8s-clean"])
def test_demo_k8s_happy_path(charm):
    module = load_charm_module(charm)
    ctx = testing.Context(module.DemoCharm)
    s = k8s_setup(ctx, k8s_state(peers={1: {}}))
    assert s.hooks == K8S_SETUP
    assert s.state.unit_status == testing.BlockedStatus("needs a db relation")
    peer_app_data = s.rel(PEER_ID).local_app_data
    admin_secret = s.state.get_secret(label="demo-admin")
    assert peer_app_data["admin-secret-id"] == admin_secret.id

    # A peer joins.
    s.run("replicas-relation-joined", ctx.on.relation_joined(s.rel(PEER_ID), remote_unit=1))
    s.run("replicas-relation-changed", ctx.on.relation_changed(s.rel(PEER_ID), remote_unit=1))
    assert s.rel(PEER_ID).local_app_data["members"] == "2"
    assert s.rel(PEER_ID).local_unit_data["address"].startswith("demo-0.demo-endpoints.")

    # The database arrives.
    s.add_relation(
        testing.Relation("db", id=DB_ID, remote_app_name="postgresql", remote_units_data={0: {}})
    )
    s.run("db-relation-created", ctx.on.relation_created(s.rel(DB_ID)))
    assert s.rel(DB_ID).local_app_data == {"database": "demo"}
    s.run("db-relation-joined", ctx.on.relation_joined(s.rel(DB_ID), remote_unit=0))
    s.run("db-relation-changed", ctx.on.relation_changed(s.rel(DB_ID), remote_unit=0))
    assert s.state.unit_status == testing.WaitingStatus("waiting for database credentials")
    s.replace_relation(DB_ID, remote_app_data=DB_APP_DATA)
    s.run("db-relation-changed", ctx.on.relation_changed(s.rel(DB_ID)))
    config_file = s.container().get_filesystem(ctx) / "etc/demo/demo.yaml"
    rendered = json.loads(config_file.read_text())
    assert rendered["database"].startswith("postgresql://demo_user:s3cret@postgresql-0")
    assert rendered["admin-password"] == admin_secret.tracked_content["password"]

    # Ingress and metrics.
    s.add_relation(testing.Relation("ingress", id=INGRESS_ID, remote_app_name="traefik"))
    s.run("ingress-relation-changed", ctx.on.relation_changed(s.rel(INGRESS_ID)))
    assert s.rel(INGRESS_ID).local_app_data["port"] == "8080"
    s.replace_relation(
        INGRESS_ID, remote_app_data={"ingress": json.dumps({"url": "https://demo.example.com/"})}
    )
    s.run("ingress-relation-changed", ctx.on.relation_changed(s.rel(INGRESS_ID)))
    assert s.rel(PEER_ID).local_app_data["url"] == "https://demo.example.com/"
    s.add_relation(
        testing.Relation(
            "metrics-endpoint",
            id=METRICS_ID,
            remote_app_name="prometheus",
            remote_units_data={0: {}},
        )
    )
    s.run(
        "metrics-endpoint-relation-joined",
        ctx.on.relation_joined(s.rel(METRICS_ID), remote_unit=0),
    )
    assert "scrape_jobs" in s.rel(METRICS_ID).local_app_data
    assert s.state.unit_status == testing.ActiveStatus("https://demo.example.com/")
    assert s.state.opened_ports == {testing.TCPPort(8080)}

    # Actions.
    s.run("backup", ctx.on.action("backup", params={"label": "before-upgrade"}))
    assert ctx.action_results is not None
    backup_id = ctx.action_results["backup-id"]
    manifest = s.container().get_filesystem(ctx) / ctx.action_results["path"].lstrip("/")
    assert json.loads(manifest.read_text())["id"] == backup_id
    s.run("rotate-password", ctx.on.action("rotate-password"))
    assert "password-rotated-at" in s.rel(PEER_ID).local_app_data
    rotated = s.state.get_secret(label="demo-admin")
    assert rotated.latest_content != admin_secret.latest_content
    s.run("get-status", ctx.on.action("get-status"))
    assert ctx.action_results["last-backup"] == backup_id
    assert ctx.action_results["db-connected"] is True

    # One failing health check: the charm restarts the server, then it recovers.
    failed = check_event(s, pebble.CheckStatus.DOWN)
    s.run("web-pebble-check-failed", ctx.on.pebble_check_failed(s.container(), failed))
    recovered = check_event(s, pebble.CheckStatus.UP)
    s.run("web-pebble-check-recovered", ctx.on.pebble_check_recovered(s.container(), recovered))
    notice = testing.Notice("demo.example/reload-config")
    s.replace_container(notices=[notice])
    s.run("web-pebble-custom-notice", ctx.on.pebble_custom_notice(s.container(), notice))
    s.run("update-status", ctx.on.update_status())
    assert s.state.unit_status == testing.ActiveStatus("https://demo.example.com/")

    # A new config value, then teardown.
    s.change(config={"port": 9090, "log-level": "debug"})
    s.run("config-changed", ctx.on.config_changed())
    assert s.state.opened_ports == {testing.TCPPort(9090)}
    assert s.rel(INGRESS_ID).local_app_data["port"] == "9090"
    s.run("data-storage-detaching", ctx.on.storage_detaching(s.state.get_storage("data")))
    s.run(
        "db-relation-departed",
        ctx.on.relation_departed(s.rel(DB_ID), remote_unit=0, departing_unit=0),
    )
    s.run("db-relation-broken", ctx.on.relation_broken(s.rel(DB_ID)))
    s.remove_relation(DB_ID)
    s.run("ingress-relation-broken", ctx.on.relation_broken(s.rel(INGRESS_ID)))
    s.remove_relation(INGRESS_ID)
    assert "url" not in s.rel(PEER_ID).local_app_data
    s.run("stop", ctx.on.stop())
    s.run("remove", ctx.on.remove())


@pytest.mark.parametrize("charm", ["demo-k8s", "demo-k8s-clean"])
def test_check_failed_after_the_workload_container_restarted(charm):
    """An unplanted bug charmfuzz found in both demo charms (a night on the clean one).

    Kubernetes restarts a container whose alive-level check fails (Juju makes Pebble's alive
    checks the pod's liveness probe), so the queued web-pebble-check-failed can run against
    a fresh Pebble, with no layer yet, before the web-pebble-ready that follows the restart
    (§L2.9). Restarting `web` there raised "service does not exist"; the charm now leaves it
    to pebble-ready.
    """
    module = load_charm_module(charm)
    ctx = testing.Context(module.DemoCharm)
    s = k8s_setup(ctx, k8s_state())
    assert "web" in s.container().plan.services
    failed = check_event(s, pebble.CheckStatus.DOWN)
    # The restart: a new Pebble, reachable, with none of the layers the charm added. (Scenario
    # wants the failed check in the plan, so a layer declares it alone: no service, as after
    # a real restart, where the plan is empty.)
    check = {"override": "replace", "level": "alive", "exec": {"command": "true"}}
    only_check = pebble.Layer({"checks": {"web-alive": check}})
    s.replace_container(layers={"image": only_check}, service_statuses={})
    assert "web" not in s.container().plan.services
    s.run("web-pebble-check-failed", ctx.on.pebble_check_failed(s.container(), failed))
    assert s.stored(module.DemoCharm)["recovery"] == ""
    s.run("web-pebble-ready", ctx.on.pebble_ready(s.container()))
    assert "web" in s.container().plan.services


@pytest.mark.parametrize("charm", ["demo-machine", "demo-machine-clean"])
def test_demo_machine_happy_path(charm, host):
    module = load_charm_module(charm)
    ctx = testing.Context(module.DemoMachineCharm)
    cache0 = testing.Storage("cache", index=0)
    s = Story(ctx, machine_state(peers={1: {}}, storages=[cache0]))

    # Machine deploy (§L2.1, §L7): storage-attached before install.
    s.run("cache-storage-attached", ctx.on.storage_attached(cache0))
    s.run("install", ctx.on.install())
    assert host.ran("apt-get", "install", "-y", "demo-server")
    s.run("cluster-relation-created", ctx.on.relation_created(s.rel(PEER_ID)))
    s.run("leader-elected", ctx.on.leader_elected())
    peer_app_data = s.rel(PEER_ID).local_app_data
    assert peer_app_data["leader"] == "demo-machine/0"
    assert peer_app_data["database"] == "none"
    s.run("config-changed", ctx.on.config_changed())
    conf = demo_conf(module)
    assert conf["listen"] == ":8080"
    cache_dir = cache0.get_filesystem(ctx)
    assert conf["cache-dirs"] == [str(cache_dir)]
    assert (cache_dir / "CACHEDIR.TAG").read_text().startswith("Signature: ")
    s.run("start", ctx.on.start())
    assert host.ran("systemctl", "enable", "demo-server")
    assert host.ran("systemctl", "restart", "demo-server")
    assert not s.state.deferred
    assert s.state.opened_ports == {testing.TCPPort(8080)}
    assert s.state.unit_status == testing.BlockedStatus("needs a db relation")

    # A peer joins.
    s.run("cluster-relation-joined", ctx.on.relation_joined(s.rel(PEER_ID), remote_unit=1))
    s.run("cluster-relation-changed", ctx.on.relation_changed(s.rel(PEER_ID), remote_unit=1))
    assert s.rel(PEER_ID).local_app_data["members"] == "2"
    assert s.rel(PEER_ID).local_unit_data["address"]

    # The database arrives.
    s.add_relation(
        testing.Relation(
            "db",
            id=DB_ID,
            remote_app_name="postgresql",
            remote_app_data=DB_APP_DATA,
            remote_units_data={0: {}},
        )
    )
    s.run("db-relation-created", ctx.on.relation_created(s.rel(DB_ID)))
    assert s.rel(DB_ID).local_app_data == {"database": "demo"}
    s.run("db-relation-joined", ctx.on.relation_joined(s.rel(DB_ID), remote_unit=0))
    restarts = host.calls.count(["systemctl", "restart", "demo-server"])
    s.run("db-relation-changed", ctx.on.relation_changed(s.rel(DB_ID), remote_unit=0))
    assert demo_conf(module)["database"].startswith("postgresql://demo_user:s3cret@postgresql-0")
    assert host.calls.count(["systemctl", "restart", "demo-server"]) == restarts + 1
    assert s.rel(PEER_ID).local_app_data["database"] == "ready"
    assert s.state.unit_status == testing.ActiveStatus()

    s.add_relation(
        testing.Relation(
            "website", id=WEBSITE_ID, remote_app_name="haproxy", remote_units_data={0: {}}
        )
    )
    s.run("website-relation-created", ctx.on.relation_created(s.rel(WEBSITE_ID)))
    s.run("website-relation-joined", ctx.on.relation_joined(s.rel(WEBSITE_ID), remote_unit=0))
    assert s.rel(WEBSITE_ID).local_unit_data["port"] == "8080"

    # Actions.
    s.run("restart", ctx.on.action("restart"))
    assert ctx.action_results == {"restarted": True, "listen": ":8080"}
    (cache_dir / "old-entry").write_text("cached")
    s.run("clear-cache", ctx.on.action("clear-cache", params={"older-than-days": 0}))
    assert ctx.action_results == {"instances": 1, "older-than-days": 0, "removed": 1}
    assert not (cache_dir / "old-entry").exists()
    assert (cache_dir / "CACHEDIR.TAG").exists()

    # A new port, a dead service brought back by update-status, then a bad config value.
    s.change(config={"port": 8443})
    s.run("config-changed", ctx.on.config_changed())
    assert s.state.opened_ports == {testing.TCPPort(8443)}
    assert s.rel(WEBSITE_ID).local_unit_data["port"] == "8443"
    assert demo_conf(module)["listen"] == ":8443"
    host.active = False  # demo-server crashed
    s.run("update-status", ctx.on.update_status())
    assert host.active
    assert s.state.unit_status == testing.ActiveStatus()
    s.change(config={"port": 0})
    s.run("config-changed", ctx.on.config_changed())
    assert s.state.unit_status == testing.BlockedStatus("invalid port 0")
    assert demo_conf(module)["listen"] == ":8443"  # the last good config stays
    s.change(config={"port": 8443})
    s.run("config-changed", ctx.on.config_changed())
    assert s.state.unit_status == testing.ActiveStatus()

    # `juju refresh`: upgrade-charm then config-changed (§L2.6).
    s.run("upgrade-charm", ctx.on.upgrade_charm())
    s.run("config-changed", ctx.on.config_changed())
    assert s.state.workload_version == "1.4.0"

    # `juju remove-relation demo-machine postgresql` (§L2.3): departed, then broken.
    s.run(
        "db-relation-departed",
        ctx.on.relation_departed(s.rel(DB_ID), remote_unit=0, departing_unit=0),
    )
    s.replace_relation(DB_ID, remote_units_data={})
    s.run("db-relation-broken", ctx.on.relation_broken(s.rel(DB_ID)))
    s.remove_relation(DB_ID)
    assert demo_conf(module)["database"] == ""
    assert s.rel(PEER_ID).local_app_data["database"] == "none"
    assert s.state.unit_status == testing.BlockedStatus("needs a db relation")

    # `juju remove-unit` (§L2.12): leadership goes silently; storage-detaching first, then
    # the peer relation departs, stop, remove.
    s.change(leader=False)
    s.run("cache-storage-detaching", ctx.on.storage_detaching(cache0))
    assert demo_conf(module)["cache-dirs"] == []
    s.change(storages=[])
    with pytest.raises(testing.ActionFailed, match="no cache storage"):
        s.run("clear-cache", ctx.on.action("clear-cache"))
    s.run(
        "cluster-relation-departed",
        ctx.on.relation_departed(s.rel(PEER_ID), remote_unit=1, departing_unit=0),
    )
    s.run("stop", ctx.on.stop())
    assert host.ran("systemctl", "stop", "demo-server")
    assert not host.active
    s.run("remove", ctx.on.remove())
    assert host.ran("apt-get", "remove", "-y", "demo-server")
    assert not (module.CONFIG_DIR / "demo.conf").exists()
    assert not s.state.deferred
