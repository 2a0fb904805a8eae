# Copyright 2025 The charmfuzz authors.
# See LICENSE file for licensing details.

"""Scenario (ops.testing) stories for `demo-snap`, the snap-based demo machine charm.

The planted bug BUG-M4 needs the machine to misbehave: the refresh to a new channel fails
(or the store holds it back) after a successful install. Its story, written out in
../README.md, must raise KeyError from the line marked `# BUG-M4:` in `demo-snap` and must
not raise in `demo-snap-clean`. The other stories check that the clean charm rides out what
a machine does to a snap charm (installs that fail, a full disk, a service that dies, a
reboot) and odd but legal hook orders, and a seeded random walk over hooks and faults checks
that no hook of the clean charm fails and that the buggy one fails only at BUG-M4.

Scenario has no snapd: `charmlibs.snap.SnapCache` is patched with `FakeSnapd.cache`, a
small stateful snapd that answers the calls the charm makes, as the library does (a
`Snap`'s channel and revision are read when the cache is built; `ensure()` does not update
them; `set()` talks to snapd's API, so its errors are `SnapAPIError`).

Run: .venv/bin/python -m pytest examples/charms/tests -q
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from charmlibs import snap
from ops import testing
from scenario.errors import UncaughtCharmError
from test_demo_bugs import Story, load_charm_module, readme_story

CHARMS = ["demo-snap", "demo-snap-clean"]

# What the store serves on each channel (a revision per channel, as on Charmhub).
STORE = {"latest/stable": "7", "1/stable": "11", "2/stable": "23", "2/edge": "27"}


class FakeSnapd:
    """snapd, its store and systemd, as far as demo-snap uses them (one snap, `demo-db`).

    The faults are the ones charmfuzz's fake machine has: `install_fails`, `refresh_fails`,
    `refresh_held` (the refresh changes nothing and says so without an error), `disk_full`
    (installs, refreshes and `set` fail with "no space left on device"), `kill()` (the
    daemon dies) and `reboot()` (the daemon comes back if it is enabled)."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.store = dict(STORE)
        self.installed = False
        self.channel = ""
        self.revision = ""
        self.config: dict[str, str] = {}
        self.enabled = False
        self.active = False
        self.install_fails = False
        self.refresh_fails = False
        self.refresh_held = False
        self.disk_full = False

    def cache(self) -> FakeSnapCache:
        """Stands in for `snap.SnapCache()`."""
        return FakeSnapCache(self)

    # What the machine does by itself (no hook).

    def kill(self):
        self.active = False

    def reboot(self):
        self.active = self.installed and self.enabled

    def auto_refresh(self, revision: str):
        """The store publishes `revision` on the tracked channel and snapd refreshes to it."""
        self.store[self.channel] = revision
        self.revision = revision

    def recover(self):
        self.install_fails = self.refresh_fails = self.refresh_held = self.disk_full = False

    def ran(self, *call) -> bool:
        return tuple(call) in self.calls


class FakeSnapCache:
    def __init__(self, snapd: FakeSnapd):
        self.snapd = snapd

    def __getitem__(self, name: str) -> FakeSnap:
        assert name == "demo-db", name
        return FakeSnap(self.snapd)


class FakeSnap:
    """A `charmlibs.snap.Snap` for demo-db: state, channel, revision and version as snapd
    reported them when the cache was built; services, config and operations live."""

    def __init__(self, snapd: FakeSnapd):
        self._snapd = snapd
        self.name = "demo-db"
        self._present = snapd.installed
        self.channel = snapd.channel if snapd.installed else "latest/stable"
        self.revision = snapd.revision if snapd.installed else snapd.store["latest/stable"]
        self.version = "14.2"

    @property
    def present(self) -> bool:
        return self._present

    @property
    def services(self) -> dict[str, dict]:
        d = self._snapd
        if not d.installed:
            return {}
        info = {"daemon_scope": "system", "enabled": d.enabled, "active": d.active}
        return {"daemon": {"daemon": "simple", **info, "activators": []}}

    def ensure(self, state: snap.SnapState, *, channel: str | None = None, **kwargs):
        d = self._snapd
        d.calls.append(("ensure", state.value, channel))
        if state in (snap.SnapState.Present, snap.SnapState.Latest):
            if not self._present:
                self._install(channel or "latest/stable")
            else:
                self._refresh(channel or d.channel)
        elif self._present:
            d.installed = d.enabled = d.active = False
            d.channel = d.revision = ""
            d.config = {}
        self._present = state in (snap.SnapState.Present, snap.SnapState.Latest)

    def _install(self, channel: str):
        d = self._snapd
        if d.install_fails:
            raise snap.SnapError(f'cannot install "demo-db": persistent network error ({channel})')
        if d.disk_full:
            raise snap.SnapError('cannot install "demo-db": no space left on device')
        d.installed = d.enabled = d.active = True  # the install starts and enables the daemon
        d.channel, d.revision = channel, d.store.get(channel, "3")

    def _refresh(self, channel: str):
        d = self._snapd
        revision = d.store.get(channel, "3")
        if d.refresh_held or (channel, revision) == (d.channel, d.revision):
            return  # "snap "demo-db" has no updates available", exit 0
        if d.refresh_fails:
            raise snap.SnapError(f'cannot refresh "demo-db": persistent network error ({channel})')
        if d.disk_full:
            raise snap.SnapError('cannot refresh "demo-db": no space left on device')
        d.channel, d.revision = channel, revision
        d.active = d.active or d.enabled  # a refresh restarts the daemon

    def set(self, config: dict, *, typed: bool = False):
        d = self._snapd
        d.calls.append(("set", dict(config)))
        if not d.installed:
            raise snap.SnapAPIError({}, 404, "Not Found", 'snap "demo-db" is not installed')
        if d.disk_full:
            raise snap.SnapAPIError({}, 500, "Internal Server Error", "no space left on device")
        d.config.update({k: v if typed else str(v) for k, v in config.items()})

    def get(self, key: str, *, typed: bool = False):
        return self._snapd.config[key]

    def _daemon(self, command: str, services: list[str] | None):
        d = self._snapd
        d.calls.append((command, *(services or [])))
        if not d.installed or (services or ["daemon"]) != ["daemon"]:
            raise snap.SnapError(f"snap {command} failed: no such service {services}")

    def start(self, services: list[str] | None = None, enable: bool = False):
        self._daemon("start", services)
        self._snapd.active = True
        self._snapd.enabled |= enable

    def stop(self, services: list[str] | None = None, disable: bool = False):
        self._daemon("stop", services)
        self._snapd.active = False
        self._snapd.enabled &= not disable

    def restart(self, services: list[str] | None = None, reload: bool = False):
        self._daemon("restart", services)
        self._snapd.active = True


@pytest.fixture
def snapd(monkeypatch) -> FakeSnapd:
    fake = FakeSnapd()
    monkeypatch.setattr(snap, "SnapCache", fake.cache)
    return fake


def context(charm: str) -> testing.Context:
    return testing.Context(load_charm_module(charm).DemoSnapCharm)


def stored(s: Story, charm: str) -> dict:
    return s.stored(load_charm_module(charm).DemoSnapCharm)


def deploy(ctx: testing.Context, **config) -> Story:
    """install → leader-elected → config-changed → start (§L2.1, machine; no relations)."""
    s = Story(ctx, testing.State(leader=True, config=config))
    s.run("install", ctx.on.install())
    s.run("leader-elected", ctx.on.leader_elected())
    s.run("config-changed", ctx.on.config_changed())
    s.run("start", ctx.on.start())
    return s


def configure(s: Story, **changes) -> Story:
    """`juju config demo-snap k=v…`: config-changed with the new values."""
    s.change(config={**s.state.config, **changes})
    return s.run("config-changed", s.ctx.on.config_changed())


# ---------------------------------------------------------------------------------------------
# BUG-M4


def story_m4(ctx: testing.Context, snapd: FakeSnapd, *, held: bool = False):
    """Deploy on 1/stable; the store breaks; channel=2/stable (refresh fails or is held);
    then port=6543, a config change that needs no refresh."""
    s = deploy(ctx)
    if held:
        snapd.refresh_held = True
    else:
        snapd.refresh_fails = True  # the store's downloads fail from now on: no hook
    configure(s, channel="2/stable")
    s.change(config={**s.state.config, "port": 6543})
    return s, "config-changed", ctx.on.config_changed()


M4_HOOKS = ["install", "leader-elected", "config-changed", "start", "config-changed"]


def bug_m4_lines() -> tuple[int, int]:
    """The lines below the two `# BUG-M4:` markers: the early record of the channel, and
    the lookup that raises."""
    lines = Path(load_charm_module("demo-snap").__file__).read_text().splitlines()
    found = [i for i, line in enumerate(lines) if line.strip().startswith("# BUG-M4:")]
    assert len(found) == 2, found
    assert lines[found[0] + 1].strip() == "self._stored.channel = channel"
    assert "revisions[" in lines[found[1] + 1]
    return found[0] + 2, found[1] + 2  # 1-based numbers of the next lines


def bug_m4_line() -> int:
    """The line that raises."""
    return bug_m4_lines()[1]


def charm_lines(exc: BaseException, charm: str) -> list[int]:
    charm_file = Path(load_charm_module(charm).__file__)
    frames = traceback.extract_tb(exc.__traceback__)
    return [f.lineno for f in frames if Path(f.filename) == charm_file and f.lineno]


@pytest.mark.parametrize("held", [False, True], ids=["refresh-fails", "refresh-held"])
@pytest.mark.parametrize("trigger", ["config-changed", "update-status"])
def test_bug_m4_raises_in_demo_snap(snapd, held, trigger):
    ctx = context("demo-snap")
    s, hook, event = story_m4(ctx, snapd, held=held)
    assert s.hooks == M4_HOOKS
    status = "refresh to 2/stable is held back" if held else "cannot refresh demo-db (2/stable)"
    assert status in s.state.unit_status.message
    assert isinstance(s.state.unit_status, testing.BlockedStatus)
    # The buggy charm recorded the channel the refresh never reached.
    assert stored(s, "demo-snap")["channel"] == "2/stable"
    assert stored(s, "demo-snap")["revisions"] == {"1/stable": "11"}
    assert (snapd.channel, snapd.revision) == ("1/stable", "11")
    if trigger == "update-status":
        hook, event = "update-status", ctx.on.update_status()

    with pytest.raises(UncaughtCharmError) as info:
        s.run(hook, event)

    cause = info.value.__cause__
    assert type(cause) is KeyError and cause.args == ("2/stable",), repr(cause)
    assert charm_lines(cause, "demo-snap")[-1] == bug_m4_line()


@pytest.mark.parametrize("held", [False, True], ids=["refresh-fails", "refresh-held"])
def test_same_story_is_fine_in_demo_snap_clean(snapd, held):
    ctx = context("demo-snap-clean")
    s, hook, event = story_m4(ctx, snapd, held=held)
    assert s.hooks == M4_HOOKS
    assert stored(s, "demo-snap-clean")["channel"] == "1/stable"  # not refreshed yet

    # The store is still broken: the clean charm tries the refresh again, and stays blocked.
    refreshes = snapd.calls.count(("ensure", "latest", "2/stable"))
    s.run(hook, event)
    assert snapd.calls.count(("ensure", "latest", "2/stable")) == refreshes + 1
    assert isinstance(s.state.unit_status, testing.BlockedStatus)
    s.run("update-status", ctx.on.update_status())
    assert isinstance(s.state.unit_status, testing.BlockedStatus)

    # The store recovers: the next update-status refreshes, and the new port is applied.
    snapd.recover()
    s.run("update-status", ctx.on.update_status())
    assert s.state.unit_status == testing.ActiveStatus("2/stable, revision 23")
    assert stored(s, "demo-snap-clean")["revisions"] == {"1/stable": "11", "2/stable": "23"}
    assert (snapd.channel, snapd.revision) == ("2/stable", "23")
    assert snapd.config == {"port": "6543", "max-connections": "100"}
    assert snapd.active


def test_bug_m4_needs_the_failed_refresh(snapd):
    """Without the fault the same config changes are fine in the buggy charm too."""
    ctx = context("demo-snap")
    s = deploy(ctx)
    configure(s, channel="2/stable")
    configure(s, port=6543)
    s.run("update-status", ctx.on.update_status())
    assert s.state.unit_status == testing.ActiveStatus("2/stable, revision 23")


def test_readme_tells_the_m4_story(snapd):
    readme_hooks, section = readme_story("M4")
    assert readme_hooks == [*M4_HOOKS, "config-changed"]
    planted, raising = bug_m4_lines()
    assert f"`demo-snap/src/charm.py:{raising}`" in section
    assert f"`demo-snap/src/charm.py:{planted}`" in section


# ---------------------------------------------------------------------------------------------
# the clean charm (and the buggy one, away from BUG-M4) on a misbehaving machine


@pytest.mark.parametrize("charm", CHARMS)
def test_happy_path(snapd, charm):
    ctx = context(charm)
    s = deploy(ctx)
    assert snapd.ran("ensure", "latest", "1/stable")
    assert snapd.config == {"port": "5432", "max-connections": "100"}
    assert snapd.ran("restart", "daemon")  # the install started it with the defaults
    assert snapd.active and snapd.enabled
    assert s.state.unit_status == testing.ActiveStatus("1/stable, revision 11")
    assert s.state.workload_version == "14.2"

    s.run("restart", ctx.on.action("restart"))
    assert ctx.action_results == {"restarted": True}

    # A new port restarts the daemon; an unchanged config does not.
    restarts = snapd.calls.count(("restart", "daemon"))
    configure(s, port=6543)
    assert snapd.config["port"] == "6543"
    assert snapd.calls.count(("restart", "daemon")) == restarts + 1
    s.run("update-status", ctx.on.update_status())
    assert snapd.calls.count(("restart", "daemon")) == restarts + 1

    # The newer track, then snapd refreshes it by itself.
    configure(s, channel="2/stable")
    assert s.state.unit_status == testing.ActiveStatus("2/stable, revision 23")
    snapd.auto_refresh("24")
    s.run("update-status", ctx.on.update_status())
    assert s.state.unit_status == testing.ActiveStatus("2/stable, revision 24")
    assert stored(s, charm)["revisions"] == {"1/stable": "11", "2/stable": "24"}

    # An invalid value blocks; the snap keeps the last good settings.
    configure(s, port=0)
    assert s.state.unit_status == testing.BlockedStatus("invalid port 0")
    assert snapd.config["port"] == "6543"
    configure(s, port=6543)
    assert s.state.unit_status == testing.ActiveStatus("2/stable, revision 24")

    # `juju remove-unit` (§L2.12): stop, remove.
    s.run("stop", ctx.on.stop())
    assert snapd.ran("stop", "daemon") and not snapd.active and not snapd.enabled
    s.run("remove", ctx.on.remove())
    assert snapd.ran("ensure", "absent", None) and not snapd.installed


@pytest.mark.parametrize("charm", CHARMS)
def test_install_fails_then_config_changed_retries(snapd, charm):
    ctx = context(charm)
    snapd.install_fails = True
    s = Story(ctx, testing.State(leader=True))
    s.run("install", ctx.on.install())
    assert s.state.unit_status.name == "blocked"
    assert "cannot install demo-db (1/stable)" in s.state.unit_status.message
    s.run("leader-elected", ctx.on.leader_elected())
    with pytest.raises(testing.ActionFailed, match="not installed"):
        s.run("restart", ctx.on.action("restart"))
    s.run("config-changed", ctx.on.config_changed())  # still failing
    assert not stored(s, charm)["installed"]
    snapd.recover()
    s.run("start", ctx.on.start())  # the retry in start installs and starts it
    assert snapd.installed and snapd.active
    assert s.state.unit_status == testing.ActiveStatus("1/stable, revision 11")


@pytest.mark.parametrize("charm", CHARMS)
def test_dead_service_is_started_by_update_status(snapd, charm):
    ctx = context(charm)
    s = deploy(ctx)
    snapd.kill()  # a crash, the OOM killer: no hook
    s.run("update-status", ctx.on.update_status())
    assert snapd.ran("start", "daemon") and snapd.active
    assert s.state.unit_status == testing.ActiveStatus("1/stable, revision 11")


@pytest.mark.parametrize("charm", CHARMS)
def test_full_disk_blocks_until_it_is_freed(snapd, charm):
    ctx = context(charm)
    snapd.disk_full = True
    s = Story(ctx, testing.State(leader=True))
    s.run("install", ctx.on.install())
    assert "cannot install" in s.state.unit_status.message
    snapd.disk_full = False
    s.run("leader-elected", ctx.on.leader_elected())
    s.run("config-changed", ctx.on.config_changed())
    s.run("start", ctx.on.start())
    snapd.disk_full = True
    configure(s, port=6543)  # `set` fails: snapd's API answers 500
    assert "cannot configure demo-db" in s.state.unit_status.message
    assert snapd.config["port"] == "5432"
    snapd.disk_full = False
    s.run("update-status", ctx.on.update_status())
    assert snapd.config["port"] == "6543"
    assert s.state.unit_status == testing.ActiveStatus("1/stable, revision 11")


@pytest.mark.parametrize("charm", CHARMS)
def test_reboot(snapd, charm):
    """After a reboot Juju runs start again (§L2.13); the enabled daemon came back, or the
    charm starts it."""
    ctx = context(charm)
    s = deploy(ctx)
    snapd.reboot()
    s.run("start", ctx.on.start())
    assert snapd.active
    snapd.enabled = False  # someone ran `snap stop --disable demo-db` before the reboot
    snapd.reboot()
    assert not snapd.active
    s.run("start", ctx.on.start())
    assert snapd.active and snapd.enabled
    assert s.state.unit_status == testing.ActiveStatus("1/stable, revision 11")


@pytest.mark.parametrize("charm", CHARMS)
def test_odd_orders(snapd, monkeypatch, charm):
    """Removed before install worked; a stop that snapd refuses; update-status first."""
    ctx = context(charm)
    snapd.install_fails = True
    s = Story(ctx, testing.State(leader=True))
    s.run("install", ctx.on.install())
    s.run("stop", ctx.on.stop())
    s.run("remove", ctx.on.remove())
    assert not snapd.installed

    snapd.recover()
    s = Story(ctx, testing.State(leader=True))
    s.run("update-status", ctx.on.update_status())  # reconciles from nothing
    assert snapd.installed
    snapd.installed = False  # gone behind the charm's back: stop fails, and only logs
    s.run("stop", ctx.on.stop())
    s.run("remove", ctx.on.remove())

    # Deployed with an invalid channel: nothing is installed until it is fixed.
    snapd = FakeSnapd()
    monkeypatch.setattr(snap, "SnapCache", snapd.cache)
    s = Story(ctx, testing.State(leader=True, config={"channel": ""}))
    s.run("install", ctx.on.install())
    s.run("config-changed", ctx.on.config_changed())
    assert s.state.unit_status == testing.BlockedStatus("invalid channel ''")
    assert not snapd.calls
    configure(s, channel="edge")
    assert (snapd.channel, snapd.revision) == ("latest/edge", "3")
    assert s.state.unit_status == testing.ActiveStatus("latest/edge, revision 3")


# ---------------------------------------------------------------------------------------------
# a seeded random walk over hooks and machine faults

HOOKS: list[tuple[str, Callable[[Story], object]]] = [
    ("config-changed", lambda s: s.ctx.on.config_changed()),
    ("update-status", lambda s: s.ctx.on.update_status()),
    ("start", lambda s: s.ctx.on.start()),
    ("restart", lambda s: s.ctx.on.action("restart")),
]
FAULTS: list[Callable[[FakeSnapd], None]] = [
    lambda d: setattr(d, "refresh_fails", True),
    lambda d: setattr(d, "refresh_held", True),
    lambda d: setattr(d, "install_fails", True),
    lambda d: setattr(d, "disk_full", True),
    FakeSnapd.kill,
    FakeSnapd.reboot,
    FakeSnapd.recover,
]
CONFIGS = [
    {"channel": "1/stable"},
    {"channel": "2/stable"},
    {"channel": "2/edge"},
    {"port": 6543},
    {"port": 0},
    {"max-connections": 5},
]


def walk(charm: str, snapd: FakeSnapd, seed: int, steps: int = 14) -> list[str]:
    """install, then random config changes, faults and hooks, then stop and remove. Returns
    what happened; an UncaughtCharmError escapes."""
    rng = random.Random(seed)
    ctx = context(charm)
    if rng.random() < 0.3:
        FAULTS[rng.randrange(4)](snapd)
    s = Story(ctx, testing.State(leader=True))
    s.run("install", ctx.on.install())
    for _ in range(steps):
        r = rng.random()
        if r < 0.3:
            s.change(config={**s.state.config, **rng.choice(CONFIGS)})
            s.run("config-changed", ctx.on.config_changed())
        elif r < 0.5:
            rng.choice(FAULTS)(snapd)
            s.hooks.append("(fault)")
        else:
            hook, event = rng.choice(HOOKS)
            try:
                s.run(hook, event(s))
            except testing.ActionFailed:
                s.hooks.append(f"{hook} (failed)")
    s.run("stop", ctx.on.stop())
    s.run("remove", ctx.on.remove())
    return s.hooks


def test_random_walks():
    """On 30 seeded walks the clean charm never fails a hook, and the buggy one fails only
    at BUG-M4, on some of them (the walk exercises the refresh faults)."""
    found = []
    for seed in range(30):
        for charm in CHARMS:
            fake = FakeSnapd()
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(snap, "SnapCache", fake.cache)
                try:
                    walk(charm, fake, seed)
                except UncaughtCharmError as e:
                    cause = e.__cause__
                    assert charm == "demo-snap", f"{charm} failed (seed {seed}): {cause!r}"
                    assert type(cause) is KeyError, f"seed {seed}: {cause!r}"
                    assert charm_lines(cause, charm)[-1] == bug_m4_line(), f"seed {seed}"
                    found.append(seed)
    assert found, "no walk reached BUG-M4"


def test_loaded_modules_are_distinct():
    modules: list[ModuleType] = [load_charm_module(c) for c in CHARMS]
    assert modules[0] is not modules[1]
    assert modules[0].snap is modules[1].snap is snap
