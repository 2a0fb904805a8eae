//! Secrets: `secret-add`, `secret-set`, `secret-get`, `secret-info-get`, `secret-grant`,
//! `secret-revoke`, `secret-remove`, `secret-ids`.
//!
//! Juju's rules (jujuc `secret-*.go`, J-CTX `HookContext`, the controller's
//! `SecretsManagerAPI.getSecretContent`):
//! - Content arrives as `KEY=VALUE`, `KEY#base64=VALUE` or `KEY#file=PATH` (what ops
//!   sends; the file is read at once). Keys must match `^[a-z](-?[a-z0-9]){2,}$`.
//! - `--owner application` (the default) needs leadership: `this unit is not the leader`.
//!   So do updating, granting, revoking and removing an application-owned secret. Only the
//!   leader sees application secrets' metadata (`secret-info-get`, `secret-ids`).
//! - Creates, updates (one new revision per hook however many `secret-set`s), removals,
//!   grants and revokes are buffered until the hook exits 0.
//! - The owner — and every unit of the owning application — reads the latest revision:
//!   the committed one, or this hook's pending content when the secret was created in this
//!   hook, or with `--refresh`/`--peek` after a `secret-set`.
//! - A consumer reads the revision it tracks. Its first read, and every `--refresh`, make
//!   it track the latest revision (at once, on the controller: this survives a failed
//!   hook); `--peek` reads the latest without tracking it.
//! - Unknown ids and labels are errors containing `not found`, which ops turns into
//!   `SecretNotFoundError`.

use super::flags::{FORMAT, OUTPUT, boolean, invalid_value, value};
use super::format::{render, string_map};
use super::{
    Change, Format, HookContext, OwnedSecret, SecretGrant, ToolError, ToolResult, UnitAgent,
    failed, secret_xid, usage,
};
use crate::engine::action::{Databag, Effect, SecretOwner};
use crate::engine::event::{Event, HookKind};
use crate::engine::world::secret_id;
use crate::target::clock::VirtualClock;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

const NOT_LEADER: &str = "this unit is not the leader";

fn valid_key(k: &str) -> bool {
    let b = k.as_bytes();
    if b.is_empty() || !b[0].is_ascii_lowercase() {
        return false;
    }
    let mut groups = 0;
    let mut i = 1;
    while i < b.len() {
        if b[i] == b'-' {
            i += 1;
        }
        match b.get(i) {
            Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit() => {
                groups += 1;
                i += 1;
            }
            _ => return false,
        }
    }
    groups >= 2
}

fn b64_encode(data: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// `secrets.CreateSecretData` + `encodeBase64`, keeping decoded values.
fn secret_data(args: &[String]) -> Result<Databag, ToolError> {
    let mut raw: Vec<(String, String)> = Vec::new();
    for val in args {
        let stripped = val.trim_end_matches('=');
        let idx = match stripped.find('=') {
            Some(i) if i >= 1 => i,
            _ => return Err(usage(format!("key value {val:?} not valid"))),
        };
        let key = &val[..idx];
        let value = &val[idx + 1..];
        match key.strip_suffix("#file") {
            Some(k) => {
                let content = std::fs::read(value).map_err(|e| {
                    usage(format!(
                        "reading content for secret key {k:?}: open {value}: {}",
                        io_reason(&e)
                    ))
                })?;
                raw.push((
                    k.to_string(),
                    String::from_utf8_lossy(&content).into_owned(),
                ));
            }
            None => raw.push((key.to_string(), value.to_string())),
        }
    }
    let mut out = Databag::new();
    for (k, v) in raw {
        let (key, decoded) = match k.strip_suffix("#base64") {
            Some(k) => (
                k.to_string(),
                b64_decode(&v)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or(v),
            ),
            None => (k, v),
        };
        if !valid_key(&key) {
            return Err(usage(format!("key {key:?} not valid")));
        }
        out.insert(key, decoded);
    }
    Ok(out)
}

/// Go's wording for the usual file errors.
fn io_reason(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory",
        std::io::ErrorKind::PermissionDenied => "permission denied",
        _ => "input/output error",
    }
}

// --- time, without a clock ---

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Seconds and nanoseconds since the epoch of `2006-01-02T15:04:05[.frac](Z|±hh:mm)`, or of
/// the same without a zone (UTC), as `secret-add --expire` accepts.
fn parse_time(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        nanos = format!("{digits:0<9}").parse().ok()?;
        rest = &frac[digits.len()..];
    }
    let offset = match rest {
        "" | "Z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) && &z[3..4] == ":" => {
            let oh: i64 = z[1..3].parse().ok()?;
            let om: i64 = z[4..6].parse().ok()?;
            let sign = if z.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    Some((secs, nanos))
}

/// Go's `time.Time` JSON form (RFC 3339 with trimmed nanoseconds) in UTC.
/// An RFC 3339 time as nanoseconds since the epoch (saturating: clocks are `i64`).
fn time_ns(t: &str) -> Option<i64> {
    let (secs, nanos) = parse_time(t)?;
    let ns = secs as i128 * 1_000_000_000 + nanos as i128;
    Some(ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// Nanoseconds since the epoch as an RFC 3339 time.
fn format_ns(ns: i128) -> String {
    format_time(
        ns.div_euclid(1_000_000_000) as i64,
        ns.rem_euclid(1_000_000_000) as u32,
    )
}

fn format_time(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Go's `time.ParseDuration`, in nanoseconds.
fn parse_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        if n.is_empty() {
            return None;
        }
        rest = &rest[n.len()..];
        let unit: String = rest
            .chars()
            .take_while(|c| !c.is_ascii_digit() && *c != '.')
            .collect();
        rest = &rest[unit.len()..];
        let scale = match unit.as_str() {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n.parse::<f64>().ok()? * scale;
    }
    Some(if neg { -total } else { total } as i128)
}

/// `--expire`: a time (RFC 3339, or without zone) or a positive duration from `now`.
fn parse_expire(spec: &str, now: &VirtualClock) -> Result<String, ToolError> {
    if let Some((s, n)) = parse_time(spec) {
        return Ok(format_time(s, n));
    }
    match parse_duration(spec) {
        None => Err(usage(format!("expire time or duration {spec:?} not valid"))),
        Some(d) if d <= 0 => Err(usage(format!(
            "negative expire duration {spec:?} not valid"
        ))),
        Some(d) => Ok(format_ns(now.now_ns as i128 + d)),
    }
}

/// Juju's timers that fire `event` move the unit's clock to when they fire:
/// `update-status` an interval after the last, `secret-expired` at the revision's expiry,
/// `secret-rotate` when the rotation falls due (and the next one is a period later).
pub(super) fn timer_fires(agent: &mut UnitAgent, event: &Event) {
    let secret = event
        .env("JUJU_SECRET_ID")
        .and_then(secret_xid)
        .and_then(|x| agent.secrets.get_mut(x));
    match (event.kind, secret) {
        (HookKind::UpdateStatus, _) => agent.clock.update_status(),
        (HookKind::SecretExpired, Some(s)) => {
            if let Some(t) = s.expiry.as_deref().and_then(time_ns) {
                agent.clock.reach(t);
            }
        }
        (HookKind::SecretRotate, Some(s)) => {
            if let Some(t) = s.rotates.as_deref().and_then(time_ns) {
                agent.clock.reach(t);
            }
            s.rotates = next_rotation(s.rotate.as_deref(), &agent.clock);
        }
        _ => {}
    }
}

/// When a secret given rotation `policy` now is next due (RFC 3339).
fn next_rotation(policy: Option<&str>, now: &VirtualClock) -> Option<String> {
    rotate_period(policy?).map(|p| format_ns(now.now_ns as i128 + p as i128 * 1_000_000_000))
}

fn rotate_period(policy: &str) -> Option<i64> {
    Some(match policy {
        "hourly" => 3600,
        "daily" => 86_400,
        "weekly" => 7 * 86_400,
        "monthly" => 30 * 86_400,
        "quarterly" => 90 * 86_400,
        "yearly" => 365 * 86_400,
        _ => return None,
    })
}

/// The flags `secret-add` and `secret-set` share, validated (`secretUpsertCommand.Init`).
struct Upsert {
    label: Option<String>,
    description: Option<String>,
    expiry: Option<String>,
    rotate: Option<String>,
    owner: SecretOwner,
    content: Databag,
}

const UPSERT_FLAGS: &[super::flags::Flag] = &[
    value(&["expire"]),
    value(&["rotate"]),
    value(&["description"]),
    value(&["label"]),
    value(&["file"]),
    value(&["owner"]),
];

fn upsert(
    a: &super::flags::Args,
    content_args: &[String],
    now: &VirtualClock,
) -> Result<Upsert, ToolError> {
    let nonempty = |k: &str| a.value(k).filter(|v| !v.is_empty()).map(String::from);
    let expiry = nonempty("expire")
        .map(|e| parse_expire(&e, now))
        .transpose()?;
    let rotate = nonempty("rotate");
    if let Some(r) = &rotate {
        if r != "never" && rotate_period(r).is_none() {
            return Err(usage(format!("rotate policy {r:?} not valid")));
        }
    }
    let owner = match a.value("owner").unwrap_or("application") {
        "application" => SecretOwner::App,
        "unit" => SecretOwner::Unit,
        o => return Err(usage(format!("secret owner {o:?} not valid"))),
    };
    let mut content = secret_data(content_args)?;
    if let Some(path) = nonempty("file") {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| usage(format!("open {path}: {}", io_reason(&e))))?;
        let from_file: BTreeMap<String, String> = match serde_json::from_str(&text) {
            Ok(m) => m,
            Err(_) => super::relations::parse_string_map(&text).map_err(usage)?,
        };
        let args: Vec<String> = from_file.iter().map(|(k, v)| format!("{k}={v}")).collect();
        content.extend(secret_data(&args)?);
    }
    Ok(Upsert {
        label: nonempty("label"),
        description: nonempty("description"),
        expiry,
        rotate,
        owner,
        content,
    })
}

/// `secrets.ParseURI` for a positional argument.
fn parse_uri(arg: &str) -> Result<String, ToolError> {
    secret_xid(arg)
        .map(String::from)
        .ok_or_else(|| usage(format!("secret URI {arg:?} not valid")))
}

impl HookContext {
    /// Whether this unit may see and manage the metadata of `s` (leaders see their
    /// application's secrets).
    fn manages(&self, s: &OwnedSecret) -> bool {
        s.owner == SecretOwner::Unit || self.leader
    }

    fn owned_by_label(&self, label: &str) -> Option<String> {
        self.owned
            .iter()
            .find(|(_, s)| s.label.as_deref() == Some(label))
            .map(|(x, _)| x.clone())
    }

    fn consumer_by_label(&self, label: &str) -> Option<String> {
        self.consumed
            .iter()
            .find(|(x, c)| c.label.as_deref() == Some(label) && self.consumers.contains_key(*x))
            .map(|(x, _)| x.clone())
            .or_else(|| {
                self.consumers
                    .iter()
                    .find(|(_, c)| c.world_label.as_deref() == Some(label))
                    .map(|(x, _)| x.clone())
            })
    }

    fn label_taken(&self, label: &str, owner: SecretOwner, except: Option<&str>) -> bool {
        self.owned.iter().any(|(x, s)| {
            s.owner == owner && s.label.as_deref() == Some(label) && Some(x.as_str()) != except
        })
    }

    fn fresh_xid(&mut self) -> String {
        loop {
            let id = secret_id(0x4000_0000 + self.next_secret);
            self.next_secret += 1;
            let xid = secret_xid(&id).unwrap_or_default().to_string();
            if !self.owned.contains_key(&xid) && !self.consumers.contains_key(&xid) {
                return xid;
            }
        }
    }

    pub(super) fn secret_add(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, UPSERT_FLAGS)?;
        if a.pos.is_empty() && a.value("file").is_none_or(str::is_empty) {
            return Err(usage("missing secret value or filename"));
        }
        let u = upsert(&a, &a.pos, &self.now)?;
        if u.owner == SecretOwner::App && !self.leader {
            return Err(failed(NOT_LEADER));
        }
        if u.content.is_empty() {
            return Err(failed("empty secret value not valid"));
        }
        if let Some(l) = &u.label {
            if self.label_taken(l, u.owner, None) {
                return Err(failed(format!("secret with label {l:?} already exists")));
            }
        }
        let xid = self.fresh_xid();
        let id = format!("secret:{xid}");
        self.owned.insert(
            xid.clone(),
            OwnedSecret {
                id: id.clone(),
                owner: u.owner,
                label: u.label,
                description: u.description,
                expiry: u.expiry,
                rotates: next_rotation(u.rotate.as_deref(), &self.now),
                rotate: u.rotate,
                latest: 1,
                revisions: BTreeMap::from([(1, u.content)]),
                grants: BTreeSet::new(),
            },
        );
        self.secrets_created.push(xid);
        Ok(format!("{id}\n").into_bytes())
    }

    /// Look up a secret this unit owns for an update: consumers may not, unknown ids are
    /// not found.
    fn owned_for_update(&self, xid: &str) -> Result<(), ToolError> {
        match self.owned.get(xid) {
            Some(s) if s.owner == SecretOwner::App && !self.leader => Err(failed(NOT_LEADER)),
            Some(_) => Ok(()),
            None if self.consumers.contains_key(xid) => Err(failed("permission denied")),
            None => Err(failed(format!("secret {xid:?} not found"))),
        }
    }

    pub(super) fn secret_set(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, UPSERT_FLAGS)?;
        let Some(uri) = a.pos.first() else {
            return Err(usage("missing secret URI"));
        };
        let xid = parse_uri(uri)?;
        let u = upsert(&a, &a.pos[1..], &self.now)?;
        self.owned_for_update(&xid)?;
        let owner = self.owned[&xid].owner;
        if let Some(l) = &u.label {
            if self.label_taken(l, owner, Some(&xid)) {
                return Err(failed(format!("secret with label {l:?} already exists")));
            }
        }
        let created = self.secrets_created.contains(&xid);
        let revised = self.secrets_revised.contains(&xid);
        let s = self.owned.get_mut(&xid).expect("checked");
        let metadata = u.label.is_some()
            || u.description.is_some()
            || u.expiry.is_some()
            || u.rotate.is_some();
        if u.label.is_some() {
            s.label = u.label;
        }
        if u.description.is_some() {
            s.description = u.description;
        }
        if u.expiry.is_some() {
            s.expiry = u.expiry;
        }
        if u.rotate.is_some() {
            s.rotates = next_rotation(u.rotate.as_deref(), &self.now);
            s.rotate = u.rotate;
        }
        if !u.content.is_empty() && u.content != s.latest_content() {
            if created || revised {
                // One revision per hook: later sets replace the pending content.
                s.revisions.insert(s.latest, u.content);
            } else {
                s.latest += 1;
                s.revisions.insert(s.latest, u.content);
                self.secrets_revised.insert(xid.clone());
            }
        }
        if metadata && !created {
            let id = s.id.clone();
            self.secret_changes.push(Change::SecretMetadata { id });
        }
        Ok(Vec::new())
    }

    pub(super) fn secret_get(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(
            args,
            &[
                FORMAT,
                OUTPUT,
                value(&["label"]),
                boolean(&["peek"]),
                boolean(&["refresh"]),
            ],
        )?;
        let format = self.format_of(&a, Format::Yaml, &["yaml", "json"])?;
        let uri = a.pos.first().map(|u| parse_uri(u)).transpose()?;
        let label = a.value("label").filter(|l| !l.is_empty()).map(String::from);
        if uri.is_none() && label.is_none() {
            return Err(usage("require either a secret URI or label"));
        }
        let (peek, refresh) = (a.flag("peek"), a.flag("refresh"));
        if peek && refresh {
            return Err(usage("specify one of --peek or --refresh but not both"));
        }
        let key = a.pos.get(1).cloned();
        self.no_more_args(a.pos.get(2..).unwrap_or(&[]))?;

        let owned = match &uri {
            Some(x) => self.owned.contains_key(x).then(|| x.clone()),
            None => label.as_deref().and_then(|l| self.owned_by_label(l)),
        };
        let content = if let Some(xid) = owned {
            let created = self.secrets_created.contains(&xid);
            let revised = self.secrets_revised.contains(&xid);
            if created || ((refresh || peek) && revised) {
                self.owned[&xid].latest_content()
            } else {
                self.owned_before
                    .get(&xid)
                    .unwrap_or(&self.owned[&xid])
                    .latest_content()
            }
        } else {
            let xid = match (&uri, &label) {
                (Some(x), _) => {
                    if !self.consumers.contains_key(x) {
                        return Err(failed(format!("secret {x:?} not found")));
                    }
                    x.clone()
                }
                (None, Some(l)) => self
                    .consumer_by_label(l)
                    .ok_or_else(|| failed(format!("consumer label {l:?} not found")))?,
                (None, None) => unreachable!("checked above"),
            };
            self.consumer_read(
                &xid,
                uri.is_some().then_some(label).flatten(),
                refresh,
                peek,
            )
        };
        let out = match key {
            None => string_map(&content),
            Some(k) => {
                let (name, b64) = match k.strip_suffix("#base64") {
                    Some(n) => (n.to_string(), true),
                    None => (k.clone(), false),
                };
                let v = content
                    .get(&name)
                    .ok_or_else(|| failed(format!("secret key {name:?} not found")))?;
                Value::String(if b64 {
                    b64_encode(v.as_bytes())
                } else {
                    v.clone()
                })
            }
        };
        Ok(render(format, &out))
    }

    /// A consumer's read: the tracked revision, or the latest (tracking it on the first
    /// read and with `--refresh`).
    fn consumer_read(
        &mut self,
        xid: &str,
        new_label: Option<String>,
        refresh: bool,
        peek: bool,
    ) -> Databag {
        let view = self.consumers[xid].clone();
        let entry = self.consumed.entry(xid.to_string()).or_default();
        let track = refresh || entry.tracked.is_none();
        let revision = if track || peek {
            view.latest
        } else {
            entry.tracked.unwrap_or(view.latest)
        };
        if track {
            entry.tracked = Some(view.latest);
            if view.latest != view.world_tracked {
                self.tracked.insert(view.world_id.clone(), view.latest);
            } else {
                self.tracked.remove(&view.world_id);
            }
        }
        if let Some(l) = new_label {
            entry.label = Some(l);
        }
        entry
            .revisions
            .get(&revision)
            .cloned()
            .unwrap_or(view.latest_content)
    }

    /// The metadata `secret-info-get` shows for an owned secret.
    fn secret_info(&self, s: &OwnedSecret) -> Value {
        let mut m = Map::new();
        m.insert("revision".into(), json!(s.latest));
        m.insert("label".into(), json!(s.label.clone().unwrap_or_default()));
        m.insert(
            "owner".into(),
            json!(match s.owner {
                SecretOwner::App => "application",
                SecretOwner::Unit => "unit",
            }),
        );
        if let Some(d) = &s.description {
            m.insert("description".into(), json!(d));
        }
        if let Some(r) = &s.rotate {
            m.insert("rotation".into(), json!(r));
        }
        if let Some(e) = &s.expiry {
            m.insert("expiry".into(), json!(e));
        }
        if let Some(t) = &s.rotates {
            m.insert("rotates".into(), json!(t));
        }
        if !s.grants.is_empty() {
            let access: Vec<Value> = s
                .grants
                .iter()
                .map(|g| {
                    let target = match &g.unit {
                        Some(u) => format!("unit-{}", u.replace('/', "-")),
                        None => format!("application-{}", g.app),
                    };
                    json!({"target": target, "scope": format!("relation-{}", g.relation_id), "role": "view"})
                })
                .collect();
            m.insert("access".into(), Value::Array(access));
        }
        Value::Object(m)
    }

    pub(super) fn secret_info_get(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT, value(&["label"])])?;
        let format = self.format_of(&a, Format::Yaml, &["yaml", "json"])?;
        let uri = a.pos.first().map(|u| parse_uri(u)).transpose()?;
        let label = a.value("label").filter(|l| !l.is_empty()).map(String::from);
        match (&uri, &label) {
            (None, None) => return Err(usage("require either a secret URI or label")),
            (Some(_), Some(_)) => {
                return Err(usage("specify either a secret URI or label but not both"));
            }
            _ => {}
        }
        self.no_more_args(a.pos.get(1..).unwrap_or(&[]))?;
        let found = self.owned.iter().find(|(x, s)| {
            self.manages(s)
                && match (&uri, &label) {
                    (Some(u), _) => *x == u,
                    (_, Some(l)) => s.label.as_deref() == Some(l.as_str()),
                    _ => false,
                }
        });
        let Some((xid, s)) = found else {
            let want = uri.or(label).unwrap_or_default();
            return Err(failed(format!("secret {want:?} not found")));
        };
        let mut m = Map::new();
        m.insert(xid.clone(), self.secret_info(s));
        Ok(render(format, &Value::Object(m)))
    }

    pub(super) fn secret_ids(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT])?;
        let format = self.format_of(&a, Format::Yaml, &["yaml", "json"])?;
        self.no_more_args(&a.pos)?;
        let ids: Vec<Value> = self
            .owned
            .iter()
            .filter(|(_, s)| self.manages(s))
            .map(|(x, _)| Value::String(format!("secret:{x}")))
            .collect();
        Ok(render(format, &Value::Array(ids)))
    }

    pub(super) fn secret_grant(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[value(&["r", "relation"]), value(&["unit"])])?;
        let Some(uri) = a.pos.first() else {
            return Err(usage("missing secret URI"));
        };
        let xid = parse_uri(uri)?;
        let rel = self.relation_arg(&a)?;
        let app = self.relations[&rel].remote_app.clone();
        let unit = a.value("unit").filter(|u| !u.is_empty()).map(String::from);
        if let Some(u) = &unit {
            if !super::relations::valid_unit(u) {
                return Err(usage(format!("unit {u:?} not valid")));
            }
            if u.rsplit_once('/').map(|x| x.0) != Some(app.as_str()) {
                return Err(usage(format!(
                    "cannot specify unit {u:?} in relation to application {app:?}"
                )));
            }
        }
        self.no_more_args(&a.pos[1..])?;
        let visible = self.owned.get(&xid).is_some_and(|s| self.manages(s));
        if !visible {
            return Err(failed(format!("secret {xid:?} not found")));
        }
        let s = self.owned.get_mut(&xid).expect("checked");
        let grant = SecretGrant {
            relation_id: rel,
            app,
            unit,
        };
        let app_wide = s
            .grants
            .iter()
            .any(|g| g.relation_id == rel && g.unit.is_none());
        if s.grants.contains(&grant) || app_wide {
            return Ok(Vec::new());
        }
        if grant.unit.is_none() && s.grants.iter().any(|g| g.relation_id == rel) {
            return Err(failed(
                "any unit level grants need to be revoked before granting access to the corresponding application",
            ));
        }
        s.grants.insert(grant.clone());
        let id = s.id.clone();
        self.secret_changes
            .push(Change::SecretGranted { id, grant });
        Ok(Vec::new())
    }

    pub(super) fn secret_revoke(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(
            args,
            &[value(&["r", "relation"]), value(&["app"]), value(&["unit"])],
        )?;
        let Some(uri) = a.pos.first() else {
            return Err(usage("missing secret URI"));
        };
        let xid = parse_uri(uri)?;
        let rel = if a.value("r").is_some() {
            Some(self.relation_arg(&a)?)
        } else {
            None
        };
        let unit = a.value("unit").filter(|u| !u.is_empty()).map(String::from);
        let app = a.value("app").filter(|u| !u.is_empty()).map(String::from);
        if rel.is_none() && unit.is_none() && app.is_none() {
            return Err(usage("missing relation or application or unit"));
        }
        self.no_more_args(&a.pos[1..])?;
        let leader = self.leader;
        let Some(s) = self.owned.get_mut(&xid) else {
            return Err(failed(format!("secret {xid:?} not found")));
        };
        if s.owner == SecretOwner::App && !leader {
            return Err(failed(NOT_LEADER));
        }
        s.grants.retain(|g| {
            let hit = rel.is_none_or(|r| g.relation_id == r)
                && app.as_ref().is_none_or(|x| *x == g.app)
                && (unit.is_none() || g.unit == unit);
            !hit
        });
        let id = s.id.clone();
        if let Some(relation_id) = rel {
            self.secret_changes.push(Change::SecretRevoked {
                id,
                relation_id,
                unit,
            });
        }
        Ok(Vec::new())
    }

    pub(super) fn secret_remove(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[value(&["revision"])])?;
        let Some(uri) = a.pos.first() else {
            return Err(usage("missing secret URI"));
        };
        let xid = parse_uri(uri)?;
        let revision = match a.value("revision") {
            None => None,
            Some(v) => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| invalid_value(v, &a.spelling("revision"), "parse error"))?;
                (n > 0).then_some(n as u32)
            }
        };
        self.no_more_args(&a.pos[1..])?;
        self.owned_for_update(&xid)?;
        let s = self.owned.get_mut(&xid).expect("checked");
        let id = s.id.clone();
        match revision {
            Some(r) => {
                s.revisions.remove(&r);
            }
            None => {
                self.owned.remove(&xid);
            }
        }
        self.secret_changes.push(Change::SecretRemoved {
            id: id.clone(),
            revision,
        });
        self.secret_effects
            .push(Effect::SecretRemoved { id, revision });
        Ok(Vec::new())
    }

    /// The buffered secret changes and effects, in Juju's flush order: creates, updates,
    /// then the rest (grants, revokes, removals) as they were made.
    pub(super) fn secret_commit(&mut self) -> (Vec<Change>, Vec<Effect>) {
        let mut changes = Vec::new();
        let mut effects = Vec::new();
        for xid in &self.secrets_created {
            // A secret created and removed in the same hook leaves only its removal.
            let Some(s) = self.owned.get(xid) else {
                continue;
            };
            changes.push(Change::SecretCreated {
                id: s.id.clone(),
                owner: s.owner,
                label: s.label.clone(),
            });
            effects.push(Effect::SecretCreated {
                id: s.id.clone(),
                owner: s.owner,
                label: s.label.clone(),
            });
        }
        for xid in &self.secrets_revised {
            if let Some(s) = self.owned.get(xid) {
                changes.push(Change::SecretRevised {
                    id: s.id.clone(),
                    revision: s.latest,
                });
                effects.push(Effect::SecretRevised { id: s.id.clone() });
            }
        }
        changes.append(&mut self.secret_changes);
        effects.append(&mut self.secret_effects);
        (changes, effects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(valid_key("password"));
        assert!(valid_key("tls-key"));
        assert!(valid_key("abc"));
        assert!(!valid_key("ab"));
        assert!(!valid_key("Key"));
        assert!(!valid_key("a--b"));
        assert!(!valid_key("1abc"));
    }

    #[test]
    fn base64_round_trip() {
        for s in ["", "a", "ab", "abc", "hello world"] {
            assert_eq!(b64_decode(&b64_encode(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(b64_encode(b"abc"), "YWJj");
    }

    #[test]
    fn times() {
        let now = VirtualClock::default();
        assert_eq!(time_ns("2025-01-01T00:00:00Z"), Some(now.now_ns));
        assert_eq!(
            format_ns(now.now_ns as i128 + 5),
            "2025-01-01T00:00:00.000000005Z"
        );
        assert_eq!(
            format_time(parse_time("2025-03-01T10:00:00+02:00").unwrap().0, 0),
            "2025-03-01T08:00:00Z"
        );
        assert_eq!(
            parse_expire("2024-02-29T23:59:59.5-01:00", &now).unwrap(),
            "2024-03-01T00:59:59.5Z"
        );
        assert_eq!(parse_expire("24h", &now).unwrap(), "2025-01-02T00:00:00Z");
        assert_eq!(parse_expire("1h30m", &now).unwrap(), "2025-01-01T01:30:00Z");
        assert!(parse_expire("-1h", &now).is_err());
        assert!(parse_expire("tomorrow", &now).is_err());
        assert_eq!(format_time(0, 0), "1970-01-01T00:00:00Z");
    }
}
