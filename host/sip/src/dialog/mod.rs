//! RFC 3261 dialogs (§12, §13): pure data + rules, no timers of their own.
//!
//! - [`Dialog`]: one dialog seen from our side — [`DialogId`] (Call-ID, local tag, remote
//!   tag), route set, remote target, local/remote CSeq. Created by [`Dialog::uac`] from a
//!   101–299 response with To-tag, or [`Dialog::uas`] for an INVITE we answer. Builds
//!   in-dialog requests ([`Dialog::request`]: BYE, re-INVITE, INFO, UPDATE…) and the ACK for
//!   a 2xx ([`Dialog::ack`], same CSeq number as the INVITE); checks incoming requests
//!   ([`Dialog::on_request`]: CSeq order → 500, target refresh on re-INVITE/UPDATE).
//! - [`DialogSet`]: all dialogs one INVITE of ours created when a proxy forked it — one
//!   early dialog per To-tag, the first 2xx confirms its dialog, later 2xx from other
//!   branches come back as [`ForkEvent::ExtraConfirmed`] (ACK, then BYE).
//! - [`AckWait`]: the UAS 2xx retransmission schedule of §13.3.1.4 (T1, 2T1, … capped at
//!   T2, give up at 64*T1). [`crate::transaction::TransactionLayer`] runs it for every 2xx
//!   it sends on an INVITE, so retransmission and the give-up
//!   ([`TxEvent::AckTimeout`](crate::transaction::TxEvent::AckTimeout)) need no extra
//!   driver code. The UAC side (repeating the ACK when the 2xx is retransmitted) is in
//!   [`TransactionLayer::send_2xx_ack`](crate::transaction::TransactionLayer::send_2xx_ack).
//!
//! ```
//! use madoguchi_sip::dialog::{DialogSet, ForkEvent};
//! use madoguchi_sip::message::{Host, Method, Request, Response, SipMessage, Transport};
//! use madoguchi_sip::parse::{parse_datagram, Limits};
//! use madoguchi_sip::transport_rules::new_via;
//!
//! let text = "INVITE sip:bob@192.0.2.2 SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnashds8\r\nMax-Forwards: 70\r\n\
//!     From: <sip:pbx@192.0.2.1>;tag=9fxced76sl\r\nTo: <sip:bob@192.0.2.2>\r\n\
//!     Call-ID: 3848276298220188511\r\nCSeq: 1 INVITE\r\n\
//!     Contact: <sip:pbx@192.0.2.1>\r\nContent-Length: 0\r\n\r\n";
//! let Ok(SipMessage::Request(invite)) = parse_datagram(text.as_bytes(), &Limits::default())
//! else { unreachable!() };
//! let mut set = DialogSet::new(invite.clone());
//!
//! let mut ok = Response::for_request(&invite, 200, "OK");
//! ok.headers.set("To", "<sip:bob@192.0.2.2>;tag=314159");
//! ok.headers.push("Contact", "<sip:bob@192.0.2.2:5062>");
//! assert_eq!(set.on_response(&ok).unwrap(), ForkEvent::Confirmed { remote_tag: "314159".into() });
//!
//! let mut rng = rand::thread_rng();
//! let mut dialog = set.into_confirmed().unwrap();
//! let me = Host::V4("192.0.2.1".parse().unwrap());
//! let ack = dialog.ack(1, &new_via(Transport::Udp, me.clone(), 5060, &mut rng));
//! let bye = dialog.request(Method::Bye, &new_via(Transport::Udp, me, 5060, &mut rng));
//! assert_eq!(ack.uri.to_string(), "sip:bob@192.0.2.2:5062");
//! assert!(bye.to_bytes().starts_with(b"BYE sip:bob@192.0.2.2:5062 SIP/2.0\r\n"));
//! # let _: Request = bye;
//! ```

mod ack_wait;
mod error;
mod id;
mod set;
mod state;

pub use ack_wait::{AckWait, AckWaitAction};
pub use error::DialogError;
pub use id::DialogId;
pub use set::{DialogSet, ForkEvent};
pub use state::{Dialog, DialogState, Role};
