//! snapd's socket: a hyper HTTP/1.1 server on a Unix socket, answering with
//! [`crate::snap::api::handle`] under the machine's one lock.

use crate::snap::api::{self, Request};
use crate::state::HostCall;
use crate::{HostError, Shared};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Response;
use hyper::body::Incoming;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The running server: its runtime ends with it.
pub(crate) struct Server {
    pub(crate) socket: PathBuf,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Server {
    pub(crate) fn start(shared: Arc<Shared>, socket: &Path) -> Result<Server, HostError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("charmfuzz-snapd")
            .enable_all()
            .build()
            .map_err(HostError::Runtime)?;
        let bind = |source| HostError::Bind {
            path: socket.to_path_buf(),
            source,
        };
        let _ = std::fs::remove_file(socket);
        let std_listener = std::os::unix::net::UnixListener::bind(socket).map_err(bind)?;
        std_listener.set_nonblocking(true).map_err(bind)?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::UnixListener::from_std(std_listener).map_err(bind)?
        };
        runtime.spawn(accept_loop(shared, listener));
        Ok(Server {
            socket: socket.to_path_buf(),
            runtime: Some(runtime),
        })
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: tokio::net::UnixListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(answer(&shared, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn answer(shared: &Shared, req: hyper::Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    // The request as the charm made it, query and all: what a reproducer's snapd matches.
    let asked =
        (req.uri().path_and_query()).map_or_else(|| path.clone(), |p| p.as_str().to_string());
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let (code, value) = {
        let mut st = shared.lock();
        let r = api::handle(
            &mut st,
            shared,
            &Request {
                method: &method,
                path: &path,
                query,
                body: &body,
            },
        );
        st.calls.push(HostCall {
            program: "snapd".into(),
            args: vec![method, asked],
            code: i32::from(r.0),
            stdout: if r.1.is_null() {
                String::new()
            } else {
                r.1.to_string()
            },
        });
        shared.settle(&st);
        r
    };
    // `GET /v2/logs` is a JSON sequence (RFC 7464); the fake's has no entries.
    let (kind, body) = if value.is_null() {
        ("application/json-seq", Vec::new())
    } else {
        (
            "application/json",
            serde_json::to_vec(&value).unwrap_or_default(),
        )
    };
    Response::builder()
        .status(code)
        .header("Content-Type", kind)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}
