//! snapd's API over its Unix socket, as a client sees it: the envelopes, async changes
//! that are ready on the first poll, errors with real HTTP codes and snapd's kinds, and one
//! state shared with the `snap` and `systemctl` commands.

use host_fake::files::NoFiles;
use host_fake::{FakeHost, HostConfig};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// One HTTP/1.1 request; the status and the JSON body.
fn request(socket: &Path, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = UnixStream::connect(socket).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(head.contains("content-type: application/json"), "{head}");
    (status, serde_json::from_str(body).unwrap())
}

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

#[test]
fn install_configure_and_services_through_the_api_agree_with_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("snapd.socket");
    let config: HostConfig = serde_json::from_value(json!({
        "snaps": {"kafka": {"services": ["daemon"], "version": "3.6.1"}}
    }))
    .unwrap();
    let mut host = FakeHost::new(config, NoFiles);
    host.serve_snapd(&socket).unwrap();

    let (code, missing) = request(&socket, "GET", "/v2/snaps/kafka", None);
    assert_eq!(code, 404);
    assert_eq!(missing["type"], "error");
    assert_eq!(missing["result"]["kind"], "snap-not-found");
    let (code, listed) = request(&socket, "GET", "/v2/snaps?snaps=kafka", None);
    assert_eq!((code, listed["result"].clone()), (200, json!([])));

    let (code, accepted) = request(
        &socket,
        "POST",
        "/v2/snaps/kafka",
        Some(&json!({"action": "install", "channel": "3/edge"})),
    );
    assert_eq!((code, accepted["type"].as_str()), (202, Some("async")));
    let change = accepted["change"].as_str().unwrap();
    let (_, done) = request(&socket, "GET", &format!("/v2/changes/{change}"), None);
    assert_eq!(done["result"]["status"], "Done");
    assert_eq!(done["result"]["ready"], true);

    let (_, snap) = request(&socket, "GET", "/v2/snaps/kafka", None);
    let r = &snap["result"];
    assert_eq!(r["channel"], "3/edge");
    assert_eq!(r["version"], "3.6.1");
    assert!(r["revision"].is_string(), "snapd's revisions are strings");
    let list = host.run("snap", &args("list kafka"), b"");
    assert!(
        list.stdout.contains(r["revision"].as_str().unwrap()),
        "{list:?}"
    );

    let (_, apps) = request(&socket, "GET", "/v2/apps?names=kafka&select=service", None);
    assert_eq!(apps["result"][0]["name"], "daemon");
    assert_eq!(apps["result"][0]["active"], true);
    let stop = host.run("snap", &args("stop --disable kafka.daemon"), b"");
    assert_eq!(stop.code, 0);
    let (_, apps) = request(&socket, "GET", "/v2/apps?names=kafka", None);
    assert_eq!(apps["result"][0]["active"], false);
    assert_eq!(apps["result"][0]["enabled"], false);
    let q = host.run(
        "systemctl",
        &args("is-active snap.kafka.daemon.service"),
        b"",
    );
    assert_eq!((q.code, q.stdout.as_str()), (3, "inactive\n"));

    let (code, _) = request(
        &socket,
        "PUT",
        "/v2/snaps/kafka/conf",
        Some(&json!({"log.level": "debug", "port": 9092})),
    );
    assert_eq!(code, 202);
    let got = host.run("snap", &args("get kafka -d log"), b"");
    assert_eq!(
        got.stdout,
        "{\n\t\"log\": {\n\t\t\"level\": \"debug\"\n\t}\n}\n"
    );
    let (code, missing) = request(&socket, "GET", "/v2/snaps/kafka/conf?keys=nope", None);
    assert_eq!(
        (code, missing["result"]["kind"].as_str()),
        (400, Some("option-not-found"))
    );

    // A refresh the store breaks: accepted, and its change ends in Error.
    host.set_faults(|f| {
        f.refresh_fails.insert("kafka".into());
    });
    let (code, accepted) = request(
        &socket,
        "POST",
        "/v2/snaps/kafka",
        Some(&json!({"action": "refresh", "channel": "4/stable"})),
    );
    assert_eq!(code, 202);
    let change = accepted["change"].as_str().unwrap();
    let (_, failed) = request(&socket, "GET", &format!("/v2/changes/{change}"), None);
    assert_eq!(failed["result"]["status"], "Error");
    assert!(
        failed["result"]["err"]
            .as_str()
            .unwrap()
            .contains("cannot refresh")
    );
    let (_, snap) = request(&socket, "GET", "/v2/snaps/kafka", None);
    assert_eq!(
        snap["result"]["channel"], "3/edge",
        "a failed refresh changes nothing"
    );

    // Calls are recorded, requests and commands alike; a snapshot comes back whole.
    let calls = host.take_calls();
    assert!(
        calls
            .iter()
            .any(|c| c.program == "snapd" && c.args[1].starts_with("/v2/apps"))
    );
    let before = host.snapshot();
    host.run("snap", &args("remove kafka"), b"");
    assert!(host.state().snaps.is_empty());
    host.restore(&before);
    assert!(host.state().snaps.contains_key("kafka"));
    host.reset();
    assert!(host.state().snaps.is_empty() && host.state().units.is_empty());
}

/// A daemon's socket is there while one of its snap's services runs: after the install
/// starts them, gone when they stop, back on a start through the API, gone when the
/// service dies.
#[test]
fn running_files_follow_the_snap_services() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("snapd.socket");
    let root = dir.path().join("root");
    let sock = "/var/snap/db/common/run/db.sock";
    let config: HostConfig = serde_json::from_value(json!({
        "snaps": {"db": {"services": ["server"], "running-files": {sock: ""}}}
    }))
    .unwrap();
    config.validate().unwrap();
    let fs = host_fake::files::RootedFs {
        root: root.clone(),
        program: None,
    };
    let mut host = FakeHost::new(config, fs);
    host.serve_snapd(&socket).unwrap();
    let there = || root.join(sock.trim_start_matches('/')).exists();
    assert!(!there());
    assert_eq!(host.run("snap", &args("install db"), b"").code, 0);
    assert!(there(), "the install starts the service");
    assert_eq!(host.run("snap", &args("stop db"), b"").code, 0);
    assert!(!there(), "stopped");
    let (code, _) = request(
        &socket,
        "POST",
        "/v2/apps",
        Some(&json!({"action": "start", "names": ["db.server"]})),
    );
    assert_eq!(code, 202);
    assert!(there(), "started through snapd's API");
    assert!(host.fail_service("snap.db.server.service"));
    assert!(!there(), "the daemon died");

    // A snap's files are its own: a path elsewhere is a configuration error.
    let bad: HostConfig = serde_json::from_value(json!({
        "snaps": {"db": {"running-files": {"/run/db.sock": ""}}}
    }))
    .unwrap();
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("running-files path \"/run/db.sock\""), "{e}");
}
