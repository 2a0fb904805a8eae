//! Generators for the host's faults: which installed snap a refresh fault hits, which
//! running service dies.

use super::{Driver, EncodeError, Tape};
use crate::engine::action::{Action, ActionKind};

impl<T: Tape> Driver<'_, T> {
    pub(super) fn gen_host(
        &mut self,
        kind: ActionKind,
        target: Option<&Action>,
    ) -> Result<Action, EncodeError> {
        use Action as A;
        use ActionKind as K;
        let h = &self.world.host;
        Ok(match kind {
            K::SnapRefreshFails | K::SnapRefreshHeld => {
                let snaps = h.refreshable();
                let want = match target {
                    Some(A::SnapRefreshFails { snap } | A::SnapRefreshHeld { snap }) => Some(snap),
                    _ => None,
                };
                let snap = snaps[self.pick("snap", &snaps, want)?].clone();
                if kind == K::SnapRefreshFails {
                    A::SnapRefreshFails { snap }
                } else {
                    A::SnapRefreshHeld { snap }
                }
            }
            K::HostServiceFailed => {
                let services: Vec<String> = h.services.iter().cloned().collect();
                let want = match target {
                    Some(A::HostServiceFailed { service }) => Some(service),
                    _ => None,
                };
                let service = services[self.pick("service", &services, want)?].clone();
                A::HostServiceFailed { service }
            }
            K::InstallFails => A::InstallFails,
            K::HostDiskFull => A::HostDiskFull,
            K::HostRecovered => A::HostRecovered,
            _ => unreachable!("{kind} is not a host action"),
        })
    }
}
