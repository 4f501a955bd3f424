//! TLS for the WeChat API client: rustls with the ring provider.
//!
//! reqwest is built with `rustls-no-provider` (aws-lc is slow to build), and then
//! *every* reqwest client in the process panics if it is built before a crypto
//! provider is installed: start-up (and anything building a client) calls
//! [`install_tls_provider`] first.

/// Install rustls' ring provider as the process default; later calls are no-ops.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
