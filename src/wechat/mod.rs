//! WeChat gateway (work in progress).

pub mod callback;
pub mod client;
pub mod crypto;
pub mod mock;
pub mod settings;
pub mod signature;
pub mod types;
pub mod xml;

#[cfg(test)]
mod tests;
