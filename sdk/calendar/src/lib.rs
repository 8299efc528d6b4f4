//! (in progress)
#![forbid(unsafe_code)]

mod date;
mod holidays;

pub use date::*;
pub use holidays::*;
