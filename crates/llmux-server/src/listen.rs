//! The Unix socket listener: only clients running as the daemon's own uid get through.
//!
//! The socket lives in a 0700 directory and is itself 0600, so other users cannot connect;
//! the kernel's peer credentials are checked on every connection as well, and that uid is
//! the only thing that makes a local request trusted.

use std::io;
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};

/// Who is on the other end of a Unix socket connection, per the kernel.
#[derive(Debug, Clone, Copy)]
pub struct UnixPeer {
    /// Peer uid.
    pub uid: u32,
    /// Peer pid, when the kernel reports it.
    pub pid: Option<i32>,
}

/// The uid the kernel reported for a connection's peer, as a request extension (only Unix
/// listeners set it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerUid(pub u32);

/// What a listener's address says about who connected.
pub trait PeerCredentials {
    /// The peer's uid, when the kernel vouches for it (Unix sockets).
    fn peer_uid(&self) -> Option<u32>;
}

impl PeerCredentials for UnixPeer {
    fn peer_uid(&self) -> Option<u32> {
        Some(self.uid)
    }
}

impl PeerCredentials for std::net::SocketAddr {
    fn peer_uid(&self) -> Option<u32> {
        None
    }
}

/// A Unix listener that admits every local user and reports each one's uid: a system
/// daemon's users' socket, where the uid decides which llmux user the caller is
/// (`security::unix_user`).
#[derive(Debug)]
pub struct AnyPeerListener {
    inner: UnixListener,
}

impl AnyPeerListener {
    /// Wraps `inner`.
    pub fn new(inner: UnixListener) -> Self {
        AnyPeerListener { inner }
    }
}

impl axum::serve::Listener for AnyPeerListener {
    type Io = UnixStream;
    type Addr = UnixPeer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        accept_peer(&self.inner, |_| true).await
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(UnixPeer { uid: 0, pid: None })
    }
}

/// The next connection whose peer `admit` lets in, with its peer credentials; refusals are
/// logged and dropped.
async fn accept_peer(inner: &UnixListener, admit: impl Fn(u32) -> bool) -> (UnixStream, UnixPeer) {
    loop {
        match inner.accept().await {
            Ok((stream, _)) => match stream.peer_cred() {
                Ok(cred) if admit(cred.uid()) => {
                    return (stream, UnixPeer { uid: cred.uid(), pid: cred.pid() });
                }
                Ok(cred) => tracing::warn!(
                    peer.uid = cred.uid(),
                    peer.pid = cred.pid(),
                    "refused a Unix socket client running as another user"
                ),
                Err(e) => tracing::warn!(error = %e, "cannot read Unix peer credentials"),
            },
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::error!(error = %e, "accept failed on a Unix socket");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A Unix listener that drops connections from any uid but `uid`.
#[derive(Debug)]
pub struct PeerUidListener {
    inner: UnixListener,
    uid: u32,
}

impl PeerUidListener {
    /// Wraps `inner`, admitting only peers whose uid is `uid`.
    pub fn new(inner: UnixListener, uid: u32) -> Self {
        PeerUidListener { inner, uid }
    }
}

impl axum::serve::Listener for PeerUidListener {
    type Io = UnixStream;
    type Addr = UnixPeer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let uid = self.uid;
        accept_peer(&self.inner, |peer| peer == uid).await
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(UnixPeer { uid: self.uid, pid: None })
    }
}

/// Bytes a WebSocket on a Unix connection may queue towards its client before writes wait (the
/// kernel doubles it). The default (~200 KiB) hides a slow terminal viewer from tmux: the
/// bridge keeps writing screens nobody has read yet instead of letting tmux skip them (issue
/// 14's fan-out). Plain responses keep the default: a 620 KB list through 64 KiB took nine
/// writes and as many wake-ups of the client, a third more daemon CPU per request.
const UNIX_SEND_BUFFER: usize = 64 * 1024;

/// Limits the send buffer of a Unix connection that became a WebSocket (`conn.rs`, once its
/// upgrade is asked for). TCP connections keep the kernel's autotuning (a phone over LTE needs
/// the window).
pub(crate) fn limit_send_buffer(stream: &impl std::os::fd::AsFd) {
    if let Err(e) = socket2::SockRef::from(stream).set_send_buffer_size(UNIX_SEND_BUFFER) {
        tracing::debug!(error = %e, "cannot set the send buffer of a Unix connection");
    }
}
