//! The Kubernetes API server a Kubernetes charm's pod talks to.
//!
//! A sidecar charm runs in a pod, and many charms talk to the cluster's API from there,
//! through `lightkube` and the pod's service account ([`super::pod`]): the observability
//! libraries patch the application's StatefulSet with resource limits and read its pod
//! back, older ones patch the Service with the charm's ports, database charms read the
//! StatefulSet's partition and the pods' revision hashes around an upgrade, and many charms
//! list their pods or create ConfigMaps, Secrets and custom resources. On Juju the API
//! answers; without one, those charms fail in the first hook that calls it, on something
//! every real unit has.
//!
//! So a Kubernetes charm inside the walls gets an API server: HTTPS on the loopback
//! address of the worker's own network namespace, with a certificate the pod's `ca.crt`
//! signs, serving the objects Juju creates for the application and the REST rules of the
//! API over them ([`store`]). It is reached the way the charm's client reaches a real one:
//! `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT` (loopback, since the sandbox
//! has no other address; no charm depends on the API's address being `10.152.183.1`).
//!
//! The listening socket is made by the worker inside the namespace (only a process there
//! can bind its loopback) and handed to the harness over a Unix socket (`SCM_RIGHTS`); the
//! worker keeps no copy, so the charm cannot stop or steal it. Every input starts from
//! [`store::Cluster::seeded`], and a unit snapshot carries the cluster.
//!
//! What it is not: no watches that deliver events (a watch ends at once), no admission,
//! validation or defaulting beyond names, no controllers but the StatefulSet's rollout of
//! its template to the pod, and every caller is authorised.

pub mod store;

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use std::convert::Infallible;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::{Cluster, PodContainer};

/// Where the API listens inside the worker's network namespace.
pub const LISTEN_HOST: &str = "127.0.0.1";
/// MicroK8s's API server port; unprivileged, as the sandbox's processes are.
pub const LISTEN_PORT: u16 = 16443;

const CERT: &[u8] = include_bytes!("apiserver.crt");
const KEY: &[u8] = include_bytes!("apiserver.key");

/// The API server: a TLS acceptor, the cluster's objects, and the seed each input
/// starts from.
pub struct KubeApi {
    runtime: tokio::runtime::Runtime,
    cluster: Arc<Mutex<Cluster>>,
    seed: Cluster,
    acceptor: tokio_rustls::TlsAcceptor,
    accepting: Option<tokio::task::JoinHandle<()>>,
}

impl KubeApi {
    /// An API server for application `app` in namespace `ns`, whose pod runs the given
    /// workload containers. It serves nothing until [`KubeApi::serve`].
    pub fn new(ns: &str, app: &str, containers: &[PodContainer]) -> io::Result<KubeApi> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_slice_iter(CERT)
            .collect::<Result<Vec<_>, _>>()
            .map_err(io::Error::other)?;
        let key = PrivateKeyDer::from_pem_slice(KEY).map_err(io::Error::other)?;
        // ring, not aws-lc-rs: it builds without cmake, and a loopback API with a
        // throwaway certificate needs no post-quantum key exchange.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(io::Error::other)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("charmfuzz-kube")
            .enable_all()
            .build()?;
        let seed = Cluster::seeded(ns, app, containers);
        Ok(KubeApi {
            runtime,
            cluster: Arc::new(Mutex::new(seed.clone())),
            seed,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            accepting: None,
        })
    }

    /// Serve on `listener` (from the worker's namespace, [`receive_listener`]), instead of
    /// any listener before it (a worker started again brings a new namespace).
    pub fn serve(&mut self, listener: std::net::TcpListener) -> io::Result<()> {
        if let Some(t) = self.accepting.take() {
            t.abort();
        }
        listener.set_nonblocking(true)?;
        let _guard = self.runtime.enter();
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let (acceptor, cluster) = (self.acceptor.clone(), self.cluster.clone());
        self.accepting = Some(self.runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let (acceptor, cluster) = (acceptor.clone(), cluster.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(move |req| {
                        let cluster = cluster.clone();
                        async move { Ok::<_, Infallible>(answer(&cluster, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                        .await;
                });
            }
        }));
        Ok(())
    }

    /// Back to what Juju created, for a new input.
    pub fn reset(&self) {
        *self.cluster.lock().expect("cluster lock") = self.seed.clone();
    }

    /// The cluster as it is now, for a unit snapshot.
    pub fn snapshot(&self) -> Cluster {
        self.cluster.lock().expect("cluster lock").clone()
    }

    pub fn restore(&self, cluster: &Cluster) {
        *self.cluster.lock().expect("cluster lock") = cluster.clone();
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        if let Some(t) = self.accepting.take() {
            t.abort();
        }
    }
}

type Body = http_body_util::Full<bytes::Bytes>;

async fn answer(
    cluster: &Mutex<Cluster>,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Body> {
    use http_body_util::BodyExt;
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => bytes::Bytes::new(),
    };
    let answer = match store::parse_path(&path) {
        Some(target) => cluster.lock().expect("cluster lock").handle(
            &method,
            &target,
            &query,
            &content_type,
            &body,
        ),
        None => discovery(&path),
    };
    let body = if answer.body.is_null() {
        bytes::Bytes::new()
    } else {
        bytes::Bytes::from(answer.body.to_string())
    };
    hyper::Response::builder()
        .status(answer.code)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Body::new(body))
        .expect("a valid response")
}

/// The paths that are not resources: the server's version, health, and the API
/// discovery documents (with no custom groups).
fn discovery(path: &str) -> store::Answer {
    use serde_json::json;
    let body = match path.trim_end_matches('/') {
        "/version" => json!({
            "major": "1", "minor": "31", "gitVersion": "v1.31.0", "platform": "linux/amd64",
        }),
        "/healthz" | "/livez" | "/readyz" => json!("ok"),
        "/api" => json!({"kind": "APIVersions", "versions": ["v1"]}),
        "/apis" => json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []}),
        _ => {
            return store::Answer {
                code: 404,
                body: json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                             "reason": "NotFound", "code": 404,
                             "message": "the server could not find the requested resource"}),
            };
        }
    };
    store::Answer { code: 200, body }
}

/// Take the sockets the worker made in its namespace: accept its connection on `handoff`
/// and read the descriptors it sends (`SCM_RIGHTS`), by `deadline`. The first is the
/// API's listening socket, the rest the workload's ports ([`super::workload_http`]).
pub fn receive_sockets(handoff: &UnixListener, deadline: Instant) -> io::Result<Vec<OwnedFd>> {
    handoff.set_nonblocking(true)?;
    let stream = loop {
        match handoff.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the worker did not hand over the Kubernetes API's socket",
                ));
            }
            Err(e) => return Err(e),
        }
    };
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(deadline.saturating_duration_since(Instant::now())))?;
    let mut byte = [0u8; 16];
    let mut space =
        [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_HANDED_OVER))];
    let mut ancillary = RecvAncillaryBuffer::new(&mut space);
    rustix::net::recvmsg(
        &stream,
        &mut [io::IoSliceMut::new(&mut byte)],
        &mut ancillary,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    let mut sockets = Vec::new();
    for msg in ancillary.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = msg {
            sockets.extend(fds);
        }
    }
    if sockets.is_empty() {
        return Err(io::Error::other("the worker's hand-over carried no socket"));
    }
    Ok(sockets)
}

/// The most sockets a hand-over carries: the API's and the workload's ports.
pub const MAX_HANDED_OVER: usize = 64;
