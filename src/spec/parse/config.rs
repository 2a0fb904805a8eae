//! Config options (`config.yaml`'s `options:`, or `config: options:` in the unified form),
//! with their defaults checked against their types as Juju checks them.

use super::error::{invalid, join, wrong_type};
use super::nodes::{expect_map, field, named_entries, opt_text, req_str};
use super::yaml::{Node, Scalar, Value};
use super::{Section, SpecError};
use crate::spec::{ConfigOption, ConfigType};

pub(super) fn parse_config(section: Section<'_>) -> Result<Vec<ConfigOption>, SpecError> {
    let file = section.file;
    let Some(node) = section.node else {
        return Ok(Vec::new());
    };
    expect_map(file, node, section.prefix)?;
    let options_path = join(section.prefix, "options");
    let mut out = Vec::new();
    for (name, _key, spec) in named_entries(file, field(node, "options"), &options_path)? {
        let path = join(&options_path, &name);
        if !matches!(spec.value, Value::Map(_)) {
            return Err(wrong_type(file, spec, &path, "a mapping with `type:`"));
        }
        let ty_name = req_str(file, spec, "type", &path)?;
        let ty = match ty_name.as_str() {
            "string" => ConfigType::String,
            "int" => ConfigType::Int,
            "float" => ConfigType::Float,
            "boolean" => ConfigType::Boolean,
            "secret" => ConfigType::Secret,
            other => {
                let n = field(spec, "type").unwrap_or(spec);
                return Err(invalid(
                    file,
                    n,
                    &join(&path, "type"),
                    format!(
                        "unknown config type {other:?} for option {name:?}: expected one of string, int, float, boolean, secret"
                    ),
                ));
            }
        };
        let default = match field(spec, "default") {
            None => None,
            Some(d) => config_default(file, d, &join(&path, "default"), &name, ty, &ty_name)?,
        };
        out.push(ConfigOption {
            name,
            ty,
            default,
            description: opt_text(file, spec, "description", &path)?,
        });
    }
    Ok(out)
}

/// Check a config default against its type, the way Juju's charm library does when it reads
/// `config.yaml`: an integer is a fine float, anything else must already have the type.
pub(super) fn config_default(
    file: &str,
    node: &Node,
    path: &str,
    option: &str,
    ty: ConfigType,
    ty_name: &str,
) -> Result<Option<serde_json::Value>, SpecError> {
    use serde_json::Value as J;
    // For compatibility with pyjuju, Juju skips checking an empty-string default of a
    // non-string option; such an option has no default.
    if ty != ConfigType::String && node.as_str() == Some("") {
        return Ok(None);
    }
    let value = match (ty, &node.value) {
        (ConfigType::String | ConfigType::Secret, Value::Scalar(Scalar::Str(s))) => {
            Some(J::String(s.clone()))
        }
        (ConfigType::Int, Value::Scalar(Scalar::Int(i))) => Some(J::from(*i)),
        (ConfigType::Float, Value::Scalar(Scalar::Int(i))) => {
            serde_json::Number::from_f64(*i as f64).map(J::Number)
        }
        (ConfigType::Float, Value::Scalar(Scalar::Float(f))) => {
            match serde_json::Number::from_f64(*f) {
                Some(n) => Some(J::Number(n)),
                None => {
                    return Err(invalid(
                        file,
                        node,
                        path,
                        format!(
                            "default {} of option {option:?} is not a finite number",
                            node.raw
                        ),
                    ));
                }
            }
        }
        (ConfigType::Boolean, Value::Scalar(Scalar::Bool(b))) => Some(J::Bool(*b)),
        _ => None,
    };
    match value {
        Some(v) => Ok(Some(v)),
        None => Err(SpecError::WrongType {
            file: file.to_string(),
            line: node.pos.line,
            column: node.pos.column,
            key: path.to_string(),
            expected: format!("a default of type {ty_name} for option {option:?}"),
            found: node.describe(),
        }),
    }
}
