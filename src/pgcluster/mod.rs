//! Throwaway PostgreSQL clusters: `softdel demo` and the integration tests
//! start one on a free port, from the machine's own server binaries, and
//! remove it afterwards, even when the process dies.

mod binaries;
mod cluster;
mod os_user;

pub use binaries::find_bindir;
pub use cluster::{ClusterError, ClusterOptions, TempCluster};
