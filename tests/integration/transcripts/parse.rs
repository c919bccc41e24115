//! Transcripts as the docs write them: ```console blocks of `$ command`
//! lines, each followed by what it prints. A `$ psql URL` with no other
//! argument opens a session: its `postgres=# ` lines are statements, the
//! lines after each are what psql prints for it.

/// One command and what the docs say it prints.
#[derive(Debug)]
pub struct Step {
    /// The document and line, for messages.
    pub place: String,
    pub command: String,
    /// For a psql session: the statements, one input line each.
    pub session: Vec<String>,
    pub expected: Vec<String>,
}

/// Every step of every ```console block in `markdown`, in order.
pub fn steps(name: &str, markdown: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_console = false;
    let mut in_other = false;
    for (index, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        if fence && !in_console && !in_other {
            in_console = line.trim() == "```console";
            in_other = !in_console;
            continue;
        }
        if fence {
            (in_console, in_other) = (false, false);
            continue;
        }
        if !in_console {
            continue;
        }
        if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                place: format!("{name}:{}", index + 1),
                command: command.to_owned(),
                session: Vec::new(),
                expected: Vec::new(),
            });
            continue;
        }
        let Some(step) = steps.last_mut() else {
            panic!("{name}:{}: a console block starts with output", index + 1);
        };
        match strip_prompt(line) {
            Some(statement) if is_session(&step.command) => {
                step.session.push(statement.to_owned());
                step.expected.push(statement.to_owned());
            }
            _ => step.expected.push(line.to_owned()),
        }
    }
    steps
}

/// `psql "$PROXY"`: psql with a URL and nothing else reads statements.
pub fn is_session(command: &str) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    words.len() == 2 && words[0] == "psql"
}

/// The statement after a psql prompt (`postgres=# `, `postgres-# `,
/// `postgres=*# `, `postgres*# `, `postgres=!# `, `postgres(# `).
pub fn strip_prompt(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("postgres")?;
    let marks = rest
        .find(|c: char| !"=-*!('\"$".contains(c))
        .unwrap_or(rest.len());
    rest[marks..].strip_prefix("# ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts() {
        assert_eq!(strip_prompt("postgres=# SELECT 1;"), Some("SELECT 1;"));
        assert_eq!(strip_prompt("postgres=*# COMMIT;"), Some("COMMIT;"));
        assert_eq!(strip_prompt("postgres*#     ON x);"), Some("    ON x);"));
        assert_eq!(strip_prompt("DELETE 1"), None);
    }
}
