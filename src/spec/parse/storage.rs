//! `storage:` and `containers:`: the storage the charm declares, and the workload containers
//! that mount it.

use super::SpecError;
use super::error::{invalid, join, missing, wrong_type};
use super::names::{check_name, valid_action_name, valid_storage_name};
use super::nodes::{expect_map, field, named_entries, opt_bool, opt_str, req_str};
use super::yaml::{Node, Scalar, Value};
use crate::spec::{ContainerSpec, Mount, Multiple, StorageKind, StorageSpec};

pub(super) fn parse_storage(file: &str, root: &Node) -> Result<Vec<StorageSpec>, SpecError> {
    let mut out = Vec::new();
    for (name, key, spec) in named_entries(file, field(root, "storage"), "storage")? {
        let path = join("storage", &name);
        check_name(file, key, &path, "storage", &name, valid_storage_name)?;
        if !matches!(spec.value, Value::Map(_)) {
            return Err(wrong_type(file, spec, &path, "a mapping with `type:`"));
        }
        let ty = req_str(file, spec, "type", &path)?;
        let kind = match ty.as_str() {
            "filesystem" => StorageKind::Filesystem,
            "block" => StorageKind::Block,
            other => {
                let n = field(spec, "type").unwrap_or(spec);
                return Err(invalid(
                    file,
                    n,
                    &join(&path, "type"),
                    format!("unknown storage type {other:?}: expected \"filesystem\" or \"block\""),
                ));
            }
        };
        let multiple = match field(spec, "multiple") {
            None => Multiple {
                min: 1,
                max: Some(1),
            },
            Some(m) => {
                let mpath = join(&path, "multiple");
                if !matches!(m.value, Value::Map(_)) {
                    return Err(wrong_type(file, m, &mpath, "a mapping with `range:`"));
                }
                match m.get("range") {
                    None => return Err(missing(file, m, &mpath, "range")),
                    Some((_, r)) => parse_range(file, r, &join(&mpath, "range"))?,
                }
            }
        };
        out.push(StorageSpec {
            name,
            kind,
            location: opt_str(file, spec, "location", &path)?,
            multiple,
            shared: opt_bool(file, spec, "shared", &path)?.unwrap_or(false),
            read_only: opt_bool(file, spec, "read-only", &path)?.unwrap_or(false),
        });
    }
    Ok(out)
}

/// `range:` of `multiple:`: `N`, `N-M` or `N-` (no upper bound). A bare number may be
/// written unquoted, when YAML reads it as an integer.
pub(super) fn parse_range(file: &str, node: &Node, path: &str) -> Result<Multiple, SpecError> {
    let bad = || {
        invalid(
            file,
            node,
            path,
            format!(
                "invalid range {:?}: expected \"N\", \"N-M\" or \"N-\"",
                node.raw
            ),
        )
    };
    let text = match &node.value {
        Value::Scalar(Scalar::Int(_)) => node.raw.as_str(),
        Value::Scalar(Scalar::Str(s)) => s.as_str(),
        _ => {
            return Err(wrong_type(
                file,
                node,
                path,
                "a range like \"1\", \"1-3\" or \"0-\"",
            ));
        }
    };
    let num = |s: &str| -> Option<u32> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    let m = match text.split_once('-') {
        None => {
            let n = num(text).ok_or_else(bad)?;
            Multiple {
                min: n,
                max: Some(n),
            }
        }
        Some((lo, "")) => Multiple {
            min: num(lo).ok_or_else(bad)?,
            max: None,
        },
        Some((lo, hi)) => Multiple {
            min: num(lo).ok_or_else(bad)?,
            max: Some(num(hi).ok_or_else(bad)?),
        },
    };
    if let Some(max) = m.max {
        if m.min > max {
            return Err(invalid(
                file,
                node,
                path,
                format!(
                    "invalid range {text:?}: minimum {} is above maximum {max}",
                    m.min
                ),
            ));
        }
    }
    Ok(m)
}

pub(super) fn parse_containers(
    file: &str,
    root: &Node,
    storage: &[StorageSpec],
) -> Result<Vec<ContainerSpec>, SpecError> {
    let mut out = Vec::new();
    for (name, key, spec) in named_entries(file, field(root, "containers"), "containers")? {
        let path = join("containers", &name);
        check_name(file, key, &path, "container", &name, valid_action_name)?;
        expect_map(file, spec, &path)?;
        let mut mounts = Vec::new();
        if let Some(list) = field(spec, "mounts") {
            let mpath = join(&path, "mounts");
            let Value::Seq(items) = &list.value else {
                return Err(wrong_type(file, list, &mpath, "a list of mounts"));
            };
            for (i, item) in items.iter().enumerate() {
                let ipath = format!("{mpath}[{i}]");
                if !matches!(item.value, Value::Map(_)) {
                    return Err(wrong_type(
                        file,
                        item,
                        &ipath,
                        "a mapping with `storage:` and `location:`",
                    ));
                }
                let storage_name = req_str(file, item, "storage", &ipath)?;
                // A container can only mount storage the charm declares.
                let Some(declared) = storage.iter().find(|s| s.name == storage_name) else {
                    let n = field(item, "storage").unwrap_or(item);
                    return Err(invalid(
                        file,
                        n,
                        &join(&ipath, "storage"),
                        format!(
                            "mount refers to storage {storage_name:?}, which is not declared under `storage:`"
                        ),
                    ));
                };
                // Without `location:` the storage's own location is used.
                let location = match opt_str(file, item, "location", &ipath)? {
                    Some(l) => l,
                    None => match &declared.location {
                        Some(l) => l.clone(),
                        None => return Err(missing(file, item, &ipath, "location")),
                    },
                };
                mounts.push(Mount {
                    storage: storage_name,
                    location,
                });
            }
        }
        out.push(ContainerSpec {
            name,
            resource: opt_str(file, spec, "resource", &path)?,
            mounts,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse::yaml;

    #[test]
    fn ranges() {
        let r = |s: &str| {
            let doc = yaml::parse(&format!("r: {s}\n")).unwrap().unwrap();
            let (_, n) = doc.get("r").unwrap();
            parse_range("f", n, "r").map(|m| (m.min, m.max))
        };
        assert_eq!(r("3").unwrap(), (3, Some(3)));
        assert_eq!(r("1-3").unwrap(), (1, Some(3)));
        assert_eq!(r("0-").unwrap(), (0, None));
        assert_eq!(r("'2'").unwrap(), (2, Some(2)));
        assert!(r("3-1").is_err());
        assert!(r("-3").is_err());
        assert!(r("a-b").is_err());
        assert!(r("1.5").is_err());
        assert!(r("1-2-3").is_err());
        assert!(r("99999999999").is_err());
    }
}
