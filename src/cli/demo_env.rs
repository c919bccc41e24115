//! The demo's environment file: what a reader needs in another terminal
//! to follow the quickstart and the runbook literally (`source` it).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The addresses a reader needs: the proxy and the database itself.
pub struct DemoEnv {
    pub proxy_url: String,
    pub direct_url: String,
    /// The operator's console (the admin listener), and its token.
    pub console_url: String,
    pub console_token: String,
}

impl DemoEnv {
    /// The file's text: `PROXY`, `DIRECT`, `SOFTDEL_DATABASE_URL` (the
    /// operator commands' database: the direct one), `CONSOLE` and
    /// `SOFTDEL_CONSOLE_TOKEN`, and this `softdel` first on `PATH`, so that
    /// every example runs `softdel` the same way.
    pub fn text(&self) -> anyhow::Result<String> {
        let exe = std::env::current_exe().context("cannot find the softdel executable")?;
        let bin = exe.parent().unwrap_or(Path::new("."));
        let mut text = String::from("# softdel demo: `source` this file in another terminal\n");
        let _ = writeln!(
            text,
            "export PATH={}:\"$PATH\"",
            shell_quote(&bin.display().to_string())
        );
        let _ = writeln!(text, "export PROXY={}", shell_quote(&self.proxy_url));
        let _ = writeln!(text, "export DIRECT={}", shell_quote(&self.direct_url));
        let _ = writeln!(text, "export SOFTDEL_DATABASE_URL=\"$DIRECT\"");
        let _ = writeln!(text, "export CONSOLE={}", shell_quote(&self.console_url));
        let _ = writeln!(
            text,
            "export SOFTDEL_CONSOLE_TOKEN={}",
            shell_quote(&self.console_token)
        );
        Ok(text)
    }

    /// Writes the file, readable by its owner only (it holds the console's
    /// token); the returned guard removes it when the demo ends.
    pub fn write(&self, path: &Path) -> anyhow::Result<Written> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let text = self.text()?;
        let _ = std::fs::remove_file(path);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Written(path.to_owned()))
    }

    /// The file's exports as the banner shows them: the token left out.
    pub fn shown(&self) -> anyhow::Result<String> {
        Ok(self
            .text()?
            .replace(&shell_quote(&self.console_token), "'…' (in the file)"))
    }
}

/// An environment file the demo wrote, removed with the demo.
pub struct Written(PathBuf);

impl Drop for Written {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `text` in single quotes for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn quoting_survives_the_shell() {
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
