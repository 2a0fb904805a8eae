//! Generators for config, trust and address changes: which options change, and to what.
//!
//! A value is drawn from the option's samples (fuzzing config), values of its type that
//! tend to matter (bounds, the default's neighbours, words), the default, a reset, or a
//! literal; only values that fit the option's type, as `juju config` checks.

use super::args::{printable, printable_string};
use super::{Driver, EncodeError, Tape};
use crate::engine::action::{Action, ActionKind};
use crate::engine::world::config_value_fits;
use crate::spec::ConfigType;
use serde_json::{Value, json};
use std::collections::BTreeMap;

impl<T: Tape> Driver<'_, T> {
    pub(super) fn gen_config(
        &mut self,
        kind: ActionKind,
        target: Option<&Action>,
    ) -> Result<Action, EncodeError> {
        use Action as A;
        use ActionKind as K;
        let w = &self.world;
        Ok(match kind {
            K::Config => {
                let want = match target {
                    Some(A::Config { changes }) => Some(changes),
                    _ => None,
                };
                let names: Vec<String> = w
                    .changeable_options()
                    .iter()
                    .map(|o| o.name.clone())
                    .collect();
                let max = names.len().clamp(1, 3) as u32;
                let n =
                    self.pick_count("number of options", 1, max, want.map(|c| c.len() as u32))?;
                let wanted: Option<Vec<(&String, &Value)>> = want.map(|c| c.iter().collect());
                let mut changes = BTreeMap::new();
                for i in 0..n as usize {
                    let wn = wanted.as_ref().map(|v| v[i].0);
                    let oi = self.pick("config option", &names, wn)?;
                    let name = names[oi].clone();
                    let ty = self
                        .world
                        .spec()
                        .config_option(&name)
                        .map(|o| o.ty)
                        .unwrap_or(ConfigType::String);
                    let v = self.config_value(&name, ty, wanted.as_ref().map(|v| v[i].1))?;
                    changes.insert(name, v);
                }
                A::Config { changes }
            }
            K::Trust => {
                let cur = w.trusted;
                let want = match target {
                    Some(A::Trust { trusted }) => Some(*trusted != cur),
                    _ => None,
                };
                let flip = self.pick_bool("trust", want.map(|f| !f))?;
                A::Trust {
                    trusted: if flip { cur } else { !cur },
                }
            }
            K::AddressChange => A::AddressChange,
            _ => unreachable!("{kind} is not a config action"),
        })
    }

    fn config_value(
        &mut self,
        name: &str,
        ty: ConfigType,
        want: Option<&Value>,
    ) -> Result<Value, EncodeError> {
        let opt_default = self
            .world
            .spec()
            .config_option(name)
            .and_then(|o| o.default.clone());
        let samples = self
            .vocab
            .config_samples
            .get(name)
            .cloned()
            .unwrap_or_default();
        let mut choices: Vec<Value> = Vec::new();
        let mut add = |v: Value| {
            if !choices.contains(&v) && config_value_fits(ty, &v) {
                choices.push(v);
            }
        };
        for s in samples {
            add(s);
        }
        match ty {
            ConfigType::Boolean => {
                add(json!(true));
                add(json!(false));
            }
            ConfigType::Int => {
                if let Some(d) = opt_default.as_ref().and_then(Value::as_i64) {
                    add(json!(d + 1));
                    add(json!(d - 1));
                }
                for v in [
                    0i64,
                    1,
                    -1,
                    80,
                    443,
                    65535,
                    65536,
                    i32::MAX as i64,
                    i32::MIN as i64,
                ] {
                    add(json!(v));
                }
            }
            ConfigType::Float => {
                for v in [0.0f64, 1.0, -1.0, 0.5, 1e9, -1e-9] {
                    add(json!(v));
                }
            }
            ConfigType::String => {
                add(json!(""));
                for w in self.vocab.words.iter().take(64) {
                    add(json!(w));
                }
            }
            ConfigType::Secret => {
                for s in self.world.user_secrets() {
                    add(json!(s.id));
                }
            }
        }
        if let Some(d) = opt_default {
            add(d);
        }
        // The last option: reset to the default (`juju config --reset`).
        let reset = Value::Null;
        let mut opts = choices.clone();
        opts.push(reset);
        let literal_ok = matches!(ty, ConfigType::String | ConfigType::Int);
        let want_idx = match want {
            None => None,
            Some(w) => match opts.iter().position(|o| o == w) {
                Some(i) => Some(i),
                None if literal_ok => Some(opts.len()),
                None => return Err(self.err(&format!("config value for {name}"), w)),
            },
        };
        let n = opts.len() + usize::from(literal_ok);
        let i = self
            .tape
            .choose(&vec![1; n], want_idx, false)
            .map_err(|_| self.err("config value", want))?;
        if i < opts.len() {
            return Ok(opts[i].clone());
        }
        // A literal: a string of up to 255 bytes, or an i64 carried as its decimal text.
        let want_text = want.map(|w| match w {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        if want_text
            .as_ref()
            .is_some_and(|w| !w.bytes().all(printable))
        {
            let what = "config literal (only printable ASCII can be encoded)";
            return Err(self.err(what, want));
        }
        let bytes = self
            .tape
            .literal(want_text.as_deref().map(str::as_bytes))
            .map_err(|e| self.err("config literal", e))?;
        let text = printable_string(&bytes);
        let v = match ty {
            ConfigType::Int => json!(text.trim().parse::<i64>().unwrap_or(0)),
            _ => json!(text),
        };
        if want.is_some_and(|w| *w != v) {
            return Err(self.err("config literal", want));
        }
        Ok(v)
    }
}
