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
        })
        // Statements are prepared once per connection and reused; a cached generic plan
        // for `col IN (…)` evaluates the list as a filter on every row, and one chosen
        // while a table was still small stays on a sequential scan as it grows. Custom
        // plans see the actual values and pick the index every time.
        .map_sqlx_postgres_opts(|o| o.options([("plan_cache_mode", "force_custom_plan")]));
    // Turning a new file to WAL needs an exclusive lock that SQLite does not wait for:
    // processes opening one fresh database at once take turns.
    let _guard = match settings.sqlite_path() {
        Some(path) => Some(lock_beside(&path, "open.lock").await?),
        None => None,
    };
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
                Some(path) => Some(lock_beside(&path, "migrate.lock").await?),
                None => None,
            };
            Migrator::up(db, None).await?;
        }
    }
    Ok(())
}

/// Takes an exclusive lock on a file beside the SQLite database; released on drop.
async fn lock_beside(database: &std::path::Path, extension: &str) -> anyhow::Result<std::fs::File> {
    let lock_path = database.with_extension(extension);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| anyhow::anyhow!("cannot open lock file {}: {e}", lock_path.display()))?;
    Ok(tokio::task::spawn_blocking(move || file.lock().map(|()| file)).await??)
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

/// `values` padded to the next power of two by repeating the last one, for `IN (…)`
/// lists: the statement text then takes one of a few shapes, so the driver's prepared
/// statements (and PostgreSQL's cached plans) are reused instead of parsed and planned
/// for every batch size. Repeats do not change what `IN` matches.
pub fn padded<T: Clone>(values: &[T]) -> Vec<T> {
    let mut out = values.to_vec();
    if let Some(last) = values.last() {
        out.resize(values.len().next_power_of_two(), last.clone());
    }
    out
}

/// Rows split into chunks whose sizes are powers of two (at most `max`), largest first:
/// the same reuse of statement shapes for multi-row inserts.
pub fn pow2_chunks<T>(rows: Vec<T>, max: usize) -> Vec<Vec<T>> {
    let max = max.max(1);
    let max = if max.is_power_of_two() {
        max
    } else {
        max.next_power_of_two() / 2
    };
    let mut out = Vec::new();
    let mut rest = rows.into_iter().peekable();
    let mut left = rest.len();
    while left > 0 {
        let size = if left >= max {
            max
        } else {
            1 << (usize::BITS - 1 - left.leading_zeros())
        };
        out.push(rest.by_ref().take(size).collect());
        left -= size;
    }
    out
}

#[cfg(test)]
mod shape_tests {
    use super::*;

    #[test]
    fn padded_lists_take_power_of_two_lengths_and_match_the_same_values() {
        assert_eq!(padded::<i64>(&[]), Vec::<i64>::new());
        assert_eq!(padded(&[7]), vec![7]);
        assert_eq!(padded(&[1, 2, 3]), vec![1, 2, 3, 3]);
        assert_eq!(padded(&[1, 2, 3, 4, 5]).len(), 8);
    }

    #[test]
    fn pow2_chunks_cover_every_row_once() {
        let chunks = pow2_chunks((0..37).collect::<Vec<_>>(), 500);
        let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![32, 4, 1]);
        let all: Vec<i32> = chunks.into_iter().flatten().collect();
        assert_eq!(all, (0..37).collect::<Vec<_>>());
        let sizes: Vec<usize> = pow2_chunks((0..1300).collect::<Vec<_>>(), 500)
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, vec![256, 256, 256, 256, 256, 16, 4]);
    }
}
