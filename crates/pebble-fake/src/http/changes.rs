//! `/v1/changes`: listing, reading, aborting and waiting for changes.

use super::{ApiResult, Query, decode, f_str, sync};
use crate::Container;
use crate::Lock;
use crate::gotime::{format_duration, parse_duration};
use crate::state::ApiError;
use crate::state::Status;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub(super) fn get_changes(c: &Arc<Container>, q: &Query) -> ApiResult {
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

pub(super) fn get_change(c: &Arc<Container>, id: &str) -> ApiResult {
    let st = c.state.locked();
    let ci = st
        .change_index(id)
        .ok_or_else(|| ApiError::not_found(format!("cannot find change with id {id:?}")))?;
    Ok(sync(st.changes[ci].to_json()))
}

pub(super) fn abort_change(c: &Arc<Container>, id: &str, body: &[u8]) -> ApiResult {
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

pub(super) async fn wait_change(c: &Arc<Container>, id: &str, q: &Query) -> ApiResult {
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
