//! A run against the charm, printed: the line that says what ran it, the story with every
//! event's outcome (exit, statuses, juju-log lines, the error), the coverage reached, and
//! the finding. `run` and `replay` print this; what a stand-in lacked is printed by every
//! command that meets an environment finding.

use charmfuzz::story;
use charmfuzz::target::{EventOutcome, Mode, RunReport, Target};

/// What a stand-in lacked and the setting that would give it, a line each.
pub fn print_fixes(lacks: &[charmfuzz::target::Lack], indent: &str) {
    for l in lacks {
        println!(
            "{indent}lacked: {}\n{indent}  fix: {}",
            l.describe(),
            l.fix()
        );
    }
}

/// The first line of a run: what ran the charm.
pub fn print_header(target: &Target) {
    let info = target.worker_info().cloned().unwrap_or_default();
    println!(
        "charm {} · Python {} · ops {} · {} mode{}",
        target.charm().spec.name,
        info.python,
        info.ops,
        match target.mode() {
            Mode::Fork => "fork",
            Mode::Exec => "exec",
        },
        if target.sandbox().contained() {
            " · contained"
        } else {
            ""
        }
    );
}

/// The story with every event's outcome, the coverage reached, and the finding.
pub fn print_report(target: &Target, report: &RunReport) {
    let text = story::story_annotated(&report.trace, |i, _| {
        report
            .outcomes
            .get(i)
            .map(outcome_lines)
            .unwrap_or_default()
    });
    print!("{text}");
    if let Some(map) = target.coverage() {
        let info = target.worker_info().cloned().unwrap_or_default();
        let (code, features) = map.hit_slots();
        println!(
            "\ncoverage ({}): {code} charm code slots, {features} lifecycle features",
            info.coverage.as_deref().unwrap_or("?")
        );
    }
    match &report.finding {
        Some(f) => println!(
            "\nFINDING: {}\nsignature: {}\nclass: {}",
            f.title,
            f.signature,
            f.class.as_str()
        ),
        None => println!("\nno finding in {} events", report.outcomes.len()),
    }
    if !report.environment.is_empty() {
        println!(
            "\nenvironment findings (not the charm's: it failed where a stand-in of \
             charmfuzz's could not answer, and the story went on):"
        );
        for f in &report.environment {
            println!(
                "  {} (event {})\n    signature: {}",
                f.title, f.event, f.signature
            );
            print_fixes(&f.lacks, "    ");
        }
    }
}

/// What one event did, for the story: exit, statuses, juju-log lines (as `juju debug-log`
/// prints them), the error.
fn outcome_lines(o: &EventOutcome) -> Vec<String> {
    use charmfuzz::target::Exit;
    let mut v = Vec::new();
    let ms = (o.seconds * 1000.0).round();
    v.push(match &o.exit {
        Exit::Code(0) => format!("✓ ok in {ms} ms"),
        Exit::Code(c) => format!("✗ exit {c} after {ms} ms"),
        Exit::Signal(s) => format!(
            "✗ killed by {} after {ms} ms",
            charmfuzz::target::outcome::signal_name(*s)
        ),
        Exit::Timeout => format!("✗ hang: killed at the timeout ({ms} ms)"),
    });
    for s in o.agent.statuses.iter().filter(|s| !s.by_juju) {
        let who = match s.target {
            charmfuzz::target::hooktools::StatusTarget::Unit => "unit",
            _ => "app",
        };
        v.push(format!("status ({who}): {} {:?}", s.status, s.message));
    }
    for l in &o.agent.logs {
        if l.level == "TRACE" || l.message.starts_with("Uncaught exception") {
            continue;
        }
        let first = l.message.lines().next().unwrap_or("");
        v.push(format!("{} juju-log: {first}", l.level));
    }
    if let Some(cut) = &o.output_cut {
        v.push(format!("output cut ({cut})"));
    }
    for c in &o.shim_calls {
        v.push(format!("ran {} {}", c.program, c.args.join(" ")));
    }
    for c in &o.unscripted {
        v.push(format!("exec {c} (unscripted: the exec-default answer)"));
    }
    if let Some(e) = &o.exception {
        let at = e
            .charm_frame()
            .map(|f| format!(" at {}:{} in {}", f.file, f.line, f.function))
            .unwrap_or_default();
        v.push(format!(
            "error: {}: {}{at}",
            e.type_name,
            e.message.lines().next().unwrap_or("")
        ));
    } else if !o.exit.ok() && !o.stderr_tail.is_empty() {
        for l in o
            .stderr_tail
            .lines()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            v.push(format!("stderr: {l}"));
        }
    }
    if !o.deferred.is_empty() {
        let d: Vec<String> = o
            .deferred
            .iter()
            .filter_map(|d| d.get("event").and_then(|e| e.as_str()))
            .map(|e| e.rsplit('/').next().unwrap_or(e).to_string())
            .collect();
        v.push(format!("deferred: {}", d.join(", ")));
    }
    v
}
