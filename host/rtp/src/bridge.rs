//! [`bridge`]: relay two legs through the host.

use crate::task::Cmd;
use crate::{Leg, MediaError};
use tokio::sync::mpsc;

/// Two legs relaying each other's RTP. Dropping it (or [`Bridge::unbridge`])
/// un-bridges: each leg goes back to its own stream (prompts / idle fill),
/// continuing its SSRC, sequence numbers and 20 ms grid.
#[derive(Debug)]
pub struct Bridge {
    id: u64,
    a: mpsc::UnboundedSender<Cmd>,
    b: mpsc::UnboundedSender<Cmd>,
}

/// Bridge `a` and `b`: what each peer sends goes out to the other peer
/// (symmetric RTP: to where that peer's packets come from), re-stamped into
/// the outgoing leg's own SSRC/sequence/timestamp, transcoded PCMU <-> PCMA
/// when the legs negotiated different codecs, RFC 4733 events passed across
/// under the outgoing leg's payload type. Playback on both legs is stopped
/// (`PlayStopped`); digits are still detected and reported on each leg.
/// Both legs must have negotiated media.
pub fn bridge(a: &Leg, b: &Leg) -> Result<Bridge, MediaError> {
    if a.cmds.same_channel(&b.cmds) {
        return Err(MediaError::SameLeg);
    }
    for leg in [a, b] {
        if leg.negotiated().is_none() {
            return Err(MediaError::NotNegotiated(leg.call_id().to_owned()));
        }
    }
    let id = crate::runtime::next_bridge_id();
    let start = |leg: &Leg, peer: &Leg| {
        leg.cmds
            .send(Cmd::BridgeStart {
                id,
                peer: peer.fwd.clone(),
            })
            .map_err(|_| MediaError::LegClosed(leg.call_id().to_owned()))
    };
    start(a, b)?;
    let bridge = Bridge {
        id,
        a: a.cmds.clone(),
        b: b.cmds.clone(),
    };
    start(b, a)?; // on error `bridge` drops and un-bridges `a`
    Ok(bridge)
}

impl Bridge {
    /// Un-bridge now (same as dropping).
    pub fn unbridge(self) {}
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.a.send(Cmd::BridgeStop { id: self.id });
        let _ = self.b.send(Cmd::BridgeStop { id: self.id });
    }
}
