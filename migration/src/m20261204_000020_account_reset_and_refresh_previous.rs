//! Security hardening of staff logins.
//!
//! `accounts.reset_pending`: set by a password reset; until the password is changed
//! every call but change-password and logout is refused (`password_change_required`).
//! A generated first password only asks for a change (`must_change_password`).
//!
//! `auth_sessions.previous_refresh_hash`: the secret the last rotation replaced. Only
//! that one presented again counts as reuse (theft) and revokes the session; any other
//! wrong secret is just refused, so knowing a session id is not enough to end it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    ResetPending,
}

#[derive(DeriveIden)]
enum AuthSessions {
    Table,
    PreviousRefreshHash,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Accounts::Table)
                .add_column(boolean(Accounts::ResetPending).default(false))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(AuthSessions::Table)
                .add_column(string_null(AuthSessions::PreviousRefreshHash))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(AuthSessions::Table)
                .drop_column(AuthSessions::PreviousRefreshHash)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Accounts::Table)
                .drop_column(Accounts::ResetPending)
                .to_owned(),
        )
        .await
    }
}
