//! `sudo` on a machine charm's machine.
//!
//! A unit's charm runs as root, yet machine charms still run commands through `sudo`:
//! `sudo -u snap_daemon …` to act as a workload's service user, or a bare
//! `/usr/bin/sudo chown …` out of habit. Ubuntu machines have sudo; the fuzzer's host may
//! not (a Debian container has none), and a setuid sudo could not work inside the sandbox
//! anyway (`no_new_privs`). So the machine's `/usr/bin/sudo` is the `charmfuzz` binary
//! run under that name, and it does what root's sudo does: it reads sudo's options, then
//! runs the command in place, as the user and group named if there are any (root keeps
//! `CAP_SETUID` inside the walls), with the environment it was given.
//!
//! Options that only list or validate (`-l`, `-v`, `-k`, `-K`) succeed without running
//! anything, as for root. `-i` and `-s` run the command through the shell, and with
//! no command start it. Where the user cannot be taken on (the fuzzer runs unprivileged,
//! and the user is not mapped into the sandbox), the command runs as the charm's own user.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// What `sudo`'s arguments ask for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SudoCall {
    pub user: Option<String>,
    pub group: Option<String>,
    /// `-i`/`-s`: run the command through the shell.
    pub shell: bool,
    /// `-H`/`-i`: HOME is the target user's.
    pub set_home: bool,
    /// `VAR=value` arguments before the command.
    pub env: Vec<(String, String)>,
    pub command: Vec<String>,
    /// `-l`, `-v`, `-k`, `-K`: nothing runs (`-l command` prints the command, as sudo
    /// does when root may run it).
    pub nothing_to_run: bool,
}

/// Options that take a value, by their short letter and long name.
const WITH_VALUE: &[(char, &str)] = &[
    ('u', "user"),
    ('g', "group"),
    ('h', "host"),
    ('p', "prompt"),
    ('C', "close-from"),
    ('D', "chdir"),
    ('r', "role"),
    ('t', "type"),
    ('T', "command-timeout"),
    ('U', "other-user"),
];

/// Read sudo's command line (without `sudo` itself).
pub fn parse(args: &[String]) -> Result<SudoCall, String> {
    let mut call = SudoCall::default();
    let mut i = 0;
    let take = |name: &str, c: &mut SudoCall, value: String| match name {
        "user" => c.user = Some(value),
        "group" => c.group = Some(value),
        _ => {}
    };
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            if WITH_VALUE.iter().any(|(_, l)| *l == name) {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i)
                            .cloned()
                            .ok_or(format!("option '--{name}' requires an argument"))?
                    }
                };
                take(name, &mut call, value);
            } else {
                match name {
                    "login" => {
                        call.shell = true;
                        call.set_home = true;
                    }
                    "shell" => call.shell = true,
                    "set-home" => call.set_home = true,
                    "list" | "validate" | "reset-timestamp" | "remove-timestamp" => {
                        call.nothing_to_run = true
                    }
                    _ => {}
                }
            }
            i += 1;
            continue;
        }
        if let Some(shorts) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (k, ch) in shorts.char_indices() {
                if let Some((_, name)) = WITH_VALUE.iter().find(|(c, _)| *c == ch) {
                    let rest = &shorts[k + ch.len_utf8()..];
                    let value = if rest.is_empty() {
                        i += 1;
                        args.get(i)
                            .cloned()
                            .ok_or(format!("option requires an argument -- '{ch}'"))?
                    } else {
                        rest.to_string()
                    };
                    take(name, &mut call, value);
                    break;
                }
                match ch {
                    'i' => {
                        call.shell = true;
                        call.set_home = true;
                    }
                    's' => call.shell = true,
                    'H' => call.set_home = true,
                    'l' | 'v' | 'k' | 'K' => call.nothing_to_run = true,
                    _ => {}
                }
            }
            i += 1;
            continue;
        }
        break;
    }
    while let Some((k, v)) = args.get(i).and_then(|a| a.split_once('=')) {
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            break;
        }
        call.env.push((k.to_string(), v.to_string()));
        i += 1;
    }
    call.command = args[i.min(args.len())..].to_vec();
    Ok(call)
}

/// A user's or group's entry in the machine's `/etc/passwd` or `/etc/group`: the id and,
/// for a user, the primary group and home.
fn lookup(file: &str, name: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(file).ok()?;
    let by_id = name.strip_prefix('#');
    text.lines()
        .map(|l| l.split(':').map(str::to_string).collect::<Vec<_>>())
        .find(|f| f.len() > 2 && (f[0] == name || by_id == Some(f[2].as_str())))
}

/// Run as `sudo`: never returns when the command starts.
pub fn sudo_main(args: Vec<String>) -> i32 {
    let call = match parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sudo: {e}");
            return 1;
        }
    };
    if call.nothing_to_run {
        if let Some(c) = call.command.first() {
            println!("{c}");
        }
        return 0;
    }
    let shell = std::env::var_os("SHELL").unwrap_or_else(|| OsString::from("/bin/sh"));
    let mut cmd = match (call.shell, call.command.split_first()) {
        (false, None) => {
            eprintln!("usage: sudo [-u user] [-g group] [-i|-s] [command [arg ...]]");
            return 1;
        }
        (true, _) => {
            let mut c = Command::new(&shell);
            if !call.command.is_empty() {
                c.arg("-c").arg(call.command.join(" "));
            }
            c
        }
        (false, Some((program, rest))) => {
            let mut c = Command::new(program);
            c.args(rest);
            c
        }
    };
    cmd.envs(call.env.iter().map(|(k, v)| (k, v)));
    let user = call.user.as_deref().map(|u| (u, lookup("/etc/passwd", u)));
    if let Some((name, entry)) = &user {
        let Some(entry) = entry else {
            eprintln!("sudo: unknown user {name}");
            return 1;
        };
        if call.set_home {
            cmd.env("HOME", entry.get(5).map_or("/", String::as_str));
        }
        cmd.env("USER", &entry[0]).env("LOGNAME", &entry[0]);
    } else if call.set_home {
        cmd.env("HOME", "/root");
    }
    let group = match call.group.as_deref() {
        Some(g) => match lookup("/etc/group", g) {
            Some(e) => e[2].parse::<u32>().ok(),
            None => {
                eprintln!("sudo: unknown group {g}");
                return 1;
            }
        },
        None => user
            .as_ref()
            .and_then(|(_, e)| e.as_ref()?.get(3)?.parse().ok()),
    };
    let uid = user
        .as_ref()
        .and_then(|(_, e)| e.as_ref()?.get(2)?.parse::<u32>().ok());
    if uid.is_some() || group.is_some() {
        let mut as_user = Command::new(cmd.get_program());
        as_user.args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => as_user.env(k, v),
                None => as_user.env_remove(k),
            };
        }
        if let Some(g) = group {
            as_user.gid(g);
        }
        if let Some(u) = uid {
            as_user.uid(u);
        }
        let err = as_user.exec();
        // Only a refusal to change identity falls back to the charm's own user.
        if !matches!(err.raw_os_error(), Some(libc::EPERM | libc::EINVAL)) {
            eprintln!(
                "sudo: {}: {err}",
                call.command.first().map_or("", String::as_str)
            );
            return if err.kind() == std::io::ErrorKind::NotFound {
                1
            } else {
                126
            };
        }
    }
    let err = cmd.exec();
    eprintln!(
        "sudo: {}: {err}",
        call.command.first().map_or("", String::as_str)
    );
    if err.kind() == std::io::ErrorKind::NotFound {
        1
    } else {
        126
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> SudoCall {
        parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn sudo_options_are_read_and_the_command_is_the_rest() {
        let c = p("-u snap_daemon -E -H chown a:b /f");
        assert_eq!(c.user.as_deref(), Some("snap_daemon"));
        assert!(c.set_home && !c.shell);
        assert_eq!(c.command, ["chown", "a:b", "/f"]);
        let c = p("-usnap_daemon --group=root -- ls -l");
        assert_eq!(c.user.as_deref(), Some("snap_daemon"));
        assert_eq!(c.group.as_deref(), Some("root"));
        assert_eq!(c.command, ["ls", "-l"]);
        let c = p("--user postgres -i PGDATA=/d psql -c x=1");
        assert_eq!(c.user.as_deref(), Some("postgres"));
        assert!(c.shell);
        assert_eq!(c.env, [("PGDATA".to_string(), "/d".to_string())]);
        assert_eq!(c.command, ["psql", "-c", "x=1"]);
        assert!(p("-n -v").nothing_to_run);
        assert!(p("-l ls").nothing_to_run);
        assert!(parse(&["-u".to_string()]).is_err());
    }
}
