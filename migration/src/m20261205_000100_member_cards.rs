//! Member cards: a printed, signed code and a typeable card number per person, for
//! members without a smartphone. A reissue revokes the old card and makes a new one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MemberCards {
    Table,
    Id,
    PersonId,
    Number,
    Secret,
    ActivePersonId,
    IssuedAt,
    IssuedBy,
    RevokedAt,
    RevokedBy,
    RevokeReason,
}

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(MemberCards::Table)
                .col(big_pk_auto(MemberCards::Id))
                .col(big_integer(MemberCards::PersonId))
                // Never reused: a revoked card's number stays taken.
                .col(string_len_uniq(MemberCards::Number, 16))
                .col(string(MemberCards::Secret))
                // The person while the card is valid, NULL once revoked: the unique key
                // allows one valid card per person (NULLs do not collide).
                .col(big_integer_null(MemberCards::ActivePersonId).unique_key())
                .col(timestamp_with_time_zone(MemberCards::IssuedAt))
                .col(big_integer_null(MemberCards::IssuedBy))
                .col(timestamp_with_time_zone_null(MemberCards::RevokedAt))
                .col(big_integer_null(MemberCards::RevokedBy))
                .col(string_null(MemberCards::RevokeReason))
                .foreign_key(
                    ForeignKey::create()
                        .from(MemberCards::Table, MemberCards::PersonId)
                        .to(People::Table, People::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_member_cards_person")
                .table(MemberCards::Table)
                .col(MemberCards::PersonId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(MemberCards::Table).to_owned())
            .await
    }
}
