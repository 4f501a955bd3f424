//! Validated values that cross the gateway's boundary.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value was refused; `field` names the value, never echoes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {why}")]
pub struct InvalidValue {
    pub field: &'static str,
    pub why: &'static str,
}

fn invalid(field: &'static str, why: &'static str) -> InvalidValue {
    InvalidValue { field, why }
}

/// A member's openid for this official account (`FromUserName` in pushes).
///
/// WeChat openids are 28 URL-safe characters; we accept 1..=64 of `[A-Za-z0-9_-]`
/// so sandbox ids like `sandbox-alice` work too, while anything that could break
/// a key, a cookie or a log line is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OpenId(String);

impl OpenId {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.is_empty() || s.len() > 64 {
            return Err(invalid("openid", "length must be 1..=64"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(invalid("openid", "only letters, digits, '_' and '-'"));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OpenId {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<OpenId> for String {
    fn from(v: OpenId) -> String {
        v.0
    }
}
impl fmt::Display for OpenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A QR scene value: `scene_str` of a `QR_STR_SCENE` code (1..=64 characters,
/// WeChat's limit), or the decimal `scene_id` of a numeric code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SceneStr(String);

impl SceneStr {
    pub const MAX_LEN: usize = 64;

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        // Counted in bytes: the conservative reading of WeChat's "1 to 64".
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(invalid("scene_str", "length must be 1..=64"));
        }
        if s.chars().any(char::is_control) {
            return Err(invalid("scene_str", "control characters"));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SceneStr {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<SceneStr> for String {
    fn from(v: SceneStr) -> String {
        v.0
    }
}
impl fmt::Display for SceneStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An official account's AppID (`wx` + 16 hex in production; the sandbox uses its own).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppId(String);

impl AppId {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid("app_id", "1..=64 letters and digits"));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openid_bounds() {
        assert!(OpenId::parse("oia2Tj-jewbmiOUlr6X_1crbLOvLw").is_ok());
        assert!(OpenId::parse("").is_err());
        assert!(OpenId::parse(&"a".repeat(65)).is_err());
        assert!(OpenId::parse("a b").is_err());
        assert!(OpenId::parse("a\nb").is_err());
    }

    #[test]
    fn scene_bounds() {
        assert!(SceneStr::parse(&"x".repeat(64)).is_ok());
        assert!(SceneStr::parse(&"中".repeat(21)).is_ok());
        assert!(SceneStr::parse(&"中".repeat(22)).is_err());
        assert!(SceneStr::parse(&"x".repeat(65)).is_err());
        assert!(SceneStr::parse("").is_err());
        assert!(SceneStr::parse("a\u{0}").is_err());
    }
}
