//! argon2id password hashing, run off the async threads, at most one hash per core at
//! a time: each takes `argon2_memory_kib` (19 MiB by default), so a burst of logins
//! must queue rather than grow the blocking pool and its memory without bound.

use std::sync::Arc;

use tokio::sync::{OnceCell, Semaphore};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::AuthSettings;
use crate::error::{AppError, AppResult};

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// One permit per core: hashes in flight at once.
    permits: Arc<Semaphore>,
    /// What unknown usernames are checked against (made once).
    dummy: Arc<OnceCell<String>>,
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
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(cores)),
            dummy: Arc::new(OnceCell::new()),
        })
    }

    /// Runs one argon2 computation on the blocking pool once a core is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(Argon2<'static>) -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(AppError::internal)?;
        let argon = self.argon();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(argon)
        })
        .await
        .map_err(AppError::internal)?
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.run(move |argon| {
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
    }

    /// Verifies with the parameters stored in the hash, so old hashes keep working.
    pub async fn verify(&self, password: String, hash: String) -> AppResult<bool> {
        self.run(move |argon| {
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return Ok(false);
            };
            Ok(argon.verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
    }

    /// Verifies against a hash of nothing when the account does not exist, so timing
    /// does not tell (one argon2 run, as for a real account).
    pub async fn dummy_verify(&self, password: String) {
        let hash = self
            .dummy
            .get_or_try_init(|| self.hash(generate()))
            .await
            .cloned()
            .unwrap_or_default();
        let _ = self.verify(password, hash).await;
    }

    /// Hashes running right now (for tests and metrics): at most the number of cores.
    pub fn in_flight(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        cores.saturating_sub(self.permits.available_permits())
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Concurrent logins each ran argon2 on an unbounded blocking pool (memory grew
    /// with the number of attempts): at most one hash per core runs at a time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn argon2_hashing_is_bounded_to_the_cores() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let settings = crate::config::Settings::load_from(crate::config::Sources {
            file: None,
            overrides: &["[auth]\nargon2_memory_kib = 4096\nargon2_iterations = 1\n"],
            env: false,
        })
        .unwrap();
        let hasher = PasswordHasher::new(&settings.auth).unwrap();
        let work: Vec<_> = (0..cores * 4)
            .map(|i| {
                let h = hasher.clone();
                tokio::spawn(async move { h.hash(format!("password-{i}")).await })
            })
            .collect();
        let mut peak = 0;
        while work.iter().any(|w| !w.is_finished()) {
            peak = peak.max(hasher.in_flight());
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        for w in work {
            w.await.unwrap().unwrap();
        }
        assert!(peak >= 1, "hashes ran");
        assert!(peak <= cores, "{peak} hashes at once on {cores} cores");
    }
}
