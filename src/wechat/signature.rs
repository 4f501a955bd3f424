//! WeChat's request signatures: SHA1 over the byte-wise sorted, concatenated values.
//!
//! `signature` covers (token, timestamp, nonce); `msg_signature` adds the `Encrypt` value.

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// Lower-case hex SHA1 of the sorted, concatenated `parts`.
pub fn sign(parts: &[&str]) -> String {
    let mut sorted: Vec<&str> = parts.to_vec();
    sorted.sort_unstable();
    let mut hasher = Sha1::new();
    for p in sorted {
        hasher.update(p.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Constant-time check of a hex signature received from WeChat (case-insensitive).
pub fn verify(received: &str, parts: &[&str]) -> bool {
    let expected = sign(parts);
    let received = received.to_ascii_lowercase();
    received.len() == expected.len() && bool::from(received.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference §E.1.
    #[test]
    fn official_doc_vector() {
        assert_eq!(
            sign(&["AAAAA", "1714037059", "486452656"]),
            "899cf89e464efb63f54ddac96b0a0a235f53aa78"
        );
    }

    #[test]
    fn wechatpy_vectors() {
        let parts = ["test", "1410685589", "test"];
        assert!(verify("f21891de399b4e33a1a93c9a7b8a8fffb5a443ff", &parts));
        assert!(!verify("f21891de399b4e33a1a93c9a7b8a8fffb5a443fe", &parts));
        assert!(!verify("", &parts));
    }

    #[test]
    fn silenceper_vector() {
        assert_eq!(
            sign(&["a", "b", "c"]),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(sign(&["c", "a", "b"]), sign(&["a", "b", "c"]));
    }

    // Reference §E.2, derived msg_signature over the first ciphertext.
    #[test]
    fn msg_signature_vector() {
        assert_eq!(
            sign(&[
                "pamtest",
                "1409304348",
                "xxxxxx",
                "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
            ]),
            "82c962d39941aa48552f90ef55aa323dc620cc10"
        );
    }

    // Reference §E.2 negative: the same push checked with token "12345" must fail.
    #[test]
    fn wrong_token_fails_msg_signature() {
        let ct = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==";
        let good = "82c962d39941aa48552f90ef55aa323dc620cc10";
        assert!(verify(good, &["pamtest", "1409304348", "xxxxxx", ct]));
        assert!(!verify(good, &["12345", "1409304348", "xxxxxx", ct]));
    }
}
