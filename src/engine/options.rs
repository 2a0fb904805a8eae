//! Switches for the points where Juju's behaviour is version dependent or not settled.
//!
//! `docs/juju-model.md` §L8 lists orderings on which Juju's code, its docs and observed
//! logs disagree. The engine follows the code by default and lets each open point be
//! widened, so a charm can be fuzzed against both readings. The Juju version gates hook
//! kinds that newer agents added (custom notices from 3.4, check events from 3.6).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A Juju agent version, as put in `JUJU_VERSION` (e.g. `3.6.4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JujuVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl JujuVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        JujuVersion {
            major,
            minor,
            patch,
        }
    }
    /// The oldest agent the engine models.
    pub const MIN: JujuVersion = JujuVersion::new(3, 1, 0);
    /// The newest agent the engine models (the last 3.x LTS line).
    pub const MAX: JujuVersion = JujuVersion::new(3, 6, 99);
    /// `<container>-pebble-custom-notice` exists from Juju 3.4.
    pub fn has_custom_notices(self) -> bool {
        self >= JujuVersion::new(3, 4, 0)
    }
    /// `<container>-pebble-check-failed` / `-recovered` exist from Juju 3.6.
    pub fn has_check_events(self) -> bool {
        self >= JujuVersion::new(3, 6, 0)
    }
    /// `secret`-typed config options (user secrets) exist from Juju 3.4.
    pub fn has_secret_config(self) -> bool {
        self >= JujuVersion::new(3, 4, 0)
    }
    /// `collect-metrics` was dropped in Juju 3.6.11 (juju-model.md §L6).
    pub fn has_collect_metrics(self) -> bool {
        self < JujuVersion::new(3, 6, 11)
    }
}

impl Default for JujuVersion {
    fn default() -> Self {
        JujuVersion::new(3, 6, 4)
    }
}

impl fmt::Display for JujuVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Juju version {0:?}: expected MAJOR.MINOR[.PATCH] between 3.1 and 3.6")]
pub struct JujuVersionError(pub String);

impl FromStr for JujuVersion {
    type Err = JujuVersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || JujuVersionError(s.to_string());
        let mut parts = s.trim().split('.');
        let major = parts.next().and_then(|p| p.parse().ok()).ok_or_else(err)?;
        let minor = parts.next().and_then(|p| p.parse().ok()).ok_or_else(err)?;
        let patch = match parts.next() {
            None => 0,
            Some(p) => p.parse().map_err(|_| err())?,
        };
        if parts.next().is_some() {
            return Err(err());
        }
        let v = JujuVersion::new(major, minor, patch);
        if v < JujuVersion::MIN || v > JujuVersion::MAX {
            return Err(err());
        }
        Ok(v)
    }
}

impl Serialize for JujuVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for JujuVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Engine switches. Every field defaults to what Juju's code does (juju-model.md §L8); turning one
/// on widens the set of orderings the engine may produce to include what the docs allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct EngineOptions {
    pub juju_version: JujuVersion,
    /// §L8.1: during teardown, let the relation block run before `storage-detaching`
    /// (Juju's code and OPS708 put storage first; the docs disagree).
    pub teardown_relations_before_storage: bool,
    /// §L8.3: on Kubernetes, hold `storage-attached` until after the first `start` (the
    /// docs' reading). Off: any idle point after `install` (the code and MONGO106).
    pub k8s_storage_after_start: bool,
    /// §L8.4: after K8s pod churn, allow `leader-settings-changed` before `start` (docs)
    /// as well as after it (code).
    pub lsc_before_start_after_churn: bool,
    /// §L8.5: an ex-leader receives `leader-settings-changed` when it loses leadership (docs).
    pub lsc_on_leadership_loss: bool,
    /// §L8.8: non-leader units of the owning application are ordinary consumers of an
    /// app-owned secret and get `secret-changed` (J-PR16997). Scenario rejects it.
    pub secret_changed_for_owner_app_peers: bool,
    /// §L2.3: the rare race where a relation dies before `relation-created` ran, giving
    /// `relation-broken` without `relation-created`. Off by default (spec: [L]).
    pub broken_without_created: bool,
    /// §L2.14: allow `juju resolved --no-retry`, which skips a failed hook as if it ran.
    pub resolved_no_retry: bool,
    /// §L2.12: `--force` removal may skip the whole teardown; when on, the removal actions
    /// may end the unit without teardown hooks.
    pub forced_removal: bool,
    /// The workload misbehaves. On Kubernetes: services the charm started exit, its
    /// programs fail, its API errs or hangs, its disk fills ([`super::Action::ServiceExited`],
    /// [`super::Action::WorkloadFault`]). On a machine: the snap store fails or holds a
    /// refresh, installs fail, a service dies, the disk fills
    /// ([`super::Action::SnapRefreshFails`] and the other host actions).
    pub workload_faults: bool,
    /// End every decoded trace with a teardown (`remove-unit`) when the bytes run out, so
    /// traces are complete lifecycles.
    pub teardown_at_end: bool,
    /// How many units of this application can exist at once (this unit and its peers).
    pub max_peers: u32,
    /// How many units a remote application may have at once.
    pub max_remote_units: u32,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            juju_version: JujuVersion::default(),
            teardown_relations_before_storage: false,
            k8s_storage_after_start: false,
            lsc_before_start_after_churn: false,
            lsc_on_leadership_loss: false,
            secret_changed_for_owner_app_peers: false,
            broken_without_created: false,
            resolved_no_retry: true,
            forced_removal: false,
            workload_faults: true,
            teardown_at_end: false,
            max_peers: 3,
            max_remote_units: 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(
            "3.6".parse::<JujuVersion>().unwrap(),
            JujuVersion::new(3, 6, 0)
        );
        assert_eq!(
            "3.4.2".parse::<JujuVersion>().unwrap(),
            JujuVersion::new(3, 4, 2)
        );
        assert!("2.9.0".parse::<JujuVersion>().is_err());
        assert!("4.0".parse::<JujuVersion>().is_err());
        assert!("3.x".parse::<JujuVersion>().is_err());
        assert!(JujuVersion::new(3, 4, 0).has_custom_notices());
        assert!(!JujuVersion::new(3, 3, 9).has_custom_notices());
        assert!(JujuVersion::new(3, 6, 0).has_check_events());
        assert!(!JujuVersion::new(3, 5, 9).has_check_events());
    }
}
