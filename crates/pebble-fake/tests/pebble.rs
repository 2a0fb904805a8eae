//! The fake Pebble (`pebble_fake`, charmfuzz's `target::pebble`) on the wire: raw HTTP
//! over its Unix socket for the byte-level details (envelopes, chunked push, multipart
//! pull, 504 waits), the harness API (down/up, fresh restarts, snapshots), and the real
//! `ops.pebble.Client` driven from Python (tests/python/test_pebble_client.py), with the
//! venv at `$CHARMFUZZ_VENV` or the workspace's `.venv`.

use pebble_fake::{ExecAnswer, ExecAnswers, FakePebble, PebbleError, ServiceStatus, Status};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A short temp dir (socket paths must stay under 107 bytes).
fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cfp")
        .tempdir_in("/tmp")
        .unwrap()
}

fn start(dir: &Path, names: &[&str], exec: ExecAnswers) -> FakePebble {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    FakePebble::start(dir, &names, exec).unwrap()
}

struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 exchange the way ops makes it: a fresh connection, `Connection: close`.
fn raw(socket: &Path, head: &str, body: &[u8]) -> RawResponse {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head_text = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut lines = head_text.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap(), 16).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + n]);
            rest = &rest[eol + 2 + n + 2..];
        }
        body = out;
    }
    RawResponse {
        status,
        headers,
        body,
    }
}

fn get(socket: &Path, path: &str) -> RawResponse {
    raw(
        socket,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAccept: application/json\r\n\r\n"
        ),
        b"",
    )
}

fn post_json(socket: &Path, path: &str, body: &Value) -> RawResponse {
    let b = serde_json::to_vec(body).unwrap();
    raw(
        socket,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            b.len()
        ),
        &b,
    )
}

#[test]
fn envelopes_and_errors_are_pebbles() {
    let dir = tmp();
    let p = start(dir.path(), &["web"], ExecAnswers::default());
    let sock = p.socket_path("web").unwrap();
    assert_eq!(sock, dir.path().join("containers/web/pebble.socket"));

    let r = get(&sock, "/v1/system-info");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let text = String::from_utf8(r.body.clone()).unwrap();
    assert!(
        text.starts_with(r#"{"type":"sync","status-code":200,"status":"OK","result":{"boot-id":""#),
        "{text}"
    );
    assert_eq!(r.json()["result"]["version"], "v1.19.0");

    let r = get(&sock, "/v1/nope");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"type":"error","status-code":404,"status":"Not Found",
               "result":{"message":"invalid API endpoint requested"}})
    );
    let r = raw(
        &sock,
        "PUT /v1/services HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        b"",
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["result"]["message"], "method \"PUT\" not allowed");

    // A missing path in a listing is a 404 error with a kind.
    let r = get(&sock, "/v1/files?action=list&path=%2Fmissing&itself=true");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"type":"error","status-code":404,"status":"Not Found",
               "result":{"message":"stat /missing: no such file or directory","kind":"not-found"}})
    );

    // Services: async with a change id and no result.
    let r = post_json(
        &sock,
        "/v1/services",
        &json!({"action": "replan", "services": []}),
    );
    assert_eq!(r.status, 202);
    assert_eq!(
        r.json(),
        json!({"type":"async","status-code":202,"status":"Accepted","change":"1"})
    );
    let r = get(&sock, "/v1/changes/1/wait?timeout=4.000s");
    assert_eq!(r.status, 200);
    let ch = &r.json()["result"];
    assert_eq!(ch["summary"], "Replan - no services");
    assert_eq!(ch["status"], "Done");
    assert_eq!(ch["ready"], true);
    assert!(ch["spawn-time"].as_str().unwrap().ends_with('Z'));

    let r = post_json(
        &sock,
        "/v1/layers",
        &json!({"action": "add", "label": "", "format": "yaml", "layer": ""}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["result"]["message"], "label must be set");
    let r = get(&sock, "/v1/plan?format=json");
    assert_eq!(r.json()["result"]["message"], "invalid format \"json\"");
    let r = get(&sock, "/v1/plan?format=yaml");
    assert_eq!(r.json()["result"], "{}\n");
}

/// Chunks a body the way http.client does for a generator body.
fn chunked(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(format!("{:x}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[test]
fn chunked_push_and_multipart_pull() {
    let dir = tmp();
    let p = start(dir.path(), &["web"], ExecAnswers::default());
    let sock = p.socket_path("web").unwrap();
    let boundary = "0123456789abcdef0123456789abcdef";
    let meta = r#"{"action": "write", "files": [{"path": "/etc/app/conf.yaml", "make-dirs": true, "permissions": "600"}]}"#;
    let head = format!(
        "--{boundary}\r\nContent-Type: application/json\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n{meta}\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=\"files\"; filename=\"/etc/app/conf.yaml\"\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    // Split awkwardly: inside the header part, inside the content, inside the boundary.
    let (h1, h2) = head.as_bytes().split_at(37);
    let (t1, t2) = tail.as_bytes().split_at(7);
    let body = chunked(&[h1, h2, b"port: 80", b"\n", t1, t2]);
    let r = raw(
        &sock,
        &format!(
            "POST /v1/files HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAccept: application/json\r\nContent-Type: multipart/form-data; boundary=\"{boundary}\"\r\nTransfer-Encoding: chunked\r\n\r\n"
        ),
        &body,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["result"], json!([{"path": "/etc/app/conf.yaml"}]));
    assert_eq!(
        p.file("web", "/etc/app/conf.yaml").unwrap().as_deref(),
        Some(&b"port: 80\n"[..])
    );
    let log = p.request_log("web").unwrap();
    assert!(log.last().unwrap().chunked);
    assert_eq!(log.last().unwrap().path, "/v1/files");

    // Pull: Go's multipart layout, file part first, then the response part.
    let r = raw(
        &sock,
        "GET /v1/files?action=read&path=%2Fetc%2Fapp%2Fconf.yaml HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAccept: multipart/form-data\r\n\r\n",
        b"",
    );
    assert_eq!(r.status, 200);
    let ct = r.header("Content-Type").unwrap().to_string();
    let b = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
    assert_eq!(b.len(), 60);
    let expected = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"/etc/app/conf.yaml\"\r\nContent-Type: application/octet-stream\r\n\r\nport: 80\n\r\n--{b}\r\nContent-Disposition: form-data; name=\"response\"\r\nContent-Type: application/json\r\n\r\n{{\"type\":\"sync\",\"status-code\":200,\"status\":\"OK\",\"result\":[{{\"path\":\"/etc/app/conf.yaml\"}}]}}\n\r\n--{b}--\r\n"
    );
    assert_eq!(String::from_utf8_lossy(&r.body), expected);

    // A per-path error: only the response part.
    let r = raw(
        &sock,
        "GET /v1/files?action=read&path=%2Fnope HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAccept: multipart/form-data\r\n\r\n",
        b"",
    );
    let text = String::from_utf8_lossy(&r.body).to_string();
    assert!(!text.contains("name=\"files\""));
    assert!(text.contains(
        r#""result":[{"path":"/nope","error":{"message":"stat /nope: no such file or directory","kind":"not-found"}}]"#
    ));
    // Without the multipart Accept header: refused.
    let r = get(&sock, "/v1/files?action=read&path=%2Fnope");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["result"]["message"],
        "must accept multipart/form-data"
    );

    // The listing shows the mode and size.
    let r = get(&sock, "/v1/files?action=list&path=%2Fetc%2Fapp");
    let list = &r.json()["result"];
    assert_eq!(list[0]["permissions"], "600");
    assert_eq!(list[0]["size"], 9);
    assert_eq!(list[0]["type"], "file");
}

#[test]
fn exec_change_waits_time_out_with_504() {
    let dir = tmp();
    let answers = ExecAnswers::default().with(ExecAnswer::new(&["sleep"]).hang());
    let p = start(dir.path(), &["web"], answers);
    let sock = p.socket_path("web").unwrap();
    let r = post_json(
        &sock,
        "/v1/exec",
        &json!({"command": ["sleep", "10"], "environment": {}, "split-stderr": true}),
    );
    assert_eq!(r.status, 202);
    let v = r.json();
    let change = v["change"].as_str().unwrap().to_string();
    assert_eq!(v["result"]["task-id"], "1");
    assert_eq!(v["result"]["working-dir"], "/root");
    assert_eq!(v["result"]["environment"]["LANG"], "C.UTF-8");
    let r = get(&sock, &format!("/v1/changes/{change}/wait?timeout=0.200s"));
    assert_eq!(r.status, 504);
    assert_eq!(
        r.json()["result"]["message"],
        "timed out waiting for change after 200ms"
    );
    let r = get(&sock, "/v1/changes?select=in-progress");
    assert_eq!(r.json()["result"][0]["kind"], "exec");
    assert_eq!(
        r.json()["result"][0]["summary"],
        "Execute command \"sleep\""
    );
    let r = get(&sock, "/v1/changes/77/wait");
    assert_eq!(r.status, 404);
    // Aborting a running exec ends it.
    let r = post_json(
        &sock,
        &format!("/v1/changes/{change}"),
        &json!({"action": "abort"}),
    );
    assert_eq!(r.status, 200);
    let r = get(&sock, &format!("/v1/changes/{change}/wait?timeout=3s"));
    let ch = &r.json()["result"];
    assert_eq!(ch["status"], "Error");
    assert_eq!(
        ch["err"],
        "cannot perform the following tasks:\n- exec command \"sleep\" (context canceled)"
    );

    let r = post_json(&sock, "/v1/exec", &json!({"command": ["nope"]}));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["result"]["message"],
        "cannot find executable \"nope\""
    );
    let log = p.exec_log("web").unwrap();
    assert_eq!(
        log.last().unwrap().error.as_deref(),
        Some("cannot find executable \"nope\"")
    );
}

#[test]
fn down_up_and_restarts() {
    let dir = tmp();
    let p = start(dir.path(), &["web", "db"], ExecAnswers::default());
    let sock = p.socket_path("web").unwrap();
    let layer = "services:\n  srv: {override: replace, command: /bin/srv, startup: enabled}\n";
    let r = post_json(
        &sock,
        "/v1/layers",
        &json!({"action": "add", "combine": false, "label": "base", "format": "yaml", "layer": layer}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["result"], true);
    post_json(
        &sock,
        "/v1/services",
        &json!({"action": "replan", "services": []}),
    );
    assert_eq!(p.services("web").unwrap()[0].current, ServiceStatus::Active);
    p.put_file("web", "/data/keep.db", b"kept", 0o644).unwrap();
    p.put_file("web", "/etc/lost.conf", b"lost", 0o644).unwrap();
    p.set_persistent_paths("web", &["/data".to_string()])
        .unwrap();
    let boot1 = get(&sock, "/v1/system-info").json()["result"]["boot-id"].clone();

    p.down("web").unwrap();
    assert!(!p.is_up("web").unwrap());
    let err = UnixStream::connect(&sock).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    // The other container is unaffected.
    assert_eq!(
        get(&p.socket_path("db").unwrap(), "/v1/system-info").status,
        200
    );

    p.up("web").unwrap();
    assert_eq!(p.plan("web").unwrap().services.len(), 1);
    assert_eq!(
        get(&sock, "/v1/system-info").json()["result"]["boot-id"],
        boot1
    );

    p.restart("web", false).unwrap();
    assert_eq!(p.services("web").unwrap()[0].current, ServiceStatus::Active);

    p.restart("web", true).unwrap();
    assert!(p.plan("web").unwrap().services.is_empty());
    assert!(p.services("web").unwrap().is_empty());
    assert!(p.changes("web").unwrap().is_empty());
    assert_ne!(
        get(&sock, "/v1/system-info").json()["result"]["boot-id"],
        boot1
    );
    assert_eq!(
        p.file("web", "/data/keep.db").unwrap().as_deref(),
        Some(&b"kept"[..])
    );
    assert_eq!(p.file("web", "/etc/lost.conf").unwrap(), None);
    // Ids start again from 1 after a fresh boot.
    let r = post_json(
        &sock,
        "/v1/services",
        &json!({"action": "replan", "services": []}),
    );
    assert_eq!(r.json()["change"], "1");

    assert!(matches!(
        p.down("nope"),
        Err(PebbleError::UnknownContainer { .. })
    ));
}

#[test]
fn snapshot_and_restore() {
    let dir = tmp();
    let p = start(dir.path(), &["web"], ExecAnswers::default());
    let sock = p.socket_path("web").unwrap();
    let layer = "services:\n  srv: {override: replace, command: /bin/srv, startup: enabled}\nchecks:\n  up: {override: replace, tcp: {port: 80}}\n";
    post_json(
        &sock,
        "/v1/layers",
        &json!({"action": "add", "label": "base", "format": "yaml", "layer": layer}),
    );
    post_json(
        &sock,
        "/v1/services",
        &json!({"action": "replan", "services": []}),
    );
    p.put_file("web", "/etc/app.conf", b"v1", 0o600).unwrap();
    let snap = p.snapshot().unwrap();
    let changes_before = p.changes("web").unwrap();

    // Move on: another layer, a changed file, a new file, a notice, a failing check, down.
    let layer2 = "services:\n  other: {override: replace, command: /bin/other}\n";
    post_json(
        &sock,
        "/v1/layers",
        &json!({"action": "add", "label": "more", "format": "yaml", "layer": layer2}),
    );
    p.put_file("web", "/etc/app.conf", b"v2", 0o644).unwrap();
    p.put_file("web", "/etc/new", b"new", 0o644).unwrap();
    post_json(
        &sock,
        "/v1/notices",
        &json!({"action": "add", "type": "custom", "key": "example.com/x"}),
    );
    assert!(p.fail_check("web", "up", "connection refused").unwrap());
    p.down("web").unwrap();

    p.restore(&snap).unwrap();
    assert!(p.is_up("web").unwrap());
    assert_eq!(p.plan("web").unwrap().services.len(), 1);
    assert_eq!(
        p.file("web", "/etc/app.conf").unwrap().as_deref(),
        Some(&b"v1"[..])
    );
    assert_eq!(p.file("web", "/etc/new").unwrap(), None);
    assert!(p.notify_log("web").unwrap().is_empty());
    assert_eq!(p.changes("web").unwrap(), changes_before);
    assert_eq!(p.checks("web").unwrap()[0].status.as_str(), "up");
    let files = p.files("web").unwrap();
    match &files.entries["/etc/app.conf"] {
        pebble_fake::FsEntry::File { mode, .. } => assert_eq!(*mode, 0o600),
        other => panic!("{other:?}"),
    }
    // The restored daemon answers, and keeps counting ids from where it was.
    let r = post_json(
        &sock,
        "/v1/services",
        &json!({"action": "replan", "services": []}),
    );
    let next: u64 = r.json()["change"].as_str().unwrap().parse().unwrap();
    assert_eq!(next, changes_before.len() as u64 + 1);
}

#[test]
fn socket_paths_must_fit() {
    let dir = tmp();
    let long = dir.path().join("x".repeat(90));
    std::fs::create_dir_all(&long).unwrap();
    let err = FakePebble::start(&long, &["web".to_string()], ExecAnswers::default()).unwrap_err();
    assert!(matches!(err, PebbleError::SocketPathTooLong { .. }));
    assert!(err.to_string().contains("at most 107 bytes"), "{err}");
    let err =
        FakePebble::start(dir.path(), &["a/b".to_string()], ExecAnswers::default()).unwrap_err();
    assert!(matches!(err, PebbleError::InvalidContainerName(_)));
}

fn venv_python() -> PathBuf {
    let venv = std::env::var_os("CHARMFUZZ_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "no Python virtualenv at {}: run scripts/setup-python.sh (or point CHARMFUZZ_VENV at a venv with ops 3.9 and pytest)",
        venv.display()
    );
    py
}

fn pytest_answers() -> ExecAnswers {
    ExecAnswers::default()
        .with(ExecAnswer::new(&["echo", "hello"]).stdout("hello\n"))
        .with(ExecAnswer::new(&["app", "version"]).stdout("app 1.2.3\n"))
        .with(
            ExecAnswer::new(&["fail-cmd"])
                .exit(3)
                .stdout("partial\n")
                .stderr("boom\n"),
        )
        .with(ExecAnswer::new(&["fail-cmd", "quietly"]))
        .with(
            ExecAnswer::new(&["cat"])
                .wait_for_stdin()
                .stdout("catted\n"),
        )
        .with(ExecAnswer::new(&["sleep"]).hang())
}

#[test]
fn the_real_ops_client() {
    let py = venv_python();
    let dir = tmp();
    let p = start(dir.path(), &["workload"], pytest_answers());
    let sock = p.socket_path("workload").unwrap();
    let test_file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/test_pebble_client.py");
    let out = Command::new(&py)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"])
        .arg(&test_file)
        .env("CHARMFUZZ_PEBBLE_SOCKET", &sock)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "pytest failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("passed"), "{stdout}");
    assert!(!stdout.contains("skipped"), "{stdout}");

    // What the charm did is all on record.
    let execs = p.exec_log("workload").unwrap();
    let app = execs
        .iter()
        .find(|e| e.command == ["/usr/bin/app", "version"])
        .unwrap();
    assert_eq!(app.environment["APP_ENV"], "test");
    assert_eq!(app.environment["HOME"], "/root");
    assert_eq!(app.working_dir, "/srv");
    assert_eq!(app.exit_code, Some(0));
    let cat = execs.iter().find(|e| e.command == ["cat"]).unwrap();
    assert_eq!(cat.stdin, b"line one\nline two\n");
    assert!(cat.stdin_closed);
    let sig = execs
        .iter()
        .find(|e| e.command == ["sleep", "forever"] && e.timeout.is_none())
        .unwrap();
    assert_eq!(sig.signals, vec!["SIGTERM"]);
    assert_eq!(sig.exit_code, Some(143));
    assert!(
        execs
            .iter()
            .any(|e| e.error.as_deref() == Some("cannot find executable \"no-such-binary\""))
    );

    let reqs = p.request_log("workload").unwrap();
    assert!(
        reqs.iter()
            .any(|r| r.method == "POST" && r.path == "/v1/files" && r.chunked)
    );
    assert!(
        reqs.iter()
            .any(|r| r.path.starts_with("/v1/tasks/") && r.status == 101)
    );
    assert!(reqs.iter().all(|r| r.status != 405));

    let notifies = p.notify_log("workload").unwrap();
    assert_eq!(notifies.len(), 2);
    assert_eq!(notifies[0].key, "example.com/reload");
    let signals = p.signal_log("workload").unwrap();
    assert_eq!(signals[0].signal, "SIGHUP");
    assert!(signals[0].error.is_none());
    assert!(signals[1].error.is_some());
    let exec_changes = p
        .changes("workload")
        .unwrap()
        .into_iter()
        .filter(|c| c.kind == "exec")
        .count();
    assert!(exec_changes >= 8);
    assert!(
        p.changes("workload")
            .unwrap()
            .iter()
            .filter(|c| c.kind == "exec")
            .all(|c| c.status() != Status::Doing)
    );
    let logs = p.take_logs("workload").unwrap();
    assert!(!logs.requests.is_empty());
    assert!(p.request_log("workload").unwrap().is_empty());
}

#[test]
fn can_connect_follows_the_container() {
    let py = venv_python();
    let dir = tmp();
    let p = start(dir.path(), &["workload"], ExecAnswers::default());
    let sock = p.socket_path("workload").unwrap();
    let script = r#"
import sys, types, ops
from ops import pebble
backend = types.SimpleNamespace(_juju_context=types.SimpleNamespace(version=ops.JujuVersion('3.6.4')))
c = ops.Container('workload', backend, pebble_client=pebble.Client(socket_path=sys.argv[1]))
print(c.can_connect())
try:
    c.get_plan()
    print('reached')
except pebble.ConnectionError as e:
    print('ConnectionError', e)
"#;
    let run = || {
        let out = Command::new(&py)
            .args(["-c", script])
            .arg(&sock)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(run(), "True\nreached\n");
    p.down("workload").unwrap();
    let out = run();
    assert!(
        out.starts_with("False\nConnectionError Could not connect to Pebble: socket not found"),
        "{out}"
    );
    p.restart("workload", true).unwrap();
    assert_eq!(run(), "True\nreached\n");
    p.shutdown();
    assert!(!sock.exists());
}

#[test]
fn the_server_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FakePebble>();
    assert_send_sync::<pebble_fake::PebbleSnapshot>();
}
