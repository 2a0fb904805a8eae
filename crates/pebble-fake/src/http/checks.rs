//! `/v1/checks`: the health checks' states, and starting or stopping them.

use super::{ApiResult, Query, decode, f_list, f_str, sync};
use crate::Container;
use crate::Lock;
use crate::state::ApiError;
use serde_json::{Value, json};
use std::sync::Arc;

pub(super) fn get_checks(c: &Arc<Container>, query: &Query) -> ApiResult {
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

pub(super) fn post_checks(c: &Arc<Container>, body: &[u8]) -> ApiResult {
    let body = decode(body, "cannot decode data from request body")?;
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
