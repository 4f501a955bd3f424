//! The AES frame decryptor on arbitrary ciphertexts (as base64 text and as raw
//! blocks under a fixed key): never panic, and anything that decrypts must
//! re-encrypt to a frame that decrypts to the same message.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use vanguard::wechat::crypto::{AesKey, KeyRing};

const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const PREV: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

fuzz_target!(|data: &[u8]| {
    let (Ok(current), Ok(previous)) = (
        AesKey::from_encoding_aes_key(KEY),
        AesKey::from_encoding_aes_key(PREV),
    ) else {
        return;
    };
    let ring = KeyRing { current, previous: Some(previous) };
    // Raw bytes as the base64 text itself (bad base64, odd lengths …).
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ring.decrypt(text, "wxb11529c136998cb6");
        let _ = AesKey::from_encoding_aes_key(text);
    }
    // Raw bytes as the ciphertext: exercises padding and frame bounds.
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    if let Ok(frame) = ring.current.decrypt_frame(&b64) {
        let again = ring.current.encrypt(&frame.msg, &frame.appid);
        let back = ring.current.decrypt_frame(&again);
        assert_eq!(back.ok(), Some(frame));
    }
});
