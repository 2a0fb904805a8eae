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
//!
//! Layout: the tools themselves here; `content` reads the content the charm hands over,
//! `time` the expiry and rotation times (and the timers that fire on them).

mod content;
mod time;

use content::{b64_encode, io_reason, secret_data};
pub(super) use time::timer_fires;
use time::{next_rotation, parse_expire, rotate_period};

use super::flags::{FORMAT, OUTPUT, boolean, invalid_value, value};
use super::format::{render, string_map};
use super::{
    Change, Format, HookContext, OwnedSecret, SecretGrant, ToolError, ToolResult, failed,
    secret_xid, usage,
};
use crate::engine::action::{Databag, Effect, SecretOwner};
use crate::engine::world::secret_id;
use crate::target::clock::VirtualClock;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

const NOT_LEADER: &str = "this unit is not the leader";

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
