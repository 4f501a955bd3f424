//! Access tokens (short-lived HS256 JWTs naming their login session) and refresh
//! tokens (opaque `<session>.<secret>`, rotated on every use, stored hashed).

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult, ErrorCode};

const ISSUER: &str = "vanguard";

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub access_ttl_seconds: i64,
    pub refresh_ttl_seconds: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Account id, as a string per RFC 7519.
    pub sub: String,
    /// Login session id: revoking the session invalidates its access tokens at once.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

impl Claims {
    pub fn account_id(&self) -> Option<i64> {
        self.sub.parse().ok()
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8], access_ttl_seconds: i64, refresh_ttl_seconds: i64) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            access_ttl_seconds,
            refresh_ttl_seconds,
        }
    }

    pub fn issue(
        &self,
        account_id: i64,
        session_id: &str,
        now: DateTime<Utc>,
    ) -> AppResult<String> {
        let claims = Claims {
            sub: account_id.to_string(),
            sid: session_id.to_owned(),
            iat: now.timestamp(),
            exp: now.timestamp() + self.access_ttl_seconds,
            iss: ISSUER.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::internal(anyhow::anyhow!("signing a token: {e}")))
    }

    pub fn verify(&self, token: &str) -> AppResult<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.into_kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    AppError::new(ErrorCode::TokenExpired, "访问令牌已过期")
                }
                other => {
                    tracing::debug!(error = ?other, "token rejected");
                    AppError::unauthorized("访问令牌无效")
                }
            })
    }
}

/// A new refresh secret and the hash we store for it.
pub fn new_refresh_secret() -> (String, String) {
    let secret = crate::db::random_secret(32);
    let hash = hash_secret(&secret);
    (secret, hash)
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Splits `<session>.<secret>`.
pub fn parse_refresh(token: &str) -> Option<(&str, &str)> {
    let (sid, secret) = token.split_once('.')?;
    (!sid.is_empty() && !secret.is_empty() && sid.len() <= 64 && secret.len() <= 128)
        .then_some((sid, secret))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn issued_token_verifies_and_tampering_fails() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", 900, 3600);
        let t = keys.issue(7, "s1", Utc::now()).unwrap();
        let c = keys.verify(&t).unwrap();
        assert_eq!((c.sub.as_str(), c.sid.as_str()), ("7", "s1"));
        let mut tampered = t.clone();
        tampered.pop();
        tampered.push(if t.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(
            keys.verify(&tampered).unwrap_err().code,
            ErrorCode::Unauthorized
        );
        let other = TokenKeys::new(b"another-secret-another-secret-xx", 900, 3600);
        assert_eq!(other.verify(&t).unwrap_err().code, ErrorCode::Unauthorized);
    }

    #[test]
    fn expired_token_is_reported_as_expired() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", 60, 3600);
        let t = keys
            .issue(7, "s1", Utc::now() - chrono::Duration::seconds(120))
            .unwrap();
        assert_eq!(keys.verify(&t).unwrap_err().code, ErrorCode::TokenExpired);
    }
}
