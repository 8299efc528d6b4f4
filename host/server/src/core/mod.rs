//! The SIP core: the engine loop and the call-control and registration logic it drives.

pub mod b2bua;
pub mod dialog;
pub mod engine;
pub mod ids;
pub mod media;
pub mod registry;
