//! TLS for the WeChat API client: rustls with the ring provider.
//!
//! reqwest is built with `rustls-no-provider` (aws-lc is slow to build), and then
//! *every* reqwest client in the process — ours, other modules', test helpers' —
//! panics if it is built before a crypto provider is installed. So the provider
//! is installed before `main` (an ELF constructor, as the `ctor` crate does), and
//! [`install_tls_provider`] stays available for an explicit call at start-up.

/// Install rustls' ring provider as the process default; later calls are no-ops.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

extern "C" fn install_at_load() {
    install_tls_provider();
}

// rustc keeps `#[used]` statics of upstream crates in the link, so this runs in
// every binary that links the library (the server, tests, benches).
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static INSTALL_AT_LOAD: extern "C" fn() = install_at_load;

#[cfg(test)]
mod tests {
    #[test]
    fn provider_is_installed_before_main() {
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
