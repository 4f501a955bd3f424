//! A branch's fixed-day rule (e.g. 每月15日 14:00, moved to the next working day),
//! from which the console proposes each month's fixed activity day. Append-only: the
//! newest row of an organization is in force, older rows are its history.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FixedDayRules {
    Table,
    Id,
    OrgId,
    DayOfMonth,
    StartTime,
    DurationMinutes,
    Place,
    SetBy,
    SetAt,
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
                .table(FixedDayRules::Table)
                .col(big_pk_auto(FixedDayRules::Id))
                .col(big_integer(FixedDayRules::OrgId))
                .col(integer(FixedDayRules::DayOfMonth))
                // "HH:MM" in the organization's time zone.
                .col(string(FixedDayRules::StartTime))
                .col(integer(FixedDayRules::DurationMinutes))
                .col(string_null(FixedDayRules::Place))
                .col(big_integer_null(FixedDayRules::SetBy))
                .col(timestamp_with_time_zone(FixedDayRules::SetAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(FixedDayRules::Table, FixedDayRules::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_fixed_day_rules_org")
                .table(FixedDayRules::Table)
                .col(FixedDayRules::OrgId)
                .col(FixedDayRules::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(FixedDayRules::Table).to_owned())
            .await
    }
}
