//! Writing the Prometheus text exposition format, version 0.0.4.

use std::fmt::{Display, Write};

/// The content type a scraper expects for this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// An exposition being written: families in order, each a HELP and a TYPE
/// line followed by its samples.
#[derive(Debug, Default)]
pub(super) struct Exposition {
    out: String,
}

impl Exposition {
    pub(super) fn family(&mut self, name: &str, kind: Kind, help: &str) {
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        escape(&mut self.out, help, false);
        self.out.push_str("\n# TYPE ");
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(kind.as_str());
        self.out.push('\n');
    }

    /// One sample line: `name{label="value",...} value`.
    pub(super) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(label);
                self.out.push_str("=\"");
                escape(&mut self.out, v, true);
                self.out.push('"');
            }
            self.out.push('}');
        }
        // Writing to a String cannot fail.
        let _ = writeln!(self.out, " {value}");
    }

    pub(super) fn finish(self) -> String {
        self.out
    }
}

/// Escapes as the format requires: backslash and newline everywhere, the
/// double quote only inside label values (HELP text keeps it as is).
fn escape(out: &mut String, s: &str, label_value: bool) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if label_value => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        let mut e = Exposition::default();
        e.sample("m", &[("table", "a\\b\"c\nd")], 1);
        assert_eq!(e.finish(), "m{table=\"a\\\\b\\\"c\\nd\"} 1\n");
    }

    #[test]
    fn help_escapes_backslash_and_newline_but_not_quotes() {
        let mut e = Exposition::default();
        e.family("m", Kind::Counter, "a \"b\" \\ c\nd");
        assert_eq!(
            e.finish(),
            "# HELP m a \"b\" \\\\ c\\nd\n# TYPE m counter\n"
        );
    }

    #[test]
    fn several_labels_are_comma_separated() {
        let mut e = Exposition::default();
        e.sample("m", &[("a", "1"), ("b", "2")], 0.5);
        assert_eq!(e.finish(), "m{a=\"1\",b=\"2\"} 0.5\n");
    }
}
