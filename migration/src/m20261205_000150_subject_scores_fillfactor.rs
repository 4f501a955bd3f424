//! Room on each page of `subject_scores` for its rows' next versions.
//!
//! The check-in writer creates a person's score row (locking it) and writes the result
//! into it in the same transaction, and every later posting rewrites it. Packed full, a
//! page has no room for the new version, so each rewrite also inserts into all three
//! indexes; with free space the update stays on the page (a HOT update: no index
//! writes). PostgreSQL only; SQLite has no such setting.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DatabaseBackend::Postgres {
            m.get_connection()
                .execute_unprepared("ALTER TABLE subject_scores SET (fillfactor = 70)")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DatabaseBackend::Postgres {
            m.get_connection()
                .execute_unprepared("ALTER TABLE subject_scores RESET (fillfactor)")
                .await?;
        }
        Ok(())
    }
}
