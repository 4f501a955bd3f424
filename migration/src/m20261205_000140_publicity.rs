//! Publicity (公示) of a period's results, objections to it (cases of kind `objection`,
//! with who objected and how to reach them), and investigations (XH-19, cases of kind
//! `investigation`) about a person's score in a period.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Publicities {
    Table,
    Id,
    OrgId,
    Year,
    Period,
    N,
    Version,
    PreviousId,
    Changes,
    Ranked,
    Rule,
    Rows,
    OpensAt,
    ClosesAt,
    AnswerUntil,
    State,
    ActiveKey,
    PublicToken,
    PublishedBy,
    ConfirmedBy,
    ConfirmedAt,
    NotifiedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PublicityObjections {
    Table,
    Id,
    CaseId,
    PublicityId,
    ObjectorKind,
    ObjectorPersonId,
    ObjectorName,
    Contact,
    AboutPersonId,
    Ip,
    FiledWithOrgId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Investigations {
    Table,
    Id,
    CaseId,
    PersonId,
    Year,
    Period,
    N,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
}

fn fk(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Publicities::Table)
                .col(big_pk_auto(Publicities::Id))
                .col(big_integer(Publicities::OrgId))
                .col(integer(Publicities::Year))
                .col(string(Publicities::Period))
                .col(integer_null(Publicities::N))
                .col(integer(Publicities::Version))
                .col(big_integer_null(Publicities::PreviousId))
                .col(text_null(Publicities::Changes))
                .col(boolean(Publicities::Ranked))
                .col(string(Publicities::Rule))
                // The snapshot (JSON): never updated.
                .col(text(Publicities::Rows))
                .col(timestamp_with_time_zone(Publicities::OpensAt))
                .col(timestamp_with_time_zone(Publicities::ClosesAt))
                .col(timestamp_with_time_zone(Publicities::AnswerUntil))
                .col(string(Publicities::State))
                // `org:year:period:n` while this is the period's current version.
                .col(string_null(Publicities::ActiveKey).unique_key())
                .col(string(Publicities::PublicToken).unique_key())
                .col(big_integer_null(Publicities::PublishedBy))
                .col(big_integer_null(Publicities::ConfirmedBy))
                .col(timestamp_with_time_zone_null(Publicities::ConfirmedAt))
                .col(timestamp_with_time_zone_null(Publicities::NotifiedAt))
                .col(timestamp_with_time_zone(Publicities::CreatedAt))
                .foreign_key(&mut fk(
                    (Publicities::Table, Publicities::OrgId),
                    (Organizations::Table, Organizations::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_publicities_org_year")
                .table(Publicities::Table)
                .col(Publicities::OrgId)
                .col(Publicities::Year)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PublicityObjections::Table)
                .col(big_pk_auto(PublicityObjections::Id))
                .col(big_integer(PublicityObjections::CaseId).unique_key())
                .col(big_integer(PublicityObjections::PublicityId))
                .col(string(PublicityObjections::ObjectorKind))
                .col(big_integer_null(PublicityObjections::ObjectorPersonId))
                .col(string(PublicityObjections::ObjectorName))
                .col(string_null(PublicityObjections::Contact))
                .col(big_integer_null(PublicityObjections::AboutPersonId))
                .col(string_null(PublicityObjections::Ip))
                .col(big_integer_null(PublicityObjections::FiledWithOrgId))
                .col(timestamp_with_time_zone(PublicityObjections::CreatedAt))
                .foreign_key(&mut fk(
                    (PublicityObjections::Table, PublicityObjections::CaseId),
                    (Cases::Table, Cases::Id),
                ))
                .foreign_key(&mut fk(
                    (PublicityObjections::Table, PublicityObjections::PublicityId),
                    (Publicities::Table, Publicities::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_publicity_objections_publicity")
                .table(PublicityObjections::Table)
                .col(PublicityObjections::PublicityId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Investigations::Table)
                .col(big_pk_auto(Investigations::Id))
                .col(big_integer(Investigations::CaseId).unique_key())
                .col(big_integer(Investigations::PersonId))
                .col(integer(Investigations::Year))
                .col(string(Investigations::Period))
                .col(integer_null(Investigations::N))
                .col(timestamp_with_time_zone(Investigations::CreatedAt))
                .foreign_key(&mut fk(
                    (Investigations::Table, Investigations::CaseId),
                    (Cases::Table, Cases::Id),
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Investigations::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(PublicityObjections::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Publicities::Table).to_owned())
            .await
    }
}
