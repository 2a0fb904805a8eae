//! The HTTP side: one hyper HTTP/1.1 server per container on its Unix socket, Pebble's
//! routes, and Pebble's response envelopes.
//!
//! Every JSON answer is `{"type","status-code","status","change"?,"result"?}` with
//! `Content-Type: application/json` (ops refuses anything else); errors carry
//! `result.message` (and `result.kind` where Pebble sets one). `pull` answers
//! `multipart/form-data` laid out as Go's `mime/multipart` writer lays it out. Request
//! bodies may be chunked (`push` always is): hyper decodes that.
//!
//! Layout: this module holds the envelopes, the request-body decoding shared by every
//! route and the route table ([`Endpoint`]); the handlers live with their API area:
//! `system` (system info, health, warnings, identities), `changes`, `services` (layers,
//! plan, services), `checks`, `files`, `notices` and `exec` (exec, its websockets,
//! signals).

mod changes;
mod checks;
mod exec;
mod files;
mod notices;
mod services;
mod system;

use crate::Container;
use crate::Lock;
use crate::files::{FileError, Ownership};
use crate::state::{ApiError, RequestRecord};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub(crate) type Reply = Response<Full<Bytes>>;

fn status_text(code: u16) -> &'static str {
    StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

fn json_reply(code: u16, body: &Value) -> Reply {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    Response::builder()
        .status(code)
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .expect("valid response")
}

fn envelope(kind: &str, code: u16, change: Option<String>, result: Option<Value>) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("type".into(), kind.into());
    m.insert("status-code".into(), code.into());
    m.insert("status".into(), status_text(code).into());
    if let Some(c) = change {
        m.insert("change".into(), c.into());
    }
    if let Some(r) = result {
        m.insert("result".into(), r);
    }
    Value::Object(m)
}

/// `SyncResponse(result)`: 200 with the result.
fn sync(result: Value) -> Reply {
    json_reply(200, &envelope("sync", 200, None, Some(result)))
}

/// `SyncResponse(nil)`: 200 with no `result` key.
fn sync_empty() -> Reply {
    json_reply(200, &envelope("sync", 200, None, None))
}

/// `AsyncResponse(result, change)`: 202 with the change id.
fn async_reply(change: String, result: Option<Value>) -> Reply {
    json_reply(202, &envelope("async", 202, Some(change), result))
}

fn error_reply(e: &ApiError) -> Reply {
    let mut r = serde_json::Map::new();
    r.insert("message".into(), e.message.clone().into());
    if let Some(k) = e.kind {
        r.insert("kind".into(), k.into());
    }
    json_reply(
        e.status,
        &envelope("error", e.status, None, Some(Value::Object(r))),
    )
}

fn file_error_json(e: &FileError) -> Value {
    json!({"message": e.message, "kind": e.kind})
}

type ApiResult = Result<Reply, ApiError>;

/// Decoded query string: every `(key, value)` pair in order.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: &str) -> Query {
        Query(form_urlencoded::parse(q.as_bytes()).into_owned().collect())
    }

    fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// `strutil.MultiCommaSeparatedList`: repeated and comma-joined values, flattened.
    fn list(&self, key: &str) -> Vec<String> {
        self.all(key)
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}

/// Decodes a JSON request body, with Go-like messages for broken bodies.
fn decode(body: &[u8], what: &str) -> Result<Value, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad_request(format!("{what}: EOF")));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(ApiError::bad_request(format!(
            "{what}: json: cannot unmarshal {} into Go value of type struct",
            json_kind(&other)
        ))),
        Err(e) => Err(ApiError::bad_request(format!("{what}: {e}"))),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_err(field: &str, v: &Value, want: &str) -> ApiError {
    ApiError::bad_request(format!(
        "cannot decode request body: json: cannot unmarshal {} into Go struct field .{field} of type {want}",
        json_kind(v)
    ))
}

fn f_str(v: &Value, field: &str) -> Result<String, ApiError> {
    match &v[field] {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        other => Err(type_err(field, other, "string")),
    }
}

fn f_bool(v: &Value, field: &str) -> Result<bool, ApiError> {
    match &v[field] {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(*b),
        other => Err(type_err(field, other, "bool")),
    }
}

fn f_int(v: &Value, field: &str) -> Result<Option<i64>, ApiError> {
    match &v[field] {
        Value::Null => Ok(None),
        Value::Number(n) if n.is_i64() => Ok(n.as_i64()),
        other => Err(type_err(field, other, "int")),
    }
}

fn f_list(v: &Value, field: &str) -> Result<Vec<String>, ApiError> {
    match &v[field] {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                other => Err(type_err(field, other, "string")),
            })
            .collect(),
        other => Err(type_err(field, other, "[]string")),
    }
}

fn f_map(v: &Value, field: &str) -> Result<BTreeMap<String, String>, ApiError> {
    match &v[field] {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| match x {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(type_err(field, other, "string")),
            })
            .collect(),
        other => Err(type_err(field, other, "map[string]string")),
    }
}

fn ownership(v: &Value) -> Result<Ownership, ApiError> {
    Ok(Ownership {
        permissions: f_str(v, "permissions")?,
        user_id: f_int(v, "user-id")?,
        user: f_str(v, "user")?,
        group_id: f_int(v, "group-id")?,
        group: f_str(v, "group")?,
    })
}

/// Serves one request. Logs it in the container's request log.
pub(crate) async fn handle(c: Arc<Container>, req: Request<Incoming>) -> Reply {
    let method = req.method().as_str().to_string();
    let path_q = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let chunked = req.headers().get_all("transfer-encoding").iter().any(|v| {
        v.to_str()
            .unwrap_or("")
            .to_ascii_lowercase()
            .contains("chunked")
    });
    let reply = match route(&c, req).await {
        Ok(r) => r,
        Err(e) => error_reply(&e),
    };
    let record = RequestRecord {
        method,
        path: path_q,
        status: reply.status().as_u16(),
        chunked,
    };
    c.state.locked().request_log.push(record);
    reply
}

async fn body_bytes(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    req.into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| ApiError::bad_request(format!("cannot read request body: {e}")))
}

/// Pebble's API endpoints, as a request's path names them.
#[derive(Clone, Copy)]
enum Endpoint<'a> {
    SystemInfo,
    Health,
    Warnings,
    Changes,
    Change(&'a str),
    ChangeWait(&'a str),
    Layers,
    Plan,
    Services,
    Files,
    Checks,
    Notices,
    Notice(&'a str),
    Signals,
    Identities,
    Exec,
    TaskWebsocket(&'a str, &'a str),
}

impl<'a> Endpoint<'a> {
    /// The route table: the endpoint a path's segments name, if any.
    fn of(segs: &[&'a str]) -> Option<Endpoint<'a>> {
        use Endpoint::*;
        Some(match *segs {
            ["v1", "system-info"] => SystemInfo,
            ["v1", "health"] => Health,
            ["v1", "warnings"] => Warnings,
            ["v1", "changes"] => Changes,
            ["v1", "changes", id] => Change(id),
            ["v1", "changes", id, "wait"] => ChangeWait(id),
            ["v1", "layers"] => Layers,
            ["v1", "plan"] => Plan,
            ["v1", "services"] => Services,
            ["v1", "files"] => Files,
            ["v1", "checks"] => Checks,
            ["v1", "notices"] => Notices,
            ["v1", "notices", id] => Notice(id),
            ["v1", "signals"] => Signals,
            ["v1", "identities"] => Identities,
            ["v1", "exec"] => Exec,
            ["v1", "tasks", tid, "websocket", wsid] => TaskWebsocket(tid, wsid),
            _ => return None,
        })
    }
}

/// Dispatches a request to its handler: an unknown path is a 404, a known one with a
/// method it does not serve a 405. Handlers that take a body read it only once routed.
async fn route(c: &Arc<Container>, req: Request<Incoming>) -> ApiResult {
    use Endpoint::*;
    let path = req.uri().path().to_string();
    let query = Query::parse(req.uri().query().unwrap_or(""));
    let method = req.method().as_str().to_string();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let Some(endpoint) = Endpoint::of(&segs) else {
        return Err(ApiError::not_found("invalid API endpoint requested"));
    };
    match (endpoint, method.as_str()) {
        (SystemInfo, "GET") => system::get_system_info(c),
        (Health, "GET") => Ok(sync(json!({"healthy": true}))),
        (Warnings, "GET") => system::get_warnings(&query),
        (Warnings, "POST") => system::post_warnings(&body_bytes(req).await?),
        (Changes, "GET") => changes::get_changes(c, &query),
        (Change(id), "GET") => changes::get_change(c, id),
        (Change(id), "POST") => changes::abort_change(c, id, &body_bytes(req).await?),
        (ChangeWait(id), "GET") => changes::wait_change(c, id, &query).await,
        (Layers, "POST") => services::post_layers(c, &body_bytes(req).await?),
        (Plan, "GET") => services::get_plan(c, &query),
        (Services, "GET") => services::get_services(c, &query),
        (Services, "POST") => services::post_services(c, &body_bytes(req).await?),
        (Files, "GET") => files::get_files(c, &req, &query),
        (Files, "POST") => files::post_files(c, req).await,
        (Checks, "GET") => checks::get_checks(c, &query),
        (Checks, "POST") => checks::post_checks(c, &body_bytes(req).await?),
        (Notices, "GET") => notices::get_notices(c, &query).await,
        (Notices, "POST") => notices::post_notice(c, &body_bytes(req).await?),
        (Notice(id), "GET") => notices::get_notice(c, id),
        (Signals, "POST") => exec::post_signals(c, &body_bytes(req).await?),
        (Identities, "GET") => system::get_identities(c),
        (Identities, "POST") => system::post_identities(c, &body_bytes(req).await?),
        (Exec, "POST") => exec::post_exec(c, &body_bytes(req).await?),
        (TaskWebsocket(tid, wsid), "GET") => exec::websocket(c, req, tid, wsid),
        _ => Err(ApiError {
            status: 405,
            message: format!("method {method:?} not allowed"),
            kind: None,
        }),
    }
}

/// Accepts connections on a container's socket until the container goes down.
pub(crate) async fn accept_loop(
    c: Arc<Container>,
    listener: tokio::net::UnixListener,
    mut gen_rx: watch::Receiver<u64>,
) {
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    tokio::spawn(serve(c.clone(), stream, c.gen_tx.subscribe()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            _ = gen_rx.changed() => break,
        }
    }
}

/// Serves one connection (HTTP/1.1, upgradable to a websocket) until it closes or the
/// container goes down.
async fn serve(
    c: Arc<Container>,
    stream: tokio::net::UnixStream,
    mut gen_rx: watch::Receiver<u64>,
) {
    let svc = hyper::service::service_fn(move |req| {
        let c = c.clone();
        async move { Ok::<_, Infallible>(handle(c, req).await) }
    });
    // Go's net/http writes canonical header names (`Content-Type`); so do we.
    let conn = hyper::server::conn::http1::Builder::new()
        .title_case_headers(true)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
        .with_upgrades();
    tokio::select! {
        _ = conn => {}
        _ = gen_rx.changed() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        let q = Query::parse("names=a%2Cb&names=c&x=1+2&path=%2Fetc%2Fx");
        assert_eq!(q.list("names"), vec!["a", "b", "c"]);
        assert_eq!(q.get("x"), "1 2");
        assert_eq!(q.get("path"), "/etc/x");
        assert_eq!(q.get("missing"), "");
    }
}
