//! A real `softdel demo`, as a reader starts it, and commands run as a
//! reader runs them: in bash, in a directory holding the demo's
//! environment file (and `rules/`, as the repository root does).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::parse::Step;

pub struct Demo {
    child: Child,
    /// The reader's working directory.
    pub dir: PathBuf,
    /// What earlier steps set (`source softdel-demo.env`, `TXID=...`),
    /// run again before each later one: every step is a shell of its own.
    assignments: Vec<String>,
}

impl Demo {
    /// Starts the demo on a free port and waits for its environment file.
    pub fn start() -> Demo {
        let dir = std::env::temp_dir().join(format!("softdel-transcripts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::os::unix::fs::symlink(repo.join("rules"), dir.join("rules")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_softdel"))
            .args([
                "demo",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
            ])
            .current_dir(&dir)
            .env_remove("SOFTDEL_LISTEN")
            .env_remove("SOFTDEL_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start softdel demo");
        let demo = Demo {
            child,
            dir,
            assignments: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !demo.dir.join("softdel-demo.env").exists() {
            assert!(
                Instant::now() < deadline,
                "the demo never wrote its environment file"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        demo
    }

    /// Runs one step; returns what it printed (both streams, in order).
    pub fn run(&mut self, step: &Step) -> Vec<String> {
        let mut script = String::from("exec 2>&1\n");
        script.extend(self.assignments.iter().map(|a| format!("{a}\n")));
        if step.session.is_empty() {
            script.push_str(&step.command);
        } else {
            // psql reading the statements and echoing each (-a), as a
            // terminal shows them after its prompt.
            script.push_str(&format!("{} -X -a", step.command));
        }
        script.push('\n');
        let input = step
            .session
            .iter()
            .map(|s| format!("{s}\n"))
            .collect::<String>();
        let output = Command::new("bash")
            .args(["-c", &script])
            .current_dir(&self.dir)
            .env_remove("DATABASE_URL")
            .env_remove("SOFTDEL_DATABASE_URL")
            .env("PAGER", "cat")
            .env("LC_ALL", "C.UTF-8")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                let mut stdin = child.stdin.take().expect("stdin");
                stdin.write_all(input.as_bytes())?;
                drop(stdin);
                child.wait_with_output()
            })
            .unwrap_or_else(|e| panic!("{}: cannot run {:?}: {e}", step.place, step.command));
        if is_assignment(&step.command) {
            self.assignments.push(step.command.clone());
        }
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// `source FILE`, `export TXID=...` or `TXID=...`: the reader's shell
/// keeps it for later steps.
fn is_assignment(command: &str) -> bool {
    if command.starts_with("source ") {
        return true;
    }
    let word = command.strip_prefix("export ").unwrap_or(command);
    let name = word.split('=').next().unwrap_or("");
    word.contains('=')
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Drop for Demo {
    /// Ctrl-C, as the reader stops it: the demo removes its database.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
