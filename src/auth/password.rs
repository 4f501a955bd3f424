//! argon2id password hashing, run off the async threads.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::AuthSettings;
use crate::error::{AppError, AppResult};

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
}

impl PasswordHasher {
    pub fn new(auth: &AuthSettings) -> anyhow::Result<Self> {
        let params = Params::new(
            auth.argon2_memory_kib,
            auth.argon2_iterations,
            auth.argon2_parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        Ok(Self { params })
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    pub async fn hash(&self, password: String) -> AppResult<String> {
        let argon = self.argon();
        tokio::task::spawn_blocking(move || {
            let mut bytes = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            let salt = SaltString::encode_b64(&bytes)
                .map_err(|e| AppError::internal(anyhow::anyhow!("salt: {e}")))?;
            argon
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| AppError::internal(anyhow::anyhow!("hashing failed: {e}")))
        })
        .await
        .map_err(AppError::internal)?
    }

    /// Verifies with the parameters stored in the hash, so old hashes keep working.
    pub async fn verify(&self, password: String, hash: String) -> AppResult<bool> {
        let argon = self.argon();
        tokio::task::spawn_blocking(move || {
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return Ok(false);
            };
            Ok(argon.verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
        .map_err(AppError::internal)?
    }

    /// A hash to verify against when the account does not exist, so timing does not tell.
    pub async fn dummy_verify(&self, password: String) {
        let hash = self
            .hash("never-matches".to_owned())
            .await
            .unwrap_or_default();
        let _ = self.verify(password, hash).await;
    }
}

/// Password policy for staff accounts: at least 10 characters, letters and digits.
pub fn check_strength(password: &str) -> AppResult<()> {
    let long = password.chars().count() >= 10;
    let letters = password.chars().any(|c| c.is_alphabetic());
    let digits = password.chars().any(|c| c.is_ascii_digit());
    if long && letters && digits && password.chars().count() <= 128 {
        Ok(())
    } else {
        Err(AppError::field(
            "password",
            "密码须为 10 至 128 个字符，且同时包含字母和数字",
        ))
    }
}

/// A random password that passes `check_strength`, for first start and resets.
pub fn generate() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    loop {
        let candidate: String = (0..16)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect();
        if check_strength(&candidate).is_ok() {
            return candidate;
        }
    }
}
