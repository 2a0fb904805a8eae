//! Layer YAML decoded the way Go's yaml.v3 decodes it into Pebble's structs
//! (`KnownFields(true)`: unknown fields are errors; scalars decoded into strings keep their
//! literal text), and service command lines split the way Pebble's shlex splits them.

use super::{Check, ExecCheck, HttpCheck, Layer, LogTarget, Service, TcpCheck, order};
use crate::gotime::parse_duration;
use saphyr::{MarkedYaml, Scalar, YamlData, YamlLoader};
use std::collections::BTreeMap;
use std::time::Duration;

/// A decoded YAML node with its line, scalars kept as their literal text.
enum Node {
    Null(usize),
    Scalar {
        text: String,
        plain: bool,
        line: usize,
    },
    Seq(Vec<Node>, usize),
    Map(Vec<(String, Node)>, usize),
}

impl Node {
    fn line(&self) -> usize {
        match self {
            Node::Null(l) | Node::Seq(_, l) | Node::Map(_, l) => *l,
            Node::Scalar { line, .. } => *line,
        }
    }

    fn yaml_kind(&self) -> String {
        match self {
            Node::Null(_) => "!!null".into(),
            Node::Seq(..) => "!!seq".into(),
            Node::Map(..) => "!!map".into(),
            Node::Scalar { text, plain, .. } => {
                let tag = if !plain {
                    "!!str"
                } else if parse_yaml_int(text).is_some() {
                    "!!int"
                } else if parse_yaml_float(text).is_some() {
                    "!!float"
                } else if matches!(text.as_str(), "true" | "false" | "True" | "False") {
                    "!!bool"
                } else {
                    "!!str"
                };
                format!("{tag} `{text}`")
            }
        }
    }
}

fn convert(node: &MarkedYaml<'_>) -> Node {
    let line = node.span.start.line();
    match &node.data {
        YamlData::Representation(text, style, tag) => {
            let plain = matches!(style, saphyr::ScalarStyle::Plain);
            let is_null_tag = tag.as_ref().is_some_and(|t| t.suffix == "null");
            if is_null_tag
                || (plain && matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL"))
            {
                Node::Null(line)
            } else {
                Node::Scalar {
                    text: text.to_string(),
                    plain,
                    line,
                }
            }
        }
        YamlData::Value(v) => match v {
            Scalar::Null => Node::Null(line),
            Scalar::Boolean(b) => Node::Scalar {
                text: b.to_string(),
                plain: true,
                line,
            },
            Scalar::Integer(i) => Node::Scalar {
                text: i.to_string(),
                plain: true,
                line,
            },
            Scalar::FloatingPoint(f) => Node::Scalar {
                text: f.to_string(),
                plain: true,
                line,
            },
            Scalar::String(s) => Node::Scalar {
                text: s.to_string(),
                plain: false,
                line,
            },
        },
        YamlData::Tagged(_, inner) => convert(inner),
        YamlData::Sequence(items) => Node::Seq(items.iter().map(convert).collect(), line),
        YamlData::Mapping(m) => Node::Map(
            m.iter()
                .map(|(k, v)| {
                    let key = match convert(k) {
                        Node::Scalar { text, .. } => text,
                        _ => String::new(),
                    };
                    (key, convert(v))
                })
                .collect(),
            line,
        ),
        YamlData::Alias(_) | YamlData::BadValue => Node::Null(line),
    }
}

fn parse_yaml_int(s: &str) -> Option<i64> {
    let t = s.replace('_', "");
    let (neg, body) = match t.strip_prefix('-') {
        Some(r) => (true, r.to_string()),
        None => (false, t.strip_prefix('+').unwrap_or(&t).to_string()),
    };
    let v = if let Some(h) = body.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = body.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if let Some(b) = body.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    } else {
        body.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

fn parse_yaml_float(s: &str) -> Option<f64> {
    if let Some(i) = parse_yaml_int(s) {
        return Some(i as f64);
    }
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    if s.bytes().any(|c| c.is_ascii_digit())
        && s.bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-' | b'_'))
    {
        s.replace('_', "").parse().ok()
    } else {
        None
    }
}

fn unmarshal_err(node: &Node, into: &str) -> String {
    format!(
        "yaml: unmarshal errors:\n  line {}: cannot unmarshal {} into {into}",
        node.line(),
        node.yaml_kind()
    )
}

fn d_string(n: &Node) -> Result<String, String> {
    match n {
        Node::Null(_) => Ok(String::new()),
        Node::Scalar { text, .. } => Ok(text.clone()),
        _ => Err(unmarshal_err(n, "string")),
    }
}

fn d_int(n: &Node) -> Result<Option<i64>, String> {
    match n {
        Node::Null(_) => Ok(None),
        Node::Scalar {
            text, plain: true, ..
        } => parse_yaml_int(text)
            .map(Some)
            .ok_or_else(|| unmarshal_err(n, "int")),
        _ => Err(unmarshal_err(n, "int")),
    }
}

fn d_float(n: &Node) -> Result<Option<f64>, String> {
    match n {
        Node::Null(_) => Ok(None),
        Node::Scalar {
            text, plain: true, ..
        } => parse_yaml_float(text)
            .map(Some)
            .ok_or_else(|| unmarshal_err(n, "float64")),
        _ => Err(unmarshal_err(n, "float64")),
    }
}

fn d_duration(n: &Node) -> Result<Option<Duration>, String> {
    match n {
        Node::Null(_) => Ok(None),
        _ => {
            let s = d_string(n)?;
            parse_duration(&s)
                .map(Some)
                .map_err(|_| format!("invalid duration {s:?}"))
        }
    }
}

fn d_list(n: &Node) -> Result<Vec<String>, String> {
    match n {
        Node::Null(_) => Ok(Vec::new()),
        Node::Seq(items, _) => items.iter().map(d_string).collect(),
        _ => Err(unmarshal_err(n, "[]string")),
    }
}

fn d_map(n: &Node) -> Result<BTreeMap<String, String>, String> {
    match n {
        Node::Null(_) => Ok(BTreeMap::new()),
        Node::Map(entries, _) => entries
            .iter()
            .map(|(k, v)| Ok((k.clone(), d_string(v)?)))
            .collect(),
        _ => Err(unmarshal_err(n, "map[string]string")),
    }
}

/// Walks a mapping node's fields, rejecting names the Go struct doesn't have.
fn fields<'a>(
    n: &'a Node,
    go_type: &str,
    known: &[&str],
) -> Result<Option<Vec<(&'a str, &'a Node)>>, String> {
    match n {
        Node::Null(_) => Ok(None),
        Node::Map(entries, _) => {
            let mut out = Vec::new();
            for (k, v) in entries {
                if !known.contains(&k.as_str()) {
                    return Err(format!(
                        "yaml: unmarshal errors:\n  line {}: field {k} not found in type {go_type}",
                        v.line()
                    ));
                }
                out.push((k.as_str(), v));
            }
            Ok(Some(out))
        }
        _ => Err(unmarshal_err(n, go_type)),
    }
}

fn d_service(n: &Node) -> Result<Option<Service>, String> {
    const KNOWN: &[&str] = &[
        "summary",
        "description",
        "startup",
        "override",
        "command",
        "after",
        "before",
        "requires",
        "environment",
        "user-id",
        "user",
        "group-id",
        "group",
        "working-dir",
        "on-success",
        "on-failure",
        "on-check-failure",
        "backoff-delay",
        "backoff-factor",
        "backoff-limit",
        "kill-delay",
    ];
    let Some(fs) = fields(n, "plan.Service", KNOWN)? else {
        return Ok(None);
    };
    let mut s = Service::default();
    for (k, v) in fs {
        match k {
            "summary" => s.summary = d_string(v)?,
            "description" => s.description = d_string(v)?,
            "startup" => s.startup = d_string(v)?,
            "override" => s.override_ = d_string(v)?,
            "command" => s.command = d_string(v)?,
            "after" => s.after = d_list(v)?,
            "before" => s.before = d_list(v)?,
            "requires" => s.requires = d_list(v)?,
            "environment" => s.environment = d_map(v)?,
            "user-id" => s.user_id = d_int(v)?,
            "user" => s.user = d_string(v)?,
            "group-id" => s.group_id = d_int(v)?,
            "group" => s.group = d_string(v)?,
            "working-dir" => s.working_dir = d_string(v)?,
            "on-success" => s.on_success = d_string(v)?,
            "on-failure" => s.on_failure = d_string(v)?,
            "on-check-failure" => s.on_check_failure = d_map(v)?,
            "backoff-delay" => s.backoff_delay = d_duration(v)?,
            "backoff-factor" => s.backoff_factor = d_float(v)?,
            "backoff-limit" => s.backoff_limit = d_duration(v)?,
            "kill-delay" => s.kill_delay = d_duration(v)?,
            _ => unreachable!("checked by fields()"),
        }
    }
    Ok(Some(s))
}

fn d_check(n: &Node) -> Result<Option<Check>, String> {
    const KNOWN: &[&str] = &[
        "override",
        "level",
        "startup",
        "period",
        "timeout",
        "threshold",
        "http",
        "tcp",
        "exec",
    ];
    let Some(fs) = fields(n, "plan.Check", KNOWN)? else {
        return Ok(None);
    };
    let mut c = Check::default();
    for (k, v) in fs {
        match k {
            "override" => c.override_ = d_string(v)?,
            "level" => c.level = d_string(v)?,
            "startup" => c.startup = d_string(v)?,
            "period" => c.period = d_duration(v)?,
            "timeout" => c.timeout = d_duration(v)?,
            "threshold" => c.threshold = d_int(v)?.unwrap_or(0),
            "http" => {
                if let Some(hf) = fields(v, "plan.HTTPCheck", &["url", "headers"])? {
                    let mut h = HttpCheck::default();
                    for (k, v) in hf {
                        match k {
                            "url" => h.url = d_string(v)?,
                            _ => h.headers = d_map(v)?,
                        }
                    }
                    c.http = Some(h);
                }
            }
            "tcp" => {
                if let Some(tf) = fields(v, "plan.TCPCheck", &["port", "host"])? {
                    let mut t = TcpCheck::default();
                    for (k, v) in tf {
                        match k {
                            "port" => t.port = d_int(v)?.unwrap_or(0),
                            _ => t.host = d_string(v)?,
                        }
                    }
                    c.tcp = Some(t);
                }
            }
            "exec" => {
                const EK: &[&str] = &[
                    "command",
                    "service-context",
                    "environment",
                    "user-id",
                    "user",
                    "group-id",
                    "group",
                    "working-dir",
                ];
                if let Some(ef) = fields(v, "plan.ExecCheck", EK)? {
                    let mut e = ExecCheck::default();
                    for (k, v) in ef {
                        match k {
                            "command" => e.command = d_string(v)?,
                            "service-context" => e.service_context = d_string(v)?,
                            "environment" => e.environment = d_map(v)?,
                            "user-id" => e.user_id = d_int(v)?,
                            "user" => e.user = d_string(v)?,
                            "group-id" => e.group_id = d_int(v)?,
                            "group" => e.group = d_string(v)?,
                            _ => e.working_dir = d_string(v)?,
                        }
                    }
                    c.exec = Some(e);
                }
            }
            _ => unreachable!("checked by fields()"),
        }
    }
    Ok(Some(c))
}

fn d_log_target(n: &Node) -> Result<Option<LogTarget>, String> {
    const KNOWN: &[&str] = &["type", "location", "services", "override", "labels"];
    let Some(fs) = fields(n, "plan.LogTarget", KNOWN)? else {
        return Ok(None);
    };
    let mut t = LogTarget::default();
    for (k, v) in fs {
        match k {
            "type" => t.type_ = d_string(v)?,
            "location" => t.location = d_string(v)?,
            "services" => t.services = d_list(v)?,
            "override" => t.override_ = d_string(v)?,
            _ => t.labels = d_map(v)?,
        }
    }
    Ok(Some(t))
}

fn d_named<T>(
    n: &Node,
    what: &str,
    decode: fn(&Node) -> Result<Option<T>, String>,
) -> Result<BTreeMap<String, Option<T>>, String> {
    match n {
        Node::Null(_) => Ok(BTreeMap::new()),
        Node::Map(entries, _) => entries
            .iter()
            .map(|(k, v)| Ok((k.clone(), decode(v)?)))
            .collect(),
        _ => Err(unmarshal_err(n, &format!("map[string]*plan.{what}"))),
    }
}

/// Pebble's `plan.ParseLayer`: decodes and validates one layer's YAML.
pub fn parse_layer(label: &str, yaml: &str) -> Result<Layer, String> {
    let wrap = |e: String| format!("cannot parse layer {label:?}: {e}");
    let mut parser = saphyr_parser::Parser::new_from_str(yaml);
    let mut loader: YamlLoader<MarkedYaml> = YamlLoader::default();
    loader.early_parse(false);
    if let Err(e) = parser.load(&mut loader, true) {
        return Err(wrap(format!(
            "yaml: line {}: {}",
            e.marker().line(),
            e.info()
        )));
    }
    if let Some(e) = loader.error() {
        return Err(wrap(format!(
            "yaml: line {}: {}",
            e.marker().line(),
            e.info()
        )));
    }
    let docs = loader.into_documents();
    let mut layer = Layer {
        label: label.to_string(),
        ..Layer::default()
    };
    let Some(doc) = docs.first() else {
        return Ok(layer);
    };
    let root = convert(doc);
    const KNOWN: &[&str] = &[
        "summary",
        "description",
        "services",
        "checks",
        "log-targets",
    ];
    let fs = fields(&root, "plan.Layer", KNOWN).map_err(wrap)?;
    for (k, v) in fs.unwrap_or_default() {
        match k {
            "summary" => layer.summary = d_string(v).map_err(wrap)?,
            "description" => layer.description = d_string(v).map_err(wrap)?,
            "services" => {
                for (name, s) in d_named(v, "Service", d_service).map_err(wrap)? {
                    if name.is_empty() {
                        return Err("cannot use empty string as service name".into());
                    }
                    if name == "pebble" {
                        return Err(format!("cannot use reserved service name {name:?}"));
                    }
                    if name.starts_with('-') {
                        return Err(format!(
                            "cannot use service name {name:?}: starting with \"-\" not allowed"
                        ));
                    }
                    let s = s.ok_or_else(|| {
                        format!("service object cannot be null for service {name:?}")
                    })?;
                    layer.services.insert(name, s);
                }
            }
            "checks" => {
                for (name, c) in d_named(v, "Check", d_check).map_err(wrap)? {
                    if name.is_empty() {
                        return Err("cannot use empty string as check name".into());
                    }
                    let c =
                        c.ok_or_else(|| format!("check object cannot be null for check {name:?}"))?;
                    layer.checks.insert(name, c);
                }
            }
            _ => {
                for (name, t) in d_named(v, "LogTarget", d_log_target).map_err(wrap)? {
                    if name.is_empty() {
                        return Err("cannot use empty string as log target name".into());
                    }
                    let t = t.ok_or_else(|| {
                        format!("log target object cannot be null for log target {name:?}")
                    })?;
                    layer.log_targets.insert(name, t);
                }
            }
        }
    }
    let names: Vec<String> = layer.services.keys().cloned().collect();
    order(&layer.services, &names, false)?;
    Ok(layer)
}

/// Splits a command line the way Pebble's shlex does (quotes and backslashes), dropping
/// the `[ … ]` default-arguments brackets.
pub fn parse_command(cmd: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = cmd.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("EOF found when expecting closing quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => cur.push(c),
                            None => return Err("EOF found after escape character".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("EOF found when expecting closing quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => cur.push(c),
                    None => return Err("EOF found after escape character".into()),
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        args.push(cur);
    }
    let mut out = Vec::new();
    let (mut in_brackets, mut got_brackets) = (false, false);
    for (i, a) in args.into_iter().enumerate() {
        if in_brackets {
            match a.as_str() {
                "[" => return Err("cannot nest [ ... ] groups".into()),
                "]" => in_brackets = false,
                _ => out.push(a),
            }
            continue;
        }
        if got_brackets {
            return Err("cannot have any arguments after [ ... ] group".into());
        }
        match a.as_str() {
            "[" if i == 0 => return Err("cannot start command with [ ... ] group".into()),
            "[" => {
                in_brackets = true;
                got_brackets = true;
            }
            "]" => return Err("cannot have ] outside of [ ... ] group".into()),
            _ => out.push(a),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::tests::BASE;

    #[test]
    fn parses_layer_keeping_literal_scalars() {
        let l = parse_layer("base", BASE).unwrap();
        let web = &l.services["web"];
        assert_eq!(web.environment["MODE"], "0755");
        assert_eq!(web.environment["DEBUG"], "yes");
        assert_eq!(web.after, vec!["db"]);
        assert_eq!(l.summary, "base");
    }

    #[test]
    fn unknown_fields_are_errors_like_yaml_v3() {
        let e = parse_layer(
            "x",
            "services:\n  a:\n    override: replace\n    comand: x\n",
        )
        .unwrap_err();
        assert!(
            e.contains("field comand not found in type plan.Service"),
            "{e}"
        );
        assert!(
            e.starts_with("cannot parse layer \"x\": yaml: unmarshal errors:"),
            "{e}"
        );
    }

    #[test]
    fn commands_split_like_shlex() {
        assert_eq!(
            parse_command("/bin/x 'a b' \"c\\\"d\" [ --e ]").unwrap(),
            vec!["/bin/x", "a b", "c\"d", "--e"]
        );
        assert!(parse_command("x 'oops").is_err());
    }
}
