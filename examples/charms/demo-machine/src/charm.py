#!/usr/bin/env python3
# Copyright 2025 The charmfuzz authors.
# See LICENSE file for licensing details.

"""Machine charm for the demo web application.

A real machine charm would `apt-get install` the server and drive a systemd unit. This one
must never touch the host, so the "installation" and the "service" are files under
`$CHARM_DIR/workload/`: `bin/demo-server` (the installed payload), `demo.conf` (the rendered
config) and `service.json` (whether the simulated service runs, with which config).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import ops

logger = logging.getLogger(__name__)

PEER = "cluster"
VERSION = "1.4.0"
LOG_LEVELS = ("debug", "info", "warning", "error")


class DemoMachineCharm(ops.CharmBase):
    """Charm the demo web application on a machine."""

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(installed=False, db_uri="", opened_port=0, config_error="")
        self.workload = Path(self.charm_dir) / "workload"

        on = self.on
        framework.observe(on.install, self._on_install)
        framework.observe(on.config_changed, self._on_config_changed)
        framework.observe(on.start, self._on_start)
        framework.observe(on.stop, self._on_stop)
        framework.observe(on.remove, self._on_remove)
        framework.observe(on.upgrade_charm, self._on_upgrade_charm)
        framework.observe(on.update_status, self._on_update_status)
        framework.observe(on.leader_elected, self._on_leader_elected)

        framework.observe(on.cluster_relation_joined, self._on_cluster_changed)
        framework.observe(on.cluster_relation_changed, self._on_cluster_changed)
        framework.observe(on.cluster_relation_departed, self._on_cluster_changed)

        framework.observe(on.db_relation_created, self._on_db_created)
        framework.observe(on.db_relation_changed, self._on_db_changed)
        framework.observe(on.db_relation_broken, self._on_db_broken)

        framework.observe(on.website_relation_joined, self._on_website_joined)

        framework.observe(on.cache_storage_attached, self._on_cache_changed)
        framework.observe(on.cache_storage_detaching, self._on_cache_changed)

        framework.observe(on.restart_action, self._on_restart_action)
        framework.observe(on.clear_cache_action, self._on_clear_cache_action)

        framework.observe(on.collect_unit_status, self._on_collect_unit_status)

    # ------------------------------------------------------------------ lifecycle

    def _on_install(self, event: ops.InstallEvent):
        self.unit.status = ops.MaintenanceStatus("installing demo-server")
        self._install_payload()
        self._stored.installed = True
        self.unit.set_workload_version(VERSION)

    def _on_upgrade_charm(self, event: ops.UpgradeCharmEvent):
        # The new charm revision may ship a newer payload; config-changed follows.
        self._install_payload()
        self.unit.set_workload_version(VERSION)

    def _on_config_changed(self, event: ops.ConfigChangedEvent):
        port = self.config.get("port")
        log_level = str(self.config.get("log-level", "info")).lower()
        cache_mb = self.config.get("cache-size-mb", 64)
        if not isinstance(port, int) or not 1 <= port <= 65535:
            self._stored.config_error = f"invalid port {port!r}"
            return
        if log_level not in LOG_LEVELS:
            self._stored.config_error = f"invalid log-level {log_level!r}"
            return
        if not isinstance(cache_mb, int) or cache_mb < 0:
            self._stored.config_error = f"invalid cache-size-mb {cache_mb!r}"
            return
        self._stored.config_error = ""
        self._write_config()
        if self._stored.opened_port != port:
            if self._stored.opened_port:
                self.unit.close_port("tcp", self._stored.opened_port)
            self.unit.open_port("tcp", port)
            self._stored.opened_port = port
        if self._service_running():
            self._set_running(True)  # "systemctl restart" with the new config
        self._update_website()

    def _on_start(self, event: ops.StartEvent):
        self._set_running(True)

    def _on_stop(self, event: ops.StopEvent):
        self._set_running(False)

    def _on_remove(self, event: ops.RemoveEvent):
        for name in ("service.json", "demo.conf", "bin/demo-server"):
            (self.workload / name).unlink(missing_ok=True)

    def _on_update_status(self, event: ops.UpdateStatusEvent):
        if self._stored.installed and not (self.workload / "bin" / "demo-server").exists():
            logger.warning("payload missing; reinstalling")
            self._install_payload()

    def _on_leader_elected(self, event: ops.LeaderElectedEvent):
        peer = self.model.get_relation(PEER)
        if peer is not None:
            peer.data[self.app]["leader"] = self.unit.name

    # ------------------------------------------------------------------ relations

    def _on_cluster_changed(self, event: ops.RelationEvent):
        event.relation.data[self.unit]["address"] = self._address()
        if self.unit.is_leader():
            event.relation.data[self.app]["members"] = str(len(event.relation.units) + 1)

    def _on_db_created(self, event: ops.RelationCreatedEvent):
        if self.unit.is_leader():
            event.relation.data[self.app]["database"] = "demo"

    def _on_db_changed(self, event: ops.RelationChangedEvent):
        if event.app is None:
            return
        data = event.relation.data[event.app]
        username, password = data.get("username"), data.get("password")
        endpoints = data.get("endpoints", "")
        if not (username and password and endpoints):
            return
        host = endpoints.split(",")[0].strip()
        self._stored.db_uri = f"postgresql://{username}:{password}@{host}/demo"
        self._write_config()

    def _on_db_broken(self, event: ops.RelationBrokenEvent):
        self._stored.db_uri = ""
        self._write_config()

    def _on_website_joined(self, event: ops.RelationJoinedEvent):
        self._update_website()

    def _update_website(self):
        port = self.config.get("port")
        if not isinstance(port, int):
            return
        for relation in self.model.relations["website"]:
            relation.data[self.unit].update({"hostname": self._address(), "port": str(port)})

    # ------------------------------------------------------------------ storage

    def _on_cache_changed(self, event: ops.StorageEvent):
        detaching = isinstance(event, ops.StorageDetachingEvent)
        logger.info("cache %s %s", event.storage.full_id, "detaching" if detaching else "attached")
        self._write_config(detaching=event.storage if detaching else None)

    def _cache_dirs(self, detaching: ops.Storage | None = None) -> list[str]:
        dirs: list[str] = []
        for storage in self.model.storages["cache"]:
            if detaching is not None and storage.full_id == detaching.full_id:
                continue
            dirs.append(str(storage.location))
        return sorted(dirs)

    # ------------------------------------------------------------------ actions

    def _on_restart_action(self, event: ops.ActionEvent):
        if not self._service_running():
            event.fail("demo-server is not running")
            return
        self._set_running(True)
        event.set_results({"restarted": True})

    def _on_clear_cache_action(self, event: ops.ActionEvent):
        days = event.params.get("older-than-days", 0)
        dirs = self._cache_dirs()
        if not dirs:
            event.fail("no cache storage attached")
            return
        event.log(f"dropping cache entries older than {days} days in {len(dirs)} instance(s)")
        event.set_results({"instances": len(dirs), "older-than-days": days})

    # ------------------------------------------------------------------ status

    def _on_collect_unit_status(self, event: ops.CollectStatusEvent):
        if self._stored.config_error:
            event.add_status(ops.BlockedStatus(self._stored.config_error))
        if not self._stored.installed:
            event.add_status(ops.MaintenanceStatus("installing demo-server"))
        if not self.model.relations["db"]:
            event.add_status(ops.BlockedStatus("needs a db relation"))
        elif not self._stored.db_uri:
            event.add_status(ops.WaitingStatus("waiting for database credentials"))
        if not self._service_running():
            event.add_status(ops.MaintenanceStatus("demo-server stopped"))
        event.add_status(ops.ActiveStatus())

    # ------------------------------------------------------------------ simulated workload

    def _address(self) -> str:
        try:
            network = self.model.get_binding("website").network
        except ops.ModelError:
            return self.unit.name.replace("/", "-")
        address = network.ingress_address
        return str(address) if address is not None else self.unit.name.replace("/", "-")

    def _install_payload(self):
        (self.workload / "bin").mkdir(parents=True, exist_ok=True)
        (self.workload / "bin" / "demo-server").write_text(f"demo-server {VERSION}\n")

    def _write_config(self, detaching: ops.Storage | None = None):
        if not self._stored.installed:
            return
        port = self.config.get("port", 8080)
        config = {
            "listen": f":{port}",
            "log-level": self.config.get("log-level", "info"),
            "database": self._stored.db_uri,
            "cache-dirs": self._cache_dirs(detaching),
            "cache-size-mb": self.config.get("cache-size-mb", 64),
        }
        self.workload.mkdir(parents=True, exist_ok=True)
        (self.workload / "demo.conf").write_text(json.dumps(config, indent=2, sort_keys=True))

    def _service_running(self) -> bool:
        try:
            state = json.loads((self.workload / "service.json").read_text())
        except (OSError, ValueError):
            return False
        return isinstance(state, dict) and state.get("running") is True

    def _set_running(self, running: bool):
        self.workload.mkdir(parents=True, exist_ok=True)
        conf = self.workload / "demo.conf"
        state = {"running": running, "config": conf.read_text() if conf.exists() else ""}
        (self.workload / "service.json").write_text(json.dumps(state))


if __name__ == "__main__":  # pragma: nocover
    ops.main(DemoMachineCharm)
