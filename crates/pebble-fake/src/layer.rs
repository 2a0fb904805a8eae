//! Pebble layers and the plan they combine into.
//!
//! A *layer* is a YAML document the charm sends with `Container.add_layer(label, layer,
//! combine=...)`: named `services`, `checks` and `log-targets`, each entry carrying an
//! `override: merge|replace` that says how it combines with the same name in lower layers.
//! The *plan* is all layers combined in order. This file follows Pebble's `internals/plan`
//! package: the same field set and merge rules (`Service.Merge`: scalars replace, lists
//! append, maps merge), the same validation (`plan must define "command" for service "x"`,
//! `layer "x" must define "override" for service "y"`, before/after loops), and the same
//! start/stop ordering from `requires`/`before`/`after`.
//!
//! Layer YAML is decoded the way Go's yaml.v3 decodes it into Pebble's structs (unknown
//! fields are errors; a scalar decoded into a string keeps its literal text, so
//! `environment: {MODE: 0755}` is the string `"0755"`). The plan is emitted as YAML with
//! `saphyr`; the text differs from Go's (indentation), but loads to the same values with
//! PyYAML, which is all `ops.pebble.Plan` does with it.

use super::gotime::{format_duration, parse_duration};
use saphyr::{MarkedYaml, Scalar, YamlData, YamlEmitter, YamlLoader};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// One service entry of a layer or of the plan (Pebble's `plan.Service`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Service {
    pub summary: String,
    pub description: String,
    /// `"enabled"`, `"disabled"` or `""` (unset).
    pub startup: String,
    /// `"merge"`, `"replace"` or `""` (unset, an error in a layer).
    pub override_: String,
    pub command: String,
    pub after: Vec<String>,
    pub before: Vec<String>,
    pub requires: Vec<String>,
    pub environment: BTreeMap<String, String>,
    pub user_id: Option<i64>,
    pub user: String,
    pub group_id: Option<i64>,
    pub group: String,
    pub working_dir: String,
    pub on_success: String,
    pub on_failure: String,
    pub on_check_failure: BTreeMap<String, String>,
    pub backoff_delay: Option<Duration>,
    pub backoff_factor: Option<f64>,
    pub backoff_limit: Option<Duration>,
    pub kill_delay: Option<Duration>,
}

impl Service {
    /// `Service.Merge`: fields set in `other` win; lists append; maps merge.
    fn merge(&mut self, other: &Service) {
        let set = |dst: &mut String, src: &String| {
            if !src.is_empty() {
                dst.clone_from(src);
            }
        };
        set(&mut self.summary, &other.summary);
        set(&mut self.description, &other.description);
        set(&mut self.startup, &other.startup);
        set(&mut self.command, &other.command);
        if other.kill_delay.is_some() {
            self.kill_delay = other.kill_delay;
        }
        if other.user_id.is_some() {
            self.user_id = other.user_id;
        }
        set(&mut self.user, &other.user);
        if other.group_id.is_some() {
            self.group_id = other.group_id;
        }
        set(&mut self.group, &other.group);
        set(&mut self.working_dir, &other.working_dir);
        self.after.extend(other.after.iter().cloned());
        self.before.extend(other.before.iter().cloned());
        self.requires.extend(other.requires.iter().cloned());
        for (k, v) in &other.environment {
            self.environment.insert(k.clone(), v.clone());
        }
        set(&mut self.on_success, &other.on_success);
        set(&mut self.on_failure, &other.on_failure);
        for (k, v) in &other.on_check_failure {
            self.on_check_failure.insert(k.clone(), v.clone());
        }
        if other.backoff_delay.is_some() {
            self.backoff_delay = other.backoff_delay;
        }
        if other.backoff_factor.is_some() {
            self.backoff_factor = other.backoff_factor;
        }
        if other.backoff_limit.is_some() {
            self.backoff_limit = other.backoff_limit;
        }
    }
}

/// An `http:` health check.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpCheck {
    pub url: String,
    pub headers: BTreeMap<String, String>,
}

/// A `tcp:` health check.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TcpCheck {
    pub port: i64,
    pub host: String,
}

/// An `exec:` health check.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecCheck {
    pub command: String,
    pub service_context: String,
    pub environment: BTreeMap<String, String>,
    pub user_id: Option<i64>,
    pub user: String,
    pub group_id: Option<i64>,
    pub group: String,
    pub working_dir: String,
}

/// One check entry (Pebble's `plan.Check`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Check {
    pub override_: String,
    /// `"alive"`, `"ready"` or `""`.
    pub level: String,
    /// `"enabled"`, `"disabled"` or `""` (enabled).
    pub startup: String,
    pub period: Option<Duration>,
    pub timeout: Option<Duration>,
    /// 0 means unset; the combined plan sets the default of 3.
    pub threshold: i64,
    pub http: Option<HttpCheck>,
    pub tcp: Option<TcpCheck>,
    pub exec: Option<ExecCheck>,
}

impl Check {
    fn merge(&mut self, other: &Check) {
        if !other.level.is_empty() {
            self.level.clone_from(&other.level);
        }
        if !other.startup.is_empty() {
            self.startup.clone_from(&other.startup);
        }
        if other.period.is_some() {
            self.period = other.period;
        }
        if other.timeout.is_some() {
            self.timeout = other.timeout;
        }
        if other.threshold != 0 {
            self.threshold = other.threshold;
        }
        if let Some(o) = &other.http {
            let h = self.http.get_or_insert_with(HttpCheck::default);
            if !o.url.is_empty() {
                h.url.clone_from(&o.url);
            }
            h.headers.extend(o.headers.clone());
        }
        if let Some(o) = &other.tcp {
            let t = self.tcp.get_or_insert_with(TcpCheck::default);
            if o.port != 0 {
                t.port = o.port;
            }
            if !o.host.is_empty() {
                t.host.clone_from(&o.host);
            }
        }
        if let Some(o) = &other.exec {
            let e = self.exec.get_or_insert_with(ExecCheck::default);
            let set = |dst: &mut String, src: &String| {
                if !src.is_empty() {
                    dst.clone_from(src);
                }
            };
            set(&mut e.command, &o.command);
            set(&mut e.service_context, &o.service_context);
            e.environment.extend(o.environment.clone());
            if o.user_id.is_some() {
                e.user_id = o.user_id;
            }
            set(&mut e.user, &o.user);
            if o.group_id.is_some() {
                e.group_id = o.group_id;
            }
            set(&mut e.group, &o.group);
            set(&mut e.working_dir, &o.working_dir);
        }
    }

    /// `"http"`, `"tcp"` or `"exec"`, as used in Pebble's change summaries.
    pub fn kind_name(&self) -> &'static str {
        if self.http.is_some() {
            "HTTP"
        } else if self.tcp.is_some() {
            "TCP"
        } else {
            "exec"
        }
    }
}

/// One log target entry (Pebble's `plan.LogTarget`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogTarget {
    pub type_: String,
    pub location: String,
    pub services: Vec<String>,
    pub override_: String,
    pub labels: BTreeMap<String, String>,
}

impl LogTarget {
    fn merge(&mut self, other: &LogTarget) {
        if !other.type_.is_empty() {
            self.type_.clone_from(&other.type_);
        }
        if !other.location.is_empty() {
            self.location.clone_from(&other.location);
        }
        self.services.extend(other.services.iter().cloned());
        self.labels.extend(other.labels.clone());
    }
}

/// A configuration layer: what the charm sent, after parsing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Layer {
    pub label: String,
    /// Position among the layers (1000, 2000, …), as Pebble numbers them.
    pub order: u32,
    pub summary: String,
    pub description: String,
    pub services: BTreeMap<String, Service>,
    pub checks: BTreeMap<String, Check>,
    pub log_targets: BTreeMap<String, LogTarget>,
}

/// The combined configuration: every layer merged in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub layers: Vec<Layer>,
    pub services: BTreeMap<String, Service>,
    pub checks: BTreeMap<String, Check>,
    pub log_targets: BTreeMap<String, LogTarget>,
}

impl Plan {
    /// Recomputes the combined plan from a new list of layers (Pebble's
    /// `updatePlanLayers`). On error the caller keeps the old plan.
    pub fn from_layers(layers: Vec<Layer>) -> Result<Plan, String> {
        let combined = combine_layers(&layers)?;
        Ok(Plan {
            layers,
            services: combined.services,
            checks: combined.checks,
            log_targets: combined.log_targets,
        })
    }

    /// Adds a layer the way `POST /v1/layers` does: append a new label, or (with `combine`)
    /// merge into the layer with the same label. Appending an existing label is
    /// `layer "x" already exists`.
    pub fn add_layer(&self, mut layer: Layer, combine: bool) -> Result<Plan, String> {
        let mut layers = self.layers.clone();
        if let Some(i) = layers.iter().position(|l| l.label == layer.label) {
            if !combine {
                return Err(format!("layer {:?} already exists", layer.label));
            }
            let mut combined = combine_layers(&[layers[i].clone(), layer])?;
            combined.order = layers[i].order;
            combined.label = layers[i].label.clone();
            layers[i] = combined;
        } else {
            layer.order = layers.last().map_or(1000, |l| (l.order / 1000 + 1) * 1000);
            layers.push(layer);
        }
        Plan::from_layers(layers)
    }

    /// The services to start for `names`, dependencies first (`Plan.StartOrder`).
    pub fn start_order(&self, names: &[String]) -> Result<Vec<String>, String> {
        order(&self.services, names, false)
    }

    /// The services to stop for `names`, dependants first (`Plan.StopOrder`).
    pub fn stop_order(&self, names: &[String]) -> Result<Vec<String>, String> {
        order(&self.services, names, true)
    }

    /// The plan as YAML (`GET /v1/plan?format=yaml`).
    pub fn to_yaml(&self) -> String {
        let mut top = saphyr::Mapping::new();
        if !self.services.is_empty() {
            let mut m = saphyr::Mapping::new();
            for (name, s) in &self.services {
                m.insert(ystr(name), service_yaml(s));
            }
            top.insert(ystr("services"), saphyr::Yaml::Mapping(m));
        }
        if !self.checks.is_empty() {
            let mut m = saphyr::Mapping::new();
            for (name, c) in &self.checks {
                m.insert(ystr(name), check_yaml(c));
            }
            top.insert(ystr("checks"), saphyr::Yaml::Mapping(m));
        }
        if !self.log_targets.is_empty() {
            let mut m = saphyr::Mapping::new();
            for (name, t) in &self.log_targets {
                m.insert(ystr(name), log_target_yaml(t));
            }
            top.insert(ystr("log-targets"), saphyr::Yaml::Mapping(m));
        }
        let doc = saphyr::Yaml::Mapping(top);
        let mut out = String::new();
        // Emitting into a String cannot fail.
        let _ = YamlEmitter::new(&mut out).dump(&doc);
        let mut text = out
            .strip_prefix("---\n")
            .or_else(|| out.strip_prefix("---"))
            .unwrap_or(&out)
            .trim_start()
            .to_string();
        text.push('\n');
        text
    }
}

// ---------------------------------------------------------------------------------------
// YAML emitting

fn ystr(s: &str) -> saphyr::Yaml<'static> {
    saphyr::Yaml::Value(Scalar::String(Cow::Owned(s.to_string())))
}

fn yint(i: i64) -> saphyr::Yaml<'static> {
    saphyr::Yaml::Value(Scalar::Integer(i))
}

fn ylist(v: &[String]) -> saphyr::Yaml<'static> {
    saphyr::Yaml::Sequence(v.iter().map(|s| ystr(s)).collect())
}

fn ymap(m: &BTreeMap<String, String>) -> saphyr::Yaml<'static> {
    let mut out = saphyr::Mapping::new();
    for (k, v) in m {
        out.insert(ystr(k), ystr(v));
    }
    saphyr::Yaml::Mapping(out)
}

struct Fields(saphyr::Mapping<'static>);

impl Fields {
    fn new() -> Fields {
        Fields(saphyr::Mapping::new())
    }
    fn s(&mut self, k: &str, v: &str) {
        if !v.is_empty() {
            self.0.insert(ystr(k), ystr(v));
        }
    }
    fn i(&mut self, k: &str, v: Option<i64>) {
        if let Some(v) = v {
            self.0.insert(ystr(k), yint(v));
        }
    }
    fn l(&mut self, k: &str, v: &[String]) {
        if !v.is_empty() {
            self.0.insert(ystr(k), ylist(v));
        }
    }
    fn m(&mut self, k: &str, v: &BTreeMap<String, String>) {
        if !v.is_empty() {
            self.0.insert(ystr(k), ymap(v));
        }
    }
    fn d(&mut self, k: &str, v: Option<Duration>) {
        if let Some(v) = v {
            self.0.insert(ystr(k), ystr(&format_duration(v)));
        }
    }
    fn f(&mut self, k: &str, v: Option<f64>) {
        if let Some(v) = v {
            // Go's yaml.v3 writes floats with strconv 'g' formatting: 2.0 is "2".
            let y = if v.fract() == 0.0 && v.abs() < 1e15 {
                yint(v as i64)
            } else {
                saphyr::Yaml::Value(Scalar::FloatingPoint(v.into()))
            };
            self.0.insert(ystr(k), y);
        }
    }
    fn y(&mut self, k: &str, v: saphyr::Yaml<'static>) {
        self.0.insert(ystr(k), v);
    }
    fn done(self) -> saphyr::Yaml<'static> {
        saphyr::Yaml::Mapping(self.0)
    }
}

fn service_yaml(s: &Service) -> saphyr::Yaml<'static> {
    let mut f = Fields::new();
    f.s("summary", &s.summary);
    f.s("description", &s.description);
    f.s("startup", &s.startup);
    f.s("override", &s.override_);
    f.s("command", &s.command);
    f.l("after", &s.after);
    f.l("before", &s.before);
    f.l("requires", &s.requires);
    f.m("environment", &s.environment);
    f.i("user-id", s.user_id);
    f.s("user", &s.user);
    f.i("group-id", s.group_id);
    f.s("group", &s.group);
    f.s("working-dir", &s.working_dir);
    f.s("on-success", &s.on_success);
    f.s("on-failure", &s.on_failure);
    f.m("on-check-failure", &s.on_check_failure);
    f.d("backoff-delay", s.backoff_delay);
    f.f("backoff-factor", s.backoff_factor);
    f.d("backoff-limit", s.backoff_limit);
    f.d("kill-delay", s.kill_delay);
    f.done()
}

fn check_yaml(c: &Check) -> saphyr::Yaml<'static> {
    let mut f = Fields::new();
    f.s("override", &c.override_);
    f.s("level", &c.level);
    f.s("startup", &c.startup);
    f.d("period", c.period);
    f.d("timeout", c.timeout);
    f.i("threshold", (c.threshold != 0).then_some(c.threshold));
    if let Some(h) = &c.http {
        let mut g = Fields::new();
        g.s("url", &h.url);
        g.m("headers", &h.headers);
        f.y("http", g.done());
    }
    if let Some(t) = &c.tcp {
        let mut g = Fields::new();
        g.i("port", (t.port != 0).then_some(t.port));
        g.s("host", &t.host);
        f.y("tcp", g.done());
    }
    if let Some(e) = &c.exec {
        let mut g = Fields::new();
        g.s("command", &e.command);
        g.s("service-context", &e.service_context);
        g.m("environment", &e.environment);
        g.i("user-id", e.user_id);
        g.s("user", &e.user);
        g.i("group-id", e.group_id);
        g.s("group", &e.group);
        g.s("working-dir", &e.working_dir);
        f.y("exec", g.done());
    }
    f.done()
}

fn log_target_yaml(t: &LogTarget) -> saphyr::Yaml<'static> {
    // Go marshals `type`, `location` and `services` even when empty (no omitempty).
    let mut f = Fields::new();
    f.y("type", ystr(&t.type_));
    f.y("location", ystr(&t.location));
    f.y("services", ylist(&t.services));
    f.s("override", &t.override_);
    f.m("labels", &t.labels);
    f.done()
}

// ---------------------------------------------------------------------------------------
// YAML decoding (yaml.v3 into Pebble's structs, KnownFields(true))

/// A decoded YAML node with its line, scalars kept as their literal text.
enum Node {
    Null(usize),
    Scalar {
        text: String,
        plain: bool,
        line: usize,
    },
    Seq(Vec<Node>, usize),
    Map(Vec<(String, Node)>, usize),
}

impl Node {
    fn line(&self) -> usize {
        match self {
            Node::Null(l) | Node::Seq(_, l) | Node::Map(_, l) => *l,
            Node::Scalar { line, .. } => *line,
        }
    }

    fn yaml_kind(&self) -> String {
        match self {
            Node::Null(_) => "!!null".into(),
            Node::Seq(..) => "!!seq".into(),
            Node::Map(..) => "!!map".into(),
            Node::Scalar { text, plain, .. } => {
                let tag = if !plain {
                    "!!str"
                } else if parse_yaml_int(text).is_some() {
                    "!!int"
                } else if parse_yaml_float(text).is_some() {
                    "!!float"
                } else if matches!(text.as_str(), "true" | "false" | "True" | "False") {
                    "!!bool"
                } else {
                    "!!str"
                };
                format!("{tag} `{text}`")
            }
        }
    }
}

fn convert(node: &MarkedYaml<'_>) -> Node {
    let line = node.span.start.line();
    match &node.data {
        YamlData::Representation(text, style, tag) => {
            let plain = matches!(style, saphyr::ScalarStyle::Plain);
            let is_null_tag = tag.as_ref().is_some_and(|t| t.suffix == "null");
            if is_null_tag
                || (plain && matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL"))
            {
                Node::Null(line)
            } else {
                Node::Scalar {
                    text: text.to_string(),
                    plain,
                    line,
                }
            }
        }
        YamlData::Value(v) => match v {
            Scalar::Null => Node::Null(line),
            Scalar::Boolean(b) => Node::Scalar {
                text: b.to_string(),
                plain: true,
                line,
            },
            Scalar::Integer(i) => Node::Scalar {
                text: i.to_string(),
                plain: true,
                line,
            },
            Scalar::FloatingPoint(f) => Node::Scalar {
                text: f.to_string(),
                plain: true,
                line,
            },
            Scalar::String(s) => Node::Scalar {
                text: s.to_string(),
                plain: false,
                line,
            },
        },
        YamlData::Tagged(_, inner) => convert(inner),
        YamlData::Sequence(items) => Node::Seq(items.iter().map(convert).collect(), line),
        YamlData::Mapping(m) => Node::Map(
            m.iter()
                .map(|(k, v)| {
                    let key = match convert(k) {
                        Node::Scalar { text, .. } => text,
                        _ => String::new(),
                    };
                    (key, convert(v))
                })
                .collect(),
            line,
        ),
        YamlData::Alias(_) | YamlData::BadValue => Node::Null(line),
    }
}

fn parse_yaml_int(s: &str) -> Option<i64> {
    let t = s.replace('_', "");
    let (neg, body) = match t.strip_prefix('-') {
        Some(r) => (true, r.to_string()),
        None => (false, t.strip_prefix('+').unwrap_or(&t).to_string()),
    };
    let v = if let Some(h) = body.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = body.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if let Some(b) = body.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    } else {
        body.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

fn parse_yaml_float(s: &str) -> Option<f64> {
    if let Some(i) = parse_yaml_int(s) {
        return Some(i as f64);
    }
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    if s.bytes().any(|c| c.is_ascii_digit())
        && s.bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-' | b'_'))
    {
        s.replace('_', "").parse().ok()
    } else {
        None
    }
}

fn unmarshal_err(node: &Node, into: &str) -> String {
    format!(
        "yaml: unmarshal errors:\n  line {}: cannot unmarshal {} into {into}",
        node.line(),
        node.yaml_kind()
    )
}

fn d_string(n: &Node) -> Result<String, String> {
    match n {
        Node::Null(_) => Ok(String::new()),
        Node::Scalar { text, .. } => Ok(text.clone()),
        _ => Err(unmarshal_err(n, "string")),
    }
}

fn d_int(n: &Node) -> Result<Option<i64>, String> {
    match n {
        Node::Null(_) => Ok(None),
        Node::Scalar {
            text, plain: true, ..
        } => parse_yaml_int(text)
            .map(Some)
            .ok_or_else(|| unmarshal_err(n, "int")),
        _ => Err(unmarshal_err(n, "int")),
    }
}

fn d_float(n: &Node) -> Result<Option<f64>, String> {
    match n {
        Node::Null(_) => Ok(None),
        Node::Scalar {
            text, plain: true, ..
        } => parse_yaml_float(text)
            .map(Some)
            .ok_or_else(|| unmarshal_err(n, "float64")),
        _ => Err(unmarshal_err(n, "float64")),
    }
}

fn d_duration(n: &Node) -> Result<Option<Duration>, String> {
    match n {
        Node::Null(_) => Ok(None),
        _ => {
            let s = d_string(n)?;
            parse_duration(&s)
                .map(Some)
                .map_err(|_| format!("invalid duration {s:?}"))
        }
    }
}

fn d_list(n: &Node) -> Result<Vec<String>, String> {
    match n {
        Node::Null(_) => Ok(Vec::new()),
        Node::Seq(items, _) => items.iter().map(d_string).collect(),
        _ => Err(unmarshal_err(n, "[]string")),
    }
}

fn d_map(n: &Node) -> Result<BTreeMap<String, String>, String> {
    match n {
        Node::Null(_) => Ok(BTreeMap::new()),
        Node::Map(entries, _) => entries
            .iter()
            .map(|(k, v)| Ok((k.clone(), d_string(v)?)))
            .collect(),
        _ => Err(unmarshal_err(n, "map[string]string")),
    }
}

/// Walks a mapping node's fields, rejecting names the Go struct doesn't have.
fn fields<'a>(
    n: &'a Node,
    go_type: &str,
    known: &[&str],
) -> Result<Option<Vec<(&'a str, &'a Node)>>, String> {
    match n {
        Node::Null(_) => Ok(None),
        Node::Map(entries, _) => {
            let mut out = Vec::new();
            for (k, v) in entries {
                if !known.contains(&k.as_str()) {
                    return Err(format!(
                        "yaml: unmarshal errors:\n  line {}: field {k} not found in type {go_type}",
                        v.line()
                    ));
                }
                out.push((k.as_str(), v));
            }
            Ok(Some(out))
        }
        _ => Err(unmarshal_err(n, go_type)),
    }
}

fn d_service(n: &Node) -> Result<Option<Service>, String> {
    const KNOWN: &[&str] = &[
        "summary",
        "description",
        "startup",
        "override",
        "command",
        "after",
        "before",
        "requires",
        "environment",
        "user-id",
        "user",
        "group-id",
        "group",
        "working-dir",
        "on-success",
        "on-failure",
        "on-check-failure",
        "backoff-delay",
        "backoff-factor",
        "backoff-limit",
        "kill-delay",
    ];
    let Some(fs) = fields(n, "plan.Service", KNOWN)? else {
        return Ok(None);
    };
    let mut s = Service::default();
    for (k, v) in fs {
        match k {
            "summary" => s.summary = d_string(v)?,
            "description" => s.description = d_string(v)?,
            "startup" => s.startup = d_string(v)?,
            "override" => s.override_ = d_string(v)?,
            "command" => s.command = d_string(v)?,
            "after" => s.after = d_list(v)?,
            "before" => s.before = d_list(v)?,
            "requires" => s.requires = d_list(v)?,
            "environment" => s.environment = d_map(v)?,
            "user-id" => s.user_id = d_int(v)?,
            "user" => s.user = d_string(v)?,
            "group-id" => s.group_id = d_int(v)?,
            "group" => s.group = d_string(v)?,
            "working-dir" => s.working_dir = d_string(v)?,
            "on-success" => s.on_success = d_string(v)?,
            "on-failure" => s.on_failure = d_string(v)?,
            "on-check-failure" => s.on_check_failure = d_map(v)?,
            "backoff-delay" => s.backoff_delay = d_duration(v)?,
            "backoff-factor" => s.backoff_factor = d_float(v)?,
            "backoff-limit" => s.backoff_limit = d_duration(v)?,
            "kill-delay" => s.kill_delay = d_duration(v)?,
            _ => unreachable!("checked by fields()"),
        }
    }
    Ok(Some(s))
}

fn d_check(n: &Node) -> Result<Option<Check>, String> {
    const KNOWN: &[&str] = &[
        "override",
        "level",
        "startup",
        "period",
        "timeout",
        "threshold",
        "http",
        "tcp",
        "exec",
    ];
    let Some(fs) = fields(n, "plan.Check", KNOWN)? else {
        return Ok(None);
    };
    let mut c = Check::default();
    for (k, v) in fs {
        match k {
            "override" => c.override_ = d_string(v)?,
            "level" => c.level = d_string(v)?,
            "startup" => c.startup = d_string(v)?,
            "period" => c.period = d_duration(v)?,
            "timeout" => c.timeout = d_duration(v)?,
            "threshold" => c.threshold = d_int(v)?.unwrap_or(0),
            "http" => {
                if let Some(hf) = fields(v, "plan.HTTPCheck", &["url", "headers"])? {
                    let mut h = HttpCheck::default();
                    for (k, v) in hf {
                        match k {
                            "url" => h.url = d_string(v)?,
                            _ => h.headers = d_map(v)?,
                        }
                    }
                    c.http = Some(h);
                }
            }
            "tcp" => {
                if let Some(tf) = fields(v, "plan.TCPCheck", &["port", "host"])? {
                    let mut t = TcpCheck::default();
                    for (k, v) in tf {
                        match k {
                            "port" => t.port = d_int(v)?.unwrap_or(0),
                            _ => t.host = d_string(v)?,
                        }
                    }
                    c.tcp = Some(t);
                }
            }
            "exec" => {
                const EK: &[&str] = &[
                    "command",
                    "service-context",
                    "environment",
                    "user-id",
                    "user",
                    "group-id",
                    "group",
                    "working-dir",
                ];
                if let Some(ef) = fields(v, "plan.ExecCheck", EK)? {
                    let mut e = ExecCheck::default();
                    for (k, v) in ef {
                        match k {
                            "command" => e.command = d_string(v)?,
                            "service-context" => e.service_context = d_string(v)?,
                            "environment" => e.environment = d_map(v)?,
                            "user-id" => e.user_id = d_int(v)?,
                            "user" => e.user = d_string(v)?,
                            "group-id" => e.group_id = d_int(v)?,
                            "group" => e.group = d_string(v)?,
                            _ => e.working_dir = d_string(v)?,
                        }
                    }
                    c.exec = Some(e);
                }
            }
            _ => unreachable!("checked by fields()"),
        }
    }
    Ok(Some(c))
}

fn d_log_target(n: &Node) -> Result<Option<LogTarget>, String> {
    const KNOWN: &[&str] = &["type", "location", "services", "override", "labels"];
    let Some(fs) = fields(n, "plan.LogTarget", KNOWN)? else {
        return Ok(None);
    };
    let mut t = LogTarget::default();
    for (k, v) in fs {
        match k {
            "type" => t.type_ = d_string(v)?,
            "location" => t.location = d_string(v)?,
            "services" => t.services = d_list(v)?,
            "override" => t.override_ = d_string(v)?,
            _ => t.labels = d_map(v)?,
        }
    }
    Ok(Some(t))
}

fn d_named<T>(
    n: &Node,
    what: &str,
    decode: fn(&Node) -> Result<Option<T>, String>,
) -> Result<BTreeMap<String, Option<T>>, String> {
    match n {
        Node::Null(_) => Ok(BTreeMap::new()),
        Node::Map(entries, _) => entries
            .iter()
            .map(|(k, v)| Ok((k.clone(), decode(v)?)))
            .collect(),
        _ => Err(unmarshal_err(n, &format!("map[string]*plan.{what}"))),
    }
}

/// Pebble's `plan.ParseLayer`: decodes and validates one layer's YAML.
pub fn parse_layer(label: &str, yaml: &str) -> Result<Layer, String> {
    let wrap = |e: String| format!("cannot parse layer {label:?}: {e}");
    let mut parser = saphyr_parser::Parser::new_from_str(yaml);
    let mut loader: YamlLoader<MarkedYaml> = YamlLoader::default();
    loader.early_parse(false);
    if let Err(e) = parser.load(&mut loader, true) {
        return Err(wrap(format!(
            "yaml: line {}: {}",
            e.marker().line(),
            e.info()
        )));
    }
    if let Some(e) = loader.error() {
        return Err(wrap(format!(
            "yaml: line {}: {}",
            e.marker().line(),
            e.info()
        )));
    }
    let docs = loader.into_documents();
    let mut layer = Layer {
        label: label.to_string(),
        ..Layer::default()
    };
    let Some(doc) = docs.first() else {
        return Ok(layer);
    };
    let root = convert(doc);
    const KNOWN: &[&str] = &[
        "summary",
        "description",
        "services",
        "checks",
        "log-targets",
    ];
    let fs = fields(&root, "plan.Layer", KNOWN).map_err(wrap)?;
    for (k, v) in fs.unwrap_or_default() {
        match k {
            "summary" => layer.summary = d_string(v).map_err(wrap)?,
            "description" => layer.description = d_string(v).map_err(wrap)?,
            "services" => {
                for (name, s) in d_named(v, "Service", d_service).map_err(wrap)? {
                    if name.is_empty() {
                        return Err("cannot use empty string as service name".into());
                    }
                    if name == "pebble" {
                        return Err(format!("cannot use reserved service name {name:?}"));
                    }
                    if name.starts_with('-') {
                        return Err(format!(
                            "cannot use service name {name:?}: starting with \"-\" not allowed"
                        ));
                    }
                    let s = s.ok_or_else(|| {
                        format!("service object cannot be null for service {name:?}")
                    })?;
                    layer.services.insert(name, s);
                }
            }
            "checks" => {
                for (name, c) in d_named(v, "Check", d_check).map_err(wrap)? {
                    if name.is_empty() {
                        return Err("cannot use empty string as check name".into());
                    }
                    let c =
                        c.ok_or_else(|| format!("check object cannot be null for check {name:?}"))?;
                    layer.checks.insert(name, c);
                }
            }
            _ => {
                for (name, t) in d_named(v, "LogTarget", d_log_target).map_err(wrap)? {
                    if name.is_empty() {
                        return Err("cannot use empty string as log target name".into());
                    }
                    let t = t.ok_or_else(|| {
                        format!("log target object cannot be null for log target {name:?}")
                    })?;
                    layer.log_targets.insert(name, t);
                }
            }
        }
    }
    let names: Vec<String> = layer.services.keys().cloned().collect();
    order(&layer.services, &names, false)?;
    Ok(layer)
}

/// Pebble's `plan.CombineLayers`: merges layers in order, then validates the result and
/// fills in defaults (a check's threshold of 3).
pub fn combine_layers(layers: &[Layer]) -> Result<Layer, String> {
    let mut combined = Layer::default();
    if let Some(last) = layers.last() {
        combined.summary.clone_from(&last.summary);
        combined.description.clone_from(&last.description);
    }
    for layer in layers {
        for (name, s) in &layer.services {
            match s.override_.as_str() {
                "merge" if combined.services.contains_key(name) => {
                    combined.services.get_mut(name).expect("checked").merge(s);
                }
                "merge" | "replace" => {
                    combined.services.insert(name.clone(), s.clone());
                }
                "" => {
                    return Err(format!(
                        "layer {:?} must define \"override\" for service {name:?}",
                        layer.label
                    ));
                }
                _ => {
                    return Err(format!(
                        "layer {:?} has invalid \"override\" value for service {name:?}",
                        layer.label
                    ));
                }
            }
        }
        for (name, c) in &layer.checks {
            match c.override_.as_str() {
                "merge" if combined.checks.contains_key(name) => {
                    combined.checks.get_mut(name).expect("checked").merge(c);
                }
                "merge" | "replace" => {
                    combined.checks.insert(name.clone(), c.clone());
                }
                "" => {
                    return Err(format!(
                        "layer {:?} must define \"override\" for check {name:?}",
                        layer.label
                    ));
                }
                _ => {
                    return Err(format!(
                        "layer {:?} has invalid \"override\" value for check {name:?}",
                        layer.label
                    ));
                }
            }
        }
        for (name, t) in &layer.log_targets {
            match t.override_.as_str() {
                "merge" if combined.log_targets.contains_key(name) => {
                    combined
                        .log_targets
                        .get_mut(name)
                        .expect("checked")
                        .merge(t);
                }
                "merge" | "replace" => {
                    combined.log_targets.insert(name.clone(), t.clone());
                }
                "" => {
                    return Err(format!(
                        "layer {:?} must define \"override\" for log target {name:?}",
                        layer.label
                    ));
                }
                _ => {
                    return Err(format!(
                        "layer {:?} has invalid \"override\" value for log target {name:?}",
                        layer.label
                    ));
                }
            }
        }
    }

    for (name, s) in &combined.services {
        if s.command.is_empty() {
            return Err(format!("plan must define \"command\" for service {name:?}"));
        }
        parse_command(&s.command).map_err(|e| {
            format!(
                "plan service {name:?} command invalid: cannot parse service {name:?} command: {e}"
            )
        })?;
        for (what, action) in [("on-success", &s.on_success), ("on-failure", &s.on_failure)] {
            if !valid_action(action) {
                return Err(format!(
                    "plan service {name:?} {what} action {action:?} invalid"
                ));
            }
        }
        for action in s.on_check_failure.values() {
            if !valid_action(action) {
                return Err(format!(
                    "plan service {name:?} on-check-failure action {action:?} invalid"
                ));
            }
        }
        if let Some(f) = s.backoff_factor
            && f < 1.0
        {
            return Err(format!(
                "plan service {name:?} backoff-factor must be 1.0 or greater, not {f}"
            ));
        }
    }

    for (name, c) in combined.checks.iter_mut() {
        if !matches!(c.level.as_str(), "" | "alive" | "ready") {
            return Err(format!(
                "plan check {name:?} level must be \"alive\" or \"ready\""
            ));
        }
        let period = c.period.unwrap_or(Duration::from_secs(10));
        if c.period == Some(Duration::ZERO) {
            return Err(format!("plan check {name:?} period must not be zero"));
        }
        if let Some(t) = c.timeout {
            if t.is_zero() {
                return Err(format!("plan check {name:?} timeout must not be zero"));
            }
            if t >= period {
                return Err(format!(
                    "plan check {name:?} timeout must be less than period"
                ));
            }
        }
        if c.threshold == 0 {
            c.threshold = 3;
        }
        let mut kinds = 0;
        if let Some(h) = &c.http {
            if h.url.is_empty() {
                return Err(format!("plan must set \"url\" for http check {name:?}"));
            }
            kinds += 1;
        }
        if let Some(t) = &c.tcp {
            if t.port == 0 {
                return Err(format!("plan must set \"port\" for tcp check {name:?}"));
            }
            kinds += 1;
        }
        if let Some(e) = &c.exec {
            if e.command.is_empty() {
                return Err(format!("plan must set \"command\" for exec check {name:?}"));
            }
            parse_command(&e.command)
                .map_err(|err| format!("plan check {name:?} command invalid: {err}"))?;
            if !e.service_context.is_empty() && !combined.services.contains_key(&e.service_context)
            {
                return Err(format!(
                    "plan check {name:?} context specifies non-existent service {:?}",
                    e.service_context
                ));
            }
            kinds += 1;
        }
        if kinds != 1 {
            return Err(format!(
                "plan must specify one of \"http\", \"tcp\", or \"exec\" for check {name:?}"
            ));
        }
    }

    for (name, t) in &combined.log_targets {
        match t.type_.as_str() {
            "loki" | "syslog" | "opentelemetry" => {}
            "" => {
                return Err(format!(
                    "plan must define \"type\" (\"loki\" or \"syslog\") for log target {name:?}"
                ));
            }
            other => {
                return Err(format!(
                    "log target {name:?} has unsupported type {other:?}, must be \"loki\" or \"syslog\""
                ));
            }
        }
        for svc in &t.services {
            let svc = svc.strip_prefix('-').unwrap_or(svc);
            if svc != "all" && !combined.services.contains_key(svc) {
                return Err(format!(
                    "log target {name:?} specifies unknown service {svc:?}"
                ));
            }
        }
        if t.location.is_empty() {
            return Err(format!(
                "plan must define \"location\" for log target {name:?}"
            ));
        }
    }

    let names: Vec<String> = combined.services.keys().cloned().collect();
    order(&combined.services, &names, false)?;
    Ok(combined)
}

fn valid_action(a: &str) -> bool {
    matches!(
        a,
        "" | "restart" | "shutdown" | "ignore" | "success-shutdown" | "failure-shutdown"
    )
}

/// Splits a command line the way Pebble's shlex does (quotes and backslashes), dropping
/// the `[ … ]` default-arguments brackets.
pub fn parse_command(cmd: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = cmd.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("EOF found when expecting closing quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => cur.push(c),
                            None => return Err("EOF found after escape character".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("EOF found when expecting closing quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => cur.push(c),
                    None => return Err("EOF found after escape character".into()),
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        args.push(cur);
    }
    let mut out = Vec::new();
    let (mut in_brackets, mut got_brackets) = (false, false);
    for (i, a) in args.into_iter().enumerate() {
        if in_brackets {
            match a.as_str() {
                "[" => return Err("cannot nest [ ... ] groups".into()),
                "]" => in_brackets = false,
                _ => out.push(a),
            }
            continue;
        }
        if got_brackets {
            return Err("cannot have any arguments after [ ... ] group".into());
        }
        match a.as_str() {
            "[" if i == 0 => return Err("cannot start command with [ ... ] group".into()),
            "[" => {
                in_brackets = true;
                got_brackets = true;
            }
            "]" => return Err("cannot have ] outside of [ ... ] group".into()),
            _ => out.push(a),
        }
    }
    Ok(out)
}

/// Pebble's `order()`: the services involved in starting (or stopping) `names`, sorted so
/// that each comes after what it must follow.
fn order(
    services: &BTreeMap<String, Service>,
    names: &[String],
    stop: bool,
) -> Result<Vec<String>, String> {
    let mut predecessors: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    if stop {
        for (name, s) in services {
            for req in &s.requires {
                predecessors.entry(req.as_str()).or_default().push(name);
            }
        }
    }
    let mut set: BTreeSet<String> = BTreeSet::new();
    let mut pending: Vec<String> = names.to_vec();
    let mut i = 0;
    while i < pending.len() {
        let name = pending[i].clone();
        i += 1;
        if !set.insert(name.clone()) {
            continue;
        }
        if stop {
            if let Some(p) = predecessors.get(name.as_str()) {
                pending.extend(p.iter().map(|s| s.to_string()));
            }
        } else {
            let s = services
                .get(&name)
                .ok_or_else(|| format!("service {name:?} does not exist"))?;
            pending.extend(s.requires.iter().cloned());
        }
    }
    // successors[x]: the services x must come after.
    let mut successors: BTreeMap<String, BTreeSet<String>> =
        set.iter().map(|n| (n.clone(), BTreeSet::new())).collect();
    for name in &set {
        let s = services
            .get(name)
            .ok_or_else(|| format!("service {name:?} does not exist"))?;
        let (after, before) = if stop {
            (&s.before, &s.after)
        } else {
            (&s.after, &s.before)
        };
        for a in after {
            if set.contains(a) {
                successors.get_mut(name).expect("in set").insert(a.clone());
            }
        }
        for b in before {
            if let Some(succ) = successors.get_mut(b) {
                succ.insert(name.clone());
            }
        }
    }
    // Depth-first topological sort in name order; a back edge is a loop.
    let mut out = Vec::new();
    let mut state: BTreeMap<String, u8> = BTreeMap::new(); // 1 = visiting, 2 = done
    fn visit(
        n: &str,
        succ: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        out: &mut Vec<String>,
        stack: &mut Vec<String>,
    ) -> Result<(), String> {
        match state.get(n) {
            Some(2) => return Ok(()),
            Some(1) => {
                let pos = stack.iter().position(|s| s == n).unwrap_or(0);
                let mut cycle: Vec<String> = stack[pos..].to_vec();
                cycle.sort();
                return Err(format!(
                    "services in before/after loop: {}",
                    cycle.join(", ")
                ));
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for s in &succ[n] {
            visit(s, succ, state, out, stack)?;
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        out.push(n.to_string());
        Ok(())
    }
    for n in successors.keys() {
        visit(n, &successors, &mut state, &mut out, &mut Vec::new())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "summary: base\nservices:\n  web:\n    override: replace\n    command: /bin/web --port 80\n    startup: enabled\n    environment:\n      MODE: 0755\n      DEBUG: 'yes'\n    after: [db]\n  db:\n    override: replace\n    command: /bin/db\n";

    #[test]
    fn parses_layer_keeping_literal_scalars() {
        let l = parse_layer("base", BASE).unwrap();
        let web = &l.services["web"];
        assert_eq!(web.environment["MODE"], "0755");
        assert_eq!(web.environment["DEBUG"], "yes");
        assert_eq!(web.after, vec!["db"]);
        assert_eq!(l.summary, "base");
    }

    #[test]
    fn unknown_fields_are_errors_like_yaml_v3() {
        let e = parse_layer(
            "x",
            "services:\n  a:\n    override: replace\n    comand: x\n",
        )
        .unwrap_err();
        assert!(
            e.contains("field comand not found in type plan.Service"),
            "{e}"
        );
        assert!(
            e.starts_with("cannot parse layer \"x\": yaml: unmarshal errors:"),
            "{e}"
        );
    }

    #[test]
    fn merge_and_replace() {
        let plan = Plan::default()
            .add_layer(parse_layer("base", BASE).unwrap(), false)
            .unwrap();
        let over = parse_layer(
            "over",
            "services:\n  web:\n    override: merge\n    environment: {EXTRA: '1'}\n    after: [cache]\n  cache:\n    override: replace\n    command: /bin/cache\n",
        )
        .unwrap();
        let plan = plan.add_layer(over, false).unwrap();
        let web = &plan.services["web"];
        assert_eq!(web.command, "/bin/web --port 80");
        assert_eq!(web.environment.len(), 3);
        assert_eq!(web.after, vec!["db", "cache"]);
        assert_eq!(plan.layers[1].order, 2000);
        // Same label without combine: refused.
        let again = parse_layer("over", "services: {}").unwrap();
        assert_eq!(
            plan.add_layer(again.clone(), false).unwrap_err(),
            "layer \"over\" already exists"
        );
        // With combine: merged into the existing layer.
        let repl = parse_layer(
            "base",
            "services:\n  web:\n    override: replace\n    command: /bin/other\n",
        )
        .unwrap();
        let plan = plan.add_layer(repl, true).unwrap();
        assert_eq!(plan.layers.len(), 2);
        assert_eq!(plan.services["web"].command, "/bin/other");
        // The top layer still merged `after: [cache]` on top of the replaced service.
        assert_eq!(plan.services["web"].after, vec!["cache"]);
    }

    #[test]
    fn validation_messages() {
        let l = parse_layer("l", "services:\n  a:\n    command: x\n").unwrap();
        assert_eq!(
            Plan::default().add_layer(l, false).unwrap_err(),
            "layer \"l\" must define \"override\" for service \"a\""
        );
        let l = parse_layer("l", "services:\n  a:\n    override: merge\n").unwrap();
        assert_eq!(
            Plan::default().add_layer(l, false).unwrap_err(),
            "plan must define \"command\" for service \"a\""
        );
        let e = parse_layer(
            "l",
            "services:\n  a: {override: replace, command: x, after: [b]}\n  b: {override: replace, command: y, after: [a]}\n",
        )
        .unwrap_err();
        assert_eq!(e, "services in before/after loop: a, b");
    }

    #[test]
    fn start_and_stop_order() {
        let l = parse_layer(
            "l",
            "services:\n  a: {override: replace, command: x, requires: [b], after: [b]}\n  b: {override: replace, command: y}\n  c: {override: replace, command: z}\n",
        )
        .unwrap();
        let plan = Plan::default().add_layer(l, false).unwrap();
        assert_eq!(plan.start_order(&["a".into()]).unwrap(), vec!["b", "a"]);
        assert_eq!(plan.stop_order(&["b".into()]).unwrap(), vec!["a", "b"]);
        assert_eq!(
            plan.start_order(&["nope".into()]).unwrap_err(),
            "service \"nope\" does not exist"
        );
    }

    #[test]
    fn plan_yaml_round_trips_through_the_parser() {
        let plan = Plan::default()
            .add_layer(parse_layer("base", BASE).unwrap(), false)
            .unwrap();
        let yaml = plan.to_yaml();
        assert!(!yaml.starts_with("---"), "{yaml}");
        assert!(yaml.contains("\"0755\""), "{yaml}");
        let back = parse_layer("x", &yaml).unwrap();
        assert_eq!(back.services, plan.services);
        assert_eq!(Plan::default().to_yaml(), "{}\n");
    }

    #[test]
    fn commands_split_like_shlex() {
        assert_eq!(
            parse_command("/bin/x 'a b' \"c\\\"d\" [ --e ]").unwrap(),
            vec!["/bin/x", "a b", "c\"d", "--e"]
        );
        assert!(parse_command("x 'oops").is_err());
    }
}
