//! The other tools: logging, leadership, config, status, workload version, actions,
//! storage, resources, credentials, reboot, charm state, legacy leader settings, podspec
//! and metrics.
//!
//! Juju's rules kept here:
//! - `status-set`, `juju-log`, `application-version-set`, `action-log` and `leader-set`
//!   take effect at once (they survive a failed hook); `state-set`/`state-delete`,
//!   `storage-add` and `juju-reboot` are buffered until the hook exits 0.
//! - `status-set --application` and `status-get --application` need leadership
//!   (`this unit is not the leader`); so does `leader-set`.
//! - `action-*` outside an action: `not running an action`; `action-set` refuses the
//!   reserved keys `stdout`, `stdout-encoding`, `stderr`, `stderr-encoding`.
//! - `storage-get` without `-s` uses the hook's `JUJU_STORAGE_ID`; an instance that is not
//!   attached is `storage instance "data/3" not found`.
//! - `config-get` gives the charm's defaults merged with the user's values, without the
//!   options that have neither (`--all` shows those as null).
//! - `state-get` prints nothing for a missing key (ops reads that as KeyError).

use super::flags::{FORMAT, OUTPUT, boolean, invalid_value, value};
use super::format::{render, sorted, string_map};
use super::relations::{parse_key_values, parse_string_map};
use super::{
    Change, Format, HookContext, LogRecord, Reboot, Status, StatusRecord, StatusTarget, ToolError,
    ToolResult, failed, usage, valid_storage_id,
};
use crate::engine::event::HookKind;
use serde_json::{Map, Value, json};

const NOT_LEADER: &str = "this unit is not the leader";
const NOT_ACTION: &str = "not running an action";
const RESERVED_ACTION_KEYS: &[&str] = &["stdout", "stdout-encoding", "stderr", "stderr-encoding"];
const SETTABLE_STATUS: &[&str] = &["maintenance", "blocked", "waiting", "active"];

/// `charm.GetActionNameRule()`: `^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`.
fn valid_action_key(k: &str) -> bool {
    let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let b = k.as_bytes();
    !b.is_empty() && ok(b[0]) && ok(b[b.len() - 1]) && b.iter().all(|c| ok(*c) || *c == b'-')
}

/// Put `value` at the dotted `keys` of `map`, making maps on the way (`addValueToMap`).
fn add_value(keys: &[&str], value: Value, map: &mut Map<String, Value>) {
    match keys {
        [] => {}
        [last] => {
            map.insert(last.to_string(), value);
        }
        [first, rest @ ..] => {
            let entry = map
                .entry(first.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                add_value(rest, value, inner);
            }
        }
    }
}

fn status_details(s: &Status, include_data: bool) -> Value {
    let mut m = Map::new();
    if include_data {
        m.insert("message".into(), json!(s.message));
    }
    m.insert("status".into(), json!(s.status));
    if include_data {
        m.insert("status-data".into(), json!({}));
    }
    Value::Object(m)
}

/// loggo's level names.
fn log_level(s: &str) -> Option<&'static str> {
    Some(match s.to_uppercase().as_str() {
        "TRACE" => "TRACE",
        "DEBUG" => "DEBUG",
        "INFO" => "INFO",
        "WARN" | "WARNING" => "WARNING",
        "ERROR" => "ERROR",
        "CRITICAL" => "CRITICAL",
        _ => return None,
    })
}

impl HookContext {
    fn action_run(&mut self) -> Result<&mut super::ActionRun, ToolError> {
        self.action.as_mut().ok_or_else(|| failed(NOT_ACTION))
    }

    pub(super) fn juju_log(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(
            args,
            &[
                boolean(&["debug"]),
                value(&["l", "log-level"]),
                value(&["format"]),
            ],
        )?;
        if a.pos.is_empty() {
            return Err(usage("no message specified"));
        }
        let level = if a.flag("debug") {
            "DEBUG"
        } else {
            a.value("l").and_then(log_level).unwrap_or("INFO")
        };
        self.logs.push(LogRecord {
            hook: self.hook.clone(),
            level: level.into(),
            message: a.pos.join(" "),
        });
        Ok(Vec::new())
    }

    pub(super) fn is_leader(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT])?;
        let format = self.format_of(&a, Format::Smart, &["smart", "yaml", "json"])?;
        self.no_more_args(&a.pos)?;
        Ok(render(format, &Value::Bool(self.leader)))
    }

    pub(super) fn config_get(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT, boolean(&["a", "all"])])?;
        let format = self.format_of(&a, Format::Smart, &["smart", "yaml", "json"])?;
        let key = a.pos.first().cloned().unwrap_or_default();
        let all = a.flag("a");
        if !key.is_empty() && all {
            return Err(usage(format!(
                "cannot use argument --all together with key {key:?}"
            )));
        }
        self.no_more_args(a.pos.get(1..).unwrap_or(&[]))?;
        if !key.is_empty() {
            let v = self.config.get(&key).cloned().unwrap_or(Value::Null);
            return Ok(render(format, &v));
        }
        let mut m: Map<String, Value> = self
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if all {
            for o in &self.spec.config {
                m.entry(o.name.clone()).or_insert(Value::Null);
            }
        }
        Ok(render(format, &sorted(Value::Object(m))))
    }

    pub(super) fn status_set(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[boolean(&["application"])])?;
        let Some(status) = a.pos.first() else {
            return Err(usage("invalid args, require <status> [message]"));
        };
        if !SETTABLE_STATUS.contains(&status.as_str()) {
            return Err(usage(format!(
                "invalid status {status:?}, expected one of [{}]",
                SETTABLE_STATUS.join(" ")
            )));
        }
        let message = a.pos.get(1).cloned().unwrap_or_default();
        self.no_more_args(a.pos.get(2..).unwrap_or(&[]))?;
        let app = a.flag("application");
        if app && !self.leader {
            return Err(failed(NOT_LEADER));
        }
        let s = Status::new(status, &message);
        if app {
            self.app_status = s;
        } else {
            self.unit_status = s;
        }
        self.statuses.push(StatusRecord {
            target: if app {
                StatusTarget::App
            } else {
                StatusTarget::Unit
            },
            status: status.clone(),
            message,
            hook: self.hook.clone(),
            by_juju: false,
        });
        Ok(Vec::new())
    }

    pub(super) fn status_get(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(
            args,
            &[
                FORMAT,
                OUTPUT,
                boolean(&["include-data"]),
                boolean(&["application"]),
            ],
        )?;
        let format = self.format_of(&a, Format::Smart, &["smart", "yaml", "json"])?;
        self.no_more_args(&a.pos)?;
        let data = a.flag("include-data");
        if !a.flag("application") {
            if !data && format == Format::Smart {
                return Ok(render(format, &json!(self.unit_status.status)));
            }
            return Ok(render(format, &status_details(&self.unit_status, data)));
        }
        if !self.leader {
            return Err(failed(format!("finding application status: {NOT_LEADER}")));
        }
        if !data && format == Format::Smart {
            return Ok(render(format, &json!(self.app_status.status)));
        }
        let mut units = Map::new();
        units.insert(self.unit.clone(), status_details(&self.unit_status, data));
        for p in &self.peers {
            units.insert(p.clone(), status_details(&Status::default(), data));
        }
        let mut details = status_details(&self.app_status, data);
        if let Value::Object(m) = &mut details {
            m.insert("units".into(), sorted(Value::Object(units)));
        }
        Ok(render(
            format,
            &sorted(json!({ "application-status": details })),
        ))
    }

    pub(super) fn application_version_set(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[])?;
        let Some(version) = a.pos.first() else {
            return Err(usage("no version specified"));
        };
        self.no_more_args(&a.pos[1..])?;
        self.workload_version = Some(version.clone());
        self.immediate.push(Change::WorkloadVersion {
            version: version.clone(),
        });
        Ok(Vec::new())
    }

    pub(super) fn action_get(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT])?;
        let format = self.format_of(&a, Format::Smart, &["smart", "yaml", "json"])?;
        let keys: Vec<String> = a
            .pos
            .first()
            .map(|k| k.split('.').map(String::from).collect())
            .unwrap_or_default();
        self.no_more_args(a.pos.get(1..).unwrap_or(&[]))?;
        let params = &self.action_run()?.params;
        let mut v = Value::Object(params.clone());
        for k in &keys {
            v = v.get(k).cloned().unwrap_or(Value::Null);
        }
        Ok(render(format, &sorted(v)))
    }

    pub(super) fn action_set(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[])?;
        let mut sets = Vec::new();
        for arg in &a.pos {
            let Some((k, v)) = arg.split_once('=') else {
                return Err(usage(format!(
                    "argument {arg:?} must be of the form key...=value"
                )));
            };
            let keys: Vec<&str> = k.split('.').collect();
            for key in &keys {
                if !valid_action_key(key) {
                    return Err(usage(format!(
                        "key {key:?} must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods"
                    )));
                }
                if RESERVED_ACTION_KEYS.contains(key) {
                    return Err(usage(format!("cannot set reserved action key \"{key}\"")));
                }
            }
            sets.push((keys, v.to_string()));
        }
        let run = self.action_run()?;
        for (keys, v) in sets {
            add_value(&keys, Value::String(v), &mut run.results);
        }
        Ok(Vec::new())
    }

    pub(super) fn action_log(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[])?;
        if a.pos.is_empty() {
            return Err(usage("no message specified"));
        }
        let message = a.pos.join(" ");
        self.action_run()?.logs.push(message);
        Ok(Vec::new())
    }

    pub(super) fn action_fail(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[])?;
        let message = a.pos.first().cloned().unwrap_or_else(|| {
            "action failed without reason given, check action for errors".into()
        });
        self.no_more_args(a.pos.get(1..).unwrap_or(&[]))?;
        let run = self.action_run()?;
        run.message = message;
        run.failed = true;
        Ok(Vec::new())
    }

    pub(super) fn storage_list(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT])?;
        let format = self.format_of(&a, Format::Smart, &["smart", "yaml", "json"])?;
        let name = a.pos.first().cloned();
        self.no_more_args(a.pos.get(1..).unwrap_or(&[]))?;
        let mut ids: Vec<(&str, u32, &str)> = self
            .storage
            .iter()
            .filter(|s| name.as_ref().is_none_or(|n| *n == s.name))
            .map(|s| (s.name.as_str(), s.index, s.id.as_str()))
            .collect();
        ids.sort();
        let list = ids.into_iter().map(|(_, _, id)| json!(id)).collect();
        Ok(render(format, &Value::Array(list)))
    }

    pub(super) fn storage_get(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT, value(&["s"])])?;
        let format = self.format_of(&a, Format::Smart, &["smart", "yaml", "json"])?;
        let id = match a.value("s") {
            Some(v) if !valid_storage_id(v) => {
                return Err(invalid_value(
                    v,
                    &a.spelling("s"),
                    &format!("invalid storage ID {v:?}"),
                ));
            }
            Some(v) => v.to_string(),
            None => self
                .storage_id
                .clone()
                .ok_or_else(|| usage("no storage instance specified"))?,
        };
        let key = a.pos.first().cloned();
        self.no_more_args(a.pos.get(1..).unwrap_or(&[]))?;
        let s = self
            .storage_view(&id)
            .ok_or_else(|| failed(format!("storage instance {id:?} not found")))?;
        let values = json!({"kind": s.kind, "location": s.location});
        match key {
            None => Ok(render(format, &values)),
            Some(k) => match values.get(&k) {
                Some(v) => Ok(render(format, v)),
                None => Err(failed(format!("invalid storage attribute {k:?}"))),
            },
        }
    }

    pub(super) fn storage_add(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[])?;
        if a.pos.is_empty() {
            return Err(usage("storage add requires a storage directive"));
        }
        let mut adds = Vec::new();
        for d in &a.pos {
            let (name, count) = match d.split_once('=') {
                Some((n, c)) => {
                    let count: u32 = c.parse().ok().filter(|c| *c > 0).ok_or_else(|| {
                        usage(format!("count must be greater than zero, got {c:?}"))
                    })?;
                    (n.to_string(), count)
                }
                None => (d.clone(), 1),
            };
            if self.spec.storage(&name).is_none() {
                return Err(failed(format!(
                    "cannot add storage {name:?}: charm storage {name:?} not found"
                )));
            }
            adds.push((name, count));
        }
        for (name, count) in adds {
            *self.storage_add.entry(name).or_insert(0) += count;
        }
        Ok(Vec::new())
    }

    pub(super) fn resource_get(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[])?;
        let Some(name) = a.pos.first() else {
            return Err(usage("missing required resource name"));
        };
        self.no_more_args(&a.pos[1..])?;
        let Some(r) = self.spec.resources.iter().find(|r| r.name == *name) else {
            return Err(failed(format!(
                "could not download resource: resource {name:?} not found"
            )));
        };
        let file = r.filename.clone().unwrap_or_else(|| name.clone());
        let path = self.resource_dir.join(name).join(file);
        Ok(path.to_string_lossy().into_owned().into_bytes())
    }

    pub(super) fn credential_get(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT])?;
        let format = self.format_of(&a, Format::Smart, &["smart", "yaml", "json"])?;
        self.no_more_args(&a.pos)?;
        if !self.trusted {
            return Err(failed("cannot access cloud credentials: permission denied"));
        }
        let spec = if self.kubernetes {
            json!({
                "type": "kubernetes",
                "name": "microk8s",
                "region": "localhost",
                "endpoint": "https://10.1.0.1:16443",
                "credential": {
                    "auth-type": "clientcertificate",
                    "attrs": {"ClientCertificateData": "fake-cert", "ClientKeyData": "fake-key"}
                },
                "skip-tls-verify": false,
                "is-controller-cloud": true
            })
        } else {
            json!({
                "type": "lxd",
                "name": "localhost",
                "region": "localhost",
                "endpoint": "https://10.1.0.1:8443",
                "credential": {
                    "auth-type": "certificate",
                    "attrs": {"client-cert": "fake-cert", "client-key": "fake-key", "server-cert": "fake-server-cert"}
                },
                "skip-tls-verify": false,
                "is-controller-cloud": true
            })
        };
        Ok(render(format, &spec))
    }

    pub(super) fn juju_reboot(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[boolean(&["now"])])?;
        self.no_more_args(&a.pos)?;
        if self.action.is_some() {
            return Err(failed(
                "juju-reboot is not supported when running an action.",
            ));
        }
        self.reboot = Some(if a.flag("now") {
            Reboot::Now
        } else {
            Reboot::AfterHook
        });
        Ok(Vec::new())
    }

    pub(super) fn state_get(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT, boolean(&["strict"])])?;
        let format = self.format_of(&a, Format::Smart, &["smart", "yaml", "json"])?;
        let key = match a.pos.first() {
            Some(k) if k == "-" => String::new(),
            Some(k) => k.clone(),
            None => String::new(),
        };
        self.no_more_args(a.pos.get(1..).unwrap_or(&[]))?;
        if key.is_empty() {
            return Ok(render(format, &string_map(&self.state)));
        }
        match self.state.get(&key) {
            Some(v) => Ok(render(format, &json!(v))),
            None if a.flag("strict") => Err(failed(format!("{key:?} not found"))),
            None => Ok(render(format, &json!(""))),
        }
    }

    pub(super) fn state_set(&mut self, args: &[String], stdin: &[u8]) -> ToolResult {
        let a = self.parse(args, &[value(&["file"])])?;
        let overrides = parse_key_values(&a.pos)?;
        let mut settings = std::collections::BTreeMap::new();
        if let Some(path) = a.value("file") {
            let text = if path == "-" {
                String::from_utf8_lossy(stdin).into_owned()
            } else {
                std::fs::read_to_string(path).map_err(|e| failed(format!("open {path}: {e}")))?
            };
            settings = parse_string_map(&text).map_err(failed)?;
        }
        settings.extend(overrides);
        for (k, v) in settings {
            if self.state.get(&k) != Some(&v) {
                self.state.insert(k.clone(), v.clone());
                self.state_changes
                    .push(Change::StateSet { key: k, value: v });
            }
        }
        Ok(Vec::new())
    }

    pub(super) fn state_delete(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[])?;
        let Some(key) = a.pos.first() else {
            return Err(usage("no key specified"));
        };
        self.no_more_args(&a.pos[1..])?;
        if self.state.remove(key).is_some() {
            self.state_changes
                .push(Change::StateDeleted { key: key.clone() });
        }
        Ok(Vec::new())
    }

    pub(super) fn leader_get(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT])?;
        let format = self.format_of(&a, Format::Smart, &["smart", "yaml", "json"])?;
        let key = match a.pos.first() {
            Some(k) if k == "-" => String::new(),
            Some(k) => k.clone(),
            None => String::new(),
        };
        self.no_more_args(a.pos.get(1..).unwrap_or(&[]))?;
        if key.is_empty() {
            return Ok(render(format, &string_map(&self.leader_settings)));
        }
        let v = self
            .leader_settings
            .get(&key)
            .map(|v| json!(v))
            .unwrap_or(Value::Null);
        Ok(render(format, &v))
    }

    pub(super) fn leader_set(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[])?;
        let settings = parse_key_values(&a.pos)?;
        if !self.leader {
            return Err(failed(
                "cannot write leadership settings: cannot write settings: not the leader",
            ));
        }
        for (k, v) in settings {
            if v.is_empty() {
                self.leader_settings.remove(&k);
            } else {
                self.leader_settings.insert(k, v);
            }
        }
        self.leader_settings_dirty = true;
        self.immediate.push(Change::LeaderSettings {
            data: self.leader_settings.clone(),
        });
        Ok(Vec::new())
    }

    pub(super) fn pod_spec_set(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[value(&["file"]), value(&["k8s-resources"])])?;
        let file = match (a.value("file"), a.pos.first()) {
            (Some(f), _) => f.to_string(),
            (None, Some(f)) => f.clone(),
            (None, None) => return Err(usage("no pod spec file specified")),
        };
        if !self.leader {
            return Err(failed(NOT_LEADER));
        }
        self.immediate.push(Change::PodSpec { file });
        Ok(Vec::new())
    }

    pub(super) fn add_metric(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[value(&["l", "labels"])])?;
        if a.pos.is_empty() {
            return Err(usage("no metrics specified"));
        }
        let metrics = parse_key_values(&a.pos)?;
        if self.kind != HookKind::CollectMetrics {
            return Err(failed(
                "cannot record metric: metrics not allowed in this context",
            ));
        }
        for (key, value) in metrics {
            self.immediate.push(Change::Metric { key, value });
        }
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_keys() {
        assert!(valid_action_key("out"));
        assert!(valid_action_key("a-1"));
        assert!(!valid_action_key("-a"));
        assert!(!valid_action_key("A"));
        let mut m = Map::new();
        add_value(&["a", "b"], json!("1"), &mut m);
        add_value(&["a", "c"], json!("2"), &mut m);
        add_value(&["x"], json!("3"), &mut m);
        assert_eq!(
            Value::Object(m),
            json!({"a": {"b": "1", "c": "2"}, "x": "3"})
        );
    }
}
