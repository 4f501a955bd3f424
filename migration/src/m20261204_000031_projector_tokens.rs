//! Projector credentials: a token limited to one check-in session's QR and live count,
//! so the projector never holds a secretary's full access and refresh tokens.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProjectorTokens {
    Table,
    Id,
    SessionId,
    SecretHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum CheckinSessions {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ProjectorTokens::Table)
                .col(big_pk_auto(ProjectorTokens::Id))
                .col(big_integer(ProjectorTokens::SessionId))
                .col(string(ProjectorTokens::SecretHash))
                .col(big_integer_null(ProjectorTokens::CreatedBy))
                .col(timestamp_with_time_zone(ProjectorTokens::CreatedAt))
                .col(timestamp_with_time_zone(ProjectorTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(ProjectorTokens::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ProjectorTokens::Table, ProjectorTokens::SessionId)
                        .to(CheckinSessions::Table, CheckinSessions::Id),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ProjectorTokens::Table).to_owned())
            .await
    }
}
