//! The source of choices: bytes when decoding, a trace when encoding.
//!
//! Every decision of the [`Driver`](super::Driver) is one call to [`Tape::choose`] (or
//! [`Tape::literal`] for raw bytes). Decoding reads one byte per choice (two past 256
//! options) from the fuzzer's input through `arbitrary::Unstructured`; encoding writes the
//! byte that makes the decoder take the option the trace took. Both map a byte onto the
//! weighted options the same way (`slots`), so the bytes written decode back to the same
//! choices.

use arbitrary::Unstructured;

/// The source of choices: bytes when decoding, a trace when encoding.
pub trait Tape {
    /// Pick an index among `weights` (a zero weight is never picked). `want` is the index an
    /// encoder must produce (`None` when decoding). A lone option costs nothing unless
    /// `always_read` is set.
    fn choose(
        &mut self,
        weights: &[u32],
        want: Option<usize>,
        always_read: bool,
    ) -> Result<usize, String>;
    /// Up to 255 raw bytes (length-prefixed).
    fn literal(&mut self, want: Option<&[u8]>) -> Result<Vec<u8>, String>;
    /// No more choices are available: the story should end.
    fn exhausted(&self) -> bool;
    /// How many bytes have been read or written so far.
    fn position(&self) -> usize;
    /// Decoding: how many bytes the choices made after the end of the bytes would have
    /// read (each took its first option, as a zero byte selects).
    fn short(&self) -> usize {
        0
    }
}

/// Map a byte onto weighted options: every option with a positive weight gets at least one
/// of the 256 byte values, the rest in proportion to its weight.
fn slots(weights: &[u32]) -> Vec<u16> {
    let total: u64 = weights.iter().map(|&w| w as u64).sum();
    let positive = weights.iter().filter(|&&w| w > 0).count() as u64;
    let mut out: Vec<u16> = weights
        .iter()
        .map(|&w| {
            if w == 0 {
                0
            } else {
                (1 + (w as u64 * (256 - positive)) / total.max(1)) as u16
            }
        })
        .collect();
    let sum: u16 = out.iter().sum();
    if let Some(first) = out.iter().position(|&s| s > 0) {
        out[first] += 256 - sum;
    }
    out
}

fn index_for_byte(weights: &[u32], b: u8) -> usize {
    let mut acc = 0u16;
    for (i, s) in slots(weights).into_iter().enumerate() {
        acc += s;
        if (b as u16) < acc {
            return i;
        }
    }
    weights.iter().position(|&w| w > 0).unwrap_or(0)
}

pub(super) fn byte_for_index(weights: &[u32], i: usize) -> Option<u8> {
    let s = slots(weights);
    if s.get(i).copied().unwrap_or(0) == 0 {
        return None;
    }
    Some(s[..i].iter().sum::<u16>() as u8)
}

/// Decoding: choices read from fuzzer bytes through `arbitrary::Unstructured`.
pub struct ByteTape<'a> {
    u: Unstructured<'a>,
    total: usize,
    short: usize,
}

impl<'a> ByteTape<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        ByteTape {
            u: Unstructured::new(bytes),
            total: bytes.len(),
            short: 0,
        }
    }

    /// A tape of `bytes` whose first `position` bytes have been read.
    pub fn at(bytes: &'a [u8], position: usize) -> Self {
        let position = position.min(bytes.len());
        ByteTape {
            u: Unstructured::new(&bytes[position..]),
            total: bytes.len(),
            short: 0,
        }
    }
}

impl Tape for ByteTape<'_> {
    fn choose(
        &mut self,
        weights: &[u32],
        _want: Option<usize>,
        always_read: bool,
    ) -> Result<usize, String> {
        let n = weights.len();
        if n <= 1 && !always_read {
            return Ok(0);
        }
        let width = if n <= 256 { 1 } else { 2 };
        self.short += width - width.min(self.u.len());
        if n <= 256 {
            let b: u8 = self.u.arbitrary().unwrap_or(0);
            Ok(index_for_byte(weights, b).min(n.saturating_sub(1)))
        } else {
            let v: u16 = self.u.arbitrary().unwrap_or(0);
            Ok(v as usize % n)
        }
    }
    fn literal(&mut self, _want: Option<&[u8]>) -> Result<Vec<u8>, String> {
        self.short += usize::from(self.u.is_empty());
        let len: u8 = self.u.arbitrary().unwrap_or(0);
        self.short += (len as usize).saturating_sub(self.u.len());
        let len = (len as usize).min(self.u.len());
        Ok(self.u.bytes(len).map(|b| b.to_vec()).unwrap_or_default())
    }
    fn exhausted(&self) -> bool {
        self.u.is_empty()
    }
    fn position(&self) -> usize {
        self.total - self.u.len()
    }
    fn short(&self) -> usize {
        self.short
    }
}

/// Encoding: each choice writes the byte that makes the decoder take the wanted option.
#[derive(Default)]
pub struct WriteTape {
    pub bytes: Vec<u8>,
}

impl Tape for WriteTape {
    fn choose(
        &mut self,
        weights: &[u32],
        want: Option<usize>,
        always_read: bool,
    ) -> Result<usize, String> {
        let i = want.ok_or("no matching option")?;
        let n = weights.len();
        if i >= n || weights[i] == 0 {
            return Err("option disabled".into());
        }
        if n <= 1 && !always_read {
            return Ok(0);
        }
        if n <= 256 {
            self.bytes
                .push(byte_for_index(weights, i).ok_or("option disabled")?);
        } else {
            self.bytes.extend_from_slice(&(i as u16).to_le_bytes());
        }
        Ok(i)
    }
    fn literal(&mut self, want: Option<&[u8]>) -> Result<Vec<u8>, String> {
        let w = want.ok_or("no literal")?;
        if w.len() > 255 {
            return Err("literal longer than 255 bytes".into());
        }
        self.bytes.push(w.len() as u8);
        self.bytes.extend_from_slice(w);
        Ok(w.to_vec())
    }
    fn exhausted(&self) -> bool {
        false
    }
    fn position(&self) -> usize {
        self.bytes.len()
    }
}
