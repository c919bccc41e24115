//! A temporary PostgreSQL cluster on a free loopback port.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use thiserror::Error;

use super::find_bindir;
use super::os_user::{give_to_server_user, running_as_root, server_command};

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH, via pg_config, \
         or under /usr/lib/postgresql/*/bin: install them (Debian: apt-get install postgresql-15) \
         or set SOFTDEL_PG_BINDIR"
    )]
    NoBinaries,
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed: {output}")]
    Command { command: String, output: String },
}

/// How to set up the cluster.
#[derive(Clone, Debug, Default)]
pub struct ClusterOptions {
    /// pg_hba.conf lines placed before the catch-all `trust` lines, e.g.
    /// `host all alice 127.0.0.1/32 scram-sha-256`.
    pub hba: Vec<String>,
    /// Extra server settings (`-c name=value`).
    pub settings: Vec<(String, String)>,
    /// Files written into the data directory before the server starts,
    /// readable by the server only (a TLS key must be), e.g.
    /// `("server.key", pem)` for `ssl_key_file=server.key`.
    pub files: Vec<(String, Vec<u8>)>,
}

/// A running cluster; stopped and deleted on drop, or when this process
/// exits in any way (a watchdog child waits for our end of a pipe to close).
pub struct TempCluster {
    port: u16,
    dir: PathBuf,
    bindir: PathBuf,
    watchdog: Option<Child>,
}

const START_ATTEMPTS: usize = 5;
const SUPERUSER: &str = "postgres";

impl TempCluster {
    /// initdb, configure, start. Blocking: call it from a plain thread or
    /// `spawn_blocking`.
    pub fn start(options: &ClusterOptions) -> Result<TempCluster, ClusterError> {
        let bindir = find_bindir().ok_or(ClusterError::NoBinaries)?;
        let as_root = running_as_root();
        let dir = unique_dir();
        std::fs::create_dir_all(&dir).map_err(io(format!("create {}", dir.display())))?;
        let watchdog = spawn_watchdog(&dir, &bindir, as_root)?;
        let mut cluster = TempCluster {
            port: 0,
            dir,
            bindir,
            watchdog: Some(watchdog),
        };
        if as_root {
            give_to_server_user(&cluster.dir).map_err(io("chown".into()))?;
        }
        cluster.initdb(as_root, options)?;
        cluster.start_server(as_root, options)?;
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A libpq URL for the superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// The cluster's own directory (removed with it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// Runs SQL as the superuser with psql and returns its unaligned output.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, ClusterError> {
        let mut cmd = Command::new(self.bindir.join("psql"));
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-U", SUPERUSER])
            .args(["-p", &self.port.to_string(), "-d", database, "-c", sql]);
        run(&mut cmd, "psql")
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn initdb(&self, as_root: bool, options: &ClusterOptions) -> Result<(), ClusterError> {
        let mut cmd = server_command(as_root, &self.bindir.join("initdb"));
        cmd.arg("-D").arg(self.data());
        cmd.args([
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run(&mut cmd, "initdb")?;
        let mut hba = String::from("local all all trust\n");
        for line in &options.hba {
            hba.push_str(line);
            hba.push('\n');
        }
        hba.push_str("host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n");
        // Overwriting keeps the file's owner (the server user).
        std::fs::write(self.data().join("pg_hba.conf"), hba)
            .map_err(io("write pg_hba.conf".into()))?;
        self.write_files(as_root, &options.files)
    }

    fn write_files(&self, as_root: bool, files: &[(String, Vec<u8>)]) -> Result<(), ClusterError> {
        use std::os::unix::fs::PermissionsExt;
        for (name, content) in files {
            let path = self.data().join(name);
            let failed = || io(format!("write {}", path.display()));
            std::fs::write(&path, content).map_err(failed())?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(failed())?;
            if as_root {
                give_to_server_user(&path).map_err(failed())?;
            }
        }
        Ok(())
    }

    /// Picks a free port and starts; another process may take the port
    /// between the check and the start, so a failed start is retried.
    fn start_server(
        &mut self,
        as_root: bool,
        options: &ClusterOptions,
    ) -> Result<(), ClusterError> {
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            self.port = free_port().map_err(io("find a free port".into()))?;
            let mut settings = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                self.port,
                self.dir.display()
            );
            for (name, value) in &options.settings {
                settings.push_str(&format!(" -c {name}={value}"));
            }
            let mut cmd = server_command(as_root, &self.bindir.join("pg_ctl"));
            cmd.arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.log_file());
            cmd.args(["-o", &settings, "-w", "-t", "60", "start"]);
            match run(&mut cmd, "pg_ctl start") {
                Ok(_) => return Ok(()),
                Err(e) => last_error = Some(e),
            }
        }
        let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        Err(match last_error {
            Some(ClusterError::Command { command, output }) => ClusterError::Command {
                command,
                output: format!("{output}\nserver log:\n{log}"),
            },
            Some(other) => other,
            None => ClusterError::NoBinaries,
        })
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            // Closing its stdin tells the watchdog to stop and clean up.
            drop(watchdog.stdin.take());
            let _ = watchdog.wait();
        }
    }
}

/// A shell that waits for its stdin to close, then stops the server and
/// removes the directory. Its own process group keeps a terminal's Ctrl-C
/// from killing it before it has cleaned up.
fn spawn_watchdog(dir: &Path, bindir: &Path, as_root: bool) -> Result<Child, ClusterError> {
    use std::os::unix::process::CommandExt;
    let stop = server_command(as_root, &bindir.join("pg_ctl"));
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"dir=$1; shift; cat >/dev/null; "$@" >/dev/null 2>&1; rm -rf "$dir""#)
        .arg("sh")
        .arg(dir)
        .arg(stop.get_program())
        .args(stop.get_args())
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-m", "immediate", "-w", "stop"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    cmd.spawn().map_err(io("start the cleanup watchdog".into()))
}

fn unique_dir() -> PathBuf {
    // RandomState is seeded randomly per instance: a unique name without
    // a global counter.
    let salt = RandomState::new().build_hasher().finish();
    std::env::temp_dir().join(format!("softdel-pg-{}-{salt:016x}", std::process::id()))
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn run(cmd: &mut Command, what: &str) -> Result<String, ClusterError> {
    let output = cmd.output().map_err(io(format!("run {what}")))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    Err(ClusterError::Command {
        command: what.to_owned(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    })
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> ClusterError {
    move |source| ClusterError::Io { what, source }
}
