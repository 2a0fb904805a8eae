//! The package database: `apt-get`, `apt`, `apt-cache`, `dpkg` and `dpkg-query`.
//!
//! The apt charm libraries ask dpkg before they act: `dpkg -l <name>` (a table whose
//! rows they match with a regular expression), then `apt-cache show <name>` (RFC 822
//! fields, `Version:` among them), then `apt-get install <name>=<version>`. So answers
//! keep dpkg's and apt's layouts: the `dpkg -l` header and its `ii` rows, `apt-cache
//! policy`'s `Installed:`/`Candidate:` lines and version table. A package removed keeps
//! its configuration files (`rc`) until purged, as dpkg does.

use crate::Shared;
use crate::args::Args;
use crate::config::{HostConfig, default_version};
use crate::files;
use crate::state::{HostFaults, HostState, Output};
use crate::systemd::{Unit, unit_name};
use serde::{Deserialize, Serialize};

/// dpkg's record of one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub version: String,
    pub arch: String,
    /// `installed`, or `config-files` (removed, not purged).
    pub status: String,
}

impl Package {
    /// The archive's version of `name` (or `version`), installed.
    pub fn from_archive(name: &str, config: &HostConfig, version: Option<&str>) -> Package {
        Package {
            version: version
                .map(String::from)
                .unwrap_or_else(|| candidate(config, name)),
            arch: config.arch(),
            status: "installed".into(),
        }
    }

    pub fn installed(&self) -> bool {
        self.status == "installed"
    }

    fn abbrev(&self) -> &'static str {
        if self.installed() { "ii" } else { "rc" }
    }
}

/// The version the archive offers.
fn candidate(config: &HostConfig, name: &str) -> String {
    config
        .packages
        .get(name)
        .and_then(|p| p.version.clone())
        .unwrap_or_else(|| format!("{}-1ubuntu1", default_version(name)))
}

const APT_VALUED: &[&str] = &["o", "option", "t", "target-release", "c", "config-file"];

/// `apt-get VERB …` and `apt VERB …`.
pub(crate) fn apt_get(
    st: &mut HostState,
    shared: &Shared,
    program: &str,
    args: &[String],
) -> Output {
    let a = Args::parse(args, APT_VALUED);
    let Some((verb, names)) = a.pos.split_first() else {
        return Output::fail(100, "E: Invalid operation");
    };
    match verb.as_str() {
        "update" => {
            st.apt_updated = true;
            Output::ok("Reading package lists...\n")
        }
        "install" | "reinstall" => install(st, shared, names),
        "remove" | "purge" | "autoremove" => {
            let purge = verb == "purge" || a.has(&["purge"]);
            remove(st, names, purge)
        }
        "upgrade" | "dist-upgrade" | "full-upgrade" | "clean" | "autoclean" | "check" => {
            Output::ok("Reading package lists...\n")
        }
        "list" if program == "apt" => apt_list(st, &shared.config, &a),
        "show" | "policy" | "search" if program == "apt" => apt_cache(st, &shared.config, args),
        other => Output::fail(100, format!("E: Invalid operation {other}")),
    }
}

fn install(st: &mut HostState, shared: &Shared, names: &[String]) -> Output {
    let config = &shared.config;
    let mut out = String::from("Reading package lists...\nBuilding dependency tree...\n");
    let wanted: Vec<(String, Option<String>)> = names
        .iter()
        .map(|n| {
            let (n, v) = match n.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (n.as_str(), None),
            };
            (n.split(':').next().unwrap_or(n).to_string(), v)
        })
        .collect();
    if let Some((n, _)) = wanted
        .iter()
        .find(|(n, _)| HostFaults::hits(&st.faults.install_fails, n))
    {
        return Output {
            code: 100,
            stdout: out,
            stderr: format!(
                "E: Failed to fetch http://archive.ubuntu.com/ubuntu/pool/main/{n}.deb  \
                 Temporary failure resolving 'archive.ubuntu.com'\n\
                 E: Unable to fetch some archives, maybe run apt-get update or try with --fix-missing?\n"
            ),
        };
    }
    if st.faults.disk_full {
        return Output {
            code: 100,
            stdout: out,
            stderr: "E: You don't have enough free space in /var/cache/apt/archives/.\n".into(),
        };
    }
    for (name, version) in wanted {
        let p = Package::from_archive(&name, config, version.as_deref());
        out.push_str(&format!("Setting up {name} ({}) ...\n", p.version));
        st.packages.insert(name.clone(), p);
        if let Some(pc) = config.packages.get(&name) {
            for u in &pc.users {
                files::add_user(shared.fs.as_ref(), u);
            }
            for s in &pc.services {
                st.units.insert(
                    unit_name(s),
                    Unit::new(format!("package {name}"), true, true),
                );
            }
        }
    }
    Output::ok(out)
}

fn remove(st: &mut HostState, names: &[String], purge: bool) -> Output {
    let mut out = String::from("Reading package lists...\n");
    for n in names {
        let origin = format!("package {n}");
        if purge {
            st.packages.remove(n);
        } else if let Some(p) = st.packages.get_mut(n) {
            p.status = "config-files".into();
        }
        st.units.retain(|_, u| u.origin != origin);
        out.push_str(&format!("Removing {n} ...\n"));
    }
    Output::ok(out)
}

fn apt_list(st: &HostState, config: &HostConfig, a: &Args) -> Output {
    let mut out = String::from("Listing...\n");
    for (name, p) in st.packages.iter().filter(|(_, p)| p.installed()) {
        if !a.pos[1..].is_empty() && !a.pos[1..].contains(name) {
            continue;
        }
        out.push_str(&format!(
            "{name}/jammy,now {} {} [installed]\n",
            p.version,
            config.arch()
        ));
    }
    Output::ok(out)
}

/// `apt-cache policy|show|madison|search|pkgnames NAME…`.
pub fn apt_cache(st: &HostState, config: &HostConfig, args: &[String]) -> Output {
    let a = Args::parse(args, APT_VALUED);
    let Some((verb, names)) = a.pos.split_first() else {
        return Output::fail(100, "E: No packages found");
    };
    let arch = config.arch();
    let mut out = String::new();
    for n in names {
        let cand = candidate(config, n);
        let installed = st.packages.get(n).filter(|p| p.installed());
        match verb.as_str() {
            "policy" => {
                out.push_str(&format!(
                    "{n}:\n  Installed: {}\n  Candidate: {cand}\n  Version table:\n",
                    installed.map_or("(none)", |p| p.version.as_str())
                ));
                let mut versions = vec![cand.clone()];
                if let Some(p) = installed.filter(|p| p.version != cand) {
                    versions.push(p.version.clone());
                }
                for v in versions {
                    let mark = if installed.is_some_and(|p| p.version == v) {
                        " ***"
                    } else {
                        "    "
                    };
                    out.push_str(&format!("{mark} {v} 500\n"));
                    if v == cand {
                        out.push_str(&format!(
                            "        500 http://archive.ubuntu.com/ubuntu jammy/main {arch} Packages\n"
                        ));
                    }
                    if installed.is_some_and(|p| p.version == v) {
                        out.push_str("        100 /var/lib/dpkg/status\n");
                    }
                }
            }
            "show" => {
                let first = n.chars().next().unwrap_or('x');
                out.push_str(&format!(
                    "Package: {n}\nArchitecture: {arch}\nVersion: {cand}\nPriority: optional\n\
                     Section: misc\nOrigin: Ubuntu\nMaintainer: Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>\n\
                     Installed-Size: 100\nFilename: pool/main/{first}/{n}/{n}_{cand}_{arch}.deb\n\
                     Size: 10000\nDescription: {n}\nDescription-md5: 00000000000000000000000000000000\n\n"
                ));
            }
            "madison" => out.push_str(&format!(
                "{n} | {cand} | http://archive.ubuntu.com/ubuntu jammy/main {arch} Packages\n"
            )),
            "search" | "pkgnames" => out.push_str(&format!("{n} - {n}\n")),
            other => return Output::fail(100, format!("E: Invalid operation {other}")),
        }
    }
    Output::ok(out)
}

/// `dpkg -l|-s|-L|--print-architecture|-i|-r|-P …`.
pub fn dpkg(st: &HostState, config: &HostConfig, args: &[String]) -> Output {
    let a = Args::parse(args, &[]);
    if a.has(&["print-architecture"]) {
        return Output::ok(format!("{}\n", config.arch()));
    }
    if a.has(&["print-foreign-architectures"]) {
        return Output::ok("");
    }
    if a.has(&["l", "list"]) {
        return list(st, &a.pos);
    }
    if a.has(&["s", "status"]) {
        return status(st, &a.pos);
    }
    if a.has(&["L", "listfiles"]) {
        return match a.pos.iter().find(|n| !st.packages.contains_key(*n)) {
            Some(n) => Output::fail(1, format!("dpkg-query: package '{n}' is not installed")),
            None => Output::ok(String::from("/.\n")),
        };
    }
    // Installing a .deb, configuring, removing: done (the charm's own files stay its).
    Output::ok("")
}

/// `dpkg-query -W [-f FORMAT] NAME…`, `-l`, `-s`.
pub fn dpkg_query(st: &HostState, args: &[String]) -> Output {
    let a = Args::parse(args, &["f", "showformat"]);
    if a.has(&["l", "list"]) {
        return list(st, &a.pos);
    }
    if a.has(&["s", "status"]) {
        return status(st, &a.pos);
    }
    let format = a
        .value(&["f", "showformat"])
        .unwrap_or("${Package}\t${Version}\n")
        .replace("\\n", "\n")
        .replace("\\t", "\t");
    let mut out = String::new();
    for n in &a.pos {
        let Some(p) = st.packages.get(n) else {
            return Output {
                code: 1,
                stdout: out,
                stderr: format!("dpkg-query: no packages found matching {n}\n"),
            };
        };
        out.push_str(
            &format
                .replace("${Package}", n)
                .replace("${binary:Package}", n)
                .replace("${Version}", &p.version)
                .replace("${Architecture}", &p.arch)
                .replace("${db:Status-Abbrev}", &format!("{} ", p.abbrev()))
                .replace("${Status}", &status_line(p)),
        );
    }
    Output::ok(out)
}

fn status_line(p: &Package) -> String {
    if p.installed() {
        "install ok installed".into()
    } else {
        "deinstall ok config-files".into()
    }
}

/// `dpkg -l`: the header and one row per package (every one without names).
fn list(st: &HostState, names: &[String]) -> Output {
    let mut out = String::from(
        "Desired=Unknown/Install/Remove/Purge/Hold\n\
         | Status=Not/Inst/Conf-files/Unpacked/halF-conf/Half-inst/trig-aWait/Trig-pend\n\
         |/ Err?=(none)/Reinst-required (Status,Err: uppercase=bad)\n\
         ||/ Name           Version      Architecture Description\n\
         +++-==============-============-============-=================================\n",
    );
    let chosen: Vec<(&String, &Package)> = if names.is_empty() {
        st.packages.iter().collect()
    } else {
        let mut v = Vec::new();
        for n in names {
            match st.packages.get_key_value(n) {
                Some(kv) => v.push(kv),
                None => {
                    return Output {
                        code: 1,
                        stdout: String::new(),
                        stderr: format!("dpkg-query: no packages found matching {n}\n"),
                    };
                }
            }
        }
        v
    };
    for (n, p) in chosen {
        out.push_str(&format!(
            "{}  {n:<14} {:<12} {:<12} {n}\n",
            p.abbrev(),
            p.version,
            p.arch
        ));
    }
    Output::ok(out)
}

fn status(st: &HostState, names: &[String]) -> Output {
    let mut out = String::new();
    for n in names {
        let Some(p) = st.packages.get(n) else {
            return Output::fail(
                1,
                format!(
                    "dpkg-query: package '{n}' is not installed and no information is available"
                ),
            );
        };
        out.push_str(&format!(
            "Package: {n}\nStatus: {}\nPriority: optional\nArchitecture: {}\nVersion: {}\nDescription: {n}\n\n",
            status_line(p),
            p.arch,
            p.version
        ));
    }
    Output::ok(out)
}
