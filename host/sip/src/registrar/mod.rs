//! (in progress)
pub(crate) mod reply;
