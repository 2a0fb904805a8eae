//! Actions (`actions.yaml`, or `actions:` in the unified form) and their parameters, which
//! are JSON-schema properties.

use super::error::{invalid, join, wrong_type};
use super::names::{check_name, valid_action_name};
use super::nodes::{
    expect_map, field, named_entries, opt_bool, opt_number, opt_text, opt_u64, to_json,
};
use super::yaml::{Node, Value};
use super::{Section, SpecError};
use crate::spec::{ActionParam, ActionSpec, ParamType};

pub(super) fn parse_actions(section: Section<'_>) -> Result<Vec<ActionSpec>, SpecError> {
    let file = section.file;
    let mut out = Vec::new();
    for (name, key, spec) in named_entries(file, section.node, section.prefix)? {
        let path = join(section.prefix, &name);
        check_name(file, key, &path, "action", &name, valid_action_name)?;
        expect_map(file, spec, &path)?;
        let mut params = Vec::new();
        let params_path = join(&path, "params");
        for (pname, _pkey, pspec) in named_entries(file, field(spec, "params"), &params_path)? {
            params.push(parse_param(file, pname, pspec, &params_path)?);
        }
        let mut required = Vec::new();
        if let Some(r) = field(spec, "required") {
            let rpath = join(&path, "required");
            let Value::Seq(items) = &r.value else {
                return Err(wrong_type(file, r, &rpath, "a list of parameter names"));
            };
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(s) => required.push(s.to_string()),
                    None => {
                        return Err(wrong_type(
                            file,
                            item,
                            &format!("{rpath}[{i}]"),
                            "a parameter name",
                        ));
                    }
                }
            }
        }
        out.push(ActionSpec {
            name,
            description: opt_text(file, spec, "description", &path)?,
            params,
            required,
            additional_properties: opt_bool(file, spec, "additionalProperties", &path)?
                .unwrap_or(true),
        });
    }
    Ok(out)
}

/// `type:` of a JSON-schema property: a name, or a list of names (`[string, "null"]`).
pub(super) fn param_type(file: &str, node: &Node, path: &str) -> Result<ParamType, SpecError> {
    let one = |n: &Node| -> Result<Option<ParamType>, SpecError> {
        let Some(s) = n.as_str() else {
            return Err(wrong_type(file, n, path, "a JSON-schema type name"));
        };
        Ok(Some(match s {
            "string" => ParamType::String,
            "integer" => ParamType::Integer,
            "number" => ParamType::Number,
            "boolean" => ParamType::Boolean,
            "array" => ParamType::Array,
            "object" => ParamType::Object,
            "null" => return Ok(None),
            other => {
                return Err(invalid(
                    file,
                    n,
                    path,
                    format!(
                        "unknown parameter type {other:?}: expected string, integer, number, boolean, array, object or null"
                    ),
                ));
            }
        }))
    };
    match &node.value {
        Value::Seq(items) => {
            let mut types = Vec::new();
            for item in items {
                if let Some(t) = one(item)? {
                    types.push(t);
                }
            }
            // One non-null type is that type (the value may also be null); several are Any.
            Ok(if types.len() == 1 {
                types[0]
            } else {
                ParamType::Any
            })
        }
        _ => Ok(one(node)?.unwrap_or(ParamType::Any)),
    }
}

pub(super) fn parse_param(
    file: &str,
    name: String,
    spec: &Node,
    params_path: &str,
) -> Result<ActionParam, SpecError> {
    let path = join(params_path, &name);
    expect_map(file, spec, &path)?;
    let ty = match field(spec, "type") {
        None => ParamType::Any,
        Some(t) => param_type(file, t, &join(&path, "type"))?,
    };
    let default = field(spec, "default")
        .map(|d| to_json(file, d, &join(&path, "default")))
        .transpose()?;
    let allowed = match field(spec, "enum") {
        None => None,
        Some(e) => {
            let epath = join(&path, "enum");
            if !matches!(e.value, Value::Seq(_)) {
                return Err(wrong_type(file, e, &epath, "a list of allowed values"));
            }
            match to_json(file, e, &epath)? {
                serde_json::Value::Array(values) => Some(values),
                _ => None,
            }
        }
    };
    let items = match field(spec, "items") {
        None => None,
        Some(i) => {
            let ipath = join(&path, "items");
            expect_map(file, i, &ipath)?;
            match field(i, "type") {
                None => None,
                Some(t) => Some(param_type(file, t, &join(&ipath, "type"))?),
            }
        }
    };
    Ok(ActionParam {
        name,
        ty,
        description: opt_text(file, spec, "description", &path)?,
        default,
        allowed,
        minimum: opt_number(file, spec, "minimum", &path)?,
        maximum: opt_number(file, spec, "maximum", &path)?,
        min_length: opt_u64(file, spec, "minLength", &path)?,
        max_length: opt_u64(file, spec, "maxLength", &path)?,
        items,
    })
}
