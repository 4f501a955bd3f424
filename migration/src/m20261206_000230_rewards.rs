//! The rewards ledger (积分超市, TW-7), kept apart from the score: a catalogue per
//! organization, one-time redemption codes, the append-only ledger of credits (a
//! closed year's result) and redemptions, and the organization's expiry setting.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RewardItems {
    Table,
    Id,
    OrgId,
    Name,
    Points,
    Yuan,
    CreatedBy,
    CreatedAt,
    RetiredAt,
    RetiredBy,
    RetireReason,
}

#[derive(DeriveIden)]
enum RewardCodes {
    Table,
    Id,
    Code,
    PersonId,
    ItemId,
    OrgId,
    IssuedAt,
    ExpiresAt,
    UsedAt,
    UsedBy,
}

#[derive(DeriveIden)]
enum RewardEntries {
    Table,
    Id,
    PersonId,
    OrgId,
    Kind,
    Year,
    Points,
    Yuan,
    Rule,
    CreditKey,
    ItemId,
    ItemName,
    CodeId,
    ActorId,
    ActorName,
    At,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RewardSettings {
    Table,
    Id,
    OrgId,
    ExpiryYears,
    Reason,
    SetBy,
    SetAt,
}

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(RewardItems::Table)
                .col(big_pk_auto(RewardItems::Id))
                .col(big_integer(RewardItems::OrgId))
                .col(string(RewardItems::Name))
                // Exact decimals as text.
                .col(string(RewardItems::Points))
                .col(string(RewardItems::Yuan))
                .col(big_integer_null(RewardItems::CreatedBy))
                .col(timestamp_with_time_zone(RewardItems::CreatedAt))
                // Retired, never deleted: redemptions keep pointing at it.
                .col(timestamp_with_time_zone_null(RewardItems::RetiredAt))
                .col(big_integer_null(RewardItems::RetiredBy))
                .col(string_null(RewardItems::RetireReason))
                .foreign_key(
                    ForeignKey::create()
                        .from(RewardItems::Table, RewardItems::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_reward_items_org")
                .table(RewardItems::Table)
                .col(RewardItems::OrgId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RewardCodes::Table)
                .col(big_pk_auto(RewardCodes::Id))
                .col(string_len_uniq(RewardCodes::Code, 16))
                .col(big_integer(RewardCodes::PersonId))
                .col(big_integer(RewardCodes::ItemId))
                // The member's branch when the code was issued (the counter's scope).
                .col(big_integer(RewardCodes::OrgId))
                .col(timestamp_with_time_zone(RewardCodes::IssuedAt))
                .col(timestamp_with_time_zone(RewardCodes::ExpiresAt))
                // Set once by a conditional update: a code redeems once.
                .col(timestamp_with_time_zone_null(RewardCodes::UsedAt))
                .col(big_integer_null(RewardCodes::UsedBy))
                .foreign_key(
                    ForeignKey::create()
                        .from(RewardCodes::Table, RewardCodes::PersonId)
                        .to(People::Table, People::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(RewardCodes::Table, RewardCodes::ItemId)
                        .to(RewardItems::Table, RewardItems::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_reward_codes_person")
                .table(RewardCodes::Table)
                .col(RewardCodes::PersonId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RewardEntries::Table)
                .col(big_pk_auto(RewardEntries::Id))
                .col(big_integer(RewardEntries::PersonId))
                .col(big_integer(RewardEntries::OrgId))
                // `credit` (a closed year's result) or `redemption`.
                .col(string_len(RewardEntries::Kind, 16))
                // The result year the entry credits or draws on.
                .col(integer(RewardEntries::Year))
                .col(string(RewardEntries::Points))
                // Credit: the yuan cap of the year (NULL: none); redemption: the value.
                .col(string_null(RewardEntries::Yuan))
                .col(string_null(RewardEntries::Rule))
                // `credit:<person>:<year>` on credits: each year is credited once.
                .col(string_null(RewardEntries::CreditKey).unique_key())
                .col(big_integer_null(RewardEntries::ItemId))
                .col(string_null(RewardEntries::ItemName))
                // One redemption per code.
                .col(big_integer_null(RewardEntries::CodeId).unique_key())
                .col(big_integer_null(RewardEntries::ActorId))
                .col(string(RewardEntries::ActorName))
                .col(timestamp_with_time_zone(RewardEntries::At))
                .col(timestamp_with_time_zone(RewardEntries::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(RewardEntries::Table, RewardEntries::PersonId)
                        .to(People::Table, People::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_reward_entries_person")
                .table(RewardEntries::Table)
                .col(RewardEntries::PersonId)
                .col(RewardEntries::Year)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RewardSettings::Table)
                .col(big_pk_auto(RewardSettings::Id))
                .col(big_integer(RewardSettings::OrgId))
                // NULL: balances never expire.
                .col(integer_null(RewardSettings::ExpiryYears))
                .col(string(RewardSettings::Reason))
                .col(big_integer_null(RewardSettings::SetBy))
                .col(timestamp_with_time_zone(RewardSettings::SetAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(RewardSettings::Table, RewardSettings::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_reward_settings_org")
                .table(RewardSettings::Table)
                .col(RewardSettings::OrgId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            RewardEntries::Table.into_iden(),
            RewardCodes::Table.into_iden(),
            RewardSettings::Table.into_iden(),
            RewardItems::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
