"""Drive ops' own Model and _ModelBackend against charmfuzz's hook-tool agent.

Run by tests/hooktools.rs (`the_real_ops_model`): every hook tool ops starts goes out as
one `@@HOOKTOOL {json}` line on stdout, and the agent's reply comes back as one JSON line
on stdin. So ops 3.9 builds the argv and parses the answers exactly as under Juju.
"""

import datetime
import json
import os
import pathlib
import shutil
import subprocess
import sys

_stdout = sys.stdout
sys.stdout = sys.stderr  # anything ops or this script prints goes to stderr


def fake_run(args, capture_output=False, check=False, encoding=None, input=None, **kw):
    tool = os.path.basename(args[0])
    req = {"tool": tool, "args": list(args[1:]), "stdin": input or ""}
    _stdout.write("@@HOOKTOOL " + json.dumps(req) + "\n")
    _stdout.flush()
    reply = json.loads(sys.stdin.readline())
    if check and reply["code"] != 0:
        raise subprocess.CalledProcessError(reply["code"], args, reply["stdout"], reply["stderr"])
    return subprocess.CompletedProcess(args, reply["code"], reply["stdout"], reply["stderr"])


subprocess.run = fake_run
shutil.which = lambda name: "/charmfuzz/tools/" + name
os.environ.update({
    "JUJU_UNIT_NAME": "rich-app/0",
    "JUJU_VERSION": "3.6.4",
    "JUJU_MODEL_NAME": "charmfuzz",
    "JUJU_MODEL_UUID": "7b1d2c3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
    "JUJU_DISPATCH_PATH": "hooks/update-status",
    "JUJU_HOOK_NAME": "update-status",
})

import ops  # noqa: E402
import ops.storage  # noqa: E402
from ops.model import Model, _ModelBackend  # noqa: E402

charm_dir = pathlib.Path(sys.argv[1])
consumed = sys.argv[2]
meta = ops.CharmMeta.from_yaml((charm_dir / "charmcraft.yaml").read_text())
backend = _ModelBackend()
model = Model(meta, backend)

# Config, leadership, status.
assert model.config["port"] == 8080, dict(model.config)
assert model.unit.is_leader()
assert model.unit.status == ops.UnknownStatus(), model.unit.status
model.unit.status = ops.ActiveStatus("ready")
model.app.status = ops.WaitingStatus("for db")
assert backend.status_get(is_app=True) == {"status": "waiting", "message": "for db"}
assert backend.status_get() == {"status": "active", "message": "ready"}

# Relations.
db = model.get_relation("db")
assert {u.name for u in db.units} == {"pg/0"}, db.units
assert db.app.name == "pg"
assert dict(db.data[db.app]) == {"endpoints": "pg:5432"}
pg0 = next(iter(db.units))
assert db.data[pg0]["user"] == "u"
assert "private-address" in db.data[pg0]
db.data[model.unit]["k"] = "v"
db.data[model.app]["a"] = "b"
assert db.data[model.unit]["k"] == "v"
del db.data[model.unit]["k"]
db.data[model.unit]["k2"] = "v2"
assert "k" not in db.data[model.unit]
assert db.remote_model.uuid == os.environ["JUJU_MODEL_UUID"]
peers = model.get_relation("replicas")
assert {u.name for u in peers.units} == {"rich-app/1"}
assert model.relations["ingress"] == []
try:
    backend.relation_get(99, "pg/0", False, relation_name="db")
    raise AssertionError("relation 99 exists?")
except ops.RelationNotFoundError:
    pass

# Network.
net = model.get_binding("db").network
assert str(net.bind_address).startswith("10.1."), net.bind_address
assert net.ingress_address == net.bind_address
assert model.get_binding(db).network.ingress_address == net.bind_address
assert model.get_binding("public").network.bind_address == net.bind_address

# Ports.
model.unit.open_port("tcp", 8080)
model.unit.set_ports(80, 443, ops.Port("udp", 53))
model.unit.open_port("icmp")
assert model.unit.opened_ports() == {
    ops.Port("tcp", 80), ops.Port("tcp", 443), ops.Port("udp", 53), ops.Port("icmp", None)
}, model.unit.opened_ports()

# Storage, goal state, workload version, resources, credentials.
(data,) = model.storages["data"]
assert (data.name, data.index) == ("data", 0)
assert data.location == pathlib.Path("/var/lib/juju/storage/data/0"), data.location
assert model.app.planned_units() == 2
model.unit.set_workload_version("1.2.3")
assert model.resources.fetch("license") == pathlib.Path("/charmfuzz/resources/license/license.txt")
try:
    model.resources.fetch("nope")
    raise AssertionError("undeclared resource fetched")
except NameError:
    pass
try:
    model.get_cloud_spec()
    raise AssertionError("credentials without trust")
except ops.ModelError as e:
    assert "permission denied" in str(e), e

# Secrets: an application secret this (leader) unit owns...
s = model.app.add_secret({"password": "p1"}, label="admin", description="d",
                         rotate=ops.SecretRotate.DAILY)
assert s.id.startswith("secret:"), s.id
assert s.get_content() == {"password": "p1"}
info = s.get_info()
assert (info.label, info.revision, info.rotation, info.description) == (
    "admin", 1, ops.SecretRotate.DAILY, "d"), info
assert info.rotates == datetime.datetime(2025, 1, 2, tzinfo=datetime.timezone.utc), info.rotates
s.set_content({"password": "p2"})
assert s.get_content(refresh=True) == {"password": "p2"}
s.grant(db)
assert model.get_secret(label="admin").get_content() == {"password": "p2"}
# ...one it consumes (revised since granted; never read, so it reads the latest)...
c = model.get_secret(id=consumed)
assert c.get_content() == {"password": "v2"}, c.get_content()
assert c.peek_content() == {"password": "v2"}
try:
    model.get_secret(id="secret:0123456789abcdefghij").get_content()
    raise AssertionError("unknown secret found")
except ops.SecretNotFoundError:
    pass
try:
    c.set_content({"password": "mine"})
    raise AssertionError("consumer updated a secret")
except ops.ModelError:
    pass
# ...and a unit secret that expires.
u = model.unit.add_secret({"token": "t"}, expire=datetime.timedelta(hours=1))
assert u.get_info().expires is not None
u.remove_all_revisions()

# Charm state (use_juju_for_storage=True).
store = ops.storage.JujuStorage()
store.save_snapshot("StoredStateData[X/StoredState[_stored]]", {"count": 1, "l": [1, "a: b"]})
assert store.load_snapshot("StoredStateData[X/StoredState[_stored]]") == {"count": 1, "l": [1, "a: b"]}
try:
    store.load_snapshot("nope")
    raise AssertionError("missing snapshot loaded")
except ops.storage.NoSnapshotError:
    pass

# Logging goes through juju-log.
backend.juju_log("WARNING", "all done")

_stdout.write("@@DONE\n")
_stdout.flush()
