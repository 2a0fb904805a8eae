//! The plan emitted as YAML (`GET /v1/plan?format=yaml`) with `saphyr`: the text differs
//! from Go's yaml.v3 (indentation, quoting), the values loaded back are the same.

use super::{Check, LogTarget, Plan, Service};
use crate::gotime::format_duration;
use saphyr::{Scalar, YamlEmitter};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

impl Plan {
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
