//! What a listener (the proxy's, the admin's) does when accept fails.

use std::io;
use std::time::Duration;

/// Pause after a failed accept (e.g. out of file descriptors) so that the
/// loop does not spin while the cause lasts.
pub const BACKOFF: Duration = Duration::from_millis(100);

/// Logs the failure of `listener`'s accept and waits `BACKOFF`.
pub async fn failed(listener: &'static str, error: &io::Error) {
    tracing::warn!(listener, error = %error, "accept failed");
    tokio::time::sleep(BACKOFF).await;
}
