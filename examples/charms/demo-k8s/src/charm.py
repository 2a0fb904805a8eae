#!/usr/bin/env python3
# Copyright 2025 The charmfuzz authors.
# See LICENSE file for licensing details.

"""Kubernetes sidecar charm for the demo web application.

The workload (`demo-server`) runs in the `web` container under Pebble. The charm:

* renders `/etc/demo/demo.yaml` from config, the database relation and the admin secret,
  and keeps the Pebble layer (service `web`, check `web-alive`) up to date;
* asks the `db` relation (postgresql_client) for a database and reads the credentials the
  database charm publishes in its application databag;
* publishes itself through `ingress` and shares the public URL with its peers;
* shares an application-owned admin secret with its peers (created by the leader);
* takes backups into the `data` volume and, when the web server keeps failing its health
  check, restores the most recent one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from datetime import datetime, timezone
from typing import Any

import ops

logger = logging.getLogger(__name__)

CONTAINER = "web"
SERVICE = "web"
CHECK = "web-alive"
PEER = "replicas"
DATA_DIR = "/var/lib/demo"
BACKUP_DIR = f"{DATA_DIR}/backups"
RESTORE_MARKER = f"{DATA_DIR}/restore-from"
CONFIG_PATH = "/etc/demo/demo.yaml"
ADMIN_SECRET_LABEL = "demo-admin"
RELOAD_NOTICE = "demo.example/reload-config"
LOG_LEVELS = ("debug", "info", "warning", "error")
LABEL_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class DemoCharm(ops.CharmBase):
    """Charm the demo web application."""

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(
            web_config={},  # last known-good rendered config (set by config-changed)
            config_error="",
            db_uri="",
            public_url="",
            leader=False,
            last_backup="",
            check_failures=0,
            recovery="",  # "", "restarted", "no-backup", "restoring"
            restore={},
        )
        self.container = self.unit.get_container(CONTAINER)

        on = self.on
        framework.observe(on.install, self._on_install)
        framework.observe(on.config_changed, self._on_config_changed)
        framework.observe(on.start, self._on_start)
        framework.observe(on.update_status, self._on_update_status)
        framework.observe(on.upgrade_charm, self._on_upgrade_charm)
        framework.observe(on.stop, self._on_stop)
        framework.observe(on.remove, self._on_remove)
        framework.observe(on.leader_elected, self._on_leader_elected)
        framework.observe(on.leader_settings_changed, self._on_leader_settings_changed)

        framework.observe(on.web_pebble_ready, self._on_web_pebble_ready)
        framework.observe(on.web_pebble_custom_notice, self._on_web_custom_notice)
        framework.observe(on.web_pebble_check_failed, self._on_web_check_failed)
        framework.observe(on.web_pebble_check_recovered, self._on_web_check_recovered)

        framework.observe(on.replicas_relation_created, self._on_replicas_created)
        framework.observe(on.replicas_relation_joined, self._on_replicas_changed)
        framework.observe(on.replicas_relation_changed, self._on_replicas_changed)
        framework.observe(on.replicas_relation_departed, self._on_replicas_changed)

        framework.observe(on.db_relation_created, self._on_db_relation_created)
        framework.observe(on.db_relation_joined, self._on_db_relation_joined)
        framework.observe(on.db_relation_changed, self._on_db_relation_changed)
        framework.observe(on.db_relation_departed, self._on_db_relation_departed)
        framework.observe(on.db_relation_broken, self._on_db_relation_broken)

        framework.observe(on.ingress_relation_changed, self._on_ingress_changed)
        framework.observe(on.ingress_relation_broken, self._on_ingress_broken)
        framework.observe(on.metrics_endpoint_relation_joined, self._on_metrics_joined)

        framework.observe(on.data_storage_attached, self._on_data_attached)
        framework.observe(on.data_storage_detaching, self._on_data_detaching)

        framework.observe(on.secret_changed, self._on_secret_changed)
        framework.observe(on.secret_rotate, self._on_secret_rotate)

        framework.observe(on.backup_action, self._on_backup_action)
        framework.observe(on.rotate_password_action, self._on_rotate_password_action)
        framework.observe(on.get_status_action, self._on_get_status_action)

        framework.observe(on.collect_unit_status, self._on_collect_unit_status)

    # ------------------------------------------------------------------ lifecycle

    def _on_install(self, event: ops.InstallEvent):
        logger.info("installing demo %s", self.app.name)
        self.unit.set_workload_version("1.4.0")

    def _on_config_changed(self, event: ops.ConfigChangedEvent):
        port = self.config.get("port")
        log_level = str(self.config.get("log-level", "info")).lower()
        if not isinstance(port, int) or not 1 <= port <= 65535:
            self._stored.config_error = f"invalid port {port!r}"
            return
        if log_level not in LOG_LEVELS:
            self._stored.config_error = f"invalid log-level {log_level!r}"
            return
        self._stored.config_error = ""
        self._ensure_admin_secret()
        self._stored.web_config = {
            "port": port,
            "log-level": log_level,
            "debug": bool(self.config.get("debug", False)),
        }
        self._reconcile()
        self._publish_ingress_request()

    def _on_start(self, event: ops.StartEvent):
        logger.info("demo unit %s started", self.unit.name)

    def _on_update_status(self, event: ops.UpdateStatusEvent):
        # Periodic resync: put back anything the workload lost (container restarted, files gone).
        if self._stored.recovery != "restoring":
            self._reconcile()

    def _on_upgrade_charm(self, event: ops.UpgradeCharmEvent):
        # On Kubernetes the pod was recreated: local state is gone and config-changed follows.
        logger.info("charm upgraded; waiting for config-changed to reconfigure the workload")

    def _on_stop(self, event: ops.StopEvent):
        logger.info("demo unit %s stopping", self.unit.name)

    def _on_remove(self, event: ops.RemoveEvent):
        logger.info("demo unit %s removed", self.unit.name)

    def _on_leader_elected(self, event: ops.LeaderElectedEvent):
        if self._stored.leader:
            logger.info("re-elected as leader")
        # remember that we lead, so actions can refuse quickly on followers
        self._stored.leader = True
        self._ensure_admin_secret()
        if self._stored.public_url:
            self._share_url()
        self._reconcile()

    def _ensure_admin_secret(self):
        """Leader: create the shared admin secret once and tell the peers its id."""
        peer = self.model.get_relation(PEER)
        if peer is None or not self.unit.is_leader():
            return
        app_data = peer.data[self.app]
        if not app_data.get("admin-secret-id"):
            secret = self.app.add_secret(
                {"password": secrets.token_urlsafe(24)},
                label=ADMIN_SECRET_LABEL,
                description="demo admin password",
                rotate=ops.SecretRotate.MONTHLY,
            )
            app_data["admin-secret-id"] = secret.id or ""

    def _on_leader_settings_changed(self, event: ops.LeaderSettingsChangedEvent):
        # The leader may have replaced the admin secret or the public URL.
        self._reconcile()

    # ------------------------------------------------------------------ workload

    def _on_web_pebble_ready(self, event: ops.PebbleReadyEvent):
        # PLANTED BUG-1: pebble-ready can precede the first config-changed (§L2.1): no config yet.
        port = self._stored.web_config["port"]
        self.unit.set_ports(port)
        # The container may have restarted after this event was queued (Pebble's socket is
        # gone); Juju sends pebble-ready again when it is back.
        if not event.workload.can_connect():
            logger.info("%s unreachable; waiting for its next pebble-ready", event.workload.name)
            return
        event.workload.make_dir(BACKUP_DIR, make_parents=True)
        self._reconcile()

    def _on_web_custom_notice(self, event: ops.PebbleCustomNoticeEvent):
        if event.notice.key == RELOAD_NOTICE:
            logger.info("workload asked for a config reload")
            self._reconcile(force_restart=True)
        else:
            logger.debug("ignoring custom notice %s", event.notice.key)

    def _on_web_check_failed(self, event: ops.PebbleCheckFailedEvent):
        if event.info.name != CHECK:
            return
        self._stored.check_failures += 1
        if not self._web_planned() or self._stored.recovery == "restoring":
            return  # after a container restart, its pebble-ready sets the workload up again
        if self._stored.check_failures == 1:
            logger.warning("%s failing; restarting %s", CHECK, SERVICE)
            self.container.restart(SERVICE)
            self._stored.recovery = "restarted"
            return
        # It failed again after a restart helped: assume the data is damaged and roll back.
        if not self._stored.last_backup:
            logger.error("%s keeps failing and there is no backup to restore", SERVICE)
            self._stored.recovery = "no-backup"
            return
        self._start_restore(self._stored.last_backup)

    def _on_web_check_recovered(self, event: ops.PebbleCheckRecoveredEvent):
        if event.info.name != CHECK:
            return
        if self._stored.recovery == "restoring":
            self._stored.restore["finished"] = _now()
            self._stored.check_failures = 0
            logger.info("restore of %s finished", self._stored.restore["backup"])
        self._stored.recovery = ""

    def _start_restore(self, backup_id: str):
        logger.warning("restoring %s from backup %s", SERVICE, backup_id)
        self.container.push(RESTORE_MARKER, backup_id, make_dirs=True)
        self.container.restart(SERVICE)  # demo-server restores on start when the marker exists
        self._stored.recovery = "restoring"
        self._stored.restore = {"backup": backup_id, "started": _now(), "finished": ""}

    # ------------------------------------------------------------------ peers

    def _on_replicas_created(self, event: ops.RelationCreatedEvent):
        logger.debug("peer relation %d created", event.relation.id)

    def _on_replicas_changed(self, event: ops.RelationEvent):
        event.relation.data[self.unit]["address"] = self._unit_address()
        if self.unit.is_leader():
            event.relation.data[self.app]["members"] = str(len(event.relation.units) + 1)
        self._reconcile()

    # ------------------------------------------------------------------ db

    @property
    def _db_relation(self) -> ops.Relation | None:
        # `limit: 1` on the endpoint: use the first one if Juju ever gives us more.
        relations = self.model.relations["db"]
        return relations[0] if relations else None

    def _on_db_relation_created(self, event: ops.RelationCreatedEvent):
        if self.unit.is_leader():
            event.relation.data[self.app]["database"] = "demo"

    def _on_db_relation_joined(self, event: ops.RelationJoinedEvent):
        logger.info("database unit %s joined", event.unit.name if event.unit else "?")

    def _on_db_relation_changed(self, event: ops.RelationChangedEvent):
        if not self.container.can_connect():
            # The credentials are written into the workload config; wait for Pebble.
            event.defer()
            return
        relation = self._db_relation
        # PLANTED BUG-2: deferred db-relation-changed re-emitted after broken: no relation (§L4.2).
        data = relation.data[relation.app]
        username, password = data.get("username"), data.get("password")
        endpoints = data.get("endpoints", "")
        if not (username and password and endpoints):
            logger.info("database has not published credentials yet")
            return
        host = endpoints.split(",")[0].strip()
        self._stored.db_uri = f"postgresql://{username}:{password}@{host}/demo"
        self._reconcile()

    def _on_db_relation_departed(self, event: ops.RelationDepartedEvent):
        logger.info("database unit %s departed", event.departing_unit)

    def _on_db_relation_broken(self, event: ops.RelationBrokenEvent):
        self._stored.db_uri = ""
        self._reconcile()

    # ------------------------------------------------------------------ ingress & metrics

    def _publish_ingress_request(self):
        relations = self.model.relations["ingress"]
        if not relations or not self.unit.is_leader() or not self._stored.web_config:
            return
        relation = relations[0]
        relation.data[self.app].update(
            {
                "model": json.dumps(self.model.name),
                "name": json.dumps(self.app.name),
                "port": json.dumps(self._stored.web_config["port"]),
            }
        )

    def _on_ingress_changed(self, event: ops.RelationChangedEvent):
        self._publish_ingress_request()
        url = ""
        if event.app is not None:
            try:
                ingress = json.loads(event.relation.data[event.app].get("ingress", "{}"))
            except ValueError:
                ingress = {}
            if isinstance(ingress, dict) and isinstance(ingress.get("url"), str):
                url = ingress["url"]
        self._stored.public_url = url
        self._share_url()

    def _on_ingress_broken(self, event: ops.RelationBrokenEvent):
        self._stored.public_url = ""
        self._share_url()

    def _share_url(self):
        peer = self.model.get_relation(PEER)
        if peer is None or not self.unit.is_leader():
            return
        if self._stored.public_url:
            peer.data[self.app]["url"] = self._stored.public_url
        else:
            peer.data[self.app].pop("url", None)

    def _on_metrics_joined(self, event: ops.RelationJoinedEvent):
        port = self._stored.web_config.get("port", self.config.get("port", 8080))
        event.relation.data[self.unit].update(
            {
                "prometheus_scrape_unit_address": self._unit_address(),
                "prometheus_scrape_unit_name": self.unit.name,
            }
        )
        if self.unit.is_leader():
            jobs = [{"metrics_path": "/metrics", "static_configs": [{"targets": [f"*:{port}"]}]}]
            event.relation.data[self.app]["scrape_jobs"] = json.dumps(jobs)

    # ------------------------------------------------------------------ storage

    def _on_data_attached(self, event: ops.StorageAttachedEvent):
        logger.info("data volume %s attached at %s", event.storage.full_id, event.storage.location)
        if self.container.can_connect():
            self.container.make_dir(BACKUP_DIR, make_parents=True)

    def _on_data_detaching(self, event: ops.StorageDetachingEvent):
        # Stop the server so it does not write into a volume that is going away.
        if self.container.can_connect():
            service = self.container.get_services(SERVICE).get(SERVICE)
            if service is not None and service.is_running():
                self.container.stop(SERVICE)

    # ------------------------------------------------------------------ secrets

    def _on_secret_changed(self, event: ops.SecretChangedEvent):
        # The leader rotated the shared admin secret, or the user updated admin-password.
        if event.secret.label == ADMIN_SECRET_LABEL or event.secret.id == self.config.get(
            "admin-password"
        ):
            try:
                event.secret.get_content(refresh=True)
            except (ops.SecretNotFoundError, ops.ModelError):
                logger.warning("secret %s is no longer readable", event.secret.id)
            self._reconcile()

    def _on_secret_rotate(self, event: ops.SecretRotateEvent):
        if event.secret.label == ADMIN_SECRET_LABEL:
            event.secret.set_content({"password": secrets.token_urlsafe(24)})
            logger.info("rotated the admin password")

    def _admin_password(self) -> str:
        secret_id = self.config.get("admin-password")
        peer = self.model.get_relation(PEER)
        if not secret_id and peer is not None:
            secret_id = peer.data[self.app].get("admin-secret-id")
        if not secret_id:
            return ""
        try:
            content = self.model.get_secret(id=str(secret_id)).get_content()
        except (ops.SecretNotFoundError, ops.ModelError):
            logger.warning("admin secret %s not readable", secret_id)
            return ""
        return content.get("password", "")

    # ------------------------------------------------------------------ actions

    def _on_backup_action(self, event: ops.ActionEvent):
        label = str(event.params.get("label", "manual"))
        if not LABEL_RE.match(label):
            event.fail(f"invalid label {label!r}: use lowercase letters, digits and dashes")
            return
        if not self.container.can_connect():
            event.fail("the web container is not reachable yet")
            return
        if not self.model.storages["data"]:
            event.fail("the data volume is not attached")
            return
        if self._db_relation is None:
            event.fail("nothing to back up: relate to a database first")
            return
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        backup_id = f"{label}-{stamp}"
        manifest = {
            "id": backup_id,
            "created": _now(),
            "database": "demo",
            "database-connected": bool(self._stored.db_uri),
            "include-logs": bool(event.params.get("include-logs", False)),
        }
        path = f"{BACKUP_DIR}/{backup_id}.json"
        self.container.push(path, json.dumps(manifest), make_dirs=True)
        self._stored.last_backup = backup_id
        event.set_results({"backup-id": backup_id, "path": path})

    def _on_rotate_password_action(self, event: ops.ActionEvent):
        # PLANTED BUG-3: cached at leader-elected, never cleared; losing leadership runs no hook.
        if not self._stored.leader:
            event.fail("only the leader can rotate the admin password")
            return
        peer = self.model.get_relation(PEER)
        if peer is None:
            event.fail("peer relation not ready")
            return
        # Tell the peers first, so they re-read the secret on their next hook.
        peer.data[self.app]["password-rotated-at"] = _now()
        secret_id = peer.data[self.app].get("admin-secret-id")
        if secret_id:
            secret = self.model.get_secret(id=secret_id)
            secret.set_content({"password": secrets.token_urlsafe(24)})
        event.set_results({"rotated": True})

    def _on_get_status_action(self, event: ops.ActionEvent):
        results: dict[str, Any] = {
            "leader": self.unit.is_leader(),
            "workload-reachable": self.container.can_connect(),
            "db-connected": bool(self._stored.db_uri),
            "url": self._stored.public_url or "",
            "last-backup": self._stored.last_backup or "none",
            "check-failures": self._stored.check_failures,
            "recovery": self._stored.recovery or "none",
        }
        restore = self._stored.restore
        if restore:
            started = datetime.fromisoformat(restore["started"])
            # PLANTED BUG-4: get-status while a restore still runs parses an empty finish time.
            finished = datetime.fromisoformat(restore["finished"])
            results["last-restore"] = {
                "backup": restore["backup"],
                "seconds": int((finished - started).total_seconds()),
            }
        event.set_results(results)

    # ------------------------------------------------------------------ status

    def _on_collect_unit_status(self, event: ops.CollectStatusEvent):
        if self._stored.config_error:
            event.add_status(ops.BlockedStatus(self._stored.config_error))
        if self._stored.recovery == "no-backup":
            event.add_status(ops.BlockedStatus("web keeps failing and there is no backup"))
        if self._stored.recovery == "restoring":
            event.add_status(
                ops.MaintenanceStatus(f"restoring backup {self._stored.restore.get('backup')}")
            )
        if not self._stored.web_config:
            event.add_status(ops.WaitingStatus("waiting for config"))
        if not self.container.can_connect():
            event.add_status(ops.WaitingStatus("waiting for Pebble in the web container"))
        if self._db_relation is None:
            event.add_status(ops.BlockedStatus("needs a db relation"))
        elif not self._stored.db_uri:
            event.add_status(ops.WaitingStatus("waiting for database credentials"))
        event.add_status(ops.ActiveStatus(self._stored.public_url or ""))

    # ------------------------------------------------------------------ helpers

    def _unit_address(self) -> str:
        unit = self.unit.name.replace("/", "-")
        return f"{unit}.{self.app.name}-endpoints.{self.model.name}.svc.cluster.local"

    def _render_config(self) -> str:
        cfg = self._stored.web_config
        return json.dumps(
            {
                "listen": f":{cfg['port']}",
                "log-level": cfg["log-level"],
                "debug": cfg["debug"],
                "database": self._stored.db_uri,
                "admin-password": self._admin_password(),
                "public-url": self._stored.public_url,
            },
            indent=2,
            sort_keys=True,
        )

    def _layer(self, config_hash: str) -> ops.pebble.LayerDict:
        port = self._stored.web_config["port"]
        return {
            "summary": "demo layer",
            "services": {
                SERVICE: {
                    "override": "replace",
                    "summary": "demo web server",
                    "command": f"/usr/bin/demo-server --config {CONFIG_PATH}",
                    "startup": "enabled",
                    "environment": {"DEMO_CONFIG_HASH": config_hash},
                }
            },
            "checks": {
                CHECK: {
                    "override": "replace",
                    "level": "alive",
                    "threshold": 3,
                    "http": {"url": f"http://localhost:{port}/healthz"},
                }
            },
        }

    def _reconcile(self, force_restart: bool = False):
        """Bring the workload in line with config, relations and secrets (idempotent)."""
        if not self._stored.web_config:
            return  # config-changed has not run yet; it will call us
        if not self.container.can_connect():
            return  # pebble-ready will call us
        rendered = self._render_config()
        self.container.push(CONFIG_PATH, rendered, make_dirs=True)
        config_hash = hashlib.sha256(rendered.encode()).hexdigest()[:16]
        self.container.add_layer("demo", self._layer(config_hash), combine=True)
        self.container.replan()
        if force_restart:
            self.container.restart(SERVICE)
        self.unit.set_ports(self._stored.web_config["port"])

    def _web_planned(self) -> bool:
        """Whether Pebble is reachable and its plan has our service.

        Kubernetes restarts a container whose alive check fails (Juju makes those checks the
        pod's liveness probe), so a check-failed event can meet the fresh Pebble, which has
        none of the layers we added; the pebble-ready that follows adds ours again.
        """
        return self.container.can_connect() and SERVICE in self.container.get_plan().services


if __name__ == "__main__":  # pragma: nocover
    ops.main(DemoCharm)
