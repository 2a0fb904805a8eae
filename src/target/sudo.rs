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

/// sudo's options without a value that change what runs, by short letter and long name.
const FLAGS: &[(char, &str)] = &[
    ('i', "login"),
    ('s', "shell"),
    ('H', "set-home"),
    ('l', "list"),
    ('v', "validate"),
    ('k', "reset-timestamp"),
    ('K', "remove-timestamp"),
];

/// The long name of the short option `ch` (empty for one that changes nothing here).
fn long_name(ch: char) -> &'static str {
    (WITH_VALUE.iter().chain(FLAGS))
        .find(|(c, _)| *c == ch)
        .map_or("", |(_, l)| l)
}

/// Read sudo's command line (without `sudo` itself).
pub fn parse(args: &[String]) -> Result<SudoCall, String> {
    let mut call = SudoCall::default();
    let takes_value = |name: &str| WITH_VALUE.iter().any(|(_, l)| *l == name);
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a == "--" {
            i += 1;
            break;
        }
        // The argument's options by long name, each with the value written into it
        // (`--user=x`, `-ux`) if any.
        let options: Vec<(&str, Option<String>)> = if let Some(long) = a.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => vec![(n, Some(v.to_string()))],
                None => vec![(long, None)],
            }
        } else if let Some(shorts) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut out = Vec::new();
            for (k, ch) in shorts.char_indices() {
                let name = long_name(ch);
                if takes_value(name) {
                    let rest = &shorts[k + ch.len_utf8()..];
                    out.push((name, (!rest.is_empty()).then(|| rest.to_string())));
                    break;
                }
                out.push((name, None));
            }
            out
        } else {
            break;
        };
        i += 1;
        for (name, inline) in options {
            if takes_value(name) {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        let v = args.get(i).cloned();
                        i += 1;
                        v.ok_or(format!("option '{a}' requires an argument"))?
                    }
                };
                match name {
                    "user" => call.user = Some(value),
                    "group" => call.group = Some(value),
                    _ => {}
                }
                continue;
            }
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
    if !call.shell && call.command.is_empty() {
        eprintln!("usage: sudo [-u user] [-g group] [-i|-s] [command [arg ...]]");
        return 1;
    }
    // The user's passwd entry (name, x, uid, gid, gecos, home, shell).
    let user = match call.user.as_deref() {
        Some(u) => match lookup("/etc/passwd", u) {
            Some(entry) => Some(entry),
            None => {
                eprintln!("sudo: unknown user {u}");
                return 1;
            }
        },
        None => None,
    };
    let group = match call.group.as_deref() {
        Some(g) => match lookup("/etc/group", g) {
            Some(e) => e[2].parse::<u32>().ok(),
            None => {
                eprintln!("sudo: unknown group {g}");
                return 1;
            }
        },
        None => user.as_ref().and_then(|e| e.get(3)?.parse().ok()),
    };
    let uid = user.as_ref().and_then(|e| e.get(2)?.parse::<u32>().ok());
    // The command, as `identity` says: as the user and group asked for, or as the caller.
    let command = |identity: bool| {
        let mut c = if call.shell {
            let shell = std::env::var_os("SHELL").unwrap_or_else(|| OsString::from("/bin/sh"));
            let mut c = Command::new(shell);
            if !call.command.is_empty() {
                c.arg("-c").arg(call.command.join(" "));
            }
            c
        } else {
            let mut c = Command::new(&call.command[0]);
            c.args(&call.command[1..]);
            c
        };
        c.envs(call.env.iter().map(|(k, v)| (k, v)));
        match &user {
            Some(e) => {
                if call.set_home {
                    c.env("HOME", e.get(5).map_or("/", String::as_str));
                }
                c.env("USER", &e[0]).env("LOGNAME", &e[0]);
            }
            None if call.set_home => {
                c.env("HOME", "/root");
            }
            None => {}
        }
        if identity {
            if let Some(g) = group {
                c.gid(g);
            }
            if let Some(u) = uid {
                c.uid(u);
            }
        }
        c
    };
    let mut err = command(true).exec();
    // Only a refusal to change identity falls back to the charm's own user.
    if (uid.is_some() || group.is_some())
        && matches!(err.raw_os_error(), Some(libc::EPERM | libc::EINVAL))
    {
        err = command(false).exec();
    }
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
