//! Secrets: `secret-changed`, `secret-rotate`, `secret-expired`, `secret-remove`.
//!
//! A secret has an owner (this unit, or its application, whose leader acts for it) and
//! consumers. The owner hears about its own secret's lifecycle — rotation due, a revision
//! expired, a revision no consumer tracks any more — and a consumer hears that a new
//! revision exists; never the other way round (§L2.15.11, §L2.10). Which secrets the charm
//! owns comes from its own reports ([`Effect::SecretCreated`] …), as do the revisions and
//! removals that end rotation and expiry.

use super::{Found, Rule, Validator, found};
use crate::engine::action::{Action, Effect, SecretOwner};
use crate::engine::event::{Event, HookKind};

impl Validator<'_> {
    /// The secret actions: granted, revised, rotation due, expired, revision obsolete.
    pub(super) fn secret_action(&mut self, what: &str, action: &Action) {
        match action {
            Action::SecretGranted { .. } => {}
            Action::SecretRevised { id, .. } => {
                self.revised.insert(id.clone());
            }
            Action::SecretRotateDue { id } => {
                self.rotate_due.insert(id.clone());
            }
            Action::SecretExpired { id, revision } => {
                self.expired.insert((id.clone(), *revision));
            }
            Action::SecretRevisionObsolete { id, revision } => {
                self.obsolete.insert((id.clone(), *revision));
            }
            _ => unreachable!("{what} is not a secret action"),
        }
    }

    pub(super) fn check_secret(&self, ev: &Event) -> Option<Found> {
        use HookKind as K;
        let id = ev.env("JUJU_SECRET_ID")?;
        let owner = self.owned.get(id).copied();
        if ev.kind == K::SecretChanged {
            // §L2.15.11 / §L2.10: never to the owning unit; for an app-owned secret never to
            // the leader (non-leader peers are consumers since J-PR16997, §L8.8).
            match owner {
                Some(SecretOwner::Unit) => {
                    return found(Rule::Secret, format!("secret-changed for own secret {id}"));
                }
                Some(SecretOwner::App) if self.leader => {
                    return found(
                        Rule::Secret,
                        format!("secret-changed for app secret {id} on the leader"),
                    );
                }
                _ => {}
            }
            if !self.revised.contains(id) {
                return found(
                    Rule::Unprompted,
                    format!("secret-changed({id}) without a new revision"),
                );
            }
            return None;
        }
        // §L2.15.11: rotate/expired/remove only to the owner unit, or the leader (app).
        match owner {
            None => {
                return found(
                    Rule::Secret,
                    format!("{} for {id}, not owned by this unit or its app", ev.hook),
                );
            }
            Some(SecretOwner::App) if !self.leader => {
                return found(
                    Rule::Secret,
                    format!("{} for app secret {id} on a non-leader", ev.hook),
                );
            }
            _ => {}
        }
        let rev = ev
            .env("JUJU_SECRET_REVISION")
            .and_then(|r| r.parse::<u32>().ok());
        let pending = match ev.kind {
            K::SecretRotate => self.rotate_due.contains(id),
            K::SecretExpired => rev.is_some_and(|r| self.expired.contains(&(id.to_string(), r))),
            K::SecretRemove => rev.is_some_and(|r| self.obsolete.contains(&(id.to_string(), r))),
            _ => true,
        };
        if !pending {
            return found(
                Rule::Unprompted,
                format!("{} for {id} without a matching secret action", ev.hook),
            );
        }
        None
    }

    pub(super) fn commit_secret(&mut self, ev: &Event) {
        use HookKind as K;
        match ev.kind {
            K::SecretChanged => {
                if let Some(id) = ev.env("JUJU_SECRET_ID") {
                    self.revised.remove(id);
                }
            }
            K::SecretRemove => {
                if let (Some(id), Some(r)) = (
                    ev.env("JUJU_SECRET_ID"),
                    ev.env("JUJU_SECRET_REVISION").and_then(|r| r.parse().ok()),
                ) {
                    self.obsolete.remove(&(id.to_string(), r));
                }
            }
            // Rotation and expiry repeat until the charm acts (§L2.10).
            K::SecretRotate | K::SecretExpired => {}
            _ => {}
        }
    }

    /// What the charm did to its own secrets.
    pub(super) fn secret_effect(&mut self, effect: &Effect) {
        match effect {
            Effect::SecretCreated { id, owner, .. } => {
                self.owned.insert(id.clone(), *owner);
            }
            Effect::SecretRevised { id } => {
                // §L2.10: a new revision ends rotation.
                self.rotate_due.remove(id);
            }
            Effect::SecretRemoved { id, revision } => match revision {
                Some(r) => {
                    self.expired.remove(&(id.clone(), *r));
                }
                None => {
                    self.owned.remove(id);
                    self.rotate_due.remove(id);
                    self.expired.retain(|(i, _)| i != id);
                    self.obsolete.retain(|(i, _)| i != id);
                }
            },
            _ => {}
        }
    }
}
