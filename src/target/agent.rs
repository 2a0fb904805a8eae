//! The unit agent's socket: how a hook tool reaches the harness.
//!
//! In Juju, every hook tool (`relation-get`, `status-set`, …) is a symlink to one binary,
//! `jujuc`, which sends its argv and stdin over the unit agent's socket
//! (`JUJU_AGENT_SOCKET_ADDRESS`, tagged with `JUJU_CONTEXT_ID`) and prints what the agent
//! answers. charmfuzz copies that design: the `charmfuzz` binary is also a multi-call
//! `jujuc` (run under a tool's name, it acts as that tool), symlinked under every tool name
//! in a directory put first on the charm's `PATH`; the worker's in-process fast path speaks
//! the same protocol over the same socket without spawning anything.
//!
//! Wire format, both ways: a 4-byte big-endian length, then a JSON object.
//! Request `{"tool", "args", "stdin", "cwd"}`; answer `{"code", "stdout", "stderr"}`. A
//! connection may carry many requests (the fast path keeps one open for a whole hook).

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// One hook-tool invocation, as `jujuc` forwards it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolRequest {
    /// The tool's name (the basename it was run as).
    pub tool: String,
    pub args: Vec<String>,
    /// What the tool was given on stdin (`relation-set --file -`, `state-set`), if anything.
    #[serde(default)]
    pub stdin: Option<String>,
    #[serde(default)]
    pub cwd: Option<String>,
}

/// What the tool prints and how it exits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolResponse {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The largest frame either side accepts (a relation databag or a secret can be big, but
/// not this big).
pub const MAX_FRAME: usize = 64 << 20;

pub fn write_frame<T: Serialize>(w: &mut impl Write, msg: &T) -> io::Result<()> {
    let data = serde_json::to_vec(msg).map_err(io::Error::other)?;
    let mut buf = Vec::with_capacity(4 + data.len());
    buf.extend_from_slice(&(data.len() as u32).to_be_bytes());
    buf.extend_from_slice(&data);
    w.write_all(&buf)?;
    w.flush()
}

/// Read one frame; `Ok(None)` on a clean end of stream before a frame starts.
pub fn read_frame<T: for<'de> Deserialize<'de>>(r: &mut impl Read) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..])? {
            0 if got == 0 => return Ok(None),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => got += n,
        }
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes"),
        ));
    }
    let mut data = vec![0; len];
    r.read_exact(&mut data)?;
    serde_json::from_slice(&data)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Run as the hook tool `tool`: forward argv and stdin to the agent named by
/// `JUJU_AGENT_SOCKET_ADDRESS`, print the answer, and return the exit code. This is the
/// whole of the multi-call `jujuc` (see `main.rs`).
pub fn jujuc_main(tool: &str, args: Vec<String>) -> i32 {
    let Some(addr) = std::env::var_os("JUJU_AGENT_SOCKET_ADDRESS") else {
        eprintln!("ERROR JUJU_AGENT_SOCKET_ADDRESS not set: {tool} must be run from a hook");
        return 2;
    };
    // Read stdin only when it is not a terminal: hooks run with stdin from /dev/null or a
    // pipe, so this never blocks there.
    let mut stdin = String::new();
    let is_tty = io::IsTerminal::is_terminal(&io::stdin());
    if !is_tty {
        let mut raw = Vec::new();
        let _ = io::stdin().read_to_end(&mut raw);
        stdin = String::from_utf8_lossy(&raw).into_owned();
    }
    let req = ToolRequest {
        tool: tool.to_string(),
        args,
        stdin: (!stdin.is_empty()).then_some(stdin),
        cwd: std::env::current_dir()
            .ok()
            .map(|p| p.display().to_string()),
    };
    let answer = std::os::unix::net::UnixStream::connect(&addr).and_then(|mut s| {
        write_frame(&mut s, &req)?;
        read_frame::<ToolResponse>(&mut s)?
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))
    });
    match answer {
        Ok(resp) => {
            let _ = io::stdout().write_all(resp.stdout.as_bytes());
            let _ = io::stderr().write_all(resp.stderr.as_bytes());
            resp.code
        }
        Err(e) => {
            eprintln!("ERROR cannot reach the unit agent at {addr:?}: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_end_cleanly() {
        let req = ToolRequest {
            tool: "relation-set".into(),
            args: vec!["-r".into(), "db:0".into(), "--file".into(), "-".into()],
            stdin: Some("{\"a\": \"b\"}".into()),
            cwd: None,
        };
        let mut buf = Vec::new();
        write_frame(&mut buf, &req).unwrap();
        write_frame(&mut buf, &req).unwrap();
        let mut r = &buf[..];
        assert_eq!(
            read_frame::<ToolRequest>(&mut r).unwrap(),
            Some(req.clone())
        );
        assert_eq!(read_frame::<ToolRequest>(&mut r).unwrap(), Some(req));
        assert_eq!(read_frame::<ToolRequest>(&mut r).unwrap(), None);
        let mut cut = &buf[..6];
        assert!(read_frame::<ToolRequest>(&mut cut).is_err());
    }
}
