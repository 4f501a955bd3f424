//! The push XML reader and the typed parse on arbitrary bytes: never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vanguard::wechat::xml::{Envelope, InboundMessage, parse_fields};

fuzz_target!(|data: &[u8]| {
    let _ = parse_fields(data);
    let _ = Envelope::parse(data);
    if let Ok(m) = InboundMessage::parse(data) {
        let _ = m.dedup_key();
    }
});
