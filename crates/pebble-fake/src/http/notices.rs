//! `/v1/notices`: the charm's custom notices, and listing (and long-polling) notices.

use super::json_kind;
use super::{ApiResult, Query, decode, f_map, f_str, sync};
use crate::Container;
use crate::Lock;
use crate::gotime::{Timestamp, parse_duration};
use crate::state::ApiError;
use crate::state::NotifyRecord;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

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

pub(super) fn post_notice(c: &Arc<Container>, body: &[u8]) -> ApiResult {
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

pub(super) async fn get_notices(c: &Arc<Container>, q: &Query) -> ApiResult {
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

pub(super) fn get_notice(c: &Arc<Container>, id: &str) -> ApiResult {
    let st = c.state.locked();
    let n = st
        .notices
        .iter()
        .find(|n| n.id == *id)
        .ok_or_else(|| ApiError::not_found(format!("cannot find notice with ID {id:?}")))?;
    Ok(sync(n.to_json()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_keys() {
        assert!(valid_notice_key("example.com/foo"));
        assert!(valid_notice_key("a-b.example.com/x/y-z"));
        assert!(!valid_notice_key("example/foo"));
        assert!(!valid_notice_key("Example.com/foo"));
        assert!(!valid_notice_key("example.com"));
    }
}
