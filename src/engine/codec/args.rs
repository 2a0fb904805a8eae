//! The argument primitives: how a generator draws one choice.
//!
//! An action's arguments are a series of small choices: one of a list (a relation, a
//! unit, a container), a bool, a count, a string (a known word, or a literal of raw bytes),
//! a databag (edited key by key, or replaced by a sample). Each is one [`Tape`] choice, so
//! decoding reads it from the bytes and encoding writes the byte for the trace's value; an
//! encoder whose trace has a value the engine does not offer gets
//! [`EncodeError::NotOffered`].

use super::{Driver, EncodeError, Tape};
use crate::engine::action::Databag;

impl<T: Tape> Driver<'_, T> {
    pub(super) fn pick<X: PartialEq + std::fmt::Debug>(
        &mut self,
        what: &str,
        options: &[X],
        want: Option<&X>,
    ) -> Result<usize, EncodeError> {
        let w = vec![1; options.len().max(1)];
        let want_idx = match want {
            None => None,
            Some(x) => Some(
                options
                    .iter()
                    .position(|o| o == x)
                    .ok_or_else(|| self.err(what, x))?,
            ),
        };
        self.tape
            .choose(&w, want_idx, false)
            .map_err(|_| self.err(what, want))
    }

    pub(super) fn pick_bool(
        &mut self,
        what: &str,
        want: Option<bool>,
    ) -> Result<bool, EncodeError> {
        Ok(self.pick(what, &[false, true], want.as_ref())? == 1)
    }

    /// A count in `lo..=hi`.
    pub(super) fn pick_count(
        &mut self,
        what: &str,
        lo: u32,
        hi: u32,
        want: Option<u32>,
    ) -> Result<u32, EncodeError> {
        let opts: Vec<u32> = (lo..=hi.max(lo)).collect();
        let i = self.pick(what, &opts, want.as_ref())?;
        Ok(opts[i])
    }

    /// A string: from `choices` or a literal.
    pub(super) fn pick_string(
        &mut self,
        what: &str,
        choices: &[String],
        want: Option<&str>,
    ) -> Result<String, EncodeError> {
        let mut opts: Vec<Option<&str>> = choices.iter().map(|s| Some(s.as_str())).collect();
        opts.push(None); // literal
        let want_idx = want.map(|w| {
            opts.iter()
                .position(|o| *o == Some(w))
                .unwrap_or(opts.len() - 1)
        });
        // Known words are four times as likely as a literal of raw bytes.
        let mut w = vec![4; opts.len()];
        *w.last_mut().expect("the literal option") = 1;
        let i = self
            .tape
            .choose(&w, want_idx, false)
            .map_err(|_| self.err(what, want))?;
        match opts[i] {
            Some(s) => Ok(s.to_string()),
            None => {
                if want.is_some_and(|w| !w.bytes().all(printable)) {
                    let what = format!("{what} (only printable ASCII can be encoded)");
                    return Err(self.err(&what, want));
                }
                let bytes = self
                    .tape
                    .literal(want.map(str::as_bytes))
                    .map_err(|e| self.err(what, e))?;
                let s = printable_string(&bytes);
                if want.is_some_and(|w| w != s) {
                    return Err(self.err(what, want));
                }
                Ok(s)
            }
        }
    }

    /// Edit a databag: set or delete up to four keys, or replace it by a sample.
    pub(super) fn gen_databag(
        &mut self,
        old: &Databag,
        samples: &[Databag],
        want: Option<&Databag>,
    ) -> Result<Databag, EncodeError> {
        // Mode 0 = edit, 1.. = sample.
        let mut modes: Vec<Option<&Databag>> = vec![None];
        modes.extend(samples.iter().map(Some));
        let want_mode = want.map(|w| modes.iter().position(|m| *m == Some(w)).unwrap_or(0));
        let w = vec![1; modes.len()];
        let m = self
            .tape
            .choose(&w, want_mode, false)
            .map_err(|_| self.err("databag", want))?;
        if let Some(sample) = modes[m] {
            return Ok(sample.clone());
        }
        let changes: Option<Vec<(String, Option<String>)>> = want.map(|w| {
            let mut c: Vec<(String, Option<String>)> = Vec::new();
            for (k, v) in w {
                if old.get(k) != Some(v) {
                    c.push((k.clone(), Some(v.clone())));
                }
            }
            for k in old.keys() {
                if !w.contains_key(k) {
                    c.push((k.clone(), None));
                }
            }
            c.sort();
            c
        });
        if changes.as_ref().is_some_and(|c| c.len() > 4) {
            return Err(self.err("databag (more than 4 keys changed at once)", want));
        }
        let n = self.pick_count(
            "number of databag keys written",
            0,
            4,
            changes.as_ref().map(|c| c.len() as u32),
        )?;
        let mut bag = old.clone();
        let mut keys: Vec<String> = old.keys().cloned().collect();
        keys.extend(self.vocab.words.iter().cloned());
        let values = self.vocab.words.clone();
        for i in 0..n as usize {
            let want_change = changes.as_ref().map(|c| &c[i]);
            let k = self.pick_string("databag key", &keys, want_change.map(|c| c.0.as_str()))?;
            let delete = self.pick_bool("delete the key", want_change.map(|c| c.1.is_none()))?;
            if delete {
                bag.remove(&k);
            } else {
                let v = self.pick_string(
                    "databag value",
                    &values,
                    want_change.and_then(|c| c.1.as_deref()),
                )?;
                bag.insert(k, v);
            }
        }
        Ok(bag)
    }
}

pub(super) fn printable(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

/// Literal bytes as text: printable ASCII stays itself, any other byte is folded into the
/// printable range, so every decoded string encodes back to the same bytes.
pub(super) fn printable_string(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if printable(b) {
                b as char
            } else {
                (0x20 + b % 95) as char
            }
        })
        .collect()
}
