#!/usr/bin/env python3
# Copyright 2025 The charmfuzz authors.
# See LICENSE file for licensing details.

"""Machine charm for demo-db, a small database daemon shipped as a snap.

Many machine charms on Charmhub install their workload as a snap rather than a Debian
package, and drive it through snapd with the `charmlibs.snap` library:

* a snap is installed from a *channel*, `<track>/<risk>` (`1/stable`, `2/edge`), and then
  tracks it: snapd installs a *revision*, the one the store publishes on that channel. The
  track is the major version the operator chose, so `juju config demo-snap channel=2/stable`
  is an upgrade of the database, which the charm does with a refresh to the new channel;
* snapd also refreshes snaps on its own (auto-refresh) when the store publishes a new
  revision on the tracked channel. No hook tells the charm; it notices the new revision later;
* the snap's daemons are systemd units (`snap.demo-db.daemon.service`) that the install
  starts and enables; the charm starts, stops and restarts them through snapd;
* the workload's settings are snap configuration (`snap set demo-db port=5432`); the snap's
  configure hook turns them into the daemon's config file, which the daemon reads when it
  starts.

snapd can refuse any of these (the store is unreachable, the disk is full, a change is
already in progress): the library raises `snap.SnapError` (or `SnapAPIError` when snapd's API
answers with an error; both are `snap.Error`). The charm then blocks the unit and leaves the
hook successfully, so that Juju keeps running hooks; the next config-changed or update-status
tries again. Under charmfuzz, snapd is its fake machine (see `charmfuzz.toml`).
"""

from __future__ import annotations

import logging

import ops
from charmlibs import snap

logger = logging.getLogger(__name__)

SNAP_NAME = "demo-db"
SERVICE = "daemon"
RISKS = ("stable", "candidate", "beta", "edge")


def _demo_db() -> snap.Snap:
    """demo-db as snapd reports it now.

    A new SnapCache each time: a `Snap`'s channel and revision are read when the cache is
    built, and its own `ensure()` does not update them."""
    return snap.SnapCache()[SNAP_NAME]


def _full_channel(channel: str) -> str:
    """The channel as snapd reports it: `stable` is `latest/stable`, `2` is `2/stable`."""
    if "/" in channel:
        return channel
    return f"latest/{channel}" if channel in RISKS else f"{channel}/stable"


def _service_active(demo_db: snap.Snap) -> bool:
    # `services` asks snapd (GET /v2/apps); a snap without that daemon has no entry.
    service = demo_db.services.get(SERVICE)
    return bool(service and service["active"])


class DemoSnapCharm(ops.CharmBase):
    """Charm the demo-db snap on a machine."""

    # StoredState lives in the unit's local state database: on a machine it survives hooks,
    # reboots and charm upgrades (§L4.3). Every hook is a fresh process, so this is the
    # charm's only memory. It is committed when the hook succeeds (§L2.14).
    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(
            installed=False,  # the snap install succeeded
            started=False,  # between start and stop: the daemon should be running
            channel="",  # the channel the snap was installed or refreshed to ("" = none)
            revisions={},  # channel -> the revision installed from it (str)
            applied={},  # the snap configuration last set and applied
        )
        on = self.on
        framework.observe(on.install, self._on_install)
        framework.observe(on.config_changed, self._on_config_changed)
        framework.observe(on.start, self._on_start)
        framework.observe(on.update_status, self._on_update_status)
        framework.observe(on.stop, self._on_stop)
        framework.observe(on.remove, self._on_remove)
        framework.observe(on.restart_action, self._on_restart_action)

    # ------------------------------------------------------------------ lifecycle

    def _on_install(self, event: ops.InstallEvent):
        # install runs once per unit, first (§L2.1). If snapd fails here (or the channel is
        # invalid) the unit is blocked, and config-changed, which Juju runs next, tries again.
        if not self._validate_config():
            self._ensure(_full_channel(str(self.config["channel"])))

    def _on_config_changed(self, event: ops.ConfigChangedEvent):
        # After install (always before the first start), after every upgrade-charm, and
        # whenever `juju config` changes a value (§L2.5).
        self._reconcile()

    def _on_start(self, event: ops.StartEvent):
        # Right after the first config-changed, and again after a machine reboot (§L2.13),
        # where the daemon comes back by itself if it is enabled.
        self._stored.started = True
        self._reconcile()

    def _on_update_status(self, event: ops.UpdateStatusEvent):
        # The periodic timer (every 5 minutes by default, §L2.7): retry what failed, and
        # bring a daemon that died back up.
        self._reconcile()

    def _on_stop(self, event: ops.StopEvent):
        # stop is part of the unit's teardown (§L2.12); remove follows.
        self._stored.started = False
        if not self._stored.installed:
            return
        try:
            _demo_db().stop([SERVICE], disable=True)
        except snap.Error as e:
            logger.warning("cannot stop %s: %s", SNAP_NAME, e.message)

    def _on_remove(self, event: ops.RemoveEvent):
        # remove is the last hook a unit ever runs; the machine may well be destroyed next,
        # so a snapd failure is logged and not retried.
        try:
            _demo_db().ensure(snap.SnapState.Absent)
        except snap.Error as e:
            logger.warning("cannot remove %s: %s", SNAP_NAME, e.message)
        self._stored.installed = False

    def _on_restart_action(self, event: ops.ActionEvent):
        # A user runs an action at any idle point after install (§L2.11).
        if not self._stored.installed:
            event.fail(f"{SNAP_NAME} is not installed")
            return
        try:
            _demo_db().restart([SERVICE])
        except snap.Error as e:
            event.fail(f"cannot restart {SNAP_NAME}: {e.message}")
            return
        event.set_results({"restarted": True})

    # ------------------------------------------------------------------ workload

    def _reconcile(self):
        """Bring the snap in line with the config: installed, on the configured channel,
        configured and, between start and stop, running. A snapd failure blocks the unit;
        the next config-changed or update-status tries again."""
        error = self._validate_config()
        if error:
            self.unit.status = ops.BlockedStatus(error)
            return
        channel = _full_channel(str(self.config["channel"]))
        if not self._stored.installed:
            if not self._ensure(channel):
                return
        elif channel != self._stored.channel:
            logger.info("refreshing %s from %s to %s", SNAP_NAME, self._stored.channel, channel)
            # FIX BUG-M4: _ensure records the channel once the refresh to it has succeeded.
            if not self._ensure(channel):
                return
        settings = {"port": self.config["port"], "max-connections": self.config["max-connections"]}
        try:
            demo_db = _demo_db()
            changed = settings != dict(self._stored.applied)
            if changed:
                demo_db.set(settings)
            # The daemon reads its settings when it starts. The install started it with the
            # snap's defaults, so it is restarted even before the start hook.
            active = _service_active(demo_db)
            if changed and active:
                demo_db.restart([SERVICE])
            elif self._stored.started and not active:
                logger.warning("%s.%s is not running; starting it", SNAP_NAME, SERVICE)
                demo_db.start([SERVICE], enable=True)
        except snap.Error as e:
            self._block(f"cannot configure {SNAP_NAME}", e)
            return
        self._stored.applied = settings
        revision = self._running_revision(demo_db)
        self.unit.status = ops.ActiveStatus(f"{self._stored.channel}, revision {revision}")

    def _ensure(self, channel: str) -> bool:
        """Install demo-db from `channel`, or refresh it to `channel`, and record the revision
        snapd installed. False (and the unit blocked) when it did not happen."""
        verb = "refresh" if self._stored.installed else "install"
        self.unit.status = ops.MaintenanceStatus(f"{verb}ing {SNAP_NAME} ({channel})")
        try:
            _demo_db().ensure(snap.SnapState.Latest, channel=channel)
            demo_db = _demo_db()
        except snap.Error as e:
            return self._block(f"cannot {verb} {SNAP_NAME} ({channel})", e)
        self._stored.installed = demo_db.present
        if not demo_db.present or demo_db.channel != channel:
            # snapd did nothing and said so without an error: the store holds the refresh
            # back (`snap refresh` prints "has no updates available" and exits 0).
            self.unit.status = ops.BlockedStatus(f"{SNAP_NAME} {verb} to {channel} is held back")
            return False
        self._stored.channel = channel
        self._stored.revisions[channel] = str(demo_db.revision)
        if demo_db.version:
            self.unit.set_workload_version(demo_db.version)
        return True

    def _running_revision(self, demo_db: snap.Snap) -> str:
        """The revision demo-db runs. Logs when it is not the one the charm installed from the
        tracked channel: snapd refreshed it on its own (no hook says so)."""
        channel = self._stored.channel
        installed = self._stored.revisions[channel]
        revision = str(demo_db.revision)
        if revision != installed:
            logger.info(
                "snapd refreshed %s on %s: %s -> %s", SNAP_NAME, channel, installed, revision
            )
            self._stored.revisions[channel] = revision
        return revision

    def _block(self, what: str, error: snap.Error) -> bool:
        # The library's message has the failed command, snap's output and snapd's journal:
        # it goes to the log, and the status names what failed.
        logger.error("%s: %s", what, error.message or repr(error))
        self.unit.status = ops.BlockedStatus(f"{what}; see juju debug-log")
        return False

    def _validate_config(self) -> str:
        channel = str(self.config.get("channel", ""))
        port = self.config.get("port")
        connections = self.config.get("max-connections")
        if not channel or any(c.isspace() for c in channel) or channel.count("/") > 2:
            return f"invalid channel {channel!r}"
        if not isinstance(port, int) or not 1 <= port <= 65535:
            return f"invalid port {port!r}"
        if not isinstance(connections, int) or connections < 1:
            return f"invalid max-connections {connections!r}"
        return ""


if __name__ == "__main__":  # pragma: nocover
    ops.main(DemoSnapCharm)
