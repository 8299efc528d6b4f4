//! SIP trunking for madoguchi (R-PBX-4, R-PBX-5), sans-IO: nothing here opens a socket or
//! reads a clock.
//!
//! | module | job |
//! |---|---|
//! | [`number`] | Japanese numbers: parse any spelling, classify, E.164 inside, national at the edges |
//! | [`config`] | `[[trunk]]`, `[[outbound]]`, `[[onnet]]`, `[callcenter]` |
//! | [`register`] | the trunk's REGISTER with digest, refresh, back-off |
//! | [`keepalive`] | OPTIONS keepalive and health |
//! | [`route`] | where a user's call to an outside number goes |
//! | [`set`] | all trunks and call-center routes, polled and fed by the SIP core |
#![forbid(unsafe_code)]

pub mod config;
pub mod keepalive;
pub mod number;
pub mod register;
pub mod route;
pub mod set;

pub use config::{CallCenterConfig, OnNetRoute, OutboundRule, Secret, TrunkConfig};
pub use number::{Dialled, NumberError, NumberKind, PhoneNumber, Presentation};
pub use route::{Outbound, Plan};
pub use set::TrunkSet;
