"""The real ops Pebble client against charmfuzz's fake Pebble.

Run by `cargo test -p pebble-fake --test pebble` (crates/pebble-fake/tests/pebble.rs), which starts the fake Pebble with the
exec answers this file expects and passes its socket in CHARMFUZZ_PEBBLE_SOCKET. Every test
uses its own names and paths, so the order does not matter.
"""

from __future__ import annotations

import datetime
import io
import os
import types

import pytest

import ops
from ops import pebble

SOCKET = os.environ.get('CHARMFUZZ_PEBBLE_SOCKET')
pytestmark = pytest.mark.skipif(
    not SOCKET,
    reason='run through `cargo test -p pebble-fake --test pebble`, which starts the fake Pebble',
)


@pytest.fixture
def client() -> pebble.Client:
    assert SOCKET is not None
    return pebble.Client(socket_path=SOCKET)


@pytest.fixture
def container(client: pebble.Client) -> ops.Container:
    backend = types.SimpleNamespace(
        _juju_context=types.SimpleNamespace(version=ops.JujuVersion('3.6.4'))
    )
    return ops.Container('workload', backend, pebble_client=client)  # type: ignore[arg-type]


def test_system_info_and_can_connect(client: pebble.Client, container: ops.Container):
    info = client.get_system_info()
    assert info.version.startswith('v1.')
    assert container.can_connect()
    assert client.get_warnings() == []
    assert client.get_warnings(pebble.WarningState.ALL) == []
    assert client.ack_warnings(datetime.datetime.now()) == 0


def test_layers_plan_and_services(client: pebble.Client):
    layer = {
        'summary': 'svc layer',
        'services': {
            'svc-a': {
                'override': 'replace',
                'command': '/bin/a --flag "two words"',
                'startup': 'enabled',
                'environment': {'MODE': '0755', 'FLAG': 'yes'},
            },
            'svc-b': {'override': 'replace', 'command': '/bin/b', 'requires': ['svc-a']},
        },
    }
    client.add_layer('svc-layer', layer)
    with pytest.raises(pebble.APIError) as e:
        client.add_layer('svc-layer', layer)
    assert e.value.code == 400
    assert e.value.message == 'layer "svc-layer" already exists'
    client.add_layer(
        'svc-layer',
        {'services': {'svc-b': {'override': 'merge', 'environment': {'B': '1'}}}},
        combine=True,
    )

    plan = client.get_plan()
    svc_a = plan.services['svc-a']
    assert svc_a.command == '/bin/a --flag "two words"'
    # Strings stay strings through the YAML round trip (PyYAML would read 0755 and yes
    # as an int and a bool if the plan did not quote them).
    assert svc_a.environment == {'MODE': '0755', 'FLAG': 'yes'}
    assert plan.services['svc-b'].environment == {'B': '1'}
    assert plan.services['svc-b'].requires == ['svc-a']
    assert pebble.Plan(plan.to_yaml()).to_dict() == plan.to_dict()

    with pytest.raises(pebble.APIError) as e:
        client.add_layer('bad', {'services': {'x': {'command': 'x'}}})
    assert e.value.code == 400
    assert 'must define "override" for service "x"' in e.value.message

    change_id = client.replan_services()
    change = client.get_change(change_id)
    assert change.kind == 'replan'
    assert change.ready and change.status == 'Done' and change.err is None
    infos = {s.name: s for s in client.get_services(['svc-a', 'svc-b'])}
    assert infos['svc-a'].is_running()
    assert infos['svc-a'].startup == pebble.ServiceStartup.ENABLED
    assert infos['svc-b'].current == pebble.ServiceStatus.INACTIVE
    assert infos['svc-b'].startup == pebble.ServiceStartup.DISABLED

    client.start_services(['svc-b'])
    assert client.get_services(['svc-b'])[0].is_running()
    client.restart_services(['svc-a'])
    client.stop_services(['svc-a'])
    # Stopping svc-a stops svc-b, which requires it.
    assert {s.name: s.current for s in client.get_services(['svc-a', 'svc-b'])} == {
        'svc-a': pebble.ServiceStatus.INACTIVE,
        'svc-b': pebble.ServiceStatus.INACTIVE,
    }
    client.autostart_services()
    assert client.get_services(['svc-a'])[0].is_running()

    with pytest.raises(pebble.APIError) as e:
        client.start_services(['no-such-service'])
    assert e.value.code == 400
    assert e.value.message == 'cannot start services: service "no-such-service" does not exist'

    ready = client.get_changes(pebble.ChangeState.READY, service='svc-b')
    assert ready and all(c.ready for c in ready)
    with pytest.raises(pebble.APIError) as e:
        client.abort_change(change_id)
    assert e.value.message == f'cannot abort change {change_id} with nothing pending'
    with pytest.raises(pebble.APIError) as e:
        client.get_change(pebble.ChangeID('99999'))
    assert e.value.code == 404


def test_container_level_services(container: ops.Container):
    container.add_layer(
        'ctr-layer',
        {'services': {'ctr-svc': {'override': 'replace', 'command': 'srv', 'startup': 'enabled'}}},
        combine=True,
    )
    container.replan()
    assert container.get_service('ctr-svc').is_running()
    container.restart('ctr-svc')
    assert container.get_service('ctr-svc').is_running()
    container.stop('ctr-svc')
    assert not container.get_service('ctr-svc').is_running()
    container.start('ctr-svc')
    assert 'ctr-svc' in container.get_plan().services


def test_files(client: pebble.Client, container: ops.Container):
    client.push('/files/etc/app.conf', 'key = value\n', make_dirs=True)
    client.push('/files/bin/blob', b'\x00\x01\xfe\xff', make_dirs=True, permissions=0o700)
    big = os.urandom(300_000)
    client.push('/files/big', io.BytesIO(big), make_dirs=True)
    assert client.pull('/files/etc/app.conf').read() == 'key = value\n'
    assert client.pull('/files/bin/blob', encoding=None).read() == b'\x00\x01\xfe\xff'
    assert client.pull('/files/big', encoding=None).read() == big

    with pytest.raises(pebble.PathError) as pe:
        client.pull('/files/missing')
    assert pe.value.kind == 'not-found'
    assert pe.value.message == 'stat /files/missing: no such file or directory'
    with pytest.raises(pebble.PathError) as pe:
        client.push('/nodir/x', 'x')
    assert pe.value.kind == 'not-found'

    infos = client.list_files('/files/bin')
    assert [(f.name, f.type, f.permissions, f.size) for f in infos] == [
        ('blob', pebble.FileType.FILE, 0o700, 4)
    ]
    assert infos[0].path == '/files/bin/blob'
    assert infos[0].user == 'root' and infos[0].user_id == 0
    [itself] = client.list_files('/files/bin', itself=True)
    assert itself.type == pebble.FileType.DIRECTORY
    assert [f.name for f in client.list_files('/files/etc', pattern='*.conf')] == ['app.conf']
    assert client.list_files('/files/etc', pattern='*.ini') == []
    with pytest.raises(pebble.APIError) as e:
        client.list_files('/files/missing')
    assert e.value.code == 404

    assert container.exists('/files/etc/app.conf')
    assert container.isdir('/files/etc')
    assert not container.isdir('/files/etc/app.conf')
    assert not container.exists('/files/nothing-here')

    client.make_dir('/files/new/deep', make_parents=True, permissions=0o750)
    assert client.list_files('/files/new/deep', itself=True)[0].permissions == 0o750
    with pytest.raises(pebble.PathError) as pe:
        client.make_dir('/files/new')
    assert pe.value.message == 'mkdir /files/new: file exists'
    with pytest.raises(pebble.PathError) as pe:
        client.remove_path('/files/new')
    assert pe.value.message == 'remove /files/new: directory not empty'
    client.remove_path('/files/new', recursive=True)
    client.remove_path('/files/new', recursive=True)  # missing is fine with recursive
    assert not container.exists('/files/new')
    with pytest.raises(pebble.PathError):
        client.remove_path('/files/new')

    client.push('/files/owned', 'x', user='postgres', group='postgres')
    [owned] = client.list_files('/files/owned')
    assert (owned.user, owned.group) == ('postgres', 'postgres')

    container.push('/files/ctr/a.txt', 'from container', make_dirs=True)
    assert container.pull('/files/ctr/a.txt').read() == 'from container'
    assert [f.name for f in container.list_files('/files/ctr')] == ['a.txt']
    container.remove_path('/files/ctr', recursive=True)


def test_exec(client: pebble.Client):
    out, err = client.exec(['echo', 'hello']).wait_output()
    assert (out, err) == ('hello\n', '')

    proc = client.exec(
        ['/usr/bin/app', 'version'],
        environment={'APP_ENV': 'test'},
        working_dir='/srv',
        encoding=None,
    )
    out, err = proc.wait_output()
    assert out == b'app 1.2.3\n'

    with pytest.raises(pebble.ExecError) as ee:
        client.exec(['fail-cmd', '--now']).wait_output()
    assert ee.value.exit_code == 3
    assert ee.value.stdout == 'partial\n'
    assert ee.value.stderr == 'boom\n'

    out, err = client.exec(['fail-cmd', 'quietly']).wait_output()
    assert (out, err) == ('', '')

    with pytest.raises(pebble.ExecError) as ee:
        client.exec(['fail-cmd', '--now'], combine_stderr=True).wait_output()
    assert ee.value.stdout == 'partial\nboom\n'
    assert ee.value.stderr is None

    out, _ = client.exec(['cat'], stdin='line one\nline two\n').wait_output()
    assert out == 'catted\n'

    client.exec(['true']).wait()

    with pytest.raises(pebble.APIError) as e:
        client.exec(['no-such-binary', '-x'])
    assert e.value.code == 400
    assert e.value.message == 'cannot find executable "no-such-binary"'

    with pytest.raises(pebble.ChangeError) as ce:
        client.exec(['sleep', 'forever'], timeout=0.3).wait()
    assert 'timed out after 300ms' in ce.value.err

    proc = client.exec(['sleep', 'forever'])
    proc.send_signal('SIGTERM')
    with pytest.raises(pebble.ExecError) as ee:
        proc.wait()
    assert ee.value.exit_code == 128 + 15


def test_checks(client: pebble.Client, container: ops.Container):
    client.add_layer(
        'checks-layer',
        {
            'checks': {
                'chk-alive': {
                    'override': 'replace',
                    'level': 'alive',
                    'tcp': {'port': 8080},
                },
                'chk-ready': {
                    'override': 'replace',
                    'level': 'ready',
                    'http': {'url': 'http://localhost:8080/ready'},
                    'threshold': 5,
                },
            }
        },
    )
    checks = {c.name: c for c in client.get_checks()}
    assert checks['chk-alive'].status == pebble.CheckStatus.UP
    assert checks['chk-ready'].threshold == 5
    assert checks['chk-alive'].change_id
    assert [c.name for c in client.get_checks(level=pebble.CheckLevel.READY)] == ['chk-ready']
    assert [c.name for c in client.get_checks(names=['chk-alive'])] == ['chk-alive']

    assert client.stop_checks(['chk-alive']) == ['chk-alive']
    assert client.stop_checks(['chk-alive']) == []
    assert client.get_checks(names=['chk-alive'])[0].status == pebble.CheckStatus.INACTIVE
    assert client.start_checks(['chk-alive']) == ['chk-alive']
    assert container.get_check('chk-alive').status == pebble.CheckStatus.UP
    with pytest.raises(pebble.APIError) as e:
        client.start_checks(['nope'])
    assert e.value.message == 'cannot start checks: cannot find checks in plan: nope'
    perform = client.get_change(checks['chk-ready'].change_id)
    assert perform.kind == 'perform-check' and not perform.ready


def test_notices(client: pebble.Client, container: ops.Container):
    nid = client.notify(pebble.NoticeType.CUSTOM, 'example.com/reload', data={'a': '1'})
    again = client.notify(
        pebble.NoticeType.CUSTOM,
        'example.com/reload',
        data={'a': '2'},
        repeat_after=datetime.timedelta(hours=1),
    )
    assert again == nid
    notice = client.get_notice(nid)
    assert notice.key == 'example.com/reload'
    assert notice.type == pebble.NoticeType.CUSTOM
    assert notice.occurrences == 2
    assert notice.last_data == {'a': '2'}
    assert notice.repeat_after == datetime.timedelta(hours=1)
    assert notice.expire_after == datetime.timedelta(days=7)
    mine = client.get_notices(types=[pebble.NoticeType.CUSTOM], keys=['example.com/reload'])
    assert [n.id for n in mine] == [nid]
    assert any(n.type == pebble.NoticeType.CHANGE_UPDATE for n in client.get_notices())
    assert container.get_notice(nid).key == 'example.com/reload'
    with pytest.raises(pebble.APIError) as e:
        client.get_notice('424242')
    assert e.value.code == 404
    with pytest.raises(pebble.APIError) as e:
        client.notify(pebble.NoticeType.CUSTOM, 'not-a-key')
    assert e.value.code == 400


def test_signals(client: pebble.Client):
    client.add_layer(
        'sig-layer',
        {'services': {'sig-svc': {'override': 'replace', 'command': 'sig', 'startup': 'enabled'}}},
    )
    client.start_services(['sig-svc'])
    client.send_signal('SIGHUP', ['sig-svc'])
    client.stop_services(['sig-svc'])
    with pytest.raises(pebble.APIError) as e:
        client.send_signal('SIGHUP', ['sig-svc'])
    assert e.value.code == 500
    assert e.value.message == 'cannot send signal to "sig-svc": service is not running'


def test_identities(client: pebble.Client):
    client.replace_identities(
        {
            'bob': {'access': 'read', 'local': {'user-id': 42}},
            'web': {'access': 'metrics', 'basic': {'password': 'hash'}},
        }
    )
    ids = client.get_identities()
    assert ids['bob'].access == pebble.IdentityAccess.READ
    assert ids['bob'].local is not None and ids['bob'].local.user_id == 42
    assert ids['web'].basic is not None and ids['web'].basic.password == '*****'
    client.remove_identities(['bob'])
    assert 'bob' not in client.get_identities()
