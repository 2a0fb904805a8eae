//! `/v1/exec` (a command run as a change, its output scripted), the websockets its
//! client connects to (`/v1/tasks/<id>/websocket/<name>`), and `/v1/signals`.

use super::{ApiResult, async_reply, decode, f_bool, f_int, f_list, f_map, f_str, sync};
use crate::Container;
use crate::Lock;
use crate::exec::{self, ExecAnswer, ExecDefault, ExecJob, ExecMatch};
use crate::gotime::parse_duration;
use crate::state::ApiError;
use crate::state::{ContainerState, ExecRecord, ServiceState, SignalRecord, Status};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;

/// What a `POST /v1/exec` body asks for.
struct ExecRequest {
    command: Vec<String>,
    service_context: String,
    environment: BTreeMap<String, String>,
    working_dir: String,
    timeout: Option<std::time::Duration>,
    user_id: Option<i64>,
    group_id: Option<i64>,
    user: String,
    group: String,
    split_stderr: bool,
}

impl ExecRequest {
    fn parse(body: &[u8]) -> Result<ExecRequest, ApiError> {
        let body = decode(body, "cannot decode request body")?;
        let command = f_list(&body, "command")?;
        let service_context = f_str(&body, "service-context")?;
        let environment = f_map(&body, "environment")?;
        let working_dir = f_str(&body, "working-dir")?;
        let timeout_s = f_str(&body, "timeout")?;
        let (user_id, group_id) = (f_int(&body, "user-id")?, f_int(&body, "group-id")?);
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
        Ok(ExecRequest {
            command,
            service_context,
            environment,
            working_dir,
            timeout,
            user_id,
            group_id,
            user,
            group,
            split_stderr,
        })
    }

    /// The exec log's record of the request, before it runs.
    fn record(&self) -> ExecRecord {
        ExecRecord {
            change_id: None,
            task_id: None,
            command: self.command.clone(),
            environment: BTreeMap::new(),
            requested_environment: self.environment.clone(),
            working_dir: self.working_dir.clone(),
            service_context: (!self.service_context.is_empty())
                .then(|| self.service_context.clone()),
            user_id: None,
            group_id: None,
            timeout: self.timeout,
            split_stderr: self.split_stderr,
            stdin: Vec::new(),
            stdin_closed: false,
            signals: Vec::new(),
            answer: None,
            unscripted: false,
            exit_code: None,
            error: None,
        }
    }
}

/// Where and as whom a command runs: its environment, user and group ids (if any) and
/// working directory, after the service context and Pebble's defaults.
struct ExecContext {
    env: BTreeMap<String, String>,
    ids: Option<(u32, u32)>,
    working_dir: String,
}

pub(super) fn post_exec(c: &Arc<Container>, body: &[u8]) -> ApiResult {
    let req = ExecRequest::parse(body)?;
    let mut st = c.state.locked();
    let mut record = req.record();
    let prepared = match pick_answer(&mut st, &mut record, &req.command) {
        Ok(answer) => exec_context(&mut st, &req).map(|ctx| (answer, ctx)),
        Err(e) => Err(e),
    };
    let (answer, ctx) = match prepared {
        Ok(p) => p,
        Err(e) => {
            record.error = Some(e.message.clone());
            st.exec_log.push(record);
            return Err(e);
        }
    };
    let task = st.new_task(
        "exec",
        format!("exec command {:?}", req.command[0]),
        Status::Doing,
    );
    let task_id = task.id.clone();
    let ci = st.add_change(
        "exec",
        format!("Execute command {:?}", req.command[0]),
        vec![task],
    );
    let change_id = st.changes[ci].id.clone();
    record.change_id = Some(change_id.clone());
    record.task_id = Some(task_id.clone());
    record.environment = ctx.env.clone();
    record.working_dir = ctx.working_dir.clone();
    record.user_id = ctx.ids.map(|(u, _)| u);
    record.group_id = ctx.ids.map(|(_, g)| g);
    st.exec_log.push(record);
    let job = ExecJob {
        epoch: st.epoch,
        change_id: change_id.clone(),
        task_id: task_id.clone(),
        answer,
        split_stderr: req.split_stderr,
        timeout: req.timeout,
    };
    drop(st);
    let (session, ends) = exec::new_session(req.split_stderr);
    c.sessions.locked().insert(task_id.clone(), session);
    tokio::spawn(exec::drive(c.clone(), job, ends));
    c.bump();
    Ok(async_reply(
        change_id,
        Some(json!({"environment": ctx.env, "task-id": task_id, "working-dir": ctx.working_dir})),
    ))
}

/// What the command will do: the scripted answer (noted in `record`), or an unscripted
/// command's default; a failing workload fails it whatever it is.
fn pick_answer(
    st: &mut ContainerState,
    record: &mut ExecRecord,
    command: &[String],
) -> Result<ExecAnswer, ApiError> {
    Ok(match st.answer_exec(command) {
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
            st.unanswered.push(command.to_vec());
            record.unscripted = true;
            match st.exec_answers.unscripted {
                ExecDefault::Succeed => ExecAnswer::default(),
                ExecDefault::NotFound => {
                    return Err(ApiError::bad_request(format!(
                        "cannot find executable {:?}",
                        command[0]
                    )));
                }
            }
        }
    })
}

/// The command's environment, ids and working directory: the request's, over the service
/// context's, over Pebble's defaults.
fn exec_context(st: &mut ContainerState, req: &ExecRequest) -> Result<ExecContext, ApiError> {
    // Merge the service context (its environment, user, group and working dir).
    let mut env = BTreeMap::new();
    let (mut m_uid, mut m_gid) = (req.user_id, req.group_id);
    let (mut m_user, mut m_group) = (req.user.clone(), req.group.clone());
    let mut m_wd = req.working_dir.clone();
    if !req.service_context.is_empty() {
        let Some(svc) = st.plan.services.get(&req.service_context).cloned() else {
            return Err(ApiError::bad_request(format!(
                "context service {:?} not found",
                req.service_context
            )));
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
    env.extend(req.environment.clone());
    let ids = st
        .users
        .normalize(m_uid, m_gid, &m_user, &m_group)
        .map_err(ApiError::bad_request)?;
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
    Ok(ExecContext {
        env,
        ids,
        working_dir: m_wd,
    })
}
pub(super) fn websocket(
    c: &Arc<Container>,
    mut req: Request<Incoming>,
    tid: &str,
    wsid: &str,
) -> ApiResult {
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

pub(super) fn post_signals(c: &Arc<Container>, body: &[u8]) -> ApiResult {
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
            .is_some_and(|s| matches!(s.state, ServiceState::Running));
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
