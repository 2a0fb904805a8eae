//! One exec's session: the websockets its client connects, the scripted output played
//! over them, stdin and signals recorded, and the change finished with the exit code.

use super::ExecAnswer;
use crate::Container;
use crate::Lock;
use crate::gotime::format_duration;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// A websocket the client opened for an exec.
pub(crate) type Ws = WebSocketStream<TokioIo<Upgraded>>;

/// The websockets an exec is still waiting for, by name.
pub(crate) struct ExecSession {
    pub slots: HashMap<String, Option<oneshot::Sender<Ws>>>,
    pub abort: Arc<Notify>,
}

/// What the exec driver needs to know.
pub(crate) struct ExecJob {
    pub epoch: u64,
    pub change_id: String,
    pub task_id: String,
    pub answer: ExecAnswer,
    pub split_stderr: bool,
    pub timeout: Option<Duration>,
}

/// The driver's ends of a new exec session.
pub(crate) struct SessionEnds {
    pub control: oneshot::Receiver<Ws>,
    pub stdio: oneshot::Receiver<Ws>,
    pub stderr: Option<oneshot::Receiver<Ws>>,
    pub abort: Arc<Notify>,
}

/// Creates the session for a new exec (kept by the server until its websockets connect)
/// and the ends the driver waits on.
pub(crate) fn new_session(split_stderr: bool) -> (ExecSession, SessionEnds) {
    let mut slots = HashMap::new();
    let (ctl_tx, control) = oneshot::channel();
    let (io_tx, stdio) = oneshot::channel();
    slots.insert("control".to_string(), Some(ctl_tx));
    slots.insert("stdio".to_string(), Some(io_tx));
    let stderr = if split_stderr {
        let (tx, rx) = oneshot::channel();
        slots.insert("stderr".to_string(), Some(tx));
        Some(rx)
    } else {
        None
    };
    let abort = Arc::new(Notify::new());
    (
        ExecSession {
            slots,
            abort: abort.clone(),
        },
        SessionEnds {
            control,
            stdio,
            stderr,
            abort,
        },
    )
}

fn signal_number(name: &str) -> Option<i32> {
    Some(match name.trim_start_matches("SIG") {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" | "IOT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "STKFLT" => 16,
        "CHLD" => 17,
        "CONT" => 18,
        "STOP" => 19,
        "TSTP" => 20,
        "TTIN" => 21,
        "TTOU" => 22,
        "URG" => 23,
        "XCPU" => 24,
        "XFSZ" => 25,
        "VTALRM" => 26,
        "PROF" => 27,
        "WINCH" => 28,
        "IO" | "POLL" => 29,
        "PWR" => 30,
        "SYS" => 31,
        _ => return None,
    })
}

/// Whether `name` is a signal Pebble knows (`unix.SignalNum`).
pub(crate) fn valid_signal(name: &str) -> bool {
    name.starts_with("SIG") && signal_number(name).is_some()
}

fn is_end(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| {
            v.get("command")
                .and_then(|c| c.as_str())
                .map(|c| c == "end")
        })
        .unwrap_or(false)
}

/// Runs one exec: waits for the websockets, plays the answer, finishes the change.
pub(crate) async fn drive(c: Arc<Container>, job: ExecJob, ends: SessionEnds) {
    let SessionEnds {
        control,
        stdio,
        stderr,
        abort,
    } = ends;
    let mut gen_rx = c.gen_tx.subscribe();
    let (stdio_ws, stderr_ws) = match wait_for_io(&job, stdio, stderr, &abort, &mut gen_rx).await {
        Ok(ws) => ws,
        Err(msg) => {
            finish(&c, &job, Err((msg, false)));
            c.sessions.locked().remove(&job.task_id);
            return;
        }
    };
    let (control_task, sig_rx) = serve_control(&c, &job, control);
    let (mut out_sink, in_stream) = stdio_ws.split();
    let (stdin_task, stdin_rx) = serve_stdin(&c, &job, in_stream);
    let mut stderr_ws = stderr_ws;
    send_output(&job, &mut out_sink, stderr_ws.as_mut()).await;
    let result = if job.answer.hang || job.answer.wait_for_stdin {
        wait_for_exit(&job, stdin_rx, sig_rx, &mut gen_rx, &abort).await
    } else {
        Ok(job.answer.exit_code)
    };

    // Pebble closes the control websocket when the process exits, then finishes the task.
    control_task.abort();
    finish(&c, &job, result);
    c.sessions.locked().remove(&job.task_id);

    // Keep stdio open until the client is done with it (it closes without close frames).
    tokio::select! {
        _ = stdin_task => {}
        _ = tokio::time::sleep(Duration::from_secs(30)) => {}
        _ = gen_rx.changed() => {}
    }
    drop(out_sink);
    drop(stderr_ws);
}

/// Waits for the I/O websockets (stdio, and stderr when split): Pebble waits up to 5 s
/// for them before starting the process.
async fn wait_for_io(
    job: &ExecJob,
    stdio: oneshot::Receiver<Ws>,
    stderr: Option<oneshot::Receiver<Ws>>,
    abort: &Notify,
    gen_rx: &mut watch::Receiver<u64>,
) -> Result<(Ws, Option<Ws>), String> {
    let io = async {
        let s = stdio.await.ok()?;
        let e = match stderr {
            Some(r) => Some(r.await.ok()?),
            None => None,
        };
        Some((s, e))
    };
    // Pebble waits up to 5 s for the I/O websockets before starting the process.
    tokio::select! {
        biased;
        _ = gen_rx.changed() => Err("exec interrupted: the container stopped".to_string()),
        _ = abort.notified() => Err("context canceled".to_string()),
        r = tokio::time::timeout(Duration::from_secs(5), io) => r.ok().flatten().ok_or_else(|| {
            format!(
                "exec {}: timeout waiting for websocket connections: context deadline exceeded",
                job.task_id
            )
        }),
    }
}

/// Signals on the control websocket: recorded, and passed on to the running command.
fn serve_control(
    c: &Arc<Container>,
    job: &ExecJob,
    control: oneshot::Receiver<Ws>,
) -> (JoinHandle<()>, mpsc::UnboundedReceiver<String>) {
    let (sig_tx, sig_rx) = mpsc::unbounded_channel::<String>();
    let ctl_c = c.clone();
    let ctl_task_id = job.task_id.clone();
    let ctl_epoch = job.epoch;
    let control_task = tokio::spawn(async move {
        let Ok(mut ws) = control.await else {
            return;
        };
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(t) = msg {
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                if v["command"] == "signal"
                    && let Some(name) = v["signal"]["name"].as_str()
                {
                    {
                        let mut st = ctl_c.state.locked();
                        if let Some(r) = find_record(&mut st, ctl_epoch, &ctl_task_id) {
                            r.signals.push(name.to_string());
                        }
                    }
                    let _ = sig_tx.send(name.to_string());
                }
            }
        }
    });
    (control_task, sig_rx)
}

/// Stdin from the stdio websocket: recorded; the receiver turns true once it is closed.
fn serve_stdin(
    c: &Arc<Container>,
    job: &ExecJob,
    mut in_stream: SplitStream<Ws>,
) -> (JoinHandle<()>, watch::Receiver<bool>) {
    let (stdin_tx, stdin_rx) = watch::channel(false);
    let in_c = c.clone();
    let in_task_id = job.task_id.clone();
    let in_epoch = job.epoch;
    let stdin_task = tokio::spawn(async move {
        loop {
            let msg = in_stream.next().await;
            let mut st = in_c.state.locked();
            let rec = find_record(&mut st, in_epoch, &in_task_id);
            match msg {
                Some(Ok(Message::Binary(b))) => {
                    if let Some(r) = rec {
                        r.stdin.extend_from_slice(&b);
                    }
                }
                Some(Ok(Message::Text(t))) => {
                    if is_end(t.as_str()) {
                        if let Some(r) = rec {
                            r.stdin_closed = true;
                        }
                        let _ = stdin_tx.send(true);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    if let Some(r) = rec {
                        r.stdin_closed = true;
                    }
                    let _ = stdin_tx.send(true);
                    return;
                }
            }
        }
    });
    (stdin_task, stdin_rx)
}

/// The process's output: stdout (with stderr unless split) then the end frame, and the
/// same on the stderr websocket when there is one.
async fn send_output(
    job: &ExecJob,
    out_sink: &mut SplitSink<Ws, Message>,
    stderr_ws: Option<&mut Ws>,
) {
    let answer = &job.answer;
    let mut stdout = answer.stdout.clone();
    if !job.split_stderr {
        stdout.extend_from_slice(&answer.stderr);
    }
    if !stdout.is_empty() {
        let _ = out_sink.send(Message::binary(stdout)).await;
    }
    let _ = out_sink.send(Message::text(r#"{"command":"end"}"#)).await;
    if let Some(ws) = stderr_ws {
        if !answer.stderr.is_empty() {
            let _ = ws.send(Message::binary(answer.stderr.clone())).await;
        }
        let _ = ws.send(Message::text(r#"{"command":"end"}"#)).await;
    }
}

/// How a command that hangs or reads stdin ends: its exit code once stdin closes (for
/// one waiting for it), 128 + n on a signal, or an error on its timeout, the container
/// stopping or the change being aborted.
async fn wait_for_exit(
    job: &ExecJob,
    mut stdin_rx: watch::Receiver<bool>,
    mut sig_rx: mpsc::UnboundedReceiver<String>,
    gen_rx: &mut watch::Receiver<u64>,
    abort: &Notify,
) -> Result<i32, (String, bool)> {
    let answer = &job.answer;
    let timeout = job.timeout;
    let deadline = async move {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending::<()>().await,
        }
    };
    let wait_stdin = answer.wait_for_stdin;
    let stdin_closed = async {
        if wait_stdin {
            let _ = stdin_rx.wait_for(|closed| *closed).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let signalled = async {
        loop {
            match sig_rx.recv().await {
                Some(name) => {
                    if let Some(n) = signal_number(&name) {
                        return 128 + n;
                    }
                }
                None => std::future::pending::<()>().await,
            }
        }
    };
    tokio::select! {
        _ = stdin_closed => Ok(answer.exit_code),
        n = signalled => Ok(n),
        _ = deadline => Err((
            format!(
                "timed out after {}: context deadline exceeded",
                format_duration(timeout.unwrap_or_default())
            ),
            true,
        )),
        _ = gen_rx.changed() => Err(("exec interrupted: the container stopped".into(), true)),
        _ = abort.notified() => Err(("exec aborted".into(), true)),
    }
}

fn find_record<'a>(
    st: &'a mut crate::state::ContainerState,
    epoch: u64,
    task_id: &str,
) -> Option<&'a mut crate::state::ExecRecord> {
    if st.epoch != epoch {
        return None;
    }
    st.exec_log
        .iter_mut()
        .rev()
        .find(|r| r.task_id.as_deref() == Some(task_id))
}

/// Finishes the exec task: `Ok(exit code)`, or `Err((message, set exit code -1))`.
fn finish(c: &Container, job: &ExecJob, result: Result<i32, (String, bool)>) {
    {
        let mut st = c.state.locked();
        if st.epoch != job.epoch {
            return;
        }
        if let Some(r) = find_record(&mut st, job.epoch, &job.task_id) {
            match &result {
                Ok(code) => r.exit_code = Some(*code),
                Err((msg, _)) => r.error = Some(msg.clone()),
            }
        }
        if let Some(ci) = st.change_index(&job.change_id) {
            let code = match &result {
                Ok(code) => Some(*code),
                Err((_, true)) => Some(-1),
                Err((_, false)) => None,
            };
            if let Some(code) = code {
                st.changes[ci].tasks[0]
                    .data
                    .insert("exit-code".into(), code.into());
            }
            if !st.changes[ci].tasks[0].status.ready() {
                st.finish_task(ci, 0, result.err().map(|(m, _)| m));
            }
        }
    }
    c.bump();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert!(valid_signal("SIGTERM"));
        assert!(!valid_signal("TERM"));
        assert!(!valid_signal("SIGNOPE"));
        assert_eq!(signal_number("SIGKILL"), Some(9));
    }
}
