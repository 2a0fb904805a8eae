//! The workload's HTTP API: canned answers on the loopback ports it serves, while its
//! Pebble service runs.
//!
//! A sidecar charm's workload shares the pod's network namespace with the charm, and charms
//! poll it there: `GET http://localhost:9090/-/ready` after starting Prometheus, a reload
//! endpoint after writing its config, a health check before saying the unit is active.
//! There is no workload here, so `charmfuzz.toml` says what it answers:
//!
//! ```toml
//! [[target.http]]
//! service = "prometheus"     # the Pebble service that serves it (its container is found)
//! port = 9090
//! method = "GET"             # any method if left out
//! path = "/-/ready"          # exact; "/api/*" for a prefix; "*" (the default) for any
//! status = 200
//! body = "Prometheus Server is Ready.\n"
//! content-type = "text/plain" # default: application/json when the body is JSON
//! ```
//!
//! A port answers from the moment its service is running in Pebble until it stops (or the
//! container's Pebble restarts): before and after, a connection is refused, as when the
//! workload is not up on a unit. Of the answers on a port, an exact path beats the longest
//! prefix; a path nothing answers is a 404 with Go's `404 page not found`.
//!
//! The sockets are made by the worker inside the sandbox's network namespace, bound but not
//! listening, and handed over with the Kubernetes API's ([`super::kube::receive_sockets`]).
//! Listening is switched here, synchronously, when Pebble's service state changes
//! ([`ServiceWatch`]): a charm that starts the service and connects at once is answered,
//! whatever the thread timing. Switching off is `shutdown(2)` (the port refuses again) and a
//! fresh `bind(2)` of the same socket, so that it can listen again later.

use super::pebble::{ServiceWatch, WorkloadFaults};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// One `[[target.http]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HttpAnswerConfig {
    /// The Pebble service whose running opens the port.
    pub service: String,
    /// The container of that service; needed only if several declare it.
    #[serde(default)]
    pub container: Option<String>,
    pub port: u16,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default = "any_path")]
    pub path: String,
    #[serde(default = "ok")]
    pub status: u16,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub content_type: Option<String>,
}

fn any_path() -> String {
    "*".into()
}

fn ok() -> u16 {
    200
}

/// Why the `[[target.http]]` entries cannot be served.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HttpConfigError {
    #[error("[[target.http]] port {port}: no container of the charm is named {container:?}")]
    NoContainer { port: u16, container: String },
    #[error(
        "[[target.http]] port {port}: service {service:?} could be in any of the containers \
         {containers}; say which with container = \"…\""
    )]
    WhichContainer {
        port: u16,
        service: String,
        containers: String,
    },
    #[error("[[target.http]] port {port} is served by {a} and by {b}: one service per port")]
    TwoServices { port: u16, a: String, b: String },
    #[error("[[target.http]] port {port}: status {status} is not an HTTP status")]
    BadStatus { port: u16, status: u16 },
    #[error(
        "[[target.http]] port {port}: a workload's API is served in the sandbox's network \
         namespace, and this run has none (containment \"none\", or bubblewrap is missing)"
    )]
    NotContained { port: u16 },
    #[error(
        "[[target.http]] port {port}: only a Kubernetes charm's workload containers serve an \
         API here, and this charm has none"
    )]
    NoContainers { port: u16 },
    #[error("[[target.http]]: at most {max} ports")]
    TooMany { max: usize },
}

/// One canned answer.
#[derive(Debug, Clone)]
struct Route {
    method: Option<String>,
    /// `Exact("/-/ready")` or `Prefix("/api/")` (`""` for any path).
    path: PathMatch,
    status: u16,
    body: Bytes,
    content_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PathMatch {
    Exact(String),
    Prefix(String),
}

/// A port of the workload and what it answers.
#[derive(Debug, Clone)]
pub struct PortPlan {
    pub container: String,
    pub service: String,
    pub port: u16,
    routes: Vec<Route>,
}

/// The ports the entries declare, in port order, each with its container resolved among
/// `containers` (the charm's, with their services known only at run time: an entry names
/// its container when there are several).
pub fn plan(
    entries: &[HttpAnswerConfig],
    containers: &[String],
) -> Result<Vec<PortPlan>, HttpConfigError> {
    let mut ports: BTreeMap<u16, PortPlan> = BTreeMap::new();
    for e in entries {
        let container = match (&e.container, containers) {
            (Some(c), _) if containers.contains(c) => c.clone(),
            (Some(c), _) => {
                return Err(HttpConfigError::NoContainer {
                    port: e.port,
                    container: c.clone(),
                });
            }
            (None, [only]) => only.clone(),
            (None, _) => {
                return Err(HttpConfigError::WhichContainer {
                    port: e.port,
                    service: e.service.clone(),
                    containers: containers.join(", "),
                });
            }
        };
        if !(100..=599).contains(&e.status) {
            return Err(HttpConfigError::BadStatus {
                port: e.port,
                status: e.status,
            });
        }
        let path = match e.path.strip_suffix('*') {
            Some(prefix) => PathMatch::Prefix(prefix.to_string()),
            None => PathMatch::Exact(e.path.clone()),
        };
        let content_type = e.content_type.clone().unwrap_or_else(|| {
            if serde_json::from_str::<serde_json::Value>(&e.body).is_ok() {
                "application/json".into()
            } else {
                "text/plain; charset=utf-8".into()
            }
        });
        let route = Route {
            method: e.method.as_ref().map(|m| m.to_ascii_uppercase()),
            path,
            status: e.status,
            body: Bytes::from(e.body.clone()),
            content_type,
        };
        let p = ports.entry(e.port).or_insert_with(|| PortPlan {
            container: container.clone(),
            service: e.service.clone(),
            port: e.port,
            routes: Vec::new(),
        });
        if (&p.container, &p.service) != (&container, &e.service) {
            return Err(HttpConfigError::TwoServices {
                port: e.port,
                a: format!("{}/{}", p.container, p.service),
                b: format!("{container}/{}", e.service),
            });
        }
        p.routes.push(route);
    }
    if ports.len() > super::kube::MAX_HANDED_OVER - 1 {
        return Err(HttpConfigError::TooMany {
            max: super::kube::MAX_HANDED_OVER - 1,
        });
    }
    Ok(ports.into_values().collect())
}

impl PortPlan {
    /// The answer to `method path` (the query left out): an exact path first, then the
    /// longest prefix, among the routes for that method or any.
    fn answer(&self, method: &str, path: &str) -> (u16, &str, Bytes) {
        let for_method = || {
            self.routes
                .iter()
                .filter(|r| r.method.as_deref().is_none_or(|m| m == method))
        };
        let exact = for_method().find(|r| r.path == PathMatch::Exact(path.to_string()));
        let prefix = || {
            for_method()
                .filter_map(|r| match &r.path {
                    PathMatch::Prefix(p) if path.starts_with(p.as_str()) => Some((p.len(), r)),
                    _ => None,
                })
                .max_by_key(|(len, _)| *len)
                .map(|(_, r)| r)
        };
        match exact.or_else(prefix) {
            Some(r) => (r.status, r.content_type.as_str(), r.body.clone()),
            None => (
                404,
                "text/plain; charset=utf-8",
                Bytes::from_static(b"404 page not found\n"),
            ),
        }
    }
}

/// One port's socket and whether it listens.
struct Port {
    plan: Arc<PortPlan>,
    /// How the API answers now: [`NORMAL`], [`ERRORS`] or [`HANGS`] (the workload's
    /// faults, read per request).
    mode: Arc<AtomicU8>,
    socket: Option<OwnedFd>,
    /// The accept loop while it listens (its connections die with it).
    serving: Option<tokio::task::JoinHandle<()>>,
}

/// The API answers as `[[target.http]]` says.
const NORMAL: u8 = 0;
/// A failing workload: every request gets a 500.
const ERRORS: u8 = 1;
/// A stuck workload: requests are read and never answered.
const HANGS: u8 = 2;

/// One request the workload's API answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub port: u16,
    pub method: String,
    pub path: String,
    /// The status answered; 0 where the workload never answered (it hangs).
    pub status: u16,
}

/// The workload's ports, switched by Pebble's service states.
pub struct WorkloadHttp {
    runtime: tokio::runtime::Runtime,
    ports: Mutex<Vec<Port>>,
    /// What was answered in this input, in order.
    served: Arc<Mutex<Vec<Served>>>,
}

impl std::fmt::Debug for WorkloadHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ports = self.ports.lock().expect("ports lock");
        f.debug_list()
            .entries(ports.iter().map(|p| (p.plan.port, p.serving.is_some())))
            .finish()
    }
}

impl WorkloadHttp {
    pub fn new(plans: Vec<PortPlan>) -> io::Result<WorkloadHttp> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("charmfuzz-workload-http")
            .enable_all()
            .build()?;
        let ports = plans
            .into_iter()
            .map(|plan| Port {
                plan: Arc::new(plan),
                mode: Arc::default(),
                socket: None,
                serving: None,
            })
            .collect();
        Ok(WorkloadHttp {
            runtime,
            ports: Mutex::new(ports),
            served: Arc::default(),
        })
    }

    /// The requests answered since the input began, from the `from`th on.
    pub fn served_since(&self, from: usize) -> Vec<Served> {
        let served = self.served.lock().expect("served lock");
        served.iter().skip(from).cloned().collect()
    }

    /// How many requests were answered since the input began.
    pub fn served_count(&self) -> usize {
        self.served.lock().expect("served lock").len()
    }

    /// A new input: nothing answered yet.
    pub fn forget_story(&self) {
        self.served.lock().expect("served lock").clear();
    }

    /// The ports, in the order the worker binds them.
    pub fn port_numbers(&self) -> Vec<u16> {
        let ports = self.ports.lock().expect("ports lock");
        ports.iter().map(|p| p.plan.port).collect()
    }

    /// Take a new worker's sockets (bound in its namespace, not listening), one per port
    /// in [`WorkloadHttp::port_numbers`] order. Nothing listens until Pebble says so.
    pub fn adopt(&self, sockets: Vec<OwnedFd>) -> io::Result<()> {
        let mut ports = self.ports.lock().expect("ports lock");
        if sockets.len() != ports.len() {
            return Err(io::Error::other(format!(
                "the worker handed over {} sockets for {} workload ports",
                sockets.len(),
                ports.len()
            )));
        }
        for (p, s) in ports.iter_mut().zip(sockets) {
            if let Some(t) = p.serving.take() {
                t.abort();
            }
            p.socket = Some(s);
        }
        Ok(())
    }

    fn switch(&self, p: &mut Port, on: bool) -> io::Result<()> {
        let Some(socket) = &p.socket else {
            return Ok(());
        };
        match (on, p.serving.is_some()) {
            (true, false) => {
                rustix::net::listen(socket, 128)?;
                let listener = std::net::TcpListener::from(socket.try_clone()?);
                listener.set_nonblocking(true)?;
                let _guard = self.runtime.enter();
                let listener = tokio::net::TcpListener::from_std(listener)?;
                let task = serve(
                    listener,
                    p.plan.clone(),
                    p.mode.clone(),
                    self.served.clone(),
                );
                p.serving = Some(self.runtime.spawn(task));
            }
            (false, true) => {
                if let Some(t) = p.serving.take() {
                    t.abort();
                }
                rustix::net::shutdown(socket, rustix::net::Shutdown::Both)?;
                let here = SocketAddrV4::new(Ipv4Addr::LOCALHOST, p.plan.port);
                rustix::net::bind(socket, &here)?;
            }
            _ => {}
        }
        Ok(())
    }
}

impl ServiceWatch for WorkloadHttp {
    fn services_changed(
        &self,
        container: &str,
        running: &dyn Fn(&str) -> bool,
        faults: WorkloadFaults,
    ) {
        let mode = match faults {
            WorkloadFaults {
                api_hangs: true, ..
            } => HANGS,
            WorkloadFaults {
                api_errors: true, ..
            } => ERRORS,
            _ => NORMAL,
        };
        let mut ports = self.ports.lock().expect("ports lock");
        for p in ports.iter_mut().filter(|p| p.plan.container == container) {
            p.mode.store(mode, Ordering::SeqCst);
            let on = running(&p.plan.service);
            // A socket that cannot be switched stays as it was: the charm meets a port
            // that refuses (or answers) a little longer, which a unit can show too.
            let _ = self.switch(p, on);
        }
    }
}

impl Drop for WorkloadHttp {
    fn drop(&mut self) {
        for p in self.ports.get_mut().expect("ports lock").iter_mut() {
            if let Some(t) = p.serving.take() {
                t.abort();
            }
        }
    }
}

/// Accept and answer until aborted; the connections are the loop's, so they end with it
/// (a stopped workload keeps no connection open).
async fn serve(
    listener: tokio::net::TcpListener,
    plan: Arc<PortPlan>,
    mode: Arc<AtomicU8>,
    served: Arc<Mutex<Vec<Served>>>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    continue;
                };
                let (plan, mode, served) = (plan.clone(), mode.clone(), served.clone());
                connections.spawn(async move {
                    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (method, path) = (req.method().as_str(), req.uri().path());
                        let mode = mode.load(Ordering::SeqCst);
                        let (status, content_type, body) = match mode {
                            NORMAL => plan.answer(method, path),
                            _ => (
                                500,
                                "text/plain; charset=utf-8",
                                Bytes::from_static(b"internal server error\n"),
                            ),
                        };
                        served.lock().expect("served lock").push(Served {
                            port: plan.port,
                            method: method.to_string(),
                            path: path.to_string(),
                            status: if mode == HANGS { 0 } else { status },
                        });
                        let response = hyper::Response::builder()
                            .status(status)
                            .header("content-type", content_type)
                            .body(http_body_util::Full::new(body))
                            .expect("a canned answer is a valid response");
                        async move {
                            if mode == HANGS {
                                std::future::pending::<()>().await;
                            }
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(toml_text: &str) -> HttpAnswerConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn routes_prefer_an_exact_path_then_the_longest_prefix_and_else_404() {
        let entries = [
            entry("service = 'app'\nport = 80\npath = '/-/ready'\nbody = 'ready'"),
            entry("service = 'app'\nport = 80\npath = '/api/*'\nbody = '{}'"),
            entry("service = 'app'\nport = 80\npath = '/api/v1/*'\nstatus = 503\nmethod = 'post'"),
        ];
        let plans = plan(&entries, &["web".to_string()]).unwrap();
        assert_eq!(plans.len(), 1);
        let p = &plans[0];
        assert_eq!((p.container.as_str(), p.service.as_str()), ("web", "app"));
        let a = |m, path| {
            let (status, ty, body) = p.answer(m, path);
            (
                status,
                ty.to_string(),
                String::from_utf8(body.to_vec()).unwrap(),
            )
        };
        assert_eq!(
            a("GET", "/-/ready"),
            (200, "text/plain; charset=utf-8".into(), "ready".into())
        );
        assert_eq!(
            a("GET", "/api/v1/x"),
            (200, "application/json".into(), "{}".into())
        );
        assert_eq!(a("POST", "/api/v1/x").0, 503);
        assert_eq!(
            a("GET", "/-/healthy"),
            (
                404,
                "text/plain; charset=utf-8".into(),
                "404 page not found\n".into()
            )
        );
    }

    #[test]
    fn entries_name_a_container_when_several_could_serve_and_one_service_per_port() {
        let two = ["a".to_string(), "b".to_string()];
        let e = plan(&[entry("service = 's'\nport = 1")], &two).unwrap_err();
        assert!(e.to_string().contains("say which with container"), "{e}");
        let e = plan(&[entry("service = 's'\nport = 1\ncontainer = 'c'")], &two).unwrap_err();
        assert!(
            e.to_string()
                .contains("no container of the charm is named \"c\""),
            "{e}"
        );
        let e = plan(
            &[
                entry("service = 's'\nport = 1\ncontainer = 'a'"),
                entry("service = 't'\nport = 1\ncontainer = 'a'"),
            ],
            &two,
        )
        .unwrap_err();
        assert!(e.to_string().contains("one service per port"), "{e}");
        let e = plan(
            &[entry(
                "service = 's'\nport = 1\ncontainer = 'a'\nstatus = 42",
            )],
            &two,
        )
        .unwrap_err();
        assert!(e.to_string().contains("status 42"), "{e}");
    }

    /// The switch, on a socket of this process: refused until the service runs, answered
    /// while it runs, refused again once it stops, answered again when it restarts.
    #[test]
    fn a_port_listens_only_while_its_service_runs() {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let plans = plan(
            &[entry(&format!(
                "service = 'app'\nport = {port}\npath = '/'\nbody = 'hi'"
            ))],
            &["web".to_string()],
        )
        .unwrap();
        let http = WorkloadHttp::new(plans).unwrap();
        // A bound socket that does not listen, as the worker hands it over.
        let fd = OwnedFd::from(socket);
        rustix::net::shutdown(&fd, rustix::net::Shutdown::Both).unwrap();
        rustix::net::bind(&fd, &SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).unwrap();
        http.adopt(vec![fd]).unwrap();
        let get = || -> io::Result<String> {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
            s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        };
        let refused = |r: io::Result<String>| matches!(r, Err(e) if e.kind() == io::ErrorKind::ConnectionRefused);
        assert!(refused(get()));
        let running = |on: bool| move |s: &str| on && s == "app";
        http.services_changed("web", &running(true), WorkloadFaults::default());
        let answer = get().unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("hi"),
            "{answer}"
        );
        http.services_changed("other", &running(false), WorkloadFaults::default());
        assert!(
            get().is_ok(),
            "another container's services leave the port alone"
        );
        http.services_changed("web", &running(false), WorkloadFaults::default());
        assert!(refused(get()));
        http.services_changed("web", &running(true), WorkloadFaults::default());
        assert!(get().unwrap().ends_with("hi"));
        // The answered requests are logged (a refused connection is no request).
        assert_eq!(http.served_count(), 3);
        let first = Served {
            port,
            method: "GET".into(),
            path: "/".into(),
            status: 200,
        };
        assert_eq!(http.served_since(2), vec![first]);
        http.forget_story();
        assert_eq!(http.served_count(), 0);
    }
}
