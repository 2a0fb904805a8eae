//! A charm's action space, seen without running the charm.
//!
//! Juju does things to a unit (a user integrates a relation, a pod is recreated, a Pebble
//! check fails) and each such *action* makes the agent deliver hooks. Which kinds of action
//! can ever happen depends on the charm's metadata (its endpoints, storage, containers,
//! substrate) and on the fuzzing config (the Juju version, the §L8 switches); how often the
//! decoder picks each depends on its weights. This module answers both questions for
//! `charmfuzz spec` and `charmfuzz stats`:
//!
//! - [`action_possible`]: whether a kind can ever happen to the charm, statically;
//! - [`decode_stats`]: the actions and hooks many random inputs decode to, and how many of
//!   those stories the validator rejects (an engine bug if any).

use crate::charm::Charm;
use crate::engine::{self, ActionKind, HookKind, seed_bytes};
use crate::spec::{Role, Substrate};
use std::collections::BTreeMap;

/// What many random inputs decoded to (see [`decode_stats`]).
#[derive(Debug, Default, Clone)]
pub struct DecodeStats {
    /// Actions of each kind over all the stories.
    pub actions: BTreeMap<ActionKind, u64>,
    /// Hooks of each kind over all the stories.
    pub hooks: BTreeMap<HookKind, u64>,
    /// Stories the validator rejected (should be 0).
    pub invalid: u64,
    /// The first few rejected stories: the input's seed and the first violation.
    pub first_invalid: Vec<(u64, String)>,
}

/// Rejected stories [`DecodeStats::first_invalid`] keeps.
const INVALID_EXAMPLES: usize = 5;

/// Count action and hook kinds over many random inputs, and invalid traces (should be 0).
/// Input `seed` is [`seed_bytes`]`(seed, len)`, for every seed below `inputs`; each story
/// is told with every hook succeeding (no charm runs).
pub fn decode_stats(charm: &Charm, inputs: u64, len: usize) -> DecodeStats {
    let mut stats = DecodeStats::default();
    for seed in 0..inputs {
        let trace = charm.decoder(&seed_bytes(seed, len), None).run_to_end();
        if let Err(v) = engine::validate(&trace, &charm.spec) {
            stats.invalid += 1;
            if stats.first_invalid.len() < INVALID_EXAMPLES {
                stats.first_invalid.push((seed, v[0].to_string()));
            }
        }
        for step in &trace.steps {
            *stats.actions.entry(step.action.kind()).or_insert(0) += 1;
            for e in &step.events {
                *stats.hooks.entry(e.kind).or_insert(0) += 1;
            }
        }
    }
    stats
}

/// Whether an action kind can ever happen to this charm (statically).
///
/// The static twin of [`engine::World::enabled`], which says whether a kind is possible
/// *now*, in one state of one story: this keeps only the conditions that do not change as
/// a story goes on (substrate, metadata, Juju version, config switches). A kind enabled
/// in some state is possible here (the tests below walk random stories to check it); the
/// converse is not promised (a charm whose only options are secrets can have none of them
/// changed before Juju 3.4, say).
pub fn action_possible(charm: &Charm, k: ActionKind) -> bool {
    let s = &charm.spec;
    let k8s = s.substrate == Substrate::Kubernetes;
    let v = charm.config.engine.juju_version;
    use ActionKind as K;
    match k {
        K::Integrate
        | K::RemoveRelation
        | K::SuspendRelation
        | K::ResumeRelation
        | K::RemoteUnitAdded
        | K::RemoteUnitRemoved
        | K::RemoteAppData => s.endpoints.iter().any(|e| e.role != Role::Peer),
        K::RemoteUnitData => !s.endpoints.is_empty(),
        K::Config => !s.config.is_empty(),
        K::WorkloadStarted | K::WorkloadStopped => k8s && !s.containers.is_empty(),
        K::CustomNotice => k8s && !s.containers.is_empty() && v.has_custom_notices(),
        K::CheckFailed | K::CheckRecovered => {
            k8s && !s.containers.is_empty() && v.has_check_events()
        }
        K::ServiceExited | K::WorkloadFault => {
            k8s && !s.containers.is_empty() && charm.config.engine.workload_faults
        }
        K::SnapRefreshFails
        | K::SnapRefreshHeld
        | K::InstallFails
        | K::HostServiceFailed
        | K::HostDiskFull
        | K::HostRecovered => !k8s && charm.config.engine.workload_faults,
        K::RunAction => !s.actions.is_empty(),
        K::PodRecreated | K::CharmContainerRestarted => k8s,
        K::MachineRebooted | K::SeriesUpgradePrepare | K::SeriesUpgradeComplete => !k8s,
        K::CollectMetricsTimer => !k8s && s.has_metrics && v.has_collect_metrics(),
        K::ForceRemoveUnit => charm.config.engine.forced_removal,
        K::StorageAdded | K::StorageDetached => s
            .storage
            .iter()
            .any(|st| st.multiple.max.is_none_or(|m| m > st.multiple.min)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::HookResult;
    use std::path::Path;

    fn load(dir: &str) -> Charm {
        Charm::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)).unwrap()
    }

    const CHARMS: [&str; 4] = [
        "examples/charms/demo-k8s",
        "examples/charms/demo-machine",
        "tests/fixtures/charms/kitchen-sink",
        "tests/fixtures/charms/kitchen-sink-machine",
    ];

    /// Every kind [`engine::World::enabled`] allows in some state of a random story is
    /// one [`action_possible`] calls possible: the static twin never says "no" wrongly.
    #[test]
    fn what_a_world_enables_is_statically_possible() {
        for dir in CHARMS {
            let charm = load(dir);
            for seed in 0..150 {
                let bytes = seed_bytes(seed, 400);
                let mut d = charm.decoder(&bytes, None);
                // Between events, where the decoder chooses actions (while an event is in
                // flight, nothing is enabled).
                loop {
                    for k in ActionKind::ALL {
                        assert!(
                            !d.world().enabled(k) || action_possible(&charm, k),
                            "{dir}, seed {seed}: {} enabled but not possible",
                            k.as_str()
                        );
                    }
                    let Ok(Some(_)) = d.next_event() else { break };
                    d.complete(HookResult::Ok, Vec::new()).unwrap();
                }
            }
        }
    }

    #[test]
    fn random_inputs_decode_to_valid_stories_of_possible_kinds() {
        for dir in CHARMS {
            let charm = load(dir);
            let stats = decode_stats(&charm, 200, 300);
            assert_eq!(stats.invalid, 0, "{dir}: {:?}", stats.first_invalid);
            assert!(stats.actions.contains_key(&ActionKind::Deploy), "{dir}");
            for k in stats.actions.keys() {
                assert!(action_possible(&charm, *k), "{dir}: {}", k.as_str());
            }
        }
    }

    #[test]
    fn the_substrate_decides_the_machine_and_pod_kinds() {
        let k8s = load("examples/charms/demo-k8s");
        let machine = load("examples/charms/demo-machine");
        assert!(action_possible(&k8s, ActionKind::PodRecreated));
        assert!(!action_possible(&k8s, ActionKind::MachineRebooted));
        assert!(action_possible(&machine, ActionKind::MachineRebooted));
        assert!(!action_possible(&machine, ActionKind::PodRecreated));
        assert!(!action_possible(&machine, ActionKind::WorkloadStarted));
    }
}
