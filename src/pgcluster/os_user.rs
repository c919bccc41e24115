//! initdb and pg_ctl refuse to run as root: when we are root, they run as
//! the `postgres` OS user through runuser.

use std::path::Path;
use std::process::Command;

pub const SERVER_USER: &str = "postgres";

pub fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A command for a server binary, run as the server user when needed.
pub fn server_command(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", SERVER_USER, "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// Hands `dir` to the server user (it must own its data directory).
pub fn give_to_server_user(dir: &Path) -> std::io::Result<()> {
    let status = Command::new("chown")
        .args(["-R", SERVER_USER])
        .arg(dir)
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "chown -R {SERVER_USER} {} failed (does the {SERVER_USER} OS user exist?)",
            dir.display()
        )))
    }
}
