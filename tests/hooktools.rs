//! The unit agent's hook tools: exact answers for the argv ops 3.9 builds (spec
//! juju-model.md §B2.2), Juju's rules and error texts (§B2.1), the flush semantics (§B2.3),
//! the effects fed back to the engine, and a walk through a whole story.

mod common;
use charmfuzz::engine::world::{Hook, World};
use charmfuzz::engine::*;
use charmfuzz::spec::{CharmSpec, ResourceSpec};
use charmfuzz::target::hooktools::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

fn rel(id: u32, endpoint: &str, app: &str, units: &[&str]) -> RelationInit {
    RelationInit {
        id,
        endpoint: endpoint.into(),
        remote_app: app.into(),
        remote_units: units.iter().map(|s| s.to_string()).collect(),
    }
}

/// One unit: the engine's world and the agent, driven hook by hook.
struct Unit {
    w: World,
    agent: UnitAgent,
}

impl Unit {
    fn new(spec: Arc<CharmSpec>, deploy: Action) -> Unit {
        let mut u = Unit {
            w: World::new(spec, common::opts()),
            agent: UnitAgent::new("/tmp/charmfuzz-resources"),
        };
        u.w.apply(&deploy).unwrap();
        u.drain();
        u
    }

    /// A Kubernetes unit `demo/0` with a peer, a database relation and storage.
    fn k8s(leader: bool) -> Unit {
        Unit::new(
            common::k8s_rich(),
            Action::Deploy {
                unit: "demo/0".into(),
                leader,
                peers: vec!["demo/1".into()],
                relations: vec![
                    rel(0, "replicas", "demo", &["demo/1"]),
                    rel(1, "db", "pg", &["pg/0"]),
                ],
                storage: vec!["data/0".into()],
            },
        )
    }

    fn machine() -> Unit {
        Unit::new(
            common::machine(),
            Action::Deploy {
                unit: "mach/0".into(),
                leader: true,
                peers: vec![],
                relations: vec![rel(0, "cluster", "mach", &[])],
                storage: vec!["cache/0".into()],
            },
        )
    }

    fn apply(&mut self, a: Action) {
        self.w.apply(&a).unwrap_or_else(|e| panic!("{a:?}: {e}"));
    }

    /// Name of the next hook Juju would run.
    fn peek(&self) -> Option<String> {
        let h = self.w.candidates().into_iter().next()?;
        Some(self.w.event_for(&h).hook)
    }

    /// Run the next hook, letting `charm` call tools, ending with `ok`.
    fn hook(&mut self, ok: bool, charm: impl FnOnce(&mut Charm)) -> (Event, HookOutcome) {
        let h: Hook = self
            .w
            .candidates()
            .into_iter()
            .next()
            .expect("a hook is due");
        let e = self.w.deliver(&h).unwrap();
        let mut ctx = HookContext::begin(&self.w, &self.agent, &e);
        charm(&mut Charm(&mut ctx));
        let out = ctx.finish(ok, &mut self.agent);
        self.w.complete(out.result, &out.effects).unwrap();
        (e, out)
    }

    /// Run hooks that do nothing until `name` is next (or nothing is).
    fn until(&mut self, name: &str) {
        for _ in 0..100 {
            match self.peek() {
                Some(h) if h != name => {
                    self.hook(true, |_| {});
                }
                _ => return,
            }
        }
    }

    fn drain(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while self.peek().is_some() {
            out.push(self.hook(true, |_| {}).0.hook);
        }
        out
    }
}

/// The charm's side: call tools the way `ops.hookcmds` does.
struct Charm<'a>(&'a mut HookContext);

impl Charm<'_> {
    fn call(&mut self, tool: &str, args: &[&str]) -> ToolReply {
        self.stdin(tool, args, b"")
    }
    fn stdin(&mut self, tool: &str, args: &[&str], stdin: &[u8]) -> ToolReply {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        self.0.call(tool, &args, stdin)
    }
    /// Call, expect success, return stdout.
    fn out(&mut self, tool: &str, args: &[&str]) -> String {
        let r = self.call(tool, args);
        assert_eq!(r.code, 0, "{tool} {args:?}: {}", r.stderr_str());
        r.stdout_str()
    }
    fn json(&mut self, tool: &str, args: &[&str]) -> Value {
        serde_json::from_str(&self.out(tool, args)).unwrap()
    }
    /// Call, expect failure with `code`, return stderr.
    fn err(&mut self, tool: &str, args: &[&str], code: i32) -> String {
        let r = self.call(tool, args);
        assert_eq!(r.code, code, "{tool} {args:?}: {}", r.stdout_str());
        assert!(r.stdout.is_empty());
        let e = r.stderr_str();
        assert!(e.starts_with("ERROR ") && e.ends_with('\n'), "{e:?}");
        e
    }
}

/// ops' `_relation_is_gone` regex.
fn ops_relation_gone(stderr: &str) -> bool {
    let s = stderr.to_lowercase();
    s.contains("relation not found")
        || s.split("relation ").skip(1).any(|rest| {
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            !digits.is_empty() && rest[digits.len()..].starts_with(" not found")
        })
}

fn secret_file(dir: &tempfile::TempDir, key: &str, value: &str) -> String {
    let p = dir.path().join(key);
    std::fs::write(&p, value).unwrap();
    format!("{key}#file={}", p.display())
}

// ---------------------------------------------------------------------------------------
// Basic tools
// ---------------------------------------------------------------------------------------

#[test]
fn is_leader_juju_log_and_unknown_tools() {
    let mut u = Unit::k8s(true);
    u.apply(Action::UpdateStatusTimer);
    let (_, out) = u.hook(true, |c| {
        assert_eq!(c.out("is-leader", &["--format=json"]), "true\n");
        assert_eq!(c.out("is-leader", &[]), "True\n");
        assert_eq!(
            c.out("juju-log", &["--log-level", "WARNING", "--", "-careful"]),
            ""
        );
        c.out("juju-log", &["--log-level", "CRITICAL", "--", "boom"]);
        let e = c.err("no-such-tool", &[], 1);
        assert!(e.contains("unknown command"), "{e}");
        let e = c.err("is-leader", &["--bogus"], 2);
        assert_eq!(e, "ERROR flag provided but not defined: --bogus\n");
    });
    assert_eq!(out.logs.len(), 2);
    assert_eq!(out.logs[0].level, "WARNING");
    assert_eq!(out.logs[0].message, "-careful");
    assert_eq!(out.calls.len(), 6);
    assert_eq!(out.calls[4].code, 1);
    assert_eq!(u.agent.logs.len(), 2);

    let mut f = Unit::k8s(false);
    f.apply(Action::UpdateStatusTimer);
    f.hook(true, |c| {
        assert_eq!(c.out("is-leader", &["--format=json"]), "false\n")
    });
}

#[test]
fn config_get_merges_defaults() {
    let mut u = Unit::k8s(true);
    u.apply(Action::Config {
        changes: BTreeMap::from([("port".into(), json!(9000)), ("ratio".into(), json!(0.5))]),
    });
    u.hook(true, |c| {
        assert_eq!(
            c.out("config-get", &["--format=json"]),
            "{\"debug\":false,\"log-level\":\"info\",\"port\":9000,\"ratio\":0.5}\n"
        );
        assert_eq!(c.out("config-get", &["port"]), "9000\n");
        assert_eq!(c.out("config-get", &["log-level"]), "info\n");
        assert_eq!(c.out("config-get", &["debug"]), "False\n");
        assert_eq!(c.out("config-get", &["--format=json", "nope"]), "null\n");
        assert_eq!(c.out("config-get", &["nope"]), "");
        let all = c.json("config-get", &["--all", "--format=json"]);
        assert_eq!(all["admin-password"], Value::Null);
        // Old charm libraries read YAML.
        assert_eq!(
            c.out("config-get", &[]),
            "debug: false\nlog-level: info\nport: 9000\nratio: 0.5\n"
        );
    });
}

#[test]
fn status_set_get_and_stickiness() {
    let mut u = Unit::k8s(true);
    u.apply(Action::UpdateStatusTimer);
    u.hook(true, |c| {
        assert_eq!(
            c.out(
                "status-get",
                &["--include-data", "--format=json", "--application=false"]
            ),
            "{\"message\":\"\",\"status\":\"unknown\",\"status-data\":{}}\n"
        );
        c.out("status-set", &["--application=False", "active", "--", ""]);
        c.out(
            "status-set",
            &["--application=True", "waiting", "--", "for db"],
        );
        assert_eq!(
            c.out(
                "status-get",
                &["--include-data", "--format=json", "--application=false"]
            ),
            "{\"message\":\"\",\"status\":\"active\",\"status-data\":{}}\n"
        );
        let app = c.json(
            "status-get",
            &["--include-data", "--format=json", "--application=true"],
        );
        assert_eq!(app["application-status"]["status"], "waiting");
        assert_eq!(app["application-status"]["message"], "for db");
        assert_eq!(
            app["application-status"]["units"]["demo/0"]["status"],
            "active"
        );
        assert_eq!(c.out("status-get", &[]), "active\n");
        let e = c.err(
            "status-set",
            &["--application=False", "error", "--", "x"],
            2,
        );
        assert_eq!(
            e,
            "ERROR invalid status \"error\", expected one of [maintenance blocked waiting active]\n"
        );
    });
    assert_eq!(u.agent.app_status, Status::new("waiting", "for db"));

    // A failing hook keeps its status and its logs.
    u.apply(Action::UpdateStatusTimer);
    let (_, out) = u.hook(false, |c| {
        c.out(
            "status-set",
            &["--application=False", "blocked", "--", "broken"],
        );
        c.out(
            "juju-log",
            &["--log-level", "ERROR", "--", "Uncaught exception"],
        );
    });
    assert_eq!(out.result, HookResult::Error);
    assert_eq!(u.agent.unit_status, Status::new("blocked", "broken"));
    assert_eq!(u.agent.logs.last().unwrap().message, "Uncaught exception");

    let mut f = Unit::k8s(false);
    f.apply(Action::UpdateStatusTimer);
    f.hook(true, |c| {
        let e = c.err(
            "status-set",
            &["--application=True", "active", "--", "x"],
            1,
        );
        assert!(e.contains("not the leader"), "{e}");
        let e = c.err(
            "status-get",
            &["--include-data", "--format=json", "--application=true"],
            1,
        );
        assert!(e.contains("not the leader"), "{e}");
    });
}

#[test]
fn juju_sets_status_around_install_and_stop() {
    let u = Unit::k8s(true);
    let first = &u.agent.status_history[0];
    assert!(first.by_juju);
    assert_eq!(first.hook, "install");
    assert_eq!(
        (first.status.as_str(), first.message.as_str()),
        ("maintenance", "installing charm software")
    );
}

#[test]
fn juju_sets_status_around_teardown() {
    let mut u = Unit::k8s(true);
    u.apply(Action::RemoveUnit);
    u.until("stop");
    u.hook(true, |c| {
        assert_eq!(
            c.out("status-get", &["--include-data", "--format=json", "--application=false"]),
            "{\"message\":\"stopping charm software\",\"status\":\"maintenance\",\"status-data\":{}}\n"
        );
    });
    assert_eq!(u.agent.unit_status, Status::new("maintenance", ""));
    assert_eq!(u.peek().unwrap(), "remove");
    u.hook(true, |_| {});
    assert_eq!(u.agent.unit_status, Status::new("terminated", ""));
    assert!(u.w.is_dead());
}

#[test]
fn application_version_sticks() {
    let mut u = Unit::k8s(true);
    u.apply(Action::UpdateStatusTimer);
    let (_, out) = u.hook(false, |c| {
        c.out("application-version-set", &["--", "1.2.3"]);
    });
    assert_eq!(u.agent.workload_version, "1.2.3");
    assert!(out.committed.contains(&Change::WorkloadVersion {
        version: "1.2.3".into()
    }));
}

// ---------------------------------------------------------------------------------------
// Relations
// ---------------------------------------------------------------------------------------

#[test]
fn relation_ids_list_and_get() {
    let mut u = Unit::k8s(true);
    u.apply(Action::RemoteUnitData {
        relation_id: 1,
        unit: "pg/0".into(),
        data: BTreeMap::from([("user".into(), "u1".into())]),
    });
    u.apply(Action::RemoteAppData {
        relation_id: 1,
        data: BTreeMap::from([("endpoints".into(), "pg:5432".into())]),
    });
    u.hook(true, |c| {
        assert_eq!(
            c.out("relation-ids", &["db", "--format=json"]),
            "[\"db:1\"]\n"
        );
        assert_eq!(
            c.out("relation-ids", &["replicas", "--format=json"]),
            "[\"replicas:0\"]\n"
        );
        assert_eq!(c.out("relation-ids", &["ingress", "--format=json"]), "[]\n");
        assert_eq!(
            c.out("relation-list", &["--format=json", "-r", "db:1"]),
            "[\"pg/0\"]\n"
        );
        assert_eq!(
            c.out("relation-list", &["--format=json", "--app", "-r", "db:1"]),
            "\"pg\"\n"
        );
        assert_eq!(
            c.out("relation-list", &["--format=json", "-r", "replicas:0"]),
            "[\"demo/1\"]\n"
        );
        let unit = c.json(
            "relation-get",
            &["--format=json", "-r", "db:1", "-", "pg/0"],
        );
        assert_eq!(unit["user"], "u1");
        assert!(
            unit["private-address"]
                .as_str()
                .unwrap()
                .starts_with("10.1.")
        );
        assert_eq!(
            c.out(
                "relation-get",
                &["--format=json", "-r", "db:1", "--app", "-", "pg"]
            ),
            "{\"endpoints\":\"pg:5432\"}\n"
        );
        assert_eq!(
            c.out("relation-get", &["-r", "db:1", "user", "pg/0"]),
            "u1\n"
        );
        assert_eq!(
            c.out(
                "relation-get",
                &["--format=json", "-r", "1", "nope", "pg/0"]
            ),
            "null\n"
        );
        let mine = c.json(
            "relation-get",
            &["--format=json", "-r", "db:1", "-", "demo/0"],
        );
        assert_eq!(
            mine.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["egress-subnets", "ingress-address", "private-address"]
        );
        assert_eq!(
            c.out("relation-model-get", &["--format=json", "-r", "db:1"]),
            format!("{{\"uuid\":\"{}\"}}\n", world::MODEL_UUID)
        );

        // Juju's refusals, worded as ops expects them.
        let e = c.err("relation-list", &["--format=json", "-r", "db:9"], 2);
        assert_eq!(
            e,
            "ERROR invalid value \"db:9\" for flag -r: relation not found\n"
        );
        assert!(ops_relation_gone(&e));
        let e = c.err(
            "relation-get",
            &["--format=json", "-r", "db:9", "-", "pg/0"],
            2,
        );
        assert!(ops_relation_gone(&e));
        let e = c.err(
            "relation-get",
            &["--format=json", "-r", "db:1", "-", "pg/7"],
            1,
        );
        assert_eq!(e, "ERROR permission denied\n");
        let e = c.err(
            "relation-get",
            &["--format=json", "-r", "db:1", "-", "pg"],
            2,
        );
        assert!(
            e.contains("expected unit name, got application name"),
            "{e}"
        );
        let e = c.err(
            "relation-get",
            &["--format=json", "-r", "db:1", "--app", "-", "other"],
            1,
        );
        assert_eq!(e, "ERROR permission denied\n");
    });
    u.apply(Action::UpdateStatusTimer);
    u.until("update-status");
    u.hook(true, |c| {
        let e = c.err("relation-list", &["--format=json"], 2);
        assert_eq!(e, "ERROR no relation id specified\n");
    });
}

#[test]
fn relation_set_buffers_merges_and_reports_the_whole_databag() {
    let mut u = Unit::k8s(true);
    u.apply(Action::UpdateStatusTimer);
    let (_, out) = u.hook(true, |c| {
        let r = c.stdin(
            "relation-set",
            &["-r", "db:1", "--file", "-"],
            br#"{"a": "1", "b": "2"}"#,
        );
        assert_eq!(r.code, 0, "{}", r.stderr_str());
        // Reads see the hook's own writes; "" deletes.
        c.stdin(
            "relation-set",
            &["-r", "db:1", "--file", "-"],
            br#"{"b": ""}"#,
        );
        let mine = c.json(
            "relation-get",
            &["--format=json", "-r", "db:1", "-", "demo/0"],
        );
        assert_eq!(mine["a"], "1");
        assert!(mine.get("b").is_none());
        let r = c.stdin(
            "relation-set",
            &["-r", "db:1", "--app", "--file", "-"],
            br#"{"db": "app"}"#,
        );
        assert_eq!(r.code, 0);
        assert_eq!(
            c.out(
                "relation-get",
                &["--format=json", "-r", "db:1", "--app", "-", "demo"]
            ),
            "{\"db\":\"app\"}\n"
        );
        // Key=value arguments and YAML files work too (charmhelpers).
        c.call("relation-set", &["-r", "db:1", "c=3"]);
    });
    let sets: Vec<&Effect> = out
        .effects
        .iter()
        .filter(|e| matches!(e, Effect::RelationDataSet { .. }))
        .collect();
    assert_eq!(sets.len(), 2);
    let Effect::RelationDataSet {
        relation_id: 1,
        app: false,
        data,
    } = sets[0]
    else {
        panic!("{sets:?}")
    };
    assert_eq!(data["a"], "1");
    assert_eq!(data["c"], "3");
    assert!(data.contains_key("private-address"));
    let r = u.w.relation(1).unwrap();
    assert_eq!(r.local_unit_data["a"], "1");
    assert_eq!(
        r.local_app_data,
        BTreeMap::from([("db".into(), "app".into())])
    );

    // A failed hook commits no relation data.
    u.apply(Action::UpdateStatusTimer);
    let (_, out) = u.hook(false, |c| {
        c.stdin(
            "relation-set",
            &["-r", "db:1", "--file", "-"],
            br#"{"a": "lost"}"#,
        );
    });
    assert!(out.effects.is_empty());
    assert_eq!(out.discarded.len(), 1);
    assert_eq!(u.w.relation(1).unwrap().local_unit_data["a"], "1");
}

#[test]
fn followers_and_app_databags() {
    let mut u = Unit::k8s(false);
    u.apply(Action::RemoteAppData {
        relation_id: 0,
        data: BTreeMap::from([("cluster".into(), "x".into())]),
    });
    u.until("replicas-relation-changed");
    let (_, out) = u.hook(true, |c| {
        let e = c.stdin(
            "relation-set",
            &["-r", "db:1", "--app", "--file", "-"],
            br#"{"k": "v"}"#,
        );
        assert_eq!(e.code, 1);
        assert_eq!(e.stderr_str(), "ERROR cannot write relation settings\n");
        // A follower may read its application's peer databag, not a regular one.
        assert_eq!(
            c.out(
                "relation-get",
                &["--format=json", "-r", "replicas:0", "--app", "-", "demo"]
            ),
            "{\"cluster\":\"x\"}\n"
        );
        let e = c.err(
            "relation-get",
            &["--format=json", "-r", "db:1", "--app", "-", "demo"],
            1,
        );
        assert_eq!(e, "ERROR permission denied\n");
    });
    assert!(out.effects.is_empty());
}

#[test]
fn membership_during_joined_and_departed() {
    let mut u = Unit::k8s(true);
    u.apply(Action::RemoteUnitAdded {
        relation_id: 1,
        unit: "pg/1".into(),
    });
    assert_eq!(u.peek().unwrap(), "db-relation-joined");
    u.hook(true, |c| {
        assert_eq!(
            c.out("relation-list", &["--format=json", "-r", "db:1"]),
            "[\"pg/0\",\"pg/1\"]\n"
        );
        // relation-get without a unit reads JUJU_REMOTE_UNIT.
        let d = c.json("relation-get", &["--format=json", "-"]);
        assert!(d.get("private-address").is_some());
    });
    u.drain();
    u.apply(Action::RemoteUnitData {
        relation_id: 1,
        unit: "pg/1".into(),
        data: BTreeMap::from([("bye".into(), "soon".into())]),
    });
    u.drain();
    u.apply(Action::RemoteUnitRemoved {
        relation_id: 1,
        unit: "pg/1".into(),
    });
    assert_eq!(u.peek().unwrap(), "db-relation-departed");
    u.hook(true, |c| {
        assert_eq!(
            c.out("relation-list", &["--format=json", "-r", "db:1"]),
            "[\"pg/0\"]\n"
        );
        // The departing unit's data stays readable.
        let d = c.json(
            "relation-get",
            &["--format=json", "-r", "db:1", "-", "pg/1"],
        );
        assert_eq!(d["bye"], "soon");
    });
}

#[test]
fn relation_broken_then_gone() {
    let mut u = Unit::k8s(true);
    u.apply(Action::RemoveRelation { relation_id: 1 });
    u.until("db-relation-broken");
    u.hook(true, |c| {
        assert_eq!(c.out("relation-ids", &["db", "--format=json"]), "[]\n");
        assert_eq!(
            c.out("relation-list", &["--format=json", "-r", "db:1"]),
            "[]\n"
        );
        let r = c.call(
            "relation-get",
            &["--format=json", "-r", "db:1", "--app", "-", "pg"],
        );
        assert_eq!(r.code, 0, "{}", r.stderr_str());
    });
    u.apply(Action::UpdateStatusTimer);
    u.hook(true, |c| {
        let e = c.err(
            "relation-get",
            &["--format=json", "-r", "db:1", "-", "pg/0"],
            2,
        );
        assert!(ops_relation_gone(&e), "{e}");
        let r = c.call("relation-set", &["-r", "db:1", "--file", "-"]);
        assert!(ops_relation_gone(&r.stderr_str()));
        let e = c.err("network-get", &["--format=json", "-r", "1", "db"], 2);
        assert!(ops_relation_gone(&e), "{e}");
    });
}

#[test]
fn network_get_goal_state_unit_get() {
    let mut u = Unit::k8s(true);
    u.apply(Action::UpdateStatusTimer);
    u.hook(true, |c| {
        let ip = unit_address("demo/0");
        assert_eq!(
            c.out("network-get", &["--format=json", "db"]),
            format!(
                "{{\"bind-addresses\":[{{\"mac-address\":\"\",\"interface-name\":\"eth0\",\"addresses\":[{{\"hostname\":\"\",\"value\":\"{ip}\",\"cidr\":\"10.1.0.0/16\"}}]}}],\"egress-subnets\":[\"{ip}/32\"],\"ingress-addresses\":[\"{ip}\"]}}\n"
            )
        );
        let with_rel = c.json("network-get", &["--format=json", "-r", "1", "db"]);
        assert_eq!(with_rel["ingress-addresses"][0], ip.as_str());
        assert_eq!(c.out("network-get", &["db", "--ingress-address"]), format!("{ip}\n"));
        let e = c.err("network-get", &["--format=json", "nope"], 1);
        assert_eq!(e, "ERROR no network config found for binding \"nope\"\n");
        assert_eq!(c.out("unit-get", &["private-address"]), format!("{ip}\n"));

        let g = c.json("goal-state", &["--format=json"]);
        assert_eq!(g["units"]["demo/0"]["status"], "active");
        assert_eq!(g["units"]["demo/1"]["status"], "active");
        assert_eq!(g["units"]["demo/0"]["since"], "2025-01-01T00:00:00Z");
        assert_eq!(g["relations"]["db"]["pg"]["status"], "joined");
        assert_eq!(g["relations"]["db"]["pg/0"]["status"], "active");
    });
}

// ---------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------

#[test]
fn ports_are_buffered_and_validated() {
    let mut u = Unit::k8s(true);
    u.apply(Action::UpdateStatusTimer);
    let (_, out) = u.hook(true, |c| {
        assert_eq!(c.out("opened-ports", &["--format=json"]), "[]\n");
        c.out("open-port", &["8080/tcp"]);
        c.out("open-port", &["icmp"]);
        c.out("open-port", &["8080/tcp"]); // already requested: no-op
        assert_eq!(
            c.out("opened-ports", &["--format=json"]),
            "[\"icmp\",\"8080/tcp\"]\n"
        );
        let e = c.err("open-port", &["1000-2000/udp"], 1);
        assert!(e.contains("port ranges are not supported for k8s"), "{e}");
        let e = c.err("open-port", &["80/sctp"], 2);
        assert_eq!(
            e,
            "ERROR invalid protocol \"sctp\", expected \"tcp\", \"udp\", or \"icmp\"\n"
        );
        c.err("open-port", &[], 2);
    });
    assert_eq!(out.committed.len(), 2);
    assert_eq!(u.agent.opened_ports.len(), 2);

    // Closing in a failed hook changes nothing.
    u.apply(Action::UpdateStatusTimer);
    u.hook(false, |c| {
        c.out("close-port", &["8080/tcp"]);
        assert_eq!(c.out("opened-ports", &["--format=json"]), "[\"icmp\"]\n");
    });
    assert_eq!(u.agent.opened_ports.len(), 2);
    // Juju retries the failed hook.
    u.hook(true, |c| {
        c.out("close-port", &["8080/tcp"]);
    });
    assert_eq!(u.agent.opened_ports.len(), 1);

    // Machines take ranges, and refuse overlapping ones.
    let mut m = Unit::machine();
    m.apply(Action::UpdateStatusTimer);
    m.hook(true, |c| {
        c.out("open-port", &["1000-2000/udp"]);
        let e = c.err("open-port", &["1500/udp"], 1);
        assert_eq!(
            e,
            "ERROR cannot open 1500/udp (unit \"mach/0\"): port range conflicts with 1000-2000/udp (unit \"mach/0\") requested earlier\n"
        );
        assert_eq!(
            c.out("opened-ports", &["--format=json", "--endpoints"]),
            "[\"1000-2000/udp (*)\"]\n"
        );
    });
}

// ---------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------

#[test]
fn actions_get_set_log_fail() {
    let mut u = Unit::k8s(true);
    u.apply(Action::RunAction {
        name: "backup".into(),
        id: 1,
        params: serde_json::Map::from_iter([("compress".to_string(), json!(true))]),
    });
    assert_eq!(u.peek().unwrap(), "backup-action");
    let (_, out) = u.hook(true, |c| {
        assert_eq!(
            c.out("action-get", &["--format=json"]),
            "{\"compress\":true,\"level\":3,\"target\":\"/backups\"}\n"
        );
        assert_eq!(c.out("action-get", &["--format=json", "level"]), "3\n");
        assert_eq!(
            c.out("action-get", &["--format=json", "nope.deep"]),
            "null\n"
        );
        c.out(
            "action-set",
            &["result.size=10G", "result.files=3", "ok=yes"],
        );
        let e = c.err("action-set", &["stdout=x"], 2);
        assert_eq!(e, "ERROR cannot set reserved action key \"stdout\"\n");
        let e = c.err("action-set", &["Bad=x"], 2);
        assert!(
            e.contains("must start and end with lowercase alphanumeric"),
            "{e}"
        );
        c.out("action-log", &["--", "halfway"]);
        c.out("action-fail", &["--", "disk full"]);
        let e = c.err("juju-reboot", &[], 1);
        assert!(e.contains("not supported when running an action"), "{e}");
    });
    let a = out.action.unwrap();
    assert_eq!(a.status, "failed");
    assert_eq!(a.message, "disk full");
    assert_eq!(a.logs, ["halfway"]);
    assert_eq!(
        Value::Object(a.results),
        json!({"ok": "yes", "result": {"files": "3", "size": "10G"}})
    );

    // Outside an action.
    u.apply(Action::UpdateStatusTimer);
    u.hook(true, |c| {
        for (tool, args) in [
            ("action-get", vec!["--format=json"]),
            ("action-set", vec!["a=b"]),
            ("action-log", vec!["--", "x"]),
            ("action-fail", vec!["--", ""]),
        ] {
            let e = c.err(tool, &args, 1);
            assert_eq!(e, "ERROR not running an action\n");
        }
    });

    // A crashing action is a failed action; its logs stay.
    u.apply(Action::RunAction {
        name: "rotate-password".into(),
        id: 2,
        params: Default::default(),
    });
    let (_, out) = u.hook(false, |c| {
        c.out("action-log", &["--", "starting"]);
    });
    let a = out.action.unwrap();
    assert_eq!(
        (a.status.as_str(), a.message.as_str()),
        ("failed", "exit status 1")
    );
    assert!(!u.w.in_error());
}

// ---------------------------------------------------------------------------------------
// Storage
// ---------------------------------------------------------------------------------------

#[test]
fn storage_list_get_add() {
    let mut u = Unit::k8s(true);
    u.apply(Action::StorageAdded {
        storage: "data/1".into(),
    });
    assert_eq!(u.peek().unwrap(), "data-storage-attached");
    u.hook(true, |c| {
        assert_eq!(
            c.out("storage-list", &["--format=json", "data"]),
            "[\"data/0\",\"data/1\"]\n"
        );
        // The hook's own instance, implicitly.
        assert_eq!(
            c.out("storage-get", &["--format=json"]),
            "{\"kind\":\"filesystem\",\"location\":\"/var/lib/demo/1\"}\n"
        );
        assert_eq!(
            c.out("storage-get", &["--format=json", "-s", "data/0"]),
            "{\"kind\":\"filesystem\",\"location\":\"/var/lib/demo/0\"}\n"
        );
        let e = c.err("storage-get", &["--format=json", "-s", "data/7"], 1);
        assert_eq!(e, "ERROR storage instance \"data/7\" not found\n");
        assert_eq!(c.out("storage-list", &["--format=json", "logs"]), "[]\n");
    });
    u.apply(Action::UpdateStatusTimer);
    u.hook(true, |c| {
        let e = c.err("storage-get", &["--format=json"], 2);
        assert_eq!(e, "ERROR no storage instance specified\n");
    });

    u.apply(Action::UpdateStatusTimer);
    let (_, out) = u.hook(false, |c| c.out("storage-add", &["logs=1"]).truncate(0));
    assert!(out.effects.is_empty());
    let (_, out) = u.hook(true, |c| {
        c.out("storage-add", &["logs=1"]);
        c.out("storage-add", &["logs"]);
        let e = c.err("storage-add", &["nope=1"], 1);
        assert!(e.contains("not found"));
    });
    assert_eq!(
        out.effects,
        [Effect::StorageRequested {
            storage: "logs".into(),
            count: 2
        }]
    );
    assert_eq!(u.w.live_storage_count("logs"), 2);

    // A detached instance is gone.
    u.apply(Action::StorageDetached {
        storage: "data/1".into(),
    });
    u.until("data-storage-detaching");
    u.hook(true, |c| {
        c.out("storage-get", &["--format=json", "-s", "data/1"]);
    });
    u.apply(Action::UpdateStatusTimer);
    u.until("update-status");
    u.hook(true, |c| {
        let e = c.err("storage-get", &["--format=json", "-s", "data/1"], 1);
        assert!(e.contains("not found"));
    });
}

// ---------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------

#[test]
fn owner_secrets_add_get_set_info() {
    let dir = tempfile::tempdir().unwrap();
    let mut u = Unit::k8s(true);
    u.apply(Action::UpdateStatusTimer);
    let mut id = String::new();
    let (_, out) = u.hook(true, |c| {
        let f = secret_file(&dir, "password", "s3cret");
        let r = c.call(
            "secret-add",
            &["--label", "db-pass", "--description", "the pw", "--rotate", "daily", "--owner", "application", &f],
        );
        assert_eq!(r.code, 0, "{}", r.stderr_str());
        id = r.stdout_str().trim().to_string();
        assert!(id.starts_with("secret:") && id.len() == 27, "{id}");
        // The owner reads its pending secret in the same hook.
        assert_eq!(
            c.out("secret-get", &["--format=json", &id]),
            "{\"password\":\"s3cret\"}\n"
        );
        assert_eq!(
            c.out("secret-get", &["--format=json", "--label", "db-pass"]),
            "{\"password\":\"s3cret\"}\n"
        );
        let info = c.json("secret-info-get", &["--format=json", &id]);
        let xid = &id["secret:".len()..];
        assert_eq!(
            info,
            json!({xid: {"revision": 1, "label": "db-pass", "owner": "application", "description": "the pw", "rotation": "daily", "rotates": "2025-01-02T00:00:00Z"}})
        );
        assert_eq!(c.out("secret-ids", &["--format=json"]), format!("[\"{id}\"]\n"));
        let e = c.err("secret-add", &["--owner", "unit", "ab=1"], 2);
        assert_eq!(e, "ERROR key \"ab\" not valid\n");
        let e = c.err("secret-add", &["--label", "db-pass", "other=1"], 1);
        assert!(e.contains("already exists"), "{e}");
    });
    assert_eq!(
        out.effects,
        [Effect::SecretCreated {
            id: id.clone(),
            owner: SecretOwner::App,
            label: Some("db-pass".into())
        }]
    );
    assert!(u.w.secret(&id).is_some());

    // secret-set: one new revision per hook; the owner sees the committed content until it
    // refreshes (or peeks).
    u.apply(Action::UpdateStatusTimer);
    let (_, out) = u.hook(true, |c| {
        let f = secret_file(&dir, "password", "n3w");
        c.out("secret-set", &["--owner", "application", &id, &f]);
        let f = secret_file(&dir, "password", "n3w3r");
        c.out("secret-set", &["--owner", "application", &id, &f]);
        assert_eq!(
            c.out("secret-get", &["--format=json", &id]),
            "{\"password\":\"s3cret\"}\n"
        );
        assert_eq!(
            c.out("secret-get", &["--format=json", &id, "--refresh"]),
            "{\"password\":\"n3w3r\"}\n"
        );
        assert_eq!(
            c.json("secret-info-get", &["--format=json", &id])[&id[7..]]["revision"],
            2
        );
    });
    assert_eq!(out.effects, [Effect::SecretRevised { id: id.clone() }]);
    assert_eq!(u.w.secret(&id).unwrap().latest_revision, 2);
    assert_eq!(u.agent.secrets[&id[7..]].latest, 2);

    // A failed hook's update is dropped.
    u.apply(Action::UpdateStatusTimer);
    let (_, out) = u.hook(false, |c| {
        c.out(
            "secret-set",
            &["--owner", "application", &id, "password=lost"],
        );
    });
    assert!(out.effects.is_empty());
    assert_eq!(u.agent.secrets[&id[7..]].latest, 2);
    u.hook(true, |_| {});

    // The world can now make it rotate, and the owner revises it in secret-rotate.
    u.apply(Action::SecretRotateDue { id: id.clone() });
    assert_eq!(u.peek().unwrap(), "secret-rotate");
    let (e, out) = u.hook(true, |c| {
        c.out(
            "secret-set",
            &["--owner", "application", &id, "password=rotated"],
        );
    });
    assert_eq!(e.env["JUJU_SECRET_ID"], id);
    assert_eq!(out.effects, [Effect::SecretRevised { id: id.clone() }]);

    // Removal.
    u.apply(Action::UpdateStatusTimer);
    let (_, out) = u.hook(true, |c| {
        c.out("secret-remove", &[&id, "--revision", "1"]);
    });
    assert_eq!(
        out.effects,
        [Effect::SecretRemoved {
            id: id.clone(),
            revision: Some(1)
        }]
    );
    u.apply(Action::UpdateStatusTimer);
    u.hook(true, |c| {
        c.out("secret-remove", &[&id]);
        let e = c.err("secret-info-get", &["--format=json", &id], 1);
        assert!(e.contains("not found"));
    });
    assert!(u.w.secret(&id).is_none());
}

#[test]
fn followers_and_app_secrets() {
    let mut u = Unit::k8s(false);
    u.apply(Action::UpdateStatusTimer);
    let (_, out) = u.hook(true, |c| {
        let e = c.err("secret-add", &["--owner", "application", "token=abc"], 1);
        assert_eq!(e, "ERROR this unit is not the leader\n");
        let id = c.out("secret-add", &["--owner", "unit", "token=abc"]);
        assert!(id.starts_with("secret:"));
    });
    assert!(matches!(
        out.effects.as_slice(),
        [Effect::SecretCreated {
            owner: SecretOwner::Unit,
            ..
        }]
    ));

    // An app secret made while leading can no longer be managed once leadership moves.
    let mut l = Unit::k8s(true);
    l.apply(Action::UpdateStatusTimer);
    let mut id = String::new();
    l.hook(true, |c| {
        id = c
            .out("secret-add", &["--owner", "application", "token=abc"])
            .trim()
            .into();
    });
    l.apply(Action::LeadershipLost);
    l.drain();
    l.apply(Action::UpdateStatusTimer);
    l.until("update-status");
    l.hook(true, |c| {
        let e = c.err("secret-set", &["--owner", "application", &id, "token=x"], 1);
        assert_eq!(e, "ERROR this unit is not the leader\n");
        let e = c.err("secret-remove", &[&id], 1);
        assert!(e.contains("not the leader"));
        // Every unit of the owning application reads the latest revision.
        assert_eq!(
            c.out("secret-get", &["--format=json", &id]),
            "{\"token\":\"abc\"}\n"
        );
        // Only the leader sees the metadata.
        let e = c.err("secret-info-get", &["--format=json", &id], 1);
        assert!(e.contains("not found"));
    });
}

#[test]
fn consumer_secrets_track_refresh_peek() {
    let mut u = Unit::k8s(true);
    let id = u.w.fresh_secret_id();
    u.apply(Action::SecretGranted {
        id: id.clone(),
        origin: SecretOrigin::App {
            app: "pg".into(),
            relation_id: 1,
        },
        content: BTreeMap::from([("password".into(), "v1".into())]),
    });
    u.apply(Action::UpdateStatusTimer);
    let (_, out) = u.hook(true, |c| {
        assert_eq!(
            c.out("secret-get", &["--format=json", &id, "--label", "db"]),
            "{\"password\":\"v1\"}\n"
        );
        assert_eq!(
            c.out("secret-get", &["--format=json", "--label", "db"]),
            "{\"password\":\"v1\"}\n"
        );
        assert_eq!(c.out("secret-get", &[&id, "password"]), "v1\n");
    });
    assert!(out.effects.is_empty(), "{:?}", out.effects);

    u.apply(Action::SecretRevised {
        id: id.clone(),
        content: BTreeMap::from([("password".into(), "v2".into())]),
    });
    assert_eq!(u.peek().unwrap(), "secret-changed");
    let (_, out) = u.hook(true, |c| {
        assert_eq!(
            c.out("secret-get", &["--format=json", &id]),
            "{\"password\":\"v1\"}\n"
        );
        assert_eq!(
            c.out("secret-get", &["--format=json", &id, "--peek"]),
            "{\"password\":\"v2\"}\n"
        );
        assert_eq!(
            c.out("secret-get", &["--format=json", &id]),
            "{\"password\":\"v1\"}\n"
        );
        assert_eq!(
            c.out("secret-get", &["--format=json", &id, "--refresh"]),
            "{\"password\":\"v2\"}\n"
        );
        assert_eq!(
            c.out("secret-get", &["--format=json", &id]),
            "{\"password\":\"v2\"}\n"
        );
        // Consumers cannot update, and see no metadata.
        let e = c.err(
            "secret-set",
            &["--owner", "application", &id, "password=x"],
            1,
        );
        assert_eq!(e, "ERROR permission denied\n");
        let e = c.err("secret-info-get", &["--format=json", &id], 1);
        assert!(e.contains("not found"));
        let e = c.err(
            "secret-get",
            &["--format=json", "secret:0123456789abcdefghij"],
            1,
        );
        assert_eq!(e, "ERROR secret \"0123456789abcdefghij\" not found\n");
        let e = c.err("secret-get", &["--format=json", "--label", "nope"], 1);
        assert!(e.contains("not found"));
        let e = c.err(
            "secret-get",
            &["--format=json", "--peek", "--refresh", &id],
            2,
        );
        assert!(e.contains("--peek or --refresh"));
    });
    assert_eq!(
        out.effects,
        [Effect::SecretTracked {
            id: id.clone(),
            revision: 2
        }]
    );
    assert_eq!(u.w.secret(&id).unwrap().tracked_revision, 2);
}

#[test]
fn secret_grant_and_revoke() {
    let mut u = Unit::k8s(true);
    u.apply(Action::UpdateStatusTimer);
    let (_, out) = u.hook(true, |c| {
        let id = c.out("secret-add", &["--owner", "application", "token=abc"]);
        let id = id.trim();
        c.out("secret-grant", &["--relation", "1", id]);
        c.out("secret-grant", &["--relation", "1", "--unit", "pg/0", id]);
        let e = c.err(
            "secret-grant",
            &["--relation", "1", "--unit", "other/0", id],
            2,
        );
        assert!(e.contains("cannot specify unit \"other/0\" in relation to application \"pg\""));
        let e = c.err("secret-grant", &["--relation", "9", id], 2);
        assert!(e.contains("relation not found"));
        let info = c.json("secret-info-get", &["--format=json", id]);
        let access = &info[&id[7..]]["access"];
        assert_eq!(
            access,
            &json!([{"target": "application-pg", "scope": "relation-1", "role": "view"}])
        );
        c.out("secret-revoke", &["--relation", "1", id]);
        let info = c.json("secret-info-get", &["--format=json", id]);
        assert!(info[&id[7..]].get("access").is_none());
    });
    assert!(
        out.committed
            .iter()
            .any(|c| matches!(c, Change::SecretGranted { .. }))
    );
    assert!(
        out.committed
            .iter()
            .any(|c| matches!(c, Change::SecretRevoked { .. }))
    );
}

// ---------------------------------------------------------------------------------------
// Charm state, leader settings, and the rest
// ---------------------------------------------------------------------------------------

#[test]
fn charm_state_is_committed_on_success_only() {
    // What ops' JujuStorage sends (PyYAML, default_style='|').
    let set = b"\"StoredStateData[DemoCharm/StoredState[_stored]]\": |\n  {count: 1}\n";
    let mut u = Unit::k8s(true);
    u.apply(Action::UpdateStatusTimer);
    u.hook(true, |c| {
        assert_eq!(c.stdin("state-set", &["--file", "-"], set).code, 0);
        assert_eq!(
            c.out(
                "state-get",
                &["StoredStateData[DemoCharm/StoredState[_stored]]"]
            ),
            "{count: 1}\n\n"
        );
        assert_eq!(c.out("state-get", &["missing"]), "");
        c.out("state-set", &["--file", "-"]);
    });
    assert_eq!(u.agent.charm_state.len(), 1);
    u.apply(Action::UpdateStatusTimer);
    u.hook(false, |c| {
        c.out(
            "state-delete",
            &["StoredStateData[DemoCharm/StoredState[_stored]]"],
        );
        c.stdin("state-set", &["--file", "-"], br#"{"other": "x"}"#);
        assert_eq!(
            c.out("state-get", &["--format=json"]),
            "{\"other\":\"x\"}\n"
        );
    });
    assert_eq!(u.agent.charm_state.len(), 1);
    assert!(
        u.agent
            .charm_state
            .contains_key("StoredStateData[DemoCharm/StoredState[_stored]]")
    );
}

#[test]
fn legacy_and_machine_tools() {
    let mut m = Unit::machine();
    m.apply(Action::UpdateStatusTimer);
    let (_, out) = m.hook(true, |c| {
        c.out("leader-set", &["a=1", "b=2"]);
        assert_eq!(
            c.out("leader-get", &["--format=json"]),
            "{\"a\":\"1\",\"b\":\"2\"}\n"
        );
        assert_eq!(c.out("leader-get", &["a"]), "1\n");
        let e = c.err("credential-get", &["--format=json"], 1);
        assert!(e.contains("permission denied"));
        let e = c.err("add-metric", &["requests=1"], 1);
        assert!(e.contains("metrics not allowed"));
        c.out("juju-reboot", &[]);
    });
    assert!(out.effects.contains(&Effect::RebootRequested));
    assert_eq!(out.reboot, Some(Reboot::AfterHook));
    assert_eq!(m.agent.leader_settings.len(), 2);
    assert_eq!(m.peek().unwrap(), "start");

    // --now: Juju kills the hook; nothing of it is committed.
    let mut m = Unit::machine();
    m.apply(Action::Trust { trusted: true });
    let (_, out) = m.hook(true, |c| {
        let spec = c.json("credential-get", &["--format=json"]);
        assert_eq!(spec["type"], "lxd");
        assert_eq!(spec["credential"]["auth-type"], "certificate");
        c.out("open-port", &["80/tcp"]);
        c.out("juju-reboot", &["--now"]);
    });
    assert_eq!(out.effects, [Effect::RebootRequested]);
    assert!(m.agent.opened_ports.is_empty());

    let mut f = Unit::k8s(false);
    f.apply(Action::UpdateStatusTimer);
    f.hook(true, |c| {
        let e = c.err("leader-set", &["a=1"], 1);
        assert!(e.contains("not the leader"));
    });
}

#[test]
fn resource_get() {
    let mut spec = (*common::k8s_rich()).clone();
    spec.resources.push(ResourceSpec {
        name: "web-image".into(),
        kind: "oci-image".into(),
        filename: None,
    });
    spec.resources.push(ResourceSpec {
        name: "blob".into(),
        kind: "file".into(),
        filename: Some("blob.tgz".into()),
    });
    let mut u = Unit::new(
        Arc::new(spec),
        Action::Deploy {
            unit: "demo/0".into(),
            leader: true,
            peers: vec![],
            relations: vec![rel(0, "replicas", "demo", &[])],
            storage: vec!["data/0".into()],
        },
    );
    u.apply(Action::UpdateStatusTimer);
    u.hook(true, |c| {
        assert_eq!(
            c.out("resource-get", &["blob"]),
            "/tmp/charmfuzz-resources/blob/blob.tgz"
        );
        let e = c.err("resource-get", &["nope"], 1);
        assert!(e.contains("resource \"nope\" not found"));
    });
}

// ---------------------------------------------------------------------------------------
// A story, end to end
// ---------------------------------------------------------------------------------------

#[test]
fn the_world_learns_what_the_charm_did() {
    let mut u = Unit::new(
        common::k8s_rich(),
        Action::Deploy {
            unit: "demo/0".into(),
            leader: true,
            peers: vec![],
            relations: vec![rel(0, "replicas", "demo", &[])],
            storage: vec!["data/0".into()],
        },
    );
    // The charm creates its admin secret during install... (already run by the deploy drain,
    // so do it on the next config-changed).
    u.apply(Action::Config {
        changes: BTreeMap::from([("port".into(), json!(8081))]),
    });
    let mut secret = String::new();
    u.hook(true, |c| {
        let port = c.out("config-get", &["port"]);
        assert_eq!(port, "8081\n");
        secret = c
            .out(
                "secret-add",
                &["--label", "admin", "--owner", "application", "password=x1"],
            )
            .trim()
            .to_string();
        c.out("open-port", &["8081/tcp"]);
    });

    // ...a database relation arrives, and the leader publishes its app data on it.
    let relation_id = u.w.next_relation_id();
    u.apply(Action::Integrate {
        relation: rel(relation_id, "db", "pg", &["pg/0"]),
    });
    let hooks_seen = {
        let mut seen = Vec::new();
        while let Some(h) = u.peek() {
            let (e, _) = u.hook(true, |c| {
                let id = format!("db:{relation_id}");
                if c.0.calls().is_empty() {
                    let r = c.stdin(
                        "relation-set",
                        &["-r", &id, "--app", "--file", "-"],
                        br#"{"database": "demo", "port": "8081"}"#,
                    );
                    assert_eq!(r.code, 0, "{}", r.stderr_str());
                }
            });
            seen.push(e.hook);
            assert_eq!(seen.last().unwrap(), &h);
        }
        seen
    };
    assert_eq!(
        hooks_seen,
        [
            "db-relation-created",
            "db-relation-joined",
            "db-relation-changed"
        ]
    );
    let r = u.w.relation(relation_id).unwrap();
    assert_eq!(r.local_app_data["database"], "demo");
    assert_eq!(r.local_app_data["port"], "8081");

    // The secret the charm created can now come due for rotation.
    assert!(u.w.owns_now(u.w.secret(&secret).unwrap()));
    u.apply(Action::SecretRotateDue { id: secret.clone() });
    let (e, out) = u.hook(true, |c| {
        assert_eq!(
            c.out("secret-get", &["--format=json", "--label", "admin"]),
            "{\"password\":\"x1\"}\n"
        );
        c.out(
            "secret-set",
            &["--owner", "application", &secret, "password=x2"],
        );
    });
    assert_eq!(e.hook, "secret-rotate");
    assert_eq!(out.effects, [Effect::SecretRevised { id: secret.clone() }]);
    assert_eq!(u.w.secret(&secret).unwrap().latest_revision, 2);
    assert!(u.peek().is_none());

    // The agent kept the port and the revised content across events.
    assert_eq!(u.agent.opened_ports.len(), 1);
    u.apply(Action::UpdateStatusTimer);
    u.hook(true, |c| {
        assert_eq!(
            c.out("secret-get", &["--format=json", &secret]),
            "{\"password\":\"x2\"}\n"
        );
        assert_eq!(
            c.out("opened-ports", &["--format=json"]),
            "[\"8081/tcp\"]\n"
        );
    });
}

// ---------------------------------------------------------------------------------------
// ops' own client
// ---------------------------------------------------------------------------------------

fn venv_python() -> std::path::PathBuf {
    let venv = std::env::var_os("CHARMFUZZ_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"));
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "no Python virtualenv at {}: run scripts/setup-python.sh (or point CHARMFUZZ_VENV at a venv with ops 3.9)",
        venv.display()
    );
    py
}

/// ops 3.9's `Model` and `_ModelBackend` (and `JujuStorage`) build the argv and parse the
/// answers: every API a typical charm uses, against this agent.
#[test]
fn the_real_ops_model() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let charm = root.join("tests/fixtures/charms/k8s-rich");
    let spec = Arc::new(CharmSpec::load(&charm).unwrap());
    let mut u = Unit::new(
        spec,
        Action::Deploy {
            unit: "rich-app/0".into(),
            leader: true,
            peers: vec!["rich-app/1".into()],
            relations: vec![
                rel(0, "replicas", "rich-app", &["rich-app/1"]),
                rel(1, "db", "pg", &["pg/0"]),
            ],
            storage: vec!["data/0".into(), "logs/0".into()],
        },
    );
    u.agent.resource_dir = "/charmfuzz/resources".into();
    u.apply(Action::RemoteAppData {
        relation_id: 1,
        data: BTreeMap::from([("endpoints".into(), "pg:5432".into())]),
    });
    u.apply(Action::RemoteUnitData {
        relation_id: 1,
        unit: "pg/0".into(),
        data: BTreeMap::from([("user".into(), "u".into())]),
    });
    let consumed = u.w.fresh_secret_id();
    u.apply(Action::SecretGranted {
        id: consumed.clone(),
        origin: SecretOrigin::App {
            app: "pg".into(),
            relation_id: 1,
        },
        content: BTreeMap::from([("password".into(), "v1".into())]),
    });
    u.drain();
    u.apply(Action::SecretRevised {
        id: consumed.clone(),
        content: BTreeMap::from([("password".into(), "v2".into())]),
    });

    let mut py = Command::new(venv_python())
        .arg(root.join("tests/python/hooktools_ops_model.py"))
        .arg(&charm)
        .arg(&consumed)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_py = py.stdin.take().unwrap();
    let from_py = BufReader::new(py.stdout.take().unwrap());
    let mut done = false;
    let (_, out) = u.hook(true, |c| {
        for line in from_py.lines() {
            let line = line.unwrap();
            if line == "@@DONE" {
                done = true;
                break;
            }
            let Some(req) = line.strip_prefix("@@HOOKTOOL ") else {
                continue;
            };
            let req: Value = serde_json::from_str(req).unwrap();
            let args: Vec<&str> = req["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            let r = c.stdin(
                req["tool"].as_str().unwrap(),
                &args,
                req["stdin"].as_str().unwrap().as_bytes(),
            );
            let reply = json!({"stdout": r.stdout_str(), "stderr": r.stderr_str(), "code": r.code});
            writeln!(to_py, "{reply}").unwrap();
        }
    });
    drop(to_py);
    let result = py.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        result.status.success() && done,
        "ops client failed:\n{stderr}"
    );

    // What ops did is what the world learns.
    let relation_sets: Vec<_> = out
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::RelationDataSet { app, data, .. } => Some((*app, data.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(relation_sets.len(), 2);
    assert_eq!(relation_sets[0].1["k2"], "v2");
    assert!(!relation_sets[0].1.contains_key("k"));
    assert_eq!(
        relation_sets[1],
        (true, BTreeMap::from([("a".into(), "b".into())]))
    );
    assert!(out.effects.iter().any(|e| matches!(
        e,
        Effect::SecretCreated {
            owner: SecretOwner::App,
            label: Some(l),
            ..
        } if l == "admin"
    )));
    assert!(out.effects.contains(&Effect::SecretTracked {
        id: consumed.clone(),
        revision: 2
    }));
    assert_eq!(u.agent.opened_ports.len(), 4);
    assert_eq!(u.agent.workload_version, "1.2.3");
    assert_eq!(u.agent.logs.last().unwrap().message, "all done");
    assert!(out.calls.iter().all(|c| c.tool != "unknown"));
    assert_eq!(u.w.relation(1).unwrap().local_app_data["a"], "b");
}
