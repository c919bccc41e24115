//! A real PgBouncer in front of the test cluster, so that several clients
//! share one server connection (transaction pooling).
//!
//! ```ignore
//! let bouncer = Bouncer::start(&cluster().addr(), BouncerOptions::default()).await;
//! let client = connect(&bouncer.url("postgres", "postgres")).await.unwrap();
//! ```
//!
//! PgBouncer refuses to run as root: when the tests run as root it runs as
//! the `postgres` OS user (like the cluster). It runs in the foreground under
//! a small `sh` watchdog that kills it when our end of its stdin closes: on
//! drop, or when the test process dies in any way.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{MD5_USER, SCRAM_USER};

/// The OS user PgBouncer runs as when we are root.
const SERVER_USER: &str = "postgres";
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 3;

/// How to configure the bouncer.
#[derive(Clone, Debug)]
pub struct BouncerOptions {
    /// `session`, `transaction` or `statement`.
    pub pool_mode: String,
    /// Server connections per user and database: with 1, every client of
    /// a user and database shares one server connection.
    pub default_pool_size: u32,
    pub max_client_conn: u32,
    /// The users allowed in (`auth_type = trust` still needs them listed),
    /// with the password PgBouncer uses to log in to the server ("" when the
    /// server trusts the user).
    pub users: Vec<(String, String)>,
    /// More `[pgbouncer]` settings, written after the defaults.
    pub settings: Vec<(String, String)>,
}

impl Default for BouncerOptions {
    fn default() -> BouncerOptions {
        BouncerOptions {
            pool_mode: "transaction".into(),
            default_pool_size: 1,
            max_client_conn: 100,
            users: vec![
                ("postgres".into(), String::new()),
                (MD5_USER.0.into(), MD5_USER.1.into()),
                (SCRAM_USER.0.into(), SCRAM_USER.1.into()),
            ],
            settings: vec![],
        }
    }
}

/// A running PgBouncer; stopped and its directory removed on drop.
pub struct Bouncer {
    pub addr: SocketAddr,
    dir: PathBuf,
    /// Our end of the watchdog's stdin: closing it stops PgBouncer.
    stdin: Option<ChildStdin>,
    child: Option<Child>,
}

impl Bouncer {
    /// Starts PgBouncer in front of `upstream` (`127.0.0.1:PORT`) and waits
    /// until `SELECT 1` works through it.
    pub async fn start(upstream: &str, options: BouncerOptions) -> Bouncer {
        let program = find_pgbouncer().unwrap_or_else(|| {
            panic!("pgbouncer not found: run scripts/install-deps.sh pgbouncer")
        });
        let upstream: SocketAddr = upstream
            .parse()
            .unwrap_or_else(|e| panic!("bad upstream address {upstream:?}: {e}"));
        let as_root = running_as_root();
        for attempt in 1..=START_ATTEMPTS {
            let mut bouncer = Bouncer::spawn(&program, upstream, &options, as_root);
            match bouncer.wait_ready().await {
                Ok(()) => return bouncer,
                // Someone else took the free port between our check and its bind.
                Err(log) if attempt < START_ATTEMPTS && log.contains("in use") => continue,
                Err(log) => panic!("pgbouncer on {} did not become ready: {log}", bouncer.addr),
            }
        }
        unreachable!()
    }

    /// A URL for `user` (any user listed in the options) through the bouncer.
    pub fn url(&self, user: &str, database: &str) -> String {
        super::url(self.addr, user, None, database)
    }

    /// The bouncer's directory (config, log; removed with it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.join("pgbouncer.log")
    }

    fn spawn(
        program: &Path,
        upstream: SocketAddr,
        options: &BouncerOptions,
        as_root: bool,
    ) -> Bouncer {
        let dir = unique_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let port = free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        write_file(
            &dir.join("pgbouncer.ini"),
            &config(&dir, upstream, port, options),
        );
        write_file(&dir.join("userlist.txt"), &userlist(&options.users));
        let stderr = std::fs::File::create(dir.join("stderr.log"))
            .unwrap_or_else(|e| panic!("create {}/stderr.log: {e}", dir.display()));

        // A watchdog: PgBouncer in the background, killed (and its directory
        // removed) as soon as our end of the watchdog's stdin closes, which
        // happens when we drop it or die; the watchdog exits with PgBouncer.
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(
                r#"exec 3<&0 </dev/null
                "$0" "$1/pgbouncer.ini" &
                pid=$!
                { read -r _ <&3; rm -rf "$1"; kill -KILL "$pid" 2>/dev/null; } &
                watcher=$!
                wait "$pid"
                status=$?
                kill "$watcher" 2>/dev/null
                exit "$status""#,
            )
            .arg(program)
            .arg(&dir)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(stderr.try_clone().expect("clone log file"))
            .stderr(stderr);
        if as_root {
            chown_to_server_user(&dir);
            let (uid, gid) = server_user_ids();
            cmd.uid(uid)
                .gid(gid)
                .env("HOME", &dir)
                .env("USER", SERVER_USER);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        Bouncer {
            addr,
            dir,
            stdin: child.stdin.take(),
            child: Some(child),
        }
    }

    /// Ok once a real query works through the bouncer; Err with the end of
    /// its logs when it exited or the time ran out.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = format!(
            "postgres://postgres@{}/postgres?connect_timeout=5",
            self.addr
        );
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!("it exited ({status})\n{}", self.log_tail()));
            }
            let listening = tokio::time::timeout(
                Duration::from_millis(500),
                tokio::net::TcpStream::connect(self.addr),
            )
            .await;
            let last_error = if matches!(listening, Ok(Ok(_))) {
                match select_one(&url).await {
                    Ok(()) => return Ok(()),
                    Err(e) => format!("SELECT 1: {e}"),
                }
            } else {
                "not listening yet".to_owned()
            };
            if Instant::now() > deadline {
                return Err(format!(
                    "no answer within {READY_TIMEOUT:?} (last: {last_error})\n{}",
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last lines of its log, and of its stderr when that says more
    /// (in the foreground it logs to both).
    pub fn log_tail(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        let (log, stderr) = (read("pgbouncer.log"), read("stderr.log"));
        let mut out = String::new();
        for (name, text) in [("pgbouncer.log", &log), ("stderr.log", &stderr)] {
            if name == "stderr.log" && stderr.trim() == log.trim() {
                continue;
            }
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(30)..];
            out.push_str(&format!("--- {name} (last {} lines)\n", tail.len()));
            for line in tail {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        // Closing the pipe makes the watchdog kill PgBouncer and exit.
        drop(self.stdin.take());
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config(dir: &Path, upstream: SocketAddr, port: u16, options: &BouncerOptions) -> String {
    let mut ini = format!(
        "[databases]\n\
         * = host={host} port={upstream_port}\n\
         \n\
         [pgbouncer]\n\
         listen_addr = 127.0.0.1\n\
         listen_port = {port}\n\
         unix_socket_dir =\n\
         auth_type = trust\n\
         auth_file = {dir}/userlist.txt\n\
         admin_users = postgres\n\
         pool_mode = {pool_mode}\n\
         default_pool_size = {pool_size}\n\
         max_client_conn = {max_client_conn}\n\
         ignore_startup_parameters = extra_float_digits,options,search_path\n\
         server_reset_query =\n\
         logfile = {dir}/pgbouncer.log\n\
         pidfile = {dir}/pgbouncer.pid\n",
        host = upstream.ip(),
        upstream_port = upstream.port(),
        dir = dir.display(),
        pool_mode = options.pool_mode,
        pool_size = options.default_pool_size,
        max_client_conn = options.max_client_conn,
    );
    for (name, value) in &options.settings {
        ini.push_str(&format!("{name} = {value}\n"));
    }
    ini
}

/// `"user" "password"` lines; a double quote inside is doubled.
fn userlist(users: &[(String, String)]) -> String {
    users
        .iter()
        .map(|(user, password)| {
            format!(
                "\"{}\" \"{}\"\n",
                user.replace('"', "\"\""),
                password.replace('"', "\"\"")
            )
        })
        .collect()
}

/// The PostgreSQL backend serving `client`'s statement: clients of a
/// transaction pooler share it.
pub async fn backend_pid(client: &tokio_postgres::Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("SELECT pg_backend_pid()")
        .get(0)
}

async fn select_one(url: &str) -> Result<(), tokio_postgres::Error> {
    let client = super::connect(url).await?;
    client.simple_query("SELECT 1").await?;
    Ok(())
}

/// pgbouncer on PATH, or Debian's /usr/sbin/pgbouncer (not on a user's PATH).
fn find_pgbouncer() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("pgbouncer"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let debian = PathBuf::from("/usr/sbin/pgbouncer");
        debian.is_file().then_some(debian)
    })
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

fn unique_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "softdel-pgbouncer-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

fn write_file(path: &Path, text: &str) {
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn running_as_root() -> bool {
    id(&["-u"]) == "0"
}

fn server_user_ids() -> (u32, u32) {
    let parse = |flag: &str| {
        id(&[flag, SERVER_USER]).parse::<u32>().unwrap_or_else(|_| {
            panic!("running as root, but there is no {SERVER_USER} OS user to run pgbouncer as")
        })
    };
    (parse("-u"), parse("-g"))
}

fn id(args: &[&str]) -> String {
    Command::new("id")
        .args(args)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn chown_to_server_user(dir: &Path) {
    let status = Command::new("chown")
        .args(["-R", SERVER_USER])
        .arg(dir)
        .status()
        .expect("run chown");
    assert!(
        status.success(),
        "chown -R {SERVER_USER} {} failed",
        dir.display()
    );
}
