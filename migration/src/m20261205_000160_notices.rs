//! Notices sent once across instances (reminders to members, alerts to staff), and the
//! members' own notice settings (no forced notices).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notices {
    Table,
    Id,
    Key,
    Kind,
    PersonId,
    OrgId,
    Title,
    Body,
    Url,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum MemberSettings {
    Table,
    PersonId,
    FixedDayReminder,
    UpdatedAt,
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
                .table(Notices::Table)
                .col(big_pk_auto(Notices::Id))
                // What the notice is about, e.g. `fixed-day-eve:<activity>:<person>`: the
                // unique key is the claim that makes it once across instances.
                .col(string_uniq(Notices::Key))
                .col(string(Notices::Kind))
                // A member's notice (template message) or a staff notice (console inbox)
                // for the organization that should act.
                .col(big_integer_null(Notices::PersonId))
                .col(big_integer_null(Notices::OrgId))
                .col(string(Notices::Title))
                .col(text(Notices::Body))
                .col(string_null(Notices::Url))
                .col(timestamp_with_time_zone(Notices::CreatedAt))
                .col(timestamp_with_time_zone_null(Notices::SentAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_notices_org")
                .table(Notices::Table)
                .col(Notices::OrgId)
                .col(Notices::Id)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(MemberSettings::Table)
                .col(big_integer(MemberSettings::PersonId).primary_key())
                .col(boolean(MemberSettings::FixedDayReminder))
                .col(timestamp_with_time_zone(MemberSettings::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(MemberSettings::Table, MemberSettings::PersonId)
                        .to(People::Table, People::Id),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(MemberSettings::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Notices::Table).to_owned())
            .await
    }
}
