//! Relations and networking: `relation-ids`, `relation-list`, `relation-get`,
//! `relation-set`, `relation-model-get`, `network-get`, `unit-get`, `goal-state`.
//!
//! Juju's rules (J-CTX `ContextRelation`, jujuc `relation-*.go`):
//! - `-r` names a relation in the hook context, by `endpoint:id` or bare id; a relation the
//!   unit is not in (never was, or whose `relation-broken` committed) is refused while the
//!   flags are read: `invalid value "db:9" for flag -r: relation not found` (ops' regex
//!   `relation (\d+ )?not found` turns it into `RelationNotFoundError`).
//! - During `relation-broken` the broken relation is still in the context (its data can be
//!   read and written), but `relation-ids` no longer lists it.
//! - `relation-list` is the agent's member cache: during `relation-joined(u)` it already
//!   has `u`, during `relation-departed(u)` it no longer has `u` (whose data stays readable).
//! - Reading this application's databag as a non-leader is refused by the controller
//!   (`permission denied`) except on a peer relation; writing it (`relation-set --app`) as
//!   a non-leader fails with `cannot write relation settings`. There is no way to name a
//!   remote databag in `relation-set`; reading a unit that never was in the relation is
//!   `permission denied`.
//! - Every unit databag carries Juju's address keys (`private-address`, `ingress-address`,
//!   `egress-subnets`), as Juju writes them when the unit enters scope.

use super::flags::{FORMAT, OUTPUT, boolean, invalid_value, value};
use super::format::{render, sorted, string_map};
use super::{Format, HookContext, ToolError, ToolResult, failed, model_uuid, unit_address, usage};
use crate::engine::action::Databag;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const REL: super::flags::Flag = value(&["r", "relation"]);

/// Juju's `names.IsValidApplication`.
pub(super) fn valid_app(s: &str) -> bool {
    let mut segments = s.split('-');
    let Some(first) = segments.next() else {
        return false;
    };
    let ok_first = first.starts_with(|c: char| c.is_ascii_lowercase())
        && first
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    ok_first
        && segments.all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && seg.chars().any(|c| c.is_ascii_lowercase())
        })
}

/// Juju's `names.IsValidUnit`.
pub(super) fn valid_unit(s: &str) -> bool {
    match s.rsplit_once('/') {
        Some((app, n)) => {
            valid_app(app)
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && (n == "0" || !n.starts_with('0'))
        }
        None => false,
    }
}

/// Apply `relation-set` style changes: `""` deletes.
fn apply(bag: &mut Databag, changes: &BTreeMap<String, String>) {
    for (k, v) in changes {
        if v.is_empty() {
            bag.remove(k);
        } else {
            bag.insert(k.clone(), v.clone());
        }
    }
}

/// `keyvalues.Parse(args, true)`.
pub(super) fn parse_key_values(args: &[String]) -> Result<BTreeMap<String, String>, ToolError> {
    let mut out = BTreeMap::new();
    for a in args {
        let Some((k, v)) = a.split_once('=') else {
            return Err(usage(format!("expected \"key=value\", got {a:?}")));
        };
        if k.is_empty() {
            return Err(usage(format!("expected \"key=value\", got {a:?}")));
        }
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(usage(format!("key {k:?} specified more than once")));
        }
    }
    Ok(out)
}

/// A YAML (or JSON) map of strings, as yaml.v2 decodes it into `map[string]string`.
pub(super) fn parse_string_map(text: &str) -> Result<BTreeMap<String, String>, String> {
    use saphyr::{Yaml, YamlLoader};
    let mut parser = saphyr_parser::Parser::new_from_str(text);
    let mut loader: YamlLoader<Yaml> = YamlLoader::default();
    loader.early_parse(false);
    let res = parser.load(&mut loader, true);
    if let Some(e) = res.err().or_else(|| loader.error().cloned()) {
        return Err(format!("yaml: line {}: {}", e.marker().line(), e.info()));
    }
    let docs = loader.into_documents();
    let mut out = BTreeMap::new();
    let Some(doc) = docs.into_iter().next() else {
        return Ok(out);
    };
    let scalar = |y: &Yaml| -> Option<String> {
        match y {
            Yaml::Representation(s, style, _) => {
                let null = *style == saphyr_parser::ScalarStyle::Plain
                    && matches!(s.as_ref(), "~" | "null" | "Null" | "NULL" | "");
                Some(if null { String::new() } else { s.to_string() })
            }
            Yaml::Value(v) => Some(match v {
                saphyr::Scalar::Null => String::new(),
                saphyr::Scalar::Boolean(b) => b.to_string(),
                saphyr::Scalar::Integer(i) => i.to_string(),
                saphyr::Scalar::FloatingPoint(f) => f.to_string(),
                saphyr::Scalar::String(s) => s.to_string(),
            }),
            _ => None,
        }
    };
    match doc {
        Yaml::Mapping(m) => {
            for (k, v) in m.iter() {
                let key = scalar(k).ok_or("yaml: invalid map key")?;
                let val = scalar(v).ok_or_else(|| {
                    "yaml: unmarshal errors:\n  cannot unmarshal !!map into string".to_string()
                })?;
                out.insert(key, val);
            }
            Ok(out)
        }
        Yaml::Representation(s, _, _) if s.is_empty() || s == "~" || s == "null" => Ok(out),
        _ => Err("yaml: unmarshal errors:\n  cannot unmarshal !!str into map[string]string".into()),
    }
}

impl HookContext {
    /// The relation named by `-r` (validated like `relationIdValue.Set`), or the hook's.
    pub(super) fn relation_arg(&self, a: &super::flags::Args) -> Result<u32, ToolError> {
        match a.value("r") {
            Some(v) => {
                let trimmed = v.rsplit(':').next().unwrap_or(v);
                let id: u32 = trimmed
                    .parse()
                    .map_err(|_| invalid_value(v, &a.spelling("r"), "invalid relation id"))?;
                if !self.relations.contains_key(&id) {
                    return Err(invalid_value(v, &a.spelling("r"), "relation not found"));
                }
                Ok(id)
            }
            None => self
                .hook_relation
                .filter(|id| self.relations.contains_key(id))
                .ok_or_else(|| usage("no relation id specified")),
        }
    }

    pub(super) fn relation_ids(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT])?;
        let format = self.format_of(&a, Format::Smart, &["smart", "yaml", "json"])?;
        let name = match a.pos.first() {
            Some(n) => n.clone(),
            None => self
                .hook_relation
                .and_then(|id| self.relations.get(&id))
                .map(|r| r.endpoint.clone())
                .unwrap_or_default(),
        };
        if name.is_empty() {
            return Err(usage("no endpoint name specified"));
        }
        self.no_more_args(a.pos.get(1..).unwrap_or(&[]))?;
        let ids: Vec<Value> = self
            .relations
            .iter()
            .filter(|(id, r)| r.endpoint == name && Some(**id) != self.broken)
            .map(|(id, r)| Value::String(format!("{}:{id}", r.endpoint)))
            .collect();
        Ok(render(format, &Value::Array(ids)))
    }

    pub(super) fn relation_list(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT, REL, boolean(&["app"])])?;
        let format = self.format_of(&a, Format::Smart, &["smart", "yaml", "json"])?;
        let id = self.relation_arg(&a)?;
        self.no_more_args(&a.pos)?;
        let r = &self.relations[&id];
        if a.flag("app") {
            return Ok(render(format, &Value::String(r.remote_app.clone())));
        }
        let members = r.members.iter().cloned().map(Value::String).collect();
        Ok(render(format, &Value::Array(members)))
    }

    pub(super) fn relation_get(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT, REL, boolean(&["app"])])?;
        let format = self.format_of(&a, Format::Smart, &["smart", "yaml", "json"])?;
        let id = self.relation_arg(&a)?;
        let mut pos = a.pos.iter();
        let key = match pos.next() {
            Some(k) if k == "-" => String::new(),
            Some(k) => k.clone(),
            None => String::new(),
        };
        let mut app = a.flag("app");
        let target = match pos.next() {
            Some(name) if app => {
                if valid_app(name) {
                    name.clone()
                } else if valid_unit(name) {
                    name.rsplit_once('/')
                        .map(|x| x.0)
                        .unwrap_or(name)
                        .to_string()
                } else {
                    String::new()
                }
            }
            Some(name) => {
                if !valid_unit(name) {
                    if valid_app(name) {
                        return Err(usage(format!(
                            "expected unit name, got application name {name:?}"
                        )));
                    }
                    return Err(usage(format!("invalid unit name {name:?}")));
                }
                name.clone()
            }
            None if app => self
                .remote_app
                .clone()
                .ok_or_else(|| usage("no unit or application specified"))?,
            None => match (&self.remote_unit, &self.remote_app) {
                (Some(u), _) => u.clone(),
                (None, Some(ra)) => {
                    app = true;
                    ra.clone()
                }
                (None, None) => return Err(usage("no unit or application specified")),
            },
        };
        self.no_more_args(&pos.cloned().collect::<Vec<_>>())?;
        let r = &self.relations[&id];
        let denied = || failed("permission denied");
        let bag: Databag = if app {
            if target == self.app {
                if self.leader || r.peer {
                    r.local_app.clone()
                } else {
                    return Err(denied());
                }
            } else if target == r.remote_app {
                r.remote_app_data.clone()
            } else {
                return Err(denied());
            }
        } else if target == self.unit {
            r.local_unit.clone()
        } else {
            r.unit_data.get(&target).cloned().ok_or_else(denied)?
        };
        if key.is_empty() {
            return Ok(render(format, &string_map(&bag)));
        }
        let v = bag
            .get(&key)
            .cloned()
            .map(Value::String)
            .unwrap_or(Value::Null);
        Ok(render(format, &v))
    }

    pub(super) fn relation_set(&mut self, args: &[String], stdin: &[u8]) -> ToolResult {
        let a = self.parse(
            args,
            &[REL, value(&["file"]), boolean(&["app"]), value(&["format"])],
        )?;
        let id = self.relation_arg(&a)?;
        let overrides = parse_key_values(&a.pos)?;
        let mut settings = BTreeMap::new();
        if let Some(path) = a.value("file") {
            let text = if path == "-" {
                String::from_utf8_lossy(stdin).into_owned()
            } else {
                std::fs::read_to_string(path).map_err(|e| failed(format!("open {path}: {e}")))?
            };
            settings = parse_string_map(&text).map_err(failed)?;
        }
        settings.extend(overrides);
        let app = a.flag("app");
        if app && !self.leader {
            return Err(failed("cannot write relation settings"));
        }
        let r = self
            .relations
            .get_mut(&id)
            .expect("checked by relation_arg");
        if app {
            apply(&mut r.local_app, &settings);
        } else {
            apply(&mut r.local_unit, &settings);
        }
        self.rel_written.insert((id, app));
        Ok(Vec::new())
    }

    pub(super) fn relation_model_get(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT, REL])?;
        let format = self.format_of(&a, Format::Smart, &["smart", "yaml", "json"])?;
        self.relation_arg(&a)?;
        self.no_more_args(&a.pos)?;
        Ok(render(format, &json!({ "uuid": model_uuid() })))
    }

    fn bindings(&self) -> Vec<&str> {
        let mut b: Vec<&str> = self
            .spec
            .endpoints
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        b.extend(self.spec.extra_bindings.iter().map(String::as_str));
        b.push("juju-info");
        b
    }

    pub(super) fn network_get(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(
            args,
            &[
                FORMAT,
                OUTPUT,
                REL,
                boolean(&["primary-address"]),
                boolean(&["bind-address"]),
                boolean(&["ingress-address"]),
                boolean(&["egress-subnets"]),
            ],
        )?;
        let format = self.format_of(&a, Format::Smart, &["smart", "yaml", "json"])?;
        if a.value("r").is_some() {
            self.relation_arg(&a)?;
        }
        let Some(binding) = a.pos.first().cloned() else {
            return Err(usage("no arguments specified"));
        };
        if binding.is_empty() {
            return Err(usage("no binding name specified"));
        }
        self.no_more_args(&a.pos[1..])?;
        if !self.bindings().contains(&binding.as_str()) {
            return Err(failed(format!(
                "no network config found for binding {binding:?}"
            )));
        }
        let ip = unit_address(&self.unit);
        let keys: Vec<&str> = ["bind-address", "ingress-address", "egress-subnets"]
            .into_iter()
            .filter(|k| a.flag(k))
            .collect();
        if a.flag("primary-address") {
            if !keys.is_empty() {
                return Err(failed("--primary-address must be the only flag specified"));
            }
            return Ok(render(format, &Value::String(ip)));
        }
        if keys.is_empty() {
            let mac = if self.kubernetes {
                String::new()
            } else {
                let octets: Vec<String> = ip.split('.').skip(2).map(|o| o.to_string()).collect();
                let hex: Vec<String> = octets
                    .iter()
                    .map(|o| format!("{:02x}", o.parse::<u8>().unwrap_or(0)))
                    .collect();
                format!("00:16:3e:00:{}", hex.join(":"))
            };
            let mut info = Map::new();
            info.insert("mac-address".into(), Value::String(mac.clone()));
            info.insert("interface-name".into(), Value::String("eth0".into()));
            let mut addr = Map::new();
            addr.insert("hostname".into(), Value::String(String::new()));
            addr.insert("value".into(), Value::String(ip.clone()));
            addr.insert("cidr".into(), Value::String("10.1.0.0/16".into()));
            if format != Format::Json {
                addr.insert("address".into(), Value::String(ip.clone()));
            }
            info.insert("addresses".into(), Value::Array(vec![Value::Object(addr)]));
            if format != Format::Json {
                info.insert("macaddress".into(), Value::String(mac));
                info.insert("interfacename".into(), Value::String("eth0".into()));
            }
            let mut out = Map::new();
            out.insert(
                "bind-addresses".into(),
                Value::Array(vec![Value::Object(info)]),
            );
            out.insert("egress-subnets".into(), json!([format!("{ip}/32")]));
            out.insert("ingress-addresses".into(), json!([ip]));
            return Ok(render(format, &Value::Object(out)));
        }
        let value_of = |k: &str| match k {
            "egress-subnets" => json!([format!("{ip}/32")]),
            _ => Value::String(ip.clone()),
        };
        if keys.len() == 1 {
            return Ok(render(format, &value_of(keys[0])));
        }
        let m: Map<String, Value> = keys.iter().map(|k| (k.to_string(), value_of(k))).collect();
        Ok(render(format, &sorted(Value::Object(m))))
    }

    pub(super) fn unit_get(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT])?;
        let format = self.format_of(&a, Format::Smart, &["smart", "yaml", "json"])?;
        let Some(key) = a.pos.first() else {
            return Err(usage("no setting specified"));
        };
        if key != "private-address" && key != "public-address" {
            return Err(usage(format!("unknown setting {key:?}")));
        }
        self.no_more_args(&a.pos[1..])?;
        Ok(render(format, &Value::String(unit_address(&self.unit))))
    }

    pub(super) fn goal_state(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT])?;
        let format = self.format_of(&a, Format::Yaml, &["yaml", "json"])?;
        self.no_more_args(&a.pos)?;
        const SINCE: &str = "2025-01-01T00:00:00Z";
        let goal = |status: &str| json!({"status": status, "since": SINCE});
        let mut units = Map::new();
        units.insert(
            self.unit.clone(),
            goal(if self.dying { "dying" } else { "active" }),
        );
        for p in &self.peers {
            units.insert(p.clone(), goal("active"));
        }
        let mut relations = Map::new();
        for r in self.relations.values() {
            if r.peer {
                continue;
            }
            let entry = relations
                .entry(r.endpoint.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(m) = entry else { continue };
            let status = if r.dying {
                "dying"
            } else if r.suspended {
                "suspended"
            } else {
                "joined"
            };
            m.insert(r.remote_app.clone(), goal(status));
            for u in &r.remote_units {
                m.insert(u.clone(), goal(if r.dying { "dying" } else { "active" }));
            }
        }
        let mut out = Map::new();
        out.insert("units".into(), sorted(Value::Object(units)));
        out.insert("relations".into(), sorted(Value::Object(relations)));
        Ok(render(format, &Value::Object(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_unit("pg/0"));
        assert!(valid_unit("my-app2/12"));
        assert!(!valid_unit("pg/01"));
        assert!(!valid_unit("pg"));
        assert!(valid_app("my-app2"));
        assert!(!valid_app("my-2"));
        assert!(!valid_app("2app"));
    }

    #[test]
    fn settings_files() {
        let m = parse_string_map("{\"a\": \"1\", \"b\": \"\"}").unwrap();
        assert_eq!(m["a"], "1");
        assert_eq!(m["b"], "");
        let m = parse_string_map("a: 1\nb: true\nc: ~\n").unwrap();
        assert_eq!(
            (m["a"].as_str(), m["b"].as_str(), m["c"].as_str()),
            ("1", "true", "")
        );
        assert!(parse_string_map("a: [1").is_err());
        assert!(parse_string_map("a:\n  b: c\n").is_err());
    }
}
