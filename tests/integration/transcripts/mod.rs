//! The docs' transcripts, run as written against a real `softdel demo`:
//! the quickstart (README.md) and then the runbook (docs/runbook.md),
//! whose ids are what a reader gets after the quickstart. Only what
//! differs from run to run is masked (see `mask`); a `...` line in the
//! docs stands for any number of lines.

mod demo;
mod mask;
mod parse;

use std::path::Path;

use demo::Demo;
use mask::mask;
use parse::{Step, steps};

/// The documents, in the order a reader follows them.
const DOCUMENTS: [&str; 2] = ["README.md", "docs/runbook.md"];

#[test]
fn the_quickstart_and_the_runbook_run_as_written_against_the_demo() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all: Vec<Step> = Vec::new();
    for name in DOCUMENTS {
        let text = std::fs::read_to_string(repo.join(name)).expect(name);
        all.extend(steps(name, &text));
    }
    assert!(all.len() >= 10, "too few transcript steps: {}", all.len());
    let mut demo = Demo::start();
    let mut failures = Vec::new();
    for step in &all {
        let actual = demo.run(step);
        if !matches(&mask(&step.expected), &mask(&actual)) {
            failures.push(format!(
                "{}: $ {}\n--- the docs say\n{}\n--- it printed\n{}\n",
                step.place,
                step.command,
                step.expected.join("\n"),
                actual.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Line by line, a `...` line matching any number of lines.
fn matches(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual.first() == Some(first) && matches(rest, &actual[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn ellipsis() {
        assert!(matches(&lines("a\n...\nd"), &lines("a\nb\nc\nd")));
        assert!(matches(&lines("a\n...\nd"), &lines("a\nd")));
        assert!(!matches(&lines("a\n...\nd"), &lines("a\nb")));
    }
}
