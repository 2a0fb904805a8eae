//! Start and stop order: Pebble's `order()` over `requires`, `before` and `after`.

use super::Service;
use std::collections::{BTreeMap, BTreeSet};

/// Pebble's `order()`: the services involved in starting (or stopping) `names`, sorted so
/// that each comes after what it must follow.
pub(super) fn order(
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
