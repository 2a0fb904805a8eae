//! The HTTP side: one hyper HTTP/1.1 server per container on its Unix socket, Pebble's
//! routes, and Pebble's response envelopes.
//!
//! Every JSON answer is `{"type","status-code","status","change"?,"result"?}` with
//! `Content-Type: application/json` (ops refuses anything else); errors carry
//! `result.message` (and `result.kind` where Pebble sets one). `pull` answers
//! `multipart/form-data` laid out as Go's `mime/multipart` writer lays it out. Request
//! bodies may be chunked (`push` always is): hyper decodes that.

use super::Container;
use super::exec::{self, ExecAnswer, ExecDefault, ExecJob, ExecMatch};
use super::files::{FileError, Ownership};
use super::gotime::{Timestamp, format_duration, parse_duration};
use super::layer::parse_layer;
use super::state::{ApiError, ExecRecord, NotifyRecord, RequestRecord, SignalRecord, Status};
use crate::Lock;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;

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

async fn route(c: &Arc<Container>, req: Request<Incoming>) -> ApiResult {
    let path = req.uri().path().to_string();
    let query = Query::parse(req.uri().query().unwrap_or(""));
    let method = req.method().clone();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let m = method.as_str();
    let not_allowed = || {
        Err(ApiError {
            status: 405,
            message: format!("method {m:?} not allowed"),
            kind: None,
        })
    };
    match segs.as_slice() {
        ["v1", "system-info"] => match m {
            "GET" => {
                let st = c.state.locked();
                Ok(sync(
                    json!({"boot-id": st.boot_id(), "version": st.version}),
                ))
            }
            _ => not_allowed(),
        },
        ["v1", "health"] => match m {
            "GET" => Ok(sync(json!({"healthy": true}))),
            _ => not_allowed(),
        },
        ["v1", "warnings"] => match m {
            "GET" => match query.get("select") {
                "" | "all" | "pending" => Ok(sync(json!([]))),
                other => Err(ApiError::bad_request(format!(
                    "invalid select parameter: {other:?}"
                ))),
            },
            "POST" => {
                let body = decode(&body_bytes(req).await?, "cannot decode request body")?;
                let action = f_str(&body, "action")?;
                if action != "okay" {
                    return Err(ApiError::bad_request(format!(
                        "unknown warning action {action:?}"
                    )));
                }
                Ok(sync(json!(0)))
            }
            _ => not_allowed(),
        },
        ["v1", "changes"] => match m {
            "GET" => get_changes(c, &query),
            _ => not_allowed(),
        },
        ["v1", "changes", id] => match m {
            "GET" => {
                let st = c.state.locked();
                let ci = st.change_index(id).ok_or_else(|| {
                    ApiError::not_found(format!("cannot find change with id {id:?}"))
                })?;
                Ok(sync(st.changes[ci].to_json()))
            }
            "POST" => {
                let id = id.to_string();
                let body = body_bytes(req).await?;
                abort_change(c, &id, &body)
            }
            _ => not_allowed(),
        },
        ["v1", "changes", id, "wait"] => match m {
            "GET" => wait_change(c, id, &query).await,
            _ => not_allowed(),
        },
        ["v1", "layers"] => match m {
            "POST" => {
                let body = body_bytes(req).await?;
                post_layers(c, &body)
            }
            _ => not_allowed(),
        },
        ["v1", "plan"] => match m {
            "GET" => {
                let format = query.get("format");
                if format != "yaml" {
                    return Err(ApiError::bad_request(format!("invalid format {format:?}")));
                }
                let st = c.state.locked();
                Ok(sync(Value::String(st.plan.to_yaml())))
            }
            _ => not_allowed(),
        },
        ["v1", "services"] => match m {
            "GET" => {
                let names = query.list("names");
                let st = c.state.locked();
                let infos: Vec<Value> = st
                    .service_infos(&names)
                    .into_iter()
                    .map(|i| {
                        let mut m = serde_json::Map::new();
                        m.insert("name".into(), i.name.clone().into());
                        m.insert("startup".into(), i.startup.into());
                        m.insert("current".into(), i.current.as_str().into());
                        if let Some(rt) = st.services.get(&i.name) {
                            m.insert(
                                "current-since".into(),
                                rt.current_since.rfc3339_nano().into(),
                            );
                        }
                        Value::Object(m)
                    })
                    .collect();
                Ok(sync(Value::Array(infos)))
            }
            "POST" => {
                let body = decode(
                    &body_bytes(req).await?,
                    "cannot decode data from request body",
                )?;
                let action = f_str(&body, "action")?;
                let services = f_list(&body, "services")?;
                let id = {
                    let mut st = c.state.locked();
                    st.services_action(&action, &services)?
                };
                c.bump();
                Ok(async_reply(id, None))
            }
            _ => not_allowed(),
        },
        ["v1", "files"] => match m {
            "GET" => get_files(c, &req, &query),
            "POST" => post_files(c, req).await,
            _ => not_allowed(),
        },
        ["v1", "checks"] => match m {
            "GET" => {
                let level = query.get("level");
                if !matches!(level, "" | "alive" | "ready") {
                    return Err(ApiError::bad_request(
                        "level must be \"alive\" or \"ready\"",
                    ));
                }
                let names = query.list("names");
                let st = c.state.locked();
                Ok(sync(Value::Array(st.checks_json(level, &names))))
            }
            "POST" => {
                let body = decode(
                    &body_bytes(req).await?,
                    "cannot decode data from request body",
                )?;
                let action = f_str(&body, "action")?;
                let checks = f_list(&body, "checks")?;
                let changed = {
                    let mut st = c.state.locked();
                    st.checks_action(&action, &checks)?
                };
                c.bump();
                let changed = if changed.is_empty() {
                    Value::Null
                } else {
                    json!(changed)
                };
                Ok(sync(json!({ "changed": changed })))
            }
            _ => not_allowed(),
        },
        ["v1", "notices"] => match m {
            "GET" => get_notices(c, &query).await,
            "POST" => {
                let body = body_bytes(req).await?;
                post_notice(c, &body)
            }
            _ => not_allowed(),
        },
        ["v1", "notices", id] => match m {
            "GET" => {
                let st = c.state.locked();
                let n = st.notices.iter().find(|n| n.id == *id).ok_or_else(|| {
                    ApiError::not_found(format!("cannot find notice with ID {id:?}"))
                })?;
                Ok(sync(n.to_json()))
            }
            _ => not_allowed(),
        },
        ["v1", "signals"] => match m {
            "POST" => {
                let body = body_bytes(req).await?;
                post_signals(c, &body)
            }
            _ => not_allowed(),
        },
        ["v1", "identities"] => match m {
            "GET" => {
                let st = c.state.locked();
                let mut out = serde_json::Map::new();
                for (name, ident) in &st.identities {
                    let mut i = ident.clone();
                    if let Some(b) = i.get_mut("basic") {
                        *b = json!({"password": "*****"});
                    }
                    out.insert(name.clone(), i);
                }
                Ok(sync(Value::Object(out)))
            }
            "POST" => {
                let body = body_bytes(req).await?;
                post_identities(c, &body)
            }
            _ => not_allowed(),
        },
        ["v1", "exec"] => match m {
            "POST" => {
                let body = body_bytes(req).await?;
                post_exec(c, &body)
            }
            _ => not_allowed(),
        },
        ["v1", "tasks", tid, "websocket", wsid] => match m {
            "GET" => {
                let (tid, wsid) = (tid.to_string(), wsid.to_string());
                websocket(c, req, &tid, &wsid)
            }
            _ => not_allowed(),
        },
        _ => Err(ApiError::not_found("invalid API endpoint requested")),
    }
}

fn get_changes(c: &Arc<Container>, q: &Query) -> ApiResult {
    let select = match q.get("select") {
        "" => "in-progress",
        s => s,
    };
    if !matches!(select, "all" | "in-progress" | "ready") {
        return Err(ApiError::bad_request(
            "select should be one of: all,in-progress,ready",
        ));
    }
    let for_svc = q.get("for");
    let st = c.state.locked();
    let list: Vec<Value> = st
        .changes
        .iter()
        .filter(|ch| match select {
            "in-progress" => !ch.ready(),
            "ready" => ch.ready(),
            _ => true,
        })
        .filter(|ch| for_svc.is_empty() || ch.service_names.iter().any(|s| s == for_svc))
        .map(|ch| ch.to_json())
        .collect();
    Ok(sync(Value::Array(list)))
}

fn abort_change(c: &Arc<Container>, id: &str, body: &[u8]) -> ApiResult {
    let reply = {
        let mut st = c.state.locked();
        let ci = st
            .change_index(id)
            .ok_or_else(|| ApiError::not_found(format!("cannot find change with id {id:?}")))?;
        let body = decode(body, "cannot decode data from request body")?;
        let action = f_str(&body, "action")?;
        if action != "abort" {
            return Err(ApiError::bad_request(format!("invalid action {action:?}")));
        }
        if st.changes[ci].ready() {
            return Err(ApiError::bad_request(format!(
                "cannot abort change {id} with nothing pending"
            )));
        }
        let mut running_exec = Vec::new();
        for t in &mut st.changes[ci].tasks {
            match t.status {
                Status::Do => t.status = Status::Hold,
                Status::Doing if t.kind == "exec" => running_exec.push(t.id.clone()),
                Status::Doing => t.status = Status::Hold,
                _ => {}
            }
        }
        st.change_updated(ci);
        let sessions = c.sessions.locked();
        for tid in running_exec {
            if let Some(s) = sessions.get(&tid) {
                s.abort.notify_one();
            }
        }
        sync(st.changes[ci].to_json())
    };
    c.bump();
    Ok(reply)
}

async fn wait_change(c: &Arc<Container>, id: &str, q: &Query) -> ApiResult {
    let mut rx = c.version_tx.subscribe();
    {
        let st = c.state.locked();
        if st.change_index(id).is_none() {
            return Err(ApiError::not_found(format!(
                "cannot find change with id {id:?}"
            )));
        }
    }
    let t = q.get("timeout");
    let timeout = if t.is_empty() {
        Duration::ZERO
    } else {
        parse_duration(t).map_err(|e| ApiError::bad_request(format!("invalid timeout: {e}")))?
    };
    let deadline = tokio::time::Instant::now()
        + if timeout.is_zero() {
            Duration::from_secs(3600)
        } else {
            timeout
        };
    loop {
        {
            let st = c.state.locked();
            match st.change_index(id) {
                Some(ci) if st.changes[ci].ready() => return Ok(sync(st.changes[ci].to_json())),
                Some(_) => {}
                None => {
                    return Err(ApiError::not_found(format!(
                        "cannot find change with id {id:?}"
                    )));
                }
            }
        }
        tokio::select! {
            r = rx.changed() => {
                if r.is_err() {
                    return Err(ApiError::internal("request cancelled"));
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                return Err(ApiError {
                    status: 504,
                    message: format!("timed out waiting for change after {}", format_duration(timeout)),
                    kind: None,
                });
            }
        }
    }
}

fn post_layers(c: &Arc<Container>, body: &[u8]) -> ApiResult {
    let body = decode(body, "cannot decode request body")?;
    let action = f_str(&body, "action")?;
    let combine = f_bool(&body, "combine")?;
    let label = f_str(&body, "label")?;
    let format = f_str(&body, "format")?;
    let layer_text = f_str(&body, "layer")?;
    if action != "add" {
        return Err(ApiError::bad_request(format!("invalid action {action:?}")));
    }
    if label.is_empty() {
        return Err(ApiError::bad_request("label must be set"));
    }
    if format != "yaml" {
        return Err(ApiError::bad_request(format!("invalid format {format:?}")));
    }
    let layer = parse_layer(&label, &layer_text)
        .map_err(|e| ApiError::bad_request(format!("cannot parse layer YAML: {e}")))?;
    {
        let mut st = c.state.locked();
        let plan = st
            .plan
            .add_layer(layer, combine)
            .map_err(ApiError::bad_request)?;
        st.plan = plan;
        st.sync_checks();
    }
    c.bump();
    Ok(sync(Value::Bool(true)))
}

/// Go's `multipart.Writer` boundary: 60 hex digits (ours deterministic per request).
fn boundary(seed: usize) -> String {
    let mut x = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..60)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x % 16) as u32, 16).unwrap_or('0')
        })
        .collect()
}

fn escape_quotes(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn get_files(c: &Arc<Container>, req: &Request<Incoming>, q: &Query) -> ApiResult {
    match q.get("action") {
        "read" => {
            let paths = q.all("path");
            if paths.is_empty() {
                return Err(ApiError::bad_request("must specify one or more paths"));
            }
            let accept = req
                .headers()
                .get("accept")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if accept != "multipart/form-data" {
                return Err(ApiError::bad_request("must accept multipart/form-data"));
            }
            let st = c.state.locked();
            let b = boundary(st.request_log.len() + 1);
            let mut body: Vec<u8> = Vec::new();
            let mut first = true;
            let mut part = |body: &mut Vec<u8>, headers: &[(&str, String)]| {
                if first {
                    body.extend_from_slice(format!("--{b}\r\n").as_bytes());
                    first = false;
                } else {
                    body.extend_from_slice(format!("\r\n--{b}\r\n").as_bytes());
                }
                for (k, v) in headers {
                    body.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
                }
                body.extend_from_slice(b"\r\n");
            };
            let mut results = Vec::new();
            for p in &paths {
                match st.fs.read(p) {
                    Ok(content) => {
                        part(
                            &mut body,
                            &[
                                (
                                    "Content-Disposition",
                                    format!(
                                        "form-data; name=\"files\"; filename=\"{}\"",
                                        escape_quotes(p)
                                    ),
                                ),
                                ("Content-Type", "application/octet-stream".into()),
                            ],
                        );
                        body.extend_from_slice(&content);
                        results.push(json!({"path": p}));
                    }
                    Err(e) => results.push(json!({"path": p, "error": file_error_json(&e)})),
                }
            }
            part(
                &mut body,
                &[
                    ("Content-Disposition", "form-data; name=\"response\"".into()),
                    ("Content-Type", "application/json".into()),
                ],
            );
            let meta = envelope("sync", 200, None, Some(Value::Array(results)));
            body.extend_from_slice(&serde_json::to_vec(&meta).unwrap_or_default());
            body.push(b'\n');
            body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
            Ok(Response::builder()
                .status(200)
                .header("Content-Type", format!("multipart/form-data; boundary={b}"))
                .body(Full::new(Bytes::from(body)))
                .expect("valid response"))
        }
        "list" => {
            let path = q.get("path");
            if path.is_empty() {
                return Err(ApiError::bad_request("must specify path"));
            }
            let itself = q.get("itself");
            if !matches!(itself, "" | "true" | "false") {
                return Err(ApiError::bad_request(
                    "itself parameter must be \"true\" or \"false\"",
                ));
            }
            if !path.starts_with('/') {
                return Err(ApiError::bad_request(format!(
                    "path must be absolute, got {path:?}"
                )));
            }
            let st = c.state.locked();
            match st
                .fs
                .list(&st.users, path, q.get("pattern"), itself == "true")
            {
                Ok(list) => Ok(sync(Value::Array(
                    list.iter().map(|f| f.to_json()).collect(),
                ))),
                Err(e) => {
                    let code = e.status();
                    Ok(json_reply(
                        code,
                        &envelope("error", code, None, Some(file_error_json(&e))),
                    ))
                }
            }
        }
        other => Err(ApiError::bad_request(format!("invalid action {other:?}"))),
    }
}

/// Parses `type/subtype; k=v; k2="v 2"` (Go's `mime.ParseMediaType`, simplified).
fn parse_media_type(s: &str) -> Option<(String, BTreeMap<String, String>)> {
    let mut parts = s.splitn(2, ';');
    let media = parts.next()?.trim().to_ascii_lowercase();
    if media.is_empty() {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut rest = parts.next().unwrap_or("").trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim().to_ascii_lowercase();
        rest = &rest[eq + 1..];
        let value;
        if let Some(r) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = r.char_indices();
            let mut end = None;
            while let Some((i, ch)) = chars.next() {
                match ch {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    ch => v.push(ch),
                }
            }
            value = v;
            rest = &r[end?..];
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        params.insert(key, value);
        rest = rest.trim_start().trim_start_matches(';').trim_start();
    }
    Some((media, params))
}

async fn post_files(c: &Arc<Container>, req: Request<Incoming>) -> ApiResult {
    let ctype = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let Some((media, params)) = parse_media_type(&ctype) else {
        return Err(ApiError::bad_request(format!(
            "invalid Content-Type {ctype:?}"
        )));
    };
    match media.as_str() {
        "multipart/form-data" => {
            let boundary = params.get("boundary").cloned().unwrap_or_default();
            if boundary.len() < 32 {
                return Err(ApiError::bad_request(format!(
                    "invalid boundary {boundary:?}"
                )));
            }
            let body = body_bytes(req).await?;
            write_files(c, body, boundary).await
        }
        "application/json" => {
            let body = decode(&body_bytes(req).await?, "cannot decode request body")?;
            let action = f_str(&body, "action")?;
            match action.as_str() {
                "make-dirs" => {
                    let dirs = match &body["dirs"] {
                        Value::Array(a) => a.clone(),
                        Value::Null => Vec::new(),
                        other => return Err(type_err("dirs", other, "[]daemon.makeDirsItem")),
                    };
                    let mut results = Vec::new();
                    let mut st = c.state.locked();
                    let st = &mut *st;
                    for d in &dirs {
                        let path = f_str(d, "path")?;
                        if st.faults.disk_full {
                            results.push(path_result(&path, Err(disk_full("mkdir", &path))));
                            continue;
                        }
                        let r = st.fs.make_dir(
                            &mut st.users,
                            &path,
                            f_bool(d, "make-parents")?,
                            &ownership(d)?,
                        );
                        results.push(path_result(&path, r));
                    }
                    Ok(sync(Value::Array(results)))
                }
                "remove" => {
                    let paths = match &body["paths"] {
                        Value::Array(a) => a.clone(),
                        Value::Null => Vec::new(),
                        other => return Err(type_err("paths", other, "[]daemon.removePathsItem")),
                    };
                    let mut results = Vec::new();
                    let mut st = c.state.locked();
                    for p in &paths {
                        let path = f_str(p, "path")?;
                        let r = st.fs.remove(&path, f_bool(p, "recursive")?);
                        results.push(path_result(&path, r));
                    }
                    Ok(sync(Value::Array(results)))
                }
                "write" => Err(ApiError::bad_request(
                    "must use multipart with \"write\" action",
                )),
                other => Err(ApiError::bad_request(format!("invalid action {other:?}"))),
            }
        }
        other => Err(ApiError::bad_request(format!(
            "invalid media type {other:?}"
        ))),
    }
}

fn path_result(path: &str, r: Result<(), FileError>) -> Value {
    match r {
        Ok(()) => json!({"path": path}),
        Err(e) => json!({"path": path, "error": file_error_json(&e)}),
    }
}

fn part_names(field: &multer::Field<'_>) -> (String, Option<String>) {
    let cd = field
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match parse_media_type(cd) {
        Some((_, params)) => (
            params.get("name").cloned().unwrap_or_default(),
            params.get("filename").cloned(),
        ),
        None => (String::new(), None),
    }
}

async fn write_files(c: &Arc<Container>, body: Bytes, boundary: String) -> ApiResult {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    let first = match mp.next_field().await {
        Ok(Some(f)) => f,
        Ok(None) => {
            return Err(ApiError::bad_request("cannot read request metadata: EOF"));
        }
        Err(e) => {
            return Err(ApiError::bad_request(format!(
                "cannot read request metadata: {e}"
            )));
        }
    };
    let (name, _) = part_names(&first);
    if name != "request" {
        return Err(ApiError::bad_request(format!(
            "metadata field name must be \"request\", got {name:?}"
        )));
    }
    let meta_bytes = first
        .bytes()
        .await
        .map_err(|e| ApiError::bad_request(format!("cannot read request metadata: {e}")))?;
    let meta = decode(&meta_bytes, "cannot decode request metadata")?;
    let action = f_str(&meta, "action")?;
    if action != "write" {
        return Err(ApiError::bad_request(format!(
            "multipart action must be \"write\", got {action:?}"
        )));
    }
    let files = match &meta["files"] {
        Value::Array(a) => a.clone(),
        _ => Vec::new(),
    };
    if files.is_empty() {
        return Err(ApiError::bad_request("must specify one or more files"));
    }
    let mut infos: BTreeMap<String, Value> = BTreeMap::new();
    for f in &files {
        infos.insert(f_str(f, "path")?, f.clone());
    }
    let mut contents: Vec<(String, Bytes)> = Vec::new();
    let mut i = 0;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "cannot read file part {i}: {e}"
                )));
            }
        };
        let (name, filename) = part_names(&field);
        if name != "files" {
            return Err(ApiError::bad_request(format!(
                "field name must be \"files\", got {name:?}"
            )));
        }
        let path = filename.unwrap_or_default();
        if !infos.contains_key(&path) {
            return Err(ApiError::bad_request(format!(
                "no metadata for path {path:?}"
            )));
        }
        let data = field
            .bytes()
            .await
            .map_err(|e| ApiError::bad_request(format!("cannot read file part {i}: {e}")))?;
        contents.push((path, data));
        i += 1;
    }
    let mut errors: BTreeMap<String, Option<FileError>> = BTreeMap::new();
    {
        let mut st = c.state.locked();
        let st = &mut *st;
        for (path, data) in &contents {
            let info = &infos[path];
            if st.faults.disk_full {
                errors.insert(path.clone(), Some(disk_full("write", path)));
                continue;
            }
            let r = st.fs.write(
                &mut st.users,
                path,
                f_bool(info, "make-dirs")?,
                &ownership(info)?,
                data,
            );
            errors.insert(path.clone(), r.err());
        }
    }
    let results: Vec<Value> = files
        .iter()
        .map(|f| {
            let path = f_str(f, "path").unwrap_or_default();
            match errors.get(&path) {
                Some(None) => json!({"path": path}),
                Some(Some(e)) => json!({"path": path, "error": file_error_json(e)}),
                None => json!({"path": path, "error": {
                    "message": format!("no file content for path {path:?}"),
                    "kind": "generic-file-error",
                }}),
            }
        })
        .collect();
    Ok(sync(Value::Array(results)))
}

fn valid_notice_key(key: &str) -> bool {
    // ^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)+(/[a-z0-9]+(-[a-z0-9]+)*)+$
    fn label(s: &str) -> bool {
        !s.is_empty()
            && s.split('-').all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
    }
    let Some((domain, path)) = key.split_once('/') else {
        return false;
    };
    let dparts: Vec<&str> = domain.split('.').collect();
    dparts.len() >= 2 && dparts.iter().all(|p| label(p)) && path.split('/').all(label)
}

fn post_notice(c: &Arc<Container>, body: &[u8]) -> ApiResult {
    let body = decode(body, "cannot decode request body")?;
    let action = f_str(&body, "action")?;
    let type_ = f_str(&body, "type")?;
    let key = f_str(&body, "key")?;
    let repeat = f_str(&body, "repeat-after")?;
    if action != "add" {
        return Err(ApiError::bad_request(format!("invalid action {action:?}")));
    }
    if type_ != "custom" {
        return Err(ApiError::bad_request(format!(
            "invalid type {type_:?} (can only add \"custom\" notices)"
        )));
    }
    if !valid_notice_key(&key) {
        return Err(ApiError::bad_request(format!(
            "invalid key {key:?} (must be in \"domain.com/key\" format)"
        )));
    }
    if key.len() > 256 {
        return Err(ApiError::bad_request("key must be 256 bytes or less"));
    }
    let repeat_after = if repeat.is_empty() {
        None
    } else {
        Some(
            parse_duration(&repeat)
                .map_err(|e| ApiError::bad_request(format!("invalid repeat-after: {e}")))?,
        )
        .filter(|d| !d.is_zero())
    };
    if !body["data"].is_null() && serde_json::to_vec(&body["data"]).unwrap_or_default().len() > 4096
    {
        return Err(ApiError::bad_request(
            "total size of data must be 4096 bytes or less",
        ));
    }
    let data = match &body["data"] {
        Value::Null => BTreeMap::new(),
        Value::Object(_) => f_map(&body, "data").map_err(|_| {
            ApiError::bad_request(
                "cannot decode notice data: json: cannot unmarshal into Go value of type string",
            )
        })?,
        other => {
            return Err(ApiError::bad_request(format!(
                "cannot decode notice data: json: cannot unmarshal {} into Go value of type map[string]string",
                json_kind(other)
            )));
        }
    };
    let id = {
        let mut st = c.state.locked();
        let id = st.add_notice_at(
            Some(0),
            "custom",
            &key,
            data.clone(),
            repeat_after,
            Timestamp::now(),
        );
        st.notify_log.push(NotifyRecord {
            key,
            data,
            repeat_after,
            id: id.clone(),
        });
        id
    };
    c.bump();
    Ok(sync(json!({ "id": id })))
}

async fn get_notices(c: &Arc<Container>, q: &Query) -> ApiResult {
    const TYPES: &[&str] = &["change-update", "custom", "warning"];
    let types: Vec<String> = q
        .list("types")
        .into_iter()
        .filter(|t| TYPES.contains(&t.as_str()))
        .collect();
    let keys = q.list("keys");
    let after = match q.get("after") {
        "" => None,
        a => Some(Timestamp::parse_rfc3339(a).ok_or_else(|| {
            ApiError::bad_request(format!(
                "invalid \"after\" timestamp: parsing time {a:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse"
            ))
        })?),
    };
    let users_all = match q.get("users") {
        "" => false,
        "all" => true,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid \"users\" filter: must be \"all\", not {other:?}"
            )));
        }
    };
    let user_id: Option<u32> = match q.get("user-id") {
        "" => None,
        s => Some(
            s.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid \"user-id\" filter: {s:?}")))?,
        ),
    };
    let t = q.get("timeout");
    let timeout = if t.is_empty() {
        Duration::ZERO
    } else {
        parse_duration(t).map_err(|e| ApiError::bad_request(format!("invalid timeout: {e}")))?
    };
    let deadline = tokio::time::Instant::now() + timeout;
    let mut rx = c.version_tx.subscribe();
    loop {
        let list: Vec<Value> = {
            let st = c.state.locked();
            st.sorted_notices()
                .into_iter()
                .filter(|n| types.is_empty() || types.contains(&n.type_))
                .filter(|n| keys.is_empty() || keys.contains(&n.key))
                .filter(|n| after.is_none_or(|a| n.last_repeated > a))
                .filter(|n| {
                    users_all || n.user_id.is_none() || n.user_id == Some(user_id.unwrap_or(0))
                })
                .map(|n| n.to_json())
                .collect()
        };
        if !list.is_empty() || timeout.is_zero() {
            return Ok(sync(Value::Array(list)));
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return Ok(sync(json!([]))); },
            _ = tokio::time::sleep_until(deadline) => return Ok(sync(json!([]))),
        }
    }
}

fn post_signals(c: &Arc<Container>, body: &[u8]) -> ApiResult {
    let body = decode(body, "cannot decode request body")?;
    let signal = f_str(&body, "signal")?;
    let services = f_list(&body, "services")?;
    if services.is_empty() {
        return Err(ApiError::bad_request("must specify one or more services"));
    }
    let mut st = c.state.locked();
    let mut errors = Vec::new();
    for name in &services {
        let running = st
            .services
            .get(name)
            .is_some_and(|s| matches!(s.state, super::state::ServiceState::Running));
        if !running {
            errors.push(format!(
                "cannot send signal to {name:?}: service is not running"
            ));
        } else if !exec::valid_signal(&signal) {
            errors.push(format!(
                "cannot send signal to {name:?}: invalid signal name {signal:?}"
            ));
        }
    }
    let error = (!errors.is_empty()).then(|| errors.join("; "));
    st.signal_log.push(SignalRecord {
        signal,
        services,
        error: error.clone(),
    });
    match error {
        Some(e) => Err(ApiError::internal(e)),
        None => Ok(sync(Value::Bool(true))),
    }
}

fn post_identities(c: &Arc<Container>, body: &[u8]) -> ApiResult {
    let body = decode(body, "cannot decode request body")?;
    let action = f_str(&body, "action")?;
    let idents = match &body["identities"] {
        Value::Object(m) => m.clone(),
        Value::Null => serde_json::Map::new(),
        other => {
            return Err(type_err(
                "identities",
                other,
                "map[string]*daemon.apiIdentity",
            ));
        }
    };
    for (name, ident) in &idents {
        if ident.is_null() {
            continue;
        }
        let access = ident["access"].as_str().unwrap_or("");
        if !matches!(access, "admin" | "read" | "metrics" | "untrusted") {
            return Err(ApiError::bad_request(format!(
                "invalid identity for {name:?}: invalid access value {access:?}, must be \"admin\", \"read\", \"metrics\", or \"untrusted\""
            )));
        }
        if ident.get("local").is_some_and(|l| l["user-id"].is_null()) {
            return Err(ApiError::bad_request(format!(
                "invalid identity for {name:?}: local identity must specify user-id"
            )));
        }
    }
    let mut st = c.state.locked();
    match action.as_str() {
        "add" | "update" | "replace" => {
            for (name, ident) in &idents {
                if ident.is_null() && action != "replace" {
                    return Err(ApiError::bad_request(format!(
                        "identity value for {name:?} must not be null for {action} operation"
                    )));
                }
                let exists = st.identities.contains_key(name);
                if action == "add" && exists {
                    return Err(ApiError::bad_request(format!(
                        "identity {name:?} already exists"
                    )));
                }
                if action == "update" && !exists {
                    return Err(ApiError::bad_request(format!(
                        "identity {name:?} does not exist"
                    )));
                }
            }
            for (name, ident) in idents {
                if ident.is_null() {
                    st.identities.remove(&name);
                } else {
                    st.identities.insert(name, ident);
                }
            }
        }
        "remove" => {
            for (name, ident) in &idents {
                if !ident.is_null() {
                    return Err(ApiError::bad_request(format!(
                        "identity value for {name:?} must be null for remove operation"
                    )));
                }
                if !st.identities.contains_key(name) {
                    return Err(ApiError::bad_request(format!(
                        "identity {name:?} does not exist"
                    )));
                }
            }
            for name in idents.keys() {
                st.identities.remove(name);
            }
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid action {other:?}, must be \"add\", \"update\", \"replace\", or \"remove\""
            )));
        }
    }
    Ok(sync_empty())
}

fn post_exec(c: &Arc<Container>, body: &[u8]) -> ApiResult {
    let body = decode(body, "cannot decode request body")?;
    let command = f_list(&body, "command")?;
    let service_context = f_str(&body, "service-context")?;
    let environment = f_map(&body, "environment")?;
    let working_dir = f_str(&body, "working-dir")?;
    let timeout_s = f_str(&body, "timeout")?;
    let (uid, gid) = (f_int(&body, "user-id")?, f_int(&body, "group-id")?);
    let (user, group) = (f_str(&body, "user")?, f_str(&body, "group")?);
    let split_stderr = f_bool(&body, "split-stderr")?;
    if command.is_empty() {
        return Err(ApiError::bad_request("must specify command"));
    }
    let timeout = if timeout_s.is_empty() {
        None
    } else {
        Some(
            parse_duration(&timeout_s)
                .map_err(|e| ApiError::bad_request(format!("invalid timeout: {e}")))?,
        )
        .filter(|d| !d.is_zero())
    };
    let mut st = c.state.locked();
    let mut record = ExecRecord {
        change_id: None,
        task_id: None,
        command: command.clone(),
        environment: BTreeMap::new(),
        requested_environment: environment.clone(),
        working_dir: working_dir.clone(),
        service_context: (!service_context.is_empty()).then(|| service_context.clone()),
        user_id: None,
        group_id: None,
        timeout,
        split_stderr,
        stdin: Vec::new(),
        stdin_closed: false,
        signals: Vec::new(),
        answer: None,
        unscripted: false,
        exit_code: None,
        error: None,
    };
    let refuse = |st: &mut super::state::ContainerState, mut record: ExecRecord, e: ApiError| {
        record.error = Some(e.message.clone());
        st.exec_log.push(record);
        Err(e)
    };
    let answer = match st.answer_exec(&command) {
        // A failing workload: whatever the program would say, it fails.
        _ if st.faults.exec_fails => ExecAnswer {
            exit_code: 1,
            stderr: format!("{}: the workload is failing\n", command[0]).into_bytes(),
            ..ExecAnswer::default()
        },
        ExecMatch::Answer(i) => {
            record.answer = Some(i);
            st.exec_answers.answers[i].clone()
        }
        ExecMatch::Allowed => ExecAnswer::default(),
        ExecMatch::Unscripted => {
            // The image would have had something here; nobody said what. Recorded, so that
            // a hook that fails after it names the answer to script.
            st.unanswered.push(command.clone());
            record.unscripted = true;
            match st.exec_answers.unscripted {
                ExecDefault::Succeed => ExecAnswer::default(),
                ExecDefault::NotFound => {
                    let e =
                        ApiError::bad_request(format!("cannot find executable {:?}", command[0]));
                    return refuse(&mut st, record, e);
                }
            }
        }
    };
    // Merge the service context (its environment, user, group and working dir).
    let mut env = BTreeMap::new();
    let (mut m_uid, mut m_gid) = (uid, gid);
    let (mut m_user, mut m_group) = (user.clone(), group.clone());
    let mut m_wd = working_dir.clone();
    if !service_context.is_empty() {
        let Some(svc) = st.plan.services.get(&service_context).cloned() else {
            let e = ApiError::bad_request(format!("context service {service_context:?} not found"));
            return refuse(&mut st, record, e);
        };
        env.extend(svc.environment.clone());
        if m_uid.is_none() {
            m_uid = svc.user_id;
        }
        if m_gid.is_none() {
            m_gid = svc.group_id;
        }
        if m_user.is_empty() {
            m_user = svc.user.clone();
        }
        if m_group.is_empty() {
            m_group = svc.group.clone();
        }
        if m_wd.is_empty() {
            m_wd = svc.working_dir.clone();
        }
    }
    env.extend(environment);
    let ids = match st.users.normalize(m_uid, m_gid, &m_user, &m_group) {
        Ok(ids) => ids,
        Err(e) => return refuse(&mut st, record, ApiError::bad_request(e)),
    };
    // Pebble's defaults: PATH, HOME and USER of the target user, LANG.
    env.entry("PATH".into())
        .or_insert_with(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    let uid_for_home = ids.map_or(0, |(u, _)| u);
    if let Some((uname, home)) = st.users.home_of(uid_for_home) {
        if env.get("HOME").is_none_or(|h| h.is_empty()) {
            env.insert("HOME".into(), home);
        }
        if env.get("USER").is_none_or(|u| u.is_empty()) {
            env.insert("USER".into(), uname);
        }
    }
    env.entry("LANG".into()).or_insert_with(|| "C.UTF-8".into());
    if m_wd.is_empty() {
        m_wd = env
            .get("HOME")
            .cloned()
            .filter(|h| !h.is_empty())
            .unwrap_or("/".into());
    }
    let task = st.new_task(
        "exec",
        format!("exec command {:?}", command[0]),
        Status::Doing,
    );
    let task_id = task.id.clone();
    let ci = st.add_change(
        "exec",
        format!("Execute command {:?}", command[0]),
        vec![task],
    );
    let change_id = st.changes[ci].id.clone();
    record.change_id = Some(change_id.clone());
    record.task_id = Some(task_id.clone());
    record.environment = env.clone();
    record.working_dir = m_wd.clone();
    record.user_id = ids.map(|(u, _)| u);
    record.group_id = ids.map(|(_, g)| g);
    st.exec_log.push(record);
    let job = ExecJob {
        epoch: st.epoch,
        change_id: change_id.clone(),
        task_id: task_id.clone(),
        answer,
        split_stderr,
        timeout,
    };
    drop(st);
    let (session, ends) = exec::new_session(split_stderr);
    c.sessions.locked().insert(task_id.clone(), session);
    tokio::spawn(exec::drive(c.clone(), job, ends));
    c.bump();
    Ok(async_reply(
        change_id,
        Some(json!({"environment": env, "task-id": task_id, "working-dir": m_wd})),
    ))
}

fn websocket(c: &Arc<Container>, mut req: Request<Incoming>, tid: &str, wsid: &str) -> ApiResult {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let connection = header("connection").to_ascii_lowercase();
    let upgrade = header("upgrade").to_ascii_lowercase();
    let key = header("sec-websocket-key");
    if !connection.split(',').any(|t| t.trim() == "upgrade") {
        return Err(ApiError::bad_request(
            "websocket: the client is not using the websocket protocol: 'upgrade' token not found in 'Connection' header",
        ));
    }
    if upgrade != "websocket" {
        return Err(ApiError::bad_request(
            "websocket: the client is not using the websocket protocol: 'websocket' token not found in 'Upgrade' header",
        ));
    }
    if header("sec-websocket-version") != "13" || key.is_empty() {
        return Err(ApiError::bad_request(
            "websocket: unsupported version: 13 not found in 'Sec-Websocket-Version' header",
        ));
    }
    let sender = {
        let st = c.state.locked();
        let known_task = st
            .changes
            .iter()
            .any(|ch| ch.tasks.iter().any(|t| t.id == tid));
        drop(st);
        let mut sessions = c.sessions.locked();
        let Some(session) = sessions.get_mut(tid) else {
            return Err(ApiError::not_found(if known_task {
                format!("task {tid:?} is not an executing command")
            } else {
                format!("cannot find task with id {tid:?}")
            }));
        };
        match session.slots.get_mut(wsid) {
            None => {
                return Err(ApiError::not_found(format!("websocket {wsid:?} not found")));
            }
            Some(slot) => match slot.take() {
                Some(s) => s,
                None => {
                    return Err(ApiError::bad_request(format!(
                        "websocket {wsid:?} already connected"
                    )));
                }
            },
        }
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            let ws =
                WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
            let _ = sender.send(ws);
        }
    });
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    Ok(Response::builder()
        .status(101)
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Accept", accept)
        .body(Full::new(Bytes::new()))
        .expect("valid response"))
}

/// A write's error on a full filesystem (`ENOSPC`, as Go prints it).
fn disk_full(op: &str, path: &str) -> FileError {
    FileError {
        kind: "generic-file-error",
        message: format!("{op} {path}: no space left on device"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        let (m, p) = parse_media_type("multipart/form-data; boundary=\"abc def\"; x=1").unwrap();
        assert_eq!(m, "multipart/form-data");
        assert_eq!(p["boundary"], "abc def");
        assert_eq!(p["x"], "1");
        let (_, p) =
            parse_media_type(r#"form-data; name="files"; filename="/a/\"q\".txt""#).unwrap();
        assert_eq!(p["filename"], "/a/\"q\".txt");
        assert!(parse_media_type("").is_none());
    }

    #[test]
    fn notice_keys() {
        assert!(valid_notice_key("example.com/foo"));
        assert!(valid_notice_key("a-b.example.com/x/y-z"));
        assert!(!valid_notice_key("example/foo"));
        assert!(!valid_notice_key("Example.com/foo"));
        assert!(!valid_notice_key("example.com"));
    }

    #[test]
    fn queries() {
        let q = Query::parse("names=a%2Cb&names=c&x=1+2&path=%2Fetc%2Fx");
        assert_eq!(q.list("names"), vec!["a", "b", "c"]);
        assert_eq!(q.get("x"), "1 2");
        assert_eq!(q.get("path"), "/etc/x");
        assert_eq!(q.get("missing"), "");
    }

    #[test]
    fn boundaries_are_go_shaped() {
        let b = boundary(3);
        assert_eq!(b.len(), 60);
        assert!(b.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
