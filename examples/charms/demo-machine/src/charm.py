#!/usr/bin/env python3
# Copyright 2025 The charmfuzz authors.
# See LICENSE file for licensing details.

"""Machine charm for the demo web application.

On a machine the charm manages its workload with the host's own tools, as machine charms on
Charmhub do:

* the payload is the `demo-server` Debian package (`apt-get install` at install, `apt-get
  remove` at remove);
* the service is the `demo-server` systemd unit (`systemctl enable`, `restart`, `stop`, and
  `systemctl is-active`, whose output the charm reads);
* the configuration is `/etc/demo/demo.conf` (JSON), rendered from the charm config, the
  database credentials and the attached cache storage;
* the optional response cache lives on the `cache` storage (0 to 2 filesystem instances,
  mounted under `/srv/demo/cache`).

Under charmfuzz, `apt-get` and `systemctl` are answered by its fake machine, with state (see
`charmfuzz.toml`), and `/etc` and the storage locations are throwaway writable layers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import time
from pathlib import Path

import ops

logger = logging.getLogger(__name__)

PACKAGE = "demo-server"
SERVICE = "demo-server"
PEER = "cluster"
VERSION = "1.4.0"
LOG_LEVELS = ("debug", "info", "warning", "error")
# Where demo-server reads its configuration. A module global (read at call time) so that
# unit tests can point it somewhere writable.
CONFIG_DIR = Path("/etc/demo")
CACHE_TAG = "CACHEDIR.TAG"


def _config_file() -> Path:
    return CONFIG_DIR / "demo.conf"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a host program (apt-get, systemctl); a failure raises CalledProcessError."""
    logger.debug("running %s", " ".join(args))
    return subprocess.run(list(args), check=True, capture_output=True, text=True)


class DemoMachineCharm(ops.CharmBase):
    """Charm the demo web application on a machine."""

    # StoredState lives in the unit's local state database (`.unit-state.db` in the charm
    # directory): it survives from one hook to the next, and on a machine also reboots and
    # charm upgrades. Every hook is a fresh process, so this is the charm's only memory.
    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(
            installed=False,  # apt-get install succeeded
            started=False,  # between start and stop: the service should be running
            config_hash="",  # hash of the config last written to demo.conf ("" = never)
            config_error="",  # why the charm config is invalid ("" = it is valid)
            db_uri="",  # from the db relation's remote application databag
            opened_port=0,
        )

        on = self.on
        # Juju runs one hook per process; ops turns it into an event on `self.on` and calls
        # the observers registered here (and first re-emits any deferred events).
        framework.observe(on.install, self._on_install)
        framework.observe(on.upgrade_charm, self._on_upgrade_charm)
        framework.observe(on.config_changed, self._on_config_changed)
        framework.observe(on.start, self._on_start)
        framework.observe(on.update_status, self._on_update_status)
        framework.observe(on.stop, self._on_stop)
        framework.observe(on.remove, self._on_remove)
        framework.observe(on.leader_elected, self._on_leader_elected)

        framework.observe(on.cluster_relation_joined, self._on_cluster_changed)
        framework.observe(on.cluster_relation_changed, self._on_cluster_changed)
        framework.observe(on.cluster_relation_departed, self._on_cluster_changed)

        framework.observe(on.db_relation_created, self._on_db_created)
        framework.observe(on.db_relation_changed, self._on_db_changed)
        framework.observe(on.db_relation_broken, self._on_db_broken)

        framework.observe(on.website_relation_joined, self._on_website_joined)

        framework.observe(on.cache_storage_attached, self._on_cache_attached)
        framework.observe(on.cache_storage_detaching, self._on_cache_detaching)

        framework.observe(on.restart_action, self._on_restart_action)
        framework.observe(on.clear_cache_action, self._on_clear_cache_action)

        framework.observe(on.collect_unit_status, self._on_collect_unit_status)

    # ------------------------------------------------------------------ lifecycle

    def _on_install(self, event: ops.InstallEvent):
        # install runs once per unit, first (after the storage-attached hooks of the
        # storage provisioned with the unit). Like most Debian packages, demo-server's
        # postinst starts the service with the package's defaults.
        self.unit.status = ops.MaintenanceStatus("installing demo-server")
        _run("apt-get", "update")
        _run("apt-get", "install", "-y", PACKAGE)
        self._stored.installed = True
        self.unit.set_workload_version(VERSION)

    def _on_upgrade_charm(self, event: ops.UpgradeCharmEvent):
        # `juju refresh`: the new charm revision may want a newer package. Juju runs
        # config-changed right after upgrade-charm.
        _run("apt-get", "install", "-y", PACKAGE)
        self.unit.set_workload_version(VERSION)

    def _on_config_changed(self, event: ops.ConfigChangedEvent):
        # config-changed runs after install (always before the first start), after every
        # upgrade-charm and whenever `juju config` changes a value.
        error = self._validate_config()
        self._stored.config_error = error
        if error:
            return  # keep the last good demo.conf; collect-status blocks the unit
        # Every cache instance attached so far gets its directory layout.
        for storage in self.model.storages["cache"]:
            self._prepare_cache(storage)
        self._render_and_restart()
        port = self.config["port"]
        if self._stored.opened_port != port:
            if self._stored.opened_port:
                self.unit.close_port("tcp", self._stored.opened_port)
            self.unit.open_port("tcp", port)
            self._stored.opened_port = port
        self._update_website()

    def _on_start(self, event: ops.StartEvent):
        # start comes right after the first config-changed (and again after a reboot).
        _run("systemctl", "enable", SERVICE)
        _run("systemctl", "restart", SERVICE)
        self._stored.started = True

    def _on_update_status(self, event: ops.UpdateStatusEvent):
        # The periodic timer (every 5 minutes by default). collect-status reports the state;
        # here the charm brings a service that died back up.
        if self._stored.started and not self._service_active():
            logger.warning("%s is not running; restarting it", SERVICE)
            _run("systemctl", "restart", SERVICE)

    def _on_stop(self, event: ops.StopEvent):
        # stop is part of the unit's teardown: storage detached and relations broken first.
        _run("systemctl", "stop", SERVICE)
        _run("systemctl", "disable", SERVICE)
        self._stored.started = False

    def _on_remove(self, event: ops.RemoveEvent):
        # remove is the last hook a unit ever runs.
        _run("apt-get", "remove", "-y", PACKAGE)
        _config_file().unlink(missing_ok=True)
        self._stored.installed = False

    # ------------------------------------------------------------------ leadership

    def _on_leader_elected(self, event: ops.LeaderElectedEvent):
        # Juju runs leader-elected on the unit that just became the application's leader. The
        # leader keeps the cluster record (members, database state) in the peer application
        # databag, which only the leader may write. The record says whether the database is
        # usable, so while the db relation is still being set up (no credentials yet) the
        # charm waits: the deferred event is re-emitted at the start of every later hook.
        if self._db_pending():
            event.defer()
            return
        # BUG-M3: a re-emitted leader-elected is no proof of leadership: the lease may have moved.
        self._publish_cluster_state()

    def _publish_cluster_state(self):
        """Write the cluster record to the peer application databag (leader only)."""
        peer = self.model.get_relation(PEER)
        if peer is None:
            return
        peer.data[self.app].update(
            {
                "leader": self.unit.name,
                "members": str(len(peer.units) + 1),
                "database": "ready" if self._stored.db_uri else "none",
            }
        )

    # ------------------------------------------------------------------ relations

    def _on_cluster_changed(self, event: ops.RelationEvent):
        # Peers (the other units of this application) see each other's unit databags.
        event.relation.data[self.unit]["address"] = self._address()
        if self.unit.is_leader():
            self._publish_cluster_state()

    def _on_db_created(self, event: ops.RelationCreatedEvent):
        # postgresql_client: the requirer's leader names the database it wants in its app
        # databag; the database charm answers with credentials in its own app databag.
        if self.unit.is_leader():
            event.relation.data[self.app]["database"] = "demo"

    def _on_db_changed(self, event: ops.RelationChangedEvent):
        if event.app is None:
            return
        data = event.relation.data[event.app]
        username, password = data.get("username"), data.get("password")
        endpoints = data.get("endpoints", "")
        if not (username and password and endpoints):
            return  # the database charm has not answered yet
        host = endpoints.split(",")[0].strip()
        self._stored.db_uri = f"postgresql://{username}:{password}@{host}/demo"
        self._reconfigure()
        if self.unit.is_leader():
            self._publish_cluster_state()

    def _on_db_broken(self, event: ops.RelationBrokenEvent):
        # relation-broken: the relation is gone (ops already hides it from
        # self.model.relations); the remote side's data must not be relied on.
        self._stored.db_uri = ""
        self._reconfigure()
        if self.unit.is_leader():
            self._publish_cluster_state()

    def _db_pending(self) -> bool:
        """A db relation exists but has not given us credentials yet."""
        return bool(self.model.relations["db"]) and not self._stored.db_uri

    def _on_website_joined(self, event: ops.RelationJoinedEvent):
        self._update_website()

    def _update_website(self):
        # The http interface: each unit publishes where it serves in its own unit databag.
        port = self._stored.opened_port
        if not port:
            return  # not configured yet; config-changed calls this again
        for relation in self.model.relations["website"]:
            relation.data[self.unit].update({"hostname": self._address(), "port": str(port)})

    # ------------------------------------------------------------------ storage

    def _on_cache_attached(self, event: ops.StorageAttachedEvent):
        # On a machine, the storage provisioned with the unit is attached *before* install;
        # storage added later (`juju add-storage`) is attached at any idle point.
        if not self._stored.config_hash:
            # BUG-M2: a deferred storage event cannot be restored once its instance is detached.
            event.defer()
            return
        self._prepare_cache(event.storage)
        self._reconfigure()

    def _on_cache_detaching(self, event: ops.StorageDetachingEvent):
        # storage-detaching: the instance is still mounted during this hook, and gone after.
        logger.info("cache %s detaching", event.storage.full_id)
        self._reconfigure(detaching=event.storage)

    def _prepare_cache(self, storage: ops.Storage):
        location = Path(storage.location)
        location.mkdir(parents=True, exist_ok=True)
        size = self.config.get("cache-size-mb", 64)
        (location / CACHE_TAG).write_text(
            f"Signature: 8a477f597d28d172789f06886806bc55\n# demo-server cache, {size} MiB\n"
        )

    def _cache_dirs(self, detaching: ops.Storage | None = None) -> list[str]:
        dirs = [
            str(storage.location)
            for storage in self.model.storages["cache"]
            if detaching is None or storage.full_id != detaching.full_id
        ]
        return sorted(dirs)

    # ------------------------------------------------------------------ actions

    def _on_restart_action(self, event: ops.ActionEvent):
        # A user runs an action at any idle point after install; actions cannot be deferred.
        if not self._service_active():
            event.fail("demo-server is not running")
            return
        # BUG-M1: an action can run before the first config-changed has written demo.conf.
        config = json.loads(_config_file().read_text())
        _run("systemctl", "restart", SERVICE)
        event.set_results({"restarted": True, "listen": config["listen"]})

    def _on_clear_cache_action(self, event: ops.ActionEvent):
        days = event.params.get("older-than-days", 0)
        dirs = self._cache_dirs()
        if not dirs:
            event.fail("no cache storage attached")
            return
        cutoff = time.time() - days * 86400
        removed = 0
        for directory in dirs:
            if not os.path.isdir(directory):
                continue  # attached but not set up yet
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.name == CACHE_TAG or not entry.is_file():
                        continue
                    if days == 0 or entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
        event.log(f"dropped {removed} cache entries in {len(dirs)} instance(s)")
        event.set_results({"instances": len(dirs), "older-than-days": days, "removed": removed})

    # ------------------------------------------------------------------ status

    def _on_collect_unit_status(self, event: ops.CollectStatusEvent):
        # ops runs collect-status at the end of every hook; the highest-priority status wins
        # (error > blocked > maintenance > waiting > active).
        if self._stored.config_error:
            event.add_status(ops.BlockedStatus(self._stored.config_error))
        if not self._stored.installed:
            event.add_status(ops.MaintenanceStatus("installing demo-server"))
        if not self.model.relations["db"]:
            event.add_status(ops.BlockedStatus("needs a db relation"))
        elif not self._stored.db_uri:
            event.add_status(ops.WaitingStatus("waiting for database credentials"))
        if self._stored.started and not self._service_active():
            event.add_status(ops.MaintenanceStatus("demo-server is not running"))
        event.add_status(ops.ActiveStatus())

    # ------------------------------------------------------------------ workload

    def _validate_config(self) -> str:
        port = self.config.get("port")
        log_level = str(self.config.get("log-level", "info")).lower()
        cache_mb = self.config.get("cache-size-mb", 64)
        if not isinstance(port, int) or not 1 <= port <= 65535:
            return f"invalid port {port!r}"
        if log_level not in LOG_LEVELS:
            return f"invalid log-level {log_level!r}"
        if not isinstance(cache_mb, int) or cache_mb < 0:
            return f"invalid cache-size-mb {cache_mb!r}"
        return ""

    def _reconfigure(self, detaching: ops.Storage | None = None):
        """Re-render demo.conf after a change, once config-changed has written the first."""
        if self._stored.config_hash:
            self._render_and_restart(detaching)

    def _render_and_restart(self, detaching: ops.Storage | None = None):
        """Write demo.conf (while the charm config is valid); restart the service if it
        should be running and the file changed."""
        if not self._stored.installed or self._stored.config_error:
            return
        config = {
            "listen": f":{self.config['port']}",
            "log-level": str(self.config.get("log-level", "info")).lower(),
            "database": self._stored.db_uri,
            "cache-dirs": self._cache_dirs(detaching),
            "cache-size-mb": self.config.get("cache-size-mb", 64),
        }
        text = json.dumps(config, indent=2, sort_keys=True) + "\n"
        digest = hashlib.sha256(text.encode()).hexdigest()
        if digest == self._stored.config_hash:
            return
        CONFIG_DIR.mkdir(parents=True, exist_ok=True)
        _config_file().write_text(text)
        self._stored.config_hash = digest
        if self._stored.started:
            _run("systemctl", "restart", SERVICE)

    def _service_active(self) -> bool:
        # `systemctl is-active` prints the unit's state ("active", "inactive", "failed", …)
        # and exits non-zero unless it is active, so no check=True here.
        result = subprocess.run(
            ["systemctl", "is-active", SERVICE], capture_output=True, text=True, check=False
        )
        return result.stdout.strip() == "active"

    def _address(self) -> str:
        try:
            network = self.model.get_binding("website").network
        except ops.ModelError:
            return self.unit.name.replace("/", "-")
        address = network.ingress_address
        return str(address) if address is not None else self.unit.name.replace("/", "-")


if __name__ == "__main__":  # pragma: nocover
    ops.main(DemoMachineCharm)
