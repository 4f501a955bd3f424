//! Typed settings: the embedded `config/default.toml`, then an optional `--config FILE`,
//! then `VANGUARD__SECTION__KEY` environment variables. Secrets are `SecretString`s:
//! never logged, never echoed in errors; each may also come from `<key>_file`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Keys whose values are secrets (each may be given as `<key>_file`).
const SECRET_KEYS: &[&str] = &[
    "auth.jwt_secret",
    "database.url",
    "live.redis_url",
    "wechat.app_secret",
    "wechat.token",
    "wechat.encoding_aes_key",
    "wechat.encoding_aes_key_previous",
    "metrics.token",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub live: LiveSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    pub policy: PolicySettings,
    pub checkin: CheckinSettings,
    #[serde(default)]
    pub wechat: crate::wechat::WechatSettings,
    #[serde(default)]
    pub metrics: crate::http::metrics::MetricsSettings,
    #[serde(default)]
    pub disputes: DisputeSettings,
    #[serde(default)]
    pub uploads: UploadSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DisputeSettings {
    /// Days the answering organization has before the member may escalate.
    pub answer_days: i64,
}

impl Default for DisputeSettings {
    fn default() -> Self {
        Self { answer_days: 7 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadSettings {
    /// Largest file accepted, in bytes.
    pub max_bytes: usize,
    /// Images wider or taller than this are refused (before decoding).
    pub max_pixels_side: u32,
}

impl Default for UploadSettings {
    fn default() -> Self {
        Self {
            max_bytes: 5 * 1024 * 1024,
            max_pixels_side: 8000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckinSettings {
    /// A fixed-day session takes scans from this many minutes before the start.
    pub open_before_minutes: i64,
    /// Seconds each QR payload lives; the current and the previous slot are accepted.
    pub slot_seconds: i64,
    /// Days after a fixed day during which absentees may do make-up study.
    pub makeup_days: i64,
    /// Scans written per group commit at most.
    pub batch_max: usize,
    /// Group commits in flight at once per instance.
    pub writers: usize,
    /// Seconds between recounts of a session's live attendance (one per session per instance).
    pub live_counts_seconds: u64,
    /// Seconds between re-checks of a live viewer's login, account and scope.
    pub live_recheck_seconds: u64,
    /// Live streams one account may hold open on an instance.
    pub live_streams_per_account: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// Policy files that add to or override the built-in presets.
    pub dir: PathBuf,
    /// Calendar files (`<year>.toml`) that add to or override the built-in years.
    pub calendars_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: String,
    pub trusted_proxies: Vec<String>,
    pub public_url: String,
    pub json_limit_bytes: usize,
    pub upload_limit_bytes: usize,
    pub shutdown_timeout_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: u32,
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LiveBackend {
    Memory,
    Redis,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveSettings {
    pub backend: LiveBackend,
    pub redis_url: SecretString,
    pub key_prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub jwt_secret: SecretString,
    pub access_ttl_seconds: i64,
    pub refresh_ttl_seconds: i64,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    pub login_window_seconds: u64,
    pub login_max_failures_per_account: i64,
    pub login_max_failures_per_ip: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

/// One line naming the key and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {key}: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

fn err(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

/// Where the values come from, in increasing priority.
pub struct Sources<'a> {
    pub file: Option<&'a Path>,
    /// Extra TOML documents applied in order after the file (tests use them for per-test values).
    pub overrides: &'a [&'a str],
    pub env: bool,
}

impl Settings {
    /// Settings as a deployed binary reads them: defaults, `--config FILE`, environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(Sources {
            file,
            overrides: &[],
            env: true,
        })
    }

    pub fn load_from(sources: Sources<'_>) -> Result<Self, ConfigError> {
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        if let Some(path) = sources.file {
            if !path.exists() {
                return Err(err(
                    "--config",
                    format!("file {} not found", path.display()),
                ));
            }
            builder = builder.add_source(File::from(path).format(FileFormat::Toml));
        }
        for extra in sources.overrides {
            builder = builder.add_source(File::from_str(extra, FileFormat::Toml));
        }
        if sources.env {
            builder = builder.add_source(
                Environment::with_prefix("VANGUARD")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("server.trusted_proxies"),
            );
        }
        let mut config = builder.build().map_err(describe)?;
        for key in SECRET_KEYS {
            let file_key = format!("{key}_file");
            if let Ok(path) = config.get_string(&file_key) {
                if path.is_empty() {
                    continue;
                }
                let secret = std::fs::read_to_string(&path)
                    .map_err(|e| err(&file_key, format!("cannot read {path}: {e}")))?;
                config = Config::builder()
                    .add_source(config)
                    .set_override(*key, secret.trim_end_matches(['\n', '\r']).to_owned())
                    .map_err(describe)?
                    .build()
                    .map_err(describe)?;
            }
        }
        let mut value: serde_json::Value = config.try_deserialize().map_err(describe)?;
        strip_file_keys(&mut value);
        let settings: Settings = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let reason = e.into_inner().to_string();
            // Never echo the value of a secret key.
            let reason = if SECRET_KEYS.contains(&path.as_str()) {
                "invalid value".to_owned()
            } else {
                reason
            };
            err(if path == "." { "settings" } else { &path }, reason)
        })?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        self.trusted_proxies()?;
        let url = self.database.url.expose_secret();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            // Never echo the URL: it may carry a password.
            return Err(err(
                "database.url",
                "must start with sqlite: or postgres://",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(err("database.max_connections", "must be at least 1"));
        }
        if self.live.backend == LiveBackend::Redis {
            let redis = self.live.redis_url.expose_secret();
            if redis.is_empty() {
                return Err(err(
                    "live.redis_url",
                    "required when live.backend = \"redis\"",
                ));
            }
            if !(redis.starts_with("redis://") || redis.starts_with("rediss://")) {
                return Err(err(
                    "live.redis_url",
                    "must start with redis:// or rediss://",
                ));
            }
        }
        let jwt = self.auth.jwt_secret.expose_secret();
        if !jwt.is_empty() && jwt.len() < 32 {
            return Err(err(
                "auth.jwt_secret",
                "must be at least 32 characters (or empty to generate one)",
            ));
        }
        if self.auth.access_ttl_seconds < 30 {
            return Err(err("auth.access_ttl_seconds", "must be at least 30"));
        }
        if self.auth.refresh_ttl_seconds < self.auth.access_ttl_seconds {
            return Err(err(
                "auth.refresh_ttl_seconds",
                "must not be shorter than auth.access_ttl_seconds",
            ));
        }
        if argon2::Params::new(
            self.auth.argon2_memory_kib,
            self.auth.argon2_iterations,
            self.auth.argon2_parallelism,
            None,
        )
        .is_err()
        {
            return Err(err(
                "auth.argon2_memory_kib",
                "argon2 parameters out of range",
            ));
        }
        let public = &self.server.public_url;
        if !(public.is_empty() || public.starts_with("http://") || public.starts_with("https://")) {
            return Err(err(
                "server.public_url",
                "must start with http:// or https://",
            ));
        }
        // Without it the OAuth redirect_uri would be built from the request's Host (or a
        // forwarded host), which is whatever the client sends.
        if public.is_empty() && !self.wechat.sandbox {
            return Err(err(
                "server.public_url",
                "is required when wechat.sandbox = false (WeChat's redirect_uri and the member \
                 cookies' Secure flag come from it, never from a request's Host header)",
            ));
        }
        if !(1..=600).contains(&self.checkin.slot_seconds) {
            return Err(err("checkin.slot_seconds", "must be between 1 and 600"));
        }
        if !(0..=24 * 60).contains(&self.checkin.open_before_minutes) {
            return Err(err(
                "checkin.open_before_minutes",
                "must be between 0 and 1440",
            ));
        }
        if !(0..=366).contains(&self.checkin.makeup_days) {
            return Err(err("checkin.makeup_days", "must be between 0 and 366"));
        }
        if !(1..=5000).contains(&self.checkin.batch_max) {
            return Err(err("checkin.batch_max", "must be between 1 and 5000"));
        }
        if !(1..=16).contains(&self.checkin.writers) {
            return Err(err("checkin.writers", "must be between 1 and 16"));
        }
        if !(1..=60).contains(&self.checkin.live_counts_seconds) {
            return Err(err(
                "checkin.live_counts_seconds",
                "must be between 1 and 60",
            ));
        }
        // At most 30: a logged-out or disabled viewer must lose the stream within 30 s.
        if !(1..=30).contains(&self.checkin.live_recheck_seconds) {
            return Err(err(
                "checkin.live_recheck_seconds",
                "must be between 1 and 30",
            ));
        }
        if !(1..=100).contains(&self.checkin.live_streams_per_account) {
            return Err(err(
                "checkin.live_streams_per_account",
                "must be between 1 and 100",
            ));
        }
        self.wechat
            .validate()
            .map_err(|e| err(&format!("wechat.{}", e.key), e.message))?;
        self.wechat
            .validate_listen(self.listen_addr()?)
            .map_err(|e| err(&format!("wechat.{}", e.key), e.message))?;
        self.metrics
            .validate()
            .map_err(|(key, reason)| err(key, reason))?;
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| err("log.level", e.to_string()))?;
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server.listen.parse().map_err(|_| {
            err(
                "server.listen",
                format!(
                    "\"{}\" is not an address like 127.0.0.1:8080",
                    self.server.listen
                ),
            )
        })
    }

    pub fn trusted_proxies(&self) -> Result<Vec<IpNet>, ConfigError> {
        self.server
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        err(
                            "server.trusted_proxies",
                            format!("\"{p}\" is not an IP address or CIDR"),
                        )
                    })
            })
            .collect()
    }

    /// Base URL for links we hand out.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        if self.server.public_url.is_empty() {
            format!("http://{bound}")
        } else {
            self.server.public_url.trim_end_matches('/').to_owned()
        }
    }

    /// Where SQLite keeps its file, so start-up can create the directory.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let url = self.database.url.expose_secret();
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            None
        } else {
            Some(PathBuf::from(path))
        }
    }
}

/// Removes the `<key>_file` helpers once applied, so `deny_unknown_fields` still catches typos.
fn strip_file_keys(value: &mut serde_json::Value) {
    for key in SECRET_KEYS {
        if let Some((section, name)) = key.split_once('.')
            && let Some(table) = value.get_mut(section).and_then(|v| v.as_object_mut())
        {
            table.remove(&format!("{name}_file"));
        }
    }
}

fn describe(e: config::ConfigError) -> ConfigError {
    let text = e.to_string();
    // config names the key as "… for key `server.listen`"; lift it to the front.
    if let Some(start) = text.find("for key `") {
        let rest = &text[start + 9..];
        if let Some(end) = rest.find('`') {
            let key = &rest[..end];
            let reason = text[..start].trim().to_owned();
            return err(key, reason);
        }
    }
    err("settings", text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn load(extra: &str) -> Result<Settings, ConfigError> {
        Settings::load_from(Sources {
            file: None,
            overrides: &[extra],
            env: false,
        })
    }

    #[test]
    fn embedded_default_is_sqlite_and_memory() {
        let s = load("").unwrap();
        assert_eq!(s.server.listen, "127.0.0.1:8080");
        assert!(s.database.url.expose_secret().starts_with("sqlite://"));
        assert_eq!(s.live.backend, LiveBackend::Memory);
        assert_eq!(s.log.format, LogFormat::Pretty);
        assert!(s.server.trusted_proxies.is_empty());
    }

    #[test]
    fn bad_listen_names_the_key() {
        let e = load("[server]\nlisten = \"nowhere\"").unwrap_err();
        assert_eq!(e.key, "server.listen");
        assert!(
            e.to_string()
                .starts_with("configuration error: server.listen:")
        );
    }

    #[test]
    fn redis_backend_requires_url() {
        let e = load("[live]\nbackend = \"redis\"").unwrap_err();
        assert_eq!(e.key, "live.redis_url");
    }

    #[test]
    fn unknown_backend_is_refused_with_its_key() {
        let e = load("[live]\nbackend = \"etcd\"").unwrap_err();
        assert!(
            e.to_string().contains("etcd") || e.key.contains("live"),
            "{e}"
        );
    }

    #[test]
    fn secret_is_not_echoed() {
        let e = load("[database]\nurl = \"mysql://root:hunter2@x/db\"").unwrap_err();
        assert_eq!(e.key, "database.url");
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn secret_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt");
        std::fs::write(&path, "0123456789abcdef0123456789abcdef-from-file\n").unwrap();
        let s = load(&format!("[auth]\njwt_secret_file = \"{}\"", path.display())).unwrap();
        assert_eq!(
            s.auth.jwt_secret.expose_secret(),
            "0123456789abcdef0123456789abcdef-from-file"
        );
    }

    #[test]
    fn trusted_proxies_accept_ips_and_cidrs() {
        let s = load("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\"]").unwrap();
        assert_eq!(s.trusted_proxies().unwrap().len(), 2);
        let e = load("[server]\ntrusted_proxies = [\"ten\"]").unwrap_err();
        assert_eq!(e.key, "server.trusted_proxies");
    }

    #[test]
    fn a_real_account_needs_the_public_url() {
        let real = "[wechat]\nsandbox = false\napp_id = \"wx0123456789abcdef\"\napp_secret = \"s\"\ntoken = \"t0123456789\"\n";
        let e = load(real).unwrap_err();
        assert_eq!(e.key, "server.public_url");
        let with = format!("{real}[server]\npublic_url = \"https://dj.example.gov.cn\"\n");
        assert!(load(&with).is_ok());
    }

    #[test]
    fn typo_in_a_key_is_refused() {
        let e = load("[server]\nlistn = \"127.0.0.1:1\"").unwrap_err();
        assert!(e.to_string().contains("listn"), "{e}");
    }
}
