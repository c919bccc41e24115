//! What is wrong with a rules file, and where: the file, the line and
//! column, and a message in the file's own words.

use std::fmt;
use std::path::PathBuf;

/// A rules file that cannot be used, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError {
    pub file: PathBuf,
    /// 1-based line and column, when the problem is at a place in the file.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(
                f,
                "{}:{line}:{column}: {}",
                self.file.display(),
                self.message
            ),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for RulesError {}

/// serde_yaml puts " at line L column C" in its messages (at the end, and
/// in the parser's context); the position is reported in front instead,
/// as compilers do, and only there. YAML's own wording for a mis-indented
/// key gets a word on what to look for.
pub(super) fn strip_location(message: &str) -> String {
    let mut text = message.to_owned();
    let mut from = 0;
    while let Some(found) = text[from..].find(" at line ") {
        let at = from + found;
        let line = at + " at line ".len();
        let end = line + digits(&text[line..]);
        if end == line {
            // Words of the file's, not a position.
            from = line;
            continue;
        }
        let end = match text[end..].strip_prefix(" column ") {
            Some(column) => text.len() - column.len() + digits(column),
            None => end,
        };
        text.replace_range(at..end, "");
        from = at;
    }
    if text.starts_with("did not find expected key") {
        text.push_str(" (is this key indented differently from the keys beside it?)");
    }
    text
}

/// How many ASCII digits `text` starts with.
fn digits(text: &str) -> usize {
    text.find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len())
}
