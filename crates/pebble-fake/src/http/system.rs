//! `/v1/system-info`, `/v1/warnings` (always none) and `/v1/identities`.

use super::{ApiResult, Query, decode, f_str, sync, sync_empty, type_err};
use crate::Container;
use crate::Lock;
use crate::state::ApiError;
use serde_json::{Value, json};
use std::sync::Arc;

pub(super) fn get_system_info(c: &Arc<Container>) -> ApiResult {
    let st = c.state.locked();
    Ok(sync(
        json!({"boot-id": st.boot_id(), "version": st.version}),
    ))
}

pub(super) fn get_warnings(query: &Query) -> ApiResult {
    match query.get("select") {
        "" | "all" | "pending" => Ok(sync(json!([]))),
        other => Err(ApiError::bad_request(format!(
            "invalid select parameter: {other:?}"
        ))),
    }
}

pub(super) fn post_warnings(body: &[u8]) -> ApiResult {
    let body = decode(body, "cannot decode request body")?;
    let action = f_str(&body, "action")?;
    if action != "okay" {
        return Err(ApiError::bad_request(format!(
            "unknown warning action {action:?}"
        )));
    }
    Ok(sync(json!(0)))
}

/// The identities, passwords masked.
pub(super) fn get_identities(c: &Arc<Container>) -> ApiResult {
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

pub(super) fn post_identities(c: &Arc<Container>, body: &[u8]) -> ApiResult {
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
