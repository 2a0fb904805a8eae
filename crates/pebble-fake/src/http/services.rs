//! `/v1/layers`, `/v1/plan` and `/v1/services`: the configuration and the services it
//! defines.

use super::{ApiResult, Query, async_reply, decode, f_bool, f_list, f_str, sync};
use crate::Container;
use crate::Lock;
use crate::layer::parse_layer;
use crate::state::ApiError;
use serde_json::Value;
use std::sync::Arc;

pub(super) fn post_layers(c: &Arc<Container>, body: &[u8]) -> ApiResult {
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

pub(super) fn get_plan(c: &Arc<Container>, query: &Query) -> ApiResult {
    let format = query.get("format");
    if format != "yaml" {
        return Err(ApiError::bad_request(format!("invalid format {format:?}")));
    }
    let st = c.state.locked();
    Ok(sync(Value::String(st.plan.to_yaml())))
}

pub(super) fn get_services(c: &Arc<Container>, query: &Query) -> ApiResult {
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

/// Starts, stops, restarts, replans… as a change.
pub(super) fn post_services(c: &Arc<Container>, body: &[u8]) -> ApiResult {
    let body = decode(body, "cannot decode data from request body")?;
    let action = f_str(&body, "action")?;
    let services = f_list(&body, "services")?;
    let id = {
        let mut st = c.state.locked();
        st.services_action(&action, &services)?
    };
    c.bump();
    Ok(async_reply(id, None))
}
