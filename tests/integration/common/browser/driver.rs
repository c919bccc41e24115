//! chromedriver: started on a free port in a directory of its own, a
//! WebDriver session opened on it, and everything it started killed and
//! removed when it is dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::process::{Child, Command};

const CHROMEDRIVER: &str = "chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL_HINT: &str = "run scripts/install-deps.sh chromium";
/// How long chromedriver may take to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long Chromium may take to start (slow on a busy two-core machine).
const SESSION_TIMEOUT: Duration = Duration::from_secs(60);

/// A running chromedriver, killed with its Chromium on drop.
pub struct Driver {
    child: Child,
    /// chromedriver's `TMPDIR`, holding its log and Chromium's profile;
    /// removed on drop.
    dir: PathBuf,
}

impl Driver {
    /// Starts chromedriver on `addr`, in a directory of its own where its
    /// output goes too.
    pub fn spawn(addr: SocketAddr) -> Driver {
        let dir = fresh_dir();
        let log = std::fs::File::create(dir.join("chromedriver.log"))
            .and_then(|log| Ok((log.try_clone()?, log)));
        let (stdout, stderr) = log.expect("create chromedriver.log");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={}", addr.port()))
            .env("TMPDIR", &dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn();
        match child {
            Ok(child) => Driver { child, dir },
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                panic!("cannot start {CHROMEDRIVER} ({e}): {INSTALL_HINT}")
            }
        }
    }

    /// Waits until chromedriver accepts connections on `addr`; the error
    /// says why not ("exited ..." when it stopped).
    pub async fn wait_ready(&mut self, addr: SocketAddr) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll chromedriver") {
                return Err(format!("exited before listening ({status})"));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("not listening after {READY_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// chromedriver's output so far (Chromium's too), for a panic message.
    pub fn log(&self) -> String {
        let path = self.dir.join("chromedriver.log");
        match std::fs::read_to_string(&path) {
            Ok(text) => format!("--- {} ---\n{text}", path.display()),
            Err(e) => format!("(no chromedriver log: {e})"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Chromium outlives a killed chromedriver, and its helpers write
        // to the profile while they die after it: kill them all at once.
        if let Some(pid) = self.child.id() {
            kill_tree(pid);
        }
        let _ = self.child.start_kill();
        for _ in 0..20 {
            match std::fs::remove_dir_all(&self.dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => break,
            }
        }
    }
}

/// Kills `root` and all its descendants with SIGKILL, through the shell's
/// `kill` (every Debian has one; procps's may be missing).
fn kill_tree(root: u32) {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // "pid (comm) state ppid ...", where comm may hold anything.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    let pids: Vec<String> = tree.iter().map(u32::to_string).collect();
    let _ = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("kill -KILL {} 2>/dev/null", pids.join(" ")))
        .status();
}

/// An empty directory of its own under the system's temporary directory.
fn fresh_dir() -> PathBuf {
    let n = softdel::console::random_token().expect("random numbers");
    let dir = std::env::temp_dir().join(format!("softdel-browser-{}", &n[..16]));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// A port on 127.0.0.1 nobody listened on a moment ago.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("pick a free port")
}

/// Opens a WebDriver session on chromedriver at `addr`, which starts
/// Chromium.
pub async fn connect_session(addr: SocketAddr, driver: &Driver) -> Client {
    let mut chrome = json!({
        "args": [
            "--headless=new",
            // Chromium's sandbox refuses to run as root, as in CI.
            "--no-sandbox",
            "--disable-gpu",
            // Containers have a small /dev/shm.
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
        ],
    });
    if Path::new(CHROMIUM).exists() {
        chrome["binary"] = json!(CHROMIUM);
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), chrome);
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(capabilities);
    let url = format!("http://{addr}");
    match tokio::time::timeout(SESSION_TIMEOUT, builder.connect(&url)).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => panic!(
            "chromedriver could not start Chromium ({e}); {INSTALL_HINT}\n{}",
            driver.log()
        ),
        Err(_) => panic!(
            "Chromium did not start within {SESSION_TIMEOUT:?}\n{}",
            driver.log()
        ),
    }
}
