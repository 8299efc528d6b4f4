//! Where a message came from or goes to, as the transport driver sees it.

use std::fmt;
use std::net::SocketAddr;

use crate::message::Transport;

/// A remote transport address. For connection-oriented transports the driver uses
/// `(transport, addr)` to find the connection, so a response "on the same
/// connection" (RFC 3261 §18.2.2) is simply a [`Peer`] equal to the request's source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    pub transport: Transport,
    pub addr: SocketAddr,
}

impl Peer {
    pub fn new(transport: Transport, addr: SocketAddr) -> Peer {
        Peer { transport, addr }
    }

    pub fn udp(addr: SocketAddr) -> Peer {
        Peer::new(Transport::Udp, addr)
    }

    pub fn tcp(addr: SocketAddr) -> Peer {
        Peer::new(Transport::Tcp, addr)
    }

    /// Reliable transports (everything but UDP) get no retransmissions (RFC 3261 §17.1.1.2)
    /// and zero-length wait timers D, I, J, K.
    pub fn is_reliable(&self) -> bool {
        self.transport.is_reliable()
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport.as_str(), self.addr)
    }
}
