//! RTP/RTCP (RFC 3550): packet codec, outgoing stream, per-leg receiver.

mod packet;
mod receiver;
pub mod rtcp;
mod sender;

pub use packet::{looks_like_rtcp, RtpError, RtpExtension, RtpHeader, RtpPacket, FIXED_HEADER_LEN};
pub use receiver::{DropReason, LegStats, Received, ReceiverConfig, RtpReceiver};
pub use sender::RtpSender;
