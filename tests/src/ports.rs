//! Loopback ports for the servers and peers a test starts.
//!
//! Ports are handed out from fixed ranges that lie outside the kernel's ephemeral range
//! (32768–60999 on Debian) and outside the server's RTP range (20000–29999): a port
//! checked free and then bound a moment later by sipp or the server cannot be taken in
//! between by some other process's `bind(0)` or outgoing socket. (CI once lost a sipp
//! run to exactly that: its media port, found free through `bind(0)`, was in use by the
//! time sipp bound it.) The media-library tests (`host/rtp/tests`) use 19000–19319 for the
//! same reason. A counter per test process, started at an offset from the pid,
//! keeps parallel tests in one process, and two processes, apart; each port is still
//! checked free before it is handed out.

use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};

/// Single ports (SIP listeners, HTTP, control sockets): UDP and TCP both free. Every
/// other port only: baresip also listens for SIP over TLS on its SIP port + 1.
const SINGLE: (u16, u16) = (30_000, 32_700);
const SINGLE_STEP: u16 = 2;
/// sipp media bases (`-mp`): sipp binds the base and the next three ports.
const MEDIA: (u16, u16) = (10_000, 18_996);
const MEDIA_BLOCK: u16 = 4;

static NEXT_SINGLE: AtomicU32 = AtomicU32::new(u32::MAX);
static NEXT_MEDIA: AtomicU32 = AtomicU32::new(u32::MAX);

/// The next slot of a range, `step` ports wide; starts at a pid-derived offset.
fn next_in(counter: &AtomicU32, (low, high): (u16, u16), step: u16) -> u16 {
    let slots = u32::from((high - low) / step);
    let start = std::process::id().wrapping_mul(7919) % slots;
    // First call swaps the sentinel for the pid offset; later calls count on from it.
    let _ = counter.compare_exchange(u32::MAX, start, Ordering::SeqCst, Ordering::SeqCst);
    let slot = counter.fetch_add(1, Ordering::SeqCst) % slots;
    low + (slot as u16) * step
}

fn udp_free(port: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", port)).is_ok()
}

/// A free UDP+TCP port on 127.0.0.1 (both protocols free, so one number serves both).
pub fn free_port() -> u16 {
    for _ in 0..2_000 {
        let port = next_in(&NEXT_SINGLE, SINGLE, SINGLE_STEP);
        if udp_free(port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on loopback in {}..{}", SINGLE.0, SINGLE.1);
}

/// A free base port for sipp's media (`-mp`): sipp binds it and the next three (RTCP,
/// video RTP and RTCP), so all four must be free.
pub fn free_media_port() -> u16 {
    for _ in 0..2_500 {
        let base = next_in(&NEXT_MEDIA, MEDIA, MEDIA_BLOCK);
        if (0..MEDIA_BLOCK).all(|i| udp_free(base + i)) {
            return base;
        }
    }
    panic!(
        "no four free ports in a row on loopback in {}..{}",
        MEDIA.0, MEDIA.1
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_outside_the_ephemeral_and_server_rtp_ranges() {
        let singles: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let media: Vec<u16> = (0..50).map(|_| free_media_port()).collect();
        let mut all: Vec<u16> = singles.iter().flat_map(|p| [*p, p + 1]).collect();
        for base in &media {
            assert_eq!(base % 2, 0, "media base {base} is even (RTP, then RTCP)");
            all.extend((0..MEDIA_BLOCK).map(|i| base + i));
        }
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            all.len(),
            count,
            "no port handed out twice, nor next to a single port"
        );
        for p in all {
            assert!(
                p < 20_000 || (30_000..32_768).contains(&p),
                "port {p} in a reserved range"
            );
        }
    }
}
