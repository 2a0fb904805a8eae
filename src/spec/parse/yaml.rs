//! A small YAML document tree that reads scalars the way PyYAML's `safe_load` does.
//!
//! `saphyr-parser` (the event parser of the `saphyr` project) does the syntax: it gives a
//! stream of events with their source spans and, for each scalar, its raw text, its style
//! (plain, quoted, block) and its tag. Resolution of a plain scalar into a null, boolean,
//! integer, float or string is done here, with PyYAML's YAML 1.1 resolver rules rather than
//! the YAML 1.2 core schema that `saphyr` itself applies: `yes`, `on` and `off` are booleans,
//! `017` is octal, `1_000` is an integer, while `y`, `0o17` and `1e3` stay strings.
//!
//! The tree keeps every node's position so that the spec reader can name `file:line:column`
//! in each error. Anchors, aliases and `<<` merge keys are supported as PyYAML supports them,
//! with a budget on alias expansion (a "billion laughs" file is an error, not an OOM), a limit
//! on nesting depth, and duplicate keys reported as errors.

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, SpannedEventReceiver, Tag};
use std::collections::HashMap;
use std::fmt;

/// Most nodes a document may expand to through aliases.
const MAX_NODES: usize = 1_000_000;
/// Deepest nesting of sequences and mappings accepted (PyYAML, being recursive, stops near
/// Python's recursion limit of 1000).
const MAX_DEPTH: usize = 256;

/// A position in the source: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl Pos {
    fn of(span: &Span) -> Pos {
        Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// A resolved scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer that does not fit in 64 bits (Python would keep it); the text as written.
    BigInt(String),
    Float(f64),
    Str(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A YAML node with its source position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
    /// The scalar as written (empty for collections); used in messages.
    pub raw: String,
    /// Number of nodes in this subtree (for the alias budget).
    size: usize,
    /// A plain `<<` (PyYAML's merge key), as opposed to a quoted `"<<"` string.
    merge_key: bool,
}

impl Node {
    /// A short description of what this node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Seq(_) => "a sequence".to_string(),
            Value::Map(_) => "a mapping".to_string(),
            Value::Scalar(Scalar::Null) => "null".to_string(),
            Value::Scalar(Scalar::Bool(b)) => {
                if self.raw == "true" || self.raw == "false" || self.raw.is_empty() {
                    format!("boolean {b}")
                } else {
                    // The case that surprises people: YAML 1.1 reads `yes`/`on`/... as booleans.
                    format!(
                        "boolean {b} (YAML 1.1 reads unquoted `{}` as a boolean; quote it for a string)",
                        self.raw
                    )
                }
            }
            Value::Scalar(Scalar::Int(_)) | Value::Scalar(Scalar::BigInt(_)) => {
                format!("integer {}", self.raw)
            }
            Value::Scalar(Scalar::Float(_)) => format!("float {}", self.raw),
            Value::Scalar(Scalar::Str(s)) => format!("string {s:?}"),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(Scalar::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Scalar(Scalar::Null))
    }

    /// Look a string key up in a mapping node.
    pub fn get(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.value {
            Value::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }
}

/// A YAML error: the position and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

impl From<ScanError> for YamlError {
    fn from(e: ScanError) -> Self {
        YamlError {
            pos: Pos {
                line: e.marker().line(),
                column: e.marker().col() + 1,
            },
            message: e.info().to_string(),
        }
    }
}

/// Parse a YAML stream holding at most one document. An empty stream gives `None` (PyYAML
/// gives `None` too).
pub fn parse(text: &str) -> Result<Option<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true)?;
    if let Some(e) = builder.error {
        return Err(e);
    }
    if builder.docs.len() > 1 {
        return Err(YamlError {
            pos: builder.docs[1].pos,
            message: "expected a single document in the stream, found another document".into(),
        });
    }
    Ok(builder.docs.pop())
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        pairs: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    docs: Vec<Node>,
    anchors: HashMap<usize, Node>,
    total: usize,
    error: Option<YamlError>,
}

impl Builder {
    fn fail(&mut self, pos: Pos, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(YamlError {
                pos,
                message: message.into(),
            });
        }
    }

    fn push_node(&mut self, node: Node, anchor: usize) {
        self.total = self.total.saturating_add(node.size);
        if self.total > MAX_NODES {
            self.fail(
                node.pos,
                format!(
                    "document expands to more than {MAX_NODES} nodes (aliases nested too deeply?)"
                ),
            );
            return;
        }
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { pairs, key, .. }) => match key.take() {
                None => {
                    if !matches!(node.value, Value::Scalar(_)) {
                        let pos = node.pos;
                        self.fail(
                            pos,
                            "a sequence or mapping used as a mapping key is not supported",
                        );
                        return;
                    }
                    *key = Some(node);
                }
                Some(k) => pairs.push((k, node)),
            },
        }
    }

    fn finish_map(&mut self, pos: Pos, pairs: Vec<(Node, Node)>) -> Option<Node> {
        // Duplicate keys among the keys written in this mapping. PyYAML silently keeps the
        // last one; that is nearly always a mistake in a charm's metadata, so say so.
        let mut explicit: Vec<(Node, Node)> = Vec::with_capacity(pairs.len());
        let mut merges: Vec<Node> = Vec::new();
        for (k, v) in pairs {
            if k.merge_key {
                merges.push(v);
                continue;
            }
            if let Some((first, _)) = explicit.iter().find(|(e, _)| same_key(e, &k)) {
                let msg = format!(
                    "duplicate mapping key {:?} (first at line {})",
                    k.raw, first.pos.line
                );
                self.fail(k.pos, msg);
                return None;
            }
            explicit.push((k, v));
        }
        if merges.is_empty() {
            let size = 1 + explicit.iter().map(|(k, v)| k.size + v.size).sum::<usize>();
            return Some(Node {
                value: Value::Map(explicit),
                pos,
                raw: String::new(),
                size,
                merge_key: false,
            });
        }
        // `<<: *base` or `<<: [*a, *b]`: PyYAML's flatten_mapping. Keys written explicitly
        // win over merged ones; among merged mappings, the earlier in the list wins.
        let mut sources: Vec<Vec<(Node, Node)>> = Vec::new();
        for m in merges {
            match m.value {
                Value::Map(p) => sources.push(p),
                Value::Seq(items) => {
                    let mut sub = Vec::new();
                    for item in items {
                        match item.value {
                            Value::Map(p) => sub.push(p),
                            _ => {
                                self.fail(item.pos, "expected a mapping for merging (`<<`)");
                                return None;
                            }
                        }
                    }
                    sub.reverse();
                    sources.extend(sub);
                }
                _ => {
                    self.fail(
                        m.pos,
                        "expected a mapping or list of mappings for merging (`<<`)",
                    );
                    return None;
                }
            }
        }
        let mut out: Vec<(Node, Node)> = Vec::new();
        for (k, v) in sources.into_iter().flatten().chain(explicit) {
            match out.iter_mut().find(|(e, _)| same_key(e, &k)) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
        let size = 1 + out.iter().map(|(k, v)| k.size + v.size).sum::<usize>();
        Some(Node {
            value: Value::Map(out),
            pos,
            raw: String::new(),
            size,
            merge_key: false,
        })
    }
}

fn same_key(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Scalar(Scalar::Float(x)), Value::Scalar(Scalar::Float(y))) => {
            x.to_bits() == y.to_bits()
        }
        (x, y) => x == y,
    }
}

impl<'input> SpannedEventReceiver<'input> for Builder {
    fn on_event(&mut self, ev: Event<'input>, span: Span) {
        if self.error.is_some() {
            return;
        }
        let pos = Pos::of(&span);
        match ev {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
            Event::DocumentStart(_) => self.anchors.clear(),
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                if let Some(tag) = tag {
                    if !(tag.is_yaml_core_schema() || tag.handle == "!" && tag.suffix.is_empty()) {
                        self.fail(pos, format!("unsupported tag {tag} (safe_load only knows the standard YAML tags)"));
                        return;
                    }
                }
                if self.stack.len() >= MAX_DEPTH {
                    self.fail(pos, format!("nesting deeper than {MAX_DEPTH} levels"));
                    return;
                }
                let frame = if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        pos,
                        anchor,
                        pairs: Vec::new(),
                        key: None,
                    }
                };
                self.stack.push(frame);
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq { pos, anchor, items }) => {
                    let size = 1 + items.iter().map(|n| n.size).sum::<usize>();
                    // Sizes were already counted as the children were pushed; only add this node.
                    self.total = self.total.saturating_sub(size - 1);
                    let node = Node {
                        value: Value::Seq(items),
                        pos,
                        raw: String::new(),
                        size,
                        merge_key: false,
                    };
                    self.push_node(node, anchor);
                }
                Some(Frame::Map {
                    pos, anchor, pairs, ..
                }) => {
                    let children = pairs.iter().map(|(k, v)| k.size + v.size).sum::<usize>();
                    self.total = self.total.saturating_sub(children);
                    if let Some(node) = self.finish_map(pos, pairs) {
                        self.push_node(node, anchor);
                    }
                }
                None => self.fail(pos, "unbalanced end of collection"),
            },
            Event::Scalar(text, style, anchor, tag) => {
                match resolve(&text, style, tag.as_deref()) {
                    Ok(scalar) => {
                        let merge_key =
                            style == ScalarStyle::Plain && tag.is_none() && text == "<<";
                        let node = Node {
                            value: Value::Scalar(scalar),
                            pos,
                            raw: text.into_owned(),
                            size: 1,
                            merge_key,
                        };
                        self.push_node(node, anchor);
                    }
                    Err(msg) => self.fail(pos, msg),
                }
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(node) => {
                    let mut node = node.clone();
                    node.pos = pos;
                    self.push_node(node, 0);
                }
                None => self.fail(
                    pos,
                    "alias refers to an anchor that is not complete yet (recursive alias)",
                ),
            },
        }
    }
}

/// Resolve a scalar as PyYAML's `SafeLoader` does.
fn resolve(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Scalar, String> {
    if let Some(tag) = tag {
        if tag.handle == "!" && tag.suffix.is_empty() {
            // The non-specific tag `!`: a string, whatever it looks like.
            return Ok(Scalar::Str(text.to_string()));
        }
        if !tag.is_yaml_core_schema() {
            return Err(format!(
                "unsupported tag {tag} (safe_load only knows the standard YAML tags)"
            ));
        }
        let bad = |what: &str| format!("cannot read {text:?} as {what} (tag {tag})");
        return match tag.suffix.as_str() {
            "str" | "binary" | "timestamp" => Ok(Scalar::Str(text.to_string())),
            "null" => Ok(Scalar::Null),
            "bool" => match text.to_ascii_lowercase().as_str() {
                "yes" | "true" | "on" => Ok(Scalar::Bool(true)),
                "no" | "false" | "off" => Ok(Scalar::Bool(false)),
                _ => Err(bad("a boolean")),
            },
            "int" => resolve_int(text).ok_or_else(|| bad("an integer")),
            "float" => resolve_float(text)
                .or_else(|| match resolve_int(text) {
                    Some(Scalar::Int(i)) => Some(Scalar::Float(i as f64)),
                    _ => None,
                })
                .ok_or_else(|| bad("a float")),
            _ => Err(format!("unsupported tag {tag} on a scalar")),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Scalar::Str(text.to_string()));
    }
    Ok(resolve_plain(text))
}

/// PyYAML's implicit resolvers (`yaml/resolver.py`), in its order: bool, float, int, null.
/// Timestamps are kept as strings (JSON has no date type).
pub fn resolve_plain(text: &str) -> Scalar {
    match text {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Scalar::Bool(true);
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Scalar::Bool(false);
        }
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        _ => {}
    }
    if let Some(f) = resolve_float(text) {
        return f;
    }
    if let Some(i) = resolve_int(text) {
        return i;
    }
    Scalar::Str(text.to_string())
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

fn all(s: &str, f: impl Fn(u8) -> bool) -> bool {
    s.bytes().all(f)
}

/// `[-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+ |
/// [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+` (the last is base 60: `1:30` is 90).
fn resolve_int(text: &str) -> Option<Scalar> {
    let (neg, body) = split_sign(text);
    let (digits, radix) = if let Some(b) = body.strip_prefix("0b") {
        if b.is_empty() || !all(b, |c| c == b'0' || c == b'1' || c == b'_') {
            return None;
        }
        (b, 2)
    } else if let Some(x) = body.strip_prefix("0x") {
        if x.is_empty() || !all(x, |c| c.is_ascii_hexdigit() || c == b'_') {
            return None;
        }
        (x, 16)
    } else if body == "0" {
        ("0", 10)
    } else if let Some(o) = body.strip_prefix('0') {
        if o.is_empty() || !all(o, |c| (b'0'..=b'7').contains(&c) || c == b'_') {
            return None;
        }
        (o, 8)
    } else if body.contains(':') {
        return resolve_sexagesimal_int(neg, body, text);
    } else {
        let first = *body.as_bytes().first()?;
        if !(b'1'..=b'9').contains(&first) || !all(body, |c| c.is_ascii_digit() || c == b'_') {
            return None;
        }
        (body, 10)
    };
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() {
        // `0_` is 0 for PyYAML (it strips the underscores first); `0b_` and `0x_` make its
        // constructor fail, which we do not imitate: they stay strings.
        return if radix == 8 {
            Some(Scalar::Int(0))
        } else {
            None
        };
    }
    let with_sign = if neg { format!("-{clean}") } else { clean };
    Some(match i64::from_str_radix(&with_sign, radix) {
        Ok(i) => Scalar::Int(i),
        Err(_) => Scalar::BigInt(text.to_string()),
    })
}

fn resolve_sexagesimal_int(neg: bool, body: &str, text: &str) -> Option<Scalar> {
    let mut parts = body.split(':');
    let head = parts.next()?;
    let first = *head.as_bytes().first()?;
    if !(b'1'..=b'9').contains(&first) || !all(head, |c| c.is_ascii_digit() || c == b'_') {
        return None;
    }
    let mut value: i64 = head.replace('_', "").parse().ok()?;
    for p in parts {
        if !sexagesimal_digit_group(p) {
            return None;
        }
        let d: i64 = p.parse().ok()?;
        value = match value.checked_mul(60).and_then(|v| v.checked_add(d)) {
            Some(v) => v,
            None => return Some(Scalar::BigInt(text.to_string())),
        };
    }
    Some(Scalar::Int(if neg { -value } else { value }))
}

/// `[0-5]?[0-9]`
fn sexagesimal_digit_group(p: &str) -> bool {
    let b = p.as_bytes();
    match b.len() {
        1 => b[0].is_ascii_digit(),
        2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
        _ => false,
    }
}

/// `[-+]?([0-9][0-9_]*)\.[0-9_]*([eE][-+][0-9]+)? | \.[0-9][0-9_]*([eE][-+][0-9]+)? |
/// [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]* | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)`.
/// Note what is *not* a float for PyYAML: `1e3` and `1.0e3` (the exponent needs a dot
/// before it and a sign), which stay strings.
fn resolve_float(text: &str) -> Option<Scalar> {
    match text {
        ".nan" | ".NaN" | ".NAN" => return Some(Scalar::Float(f64::NAN)),
        _ => {}
    }
    let (neg, body) = split_sign(text);
    let sign = if neg { -1.0 } else { 1.0 };
    match body {
        ".inf" | ".Inf" | ".INF" => return Some(Scalar::Float(sign * f64::INFINITY)),
        _ => {}
    }
    if body.contains(':') {
        // Base 60 with a fractional last part: `1:30.5`.
        let (ints, frac) = body.rsplit_once('.')?;
        if !all(frac, |c| c.is_ascii_digit() || c == b'_') {
            return None;
        }
        let mut parts = ints.split(':');
        let head = parts.next()?;
        if head.is_empty()
            || !head.as_bytes()[0].is_ascii_digit()
            || !all(head, |c| c.is_ascii_digit() || c == b'_')
        {
            return None;
        }
        let mut value: f64 = head.replace('_', "").parse().ok()?;
        let mut groups = 0;
        let rest: Vec<&str> = parts.collect();
        for (i, p) in rest.iter().enumerate() {
            let is_last = i + 1 == rest.len();
            if !sexagesimal_digit_group(p) {
                return None;
            }
            let mut d: f64 = p.parse().ok()?;
            if is_last {
                let f = frac.replace('_', "");
                if !f.is_empty() {
                    d += format!("0.{f}").parse::<f64>().ok()?;
                }
            }
            value = value * 60.0 + d;
            groups += 1;
        }
        if groups == 0 {
            return None;
        }
        return Some(Scalar::Float(sign * value));
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int_part, frac_part) = mantissa.split_once('.')?;
    if int_part.is_empty() {
        // `\.[0-9][0-9_]*`: no sign allowed in this branch, and a digit must follow the dot.
        if neg || text.starts_with('+') {
            return None;
        }
        if !frac_part
            .as_bytes()
            .first()
            .is_some_and(|c| c.is_ascii_digit())
        {
            return None;
        }
    } else if !int_part.as_bytes()[0].is_ascii_digit()
        || !all(int_part, |c| c.is_ascii_digit() || c == b'_')
    {
        return None;
    }
    if !all(frac_part, |c| c.is_ascii_digit() || c == b'_') {
        return None;
    }
    let mut clean = format!(
        "{}.{}",
        int_part.replace('_', ""),
        frac_part.replace('_', "")
    );
    if let Some(exp) = exponent {
        let (esign, edigits) = match exp.as_bytes().first() {
            Some(b'-') | Some(b'+') => (&exp[..1], &exp[1..]),
            _ => return None,
        };
        if edigits.is_empty() || !all(edigits, |c| c.is_ascii_digit()) {
            return None;
        }
        clean = format!("{clean}e{esign}{edigits}");
    }
    // Rust's parser does not take `1.` or `.5`; pad them.
    let padded = clean.replace(".e", ".0e");
    let padded = if padded.ends_with('.') {
        format!("{padded}0")
    } else {
        padded
    };
    let padded = if padded.starts_with('.') {
        format!("0{padded}")
    } else {
        padded
    };
    let v: f64 = padded.parse().ok()?;
    Some(Scalar::Float(sign * v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> Scalar {
        resolve_plain(s)
    }

    #[test]
    fn pyyaml_booleans() {
        for t in [
            "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
        ] {
            assert_eq!(plain(t), Scalar::Bool(true), "{t}");
        }
        for f in [
            "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
        ] {
            assert_eq!(plain(f), Scalar::Bool(false), "{f}");
        }
        for s in ["y", "n", "Y", "N", "yEs", "oN", "tRue"] {
            assert_eq!(plain(s), Scalar::Str(s.into()), "{s}");
        }
    }

    #[test]
    fn pyyaml_numbers() {
        assert_eq!(plain("42"), Scalar::Int(42));
        assert_eq!(plain("-42"), Scalar::Int(-42));
        assert_eq!(plain("+7"), Scalar::Int(7));
        assert_eq!(plain("0"), Scalar::Int(0));
        assert_eq!(plain("0_"), Scalar::Int(0));
        assert_eq!(plain("0__7"), Scalar::Int(7));
        assert_eq!(plain("1_000"), Scalar::Int(1000));
        assert_eq!(plain("0x1F"), Scalar::Int(31));
        assert_eq!(plain("017"), Scalar::Int(15));
        assert_eq!(plain("0b101"), Scalar::Int(5));
        assert_eq!(plain("1:30"), Scalar::Int(90));
        assert_eq!(plain("0o17"), Scalar::Str("0o17".into()));
        assert_eq!(plain("08"), Scalar::Str("08".into()));
        assert_eq!(
            plain("99999999999999999999"),
            Scalar::BigInt("99999999999999999999".into())
        );
        assert_eq!(plain("1.5"), Scalar::Float(1.5));
        assert_eq!(plain("-1."), Scalar::Float(-1.0));
        assert_eq!(plain(".5"), Scalar::Float(0.5));
        assert_eq!(plain("1.0e+3"), Scalar::Float(1000.0));
        assert_eq!(plain("1_0.2_5"), Scalar::Float(10.25));
        assert_eq!(plain("1:30.5"), Scalar::Float(90.5));
        assert_eq!(plain(".inf"), Scalar::Float(f64::INFINITY));
        assert_eq!(plain("-.Inf"), Scalar::Float(f64::NEG_INFINITY));
        assert!(matches!(plain(".nan"), Scalar::Float(f) if f.is_nan()));
        // Not numbers for PyYAML.
        for s in [
            "1e3",
            "1.0e3",
            "+.5",
            ".",
            "1.2.3",
            "0x",
            "1:60",
            "abc",
            "-",
            "._",
            "2024-01-01",
        ] {
            assert_eq!(plain(s), Scalar::Str(s.into()), "{s}");
        }
    }

    #[test]
    fn nulls_and_quoting() {
        let doc = parse("a: ~\nb:\nc: null\nd: 'yes'\ne: \"on\"\nf: !!str yes\ng: |\n  yes\n")
            .unwrap()
            .unwrap();
        assert!(doc.get("a").unwrap().1.is_null());
        assert!(doc.get("b").unwrap().1.is_null());
        assert!(doc.get("c").unwrap().1.is_null());
        assert_eq!(doc.get("d").unwrap().1.as_str(), Some("yes"));
        assert_eq!(doc.get("e").unwrap().1.as_str(), Some("on"));
        assert_eq!(doc.get("f").unwrap().1.as_str(), Some("yes"));
        assert_eq!(doc.get("g").unwrap().1.as_str(), Some("yes\n"));
    }

    #[test]
    fn positions_are_one_based() {
        let doc = parse("a:\n  b: 1\n").unwrap().unwrap();
        let (_, a) = doc.get("a").unwrap();
        let (k, v) = a.get("b").unwrap();
        assert_eq!(k.pos, Pos { line: 2, column: 3 });
        assert_eq!(v.pos, Pos { line: 2, column: 6 });
    }

    #[test]
    fn anchors_and_merges() {
        let doc = parse("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n")
            .unwrap()
            .unwrap();
        let (_, other) = doc.get("other").unwrap();
        assert_eq!(
            other.get("x").unwrap().1.value,
            Value::Scalar(Scalar::Int(1))
        );
        assert_eq!(
            other.get("y").unwrap().1.value,
            Value::Scalar(Scalar::Int(3))
        );
    }

    #[test]
    fn hostile_inputs_are_errors_not_panics() {
        assert!(parse("").unwrap().is_none());
        assert!(parse("a: 1\na: 2\n").is_err());
        assert!(parse("--- 1\n--- 2\n").is_err());
        assert!(parse("a: &a [*a]\n").is_err());
        assert!(parse("a: !custom 1\n").is_err());
        assert!(parse("[1, 2").is_err());
        assert!(parse("? [1]\n: 2\n").is_err());
        let deep = "[".repeat(10_000);
        assert!(parse(&deep).is_err());
        let laughs = "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
        assert!(parse(laughs).is_err());
    }
}
