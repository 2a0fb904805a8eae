//! `/v1/files`: `pull` answered as Go's `mime/multipart` writer lays it out, `push`
//! (multipart, chunked) written into the container's filesystem, `list_files`,
//! `make_dir` and `remove_path`.

use super::body_bytes;
use super::{ApiResult, Query, decode, f_bool, f_str, sync, type_err};
use super::{envelope, file_error_json, json_reply, ownership};
use crate::Container;
use crate::Lock;
use crate::files::FileError;
use crate::state::ApiError;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Go's `multipart.Writer` boundary: 60 hex digits (ours deterministic per request).
fn boundary(seed: usize) -> String {
    let mut x = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..60)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x % 16) as u32, 16).unwrap_or('0')
        })
        .collect()
}

fn escape_quotes(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub(super) fn get_files(c: &Arc<Container>, req: &Request<Incoming>, q: &Query) -> ApiResult {
    match q.get("action") {
        "read" => {
            let paths = q.all("path");
            if paths.is_empty() {
                return Err(ApiError::bad_request("must specify one or more paths"));
            }
            let accept = req
                .headers()
                .get("accept")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if accept != "multipart/form-data" {
                return Err(ApiError::bad_request("must accept multipart/form-data"));
            }
            let st = c.state.locked();
            let b = boundary(st.request_log.len() + 1);
            let mut body: Vec<u8> = Vec::new();
            let mut first = true;
            let mut part = |body: &mut Vec<u8>, headers: &[(&str, String)]| {
                if first {
                    body.extend_from_slice(format!("--{b}\r\n").as_bytes());
                    first = false;
                } else {
                    body.extend_from_slice(format!("\r\n--{b}\r\n").as_bytes());
                }
                for (k, v) in headers {
                    body.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
                }
                body.extend_from_slice(b"\r\n");
            };
            let mut results = Vec::new();
            for p in &paths {
                match st.fs.read(p) {
                    Ok(content) => {
                        part(
                            &mut body,
                            &[
                                (
                                    "Content-Disposition",
                                    format!(
                                        "form-data; name=\"files\"; filename=\"{}\"",
                                        escape_quotes(p)
                                    ),
                                ),
                                ("Content-Type", "application/octet-stream".into()),
                            ],
                        );
                        body.extend_from_slice(&content);
                        results.push(json!({"path": p}));
                    }
                    Err(e) => results.push(json!({"path": p, "error": file_error_json(&e)})),
                }
            }
            part(
                &mut body,
                &[
                    ("Content-Disposition", "form-data; name=\"response\"".into()),
                    ("Content-Type", "application/json".into()),
                ],
            );
            let meta = envelope("sync", 200, None, Some(Value::Array(results)));
            body.extend_from_slice(&serde_json::to_vec(&meta).unwrap_or_default());
            body.push(b'\n');
            body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
            Ok(Response::builder()
                .status(200)
                .header("Content-Type", format!("multipart/form-data; boundary={b}"))
                .body(Full::new(Bytes::from(body)))
                .expect("valid response"))
        }
        "list" => {
            let path = q.get("path");
            if path.is_empty() {
                return Err(ApiError::bad_request("must specify path"));
            }
            let itself = q.get("itself");
            if !matches!(itself, "" | "true" | "false") {
                return Err(ApiError::bad_request(
                    "itself parameter must be \"true\" or \"false\"",
                ));
            }
            if !path.starts_with('/') {
                return Err(ApiError::bad_request(format!(
                    "path must be absolute, got {path:?}"
                )));
            }
            let st = c.state.locked();
            match st
                .fs
                .list(&st.users, path, q.get("pattern"), itself == "true")
            {
                Ok(list) => Ok(sync(Value::Array(
                    list.iter().map(|f| f.to_json()).collect(),
                ))),
                Err(e) => {
                    let code = e.status();
                    Ok(json_reply(
                        code,
                        &envelope("error", code, None, Some(file_error_json(&e))),
                    ))
                }
            }
        }
        other => Err(ApiError::bad_request(format!("invalid action {other:?}"))),
    }
}

/// Parses `type/subtype; k=v; k2="v 2"` (Go's `mime.ParseMediaType`, simplified).
fn parse_media_type(s: &str) -> Option<(String, BTreeMap<String, String>)> {
    let mut parts = s.splitn(2, ';');
    let media = parts.next()?.trim().to_ascii_lowercase();
    if media.is_empty() {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut rest = parts.next().unwrap_or("").trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim().to_ascii_lowercase();
        rest = &rest[eq + 1..];
        let value;
        if let Some(r) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = r.char_indices();
            let mut end = None;
            while let Some((i, ch)) = chars.next() {
                match ch {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    ch => v.push(ch),
                }
            }
            value = v;
            rest = &r[end?..];
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        params.insert(key, value);
        rest = rest.trim_start().trim_start_matches(';').trim_start();
    }
    Some((media, params))
}

pub(super) async fn post_files(c: &Arc<Container>, req: Request<Incoming>) -> ApiResult {
    let ctype = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let Some((media, params)) = parse_media_type(&ctype) else {
        return Err(ApiError::bad_request(format!(
            "invalid Content-Type {ctype:?}"
        )));
    };
    match media.as_str() {
        "multipart/form-data" => {
            let boundary = params.get("boundary").cloned().unwrap_or_default();
            if boundary.len() < 32 {
                return Err(ApiError::bad_request(format!(
                    "invalid boundary {boundary:?}"
                )));
            }
            let body = body_bytes(req).await?;
            write_files(c, body, boundary).await
        }
        "application/json" => {
            let body = decode(&body_bytes(req).await?, "cannot decode request body")?;
            let action = f_str(&body, "action")?;
            match action.as_str() {
                "make-dirs" => {
                    let dirs = match &body["dirs"] {
                        Value::Array(a) => a.clone(),
                        Value::Null => Vec::new(),
                        other => return Err(type_err("dirs", other, "[]daemon.makeDirsItem")),
                    };
                    let mut results = Vec::new();
                    let mut st = c.state.locked();
                    let st = &mut *st;
                    for d in &dirs {
                        let path = f_str(d, "path")?;
                        if st.faults.disk_full {
                            results.push(path_result(&path, Err(disk_full("mkdir", &path))));
                            continue;
                        }
                        let r = st.fs.make_dir(
                            &mut st.users,
                            &path,
                            f_bool(d, "make-parents")?,
                            &ownership(d)?,
                        );
                        results.push(path_result(&path, r));
                    }
                    Ok(sync(Value::Array(results)))
                }
                "remove" => {
                    let paths = match &body["paths"] {
                        Value::Array(a) => a.clone(),
                        Value::Null => Vec::new(),
                        other => return Err(type_err("paths", other, "[]daemon.removePathsItem")),
                    };
                    let mut results = Vec::new();
                    let mut st = c.state.locked();
                    for p in &paths {
                        let path = f_str(p, "path")?;
                        let r = st.fs.remove(&path, f_bool(p, "recursive")?);
                        results.push(path_result(&path, r));
                    }
                    Ok(sync(Value::Array(results)))
                }
                "write" => Err(ApiError::bad_request(
                    "must use multipart with \"write\" action",
                )),
                other => Err(ApiError::bad_request(format!("invalid action {other:?}"))),
            }
        }
        other => Err(ApiError::bad_request(format!(
            "invalid media type {other:?}"
        ))),
    }
}

fn path_result(path: &str, r: Result<(), FileError>) -> Value {
    match r {
        Ok(()) => json!({"path": path}),
        Err(e) => json!({"path": path, "error": file_error_json(&e)}),
    }
}

fn part_names(field: &multer::Field<'_>) -> (String, Option<String>) {
    let cd = field
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match parse_media_type(cd) {
        Some((_, params)) => (
            params.get("name").cloned().unwrap_or_default(),
            params.get("filename").cloned(),
        ),
        None => (String::new(), None),
    }
}

async fn write_files(c: &Arc<Container>, body: Bytes, boundary: String) -> ApiResult {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    let first = match mp.next_field().await {
        Ok(Some(f)) => f,
        Ok(None) => {
            return Err(ApiError::bad_request("cannot read request metadata: EOF"));
        }
        Err(e) => {
            return Err(ApiError::bad_request(format!(
                "cannot read request metadata: {e}"
            )));
        }
    };
    let (name, _) = part_names(&first);
    if name != "request" {
        return Err(ApiError::bad_request(format!(
            "metadata field name must be \"request\", got {name:?}"
        )));
    }
    let meta_bytes = first
        .bytes()
        .await
        .map_err(|e| ApiError::bad_request(format!("cannot read request metadata: {e}")))?;
    let meta = decode(&meta_bytes, "cannot decode request metadata")?;
    let action = f_str(&meta, "action")?;
    if action != "write" {
        return Err(ApiError::bad_request(format!(
            "multipart action must be \"write\", got {action:?}"
        )));
    }
    let files = match &meta["files"] {
        Value::Array(a) => a.clone(),
        _ => Vec::new(),
    };
    if files.is_empty() {
        return Err(ApiError::bad_request("must specify one or more files"));
    }
    let mut infos: BTreeMap<String, Value> = BTreeMap::new();
    for f in &files {
        infos.insert(f_str(f, "path")?, f.clone());
    }
    let mut contents: Vec<(String, Bytes)> = Vec::new();
    let mut i = 0;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "cannot read file part {i}: {e}"
                )));
            }
        };
        let (name, filename) = part_names(&field);
        if name != "files" {
            return Err(ApiError::bad_request(format!(
                "field name must be \"files\", got {name:?}"
            )));
        }
        let path = filename.unwrap_or_default();
        if !infos.contains_key(&path) {
            return Err(ApiError::bad_request(format!(
                "no metadata for path {path:?}"
            )));
        }
        let data = field
            .bytes()
            .await
            .map_err(|e| ApiError::bad_request(format!("cannot read file part {i}: {e}")))?;
        contents.push((path, data));
        i += 1;
    }
    let mut errors: BTreeMap<String, Option<FileError>> = BTreeMap::new();
    {
        let mut st = c.state.locked();
        let st = &mut *st;
        for (path, data) in &contents {
            let info = &infos[path];
            if st.faults.disk_full {
                errors.insert(path.clone(), Some(disk_full("write", path)));
                continue;
            }
            let r = st.fs.write(
                &mut st.users,
                path,
                f_bool(info, "make-dirs")?,
                &ownership(info)?,
                data,
            );
            errors.insert(path.clone(), r.err());
        }
    }
    let results: Vec<Value> = files
        .iter()
        .map(|f| {
            let path = f_str(f, "path").unwrap_or_default();
            match errors.get(&path) {
                Some(None) => json!({"path": path}),
                Some(Some(e)) => json!({"path": path, "error": file_error_json(e)}),
                None => json!({"path": path, "error": {
                    "message": format!("no file content for path {path:?}"),
                    "kind": "generic-file-error",
                }}),
            }
        })
        .collect();
    Ok(sync(Value::Array(results)))
}

/// A write's error on a full filesystem (`ENOSPC`, as Go prints it).
fn disk_full(op: &str, path: &str) -> FileError {
    FileError {
        kind: "generic-file-error",
        message: format!("{op} {path}: no space left on device"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        let (m, p) = parse_media_type("multipart/form-data; boundary=\"abc def\"; x=1").unwrap();
        assert_eq!(m, "multipart/form-data");
        assert_eq!(p["boundary"], "abc def");
        assert_eq!(p["x"], "1");
        let (_, p) =
            parse_media_type(r#"form-data; name="files"; filename="/a/\"q\".txt""#).unwrap();
        assert_eq!(p["filename"], "/a/\"q\".txt");
        assert!(parse_media_type("").is_none());
    }

    #[test]
    fn boundaries_are_go_shaped() {
        let b = boundary(3);
        assert_eq!(b.len(), 60);
        assert!(b.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
