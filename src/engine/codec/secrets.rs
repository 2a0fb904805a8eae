//! Generators for secrets: who grants a secret and with what content, which consumed
//! secret gets a new revision, which owned secret (and revision) is due, expired or
//! obsolete.

use super::{Driver, EncodeError, Tape};
use crate::engine::action::{Action, ActionKind, Databag, SecretOrigin};

impl<T: Tape> Driver<'_, T> {
    pub(super) fn gen_secrets(
        &mut self,
        kind: ActionKind,
        target: Option<&Action>,
    ) -> Result<Action, EncodeError> {
        use Action as A;
        use ActionKind as K;
        let w = &self.world;
        Ok(match kind {
            K::SecretGranted => {
                let mut origins = vec![SecretOrigin::User];
                for r in w.relations.iter().filter(|r| !r.peer && !r.dying) {
                    origins.push(SecretOrigin::App {
                        app: r.remote_app.clone(),
                        relation_id: r.id,
                    });
                }
                let (want_o, want_c) = match target {
                    Some(A::SecretGranted {
                        origin, content, ..
                    }) => (Some(origin), Some(content)),
                    _ => (None, None),
                };
                let origin = origins[self.pick("secret owner", &origins, want_o)?].clone();
                let id = self.world.fresh_secret_id();
                let samples = self.vocab.secret_samples.clone();
                let mut content = self.gen_databag(&Databag::new(), &samples, want_c)?;
                if content.is_empty() {
                    // Juju refuses empty secrets.
                    content.insert("value".into(), "s3cr3t".into());
                }
                A::SecretGranted {
                    id,
                    origin,
                    content,
                }
            }
            K::SecretRevised => {
                let ids: Vec<String> = w
                    .secrets
                    .iter()
                    .filter(|s| w.revisable(s))
                    .map(|s| s.id.clone())
                    .collect();
                let (want_id, want_c) = match target {
                    Some(A::SecretRevised { id, content }) => (Some(id), Some(content)),
                    _ => (None, None),
                };
                let id = ids[self.pick("secret", &ids, want_id)?].clone();
                let old = self.world.secret(&id).unwrap().content.clone();
                let samples = self.vocab.secret_samples.clone();
                let content = self.gen_databag(&old, &samples, want_c)?;
                A::SecretRevised { id, content }
            }
            K::SecretRotateDue | K::SecretExpired | K::SecretRevisionObsolete => {
                let ids: Vec<String> = w
                    .secrets
                    .iter()
                    .filter(|s| w.owns_now(s))
                    .filter(|s| match kind {
                        K::SecretExpired => !w.live_revisions(s).is_empty(),
                        K::SecretRevisionObsolete => !w.obsolete_candidates(s).is_empty(),
                        _ => true,
                    })
                    .map(|s| s.id.clone())
                    .collect();
                let (want_id, want_rev) = match target {
                    Some(A::SecretRotateDue { id }) => (Some(id), None),
                    Some(
                        A::SecretExpired { id, revision }
                        | A::SecretRevisionObsolete { id, revision },
                    ) => (Some(id), Some(revision)),
                    _ => (None, None),
                };
                let id = ids[self.pick("secret", &ids, want_id)?].clone();
                let s = self.world.secret(&id).unwrap();
                match kind {
                    K::SecretRotateDue => A::SecretRotateDue { id },
                    K::SecretExpired => {
                        let revs = self.world.live_revisions(s);
                        let revision = revs[self.pick("revision", &revs, want_rev)?];
                        A::SecretExpired { id, revision }
                    }
                    _ => {
                        let revs = self.world.obsolete_candidates(s);
                        let revision = revs[self.pick("revision", &revs, want_rev)?];
                        A::SecretRevisionObsolete { id, revision }
                    }
                }
            }
            _ => unreachable!("{kind} is not a secret action"),
        })
    }
}
