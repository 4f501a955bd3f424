//! WeChat gateway (work in progress).

pub mod crypto;
pub mod signature;
pub mod types;
pub mod xml;
