//! The metadata sections: relation endpoints (`requires:`, `provides:`, `peers:`),
//! `resources:`, `extra-bindings:`, and the substrate the charm runs on.

use super::SpecError;
use super::error::{invalid, join, wrong_type};
use super::names::{check_name, valid_endpoint_name};
use super::nodes::{expect_map, field, named_entries, opt_bool, opt_str, opt_u32, req_str};
use super::yaml::{Node, Scalar, Value};
use crate::spec::{Endpoint, ResourceSpec, Role, Scope, Substrate};
use std::collections::HashMap;

pub(super) fn parse_endpoints(file: &str, root: &Node) -> Result<Vec<Endpoint>, SpecError> {
    let mut endpoints = Vec::new();
    // Endpoint names are one namespace across the three sections: Juju identifies a
    // relation by `<app>:<endpoint>` without the role.
    let mut seen: HashMap<String, String> = HashMap::new();
    for (section, role) in [
        ("requires", Role::Requires),
        ("provides", Role::Provides),
        ("peers", Role::Peer),
    ] {
        for (name, key, spec) in named_entries(file, field(root, section), section)? {
            let path = join(section, &name);
            check_name(file, key, &path, "endpoint", &name, valid_endpoint_name)?;
            if let Some(first) = seen.get(&name) {
                return Err(SpecError::Duplicate {
                    file: file.to_string(),
                    line: key.pos.line,
                    column: key.pos.column,
                    key: path,
                    kind: "endpoint",
                    first: first.clone(),
                });
            }
            seen.insert(name.clone(), format!("{path} at {}", key.pos));

            // Juju also accepts the short form `db: mysql` (the value is the interface).
            let endpoint = if let Some(interface) = spec.as_str() {
                Endpoint {
                    name,
                    role,
                    interface: interface.to_string(),
                    limit: None,
                    scope: Scope::Global,
                    optional: false,
                }
            } else {
                if !matches!(spec.value, Value::Map(_)) {
                    return Err(wrong_type(
                        file,
                        spec,
                        &path,
                        "a mapping with `interface:` (or the interface name)",
                    ));
                }
                let interface = req_str(file, spec, "interface", &path)?;
                let scope = match opt_str(file, spec, "scope", &path)?.as_deref() {
                    None | Some("global") => Scope::Global,
                    Some("container") => Scope::Container,
                    Some(other) => {
                        let n = field(spec, "scope").unwrap_or(spec);
                        return Err(invalid(
                            file,
                            n,
                            &join(&path, "scope"),
                            format!(
                                "unknown scope {other:?}: expected \"global\" or \"container\""
                            ),
                        ));
                    }
                };
                Endpoint {
                    name,
                    role,
                    interface,
                    limit: opt_u32(file, spec, "limit", &path)?,
                    scope,
                    optional: opt_bool(file, spec, "optional", &path)?.unwrap_or(false),
                }
            };
            endpoints.push(endpoint);
        }
    }
    Ok(endpoints)
}

pub(super) fn parse_resources(file: &str, root: &Node) -> Result<Vec<ResourceSpec>, SpecError> {
    let mut out = Vec::new();
    for (name, _key, spec) in named_entries(file, field(root, "resources"), "resources")? {
        let path = join("resources", &name);
        expect_map(file, spec, &path)?;
        // Juju's default resource type is `file`.
        let kind = opt_str(file, spec, "type", &path)?.unwrap_or_else(|| "file".to_string());
        if kind != "file" && kind != "oci-image" {
            let n = field(spec, "type").unwrap_or(spec);
            return Err(invalid(
                file,
                n,
                &join(&path, "type"),
                format!("unknown resource type {kind:?}: expected \"file\" or \"oci-image\""),
            ));
        }
        out.push(ResourceSpec {
            name,
            kind,
            filename: opt_str(file, spec, "filename", &path)?,
        });
    }
    Ok(out)
}

/// `extra-bindings:` is a mapping whose keys are the binding names (values are ignored, and
/// usually null), or a plain list of names.
pub(super) fn parse_extra_bindings(file: &str, root: &Node) -> Result<Vec<String>, SpecError> {
    let Some(node) = field(root, "extra-bindings") else {
        return Ok(Vec::new());
    };
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| {
                n.as_str().map(str::to_string).ok_or_else(|| {
                    wrong_type(file, n, &format!("extra-bindings[{i}]"), "a binding name")
                })
            })
            .collect(),
        _ => Ok(named_entries(file, Some(node), "extra-bindings")?
            .into_iter()
            .map(|(name, _, _)| name)
            .collect()),
    }
}

/// Kubernetes when the charm has workload containers, `assumes` names `k8s-api` (anywhere,
/// including inside `any-of:`/`all-of:`), or the deprecated `series: [kubernetes]`.
pub(super) fn detect_substrate(
    file: &str,
    root: &Node,
    has_containers: bool,
) -> Result<Substrate, SpecError> {
    fn mentions(node: &Node, word: &str) -> bool {
        match &node.value {
            Value::Scalar(Scalar::Str(s)) => s.trim() == word,
            Value::Seq(items) => items.iter().any(|n| mentions(n, word)),
            Value::Map(pairs) => pairs.iter().any(|(_, v)| mentions(v, word)),
            Value::Scalar(_) => false,
        }
    }
    let assumes = field(root, "assumes");
    if let Some(a) = assumes {
        if !matches!(a.value, Value::Seq(_)) {
            return Err(wrong_type(file, a, "assumes", "a list of requirements"));
        }
    }
    let k8s = has_containers
        || assumes.is_some_and(|a| mentions(a, "k8s-api"))
        || field(root, "series").is_some_and(|s| mentions(s, "kubernetes"));
    Ok(if k8s {
        Substrate::Kubernetes
    } else {
        Substrate::Machine
    })
}
