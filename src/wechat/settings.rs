//! `[wechat]` settings (environment `VANGUARD__WECHAT__…`) and their validation.
//!
//! Sandbox mode is on only when `sandbox = true`: the service then plays WeChat for
//! itself (phone simulator, local API mock) and never calls the real API. It never
//! turns on by itself: with neither `app_id` nor `sandbox` set, start-up refuses, and a
//! sandbox on a non-loopback listen address needs `sandbox_allow_public = true` too
//! (anyone reaching it can sign in as any openid and push signed scans).
//!
//! `message_mode` says which pushes are taken: `plaintext` (no encryption), `compatible`
//! (plaintext or encrypted) or `safe` (encrypted only). Absent: `safe` when an
//! `encoding_aes_key` is set, else `plaintext`. A plaintext push's signature does not
//! cover its body, so safe mode must refuse plaintext pushes outright.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::crypto::{AesKey, KeyRing};
use super::types::AppId;

pub const DEFAULT_API_BASE: &str = "https://api.weixin.qq.com";
/// AppID used inside AES frames in the sandbox, where no real account exists.
pub const SANDBOX_APP_ID: &str = "wxsandbox00000000";
/// Account original id (`ToUserName`) the sandbox puts in its pushes.
pub const SANDBOX_ACCOUNT: &str = "gh_sandbox";

fn default_api_base() -> String {
    DEFAULT_API_BASE.to_owned()
}
fn default_replay_window() -> u64 {
    300
}

/// Which pushes the callback takes (WeChat's 消息加解密方式).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageMode {
    /// 明文模式: plaintext pushes only.
    Plaintext,
    /// 兼容模式: plaintext and encrypted pushes.
    Compatible,
    /// 安全模式: encrypted pushes only.
    Safe,
}

impl MessageMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "plaintext",
            Self::Compatible => "compatible",
            Self::Safe => "safe",
        }
    }
    pub fn takes_plaintext(self) -> bool {
        matches!(self, Self::Plaintext | Self::Compatible)
    }
    pub fn takes_encrypted(self) -> bool {
        matches!(self, Self::Compatible | Self::Safe)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatSettings {
    /// The official account's AppID; required unless `sandbox = true`.
    #[serde(default)]
    pub app_id: Option<String>,
    /// Play WeChat locally (phone simulator, OAuth stand-in, API mock). Never on by itself.
    #[serde(default)]
    pub sandbox: bool,
    /// Let the sandbox run on a non-loopback listen address (a public demo, on purpose).
    #[serde(default)]
    pub sandbox_allow_public: bool,
    /// plaintext | compatible | safe; absent: safe with an `encoding_aes_key`, else plaintext.
    #[serde(default)]
    pub message_mode: Option<MessageMode>,
    #[serde(default)]
    pub app_secret: Option<SecretString>,
    /// Server-configuration token; in sandbox mode the lead generates and stores one when unset.
    #[serde(default)]
    pub token: Option<SecretString>,
    /// 43-character EncodingAESKey; set → encrypted pushes (safe/compatible mode) are accepted.
    #[serde(default)]
    pub encoding_aes_key: Option<SecretString>,
    /// The key before the last rotation, still accepted for decryption.
    #[serde(default)]
    pub encoding_aes_key_previous: Option<SecretString>,
    #[serde(default = "default_api_base")]
    pub api_base: String,
    #[serde(default = "default_replay_window")]
    pub replay_window_seconds: u64,
    /// Template ids by purpose (`templates.checkin_result = "…"`).
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
}

impl Default for WechatSettings {
    fn default() -> Self {
        Self {
            app_id: None,
            sandbox: false,
            sandbox_allow_public: false,
            message_mode: None,
            app_secret: None,
            token: None,
            encoding_aes_key: None,
            encoding_aes_key_previous: None,
            api_base: default_api_base(),
            replay_window_seconds: default_replay_window(),
            templates: BTreeMap::new(),
        }
    }
}

/// A settings error: names the key, never echoes a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("wechat.{key}: {message}")]
pub struct SettingsError {
    pub key: &'static str,
    pub message: &'static str,
}

fn err(key: &'static str, message: &'static str) -> SettingsError {
    SettingsError { key, message }
}

fn present(s: &Option<SecretString>) -> Option<&str> {
    s.as_ref()
        .map(|s| s.expose_secret().trim())
        .filter(|s| !s.is_empty())
}

/// WeChat accepts a 3..=32 character token of letters and digits.
pub fn validate_token(token: &str) -> Result<(), SettingsError> {
    if !(3..=32).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(err("token", "must be 3 to 32 letters or digits"));
    }
    Ok(())
}

/// A fresh random token for sandbox mode (the lead stores it in the database).
pub fn generate_token() -> String {
    use rand::Rng as _;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

impl WechatSettings {
    pub fn is_sandbox(&self) -> bool {
        self.sandbox
    }

    fn has_app_id(&self) -> bool {
        self.app_id.as_deref().is_some_and(|s| !s.trim().is_empty())
    }

    /// The mode in force: the setting, else safe with a key and plaintext without.
    pub fn message_mode(&self) -> MessageMode {
        self.message_mode
            .unwrap_or(if present(&self.encoding_aes_key).is_some() {
                MessageMode::Safe
            } else {
                MessageMode::Plaintext
            })
    }

    /// Where the sandbox may run: refused on a non-loopback listen address unless
    /// `sandbox_allow_public` says so (anyone reaching it signs in as any openid).
    pub fn validate_listen(&self, listen: std::net::SocketAddr) -> Result<(), SettingsError> {
        if self.sandbox && !listen.ip().is_loopback() && !self.sandbox_allow_public {
            return Err(err(
                "sandbox",
                "is on but server.listen is not a loopback address; anyone reaching it could \
                 sign in as any member: set wechat.sandbox = false (and app_id), listen on \
                 127.0.0.1, or set wechat.sandbox_allow_public = true for a public demo",
            ));
        }
        Ok(())
    }

    /// Check every key; the first problem is returned as a one-line error naming it.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.sandbox && self.has_app_id() {
            return Err(err(
                "sandbox",
                "is true but app_id is set: set wechat.sandbox = false to use the real account",
            ));
        }
        if !self.sandbox && !self.has_app_id() {
            return Err(err(
                "app_id",
                "is required (the official account's AppID), or set wechat.sandbox = true \
                 to play WeChat locally",
            ));
        }
        if !self.is_sandbox() {
            AppId::parse(self.app_id.as_deref().unwrap_or_default().trim())
                .map_err(|_| err("app_id", "must be 1 to 64 letters or digits"))?;
            if present(&self.app_secret).is_none() {
                return Err(err("app_secret", "is required when app_id is set"));
            }
            if present(&self.token).is_none() {
                return Err(err("token", "is required when app_id is set"));
            }
        }
        if let Some(t) = present(&self.token) {
            validate_token(t)?;
        }
        let current = present(&self.encoding_aes_key);
        if let Some(k) = current {
            AesKey::from_encoding_aes_key(k)
                .map_err(|_| err("encoding_aes_key", "must be 43 base64 characters"))?;
        }
        if let Some(k) = present(&self.encoding_aes_key_previous) {
            if current.is_none() {
                return Err(err(
                    "encoding_aes_key_previous",
                    "needs encoding_aes_key to be set",
                ));
            }
            AesKey::from_encoding_aes_key(k)
                .map_err(|_| err("encoding_aes_key_previous", "must be 43 base64 characters"))?;
        }
        if let Some(mode) = self.message_mode
            && mode.takes_encrypted()
            && current.is_none()
        {
            return Err(err(
                "message_mode",
                "compatible and safe modes need wechat.encoding_aes_key",
            ));
        }
        match url::Url::parse(&self.api_base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => return Err(err("api_base", "must be an http(s) URL")),
        }
        if !(1..=86_400).contains(&self.replay_window_seconds) {
            return Err(err("replay_window_seconds", "must be 1 to 86400"));
        }
        for (name, id) in &self.templates {
            if name.trim().is_empty() || id.trim().is_empty() {
                return Err(err("templates", "names and template ids must be non-empty"));
            }
        }
        Ok(())
    }

    /// Validate and turn into what the gateway runs with. `token` is the resolved
    /// token (from settings, or generated once and stored by the caller in sandbox
    /// mode); `local_base_url` is this process's own listen address (e.g.
    /// `http://127.0.0.1:8080`), where the sandbox's API mock lives.
    pub fn resolve(
        &self,
        token: SecretString,
        local_base_url: &str,
    ) -> Result<ResolvedSettings, SettingsError> {
        self.validate()?;
        validate_token(token.expose_secret())?;
        let sandbox = self.is_sandbox();
        let app_id = if sandbox {
            SANDBOX_APP_ID.to_owned()
        } else {
            self.app_id.as_deref().unwrap_or_default().trim().to_owned()
        };
        let message_mode = self.message_mode();
        // Plaintext mode never opens an envelope: a configured key is left unused.
        let key = present(&self.encoding_aes_key).filter(|_| message_mode.takes_encrypted());
        let keys = match key {
            Some(k) => Some(KeyRing {
                current: AesKey::from_encoding_aes_key(k)
                    .map_err(|_| err("encoding_aes_key", "must be 43 base64 characters"))?,
                previous: present(&self.encoding_aes_key_previous)
                    .map(AesKey::from_encoding_aes_key)
                    .transpose()
                    .map_err(|_| {
                        err("encoding_aes_key_previous", "must be 43 base64 characters")
                    })?,
            }),
            None => None,
        };
        // The sandbox never calls WeChat: its client talks to the local mock unless
        // a test pointed api_base somewhere else on purpose.
        let api_base = if sandbox && self.api_base == DEFAULT_API_BASE {
            format!(
                "{}/sandbox/wechat-api",
                local_base_url.trim_end_matches('/')
            )
        } else {
            self.api_base.trim_end_matches('/').to_owned()
        };
        Ok(ResolvedSettings {
            sandbox,
            message_mode,
            app_id,
            app_secret: if sandbox {
                SecretString::from("sandbox-secret")
            } else {
                self.app_secret
                    .clone()
                    .unwrap_or_else(|| SecretString::from(""))
            },
            token,
            keys,
            api_base,
            local_base_url: local_base_url.trim_end_matches('/').to_owned(),
            replay_window: Duration::from_secs(self.replay_window_seconds),
            templates: self.templates.clone(),
        })
    }
}

/// Validated settings the gateway, client and sandbox run with.
#[derive(Debug, Clone)]
pub struct ResolvedSettings {
    pub sandbox: bool,
    /// Which pushes the callback takes; `keys` is set exactly when it takes encrypted ones.
    pub message_mode: MessageMode,
    /// The real AppID, or [`SANDBOX_APP_ID`].
    pub app_id: String,
    pub app_secret: SecretString,
    pub token: SecretString,
    pub keys: Option<KeyRing>,
    /// Without a trailing slash.
    pub api_base: String,
    pub local_base_url: String,
    pub replay_window: Duration,
    pub templates: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn s(v: &str) -> Option<SecretString> {
        Some(SecretString::from(v))
    }

    #[test]
    fn defaults_from_empty_toml() {
        let w: WechatSettings = toml::from_str("").unwrap();
        assert!(!w.is_sandbox(), "the sandbox never turns on by itself");
        assert_eq!(w.validate().unwrap_err().key, "app_id");
        let w: WechatSettings = toml::from_str("sandbox = true").unwrap();
        assert!(w.is_sandbox());
        assert_eq!(w.api_base, DEFAULT_API_BASE);
        assert_eq!(w.replay_window_seconds, 300);
        w.validate().unwrap();
        let r = w
            .resolve(SecretString::from("tok123"), "http://127.0.0.1:9/")
            .unwrap();
        assert!(r.sandbox);
        assert_eq!(r.api_base, "http://127.0.0.1:9/sandbox/wechat-api");
        assert!(r.keys.is_none());
        assert_eq!(r.message_mode, MessageMode::Plaintext);
    }

    #[test]
    fn message_mode_defaults_to_safe_with_a_key_and_needs_one_for_encryption() {
        let base = || WechatSettings {
            sandbox: true,
            ..Default::default()
        };
        let r = |w: WechatSettings| w.resolve(SecretString::from("tok123"), "http://x").unwrap();
        let keyed = WechatSettings {
            encoding_aes_key: s("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"),
            ..base()
        };
        assert_eq!(r(keyed.clone()).message_mode, MessageMode::Safe);
        let plain = WechatSettings {
            message_mode: Some(MessageMode::Plaintext),
            ..keyed.clone()
        };
        let plain = r(plain);
        assert_eq!(plain.message_mode, MessageMode::Plaintext);
        assert!(plain.keys.is_none(), "plaintext mode opens no envelope");
        let compat = WechatSettings {
            message_mode: Some(MessageMode::Compatible),
            ..keyed
        };
        assert!(r(compat).keys.is_some());
        let no_key = WechatSettings {
            message_mode: Some(MessageMode::Safe),
            ..base()
        };
        assert_eq!(no_key.validate().unwrap_err().key, "message_mode");
        assert!(toml::from_str::<WechatSettings>("message_mode = 'secure'").is_err());
    }

    #[test]
    fn sandbox_on_a_public_address_needs_its_own_setting() {
        let w = WechatSettings {
            sandbox: true,
            ..Default::default()
        };
        w.validate_listen("127.0.0.1:8080".parse().unwrap())
            .unwrap();
        w.validate_listen("[::1]:8080".parse().unwrap()).unwrap();
        assert_eq!(
            w.validate_listen("0.0.0.0:8080".parse().unwrap())
                .unwrap_err()
                .key,
            "sandbox"
        );
        let public = WechatSettings {
            sandbox_allow_public: true,
            ..w.clone()
        };
        public
            .validate_listen("0.0.0.0:8080".parse().unwrap())
            .unwrap();
        let both = WechatSettings {
            app_id: Some("wx1".into()),
            ..w
        };
        assert_eq!(both.validate().unwrap_err().key, "sandbox");
    }

    #[test]
    fn full_toml_and_templates() {
        let w: WechatSettings = toml::from_str(
            r#"
            app_id = "wxb11529c136998cb6"
            app_secret = "s3cret"
            token = "pamtest"
            encoding_aes_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
            encoding_aes_key_previous = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
            replay_window_seconds = 120
            [templates]
            checkin_result = "TPL1"
            "#,
        )
        .unwrap();
        assert!(!w.is_sandbox());
        let r = w
            .resolve(SecretString::from("pamtest"), "http://x")
            .unwrap();
        assert_eq!(r.api_base, DEFAULT_API_BASE);
        assert!(r.keys.as_ref().unwrap().previous.is_some());
        assert_eq!(r.templates["checkin_result"], "TPL1");
        // Secrets never appear in Debug output.
        let dbg = format!("{w:?} {r:?}");
        assert!(!dbg.contains("s3cret") && !dbg.contains("pamtest") && !dbg.contains("abcdefghij"));
    }

    #[test]
    fn errors_name_the_key() {
        let mut w = WechatSettings {
            sandbox: true,
            encoding_aes_key: s("short"),
            ..Default::default()
        };
        assert_eq!(
            w.validate().unwrap_err().to_string(),
            "wechat.encoding_aes_key: must be 43 base64 characters"
        );
        w.encoding_aes_key = None;
        w.encoding_aes_key_previous = s("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG");
        assert_eq!(w.validate().unwrap_err().key, "encoding_aes_key_previous");
        let w = WechatSettings {
            app_id: Some("wx1".into()),
            ..Default::default()
        };
        assert_eq!(w.validate().unwrap_err().key, "app_secret");
        let w = WechatSettings {
            sandbox: true,
            token: s("a b"),
            ..Default::default()
        };
        assert_eq!(w.validate().unwrap_err().key, "token");
        let w = WechatSettings {
            sandbox: true,
            api_base: "ftp://x".into(),
            ..Default::default()
        };
        assert_eq!(w.validate().unwrap_err().key, "api_base");
        let w = WechatSettings {
            sandbox: true,
            replay_window_seconds: 0,
            ..Default::default()
        };
        assert_eq!(w.validate().unwrap_err().key, "replay_window_seconds");
        assert!(toml::from_str::<WechatSettings>("tokn = 'x'").is_err());
    }

    #[test]
    fn generated_token_is_valid() {
        let t = generate_token();
        validate_token(&t).unwrap();
        assert_ne!(t, generate_token());
    }
}
