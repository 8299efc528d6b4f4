//! (in progress)
#![forbid(unsafe_code)]

mod csv;
mod date;
mod holidays;
mod overrides;

pub use csv::*;
pub use date::*;
pub use holidays::*;
pub use overrides::*;
