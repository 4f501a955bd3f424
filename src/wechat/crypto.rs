//! The EncodingAESKey scheme (safe and compatible modes).
//!
//! key = base64(EncodingAESKey + "="), IV = key[..16], AES-256-CBC without the
//! cipher's own padding; the plaintext frame is
//! `random(16) || u32_be(len(msg)) || msg || appid`, PKCS#7-padded to 32-byte
//! blocks (a full block of 32 when already aligned). Every bound is checked on
//! the way in: bad input is a typed [`CryptoError`], never a panic.

use aes::Aes256;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use std::fmt;

const BLOCK: usize = 32;
const RANDOM_LEN: usize = 16;
const HEADER_LEN: usize = RANDOM_LEN + 4;
/// Ciphertexts above this are refused before decoding (pushes are a few KiB).
pub const MAX_CIPHERTEXT_B64: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("EncodingAESKey must be 43 base64 characters")]
    BadKey,
    #[error("ciphertext is not valid base64")]
    BadBase64,
    #[error("ciphertext is empty, too large or not a multiple of 32 bytes")]
    Truncated,
    #[error("padding is out of range or inconsistent")]
    BadPadding,
    #[error("frame length field exceeds the plaintext")]
    BadFrame,
    #[error("appid in the frame is not ours")]
    AppIdMismatch,
}

impl CryptoError {
    /// Stable reason code for logs and responses.
    pub fn code(self) -> &'static str {
        match self {
            Self::BadKey => "bad_aes_key",
            Self::BadBase64 => "bad_base64",
            Self::Truncated => "truncated_ciphertext",
            Self::BadPadding => "bad_padding",
            Self::BadFrame => "bad_frame",
            Self::AppIdMismatch => "appid_mismatch",
        }
    }
}

/// A decoded EncodingAESKey. `Debug` never shows the key.
#[derive(Clone)]
pub struct AesKey([u8; 32]);

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesKey(<redacted>)")
    }
}

impl AesKey {
    /// Parse the 43-character EncodingAESKey from the MP admin.
    pub fn from_encoding_aes_key(s: &str) -> Result<Self, CryptoError> {
        if s.len() != 43 {
            return Err(CryptoError::BadKey);
        }
        let mut padded = String::with_capacity(44);
        padded.push_str(s);
        padded.push('=');
        // The 43rd character carries 2 unused bits; WeChat's keys leave them zero,
        // but lenient decoders (Java, Go) accept them set, so we do too.
        let bytes = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
        )
        .decode(padded)
        .map_err(|_| CryptoError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(Self(key))
    }

    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self(key)
    }

    /// The 43-character form (for the sandbox and tests).
    pub fn to_encoding_aes_key(&self) -> String {
        let mut s = STANDARD.encode(self.0);
        s.pop();
        s
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.0[..16]);
        iv
    }

    /// Encrypt `msg` for `appid` with the given 16 random bytes; returns base64.
    pub fn encrypt_with_random(&self, random: &[u8; 16], msg: &[u8], appid: &str) -> String {
        let body_len = HEADER_LEN + msg.len() + appid.len();
        let pad = BLOCK - body_len % BLOCK; // 1..=32: aligned input gets a full block
        let mut buf = Vec::with_capacity(body_len + pad);
        buf.extend_from_slice(random);
        // A push or reply is far below 4 GiB; saturate rather than wrap if not.
        buf.extend_from_slice(&u32::try_from(msg.len()).unwrap_or(u32::MAX).to_be_bytes());
        buf.extend_from_slice(msg);
        buf.extend_from_slice(appid.as_bytes());
        // pad <= 32, so the cast is exact.
        buf.resize(body_len + pad, pad as u8);
        let len = buf.len();
        let enc = cbc::Encryptor::<Aes256>::new(&self.0.into(), &self.iv().into());
        match enc.encrypt_padded::<NoPadding>(&mut buf, len) {
            Ok(ct) => STANDARD.encode(ct),
            // Unreachable: the buffer is a whole number of blocks by construction.
            Err(_) => String::new(),
        }
    }

    /// Encrypt with fresh random bytes.
    pub fn encrypt(&self, msg: &[u8], appid: &str) -> String {
        let random: [u8; 16] = rand::random();
        self.encrypt_with_random(&random, msg, appid)
    }

    /// Decrypt a base64 ciphertext into (message, appid) without checking the appid.
    pub fn decrypt_frame(&self, b64: &str) -> Result<Decrypted, CryptoError> {
        if b64.is_empty() || b64.len() > MAX_CIPHERTEXT_B64 {
            return Err(CryptoError::Truncated);
        }
        let mut buf = STANDARD
            .decode(b64.trim())
            .map_err(|_| CryptoError::BadBase64)?;
        if buf.is_empty() || buf.len() % BLOCK != 0 {
            return Err(CryptoError::Truncated);
        }
        let dec = cbc::Decryptor::<Aes256>::new(&self.0.into(), &self.iv().into());
        let plain = dec
            .decrypt_padded::<NoPadding>(&mut buf)
            .map_err(|_| CryptoError::Truncated)?;
        let pad = usize::from(*plain.last().ok_or(CryptoError::Truncated)?);
        if pad == 0 || pad > BLOCK || pad > plain.len() {
            return Err(CryptoError::BadPadding);
        }
        let (body, padding) = plain.split_at(plain.len() - pad);
        if padding.iter().any(|&b| usize::from(b) != pad) {
            return Err(CryptoError::BadPadding);
        }
        let len_bytes: [u8; 4] = body
            .get(RANDOM_LEN..HEADER_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(CryptoError::BadFrame)?;
        let msg_len =
            usize::try_from(u32::from_be_bytes(len_bytes)).map_err(|_| CryptoError::BadFrame)?;
        let msg_end = HEADER_LEN
            .checked_add(msg_len)
            .filter(|&end| end <= body.len())
            .ok_or(CryptoError::BadFrame)?;
        let appid =
            std::str::from_utf8(&body[msg_end..]).map_err(|_| CryptoError::AppIdMismatch)?;
        Ok(Decrypted {
            msg: body[HEADER_LEN..msg_end].to_vec(),
            appid: appid.to_owned(),
        })
    }

    /// Decrypt and require the frame's appid to be `expected_appid`.
    pub fn decrypt(&self, b64: &str, expected_appid: &str) -> Result<Vec<u8>, CryptoError> {
        let d = self.decrypt_frame(b64)?;
        if d.appid != expected_appid {
            return Err(CryptoError::AppIdMismatch);
        }
        Ok(d.msg)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    pub msg: Vec<u8>,
    pub appid: String,
}

/// The current key and, during rotation, the previous one.
#[derive(Debug, Clone)]
pub struct KeyRing {
    pub current: AesKey,
    pub previous: Option<AesKey>,
}

/// Which key of a [`KeyRing`] opened a message: the reply is sealed with the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySlot {
    Current,
    Previous,
}

impl KeyRing {
    pub fn key(&self, slot: KeySlot) -> &AesKey {
        match (slot, &self.previous) {
            (KeySlot::Previous, Some(k)) => k,
            _ => &self.current,
        }
    }

    /// Try the current key, then the previous; the current key's error wins when both fail.
    pub fn decrypt(&self, b64: &str, appid: &str) -> Result<(Vec<u8>, KeySlot), CryptoError> {
        match self.current.decrypt(b64, appid) {
            Ok(msg) => Ok((msg, KeySlot::Current)),
            // Input-level errors do not depend on the key: no point in a second try.
            Err(e @ (CryptoError::BadBase64 | CryptoError::Truncated)) => Err(e),
            Err(e) => match &self.previous {
                Some(prev) => prev
                    .decrypt(b64, appid)
                    .map(|m| (m, KeySlot::Previous))
                    .map_err(|_| e),
                None => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    const WXJAVA_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    const WXJAVA_APPID: &str = "wxb11529c136998cb6";
    const WXJAVA_CT1: &str =
        "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==";
    const WXJAVA_MSG2: &str = "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>";
    const WXJAVA_CT2: &str = "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb";

    const WECHATPY_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
    const WECHATPY_ID: &str = "wx49f0ab532d5d035a";

    fn key(s: &str) -> AesKey {
        AesKey::from_encoding_aes_key(s).unwrap()
    }

    #[test]
    fn wxjava_encrypt_vectors() {
        let k = key(WXJAVA_KEY);
        let r = *b"aaaabbbbccccdddd";
        assert_eq!(
            k.encrypt_with_random(&r, "我是中文abcd123".as_bytes(), WXJAVA_APPID),
            WXJAVA_CT1
        );
        assert_eq!(
            k.encrypt_with_random(&r, WXJAVA_MSG2.as_bytes(), WXJAVA_APPID),
            WXJAVA_CT2
        );
        assert_eq!(
            k.decrypt(WXJAVA_CT1, WXJAVA_APPID).unwrap(),
            "我是中文abcd123".as_bytes()
        );
        assert_eq!(
            k.decrypt(WXJAVA_CT2, WXJAVA_APPID).unwrap(),
            WXJAVA_MSG2.as_bytes()
        );
    }

    #[test]
    fn wechatpy_decrypt_vector() {
        let ct = "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=";
        assert!(crate::wechat::signature::verify(
            "74d92dfeb87ba7c714f89d98870ae5eb62dff26d",
            &["123456", "1411525903", "461056294", ct]
        ));
        let msg = key(WECHATPY_KEY).decrypt(ct, WECHATPY_ID).unwrap();
        assert_eq!(
            String::from_utf8(msg).unwrap(),
            "<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>\n<FromUserName><![CDATA[messense]]></FromUserName>\n<CreateTime>1411525903</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n<MsgId>4363689963896700987</MsgId>\n<AgentID>1</AgentID>\n</xml>"
        );
    }

    #[test]
    fn wechatpy_echostr_vector() {
        let echostr = "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==";
        let parts = ["123456", "1411443780", "437374425", echostr];
        assert!(crate::wechat::signature::verify(
            "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96",
            &parts
        ));
        assert!(!crate::wechat::signature::verify(
            "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96",
            &["123456", "1411443780", "437374424", echostr]
        ));
        assert_eq!(
            key(WECHATPY_KEY).decrypt(echostr, WECHATPY_ID).unwrap(),
            b"5927782489442352469"
        );
    }

    #[test]
    fn wechatpy_encrypt_vector() {
        let plain = "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>";
        let ct = key(WECHATPY_KEY).encrypt_with_random(
            b"1234567890123456",
            plain.as_bytes(),
            WECHATPY_ID,
        );
        assert_eq!(
            ct,
            "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
        );
        assert_eq!(
            crate::wechat::signature::sign(&["123456", "1411525903", "461056294", &ct]),
            "407518b7649e86ef23978113f92d27afa9296533"
        );
    }

    #[test]
    fn key_length_is_checked() {
        assert_eq!(
            AesKey::from_encoding_aes_key(&WXJAVA_KEY[..42]).unwrap_err(),
            CryptoError::BadKey
        );
        assert_eq!(
            AesKey::from_encoding_aes_key(&format!("{WXJAVA_KEY}A")).unwrap_err(),
            CryptoError::BadKey
        );
        assert_eq!(
            AesKey::from_encoding_aes_key(&"!".repeat(43)).unwrap_err(),
            CryptoError::BadKey
        );
        let k = key(WXJAVA_KEY);
        // WxJava's sample key sets the unused low bits of its last character; the
        // canonical re-encoding differs in that character but is the same key.
        let again = key(&k.to_encoding_aes_key());
        assert_eq!(again.0, k.0);
        assert_eq!(format!("{k:?}"), "AesKey(<redacted>)");
    }

    #[test]
    fn aligned_plaintext_gets_a_full_pad_block() {
        let k = key(WXJAVA_KEY);
        // 20 header + 6 msg + 6 appid = 32: already aligned.
        let ct = k.encrypt_with_random(&[7; 16], b"123456", "wxabcd");
        let raw = STANDARD.decode(&ct).unwrap();
        assert_eq!(raw.len(), 64);
        let mut buf = raw.clone();
        let plain = cbc::Decryptor::<Aes256>::new(&k.0.into(), &k.iv().into())
            .decrypt_padded::<NoPadding>(&mut buf)
            .unwrap()
            .to_vec();
        assert!(plain[32..].iter().all(|&b| b == 32));
        assert_eq!(k.decrypt(&ct, "wxabcd").unwrap(), b"123456");
    }

    /// Encrypt raw (already framed and padded or not) bytes, to forge bad frames.
    fn seal_raw(k: &AesKey, raw: &[u8]) -> String {
        let mut buf = raw.to_vec();
        let len = buf.len();
        let ct = cbc::Encryptor::<Aes256>::new(&k.0.into(), &k.iv().into())
            .encrypt_padded::<NoPadding>(&mut buf, len)
            .unwrap()
            .to_vec();
        STANDARD.encode(ct)
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let k = key(WXJAVA_KEY);
        assert_eq!(k.decrypt("", "x").unwrap_err(), CryptoError::Truncated);
        assert_eq!(k.decrypt("@@@@", "x").unwrap_err(), CryptoError::BadBase64);
        assert_eq!(k.decrypt("abc", "x").unwrap_err(), CryptoError::BadBase64);
        // 16 bytes: a valid AES block but not a 32-byte frame.
        assert_eq!(
            k.decrypt(&STANDARD.encode([0u8; 16]), "x").unwrap_err(),
            CryptoError::Truncated
        );
        // Truncated real ciphertext (drop the last 32 bytes).
        let raw = STANDARD.decode(WXJAVA_CT2).unwrap();
        let cut = STANDARD.encode(&raw[..raw.len() - 32]);
        assert!(k.decrypt(&cut, WXJAVA_APPID).is_err());
        let cut = STANDARD.encode(&raw[..raw.len() - 5]);
        assert_eq!(
            k.decrypt(&cut, WXJAVA_APPID).unwrap_err(),
            CryptoError::Truncated
        );
        // Pad byte 0 and > 32.
        let mut frame = vec![0u8; 64];
        frame[19] = 1;
        assert_eq!(
            k.decrypt(&seal_raw(&k, &frame), "x").unwrap_err(),
            CryptoError::BadPadding
        );
        frame[63] = 33;
        assert_eq!(
            k.decrypt(&seal_raw(&k, &frame), "x").unwrap_err(),
            CryptoError::BadPadding
        );
        // Inconsistent pad bytes.
        frame[63] = 3;
        frame[62] = 3;
        frame[61] = 9;
        assert_eq!(
            k.decrypt(&seal_raw(&k, &frame), "x").unwrap_err(),
            CryptoError::BadPadding
        );
        // Length field larger than the buffer.
        let mut frame = vec![32u8; 64];
        frame[16..20].copy_from_slice(&1000u32.to_be_bytes());
        assert_eq!(
            k.decrypt(&seal_raw(&k, &frame), "x").unwrap_err(),
            CryptoError::BadFrame
        );
        frame[16..20].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            k.decrypt(&seal_raw(&k, &frame), "x").unwrap_err(),
            CryptoError::BadFrame
        );
        // Whole-block padding leaves no header.
        let frame = vec![32u8; 32];
        assert_eq!(
            k.decrypt(&seal_raw(&k, &frame), "x").unwrap_err(),
            CryptoError::BadFrame
        );
        // Wrong appid.
        assert_eq!(
            k.decrypt(WXJAVA_CT1, "wx0000000000000000").unwrap_err(),
            CryptoError::AppIdMismatch
        );
        // Wrong key: garbage that fails one of the checks, never a panic.
        assert!(key(WECHATPY_KEY).decrypt(WXJAVA_CT1, WXJAVA_APPID).is_err());
    }

    #[test]
    fn key_ring_uses_previous_key_and_reports_it() {
        let current = key(WECHATPY_KEY);
        let previous = key(WXJAVA_KEY);
        let ring = KeyRing {
            current: current.clone(),
            previous: Some(previous.clone()),
        };
        let (msg, slot) = ring.decrypt(WXJAVA_CT1, WXJAVA_APPID).unwrap();
        assert_eq!(msg, "我是中文abcd123".as_bytes());
        assert_eq!(slot, KeySlot::Previous);
        let ct = current.encrypt(b"hi", WXJAVA_APPID);
        assert_eq!(ring.decrypt(&ct, WXJAVA_APPID).unwrap().1, KeySlot::Current);
        let only_current = KeyRing {
            current,
            previous: None,
        };
        assert!(only_current.decrypt(WXJAVA_CT1, WXJAVA_APPID).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(keybytes in any::<[u8; 32]>(), random in any::<[u8; 16]>(),
                      msg in proptest::collection::vec(any::<u8>(), 0..700),
                      appid in "[a-z0-9]{1,20}") {
            let k = AesKey::from_bytes(keybytes);
            let k2 = AesKey::from_encoding_aes_key(&k.to_encoding_aes_key()).unwrap();
            let ct = k2.encrypt_with_random(&random, &msg, &appid);
            prop_assert_eq!(STANDARD.decode(&ct).unwrap().len() % 32, 0);
            prop_assert_eq!(k.decrypt(&ct, &appid).unwrap(), msg);
        }

        #[test]
        fn decrypt_never_panics(keybytes in any::<[u8; 32]>(), s in ".{0,200}") {
            let _ = AesKey::from_bytes(keybytes).decrypt(&s, "wx");
        }

        #[test]
        fn decrypt_random_blocks_never_panics(keybytes in any::<[u8; 32]>(),
                                              raw in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = AesKey::from_bytes(keybytes).decrypt(&STANDARD.encode(raw), "wx");
        }
    }
}
