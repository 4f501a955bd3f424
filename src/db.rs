//! Database connection, serialized migrations, and state shared by every process.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, Statement, TransactionTrait,
};
use secrecy::ExposeSecret;

use crate::config::Settings;

pub type Db = DatabaseConnection;

/// Any lock key will do as long as every instance uses the same one.
const MIGRATION_LOCK_KEY: i64 = 0x5641_4e47_5541_5244; // "VANGUARD"

pub async fn connect(settings: &Settings) -> anyhow::Result<Db> {
    if let Some(path) = settings.sqlite_path()
        && let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            anyhow::anyhow!("cannot create database directory {}: {e}", dir.display())
        })?;
    }
    let url = settings.database.url.expose_secret();
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(settings.database.max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            // Per connection: WAL lets readers run beside the writer; busy_timeout makes
            // writers (other connections, other processes) queue instead of failing.
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    let db = Database::connect(opts).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot connect to the database: {}",
            redact(&e.to_string(), url)
        )
    })?;
    Ok(db)
}

fn redact(message: &str, url: &str) -> String {
    message.replace(url, "<database.url>")
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), so a read-then-write transaction never fails to upgrade;
/// PostgreSQL ignores the option.
pub async fn begin<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Runs pending migrations; safe when several instances start at once.
pub async fn migrate(db: &Db, settings: &Settings) -> anyhow::Result<()> {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            // The transaction-scoped advisory lock makes a second instance wait, then find nothing to do.
            let txn = crate::db::begin(db).await?;
            txn.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [MIGRATION_LOCK_KEY.into()],
            ))
            .await?;
            Migrator::up(&txn, None).await?;
            txn.commit().await?;
        }
        _ => {
            // SQLite: an exclusive lock on a file beside the database serializes processes.
            let _guard = match settings.sqlite_path() {
                Some(path) => {
                    let lock_path = path.with_extension("migrate.lock");
                    let file = std::fs::OpenOptions::new()
                        .create(true)
                        .truncate(false)
                        .write(true)
                        .open(&lock_path)?;
                    let file =
                        tokio::task::spawn_blocking(move || file.lock().map(|()| file)).await??;
                    Some(file)
                }
                None => None,
            };
            Migrator::up(db, None).await?;
        }
    }
    Ok(())
}

/// Returns the shared value for `key`, creating it with `generate()` if no process has yet.
/// Insert-if-absent, then read: concurrent first starts agree on one value.
pub async fn shared_secret(
    db: &impl ConnectionTrait,
    key: &str,
    generate: impl FnOnce() -> String,
) -> Result<String, DbErr> {
    use entity::system_setting as ss;
    if let Some(row) = ss::Entity::find_by_id(key.to_owned()).one(db).await? {
        return Ok(row.value);
    }
    let insert = Query::insert()
        .into_table(ss::Entity)
        .columns([ss::Column::Key, ss::Column::Value, ss::Column::CreatedAt])
        .values_panic([key.into(), generate().into(), chrono::Utc::now().into()])
        .on_conflict(OnConflict::column(ss::Column::Key).do_nothing().to_owned())
        .to_owned();
    db.execute(&insert).await?;
    ss::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
        .map(|row| row.value)
        .ok_or_else(|| DbErr::RecordNotFound(format!("system setting {key}")))
}

/// A random secret for keys and tokens.
pub fn random_secret(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}
