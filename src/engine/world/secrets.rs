//! Secrets: content the charm owns or is granted, with revisions (juju-model.md §L2.10).
//!
//! A secret is owned by a unit or by an application (then its leader manages it) and read
//! by consumers: other applications over a relation, or the user (`juju grant-secret`).
//! Owners publish new revisions; the agent tells consumers with `secret-changed`, and tells
//! the owner when a rotation is due (`secret-rotate`), a revision expires
//! (`secret-expired`) or an old revision is no longer tracked by anyone (`secret-remove`).

use super::{Hook, NotApplicable, World};
use crate::engine::action::{Action, ActionKind, Databag, SecretOrigin, SecretOwner};
use std::collections::BTreeSet;

/// This unit's relationship to a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRole {
    /// Someone else owns it; this unit reads it.
    Consumer(SecretOrigin),
    /// The charm created it (owned by this unit, or by the application).
    Owner(SecretOwner),
}

/// A secret the unit owns or consumes (juju-model.md §L2.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub id: String,
    pub role: SecretRole,
    pub label: Option<String>,
    /// Content of the latest revision, where the engine knows it (consumed secrets).
    pub content: Databag,
    pub latest_revision: u32,
    /// Consumers: the revision the unit tracks (`secret-get` without `--refresh`).
    pub tracked_revision: u32,
    /// Revisions removed by the owner.
    pub removed_revisions: BTreeSet<u32>,
    /// Pending hooks.
    pub changed_pending: bool,
    pub rotate_pending: bool,
    pub expired_pending: BTreeSet<u32>,
    pub remove_pending: BTreeSet<u32>,
    /// Revisions whose `secret-remove` already ran (once per revision).
    pub remove_done: BTreeSet<u32>,
}

impl World {
    pub fn secret(&self, id: &str) -> Option<&Secret> {
        self.secrets.iter().find(|s| s.id == id)
    }
    pub(super) fn secret_mut(&mut self, id: &str) -> Option<&mut Secret> {
        self.secrets.iter_mut().find(|s| s.id == id)
    }
    /// A fresh secret id in Juju's `secret:<20 chars>` form.
    pub fn fresh_secret_id(&self) -> String {
        secret_id(self.next_secret)
    }
    /// User secrets granted to this application (values for `secret` config options).
    pub fn user_secrets(&self) -> impl Iterator<Item = &Secret> {
        self.secrets
            .iter()
            .filter(|s| matches!(s.role, SecretRole::Consumer(SecretOrigin::User)))
    }
    /// Whether the unit receives owner hooks for `s` right now: its own unit-owned secrets,
    /// and app-owned ones while it leads (juju-model.md §L2.10).
    pub fn owns_now(&self, s: &Secret) -> bool {
        match s.role {
            SecretRole::Owner(SecretOwner::Unit) => true,
            SecretRole::Owner(SecretOwner::App) => self.leader,
            SecretRole::Consumer(_) => false,
        }
    }
    /// Whether someone else may publish a new revision of `s` that this unit consumes.
    pub fn revisable(&self, s: &Secret) -> bool {
        match &s.role {
            SecretRole::Consumer(_) => true,
            // §L8.8: another unit of this application (the leader) revised an app-owned
            // secret this non-leader reads.
            SecretRole::Owner(SecretOwner::App) => {
                self.opts.secret_changed_for_owner_app_peers && !self.leader
            }
            SecretRole::Owner(SecretOwner::Unit) => false,
        }
    }
    /// Revisions of an owned secret that still exist.
    pub fn live_revisions(&self, s: &Secret) -> Vec<u32> {
        (1..=s.latest_revision)
            .filter(|r| !s.removed_revisions.contains(r))
            .collect()
    }
    /// Old revisions that could stop being tracked (and so get `secret-remove`).
    pub fn obsolete_candidates(&self, s: &Secret) -> Vec<u32> {
        (1..s.latest_revision)
            .filter(|r| {
                !s.removed_revisions.contains(r)
                    && !s.remove_done.contains(r)
                    && !s.remove_pending.contains(r)
            })
            .collect()
    }

    pub(super) fn secrets_enabled(&self, kind: ActionKind, alive: bool) -> bool {
        use ActionKind as K;
        match kind {
            K::SecretGranted => alive && self.installed,
            K::SecretRevised => alive && self.secrets.iter().any(|s| self.revisable(s)),
            K::SecretRotateDue => alive && self.secrets.iter().any(|s| self.owns_now(s)),
            K::SecretExpired => self
                .secrets
                .iter()
                .any(|s| alive && self.owns_now(s) && !self.live_revisions(s).is_empty()),
            K::SecretRevisionObsolete => {
                alive
                    && self
                        .secrets
                        .iter()
                        .any(|s| self.owns_now(s) && !self.obsolete_candidates(s).is_empty())
            }
            _ => unreachable!("{kind} is not a secret action"),
        }
    }

    pub(super) fn apply_secrets(
        &mut self,
        action: &Action,
        na: impl Fn(&str) -> NotApplicable,
    ) -> Result<(), NotApplicable> {
        use Action as A;
        match action {
            A::SecretGranted {
                id,
                origin,
                content,
            } => {
                if self.secret(id).is_some() || id != &self.fresh_secret_id() {
                    return Err(na("expected a fresh secret id"));
                }
                if let SecretOrigin::App { relation_id, .. } = origin {
                    if self.relation(*relation_id).is_none() {
                        return Err(na("no such relation"));
                    }
                }
                self.next_secret += 1;
                self.secrets.push(Secret {
                    id: id.clone(),
                    role: SecretRole::Consumer(origin.clone()),
                    label: None,
                    content: content.clone(),
                    latest_revision: 1,
                    // The engine assumes the charm reads what it is granted; a target that
                    // sees the charm's `secret-get` calls reports `SecretTracked` instead.
                    tracked_revision: 1,
                    removed_revisions: BTreeSet::new(),
                    changed_pending: false,
                    rotate_pending: false,
                    expired_pending: BTreeSet::new(),
                    remove_pending: BTreeSet::new(),
                    remove_done: BTreeSet::new(),
                });
            }
            A::SecretRevised { id, content } => {
                let ok = self.secret(id).map(|s| self.revisable(s)).unwrap_or(false);
                if !ok {
                    return Err(na("no such consumed secret"));
                }
                let s = self.secret_mut(id).unwrap();
                s.latest_revision += 1;
                s.content = content.clone();
                s.changed_pending = s.tracked_revision != s.latest_revision;
            }
            A::SecretRotateDue { id } => {
                if !self.secret(id).map(|s| self.owns_now(s)).unwrap_or(false) {
                    return Err(na("this unit does not own that secret now"));
                }
                self.secret_mut(id).unwrap().rotate_pending = true;
            }
            A::SecretExpired { id, revision } => {
                let ok = self
                    .secret(id)
                    .map(|s| self.owns_now(s) && self.live_revisions(s).contains(revision));
                if ok != Some(true) {
                    return Err(na("no such live revision of an owned secret"));
                }
                self.secret_mut(id)
                    .unwrap()
                    .expired_pending
                    .insert(*revision);
            }
            A::SecretRevisionObsolete { id, revision } => {
                let ok = self
                    .secret(id)
                    .map(|s| self.owns_now(s) && self.obsolete_candidates(s).contains(revision));
                if ok != Some(true) {
                    return Err(na("no such old revision of an owned secret"));
                }
                self.secret_mut(id)
                    .unwrap()
                    .remove_pending
                    .insert(*revision);
            }
            _ => unreachable!("{} is not a secret action", action.kind()),
        }
        Ok(())
    }

    /// Step 8: secrets (expired → rotate → changed → remove).
    pub(super) fn secret_candidates(&self) -> Option<Vec<Hook>> {
        if self.is_dying() {
            return None;
        }
        self.secret_candidate().map(|h| vec![h])
    }

    fn secret_candidate(&self) -> Option<Hook> {
        let owned = |s: &&Secret| matches!(s.role, SecretRole::Owner(_)) && self.owns_now(s);
        if let Some((s, r)) = self
            .secrets
            .iter()
            .filter(owned)
            .find_map(|s| s.expired_pending.first().map(|r| (s, *r)))
        {
            return Some(Hook::SecretExpired {
                id: s.id.clone(),
                revision: r,
            });
        }
        if let Some(s) = self.secrets.iter().filter(owned).find(|s| s.rotate_pending) {
            return Some(Hook::SecretRotate { id: s.id.clone() });
        }
        // Never to the owner: an app-owned secret's changes skip the leader (§L2.10).
        let to_owner = |s: &Secret| s.role == SecretRole::Owner(SecretOwner::App) && self.leader;
        if let Some(s) = self
            .secrets
            .iter()
            .find(|s| s.changed_pending && !to_owner(s))
        {
            return Some(Hook::SecretChanged { id: s.id.clone() });
        }
        if let Some((s, r)) = self
            .secrets
            .iter()
            .filter(owned)
            .find_map(|s| s.remove_pending.first().map(|r| (s, *r)))
        {
            return Some(Hook::SecretRemove {
                id: s.id.clone(),
                revision: r,
            });
        }
        None
    }

    /// Commit a secret hook.
    pub(super) fn commit_secret(&mut self, hook: &Hook) {
        match hook {
            Hook::SecretChanged { id } => {
                if let Some(s) = self.secret_mut(id) {
                    s.changed_pending = false;
                }
            }
            Hook::SecretRotate { id } => {
                if let Some(s) = self.secret_mut(id) {
                    s.rotate_pending = false;
                }
            }
            Hook::SecretExpired { id, revision } => {
                if let Some(s) = self.secret_mut(id) {
                    s.expired_pending.remove(revision);
                }
            }
            Hook::SecretRemove { id, revision } => {
                if let Some(s) = self.secret_mut(id) {
                    s.remove_pending.remove(revision);
                    s.remove_done.insert(*revision);
                }
            }
            _ => unreachable!("{hook:?} is not a secret hook"),
        }
    }
}

/// The `n`th secret id: `secret:` and 20 lower-case base32 characters, like Juju's xids.
pub fn secret_id(n: u32) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    let mut x = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xC0FF_EE00_D15E_A5E5;
    let mut s = String::from("secret:");
    for _ in 0..20 {
        s.push(ALPHABET[(x & 31) as usize] as char);
        x = x.rotate_right(5) ^ (n as u64 + 1);
    }
    s
}
