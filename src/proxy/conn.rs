//! A connection, plain or TLS, on either side of the proxy.
//!
//! The relay is written against this one type; plain TCP sessions are
//! split without locks (see `relay`), only TLS sessions pay for the
//! shared split a TLS stream needs.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::{client, server};

pub enum Conn {
    Plain(TcpStream),
    /// A client that asked for TLS, terminated here.
    FromClient(Box<server::TlsStream<TcpStream>>),
    /// TLS to the upstream server.
    ToServer(Box<client::TlsStream<TcpStream>>),
    /// Taken away during a TLS handshake that did not finish: reads end,
    /// writes fail.
    Detached,
}

impl Conn {
    pub fn is_tls(&self) -> bool {
        matches!(self, Conn::FromClient(_) | Conn::ToServer(_))
    }
}

fn detached() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "connection lost in a TLS handshake",
    )
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::FromClient(s) => Pin::new(s).poll_read(cx, buf),
            Conn::ToServer(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Detached => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::FromClient(s) => Pin::new(s).poll_write(cx, buf),
            Conn::ToServer(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Detached => Poll::Ready(Err(detached())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::FromClient(s) => Pin::new(s).poll_flush(cx),
            Conn::ToServer(s) => Pin::new(s).poll_flush(cx),
            Conn::Detached => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::FromClient(s) => Pin::new(s).poll_shutdown(cx),
            Conn::ToServer(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Detached => Poll::Ready(Ok(())),
        }
    }
}

/// Writes all of `bytes` and flushes. A TLS stream may keep the tail of a
/// write in its buffer when the socket is busy, to go out with the next
/// write: after the last message of a burst there is none, so every write
/// is flushed (for plain TCP, flushing costs nothing).
pub async fn send(out: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) -> io::Result<()> {
    use tokio::io::AsyncWriteExt;
    out.write_all(bytes).await?;
    out.flush().await
}
