//! Config, trust and address: what `config-changed` tells the charm about.
//!
//! `juju config` sets or resets the application's options, `juju trust` grants or revokes
//! access to the cloud's credentials, and the unit's network address can change under it.
//! The agent runs `config-changed` whenever any of the three differs from what the last
//! `config-changed` saw (juju-model.md §L2.0, nextOp), and queues `start` after the first one.

use super::{Hook, NotApplicable, World};
use crate::engine::action::{Action, ActionKind};
use serde_json::Value;
use std::collections::BTreeMap;

impl World {
    /// The config as `config-get` returns it: charm defaults overlaid by the user's values.
    pub fn effective_config(&self) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for opt in &self.spec.config {
            if let Some(d) = &opt.default {
                out.insert(opt.name.clone(), d.clone());
            }
        }
        for (k, v) in &self.config {
            if v.is_null() {
                out.remove(k);
                if let Some(d) = self.spec.config_option(k).and_then(|o| o.default.clone()) {
                    out.insert(k.clone(), d);
                }
            } else {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }
    pub(super) fn config_dirty(&self) -> bool {
        match &self.config_seen {
            None => true,
            Some((c, t, a)) => {
                *c != self.effective_config() || *t != self.trusted || *a != self.address_version
            }
        }
    }

    /// Config options the user can change now (secret options need a user secret to point at).
    pub fn changeable_options(&self) -> Vec<&crate::spec::ConfigOption> {
        let has_user_secret = self.user_secrets().next().is_some();
        self.spec
            .config
            .iter()
            .filter(|o| match o.ty {
                crate::spec::ConfigType::Secret => {
                    self.opts.juju_version.has_secret_config() && has_user_secret
                }
                _ => true,
            })
            .collect()
    }

    pub(super) fn config_enabled(&self, kind: ActionKind, alive: bool) -> bool {
        use ActionKind as K;
        match kind {
            K::Config => alive && !self.changeable_options().is_empty(),
            K::Trust | K::AddressChange => alive,
            _ => unreachable!("{kind} is not a config action"),
        }
    }

    pub(super) fn apply_config(
        &mut self,
        action: &Action,
        na: impl Fn(&str) -> NotApplicable,
    ) -> Result<(), NotApplicable> {
        use Action as A;
        match action {
            A::Config { changes } => {
                if changes.is_empty() {
                    return Err(na("no option changed"));
                }
                for (k, v) in changes {
                    let opt = self
                        .spec
                        .config_option(k)
                        .ok_or_else(|| na("unknown config option"))?;
                    if !v.is_null() && !config_value_fits(opt.ty, v) {
                        return Err(na("value does not fit the option's type"));
                    }
                }
                for (k, v) in changes {
                    self.config.insert(k.clone(), v.clone());
                }
            }
            A::Trust { trusted } => self.trusted = *trusted,
            A::AddressChange => self.address_version += 1,
            _ => unreachable!("{} is not a config action", action.kind()),
        }
        Ok(())
    }

    /// `config-changed` saw the config, trust and address as they are now.
    pub(super) fn commit_config_changed(&mut self) {
        self.config_seen = Some((self.effective_config(), self.trusted, self.address_version));
        if !self.started {
            self.queued = Some(Hook::Start);
        }
    }
}

/// Whether a JSON value fits a config option's type (as Juju validates `juju config`).
pub fn config_value_fits(ty: crate::spec::ConfigType, v: &Value) -> bool {
    use crate::spec::ConfigType as T;
    match ty {
        T::String => v.is_string(),
        T::Int => v.is_i64() || v.is_u64(),
        T::Float => v.is_number(),
        T::Boolean => v.is_boolean(),
        T::Secret => v.as_str().is_some_and(|s| s.starts_with("secret:")),
    }
}
