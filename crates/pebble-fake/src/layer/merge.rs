//! Combining layers into the plan (Pebble's `plan.CombineLayers`): each section's
//! entries merge or replace by their `override:`, then the result is validated and given
//! its defaults.

use super::{
    Check, ExecCheck, HttpCheck, Layer, LogTarget, Service, TcpCheck, order, parse_command,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// What the three sections of a layer (services, checks, log targets) share when layers
/// combine: each entry says how it combines (`override:`) and knows how to merge.
trait Entry: Clone {
    /// The entry's kind as error messages name it.
    const WHAT: &'static str;
    fn override_(&self) -> &str;
    fn merge(&mut self, other: &Self);
}

/// A string field set in the upper layer wins.
fn set(dst: &mut String, src: &String) {
    if !src.is_empty() {
        dst.clone_from(src);
    }
}

/// An optional field set in the upper layer wins.
fn set_some<T: Copy>(dst: &mut Option<T>, src: Option<T>) {
    if src.is_some() {
        *dst = src;
    }
}

impl Entry for Service {
    const WHAT: &'static str = "service";
    fn override_(&self) -> &str {
        &self.override_
    }
    /// `Service.Merge`: fields set in `other` win; lists append; maps merge.
    fn merge(&mut self, other: &Service) {
        set(&mut self.summary, &other.summary);
        set(&mut self.description, &other.description);
        set(&mut self.startup, &other.startup);
        set(&mut self.command, &other.command);
        set_some(&mut self.kill_delay, other.kill_delay);
        set_some(&mut self.user_id, other.user_id);
        set(&mut self.user, &other.user);
        set_some(&mut self.group_id, other.group_id);
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
        set_some(&mut self.backoff_delay, other.backoff_delay);
        set_some(&mut self.backoff_factor, other.backoff_factor);
        set_some(&mut self.backoff_limit, other.backoff_limit);
    }
}

impl Entry for Check {
    const WHAT: &'static str = "check";
    fn override_(&self) -> &str {
        &self.override_
    }
    fn merge(&mut self, other: &Check) {
        set(&mut self.level, &other.level);
        set(&mut self.startup, &other.startup);
        set_some(&mut self.period, other.period);
        set_some(&mut self.timeout, other.timeout);
        if other.threshold != 0 {
            self.threshold = other.threshold;
        }
        if let Some(o) = &other.http {
            let h = self.http.get_or_insert_with(HttpCheck::default);
            set(&mut h.url, &o.url);
            h.headers.extend(o.headers.clone());
        }
        if let Some(o) = &other.tcp {
            let t = self.tcp.get_or_insert_with(TcpCheck::default);
            if o.port != 0 {
                t.port = o.port;
            }
            set(&mut t.host, &o.host);
        }
        if let Some(o) = &other.exec {
            let e = self.exec.get_or_insert_with(ExecCheck::default);
            set(&mut e.command, &o.command);
            set(&mut e.service_context, &o.service_context);
            e.environment.extend(o.environment.clone());
            set_some(&mut e.user_id, o.user_id);
            set(&mut e.user, &o.user);
            set_some(&mut e.group_id, o.group_id);
            set(&mut e.group, &o.group);
            set(&mut e.working_dir, &o.working_dir);
        }
    }
}

impl Entry for LogTarget {
    const WHAT: &'static str = "log target";
    fn override_(&self) -> &str {
        &self.override_
    }
    fn merge(&mut self, other: &LogTarget) {
        set(&mut self.type_, &other.type_);
        set(&mut self.location, &other.location);
        self.services.extend(other.services.iter().cloned());
        self.labels.extend(other.labels.clone());
    }
}

/// One section of one layer combined into the same section below it: `merge` into an
/// existing entry, otherwise (or with `replace`) the entry replaces it.
fn combine_section<T: Entry>(
    into: &mut BTreeMap<String, T>,
    from: &BTreeMap<String, T>,
    label: &str,
) -> Result<(), String> {
    for (name, entry) in from {
        match entry.override_() {
            "merge" if into.contains_key(name) => {
                into.get_mut(name).expect("checked").merge(entry);
            }
            "merge" | "replace" => {
                into.insert(name.clone(), entry.clone());
            }
            "" => {
                return Err(format!(
                    "layer {label:?} must define \"override\" for {} {name:?}",
                    T::WHAT
                ));
            }
            _ => {
                return Err(format!(
                    "layer {label:?} has invalid \"override\" value for {} {name:?}",
                    T::WHAT
                ));
            }
        }
    }
    Ok(())
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
        combine_section(&mut combined.services, &layer.services, &layer.label)?;
        combine_section(&mut combined.checks, &layer.checks, &layer.label)?;
        combine_section(&mut combined.log_targets, &layer.log_targets, &layer.label)?;
    }
    validate_services(&combined.services)?;
    validate_checks(&mut combined.checks, &combined.services)?;
    validate_log_targets(&combined.log_targets, &combined.services)?;
    let names: Vec<String> = combined.services.keys().cloned().collect();
    order(&combined.services, &names, false)?;
    Ok(combined)
}

/// Every service has a command that parses, valid actions and a backoff factor >= 1.
fn validate_services(services: &BTreeMap<String, Service>) -> Result<(), String> {
    for (name, s) in services {
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
    Ok(())
}

/// Every check has a valid level, period and timeout, exactly one kind with its required
/// field, and an existing service context; an unset threshold becomes 3.
fn validate_checks(
    checks: &mut BTreeMap<String, Check>,
    services: &BTreeMap<String, Service>,
) -> Result<(), String> {
    for (name, c) in checks.iter_mut() {
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
            if !e.service_context.is_empty() && !services.contains_key(&e.service_context) {
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
    Ok(())
}

/// Every log target has a supported type, known services and a location.
fn validate_log_targets(
    log_targets: &BTreeMap<String, LogTarget>,
    services: &BTreeMap<String, Service>,
) -> Result<(), String> {
    for (name, t) in log_targets {
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
            if svc != "all" && !services.contains_key(svc) {
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
    Ok(())
}

fn valid_action(a: &str) -> bool {
    matches!(
        a,
        "" | "restart" | "shutdown" | "ignore" | "success-shutdown" | "failure-shutdown"
    )
}
