//! Generators for `juju run`: which action, which parameters, and their values.
//!
//! Values come from the parameter's `enum`, or values of its type that tend to matter
//! (bounds and their neighbours, words), and its default; only values inside the schema's
//! bounds, since Juju refuses to run an action with invalid parameters.

use super::{Driver, EncodeError, Tape};
use crate::engine::action::Action;
use crate::spec::{ActionParam, ParamType};
use serde_json::{Map, Value, json};

impl<T: Tape> Driver<'_, T> {
    pub(super) fn gen_run_action(
        &mut self,
        target: Option<&Action>,
    ) -> Result<Action, EncodeError> {
        use Action as A;
        let w = &self.world;
        let names: Vec<String> = w.spec().actions.iter().map(|a| a.name.clone()).collect();
        let (want_n, want_p) = match target {
            Some(A::RunAction { name, params, .. }) => (Some(name), Some(params)),
            _ => (None, None),
        };
        let name = names[self.pick("action", &names, want_n)?].clone();
        let spec = self.world.spec().action(&name).unwrap().clone();
        if let Some(wp) = want_p {
            if let Some(extra) = wp
                .keys()
                .find(|k| !spec.params.iter().any(|p| &p.name == *k))
            {
                return Err(self.err("action parameter", extra));
            }
        }
        let mut params = Map::new();
        for p in &spec.params {
            let required = spec.required.contains(&p.name);
            let include = required
                || self.pick_bool(
                    &format!("give {}", p.name),
                    want_p.map(|wp| wp.contains_key(&p.name)),
                )?;
            if include {
                let v = self.param_value(p, want_p.and_then(|wp| wp.get(&p.name)))?;
                params.insert(p.name.clone(), v);
            }
        }
        Ok(A::RunAction {
            name,
            id: self.world.next_action_id(),
            params,
        })
    }

    fn param_value(&mut self, p: &ActionParam, want: Option<&Value>) -> Result<Value, EncodeError> {
        let mut choices: Vec<Value> = Vec::new();
        if let Some(allowed) = &p.allowed {
            choices.extend(allowed.iter().cloned());
        } else {
            match p.ty {
                ParamType::String => {
                    choices.push(json!(""));
                    choices.extend(self.vocab.words.iter().take(32).map(|w| json!(w)));
                }
                ParamType::Integer => {
                    for v in [0i64, 1, -1, 100, i32::MAX as i64] {
                        choices.push(json!(v));
                    }
                    for b in [p.minimum, p.maximum].into_iter().flatten() {
                        choices.push(json!(b as i64));
                        choices.push(json!(b as i64 + 1));
                        choices.push(json!(b as i64 - 1));
                    }
                }
                ParamType::Number => {
                    for v in [0.0f64, 1.5, -1.0, 1e6] {
                        choices.push(json!(v));
                    }
                    for b in [p.minimum, p.maximum].into_iter().flatten() {
                        choices.push(json!(b));
                    }
                }
                ParamType::Boolean => choices.extend([json!(true), json!(false)]),
                ParamType::Array => choices.extend([json!([]), json!(["a"]), json!(["a", "b"])]),
                ParamType::Object => choices.extend([json!({}), json!({"key": "value"})]),
                ParamType::Any => choices.extend([json!("x"), json!(1), json!(true), json!(null)]),
            }
        }
        if let Some(d) = &p.default {
            choices.push(d.clone());
        }
        let mut seen = Vec::new();
        choices.retain(|c| {
            let new = !seen.contains(c);
            seen.push(c.clone());
            new
        });
        // Juju checks parameters against the action's JSON schema and refuses to run an
        // action with invalid ones (`juju run` fails; no hook runs), so only valid values
        // reach the charm.
        choices.retain(|c| param_in_schema(p, c));
        if choices.is_empty() {
            let bound = p.minimum.or(p.maximum).unwrap_or(0.0);
            choices.push(match p.ty {
                ParamType::Integer => json!(bound.ceil() as i64),
                ParamType::Number => json!(bound),
                _ => json!("x".repeat(p.min_length.unwrap_or(0) as usize)),
            });
        }
        let i = self.pick(&format!("parameter {}", p.name), &choices, want)?;
        Ok(choices[i].clone())
    }
}

/// Whether `v` satisfies the bounds of `p`'s schema (`minimum`/`maximum`,
/// `minLength`/`maxLength`).
fn param_in_schema(p: &ActionParam, v: &Value) -> bool {
    if let Some(x) = v.as_f64() {
        if p.minimum.is_some_and(|m| x < m) || p.maximum.is_some_and(|m| x > m) {
            return false;
        }
    }
    if let Some(s) = v.as_str() {
        let n = s.chars().count() as u64;
        if p.min_length.is_some_and(|m| n < m) || p.max_length.is_some_and(|m| n > m) {
            return false;
        }
    }
    true
}
