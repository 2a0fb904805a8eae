//! `charmfuzz spec`: what charmfuzz understood of a charm (its substrate, endpoints,
//! storage, containers, config options and actions, as its metadata declares them) and
//! its action space: every kind of action, its weight, and whether it can ever happen to
//! this charm ([`charmfuzz::stats::action_possible`]). For a sidecar charm, also the
//! commands its code runs in its workload containers, and what answers each here.

use super::RunCommand;
use anyhow::{Context, Result};
use charmfuzz::charm::Charm;
use charmfuzz::engine::ActionKind;
use charmfuzz::spec::{Role, Substrate};
use charmfuzz::stats::action_possible;
use charmfuzz::target::TargetConfig;
use charmfuzz::target::pebble::{ExecDefault, ExecMatch};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct Spec {
    /// The charm directory.
    dir: PathBuf,
}

impl RunCommand for Spec {
    fn run(self) -> Result<ExitCode> {
        let charm = Charm::load(&self.dir)
            .with_context(|| format!("cannot load the charm in {}", self.dir.display()))?;
        print_spec(&charm);
        Ok(ExitCode::SUCCESS)
    }
}

fn print_spec(charm: &Charm) {
    let s = &charm.spec;
    println!(
        "charm {} ({:?} layout) in {}",
        s.name,
        s.layout,
        s.dir.display()
    );
    println!(
        "  substrate: {}{}",
        match s.substrate {
            Substrate::Kubernetes => "kubernetes (sidecar)",
            Substrate::Machine => "machine",
        },
        if s.subordinate { ", subordinate" } else { "" }
    );
    println!("  juju version: {}", charm.config.engine.juju_version);
    println!("endpoints:");
    for e in &s.endpoints {
        let role = match e.role {
            Role::Requires => "requires",
            Role::Provides => "provides",
            Role::Peer => "peers",
        };
        println!(
            "  {:<24} {:<9} {:<24} limit {:<5} scope {:?}",
            e.name,
            role,
            e.interface,
            e.limit.map(|l| l.to_string()).unwrap_or("-".into()),
            e.scope
        );
    }
    println!("storage:");
    for st in &s.storage {
        println!(
            "  {:<24} {:<10} instances {}..{} {}",
            st.name,
            st.kind.as_str(),
            st.multiple.min,
            st.multiple.max.map(|m| m.to_string()).unwrap_or("∞".into()),
            st.location.clone().unwrap_or_default()
        );
    }
    println!("containers:");
    for c in &s.containers {
        println!("  {}", c.name);
    }
    println!("config options:");
    for o in &s.config {
        println!(
            "  {:<24} {:<8} default {}",
            o.name,
            format!("{:?}", o.ty).to_lowercase(),
            o.default
                .clone()
                .map(|d| d.to_string())
                .unwrap_or("(unset)".into())
        );
    }
    println!("actions:");
    for a in &s.actions {
        let params: Vec<String> = a
            .params
            .iter()
            .map(|p| format!("{}: {:?}", p.name, p.ty).to_lowercase())
            .collect();
        println!("  {:<24} {}", a.name, params.join(", "));
    }
    println!("action space (kind, weight, possible for this charm):");
    for k in ActionKind::ALL {
        let possible = action_possible(charm, k);
        println!(
            "  {:<28} {:>3}  {}",
            k.as_str(),
            charm.weights.get(k),
            if possible { "yes" } else { "no" }
        );
    }
    if !s.containers.is_empty() {
        print_workload_execs(charm);
    }
    // The words databag keys and values are drawn from: a charm author checks here that
    // the keys their charm reads are among them (`[samples] strings` adds more).
    println!(
        "payload words ({}, the charm's string literals included):",
        charm.vocab.words.len()
    );
    let quoted: Vec<String> = charm.vocab.words.iter().map(|w| format!("{w:?}")).collect();
    for line in charmfuzz::repro::wrap(quoted.iter().map(String::as_str), 88) {
        println!("  {line}");
    }
}

/// The commands the charm's code runs in its workload containers, and what answers each
/// here: a charm author scripts the unscripted ones in `charmfuzz.toml`.
fn print_workload_execs(charm: &Charm) {
    use charmfuzz::spec::execs;
    let python: PathBuf = std::env::var_os("CHARMFUZZ_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| "python3".into());
    let answers = TargetConfig::from_table(&charm.config.target)
        .map(|c| c.exec_answers())
        .ok();
    println!("workload commands (Pebble exec calls in src/ and lib/, and what answers them):");
    let scan = match execs::scan(&charm.spec.dir, &python) {
        Ok(scan) => scan,
        Err(e) => {
            println!("  not read: {e}");
            return;
        }
    };
    for site in &scan.sites {
        let mut shown = site
            .command
            .iter()
            .map(|w| format!("{w:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        if !site.complete {
            shown.push_str(if site.command.is_empty() {
                "…"
            } else {
                ", …"
            });
        }
        let answer = match &answers {
            _ if site.command.is_empty() => "computed at run time".to_string(),
            None => "?".into(),
            Some(a) => match a.ever(&site.command) {
                ExecMatch::Answer(_) => "scripted".into(),
                ExecMatch::Allowed => "allowed".into(),
                ExecMatch::Unscripted => format!(
                    "unscripted (exec-default: {})",
                    match a.unscripted {
                        ExecDefault::Succeed => "exit 0, no output",
                        ExecDefault::NotFound => "not found",
                    }
                ),
            },
        };
        println!(
            "  {:<48} [{shown}]  {answer}",
            format!("{}:{}", site.file, site.line)
        );
    }
    if scan.sites.is_empty() {
        println!("  (none)");
    }
    for (file, error) in &scan.unreadable {
        println!("  {file}: not read ({error})");
    }
}
