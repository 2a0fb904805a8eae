//! The lifecycle a corpus explored: which hooks it reached, and which hook followed which.
//!
//! Line coverage says which code of the charm ran; it does not say in which *order* Juju
//! drove the charm, and ordering is what lifecycle bugs are about. A [`LifecycleMap`] is
//! built from the traces of a corpus, as the charm lived them: every hook it received
//! (by full hook name, `db-relation-changed`, and by kind), every transition from one hook
//! to the next inside a story, with how often each occurred and in how many inputs, and the
//! hooks the charm's metadata makes possible that no input reached.
//!
//! It renders as a terminal table ([`LifecycleMap::table`]) and as a Markdown report with a
//! Mermaid diagram ([`LifecycleMap::markdown`]: hooks as nodes, observed transitions as
//! edges labelled with their counts, hooks never reached drawn dashed), which GitHub shows
//! as a picture. Pure: the caller runs the corpus and feeds the traces in.

use crate::engine::{HookKind, Trace};
use crate::spec::{CharmSpec, Role, Substrate};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// The pseudo-hook every story starts from (the unit does not exist yet).
pub const START: &str = "(deploy)";

/// How a corpus met one hook.
#[derive(Debug, Clone, Copy)]
pub struct HookCount {
    pub kind: HookKind,
    /// Times delivered.
    pub events: usize,
    /// Inputs that reached it.
    pub inputs: usize,
    /// Times it failed (exited non-zero).
    pub failed: usize,
}

/// What a corpus reached (see the module docs).
#[derive(Debug, Default, Clone)]
pub struct LifecycleMap {
    /// Inputs added.
    pub inputs: usize,
    /// Hooks delivered, in all.
    pub events: usize,
    /// Per full hook name (`db-relation-changed`).
    pub hooks: BTreeMap<String, HookCount>,
    /// Per transition (from, to): (times, inputs).
    pub transitions: BTreeMap<(String, String), (usize, usize)>,
    /// Every hook the charm's metadata makes possible.
    pub possible: BTreeSet<String>,
}

impl LifecycleMap {
    /// An empty map for a charm: what it could receive, nothing reached yet.
    pub fn new(spec: &CharmSpec) -> LifecycleMap {
        LifecycleMap {
            possible: possible_hooks(spec),
            ..LifecycleMap::default()
        }
    }

    /// Count one input's trace.
    pub fn add(&mut self, trace: &Trace) {
        self.inputs += 1;
        let mut seen_hooks = BTreeSet::new();
        let mut seen_edges = BTreeSet::new();
        let mut prev = START.to_string();
        for e in trace.events() {
            self.events += 1;
            let name = e.hook.clone();
            let h = self.hooks.entry(name.clone()).or_insert(HookCount {
                kind: e.kind,
                events: 0,
                inputs: 0,
                failed: 0,
            });
            h.events += 1;
            h.failed += usize::from(!e.result.is_ok());
            if seen_hooks.insert(name.clone()) {
                h.inputs += 1;
            }
            let edge = (prev, name.clone());
            let t = self.transitions.entry(edge.clone()).or_default();
            t.0 += 1;
            if seen_edges.insert(edge) {
                t.1 += 1;
            }
            prev = name;
        }
    }

    /// Possible hooks no input reached.
    pub fn unreached(&self) -> Vec<&str> {
        self.possible
            .iter()
            .filter(|h| !self.hooks.contains_key(*h))
            .map(String::as_str)
            .collect()
    }

    /// Hook kinds reached, with times delivered.
    pub fn kinds(&self) -> BTreeMap<&'static str, usize> {
        let mut kinds = BTreeMap::new();
        for h in self.hooks.values() {
            *kinds.entry(h.kind.as_str()).or_default() += h.events;
        }
        kinds
    }

    /// The terminal summary: hooks with counts, the most frequent transitions, and what
    /// was never reached.
    pub fn table(&self, top_transitions: usize) -> String {
        let mut out = String::new();
        let reached = self.possible.len() - self.unreached().len();
        let _ = writeln!(
            out,
            "{} inputs, {} hooks delivered; {} of {} possible hooks reached, {} distinct transitions",
            self.inputs,
            self.events,
            reached,
            self.possible.len(),
            self.transitions.len()
        );
        let width = self.hooks.keys().map(String::len).max().unwrap_or(4).max(4);
        let _ = writeln!(
            out,
            "\n{:width$}  {:>7}  {:>6}  {:>6}",
            "hook", "events", "inputs", "failed"
        );
        for (name, h) in &self.hooks {
            let (n, inputs, failed) = (h.events, h.inputs, h.failed);
            let _ = writeln!(out, "{name:width$}  {n:>7}  {inputs:>6}  {failed:>6}");
        }
        let mut edges: Vec<_> = self.transitions.iter().collect();
        edges.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
        let _ = writeln!(
            out,
            "\nmost frequent transitions ({} of {}):",
            top_transitions.min(edges.len()),
            edges.len()
        );
        for ((from, to), (n, inputs)) in edges.into_iter().take(top_transitions) {
            let times = if *n == 1 { "time" } else { "times" };
            let _ = writeln!(out, "  {from} → {to}: {n} {times}, in {inputs} input(s)");
        }
        let unreached = self.unreached();
        if unreached.is_empty() {
            let _ = writeln!(out, "\nevery possible hook was reached");
        } else {
            let _ = writeln!(out, "\nnever reached ({}):", unreached.len());
            for h in unreached {
                let _ = writeln!(out, "  {h}");
            }
        }
        out
    }

    /// A Markdown report with the Mermaid picture of the explored lifecycle.
    pub fn markdown(&self, charm: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Lifecycle explored: {charm}\n");
        let _ = writeln!(
            out,
            "{} inputs, {} hooks delivered. Nodes are hooks, edges are observed transitions \
             (one hook delivered right after another in a story), labelled with how often \
             they occurred. Dashed nodes are hooks the charm's metadata makes possible that \
             no input reached; red nodes are hooks that failed at least once.\n",
            self.inputs, self.events
        );
        out.push_str("```mermaid\nflowchart LR\n");
        let mut ids = BTreeMap::new();
        let node = |name: &str, ids: &mut BTreeMap<String, String>| -> String {
            let next = format!("h{}", ids.len());
            ids.entry(name.to_string()).or_insert(next).clone()
        };
        let start = node(START, &mut ids);
        let _ = writeln!(out, "    {start}([\"{START}\"])");
        for name in self.hooks.keys() {
            let id = node(name, &mut ids);
            let _ = writeln!(out, "    {id}[\"{name}\"]");
        }
        for name in self.unreached() {
            let id = node(name, &mut ids);
            let _ = writeln!(out, "    {id}[\"{name}\"]:::unreached");
        }
        for ((from, to), (n, _)) in &self.transitions {
            let (a, b) = (node(from, &mut ids), node(to, &mut ids));
            let _ = writeln!(out, "    {a} -->|{n}| {b}");
        }
        for (name, _) in self.hooks.iter().filter(|(_, h)| h.failed > 0) {
            let _ = writeln!(out, "    class {} failed", node(name, &mut ids));
        }
        out.push_str("    classDef unreached stroke-dasharray: 5 5,color:#888\n");
        out.push_str("    classDef failed fill:#fdd,stroke:#c00\n");
        out.push_str("```\n\n");
        out.push_str("| hook | events | inputs | failed |\n|---|---:|---:|---:|\n");
        for (name, h) in &self.hooks {
            let (n, inputs, failed) = (h.events, h.inputs, h.failed);
            let _ = writeln!(out, "| `{name}` | {n} | {inputs} | {failed} |");
        }
        let unreached = self.unreached();
        if !unreached.is_empty() {
            let _ = writeln!(out, "\nNever reached: {}.", {
                let v: Vec<String> = unreached.iter().map(|h| format!("`{h}`")).collect();
                v.join(", ")
            });
        }
        out
    }
}

/// Every hook Juju can deliver to this charm, by full name (juju-model.md §L1: hooks per endpoint,
/// storage, container and action; series upgrades on machines only; collect-metrics only
/// with metrics declared).
pub fn possible_hooks(spec: &CharmSpec) -> BTreeSet<String> {
    let mut v = BTreeSet::new();
    for k in HookKind::ALL {
        let name = match k {
            HookKind::PreSeriesUpgrade | HookKind::PostSeriesUpgrade => {
                if spec.substrate != Substrate::Machine {
                    continue;
                }
                k.as_str().to_string()
            }
            HookKind::CollectMetrics if !spec.has_metrics => continue,
            k if k.is_relation() => {
                // A peer relation is never broken (§L2.15.5): it ends with the application.
                for e in &spec.endpoints {
                    if !(k == HookKind::RelationBroken && e.role == Role::Peer) {
                        v.insert(k.hook_name(Some(&e.name)));
                    }
                }
                continue;
            }
            k if k.is_storage() => {
                for s in &spec.storage {
                    v.insert(k.hook_name(Some(&s.name)));
                }
                continue;
            }
            k if k.is_workload() => {
                for c in &spec.containers {
                    v.insert(k.hook_name(Some(&c.name)));
                }
                continue;
            }
            HookKind::Action => {
                for a in &spec.actions {
                    v.insert(k.hook_name(Some(&a.name)));
                }
                continue;
            }
            k => k.as_str().to_string(),
        };
        v.insert(name);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm::Charm;
    use crate::engine::seed_bytes;
    use std::path::Path;

    fn demo() -> Charm {
        Charm::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/charms/demo-k8s"))
            .unwrap()
    }

    #[test]
    fn possible_hooks_follow_the_metadata() {
        let charm = demo();
        let p = possible_hooks(&charm.spec);
        assert!(p.contains("install") && p.contains("db-relation-broken"));
        assert!(p.contains("web-pebble-ready") && p.contains("data-storage-detaching"));
        assert!(!p.contains("pre-series-upgrade"), "a Kubernetes charm");
        assert!(!p.contains("collect-metrics"));
    }

    #[test]
    fn counts_hooks_transitions_and_what_was_never_reached() {
        let charm = demo();
        let mut map = LifecycleMap::new(&charm.spec);
        for seed in 0..20 {
            let bytes = seed_bytes(seed, 200);
            let mut d = charm.decoder(&bytes, Some(20));
            d.simulate();
            map.add(&d.into_trace());
        }
        assert_eq!(map.inputs, 20);
        let install = map.hooks["install"];
        assert_eq!(
            (install.events, install.inputs),
            (20, 20),
            "every story installs, once"
        );
        assert_eq!(
            map.transitions[&(START.to_string(), "install".to_string())].0,
            20
        );
        let total: usize = map.hooks.values().map(|h| h.events).sum();
        assert_eq!(total, map.events);
        let edges: usize = map.transitions.values().map(|t| t.0).sum();
        assert_eq!(edges, map.events, "one incoming edge per delivered hook");
        assert!(map.unreached().iter().all(|h| !map.hooks.contains_key(*h)));
        assert_eq!(map.kinds()["install"], 20);
        let md = map.markdown("demo");
        assert!(md.contains("```mermaid\nflowchart LR\n"));
        assert!(md.contains("-->|20| "), "deploy → install, 20 times");
        for h in map.unreached() {
            assert!(md.contains(&format!("[\"{h}\"]:::unreached")));
        }
    }

    #[test]
    fn hook_kinds_come_from_the_events() {
        let charm = demo();
        let mut map = LifecycleMap::new(&charm.spec);
        for seed in 0..20 {
            let bytes = seed_bytes(seed, 200);
            map.add(&charm.decoder(&bytes, Some(20)).run_to_end());
        }
        let kinds = map.kinds();
        let by_name = |suffix: &str| -> usize {
            map.hooks
                .iter()
                .filter(|(n, _)| n.ends_with(suffix))
                .map(|(_, h)| h.events)
                .sum()
        };
        assert_eq!(kinds["relation-created"], by_name("-relation-created"));
        assert_eq!(kinds["pebble-ready"], by_name("-pebble-ready"));
        assert_eq!(kinds.values().sum::<usize>(), map.events);
    }
}
