//! The machine's other knobs charms turn, kernel parameters (`sysctl`) and apt's sources
//! (`add-apt-repository`), and what it says it is (`uname`).
//!
//! In a sandbox the kernel's parameters are the real machine's and read-only, so a
//! charm's `sysctl -w vm.swappiness=0` is kept in the host's state instead, and `sysctl
//! -n` answers from it (falling back to the machine's value, which is what a fresh unit
//! would read).

use crate::Shared;
use crate::args::Args;
use crate::config::{HostConfig, stable_hash};
use crate::state::{HostState, Output};
use std::path::Path;

/// `sysctl [-n] [-w] KEY[=VALUE]… | -p [FILE] | --system | -a`.
pub(crate) fn sysctl(st: &mut HostState, shared: &Shared, args: &[String]) -> Output {
    let a = Args::parse(args, &[]);
    let only_values = a.has(&["n", "values"]);
    let mut out = String::new();
    let mut err = String::new();
    let mut settings: Vec<(String, String)> = Vec::new();
    if a.has(&["p", "load"]) || a.has(&["system"]) {
        let files: Vec<String> = if a.has(&["system"]) {
            sysctl_d(shared)
        } else if a.pos.is_empty() {
            vec!["/etc/sysctl.conf".into()]
        } else {
            a.pos.clone()
        };
        for f in files {
            let text = shared
                .fs
                .locate(Path::new(&f))
                .and_then(|p| std::fs::read_to_string(p).ok());
            let Some(text) = text else {
                err.push_str(&format!(
                    "sysctl: cannot open \"{f}\": No such file or directory\n"
                ));
                continue;
            };
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                    continue;
                }
                if let Some((k, v)) = line.split_once('=') {
                    settings.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
        }
    } else if a.has(&["a", "A", "X", "all"]) {
        for (k, v) in &st.sysctl {
            out.push_str(&format!("{k} = {v}\n"));
        }
        return Output::ok(out);
    } else {
        for p in &a.pos {
            match p.split_once('=') {
                Some((k, v)) => settings.push((k.trim().to_string(), v.trim().to_string())),
                None => match st.sysctl.get(p).cloned().or_else(|| machine_value(p)) {
                    Some(v) if only_values => out.push_str(&format!("{v}\n")),
                    Some(v) => out.push_str(&format!("{p} = {v}\n")),
                    None => err.push_str(&format!(
                        "sysctl: cannot stat /proc/sys/{}: No such file or directory\n",
                        p.replace('.', "/")
                    )),
                },
            }
        }
    }
    for (k, v) in settings {
        if !only_values {
            out.push_str(&format!("{k} = {v}\n"));
        }
        st.sysctl.insert(k, v);
    }
    Output {
        code: if err.is_empty() { 0 } else { 255 },
        stdout: out,
        stderr: err,
    }
}

/// `uname [-asnrvmpio]`, as Ubuntu's coreutils answer: the running kernel's name, release
/// and version, the machine's architecture, and (where Debian's and upstream coreutils
/// say `unknown`) the processor and hardware platform as the architecture too. Python's
/// `platform.processor()` runs `uname -p`, and charms pick their snap's revision by it.
pub(crate) fn uname(config: &HostConfig, args: &[String]) -> Output {
    let a = Args::parse(args, &[]);
    let kernel = |f: &str| {
        std::fs::read_to_string(format!("/proc/sys/kernel/{f}"))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let machine = std::env::consts::ARCH.to_string();
    let fields = [
        (["s", "kernel-name"], kernel("ostype")),
        (
            ["n", "nodename"],
            config
                .hostname
                .clone()
                .unwrap_or_else(|| kernel("hostname")),
        ),
        (["r", "kernel-release"], kernel("osrelease")),
        (["v", "kernel-version"], kernel("version")),
        (["m", "machine"], machine.clone()),
        (["p", "processor"], machine.clone()),
        (["i", "hardware-platform"], machine),
        (["o", "operating-system"], "GNU/Linux".to_string()),
    ];
    if let Some(bad) = a.pos.first() {
        return Output::fail(1, format!("uname: extra operand '{bad}'"));
    }
    let all = a.has(&["a", "all"]);
    let mut out: Vec<&str> = (fields.iter())
        .filter(|(names, _)| all || a.has(names))
        .map(|(_, v)| v.as_str())
        .collect();
    if out.is_empty() {
        out.push(&fields[0].1);
    }
    Output::ok(format!("{}\n", out.join(" ")))
}

/// The files `sysctl --system` reads, in its order.
fn sysctl_d(shared: &Shared) -> Vec<String> {
    let mut names: Vec<String> = shared
        .fs
        .locate(Path::new("/etc/sysctl.d"))
        .and_then(|d| std::fs::read_dir(d).ok())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".conf"))
        .collect();
    names.sort();
    let mut files: Vec<String> = names
        .into_iter()
        .map(|n| format!("/etc/sysctl.d/{n}"))
        .collect();
    files.push("/etc/sysctl.conf".into());
    files
}

/// The running machine's value of a kernel parameter.
fn machine_value(key: &str) -> Option<String> {
    if key.contains("..") {
        return None;
    }
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::read_to_string(path)
        .ok()
        .map(|v| v.trim().replace('\t', " "))
}

/// `add-apt-repository [--yes] [--no-update] [--sourceslist=LINE | ppa:USER/NAME | LINE]`:
/// the source written to `/etc/apt/sources.list.d/`, as the real tool does.
pub(crate) fn add_apt_repository(shared: &Shared, args: &[String]) -> Output {
    let a = Args::parse(args, &["sourceslist", "S", "component", "c", "pocket", "P"]);
    let remove = a.has(&["remove", "r"]);
    let (line, file) = if let Some(l) = a.value(&["sourceslist", "S"]) {
        (
            l.to_string(),
            format!("archive_uri-{:08x}-jammy.list", stable_hash(l)),
        )
    } else if let Some(ppa) = a.pos.first().and_then(|p| p.strip_prefix("ppa:")) {
        let (user, name) = ppa.split_once('/').unwrap_or((ppa, "ppa"));
        (
            format!("deb https://ppa.launchpadcontent.net/{user}/{name}/ubuntu/ jammy main"),
            format!("{user}-ubuntu-{name}-jammy.list"),
        )
    } else if !a.pos.is_empty() {
        let l = a.pos.join(" ");
        let file = format!("archive_uri-{:08x}-jammy.list", stable_hash(&l));
        (l, file)
    } else {
        return Output::fail(1, "Error: need a repository as argument");
    };
    if let Some(path) = shared
        .fs
        .locate(Path::new(&format!("/etc/apt/sources.list.d/{file}")))
    {
        if remove {
            let _ = std::fs::remove_file(&path);
        } else {
            if let Some(p) = path.parent() {
                let _ = std::fs::create_dir_all(p);
            }
            let _ = std::fs::write(&path, format!("{line}\n"));
        }
    }
    Output::ok(format!("Repository: '{line}'\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(config: &HostConfig, line: &str) -> Output {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        uname(config, &args)
    }

    #[test]
    fn uname_answers_as_ubuntu_does() {
        let config = HostConfig {
            hostname: Some("demo-0".into()),
            ..HostConfig::default()
        };
        let arch = std::env::consts::ARCH;
        assert_eq!(run(&config, "").stdout, "Linux\n");
        // Debian's coreutils say `unknown` here; Ubuntu's, the architecture.
        assert_eq!(run(&config, "-p").stdout, format!("{arch}\n"));
        assert_eq!(run(&config, "-mi").stdout, format!("{arch} {arch}\n"));
        assert_eq!(run(&config, "--nodename").stdout, "demo-0\n");
        let all = run(&config, "-a").stdout;
        assert!(all.starts_with("Linux demo-0 "), "{all}");
        assert!(
            all.ends_with(&format!("{arch} {arch} {arch} GNU/Linux\n")),
            "{all}"
        );
        assert_eq!(run(&config, "x").code, 1);
    }
}
