//! Which lines of the charm a corpus runs: the line half of `charmfuzz coverage`.
//!
//! The fuzzer's own coverage is a hashed bitmap, fast and unreadable: good for steering,
//! no use to a person. For a report the worker records, per hook, the exact set of lines of
//! the charm's own files (`src/`, `lib/`) that ran, as `path<TAB>line` (see `_Lines` in
//! `python/worker.py`); this module adds those sets up over a corpus, next to each file's
//! executable lines as CPython's line tables list them, and writes the result as a terminal
//! table and as an LCOV tracefile, which `genhtml`, Codecov, coverage gutters in editors and
//! most coverage tools read. A line's count is the number of hooks that ran it.
//!
//! The executable lines come from the compiled code (`co_lines`), not from coverage.py's
//! parser, so a multi-line statement or a docstring may be counted a little differently
//! than coverage.py would; hit and missed lines are what the interpreter reports.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

/// One file's lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileLines {
    /// Lines with code on them.
    pub executable: BTreeSet<u32>,
    /// Line → how many hooks ran it.
    pub hits: BTreeMap<u32, u64>,
}

impl FileLines {
    /// Executable lines that ran at least once.
    pub fn covered(&self) -> usize {
        self.executable
            .iter()
            .filter(|l| self.hits.contains_key(l))
            .count()
    }
}

/// Line coverage of a charm, by file (paths relative to the charm directory).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineCoverage {
    pub files: BTreeMap<String, FileLines>,
    /// Hooks whose lines were added.
    pub hooks: u64,
}

impl LineCoverage {
    /// Add one hook's lines, as the worker writes them (`path<TAB>line` per line; other
    /// lines are ignored).
    pub fn add_hook(&mut self, text: &str) {
        self.hooks += 1;
        for line in text.lines() {
            let Some((path, n)) = line.split_once('\t') else {
                continue;
            };
            let Ok(n) = n.trim().parse::<u32>() else {
                continue;
            };
            *self
                .files
                .entry(path.to_string())
                .or_default()
                .hits
                .entry(n)
                .or_default() += 1;
        }
    }

    /// Record each file's executable lines (files no hook ran are added with none hit).
    pub fn set_executable(&mut self, executable: BTreeMap<String, Vec<u32>>) {
        for (path, lines) in executable {
            self.files.entry(path).or_default().executable = lines.into_iter().collect();
        }
        // A line can run without being in the table (a `def` line reported on call):
        // count what ran as executable, so a file never shows more hits than lines.
        for f in self.files.values_mut() {
            let ran: Vec<u32> = f.hits.keys().copied().collect();
            f.executable.extend(ran);
        }
    }

    /// Executable and covered lines over all files.
    pub fn totals(&self) -> (usize, usize) {
        self.files.values().fold((0, 0), |(e, c), f| {
            (e + f.executable.len(), c + f.covered())
        })
    }

    /// The terminal table: per file, lines, lines covered, percentage, and the first
    /// ranges never run.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let width = self.files.keys().map(String::len).max().unwrap_or(4).max(4);
        let _ = writeln!(
            out,
            "{:<width$}  {:>5}  {:>5}  {:>6}  missed",
            "file", "lines", "run", "cover"
        );
        let row = |out: &mut String, name: &str, e: usize, c: usize, missed: &str| {
            let pct = if e == 0 {
                100.0
            } else {
                100.0 * c as f64 / e as f64
            };
            let _ = writeln!(out, "{name:<width$}  {e:>5}  {c:>5}  {pct:>5.1}%  {missed}");
        };
        for (name, f) in &self.files {
            row(
                &mut out,
                name,
                f.executable.len(),
                f.covered(),
                &missed_ranges(f, 6),
            );
        }
        let (e, c) = self.totals();
        row(&mut out, "total", e, c, "");
        out
    }

    /// The LCOV tracefile: one record per file (`SF` is `charm_dir` joined with the path),
    /// a `DA:<line>,<hooks>` per executable line, and the `LF`/`LH` totals.
    pub fn lcov(&self, charm_dir: &Path) -> String {
        let mut out = String::from("TN:charmfuzz\n");
        for (name, f) in &self.files {
            let _ = writeln!(out, "SF:{}", charm_dir.join(name).display());
            for line in &f.executable {
                let _ = writeln!(out, "DA:{line},{}", f.hits.get(line).copied().unwrap_or(0));
            }
            let _ = writeln!(out, "LF:{}", f.executable.len());
            let _ = writeln!(out, "LH:{}", f.covered());
            out.push_str("end_of_record\n");
        }
        out
    }
}

/// The first `max` runs of executable lines never run, as `12-15, 40, …`.
fn missed_ranges(f: &FileLines, max: usize) -> String {
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    let mut previous_executable: Option<u32> = None;
    for &line in &f.executable {
        let missed = !f.hits.contains_key(&line);
        if missed {
            match ranges.last_mut() {
                // Consecutive missed executable lines (blank lines between them do not
                // break a range) extend it.
                Some((_, end)) if previous_executable == Some(*end) => *end = line,
                _ => ranges.push((line, line)),
            }
        }
        previous_executable = Some(line);
    }
    let mut parts: Vec<String> = ranges
        .iter()
        .take(max)
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    if ranges.len() > max {
        parts.push("…".into());
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LineCoverage {
        let mut c = LineCoverage::default();
        c.add_hook("src/charm.py\t1\nsrc/charm.py\t2\nsrc/charm.py\t5\n");
        c.add_hook("src/charm.py\t1\nnot a line\nsrc/charm.py\tx\n");
        c.set_executable(BTreeMap::from([
            ("src/charm.py".to_string(), vec![1, 2, 3, 4, 5, 8, 9]),
            ("lib/x.py".to_string(), vec![1, 2]),
        ]));
        c
    }

    #[test]
    fn hooks_add_up_per_line_and_files_no_hook_ran_count_as_missed() {
        let c = sample();
        assert_eq!(c.hooks, 2);
        let charm = &c.files["src/charm.py"];
        assert_eq!(charm.hits[&1], 2);
        assert_eq!(charm.hits[&5], 1);
        assert_eq!(charm.covered(), 3);
        assert_eq!(c.files["lib/x.py"].covered(), 0);
        assert_eq!(c.totals(), (9, 3));
        assert_eq!(missed_ranges(charm, 6), "3-4, 8-9");
    }

    #[test]
    fn the_table_lists_every_file_and_the_total() {
        let table = sample().table();
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("file"));
        assert!(lines[1].starts_with("lib/x.py") && lines[1].contains("0.0%"));
        assert!(lines[2].contains("42.9%") && lines[2].ends_with("3-4, 8-9"));
        assert!(lines[3].starts_with("total") && lines[3].contains("33.3%"));
    }

    #[test]
    fn lcov_has_a_record_per_file_with_every_executable_line() {
        let lcov = sample().lcov(Path::new("/charms/demo"));
        let want = "TN:charmfuzz\n\
                    SF:/charms/demo/lib/x.py\nDA:1,0\nDA:2,0\nLF:2\nLH:0\nend_of_record\n\
                    SF:/charms/demo/src/charm.py\nDA:1,2\nDA:2,1\nDA:3,0\nDA:4,0\nDA:5,1\n\
                    DA:8,0\nDA:9,0\nLF:7\nLH:3\nend_of_record\n";
        assert_eq!(lcov, want);
    }
}
