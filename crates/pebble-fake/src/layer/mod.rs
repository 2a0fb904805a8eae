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
//!
//! Layout: the types and the plan are here; `parse` decodes a layer's YAML (and splits
//! command lines), `merge` combines layers into the plan and validates it, `order` sorts
//! services for starting and stopping, and `yaml` emits the plan.

mod merge;
mod order;
mod parse;
mod yaml;

pub use merge::combine_layers;
pub use parse::{parse_command, parse_layer};

use order::order;
use std::collections::BTreeMap;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const BASE: &str = "summary: base\nservices:\n  web:\n    override: replace\n    command: /bin/web --port 80\n    startup: enabled\n    environment:\n      MODE: 0755\n      DEBUG: 'yes'\n    after: [db]\n  db:\n    override: replace\n    command: /bin/db\n";

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
}
