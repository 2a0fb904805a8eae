//! The pod around a Kubernetes charm.
//!
//! On Kubernetes the charm runs in the `charm` container of its unit's pod, and Kubernetes
//! gives every container of every pod two things a charm's libraries rely on:
//!
//! - the service account Juju creates for the application, mounted at
//!   `/var/run/secrets/kubernetes.io/serviceaccount/` (`namespace`, `token`, `ca.crt`);
//! - the API server's address, in `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`.
//!
//! `lightkube`, which charm libraries use to patch their Service or read their StatefulSet,
//! builds its client from exactly these (`KubeConfig.from_service_account`). Without them a
//! charm fails in `__init__`, on every hook, on something every real unit has. With them the
//! client is built, as on a unit, and its calls reach the fake API server ([`super::kube`]),
//! on the loopback address of the sandbox's network (which has no other).
//!
//! The namespace is the model's name (Juju runs a model in a namespace of that name). The
//! token is a placeholder and `ca.crt` the fake cluster's CA, whose key was thrown away once
//! it had signed the API server's certificate: nothing else can be trusted under it. The
//! files are written only inside the walls,
//! into the sandbox's `/run` layer (`/var/run` links to `/run`); without containment the
//! host's `/run` is left alone and the charm meets what the host has.

use std::path::Path;

/// Where Kubernetes mounts the pod's service account.
pub const SERVICE_ACCOUNT: &str = "/run/secrets/kubernetes.io/serviceaccount";

/// The API server's address as the charm sees it: where [`super::kube`] listens.
pub const API_HOST: &str = super::kube::LISTEN_HOST;
pub const API_PORT: &str = "16443";

const CLUSTER_CA: &str = include_str!("cluster-ca.crt");
const TOKEN: &str = "charmfuzz-service-account-token";

/// The variables Kubernetes sets in every container, for the charm's environment.
pub fn env() -> [(&'static str, &'static str); 3] {
    [
        ("KUBERNETES_SERVICE_HOST", API_HOST),
        ("KUBERNETES_SERVICE_PORT", API_PORT),
        ("KUBERNETES_SERVICE_PORT_HTTPS", API_PORT),
    ]
}

/// Write the service account into `dir`, the directory the charm sees at
/// [`SERVICE_ACCOUNT`].
pub fn write_service_account(dir: &Path, namespace: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("namespace"), namespace)?;
    std::fs::write(dir.join("token"), TOKEN)?;
    std::fs::write(dir.join("ca.crt"), CLUSTER_CA)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_charm_is_told_the_port_the_api_listens_on() {
        assert_eq!(super::API_PORT, super::super::kube::LISTEN_PORT.to_string());
    }
}
